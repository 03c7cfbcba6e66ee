//! Every REST endpoint of a real standalone worker, with Kafka Connect's
//! status codes and JSON bodies, errors included.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn source_config(dir: &TempDir, topic: &str) -> Value {
    json!({
        "connector.class": "FileStreamSource",
        "file": dir.path().join("in.txt"),
        "topic": topic,
    })
}

fn create(s: &Sluice, name: &str, config: &Value) -> common::Response {
    s.post(
        "/connectors",
        &json!({"name": name, "config": config}).to_string(),
    )
}

fn assert_error(r: &common::Response, status: u16, contains: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error_code"], status, "{v}");
    let msg = v["message"].as_str().unwrap_or("");
    assert!(
        msg.contains(contains),
        "message {msg:?} should contain {contains:?}"
    );
}

#[test]
fn root_and_plugins() {
    let dir = TempDir::new("rest-root");
    let s = Sluice::start(dir.path(), &[]);
    let r = s.get("/");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(
        v["version"].is_string() && v["commit"].is_string() && v["kafka_cluster_id"].is_string(),
        "{v}"
    );

    let plugins = s.get("/connector-plugins").json();
    let classes: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["class"].as_str().unwrap())
        .collect();
    assert!(
        classes.contains(&"org.apache.kafka.connect.file.FileStreamSourceConnector"),
        "{plugins}"
    );
    assert!(plugins
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["type"] == "source" || p["type"] == "sink"));
    let all = s.get("/connector-plugins?connectorsOnly=false").json();
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|p| p["type"] == "converter"),
        "{all}"
    );

    let cfg = s.get("/connector-plugins/FileStreamSource/config");
    assert_eq!(cfg.status, 200);
    let keys = cfg.json();
    let topic = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "topic")
        .expect("topic key");
    assert_eq!(topic["required"], true);
    assert_eq!(topic["importance"], "HIGH");
    assert_error(
        &s.get("/connector-plugins/NoSuchThing/config"),
        404,
        "NoSuchThing",
    );

    let openapi = s.get("/openapi.json").json();
    assert!(
        openapi["paths"]["/connectors"].is_object(),
        "openapi lists /connectors"
    );
}

