//! Log levels changed at run time, and `/admin/loggers` over them.
//!
//! Kafka Connect names log4j loggers (`root`, `io.debezium.connector.mysql`);
//! Sluice logs through `tracing`, filtered by one `EnvFilter` behind a
//! `tracing_subscriber::reload` handle. [`LogLevels`] keeps the levels as a
//! map of logger name to level and, on every change, rebuilds the filter's
//! directive string and swaps it in:
//!
//! - `root` is the default level: the directive with no target;
//! - any other name is a target prefix, as given, with `.` replaced by `::`:
//!   `sluice_connectors.mysql` and `sluice_connectors::mysql` both become the
//!   directive `sluice_connectors::mysql=LEVEL`, which covers that module and
//!   everything below it. (Java package names such as `io.debezium` are
//!   accepted and listed, but match only targets that are spelled that way.)
//!
//! Levels are log4j's names: `OFF`, `FATAL` (= error), `ERROR`, `WARN`,
//! `INFO`, `DEBUG`, `TRACE`, `ALL` (= trace). As in Kafka Connect, setting a
//! level also sets it on every configured logger below that name (`root`
//! covers them all), the answer lists the loggers whose level changed (none
//! when they all had it already), and an unknown level is a 404. Unlike log4j there is no fixed set of existing loggers,
//! so `GET /admin/loggers/{name}` answers any name with its effective level
//! (its own, else its nearest configured ancestor's, else root's).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, QueryPairs};
use super::json_log::{JsonFields, JsonLines, LogFormat};

/// The name Kafka Connect gives the default level.
pub const ROOT: &str = "root";

/// One logger's level as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggerLevel {
    /// The log4j name, upper case, as it was set (`FATAL` stays `FATAL`).
    pub level: String,
    /// Milliseconds since the epoch of the last change over the API.
    pub last_modified: Option<u64>,
}

impl LoggerLevel {
    fn to_json(&self) -> Value {
        json!({"level": self.level, "last_modified": self.last_modified})
    }
}

/// Run-time log levels; cheap to clone, shared by the REST server and the
/// binary.
#[derive(Clone)]
pub struct LogLevels {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    root: LoggerLevel,
    loggers: BTreeMap<String, LoggerLevel>,
    /// Directives from `RUST_LOG` that name no single logger (span or field
    /// filters); kept verbatim at the end of the filter.
    extra: Vec<String>,
    handle: Option<reload::Handle<EnvFilter, Registry>>,
}

impl fmt::Debug for LogLevels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogLevels")
            .field("directives", &self.directives())
            .finish()
    }
}

impl LogLevels {
    /// Levels not attached to any subscriber (tests, embedding): changes are
    /// recorded and validated but filter nothing.
    pub fn detached(default_level: &str) -> LogLevels {
        let root = parse_level(default_level).map_or("INFO", |_| default_level);
        LogLevels::from_parts(root, BTreeMap::new(), Vec::new(), None)
    }

