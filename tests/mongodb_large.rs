//! Documents near MongoDB's 16 MB limit, end to end: a ~16 MB document
//! inserted, updated, replaced and deleted in SecantusDB arrives intact in
//! Kafka (through the change stream, and through the oplog mode) and is
//! read back by an ordinary librdkafka consumer, with the
//! settings a Kafka Connect user sets for large records
//! (`producer.override.max.request.size`, `producer.override.compression.type`,
//! `topic.creation.default.max.message.bytes`); and a change event over
//! 16 MB (pre- and post-image of such a document) fails the task naming the
//! remedy, then is read whole with cursor.oversize.handling.mode=split;
//! cursor.oversize.handling.mode=skip leaves out events with large images.
//!
//! The records go to the shared Apache Kafka broker, whose
//! message.max.bytes is 64 MiB (scripts/services), as a user raises it for
//! large records (see docs/connectors/mongodb.md, "Large documents").

mod common;
mod mongodb_support;

use std::time::Duration;

use common::*;
use mongodb_support::*;
use serde_json::{json, Value};

/// One large-document test at a time: SecantusDB deadlocked (every thread
/// waiting on a lock, pings still answered, writes hung) with three of
/// these tests writing 16-60 MB documents at once (2026-12-01).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn big_field(e: &Event, image: &str) -> Option<String> {
    let s = e.value.as_ref()?[image].as_str()?;
    let v: Value = serde_json::from_str(s).expect("image is JSON");
    v["big"].as_str().map(str::to_string)
}

#[test]
fn a_16_mb_document_is_inserted_updated_replaced_and_deleted_intact() {
    round_trip_16_mb("change_streams_update_full");
}

#[test]
fn a_16_mb_document_round_trips_in_oplog_mode_too() {
    round_trip_16_mb("oplog");
}

