//! A source connector written against `sluice-api` alone, in a user's own
//! binary (examples/custom_source.rs): listed as a plugin, validated, run over
//! REST into the broker, and resumed from its committed offset after the
//! worker restarts, with no number lost or repeated.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Key (INT64 in a JSON envelope) and value of each record, in order.
fn numbers(recs: &[Record]) -> Vec<(i64, String)> {
    recs.iter()
        .map(|r| {
            let key: Value = serde_json::from_slice(r.key.as_deref().unwrap()).unwrap();
            let value: Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
            assert_eq!(key["schema"]["type"], "int64", "{key}");
            (
                key["payload"].as_i64().unwrap(),
                value["payload"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_custom_source_runs_and_resumes_from_its_offset() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("custom-source");
    let program = example_binary("custom_source");
    let (worker, port) = Sluice::worker_config(dir.path(), &[]);
    let mut s = Sluice::start_program(&program, worker.clone(), port, dir.path());

    let plugins = s.get("/connector-plugins").json();
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == "com.example.CounterSource" && p["type"] == "source"),
        "{plugins}"
    );
    // Its own validation, through Kafka Connect's validate endpoint.
    let bad = s.put(
        "/connector-plugins/CounterSource/config/validate",
        &json!({"name": "v", "connector.class": "CounterSource", "topic": "t", "count": "-1"})
            .to_string(),
    );
    assert_eq!(bad.status, 200, "{}", bad.body);
    let bad = bad.json();
    assert_eq!(bad["error_count"], 1, "{bad}");
    let count = bad["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "count");
    assert_eq!(
        count.unwrap()["value"]["errors"][0],
        "must be 0 or more",
        "{bad}"
    );

    let topic = unique("counter");
    let name = unique("counter");
    let config = |count: u32| {
        json!({"connector.class": "com.example.CounterSource", "topic": topic,
               "count": count.to_string(), "batch.size": "7"})
    };
    let r = s.post(
        "/connectors",
        &json!({"name": name, "config": config(25)}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let first = numbers(&consume(&bootstrap, &topic, 25, Duration::from_secs(60)));
    let want: Vec<(i64, String)> = (0..25).map(|n| (n, format!("tick {n}"))).collect();
    assert_eq!(first, want);
    // The offset the task reported, as Kafka Connect's offsets API shows it.
    let offsets = wait_for("offset next=25", Duration::from_secs(30), || {
        let v = s.get(&format!("/connectors/{name}/offsets")).json();
        (v["offsets"][0]["offset"]["next"] == 25).then_some(v)
    });
    assert_eq!(
        offsets["offsets"][0]["partition"]["counter"],
        name.as_str(),
        "{offsets}"
    );

    // A clean restart, then more numbers asked for: the task resumes at 25.
    s.terminate();
    let s = Sluice::start_program(&program, worker, port, dir.path());
    s.wait_status(&name, "task RUNNING", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    let r = s.put(
        &format!("/connectors/{name}/config"),
        &config(40).to_string(),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let all = numbers(&consume(&bootstrap, &topic, 40, Duration::from_secs(60)));
    let want: Vec<(i64, String)> = (0..40).map(|n| (n, format!("tick {n}"))).collect();
    assert_eq!(all, want, "numbers lost or repeated across the restart");
}
