//! The source task loop: poll → transforms → converters → producer, and
//! offset commits that never run ahead of the broker.
//!
//! Why no record is lost: a record's source offset enters the commit only
//! once the broker acknowledged it and every earlier record of its source
//! partition (see `submitted`). Offsets are written to the offset store
//! before the task is told they were committed. After a crash the task
//! resumes from the last committed offset, so a record is at worst sent
//! twice (at-least-once), never skipped. Filtered records count as done at
//! once. A delivery that fails for good fails the task without committing
//! past the failed record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::chain::{Chain, Converters};
use super::config::WorkerConfig;
use super::metrics::TaskMetrics;
use super::submitted::SubmittedRecords;
use super::{backoff, wait_while_paused, ErrorCounts, ErrorPolicy, TaskEnv, TaskShared, TaskSpec};
use crate::config::sub_map;
use crate::data::JsonMap;
use crate::herder::{State, TargetState};
use crate::kafka::admin::TopicSettings;
use crate::kafka::{make_headers, OutRecord, TaskProducer};
use crate::plugin::{RecordError, SourceTask, SourceTaskContext};
use crate::store::{offset_key, ConnectorOffsets};

/// Runs one source task until it is stopped. `Err` is the FAILED trace.
pub(super) async fn run(
    env: TaskEnv,
    spec: TaskSpec,
    mut control: watch::Receiver<TargetState>,
    shared: Arc<TaskShared>,
) -> Result<(), String> {
    let props = &spec.connector_config;
    let class = props.get("connector.class").cloned().unwrap_or_default();
    let connector = env.registry.source(&class).map_err(|e| e.to_string())?;
    let mut task: Box<dyn SourceTask> = connector.create_task();
    let chain = Chain::build(&env.registry, props).map_err(|e| e.to_string())?;
    let converters =
        Converters::build(&env.registry, &env.worker, props).map_err(|e| e.to_string())?;
    let policy = ErrorPolicy::from_props(props)?.counting(shared.errors.clone());
    let mut producer_settings = env.worker.producer_overrides();
    producer_settings.extend(sub_map(props, "producer.override."));
    let eos = Eos::from_config(&env, &spec, &mut producer_settings)?;
    let producer = TaskProducer::new(&env.worker.bootstrap_servers, &producer_settings)
        .map_err(|e| e.to_string())?;
    if eos.is_some() {
        // Fences an earlier instance of this task (a worker that lost it
        // but still runs it) and aborts what it left open.
        producer
            .init_transactions(TRANSACTION_TIMEOUT)
            .map_err(|e| e.to_string())?;
    }
    let mut topic_props = sub_map(&env.worker.props, "topic.creation.default.");
    topic_props.extend(sub_map(props, "topic.creation.default."));
    let topic_settings = TopicSettings::from_props(&topic_props)?;

    env.offsets
        .prepare(&spec.connector, props)
        .await
        .map_err(|e| e.to_string())?;
    let ctx = SourceTaskContext {
        connector: spec.connector.clone(),
        task_id: spec.task,
        offsets: Arc::new(ConnectorOffsets {
            connector: spec.connector.clone(),
            store: env.offsets.clone(),
        }),
        progress: shared.progress.clone(),
    };

    // Start, retrying what a retry can fix.
    let mut attempt = 0;
    loop {
        if *control.borrow() == TargetState::Stopped {
            return Ok(());
        }
        match task.start(spec.task_config.clone(), ctx.clone()).await {
            Ok(()) => break,
            Err(e) if e.is_retriable() => {
                tracing::warn!("start failed, retrying: {e}");
                let _ = tokio::time::timeout(backoff(attempt), control.changed()).await;
                attempt += 1;
            }
            Err(e) => return Err(e.to_string()),
        }
    }

    let mut lp = Loop {
        env: &env,
        spec: &spec,
        chain,
        converters,
        policy,
        producer,
        topic_settings,
        submitted: SubmittedRecords::new(),
        key_buf: Vec::with_capacity(256),
        value_buf: Vec::with_capacity(4096),
        flush_every: Duration::from_millis(env.worker.offset_flush_interval_ms),
        last_commit: Instant::now(),
        unwritten: Vec::new(),
        latency_marks: Default::default(),
        seen_topics: std::collections::HashSet::new(),
        last_topic: "".into(),
        eos,
        shared: &shared,
    };
    let result = lp.run(task.as_mut(), &mut control, &shared).await;
    if lp.eos.is_some() {
        // What the last transaction held is committed (or the task fails);
        // an aborted one is sent again from the committed offsets.
        let end = match &result {
            Ok(()) => lp.end_transaction(task.as_mut(), true).await,
            Err(_) => lp.end_transaction(task.as_mut(), false).await,
        };
        task.stop().await;
        result?;
        end?;
        shared.set_state(State::Stopped, None);
        return Ok(());
    }
    // Whatever happened, commit what the broker has acknowledged.
    lp.drain_acks(Duration::from_millis(
        env.worker
            .props
            .get("offset.flush.timeout.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000),
    ))
    .await;
    let commit = lp.commit(task.as_mut()).await;
    task.stop().await;
    result?;
    commit?;
    shared.set_state(State::Stopped, None);
    Ok(())
}

struct Loop<'a> {
    env: &'a TaskEnv,
    spec: &'a TaskSpec,
    chain: Chain,
    converters: Converters,
    policy: ErrorPolicy,
    producer: TaskProducer,
    topic_settings: TopicSettings,
    submitted: SubmittedRecords,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    flush_every: Duration,
    last_commit: Instant,
    /// Offsets whose write to the store failed (a full disk, say): written
    /// with the next commit unless a later offset of the same partition
    /// replaces them.
    unwritten: Vec<(JsonMap, JsonMap)>,
    seen_topics: std::collections::HashSet<String>,
    /// The topic of the record before (most follow one of the same table):
    /// spares hashing its name once per record. A connector's records
    /// usually share one `Arc`, compared by pointer first.
    last_topic: Arc<str>,
    /// Exactly-once delivery: the open transaction (None: at least once).
    eos: Option<Eos>,
    /// For the commit→ack histogram: the sequence number of each batch's
    /// newest record that carries a source time, and that time (ms).
    latency_marks: std::collections::BTreeMap<u64, i64>,
    /// Status and metrics, shared with the worker.
    shared: &'a TaskShared,
}

