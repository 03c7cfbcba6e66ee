//! Connector and task statuses in the status topic (`status.storage.topic`),
//! in Kafka Connect's record formats:
//! `status-connector-<name>` and `status-task-<name>-<n>` →
//! `{"state", "trace", "worker_id", "generation"}`;
//! `topic-<topic>-connector-<name>` → `{"topic": {...}}` (KIP-558).

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::topic_configs::split_task;
use crate::herder::State;

/// One status record as the status topic holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRecord {
    pub state: State,
    pub trace: Option<String>,
    pub worker_id: String,
    pub generation: i32,
}

impl StatusRecord {
    pub fn to_bytes(&self) -> Vec<u8> {
        json!({
            "state": self.state,
            "trace": self.trace,
            "worker_id": self.worker_id,
            "generation": self.generation,
        })
        .to_string()
        .into_bytes()
    }

    pub fn parse(bytes: &[u8]) -> Option<StatusRecord> {
        let v: Json = serde_json::from_slice(bytes).ok()?;
        Some(StatusRecord {
            state: serde_json::from_value(v.get("state")?.clone()).ok()?,
            trace: v.get("trace").and_then(Json::as_str).map(str::to_string),
            worker_id: v
                .get("worker_id")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            generation: v.get("generation").and_then(Json::as_i64).unwrap_or(0) as i32,
        })
    }
}

/// The status topic folded: connector and task states, active topics.
#[derive(Debug, Default, Clone)]
pub struct ClusterStatus {
    pub connectors: BTreeMap<String, StatusRecord>,
    pub tasks: BTreeMap<(String, u32), StatusRecord>,
    pub topics: BTreeMap<String, Vec<String>>,
}

impl ClusterStatus {
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) {
        if let Some(name) = key.strip_prefix("status-connector-") {
            match value.and_then(StatusRecord::parse) {
                Some(s) => {
                    self.connectors.insert(name.to_string(), s);
                }
                None => {
                    self.connectors.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix("status-task-") {
            if let Some(id) = split_task(rest) {
                match value.and_then(StatusRecord::parse) {
                    Some(s) => {
                        self.tasks.insert(id, s);
                    }
                    None => {
                        self.tasks.remove(&id);
                    }
                }
            }
        } else if let Some(rest) = key.strip_prefix("topic-") {
            if let Some((topic, connector)) = rest.split_once("-connector-") {
                let list = self.topics.entry(connector.to_string()).or_default();
                match value {
                    Some(_) => {
                        if !list.iter().any(|t| t == topic) {
                            list.push(topic.to_string());
                        }
                    }
                    None => list.retain(|t| t != topic),
                }
            }
        }
    }
}

pub fn topic_status_value(topic: &str, connector: &str, now_ms: i64) -> Vec<u8> {
    json!({"topic": {"name": topic, "connector": connector, "task": 0, "discoverTimestamp": now_ms}})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kafka_connect_records() {
        let mut s = ClusterStatus::default();
        let rec = StatusRecord {
            state: State::Running,
            trace: None,
            worker_id: "h:1".into(),
            generation: 3,
        };
        s.apply("status-task-x-y-2", Some(&rec.to_bytes()));
        assert_eq!(s.tasks[&("x-y".to_string(), 2)], rec);
        s.apply(
            "topic-orders-connector-x-y",
            Some(&topic_status_value("orders", "x-y", 1)),
        );
        assert_eq!(s.topics["x-y"], vec!["orders".to_string()]);
    }
}
