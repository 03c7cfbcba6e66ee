//! Debezium's signals: what an operator asks a running connector to do
//! (take an incremental or blocking snapshot of some tables, stop, pause or
//! resume one, write a line to the log), and the channels a signal comes
//! through.
//!
//! A signal is `{id, type, data}` whatever its channel:
//! - `source`: a row inserted into the table `signal.data.collection`
//!   (columns id, type, data), seen in the change log like any change, so
//!   that it takes effect at its place in the stream;
//! - `kafka`: a record on `signal.kafka.topic` whose key is the connector's
//!   `topic.prefix` and whose value is `{"id"?: ..., "type": ..., "data":
//!   {...}}`;
//! - `file`: a line `{"id": ..., "type": ..., "data": {...}}` appended to
//!   `signal.file`; the lines read are removed from the file.
//!
//! The Kafka and file channels are read by background tasks
//! ([`Channels::start`]) that hand signals to the reader through an
//! unbounded queue, which the reader drains between change events.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value as Json;
use sluice_api::{Config, ConfigDef, ConfigError, ConfigType, Importance};
use tokio::sync::mpsc;

use super::config::one_of;

/// One signal, from any channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub id: String,
    /// `type`.
    pub kind: String,
    /// `data`, parsed (`Null` when empty).
    pub data: Json,
}

/// A snapshot's kind (`data.type` of execute-snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    Incremental,
    Blocking,
}

/// `execute-snapshot`.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRequest {
    pub kind: SnapshotKind,
    /// `data-collections`: regular expressions over `<db>.<table>`.
    pub collections: Vec<String>,
    /// `additional-conditions`: (data collection regex, SQL filter).
    pub conditions: Vec<(String, String)>,
    /// `surrogate-key`: a column to chunk by instead of the primary key.
    pub surrogate_key: Option<String>,
}

/// What a signal asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Execute(SnapshotRequest),
    /// `stop-snapshot`: these collections (all when empty) leave the
    /// incremental snapshot.
    Stop(Vec<String>),
    Pause,
    Resume,
    /// `log`: the message to write.
    Log(String),
    /// The incremental snapshot's own watermarks.
    WindowOpen,
    WindowClose,
}

pub const WINDOW_OPEN: &str = "snapshot-window-open";
pub const WINDOW_CLOSE: &str = "snapshot-window-close";

impl Signal {
    /// A signal from its three columns (or a channel's fields).
    pub fn new(id: &str, kind: &str, data: Option<&str>) -> Result<Signal, String> {
        let data = match data.map(str::trim) {
            None | Some("") => Json::Null,
            Some(d) => serde_json::from_str(d)
                .map_err(|e| format!("signal {id} ({kind}): its data is not JSON ({e}): {d}"))?,
        };
        Ok(Signal {
            id: id.to_string(),
            kind: kind.to_string(),
            data,
        })
    }

