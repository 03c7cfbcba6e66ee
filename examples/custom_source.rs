//! A user's own Sluice binary with a source connector of its own, written
//! against `sluice-api` alone (the plugin below imports nothing from the
//! runtime): `com.example.CounterSource` counts from where it left off and
//! writes one record per number to a topic.
//!
//! ```text
//! "connector.class": "com.example.CounterSource",
//! "topic": "counter",          (required)
//! "count": "100",              (how many numbers in all; default 100)
//! "batch.size": "10",          (numbers per poll; default 10)
//! "counters": "1"              (independent counters, one task each up to
//!                               tasks.max; default 1)
//! ```
//!
//! Each record has an INT64 key (the number) and a STRING value (`tick N`);
//! its source offset is `{"next": N+1}` under the partition
//! `{"counter": <connector name>}` (counter 0; `{"counter": <name>, "index":
//! I}` for the others), so a restarted or moved task resumes after the last
//! number the worker committed, as any Kafka Connect source does.
//!
//! Build and run: `cargo run --example custom_source -- standalone worker.properties`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sluice_api::data::{schemas, JsonMap, RecordData, SourceRecord, Value};
use sluice_api::{
    BoxFuture, ConfigDef, ConfigError, ConfigType, Importance, Props, SourceConnector, SourceTask,
    SourceTaskContext, TaskError,
};

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            "topic",
            ConfigType::String,
            None,
            Importance::High,
            "The topic to write the numbers to.",
        )
        .define(
            "count",
            ConfigType::Long,
            Some("100"),
            Importance::Medium,
            "How many numbers to write in all (0 to N-1); the task then idles.",
        )
        .define(
            "batch.size",
            ConfigType::Int,
            Some("10"),
            Importance::Low,
            "How many numbers one poll returns.",
        )
        .define(
            "counters",
            ConfigType::Int,
            Some("1"),
            Importance::Low,
            "How many independent counters to run, one task each (at most tasks.max).",
        )
        .define(
            "counter.index",
            ConfigType::Int,
            Some("0"),
            Importance::Low,
            "Set by the connector in each task's config: which counter the task runs.",
        )
}

/// The connector: checks the config and hands it to one task.
#[derive(Default)]
struct CounterSource {
    props: Props,
}

impl SourceConnector for CounterSource {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn validate(&self, props: &Props) -> BTreeMap<String, Vec<String>> {
        let mut errors = BTreeMap::new();
        if let Ok(cfg) = config_def().parse(props) {
            if cfg.i64("count").is_ok_and(|n| n < 0) {
                errors.insert("count".into(), vec!["must be 0 or more".into()]);
            }
        }
        errors
    }

    fn start(&mut self, props: &Props) -> Result<(), ConfigError> {
        config_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    /// One task per counter, at most `tasks.max`.
    fn task_configs(&self, max_tasks: usize) -> Vec<Props> {
        let counters = config_def()
            .parse(&self.props)
            .and_then(|c| c.i64("counters"))
            .unwrap_or(1)
            .max(1) as usize;
        (0..counters.min(max_tasks.max(1)))
            .map(|i| {
                let mut p = self.props.clone();
                p.insert("counter.index".into(), i.to_string());
                p
            })
            .collect()
    }

    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(CounterTask::default())
    }
}

#[derive(Default)]
struct CounterTask {
    topic: Arc<str>,
    partition: Arc<JsonMap>,
    next: i64,
    count: i64,
    batch: i64,
}

impl SourceTask for CounterTask {
    fn start(
        &mut self,
        props: Props,
        ctx: SourceTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let cfg = config_def().parse(&props)?;
            self.topic = cfg.string("topic")?.into();
            self.count = cfg.i64("count")?;
            self.batch = cfg.i64("batch.size")?.max(1);
            let mut partition = JsonMap::new();
            partition.insert("counter".into(), ctx.connector.clone().into());
            let index = cfg.i64("counter.index")?;
            if index > 0 {
                partition.insert("index".into(), index.into());
            }
            // Resume after the last number whose record reached Kafka.
            self.next = match ctx.offsets.offset(&partition) {
                None => 0,
                Some(offset) => offset.get("next").and_then(|n| n.as_i64()).ok_or_else(|| {
                    TaskError::Fatal(format!(
                        "stored offset {offset:?} has no integer 'next'; \
                         reset the connector's offsets (DELETE /connectors/{}/offsets)",
                        ctx.connector
                    ))
                })?,
            };
            self.partition = Arc::new(partition);
            Ok(())
        })
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>, TaskError>> {
        Box::pin(async move {
            if self.next >= self.count {
                // Done: an empty batch within the poll contract's second.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Ok(Vec::new());
            }
            let end = (self.next + self.batch).min(self.count);
            let records = (self.next..end)
                .map(|n| {
                    let mut offset = JsonMap::new();
                    offset.insert("next".into(), (n + 1).into());
                    SourceRecord::new(
                        self.partition.clone(),
                        Some(Arc::new(offset)),
                        RecordData {
                            topic: self.topic.clone(),
                            key_schema: Some(schemas::int64()),
                            key: Value::Int64(n),
                            value_schema: Some(schemas::string()),
                            value: Value::from(format!("tick {n}").as_str()),
                            ..Default::default()
                        },
                    )
                })
                .collect();
            self.next = end;
            Ok(records)
        })
    }
}

fn main() {
    let mut registry = sluice::registry::builtin();
    registry.register_source("com.example.CounterSource", &["CounterSource"], || {
        Box::new(CounterSource::default())
    });
    std::process::exit(sluice::cli::main_with(registry));
}
