//! The parity engine: the same connector JSON POSTed to the real Debezium
//! (Kafka Connect 4.4, `scripts/debezium up`) and to Sluice, both pointed
//! at the same MariaDB; every topic of each connector's prefix read back
//! with librdkafka and compared record by record (topic, partition, key,
//! value, headers), JSON schemas included.
//!
//! Normalised, because it differs by construction and nothing else:
//! - each connector's `topic.prefix` wherever it appears (topic names,
//!   schema names, `source.name`, heartbeat keys) becomes `<prefix>`;
//! - each connector's `database.server.id`, should it appear, becomes
//!   `<server.id>`;
//! - the processing-time fields at the top level of a change event's or a
//!   schema change event's value payload (`ts_ms`, `ts_us`, `ts_ns`), when
//!   numbers, become `<processing time>`;
//! - a snapshot record's `source.ts_ms`/`ts_us`/`ts_ns` (when it was read)
//!   become `<snapshot read time>`; a streamed record's (the binlog event's
//!   time) are compared;
//! - the `__debezium.context.runId` header (a new random id at each task
//!   start) becomes `<run id>`;
//! - heartbeat records: only the first few are compared (each side sends
//!   them on its own clock), their keys and value schemas exactly, their
//!   value payloads by field names and JSON types (every leaf becomes
//!   `<number>`, `<string>`, ...).
//!
//! Everything else that differs is a [`Diff`].

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{json, Value};

use crate::common::{self, http, kafka_bootstrap, PrivateMariaDb, Sluice, TempDir};

/// Debezium's connector class: its MySqlConnector 3.6.1 does not work
/// against MariaDB 10.11 (it sends MySQL 8.4's SHOW BINARY LOG STATUS).
pub const DEBEZIUM_CLASS: &str = "io.debezium.connector.mariadb.MariaDbConnector";

const ABSENT: &str = "‹absent›";

// ------------------------------------------------------------------ Debezium

/// The Debezium worker's REST port, after `scripts/debezium up` (once per
/// process). Panics with the way to start it by hand when that fails.
pub fn debezium_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/debezium");
        let out = Command::new(&script)
            .arg("up")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            panic!(
                "the Debezium worker (Kafka Connect 4.4 + Debezium) did not start: {} {stderr}\n\
                 The parity suite needs it: start it with `scripts/debezium up` \
                 (its log: `scripts/debezium logs`), after `scripts/services up kafka`.",
                out.status
            );
        }
        let url = stdout.lines().last().unwrap_or("").trim().to_string();
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("scripts/debezium up printed no URL: {stdout:?} {stderr}"));
        let r = http(port, "GET", "/connector-plugins", None).unwrap_or_else(|e| {
            panic!("the Debezium worker at {url} does not answer: {e}; run scripts/debezium up")
        });
        assert!(
            r.body.contains(DEBEZIUM_CLASS),
            "the Debezium worker at {url} has no {DEBEZIUM_CLASS}: {}",
            r.body
        );
        port
    })
}

/// One of the two Kafka Connect REST APIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Debezium,
    Sluice,
}

impl Side {
    pub fn tag(self) -> &'static str {
        match self {
            Side::Debezium => "dbz",
            Side::Sluice => "slc",
        }
    }
}

// ------------------------------------------------------------------ servers

/// Where the connectors read from.
pub enum Server<'a> {
    /// The shared MariaDB of `scripts/services` (binlog_row_metadata=FULL).
    Shared,
    /// A test's own server (its `cdc` account has the connector's grants).
    Private(&'a PrivateMariaDb),
}

impl Server<'_> {
    /// Runs SQL as root (utf8mb4 connection), comments kept (the client
    /// strips them by default; a `/* gh-ost */` must reach the binlog).
    pub fn sql(&self, sql: &str) -> String {
        let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
        let mut cmd = Command::new("mariadb");
        cmd.args([
            "--no-defaults",
            "--comments",
            "--default-character-set=utf8mb4",
            "-uroot",
            "-N",
            "-B",
        ]);
        match self {
            Server::Shared => {
                cmd.args(["-h", &env("SLUICE_MARIADB_HOST", "127.0.0.1")])
                    .args(["-P", &env("SLUICE_MARIADB_PORT", "3307")])
                    .arg(format!(
                        "-p{}",
                        env("SLUICE_MARIADB_ROOT_PASSWORD", "sluice")
                    ));
            }
            Server::Private(db) => {
                cmd.arg("--protocol=socket").arg(format!(
                    "--socket={}",
                    db.dir.path().join("mariadb.sock").display()
                ));
            }
        }
        let out = cmd
            .args(["-e", sql])
            .output()
            .expect("run the mariadb client (apt-get install mariadb-client)");
        assert!(
            out.status.success(),
            "SQL failed: {sql}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn connection(&self) -> Vec<(&'static str, String)> {
        let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
        let (host, port, user, pw) = match self {
            Server::Shared => (
                env("SLUICE_MARIADB_HOST", "127.0.0.1"),
                env("SLUICE_MARIADB_PORT", "3307"),
                env("SLUICE_MARIADB_USER", "sluice"),
                env("SLUICE_MARIADB_PASSWORD", "sluice"),
            ),
            Server::Private(db) => (
                "127.0.0.1".to_string(),
                db.port.to_string(),
                "cdc".to_string(),
                "cdc".to_string(),
            ),
        };
        vec![
            ("database.hostname", host),
            ("database.port", port),
            ("database.user", user),
            ("database.password", pw),
        ]
    }
}

// ------------------------------------------------------------------ scenarios

/// One connector pair: the scenario's config plus these keys.
#[derive(Clone, Debug)]
pub struct Variant {
    pub name: String,
    pub config: Vec<(String, String)>,
}

