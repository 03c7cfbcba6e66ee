//! The standalone herder: one process, state in local files.
//!
//! Connector configs and target states live in the config file, source
//! offsets in the offset file; both are written atomically before a change
//! is acknowledged, so a worker killed with -9 restarts with every connector
//! it had accepted, in its last target state, resuming from the last
//! committed offsets.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::Mutex;

use crate::connector_config;
use crate::data::JsonMap;
use crate::herder::*;
use crate::plugin::{BoxFuture, PluginKind, Props, SinkConnector, SourceConnector};
use crate::store::{FileConfigStore, OffsetStore};
use crate::worker::{TaskSpec, Worker};

pub enum Instance {
    Source(Box<dyn SourceConnector>),
    Sink(Box<dyn SinkConnector>),
}

struct ConnectorRuntime {
    kind: ConnectorType,
    instance: Option<Instance>,
    state: State,
    trace: Option<String>,
    task_configs: Vec<Props>,
}

/// The standalone herder.
pub struct StandaloneHerder {
    worker: Arc<Worker>,
    configs: Arc<FileConfigStore>,
    offsets: Arc<dyn OffsetStore>,
    connectors: Mutex<BTreeMap<String, ConnectorRuntime>>,
    cluster_id: String,
}

impl StandaloneHerder {
    pub fn new(
        worker: Arc<Worker>,
        configs: Arc<FileConfigStore>,
        offsets: Arc<dyn OffsetStore>,
        cluster_id: String,
    ) -> Arc<StandaloneHerder> {
        Arc::new(StandaloneHerder {
            worker,
            configs,
            offsets,
            connectors: Mutex::new(BTreeMap::new()),
            cluster_id,
        })
    }

    /// Starts every stored connector in its stored target state.
    pub async fn start_stored(&self) {
        let stored = self.configs.all();
        let mut map = self.connectors.lock().await;
        for (name, rec) in stored {
            let rt = self
                .start_connector(&name, &rec.config, rec.target_state)
                .await;
            map.insert(name, rt);
        }
    }

    /// Stops every connector and task (worker shutdown).
    pub async fn shutdown(&self) {
        let mut map = self.connectors.lock().await;
        for (name, rt) in map.iter_mut() {
            self.worker.stop_connector_tasks(name).await;
            stop_instance(rt);
        }
    }

    /// Starts a connector instance and, unless STOPPED, its tasks.
    async fn start_connector(
        &self,
        name: &str,
        config: &Props,
        target: TargetState,
    ) -> ConnectorRuntime {
        let mut rt = ConnectorRuntime {
            kind: connector_kind(&self.worker.env.registry, config),
            instance: None,
            state: State::Unassigned,
            trace: None,
            task_configs: Vec::new(),
        };
        if rt.kind == ConnectorType::Unknown {
            rt.state = State::Failed;
            rt.trace = connector_kind_error(&self.worker.env.registry, config);
            return rt;
        }
        if target == TargetState::Stopped {
            rt.state = State::Stopped;
            return rt;
        }
        let kind = rt.kind;
        let started = start_instance(&self.worker.env.registry, config, kind);
        match started {
            Ok((inst, tasks)) => {
                rt.instance = Some(inst);
                rt.task_configs = tasks;
                rt.state = if target == TargetState::Paused {
                    State::Paused
                } else {
                    State::Running
                };
                for (i, tc) in rt.task_configs.iter().enumerate() {
                    self.worker.start_task(
                        TaskSpec {
                            connector: name.to_string(),
                            task: i as u32,
                            connector_config: config.clone(),
                            task_config: tc.clone(),
                            is_source: kind == ConnectorType::Source,
                        },
                        target,
                    );
                }
            }
            Err(e) => {
                tracing::error!(connector = name, "connector failed to start: {e}");
                rt.state = State::Failed;
                rt.trace = Some(e);
            }
        }
        rt
    }