/// How long librdkafka may take to commit or abort a transaction, and the
/// broker to hold one open.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// The transactional id of a source task under exactly-once delivery, as
/// Kafka Connect names it: `<group.id>-<connector>-<task>`.
fn transactional_id(worker: &WorkerConfig, connector: &str, task: usize) -> String {
    let group = worker.group_id.as_deref().unwrap_or_default();
    format!("{group}-{connector}-{task}")
}

/// Kafka Connect's fencing round for a source connector whose task count
/// shrank under exactly-once delivery: each removed task's transactional id
/// gets a new epoch (and its open transaction is aborted), so an instance of
/// it still running on some worker (a zombie that missed the rebalance) can
/// commit nothing more. The tasks that remain fence their own predecessors
/// when they start. Blocks: call it off the async threads' hot path.
pub fn fence_removed_tasks(
    worker: &WorkerConfig,
    connector: &str,
    removed: std::ops::Range<usize>,
) -> Result<(), String> {
    for task in removed {
        let id = transactional_id(worker, connector, task);
        let mut settings = worker.producer_overrides();
        settings.insert("transactional.id".into(), id.clone());
        let producer = TaskProducer::new(&worker.bootstrap_servers, &settings)
            .map_err(|e| format!("cannot fence task {task} ({id}): {e}"))?;
        producer
            .init_transactions(TRANSACTION_TIMEOUT)
            .map_err(|e| format!("cannot fence task {task} ({id}): {e}"))?;
        tracing::info!(
            connector,
            task,
            "fenced the removed task's transactional id {id}"
        );
    }
    Ok(())
}

/// Exactly-once delivery (KIP-618, a distributed worker with
/// `exactly.once.source.support=enabled`): the task's records and its
/// source offsets go to Kafka in one transaction per boundary (each poll,
/// or each `transaction.boundary.interval.ms`), written by the task's own
/// transactional producer (id `<group.id>-<connector>-<task>`, as Kafka
/// Connect names it) into the offset topic. A crash or a fenced zombie
/// leaves its open transaction to be aborted, so a read_committed consumer
/// sees each record once, and the task resumes from the offsets committed
/// with the last records it delivered.
struct Eos {
    offsets_topic: String,
    interval: Option<Duration>,
    open: bool,
    opened_at: Instant,
    /// The latest offset of each source partition in the open transaction.
    pending: std::collections::BTreeMap<String, (Arc<JsonMap>, Arc<JsonMap>)>,
}

