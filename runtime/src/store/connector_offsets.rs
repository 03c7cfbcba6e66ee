//! A connector's own offset topic (`offsets.storage.topic` in a source
//! connector's config, KIP-618), in distributed mode, beside the worker's
//! offset topic, as Kafka Connect layers them:
//!
//! - reads: the connector's topic first, the worker's topic for partitions
//!   it does not hold (a connector moved onto its own topic resumes from
//!   where the worker's topic left it);
//! - writes: the connector's topic; then the same offsets to the worker's
//!   topic as a secondary copy whose failure is only logged (a downgrade,
//!   or the connector's topic dropped from the config, still finds them);
//!   tombstones go to the worker's topic first, so that a partition removed
//!   from the connector's topic cannot come back from the fallback. Under
//!   exactly-once the transaction writes the connector's topic and the copy
//!   follows each commit.
//!
//! Connectors without the key use the worker's topic alone. The connector's
//! topic is created like the worker's (compacted, the worker's offset
//! partitions and replication factor) and read to its end before a task
//! starts or the REST API reads or changes the connector's offsets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{OffsetStore, StoreError, TopicOffsetStore};
use crate::data::JsonMap;
use crate::plugin::{BoxFuture, Props};

/// The offset topic a connector's config names for itself, if any.
pub fn own_topic(config: &Props) -> Option<&str> {
    config
        .get("offsets.storage.topic")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
}

/// Opens (creates if needed, starts reading) an offset topic by name.
pub type OpenTopic = Box<
    dyn Fn(String) -> BoxFuture<'static, Result<Arc<TopicOffsetStore>, StoreError>> + Send + Sync,
>;

/// The worker's offset topic and the connectors' own, as one store.
pub struct ConnectorOffsetStores {
    worker: Arc<TopicOffsetStore>,
    worker_topic: String,
    open: OpenTopic,
    /// Open connector topics, by topic name (connectors may share one).
    topics: tokio::sync::Mutex<BTreeMap<String, Arc<TopicOffsetStore>>>,
    /// Which connectors use their own topic.
    routes: Mutex<BTreeMap<String, Arc<TopicOffsetStore>>>,
}

impl ConnectorOffsetStores {
    pub fn new(worker: Arc<TopicOffsetStore>, worker_topic: &str, open: OpenTopic) -> Arc<Self> {
        Arc::new(ConnectorOffsetStores {
            worker,
            worker_topic: worker_topic.to_string(),
            open,
            topics: tokio::sync::Mutex::new(BTreeMap::new()),
            routes: Mutex::new(BTreeMap::new()),
        })
    }

    fn own(&self, connector: &str) -> Option<Arc<TopicOffsetStore>> {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(connector)
            .cloned()
    }

    /// The connector's own topic, if its config names one other than the
    /// worker's.
    fn topic_of<'a>(&self, config: &'a Props) -> Option<&'a str> {
        own_topic(config).filter(|t| *t != self.worker_topic)
    }

    async fn write(
        &self,
        connector: &str,
        entries: Vec<(JsonMap, Option<JsonMap>)>,
        check_lease: bool,
    ) -> Result<(), StoreError> {
        let Some(own) = self.own(connector) else {
            return self.worker.write(connector, entries, check_lease).await;
        };
        let tombstones: Vec<_> = entries
            .iter()
            .filter(|(_, o)| o.is_none())
            .cloned()
            .collect();
        if !tombstones.is_empty() {
            self.worker
                .write(connector, tombstones, check_lease)
                .await?;
        }
        own.write(connector, entries.clone(), check_lease).await?;
        let regular: Vec<_> = entries.into_iter().filter(|(_, o)| o.is_some()).collect();
        if !regular.is_empty() {
            if let Err(e) = self.worker.write(connector, regular, check_lease).await {
                tracing::warn!(
                    connector,
                    "offsets written to the connector's own offset topic but not copied to the worker's: {e}"
                );
            }
        }
        Ok(())
    }
}

impl OffsetStore for ConnectorOffsetStores {
    fn get(&self, connector: &str, partition: &JsonMap) -> Option<JsonMap> {
        self.own(connector)
            .and_then(|own| own.get(connector, partition))
            .or_else(|| self.worker.get(connector, partition))
    }

    fn all(&self, connector: &str) -> Vec<(JsonMap, JsonMap)> {
        let mut all = self.worker.all(connector);
        if let Some(own) = self.own(connector) {
            super::overlay(&mut all, own.all(connector));
        }
        all
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
            self.worker.refresh().await;
            let own: Vec<_> = self.topics.lock().await.values().cloned().collect();
            for store in own {
                store.refresh().await;
            }
        })
    }

    fn alter(
        &self,
        connector: &str,
        entries: Vec<(JsonMap, Option<JsonMap>)>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let connector = connector.to_string();
        Box::pin(async move { self.write(&connector, entries, false).await })
    }

    fn committed_in_transaction<'a>(
        &'a self,
        connector: &'a str,
        entries: &'a [(JsonMap, JsonMap)],
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if self.own(connector).is_none() || entries.is_empty() {
                return;
            }
            let entries = entries
                .iter()
                .map(|(p, o)| (p.clone(), Some(o.clone())))
                .collect();
            if let Err(e) = self.worker.write(connector, entries, true).await {
                tracing::warn!(
                    connector,
                    "offsets committed to the connector's own offset topic but not copied to the worker's: {e}"
                );
            }
        })
    }

    fn prepare<'a>(
        &'a self,
        connector: &'a str,
        config: &'a Props,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(topic) = self.topic_of(config) else {
                self.routes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(connector);
                return Ok(());
            };
            let store = {
                let mut topics = self.topics.lock().await;
                match topics.get(topic) {
                    Some(s) => s.clone(),
                    None => {
                        let s = (self.open)(topic.to_string()).await.map_err(|e| {
                            StoreError::Topic(format!(
                                "offsets.storage.topic {topic} of connector {connector}: {e}"
                            ))
                        })?;
                        topics.insert(topic.to_string(), s.clone());
                        s
                    }
                }
            };
            if let Some(log) = store.log() {
                log.read_to_end(Duration::from_secs(30))
                    .await
                    .map_err(|e| {
                        StoreError::Topic(format!(
                            "offsets.storage.topic {topic} of connector {connector}: {e}"
                        ))
                    })?;
            }
            self.routes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(connector.to_string(), store);
            Ok(())
        })
    }
}
