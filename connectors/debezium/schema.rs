//! The schemas every Debezium-style source shares, built once: the
//! `source` block's common fields (a connector adds its own after them),
//! the envelope's `transaction` block and the BEGIN/END events, the
//! heartbeat's key and value; and topic naming.
//!
//! Names are Debezium 2.x's with its default
//! `schema.name.adjustment.mode=none`; topic names replace characters
//! Kafka refuses with `_`, as Debezium's topic naming does.

use std::sync::{Arc, OnceLock};

use sluice_api::data::{names, schemas, Schema, SchemaBuilder, Value};

/// Debezium's snapshot marker values (io.debezium.data.Enum).
const SNAPSHOT_VALUES: &str =
    "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental";

/// `source.snapshot`: an optional io.debezium.data.Enum, "false" by default.
fn snapshot_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        SchemaBuilder::string()
            .name(names::DBZ_ENUM)
            .version(1)
            .parameter("allowed", SNAPSHOT_VALUES)
            .default_value(Value::String("false".into()))
            .optional()
            .build()
    })
    .clone()
}

/// The `source` struct named `name` with the fields every connector's
/// starts with (Debezium's `AbstractSourceInfo`, in Debezium 2.7's order);
/// the connector adds its own fields after [`source_field::COMMON`].
pub fn source_builder(name: &str) -> SchemaBuilder {
    SchemaBuilder::structure()
        .name(name)
        .field("version", schemas::string())
        .field("connector", schemas::string())
        .field("name", schemas::string())
        .field("ts_ms", schemas::int64())
        .field("snapshot", snapshot_schema())
        .field("db", schemas::string())
        .field("sequence", schemas::optional_string())
        .field("ts_us", schemas::optional_int64())
        .field("ts_ns", schemas::optional_int64())
}

/// Positions of the common fields in [`source_builder`]'s struct.
pub mod source_field {
    pub const VERSION: usize = 0;
    pub const CONNECTOR: usize = 1;
    pub const NAME: usize = 2;
    pub const TS_MS: usize = 3;
    pub const SNAPSHOT: usize = 4;
    pub const DB: usize = 5;
    pub const SEQUENCE: usize = 6;
    pub const TS_US: usize = 7;
    pub const TS_NS: usize = 8;
    /// How many there are: a connector's own fields start here.
    pub const COMMON: usize = 9;
}

/// The envelope's optional `transaction` block (event.block).
pub fn transaction_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        SchemaBuilder::structure()
            .name("event.block")
            .version(1)
            .field("id", schemas::string())
            .field("total_order", schemas::int64())
            .field("data_collection_order", schemas::int64())
            .optional()
            .build()
    })
    .clone()
}

/// io.debezium.connector.common.TransactionMetadataKey / ...Value and the
/// per-collection count struct (`event.collection`) of an END event.
pub fn transaction_schemas() -> (Arc<Schema>, Arc<Schema>, Arc<Schema>) {
    static S: OnceLock<(Arc<Schema>, Arc<Schema>, Arc<Schema>)> = OnceLock::new();
    S.get_or_init(|| {
        let per = SchemaBuilder::structure()
            .name("event.collection")
            .version(1)
            .optional()
            .field("data_collection", schemas::string())
            .field("event_count", schemas::int64())
            .build();
        (
            SchemaBuilder::structure()
                .name("io.debezium.connector.common.TransactionMetadataKey")
                .version(1)
                .field("id", schemas::string())
                .build(),
            SchemaBuilder::structure()
                .name("io.debezium.connector.common.TransactionMetadataValue")
                .version(1)
                .field("status", schemas::string())
                .field("id", schemas::string())
                .field("event_count", schemas::optional_int64())
                .field(
                    "data_collections",
                    SchemaBuilder::array(per.clone()).optional().build(),
                )
                .field("ts_ms", schemas::int64())
                .build(),
            per,
        )
    })
    .clone()
}

/// io.debezium.connector.common.ServerNameKey / Heartbeat. `versioned`:
/// with schema version 1, as the MySQL connector writes them (the MongoDB
/// connector's carry no version).
pub fn heartbeat_schemas(versioned: bool) -> (Arc<Schema>, Arc<Schema>) {
    static VERSIONED: OnceLock<(Arc<Schema>, Arc<Schema>)> = OnceLock::new();
    static PLAIN: OnceLock<(Arc<Schema>, Arc<Schema>)> = OnceLock::new();
    let cell = if versioned { &VERSIONED } else { &PLAIN };
    cell.get_or_init(|| {
        let version = |b: SchemaBuilder| if versioned { b.version(1) } else { b };
        (
            version(SchemaBuilder::structure().name("io.debezium.connector.common.ServerNameKey"))
                .field("serverName", schemas::string())
                .build(),
            version(SchemaBuilder::structure().name("io.debezium.connector.common.Heartbeat"))
                .field("ts_ms", schemas::int64())
                .build(),
        )
    })
    .clone()
}

/// A topic name Kafka accepts: the parts joined with `.`, characters
/// outside `[a-zA-Z0-9._-]` replaced with `_`.
pub fn topic_name(parts: &[&str]) -> String {
    topic_name_with(parts, ".")
}

/// [`topic_name`] with another delimiter (topic.delimiter).
pub fn topic_name_with(parts: &[&str], delimiter: &str) -> String {
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push_str(delimiter);
        }
        s.extend(p.chars().map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        }));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_source_fields_in_debeziums_order() {
        let s = source_builder("x.Source").build();
        assert_eq!(s.fields.len(), source_field::COMMON);
        assert_eq!(s.fields[source_field::SNAPSHOT].name, "snapshot");
        assert_eq!(s.fields[source_field::SEQUENCE].name, "sequence");
        assert_eq!(s.fields[source_field::TS_NS].name, "ts_ns");
    }

    #[test]
    fn heartbeat_schemas_with_and_without_version() {
        let (k, v) = heartbeat_schemas(true);
        assert_eq!((k.version, v.version), (Some(1), Some(1)));
        let (k, v) = heartbeat_schemas(false);
        assert_eq!((k.version, v.version), (None, None));
        assert_eq!(k.name(), Some("io.debezium.connector.common.ServerNameKey"));
    }

    #[test]
    fn topic_names_replace_invalid_characters() {
        assert_eq!(topic_name(&["p", "my db", "t$1"]), "p.my_db.t_1");
    }
}
