//! The oplog capture mode (capture.mode=oplog): not built yet.

use std::sync::Arc;

use sluice_runtime::{SourceTaskContext, TaskError};
use tokio::sync::mpsc;

use super::config::MongoConfig;
use super::stream::Batch;
use super::task::Start;

/// Refuses to run until the oplog reader lands.
pub async fn run(
    _cfg: Arc<MongoConfig>,
    _ctx: SourceTaskContext,
    _start: Start,
    _tx: &mpsc::Sender<Batch>,
) -> Result<(), TaskError> {
    Err(TaskError::Fatal(
        "capture.mode=oplog is not available in this build yet; use capture.mode=change_streams_update_full (the default)".into(),
    ))
}
