//! Statuses and automatic restarts: every 500 ms the worker publishes what
//! changed in its units' states to the status topic, stops everything once
//! its lease lapsed (fencing), and restarts FAILED tasks with backoff. Also
//! the status views, from local state for units here and from the status
//! topic for the rest.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::assign::TaskKey;
use super::{status_key_connector, status_key_task, DistributedHerder, Local};
use crate::herder::{ConnectorState, State, TaskState};
use crate::store::topic_statuses::StatusRecord;
use crate::worker::LEASE_LOST;

impl DistributedHerder {
    pub(super) async fn status_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            if !self.lease.valid() {
                continue;
            }
            self.publish_statuses().await;
            if self.dc.auto_restart {
                self.auto_restart().await;
            }
        }
    }

    /// Stops the local work once the lease lapsed. A loop of its own: the
    /// status loop may be waiting on a status write to a broker that is
    /// gone, and the work must stop on time all the same.
    pub(super) async fn lease_watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            if self.lease.valid() {
                continue;
            }
            let held = {
                let l = self.local.lock().await;
                !l.tasks.is_empty() || !l.connectors.is_empty()
            };
            if held {
                tracing::error!("{LEASE_LOST}");
                self.release_all(false).await;
                // Rejoin: the group places the work again (here or elsewhere).
                self.force_rejoin.store(true, Ordering::SeqCst);
                self.rejoin.notify_one();
            }
        }
    }

    /// Writes the statuses of the local work that changed since they were
    /// last written. The local lock is not held during the writes (each may
    /// wait on the broker), so neither the REST reads nor the lease watch
    /// wait behind them.
    pub(super) async fn publish_statuses(&self) {
        let generation = self.generation.load(Ordering::SeqCst);
        let (updates, epoch) = {
            let local = self.local.lock().await;
            let mut current = Vec::new();
            for (name, lc) in &local.connectors {
                current.push((status_key_connector(name), lc.state, lc.trace.clone()));
            }
            for t in local.tasks.keys() {
                if let Some(s) = self.worker().task_status(&t.0, t.1) {
                    current.push((status_key_task(&t.0, t.1), s.state, s.trace));
                }
            }
            let current = current
                .into_iter()
                .map(|(key, state, trace)| {
                    let rec = StatusRecord {
                        state,
                        trace,
                        worker_id: self.dc.worker_id.clone(),
                        generation,
                    };
                    (key, rec)
                })
                .filter(|(key, rec)| {
                    local.published.get(key).is_none_or(|p| {
                        p.state != rec.state || p.trace != rec.trace || p.worker_id != rec.worker_id
                    })
                })
                .collect::<Vec<_>>();
            (current, self.status_epoch.load(Ordering::SeqCst))
        };
        for (key, rec) in updates {
            let sent = {
                let _write = self.status_write.lock().await;
                // A unit stopped or deleted since the statuses were read:
                // this round's statuses are stale.
                if !self.lease.valid()
                    || self.stopping.load(Ordering::SeqCst)
                    || self.status_epoch.load(Ordering::SeqCst) != epoch
                {
                    return;
                }
                self.status_log.send(&key, Some(&rec.to_bytes())).await
            };
            match sent {
                Ok(()) => {
                    let mut local = self.local.lock().await;
                    if self.status_epoch.load(Ordering::SeqCst) == epoch {
                        local.published.insert(key, rec);
                    }
                }
                Err(e) => tracing::warn!("cannot write status {key}: {e}"),
            }
        }
    }

    pub(super) async fn auto_restart(&self) {
        let mut local = self.local.lock().await;
        let now = Instant::now();
        let keys: Vec<TaskKey> = local.tasks.keys().cloned().collect();
        for t in keys {
            let failed = self
                .worker()
                .task_status(&t.0, t.1)
                .map(|s| s.state == State::Failed && s.trace.as_deref() != Some(LEASE_LOST))
                .unwrap_or(false);
            let r = local.restarts.entry(t.clone()).or_default();
            if !failed {
                r.failed_seen = None;
                // A task that ran long enough starts over from the initial backoff.
                if r.last_restart
                    .map(|l| now.duration_since(l) > self.dc.restart_max)
                    .unwrap_or(false)
                {
                    r.attempts = 0;
                }
                continue;
            }
            let seen = *r.failed_seen.get_or_insert(now);
            let wait = self
                .dc
                .restart_initial
                .saturating_mul(1u32 << r.attempts.min(20))
                .min(self.dc.restart_max);
            if now.duration_since(seen) < wait {
                continue;
            }
            r.attempts += 1;
            r.failed_seen = None;
            r.last_restart = Some(now);
            let attempts = r.attempts;
            let saved = r.clone();
            tracing::info!(connector = %t.0, task = t.1, attempt = attempts, "restarting FAILED task after {} ms (task.auto.restart.enable=true)", wait.as_millis());
            self.restart_task_locally(&mut local, &t).await;
            local.restarts.insert(t, saved);
        }
    }

    /// A connector's state: this worker's own view when it runs the
    /// connector and `local` is at hand (None: the config, assignment or
    /// status loops hold it, perhaps across a broker call, and a REST read
    /// does not wait for them), else the status topic's.
    pub(super) fn connector_state(&self, local: Option<&Local>, name: &str) -> ConnectorState {
        if let Some(lc) = local.and_then(|l| l.connectors.get(name)) {
            return ConnectorState {
                state: lc.state,
                worker_id: self.dc.worker_id.clone(),
                trace: lc.trace.clone(),
            };
        }
        let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match st.connectors.get(name) {
            Some(r) => ConnectorState {
                state: r.state,
                worker_id: r.worker_id.clone(),
                trace: r.trace.clone(),
            },
            None => ConnectorState {
                state: State::Unassigned,
                worker_id: String::new(),
                trace: None,
            },
        }
    }

    /// A task's state: the worker's own when it runs the task (from the
    /// worker's task table, which no broker call holds), else the status
    /// topic's.
    pub(super) fn task_state(&self, name: &str, id: u32) -> TaskState {
        if let Some(s) = self.core.local_task_state(name, id, &self.dc.worker_id) {
            return s;
        }
        let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match st.tasks.get(&(name.to_string(), id)) {
            Some(r) => TaskState {
                id,
                state: r.state,
                worker_id: r.worker_id.clone(),
                trace: r.trace.clone(),
                progress: None,
                starts: None,
                errors: None,
            },
            None => TaskState {
                id,
                state: State::Unassigned,
                worker_id: String::new(),
                trace: None,
                progress: None,
                starts: None,
                errors: None,
            },
        }
    }
}
