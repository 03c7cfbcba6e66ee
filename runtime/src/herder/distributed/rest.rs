//! The [`Herder`] the REST API calls: reads from the configs and statuses
//! every worker folds in, writes by way of the config topic (the worker that
//! owns a unit acts on the record, see [`super::config_events`]), and the
//! rest from the [`HerderCore`](crate::herder::core::HerderCore).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::DistributedHerder;
use crate::herder::core::task_ids;
use crate::herder::{
    ConnectorInfo, ConnectorOffset, ConnectorStatus, Health, Herder, HerderError, HerderResult,
    TargetState, TaskInfo, TaskState,
};
use crate::plugin::{BoxFuture, Props};
use crate::store::ConfigStore;

impl DistributedHerder {
    pub(super) fn existing(&self, name: &str) -> HerderResult<Props> {
        self.core.existing(name)
    }

    /// A task of a stored connector, or Kafka Connect's 404.
    pub(super) fn existing_task(&self, name: &str, task: u32) -> HerderResult<()> {
        self.existing(name)?;
        if task as usize >= self.cfg().task_count(name) {
            return Err(HerderError::NotFound(format!(
                "Task {name}-{task} not found"
            )));
        }
        Ok(())
    }
}

impl Herder for DistributedHerder {
    fn server_info(&self) -> BoxFuture<'_, serde_json::Value> {
        Box::pin(async move { self.core.server_info() })
    }

    fn connectors(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move { self.core.configs.connectors() })
    }

    fn connector_info(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorInfo>> {
        let name = name.to_string();
        Box::pin(async move {
            let config = self.existing(&name)?;
            let n = self.cfg().task_count(&name);
            Ok(self.core.info(&name, config, n))
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
            self.read_configs().await?;
            let conflict = || HerderError::Conflict(format!("Connector {name} already exists"));
            let mut exists = self.cfg().connectors.contains_key(&name);
            if exists && !allow_replace {
                return Err(conflict());
            }
            let mut claimed = false;
            if !exists {
                // Two workers creating one name at once: the first claim
                // in the config topic's order creates it (see topic_configs).
                let nonce = format!("{}-{}", self.dc.worker_id, claim_nonce());
                self.configs.claim(&name, &nonce).await?;
                self.read_configs().await?;
                let won = self.cfg().claim_winner(&name) == Some(nonce.as_str())
                    && !self.cfg().connectors.contains_key(&name);
                if !won {
                    if !allow_replace {
                        return Err(conflict());
                    }
                    exists = true; // the other creates it; this one updates it
                }
                claimed = won;
            }
            self.configs
                .put_config(&name, &config, initial_state)
                .await?;
            if claimed {
                if let Err(e) = self.configs.clear_claim(&name).await {
                    tracing::debug!(connector = %name, "cannot clear the creation claim: {e}");
                }
            }
            self.read_configs().await?;
            tracing::info!(connector = %name, "connector {}", if exists { "reconfigured" } else { "created" });
            let n = self.cfg().task_count(&name);
            Ok((!exists, self.core.info(&name, config, n)))
        })
    }

    fn delete_connector(&self, name: &str) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            self.read_configs().await?;
            self.existing(&name)?;
            self.configs.remove(&name).await?;
            self.read_configs().await
        })
    }

    fn connector_status(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorStatus>> {
        let name = name.to_string();
        Box::pin(async move {
            let config = self.existing(&name)?;
            let n = self.cfg().task_count(&name) as u32;
            let local = self.local.try_lock().ok();
            Ok(ConnectorStatus {
                connector: self.connector_state(local.as_deref(), &name),
                tasks: (0..n).map(|i| self.task_state(&name, i)).collect(),
                kind: self.core.connector_kind(&config),
                name,
            })
        })
    }

    fn task_status(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<TaskState>> {
        let name = name.to_string();
        Box::pin(async move {
            self.existing_task(&name, task)?;
            Ok(self.task_state(&name, task))
        })
    }

    fn task_configs(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<TaskInfo>>> {
        let name = name.to_string();
        Box::pin(async move {
            self.existing(&name)?;
            let list = self.cfg().tasks.get(&name).cloned().unwrap_or_default();
            Ok(task_ids(&name, list.len())
                .into_iter()
                .zip(list)
                .map(|(id, config)| TaskInfo { id, config })
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
            self.existing(&name)?;
            self.configs
                .request_connector_restart(&name, include_tasks, only_failed)
                .await?;
            self.read_configs().await?;
            if !include_tasks && !only_failed {
                return Ok(None);
            }
            self.connector_status(&name).await.map(Some)
        })
    }

    fn restart_task(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            self.existing_task(&name, task)?;
            self.configs.request_task_restart(&name, task).await?;
            self.read_configs().await
        })
    }

    fn set_target_state(&self, name: &str, state: TargetState) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            self.existing(&name)?;
            self.configs.put_target_state(&name, state).await?;
            self.read_configs().await
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
            self.read_configs().await?;
            self.tasks_gone(&name).await?;
            self.core.modify_offsets(&name, offsets).await
        })
    }

    fn active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<String>>> {
        let name = name.to_string();
        Box::pin(async move {
            self.existing(&name)?;
            let _ = self.status_log.read_to_end(Duration::from_secs(10)).await;
            let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
            Ok(st.topics.get(&name).cloned().unwrap_or_default())
        })
    }

    fn reset_active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<()>> {
        let name = name.to_string();
        Box::pin(async move {
            self.existing(&name)?;
            let topics = {
                let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
                st.topics.get(&name).cloned().unwrap_or_default()
            };
            for t in topics {
                self.status_log
                    .send(&format!("topic-{t}-connector-{name}"), None)
                    .await
                    .map_err(|e| HerderError::Internal(e.to_string()))?;
            }
            let _ = self.status_log.read_to_end(Duration::from_secs(10)).await;
            Ok(())
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

    /// Starting until the first assignment is applied; then healthy while
    /// the worker holds its group membership (its lease is current), can
    /// read the config topic to its end (what every REST write does first),
    /// and can take its local-state lock, all within `timeout`. The causes
    /// Kafka Connect's tick thread would be stuck on (a broker that does not
    /// answer, a rebalance that does not finish) fail it.
    fn metrics(&self) -> String {
        // The connectors this worker runs; the lock is not waited for.
        let connectors = self
            .local
            .try_lock()
            .map(|l| l.connectors.len())
            .unwrap_or(0);
        let mut text = self.core.worker.metrics_text(connectors);
        self.rebalances
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .render(&mut text);
        text
    }

    fn health_check(&self, timeout: Duration) -> BoxFuture<'_, Health> {
        Box::pin(async move {
            if self.generation.load(Ordering::SeqCst) < 0 {
                return Health::Starting(Some(format!(
                    "The worker is currently joining the group {} (group.id) through the brokers at bootstrap.servers={}.",
                    self.dc.group_id, self.bootstrap
                )));
            }
            if !self.lease.valid() && !self.stopping.load(Ordering::SeqCst) {
                return Health::Unhealthy(format!(
                    "It has lost its membership of group {}: no heartbeat was answered within session.timeout.ms ({} ms), so its tasks are stopped until it rejoins. Check that the brokers at bootstrap.servers={} are up and reachable.",
                    self.dc.group_id,
                    self.dc.session_timeout.as_millis(),
                    self.bootstrap
                ));
            }
            let deadline = tokio::time::Instant::now() + timeout;
            match tokio::time::timeout_at(deadline, self.read_configs()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Health::Unhealthy(format!(
                        "It cannot read the config topic {} to its end: {e}. Check that the brokers at bootstrap.servers={} are up and reachable.",
                        self.dc.config_topic, self.bootstrap
                    ))
                }
                Err(_) => {
                    return Health::Unhealthy(format!(
                        "It could not read the config topic {} to its end within {} ms. Check that the brokers at bootstrap.servers={} are up and reachable.",
                        self.dc.config_topic,
                        timeout.as_millis(),
                        self.bootstrap
                    ))
                }
            }
            if tokio::time::timeout_at(deadline, self.local.lock())
                .await
                .is_err()
            {
                return Health::Unhealthy(format!(
                    "Its connector and task state stayed locked for {} ms: a rebalance, or a connector or task start or stop, has not finished; the worker's log says which.",
                    timeout.as_millis()
                ));
            }
            Health::Healthy
        })
    }
}

