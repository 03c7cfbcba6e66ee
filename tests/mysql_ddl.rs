//! DDL mid-stream, and a binlog purged past the saved offset: real
//! `sluice standalone`, private MariaDB, events read back from the broker.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

fn db_name(tag: &str) -> String {
    format!("sl_{}", unique(tag).replace('-', "_"))
}

fn field_names(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The purge test needs no other replica reading old binlog files: the
/// tests of this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn alter_table_mid_stream_changes_columns_between_events() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bootstrap = kafka_bootstrap();
    let db = db_name("ddl");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(10)); INSERT INTO {db}.t VALUES (1, 'seed');"
    ));
    let dir = TempDir::new("mysql-ddl");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-ddl");
    let prefix = unique("md");
    let cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("h.jsonl"), &[]);
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    reader.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    mariadb(&format!(
        "INSERT INTO {db}.t VALUES (2, 'before');
         ALTER TABLE {db}.t ADD COLUMN b INT NOT NULL DEFAULT 7;
         INSERT INTO {db}.t VALUES (3, 'added', 8);
         ALTER TABLE {db}.t RENAME COLUMN a TO a2;
         INSERT INTO {db}.t VALUES (4, 'renamed', 9);
         ALTER TABLE {db}.t DROP COLUMN b, MODIFY a2 VARCHAR(20) NOT NULL;
         INSERT INTO {db}.t VALUES (5, 'dropped');
         TRUNCATE TABLE {db}.t;
         CREATE TABLE {db}.t2 (k INT PRIMARY KEY); INSERT INTO {db}.t2 VALUES (1);
         RENAME TABLE {db}.t2 TO {db}.t3; INSERT INTO {db}.t3 VALUES (2);
         ALTER TABLE {db}.t3 RENAME TO {db}.t4; INSERT INTO {db}.t4 VALUES (3);
         DROP TABLE {db}.t4;"
    ));
    reader.read_until("rows 2..5", Duration::from_secs(60), |r| r.len() >= 5);
    let after: Vec<&Value> = reader.parsed.iter().map(|(_, v)| &v["after"]).collect();
    assert_eq!(field_names(after[1]), ["id", "a"]);
    assert_eq!(after[1]["a"], "before");
    assert_eq!(field_names(after[2]), ["id", "a", "b"]);
    assert_eq!(after[2]["b"], 8);
    assert_eq!(field_names(after[3]), ["id", "a2", "b"]);
    assert_eq!(after[3]["a2"], "renamed");
    assert_eq!(field_names(after[4]), ["id", "a2"]);
    // The value schema of each event says the same.
    let schema_of = |i: usize| -> Vec<String> {
        let v: Value = serde_json::from_slice(reader.records[i].value.as_ref().unwrap()).unwrap();
        v["schema"]["fields"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(schema_of(2), ["id", "a", "b"]);
    assert_eq!(schema_of(4), ["id", "a2"]);
    // MODIFY a2 ... NOT NULL: the column is required from then on.
    let optional = |i: usize, f: &str| -> Value {
        let v: Value = serde_json::from_slice(reader.records[i].value.as_ref().unwrap()).unwrap();
        v["schema"]["fields"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["field"] == f)
            .unwrap()["optional"]
            .clone()
    };
    assert_eq!(optional(3, "a2"), true);
    assert_eq!(optional(4, "a2"), false);

    let mut t3 = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t3"));
    t3.read_until("the renamed table's insert", Duration::from_secs(60), |r| {
        !r.is_empty()
    });
    assert_eq!(t3.parsed[0].1["after"]["k"], 2);
    // ALTER TABLE ... RENAME TO: the rows after it go to the new table's topic.
    let mut t4 = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t4"));
    t4.read_until(
        "the insert after ALTER TABLE RENAME TO",
        Duration::from_secs(60),
        |r| !r.is_empty(),
    );
    assert_eq!(t4.parsed[0].1["after"]["k"], 3);

    // Schema change events on the topic named by topic.prefix.
    let mut changes = TopicReader::new(&bootstrap, &prefix);
    changes.read_until("the DDL events", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| {
            v["ddl"]
                .as_str()
                .is_some_and(|d| d.starts_with("DROP TABLE"))
        })
    });
    let drop = changes
        .parsed
        .iter()
        .find(|(_, v)| {
            v["ddl"]
                .as_str()
                .is_some_and(|d| d.starts_with("DROP TABLE"))
        })
        .unwrap();
    assert_eq!(drop.1["tableChanges"][0]["type"], "DROP", "{}", drop.1);
    assert_eq!(drop.1["tableChanges"][0]["id"], format!("\"{db}\".\"t4\""));
    let ddls: Vec<&str> = changes
        .parsed
        .iter()
        .filter_map(|(_, v)| v["ddl"].as_str())
        .collect();
    assert!(ddls.iter().any(|d| d.contains("ADD COLUMN b")), "{ddls:?}");
    let add = changes
        .parsed
        .iter()
        .find(|(_, v)| {
            v["ddl"]
                .as_str()
                .is_some_and(|d| d.contains("ADD COLUMN b"))
        })
        .unwrap();
    assert_eq!(add.0["databaseName"], db.as_str());
    assert_eq!(add.1["databaseName"], db.as_str());
    assert_eq!(add.1["tableChanges"][0]["type"], "ALTER");
    let cols: Vec<&str> = add.1["tableChanges"][0]["table"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    // tableChanges describe the table as information_schema shows it when
    // the DDL is read (here possibly after later DDL already ran).
    assert_eq!(cols.first(), Some(&"id"), "{cols:?}");
    assert_eq!(add.1["source"]["connector"], "mysql");

    // The history file records each table version.
    let history = std::fs::read_to_string(dir.path().join("h.jsonl")).unwrap();
    assert!(history.lines().count() >= 4, "{history}");
    let status = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}

