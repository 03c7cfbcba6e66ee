//! MySQL/MariaDB → Kafka through a real `sluice standalone`, read back
//! from the broker: snapshot + stream under concurrent writes with nothing
//! lost and nothing doubled, key changes, tables without a primary key,
//! and restarts (clean and kill -9) mid-snapshot and mid-stream.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn db_name(tag: &str) -> String {
    format!("sl_{}", unique(tag).replace('-', "_"))
}

/// Replays change events into table state: id → after image.
struct Replay {
    state: BTreeMap<i64, Value>,
    /// How many r/c events each id got (each id is inserted once).
    created: HashMap<i64, usize>,
    /// (id, v) pairs of update events, to find doubles.
    updates: HashMap<(i64, String), usize>,
}

fn replay(records: &[(Value, Value)]) -> Replay {
    let mut rp = Replay {
        state: BTreeMap::new(),
        created: HashMap::new(),
        updates: HashMap::new(),
    };
    for (key, value) in records {
        let id = key["id"].as_i64().expect("key has id");
        if value.is_null() {
            assert!(
                !rp.state.contains_key(&id),
                "a tombstone for {id} while the row exists"
            );
            continue;
        }
        match value["op"].as_str().unwrap() {
            "r" | "c" => {
                *rp.created.entry(id).or_default() += 1;
                rp.state.insert(id, value["after"].clone());
            }
            "u" => {
                let v = value["after"]["v"].as_str().unwrap_or("").to_string();
                *rp.updates.entry((id, v)).or_default() += 1;
                rp.state.insert(id, value["after"].clone());
            }
            "d" => {
                rp.state.remove(&id);
            }
            op => panic!("unexpected op {op}"),
        }
    }
    rp
}

/// The table as id → {"id","v","n"} JSON, as the events carry it.
fn table_state(db: &str) -> BTreeMap<i64, Value> {
    mariadb(&format!("SELECT id, v, n FROM {db}.t ORDER BY id"))
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let id: i64 = f[0].parse().unwrap();
            let n: Value = if f[2] == "NULL" {
                Value::Null
            } else {
                Value::from(f[2].parse::<i64>().unwrap())
            };
            (id, serde_json::json!({"id": id, "v": f[1], "n": n}))
        })
        .collect()
}

fn setup_table(db: &str, rows: usize) {
    mariadb(&format!(
        "CREATE DATABASE {db}; USE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL, n INT NULL) ENGINE=InnoDB;
         INSERT INTO {db}.t SELECT seq, CONCAT('init-', seq), seq * 2 FROM seq_1_to_{rows};"
    ));
}

/// Inserts, updates and deletes in small transactions.
fn write_load(db: &str, from: usize, to: usize) {
    for chunk in (from..to).collect::<Vec<_>>().chunks(50) {
        let (a, b) = (chunk[0], *chunk.last().unwrap());
        mariadb(&format!(
            "USE {db}; BEGIN; INSERT INTO {db}.t SELECT seq, CONCAT('new-', seq), NULL FROM seq_{a}_to_{b};
             UPDATE {db}.t SET v = CONCAT('upd-', id, '-', {a}) WHERE id % 97 = {a} % 97 AND id < {a};
             DELETE FROM {db}.t WHERE id = {a} - 1500; COMMIT;"
        ));
    }
}

fn assert_matches_table(rp: &Replay, db: &str) {
    let want = table_state(db);
    assert_eq!(
        rp.state.len(),
        want.len(),
        "row count differs from the table"
    );
    for (id, row) in &want {
        assert_eq!(
            rp.state.get(id),
            Some(row),
            "row {id} differs from the table"
        );
    }
    for (id, n) in &rp.created {
        assert_eq!(*n, 1, "row {id} was created/read {n} times");
    }
}

fn caught_up(db: &str) -> impl FnMut(&[(Value, Value)]) -> bool + '_ {
    let want = table_state(db);
    move |records| {
        let rp = replay(records);
        rp.state == want
    }
}

