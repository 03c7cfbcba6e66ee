//! `GET /health` (Kafka Connect's KIP-1017), and what the REST API answers
//! while the worker starts.
//!
//! The listeners are bound before the worker starts, so that a readiness
//! or liveness probe gets an answer from the first second, not a refused
//! connection it cannot tell from a dead process. Until the herder exists,
//! the API is served over a [`HerderProvider`] with none in it; the worker
//! reports what it is doing ([`HerderProvider::set_stage`]) and hands the
//! herder over once it has started ([`HerderProvider::set`]).
//!
//! `GET /health` answers, with Kafka Connect's bodies:
//!
//! - **503** `{"status": "starting", "message": "Worker is still starting
//!   up. The worker is currently <stage>, which began at <time>."}` while
//!   there is no herder yet (checking the brokers, reading the internal
//!   topics, starting the stored connectors and those given on the command
//!   line), and while the herder says it is starting: a distributed worker
//!   until it has joined its group and received its first assignment.
//! - **200** `{"status": "healthy", "message": "Worker has completed startup
//!   and is ready to handle requests."}` when the herder's
//!   [`Herder::health_check`] passes within [`HEALTH_CHECK_TIMEOUT`].
//! - **500** `{"status": "unhealthy", "message": "Worker was unable to handle
//!   this request and may be unable to handle other requests. <what>"}`
//!   when it fails, or does not answer in time. A standalone worker fails it
//!   when its connector lock stays held (Kafka Connect's criterion: the
//!   herder is not deadlocked); a distributed worker also when its group
//!   membership has lapsed or it cannot read the config topic to its end
//!   (the broker is unreachable), see the distributed herder.
//!
//! Connector and task states play no part, as in KIP-1017: a FAILED task is
//! the status API's business, and restarting the worker would not mend it.
//! Kafka Connect's unhealthy body may carry more fields in later versions;
//! Sluice has no herder tick thread whose stack could be shown.
//!
//! While starting, every other route that needs the herder answers 503
//! `{"error_code": 503, "message": "Worker is still starting up. ..."}`.
//! (Kafka Connect answers 404 before its resources are registered, then
//! holds requests until they time out with a 500; a 503 tells a client to
//! retry.) `/openapi.json` and `/admin/loggers` are served throughout, so
//! log levels can be raised to see why a start is slow.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::loggers::format_utc;
use crate::herder::{Health, Herder};

/// How long `GET /health` waits for the herder's check: Kafka Connect's
/// default (`RestServer.DEFAULT_HEALTH_CHECK_TIMEOUT_MS`).
pub const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// How much longer the REST layer waits before it answers for a herder
/// whose check did not stop at its own deadline.
const HEALTH_CHECK_GRACE: Duration = Duration::from_secs(1);

const HEALTHY: &str = "Worker has completed startup and is ready to handle requests.";
const STARTING: &str = "Worker is still starting up.";
const UNHEALTHY: &str =
    "Worker was unable to handle this request and may be unable to handle other requests.";

/// The herder once the worker has started; until then, what the worker is
/// doing. Cheap to clone; shared by the REST server and the start-up code.
#[derive(Clone)]
pub struct HerderProvider {
    inner: Arc<Inner>,
}

struct Inner {
    herder: OnceLock<Arc<dyn Herder>>,
    stage: Mutex<(String, SystemTime)>,
    health_timeout_ms: AtomicU64,
}

impl HerderProvider {
    /// A worker that is starting: no herder yet.
    pub fn starting() -> HerderProvider {
        HerderProvider {
            inner: Arc::new(Inner {
                herder: OnceLock::new(),
                stage: Mutex::new(("initializing".into(), SystemTime::now())),
                health_timeout_ms: AtomicU64::new(HEALTH_CHECK_TIMEOUT.as_millis() as u64),
            }),
        }
    }

    /// A worker that has started with `herder` (tests, embedding).
    pub fn started(herder: Arc<dyn Herder>) -> HerderProvider {
        let p = HerderProvider::starting();
        p.set(herder);
        p
    }

    /// What the worker is doing now, as the 503 answers say it ("checking
    /// the brokers at ..."), from now on.
    pub fn set_stage(&self, description: impl Into<String>) {
        *self.inner.stage.lock().unwrap_or_else(|p| p.into_inner()) =
            (description.into(), SystemTime::now());
    }

    /// Hands the started herder over; the API serves it from now on. A
    /// second call changes nothing.
    pub fn set(&self, herder: Arc<dyn Herder>) {
        let _ = self.inner.herder.set(herder);
    }

    /// The herder, once the worker has started.
    pub fn get(&self) -> Option<Arc<dyn Herder>> {
        self.inner.herder.get().cloned()
    }

    /// Changes how long `GET /health` waits for the herder (tests).
    pub fn set_health_timeout(&self, timeout: Duration) {
        self.inner
            .health_timeout_ms
            .store(timeout.as_millis() as u64, Ordering::Relaxed);
    }

    fn health_timeout(&self) -> Duration {
        Duration::from_millis(self.inner.health_timeout_ms.load(Ordering::Relaxed))
    }

    /// "The worker is currently X, which began at T." (Kafka Connect's
    /// stage summary).
    fn stage_summary(&self) -> String {
        let (description, began) = self
            .inner
            .stage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let secs = began.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        format!(
            "The worker is currently {description}, which began at {}.",
            format_utc(secs)
        )
    }

    /// The 503 that routes needing the herder answer while it starts.
    pub(super) fn starting_error(&self) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{STARTING} {} Retry when GET /health answers 200.",
                self.stage_summary()
            ),
        )
    }

    /// The worker's health: the herder's check, bounded in time.
    pub async fn health(&self) -> Health {
        let Some(herder) = self.get() else {
            return Health::Starting(Some(self.stage_summary()));
        };
        let timeout = self.health_timeout();
        match tokio::time::timeout(timeout + HEALTH_CHECK_GRACE, herder.health_check(timeout)).await
        {
            Ok(health) => health,
            Err(_) => Health::Unhealthy(format!(
                "The worker's health check did not complete within {} ms.",
                timeout.as_millis()
            )),
        }
    }
}

/// `GET /health`.
pub(super) async fn health(State(provider): State<HerderProvider>) -> Response {
    let (code, status, message) = match provider.health().await {
        Health::Healthy => (StatusCode::OK, "healthy", HEALTHY.to_string()),
        Health::Starting(detail) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            with_detail(STARTING, detail.as_deref()),
        ),
        Health::Unhealthy(detail) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "unhealthy",
            with_detail(UNHEALTHY, Some(&detail)),
        ),
    };
    (code, Json(json!({"status": status, "message": message}))).into_response()
}

fn with_detail(opening: &str, detail: Option<&str>) -> String {
    match detail {
        Some(d) if !d.is_empty() => format!("{opening} {d}"),
        _ => opening.to_string(),
    }
}
