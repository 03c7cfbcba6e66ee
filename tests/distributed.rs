//! Distributed mode: three `sluice distributed` workers on 127.0.0.1 sharing
//! a group through the real broker (`scripts/services up kafka mariadb`).
//!
//! - a connector created through one worker is seen, with its status, on
//!   the others; adding connectors does not restart the tasks of others
//!   (task start counters);
//! - kill -9 of the worker running a MySQL task while 200k changes stream,
//!   on the three-broker cluster (`scripts/services up kafka3`):
//!   every change arrives, duplicates are counted and all lie in the window
//!   after the last committed offset, and the time from the kill to the task
//!   RUNNING elsewhere is printed;
//! - a rolling restart of all three workers under load loses nothing;
//! - a worker frozen (SIGSTOP) past its session finds its lease lapsed when
//!   it wakes and stops writing;
//! - failed tasks restart on their own with backoff.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// The tests here each run a cluster under load; run one at a time so that
/// a 2-core machine keeps every worker's heartbeats on time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

struct Cluster {
    workers: Vec<Option<Sluice>>,
    files: Vec<(std::path::PathBuf, u16)>,
    dirs: Vec<TempDir>,
}

impl Cluster {
    fn start(name: &str, n: usize) -> Cluster {
        Self::start_with(name, n, &[])
    }

    fn start_with(name: &str, n: usize, extra: &[(&str, &str)]) -> Cluster {
        let mut c = Cluster {
            workers: Vec::new(),
            files: Vec::new(),
            dirs: Vec::new(),
        };
        for i in 0..n {
            let dir = TempDir::new(&format!("dist-w{i}"));
            let (file, port) = Sluice::worker_config(
                dir.path(),
                &[
                    ("group.id", name),
                    ("config.storage.topic", &format!("{name}-configs")),
                    ("offset.storage.topic", &format!("{name}-offsets")),
                    ("status.storage.topic", &format!("{name}-status")),
                    ("offset.storage.partitions", "5"),
                    ("status.storage.partitions", "3"),
                    ("session.timeout.ms", "10000"),
                    ("heartbeat.interval.ms", "2000"),
                ]
                .into_iter()
                .chain(extra.iter().copied())
                .collect::<Vec<_>>(),
            );
            c.files.push((file, port));
            c.dirs.push(dir);
            c.workers.push(None);
            c.launch(i);
        }
        c
    }

    fn launch(&mut self, i: usize) {
        let (file, port) = self.files[i].clone();
        self.workers[i] = Some(Sluice::start_distributed(file, port, self.dirs[i].path()));
    }

    fn w(&self, i: usize) -> &Sluice {
        self.workers[i].as_ref().expect("worker running")
    }

    fn index_of(&self, worker_id: &str) -> Option<usize> {
        self.files
            .iter()
            .position(|(_, p)| worker_id.ends_with(&format!(":{p}")))
    }

    fn any_alive(&self, not: usize) -> &Sluice {
        self.workers
            .iter()
            .enumerate()
            .find(|(i, w)| *i != not && w.is_some())
            .unwrap()
            .1
            .as_ref()
            .unwrap()
    }

