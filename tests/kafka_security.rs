//! Kafka security (issue #17): a broker secured as production clusters are
//! (SASL_SSL with SCRAM, a private CA, the StandardAuthorizer and ACLs; see
//! `common::secure_kafka`). The first test proves the broker itself with
//! librdkafka, so that a later failure of Sluice on it is Sluice's.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::secure_kafka::{SecureKafka, ADMIN, INTRUDER, WORKER};
use common::{poll, unique, wait_for};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientConfig, Message};

/// What a producer heard: client errors (with librdkafka's text) and the
/// outcome of each record.
#[derive(Default)]
struct Recorder {
    errors: Mutex<Vec<(KafkaError, String)>>,
    deliveries: Mutex<Vec<Result<(), KafkaError>>>,
}

impl ClientContext for Recorder {
    fn error(&self, error: KafkaError, reason: &str) {
        self.errors
            .lock()
            .unwrap()
            .push((error, reason.to_string()));
    }
}

impl ProducerContext for Recorder {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let outcome = result.as_ref().map(|_| ()).map_err(|(e, _)| e.clone());
        self.deliveries.lock().unwrap().push(outcome);
    }
}

fn producer(cfg: &mut ClientConfig) -> BaseProducer<Recorder> {
    cfg.set("log_level", "0")
        .create_with_context(Recorder::default())
        .expect("producer")
}

/// Sends `values` and returns each one's outcome (polls until all are in).
fn produce(mut cfg: ClientConfig, topic: &str, values: &[&str]) -> Vec<Result<(), KafkaError>> {
    let p = producer(cfg.set("acks", "all"));
    for v in values {
        p.send(BaseRecord::<(), str>::to(topic).payload(*v))
            .expect("enqueue a record");
    }
    wait_for("every record's outcome", Duration::from_secs(60), || {
        p.poll(Duration::from_millis(100));
        let d = p.context().deliveries.lock().unwrap();
        (d.len() == values.len()).then(|| d.clone())
    })
}

/// Waits until a client with `cfg` reports an error whose text contains
/// `text`; returns it (panics with all errors heard at the deadline).
fn client_error(mut cfg: ClientConfig, text: &str) -> (KafkaError, String) {
    let p = producer(&mut cfg);
    // A metadata request makes the client connect.
    let _ = p.client().fetch_metadata(None, Duration::from_millis(500));
    poll(Duration::from_secs(30), || {
        p.poll(Duration::from_millis(100));
        let errors = p.context().errors.lock().unwrap();
        errors.iter().find(|(_, r)| r.contains(text)).cloned()
    })
    .unwrap_or_else(|| {
        panic!(
            "no client error containing {text:?} in 30 s; errors: {:?}",
            p.context().errors.lock().unwrap()
        )
    })
}

