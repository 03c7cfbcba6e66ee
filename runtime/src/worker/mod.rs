//! The worker: runs tasks, tracks their states, stops them cleanly.
//!
//! Each task runs as one tokio task with a control channel carrying its
//! target state (RUNNING, PAUSED, STOPPED). A task loop checks the channel
//! between batches, so pausing or stopping never cuts a batch in half: a
//! source task stops after committing the offsets of everything acked, a sink
//! task after flushing and committing what it put.

pub mod chain;
pub mod config;
mod sink;
mod source;
pub mod submitted;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::herder::{State, TargetState};
use crate::kafka::TopicAdmin;
use crate::plugin::{Props, Registry};
use crate::store::OffsetStore;
use config::WorkerConfig;

/// What a task's status shows.
#[derive(Debug, Clone)]
pub struct TaskStatus {
    pub state: State,
    pub trace: Option<String>,
    /// Sluice extra: the task's own progress report (snapshot rows, ...).
    pub progress: Option<serde_json::Value>,
    /// How many times this task was started on this worker.
    pub starts: u64,
}

/// Called with (connector, topic) the first time a task uses a topic.
pub type TopicHook = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Everything a task loop needs from the worker.
#[derive(Clone)]
pub struct TaskEnv {
    pub worker: Arc<WorkerConfig>,
    pub registry: Arc<Registry>,
    pub offsets: Arc<dyn OffsetStore>,
    pub admin: Arc<TopicAdmin>,
    pub on_topic: TopicHook,
    /// Distributed mode: the worker's hold on its assignment. Tasks stop
    /// producing, putting and committing once it lapses.
    pub lease: Option<Arc<Lease>>,
}

/// How long this worker may still act on its assignment: extended by every
/// successful heartbeat to the group coordinator, for less than the session
/// timeout. A worker paused (SIGSTOP, a long GC-like stall) or cut off from
/// the coordinator finds its lease lapsed when it wakes, before the
/// coordinator hands its tasks to others, so it stops instead of writing
/// alongside the new owners.
pub struct Lease {
    base: std::time::Instant,
    until_ms: std::sync::atomic::AtomicU64,
}

