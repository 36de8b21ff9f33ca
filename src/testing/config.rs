//! The text of the configuration files, the role setup SQL, and URIs.

use std::path::Path;

use super::{HOST_TCP, MD5_ROLE, PASSWORD_ROLE, REJECT_ROLE, SCRAM_ROLE, SUPERUSER};

/// SQL giving the superuser `postgres` the server's password and creating the test roles
/// with it, and a superuser named after the OS user (unless that is `postgres`), also with
/// it, so that connections with only `PGHOST`/`PGPORT` (and `PGPASSWORD` over TCP) set work.
/// `password` is quoted as a string literal (the server's passwords are hex digits anyway).
/// The commit waits for its WAL (the server runs with `synchronous_commit = off`), so that an
/// immediate stop right after cannot lose the roles or the password.
pub(super) fn roles_sql(os_user: Option<&str>, password: &str) -> String {
    let pw = password.replace('\'', "''");
    let mut sql = format!(
        "SET synchronous_commit = on;\n\
         SET password_encryption = 'md5';\n\
         CREATE ROLE {MD5_ROLE} LOGIN PASSWORD '{pw}';\n\
         SET password_encryption = 'scram-sha-256';\n\
         CREATE ROLE {SCRAM_ROLE} LOGIN PASSWORD '{pw}';\n\
         CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{pw}';\n\
         CREATE ROLE {REJECT_ROLE} LOGIN;\n\
         ALTER ROLE {SUPERUSER} PASSWORD '{pw}';\n"
    );
    if let Some(user) = os_user.filter(|u| *u != SUPERUSER) {
        sql.push_str(&format!(
            "CREATE ROLE \"{}\" SUPERUSER LOGIN PASSWORD '{pw}';\n",
            user.replace('"', "\"\"")
        ));
    }
    sql
}

/// The standard `pg_hba.conf` lines (after the caller's). The socket (in a 0700 directory)
/// trusts everyone; over TCP every role needs its password: `scram-sha-256` for all but the
/// test roles of the other methods, and [`REJECT_ROLE`] is always rejected.
pub(super) fn hba_conf(ipv6: bool) -> String {
    let mut addrs = vec!["127.0.0.1/32"];
    if ipv6 {
        addrs.push("::1/128");
    }
    let mut text = String::from("local all all trust\nlocal replication all trust\n");
    for (role, method) in [
        (PASSWORD_ROLE, "password"),
        (MD5_ROLE, "md5"),
        (SCRAM_ROLE, "scram-sha-256"),
        (REJECT_ROLE, "reject"),
        ("all", "scram-sha-256"),
    ] {
        for addr in &addrs {
            text.push_str(&format!("host all {role} {addr} {method}\n"));
        }
    }
    for addr in &addrs {
        text.push_str(&format!("host replication all {addr} scram-sha-256\n"));
    }
    text
}

/// The `pgcluster.conf` included from `postgresql.conf`.
pub(super) fn server_conf(
    ipv6: bool,
    port: u16,
    sock: &Path,
    max_connections: u32,
    extra: &[String],
) -> String {
    let listen = if ipv6 { "127.0.0.1,::1" } else { HOST_TCP };
    let sock = sock.display().to_string().replace('\'', "''");
    let mut text = format!(
        "# Written by pgcluster::testing.\n\
         listen_addresses = '{listen}'\n\
         port = {port}\n\
         unix_socket_directories = '{sock}'\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n\
         max_connections = {max_connections}\n\
         shared_buffers = 16MB\n\
         lc_messages = 'C'\n"
    );
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// `user@` or `user:password@` (percent-encoded), or nothing for an empty user.
pub(super) fn userinfo(user: &str, password: Option<&str>) -> String {
    match (user, password) {
        ("", _) => String::new(),
        (user, None) => format!("{}@", percent_encode(user)),
        (user, Some(pw)) => format!("{}:{}@", percent_encode(user), percent_encode(pw)),
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved characters (`/` becomes `%2F`).
pub(super) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(percent_encode("/tmp/pg-x_1.~"), "%2Ftmp%2Fpg-x_1.~");
        assert_eq!(percent_encode("a b@:"), "a%20b%40%3A");
        assert_eq!(userinfo("", None), "");
        assert_eq!(userinfo("u", None), "u@");
        assert_eq!(userinfo("u", Some("p@ss")), "u:p%40ss@");
    }

    #[test]
    fn roles() {
        let sql = roles_sql(Some("ro\"ot"), "0123abcd");
        assert_eq!(
            sql,
            "SET synchronous_commit = on;\n\
             SET password_encryption = 'md5';\n\
             CREATE ROLE pgcluster_md5 LOGIN PASSWORD '0123abcd';\n\
             SET password_encryption = 'scram-sha-256';\n\
             CREATE ROLE pgcluster_scram LOGIN PASSWORD '0123abcd';\n\
             CREATE ROLE pgcluster_password LOGIN PASSWORD '0123abcd';\n\
             CREATE ROLE pgcluster_reject LOGIN;\n\
             ALTER ROLE postgres PASSWORD '0123abcd';\n\
             CREATE ROLE \"ro\"\"ot\" SUPERUSER LOGIN PASSWORD '0123abcd';\n"
        );
        assert!(!roles_sql(Some("postgres"), "x").contains("SUPERUSER"));
        assert!(!roles_sql(None, "x").contains("SUPERUSER"));
        assert!(roles_sql(None, "it's").contains("ALTER ROLE postgres PASSWORD 'it''s';\n"));
    }

    #[test]
    fn config_files() {
        assert_eq!(
            hba_conf(false),
            "local all all trust\n\
             local replication all trust\n\
             host all pgcluster_password 127.0.0.1/32 password\n\
             host all pgcluster_md5 127.0.0.1/32 md5\n\
             host all pgcluster_scram 127.0.0.1/32 scram-sha-256\n\
             host all pgcluster_reject 127.0.0.1/32 reject\n\
             host all all 127.0.0.1/32 scram-sha-256\n\
             host replication all 127.0.0.1/32 scram-sha-256\n"
        );
        // Nothing is trusted over TCP, on either address family.
        for line in hba_conf(true).lines().filter(|l| l.starts_with("host")) {
            assert!(!line.ends_with(" trust"), "{line}");
        }
        assert!(hba_conf(true).contains("host all all ::1/128 scram-sha-256\n"));
        assert!(hba_conf(true).contains("host all pgcluster_md5 ::1/128 md5\n"));
        let conf = server_conf(
            true,
            5433,
            Path::new("/tmp/it's"),
            20,
            &["work_mem = 1MB".into()],
        );
        assert_eq!(
            conf,
            "# Written by pgcluster::testing.\n\
             listen_addresses = '127.0.0.1,::1'\n\
             port = 5433\n\
             unix_socket_directories = '/tmp/it''s'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 20\n\
             shared_buffers = 16MB\n\
             lc_messages = 'C'\n\
             work_mem = 1MB\n"
        );
    }
}
