//! Acting on config-topic records as they arrive: a reconfigured, deleted,
//! paused, stopped or restarted connector, new task configs. Placement
//! changes go through a rebalance that the leader asks for.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{status_key_connector, status_key_task, DistributedHerder};
use crate::herder::{State, TargetState};
use crate::store::topic_configs::ConfigEvent;

impl DistributedHerder {
    pub(super) async fn config_events(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<ConfigEvent>,
    ) {
        while let Some(ev) = rx.recv().await {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            self.on_config_event(ev).await;
        }
    }

    pub(super) async fn on_config_event(&self, ev: ConfigEvent) {
        let mut local = self.local.lock().await;
        match ev {
            ConfigEvent::Connector(name) => {
                // A task runs with its connector's config too (transforms,
                // converters, client overrides), which its task config may
                // not carry: a reconfiguration restarts the tasks here even
                // when the connector makes the same task configs.
                let mine = local.tasks_of(&name);
                if !mine.is_empty() {
                    tracing::info!(connector = %name, "connector reconfigured; restarting its tasks here");
                    for t in mine {
                        self.restart_task_locally(&mut local, &t).await;
                    }
                }
                if local.connectors.contains_key(&name) {
                    tracing::info!(connector = %name, "connector reconfigured; restarting it");
                    self.restart_connector_locally(&mut local, &name).await;
                } else {
                    // Always ask (the leader): applying an assignment may
                    // already have counted this connector from the configs
                    // read meanwhile, although the placement did not place
                    // it. The membership loop skips a round whose placement
                    // saw this config offset already.
                    local.known.entry(name).or_insert(0);
                    self.request_rejoin();
                }
            }
            ConfigEvent::Removed(name) => {
                let tasks = local.tasks_of(&name);
                self.stop_tasks(&mut local, &tasks, false).await;
                let owned = local.connectors.contains_key(&name);
                self.stop_connector(&mut local, &name, false).await;
                if owned && self.lease.valid() {
                    // The owner clears the deleted connector's statuses.
                    let n = local
                        .known
                        .get(&name)
                        .copied()
                        .unwrap_or(0)
                        .max(tasks.len());
                    let mut keys = vec![status_key_connector(&name)];
                    keys.extend((0..n as u32).map(|i| status_key_task(&name, i)));
                    self.status_epoch.fetch_add(1, Ordering::SeqCst);
                    let _write = self.status_write.lock().await;
                    for k in keys {
                        local.published.remove(&k);
                        let _ = self.status_log.send(&k, None).await;
                    }
                }
                local.known.remove(&name);
                self.request_rejoin();
                tracing::info!(connector = %name, "connector deleted");
            }
            ConfigEvent::Tasks(name) => {
                let committed = self.cfg().tasks.get(&name).cloned().unwrap_or_default();
                let mine = local.tasks_of(&name);
                for t in mine {
                    match committed.get(t.1 as usize) {
                        None => {
                            self.stop_tasks(&mut local, std::slice::from_ref(&t), true)
                                .await
                        }
                        Some(cfg) if local.tasks.get(&t) != Some(cfg) => {
                            self.restart_task_locally(&mut local, &t).await;
                        }
                        Some(_) => {}
                    }
                }
                // As for a new connector: `known` may already hold the new
                // count without a placement that placed these tasks.
                local.known.insert(name, committed.len());
                self.request_rejoin();
            }
            ConfigEvent::Target(name) => {
                let target = self.cfg().target(&name);
                let stopped_before = local
                    .connectors
                    .get(&name)
                    .map(|c| c.state == State::Stopped);
                match (target, stopped_before) {
                    (TargetState::Stopped, Some(false)) => {
                        if let Some(lc) = local.connectors.get_mut(&name) {
                            lc.stop_instance();
                            lc.state = State::Stopped;
                            lc.trace = None;
                        }
                        if self.cfg().task_count(&name) > 0 {
                            if let Err(e) = self.configs.put_task_configs(&name, &[]).await {
                                tracing::error!(connector = %name, "cannot clear task configs: {e}");
                            }
                        }
                    }
                    (TargetState::Running | TargetState::Paused, Some(true)) => {
                        self.restart_connector_locally(&mut local, &name).await;
                    }
                    (s, Some(false)) => {
                        if let Some(lc) = local.connectors.get_mut(&name) {
                            lc.follow_target(s);
                        }
                    }
                    _ => {}
                }
                let mine = local.tasks_of(&name);
                if target == TargetState::Stopped {
                    self.stopped_seen
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(name.clone())
                        .or_insert_with(std::time::Instant::now);
                    // UNASSIGNED once each has stopped (and committed its
                    // last offsets): what offset changes wait for.
                    self.stop_tasks(&mut local, &mine, true).await;
                } else {
                    self.stopped_seen
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&name);
                    for t in mine {
                        self.worker().set_task_target(&t.0, t.1, target);
                    }
                }
            }
            ConfigEvent::RestartConnector {
                name,
                include_tasks,
                only_failed,
            } => {
                let failed = local
                    .connectors
                    .get(&name)
                    .map(|c| c.state == State::Failed);
                if let Some(f) = failed {
                    if !only_failed || f {
                        tracing::info!(connector = %name, "restarting connector");
                        self.restart_connector_locally(&mut local, &name).await;
                    }
                }
                if include_tasks {
                    let mine = local.tasks_of(&name);
                    for t in mine {
                        if !only_failed || self.core.task_failed(&t.0, t.1) {
                            self.restart_task_locally(&mut local, &t).await;
                        }
                    }
                }
            }
            ConfigEvent::RestartTask(name, n) => {
                let t = (name, n);
                if local.tasks.contains_key(&t) {
                    tracing::info!(connector = %t.0, task = t.1, "restarting task");
                    self.restart_task_locally(&mut local, &t).await;
                }
            }
        }
    }
}
