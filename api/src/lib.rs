//! Sluice's plugin API: what a connector, transform or converter is written
//! against, and nothing else.
//!
//! Kafka Connect keeps its `connect-api` apart from `connect-runtime` so that
//! a plugin builds against a small, stable surface; this crate is that surface.
//! It holds the data model (schemas, values, records), the config declarations
//! a plugin publishes (`ConfigDef`), the plugin traits, and the text forms of
//! numbers and dates that must match Java's byte for byte. It depends on
//! `serde_json` and `thiserror` only: no HTTP server, Kafka client or
//! interpreter comes with it. `sluice-runtime` re-exports each module under the
//! same name, so `sluice_runtime::data::Value` and `sluice_api::data::Value`
//! are one type.

pub mod config;
pub mod data;
pub mod java_text;
pub mod plugin;
pub mod secrets;

pub use config::{Config, ConfigDef, ConfigError, ConfigType, Importance, Validator};
pub use plugin::{
    BoxFuture, Converter, ErrantRecord, HeaderConverter, OffsetReader, PluginKind, Predicate,
    Props, RecordError, RecordErrorKind, Registry, SinkConnector, SinkTask, SinkTaskContext,
    SourceConnector, SourceTask, SourceTaskContext, TaskError, Transform,
};