impl Variant {
    pub fn new(name: &str, config: &[(&str, &str)]) -> Variant {
        Variant {
            name: name.to_string(),
            config: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

/// A scenario: a fresh database with `setup` (run in it; `{db}` is its
/// name), one connector pair per variant, then `changes` (SQL batches, in
/// order) once every connector finished its snapshot. Every table of the
/// setup must hold at least one row: the snapshot's `last` record tells
/// the engine a connector streams.
pub struct Scenario<'a> {
    pub name: &'static str,
    pub server: Server<'a>,
    pub setup: String,
    pub changes: Vec<String>,
    /// Connector config common to all variants (`{db}` and `{prefix}`, the
    /// side's topic.prefix, are replaced).
    pub config: Vec<(String, String)>,
    pub variants: Vec<Variant>,
    /// Heartbeat topics: wait until each side has this many.
    pub heartbeats: usize,
}

impl<'a> Scenario<'a> {
    pub fn new(name: &'static str, server: Server<'a>) -> Scenario<'a> {
        Scenario {
            name,
            server,
            setup: String::new(),
            changes: Vec::new(),
            config: Vec::new(),
            variants: vec![Variant::new("default", &[])],
            heartbeats: 0,
        }
    }
}

/// One difference.
#[derive(Debug, Clone)]
pub struct Diff {
    pub scenario: String,
    pub topic: String,
    pub index: String,
    pub path: String,
    pub debezium: String,
    pub sluice: String,
}

impl Diff {
    pub fn is_schema(&self) -> bool {
        self.path.starts_with("key.schema") || self.path.starts_with("value.schema")
    }
}

/// The outcome of a scenario.
pub struct Outcome {
    pub diffs: Vec<Diff>,
    /// Records compared per scenario/variant and topic: (dbz, slc) counts.
    pub counts: Vec<(String, String, usize, usize)>,
    /// What was not a difference but must be seen (both refused, ...).
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

// ------------------------------------------------------------------ connectors

struct Connector {
    side: Side,
    port: u16,
    name: String,
    prefix: String,
    server_id: u64,
    variant: String,
}

impl Connector {
    fn status(&self) -> Option<Value> {
        let r = http(
            self.port,
            "GET",
            &format!("/connectors/{}/status", self.name),
            None,
        )
        .ok()?;
        (r.status == 200).then(|| r.json())
    }
}

/// DELETEs its connectors on both workers, then drops the scenario's
/// databases (`<db>` and `<db>_*`), when dropped (a failing test
/// included): a table Debezium cannot parse would otherwise fail every
/// later Debezium snapshot on the server (it parses all databases).
struct Cleanup<'a> {
    connectors: Vec<(u16, String)>,
    server: &'a Server<'a>,
    db: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for (port, name) in &self.connectors {
            let _ = http(*port, "DELETE", &format!("/connectors/{name}"), None);
        }
        let db = &self.db;
        let dbs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.server.sql(&format!(
                "SELECT schema_name FROM information_schema.schemata \
                 WHERE schema_name = '{db}' OR schema_name LIKE '{db}\\_%'"
            ))
        }))
        .unwrap_or_default();
        for d in dbs.lines().filter(|l| !l.is_empty()) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.server.sql(&format!("DROP DATABASE IF EXISTS `{d}`"))
            }));
        }
    }
}

fn server_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let base = 200_000_000 + (std::process::id() as u64 * 7919 + nanos / 1000) % 1_000_000_000;
    base + NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

fn short_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}{:08}", std::process::id() % 1000, nanos % 100_000_000)
}

/// POSTs a connector; on a refusal returns the worker's own words (for
/// Kafka Connect's HTTP 500, the validate endpoint's errors).
fn create(port: u16, body: &Value) -> Result<(), String> {
    let r = http(port, "POST", "/connectors", Some(&body.to_string()))
        .map_err(|e| format!("POST /connectors: {e}"))?;
    if r.status == 201 || r.status == 200 {
        return Ok(());
    }
    let class = body["config"]["connector.class"].as_str().unwrap_or("");
    let v = http(
        port,
        "PUT",
        &format!("/connector-plugins/{class}/config/validate"),
        Some(&body["config"].to_string()),
    )
    .map(|v| {
        let errors: Vec<String> = serde_json::from_str::<Value>(&v.body)
            .ok()
            .and_then(|j| j["configs"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .flat_map(|c| {
                let name = c["value"]["name"].as_str().unwrap_or("?").to_string();
                c["value"]["errors"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |e| format!("{name}: {}", e.as_str().unwrap_or("")))
            })
            .collect();
        errors.join("; ")
    })
    .unwrap_or_default();
    Err(format!(
        "HTTP {} {} (validate: {v})",
        r.status,
        r.body.trim()
    ))
}

// ------------------------------------------------------------------ reading

/// Reads every topic of one connector: `<prefix>`, `<prefix>.*` and
/// `__debezium-heartbeat.<prefix>`, discovering them as they appear.
struct Reader {
    consumer: BaseConsumer,
    prefix: String,
    next: BTreeMap<(String, i32), i64>,
    records: BTreeMap<(String, i32), Vec<common::Record>>,
    last_discovery: Option<Instant>,
    snapshot_done: bool,
}

fn heartbeat_topic(topic: &str) -> bool {
    topic.starts_with("__debezium-heartbeat.")
}

impl Reader {
    fn new(bootstrap: &str, prefix: &str) -> Reader {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", common::unique("parity-reader"))
            .set("enable.auto.commit", "false")
            .set("log_level", "3")
            .create()
            .expect("consumer");
        Reader {
            consumer,
            prefix: prefix.to_string(),
            next: BTreeMap::new(),
            records: BTreeMap::new(),
            last_discovery: None,
            snapshot_done: false,
        }
    }

    fn mine(&self, topic: &str) -> bool {
        topic == self.prefix
            || topic.starts_with(&format!("{}.", self.prefix))
            || topic == format!("__debezium-heartbeat.{}", self.prefix)
    }

    fn discover(&mut self) {
        if self
            .last_discovery
            .is_some_and(|t| t.elapsed() < Duration::from_millis(1000))
        {
            return;
        }
        self.last_discovery = Some(Instant::now());
        let Ok(md) = self.consumer.fetch_metadata(None, Duration::from_secs(5)) else {
            return;
        };
        let mut new = false;
        for t in md.topics() {
            if !self.mine(t.name()) {
                continue;
            }
            for p in t.partitions() {
                let k = (t.name().to_string(), p.id());
                if let std::collections::btree_map::Entry::Vacant(e) = self.next.entry(k) {
                    e.insert(-1);
                    new = true;
                }
            }
        }
        if new {
            let mut tpl = TopicPartitionList::new();
            for ((t, p), next) in &self.next {
                let off = if *next < 0 {
                    Offset::Beginning
                } else {
                    Offset::Offset(*next)
                };
                tpl.add_partition_offset(t, *p, off).unwrap();
            }
            self.consumer.assign(&tpl).expect("assign");
        }
    }

    /// Polls for up to `max`; returns how many new records arrived.
    fn drain(&mut self, max: Duration) -> usize {
        self.discover();
        let deadline = Instant::now() + max;
        let mut n = 0;
        while Instant::now() < deadline {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    let k = (m.topic().to_string(), m.partition());
                    let next = self.next.entry(k.clone()).or_insert(-1);
                    if m.offset() < *next {
                        continue;
                    }
                    *next = m.offset() + 1;
                    let r = common::Record::of(&m);
                    if !self.snapshot_done && !heartbeat_topic(&k.0) {
                        if let Some(v) = r
                            .value
                            .as_deref()
                            .and_then(|b| serde_json::from_slice(b).ok())
                        {
                            if payload_of(&v)["source"]["snapshot"] == "last" {
                                self.snapshot_done = true;
                            }
                        }
                    }
                    self.records.entry(k).or_default().push(r);
                    n += 1;
                }
                Some(Err(e)) => eprintln!("consumer error (retrying): {e}"),
                None => break,
            }
        }
        n
    }

    /// Records of non-heartbeat topics, and of heartbeat topics.
    fn counts(&self) -> (usize, usize) {
        let mut c = (0, 0);
        for ((t, _), rs) in &self.records {
            if heartbeat_topic(t) {
                c.1 += rs.len();
            } else {
                c.0 += rs.len();
            }
        }
        c
    }
}

