//! Debezium's extra event kinds from the MySQL/MariaDB connector, through a
//! real `sluice standalone` and read back from the broker: transaction
//! metadata (BEGIN/END on `<prefix>.transaction` and each event's
//! `transaction` block), TRUNCATE as op `t`, and heartbeats that move the
//! committed offset while no captured table changes.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn db_name(tag: &str) -> String {
    format!("sl_{}", unique(tag).replace('-', "_"))
}

/// A MariaDB GTID: domain-server-sequence.
fn is_maria_gtid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3 && parts.iter().all(|p| p.parse::<u64>().is_ok())
}

#[test]
fn transaction_metadata_marks_begin_end_and_orders_every_event() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("txn");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.a (id INT PRIMARY KEY, v VARCHAR(10));
         CREATE TABLE {db}.b (id INT PRIMARY KEY, v VARCHAR(10));
         INSERT INTO {db}.a VALUES (100, 'seed');"
    ));
    let dir = TempDir::new("mysql-txn");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-txn");
    let prefix = unique("mt");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[
            ("provide.transaction.metadata", "true"),
            ("skipped.operations", "none"),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut a = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.a"));
    a.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    assert!(
        a.parsed[0].1["transaction"].is_null(),
        "snapshot events belong to no transaction: {}",
        a.parsed[0].1
    );

    // One transaction over two tables, with a primary-key change (d + c),
    // then a single-statement one, then a TRUNCATE.
    mariadb(&format!(
        "BEGIN; INSERT INTO {db}.a VALUES (1, 'x'), (2, 'y'), (3, 'z');
         INSERT INTO {db}.b VALUES (1, 'b');
         UPDATE {db}.a SET id = 10 WHERE id = 1; COMMIT;
         DELETE FROM {db}.b WHERE id = 1;
         TRUNCATE TABLE {db}.a;"
    ));

    let mut txns = TopicReader::new(&bootstrap, &format!("{prefix}.transaction"));
    txns.read_until("two BEGIN/END pairs", Duration::from_secs(60), |r| {
        r.iter().filter(|(_, v)| v["status"] == "END").count() >= 2
    });
    let t = &txns.parsed;
    assert_eq!(t.len(), 4, "{t:?}");
    let status: Vec<&str> = t
        .iter()
        .map(|(_, v)| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["BEGIN", "END", "BEGIN", "END"]);
    let id1 = t[0].1["id"].as_str().unwrap().to_string();
    let id2 = t[2].1["id"].as_str().unwrap().to_string();
    assert!(is_maria_gtid(&id1) && is_maria_gtid(&id2), "{id1} {id2}");
    assert_ne!(id1, id2);
    for (k, v) in t {
        assert_eq!(k["id"], v["id"], "the key is the transaction id");
        assert!(v["ts_ms"].as_i64().unwrap() > 1_600_000_000_000);
    }
    assert!(t[0].1["event_count"].is_null() && t[0].1["data_collections"].is_null());
    assert_eq!(t[1].1["id"], id1.as_str());
    // 3 inserts + 1 insert + the key change as delete and create.
    assert_eq!(t[1].1["event_count"], 6);
    let per: BTreeMap<String, i64> = t[1].1["data_collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["data_collection"].as_str().unwrap().to_string(),
                c["event_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per,
        BTreeMap::from([(format!("{db}.a"), 5), (format!("{db}.b"), 1)])
    );
    assert_eq!(t[3].1["event_count"], 1);
    assert_eq!(
        t[3].1["data_collections"][0]["data_collection"],
        format!("{db}.b").as_str()
    );

    // Each change event's transaction block, and its GTID in source.
    a.read_until("the streamed events of a", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["op"] == "t")
    });
    let mut b = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.b"));
    b.read_until("the events of b", Duration::from_secs(60), |r| {
        r.iter().filter(|(_, v)| !v.is_null()).count() >= 2
    });
    let changes = |r: &TopicReader| -> Vec<Value> {
        r.parsed
            .iter()
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_null() && v["op"] != "r" && v["op"] != "t")
            .collect()
    };
    let (ca, cb) = (changes(&a), changes(&b));
    let ops: Vec<&str> = ca.iter().map(|v| v["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["c", "c", "c", "d", "c"]);
    for (i, v) in ca.iter().enumerate() {
        assert_eq!(v["transaction"]["id"], id1.as_str(), "{v}");
        assert_eq!(v["source"]["gtid"], id1.as_str(), "{v}");
        assert_eq!(v["transaction"]["data_collection_order"], i as i64 + 1);
    }
    let total: Vec<i64> = ca
        .iter()
        .map(|v| v["transaction"]["total_order"].as_i64().unwrap())
        .collect();
    // Row order in the binlog: a1 a2 a3 (1-3), b1 (4), a: d + c (5, 6).
    assert_eq!(total, [1, 2, 3, 5, 6]);
    assert_eq!(cb[0]["transaction"]["total_order"], 4);
    assert_eq!(cb[0]["transaction"]["data_collection_order"], 1);
    assert_eq!(cb[1]["op"], "d");
    assert_eq!(cb[1]["transaction"]["id"], id2.as_str());
    assert_eq!(cb[1]["transaction"]["total_order"], 1);

    // TRUNCATE: op t, no key, no row images (Debezium's truncate event).
    let (tk, tv) = a
        .parsed
        .iter()
        .find(|(_, v)| v["op"] == "t")
        .cloned()
        .unwrap();
    let rec = &a.records[a.parsed.iter().position(|(_, v)| v["op"] == "t").unwrap()];
    assert!(
        rec.key.is_none() || tk.is_null(),
        "a truncate event has no key"
    );
    assert!(tv["before"].is_null() && tv["after"].is_null(), "{tv}");
    assert_eq!(tv["source"]["table"], "a");
    assert_eq!(tv["source"]["db"], db.as_str());
    assert!(tv["ts_ms"].as_i64().is_some());
    let status = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}

#[test]
fn truncate_is_skipped_by_default() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("trunc");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.a (id INT PRIMARY KEY); INSERT INTO {db}.a VALUES (1);"
    ));
    let dir = TempDir::new("mysql-trunc");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-trunc");
    let prefix = unique("mtr");
    let cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("h.jsonl"), &[]);
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut a = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.a"));
    a.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    mariadb(&format!(
        "TRUNCATE TABLE {db}.a; INSERT INTO {db}.a VALUES (2);"
    ));
    a.read_until(
        "the insert after the truncate",
        Duration::from_secs(60),
        |r| r.iter().any(|(_, v)| v["op"] == "c"),
    );
    let ops: Vec<&str> = a
        .parsed
        .iter()
        .map(|(_, v)| v["op"].as_str().unwrap_or("tombstone"))
        .collect();
    assert_eq!(ops, ["r", "c"], "skipped.operations defaults to t");
}

