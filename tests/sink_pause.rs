//! A sink that is paused takes nothing while paused and loses nothing when
//! resumed: records fetched during the pause are delivered after it, and no
//! consumer offset moves past a record the sink did not get. Covers a sink
//! created PAUSED (KIP-980 `initial_state`), which joins its group and gets
//! its partitions while paused, and a pause across a rebalance (a topic
//! added to a `topics.regex` subscription while paused).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits (bounded) until the sink file has `n` lines; returns them.
fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    poll(Duration::from_secs(60), || {
        let l = lines(path);
        (l.len() >= n).then_some(l)
    })
    .unwrap_or_else(|| lines(path))
}

/// Holds the connector paused for `for_` while checking, at each poll, that
/// it stays PAUSED and writes nothing.
fn stays_paused(s: &Sluice, name: &str, out: &Path, for_: Duration) {
    let end = Instant::now() + for_;
    while Instant::now() < end {
        let st = s.get(&format!("/connectors/{name}/status")).json();
        assert_eq!(st["connector"]["state"], "PAUSED", "{st}");
        assert!(
            lines(out).is_empty(),
            "a paused sink wrote {:?}",
            lines(out)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_sink_created_paused_delivers_everything_once_resumed() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("sink-paused");
    let s = Sluice::start(
        dir.path(),
        &[(
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        )],
    );
    let topic = unique("paused-in");
    create_topic(&bootstrap, &topic, 2, &[]);
    let before: Vec<String> = (0..20).map(|i| format!("before-{i}")).collect();
    produce_strings(
        &bootstrap,
        &topic,
        &before.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let out = dir.path().join("out.txt");
    let name = unique("paused-sink");
    let body = json!({"name": name, "initial_state": "PAUSED", "config": {
        "connector.class": "FileStreamSink", "file": out, "topics": topic}});
    let r = s.post("/connectors", &body.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    s.wait_status(&name, "task PAUSED", |v| v["tasks"][0]["state"] == "PAUSED");
    // Long enough for the task to join its group, get both partitions and
    // keep its membership alive with polls.
    stays_paused(&s, &name, &out, Duration::from_secs(8));
    let during: Vec<String> = (0..10).map(|i| format!("during-{i}")).collect();
    produce_strings(
        &bootstrap,
        &topic,
        &during.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    stays_paused(&s, &name, &out, Duration::from_secs(3));

    let r = s.put(&format!("/connectors/{name}/resume"), "");
    assert_eq!(r.status, 202, "{}", r.body);
    let mut want: Vec<String> = before.into_iter().chain(during).collect();
    want.sort();
    let mut got = wait_lines(&out, want.len());
    got.sort();
    got.dedup();
    assert_eq!(got, want, "records lost across the pause");
}

#[test]
fn a_pause_across_a_rebalance_loses_nothing() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("sink-pause-rebalance");
    let s = Sluice::start(
        dir.path(),
        &[(
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        )],
    );
    let prefix = unique("pause-rb");
    let first = format!("{prefix}-a");
    create_topic(&bootstrap, &first, 1, &[]);
    produce_strings(&bootstrap, &first, &["a-0", "a-1"]);
    let out = dir.path().join("out.txt");
    let name = unique("pause-rb-sink");
    let body = json!({"name": name, "config": {
        "connector.class": "FileStreamSink", "file": out,
        "topics.regex": format!("{prefix}-.*"),
        "consumer.override.topic.metadata.refresh.interval.ms": "1000"}});
    assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    assert_eq!(wait_lines(&out, 2).len(), 2);
    std::fs::write(&out, "").unwrap();

    assert_eq!(s.put(&format!("/connectors/{name}/pause"), "").status, 202);
    s.wait_status(&name, "task PAUSED", |v| v["tasks"][0]["state"] == "PAUSED");
    // A new matching topic while paused: the group rebalances and the task
    // gets a partition that it never paused.
    let second = format!("{prefix}-b");
    create_topic(&bootstrap, &second, 1, &[]);
    produce_strings(&bootstrap, &second, &["b-0", "b-1", "b-2"]);
    produce_strings(&bootstrap, &first, &["a-2"]);
    stays_paused(&s, &name, &out, Duration::from_secs(8));

    assert_eq!(s.put(&format!("/connectors/{name}/resume"), "").status, 202);
    let mut got = wait_lines(&out, 4);
    got.sort();
    got.dedup();
    assert_eq!(
        got,
        ["a-2", "b-0", "b-1", "b-2"],
        "records lost across the pause"
    );
}
