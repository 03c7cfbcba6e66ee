//! The MongoDB connector against SecantusDB and the real broker: snapshot +
//! change stream under concurrent writes with every document accounted for
//! (the topic, applied in order by key, equals the collection by `_id`);
//! Debezium's shapes for updates, replaces, deletes and transactions;
//! resuming after a clean restart and a kill -9 without loss.
//!
//! Test data is written with pymongo from the project's venv
//! (scripts/pyenv); a missing server fails the test with the command that
//! starts it.

mod common;
mod mongodb_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use mongodb_support::*;
use serde_json::{json, Value};

#[test]
fn snapshot_and_stream_under_concurrent_writes_account_for_every_document() {
    require_mongodb();
    let db = unique("snapdb").replace('-', "_");
    py(&format!(
        "c['{db}'].docs.insert_many([{{'_id': i, 'n': i, 'tag': 'seed', 'nested': {{'a': [i, 'x']}}}} for i in range(3000)])"
    ));
    let dir = TempDir::new("mongo-snap");
    let s = worker(&dir);
    let prefix = unique("msnap");
    let name = unique("mongo-snap");
    let mut cfg = base_config(&prefix, &db);
    cfg["max.batch.size"] = json!("500");
    create(&s, &name, cfg);
    // Concurrent writes while the snapshot runs and after: inserts, $set
    // updates, replaces and deletes on random documents.
    let writer = Command::new(python())
        .arg("-c")
        .arg(format!(
            "import os, random, time, pymongo\nc = pymongo.MongoClient(os.environ['URI'])\nt = c['{db}'].docs\nend = time.time() + 4\nnext_id = 3000\ndeletes = 0\nwhile time.time() < end:\n    r = random.random()\n    i = random.randrange(next_id)\n    if r < 0.4:\n        t.insert_one({{'_id': next_id, 'n': next_id, 'tag': 'live'}}); next_id += 1\n    elif r < 0.7:\n        t.update_one({{'_id': i}}, {{'$set': {{'tag': 'upd', 'v': random.randrange(1000)}}, '$unset': {{'nested': ''}}}})\n    elif r < 0.85:\n        t.replace_one({{'_id': i}}, {{'n': -i, 'tag': 'replaced'}})\n    else:\n        t.delete_one({{'_id': i}}); deletes += 1\nprint(deletes)\n"
        ))
        .env("URI", mongo_uri())
        .stderr(Stdio::inherit())
        .output()
        .expect("writer");
    assert!(writer.status.success());
    let deletes = deletes_made(&writer.stdout);
    // One change of each kind, whatever the random writer did.
    py(&every_kind_of_change(&db, "docs", false));
    py(&format!(
        "c['{db}'].docs.insert_one({{'_id': -1, 'tag': 'sentinel'}})"
    ));
    let topic = format!("{prefix}.{db}.docs");
    let mut tail = TopicTail::new(&topic);
    tail.until("the sentinel document", Duration::from_secs(180), |ev| {
        has_id(ev, "-1")
    });
    let reads: Vec<&Event> = tail.events.iter().filter(|e| e.op() == "r").collect();
    // Each seeded document is read, unless the writer deleted it first.
    assert!(
        reads.len() >= 3000 - deletes,
        "snapshot read only {} documents ({deletes} deletes)",
        reads.len()
    );
    let markers: Vec<&str> = reads
        .iter()
        .map(|e| {
            e.value.as_ref().unwrap()["source"]["snapshot"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        markers.iter().filter(|m| **m == "last").count(),
        1,
        "one last snapshot record"
    );
    for op in ["c", "u", "d"] {
        assert!(tail.events.iter().any(|e| e.op() == op), "no {op} event");
    }
    let expected = collection_state(&db, "docs");
    let got = replay(&tail.events);
    let missing: Vec<&String> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for (id, doc) in &expected {
        assert_eq!(&got[id], doc, "document {id} differs");
    }
    let status = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}

#[test]
fn updates_replaces_deletes_and_transactions_have_debeziums_shapes() {
    require_mongodb();
    let db = unique("shapedb").replace('-', "_");
    py(&format!("c['{db}'].create_collection('items')"));
    let dir = TempDir::new("mongo-shapes");
    let s = worker(&dir);
    let prefix = unique("mshape");
    let name = unique("mongo-shapes");
    let mut cfg = base_config(&prefix, &db);
    cfg["capture.mode"] = json!("change_streams");
    cfg["field.exclude.list"] = json!(format!("{db}.items.secret"));
    create(&s, &name, cfg);
    // Write only once the (empty) snapshot is over, so every change is a
    // stream event rather than part of the snapshot.
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    py(&format!(
        "t = c['{db}'].items\nt.insert_one({{'_id': 1, 'a': 1, 'secret': 'x', 'arr': [1, 2, 3]}})\nt.update_one({{'_id': 1}}, {{'$set': {{'b': 2, 'secret': 'y'}}, '$unset': {{'a': ''}}}})\nt.replace_one({{'_id': 1}}, {{'r': True, 'secret': 'z'}})\nwith c.start_session() as s:\n    with s.start_transaction():\n        t.insert_one({{'_id': 2}}, session=s)\n        t.insert_one({{'_id': 3}}, session=s)\nt.delete_one({{'_id': 1}})"
    ));
    let topic = format!("{prefix}.{db}.items");
    let mut tail = TopicTail::new(&topic);
    tail.until(
        "insert, update, replace, 2 txn inserts, delete + tombstone",
        Duration::from_secs(60),
        |ev| ev.len() >= 7,
    );
    let ev = &tail.events;
    let ops: Vec<&str> = ev.iter().map(Event::op).collect();
    assert_eq!(ops, ["c", "u", "u", "c", "c", "d", ""], "{ev:?}");
    assert_eq!(
        ev[0].after().unwrap(),
        json!({"_id": 1, "a": 1, "arr": [1, 2, 3]}),
        "secret excluded"
    );
    let v = ev[0].value.as_ref().unwrap();
    assert_eq!(v["source"]["connector"], "mongodb");
    assert_eq!(v["source"]["name"], prefix.as_str());
    assert_eq!(v["source"]["db"], db.as_str());
    assert_eq!(v["source"]["collection"], "items");
    assert_eq!(v["source"]["snapshot"], "false");
    assert!(v["source"]["ord"].is_i64() && v["source"]["ts_ms"].is_i64() && v["ts_ms"].is_i64());
    // change_streams: updates carry only the description.
    let u = ev[1].value.as_ref().unwrap();
    assert!(u["after"].is_null(), "{u}");
    let updated: Value =
        serde_json::from_str(u["updateDescription"]["updatedFields"].as_str().unwrap()).unwrap();
    assert_eq!(updated, json!({"b": 2}));
    assert_eq!(u["updateDescription"]["removedFields"], json!(["a"]));
    // A replace is an update with the whole document.
    assert_eq!(ev[2].after().unwrap(), json!({"_id": 1, "r": true}));
    assert!(ev[2].value.as_ref().unwrap()["updateDescription"].is_null());
    // Transactions: lsid and txnNumber on each event of the transaction.
    for e in &ev[3..5] {
        let src = &e.value.as_ref().unwrap()["source"];
        assert!(src["lsid"].as_str().unwrap().contains("\"id\""), "{src}");
        assert!(src["txnNumber"].is_i64(), "{src}");
    }
    assert_eq!((ev[3].id.as_str(), ev[4].id.as_str()), ("2", "3"));
    assert!(ev[0].value.as_ref().unwrap()["source"]["lsid"].is_null());
    // Delete, then its tombstone with the same key.
    assert!(ev[5].after().is_none());
    assert_eq!((ev[5].id.as_str(), ev[6].id.as_str()), ("1", "1"));
    assert!(ev[6].value.is_none());
}

#[test]
fn resumes_after_restart_and_kill_9_without_loss() {
    require_mongodb();
    let db = unique("resumedb").replace('-', "_");
    py(&format!("c['{db}'].create_collection('r')"));
    let dir = TempDir::new("mongo-resume");
    let mut s = worker(&dir);
    let prefix = unique("mresume");
    let name = unique("mongo-resume");
    create(&s, &name, base_config(&prefix, &db));
    // Writes only after the (empty) snapshot: all of them are stream events.
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    let insert = |from: i32, to: i32| {
        py(&format!(
            "c['{db}'].r.insert_many([{{'_id': i, 'v': i}} for i in range({from}, {to})])"
        ));
    };
    let topic = format!("{prefix}.{db}.r");
    let mut tail = TopicTail::new(&topic);
    insert(0, 200);
    tail.until("the first 200 documents", Duration::from_secs(60), |ev| {
        has_id(ev, "199")
    });
    // Let the worker commit an offset, then kill it hard.
    s.wait_committed_offset(&name, Duration::from_secs(30));
    s.kill9();
    insert(200, 400);
    let mut s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    s.wait_status(&name, "RUNNING after kill -9", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    insert(400, 500);
    tail.until(
        "documents written while down and after restart",
        Duration::from_secs(90),
        |ev| has_id(ev, "499"),
    );
    s.terminate();
    insert(500, 600);
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    s.wait_status(&name, "RUNNING after a clean restart", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    tail.until(
        "documents written during a clean stop",
        Duration::from_secs(90),
        |ev| has_id(ev, "599"),
    );
    for i in 0..600 {
        assert!(
            has_id(&tail.events, &i.to_string()),
            "document {i} never reached the topic"
        );
    }
    // No second snapshot: a resumed stream, not a re-read.
    assert!(
        tail.events.iter().all(|e| e.op() != "r"),
        "unexpected snapshot reads"
    );
    let creates = tail.events.iter().filter(|e| e.op() == "c").count();
    assert!(
        creates < 900,
        "{creates} creates for 600 documents: resume re-read too much"
    );
}

#[test]
fn history_lost_fails_with_the_remedy_then_when_needed_resnapshots() {
    let server = MemoryMongo::small_oplog();
    let uri = server.uri.clone();
    let db = unique("lostdb").replace('-', "_");
    py_at(
        &uri,
        &format!("c['{db}'].h.insert_many([{{'_id': i}} for i in range(10)])"),
    );
    let dir = TempDir::new("mongo-lost");
    let mut s = worker(&dir);
    let prefix = unique("mlost");
    let name = unique("mongo-lost");
    create(&s, &name, base_config_at(&uri, &prefix, &db));
    let topic = format!("{prefix}.{db}.h");
    let mut tail = TopicTail::new(&topic);
    py_at(&uri, &format!("c['{db}'].h.insert_one({{'_id': 100}})"));
    tail.until("the streamed insert", Duration::from_secs(60), |ev| {
        has_id(ev, "100")
    });
    s.wait_committed_offset(&name, Duration::from_secs(30));
    s.terminate();
    // Changes while stopped, more than the oplog keeps: the saved position
    // falls out of it.
    py_at(
        &uri,
        &format!(
            "for i in range(101, 160):\n    c['{db}'].h.insert_one({{'_id': i}})\nprint(c.admin.command({{'secantusAdmin.pruneOplog': 1}}))"
        ),
    );
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    let st = s.wait_status(&name, "FAILED (history lost)", |v| {
        v["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(trace.contains("snapshot.mode=when_needed"), "{trace}");
    assert!(trace.contains("no longer available"), "{trace}");
    // With when_needed, the task takes a new snapshot and streams on.
    let mut cfg = base_config_at(&uri, &prefix, &db);
    cfg["snapshot.mode"] = json!("when_needed");
    let r = s.put(&format!("/connectors/{name}/config"), &cfg.to_string());
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let r = s.post(&format!("/connectors/{name}/restart?includeTasks=true"), "");
    assert!(r.status < 300, "{}", r.body);
    s.wait_status(&name, "RUNNING with when_needed", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    tail.until(
        "a new snapshot with the lost documents",
        Duration::from_secs(60),
        |ev| (101..160).all(|id| ev.iter().any(|e| e.id == id.to_string() && e.op() == "r")),
    );
    py_at(&uri, &format!("c['{db}'].h.insert_one({{'_id': 1000}})"));
    tail.until(
        "streaming after the new snapshot",
        Duration::from_secs(60),
        |ev| ev.iter().any(|e| e.id == "1000" && e.op() == "c"),
    );
}

#[test]
fn several_databases_and_collections_with_filters_pre_images_and_heartbeats() {
    require_mongodb();
    let a = unique("multia").replace('-', "_");
    let b = unique("multib").replace('-', "_");
    let x = unique("multix").replace('-', "_");
    py(&format!(
        "for d, names in (('{a}', ['c1', 'c2', 'skip']), ('{b}', ['c1']), ('{x}', ['c1'])):\n    for n in names:\n        c[d].create_collection(n)\nc['{b}'].command({{'collMod': 'c1', 'changeStreamPreAndPostImages': {{'enabled': True}}}})"
    ));
    let dir = TempDir::new("mongo-multi");
    let s = worker(&dir);
    let prefix = unique("mmulti");
    let name = unique("mongo-multi");
    // The alias, two of three databases, one collection excluded.
    create(
        &s,
        &name,
        json!({
            "connector.class": "mongodb",
            "mongodb.connection.string": mongo_uri(),
            "topic.prefix": prefix,
            "database.include.list": format!("{a},{b}"),
            "collection.exclude.list": format!("{a}\\.skip"),
            "capture.mode": "change_streams_update_full_with_pre_image",
            "tombstones.on.delete": "false",
            "heartbeat.interval.ms": "300",
        }),
    );
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    py(&format!(
        "c['{a}'].c1.insert_one({{'_id': 1, 'v': 'a1'}})\nc['{a}'].c2.insert_one({{'_id': 1, 'v': 'a2'}})\nc['{a}'].skip.insert_one({{'_id': 1}})\nc['{x}'].c1.insert_one({{'_id': 1}})\nc['{b}'].c1.insert_one({{'_id': 1, 'v': 'old'}})\nc['{b}'].c1.update_one({{'_id': 1}}, {{'$set': {{'v': 'new'}}}})\nc['{a}'].c1.delete_one({{'_id': 1}})\nc['{a}'].c1.insert_one({{'_id': 2}})"
    ));
    let mut a1 = TopicTail::new(&format!("{prefix}.{a}.c1"));
    a1.until(
        "the insert after the delete",
        Duration::from_secs(60),
        |ev| has_id(ev, "2"),
    );
    let ops: Vec<&str> = a1.events.iter().map(Event::op).collect();
    assert_eq!(
        ops,
        ["c", "d", "c"],
        "no tombstone with tombstones.on.delete=false"
    );
    let mut a2 = TopicTail::new(&format!("{prefix}.{a}.c2"));
    a2.until(
        "the second collection's insert",
        Duration::from_secs(60),
        |ev| !ev.is_empty(),
    );
    assert_eq!(a2.events[0].after().unwrap(), json!({"_id": 1, "v": "a2"}));
    let mut b1 = TopicTail::new(&format!("{prefix}.{b}.c1"));
    b1.until(
        "the other database's update",
        Duration::from_secs(60),
        |ev| ev.len() >= 2,
    );
    let u = b1.events[1].value.as_ref().unwrap();
    assert_eq!(u["op"], "u");
    let before: Value = serde_json::from_str(u["before"].as_str().expect("a pre-image")).unwrap();
    assert_eq!(before, json!({"_id": 1, "v": "old"}));
    assert_eq!(b1.events[1].after().unwrap(), json!({"_id": 1, "v": "new"}));
    // The excluded collection and database got no topic: their events came
    // before the last insert above, in the same stream.
    let meta_client: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .unwrap();
    let topics: Vec<String> = {
        use rdkafka::consumer::Consumer;
        meta_client
            .fetch_metadata(None, Duration::from_secs(10))
            .unwrap()
            .topics()
            .iter()
            .map(|t| t.name().to_string())
            .filter(|t| t.starts_with(&prefix))
            .collect()
    };
    for gone in [format!("{prefix}.{a}.skip"), format!("{prefix}.{x}.c1")] {
        assert!(!topics.contains(&gone), "{gone} exists: {topics:?}");
    }
    // Changes only outside the filters: heartbeats move the offset on.
    py(&format!(
        "c['{x}'].c1.insert_many([{{'_id': i}} for i in range(2, 12)])"
    ));
    let heartbeats = format!("__debezium-heartbeat.{prefix}");
    wait_for("the heartbeat topic", Duration::from_secs(60), || {
        use rdkafka::consumer::Consumer;
        let md = meta_client
            .fetch_metadata(Some(&heartbeats), Duration::from_secs(5))
            .ok()?;
        md.topics()
            .iter()
            .any(|t| t.name() == heartbeats && !t.partitions().is_empty())
            .then_some(())
    });
    let got = consume(&kafka_bootstrap(), &heartbeats, 1, Duration::from_secs(90));
    assert!(!got.is_empty(), "no heartbeat record in {heartbeats}");
    py(&format!(
        "for d in ('{a}', '{b}', '{x}'):\n    c.drop_database(d)"
    ));
}

#[test]
fn collection_scope_with_plain_change_streams_sends_update_descriptions_only() {
    require_mongodb();
    let db = unique("scopedb").replace('-', "_");
    py(&format!(
        "c['{db}'].create_collection('c1')\nc['{db}'].create_collection('c2')"
    ));
    let dir = TempDir::new("mongo-scope");
    let s = worker(&dir);
    let prefix = unique("mscope");
    let name = unique("mongo-scope");
    create(
        &s,
        &name,
        json!({
            "connector.class": "io.debezium.connector.mongodb.MongoDbConnector",
            "mongodb.connection.string": mongo_uri(),
            "topic.prefix": prefix,
            "capture.scope": "collection",
            "capture.target": format!("{db}.c1"),
            "capture.mode": "change_streams",
        }),
    );
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    py(&format!(
        "c['{db}'].c2.insert_one({{'_id': 1}})\nt = c['{db}'].c1\nt.insert_one({{'_id': 1, 'a': 1}})\nt.update_one({{'_id': 1}}, {{'$set': {{'a': 2}}}})\nt.delete_one({{'_id': 1}})\nt.insert_one({{'_id': 2}})"
    ));
    let mut tail = TopicTail::new(&format!("{prefix}.{db}.c1"));
    tail.until("the last insert", Duration::from_secs(60), |ev| {
        has_id(ev, "2")
    });
    let ops: Vec<&str> = tail.events.iter().map(Event::op).collect();
    assert_eq!(ops, ["c", "u", "d", "", "c"]);
    let u = tail.events[1].value.as_ref().unwrap();
    assert!(u["after"].is_null(), "change_streams: no post-image: {u}");
    let updated: Value =
        serde_json::from_str(u["updateDescription"]["updatedFields"].as_str().unwrap()).unwrap();
    assert_eq!(updated, json!({"a": 2}));
    // The other collection is outside the stream: no topic.
    let meta: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .unwrap();
    let other = format!("{prefix}.{db}.c2");
    let md = {
        use rdkafka::consumer::Consumer;
        meta.fetch_metadata(None, Duration::from_secs(10)).unwrap()
    };
    assert!(
        md.topics().iter().all(|t| t.name() != other),
        "{other} exists"
    );
    py(&format!("c.drop_database('{db}')"));
}

/// snapshot.include.collection.list: the snapshot reads the collections it
/// names; the others' documents come only from the stream.
#[test]
fn the_snapshot_reads_only_the_collections_of_its_include_list() {
    require_mongodb();
    let db = unique("snapinc").replace('-', "_");
    py(&format!(
        "c['{db}'].a.insert_many([{{'_id': i}} for i in range(3)])\nc['{db}'].b.insert_many([{{'_id': i}} for i in range(2)])"
    ));
    let dir = TempDir::new("mongo-snap-include");
    let s = worker(&dir);
    let prefix = unique("msinc");
    let name = unique("mongo-snap-include");
    let mut cfg = base_config(&prefix, &db);
    cfg["snapshot.include.collection.list"] = json!(format!("{db}\\.a"));
    create(&s, &name, cfg);
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    py(&format!(
        "c['{db}'].a.insert_one({{'_id': 10}})\nc['{db}'].b.insert_one({{'_id': 10}})"
    ));
    let mut a = TopicTail::new(&format!("{prefix}.{db}.a"));
    let mut b = TopicTail::new(&format!("{prefix}.{db}.b"));
    a.until("a's insert", Duration::from_secs(90), |ev| has_id(ev, "10"));
    b.until("b's insert", Duration::from_secs(90), |ev| has_id(ev, "10"));
    let ops = |t: &TopicTail| -> Vec<(String, String)> {
        t.events
            .iter()
            .map(|e| (e.op().to_string(), e.id.clone()))
            .collect()
    };
    assert_eq!(
        ops(&a),
        [("r", "0"), ("r", "1"), ("r", "2"), ("c", "10")]
            .map(|(o, i)| (o.to_string(), i.to_string()))
    );
    assert_eq!(
        ops(&b),
        [("c".to_string(), "10".to_string())],
        "b is not snapshotted"
    );
}

/// On a deployment where nothing is written, the server's periodic no-op
/// moves the change stream's resume token, and heartbeats commit the
/// stream's position: a restart resumes from a recent position, not from
/// before the quiet spell.
#[test]
fn heartbeats_commit_a_position_on_a_deployment_where_nothing_is_written() {
    let m = MemoryMongo::with_noop_every(1);
    let db = unique("quiet").replace('-', "_");
    py_at(&m.uri, &format!("c['{db}'].create_collection('t')"));
    let dir = TempDir::new("mongo-quiet");
    let s = worker(&dir);
    let prefix = unique("mquiet");
    let name = unique("mongo-quiet");
    let mut cfg = base_config_at(&m.uri, &prefix, &db);
    cfg["snapshot.mode"] = json!("no_data");
    cfg["heartbeat.interval.ms"] = json!("300");
    create(&s, &name, cfg);
    // Nothing is written from here on: only the server's no-ops.
    let first = wait_for("a committed position", Duration::from_secs(60), || {
        let o = s.get(&format!("/connectors/{name}/offsets")).json();
        o["offsets"][0]["offset"]["sec"].as_i64()
    });
    let later = wait_for(
        "a later committed position",
        Duration::from_secs(60),
        || {
            let o = s.get(&format!("/connectors/{name}/offsets")).json();
            o["offsets"][0]["offset"]["sec"]
                .as_i64()
                .filter(|sec| *sec > first)
        },
    );
    assert!(later > first);
}
