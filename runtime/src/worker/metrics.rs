//! Task metrics and their Prometheus text (`GET /metrics`).
//!
//! Names map one to one from Kafka Connect's MBeans, as a JMX exporter's
//! usual rule writes them: `kafka.connect:type=<type>,connector=<c>,task=<t>`
//! attribute `<attr>` becomes `kafka_connect_<type>_<attr>` with `-` as `_`
//! and the connector and task as labels. So `source-task-metrics`'
//! `source-record-poll-total` is
//! `kafka_connect_source_task_metrics_source_record_poll_total{connector="c",task="0"}`.
//! docs/operations.md lists every one.
//!
//! The counters are atomics the task loops add to once per batch (not per
//! record), so keeping them costs nothing measurable on the hot path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// One task's counters (Kafka Connect's source-task-metrics,
/// sink-task-metrics and the offset commit attributes of
/// connector-task-metrics).
#[derive(Debug, Default)]
pub struct TaskMetrics {
    /// Records a source task's `poll` returned (`source-record-poll-total`).
    pub source_record_poll_total: AtomicU64,
    /// Records handed to the producer after transforms and conversion
    /// (`source-record-write-total`).
    pub source_record_write_total: AtomicU64,
    /// Records a sink task's consumer read (`sink-record-read-total`).
    pub sink_record_read_total: AtomicU64,
    /// Records handed to the sink task's `put` (`sink-record-send-total`).
    pub sink_record_send_total: AtomicU64,
    /// Offset commits that succeeded (`offset-commit-completion-total`).
    pub offset_commit_completion_total: AtomicU64,
    /// Offset commits that failed or were skipped (`offset-commit-skip-total`).
    pub offset_commit_skip_total: AtomicU64,
    /// The largest batch a poll or put carried (`batch-size-max`).
    pub batch_size_max: AtomicU64,
    /// Batches seen, for `batch-size-avg` (the sum below over this).
    pub batches: AtomicU64,
    pub batch_records: AtomicU64,
    /// Milliseconds spent in offset commits, for `offset-commit-avg-time-ms`
    /// (over the completions and skips), and the longest one
    /// (`offset-commit-max-time-ms`).
    pub offset_commit_time_ms_total: AtomicU64,
    pub offset_commit_max_time_ms: AtomicU64,
    /// A source task's commit→ack latency: from the source's commit of a
    /// change to the broker's acknowledgement of its record.
    pub commit_to_ack: Histogram,
    /// Samples of the record totals, for the `-rate` attributes.
    rates: std::sync::Mutex<RateWindow>,
}

/// How far back the `-rate` attributes look (Kafka Connect's default
/// metrics window is two 30 s samples).
const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// The record totals (poll, write, read, send) as of a few instants: taken
/// when the metrics are read, never on the task's path.
#[derive(Debug)]
struct RateWindow {
    samples: std::collections::VecDeque<(std::time::Instant, [u64; 4])>,
}

impl Default for RateWindow {
    fn default() -> Self {
        // The task's start, when every total was zero.
        RateWindow {
            samples: [(std::time::Instant::now(), [0; 4])].into(),
        }
    }
}

/// Upper bounds, in seconds, of [`Histogram`]'s buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// A latency histogram with fixed buckets ([`LATENCY_BUCKETS`]), in
/// Prometheus's cumulative form when rendered.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl Histogram {
    pub fn observe_ms(&self, ms: u64) {
        let secs = ms as f64 / 1000.0;
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// `name_bucket{labels,le=...}`, `name_sum`, `name_count` lines.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (b, n) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels},le=\"+Inf\"}} {}",
            self.count()
        );
        let sum = self.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count());
    }
}

/// The source's own time of a change, in milliseconds, from its source
/// offset: Debezium's MySQL offsets carry the binlog event's `ts_sec`,
/// MongoDB's the oplog entry's `sec` (both whole seconds). Snapshot
/// offsets carry neither.
pub fn source_time_ms(offset: &serde_json::Map<String, serde_json::Value>) -> Option<i64> {
    // A snapshot's offsets (a MongoDB initial sync's carry `sec`) time
    // nothing the source committed.
    let flag = |k: &str| offset.get(k).is_some_and(|v| v.as_bool() == Some(true));
    if flag("initsync") || flag("snapshot") {
        return None;
    }
    offset
        .get("ts_sec")
        .or_else(|| offset.get("sec"))?
        .as_i64()
        .map(|s| s * 1000)
}