#[test]
fn heartbeats_move_the_offset_while_captured_tables_are_idle() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("hb");
    let other = db_name("hbother");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY); INSERT INTO {db}.t VALUES (1);
         CREATE DATABASE {other}; CREATE TABLE {other}.t (id INT PRIMARY KEY);"
    ));
    let dir = TempDir::new("mysql-hb");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-hb");
    let prefix = unique("mh");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[("heartbeat.interval.ms", "300")],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut t = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    t.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());

    // Traffic the connector does not capture, then the binlog position
    // after it: the committed offset must get there through heartbeats.
    for i in 0..20 {
        mariadb(&format!("INSERT INTO {other}.t VALUES ({i})"));
    }
    let status = mariadb("SHOW MASTER STATUS");
    let f: Vec<&str> = status.split('\t').collect();
    let (file, pos): (String, u64) = (f[0].to_string(), f[1].trim().parse().unwrap());

    let mut hb = TopicReader::new(&bootstrap, &format!("__debezium-heartbeat.{prefix}"));
    hb.read_until("heartbeats", Duration::from_secs(60), |r| r.len() >= 3);
    for (k, v) in &hb.parsed {
        assert_eq!(k, &serde_json::json!({"serverName": prefix}));
        assert!(v["ts_ms"].as_i64().unwrap() > 1_600_000_000_000, "{v}");
    }
    let offset = wait_for(
        "the committed offset to pass the uncaptured writes",
        Duration::from_secs(60),
        || {
            let r = s.get(&format!("/connectors/{name}/offsets"));
            let o = r.json()["offsets"][0]["offset"].clone();
            let at_or_after = o["file"].as_str().is_some_and(|f| f > file.as_str())
                || (o["file"] == file.as_str() && o["pos"].as_u64().unwrap_or(0) >= pos);
            at_or_after.then_some(o)
        },
    );
    // Between transactions: no `event`/`row` (Debezium leaves zero
    // counters out of its offsets).
    assert!(
        offset.get("event").is_none() && offset.get("row").is_none(),
        "{offset}"
    );
    // No change event came from the other database.
    assert_eq!(t.parsed.len(), 1);
}

