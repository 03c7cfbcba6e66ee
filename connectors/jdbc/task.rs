//! The JDBC sink task: each put is decoded, planned per table and applied
//! in one database transaction before `put` returns.
//!
//! Why no change is lost or applied out of order: the worker commits
//! consumer offsets only after `put` and then `flush` returned, and `put`
//! returns only after its transaction committed; a failed put rolled back
//! entirely, so the worker's retry (or a restarted task, from the last
//! committed offsets) applies the same records again. Replays are
//! idempotent with `insert.mode=upsert` and deletes by key. Within a table
//! changes keep their Kafka order (a partition's order, since a key always
//! lands on the same partition).
//!
//! A record the database refuses (a constraint, a value its column cannot
//! hold) fails the task, naming the table; under `errors.tolerance=all` the
//! batch is written again in halves, each in its own transaction and in
//! order, down to the refused records, which are skipped and logged.

use std::sync::Arc;

use sluice_api::data::SinkRecord;
use sluice_api::{BoxFuture, ErrantRecord, Props, SinkTask, SinkTaskContext, TaskError};

use super::config::{Flavor, InsertMode, JdbcSinkConfig};
use super::plan::plan;
use super::record::Decoder;
use super::url::Dialect;
use super::{Target, WriteError};

pub struct JdbcSinkTask {
    flavor: Flavor,
    decoder: Option<Decoder>,
    target: Option<Target>,
    cfg: Option<Arc<JdbcSinkConfig>>,
    errors: Tolerance,
}

/// `errors.tolerance` and `errors.deadletterqueue.topic.name`, as they
/// apply to records the database refuses.
#[derive(Debug, Clone, Default)]
struct Tolerance {
    all: bool,
    dlq: Option<String>,
    connector: String,
    /// Refused records of the current put, for the runtime's DLQ.
    errant: Vec<ErrantRecord>,
}

impl Tolerance {
    fn of(props: &Props, connector: &str) -> Tolerance {
        Tolerance {
            all: props
                .get("errors.tolerance")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("all")),
            dlq: props
                .get("errors.deadletterqueue.topic.name")
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
            connector: connector.to_string(),
            errant: Vec::new(),
        }
    }

    /// A refused record: skipped (logged, and reported errant so that the
    /// runtime sends it to the dead letter queue when one is configured)
    /// under errors.tolerance=all, otherwise the task fails.
    fn refuse(&mut self, r: &SinkRecord, message: &str) -> Result<(), TaskError> {
        let at = coordinates(r);
        if !self.all {
            return Err(TaskError::Fatal(format!(
                "{message} (record {at})\nTolerance exceeded in error handler (errors.tolerance=none); fix the record or the table, or set errors.tolerance=all to skip such records"
            )));
        }
        match &self.dlq {
            Some(dlq) => tracing::warn!(
                connector = %self.connector,
                "a record the database refused goes to the dead letter queue {dlq} (errors.tolerance=all): {message}; consumed record is {at}"
            ),
            None => tracing::warn!(
                connector = %self.connector,
                "skipping a record the database refused (errors.tolerance=all): {message}; consumed record is {at}"
            ),
        }
        self.errant.push(ErrantRecord {
            topic: r.original_topic.clone(),
            partition: r.original_partition,
            offset: r.kafka_offset,
            message: message.to_string(),
        });
        Ok(())
    }
}

fn coordinates(r: &SinkRecord) -> String {
    format!(
        "{}-{}@{}",
        r.original_topic, r.original_partition, r.kafka_offset
    )
}

fn task_error(e: WriteError) -> TaskError {
    match e {
        WriteError::Fatal(m) | WriteError::Data(m) => TaskError::Fatal(m),
        // Lost during a put: reconnect and retry.
        WriteError::Retriable(m) | WriteError::Unreachable(m) => TaskError::Retriable(m),
    }
}

impl JdbcSinkTask {
    pub fn new(flavor: Flavor) -> JdbcSinkTask {
        JdbcSinkTask {
            flavor,
            decoder: None,
            target: None,
            cfg: None,
            errors: Tolerance::default(),
        }
    }