#[test]
fn purged_binlog_fails_the_task_with_the_remedy() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bootstrap = kafka_bootstrap();
    let db = db_name("purge");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY); INSERT INTO {db}.t VALUES (1);"
    ));
    let dir = TempDir::new("mysql-purge");
    let mut s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-purge");
    let prefix = unique("mp");
    let cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("h.jsonl"), &[]);
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    mariadb(&format!("INSERT INTO {db}.t VALUES (2);"));
    reader.read_until("snapshot and one insert", Duration::from_secs(60), |r| {
        r.len() >= 2
    });
    // Let the offset reach the file, then stop the worker and purge past it.
    wait_for("a committed offset", Duration::from_secs(30), || {
        std::fs::read_to_string(dir.path().join("connect.offsets"))
            .ok()
            .filter(|t| t.contains(&prefix))
    });
    s.kill9();
    // Transactions after the saved position (not captured), which the
    // purge takes away: with none, the saved GTID position would still be
    // where the oldest remaining file starts, and the resume, positioned by
    // GTID as Debezium's, would lose nothing and not fail.
    mariadb(&format!(
        "CREATE DATABASE {db}_gap; DROP DATABASE {db}_gap;"
    ));
    mariadb("FLUSH BINARY LOGS; FLUSH BINARY LOGS;");
    let current = mariadb("SHOW MASTER STATUS");
    let file = current.split('\t').next().unwrap().trim().to_string();
    // A file another replica still reads is kept by the server: retry
    // until the saved file is gone.
    let saved = std::fs::read_to_string(dir.path().join("connect.offsets")).unwrap();
    wait_for(
        "the saved binlog file to be purged",
        Duration::from_secs(120),
        || {
            // A killed worker's dump thread keeps its file in use until the
            // server notices; end the replica connections (no other test
            // of this binary runs now; other binaries run after this one).
            for id in mariadb(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'",
            )
            .lines()
            {
                mariadb_try(&format!("KILL {}", id.trim()));
            }
            mariadb(&format!("PURGE BINARY LOGS TO '{file}'"));
            let logs = mariadb("SHOW BINARY LOGS");
            logs.lines()
                .filter_map(|l| l.split('\t').next())
                .all(|f| !saved.contains(&format!("\"{f}\"")))
                .then_some(())
        },
    );
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    let st = s.wait_status(&name, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("purged") && trace.contains("snapshot.mode=when_needed"),
        "{trace}"
    );
    // The remedy the trace names: snapshot.mode=when_needed takes a new
    // snapshot (every row as "r" again) and streams on from its position.
    mariadb(&format!("INSERT INTO {db}.t VALUES (3);"));
    let mut config = cfg["config"].clone();
    config["snapshot.mode"] = Value::String("when_needed".into());
    let r = s.put(&format!("/connectors/{name}/config"), &config.to_string());
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let r = s.post(&format!("/connectors/{name}/tasks/0/restart"), "");
    assert!(r.status < 300, "{}", r.body);
    let before = reader.parsed.len();
    reader.read_until("a new snapshot", Duration::from_secs(90), |r| {
        r[before..].iter().filter(|(_, v)| v["op"] == "r").count() >= 3
    });
    mariadb(&format!("INSERT INTO {db}.t VALUES (4);"));
    reader.read_until(
        "the insert after the new snapshot",
        Duration::from_secs(60),
        |r| {
            r[before..]
                .iter()
                .any(|(_, v)| v["op"] == "c" && v["after"]["id"] == 4)
        },
    );
    let mut snapshot_ids: Vec<i64> = reader.parsed[before..]
        .iter()
        .filter(|(_, v)| v["op"] == "r")
        .filter_map(|(_, v)| v["after"]["id"].as_i64())
        .collect();
    snapshot_ids.sort();
    assert_eq!(
        snapshot_ids,
        [1, 2, 3],
        "the new snapshot holds the table as it is"
    );
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
}

