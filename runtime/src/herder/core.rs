//! What both herders share, as Kafka Connect's AbstractHerder: config
//! validation, the decision of how a connector starts (and what its status
//! says when it cannot), offsets reads and changes, plugin listings.
//!
//! The standalone and distributed herders differ in where configs and
//! statuses live and in who runs what. Everything else a REST answer
//! depends on is decided here, once, so the two modes answer alike.

use std::sync::Arc;

use serde_json::json;

use crate::config::ConfigError;
use crate::config_providers::ConfigProviders;
use crate::connector_config;
use crate::data::JsonMap;
use crate::herder::{
    ConnectorInfo, ConnectorOffset, ConnectorType, HerderError, HerderResult, State, TargetState,
    TaskId, TaskState,
};
use crate::plugin::{PluginKind, Props, Registry, SinkConnector, SourceConnector, UnknownPlugin};
use crate::secrets::Secrets;
use crate::store::{ConfigStore, OffsetStore};
use crate::worker::{TaskSpec, Worker};

/// A started connector instance.
pub enum Instance {
    Source(Box<dyn SourceConnector>),
    Sink(Box<dyn SinkConnector>),
}

impl Instance {
    /// Stops the connector instance.
    pub fn stop(self) {
        match self {
            Instance::Source(mut c) => c.stop(),
            Instance::Sink(mut c) => c.stop(),
        }
    }
}

/// Why a connector instance did not start. Both are definite: a retry
/// with the same config fails the same way, so the connector goes FAILED
/// with this message as its trace until its config changes.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    UnknownClass(#[from] UnknownPlugin),
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A `${provider:path:key}` that cannot be resolved.
    #[error("{0}")]
    Variable(String),
}

impl From<String> for StartError {
    fn from(e: String) -> Self {
        StartError::Variable(e)
    }
}

/// A connector this worker runs, and what its status shows.
pub struct LocalConnector {
    pub kind: ConnectorType,
    pub instance: Option<Instance>,
    pub state: State,
    pub trace: Option<String>,
}

impl LocalConnector {
    /// Stops the instance (if it started); the state is left as it is.
    pub fn stop_instance(&mut self) {
        if let Some(i) = self.instance.take() {
            i.stop();
        }
    }

    /// Shows a RUNNING or PAUSED target; a FAILED connector stays FAILED.
    pub fn follow_target(&mut self, target: TargetState) {
        if self.state != State::Failed {
            self.state = if target == TargetState::Paused {
                State::Paused
            } else {
                State::Running
            };
        }
    }
}

/// What starting a connector gave: the connector, and the task configs it
/// asked for (none when it failed: there is nothing new to publish).
pub struct Started {
    pub connector: LocalConnector,
    pub tasks: Option<Vec<Props>>,
}

/// The part of a herder both modes share.
pub struct HerderCore {
    pub worker: Arc<Worker>,
    pub configs: Arc<dyn ConfigStore>,
    cluster_id: String,
}

