//! The standalone herder: one process, state in local files.
//!
//! Connector configs and target states live in the config file, source
//! offsets in the offset file; both are written atomically before a change
//! is acknowledged, so a worker killed with -9 restarts with every connector
//! it had accepted, in its last target state, resuming from the last
//! committed offsets.
//!
//! What differs from distributed mode is only that this worker runs every
//! connector and task itself: a REST change takes effect here, at once,
//! under one lock. Validation, the start decision and offsets are the
//! [`HerderCore`]'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::core::{task_ids, HerderCore, LocalConnector};
use crate::herder::*;
use crate::plugin::{BoxFuture, Props};
use crate::store::FileConfigStore;
use crate::worker::Worker;

/// A connector this worker runs, with the task configs it gave.
struct ConnectorRuntime {
    connector: LocalConnector,
    task_configs: Vec<Props>,
}

/// The standalone herder.
pub struct StandaloneHerder {
    core: HerderCore,
    /// The same store as `core.configs`, for what only files keep (active topics).
    files: Arc<FileConfigStore>,
    connectors: Mutex<BTreeMap<String, ConnectorRuntime>>,
}

impl StandaloneHerder {
    pub fn new(
        worker: Arc<Worker>,
        configs: Arc<FileConfigStore>,
        cluster_id: String,
    ) -> Arc<StandaloneHerder> {
        Arc::new(StandaloneHerder {
            core: HerderCore::new(worker, configs.clone(), cluster_id),
            files: configs,
            connectors: Mutex::new(BTreeMap::new()),
        })
    }

    fn worker(&self) -> &Worker {
        &self.core.worker
    }

    /// Starts every stored connector in its stored target state.
    pub async fn start_stored(&self) {
        let stored = self.files.all();
        let mut map = self.connectors.lock().await;
        for (name, rec) in stored {
            let rt = self.start_connector(&name, &rec.config, rec.target_state);
            map.insert(name, rt);
        }
    }

    /// Stops every connector and task (worker shutdown).
    pub async fn shutdown(&self) {
        let mut map = self.connectors.lock().await;
        for (name, rt) in map.iter_mut() {
            self.worker().stop_connector_tasks(name).await;
            rt.connector.stop_instance();
        }
    }

    /// Starts a connector instance and, unless STOPPED or FAILED, its tasks.
    fn start_connector(&self, name: &str, config: &Props, target: TargetState) -> ConnectorRuntime {
        let started = self.core.start_connector(name, config, target);
        let task_configs = started.tasks.unwrap_or_default();
        for (i, tc) in task_configs.iter().enumerate() {
            self.core
                .start_task(name, i as u32, config, tc.clone(), target);
        }
        ConnectorRuntime {
            connector: started.connector,
            task_configs,
        }
    }

    fn status_of(&self, name: &str, rt: &ConnectorRuntime) -> ConnectorStatus {
        ConnectorStatus {
            name: name.to_string(),
            connector: ConnectorState {
                state: rt.connector.state,
                worker_id: self.worker().worker_id(),
                trace: rt.connector.trace.clone(),
            },
            tasks: (0..rt.task_configs.len() as u32)
                .map(|id| self.task_state(name, id, rt))
                .collect(),
            kind: rt.connector.kind,
        }
    }

    fn task_state(&self, name: &str, id: u32, rt: &ConnectorRuntime) -> TaskState {
        let worker_id = self.worker().worker_id();
        self.core
            .local_task_state(name, id, &worker_id)
            .unwrap_or(TaskState {
                id,
                state: if rt.connector.state == State::Stopped {
                    State::Stopped
                } else {
                    State::Unassigned
                },
                worker_id,
                trace: None,
                progress: None,
                starts: None,
                errors: None,
            })
    }

    /// Restarts the connector instance and all its tasks.
    async fn restart_one(
        &self,
        name: &str,
        map: &mut BTreeMap<String, ConnectorRuntime>,
    ) -> HerderResult<()> {
        let rec = self
            .files
            .get(name)
            .ok_or_else(|| HerderError::connector_not_found(name))?;
        self.worker().stop_connector_tasks(name).await;
        if let Some(rt) = map.get_mut(name) {
            rt.connector.stop_instance();
        }
        let rt = self.start_connector(name, &rec.config, rec.target_state);
        map.insert(name.to_string(), rt);
        Ok(())
    }

