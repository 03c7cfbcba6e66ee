//! `GET /metrics`: Kafka Connect's task metrics in Prometheus's text
//! format, checked against what a FileStreamSource wrote to Kafka and what
//! a FileStreamSink read back.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

/// The value of one series (`name{labels}`), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
}

/// metrics.enabled=false: the records flow, and the task counters stay 0
/// (the setting exists to measure what counting costs).
#[test]
fn with_metrics_disabled_the_task_counters_stay_zero() {
    let dir = TempDir::new("metrics-off");
    let s = Sluice::start(dir.path(), &[("metrics.enabled", "false")]);
    let input = dir.path().join("in.txt");
    let lines: String = (0..20).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&input, lines).unwrap();
    let topic = unique("metrics-off");
    let source = unique("msrc-off");
    let body = json!({"name": source, "config": {"connector.class": "FileStreamSource", "file": input, "topic": topic}});
    assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    // A committed offset: the topic exists (the broker acked a record).
    s.wait_committed_offset(&source, Duration::from_secs(60));
    wait_for("20 records in the topic", Duration::from_secs(60), || {
        (watermarks(&kafka_bootstrap(), &topic, 0).1 == 20).then_some(())
    });
    let text = s.get("/metrics").body;
    let src = format!("{{connector=\"{source}\",task=\"0\"}}");
    for name in [
        "kafka_connect_source_task_metrics_source_record_poll_total",
        "kafka_connect_source_task_metrics_source_record_write_total",
    ] {
        assert_eq!(
            value(&text, &format!("{name}{src}")),
            Some(0.0),
            "{name} in:\n{text}"
        );
    }
}

#[test]
fn task_counters_match_the_records_in_kafka() {
    let dir = TempDir::new("metrics");
    let s = Sluice::start(dir.path(), &[]);
    let input = dir.path().join("in.txt");
    let lines: String = (0..50).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&input, lines).unwrap();
    let topic = unique("metrics");
    let (source, sink) = (unique("msrc"), unique("msink"));
    let out = dir.path().join("out.txt");
    for body in [
        json!({"name": source, "config": {"connector.class": "FileStreamSource", "file": input, "topic": topic}}),
        json!({"name": sink, "config": {"connector.class": "FileStreamSink", "file": out, "topics": topic}}),
    ] {
        assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    }
    wait_for("50 lines through the sink", Duration::from_secs(60), || {
        let n = std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .count();
        (n == 50).then_some(())
    });
    let (_, high) = watermarks(&kafka_bootstrap(), &topic, 0);
    assert_eq!(high, 50, "records in the topic");
    let src = format!("{{connector=\"{source}\",task=\"0\"}}");
    let snk = format!("{{connector=\"{sink}\",task=\"0\"}}");
    // The counters as of now, and a commit of each (1 s flush interval).
    let text = wait_for(
        "a committed offset of each task",
        Duration::from_secs(30),
        || {
            let r = s.get("/metrics");
            assert_eq!(r.status, 200);
            assert!(
                r.header("content-type")
                    .is_some_and(|c| c.starts_with("text/plain")),
                "{:?}",
                r.headers
            );
            let t = r.body;
            let done = |k: &str| {
                value(
                    &t,
                    &format!(
                        "kafka_connect_connector_task_metrics_offset_commit_completion_total{k}"
                    ),
                )
                .unwrap_or(0.0)
                    >= 1.0
            };
            (done(&src) && done(&snk)).then_some(t)
        },
    );
    let v = |name: &str, labels: &str| {
        value(&text, &format!("{name}{labels}"))
            .unwrap_or_else(|| panic!("no {name}{labels} in:\n{text}"))
    };
    assert_eq!(
        v(
            "kafka_connect_source_task_metrics_source_record_poll_total",
            &src
        ),
        high as f64
    );
    assert_eq!(
        v(
            "kafka_connect_source_task_metrics_source_record_write_total",
            &src
        ),
        high as f64
    );
    assert_eq!(
        v(
            "kafka_connect_sink_task_metrics_sink_record_read_total",
            &snk
        ),
        high as f64
    );
    assert_eq!(
        v(
            "kafka_connect_sink_task_metrics_sink_record_send_total",
            &snk
        ),
        high as f64
    );
    assert_eq!(
        v("kafka_connect_task_error_metrics_total_record_errors", &src),
        0.0
    );
    assert_eq!(
        v("kafka_connect_connect_worker_metrics_task_count", ""),
        2.0
    );
    assert!(v("kafka_connect_connector_task_metrics_batch_size_max", &src) >= 1.0);
    // The -rate attributes: the 50 records over the task's life so far
    // (under a minute), a positive rate no larger than 50 per the time.
    for (name, labels) in [
        (
            "kafka_connect_source_task_metrics_source_record_poll_rate",
            &src,
        ),
        (
            "kafka_connect_sink_task_metrics_sink_record_send_rate",
            &snk,
        ),
    ] {
        let rate = v(name, labels);
        assert!(rate > 0.0, "{name} {rate}");
    }
    assert!(
        !text.contains(&format!(
            "kafka_connect_sink_task_metrics_sink_record_read_rate{src}"
        )),
        "a source task has no sink rate"
    );
    assert!(text.contains(&format!(
        "kafka_connect_connector_task_metrics_status{{connector=\"{source}\",task=\"0\",status=\"running\"}} 1"
    )), "{text}");
}

