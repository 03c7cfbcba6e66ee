//! Incremental snapshots of the MongoDB source on SecantusDB, started by a
//! document inserted into the signal collection, while four writers insert,
//! update, replace and delete random documents: replaying the topic by key
//! gives exactly the collection at the end (every `_id`, every field); the
//! notifications tell the progress; a worker killed with SIGKILL
//! mid-snapshot resumes from its last chunk.
//!
//!   scripts/test -p sluice --test mongodb_incremental_snapshot -- --nocapture

mod common;
mod mongodb_support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use mongodb_support::*;
use serde_json::{json, Value};

const DOCS: u64 = 200_000;
/// Chunks of 10,000: SecantusDB answers a ranged, sorted find by scanning
/// the collection (about 2.3 s per find of 200k documents here), so
/// Debezium's default 1,024 would make the test take 8 minutes.
const CHUNK: usize = 10_000;

struct Writers(Vec<Child>, std::path::PathBuf);

impl Writers {
    /// Four writers on `db.docs` until `stop` exists (at most 300 s).
    fn start(db: &str, dir: &TempDir) -> Writers {
        let stop = dir.path().join("stop-writers");
        let kids = (0..4)
            .map(|w| {
                Command::new(python())
                    .arg("-c")
                    .arg(format!(
                        "import os, random, time, pymongo\nrandom.seed({w})\nc = pymongo.MongoClient(os.environ['URI'])\nt = c['{db}'].docs\nend = time.time() + 300\nn = 0\nwhile time.time() < end and not os.path.exists('{stop}'):\n    i = random.randrange({max})\n    r = random.random()\n    if r < 0.4:\n        t.update_one({{'_id': i}}, {{'$set': {{'tag': 'w{w}', 'v': n}}}})\n    elif r < 0.6:\n        t.replace_one({{'_id': i}}, {{'n': -i, 'tag': 'replaced{w}'}}, upsert=True)\n    elif r < 0.8:\n        t.delete_one({{'_id': i}})\n    else:\n        t.update_one({{'_id': i}}, {{'$set': {{'tag': 'ins{w}'}}}}, upsert=True)\n    n += 1\nprint(n)\n",
                        stop = stop.display(),
                        max = DOCS + 5_000
                    ))
                    .env("URI", mongo_uri())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("writer")
            })
            .collect();
        Writers(kids, stop)
    }

    /// Stops them; returns the operations they made.
    fn stop(self) -> u64 {
        std::fs::write(&self.1, "").unwrap();
        self.0
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().unwrap();
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0)
            })
            .sum()
    }
}

/// Waits until the connector's stream has committed its first position
/// (a heartbeat's), so that writes after this are captured. A heartbeat
/// goes out only once the change stream's resume token has moved past the
/// last one sent, and on a quiet deployment SecantusDB's moves only with a
/// write: one to a collection of its own every 2 s does it (the other
/// tests' writers, when they run beside, do too). Slow under their load:
/// up to 3 minutes.
fn wait_positioned(s: &Sluice, name: &str, db: &str) {
    let mut polls = 0u32;
    wait_for("a committed offset", Duration::from_secs(180), || {
        let o = s.get(&format!("/connectors/{name}/offsets")).json();
        if o["offsets"].as_array().is_some_and(|a| !a.is_empty()) {
            return Some(());
        }
        polls += 1;
        if polls.is_multiple_of(20) {
            py(&format!("c['{db}'].position_poke.insert_one({{}})"));
        }
        None
    });
}

struct Setup {
    db: String,
    dir: TempDir,
    s: Sluice,
    name: String,
    prefix: String,
}

fn setup() -> Setup {
    setup_with(&[])
}

/// [`setup`] with more connector settings.
fn setup_with(extra: &[(&str, &str)]) -> Setup {
    require_mongodb();
    let db = unique("incdb").replace('-', "_");
    py(&format!(
        "t = c['{db}'].docs\nfor s in range(0, {DOCS}, 10000):\n    t.insert_many([{{'_id': i, 'n': i, 'tag': 'seed'}} for i in range(s, min(s + 10000, {DOCS}))])\nc['{db}'].create_collection('dbz_signal')"
    ));
    let dir = TempDir::new("mongo-incremental");
    let s = worker(&dir);
    let prefix = unique("minc");
    let name = unique("mongo-incremental");
    let mut cfg = base_config(&prefix, &db);
    cfg["snapshot.mode"] = json!("no_data");
    // A heartbeat commits the stream's first position: writes after it are captured.
    cfg["heartbeat.interval.ms"] = json!("500");
    cfg["signal.data.collection"] = json!(format!("{db}.dbz_signal"));
    cfg["notification.enabled.channels"] = json!("sink");
    cfg["incremental.snapshot.chunk.size"] = json!(CHUNK.to_string());
    cfg["notification.sink.topic.name"] = json!(format!("{prefix}.notes"));
    for (k, v) in extra {
        cfg[*k] = json!(v);
    }
    create(&s, &name, cfg);
    wait_positioned(&s, &name, &db);
    Setup {
        db,
        dir,
        s,
        name,
        prefix,
    }
}

