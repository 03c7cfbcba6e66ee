//! Records flowing through the pipeline, and their headers.
//!
//! Source partitions and offsets are Kafka Connect's JSON maps (the same
//! shapes the offsets REST API and the offset topic use). A connector keeps a
//! typed offset of its own and converts it at this boundary.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::schema::Schema;
use super::value::Value;

/// A JSON object: a source partition or a source offset.
pub type JsonMap = Map<String, Json>;

/// A source partition, shared by all the records of that partition.
pub type SourcePartition = Arc<JsonMap>;

/// A schema (absent when schemaless) and a value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaAndValue {
    pub schema: Option<Arc<Schema>>,
    pub value: Value,
}

impl SchemaAndValue {
    pub fn new(schema: Option<Arc<Schema>>, value: Value) -> Self {
        SchemaAndValue { schema, value }
    }
    pub fn null() -> Self {
        SchemaAndValue::default()
    }
}

/// One header. Kafka Connect headers carry a schema and value; on the wire
/// they become bytes through the header converter.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Shared: a connector's constant headers are cloned into every record.
    pub key: Arc<str>,
    pub schema: Option<Arc<Schema>>,
    pub value: Value,
}

/// Ordered headers; a key may repeat, as in Kafka.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn add(&mut self, key: impl Into<Arc<str>>, schema: Option<Arc<Schema>>, value: Value) {
        self.0.push(Header {
            key: key.into(),
            schema,
            value,
        });
    }
    /// The last header with this key (Kafka Connect's `lastWithName`).
    pub fn last_with_name(&self, key: &str) -> Option<&Header> {
        self.0.iter().rev().find(|h| &*h.key == key)
    }
    pub fn all_with_name<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Header> + 'a {
        self.0.iter().filter(move |h| &*h.key == key)
    }
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|h| &*h.key != key);
    }
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }
}

/// The parts every record has (Kafka Connect's `ConnectRecord`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordData {
    /// Shared: a connector names one topic for many records.
    pub topic: Arc<str>,
    /// Kafka partition; `None` lets the partitioner choose by key.
    pub kafka_partition: Option<i32>,
    pub key_schema: Option<Arc<Schema>>,
    pub key: Value,
    pub value_schema: Option<Arc<Schema>>,
    pub value: Value,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub headers: Headers,
    /// The Kafka offset the record was read at: set on the sink side (Kafka
    /// Connect's `SinkRecord.kafkaOffset()`, which transforms such as
    /// InsertField's `offset.field` read), `None` for source records.
    pub kafka_offset: Option<i64>,
}

impl RecordData {
    pub fn key(&self) -> SchemaAndValue {
        SchemaAndValue::new(self.key_schema.clone(), self.key.clone())
    }
    pub fn value(&self) -> SchemaAndValue {
        SchemaAndValue::new(self.value_schema.clone(), self.value.clone())
    }
    /// A tombstone: a record whose value is null.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_null()
    }
    /// Whether the record was read from Kafka by a sink task (Kafka
    /// Connect's `record instanceof SinkRecord`).
    pub fn is_sink_record(&self) -> bool {
        self.kafka_offset.is_some()
    }
}

/// A record produced by a source task.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub source_partition: SourcePartition,
    /// The offset to resume after once this record is in Kafka. `None`
    /// means the record does not move its partition's offset.
    pub source_offset: Option<Arc<JsonMap>>,
    pub data: RecordData,
}

impl SourceRecord {
    pub fn new(
        source_partition: SourcePartition,
        source_offset: Option<Arc<JsonMap>>,
        data: RecordData,
    ) -> Self {
        SourceRecord {
            source_partition,
            source_offset,
            data,
        }
    }

    /// A record that only moves its partition's offset: nothing goes to
    /// Kafka, and the worker commits the offset once every record before
    /// it is in Kafka. A source task returns one to make a position durable
    /// before it has a change to send (the MySQL connector at the start of
    /// streaming, so that a task restarted or moved before the first change
    /// resumes there instead of taking its start afresh).
    pub fn offset_only(source_partition: SourcePartition, source_offset: Arc<JsonMap>) -> Self {
        SourceRecord {
            source_partition,
            source_offset: Some(source_offset),
            data: RecordData::default(),
        }
    }

    /// About how many bytes the record holds in memory (Debezium's
    /// `max.queue.size.in.bytes` counts records this way): its own size,
    /// its topic, key, value and headers. Partitions and offsets are shared
    /// and not counted.
    pub fn approx_bytes(&self) -> usize {
        let d = &self.data;
        std::mem::size_of::<SourceRecord>()
            + d.topic.len()
            + d.key.heap_bytes()
            + d.value.heap_bytes()
            + d.headers
                .iter()
                .map(|h| std::mem::size_of::<Header>() + h.key.len() + h.value.heap_bytes())
                .sum::<usize>()
    }

    /// Whether this is an offset-only record (no topic).
    pub fn is_offset_only(&self) -> bool {
        self.data.topic.is_empty()
    }
}

/// A record delivered to a sink task, with where it came from in Kafka.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub data: RecordData,
    pub kafka_offset: i64,
    /// The topic and partition it was read from (the data's topic may be
    /// renamed by transforms).
    pub original_topic: String,
    pub original_partition: i32,
}

/// Access to the common record parts, so that transforms serve both sides.
pub trait ConnectRecord: Clone + Send {
    fn data(&self) -> &RecordData;
    fn data_mut(&mut self) -> &mut RecordData;
}

impl ConnectRecord for SourceRecord {
    fn data(&self) -> &RecordData {
        &self.data
    }
    fn data_mut(&mut self) -> &mut RecordData {
        &mut self.data
    }
}

impl ConnectRecord for SinkRecord {
    fn data(&self) -> &RecordData {
        &self.data
    }
    fn data_mut(&mut self) -> &mut RecordData {
        &mut self.data
    }
}
