//! The REST API: Kafka Connect's paths, status codes and JSON bodies over a
//! [`Herder`], so that kcctl, Kafka UI and existing curl scripts work as they
//! are.
//!
//! [`router`] builds the axum router; [`serve`] runs it until a shutdown
//! future completes. Handlers only translate HTTP to herder calls and back:
//! the herder owns every decision about connectors (validation, conflicts,
//! state), the REST layer owns request parsing and response shapes.
//!
//! Every error, including unknown routes (404), wrong methods (405) and
//! unreadable bodies (400), is Kafka Connect's `{"error_code", "message"}`
//! (see [`error`]). As in Kafka Connect (Jersey's `@Consumes(APPLICATION_JSON)`),
//! a request to `/connectors`, `/connector-plugins` or `/admin` whose
//! `Content-Type` is not `application/json` is refused with 415, and so is a
//! body sent without a `Content-Type` (see [`extract`]): a `text/plain` or
//! form POST never creates a connector. Paths are also served with a
//! trailing slash, as Jersey does (`POST /connectors/` is common in
//! scripts). `GET /health` is KIP-1017's health check (see [`health`]);
//! `GET /openapi.json` describes the API.
//!
//! The router is served from before the worker has started, over a
//! [`HerderProvider`]: `/health`, `/openapi.json` and `/admin/loggers` are
//! answered throughout; the routes that need the herder answer 503 until
//! it is there, then go to a router built over it once.

pub mod connectors;
pub mod error;
pub mod extract;
pub mod health;
pub mod json_log;
pub mod loggers;
pub mod plugins;
pub mod security;
pub mod server;
pub mod tls;

#[cfg(test)]
mod fake_herder;
#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::extract::{FromRef, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put, MethodRouter};
use axum::{Json, Router};
use tower::ServiceExt;

pub use error::{ApiError, ApiResult};
pub use health::HerderProvider;
pub use json_log::LogFormat;
pub use loggers::{init_logging, init_logging_as, LogLevels};

use crate::herder::Herder;

/// What every handler that needs the herder sees.
#[derive(Clone)]
pub struct AppState {
    pub herder: Arc<dyn Herder>,
    pub loggers: LogLevels,
}

impl FromRef<AppState> for LogLevels {
    fn from_ref(s: &AppState) -> LogLevels {
        s.loggers.clone()
    }
}

/// What the routes served from the start see: the provider, the levels,
/// and the herder's router once the herder is there.
#[derive(Clone)]
struct Gate {
    provider: HerderProvider,
    loggers: LogLevels,
    scope: Scope,
    started: Arc<OnceLock<Router>>,
}

impl FromRef<Gate> for LogLevels {
    fn from_ref(g: &Gate) -> LogLevels {
        g.loggers.clone()
    }
}

impl FromRef<Gate> for HerderProvider {
    fn from_ref(g: &Gate) -> HerderProvider {
        g.provider.clone()
    }
}

/// The OpenAPI 3 document served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Which routes a listener serves (see `admin.listeners` in [`server`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The API and `/admin`.
    All,
    /// The API without `/admin` (served elsewhere, or nowhere).
    Api,
    /// `/admin` only.
    Admin,
}

/// The REST API over a started `herder`, with `/admin/loggers` over `loggers`.
pub fn router(herder: Arc<dyn Herder>, loggers: LogLevels) -> Router {
    router_scoped(HerderProvider::started(herder), loggers, Scope::All)
}

/// The routes of `scope` over the herder `provider` has or will have; the
/// others answer 404.
pub fn router_scoped(provider: HerderProvider, loggers: LogLevels, scope: Scope) -> Router {
    let always: Vec<(&str, MethodRouter<Gate>)> = vec![
        ("/health", get(health::health)),
        ("/openapi.json", get(openapi)),
        ("/ui", get(crate::console::page)),
        ("/admin/loggers", get(loggers::list)),
        (
            "/admin/loggers/{logger}",
            get(loggers::get).put(loggers::set),
        ),
    ];
    add_routes(Router::new(), always, scope)
        .fallback(to_herder)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Gate {
            provider,
            loggers,
            scope,
            started: Arc::new(OnceLock::new()),
        })
}

