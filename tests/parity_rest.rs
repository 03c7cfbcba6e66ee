//! REST parity: the same sequence of REST calls against the real Kafka
//! Connect 4.4 worker (standalone, `scripts/debezium up --mode standalone
//! --name rest-parity`, with Debezium's connectors) and against
//! `sluice standalone`, every endpoint of Kafka Connect's REST API with its
//! errors; status codes compared exactly, bodies as JSON after the
//! normalisations listed in `tests/rest_parity_support/mod.rs` (N1-N10).
//!
//! Kafka Connect is the oracle. A difference fails the test unless the
//! KNOWN table below explains it (each entry says why, and
//! docs/compatibility.md lists them); an entry that explains nothing fails
//! too. Every step and difference is printed and written to
//! `$CARGO_TARGET_TMPDIR/parity-rest-report.txt`.
//!
//!   scripts/test -p sluice --test parity_rest -- --nocapture
//!
//! The lifecycle calls use `io.debezium.connector.mariadb.MariaDbConnector`
//! (Sluice's MySQL connector answers to that class) on a fresh database of
//! the shared MariaDB (`scripts/services up`). The Kafka Connect worker is
//! started by the test itself; `SLUICE_REST_PARITY_PORT` (default 8283)
//! chooses its REST port.

mod common;
mod rest_parity_support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{kafka_bootstrap, Sluice, TempDir};
use rest_parity_support::*;
use serde_json::{json, Value};

