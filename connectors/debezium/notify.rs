//! Debezium's notifications (`notification.enabled.channels`): what a
//! snapshot reports as it goes, to a topic (`sink`, on
//! `notification.sink.topic.name`) and to the log (`log`).
//!
//! A notification is `{id, aggregate_type, type, additional_data,
//! timestamp}` under Debezium's schemas
//! (`io.debezium.connector.common.NotificationKey` / `.Notification`,
//! version 1), keyed by its id: the id of the signal that started the
//! snapshot. Sink notifications travel in the change stream (so they sit
//! between the events they report on) and carry no offset: a commit never
//! stops on one.

use std::sync::{Arc, OnceLock};

use sluice_api::data::{
    schemas, JsonMap, RecordData, Schema, SchemaBuilder, SourceRecord, Struct, Value,
};
use sluice_api::{Config, ConfigError};

pub const INCREMENTAL: &str = "Incremental Snapshot";
pub const INITIAL: &str = "Initial Snapshot";

/// Where notifications go.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    /// `sink`: the topic.
    topic: Option<Arc<str>>,
    log: bool,
    /// topic.prefix: `connector_name` of every notification.
    connector_name: String,
    partition: Arc<JsonMap>,
}

fn key_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        SchemaBuilder::structure()
            .name("io.debezium.connector.common.NotificationKey")
            .version(1)
            .field("id", schemas::string())
            .build()
    })
    .clone()
}

fn value_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        SchemaBuilder::structure()
            .name("io.debezium.connector.common.Notification")
            .version(1)
            .field("id", schemas::string())
            .field("type", schemas::string())
            .field("aggregate_type", schemas::string())
            .field(
                "additional_data",
                SchemaBuilder::map(schemas::string(), schemas::string())
                    .optional()
                    .build(),
            )
            .field("timestamp", schemas::int64())
            .build()
    })
    .clone()
}

impl Notifier {
    pub fn parse(
        cfg: &Config,
        topic_prefix: &str,
        partition: Arc<JsonMap>,
    ) -> Result<Notifier, ConfigError> {
        let mut n = Notifier {
            connector_name: topic_prefix.to_string(),
            partition,
            ..Default::default()
        };
        for ch in cfg.list("notification.enabled.channels") {
            match ch.to_ascii_lowercase().as_str() {
                "sink" => {
                    let t = cfg.opt_string("notification.sink.topic.name").ok_or_else(|| {
                        ConfigError::one("notification.sink.topic.name: required when notification.enabled.channels has sink; name the topic notifications go to")
                    })?;
                    n.topic = Some(t.as_str().into());
                }
                "log" => n.log = true,
                "jmx" => {
                    return Err(ConfigError::one(
                        "notification.enabled.channels: Sluice has no JMX; use sink or log",
                    ))
                }
                other => {
                    return Err(ConfigError::one(format!(
                        "notification.enabled.channels: unknown channel '{other}'; use sink or log"
                    )))
                }
            }
        }
        Ok(n)
    }

    /// Sends a notification: appended to `out` (sink) and logged (log).
    pub fn notify(
        &self,
        id: &str,
        aggregate: &str,
        kind: &str,
        data: &[(&str, String)],
        out: &mut Vec<SourceRecord>,
    ) {
        if self.topic.is_none() && !self.log {
            return;
        }
        let ms = super::time::now().0;
        let mut all: Vec<(String, String)> = data
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        all.push(("connector_name".into(), self.connector_name.clone()));
        if self.log {
            let shown: Vec<String> = all.iter().map(|(k, v)| format!("{k}={v}")).collect();
            tracing::info!(
                "[Notification Service] {{id='{id}', aggregateType='{aggregate}', type='{kind}', additionalData={{{}}}, timestamp={ms}}}",
                shown.join(", ")
            );
        }
        let Some(topic) = &self.topic else {
            return;
        };
        let key = Value::Struct(Struct::from_values(key_schema(), vec![Value::from(id)]));
        let value = Value::Struct(Struct::from_values(
            value_schema(),
            vec![
                Value::from(id),
                Value::from(kind),
                Value::from(aggregate),
                Value::Map(
                    all.into_iter()
                        .map(|(k, v)| (Value::from(k), Value::from(v)))
                        .collect(),
                ),
                Value::Int64(ms),
            ],
        ));
        out.push(SourceRecord::new(
            self.partition.clone(),
            None,
            RecordData {
                topic: topic.clone(),
                kafka_partition: None,
                key_schema: Some(key_schema()),
                key,
                value_schema: Some(value_schema()),
                value,
                timestamp: Some(ms),
                headers: Default::default(),
                kafka_offset: None,
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sink_notification_has_debeziums_shape() {
        let n = Notifier {
            topic: Some("notes".into()),
            log: true,
            connector_name: "srv".into(),
            partition: Arc::new(JsonMap::new()),
        };
        let mut out = Vec::new();
        n.notify(
            "sig-1",
            INCREMENTAL,
            "STARTED",
            &[("data_collections", "db.a,db.b".into())],
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let r = &out[0];
        assert_eq!(&*r.data.topic, "notes");
        assert!(r.source_offset.is_none());
        let Value::Struct(v) = &r.data.value else {
            panic!()
        };
        assert_eq!(
            v.schema.name.as_deref(),
            Some("io.debezium.connector.common.Notification")
        );
        assert_eq!(v.values[0], Value::from("sig-1"));
        assert_eq!(v.values[1], Value::from("STARTED"));
        assert_eq!(v.values[2], Value::from("Incremental Snapshot"));
        let Value::Map(m) = &v.values[3] else {
            panic!()
        };
        assert!(m.contains(&(Value::from("connector_name"), Value::from("srv"))));
        assert!(m.contains(&(Value::from("data_collections"), Value::from("db.a,db.b"))));
    }
}