/// The worker's `metrics.enabled`: whether tasks count at all.
static RECORDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Sets `metrics.enabled` for this process (read once at the worker's start).
pub fn set_recording(on: bool) {
    RECORDING.store(on, Ordering::Relaxed);
}

/// Whether tasks count what `GET /metrics` reports (`metrics.enabled`).
pub fn recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

impl TaskMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        if recording() {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Records per second of each total (poll, write, read, send) over the
    /// last [`RATE_WINDOW`] (from the task's start while younger).
    pub fn rates(&self) -> [f64; 4] {
        let now = std::time::Instant::now();
        let totals = [
            self.source_record_poll_total.load(Ordering::Relaxed),
            self.source_record_write_total.load(Ordering::Relaxed),
            self.sink_record_read_total.load(Ordering::Relaxed),
            self.sink_record_send_total.load(Ordering::Relaxed),
        ];
        let mut w = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        // Keep one sample at least a window old, and none older than needed.
        while w.samples.len() > 1 && now.duration_since(w.samples[1].0) >= RATE_WINDOW {
            w.samples.pop_front();
        }
        let (then, old) = w.samples[0];
        if w.samples
            .back()
            .is_none_or(|(t, _)| now.duration_since(*t).as_secs() >= 1)
        {
            w.samples.push_back((now, totals));
        }
        let secs = now.duration_since(then).as_secs_f64();
        let mut out = [0.0; 4];
        if secs > 0.0 {
            for i in 0..4 {
                out[i] = totals[i].saturating_sub(old[i]) as f64 / secs;
            }
        }
        out
    }

    /// One offset commit that took `ms`.
    pub fn commit_took(&self, ms: u64) {
        self.offset_commit_time_ms_total
            .fetch_add(ms, Ordering::Relaxed);
        self.offset_commit_max_time_ms
            .fetch_max(ms, Ordering::Relaxed);
    }

    /// One batch of `n` records (a poll's or a put's).
    pub fn batch(&self, n: u64) {
        if !recording() {
            return;
        }
        self.batch_size_max.fetch_max(n, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batch_records.fetch_add(n, Ordering::Relaxed);
    }
}

/// What `GET /metrics` reports of one task.
pub struct TaskSample<'a> {
    pub connector: &'a str,
    pub task: u32,
    pub is_source: bool,
    /// `running`, `paused`, `failed`, ... (connector-task-metrics `status`).
    pub status: &'a str,
    pub metrics: &'a TaskMetrics,
    pub errors: &'a super::ErrorCounts,
    /// The task's progress JSON; its `streaming` part holds a Debezium
    /// task's streaming metrics.
    pub progress: Option<serde_json::Value>,
}

/// A Prometheus label value, escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition of the worker and its tasks.
pub fn render(connector_count: usize, tasks: &[TaskSample<'_>]) -> String {
    let mut out = String::new();
    let g = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    g(
        &mut out,
        "kafka_connect_connect_worker_metrics_connector_count",
        "gauge",
        "Connectors this worker runs.",
    );
    let _ = writeln!(
        out,
        "kafka_connect_connect_worker_metrics_connector_count {connector_count}"
    );
    g(
        &mut out,
        "kafka_connect_connect_worker_metrics_task_count",
        "gauge",
        "Tasks this worker runs.",
    );
    let _ = writeln!(
        out,
        "kafka_connect_connect_worker_metrics_task_count {}",
        tasks.len()
    );

    type Get = fn(&TaskSample<'_>) -> Option<u64>;
    let series: Vec<(&str, &str, &str, Get)> = vec![
        (
            "source_task_metrics",
            "source_record_poll_total",
            "Records the source task's poll returned.",
            |t| {
                t.is_source
                    .then(|| t.metrics.source_record_poll_total.load(Ordering::Relaxed))
            },
        ),
        (
            "source_task_metrics",
            "source_record_write_total",
            "Records the source task handed to the producer.",
            |t| {
                t.is_source
                    .then(|| t.metrics.source_record_write_total.load(Ordering::Relaxed))
            },
        ),
        (
            "sink_task_metrics",
            "sink_record_read_total",
            "Records the sink task's consumer read.",
            |t| (!t.is_source).then(|| t.metrics.sink_record_read_total.load(Ordering::Relaxed)),
        ),
        (
            "sink_task_metrics",
            "sink_record_send_total",
            "Records handed to the sink task's put.",
            |t| (!t.is_source).then(|| t.metrics.sink_record_send_total.load(Ordering::Relaxed)),
        ),
        (
            "connector_task_metrics",
            "offset_commit_completion_total",
            "Offset commits that succeeded.",
            |t| {
                Some(
                    t.metrics
                        .offset_commit_completion_total
                        .load(Ordering::Relaxed),
                )
            },
        ),
        (
            "connector_task_metrics",
            "offset_commit_skip_total",
            "Offset commits that failed.",
            |t| Some(t.metrics.offset_commit_skip_total.load(Ordering::Relaxed)),
        ),
        (
            "connector_task_metrics",
            "offset_commit_max_time_ms",
            "The longest offset commit, in milliseconds.",
            |t| Some(t.metrics.offset_commit_max_time_ms.load(Ordering::Relaxed)),
        ),
        (
            "connector_task_metrics",
            "batch_size_max",
            "The largest batch a poll or put carried.",
            |t| Some(t.metrics.batch_size_max.load(Ordering::Relaxed)),
        ),
        (
            "task_error_metrics",
            "total_record_failures",
            "Record processing failures, retries included.",
            |t| Some(t.errors.record_failures.load(Ordering::Relaxed)),
        ),
        (
            "task_error_metrics",
            "total_record_errors",
            "Records that failed after their retries.",
            |t| Some(t.errors.record_errors.load(Ordering::Relaxed)),
        ),
        (
            "task_error_metrics",
            "total_records_skipped",
            "Records skipped under errors.tolerance=all.",
            |t| Some(t.errors.records_skipped.load(Ordering::Relaxed)),
        ),
        (
            "task_error_metrics",
            "total_retries",
            "Retries of failed operations.",
            |t| Some(t.errors.retries.load(Ordering::Relaxed)),
        ),
        (
            "task_error_metrics",
            "total_errors_logged",
            "Errors written to the log.",
            |t| Some(t.errors.errors_logged.load(Ordering::Relaxed)),
        ),
        (
            "task_error_metrics",
            "deadletterqueue_produce_requests",
            "Records sent to the dead letter queue.",
            |t| Some(t.errors.dlq_requests.load(Ordering::Relaxed)),
        ),
    ];
    for (group, attr, help, get) in series {
        let name = format!("kafka_connect_{group}_{attr}");
        let kind = if attr.ends_with("_max") {
            "gauge"
        } else {
            "counter"
        };
        let values: Vec<String> = tasks
            .iter()
            .filter_map(|t| {
                get(t).map(|v| {
                    format!(
                        "{name}{{connector=\"{}\",task=\"{}\"}} {v}",
                        label(t.connector),
                        t.task
                    )
                })
            })
            .collect();
        if values.is_empty() {
            continue;
        }
        g(&mut out, &name, kind, help);
        for v in values {
            out.push_str(&v);
            out.push('\n');
        }
    }
    // Debezium's streaming metrics, as its JMX exporter example names them:
    // debezium.<plugin>:type=connector-metrics,context=streaming,server=<name>
    // attribute A is debezium_metrics_A{plugin,context,name}.
    let mut debezium: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for t in tasks {
        let Some(s) = t
            .progress
            .as_ref()
            .and_then(|p| p.get("streaming"))
            .and_then(|s| s.as_object())
        else {
            continue;
        };
        let plugin = s.get("plugin").and_then(|v| v.as_str()).unwrap_or("");
        let server = s.get("name").and_then(|v| v.as_str()).unwrap_or("");
        for (attr, v) in s {
            // A string attribute (BinlogFilename) is a label of a 1.
            let (value, text) = match v {
                serde_json::Value::Number(n) => (n.as_f64(), None),
                serde_json::Value::Bool(b) => (Some(if *b { 1.0 } else { 0.0 }), None),
                serde_json::Value::String(text) if attr != "plugin" && attr != "name" => {
                    (Some(1.0), Some(text))
                }
                _ => (None, None),
            };
            let Some(value) = value else { continue };
            let text = text
                .map(|v| format!(",value=\"{}\"", label(v)))
                .unwrap_or_default();
            debezium.entry(attr.clone()).or_default().push(format!(
                "debezium_metrics_{attr}{{plugin=\"{}\",context=\"streaming\",name=\"{}\",connector=\"{}\",task=\"{}\"{text}}} {value}",
                label(plugin),
                label(server),
                label(t.connector),
                t.task
            ));
        }
    }
    // Debezium's snapshot metrics from a MySQL task's snapshot progress
    // ({"snapshot": {"running", "tables": {table: {"rows", ...}}}}).
    for t in tasks {
        let Some(p) = t.progress.as_ref() else {
            continue;
        };
        let Some(snap) = p.get("snapshot").and_then(|s| s.as_object()) else {
            continue;
        };
        let Some(running) = snap.get("running").and_then(|r| r.as_bool()) else {
            continue;
        };
        let streaming = p.get("streaming");
        let plugin = streaming
            .and_then(|s| s.get("plugin"))
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let server = streaming
            .and_then(|s| s.get("name"))
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let labels = format!(
            "plugin=\"{}\",context=\"snapshot\",name=\"{}\",connector=\"{}\",task=\"{}\"",
            label(plugin),
            label(server),
            label(t.connector),
            t.task
        );
        let flag = |b: bool| if b { 1 } else { 0 };
        debezium
            .entry("SnapshotRunning".into())
            .or_default()
            .push(format!(
                "debezium_metrics_SnapshotRunning{{{labels}}} {}",
                flag(running)
            ));
        debezium
            .entry("SnapshotCompleted".into())
            .or_default()
            .push(format!(
                "debezium_metrics_SnapshotCompleted{{{labels}}} {}",
                flag(!running)
            ));
        for attr in [
            "TotalTableCount",
            "RemainingTableCount",
            "SnapshotDurationInSeconds",
        ] {
            if let Some(n) = snap.get(attr).and_then(|v| v.as_u64()) {
                debezium
                    .entry(attr.into())
                    .or_default()
                    .push(format!("debezium_metrics_{attr}{{{labels}}} {n}"));
            }
        }
        if let Some(tables) = snap.get("tables").and_then(|v| v.as_object()) {
            for (table, st) in tables {
                if let Some(rows) = st.get("rows").and_then(|r| r.as_u64()) {
                    debezium
                        .entry("RowsScanned".into())
                        .or_default()
                        .push(format!(
                            "debezium_metrics_RowsScanned{{{labels},table=\"{}\"}} {rows}",
                            label(table)
                        ));
                }
            }
        }
    }
    for (attr, lines) in debezium {
        let name = format!("debezium_metrics_{attr}");
        let kind = if attr.starts_with("Total") {
            "counter"
        } else {
            "gauge"
        };
        g(&mut out, &name, kind, &format!("Debezium's {attr}."));
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    if !tasks.is_empty() {
        let name = "kafka_connect_connector_task_metrics_batch_size_avg";
        g(
            &mut out,
            name,
            "gauge",
            "Records per poll or put, on average.",
        );
        for t in tasks {
            let n = t.metrics.batches.load(Ordering::Relaxed);
            let avg = if n == 0 {
                0.0
            } else {
                t.metrics.batch_records.load(Ordering::Relaxed) as f64 / n as f64
            };
            let _ = writeln!(
                out,
                "{name}{{connector=\"{}\",task=\"{}\"}} {avg}",
                label(t.connector),
                t.task
            );
        }
        // Kafka Connect's -rate attributes, over the last minute.
        let rates: Vec<[f64; 4]> = tasks.iter().map(|t| t.metrics.rates()).collect();
        for (i, group, attr, help, for_source) in [
            (
                0,
                "source_task_metrics",
                "source_record_poll_rate",
                "Records per second the source task's poll returned, over the last minute.",
                true,
            ),
            (
                1,
                "source_task_metrics",
                "source_record_write_rate",
                "Records per second the source task handed to the producer, over the last minute.",
                true,
            ),
            (
                2,
                "sink_task_metrics",
                "sink_record_read_rate",
                "Records per second the sink task's consumer read, over the last minute.",
                false,
            ),
            (
                3,
                "sink_task_metrics",
                "sink_record_send_rate",
                "Records per second handed to the sink task's put, over the last minute.",
                false,
            ),
        ] {
            let name = format!("kafka_connect_{group}_{attr}");
            let mut header = false;
            for (t, r) in tasks.iter().zip(&rates) {
                if t.is_source != for_source {
                    continue;
                }
                if !header {
                    g(&mut out, &name, "gauge", help);
                    header = true;
                }
                let _ = writeln!(
                    out,
                    "{name}{{connector=\"{}\",task=\"{}\"}} {}",
                    label(t.connector),
                    t.task,
                    r[i]
                );
            }
        }
        let name = "kafka_connect_connector_task_metrics_offset_commit_avg_time_ms";
        g(
            &mut out,
            name,
            "gauge",
            "Milliseconds an offset commit takes, on average.",
        );
        for t in tasks {
            let m = t.metrics;
            let n = m.offset_commit_completion_total.load(Ordering::Relaxed)
                + m.offset_commit_skip_total.load(Ordering::Relaxed);
            let avg = if n == 0 {
                0.0
            } else {
                m.offset_commit_time_ms_total.load(Ordering::Relaxed) as f64 / n as f64
            };
            let _ = writeln!(
                out,
                "{name}{{connector=\"{}\",task=\"{}\"}} {avg}",
                label(t.connector),
                t.task
            );
        }
        let name = "sluice_source_commit_to_ack_seconds";
        let observed: Vec<_> = tasks
            .iter()
            .filter(|t| t.is_source && t.metrics.commit_to_ack.count() > 0)
            .collect();
        if !observed.is_empty() {
            g(
                &mut out,
                name,
                "histogram",
                "From the source's commit of a change (its offset's time, in whole seconds) to the broker's acknowledgement of its record; the last record of each batch.",
            );
            for t in observed {
                let labels = format!("connector=\"{}\",task=\"{}\"", label(t.connector), t.task);
                t.metrics.commit_to_ack.render(&mut out, name, &labels);
            }
        }
        let name = "kafka_connect_connector_task_metrics_status";
        g(
            &mut out,
            name,
            "gauge",
            "1 for the task's current status (running, paused, failed, ...).",
        );
        for t in tasks {
            let _ = writeln!(
                out,
                "{name}{{connector=\"{}\",task=\"{}\",status=\"{}\"}} 1",
                label(t.connector),
                t.task,
                t.status
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_the_records_since_the_oldest_sample() {
        let m = TaskMetrics::default();
        TaskMetrics::add(&m.source_record_poll_total, 500);
        let r = m.rates();
        assert!(r[0] > 0.0, "since the start: {r:?}");
        assert_eq!(r[2], 0.0);
        // The base is the newest sample at least a window old: only what
        // came after it counts, over the time since it.
        let now = std::time::Instant::now();
        m.rates.lock().unwrap().samples = [
            (now - std::time::Duration::from_secs(90), [0; 4]),
            (now - std::time::Duration::from_secs(80), [400, 0, 0, 0]),
            (now - std::time::Duration::from_secs(30), [450, 0, 0, 0]),
        ]
        .into();
        let r = m.rates();
        assert!((r[0] - 100.0 / 80.0).abs() < 0.05, "{r:?}");
        assert_eq!(
            m.rates.lock().unwrap().samples.len(),
            3,
            "the oldest dropped, now added"
        );
    }

    #[test]
    fn commit_to_ack_is_a_cumulative_histogram_and_commit_times_average() {
        let m = TaskMetrics::default();
        for ms in [5, 400, 1200, 1200, 7_000_000] {
            m.commit_to_ack.observe_ms(ms);
        }
        TaskMetrics::add(&m.offset_commit_completion_total, 2);
        m.commit_took(10);
        m.commit_took(30);
        let e = crate::worker::ErrorCounts::default();
        let sample = TaskSample {
            connector: "c",
            task: 1,
            is_source: true,
            status: "running",
            metrics: &m,
            errors: &e,
            progress: None,
        };
        let text = render(1, &[sample]);
        let name = "sluice_source_commit_to_ack_seconds";
        assert!(
            text.contains(&format!("# TYPE {name} histogram\n")),
            "{text}"
        );
        for (le, n) in [
            ("0.01", 1),
            ("0.5", 2),
            ("1", 2),
            ("2.5", 4),
            ("1800", 4),
            ("+Inf", 5),
        ] {
            let line = format!("{name}_bucket{{connector=\"c\",task=\"1\",le=\"{le}\"}} {n}\n");
            assert!(text.contains(&line), "no {line} in {text}");
        }
        assert!(
            text.contains(&format!("{name}_count{{connector=\"c\",task=\"1\"}} 5\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "{name}_sum{{connector=\"c\",task=\"1\"}} 7002.805\n"
            )),
            "{text}"
        );
        assert!(text.contains("kafka_connect_connector_task_metrics_offset_commit_avg_time_ms{connector=\"c\",task=\"1\"} 20\n"), "{text}");
        assert!(text.contains("kafka_connect_connector_task_metrics_offset_commit_max_time_ms{connector=\"c\",task=\"1\"} 30\n"), "{text}");
    }

    #[test]
    fn renders_kafka_connects_names_as_prometheus_text() {
        let m = TaskMetrics::default();
        TaskMetrics::add(&m.source_record_poll_total, 5);
        TaskMetrics::add(&m.source_record_write_total, 4);
        m.batch(5);
        let e = crate::worker::ErrorCounts::default();
        let text = render(
            1,
            &[TaskSample {
                connector: "orders\"x",
                task: 0,
                is_source: true,
                status: "running",
                metrics: &m,
                errors: &e,
                progress: Some(serde_json::json!({
                    "streaming": {"plugin": "mysql", "name": "inv", "MilliSecondsBehindSource": 12, "Connected": true},
                    "snapshot": {"running": false, "tables": {"inv.orders": {"rows": 7, "done": true}}}
                })),
            }],
        );
        assert!(
            text.contains("kafka_connect_connect_worker_metrics_task_count 1\n"),
            "{text}"
        );
        assert!(text.contains("kafka_connect_source_task_metrics_source_record_poll_total{connector=\"orders\\\"x\",task=\"0\"} 5\n"), "{text}");
        assert!(
            text.contains(
                "# TYPE kafka_connect_source_task_metrics_source_record_write_total counter"
            ),
            "{text}"
        );
        assert!(!text.contains("sink_record_read_total"), "{text}");
        assert!(text.contains("kafka_connect_connector_task_metrics_status{connector=\"orders\\\"x\",task=\"0\",status=\"running\"} 1"), "{text}");
        assert!(text.contains("debezium_metrics_MilliSecondsBehindSource{plugin=\"mysql\",context=\"streaming\",name=\"inv\",connector=\"orders\\\"x\",task=\"0\"} 12\n"), "{text}");
        assert!(
            text.contains("debezium_metrics_Connected{plugin=\"mysql\""),
            "{text}"
        );
        assert!(
            text.contains("debezium_metrics_SnapshotCompleted{plugin=\"mysql\",context=\"snapshot\",name=\"inv\""),
            "{text}"
        );
        assert!(text.contains(",table=\"inv.orders\"} 7\n"), "{text}");
    }
}