fn signal(db: &str, id: &str) {
    py(&format!(
        "c['{db}'].dbz_signal.insert_one({{'_id': '{id}', 'type': 'execute-snapshot', 'data': '{{\"data-collections\": [\"{db}.docs\"], \"type\": \"incremental\"}}'}})"
    ));
}

fn note_types(tail: &TopicTail) -> Vec<String> {
    tail.events
        .iter()
        .filter_map(|e| e.value.as_ref()?["type"].as_str().map(String::from))
        .collect()
}

/// Reads the collection's topic until the sentinel `_id` -1, then checks
/// the replay against the collection; returns the incremental reads by id.
fn check_replay(st: &Setup) -> HashMap<String, usize> {
    py(&format!(
        "c['{}'].docs.insert_one({{'_id': -1, 'tag': 'sentinel'}})",
        st.db
    ));
    let mut tail = TopicTail::new(&format!("{}.{}.docs", st.prefix, st.db));
    let mut seen = false;
    tail.until("the sentinel document", Duration::from_secs(300), |ev| {
        seen = seen || ev.last().is_some_and(|e| e.id == "-1");
        seen
    });
    let want = collection_state(&st.db, "docs");
    let got = replay(&tail.events);
    if got != want {
        let diff: Vec<_> = want
            .iter()
            .filter(|(k, v)| got.get(*k) != Some(v))
            .take(5)
            .map(|(k, v)| (k.clone(), v.clone(), got.get(k).cloned()))
            .collect();
        panic!(
            "the topic does not replay to the collection: {} documents, {} replayed; first differences (id, collection, topic): {diff:?}",
            want.len(),
            got.len()
        );
    }
    let mut reads = HashMap::new();
    for e in &tail.events {
        let v = e.value.as_ref();
        if e.op() == "r" && v.is_some_and(|v| v["source"]["snapshot"] == "incremental") {
            *reads.entry(e.id.clone()).or_insert(0) += 1;
        }
    }
    reads
}

#[test]
fn an_incremental_snapshot_under_four_writers_replays_to_the_collection() {
    let st = setup();
    let mut notes = TopicTail::new(&format!("{}.notes", st.prefix));
    let writers = Writers::start(&st.db, &st.dir);
    let started = Instant::now();
    signal(&st.db, "mongo-1");
    notes.until("the snapshot to complete", Duration::from_secs(600), |ev| {
        ev.iter()
            .any(|e| e.value.as_ref().is_some_and(|v| v["type"] == "COMPLETED"))
    });
    let ops = writers.stop();
    eprintln!(
        "incremental snapshot of {DOCS} documents under {ops} writer operations: {:.1?}",
        started.elapsed()
    );
    assert!(ops >= 400, "the writers wrote during the snapshot ({ops})");
    let reads = check_replay(&st);
    let twice = reads.values().filter(|&&n| n > 1).count();
    eprintln!(
        "{} documents read by the snapshot, {twice} twice",
        reads.len()
    );
    assert_eq!(twice, 0);
    assert!(reads.len() as u64 > DOCS - ops);
    let types = note_types(&notes);
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
    assert!(types.iter().filter(|t| *t == "IN_PROGRESS").count() >= reads.len() / CHUNK);
    assert!(notes.events.iter().all(|e| e.id == "mongo-1"));
    let s = st.s.get(&format!("/connectors/{}/status", st.name)).json();
    assert_eq!(s["tasks"][0]["state"], "RUNNING", "{s}");
    let snap = &s["tasks"][0]["progress"]["snapshot"];
    assert_eq!(snap["incremental"], true, "{s}");
    assert_eq!(snap["running"], false, "{s}");
    let ns = format!("{}.docs", st.db);
    assert!(
        snap["tables"][ns.as_str()]["rows"].as_u64().unwrap_or(0) >= reads.len() as u64,
        "{s}"
    );
}

