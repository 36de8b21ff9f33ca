//! A process-wide, bounded cache of SCRAM-SHA-256 keys, so that repeated connections
//! with the same password to the same server skip PBKDF2 (4096 rounds of HMAC-SHA-256
//! with PostgreSQL's default, most of a connection's client CPU).
//!
//! An entry is keyed by the password, the salt and the iteration count, which is all the
//! keys depend on: a server that changes the role's password or salt simply misses the
//! cache. Entries are only stored after an exchange whose server signature was verified.
//! The cache holds at most [`CAPACITY`] entries and forgets the least recently used one.
//!
//! The keys are password equivalents, and the password is kept with them to match it: the
//! cache holds no more than a process that keeps its connection strings already has.
//! [`clear`] empties it (for example when the passwords are rotated).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use pgcluster_protocol::auth::scram::ScramKeys;

/// The most entries the cache keeps.
pub const CAPACITY: usize = 32;

struct Entry {
    password: Vec<u8>,
    keys: ScramKeys,
}

/// Most recently used first.
static CACHE: Mutex<VecDeque<Entry>> = Mutex::new(VecDeque::new());

fn with_cache<T>(f: impl FnOnce(&mut VecDeque<Entry>) -> T) -> T {
    // An entry is replaced whole, so a panic elsewhere leaves nothing half-written.
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    f(&mut cache)
}

/// The keys known for `password` (for every salt and iteration count seen with it).
pub(crate) fn lookup(password: &[u8]) -> Vec<ScramKeys> {
    with_cache(|cache| {
        cache
            .iter()
            .filter(|e| e.password == password)
            .map(|e| e.keys.clone())
            .collect()
    })
}

/// Remembers the keys of a completed exchange with `password` as the most recently used.
pub(crate) fn insert(password: &[u8], keys: ScramKeys) {
    with_cache(|cache| {
        cache.retain(|e| {
            !(e.password == password
                && e.keys.salt == keys.salt
                && e.keys.iterations == keys.iterations)
        });
        cache.push_front(Entry {
            password: password.to_vec(),
            keys,
        });
        cache.truncate(CAPACITY);
    });
}

/// Forgets every cached key: the next connection with a SCRAM password runs PBKDF2 again.
pub fn clear() {
    with_cache(VecDeque::clear);
}

/// How many keys the cache holds.
pub fn len() -> usize {
    with_cache(|cache| cache.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The cache is process-wide and other tests may connect at the same time: each test
    // uses passwords of its own and checks only their entries, and these take turns
    // (one of them clears the cache).
    static SERIAL: Mutex<()> = Mutex::new(());

    fn turn() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keys(salt: &[u8], iterations: u32, byte: u8) -> ScramKeys {
        ScramKeys {
            salt: salt.to_vec(),
            iterations,
            client_key: [byte; 32],
            server_key: [byte; 32],
        }
    }

    #[test]
    fn keyed_by_password_salt_and_iterations() {
        let _turn = turn();
        let (pw, other) = (b"cache-test-pw", b"cache-test-other");
        insert(pw, keys(b"s1", 4096, 1));
        insert(pw, keys(b"s2", 4096, 2));
        insert(pw, keys(b"s1", 10, 3));
        insert(other, keys(b"s1", 4096, 4));
        assert_eq!(
            lookup(pw),
            vec![
                keys(b"s1", 10, 3),
                keys(b"s2", 4096, 2),
                keys(b"s1", 4096, 1)
            ]
        );
        assert_eq!(lookup(other), vec![keys(b"s1", 4096, 4)]);
        assert!(lookup(b"cache-test-p").is_empty());

        // The same password, salt and count again: replaced and moved to the front.
        insert(pw, keys(b"s1", 4096, 5));
        assert_eq!(
            lookup(pw),
            vec![
                keys(b"s1", 4096, 5),
                keys(b"s1", 10, 3),
                keys(b"s2", 4096, 2)
            ]
        );
    }

    #[test]
    fn bounded_least_recently_used_go_first() {
        let _turn = turn();
        let pw = b"cache-test-bounded";
        for i in 0..CAPACITY + 5 {
            insert(pw, keys(i.to_string().as_bytes(), 4096, 0));
        }
        assert!(len() <= CAPACITY, "{}", len());
        let salts: Vec<Vec<u8>> = lookup(pw).iter().map(|k| k.salt.clone()).collect();
        assert!(salts.len() <= CAPACITY && salts.len() > CAPACITY / 2);
        assert_eq!(
            salts.first(),
            Some(&(CAPACITY + 4).to_string().into_bytes())
        );
        // The oldest five are gone.
        for i in 0..5 {
            assert!(!salts.contains(&i.to_string().into_bytes()), "{i}");
        }
    }

    #[test]
    fn clear_forgets_everything() {
        let _turn = turn();
        insert(b"cache-test-clear", keys(b"s", 1, 0));
        clear();
        assert!(lookup(b"cache-test-clear").is_empty());
    }

    /// Against a real server: the first SCRAM login fills the cache, the next one uses it.
    #[cfg(feature = "testing")]
    #[test]
    fn a_login_fills_the_cache_and_the_next_uses_it() {
        use crate::conninfo::{Config, Env};
        use crate::testing::{TestServer, SCRAM_ROLE};

        let _turn = turn();
        let server = TestServer::shared().unwrap_or_else(|e| panic!("test server: {e}"));
        let password = server.password();
        let conninfo = format!(
            "host=127.0.0.1 port={} user={SCRAM_ROLE} password={password} dbname=postgres",
            server.port()
        );
        let resolved = Config::parse(&conninfo)
            .and_then(|c| c.resolve(&Env::empty()))
            .unwrap_or_else(|e| panic!("conninfo: {e}"));
        let connect = || crate::blocking::Connection::connect(&resolved).map_err(|e| e.message);

        clear();
        connect().unwrap_or_else(|e| panic!("first login: {e}"));
        let cached = lookup(password.as_bytes());
        assert_eq!(cached.len(), 1, "{cached:?}");
        let keys = cached.into_iter().next().unwrap_or_else(|| unreachable!());
        assert_eq!(keys.iterations, 4096);

        // The cache is consulted: wrong keys for this salt make the login fail ...
        insert(password.as_bytes(), {
            let mut wrong = keys.clone();
            wrong.client_key = [0; 32];
            wrong
        });
        let refused = connect().err().unwrap_or_default();
        assert!(
            refused.ends_with(&format!(
                "FATAL:  password authentication failed for user \"{SCRAM_ROLE}\"\n"
            )),
            "{refused}"
        );
        // ... and the right ones make it succeed, and stay the only entry.
        insert(password.as_bytes(), keys.clone());
        connect().unwrap_or_else(|e| panic!("cached login: {e}"));
        assert_eq!(lookup(password.as_bytes()), vec![keys]);
        clear();
    }
}
