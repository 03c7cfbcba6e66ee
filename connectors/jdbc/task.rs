//! The JDBC sink task: each put is decoded, planned per table and applied
//! in one database transaction before `put` returns.
//!
//! Why no change is lost or applied out of order: the worker commits
//! consumer offsets only after `put` and then `flush` returned, and `put`
//! returns only after its transaction committed; a failed put rolled back
//! entirely, so the worker's retry (or a restarted task, from the last
//! committed offsets) applies the same records again. Replays are
//! idempotent with `insert.mode=upsert` and deletes by key. Within a table
//! changes keep their Kafka order (a partition's order, since a key always
//! lands on the same partition).

use std::sync::Arc;

use sluice_api::data::SinkRecord;
use sluice_api::{BoxFuture, Props, SinkTask, SinkTaskContext, TaskError};

use super::config::{Flavor, InsertMode, JdbcSinkConfig};
use super::plan::plan;
use super::record::Decoder;
use super::url::Dialect;
use super::{Target, WriteError};

pub struct JdbcSinkTask {
    flavor: Flavor,
    decoder: Option<Decoder>,
    target: Option<Target>,
    cfg: Option<Arc<JdbcSinkConfig>>,
}

impl JdbcSinkTask {
    pub fn new(flavor: Flavor) -> JdbcSinkTask {
        JdbcSinkTask {
            flavor,
            decoder: None,
            target: None,
            cfg: None,
        }
    }

    async fn put_records(&mut self, records: Vec<SinkRecord>) -> Result<(), TaskError> {
        let (Some(decoder), Some(target), Some(cfg)) = (
            self.decoder.as_mut(),
            self.target.as_mut(),
            self.cfg.as_ref(),
        ) else {
            return Err(TaskError::Fatal("put before start".into()));
        };
        let mut changes = Vec::with_capacity(records.len());
        for r in &records {
            let change = decoder.decode(r).map_err(|e| {
                TaskError::Fatal(format!(
                    "cannot write the record at {}-{}@{}: {e}",
                    r.original_topic, r.original_partition, r.kafka_offset
                ))
            })?;
            changes.push(change);
        }
        let batches = plan(changes, cfg.insert_mode == InsertMode::Upsert);
        target.write(&batches).await.map_err(|e| match e {
            WriteError::Fatal(m) => TaskError::Fatal(m),
            // Lost during a put: reconnect and retry.
            WriteError::Retriable(m) | WriteError::Unreachable(m) => TaskError::Retriable(m),
        })
    }
}

impl SinkTask for JdbcSinkTask {
    fn start(
        &mut self,
        props: Props,
        ctx: SinkTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let cfg = Arc::new(JdbcSinkConfig::parse(&props, self.flavor)?);
            if !cfg.ignored_keys.is_empty() {
                tracing::warn!(
                    connector = %ctx.connector,
                    "Hibernate settings have no meaning in Sluice (it has no Hibernate) and are ignored: {}",
                    cfg.ignored_keys.join(", ")
                );
            }
            let target = Target::connect(cfg.clone()).await.map_err(|e| match e {
                // At start a database that cannot be reached fails the task
                // with the remedy, rather than retrying unseen.
                WriteError::Unreachable(m) | WriteError::Fatal(m) => TaskError::Fatal(m),
                WriteError::Retriable(m) => TaskError::Retriable(m),
            })?;
            let dialect: Dialect = cfg.url.dialect;
            self.decoder = Some(Decoder::new(cfg.clone(), dialect));
            self.target = Some(target);
            self.cfg = Some(cfg);
            Ok(())
        })
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(self.put_records(records))
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), TaskError>> {
        // Every put committed its own transaction before returning.
        Box::pin(async { Ok(()) })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.target = None;
        })
    }
}
