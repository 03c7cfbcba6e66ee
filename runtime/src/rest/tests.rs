//! The REST API against an in-memory herder: every status code and body
//! shape a Kafka Connect client relies on, and every error path.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::fake_herder::{FakeHerder, FILE_SOURCE};
use super::loggers::{format_utc, logging_subscriber, parse_rust_log};
use super::plugins::same_plugin;
use super::{router, LogLevels};
use crate::rest::extract::QueryPairs;

fn app() -> Router {
    router(Arc::new(FakeHerder::default()), LogLevels::detached("INFO"))
}

pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Value,
}

pub(super) async fn call(app: &Router, method: &str, uri: &str, body: Option<&str>) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if matches!(method, "POST" | "PUT" | "PATCH") {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("every response body is JSON")
    };
    Reply {
        status,
        headers,
        body,
    }
}

pub(super) fn assert_error(r: &Reply, status: u16, needle: &str) {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.body);
    assert_eq!(r.body["error_code"], json!(status), "body: {}", r.body);
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{message:?} should contain {needle:?}"
    );
}

fn create_body(name: &str) -> String {
    json!({"name": name, "config": {"connector.class": FILE_SOURCE, "file": "/tmp/x", "tasks.max": 1}})
        .to_string()
}

async fn with_connector(name: &str) -> Router {
    let app = app();
    let r = call(&app, "POST", "/connectors", Some(&create_body(name))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app
}

#[tokio::test]
async fn server_info_at_root() {
    let r = call(&app(), "GET", "/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"], "test");
    assert_eq!(r.body["kafka_cluster_id"], "cluster");
}

#[tokio::test]
async fn create_answers_201_with_location_and_info() {
    let app = app();
    let r = call(&app, "POST", "/connectors", Some(&create_body("file-src"))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers["location"], "/connectors/file-src");
    assert_eq!(r.body["name"], "file-src");
    assert_eq!(r.body["type"], "source");
    assert_eq!(r.body["config"]["name"], "file-src", "name is injected");
    assert_eq!(r.body["config"]["tasks.max"], "1", "numbers become strings");
    assert_eq!(
        r.body["tasks"],
        json!([{"connector": "file-src", "task": 0}])
    );

    let r = call(&app, "GET", "/connectors", None).await;
    assert_eq!(r.body, json!(["file-src"]));
}

