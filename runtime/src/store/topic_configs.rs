//! Connector configs in the config topic (`config.storage.topic`), in Kafka
//! Connect's record formats, and the state every worker folds them into.
//!
//! The topic has one partition, so every worker sees one order:
//! - `connector-<name>` → `{"properties": {...}}`, or null when deleted
//! - `target-state-<name>` → `{"state": "PAUSED", "state.v2": "STOPPED"}`
//! - `task-<name>-<n>` → `{"properties": {...}}`, staged until ...
//! - `commit-<name>` → `{"tasks": N}`, which makes tasks 0..N-1 current
//! - `restart-connector-<name>` → `{"include-tasks": b, "only-failed": b}`
//! - `restart-task-<name>-<n>` → `{}` (Sluice's; Kafka Connect forwards
//!   task restarts over HTTP instead)
//! - `claim-connector-<name>` → `{"nonce", "ts"}` (Sluice's): a worker about
//!   to create a connector claims the name first; the first claim in the
//!   topic's order while the name is free wins, so two workers creating one
//!   name at once answer one 201 and one 409, as Kafka Connect's leader
//!   serializes them. A claim whose creator died expires after
//!   [`CLAIM_TTL_MS`] (by the claims' own timestamps, so every worker
//!   agrees).
//!
//! Any worker accepts REST writes by writing here and reading the topic
//! back to its end, so its own write is visible to it at once and to the
//! others within a poll.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::sync::mpsc;

use super::{ConfigStore, StoreError};
use crate::herder::TargetState;
use crate::kafka::log::{Apply, KafkaLog};
use crate::plugin::{BoxFuture, Props};

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
    /// Names being created: the winning claim (nonce, its timestamp in ms).
    claims: BTreeMap<String, (String, i64)>,
    /// Exactly-once source connectors' task counts as last fenced
    /// (Kafka Connect's `task-count-record-<name>`, `{"task-count": N}`):
    /// kept through a stop, so that a resume with fewer tasks knows which
    /// transactional ids to fence.
    pub fenced_task_counts: BTreeMap<String, usize>,
    /// The offset after the last record applied (0: none yet).
    pub offset: i64,
}

