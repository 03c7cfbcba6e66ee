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
//! (see [`error`]). Bodies are parsed as JSON whatever their content type
//! (see [`extract`]). Paths are also served with a trailing slash, as Jersey
//! does (`POST /connectors/` is common in scripts). `GET /openapi.json`
//! describes the API.

pub mod connectors;
pub mod error;
pub mod extract;
pub mod loggers;
pub mod plugins;

#[cfg(test)]
mod fake_herder;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put, MethodRouter};
use axum::{Json, Router};

pub use error::{ApiError, ApiResult};
pub use loggers::{init_logging, LogLevels};

use crate::herder::Herder;

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub herder: Arc<dyn Herder>,
    pub loggers: LogLevels,
}

/// The OpenAPI 3 document served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// The REST API over `herder`, with `/admin/loggers` over `loggers`.
pub fn router(herder: Arc<dyn Herder>, loggers: LogLevels) -> Router {
    use connectors as c;
    let routes: Vec<(&str, MethodRouter<AppState>)> = vec![
        ("/", get(server_info)),
        ("/openapi.json", get(openapi)),
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
        ("/admin/loggers", get(loggers::list)),
        (
            "/admin/loggers/{logger}",
            get(loggers::get).put(loggers::set),
        ),
    ];
    let mut router = Router::new();
    for (path, method_router) in routes {
        if path != "/" {
            router = router.route(&format!("{path}/"), method_router.clone());
        }
        router = router.route(path, method_router);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(AppState { herder, loggers })
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
