//! `GET /health` (KIP-1017) of real workers:
//!
//! - a standalone worker whose broker is not there answers 503 "starting"
//!   (and 503 on the API) while it checks the broker, then gives up with
//!   its one-line error;
//! - a distributed worker on a private broker answers 503 "starting" (if
//!   asked early enough) and then 200 "healthy"; with its broker killed it
//!   answers 500 "unhealthy" naming the brokers, and 200 again once the
//!   broker is back.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Starts `sluice MODE worker_file` with its output in `dir`, without
/// waiting for it to answer.
fn spawn(mode: &str, worker_file: PathBuf, port: u16, dir: &Path) -> Sluice {
    let log = dir.join(format!("sluice-{}.log", unique("run")));
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg(mode)
        .arg(&worker_file)
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("start sluice");
    Sluice {
        child,
        port,
        worker_file,
        log,
    }
}

/// `GET /health` as (status code, body); None while nothing listens.
fn health(s: &Sluice) -> Option<(u16, serde_json::Value)> {
    let r = http(s.port, "GET", "/health", None).ok()?;
    Some((r.status, r.json()))
}

/// Polls `/health` until it answers `want`; every other answer meanwhile
/// must be one of `allowed`. Returns the body.
fn wait_health(s: &Sluice, want: u16, allowed: &[u16], timeout: Duration) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        if let Some((code, body)) = health(s) {
            if code == want {
                return body;
            }
            assert!(
                allowed.contains(&code),
                "GET /health answered {code} {body} while waiting for {want}\nlog:\n{}",
                s.log_text()
            );
            seen.push(code);
        }
        assert!(
            Instant::now() < deadline,
            "GET /health did not answer {want} within {timeout:?} (answers: {seen:?})\nlog:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn standalone_worker_without_its_broker_is_starting_then_gives_up() {
    let dir = TempDir::new("health-nobroker");
    let broker_port = free_port();
    let (file, port) = Sluice::worker_config(
        dir.path(),
        &[("bootstrap.servers", &format!("127.0.0.1:{broker_port}"))],
    );
    let mut s = spawn("standalone", file, port, dir.path());

    // The broker check takes 10 s to give up: the listener answers before.
    let body = wait_health(&s, 503, &[], Duration::from_secs(8));
    assert_eq!(body["status"], "starting", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Worker is still starting up. The worker is currently checking the brokers at bootstrap.servers=127.0.0.1:"),
        "{message}"
    );
    let r = s.get("/connectors");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error_code"], 503);

    let status = wait_for("the worker to give up", Duration::from_secs(30), || {
        s.child.try_wait().unwrap()
    });
    assert!(!status.success());
    let log = s.log_text();
    assert!(log.contains("sluice: cannot reach Kafka"), "{log}");
}

/// A distributed worker of a group of its own on a private broker, with a
/// short session timeout so that it notices the broker's loss quickly.
fn distributed_on(broker: &RestartableBroker, dir: &Path, prefix: &str) -> Sluice {
    let group = unique(prefix);
    let (file, port) = Sluice::distributed_config(
        dir,
        &group,
        &[
            ("bootstrap.servers", &broker.bootstrap),
            ("offset.storage.partitions", "1"),
            ("status.storage.partitions", "1"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "1000"),
        ],
    );
    spawn("distributed", file, port, dir)
}

#[test]
fn distributed_worker_is_unhealthy_while_its_broker_is_down() {
    let mut broker = RestartableBroker::start();
    let dir = TempDir::new("health-dist");
    let mut s = distributed_on(&broker, dir.path(), "health");
    let body = wait_health(&s, 200, &[503], Duration::from_secs(60));
    assert_eq!(
        body,
        serde_json::json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})
    );

    broker.kill9();
    let body = wait_health(&s, 500, &[200], Duration::from_secs(60));
    assert_eq!(body["status"], "unhealthy", "{body}");
    let message = body["message"].as_str().unwrap();
    eprintln!("with the broker down: {message}");
    assert!(
        message.starts_with(
            "Worker was unable to handle this request and may be unable to handle other requests. "
        ) && message.contains(&format!("bootstrap.servers={}", broker.bootstrap)),
        "{message}"
    );

    broker.start_again();
    wait_health(&s, 200, &[500], Duration::from_secs(90));
    assert!(s.terminate().success(), "{}", s.log_text());
}

/// REST reads never wait behind the worker's broker calls (#16): with the
/// broker gone, the worker loses the group and its loops write task and
/// connector statuses (each write waiting up to its 30 s delivery timeout)
/// while holding the worker's local lock; a connector's status is still
/// answered at once, from the task table and the last status read, for the
/// whole outage.
#[test]
fn status_reads_answer_at_once_while_the_broker_is_away() {
    let mut broker = RestartableBroker::start();
    let dir = TempDir::new("status-outage");
    let mut s = distributed_on(&broker, dir.path(), "status-outage");
    wait_health(&s, 200, &[503], Duration::from_secs(60));
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\n").unwrap();
    let r = s.post(
        "/connectors",
        &serde_json::json!({"name": "src", "config": {"connector.class": "FileStreamSource",
            "file": input.display().to_string(), "topic": unique("status-outage"), "tasks.max": "1"}})
        .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    s.wait_status("src", "task RUNNING", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });

    broker.kill9();
    // Reads until the worker has lost the group, then for the 30 s after
    // it, while the status writes of its stopped task wait on the broker.
    let (mut worst, mut reads) = (Duration::ZERO, 0);
    let mut read = || {
        let t = Instant::now();
        let r = s.get("/connectors/src/status");
        let took = t.elapsed();
        assert_eq!(r.status, 200, "{}", r.body);
        worst = worst.max(took);
        reads += 1;
    };
    wait_for("the group membership lost", Duration::from_secs(60), || {
        read();
        s.log_text()
            .contains("lost its group membership")
            .then_some(())
    });
    poll(Duration::from_secs(30), || {
        read();
        None::<()>
    });
    eprintln!("{reads} status reads during the outage, the slowest {worst:?}");
    assert!(
        worst < Duration::from_secs(5),
        "a status read waited {worst:?} behind the worker's broker calls\n{}",
        s.log_text()
    );
    broker.start_again();
    assert!(s.terminate().success(), "{}", s.log_text());
}