/// The source offset the worker last wrote to its file for `prefix`:
/// (event, row) inside the current transaction.
fn saved_counters(dir: &std::path::Path, prefix: &str) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(dir.join("connect.offsets")).ok()?;
    if !text.contains(prefix) {
        return None;
    }
    let num = |key: &str| -> Option<u64> {
        let i = text.find(&format!("\"{key}\":"))? + key.len() + 3;
        let digits: String = text[i..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some((num("event")?, num("row")?))
}

#[test]
fn transaction_counters_continue_after_a_kill_inside_the_transaction() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("txnkill");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(40));
         INSERT INTO {db}.t VALUES (1000000, 'seed');"
    ));
    let dir = TempDir::new("mysql-txnkill");
    // Offsets flushed every 20 ms, so that one is saved while the
    // transaction's records are still being delivered (a real broker acks a
    // 30,000-row transaction within a 1 s interval).
    let mut s = Sluice::start(dir.path(), &[("offset.flush.interval.ms", "20")]);
    let name = unique("mysql-txnkill");
    let prefix = unique("mtk");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[("provide.transaction.metadata", "true")],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut t = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    t.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());

    // One transaction of 100,000 rows (many row events); kill the worker
    // once its saved offset is inside it.
    const N: i64 = 100_000;
    mariadb(&format!(
        "INSERT INTO {db}.t SELECT seq, CONCAT('row-', seq) FROM {db}.seq_1_to_{N};"
    ));
    let (event, row) = wait_for(
        "an offset saved inside the transaction",
        Duration::from_secs(120),
        || saved_counters(dir.path(), &prefix).filter(|(e, r)| *e > 0 || *r > 0),
    );
    s.kill9();
    eprintln!("killed with the offset at event {event}, row {row}");
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());

    let mut txns = TopicReader::new(&bootstrap, &format!("{prefix}.transaction"));
    txns.read_until(
        "the END of the transaction",
        Duration::from_secs(240),
        |r| r.iter().any(|(_, v)| v["status"] == "END"),
    );
    let id = txns.parsed[0].1["id"].as_str().unwrap().to_string();
    assert!(txns.parsed.iter().all(|(_, v)| v["id"] == id.as_str()));
    // The restart resumed inside the transaction: no second BEGIN.
    let begins = txns
        .parsed
        .iter()
        .filter(|(_, v)| v["status"] == "BEGIN")
        .count();
    assert_eq!(begins, 1, "{:?}", txns.parsed);
    for (_, v) in txns.parsed.iter().filter(|(_, v)| v["status"] == "END") {
        assert_eq!(v["event_count"], N, "{v}");
        assert_eq!(v["data_collections"][0]["event_count"], N, "{v}");
    }
    // Every row arrived, and each event's order is its row's place in the
    // transaction (rows are written in id order), before and after the kill.
    t.read_until("all rows", Duration::from_secs(240), |r| {
        let ids: std::collections::HashSet<i64> = r
            .iter()
            .filter(|(_, v)| v["op"] == "c")
            .map(|(_, v)| v["after"]["id"].as_i64().unwrap())
            .collect();
        ids.len() as i64 == N
    });
    for (_, v) in t.parsed.iter().filter(|(_, v)| v["op"] == "c") {
        let tx = &v["transaction"];
        assert_eq!(tx["id"], id.as_str());
        assert_eq!(tx["total_order"], v["after"]["id"], "{v}");
        assert_eq!(tx["data_collection_order"], v["after"]["id"], "{v}");
    }
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
}