fn round_trip_16_mb(mode: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_mongodb();
    let bootstrap = kafka_bootstrap();
    let db = unique("bigdoc").replace('-', "_");
    py(&format!("c['{db}'].create_collection('big')"));
    let dir = TempDir::new("mongo-big");
    let s = worker_at(&dir, &bootstrap);
    let prefix = unique(&format!("mbig-{}", &mode[..5]));
    let name = unique("mongo-big");
    let mut cfg = base_config(&prefix, &db);
    cfg["capture.mode"] = json!(mode);
    cfg["producer.override.max.request.size"] = json!("20971520");
    cfg["producer.override.compression.type"] = json!("gzip");
    cfg["topic.creation.default.max.message.bytes"] = json!("20971520");
    create(&s, &name, cfg);
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    let topic = format!("{prefix}.{db}.big");
    let mut tail = TopicTail::at(&bootstrap, &topic);
    let (f1, f2) = (dir.path().join("big1"), dir.path().join("big2"));
    // 16,700,000 random hex characters: a document of ~16.7 MB of BSON,
    // just under the 16 MiB (16,777,216 bytes) limit.
    let size = py(&format!(
        "import bson\nb = os.urandom(8_350_000).hex()\nopen('{}', 'w').write(b)\nd = {{'_id': 1, 'big': b, 'n': 1}}\nc['{db}'].big.insert_one(d)\nprint(len(bson.encode(d)))",
        f1.display()
    ));
    let size: usize = size.trim().parse().unwrap();
    assert!(
        (16_700_000..16_777_216).contains(&size),
        "{size} bytes of BSON"
    );
    let big1 = std::fs::read_to_string(&f1).unwrap();
    tail.until("the insert", Duration::from_secs(120), |ev| !ev.is_empty());
    py(&format!(
        "c['{db}'].big.update_one({{'_id': 1}}, {{'$set': {{'n': 2}}}})"
    ));
    tail.until("the update", Duration::from_secs(120), |ev| ev.len() >= 2);
    py(&format!(
        "b = os.urandom(8_350_000).hex()\nopen('{}', 'w').write(b)\nc['{db}'].big.replace_one({{'_id': 1}}, {{'big': b, 'n': 3}})",
        f2.display()
    ));
    let big2 = std::fs::read_to_string(&f2).unwrap();
    tail.until("the replace", Duration::from_secs(120), |ev| ev.len() >= 3);
    // The delete, and a small document after it: the partition is not
    // stuck behind the large records.
    py(&format!(
        "c['{db}'].big.delete_one({{'_id': 1}})\nc['{db}'].big.insert_one({{'_id': 2, 'n': 4}})"
    ));
    tail.until(
        "the delete, its tombstone and the next insert",
        Duration::from_secs(120),
        |ev| has_id(ev, "2"),
    );
    let ev = &tail.events;
    let ops: Vec<&str> = ev.iter().map(Event::op).collect();
    assert_eq!(ops, ["c", "u", "u", "d", "", "c"], "ops");
    assert_eq!(
        big_field(&ev[0], "after").as_deref(),
        Some(big1.as_str()),
        "insert"
    );
    let after = ev[1].after().unwrap();
    assert_eq!(after["n"], 2);
    assert!(
        after["big"].as_str() == Some(big1.as_str()),
        "update's post-image"
    );
    let updated: Value = serde_json::from_str(
        ev[1].value.as_ref().unwrap()["updateDescription"]["updatedFields"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(updated, json!({"n": 2}));
    assert_eq!(
        big_field(&ev[2], "after").as_deref(),
        Some(big2.as_str()),
        "replace"
    );
    assert_eq!(ev[2].after().unwrap()["n"], 3);
    assert_eq!((ev[3].id.as_str(), ev[4].id.as_str()), ("1", "1"));
    assert!(ev[4].value.is_none(), "tombstone");
    py(&format!("c.drop_database('{db}')"));
}

#[test]
fn an_event_over_16_mb_fails_naming_the_remedy_then_split_joins_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_mongodb();
    let bootstrap = kafka_bootstrap();
    let db = unique("bigevent").replace('-', "_");
    const N: usize = 16_000_000;
    // Pre-images on, and a 16 MB document from before the connector.
    py(&format!(
        "c['{db}'].create_collection('pre')\nc['{db}'].command({{'collMod': 'pre', 'changeStreamPreAndPostImages': {{'enabled': True}}}})\nc['{db}'].pre.insert_one({{'_id': 1, 'big': 'a' * {N}}})"
    ));
    let dir = TempDir::new("mongo-bigevent");
    let s = worker_at(&dir, &bootstrap);
    let prefix = unique("mbigev");
    let name = unique("mongo-bigevent");
    let mut cfg = base_config(&prefix, &db);
    cfg["capture.mode"] = json!("change_streams_update_full_with_pre_image");
    cfg["snapshot.mode"] = json!("no_data");
    cfg["producer.override.max.request.size"] = json!("62914560");
    cfg["producer.override.compression.type"] = json!("gzip");
    cfg["topic.creation.default.max.message.bytes"] = json!("62914560");
    create(&s, &name, cfg.clone());
    let topic = format!("{prefix}.{db}.pre");
    let mut tail = TopicTail::at(&bootstrap, &topic);
    // A small change first, so that the connector has an offset to resume from.
    wait_for("a committed offset", Duration::from_secs(60), || {
        py(&format!(
            "c['{db}'].pre.update_one({{'_id': 0}}, {{'$inc': {{'k': 1}}}}, upsert=True)"
        ));
        let v = s.get(&format!("/connectors/{name}/offsets")).json();
        (v["offsets"].as_array().map(|a| !a.is_empty()) == Some(true)).then_some(())
    });
    // Before (16 MB) + after (16 MB) + updatedFields (16 MB): a 48 MB event.
    py(&format!(
        "c['{db}'].pre.update_one({{'_id': 1}}, {{'$set': {{'big': 'b' * {N}}}}})"
    ));
    let status = s.wait_status(&name, "FAILED on the 48 MB event", |v| {
        v["tasks"][0]["state"] == "FAILED"
    });
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("too large") && trace.contains("cursor.oversize.handling.mode=split"),
        "{trace}"
    );
    // The remedy: split, and restart.
    cfg["cursor.oversize.handling.mode"] = json!("split");
    let r = s.put(&format!("/connectors/{name}/config"), &cfg.to_string());
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let r = s.post(&format!("/connectors/{name}/tasks/0/restart"), "");
    assert!(r.status < 300, "{}", r.body);
    py(&format!("c['{db}'].pre.insert_one({{'_id': 2}})"));
    tail.until(
        "the joined update and the insert after it",
        Duration::from_secs(180),
        |ev| has_id(ev, "2"),
    );
    let up = tail
        .events
        .iter()
        .find(|e| e.id == "1" && e.op() == "u")
        .expect("the update of document 1");
    assert_eq!(big_field(up, "before").map(|b| b.len()), Some(N));
    let after = big_field(up, "after").unwrap();
    assert!(
        after.len() == N && after.bytes().all(|b| b == b'b'),
        "after"
    );
    let updated: Value = serde_json::from_str(
        up.value.as_ref().unwrap()["updateDescription"]["updatedFields"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(updated["big"].as_str().map(str::len), Some(N));
    assert_eq!(
        tail.events.iter().filter(|e| e.id == "1").count(),
        1,
        "one event for the update, not one per fragment"
    );
    s.wait_status(&name, "RUNNING after the split", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    py(&format!("c.drop_database('{db}')"));
}

#[test]
fn skip_leaves_out_events_whose_images_exceed_the_threshold() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_mongodb();
    let db = unique("bigskip").replace('-', "_");
    py(&format!("c['{db}'].create_collection('s')"));
    let dir = TempDir::new("mongo-bigskip");
    let s = worker(&dir);
    let prefix = unique("mbigskip");
    let name = unique("mongo-bigskip");
    let mut cfg = base_config(&prefix, &db);
    cfg["cursor.oversize.handling.mode"] = json!("skip");
    cfg["cursor.oversize.skip.threshold"] = json!("1000000");
    create(&s, &name, cfg);
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    py(&format!(
        "t = c['{db}'].s\nt.insert_one({{'_id': 1, 'v': 'small'}})\nt.insert_one({{'_id': 2, 'big': 'x' * 2_000_000}})\nt.update_one({{'_id': 1}}, {{'$set': {{'v': 'y' * 2_000_000}}}})\nt.insert_one({{'_id': 3, 'v': 'small'}})"
    ));
    let mut tail = TopicTail::new(&format!("{prefix}.{db}.s"));
    tail.until(
        "the insert after the large ones",
        Duration::from_secs(60),
        |ev| has_id(ev, "3"),
    );
    let seen: Vec<(&str, &str)> = tail
        .events
        .iter()
        .map(|e| (e.id.as_str(), e.op()))
        .collect();
    assert_eq!(
        seen,
        [("1", "c"), ("3", "c")],
        "the 2 MB insert and the update that made a 2 MB document are left out"
    );
    // A skip without a threshold is refused, naming the key.
    let mut bad = base_config(&prefix, &db);
    bad["cursor.oversize.handling.mode"] = json!("skip");
    let r = s.put(
        "/connector-plugins/io.debezium.connector.mongodb.MongoDbConnector/config/validate",
        &bad.to_string(),
    );
    assert!(
        r.body.contains("cursor.oversize.skip.threshold"),
        "{}",
        r.body
    );
    py(&format!("c.drop_database('{db}')"));
}

#[test]
fn oplog_mode_takes_60_mb_of_large_entries_and_look_ups_in_a_row() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_mongodb();
    let bootstrap = kafka_bootstrap();
    let db = unique("bigmany").replace('-', "_");
    py(&format!("c['{db}'].create_collection('many')"));
    let dir = TempDir::new("mongo-bigmany");
    let s = worker_at(&dir, &bootstrap);
    let prefix = unique("mbigmany");
    let name = unique("mongo-bigmany");
    let mut cfg = base_config(&prefix, &db);
    cfg["capture.mode"] = json!("oplog");
    cfg["producer.override.max.request.size"] = json!("20971520");
    cfg["topic.creation.default.max.message.bytes"] = json!("20971520");
    create(&s, &name, cfg);
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    // Four 15 MB inserts, then an update of each (four 15 MB look-ups):
    // 60 MB of entries, then of documents, more than the driver's 48 MB
    // maximum reply if they came in one batch.
    py(&format!(
        "t = c['{db}'].many\nt.insert_many([{{'_id': i, 'big': chr(97 + i) * 15_000_000}} for i in range(4)])\nt.update_many({{}}, {{'$set': {{'n': 1}}}})\nt.insert_one({{'_id': 9}})"
    ));
    let mut tail = TopicTail::at(&bootstrap, &format!("{prefix}.{db}.many"));
    tail.until(
        "the insert after the large ones",
        Duration::from_secs(240),
        |ev| has_id(ev, "9"),
    );
    for i in 0..4u8 {
        let events: Vec<&Event> = tail
            .events
            .iter()
            .filter(|e| e.id == i.to_string())
            .collect();
        let ops: Vec<&str> = events.iter().map(|e| e.op()).collect();
        assert_eq!(ops, ["c", "u"], "document {i}");
        let want = char::from(b'a' + i).to_string().repeat(15_000_000);
        assert!(
            big_field(events[0], "after") == Some(want.clone()),
            "insert of {i}"
        );
        let after = events[1].after().unwrap();
        assert!(
            after["n"] == 1 && after["big"].as_str() == Some(want.as_str()),
            "update of {i}"
        );
    }
    py(&format!("c.drop_database('{db}')"));
}