/// The routes that need the herder.
fn herder_router(herder: Arc<dyn Herder>, loggers: LogLevels, scope: Scope) -> Router {
    use connectors as c;
    let routes: Vec<(&str, MethodRouter<AppState>)> = vec![
        ("/", get(server_info)),
        ("/metrics", get(metrics)),
        ("/connectors", get(c::list).post(c::create)),
        ("/connectors/{name}", get(c::info).delete(c::delete)),
        (
            "/connectors/{name}/config",
            get(c::get_config).put(c::put_config).patch(c::patch_config),
        ),
        ("/connectors/{name}/status", get(c::status)),
        ("/connectors/{name}/tasks", get(c::tasks)),
        (
            "/connectors/{name}/tasks/{task}/status",
            get(c::task_status),
        ),
        (
            "/connectors/{name}/tasks/{task}/restart",
            post(c::restart_task),
        ),
        ("/connectors/{name}/restart", post(c::restart)),
        ("/connectors/{name}/pause", put(c::pause)),
        ("/connectors/{name}/resume", put(c::resume)),
        ("/connectors/{name}/stop", put(c::stop)),
        (
            "/connectors/{name}/offsets",
            get(c::get_offsets)
                .patch(c::alter_offsets)
                .delete(c::reset_offsets),
        ),
        ("/connectors/{name}/topics", get(c::topics)),
        ("/connectors/{name}/topics/reset", put(c::reset_topics)),
        ("/connector-plugins", get(plugins::list)),
        ("/connector-plugins/{plugin}/config", get(plugins::config)),
        (
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        ),
    ];
    add_routes(Router::new(), routes, scope)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(AppState { herder, loggers })
}

/// Adds the routes of `scope`, each also with a trailing slash, the JSON
/// content-type check on all but the root, the health check and the
/// OpenAPI document.
fn add_routes<S: Clone + Send + Sync + 'static>(
    mut router: Router<S>,
    routes: Vec<(&str, MethodRouter<S>)>,
    scope: Scope,
) -> Router<S> {
    for (path, mut method_router) in routes {
        let admin = path.starts_with("/admin");
        if (admin && scope == Scope::Api) || (!admin && scope == Scope::Admin) {
            continue;
        }
        if !matches!(path, "/" | "/health" | "/openapi.json" | "/metrics" | "/ui") {
            method_router = method_router.route_layer(middleware::from_fn(require_json));
        }
        if path != "/" {
            router = router.route(&format!("{path}/"), method_router.clone());
        }
        router = router.route(path, method_router);
    }
    router
}

/// Everything but the routes served from the start: the herder's router
/// once the worker has started, a 503 until then.
async fn to_herder(State(g): State<Gate>, req: Request) -> Response {
    let Some(herder) = g.provider.get() else {
        if g.scope == Scope::Admin {
            return not_found(req.uri().clone()).await.into_response();
        }
        return g.provider.starting_error().into_response();
    };
    let router = g
        .started
        .get_or_init(|| herder_router(herder, g.loggers.clone(), g.scope))
        .clone();
    match router.oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// `GET /`: `{"version", "commit", "kafka_cluster_id"}`.
async fn server_info(State(s): State<AppState>) -> Response {
    Json(s.herder.server_info().await).into_response()
}

/// `GET /metrics`: Prometheus's text format (see `worker::metrics`).
async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.herder.metrics(),
    )
        .into_response()
}

/// Jersey's `@Consumes(APPLICATION_JSON)`: a request that says its body is
/// anything but JSON is a 415 before it reaches a handler.
async fn require_json(req: Request, next: Next) -> Response {
    match req.headers().get(header::CONTENT_TYPE) {
        Some(ct) if !extract::is_json_media_type(ct) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP 415 Unsupported Media Type: send the body as Content-Type: application/json",
        )
        .into_response(),
        _ => next.run(req).await,
    }
}

/// `GET /openapi.json`.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("HTTP 404 Not Found: no resource at {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "HTTP 405 Method Not Allowed: {method} is not supported on {}",
            uri.path()
        ),
    )
}
