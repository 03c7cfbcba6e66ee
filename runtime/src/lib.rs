//! Sluice runtime: the data model, plugin traits, worker, stores, REST API
//! and Kafka I/O that every connector, transform and converter builds on.

pub mod config;
pub mod connector_config;
pub mod data;
pub mod herder;
pub mod kafka;
pub mod plugin;
pub mod plugins;
pub mod rest;
pub mod store;
pub mod worker;

pub use config::{Config, ConfigDef, ConfigError, ConfigType, Importance, Validator};
pub use plugin::{
    BoxFuture, Converter, HeaderConverter, OffsetReader, PluginKind, Predicate, Props, RecordError,
    RecordErrorKind, Registry, SinkConnector, SinkTask, SinkTaskContext, SourceConnector,
    SourceTask, SourceTaskContext, TaskError, Transform,
};