    async fn put_records(&mut self, records: Vec<SinkRecord>) -> Result<(), TaskError> {
        // A put retried after a lost connection reports its records anew.
        self.errors.errant.clear();
        let (Some(decoder), Some(target), Some(cfg)) = (
            self.decoder.as_mut(),
            self.target.as_mut(),
            self.cfg.as_ref(),
        ) else {
            return Err(TaskError::Fatal("put before start".into()));
        };
        let upsert = cfg.insert_mode == InsertMode::Upsert;
        // (change, index of its record)
        let mut changes = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            match decoder.decode(r) {
                Ok(c) => changes.push((c, i)),
                Err(e) => self
                    .errors
                    .refuse(r, &format!("cannot write the record: {e}"))?,
            }
        }
        if !self.errors.all {
            // Nothing to isolate: the changes move into the plan uncopied.
            let only = (changes.len() == 1).then(|| changes[0].1);
            let all = changes.into_iter().map(|(c, _)| c).collect();
            return match target.write(&plan(all, upsert)).await {
                Ok(()) => Ok(()),
                Err(WriteError::Data(m)) if only.is_some() => {
                    let i = only.unwrap_or_default();
                    self.errors.refuse(&records[i], &m)
                }
                Err(e) => Err(task_error(e)),
            };
        }
        let all: Vec<_> = changes.iter().map(|(c, _)| c.clone()).collect();
        match target.write(&plan(all, upsert)).await {
            Ok(()) => return Ok(()),
            Err(WriteError::Data(m)) if changes.len() > 1 => {
                tracing::info!(
                    connector = %self.errors.connector,
                    "a batch of {} records was refused ({m}); writing it in parts to find the records at fault",
                    changes.len()
                );
            }
            Err(WriteError::Data(m)) if changes.len() == 1 => {
                return self.errors.refuse(&records[changes[0].1], &m)
            }
            Err(e) => return Err(task_error(e)),
        }
        // Halves, in order, each in its own transaction, down to the
        // single records the database refuses.
        let mut parts = std::collections::VecDeque::from([(0, changes.len())]);
        while let Some((lo, hi)) = parts.pop_front() {
            let part: Vec<_> = changes[lo..hi].iter().map(|(c, _)| c.clone()).collect();
            match target.write(&plan(part, upsert)).await {
                Ok(()) => {}
                Err(WriteError::Data(m)) if hi - lo == 1 => {
                    self.errors.refuse(&records[changes[lo].1], &m)?
                }
                Err(WriteError::Data(_)) => {
                    let mid = lo + (hi - lo) / 2;
                    parts.push_front((mid, hi));
                    parts.push_front((lo, mid));
                }
                Err(e) => return Err(task_error(e)),
            }
        }
        Ok(())
    }
}

impl SinkTask for JdbcSinkTask {
    fn start(
        &mut self,
        props: Props,
        ctx: SinkTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let cfg = Arc::new(JdbcSinkConfig::parse(&props, self.flavor)?);
            if !cfg.ignored_keys.is_empty() {
                tracing::warn!(
                    connector = %ctx.connector,
                    "Hibernate settings have no meaning in Sluice (it has no Hibernate) and are ignored: {}",
                    cfg.ignored_keys.join(", ")
                );
            }
            let target = Target::connect(cfg.clone()).await.map_err(|e| match e {
                // At start a database that cannot be reached fails the task
                // with the remedy, rather than retrying unseen.
                WriteError::Unreachable(m) | WriteError::Fatal(m) | WriteError::Data(m) => {
                    TaskError::Fatal(m)
                }
                WriteError::Retriable(m) => TaskError::Retriable(m),
            })?;
            self.errors = Tolerance::of(&props, &ctx.connector);
            let dialect: Dialect = cfg.url.dialect;
            self.decoder = Some(Decoder::new(cfg.clone(), dialect));
            self.target = Some(target);
            self.cfg = Some(cfg);
            Ok(())
        })
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(self.put_records(records))
    }

    fn take_errant(&mut self) -> Vec<ErrantRecord> {
        std::mem::take(&mut self.errors.errant)
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), TaskError>> {
        // Every put committed its own transaction before returning.
        Box::pin(async { Ok(()) })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.target = None;
        })
    }
}
