//! The hand-over between a connector's reader (a spawned task sending batches
//! of records over a bounded channel) and `SourceTask::poll`.
//!
//! Shared by the MySQL and MongoDB tasks. A poll takes what an earlier poll
//! could not fit first, waits at most `wait` for the first new batch (so
//! poll returns within about a second), then takes only what is already
//! there. A reader error is handed over after the records that came before
//! it; the caller drops the receiver so the next poll restarts the reader
//! from the last committed position, and records left over from before the
//! error are dropped with it (they are read again).

use std::collections::VecDeque;
use std::time::Duration;

use sluice_runtime::data::SourceRecord;
use sluice_runtime::TaskError;
use tokio::sync::mpsc;

/// One message from a reader.
pub type Batch = Result<Vec<SourceRecord>, TaskError>;

/// Fills a batch of at most `max` records from `leftover` and `rx`. Sets
/// `*rx` to `None` when the reader failed; a finished reader leaves the
/// task idle.
pub async fn next_batch(
    rx: &mut Option<mpsc::Receiver<Batch>>,
    leftover: &mut VecDeque<SourceRecord>,
    max: usize,
    wait: Duration,
) -> Result<Vec<SourceRecord>, TaskError> {
    let mut batch: Vec<SourceRecord> = Vec::new();
    while batch.len() < max {
        match leftover.pop_front() {
            Some(r) => batch.push(r),
            None => break,
        }
    }
    let Some(chan) = rx.as_mut() else {
        return Ok(batch);
    };
    let mut first = batch.is_empty();
    while batch.len() < max {
        let msg = if first {
            first = false;
            match tokio::time::timeout(wait, chan.recv()).await {
                Ok(m) => m,
                Err(_) => break,
            }
        } else {
            match chan.try_recv() {
                Ok(m) => Some(m),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            }
        };
        match msg {
            Some(Ok(records)) => {
                for r in records {
                    if batch.len() < max {
                        batch.push(r);
                    } else {
                        leftover.push_back(r);
                    }
                }
            }
            Some(Err(e)) => {
                *rx = None;
                leftover.clear();
                if !batch.is_empty() {
                    break;
                }
                return Err(e);
            }
            // The reader finished (initial_only): idle.
            None => break,
        }
    }
    // A batch ends on a record with an offset (the task restarts its reader
    // from the last one handed over): records without one (the MySQL
    // stream sets offsets at row-event ends) go with the batch, at most the
    // rest of one reader message over `max`.
    while batch.last().is_some_and(|r| r.source_offset.is_none()) {
        match leftover.pop_front() {
            Some(r) => batch.push(r),
            None => break,
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_runtime::data::{JsonMap, RecordData};

    use super::*;

    fn rec(offset: bool) -> SourceRecord {
        SourceRecord::new(
            Arc::new(JsonMap::new()),
            offset.then(|| Arc::new(JsonMap::new())),
            RecordData::default(),
        )
    }

    #[tokio::test]
    async fn a_batch_ends_on_a_record_with_an_offset() {
        let (tx, rx) = mpsc::channel(4);
        // One reader message: an event of five rows, offset on the last.
        let event = vec![rec(false), rec(false), rec(false), rec(false), rec(true)];
        tx.send(Ok(event)).await.unwrap();
        tx.send(Ok(vec![rec(false), rec(true)])).await.unwrap();
        let mut rx = Some(rx);
        let mut leftover = VecDeque::new();
        let wait = Duration::from_millis(100);
        let first = next_batch(&mut rx, &mut leftover, 2, wait).await.unwrap();
        assert_eq!(first.len(), 5, "past max to the event's offset record");
        assert!(first.last().unwrap().source_offset.is_some());
        let second = next_batch(&mut rx, &mut leftover, 2, wait).await.unwrap();
        assert_eq!(second.len(), 2);
        assert!(second.last().unwrap().source_offset.is_some());
    }
}