#[test]
fn a_savepoint_does_not_end_its_transaction() {
    // MariaDB writes no BEGIN event: the transaction is known from its
    // GTID event's flags, so a SAVEPOINT query inside it is neither a DDL
    // nor its end (it used to split the transaction in two).
    let bootstrap = kafka_bootstrap();
    let db = db_name("savept");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.a (id INT PRIMARY KEY);"
    ));
    let dir = TempDir::new("mysql-savepoint");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-savepoint");
    let prefix = unique("msp");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[
            ("provide.transaction.metadata", "true"),
            ("snapshot.mode", "no_data"),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    s.wait_committed_offset(&name, Duration::from_secs(60));
    mariadb(&format!(
        "BEGIN; INSERT INTO {db}.a VALUES (1); SAVEPOINT s1; INSERT INTO {db}.a VALUES (2);
         SAVEPOINT s2; INSERT INTO {db}.a VALUES (3); ROLLBACK TO SAVEPOINT s2; COMMIT;"
    ));
    let mut txns = TopicReader::new(&bootstrap, &format!("{prefix}.transaction"));
    txns.read_until("the END", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["status"] == "END")
    });
    let status: Vec<&str> = txns
        .parsed
        .iter()
        .map(|(_, v)| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["BEGIN", "END"], "{:?}", txns.parsed);
    assert_eq!(txns.parsed[1].1["event_count"], 2, "{:?}", txns.parsed[1]);
    let mut rows = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.a"));
    rows.read_until("both rows", Duration::from_secs(60), |r| r.len() >= 2);
    let id = &txns.parsed[0].1["id"];
    for (_, v) in &rows.parsed {
        assert_eq!(&v["transaction"]["id"], id, "{v}");
    }
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
}

/// topic.delimiter, topic.transaction and topic.heartbeat.prefix name the
/// data, transaction and heartbeat topics as Debezium 2+ does; an unknown
/// topic.naming.strategy is refused at creation.
#[test]
fn topic_naming_keys_name_every_topic() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("tn");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY); INSERT INTO {db}.t VALUES (1);"
    ));
    let dir = TempDir::new("mysql-topic-names");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-tn");
    let prefix = unique("tn").replace('-', "_");
    let hb_prefix = unique("hb");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[
            ("topic.delimiter", "_"),
            ("topic.transaction", "txn"),
            ("topic.heartbeat.prefix", &hb_prefix),
            ("provide.transaction.metadata", "true"),
            ("heartbeat.interval.ms", "300"),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut t = TopicReader::new(&bootstrap, &format!("{prefix}_{db}_t"));
    t.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    mariadb(&format!("INSERT INTO {db}.t VALUES (2)"));
    t.read_until("the insert", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["after"]["id"] == 2)
    });
    let mut tx = TopicReader::new(&bootstrap, &format!("{prefix}_txn"));
    tx.read_until("BEGIN and END", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["status"] == "END")
    });
    let mut hb = TopicReader::new(&bootstrap, &format!("{hb_prefix}_{prefix}"));
    hb.read_until("a heartbeat", Duration::from_secs(60), |r| !r.is_empty());

    let mut bad = mysql_connector_config(
        &unique("mysql-tn-bad"),
        &unique("tnb"),
        &db,
        &dir.path().join("b.jsonl"),
        &[(
            "topic.naming.strategy",
            "io.debezium.schema.SchemaTopicNamingStrategy",
        )],
    );
    let r = s.post("/connectors", &bad.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("topic.naming.strategy"), "{}", r.body);
    bad["config"]
        .as_object_mut()
        .unwrap()
        .remove("topic.naming.strategy");
    bad["config"]["topic.delimiter"] = "/".into();
    let r = s.post("/connectors", &bad.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("topic.delimiter"), "{}", r.body);
}

