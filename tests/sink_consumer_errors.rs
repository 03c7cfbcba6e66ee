//! A sink whose consumer fails for good goes FAILED with the cause and the
//! remedy, as Kafka Connect's task does when `poll` throws, instead of
//! logging a warning and staying RUNNING while it reads nothing. The fatal
//! error here is a real one from the broker: two tasks given the same
//! static member id (`consumer.override.group.instance.id`), so the broker
//! fences one of them.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[test]
fn a_fenced_sink_consumer_fails_its_task_with_the_remedy() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("sink-fenced");
    let s = Sluice::start(
        dir.path(),
        &[(
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        )],
    );
    let topic = unique("fenced-in");
    create_topic(&bootstrap, &topic, 2, &[]);
    produce_strings(&bootstrap, &topic, &["x", "y"]);
    let name = unique("fenced-sink");
    let body = json!({"name": name, "config": {
        "connector.class": "FileStreamSink", "file": dir.path().join("out.txt"),
        "topics": topic, "tasks.max": "2",
        "consumer.override.group.instance.id": unique("same-member")}});
    assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    let st = wait_for("a FAILED task", Duration::from_secs(90), || {
        let v: Value = s.get(&format!("/connectors/{name}/status")).json();
        let tasks = v["tasks"].as_array()?;
        tasks.iter().find(|t| t["state"] == "FAILED").cloned()
    });
    let trace = st["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("failed for good"), "{trace}");
    assert!(trace.contains("group.instance.id"), "{trace}");
}
