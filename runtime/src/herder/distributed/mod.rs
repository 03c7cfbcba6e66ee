//! The distributed herder: workers sharing a `group.id` form one cluster
//! through Kafka itself.
//!
//! - **Membership** rides on the broker's group coordinator ([`crate::kafka::group`]):
//!   JoinGroup elects a leader, the leader places connectors and tasks
//!   ([`assign`]), SyncGroup hands each worker its share, heartbeats keep
//!   the session. No second coordination system.
//! - **State** lives in three compacted topics in Kafka Connect's formats
//!   ([`crate::store`]): configs (one partition, so one order), source
//!   offsets and statuses. Every worker reads all three; any worker accepts REST writes
//!   by writing to the config topic and reading it back to its end, so its
//!   own write is visible to it at once and to the others within a poll.
//! - **Incremental**: a rebalance never stops the world. A worker keeps
//!   running what stays assigned to it; only revoked or deleted work stops.
//! - **Fencing**: each successful heartbeat extends a [`Lease`] a little
//!   shorter than `session.timeout.ms`. Tasks check it before every batch
//!   and offset commit, so a worker that was paused or cut off stops writing
//!   before the coordinator gives its tasks to others.
//! - **Auto-restart**: a FAILED task is restarted with exponential backoff
//!   (`task.auto.restart.*`), which Kafka Connect never does.
//!
//! One file per question: [`config`] (the worker keys), this file (start-up
//! and shutdown), [`membership`] (joining, heartbeats, a dead leader),
//! [`leader`] and [`assign`] (who runs what), [`apply`] (making local work
//! match an assignment), [`config_events`] (acting on config-topic
//! records), [`status`] (statuses, fencing, automatic restarts) and
//! [`rest`] (the [`Herder`] the REST API calls).

pub mod assign;

mod apply;
mod config;
mod config_events;
mod leader;
mod membership;
mod rest;
mod status;

pub use config::{distributed_config_def, DistributedConfig, StartupError};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Mutex, Notify};

use crate::herder::core::{HerderCore, LocalConnector};
use crate::herder::HerderResult;
use crate::kafka::log::KafkaLog;
use crate::kafka::secure::ClusterSecurity;
use crate::kafka::TopicAdmin;
use crate::plugin::Props;
use crate::store::topic_configs::{ClusterConfig, ConfigEvent, TopicConfigStore};
use crate::store::topic_statuses::{self, ClusterStatus, StatusRecord};
use crate::store::TopicOffsetStore;
use crate::worker::config::WorkerConfig;
use crate::worker::{Lease, TaskEnv, Worker};
use assign::{LeaderMemory, TaskKey};

/// A FAILED task's automatic-restart bookkeeping.
#[derive(Default, Clone)]
struct Restarts {
    attempts: u32,
    failed_seen: Option<Instant>,
    last_restart: Option<Instant>,
}

#[derive(Default)]
struct Local {
    connectors: BTreeMap<String, LocalConnector>,
    /// Tasks running here, with the config they were started with.
    tasks: BTreeMap<TaskKey, Props>,
    /// Connector names and task counts the last rebalance knew.
    known: BTreeMap<String, usize>,
    /// The status this worker last wrote for each unit it runs.
    published: BTreeMap<String, StatusRecord>,
    restarts: BTreeMap<TaskKey, Restarts>,
}

impl Local {
    /// This worker's tasks of one connector.
    fn tasks_of(&self, connector: &str) -> Vec<TaskKey> {
        self.tasks
            .keys()
            .filter(|t| t.0 == connector)
            .cloned()
            .collect()
    }
}

/// Kafka Connect's `connect-worker-rebalance-metrics` of this worker.
#[derive(Default)]
struct RebalanceStats {
    /// When the round under way began (this worker's first join of it).
    started: Option<std::time::Instant>,
    completed: u64,
    total_ms: u64,
    max_ms: u64,
    last_completed: Option<std::time::Instant>,
    epoch: i32,
}

impl RebalanceStats {
    fn joining(&mut self) {
        self.started.get_or_insert_with(std::time::Instant::now);
    }