fn create_topic(cfg: &ClientConfig, topic: &str) -> Result<(), RDKafkaErrorCode> {
    let admin: AdminClient<DefaultClientContext> = cfg.create().expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let results = rt
        .block_on(admin.create_topics(
            [&NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        ))
        .expect("create topics");
    results
        .into_iter()
        .next()
        .expect("one result")
        .map(|_| ())
        .map_err(|(_, code)| code)
}

fn consumer(cfg: &mut ClientConfig, group: &str) -> BaseConsumer {
    cfg.set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("log_level", "0")
        .create()
        .expect("consumer")
}

/// The first error a consumer in `group` reading `topic` gets.
fn consumer_error(mut cfg: ClientConfig, topic: &str, group: &str) -> RDKafkaErrorCode {
    let c = consumer(&mut cfg, group);
    c.subscribe(&[topic]).expect("subscribe");
    wait_for("a consumer error", Duration::from_secs(30), || {
        match c.poll(Duration::from_millis(200)) {
            Some(Err(e)) => Some(e.rdkafka_error_code().unwrap_or_else(|| panic!("{e}"))),
            Some(Ok(m)) => panic!("{group} read {topic} at offset {}", m.offset()),
            None => None,
        }
    })
}

fn topic_names(cfg: &ClientConfig) -> Vec<String> {
    let c: BaseConsumer = cfg.create().expect("client");
    let md = c
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    md.topics().iter().map(|t| t.name().to_string()).collect()
}

fn authorization_error(outcomes: &[Result<(), KafkaError>]) -> Option<RDKafkaErrorCode> {
    match outcomes {
        [Err(e)] => e.rdkafka_error_code(),
        other => panic!("expected one refused record, got {other:?}"),
    }
}

#[test]
fn the_secure_broker_lets_the_worker_in_and_no_one_else() {
    let prefix = format!("{}-", unique("sec"));
    let kafka = SecureKafka::start(&prefix);
    let topic = format!("{prefix}events");
    let group = format!("{prefix}readers");

    // The worker creates a topic with its prefix, writes it with an
    // idempotent producer (no IdempotentWrite ACL: Write on the topic is
    // enough) and reads it back in a group with its prefix.
    create_topic(&kafka.client_config(WORKER), &topic).expect("the worker creates its topic");
    let mut cfg = kafka.client_config(WORKER);
    cfg.set("enable.idempotence", "true");
    let sent = produce(cfg, &topic, &["one", "two", "three"]);
    assert!(
        sent.iter().all(Result::is_ok),
        "the worker's records: {sent:?}"
    );
    let c = consumer(&mut kafka.client_config(WORKER), &group);
    c.subscribe(&[topic.as_str()]).expect("subscribe");
    let mut read = Vec::new();
    wait_for(
        "the worker to read its 3 records",
        Duration::from_secs(60),
        || {
            match c.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    read.push(String::from_utf8_lossy(m.payload().unwrap()).into_owned())
                }
                Some(Err(e)) => panic!("the worker cannot read {topic}: {e}"),
                None => {}
            }
            (read.len() == 3).then_some(())
        },
    );
    assert_eq!(read, ["one", "two", "three"]);
    c.commit_consumer_state(CommitMode::Sync)
        .expect("the worker commits its group's offsets");
    drop(c);

    // Outside its prefix the worker may not create, write, read or join.
    let outside = unique("outside");
    create_topic(&kafka.client_config(ADMIN), &outside).expect("admin creates a topic");
    assert_eq!(
        create_topic(&kafka.client_config(WORKER), &format!("{outside}-2")),
        Err(RDKafkaErrorCode::TopicAuthorizationFailed)
    );
    let mut cfg = kafka.client_config(WORKER);
    cfg.set("enable.idempotence", "true");
    assert_eq!(
        authorization_error(&produce(cfg, &outside, &["x"])),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed)
    );
    assert_eq!(
        consumer_error(kafka.client_config(WORKER), &outside, &group),
        RDKafkaErrorCode::TopicAuthorizationFailed
    );
    assert_eq!(
        consumer_error(
            kafka.client_config(WORKER),
            &topic,
            &unique("outside-group")
        ),
        RDKafkaErrorCode::GroupAuthorizationFailed
    );
    let seen = topic_names(&kafka.client_config(WORKER));
    assert!(
        seen.contains(&topic) && !seen.contains(&outside),
        "the worker sees {seen:?}"
    );

    // The intruder logs in and may do nothing: it sees no topic, cannot
    // write the worker's topic nor join the worker's group.
    let seen = topic_names(&kafka.client_config(INTRUDER));
    assert!(seen.is_empty(), "the intruder sees {seen:?}");
    let mut cfg = kafka.client_config(INTRUDER);
    cfg.set("enable.idempotence", "false");
    assert_eq!(
        authorization_error(&produce(cfg, &topic, &["x"])),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed)
    );
    assert_eq!(
        consumer_error(kafka.client_config(INTRUDER), &topic, &group),
        RDKafkaErrorCode::GroupAuthorizationFailed
    );

    // A wrong password and an unknown user fail SCRAM authentication.
    let mut cfg = kafka.client_config(WORKER);
    cfg.set("sasl.password", "not-the-password");
    let (e, reason) = client_error(cfg, "Authentication failed");
    assert_eq!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::Authentication)
    );
    assert!(
        reason.contains("invalid credentials with SASL mechanism SCRAM-SHA-512"),
        "{reason}"
    );
    let mut cfg = kafka.client_config(WORKER);
    cfg.set("sasl.username", "nobody");
    let (e, _) = client_error(cfg, "Authentication failed");
    assert_eq!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::Authentication)
    );

    // Without the test CA the client refuses the broker's certificate.
    let mut cfg = kafka.client_config(WORKER);
    cfg.remove("ssl.ca.location");
    let (e, reason) = client_error(cfg, "certificate verify failed");
    assert_eq!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::SSL),
        "{reason}"
    );

    // SCRAM-SHA-256 is enabled too.
    let mut cfg = kafka.client_config(WORKER);
    cfg.set("sasl.mechanisms", "SCRAM-SHA-256");
    assert!(topic_names(&cfg).contains(&topic));
}

