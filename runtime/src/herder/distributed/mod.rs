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

pub mod assign;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Mutex, Notify};

use super::core::{task_ids, HerderCore, LocalConnector};
use crate::config::{Config, ConfigDef, ConfigType, Importance};
use crate::herder::*;
use crate::kafka::group::{code, GroupConnection, GroupError, Joined};
use crate::kafka::log::KafkaLog;
use crate::kafka::TopicAdmin;
use crate::plugin::{BoxFuture, Props};
use crate::store::topic_configs::{ClusterConfig, ConfigEvent, TopicConfigStore};
use crate::store::topic_statuses::{self, ClusterStatus, StatusRecord};
use crate::store::{ConfigStore, TopicOffsetStore};
use crate::worker::config::WorkerConfig;
use crate::worker::{Lease, TaskEnv, Worker, LEASE_LOST};
use assign::{Assignment, LeaderMemory, MemberMeta, TaskKey, Units};

/// The group protocol name in JoinGroup (protocol type `connect`).
const PROTOCOL: &str = "sluice1";

/// The distributed worker's own keys (Kafka Connect's names).
pub fn distributed_config_def() -> ConfigDef {
    ConfigDef::new()
        .define("group.id", ConfigType::String, None, Importance::High,
            "The cluster: workers with the same group.id share connectors and tasks.")
        .define("config.storage.topic", ConfigType::String, None, Importance::High,
            "Compacted topic (one partition) holding connector configs, task configs and target states.")
        .define("offset.storage.topic", ConfigType::String, None, Importance::High,
            "Compacted topic holding source connectors' offsets.")
        .define("status.storage.topic", ConfigType::String, None, Importance::High,
            "Compacted topic holding connector and task statuses.")
        .define("config.storage.replication.factor", ConfigType::Short, Some("-1"), Importance::Low,
            "Replication factor of the config topic when created; -1 is the broker's default.")
        .define("offset.storage.replication.factor", ConfigType::Short, Some("-1"), Importance::Low,
            "Replication factor of the offset topic when created; -1 is the broker's default.")
        .define("status.storage.replication.factor", ConfigType::Short, Some("-1"), Importance::Low,
            "Replication factor of the status topic when created; -1 is the broker's default.")
        .define("offset.storage.partitions", ConfigType::Int, Some("25"), Importance::Low,
            "Partitions of the offset topic when created.")
        .define("status.storage.partitions", ConfigType::Int, Some("5"), Importance::Low,
            "Partitions of the status topic when created.")
        .define("rest.advertised.host.name", ConfigType::String, Some(""), Importance::Low,
            "Host name other workers and statuses use for this worker (default: the listener's host).")
        .define("rest.advertised.port", ConfigType::Int, Some("0"), Importance::Low,
            "Port other workers and statuses use for this worker (default: the listener's port).")
        .define("session.timeout.ms", ConfigType::Int, Some("10000"), Importance::High,
            "A worker that does not heartbeat for this long leaves the group and its work moves.")
        .define("heartbeat.interval.ms", ConfigType::Int, Some("3000"), Importance::High,
            "How often a worker heartbeats to the group coordinator.")
        .define("rebalance.timeout.ms", ConfigType::Int, Some("60000"), Importance::Medium,
            "How long the coordinator waits for every worker to rejoin during a rebalance.")
        .define("scheduled.rebalance.max.delay.ms", ConfigType::Int, Some("0"), Importance::Medium,
            "How long the work of a departed worker waits for it to return before it moves (KIP-415). Sluice's default 0 moves it at once; Kafka Connect's is 300000.")
        .define("task.auto.restart.enable", ConfigType::Boolean, Some("true"), Importance::Medium,
            "Restart FAILED tasks on their own, with exponential backoff.")
        .define("task.auto.restart.backoff.initial.ms", ConfigType::Long, Some("1000"), Importance::Low,
            "Wait before the first automatic restart of a FAILED task; doubles with each restart.")
        .define("task.auto.restart.backoff.max.ms", ConfigType::Long, Some("60000"), Importance::Low,
            "Longest wait between automatic restarts; a task that then runs this long starts again from the initial backoff.")
}

/// The parsed distributed settings.
#[derive(Debug, Clone)]
pub struct DistributedConfig {
    pub group_id: String,
    pub config_topic: String,
    pub offset_topic: String,
    pub status_topic: String,
    pub config_rf: i32,
    pub offset_rf: i32,
    pub status_rf: i32,
    pub offset_partitions: i32,
    pub status_partitions: i32,
    /// `http://host:port` other workers reach this one at.
    pub url: String,
    /// `host:port`, shown in statuses.
    pub worker_id: String,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub rebalance_timeout: Duration,
    pub rebalance_delay: Duration,
    pub auto_restart: bool,
    pub restart_initial: Duration,
    pub restart_max: Duration,
}

