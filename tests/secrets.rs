//! No secret leaves the worker in a failure's text: a client config that
//! librdkafka refuses with the whole `sasl.jaas.config` quoted in its error
//! (a canary password inside) fails the task with `[hidden]` in its place,
//! in the status trace and in the worker's log.

mod common;

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