    /// What the signal asks for; `Err` names what is wrong with it.
    pub fn action(&self) -> Result<Action, String> {
        let what = || format!("signal {} ({})", self.id, self.kind);
        let strings = |key: &str| -> Result<Vec<String>, String> {
            match self.data.get(key) {
                None | Some(Json::Null) => Ok(Vec::new()),
                Some(Json::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(|s| s.trim().to_string())
                            .ok_or_else(|| format!("{}: {key} must list strings", what()))
                    })
                    .collect(),
                Some(Json::String(s)) => Ok(s
                    .split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()),
                Some(_) => Err(format!("{}: {key} must be a list of strings", what())),
            }
        };
        let kind = || -> Result<SnapshotKind, String> {
            match self.data.get("type").and_then(Json::as_str) {
                None => Ok(SnapshotKind::Incremental),
                Some(t) if t.eq_ignore_ascii_case("incremental") => Ok(SnapshotKind::Incremental),
                Some(t) if t.eq_ignore_ascii_case("blocking") => Ok(SnapshotKind::Blocking),
                Some(t) => Err(format!(
                    "{}: snapshot type '{t}' is not known; use incremental or blocking",
                    what()
                )),
            }
        };
        match self.kind.as_str() {
            "execute-snapshot" => {
                let collections = strings("data-collections")?;
                if collections.is_empty() {
                    return Err(format!(
                        "{}: data-collections is empty; name the tables to snapshot",
                        what()
                    ));
                }
                let mut conditions = Vec::new();
                match self.data.get("additional-conditions") {
                    None | Some(Json::Null) => {}
                    Some(Json::Array(a)) => {
                        for c in a {
                            let dc = c.get("data-collection").and_then(Json::as_str);
                            let filter = c.get("filter").and_then(Json::as_str);
                            match (dc, filter) {
                                (Some(dc), Some(f)) => {
                                    conditions.push((dc.trim().to_string(), f.to_string()))
                                }
                                _ => return Err(format!("{}: each additional-conditions entry needs data-collection and filter", what())),
                            }
                        }
                    }
                    Some(_) => {
                        return Err(format!(
                            "{}: additional-conditions must be a list of {{data-collection, filter}}",
                            what()
                        ))
                    }
                }
                let surrogate_key = self
                    .data
                    .get("surrogate-key")
                    .and_then(Json::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from);
                Ok(Action::Execute(SnapshotRequest {
                    kind: kind()?,
                    collections,
                    conditions,
                    surrogate_key,
                }))
            }
            "stop-snapshot" => {
                if kind()? == SnapshotKind::Blocking {
                    return Err(format!(
                        "{}: a blocking snapshot cannot be stopped by a signal",
                        what()
                    ));
                }
                Ok(Action::Stop(strings("data-collections")?))
            }
            "pause-snapshot" => Ok(Action::Pause),
            "resume-snapshot" => Ok(Action::Resume),
            "log" => Ok(Action::Log(
                self.data
                    .get("message")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
            )),
            WINDOW_OPEN => Ok(Action::WindowOpen),
            WINDOW_CLOSE => Ok(Action::WindowClose),
            other => Err(format!(
                "{}: signal type '{other}' is not known; use execute-snapshot, stop-snapshot, pause-snapshot, resume-snapshot or log",
                what()
            )),
        }
    }
}

/// The signal keys a connector reads.
#[derive(Debug, Clone, Default)]
pub struct SignalConfig {
    pub source: bool,
    pub kafka: bool,
    pub file: bool,
    /// signal.data.collection: `<db>.<table>`.
    pub data_collection: Option<String>,
    pub kafka_topic: String,
    pub kafka_bootstrap: String,
    pub kafka_group: String,
    /// signal.consumer.* (the Kafka channel's own client settings).
    pub kafka_props: std::collections::BTreeMap<String, String>,
    pub file_path: PathBuf,
    pub poll_interval: Duration,
    /// incremental.snapshot.chunk.size.
    pub chunk_size: usize,
    /// incremental.snapshot.watermarking.strategy=insert_delete: a window
    /// is closed by deleting its open row, not by inserting a close row, so
    /// the signal table does not grow.
    pub close_by_delete: bool,
}

/// The close watermark of the window whose open row (`<chunk>-open`) was
/// deleted, under the insert_delete strategy; `None` for any other row.
pub fn close_of_deleted(id: &str) -> Option<Signal> {
    let chunk = id.strip_suffix("-open")?;
    Signal::new(&format!("{chunk}-close"), WINDOW_CLOSE, None).ok()
}