/// Differences explained, each with its reason (docs/compatibility.md,
/// "REST API", says the same for users). First match wins; every entry
/// must match at least one difference.
const KNOWN: &[Known] = &[
    // -- Kafka Connect answers 500 for bad requests (its bugs; Sluice says 400)
    k("PUT /connector-plugins/*/config/validate (no connector.class)", "*",
      "KC wraps its BadRequestException into a 500; Sluice answers the 400 it means"),
    k("PUT /connector-plugins/NoSuchPlugin/config/validate", "*",
      "KC wraps its BadRequestException into a 500; Sluice answers the 400 it means"),
    k("* (malformed JSON)", "*",
      "KC maps Jackson's parse errors to 500; Sluice answers 400 with the line and column"),
    k("POST /connectors (empty body)", "*",
      "KC: NullPointerException (500) on an empty body; Sluice: 400"),
    k("POST /connectors (no config)", "*",
      "KC: NullPointerException (500) when \"config\" is missing; Sluice: 400"),
    k("POST /connectors (bad initial_state)", "*",
      "KC: Jackson enum error (500); Sluice: 400 naming RUNNING, PAUSED, STOPPED"),
    k("PATCH /connectors/{A}/offsets (offsets not a list)", "*",
      "KC: Jackson type error (500); Sluice: 400"),
    k("PUT /connectors/{B}/config (not an object)", "*",
      "KC: Jackson type error (500); Sluice: 400"),
    k("PUT /connectors/{M}/stop (unknown connector)", "*",
      "KC's standalone herder answers 500 (its distributed herder 404 \"Unknown connector X\", as Sluice does)"),
    k("POST /connectors/{M}/restart (unknown connector)", "*",
      "KC's standalone herder: NullPointerException, 500 (distributed: 404 \"Unknown connector: X\", as Sluice)"),
    k("POST /connectors/{M}/tasks/0/restart (unknown connector)", "*",
      "KC's standalone herder answers 500 (distributed: 404 \"Unknown connector: X\", as Sluice)"),
    // -- Kafka Connect accepts what Sluice refuses
    k("PATCH /connectors/{A}/offsets (no partition)", "*",
      "KC accepts an entry without a partition (200) and stores a null partition; Sluice refuses it (400)"),
    // -- error wording
    k("POST /connectors (no name)", "message",
      "Sluice names the missing \"name\" field; KC reports it as an invalid empty name"),
    k("POST /connectors (empty name)", "message", "Sluice's own wording for an empty name"),
    k("POST /connectors (control character in name)", "message",
      "Sluice's own wording for control characters in a name"),
    k("POST /connectors (tasks.max=0)", "message",
      "per-key validation messages are Sluice's wording (Invalid value 0: must be at least 1)"),
    // Not judged stale when it does not match: in 2 runs of about 5 on
    // 2026-12-07 this step showed no difference (cause not found yet; the
    // report lists differences only, so what Kafka Connect answered then is
    // not known).
    k_timing("POST /connectors (unknown class)", "message",
      "KC prefixes the Java exception class (org.apache.kafka.connect.errors.ConnectException: ), in most runs"),
    k("PUT /connector-plugins/MariaDbConnector/config/validate (invalid)", "configs*.value.errors*",
      "per-key validation messages are Sluice's wording"),
    // -- status: Sluice extensions
    k_timing("*", "*progress",
      "Sluice extension: a task's progress (snapshot rows per table) in its status; present only while a snapshot runs, so not in every run"),
    k("*", "*starts", "Sluice extension: how many times a task was started on its worker"),
    // -- herder behaviour
    k("* (initial_state PAUSED)", "tasks[0]",
      "KC does not start a connector created PAUSED, so it has no tasks until resumed; Sluice creates its tasks PAUSED"),
    // -- loggers
    k("GET /admin/loggers/{L} (never set)", "*",
      "KC answers 404 for a logger log4j never created; Sluice has no fixed set of loggers and answers any name with its effective level"),
    // -- plugin sets (what each worker has installed)
    k("GET /connector-plugins*", "[\"io.debezium.*",
      "plugins only the KC worker has: Debezium's MongoDB sink, SMTs and converters"),
    k("GET /connector-plugins*", "[\"org.apache.kafka.connect.converters.*",
      "Kafka's Boolean/Double/Float/Integer/Long/Short converters are not in Sluice"),
    k("GET /connector-plugins*", "[\"org.apache.kafka.connect.file.*",
      "Sluice ships the FileStream connectors; the KC worker here has no connect-file jar"),
    k("GET /connector-plugins*", "[\"io.sluice.*", "Sluice's own Protobuf converter"),
    k("GET /connector-plugins*", "[\"io.confluent.*",
      "Sluice's JDBC sink answers to Confluent's class too; the KC worker here has no Confluent jar"),
    // -- config definitions (ConfigKeyInfo metadata)
    k("GET /connector-plugins/org.apache.kafka.connect.json.JsonConverter/config", "*",
      "Sluice's JsonConverter declares its keys without groups, widths or display names, converter.type optional, no schema.content"),
    k("*/config*", "*.width", "Sluice's config keys have no width (NONE)"),
    k("*/config*", "*.display_name", "Sluice's config keys have no display name (the key name)"),
    k("*/config*", "*.order_in_group",
      "Sluice numbers the keys of a group without KIP-891's *.plugin.version keys"),
    k("*/config*", "*plugin.version\"]",
      "KIP-891 plugin version keys (connector/key/value/header .plugin.version) are not in Sluice"),
    k("*/config*", "*tasks.max.enforce\"]", "tasks.max.enforce is not in Sluice"),
    k("*/config*", "*transaction.boundary.interval.ms\"]*value",
      "transaction.boundary.interval.ms defaults to \"\" (the worker's offset.flush.interval.ms), KC null: Sluice's declarations have no null default for an optional key"),
    k("*/config*", "*converter\"]*value",
      "the converter keys default to \"\" (the worker's converter) where KC shows the class or null"),
    k("*/config*", "*offsets.storage.topic\"]*value", "offsets.storage.topic defaults to \"\", KC null"),
    k("*/config*", "*.recommended_values*",
      "Sluice recommends the allowed values of enum-like keys; KC recommends none"),
];

const fn k(step: &'static str, path: &'static str, why: &'static str) -> Known {
    Known {
        step,
        path,
        why,
        timing: false,
    }
}

/// A known difference that shows only when timing allows (see `Known`).
const fn k_timing(step: &'static str, path: &'static str, why: &'static str) -> Known {
    Known {
        step,
        path,
        why,
        timing: true,
    }
}

const CLASS: &str = "io.debezium.connector.mariadb.MariaDbConnector";
const WAIT: Duration = Duration::from_secs(120);

// ------------------------------------------------------------------ set-up

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_string())
}

