//! The hand-over between a connector's reader (a spawned task sending batches
//! of records over a bounded queue) and `SourceTask::poll`.
//!
//! Shared by the MySQL and MongoDB tasks. The queue is bounded as Debezium's
//! is: at most `max.queue.size` records, and, when `max.queue.size.in.bytes`
//! is set, at most that many bytes of records (estimated from their values),
//! counted per record whatever the batches look like. A reader that sends a
//! batch waits until the records before it leave the queue, so a slow broker
//! stops the read and memory does not grow with a transaction's size. A
//! batch larger than the whole bound waits for an empty queue and then goes.
//!
//! A poll takes what an earlier poll could not fit first, waits at most
//! `wait` for the first new batch (so poll returns within about a second),
//! then takes only what is already there. A reader error is handed over after
//! the records that came before it; the caller drops the receiver so the next
//! poll restarts the reader from the last committed position, and records
//! left over from before the error are dropped with it (they are read again).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use sluice_api::data::SourceRecord;
use sluice_api::TaskError;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

/// One message from a reader.
pub type Batch = Result<Vec<SourceRecord>, TaskError>;

/// What a batch holds of the queue's bound until poll takes it.
struct Msg {
    batch: Batch,
    records: u32,
    bytes: u32,
}

struct Bound {
    /// Transactions the reader saw committed, not yet taken by poll's end.
    commits: std::sync::atomic::AtomicU64,
    records: Semaphore,
    max_records: u32,
    /// `None`: no byte bound (`max.queue.size.in.bytes` = 0).
    bytes: Option<(Semaphore, u32)>,
}

/// The reader's end of the queue.
pub struct FeedTx {
    tx: mpsc::Sender<Msg>,
    bound: Arc<Bound>,
}

/// Poll's end of the queue.
pub struct FeedRx {
    rx: mpsc::Receiver<Msg>,
    bound: Arc<Bound>,
}

impl FeedRx {
    /// The queue's bound and the room left in it, in records (Debezium's
    /// `QueueTotalCapacity` and `QueueRemainingCapacity`).
    pub fn room(&self) -> (u64, u64) {
        (
            u64::from(self.bound.max_records),
            self.bound.records.available_permits() as u64,
        )
    }

    /// The queue's byte bound and the bytes queued now (Debezium's
    /// `MaxQueueSizeInBytes` and `CurrentQueueSizeInBytes`); (0, 0) when
    /// there is no byte bound.
    pub fn bytes(&self) -> (u64, u64) {
        match &self.bound.bytes {
            Some((sem, max)) => (
                u64::from(*max),
                u64::from(*max).saturating_sub(sem.available_permits() as u64),
            ),
            None => (0, 0),
        }
    }

    /// The transactions the reader saw committed since the last call.
    pub fn take_commits(&self) -> u64 {
        self.bound
            .commits
            .swap(0, std::sync::atomic::Ordering::Relaxed)
    }
}

/// The receiver is gone (the task stopped or restarts its reader).
#[derive(Debug)]
pub struct Closed;

/// A queue of at most `max_records` records and, when `max_bytes` > 0,
/// about `max_bytes` bytes of them.
pub fn queue(max_records: usize, max_bytes: u64) -> (FeedTx, FeedRx) {
    let cap = |n: u64| n.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u64) as u32;
    let max_records = cap(max_records as u64);
    let bytes = (max_bytes > 0).then(|| {
        let b = cap(max_bytes);
        (Semaphore::new(b as usize), b)
    });
    let bound = Arc::new(Bound {
        commits: Default::default(),
        records: Semaphore::new(max_records as usize),
        max_records,
        bytes,
    });
    // The bound is the semaphores'; the channel only has to hold as many
    // messages as there can be records.
    let (tx, rx) = mpsc::channel(max_records as usize);
    (
        FeedTx {
            tx,
            bound: bound.clone(),
        },
        FeedRx { rx, bound },
    )
}

