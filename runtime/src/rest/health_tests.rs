//! `GET /health` and the API while the worker starts, against the fake
//! herder: Kafka Connect's bodies for starting (503), healthy (200) and
//! unhealthy (500), and a 503 from every route that needs the herder.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use super::fake_herder::FakeHerder;
use super::tests::{assert_error, call};
use super::{router_scoped, HerderProvider, LogLevels, Scope};
use crate::herder::Health;

#[tokio::test]
async fn starting_worker_answers_503_until_its_herder_is_there() {
    let provider = HerderProvider::starting();
    provider.set_stage("checking the brokers at bootstrap.servers=127.0.0.1:1");
    let app = router_scoped(provider.clone(), LogLevels::detached("INFO"), Scope::All);

    let r = call(&app, "GET", "/health", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.body["status"], "starting");
    let message = r.body["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Worker is still starting up. The worker is currently checking the brokers at bootstrap.servers=127.0.0.1:1, which began at 20"
        ),
        "{message}"
    );
    assert_eq!(r.body.as_object().unwrap().len(), 2, "{}", r.body);
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/connectors"),
        ("GET", "/connectors/c/status"),
        ("GET", "/connector-plugins"),
        ("GET", "/no/such/path"),
    ] {
        let r = call(&app, method, path, None).await;
        assert_error(
            &r,
            503,
            "Worker is still starting up. The worker is currently checking the brokers",
        );
    }
    // Served throughout: the document, and the log levels.
    assert_eq!(
        call(&app, "GET", "/openapi.json", None).await.status,
        StatusCode::OK
    );
    let r = call(&app, "GET", "/admin/loggers", None).await;
    assert_eq!(r.body["root"]["level"], "INFO");
    let r = call(
        &app,
        "PUT",
        "/admin/loggers/sluice_runtime",
        Some(r#"{"level":"DEBUG"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    provider.set(Arc::new(FakeHerder::default()));
    let r = call(&app, "GET", "/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})
    );
    assert_eq!(call(&app, "GET", "/connectors", None).await.body, json!([]));
    assert_error(
        &call(&app, "GET", "/no/such/path", None).await,
        404,
        "/no/such/path",
    );
    assert_error(&call(&app, "POST", "/health", None).await, 405, "POST");
}

#[tokio::test]
async fn herder_that_says_it_is_starting_is_503_with_its_detail() {
    let herder = Arc::new(FakeHerder::default());
    *herder.health.lock().unwrap() = Some(Some(Health::Starting(Some(
        "The worker is currently joining the group g.".into(),
    ))));
    let app = router_scoped(
        HerderProvider::started(herder),
        LogLevels::detached("INFO"),
        Scope::All,
    );
    let r = call(&app, "GET", "/health", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.body,
        json!({"status": "starting", "message": "Worker is still starting up. The worker is currently joining the group g."})
    );
}

#[tokio::test]
async fn failed_or_unanswered_health_check_is_500_unhealthy() {
    let herder = Arc::new(FakeHerder::default());
    let provider = HerderProvider::started(herder.clone());
    provider.set_health_timeout(Duration::from_millis(50));
    let app = router_scoped(provider, LogLevels::detached("INFO"), Scope::All);

    *herder.health.lock().unwrap() = Some(Some(Health::Unhealthy(
        "It cannot read the config topic c to its end.".into(),
    )));
    let r = call(&app, "GET", "/health", None).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        r.body,
        json!({"status": "unhealthy", "message": "Worker was unable to handle this request and may be unable to handle other requests. It cannot read the config topic c to its end."})
    );

    // A check that never answers: unhealthy once the grace after the timeout is over.
    *herder.health.lock().unwrap() = Some(None);
    let r = call(&app, "GET", "/health", None).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body["status"], "unhealthy");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .ends_with("The worker's health check did not complete within 50 ms."),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn admin_listener_serves_no_health_check() {
    let app = router_scoped(
        HerderProvider::starting(),
        LogLevels::detached("INFO"),
        Scope::Admin,
    );
    assert_error(&call(&app, "GET", "/health", None).await, 404, "/health");
    assert_error(
        &call(&app, "GET", "/connectors", None).await,
        404,
        "/connectors",
    );
    assert_eq!(
        call(&app, "GET", "/admin/loggers", None).await.status,
        StatusCode::OK
    );
}