    fn completed(&mut self, generation: i32) {
        let ms = self
            .started
            .take()
            .map(|t| t.elapsed().as_millis() as u64)
            .unwrap_or(0);
        self.completed += 1;
        self.total_ms += ms;
        self.max_ms = self.max_ms.max(ms);
        self.last_completed = Some(std::time::Instant::now());
        self.epoch = generation;
    }

    /// The Prometheus lines, named from Kafka Connect's MBean
    /// `kafka.connect:type=connect-worker-rebalance-metrics`.
    fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let p = "kafka_connect_connect_worker_rebalance_metrics";
        let avg = if self.completed == 0 {
            0.0
        } else {
            self.total_ms as f64 / self.completed as f64
        };
        let since = self
            .last_completed
            .map(|t| t.elapsed().as_millis() as f64)
            .unwrap_or(-1.0);
        for (attr, kind, help, value) in [
            (
                "completed_rebalances_total",
                "counter",
                "Rebalances this worker completed.",
                self.completed as f64,
            ),
            (
                "rebalancing",
                "gauge",
                "1 while a rebalance is under way.",
                f64::from(u8::from(self.started.is_some())),
            ),
            (
                "epoch",
                "gauge",
                "The group generation of the last completed rebalance.",
                f64::from(self.epoch),
            ),
            (
                "rebalance_avg_time_ms",
                "gauge",
                "Milliseconds a rebalance took, on average.",
                avg,
            ),
            (
                "rebalance_max_time_ms",
                "gauge",
                "The longest rebalance, in milliseconds.",
                self.max_ms as f64,
            ),
            (
                "time_since_last_rebalance_ms",
                "gauge",
                "Milliseconds since the last completed rebalance (-1: none yet).",
                since,
            ),
        ] {
            let _ = writeln!(out, "# HELP {p}_{attr} {help}");
            let _ = writeln!(out, "# TYPE {p}_{attr} {kind}");
            let _ = writeln!(out, "{p}_{attr} {value}");
        }
    }
}

/// The distributed herder.
pub struct DistributedHerder {
    core: HerderCore,
    dc: DistributedConfig,
    bootstrap: String,
    /// TLS and SASL of the group-membership socket.
    security: ClusterSecurity,
    configs: Arc<TopicConfigStore>,
    status_log: Arc<KafkaLog>,
    offsets: Arc<TopicOffsetStore>,
    status: Arc<StdMutex<ClusterStatus>>,
    local: Mutex<Local>,
    lease: Arc<Lease>,
    generation: AtomicI32,
    is_leader: AtomicBool,
    /// (member id, generation) to heartbeat on a second connection while
    /// the membership loop waits in a join or sync.
    side_heartbeat: StdMutex<Option<(String, i32)>>,
    /// Leader member id → its REST URL, from the assignments received.
    leader_urls: StdMutex<BTreeMap<String, String>>,
    rejoin: Notify,
    /// No new work: shutting down.
    stopping: AtomicBool,
    /// Leave the group now (after local work stopped).
    leave_now: Notify,
    leaving: AtomicBool,
    left: Notify,
    leader_memory: StdMutex<LeaderMemory>,
    rebalances: StdMutex<RebalanceStats>,
    /// Counts the statuses written outside the status loop (a unit
    /// stopped or released, a connector deleted). The status loop writes a
    /// status only if this has not moved since it read the status, and
    /// records it as written only if it still has not.
    status_epoch: AtomicU64,
    /// Held around every status write: a write of the status loop that
    /// began before a stop's UNASSIGNED (or a delete's tombstone) reaches
    /// the topic before it, and one that had not begun is dropped.
    status_write: Mutex<()>,
    /// Set when local work stopped for a lapsed lease: the next rejoin
    /// request starts a round even on a leader that saw every config.
    force_rejoin: AtomicBool,
    /// When this worker saw each connector's target become STOPPED (for
    /// offset changes, which wait until the tasks are gone).
    stopped_seen: StdMutex<BTreeMap<String, std::time::Instant>>,
    /// `stopped_at` of this worker's metadata (see MemberMeta).
    stopped_at: AtomicI32,
}