/// A worker config for the secure broker: its own clients (top level), its
/// tasks' producers and consumers, all as `user` in Kafka Connect's names.
fn secure_worker_config(
    k: &SecureKafka,
    dir: &std::path::Path,
    user: &str,
    extra: &[(&str, &str)],
) -> (std::path::PathBuf, u16) {
    let port = common::free_port();
    let mut props = format!(
        "bootstrap.servers={}\nlisteners=http://127.0.0.1:{port}\noffset.storage.file.filename={}\noffset.flush.interval.ms=1000\n",
        k.bootstrap(),
        dir.join("connect.offsets").display()
    );
    for (key, value) in k.connect_settings(user) {
        for prefix in ["", "producer.", "consumer."] {
            props.push_str(&format!("{prefix}{key}={value}\n"));
        }
    }
    for (key, value) in extra {
        props.push_str(&format!("{key}={value}\n"));
    }
    let file = dir.join("worker.properties");
    std::fs::write(&file, props).unwrap();
    (file, port)
}

/// A MySQL table captured by a Debezium connector and copied by a
/// FileStreamSink through the secure broker: every row reaches the file.
fn mysql_to_file(s: &common::Sluice, prefix: &str, dir: &std::path::Path) {
    let db = prefix.replace('-', "_");
    common::mariadb(&format!(
        "CREATE DATABASE IF NOT EXISTS {db}; CREATE OR REPLACE TABLE {db}.t (id INT PRIMARY KEY, v TEXT); INSERT INTO {db}.t VALUES (1, 'one'), (2, 'two');"
    ));
    let source = format!("{prefix}-mysql");
    let cfg = common::mysql_connector_config(
        &source,
        &format!("{prefix}.cdc"),
        &db,
        &dir.join(format!("{source}.history")),
        &[("table.include.list", &format!("{db}.t"))],
    );
    let r = s.post("/connectors", &cfg.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let out = dir.join("sink.out");
    let sink = format!("{prefix}-file");
    let body = serde_json::json!({"name": sink, "config": {
        "connector.class": "FileStreamSink",
        "topics": format!("{prefix}.cdc.{db}.t"),
        "file": out,
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter"}});
    let r = s.post("/connectors", &body.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let ids_in_file = || -> Vec<i64> {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let mut ids: Vec<i64> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["payload"]["after"]["id"].as_i64())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    wait_for(
        "the snapshot rows in the sink's file",
        Duration::from_secs(120),
        || (ids_in_file() == vec![1, 2]).then_some(()),
    );
    common::mariadb(&format!(
        "INSERT INTO {db}.t VALUES (3, 'three'), (4, 'four')"
    ));
    wait_for(
        "the streamed rows in the sink's file",
        Duration::from_secs(60),
        || (ids_in_file() == vec![1, 2, 3, 4]).then_some(()),
    );
    for name in [&source, &sink] {
        let st = s.get(&format!("/connectors/{name}/status")).json();
        assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
    }
}

#[test]
fn a_standalone_worker_runs_mysql_to_a_file_on_the_secure_cluster() {
    let prefix = unique("secsa");
    let k = SecureKafka::start(&prefix);
    let dir = common::TempDir::new("secure-standalone");
    // The worker's own clients trust the CA through a PKCS#12 trust store,
    // as Java users make them; the tasks' clients through PEM.
    let p12 = dir.path().join("truststore.p12");
    let made = std::process::Command::new("openssl")
        .args(["pkcs12", "-export", "-nokeys", "-in"])
        .arg(k.ca_pem())
        .arg("-out")
        .arg(&p12)
        .args(["-passout", "pass:ts-pw"])
        .output()
        .expect("run openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let p12 = p12.display().to_string();
    let (file, port) = secure_worker_config(
        &k,
        dir.path(),
        WORKER,
        &[
            ("ssl.truststore.type", "PKCS12"),
            ("ssl.truststore.location", &p12),
            ("ssl.truststore.password", "ts-pw"),
        ],
    );
    let s = common::Sluice::start_with(file, port, dir.path());
    mysql_to_file(&s, &prefix, dir.path());

    // The wrong password stops a worker at start, with the reason and
    // without the password.
    let bad_dir = common::TempDir::new("secure-bad-password");
    let (bad, _) = secure_worker_config(&k, bad_dir.path(), WORKER, &[]);
    let text = std::fs::read_to_string(&bad)
        .unwrap()
        .replace(common::secure_kafka::WORKER_PASSWORD, "Wrong-Canary-pw");
    std::fs::write(&bad, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("standalone")
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    let last = err
        .lines()
        .filter(|l| l.starts_with("sluice:"))
        .collect::<Vec<_>>();
    assert_eq!(last.len(), 1, "{err}");
    assert!(
        last[0].contains("cannot log in to Kafka") && last[0].contains("sasl.jaas.config"),
        "{err}"
    );
    assert!(
        !err.contains("Wrong-Canary-pw"),
        "the password shows: {err}"
    );
}

#[test]
fn three_distributed_workers_run_mysql_to_a_file_on_the_secure_cluster() {
    let prefix = unique("secd");
    let k = SecureKafka::start(&prefix);
    // The workers' own clients (and group socket) trust the CA through a
    // JKS trust store, as older Java deployments hold it.
    let jks_dir = common::TempDir::new("secure-dist-jks");
    let jks = jks_dir.path().join("truststore.jks");
    let made = std::process::Command::new("keytool")
        .args([
            "-importcert",
            "-noprompt",
            "-trustcacerts",
            "-storetype",
            "JKS",
        ])
        .args(["-storepass", "ts-password", "-alias", "ca", "-keystore"])
        .arg(&jks)
        .arg("-file")
        .arg(k.ca_pem())
        .output()
        .expect("run keytool (a JDK: apt-get install -y openjdk-17-jdk-headless)");
    assert!(
        made.status.success(),
        "{}{}",
        String::from_utf8_lossy(&made.stdout),
        String::from_utf8_lossy(&made.stderr)
    );
    let jks = jks.display().to_string();
    let mut workers = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..3 {
        let dir = common::TempDir::new(&format!("secure-dist-{i}"));
        let (file, port) = secure_worker_config(
            &k,
            dir.path(),
            WORKER,
            &[
                ("ssl.truststore.type", "JKS"),
                ("ssl.truststore.location", &jks),
                ("ssl.truststore.password", "ts-password"),
                ("group.id", &format!("{prefix}-cluster")),
                ("config.storage.topic", &format!("{prefix}-configs")),
                ("offset.storage.topic", &format!("{prefix}-offsets")),
                ("status.storage.topic", &format!("{prefix}-status")),
                ("offset.storage.partitions", "3"),
                ("status.storage.partitions", "2"),
            ],
        );
        workers.push(common::Sluice::start_distributed(file, port, dir.path()));
        dirs.push(dir);
    }
    // Every worker joined: each sees the group's connectors and the leader.
    mysql_to_file(&workers[1], &prefix, dirs[1].path());
    for w in &workers {
        let list = w.get("/connectors").json();
        assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    }
    let logs: String = workers.iter().map(|w| w.log_text()).collect();
    assert!(
        !logs.contains(common::secure_kafka::WORKER_PASSWORD),
        "a log shows the password"
    );
}
