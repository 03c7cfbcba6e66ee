//! Sluice runtime: the worker, stores, REST API and Kafka I/O that run the
//! plugins. The data model, config declarations and plugin traits live in
//! `sluice-api` and are re-exported here under their old names.

pub mod config_providers;
pub mod connector_config;
pub mod console;
pub mod herder;
pub mod jks;
pub mod kafka;
pub mod pkcs12;
pub mod plugins;
pub mod rest;
pub mod store;
pub mod worker;

pub use sluice_api::{config, data, java_text, plugin, secrets};

pub use config::{Config, ConfigDef, ConfigError, ConfigType, Importance, Validator};
pub use plugin::{
    BoxFuture, Converter, HeaderConverter, OffsetReader, PluginKind, Predicate, Props, RecordError,
    RecordErrorKind, Registry, SinkConnector, SinkTask, SinkTaskContext, SourceConnector,
    SourceTask, SourceTaskContext, TaskError, Transform,
};
