//! The herder: what the REST API asks of a worker (standalone or distributed).
//!
//! The REST layer knows only the [`Herder`] trait, so standalone and
//! distributed modes serve the same API. Types serialise to Kafka Connect's
//! JSON shapes.
//!
//! - [`core`]: what both modes share (Kafka Connect's AbstractHerder):
//!   validation, the connector start decision, offsets, plugin listings;
//!   [`sink_offsets`] reads and changes a sink connector's consumer group.
//! - [`standalone`]: one process; configs and offsets in local files.
//! - [`distributed`]: a cluster of workers coordinated through Kafka.

pub mod core;
pub mod distributed;
pub mod sink_offsets;
pub mod standalone;

use serde::{Deserialize, Serialize};

use crate::data::JsonMap;
use crate::plugin::{BoxFuture, Props};

/// A connector's target state (KIP-875 adds STOPPED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Running,
    Paused,
    Stopped,
}

impl TargetState {
    pub fn parse(s: &str) -> Option<TargetState> {
        match s.trim().to_ascii_uppercase().as_str() {
            "RUNNING" => Some(TargetState::Running),
            "PAUSED" => Some(TargetState::Paused),
            "STOPPED" => Some(TargetState::Stopped),
            _ => None,
        }
    }
}

/// A connector or task state as the status API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

/// Source or sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskId {
    pub connector: String,
    pub task: u32,
}

/// `GET /connectors/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: Props,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectorState {
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskState {
    pub id: u32,
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Sluice extra: task progress (e.g. snapshot rows done per table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<serde_json::Value>,
    /// Sluice extra: how many times this task was started on the worker
    /// running it (a rebalance that leaves it in place does not add one).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub starts: Option<u64>,
    /// Sluice extra: what the task's `errors.*` handling did so far, under
    /// Kafka Connect's task-error-metrics names (records skipped, retries,
    /// dead-lettered...); absent while all are zero.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errors: Option<serde_json::Value>,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub connector: ConnectorState,
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

/// `GET /connectors/{name}/tasks` items.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: TaskId,
    pub config: Props,
}

/// One entry of `GET /connectors/{name}/offsets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorOffset {
    pub partition: JsonMap,
    /// `null` in a PATCH removes the partition's offset.
    pub offset: Option<JsonMap>,
}

/// Errors with the HTTP status Kafka Connect gives them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HerderError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
}

impl HerderError {
    pub fn status_code(&self) -> u16 {
        match self {
            HerderError::NotFound(_) => 404,
            HerderError::Conflict(_) => 409,
            HerderError::BadRequest(_) => 400,
            HerderError::Internal(_) => 500,
        }
    }
    pub fn connector_not_found(name: &str) -> HerderError {
        HerderError::NotFound(format!("Connector {name} not found"))
    }
}

/// A store that failed underneath a REST request is the server's 500.
impl From<crate::store::error::StoreError> for HerderError {
    fn from(e: crate::store::error::StoreError) -> HerderError {
        HerderError::Internal(e.to_string())
    }
}

pub type HerderResult<T> = Result<T, HerderError>;

/// What a herder says of itself to `GET /health` (KIP-1017). The REST layer
/// adds Kafka Connect's fixed opening sentence to each detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Started and able to answer requests.
    Healthy,
    /// Still starting; the detail says at what, e.g. "The worker is
    /// currently joining the group g, which began at ...".
    Starting(Option<String>),
    /// Started, but something it needs did not answer: what, and what to
    /// check.
    Unhealthy(String),
}

/// What the REST API asks of the worker.
pub trait Herder: Send + Sync + 'static {
    /// `{"version", "commit", "kafka_cluster_id"}` for `GET /`.
    fn server_info(&self) -> BoxFuture<'_, serde_json::Value>;
    fn connectors(&self) -> BoxFuture<'_, Vec<String>>;
    fn connector_info(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorInfo>>;
    /// Creates or replaces. Returns whether it was created. `allow_replace`
    /// false makes an existing name a 409 conflict (POST /connectors).
    fn put_connector_config(
        &self,
        name: &str,
        config: Props,
        allow_replace: bool,
        initial_state: Option<TargetState>,
    ) -> BoxFuture<'_, HerderResult<(bool, ConnectorInfo)>>;
    fn delete_connector(&self, name: &str) -> BoxFuture<'_, HerderResult<()>>;
    fn connector_status(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorStatus>>;
    fn task_status(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<TaskState>>;
    fn task_configs(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<TaskInfo>>>;
    /// Restarts the connector (and its tasks when asked). Returns the status
    /// after the restart was scheduled when `include_tasks` or `only_failed`.
    fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> BoxFuture<'_, HerderResult<Option<ConnectorStatus>>>;
    fn restart_task(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<()>>;
    fn set_target_state(&self, name: &str, state: TargetState) -> BoxFuture<'_, HerderResult<()>>;
    fn offsets(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<ConnectorOffset>>>;
    /// PATCH (alter) or DELETE (reset, `offsets` = None); only while STOPPED.
    fn modify_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<ConnectorOffset>>,
    ) -> BoxFuture<'_, HerderResult<()>>;
    fn active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<String>>>;
    fn reset_active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<()>>;
    /// `PUT /connector-plugins/{type}/config/validate` response body.
    fn validate_config(
        &self,
        plugin: &str,
        config: Props,
    ) -> BoxFuture<'_, HerderResult<serde_json::Value>>;
    /// `GET /connector-plugins` items; all kinds when `connectors_only` is false.
    fn plugins(&self, connectors_only: bool) -> Vec<serde_json::Value>;
    /// `GET /connector-plugins/{type}/config`.
    fn plugin_config(&self, plugin: &str) -> HerderResult<Vec<serde_json::Value>>;
    /// The health check of `GET /health`, to be answered within `timeout`
    /// (the REST layer gives up a little after it and calls the worker
    /// unhealthy). A herder that has nothing to check is healthy once it
    /// exists.
    fn health_check(&self, timeout: std::time::Duration) -> BoxFuture<'_, Health> {
        let _ = timeout;
        Box::pin(async { Health::Healthy })
    }
    /// `GET /metrics`: this worker's metrics as Prometheus text.
    fn metrics(&self) -> String {
        String::new()
    }
}
