//! Plugin traits and the registry that finds plugins by name.
//!
//! The traits follow Kafka Connect's contracts: a connector validates its
//! config and splits work into task configs; a source task is pull-based
//! (`poll` returns a batch, each record carrying its own offset); a sink task
//! takes batches and flushes before its consumer offsets are committed.
//! Transforms, predicates and converters are synchronous and cheap per record.
//!
//! The registry is plain data: `src/registry.rs` of the binary lists every
//! built-in plugin by class name and alias, and a user's own binary can add
//! more before it starts the worker.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::{ConfigDef, ConfigError};
use crate::data::{
    Headers, JsonMap, RecordData, Schema, SchemaAndValue, SinkRecord, SourceRecord, Value,
};

/// A boxed future, so that tasks can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A flat string config, as Kafka Connect passes them.
pub type Props = BTreeMap<String, String>;

/// What went wrong in a task, split by what the worker should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TaskError {
    /// A retry may fix it (connection lost, broker unavailable): the worker
    /// backs off and retries; the task stays RUNNING.
    #[error("{0}")]
    Retriable(String),
    /// A retry cannot fix it (bad config, position purged, undecodable data):
    /// the task goes FAILED with this message as its trace.
    #[error("{0}")]
    Fatal(String),
}

impl TaskError {
    pub fn is_retriable(&self) -> bool {
        matches!(self, TaskError::Retriable(_))
    }
}

impl From<ConfigError> for TaskError {
    fn from(e: ConfigError) -> Self {
        TaskError::Fatal(e.to_string())
    }
}

/// What the worker does about a [`RecordError`] (Kafka Connect's split
/// between `RetriableException` and other exceptions, plus a way for a
/// plug-in to give up on the whole task).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordErrorKind {
    /// Bad data: `errors.tolerance` decides (fail the task, or skip).
    #[default]
    Data,
    /// A retry may succeed (a lookup service was down): retried with
    /// backoff for `errors.retry.timeout`, then handled as `Data`.
    Retriable,
    /// Retrying or skipping cannot help (a plug-in that keeps looping): the
    /// task fails whatever `errors.tolerance` says.
    Task,
}

/// A converter or transform could not handle one record.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RecordError {
    pub message: String,
    pub kind: RecordErrorKind,
}

impl RecordError {
    /// A data error: subject to `errors.tolerance`.
    pub fn new(msg: impl Into<String>) -> Self {
        RecordError {
            message: msg.into(),
            kind: RecordErrorKind::Data,
        }
    }

    /// An error a retry may fix: retried as `errors.retry.timeout` allows.
    pub fn retriable(msg: impl Into<String>) -> Self {
        RecordError {
            message: msg.into(),
            kind: RecordErrorKind::Retriable,
        }
    }

    /// An error that fails the task, whatever `errors.tolerance` says.
    pub fn fatal(msg: impl Into<String>) -> Self {
        RecordError {
            message: msg.into(),
            kind: RecordErrorKind::Task,
        }
    }

    pub fn is_retriable(&self) -> bool {
        self.kind == RecordErrorKind::Retriable
    }

    pub fn is_fatal(&self) -> bool {
        self.kind == RecordErrorKind::Task
    }

    /// The same error with its message rewritten (e.g. to name the stage).
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        RecordError {
            message: f(self.message),
            kind: self.kind,
        }
    }
}

/// Reads committed source offsets (Kafka Connect's `OffsetStorageReader`).
pub trait OffsetReader: Send + Sync {
    fn offset(&self, partition: &JsonMap) -> Option<JsonMap>;
}

/// What a source task knows about where it runs.
#[derive(Clone)]
pub struct SourceTaskContext {
    pub connector: String,
    pub task_id: u32,
    pub offsets: Arc<dyn OffsetReader>,
    /// Task status extras (e.g. snapshot progress); shown in the status JSON.
    pub progress: Arc<std::sync::Mutex<Option<serde_json::Value>>>,
}

impl SourceTaskContext {
    /// Publishes progress that the task status shows.
    pub fn set_progress(&self, value: serde_json::Value) {
        if let Ok(mut p) = self.progress.lock() {
            *p = Some(value);
        }
    }

