//! The connector and its reader: where a task starts, and the reader that
//! runs the snapshot and the binlog stream in the background (the task
//! around it, its queue and its restarts are
//! [`ReaderTask`](crate::debezium::task::ReaderTask)'s).
//!
//! Where a task starts ([`plan_start`]): a committed offset without the
//! `snapshot` flag streams from it; a `snapshot` offset (a snapshot that
//! never completed) or no offset takes the snapshot as snapshot.mode says.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sluice_api::data::{JsonMap, SourceRecord};
use sluice_api::{
    BoxFuture, ConfigDef, ConfigError, Props, SourceConnector, SourceTask, SourceTaskContext,
    TaskError,
};

use super::config::{config_def, Flavor, HistoryKind, MySqlConfig};
use super::history::SchemaHistory;
use super::offset::BinlogOffset;
use super::protocol::Connection;
use super::snapshot::snapshot;
use super::stream::{stream, Capture};
use crate::debezium::config::{CommonConfig, SnapshotMode};
use crate::debezium::feed::FeedTx;
use crate::debezium::task::{validate, Reader, ReaderTask};

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
        validate(
            MySqlConfig::parse(props, self.flavor).map(|_| ()),
            &config_def(),
        )
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
        Box::new(MySqlSourceTask::with_reader(MySqlReader::new(self.flavor)))
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
        // always: a new snapshot at every start, streaming from its position.
        (Some(o), SnapshotMode::Always) if !o.snapshot => snap(true, false, None),
        (Some(o), _) if !o.snapshot => Start::Stream(o.clone()),
        (Some(o), SnapshotMode::Never) => Start::Stream(BinlogOffset {
            snapshot: false,
            ..o.clone()
        }),
        (o, SnapshotMode::Initial | SnapshotMode::WhenNeeded | SnapshotMode::Always) => {
            snap(true, false, o)
        }
        (o, SnapshotMode::InitialOnly) => snap(true, true, o),
        (o, SnapshotMode::NoData | SnapshotMode::Recovery) => snap(false, false, o),
        (None, SnapshotMode::Never) => Start::StreamFromOldest,
    }
}

/// The MySQL/MariaDB source task.
pub type MySqlSourceTask = ReaderTask<MySqlReader>;

/// The binlog connector's [`Reader`].
#[derive(Clone)]
pub struct MySqlReader {
    flavor: Flavor,
    /// The server-settings warnings were logged (once per task, not again
    /// at each reconnect).
    warned: Arc<AtomicBool>,
}

impl MySqlReader {
    pub fn new(flavor: Flavor) -> Self {
        MySqlReader {
            flavor,
            warned: Default::default(),
        }
    }
}

impl Reader for MySqlReader {
    type Config = MySqlConfig;
    type Offset = BinlogOffset;
    type Start = Start;

    fn parse(&self, props: &Props) -> Result<MySqlConfig, ConfigError> {
        MySqlConfig::parse(props, self.flavor)
    }

    fn common(cfg: &MySqlConfig) -> &CommonConfig {
        &cfg.common
    }

    fn plan(cfg: &MySqlConfig, ctx: &SourceTaskContext) -> Result<Start, TaskError> {
        let offset = match ctx.offsets.offset(&cfg.source_partition()) {
            Some(m) => Some(BinlogOffset::from_json(&m).map_err(|e| {
                TaskError::Fatal(format!("the stored offset of {} is unreadable ({e}); reset it with DELETE /connectors/{}/offsets", cfg.topic_prefix, ctx.connector))
            })?),
            None => None,
        };
        Ok(plan_start(cfg.common.snapshot_mode, offset.as_ref()))
    }

    fn offset(m: &JsonMap) -> Option<BinlogOffset> {
        BinlogOffset::from_json(m).ok()
    }

    fn resume(cfg: &MySqlConfig, last: &BinlogOffset) -> Option<Start> {
        // A reconnect within the task goes on from where it was: always
        // snapshots at a start of the task, not at each reconnect.
        let mode = match cfg.common.snapshot_mode {
            SnapshotMode::Always => SnapshotMode::Initial,
            m => m,
        };
        Some(plan_start(mode, Some(last)))
    }

