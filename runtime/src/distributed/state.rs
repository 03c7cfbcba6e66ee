//! What the internal topics hold, in Kafka Connect's record formats, and the
//! in-memory state each worker folds them into.
//!
//! Config topic (one partition, so every worker sees one order):
//! - `connector-<name>` → `{"properties": {...}}`, or null when deleted
//! - `target-state-<name>` → `{"state": "PAUSED", "state.v2": "STOPPED"}`
//! - `task-<name>-<n>` → `{"properties": {...}}`, staged until ...
//! - `commit-<name>` → `{"tasks": N}`, which makes tasks 0..N-1 current
//! - `restart-connector-<name>` → `{"include-tasks": b, "only-failed": b}`
//! - `restart-task-<name>-<n>` → `{}` (Sluice's; Kafka Connect forwards
//!   task restarts over HTTP instead)
//!
//! Status topic: `status-connector-<name>` and `status-task-<name>-<n>` →
//! `{"state", "trace", "worker_id", "generation"}`;
//! `topic-<topic>-connector-<name>` → `{"topic": {...}}` (KIP-558).
//!
//! Offset topic: key `["<connector>", {partition}]`, value the offset map.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use crate::data::JsonMap;
use crate::herder::{State, TargetState};
use crate::plugin::Props;

/// A change the config topic brought, for the herder to act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigEvent {
    Connector(String),
    Removed(String),
    Tasks(String),
    Target(String),
    RestartConnector {
        name: String,
        include_tasks: bool,
        only_failed: bool,
    },
    RestartTask(String, u32),
}

/// The cluster's connector configs as the config topic says.
#[derive(Debug, Default, Clone)]
pub struct ClusterConfig {
    pub connectors: BTreeMap<String, Props>,
    pub targets: BTreeMap<String, TargetState>,
    /// Committed task configs.
    pub tasks: BTreeMap<String, Vec<Props>>,
    staged: BTreeMap<(String, u32), Props>,
    /// The offset after the last record applied (0: none yet).
    pub offset: i64,
}

