//! Where the worker keeps its state: source offsets and connector configs.
//!
//! Standalone mode keeps both in local JSON files written atomically (see
//! [`file`]); distributed mode keeps them in compacted Kafka topics. Both sit
//! behind the same traits so the worker does not care which.
//!
//! Offsets are keyed as Kafka Connect keys its offset topic: the JSON array
//! `[connector, partition]`, so a partition map identifies the same offset
//! whichever store holds it.

pub mod file;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};

use crate::data::JsonMap;
use crate::herder::TargetState;
use crate::plugin::{OffsetReader, Props};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {path}: {reason}; check that the directory exists and the worker may write to it")]
    Io {
        path: String,
        action: String,
        reason: String,
    },
    #[error("state file {path} is not valid JSON ({reason}); restore it from a backup or move it aside to start afresh")]
    Corrupt { path: String, reason: String },
    /// Distributed mode: the offset topic could not be written.
    #[error("{0}")]
    Topic(String),
}

/// Source offsets, by connector and source partition.
pub trait OffsetStore: Send + Sync {
    fn get(&self, connector: &str, partition: &JsonMap) -> Option<JsonMap>;
    /// Every partition's offset of one connector.
    fn all(&self, connector: &str) -> Vec<(JsonMap, JsonMap)>;
    /// Writes offsets durably; `None` removes a partition's offset.
    fn put(
        &self,
        connector: &str,
        entries: Vec<(JsonMap, Option<JsonMap>)>,
    ) -> Result<(), StoreError>;
}

/// The offset key: `[connector, partition]` as compact JSON.
pub fn offset_key(connector: &str, partition: &JsonMap) -> String {
    json!([connector, partition]).to_string()
}

#[derive(Debug, Clone)]
struct OffsetEntry {
    connector: String,
    partition: JsonMap,
    offset: JsonMap,
}

/// Standalone offsets: `offset.storage.file.filename`.
pub struct FileOffsetStore {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, OffsetEntry>>,
}

impl FileOffsetStore {
    /// Opens (or creates on first write) the offset file.
    pub fn open(path: PathBuf) -> Result<FileOffsetStore, StoreError> {
        file::check_writable(&path)?;
        let mut entries = BTreeMap::new();
        if let Some(Json::Array(items)) = file::read_json(&path)? {
            for item in items {
                let key = item.get("key").and_then(Json::as_array);
                let (connector, partition) = match key.map(|k| (k.first(), k.get(1))) {
                    Some((Some(Json::String(c)), Some(Json::Object(p)))) => (c.clone(), p.clone()),
                    _ => continue,
                };
                if let Some(Json::Object(offset)) = item.get("value") {
                    entries.insert(
                        offset_key(&connector, &partition),
                        OffsetEntry {
                            connector,
                            partition,
                            offset: offset.clone(),
                        },
                    );
                }
            }
        }
        Ok(FileOffsetStore {
            path,
            entries: Mutex::new(entries),
        })
    }

    fn persist(&self, entries: &BTreeMap<String, OffsetEntry>) -> Result<(), StoreError> {
        let items: Vec<Json> = entries
            .values()
            .map(|e| json!({"key": [e.connector, e.partition], "value": e.offset}))
            .collect();
        let bytes = serde_json::to_vec_pretty(&items).expect("JSON values serialise");
        file::write_atomic(&self.path, &bytes)
    }
}

impl OffsetStore for FileOffsetStore {
    fn get(&self, connector: &str, partition: &JsonMap) -> Option<JsonMap> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&offset_key(connector, partition))
            .map(|e| e.offset.clone())
    }

    fn all(&self, connector: &str) -> Vec<(JsonMap, JsonMap)> {
        let entries = match self.entries.lock() {
            Ok(e) => e,
            Err(_) => return Vec::new(),
        };
        entries
            .values()
            .filter(|e| e.connector == connector)
            .map(|e| (e.partition.clone(), e.offset.clone()))
            .collect()
    }

    fn put(
        &self,
        connector: &str,
        updates: Vec<(JsonMap, Option<JsonMap>)>,
    ) -> Result<(), StoreError> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = entries.clone();
        for (partition, offset) in updates {
            let key = offset_key(connector, &partition);
            match offset {
                Some(offset) => {
                    next.insert(
                        key,
                        OffsetEntry {
                            connector: connector.to_string(),
                            partition,
                            offset,
                        },
                    );
                }
                None => {
                    next.remove(&key);
                }
            }
        }
        // Only what reached the disk becomes visible.
        self.persist(&next)?;
        *entries = next;
        Ok(())
    }
}

/// An [`OffsetReader`] for one connector.
pub struct ConnectorOffsets {
    pub connector: String,
    pub store: Arc<dyn OffsetStore>,
}

impl OffsetReader for ConnectorOffsets {
    fn offset(&self, partition: &JsonMap) -> Option<JsonMap> {
        self.store.get(&self.connector, partition)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Json) -> JsonMap {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn offsets_survive_reopen_and_delete() {
        let dir = std::env::temp_dir().join(format!("sluice-offsets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("offsets.json");
        let _ = std::fs::remove_file(&path);
        let p1 = map(json!({"filename": "/a"}));
        let p2 = map(json!({"filename": "/b"}));
        {
            let s = FileOffsetStore::open(path.clone()).unwrap();
            s.put("c", vec![(p1.clone(), Some(map(json!({"position": 10}))))])
                .unwrap();
            s.put("c", vec![(p2.clone(), Some(map(json!({"position": 3}))))])
                .unwrap();
            s.put(
                "other",
                vec![(p1.clone(), Some(map(json!({"position": 99}))))],
            )
            .unwrap();
            s.put("c", vec![(p2.clone(), None)]).unwrap();
        }
        let s = FileOffsetStore::open(path.clone()).unwrap();
        assert_eq!(s.get("c", &p1), Some(map(json!({"position": 10}))));
        assert_eq!(s.get("c", &p2), None);
        assert_eq!(s.get("other", &p1), Some(map(json!({"position": 99}))));
        assert_eq!(s.all("c").len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
