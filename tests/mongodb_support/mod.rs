//! Helpers shared by the MongoDB integration tests (tests/mongodb_*.rs):
//! pymongo scripts against the server, a worker with the JSON converter
//! without schemas, a topic reader, and the collection/replay comparison.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Message;
use serde_json::{json, Value};

pub fn mongo_uri() -> String {
    std::env::var("SLUICE_MONGODB_URI")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27018/?directConnection=true".into())
}

pub fn python() -> String {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    format!("{home}/.cache/sluice/venv/bin/python")
}

/// Runs a pymongo script (`c` is the client, `json`, `sys` imported) and
/// returns its stdout.
pub fn py(script: &str) -> String {
    py_at(&mongo_uri(), script)
}

pub fn py_at(uri: &str, script: &str) -> String {
    let full = format!(
        "import json, sys, os, random, pymongo\nc = pymongo.MongoClient(os.environ['URI'], serverSelectionTimeoutMS=5000)\n{script}\n"
    );
    let out = Command::new(python())
        .arg("-c")
        .arg(&full)
        .env("URI", uri)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); create the venv with scripts/pyenv",
                python()
            )
        });
    assert!(
        out.status.success(),
        "pymongo script failed:\n{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails (never skips) when the server is down.
pub fn require_mongodb() {
    let out = Command::new(python())
        .arg("-c")
        .arg("import os, pymongo; pymongo.MongoClient(os.environ['URI'], serverSelectionTimeoutMS=3000).admin.command('ping')")
        .env("URI", mongo_uri())
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "no MongoDB-compatible server answers at {}; start it with scripts/services up mongodb",
            mongo_uri()
        ),
    }
}

pub fn worker(dir: &TempDir) -> Sluice {
    Sluice::start(
        dir.path(),
        &[
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("key.converter.schemas.enable", "false"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
        ],
    )
}

/// [`worker`], producing to the broker at `bootstrap`.
pub fn worker_at(dir: &TempDir, bootstrap: &str) -> Sluice {
    Sluice::start(
        dir.path(),
        &[
            ("bootstrap.servers", bootstrap),
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("key.converter.schemas.enable", "false"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
        ],
    )
}

pub fn create(s: &Sluice, name: &str, config: Value) {
    let r = s.post(
        "/connectors",
        &json!({"name": name, "config": config}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    s.wait_status(name, "a RUNNING task", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
}

pub fn base_config(prefix: &str, db: &str) -> Value {
    base_config_at(&mongo_uri(), prefix, db)
}

pub fn base_config_at(uri: &str, prefix: &str, db: &str) -> Value {
    json!({
        "connector.class": "io.debezium.connector.mongodb.MongoDbConnector",
        "mongodb.connection.string": uri,
        "topic.prefix": prefix,
        "database.include.list": db,
    })
}

/// One event read back: key id, value (None for a tombstone).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub value: Option<Value>,
}

impl Event {
    pub fn op(&self) -> &str {
        self.value
            .as_ref()
            .and_then(|v| v["op"].as_str())
            .unwrap_or("")
    }
    pub fn after(&self) -> Option<Value> {
        let a = self.value.as_ref()?["after"].as_str()?;
        Some(serde_json::from_str(a).expect("after is JSON"))
    }
}

/// Reads `topic` from the start until `done` holds for what was read.
pub struct TopicTail {
    consumer: BaseConsumer,
    pub events: Vec<Event>,
}

impl TopicTail {
    pub fn new(topic: &str) -> TopicTail {
        Self::at(&kafka_bootstrap(), topic)
    }

    /// A reader of `topic` on the broker at `bootstrap`, with librdkafka's
    /// default consumer settings (as a Kafka user's client has them).
    pub fn at(bootstrap: &str, topic: &str) -> TopicTail {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", unique("mongo-test"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("topic.metadata.refresh.interval.ms", "500")
            .set("log_level", "3")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        TopicTail {
            consumer,
            events: Vec::new(),
        }
    }

    pub fn until(&mut self, what: &str, timeout: Duration, mut done: impl FnMut(&[Event]) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(&self.events) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; {} events read",
                self.events.len()
            );
            if let Some(Ok(m)) = self.consumer.poll(Duration::from_millis(200)) {
                let key: Value = serde_json::from_slice(m.key().expect("keyed")).expect("key JSON");
                let value = m
                    .payload()
                    .map(|p| serde_json::from_slice(p).expect("value JSON"));
                self.events.push(Event {
                    id: key["id"].as_str().expect("key id").to_string(),
                    value,
                });
            }
        }
    }
}

/// The collection as `_id` (relaxed JSON) → document, read with pymongo.
pub fn collection_state(db: &str, coll: &str) -> BTreeMap<String, Value> {
    collection_state_at(&mongo_uri(), db, coll)
}

/// [`collection_state`] on the server at `uri`.
pub fn collection_state_at(uri: &str, db: &str, coll: &str) -> BTreeMap<String, Value> {
    let out = py_at(uri, &format!(
        "from bson import json_util\nfor d in c['{db}']['{coll}'].find():\n    print(json.dumps(d['_id']), '\\t', json_util.dumps(d))"
    ));
    out.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                serde_json::from_str(v.trim()).unwrap(),
            )
        })
        .collect()
}

