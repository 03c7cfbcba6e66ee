//! The connector and its task: where to start, and the reader that runs
//! the snapshot and the stream in the background.
//!
//! The reader is a tokio task sending batches through a bounded channel
//! (max.queue.size records, in batches): a slow broker fills the channel
//! and stops the change stream read, memory does not grow. `poll` waits at
//! most poll.interval.ms (capped at 1 s) and returns at most max.batch.size
//! records.
//!
//! Restarts inside one task (a lost connection): the reader ends with a
//! retriable error; the next poll starts a new reader from the offset of
//! the last record handed to the worker, so nothing is skipped.
//!
//! Where a task starts ([`plan_start`]): a committed offset without
//! `initsync` streams from it; an `initsync` offset (a snapshot that never
//! completed) or no offset snapshots as snapshot.mode says.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use mongodb::Client;
use sluice_runtime::data::SourceRecord;
use sluice_runtime::{
    BoxFuture, ConfigDef, ConfigError, Props, SourceConnector, SourceTask, SourceTaskContext,
    TaskError,
};
use tokio::task::JoinHandle;

use super::config::{config_def, CaptureMode, MongoConfig, SnapshotMode};
use super::events::EventBuilder;
use super::offset::MongoOffset;
use super::snapshot::snapshot;
use super::stream::{stream, task_error, StreamError};
use crate::feed::FeedTx;

/// io.debezium.connector.mongodb.MongoDbConnector.
#[derive(Default)]
pub struct MongoDbConnector {
    props: Props,
}

impl SourceConnector for MongoDbConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn validate(&self, props: &Props) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut errors = std::collections::BTreeMap::new();
        if let Err(e) = MongoConfig::parse(props) {
            for m in e.messages() {
                if let Some((key, _)) = m.split_once(':') {
                    if config_def().key(key).is_some()
                        && !m.contains("Missing required")
                        && !m.contains("Invalid value")
                    {
                        errors
                            .entry(key.to_string())
                            .or_insert_with(Vec::new)
                            .push(m.clone());
                    }
                }
            }
        }
        errors
    }

    fn start(&mut self, props: &Props) -> Result<(), ConfigError> {
        MongoConfig::parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    /// One change stream, one reader: a single task whatever tasks.max says.
    fn task_configs(&self, _max_tasks: usize) -> Vec<Props> {
        vec![self.props.clone()]
    }

    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(MongoDbSourceTask::default())
    }
}

/// What the reader does first.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// Snapshot, then stream (unless `only`).
    Snapshot {
        only: bool,
    },
    Stream(MongoOffset),
    /// Stream from the current end of the oplog.
    StreamFromNow,
}

/// Decides where a task starts from its committed offset and snapshot.mode.
pub fn plan_start(mode: SnapshotMode, offset: Option<&MongoOffset>) -> Start {
    match (offset, mode) {
        (_, SnapshotMode::Always) => Start::Snapshot { only: false },
        (Some(o), _) if !o.initsync => Start::Stream(o.clone()),
        (Some(o), SnapshotMode::Never | SnapshotMode::NoData) => Start::Stream(MongoOffset {
            initsync: false,
            ..o.clone()
        }),
        (_, SnapshotMode::Initial | SnapshotMode::WhenNeeded) => Start::Snapshot { only: false },
        (_, SnapshotMode::InitialOnly) => Start::Snapshot { only: true },
        (None, SnapshotMode::Never | SnapshotMode::NoData) => Start::StreamFromNow,
    }
}

#[derive(Default)]
pub struct MongoDbSourceTask {
    cfg: Option<Arc<MongoConfig>>,
    ctx: Option<SourceTaskContext>,
    rx: Option<crate::feed::FeedRx>,
    reader: Option<JoinHandle<()>>,
    leftover: VecDeque<SourceRecord>,
    start: Option<Start>,
    /// The offset of the last record handed to the worker.
    last: Option<MongoOffset>,
}