/// skip.messages.without.change leaves out updates that change no column
/// the events carry (here `noise` is excluded); message.key.columns takes a
/// regular expression over `<db>.<table>`, matched without case.
#[test]
fn unchanged_updates_are_skipped_and_key_columns_match_by_regex() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("skipunch");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.shard_1 (id INT PRIMARY KEY, tenant INT, v INT, noise INT);
         INSERT INTO {db}.shard_1 VALUES (1, 7, 1, 0);"
    ));
    let dir = TempDir::new("mysql-skipunch");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-skipunch");
    let prefix = unique("msu");
    let keys = format!("{}\\.SHARD_[0-9]+:tenant,id", db.to_uppercase());
    let exclude = format!("{db}.shard_1.noise");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[
            ("skip.messages.without.change", "true"),
            ("column.exclude.list", &exclude),
            ("message.key.columns", &keys),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut t = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.shard_1"));
    t.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    mariadb(&format!(
        "UPDATE {db}.shard_1 SET noise = 5 WHERE id = 1; UPDATE {db}.shard_1 SET v = 2 WHERE id = 1;"
    ));
    t.read_until("the update of v", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["op"] == "u")
    });
    let ops: Vec<&str> = t
        .parsed
        .iter()
        .map(|(_, v)| v["op"].as_str().unwrap_or("tombstone"))
        .collect();
    assert_eq!(
        ops,
        ["r", "u"],
        "the update of an excluded column alone is skipped"
    );
    let (key, value) = &t.parsed[1];
    assert_eq!(key, &serde_json::json!({"tenant": 7, "id": 1}));
    assert_eq!(value["after"]["v"], 2);
}

