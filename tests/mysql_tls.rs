//! database.ssl.mode against a private MariaDB with TLS (certificates made
//! by openssl in the test: a CA and a server certificate that names
//! `db.example` only), and against the shared one, which has no TLS.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// ca.pem, server.pem, server-key.pem in `dir`; the server certificate
/// names only `db.example`.
fn make_certs(dir: &Path) {
    issue_cert(dir, "server", "db.example", "subjectAltName=DNS:db.example");
}

fn ssl_accepts(db: &PrivateMariaDb) -> u64 {
    db.sql("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'")
        .split('\t')
        .nth(1)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn connector(
    db: &PrivateMariaDb,
    dir: &Path,
    tag: &str,
    extra: &[(&str, &str)],
) -> (Value, String) {
    let name = unique(tag);
    let prefix = unique(tag);
    let mut cfg =
        mysql_connector_config(&name, &prefix, "tls", &dir.join(format!("{name}.h")), extra);
    cfg["config"]["database.port"] = Value::String(db.port.to_string());
    cfg["config"]["database.user"] = "cdc".into();
    cfg["config"]["database.password"] = "cdc".into();
    (cfg, prefix)
}

#[test]
fn ssl_modes_encrypt_and_verify_as_asked() {
    let certs = TempDir::new("tls-certs");
    make_certs(certs.path());
    let p = |f: &str| certs.path().join(f).display().to_string();
    let db = PrivateMariaDb::start(&[
        "log_bin = mariadb-bin",
        "binlog_format = ROW",
        "binlog_row_image = FULL",
        "binlog_row_metadata = FULL",
        &format!("ssl_ca = {}", p("ca.pem")),
        &format!("ssl_cert = {}", p("server.pem")),
        &format!("ssl_key = {}", p("server-key.pem")),
    ]);
    db.sql("CREATE DATABASE tls; CREATE TABLE tls.t (id INT PRIMARY KEY); INSERT INTO tls.t VALUES (1);");
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("mysql-tls");
    let s = Sluice::start(dir.path(), &[]);

    // required: encrypted, certificate not checked. verify_ca: the chain
    // leads to our CA (the name db.example is not checked).
    let ca = p("ca.pem");
    for (tag, extra) in [
        ("tls-req", vec![("database.ssl.mode", "required")]),
        (
            "tls-ca",
            vec![
                ("database.ssl.mode", "verify_ca"),
                ("database.ssl.ca", ca.as_str()),
            ],
        ),
    ] {
        let before = ssl_accepts(&db);
        let (cfg, prefix) = connector(&db, dir.path(), tag, &extra);
        assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
        let mut r = TopicReader::new(&bootstrap, &format!("{prefix}.tls.t"));
        r.read_until("the snapshot over TLS", Duration::from_secs(60), |r| {
            !r.is_empty()
        });
        assert_eq!(r.parsed[0].1["after"]["id"], 1);
        db.sql(&format!("INSERT INTO tls.t VALUES ({})", 100 + before));
        r.read_until("a streamed insert over TLS", Duration::from_secs(60), |r| {
            r.iter().any(|(_, v)| v["op"] == "c")
        });
        // Snapshot, metadata and binlog connections all went through TLS.
        assert!(
            ssl_accepts(&db) >= before + 3,
            "{tag}: the server saw no TLS connections"
        );
        let name = cfg["name"].as_str().unwrap();
        assert_eq!(s.delete(&format!("/connectors/{name}")).status, 204);
    }

    // verify_identity: the certificate does not name 127.0.0.1.
    let (cfg, _) = connector(
        &db,
        dir.path(),
        "tls-id",
        &[
            ("database.ssl.mode", "verify_identity"),
            ("database.ssl.ca", ca.as_str()),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let name = cfg["name"].as_str().unwrap();
    let st = s.wait_status(name, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("TLS handshake") && trace.contains("database.ssl.mode=verify_identity"),
        "{trace}"
    );

    // verify_ca without our CA: the Mozilla roots do not trust it.
    let (cfg, _) = connector(
        &db,
        dir.path(),
        "tls-noca",
        &[("database.ssl.mode", "verify_ca")],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let name = cfg["name"].as_str().unwrap();
    let st = s.wait_status(name, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(trace.contains("database.ssl.ca"), "{trace}");
}

#[test]
fn required_tls_against_a_server_without_it_fails_with_the_remedy() {
    let db = format!("sl_{}", unique("notls").replace('-', "_"));
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY);"
    ));
    let have_ssl = mariadb("SHOW VARIABLES LIKE 'have_ssl'");
    assert!(
        have_ssl.contains("DISABLED"),
        "this test needs the shared MariaDB without TLS: {have_ssl}"
    );
    let dir = TempDir::new("mysql-notls");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("notls");
    let cfg = mysql_connector_config(
        &name,
        &unique("nt"),
        &db,
        &dir.path().join("h"),
        &[("database.ssl.mode", "required")],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let st = s.wait_status(&name, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("does not offer TLS") && trace.contains("database.ssl.mode"),
        "{trace}"
    );
}
