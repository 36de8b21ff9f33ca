/*
 * Does a client that waits for its reply inside recv(2) wake sooner than one that waits
 * in poll(2), select(2) or epoll_wait(2) and then calls recv? (benches/RESULTS.md, "The
 * std driver waits in poll".) No PostgreSQL: a parent sends one byte over a Unix socket
 * pair and waits for it to come back; the child answers as a backend does (non-blocking
 * recv, epoll_wait when there is nothing).
 *
 *   gcc -O2 -Wall -o wakeup-pingpong wakeup-pingpong.c
 *   ./wakeup-pingpong MODE N PIN
 *
 * MODE: 0 recv blocks; 1 poll(-1) then recv; 2 select; 3 epoll_wait; 4 poll with a
 * timeout of 100 s. PIN: 1 puts both processes on CPU 0 (as bench.py's /1c variants do),
 * 0 leaves them to the scheduler. Prints microseconds per round trip.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int mode;
static int ep;

static void wait_readable(int fd)
{
    if (mode == 1) {
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, -1);
    } else if (mode == 2) {
        fd_set s;
        FD_ZERO(&s);
        FD_SET(fd, &s);
        select(fd + 1, &s, NULL, NULL, NULL);
    } else if (mode == 3) {
        struct epoll_event e;
        epoll_wait(ep, &e, 1, -1);
    } else if (mode == 4) {
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 100000);
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODE N PIN\n", argv[0]);
        return 2;
    }
    mode = atoi(argv[1]);
    int n = atoi(argv[2]);
    int pin = atoi(argv[3]);
    int sv[2];
    char b[64];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    if (pin) {
        cpu_set_t c;
        CPU_ZERO(&c);
        CPU_SET(0, &c);
        sched_setaffinity(0, sizeof c, &c);
    }
    if (fork() == 0) {
        close(sv[0]);
        int e2 = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN};
        epoll_ctl(e2, EPOLL_CTL_ADD, sv[1], &ev);
        for (;;) {
            ssize_t r = recv(sv[1], b, sizeof b, MSG_DONTWAIT);
            if (r < 0) {
                struct epoll_event o;
                epoll_wait(e2, &o, 1, -1);
                continue;
            }
            if (r == 0)
                _exit(0);
            send(sv[1], b, r, 0);
        }
    }
    close(sv[1]);
    ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        send(sv[0], "q", 1, 0);
        if (mode)
            wait_readable(sv[0]);
        recv(sv[0], b, sizeof b, 0);
    }
    double t = now() - t0;
    close(sv[0]);
    wait(NULL);
    printf("mode %d pin %d: %.2f us per round trip\n", mode, pin, t / n * 1e6);
    return 0;
}