impl Default for Lease {
    fn default() -> Self {
        Lease {
            base: std::time::Instant::now(),
            until_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Lease {
    /// Valid for `d` from now.
    pub fn extend(&self, d: Duration) {
        let until = (self.base.elapsed() + d).as_millis() as u64;
        self.until_ms
            .store(until, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn revoke(&self) {
        self.until_ms.store(0, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn valid(&self) -> bool {
        (self.base.elapsed().as_millis() as u64)
            < self.until_ms.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The trace of a task stopped because its worker's lease lapsed.
pub const LEASE_LOST: &str = "this worker lost its group membership (no heartbeat within session.timeout.ms); its tasks stopped so that they do not run twice, and run again wherever the group places them";

impl TaskEnv {
    /// False once a distributed worker's lease lapsed.
    pub fn may_act(&self) -> bool {
        self.lease.as_ref().map(|l| l.valid()).unwrap_or(true)
    }
}

/// A task's identity and configs.
#[derive(Clone, Debug)]
pub struct TaskSpec {
    pub connector: String,
    pub task: u32,
    pub connector_config: Props,
    pub task_config: Props,
    pub is_source: bool,
}

/// Shared state between a running task loop and the worker.
pub(crate) struct TaskShared {
    pub status: Mutex<TaskStatus>,
    pub progress: Arc<Mutex<Option<serde_json::Value>>>,
}

impl TaskShared {
    pub fn set_state(&self, state: State, trace: Option<String>) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        s.state = state;
        s.trace = trace;
    }
}

struct TaskHandle {
    control: watch::Sender<TargetState>,
    shared: Arc<TaskShared>,
    join: Option<JoinHandle<()>>,
}

/// Runs this worker's tasks.
pub struct Worker {
    pub env: TaskEnv,
    tasks: Mutex<BTreeMap<(String, u32), TaskHandle>>,
    starts: Mutex<BTreeMap<(String, u32), u64>>,
}

/// How errors in converters and transforms are handled (`errors.*`).
#[derive(Debug, Clone, Default)]
pub struct ErrorPolicy {
    /// `errors.tolerance=all`: skip bad records instead of failing.
    pub tolerate_all: bool,
    pub log: bool,
    pub log_messages: bool,
}

impl ErrorPolicy {
    pub fn from_props(props: &Props) -> ErrorPolicy {
        let flag = |k: &str| {
            props
                .get(k)
                .map(|v| v.trim().eq_ignore_ascii_case("true"))
                .unwrap_or(false)
        };
        ErrorPolicy {
            tolerate_all: props
                .get("errors.tolerance")
                .map(|v| v.trim().eq_ignore_ascii_case("all"))
                .unwrap_or(false),
            log: flag("errors.log.enable"),
            log_messages: flag("errors.log.include.messages"),
        }
    }
}

impl Worker {
    pub fn new(env: TaskEnv) -> Worker {
        Worker {
            env,
            tasks: Mutex::new(BTreeMap::new()),
            starts: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn worker_id(&self) -> String {
        self.env.worker.worker_id()
    }

    /// Starts a task in the given target state (replacing none: the caller
    /// stops an old instance first).
    pub fn start_task(&self, spec: TaskSpec, target: TargetState) {
        let key = (spec.connector.clone(), spec.task);
        let starts = {
            let mut s = self.starts.lock().unwrap_or_else(|p| p.into_inner());
            let n = s.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let shared = Arc::new(TaskShared {
            status: Mutex::new(TaskStatus {
                state: match target {
                    TargetState::Running => State::Running,
                    TargetState::Paused => State::Paused,
                    TargetState::Stopped => State::Stopped,
                },
                trace: None,
                progress: None,
                starts,
            }),
            progress: Arc::new(Mutex::new(None)),
        });
        let (tx, rx) = watch::channel(target);
        let env = self.env.clone();
        let sh = shared.clone();
        let join = tokio::spawn(async move {
            let name = format!("{}-{}", spec.connector, spec.task);
            let result = if spec.is_source {
                source::run(env, spec, rx, sh.clone()).await
            } else {
                sink::run(env, spec, rx, sh.clone()).await
            };
            if let Err(trace) = result {
                tracing::error!(task = %name, "task failed: {trace}");
                sh.set_state(State::Failed, Some(trace));
            }
        });
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).insert(
            key,
            TaskHandle {
                control: tx,
                shared,
                join: Some(join),
            },
        );
    }

    /// Sets a running task's target state (pause / resume).
    pub fn set_task_target(&self, connector: &str, task: u32, target: TargetState) {
        if let Some(h) = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(connector.to_string(), task))
        {
            let _ = h.control.send(target);
        }
    }

    /// Stops a task and waits for it to finish (bounded by
    /// `task.shutdown.graceful.timeout.ms`; past that it is aborted, and
    /// nothing is lost: its offsets were not committed past what was acked).
    pub async fn stop_task(&self, connector: &str, task: u32) {
        let handle = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(connector.to_string(), task));
        if let Some(mut h) = handle {
            let _ = h.control.send(TargetState::Stopped);
            if let Some(join) = h.join.take() {
                let timeout = self
                    .env
                    .worker
                    .props
                    .get("task.shutdown.graceful.timeout.ms")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(5000u64);
                let abort = join.abort_handle();
                if tokio::time::timeout(Duration::from_millis(timeout), join)
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        connector,
                        task,
                        "task did not stop within {timeout} ms; aborting it"
                    );
                    abort.abort();
                }
            }
        }
    }

    /// Stops every task of a connector.
    pub async fn stop_connector_tasks(&self, connector: &str) {
        let ids: Vec<u32> = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .filter(|(c, _)| c == connector)
            .map(|(_, t)| *t)
            .collect();
        let futs = ids.into_iter().map(|t| self.stop_task(connector, t));
        for f in futs {
            f.await;
        }
    }

    /// Stops every task (worker shutdown).
    pub async fn stop_all(&self) {
        let keys: Vec<(String, u32)> = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        for (c, t) in keys {
            self.stop_task(&c, t).await;
        }
    }

    pub fn task_status(&self, connector: &str, task: u32) -> Option<TaskStatus> {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let h = tasks.get(&(connector.to_string(), task))?;
        let mut s = h
            .shared
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        s.progress = h.shared.progress.lock().ok().and_then(|p| p.clone());
        Some(s)
    }

    pub fn task_ids(&self, connector: &str) -> Vec<u32> {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .filter(|(c, _)| c == connector)
            .map(|(_, t)| *t)
            .collect()
    }
}

/// Waits while the target is PAUSED. Returns false when the task must stop.
pub(crate) async fn wait_while_paused(
    control: &mut watch::Receiver<TargetState>,
    shared: &TaskShared,
) -> bool {
    loop {
        let target = *control.borrow_and_update();
        match target {
            TargetState::Running => {
                let paused = shared
                    .status
                    .lock()
                    .map(|s| s.state == State::Paused)
                    .unwrap_or(false);
                if paused {
                    shared.set_state(State::Running, None);
                }
                return true;
            }
            TargetState::Stopped => return false,
            TargetState::Paused => {
                shared.set_state(State::Paused, None);
                if control.changed().await.is_err() {
                    return false;
                }
            }
        }
    }
}

/// Backoff for retriable errors: 100 ms doubling to 10 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.min(7)).min(10_000))
}
