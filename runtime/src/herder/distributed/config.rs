//! The distributed worker's own keys (Kafka Connect's names), parsed once.

use std::time::Duration;

use crate::config::{Config, ConfigDef, ConfigType, Importance};
use crate::worker::config::WorkerConfig;

/// Why a distributed worker cannot start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartupError {
    /// A distributed key is missing or contradicts another: definite, the
    /// worker file must change.
    #[error("{0}")]
    Config(String),
    /// An internal topic exists in a shape that cannot work (a config
    /// topic with several partitions): definite, an operator must act.
    #[error("{0}")]
    TopicLayout(String),
    /// Kafka did not open or read an internal topic: retriable once the
    /// broker answers (unless its answer says otherwise).
    #[error("{0}")]
    Kafka(String),
}

impl StartupError {
    pub fn is_retriable(&self) -> bool {
        matches!(self, StartupError::Kafka(_))
    }
}

/// The distributed worker's own keys (Kafka Connect's names).
pub fn distributed_config_def() -> ConfigDef {
    ConfigDef::new()
        .define("exactly.once.source.support", ConfigType::String, Some("disabled"), Importance::High,
            "KIP-618: enabled delivers every source task's records and offsets in Kafka transactions (read them with isolation.level=read_committed); preparing is accepted as Kafka Connect's rolling-upgrade step and delivers at least once; disabled (default) at least once.")
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
    pub fn from_worker(w: &WorkerConfig) -> Result<DistributedConfig, StartupError> {
        let def = distributed_config_def();
        for (name, errors) in def.validate_all(&w.props) {
            if let Some(e) = errors.first() {
                return Err(StartupError::Config(format!(
                    "worker config: {e} (key {name})"
                )));
            }
        }
        let c = Config::with_def(w.props.clone(), def);
        let need = |k: &str, example: &str| {
            c.opt_string(k).ok_or_else(|| {
                StartupError::Config(format!(
                    "worker config: {k} is not set; distributed mode needs it (e.g. {k}={example})"
                ))
            })
        };
        let group_id = need("group.id", "sluice-cluster")?;
        let config_topic = need("config.storage.topic", "sluice-configs")?;
        let offset_topic = need("offset.storage.topic", "sluice-offsets")?;
        let status_topic = need("status.storage.topic", "sluice-status")?;
        let names = [&config_topic, &offset_topic, &status_topic];
        for (i, a) in names.iter().enumerate() {
            if names[i + 1..].contains(a) {
                return Err(StartupError::Config(format!("worker config: config.storage.topic, offset.storage.topic and status.storage.topic must be three different topics; {a} is used twice")));
            }
        }
        let int = |k: &str| c.i64(k).unwrap_or(0);
        // The address other workers forward requests to, and this worker's id.
        let advertised = w.worker_id();
        let session = int("session.timeout.ms");
        let heartbeat = int("heartbeat.interval.ms");
        if heartbeat <= 0 || session <= heartbeat {
            return Err(StartupError::Config(format!("worker config: heartbeat.interval.ms={heartbeat} must be positive and below session.timeout.ms={session} (Kafka Connect uses 3000 and 10000)")));
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
    pub(super) fn lease_span(&self) -> Duration {
        self.session_timeout.saturating_sub(self.heartbeat_interval)
    }
}