#[tokio::test]
async fn create_rejects_bad_requests() {
    let app = app();
    let cfg = json!({"connector.class": FILE_SOURCE});
    let r = call(
        &app,
        "POST",
        "/connectors",
        Some(&json!({"config": cfg}).to_string()),
    )
    .await;
    assert_error(&r, 400, "name");
    let r = call(&app, "POST", "/connectors", Some(r#"{"name": "a"}"#)).await;
    assert_error(&r, 400, "config");
    let r = call(
        &app,
        "POST",
        "/connectors",
        Some(r#"{"name": "  ", "config": {}}"#),
    )
    .await;
    assert_error(&r, 400, "empty");
    let body = json!({"name": "a", "config": {"connector.class": FILE_SOURCE, "name": "b"}});
    let r = call(&app, "POST", "/connectors", Some(&body.to_string())).await;
    assert_error(&r, 400, "(b) doesn't match connector name in the URL (a)");
    let body = json!({"name": "a", "config": {"connector.class": FILE_SOURCE}, "initial_state": "SLEEPING"});
    let r = call(&app, "POST", "/connectors", Some(&body.to_string())).await;
    assert_error(&r, 400, "SLEEPING");
    let body = json!({"name": "a", "config": {"connector.class": FILE_SOURCE, "nested": {"x": 1}}});
    let r = call(&app, "POST", "/connectors", Some(&body.to_string())).await;
    assert_error(&r, 400, "\"nested\" must be a string");
    let r = call(&app, "POST", "/connectors", Some(r#"["a"]"#)).await;
    assert_error(&r, 400, "JSON object");
    // Unknown classes are the herder's 400, passed through.
    let body = json!({"name": "a", "config": {"connector.class": "NoSuchConnector"}});
    let r = call(&app, "POST", "/connectors", Some(&body.to_string())).await;
    assert_error(&r, 400, "NoSuchConnector");
    assert_eq!(call(&app, "GET", "/connectors", None).await.body, json!([]));
}

#[tokio::test]
async fn malformed_or_empty_json_is_a_400_naming_the_problem() {
    let app = app();
    let r = call(
        &app,
        "POST",
        "/connectors",
        Some(r#"{"name": "a", "config": "#),
    )
    .await;
    assert_error(&r, 400, "Malformed JSON");
    assert!(r.body["message"].as_str().unwrap().contains("line 1"));
    let r = call(
        &app,
        "PUT",
        "/connectors/a/config",
        Some("{'single': 'quotes'}"),
    )
    .await;
    assert_error(&r, 400, "key must be a string");
    let r = call(&app, "POST", "/connectors", None).await;
    assert_error(&r, 400, "empty");
}

async fn send_typed(
    app: &Router,
    method: &str,
    uri: &str,
    ct: Option<&str>,
    body: &str,
) -> StatusCode {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    let req = req.body(Body::from(body.to_string())).unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn only_json_bodies_are_accepted_as_kafka_connect_does() {
    let app = app();
    let body = create_body("curl");
    for ct in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        None,
    ] {
        let status = send_typed(&app, "POST", "/connectors/", ct, &body).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
    }
    let r = call(&app, "GET", "/connectors", None).await;
    assert_eq!(r.body, json!([]), "nothing was created");
    // Any request to the API that says its body is not JSON is refused ...
    let status = send_typed(&app, "GET", "/connectors", Some("text/plain"), "").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // ... but not the root, the health check, or a request without a body.
    assert_eq!(
        send_typed(&app, "GET", "/", Some("text/plain"), "").await,
        StatusCode::OK
    );
    assert_eq!(
        send_typed(&app, "GET", "/health", Some("text/plain"), "").await,
        StatusCode::OK
    );
    assert_eq!(
        send_typed(&app, "GET", "/connectors", None, "").await,
        StatusCode::OK
    );
    let status = send_typed(
        &app,
        "POST",
        "/connectors/",
        Some("Application/JSON; charset=utf-8"),
        &body,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "trailing slash and charset accepted"
    );
}

#[tokio::test]
async fn duplicate_create_is_409() {
    let app = with_connector("dup").await;
    let r = call(&app, "POST", "/connectors", Some(&create_body("dup"))).await;
    assert_error(&r, 409, "already exists");
}

#[tokio::test]
async fn initial_state_is_passed_to_the_herder() {
    let app = app();
    let body =
        json!({"name": "p", "config": {"connector.class": FILE_SOURCE}, "initial_state": "paused"});
    let r = call(&app, "POST", "/connectors", Some(&body.to_string())).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = call(&app, "GET", "/connectors/p/status", None).await;
    assert_eq!(r.body["connector"]["state"], "PAUSED");
}

#[tokio::test]
async fn unknown_connector_is_404_everywhere() {
    let app = app();
    // Each in Kafka Connect's words for that endpoint.
    for (method, uri, body, message) in [
        ("GET", "/connectors/nope", None, "Connector nope not found"),
        (
            "DELETE",
            "/connectors/nope",
            None,
            "Connector nope not found",
        ),
        (
            "GET",
            "/connectors/nope/config",
            None,
            "Connector nope not found",
        ),
        (
            "PATCH",
            "/connectors/nope/config",
            Some("{}"),
            "Connector nope not found",
        ),
        (
            "GET",
            "/connectors/nope/status",
            None,
            "No status found for connector nope",
        ),
        (
            "GET",
            "/connectors/nope/tasks",
            None,
            "Connector nope not found",
        ),
        (
            "GET",
            "/connectors/nope/tasks/0/status",
            None,
            "No status found for task nope-0",
        ),
        (
            "POST",
            "/connectors/nope/tasks/0/restart",
            None,
            "Unknown connector: nope",
        ),
        (
            "POST",
            "/connectors/nope/restart",
            None,
            "Unknown connector: nope",
        ),
        (
            "POST",
            "/connectors/nope/restart?includeTasks=true",
            None,
            "Unknown connector: nope",
        ),
        (
            "PUT",
            "/connectors/nope/pause",
            None,
            "Unknown connector nope",
        ),
        (
            "PUT",
            "/connectors/nope/resume",
            None,
            "Unknown connector nope",
        ),
        (
            "PUT",
            "/connectors/nope/stop",
            None,
            "Unknown connector nope",
        ),
        (
            "GET",
            "/connectors/nope/offsets",
            None,
            "Connector nope not found",
        ),
        (
            "DELETE",
            "/connectors/nope/offsets",
            None,
            "Connector nope not found",
        ),
    ] {
        let r = call(&app, method, uri, body).await;
        assert_error(&r, 404, message);
        assert_eq!(r.body["message"], message, "{method} {uri}");
    }
    // Topics come from the status store: none known, none listed.
    let r = call(&app, "GET", "/connectors/nope/topics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"nope": {"topics": []}}));
    let r = call(&app, "PUT", "/connectors/nope/topics/reset", None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn get_info_config_and_delete() {
    let app = with_connector("c").await;
    let r = call(&app, "GET", "/connectors/c", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "c");
    let r = call(&app, "GET", "/connectors/c/config", None).await;
    assert_eq!(r.body["connector.class"], FILE_SOURCE);
    assert_eq!(r.body["name"], "c");
    let r = call(&app, "DELETE", "/connectors/c", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.body, Value::Null);
    let r = call(&app, "GET", "/connectors/c", None).await;
    assert_error(&r, 404, "Connector c not found");
}

#[tokio::test]
async fn list_expands_status_and_info() {
    let app = with_connector("c").await;
    let r = call(&app, "GET", "/connectors?expand=status&expand=info", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["c"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(r.body["c"]["info"]["name"], "c");
    let r = call(&app, "GET", "/connectors?expand=status", None).await;
    assert!(r.body["c"].get("info").is_none());
    assert_eq!(r.body["c"]["status"]["tasks"][0]["id"], 0);
    let r = call(&app, "GET", "/connectors?expand=bogus", None).await;
    assert_eq!(r.body, json!({"c": {}}));
}

#[tokio::test]
async fn put_config_creates_then_updates() {
    let app = app();
    let cfg = json!({"connector.class": FILE_SOURCE, "file": "a"}).to_string();
    let r = call(&app, "PUT", "/connectors/pc/config", Some(&cfg)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers["location"], "/connectors/pc");
    assert_eq!(r.body["config"]["name"], "pc");
    let r = call(&app, "PUT", "/connectors/pc/config", Some(&cfg)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "pc");
    let bad = json!({"connector.class": FILE_SOURCE, "name": "other"}).to_string();
    let r = call(&app, "PUT", "/connectors/pc/config", Some(&bad)).await;
    assert_error(&r, 400, "doesn't match");
    let r = call(&app, "PUT", "/connectors/pc/config", Some(r#""text""#)).await;
    assert_error(&r, 400, "JSON object");
}

#[tokio::test]
async fn patch_config_merges_and_removes_null_keys() {
    let app = with_connector("c").await;
    let patch = json!({"file": "/tmp/y", "tasks.max": null, "extra": 5}).to_string();
    let r = call(&app, "PATCH", "/connectors/c/config", Some(&patch)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "c");
    let config = &r.body["config"];
    assert_eq!(config["file"], "/tmp/y");
    assert_eq!(config["extra"], "5");
    assert!(config.get("tasks.max").is_none());
    assert_eq!(config["name"], "c");
    let r = call(
        &app,
        "PATCH",
        "/connectors/c/config",
        Some(r#"{"name": "z"}"#),
    )
    .await;
    assert_error(&r, 400, "doesn't match");
    let r = call(
        &app,
        "PATCH",
        "/connectors/c/config",
        Some(r#"{"name": null}"#),
    )
    .await;
    assert_eq!(r.body["config"]["name"], "c", "the name cannot be removed");
    let r = call(&app, "PATCH", "/connectors/c/config", Some(r#"{"a": [1]}"#)).await;
    assert_error(&r, 400, "string or null");
}

#[tokio::test]
async fn status_tasks_and_task_status() {
    let app = with_connector("c").await;
    let r = call(&app, "GET", "/connectors/c/status", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "c");
    assert_eq!(r.body["type"], "source");
    assert_eq!(r.body["connector"]["worker_id"], "127.0.0.1:8083");
    assert_eq!(
        r.body["connector"]["version"],
        r.body["tasks"][0]["version"]
    );
    assert!(r.body["connector"]["version"].is_string(), "{}", r.body);
    let r = call(&app, "GET", "/connectors/c/tasks", None).await;
    assert_eq!(r.body[0]["id"], json!({"connector": "c", "task": 0}));
    assert_eq!(r.body[0]["config"]["file"], "/tmp/x");
    let r = call(&app, "GET", "/connectors/c/tasks/0/status", None).await;
    let version = r.body["version"].clone();
    assert!(version.is_string(), "{}", r.body);
    assert_eq!(
        r.body,
        json!({"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8083", "version": version})
    );
    let r = call(&app, "GET", "/connectors/c/tasks/7/status", None).await;
    assert_error(&r, 404, "No status found for task c-7");
    let r = call(&app, "GET", "/connectors/c/tasks/x/status", None).await;
    assert_error(&r, 404, "HTTP 404 Not Found");
}

#[tokio::test]
async fn restarts() {
    let app = with_connector("c").await;
    let r = call(&app, "POST", "/connectors/c/restart", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(
        &app,
        "POST",
        "/connectors/c/restart?includeTasks=false&onlyFailed=false",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(
        &app,
        "POST",
        "/connectors/c/restart?includeTasks=true",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["name"], "c");
    // Kafka Connect's restart plan: what is restarted shows RESTARTING.
    assert_eq!(r.body["connector"]["state"], "RESTARTING");
    assert_eq!(r.body["tasks"][0]["state"], "RESTARTING");
    let r = call(&app, "POST", "/connectors/c/restart?onlyFailed=TRUE", None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        r.body["connector"]["state"], "RUNNING",
        "not failed: not restarted"
    );
    assert_eq!(r.body["tasks"][0]["state"], "RUNNING", "tasks not included");
    let r = call(&app, "POST", "/connectors/c/tasks/0/restart", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(&app, "POST", "/connectors/c/tasks/3/restart", None).await;
    assert_error(&r, 404, "c-3");
}

#[tokio::test]
async fn pause_resume_stop() {
    let app = with_connector("c").await;
    let state = |r: Reply| r.body["connector"]["state"].clone();
    let r = call(&app, "PUT", "/connectors/c/pause", None).await;
    assert_eq!((r.status, r.body), (StatusCode::ACCEPTED, Value::Null));
    assert_eq!(
        state(call(&app, "GET", "/connectors/c/status", None).await),
        "PAUSED"
    );
    let r = call(&app, "PUT", "/connectors/c/resume", None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        state(call(&app, "GET", "/connectors/c/status", None).await),
        "RUNNING"
    );
    let r = call(&app, "PUT", "/connectors/c/stop", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        state(call(&app, "GET", "/connectors/c/status", None).await),
        "STOPPED"
    );
}

#[tokio::test]
async fn offsets_read_alter_and_reset() {
    let app = with_connector("c").await;
    let r = call(&app, "GET", "/connectors/c/offsets", None).await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!({"offsets": []})));
    let patch =
        json!({"offsets": [{"partition": {"filename": "/tmp/x"}, "offset": {"position": 42}}]});
    let patch = patch.to_string();
    let r = call(&app, "PATCH", "/connectors/c/offsets", Some(&patch)).await;
    assert_error(&r, 400, "STOPPED");
    call(&app, "PUT", "/connectors/c/stop", None).await;
    let r = call(&app, "PATCH", "/connectors/c/offsets", Some(&patch)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"message": "The offsets for this connector have been altered successfully"})
    );
    let r = call(&app, "GET", "/connectors/c/offsets", None).await;
    assert_eq!(
        r.body,
        json!({"offsets": [{"partition": {"filename": "/tmp/x"}, "offset": {"position": 42}}]})
    );
    for bad in [
        r#"{}"#,
        r#"{"offsets": []}"#,
        r#"{"offsets": [{"offset": {}}]}"#,
    ] {
        let r = call(&app, "PATCH", "/connectors/c/offsets", Some(bad)).await;
        assert_error(&r, 400, "offsets");
    }
    let r = call(&app, "DELETE", "/connectors/c/offsets", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"message": "The offsets for this connector have been reset successfully"})
    );
    let r = call(&app, "GET", "/connectors/c/offsets", None).await;
    assert_eq!(r.body, json!({"offsets": []}));
}

#[tokio::test]
async fn reset_offsets_needs_stopped() {
    let app = with_connector("c").await;
    let r = call(&app, "DELETE", "/connectors/c/offsets", None).await;
    assert_error(&r, 400, "STOPPED");
}

#[tokio::test]
async fn topics_and_reset() {
    let app = with_connector("c").await;
    let r = call(&app, "GET", "/connectors/c/topics", None).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"c": {"topics": ["topic-a"]}}))
    );
    let r = call(&app, "PUT", "/connectors/c/topics/reset", None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = call(&app, "GET", "/connectors/c/topics", None).await;
    assert_eq!(r.body, json!({"c": {"topics": []}}));
}

#[tokio::test]
async fn connector_plugins() {
    let app = app();
    let r = call(&app, "GET", "/connector-plugins", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = call(&app, "GET", "/connector-plugins?connectorsOnly=false", None).await;
    assert_eq!(r.body[1]["type"], "transformation");
    let r = call(
        &app,
        "GET",
        &format!("/connector-plugins/{FILE_SOURCE}/config"),
        None,
    )
    .await;
    assert_eq!(r.body[0]["name"], "file");
    let r = call(&app, "GET", "/connector-plugins/Nope/config", None).await;
    assert_error(&r, 404, "Nope");
}

#[tokio::test]
async fn validate_checks_the_class_against_the_path() {
    let app = app();
    let uri = "/connector-plugins/FileStreamSourceConnector/config/validate";
    let ok = json!({"connector.class": FILE_SOURCE, "file": "x"}).to_string();
    let r = call(&app, "PUT", uri, Some(&ok)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["error_count"], 0);
    let r = call(
        &app,
        "PUT",
        uri,
        Some(r#"{"connector.class": "MySqlConnector"}"#),
    )
    .await;
    assert_error(
        &r,
        400,
        "does not match request type FileStreamSourceConnector",
    );
    let r = call(&app, "PUT", uri, Some(r#"{"file": "x"}"#)).await;
    assert_error(&r, 400, "connector.class");
    let r = call(&app, "PUT", uri, Some("not json")).await;
    assert_error(&r, 400, "Malformed JSON");
}

#[tokio::test]
async fn loggers_list_get_and_set() {
    let app = app();
    let r = call(&app, "GET", "/admin/loggers", None).await;
    assert_eq!(
        r.body,
        json!({"root": {"level": "INFO", "last_modified": null}})
    );
    let body = r#"{"level": "DEBUG"}"#;
    let r = call(
        &app,
        "PUT",
        "/admin/loggers/sluice_connectors.mysql.stream",
        Some(body),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!(["sluice_connectors.mysql.stream"]))
    );
    let r = call(
        &app,
        "PUT",
        "/admin/loggers/sluice_connectors",
        Some(r#"{"level": "warn"}"#),
    )
    .await;
    assert_eq!(
        r.body,
        json!(["sluice_connectors", "sluice_connectors.mysql.stream"])
    );
    let r = call(
        &app,
        "GET",
        "/admin/loggers/sluice_connectors.mysql.stream",
        None,
    )
    .await;
    assert_eq!(r.body["level"], "WARN");
    assert!(r.body["last_modified"].as_u64().is_some());
    let r = call(
        &app,
        "GET",
        "/admin/loggers/sluice_connectors::mongodb",
        None,
    )
    .await;
    assert_eq!(
        r.body["level"], "WARN",
        "inherited from the nearest ancestor"
    );
    let r = call(&app, "GET", "/admin/loggers/other", None).await;
    assert_eq!(r.body["level"], "INFO", "inherited from root");
    let r = call(
        &app,
        "PUT",
        "/admin/loggers/root?scope=cluster",
        Some(r#"{"level": "ERROR"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(&app, "GET", "/admin/loggers", None).await;
    assert_eq!(r.body["root"]["level"], "ERROR");
    assert_eq!(
        r.body["sluice_connectors"]["level"], "ERROR",
        "root covers all"
    );
    let r = call(
        &app,
        "PUT",
        "/admin/loggers/x",
        Some(r#"{"level": "LOUD"}"#),
    )
    .await;
    assert_error(&r, 404, "invalid log level 'LOUD'");
    let r = call(&app, "PUT", "/admin/loggers/x", Some(r#"{"lvl": "INFO"}"#)).await;
    assert_error(&r, 400, "level");
    let r = call(
        &app,
        "PUT",
        "/admin/loggers/a%20b",
        Some(r#"{"level": "INFO"}"#),
    )
    .await;
    assert_error(&r, 400, "tracing target");
}

#[test]
fn logger_directives_use_tracing_targets() {
    let levels = LogLevels::detached("info");
    levels.set("io.debezium.connector.mysql", "TRACE").unwrap();
    levels.set("sluice_runtime::worker", "FATAL").unwrap();
    assert_eq!(
        levels.directives(),
        "info,io::debezium::connector::mysql=trace,sluice_runtime::worker=error"
    );
    levels.set("sluice_runtime.worker", "DEBUG").unwrap();
    assert_eq!(levels.all().len(), 3, "a.b replaces a::b");
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_405() {
    let app = app();
    let r = call(&app, "GET", "/nothing/here", None).await;
    assert_error(&r, 404, "/nothing/here");
    let r = call(&app, "DELETE", "/connectors", None).await;
    assert_error(&r, 405, "DELETE");
    let r = call(&app, "POST", "/connectors/c/status", None).await;
    assert_error(&r, 405, "POST");
}

#[tokio::test]
async fn openapi_document_describes_every_route() {
    let r = call(&app(), "GET", "/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = r.body["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/", &["get"][..]),
        ("/connectors", &["get", "post"]),
        ("/connectors/{name}", &["get", "delete"]),
        ("/connectors/{name}/config", &["get", "put", "patch"]),
        ("/connectors/{name}/status", &["get"]),
        ("/connectors/{name}/tasks", &["get"]),
        ("/connectors/{name}/tasks/{task}/status", &["get"]),
        ("/connectors/{name}/tasks/{task}/restart", &["post"]),
        ("/connectors/{name}/restart", &["post"]),
        ("/connectors/{name}/pause", &["put"]),
        ("/connectors/{name}/resume", &["put"]),
        ("/connectors/{name}/stop", &["put"]),
        ("/connectors/{name}/offsets", &["get", "patch", "delete"]),
        ("/connectors/{name}/topics", &["get"]),
        ("/connectors/{name}/topics/reset", &["put"]),
        ("/connector-plugins", &["get"]),
        ("/connector-plugins/{plugin}/config", &["get"]),
        ("/connector-plugins/{plugin}/config/validate", &["put"]),
        ("/admin/loggers", &["get"]),
        ("/admin/loggers/{logger}", &["get", "put"]),
    ] {
        for m in methods {
            assert!(paths[path].get(*m).is_some(), "{m} {path} is documented");
        }
    }
}

#[test]
fn utc_timestamps() {
    assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(format_utc(1_795_593_600), "2026-11-25T08:00:00Z");
}

#[test]
fn query_pairs_decode_and_repeat() {
    let q = QueryPairs::parse("expand=status&expand=info&a=x%20y+z&bad=%zz&flag");
    assert_eq!(q.all("expand").collect::<Vec<_>>(), ["status", "info"]);
    assert_eq!(q.first("a"), Some("x y z"));
    assert_eq!(q.first("bad"), Some("%zz"));
    assert_eq!(q.first("flag"), Some(""));
    assert!(!q.flag("flag", true));
    assert!(q.flag("missing", true));
}

#[test]
fn plugin_names_match_like_kafka_connect_and_aliases() {
    assert!(same_plugin(
        "io.debezium.connector.mysql.MySqlConnector",
        "MySqlConnector"
    ));
    assert!(same_plugin(
        "io.debezium.connector.mysql.MySqlConnector",
        "MySql"
    ));
    assert!(same_plugin(
        "mysql",
        "io.debezium.connector.mysql.MySqlConnector"
    ));
    assert!(!same_plugin("MongoDbConnector", "MySqlConnector"));
    assert!(!same_plugin("", "MySqlConnector"));
}

#[tokio::test]
async fn serve_answers_over_tcp_until_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(super::serve(listener, app(), async {
        let _ = stopped.await;
    }));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = b"GET /connectors HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    stream.write_all(request).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("content-type: application/json"), "{reply}");
    assert!(reply.ends_with("[]"), "{reply}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn setting_a_level_reloads_the_live_filter() {
    let out = Captured::default();
    let writer = out.clone();
    let (levels, subscriber) =
        logging_subscriber("WARN", None, false, super::LogFormat::Text, move || {
            writer.clone()
        });
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "probe::inner", "hidden before");
        levels.set("probe", "DEBUG").unwrap();
        tracing::debug!(target: "probe::inner", "shown after");
        tracing::info!(target: "elsewhere", "hidden elsewhere");
    });
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let (time, rest) = lines[0].split_at(20);
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    assert_eq!(rest, " DEBUG probe::inner: shown after");
}

#[test]
fn rust_log_seeds_the_levels() {
    let (root, loggers, extra) =
        parse_rust_log("warn, sluice_connectors::mysql=debug,x[span]=trace", "info");
    assert_eq!(root, "warn");
    assert_eq!(loggers["sluice_connectors::mysql"].level, "DEBUG");
    assert_eq!(extra, ["x[span]=trace"]);
}
