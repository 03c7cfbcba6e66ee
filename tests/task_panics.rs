//! A plugin that panics fails its task: the status shows FAILED with the
//! panic message as the trace (so auto-restart and operators see it), the
//! records before the panic are delivered, and the worker and its other
//! connectors keep running. Before this, a panic in a transform, `poll` or
//! `put` left the task RUNNING and idle for ever. Fixtures:
//! examples/misbehaving_plugins.rs.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn start(dir: &TempDir) -> Sluice {
    let (worker, port) = Sluice::worker_config(
        dir.path(),
        &[(
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        )],
    );
    Sluice::start_program(
        &example_binary("misbehaving_plugins"),
        worker,
        port,
        dir.path(),
    )
}

fn failed_trace(s: &Sluice, name: &str) -> String {
    let st = s.wait_status(name, "task FAILED", |v| v["tasks"][0]["state"] == "FAILED");
    st["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn values(bootstrap: &str, topic: &str, n: usize) -> Vec<String> {
    consume(bootstrap, topic, n, Duration::from_secs(30))
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect()
}

#[test]
fn a_panicking_transform_fails_its_task_and_spares_the_rest() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("panic-transform");
    let s = start(&dir);
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "one\ntwo\npanic\nthree\n").unwrap();
    let topic = unique("panic-transform");
    let name = unique("panicky");
    let body = json!({"name": name, "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": topic,
        "transforms": "p", "transforms.p.type": "PanicOn"}});
    assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    let trace = failed_trace(&s, &name);
    assert!(trace.contains("PanicOn met the value \"panic\""), "{trace}");
    assert!(trace.contains("panicked"), "{trace}");
    assert_eq!(values(&bootstrap, &topic, 2), ["one", "two"]);

    // The worker still serves and runs other connectors.
    let other_topic = unique("after-panic");
    let other_in = dir.path().join("other.txt");
    std::fs::write(&other_in, "fine\n").unwrap();
    let other = json!({"name": unique("healthy"), "config": {
        "connector.class": "FileStreamSource", "file": other_in, "topic": other_topic}});
    assert_eq!(s.post("/connectors", &other.to_string()).status, 201);
    assert_eq!(values(&bootstrap, &other_topic, 1), ["fine"]);
    // And the failed task restarts on request (then fails again on the same line).
    let r = s.post(&format!("/connectors/{name}/tasks/0/restart"), "");
    assert!(
        r.status == 204 || r.status == 202,
        "{} {}",
        r.status,
        r.body
    );
    let st = s.wait_status(&name, "a restarted task", |v: &Value| {
        v["tasks"][0]["state"] == "FAILED" || v["tasks"][0]["state"] == "RUNNING"
    });
    assert!(st["tasks"][0].is_object(), "{st}");
}

#[test]
fn a_panic_in_poll_fails_the_source_task_after_delivering_its_records() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("panic-poll");
    let s = start(&dir);
    let topic = unique("panic-poll");
    let name = unique("panicking-source");
    let body = json!({"name": name, "config": {
        "connector.class": "PanickingSource", "topic": topic, "count": "3"}});
    assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    let trace = failed_trace(&s, &name);
    assert!(
        trace.contains("PanickingSource's poll panicked after 3 records"),
        "{trace}"
    );
    assert_eq!(
        values(&bootstrap, &topic, 3),
        ["tick 0", "tick 1", "tick 2"]
    );
}

#[test]
fn a_panic_in_put_fails_the_sink_task() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("panic-put");
    let s = start(&dir);
    let topic = unique("panic-put");
    create_topic(&bootstrap, &topic, 1, &[]);
    produce_strings(&bootstrap, &topic, &["fine", "panic"]);
    let name = unique("panicking-sink");
    let body = json!({"name": name, "config": {
        "connector.class": "PanickingSink", "topics": topic}});
    assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    let trace = failed_trace(&s, &name);
    assert!(
        trace.contains("PanickingSink's put met the value"),
        "{trace}"
    );
}
