//! Where the worker keeps its state: source offsets and connector configs.
//!
//! Each sits behind a trait with a file backend (standalone mode) and a
//! Kafka topic backend (distributed mode), so the worker and the herder core
//! do not care which:
//!
//! | state | trait | file | topic |
//! |---|---|---|---|
//! | source offsets | [`OffsetStore`] | [`file_offsets`] | [`topic_offsets`] |
//! | connector configs, target states | [`ConfigStore`] | [`file_configs`] | [`topic_configs`] |
//! | statuses, active topics | (distributed only) | | [`topic_statuses`] |
//!
//! Files are written atomically (see [`file`]); topics are compacted and
//! read to their end by every worker.
//!
//! Offsets are keyed as Kafka Connect keys its offset topic: the JSON array
//! `[connector, partition]`, so a partition map identifies the same offset
//! whichever store holds it.

pub mod connector_offsets;
pub mod error;
pub mod file;
pub mod file_configs;
pub mod file_offsets;
pub mod topic_configs;
pub mod topic_offsets;
pub mod topic_statuses;

use std::sync::Arc;

use serde_json::json;

use crate::data::JsonMap;
use crate::herder::TargetState;
use crate::plugin::{BoxFuture, OffsetReader, Props};

pub use error::StoreError;
pub use file_configs::{ConnectorRecord, FileConfigStore};
pub use file_offsets::FileOffsetStore;
pub use topic_configs::TopicConfigStore;
pub use topic_offsets::TopicOffsetStore;

/// Lays `over` on `base`, partition by partition: an offset in `over`
/// replaces the one of the same partition in `base`.
pub fn overlay(base: &mut Vec<(JsonMap, JsonMap)>, over: Vec<(JsonMap, JsonMap)>) {
    if base.is_empty() {
        *base = over;
        return;
    }
    for (p, o) in over {
        match base.iter_mut().find(|(q, _)| *q == p) {
            Some(slot) => slot.1 = o,
            None => base.push((p, o)),
        }
    }
}

/// Runs a topic store's write from a blocking thread of the worker's
/// runtime (a source loop's commit), waiting for it.
fn block_on_worker_runtime(
    write: impl std::future::Future<Output = Result<(), StoreError>>,
) -> Result<(), StoreError> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| StoreError::Topic("offset commit outside the worker's runtime".into()))?;
    handle.block_on(write)
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
    /// Reads what other workers wrote meanwhile (a file has no other writers).
    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// An operator's change through the REST API, made while the connector
    /// is STOPPED (so no task writes meanwhile).
    fn alter(
        &self,
        connector: &str,
        entries: Vec<(JsonMap, Option<JsonMap>)>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let done = self.put(connector, entries);
        Box::pin(async move { done })
    }
    /// Offsets an exactly-once transaction committed to the connector's own
    /// offset topic: copied to the worker's topic, as Kafka Connect does
    /// (nothing to do for a connector without its own topic).
    fn committed_in_transaction<'a>(
        &'a self,
        _connector: &'a str,
        _entries: &'a [(JsonMap, JsonMap)],
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// Makes ready the store a connector's offsets live in: its own
    /// `offsets.storage.topic` in distributed mode (see
    /// [`connector_offsets`]). Called before a source task starts and before
    /// the REST API reads or changes the connector's offsets. A store with
    /// no such topics (the standalone file) only says the key does nothing.
    fn prepare<'a>(
        &'a self,
        connector: &'a str,
        config: &'a Props,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        if connector_offsets::own_topic(config).is_some() {
            tracing::warn!(
                connector,
                "offsets.storage.topic has no effect on a standalone worker: its offsets are in offset.storage.file.filename"
            );
        }
        Box::pin(async { Ok(()) })
    }
}

/// Connector configs and target states: what the REST API writes and every
/// worker acts on.
pub trait ConfigStore: Send + Sync {
    /// Every connector's name, in order.
    fn connectors(&self) -> Vec<String>;
    /// A connector's config, if it exists.
    fn config(&self, connector: &str) -> Option<Props>;
    /// A connector's target state (RUNNING when none was set).
    fn target_state(&self, connector: &str) -> TargetState;
    /// Reads what other workers wrote meanwhile, so that this worker's
    /// answers include them (a file has no other writers).
    fn refresh(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Creates or replaces a connector's config; a new connector starts in
    /// `initial` (RUNNING when None), a replaced one keeps its target state.
    fn put_config(
        &self,
        connector: &str,
        config: &Props,
        initial: Option<TargetState>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Removes a connector's config and target state.
    fn remove(&self, connector: &str) -> BoxFuture<'_, Result<(), StoreError>>;
    fn put_target_state(
        &self,
        connector: &str,
        state: TargetState,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// The offset key: `[connector, partition]` as compact JSON.
pub fn offset_key(connector: &str, partition: &JsonMap) -> String {
    json!([connector, partition]).to_string()
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