    fn info(&self, name: &str, config: &Props, rt: &ConnectorRuntime) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_string(),
            config: config.clone(),
            tasks: (0..rt.task_configs.len() as u32)
                .map(|task| TaskId {
                    connector: name.to_string(),
                    task,
                })
                .collect(),
            kind: rt.kind,
        }
    }

    fn status_of(&self, name: &str, rt: &ConnectorRuntime) -> ConnectorStatus {
        let worker_id = self.worker.worker_id();
        let tasks = (0..rt.task_configs.len() as u32)
            .map(|id| self.task_state(name, id, rt))
            .collect();
        ConnectorStatus {
            name: name.to_string(),
            connector: ConnectorState {
                state: rt.state,
                worker_id,
                trace: rt.trace.clone(),
            },
            tasks,
            kind: rt.kind,
        }
    }

    fn task_state(&self, name: &str, id: u32, rt: &ConnectorRuntime) -> TaskState {
        let worker_id = self.worker.worker_id();
        match self.worker.task_status(name, id) {
            Some(s) => TaskState {
                id,
                state: s.state,
                worker_id,
                trace: s.trace,
                progress: s.progress,
                starts: Some(s.starts),
            },
            None => TaskState {
                id,
                state: if rt.state == State::Stopped {
                    State::Stopped
                } else {
                    State::Unassigned
                },
                worker_id,
                trace: None,
                progress: None,
                starts: None,
            },
        }
    }

    async fn restart_one(
        &self,
        name: &str,
        map: &mut BTreeMap<String, ConnectorRuntime>,
    ) -> HerderResult<()> {
        let rec = self
            .configs
            .get(name)
            .ok_or_else(|| HerderError::connector_not_found(name))?;
        self.worker.stop_connector_tasks(name).await;
        if let Some(rt) = map.get_mut(name) {
            stop_instance(rt);
        }
        let rt = self
            .start_connector(name, &rec.config, rec.target_state)
            .await;
        map.insert(name.to_string(), rt);
        Ok(())
    }

    fn source_or_sink(
        &self,
        name: &str,
    ) -> HerderResult<(ConnectorType, crate::store::ConnectorRecord)> {
        let rec = self
            .configs
            .get(name)
            .ok_or_else(|| HerderError::connector_not_found(name))?;
        let class = rec
            .config
            .get("connector.class")
            .cloned()
            .unwrap_or_default();
        let kind = match self.worker.env.registry.connector_kind(&class) {
            Ok((_, PluginKind::Source)) => ConnectorType::Source,
            Ok(_) => ConnectorType::Sink,
            Err(e) => return Err(HerderError::BadRequest(e.to_string())),
        };
        Ok((kind, rec))
    }
}

fn stop_instance(rt: &mut ConnectorRuntime) {
    if let Some(i) = rt.instance.take() {
        i.stop();
    }
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

/// Source, sink, or Unknown when the class is not found.
pub fn connector_kind(registry: &crate::Registry, config: &Props) -> ConnectorType {
    let class = config
        .get("connector.class")
        .map(String::as_str)
        .unwrap_or("");
    match registry.connector_kind(class) {
        Ok((_, PluginKind::Source)) => ConnectorType::Source,
        Ok(_) => ConnectorType::Sink,
        Err(_) => ConnectorType::Unknown,
    }
}

/// Why a connector's class cannot be used (for its FAILED trace).
pub fn connector_kind_error(registry: &crate::Registry, config: &Props) -> Option<String> {
    let class = config
        .get("connector.class")
        .map(String::as_str)
        .unwrap_or("");
    registry.connector_kind(class).err().map(|e| e.to_string())
}

/// Starts a connector instance and asks it for at most `tasks.max` task configs.
pub fn start_instance(
    registry: &crate::Registry,
    config: &Props,
    kind: ConnectorType,
) -> Result<(Instance, Vec<Props>), String> {
    let class = config.get("connector.class").cloned().unwrap_or_default();
    let max_tasks: usize = config
        .get("tasks.max")
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1);
    let (inst, tasks) = match kind {
        ConnectorType::Source => {
            let mut c = registry.source(&class).map_err(|e| e.to_string())?;
            c.start(config).map_err(|e| e.to_string())?;
            let t = c.task_configs(max_tasks);
            (Instance::Source(c), t)
        }
        _ => {
            let mut c = registry.sink(&class).map_err(|e| e.to_string())?;
            c.start(config).map_err(|e| e.to_string())?;
            let t = c.task_configs(max_tasks);
            (Instance::Sink(c), t)
        }
    };
    Ok((inst, tasks.into_iter().take(max_tasks).collect()))
}

