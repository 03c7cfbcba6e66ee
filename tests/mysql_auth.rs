//! Logging in as users set up the ways servers are: MariaDB's ed25519
//! plugin (`IDENTIFIED VIA ed25519`), against a private MariaDB. (MySQL's
//! caching_sha2_password is tested against a scripted server in
//! connectors/mysql/protocol.rs: no MySQL server runs here.)

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

#[test]
fn a_mariadb_ed25519_user_logs_in_and_a_wrong_password_is_named() {
    let db = PrivateMariaDb::start(&["log_bin = mariadb-bin", "binlog_format = ROW"]);
    db.sql(
        "INSTALL SONAME 'auth_ed25519';
         CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-secret-9');
         GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SELECT, RELOAD, SHOW DATABASES, LOCK TABLES ON *.* TO 'ed'@'%';
         CREATE DATABASE auth; CREATE TABLE auth.t (id INT PRIMARY KEY); INSERT INTO auth.t VALUES (1);",
    );
    assert_eq!(
        db.sql("SELECT plugin FROM mysql.user WHERE user = 'ed'")
            .trim(),
        "ed25519",
        "the user's plugin"
    );
    let dir = TempDir::new("mysql-auth");
    let s = Sluice::start(dir.path(), &[]);
    let connector = |password: &str| {
        let name = unique("ed");
        let prefix = unique("ed");
        let mut cfg = mysql_connector_config(
            &name,
            &prefix,
            "auth",
            &dir.path().join(format!("{name}.h")),
            &[],
        );
        cfg["config"]["database.port"] = Value::String(db.port.to_string());
        cfg["config"]["database.user"] = "ed".into();
        cfg["config"]["database.password"] = password.into();
        assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
        (name, prefix)
    };
    let (_, prefix) = connector("ed-secret-9");
    let mut r = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.auth.t"));
    r.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    db.sql("INSERT INTO auth.t VALUES (2)");
    r.read_until("the streamed insert", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["after"]["id"] == 2)
    });

    let (bad, _) = connector("not-the-password");
    let st = s.wait_status(&bad, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("Access denied") && trace.contains("database.password"),
        "{trace}"
    );
    assert!(
        !trace.contains("not-the-password"),
        "the password shows: {trace}"
    );
}
