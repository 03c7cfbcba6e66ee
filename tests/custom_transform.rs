//! A custom transform in a user's own binary (examples/custom_transform.rs),
//! used by a connector created over REST, end to end through the broker.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[test]
fn user_binary_with_a_custom_transform_runs_it_in_a_connector() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("custom-transform");
    let (worker, port) = Sluice::worker_config(
        dir.path(),
        &[(
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        )],
    );
    let s = Sluice::start_program(
        &example_binary("custom_transform"),
        worker,
        port,
        dir.path(),
    );
    let plugins = s.get("/connector-plugins?connectorsOnly=false").json();
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == "com.example.Uppercase" && p["type"] == "transformation"),
        "{plugins}"
    );
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "hello\nsluice\n").unwrap();
    let topic = unique("custom-transform");
    let body = json!({"name": unique("upper"), "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": topic,
        "transforms": "up", "transforms.up.type": "Uppercase"}});
    let r = s.post("/connectors", &body.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let recs = consume(&bootstrap, &topic, 2, Duration::from_secs(30));
    let values: Vec<String> = recs
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(values, vec!["HELLO", "SLUICE"]);
}

/// errors.retry.timeout: a transform failing with a retriable error is
/// retried with backoff and the records arrive once it recovers; one that
/// stays down past the timeout fails its task (errors.tolerance=none) with
/// the reason in the status trace, and the other connector keeps running.
#[test]
fn retriable_transform_errors_are_retried_until_errors_retry_timeout() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("retry-transform");
    let (worker, port) = Sluice::worker_config(
        dir.path(),
        &[(
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        )],
    );
    let s = Sluice::start_program(
        &example_binary("custom_transform"),
        worker,
        port,
        dir.path(),
    );
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "one\ntwo\n").unwrap();
    let connector = |name: &str, topic: &str, failures: &str, timeout: &str| {
        json!({"name": name, "config": {
            "connector.class": "FileStreamSource", "file": input, "topic": topic,
            "transforms": "lookup", "transforms.lookup.type": "FlakyLookup",
            "transforms.lookup.failures": failures,
            "errors.retry.timeout": timeout, "errors.retry.delay.max.ms": "400",
            "errors.log.enable": "true"}})
        .to_string()
    };

    // Three failed calls: retried after 300, 400 and 400 ms, then it works.
    let recovers = unique("retry-recovers");
    let topic = unique("retry-recovers");
    let started = std::time::Instant::now();
    let r = s.post("/connectors", &connector(&recovers, &topic, "3", "30000"));
    assert_eq!(r.status, 201, "{}", r.body);
    // The topic appears only once the retries are over: a reader that
    // subscribed before would not see it until its next metadata refresh,
    // so each attempt is a fresh reader.
    let recs = wait_for("both records in the topic", Duration::from_secs(60), || {
        let recs = consume(&bootstrap, &topic, 2, Duration::from_secs(3));
        (recs.len() == 2).then_some(recs)
    });
    let values: Vec<String> = recs
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(values, vec!["one", "two"]);
    assert!(
        started.elapsed() >= Duration::from_millis(1100),
        "three retries wait 300 + 400 + 400 ms, yet the records came after {:?}",
        started.elapsed()
    );
    assert!(
        s.log_text().contains("the lookup service is down"),
        "errors.log.enable logs each retry:\n{}",
        s.log_text()
    );

    // Always down: after errors.retry.timeout (1 s) the task fails.
    let down = unique("retry-down");
    let r = s.post(
        "/connectors",
        &connector(&down, &unique("retry-down"), "1000000", "1000"),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let status = s.wait_status(&down, "a FAILED task", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("the lookup service is down")
            && trace.contains("errors.retry.timeout exceeded")
            && trace.contains("errors.tolerance=none"),
        "{status}"
    );
    let other = s.get(&format!("/connectors/{recovers}/status")).json();
    assert_eq!(other["tasks"][0]["state"], "RUNNING", "{other}");
    assert_eq!(other["connector"]["state"], "RUNNING", "{other}");
    // Counted as Kafka Connect's task-error-metrics: three failed calls,
    // three retries, no record lost to an error.
    let errors = &other["tasks"][0]["errors"];
    assert_eq!(errors["total-record-failures"], 3, "{other}");
    assert_eq!(errors["total-retries"], 3, "{other}");
    assert_eq!(errors["total-record-errors"], 0, "{other}");
    assert_eq!(
        status["tasks"][0]["errors"]["total-record-errors"], 1,
        "{status}"
    );
}
