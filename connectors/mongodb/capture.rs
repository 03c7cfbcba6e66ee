//! The capture plan, one for both capture modes: where a task starts
//! ([`plan_start`]), then the snapshot ([`super::snapshot`]) and the
//! follow: the change stream ([`super::stream`]) or, with
//! capture.mode=oplog, the oplog ([`super::oplog`]).
//!
//! Where a task starts: a committed offset without `initsync` streams from
//! it; an `initsync` offset (a snapshot that never completed) or no offset
//! snapshots as snapshot.mode says.
//!
//! Why snapshot, then follow, misses nothing: the position to follow from
//! ([`current_position`]: the change stream's post-batch resume token, or
//! the newest oplog entry's `ts`) is read before the snapshot reads any
//! collection, and the follow starts from exactly it once the snapshot is
//! done (see [`super::snapshot`]). A position lost from the server (the
//! oplog rolled past it) fails the task with the remedy, or under
//! snapshot.mode=when_needed takes a new snapshot and follows from there.

use std::sync::Arc;

use mongodb::Client;
use sluice_api::{SourceTaskContext, TaskError};

use super::config::{CaptureMode, MongoConfig};
use super::events::EventBuilder;
use super::offset::MongoOffset;
use super::snapshot::snapshot;
use super::stream::{task_error, StreamError};
use super::{oplog, stream};
use crate::debezium::config::SnapshotMode;
use crate::debezium::feed::FeedTx;

/// What the reader does first.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// Snapshot, then stream (unless `only`).
    Snapshot {
        only: bool,
    },
    Stream(MongoOffset),
    /// Stream from the current end of the change stream or oplog.
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
        // recovery is MySQL's mode: MongoDB's config refuses it.
        (_, SnapshotMode::Initial | SnapshotMode::WhenNeeded | SnapshotMode::Recovery) => {
            Start::Snapshot { only: false }
        }
        (_, SnapshotMode::InitialOnly) => Start::Snapshot { only: true },
        (None, SnapshotMode::Never | SnapshotMode::NoData) => Start::StreamFromNow,
    }
}

/// Runs the plan from `start`: snapshot as planned, then follow.
pub async fn run(
    cfg: Arc<MongoConfig>,
    ctx: SourceTaskContext,
    start: Start,
    tx: &FeedTx,
) -> Result<(), TaskError> {
    let client = Client::with_uri_str(&cfg.connection_string)
        .await
        .map_err(|e| task_error(&e, "connecting to MongoDB"))?;
    if cfg.capture_mode == CaptureMode::Oplog {
        oplog::require_replica_set(&client).await?;
    }
    let mut builder = EventBuilder::new(cfg.clone());
    let from = match start {
        Start::Stream(o) => o,
        Start::StreamFromNow => current_position(&client, &cfg).await.map_err(into_task)?,
        Start::Snapshot { only } => {
            let pos = snapshot_from_now(&client, &cfg, &mut builder, &ctx, tx).await?;
            if only {
                tracing::info!("snapshot.mode=initial_only: snapshot done; not streaming");
                return Ok(());
            }
            pos
        }
    };
    match follow(&client, &cfg, &mut builder, from, &ctx, tx).await {
        Ok(()) => Ok(()),
        Err(StreamError::PositionLost(msg))
            if cfg.common.snapshot_mode == SnapshotMode::WhenNeeded =>
        {
            tracing::warn!("{msg}; snapshot.mode=when_needed: taking a new snapshot");
            let pos = snapshot_from_now(&client, &cfg, &mut builder, &ctx, tx).await?;
            follow(&client, &cfg, &mut builder, pos, &ctx, tx)
                .await
                .map_err(into_task)
        }
        Err(e) => Err(into_task(e)),
    }
}

/// The current end of what the capture mode follows.
async fn current_position(client: &Client, cfg: &MongoConfig) -> Result<MongoOffset, StreamError> {
    if cfg.capture_mode == CaptureMode::Oplog {
        oplog::current_position(client).await
    } else {
        stream::current_position(client, cfg).await
    }
}

/// Records the current position, then snapshots; returns the position.
async fn snapshot_from_now(
    client: &Client,
    cfg: &Arc<MongoConfig>,
    builder: &mut EventBuilder,
    ctx: &SourceTaskContext,
    tx: &FeedTx,
) -> Result<MongoOffset, TaskError> {
    let pos = current_position(client, cfg).await.map_err(into_task)?;
    snapshot(client, cfg, builder, ctx, pos, tx)
        .await
        .map_err(into_task)
}

/// Follows the change stream, or the oplog, from `from`.
async fn follow(
    client: &Client,
    cfg: &Arc<MongoConfig>,
    builder: &mut EventBuilder,
    from: MongoOffset,
    ctx: &SourceTaskContext,
    tx: &FeedTx,
) -> Result<(), StreamError> {
    if cfg.capture_mode == CaptureMode::Oplog {
        oplog::tail(client, cfg, builder, from, tx).await
    } else {
        stream::stream(client, cfg, builder, from, ctx, tx).await
    }
}

fn into_task(e: StreamError) -> TaskError {
    match e {
        StreamError::PositionLost(m) | StreamError::ReplyTooLarge(m) => TaskError::Fatal(m),
        StreamError::Task(t) => t,
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
