//! Applying an assignment: stop what left this worker's share, start what
//! joined it, leave the rest running; and starting or stopping one local
//! connector or task.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::assign::{Assignment, TaskKey};
use super::{status_key_connector, status_key_task, DistributedHerder, Local};
use crate::herder::State;
use crate::store::topic_statuses::StatusRecord;

impl DistributedHerder {
    /// Makes local work match an assignment: stops what left it, starts
    /// what joined it, leaves the rest running. Returns whether it stopped
    /// anything.
    pub(super) async fn apply(&self, a: Assignment) -> bool {
        if self.stopping.load(Ordering::SeqCst) {
            return false;
        }
        if a.config_offset > self.cfg().offset {
            if let Err(e) = self.configs.read_to_end().await {
                tracing::warn!("cannot catch up with the config topic: {e}");
            }
        }
        let mut local = self.local.lock().await;
        let want_c: BTreeSet<String> = a.units.connectors.iter().cloned().collect();
        let want_t: BTreeSet<TaskKey> = a.units.tasks.iter().cloned().collect();
        let stop_t: Vec<TaskKey> = local
            .tasks
            .keys()
            .filter(|t| !want_t.contains(*t))
            .cloned()
            .collect();
        self.stop_tasks(&mut local, &stop_t, true).await;
        let stop_c: Vec<String> = local
            .connectors
            .keys()
            .filter(|c| !want_c.contains(*c))
            .cloned()
            .collect();
        let stopped = !stop_t.is_empty() || !stop_c.is_empty();
        for name in stop_c {
            self.stop_connector(&mut local, &name, true).await;
        }
        for name in &want_c {
            if !local.connectors.contains_key(name) {
                self.start_connector(&mut local, name).await;
            }
        }
        let start_t: Vec<TaskKey> = want_t
            .iter()
            .filter(|t| !local.tasks.contains_key(*t))
            .cloned()
            .collect();
        if !start_t.is_empty() {
            // Resume from what the previous owner committed.
            if let Some(log) = self.offsets.log() {
                if let Err(e) = log.read_to_end(Duration::from_secs(30)).await {
                    tracing::warn!(
                        "cannot read the offset topic to its end before starting tasks: {e}"
                    );
                }
            }
        }
        for t in start_t {
            self.start_task(&mut local, &t);
        }
        let c = self.cfg().clone();
        local.known = c
            .connectors
            .keys()
            .map(|n| (n.clone(), c.task_count(n)))
            .collect();
        stopped
    }

    /// Stops every local connector and task (shutdown, or membership lost).
    pub(super) async fn release_all(&self, write_status: bool) {
        let mut local = self.local.lock().await;
        // What this worker wrote before no longer stands: whoever runs the
        // work next (this worker again, too) writes its status anew.
        local.published.clear();
        self.status_epoch.fetch_add(1, Ordering::SeqCst);
        let tasks: Vec<TaskKey> = local.tasks.keys().cloned().collect();
        self.stop_tasks(&mut local, &tasks, write_status).await;
        let names: Vec<String> = local.connectors.keys().cloned().collect();
        for n in names {
            self.stop_connector(&mut local, &n, write_status).await;
        }
    }

