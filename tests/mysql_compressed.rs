//! MariaDB with `log_bin_compress=ON`: its query and rows events are
//! logged compressed, and every change still reaches the topic exactly
//! (before the compressed event types were read, they were passed over and
//! the offset moved past them: the rows were lost without a word).
//!
//! The server runs as users run it: MariaDB's defaults (binlog_row_metadata
//! NO_LOG, so column names come from the schema model) with only log_bin,
//! binlog_format=ROW and the compression settings. The test first checks
//! from `SHOW BINLOG EVENTS` that the server really logged compressed
//! events, then compares the replayed topic with the table row by row.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use serde_json::Value;

const COMPRESSED: &[&str] = &[
    "log_bin = mariadb-bin",
    "binlog_format = ROW",
    "log_bin_compress = ON",
    "log_bin_compress_min_len = 10",
];

/// The table's rows as the test compares them: id → the other columns as
/// text (the body by its length and first character).
fn table_rows(db: &PrivateMariaDb, table: &str, extra: bool) -> BTreeMap<i64, Vec<String>> {
    let cols = if extra { ", extra" } else { "" };
    db.sql(&format!(
        "SELECT id, name, LENGTH(body), LEFT(body, 1), amount, color{cols} FROM z.{table} ORDER BY id"
    ))
    .lines()
    .map(|l| {
        let mut f = l.split('\t').map(|s| s.replace("NULL", "null"));
        (f.next().unwrap().parse().unwrap(), f.collect())
    })
    .collect()
}

/// The topic replayed by key: the last `after` of each id, deletes removed.
fn replayed(parsed: &[(Value, Value)], extra: bool) -> BTreeMap<i64, Vec<String>> {
    let mut rows = BTreeMap::new();
    for (key, value) in parsed {
        let id = key["id"].as_i64().expect("a keyed record");
        if value.is_null() || value["op"] == "d" {
            rows.remove(&id);
            continue;
        }
        let a = &value["after"];
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => "null".into(),
            other => other.to_string(),
        };
        let body = a["body"].as_str().unwrap_or("");
        let mut row = vec![
            text(&a["name"]),
            body.len().to_string(),
            body.chars().next().map(String::from).unwrap_or_default(),
            text(&a["amount"]),
            text(&a["color"]),
        ];
        if extra {
            // A row last changed before the column was added has no such
            // field; the table gives it the column's default.
            row.push(a.get("extra").map_or("7".into(), text));
        }
        rows.insert(id, row);
    }
    rows
}

#[test]
fn compressed_binlog_events_are_captured_exactly() {
    let db = PrivateMariaDb::start(COMPRESSED);
    let ddl = "(id INT PRIMARY KEY, name VARCHAR(50), body MEDIUMTEXT, amount DECIMAL(10,2), color ENUM('red','green'))";
    db.sql(&format!(
        "CREATE DATABASE z; CREATE TABLE z.t {ddl};
         INSERT INTO z.t VALUES (1, 'snapshot row', 'before the connector', 1.50, 'red');"
    ));
    let dir = TempDir::new("mysql-compressed");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("compressed");
    let prefix = unique("cz");
    let mut cfg = mysql_connector_config(
        &name,
        &prefix,
        "z",
        &dir.path().join("history.dat"),
        &[("decimal.handling.mode", "string")],
    );
    cfg["config"]["database.port"] = Value::String(db.port.to_string());
    cfg["config"]["database.user"] = "cdc".into();
    cfg["config"]["database.password"] = "cdc".into();
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut t = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.z.t"));
    t.read_until("the snapshot row", Duration::from_secs(90), |r| {
        !r.is_empty()
    });

    // Streamed: a table created mid-stream, a 100 kB value (a 3-byte
    // length in MariaDB's compressed header), one 500-row statement, an
    // update, a delete, then a column added and used.
    db.sql(&format!(
        "CREATE TABLE z.u {ddl};
         INSERT INTO z.u VALUES (1, 'new table', 'made mid-stream', 2.25, 'green');
         INSERT INTO z.t VALUES (2, 'large', REPEAT('x', 100000), 3.75, 'green');
         INSERT INTO z.t SELECT seq, CONCAT('row ', seq), REPEAT(CHAR(97 + seq % 26), seq), seq / 100, IF(seq % 2, 'red', 'green') FROM z.seq_3_to_502;
         UPDATE z.t SET name = 'updated', amount = amount + 1 WHERE id % 7 = 0;
         DELETE FROM z.t WHERE id % 11 = 0;
         ALTER TABLE z.t ADD COLUMN extra INT DEFAULT 7;
         INSERT INTO z.t VALUES (600, 'after alter', 'y', 0.01, 'red', 9);
         UPDATE z.t SET extra = 8 WHERE id = 2;"
    ));

    // The premise: the server logged these changes compressed.
    let events = db.sql("SHOW BINLOG EVENTS");
    for kind in [
        "Query_compressed",
        "Write_rows_compressed",
        "Update_rows_compressed",
        "Delete_rows_compressed",
    ] {
        assert!(
            events.lines().any(|l| l.contains(kind)),
            "the server logged no {kind} event; is log_bin_compress honoured?\n{events}"
        );
    }

    let want = table_rows(&db, "t", true);
    assert_eq!(want.len(), 1 + 501 - 45 + 1, "rows in z.t");
    // Every change arrives once: the snapshot row, 502 inserts, 72 updates
    // (ids divisible by 7 in 2..=502, and id 2 again) and 45 deletes, each
    // a tombstone after it.
    let expected = 1 + 502 + 72 + 45 * 2;
    t.read_until("every change to z.t", Duration::from_secs(90), |r| {
        r.len() >= expected
    });
    let count = |op: &str| t.parsed.iter().filter(|(_, v)| v["op"] == op).count();
    assert_eq!(
        (
            count("r"),
            count("c"),
            count("u"),
            count("d"),
            t.parsed.len()
        ),
        (1, 502, 72, 45, expected),
        "events by op, and all records"
    );
    let got = replayed(&t.parsed, true);
    for (id, row) in &want {
        assert_eq!(got.get(id), Some(row), "row {id}: topic against table");
    }
    assert_eq!(got.len(), want.len(), "rows in the replayed topic");
    let mut u = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.z.u"));
    let want_u = table_rows(&db, "u", false);
    u.read_until(
        "the row of the table made mid-stream",
        Duration::from_secs(60),
        |r| replayed(r, false) == want_u,
    );
    let status = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    assert_eq!(s.delete(&format!("/connectors/{name}")).status, 204);
}
