//! Sink connector offsets (KIP-875): the committed offsets of the
//! connector's consumer group `connect-<name>`, in Kafka Connect's shape
//! `{"partition": {"kafka_topic", "kafka_partition"}, "offset": {"kafka_offset"}}`.
//!
//! Altering commits offsets for the group with a consumer that joins no
//! group generation (allowed while the connector is STOPPED, so no member
//! owns the partitions); resetting deletes the group, as Kafka Connect does.

use std::time::Duration;

use rdkafka::admin::AdminOptions;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use crate::config::split_list;
use crate::herder::{ConnectorOffset, HerderError, HerderResult};
use crate::kafka::client_config;
use crate::plugin::Props;
use crate::worker::config::WorkerConfig;

fn group(name: &str) -> String {
    format!("connect-{name}")
}

fn consumer(worker: &WorkerConfig, name: &str) -> HerderResult<BaseConsumer> {
    let mut settings = worker.consumer_overrides();
    settings.insert("group.id".into(), group(name));
    settings.insert("enable.auto.commit".into(), "false".into());
    client_config(&worker.bootstrap_servers, &settings)
        .map_err(HerderError::BadRequest)?
        .create()
        .map_err(|e| HerderError::Internal(format!("cannot create a Kafka consumer: {e}")))
}

/// Reads the committed offsets of the connector's topics.
pub async fn read(
    worker: &WorkerConfig,
    name: &str,
    config: &Props,
) -> HerderResult<Vec<ConnectorOffset>> {
    let topics = split_list(config.get("topics").map(String::as_str).unwrap_or(""));
    let c = consumer(worker, name)?;
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        let mut tpl = TopicPartitionList::new();
        for t in &topics {
            let md = c
                .fetch_metadata(Some(t), Duration::from_secs(10))
                .map_err(|e| {
                    HerderError::Internal(format!("cannot read metadata of topic {t}: {e}"))
                })?;
            for mt in md.topics() {
                for p in mt.partitions() {
                    tpl.add_partition(t, p.id());
                }
            }
        }
        if tpl.count() == 0 {
            return Ok(Vec::new());
        }
        let committed = c
            .committed_offsets(tpl, Duration::from_secs(10))
            .map_err(|e| {
                HerderError::Internal(format!(
                    "cannot read the offsets of group {}: {e}",
                    group(&name)
                ))
            })?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(ConnectorOffset {
                    partition: json!({"kafka_topic": e.topic(), "kafka_partition": e.partition()})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                    offset: json!({"kafka_offset": o}).as_object().cloned(),
                }),
                _ => None,
            })
            .collect())
    })
    .await
    .map_err(|e| HerderError::Internal(e.to_string()))?
}

/// Alters (`Some`) or resets (`None`) the connector's consumer offsets.
pub async fn modify(
    worker: &WorkerConfig,
    name: &str,
    offsets: Option<Vec<ConnectorOffset>>,
) -> HerderResult<()> {
    match offsets {
        None => {
            let admin: rdkafka::admin::AdminClient<DefaultClientContext> =
                client_config(&worker.bootstrap_servers, &worker.admin_overrides())
                    .map_err(HerderError::BadRequest)?
                    .create()
                    .map_err(|e| {
                        HerderError::Internal(format!("cannot create a Kafka admin client: {e}"))
                    })?;
            let g = group(name);
            let res = admin
                .delete_groups(&[g.as_str()], &AdminOptions::new())
                .await
                .map_err(|e| {
                    HerderError::Internal(format!("cannot delete consumer group {g}: {e}"))
                })?;
            for r in res {
                if let Err((_, code)) = r {
                    if code != rdkafka::types::RDKafkaErrorCode::GroupIdNotFound {
                        return Err(HerderError::Internal(format!(
                            "cannot delete consumer group {g}: {code}"
                        )));
                    }
                }
            }
            Ok(())
        }
        Some(list) => {
            let mut tpl = TopicPartitionList::new();
            for o in &list {
                let topic = o.partition.get("kafka_topic").and_then(|v| v.as_str()).ok_or_else(|| {
                    HerderError::BadRequest("Sink connector offsets need a partition with kafka_topic (a string) and kafka_partition (a number)".into())
                })?;
                let part = o.partition.get("kafka_partition").and_then(|v| v.as_i64()).ok_or_else(|| {
                    HerderError::BadRequest("Sink connector offsets need a partition with kafka_topic (a string) and kafka_partition (a number)".into())
                })?;
                let off = match &o.offset {
                    Some(m) => m.get("kafka_offset").and_then(|v| v.as_i64()).ok_or_else(|| {
                        HerderError::BadRequest("Sink connector offsets need an offset with kafka_offset (a number)".into())
                    })?,
                    None => {
                        return Err(HerderError::BadRequest(
                            "Removing a single sink partition's offset is not supported yet; use DELETE /connectors/{name}/offsets to reset them all".into(),
                        ))
                    }
                };
                tpl.add_partition_offset(topic, part as i32, Offset::Offset(off))
                    .map_err(|e| HerderError::BadRequest(e.to_string()))?;
            }
            let c = consumer(worker, name)?;
            tokio::task::spawn_blocking(move || c.commit(&tpl, CommitMode::Sync))
                .await
                .map_err(|e| HerderError::Internal(e.to_string()))?
                .map_err(|e| {
                    HerderError::Internal(format!(
                        "cannot commit offsets for group {}: {e}",
                        group(name)
                    ))
                })
        }
    }
}