#[test]
fn validate_reports_per_key_errors() {
    let dir = TempDir::new("rest-validate");
    let s = Sluice::start(dir.path(), &[]);
    let r = s.put(
        "/connector-plugins/FileStreamSource/config/validate",
        &json!({"connector.class": "FileStreamSource", "batch.size": "zero", "name": "v"})
            .to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        v["name"],
        "org.apache.kafka.connect.file.FileStreamSourceConnector"
    );
    assert_eq!(v["error_count"], 2, "{v}");
    let errors_of = |key: &str| -> Vec<String> {
        v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["definition"]["name"] == key)
            .map(|c| {
                c["value"]["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        errors_of("topic")[0].contains("Missing required configuration"),
        "{v}"
    );
    assert!(errors_of("batch.size")[0].contains("batch.size"), "{v}");
    assert!(errors_of("file").is_empty());
}

#[test]
fn create_read_update_delete() {
    let dir = TempDir::new("rest-crud");
    let s = Sluice::start(dir.path(), &[]);
    let topic = unique("rest-crud");
    let cfg = source_config(&dir, &topic);

    let r = create(&s, "crud", &cfg);
    assert_eq!(r.status, 201, "{}", r.body);
    // Absolute, from the request's Host, as Kafka Connect answers.
    assert_eq!(
        r.header("location"),
        Some(format!("http://127.0.0.1:{}/connectors/crud", s.port).as_str())
    );
    let info = r.json();
    assert_eq!(info["name"], "crud");
    assert_eq!(info["type"], "source");
    assert_eq!(info["config"]["name"], "crud");
    assert_eq!(info["tasks"], json!([{"connector": "crud", "task": 0}]));

    assert_error(&create(&s, "crud", &cfg), 409, "already exists");
    assert_eq!(s.get("/connectors").json(), json!(["crud"]));
    let expanded = s.get("/connectors?expand=status&expand=info").json();
    assert_eq!(expanded["crud"]["info"]["name"], "crud");
    assert_eq!(expanded["crud"]["status"]["name"], "crud");

    let r = s.get("/connectors/crud");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["type"], "source");
    let r = s.get("/connectors/crud/config");
    assert_eq!(r.json()["topic"], topic);

    // PUT /config updates (200) or creates (201).
    let mut cfg2 = cfg.clone();
    cfg2["batch.size"] = json!("100");
    let r = s.put("/connectors/crud/config", &cfg2.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["config"]["batch.size"], "100");
    let r = s.put(
        "/connectors/crud2/config",
        &source_config(&dir, &unique("rest-crud2")).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    // PATCH merges; null removes a key.
    let r = s.patch(
        "/connectors/crud/config",
        &json!({"batch.size": null, "tasks.max": "1"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let c = s.get("/connectors/crud/config").json();
    assert!(c.get("batch.size").is_none(), "{c}");
    assert_eq!(c["tasks.max"], "1");
    assert_error(&s.patch("/connectors/nope/config", "{}"), 404, "nope");

    let tasks = s.get("/connectors/crud/tasks").json();
    assert_eq!(tasks[0]["id"], json!({"connector": "crud", "task": 0}));
    assert!(tasks[0]["config"].is_object());

    let st = s.wait_status("crud", "RUNNING", |v| v["tasks"][0]["state"] == "RUNNING");
    assert_eq!(st["connector"]["state"], "RUNNING");
    assert_eq!(st["type"], "source");
    assert!(st["connector"]["worker_id"]
        .as_str()
        .unwrap()
        .contains(&s.port.to_string()));
    let t = s.get("/connectors/crud/tasks/0/status");
    assert_eq!(t.status, 200);
    assert_eq!(t.json()["id"], 0);
    assert_error(&s.get("/connectors/crud/tasks/7/status"), 404, "7");

    let r = s.delete("/connectors/crud");
    assert_eq!(r.status, 204);
    assert_error(&s.get("/connectors/crud"), 404, "Connector crud not found");
    assert_error(&s.delete("/connectors/crud"), 404, "crud");
    assert_error(&s.get("/connectors/crud/status"), 404, "crud");
}

#[test]
fn bad_requests_are_clear() {
    let dir = TempDir::new("rest-bad");
    let s = Sluice::start(dir.path(), &[]);
    assert_error(&s.post("/connectors", "{not json"), 400, "");
    assert_error(
        &s.post("/connectors", &json!({"name": "x"}).to_string()),
        400,
        "config",
    );
    let r = create(
        &s,
        "x",
        &json!({"connector.class": "com.example.Missing", "topic": "t"}),
    );
    assert_error(&r, 400, "com.example.Missing");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("FileStreamSourceConnector"),
        "names the known classes: {}",
        r.body
    );
    let r = create(&s, "x", &json!({"connector.class": "FileStreamSource"}));
    assert_error(&r, 400, "topic");
    assert_error(&s.get("/no/such/path"), 404, "");
    let r = s.delete("/connectors");
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.json()["error_code"], 405);
}

#[test]
fn pause_resume_stop_restart_and_offsets() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("rest-life");
    std::fs::write(dir.path().join("in.txt"), "a\nb\nc\n").unwrap();
    let s = Sluice::start(dir.path(), &[]);
    let topic = unique("rest-life");
    assert_eq!(create(&s, "life", &source_config(&dir, &topic)).status, 201);
    s.wait_status("life", "RUNNING", |v| v["tasks"][0]["state"] == "RUNNING");
    let recs = consume(&bootstrap, &topic, 3, Duration::from_secs(30));
    assert_eq!(recs.len(), 3);

    assert_eq!(s.put("/connectors/life/pause", "").status, 202);
    s.wait_status("life", "PAUSED", |v| {
        v["connector"]["state"] == "PAUSED" && v["tasks"][0]["state"] == "PAUSED"
    });
    assert_eq!(s.put("/connectors/life/resume", "").status, 202);
    s.wait_status("life", "RUNNING", |v| {
        v["connector"]["state"] == "RUNNING" && v["tasks"][0]["state"] == "RUNNING"
    });

    assert_eq!(s.post("/connectors/life/restart", "").status, 204);
    let r = s.post(
        "/connectors/life/restart?includeTasks=true&onlyFailed=false",
        "",
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["name"], "life");
    assert_eq!(s.post("/connectors/life/tasks/0/restart", "").status, 204);
    assert_error(&s.post("/connectors/life/tasks/5/restart", ""), 404, "");
    s.wait_status("life", "RUNNING", |v| v["tasks"][0]["state"] == "RUNNING");

    // Offsets: readable any time, modifiable only while STOPPED.
    let offs = wait_for("committed offsets", Duration::from_secs(30), || {
        let v = s.get("/connectors/life/offsets").json();
        (v["offsets"]
            .as_array()
            .map(|a| !a.is_empty())
            .unwrap_or(false))
        .then_some(v)
    });
    assert_eq!(offs["offsets"][0]["offset"]["position"], 6, "{offs}");
    assert_eq!(
        offs["offsets"][0]["partition"]["filename"],
        dir.path().join("in.txt").to_str().unwrap()
    );
    assert_error(&s.delete("/connectors/life/offsets"), 400, "STOPPED");

    assert_eq!(s.put("/connectors/life/stop", "").status, 204);
    s.wait_status("life", "STOPPED", |v| v["connector"]["state"] == "STOPPED");
    let patch = json!({"offsets": [{"partition": offs["offsets"][0]["partition"], "offset": {"position": 2}}]});
    let r = s.patch("/connectors/life/offsets", &patch.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("altered successfully"));
    assert_eq!(
        s.get("/connectors/life/offsets").json()["offsets"][0]["offset"]["position"],
        2
    );
    // Resuming re-reads from position 2: "b" and "c" again.
    assert_eq!(s.put("/connectors/life/resume", "").status, 202);
    wait_for("replayed records", Duration::from_secs(30), || {
        (consume(&bootstrap, &topic, 5, Duration::from_secs(2)).len() >= 5).then_some(())
    });
    assert_eq!(s.put("/connectors/life/stop", "").status, 204);
    s.wait_status("life", "STOPPED", |v| v["connector"]["state"] == "STOPPED");
    let r = s.delete("/connectors/life/offsets");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("reset successfully"));
    assert_eq!(
        s.get("/connectors/life/offsets").json()["offsets"],
        json!([])
    );

    // Active topics (KIP-558).
    let t = s.get("/connectors/life/topics").json();
    assert_eq!(t["life"]["topics"], json!([topic]));
    assert_eq!(s.put("/connectors/life/topics/reset", "").status, 202);
    assert_eq!(
        s.get("/connectors/life/topics").json()["life"]["topics"],
        json!([])
    );
}

#[test]
fn initial_state_and_loggers() {
    let dir = TempDir::new("rest-init");
    let s = Sluice::start(dir.path(), &[]);
    let body = json!({"name": "held", "config": source_config(&dir, &unique("rest-init")), "initial_state": "STOPPED"});
    assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    s.wait_status("held", "STOPPED", |v| v["connector"]["state"] == "STOPPED");
    let body = json!({"name": "paused", "config": source_config(&dir, &unique("rest-init")), "initial_state": "PAUSED"});
    assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    s.wait_status("paused", "PAUSED", |v| v["connector"]["state"] == "PAUSED");
    let bad =
        json!({"name": "bad", "config": source_config(&dir, "t"), "initial_state": "SLEEPING"});
    assert_error(&s.post("/connectors", &bad.to_string()), 400, "SLEEPING");

    let loggers = s.get("/admin/loggers");
    assert_eq!(loggers.status, 200);
    assert!(
        loggers.json()["root"]["level"].is_string(),
        "{}",
        loggers.body
    );
    let r = s.put(
        "/admin/loggers/sluice_runtime",
        &json!({"level": "DEBUG"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        s.get("/admin/loggers/sluice_runtime").json()["level"],
        "DEBUG"
    );
    assert_error(
        &s.put("/admin/loggers/x", &json!({"level": "LOUD"}).to_string()),
        404,
        "LOUD",
    );
}

#[test]
fn sink_offsets_read_alter_and_reset() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("rest-sink-offsets");
    std::fs::write(dir.path().join("in.txt"), "1\n2\n3\n4\n").unwrap();
    let s = Sluice::start(dir.path(), &[]);
    let topic = unique("rest-sink-offsets");
    let name = unique("sinkoffs");
    assert_eq!(
        create(&s, &format!("{name}-src"), &source_config(&dir, &topic)).status,
        201
    );
    assert_eq!(
        consume(&bootstrap, &topic, 4, Duration::from_secs(30)).len(),
        4
    );
    let out = dir.path().join("out.txt");
    let sink = json!({"connector.class": "FileStreamSink", "file": out, "topics": topic});
    assert_eq!(create(&s, &name, &sink).status, 201);
    let offs = wait_for("committed sink offsets", Duration::from_secs(90), || {
        let v = s.get(&format!("/connectors/{name}/offsets")).json();
        (v["offsets"][0]["offset"]["kafka_offset"] == 4).then_some(v)
    });
    assert_eq!(
        offs["offsets"][0]["partition"],
        json!({"kafka_topic": topic, "kafka_partition": 0})
    );
    assert_error(
        &s.delete(&format!("/connectors/{name}/offsets")),
        400,
        "STOPPED",
    );
    assert_eq!(s.put(&format!("/connectors/{name}/stop"), "").status, 204);
    s.wait_status(&name, "STOPPED", |v| v["connector"]["state"] == "STOPPED");
    let patch = json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 1}}]});
    let r = s.patch(&format!("/connectors/{name}/offsets"), &patch.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let v = s.get(&format!("/connectors/{name}/offsets")).json();
    assert_eq!(v["offsets"][0]["offset"]["kafka_offset"], 1, "{v}");
    let r = s.delete(&format!("/connectors/{name}/offsets"));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = s.get(&format!("/connectors/{name}/offsets")).json();
    assert_eq!(v["offsets"], json!([]), "{v}");
}

#[test]
fn exactly_once_required_is_refused_not_silently_downgraded() {
    // A standalone worker delivers at least once: a connector that requires
    // exactly-once is refused with Kafka Connect's message, not run without it.
    let dir = TempDir::new("rest-eos");
    let s = Sluice::start(dir.path(), &[]);
    let mut cfg = source_config(&dir, &unique("rest-eos"));
    cfg["exactly.once.support"] = json!("required");
    let r = create(&s, &unique("eos"), &cfg);
    assert_error(&r, 400, "exactly.once.support");
    assert!(
        r.body
            .contains("This worker does not have exactly-once source support enabled."),
        "{}",
        r.body
    );
    // requested (Kafka Connect's default) is accepted.
    cfg["exactly.once.support"] = json!("requested");
    assert_eq!(create(&s, &unique("eos"), &cfg).status, 201);
}
