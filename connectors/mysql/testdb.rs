//! The private MariaDB the integration tests run against.
//!
//! Tests that need it call [`connect_root`]/[`options`]: when the server is
//! unreachable they fail with the command that starts it, never skip.

use super::protocol::{ConnectOptions, Connection};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Root connection options from SLUICE_MARIADB_* (scripts/services env).
pub fn root_options() -> ConnectOptions {
    ConnectOptions {
        host: env("SLUICE_MARIADB_HOST", "127.0.0.1"),
        port: env("SLUICE_MARIADB_PORT", "3307").parse().unwrap_or(3307),
        user: "root".into(),
        password: env("SLUICE_MARIADB_ROOT_PASSWORD", "sluice"),
        database: None,
        tls: Default::default(),
    }
}

/// The replication user's options.
pub fn replica_options() -> ConnectOptions {
    ConnectOptions {
        user: env("SLUICE_MARIADB_USER", "sluice"),
        password: env("SLUICE_MARIADB_PASSWORD", "sluice"),
        ..root_options()
    }
}

pub async fn connect(opts: &ConnectOptions) -> Connection {
    match Connection::connect(opts).await {
        Ok(c) => c,
        Err(e) => panic!(
            "the private MariaDB is not reachable at {}:{} ({e}); start it with scripts/services up mariadb",
            opts.host, opts.port
        ),
    }
}

pub async fn connect_root() -> Connection {
    connect(&root_options()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connects_and_runs_text_queries() {
        let mut c = connect(&replica_options()).await;
        assert!(c.server().is_mariadb(), "{}", c.server().version);
        let rs = c
            .query("SELECT 1 AS one, NULL AS n, 'é' AS s, REPEAT('x', 300) AS long_text")
            .await
            .unwrap();
        assert_eq!(rs.columns.len(), 4);
        assert_eq!(rs.columns[0].name, "one");
        assert_eq!(rs.text(0, 0), Some("1"));
        assert_eq!(rs.rows[0][1], None);
        assert_eq!(rs.text(0, 2), Some("é"));
        assert_eq!(rs.text(0, 3).map(str::len), Some(300));
        let err = c
            .query("SELECT * FROM no_such_db.no_such_table")
            .await
            .unwrap_err();
        assert_eq!(err.server_code(), Some(1146), "{err}");
        // The connection is still usable after an error.
        assert_eq!(c.query("SELECT 2").await.unwrap().text(0, 0), Some("2"));
    }

    #[tokio::test]
    async fn wrong_password_is_a_fatal_auth_error() {
        let mut o = replica_options();
        o.password = "definitely-wrong".into();
        let err = match Connection::connect(&o).await {
            Ok(_) => panic!("connected with a wrong password"),
            Err(e) => e,
        };
        assert!(!err.is_retriable());
        assert!(err.to_string().contains("database.password"), "{err}");
    }

    #[tokio::test]
    async fn large_values_cross_the_16mb_packet_boundary() {
        let mut c = connect_root().await;
        c.exec("SET SESSION max_allowed_packet = 67108864")
            .await
            .ok();
        let rs = c
            .query("SELECT REPEAT('ab', 9000000) AS big")
            .await
            .unwrap();
        let v = rs.rows[0][0].as_ref().unwrap();
        assert_eq!(v.len(), 18_000_000);
        assert!(v.chunks(2).all(|c| c == b"ab"));
    }
}