/// Runs SQL and ignores failure (a connection that ended meanwhile).
fn mariadb_try(sql: &str) {
    let _ = std::panic::catch_unwind(|| mariadb(sql));
}

/// The schema type of one `after` field of a JSON-converter record.
fn after_field_schema_type(r: &Record, field: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(r.value.as_ref()?).ok()?;
    v["schema"]["fields"][1]["fields"]
        .as_array()?
        .iter()
        .find(|f| f["field"] == field)
        .map(|f| f["type"].as_str().unwrap_or("").to_string())
}

#[test]
fn kafka_schema_history_survives_a_kill_and_a_missing_one_needs_recovery() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bootstrap = kafka_bootstrap();
    let db = db_name("khist");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(10)); INSERT INTO {db}.t VALUES (1, 'seed');"
    ));
    let dir = TempDir::new("mysql-khist");
    let mut s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-khist");
    let prefix = unique("mk");
    let history_topic = unique("dbhistory");
    // Debezium's defaults: KafkaSchemaHistory with a topic; no file.
    let mut cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("unused"), &[]);
    let c = cfg["config"].as_object_mut().unwrap();
    c.remove("schema.history.internal.file.filename");
    c.insert(
        "schema.history.internal.kafka.topic".into(),
        history_topic.clone().into(),
    );
    c.insert(
        "schema.history.internal.kafka.bootstrap.servers".into(),
        bootstrap.clone().into(),
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let topic = format!("{prefix}.{db}.t");
    let mut reader = TopicReader::new(&bootstrap, &topic);
    reader.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());

    // A FLOAT(M,D) column (Debezium's double): only the schema, not the
    // binlog (FLOAT either way), says it is not a plain FLOAT.
    mariadb(&format!(
        "ALTER TABLE {db}.t ADD COLUMN j FLOAT(7,2); INSERT INTO {db}.t VALUES (2, 'x', 1.5);"
    ));
    reader.read_until("row 2", Duration::from_secs(60), |r| r.len() >= 2);
    assert_eq!(
        after_field_schema_type(&reader.records[1], "j").as_deref(),
        Some("double")
    );
    // Kill the worker once its offset file holds a completed snapshot
    // (and maybe row 2): the restart reads the ADD COLUMN again, or not.
    wait_for("the offset file", Duration::from_secs(30), || {
        std::fs::read_to_string(dir.path().join("connect.offsets"))
            .ok()
            .filter(|t| t.contains(&prefix) && !t.contains("\"snapshot\""))
    });
    s.kill9();

    // While it is down: a FLOAT(M,D) row, then the column becomes FLOAT.
    mariadb(&format!(
        "INSERT INTO {db}.t VALUES (3, 'y', 2.5);
         ALTER TABLE {db}.t MODIFY j FLOAT;
         INSERT INTO {db}.t VALUES (4, 'z', 3.5);"
    ));
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    reader.read_until("rows 3 and 4", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["after"]["id"] == 4)
    });
    let at = |id: i64| {
        reader
            .parsed
            .iter()
            .position(|(_, v)| v["after"]["id"] == id && v["op"] == "c")
            .unwrap()
    };
    // Row 3 was written before the MODIFY: the history from the topic
    // (not the current schema) says FLOAT(7,2), a double; row 4 is a float.
    assert_eq!(
        after_field_schema_type(&reader.records[at(3)], "j").as_deref(),
        Some("double")
    );
    assert_eq!(
        after_field_schema_type(&reader.records[at(4)], "j").as_deref(),
        Some("float")
    );
    assert_eq!(reader.parsed[at(4)].1["after"]["j"], 3.5);

    // The topic holds Debezium's history records.
    let mut history = TopicReader::new(&bootstrap, &history_topic);
    history.read_until("the history records", Duration::from_secs(30), |r| {
        r.iter()
            .any(|(_, v)| v["ddl"].as_str().is_some_and(|d| d.contains("MODIFY j")))
    });
    assert!(history.records.iter().all(|r| r.partition == 0));
    // The first CREATE TABLE of the captured table (other DDL may come first).
    let (_, create) = history
        .parsed
        .iter()
        .find(|(_, v)| {
            v["ddl"]
                .as_str()
                .is_some_and(|d| d.starts_with("CREATE TABLE"))
                && v["databaseName"] == db.as_str()
        })
        .unwrap_or_else(|| {
            panic!(
                "no CREATE TABLE in the history: {:?}",
                history
                    .parsed
                    .iter()
                    .map(|(_, v)| v["ddl"].clone())
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(create["source"]["server"], prefix.as_str());
    assert!(create["position"]["file"].is_string() && create["position"]["pos"].is_u64());
    assert_eq!(create["databaseName"], db.as_str());
    assert!(create["ddl"].as_str().unwrap().starts_with("CREATE TABLE"));
    assert_eq!(create["tableChanges"][0]["type"], "CREATE");
    assert_eq!(
        create["tableChanges"][0]["id"],
        format!("\"{db}\".\"t\"").as_str()
    );
    assert_eq!(
        create["tableChanges"][0]["table"]["primaryKeyColumnNames"],
        serde_json::json!(["id"])
    );
    let add = history
        .parsed
        .iter()
        .find(|(_, v)| {
            v["ddl"]
                .as_str()
                .is_some_and(|d| d.contains("ADD COLUMN j"))
        })
        .map(|(_, v)| v)
        .unwrap();
    assert_eq!(add["tableChanges"][0]["type"], "ALTER");
    let cols: Vec<&str> = add["tableChanges"][0]["table"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["id", "a", "j"]);

    // The history is kept for ever, as Debezium creates its topic:
    // time-based retention off (Long.MAX_VALUE) and nothing deleted yet.
    let held = history.records.len() as i64;
    let (low, high) = watermarks(&bootstrap, &history_topic, 0);
    assert!(
        low == 0 && high >= held,
        "watermarks {low}..{high}, {held} read"
    );
    let tc = topic_config(&bootstrap, &history_topic);
    assert_eq!(
        tc.get("retention.ms").map(String::as_str),
        Some("9223372036854775807"),
        "{tc:?}"
    );
    assert_eq!(
        tc.get("cleanup.policy").map(String::as_str),
        Some("delete"),
        "{tc:?}"
    );

    // A lost history (here: a new, empty topic) while the connector has
    // offsets fails the task naming the recovery, as Debezium's does: the
    // definitions at the offset are not known.
    let mut c2 = cfg["config"].clone();
    c2["schema.history.internal.kafka.topic"] = unique("dbhistory-new").into();
    assert_eq!(
        s.put(&format!("/connectors/{name}/config"), &c2.to_string())
            .status,
        200
    );
    let st = s.wait_status(&name, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("schema history") && trace.contains("snapshot.mode=recovery"),
        "{trace}"
    );
    // With the recovery asked for, it is rebuilt at the offset and the
    // stream goes on.
    c2["snapshot.mode"] = "recovery".into();
    assert_eq!(
        s.put(&format!("/connectors/{name}/config"), &c2.to_string())
            .status,
        200
    );
    mariadb(&format!("INSERT INTO {db}.t VALUES (5, 'after', 4.5);"));
    reader.read_until("row 5", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["after"]["id"] == 5)
    });
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
}

