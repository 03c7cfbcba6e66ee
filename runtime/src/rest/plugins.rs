//! `/connector-plugins/...`: list plugins, describe a connector's config
//! keys, and validate a config without creating anything.
//!
//! Validation follows Kafka Connect: when the body names a
//! `connector.class`, it must be the plugin in the path. Kafka Connect
//! compares the names with a trailing `Connector` dropped and accepts a fully
//! qualified class for a short name (`.../MySqlConnector` for `MySql`).
//! Sluice also accepts its short aliases, so the comparison here is
//! case-insensitive and works either way round (`mysql` in the body matches
//! `io.debezium.connector.mysql.MySqlConnector` in the path). A body without
//! `connector.class` is a 400, as in Kafka Connect.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::{props_from_json, ApiPath, JsonBody, QueryPairs};
use super::AppState;

const CONNECTOR_CLASS: &str = "connector.class";

/// `GET /connector-plugins?connectorsOnly=true|false` (default true).
pub async fn list(State(s): State<AppState>, q: QueryPairs) -> Response {
    let connectors_only = q.flag("connectorsOnly", true);
    Json(s.herder.plugins(connectors_only)).into_response()
}

/// `GET /connector-plugins/{plugin}/config`.
pub async fn config(State(s): State<AppState>, ApiPath(plugin): ApiPath<String>) -> ApiResult {
    let keys = s.herder.plugin_config(&plugin)?;
    Ok(Json(keys).into_response())
}

/// `PUT /connector-plugins/{plugin}/config/validate` with a config map.
pub async fn validate(
    State(s): State<AppState>,
    ApiPath(plugin): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let config = props_from_json(&body, "Connector configuration")?;
    match config.get(CONNECTOR_CLASS) {
        None => {
            return Err(ApiError::bad_request(format!(
            "Connector config contains no connector type: add \"{CONNECTOR_CLASS}\": \"{plugin}\""
        )))
        }
        Some(included) if !same_plugin(included, &plugin) => {
            return Err(ApiError::bad_request(format!(
                "Included connector type {included} does not match request type {plugin}"
            )))
        }
        Some(_) => {}
    }
    let result = s.herder.validate_config(&plugin, config).await?;
    Ok(Json(result).into_response())
}

/// Whether two plugin names (class names or aliases) can name the same plugin.
pub(crate) fn same_plugin(a: &str, b: &str) -> bool {
    let a = normalized(a);
    let b = normalized(b);
    !a.is_empty() && !b.is_empty() && (a.ends_with(&b) || b.ends_with(&a))
}

fn normalized(name: &str) -> String {
    let name = name.trim();
    let name = match name.strip_suffix("Connector") {
        Some(stem) if !stem.is_empty() => stem,
        _ => name,
    };
    name.to_ascii_lowercase()
}
