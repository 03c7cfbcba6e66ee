//! include.query: each streamed change carries the SQL statement that made
//! it in `source.query` (from MariaDB's ANNOTATE_ROWS events), snapshot
//! events carry none, and without the option (Debezium's default) the
//! field is null. Two connectors on one table of the private MariaDB, read
//! back from the broker.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[test]
fn include_query_puts_each_changes_statement_in_source_query() {
    let bootstrap = kafka_bootstrap();
    let db = format!("sl_{}", unique("query").replace('-', "_"));
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO {db}.t VALUES (1, 'before');"
    ));
    let dir = TempDir::new("mysql-query");
    let s = Sluice::start(dir.path(), &[]);
    let mut prefixes = Vec::new();
    for (i, include) in ["true", "false"].into_iter().enumerate() {
        let name = unique("mysql-query");
        let prefix = unique("mq");
        let mut extra = vec![];
        if include == "true" {
            extra.push(("include.query", include));
        }
        let cfg = mysql_connector_config(
            &name,
            &prefix,
            &db,
            &dir.path().join(format!("h{i}.jsonl")),
            &extra,
        );
        assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
        s.wait_committed_offset(&name, Duration::from_secs(60));
        prefixes.push(prefix);
    }
    let log = s.log_text();
    assert!(
        !log.contains("config key include.query "),
        "include.query is supported: no warning\n{log}"
    );
    // One statement per change kind; a multi-row INSERT (two events, one
    // statement) and two statements in one transaction.
    let statements = [
        format!("INSERT INTO {db}.t VALUES (2, 'two'), (3, 'three')"),
        format!("UPDATE {db}.t SET v = 'one' WHERE id = 1"),
        format!("DELETE FROM {db}.t WHERE id = 3"),
        format!("INSERT INTO {db}.t VALUES (4, 'four')"),
        format!("UPDATE {db}.t SET v = 'FOUR' WHERE id = 4"),
        format!("INSERT INTO {db}.t VALUES (6, 'six')"),
        format!("UPDATE {db}.t SET v = 'SIX' WHERE id = 6"),
    ];
    // Last, a transaction whose second statement is written without its
    // text (the session stops annotating): the first statement's query
    // must not carry over to it.
    mariadb(&format!(
        "{}; {}; {}; BEGIN; {}; {}; COMMIT; BEGIN; {}; SET SESSION binlog_annotate_row_events = OFF; {}; COMMIT;",
        statements[0], statements[1], statements[2], statements[3], statements[4], statements[5], statements[6]
    ));
    // (op, id, the statement index) of every event after the snapshot's.
    let expected = [
        ("c", 2, 0),
        ("c", 3, 0),
        ("u", 1, 1),
        ("d", 3, 2),
        ("c", 4, 3),
        ("u", 4, 4),
        ("c", 6, 5),
        ("u", 6, usize::MAX), // no annotation: no query
    ];
    for (prefix, include) in prefixes.iter().zip([true, false]) {
        let topic = format!("{prefix}.{db}.t");
        let mut reader = TopicReader::new(&bootstrap, &topic);
        // The snapshot's r, eight changes, the delete's tombstone.
        reader.read_until(
            "the snapshot row, eight changes and a tombstone",
            Duration::from_secs(60),
            |r| r.len() >= 10,
        );
        let events: Vec<&Value> = reader
            .parsed
            .iter()
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
            .collect();
        assert_eq!(events.len(), 9, "{:?}", reader.parsed);
        let snapshot = events[0];
        assert_eq!(snapshot["op"], json!("r"));
        assert_eq!(
            snapshot["source"]["query"],
            Value::Null,
            "a snapshot event has no statement"
        );
        for (event, (op, id, stmt)) in events[1..].iter().zip(expected) {
            assert_eq!(event["op"], json!(op), "{event}");
            let image = if op == "d" { "before" } else { "after" };
            assert_eq!(event[image]["id"], json!(id), "{event}");
            let query = &event["source"]["query"];
            if include && stmt < statements.len() {
                assert_eq!(
                    query.as_str().map(str::trim),
                    Some(statements[stmt].as_str()),
                    "{op} of id {id}: {event}"
                );
            } else {
                assert_eq!(query, &Value::Null, "include.query=false: {event}");
            }
        }
    }

    // A server that logs no statement text: the connector starts, warns
    // once naming the variable to set, and its changes carry no query.
    // (Only this test reads source.query, and test binaries run one at a
    // time, so the global switch disturbs no other test.)
    struct AnnotateBack;
    impl Drop for AnnotateBack {
        fn drop(&mut self) {
            mariadb("SET GLOBAL binlog_annotate_row_events = ON");
        }
    }
    let _back = AnnotateBack;
    mariadb("SET GLOBAL binlog_annotate_row_events = OFF");
    let name = unique("mysql-query-off");
    let prefix = unique("mqoff");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h-off.jsonl"),
        &[("include.query", "true"), ("snapshot.mode", "no_data")],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    s.wait_committed_offset(&name, Duration::from_secs(60));
    let warning = "include.query=true, but binlog_annotate_row_events is OFF";
    let log = s.log_text();
    assert_eq!(
        log.lines().filter(|l| l.contains(warning)).count(),
        1,
        "one warning naming the variable\n{log}"
    );
    assert!(log.contains("set binlog_annotate_row_events=ON"), "{log}");
    mariadb(&format!("INSERT INTO {db}.t VALUES (5, 'five')"));
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    reader.read_until("the insert", Duration::from_secs(60), |r| !r.is_empty());
    let (_, event) = &reader.parsed[0];
    assert_eq!(event["after"]["id"], json!(5), "{event}");
    assert_eq!(event["source"]["query"], Value::Null, "{event}");
}