/// The items among `items` (named by `name`, as `<db>.<collection>`) that
/// a snapshot signal's data-collections entries match whole, each once.
///
/// As Debezium reads them: for an incremental snapshot each entry is one
/// case-sensitive regular expression and the items come in the entries'
/// order; for a blocking snapshot the entries are a comma-separated list of
/// case-insensitive expressions (its snapshot filter) and the items keep
/// their own order. An entry that is not a regular expression is an error
/// naming it: the signal is not acted on.
pub fn expand_collections<'a, T>(
    entries: &[String],
    items: &'a [T],
    name: impl Fn(&T) -> String,
    blocking: bool,
) -> Result<Vec<&'a T>, String> {
    let mut regexes = Vec::new();
    let split: Vec<&str> = if blocking {
        entries
            .iter()
            .flat_map(|e| e.split(','))
            .map(str::trim)
            .collect()
    } else {
        entries.iter().map(String::as_str).collect()
    };
    for r in split.into_iter().filter(|r| !r.is_empty()) {
        let re = regex::RegexBuilder::new(&format!("^(?:{r})$"))
            .case_insensitive(blocking)
            .build()
            .map_err(|e| {
                format!("data-collections entry '{r}' is not a regular expression ({e})")
            })?;
        regexes.push(re);
    }
    let names: Vec<String> = items.iter().map(name).collect();
    let mut chosen: Vec<usize> = Vec::new();
    if blocking {
        chosen
            .extend((0..items.len()).filter(|&i| regexes.iter().any(|re| re.is_match(&names[i]))));
    } else {
        for re in &regexes {
            for (i, n) in names.iter().enumerate() {
                if re.is_match(n) && !chosen.contains(&i) {
                    chosen.push(i);
                }
            }
        }
    }
    Ok(chosen.into_iter().map(|i| &items[i]).collect())
}

/// Declares the signal and incremental snapshot keys.
pub fn define(def: ConfigDef) -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    def.define("signal.enabled.channels", List, Some("source"), Low, "Channels signals are read from: source (the signal.data.collection table), kafka (signal.kafka.topic), file (signal.file).")
        .define("signal.data.collection", String, Some(""), Low, "The signal table, <db>.<table> with columns id VARCHAR(42) PRIMARY KEY, type VARCHAR(32), data VARCHAR(2048): signals are rows inserted into it, and incremental snapshots write their watermarks into it (the connector's user needs INSERT on it).")
        .define("signal.poll.interval.ms", Long, Some("5000"), Low, "Milliseconds between reads of the file signal channel.")
        .define("signal.kafka.topic", String, Some(""), Low, "The Kafka signal channel's topic (default <topic.prefix>-signal); a record's key must be the connector's topic.prefix.")
        .define("signal.kafka.bootstrap.servers", String, Some(""), Low, "Brokers of signal.kafka.topic (default: the worker's).")
        .define("signal.kafka.groupId", String, Some("kafka-signal"), Low, "Consumer group of the Kafka signal channel.")
        .define("signal.kafka.poll.timeout.ms", Long, Some("100"), Low, "Milliseconds a poll of the Kafka signal channel waits.")
        .prefix("signal.consumer.")
        .define("signal.file", String, Some("file-signals.txt"), Low, "The file signal channel: one JSON signal {\"id\", \"type\", \"data\"} per line; lines read are removed.")
        .define("incremental.snapshot.chunk.size", Int, Some("1024"), Medium, "Rows read per chunk of an incremental snapshot.")
        .define("incremental.snapshot.watermarking.strategy", String, Some("insert_insert"), Low, "How the window watermarks are written to the signal table: insert_insert (an open and a close row per chunk) or insert_delete (an open row per chunk, deleted to close the window: the table does not grow).")
        .validate(one_of(&["insert_insert", "insert_delete"]))
        .define("notification.enabled.channels", List, Some(""), Low, "Where notifications go: sink (notification.sink.topic.name), log.")
        .define("notification.sink.topic.name", String, Some(""), Low, "Topic of the sink notification channel (required with it).")
}

