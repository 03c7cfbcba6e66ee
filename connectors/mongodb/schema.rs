//! Debezium 2.7's MongoDB event schemas, built once per collection.
//!
//! Key: `<prefix>.<db>.<coll>.Key` {id: string} where `id` is the `_id` in
//! relaxed extended JSON. Value: `<prefix>.<db>.<coll>.Envelope` {before,
//! after (io.debezium.data.Json strings), updateDescription, source, op,
//! ts_ms, transaction}. Documents are strings, so a collection's schemas
//! never change whatever its documents hold.

use std::sync::{Arc, OnceLock};

use sluice_api::data::{names, schemas, Schema, SchemaBuilder};

use crate::debezium::schema::{source_builder, topic_name_with, transaction_schema};

/// An optional io.debezium.data.Json string.
pub fn json_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        SchemaBuilder::string()
            .name(names::DBZ_JSON)
            .version(1)
            .optional()
            .build()
    })
    .clone()
}

/// io.debezium.connector.mongo.Source, fields in Debezium 2.7's order.
pub fn source_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        source_builder("io.debezium.connector.mongo.Source")
            .field("collection", schemas::string())
            .field("ord", schemas::int32())
            .field("lsid", schemas::optional_string())
            .field("txnNumber", schemas::optional_int64())
            .field("wallTime", schemas::optional_int64())
            .build()
    })
    .clone()
}

/// Field positions in [`source_schema`]: the common ones, then MongoDB's.
pub mod source_field {
    pub use crate::debezium::schema::source_field::{
        CONNECTOR, DB, NAME, SNAPSHOT, TS_MS, TS_NS, TS_US, VERSION,
    };
    pub const COLLECTION: usize = 9;
    pub const ORD: usize = 10;
    pub const LSID: usize = 11;
    pub const TXN_NUMBER: usize = 12;
    pub const WALL_TIME: usize = 13;
    pub const COUNT: usize = 14;
}

/// io.debezium.connector.mongodb.changestream.truncatedarray.
pub fn truncated_array_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        SchemaBuilder::structure()
            .name("io.debezium.connector.mongodb.changestream.truncatedarray")
            .version(1)
            .field("field", schemas::string())
            .field("size", schemas::int32())
            .build()
    })
    .clone()
}

/// io.debezium.connector.mongodb.changestream.updatedescription.
pub fn update_description_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        SchemaBuilder::structure()
            .name("io.debezium.connector.mongodb.changestream.updatedescription")
            .version(1)
            .optional()
            .field(
                "removedFields",
                SchemaBuilder::array(schemas::string()).optional().build(),
            )
            .field("updatedFields", json_schema())
            .field(
                "truncatedArrays",
                SchemaBuilder::array(truncated_array_schema())
                    .optional()
                    .build(),
            )
            .build()
    })
    .clone()
}

/// Field positions in the envelope.
pub mod envelope_field {
    pub const BEFORE: usize = 0;
    pub const AFTER: usize = 1;
    pub const UPDATE_DESCRIPTION: usize = 2;
    pub const SOURCE: usize = 3;
    pub const OP: usize = 4;
    pub const TS_MS: usize = 5;
    pub const TRANSACTION: usize = 6;
    pub const COUNT: usize = 7;
}

/// One captured collection: its topic, schemas and excluded fields.
#[derive(Debug)]
pub struct CollectionSchema {
    /// Shared into every event (source.db, source.collection, the topic).
    pub db: Arc<str>,
    pub coll: Arc<str>,
    pub topic: Arc<str>,
    pub key: Arc<Schema>,
    pub envelope: Arc<Schema>,
    /// Dotted field paths left out of documents (field.exclude.list).
    pub excluded_fields: Vec<String>,
}

impl CollectionSchema {
    /// `delimiter`: topic.delimiter.
    pub fn new(
        prefix: &str,
        db: &str,
        coll: &str,
        excluded_fields: Vec<String>,
        delimiter: &str,
    ) -> Self {
        let topic = topic_name_with(&[prefix, db, coll], delimiter);
        let key = SchemaBuilder::structure()
            .name(format!("{topic}.Key"))
            .field("id", schemas::string())
            .build();
        let envelope = SchemaBuilder::structure()
            .name(format!("{topic}.Envelope"))
            .field("before", json_schema())
            .field("after", json_schema())
            .field("updateDescription", update_description_schema())
            .field("source", source_schema())
            .field("op", schemas::optional_string())
            .field("ts_ms", schemas::optional_int64())
            .field("transaction", transaction_schema())
            .build();
        CollectionSchema {
            db: db.into(),
            coll: coll.into(),
            topic: topic.into(),
            key,
            envelope,
            excluded_fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_field_orders_are_debeziums() {
        let c = CollectionSchema::new("mongo1", "inventory", "customers", vec![], ".");
        assert_eq!(&*c.topic, "mongo1.inventory.customers");
        assert_eq!(c.key.name(), Some("mongo1.inventory.customers.Key"));
        assert_eq!(
            c.envelope.name(),
            Some("mongo1.inventory.customers.Envelope")
        );
        let names: Vec<&str> = c.envelope.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "before",
                "after",
                "updateDescription",
                "source",
                "op",
                "ts_ms",
                "transaction"
            ]
        );
        assert_eq!(names.len(), envelope_field::COUNT);
        let src = source_schema();
        assert_eq!(src.fields.len(), source_field::COUNT);
        assert_eq!(src.fields[source_field::COLLECTION].name, "collection");
        assert_eq!(src.fields[source_field::WALL_TIME].name, "wallTime");
        assert_eq!(src.fields[source_field::TS_NS].name, "ts_ns");
    }
}
