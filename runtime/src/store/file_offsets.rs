//! Standalone source offsets: `offset.storage.file.filename`, one JSON file
//! written atomically ([`super::file::write_atomic`]), so a worker killed
//! at any instant restarts from the last offsets it committed, never from
//! a torn file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{json, Value as Json};

use super::{file, offset_key, OffsetStore, StoreError};
use crate::data::JsonMap;

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