/// The state the events describe, applied in order by key.
pub fn replay(events: &[Event]) -> BTreeMap<String, Value> {
    let mut state = BTreeMap::new();
    for e in events {
        match e.op() {
            "r" | "c" | "u" => {
                if let Some(a) = e.after() {
                    state.insert(e.id.clone(), a);
                }
            }
            "d" => {
                state.remove(&e.id);
            }
            _ => {}
        }
    }
    state
}

/// A pymongo script that makes one of each kind of change on `db.coll`,
/// on negative `_id`s no random writer touches: an insert, a `$set` /
/// `$unset` / `$push` update, a replace, a delete and (with `txn`) a
/// transaction of an insert and an update. Tests that check a kind of
/// change run it, so that kind is never left to chance.
pub fn every_kind_of_change(db: &str, coll: &str, txn: bool) -> String {
    let mut s = format!(
        "t = c['{db}']['{coll}']\nt.insert_many([{{'_id': -3, 'tag': 'fixed', 'nested': 1, 'arr': [1]}}, {{'_id': -4, 'tag': 'fixed'}}, {{'_id': -5, 'tag': 'fixed'}}])\nt.update_one({{'_id': -3}}, {{'$set': {{'tag': 'fixed-upd'}}, '$unset': {{'nested': ''}}, '$push': {{'arr': 2}}}})\nt.replace_one({{'_id': -4}}, {{'tag': 'fixed-replaced'}})\nt.delete_one({{'_id': -5}})\n"
    );
    if txn {
        s.push_str("with c.start_session() as s:\n    with s.start_transaction():\n        t.insert_one({'_id': -6, 'tag': 'fixed-txn'}, session=s)\n        t.update_one({'_id': -3}, {'$set': {'tag': 'fixed-txn-upd'}}, session=s)\n");
    }
    s
}

/// The number the random writer printed last: how many deletes it made.
pub fn deletes_made(writer_stdout: &[u8]) -> usize {
    String::from_utf8_lossy(writer_stdout)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("the writer prints its delete count")
}

pub fn has_id(events: &[Event], id: &str) -> bool {
    events.iter().any(|e| e.id == id && e.value.is_some())
}

/// Waits (bounded) until a private SecantusDB at `uri` answers a ping.
fn wait_until_answers(uri: &str, timeout: Duration) {
    wait_for("the private SecantusDB to answer", timeout, || {
        let ok = Command::new(python())
            .arg("-c")
            .arg("import os, pymongo; pymongo.MongoClient(os.environ['URI'], serverSelectionTimeoutMS=500).admin.command('ping')")
            .env("URI", uri)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        ok.then_some(())
    });
}

/// A private SecantusDB with its data in memory, for one test.
///
/// The oplog tests each use one: SecantusDB answers every find on
/// local.oplog.rs (a tailing cursor's open) by decoding its whole oplog,
/// and the shared server's holds the entries of every test before (400,000
/// after the incremental snapshot tests' seeding), which made one open take
/// over a minute under CI's load. mongod finds an oplog position without
/// that scan.
pub struct MemoryMongo {
    child: std::process::Child,
    pub uri: String,
}

impl MemoryMongo {
    pub fn start() -> MemoryMongo {
        Self::start_with(&[])
    }

    /// One whose oplog keeps only a few entries, so that a stopped
    /// connector's position falls out of it.
    pub fn small_oplog() -> MemoryMongo {
        Self::start_with(&["--oplog-max-entries", "20"])
    }

    /// One that writes a no-op oplog entry every `secs` seconds, as a
    /// mongod replica set does every 10.
    pub fn with_noop_every(secs: u32) -> MemoryMongo {
        Self::start_with(&["--noop-heartbeat-seconds", &secs.to_string()])
    }

    fn start_with(args: &[&str]) -> MemoryMongo {
        require_mongodb();
        let port = free_port();
        let bin = python().replace("/python", "/secantusd-py");
        let child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--storage-path",
                ":memory:",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} ({e}); install it with scripts/pyenv"));
        let uri = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
        let server = MemoryMongo { child, uri };
        wait_until_answers(&server.uri, Duration::from_secs(30));
        server
    }
}

impl Drop for MemoryMongo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private SecantusDB with its data in its own directory, which a test
/// may kill (SIGKILL) and start again on the same port and data.
pub struct RestartableMongo {
    dir: TempDir,
    port: u16,
    child: Option<std::process::Child>,
    pub uri: String,
}

impl RestartableMongo {
    pub fn start() -> RestartableMongo {
        require_mongodb();
        let port = free_port();
        let mut m = RestartableMongo {
            dir: TempDir::new("secantus-private"),
            port,
            child: None,
            uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
        };
        m.run();
        m
    }

    fn run(&mut self) {
        let d = self.dir.path();
        std::fs::create_dir_all(d.join("data")).unwrap();
        // An explicit, empty config: no auto-discovered secantusd.toml.
        std::fs::write(d.join("secantusd.toml"), "# empty\n").unwrap();
        let bin = python().replace("/python", "/secantusd-py");
        let child = Command::new(&bin)
            .arg("--config")
            .arg(d.join("secantusd.toml"))
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--storage-path")
            .arg(d.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} ({e}); install it with scripts/pyenv"));
        self.child = Some(child);
        wait_until_answers(&self.uri, Duration::from_secs(60));
    }

    pub fn kill9(&mut self) {
        kill9_child(&mut self.child);
    }

    /// Starts it again: same port, same data.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        self.run();
    }
}

impl Drop for RestartableMongo {
    fn drop(&mut self) {
        self.kill9();
    }
}