    /// Stops and starts tasks again with the configs they were given.
    async fn restart_tasks(&self, name: &str, tasks: Vec<(u32, Props)>) -> HerderResult<()> {
        let rec = self
            .files
            .get(name)
            .ok_or_else(|| HerderError::connector_not_found(name))?;
        for (t, tc) in tasks {
            self.worker().stop_task(name, t).await;
            self.core
                .start_task(name, t, &rec.config, tc, rec.target_state);
        }
        Ok(())
    }
}

impl ConnectorRuntime {
    /// The given tasks with their configs (404 for a task it does not have).
    fn tasks(&self, name: &str, ids: &[u32]) -> HerderResult<Vec<(u32, Props)>> {
        ids.iter()
            .map(|&t| match self.task_configs.get(t as usize) {
                Some(tc) => Ok((t, tc.clone())),
                None => Err(HerderError::NotFound(format!("Task {name}-{t} not found"))),
            })
            .collect()
    }
}

fn runtime<'a>(
    map: &'a BTreeMap<String, ConnectorRuntime>,
    name: &str,
) -> HerderResult<&'a ConnectorRuntime> {
    map.get(name)
        .ok_or_else(|| HerderError::connector_not_found(name))
}

impl Herder for StandaloneHerder {
    fn server_info(&self) -> BoxFuture<'_, serde_json::Value> {
        Box::pin(async move { self.core.server_info() })
    }

    fn connectors(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move { self.core.configs.connectors() })
    }

    fn connector_info(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorInfo>> {
        let name = name.to_string();
        Box::pin(async move {
            let config = self.core.existing(&name)?;
            let map = self.connectors.lock().await;
            let rt = runtime(&map, &name)?;
            Ok(self.core.info(&name, config, rt.task_configs.len()))
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
            self.core.check_connector_config(&name, &mut config)?;
            let mut map = self.connectors.lock().await;
            let created = self.core.configs.config(&name).is_none();
            if !created && !allow_replace {
                return Err(HerderError::Conflict(format!(
                    "Connector {name} already exists"
                )));
            }
            self.core
                .configs
                .put_config(&name, &config, initial_state)
                .await?;
            if !created {
                self.worker().stop_connector_tasks(&name).await;
                if let Some(rt) = map.get_mut(&name) {
                    rt.connector.stop_instance();
                }
            }
            let target = self.core.configs.target_state(&name);
            let rt = self.start_connector(&name, &config, target);
            let info = self.core.info(&name, config, rt.task_configs.len());
            map.insert(name.clone(), rt);
            tracing::info!(connector = %name, "connector {}", if created { "created" } else { "reconfigured" });
            Ok((created, info))
        })
    }

    fn delete_connector(&self, name: &str) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            let mut map = self.connectors.lock().await;
            self.core.existing(&name)?;
            self.worker().stop_connector_tasks(&name).await;
            if let Some(mut rt) = map.remove(&name) {
                rt.connector.stop_instance();
            }
            self.core.configs.remove(&name).await?;
            tracing::info!(connector = %name, "connector deleted");
            Ok(())
        })
    }

    fn connector_status(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorStatus>> {
        let name = name.to_string();
        Box::pin(async move {
            let map = self.connectors.lock().await;
            Ok(self.status_of(&name, runtime(&map, &name)?))
        })
    }

    fn task_status(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<TaskState>> {
        let name = name.to_string();
        Box::pin(async move {
            let map = self.connectors.lock().await;
            let rt = runtime(&map, &name)?;
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
            let rt = runtime(&map, &name)?;
            Ok(task_ids(&name, rt.task_configs.len())
                .into_iter()
                .zip(&rt.task_configs)
                .map(|(id, c)| TaskInfo {
                    id,
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
            let rt = runtime(&map, &name)?;
            let connector_failed = rt.connector.state == State::Failed;
            let failed_tasks: Vec<u32> = (0..rt.task_configs.len() as u32)
                .filter(|t| self.core.task_failed(&name, *t))
                .collect();
            let failed_tasks = rt.tasks(&name, &failed_tasks)?;
            if !include_tasks && !only_failed {
                self.restart_one(&name, &mut map).await?;
                return Ok(None);
            }
            if include_tasks && (!only_failed || connector_failed) {
                self.restart_one(&name, &mut map).await?;
            } else if include_tasks {
                self.restart_tasks(&name, failed_tasks).await?;
            } else if connector_failed || !only_failed {
                self.restart_one(&name, &mut map).await?;
            }
            Ok(Some(self.status_of(&name, runtime(&map, &name)?)))
        })
    }

    fn restart_task(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            let map = self.connectors.lock().await;
            self.core.existing(&name)?;
            let tasks = runtime(&map, &name)?.tasks(&name, &[task])?;
            self.restart_tasks(&name, tasks).await
        })
    }

    fn set_target_state(&self, name: &str, state: TargetState) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            let mut map = self.connectors.lock().await;
            let config = self.core.existing(&name)?;
            let previous = self.core.configs.target_state(&name);
            self.core.configs.put_target_state(&name, state).await?;
            match (previous, state) {
                (TargetState::Stopped, TargetState::Stopped) => {}
                (_, TargetState::Stopped) => {
                    self.worker().stop_connector_tasks(&name).await;
                    if let Some(rt) = map.get_mut(&name) {
                        rt.connector.stop_instance();
                        rt.connector.state = State::Stopped;
                        rt.task_configs.clear();
                    }
                }
                (TargetState::Stopped, _) => {
                    let rt = self.start_connector(&name, &config, state);
                    map.insert(name.clone(), rt);
                }
                (_, s) => {
                    if let Some(rt) = map.get_mut(&name) {
                        rt.connector.follow_target(s);
                        for t in 0..rt.task_configs.len() as u32 {
                            self.worker().set_task_target(&name, t, s);
                        }
                    }
                }
            }
            Ok(())
        })
    }

    fn offsets(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<ConnectorOffset>>> {
        let name = name.to_string();
        Box::pin(async move { self.core.offsets(&name).await })
    }

    fn modify_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<ConnectorOffset>>,
    ) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            // No start or stop while the offsets change.
            let _guard = self.connectors.lock().await;
            self.core.modify_offsets(&name, offsets).await
        })
    }

    fn active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<String>>> {
        let name = name.to_string();
        Box::pin(async move {
            let rec = self
                .files
                .get(&name)
                .ok_or_else(|| HerderError::connector_not_found(&name))?;
            Ok(rec.topics)
        })
    }

    fn reset_active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            self.core.existing(&name)?;
            Ok(self.files.update(|m| {
                if let Some(r) = m.get_mut(&name) {
                    r.topics.clear();
                }
            })?)
        })
    }

    fn validate_config(
        &self,
        plugin: &str,
        config: Props,
    ) -> BoxFuture<'_, HerderResult<serde_json::Value>> {
        let plugin = plugin.to_string();
        Box::pin(async move { self.core.validate_config(&plugin, config) })
    }

    fn plugins(&self, connectors_only: bool) -> Vec<serde_json::Value> {
        self.core.plugins(connectors_only)
    }

    fn plugin_config(&self, plugin: &str) -> HerderResult<Vec<serde_json::Value>> {
        self.core.plugin_config(plugin)
    }

    /// Kafka Connect's standalone criterion: the herder is not stuck, i.e.
    /// its lock (held by every connector start, stop and change) can be
    /// taken within `timeout`.
    fn metrics(&self) -> String {
        self.core
            .worker
            .metrics_text(self.core.configs.connectors().len())
    }

    fn health_check(&self, timeout: std::time::Duration) -> BoxFuture<'_, Health> {
        Box::pin(async move {
            match tokio::time::timeout(timeout, self.connectors.lock()).await {
                Ok(_) => Health::Healthy,
                Err(_) => Health::Unhealthy(format!(
                    "Its connector lock stayed held for {} ms: a connector start, stop or config change has not finished; the worker's log says which.",
                    timeout.as_millis()
                )),
            }
        })
    }
}
