//! The connector and its reader: the task around it, its queue and its
//! restarts are [`ReaderTask`]'s; what the reader does is the capture plan
//! ([`super::capture`]).
//!
//! A stored offset written by the other capture mode is rewritten to
//! resume from its cluster time in this one ([`super::offset`]).

use std::sync::Arc;

use sluice_api::data::JsonMap;
use sluice_api::{
    BoxFuture, ConfigDef, ConfigError, Props, SourceConnector, SourceTask, SourceTaskContext,
    TaskError,
};

use super::capture::{plan_start, run, Start};
use super::config::{config_def, CaptureMode, MongoConfig};
use super::offset::MongoOffset;
use crate::debezium::config::CommonConfig;
use crate::debezium::feed::FeedTx;
use crate::debezium::task::{validate, Reader, ReaderTask};

/// io.debezium.connector.mongodb.MongoDbConnector.
#[derive(Default)]
pub struct MongoDbConnector {
    props: Props,
}

impl SourceConnector for MongoDbConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn validate(&self, props: &Props) -> std::collections::BTreeMap<String, Vec<String>> {
        validate(MongoConfig::parse(props).map(|_| ()), &config_def())
    }

    fn start(&mut self, props: &Props) -> Result<(), ConfigError> {
        MongoConfig::parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    /// One change stream, one reader: a single task whatever tasks.max says.
    fn task_configs(&self, _max_tasks: usize) -> Vec<Props> {
        vec![self.props.clone()]
    }

    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(MongoDbSourceTask::with_reader(MongoReader))
    }
}

/// The MongoDB source task.
pub type MongoDbSourceTask = ReaderTask<MongoReader>;

/// The MongoDB connector's [`Reader`]: the capture plan.
#[derive(Clone, Default)]
pub struct MongoReader;

impl Reader for MongoReader {
    type Config = MongoConfig;
    type Offset = MongoOffset;
    type Start = Start;

    fn parse(&self, props: &Props) -> Result<MongoConfig, ConfigError> {
        MongoConfig::parse(props)
    }

    fn common(cfg: &MongoConfig) -> &CommonConfig {
        &cfg.common
    }

    fn plan(cfg: &MongoConfig, ctx: &SourceTaskContext) -> Result<Start, TaskError> {
        let offset = match ctx.offsets.offset(&cfg.source_partition()) {
            Some(m) => Some(MongoOffset::from_json(&m).map_err(|e| {
                TaskError::Fatal(format!(
                    "the stored offset of {} is unreadable ({e}); reset it with DELETE /connectors/{}/offsets and restart",
                    cfg.topic_prefix, ctx.connector
                ))
            })?),
            None => None,
        };
        let offset = match offset {
            Some(o) => Some(switch_mode(cfg, &ctx.connector, o)?),
            None => None,
        };
        Ok(plan_start(cfg.common.snapshot_mode, offset.as_ref()))
    }

    fn offset(m: &JsonMap) -> Option<MongoOffset> {
        MongoOffset::from_json(m).ok()
    }

    /// A stream offset streams on; a snapshot's starts as first planned.
    fn resume(_cfg: &MongoConfig, last: &MongoOffset) -> Option<Start> {
        (!last.initsync).then(|| Start::Stream(last.clone()))
    }

    fn read<'a>(
        &'a self,
        cfg: Arc<MongoConfig>,
        ctx: SourceTaskContext,
        start: Start,
        tx: &'a FeedTx,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(run(cfg, ctx, start, tx))
    }
}

/// A stored offset written by the other capture mode, rewritten to resume
/// from its cluster time in this one (see [`super::offset`]).
fn switch_mode(
    cfg: &MongoConfig,
    connector: &str,
    o: MongoOffset,
) -> Result<MongoOffset, TaskError> {
    let oplog = cfg.capture_mode == CaptureMode::Oplog;
    match o.for_mode(oplog) {
        Ok(None) => Ok(o),
        Ok(Some(switched)) => {
            tracing::warn!(
                connector = %connector,
                "the stored offset was written by {}; resuming with {} from its cluster time {}:{} (changes at that time inside a transaction may be delivered again)",
                if oplog { "a change stream" } else { "capture.mode=oplog" },
                if oplog { "capture.mode=oplog" } else { "the change stream" },
                o.sec,
                o.ord
            );
            Ok(switched)
        }
        Err(e) => Err(TaskError::Fatal(format!(
            "{e}; set capture.mode back, or reset the offsets (DELETE /connectors/{connector}/offsets) and restart to snapshot again"
        ))),
    }
}
