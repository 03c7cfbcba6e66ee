//! The MySQL connector rides out the failures of the servers around it
//! without losing a committed change: the database restarted cleanly and
//! killed with SIGKILL mid-stream (a private MariaDB), and the broker
//! killed with SIGKILL mid-stream and started again (a private Apache Kafka
//! broker). Rows are written before, during and after each outage;
//! at the end every row of the table is read back from the broker with its
//! final image, and the task is RUNNING without anyone restarting it.
//! Duplicates are allowed (at-least-once) and counted.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const BINLOG_ROW: &[&str] = &[
    "log_bin = mariadb-bin",
    "binlog_format = ROW",
    "binlog_row_image = FULL",
    "binlog_row_metadata = FULL",
];

/// The last image of every key in the topic (creates and updates; a
/// delete's tombstone removes it), and how many change events repeated
/// one already seen (same key, same op, same image).
fn final_rows(parsed: &[(Value, Value)]) -> (BTreeMap<i64, Value>, usize) {
    let mut rows = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut repeats = 0;
    for (k, v) in parsed {
        let Some(id) = k["id"].as_i64() else { continue };
        if v.is_null() {
            rows.remove(&id);
            continue;
        }
        if !seen.insert((id, v["op"].to_string(), v["after"].to_string())) {
            repeats += 1;
        }
        match v["op"].as_str() {
            Some("d") => {
                rows.remove(&id);
            }
            _ => {
                rows.insert(id, v["after"].clone());
            }
        }
    }
    (rows, repeats)
}

/// Rows `from..to` as inserts in transactions of 100, each row then
/// updated once: the table holds v = id * 10 for all of them.
fn write_rows(sql: &dyn Fn(&str), from: i64, to: i64) {
    let mut at = from;
    while at < to {
        let end = (at + 100).min(to);
        let values: Vec<String> = (at..end).map(|i| format!("({i}, {i})")).collect();
        sql(&format!(
            "BEGIN; INSERT INTO rec.t VALUES {}; UPDATE rec.t SET v = id * 10 WHERE id >= {at} AND id < {end}; COMMIT;",
            values.join(", ")
        ));
        at = end;
    }
}

fn expected(to: i64) -> BTreeMap<i64, Value> {
    (1..to)
        .map(|i| (i, json!({"id": i, "v": i * 10})))
        .collect()
}

fn wait_all(reader: &mut TopicReader, to: i64, what: &str) -> usize {
    let want = expected(to);
    reader.read_until(what, Duration::from_secs(180), |p| final_rows(p).0 == want);
    let (rows, repeats) = final_rows(&reader.parsed);
    assert_eq!(rows, want, "{what}");
    repeats
}

#[test]
fn database_restart_and_kill_9_mid_stream_lose_no_committed_change() {
    let mut db = PrivateMariaDb::start(BINLOG_ROW);
    db.sql("CREATE DATABASE rec; CREATE TABLE rec.t (id BIGINT PRIMARY KEY, v BIGINT);");
    let dir = TempDir::new("mysql-db-restart");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-db-restart");
    let prefix = unique("mdbr");
    let mut cfg = mysql_connector_config(
        &name,
        &prefix,
        "rec",
        &dir.path().join("h.jsonl"),
        &[("snapshot.mode", "no_data")],
    );
    let port = db.port.to_string();
    for (k, v) in [
        ("database.hostname", "127.0.0.1"),
        ("database.port", port.as_str()),
        ("database.user", "cdc"),
        ("database.password", "cdc"),
    ] {
        cfg["config"][k] = json!(v);
    }
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    s.wait_committed_offset(&name, Duration::from_secs(60));
    let mut reader = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.rec.t"));

    write_rows(&|q| drop(db.sql(q)), 1, 1001);
    wait_all(&mut reader, 1001, "rows before the restart");

    // A clean restart while the connector streams, then rows after it.
    db.restart(BINLOG_ROW);
    write_rows(&|q| drop(db.sql(q)), 1001, 2001);
    wait_all(&mut reader, 2001, "rows written after a clean restart");

    // SIGKILL in the middle of writing: the rows written before it and
    // committed are on the binlog; more rows after the server is back.
    write_rows(&|q| drop(db.sql(q)), 2001, 2501);
    db.kill9_and_start();
    write_rows(&|q| drop(db.sql(q)), 2501, 3001);
    let repeats = wait_all(&mut reader, 3001, "rows around a kill -9 of the server");
    eprintln!("{repeats} repeated change events");

    // A partition: the server frozen, its connections open and silent. The
    // reader gives the connection up after 30 s without a byte, and
    // reconnects once the server answers again.
    db.freeze(true);
    wait_for(
        "the reader to give up the silent connection",
        Duration::from_secs(90),
        || {
            s.log_text()
                .contains("no byte from the server for 30 s")
                .then_some(())
        },
    );
    db.freeze(false);
    write_rows(&|q| drop(db.sql(q)), 3001, 3501);
    wait_all(&mut reader, 3501, "rows after the partition");

    s.wait_status(&name, "RUNNING after every outage", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    let log = s.log_text();
    assert!(
        log.contains("poll failed, retrying"),
        "the task retried the lost connection on its own\n{log}"
    );
}

#[test]
fn broker_kill_9_mid_stream_loses_no_committed_change() {
    let mut broker = RestartableBroker::start();
    let db = format!("sl_{}", unique("brk").replace('-', "_"));
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v BIGINT);"
    ));
    let dir = TempDir::new("mysql-broker-restart");
    let s = Sluice::start(dir.path(), &[("bootstrap.servers", &broker.bootstrap)]);
    let name = unique("mysql-broker-restart");
    let prefix = unique("mbrk");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[("snapshot.mode", "no_data")],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    s.wait_committed_offset(&name, Duration::from_secs(60));
    let sql = |q: &str| drop(mariadb(&q.replace("rec.t", &format!("{db}.t"))));
    let topic = format!("{prefix}.{db}.t");

    write_rows(&sql, 1, 1001);
    {
        let mut reader = TopicReader::new(&broker.bootstrap, &topic);
        wait_all(&mut reader, 1001, "rows before the broker is killed");
    }
    // Kill the broker; the database goes on committing while it is down.
    broker.kill9();
    write_rows(&sql, 1001, 2001);
    broker.start_again();
    write_rows(&sql, 2001, 3001);
    let mut reader = TopicReader::new(&broker.bootstrap, &topic);
    let repeats = wait_all(
        &mut reader,
        3001,
        "rows written while the broker was down and after",
    );
    eprintln!("{repeats} repeated change events");
    s.wait_status(&name, "RUNNING after the broker came back", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
}
