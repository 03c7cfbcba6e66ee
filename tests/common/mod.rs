//! Shared harness for integration tests: a real `sluice` process, a tiny
//! HTTP client for its REST API, and a real Kafka client to read topics.
//!
//! Services come from `scripts/services up`; a missing service fails the
//! test with the command that starts it (never a silent skip).

#![allow(dead_code)]

pub mod secure_kafka;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers as _;
use rdkafka::Message;
use serde_json::Value;

/// The package directory at run time (cargo sets CARGO_MANIFEST_DIR when it
/// runs tests). Not `env!`: a build cache shared with another checkout (CI's)
/// may hold a test binary whose compile-time path no longer exists.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
}

/// The low and high watermarks of one partition, from the broker.
pub fn watermarks(bootstrap: &str, topic: &str, partition: i32) -> (i64, i64) {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("consumer");
    c.fetch_watermarks(topic, partition, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("watermarks of {topic}/{partition}: {e}"))
}

/// The broker address, checked to answer.
pub fn kafka_bootstrap() -> String {
    let b = std::env::var("SLUICE_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &b)
        .set("log_level", "3")
        .create()
        .expect("kafka client");
    if let Err(e) = c.fetch_metadata(None, Duration::from_secs(10)) {
        panic!("the Kafka broker at {b} does not answer ({e}); start it with: scripts/services up kafka");
    }
    b
}

/// A fresh name for topics and connectors (topics are never deleted here).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory under the target dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let base = std::env::var("CARGO_TARGET_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| std::env::temp_dir());
        let p = base.join(unique(name));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: its files are kept in {}", self.0.display());
        } else if std::env::var_os("SLUICE_KEEP_TEST_FILES").is_some() {
            eprintln!("SLUICE_KEEP_TEST_FILES: files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The binary of `examples/NAME.rs`, brought up to date first: `cargo test
/// --test X` alone builds no examples, and one left from an older build
/// would test old code. scripts/test's whole-workspace run builds them with
/// the tests and says so (SLUICE_EXAMPLES_BUILT=1); then it is used as is.
pub fn example_binary(name: &str) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sluice"));
    let p = bin.parent().unwrap().join("examples").join(name);
    if std::env::var("SLUICE_EXAMPLES_BUILT").is_ok_and(|v| v == "1") && p.exists() {
        return p;
    }
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name])
        .current_dir(manifest_dir())
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo build --example {name} failed");
    assert!(p.exists(), "{} is missing after building it", p.display());
    p
}

/// A running `sluice standalone` process.
pub struct Sluice {
    pub child: Child,
    pub port: u16,
    pub worker_file: PathBuf,
    pub log: PathBuf,
}

impl Sluice {
    /// Writes a worker config into `dir` and starts a worker on a free port.
    pub fn start(dir: &Path, extra: &[(&str, &str)]) -> Sluice {
        let port = free_port();
        let bootstrap = kafka_bootstrap();
        let mut props = format!(
            "bootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:{port}\noffset.storage.file.filename={}\noffset.flush.interval.ms=1000\n",
            dir.join("connect.offsets").display()
        );
        for (k, v) in extra {
            props.push_str(&format!("{k}={v}\n"));
        }
        let worker_file = dir.join("worker.properties");
        std::fs::write(&worker_file, props).unwrap();
        Self::start_with(worker_file, port, dir)
    }

