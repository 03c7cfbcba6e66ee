//! Kafka Connect's data model: schemas, values, structs, records, headers.

pub mod decimal;
mod record;
mod schema;
mod value;

pub use record::{
    ConnectRecord, Header, Headers, JsonMap, RecordData, SchemaAndValue, SinkRecord,
    SourcePartition, SourceRecord,
};
pub use schema::{names, schemas, Field, Logical, Schema, SchemaBuilder, SchemaType};
pub use value::{Struct, Value};
