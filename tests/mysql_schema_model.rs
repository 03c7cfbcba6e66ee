//! The schema model at work: a connector that is behind two ALTERs of one
//! table decodes the rows between them with the definition in force at
//! each row, on a MariaDB with its defaults (binlog_row_metadata=NO_LOG: the
//! binlog says nothing of column names or signedness, only the model does).
//!
//! The worker is stopped after the snapshot; the inserts and ALTERs run
//! while it is down; it starts again and reads them all at once. Reading
//! table definitions from information_schema when each DDL is met (as
//! Sluice did before the model) gives every row the last definition: the
//! first rows came out with the wrong field names, and 200 in an unsigned
//! TINYINT read as the signed -56.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[test]
fn a_lagging_connector_decodes_each_row_with_the_definition_of_its_time() {
    let db = PrivateMariaDb::start(&["log_bin = mariadb-bin", "binlog_format = ROW"]);
    assert_eq!(
        db.sql("SELECT @@binlog_row_metadata").trim(),
        "NO_LOG",
        "the server's default metadata"
    );
    db.sql(
        "CREATE DATABASE lag; CREATE TABLE lag.t (id INT PRIMARY KEY, a INT, b TINYINT UNSIGNED);
         INSERT INTO lag.t VALUES (1, 10, 100);",
    );
    let dir = TempDir::new("mysql-schema-model");
    let mut s = Sluice::start(dir.path(), &[]);
    let name = unique("lag");
    let prefix = unique("lag");
    let mut cfg =
        mysql_connector_config(&name, &prefix, "lag", &dir.path().join("history.dat"), &[]);
    cfg["config"]["database.port"] = Value::String(db.port.to_string());
    cfg["config"]["database.user"] = "cdc".into();
    cfg["config"]["database.password"] = "cdc".into();
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut r = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.lag.t"));
    r.read_until("the snapshot row", Duration::from_secs(60), |r| {
        !r.is_empty()
    });
    s.wait_committed_offset(&name, Duration::from_secs(30));
    s.terminate();

    // While the connector is down: rows under three definitions.
    db.sql(
        "INSERT INTO lag.t VALUES (2, 20, 200);
         ALTER TABLE lag.t ADD COLUMN c VARCHAR(10) DEFAULT 'x' AFTER id;
         INSERT INTO lag.t VALUES (3, 'three', 30, 250);
         ALTER TABLE lag.t DROP COLUMN a, MODIFY b SMALLINT, RENAME COLUMN c TO d;
         INSERT INTO lag.t VALUES (4, 'four', -5);
         CREATE TABLE lag.gone (id INT PRIMARY KEY, v INT);
         INSERT INTO lag.gone VALUES (1, 1);
         DROP TABLE lag.gone;",
    );
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    r.read_until(
        "the rows written while down",
        Duration::from_secs(60),
        |r| r.iter().filter(|(_, v)| v["op"] == "c").count() >= 3,
    );
    let after = |id: i64| -> Value {
        r.parsed
            .iter()
            .find(|(k, v)| k["id"] == id && v["op"] == "c")
            .map(|(_, v)| v["after"].clone())
            .unwrap_or_else(|| panic!("no insert of id {id}: {:?}", r.parsed))
    };
    assert_eq!(
        after(2),
        json!({"id": 2, "a": 20, "b": 200}),
        "row 2: the first definition"
    );
    assert_eq!(
        after(3),
        json!({"id": 3, "c": "three", "a": 30, "b": 250}),
        "row 3: after the first ALTER"
    );
    assert_eq!(
        after(4),
        json!({"id": 4, "d": "four", "b": -5}),
        "row 4: after the second"
    );
    // The table created and dropped while the connector was down: its row
    // with the table's own columns.
    let mut g = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.lag.gone"));
    g.read_until("the dropped table's row", Duration::from_secs(60), |r| {
        !r.is_empty()
    });
    assert_eq!(g.parsed[0].1["after"], json!({"id": 1, "v": 1}));
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
}