/// snapshot.mode=recovery on a connector with a stored offset: no new
/// snapshot, the schema history gains every captured table's current
/// definition at the offset's position (Debezium's recovery of a lost or
/// damaged history), and streaming resumes from the offset with nothing
/// lost.
#[test]
fn recovery_mode_rebuilds_the_history_at_the_offset_and_resumes_there() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bootstrap = kafka_bootstrap();
    let db = db_name("recov");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(10)); INSERT INTO {db}.t VALUES (1, 'one');"
    ));
    let dir = TempDir::new("mysql-recovery");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-recovery");
    let prefix = unique("mrc");
    let history = dir.path().join("h.jsonl");
    let cfg = mysql_connector_config(&name, &prefix, &db, &history, &[]);
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    reader.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    mariadb(&format!("INSERT INTO {db}.t VALUES (2, 'two');"));
    reader.read_until("one insert", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["op"] == "c")
    });
    // The offset once the insert is committed (nothing else is written to
    // the captured database meanwhile): where the recovery resumes.
    let offset = || {
        let v = s.get(&format!("/connectors/{name}/offsets")).json();
        v["offsets"][0]["offset"].clone()
    };
    let saved = wait_for(
        "the insert's committed offset",
        Duration::from_secs(30),
        || {
            let o = offset();
            (o["file"].is_string() && o["snapshot"].is_null() && o["pos"].as_u64() > Some(4))
                .then_some(o)
        },
    );
    let entries_before = std::fs::read_to_string(&history).unwrap().lines().count();
    let mut recovery = cfg["config"].clone();
    recovery["snapshot.mode"] = Value::String("recovery".into());
    let r = s.put(&format!("/connectors/{name}/config"), &recovery.to_string());
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let rebuilt = wait_for("the rebuilt history", Duration::from_secs(60), || {
        let text = std::fs::read_to_string(&history).ok()?;
        let new: Vec<Value> = text
            .lines()
            .skip(entries_before)
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (!new.is_empty()).then_some(new)
    });
    assert!(
        rebuilt.iter().any(|e| e["databaseName"] == db.as_str()
            && e["position"]["file"] == saved["file"]
            && e["position"]["pos"] == saved["pos"]
            && e["tableChanges"][0]["table"]["columns"][1]["name"] == "a"),
        "no history entry for {db} at the stored offset {saved}: {rebuilt:?}"
    );
    mariadb(&format!("INSERT INTO {db}.t VALUES (3, 'three');"));
    reader.read_until(
        "the insert after the recovery",
        Duration::from_secs(60),
        |r| r.iter().any(|(_, v)| v["after"]["id"] == 3),
    );
    let ops: Vec<(String, i64)> = reader
        .parsed
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(_, v)| {
            (
                v["op"].as_str().unwrap().to_string(),
                v["after"]["id"].as_i64().unwrap(),
            )
        })
        .collect();
    // One snapshot only, and the stream goes on from the offset.
    assert_eq!(
        ops,
        [("r".into(), 1), ("c".into(), 2), ("c".into(), 3)],
        "{ops:?}"
    );
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
}