/// How long a claim on a name holds without its connector being written.
pub const CLAIM_TTL_MS: i64 = 30_000;

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
        if let Some(name) = key.strip_prefix("claim-connector-") {
            if let Some(v) = &value {
                let nonce = v
                    .get("nonce")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string();
                let ts = v.get("ts").and_then(Json::as_i64).unwrap_or(0);
                let free = !self.connectors.contains_key(name);
                let held = self
                    .claims
                    .get(name)
                    .is_some_and(|(_, at)| ts - at < CLAIM_TTL_MS);
                if free && !held {
                    self.claims.insert(name.to_string(), (nonce, ts));
                }
            }
            return None;
        }
        if let Some(name) = key.strip_prefix("connector-") {
            self.claims.remove(name);
            return match value.as_ref().and_then(props_of) {
                Some(p) => {
                    self.connectors.insert(name.to_string(), p);
                    Some(ConfigEvent::Connector(name.to_string()))
                }
                None => {
                    self.connectors.remove(name);
                    self.tasks.remove(name);
                    self.fenced_task_counts.remove(name);
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
        if let Some(name) = key.strip_prefix("task-count-record-") {
            match value
                .as_ref()
                .and_then(|v| v.get("task-count"))
                .and_then(Json::as_u64)
            {
                Some(n) => self.fenced_task_counts.insert(name.to_string(), n as usize),
                None => self.fenced_task_counts.remove(name),
            };
            return None;
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

    /// The nonce of the claim that holds `name` for creation, if any.
    pub fn claim_winner(&self, name: &str) -> Option<&str> {
        self.claims.get(name).map(|(n, _)| n.as_str())
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

/// The config topic as a [`ConfigStore`], with the records only the
/// distributed herder writes (task configs, restart requests).
#[derive(Default)]
pub struct TopicConfigStore {
    state: Arc<Mutex<ClusterConfig>>,
    log: OnceLock<Arc<KafkaLog>>,
}

impl TopicConfigStore {
    pub fn new() -> Arc<TopicConfigStore> {
        Arc::new(TopicConfigStore::default())
    }

    /// The reader callback for the config topic: folds each record in and
    /// sends what changed to `events`.
    pub fn applier(&self, events: mpsc::UnboundedSender<ConfigEvent>) -> Apply {
        let state = self.state.clone();
        Box::new(move |_p, offset, key, value| {
            let Some(key) = key.and_then(|k| std::str::from_utf8(k).ok()) else {
                return;
            };
            let ev = state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .apply(offset, key, value);
            if let Some(ev) = ev {
                let _ = events.send(ev);
            }
        })
    }

    pub fn set_log(&self, log: Arc<KafkaLog>) {
        let _ = self.log.set(log);
    }

    pub fn log(&self) -> Option<&Arc<KafkaLog>> {
        self.log.get()
    }

    /// The configs as read so far.
    pub fn state(&self) -> MutexGuard<'_, ClusterConfig> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_log(&self) -> Result<&Arc<KafkaLog>, StoreError> {
        self.log
            .get()
            .ok_or_else(|| StoreError::Topic("the config topic is not open yet".into()))
    }

    /// Reads the topic to its end (30 s at most).
    pub async fn read_to_end(&self) -> Result<(), StoreError> {
        self.open_log()?
            .read_to_end(Duration::from_secs(30))
            .await
            .map_err(|e| StoreError::Topic(e.to_string()))
    }

    async fn write(&self, key: &str, value: Option<Vec<u8>>) -> Result<(), StoreError> {
        self.open_log()?
            .send(key, value.as_deref())
            .await
            .map_err(|e| StoreError::Topic(format!("{e}; is the broker up?")))
    }

    /// Publishes a connector's task configs: each task, then the commit
    /// that makes them current together; then tombstones for the tasks
    /// beyond the new count, so that compaction removes their configs (and
    /// the credentials in them).
    pub async fn put_task_configs(
        &self,
        connector: &str,
        tasks: &[Props],
    ) -> Result<(), StoreError> {
        let before = self.task_records(connector);
        for (i, t) in tasks.iter().enumerate() {
            self.write(&format!("task-{connector}-{i}"), Some(connector_value(t)))
                .await?;
        }
        self.write(
            &format!("commit-{connector}"),
            Some(commit_value(tasks.len())),
        )
        .await?;
        for i in tasks.len()..before {
            self.write(&format!("task-{connector}-{i}"), None).await?;
        }
        Ok(())
    }

    /// Records an exactly-once source connector's task count once its
    /// earlier tasks are fenced (Kafka Connect's task count record).
    pub async fn put_fenced_task_count(&self, connector: &str, n: usize) -> Result<(), StoreError> {
        let value = serde_json::to_vec(&serde_json::json!({ "task-count": n })).unwrap_or_default();
        self.write(&format!("task-count-record-{connector}"), Some(value))
            .await
    }

    /// How many `task-<connector>-<n>` records may hold a config: the
    /// committed ones and any staged beyond them.
    fn task_records(&self, connector: &str) -> usize {
        let state = self.state();
        let staged = state
            .staged
            .keys()
            .filter(|(c, _)| c == connector)
            .map(|(_, i)| *i as usize + 1)
            .max()
            .unwrap_or(0);
        state.task_count(connector).max(staged)
    }

    /// Asks the connector's owner to restart it (and its tasks' owners).
    pub async fn request_connector_restart(
        &self,
        connector: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<(), StoreError> {
        let value = json!({"include-tasks": include_tasks, "only-failed": only_failed});
        self.write(
            &format!("restart-connector-{connector}"),
            Some(value.to_string().into_bytes()),
        )
        .await
    }

    /// Claims `name` for creation with `nonce` (see the module doc); the
    /// caller reads the topic to its end and checks [`ClusterConfig::claim_winner`].
    pub async fn claim(&self, name: &str, nonce: &str) -> Result<(), StoreError> {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let value = json!({"nonce": nonce, "ts": ts});
        self.write(
            &format!("claim-connector-{name}"),
            Some(value.to_string().into_bytes()),
        )
        .await
    }

    /// Removes a claim record once its connector is written, so that
    /// compaction drops it.
    pub async fn clear_claim(&self, name: &str) -> Result<(), StoreError> {
        self.write(&format!("claim-connector-{name}"), None).await
    }

    /// Asks the task's owner to restart it.
    pub async fn request_task_restart(&self, connector: &str, task: u32) -> Result<(), StoreError> {
        self.write(
            &format!("restart-task-{connector}-{task}"),
            Some(b"{}".to_vec()),
        )
        .await
    }
}

impl ConfigStore for TopicConfigStore {
    fn connectors(&self) -> Vec<String> {
        self.state().connectors.keys().cloned().collect()
    }

    fn config(&self, connector: &str) -> Option<Props> {
        self.state().connectors.get(connector).cloned()
    }

    fn target_state(&self, connector: &str) -> TargetState {
        self.state().target(connector)
    }

    fn refresh(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.read_to_end())
    }

    fn put_config(
        &self,
        connector: &str,
        config: &Props,
        initial: Option<TargetState>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let connector = connector.to_string();
        let value = connector_value(config);
        Box::pin(async move {
            let exists = self.state().connectors.contains_key(&connector);
            if let (false, Some(s)) = (exists, initial) {
                self.write(&format!("target-state-{connector}"), Some(target_value(s)))
                    .await?;
            }
            self.write(&format!("connector-{connector}"), Some(value))
                .await
        })
    }

    fn remove(&self, connector: &str) -> BoxFuture<'_, Result<(), StoreError>> {
        let connector = connector.to_string();
        Box::pin(async move {
            // Task configs go too (Kafka Connect leaves them in the topic,
            // credentials and all, until the name is reused).
            let tasks = self.task_records(&connector);
            self.write(&format!("connector-{connector}"), None).await?;
            for i in 0..tasks {
                self.write(&format!("task-{connector}-{i}"), None).await?;
            }
            self.write(&format!("commit-{connector}"), None).await?;
            if self.state().fenced_task_counts.contains_key(&connector) {
                self.write(&format!("task-count-record-{connector}"), None)
                    .await?;
            }
            self.write(&format!("target-state-{connector}"), None).await
        })
    }

    fn put_target_state(
        &self,
        connector: &str,
        state: TargetState,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let key = format!("target-state-{connector}");
        Box::pin(async move { self.write(&key, Some(target_value(state))).await })
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
    fn the_first_live_claim_on_a_free_name_wins() {
        let claim =
            |nonce: &str, ts: i64| json!({"nonce": nonce, "ts": ts}).to_string().into_bytes();
        let mut c = ClusterConfig::default();
        c.apply(0, "claim-connector-x", Some(&claim("a", 1_000)));
        c.apply(1, "claim-connector-x", Some(&claim("b", 1_001)));
        assert_eq!(c.claim_winner("x"), Some("a"));
        c.apply(
            2,
            "connector-x",
            Some(&connector_value(&props(&[("connector.class", "X")]))),
        );
        assert_eq!(c.claim_winner("x"), None);
        // A claim on an existing name wins nothing.
        c.apply(3, "claim-connector-x", Some(&claim("c", 2_000)));
        assert_eq!(c.claim_winner("x"), None);
        // A claim whose writer never wrote the connector expires.
        c.apply(4, "claim-connector-y", Some(&claim("d", 1_000)));
        c.apply(
            5,
            "claim-connector-y",
            Some(&claim("e", 1_000 + CLAIM_TTL_MS - 1)),
        );
        assert_eq!(c.claim_winner("y"), Some("d"));
        c.apply(
            6,
            "claim-connector-y",
            Some(&claim("f", 1_000 + CLAIM_TTL_MS)),
        );
        assert_eq!(c.claim_winner("y"), Some("f"));
    }

    #[test]
    fn task_count_records_are_kept_apart_from_task_configs() {
        let mut c = ClusterConfig::default();
        let p = props(&[("connector.class", "X")]);
        c.apply(0, "connector-a-b", Some(&connector_value(&p)));
        // Kafka Connect's record, as its JsonConverter (no schemas) writes it.
        assert_eq!(
            c.apply(1, "task-count-record-a-b", Some(br#"{"task-count":3}"#)),
            None
        );
        assert_eq!(c.fenced_task_counts.get("a-b"), Some(&3));
        assert_eq!(c.task_count("a-b"), 0);
        c.apply(2, "connector-a-b", None);
        assert_eq!(c.fenced_task_counts.get("a-b"), None);
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
    }
}