impl DistributedConfig {
    /// Reads and checks the distributed keys; errors name the key and the remedy.
    pub fn from_worker(w: &WorkerConfig) -> Result<DistributedConfig, String> {
        let def = distributed_config_def();
        for (name, errors) in def.validate_all(&w.props) {
            if let Some(e) = errors.first() {
                return Err(format!("worker config: {e} (key {name})"));
            }
        }
        let c = Config::with_def(w.props.clone(), def);
        let need = |k: &str, example: &str| {
            c.opt_string(k).ok_or_else(|| {
                format!(
                    "worker config: {k} is not set; distributed mode needs it (e.g. {k}={example})"
                )
            })
        };
        let group_id = need("group.id", "sluice-cluster")?;
        let config_topic = need("config.storage.topic", "sluice-configs")?;
        let offset_topic = need("offset.storage.topic", "sluice-offsets")?;
        let status_topic = need("status.storage.topic", "sluice-status")?;
        let names = [&config_topic, &offset_topic, &status_topic];
        for (i, a) in names.iter().enumerate() {
            if names[i + 1..].contains(a) {
                return Err(format!("worker config: config.storage.topic, offset.storage.topic and status.storage.topic must be three different topics; {a} is used twice"));
            }
        }
        let int = |k: &str| c.i64(k).unwrap_or(0);
        // The address other workers forward requests to, and this worker's id.
        let advertised = w.worker_id();
        let session = int("session.timeout.ms");
        let heartbeat = int("heartbeat.interval.ms");
        if heartbeat <= 0 || session <= heartbeat {
            return Err(format!("worker config: heartbeat.interval.ms={heartbeat} must be positive and below session.timeout.ms={session} (Kafka Connect uses 3000 and 10000)"));
        }
        let rf = |k: &str| match int(k) {
            0 => -1,
            n => n as i32,
        };
        Ok(DistributedConfig {
            group_id,
            config_topic,
            offset_topic,
            status_topic,
            config_rf: rf("config.storage.replication.factor"),
            offset_rf: rf("offset.storage.replication.factor"),
            status_rf: rf("status.storage.replication.factor"),
            offset_partitions: int("offset.storage.partitions").max(1) as i32,
            status_partitions: int("status.storage.partitions").max(1) as i32,
            url: format!("http://{advertised}"),
            worker_id: advertised,
            session_timeout: Duration::from_millis(session as u64),
            heartbeat_interval: Duration::from_millis(heartbeat as u64),
            rebalance_timeout: Duration::from_millis(int("rebalance.timeout.ms").max(1000) as u64),
            rebalance_delay: Duration::from_millis(
                int("scheduled.rebalance.max.delay.ms").max(0) as u64
            ),
            auto_restart: c.bool("task.auto.restart.enable").unwrap_or(true),
            restart_initial: Duration::from_millis(
                int("task.auto.restart.backoff.initial.ms").max(1) as u64,
            ),
            restart_max: Duration::from_millis(
                int("task.auto.restart.backoff.max.ms").max(1) as u64
            ),
        })
    }

    /// How long the lease lasts after a heartbeat: shorter than the session
    /// by one heartbeat interval, so it lapses before the coordinator acts.
    fn lease_span(&self) -> Duration {
        self.session_timeout.saturating_sub(self.heartbeat_interval)
    }
}

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
    published: BTreeMap<String, StatusRecord>,
    restarts: BTreeMap<TaskKey, Restarts>,
}