impl Eos {
    fn from_config(
        env: &TaskEnv,
        spec: &TaskSpec,
        producer: &mut std::collections::BTreeMap<String, String>,
    ) -> Result<Option<Eos>, String> {
        if !env.worker.exactly_once_enabled() {
            return Ok(None);
        }
        let props = &spec.connector_config;
        // The connector's own offset topic when it names one (KIP-618): the
        // transactions write its offsets there; the store reads it first.
        let offsets_topic = crate::store::connector_offsets::own_topic(props)
            .map(str::to_string)
            .or_else(|| env.worker.props.get("offset.storage.topic").cloned())
            .ok_or("exactly-once delivery needs the worker's offset.storage.topic")?;
        let interval = match props
            .get("transaction.boundary")
            .map(|b| b.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("poll") => None,
            Some("interval") => Some(Duration::from_millis(
                props
                    .get("transaction.boundary.interval.ms")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(env.worker.offset_flush_interval_ms),
            )),
            Some(other) => {
                return Err(format!(
                    "transaction.boundary={other} is not supported; use poll or interval"
                ))
            }
        };
        producer.insert(
            "transactional.id".into(),
            transactional_id(&env.worker, &spec.connector, spec.task as usize),
        );
        let ms = TRANSACTION_TIMEOUT.as_millis().to_string();
        producer
            .entry("transaction.timeout.ms".into())
            .or_insert(ms.clone());
        // librdkafka holds a record no longer than its transaction.
        producer.insert("message.timeout.ms".into(), ms);
        Ok(Some(Eos {
            offsets_topic,
            interval,
            open: false,
            opened_at: Instant::now(),
            pending: Default::default(),
        }))
    }
}

