//! A compacted internal topic read from the start and kept in memory: the
//! distributed workers' config, offset and status topics (Kafka Connect's
//! `KafkaBasedLog`).
//!
//! A reader thread consumes every partition from the beginning (no consumer
//! group: each worker reads everything) and hands each record to the
//! owner's callback. [`KafkaLog::read_to_end`] waits until the reader has
//! applied everything up to the high watermarks taken when it was called,
//! which gives read-your-writes: a worker that wrote a record and then read
//! to the end sees its own write.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::Notify;

use super::admin::{TopicAdmin, TopicSettings};
use super::{client_config, KafkaError};

/// Called with (partition, offset, key, value) for every record, in order
/// within a partition.
pub type Apply = Box<dyn FnMut(i32, i64, Option<&[u8]>, Option<&[u8]>) + Send>;

/// One internal topic.
pub struct KafkaLog {
    topic: String,
    consumer: Arc<BaseConsumer>,
    producer: FutureProducer,
    partitions: i32,
    /// Next offset to apply, per partition.
    positions: Arc<Mutex<Vec<i64>>>,
    applied: Arc<Notify>,
    stop: Arc<AtomicBool>,
    reader: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl KafkaLog {
    /// Creates the topic when missing (compacted), then starts reading it
    /// from the beginning. Returns once the reader is running.
    pub async fn open(
        bootstrap: &str,
        admin: &TopicAdmin,
        topic: &str,
        partitions: i32,
        replication_factor: i32,
        overrides: &BTreeMap<String, String>,
        apply: Apply,
    ) -> Result<Arc<KafkaLog>, KafkaError> {
        let settings = TopicSettings {
            partitions,
            replication_factor,
            configs: BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]),
        };
        admin.ensure_topic(topic, &settings).await?;
        // A topic made by hand with another policy would expire configs
        // and offsets: refuse it, as Kafka Connect does. A topic created a
        // moment ago (by this worker or another) may be described without
        // its configs yet: ask again for a while; a policy never seen is
        // not refused, only logged.
        let mut policy = None;
        for attempt in 0..20u32 {
            policy = admin.topic_configs(topic).await?.remove("cleanup.policy");
            if policy.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(5) + 1))).await;
        }
        match policy.as_deref().map(str::trim) {
            None => tracing::warn!("cannot read the cleanup.policy of topic {topic}; it must be compact"),
            Some("compact") => {}
            Some(policy) => return Err(KafkaError::Fatal(format!(
                "topic {topic} has cleanup.policy={policy}; the worker's internal topics must be compacted only, or old records expire and configs and offsets are lost. Set cleanup.policy=compact on it (kafka-configs.sh --alter --entity-type topics --entity-name {topic} --add-config cleanup.policy=compact) or point the property at a new topic, which the worker creates compacted"
            ))),
        }
        let mut producer_cfg = BTreeMap::from([
            ("acks".to_string(), "all".to_string()),
            ("enable.idempotence".to_string(), "true".to_string()),
            ("partitioner".to_string(), "murmur2_random".to_string()),
            ("linger.ms".to_string(), "0".to_string()),
        ]);
        // A write the broker cannot take fails after 30 s (as Kafka
        // Connect's internal stores give up), not librdkafka's 5 minutes:
        // a status or config write then neither holds its caller nor
        // answers a REST request minutes late.
        if !overrides.contains_key("delivery.timeout.ms")
            && !overrides.contains_key("message.timeout.ms")
        {
            // librdkafka wants it above linger.ms.
            let linger: u64 = ["linger.ms", "queue.buffering.max.ms"]
                .iter()
                .find_map(|k| overrides.get(*k)?.trim().parse().ok())
                .unwrap_or(0);
            let ms = 30_000u64.max(linger.saturating_add(30_000));
            producer_cfg.insert("message.timeout.ms".to_string(), ms.to_string());
        }
        producer_cfg.extend(overrides.clone());
        let producer: FutureProducer = client_config(bootstrap, &producer_cfg)
            .map_err(KafkaError::Fatal)?
            .create()
            .map_err(|e| KafkaError::Fatal(format!("cannot create a producer for {topic}: {e}")))?;
        // The reader reaches the cluster as the writer does.
        let mut consumer_cfg = crate::kafka::security_settings(overrides);
        consumer_cfg.extend([
            ("group.id".to_string(), format!("sluice-log-reader-{topic}")),
            ("enable.auto.commit".to_string(), "false".to_string()),
            ("enable.auto.offset.store".to_string(), "false".to_string()),
            ("enable.partition.eof".to_string(), "false".to_string()),
            ("fetch.wait.max.ms".to_string(), "100".to_string()),
        ]);
        let consumer: BaseConsumer = client_config(bootstrap, &consumer_cfg)
            .map_err(KafkaError::Fatal)?
            .create()
            .map_err(|e| KafkaError::Fatal(format!("cannot create a consumer for {topic}: {e}")))?;
        let consumer = Arc::new(consumer);
        // The partition count as the broker has it (the topic may predate us).
        let count = {
            let c = consumer.clone();
            let t = topic.to_string();
            tokio::task::spawn_blocking(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    match c.fetch_metadata(Some(&t), Duration::from_secs(5)) {
                        Ok(md) => {
                            let n = md
                                .topics()
                                .first()
                                .map(|t| t.partitions().len())
                                .unwrap_or(0);
                            if n > 0 {
                                return Ok(n as i32);
                            }
                        }
                        Err(e) if Instant::now() >= deadline => {
                            return Err(KafkaError::Retriable(format!(
                                "cannot read the metadata of {t}: {e}"
                            )))
                        }
                        Err(_) => {}
                    }
                    if Instant::now() >= deadline {
                        return Err(KafkaError::Retriable(format!(
                            "topic {t} has no partitions"
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
            .await
            .map_err(|e| KafkaError::Fatal(format!("metadata lookup panicked: {e}")))??
        };
        let mut tpl = TopicPartitionList::new();
        for p in 0..count {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| KafkaError::Fatal(e.to_string()))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| KafkaError::Fatal(format!("cannot read {topic}: {e}")))?;
        let log = Arc::new(KafkaLog {
            topic: topic.to_string(),
            consumer: consumer.clone(),
            producer,
            partitions: count,
            positions: Arc::new(Mutex::new(vec![0; count as usize])),
            applied: Arc::new(Notify::new()),
            stop: Arc::new(AtomicBool::new(false)),
            reader: Mutex::new(None),
        });
        let positions = log.positions.clone();
        let applied = log.applied.clone();
        let stop = log.stop.clone();
        let name = topic.to_string();
        let mut apply = apply;
        let handle = std::thread::Builder::new()
            .name(format!("log-{topic}"))
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match consumer.poll(Duration::from_millis(100)) {
                        Some(Ok(m)) => {
                            let (p, o) = (m.partition(), m.offset());
                            apply(p, o, m.key(), m.payload());
                            if let Ok(mut pos) = positions.lock() {
                                if let Some(slot) = pos.get_mut(p as usize) {
                                    *slot = o + 1;
                                }
                            }
                            applied.notify_waiters();
                        }
                        Some(Err(e)) => {
                            tracing::debug!(topic = %name, "internal topic read: {e}");
                        }
                        None => {
                            // Nothing more to read for now: every record
                            // returned so far is applied, and the consumer's
                            // position has also stepped over what it does
                            // not return (transaction markers, aborted
                            // records), which the high watermark counts.
                            if let Ok(tpl) = consumer.position() {
                                if let Ok(mut pos) = positions.lock() {
                                    for e in tpl.elements() {
                                        if let (Offset::Offset(o), Some(slot)) =
                                            (e.offset(), pos.get_mut(e.partition() as usize))
                                        {
                                            *slot = (*slot).max(o);
                                        }
                                    }
                                }
                            }
                            applied.notify_waiters()
                        }
                    }
                }
            })
            .map_err(|e| KafkaError::Fatal(format!("cannot start the {topic} reader: {e}")))?;
        *log.reader.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(log)
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn partitions(&self) -> i32 {
        self.partitions
    }

    /// Writes one record and waits for the broker's acknowledgement.
    pub async fn send(&self, key: &str, value: Option<&[u8]>) -> Result<(), KafkaError> {
        let mut rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(&self.topic).key(key);
        if let Some(v) = value {
            rec = rec.payload(v);
        }
        self.producer
            .send(rec, Timeout::After(Duration::from_secs(30)))
            .await
            .map(|_| ())
            .map_err(|(e, _)| KafkaError::Retriable(format!("cannot write to {}: {e}", self.topic)))
    }

    /// Writes one record to a chosen partition and waits for the ack.
    pub async fn send_to(
        &self,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), KafkaError> {
        let mut rec: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).key(key).partition(partition);
        if let Some(v) = value {
            rec = rec.payload(v);
        }
        self.producer
            .send(rec, Timeout::After(Duration::from_secs(30)))
            .await
            .map(|_| ())
            .map_err(|(e, _)| KafkaError::Retriable(format!("cannot write to {}: {e}", self.topic)))
    }

    /// Waits until every record written before this call has been applied.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<(), KafkaError> {
        let c = self.consumer.clone();
        let topic = self.topic.clone();
        let n = self.partitions;
        let highs = tokio::task::spawn_blocking(move || {
            (0..n)
                .map(|p| {
                    c.fetch_watermarks(&topic, p, Duration::from_secs(10))
                        .map(|(_, high)| high)
                        .map_err(|e| {
                            KafkaError::Retriable(format!("cannot read the end of {topic}: {e}"))
                        })
                })
                .collect::<Result<Vec<i64>, KafkaError>>()
        })
        .await
        .map_err(|e| KafkaError::Fatal(format!("watermark lookup panicked: {e}")))??;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.applied.notified();
            let caught_up = {
                let pos = self.positions.lock().unwrap_or_else(|p| p.into_inner());
                pos.iter().zip(&highs).all(|(p, h)| p >= h)
            };
            if caught_up {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(KafkaError::Retriable(format!(
                    "reading {} to its end took longer than {} ms; is the broker up?",
                    self.topic,
                    timeout.as_millis()
                )));
            }
        }
    }

    /// Stops the reader thread.
    pub fn close(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.producer.flush(Duration::from_secs(5));
        if let Some(h) = self.reader.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }
}

impl Drop for KafkaLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
