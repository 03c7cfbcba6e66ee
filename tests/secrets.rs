//! No secret leaves the worker in a failure's text: a client config that
//! librdkafka refuses with the whole `sasl.jaas.config` quoted in its error
//! (a canary password inside) fails the task with `[hidden]` in its place,
//! in the status trace and in the worker's log. And a canary password in
//! every kind of connector that fails shows in no output at all.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const CANARY: &str = "CANARY-pw-6f1d";

#[test]
fn a_password_in_a_refused_client_config_is_hidden_in_the_trace_and_the_log() {
    let dir = TempDir::new("secrets");
    let s = Sluice::start(dir.path(), &[]);
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "x\n").unwrap();
    let name = unique("canary");
    // OAUTHBEARER's login module is not one Sluice maps to librdkafka's
    // settings, so librdkafka refuses the config and quotes it.
    let jaas = format!(
        r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="app" clientSecret="{CANARY}";"#
    );
    let body = json!({"name": name, "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": unique("canary"),
        "producer.override.security.protocol": "SASL_PLAINTEXT",
        "producer.override.sasl.mechanism": "OAUTHBEARER",
        "producer.override.sasl.jaas.config": jaas}});
    assert_eq!(s.post("/connectors", &body.to_string()).status, 201);
    let st = s.wait_status(&name, "task FAILED", |v| v["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        trace.contains("[hidden]"),
        "the refused setting is still named: {trace}"
    );
    assert!(
        !trace.contains(CANARY),
        "the status trace shows the password: {trace}"
    );
    let status_body = s.get(&format!("/connectors/{name}/status")).body;
    assert!(!status_body.contains(CANARY), "{status_body}");
    let log = s.log_text();
    assert!(log.contains("task failed"), "{log}");
    assert!(
        !log.contains(CANARY),
        "the worker's log shows the password:\n{log}"
    );
}

/// A password used everywhere a connector can take one, in connectors that
/// fail each in its own way on a distributed worker (so the status topic is
/// an output too), and in requests that are refused: it shows in no status,
/// trace, validate answer, error message, log line or status-topic record.
/// (The config itself, with its password, is kept in the config topic and
/// shown by `GET /connectors/NAME/config`, as Kafka Connect does: config
/// providers keep it out of both, see tests/config_providers.rs.)
#[test]
fn a_canary_password_shows_in_no_output_after_every_failure() {
    let canary = format!("Canary-{}-pw", std::process::id());
    let dir = TempDir::new("secrets-all");
    let group = unique("secrets");
    let (file, port) = Sluice::worker_config(
        dir.path(),
        &[
            ("group.id", &group),
            ("config.storage.topic", &format!("{group}-configs")),
            ("offset.storage.topic", &format!("{group}-offsets")),
            ("status.storage.topic", &format!("{group}-status")),
            ("status.storage.partitions", "1"),
        ],
    );
    let s = Sluice::start_distributed(file, port, dir.path());

    // 1. A MySQL login the server refuses.
    let mysql = unique("canary-mysql");
    let mut cfg = mysql_connector_config(
        &mysql,
        &unique("canary"),
        "nosuchdb",
        &dir.path().join("h.dat"),
        &[],
    );
    cfg["config"]["database.password"] = canary.clone().into();
    // 2. A producer login librdkafka refuses, quoting the JAAS config.
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "x\n").unwrap();
    let jaas = unique("canary-jaas");
    let jaas_cfg = json!({"name": jaas, "config": {
    "connector.class": "FileStreamSource", "file": input, "topic": unique("canary"),
    "producer.override.security.protocol": "SASL_PLAINTEXT",
    "producer.override.sasl.mechanism": "OAUTHBEARER",
    "producer.override.sasl.jaas.config": format!(
        r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="a" clientSecret="{canary}";"#
    )}});
    // 3. A JDBC sink whose database is not there.
    let jdbc = unique("canary-jdbc");
    let jdbc_cfg = json!({"name": jdbc, "config": {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "topics": unique("canary-in"),
        "connection.url": format!("jdbc:postgresql://127.0.0.1:1/db?password={canary}"),
        "connection.username": "u",
        "connection.password": canary}});
    for body in [&cfg, &jaas_cfg, &jdbc_cfg] {
        let r = s.post("/connectors", &body.to_string());
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let mut answers = Vec::new();
    // 4. Refused requests that carry the password.
    let mut bad = cfg.clone();
    bad["name"] = unique("canary-bad").into();
    bad["config"]["database.port"] = "not-a-port".into();
    let r = s.post("/connectors", &bad.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    answers.push(("refused POST", r.body));
    let r = s.put(
        "/connector-plugins/io.debezium.connector.mysql.MySqlConnector/config/validate",
        &bad["config"].to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("[hidden]"), "{}", r.body);
    answers.push(("validate", r.body));

    // Each failure's status as it was seen FAILED: a task restarted on its
    // own (auto-restart) reads RUNNING, without its trace, until it fails
    // again.
    for name in [&mysql, &jaas] {
        let st = s.wait_status(name, "task FAILED", |v| v["tasks"][0]["state"] == "FAILED");
        answers.push(("failed status", st.to_string()));
    }
    let st = s.wait_status(&jdbc, "task FAILED or RUNNING", |v| {
        v["tasks"][0]["state"] == "FAILED" || v["tasks"][0]["state"] == "RUNNING"
    });
    answers.push(("jdbc status", st.to_string()));
    for name in [&mysql, &jaas, &jdbc] {
        answers.push(("status", s.get(&format!("/connectors/{name}/status")).body));
        // A restart fails the same way again.
        s.post(&format!("/connectors/{name}/restart?includeTasks=true"), "");
    }
    answers.push(("expand=status", s.get("/connectors?expand=status").body));
    for name in [&mysql, &jaas] {
        let st = s.wait_status(name, "task FAILED again", |v| {
            v["tasks"][0]["state"] == "FAILED"
        });
        answers.push(("failed again", st.to_string()));
    }
    let traces: String = answers.iter().map(|(_, b)| b.as_str()).collect();
    assert!(
        traces.contains("Access denied"),
        "the MySQL failure is told: {traces}"
    );
    for (what, body) in &answers {
        assert!(!body.contains(&canary), "{what} shows the password: {body}");
    }
    let log = s.log_text();
    assert!(log.contains("task failed"), "{log}");
    assert!(!log.contains(&canary), "the log shows the password:\n{log}");
    let topic = format!("{group}-status");
    let (_, high) = watermarks(&kafka_bootstrap(), &topic, 0);
    let records = consume(
        &kafka_bootstrap(),
        &topic,
        high as usize,
        Duration::from_secs(30),
    );
    assert!(!records.is_empty(), "the status topic has records");
    for r in records {
        let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
        assert!(
            !v.contains(&canary),
            "a status record shows the password: {v}"
        );
    }
}
