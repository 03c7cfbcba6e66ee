//! `/connectors/...`: create, configure, inspect, restart, pause, stop and
//! delete connectors, and read or reset their offsets and topics.
//!
//! Status codes and bodies follow Kafka Connect's `ConnectorsResource`:
//! creation is 201 with a `Location` header, asynchronous state changes
//! (pause, resume, restart with tasks, topic reset) are 202, completed
//! actions without a body (delete, stop, plain restart) are 204. The name in
//! the URL or creation request is the connector's name: a `name` key in the
//! config must match it, and is added when absent.
//!
//! Where Kafka Connect words an error its own way for one endpoint (an
//! unknown connector is "No status found for connector X" on `/status`,
//! "Unknown connector X" on `/pause`), the herder's generic "Connector X not
//! found" is reworded here (see [`not_found_as`]), so that both say the same.
//! Status bodies carry each instance's plugin `version`, as Kafka Connect
//! 4.x does (KIP-891).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{json_kind, patch_from_json, props_from_json, ApiPath, JsonBody, QueryPairs};
use super::AppState;
use crate::herder::{
    ConnectorOffset, ConnectorStatus, HerderError, State as RunState, TargetState,
};
use crate::plugin::Props;

/// `GET /connectors`: names, or with `?expand=status` / `?expand=info`
/// (repeatable) a map of name to the requested expansions.
pub async fn list(State(s): State<AppState>, q: QueryPairs) -> ApiResult {
    let names = s.herder.connectors().await;
    if q.first("expand").is_none() {
        return Ok(Json(names).into_response());
    }
    let mut out = Map::new();
    for name in names {
        let mut expansions = Map::new();
        let mut gone = false;
        for expansion in q.all("expand") {
            let value = match expansion {
                "status" => status_json(&s, &name).await,
                "info" => s.herder.connector_info(&name).await.map(to_json),
                // Kafka Connect ignores unknown expansions.
                _ => continue,
            };
            match value {
                Ok(v) => {
                    expansions.insert(expansion.to_string(), v);
                }
                // Deleted while we were listing: leave it out.
                Err(HerderError::NotFound(_)) => gone = true,
                Err(e) => return Err(e.into()),
            }
        }
        if !gone {
            out.insert(name, Value::Object(expansions));
        }
    }
    Ok(Json(Value::Object(out)).into_response())
}

/// `POST /connectors` with `{"name", "config", "initial_state"?}`.
pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let Some(req) = body.as_object() else {
        return Err(ApiError::bad_request(format!(
            "The connector creation request must be a JSON object with \"name\" and \"config\", not {}",
            json_kind(&body)
        )));
    };
    let name = match req.get("name") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "The connector creation request has no \"name\": add the connector's name",
            ))
        }
        Some(Value::String(n)) => n.trim().to_string(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "The connector name must be a string, not {}",
                json_kind(other)
            )))
        }
    };
    check_name(&name)?;
    let mut config = match req.get("config") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(format!(
                "The request to create connector {name} has no \"config\": add the connector's configuration"
            )))
        }
        Some(v) => props_from_json(v, "Connector configuration")?,
    };
    let initial_state = match req.get("initial_state") {
        None | Some(Value::Null) => None,
        Some(Value::String(st)) => Some(TargetState::parse(st).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid initial_state \"{st}\": use RUNNING, PAUSED or STOPPED"
            ))
        })?),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "initial_state must be a string (RUNNING, PAUSED or STOPPED), not {}",
                json_kind(other)
            )))
        }
    };
    check_and_put_name(&name, &mut config)?;
    let (_, info) = s
        .herder
        .put_connector_config(&name, config, false, initial_state)
        .await?;
    Ok(created(&headers, &name, to_json(info)))
}

