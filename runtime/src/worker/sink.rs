//! The sink task loop: consumer → converters → transforms → put → flush →
//! commit.
//!
//! Why no record is lost: consumer offsets are committed only after the
//! task's `flush` returned, and only up to the records handed to `put`
//! before that flush. A crash before the commit redelivers those records
//! (at-least-once); nothing is committed that the sink did not make durable.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers as _, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::chain::{Chain, Converters};
use super::metrics::TaskMetrics;
use super::{backoff, wait_while_paused, ErrorCounts, ErrorPolicy, TaskEnv, TaskShared, TaskSpec};
use crate::config::{split_list, sub_map};
use crate::data::{Headers, RecordData, SinkRecord};
use crate::herder::{State, TargetState};
use crate::kafka::admin::TopicSettings;
use crate::kafka::{client_config, make_headers, OutRecord, TaskProducer};
use crate::plugin::{RecordError, RecordErrorKind, SinkTask, SinkTaskContext, TaskError};

/// The consumer group of a sink connector, as Kafka Connect names it.
pub fn group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

pub(super) async fn run(
    env: TaskEnv,
    spec: TaskSpec,
    mut control: watch::Receiver<TargetState>,
    shared: Arc<TaskShared>,
) -> Result<(), String> {
    let props = &spec.connector_config;
    let class = props.get("connector.class").cloned().unwrap_or_default();
    let connector = env.registry.sink(&class).map_err(|e| e.to_string())?;
    let mut task: Box<dyn SinkTask> = connector.create_task();
    let chain = Chain::build(&env.registry, props).map_err(|e| e.to_string())?;
    let converters =
        Converters::build(&env.registry, &env.worker, props).map_err(|e| e.to_string())?;
    let policy = ErrorPolicy::from_props(props)?.counting(shared.errors.clone());

    let mut settings = BTreeMap::from([
        ("group.id".to_string(), group_id(&spec.connector)),
        ("enable.auto.commit".to_string(), "false".to_string()),
        ("auto.offset.reset".to_string(), "earliest".to_string()),
        ("enable.partition.eof".to_string(), "false".to_string()),
        // A subscribed topic that does not exist yet (the source creating it
        // has not written) is seen at the next metadata refresh: librdkafka's
        // default of 5 minutes would leave the sink idle that long.
        (
            "topic.metadata.refresh.interval.ms".to_string(),
            "3000".to_string(),
        ),
        // As the Java consumer does by default.
        ("allow.auto.create.topics".to_string(), "true".to_string()),
        // No static membership (group.instance.id) by default, as in Kafka
        // Connect: a static member does not leave the group when it closes,
        // so a stopped connector's group would keep it for the session
        // timeout and refuse offset changes. Users may still set
        // consumer.override.group.instance.id.
    ]);
    settings.extend(env.worker.consumer_overrides());
    settings.extend(sub_map(props, "consumer.override."));
    let consumer: Arc<BaseConsumer> = Arc::new(
        client_config(&env.worker.bootstrap_servers, &settings)?
            .create()
            .map_err(|e| {
                format!("cannot create the Kafka consumer: {e}; check the consumer.* settings")
            })?,
    );
    let topics = split_list(props.get("topics").map(String::as_str).unwrap_or(""));
    let regex = props
        .get("topics.regex")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let subscription: Vec<String> = match &regex {
        Some(r) => vec![if r.starts_with('^') {
            r.clone()
        } else {
            format!("^{r}")
        }],
        None => topics.clone(),
    };
    if subscription.is_empty() {
        return Err("a sink connector needs topics or topics.regex; set one of them".into());
    }
    let subs: Vec<&str> = subscription.iter().map(String::as_str).collect();
    consumer
        .subscribe(&subs)
        .map_err(|e| format!("cannot subscribe to {}: {e}", subscription.join(",")))?;
    for t in &topics {
        (env.on_topic)(&spec.connector, t);
    }

    let ctx = SinkTaskContext {
        connector: spec.connector.clone(),
        task_id: spec.task,
    };
    let mut attempt = 0;
    loop {
        if *control.borrow() == TargetState::Stopped {
            return Ok(());
        }
        match task.start(spec.task_config.clone(), ctx.clone()).await {
            Ok(()) => break,
            Err(e) if e.is_retriable() => {
                let _ = tokio::time::timeout(backoff(attempt), control.changed()).await;
                attempt += 1;
            }
            Err(e) => return Err(e.to_string()),
        }
    }

    let batch_max: usize = props
        .get("consumer.override.max.poll.records")
        .or_else(|| env.worker.props.get("consumer.max.poll.records"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let flush_every = Duration::from_millis(env.worker.offset_flush_interval_ms);
    let mut last_flush = Instant::now();
    // Next offset to commit, per topic-partition, for records already put.
    let mut pending: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut seen_topics = std::collections::HashSet::new();
    let mut paused_assignment = false;
    // Messages that polls made while paused returned: delivered on resume.
    let mut held: Vec<Msg> = Vec::new();

    let mut dlq = DeadLetterQueue::open(&env, props).await?;
    let result: Result<(), String> = async {
        loop {
            if !env.may_act() {
                return Err(super::LEASE_LOST.to_string());
            }
            let target = *control.borrow();
            if target != TargetState::Running {
                if target == TargetState::Paused && !paused_assignment {
                    if let Some(dlq) = dlq.as_mut() {
                        dlq.settle().await?;
                    }
                    flush_and_commit(task.as_mut(), &consumer, &mut pending, &shared.metrics).await?;
                    if let Ok(a) = consumer.assignment() {
                        let _ = consumer.pause(&a);
                    }
                    paused_assignment = true;
                }
                if target == TargetState::Stopped {
                    return Ok(());
                }
                shared.set_state(State::Paused, None);
                // Keep the group membership alive while paused.
                let c = consumer.clone();
                let polled = tokio::task::spawn_blocking(move || poll_paused(&c))
                    .await
                    .map_err(|e| format!("consumer poll panicked: {e}"))??;
                held.extend(polled);
                let _ = tokio::time::timeout(Duration::from_millis(500), control.changed()).await;
                continue;
            }
            if paused_assignment {
                if let Ok(a) = consumer.assignment() {
                    let _ = consumer.resume(&a);
                    // Held messages of partitions a rebalance took away
                    // during the pause are the new owner's to deliver.
                    let owned: std::collections::HashSet<(String, i32)> = a
                        .elements()
                        .iter()
                        .map(|e| (e.topic().to_string(), e.partition()))
                        .collect();
                    held.retain(|m| owned.contains(&(m.topic.clone(), m.partition)));
                }
                paused_assignment = false;
                if !wait_while_paused(&mut control, &shared).await {
                    return Ok(());
                }
            }
            let batch = if held.is_empty() {
                let c = consumer.clone();
                tokio::task::spawn_blocking(move || poll_batch(&c, batch_max))
                    .await
                    .map_err(|e| format!("consumer poll panicked: {e}"))??
            } else {
                // What a paused poll returned goes first, in the order it came.
                std::mem::take(&mut held)
            };
            if !batch.is_empty() {
                TaskMetrics::add(&shared.metrics.sink_record_read_total, batch.len() as u64);
                let mut records = Vec::with_capacity(batch.len());
                // The batch as consumed, for records the task reports errant.
                let mut consumed: Vec<Msg> = Vec::new();
                for m in batch {
                    pending.insert((m.topic.clone(), m.partition), m.offset + 1);
                    if seen_topics.insert(m.topic.clone()) {
                        (env.on_topic)(&spec.connector, &m.topic);
                    }
                    let mut failure = None;
                    let converted = policy
                        .retry(&mut control, || {
                            convert(&converters, &chain, &m).map_err(|f| {
                                let e = RecordError {
                                    message: f.message.clone(),
                                    kind: f.kind,
                                };
                                failure = Some(f);
                                e
                            })
                        })
                        .await;
                    match converted.map_err(|_| failure.take()) {
                        Ok(Some(r)) => records.push(r),
                        Ok(None) => {}
                        Err(None) => unreachable!("a failed conversion records its failure"),
                        Err(Some(f)) => {
                            if f.kind == RecordErrorKind::Task {
                                return Err(format!("{}\nThe error is fatal to the task (errors.tolerance does not apply)", f.message));
                            }
                            policy.count_error(policy.tolerate_all);
                            if !policy.tolerate_all {
                                return Err(format!("{}\nTolerance exceeded in error handler (errors.tolerance=none); set errors.tolerance=all to skip bad records", f.message));
                            }
                            if policy.log {
                                // Kafka Connect's LogReporter: the consumed
                                // record's topic, partition, offset and
                                // timestamp with errors.log.include.messages.
                                let record = if policy.logs_records() {
                                    format!(
                                        "; consumed record is {{topic='{}', partition={}, offset={}, timestamp={}}}",
                                        m.topic,
                                        m.partition,
                                        m.offset,
                                        m.timestamp.unwrap_or(-1)
                                    )
                                } else {
                                    String::new()
                                };
                                tracing::warn!("skipping a record (errors.tolerance=all): {}{record}", f.message);
                            }
                            if let Some(dlq) = dlq.as_mut() {
                                dlq.send(&m, &f, &spec.connector, spec.task).await?;
                                ErrorCounts::add(&policy.counts.dlq_requests);
                            }
                        }
                    }
                    if dlq.is_some() {
                        consumed.push(m);
                    }
                }
                let n = records.len() as u64;
                shared.metrics.batch(n);
                put_with_retry(task.as_mut(), records, &mut control).await?;
                TaskMetrics::add(&shared.metrics.sink_record_send_total, n);
                // Records the task skipped (KIP-610's errant record reporter).
                for e in task.take_errant() {
                    policy.count_error(true);
                    let Some(dlq) = dlq.as_mut() else { continue };
                    let Some(m) = consumed.iter().find(|m| {
                        m.topic == e.topic && m.partition == e.partition && m.offset == e.offset
                    }) else {
                        return Err(format!(
                            "the task reported record {}-{}@{} errant, which was not in the batch it was given",
                            e.topic, e.partition, e.offset
                        ));
                    };
                    let f = Failure {
                        stage: "TASK_PUT",
                        class: "org.apache.kafka.connect.errors.ConnectException",
                        message: e.message,
                        kind: RecordErrorKind::Data,
                    };
                    dlq.send(m, &f, &spec.connector, spec.task).await?;
                    ErrorCounts::add(&policy.counts.dlq_requests);
                }
            }
            if last_flush.elapsed() >= flush_every {
                if let Some(dlq) = dlq.as_mut() {
                    dlq.settle().await?;
                }
                flush_and_commit(task.as_mut(), &consumer, &mut pending, &shared.metrics).await?;
                last_flush = Instant::now();
            }
        }
    }
    .await;
    let commit = if result.is_ok() {
        match dlq.as_mut() {
            Some(d) => d.settle().await,
            None => Ok(()),
        }?;
        flush_and_commit(task.as_mut(), &consumer, &mut pending, &shared.metrics).await
    } else {
        Ok(())
    };
    task.stop().await;
    consumer.unsubscribe();
    // Close the consumer (it leaves the group) before the task says it
    // stopped: a STOPPED connector's offsets may be altered at once, and the
    // broker refuses a commit to a group that still has this member.
    let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
    result?;
    commit?;
    shared.set_state(State::Stopped, None);
    Ok(())
}

/// One consumed message, owned.
struct Msg {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Msg {
    fn of(m: &rdkafka::message::BorrowedMessage<'_>) -> Msg {
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        Msg {
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: m.offset(),
            timestamp: m.timestamp().to_millis(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers,
        }
    }
}

/// Polls up to `max` messages: waits up to 500 ms for the first, then takes
/// what is already there.
fn poll_batch(consumer: &BaseConsumer, max: usize) -> Result<Vec<Msg>, String> {
    let mut out = Vec::new();
    let mut timeout = Duration::from_millis(500);
    while out.len() < max {
        match consumer.poll(timeout) {
            None => break,
            Some(Err(e)) => {
                fatal_consumer_error(&e)?;
                // Transient consumer errors (broker restart) are logged; the
                // client reconnects by itself.
                tracing::warn!("consumer error: {e}");
                break;
            }
            Some(Ok(m)) => {
                out.push(Msg::of(&m));
                timeout = Duration::from_millis(0);
            }
        }
    }
    Ok(out)
}

/// One poll of a paused task, which keeps its group membership alive. The
/// whole assignment is paused again first, since a rebalance during the
/// pause hands over partitions that were never paused (and a task created
/// paused has none when it first pauses). A message that still comes back
/// (fetched before its partition was paused) is returned, for the caller to
/// hold and deliver on resume: dropping it would commit past it later.
fn poll_paused(consumer: &BaseConsumer) -> Result<Option<Msg>, String> {
    if let Ok(a) = consumer.assignment() {
        let _ = consumer.pause(&a);
    }
    match consumer.poll(Duration::from_millis(0)) {
        Some(Ok(m)) => Ok(Some(Msg::of(&m))),
        Some(Err(e)) => {
            fatal_consumer_error(&e)?;
            tracing::warn!("consumer error: {e}");
            Ok(None)
        }
        None => Ok(None),
    }
}

/// `Err(trace)` for a consumer error that no retry heals (the task must
/// fail, as Kafka Connect's does when `poll` throws it), with the remedy;
/// `Ok` for one the client recovers from by itself (a broker restart).
fn fatal_consumer_error(e: &KafkaError) -> Result<(), String> {
    use rdkafka::types::RDKafkaErrorCode as C;
    let remedy = match e.rdkafka_error_code() {
        Some(
            C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed,
        ) => {
            "grant the connector's principal READ on its topics and on its consumer group \
             (connect-<connector name>), or correct the consumer.override.* credentials, then \
             restart the task"
        }
        Some(C::SaslAuthenticationFailed) => {
            "correct the worker's consumer.sasl.* / consumer.override.sasl.* settings, then \
             restart the task"
        }
        Some(C::FencedInstanceId) => {
            "another consumer uses the same group.instance.id: give each task its own (or \
             remove consumer.override.group.instance.id), then restart the task"
        }
        _ if matches!(e, KafkaError::MessageConsumptionFatal(_)) => {
            "the consumer cannot go on; fix the cause above, then restart the task"
        }
        _ => return Ok(()),
    };
    Err(format!(
        "the sink's consumer failed for good: {e}. Remedy: {remedy}"
    ))
}

/// Why a record could not be handed to the task: the stage (as Kafka
/// Connect names it in `__connect.errors.stage`) and the message.
struct Failure {
    stage: &'static str,
    class: &'static str,
    message: String,
    kind: RecordErrorKind,
}

fn convert(converters: &Converters, chain: &Chain, m: &Msg) -> Result<Option<SinkRecord>, Failure> {
    let at = format!("{}-{}@{}", m.topic, m.partition, m.offset);
    let mut headers = Headers::new();
    for (k, v) in &m.headers {
        let sv = converters
            .header
            .to_connect_header(&m.topic, k, v.as_deref())
            .map_err(|e| Failure {
                stage: "HEADER_CONVERTER",
                class: "header.converter",
                message: format!("header converter failed for header {k} at {at}: {e}"),
                kind: e.kind,
            })?;
        headers.add(k.clone(), sv.schema, sv.value);
    }
    let key = converters
        .key
        .to_connect(&m.topic, &headers, m.key.as_deref())
        .map_err(|e| Failure {
            stage: "KEY_CONVERTER",
            class: "key.converter",
            message: format!("key converter failed at {at}: {e}"),
            kind: e.kind,
        })?;
    let value = converters
        .value
        .to_connect(&m.topic, &headers, m.value.as_deref())
        .map_err(|e| Failure {
            stage: "VALUE_CONVERTER",
            class: "value.converter",
            message: format!("value converter failed at {at}: {e}"),
            kind: e.kind,
        })?;
    let data = RecordData {
        topic: m.topic.as_str().into(),
        kafka_partition: Some(m.partition),
        key_schema: key.schema,
        key: key.value,
        value_schema: value.schema,
        value: value.value,
        timestamp: m.timestamp,
        headers,
        kafka_offset: Some(m.offset),
    };
    let data = match chain.apply(data).map_err(|e| Failure {
        stage: "TRANSFORMATION",
        class: "transforms",
        message: format!("{} at {at}", e.message),
        kind: e.kind,
    })? {
        Some(d) => d,
        None => return Ok(None),
    };
    Ok(Some(SinkRecord {
        data,
        kafka_offset: m.offset,
        original_topic: m.topic.clone(),
        original_partition: m.partition,
    }))
}

/// `errors.deadletterqueue.topic.name`: records that failed conversion or a
/// transform go there as they were read (key, value and headers bytes), with
/// Kafka Connect's `__connect.errors.*` headers when
/// `errors.deadletterqueue.context.headers.enable=true`. Consumer offsets
/// are committed past such a record only after the DLQ write was acked.
struct DeadLetterQueue {
    topic: String,
    producer: TaskProducer,
    context_headers: bool,
    next_seq: u64,
}

impl DeadLetterQueue {
    async fn open(
        env: &TaskEnv,
        props: &crate::plugin::Props,
    ) -> Result<Option<DeadLetterQueue>, String> {
        let topic = match props
            .get("errors.deadletterqueue.topic.name")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            Some(t) => t.to_string(),
            None => return Ok(None),
        };
        let rf: i32 = props
            .get("errors.deadletterqueue.topic.replication.factor")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(3);
        let settings = TopicSettings {
            partitions: 1,
            replication_factor: rf,
            configs: Default::default(),
        };
        env.admin
            .ensure_topic(&topic, &settings)
            .await
            .map_err(|e| format!("dead letter queue topic {topic}: {e}"))?;
        let mut producer_settings = env.worker.producer_overrides();
        producer_settings.extend(sub_map(props, "producer.override."));
        let producer = TaskProducer::new(&env.worker.bootstrap_servers, &producer_settings)
            .map_err(|e| e.to_string())?;
        let context_headers = props
            .get("errors.deadletterqueue.context.headers.enable")
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
            .unwrap_or(false);
        Ok(Some(DeadLetterQueue {
            topic,
            producer,
            context_headers,
            next_seq: 0,
        }))
    }

    async fn send(
        &mut self,
        m: &Msg,
        f: &Failure,
        connector: &str,
        task: u32,
    ) -> Result<(), String> {
        let mut headers = m.headers.clone();
        if self.context_headers {
            let ctx: [(&str, String); 8] = [
                ("__connect.errors.topic", m.topic.clone()),
                ("__connect.errors.partition", m.partition.to_string()),
                ("__connect.errors.offset", m.offset.to_string()),
                ("__connect.errors.connector.name", connector.to_string()),
                ("__connect.errors.task.id", task.to_string()),
                ("__connect.errors.stage", f.stage.to_string()),
                ("__connect.errors.class.name", f.class.to_string()),
                ("__connect.errors.exception.message", f.message.clone()),
            ];
            for (k, v) in ctx {
                headers.push((k.to_string(), Some(v.into_bytes())));
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.producer
            .send(
                OutRecord {
                    topic: &self.topic,
                    partition: None,
                    key: m.key.as_deref(),
                    value: m.value.as_deref(),
                    headers: make_headers(&headers),
                    timestamp: m.timestamp,
                },
                seq,
            )
            .await
            .map_err(|e| format!("cannot write to the dead letter queue {}: {e}", self.topic))
    }

    /// Waits until every DLQ record is acked; a failed one fails the task.
    async fn settle(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut acked = 0u64;
        loop {
            let (ok, failed) = self.producer.acks.drain();
            if let Some((_, e)) = failed.first() {
                return Err(format!(
                    "a record could not be written to the dead letter queue {}: {e}",
                    self.topic
                ));
            }
            acked += ok.len() as u64;
            if acked >= self.next_seq {
                self.next_seq = 0;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the dead letter queue {} did not acknowledge within 60 s",
                    self.topic
                ));
            }
            self.producer.acks.wait(Duration::from_millis(50)).await;
        }
    }
}

async fn put_with_retry(
    task: &mut dyn SinkTask,
    records: Vec<SinkRecord>,
    control: &mut watch::Receiver<TargetState>,
) -> Result<(), String> {
    let mut attempt = 0;
    loop {
        match task.put(records.clone()).await {
            Ok(()) => return Ok(()),
            Err(TaskError::Retriable(e)) => {
                tracing::warn!("put failed, retrying: {e}");
                let _ = tokio::time::timeout(backoff(attempt), control.changed()).await;
                attempt += 1;
                if *control.borrow() == TargetState::Stopped {
                    return Err(format!("stopped while retrying a failed put: {e}"));
                }
            }
            Err(TaskError::Fatal(e)) => return Err(e),
        }
    }
}

async fn flush_and_commit(
    task: &mut dyn SinkTask,
    consumer: &Arc<BaseConsumer>,
    pending: &mut BTreeMap<(String, i32), i64>,
    metrics: &TaskMetrics,
) -> Result<(), String> {
    // Kafka Connect times a sink's commit from its flush on.
    let started = std::time::Instant::now();
    task.flush()
        .await
        .map_err(|e| format!("flush failed: {e}"))?;
    if pending.is_empty() {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in pending.iter() {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o))
            .map_err(|e| format!("bad offset for {t}-{p}: {e}"))?;
    }
    let c = consumer.clone();
    let res = tokio::task::spawn_blocking(move || c.commit(&tpl, CommitMode::Sync))
        .await
        .map_err(|e| format!("commit panicked: {e}"))?;
    metrics.commit_took(started.elapsed().as_millis() as u64);
    match res {
        Ok(()) => {
            pending.clear();
            TaskMetrics::add(&metrics.offset_commit_completion_total, 1);
        }
        // A failed commit (rebalance, broker restart) is retried at the next
        // flush; the records are redelivered at worst.
        Err(e) => {
            TaskMetrics::add(&metrics.offset_commit_skip_total, 1);
            tracing::warn!("consumer offset commit failed, will retry: {e}")
        }
    }
    Ok(())
}
