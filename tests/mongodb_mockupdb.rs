//! The MongoDB connector against a scripted mongod (mockupdb,
//! tests/mongodb_mockupdb.py) and the real broker: capture.mode=oplog
//! decoding local.oplog.rs entries exactly as mongod 7.0 writes them
//! (inserts, `$v: 2` diffs with nested and array sections, a legacy `$set`
//! update, a replacement, deletes, an applyOps transaction, commands and
//! noops) through a tailable find and getMores, with the connection
//! dropped in the middle: every change arrives once, in order. And
//! mongod's error 286 (ChangeStreamHistoryLost) on the change stream
//! path: the task FAILED with the remedy in its trace.

mod common;
mod mongodb_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use mongodb_support::*;
use serde_json::{json, Value};

/// The mock server process, killed on drop.
struct MockMongod {
    child: Child,
    uri: String,
}

impl MockMongod {
    fn start(mode: &str) -> MockMongod {
        let script = manifest_dir().join("tests/mongodb_mockupdb.py");
        let port = free_port();
        let mut child = Command::new(python())
            .arg(script)
            .args(["--port", &port.to_string(), "--mode", mode])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}); create the venv with scripts/pyenv",
                    python()
                )
            });
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let n = BufReader::new(stdout).read_line(&mut line).unwrap_or(0);
        assert!(
            n > 0 && line.starts_with("READY"),
            "the mockupdb server did not start (is mockupdb installed? run scripts/pyenv): {line:?}"
        );
        MockMongod {
            child,
            uri: format!(
                "mongodb://127.0.0.1:{port}/?directConnection=true&heartbeatFrequencyMS=500"
            ),
        }
    }
}

impl Drop for MockMongod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn updated_fields(e: &Event) -> Value {
    let v = e.value.as_ref().expect("a value");
    serde_json::from_str(
        v["updateDescription"]["updatedFields"]
            .as_str()
            .expect("updatedFields"),
    )
    .expect("JSON")
}

#[test]
fn oplog_mode_decodes_mongods_own_entries_and_survives_a_dropped_connection() {
    let mock = MockMongod::start("oplog");
    let dir = TempDir::new("mongo-mock-oplog");
    let s = worker(&dir);
    let prefix = unique("mmock");
    let name = unique("mongo-mock-oplog");
    let mut cfg = base_config_at(&mock.uri, &prefix, "shop");
    cfg["capture.mode"] = json!("oplog");
    cfg["snapshot.mode"] = json!("never");
    create(&s, &name, cfg);

    let mut orders = TopicTail::new(&format!("{prefix}.shop.orders"));
    orders.until(
        "every change of shop.orders",
        Duration::from_secs(120),
        |ev| has_id(ev, "4"),
    );
    let oid = r#"{"$oid": "65a000000000000000000001"}"#;
    let got: Vec<(&str, &str)> = orders
        .events
        .iter()
        .map(|e| (e.op(), e.id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("c", oid),
            ("c", "2"),
            ("u", oid),
            ("u", "2"),
            ("d", "99"),
            ("", "99"),
            ("u", "2"),
            ("d", oid),
            ("", oid),
            ("c", "4"),
        ],
        "each change once, in oplog order, across the dropped connection"
    );
    let ev = &orders.events;
    assert_eq!(
        ev[0].after().unwrap(),
        json!({"_id": {"$oid": "65a000000000000000000001"}, "item": "apple", "qty": 1, "tags": ["x", "y"]})
    );
    // $v:2 diff: u (updated), i (inserted), an array section.
    assert_eq!(
        updated_fields(&ev[2]),
        json!({"qty": 3, "note": "n", "tags.1": "z"})
    );
    assert!(
        ev[2].after().is_none(),
        "deleted since: the look-up finds nothing"
    );
    // The transaction's update: a nested section with u and d.
    assert_eq!(updated_fields(&ev[3]), json!({"addr.city": "Bergen"}));
    let v3 = ev[3].value.as_ref().unwrap();
    assert_eq!(
        v3["updateDescription"]["removedFields"],
        json!(["addr.zip"])
    );
    assert_eq!(v3["source"]["txnNumber"], json!(7));
    assert!(
        v3["source"]["lsid"].as_str().unwrap().contains("\"id\""),
        "{v3}"
    );
    assert_eq!(
        ev[4].value.as_ref().unwrap()["source"]["txnNumber"],
        json!(7)
    );
    // Legacy $set, with the looked-up document as after.
    assert_eq!(updated_fields(&ev[6]), json!({"qty": 6}));
    assert_eq!(
        ev[6].after().unwrap(),
        json!({"_id": 2, "item": "pear", "qty": 6, "addr": {"city": "Bergen"}})
    );
    assert!(ev[6].value.as_ref().unwrap()["source"]["lsid"].is_null());
    let src = &ev[9].value.as_ref().unwrap()["source"];
    assert_eq!(
        (src["db"].as_str(), src["collection"].as_str()),
        (Some("shop"), Some("orders"))
    );
    assert_eq!(
        src["ts_ms"],
        json!(1_700_000_000_012_i64),
        "the entry's wall time"
    );
    assert_eq!(src["ord"], json!(12));

    let mut lines = TopicTail::new(&format!("{prefix}.shop.lines"));
    lines.until(
        "the two changes of shop.lines",
        Duration::from_secs(60),
        |ev| ev.len() >= 2,
    );
    let l = &lines.events;
    assert_eq!((l[0].op(), l[1].op()), ("c", "u"));
    assert_eq!(l[0].after().unwrap(), json!({"_id": 3, "sku": "c-1"}));
    assert_eq!(
        l[0].value.as_ref().unwrap()["source"]["txnNumber"],
        json!(7)
    );
    assert_eq!(
        l[1].after().unwrap(),
        json!({"_id": 3, "sku": "c-2"}),
        "a replacement"
    );
    assert!(l[1].value.as_ref().unwrap()["updateDescription"].is_null());

    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
    // The committed position: the sentinel's ts.
    wait_for(
        "the offset of the last entry",
        Duration::from_secs(30),
        || {
            let v = s.get(&format!("/connectors/{name}/offsets")).json();
            let off = &v["offsets"][0]["offset"];
            (off["sec"] == json!(1_700_000_000) && off["ord"] == json!(12)).then_some(())
        },
    );
}

#[test]
fn change_stream_history_lost_286_from_mongod_fails_with_the_remedy() {
    let mock = MockMongod::start("history-lost");
    let dir = TempDir::new("mongo-mock-lost");
    let s = worker(&dir);
    let prefix = unique("mmlost");
    let name = unique("mongo-mock-lost");
    let mut cfg = base_config_at(&mock.uri, &prefix, "shop");
    cfg["snapshot.mode"] = json!("never");
    let r = s.post(
        "/connectors",
        &json!({"name": name, "config": cfg}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let st = s.wait_status(&name, "FAILED (ChangeStreamHistoryLost)", |v| {
        v["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(trace.contains("286"), "{trace}");
    assert!(trace.contains("snapshot.mode=when_needed"), "{trace}");
    assert!(trace.contains("DELETE /connectors/"), "{trace}");
}
