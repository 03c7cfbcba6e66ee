//! Every built-in plugin, by Kafka Connect class name and alias.
//!
//! Plain code to grep: a user's own binary calls [`builtin`] and then adds
//! its own plugins with `Registry::register_*` before starting the worker.

use sluice_connectors::file::{FileStreamSinkConnector, FileStreamSourceConnector};
use sluice_connectors::jdbc::{Flavor as JdbcFlavor, JdbcSinkConnector};
use sluice_connectors::mongodb::MongoDbConnector;
use sluice_connectors::mysql::{Flavor, MySqlConnector};
use sluice_runtime::Registry;

/// A registry holding every plugin that ships with Sluice.
pub fn builtin() -> Registry {
    let mut r = Registry::new();
    r.register_source(
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        &["FileStreamSource", "file-source"],
        || Box::new(FileStreamSourceConnector::default()),
    );
    r.register_sink(
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
        &["FileStreamSink", "file-sink"],
        || Box::new(FileStreamSinkConnector::default()),
    );
    r.register_source(
        "io.debezium.connector.mysql.MySqlConnector",
        &["mysql", "MySqlConnector"],
        || Box::new(MySqlConnector::new(Flavor::MySql)),
    );
    r.register_source(
        "io.debezium.connector.mariadb.MariaDbConnector",
        &["mariadb", "MariaDbConnector"],
        || Box::new(MySqlConnector::new(Flavor::MariaDb)),
    );
    r.register_source(
        "io.debezium.connector.mongodb.MongoDbConnector",
        &["mongodb", "MongoDbConnector"],
        || Box::new(MongoDbConnector::default()),
    );
    r.register_sink(
        "io.debezium.connector.jdbc.JdbcSinkConnector",
        &["JdbcSink", "jdbc-sink", "jdbc"],
        || Box::new(JdbcSinkConnector::new(JdbcFlavor::Debezium)),
    );
    r.register_sink(
        "io.confluent.connect.jdbc.JdbcSinkConnector",
        &["ConfluentJdbcSink"],
        || Box::new(JdbcSinkConnector::new(JdbcFlavor::Confluent)),
    );
    sluice_converters::register(&mut r);
    sluice_transforms::register(&mut r);
    r
}
