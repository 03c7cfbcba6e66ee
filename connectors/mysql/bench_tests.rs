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