impl Loop<'_> {
    async fn run(
        &mut self,
        task: &mut dyn SourceTask,
        control: &mut watch::Receiver<TargetState>,
        shared: &TaskShared,
    ) -> Result<(), String> {
        let mut attempt = 0u32;
        loop {
            if !self.env.may_act() {
                return Err(super::LEASE_LOST.to_string());
            }
            if *control.borrow() != TargetState::Running {
                if *control.borrow() == TargetState::Paused {
                    self.drain_acks(Duration::from_secs(5)).await;
                    self.commit(task).await?;
                }
                if !wait_while_paused(control, shared).await {
                    return Ok(());
                }
            }
            self.process_acks()?;
            if self.last_commit.elapsed() >= self.flush_every {
                self.commit(task).await?;
            }
            let batch = match task.poll().await {
                Ok(b) => {
                    attempt = 0;
                    b
                }
                Err(e) if e.is_retriable() => {
                    tracing::warn!("poll failed, retrying: {e}");
                    let _ = tokio::time::timeout(backoff(attempt), control.changed()).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(e.to_string()),
            };
            if let Some(eos) = self.eos.as_mut() {
                if !batch.is_empty() && !eos.open {
                    self.producer
                        .begin_transaction()
                        .map_err(|e| e.to_string())?;
                    eos.open = true;
                    eos.opened_at = Instant::now();
                }
                for rec in &batch {
                    if let Some(off) = &rec.source_offset {
                        let key = offset_key(&self.spec.connector, &rec.source_partition);
                        eos.pending
                            .insert(key, (rec.source_partition.clone(), off.clone()));
                    }
                }
            }
            let batch_done = !batch.is_empty();
            if batch_done {
                let n = batch.len() as u64;
                TaskMetrics::add(&self.shared.metrics.source_record_poll_total, n);
                self.shared.metrics.batch(n);
            }
            let mut written = 0u64;
            // The batch's last record, when it has a source time: its ack
            // is timed (one look per batch, none per record: a snapshot's
            // records have no source time).
            let timed = batch
                .last()
                .filter(|_| super::metrics::recording())
                .and_then(|r| r.source_offset.as_deref())
                .and_then(super::metrics::source_time_ms)
                .map(|ms| (batch.len() - 1, ms));
            for (i, rec) in batch.into_iter().enumerate() {
                let seq = self
                    .submitted
                    .submit(&rec.source_partition, rec.source_offset.clone());
                let mark = timed.filter(|(at, _)| *at == i).map(|(_, ms)| ms);
                if rec.is_offset_only() {
                    self.submitted.ack(seq);
                    continue;
                }
                // errors.log.include.messages logs the record as the task
                // gave it: a copy, paid only when that is configured.
                let kept = self.policy.logs_records().then(|| rec.clone());
                let applied = if self.policy.retries() {
                    // A retry needs the record again: one copy per record,
                    // paid only when errors.retry.timeout is set.
                    let (chain, input) = (&self.chain, rec.data);
                    self.policy
                        .retry(control, || chain.apply(input.clone()))
                        .await
                } else {
                    let applied = self.chain.apply(rec.data);
                    if applied.is_err() {
                        ErrorCounts::add(&self.policy.counts.record_failures);
                    }
                    applied
                };
                let data = match applied {
                    Ok(Some(d)) => d,
                    Ok(None) => {
                        self.submitted.ack(seq);
                        continue;
                    }
                    Err(e) => {
                        self.tolerate(seq, &e, kept.as_ref())?;
                        continue;
                    }
                };
                // Marked before the send: its ack is read only after it.
                if let Some(ms) = mark {
                    self.latency_marks.insert(seq, ms);
                }
                match self.send(data, seq, control).await {
                    Ok(()) => written += 1,
                    Err(SendError::Record(e)) => {
                        // Never acknowledged: its mark goes now.
                        self.latency_marks.remove(&seq);
                        self.tolerate(seq, &e, kept.as_ref())?
                    }
                    Err(SendError::Fatal(msg)) => return Err(msg),
                }
            }
            TaskMetrics::add(&self.shared.metrics.source_record_write_total, written);
            let boundary = match &self.eos {
                Some(e) if e.open => match e.interval {
                    None => batch_done,
                    Some(i) => e.opened_at.elapsed() >= i,
                },
                _ => false,
            };
            if boundary {
                self.end_transaction(task, true).await?;
            }
        }
    }

    /// Ends the open transaction: its source offsets are written into it
    /// and it commits (`commit`), or it is aborted.
    async fn end_transaction(
        &mut self,
        task: &mut dyn SourceTask,
        commit: bool,
    ) -> Result<(), String> {
        let Some(eos) = self.eos.as_mut() else {
            return Ok(());
        };
        if !eos.open {
            return Ok(());
        }
        eos.open = false;
        let pending = std::mem::take(&mut eos.pending);
        if !commit {
            return self
                .producer
                .abort_transaction(TRANSACTION_TIMEOUT)
                .map_err(|e| e.to_string());
        }
        if !self.env.may_act() {
            let _ = self.producer.abort_transaction(TRANSACTION_TIMEOUT);
            return Err(super::LEASE_LOST.to_string());
        }
        let topic = eos.offsets_topic.clone();
        for (key, (_, offset)) in &pending {
            let value = serde_json::to_vec(&**offset).map_err(|e| e.to_string())?;
            let out = OutRecord {
                topic: &topic,
                partition: None,
                key: Some(key.as_bytes()),
                value: Some(&value),
                headers: None,
                timestamp: None,
            };
            // Offset records are not the task's: no sequence of its own.
            self.producer
                .send(out, u64::MAX)
                .await
                .map_err(|e| e.to_string())?;
        }
        let started = Instant::now();
        let committed = self.producer.commit_transaction(TRANSACTION_TIMEOUT);
        self.shared
            .metrics
            .commit_took(started.elapsed().as_millis() as u64);
        if let Err(e) = committed {
            TaskMetrics::add(&self.shared.metrics.offset_commit_skip_total, 1);
            let _ = self.producer.abort_transaction(TRANSACTION_TIMEOUT);
            return Err(format!(
                "{e}; the transaction was aborted and the task resumes from the offsets of the last one committed"
            ));
        }
        TaskMetrics::add(&self.shared.metrics.offset_commit_completion_total, 1);
        // Every record of the transaction is delivered: what at-least-once
        // would have committed is done, and its bookkeeping is dropped.
        self.process_acks()?;
        let _ = self.submitted.take_committable();
        self.last_commit = Instant::now();
        let offsets: Vec<(JsonMap, JsonMap)> = pending
            .into_values()
            .map(|(p, o)| ((*p).clone(), (*o).clone()))
            .collect();
        self.env
            .offsets
            .committed_in_transaction(&self.spec.connector, &offsets)
            .await;
        if let Err(e) = task.commit(&offsets).await {
            tracing::warn!(connector = %self.spec.connector, "task commit hook failed: {e}");
        }
        Ok(())
    }

    /// Applies `errors.tolerance` to a record that failed a transform or
    /// converter (after its retries): skip it, or fail the task.
    fn tolerate(
        &mut self,
        seq: u64,
        e: &RecordError,
        record: Option<&crate::data::SourceRecord>,
    ) -> Result<(), String> {
        if e.is_fatal() {
            return Err(format!(
                "{}\nThe error is fatal to the task (errors.tolerance does not apply)",
                e.message
            ));
        }
        self.policy.count_error(self.policy.tolerate_all);
        if self.policy.tolerate_all {
            if self.policy.log {
                // Kafka Connect's LogReporter: the source record's key,
                // value, headers, timestamp, topic, partition, source
                // partition and offset with errors.log.include.messages.
                let record = record
                    .map(|r| {
                        let d = &r.data;
                        format!(
                            "; source record is SourceRecord{{sourcePartition={}, sourceOffset={}, topic='{}', kafkaPartition={:?}, keySchema={:?}, key={:?}, valueSchema={:?}, value={:?}, timestamp={:?}, headers={:?}}}",
                            serde_json::Value::Object((*r.source_partition).clone()),
                            r.source_offset.as_ref().map(|o| serde_json::Value::Object((**o).clone())).unwrap_or_default(),
                            d.topic, d.kafka_partition, d.key_schema, d.key, d.value_schema, d.value, d.timestamp, d.headers
                        )
                    })
                    .unwrap_or_default();
                tracing::warn!(
                    "skipping a record (errors.tolerance=all): {}{record}",
                    e.message
                );
            }
            self.submitted.ack(seq);
            Ok(())
        } else {
            Err(format!(
                "{}\nTolerance exceeded in error handler (errors.tolerance=none); set errors.tolerance=all to skip bad records",
                e.message
            ))
        }
    }

    async fn send(
        &mut self,
        mut data: crate::data::RecordData,
        seq: u64,
        control: &mut watch::Receiver<TargetState>,
    ) -> Result<(), SendError> {
        let topic = data.topic.as_ref();
        let same_topic = Arc::ptr_eq(&data.topic, &self.last_topic) || topic == &*self.last_topic;
        if !same_topic && !self.seen_topics.contains(topic) {
            let mut attempt = 0;
            loop {
                match self
                    .env
                    .admin
                    .ensure_topic(topic, &self.topic_settings)
                    .await
                {
                    Ok(()) => break,
                    Err(crate::kafka::KafkaError::Retriable(e)) if attempt < 20 => {
                        tracing::warn!("{e}; retrying");
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                    }
                    Err(e) => return Err(SendError::Fatal(e.to_string())),
                }
            }
            self.seen_topics.insert(topic.to_string());
            (self.env.on_topic)(&self.spec.connector, topic);
        }
        if !Arc::ptr_eq(&data.topic, &self.last_topic) {
            // Equal names in another `Arc` too: the next record of this
            // connector then takes the pointer path.
            self.last_topic = data.topic.clone();
        }
        let (c, key_buf, value_buf) = (&self.converters, &mut self.key_buf, &mut self.value_buf);
        let (has_key, has_value, headers) = self
            .policy
            .retry(control, || convert(c, &mut data, key_buf, value_buf))
            .await
            .map_err(SendError::Record)?;
        let out = OutRecord {
            topic: &data.topic,
            partition: data.kafka_partition,
            key: has_key.then_some(self.key_buf.as_slice()),
            value: has_value.then_some(self.value_buf.as_slice()),
            headers: make_headers(&headers),
            timestamp: data.timestamp,
        };
        self.producer
            .send(out, seq)
            .await
            .map_err(|e| SendError::Fatal(e.to_string()))
    }

    /// Applies delivery reports; a failed delivery fails the task.
    fn process_acks(&mut self) -> Result<(), String> {
        let (acked, failed) = self.producer.acks.drain();
        if let Some(&lowest) = self.latency_marks.keys().next() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            // Per ack one comparison: the records before a batch's mark
            // are most of them.
            let mut lowest = lowest;
            for s in &acked {
                if *s < lowest {
                    continue;
                }
                if let Some(at) = self.latency_marks.remove(s) {
                    self.shared
                        .metrics
                        .commit_to_ack
                        .observe_ms((now - at).max(0) as u64);
                    lowest = self
                        .latency_marks
                        .keys()
                        .next()
                        .copied()
                        .unwrap_or(u64::MAX);
                }
            }
            // A record whose send failed (skipped under errors.tolerance)
            // is never acknowledged: keep the marks bounded.
            while self.latency_marks.len() > 1024 {
                self.latency_marks.pop_first();
            }
        }
        for s in acked {
            self.submitted.ack(s);
        }
        // Drop acknowledged prefixes now, not at the next offset flush:
        // otherwise every record's offset of a whole flush interval stays
        // queued (tens of MB at 100k records/s with 1 s flushes).
        self.submitted.advance();
        if let Some((_, reason)) = failed.first() {
            return Err(format!(
                "the broker did not accept a record: {reason}; the task stops without committing past it, and resumes from the last committed offset when restarted"
            ));
        }
        Ok(())
    }

    /// Waits (bounded) until everything sent is acknowledged.
    async fn drain_acks(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let _ = self.process_acks();
            self.submitted.advance();
            if self.submitted.in_flight() == 0 || Instant::now() >= deadline {
                return;
            }
            self.producer.acks.wait(Duration::from_millis(50)).await;
        }
    }

    /// Writes committable offsets to the store, then tells the task (at
    /// least once; with exactly-once delivery offsets go with their
    /// transaction, see [`Loop::end_transaction`]).
    async fn commit(&mut self, task: &mut dyn SourceTask) -> Result<(), String> {
        self.last_commit = Instant::now();
        if self.eos.is_some() {
            return self.end_transaction(task, true).await;
        }
        if !self.env.may_act() {
            return Err(super::LEASE_LOST.to_string());
        }
        let _ = self.process_acks();
        let mut offsets = std::mem::take(&mut self.unwritten);
        crate::store::overlay(&mut offsets, self.submitted.take_committable());
        if offsets.is_empty() {
            return Ok(());
        }
        let store = self.env.offsets.clone();
        let connector = self.spec.connector.clone();
        let entries: Vec<_> = offsets
            .iter()
            .map(|(p, o)| (p.clone(), Some(o.clone())))
            .collect();
        let started = Instant::now();
        let done = tokio::task::spawn_blocking(move || store.put(&connector, entries))
            .await
            .map_err(|e| format!("offset commit panicked: {e}"))?;
        let m = &self.shared.metrics;
        m.commit_took(started.elapsed().as_millis() as u64);
        match &done {
            Ok(()) => TaskMetrics::add(&m.offset_commit_completion_total, 1),
            Err(_) => TaskMetrics::add(&m.offset_commit_skip_total, 1),
        }
        if let Err(e) = done {
            // As Kafka Connect: a failed offset flush is logged and retried
            // at the next one; the task goes on (its records are in Kafka,
            // and a restart before a flush succeeds re-sends, never skips).
            tracing::error!(
                "cannot commit source offsets, retrying at the next flush \
                 (offset.flush.interval.ms); a restart until then sends the \
                 records since the last committed offset again: {e}"
            );
            self.unwritten = offsets;
            return Ok(());
        }
        if let Err(e) = task.commit(&offsets).await {
            tracing::warn!("task commit hook failed: {e}");
        }
        Ok(())
    }
}