    fn read<'a>(
        &'a self,
        cfg: Arc<MySqlConfig>,
        ctx: SourceTaskContext,
        start: Start,
        tx: &'a FeedTx,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(run(cfg, ctx, start, tx, &self.warned))
    }
}

async fn run(
    cfg: Arc<MySqlConfig>,
    ctx: SourceTaskContext,
    start: Start,
    tx: &FeedTx,
    warned: &AtomicBool,
) -> Result<(), TaskError> {
    // Server settings and the replica id first: a misconfigured server
    // or a clashing database.server.id fails the task before a snapshot
    // that could not be followed by streaming.
    {
        let mut c = Connection::connect(&cfg.connect_options())
            .await
            .map_err(TaskError::from)?;
        let settings = super::binlog::check_server(&mut c).await?;
        let warn = !warned.swap(true, Ordering::Relaxed);
        if warn && !settings.row_metadata_full {
            // Not fatal (Debezium does not need it, and it is not the
            // servers' default): the schema model gives names and types,
            // but a DDL it cannot read is read from information_schema.
            tracing::warn!("binlog_row_metadata is not FULL on {}; column names and types come from the schema model, which reads information_schema for the DDL it cannot read (rows behind such a DDL can then be decoded with a later definition); set binlog_row_metadata=FULL so that each row event carries its own", c.addr());
        }
        if warn && cfg.include_query {
            match super::binlog::statement_text_logged(&mut c).await? {
                Some((_, true)) => {}
                Some((name, false)) => {
                    tracing::warn!("include.query=true, but {name} is OFF on {}: changes will carry no source.query; set {name}=ON (SET GLOBAL {name}=ON and in the server config)", c.addr())
                }
                None => {
                    tracing::warn!("include.query=true, but {} logs no statement text (neither binlog_annotate_row_events nor binlog_rows_query_log_events exists): changes will carry no source.query", c.addr())
                }
            }
        }
        super::stream::check_server_id(&mut c, cfg.server_id).await?;
    }
    let (history, recovered) = SchemaHistory::open(&cfg.history, &cfg.topic_prefix).await?;
    // Offsets without their history: the definitions in force at the
    // offset are not known. Rebuilding them from today's tables would
    // decode the rows after any later DDL wrongly, so the task fails with
    // Debezium's remedy unless the user asked for the recovery.
    if recovered
        && cfg.history != HistoryKind::Memory
        && matches!(start, Start::Stream(_))
        && cfg.common.snapshot_mode != SnapshotMode::Recovery
    {
        return Err(TaskError::Fatal(format!(
            "the schema history ({}) is missing, empty or damaged, but the connector has offsets: the table definitions in force at its offset are not known. Set snapshot.mode=recovery to rebuild the history from the current tables (right if no DDL ran on them since the offset; set snapshot.mode back once the task runs), or delete the connector's offsets (PATCH/DELETE /connectors/{}/offsets while it is stopped) to take a new snapshot",
            cfg.history.describe(),
            ctx.connector
        )));
    }
    let mut cap = Capture::new(cfg.clone(), history);
    cap.progress = Some(ctx.clone());
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
                tracing::info!("snapshot.mode=initial_only: snapshot done at {pos}; not streaming");
                return Ok(());
            }
            Some(pos) => pos,
        },
        Start::Done => {
            tracing::info!(
                "snapshot.mode=initial_only: the snapshot was completed before; nothing to stream"
            );
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
    } else if cfg.common.snapshot_mode == SnapshotMode::Recovery {
        super::snapshot::rebuild_history(&mut cap, &ctx, &from).await?;
    }
    match stream(&mut cap, from.clone(), tx).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_position_lost() && cfg.common.snapshot_mode == SnapshotMode::WhenNeeded => {
            tracing::warn!("{e}; snapshot.mode=when_needed: taking a new snapshot");
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
        // always: a snapshot at every start, a new position after it.
        assert_eq!(plan_start(Always, None), snap(true, false, None));
        assert_eq!(
            plan_start(Always, Some(&off(false))),
            snap(true, false, None)
        );
        assert_eq!(
            plan_start(Always, Some(&off(true))),
            snap(true, false, Some(&off(true)))
        );
        assert_eq!(plan_start(Never, None), Start::StreamFromOldest);
        assert_eq!(
            plan_start(Never, Some(&off(true))),
            Start::Stream(off(false))
        );
    }
}
