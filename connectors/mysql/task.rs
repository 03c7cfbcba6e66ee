//! The connector and its task: where to start, and the reader that runs
//! the snapshot and the stream in the background.
//!
//! The reader is a tokio task sending batches through a bounded queue
//! (`feed`: max.queue.size records and, when set, max.queue.size.in.bytes,
//! counted per record): a slow broker fills the queue and stops the binlog
//! read, memory does not grow with the transaction size. `poll` waits at most
//! poll.interval.ms (capped at 1 s) and returns at most max.batch.size
//! records.
//!
//! Restarts inside one task (a lost connection): the reader ends with a
//! retriable error; the next poll starts a new reader from the offset of
//! the last record handed to the worker, so nothing is skipped and
//! nothing already handed over is sent again.
//!
//! Where a task starts ([`plan_start`]): a committed offset without the
//! `snapshot` flag streams from it; a `snapshot` offset (a snapshot that
//! never completed) or no offset takes the snapshot as snapshot.mode says.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use sluice_runtime::data::SourceRecord;
use sluice_runtime::{
    BoxFuture, ConfigDef, ConfigError, Props, SourceConnector, SourceTask, SourceTaskContext,
    TaskError,
};
use tokio::task::JoinHandle;

use super::config::{config_def, Flavor, MySqlConfig, SnapshotMode};
use super::history::{HistoryKind, SchemaHistory};
use super::offset::BinlogOffset;
use super::protocol::Connection;
use super::snapshot::snapshot;
use super::stream::{stream, Capture};
use crate::feed::FeedTx;

/// io.debezium.connector.mysql.MySqlConnector / mariadb.MariaDbConnector.
pub struct MySqlConnector {
    flavor: Flavor,
    props: Props,
}

impl MySqlConnector {
    pub fn new(flavor: Flavor) -> Self {
        MySqlConnector {
            flavor,
            props: Props::new(),
        }
    }
}

impl SourceConnector for MySqlConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn validate(&self, props: &Props) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut errors = std::collections::BTreeMap::new();
        if let Err(e) = MySqlConfig::parse(props, self.flavor) {
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
        MySqlConfig::parse(props, self.flavor)?;
        self.props = props.clone();
        Ok(())
    }

    /// One binlog, one reader: a single task whatever tasks.max says.
    fn task_configs(&self, _max_tasks: usize) -> Vec<Props> {
        vec![self.props.clone()]
    }

    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(MySqlSourceTask::new(self.flavor))
    }
}

/// What the reader does first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Snapshot (with rows, or schema only), then stream (unless `only`).
    /// `earlier`: the position of a snapshot that did not complete.
    Snapshot {
        with_data: bool,
        only: bool,
        earlier: Option<BinlogOffset>,
    },
    Stream(BinlogOffset),
    /// never without an offset: the oldest binlog on the server.
    StreamFromOldest,
    /// initial_only once its snapshot is complete: nothing more to read
    /// (Debezium's initial_only never streams, restarts included).
    Done,
}

fn snap(with_data: bool, only: bool, earlier: Option<&BinlogOffset>) -> Start {
    Start::Snapshot {
        with_data,
        only,
        earlier: earlier.cloned(),
    }
}

/// Decides where a task starts from its committed offset and snapshot.mode.
pub fn plan_start(mode: SnapshotMode, offset: Option<&BinlogOffset>) -> Start {
    match (offset, mode) {
        (Some(o), SnapshotMode::InitialOnly) if !o.snapshot => Start::Done,
        (Some(o), _) if !o.snapshot => Start::Stream(o.clone()),
        (Some(o), SnapshotMode::Never) => Start::Stream(BinlogOffset {
            snapshot: false,
            ..o.clone()
        }),
        (o, SnapshotMode::Initial | SnapshotMode::WhenNeeded) => snap(true, false, o),
        (o, SnapshotMode::InitialOnly) => snap(true, true, o),
        (o, SnapshotMode::NoData | SnapshotMode::Recovery) => snap(false, false, o),
        (None, SnapshotMode::Never) => Start::StreamFromOldest,
    }
}

