//! The web console at `/ui`, clicked through in Debian's headless Chromium
//! with Playwright (tests/console/drive.cjs): a MySQL connector created
//! through the form (a wrong value shown beside its field, then fixed),
//! RUNNING with its snapshot bar at 100%, paused and resumed, a failed
//! task's trace, and the offsets of the stopped connector shown and reset.
//! What the browser did is then checked as a REST client and a Kafka
//! consumer see it. Screenshots of each step are kept in the test's
//! folder (printed), and in `target/console-screenshots/` of the last run.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Where `scripts/setup console` puts playwright-core.
fn node_modules() -> PathBuf {
    let cache = std::env::var("SLUICE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/sluice")
        });
    cache.join("console-node/node_modules")
}

/// Runs tests/console/drive.cjs on `scenario` (written into `dir`) and
/// panics with what it printed and the worker's log if it fails. The
/// screenshots are also copied to `target/console-screenshots/<test>/`.
fn drive(test: &str, scenario: &Value, dir: &std::path::Path, s: &Sluice) {
    let modules = node_modules();
    assert!(
        modules.join("playwright-core").is_dir(),
        "playwright-core is not in {}: run scripts/setup console",
        modules.display()
    );
    let chromium = std::env::var("SLUICE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no browser at {chromium}: run scripts/setup apt (Debian's chromium package)"
    );
    let file = dir.join("scenario.json");
    std::fs::write(&file, scenario.to_string()).unwrap();
    let run = Command::new("node")
        .arg(manifest_dir().join("tests/console/drive.cjs"))
        .arg(&file)
        .env("NODE_PATH", &modules)
        .env("SLUICE_CHROMIUM", &chromium)
        .output()
        .expect("run node (scripts/setup console installs Node.js)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let out = PathBuf::from(scenario["out"].as_str().unwrap());
    eprintln!("{said}\nscreenshots in {}", out.display());
    let kept = manifest_dir().join("target/console-screenshots").join(test);
    let _ = std::fs::remove_dir_all(&kept);
    if std::fs::create_dir_all(&kept).is_ok() {
        for f in std::fs::read_dir(&out).unwrap().flatten() {
            let _ = std::fs::copy(f.path(), kept.join(f.file_name()));
        }
    }
    assert!(
        run.status.success(),
        "the browser scenario failed:\n{said}\n{}",
        s.log_text()
    );
}

#[test]
fn the_page_is_served_by_the_worker_with_nothing_from_elsewhere() {
    let dir = TempDir::new("console-page");
    let s = Sluice::start(dir.path(), &[]);
    let r = s.get("/ui");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        r.headers
    );
    assert!(
        r.body.contains("<title>Sluice console</title>"),
        "{}",
        r.body
    );
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert_eq!(s.get("/ui/").status, 200);
}

#[test]
fn a_user_runs_a_mysql_connector_from_the_console() {
    let db = format!("console_{}", std::process::id());
    let rows = 3000;
    mariadb(&format!(
        "CREATE DATABASE IF NOT EXISTS {db}; CREATE OR REPLACE TABLE {db}.orders (id INT PRIMARY KEY, item TEXT);
         USE {db}; INSERT INTO {db}.orders SELECT seq, CONCAT('item ', seq) FROM seq_1_to_{rows};"
    ));
    let dir = TempDir::new("console");
    let s = Sluice::start(dir.path(), &[]);

    // A connector whose task fails (InsertField's offset.field on a source,
    // which Kafka Connect fails the same way), for the trace step.
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "one line\n").unwrap();
    let failing = unique("console-failing");
    let r = s.post(
        "/connectors",
        &json!({"name": failing, "config": {
            "connector.class": "FileStreamSource", "file": input, "topic": unique("console-never"),
            "transforms": "insert", "transforms.insert.type": "InsertField$Value",
            "transforms.insert.offset.field": "kafka_offset"}})
        .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let name = unique("console-mysql");
    let prefix = unique("console");
    let mut cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("history.dat"),
        &[("table.include.list", &format!("{db}.orders"))],
    )["config"]
        .clone();
    // The form has no use for the placeholder Kafka history address.
    cfg.as_object_mut()
        .unwrap()
        .remove("schema.history.internal.kafka.bootstrap.servers");
    let out = dir.path().join("screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let scenario = json!({
        "url": format!("http://127.0.0.1:{}", s.port),
        "out": out,
        "name": name,
        "plugin": "io.debezium.connector.mysql.MySqlConnector",
        "config": cfg,
        "bad_key": "database.port",
        "bad_value": "port 3307",
        "failing": failing,
        "failing_trace": "Only SinkRecord supported",
    });
    drive("mysql", &scenario, dir.path(), &s);
    let shots = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(shots, 10, "a screenshot per step in {}", out.display());

    // What the clicks did, as a REST client sees it.
    let created = s.get(&format!("/connectors/{name}/config")).json();
    assert_eq!(created["database.port"], cfg["database.port"], "{created}");
    assert_eq!(created["topic.prefix"], Value::String(prefix.clone()));
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["connector"]["state"], "STOPPED", "{st}");
    let offsets = s.get(&format!("/connectors/{name}/offsets")).json();
    assert_eq!(
        offsets["offsets"],
        json!([]),
        "offsets after the reset: {offsets}"
    );
    // And as a Kafka consumer sees it: every row's snapshot event.
    let mut reader = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.{db}.orders"));
    reader.read_until(
        &format!("{rows} snapshot events"),
        Duration::from_secs(60),
        |r| r.len() >= rows,
    );
    let ids: std::collections::BTreeSet<i64> = reader
        .parsed
        .iter()
        .filter_map(|(key, _)| key["id"].as_i64())
        .collect();
    assert_eq!(ids.len(), rows, "distinct ids in the topic");
    mariadb(&format!("DROP DATABASE {db}"));
}

#[test]
fn the_console_works_behind_basic_authentication() {
    let dir = TempDir::new("console-auth");
    let jaas = basic_auth_files(dir.path(), "admin=console-secret\n");
    let jaas_path = jaas.display().to_string();
    let s = Sluice::start(
        dir.path(),
        &[
            (
                "rest.extension.classes",
                "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension",
            ),
            ("java.security.auth.login.config", &jaas_path),
        ],
    );
    assert_eq!(
        s.get("/ui").status,
        401,
        "the console needs credentials too"
    );
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\n").unwrap();
    let out = dir.path().join("screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let name = unique("console-auth");
    let topic = unique("console-auth");
    drive(
        "basic-authentication",
        &json!({
            "url": format!("http://127.0.0.1:{}", s.port),
            "out": out,
            "user": "admin",
            "password": "console-secret",
            "name": name,
            "plugin": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "config": {"connector.class": "FileStreamSource", "file": input, "topic": topic},
        }),
        dir.path(),
        &s,
    );
    // The connector the browser created, as Kafka sees it.
    let records = consume(&kafka_bootstrap(), &topic, 2, Duration::from_secs(30));
    assert_eq!(records.len(), 2, "the file's lines in {topic}");
}