impl SignalConfig {
    pub fn parse(cfg: &Config, topic_prefix: &str) -> Result<SignalConfig, ConfigError> {
        let mut sc = SignalConfig::default();
        for ch in cfg.list("signal.enabled.channels") {
            match ch.trim().to_ascii_lowercase().as_str() {
                "source" => sc.source = true,
                "kafka" => sc.kafka = true,
                "file" => sc.file = true,
                "jmx" => {
                    return Err(ConfigError::one(
                        "signal.enabled.channels: Sluice has no JMX; use source, kafka or file",
                    ))
                }
                "" => {}
                other => {
                    return Err(ConfigError::one(format!(
                    "signal.enabled.channels: unknown channel '{other}'; use source, kafka or file"
                )))
                }
            }
        }
        let dc = cfg.string("signal.data.collection")?;
        sc.data_collection = (!dc.trim().is_empty()).then(|| dc.trim().to_string());
        sc.kafka_topic = match cfg.string("signal.kafka.topic")? {
            t if t.is_empty() => format!("{topic_prefix}-signal"),
            t => t,
        };
        sc.kafka_bootstrap = cfg.string("signal.kafka.bootstrap.servers")?;
        if sc.kafka && sc.kafka_bootstrap.trim().is_empty() {
            return Err(ConfigError::one("signal.kafka.bootstrap.servers: required when signal.enabled.channels has kafka; name the brokers of signal.kafka.topic"));
        }

        sc.kafka_group = cfg.string("signal.kafka.groupId")?;
        sc.kafka_props = cfg.with_prefix("signal.consumer.");
        sc.file_path = PathBuf::from(cfg.string("signal.file")?);
        sc.poll_interval =
            Duration::from_millis(cfg.i64("signal.poll.interval.ms")?.max(10) as u64);
        sc.chunk_size = cfg.i32("incremental.snapshot.chunk.size")?.max(1) as usize;
        sc.close_by_delete = cfg
            .string("incremental.snapshot.watermarking.strategy")?
            .trim()
            .eq_ignore_ascii_case("insert_delete");
        Ok(sc)
    }
}

