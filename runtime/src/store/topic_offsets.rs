//! Source offsets in the offset topic (`offset.storage.topic`), in Kafka
//! Connect's format: key `["<connector>", {partition}]`, value the offset
//! map as JSON, null to remove it. Every worker reads the whole topic, so a
//! task that moves resumes from the offsets its last owner committed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value as Json;

use super::{offset_key, OffsetStore, StoreError};
use crate::data::JsonMap;
use crate::kafka::log::{Apply, KafkaLog};
use crate::plugin::BoxFuture;
use crate::worker::{Lease, LEASE_LOST};

type Entries = BTreeMap<String, (String, JsonMap, JsonMap)>;

/// The offset topic as an [`OffsetStore`].
pub struct TopicOffsetStore {
    entries: Arc<Mutex<Entries>>,
    log: OnceLock<Arc<KafkaLog>>,
    lease: Arc<Lease>,
}

impl TopicOffsetStore {
    pub fn new(lease: Arc<Lease>) -> Arc<TopicOffsetStore> {
        Arc::new(TopicOffsetStore {
            entries: Arc::new(Mutex::new(BTreeMap::new())),
            log: OnceLock::new(),
            lease,
        })
    }

    /// The reader callback for the offset topic.
    pub fn applier(&self) -> Apply {
        let entries = self.entries.clone();
        Box::new(move |_p, _o, key, value| {
            let Some((connector, partition)) = key.and_then(parse_offset_key) else {
                return;
            };
            let k = offset_key(&connector, &partition);
            let mut e = entries.lock().unwrap_or_else(|p| p.into_inner());
            match value.and_then(|v| serde_json::from_slice::<JsonMap>(v).ok()) {
                Some(offset) => {
                    e.insert(k, (connector, partition, offset));
                }
                None => {
                    e.remove(&k);
                }
            }
        })
    }

    pub fn set_log(&self, log: Arc<KafkaLog>) {
        let _ = self.log.set(log);
    }

    pub fn log(&self) -> Option<&Arc<KafkaLog>> {
        self.log.get()
    }

    /// Writes offsets and waits for the broker's acks. `check_lease` is off
    /// only for operator writes through the REST API (connector STOPPED).
    pub async fn write(
        &self,
        connector: &str,
        entries: Vec<(JsonMap, Option<JsonMap>)>,
        check_lease: bool,
    ) -> Result<(), StoreError> {
        if check_lease && !self.lease.valid() {
            return Err(StoreError::Topic(LEASE_LOST.to_string()));
        }
        let log = self
            .log
            .get()
            .ok_or_else(|| StoreError::Topic("the offset topic is not open yet".into()))?;
        for (partition, offset) in &entries {
            let key = offset_key(connector, partition);
            let value = offset
                .as_ref()
                .map(|o| serde_json::to_vec(o).expect("JSON maps serialise"));
            log.send(&key, value.as_deref())
                .await
                .map_err(|e| StoreError::Topic(format!("cannot commit source offsets: {e}")))?;
        }
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for (partition, offset) in entries {
            let k = offset_key(connector, &partition);
            match offset {
                Some(o) => {
                    e.insert(k, (connector.to_string(), partition, o));
                }
                None => {
                    e.remove(&k);
                }
            }
        }
        Ok(())
    }
}

impl OffsetStore for TopicOffsetStore {
    fn get(&self, connector: &str, partition: &JsonMap) -> Option<JsonMap> {
        let e = self.entries.lock().ok()?;
        e.get(&offset_key(connector, partition))
            .map(|(_, _, o)| o.clone())
    }

    fn all(&self, connector: &str) -> Vec<(JsonMap, JsonMap)> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.values()
            .filter(|(c, _, _)| c == connector)
            .map(|(_, p, o)| (p.clone(), o.clone()))
            .collect()
    }

    /// Called from a blocking thread (the source loop's commit).
    fn put(
        &self,
        connector: &str,
        entries: Vec<(JsonMap, Option<JsonMap>)>,
    ) -> Result<(), StoreError> {
        super::block_on_worker_runtime(self.write(connector, entries, true))
    }

    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(log) = self.log() {
                let _ = log.read_to_end(Duration::from_secs(10)).await;
            }
        })
    }

    /// Not fenced by the lease: the connector is STOPPED, no task writes.
    fn alter(
        &self,
        connector: &str,
        entries: Vec<(JsonMap, Option<JsonMap>)>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let connector = connector.to_string();
        Box::pin(async move { self.write(&connector, entries, false).await })
    }
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
    #[test]
    fn reads_kafka_connect_offset_keys() {
        assert_eq!(
            super::parse_offset_key(br#"["x",{"server":"a"}]"#)
                .unwrap()
                .0,
            "x"
        );
    }
}