impl MongoDbSourceTask {
    fn spawn(&mut self) {
        let (Some(cfg), Some(ctx)) = (self.cfg.clone(), self.ctx.clone()) else {
            return;
        };
        let start = match &self.last {
            Some(o) if !o.initsync => Start::Stream(o.clone()),
            _ => self
                .start
                .clone()
                .unwrap_or(Start::Snapshot { only: false }),
        };
        let (tx, rx) = crate::feed::queue(cfg.max_queue_size, cfg.max_queue_size_in_bytes);
        self.rx = Some(rx);
        self.reader = Some(tokio::spawn(async move {
            if let Err(e) = run(cfg, ctx, start, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        }));
    }
}

async fn run(
    cfg: Arc<MongoConfig>,
    ctx: SourceTaskContext,
    start: Start,
    tx: &FeedTx,
) -> Result<(), TaskError> {
    if cfg.capture_mode == CaptureMode::Oplog {
        return super::oplog::run(cfg, ctx, start, tx).await;
    }
    let client = Client::with_uri_str(&cfg.connection_string)
        .await
        .map_err(|e| task_error(&e, "connecting to MongoDB"))?;
    let mut builder = EventBuilder::new(cfg.clone());
    let from = match start {
        Start::Stream(o) => o,
        Start::StreamFromNow => super::stream::current_position(&client, &cfg)
            .await
            .map_err(into_task)?,
        Start::Snapshot { only } => {
            let pos = snapshot(&client, &cfg, &mut builder, &ctx, tx)
                .await
                .map_err(into_task)?;
            if only {
                tracing::info!(connector = %ctx.connector, "snapshot.mode=initial_only: snapshot done; not streaming");
                return Ok(());
            }
            pos
        }
    };
    match stream(&client, &cfg, &mut builder, from, tx).await {
        Ok(()) => Ok(()),
        Err(StreamError::PositionLost(msg)) if cfg.snapshot_mode == SnapshotMode::WhenNeeded => {
            tracing::warn!(connector = %ctx.connector, "{msg}; snapshot.mode=when_needed: taking a new snapshot");
            let pos = snapshot(&client, &cfg, &mut builder, &ctx, tx)
                .await
                .map_err(into_task)?;
            stream(&client, &cfg, &mut builder, pos, tx)
                .await
                .map_err(into_task)
        }
        Err(e) => Err(into_task(e)),
    }
}

pub fn into_task(e: StreamError) -> TaskError {
    match e {
        StreamError::PositionLost(m) | StreamError::ReplyTooLarge(m) => TaskError::Fatal(m),
        StreamError::Task(t) => t,
    }
}

/// A stored offset written by the other capture mode, rewritten to resume
/// from its cluster time in this one (see [`super::offset`]).
fn switch_mode(
    cfg: &MongoConfig,
    connector: &str,
    o: MongoOffset,
) -> Result<MongoOffset, TaskError> {
    let oplog = cfg.capture_mode == CaptureMode::Oplog;
    match o.for_mode(oplog) {
        Ok(None) => Ok(o),
        Ok(Some(switched)) => {
            tracing::warn!(
                connector = %connector,
                "the stored offset was written by {}; resuming with {} from its cluster time {}:{} (changes at that time inside a transaction may be delivered again)",
                if oplog { "a change stream" } else { "capture.mode=oplog" },
                if oplog { "capture.mode=oplog" } else { "the change stream" },
                o.sec,
                o.ord
            );
            Ok(switched)
        }
        Err(e) => Err(TaskError::Fatal(format!(
            "{e}; set capture.mode back, or reset the offsets (DELETE /connectors/{connector}/offsets) and restart to snapshot again"
        ))),
    }
}

impl SourceTask for MongoDbSourceTask {
    fn start(
        &mut self,
        props: Props,
        ctx: SourceTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let cfg = Arc::new(MongoConfig::parse(&props)?);
            let offset = match ctx.offsets.offset(&cfg.source_partition()) {
                Some(m) => Some(MongoOffset::from_json(&m).map_err(|e| {
                    TaskError::Fatal(format!(
                        "the stored offset of {} is unreadable ({e}); reset it with DELETE /connectors/{}/offsets and restart",
                        cfg.topic_prefix, ctx.connector
                    ))
                })?),
                None => None,
            };
            let offset = match offset {
                Some(o) => Some(switch_mode(&cfg, &ctx.connector, o)?),
                None => None,
            };
            let start = plan_start(cfg.snapshot_mode, offset.as_ref());
            tracing::info!(connector = %ctx.connector, "starting: {start:?}");
            self.start = Some(start);
            self.cfg = Some(cfg);
            self.ctx = Some(ctx);
            self.spawn();
            Ok(())
        })
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>, TaskError>> {
        Box::pin(async move {
            let Some(cfg) = self.cfg.clone() else {
                return Ok(Vec::new());
            };
            if self.rx.is_none() {
                self.leftover.clear();
                self.spawn();
            }
            let batch = crate::feed::next_batch(
                &mut self.rx,
                &mut self.leftover,
                cfg.max_batch_size,
                Duration::from_millis(cfg.poll_interval_ms),
            )
            .await?;
            if batch.is_empty() {
                crate::feed::check_reader(&mut self.reader).await?;
            }
            if let Some(off) = batch.iter().rev().find_map(|r| r.source_offset.as_ref()) {
                if let Ok(o) = MongoOffset::from_json(off) {
                    self.last = Some(o);
                }
            }
            Ok(batch)
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.rx = None;
            if let Some(h) = self.reader.take() {
                h.abort();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn off(initsync: bool) -> MongoOffset {
        MongoOffset {
            sec: 10,
            ord: 1,
            initsync,
            ..Default::default()
        }
    }

    #[test]
    fn start_plans() {
        use SnapshotMode::*;
        assert_eq!(plan_start(Initial, None), Start::Snapshot { only: false });
        assert_eq!(
            plan_start(Initial, Some(&off(false))),
            Start::Stream(off(false))
        );
        assert_eq!(
            plan_start(Initial, Some(&off(true))),
            Start::Snapshot { only: false }
        );
        assert_eq!(
            plan_start(InitialOnly, None),
            Start::Snapshot { only: true }
        );
        assert_eq!(plan_start(Never, None), Start::StreamFromNow);
        assert_eq!(
            plan_start(NoData, Some(&off(true))),
            Start::Stream(off(false))
        );
        assert_eq!(
            plan_start(Always, Some(&off(false))),
            Start::Snapshot { only: false }
        );
        assert_eq!(
            plan_start(WhenNeeded, Some(&off(false))),
            Start::Stream(off(false))
        );
    }
}
