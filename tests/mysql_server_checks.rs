//! A server the connector cannot capture from, and a replica id already in
//! use: each fails the task with a trace that names the setting to change.
//! Server settings are varied on a private MariaDB started by the test
//! (the shared one keeps its global variables).

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const BINLOG_ROW: &[&str] = &[
    "log_bin = mariadb-bin",
    "binlog_format = ROW",
    "binlog_row_image = FULL",
    "binlog_row_metadata = FULL",
];

/// Creates a connector on the private server and returns its FAILED trace.
fn failed_trace(s: &Sluice, db: &PrivateMariaDb, tag: &str) -> String {
    let name = unique(tag);
    let dir = s.worker_file.parent().unwrap().to_path_buf();
    let mut cfg = mysql_connector_config(
        &name,
        &unique(tag),
        "chk",
        &dir.join(format!("{name}.h")),
        &[],
    );
    for (k, v) in [
        ("database.port", db.port.to_string()),
        ("database.user", "cdc".into()),
        ("database.password", "cdc".into()),
    ] {
        cfg["config"][k] = Value::String(v);
    }
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let st = s.wait_status(&name, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
    assert_eq!(s.delete(&format!("/connectors/{name}")).status, 204);
    st["tasks"][0]["trace"].as_str().unwrap_or("").to_string()
}

#[test]
fn misconfigured_servers_fail_the_task_naming_the_variable() {
    let mut db = PrivateMariaDb::start(BINLOG_ROW);
    db.sql("CREATE DATABASE chk; CREATE TABLE chk.t (id INT PRIMARY KEY); INSERT INTO chk.t VALUES (1);");
    let dir = TempDir::new("mysql-checks");
    let s = Sluice::start(dir.path(), &[]);

    db.sql("SET GLOBAL binlog_format = 'STATEMENT'");
    let t = failed_trace(&s, &db, "stmt");
    assert!(
        t.contains("binlog_format is STATEMENT") && t.contains("binlog_format=ROW"),
        "{t}"
    );

    db.sql("SET GLOBAL binlog_format = 'MIXED'");
    let t = failed_trace(&s, &db, "mixed");
    assert!(
        t.contains("binlog_format is MIXED") && t.contains("binlog_format=ROW"),
        "{t}"
    );

    db.sql("SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'MINIMAL'");
    let t = failed_trace(&s, &db, "minimal");
    assert!(
        t.contains("binlog_row_image is MINIMAL") && t.contains("binlog_row_image=FULL"),
        "{t}"
    );

    db.restart(&["skip-log-bin"]);
    let t = failed_trace(&s, &db, "nobin");
    assert!(
        t.contains("binary log is off") && t.contains("log_bin"),
        "{t}"
    );

    // binlog_row_metadata left at the servers' default (MINIMAL): not
    // fatal, but one warning names the variable.
    db.restart(&BINLOG_ROW[..3]);
    let name = unique("minmeta");
    let mut cfg =
        mysql_connector_config(&name, &unique("mm"), "chk", &dir.path().join("mm.h"), &[]);
    cfg["config"]["database.port"] = Value::String(db.port.to_string());
    cfg["config"]["database.user"] = "cdc".into();
    cfg["config"]["database.password"] = "cdc".into();
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    wait_for(
        "the binlog_row_metadata warning",
        Duration::from_secs(60),
        || {
            s.log_text()
                .contains("binlog_row_metadata is not FULL")
                .then_some(())
        },
    );
    assert!(s.log_text().contains("set binlog_row_metadata=FULL"));
    let st = s.wait_status(&name, "RUNNING", |st| st["tasks"][0]["state"] == "RUNNING");
    assert_eq!(st["tasks"][0]["state"], "RUNNING");
    assert_eq!(s.delete(&format!("/connectors/{name}")).status, 204);

    // The same server set up right: the connector runs.
    db.restart(BINLOG_ROW);
    let name = unique("ok");
    let prefix = unique("ok");
    let mut cfg = mysql_connector_config(&name, &prefix, "chk", &dir.path().join("ok.h"), &[]);
    cfg["config"]["database.port"] = Value::String(db.port.to_string());
    cfg["config"]["database.user"] = "cdc".into();
    cfg["config"]["database.password"] = "cdc".into();
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut r = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.chk.t"));
    r.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    assert_eq!(r.parsed[0].1["after"]["id"], 1);

    // A second connector with its database.server.id: with the privilege
    // to list replicas, Sluice refuses it before it dumps anything.
    let sid = cfg["config"]["database.server.id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("the replica registration", Duration::from_secs(30), || {
        db.sql("SHOW SLAVE HOSTS")
            .lines()
            .any(|l| l.split('\t').next() == Some(sid.as_str()))
            .then_some(())
    });
    let mut twin = cfg.clone();
    let twin_name = unique("twin");
    twin["name"] = twin_name.clone().into();
    twin["config"]["topic.prefix"] = unique("twin").into();
    let st = {
        assert_eq!(s.post("/connectors", &twin.to_string()).status, 201);
        s.wait_status(&twin_name, "FAILED", |st| {
            st["tasks"][0]["state"] == "FAILED"
        })
    };
    let t = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        t.contains(&format!("database.server.id={sid} is already used"))
            && t.contains("unused number"),
        "{t}"
    );
    db.sql("INSERT INTO chk.t VALUES (2)");
    r.read_until(
        "the first connector's insert",
        Duration::from_secs(60),
        |r| r.iter().any(|(_, v)| v["after"]["id"] == 2),
    );
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
}

