//! Plugins that panic on purpose, in a user's own binary: the fixtures of
//! tests/task_panics.rs, which checks that a bug in a plugin fails its task
//! (FAILED, the panic message as the trace) instead of leaving it RUNNING and
//! idle for ever. Nobody should run these in a pipeline.
//!
//! - `com.example.PanicOn` (transform): panics on a record whose value is the
//!   string in `value` (default `panic`); passes every other record.
//! - `com.example.PanickingSource`: writes `tick 0`, `tick 1`, ... to `topic`,
//!   `count` of them (default 3), then panics in `poll`.
//! - `com.example.PanickingSink`: takes records and panics in `put` on one
//!   whose value is the string `panic`.

use std::sync::Arc;

use sluice_api::data::{schemas, JsonMap, RecordData, SinkRecord, SourceRecord, Value};
use sluice_api::{
    BoxFuture, ConfigDef, ConfigError, ConfigType, Importance, Props, RecordError, SinkConnector,
    SinkTask, SinkTaskContext, SourceConnector, SourceTask, SourceTaskContext, TaskError,
    Transform,
};

#[derive(Default)]
struct PanicOn {
    value: String,
}

impl Transform for PanicOn {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "value",
            ConfigType::String,
            Some("panic"),
            Importance::Low,
            "The value that makes the transform panic.",
        )
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        self.value = self.config_def().parse(props)?.string("value")?;
        Ok(())
    }

    fn apply(&self, record: RecordData) -> Result<Option<RecordData>, RecordError> {
        if record.value.as_str() == Some(self.value.as_str()) {
            panic!("PanicOn met the value {:?}", self.value);
        }
        Ok(Some(record))
    }
}

fn source_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            "topic",
            ConfigType::String,
            None,
            Importance::High,
            "Topic.",
        )
        .define(
            "count",
            ConfigType::Long,
            Some("3"),
            Importance::Low,
            "Records before the panic.",
        )
}

#[derive(Default)]
struct PanickingSource {
    props: Props,
}

impl SourceConnector for PanickingSource {
    fn config_def(&self) -> ConfigDef {
        source_def()
    }
    fn start(&mut self, props: &Props) -> Result<(), ConfigError> {
        source_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }
    fn task_configs(&self, _max_tasks: usize) -> Vec<Props> {
        vec![self.props.clone()]
    }
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(PanickingSourceTask::default())
    }
}

#[derive(Default)]
struct PanickingSourceTask {
    topic: Arc<str>,
    count: i64,
    sent: bool,
}

impl SourceTask for PanickingSourceTask {
    fn start(
        &mut self,
        props: Props,
        _: SourceTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let cfg = source_def().parse(&props)?;
            self.topic = cfg.string("topic")?.into();
            self.count = cfg.i64("count")?;
            Ok(())
        })
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>, TaskError>> {
        Box::pin(async move {
            if self.sent {
                panic!(
                    "PanickingSource's poll panicked after {} records",
                    self.count
                );
            }
            self.sent = true;
            let partition = Arc::new(JsonMap::new());
            Ok((0..self.count)
                .map(|n| {
                    let data = RecordData {
                        topic: self.topic.clone(),
                        value_schema: Some(schemas::string()),
                        value: Value::from(format!("tick {n}").as_str()),
                        ..Default::default()
                    };
                    SourceRecord::new(partition.clone(), None, data)
                })
                .collect())
        })
    }
}

#[derive(Default)]
struct PanickingSink {
    props: Props,
}

impl SinkConnector for PanickingSink {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn start(&mut self, props: &Props) -> Result<(), ConfigError> {
        self.props = props.clone();
        Ok(())
    }
    fn task_configs(&self, _max_tasks: usize) -> Vec<Props> {
        vec![self.props.clone()]
    }
    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(PanickingSinkTask)
    }
}

struct PanickingSinkTask;

impl SinkTask for PanickingSinkTask {
    fn start(&mut self, _: Props, _: SinkTaskContext) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async { Ok(()) })
    }
    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            if records
                .iter()
                .any(|r| r.data.value.as_str() == Some("panic"))
            {
                panic!("PanickingSink's put met the value \"panic\"");
            }
            Ok(())
        })
    }
    fn flush(&mut self) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async { Ok(()) })
    }
}

fn main() {
    let mut registry = sluice::registry::builtin();
    registry
        .register_transform("com.example.PanicOn", &["PanicOn"], || {
            Box::new(PanicOn::default())
        })
        .register_source("com.example.PanickingSource", &["PanickingSource"], || {
            Box::new(PanickingSource::default())
        })
        .register_sink("com.example.PanickingSink", &["PanickingSink"], || {
            Box::new(PanickingSink::default())
        });
    std::process::exit(sluice::cli::main_with(registry));
}