impl FeedTx {
    /// Counts a transaction the source committed (Debezium's
    /// `NumberOfCommittedTransactions`).
    pub fn count_commit(&self) {
        self.bound
            .commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether poll's end is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queues a batch (or the reader's error), waiting while the queue is
    /// full.
    pub async fn send(&self, mut batch: Batch) -> Result<(), Closed> {
        // A batch grown by pushes has up to twice the room it uses; queued
        // records are what memory is bounded by, so the room is given back
        // (a shrinking realloc stays in place).
        if let Ok(v) = &mut batch {
            if v.capacity() > v.len() + v.len() / 4 {
                v.shrink_to_fit();
            }
        }
        let b = &self.bound;
        let (records, bytes) = match &batch {
            Ok(v) => {
                let records = (v.len().min(u32::MAX as usize) as u32).min(b.max_records);
                let bytes = match &b.bytes {
                    Some((_, max)) => {
                        let total: usize = v.iter().map(SourceRecord::approx_bytes).sum();
                        (total.min(u32::MAX as usize) as u32).min(*max)
                    }
                    None => 0,
                };
                (records, bytes)
            }
            Err(_) => (0, 0),
        };
        if records > 0 {
            b.records
                .acquire_many(records)
                .await
                .map_err(|_| Closed)?
                .forget();
        }
        if let (Some((sem, _)), true) = (&b.bytes, bytes > 0) {
            sem.acquire_many(bytes).await.map_err(|_| Closed)?.forget();
        }
        let msg = Msg {
            batch,
            records,
            bytes,
        };
        if let Err(mpsc::error::SendError(m)) = self.tx.send(msg).await {
            self.bound.release(&m);
            return Err(Closed);
        }
        Ok(())
    }
}

impl Bound {
    fn release(&self, m: &Msg) {
        self.records.add_permits(m.records as usize);
        if let Some((sem, _)) = &self.bytes {
            sem.add_permits(m.bytes as usize);
        }
    }
}

impl Drop for FeedRx {
    /// A reader waiting for room learns at once that nobody will take its
    /// records (the task stopped or restarts its reader).
    fn drop(&mut self) {
        self.bound.records.close();
        if let Some((sem, _)) = &self.bound.bytes {
            sem.close();
        }
    }
}

impl FeedRx {
    /// The next message; `None` once the reader is gone.
    pub async fn recv(&mut self) -> Option<Batch> {
        let m = self.rx.recv().await?;
        self.bound.release(&m);
        Some(m.batch)
    }

    fn try_recv(&mut self) -> Result<Batch, mpsc::error::TryRecvError> {
        let m = self.rx.try_recv()?;
        self.bound.release(&m);
        Ok(m.batch)
    }
}

/// Fails the task when its reader ended by panicking (a bug): the queue then
/// looks like a reader that finished (initial_only), and the task would
/// idle, RUNNING, capturing nothing. Call it when a poll found no record, so
/// that the records handed over before the panic are delivered first.
pub async fn check_reader(reader: &mut Option<JoinHandle<()>>) -> Result<(), TaskError> {
    if !reader.as_ref().is_some_and(|h| h.is_finished()) {
        return Ok(());
    }
    let Some(handle) = reader.take() else {
        return Ok(());
    };
    match handle.await {
        Err(e) if e.is_panic() => {
            let panic = e.into_panic();
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Err(TaskError::Fatal(format!(
                "the connector's reader crashed: {msg}. This is a bug in Sluice: please report it with the worker's log. Restarting the task (POST /connectors/<name>/tasks/<id>/restart) resumes from the last committed offset"
            )))
        }
        _ => Ok(()),
    }
}