#[test]
fn a_server_id_in_use_by_another_replica_fails_naming_database_server_id() {
    let bootstrap = kafka_bootstrap();
    let db = format!("sl_{}", unique("sid").replace('-', "_"));
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY); INSERT INTO {db}.t VALUES (1);"
    ));
    let dir = TempDir::new("mysql-sid");
    let s = Sluice::start(dir.path(), &[]);
    let (first, second) = (unique("sid-a"), unique("sid-b"));
    let prefix = unique("sa");
    let a = mysql_connector_config(&first, &prefix, &db, &dir.path().join("a.h"), &[]);
    let server_id = a["config"]["database.server.id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.post("/connectors", &a.to_string()).status, 201);
    let mut r = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    r.read_until(
        "the first connector's snapshot",
        Duration::from_secs(60),
        |r| !r.is_empty(),
    );
    // Its replica registration is visible to the server.
    wait_for(
        "the first connector to register",
        Duration::from_secs(30),
        || {
            mariadb("SHOW SLAVE HOSTS")
                .lines()
                .any(|l| l.split('\t').next() == Some(server_id.as_str()))
                .then_some(())
        },
    );
    let b_prefix = unique("sb");
    let b = mysql_connector_config(
        &second,
        &b_prefix,
        &db,
        &dir.path().join("b.h"),
        &[("database.server.id", &server_id)],
    );
    assert_eq!(s.post("/connectors", &b.to_string()).status, 201);
    // The server lets one dump per replica id run. Sluice refuses to start
    // a second one when it may list the replicas (SHOW SLAVE HOSTS needs
    // REPLICATION MASTER ADMIN on MariaDB); without that privilege the
    // server itself ends one of the two dumps (error 4052). Either way one
    // task fails naming database.server.id and the other keeps streaming.
    let failed = wait_for(
        "one of the two tasks to fail",
        Duration::from_secs(60),
        || {
            [&first, &second].into_iter().find_map(|n| {
                let st = s.get(&format!("/connectors/{n}/status")).json();
                (st["tasks"][0]["state"] == "FAILED").then(|| (n.clone(), st))
            })
        },
    );
    let trace = failed.1["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("database.server.id") && trace.contains("unused number"),
        "{trace}"
    );
    let survivor = if failed.0 == first { &second } else { &first };
    let survivor_prefix = if failed.0 == first {
        b_prefix.clone()
    } else {
        prefix.clone()
    };
    let mut r = TopicReader::new(&bootstrap, &format!("{survivor_prefix}.{db}.t"));
    mariadb(&format!("INSERT INTO {db}.t VALUES (2);"));
    r.read_until(
        "the surviving connector's insert",
        Duration::from_secs(60),
        |r| r.iter().any(|(_, v)| v["after"]["id"] == 2),
    );
    let st = s.get(&format!("/connectors/{survivor}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
}

/// Runs SQL on the private server as root; `Err` with the client's message
/// when the server refuses it.
fn sql_try(db: &PrivateMariaDb, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("mariadb")
        .args(["--no-defaults", "--protocol=socket", "-uroot", "-N", "-B"])
        .arg(format!(
            "--socket={}",
            db.dir.path().join("mariadb.sock").display()
        ))
        .args(["-e", sql])
        .output()
        .expect("run the mariadb client");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// snapshot.locking.mode=extended holds the global read lock for the whole
/// snapshot, as Debezium's: a write made while it runs waits (here it times
/// out), and once the snapshot is done writes go through and stream. With
/// the default (minimal) the same write goes through at once.
#[test]
fn extended_locking_holds_writes_for_the_whole_snapshot() {
    let db = PrivateMariaDb::start(BINLOG_ROW);
    db.sql(
        "CREATE DATABASE chk; USE chk; CREATE TABLE chk.t (id INT PRIMARY KEY, v VARCHAR(32));
            INSERT INTO chk.t SELECT seq, 'abcdefghijklmnopqrstuvwxyz012345' FROM seq_1_to_200000;
            CREATE TABLE chk.other (id INT PRIMARY KEY); CREATE TABLE chk.after (id INT PRIMARY KEY);",
    );
    let dir = TempDir::new("mysql-extended");
    let s = Sluice::start(dir.path(), &[]);
    for mode in ["extended", "minimal"] {
        let name = unique(mode);
        let prefix = unique("lk");
        let mut cfg = mysql_connector_config(
            &name,
            &prefix,
            "chk",
            &dir.path().join(format!("{name}.h")),
            &[
                ("snapshot.locking.mode", mode),
                ("table.include.list", "chk.t,chk.after"),
            ],
        );
        cfg["config"]["database.port"] = Value::String(db.port.to_string());
        cfg["config"]["database.user"] = "cdc".into();
        cfg["config"]["database.password"] = "cdc".into();
        assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
        // While the snapshot runs (rows read, not done), write elsewhere.
        s.wait_status(&name, "the snapshot under way", |st| {
            let t = &st["tasks"][0]["progress"]["snapshot"];
            let table = &t["tables"]["chk.t"];
            t["running"] == true && table["rows"].as_u64().unwrap_or(0) > 0 && table["done"] != true
        });
        let write = sql_try(
            &db,
            "SET SESSION lock_wait_timeout = 1; INSERT INTO chk.other VALUES (1); DELETE FROM chk.other;",
        );
        let st = s.get(&format!("/connectors/{name}/status")).json();
        let still_running = st["tasks"][0]["progress"]["snapshot"]["running"] == true;
        match mode {
            "extended" => {
                let e = write.expect_err("a write during an extended snapshot must wait");
                assert!(e.contains("Lock wait timeout"), "{e}");
            }
            _ => {
                write.expect("a write during a minimal snapshot goes through");
            }
        }
        // The snapshot ran all along (the check above was made inside it).
        assert!(still_running || mode == "minimal", "{st}");
        s.wait_status(&name, "the snapshot done", |st| {
            st["tasks"][0]["progress"]["snapshot"]["running"] == false
        });
        // After the snapshot the lock is gone: writes go through and stream.
        let id = if mode == "extended" { 1 } else { 2 };
        wait_for("writes again", Duration::from_secs(30), || {
            let sql =
                format!("SET SESSION lock_wait_timeout = 1; INSERT INTO chk.after VALUES ({id})");
            sql_try(&db, &sql).ok()
        });
        let mut r = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.chk.after"));
        r.read_until(
            "the insert after the snapshot",
            Duration::from_secs(120),
            |r| {
                r.iter()
                    .any(|(_, v)| v["op"] == "c" && v["after"]["id"] == id)
            },
        );
        assert_eq!(s.delete(&format!("/connectors/{name}")).status, 204);
    }
}

/// A session that sets binlog_row_image=MINIMAL for itself logs partial
/// rows, which the global check cannot see. Such an event fails the task
/// naming the absent columns and the setting (a change event would show
/// them as null); with event.processing.failure.handling.mode=warn it is
/// skipped with a warning and the stream goes on.
#[test]
fn a_session_level_minimal_row_image_is_reported_not_made_null() {
    let db = PrivateMariaDb::start(BINLOG_ROW);
    db.sql("CREATE DATABASE img; CREATE TABLE img.t (id INT PRIMARY KEY, a INT, b TEXT); INSERT INTO img.t VALUES (1, 1, 'one');");
    let dir = TempDir::new("mysql-image");
    let s = Sluice::start(dir.path(), &[]);
    let start = |mode: &str| {
        let name = unique("img");
        let prefix = unique("img");
        let mut cfg = mysql_connector_config(
            &name,
            &prefix,
            "img",
            &dir.path().join(format!("{name}.h")),
            &[("event.processing.failure.handling.mode", mode)],
        );
        cfg["config"]["database.port"] = Value::String(db.port.to_string());
        cfg["config"]["database.user"] = "cdc".into();
        cfg["config"]["database.password"] = "cdc".into();
        assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
        let mut r = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.img.t"));
        r.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
        (name, r)
    };

    let (failing, _) = start("fail");
    db.sql("SET SESSION binlog_row_image = 'MINIMAL'; UPDATE img.t SET a = 2 WHERE id = 1;");
    let st = s.wait_status(&failing, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("column a, b (before image); id, b (after image)")
            && trace.contains("absent from the row image")
            && trace.contains("binlog_row_image=FULL")
            && trace.contains("img.t"),
        "{trace}"
    );
    assert_eq!(s.delete(&format!("/connectors/{failing}")).status, 204);

    let (warning, mut r) = start("warn");
    db.sql("SET SESSION binlog_row_image = 'MINIMAL'; UPDATE img.t SET a = 3 WHERE id = 1;");
    db.sql("UPDATE img.t SET a = 4 WHERE id = 1;");
    r.read_until("the full-image update", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["after"]["a"] == 4)
    });
    assert!(
        !r.parsed.iter().any(|(_, v)| v["after"]["a"] == 3),
        "the partial row went out: {:?}",
        r.parsed
    );
    let last = &r.parsed.last().unwrap().1;
    assert_eq!(
        (&last["after"]["b"], &last["before"]["b"]),
        (&Value::from("one"), &Value::from("one"))
    );
    assert!(
        s.log_text().contains("absent from the row image"),
        "no warning logged"
    );
    let st = s.get(&format!("/connectors/{warning}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
}
