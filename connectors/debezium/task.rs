//! The source task every Debezium-style connector runs, generic over the
//! connector's [`Reader`]: where to start, the reader that runs the
//! snapshot and the stream in the background, and the hand-over to poll.
//!
//! The reader is a tokio task sending batches through a bounded queue
//! ([`feed`](super::feed): max.queue.size records and, when set,
//! max.queue.size.in.bytes, counted per record): a slow broker fills the
//! queue and stops the read, memory does not grow with a transaction's
//! size. `poll` waits at most poll.interval.ms (capped at 1 s) and returns
//! at most max.batch.size records.
//!
//! Restarts inside one task (a lost connection): the reader ends with a
//! retriable error; the next poll starts a new reader from the offset of
//! the last record handed to the worker ([`Reader::resume`]), so nothing
//! is skipped and nothing already handed over is sent again.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use sluice_api::data::{JsonMap, SourceRecord};
use sluice_api::{
    BoxFuture, ConfigDef, ConfigError, Props, SourceTask, SourceTaskContext, TaskError,
};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::config::CommonConfig;
use super::feed::{self, FeedRx, FeedTx};

/// What a connector says to run as a [`ReaderTask`].
pub trait Reader: Clone + Send + Sync + 'static {
    /// The task's typed config.
    type Config: Send + Sync + 'static;
    /// A source offset, as the reader writes it into records.
    type Offset: Send + Sync + 'static;
    /// What the reader does first (snapshot, stream from an offset, ...).
    type Start: Clone + Debug + Send + Sync + 'static;

    fn parse(&self, props: &Props) -> Result<Self::Config, ConfigError>;

    /// The shared keys of `cfg` (the queue bounds and poll settings).
    fn common(cfg: &Self::Config) -> &CommonConfig;

    /// Where the task starts, from the offset committed for it (read from
    /// `ctx.offsets`) and snapshot.mode.
    fn plan(cfg: &Self::Config, ctx: &SourceTaskContext) -> Result<Self::Start, TaskError>;

    /// The offset a record carries, if readable.
    fn offset(m: &JsonMap) -> Option<Self::Offset>;

    /// Where a reader restarted inside the task starts, the last record
    /// handed to the worker having carried `last`; `None`: as first
    /// planned.
    fn resume(cfg: &Self::Config, last: &Self::Offset) -> Option<Self::Start>;

    /// Reads from `start`, sending batches to `tx`, until the task stops
    /// (or, for a snapshot-only start, the snapshot is done). An error ends
    /// the read; the task hands it to the worker after the records before
    /// it.
    fn read<'a>(
        &'a self,
        cfg: Arc<Self::Config>,
        ctx: SourceTaskContext,
        start: Self::Start,
        tx: &'a FeedTx,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
}

/// What a started task runs with.
struct Run<R: Reader> {
    cfg: Arc<R::Config>,
    ctx: SourceTaskContext,
    /// The first start, until a record is handed over.
    start: R::Start,
}

/// A Debezium-style source task: one reader, spawned at start and again
/// after it failed.
pub struct ReaderTask<R: Reader> {
    reader: R,
    run: Option<Run<R>>,
    rx: Option<FeedRx>,
    handle: Option<JoinHandle<()>>,
    leftover: VecDeque<SourceRecord>,
    /// The offset of the last record handed to the worker.
    last: Option<R::Offset>,
    streaming: StreamingMetrics,
}

/// Debezium's streaming metrics of a task (its `connector-metrics,
/// context=streaming` MBean), published in the task's progress for the
/// worker's `GET /metrics` and the status JSON.
#[derive(Default)]
struct StreamingMetrics {
    plugin: String,
    server: String,
    events_seen: u64,
    last_event: Option<std::time::Instant>,
    behind_ms: Option<i64>,
    /// The reader's queue: its bound and the room left, in records.
    queue: Option<(u64, u64)>,
    /// The queue's byte bound and the bytes in it (0, 0: no byte bound).
    queue_bytes: (u64, u64),
    /// Transactions the reader saw committed (MySQL/MariaDB).
    committed_txns: u64,
    /// A MySQL/MariaDB task's binlog file and position, as of its newest
    /// record (Debezium's BinlogFilename and BinlogPosition).
    binlog: Option<(String, i64)>,
}