fn props_of(v: &Json) -> Option<Props> {
    let p = v.get("properties")?.as_object()?;
    Some(
        p.iter()
            .map(|(k, v)| {
                let s = match v {
                    Json::String(s) => s.clone(),
                    Json::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect(),
    )
}

/// `<name>-<n>` → (name, n).
pub fn split_task(s: &str) -> Option<(String, u32)> {
    let (name, n) = s.rsplit_once('-')?;
    Some((name.to_string(), n.parse().ok()?))
}

impl ClusterConfig {
    /// Folds one config-topic record in; returns what changed.
    pub fn apply(&mut self, offset: i64, key: &str, value: Option<&[u8]>) -> Option<ConfigEvent> {
        self.offset = self.offset.max(offset + 1);
        let value: Option<Json> = value.and_then(|v| serde_json::from_slice(v).ok());
        if let Some(name) = key.strip_prefix("connector-") {
            return match value.as_ref().and_then(props_of) {
                Some(p) => {
                    self.connectors.insert(name.to_string(), p);
                    Some(ConfigEvent::Connector(name.to_string()))
                }
                None => {
                    self.connectors.remove(name);
                    self.tasks.remove(name);
                    self.targets.remove(name);
                    self.staged.retain(|(c, _), _| c != name);
                    Some(ConfigEvent::Removed(name.to_string()))
                }
            };
        }
        if let Some(name) = key.strip_prefix("target-state-") {
            let state = value.as_ref().and_then(|v| {
                v.get("state.v2")
                    .or_else(|| v.get("state"))
                    .and_then(Json::as_str)
                    .and_then(|s| match s {
                        "STARTED" => Some(TargetState::Running),
                        other => TargetState::parse(other),
                    })
            });
            match state {
                Some(s) => {
                    self.targets.insert(name.to_string(), s);
                }
                None => {
                    self.targets.remove(name);
                }
            }
            return Some(ConfigEvent::Target(name.to_string()));
        }
        if let Some(rest) = key.strip_prefix("task-") {
            let (name, n) = split_task(rest)?;
            if let Some(p) = value.as_ref().and_then(props_of) {
                self.staged.insert((name, n), p);
            }
            return None;
        }
        if let Some(name) = key.strip_prefix("commit-") {
            let n = value
                .as_ref()
                .and_then(|v| v.get("tasks"))
                .and_then(Json::as_u64)? as u32;
            let mut list = Vec::with_capacity(n as usize);
            for i in 0..n {
                match self.staged.get(&(name.to_string(), i)) {
                    Some(p) => list.push(p.clone()),
                    // An incomplete commit (a writer died mid-way) is ignored,
                    // as Kafka Connect does; the connector's owner rewrites it.
                    None => return None,
                }
            }
            self.staged.retain(|(c, i), _| c != name || *i >= n);
            self.tasks.insert(name.to_string(), list);
            return Some(ConfigEvent::Tasks(name.to_string()));
        }
        if let Some(name) = key.strip_prefix("restart-connector-") {
            let v = value.unwrap_or(Json::Null);
            return Some(ConfigEvent::RestartConnector {
                name: name.to_string(),
                include_tasks: v
                    .get("include-tasks")
                    .and_then(Json::as_bool)
                    .unwrap_or(false),
                only_failed: v
                    .get("only-failed")
                    .and_then(Json::as_bool)
                    .unwrap_or(false),
            });
        }
        if let Some(rest) = key.strip_prefix("restart-task-") {
            let (name, n) = split_task(rest)?;
            return Some(ConfigEvent::RestartTask(name, n));
        }
        None
    }

    pub fn target(&self, name: &str) -> TargetState {
        self.targets
            .get(name)
            .copied()
            .unwrap_or(TargetState::Running)
    }

    pub fn task_count(&self, name: &str) -> usize {
        self.tasks.get(name).map(Vec::len).unwrap_or(0)
    }
}

/// Config-topic record values.
pub fn connector_value(config: &Props) -> Vec<u8> {
    json!({ "properties": config }).to_string().into_bytes()
}

pub fn target_value(state: TargetState) -> Vec<u8> {
    // Kafka Connect writes PAUSED in the v1 field for STOPPED so that older
    // workers at least pause.
    let v1 = match state {
        TargetState::Stopped => "PAUSED",
        TargetState::Paused => "PAUSED",
        TargetState::Running => "STARTED",
    };
    let v2 = match state {
        TargetState::Stopped => "STOPPED",
        TargetState::Paused => "PAUSED",
        TargetState::Running => "STARTED",
    };
    json!({ "state": v1, "state.v2": v2 })
        .to_string()
        .into_bytes()
}

pub fn commit_value(n: usize) -> Vec<u8> {
    json!({ "tasks": n }).to_string().into_bytes()
}

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

/// Parses an offset-topic key `["connector", {partition}]`.
pub fn parse_offset_key(key: &[u8]) -> Option<(String, JsonMap)> {
    let v: Json = serde_json::from_slice(key).ok()?;
    let a = v.as_array()?;
    match (a.first(), a.get(1)) {
        (Some(Json::String(c)), Some(Json::Object(p))) => Some((c.clone(), p.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> Props {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tasks_count_only_once_committed() {
        let mut c = ClusterConfig::default();
        let p = props(&[("connector.class", "X")]);
        assert_eq!(
            c.apply(0, "connector-a-b", Some(&connector_value(&p))),
            Some(ConfigEvent::Connector("a-b".into()))
        );
        c.apply(
            1,
            "task-a-b-0",
            Some(&connector_value(&props(&[("t", "0")]))),
        );
        assert_eq!(c.task_count("a-b"), 0, "staged tasks are not current");
        // A commit naming more tasks than were written is ignored.
        assert_eq!(c.apply(2, "commit-a-b", Some(&commit_value(2))), None);
        c.apply(
            3,
            "task-a-b-1",
            Some(&connector_value(&props(&[("t", "1")]))),
        );
        assert_eq!(
            c.apply(4, "commit-a-b", Some(&commit_value(2))),
            Some(ConfigEvent::Tasks("a-b".into()))
        );
        assert_eq!(c.task_count("a-b"), 2);
        assert_eq!(c.tasks["a-b"][1]["t"], "1");
        c.apply(
            5,
            "target-state-a-b",
            Some(&target_value(TargetState::Stopped)),
        );
        assert_eq!(c.target("a-b"), TargetState::Stopped);
        assert_eq!(
            c.apply(6, "connector-a-b", None),
            Some(ConfigEvent::Removed("a-b".into()))
        );
        assert!(c.connectors.is_empty() && c.tasks.is_empty());
        assert_eq!(c.target("a-b"), TargetState::Running);
        assert_eq!(c.offset, 7);
    }

    #[test]
    fn reads_kafka_connect_records() {
        let mut c = ClusterConfig::default();
        // As Kafka Connect writes them (v1-only target state, non-string property values).
        c.apply(
            0,
            "connector-x",
            Some(br#"{"properties":{"tasks.max":"1","name":"x"}}"#),
        );
        c.apply(1, "target-state-x", Some(br#"{"state":"PAUSED"}"#));
        assert_eq!(c.target("x"), TargetState::Paused);
        assert_eq!(
            c.apply(
                2,
                "restart-connector-x",
                Some(br#"{"include-tasks":true,"only-failed":false}"#)
            ),
            Some(ConfigEvent::RestartConnector {
                name: "x".into(),
                include_tasks: true,
                only_failed: false
            })
        );
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
        assert_eq!(parse_offset_key(br#"["x",{"server":"a"}]"#).unwrap().0, "x");
    }
}
