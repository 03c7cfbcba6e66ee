//! Bad worker configs stop the worker with one clear line and a non-zero
//! exit code; nothing panics.

mod common;

use std::process::Command;

use common::*;

/// Runs `sluice standalone` on a worker config; returns (exit code, stderr).
fn run_with(dir: &TempDir, props: &str) -> (i32, String) {
    let f = dir.path().join(format!("{}.properties", unique("w")));
    std::fs::write(&f, props).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("standalone")
        .arg(&f)
        .output()
        .expect("run sluice");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !stderr.contains("panicked") && !stdout.contains("panicked"),
        "panicked:\n{stderr}\n{stdout}"
    );
    (out.status.code().unwrap_or(-1), stderr)
}

fn assert_one_line(code: i32, stderr: &str, needle: &str) {
    assert_ne!(code, 0, "must exit non-zero; stderr: {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("sluice:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line expected, got:\n{stderr}");
    assert!(
        lines[0].contains(needle),
        "{:?} should mention {needle:?}",
        lines[0]
    );
}

#[test]
fn missing_bootstrap_servers() {
    let dir = TempDir::new("cfg-bootstrap");
    let (code, err) = run_with(
        &dir,
        &format!("offset.storage.file.filename={}/o\n", dir.path().display()),
    );
    assert_one_line(code, &err, "bootstrap.servers");
}

#[test]
fn unreachable_broker() {
    let dir = TempDir::new("cfg-broker");
    let port = free_port();
    let (code, err) = run_with(
        &dir,
        &format!(
            "bootstrap.servers=127.0.0.1:{port}\nlisteners=http://127.0.0.1:{}\noffset.storage.file.filename={}/o\n",
            free_port(),
            dir.path().display()
        ),
    );
    assert_one_line(code, &err, "cannot reach Kafka");
}

#[test]
fn rest_port_in_use() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("cfg-port");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let (code, err) = run_with(
        &dir,
        &format!(
            "bootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:{port}\noffset.storage.file.filename={}/o\n",
            dir.path().display()
        ),
    );
    assert_one_line(code, &err, &format!("cannot listen on 127.0.0.1:{port}"));
}

#[test]
fn unwritable_offset_file() {
    let dir = TempDir::new("cfg-offsets");
    let (code, err) = run_with(
        &dir,
        &format!(
            "bootstrap.servers=127.0.0.1:9092\nlisteners=http://127.0.0.1:{}\noffset.storage.file.filename=/proc/sluice/offsets\n",
            free_port()
        ),
    );
    assert_one_line(code, &err, "/proc/sluice");
}

#[test]
fn bad_listener_and_missing_file() {
    let dir = TempDir::new("cfg-listener");
    let (code, err) = run_with(
        &dir,
        &format!("bootstrap.servers=127.0.0.1:9092\nlisteners=ftp://x:1\noffset.storage.file.filename={}/o\n", dir.path().display()),
    );
    assert_one_line(code, &err, "listeners");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["standalone", "/nonexistent/worker.properties"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/worker.properties"));
}

#[test]
fn an_internal_topic_that_is_not_compacted_is_refused() {
    // Made by hand with the default policy: its records would expire, and
    // the connectors' offsets with them. Kafka Connect refuses it too.
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("cfg-policy");
    let group = unique("policy");
    let offsets = format!("{group}-offsets");
    create_topic(&bootstrap, &offsets, 1, &[("cleanup.policy", "delete")]);
    let f = dir.path().join("worker.properties");
    std::fs::write(
        &f,
        format!(
            "bootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:{}\ngroup.id={group}\n\
             config.storage.topic={group}-configs\noffset.storage.topic={offsets}\n\
             status.storage.topic={group}-status\n",
            free_port()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("distributed")
        .arg(&f)
        .output()
        .expect("run sluice");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_one_line(
        out.status.code().unwrap_or(-1),
        &stderr,
        "offset.storage.topic",
    );
    assert!(
        stderr.contains("cleanup.policy=delete") && stderr.contains("cleanup.policy=compact"),
        "names the policy and the remedy: {stderr}"
    );
}

#[test]
fn keys_that_would_do_nothing_are_named_and_exactly_once_is_refused() {
    let dir = TempDir::new("cfg-unused");
    let base = format!(
        "bootstrap.servers={}\nlisteners=http://127.0.0.1:{}\noffset.storage.file.filename={}/o\n",
        kafka_bootstrap(),
        free_port(),
        dir.path().display()
    );
    let (code, err) = run_with(
        &dir,
        &format!("{base}exactly.once.source.support=enabled\n"),
    );
    assert_one_line(code, &err, "exactly.once.source.support=enabled");

    // Keys Sluice reads pass in silence; a typo and a Java-only key are
    // named once, and the worker runs.
    let file = dir.path().join("w.properties");
    std::fs::write(
        &file,
        format!("{base}key.converter.schemas.enable=false\nproducer.linger.ms=5\ngruop.id=typo\nmetric.reporters=com.example.Reporter\n"),
    )
    .unwrap();
    let port: u16 = base
        .lines()
        .find_map(|l| l.strip_prefix("listeners=http://127.0.0.1:"))
        .and_then(|p| p.parse().ok())
        .unwrap();
    let s = Sluice::start_with(file, port, dir.path());
    let log = s.log_text();
    assert_eq!(
        log.matches("gruop.id is not known to Sluice").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("metric.reporters has no effect").count(),
        1,
        "{log}"
    );
    for quiet in [
        "key.converter.schemas.enable",
        "producer.linger.ms",
        "bootstrap.servers",
    ] {
        assert!(!log.contains(quiet), "{quiet} was named:\n{log}");
    }
}