fn status_key_connector(name: &str) -> String {
    format!("status-connector-{name}")
}

fn status_key_task(name: &str, task: u32) -> String {
    format!("status-task-{name}-{task}")
}

impl DistributedHerder {
    /// Opens the internal topics (creating them compacted when missing),
    /// reads them to their end, builds the worker, and starts the group
    /// membership, config and status loops.
    pub async fn start(
        worker_cfg: Arc<WorkerConfig>,
        registry: Arc<crate::Registry>,
        admin: Arc<TopicAdmin>,
        cluster_id: String,
    ) -> Result<Arc<DistributedHerder>, StartupError> {
        let dc = DistributedConfig::from_worker(&worker_cfg)?;
        let bootstrap = worker_cfg.bootstrap_servers.clone();
        // The internal topics' clients reach the cluster as the worker does
        // (its top-level security settings win over producer.*).
        let mut producer_overrides = worker_cfg.producer_overrides();
        producer_overrides.extend(worker_cfg.cluster_security());
        let security = ClusterSecurity::from_settings(&worker_cfg.cluster_security())
            .map_err(|e| StartupError::Kafka(format!("worker config: {e}")))?;
        let lease = Arc::new(Lease::default());

        let configs = TopicConfigStore::new();
        let (events_tx, events_rx) = mpsc::unbounded_channel::<ConfigEvent>();
        let config_log = KafkaLog::open(
            &bootstrap,
            &admin,
            &dc.config_topic,
            1,
            dc.config_rf,
            &producer_overrides,
            configs.applier(events_tx),
        )
        .await
        .map_err(|e| {
            StartupError::Kafka(format!("config.storage.topic {}: {e}", dc.config_topic))
        })?;
        configs.set_log(config_log.clone());
        if config_log.partitions() != 1 {
            return Err(StartupError::TopicLayout(format!(
                "config topic {} has {} partitions; it must have exactly one so that every worker sees configs in one order. Create it with one partition (or point config.storage.topic at a new topic)",
                dc.config_topic,
                config_log.partitions()
            )));
        }
        let status = Arc::new(StdMutex::new(ClusterStatus::default()));
        let st = status.clone();
        let status_log = KafkaLog::open(
            &bootstrap,
            &admin,
            &dc.status_topic,
            dc.status_partitions,
            dc.status_rf,
            &producer_overrides,
            Box::new(move |_p, _o, key, value| {
                if let Some(key) = key.and_then(|k| std::str::from_utf8(k).ok()) {
                    st.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .apply(key, value);
                }
            }),
        )
        .await
        .map_err(|e| {
            StartupError::Kafka(format!("status.storage.topic {}: {e}", dc.status_topic))
        })?;
        let offsets = TopicOffsetStore::new(lease.clone());
        let offset_log = KafkaLog::open(
            &bootstrap,
            &admin,
            &dc.offset_topic,
            dc.offset_partitions,
            dc.offset_rf,
            &producer_overrides,
            offsets.applier(),
        )
        .await
        .map_err(|e| {
            StartupError::Kafka(format!("offset.storage.topic {}: {e}", dc.offset_topic))
        })?;
        offsets.set_log(offset_log.clone());
        let read_timeout = Duration::from_secs(60);
        for log in [&config_log, &status_log, &offset_log] {
            log.read_to_end(read_timeout)
                .await
                .map_err(|e| StartupError::Kafka(e.to_string()))?;
        }

        let connector_offsets = {
            let (bootstrap, admin, overrides, lease) = (
                bootstrap.clone(),
                admin.clone(),
                producer_overrides.clone(),
                lease.clone(),
            );
            let (partitions, rf) = (dc.offset_partitions, dc.offset_rf);
            crate::store::connector_offsets::ConnectorOffsetStores::new(
                offsets.clone(),
                &dc.offset_topic,
                Box::new(move |topic: String| {
                    let (bootstrap, admin, overrides, lease) = (
                        bootstrap.clone(),
                        admin.clone(),
                        overrides.clone(),
                        lease.clone(),
                    );
                    Box::pin(async move {
                        let store = TopicOffsetStore::new(lease);
                        let log = KafkaLog::open(
                            &bootstrap,
                            &admin,
                            &topic,
                            partitions,
                            rf,
                            &overrides,
                            store.applier(),
                        )
                        .await
                        .map_err(|e| crate::store::StoreError::Topic(e.to_string()))?;
                        store.set_log(log);
                        Ok(store)
                    })
                }),
            )
        };
        let topic_log = status_log.clone();
        let env = TaskEnv {
            worker: worker_cfg.clone(),
            registry,
            offsets: connector_offsets,
            admin,
            on_topic: Arc::new(move |connector, topic| {
                let log = topic_log.clone();
                let key = format!("topic-{topic}-connector-{connector}");
                let value = topic_statuses::topic_status_value(topic, connector, now_ms());
                tokio::spawn(async move {
                    if let Err(e) = log.send(&key, Some(&value)).await {
                        tracing::warn!("cannot record active topic: {e}");
                    }
                });
            }),
            lease: Some(lease.clone()),
        };
        let worker = Arc::new(Worker::new(env));
        let mut local = Local::default();
        {
            let c = configs.state();
            for name in c.connectors.keys() {
                local.known.insert(name.clone(), c.task_count(name));
            }
        }
        let herder = Arc::new(DistributedHerder {
            core: HerderCore::new(worker, configs.clone(), cluster_id),
            dc,
            bootstrap,
            security,
            configs,
            status_log,
            offsets,
            status,
            local: Mutex::new(local),
            lease,
            generation: AtomicI32::new(-1),
            is_leader: AtomicBool::new(false),
            side_heartbeat: StdMutex::new(None),
            leader_urls: StdMutex::new(BTreeMap::new()),
            rejoin: Notify::new(),
            stopping: AtomicBool::new(false),
            leave_now: Notify::new(),
            leaving: AtomicBool::new(false),
            left: Notify::new(),
            leader_memory: StdMutex::new(LeaderMemory::default()),
            rebalances: StdMutex::new(RebalanceStats::default()),
            status_epoch: AtomicU64::new(0),
            status_write: Mutex::new(()),
            force_rejoin: AtomicBool::new(false),
            stopped_seen: StdMutex::new(BTreeMap::new()),
            stopped_at: AtomicI32::new(-1),
        });
        // Events of the replay are already folded into the state.
        let mut events_rx = events_rx;
        while events_rx.try_recv().is_ok() {}
        tokio::spawn(herder.clone().membership());
        tokio::spawn(herder.clone().side_heartbeats());
        tokio::spawn(herder.clone().config_events(events_rx));
        tokio::spawn(herder.clone().status_loop());
        tokio::spawn(herder.clone().lease_watch());
        tracing::info!(
            group = %herder.dc.group_id,
            "distributed worker {} joining the cluster",
            herder.dc.worker_id
        );
        Ok(herder)
    }

