//! Incremental snapshots of the MySQL/MariaDB source, started by Debezium's
//! signals, on a private MariaDB with the server's defaults (but for the
//! binlog on, in ROW format): binlog_row_metadata MINIMAL.
//!
//! What a user checks: replaying the table's topic by key gives exactly
//! the table's rows at the end (every key, every column), although four
//! writers updated, inserted and deleted rows while the snapshot read it;
//! the notifications topic tells the snapshot's progress; a worker killed
//! with SIGKILL mid-snapshot resumes from its last chunk; the Kafka and
//! file signal channels start the same snapshot; a table added to the
//! include list is snapshotted on request without re-reading the others.
//!
//!   scripts/test -p sluice --test mysql_incremental_snapshot -- --nocapture

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const SERVER: &[&str] = &["log_bin = mariadb-bin", "binlog_format = ROW"];
const SIGNAL_TABLE: &str =
    "CREATE TABLE debezium_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL)";

struct Setup {
    db: PrivateMariaDb,
    dir: TempDir,
    s: Sluice,
    name: String,
    prefix: String,
}

impl Setup {
    /// A private MariaDB with database `inc` holding the signal table and
    /// `tables` (statements), and a Sluice with a connector on it
    /// (snapshot.mode no_data: only incremental snapshots read rows).
    fn start(tables: &[&str], extra: &[(&str, &str)]) -> Setup {
        let db = PrivateMariaDb::start(SERVER);
        db.sql(&format!("CREATE DATABASE inc; USE inc; {SIGNAL_TABLE};"));
        for t in tables {
            db.sql(&format!("USE inc; {t}"));
        }
        db.sql("GRANT INSERT ON inc.debezium_signal TO 'cdc'@'%'; FLUSH PRIVILEGES;");
        let dir = TempDir::new("mysql-incremental");
        let s = Sluice::start(dir.path(), &[]);
        let name = unique("mysql-incremental");
        let prefix = unique("minc");
        let notes = format!("{prefix}.notifications");
        let mut all: Vec<(&str, &str)> = vec![
            ("snapshot.mode", "no_data"),
            ("signal.data.collection", "inc.debezium_signal"),
            ("notification.enabled.channels", "sink,log"),
            ("notification.sink.topic.name", &notes),
        ];
        all.extend_from_slice(extra);
        let mut cfg =
            mysql_connector_config(&name, &prefix, "inc", &dir.path().join("h.jsonl"), &all);
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
        Setup {
            db,
            dir,
            s,
            name,
            prefix,
        }
    }

    fn topic(&self, table: &str) -> String {
        format!("{}.inc.{table}", self.prefix)
    }

    fn notes(&self) -> TopicReader {
        TopicReader::new(
            &kafka_bootstrap(),
            &format!("{}.notifications", self.prefix),
        )
    }

    fn signal(&self, id: &str, tables: &[&str]) {
        signal(&self.db, id, tables)
    }
}

/// An execute-snapshot row in the signal table.
fn signal(db: &PrivateMariaDb, id: &str, tables: &[&str]) {
    let list: Vec<String> = tables.iter().map(|t| format!("\"inc.{t}\"")).collect();
    db.sql(&format!(
        "INSERT INTO inc.debezium_signal VALUES ('{id}', 'execute-snapshot', '{{\"data-collections\": [{}], \"type\": \"incremental\"}}')",
        list.join(", ")
    ));
}

/// The table's rows by id, every column as text.
fn table_rows(db: &PrivateMariaDb, table: &str) -> BTreeMap<i64, Vec<String>> {
    db.sql(&format!("SELECT id, v, note FROM inc.{table}"))
        .lines()
        .map(|l| {
            let cols: Vec<String> = l.split('\t').map(String::from).collect();
            (cols[0].parse().unwrap(), cols)
        })
        .collect()
}