#[test]
fn a_mysql_tasks_debezium_metrics_count_its_events_and_fall_behind_to_near_zero() {
    let db = format!("metrics_{}", std::process::id());
    mariadb(&format!(
        "CREATE DATABASE IF NOT EXISTS {db}; CREATE OR REPLACE TABLE {db}.t (id INT PRIMARY KEY, v TEXT);"
    ));
    let dir = TempDir::new("metrics-mysql");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mmysql");
    let prefix = unique("mmysql");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("history.dat"),
        &[
            ("snapshot.mode", "no_data"),
            ("table.include.list", &format!("{db}.t")),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    wait_for("streaming", Duration::from_secs(60), || {
        let o = s.get(&format!("/connectors/{name}/offsets")).json();
        o["offsets"][0]["offset"]["pos"].is_i64().then_some(())
    });
    let labels = format!(
        "{{plugin=\"mysql\",context=\"streaming\",name=\"{prefix}\",connector=\"{name}\",task=\"0\"}}"
    );
    let metric = |attr: &str| -> Option<f64> {
        value(
            &s.get("/metrics").body,
            &format!("debezium_metrics_{attr}{labels}"),
        )
    };

    // A backlog written while the task is paused, read 3 s later: the task
    // is behind by about that much.
    assert_eq!(s.put(&format!("/connectors/{name}/pause"), "").status, 202);
    s.wait_status(&name, "PAUSED", |v| v["tasks"][0]["state"] == "PAUSED");
    let seen_before = metric("TotalNumberOfEventsSeen").unwrap_or(0.0);
    mariadb(&format!(
        "USE {db}; INSERT INTO {db}.t SELECT seq, 'x' FROM seq_1_to_200"
    ));
    let written = std::time::Instant::now();
    wait_for("3 s to pass", Duration::from_secs(10), || {
        (written.elapsed() >= Duration::from_secs(3)).then_some(())
    });
    assert_eq!(s.put(&format!("/connectors/{name}/resume"), "").status, 202);
    let behind = wait_for("the backlog seen", Duration::from_secs(60), || {
        let seen = metric("TotalNumberOfEventsSeen")?;
        (seen >= seen_before + 200.0).then(|| metric("MilliSecondsBehindSource"))?
    });
    assert!(
        behind >= 2000.0,
        "MilliSecondsBehindSource {behind} after a 3 s backlog"
    );
    assert_eq!(metric("Connected"), Some(1.0));
    // Where in the binlog the task is: the file as a label, the position.
    let text = s.get("/metrics").body;
    let file_line = text
        .lines()
        .find(|l| {
            l.starts_with("debezium_metrics_BinlogFilename{")
                && l.contains(&format!("connector=\"{name}\""))
        })
        .unwrap_or_else(|| panic!("no BinlogFilename in\n{text}"));
    assert!(
        file_line.contains(",value=\"") && file_line.ends_with("} 1"),
        "{file_line}"
    );
    assert!(metric("BinlogPosition").is_some_and(|p| p > 4.0), "{text}");
    // The reader's queue: Debezium's default bound, and room left in it.
    assert_eq!(metric("QueueTotalCapacity"), Some(8192.0));
    let room = metric("QueueRemainingCapacity").expect("QueueRemainingCapacity");
    assert!(
        (0.0..=8192.0).contains(&room),
        "QueueRemainingCapacity {room}"
    );
    // No byte bound by default (max.queue.size.in.bytes=0).
    assert_eq!(metric("MaxQueueSizeInBytes"), Some(0.0));
    assert_eq!(metric("CurrentQueueSizeInBytes"), Some(0.0));
    // A change made now is seen at once: behind falls to near zero.
    let seen = metric("TotalNumberOfEventsSeen").unwrap_or(0.0);
    let commits = metric("NumberOfCommittedTransactions").expect("NumberOfCommittedTransactions");
    assert!(
        commits >= 1.0,
        "the 200-row INSERT's transaction: {commits}"
    );
    mariadb(&format!("INSERT INTO {db}.t VALUES (1000, 'now')"));
    let behind = wait_for("the live change seen", Duration::from_secs(30), || {
        let now_seen = metric("TotalNumberOfEventsSeen")?;
        (now_seen > seen).then(|| metric("MilliSecondsBehindSource"))?
    });
    assert!(
        behind < 2500.0,
        "MilliSecondsBehindSource {behind} for a live change (binlog times are in seconds)"
    );
    // The live change is one more committed transaction.
    wait_for(
        "the live change's commit counted",
        Duration::from_secs(30),
        || (metric("NumberOfCommittedTransactions")? >= commits + 1.0).then_some(()),
    );
    let mut r = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.{db}.t"));
    r.read_until("201 changes", Duration::from_secs(30), |r| r.len() >= 201);
    // Commit→ack: the backlog's newest change waited at least 3 s for its
    // ack, the live change less than 2.5 s (the binlog's time is in seconds).
    let task = format!("connector=\"{name}\",task=\"0\"");
    let series = |suffix: &str| {
        value(
            &s.get("/metrics").body,
            &format!("sluice_source_commit_to_ack_seconds{suffix}"),
        )
    };
    let count = wait_for(
        "two commit→ack observations",
        Duration::from_secs(30),
        || series(&format!("_count{{{task}}}")).filter(|c| *c >= 2.0),
    );
    let fast = series(&format!("_bucket{{{task},le=\"2.5\"}}")).unwrap();
    let all = series(&format!("_bucket{{{task},le=\"+Inf\"}}")).unwrap();
    assert_eq!(all, count, "the +Inf bucket holds every observation");
    assert!(
        fast >= 1.0,
        "the live change acked within 2.5 s: {fast} of {count}"
    );
    assert!(
        count - fast >= 1.0,
        "the backlog acked after 2.5 s or more: {fast} of {count} within"
    );
    mariadb(&format!("DROP DATABASE {db}"));
}

#[test]
fn a_mysql_snapshots_debezium_metrics_count_its_tables_and_rows() {
    let db = format!("metrics_snap_{}", std::process::id());
    mariadb(&format!(
        "CREATE DATABASE IF NOT EXISTS {db}; USE {db};
         CREATE OR REPLACE TABLE a (id INT PRIMARY KEY); INSERT INTO a SELECT seq FROM seq_1_to_100;
         CREATE OR REPLACE TABLE b (id INT PRIMARY KEY); INSERT INTO b SELECT seq FROM seq_1_to_50;"
    ));
    let dir = TempDir::new("metrics-snapshot");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("msnap");
    let prefix = unique("msnap");
    let cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("history.dat"), &[]);
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let labels = format!(
        "{{plugin=\"mysql\",context=\"snapshot\",name=\"{prefix}\",connector=\"{name}\",task=\"0\""
    );
    let text = wait_for("the snapshot completed", Duration::from_secs(60), || {
        let t = s.get("/metrics").body;
        (value(&t, &format!("debezium_metrics_SnapshotCompleted{labels}}}")) == Some(1.0))
            .then_some(t)
    });
    let m = |attr: &str| {
        value(&text, &format!("debezium_metrics_{attr}{labels}}}"))
            .unwrap_or_else(|| panic!("no {attr} in\n{text}"))
    };
    assert_eq!(m("SnapshotRunning"), 0.0);
    assert_eq!(m("TotalTableCount"), 2.0);
    assert_eq!(m("RemainingTableCount"), 0.0);
    assert!(m("SnapshotDurationInSeconds") >= 0.0);
    for (table, rows) in [("a", 100.0), ("b", 50.0)] {
        let series = format!("debezium_metrics_RowsScanned{labels},table=\"{db}.{table}\"}}");
        assert_eq!(value(&text, &series), Some(rows), "{series} in\n{text}");
    }
    // The rows scanned are the rows in the topics.
    for (table, rows) in [("a", 100), ("b", 50)] {
        let mut r = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.{db}.{table}"));
        r.read_until(
            &format!("{rows} rows of {table}"),
            Duration::from_secs(30),
            |r| r.len() >= rows,
        );
        assert_eq!(r.records.len(), rows);
    }
    mariadb(&format!("DROP DATABASE {db}"));
}