/// A JSON-converter message's payload: `payload` of a `{schema, payload}`
/// envelope, else the message itself (schemas.enable=false).
pub fn payload_of(v: &Value) -> &Value {
    match v.as_object() {
        Some(o) if o.len() == 2 && o.contains_key("schema") && o.contains_key("payload") => {
            &v["payload"]
        }
        _ => v,
    }
}

fn payload_of_mut(v: &mut Value) -> &mut Value {
    let env = matches!(v.as_object(), Some(o) if o.len() == 2 && o.contains_key("schema") && o.contains_key("payload"));
    if env {
        &mut v["payload"]
    } else {
        v
    }
}

// ------------------------------------------------------------------ the run

struct Pair {
    variant: Variant,
    db: String,
    dbz: Connector,
    slc: Connector,
    dbz_reader: Reader,
    slc_reader: Reader,
    failed: bool,
}

/// Runs a scenario end to end and compares. Panics (with the connectors'
/// own words) when a connector cannot be created or fails.
pub fn run(sc: &Scenario) -> Outcome {
    let t0 = Instant::now();
    let dbz_port = debezium_port();
    let bootstrap = kafka_bootstrap();
    let id = short_id();
    let db = format!("par_{}_{id}", sc.name);
    sc.server.sql(&format!(
        "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db} CHARACTER SET utf8mb4; USE {db}; {}",
        sc.setup.replace("{db}", &db)
    ));
    let dir = TempDir::new("parity");
    let sluice = Sluice::start(
        dir.path(),
        &[
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
        ],
    );
    let mut cleanup = Cleanup {
        connectors: Vec::new(),
        server: &sc.server,
        db: db.clone(),
    };
    let mut diffs = Vec::new();
    let mut notes = Vec::new();
    let label_of = |variant: &str| {
        if sc.variants.len() == 1 && variant == "default" {
            sc.name.to_string()
        } else {
            format!("{}/{variant}", sc.name)
        }
    };
    let mut pairs = Vec::new();
    for (vi, variant) in sc.variants.iter().enumerate() {
        let mk = |side: Side| {
            let tag = side.tag();
            let prefix = format!("{tag}_{id}_{vi}");
            let name = format!("parity-{tag}-{}-{id}-{vi}", sc.name);
            let sid = server_id();
            let mut cfg = serde_json::Map::new();
            cfg.insert("connector.class".into(), json!(DEBEZIUM_CLASS));
            for (k, v) in sc.server.connection() {
                cfg.insert(k.into(), json!(v));
            }
            cfg.insert("database.server.id".into(), json!(sid.to_string()));
            cfg.insert("topic.prefix".into(), json!(prefix));
            cfg.insert("database.include.list".into(), json!(db));
            cfg.insert(
                "schema.history.internal.kafka.bootstrap.servers".into(),
                json!(bootstrap),
            );
            cfg.insert(
                "schema.history.internal.kafka.topic".into(),
                json!(format!("schemahistory-{prefix}")),
            );
            cfg.insert("tasks.max".into(), json!("1"));
            for (k, v) in sc.config.iter().chain(variant.config.iter()) {
                cfg.insert(
                    k.clone(),
                    json!(v.replace("{db}", &db).replace("{prefix}", &prefix)),
                );
            }
            let port = match side {
                Side::Debezium => dbz_port,
                Side::Sluice => sluice.port,
            };
            (
                Connector {
                    side,
                    port,
                    name: name.clone(),
                    prefix,
                    server_id: sid,
                    variant: variant.name.clone(),
                },
                json!({"name": name, "config": Value::Object(cfg)}),
            )
        };
        let (dbz, dbz_body) = mk(Side::Debezium);
        let (slc, slc_body) = mk(Side::Sluice);
        let r1 = create(dbz.port, &dbz_body);
        if r1.is_ok() {
            cleanup.connectors.push((dbz.port, dbz.name.clone()));
        }
        let r2 = create(slc.port, &slc_body);
        if r2.is_ok() {
            cleanup.connectors.push((slc.port, slc.name.clone()));
        }
        let label = label_of(&variant.name);
        match (r1, r2) {
            (Ok(()), Ok(())) => {}
            (Err(a), Err(b)) => {
                notes.push(format!(
                    "{label}: both refused the config (parity).\n  Debezium: {a}\n  Sluice:   {b}"
                ));
                continue;
            }
            (a, b) => {
                let show = |r: Result<(), String>| match r {
                    Ok(()) => "accepted".to_string(),
                    Err(e) => format!("refused: {e}"),
                };
                diffs.push(Diff {
                    scenario: label,
                    topic: "-".into(),
                    index: "-".into(),
                    path: "<connector config accepted>".into(),
                    debezium: show(a),
                    sluice: show(b),
                });
                for c in [&dbz, &slc] {
                    let _ = http(c.port, "DELETE", &format!("/connectors/{}", c.name), None);
                }
                continue;
            }
        }
        pairs.push(Pair {
            variant: variant.clone(),
            db: db.clone(),
            dbz_reader: Reader::new(&bootstrap, &dbz.prefix),
            slc_reader: Reader::new(&bootstrap, &slc.prefix),
            dbz,
            slc,
            failed: false,
        });
    }

    // A FAILED task ends its pair: a difference when only one side
    // failed, a note (and still a difference: nothing was compared) when
    // both did.
    let check_failed = |pairs: &mut [Pair], diffs: &mut Vec<Diff>| {
        for p in pairs.iter_mut().filter(|p| !p.failed) {
            let state = |c: &Connector| -> (bool, String) {
                match c.status() {
                    Some(s) => {
                        let failed_task = s["tasks"]
                            .as_array()
                            .and_then(|t| t.iter().find(|t| t["state"] == "FAILED").cloned());
                        if s["connector"]["state"] == "FAILED" {
                            (
                                true,
                                format!(
                                    "connector FAILED: {}",
                                    trace_head(&s["connector"]["trace"])
                                ),
                            )
                        } else if let Some(t) = failed_task {
                            (true, format!("task FAILED: {}", trace_head(&t["trace"])))
                        } else {
                            (
                                false,
                                s["tasks"][0]["state"]
                                    .as_str()
                                    .unwrap_or("no task")
                                    .to_string(),
                            )
                        }
                    }
                    None => (false, "no status".into()),
                }
            };
            let (df, ds) = state(&p.dbz);
            let (sf, ss) = state(&p.slc);
            if df || sf {
                p.failed = true;
                diffs.push(Diff {
                    scenario: label_of(&p.variant.name),
                    topic: "-".into(),
                    index: "-".into(),
                    path: "<task failed>".into(),
                    debezium: ds,
                    sluice: ss,
                });
                for c in [&p.dbz, &p.slc] {
                    let _ = http(c.port, "DELETE", &format!("/connectors/{}", c.name), None);
                }
            }
        }
    };
    // RUNNING, then every snapshot's `last` record on both sides.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        check_failed(&mut pairs, &mut diffs);
        let running = pairs.iter().filter(|p| !p.failed).all(|p| {
            [&p.dbz, &p.slc].iter().all(|c| {
                c.status().is_some_and(|s| {
                    s["connector"]["state"] == "RUNNING"
                        && s["tasks"].as_array().is_some_and(|t| {
                            !t.is_empty() && t.iter().all(|t| t["state"] == "RUNNING")
                        })
                })
            })
        });
        for p in pairs.iter_mut().filter(|p| !p.failed) {
            p.dbz_reader.drain(Duration::from_millis(300));
            p.slc_reader.drain(Duration::from_millis(300));
        }
        if running
            && pairs
                .iter()
                .filter(|p| !p.failed)
                .all(|p| p.dbz_reader.snapshot_done && p.slc_reader.snapshot_done)
        {
            break;
        }
        if Instant::now() > deadline {
            let st: Vec<String> = pairs
                .iter()
                .map(|p| {
                    format!(
                        "{}: debezium snapshot done {} status {:?}; sluice snapshot done {} status {:?}",
                        p.variant.name,
                        p.dbz_reader.snapshot_done,
                        p.dbz.status(),
                        p.slc_reader.snapshot_done,
                        p.slc.status()
                    )
                })
                .collect();
            panic!(
                "scenario {}: no snapshot `last` record on every side within 180 s:\n{}",
                sc.name,
                st.join("\n")
            );
        }
    }
    let t_snap = t0.elapsed();

    for sql in &sc.changes {
        sc.server
            .sql(&format!("USE {db}; {}", sql.replace("{db}", &db)));
    }

    // Until both sides have as many records and stay there 5 s (or stop
    // moving for 20 s with different counts), heartbeats aside; then, for
    // a heartbeat scenario, until each side has that many heartbeats (at
    // most 60 s more).
    let t_changes = Instant::now();
    let deadline = t_changes + Duration::from_secs(150);
    let mut last_change = Instant::now();
    let mut last_counts: Vec<(usize, usize)> = Vec::new();
    loop {
        for p in pairs.iter_mut().filter(|p| !p.failed) {
            p.dbz_reader.drain(Duration::from_millis(300));
            p.slc_reader.drain(Duration::from_millis(300));
        }
        let counts: Vec<(usize, usize)> = pairs
            .iter()
            .filter(|p| !p.failed)
            .map(|p| (p.dbz_reader.counts().0, p.slc_reader.counts().0))
            .collect();
        if counts != last_counts {
            last_counts = counts.clone();
            last_change = Instant::now();
        }
        let hb_ok = pairs.iter().filter(|p| !p.failed).all(|p| {
            p.dbz_reader.counts().1 >= sc.heartbeats && p.slc_reader.counts().1 >= sc.heartbeats
        }) || t_changes.elapsed() > Duration::from_secs(60);
        let equal = counts.iter().all(|(a, b)| a == b);
        let quiet = last_change.elapsed();
        if hb_ok && equal && quiet > Duration::from_secs(5) {
            break;
        }
        if hb_ok && quiet > Duration::from_secs(20) {
            break;
        }
        check_failed(&mut pairs, &mut diffs);
        if Instant::now() > deadline {
            notes.push(format!(
                "records still not settled after 150 s ({counts:?}, heartbeats ok: {hb_ok}); compared what arrived"
            ));
            break;
        }
    }

    let mut counts = Vec::new();
    for p in pairs.iter().filter(|p| !p.failed) {
        compare(&label_of(&p.variant.name), p, &mut diffs, &mut counts);
    }
    drop(cleanup);
    let elapsed = t0.elapsed();
    eprintln!(
        "scenario {}: snapshot phase {:.1}s, total {:.1}s",
        sc.name,
        t_snap.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    for n in &notes {
        eprintln!("scenario {}: NOTE {n}", sc.name);
    }
    drop(sluice);
    Outcome {
        diffs,
        counts,
        notes,
        elapsed,
    }
}