    pub(super) async fn start_connector(&self, local: &mut Local, name: &str) {
        let (config, target, committed) = {
            let c = self.cfg();
            match c.connectors.get(name) {
                Some(p) => (
                    p.clone(),
                    c.target(name),
                    c.tasks.get(name).cloned().unwrap_or_default(),
                ),
                None => return,
            }
        };
        let started = self.core.start_connector(name, &config, target);
        local.connectors.insert(name.to_string(), started.connector);
        if let Some(t) = started.tasks {
            if t != committed {
                self.fence_removed_tasks(name, &config, t.len(), committed.len())
                    .await;
                if let Err(e) = self.configs.put_task_configs(name, &t).await {
                    tracing::error!(connector = name, "cannot write task configs: {e}");
                }
            }
        }
    }
    /// Under exactly-once delivery, a source connector whose task count
    /// shrank has its removed tasks' transactional ids fenced before the new
    /// task configs are written, as Kafka Connect's fencing round does: a
    /// removed task still running on a worker that missed the change can
    /// then commit nothing. The count fenced is recorded in the config topic
    /// (Kafka Connect's task count record), so a connector stopped (no task
    /// configs) and resumed with fewer tasks fences the right ids too. A
    /// failed fencing is logged; the new tasks fence their own predecessors
    /// when they start in any case.
    async fn fence_removed_tasks(
        &self,
        name: &str,
        config: &crate::plugin::Props,
        new: usize,
        committed: usize,
    ) {
        let worker = self.core.worker.env.worker.clone();
        if !worker.exactly_once_enabled()
            || self.core.connector_kind(config) != crate::herder::ConnectorType::Source
            || new == 0
        {
            return;
        }
        let recorded = self.cfg().fenced_task_counts.get(name).copied();
        let before = committed.max(recorded.unwrap_or(0));
        if new < before {
            let (name, removed) = (name.to_string(), new..before);
            let fenced = tokio::task::spawn_blocking(move || {
                crate::worker::fence_removed_tasks(&worker, &name, removed)
            })
            .await;
            match fenced {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!("{e}");
                    return;
                }
                Err(e) => {
                    tracing::error!("fencing removed tasks stopped: {e}");
                    return;
                }
            }
        }
        if recorded != Some(new) {
            if let Err(e) = self.configs.put_fenced_task_count(name, new).await {
                tracing::warn!(connector = name, "cannot write the task count record: {e}");
            }
        }
    }

    pub(super) async fn stop_connector(&self, local: &mut Local, name: &str, write_status: bool) {
        if let Some(mut lc) = local.connectors.remove(name) {
            lc.stop_instance();
            if write_status {
                self.unassigned(local, &status_key_connector(name)).await;
            }
        }
    }

    pub(super) fn start_task(&self, local: &mut Local, t: &TaskKey) {
        let (conn_cfg, task_cfg, target) = {
            let c = self.cfg();
            let Some(conn_cfg) = c.connectors.get(&t.0).cloned() else {
                return;
            };
            let Some(task_cfg) = c.tasks.get(&t.0).and_then(|l| l.get(t.1 as usize)).cloned()
            else {
                return;
            };
            (conn_cfg, task_cfg, c.target(&t.0))
        };
        self.core
            .start_task(&t.0, t.1, &conn_cfg, task_cfg.clone(), target);
        local.tasks.insert(t.clone(), task_cfg);
    }

    /// Stops tasks in parallel (each bounded by the graceful timeout).
    pub(super) async fn stop_tasks(
        &self,
        local: &mut Local,
        tasks: &[TaskKey],
        write_status: bool,
    ) {
        let handles: Vec<_> = tasks
            .iter()
            .map(|t| {
                let w = self.worker().clone();
                let t = t.clone();
                tokio::spawn(async move { w.stop_task(&t.0, t.1).await })
            })
            .collect();
        for h in handles {
            let _ = h.await;
        }
        for t in tasks {
            local.tasks.remove(t);
            local.restarts.remove(t);
            if write_status {
                self.unassigned(local, &status_key_task(&t.0, t.1)).await;
            }
        }
    }

    pub(super) async fn restart_connector_locally(&self, local: &mut Local, name: &str) {
        self.stop_connector(local, name, false).await;
        self.start_connector(local, name).await;
    }

    pub(super) async fn restart_task_locally(&self, local: &mut Local, t: &TaskKey) {
        self.stop_tasks(local, std::slice::from_ref(t), false).await;
        self.start_task(local, t);
    }

    /// Marks a unit this worker stopped as UNASSIGNED (its next owner
    /// writes RUNNING), as Kafka Connect does on shutdown.
    pub(super) async fn unassigned(&self, local: &mut Local, key: &str) {
        local.published.remove(key);
        self.status_epoch.fetch_add(1, Ordering::SeqCst);
        if !self.lease.valid() {
            return;
        }
        let _write = self.status_write.lock().await;
        let rec = StatusRecord {
            state: State::Unassigned,
            trace: None,
            worker_id: self.dc.worker_id.clone(),
            generation: self.generation.load(Ordering::SeqCst),
        };
        if let Err(e) = self.status_log.send(key, Some(&rec.to_bytes())).await {
            tracing::warn!("cannot write status {key}: {e}");
        }
    }
}
