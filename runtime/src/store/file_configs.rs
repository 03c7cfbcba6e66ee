//! Standalone connector configs, target states and active topics: one JSON
//! file written atomically before a change is acknowledged, so a worker
//! killed with -9 restarts with every connector it had accepted, in its
//! last target state.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{json, Value as Json};

use super::{file, ConfigStore, StoreError};
use crate::herder::TargetState;
use crate::plugin::{BoxFuture, Props};

/// One connector's persisted state.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorRecord {
    pub config: Props,
    pub target_state: TargetState,
    /// Topics the connector has used (KIP-558).
    pub topics: Vec<String>,
}

/// Standalone connector configs, target states and active topics.
pub struct FileConfigStore {
    path: PathBuf,
    connectors: Mutex<BTreeMap<String, ConnectorRecord>>,
}

impl FileConfigStore {
    pub fn open(path: PathBuf) -> Result<FileConfigStore, StoreError> {
        file::check_writable(&path)?;
        let mut connectors = BTreeMap::new();
        if let Some(Json::Object(map)) = file::read_json(&path)? {
            if let Some(Json::Object(items)) = map.get("connectors") {
                for (name, item) in items {
                    let config: Props = item
                        .get("config")
                        .and_then(|c| serde_json::from_value(c.clone()).ok())
                        .unwrap_or_default();
                    let target_state = item
                        .get("target_state")
                        .and_then(Json::as_str)
                        .and_then(TargetState::parse)
                        .unwrap_or(TargetState::Running);
                    let topics = item
                        .get("topics")
                        .and_then(|t| serde_json::from_value(t.clone()).ok())
                        .unwrap_or_default();
                    connectors.insert(
                        name.clone(),
                        ConnectorRecord {
                            config,
                            target_state,
                            topics,
                        },
                    );
                }
            }
        }
        Ok(FileConfigStore {
            path,
            connectors: Mutex::new(connectors),
        })
    }

    pub fn all(&self) -> BTreeMap<String, ConnectorRecord> {
        self.connectors
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<ConnectorRecord> {
        self.connectors.lock().ok()?.get(name).cloned()
    }

    /// Applies a change and persists it; the change is visible only once on disk.
    pub fn update(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, ConnectorRecord>),
    ) -> Result<(), StoreError> {
        let mut guard = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = guard.clone();
        change(&mut next);
        if next == *guard {
            return Ok(());
        }
        let doc = json!({
            "connectors": next.iter().map(|(name, r)| (name.clone(), json!({
                "config": r.config,
                "target_state": r.target_state,
                "topics": r.topics,
            }))).collect::<serde_json::Map<String, Json>>()
        });
        file::write_atomic(&self.path, &serde_json::to_vec_pretty(&doc).expect("JSON"))?;
        *guard = next;
        Ok(())
    }
}

impl ConfigStore for FileConfigStore {
    fn connectors(&self) -> Vec<String> {
        self.all().into_keys().collect()
    }

    fn config(&self, connector: &str) -> Option<Props> {
        self.get(connector).map(|r| r.config)
    }

    fn target_state(&self, connector: &str) -> TargetState {
        self.get(connector)
            .map(|r| r.target_state)
            .unwrap_or(TargetState::Running)
    }

    fn refresh(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn put_config(
        &self,
        connector: &str,
        config: &Props,
        initial: Option<TargetState>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let done = self.update(|m| {
            let (target_state, topics) = match m.remove(connector) {
                Some(r) => (r.target_state, r.topics),
                None => (initial.unwrap_or(TargetState::Running), Vec::new()),
            };
            m.insert(
                connector.to_string(),
                ConnectorRecord {
                    config: config.clone(),
                    target_state,
                    topics,
                },
            );
        });
        Box::pin(async move { done })
    }

    fn remove(&self, connector: &str) -> BoxFuture<'_, Result<(), StoreError>> {
        let done = self.update(|m| {
            m.remove(connector);
        });
        Box::pin(async move { done })
    }

    fn put_target_state(
        &self,
        connector: &str,
        state: TargetState,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let done = self.update(|m| {
            if let Some(r) = m.get_mut(connector) {
                r.target_state = state;
            }
        });
        Box::pin(async move { done })
    }
}

/// Records a topic in a connector's active topics (KIP-558).
pub fn record_topic(configs: &FileConfigStore, connector: &str, topic: &str) {
    let res = configs.update(|m| {
        if let Some(r) = m.get_mut(connector) {
            if !r.topics.iter().any(|t| t == topic) {
                r.topics.push(topic.to_string());
            }
        }
    });
    if let Err(e) = res {
        tracing::warn!(connector, "cannot record active topic {topic}: {e}");
    }
}
