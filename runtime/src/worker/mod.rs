//! The worker: runs tasks, tracks their states, stops them cleanly.
//!
//! Each task runs as one tokio task with a control channel carrying its
//! target state (RUNNING, PAUSED, STOPPED). A task loop checks the channel
//! between batches, so pausing or stopping never cuts a batch in half: a
//! source task stops after committing the offsets of everything acked, a sink
//! task after flushing and committing what it put.

pub mod chain;
pub mod config;
pub mod metrics;
mod sink;
mod source;
pub use source::fence_removed_tasks;
pub mod submitted;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::herder::{State, TargetState};
use crate::kafka::TopicAdmin;
use crate::plugin::{Props, RecordError, Registry};
use crate::secrets::Secrets;
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
    /// Sluice extra: the `errors.*` handling so far (Kafka Connect's
    /// task-error-metrics); `None` while every count is zero.
    pub errors: Option<serde_json::Value>,
}

/// What a task's error handling did: Kafka Connect's task-error-metrics,
/// counted while the task runs and shown in its status.
#[derive(Debug, Default)]
pub struct ErrorCounts {
    /// Records that failed an operation (a transform, a converter), once per
    /// failed attempt, retries included (`total-record-failures`).
    pub record_failures: AtomicU64,
    /// Records that still failed once their retries were used up
    /// (`total-record-errors`).
    pub record_errors: AtomicU64,
    /// Records skipped under `errors.tolerance=all` (`total-records-skipped`).
    pub records_skipped: AtomicU64,
    /// Retries of failed operations (`total-retries`).
    pub retries: AtomicU64,
    /// Errors written to the log (`total-errors-logged`).
    pub errors_logged: AtomicU64,
    /// Records sent to the dead letter queue (`deadletterqueue-produce-requests`).
    pub dlq_requests: AtomicU64,
}

