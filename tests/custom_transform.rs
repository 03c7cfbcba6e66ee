//! A custom transform in a user's own binary (examples/custom_transform.rs),
//! used by a connector created over REST, end to end through the broker.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use serde_json::json;

fn example_binary() -> PathBuf {
    // `cargo test` builds the examples next to the binaries.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sluice"));
    let p = bin
        .parent()
        .unwrap()
        .join("examples")
        .join("custom_transform");
    if !p.exists() {
        // `cargo test --test custom_transform` alone does not build examples.
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--example", "custom_transform"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "cargo build --example custom_transform failed"
        );
    }
    assert!(p.exists(), "{} is missing after building it", p.display());
    p
}

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
    let s = Sluice::start_program(&example_binary(), worker, port, dir.path());
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