/// `PUT /connector-plugins/{plugin}/config/validate`: Kafka Connect's
/// validation response for `config` (the plugin fills in `connector.class`).
pub fn validate_plugin_config(
    worker: &Worker,
    plugin: &str,
    mut config: Props,
) -> HerderResult<serde_json::Value> {
    config
        .entry("connector.class".into())
        .or_insert_with(|| plugin.to_string());
    let v = connector_config::validate(&worker.env.registry, &worker.env.worker, &config)
        .map_err(HerderError::BadRequest)?;
    Ok(v.body)
}

/// Checks a connector config before it is accepted (name, class, every
/// key's value) and warns about keys that have no effect.
pub fn check_connector_config(worker: &Worker, name: &str, config: &mut Props) -> HerderResult<()> {
    if name.trim().is_empty() {
        return Err(HerderError::BadRequest(
            "Connector name must not be empty".into(),
        ));
    }
    config.insert("name".into(), name.to_string());
    let v = connector_config::validate(&worker.env.registry, &worker.env.worker, config)
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

impl Herder for StandaloneHerder {
    fn server_info(&self) -> BoxFuture<'_, serde_json::Value> {
        Box::pin(async move {
            json!({
                "version": env!("CARGO_PKG_VERSION"),
                "commit": option_env!("SLUICE_GIT_COMMIT").unwrap_or("unknown"),
                "kafka_cluster_id": self.cluster_id,
            })
        })
    }

    fn connectors(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move { self.configs.all().into_keys().collect() })
    }

    fn connector_info(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorInfo>> {
        let name = name.to_string();
        Box::pin(async move {
            let rec = self
                .configs
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            let map = self.connectors.lock().await;
            let rt = map
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            Ok(self.info(&name, &rec.config, rt))
        })
    }

    fn put_connector_config(
        &self,
        name: &str,
        mut config: Props,
        allow_replace: bool,
        initial_state: Option<TargetState>,
    ) -> BoxFuture<'_, HerderResult<(bool, ConnectorInfo)>> {
        let name = name.to_string();
        Box::pin(async move {
            check_connector_config(&self.worker, &name, &mut config)?;
            let mut map = self.connectors.lock().await;
            let existing = self.configs.get(&name);
            if existing.is_some() && !allow_replace {
                return Err(HerderError::Conflict(format!(
                    "Connector {name} already exists"
                )));
            }
            let created = existing.is_none();
            let target = match (&existing, initial_state) {
                (Some(rec), _) => rec.target_state,
                (None, Some(s)) => s,
                (None, None) => TargetState::Running,
            };
            let topics = existing.map(|r| r.topics).unwrap_or_default();
            let cfg = config.clone();
            self.configs
                .update(|m| {
                    m.insert(
                        name.clone(),
                        crate::store::ConnectorRecord {
                            config: cfg,
                            target_state: target,
                            topics,
                        },
                    );
                })
                .map_err(|e| HerderError::Internal(e.to_string()))?;
            if !created {
                self.worker.stop_connector_tasks(&name).await;
                if let Some(rt) = map.get_mut(&name) {
                    stop_instance(rt);
                }
            }
            let rt = self.start_connector(&name, &config, target).await;
            let info = self.info(&name, &config, &rt);
            map.insert(name.clone(), rt);
            tracing::info!(connector = %name, "connector {}", if created { "created" } else { "reconfigured" });
            Ok((created, info))
        })
    }

    fn delete_connector(&self, name: &str) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            let mut map = self.connectors.lock().await;
            if self.configs.get(&name).is_none() {
                return Err(HerderError::connector_not_found(&name));
            }
            self.worker.stop_connector_tasks(&name).await;
            if let Some(mut rt) = map.remove(&name) {
                stop_instance(&mut rt);
            }
            self.configs
                .update(|m| {
                    m.remove(&name);
                })
                .map_err(|e| HerderError::Internal(e.to_string()))?;
            tracing::info!(connector = %name, "connector deleted");
            Ok(())
        })
    }

    fn connector_status(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorStatus>> {
        let name = name.to_string();
        Box::pin(async move {
            let map = self.connectors.lock().await;
            let rt = map
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            Ok(self.status_of(&name, rt))
        })
    }

    fn task_status(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<TaskState>> {
        let name = name.to_string();
        Box::pin(async move {
            let map = self.connectors.lock().await;
            let rt = map
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            if task as usize >= rt.task_configs.len() {
                return Err(HerderError::NotFound(format!(
                    "Task {name}-{task} not found"
                )));
            }
            Ok(self.task_state(&name, task, rt))
        })
    }

    fn task_configs(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<TaskInfo>>> {
        let name = name.to_string();
        Box::pin(async move {
            let map = self.connectors.lock().await;
            let rt = map
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            Ok(rt
                .task_configs
                .iter()
                .enumerate()
                .map(|(i, c)| TaskInfo {
                    id: TaskId {
                        connector: name.clone(),
                        task: i as u32,
                    },
                    config: c.clone(),
                })
                .collect())
        })
    }

    fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> BoxFuture<'_, HerderResult<Option<ConnectorStatus>>> {
        let name = name.to_string();
        Box::pin(async move {
            let mut map = self.connectors.lock().await;
            let (connector_failed, n_tasks) = map
                .get(&name)
                .map(|rt| (rt.state == State::Failed, rt.task_configs.len() as u32))
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            if !include_tasks && !only_failed {
                self.restart_one(&name, &mut map).await?;
                return Ok(None);
            }
            let failed_tasks: Vec<u32> = (0..n_tasks)
                .filter(|t| {
                    self.worker
                        .task_status(&name, *t)
                        .map(|s| s.state == State::Failed)
                        .unwrap_or(false)
                })
                .collect();
            if include_tasks && (!only_failed || connector_failed) {
                self.restart_one(&name, &mut map).await?;
            } else if include_tasks {
                let rec = self
                    .configs
                    .get(&name)
                    .ok_or_else(|| HerderError::connector_not_found(&name))?;
                let (kind, task_configs) = map
                    .get(&name)
                    .map(|rt| (rt.kind, rt.task_configs.clone()))
                    .ok_or_else(|| HerderError::connector_not_found(&name))?;
                for t in failed_tasks {
                    self.worker.stop_task(&name, t).await;
                    self.worker.start_task(
                        TaskSpec {
                            connector: name.clone(),
                            task: t,
                            connector_config: rec.config.clone(),
                            task_config: task_configs[t as usize].clone(),
                            is_source: kind == ConnectorType::Source,
                        },
                        rec.target_state,
                    );
                }
            } else if connector_failed || !only_failed {
                self.restart_one(&name, &mut map).await?;
            }
            let rt = map
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            Ok(Some(self.status_of(&name, rt)))
        })
    }

    fn restart_task(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            let map = self.connectors.lock().await;
            let rec = self
                .configs
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            let (kind, tc) = {
                let rt = map
                    .get(&name)
                    .ok_or_else(|| HerderError::connector_not_found(&name))?;
                let tc = rt.task_configs.get(task as usize).cloned().ok_or_else(|| {
                    HerderError::NotFound(format!("Task {name}-{task} not found"))
                })?;
                (rt.kind, tc)
            };
            self.worker.stop_task(&name, task).await;
            self.worker.start_task(
                TaskSpec {
                    connector: name.clone(),
                    task,
                    connector_config: rec.config.clone(),
                    task_config: tc,
                    is_source: kind == ConnectorType::Source,
                },
                rec.target_state,
            );
            Ok(())
        })
    }

    fn set_target_state(&self, name: &str, state: TargetState) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            let mut map = self.connectors.lock().await;
            let rec = self
                .configs
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            let previous = rec.target_state;
            self.configs
                .update(|m| {
                    if let Some(r) = m.get_mut(&name) {
                        r.target_state = state;
                    }
                })
                .map_err(|e| HerderError::Internal(e.to_string()))?;
            match (previous, state) {
                (TargetState::Stopped, TargetState::Stopped) => {}
                (_, TargetState::Stopped) => {
                    self.worker.stop_connector_tasks(&name).await;
                    if let Some(rt) = map.get_mut(&name) {
                        stop_instance(rt);
                        rt.state = State::Stopped;
                        rt.task_configs.clear();
                    }
                }
                (TargetState::Stopped, _) => {
                    let rt = self.start_connector(&name, &rec.config, state).await;
                    map.insert(name.clone(), rt);
                }
                (_, s) => {
                    if let Some(rt) = map.get_mut(&name) {
                        if rt.state != State::Failed {
                            rt.state = if s == TargetState::Paused {
                                State::Paused
                            } else {
                                State::Running
                            };
                        }
                        for t in 0..rt.task_configs.len() as u32 {
                            self.worker.set_task_target(&name, t, s);
                        }
                    }
                }
            }
            Ok(())
        })
    }

    fn offsets(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<ConnectorOffset>>> {
        let name = name.to_string();
        Box::pin(async move {
            let (kind, rec) = self.source_or_sink(&name)?;
            match kind {
                ConnectorType::Source => Ok(self
                    .offsets
                    .all(&name)
                    .into_iter()
                    .map(|(partition, offset)| ConnectorOffset {
                        partition,
                        offset: Some(offset),
                    })
                    .collect()),
                _ => crate::sink_offsets::read(&self.worker.env.worker, &name, &rec.config).await,
            }
        })
    }

    fn modify_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<ConnectorOffset>>,
    ) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            let _guard = self.connectors.lock().await;
            let (kind, rec) = self.source_or_sink(&name)?;
            if rec.target_state != TargetState::Stopped {
                return Err(HerderError::BadRequest(format!(
                    "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
                )));
            }
            match kind {
                ConnectorType::Source => {
                    let entries: Vec<(JsonMap, Option<JsonMap>)> = match offsets {
                        Some(list) => list.into_iter().map(|o| (o.partition, o.offset)).collect(),
                        None => self
                            .offsets
                            .all(&name)
                            .into_iter()
                            .map(|(p, _)| (p, None))
                            .collect(),
                    };
                    self.offsets
                        .put(&name, entries)
                        .map_err(|e| HerderError::Internal(e.to_string()))
                }
                _ => crate::sink_offsets::modify(&self.worker.env.worker, &name, offsets).await,
            }
        })
    }

    fn active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<String>>> {
        let name = name.to_string();
        Box::pin(async move {
            let rec = self
                .configs
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            Ok(rec.topics)
        })
    }

    fn reset_active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            if self.configs.get(&name).is_none() {
                return Err(HerderError::connector_not_found(&name));
            }
            self.configs
                .update(|m| {
                    if let Some(r) = m.get_mut(&name) {
                        r.topics.clear();
                    }
                })
                .map_err(|e| HerderError::Internal(e.to_string()))
        })
    }

    fn validate_config(
        &self,
        plugin: &str,
        config: Props,
    ) -> BoxFuture<'_, HerderResult<serde_json::Value>> {
        let plugin = plugin.to_string();
        Box::pin(async move { validate_plugin_config(&self.worker, &plugin, config) })
    }

    fn plugins(&self, connectors_only: bool) -> Vec<serde_json::Value> {
        crate::rest_support::plugin_list(&self.worker.env.registry, connectors_only)
    }

    fn plugin_config(&self, plugin: &str) -> HerderResult<Vec<serde_json::Value>> {
        crate::rest_support::plugin_config(&self.worker.env.registry, plugin)
    }
}

/// Records a topic in a connector's active topics (KIP-558).
pub fn record_topic(configs: &FileConfigStore, connector: &str, topic: &str) {
    let res = configs.update(|m| {
        if let Some(r) = m.get_mut(connector) {
            if !r.topics.iter().any(|t| t == topic) {
                r.topics.push(topic.to_string());
            }
        }
    });
    if let Err(e) = res {
        tracing::warn!(connector, "cannot record active topic {topic}: {e}");
    }
}