pub struct MySqlSourceTask {
    flavor: Flavor,
    cfg: Option<Arc<MySqlConfig>>,
    ctx: Option<SourceTaskContext>,
    rx: Option<crate::feed::FeedRx>,
    reader: Option<JoinHandle<()>>,
    leftover: VecDeque<SourceRecord>,
    /// The first start, until a record is handed over.
    start: Option<Start>,
    /// The offset of the last record handed to the worker.
    last: Option<BinlogOffset>,
    /// The server-settings warnings were logged (once per task, not again
    /// at each reconnect).
    warned: Arc<std::sync::atomic::AtomicBool>,
}

impl MySqlSourceTask {
    pub fn new(flavor: Flavor) -> Self {
        MySqlSourceTask {
            flavor,
            cfg: None,
            ctx: None,
            rx: None,
            reader: None,
            leftover: VecDeque::new(),
            start: None,
            last: None,
            warned: Default::default(),
        }
    }

    fn spawn(&mut self) {
        let (Some(cfg), Some(ctx)) = (self.cfg.clone(), self.ctx.clone()) else {
            return;
        };
        let start = match &self.last {
            Some(o) => plan_start(cfg.snapshot_mode, Some(o)),
            None => self
                .start
                .clone()
                .unwrap_or_else(|| snap(true, false, None)),
        };
        let (tx, rx) = crate::feed::queue(cfg.max_queue_size, cfg.max_queue_size_in_bytes);
        self.rx = Some(rx);
        let warned = self.warned.clone();
        self.reader = Some(tokio::spawn(async move {
            if let Err(e) = run(cfg, ctx, start, &tx, &warned).await {
                let _ = tx.send(Err(e)).await;
            }
        }));
    }
}

async fn run(
    cfg: Arc<MySqlConfig>,
    ctx: SourceTaskContext,
    start: Start,
    tx: &FeedTx,
    warned: &std::sync::atomic::AtomicBool,
) -> Result<(), TaskError> {
    // Server settings and the replica id first: a misconfigured server
    // or a clashing database.server.id fails the task before a snapshot
    // that could not be followed by streaming.
    {
        let mut c = Connection::connect(&cfg.connect_options())
            .await
            .map_err(TaskError::from)?;
        let settings = super::binlog::check_server(&mut c).await?;
        let warn = !warned.swap(true, std::sync::atomic::Ordering::Relaxed);
        if warn && !settings.row_metadata_full {
            // Not fatal (Debezium does not need it, and it is not the
            // servers' default), but without it column names and types
            // come from information_schema when an event is read, which
            // can be a later definition than the event's when the
            // connector is behind several DDLs of one table.
            tracing::warn!(connector = %ctx.connector, "binlog_row_metadata is not FULL on {}; set binlog_row_metadata=FULL so that each row event carries its own column names and types (rows read after later ALTER TABLEs of the same table can otherwise be decoded with the newer columns)", c.addr());
        }
        if warn && cfg.include_query {
            match super::binlog::statement_text_logged(&mut c).await? {
                Some((_, true)) => {}
                Some((name, false)) => {
                    tracing::warn!(connector = %ctx.connector, "include.query=true, but {name} is OFF on {}: changes will carry no source.query; set {name}=ON (SET GLOBAL {name}=ON and in the server config)", c.addr())
                }
                None => {
                    tracing::warn!(connector = %ctx.connector, "include.query=true, but {} logs no statement text (neither binlog_annotate_row_events nor binlog_rows_query_log_events exists): changes will carry no source.query", c.addr())
                }
            }
        }
        super::stream::check_server_id(&mut c, cfg.server_id).await?;
    }
    let (history, recovered) = SchemaHistory::open(&cfg.history, &cfg.topic_prefix).await?;
    if recovered && cfg.history != HistoryKind::Memory && matches!(start, Start::Stream(_)) {
        tracing::warn!(connector = %ctx.connector, "the schema history ({:?}) is missing, empty or damaged; rebuilding it from the current schema (recovery)", cfg.history);
    }
    let mut cap = Capture::new(cfg.clone(), history);
    let resumed = matches!(start, Start::Stream(_));
    let from = match start {
        Start::Stream(o) => o,
        Start::Snapshot {
            with_data,
            only,
            earlier,
        } => match snapshot(&mut cap, &ctx, with_data, earlier, tx).await? {
            None => return Ok(()),
            Some(pos) if only => {
                tracing::info!(connector = %ctx.connector, "snapshot.mode=initial_only: snapshot done at {pos}; not streaming");
                return Ok(());
            }
            Some(pos) => pos,
        },
        Start::Done => {
            tracing::info!(connector = %ctx.connector, "snapshot.mode=initial_only: the snapshot was completed before; nothing to stream");
            return Ok(());
        }
        Start::StreamFromOldest => {
            let mut c = Connection::connect(&cfg.connect_options())
                .await
                .map_err(TaskError::from)?;
            let rs = c.query("SHOW BINARY LOGS").await.map_err(TaskError::from)?;
            let file = rs.text(0, 0).unwrap_or("").to_string();
            BinlogOffset {
                file,
                pos: 4,
                ..Default::default()
            }
        }
    };
    if !resumed {
        mark_start(&cfg, &from, tx).await;
    } else if cfg.snapshot_mode == SnapshotMode::Recovery {
        super::snapshot::rebuild_history(&mut cap, &ctx, &from).await?;
    }
    match stream(&mut cap, from.clone(), tx).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_position_lost() && cfg.snapshot_mode == SnapshotMode::WhenNeeded => {
            tracing::warn!(connector = %ctx.connector, "{e}; snapshot.mode=when_needed: taking a new snapshot");
            let Some(pos) = snapshot(&mut cap, &ctx, true, None, tx).await? else {
                return Ok(());
            };
            mark_start(&cfg, &pos, tx).await;
            stream(&mut cap, pos, tx).await.map_err(TaskError::from)
        }
        Err(e) => Err(TaskError::from(e)),
    }
}