    fn cfg(&self) -> std::sync::MutexGuard<'_, ClusterConfig> {
        self.configs.state()
    }

    fn worker(&self) -> &Arc<Worker> {
        &self.core.worker
    }

    /// Asks for a rebalance (a new placement). Only the leader asks for
    /// config changes; every worker sees them, and one request is enough.
    fn request_rejoin(&self) {
        if self.is_leader.load(Ordering::SeqCst) {
            self.rejoin.notify_one();
        }
    }

    async fn read_configs(&self) -> HerderResult<()> {
        Ok(self.configs.read_to_end().await?)
    }

    /// Graceful stop: stop local work (committing offsets), then leave the
    /// group so the others take it over at once.
    pub async fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.release_all(true).await;
        let left = self.left.notified();
        self.leaving.store(true, Ordering::SeqCst);
        self.leave_now.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(5), left).await;
        if let Some(l) = self.configs.log() {
            l.close();
        }
        self.status_log.close();
        if let Some(l) = self.offsets.log() {
            l.close();
        }
    }

    /// Task starts on this worker (for tests and operations: a task that
    /// kept running through a rebalance was not started again).
    pub fn task_starts(&self, name: &str, task: u32) -> u64 {
        self.worker()
            .task_status(name, task)
            .map(|s| s.starts)
            .unwrap_or(0)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