/// Also the insert_delete watermarking strategy: each window closed by
/// deleting its open document (insert_insert, the default, is the other
/// tests'), so only the request and the open document of the window the
/// kill cut short stay in the signal collection.
#[test]
fn a_worker_killed_mid_snapshot_resumes_from_its_last_chunk() {
    let mut st = setup_with(&[(
        "incremental.snapshot.watermarking.strategy",
        "insert_delete",
    )]);
    let mut notes = TopicTail::new(&format!("{}.notes", st.prefix));
    let writers = Writers::start(&st.db, &st.dir);
    signal(&st.db, "mongo-kill");
    let third = DOCS as usize / CHUNK / 3;
    notes.until("a third of the chunks", Duration::from_secs(600), |ev| {
        ev.iter()
            .filter(|e| e.value.as_ref().is_some_and(|v| v["type"] == "IN_PROGRESS"))
            .count()
            >= third
    });
    st.s.kill9();
    st.s = Sluice::start_with(st.s.worker_file.clone(), st.s.port, st.dir.path());
    notes.until(
        "the snapshot to complete after the restart",
        Duration::from_secs(600),
        |ev| {
            ev.iter()
                .any(|e| e.value.as_ref().is_some_and(|v| v["type"] == "COMPLETED"))
        },
    );
    let ops = writers.stop();
    let reads = check_replay(&st);
    let twice = reads.values().filter(|&&n| n > 1).count();
    eprintln!(
        "after kill -9: {} documents read, {twice} read twice (about {} chunks of {CHUNK} read again); {ops} writer operations",
        reads.len(),
        twice.div_ceil(CHUNK)
    );
    assert!(
        twice <= 3 * CHUNK,
        "{twice} read twice: the snapshot started over"
    );
    let started = note_types(&notes)
        .iter()
        .filter(|t| *t == "STARTED")
        .count();
    assert_eq!(started, 1);
    let left = py(&format!(
        "print(sorted(d['_id'] for d in c['{}'].dbz_signal.find() if d.get('type') != 'execute-snapshot'))",
        st.db
    ));
    assert!(
        !left.contains("-close") && left.matches("-open").count() <= 1,
        "watermarks left in the signal collection: {left}"
    );
    let _: Value = st.s.get(&format!("/connectors/{}/status", st.name)).json();
}

#[test]
fn transaction_metadata_frames_a_transaction_with_begin_and_end() {
    require_mongodb();
    let db = unique("txdb").replace('-', "_");
    py(&format!(
        "c['{db}'].create_collection('docs')\nc['{db}'].create_collection('other')"
    ));
    let dir = TempDir::new("mongo-txn");
    let s = worker(&dir);
    let prefix = unique("mtx");
    let name = unique("mongo-txn");
    let mut cfg = base_config(&prefix, &db);
    cfg["snapshot.mode"] = json!("no_data");
    // A heartbeat commits the stream's first position: writes after it are captured.
    cfg["heartbeat.interval.ms"] = json!("500");
    cfg["provide.transaction.metadata"] = json!("true");
    create(&s, &name, cfg);
    wait_positioned(&s, &name, &db);
    py(&format!(
        "t = c['{db}'].docs\nt.insert_one({{'_id': 1, 'v': 'alone'}})\nwith c.start_session() as s:\n    with s.start_transaction():\n        t.insert_one({{'_id': 2, 'v': 'in'}}, session=s)\n        t.update_one({{'_id': 1}}, {{'$set': {{'v': 'in-upd'}}}}, session=s)\n        c['{db}'].other.insert_one({{'_id': 3}}, session=s)\nt.insert_one({{'_id': 4, 'v': 'after'}})"
    ));
    let mut tx = TopicTail::new(&format!("{prefix}.transaction"));
    tx.until("the transaction's END", Duration::from_secs(120), |ev| {
        ev.iter()
            .any(|e| e.value.as_ref().is_some_and(|v| v["status"] == "END"))
    });
    let begin = tx.events[0].value.clone().unwrap();
    let end = tx.events[1].value.clone().unwrap();
    assert_eq!(begin["status"], "BEGIN");
    let id = begin["id"].as_str().unwrap().to_string();
    assert!(id.contains(":"), "<lsid>:<txnNumber>: {id}");
    assert_eq!(end["id"], id.as_str());
    assert_eq!(end["event_count"], 3);
    assert_eq!(
        end["data_collections"],
        json!([
            {"data_collection": format!("{db}.docs"), "event_count": 2},
            {"data_collection": format!("{db}.other"), "event_count": 1}
        ])
    );
    let mut docs = TopicTail::new(&format!("{prefix}.{db}.docs"));
    docs.until("the four changes of docs", Duration::from_secs(60), |ev| {
        ev.len() >= 4
    });
    let blocks: Vec<Value> = docs
        .events
        .iter()
        .map(|e| e.value.as_ref().unwrap()["transaction"].clone())
        .collect();
    assert!(
        blocks[0].is_null(),
        "the change outside a transaction has no block"
    );
    assert_eq!(blocks[1]["id"], id.as_str());
    assert_eq!(blocks[1]["total_order"], 1);
    assert_eq!(blocks[2]["total_order"], 2);
    assert_eq!(blocks[2]["data_collection_order"], 2);
    assert!(blocks[3].is_null());
}