/// The first line of a Java (or Sluice) trace, its causes and a parser's
/// complaint, on one line.
fn trace_head(t: &Value) -> String {
    let t = t.as_str().unwrap_or("");
    let mut parts: Vec<String> = vec![t.lines().next().unwrap_or("").trim().to_string()];
    for l in t.lines() {
        let l = l.trim();
        if l.starts_with("Caused by:") || l.starts_with("no viable alternative") {
            let mut l: String = l.chars().take(300).collect();
            l = l.replace('\n', " ");
            if !parts.contains(&l) {
                parts.push(l);
            }
        }
    }
    parts.join(" … ")
}

// ------------------------------------------------------------------ comparing

/// Replaces the connector's own prefix and server id wherever they occur,
/// and the scenario's database name (the same on both sides; replaced for
/// readable, stable paths).
fn normalise_ids(v: &mut Value, n: &Names) {
    match v {
        Value::String(s) => {
            if s.contains(n.prefix.as_str()) {
                *s = s.replace(n.prefix.as_str(), "<prefix>");
            }
            if s.contains(n.db.as_str()) {
                *s = s.replace(n.db.as_str(), "<db>");
            }
            if *s == n.server_id.to_string() {
                *s = "<server.id>".into();
            }
        }
        Value::Number(x) if x.as_u64() == Some(n.server_id) => {
            *v = json!("<server.id>");
        }
        Value::Array(a) => a.iter_mut().for_each(|x| normalise_ids(x, n)),
        Value::Object(o) => {
            let keys: Vec<String> = o.keys().cloned().collect();
            for k in keys {
                normalise_ids(o.get_mut(&k).unwrap(), n);
            }
        }
        _ => {}
    }
}