    /// Sets one part of the progress (`"streaming"`, `"snapshot"`), keeping
    /// the others.
    pub fn update_progress(&self, key: &str, value: serde_json::Value) {
        if let Ok(mut p) = self.progress.lock() {
            match p.as_mut().and_then(serde_json::Value::as_object_mut) {
                Some(o) => {
                    o.insert(key.to_string(), value);
                }
                None => *p = Some(serde_json::json!({ key: value })),
            }
        }
    }
}

/// What a sink task knows about where it runs.
#[derive(Clone)]
pub struct SinkTaskContext {
    pub connector: String,
    pub task_id: u32,
}

/// A source connector (Kafka Connect's `SourceConnector`).
pub trait SourceConnector: Send {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
    /// Every key this connector reads (beyond the worker's common keys).
    fn config_def(&self) -> ConfigDef;
    /// Checks beyond the declared types: per-key errors.
    fn validate(&self, _props: &Props) -> BTreeMap<String, Vec<String>> {
        BTreeMap::new()
    }
    fn start(&mut self, props: &Props) -> Result<(), ConfigError>;
    /// Splits the work into at most `max_tasks` task configs.
    fn task_configs(&self, max_tasks: usize) -> Vec<Props>;
    fn stop(&mut self) {}
    /// A new task; may be called on an instance that was never started.
    fn create_task(&self) -> Box<dyn SourceTask>;
}

/// A source task: pull-based.
///
/// `poll` must return within about a second (an empty batch when there is
/// nothing new), so that the worker can pause or stop the task between polls.
pub trait SourceTask: Send {
    fn start(
        &mut self,
        props: Props,
        ctx: SourceTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>>;
    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>, TaskError>>;
    /// Called after offsets were committed up to and including these.
    fn commit(&mut self, _offsets: &[(JsonMap, JsonMap)]) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async { Ok(()) })
    }
    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A sink connector (Kafka Connect's `SinkConnector`).
pub trait SinkConnector: Send {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
    fn config_def(&self) -> ConfigDef;
    fn validate(&self, _props: &Props) -> BTreeMap<String, Vec<String>> {
        BTreeMap::new()
    }
    fn start(&mut self, props: &Props) -> Result<(), ConfigError>;
    fn task_configs(&self, max_tasks: usize) -> Vec<Props>;
    fn stop(&mut self) {}
    fn create_task(&self) -> Box<dyn SinkTask>;
}

/// A sink task: takes batches; `flush` makes them durable before the
/// worker commits the consumer offsets past them.
pub trait SinkTask: Send {
    fn start(&mut self, props: Props, ctx: SinkTaskContext)
        -> BoxFuture<'_, Result<(), TaskError>>;
    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<(), TaskError>>;
    fn flush(&mut self) -> BoxFuture<'_, Result<(), TaskError>>;
    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// Records of the last `put` the task could not write and skipped
    /// (Kafka Connect's `ErrantRecordReporter`, KIP-610): the runtime sends
    /// each, as it was consumed, to the dead letter queue when one is
    /// configured, before it commits past them. Taken once.
    fn take_errant(&mut self) -> Vec<ErrantRecord> {
        Vec::new()
    }
}

/// A consumed record a sink task could not write, by where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrantRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub message: String,
}

/// A single message transform (Kafka Connect's `Transformation`).
pub trait Transform: Send + Sync {
    fn config_def(&self) -> ConfigDef;
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError>;
    /// Record in, zero (filtered out) or one record out.
    fn apply(&self, record: RecordData) -> Result<Option<RecordData>, RecordError>;
}

/// A condition on a record (Kafka Connect's `Predicate`).
pub trait Predicate: Send + Sync {
    fn config_def(&self) -> ConfigDef;
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError>;
    fn test(&self, record: &RecordData) -> bool;
}