impl HerderCore {
    pub fn new(worker: Arc<Worker>, configs: Arc<dyn ConfigStore>, cluster_id: String) -> Self {
        HerderCore {
            worker,
            configs,
            cluster_id,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.worker.env.registry
    }

    fn offset_store(&self) -> &dyn OffsetStore {
        self.worker.env.offsets.as_ref()
    }

    /// `GET /`.
    pub fn server_info(&self) -> serde_json::Value {
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "commit": option_env!("SLUICE_GIT_COMMIT").unwrap_or("unknown"),
            "kafka_cluster_id": self.cluster_id,
        })
    }

    /// A stored connector's config, or Kafka Connect's 404.
    pub fn existing(&self, name: &str) -> HerderResult<Props> {
        self.configs
            .config(name)
            .ok_or_else(|| HerderError::connector_not_found(name))
    }

    /// Source, sink, or Unknown when the class is not found.
    pub fn connector_kind(&self, config: &Props) -> ConnectorType {
        match self.registry().connector_kind(class_of(config)) {
            Ok((_, PluginKind::Source)) => ConnectorType::Source,
            Ok(_) => ConnectorType::Sink,
            Err(_) => ConnectorType::Unknown,
        }
    }

    /// Source or sink; an unknown class is the client's 400.
    fn source_or_sink(&self, config: &Props) -> HerderResult<ConnectorType> {
        match self.registry().connector_kind(class_of(config)) {
            Ok((_, PluginKind::Source)) => Ok(ConnectorType::Source),
            Ok(_) => Ok(ConnectorType::Sink),
            Err(e) => Err(HerderError::BadRequest(e.to_string())),
        }
    }

    /// `GET /connectors/{name}`.
    pub fn info(&self, name: &str, config: Props, tasks: usize) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_string(),
            kind: self.connector_kind(&config),
            config,
            tasks: task_ids(name, tasks),
        }
    }

    /// The secrets of a connector's config and of the worker's, to hide in
    /// whatever this worker says about the connector.
    pub fn secrets(&self, config: &Props) -> Secrets {
        let providers = &self.worker.env.worker.providers;
        let declared = self.registry().password_keys(class_of(config));
        let resolved = providers.resolve(config).unwrap_or_default();
        Secrets::of_declared([config, &resolved, &self.worker.env.worker.props], |k| {
            declared.iter().any(|d| d == k)
        })
    }

    /// Starts a connector in `target` state: the one decision both modes
    /// make. An unknown class or a failed start leaves it FAILED with the
    /// reason as its trace; STOPPED starts no instance and has no tasks.
    pub fn start_connector(&self, name: &str, config: &Props, target: TargetState) -> Started {
        // What the connector's own code logs while it starts carries its name.
        let _span = tracing::info_span!("connector", connector = %name).entered();
        let kind = self.connector_kind(config);
        let mut connector = LocalConnector {
            kind,
            instance: None,
            state: State::Running,
            trace: None,
        };
        if kind == ConnectorType::Unknown {
            connector.state = State::Failed;
            connector.trace = self
                .registry()
                .connector_kind(class_of(config))
                .err()
                .map(|e| e.to_string());
            return Started {
                connector,
                tasks: None,
            };
        }
        if target == TargetState::Stopped {
            connector.state = State::Stopped;
            return Started {
                connector,
                tasks: Some(Vec::new()),
            };
        }
        // Variables are resolved for the instance only; the task configs it
        // makes are stored with them put back.
        let started = self
            .worker
            .env
            .worker
            .providers
            .resolve(config)
            .map_err(StartError::from)
            .and_then(|resolved| start_instance(self.registry(), &resolved, kind));
        match started {
            Ok((instance, tasks)) => {
                connector.instance = Some(instance);
                connector.follow_target(target);
                let tasks = tasks
                    .into_iter()
                    .map(|t| ConfigProviders::unresolve(config, t))
                    .collect();
                Started {
                    connector,
                    tasks: Some(tasks),
                }
            }
            Err(e) => {
                let trace = self.secrets(config).redact(&e.to_string());
                tracing::error!("connector failed to start: {trace}");
                connector.state = State::Failed;
                connector.trace = Some(trace);
                Started {
                    connector,
                    tasks: None,
                }
            }
        }
    }

    /// Starts one task on this worker.
    pub fn start_task(
        &self,
        name: &str,
        task: u32,
        connector_config: &Props,
        task_config: Props,
        target: TargetState,
    ) {
        let is_source = self.connector_kind(connector_config) == ConnectorType::Source;
        self.worker.start_task(
            TaskSpec {
                connector: name.to_string(),
                task,
                connector_config: connector_config.clone(),
                task_config,
                is_source,
            },
            target,
        );
    }

    /// A task's state as this worker runs it (None: not running here).
    pub fn local_task_state(&self, name: &str, id: u32, worker_id: &str) -> Option<TaskState> {
        self.worker.task_status(name, id).map(|s| TaskState {
            id,
            state: s.state,
            worker_id: worker_id.to_string(),
            trace: s.trace,
            progress: s.progress,
            starts: Some(s.starts),
            errors: s.errors,
        })
    }

    /// Whether a task runs here and has FAILED.
    pub fn task_failed(&self, name: &str, id: u32) -> bool {
        self.worker
            .task_status(name, id)
            .map(|s| s.state == State::Failed)
            .unwrap_or(false)
    }

    /// Checks a connector config before it is accepted (name, class, every
    /// key's value) and warns about keys that have no effect.
    pub fn check_connector_config(&self, name: &str, config: &mut Props) -> HerderResult<()> {
        if name.trim().is_empty() {
            return Err(HerderError::BadRequest(
                "Connector name must not be empty".into(),
            ));
        }
        config.insert("name".into(), name.to_string());
        let v = connector_config::validate(self.registry(), &self.worker.env.worker, config)
            .map_err(HerderError::BadRequest)?;
        if v.error_count > 0 {
            return Err(HerderError::BadRequest(format!(
                "Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{}/config/validate`",
                v.error_count,
                v.messages.join("\n"),
                v.class
            )));
        }
        for k in &v.unknown_keys {
            tracing::warn!(connector = %name, "config key {k} is not known to {} and is ignored", v.class);
        }
        for k in &v.unsupported_keys {
            tracing::warn!(connector = %name, "config key {k} is accepted but not supported by Sluice yet; it has no effect");
        }
        Ok(())
    }

    /// `PUT /connector-plugins/{plugin}/config/validate`: Kafka Connect's
    /// validation response for `config` (the plugin fills in `connector.class`).
    pub fn validate_config(
        &self,
        plugin: &str,
        mut config: Props,
    ) -> HerderResult<serde_json::Value> {
        config
            .entry("connector.class".into())
            .or_insert_with(|| plugin.to_string());
        let v = connector_config::validate(self.registry(), &self.worker.env.worker, &config)
            .map_err(HerderError::BadRequest)?;
        Ok(v.body)
    }

    /// `GET /connector-plugins` items.
    pub fn plugins(&self, connectors_only: bool) -> Vec<serde_json::Value> {
        self.registry()
            .plugins()
            .filter(|d| !connectors_only || matches!(d.kind, PluginKind::Source | PluginKind::Sink))
            .map(|d| json!({"class": d.class, "type": d.kind.name(), "version": d.version}))
            .collect()
    }

    /// `GET /connector-plugins/{type}/config`: the declared keys.
    pub fn plugin_config(&self, plugin: &str) -> HerderResult<Vec<serde_json::Value>> {
        let registry = self.registry();
        let desc = registry
            .find(plugin)
            .ok_or_else(|| HerderError::NotFound(format!("Unknown plugin {plugin}.")))?;
        let mut def = registry
            .config_def(plugin)
            .ok_or_else(|| HerderError::NotFound(format!("Unknown plugin {plugin}.")))?;
        if matches!(desc.kind, PluginKind::Source | PluginKind::Sink) {
            let kind = if desc.kind == PluginKind::Source {
                ConnectorType::Source
            } else {
                ConnectorType::Sink
            };
            def = connector_config::common_def(kind).merge(&def);
        }
        Ok(def
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| k.definition_json(def.order_in_group(i)))
            .collect())
    }

    /// `GET /connectors/{name}/offsets`: a source connector's offsets from
    /// the offset store, a sink connector's from its consumer group.
    pub async fn offsets(&self, name: &str) -> HerderResult<Vec<ConnectorOffset>> {
        let config = self.existing(name)?;
        match self.source_or_sink(&config)? {
            ConnectorType::Source => {
                self.offset_store().prepare(name, &config).await?;
                self.offset_store().refresh().await;
                Ok(self
                    .offset_store()
                    .all(name)
                    .into_iter()
                    .map(|(partition, offset)| ConnectorOffset {
                        partition,
                        offset: Some(offset),
                    })
                    .collect())
            }
            _ => super::sink_offsets::read(&self.worker.env.worker, name, &config).await,
        }
    }

    /// `PATCH` (alter) or `DELETE` (reset, `offsets` None) of a connector's
    /// offsets; only while it is STOPPED, so no task writes them meanwhile.
    pub async fn modify_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<ConnectorOffset>>,
    ) -> HerderResult<()> {
        let config = self.existing(name)?;
        let kind = self.source_or_sink(&config)?;
        if self.configs.target_state(name) != TargetState::Stopped {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        match kind {
            ConnectorType::Source => {
                self.offset_store().prepare(name, &config).await?;
                let entries: Vec<(JsonMap, Option<JsonMap>)> = match offsets {
                    Some(list) => list.into_iter().map(|o| (o.partition, o.offset)).collect(),
                    None => self
                        .offset_store()
                        .all(name)
                        .into_iter()
                        .map(|(p, _)| (p, None))
                        .collect(),
                };
                Ok(self.offset_store().alter(name, entries).await?)
            }
            _ => super::sink_offsets::modify(&self.worker.env.worker, name, offsets).await,
        }
    }
}

/// `tasks` of `GET /connectors/{name}`: ids 0..n.
pub fn task_ids(name: &str, n: usize) -> Vec<TaskId> {
    (0..n as u32)
        .map(|task| TaskId {
            connector: name.to_string(),
            task,
        })
        .collect()
}

fn class_of(config: &Props) -> &str {
    config
        .get("connector.class")
        .map(String::as_str)
        .unwrap_or("")
}

/// Starts a connector instance and asks it for at most `tasks.max` task configs.
fn start_instance(
    registry: &Registry,
    config: &Props,
    kind: ConnectorType,
) -> Result<(Instance, Vec<Props>), StartError> {
    let class = class_of(config);
    let max_tasks: usize = config
        .get("tasks.max")
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1);
    let (inst, tasks) = match kind {
        ConnectorType::Source => {
            let mut c = registry.source(class)?;
            c.start(config)?;
            let t = c.task_configs(max_tasks);
            (Instance::Source(c), t)
        }
        _ => {
            let mut c = registry.sink(class)?;
            c.start(config)?;
            let t = c.task_configs(max_tasks);
            (Instance::Sink(c), t)
        }
    };
    Ok((inst, tasks.into_iter().take(max_tasks).collect()))
}