    fn logs(&self) -> String {
        self.workers
            .iter()
            .flatten()
            .map(|w| format!("--- worker :{}\n{}", w.port, tail(&w.log_text(), 60)))
            .collect()
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn running(st: &Value) -> bool {
    st["connector"]["state"] == "RUNNING"
        && st["tasks"]
            .as_array()
            .map(|t| !t.is_empty() && t.iter().all(|t| t["state"] == "RUNNING"))
            .unwrap_or(false)
}

fn file_source(name: &str, file: &Path, topic: &str) -> String {
    json!({"name": name, "config": {
        "connector.class": "FileStreamSource", "file": file.display().to_string(), "topic": topic, "tasks.max": "1"
    }})
    .to_string()
}

#[test]
fn configs_and_statuses_are_shared_and_new_connectors_move_nothing() {
    let _serial = serial();
    let bootstrap = kafka_bootstrap();
    let name = unique("dist-a");
    let mut cl = Cluster::start(&name, 3);
    let input = cl.dirs[0].path().join("in.txt");
    std::fs::write(
        &input,
        (1..=500).map(|i| format!("line-{i}\n")).collect::<String>(),
    )
    .unwrap();
    let topic = format!("{name}-lines");

    // Created through worker 0 ...
    let a = format!("{name}-a");
    let r = cl
        .w(0)
        .post("/connectors", &file_source(&a, &input, &topic));
    assert_eq!(r.status, 201, "{}", r.body);
    // ... visible at once on worker 0, soon on the others, with its status.
    assert_eq!(cl.w(0).get(&format!("/connectors/{a}")).status, 200);
    for i in 1..3 {
        wait_for(
            "the config on another worker",
            Duration::from_secs(30),
            || (cl.w(i).get(&format!("/connectors/{a}")).status == 200).then_some(()),
        );
    }
    let st = cl.w(2).wait_status(&a, "RUNNING on some worker", running);
    let owner = st["tasks"][0]["worker_id"].as_str().unwrap().to_string();
    let oi = cl.index_of(&owner).expect("task on a cluster worker");
    let starts_before =
        cl.w(oi).get(&format!("/connectors/{a}/status")).json()["tasks"][0]["starts"].as_u64();
    assert_eq!(starts_before, Some(1), "the owner reports one start");
    let recs = consume(&bootstrap, &topic, 500, Duration::from_secs(60));
    assert_eq!(recs.len(), 500);

    // Two more connectors, through other workers.
    for (i, suffix) in [(1, "b"), (2, "c")] {
        let n = format!("{name}-{suffix}");
        let r = cl.w(i).post(
            "/connectors",
            &file_source(&n, &input, &format!("{topic}-{suffix}")),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    for suffix in ["b", "c"] {
        cl.w(0)
            .wait_status(&format!("{name}-{suffix}"), "RUNNING", running);
    }
    // Let rebalances settle, then check nothing of connector a moved or restarted.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let st = cl.w(oi).get(&format!("/connectors/{a}/status")).json();
        assert_eq!(
            st["tasks"][0]["worker_id"],
            owner.as_str(),
            "task of {a} moved: {st}\n{}",
            cl.logs()
        );
        assert_eq!(
            st["tasks"][0]["starts"].as_u64(),
            Some(1),
            "task of {a} restarted: {st}\n{}",
            cl.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Placement is balanced: the three tasks on three workers.
    let mut owners: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|s| {
            cl.w(1)
                .get(&format!("/connectors/{name}-{s}/status"))
                .json()["tasks"][0]["worker_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    owners.sort();
    owners.dedup();
    assert_eq!(
        owners.len(),
        3,
        "tasks not spread over the workers: {owners:?}"
    );
    // Kafka Connect's rebalance metrics: every worker completed rounds, is
    // not in one now, and is at the same generation as the others.
    let metric = |text: &str, attr: &str| -> f64 {
        let series = format!("kafka_connect_connect_worker_rebalance_metrics_{attr} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    let epochs: Vec<f64> = (0..3)
        .map(|i| {
            let text = wait_for("no rebalance under way", Duration::from_secs(30), || {
                let t = cl.w(i).get("/metrics").body;
                (metric(&t, "rebalancing") == 0.0).then_some(t)
            });
            assert!(metric(&text, "completed_rebalances_total") >= 2.0, "{text}");
            assert!(
                metric(&text, "time_since_last_rebalance_ms") >= 0.0,
                "{text}"
            );
            assert!(
                metric(&text, "rebalance_avg_time_ms") <= metric(&text, "rebalance_max_time_ms"),
                "{text}"
            );
            metric(&text, "epoch")
        })
        .collect();
    assert!(
        epochs.iter().all(|e| *e == epochs[0] && *e >= 1.0),
        "generations {epochs:?}"
    );

    // Pause through one worker; every worker reports it.
    assert_eq!(
        cl.w(2).put(&format!("/connectors/{a}/pause"), "").status,
        202
    );
    for i in 0..3 {
        cl.w(i)
            .wait_status(&a, "PAUSED", |s| s["tasks"][0]["state"] == "PAUSED");
    }
    // Delete through another; every worker forgets it.
    assert_eq!(cl.w(1).delete(&format!("/connectors/{a}")).status, 204);
    for i in 0..3 {
        wait_for(
            "the delete on every worker",
            Duration::from_secs(30),
            || (cl.w(i).get(&format!("/connectors/{a}")).status == 404).then_some(()),
        );
    }
    let e = cl.w(0).get(&format!("/connectors/{a}/status"));
    assert_eq!(e.status, 404);
    assert_eq!(e.json()["error_code"], 404);
    for w in cl.workers.iter_mut().flatten() {
        assert!(w.terminate().success());
    }
}

/// A MySQL connector on `db` (snapshot.mode=no_data), created through
/// worker 0 and streaming.
struct Streaming {
    conn: String,
    prefix: String,
    /// The worker id running its task, and that worker's index.
    owner: String,
    oi: usize,
}

fn start_mysql_streaming(cl: &Cluster, name: &str, db: &str) -> Streaming {
    let history = cl.dirs[0].path().join("history.dat");
    let conn = format!("{name}-mysql");
    let prefix = name.replace('-', "_");
    let body = mysql_connector_config(
        &conn,
        &prefix,
        db,
        &history,
        &[("snapshot.mode", "no_data")],
    );
    let r = cl.w(0).post("/connectors", &body.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let st = cl.w(1).wait_status(&conn, "RUNNING", running);
    let owner = st["tasks"][0]["worker_id"].as_str().unwrap().to_string();
    let oi = cl.index_of(&owner).unwrap();
    wait_streaming(cl.w(1), &conn);
    Streaming {
        conn,
        prefix,
        owner,
        oi,
    }
}

/// Waits until the connector's task streams: a MySQL task commits its start
/// position before the first change. With snapshot.mode=no_data, changes
/// committed before that position are rightly not captured, and RUNNING
/// comes before it, so a test writes only after this.
fn wait_streaming(w: &Sluice, conn: &str) {
    wait_for(
        "the task's start position in the offsets",
        Duration::from_secs(60),
        || {
            let o = w.get(&format!("/connectors/{conn}/offsets")).json();
            o["offsets"][0]["offset"]["pos"].is_i64().then_some(())
        },
    );
}

/// Inserts ids from..=to in transactions of 1000 rows.
fn insert_rows(db: &str, from: usize, to: usize) {
    let mut a = from;
    while a <= to {
        let b = (a + 999).min(to);
        mariadb(&format!(
            "USE {db}; INSERT INTO {db}.t SELECT seq, CONCAT('v-', seq) FROM seq_{a}_to_{b}"
        ));
        a = b + 1;
    }
}

/// id → number of create events, and each id's first (file, pos).
fn tally(records: &[(Value, Value)]) -> (HashMap<i64, usize>, HashMap<i64, (String, i64)>) {
    let mut count = HashMap::new();
    let mut first = HashMap::new();
    for (k, v) in records {
        if v.is_null() || v["op"] != "c" {
            continue;
        }
        let id = k["id"].as_i64().unwrap();
        *count.entry(id).or_insert(0) += 1;
        first.entry(id).or_insert_with(|| {
            (
                v["source"]["file"].as_str().unwrap_or("").to_string(),
                v["source"]["pos"].as_i64().unwrap_or(0),
            )
        });
    }
    (count, first)
}

fn mysql_setup(tag: &str) -> String {
    let db = format!("dist_{}_{}", tag, std::process::id());
    mariadb(&format!(
        "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(32));"
    ));
    db
}

#[test]
fn kill9_of_the_worker_running_a_mysql_task_loses_nothing() {
    let _serial = serial();
    const ROWS: usize = 200_000;
    // On the three-broker cluster, as in production: the internal topics
    // and the connector's topic replicated three times, min.insync.replicas 2.
    let bootstrap = kafka3_bootstrap();
    let name = unique("dist-k");
    let db = mysql_setup("k");
    let mut cl = Cluster::start_with(
        &name,
        3,
        &[
            ("bootstrap.servers", bootstrap.as_str()),
            ("config.storage.replication.factor", "3"),
            ("offset.storage.replication.factor", "3"),
            ("status.storage.replication.factor", "3"),
        ],
    );
    let Streaming {
        conn,
        prefix,
        owner,
        oi,
    } = start_mysql_streaming(&cl, &name, &db);

    let dbw = db.clone();
    let writer = std::thread::spawn(move || insert_rows(&dbw, 1, ROWS));
    let topic = format!("{prefix}.{db}.t");
    let mut reader = TopicReader::new(&bootstrap, &topic);
    // Kill the owner mid-stream.
    reader.read_until("a fifth of the changes", Duration::from_secs(300), |r| {
        r.len() >= ROWS / 5
    });
    let committed = cl
        .any_alive(oi)
        .get(&format!("/connectors/{conn}/offsets"))
        .json();
    cl.workers[oi].as_mut().unwrap().kill9();
    let killed_at = Instant::now();
    // The committed offset is what the dead worker wrote last (it writes no more).
    let after_kill = cl
        .any_alive(oi)
        .get(&format!("/connectors/{conn}/offsets"))
        .json();
    cl.workers[oi] = None;
    let survivor = cl.any_alive(oi);
    let st = {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let st = survivor.get(&format!("/connectors/{conn}/status")).json();
            if st["tasks"][0]["state"] == "RUNNING" && st["tasks"][0]["worker_id"] != owner.as_str()
            {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "the task never moved: {st}\n{}",
                cl.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let moved_in = killed_at.elapsed();
    eprintln!(
        "kill -9 to task RUNNING on {}: {:.1} s (session.timeout.ms=10000)",
        st["tasks"][0]["worker_id"],
        moved_in.as_secs_f64()
    );
    writer.join().unwrap();
    reader.read_until("every change", Duration::from_secs(600), |r| {
        tally(r).0.len() >= ROWS
    });
    let (count, first) = tally(&reader.parsed);
    let missing: Vec<usize> = (1..=ROWS)
        .filter(|i| !count.contains_key(&(*i as i64)))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "changes lost, e.g. ids {missing:?}");
    let dups: Vec<i64> = count
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    // Every duplicate lies after the last committed offset: the uncommitted window.
    let offset = &after_kill["offsets"][0]["offset"];
    assert!(
        offset["file"].is_string() && offset["pos"].is_i64(),
        "no committed offset after the kill: {after_kill}"
    );
    let (cfile, cpos) = (
        offset["file"].as_str().unwrap_or("").to_string(),
        offset["pos"].as_i64().unwrap_or(0),
    );
    for id in &dups {
        let (f, p) = &first[id];
        assert!(
            (f.as_str(), *p) >= (cfile.as_str(), cpos),
            "id {id} was sent twice but lies before the committed offset {offset} (at {f}:{p})"
        );
    }
    eprintln!(
        "{} changes, {} delivered twice (all after the committed offset {}; offset read before the kill: {})",
        ROWS,
        dups.len(),
        offset,
        committed
    );
    for w in cl.workers.iter_mut().flatten() {
        let _ = w.terminate();
    }
}

#[test]
fn rolling_restart_of_every_worker_under_load_loses_nothing() {
    let _serial = serial();
    const ROWS: usize = 60_000;
    let bootstrap = kafka_bootstrap();
    let name = unique("dist-r");
    let db = mysql_setup("r");
    let mut cl = Cluster::start(&name, 3);
    let Streaming { conn, prefix, .. } = start_mysql_streaming(&cl, &name, &db);
    let dbw = db.clone();
    let writer = std::thread::spawn(move || {
        // Spread the load over the restarts.
        for part in 0..6 {
            insert_rows(&dbw, part * ROWS / 6 + 1, (part + 1) * ROWS / 6);
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    for i in 0..3 {
        let status = cl.workers[i].as_mut().unwrap().terminate();
        assert!(status.success(), "worker {i} did not stop cleanly");
        cl.workers[i] = None;
        cl.launch(i);
        cl.w(i)
            .wait_status(&conn, "RUNNING after restarting worker", running);
    }
    writer.join().unwrap();
    let topic = format!("{prefix}.{db}.t");
    let mut reader = TopicReader::new(&bootstrap, &topic);
    reader.read_until("every change", Duration::from_secs(600), |r| {
        tally(r).0.len() >= ROWS
    });
    let (count, _) = tally(&reader.parsed);
    let missing: Vec<usize> = (1..=ROWS)
        .filter(|i| !count.contains_key(&(*i as i64)))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "changes lost, e.g. ids {missing:?}");
    let dups = count.values().filter(|n| **n > 1).count();
    eprintln!("rolling restart: {ROWS} changes, {dups} delivered twice");
    for w in cl.workers.iter_mut().flatten() {
        let _ = w.terminate();
    }
}

#[test]
fn failed_tasks_restart_on_their_own_with_backoff_unless_switched_off() {
    let _serial = serial();
    kafka_bootstrap();
    let db = mysql_setup("f");
    for enabled in [true, false] {
        let name = unique("dist-f");
        let flag = enabled.to_string();
        let mut cl = Cluster::start_with(
            &name,
            1,
            &[
                ("task.auto.restart.enable", flag.as_str()),
                ("task.auto.restart.backoff.initial.ms", "300"),
                ("task.auto.restart.backoff.max.ms", "2000"),
            ],
        );
        let history = cl.dirs[0].path().join("history.dat");
        let conn = format!("{name}-bad");
        let prefix = name.replace('-', "_");
        let body = mysql_connector_config(
            &conn,
            &prefix,
            &db,
            &history,
            &[("database.password", "wrong")],
        );
        assert_eq!(cl.w(0).post("/connectors", &body.to_string()).status, 201);
        let st = cl.w(0).wait_status(&conn, "the task FAILED", |s| {
            s["tasks"][0]["state"] == "FAILED"
        });
        let trace = st["tasks"][0]["trace"].as_str().unwrap_or("");
        assert!(
            trace.contains("database.password"),
            "the trace names the remedy: {trace}"
        );
        if enabled {
            // 300 ms, 600 ms, 1.2 s, 2 s, ...: several restarts within 15 s.
            let st = cl.w(0).wait_status(&conn, "three automatic restarts", |s| {
                s["tasks"][0]["starts"].as_u64().unwrap_or(0) >= 3
            });
            assert!(
                cl.w(0).log_text().contains("restarting FAILED task"),
                "{st}"
            );
            // Fixing the config brings it back for good.
            let mut fixed = body["config"].clone();
            fixed["database.password"] =
                json!(std::env::var("SLUICE_MARIADB_PASSWORD").unwrap_or_else(|_| "sluice".into()));
            assert_eq!(
                cl.w(0)
                    .put(&format!("/connectors/{conn}/config"), &fixed.to_string())
                    .status,
                200
            );
            cl.w(0)
                .wait_status(&conn, "RUNNING with the right password", running);
        } else {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                let st = cl.w(0).get(&format!("/connectors/{conn}/status")).json();
                assert_eq!(st["tasks"][0]["state"], "FAILED");
                assert_eq!(
                    st["tasks"][0]["starts"].as_u64(),
                    Some(1),
                    "restarted although switched off"
                );
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        for w in cl.workers.iter_mut().flatten() {
            let _ = w.terminate();
        }
    }
}

#[test]
fn a_paused_worker_finds_its_lease_lapsed_and_stops_writing() {
    let _serial = serial();
    const ROWS: usize = 20_000;
    let bootstrap = kafka_bootstrap();
    let name = unique("dist-z");
    let db = mysql_setup("z");
    let mut cl = Cluster::start(&name, 2);
    let Streaming {
        conn,
        prefix,
        owner,
        oi,
    } = start_mysql_streaming(&cl, &name, &db);
    let other = other_of(oi);
    insert_rows(&db, 1, ROWS / 4);
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    reader.read_until("the first changes", Duration::from_secs(300), |r| {
        tally(r).0.len() >= ROWS / 4
    });
    wait_for("a committed offset", Duration::from_secs(30), || {
        let o = cl
            .w(other_of(oi))
            .get(&format!("/connectors/{conn}/offsets"))
            .json();
        o["offsets"][0]["offset"]["pos"].is_i64().then_some(())
    });
    let pid = cl.w(oi).child.id().to_string();
    // Freeze the owner (as a VM pause or a long stall would) past its session.
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let moved = wait_for(
        "the task to move off the frozen worker",
        Duration::from_secs(120),
        || {
            let st = cl
                .w(other)
                .get(&format!("/connectors/{conn}/status"))
                .json();
            (st["tasks"][0]["state"] == "RUNNING" && st["tasks"][0]["worker_id"] != owner.as_str())
                .then_some(st)
        },
    );
    insert_rows(&db, ROWS / 4 + 1, ROWS);
    // Wake it: it must notice its lease lapsed and stop instead of writing alongside.
    assert!(std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    wait_for(
        "the woken worker to stop its tasks",
        Duration::from_secs(60),
        || {
            cl.w(oi)
                .log_text()
                .contains("lost its group membership")
                .then_some(())
        },
    );
    reader.read_until("every change", Duration::from_secs(300), |r| {
        tally(r).0.len() >= ROWS
    });
    let (count, _) = tally(&reader.parsed);
    assert!(
        (1..=ROWS).all(|i| count.contains_key(&(i as i64))),
        "changes lost"
    );
    // Afterwards the cluster agrees again on one owner.
    cl.w(oi)
        .wait_status(&conn, "one owner, seen from the woken worker", |s| {
            running(s) && s["tasks"][0]["worker_id"] == moved["tasks"][0]["worker_id"]
        });
    let dups = count.values().filter(|n| **n > 1).count();
    eprintln!("paused worker: {ROWS} changes, {dups} delivered twice");
    for w in cl.workers.iter_mut().flatten() {
        let _ = w.terminate();
    }
}

fn other_of(i: usize) -> usize {
    1 - i
}

#[test]
fn a_deleted_connector_leaves_no_config_in_the_config_topic() {
    let _serial = serial();
    let group = unique("dist-tomb");
    let cl = Cluster::start(&group, 1);
    let canary = format!("canary-{}", std::process::id());
    // The canary stands for a credential: it is in the connector's config
    // and, as FileStreamSource copies `file`, in its task config too.
    let input = cl.dirs[0].path().join(format!("{canary}.txt"));
    std::fs::write(&input, "a\n").unwrap();
    let name = unique("tomb");
    let body = file_source(&name, &input, &unique("tomb"));
    assert_eq!(cl.w(0).post("/connectors", &body).status, 201);
    cl.w(0).wait_status(&name, "RUNNING", running);
    assert_eq!(cl.w(0).delete(&format!("/connectors/{name}")).status, 204);

    // What compaction keeps: the last record of every key.
    let topic = format!("{group}-configs");
    let (_, high) = watermarks(&kafka_bootstrap(), &topic, 0);
    let records = consume(
        &kafka_bootstrap(),
        &topic,
        high as usize,
        Duration::from_secs(30),
    );
    assert_eq!(records.len(), high as usize, "the whole config topic");
    let holds = |v: &Option<Vec<u8>>| {
        v.as_ref()
            .is_some_and(|v| String::from_utf8_lossy(v).contains(&canary))
    };
    assert!(
        records.iter().any(|r| holds(&r.value)),
        "the canary was written (connector and task configs)"
    );
    let mut last: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
    for r in records {
        last.insert(r.key.unwrap_or_default(), r.value);
    }
    let kept: Vec<String> = last
        .iter()
        .filter(|(_, v)| holds(v))
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert!(
        kept.is_empty(),
        "records compaction would keep with the config in them: {kept:?}"
    );
}

#[test]
fn an_offsets_reset_right_after_stop_is_not_undone_by_the_stopping_task() {
    let _serial = serial();
    let group = unique("dist-reset");
    // A long flush interval: the task's last commit, on its way out, is the
    // one that carries its offsets.
    let cl = Cluster::start_with(&group, 2, &[("offset.flush.interval.ms", "600000")]);
    let input = cl.dirs[0].path().join("growing.txt");
    std::fs::write(&input, "").unwrap();
    let name = unique("reset");
    let topic = unique("reset");
    // Made first: the records are counted from the start, before the task
    // would have created it.
    create_topic(&kafka_bootstrap(), &topic, 1, &[]);
    assert_eq!(
        cl.w(0)
            .post("/connectors", &file_source(&name, &input, &topic))
            .status,
        201
    );
    cl.w(0).wait_status(&name, "RUNNING", running);
    let stop_writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop_writing.clone();
        let input = input.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&input)
                .unwrap();
            let mut i = 0u64;
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                writeln!(f, "line {i}").unwrap();
                i += 1;
                if i.is_multiple_of(100) {
                    f.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        })
    };
    wait_for("records in the topic", Duration::from_secs(60), || {
        (watermarks(&kafka_bootstrap(), &topic, 0).1 > 500).then_some(())
    });
    assert_eq!(
        cl.w(1).put(&format!("/connectors/{name}/stop"), "").status,
        204
    );
    // Reset at once, retrying while the tasks are still stopping.
    let mut refused = 0;
    wait_for("the reset accepted", Duration::from_secs(60), || {
        let r = cl.w(1).delete(&format!("/connectors/{name}/offsets"));
        if r.status == 200 {
            Some(())
        } else {
            assert_eq!(r.status, 400, "{}", r.body);
            refused += 1;
            None
        }
    });
    stop_writing.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    // Nothing the stopping task did brings offsets back.
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        for w in [0, 1] {
            let offsets = cl.w(w).get(&format!("/connectors/{name}/offsets")).json();
            assert_eq!(
                offsets["offsets"].as_array().map(Vec::len),
                Some(0),
                "offsets came back after the reset (refused {refused} times first): {offsets}"
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn one_name_posted_to_two_workers_at_once_is_created_once() {
    let _serial = serial();
    let group = unique("dist-race");
    let cl = Cluster::start(&group, 2);
    let input = cl.dirs[0].path().join("race.txt");
    std::fs::write(&input, "a\n").unwrap();
    let (p0, p1) = (cl.w(0).port, cl.w(1).port);
    for round in 0..8 {
        let name = unique(&format!("race{round}"));
        let body = file_source(&name, &input, &unique("race"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let post = |port: u16| {
            let (body, barrier) = (body.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                http(port, "POST", "/connectors", Some(&body)).unwrap()
            })
        };
        let (a, b) = (post(p0), post(p1));
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        let mut codes = [a.status, b.status];
        codes.sort_unstable();
        assert_eq!(codes, [201, 409], "round {round}: {} / {}", a.body, b.body);
        let loser = if a.status == 409 { &a } else { &b };
        assert_eq!(
            loser.json()["message"],
            format!("Connector {name} already exists")
        );
    }
}

#[test]
fn a_new_transform_config_reaches_the_running_task() {
    let _serial = serial();
    let group = unique("dist-reconf");
    let cl = Cluster::start_with(
        &group,
        1,
        &[
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
        ],
    );
    let input = cl.dirs[0].path().join("reconf.txt");
    std::fs::write(&input, "first\n").unwrap();
    let name = unique("reconf");
    let topic = unique("reconf");
    let config = |tag: &str| {
        json!({
            "connector.class": "FileStreamSource", "file": input.display().to_string(), "topic": topic,
            "transforms": "wrap,tag",
            "transforms.wrap.type": "org.apache.kafka.connect.transforms.HoistField$Value",
            "transforms.wrap.field": "line",
            "transforms.tag.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.tag.static.field": "tag",
            "transforms.tag.static.value": tag
        })
    };
    let r = cl.w(0).put(
        &format!("/connectors/{name}/config"),
        &config("v1").to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    cl.w(0).wait_status(&name, "RUNNING", running);
    let tags = |n: usize| -> Vec<(String, String)> {
        consume(&kafka_bootstrap(), &topic, n, Duration::from_secs(30))
            .iter()
            .filter_map(|r| serde_json::from_slice::<Value>(r.value.as_deref()?).ok())
            .map(|v| {
                (
                    v["line"].as_str().unwrap_or("").to_string(),
                    v["tag"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(tags(1), vec![("first".to_string(), "v1".to_string())]);
    let r = cl.w(0).put(
        &format!("/connectors/{name}/config"),
        &config("v2").to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Once the reconfiguration is through, new lines carry the new tag.
    wait_for(
        "the task restarted with the new config",
        Duration::from_secs(30),
        || {
            let st = cl
                .w(0)
                .get(&format!("/connectors/{name}/tasks/0/status"))
                .json();
            (st["state"] == "RUNNING" && st["starts"].as_u64().unwrap_or(0) >= 2).then_some(())
        },
    );
    use std::io::Write;
    writeln!(
        std::fs::OpenOptions::new()
            .append(true)
            .open(&input)
            .unwrap(),
        "second"
    )
    .unwrap();
    let got = tags(2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1], ("second".to_string(), "v2".to_string()), "{got:?}");
}

#[test]
fn exactly_once_mysql_task_killed_five_times_under_load_delivers_each_change_once() {
    let _serial = serial();
    let name = unique("dist-eos");
    let db = mysql_setup("eos");
    let mut cl = Cluster::start_with(&name, 2, &[("exactly.once.source.support", "enabled")]);
    let Streaming { conn, prefix, .. } = start_mysql_streaming(&cl, &name, &db);

    // A steady load for the whole run: 100-row transactions until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let (stop, written, db) = (stop.clone(), written.clone(), db.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut next = 1;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                insert_rows(&db, next, next + 99);
                next += 100;
                written.store(next - 1, std::sync::atomic::Ordering::SeqCst);
                // About 500 changes a second: every kill lands mid-stream,
                // and the read-back stays short.
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let topic = format!("{prefix}.{db}.t");
    let bootstrap = kafka_bootstrap();
    for kill in 1..=5 {
        let target = written.load(std::sync::atomic::Ordering::SeqCst) + 500;
        wait_for("more rows written", Duration::from_secs(60), || {
            (written.load(std::sync::atomic::Ordering::SeqCst) >= target).then_some(())
        });
        let st = cl
            .any_alive(usize::MAX)
            .get(&format!("/connectors/{conn}/status"))
            .json();
        let owner = st["tasks"][0]["worker_id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let oi = cl
            .index_of(&owner)
            .unwrap_or_else(|| panic!("no owner in {st}"));
        cl.workers[oi].as_mut().unwrap().kill9();
        cl.workers[oi] = None;
        eprintln!("kill {kill}: worker {owner} (task mid-stream, {target}+ rows written)");
        cl.launch(oi);
        cl.w(oi).wait_status(&conn, "RUNNING again", |v| {
            v["tasks"][0]["state"] == "RUNNING"
        });
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    let rows = written.load(std::sync::atomic::Ordering::SeqCst);
    // A read_committed consumer (librdkafka's default isolation level).
    let mut reader = TopicReader::new(&bootstrap, &topic);
    reader.read_until("every change", Duration::from_secs(300), |r| {
        tally(r).0.len() >= rows
    });
    let (count, _) = tally(&reader.parsed);
    let missing: Vec<usize> = (1..=rows)
        .filter(|i| !count.contains_key(&(*i as i64)))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "changes lost, e.g. ids {missing:?}");
    let dups: Vec<(i64, usize)> = count
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| (*id, *n))
        .take(10)
        .collect();
    assert!(
        dups.is_empty(),
        "{} changes delivered more than once, e.g. {dups:?}",
        count.values().filter(|n| **n > 1).count()
    );
    eprintln!("{rows} changes through 5 kills: each exactly once");
    for w in cl.workers.iter_mut().flatten() {
        let _ = w.terminate();
    }
}

/// Under exactly-once delivery the offset topic ends with transaction
/// markers, which a consumer never returns but the high watermark counts:
/// a restarted worker must still see its offset topic as read to the end
/// (it waited out a 30 s timeout at start and before starting each task).
#[test]
fn an_exactly_once_worker_restarts_without_waiting_on_transaction_markers() {
    let _serial = serial();
    let bootstrap = kafka_bootstrap();
    let name = unique("dist-eos-markers");
    let mut cl = Cluster::start_with(&name, 1, &[("exactly.once.source.support", "enabled")]);
    let input = cl.dirs[0].path().join("in.txt");
    std::fs::write(&input, "one\ntwo\nthree\n").unwrap();
    let topic = unique("eos-markers");
    let r = cl
        .w(0)
        .post("/connectors", &file_source("src", &input, &topic));
    assert_eq!(r.status, 201, "{}", r.body);
    consume(&bootstrap, &topic, 3, Duration::from_secs(60));
    // The three lines' offsets committed in a transaction: wait for them.
    wait_for("the offsets committed", Duration::from_secs(30), || {
        let v = cl.w(0).get("/connectors/src/offsets").json();
        v["offsets"][0]["offset"].is_object().then_some(())
    });
    cl.workers[0].as_mut().unwrap().terminate();
    cl.workers[0] = None;
    cl.launch(0);
    cl.w(0).wait_status("src", "task RUNNING", running);
    std::fs::write(&input, "one\ntwo\nthree\nfour\n").unwrap();
    let recs = consume(&bootstrap, &topic, 4, Duration::from_secs(60));
    assert_eq!(recs.len(), 4);
    let log = cl.w(0).log_text();
    assert!(
        !log.contains("to its end took longer"),
        "the restarted worker waited for the end of a topic that ends in transaction markers:\n{}",
        tail(&log, 40)
    );
}

/// The last value of each key of an offset topic (key ["connector", {partition}]).
fn offset_topic_view(topic: &str) -> HashMap<String, Option<Value>> {
    let mut view = HashMap::new();
    // Every partition, for a few seconds: what there is.
    for r in consume(
        &kafka_bootstrap(),
        topic,
        usize::MAX,
        Duration::from_secs(8),
    ) {
        let key = String::from_utf8(r.key.unwrap_or_default()).unwrap();
        let value = r
            .value
            .map(|v| serde_json::from_slice::<Value>(&v).unwrap());
        view.insert(key, value);
    }
    view
}

/// A source connector's own offset topic (`offsets.storage.topic`,
/// KIP-618), at least once and exactly once: its offsets are written there
/// (and copied to the worker's topic), the REST API reads
/// them from it, a reset clears it, and the resumed task starts over from
/// what it holds.
#[test]
fn a_connectors_own_offset_topic_holds_its_offsets() {
    let _serial = serial();
    for eos in [false, true] {
        let name = unique(if eos { "dist-own-eos" } else { "dist-own" });
        let extra: &[(&str, &str)] = if eos {
            &[("exactly.once.source.support", "enabled")]
        } else {
            &[]
        };
        let cl = Cluster::start_with(&name, 1, extra);
        let input = cl.dirs[0].path().join("in.txt");
        std::fs::write(&input, "a\nb\nc\n").unwrap();
        let topic = unique("own-offsets-data");
        let own = unique("own-offsets");
        let config = json!({"connector.class": "FileStreamSource",
            "file": input.display().to_string(), "topic": topic, "tasks.max": "1",
            "offsets.storage.topic": own});
        let r = cl.w(0).post(
            "/connectors",
            &json!({"name": "src", "config": config}).to_string(),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        consume(&kafka_bootstrap(), &topic, 3, Duration::from_secs(60));
        let offsets = wait_for(
            "the offset at the end of the file",
            Duration::from_secs(30),
            || {
                let v = cl.w(0).get("/connectors/src/offsets").json();
                (v["offsets"][0]["offset"]["position"] == 6).then_some(v)
            },
        );
        let key = json!(["src", offsets["offsets"][0]["partition"]]).to_string();
        let mine = offset_topic_view(&own);
        assert_eq!(
            mine.get(&key),
            Some(&Some(json!({"position": 6}))),
            "eos={eos}: the connector's own offset topic {own}: {mine:?}"
        );
        let workers = offset_topic_view(&format!("{name}-offsets"));
        assert_eq!(
            workers.get(&key),
            Some(&Some(json!({"position": 6}))),
            "eos={eos}: the copy in the worker's offset topic: {workers:?}"
        );

        // Reset: the connector's own topic is cleared too, so the resumed
        // task reads the file again from the start.
        assert_eq!(cl.w(0).put("/connectors/src/stop", "").status, 204);
        wait_for("the reset accepted", Duration::from_secs(60), || {
            let r = cl.w(0).delete("/connectors/src/offsets");
            (r.status == 200).then_some(())
        });
        assert_eq!(
            offset_topic_view(&own).get(&key),
            Some(&None),
            "eos={eos}: no tombstone in {own}"
        );
        assert_eq!(cl.w(0).put("/connectors/src/resume", "").status, 202);
        let again = consume(&kafka_bootstrap(), &topic, 6, Duration::from_secs(60));
        assert_eq!(again.len(), 6, "eos={eos}: the file was not read again");
    }
}