/// What one side's records are normalised by.
struct Names {
    prefix: String,
    server_id: u64,
    db: String,
}

fn normalise_str(s: &str, n: &Names) -> String {
    s.replace(n.prefix.as_str(), "<prefix>")
        .replace(n.db.as_str(), "<db>")
}

fn leaf_types(v: &mut Value) {
    match v {
        Value::Object(o) => o.values_mut().for_each(leaf_types),
        Value::Array(a) => a.iter_mut().for_each(leaf_types),
        Value::Null => {}
        Value::Bool(_) => *v = json!("<bool>"),
        Value::Number(_) => *v = json!("<number>"),
        Value::String(_) => *v = json!("<string>"),
    }
}

/// A message as JSON, normalised; non-JSON bytes as a string of hex.
fn decode(bytes: &Option<Vec<u8>>, names: &Names) -> Value {
    match bytes {
        None => Value::Null,
        Some(b) => {
            let mut v = serde_json::from_slice::<Value>(b).unwrap_or_else(|_| {
                json!(format!(
                    "<not JSON: {}>",
                    b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                ))
            });
            normalise_ids(&mut v, names);
            v
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s == ABSENT => s.clone(),
        _ => v.to_string(),
    }
}

/// Compares `a` (Debezium) with `b` (Sluice); pushes (path, a, b).
/// Arrays whose elements are all objects labelled by one of `field`,
/// `name`, `id`, `data_collection` (unique) are matched by label, so one
/// missing schema field is one difference, not a cascade.
pub fn diff_json(path: &str, a: &Value, b: &Value, out: &mut Vec<(String, String, String)>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(vb) => diff_json(&p, va, vb, out),
                    None => out.push((p, show(va), ABSENT.into())),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push((format!("{path}.{k}"), ABSENT.into(), show(vb)));
                }
            }
            let ka: Vec<&String> = x.keys().filter(|k| y.contains_key(*k)).collect();
            let kb: Vec<&String> = y.keys().filter(|k| x.contains_key(*k)).collect();
            if ka != kb {
                out.push((
                    format!("{path}.<key order>"),
                    format!("{ka:?}"),
                    format!("{kb:?}"),
                ));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if let (Some(la), Some(lb)) = (labels(x), labels(y)) {
                if la.0 == lb.0 {
                    let key = la.0;
                    for (i, l) in la.1.iter().enumerate() {
                        let p = format!("{path}[{l}]");
                        match lb.1.iter().position(|m| m == l) {
                            Some(j) => diff_json(&p, &x[i], &y[j], out),
                            None => out.push((p, show(&x[i]), ABSENT.into())),
                        }
                    }
                    for (j, l) in lb.1.iter().enumerate() {
                        if !la.1.contains(l) {
                            out.push((format!("{path}[{l}]"), ABSENT.into(), show(&y[j])));
                        }
                    }
                    let oa: Vec<&String> = la.1.iter().filter(|l| lb.1.contains(l)).collect();
                    let ob: Vec<&String> = lb.1.iter().filter(|l| la.1.contains(l)).collect();
                    if oa != ob {
                        out.push((
                            format!("{path}.<{key} order>"),
                            format!("{oa:?}"),
                            format!("{ob:?}"),
                        ));
                    }
                    return;
                }
            }
            for i in 0..x.len().max(y.len()) {
                let p = format!("{path}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => diff_json(&p, va, vb, out),
                    (Some(va), None) => out.push((p, show(va), ABSENT.into())),
                    (None, Some(vb)) => out.push((p, ABSENT.into(), show(vb))),
                    (None, None) => {}
                }
            }
        }
        _ => {
            if a != b {
                out.push((path.to_string(), show(a), show(b)));
            }
        }
    }
}

fn labels(a: &[Value]) -> Option<(&'static str, Vec<String>)> {
    if a.is_empty() {
        return None;
    }
    for key in ["field", "name", "id", "data_collection"] {
        let ls: Option<Vec<String>> = a
            .iter()
            .map(|e| e.get(key).and_then(Value::as_str).map(str::to_string))
            .collect();
        if let Some(ls) = ls {
            let mut u = ls.clone();
            u.sort();
            u.dedup();
            if u.len() == ls.len() {
                return Some((key, ls));
            }
        }
    }
    None
}

