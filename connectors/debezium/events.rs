//! What every Debezium-style source's events share: the operation codes
//! and the heartbeat record.

use std::sync::Arc;

use sluice_api::data::{JsonMap, RecordData, SourceRecord, Struct, Value};

use super::schema::heartbeat_schemas;

/// The operation of a change event, with Debezium's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Create,
    Update,
    Delete,
    /// MySQL's TRUNCATE TABLE.
    Truncate,
}

impl Op {
    pub fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
        }
    }
}

/// Where a connector's heartbeats go and what they say.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    /// `<heartbeat.topics.prefix>.<topic.prefix>`.
    pub topic: Arc<str>,
    /// `serverName` of the key: topic.prefix.
    pub server_name: Arc<str>,
    /// With schema version 1 (see [`heartbeat_schemas`]).
    pub versioned: bool,
}

impl Heartbeat {
    /// A heartbeat record at `ms` carrying `offset`, so that idle or filtered
    /// traffic still moves the committed offset. Debezium puts no context
    /// headers on heartbeats.
    pub fn record(&self, partition: &Arc<JsonMap>, offset: &Arc<JsonMap>, ms: i64) -> SourceRecord {
        let (ks, vs) = heartbeat_schemas(self.versioned);
        SourceRecord::new(
            partition.clone(),
            Some(offset.clone()),
            RecordData {
                topic: self.topic.clone(),
                kafka_partition: None,
                key: Value::Struct(Struct::from_values(
                    ks.clone(),
                    vec![Value::String(self.server_name.clone())],
                )),
                key_schema: Some(ks),
                value: Value::Struct(Struct::from_values(vs.clone(), vec![Value::Int64(ms)])),
                value_schema: Some(vs),
                timestamp: Some(ms),
                headers: Default::default(),
                kafka_offset: None,
            },
        )
    }
}
