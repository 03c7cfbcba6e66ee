//! A source connector written against `sluice-api` alone, in a user's own
//! binary (examples/custom_source.rs): listed as a plugin, validated, run over
//! REST into the broker, and resumed from its committed offset after the
//! worker restarts, with no number lost or repeated.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Key (INT64 in a JSON envelope) and value of each record, in order.
fn numbers(recs: &[Record]) -> Vec<(i64, String)> {
    recs.iter()
        .map(|r| {
            let key: Value = serde_json::from_slice(r.key.as_deref().unwrap()).unwrap();
            let value: Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
            assert_eq!(key["schema"]["type"], "int64", "{key}");
            (
                key["payload"].as_i64().unwrap(),
                value["payload"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_custom_source_runs_and_resumes_from_its_offset() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("custom-source");
    let program = example_binary("custom_source");
    let (worker, port) = Sluice::worker_config(dir.path(), &[]);
    let mut s = Sluice::start_program(&program, worker.clone(), port, dir.path());

    let plugins = s.get("/connector-plugins").json();
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == "com.example.CounterSource" && p["type"] == "source"),
        "{plugins}"
    );
    // Its own validation, through Kafka Connect's validate endpoint.
    let bad = s.put(
        "/connector-plugins/CounterSource/config/validate",
        &json!({"name": "v", "connector.class": "CounterSource", "topic": "t", "count": "-1"})
            .to_string(),
    );
    assert_eq!(bad.status, 200, "{}", bad.body);
    let bad = bad.json();
    assert_eq!(bad["error_count"], 1, "{bad}");
    let count = bad["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "count");
    assert_eq!(
        count.unwrap()["value"]["errors"][0],
        "must be 0 or more",
        "{bad}"
    );

    let topic = unique("counter");
    let name = unique("counter");
    let config = |count: u32| {
        json!({"connector.class": "com.example.CounterSource", "topic": topic,
               "count": count.to_string(), "batch.size": "7"})
    };
    let r = s.post(
        "/connectors",
        &json!({"name": name, "config": config(25)}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let first = numbers(&consume(&bootstrap, &topic, 25, Duration::from_secs(60)));
    let want: Vec<(i64, String)> = (0..25).map(|n| (n, format!("tick {n}"))).collect();
    assert_eq!(first, want);
    // The offset the task reported, as Kafka Connect's offsets API shows it.
    let offsets = wait_for("offset next=25", Duration::from_secs(30), || {
        let v = s.get(&format!("/connectors/{name}/offsets")).json();
        (v["offsets"][0]["offset"]["next"] == 25).then_some(v)
    });
    assert_eq!(
        offsets["offsets"][0]["partition"]["counter"],
        name.as_str(),
        "{offsets}"
    );

    // A clean restart, then more numbers asked for: the task resumes at 25.
    s.terminate();
    let s = Sluice::start_program(&program, worker, port, dir.path());
    s.wait_status(&name, "task RUNNING", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    let r = s.put(
        &format!("/connectors/{name}/config"),
        &config(40).to_string(),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let all = numbers(&consume(&bootstrap, &topic, 40, Duration::from_secs(60)));
    let want: Vec<(i64, String)> = (0..40).map(|n| (n, format!("tick {n}"))).collect();
    assert_eq!(all, want, "numbers lost or repeated across the restart");
}

/// A task instance that missed a change (a zombie): a producer holding the
/// task's transactional id with a transaction open and a record sent in it.
fn zombie(bootstrap: &str, transactional_id: &str, topic: &str) -> rdkafka::producer::BaseProducer {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let zombie: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", transactional_id)
        // Long enough that the coordinator does not abort it on its own.
        .set("transaction.timeout.ms", "600000")
        .create()
        .unwrap();
    zombie.init_transactions(Duration::from_secs(30)).unwrap();
    zombie.begin_transaction().unwrap();
    zombie
        .send(
            BaseRecord::to(topic)
                .key("zombie")
                .payload("from a removed task"),
        )
        .unwrap();
    zombie.flush(Duration::from_secs(30)).unwrap();
    zombie
}

/// Exactly-once delivery (KIP-618): when a source connector's task count
/// shrinks, the removed tasks' transactional ids are fenced, so an instance
/// of one still running somewhere cannot commit afterwards. The zombie: the
/// worker running a removed task is killed (a long session timeout keeps
/// the group from noticing during the test), and a producer of the test's
/// own takes that task's transactional id with a transaction open, as the
/// worker's task would have; the connector is then shrunk on the other
/// worker.
#[test]
fn a_removed_tasks_transactional_id_is_fenced_when_the_task_count_shrinks() {
    use rdkafka::producer::Producer;

    let bootstrap = kafka_bootstrap();
    let program = example_binary("custom_source");
    let group = unique("fence");
    let dirs = [TempDir::new("fence-a"), TempDir::new("fence-b")];
    let mut workers: Vec<Sluice> = dirs
        .iter()
        .map(|dir| {
            let (file, port) = Sluice::distributed_config(
                dir.path(),
                &group,
                &[
                    ("exactly.once.source.support", "enabled"),
                    ("session.timeout.ms", "60000"),
                    ("heartbeat.interval.ms", "3000"),
                ],
            );
            Sluice::start_program_distributed(&program, file, port, dir.path())
        })
        .collect();
    let topic = unique("counter");
    let name = unique("counter");
    let config = |counters: usize| {
        json!({"connector.class": "com.example.CounterSource", "topic": topic, "count": "20",
               "counters": counters.to_string(), "tasks.max": "3"})
    };
    let r = workers[0].post(
        "/connectors",
        &json!({"name": name, "config": config(3)}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Both workers in the group, the connector and its three tasks placed.
    let st = workers[0].wait_status(&name, "three tasks RUNNING on two workers", |v| {
        let t = v["tasks"].as_array().map(|t| t.as_slice()).unwrap_or(&[]);
        let on: std::collections::BTreeSet<&str> =
            t.iter().filter_map(|t| t["worker_id"].as_str()).collect();
        t.len() == 3 && t.iter().all(|t| t["state"] == "RUNNING") && on.len() == 2
    });
    consume(&bootstrap, &topic, 60, Duration::from_secs(60));
    let port_of = |id: &Value| -> u16 {
        id.as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let connector_port = port_of(&st["connector"]["worker_id"]);
    let other = workers
        .iter()
        .position(|w| w.port != connector_port)
        .unwrap();
    // The highest task id on the other worker (at least 1: it holds two of
    // the four units) is the first one the shrink removes.
    let removed = st["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| port_of(&t["worker_id"]) == workers[other].port)
        .map(|t| t["id"].as_u64().unwrap() as usize)
        .max()
        .unwrap();
    assert!(removed >= 1, "{st}");
    workers[other].kill9();

    let zombie = zombie(&bootstrap, &format!("{group}-{name}-{removed}"), &topic);

    let live = workers
        .iter()
        .position(|w| w.port == connector_port)
        .unwrap();
    let r = workers[live].put(
        &format!("/connectors/{name}/config"),
        &config(removed).to_string(),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    workers[live].wait_status(&name, "the task count shrunk", |v| {
        v["tasks"].as_array().is_some_and(|t| t.len() == removed)
    });
    let commit = zombie.commit_transaction(Duration::from_secs(30));
    assert!(
        commit.is_err(),
        "task {removed}'s transactional id was not fenced when the task count shrank: the zombie committed\n{}",
        workers[live].log_text()
    );
    let e = commit.unwrap_err().to_string();
    assert!(e.to_lowercase().contains("fenc"), "{e}");
}

/// The same fencing after a stop: a stopped connector has no task configs,
/// so the task count to fence from is Kafka Connect's task count record in
/// the config topic. A zombie holding task 2's transactional id is fenced
/// when the connector resumes with one task.
#[test]
fn a_connector_resumed_with_fewer_tasks_after_a_stop_fences_the_removed_ids() {
    use rdkafka::producer::Producer;

    let bootstrap = kafka_bootstrap();
    let program = example_binary("custom_source");
    let group = unique("fence-stop");
    let dir = TempDir::new("fence-stop");
    let (file, port) = Sluice::distributed_config(
        dir.path(),
        &group,
        &[("exactly.once.source.support", "enabled")],
    );
    let s = Sluice::start_program_distributed(&program, file, port, dir.path());
    let topic = unique("counter");
    let name = unique("counter");
    let config = |counters: usize| {
        json!({"connector.class": "com.example.CounterSource", "topic": topic, "count": "20",
               "counters": counters.to_string(), "tasks.max": "3"})
    };
    let r = s.post(
        "/connectors",
        &json!({"name": name, "config": config(3)}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    s.wait_status(&name, "three tasks RUNNING", |v| {
        let t = v["tasks"].as_array().map(|t| t.as_slice()).unwrap_or(&[]);
        t.len() == 3 && t.iter().all(|t| t["state"] == "RUNNING")
    });
    consume(&bootstrap, &topic, 60, Duration::from_secs(60));
    let r = s.put(&format!("/connectors/{name}/stop"), "");
    assert!(r.status == 202 || r.status == 204, "{}", r.body);
    s.wait_status(&name, "STOPPED with no tasks", |v| {
        v["connector"]["state"] == "STOPPED" && v["tasks"].as_array().is_some_and(|t| t.is_empty())
    });

    let zombie = zombie(&bootstrap, &format!("{group}-{name}-2"), &topic);

    let r = s.put(
        &format!("/connectors/{name}/config"),
        &config(1).to_string(),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let r = s.put(&format!("/connectors/{name}/resume"), "");
    assert!(r.status == 202 || r.status == 204, "{}", r.body);
    s.wait_status(&name, "one task RUNNING", |v| {
        let t = v["tasks"].as_array().map(|t| t.as_slice()).unwrap_or(&[]);
        t.len() == 1 && t[0]["state"] == "RUNNING"
    });
    let commit = zombie.commit_transaction(Duration::from_secs(30));
    assert!(
        commit.is_err(),
        "task 2's transactional id was not fenced when the connector resumed with one task\n{}",
        s.log_text()
    );
}