/// What makes two records "the same event" for alignment: the key, and
/// the op (change events), the tables and change types (schema change
/// events; the DDL when there are none), the status and id (transaction
/// events), or a tombstone.
fn identity(key: &Value, value: &Value) -> String {
    let p = payload_of(value);
    let mut s = payload_of(key).to_string();
    if value.is_null() {
        s.push_str("|tombstone");
    } else if let Some(op) = p.get("op") {
        let _ = write!(s, "|op={op}");
    } else if let Some(g) = p.get("ddl").and(p["source"]["gtid"].as_str()) {
        // A streamed DDL statement: its transaction.
        let _ = write!(s, "|gtid={g}");
    } else if p.get("ddl").is_some() {
        let tc: Vec<String> = p["tableChanges"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| format!("{}:{}", t["type"], t["id"]))
                    .collect()
            })
            .unwrap_or_default();
        if tc.is_empty() {
            let _ = write!(s, "|ddl={}", p["ddl"]);
        } else {
            let _ = write!(s, "|{}", tc.join(","));
        }
    } else if let Some(st) = p.get("status") {
        let _ = write!(s, "|{st}|{}", p["id"]);
    }
    s
}

/// A longest common subsequence of two identity lists: the matched index
/// pairs, in order.
fn align(a: &[String], b: &[String]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    let mut t = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[at(i, j)] = if a[i] == b[j] {
                t[at(i + 1, j + 1)] + 1
            } else {
                t[at(i + 1, j)].max(t[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if a[i] == b[j] {
            out.push((i, j));
            i += 1;
            j += 1;
        } else if t[at(i + 1, j)] >= t[at(i, j + 1)] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Between two aligned records, pairs the unaligned change events of both
/// sides that have the same op (tombstones with tombstones), in order: a
/// record whose key differs is then one difference, not two lone records.
fn pair_gaps(m: Vec<(usize, usize)>, a: &[Decoded], b: &[Decoded]) -> Vec<(usize, usize)> {
    let kind = |d: &Decoded| -> Option<String> {
        if d.value.is_null() {
            return Some("tombstone".into());
        }
        payload_of(&d.value).get("op").map(|op| op.to_string())
    };
    let mut out = Vec::new();
    let mut bounds = m.clone();
    bounds.push((a.len(), b.len()));
    let (mut i0, mut j0) = (0, 0);
    for (i1, j1) in bounds {
        let mut js: Vec<usize> = (j0..j1).collect();
        for (i, ai) in a.iter().enumerate().take(i1).skip(i0) {
            if let Some(ka) = kind(ai) {
                if let Some(pos) = js.iter().position(|&j| kind(&b[j]).as_ref() == Some(&ka)) {
                    let j = js[pos];
                    // Keep the order: b's records before j cannot pair any more.
                    js.drain(..=pos);
                    out.push((i, j));
                }
            }
        }
        if i1 < a.len() && j1 < b.len() {
            out.push((i1, j1));
        }
        (i0, j0) = (i1 + 1, j1 + 1);
    }
    out
}

struct Decoded {
    key: Value,
    value: Value,
    headers: Vec<(String, Option<String>)>,
    offset: i64,
}

fn decode_all(rs: &[common::Record], topic: &str, names: &Names) -> Vec<Decoded> {
    let heartbeat = heartbeat_topic(topic);
    rs.iter()
        .map(|r| {
            let key = decode(&r.key, names);
            let mut value = decode(&r.value, names);
            if heartbeat {
                leaf_types(payload_of_mut(&mut value));
            } else if !topic.ends_with(".transaction") {
                let pl = payload_of_mut(&mut value);
                for f in ["ts_ms", "ts_us", "ts_ns"] {
                    if pl.get(f).is_some_and(Value::is_number) {
                        pl[f] = json!("<processing time>");
                    }
                }
            }
            if !heartbeat {
                // A snapshot record's source time is when it was read.
                // (get_mut: indexing would turn a tombstone's null into an object.)
                if let Some(src) = payload_of_mut(&mut value).get_mut("source") {
                    if src.get("snapshot").is_some_and(|m| m != "false") {
                        for f in ["ts_ms", "ts_us", "ts_ns"] {
                            if src.get(f).is_some_and(Value::is_number) {
                                src[f] = json!("<snapshot read time>");
                            }
                        }
                    }
                }
            }
            let headers = r
                .headers
                .iter()
                .map(|(k, v)| {
                    // A new random id at each task start.
                    let v = if k == "__debezium.context.runId" {
                        v.as_ref().map(|_| "<run id>".to_string())
                    } else {
                        v.as_ref()
                            .map(|v| normalise_str(&String::from_utf8_lossy(v), names))
                    };
                    (k.clone(), v)
                })
                .collect();
            Decoded {
                key,
                value,
                headers,
                offset: r.offset,
            }
        })
        .collect()
}

fn summary_of(d: &Decoded) -> String {
    let p = payload_of(&d.value);
    let mut s = format!("key={}", show(payload_of(&d.key)));
    if let Some(op) = p.get("op") {
        let _ = write!(s, " op={op}");
        for img in ["before", "after"] {
            if !p[img].is_null() {
                let mut c = show(&p[img]);
                c.truncate(120);
                let _ = write!(s, " {img}={c}");
            }
        }
    } else if let Some(ddl) = p.get("ddl") {
        let mut c = show(ddl);
        c.truncate(150);
        let _ = write!(s, " ddl={c}");
    } else if d.value.is_null() {
        s.push_str(" value=null");
    } else {
        let mut c = show(p);
        c.truncate(300);
        let _ = write!(s, " value={c}");
    }
    s
}

/// For a transaction boundary only one side has: its status. For a schema
/// change event: whose database it is about, and the statement's leading
/// keywords (`DROP TABLE IF EXISTS`,
/// `ALTER TABLE T ADD`, ...), so that a known difference can name the
/// statements it explains and no others.
fn qualifier(d: &Decoded) -> String {
    let p = payload_of(&d.value);
    if let (Some(status), Some(_)) = (p.get("status").and_then(Value::as_str), p.get("id")) {
        return format!(" (transaction {status})");
    }
    if let (Some(agg), Some(kind)) = (
        p.get("aggregate_type").and_then(Value::as_str),
        p.get("type").and_then(Value::as_str),
    ) {
        return format!(" (notification, {agg} {kind})");
    }
    let whose = match p.get("databaseName").and_then(Value::as_str) {
        Some("<db>") => "captured database",
        Some("") => "no database",
        Some(_) => "another database",
        None => return String::new(),
    };
    let kind: Vec<String> = p
        .get("ddl")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    format!(" (schema change, {whose}: {})", kind.join(" "))
}

/// Headers by name (`headers.<name>`), then their order.
fn diff_headers(
    a: &[(String, Option<String>)],
    b: &[(String, Option<String>)],
    out: &mut Vec<(String, String, String)>,
) {
    let label = |h: &[(String, Option<String>)]| -> Vec<(String, Option<String>)> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        h.iter()
            .map(|(k, v)| {
                let n = seen.entry(k.as_str()).or_default();
                *n += 1;
                let k = if *n > 1 {
                    format!("{k}#{n}")
                } else {
                    k.clone()
                };
                (k, v.clone())
            })
            .collect()
    };
    let (la, lb) = (label(a), label(b));
    let val = |v: &Option<String>| v.as_ref().map_or("null".to_string(), |v| format!("{v:?}"));
    for (k, v) in &la {
        match lb.iter().find(|(k2, _)| k2 == k) {
            Some((_, v2)) if v2 == v => {}
            Some((_, v2)) => out.push((format!("headers.{k}"), val(v), val(v2))),
            None => out.push((format!("headers.{k}"), val(v), ABSENT.into())),
        }
    }
    for (k, v) in &lb {
        if !la.iter().any(|(k2, _)| k2 == k) {
            out.push((format!("headers.{k}"), ABSENT.into(), val(v)));
        }
    }
    let oa: Vec<&String> = la
        .iter()
        .map(|x| &x.0)
        .filter(|k| lb.iter().any(|y| &y.0 == *k))
        .collect();
    let ob: Vec<&String> = lb
        .iter()
        .map(|x| &x.0)
        .filter(|k| la.iter().any(|y| &y.0 == *k))
        .collect();
    if oa != ob {
        out.push((
            "headers.<order>".into(),
            format!("{oa:?}"),
            format!("{ob:?}"),
        ));
    }
}

/// Writes both sides' records (normalised) for reading by hand:
/// /tmp/parity-records/<label>.<side>.jsonl.
fn dump(label: &str, side: &str, topic: &str, part: i32, rs: &[Decoded]) {
    use std::io::Write;
    let dir = std::path::Path::new("/tmp/parity-records");
    let _ = std::fs::create_dir_all(dir);
    let file = dir.join(format!("{}.{side}.jsonl", label.replace('/', "_")));
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)
    {
        for r in rs {
            let line = json!({"topic": topic, "partition": part, "offset": r.offset,
                              "headers": format!("{:?}", r.headers), "key": r.key, "value": r.value});
            let _ = writeln!(f, "{line}");
        }
    }
}

fn compare(
    label: &str,
    p: &Pair,
    diffs: &mut Vec<Diff>,
    counts: &mut Vec<(String, String, usize, usize)>,
) {
    let dn = Names {
        prefix: p.dbz.prefix.clone(),
        server_id: p.dbz.server_id,
        db: p.db.clone(),
    };
    let sn = Names {
        prefix: p.slc.prefix.clone(),
        server_id: p.slc.server_id,
        db: p.db.clone(),
    };
    for side in ["dbz", "slc"] {
        let _ = std::fs::remove_file(format!(
            "/tmp/parity-records/{}.{side}.jsonl",
            label.replace('/', "_")
        ));
    }
    let mut parts: BTreeMap<(String, i32), (Vec<Decoded>, Vec<Decoded>)> = BTreeMap::new();
    for ((t, part), rs) in &p.dbz_reader.records {
        let nt = normalise_str(t, &dn);
        let e = parts.entry((nt.clone(), *part)).or_default();
        e.0 = decode_all(rs, &nt, &dn);
    }
    for ((t, part), rs) in &p.slc_reader.records {
        let nt = normalise_str(t, &sn);
        let e = parts.entry((nt.clone(), *part)).or_default();
        e.1 = decode_all(rs, &nt, &sn);
    }
    let mut push = |topic: &str, index: String, path: String, d: String, s: String| {
        diffs.push(Diff {
            scenario: label.to_string(),
            topic: topic.to_string(),
            index,
            path,
            debezium: d,
            sluice: s,
        })
    };
    for ((topic, part), (dr, sr)) in &parts {
        dump(label, "dbz", topic, *part, dr);
        dump(label, "slc", topic, *part, sr);
        let heartbeat = heartbeat_topic(topic);
        let t = if *part == 0 {
            topic.clone()
        } else {
            format!("{topic}/p{part}")
        };
        counts.push((label.into(), t.clone(), dr.len(), sr.len()));
        if dr.is_empty() || sr.is_empty() {
            let n = |v: &Vec<Decoded>| {
                if v.is_empty() {
                    ABSENT.to_string()
                } else {
                    format!("{} records", v.len())
                }
            };
            push(&t, "-".into(), "<topic>".into(), n(dr), n(sr));
            continue;
        }
        let pairs: Vec<(usize, usize)> = if heartbeat {
            // Each side beats on its own clock: the first few, by index.
            (0..dr.len().min(sr.len()).min(3)).map(|i| (i, i)).collect()
        } else {
            if dr.len() != sr.len() {
                push(
                    &t,
                    "-".into(),
                    "<record count>".into(),
                    dr.len().to_string(),
                    sr.len().to_string(),
                );
            }
            let ia: Vec<String> = dr.iter().map(|r| identity(&r.key, &r.value)).collect();
            let ib: Vec<String> = sr.iter().map(|r| identity(&r.key, &r.value)).collect();
            let m = pair_gaps(align(&ia, &ib), dr, sr);
            let (ma, mb): (Vec<usize>, Vec<usize>) = m.iter().copied().unzip();
            for (i, r) in dr.iter().enumerate().filter(|(i, _)| !ma.contains(i)) {
                push(
                    &t,
                    format!("dbz#{i}"),
                    format!("<record only in debezium>{}", qualifier(r)),
                    summary_of(r),
                    ABSENT.into(),
                );
            }
            for (j, r) in sr.iter().enumerate().filter(|(j, _)| !mb.contains(j)) {
                push(
                    &t,
                    format!("slc#{j}"),
                    format!("<record only in sluice>{}", qualifier(r)),
                    ABSENT.into(),
                    summary_of(r),
                );
            }
            m
        };
        for (i, j) in pairs {
            let (a, b) = (&dr[i], &sr[j]);
            let mut out = Vec::new();
            diff_json("key", &a.key, &b.key, &mut out);
            diff_json("value", &a.value, &b.value, &mut out);
            diff_headers(&a.headers, &b.headers, &mut out);
            let idx = if i == j {
                format!("#{i}")
            } else {
                format!("dbz#{i}/slc#{j}")
            };
            for (path, x, y) in out {
                push(&t, idx.clone(), path, x, y);
            }
        }
    }
}

// ------------------------------------------------------------------ reporting

/// A path for grouping: a schema change's tables and columns by `*` (the
/// raw list keeps them).
pub fn generalise(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('[') {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let end = tail.find(']').map_or(tail.len(), |e| e + 1);
        if head.ends_with("tableChanges") || head.ends_with(".columns") {
            out.push_str("[*]");
        } else {
            out.push_str(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Groups differences by scenario, then schema/payload, then path: count
/// and the first example.
pub fn summary(diffs: &[Diff]) -> String {
    let mut groups: BTreeMap<(String, bool, String), (usize, &Diff)> = BTreeMap::new();
    for d in diffs {
        let e = groups
            .entry((d.scenario.clone(), !d.is_schema(), generalise(&d.path)))
            .or_insert((0, d));
        e.0 += 1;
    }
    let mut s = String::new();
    let mut cur: Option<(String, bool)> = None;
    for ((sc, payload, path), (n, d)) in &groups {
        if cur.as_ref() != Some(&(sc.clone(), *payload)) {
            let _ = writeln!(
                s,
                "== {sc}: {} differences",
                if *payload { "payload/record" } else { "schema" }
            );
            cur = Some((sc.clone(), *payload));
        }
        let cut = |x: &str| {
            if x.chars().count() > 160 {
                format!("{}…", x.chars().take(160).collect::<String>())
            } else {
                x.to_string()
            }
        };
        let _ = writeln!(
            s,
            "  {path}: {} vs {} ({n} records; e.g. {} {})",
            cut(&d.debezium),
            cut(&d.sluice),
            d.topic,
            d.index
        );
    }
    s
}

/// Appends every difference, one per line, to /tmp/parity-diffs.txt (the
/// file is emptied on the first write of a test process).
pub fn save_raw(scenario: &str, outcome: &Outcome) {
    let (diffs, outcome_counts) = (&outcome.diffs, &outcome.counts);
    static FIRST: OnceLock<()> = OnceLock::new();
    let path = "/tmp/parity-diffs.txt";
    let mut text = String::new();
    FIRST.get_or_init(|| {
        let _ = std::fs::write(path, "");
    });
    let _ = writeln!(
        text,
        "##### scenario {scenario}: {} differences",
        diffs.len()
    );
    let _ = writeln!(text, "# took {:.1}s", outcome.elapsed.as_secs_f64());
    for (l, t, a, b) in outcome_counts {
        let _ = writeln!(text, "# records {l} {t}: debezium {a}, sluice {b}");
    }
    for n in &outcome.notes {
        let _ = writeln!(text, "# NOTE {n}");
    }
    for d in diffs {
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}\tdebezium={}\tsluice={}",
            d.scenario, d.topic, d.index, d.path, d.debezium, d.sluice
        );
    }
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

// ------------------------------------------------------------------ known differences

/// An explained difference: the scenario (`*` any, or a prefix ending in
/// `*`) and JSON path patterns (`*` matches any run of characters).
pub struct Known {
    pub name: &'static str,
    pub scenario: &'static str,
    pub path: &'static str,
    pub reason: &'static str,
    /// Seen only when timing allows (which of two DDLs Sluice reads a
    /// definition after): not stale when a run does not show it.
    pub timing: bool,
}

pub fn glob(pat: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(pat.as_bytes(), s.as_bytes())
}

/// Fails on a difference the table does not explain, and on an entry for
/// this scenario that explained nothing (no stale entries).
pub fn judge(scenario: &str, outcome: &Outcome, known: &[Known]) {
    if let Err(e) = verdict(scenario, outcome, known) {
        panic!("{e}");
    }
}

/// [`judge`]'s verdict, as a value (prints and saves the same).
pub fn verdict(scenario: &str, outcome: &Outcome, known: &[Known]) -> Result<(), String> {
    let mut unexplained = Vec::new();
    let mut used: HashMap<&str, usize> = HashMap::new();
    for d in &outcome.diffs {
        match known
            .iter()
            .find(|k| glob(k.scenario, &d.scenario) && glob(k.path, &d.path))
        {
            Some(k) => *used.entry(k.name).or_default() += 1,
            None => unexplained.push(d.clone()),
        }
    }
    // The labels this run produced (a scenario, or scenario/variant).
    let mut labels: Vec<&str> = outcome.counts.iter().map(|c| c.0.as_str()).collect();
    labels.extend(outcome.diffs.iter().map(|d| d.scenario.as_str()));
    labels.push(scenario);
    // Stale: an entry naming this scenario that explained nothing. An entry
    // for every scenario (`*`) is not judged per scenario: some scenarios
    // cannot show it (Debezium fails at once in types_inet; a server with
    // no other database gives no other database's DDL).
    let stale: Vec<&str> = known
        .iter()
        .filter(|k| k.scenario != "*" && !k.timing)
        .filter(|k| labels.iter().any(|l| glob(k.scenario, l)))
        .filter(|k| !used.contains_key(k.name))
        .map(|k| k.name)
        .collect();
    save_raw(scenario, outcome);
    let mut msg = String::new();
    for (l, t, a, b) in &outcome.counts {
        let _ = writeln!(msg, "records {l} {t}: debezium {a}, sluice {b}");
    }
    eprintln!("{msg}");
    if !outcome.diffs.is_empty() {
        eprintln!(
            "scenario {scenario}: {} differences ({} explained by the known-differences table)\n{}",
            outcome.diffs.len(),
            outcome.diffs.len() - unexplained.len(),
            summary(&outcome.diffs)
        );
    }
    if !unexplained.is_empty() || !stale.is_empty() {
        return Err(format!(
            "scenario {scenario}: {} unexplained differences (full list in /tmp/parity-diffs.txt){}\n{}",
            unexplained.len(),
            if stale.is_empty() {
                String::new()
            } else {
                format!("; known-difference entries that matched nothing (stale): {stale:?}")
            },
            if unexplained.len() == outcome.diffs.len() {
                "(all of the differences listed above)".to_string()
            } else {
                summary(&unexplained)
            }
        ));
    }
    Ok(())
}