/// Makes the streaming start position durable before the first change (as
/// Debezium commits its snapshot's end offset): a task restarted or moved to
/// another worker before any change resumes here, instead of planning its
/// start afresh (which with snapshot.mode=no_data would skip the changes
/// made in between).
async fn mark_start(cfg: &MySqlConfig, from: &BinlogOffset, tx: &FeedTx) {
    let mut at = from.clone();
    at.snapshot = false;
    let mark = SourceRecord::offset_only(Arc::new(cfg.source_partition()), Arc::new(at.to_json()));
    let _ = tx.send(Ok(vec![mark])).await;
}

impl SourceTask for MySqlSourceTask {
    fn start(
        &mut self,
        props: Props,
        ctx: SourceTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let cfg = Arc::new(MySqlConfig::parse(&props, self.flavor)?);
            let stored = ctx.offsets.offset(&cfg.source_partition());
            let offset = match stored {
                Some(m) => Some(BinlogOffset::from_json(&m).map_err(|e| {
                    TaskError::Fatal(format!("the stored offset of {} is unreadable ({e}); reset it with DELETE /connectors/{}/offsets", cfg.topic_prefix, ctx.connector))
                })?),
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
                if let Ok(o) = BinlogOffset::from_json(off) {
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

    fn off(snapshot: bool) -> BinlogOffset {
        BinlogOffset {
            file: "b.000001".into(),
            pos: 100,
            snapshot,
            ..Default::default()
        }
    }

    #[test]
    fn start_follows_offset_and_snapshot_mode() {
        use SnapshotMode::*;
        assert_eq!(plan_start(Initial, None), snap(true, false, None));
        assert_eq!(
            plan_start(Initial, Some(&off(false))),
            Start::Stream(off(false))
        );
        // An incomplete snapshot is taken again, streaming from its position.
        assert_eq!(
            plan_start(Initial, Some(&off(true))),
            snap(true, false, Some(&off(true)))
        );
        assert_eq!(plan_start(WhenNeeded, None), snap(true, false, None));
        assert_eq!(plan_start(InitialOnly, None), snap(true, true, None));
        // initial_only never streams: not after a restart either.
        assert_eq!(plan_start(InitialOnly, Some(&off(false))), Start::Done);
        assert_eq!(
            plan_start(InitialOnly, Some(&off(true))),
            snap(true, true, Some(&off(true)))
        );
        assert_eq!(plan_start(NoData, None), snap(false, false, None));
        assert_eq!(plan_start(Never, None), Start::StreamFromOldest);
        assert_eq!(
            plan_start(Never, Some(&off(true))),
            Start::Stream(off(false))
        );
    }
}