/// Signals from the Kafka and file channels, handed to the reader.
pub struct Channels {
    rx: mpsc::UnboundedReceiver<Signal>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Channels {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Channels {
    /// Starts the background readers of the enabled non-source channels.
    pub fn start(sc: &SignalConfig, topic_prefix: &str) -> Channels {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        if sc.file {
            tasks.push(tokio::spawn(file_channel(
                sc.file_path.clone(),
                sc.poll_interval,
                tx.clone(),
            )));
        }
        if sc.kafka {
            tasks.push(tokio::spawn(kafka_channel(
                sc.clone(),
                topic_prefix.to_string(),
                tx.clone(),
            )));
        }
        Channels { rx, tasks }
    }

    /// A signal that arrived, if any (never waits).
    pub fn try_next(&mut self) -> Option<Signal> {
        self.rx.try_recv().ok()
    }
}

/// Reads `path` every `every`: each complete line is a signal; the lines
/// read are removed from the file (a line still being written, without its
/// newline, stays).
async fn file_channel(path: PathBuf, every: Duration, tx: mpsc::UnboundedSender<Signal>) {
    loop {
        match take_lines(&path).await {
            Ok(lines) => {
                for line in lines {
                    match parse_file_line(&line) {
                        Ok(s) => {
                            if tx.send(s).is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::warn!(
                            "signal.file {}: skipping a line that is not a signal ({e}): {line}",
                            path.display()
                        ),
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("signal.file {}: cannot read it: {e}", path.display()),
        }
        tokio::time::sleep(every).await;
    }
}

/// The complete lines of `path`, which keeps only what follows them.
async fn take_lines(path: &std::path::Path) -> std::io::Result<Vec<String>> {
    let text = tokio::fs::read_to_string(path).await?;
    let Some(end) = text.rfind('\n') else {
        return Ok(Vec::new());
    };
    let (done, rest) = text.split_at(end + 1);
    tokio::fs::write(path, rest).await?;
    Ok(done
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

fn parse_file_line(line: &str) -> Result<Signal, String> {
    let v: Json = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let id = match v.get("id") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => return Err("no id".into()),
    };
    let kind = v
        .get("type")
        .and_then(Json::as_str)
        .ok_or("no type")?
        .to_string();
    Ok(Signal {
        id,
        kind,
        data: v.get("data").cloned().unwrap_or(Json::Null),
    })
}

/// Consumes `signal.kafka.topic` from its end as of the channel's start
/// (committed offsets of signal.kafka.groupId win); records keyed by
/// another `topic.prefix` are someone else's.
async fn kafka_channel(sc: SignalConfig, topic_prefix: String, tx: mpsc::UnboundedSender<Signal>) {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::Message;
    let mut props: std::collections::BTreeMap<String, String> = [
        ("group.id", sc.kafka_group.as_str()),
        ("enable.auto.commit", "true"),
        ("auto.offset.reset", "earliest"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    props.extend(sc.kafka_props.clone());
    let created = sluice_runtime::kafka::client_config(&sc.kafka_bootstrap, &props).and_then(|c| {
        c.create::<StreamConsumer>()
            .map_err(|_| "librdkafka refused the settings".to_string())
    });
    let consumer = match created {
        Ok(c) => c,
        Err(e) => {
            // The client's own error text may quote a setting's value (a
            // password), so only Sluice's words are logged.
            tracing::error!(
                "the Kafka signal channel cannot start ({e}; check signal.kafka.bootstrap.servers and signal.consumer.*); signals on {} are not read",
                sc.kafka_topic
            );
            return;
        }
    };
    if let Err(e) = consumer.subscribe(&[&sc.kafka_topic]) {
        tracing::error!(
            "the Kafka signal channel cannot subscribe to {}: {e}",
            sc.kafka_topic
        );
        return;
    }
    loop {
        match consumer.recv().await {
            Ok(m) => {
                let key = m.key().map(String::from_utf8_lossy);
                if key.as_deref() != Some(topic_prefix.as_str()) {
                    continue;
                }
                let value = m.payload().map(String::from_utf8_lossy).unwrap_or_default();
                let parsed: Result<Json, _> = serde_json::from_str(&value);
                match parsed {
                    Ok(v) => {
                        let Some(kind) = v.get("type").and_then(Json::as_str) else {
                            tracing::warn!(
                                "signal.kafka.topic {}: a record with no type, skipped: {value}",
                                sc.kafka_topic
                            );
                            continue;
                        };
                        // Debezium takes the value's id (often absent).
                        let id = match v.get("id") {
                            Some(Json::String(s)) => s.clone(),
                            Some(Json::Number(n)) => n.to_string(),
                            _ => String::new(),
                        };
                        let s = Signal {
                            id,
                            kind: kind.to_string(),
                            data: v.get("data").cloned().unwrap_or(Json::Null),
                        };
                        if tx.send(s).is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(
                        "signal.kafka.topic {}: a record that is not JSON ({e}), skipped: {value}",
                        sc.kafka_topic
                    ),
                }
            }
            Err(e) => {
                tracing::warn!("the Kafka signal channel ({}): {e}", sc.kafka_topic);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_collections_expand_as_debezium_reads_them_per_snapshot_kind() {
        let items = ["db.B", "db.a", "db.c", "other.a"].map(String::from);
        let by = |e: &[&str], blocking| {
            let e: Vec<String> = e.iter().map(|s| s.to_string()).collect();
            expand_collections(&e, &items, |s| s.clone(), blocking)
                .map(|v| v.into_iter().cloned().collect::<Vec<_>>())
        };
        // Incremental: case-sensitive, whole names, the entries' order, once each.
        assert_eq!(
            by(&["db\\.c", "db\\..*", "db.b"], false).unwrap(),
            ["db.c", "db.B", "db.a"]
        );
        // A comma is part of an incremental entry's expression.
        assert!(by(&["db.a,db.c"], false).unwrap().is_empty());
        // Blocking: a comma-separated, case-insensitive list; the items' order.
        assert_eq!(
            by(&["db.c, DB.B", "other.A"], true).unwrap(),
            ["db.B", "db.c", "other.a"]
        );
        let e = by(&["db.a", "db.("], false).unwrap_err();
        assert!(
            e.contains("'db.('") && e.contains("not a regular expression"),
            "{e}"
        );
        assert!(by(&["db.("], true).is_err());
    }

    #[test]
    fn execute_snapshot_reads_debeziums_data() {
        let s = Signal::new(
            "ad-hoc-1",
            "execute-snapshot",
            Some(r#"{"data-collections": ["inventory.orders", "inventory\\.c.*"], "type": "incremental", "additional-conditions": [{"data-collection": "inventory.orders", "filter": "qty > 10"}], "surrogate-key": "code"}"#),
        )
        .unwrap();
        let Action::Execute(r) = s.action().unwrap() else {
            panic!("not execute");
        };
        assert_eq!(r.kind, SnapshotKind::Incremental);
        assert_eq!(r.collections, ["inventory.orders", "inventory\\.c.*"]);
        assert_eq!(
            r.conditions,
            [("inventory.orders".to_string(), "qty > 10".to_string())]
        );
        assert_eq!(r.surrogate_key.as_deref(), Some("code"));
        let b = Signal::new(
            "b",
            "execute-snapshot",
            Some(r#"{"data-collections": ["a.b"], "type": "BLOCKING"}"#),
        )
        .unwrap();
        assert!(matches!(
            b.action().unwrap(),
            Action::Execute(SnapshotRequest {
                kind: SnapshotKind::Blocking,
                ..
            })
        ));
    }

    #[test]
    fn bad_signals_say_what_is_wrong() {
        let e = Signal::new("x", "execute-snapshot", Some("{}"))
            .unwrap()
            .action()
            .unwrap_err();
        assert!(e.contains("data-collections"), "{e}");
        let e = Signal::new("x", "reboot", None)
            .unwrap()
            .action()
            .unwrap_err();
        assert!(
            e.contains("reboot") && e.contains("execute-snapshot"),
            "{e}"
        );
        let e = Signal::new("x", "log", Some("{not json")).unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let e = Signal::new(
            "x",
            "execute-snapshot",
            Some(r#"{"data-collections":["a.b"],"type":"full"}"#),
        )
        .unwrap()
        .action()
        .unwrap_err();
        assert!(e.contains("incremental or blocking"), "{e}");
    }

    #[test]
    fn log_pause_resume_stop() {
        let a = |k: &str, d: Option<&str>| Signal::new("1", k, d).unwrap().action().unwrap();
        assert_eq!(
            a("log", Some(r#"{"message": "hello {}"}"#)),
            Action::Log("hello {}".into())
        );
        assert_eq!(a("pause-snapshot", None), Action::Pause);
        assert_eq!(a("resume-snapshot", Some("{}")), Action::Resume);
        assert_eq!(
            a(
                "stop-snapshot",
                Some(r#"{"data-collections": ["a.b"], "type": "INCREMENTAL"}"#)
            ),
            Action::Stop(vec!["a.b".into()])
        );
        assert_eq!(
            a(WINDOW_OPEN, Some(r#"{"openWindowTimestamp": "x"}"#)),
            Action::WindowOpen
        );
    }

    #[tokio::test]
    async fn the_file_channel_takes_complete_lines_only() {
        let dir = std::env::temp_dir().join(format!("sluice-signal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("signals.txt");
        std::fs::write(
            &f,
            "{\"id\":\"1\",\"type\":\"log\",\"data\":{\"message\":\"m\"}}\n{\"id\":\"2\",\"ty",
        )
        .unwrap();
        let lines = take_lines(&f).await.unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(parse_file_line(&lines[0]).unwrap().id, "1");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "{\"id\":\"2\",\"ty");
        std::fs::remove_dir_all(&dir).ok();
    }
}
