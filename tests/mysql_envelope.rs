//! The MySQL/MariaDB change events, field by field, against the envelope
//! Debezium documents for its MySQL connector ("Data change events": the
//! `customers` table of its tutorial, create / update / delete + tombstone),
//! through a real `sluice standalone` and read back from the broker with a
//! librdkafka consumer. Run for both connector classes: Debezium's
//! MySqlConnector and, by its `mariadb` alias, MariaDbConnector, whose
//! `source` differs only in its connector name and schema name.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn field(ty: &str, name: &str, optional: bool) -> Value {
    json!({"type": ty, "optional": optional, "field": name})
}

/// The row schema Debezium documents for `customers` (id INT, first_name,
/// last_name, email VARCHAR(255) NOT NULL).
fn row_fields() -> Value {
    json!([
        field("int32", "id", false),
        field("string", "first_name", false),
        field("string", "last_name", false),
        field("string", "email", false),
    ])
}

/// `source`'s fields as Debezium documents them (2.x: with sequence, ts_us
/// and ts_ns), in its order.
fn source_fields() -> Value {
    json!([
        field("string", "version", false),
        field("string", "connector", false),
        field("string", "name", false),
        field("int64", "ts_ms", false),
        {"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
         "parameters": {"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
         "default": "false", "field": "snapshot"},
        field("string", "db", false),
        field("string", "sequence", true),
        field("int64", "ts_us", true),
        field("int64", "ts_ns", true),
        field("string", "table", true),
        field("int64", "server_id", false),
        field("string", "gtid", true),
        field("string", "file", false),
        field("int64", "pos", false),
        field("int32", "row", false),
        field("int64", "thread", true),
        field("string", "query", true),
    ])
}

fn check_envelope(class: &str, connector: &str, source_schema: &str) {
    let bootstrap = kafka_bootstrap();
    let db = format!("sl_{}", unique("env").replace('-', "_"));
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.customers (id INT PRIMARY KEY, first_name VARCHAR(255) NOT NULL, last_name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL);"
    ));
    let dir = TempDir::new("mysql-envelope");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-envelope");
    let prefix = unique("menv");
    let mut cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[("snapshot.mode", "no_data")],
    );
    cfg["config"]["connector.class"] = json!(class);
    // A Debezium key Sluice accepts without acting on it yet, and a key
    // nobody knows: each is accepted with one warning that names it.
    cfg["config"]["snapshot.fetch.size"] = json!("1000");
    cfg["config"]["database.no.such.option"] = json!("1");
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let log = s.log_text();
    let warned = |k: &str, what: &str| {
        log.lines()
            .filter(|l| {
                l.contains("WARN") && l.contains(&format!("config key {k} ")) && l.contains(what)
            })
            .count()
    };
    assert_eq!(
        warned("snapshot.fetch.size", "not supported by Sluice yet"),
        1,
        "{log}"
    );
    assert_eq!(
        warned("database.no.such.option", "is not known"),
        1,
        "{log}"
    );
    s.wait_committed_offset(&name, Duration::from_secs(60));
    mariadb(&format!(
        "INSERT INTO {db}.customers VALUES (1004, 'Anne', 'Kretchmar', 'annek@noanswer.org');
         UPDATE {db}.customers SET first_name = 'Anne Marie' WHERE id = 1004;
         DELETE FROM {db}.customers WHERE id = 1004;"
    ));
    let topic = format!("{prefix}.{db}.customers");
    let mut reader = TopicReader::new(&bootstrap, &topic);
    reader.read_until("c, u, d and the tombstone", Duration::from_secs(60), |r| {
        r.len() >= 4
    });
    assert_eq!(
        reader.records.len(),
        4,
        "c, u, d, tombstone and nothing else"
    );

    let table = format!("{prefix}.{db}.customers");
    let key_schema = json!({"type": "struct", "fields": [field("int32", "id", false)],
                            "optional": false, "name": format!("{table}.Key")});
    let image = |f: &str| {
        json!({"type": "struct", "fields": row_fields(), "optional": true,
               "name": format!("{table}.Value"), "field": f})
    };
    let value_schema = json!({
        "type": "struct",
        "fields": [
            image("before"),
            image("after"),
            {"type": "struct", "fields": source_fields(), "optional": false,
             "name": source_schema, "version": 1, "field": "source"},
            {"type": "struct", "fields": [field("string", "id", false),
                                          field("int64", "total_order", false),
                                          field("int64", "data_collection_order", false)],
             "optional": true, "name": "event.block", "version": 1, "field": "transaction"},
            field("string", "op", false),
            field("int64", "ts_ms", true),
            field("int64", "ts_us", true),
            field("int64", "ts_ns", true),
        ],
        "optional": false,
        "name": format!("{table}.Envelope"),
        // Debezium 3.x (the parity suite's oracle) says 2.
        "version": 2
    });
    let anne = |first: &str| {
        json!({"id": 1004, "first_name": first, "last_name": "Kretchmar",
               "email": "annek@noanswer.org"})
    };
    let expected = [
        ("c", Value::Null, anne("Anne")),
        ("u", anne("Anne"), anne("Anne Marie")),
        ("d", anne("Anne Marie"), Value::Null),
    ];
    for (i, (op, before, after)) in expected.iter().enumerate() {
        let rec = &reader.records[i];
        let key: Value = serde_json::from_slice(rec.key.as_deref().unwrap()).unwrap();
        assert_eq!(
            key,
            json!({"schema": key_schema, "payload": {"id": 1004}}),
            "key of {op}"
        );
        let value: Value = serde_json::from_slice(rec.value.as_deref().unwrap()).unwrap();
        assert_eq!(value["schema"], value_schema, "value schema of {op}");
        // Debezium 3.x's context headers (extended.headers.enabled=true).
        let header = |k: &str| {
            rec.headers
                .iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.as_deref())
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(
            header("__debezium.context.connectorLogicalName").as_deref(),
            Some(prefix.as_str())
        );
        assert_eq!(
            header("__debezium.context.connectorName").as_deref(),
            Some(connector)
        );
        assert_eq!(header("__debezium.context.taskId").as_deref(), Some("0"));
        let run = header("__debezium.context.runId").unwrap_or_default();
        assert!(run.len() == 36 && run.as_bytes()[14] == b'7', "runId {run}");
        let p = &value["payload"];
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "before",
                "after",
                "source",
                "transaction",
                "op",
                "ts_ms",
                "ts_us",
                "ts_ns"
            ],
            "payload fields of {op}"
        );
        assert_eq!(p["op"], *op);
        assert_eq!(p["before"], *before, "before of {op}");
        assert_eq!(p["after"], *after, "after of {op}");
        assert_eq!(
            p["transaction"],
            Value::Null,
            "no transaction metadata by default"
        );
        let src = &p["source"];
        assert_eq!(src["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(src["connector"], connector);
        assert_eq!(src["name"], prefix.as_str());
        assert_eq!(src["snapshot"], "false");
        assert_eq!(src["db"], db.as_str());
        assert_eq!(src["table"], "customers");
        assert_eq!(src["server_id"], 1, "the server's own server_id");
        assert_eq!(src["sequence"], Value::Null);
        assert_eq!(src["query"], Value::Null, "include.query is off by default");
        assert!(
            src["file"].as_str().unwrap().starts_with("mariadb-bin."),
            "{src}"
        );
        assert!(src["pos"].as_i64().unwrap() > 4, "{src}");
        assert_eq!(src["row"], 0, "the first row of its binlog event");
        // MySQL names the writer's thread (its BEGIN query event); a
        // MariaDB GTID transaction has no BEGIN event, so no thread id.
        assert!(
            src["thread"].is_null() || src["thread"].as_i64().unwrap() > 0,
            "{src}"
        );
        let gtid = src["gtid"].as_str().unwrap();
        assert!(
            gtid.split('-').count() == 3,
            "MariaDB domain-server-sequence: {gtid}"
        );
        // Event time (binlog, whole seconds) and processing time.
        let ts = src["ts_ms"].as_i64().unwrap();
        assert_eq!(ts % 1000, 0, "the binlog's timestamps are whole seconds");
        assert_eq!(src["ts_us"].as_i64(), Some(ts * 1000));
        assert_eq!(src["ts_ns"].as_i64(), Some(ts * 1_000_000));
        let now = p["ts_ms"].as_i64().unwrap();
        assert!(
            now >= ts && now - ts < 120_000,
            "ts_ms {now} vs source.ts_ms {ts}"
        );
        assert_eq!(p["ts_us"].as_i64().unwrap() / 1000, now);
        assert_eq!(
            p["ts_ns"].as_i64().unwrap() / 1000,
            p["ts_us"].as_i64().unwrap()
        );
    }
    // The delete's tombstone: the same key, a null value.
    let tomb = &reader.records[3];
    assert_eq!(tomb.key, reader.records[2].key);
    assert_eq!(tomb.value, None, "a tombstone has a null value");
    let status = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}

#[test]
fn mysql_connector_events_match_debeziums_documented_envelope() {
    check_envelope(
        "io.debezium.connector.mysql.MySqlConnector",
        "mysql",
        "io.debezium.connector.mysql.Source",
    );
}

#[test]
fn mariadb_connector_events_match_debeziums_documented_envelope() {
    check_envelope("mariadb", "mariadb", "io.debezium.connector.mariadb.Source");
}