/// Turns values into bytes and back (Kafka Connect's `Converter`).
pub trait Converter: Send + Sync {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    /// `props` are the converter's own keys (prefix already stripped).
    fn configure(&mut self, props: &Props, is_key: bool) -> Result<(), ConfigError>;
    /// Serialises into `out` (cleared by the caller). Returns `false` when
    /// the Kafka payload is null (a null value). May add record headers (as
    /// Kafka Connect's `fromConnectData` may); they then go through the
    /// header converter like every other header. A converter that adds one
    /// replaces an earlier header of the same name, so that a retried call
    /// adds it once.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect(
        &self,
        topic: &str,
        headers: &mut Headers,
        schema: Option<&Arc<Schema>>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, RecordError>;
    fn to_connect(
        &self,
        topic: &str,
        headers: &Headers,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, RecordError>;
}

/// Turns header values into bytes and back (Kafka Connect's `HeaderConverter`).
pub trait HeaderConverter: Send + Sync {
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError>;
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_header(
        &self,
        topic: &str,
        key: &str,
        schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, RecordError>;
    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, RecordError>;
}

/// The kinds of plugin, with Kafka Connect's names for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    Source,
    Sink,
    Transformation,
    Predicate,
    Converter,
    HeaderConverter,
}

impl PluginKind {
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Source => "source",
            PluginKind::Sink => "sink",
            PluginKind::Transformation => "transformation",
            PluginKind::Predicate => "predicate",
            PluginKind::Converter => "converter",
            PluginKind::HeaderConverter => "header_converter",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

type Factory<T> = Arc<dyn Fn() -> T + Send + Sync>;

/// A plugin's names.
#[derive(Debug, Clone)]
pub struct PluginDesc {
    pub class: String,
    pub aliases: Vec<String>,
    pub kind: PluginKind,
    pub version: String,
}

impl PluginDesc {
    fn matches(&self, name: &str) -> bool {
        let name = name.trim();
        if self.class == name {
            return true;
        }
        let simple = self.class.rsplit(['.', '$']).next().unwrap_or(&self.class);
        let simple_class = self.class.rsplit('.').next().unwrap_or(&self.class);
        simple_class == name
            || (simple == name && !self.class.contains('$'))
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

#[derive(Clone)]
enum Entry {
    Source(Factory<Box<dyn SourceConnector>>),
    Sink(Factory<Box<dyn SinkConnector>>),
    Transform(Factory<Box<dyn Transform>>),
    Predicate(Factory<Box<dyn Predicate>>),
    Converter(Factory<Box<dyn Converter>>),
    HeaderConverter(Factory<Box<dyn HeaderConverter>>),
}

/// Every plugin the worker can instantiate, by class name and alias.
#[derive(Clone, Default)]
pub struct Registry {
    entries: Vec<(PluginDesc, Entry)>,
}

/// A name that matches no plugin of the kind asked for.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Failed to find any class that implements {kind} and which name matches {name}; available {kind} plugins are: {known}")]
pub struct UnknownPlugin {
    pub kind: String,
    pub name: String,
    pub known: String,
}

macro_rules! register_fn {
    ($fn_name:ident, $trait_obj:ty, $variant:ident, $kind:expr) => {
        pub fn $fn_name(
            &mut self,
            class: &str,
            aliases: &[&str],
            factory: impl Fn() -> $trait_obj + Send + Sync + 'static,
        ) -> &mut Self {
            self.add(class, aliases, $kind, Entry::$variant(Arc::new(factory)))
        }
    };
}

macro_rules! create_fn {
    ($fn_name:ident, $trait_obj:ty, $variant:ident, $kind:expr) => {
        pub fn $fn_name(&self, name: &str) -> Result<$trait_obj, UnknownPlugin> {
            for (desc, entry) in &self.entries {
                if let Entry::$variant(f) = entry {
                    if desc.matches(name) {
                        return Ok(f());
                    }
                }
            }
            Err(self.unknown($kind, name))
        }
    };
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    fn add(&mut self, class: &str, aliases: &[&str], kind: PluginKind, entry: Entry) -> &mut Self {
        self.entries
            .retain(|(d, _)| !(d.class == class && d.kind == kind));
        self.entries.push((
            PluginDesc {
                class: class.to_string(),
                aliases: aliases.iter().map(|s| s.to_string()).collect(),
                kind,
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            entry,
        ));
        self
    }

    register_fn!(
        register_source,
        Box<dyn SourceConnector>,
        Source,
        PluginKind::Source
    );
    register_fn!(
        register_sink,
        Box<dyn SinkConnector>,
        Sink,
        PluginKind::Sink
    );
    register_fn!(
        register_transform,
        Box<dyn Transform>,
        Transform,
        PluginKind::Transformation
    );
    register_fn!(
        register_predicate,
        Box<dyn Predicate>,
        Predicate,
        PluginKind::Predicate
    );
    register_fn!(
        register_converter,
        Box<dyn Converter>,
        Converter,
        PluginKind::Converter
    );
    register_fn!(
        register_header_converter,
        Box<dyn HeaderConverter>,
        HeaderConverter,
        PluginKind::HeaderConverter
    );

    create_fn!(source, Box<dyn SourceConnector>, Source, PluginKind::Source);
    create_fn!(sink, Box<dyn SinkConnector>, Sink, PluginKind::Sink);
    create_fn!(
        transform,
        Box<dyn Transform>,
        Transform,
        PluginKind::Transformation
    );
    create_fn!(
        predicate,
        Box<dyn Predicate>,
        Predicate,
        PluginKind::Predicate
    );
    create_fn!(
        converter,
        Box<dyn Converter>,
        Converter,
        PluginKind::Converter
    );
    create_fn!(
        header_converter,
        Box<dyn HeaderConverter>,
        HeaderConverter,
        PluginKind::HeaderConverter
    );

    /// The connector named by `connector.class`, source or sink.
    pub fn connector_kind(&self, name: &str) -> Result<(PluginDesc, PluginKind), UnknownPlugin> {
        self.entries
            .iter()
            .find(|(d, _)| {
                matches!(d.kind, PluginKind::Source | PluginKind::Sink) && d.matches(name)
            })
            .map(|(d, _)| (d.clone(), d.kind))
            .ok_or_else(|| self.unknown(PluginKind::Source, name))
    }

    /// The plugin of any kind that `name` names.
    pub fn find(&self, name: &str) -> Option<&PluginDesc> {
        self.entries
            .iter()
            .map(|(d, _)| d)
            .find(|d| d.matches(name))
    }

    /// Every registered plugin, in registration order.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginDesc> {
        self.entries.iter().map(|(d, _)| d)
    }

    /// The declared config of any plugin, for validation and docs.
    pub fn config_def(&self, name: &str) -> Option<ConfigDef> {
        let (_, entry) = self.entries.iter().find(|(d, _)| d.matches(name))?;
        Some(match entry {
            Entry::Source(f) => f().config_def(),
            Entry::Sink(f) => f().config_def(),
            Entry::Transform(f) => f().config_def(),
            Entry::Predicate(f) => f().config_def(),
            Entry::Converter(f) => f().config_def(),
            Entry::HeaderConverter(_) => ConfigDef::new(),
        })
    }

    /// The keys a plugin declares as PASSWORD (none for an unknown name).
    pub fn password_keys(&self, name: &str) -> Vec<String> {
        self.config_def(name)
            .map(|d| {
                d.keys
                    .iter()
                    .filter(|k| k.kind == crate::config::ConfigType::Password)
                    .map(|k| k.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn unknown(&self, kind: PluginKind, name: &str) -> UnknownPlugin {
        let connectors = matches!(kind, PluginKind::Source | PluginKind::Sink);
        let known: Vec<String> = self
            .entries
            .iter()
            .filter(|(d, _)| {
                d.kind == kind
                    || (connectors && matches!(d.kind, PluginKind::Source | PluginKind::Sink))
            })
            .map(|(d, _)| match d.aliases.first() {
                Some(a) => format!("{} ({a})", d.class),
                None => d.class.clone(),
            })
            .collect();
        UnknownPlugin {
            kind: if connectors {
                "Connector".to_string()
            } else {
                kind.name().to_string()
            },
            name: name.to_string(),
            known: known.join(", "),
        }
    }
}