    /// Writes a worker config into `dir`; returns (file, port).
    pub fn worker_config(dir: &Path, extra: &[(&str, &str)]) -> (PathBuf, u16) {
        let port = free_port();
        let mut props = format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:{port}\noffset.storage.file.filename={}\noffset.flush.interval.ms=1000\n",
            kafka_bootstrap(),
            dir.join("connect.offsets").display()
        );
        for (k, v) in extra {
            props.push_str(&format!("{k}={v}\n"));
        }
        let worker_file = dir.join("worker.properties");
        std::fs::write(&worker_file, props).unwrap();
        (worker_file, port)
    }

    /// A distributed worker's config for `group`, its internal topics named
    /// after it (`<group>-configs`, `-offsets`, `-status`), plus `extra`.
    pub fn distributed_config(dir: &Path, group: &str, extra: &[(&str, &str)]) -> (PathBuf, u16) {
        let topics = [
            format!("{group}-configs"),
            format!("{group}-offsets"),
            format!("{group}-status"),
        ];
        let mut props = vec![
            ("group.id", group),
            ("config.storage.topic", topics[0].as_str()),
            ("offset.storage.topic", topics[1].as_str()),
            ("status.storage.topic", topics[2].as_str()),
        ];
        props.extend_from_slice(extra);
        Self::worker_config(dir, &props)
    }

    /// Starts a worker on an existing config (after a kill, say).
    pub fn start_with(worker_file: PathBuf, port: u16, dir: &Path) -> Sluice {
        Self::start_program(
            Path::new(env!("CARGO_BIN_EXE_sluice")),
            worker_file,
            port,
            dir,
        )
    }

    /// Starts another binary built on Sluice's library (an example, say).
    pub fn start_program(program: &Path, worker_file: PathBuf, port: u16, dir: &Path) -> Sluice {
        Self::start_mode(program, "standalone", worker_file, port, dir)
    }

    /// Starts another binary built on Sluice's library as a distributed worker.
    pub fn start_program_distributed(
        program: &Path,
        worker_file: PathBuf,
        port: u16,
        dir: &Path,
    ) -> Sluice {
        Self::start_mode(program, "distributed", worker_file, port, dir)
    }

    /// Starts `sluice distributed` on a worker config.
    pub fn start_distributed(worker_file: PathBuf, port: u16, dir: &Path) -> Sluice {
        Self::start_mode(
            Path::new(env!("CARGO_BIN_EXE_sluice")),
            "distributed",
            worker_file,
            port,
            dir,
        )
    }

    fn start_mode(
        program: &Path,
        mode: &str,
        worker_file: PathBuf,
        port: u16,
        dir: &Path,
    ) -> Sluice {
        let log = dir.join(format!("sluice-{}.log", unique("run")));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .arg(mode)
            .arg(&worker_file)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start sluice");
        let s = Sluice {
            child,
            port,
            worker_file,
            log,
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = http(self.port, "GET", "/", None) {
                // 401: up, behind Basic authentication.
                if r.status == 200 || r.status == 401 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "sluice did not answer on port {} within 60 s; its log:\n{}",
            self.port,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    pub fn get(&self, path: &str) -> Response {
        http(self.port, "GET", path, None).expect("GET")
    }
    pub fn post(&self, path: &str, body: &str) -> Response {
        http(self.port, "POST", path, Some(body)).expect("POST")
    }
    pub fn put(&self, path: &str, body: &str) -> Response {
        http(self.port, "PUT", path, Some(body)).expect("PUT")
    }
    pub fn patch(&self, path: &str, body: &str) -> Response {
        http(self.port, "PATCH", path, Some(body)).expect("PATCH")
    }
    pub fn delete(&self, path: &str) -> Response {
        http(self.port, "DELETE", path, None).expect("DELETE")
    }

    /// Waits (bounded) until the connector has committed a source offset.
    pub fn wait_committed_offset(&self, name: &str, timeout: Duration) {
        wait_for("a committed offset", timeout, || {
            let v = self.get(&format!("/connectors/{name}/offsets")).json();
            (v["offsets"].as_array().map(|a| !a.is_empty()) == Some(true)).then_some(())
        });
    }

    /// Polls a connector's status until `pred` holds (or panics at the deadline).
    pub fn wait_status(&self, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let r = self.get(&format!("/connectors/{name}/status"));
            if r.status == 200 {
                last = r.json();
                if pred(&last) {
                    return last;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "connector {name} never reached {what}; last status: {last}\nlog:\n{}",
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe_kill(self.child.id(), 15);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
        panic!("sluice did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill9();
        }
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.body))
    }
    /// The body as JSON, or null when it is not JSON.
    pub fn json_or_null(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client (Connection: close) sending JSON.
pub fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<Response> {
    http_with(port, method, path, body, Some("application/json"))
}

/// A minimal HTTP/1.1 request (Connection: close) with an optional body
/// and an optional Content-Type (None: no header at all).
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    content_type: Option<&str>,
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(90)))?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(ct) = content_type {
        req.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// One record read back from Kafka.
#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Record {
    /// A copy of a consumed message.
    pub fn of(m: &rdkafka::message::BorrowedMessage<'_>) -> Record {
        Record {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers: m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Reads a topic from the beginning until `count` records arrived (or the
/// deadline passes; then returns what it has).
pub fn consume(bootstrap: &str, topic: &str, count: usize, timeout: Duration) -> Vec<Record> {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("test-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("log_level", "3")
        .create()
        .expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count && Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(Record::of(&m)),
            Some(Err(e)) => eprintln!("consumer error (retrying): {e}"),
            None => {}
        }
    }
    out
}

/// Writes `values` (no keys) to `topic` and waits until the broker has them.
pub fn produce_strings(bootstrap: &str, topic: &str, values: &[&str]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for v in values {
        producer
            .send(BaseRecord::<(), str>::to(topic).payload(*v))
            .expect("enqueue a record");
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("records acknowledged");
}

/// Polls `f` until it returns `Some`, or panics with `what` at the deadline.
pub fn wait_for<T>(what: &str, timeout: Duration, f: impl FnMut() -> Option<T>) -> T {
    poll(timeout, f).unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// Calls `f` every 100 ms until it returns `Some` (an outcome, which may
/// be a failure the caller reports) or `timeout` has passed (`None`).
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs SQL on the private MariaDB as root with the `mariadb` client and
/// returns its tab-separated output (no headers). Panics with the command
/// that starts the server when it is down.
pub fn mariadb(sql: &str) -> String {
    let host = std::env::var("SLUICE_MARIADB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("SLUICE_MARIADB_PORT").unwrap_or_else(|_| "3307".into());
    let pw = std::env::var("SLUICE_MARIADB_ROOT_PASSWORD").unwrap_or_else(|_| "sluice".into());
    let out = Command::new("mariadb")
        .args(["--no-defaults", "-h", &host, "-P", &port, "-uroot"])
        .arg(format!("-p{pw}"))
        .args(["-N", "-B", "-e", sql])
        .output()
        .expect("run the mariadb client (apt-get install mariadb-client)");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("Can't connect") || err.contains("ERROR 2002") || err.contains("ERROR 2003")
        {
            panic!("the private MariaDB at {host}:{port} is not reachable ({err}); start it with scripts/services up mariadb");
        }
        panic!("SQL failed: {sql}\n{err}");
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The connector JSON a Debezium user would POST, for the private MariaDB.
pub fn mysql_connector_config(
    name: &str,
    prefix: &str,
    db: &str,
    history: &Path,
    extra: &[(&str, &str)],
) -> Value {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    // A server id per connector: replicas must not share one.
    let server_id = 10_000
        + (std::process::id() as u64 * 7919
            + unique("").len() as u64 * 31
            + std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos() as u64)
            % 1_000_000;
    let mut config = serde_json::json!({
        "connector.class": "io.debezium.connector.mysql.MySqlConnector",
        "database.hostname": env("SLUICE_MARIADB_HOST", "127.0.0.1"),
        "database.port": env("SLUICE_MARIADB_PORT", "3307"),
        "database.user": env("SLUICE_MARIADB_USER", "sluice"),
        "database.password": env("SLUICE_MARIADB_PASSWORD", "sluice"),
        "database.server.id": server_id.to_string(),
        "topic.prefix": prefix,
        "database.include.list": db,
        "schema.history.internal.kafka.bootstrap.servers": "unused:9092",
        "schema.history.internal.file.filename": history.display().to_string(),
        "tasks.max": "1"
    });
    for (k, v) in extra {
        config[*k] = Value::String(v.to_string());
    }
    serde_json::json!({"name": name, "config": config})
}

/// A JSON-converter record's key and value (`payload`s), parsed.
pub fn json_payloads(r: &Record) -> (Value, Value) {
    let parse = |b: &Option<Vec<u8>>| match b {
        None => Value::Null,
        Some(b) => serde_json::from_slice::<Value>(b)
            .map(|v| v.get("payload").cloned().unwrap_or(v))
            .unwrap_or(Value::Null),
    };
    (parse(&r.key), parse(&r.value))
}

/// A consumer that keeps reading one topic from the beginning, for tests
/// that wait until what arrived satisfies a condition.
pub struct TopicReader {
    consumer: BaseConsumer,
    /// (partition, offset) already read: a rebalance may deliver again.
    seen: std::collections::HashSet<(i32, i64)>,
    pub records: Vec<Record>,
    /// Each record's key and value payloads (JSON converter), parsed once.
    pub parsed: Vec<(Value, Value)>,
}

impl TopicReader {
    pub fn new(bootstrap: &str, topic: &str) -> TopicReader {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", unique("test-reader"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("topic.metadata.refresh.interval.ms", "500")
            .set("log_level", "3")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        TopicReader {
            consumer,
            seen: Default::default(),
            records: Vec::new(),
            parsed: Vec::new(),
        }
    }

    /// Reads until `done(records)` holds; panics with `what` at the deadline.
    /// The condition is checked when the reader has caught up with the
    /// topic (a poll came back empty), and at least every 5 s.
    pub fn read_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&[(Value, Value)]) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        let mut last_check = Instant::now();
        loop {
            let idle = match self.consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) if !self.seen.insert((m.partition(), m.offset())) => false,
                Some(Ok(m)) => {
                    let r = Record::of(&m);
                    self.parsed.push(json_payloads(&r));
                    self.records.push(r);
                    false
                }
                _ => true,
            };
            if !idle && last_check.elapsed() < Duration::from_secs(5) {
                continue;
            }
            last_check = Instant::now();
            if done(&self.parsed) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; {} records read",
                    self.records.len()
                );
            }
        }
    }
}

/// A private, throw-away MariaDB server on a free port, for tests that need
/// server settings the shared one must keep (binlog off, STATEMENT
/// format, ...). Started like `scripts/services` starts the shared one;
/// stopped (by its PID) and deleted on drop.
pub struct PrivateMariaDb {
    pub dir: TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl PrivateMariaDb {
    /// Initialises a data directory and starts the server with `settings`
    /// (my.cnf lines under `[mariadbd]`, e.g. `log_bin = mariadb-bin`).
    /// The account `cdc`/`cdc` has the connector's grants, plus REPLICATION
    /// MASTER ADMIN (MariaDB's privilege for SHOW SLAVE HOSTS).
    pub fn start(settings: &[&str]) -> PrivateMariaDb {
        let dir = TempDir::new("private-mariadb");
        let port = free_port();
        let mut db = PrivateMariaDb {
            dir,
            port,
            child: None,
        };
        db.write_cnf(settings);
        let d = db.dir.path();
        let out = Command::new("mariadb-install-db")
            .arg(format!("--defaults-file={}", d.join("my.cnf").display()))
            .arg(format!("--datadir={}", d.join("data").display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .output()
            .expect("run mariadb-install-db (apt-get install -y mariadb-server)");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        db.run();
        db.sql("CREATE USER 'cdc'@'%' IDENTIFIED BY 'cdc';
                GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT, RELOAD, SHOW DATABASES, LOCK TABLES ON *.* TO 'cdc'@'%';");
        db
    }

    fn write_cnf(&self, settings: &[&str]) {
        let d = self.dir.path();
        let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().unwrap().stdout)
            .trim()
            .to_string();
        // Its own tmpdir: a server starting removes every #sql* file in its
        // tmpdir, another test's server being initialised in /tmp included.
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        let cnf = format!(
            "[mariadbd]\nuser = {user}\ndatadir = {data}\nsocket = {d}/mariadb.sock\npid-file = {d}/mariadbd.pid\nport = {port}\nbind-address = 127.0.0.1\nskip-name-resolve\nlog-error = {d}/mariadbd.err\ntmpdir = {d}/tmp\nserver_id = 1\ninnodb_buffer_pool_size = 16M\n{extra}\n",
            data = d.join("data").display(),
            d = d.display(),
            port = self.port,
            extra = settings.join("\n"),
        );
        std::fs::write(d.join("my.cnf"), cnf).unwrap();
    }

    fn run(&mut self) {
        let d = self.dir.path();
        let mariadbd = ["/usr/sbin/mariadbd", "mariadbd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("mariadbd");
        let child = Command::new(mariadbd)
            .arg(format!("--defaults-file={}", d.join("my.cnf").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd (apt-get install -y mariadb-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = Command::new("mariadb")
                .args(["--no-defaults", "--protocol=socket", "-uroot", "-N", "-B"])
                .arg(format!("--socket={}", d.join("mariadb.sock").display()))
                .args(["-e", "SELECT 1"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the private MariaDB did not start within 60 s: {}",
                    std::fs::read_to_string(d.join("mariadbd.err")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Restarts the server with other settings (same data).
    pub fn restart(&mut self, settings: &[&str]) {
        self.stop();
        self.write_cnf(settings);
        self.run();
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: its connections
    /// stay open and silent, as across a network partition.
    pub fn freeze(&self, frozen: bool) {
        let c = self.child.as_ref().expect("the server is running");
        unsafe_kill(c.id(), if frozen { 19 } else { 18 });
    }

    /// Kills the server with SIGKILL (no shutdown) and starts it again on
    /// the same data: InnoDB recovers, the binlog keeps what it wrote.
    pub fn kill9_and_start(&mut self) {
        kill9_child(&mut self.child);
        self.run();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_kill(c.id(), 15);
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs SQL as root over the socket; returns tab-separated output.
    pub fn sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .args(["--no-defaults", "--protocol=socket", "-uroot", "-N", "-B"])
            .arg(format!(
                "--socket={}",
                self.dir.path().join("mariadb.sock").display()
            ))
            .args(["-e", sql])
            .output()
            .expect("run the mariadb client");
        assert!(
            out.status.success(),
            "SQL failed on the private MariaDB: {sql}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGKILLs a test's server process, if it runs, and reaps it.
pub fn kill9_child(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Creates a topic with `configs` (a test setting up what a user made by
/// hand); an existing topic is an error.
pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let mut t = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let res = rt
        .block_on(admin.create_topics([&t], &AdminOptions::new()))
        .expect("create topics");
    for r in res {
        r.unwrap_or_else(|(name, code)| panic!("cannot create topic {name}: {code}"));
    }
}

/// A topic's configuration as the broker describes it (name → value).
pub fn topic_config(bootstrap: &str, topic: &str) -> std::collections::BTreeMap<String, String> {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let res = rt
        .block_on(admin.describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new()))
        .expect("describe configs");
    let cfg = res
        .into_iter()
        .next()
        .expect("one resource")
        .unwrap_or_else(|e| panic!("cannot describe topic {topic}: {e}"));
    cfg.entries
        .into_iter()
        .filter_map(|e| Some((e.name, e.value?)))
        .collect()
}

/// The three-broker cluster's address (`scripts/services up kafka3`),
/// checked to answer with all three brokers.
pub fn kafka3_bootstrap() -> String {
    let b = std::env::var("SLUICE_KAFKA3_BOOTSTRAP")
        .unwrap_or_else(|_| "127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194".into());
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &b)
        .set("log_level", "3")
        .create()
        .expect("kafka client");
    match c.fetch_metadata(None, Duration::from_secs(10)) {
        Ok(md) if md.brokers().len() >= 3 => b,
        Ok(md) => panic!(
            "the Kafka cluster at {b} has {} of 3 brokers up; start it with: scripts/services up kafka3",
            md.brokers().len()
        ),
        Err(e) => panic!("no Kafka cluster at {b} ({e}); start it with: scripts/services up kafka3"),
    }
}

/// The folder of Apache Kafka's jars (`scripts/install-jars kafka`), as
/// `scripts/services env` exports it.
pub fn kafka_libs() -> String {
    std::env::var("SLUICE_KAFKA_LIBS").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        format!("{home}/.cache/sluice/kafka-4.4.0/libs")
    })
}

/// Starts a private single-node Apache Kafka broker (KRaft, combined mode)
/// with its data in `dir`, listening on `port` (its controller on
/// `controller_port`), formatting the storage on first use, and waits until
/// it answers. Settings as `scripts/services` gives the shared broker.
pub fn spawn_kafka(dir: &Path, port: u16, controller_port: u16) -> Child {
    let libs = kafka_libs();
    assert!(
        Path::new(&libs).is_dir(),
        "no Kafka jars in {libs}: run scripts/install-jars kafka (or scripts/services up)"
    );
    let cp = format!("{libs}/*");
    let props = dir.join("server.properties");
    std::fs::write(
        &props,
        format!(
            "process.roles=broker,controller\nnode.id=1\n\
             controller.quorum.voters=1@127.0.0.1:{controller_port}\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             controller.listener.names=CONTROLLER\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             log.dirs={}\n\
             offsets.topic.replication.factor=1\ntransaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\nshare.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\ngroup.initial.rebalance.delay.ms=0\n\
             message.max.bytes=67108864\nreplica.fetch.max.bytes=67108864\n",
            dir.join("data").display()
        ),
    )
    .expect("write server.properties");
    let log4j = dir.join("log4j2.properties");
    std::fs::write(
        &log4j,
        format!(
            "appender.f.type=File\nappender.f.name=F\nappender.f.fileName={}\n\
             appender.f.layout.type=PatternLayout\nappender.f.layout.pattern=[%d] %p %m (%c)%n\n\
             rootLogger.level=INFO\nrootLogger.appenderRef.f.ref=F\n",
            dir.join("server.log").display()
        ),
    )
    .expect("write log4j2.properties");
    let log4j_opt = format!("-Dlog4j2.configurationFile={}", log4j.display());
    if !dir.join("data/meta.properties").exists() {
        let out = Command::new("java")
            .args([
                "-Xmx256m",
                &log4j_opt,
                "-cp",
                &cp,
                "kafka.tools.StorageTool",
            ])
            .args(["format", "-t", "c2x1aWNlLXRlc3QtYnJrAA", "-c"])
            .arg(&props)
            .output()
            .expect("run java (apt-get install -y openjdk-17-jdk-headless)");
        assert!(
            out.status.success(),
            "formatting the private broker's storage failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let child = Command::new("java")
        .current_dir(dir)
        // Direct memory bounded and NIO's per-thread buffer cache capped
        // (see scripts/services: large records exhausted it otherwise).
        .args(["-Xms64m", "-Xmx512m", "-XX:MaxDirectMemorySize=512m"])
        .args(["-Djdk.nio.maxCachedBufferSize=1048576", "-XX:+UseG1GC"])
        .args([log4j_opt.as_str(), "-cp", cp.as_str()])
        .arg("kafka.Kafka")
        .arg(&props)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start java (apt-get install -y openjdk-17-jdk-headless)");
    // Killed if it never answers (the wait panics).
    struct Guard(Option<Child>);
    impl Drop for Guard {
        fn drop(&mut self) {
            kill9_child(&mut self.0);
        }
    }
    let mut guard = Guard(Some(child));
    let probe: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("log_level", "0")
        .create()
        .expect("probe client");
    wait_for(
        "the private Kafka broker to answer",
        Duration::from_secs(60),
        || {
            probe
                .fetch_metadata(None, Duration::from_millis(500))
                .ok()
                .filter(|md| !md.brokers().is_empty())
                .map(|_| ())
        },
    );
    guard.0.take().expect("the broker process")
}

/// A private Apache Kafka broker in its own directory and on its own port,
/// which a test may kill and start again on the same data (the shared
/// broker is not the test's to restart).
pub struct RestartableBroker {
    dir: TempDir,
    port: u16,
    controller_port: u16,
    child: Option<Child>,
    pub bootstrap: String,
}

impl RestartableBroker {
    pub fn start() -> RestartableBroker {
        let port = free_port();
        let mut b = RestartableBroker {
            dir: TempDir::new("kafka-private"),
            port,
            controller_port: free_port(),
            child: None,
            bootstrap: format!("127.0.0.1:{port}"),
        };
        b.run();
        b
    }

    fn run(&mut self) {
        self.child = Some(spawn_kafka(
            self.dir.path(),
            self.port,
            self.controller_port,
        ));
    }

    /// SIGKILL: the broker stops answering at once.
    pub fn kill9(&mut self) {
        kill9_child(&mut self.child);
    }

    /// Starts it again: same port, same data.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the broker is running");
        self.run();
    }
}

impl Drop for RestartableBroker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs the `openssl` CLI in `dir`; a failure fails the test with its
/// stderr.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl (apt-get install -y openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In `dir`: a test CA (`ca.pem`, `ca-key.pem`, made once), and a
/// certificate it signs for the subject `cn` with the version 3 extensions
/// `ext` (e.g. `subjectAltName=DNS:localhost`): `NAME.pem`, `NAME-key.pem`.
pub fn issue_cert(dir: &Path, name: &str, cn: &str, ext: &str) {
    if !dir.join("ca.pem").exists() {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=Sluice test CA",
                "-keyout",
                "ca-key.pem",
                "-out",
                "ca.pem",
            ],
        );
    }
    let key = format!("{name}-key.pem");
    let csr = format!("{name}.csr");
    let cert = format!("{name}.pem");
    let subj = format!("/CN={cn}");
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", &subj, "-keyout", &key, "-out", &csr,
        ],
    );
    let ext_file = format!("{name}.ext");
    std::fs::write(dir.join(&ext_file), format!("{ext}\n")).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext_file,
            "-out",
            &cert,
        ],
    );
}

/// Kafka Connect's Basic-auth files in `dir`: `credentials.properties`
/// holding `credentials` (user=password lines) and the JAAS file naming it
/// (KafkaConnect / PropertyFileLoginModule), whose path is returned (for
/// `-Djava.security.auth.login.config`).
pub fn basic_auth_files(dir: &Path, credentials: &str) -> PathBuf {
    let creds = dir.join("credentials.properties");
    std::fs::write(&creds, credentials).unwrap();
    let jaas = dir.join("connect_jaas.conf");
    std::fs::write(
        &jaas,
        format!(
            "KafkaConnect {{\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\"{}\";\n}};\n",
            creds.display()
        ),
    )
    .unwrap();
    jaas
}
