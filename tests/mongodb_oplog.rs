//! capture.mode=oplog against SecantusDB's local.oplog.rs and the real
//! broker: snapshot + oplog tailing under concurrent writes (inserts,
//! updates, replaces, deletes, transactions) with every document accounted
//! for; Debezium's shapes for each kind of change; restarts (kill -9 and
//! clean, including one right after a transaction whose entries share one
//! `ts`) without loss, and without doubles after a clean stop; the oplog
//! rolled past the saved position. Each test has a private in-memory
//! SecantusDB (`MemoryMongo`: the shared server's long oplog makes every
//! cursor open slow).
//!
//! The mongod-format side (entries as mongod writes them, error replies,
//! a dropped connection) is tests/mongodb_mockupdb.rs.

mod common;
mod mongodb_support;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use mongodb_support::*;
use serde_json::{json, Value};

fn oplog_config_at(uri: &str, prefix: &str, db: &str) -> Value {
    let mut c = base_config_at(uri, prefix, db);
    c["capture.mode"] = json!("oplog");
    c
}

fn creates_per_id(events: &[Event]) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    for e in events.iter().filter(|e| e.op() == "c") {
        *n.entry(e.id.clone()).or_insert(0) += 1;
    }
    n
}

#[test]
fn oplog_snapshot_and_stream_under_concurrent_writes_account_for_every_document() {
    let m = MemoryMongo::start();
    let db = unique("opsnap").replace('-', "_");
    py_at(&m.uri, &format!(
        "c['{db}'].docs.insert_many([{{'_id': i, 'n': i, 'tag': 'seed', 'nested': {{'a': [i, 'x']}}}} for i in range(3000)])"
    ));
    let dir = TempDir::new("mongo-oplog-snap");
    let s = worker(&dir);
    let prefix = unique("mopsnap");
    let name = unique("mongo-oplog-snap");
    let mut cfg = oplog_config_at(&m.uri, &prefix, &db);
    cfg["max.batch.size"] = json!("500");
    create(&s, &name, cfg);
    // Concurrent writes while the snapshot runs and after: inserts, $set /
    // $unset / $push updates, replaces, deletes and small transactions.
    let writer = Command::new(python())
        .arg("-c")
        .arg(format!(
            "import os, random, time, pymongo\nc = pymongo.MongoClient(os.environ['URI'])\nt = c['{db}'].docs\nend = time.time() + 4\nnext_id = 3000\ndeletes = 0\nwhile time.time() < end:\n    r = random.random()\n    i = random.randrange(next_id)\n    if r < 0.35:\n        t.insert_one({{'_id': next_id, 'n': next_id, 'tag': 'live', 'arr': [1]}}); next_id += 1\n    elif r < 0.6:\n        t.update_one({{'_id': i}}, {{'$set': {{'tag': 'upd', 'v': random.randrange(1000)}}, '$unset': {{'nested': ''}}, '$push': {{'arr': 2}}}})\n    elif r < 0.75:\n        t.replace_one({{'_id': i}}, {{'n': -i, 'tag': 'replaced'}})\n    elif r < 0.9:\n        t.delete_one({{'_id': i}}); deletes += 1\n    else:\n        with c.start_session() as s:\n            with s.start_transaction():\n                t.insert_one({{'_id': next_id, 'tag': 'txn'}}, session=s)\n                t.update_one({{'_id': i}}, {{'$set': {{'tag': 'txn-upd'}}}}, session=s)\n                t.delete_one({{'_id': random.randrange(next_id)}}, session=s)\n        next_id += 1; deletes += 1\nprint(deletes)\n"
        ))
        .env("URI", &m.uri)
        .stderr(Stdio::inherit())
        .output()
        .expect("writer");
    assert!(writer.status.success());
    let deletes = deletes_made(&writer.stdout);
    // One change of each kind, whatever the random writer did.
    py_at(&m.uri, &every_kind_of_change(&db, "docs", true));
    py_at(
        &m.uri,
        &format!("c['{db}'].docs.insert_one({{'_id': -1, 'tag': 'sentinel'}})"),
    );
    let topic = format!("{prefix}.{db}.docs");
    let mut tail = TopicTail::new(&topic);
    tail.until("the sentinel document", Duration::from_secs(180), |ev| {
        has_id(ev, "-1")
    });
    let reads = tail.events.iter().filter(|e| e.op() == "r").count();
    // Each seeded document is read, unless the writer deleted it first.
    assert!(
        reads >= 3000 - deletes,
        "snapshot read only {reads} documents ({deletes} deletes)"
    );
    for op in ["c", "u", "d"] {
        assert!(tail.events.iter().any(|e| e.op() == op), "no {op} event");
    }
    assert!(
        tail.events.iter().any(|e| e
            .value
            .as_ref()
            .is_some_and(|v| v["source"]["txnNumber"].is_i64())),
        "no transaction event"
    );
    let expected = collection_state_at(&m.uri, &db, "docs");
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
fn oplog_updates_replaces_deletes_and_transactions_have_debeziums_shapes() {
    let m = MemoryMongo::start();
    let db = unique("opshape").replace('-', "_");
    py_at(&m.uri, &format!("c['{db}'].create_collection('items')"));
    let dir = TempDir::new("mongo-oplog-shapes");
    let s = worker(&dir);
    let prefix = unique("mopshape");
    let name = unique("mongo-oplog-shapes");
    let mut cfg = oplog_config_at(&m.uri, &prefix, &db);
    cfg["field.exclude.list"] = json!(format!("{db}.items.secret"));
    create(&s, &name, cfg);
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    py_at(&m.uri, &format!(
        "t = c['{db}'].items\nt.insert_one({{'_id': 1, 'a': 1, 'secret': 'x', 'arr': [1, 2, 3]}})\nt.update_one({{'_id': 1}}, {{'$set': {{'b': 2, 'secret': 'y'}}, '$unset': {{'a': ''}}}})\nt.replace_one({{'_id': 1}}, {{'r': True, 'secret': 'z'}})\nwith c.start_session() as s:\n    with s.start_transaction():\n        t.insert_one({{'_id': 2}}, session=s)\n        t.insert_one({{'_id': 3}}, session=s)\n        t.update_one({{'_id': 2}}, {{'$set': {{'q': 1}}}}, session=s)\nt.delete_one({{'_id': 1}})\nt.insert_one({{'_id': 10, 'k': 1, 'o': {{'x': 1, 'y': 2}}}})\nt.update_one({{'_id': 10}}, {{'$inc': {{'k': 1}}, '$set': {{'o.x': 5}}}})"
    ));
    let topic = format!("{prefix}.{db}.items");
    let mut tail = TopicTail::new(&topic);
    tail.until("all 10 events", Duration::from_secs(60), |ev| {
        ev.len() >= 10
    });
    let ev = &tail.events;
    let ops: Vec<&str> = ev.iter().map(Event::op).collect();
    assert_eq!(
        ops,
        ["c", "u", "u", "c", "c", "u", "d", "", "c", "u"],
        "{ev:?}"
    );
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
    assert!(v["source"]["lsid"].is_null());
    // An update: the description decoded from the oplog diff.
    let u = ev[1].value.as_ref().unwrap();
    let updated: Value =
        serde_json::from_str(u["updateDescription"]["updatedFields"].as_str().unwrap()).unwrap();
    assert_eq!(updated, json!({"b": 2}));
    assert_eq!(u["updateDescription"]["removedFields"], json!(["a"]));
    // A replacement: the whole document from the entry, no description.
    assert_eq!(ev[2].after().unwrap(), json!({"_id": 1, "r": true}));
    assert!(ev[2].value.as_ref().unwrap()["updateDescription"].is_null());
    // The transaction: three events, one lsid/txnNumber and one cluster time.
    let srcs: Vec<&Value> = ev[3..6]
        .iter()
        .map(|e| &e.value.as_ref().unwrap()["source"])
        .collect();
    for src in &srcs {
        assert!(src["lsid"].as_str().unwrap().contains("\"id\""), "{src}");
        assert!(src["txnNumber"].is_i64(), "{src}");
        assert_eq!(
            (&src["lsid"], &src["txnNumber"], &src["ts_ms"]),
            (&srcs[0]["lsid"], &srcs[0]["txnNumber"], &srcs[0]["ts_ms"])
        );
    }
    assert_eq!(
        (ev[3].id.as_str(), ev[4].id.as_str(), ev[5].id.as_str()),
        ("2", "3", "2")
    );
    // Delete, then its tombstone with the same key.
    assert!(ev[6].after().is_none());
    assert_eq!((ev[6].id.as_str(), ev[7].id.as_str()), ("1", "1"));
    assert!(ev[7].value.is_none());
    // A document left alone after its update: `after` is the looked-up
    // post-image, and nested paths are dotted in updatedFields.
    let last = ev[9].value.as_ref().unwrap();
    assert_eq!(
        ev[9].after().unwrap(),
        json!({"_id": 10, "k": 2, "o": {"x": 5, "y": 2}})
    );
    let updated: Value =
        serde_json::from_str(last["updateDescription"]["updatedFields"].as_str().unwrap()).unwrap();
    assert_eq!(updated, json!({"k": 2, "o.x": 5}));
}

#[test]
fn oplog_resumes_after_kill_9_and_clean_restart_without_loss_or_doubles() {
    let m = MemoryMongo::start();
    let db = unique("opresume").replace('-', "_");
    py_at(&m.uri, &format!("c['{db}'].create_collection('r')"));
    let dir = TempDir::new("mongo-oplog-resume");
    let mut s = worker(&dir);
    let prefix = unique("mopresume");
    let name = unique("mongo-oplog-resume");
    let mut cfg = oplog_config_at(&m.uri, &prefix, &db);
    cfg["max.batch.size"] = json!("100");
    create(&s, &name, cfg);
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    let insert = |from: i32, to: i32| {
        py_at(
            &m.uri,
            &format!(
                "c['{db}'].r.insert_many([{{'_id': i, 'v': i}} for i in range({from}, {to})])"
            ),
        );
    };
    // One transaction: its entries share one ts in SecantusDB's oplog.
    let txn = |from: i32, to: i32| {
        py_at(&m.uri, &format!(
            "with c.start_session() as s:\n    with s.start_transaction():\n        for i in range({from}, {to}):\n            c['{db}'].r.insert_one({{'_id': i, 'v': i, 'txn': True}}, session=s)"
        ));
    };
    let topic = format!("{prefix}.{db}.r");
    let mut tail = TopicTail::new(&topic);
    insert(0, 200);
    tail.until("the first 200 documents", Duration::from_secs(60), |ev| {
        has_id(ev, "199")
    });
    s.wait_committed_offset(&name, Duration::from_secs(30));
    s.kill9();
    insert(200, 300);
    txn(300, 400);
    let mut s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    s.wait_status(&name, "RUNNING after kill -9", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    insert(400, 500);
    // The last change before the clean stop is a 250-change transaction
    // (one ts): the committed offset points inside that ts.
    txn(500, 750);
    tail.until(
        "documents written while down, after restart, and the transaction",
        Duration::from_secs(90),
        |ev| has_id(ev, "499") && (500..750).all(|i| has_id(ev, &i.to_string())),
    );
    wait_for(
        "the offset of the last transaction",
        Duration::from_secs(30),
        || {
            let v = s.get(&format!("/connectors/{name}/offsets")).json();
            let off = &v["offsets"][0]["offset"];
            (off["tord"] == json!(250)).then_some(())
        },
    );
    let before_stop = tail.events.len();
    s.terminate();
    insert(750, 850);
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    s.wait_status(&name, "RUNNING after a clean restart", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    tail.until(
        "documents written during a clean stop",
        Duration::from_secs(90),
        |ev| has_id(ev, "849"),
    );
    for i in 0..850 {
        assert!(
            has_id(&tail.events, &i.to_string()),
            "document {i} never reached the topic"
        );
    }
    assert!(
        tail.events.iter().all(|e| e.op() != "r"),
        "unexpected snapshot reads"
    );
    // After the clean stop, exactly the new documents: no change of the
    // transaction at the saved ts delivered again.
    let after_restart = creates_per_id(&tail.events[before_stop..]);
    let again: Vec<&String> = after_restart
        .keys()
        .filter(|k| k.parse::<i32>().map_or(true, |i| !(750..850).contains(&i)))
        .collect();
    assert!(
        again.is_empty(),
        "delivered again after a clean restart: {again:?}"
    );
    assert!(
        after_restart.values().all(|n| *n == 1),
        "doubles after a clean restart"
    );
    // The transaction written while the worker was down arrived whole.
    let txn_events = tail
        .events
        .iter()
        .filter(|e| e.id.parse::<i32>().is_ok_and(|i| (300..400).contains(&i)) && e.op() == "c");
    for e in txn_events {
        assert!(e.value.as_ref().unwrap()["source"]["txnNumber"].is_i64());
    }
}

#[test]
fn oplog_rolled_past_the_position_fails_with_the_remedy_then_when_needed_resnapshots() {
    let server = MemoryMongo::small_oplog();
    let uri = server.uri.clone();
    let db = unique("oplost").replace('-', "_");
    py_at(
        &uri,
        &format!("c['{db}'].h.insert_many([{{'_id': i}} for i in range(10)])"),
    );
    let dir = TempDir::new("mongo-oplog-lost");
    let mut s = worker(&dir);
    let prefix = unique("moplost");
    let name = unique("mongo-oplog-lost");
    create(&s, &name, oplog_config_at(&uri, &prefix, &db));
    let topic = format!("{prefix}.{db}.h");
    let mut tail = TopicTail::new(&topic);
    py_at(&uri, &format!("c['{db}'].h.insert_one({{'_id': 100}})"));
    tail.until("the streamed insert", Duration::from_secs(60), |ev| {
        has_id(ev, "100")
    });
    s.wait_committed_offset(&name, Duration::from_secs(30));
    s.terminate();
    py_at(
        &uri,
        &format!(
            "for i in range(101, 160):\n    c['{db}'].h.insert_one({{'_id': i}})\nprint(c.admin.command({{'secantusAdmin.pruneOplog': 1}}))"
        ),
    );
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    let st = s.wait_status(&name, "FAILED (oplog rolled over)", |v| {
        v["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(trace.contains("snapshot.mode=when_needed"), "{trace}");
    assert!(trace.contains("no longer available"), "{trace}");
    let mut cfg = oplog_config_at(&uri, &prefix, &db);
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
        "tailing after the new snapshot",
        Duration::from_secs(60),
        |ev| ev.iter().any(|e| e.id == "1000" && e.op() == "c"),
    );
}

/// Inserts `from..from+20`, updates `from`, deletes `from+1`, and in one
/// transaction inserts `from+100` and updates `from+2`: every kind of
/// change the switch test checks, made every time; then `from+199`, the
/// last, to wait for.
fn switch_changes(uri: &str, db: &str, from: i64) {
    py_at(
        uri,
        &format!(
        "t = c['{db}'].sw\nt.insert_many([{{'_id': i, 'n': i}} for i in range({from}, {from} + 20)])\nt.update_one({{'_id': {from}}}, {{'$set': {{'n': -1}}}})\nt.delete_one({{'_id': {from} + 1}})\nwith c.start_session() as s:\n    with s.start_transaction():\n        t.insert_one({{'_id': {from} + 100}}, session=s)\n        t.update_one({{'_id': {from} + 2}}, {{'$set': {{'txn': True}}}}, session=s)\nt.insert_one({{'_id': {from} + 199}})"
    ));
}

/// Checks that the changes of [`switch_changes`] from `from` are all in `ev`.
fn assert_switch_changes(ev: &[Event], from: i64, phase: &str) {
    for i in (from..from + 20).chain([from + 100]) {
        assert!(
            ev.iter().any(|e| e.id == i.to_string() && e.op() == "c"),
            "{phase}: no create of {i}"
        );
    }
    let updated = |id: i64| -> Vec<Value> {
        ev.iter()
            .filter(|e| e.id == id.to_string() && e.op() == "u")
            .map(|e| {
                serde_json::from_str(
                    e.value.as_ref().unwrap()["updateDescription"]["updatedFields"]
                        .as_str()
                        .unwrap(),
                )
                .unwrap()
            })
            .collect()
    };
    assert!(
        updated(from).contains(&json!({"n": -1})),
        "{phase}: no update of {from}"
    );
    assert!(
        updated(from + 2).contains(&json!({"txn": true})),
        "{phase}: no transaction update of {}",
        from + 2
    );
    let txn = ev
        .iter()
        .find(|e| e.id == (from + 100).to_string() && e.op() == "c")
        .unwrap();
    assert!(
        txn.value.as_ref().unwrap()["source"]["txnNumber"].is_i64(),
        "{phase}: the transaction's insert has no txnNumber"
    );
    assert!(
        ev.iter()
            .any(|e| e.id == (from + 1).to_string() && e.op() == "d"),
        "{phase}: no delete of {}",
        from + 1
    );
}

#[test]
fn switching_capture_mode_resumes_from_the_stored_offset_both_ways() {
    let m = MemoryMongo::start();
    let db = unique("opswitch").replace('-', "_");
    py_at(&m.uri, &format!("c['{db}'].create_collection('sw')"));
    let dir = TempDir::new("mongo-switch");
    let s = worker(&dir);
    let prefix = unique("mswitch");
    let name = unique("mongo-switch");
    let streams = base_config_at(&m.uri, &prefix, &db);
    let oplog = oplog_config_at(&m.uri, &prefix, &db);
    create(&s, &name, streams.clone());
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    let topic = format!("{prefix}.{db}.sw");
    let mut tail = TopicTail::new(&topic);
    let offset = || -> Value {
        s.get(&format!("/connectors/{name}/offsets")).json()["offsets"][0]["offset"].clone()
    };
    let stop = || {
        assert!(s.put(&format!("/connectors/{name}/stop"), "").status < 300);
        s.wait_status(&name, "STOPPED", |v| v["connector"]["state"] == "STOPPED");
    };
    let switch_to = |cfg: &Value| {
        let r = s.put(&format!("/connectors/{name}/config"), &cfg.to_string());
        assert!(r.status < 300, "{}", r.body);
        assert!(s.put(&format!("/connectors/{name}/resume"), "").status < 300);
        s.wait_status(&name, "RUNNING", |v| v["tasks"][0]["state"] == "RUNNING");
    };

    // Change streams.
    switch_changes(&m.uri, &db, 0);
    tail.until(
        "the change stream's changes",
        Duration::from_secs(60),
        |ev| has_id(ev, "199"),
    );
    stop();
    assert!(offset()["resume_token"].is_string(), "{}", offset());
    // Changes while stopped, then the oplog from the change stream's offset.
    switch_changes(&m.uri, &db, 1000);
    switch_to(&oplog);
    switch_changes(&m.uri, &db, 2000);
    tail.until(
        "the changes made while stopped and after the switch to the oplog",
        Duration::from_secs(90),
        |ev| has_id(ev, "1199") && has_id(ev, "2199"),
    );
    stop();
    assert!(offset()["tord"].is_number(), "{}", offset());
    // And back to the change stream from the oplog's offset.
    switch_changes(&m.uri, &db, 3000);
    switch_to(&streams);
    switch_changes(&m.uri, &db, 4000);
    tail.until(
        "the changes made while stopped and after the switch back",
        Duration::from_secs(90),
        |ev| has_id(ev, "3199") && has_id(ev, "4199"),
    );
    for (from, phase) in [
        (0, "change streams"),
        (1000, "stopped, then oplog"),
        (2000, "oplog"),
        (3000, "stopped, then change streams"),
        (4000, "change streams again"),
    ] {
        assert_switch_changes(&tail.events, from, phase);
    }
    assert!(
        tail.events.iter().all(|e| e.op() != "r"),
        "a switch took a new snapshot"
    );
    // At most the changes at the offset's cluster time come twice.
    let creates = creates_per_id(&tail.events);
    let doubled: Vec<_> = creates.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.len() <= 2 && creates.values().all(|n| *n <= 2),
        "documents delivered twice: {doubled:?}"
    );
    assert!(
        tail.events.iter().filter(|e| e.op() == "d").count() <= 7,
        "deletes delivered again beyond the switch points"
    );
    py_at(&m.uri, &format!("c.drop_database('{db}')"));
}