/// The distributed herder.
pub struct DistributedHerder {
    core: HerderCore,
    dc: DistributedConfig,
    bootstrap: String,
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
    ) -> Result<Arc<DistributedHerder>, String> {
        let dc = DistributedConfig::from_worker(&worker_cfg)?;
        let bootstrap = worker_cfg.bootstrap_servers.clone();
        let producer_overrides = worker_cfg.producer_overrides();
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
        .map_err(|e| format!("config.storage.topic {}: {e}", dc.config_topic))?;
        configs.set_log(config_log.clone());
        if config_log.partitions() != 1 {
            return Err(format!(
                "config topic {} has {} partitions; it must have exactly one so that every worker sees configs in one order. Create it with one partition (or point config.storage.topic at a new topic)",
                dc.config_topic,
                config_log.partitions()
            ));
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
        .map_err(|e| format!("status.storage.topic {}: {e}", dc.status_topic))?;
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
        .map_err(|e| format!("offset.storage.topic {}: {e}", dc.offset_topic))?;
        offsets.set_log(offset_log.clone());
        let read_timeout = Duration::from_secs(60);
        for log in [&config_log, &status_log, &offset_log] {
            log.read_to_end(read_timeout)
                .await
                .map_err(|e| e.to_string())?;
        }

        let topic_log = status_log.clone();
        let env = TaskEnv {
            worker: worker_cfg.clone(),
            registry,
            offsets: offsets.clone(),
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
            stopped_at: AtomicI32::new(-1),
        });
        // Events of the replay are already folded into the state.
        let mut events_rx = events_rx;
        while events_rx.try_recv().is_ok() {}
        tokio::spawn(herder.clone().membership());
        tokio::spawn(herder.clone().side_heartbeats());
        tokio::spawn(herder.clone().config_events(events_rx));
        tokio::spawn(herder.clone().status_loop());
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

    // ---- group membership ----------------------------------------------

    fn metadata(&self, nonce: u64) -> Vec<u8> {
        let meta = MemberMeta {
            url: self.dc.url.clone(),
            worker_id: self.dc.worker_id.clone(),
            nonce,
            stopped_at: self.stopped_at.load(Ordering::SeqCst),
            held: Units::default(),
        };
        serde_json::to_vec(&meta).expect("metadata serialises")
    }

    /// The membership loop: join, sync, apply, heartbeat; rejoin when the
    /// coordinator or this worker asks for it.
    ///
    /// Written defensively, for coordinators that differ from Apache
    /// Kafka's (the stand-in broker tests ran on until 2026-12-07, measured): a join with unchanged metadata may not start a rebalance,
    /// and a departed member may be noticed by one heartbeat only. So a
    /// worker that wants a rebalance and gets its current generation back
    /// bumps a nonce in its metadata and joins again; a follower whose sync
    /// comes before the leader's keeps heartbeating and retries the sync;
    /// and every heartbeat is followed by a sync of the current generation,
    /// which returns the stored assignment, so an assignment replaced within
    /// a generation is noticed too.
    async fn membership(self: Arc<Self>) {
        let group = self.dc.group_id.clone();
        let session_ms = self.dc.session_timeout.as_millis() as i32;
        let rebalance_ms = self.dc.rebalance_timeout.as_millis() as i32;
        let hb = self.dc.heartbeat_interval;
        let io_timeout = self.dc.session_timeout;
        let mut member_id = String::new();
        let mut conn: Option<GroupConnection> = None;
        let mut attempt = 0u32;
        let mut applied_generation = -1i32;
        let mut applied_bytes: Vec<u8>;
        let mut nonce = 0u64;
        'outer: loop {
            if self.leaving.load(Ordering::SeqCst) {
                break;
            }
            if conn.is_none() {
                match GroupConnection::connect(&self.bootstrap, &group, &self.dc.worker_id).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::warn!("cannot reach the group coordinator: {e}; retrying");
                        tokio::time::sleep(crate::worker::backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                }
            }
            let c = conn.as_mut().expect("connected above");
            let meta = self.metadata(nonce);
            // A pending join keeps the membership for up to the rebalance timeout.
            self.lease
                .extend(self.dc.rebalance_timeout.max(self.dc.lease_span()));
            // Joins do not count as liveness on every coordinator, and
            // a follower's join may be held for seconds: heartbeat beside it.
            *self
                .side_heartbeat
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = (!member_id.is_empty())
                .then(|| (member_id.clone(), self.generation.load(Ordering::SeqCst)));
            let joined = c
                .join(
                    &group,
                    session_ms,
                    rebalance_ms,
                    &member_id,
                    "connect",
                    &[(PROTOCOL, &meta)],
                )
                .await;
            let j = match joined {
                Ok(j) => j,
                Err(e) => {
                    self.on_group_error(&e, &mut member_id, &mut conn).await;
                    tokio::time::sleep(crate::worker::backoff(attempt.min(4))).await;
                    attempt += 1;
                    continue;
                }
            };
            member_id = j.member_id.clone();
            *self
                .side_heartbeat
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some((member_id.clone(), j.generation));
            self.is_leader
                .store(j.leader == j.member_id, Ordering::SeqCst);
            if j.generation == applied_generation {
                // No rebalance started: ask for one with changed metadata.
                nonce += 1;
                continue;
            }
            let (assignments, mut memory) = if j.leader == j.member_id {
                let (a, m) = self.lead(&j).await;
                (a, Some(m))
            } else {
                (Vec::new(), None)
            };
            // Sync; a follower early for the leader keeps its session alive and retries.
            let sync_deadline = tokio::time::Instant::now() + self.dc.rebalance_timeout;
            let sync_started = tokio::time::Instant::now();
            let bytes = loop {
                let c = conn.as_mut().expect("connected above");
                match c
                    .sync(&group, j.generation, &member_id, &assignments, io_timeout)
                    .await
                {
                    Ok(b) => {
                        // The placement stands: remember it for the next round.
                        if let Some(m) = memory.take() {
                            self.set_leader_memory(m);
                        }
                        break b;
                    }
                    Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => {
                        if tokio::time::Instant::now() > sync_deadline {
                            continue 'outer;
                        }
                        match c
                            .heartbeat(&group, j.generation, &member_id, io_timeout)
                            .await
                        {
                            Ok(()) => tokio::time::sleep(Duration::from_millis(300)).await,
                            Err(_) => continue 'outer,
                        }
                        if sync_started.elapsed() > 2 * hb + Duration::from_secs(3)
                            && j.leader != member_id
                            && self.leader_is_dead(&j.leader).await
                        {
                            self.depose_dead_leader(&j.leader).await;
                            continue 'outer;
                        }
                    }
                    Err(e) => {
                        self.on_group_error(&e, &mut member_id, &mut conn).await;
                        attempt += 1;
                        continue 'outer;
                    }
                }
            };
            attempt = 0;
            *self
                .side_heartbeat
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = None;
            self.lease.extend(self.dc.lease_span());
            self.generation.store(j.generation, Ordering::SeqCst);
            let (mut rejoin, mut rejoin_at, revoked) = match conn.as_mut() {
                Some(c) => self.apply_bytes(c, &group, &j, &member_id, &bytes).await,
                None => (true, None, false),
            };
            if revoked {
                // Tell the leader the revoked work has stopped.
                nonce += 1;
            }
            applied_generation = j.generation;
            applied_bytes = bytes;
            // Steady state: heartbeat, then look at the stored assignment.
            while !rejoin {
                let far = tokio::time::Instant::now() + Duration::from_secs(86400);
                tokio::select! {
                    _ = tokio::time::sleep(hb) => {}
                    _ = self.rejoin.notified() => {
                        // Several config records in a row (a connector, then
                        // its tasks) ask once each; a round that already saw
                        // them all need not be followed by another.
                        let placed = self
                            .leader_memory
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .config_offset;
                        if placed.is_none_or(|p| p < self.cfg().offset) {
                            nonce += 1;
                            break;
                        }
                    }
                    _ = tokio::time::sleep_until(rejoin_at.unwrap_or(far)) => {
                        nonce += 1;
                        break;
                    }
                    _ = self.leave_now.notified() => break 'outer,
                }
                if self.leaving.load(Ordering::SeqCst) {
                    break 'outer;
                }
                let Some(c) = conn.as_mut() else { break };
                let sent = Instant::now();
                let hb_result = c
                    .heartbeat(&group, j.generation, &member_id, io_timeout)
                    .await;
                if sent.elapsed() > hb {
                    tracing::warn!("heartbeat took {} ms (heartbeat.interval.ms={}); a busy broker or host risks this worker's session", sent.elapsed().as_millis(), hb.as_millis());
                }
                match hb_result {
                    Ok(()) => self.lease.extend(self.dc.lease_span()),
                    Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => {
                        // A new generation, or only a member found expired?
                        // some coordinators answer the latter this way too but keep the
                        // generation, and a join with unchanged metadata then
                        // starts no round: ask with a new nonce at once
                        // rather than after one wasted join.
                        if let Err(e) = c
                            .heartbeat(&group, j.generation + 1, &member_id, io_timeout)
                            .await
                        {
                            if e.code() == Some(code::ILLEGAL_GENERATION) {
                                nonce += 1;
                            }
                        }
                        break;
                    }
                    Err(e) => {
                        self.on_group_error(&e, &mut member_id, &mut conn).await;
                        break;
                    }
                }
                match c
                    .sync(&group, j.generation, &member_id, &[], io_timeout)
                    .await
                {
                    Ok(b) if b != applied_bytes && !b.is_empty() => {
                        tracing::info!(
                            generation = j.generation,
                            "assignment replaced within the generation; applying it"
                        );
                        let (r, at, revoked) =
                            self.apply_bytes(c, &group, &j, &member_id, &b).await;
                        rejoin = r;
                        rejoin_at = at;
                        if revoked {
                            nonce += 1;
                        }
                        applied_bytes = b;
                    }
                    Ok(_) => {}
                    Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => break,
                    Err(e) => {
                        self.on_group_error(&e, &mut member_id, &mut conn).await;
                        break;
                    }
                }
            }
        }
        if let Some(c) = conn.as_mut() {
            if !member_id.is_empty() {
                let _ = c.leave(&group, &member_id).await;
            }
        }
        self.left.notify_waiters();
    }

    /// Applies an assignment while heartbeating. Returns whether to rejoin
    /// at once (revocations, a rebalance seen meanwhile) and when to rejoin
    /// for held-back work.
    async fn apply_bytes(
        &self,
        c: &mut GroupConnection,
        group: &str,
        j: &Joined,
        member_id: &str,
        bytes: &[u8],
    ) -> (bool, Option<tokio::time::Instant>, bool) {
        let assignment: Assignment = match serde_json::from_slice(bytes) {
            Ok(a) => a,
            Err(_) => {
                tracing::warn!(
                    generation = j.generation,
                    "no assignment for this worker in this generation; rejoining"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
                return (true, None, false);
            }
        };
        tracing::info!(
            generation = j.generation,
            leader = j.leader == j.member_id,
            "joined the cluster: {} connector(s), {} task(s) assigned{}",
            assignment.units.connectors.len(),
            assignment.units.tasks.len(),
            if assignment.revoked {
                ", some revoked"
            } else {
                ""
            }
        );
        self.leader_urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(assignment.leader.clone(), assignment.leader_url.clone());
        if assignment.leader != member_id {
            self.forget_leading();
        }
        let mut revoked = assignment.revoked;
        let rejoin_at = assignment
            .rejoin_after_ms
            .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
        let mut rejoin = false;
        let apply = self.apply(assignment);
        tokio::pin!(apply);
        loop {
            tokio::select! {
                stopped = &mut apply => {
                    revoked |= stopped;
                    break;
                }
                _ = tokio::time::sleep(self.dc.heartbeat_interval) => {
                    match c.heartbeat(group, j.generation, member_id, self.dc.session_timeout).await {
                        Ok(()) => self.lease.extend(self.dc.lease_span()),
                        Err(_) => rejoin = true,
                    }
                }
            }
        }
        if revoked {
            // This worker now runs exactly this generation's share: tell the
            // leader (metadata) so that it may place what was taken away.
            self.stopped_at.store(j.generation, Ordering::SeqCst);
        }
        (rejoin || revoked, rejoin_at, revoked)
    }

    /// Whether the worker that led under `leader` (member id) is gone or
    /// frozen: its REST API does not answer within 3 s. Leaders this worker
    /// never heard of are not judged.
    async fn leader_is_dead(&self, leader: &str) -> bool {
        let url = self
            .leader_urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(leader)
            .cloned();
        let Some(url) = url else {
            return false;
        };
        if url == self.dc.url {
            return false;
        }
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        // A frozen process still accepts TCP connections (the kernel does),
        // so ask for an answer, not a connection.
        let probe = async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(&addr).await?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
            let mut buf = [0u8; 12];
            let n = s.read(&mut buf).await?;
            Ok::<bool, std::io::Error>(n > 0)
        };
        !matches!(
            tokio::time::timeout(Duration::from_secs(3), probe).await,
            Ok(Ok(true))
        )
    }

    /// Recovers a group whose leader died without the coordinator clearing
    /// its leadership (seen on a stand-in broker: a leader expired by a
    /// heartbeat stayed leader, so no sync ever completed). This worker joins under the dead leader's
    /// member id, which makes it the leader's voice for one generation: it
    /// places the work of the live members, then leaves under that id, which
    /// clears the leadership; the next worker to join leads.
    async fn depose_dead_leader(&self, leader: &str) {
        tracing::warn!("the group's leader (member {leader}) is gone but still named leader by the coordinator; taking its place for one round to hand leadership on");
        let group = self.dc.group_id.clone();
        let Ok(mut c) = GroupConnection::connect(&self.bootstrap, &group, &self.dc.worker_id).await
        else {
            return;
        };
        let meta = serde_json::to_vec(&MemberMeta {
            url: String::new(),
            worker_id: String::new(),
            nonce: u64::MAX,
            stopped_at: -1,
            held: Units::default(),
        })
        .expect("metadata serialises");
        let session_ms = self.dc.session_timeout.as_millis() as i32;
        let rebalance_ms = self.dc.rebalance_timeout.as_millis() as i32;
        let Ok(mut j) = c
            .join(
                &group,
                session_ms,
                rebalance_ms,
                leader,
                "connect",
                &[(PROTOCOL, &meta)],
            )
            .await
        else {
            return;
        };
        if j.leader == j.member_id {
            j.members.retain(|m| m.member_id != leader);
            // Placed as if by a new leader: this worker's memory is of rounds
            // another worker led.
            self.forget_leading();
            let (assignments, _) = self.lead(&j).await;
            let _ = c
                .sync(
                    &group,
                    j.generation,
                    leader,
                    &assignments,
                    self.dc.session_timeout,
                )
                .await;
        }
        let _ = c.leave(&group, leader).await;
    }

    /// Heartbeats on a second connection while a join or sync is pending.
    async fn side_heartbeats(self: Arc<Self>) {
        let group = self.dc.group_id.clone();
        let mut conn: Option<GroupConnection> = None;
        loop {
            tokio::time::sleep(self.dc.heartbeat_interval).await;
            if self.leaving.load(Ordering::SeqCst) {
                return;
            }
            let Some((member, generation)) = self
                .side_heartbeat
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            else {
                continue;
            };
            if conn.is_none() {
                conn = GroupConnection::connect(&self.bootstrap, &group, &self.dc.worker_id)
                    .await
                    .ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            // Only a heartbeat at the group's current generation keeps a
            // session alive on every coordinator (on some, in a formed group, a
            // heartbeat of an older generation is answered "rebalance in
            // progress" without counting, and joins and syncs never count).
            // While this worker waits in a join it does not know that
            // generation yet, so look for it upwards: an older one answers
            // "rebalance in progress", the current one "ok" (counted), a
            // newer one "illegal generation" (harmless).
            let mut g = generation;
            for _ in 0..8 {
                match c
                    .heartbeat(&group, g, &member, self.dc.session_timeout)
                    .await
                {
                    Err(GroupError::Io(_)) => {
                        conn = None;
                        break;
                    }
                    Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => g += 1,
                    _ => break,
                }
            }
        }
    }

    /// Reacts to a failed group request.
    async fn on_group_error(
        &self,
        e: &GroupError,
        member_id: &mut String,
        conn: &mut Option<GroupConnection>,
    ) {
        match e.code() {
            Some(code::UNKNOWN_MEMBER_ID)
            | Some(code::ILLEGAL_GENERATION)
            | Some(code::FENCED_INSTANCE_ID) => {
                // The group moved on without this worker: its work may
                // already run elsewhere, so stop it before rejoining.
                tracing::warn!("the group coordinator no longer counts this worker in the current generation ({e}); stopping local work and rejoining");
                self.release_all(false).await;
                self.forget_leading();
                if e.code() != Some(code::ILLEGAL_GENERATION) {
                    member_id.clear();
                }
            }
            Some(code::REBALANCE_IN_PROGRESS) => {}
            Some(code::INCONSISTENT_GROUP_PROTOCOL) => {
                tracing::error!("group {} is used by clients of another kind (not Sluice workers); give this cluster its own group.id", self.dc.group_id);
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Some(code::NOT_COORDINATOR)
            | Some(code::COORDINATOR_NOT_AVAILABLE)
            | Some(code::COORDINATOR_LOAD_IN_PROGRESS)
            | None => {
                tracing::warn!("group coordinator: {e}; reconnecting");
                *conn = None;
            }
            Some(_) => tracing::warn!("group request failed: {e}; rejoining"),
        }
    }

    /// The leader's part: place everything, one assignment per member.
    /// Returns the assignments and the leader's memory after them, to keep
    /// once the coordinator took them (the sync succeeded).
    async fn lead(&self, j: &Joined) -> (Vec<(String, Vec<u8>)>, LeaderMemory) {
        if let Err(e) = self.configs.read_to_end().await {
            tracing::warn!("leader cannot read the config topic to its end: {e}");
        }
        let mut members: Vec<(String, MemberMeta)> = j
            .members
            .iter()
            .map(|m| {
                let meta = serde_json::from_slice(&m.metadata).unwrap_or(MemberMeta {
                    url: String::new(),
                    worker_id: String::new(),
                    nonce: 0,
                    stopped_at: -1,
                    held: Units::default(),
                });
                (m.member_id.clone(), meta)
            })
            .collect();
        // The leader first: placement breaks ties towards the first member,
        // and the leader starts its share at once, while a follower may wait
        // in its join (some coordinators hold each follower's join for seconds), so work that
        // moves after a failure restarts sooner.
        members.sort_by(|a, b| (a.0 != j.leader, &a.0).cmp(&(b.0 != j.leader, &b.0)));
        tracing::debug!(
            generation = j.generation,
            "leading: members {:?}",
            members
                .iter()
                .map(|(id, m)| format!(
                    "{}={}#{}",
                    m.worker_id,
                    &id[id.len().saturating_sub(6)..],
                    m.nonce
                ))
                .collect::<Vec<_>>()
        );
        let (mut connectors, mut tasks, offset) = {
            let c = self.cfg();
            let connectors: BTreeSet<String> = c.connectors.keys().cloned().collect();
            let tasks: BTreeSet<TaskKey> = c
                .tasks
                .iter()
                .filter(|(name, _)| c.connectors.contains_key(*name))
                .flat_map(|(name, list)| (0..list.len() as u32).map(move |i| (name.clone(), i)))
                .collect();
            (connectors, tasks, c.offset)
        };
        let mut mem = self
            .leader_memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (shares, next) = {
            // What each member runs: what this leader gave it, or for a new
            // leader what the status topic says it runs.
            let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
            let mut limbo: BTreeMap<String, (Units, i32)> = BTreeMap::new();
            for (id, meta) in members.iter_mut() {
                meta.held = if mem.generation.is_some() {
                    mem.given.get(id).cloned().unwrap_or_default()
                } else {
                    Units {
                        connectors: st
                            .connectors
                            .iter()
                            .filter(|(_, r)| {
                                r.worker_id == meta.worker_id && r.state != State::Unassigned
                            })
                            .map(|(n, _)| n.clone())
                            .collect(),
                        tasks: st
                            .tasks
                            .iter()
                            .filter(|(_, r)| {
                                r.worker_id == meta.worker_id && r.state != State::Unassigned
                            })
                            .map(|(t, _)| t.clone())
                            .collect(),
                    }
                };
                // Revoked work stays unplaced until its member confirms it stopped.
                if let Some((units, at_generation)) = mem.revoked.get(id) {
                    if meta.stopped_at < *at_generation {
                        for c in &units.connectors {
                            connectors.remove(c);
                        }
                        for t in &units.tasks {
                            tasks.remove(t);
                        }
                        limbo.insert(id.clone(), (units.clone(), *at_generation));
                    }
                }
            }
            drop(st);
            let before: BTreeMap<String, Units> = members
                .iter()
                .map(|(id, m)| (id.clone(), m.held.clone()))
                .collect();
            let r = assign::assign(
                &members,
                &connectors,
                &tasks,
                self.dc.rebalance_delay,
                Instant::now(),
                &mut mem,
            );
            mem.generation = Some(j.generation);
            mem.config_offset = Some(offset);
            mem.revoked = limbo;
            for (id, _) in &members {
                let Some(share) = r.0.get(id) else { continue };
                if !share.revoked {
                    continue;
                }
                let had = &before[id];
                let gone = Units {
                    connectors: had
                        .connectors
                        .iter()
                        .filter(|c| !share.units.connectors.contains(c))
                        .cloned()
                        .collect(),
                    tasks: had
                        .tasks
                        .iter()
                        .filter(|t| !share.units.tasks.contains(t))
                        .cloned()
                        .collect(),
                };
                let entry = mem
                    .revoked
                    .entry(id.clone())
                    .or_insert((Units::default(), j.generation));
                entry.0.connectors.extend(gone.connectors);
                entry.0.tasks.extend(gone.tasks);
                entry.1 = j.generation;
            }
            r
        };
        let assignments = shares
            .into_iter()
            .map(|(id, share)| {
                let a = Assignment {
                    version: 1,
                    generation: j.generation,
                    leader: j.leader.clone(),
                    leader_url: self.dc.url.clone(),
                    config_offset: offset,
                    units: share.units,
                    revoked: share.revoked,
                    rejoin_after_ms: if id == j.leader {
                        next.map(|d| d.as_millis() as u64 + 1)
                    } else {
                        None
                    },
                };
                (id, serde_json::to_vec(&a).expect("assignment serialises"))
            })
            .collect();
        (assignments, mem)
    }

    /// Forgets what this worker remembers of rounds it led: another worker
    /// led since, or this worker left the group.
    fn forget_leading(&self) {
        self.set_leader_memory(LeaderMemory::default());
    }

    fn set_leader_memory(&self, m: LeaderMemory) {
        *self.leader_memory.lock().unwrap_or_else(|p| p.into_inner()) = m;
    }

    /// Makes local work match an assignment: stops what left it, starts
    /// what joined it, leaves the rest running. Returns whether it stopped
    /// anything.
    async fn apply(&self, a: Assignment) -> bool {
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
    async fn release_all(&self, write_status: bool) {
        let mut local = self.local.lock().await;
        let tasks: Vec<TaskKey> = local.tasks.keys().cloned().collect();
        self.stop_tasks(&mut local, &tasks, write_status).await;
        let names: Vec<String> = local.connectors.keys().cloned().collect();
        for n in names {
            self.stop_connector(&mut local, &n, write_status).await;
        }
    }

    // ---- local connectors and tasks --------------------------------------

    async fn start_connector(&self, local: &mut Local, name: &str) {
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
                if let Err(e) = self.configs.put_task_configs(name, &t).await {
                    tracing::error!(connector = name, "cannot write task configs: {e}");
                }
            }
        }
    }
    async fn stop_connector(&self, local: &mut Local, name: &str, write_status: bool) {
        if let Some(mut lc) = local.connectors.remove(name) {
            lc.stop_instance();
            if write_status {
                self.unassigned(local, &status_key_connector(name)).await;
            }
        }
    }

    fn start_task(&self, local: &mut Local, t: &TaskKey) {
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
    async fn stop_tasks(&self, local: &mut Local, tasks: &[TaskKey], write_status: bool) {
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

    async fn restart_task_locally(&self, local: &mut Local, t: &TaskKey) {
        self.stop_tasks(local, std::slice::from_ref(t), false).await;
        self.start_task(local, t);
    }

    /// Marks a unit this worker stopped as UNASSIGNED (its next owner
    /// writes RUNNING), as Kafka Connect does on shutdown.
    async fn unassigned(&self, local: &mut Local, key: &str) {
        local.published.remove(key);
        if !self.lease.valid() {
            return;
        }
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

    // ---- config events ---------------------------------------------------

    async fn config_events(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<ConfigEvent>) {
        while let Some(ev) = rx.recv().await {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            self.on_config_event(ev).await;
        }
    }

    async fn on_config_event(&self, ev: ConfigEvent) {
        let mut local = self.local.lock().await;
        match ev {
            ConfigEvent::Connector(name) => {
                if local.connectors.contains_key(&name) {
                    tracing::info!(connector = %name, "connector reconfigured; restarting it");
                    self.stop_connector(&mut local, &name, false).await;
                    self.start_connector(&mut local, &name).await;
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
                let tasks: Vec<TaskKey> = local
                    .tasks
                    .keys()
                    .filter(|t| t.0 == name)
                    .cloned()
                    .collect();
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
                let mine: Vec<TaskKey> = local
                    .tasks
                    .keys()
                    .filter(|t| t.0 == name)
                    .cloned()
                    .collect();
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
                        self.stop_connector(&mut local, &name, false).await;
                        self.start_connector(&mut local, &name).await;
                    }
                    (s, Some(false)) => {
                        if let Some(lc) = local.connectors.get_mut(&name) {
                            lc.follow_target(s);
                        }
                    }
                    _ => {}
                }
                let mine: Vec<TaskKey> = local
                    .tasks
                    .keys()
                    .filter(|t| t.0 == name)
                    .cloned()
                    .collect();
                if target == TargetState::Stopped {
                    self.stop_tasks(&mut local, &mine, false).await;
                } else {
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
                        self.stop_connector(&mut local, &name, false).await;
                        self.start_connector(&mut local, &name).await;
                    }
                }
                if include_tasks {
                    let mine: Vec<TaskKey> = local
                        .tasks
                        .keys()
                        .filter(|t| t.0 == name)
                        .cloned()
                        .collect();
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

    // ---- statuses, fencing, automatic restarts ----------------------------

    async fn status_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            if !self.lease.valid() {
                let held = {
                    let l = self.local.lock().await;
                    !l.tasks.is_empty() || !l.connectors.is_empty()
                };
                if held {
                    tracing::error!("{LEASE_LOST}");
                    self.release_all(false).await;
                    // Rejoin: the group places the work again (here or elsewhere).
                    self.rejoin.notify_one();
                }
                continue;
            }
            self.publish_statuses().await;
            if self.dc.auto_restart {
                self.auto_restart().await;
            }
        }
    }

    async fn publish_statuses(&self) {
        let generation = self.generation.load(Ordering::SeqCst);
        let mut local = self.local.lock().await;
        let mut updates = Vec::new();
        for (name, lc) in &local.connectors {
            updates.push((status_key_connector(name), lc.state, lc.trace.clone()));
        }
        for t in local.tasks.keys() {
            if let Some(s) = self.worker().task_status(&t.0, t.1) {
                updates.push((status_key_task(&t.0, t.1), s.state, s.trace));
            }
        }
        for (key, state, trace) in updates {
            let rec = StatusRecord {
                state,
                trace,
                worker_id: self.dc.worker_id.clone(),
                generation,
            };
            let same = local
                .published
                .get(&key)
                .map(|p| {
                    p.state == rec.state && p.trace == rec.trace && p.worker_id == rec.worker_id
                })
                .unwrap_or(false);
            if same {
                continue;
            }
            match self.status_log.send(&key, Some(&rec.to_bytes())).await {
                Ok(()) => {
                    local.published.insert(key, rec);
                }
                Err(e) => tracing::warn!("cannot write status {key}: {e}"),
            }
        }
    }

    async fn auto_restart(&self) {
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

    // ---- status views ------------------------------------------------------

    fn connector_state(&self, local: &Local, name: &str) -> ConnectorState {
        if let Some(lc) = local.connectors.get(name) {
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

    fn task_state(&self, local: &Local, name: &str, id: u32) -> TaskState {
        if local.tasks.contains_key(&(name.to_string(), id)) {
            if let Some(s) = self.core.local_task_state(name, id, &self.dc.worker_id) {
                return s;
            }
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
            },
            None => TaskState {
                id,
                state: State::Unassigned,
                worker_id: String::new(),
                trace: None,
                progress: None,
                starts: None,
            },
        }
    }

    fn existing(&self, name: &str) -> HerderResult<Props> {
        self.core.existing(name)
    }

    /// A task of a stored connector, or Kafka Connect's 404.
    fn existing_task(&self, name: &str, task: u32) -> HerderResult<()> {
        self.existing(name)?;
        if task as usize >= self.cfg().task_count(name) {
            return Err(HerderError::NotFound(format!(
                "Task {name}-{task} not found"
            )));
        }
        Ok(())
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
            let exists = self.cfg().connectors.contains_key(&name);
            if exists && !allow_replace {
                return Err(HerderError::Conflict(format!(
                    "Connector {name} already exists"
                )));
            }
            self.configs
                .put_config(&name, &config, initial_state)
                .await?;
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
            let local = self.local.lock().await;
            Ok(ConnectorStatus {
                connector: self.connector_state(&local, &name),
                tasks: (0..n).map(|i| self.task_state(&local, &name, i)).collect(),
                kind: self.core.connector_kind(&config),
                name,
            })
        })
    }

    fn task_status(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<TaskState>> {
        let name = name.to_string();
        Box::pin(async move {
            self.existing_task(&name, task)?;
            let local = self.local.lock().await;
            Ok(self.task_state(&local, &name, task))
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
        Box::pin(async move { self.core.modify_offsets(&name, offsets).await })
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
}
