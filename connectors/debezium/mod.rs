//! What every Debezium-style source shares (Debezium's
//! `debezium-core`), so that the MySQL and MongoDB connectors say only
//! what differs:
//!
//! - [`config`]: the keys every source reads alike (snapshot.mode and its
//!   [`SnapshotMode`](config::SnapshotMode), tombstones.on.delete,
//!   skipped.operations, the heartbeat and queue keys), declared and parsed
//!   once;
//! - [`schema`]: the `source` block's common fields, the transaction block
//!   and BEGIN/END events, the heartbeat schemas, and topic naming;
//! - [`events`]: the operation codes and the heartbeat record;
//! - [`feed`]: the bounded hand-over from a reader to `SourceTask::poll`;
//! - [`progress`]: snapshot progress lines in the log, at a steady pace;
//! - [`task`]: the source task itself (start from the committed offset,
//!   spawn the reader, poll its batches, restart it after an error from the
//!   last offset handed over, stop), generic over a connector's
//!   [`Reader`](task::Reader);
//! - [`time`]: the wall clock and the calendar arithmetic of the events'
//!   dates.

pub mod config;
pub mod events;
pub mod feed;
pub mod incremental;
pub mod notify;
pub mod progress;
pub mod schema;
pub mod signal;
pub mod task;
pub mod time;
pub mod transaction;