    fn from_parts(
        root: &str,
        loggers: BTreeMap<String, LoggerLevel>,
        extra: Vec<String>,
        handle: Option<reload::Handle<EnvFilter, Registry>>,
    ) -> LogLevels {
        let root = LoggerLevel {
            level: root.trim().to_ascii_uppercase(),
            last_modified: None,
        };
        LogLevels {
            inner: Arc::new(Mutex::new(Inner {
                root,
                loggers,
                extra,
                handle,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves consistent data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `EnvFilter` directive string for the current levels.
    pub fn directives(&self) -> String {
        self.lock().directives()
    }

    /// `root` first, then every configured logger.
    pub fn all(&self) -> Vec<(String, LoggerLevel)> {
        let inner = self.lock();
        let mut out = vec![(ROOT.to_string(), inner.root.clone())];
        out.extend(inner.loggers.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// The effective level of `name`.
    pub fn get(&self, name: &str) -> LoggerLevel {
        let inner = self.lock();
        if name == ROOT {
            return inner.root.clone();
        }
        let name = canonical(name);
        inner
            .loggers
            .iter()
            .filter(|(k, _)| is_descendant(&name, &canonical(k)))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| inner.root.clone())
    }

    /// Sets `name` and every configured logger below it to `level`; returns
    /// the loggers changed. Errors carry the HTTP status to answer with.
    pub fn set(&self, name: &str, level: &str) -> Result<Vec<String>, ApiError> {
        let level_name = level.trim().to_ascii_uppercase();
        if parse_level(&level_name).is_none() {
            return Err(ApiError::not_found(format!(
                "invalid log level '{level}'. Use OFF, FATAL, ERROR, WARN, INFO, DEBUG, TRACE or ALL"
            )));
        }
        if name != ROOT && !valid_target(name) {
            return Err(ApiError::bad_request(format!(
                "Logger name '{name}' cannot be a tracing target: use letters, digits, '_', '-', '.' or '::'"
            )));
        }
        let entry = LoggerLevel {
            level: level_name,
            last_modified: Some(now_millis()),
        };
        // The named logger's level before, its own or inherited.
        let before = self.get(name);
        let mut inner = self.lock();
        let mut next_root = inner.root.clone();
        let mut next = inner.loggers.clone();
        let mut affected = Vec::new();
        // A logger that has the level already keeps it, and its
        // last_modified, and is not listed (as in Kafka Connect).
        let set = |v: &mut LoggerLevel, k: &str, affected: &mut Vec<String>| {
            if v.level != entry.level {
                *v = entry.clone();
                affected.push(k.to_string());
            }
        };
        if name == ROOT {
            set(&mut next_root, ROOT, &mut affected);
            for (k, v) in next.iter_mut() {
                set(v, k, &mut affected);
            }
        } else {
            let canon = canonical(name);
            // One entry per target: `a.b` replaces an earlier `a::b`.
            next.retain(|k, _| k == name || canonical(k) != canon);
            for (k, v) in next.iter_mut() {
                if k != name && is_descendant(&canonical(k), &canon) {
                    set(v, k, &mut affected);
                }
            }
            let mut own = next.get(name).cloned().unwrap_or(LoggerLevel {
                level: before.level,
                last_modified: None,
            });
            set(&mut own, name, &mut affected);
            next.insert(name.to_string(), own);
            affected.sort();
        }
        let directives = build_directives(&next_root, &next, &inner.extra);
        let filter = EnvFilter::try_new(&directives)
            .map_err(|e| ApiError::bad_request(format!("Cannot set {name} to {level}: {e}")))?;
        if let Some(handle) = &inner.handle {
            handle.reload(filter).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Cannot apply the new log levels: {e}"),
                )
            })?;
        }
        inner.root = next_root;
        inner.loggers = next;
        Ok(affected)
    }
}

impl Inner {
    fn directives(&self) -> String {
        build_directives(&self.root, &self.loggers, &self.extra)
    }
}

fn build_directives(
    root: &LoggerLevel,
    loggers: &BTreeMap<String, LoggerLevel>,
    extra: &[String],
) -> String {
    let mut parts = vec![parse_level(&root.level).unwrap_or("info").to_string()];
    for (name, level) in loggers {
        let directive = parse_level(&level.level).unwrap_or("info");
        parts.push(format!("{}={directive}", canonical(name)));
    }
    parts.extend(extra.iter().cloned());
    parts.join(",")
}

/// log4j level name to `EnvFilter` level.
fn parse_level(level: &str) -> Option<&'static str> {
    match level.trim().to_ascii_uppercase().as_str() {
        "OFF" => Some("off"),
        "FATAL" | "ERROR" => Some("error"),
        "WARN" | "WARNING" => Some("warn"),
        "INFO" => Some("info"),
        "DEBUG" => Some("debug"),
        "TRACE" | "ALL" => Some("trace"),
        _ => None,
    }
}

/// Logger name to tracing target: `.` becomes `::`.
fn canonical(name: &str) -> String {
    name.replace("::", ".").replace('.', "::")
}

/// Whether canonical `name` is `ancestor` or below it.
fn is_descendant(name: &str, ancestor: &str) -> bool {
    name == ancestor
        || name
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with("::"))
}

fn valid_target(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Installs the global `tracing` subscriber: lines like
/// `2026-11-25T08:00:00Z  INFO target: message` on stderr, filtered by
/// `default_level` (a log4j or tracing level name) or, when set, by
/// `RUST_LOG`. Returns the handle that `/admin/loggers` changes. If a global
/// subscriber is already installed the levels are returned detached.
pub fn init_logging(default_level: &str) -> LogLevels {
    init_logging_as(default_level, LogFormat::Text)
}

/// [`init_logging`] in `format`: text, or one JSON object per line (see
/// [`super::json_log`]).
pub fn init_logging_as(default_level: &str, format: LogFormat) -> LogLevels {
    let rust_log = std::env::var("RUST_LOG").ok();
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (levels, subscriber) = logging_subscriber(
        default_level,
        rust_log.as_deref(),
        ansi,
        format,
        std::io::stderr,
    );
    if subscriber.try_init().is_err() {
        levels.lock().handle = None;
    }
    levels
}

/// The subscriber [`init_logging_as`] installs, writing to `writer`, and the
/// levels attached to its filter (the same filter whatever the format).
pub(crate) fn logging_subscriber<W>(
    default_level: &str,
    rust_log: Option<&str>,
    ansi: bool,
    format: LogFormat,
    writer: W,
) -> (LogLevels, impl tracing::Subscriber + Send + Sync + 'static)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (root, loggers, extra) = match rust_log {
        Some(spec) if !spec.trim().is_empty() => parse_rust_log(spec, default_level),
        _ => (default_level.to_string(), BTreeMap::new(), Vec::new()),
    };
    let root = if parse_level(&root).is_some() {
        root
    } else {
        "INFO".to_string()
    };
    let levels = LogLevels::from_parts(&root, loggers, extra, None);
    let filter = EnvFilter::try_new(levels.directives()).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    levels.lock().handle = Some(handle);
    let (text, json) = match format {
        LogFormat::Text => {
            let text = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_timer(UtcSeconds)
                .with_ansi(ansi);
            (Some(text), None)
        }
        LogFormat::Json => {
            let json = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .fmt_fields(JsonFields)
                .event_format(JsonLines);
            (None, Some(json))
        }
    };
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json);
    (levels, subscriber)
}