/// The rows replaying the topic leaves, by id (each event's `after`, its
/// columns as text as the mariadb client prints them); a delete or a
/// tombstone removes the key.
fn replay(parsed: &[(Value, Value)]) -> BTreeMap<i64, Vec<String>> {
    let mut rows = BTreeMap::new();
    for (k, v) in parsed {
        let Some(id) = k["id"].as_i64() else { continue };
        if v.is_null() || v["op"] == "d" {
            rows.remove(&id);
            continue;
        }
        let a = &v["after"];
        let text = |x: &Value| match x {
            Value::Null => "NULL".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        rows.insert(id, vec![text(&a["id"]), text(&a["v"]), text(&a["note"])]);
    }
    rows
}

/// The notifications' `type`s in order.
fn note_types(parsed: &[(Value, Value)]) -> Vec<String> {
    parsed
        .iter()
        .filter_map(|(_, v)| v["type"].as_str().map(String::from))
        .collect()
}

/// Four writers updating, inserting and deleting random rows of `inc.t`
/// (ids up to `max_id`) until `stop` or `rounds` rounds of 20 statements
/// each; returns the statements run.
fn writers(db: &PrivateMariaDb, max_id: u64, rounds: usize, stop: &AtomicBool) -> usize {
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..4u64)
            .map(|w| {
                sc.spawn(move || {
                    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ ((w + 1) * 0x1234_5678);
                    let mut next = move || {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        seed >> 33
                    };
                    let mut n = 0;
                    for round in 0..rounds {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let mut sql = String::from("USE inc;");
                        for i in 0..20 {
                            let id = next() % max_id + 1;
                            let note = format!("w{w}-{round}-{i}");
                            sql.push_str(&match next() % 4 {
                                0 | 1 => format!("UPDATE t SET v = v + 1, note = '{note}' WHERE id = {id};"),
                                2 => format!("INSERT INTO t VALUES ({id}, {}, '{note}') ON DUPLICATE KEY UPDATE v = v + 1000, note = '{note}';", next() % 1000),
                                _ => format!("DELETE FROM t WHERE id = {id};"),
                            });
                            n += 1;
                        }
                        db.sql(&sql);
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

/// Reads the notifications until the snapshot COMPLETED.
fn wait_completed(notes: &mut TopicReader, what: &str) {
    notes.read_until(what, Duration::from_secs(300), |p| {
        note_types(p).iter().any(|t| t == "COMPLETED")
    });
}

/// The `r` events of the incremental snapshot, by id (how many each).
fn incremental_reads(parsed: &[(Value, Value)]) -> HashMap<i64, usize> {
    let mut reads = HashMap::new();
    for (k, v) in parsed {
        if v["op"] == "r" && v["source"]["snapshot"] == "incremental" {
            *reads.entry(k["id"].as_i64().unwrap_or(-1)).or_insert(0) += 1;
        }
    }
    reads
}

const ROWS: u64 = 200_000;

fn big_table(st: &Setup) {
    st.db.sql(&format!(
        "USE inc; INSERT INTO inc.t SELECT seq, seq, CONCAT('n', seq) FROM seq_1_to_{ROWS}"
    ));
}

fn check_replay(db: &PrivateMariaDb, reader: &mut TopicReader) -> BTreeMap<i64, Vec<String>> {
    let want = table_rows(db, "t");
    reader.read_until(
        "the topic to replay to the table's final rows",
        Duration::from_secs(300),
        |p| replay(p) == want,
    );
    let got = replay(&reader.parsed);
    if got != want {
        let diff: Vec<_> = want
            .iter()
            .filter(|(k, v)| got.get(k) != Some(v))
            .take(5)
            .collect();
        panic!("the topic does not replay to the table: {} rows in the table, {} replayed; first differences {diff:?}", want.len(), got.len());
    }
    want
}

#[test]
fn an_incremental_snapshot_under_four_writers_replays_to_the_tables_final_rows() {
    let st = Setup::start(
        &["CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(40))"],
        &[],
    );
    big_table(&st);
    let mut notes = st.notes();
    let mut reader = TopicReader::new(&kafka_bootstrap(), &st.topic("t"));
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let statements = std::thread::scope(|sc| {
        let w = sc.spawn(|| writers(&st.db, ROWS + 5_000, 2_000, &stop));
        st.signal("ad-hoc-1", &["t"]);
        wait_completed(&mut notes, "the incremental snapshot to complete");
        stop.store(true, Ordering::Relaxed);
        w.join().unwrap()
    });
    eprintln!(
        "snapshot of {ROWS} rows under {statements} writer statements took {:.1?}",
        started.elapsed()
    );
    assert!(
        statements >= 400,
        "the writers wrote during the snapshot ({statements} statements)"
    );
    let want = check_replay(&st.db, &mut reader);

    let reads = incremental_reads(&reader.parsed);
    let twice = reads.values().filter(|&&n| n > 1).count();
    eprintln!(
        "{} keys read by the snapshot ({twice} twice); {} rows in the table",
        reads.len(),
        want.len()
    );
    assert_eq!(twice, 0, "no key is read twice without a restart");
    assert!(
        reads.len() as u64 > ROWS - statements as u64,
        "the snapshot read the table ({} keys)",
        reads.len()
    );

    // The notifications: STARTED, one IN_PROGRESS per chunk, the table's
    // scan SUCCEEDED, COMPLETED; each names the signal and the connector.
    let types = note_types(&notes.parsed);
    assert_eq!(
        types.first().map(String::as_str),
        Some("STARTED"),
        "{types:?}"
    );
    assert_eq!(
        types.last().map(String::as_str),
        Some("COMPLETED"),
        "{types:?}"
    );
    let chunks = types.iter().filter(|t| *t == "IN_PROGRESS").count();
    assert!(
        chunks >= reads.len() / 1024,
        "{chunks} chunks for {} rows",
        reads.len()
    );
    let scanned = notes
        .parsed
        .iter()
        .find(|(_, v)| v["type"] == "TABLE_SCAN_COMPLETED")
        .map(|(_, v)| v.clone())
        .expect("TABLE_SCAN_COMPLETED");
    assert_eq!(scanned["additional_data"]["status"], "SUCCEEDED");
    assert_eq!(scanned["additional_data"]["scanned_collection"], "inc.t");
    for (k, v) in &notes.parsed {
        assert_eq!(v["id"], "ad-hoc-1", "{v}");
        assert_eq!(k["id"], "ad-hoc-1");
        assert_eq!(v["aggregate_type"], "Incremental Snapshot");
        assert_eq!(v["additional_data"]["connector_name"], st.prefix.as_str());
    }
    let progress = notes
        .parsed
        .iter()
        .find(|(_, v)| v["type"] == "IN_PROGRESS")
        .unwrap();
    assert_eq!(
        progress.1["additional_data"]["current_collection_in_progress"],
        "inc.t"
    );
    assert_eq!(progress.1["additional_data"]["data_collections"], "inc.t");
    // The first chunk's last key: 1024, or later when writers deleted
    // some of the first rows before it was read.
    let last: i64 = progress.1["additional_data"]["last_processed_key"]
        .as_str()
        .and_then(|k| k.parse().ok())
        .expect("last_processed_key");
    assert!((1024..1200).contains(&last), "{last}");
    // The signal table's rows (the request and the watermarks) are change
    // events of their own, as Debezium's are.
    let mut sig = TopicReader::new(&kafka_bootstrap(), &st.topic("debezium_signal"));
    sig.read_until("the signal table's events", Duration::from_secs(60), |p| {
        p.iter()
            .any(|(_, v)| v["after"]["type"] == "snapshot-window-close")
    });
    assert!(sig
        .parsed
        .iter()
        .any(|(_, v)| v["after"]["id"] == "ad-hoc-1"));
    let s = st.s.get(&format!("/connectors/{}/status", st.name)).json();
    assert_eq!(s["tasks"][0]["state"], "RUNNING", "{s}");
    // Progress in the status JSON and Debezium's snapshot metrics.
    let snap = &s["tasks"][0]["progress"]["snapshot"];
    assert_eq!(snap["incremental"], true, "{s}");
    assert_eq!(snap["running"], false, "{s}");
    assert_eq!(snap["RemainingTableCount"], 0, "{s}");
    let rows = snap["tables"]["inc.t"]["rows"].as_u64().unwrap_or(0);
    assert!(rows >= reads.len() as u64, "{s}");
    let m = st.s.get("/metrics").body;
    let line = m
        .lines()
        .find(|l| l.starts_with("debezium_metrics_RowsScanned{") && l.contains("table=\"inc.t\""))
        .unwrap_or_else(|| panic!("RowsScanned of inc.t in /metrics:\n{m}"));
    assert!(line.ends_with(&format!(" {rows}")), "{line}");
}

#[test]
fn a_worker_killed_mid_snapshot_resumes_from_its_last_chunk() {
    let st = Setup::start(
        &["CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(40))"],
        &[],
    );
    big_table(&st);
    let mut notes = st.notes();
    let stop = AtomicBool::new(false);
    let Setup {
        db,
        dir,
        s,
        name,
        prefix,
    } = st;
    let mut s = s;
    std::thread::scope(|sc| {
        let w = sc.spawn(|| writers(&db, ROWS + 5_000, 2_000, &stop));
        signal(&db, "kill-1", &["t"]);
        notes.read_until("a third of the chunks", Duration::from_secs(300), |p| {
            note_types(p).iter().filter(|t| *t == "IN_PROGRESS").count() as u64 >= ROWS / 1024 / 3
        });
        s.kill9();
        s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
        wait_completed(&mut notes, "the snapshot to complete after the restart");
        stop.store(true, Ordering::Relaxed);
        w.join().unwrap()
    });
    let mut reader = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.inc.t"));
    let want = check_replay(&db, &mut reader);
    let reads = incremental_reads(&reader.parsed);
    let twice = reads.values().filter(|&&n| n > 1).count();
    let chunks_twice = twice.div_ceil(1024);
    eprintln!(
        "after kill -9: {} keys read, {twice} read twice (about {chunks_twice} chunks of 1024 read again); {} rows in the table",
        reads.len(),
        want.len()
    );
    // The restart went on from the offset's last chunk, not from the
    // table's first row: only the chunks emitted since the last offset
    // commit (offset.flush.interval.ms = 1 s) are read again.
    assert!(
        twice <= 40 * 1024,
        "{twice} keys read twice: the snapshot started over"
    );
    let types = note_types(&notes.parsed);
    assert_eq!(
        types.iter().filter(|t| *t == "STARTED").count(),
        1,
        "{types:?}"
    );
    let s = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(s["tasks"][0]["state"], "RUNNING", "{s}");
}

fn small(st: &Setup, table: &str, rows: u64) {
    st.db.sql(&format!(
        "USE inc; INSERT INTO inc.{table} SELECT seq, seq, CONCAT('n', seq) FROM seq_1_to_{rows}"
    ));
}

fn table_def(name: &str) -> String {
    format!("CREATE TABLE {name} (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(40))")
}

#[test]
fn the_kafka_and_file_channels_start_the_same_snapshot() {
    let dir = TempDir::new("signal-file");
    let file = dir.path().join("signals.txt");
    let file_text = file.display().to_string();
    let bootstrap = kafka_bootstrap();
    let signal_topic = unique("signals");
    create_topic(&bootstrap, &signal_topic, 1, &[]);
    let st = Setup::start(
        &[&table_def("a"), &table_def("b")],
        &[
            ("signal.enabled.channels", "source,kafka,file"),
            ("signal.kafka.topic", &signal_topic),
            ("signal.kafka.bootstrap.servers", &bootstrap),
            ("signal.file", &file_text),
            ("signal.poll.interval.ms", "200"),
            ("incremental.snapshot.chunk.size", "500"),
        ],
    );
    small(&st, "a", 3_000);
    small(&st, "b", 2_000);
    let mut notes = st.notes();

    // Kafka: keyed by topic.prefix (a record keyed otherwise is another
    // connector's and is left alone).
    let producer: rdkafka::producer::BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let value = r#"{"id": "kafka-1", "type": "execute-snapshot", "data": {"data-collections": ["inc.a"], "type": "INCREMENTAL"}}"#;
    for key in ["someone-else", st.prefix.as_str()] {
        producer
            .send(
                rdkafka::producer::BaseRecord::to(&signal_topic)
                    .key(key)
                    .payload(value),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(10)).unwrap();
    wait_completed(&mut notes, "the snapshot signalled through Kafka");
    let mut ra = TopicReader::new(&bootstrap, &st.topic("a"));
    ra.read_until("table a's rows", Duration::from_secs(60), |p| {
        incremental_reads(p).len() == 3_000
    });
    let done = |p: &[(Value, Value)]| p.iter().filter(|(_, v)| v["type"] == "COMPLETED").count();
    assert_eq!(done(&notes.parsed), 1, "one snapshot for two Kafka records");
    assert!(notes.parsed.iter().all(|(_, v)| v["id"] == "kafka-1"));

    // File: one JSON signal per line; the lines read are removed.
    std::fs::write(
        &file,
        "{\"id\": \"file-1\", \"type\": \"execute-snapshot\", \"data\": {\"data-collections\": [\"inc.b\"]}}\n",
    )
    .unwrap();
    notes.read_until(
        "the snapshot signalled through the file",
        Duration::from_secs(120),
        |p| done(p) == 2,
    );
    let mut rb = TopicReader::new(&bootstrap, &st.topic("b"));
    rb.read_until("table b's rows", Duration::from_secs(60), |p| {
        incremental_reads(p).len() == 2_000
    });
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "",
        "the line read is removed"
    );
    // Table a was not read again.
    let mut ra = TopicReader::new(&bootstrap, &st.topic("a"));
    ra.read_until("table a's rows", Duration::from_secs(60), |p| {
        incremental_reads(p).len() == 3_000
    });
    assert!(incremental_reads(&ra.parsed).values().all(|&n| n == 1));
}

#[test]
fn a_table_added_to_the_include_list_is_snapshotted_on_request_alone() {
    let st = Setup::start(
        &[&table_def("a"), &table_def("b")],
        &[
            ("table.include.list", "inc.a"),
            ("snapshot.mode", "initial"),
        ],
    );
    // The initial snapshot read table a (a's rows existed? none yet): fill
    // a while it streams, then b, which is not captured.
    small(&st, "a", 1_000);
    small(&st, "b", 1_500);
    let bootstrap = kafka_bootstrap();
    let mut ra = TopicReader::new(&bootstrap, &st.topic("a"));
    ra.read_until("table a's streamed rows", Duration::from_secs(60), |p| {
        p.len() >= 1_000
    });

    // b joins the include list; the connector restarts with it.
    let mut cfg = st.s.get(&format!("/connectors/{}/config", st.name)).json();
    cfg["table.include.list"] = json!("inc.a,inc.b");
    let r =
        st.s.put(&format!("/connectors/{}/config", st.name), &cfg.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    st.s.wait_status(&st.name, "RUNNING after the change", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    let mut notes = st.notes();
    // A signal for both a's and b's names: only b, which the snapshot does
    // not have, is wanted; the user asks for b alone.
    st.signal("add-b", &["b"]);
    wait_completed(&mut notes, "the snapshot of the added table");
    let mut rb = TopicReader::new(&bootstrap, &st.topic("b"));
    rb.read_until("table b's rows", Duration::from_secs(60), |p| {
        incremental_reads(p).len() == 1_500
    });
    // A change to b now streams too.
    st.db.sql("UPDATE inc.b SET v = -1 WHERE id = 7");
    rb.read_until("b's streamed update", Duration::from_secs(60), |p| {
        p.iter()
            .any(|(_, v)| v["op"] == "u" && v["after"]["v"] == -1)
    });
    // a was not read again.
    let mut ra = TopicReader::new(&bootstrap, &st.topic("a"));
    ra.read_until("table a's records", Duration::from_secs(60), |p| {
        p.len() >= 1_000
    });
    assert!(incremental_reads(&ra.parsed).is_empty());
    assert!(ra.parsed.iter().all(|(_, v)| v["op"] != "r"));
}

#[test]
fn a_blocking_snapshots_events_sit_between_the_streams_events_before_and_after_it() {
    let st = Setup::start(&[&table_def("a"), &table_def("b")], &[]);
    small(&st, "a", 2_000);
    small(&st, "b", 500);
    st.db.sql("UPDATE inc.a SET v = -1 WHERE id = 1");
    st.db.sql(
        "INSERT INTO inc.debezium_signal VALUES ('block-1', 'execute-snapshot', '{\"data-collections\": [\"INC.A\"], \"type\": \"BLOCKING\"}')",
    );
    st.db.sql("UPDATE inc.a SET v = -2 WHERE id = 2");
    let bootstrap = kafka_bootstrap();
    let mut ra = TopicReader::new(&bootstrap, &st.topic("a"));
    ra.read_until(
        "the update after the blocking snapshot",
        Duration::from_secs(120),
        |p| {
            p.iter()
                .any(|(_, v)| v["op"] == "u" && v["after"]["v"] == -2)
        },
    );
    let at = |f: &dyn Fn(&Value) -> bool| -> Vec<usize> {
        ra.parsed
            .iter()
            .enumerate()
            .filter(|(_, (_, v))| f(v))
            .map(|(i, _)| i)
            .collect()
    };
    let reads = at(&|v| v["op"] == "r");
    let before = at(&|v| v["op"] == "u" && v["after"]["v"] == -1);
    let after = at(&|v| v["op"] == "u" && v["after"]["v"] == -2);
    assert_eq!(reads.len(), 2_000, "every row of a read once");
    assert!(
        before[0] < reads[0],
        "the stream's earlier change comes first"
    );
    assert!(
        after[0] > *reads.last().unwrap(),
        "the stream's later change comes after"
    );
    let marks: Vec<&str> = reads
        .iter()
        .map(|&i| ra.parsed[i].1["source"]["snapshot"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(marks.first(), Some(&"first"));
    assert_eq!(marks.last(), Some(&"last"));
    // b was not asked for.
    let mut rb = TopicReader::new(&bootstrap, &st.topic("b"));
    rb.read_until("b's streamed rows", Duration::from_secs(60), |p| {
        p.len() >= 500
    });
    assert!(rb.parsed.iter().all(|(_, v)| v["op"] != "r"));
    let mut notes = st.notes();
    notes.read_until(
        "the blocking snapshot's notifications",
        Duration::from_secs(60),
        |p| note_types(p).iter().any(|t| t == "COMPLETED"),
    );
    let types = note_types(&notes.parsed);
    assert_eq!(
        types,
        [
            "STARTED",
            "IN_PROGRESS",
            "TABLE_SCAN_COMPLETED",
            "COMPLETED"
        ],
        "{:?}",
        notes.parsed
    );
    assert!(notes
        .parsed
        .iter()
        .all(|(_, v)| v["aggregate_type"] == "Initial Snapshot"));
}

#[test]
fn heartbeat_action_query_runs_on_each_heartbeat() {
    let st = Setup::start(
        &["CREATE TABLE hb (id INT PRIMARY KEY, beats BIGINT NOT NULL)"],
        &[
            ("heartbeat.interval.ms", "300"),
            (
                "heartbeat.action.query",
                "INSERT INTO inc.hb VALUES (1, 1) ON DUPLICATE KEY UPDATE beats = beats + 1",
            ),
        ],
    );
    st.db
        .sql("GRANT INSERT, UPDATE ON inc.hb TO 'cdc'@'%'; FLUSH PRIVILEGES;");
    let beats = || -> i64 {
        st.db
            .sql("SELECT COALESCE(MAX(beats), 0) FROM inc.hb")
            .trim()
            .parse()
            .unwrap_or(0)
    };
    wait_for(
        "three heartbeat action queries",
        Duration::from_secs(60),
        || (beats() >= 3).then_some(()),
    );
    // Its own changes stream like any other (the table is captured).
    let mut r = TopicReader::new(&kafka_bootstrap(), &st.topic("hb"));
    r.read_until(
        "the heartbeat table's events",
        Duration::from_secs(60),
        |p| p.iter().any(|(_, v)| v["op"] == "u"),
    );
}

#[test]
fn a_read_only_incremental_snapshot_writes_nothing_and_replays_to_the_table() {
    let st = Setup::start(
        &["CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(40))"],
        &[
            ("read.only", "true"),
            ("incremental.snapshot.chunk.size", "2000"),
        ],
    );
    // The connector's user may not write at all.
    st.db
        .sql("REVOKE INSERT ON inc.debezium_signal FROM 'cdc'@'%'; FLUSH PRIVILEGES;");
    st.db
        .sql("USE inc; INSERT INTO inc.t SELECT seq, seq, CONCAT('n', seq) FROM seq_1_to_100000");
    let mut notes = st.notes();
    let mut reader = TopicReader::new(&kafka_bootstrap(), &st.topic("t"));
    let stop = AtomicBool::new(false);
    let statements = std::thread::scope(|sc| {
        let w = sc.spawn(|| writers(&st.db, 105_000, 2_000, &stop));
        st.signal("ro-1", &["t"]);
        wait_completed(&mut notes, "the read-only snapshot to complete");
        stop.store(true, Ordering::Relaxed);
        w.join().unwrap()
    });
    let want = check_replay(&st.db, &mut reader);
    let reads = incremental_reads(&reader.parsed);
    let twice = reads.values().filter(|&&n| n > 1).count();
    eprintln!(
        "read-only: {} keys read under {statements} writer statements ({twice} twice); {} rows in the table",
        reads.len(),
        want.len()
    );
    assert_eq!(twice, 0);
    assert!(reads.len() > 90_000, "{}", reads.len());
    // No watermark rows: the signal table holds the request only.
    let rows = st.db.sql("SELECT COUNT(*) FROM inc.debezium_signal");
    assert_eq!(rows.trim(), "1");
}

/// An ALTER of the table mid-snapshot: no chunk row read with the old
/// definition is emitted after the stream has passed the ALTER (a chunk in
/// the window when the DDL arrives is read again). The ALTER lands inside a
/// window only by chance (a window lasts one SELECT): the property is
/// checked on every run, the re-read path is exercised only sometimes.
#[test]
fn no_chunk_row_of_the_old_definition_follows_an_alter() {
    let st = Setup::start(
        &["CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(40))"],
        &[("incremental.snapshot.chunk.size", "500")],
    );
    st.db
        .sql("USE inc; INSERT INTO inc.t SELECT seq, seq, CONCAT('n', seq) FROM seq_1_to_60000");
    let mut notes = st.notes();
    st.signal("ddl-1", &["t"]);
    notes.read_until("a few chunks", Duration::from_secs(120), |p| {
        note_types(p).iter().filter(|t| *t == "IN_PROGRESS").count() >= 10
    });
    st.db.sql("ALTER TABLE inc.t ADD COLUMN extra INT NOT NULL DEFAULT 7; UPDATE inc.t SET v = -1 WHERE id = 59999");
    wait_completed(&mut notes, "the snapshot to complete");
    let mut reader = TopicReader::new(&kafka_bootstrap(), &st.topic("t"));
    reader.read_until(
        "the update after the ALTER",
        Duration::from_secs(120),
        |p| p.iter().any(|(_, v)| v["op"] == "u") && incremental_reads(p).len() >= 59_000,
    );
    let first_new = reader
        .parsed
        .iter()
        .position(|(_, v)| v["after"].get("extra").is_some())
        .expect("events with the new column");
    let stale: Vec<i64> = reader.parsed[first_new..]
        .iter()
        .filter(|(_, v)| v["op"] == "r" && v["after"].get("extra").is_none())
        .filter_map(|(k, _)| k["id"].as_i64())
        .collect();
    assert!(
        stale.is_empty(),
        "{} chunk rows of the old definition after the ALTER, e.g. {:?}",
        stale.len(),
        &stale[..stale.len().min(5)]
    );
    assert_eq!(incremental_reads(&reader.parsed).len(), 60_000);
}

/// incremental.snapshot.watermarking.strategy=insert_delete: each window is
/// closed by deleting its open row, so the signal table keeps the request
/// only; the snapshot under writers still replays to the table.
#[test]
fn an_insert_delete_snapshot_leaves_no_watermark_rows_and_replays_to_the_table() {
    let st = Setup::start(
        &[&table_def("t")],
        &[
            (
                "incremental.snapshot.watermarking.strategy",
                "insert_delete",
            ),
            ("incremental.snapshot.chunk.size", "2000"),
        ],
    );
    st.db
        .sql("GRANT DELETE ON inc.debezium_signal TO 'cdc'@'%'; FLUSH PRIVILEGES;");
    small(&st, "t", 20_000);
    let mut notes = st.notes();
    let mut reader = TopicReader::new(&kafka_bootstrap(), &st.topic("t"));
    let stop = AtomicBool::new(false);
    let statements = std::thread::scope(|sc| {
        let w = sc.spawn(|| writers(&st.db, 21_000, 500, &stop));
        st.signal("del-1", &["t"]);
        wait_completed(&mut notes, "the insert_delete snapshot to complete");
        stop.store(true, Ordering::Relaxed);
        w.join().unwrap()
    });
    let want = check_replay(&st.db, &mut reader);
    let reads = incremental_reads(&reader.parsed);
    eprintln!(
        "insert_delete: {} keys read under {statements} writer statements; {} rows in the table",
        reads.len(),
        want.len()
    );
    assert!(reads.len() > 15_000, "{}", reads.len());
    let rows = st.db.sql("SELECT id FROM inc.debezium_signal");
    assert_eq!(
        rows.trim(),
        "del-1",
        "watermark rows left in the signal table"
    );
}

/// skipped.operations drops events, not signals: with inserts and deletes
/// skipped, the execute-snapshot row (an insert) still starts the snapshot
/// and the insert_delete watermarks (an insert, a delete) still open and
/// close each window.
#[test]
fn skipped_inserts_and_deletes_still_carry_signals_and_watermarks() {
    let st = Setup::start(
        &[&table_def("t")],
        &[
            (
                "incremental.snapshot.watermarking.strategy",
                "insert_delete",
            ),
            ("incremental.snapshot.chunk.size", "1000"),
            ("skipped.operations", "c,d"),
        ],
    );
    st.db
        .sql("GRANT DELETE ON inc.debezium_signal TO 'cdc'@'%'; FLUSH PRIVILEGES;");
    small(&st, "t", 5_000);
    let mut notes = st.notes();
    let mut reader = TopicReader::new(&kafka_bootstrap(), &st.topic("t"));
    st.signal("skip-1", &["t"]);
    wait_completed(&mut notes, "the snapshot under skipped.operations=c,d");
    reader.read_until("5,000 snapshot reads", Duration::from_secs(60), |p| {
        incremental_reads(p).len() >= 5_000
    });
    assert!(
        reader
            .parsed
            .iter()
            .all(|(_, v)| v["op"] != "c" && v["op"] != "d"),
        "a skipped operation's event"
    );
    let rows = st.db.sql("SELECT id FROM inc.debezium_signal");
    assert_eq!(rows.trim(), "skip-1");
}