/// Fills a batch of at most `max` records from `leftover` and `rx`. Sets
/// `*rx` to `None` when the reader failed; a finished reader leaves the
/// task idle.
pub async fn next_batch(
    rx: &mut Option<FeedRx>,
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
            // The reader's own vector becomes the batch when it fits: its
            // records are not copied one by one (a record is ~250 bytes);
            // a second message appended to it may still reallocate.
            Some(Ok(records)) if batch.is_empty() && records.len() <= max => batch = records,
            Some(Ok(records)) => {
                batch.reserve(records.len().min(max - batch.len()));
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
            // The reader finished (initial_only): idle. With nothing to
            // return, wait out the poll interval, or the worker would poll
            // a closed queue in a busy loop.
            None => {
                if batch.is_empty() {
                    tokio::time::sleep(wait).await;
                }
                break;
            }
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

    use sluice_api::data::{JsonMap, RecordData};

    use super::*;

    fn rec(offset: bool) -> SourceRecord {
        SourceRecord::new(
            Arc::new(JsonMap::new()),
            offset.then(|| Arc::new(JsonMap::new())),
            RecordData::default(),
        )
    }

    #[tokio::test]
    async fn the_queue_reports_its_bytes_and_the_commits_counted() {
        let (tx, rx) = queue(100, 0);
        assert_eq!(rx.bytes(), (0, 0), "no byte bound");
        let (tx2, mut rx2) = queue(100, 100_000);
        assert_eq!(rx2.bytes(), (100_000, 0));
        tx2.send(Ok(vec![rec(true), rec(true)])).await.unwrap();
        let queued = rx2.bytes().1;
        assert!(queued > 0, "{queued} bytes queued");
        rx2.recv().await.unwrap().unwrap();
        assert_eq!(rx2.bytes(), (100_000, 0), "taken: the bytes come back");
        tx.count_commit();
        tx.count_commit();
        assert_eq!(rx.take_commits(), 2);
        assert_eq!(rx.take_commits(), 0, "each commit counted once");
    }

    #[tokio::test]
    async fn a_batch_ends_on_a_record_with_an_offset() {
        let (tx, rx) = queue(100, 0);
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

    /// Whether `f` cannot finish yet: polled once, without waiting (a send
    /// with room finishes on its first poll).
    fn held_back<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        f.poll(&mut cx).is_pending()
    }

    #[tokio::test]
    async fn the_bound_counts_records_not_batches() {
        let (tx, rx) = queue(4, 0);
        for _ in 0..4 {
            tx.send(Ok(vec![rec(true)])).await.unwrap();
        }
        let mut rx = Some(rx);
        let mut leftover = VecDeque::new();
        let wait = Duration::from_millis(100);
        {
            // The fifth record waits until a poll takes some.
            let mut fifth = std::pin::pin!(tx.send(Ok(vec![rec(true)])));
            assert!(
                held_back(fifth.as_mut()),
                "a full queue holds the reader back"
            );
            let first = next_batch(&mut rx, &mut leftover, 2, wait).await.unwrap();
            assert_eq!(first.len(), 2);
            tokio::time::timeout(Duration::from_secs(5), fifth)
                .await
                .expect("the reader goes on once records left the queue")
                .unwrap();
        }
        // A batch larger than the whole bound waits for an empty queue, then goes.
        let big = tokio::spawn(async move { tx.send(Ok(vec![rec(true); 10])).await.unwrap() });
        let mut total = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while total < 3 + 10 {
            assert!(std::time::Instant::now() < deadline, "took {total} of 13");
            total += next_batch(&mut rx, &mut leftover, 100, wait)
                .await
                .unwrap()
                .len();
        }
        big.await.unwrap();
    }

    #[tokio::test]
    async fn a_reader_waiting_for_room_hears_that_the_queue_is_gone() {
        let (tx, rx) = queue(1, 0);
        tx.send(Ok(vec![rec(true)])).await.unwrap();
        let mut waiting = std::pin::pin!(tx.send(Ok(vec![rec(true)])));
        assert!(held_back(waiting.as_mut()), "the queue is full");
        drop(rx);
        let sent = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting send returns once the receiver is gone");
        assert!(sent.is_err());
    }

    #[tokio::test]
    async fn the_byte_bound_holds_the_reader_back() {
        let one = rec(true).approx_bytes() as u64;
        let (tx, rx) = queue(1000, one * 3);
        for _ in 0..3 {
            tx.send(Ok(vec![rec(true)])).await.unwrap();
        }
        let mut fourth = std::pin::pin!(tx.send(Ok(vec![rec(true)])));
        assert!(
            held_back(fourth.as_mut()),
            "three records' bytes fill the queue"
        );
        let mut rx = Some(rx);
        let mut leftover = VecDeque::new();
        let got = next_batch(&mut rx, &mut leftover, 1, Duration::from_millis(100))
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        tokio::time::timeout(Duration::from_secs(5), fourth)
            .await
            .expect("room for one more record")
            .unwrap();
    }

    /// Waits (bounded) until the spawned task has ended.
    async fn ended(h: &Option<JoinHandle<()>>) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !h.as_ref().unwrap().is_finished() {
            assert!(std::time::Instant::now() < deadline, "the task did not end");
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_reader_that_panicked_fails_the_task_and_one_that_finished_does_not() {
        let mut crashed: Option<JoinHandle<()>> = Some(tokio::spawn(async {
            let v: Vec<u8> = Vec::new();
            let _ = v[3];
        }));
        ended(&crashed).await;
        let err = check_reader(&mut crashed).await.unwrap_err();
        assert!(!err.is_retriable());
        assert!(
            err.to_string().contains("index out of bounds") && err.to_string().contains("bug"),
            "{err}"
        );
        let mut finished: Option<JoinHandle<()>> = Some(tokio::spawn(async {}));
        ended(&finished).await;
        assert!(check_reader(&mut finished).await.is_ok());
        let mut running: Option<JoinHandle<()>> = Some(tokio::spawn(std::future::pending()));
        assert!(check_reader(&mut running).await.is_ok());
        assert!(running.is_some(), "a running reader is kept");
    }

    #[tokio::test]
    async fn a_finished_reader_leaves_poll_idle_for_the_poll_interval() {
        let (tx, rx) = queue(10, 0);
        drop(tx);
        let mut rx = Some(rx);
        let mut leftover = VecDeque::new();
        let wait = Duration::from_millis(200);
        let started = std::time::Instant::now();
        let got = next_batch(&mut rx, &mut leftover, 10, wait).await.unwrap();
        assert!(got.is_empty());
        assert!(started.elapsed() >= wait, "returned at once: a busy loop");
        assert!(rx.is_some(), "a finished reader is not restarted");
    }
}