#[test]
fn snapshot_then_stream_under_concurrent_writes_loses_and_doubles_nothing() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("conc");
    setup_table(&db, 5000);
    let dir = TempDir::new("mysql-conc");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-conc");
    let prefix = unique("mc");
    let cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("history.jsonl"), &[]);
    let r = s.post("/connectors", &cfg.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    // Writes while the snapshot runs and after.
    write_load(&db, 5001, 8001);
    let topic = format!("{prefix}.{db}.t");
    let mut reader = TopicReader::new(&bootstrap, &topic);
    reader.read_until(
        "every change in the topic",
        Duration::from_secs(180),
        caught_up(&db),
    );
    let rp = replay(&reader.parsed);
    assert_matches_table(&rp, &db);
    for ((id, v), n) in &rp.updates {
        assert_eq!(*n, 1, "update of {id} to {v} seen {n} times");
    }
    let status = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    // Snapshot markers and ops as Debezium: r for the snapshot, first/last marked.
    let ops: Vec<(String, String)> = reader
        .parsed
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(_, v)| {
            (
                v["op"].as_str().unwrap().to_string(),
                v["source"]["snapshot"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reads: Vec<&(String, String)> = ops.iter().filter(|(op, _)| op == "r").collect();
    assert!(reads.len() >= 5000 - 1500, "{} snapshot reads", reads.len());
    // The snapshot's progress, per table, in the task status.
    let progress = &status["tasks"][0]["progress"]["snapshot"];
    assert_eq!(progress["running"], false, "{status}");
    let table = &progress["tables"][format!("{db}.t")];
    assert_eq!(table["rows"].as_u64(), Some(reads.len() as u64), "{status}");
    assert_eq!(table["done"], true, "{status}");
    assert!(
        table["estimated_total"].as_u64().unwrap_or(0) > 0,
        "{status}"
    );
    assert_eq!(
        progress["rows"].as_u64(),
        Some(reads.len() as u64),
        "{status}"
    );
    assert_eq!(reads.first().unwrap().1, "first");
    assert_eq!(reads.last().unwrap().1, "last");
    assert!(ops
        .iter()
        .filter(|(op, _)| op != "r")
        .all(|(_, snap)| snap == "false"));
}

#[test]
fn key_change_and_tables_without_primary_key() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("keys");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL, n INT NULL);
         CREATE TABLE {db}.nopk (a INT, b VARCHAR(10));
         INSERT INTO {db}.t VALUES (100, 'seed', NULL); INSERT INTO {db}.nopk VALUES (100, 'seed');"
    ));
    let dir = TempDir::new("mysql-keys");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-keys");
    let prefix = unique("mk");
    let cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("h.jsonl"), &[]);
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    // Write once the snapshot (of the seed rows) is in the topics.
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    reader.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    let mut nopk = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.nopk"));
    nopk.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    mariadb(&format!(
        "INSERT INTO {db}.t VALUES (1, 'a', 1); UPDATE {db}.t SET id = 2 WHERE id = 1;
         INSERT INTO {db}.nopk VALUES (1, 'x'), (2, 'y'); UPDATE {db}.nopk SET b = 'z' WHERE a = 2; DELETE FROM {db}.nopk WHERE a = 1;"
    ));
    let not_read = |r: &&(Value, Value)| r.1["op"] != "r";
    reader.read_until("c, d, tombstone, c", Duration::from_secs(60), |r| {
        r.iter().filter(not_read).count() >= 4
    });
    let evs: Vec<&(Value, Value)> = reader.parsed.iter().filter(not_read).collect();
    assert_eq!(evs.len(), 4, "{evs:?}");
    assert_eq!(evs[0].1["op"], "c");
    assert_eq!(
        (evs[1].1["op"].as_str(), &evs[1].0["id"]),
        (Some("d"), &Value::from(1))
    );
    assert_eq!(
        (evs[2].1.is_null(), &evs[2].0["id"]),
        (true, &Value::from(1)),
        "tombstone for the old key"
    );
    assert_eq!(
        (evs[3].1["op"].as_str(), &evs[3].0["id"]),
        (Some("c"), &Value::from(2))
    );
    assert_eq!(evs[3].1["after"]["v"], "a");
    // Debezium's headers on a key change: the delete and its tombstone name
    // the new key, the create the old one (the header converter's JSON).
    let changed: Vec<&Record> = reader
        .records
        .iter()
        .zip(&reader.parsed)
        .filter(|(_, p)| not_read(p))
        .map(|(r, _)| r)
        .collect();
    let header = |r: &Record, name: &str| -> Option<Value> {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| serde_json::from_slice(v.as_deref()?).ok())
    };
    assert!(
        changed[0]
            .headers
            .iter()
            .all(|(k, _)| k.starts_with("__debezium.context.")),
        "a plain insert has only Debezium's context headers: {:?}",
        changed[0].headers
    );
    for (i, name, id) in [
        (1, "__debezium.newkey", 2),
        (2, "__debezium.newkey", 2),
        (3, "__debezium.oldkey", 1),
    ] {
        let h = header(changed[i], name)
            .unwrap_or_else(|| panic!("{name} on event {i}: {:?}", changed[i].headers));
        assert_eq!(h["id"], id, "{name}: {h}");
    }

    nopk.read_until("c, c, u, d, tombstone", Duration::from_secs(60), |r| {
        r.iter().filter(not_read).count() >= 5
    });
    for (k, _) in &nopk.parsed {
        assert!(k.is_null(), "key must be null without a primary key: {k}");
    }
    let ops: Vec<&str> = nopk
        .parsed
        .iter()
        .map(|(_, v)| v["op"].as_str().unwrap_or("tombstone"))
        .collect();
    assert_eq!(ops, ["r", "c", "c", "u", "d", "tombstone"]);
}

#[test]
fn resumes_after_kill_mid_snapshot_and_mid_stream_without_loss() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("kill");
    setup_table(&db, 60_000);
    let dir = TempDir::new("mysql-kill");
    let mut s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-kill");
    let prefix = unique("mkl");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[("max.batch.size", "500")],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let topic = format!("{prefix}.{db}.t");
    let mut reader = TopicReader::new(&bootstrap, &topic);
    // Kill -9 once part of the snapshot is in Kafka.
    reader.read_until("part of the snapshot", Duration::from_secs(120), |r| {
        r.len() >= 2000
    });
    s.kill9();
    write_load(&db, 60_001, 61_001);
    let port = s.port;
    let mut s = Sluice::start_with(s.worker_file.clone(), port, dir.path());
    // Kill -9 again while streaming the new writes.
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || write_load(&db, 61_001, 64_001))
    };
    reader.read_until(
        "streamed changes after the restart",
        Duration::from_secs(180),
        |r| r.iter().any(|x| x.1["op"] == "c"),
    );
    s.kill9();
    writer.join().unwrap();
    let s = Sluice::start_with(s.worker_file.clone(), port, dir.path());
    reader.read_until(
        "every change after two kills",
        Duration::from_secs(240),
        caught_up(&db),
    );
    // Duplicates are allowed after a kill (at-least-once); loss is not.
    let rp = replay(&reader.parsed);
    let want = table_state(&db);
    assert_eq!(rp.state, want);
    let status = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}