/// `GET /connectors/{name}`.
pub async fn info(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult {
    let info = s.herder.connector_info(&name).await?;
    Ok(Json(info).into_response())
}

/// `DELETE /connectors/{name}`.
pub async fn delete(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult {
    s.herder.delete_connector(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /connectors/{name}/config`.
pub async fn get_config(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult {
    let info = s.herder.connector_info(&name).await?;
    Ok(Json(info.config).into_response())
}

/// `PUT /connectors/{name}/config`: 201 when created, 200 when replaced.
pub async fn put_config(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let mut config = props_from_json(&body, "Connector configuration")?;
    check_and_put_name(&name, &mut config)?;
    let (was_created, info) = s
        .herder
        .put_connector_config(&name, config, true, None)
        .await?;
    if was_created {
        Ok(created(&headers, &name, to_json(info)))
    } else {
        Ok(Json(info).into_response())
    }
}

/// `PATCH /connectors/{name}/config`: merge into the current config; a null
/// value removes the key. The connector must exist.
pub async fn patch_config(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let patch = patch_from_json(&body)?;
    let mut config = s.herder.connector_info(&name).await?.config;
    for (key, value) in patch {
        if key == NAME_KEY {
            // The name cannot be patched away or changed; only repeated.
            if let Some(v) = value {
                check_and_put_name(&name, &mut Props::from([(key, v)]))?;
            }
            continue;
        }
        match value {
            Some(v) => config.insert(key, v),
            None => config.remove(&key),
        };
    }
    config.insert(NAME_KEY.to_string(), name.clone());
    let (_, info) = s
        .herder
        .put_connector_config(&name, config, true, None)
        .await?;
    Ok(Json(info).into_response())
}

/// `GET /connectors/{name}/status`.
pub async fn status(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult {
    let status = status_json(&s, &name)
        .await
        .map_err(|e| not_found_as(e, &name, format!("No status found for connector {name}")))?;
    Ok(Json(status).into_response())
}

/// A connector's status as JSON, with the plugin `version` of the
/// connector and of each task (KIP-891).
async fn status_json(s: &AppState, name: &str) -> Result<Value, HerderError> {
    let status = s.herder.connector_status(name).await?;
    let version = plugin_version(s, name).await;
    Ok(status_with_version(status, &version))
}

fn status_with_version(status: ConnectorStatus, version: &Value) -> Value {
    let mut v = to_json(status);
    if let Some(c) = v.get_mut("connector").and_then(Value::as_object_mut) {
        c.insert("version".into(), version.clone());
    }
    for t in v
        .get_mut("tasks")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(t) = t.as_object_mut() {
            t.insert("version".into(), version.clone());
        }
    }
    v
}

/// The version of the plugin that runs connector `name` (its
/// `connector.class`, a class name or an alias), or null when unknown.
async fn plugin_version(s: &AppState, name: &str) -> Value {
    let Ok(info) = s.herder.connector_info(name).await else {
        return Value::Null;
    };
    let Some(class) = info.config.get("connector.class") else {
        return Value::Null;
    };
    let plugins = s.herder.plugins(true);
    let exact = plugins.iter().find(|p| p["class"] == class.as_str());
    exact
        .or_else(|| {
            plugins.iter().find(|p| {
                p["class"]
                    .as_str()
                    .is_some_and(|c| super::plugins::same_plugin(c, class))
            })
        })
        .map(|p| p["version"].clone())
        .unwrap_or(Value::Null)
}

/// `GET /connectors/{name}/tasks`.
pub async fn tasks(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult {
    let tasks = s.herder.task_configs(&name).await?;
    Ok(Json(tasks).into_response())
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub async fn task_status(
    State(s): State<AppState>,
    ApiPath((name, task)): ApiPath<(String, String)>,
) -> ApiResult {
    let task = task_id(&name, &task)?;
    let status = s
        .herder
        .task_status(&name, task)
        .await
        .map_err(|e| match e {
            HerderError::NotFound(_) => {
                ApiError::not_found(format!("No status found for task {name}-{task}"))
            }
            e => e.into(),
        })?;
    let mut status = to_json(status);
    if let Some(o) = status.as_object_mut() {
        o.insert("version".into(), plugin_version(&s, &name).await);
    }
    Ok(Json(status).into_response())
}

/// `POST /connectors/{name}/restart?includeTasks=&onlyFailed=`: 204 for the
/// plain connector restart, 202 otherwise with Kafka Connect's restart plan:
/// the status as it was when the restart was asked for, with every instance
/// that is restarted shown as RESTARTING (the connector unless `onlyFailed`
/// and it has not failed; each task if `includeTasks`, unless `onlyFailed`
/// and it has not failed).
pub async fn restart(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: QueryPairs,
) -> ApiResult {
    let include_tasks = q.flag("includeTasks", false);
    let only_failed = q.flag("onlyFailed", false);
    let unknown = |e| not_found_as(e, &name, format!("Unknown connector: {name}"));
    let before = if include_tasks || only_failed {
        Some(s.herder.connector_status(&name).await.map_err(unknown)?)
    } else {
        None
    };
    s.herder
        .restart_connector(&name, include_tasks, only_failed)
        .await
        .map_err(unknown)?;
    let Some(mut plan) = before else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let restarts = |state: RunState| !only_failed || state == RunState::Failed;
    if restarts(plan.connector.state) {
        plan.connector.state = RunState::Restarting;
    }
    for t in &mut plan.tasks {
        if include_tasks && restarts(t.state) {
            t.state = RunState::Restarting;
        }
    }
    let version = plugin_version(&s, &name).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(status_with_version(plan, &version)),
    )
        .into_response())
}

/// `POST /connectors/{name}/tasks/{task}/restart`.
pub async fn restart_task(
    State(s): State<AppState>,
    ApiPath((name, task)): ApiPath<(String, String)>,
) -> ApiResult {
    let task = task_id(&name, &task)?;
    s.herder
        .restart_task(&name, task)
        .await
        .map_err(|e| not_found_as(e, &name, format!("Unknown connector: {name}")))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /connectors/{name}/pause`.
pub async fn pause(state: State<AppState>, name: ApiPath<String>) -> ApiResult {
    set_state(state, name, TargetState::Paused, StatusCode::ACCEPTED).await
}

/// `PUT /connectors/{name}/resume`.
pub async fn resume(state: State<AppState>, name: ApiPath<String>) -> ApiResult {
    set_state(state, name, TargetState::Running, StatusCode::ACCEPTED).await
}

/// `PUT /connectors/{name}/stop`.
pub async fn stop(state: State<AppState>, name: ApiPath<String>) -> ApiResult {
    set_state(state, name, TargetState::Stopped, StatusCode::NO_CONTENT).await
}

async fn set_state(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    target: TargetState,
    ok: StatusCode,
) -> ApiResult {
    s.herder
        .set_target_state(&name, target)
        .await
        .map_err(|e| not_found_as(e, &name, format!("Unknown connector {name}")))?;
    Ok(ok.into_response())
}

/// `GET /connectors/{name}/offsets`.
pub async fn get_offsets(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult {
    let offsets = s.herder.offsets(&name).await?;
    Ok(Json(json!({ "offsets": offsets })).into_response())
}

/// `PATCH /connectors/{name}/offsets` with `{"offsets": [{"partition", "offset"}]}`.
pub async fn alter_offsets(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let entries = match body.get("offsets") {
        Some(Value::Array(entries)) if !entries.is_empty() => entries,
        _ => {
            return Err(ApiError::bad_request(
                "Partitions / offsets need to be provided for an alter offsets request: send a non-empty \"offsets\" array of {\"partition\", \"offset\"} objects",
            ))
        }
    };
    let mut offsets = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let offset: ConnectorOffset = serde_json::from_value(entry.clone()).map_err(|e| {
            ApiError::bad_request(format!(
                "offsets[{i}] must be {{\"partition\": {{...}}, \"offset\": {{...}} or null}}: {e}"
            ))
        })?;
        offsets.push(offset);
    }
    s.herder.modify_offsets(&name, Some(offsets)).await?;
    Ok(message(&offsets_done(&s, &name, "altered").await))
}

/// Kafka Connect's answer to a successful alter or reset: a connector that
/// manages its own offsets (`alterOffsets` returns true: Kafka's FileStream
/// connectors) gets the short message; others (Debezium's, sinks) are told
/// that only the framework-managed offsets changed.
async fn offsets_done(s: &AppState, name: &str, verb: &str) -> String {
    let class = s
        .herder
        .connector_info(name)
        .await
        .ok()
        .and_then(|i| i.config.get("connector.class").cloned())
        .unwrap_or_default();
    let own = ["FileStreamSource", "FileStreamSink"]
        .iter()
        .any(|c| super::plugins::same_plugin(c, &class));
    if own {
        format!("The offsets for this connector have been {verb} successfully")
    } else {
        format!(
            "The Connect framework-managed offsets for this connector have been {verb} successfully. \
             However, if this connector manages offsets externally, they will need to be manually \
             {verb} in the system that the connector uses."
        )
    }
}

/// `DELETE /connectors/{name}/offsets`.
pub async fn reset_offsets(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult {
    s.herder.modify_offsets(&name, None).await?;
    Ok(message(&offsets_done(&s, &name, "reset").await))
}

/// `GET /connectors/{name}/topics`: `{"<name>": {"topics": [...]}}`.
/// Kafka Connect answers from its status store: a name it has no topics
/// for, known or not, has none (200).
pub async fn topics(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult {
    let topics = match s.herder.active_topics(&name).await {
        Err(HerderError::NotFound(_)) => Vec::new(),
        other => other?,
    };
    let mut out = Map::new();
    out.insert(name, json!({ "topics": topics }));
    Ok(Json(Value::Object(out)).into_response())
}

/// `PUT /connectors/{name}/topics/reset`: 202, as Kafka Connect answers
/// (also for a name it does not know: there is nothing to reset).
pub async fn reset_topics(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult {
    match s.herder.reset_active_topics(&name).await {
        Err(HerderError::NotFound(_)) | Ok(()) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

const NAME_KEY: &str = "name";

/// The config's `name` must equal the connector's name; it is added if absent.
fn check_and_put_name(name: &str, config: &mut Props) -> Result<(), ApiError> {
    match config.get(NAME_KEY) {
        Some(included) if included != name => Err(ApiError::bad_request(format!(
            "Connector name configuration ({included}) doesn't match connector name in the URL ({name})"
        ))),
        Some(_) => Ok(()),
        None => {
            config.insert(NAME_KEY.to_string(), name.to_string());
            Ok(())
        }
    }
}

/// Names must be non-empty and free of control characters (as Kafka
/// Connect's `NonEmptyStringWithoutControlChars`).
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "The connector name is empty: give the connector a name",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "The connector name {name:?} contains control characters: remove them"
        )));
    }
    Ok(())
}

/// A task id in a path; JAX-RS answers 404 for a path that does not parse.
fn task_id(connector: &str, task: &str) -> Result<u32, ApiError> {
    task.parse().map_err(|_| {
        ApiError::not_found(format!(
            "HTTP 404 Not Found: task {task} of connector {connector} does not exist: task ids are 0, 1, 2, ..."
        ))
    })
}

/// The herder's "Connector X not found" for connector `name`, in the words
/// Kafka Connect uses on this endpoint; any other error as it is.
fn not_found_as(e: HerderError, name: &str, message: String) -> ApiError {
    match e {
        HerderError::NotFound(m) if m == HerderError::connector_not_found(name).to_string() => {
            ApiError::not_found(message)
        }
        e => e.into(),
    }
}

/// 201 with `Location: http://HOST/connectors/{name}` (absolute, from the
/// request's `Host`, as Jersey builds it; relative without a `Host`).
fn created(headers: &HeaderMap, name: &str, body: Value) -> Response {
    let path = format!("/connectors/{}", encode_path_segment(name));
    let location = match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() => format!("http://{host}{path}"),
        _ => path,
    };
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

fn message(text: &str) -> Response {
    Json(json!({ "message": text })).into_response()
}

fn to_json<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
