//! `log.format=json`: a worker snapshotting a MySQL table writes only JSON
//! lines; the task's lines name its connector and task, and the snapshot
//! reports its progress (rows, estimate, rate) at the progress interval
//! (shortened here with the hidden SLUICE_SNAPSHOT_PROGRESS_INTERVAL_MS).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

const ROWS: u64 = 20_000;

#[test]
fn json_lines_carry_connector_task_and_snapshot_progress() {
    let db = format!("sl_{}", unique("jsonlog").replace('-', "_"));
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v VARCHAR(40));
         INSERT INTO {db}.t SELECT seq, CONCAT('row-', seq) FROM {db}.seq_1_to_{ROWS};"
    ));
    let dir = TempDir::new("json-logs");
    let (worker_file, port) = Sluice::worker_config(dir.path(), &[("log.format", "json")]);
    let log = dir.path().join("sluice.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("standalone")
        .arg(&worker_file)
        .env("SLUICE_SNAPSHOT_PROGRESS_INTERVAL_MS", "1")
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("start sluice");
    let mut s = Sluice {
        child,
        port,
        worker_file,
        log,
    };
    wait_for("the worker to start", Duration::from_secs(60), || {
        http(port, "GET", "/health", None)
            .ok()
            .filter(|r| r.status == 200)
    });

    let name = unique("json-logs");
    let cfg = mysql_connector_config(
        &name,
        &unique("jl"),
        &db,
        &dir.path().join("history.jsonl"),
        &[("max.batch.size", "500")],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let done = format!("snapshot: {db}.t done, {ROWS} rows");
    let lines = wait_for("the snapshot's last line", Duration::from_secs(120), || {
        let lines = parse_lines(&s.log_text());
        lines
            .iter()
            .any(|l| l["message"].as_str().is_some_and(|m| m.starts_with(&done)))
            .then_some(lines)
    });

    for l in &lines {
        for key in ["timestamp", "level", "logger", "message"] {
            assert!(l[key].is_string(), "{key} missing: {l}");
        }
        // Every line of the connector's code says which connector it is.
        if l["logger"]
            .as_str()
            .unwrap()
            .starts_with("sluice_connectors::")
        {
            assert_eq!(l["connector"], name.as_str(), "{l}");
        }
    }
    let table = format!("{db}.t");
    let progress: Vec<&Value> = lines
        .iter()
        .filter(|l| l["table"] == table.as_str() && l["estimated_total"].is_u64())
        .filter(|l| l["rows"].as_u64().is_some_and(|r| r > 0 && r < ROWS))
        .collect();
    assert!(
        progress.len() >= 2,
        "progress lines at the interval, got {}:\n{}",
        progress.len(),
        s.log_text()
    );
    for l in &progress {
        assert_eq!(l["connector"], name.as_str(), "{l}");
        assert_eq!(l["task"], 0, "{l}");
        assert_eq!(l["logger"], "sluice_connectors::debezium::progress", "{l}");
        assert!(l["rows_per_second"].is_u64(), "{l}");
        let m = l["message"].as_str().unwrap();
        assert!(
            m.starts_with(&format!("snapshot: {table} ")) && m.contains(" rows/s"),
            "{m}"
        );
    }
    let rows: Vec<u64> = progress
        .iter()
        .map(|l| l["rows"].as_u64().unwrap())
        .collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
    assert!(s.terminate().success());
    let last = parse_lines(&s.log_text());
    assert_eq!(last.last().unwrap()["message"], "stopped");
}

/// Every complete line of the log as JSON; a line that is not JSON fails
/// the test.
fn parse_lines(text: &str) -> Vec<Value> {
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}