/// Splits a `RUST_LOG` spec into a root level, per-target levels and
/// directives kept verbatim.
pub(crate) fn parse_rust_log(
    spec: &str,
    default_level: &str,
) -> (String, BTreeMap<String, LoggerLevel>, Vec<String>) {
    let mut root = default_level.to_string();
    let mut loggers = BTreeMap::new();
    let mut extra = Vec::new();
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.split_once('=') {
            None if parse_level(directive).is_some() => root = directive.to_string(),
            Some((target, level)) if valid_target(target) && parse_level(level).is_some() => {
                let level = LoggerLevel {
                    level: level.trim().to_ascii_uppercase(),
                    last_modified: None,
                };
                loggers.insert(target.to_string(), level);
            }
            _ => extra.push(directive.to_string()),
        }
    }
    (root, loggers, extra)
}

/// RFC 3339 UTC time to the second: `2026-11-25T08:00:00Z`.
struct UtcSeconds;

impl FormatTime for UtcSeconds {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        w.write_str(&format_utc(secs))
    }
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, after
/// Howard Hinnant's date algorithms).
pub(crate) fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `GET /admin/loggers`.
pub async fn list(State(levels): State<LogLevels>) -> Response {
    let mut out = Map::new();
    for (name, level) in levels.all() {
        out.insert(name, level.to_json());
    }
    Json(Value::Object(out)).into_response()
}

/// `GET /admin/loggers/{logger}`.
pub async fn get(State(levels): State<LogLevels>, ApiPath(name): ApiPath<String>) -> Response {
    Json(levels.get(&name).to_json()).into_response()
}

/// `PUT /admin/loggers/{logger}?scope=worker|cluster` with `{"level": "DEBUG"}`:
/// 200 with the loggers changed; 204 for cluster scope (this worker is the
/// only one a standalone cluster has; distributed mode forwards elsewhere).
pub async fn set(
    State(levels): State<LogLevels>,
    ApiPath(name): ApiPath<String>,
    q: QueryPairs,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let Some(level) = body.get("level").and_then(Value::as_str) else {
        return Err(ApiError::bad_request(
            "Desired 'level' parameter was not specified in request. Send {\"level\": \"DEBUG\"}",
        ));
    };
    let affected = levels.set(&name, level)?;
    let cluster = q
        .first("scope")
        .is_some_and(|scope| scope.eq_ignore_ascii_case("cluster"));
    if cluster {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Ok(Json(affected).into_response())
    }
}