impl StreamingMetrics {
    /// After a poll that returned `batch`.
    fn observe(&mut self, batch: &[SourceRecord]) {
        if !batch.is_empty() {
            self.events_seen += batch.len() as u64;
            self.last_event = Some(std::time::Instant::now());
        }
        // The source's own time of the newest change: a MySQL offset's
        // ts_sec (the binlog event's), a MongoDB one's sec.
        let ts = batch.iter().rev().find_map(|r| {
            let o = r.source_offset.as_ref()?;
            o.get("ts_sec").or_else(|| o.get("sec"))?.as_i64()
        });
        if let Some(o) = batch.last().and_then(|r| r.source_offset.as_ref()) {
            if let (Some(file), Some(pos)) = (
                o.get("file").and_then(|f| f.as_str()),
                o.get("pos").and_then(|p| p.as_i64()),
            ) {
                match &mut self.binlog {
                    Some((f, p)) if f == file => *p = pos,
                    b => *b = Some((file.to_string(), pos)),
                }
            }
        }
        if let Some(sec) = ts {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            self.behind_ms = Some((now - sec * 1000).max(0));
        }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "plugin": self.plugin,
            "name": self.server,
            "TotalNumberOfEventsSeen": self.events_seen,
            "MilliSecondsBehindSource": self.behind_ms.unwrap_or(-1),
            "MilliSecondsSinceLastEvent": self
                .last_event
                .map(|t| t.elapsed().as_millis() as i64)
                .unwrap_or(-1),
            "Connected": self.last_event.is_some() || self.behind_ms.is_some(),
            "QueueTotalCapacity": self.queue.map(|q| q.0),
            "QueueRemainingCapacity": self.queue.map(|q| q.1),
            "MaxQueueSizeInBytes": self.queue_bytes.0,
            "CurrentQueueSizeInBytes": self.queue_bytes.1,
            "BinlogFilename": self.binlog.as_ref().map(|b| b.0.as_str()),
            "BinlogPosition": self.binlog.as_ref().map(|b| b.1),
            "NumberOfCommittedTransactions": (self.plugin != "mongodb").then_some(self.committed_txns),
        })
    }
}

impl<R: Reader> ReaderTask<R> {
    pub fn with_reader(reader: R) -> Self {
        ReaderTask {
            reader,
            run: None,
            rx: None,
            handle: None,
            leftover: VecDeque::new(),
            last: None,
            streaming: StreamingMetrics::default(),
        }
    }

    fn spawn(&mut self) {
        let Some(run) = &self.run else {
            return;
        };
        let start = self
            .last
            .as_ref()
            .and_then(|o| R::resume(&run.cfg, o))
            .unwrap_or_else(|| run.start.clone());
        let common = R::common(&run.cfg);
        let (tx, rx) = feed::queue(common.max_queue_size, common.max_queue_size_in_bytes);
        if let Some(old) = &self.rx {
            self.streaming.committed_txns += old.take_commits();
        }
        self.rx = Some(rx);
        let (reader, cfg, ctx) = (self.reader.clone(), run.cfg.clone(), run.ctx.clone());
        // The reader logs in the task's span (connector, task).
        self.handle = Some(tokio::spawn(
            async move {
                if let Err(e) = reader.read(cfg, ctx, start, &tx).await {
                    let _ = tx.send(Err(e)).await;
                }
            }
            .in_current_span(),
        ));
    }
}

impl<R: Reader> SourceTask for ReaderTask<R> {
    fn start(
        &mut self,
        props: Props,
        ctx: SourceTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let cfg = Arc::new(self.reader.parse(&props)?);
            let class = props
                .get("connector.class")
                .map(String::as_str)
                .unwrap_or("");
            self.streaming.plugin = if class.contains("mongodb") {
                "mongodb"
            } else if class.contains("mariadb") {
                "mariadb"
            } else {
                "mysql"
            }
            .to_string();
            self.streaming.server = props.get("topic.prefix").cloned().unwrap_or_default();
            let start = R::plan(&cfg, &ctx)?;
            tracing::info!("starting: {start:?}");
            self.run = Some(Run { cfg, ctx, start });
            self.spawn();
            Ok(())
        })
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>, TaskError>> {
        Box::pin(async move {
            let Some(run) = &self.run else {
                return Ok(Vec::new());
            };
            let common = R::common(&run.cfg);
            let (max, wait) = (
                common.max_batch_size,
                Duration::from_millis(common.poll_interval_ms),
            );
            if self.rx.is_none() {
                self.leftover.clear();
                self.spawn();
            }
            let batch = feed::next_batch(&mut self.rx, &mut self.leftover, max, wait).await?;
            if batch.is_empty() {
                feed::check_reader(&mut self.handle).await?;
            }
            if let Some(off) = batch.iter().rev().find_map(|r| r.source_offset.as_ref()) {
                if let Some(o) = R::offset(off) {
                    self.last = Some(o);
                }
            }
            self.streaming.observe(&batch);
            self.streaming.queue = self.rx.as_ref().map(FeedRx::room);
            if let Some(rx) = &self.rx {
                self.streaming.queue_bytes = rx.bytes();
                self.streaming.committed_txns += rx.take_commits();
            }
            if let Some(run) = &self.run {
                run.ctx
                    .update_progress("streaming", self.streaming.to_json());
            }
            Ok(batch)
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.rx = None;
            if let Some(h) = self.handle.take() {
                h.abort();
            }
        })
    }
}

/// A task dropped without `stop` (its loop panicked, or the worker aborted
/// it past its grace period) ends its reader too: a detached reader would
/// keep its binlog or change-stream session, and the task's next instance
/// would meet it (two sessions with one `server.id`).
impl<R: Reader> Drop for ReaderTask<R> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// `SourceConnector::validate` of a Debezium-style connector: the errors of
/// its config parse (`parsed`) that name one of its keys, by key. Missing
/// and invalid values are left out: the runtime reports those itself from
/// the declaration.
pub fn validate(parsed: Result<(), ConfigError>, def: &ConfigDef) -> BTreeMap<String, Vec<String>> {
    let mut errors = BTreeMap::new();
    if let Err(e) = parsed {
        for m in e.messages() {
            if let Some((key, _)) = m.split_once(':') {
                if def.key(key).is_some()
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