/// snapshot.include.collection.list reads the rows of some captured tables
/// only (the others are streamed from the snapshot's position), and
/// snapshot.select.statement.overrides.<db>.<table> reads a table through
/// the user's SELECT; a statement that does not return the table's columns
/// fails the task naming its key, and a listed table with no statement is
/// refused at validation.
#[test]
fn snapshot_include_list_and_select_overrides_choose_the_rows_read() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("snapsel");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.a (id INT PRIMARY KEY, v VARCHAR(8)); CREATE TABLE {db}.b (id INT PRIMARY KEY); CREATE TABLE {db}.c (id INT PRIMARY KEY);
         INSERT INTO {db}.a VALUES (1,'x'),(2,'x'),(3,'keep'),(4,'keep'),(5,'keep'); INSERT INTO {db}.b VALUES (1),(2),(3); INSERT INTO {db}.c VALUES (1),(2);"
    ));
    let dir = TempDir::new("mysql-snap-select");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-snapsel");
    let prefix = unique("msel");
    let over = format!("snapshot.select.statement.overrides.{db}.a");
    let sql = format!("SELECT * FROM {db}.a WHERE v = 'keep'");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[
            (
                "snapshot.include.collection.list",
                &format!("{db}\\.a,{db}\\.b"),
            ),
            ("snapshot.select.statement.overrides", &format!("{db}.a")),
            (&over, &sql),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut a = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.a"));
    let mut b = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.b"));
    let mut c = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.c"));
    b.read_until("b's snapshot", Duration::from_secs(60), |r| r.len() >= 3);
    mariadb(&format!(
        "INSERT INTO {db}.a VALUES (6,'new'); INSERT INTO {db}.c VALUES (10);"
    ));
    a.read_until("a's insert", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["op"] == "c")
    });
    c.read_until("c's insert", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["op"] == "c")
    });
    let ids = |r: &TopicReader, op: &str| -> Vec<i64> {
        r.parsed
            .iter()
            .filter(|(_, v)| v["op"] == op)
            .map(|(_, v)| v["after"]["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&a, "r"), [3, 4, 5], "a read through its SELECT");
    assert_eq!(ids(&a, "c"), [6]);
    assert_eq!(ids(&b, "r"), [1, 2, 3]);
    assert!(ids(&c, "r").is_empty(), "c is not in the snapshot list");
    assert_eq!(ids(&c, "c"), [10], "c is streamed");

    // A listed table without its statement: refused, naming the key.
    let mut bad = mysql_connector_config(
        &unique("mysql-snapsel-bad"),
        &unique("mselb"),
        &db,
        &dir.path().join("b.jsonl"),
        &[("snapshot.select.statement.overrides", &format!("{db}.b"))],
    );
    let r = s.post("/connectors", &bad.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains(&format!(
            "snapshot.select.statement.overrides.{db}.b is missing;"
        )),
        "{}",
        r.body
    );
    // A statement that does not return the table's columns fails the task.
    let bad_name = unique("mysql-snapsel-cols");
    bad["name"] = bad_name.clone().into();
    bad["config"]["name"] = bad_name.clone().into();
    bad["config"]["snapshot.select.statement.overrides"] = format!("{db}.a").into();
    bad["config"][over.as_str()] = format!("SELECT id FROM {db}.a").into();
    assert_eq!(s.post("/connectors", &bad.to_string()).status, 201);
    let st = s.wait_status(&bad_name, "the task to fail", |v| {
        v["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains(&format!("{over} returns 1 columns, but {db}.a has 2")),
        "{st}"
    );
    mariadb(&format!("DROP DATABASE {db}"));
}

/// snapshot.lock.timeout.ms bounds the wait for the snapshot's global read
/// lock (snapshot.locking.mode=extended): while another session holds a
/// table with LOCK TABLES ... WRITE, the task fails naming the key, instead
/// of waiting for as long as the server's lock_wait_timeout (a year by
/// default).
#[test]
fn a_global_read_lock_not_had_within_the_lock_timeout_fails_the_task_naming_it() {
    let db = db_name("locktmo");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY); INSERT INTO {db}.t VALUES (1);"
    ));
    let host = std::env::var("SLUICE_MARIADB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("SLUICE_MARIADB_PORT").unwrap_or_else(|_| "3307".into());
    let pw = std::env::var("SLUICE_MARIADB_ROOT_PASSWORD").unwrap_or_else(|_| "sluice".into());
    let mut holder = std::process::Command::new("mariadb")
        .args(["--no-defaults", "-h", &host, "-P", &port, "-uroot"])
        .arg(format!("-p{pw}"))
        .arg("-e")
        .arg(format!(
            "LOCK TABLES {db}.t WRITE; SELECT SLEEP(90) AS holding_{db};"
        ))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run the mariadb client");
    wait_for(
        "the other session to hold the table",
        Duration::from_secs(30),
        || {
            let n = mariadb(&format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(90) AS holding_{db}%'"
        ));
            (n.trim() != "0").then_some(())
        },
    );
    let dir = TempDir::new("mysql-lock-timeout");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-locktmo");
    let cfg = mysql_connector_config(
        &name,
        &unique("mlt"),
        &db,
        &dir.path().join("h.jsonl"),
        &[
            ("snapshot.locking.mode", "extended"),
            ("snapshot.lock.timeout.ms", "1000"),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let st = s.wait_status(&name, "the task to fail", |v| {
        v["tasks"][0]["state"] == "FAILED"
    });
    let _ = holder.kill();
    let _ = holder.wait();
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("snapshot.lock.timeout.ms=1000") && trace.contains("1205"),
        "{st}"
    );
    mariadb(&format!("DROP DATABASE {db}"));
}

/// snapshot.mode=always: a snapshot at every start of the task (the
/// committed offset notwithstanding), streaming from its new position.
#[test]
fn snapshot_mode_always_snapshots_again_at_each_start() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("always");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY); INSERT INTO {db}.t VALUES (1),(2);"
    ));
    let dir = TempDir::new("mysql-snap-always");
    let mut s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-always");
    let prefix = unique("malw");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[("snapshot.mode", "always")],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut t = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    t.read_until("the first snapshot", Duration::from_secs(60), |r| {
        r.len() >= 2
    });
    mariadb(&format!("INSERT INTO {db}.t VALUES (3)"));
    t.read_until("the insert", Duration::from_secs(60), |r| r.len() >= 3);
    s.wait_committed_offset(&name, Duration::from_secs(30));
    s.terminate();
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    t.read_until("the second snapshot", Duration::from_secs(60), |r| {
        r.len() >= 6
    });
    mariadb(&format!("INSERT INTO {db}.t VALUES (4)"));
    t.read_until("the insert after it", Duration::from_secs(60), |r| {
        r.len() >= 7
    });
    let seen: Vec<(String, i64)> = t
        .parsed
        .iter()
        .map(|(_, v)| {
            (
                v["op"].as_str().unwrap_or("").to_string(),
                v["after"]["id"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let want: Vec<(String, i64)> = [
        ("r", 1),
        ("r", 2),
        ("c", 3),
        ("r", 1),
        ("r", 2),
        ("r", 3),
        ("c", 4),
    ]
    .iter()
    .map(|(o, i)| (o.to_string(), *i))
    .collect();
    assert_eq!(seen, want);
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
    mariadb(&format!("DROP DATABASE {db}"));
}
