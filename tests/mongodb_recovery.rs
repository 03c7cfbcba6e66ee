//! The MongoDB connector rides out a database killed with SIGKILL and
//! started again mid-stream (a private SecantusDB on its own data), in both
//! capture modes: every document written before, during and after the
//! outage is read back from the broker, and the task is RUNNING without
//! anyone restarting it. Duplicates are allowed (at-least-once).

mod common;
mod mongodb_support;

use std::time::Duration;

use common::*;
use mongodb_support::*;

fn survives_a_server_kill(mode: &str) {
    let mut server = RestartableMongo::start();
    let db = unique("mrec").replace('-', "_");
    py_at(&server.uri, &format!("c['{db}'].create_collection('r')"));
    let dir = TempDir::new("mongo-server-kill");
    let s = worker(&dir);
    let prefix = unique("mrec");
    let name = unique("mongo-server-kill");
    let mut cfg = base_config_at(&server.uri, &prefix, &db);
    cfg["capture.mode"] = serde_json::json!(mode);
    create(&s, &name, cfg);
    s.wait_status(&name, "the snapshot to finish", |v| {
        v["tasks"][0]["progress"]["phase"] == "streaming"
    });
    let uri = server.uri.clone();
    let insert = |from: i32, to: i32| {
        py_at(
            &uri,
            &format!(
                "c['{db}'].r.insert_many([{{'_id': i, 'v': i}} for i in range({from}, {to})])"
            ),
        );
    };
    let mut tail = TopicTail::new(&format!("{prefix}.{db}.r"));
    insert(0, 200);
    tail.until("the first 200 documents", Duration::from_secs(60), |ev| {
        has_id(ev, "199")
    });
    server.kill9();
    server.start_again();
    insert(200, 400);
    tail.until(
        "documents written after the server came back",
        Duration::from_secs(120),
        |ev| (0..400).all(|i| has_id(ev, &i.to_string())),
    );
    s.wait_status(&name, "RUNNING after the server came back", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
}

#[test]
fn change_streams_survive_a_server_kill_9() {
    survives_a_server_kill("change_streams_update_full");
}

#[test]
fn oplog_survives_a_server_kill_9() {
    survives_a_server_kill("oplog");
}