/// Starts (or finds) the Kafka Connect 4.4 standalone worker; its port.
fn kafka_connect() -> u16 {
    let port = env("SLUICE_REST_PARITY_PORT", "8283");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/debezium");
    let how = format!(
        "start it with `scripts/debezium up --mode standalone --name rest-parity --port {port}` \
         (after `scripts/services up`; its log: `scripts/debezium logs --name rest-parity`)"
    );
    let out = Command::new(&script)
        .args([
            "up",
            "--mode",
            "standalone",
            "--name",
            "rest-parity",
            "--port",
            &port,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {how}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Kafka Connect 4.4 worker did not start ({}): {stderr}\nThe REST parity test needs it: {how}",
        out.status
    );
    let url = stdout.lines().last().unwrap_or("").trim().to_string();
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!("scripts/debezium up printed no URL: {stdout:?} {stderr}; {how}")
        });
    let r = send(port, "GET", "/connector-plugins", None, None)
        .unwrap_or_else(|e| panic!("Kafka Connect at {url} does not answer: {e}; {how}"));
    assert!(
        r.body.contains(CLASS),
        "Kafka Connect at {url} has no {CLASS}: {}",
        r.body
    );
    port
}

/// Runs SQL as root on the shared MariaDB.
fn sql(statements: &str) {
    let out = Command::new("mariadb")
        .args(["--no-defaults", "-N", "-B"])
        .args(["-h", &env("SLUICE_MARIADB_HOST", "127.0.0.1")])
        .args(["-P", &env("SLUICE_MARIADB_PORT", "3307")])
        .arg("-uroot")
        .arg(format!(
            "-p{}",
            env("SLUICE_MARIADB_ROOT_PASSWORD", "sluice")
        ))
        .args(["-e", statements])
        .output()
        .expect("run the mariadb client (apt-get install mariadb-client)");
    assert!(
        out.status.success(),
        "SQL failed on the shared MariaDB (scripts/services up mariadb): {statements}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes this run's connectors on Kafka Connect (its worker outlives the
/// test) and drops the database, also when the test fails.
struct Cleanup {
    kc_port: u16,
    db: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        delete_all(self.kc_port);
        let db = self.db.clone();
        let _ = std::panic::catch_unwind(move || sql(&format!("DROP DATABASE IF EXISTS `{db}`")));
    }
}

fn delete_all(port: u16) {
    if let Ok(r) = send(port, "GET", "/connectors", None, None) {
        for name in r.json_or_null().as_array().into_iter().flatten() {
            if let Some(n) = name.as_str() {
                let _ = send(port, "DELETE", &format!("/connectors/{n}"), None, None);
            }
        }
    }
}

/// What each side's connectors need of their own (N2).
struct Conn {
    run: String,
    db: String,
    bootstrap: String,
    server_id_base: u64,
}

impl Conn {
    fn prefix(&self, w: Which, key: &str) -> String {
        let s = if w == Which::Kc { "k" } else { "s" };
        format!("rp{s}{}{key}", self.run)
    }
    fn server_id(&self, w: Which, key: &str) -> String {
        let k = u64::from(key.as_bytes()[0] - b'a');
        let s = if w == Which::Kc { 0 } else { 50 };
        (self.server_id_base + s + k).to_string()
    }
    fn history(&self, w: Which, key: &str) -> String {
        let s = if w == Which::Kc { "kc" } else { "sluice" };
        format!("rest-parity-history-{}-{s}-{key}", self.run)
    }
    fn config(&self, w: Which, key: &str) -> Value {
        json!({
            "connector.class": CLASS,
            "database.hostname": env("SLUICE_MARIADB_HOST", "127.0.0.1"),
            "database.port": env("SLUICE_MARIADB_PORT", "3307"),
            "database.user": env("SLUICE_MARIADB_USER", "sluice"),
            "database.password": env("SLUICE_MARIADB_PASSWORD", "sluice"),
            "database.server.id": self.server_id(w, key),
            "topic.prefix": self.prefix(w, key),
            "database.include.list": self.db,
            "schema.history.internal.kafka.bootstrap.servers": self.bootstrap,
            "schema.history.internal.kafka.topic": self.history(w, key),
            // Other tests' databases on the shared server may hold DDL
            // Debezium cannot parse (MariaDB's UUID type): read and keep
            // only this database's, skip what cannot be parsed.
            "schema.history.internal.store.only.captured.tables.ddl": "true",
            "schema.history.internal.skip.unparseable.ddl": "true",
            "tasks.max": "1",
        })
    }
    fn register(&self, side: &mut Side, key: &str) {
        let w = side.which;
        side.substrings
            .push((self.prefix(w, key), format!("<prefix-{key}>")));
        side.substrings
            .push((self.history(w, key), format!("<history-{key}>")));
        side.exact
            .push((self.server_id(w, key), format!("<server-id-{key}>")));
    }
}

fn running(v: &Value) -> bool {
    v["connector"]["state"] == "RUNNING"
        && v["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == 1 && t[0]["state"] == "RUNNING")
}

fn paused(v: &Value) -> bool {
    v["connector"]["state"] == "PAUSED"
        && v["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == 1 && t[0]["state"] == "PAUSED")
}

fn stopped(v: &Value) -> bool {
    v["connector"]["state"] == "STOPPED" && v["tasks"].as_array().is_some_and(Vec::is_empty)
}

// ------------------------------------------------------------------ the test

#[test]
fn rest_api_matches_kafka_connect() {
    let bootstrap = kafka_bootstrap();
    let kc_port = kafka_connect();
    // A failed earlier run may have left connectors on the shared worker.
    delete_all(kc_port);

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let run = format!("{}{:06}", std::process::id() % 1000, nanos % 1_000_000);
    let db = format!("rest_parity_{run}");
    let _cleanup = Cleanup {
        kc_port,
        db: db.clone(),
    };
    sql(&format!(
        "CREATE DATABASE `{db}`; CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO `{db}`.t VALUES (1, 'one'), (2, 'two');"
    ));

    let dir = TempDir::new("parity-rest");
    let sluice = Sluice::start(dir.path(), &[]);

    let conn = Conn {
        run: run.clone(),
        db: db.clone(),
        bootstrap: bootstrap.clone(),
        server_id_base: 300_000_000 + (nanos as u64 / 1000 % 1_000_000) * 100,
    };
    let mut kc = Side::new(Which::Kc, kc_port);
    let mut sl = Side::new(Which::Sluice, sluice.port);
    for key in ["a", "b", "c", "d", "e", "f", "t"] {
        conn.register(&mut kc, key);
        conn.register(&mut sl, key);
    }
    let logger = format!("org.sluice.parity.r{run}");
    let mut p = Parity {
        kc,
        sluice: sl,
        logger_prefix: logger.clone(),
        diffs: Vec::new(),
        steps: Vec::new(),
    };
    let name = |key: &str| format!("rp{run}-{key}");
    let (a, b, c, d, e, m, t) = (
        name("a"),
        name("b"),
        name("c"),
        name("d"),
        name("e"),
        name("missing"),
        name("t"),
    );
    let create = |key: &str, n: &str, extra: &[(&str, Value)]| -> (Value, Value) {
        let mut x = json!({"name": n, "config": conn.config(Which::Kc, key)});
        let mut y = json!({"name": n, "config": conn.config(Which::Sluice, key)});
        for (k, v) in extra {
            x[*k] = v.clone();
            y[*k] = v.clone();
        }
        (x, y)
    };
    let with = |key: &str, changes: &[(&str, Value)]| -> (Value, Value) {
        let mut x = conn.config(Which::Kc, key);
        let mut y = conn.config(Which::Sluice, key);
        for (k, v) in changes {
            x[*k] = v.clone();
            y[*k] = v.clone();
        }
        (x, y)
    };
    macro_rules! go {
        ($method:expr, $path:expr) => {
            p.step(p.req(
                $method,
                $path,
                &[
                    ("A", &a),
                    ("B", &b),
                    ("C", &c),
                    ("D", &d),
                    ("E", &e),
                    ("M", &m),
                    ("T", &t),
                    ("L", &logger),
                ],
            ))
        };
        ($method:expr, $path:expr, |$r:ident| $build:expr) => {{
            let $r = p.req(
                $method,
                $path,
                &[
                    ("A", &a),
                    ("B", &b),
                    ("C", &c),
                    ("D", &d),
                    ("E", &e),
                    ("M", &m),
                    ("T", &t),
                    ("L", &logger),
                ],
            );
            p.step($build)
        }};
    }

    // ---------------------------------------------------------- the server
    go!("GET", "/");
    go!("GET", "/health");
    go!("GET", "/connectors");
    go!("GET", "/connectors/");
    go!("GET", "/no/such/path");
    go!("DELETE", "/connectors");
    go!("PUT", "/connector-plugins", |r| r.body(&json!({})));

    // ---------------------------------------------------------- plugins
    go!("GET", "/connector-plugins");
    go!("GET", "/connector-plugins?connectorsOnly=false");
    go!(
        "GET",
        "/connector-plugins/io.debezium.connector.mariadb.MariaDbConnector/config"
    );
    go!("GET", "/connector-plugins/MariaDbConnector/config");
    go!(
        "GET",
        "/connector-plugins/org.apache.kafka.connect.transforms.RegexRouter/config"
    );
    go!(
        "GET",
        "/connector-plugins/org.apache.kafka.connect.json.JsonConverter/config"
    );
    go!("GET", "/connector-plugins/NoSuchPlugin/config");
    let (x, y) = with("a", &[("name", json!(a))]);
    go!(
        "PUT",
        "/connector-plugins/MariaDbConnector/config/validate",
        |r| r.per_side(&x, &y).note("valid")
    );
    let (mut x, mut y) = with(
        "a",
        &[
            ("tasks.max", json!("0")),
            ("errors.tolerance", json!("sometimes")),
        ],
    );
    x.as_object_mut().unwrap().remove("name");
    y.as_object_mut().unwrap().remove("name");
    go!(
        "PUT",
        "/connector-plugins/MariaDbConnector/config/validate",
        |r| r.per_side(&x, &y).note("invalid")
    );
    go!(
        "PUT",
        "/connector-plugins/MariaDbConnector/config/validate",
        |r| r
            .body(&json!({"tasks.max": "1"}))
            .note("no connector.class")
    );
    go!(
        "PUT",
        "/connector-plugins/MariaDbConnector/config/validate",
        |r| r
            .body(&json!({"connector.class": "io.debezium.connector.mongodb.MongoDbConnector"}))
            .note("other class")
    );
    go!(
        "PUT",
        "/connector-plugins/NoSuchPlugin/config/validate",
        |r| r.body(&json!({"connector.class": "NoSuchPlugin"}))
    );
    go!(
        "PUT",
        "/connector-plugins/MariaDbConnector/config/validate",
        |r| r.raw("{not json").note("malformed JSON")
    );

    // ---------------------------------------------------------- unknown connector
    let unknown_note = "unknown connector";
    for (method, path) in [
        ("GET", "/connectors/{M}"),
        ("GET", "/connectors/{M}/config"),
        ("GET", "/connectors/{M}/status"),
        ("GET", "/connectors/{M}/tasks"),
        ("GET", "/connectors/{M}/tasks/0/status"),
        ("PUT", "/connectors/{M}/pause"),
        ("PUT", "/connectors/{M}/resume"),
        ("PUT", "/connectors/{M}/stop"),
        ("POST", "/connectors/{M}/restart"),
        (
            "POST",
            "/connectors/{M}/restart?includeTasks=true&onlyFailed=false",
        ),
        ("POST", "/connectors/{M}/tasks/0/restart"),
        ("GET", "/connectors/{M}/offsets"),
        ("DELETE", "/connectors/{M}/offsets"),
        ("GET", "/connectors/{M}/topics"),
        ("PUT", "/connectors/{M}/topics/reset"),
        ("DELETE", "/connectors/{M}"),
    ] {
        go!(method, path, |r| r.note(unknown_note));
    }
    go!("PATCH", "/connectors/{M}/offsets", |r| r
        .body(&json!({"offsets": [{"partition": {"server": "x"}, "offset": {"pos": 4}}]}))
        .note(unknown_note));
    go!("PATCH", "/connectors/{M}/config", |r| r
        .body(&json!({"tasks.max": "1"}))
        .note(unknown_note));

    // ---------------------------------------------------------- refused creations
    go!("POST", "/connectors", |r| r
        .raw("{not json")
        .note("malformed JSON"));
    go!("POST", "/connectors", |r| r.raw("").note("empty body"));
    let (x, y) = create("t", &t, &[]);
    let strip = |mut v: Value, k: &str| {
        v.as_object_mut().unwrap().remove(k);
        v
    };
    go!("POST", "/connectors", |r| r
        .per_side(&strip(x.clone(), "name"), &strip(y.clone(), "name"))
        .note("no name"));
    go!("POST", "/connectors", |r| r
        .body(&json!({"name": t}))
        .note("no config"));
    let (x2, y2) = create("t", "", &[]);
    go!("POST", "/connectors", |r| r
        .per_side(&x2, &y2)
        .note("empty name"));
    let (x2, y2) = create("t", "a\u{1}b", &[]);
    go!("POST", "/connectors", |r| r
        .per_side(&x2, &y2)
        .note("control character in name"));
    go!("POST", "/connectors", |r| r
        .body(&json!({"name": t, "config": {"connector.class": "com.example.NoSuchConnector"}}))
        .note("unknown class"));
    go!("POST", "/connectors", |r| r
        .body(&json!({"name": t, "config": {"tasks.max": "1"}}))
        .note("no connector.class"));
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2["config"]["tasks.max"] = json!("0");
    y2["config"]["tasks.max"] = json!("0");
    go!("POST", "/connectors", |r| r
        .per_side(&x2, &y2)
        .note("tasks.max=0"));
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2["config"]["name"] = json!("other");
    y2["config"]["name"] = json!("other");
    go!("POST", "/connectors", |r| r
        .per_side(&x2, &y2)
        .note("name mismatch"));
    let (x2, y2) = create("t", &t, &[("initial_state", json!("SLEEPING"))]);
    go!("POST", "/connectors", |r| r
        .per_side(&x2, &y2)
        .note("bad initial_state"));

    // ---------------------------------------------------------- content types
    go!("POST", "/connectors", |r| r
        .per_side(&x, &y)
        .content_type(Some("text/plain")));
    go!("POST", "/connectors", |r| r
        .per_side(&x, &y)
        .content_type(None));
    go!("POST", "/connectors", |r| r
        .per_side(&x, &y)
        .content_type(Some("application/x-www-form-urlencoded")));
    go!("GET", "/connectors");
    let r = send(sluice.port, "GET", &format!("/connectors/{t}"), None, None).unwrap();
    assert_eq!(
        r.status, 404,
        "a POST /connectors that is not application/json must never create a connector: {}",
        r.body
    );
    go!("GET", "/connectors", |r| r.content_type(Some("text/plain")));
    go!("PUT", "/connectors/{M}/pause", |r| r
        .raw("x")
        .content_type(Some("text/plain")));
    go!("PUT", "/admin/loggers/{L}", |r| r
        .body(&json!({"level": "INFO"}))
        .content_type(Some("text/plain")));

    // ---------------------------------------------------------- lifecycle of A
    let (x, y) = create("a", &a, &[]);
    go!("POST", "/connectors", |r| r
        .per_side(&x, &y)
        .note("create A"));
    go!("POST", "/connectors", |r| r
        .per_side(&x, &y)
        .note("A again"));
    p.wait_both(
        "A RUNNING",
        &format!("/connectors/{a}/status"),
        WAIT,
        running,
    );
    go!("GET", "/connectors");
    go!("GET", "/connectors?expand=status");
    go!("GET", "/connectors?expand=info");
    go!("GET", "/connectors?expand=status&expand=info");
    go!("GET", "/connectors/{A}");
    go!("GET", "/connectors/{A}/config");
    go!("GET", "/connectors/{A}/status");
    go!("GET", "/connectors/{A}/tasks");
    go!("GET", "/connectors/{A}/tasks/0/status");
    go!("GET", "/connectors/{A}/tasks/9/status");
    go!("GET", "/connectors/{A}/tasks/x/status");
    go!("GET", "/connectors/{A}/tasks-config");
    go!("POST", "/connectors/{A}/status", |r| r.body(&json!({})));
    go!("GET", "/connectors/{A}/restart");

    // Topics (KIP-558): both have written the schema change and the table topics.
    p.wait_both(
        "A's two topics",
        &format!("/connectors/{a}/topics"),
        WAIT,
        |v| v[&a]["topics"].as_array().is_some_and(|t| t.len() >= 2),
    );
    go!("GET", "/connectors/{A}/topics");
    go!("PUT", "/connectors/{A}/topics/reset");
    go!("GET", "/connectors/{A}/topics", |r| r.note("after reset"));

    // Offsets are readable any time, modifiable only while STOPPED.
    p.wait_both(
        "A's committed offset",
        &format!("/connectors/{a}/offsets"),
        WAIT,
        |v| v["offsets"].as_array().is_some_and(|o| !o.is_empty()),
    );
    go!("GET", "/connectors/{A}/offsets");
    go!("DELETE", "/connectors/{A}/offsets", |r| r.note("running"));
    go!("PATCH", "/connectors/{A}/offsets", |r| r
        .body(&json!({"offsets": [{"partition": {"server": "x"}, "offset": {"pos": 4}}]}))
        .note("running"));

    // Config: PUT replaces (200), PATCH merges (null removes).
    let (x, y) = with("a", &[("max.batch.size", json!("1024"))]);
    go!("PUT", "/connectors/{A}/config", |r| r
        .per_side(&x, &y)
        .note("update"));
    go!("PATCH", "/connectors/{A}/config", |r| r.body(
        &json!({"max.batch.size": null, "poll.interval.ms": "400"})
    ));
    go!("GET", "/connectors/{A}/config", |r| r.note("after PATCH"));
    p.wait_both(
        "A RUNNING",
        &format!("/connectors/{a}/status"),
        WAIT,
        running,
    );

    // Pause, resume, restarts.
    go!("PUT", "/connectors/{A}/pause");
    p.wait_both("A PAUSED", &format!("/connectors/{a}/status"), WAIT, paused);
    go!("GET", "/connectors/{A}/status", |r| r.note("paused"));
    go!("PUT", "/connectors/{A}/pause", |r| r.note("again"));
    go!("PUT", "/connectors/{A}/resume");
    p.wait_both(
        "A RUNNING",
        &format!("/connectors/{a}/status"),
        WAIT,
        running,
    );
    for q in [
        "",
        "?includeTasks=true",
        "?onlyFailed=true",
        "?includeTasks=true&onlyFailed=true",
        "?includeTasks=false&onlyFailed=false",
    ] {
        go!("POST", &format!("/connectors/{{A}}/restart{q}"));
        p.wait_both(
            "A RUNNING",
            &format!("/connectors/{a}/status"),
            WAIT,
            running,
        );
    }
    go!("POST", "/connectors/{A}/tasks/0/restart");
    p.wait_both(
        "A RUNNING",
        &format!("/connectors/{a}/status"),
        WAIT,
        running,
    );

    // Stop, then offsets.
    go!("PUT", "/connectors/{A}/stop");
    p.wait_both(
        "A STOPPED",
        &format!("/connectors/{a}/status"),
        WAIT,
        stopped,
    );
    go!("GET", "/connectors/{A}/status", |r| r.note("stopped"));
    go!("GET", "/connectors/{A}/tasks", |r| r.note("stopped"));
    let (_, _) = go!("GET", "/connectors/{A}/offsets", |r| r.note("stopped"));
    // Each side's own offset written back (per side: N2, N7).
    let offsets_of = |port: u16| -> Value {
        send(port, "GET", &format!("/connectors/{a}/offsets"), None, None)
            .unwrap()
            .json_or_null()
    };
    let (ox, oy) = (offsets_of(kc_port), offsets_of(sluice.port));
    go!("PATCH", "/connectors/{A}/offsets", |r| r
        .per_side(&ox, &oy)
        .note("stopped"));
    go!("PATCH", "/connectors/{A}/offsets", |r| r
        .body(&json!({"offsets": []}))
        .note("empty list"));
    go!("PATCH", "/connectors/{A}/offsets", |r| r
        .body(&json!({}))
        .note("no offsets"));
    go!("PATCH", "/connectors/{A}/offsets", |r| r
        .body(&json!({"offsets": "all"}))
        .note("offsets not a list"));
    go!("PATCH", "/connectors/{A}/offsets", |r| r
        .body(&json!({"offsets": [{"offset": {"pos": 4}}]}))
        .note("no partition"));
    go!("PATCH", "/connectors/{A}/offsets", |r| r
        .raw("{not json")
        .note("malformed JSON"));
    go!("DELETE", "/connectors/{A}/offsets", |r| r.note("stopped"));
    go!("GET", "/connectors/{A}/offsets", |r| r.note("after reset"));
    go!("POST", "/connectors/{A}/restart?includeTasks=true", |r| r
        .note("stopped"));
    p.wait_both(
        "A STOPPED",
        &format!("/connectors/{a}/status"),
        WAIT,
        stopped,
    );
    go!("PUT", "/connectors/{A}/resume", |r| r.note("stopped"));
    p.wait_both(
        "A RUNNING",
        &format!("/connectors/{a}/status"),
        WAIT,
        running,
    );
    // Last before the delete: Kafka Connect's standalone herder records a
    // FAILED status for a task id it does not have.
    go!("POST", "/connectors/{A}/tasks/7/restart");
    go!("DELETE", "/connectors/{A}");
    go!("GET", "/connectors/{A}", |r| r.note("deleted"));
    go!("DELETE", "/connectors/{A}", |r| r.note("deleted"));

    // ---------------------------------------------------------- PUT /config creates
    let (x, y) = conn_pair(&conn, "b");
    go!("PUT", "/connectors/{B}/config", |r| r
        .per_side(&x, &y)
        .note("create"));
    let (x, y) = with("b", &[("max.batch.size", json!("512"))]);
    go!("PUT", "/connectors/{B}/config", |r| r
        .per_side(&x, &y)
        .note("update"));
    let (x2, y2) = with("b", &[("name", json!("other"))]);
    go!("PUT", "/connectors/{B}/config", |r| r
        .per_side(&x2, &y2)
        .note("name mismatch"));
    go!("PUT", "/connectors/{B}/config", |r| r
        .per_side(&x, &y)
        .content_type(None));
    go!("PUT", "/connectors/{B}/config", |r| r
        .raw("[1, 2]")
        .note("not an object"));
    go!("DELETE", "/connectors/{B}");

    // ---------------------------------------------------------- initial_state
    let (x, y) = create("c", &c, &[("initial_state", json!("PAUSED"))]);
    go!("POST", "/connectors", |r| r
        .per_side(&x, &y)
        .note("initial_state PAUSED"));
    let (x, y) = create("d", &d, &[("initial_state", json!("STOPPED"))]);
    go!("POST", "/connectors", |r| r
        .per_side(&x, &y)
        .note("initial_state STOPPED"));
    let (x, y) = create("e", &e, &[("initial_state", json!("RUNNING"))]);
    go!("POST", "/connectors", |r| r
        .per_side(&x, &y)
        .note("initial_state RUNNING"));
    // Kafka Connect creates no tasks for a connector created PAUSED.
    p.wait_both("C PAUSED", &format!("/connectors/{c}/status"), WAIT, |v| {
        v["connector"]["state"] == "PAUSED"
    });
    p.wait_both(
        "D STOPPED",
        &format!("/connectors/{d}/status"),
        WAIT,
        stopped,
    );
    p.wait_both(
        "E RUNNING",
        &format!("/connectors/{e}/status"),
        WAIT,
        running,
    );
    go!("GET", "/connectors/{C}/status", |r| r
        .note("initial_state PAUSED"));
    go!("GET", "/connectors/{D}/status", |r| r
        .note("initial_state STOPPED"));
    go!("GET", "/connectors/{D}/tasks", |r| r
        .note("initial_state STOPPED"));
    go!("GET", "/connectors/{E}/status", |r| r
        .note("initial_state RUNNING"));
    go!("GET", "/connectors");
    for n in ["{C}", "{D}", "{E}"] {
        go!("DELETE", &format!("/connectors/{n}"));
    }

    // ---------------------------------------------------------- loggers
    go!("GET", "/admin/loggers");
    go!("GET", "/admin/loggers/root");
    go!("GET", "/admin/loggers/{L}", |r| r.note("never set"));
    go!("PUT", "/admin/loggers/{L}", |r| r
        .body(&json!({"level": "DEBUG"})));
    go!("GET", "/admin/loggers/{L}", |r| r.note("DEBUG"));
    go!("PUT", "/admin/loggers/{L}.child", |r| r
        .body(&json!({"level": "DEBUG"})));
    go!("PUT", "/admin/loggers/{L}", |r| r
        .body(&json!({"level": "WARN"}))
        .note("parent"));
    go!("PUT", "/admin/loggers/{L}", |r| r
        .body(&json!({"level": "WARN"}))
        .note("same level again"));
    go!("GET", "/admin/loggers");
    go!("PUT", "/admin/loggers/{L}", |r| r
        .body(&json!({"level": "LOUD"}))
        .note("bad level"));
    go!("PUT", "/admin/loggers/{L}", |r| r
        .body(&json!({}))
        .note("no level"));
    go!("PUT", "/admin/loggers/{L}?scope=cluster", |r| r
        .body(&json!({"level": "INFO"})));
    go!("GET", "/admin/loggers/{L}", |r| r
        .note("after cluster scope"));
    go!("DELETE", "/admin/loggers/{L}");

    // ---------------------------------------------------------- verdict
    let verdict = p.verdict(KNOWN);
    let report = match &verdict {
        Ok(r) | Err(r) => r.clone(),
    };
    let out = std::env::var("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir())
        .join("parity-rest-report.txt");
    let _ = std::fs::write(&out, &report);
    eprintln!("{report}\n(report written to {})", out.display());
    if let Err(r) = verdict {
        panic!("REST parity with Kafka Connect 4.4 failed:\n{r}");
    }
}

fn conn_pair(conn: &Conn, key: &str) -> (Value, Value) {
    (conn.config(Which::Kc, key), conn.config(Which::Sluice, key))
}
