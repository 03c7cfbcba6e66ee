//! FileStreamSource → Kafka → FileStreamSink through the REST API, against
//! the real broker: lines arrive byte-identical and in order, also across a
//! kill -9 of the worker.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::json;

const LINES: usize = 100_000;

fn write_input(path: &Path) -> Vec<String> {
    let lines: Vec<String> = (0..LINES)
        .map(|i| format!("line {i:06} payload {}", "x".repeat(i % 40)))
        .collect();
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
    lines
}

fn count_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

fn create_pipeline(s: &Sluice, name: &str, input: &Path, output: &Path, topic: &str) {
    let src = json!({"name": format!("{name}-src"), "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": topic}});
    let r = s.post("/connectors", &src.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let sink = json!({"name": format!("{name}-sink"), "config": {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "file": output, "topics": topic}});
    let r = s.post("/connectors", &sink.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
}

const STRING: &str = "org.apache.kafka.connect.storage.StringConverter";

#[test]
fn moves_100k_lines_byte_identical_and_in_order() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("file-pipeline");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    write_input(&input);
    let topic = unique("file-lines");
    let s = Sluice::start(
        dir.path(),
        &[("key.converter", STRING), ("value.converter", STRING)],
    );
    // A fresh connector name: a test never shares state with another run.
    let name = unique("clean");
    create_pipeline(&s, &name, &input, &output, &topic);
    wait_for(
        "all lines in the sink file",
        Duration::from_secs(180),
        || (count_lines(&output) >= LINES).then_some(()),
    );
    // Flushes land as whole batches; give the sink no chance to add more.
    assert_eq!(
        std::fs::read(&output).unwrap(),
        std::fs::read(&input).unwrap(),
        "sink file differs from source file"
    );
    let in_topic = consume(&bootstrap, &topic, LINES, Duration::from_secs(60));
    assert_eq!(in_topic.len(), LINES);
    assert_eq!(
        in_topic[0].value.as_deref(),
        Some(&b"line 000000 payload "[..])
    );
    let status = s.get(&format!("/connectors/{name}-src/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}

#[test]
fn every_line_arrives_after_kill_9_midway() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("file-kill");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    let lines: Vec<String> = (0..LINES)
        .map(|i| format!("line {i:06} payload {}", "y".repeat(i % 40)))
        .collect();
    let append = |range: std::ops::Range<usize>| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&input)
            .unwrap();
        let mut text = lines[range].join("\n");
        text.push('\n');
        f.write_all(text.as_bytes()).unwrap();
    };
    // The first half is in the file when the worker dies mid-way through it;
    // the second half is written while it is down.
    append(0..LINES / 2);
    let topic = unique("file-kill");
    let mut s = Sluice::start(
        dir.path(),
        &[("key.converter", STRING), ("value.converter", STRING)],
    );
    let name = unique("kill");
    create_pipeline(&s, &name, &input, &output, &topic);
    wait_for(
        "a quarter of the lines in the sink file",
        Duration::from_secs(180),
        || (count_lines(&output) >= LINES / 4).then_some(()),
    );
    s.kill9();
    let at_kill = count_lines(&output);
    append(LINES / 2..LINES);
    // The connectors come back from the config file, offsets from the offset file.
    let s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
    let st = s.wait_status(&format!("{name}-src"), "RUNNING", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(st["connector"]["state"], "RUNNING");

    let expected: HashSet<&str> = lines.iter().map(String::as_str).collect();
    let got = wait_for(
        "every line in the sink file after restart",
        Duration::from_secs(180),
        || {
            let text = std::fs::read_to_string(&output).unwrap_or_default();
            let seen: HashSet<&str> = text.lines().collect();
            (expected.iter().all(|l| seen.contains(l))).then(|| text.clone())
        },
    );
    let out: Vec<&str> = got.lines().collect();
    // Duplicates are replays of records after the last commit; dropping
    // repeats must leave exactly the input, in order.
    let mut first = HashSet::new();
    let dedup: Vec<&str> = out.iter().copied().filter(|l| first.insert(*l)).collect();
    assert_eq!(dedup.len(), LINES);
    assert!(
        dedup
            .iter()
            .zip(lines.iter())
            .all(|(a, b)| *a == b.as_str()),
        "lines out of order"
    );
    let duplicates = out.len() - LINES;
    // Everything the topic holds (its high watermark), however slow the broker.
    let (_, high) = watermarks(&bootstrap, &topic, 0);
    let in_topic = consume(&bootstrap, &topic, high as usize, Duration::from_secs(180));
    let mut topic_seen = HashSet::new();
    let topic_dups = in_topic
        .iter()
        .filter(|r| !topic_seen.insert(r.value.clone()))
        .count();
    assert_eq!(topic_seen.len(), LINES, "every line is in the topic");
    println!(
        "kill -9 at {at_kill} sink lines: sink duplicates {duplicates}, topic records {} (duplicates {topic_dups})",
        in_topic.len()
    );
}

#[test]
fn bad_records_go_to_the_dead_letter_queue_with_context_headers() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("file-dlq");
    let topic = unique("dlq-in");
    let dlq = unique("dlq-out");
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    // The broker has no topic auto-creation: the source side of this test
    // creates the input topic by producing through a Sluice-created topic.
    let s = Sluice::start(dir.path(), &[]);
    let input = dir.path().join("seed.txt");
    std::fs::write(&input, "").unwrap();
    let seed = json!({"name": unique("seed"), "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": topic}});
    assert_eq!(s.post("/connectors", &seed.to_string()).status, 201);
    std::fs::write(&input, "seed\n").unwrap();
    assert_eq!(
        consume(&bootstrap, &topic, 1, Duration::from_secs(90)).len(),
        1
    );
    for v in [
        r#"{"schema":{"type":"string","optional":false},"payload":"good-1"}"#,
        "not json at all",
        r#"{"schema":{"type":"string","optional":false},"payload":"good-2"}"#,
    ] {
        producer
            .send(BaseRecord::<(), str>::to(&topic).payload(v))
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    let output = dir.path().join("out.txt");
    let sink_name = unique("dlq-sink");
    let sink = json!({"name": sink_name, "config": {
        "connector.class": "FileStreamSink", "file": output, "topics": topic,
        "errors.tolerance": "all", "errors.log.enable": "true",
        "errors.log.include.messages": "true",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}});
    let r = s.post("/connectors", &sink.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    wait_for(
        "good records in the sink file",
        Duration::from_secs(90),
        || {
            let text = std::fs::read_to_string(&output).unwrap_or_default();
            text.contains("good-2").then_some(())
        },
    );
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(
        text.contains("good-1") && !text.contains("not json"),
        "{text}"
    );
    let dead = consume(&bootstrap, &dlq, 1, Duration::from_secs(60));
    assert_eq!(dead.len(), 1, "one record in the dead letter queue");
    assert_eq!(dead[0].value.as_deref(), Some(&b"not json at all"[..]));
    let header = |k: &str| {
        dead[0]
            .headers
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.clone())
            .map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(
        header("__connect.errors.topic").as_deref(),
        Some(topic.as_str())
    );
    assert_eq!(
        header("__connect.errors.stage").as_deref(),
        Some("VALUE_CONVERTER")
    );
    assert_eq!(header("__connect.errors.offset").as_deref(), Some("2"));
    // errors.log.include.messages: where the skipped record was read.
    let log = s.log_text();
    assert!(
        log.lines().any(|l| l.contains("skipping a record")
            && l.contains(&format!(
                "consumed record is {{topic='{topic}', partition=0, offset=2"
            ))),
        "{log}"
    );
    assert!(header("__connect.errors.exception.message")
        .unwrap()
        .contains("value converter"));
    // The task's status counts what its error handling did (Kafka Connect's
    // task-error-metrics names).
    let status = s.get(&format!("/connectors/{sink_name}/status")).json();
    let errors = &status["tasks"][0]["errors"];
    assert_eq!(errors["total-record-errors"], 1, "{status}");
    assert_eq!(errors["total-records-skipped"], 1, "{status}");
    assert_eq!(errors["total-errors-logged"], 1, "{status}");
    assert_eq!(errors["deadletterqueue-produce-requests"], 1, "{status}");
    assert_eq!(errors["total-retries"], 0, "{status}");
    // A task with nothing to report shows no errors object (Kafka Connect's shape).
    let seed_status = s
        .get(&format!(
            "/connectors/{}/status",
            seed["name"].as_str().unwrap()
        ))
        .json();
    assert!(
        seed_status["tasks"][0].get("errors").is_none(),
        "{seed_status}"
    );
}

/// InsertField's `offset.field` on the sink path: each record a sink task
/// gets carries the Kafka offset it was read at (Kafka Connect's
/// `SinkRecord.kafkaOffset()`). On a source connector the same transform
/// fails the task, as Kafka Connect's `requireSinkRecord` does.
#[test]
fn insert_field_offset_field_inserts_the_kafka_offset_on_the_sink_path() {
    kafka_bootstrap();
    let dir = TempDir::new("file-offset-field");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    let n = 50;
    let lines: Vec<String> = (0..n).map(|i| format!("line {i}")).collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let topic = unique("offset-field");
    let s = Sluice::start(
        dir.path(),
        &[("key.converter", STRING), ("value.converter", STRING)],
    );
    let src = json!({"name": unique("offset-src"), "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": topic,
        "topic.creation.default.partitions": "1"}});
    let r = s.post("/connectors", &src.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    // line → {line} → {line, kafka_offset} → kafka_offset: the sink file
    // gets each record's offset, which for this fresh one-partition topic
    // is its line number.
    let sink = json!({"name": unique("offset-sink"), "config": {
        "connector.class": "FileStreamSink", "file": output, "topics": topic,
        "transforms": "hoist,insert,pick",
        "transforms.hoist.type": "HoistField$Value",
        "transforms.hoist.field": "line",
        "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.insert.offset.field": "kafka_offset!",
        "transforms.insert.topic.field": "topic",
        "transforms.pick.type": "ExtractField$Value",
        "transforms.pick.field": "kafka_offset"}});
    let r = s.post("/connectors", &sink.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    wait_for(
        "every record's offset in the sink file",
        Duration::from_secs(90),
        || (count_lines(&output) >= n).then_some(()),
    );
    let text = std::fs::read_to_string(&output).unwrap();
    let expected: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);

    let bad = unique("offset-on-source");
    let src = json!({"name": bad, "config": {
        "connector.class": "FileStreamSource", "file": input,
        "topic": unique("offset-never"),
        "transforms": "insert",
        "transforms.insert.type": "InsertField$Value",
        "transforms.insert.offset.field": "kafka_offset"}});
    let r = s.post("/connectors", &src.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let status = s.wait_status(&bad, "a FAILED task", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("Only SinkRecord supported for [field insertion]"),
        "{status}"
    );
}
