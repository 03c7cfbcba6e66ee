//! Decode throughput on a 1M-row binlog (release build):
//! `cargo test --release -p sluice-connectors --lib mysql::bench_tests -- --ignored --nocapture`

use std::time::Instant;

use super::binlog::{current_position, BinlogStream, DumpOptions, StartPosition};
use super::column::DecodeOptions;
use super::event::{types, RowsEvent};
use super::rows::decode_row;
use super::table::{load_column_info, TableDecoder};
use super::table_map::TableMap;
use super::testdb::{connect, connect_root, replica_options};
use super::wire::Reader;

#[tokio::test]
#[ignore = "benchmark: run in release with --ignored"]
async fn decode_one_million_rows() {
    let n: u64 = std::env::var("SLUICE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut c = connect_root().await;
    c.exec("CREATE DATABASE IF NOT EXISTS sluice_bench")
        .await
        .unwrap();
    c.exec("DROP TABLE IF EXISTS sluice_bench.t").await.unwrap();
    c.exec("CREATE TABLE sluice_bench.t (id BIGINT PRIMARY KEY, a INT, b VARCHAR(64), c DECIMAL(12,2), d DATETIME(6), e DOUBLE)")
        .await
        .unwrap();
    let (file, pos) = current_position(&mut c).await.unwrap();
    c.exec(&format!(
        "INSERT INTO sluice_bench.t SELECT seq, seq % 1000, CONCAT('name-', seq), seq / 100, \
         '2024-01-01 00:00:00' + INTERVAL seq SECOND, seq * 1.5 FROM sluice_bench.seq_1_to_{n}"
    ))
    .await
    .unwrap();
    let infos = load_column_info(&mut c, "sluice_bench", "t").await.unwrap();

    let conn = connect(&replica_options()).await;
    let mut s = BinlogStream::start(
        conn,
        &DumpOptions {
            server_id: 9301,
            start: StartPosition::File { file, pos },
            heartbeat: None,
            non_blocking: true,
            annotate_rows: false,
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut decoder: Option<TableDecoder> = None;
    let mut out = Vec::with_capacity(8);
    let id_len = 6;
    while let Some(ev) = s.next_event().await.unwrap() {
        bytes += ev.header.event_size as u64;
        match ev.header.event_type {
            types::TABLE_MAP => {
                let m = TableMap::parse(ev.body, id_len).unwrap();
                if m.table == "t" && decoder.is_none() {
                    decoder = Some(
                        TableDecoder::new(&m, &infos, &DecodeOptions::default(), "b.t.Value")
                            .unwrap(),
                    );
                }
            }
            t if RowsEvent::kind_of(t).is_some() => {
                let Some(d) = &decoder else { continue };
                let e = RowsEvent::parse(t, ev.body, id_len).unwrap().unwrap();
                let mut r = Reader::new(e.rows);
                while !r.is_empty() {
                    out.clear();
                    decode_row(&mut r, &d.plans, e.present, &mut out).unwrap();
                    rows += 1;
                }
            }
            _ => {}
        }
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(rows, n);
    println!(
        "decoded {rows} rows ({:.1} MB of binlog) in {secs:.3} s: {:.0} rows/s",
        bytes as f64 / 1e6,
        rows as f64 / secs
    );
}

/// The snapshot path without a broker: rows read, decoded and turned into
/// Debezium `r` events (records handed over a bounded channel, as the
/// worker takes them), against `mariadb --quick` reading the same table:
/// `cargo test --release -p sluice-connectors --lib mysql::bench_tests::snapshot -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored"]
async fn snapshot_one_million_rows() {
    use std::sync::Arc;

    use super::config::{Flavor, MySqlConfig};
    use super::history::SchemaHistory;
    use super::snapshot::snapshot;
    use super::stream::Capture;
    use super::testdb::root_options;

    let n: u64 = std::env::var("SLUICE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut c = connect_root().await;
    c.exec("CREATE DATABASE IF NOT EXISTS sluice_bench_snap")
        .await
        .unwrap();
    c.exec("DROP TABLE IF EXISTS sluice_bench_snap.t")
        .await
        .unwrap();
    c.exec("CREATE TABLE sluice_bench_snap.t (id BIGINT PRIMARY KEY, k INT NOT NULL, v VARCHAR(32) NOT NULL, ts DATETIME(6) NOT NULL)")
        .await
        .unwrap();
    let mut done = 0;
    while done < n {
        let m = (n - done).min(100_000);
        c.exec(&format!(
            "INSERT INTO sluice_bench_snap.t SELECT seq, seq % 1000, 'abcdefghijklmnopqrstuvwxyz012345', \
             '2024-01-01 00:00:00.123456' + INTERVAL seq SECOND FROM sluice_bench_snap.seq_{}_to_{}",
            done + 1,
            done + m
        ))
        .await
        .unwrap();
        done += m;
    }
    let root = root_options();
    let quick = || {
        let t = Instant::now();
        let out = std::process::Command::new("mariadb")
            .args(["--no-defaults", "--quick", "-N", "-B", "-uroot"])
            .arg(format!("-h{}", root.host))
            .arg(format!("-P{}", root.port))
            .arg(format!("-p{}", root.password))
            .args(["-e", "SELECT * FROM sluice_bench_snap.t"])
            .output()
            .expect("run mariadb --quick");
        assert!(out.status.success());
        assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count() as u64, n);
        n as f64 / t.elapsed().as_secs_f64()
    };
    let quick_rate = quick();

    let opts = replica_options();
    let props: sluice_api::Props = [
        ("database.hostname", opts.host.clone()),
        ("database.port", opts.port.to_string()),
        ("database.user", opts.user.clone()),
        ("database.password", opts.password.clone()),
        ("database.server.id", "9302".into()),
        ("topic.prefix", "bench".into()),
        ("database.include.list", "sluice_bench_snap".into()),
        ("include.schema.changes", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cfg = Arc::new(MySqlConfig::parse(&props, Flavor::MariaDb).unwrap());
    struct NoOffsets;
    impl sluice_api::OffsetReader for NoOffsets {
        fn offset(&self, _: &sluice_api::data::JsonMap) -> Option<sluice_api::data::JsonMap> {
            None
        }
    }
    let ctx = sluice_api::SourceTaskContext {
        connector: "bench".into(),
        task_id: 0,
        offsets: Arc::new(NoOffsets),
        progress: Default::default(),
    };
    let mut cap = Capture::new(cfg.clone(), SchemaHistory::in_memory("bench"));
    let (tx, mut rx) = crate::debezium::feed::queue(
        cfg.common.max_queue_size,
        cfg.common.max_queue_size_in_bytes,
    );
    let counter = tokio::spawn(async move {
        let mut records = 0u64;
        while let Some(Ok(batch)) = rx.recv().await {
            records += batch.len() as u64;
        }
        records
    });
    let t = Instant::now();
    snapshot(&mut cap, &ctx, true, None, &tx).await.unwrap();
    drop(tx);
    let records = counter.await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(records, n);
    let rate = n as f64 / secs;
    let quick_after = quick();
    let hwm = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("")
        .to_string();
    println!(
        "snapshot of {n} rows to r events (no broker): {rate:.0} rows/s ({secs:.2} s); \
         mariadb --quick: {quick_rate:.0} rows/s before, {quick_after:.0} rows/s after; \
         ratio {:.2}; test process {hwm}",
        rate / quick_rate.max(quick_after)
    );
}