enum SendError {
    /// This record could not be converted: subject to errors.tolerance.
    Record(RecordError),
    Fatal(String),
}

/// Key and value bytes (whether each is present) and header bytes of a
/// record, by the connector's converters.
type Converted = (bool, bool, Vec<(std::sync::Arc<str>, Option<Vec<u8>>)>);

fn convert(
    c: &Converters,
    data: &mut crate::data::RecordData,
    key_buf: &mut Vec<u8>,
    value_buf: &mut Vec<u8>,
) -> Result<Converted, RecordError> {
    let topic = data.topic.as_ref();
    key_buf.clear();
    let has_key = c
        .key
        .from_connect(
            topic,
            &mut data.headers,
            data.key_schema.as_ref(),
            &data.key,
            key_buf,
        )
        .map_err(|e| e.map_message(|m| format!("key converter failed for topic {topic}: {m}")))?;
    value_buf.clear();
    let has_value = c
        .value
        .from_connect(
            topic,
            &mut data.headers,
            data.value_schema.as_ref(),
            &data.value,
            value_buf,
        )
        .map_err(|e| e.map_message(|m| format!("value converter failed for topic {topic}: {m}")))?;
    let mut headers = Vec::with_capacity(data.headers.len());
    for h in data.headers.iter() {
        let bytes = c
            .header
            .from_connect_header(topic, &h.key, h.schema.as_ref(), &h.value)
            .map_err(|e| {
                e.map_message(|m| format!("header converter failed for header {}: {m}", h.key))
            })?;
        headers.push((h.key.clone(), bytes));
    }
    Ok((has_key, has_value, headers))
}