#[test]
fn a_blocking_snapshots_events_sit_between_the_streams_events_before_and_after_it() {
    require_mongodb();
    let db = unique("blkdb").replace('-', "_");
    py(&format!(
        "c['{db}'].docs.insert_many([{{'_id': i, 'n': i}} for i in range(2000)])\nc['{db}'].other.insert_many([{{'_id': i}} for i in range(300)])\nc['{db}'].create_collection('dbz_signal')"
    ));
    let dir = TempDir::new("mongo-blocking");
    let s = worker(&dir);
    let prefix = unique("mblk");
    let name = unique("mongo-blocking");
    let mut cfg = base_config(&prefix, &db);
    cfg["snapshot.mode"] = json!("no_data");
    cfg["heartbeat.interval.ms"] = json!("500");
    cfg["signal.data.collection"] = json!(format!("{db}.dbz_signal"));
    cfg["notification.enabled.channels"] = json!("sink");
    cfg["notification.sink.topic.name"] = json!(format!("{prefix}.notes"));
    create(&s, &name, cfg);
    wait_positioned(&s, &name, &db);
    py(&format!(
        "c['{db}'].docs.update_one({{'_id': 1}}, {{'$set': {{'n': -1}}}})\nc['{db}'].dbz_signal.insert_one({{'_id': 'blk-1', 'type': 'execute-snapshot', 'data': {{'data-collections': ['{db}.DOCS'], 'type': 'blocking'}}}})\nc['{db}'].docs.update_one({{'_id': 2}}, {{'$set': {{'n': -2}}}})"
    ));
    let mut tail = TopicTail::new(&format!("{prefix}.{db}.docs"));
    tail.until(
        "the update after the blocking snapshot",
        Duration::from_secs(180),
        |ev| ev.iter().any(|e| e.op() == "u" && e.id == "2"),
    );
    let pos = |f: &dyn Fn(&Event) -> bool| -> Vec<usize> {
        tail.events
            .iter()
            .enumerate()
            .filter(|(_, e)| f(e))
            .map(|(i, _)| i)
            .collect()
    };
    let reads = pos(&|e| e.op() == "r");
    let before = pos(&|e| e.op() == "u" && e.id == "1");
    let after = pos(&|e| e.op() == "u" && e.id == "2");
    assert_eq!(reads.len(), 2000);
    assert!(before[0] < reads[0]);
    assert!(after[0] > *reads.last().unwrap());
    let mark = |i: usize| tail.events[i].value.as_ref().unwrap()["source"]["snapshot"].clone();
    assert_eq!(mark(reads[0]), "first");
    assert_eq!(mark(*reads.last().unwrap()), "last");
    let mut notes = TopicTail::new(&format!("{prefix}.notes"));
    notes.until("COMPLETED", Duration::from_secs(60), |ev| {
        ev.iter()
            .any(|e| e.value.as_ref().is_some_and(|v| v["type"] == "COMPLETED"))
    });
    assert_eq!(
        note_types(&notes),
        [
            "STARTED",
            "IN_PROGRESS",
            "TABLE_SCAN_COMPLETED",
            "COMPLETED"
        ]
    );
    // `other` was not asked for.
    let mut other = TopicTail::new(&format!("{prefix}.{db}.other"));
    py(&format!("c['{db}'].other.insert_one({{'_id': -1}})"));
    other.until("other's insert", Duration::from_secs(60), |ev| {
        !ev.is_empty()
    });
    assert!(other.events.iter().all(|e| e.op() != "r"));
}