/// How long after a connector was seen STOPPED a task status that still
/// says RUNNING is taken for a dead worker's leftover (a worker that died
/// before it could write UNASSIGNED) rather than a task still stopping.
const STOPPING_GRACE: Duration = Duration::from_secs(30);

impl DistributedHerder {
    /// Kafka Connect changes offsets only once the connector's tasks are
    /// gone: a task still stopping commits its last offsets on its way out,
    /// which would undo a reset made meanwhile. Gone means no task configs
    /// (the connector's owner clears them on STOPPED) and no task status
    /// RUNNING, PAUSED or RESTARTING in the status topic (each worker writes
    /// UNASSIGNED once its task stopped), or STOPPED for longer than
    /// [`STOPPING_GRACE`].
    async fn tasks_gone(&self, name: &str) -> HerderResult<()> {
        let stopped_msg = || {
            HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            ))
        };
        if self.cfg().target(name) != TargetState::Stopped {
            return Err(stopped_msg());
        }
        if self.cfg().task_count(name) != 0 {
            return Err(stopped_msg());
        }
        let _ = self.status_log.read_to_end(Duration::from_secs(10)).await;
        let live: Vec<String> = {
            let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
            st.tasks
                .iter()
                .filter(|((c, _), rec)| {
                    c == name
                        && matches!(
                            rec.state,
                            crate::herder::State::Running
                                | crate::herder::State::Paused
                                | crate::herder::State::Restarting
                        )
                })
                .map(|((_, n), rec)| format!("task {n} on {}", rec.worker_id))
                .collect()
        };
        if live.is_empty() {
            return Ok(());
        }
        let seen = self
            .stopped_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied();
        if seen.is_some_and(|t| t.elapsed() >= STOPPING_GRACE) {
            return Ok(());
        }
        Err(HerderError::BadRequest(format!(
            "Connector {name} is STOPPED but its tasks are still stopping ({}); its offsets can be modified once they are gone, within seconds: retry the request",
            live.join(", ")
        )))
    }
}

/// A nonce no other claim has: the time in nanoseconds and a counter.
fn claim_nonce() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{t}-{n}")
}