impl ErrorCounts {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts under Kafka Connect's metric names; `None` if all are 0.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        let pairs = [
            ("total-record-failures", &self.record_failures),
            ("total-record-errors", &self.record_errors),
            ("total-records-skipped", &self.records_skipped),
            ("total-retries", &self.retries),
            ("total-errors-logged", &self.errors_logged),
            ("deadletterqueue-produce-requests", &self.dlq_requests),
        ];
        let values: Vec<(&str, u64)> = pairs
            .iter()
            .map(|(k, v)| (*k, v.load(Ordering::Relaxed)))
            .collect();
        values.iter().any(|(_, v)| *v > 0).then(|| {
            serde_json::Value::Object(
                values
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.into()))
                    .collect(),
            )
        })
    }
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
    /// The lease's current end, for [`Lease::restore`].
    pub fn end(&self) -> u64 {
        self.until_ms.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Puts back an end read with [`Lease::end`]: an extension granted in
    /// hope (a join sent) that the coordinator never received.
    pub fn restore(&self, end: u64) {
        self.until_ms
            .store(end, std::sync::atomic::Ordering::SeqCst);
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
    pub errors: Arc<ErrorCounts>,
    pub metrics: metrics::TaskMetrics,
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
    is_source: bool,
}

/// Runs this worker's tasks.
pub struct Worker {
    pub env: TaskEnv,
    tasks: Mutex<BTreeMap<(String, u32), TaskHandle>>,
    starts: Mutex<BTreeMap<(String, u32), u64>>,
}

/// How errors in converters and transforms are handled (`errors.*`).
#[derive(Debug, Clone)]
pub struct ErrorPolicy {
    /// `errors.tolerance=all`: skip bad records instead of failing.
    pub tolerate_all: bool,
    pub log: bool,
    pub log_messages: bool,
    /// `errors.retry.timeout`: how long a retriable error is retried;
    /// `Some(ZERO)`: not at all (the default), `None`: forever (-1).
    pub retry_timeout: Option<Duration>,
    /// `errors.retry.delay.max.ms`: the cap of the doubling delay between
    /// retries (which starts at [`RETRY_DELAY_MIN`]).
    pub retry_delay_max: Duration,
    /// Where the task's error handling is counted.
    pub counts: Arc<ErrorCounts>,
}

/// Kafka Connect's first delay between retries of a failed operation.
pub const RETRY_DELAY_MIN: Duration = Duration::from_millis(300);

impl Default for ErrorPolicy {
    fn default() -> Self {
        ErrorPolicy {
            tolerate_all: false,
            log: false,
            log_messages: false,
            retry_timeout: Some(Duration::ZERO),
            retry_delay_max: Duration::from_millis(60_000),
            counts: Arc::default(),
        }
    }
}

impl ErrorPolicy {
    pub fn from_props(props: &Props) -> Result<ErrorPolicy, String> {
        let flag = |k: &str| {
            props
                .get(k)
                .map(|v| v.trim().eq_ignore_ascii_case("true"))
                .unwrap_or(false)
        };
        let millis = |k: &str, default: i64| -> Result<i64, String> {
            match props.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .parse::<i64>()
                    .map_err(|_| format!("{k}={v} is not a whole number of milliseconds")),
            }
        };
        let timeout = millis("errors.retry.timeout", 0)?;
        let retry_timeout = match timeout {
            -1 => None,
            t if t >= 0 => Some(Duration::from_millis(t as u64)),
            t => {
                return Err(format!(
                    "errors.retry.timeout={t}: use 0 (no retries), a positive number of milliseconds, or -1 (retry forever)"
                ))
            }
        };
        let delay_max = millis("errors.retry.delay.max.ms", 60_000)?;
        if delay_max < 0 {
            return Err(format!(
                "errors.retry.delay.max.ms={delay_max}: use a non-negative number of milliseconds"
            ));
        }
        Ok(ErrorPolicy {
            tolerate_all: props
                .get("errors.tolerance")
                .map(|v| v.trim().eq_ignore_ascii_case("all"))
                .unwrap_or(false),
            log: flag("errors.log.enable"),
            log_messages: flag("errors.log.include.messages"),
            retry_timeout,
            retry_delay_max: Duration::from_millis(delay_max as u64),
            counts: Arc::default(),
        })
    }

    /// Counts into `counts` (the task's, shown in its status).
    pub(crate) fn counting(mut self, counts: Arc<ErrorCounts>) -> ErrorPolicy {
        self.counts = counts;
        self
    }

    /// Counts a record that failed for good and what `errors.tolerance`
    /// does with it: skipped (and logged) or not.
    pub(crate) fn count_error(&self, skipped: bool) {
        ErrorCounts::add(&self.counts.record_errors);
        if skipped {
            ErrorCounts::add(&self.counts.records_skipped);
            if self.log {
                ErrorCounts::add(&self.counts.errors_logged);
            }
        }
    }

    /// Whether a skipped record's details go into the log
    /// (`errors.log.enable` with `errors.log.include.messages`).
    pub fn logs_records(&self) -> bool {
        self.log && self.log_messages
    }

    /// Whether retriable errors are retried at all.
    pub fn retries(&self) -> bool {
        self.retry_timeout != Some(Duration::ZERO)
    }

    /// The delay before retry number `attempt` (0-based), given the time
    /// left: 300 ms doubling, capped by `errors.retry.delay.max.ms` and by
    /// the deadline. `None`: the retry budget is spent.
    pub fn retry_delay(&self, attempt: u32, elapsed: Duration) -> Option<Duration> {
        let left = match self.retry_timeout {
            None => Duration::MAX,
            Some(t) => t.checked_sub(elapsed).filter(|l| !l.is_zero())?,
        };
        let doubled = RETRY_DELAY_MIN.saturating_mul(1u32 << attempt.min(20));
        Some(doubled.min(self.retry_delay_max).min(left))
    }

    /// Runs `op` until it succeeds, fails with a non-retriable error, or
    /// `errors.retry.timeout` has passed (Kafka Connect's
    /// `RetryWithToleranceOperator`). Sleeps end early when the task is
    /// told to stop; the last error is returned then.
    pub(crate) async fn retry<T>(
        &self,
        control: &mut watch::Receiver<TargetState>,
        mut op: impl FnMut() -> Result<T, RecordError>,
    ) -> Result<T, RecordError> {
        let start = std::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            let result = op();
            if result.is_err() {
                ErrorCounts::add(&self.counts.record_failures);
            }
            match result {
                Err(e) if e.is_retriable() && self.retries() => {
                    let Some(delay) = self.retry_delay(attempt, start.elapsed()) else {
                        return Err(e.map_message(|m| {
                            format!("{m} (still failing after {attempt} retries in {} ms; errors.retry.timeout exceeded)", start.elapsed().as_millis())
                        }));
                    };
                    if self.log {
                        tracing::warn!(
                            "retriable error, retry {} in {} ms: {}",
                            attempt + 1,
                            delay.as_millis(),
                            e.message
                        );
                    }
                    let _ = tokio::time::timeout(delay, control.changed()).await;
                    if *control.borrow() == TargetState::Stopped {
                        return Err(e);
                    }
                    ErrorCounts::add(&self.counts.retries);
                    attempt += 1;
                }
                other => return other,
            }
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

    /// `GET /metrics`: the worker's and its tasks' metrics as Prometheus
    /// text (see [`metrics`]).
    pub fn metrics_text(&self, connector_count: usize) -> String {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let states: Vec<(String, u32, bool, String, Arc<TaskShared>)> = tasks
            .iter()
            .map(|((c, t), h)| {
                let state = h
                    .shared
                    .status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .state;
                let status = format!("{state:?}").to_ascii_lowercase();
                (c.clone(), *t, h.is_source, status, h.shared.clone())
            })
            .collect();
        drop(tasks);
        let samples: Vec<metrics::TaskSample<'_>> = states
            .iter()
            .map(|(c, t, src, status, sh)| metrics::TaskSample {
                connector: c,
                task: *t,
                is_source: *src,
                status,
                metrics: &sh.metrics,
                errors: &sh.errors,
                progress: sh
                    .progress
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            })
            .collect();
        metrics::render(connector_count, &samples)
    }

    /// Starts a task in the given target state (replacing none: the caller
    /// stops an old instance first).
    pub fn start_task(&self, spec: TaskSpec, target: TargetState) {
        let key = (spec.connector.clone(), spec.task);
        // `${provider:path:key}` variables are resolved for the running task
        // only; one that does not resolve fails the task with the reason.
        let providers = &self.env.worker.providers;
        let resolved = providers
            .resolve(&spec.connector_config)
            .and_then(|c| providers.resolve(&spec.task_config).map(|t| (c, t)));
        let (spec, unresolvable) = match resolved {
            Ok((connector_config, task_config)) => (
                TaskSpec {
                    connector_config,
                    task_config,
                    ..spec
                },
                None,
            ),
            Err(e) => (spec, Some(e)),
        };
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
                errors: None,
            }),
            progress: Arc::new(Mutex::new(None)),
            errors: Arc::new(ErrorCounts::default()),
            metrics: metrics::TaskMetrics::default(),
        });
        let (tx, rx) = watch::channel(target);
        let env = self.env.clone();
        let sh = shared.clone();
        let handle_is_source = spec.is_source;
        // Texts about a failure leave the worker with no secret in them.
        let declared = env.registry.password_keys(
            spec.connector_config
                .get("connector.class")
                .map(String::as_str)
                .unwrap_or(""),
        );
        let secrets = Secrets::of_declared(
            [&spec.connector_config, &spec.task_config, &env.worker.props],
            |k| declared.iter().any(|d| d == k),
        );
        // Every line the task logs, its connector's code included, carries
        // the connector and task (text: a `task{connector=.. task=..}`
        // prefix; JSON: fields).
        let span = tracing::info_span!("task", connector = %spec.connector, task = spec.task);
        let inner_span = span.clone();
        let join = tokio::spawn(
            async move {
                let connector = spec.connector.clone();
                let task = spec.task;
                let is_source = spec.is_source;
                let sh2 = sh.clone();
                // The loop runs as a task of its own so that a panic in it (a bug
                // in a transform, converter, `poll` or `put`) ends there and
                // reaches us as an error: the task goes FAILED, where operators
                // and auto-restart see it, instead of staying RUNNING and idle.
                // Aborting this outer task (a stop past its grace period) aborts
                // the loop too.
                let mut inner = AbortOnDrop(tokio::spawn(
                    async move {
                        if let Some(e) = unresolvable {
                            return Err(e);
                        }
                        if is_source {
                            source::run(env, spec, rx, sh2).await
                        } else {
                            sink::run(env, spec, rx, sh2).await
                        }
                    }
                    .instrument(inner_span),
                ));
                let result = match (&mut inner.0).await {
                    Ok(result) => result,
                    Err(e) if e.is_panic() => Err(panic_trace(&connector, task, e.into_panic())),
                    Err(_) => Ok(()), // cancelled: stopped past its grace period
                };
                if let Err(trace) = result {
                    let trace = secrets.redact(&trace);
                    tracing::error!("task failed: {trace}");
                    sh.set_state(State::Failed, Some(trace));
                }
            }
            .instrument(span),
        );
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).insert(
            key,
            TaskHandle {
                control: tx,
                shared,
                join: Some(join),
                is_source: handle_is_source,
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
        s.errors = h.shared.errors.to_json();
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

/// Aborts its task when dropped, so that aborting the task that owns it
/// ends both.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The FAILED trace of a task whose loop panicked: the panic's message and
/// what to do about it.
fn panic_trace(connector: &str, task: u32, payload: Box<dyn std::any::Any + Send>) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".into());
    format!(
        "the task panicked: {message}. This is a bug in a plugin of this connector (its \
         connector, transforms or converters) or in Sluice; the worker's log has the place. \
         Once it is fixed, restart the task: POST /connectors/{connector}/tasks/{task}/restart"
    )
}

#[cfg(test)]
mod retry_tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy(kv: &[(&str, &str)]) -> ErrorPolicy {
        let props: Props = kv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ErrorPolicy::from_props(&props).unwrap()
    }

    #[test]
    fn delays_start_at_300_ms_double_and_respect_cap_and_deadline() {
        let p = policy(&[
            ("errors.retry.timeout", "10000"),
            ("errors.retry.delay.max.ms", "1000"),
        ]);
        let d = |a, e| p.retry_delay(a, Duration::from_millis(e));
        assert_eq!(d(0, 0), Some(Duration::from_millis(300)));
        assert_eq!(d(1, 300), Some(Duration::from_millis(600)));
        assert_eq!(d(2, 900), Some(Duration::from_millis(1000)));
        assert_eq!(d(9, 9500), Some(Duration::from_millis(500)));
        assert_eq!(d(10, 10000), None);
        let forever = policy(&[("errors.retry.timeout", "-1")]);
        assert_eq!(
            forever.retry_delay(30, Duration::from_secs(86400)),
            Some(Duration::from_millis(60_000))
        );
        assert!(!policy(&[]).retries());
    }

    #[test]
    fn bad_values_name_the_key_and_the_remedy() {
        let bad = |k: &str, v: &str| {
            let props: Props = [(k.to_string(), v.to_string())].into();
            ErrorPolicy::from_props(&props).unwrap_err()
        };
        assert!(bad("errors.retry.timeout", "-5").contains("-1 (retry forever)"));
        assert!(bad("errors.retry.timeout", "soon").contains("errors.retry.timeout=soon"));
        assert!(bad("errors.retry.delay.max.ms", "-1").contains("non-negative"));
    }

    #[tokio::test]
    async fn retriable_errors_are_retried_until_success_or_timeout() {
        let (_tx, mut rx) = watch::channel(TargetState::Running);
        let p = policy(&[
            ("errors.retry.timeout", "1000"),
            ("errors.retry.delay.max.ms", "400"),
        ]);
        // Succeeds on the third call.
        let calls = AtomicU32::new(0);
        let r = p
            .retry(&mut rx, || {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(RecordError::retriable("lookup service down"))
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Never succeeds: 300 + 400 + 300 (the rest of the 1 s), then the error.
        let calls = AtomicU32::new(0);
        let start = std::time::Instant::now();
        let e = p
            .retry(&mut rx, || -> Result<(), _> {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(RecordError::retriable("lookup service down"))
            })
            .await
            .unwrap_err();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1000), "{took:?}");
        assert!(took < Duration::from_millis(3000), "{took:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(e.message.contains("errors.retry.timeout exceeded"), "{e}");
        // Data errors are not retried.
        let calls = AtomicU32::new(0);
        let e = p
            .retry(&mut rx, || -> Result<(), _> {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(RecordError::new("bad data"))
            })
            .await
            .unwrap_err();
        assert_eq!(
            (calls.load(Ordering::SeqCst), e.message.as_str()),
            (1, "bad data")
        );
    }

    #[tokio::test]
    async fn without_a_retry_timeout_retriable_errors_fail_at_once() {
        let (_tx, mut rx) = watch::channel(TargetState::Running);
        let calls = AtomicU32::new(0);
        let r = policy(&[])
            .retry(&mut rx, || -> Result<(), _> {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(RecordError::retriable("down"))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
