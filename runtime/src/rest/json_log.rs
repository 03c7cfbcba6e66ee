//! `log.format=json`: one JSON object per line, for log shippers.
//!
//! ```text
//! {"timestamp":"2026-11-25T08:00:00.123Z","level":"INFO","logger":"sluice_connectors::mysql::snapshot","message":"snapshot: inventory.orders 120000 of ~500000 rows (24%), 41000 rows/s, about 9 s left","connector":"inventory","task":0,"table":"inventory.orders","rows":120000,...}
//! ```
//!
//! Flat, as log4j's JSON layouts give Kafka Connect's MDC: after
//! `timestamp` (UTC, milliseconds), `level`, `logger` (the tracing target,
//! the name `/admin/loggers` takes) and `message` come the fields of every
//! span the event happened in, outermost first (a task's `connector` and
//! `task`), then the event's own fields; a later field of the same name
//! wins. Numbers and booleans stay JSON numbers and booleans.
//!
//! Built on tracing-subscriber's `fmt` layer (its filter and reload handle,
//! so `/admin/loggers` works the same as with text): [`JsonFields`] keeps
//! each span's fields as a JSON object, [`JsonLines`] writes the line. The
//! `json` feature of tracing-subscriber would nest span fields under
//! `span`/`spans` and add the `tracing-serde` crate; this needs neither.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Number, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::loggers::format_utc;

/// The worker's log format (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `2026-11-25T08:00:00Z  INFO task{connector=c task=0}: target: message`.
    #[default]
    Text,
    /// One JSON object per line (see the module doc).
    Json,
}

impl LogFormat {
    /// `text` or `json`, in any case.
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Formats a span's fields as a JSON object (kept in the span's
/// extensions, merged into each line of an event inside it).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonFields;

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut v = JsonVisitor::default();
        fields.record(&mut v);
        write!(writer, "{}", Value::Object(v.0))
    }

    /// `span.record(...)` after creation: merged into the object, not
    /// appended after it.
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut v = JsonVisitor(parse_object(&current.fields));
        fields.record(&mut v);
        current.fields = Value::Object(v.0).to_string();
        Ok(())
    }
}

/// Writes each event as one JSON line.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), Value::String(now_utc_millis()));
        line.insert("level".into(), Value::String(meta.level().to_string()));
        line.insert("logger".into(), Value::String(meta.target().to_string()));
        line.insert("message".into(), Value::String(String::new()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                    line.extend(parse_object(&fields.fields));
                }
            }
        }
        let mut v = JsonVisitor::default();
        event.record(&mut v);
        line.extend(v.0);
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// A span's stored fields back as a map (empty when there are none).
fn parse_object(s: &str) -> Map<String, Value> {
    match serde_json::from_str(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Collects fields as JSON values.
#[derive(Default)]
struct JsonVisitor(Map<String, Value>);

impl JsonVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_string(), value);
    }
}

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let v =
            Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.put(field, v);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `message` is format_args!, whose Debug is the text itself.
        self.put(field, Value::String(format!("{value:?}")));
    }
}

/// `2026-11-25T08:00:00.123Z`.
fn now_utc_millis() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = format_utc(d.as_secs());
    format!(
        "{}.{:03}Z",
        seconds.trim_end_matches('Z'),
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{json, Value};

    use super::LogFormat;
    use crate::rest::loggers::logging_subscriber;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        }
    }

    #[test]
    fn each_line_is_one_object_with_the_fields_of_its_spans() {
        let out = Captured::default();
        let writer = out.clone();
        let (_levels, subscriber) =
            logging_subscriber("INFO", None, false, LogFormat::Json, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let task = tracing::info_span!("task", connector = "inventory", task = 0u32);
            let _in_task = task.enter();
            let table = tracing::info_span!("snapshot", table = tracing::field::Empty);
            table.record("table", "db.orders");
            let _in_table = table.enter();
            tracing::info!(target: "probe::snapshot", rows = 120u64, rate = 40.5, done = false, "snapshot: {} rows", 120);
            tracing::warn!(target: "probe::snapshot", task = 7, "an event's own field wins");
        });
        let lines = out.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let first = lines[0].as_object().unwrap();
        let keys: Vec<&str> = first.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "level",
                "logger",
                "message",
                "connector",
                "task",
                "table",
                "rows",
                "rate",
                "done"
            ]
        );
        let ts = first["timestamp"].as_str().unwrap();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.',
            "{ts}"
        );
        let mut rest = first.clone();
        rest.remove("timestamp");
        assert_eq!(
            Value::Object(rest),
            json!({"level": "INFO", "logger": "probe::snapshot", "message": "snapshot: 120 rows",
                   "connector": "inventory", "task": 0, "table": "db.orders",
                   "rows": 120, "rate": 40.5, "done": false})
        );
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["task"], 7);
        assert_eq!(lines[1]["connector"], "inventory");
    }

    #[test]
    fn levels_set_at_run_time_apply_to_json_lines() {
        let out = Captured::default();
        let writer = out.clone();
        let (levels, subscriber) =
            logging_subscriber("WARN", None, false, LogFormat::Json, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "probe::inner", "hidden before");
            levels.set("probe", "DEBUG").unwrap();
            tracing::debug!(target: "probe::inner", "shown after");
        });
        let lines = out.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["message"], "shown after");
        assert_eq!(lines[0]["level"], "DEBUG");
    }

    #[test]
    fn format_names() {
        assert_eq!(LogFormat::parse(" JSON "), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("logfmt"), None);
    }
}
