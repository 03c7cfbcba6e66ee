//! Every column type: rows written to the private MariaDB, read back from
//! the binlog, decoded, and compared with what the server itself returns
//! for the same rows (rendered by SQL into Debezium's representation).

use sluice_api::data::decimal::to_plain_string;
use sluice_api::data::Value;

use super::binlog::{current_position, StartPosition};
use super::column::DecodeOptions;
use super::event::RowsEvent;
use super::live_tests::{read_all, Seen};
use super::rows::decode_row;
use super::table::{load_column_info, TableDecoder};
use super::testdb::connect_root;
use super::wire::Reader;

const DDL: &str = "CREATE TABLE sluice_rows.all_types (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  f FLOAT, d DOUBLE, dec1 DECIMAL(10,2), dec2 DECIMAL(65,30), dec3 DECIMAL(5,0),
  dt DATE, tm TIME, tm6 TIME(6), dtm DATETIME, dtm3 DATETIME(3), dtm6 DATETIME(6),
  ts TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL, yr YEAR,
  b1 BIT(1), b12 BIT(12), b64 BIT(64),
  c CHAR(10), vc VARCHAR(300), l1 VARCHAR(20) CHARACTER SET latin1, tx TEXT, ltx LONGTEXT,
  bn BINARY(4), vb VARBINARY(10), bl BLOB,
  en ENUM('red','green','blue'), st SET('a','b','c','d'), js JSON
) DEFAULT CHARSET=utf8mb4";

/// SQL rendering each column the way `render` renders the decoded value.
const SELECT: &str = "SELECT id, ti, tiu, si, siu, mi, miu, i, iu, bi, CAST(biu AS SIGNED),
  f, d, dec1, dec2, dec3,
  DATEDIFF(dt, '1970-01-01'),
  TIME_TO_SEC(tm) * 1000000, CAST(TIME_TO_SEC(tm6) * 1000000 AS SIGNED),
  TIMESTAMPDIFF(MICROSECOND, '1970-01-01', dtm) DIV 1000, TIMESTAMPDIFF(MICROSECOND, '1970-01-01', dtm3) DIV 1000,
  TIMESTAMPDIFF(MICROSECOND, '1970-01-01', dtm6),
  DATE_FORMAT(ts, '%Y-%m-%dT%H:%i:%sZ'), DATE_FORMAT(ts6, '%Y-%m-%dT%H:%i:%s.%fZ'), yr,
  b1 + 0, HEX(REVERSE(UNHEX(LPAD(HEX(b12), 4, '0')))), HEX(REVERSE(UNHEX(LPAD(HEX(b64), 16, '0')))),
  c, vc, l1, tx, ltx, HEX(bn), HEX(vb), HEX(bl), en, st, js
  FROM sluice_rows.all_types ORDER BY id";

const INSERTS: &[&str] = &[
    "INSERT INTO sluice_rows.all_types VALUES (1,
      -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
      -1.5, -2.2250738585072014e-308, -12345678.91, -12345678901234567890123456789012345.123456789012345678901234567891, -99999,
      '1000-01-01', '-838:59:59', '-00:00:01.000001', '1000-01-01 00:00:00', '1970-01-01 00:00:00.001', '9999-12-31 23:59:59.999999',
      '1970-01-01 00:00:01', '2038-01-19 03:14:07.999999', 1901,
      b'1', b'101010101010', b'1000000000000000000000000000000000000000000000000000000000000001',
      'abc', REPEAT('é', 300), CONVERT(UNHEX('80E9FF81') USING latin1), 'tëxt', REPEAT('x', 70000),
      UNHEX('0102'), UNHEX('00FF00'), UNHEX('DEADBEEF00'),
      'blue', 'a,d', '{\"k\": [1, 2.5, \"s\"]}')",
    "INSERT INTO sluice_rows.all_types VALUES (2,
      127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
      3.25, 1.7976931348623157e308, 0.01, 0.000000000000000000000000000001, 0,
      '9999-12-31', '838:59:59', '12:34:56.789012', '2024-02-29 23:59:58', '2024-02-29 23:59:58.123', '2024-02-29 23:59:58.000001',
      '2024-06-20 13:37:03', '2024-06-20 13:37:03.000100', 2155,
      b'0', b'000000000001', b'0',
      '', '', '', '', '',
      UNHEX(''), UNHEX(''), UNHEX(''),
      'red', '', '[]')",
    "INSERT INTO sluice_rows.all_types (id) VALUES (3)",
];

/// The decoded value as the SELECT above prints it (NULL as None).
fn render(v: &Value, scale: Option<i32>, name: &str) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Boolean(b) => (*b as u8).to_string(),
        Value::Int16(x) => x.to_string(),
        Value::Int32(x) => x.to_string(),
        Value::Int64(x) => x.to_string(),
        Value::Float32(x) => x.to_string(),
        Value::Float64(x) => format!("{x:e}"),
        Value::String(s) => s.to_string(),
        Value::Bytes(b) if scale.is_some() => to_plain_string(b, scale.unwrap_or(0)),
        Value::Bytes(b)
            if name.starts_with('b') && !name.starts_with("bl") && !name.starts_with("bn") =>
        {
            b.iter().map(|x| format!("{x:02X}")).collect()
        }
        Value::Bytes(b) => b.iter().map(|x| format!("{x:02X}")).collect(),
        other => format!("{other:?}"),
    })
}

#[tokio::test]
async fn every_column_type_decodes_as_the_server_reads_it() {
    let mut c = connect_root().await;
    c.exec("SET time_zone = '+00:00'").await.unwrap();
    c.exec("CREATE DATABASE IF NOT EXISTS sluice_rows")
        .await
        .unwrap();
    c.exec("DROP TABLE IF EXISTS sluice_rows.all_types")
        .await
        .unwrap();
    c.exec(DDL).await.unwrap();
    let (file, pos) = current_position(&mut c).await.unwrap();
    for sql in INSERTS {
        c.exec(sql).await.unwrap();
    }
    let infos = load_column_info(&mut c, "sluice_rows", "all_types")
        .await
        .unwrap();
    assert!(
        infos.iter().any(|i| i.name == "js" && i.is_json),
        "{infos:?}"
    );
    let expected = c.query(SELECT).await.unwrap();

    let (seen, _) = read_all(StartPosition::File { file, pos }, 9201).await;
    // Other tests write meanwhile: only this table's rows events.
    let mut decoder: Option<(u64, TableDecoder)> = None;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for s in &seen {
        match s {
            Seen::TableMap(m) if m.table == "all_types" => {
                let d = TableDecoder::new(
                    m,
                    &infos,
                    &DecodeOptions::default(),
                    "t.sluice_rows.all_types.Value",
                );
                decoder = Some((m.table_id, d.unwrap()));
            }
            Seen::Rows(t, body) => {
                let ev = RowsEvent::parse(*t, body, 6).unwrap().unwrap();
                let Some((_, d)) = decoder.as_ref().filter(|(id, _)| *id == ev.table_id) else {
                    continue;
                };
                let mut r = Reader::new(ev.rows);
                while !r.is_empty() {
                    let mut out = Vec::new();
                    decode_row(&mut r, &d.plans, ev.present, &mut out).unwrap();
                    rows.push(out);
                }
            }
            _ => {}
        }
    }
    let (_, d) = decoder.expect("a TABLE_MAP for all_types");
    assert_eq!(rows.len(), 3);
    let mut mismatches = Vec::new();
    for (ri, row) in rows.iter().enumerate() {
        for (ci, plan) in d.plans.iter().enumerate() {
            let scale = plan.schema.parameter("scale").and_then(|s| s.parse().ok());
            let got = render(&row[ci], scale, &plan.name);
            let want = expected.rows[ri][ci]
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            let want = match (plan.name.as_str(), want) {
                // The server prints doubles in its own shortest form.
                ("d", Some(w)) => Some(format!("{:e}", w.parse::<f64>().unwrap())),
                (_, w) => w,
            };
            if got != want {
                mismatches.push(format!(
                    "row {} column {}: decoded {:?}, server {:?}",
                    ri + 1,
                    plan.name,
                    got,
                    want
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // Schemas: a few of Debezium's logical names.
    let by = |n: &str| d.plans.iter().find(|p| p.name == n).unwrap().schema.clone();
    assert_eq!(
        by("dec1").name(),
        Some("org.apache.kafka.connect.data.Decimal")
    );
    assert_eq!(by("dtm6").name(), Some("io.debezium.time.MicroTimestamp"));
    assert_eq!(by("dtm3").name(), Some("io.debezium.time.Timestamp"));
    assert_eq!(by("ts").name(), Some("io.debezium.time.ZonedTimestamp"));
    // MariaDB's JSON is LONGTEXT: a plain string, as Debezium has it.
    assert_eq!(by("js").name(), None);
    assert_eq!(by("b12").name(), Some("io.debezium.data.Bits"));
    assert_eq!(by("en").parameter("allowed"), Some("red,green,blue"));
}

/// MariaDB's UUID from the binlog (BINARY(16) with trailing zero bytes
/// dropped) reads as the server prints it. (INET4/INET6 are checked against
/// the server's texts in column.rs: a table with them on the shared server
/// would fail any Debezium connector streaming meanwhile, whose parser
/// cannot read their DDL.)
#[tokio::test]
async fn uuid_decodes_as_the_server_prints_it() {
    let mut c = connect_root().await;
    c.exec("CREATE DATABASE IF NOT EXISTS sluice_rows")
        .await
        .unwrap();
    c.exec("DROP TABLE IF EXISTS sluice_rows.fixed")
        .await
        .unwrap();
    c.exec("CREATE TABLE sluice_rows.fixed (id INT PRIMARY KEY, u UUID)")
        .await
        .unwrap();
    let (file, pos) = current_position(&mut c).await.unwrap();
    c.exec(
        "INSERT INTO sluice_rows.fixed VALUES
         (1, '123e4567-e89b-12d3-a456-426614174000'), (2, '00000000-0000-0000-0000-000000000000'),
         (3, 'ffffffff-ffff-4fff-bfff-ffffffffff00'), (4, '00000000-0000-0000-0000-000000000001'),
         (5, NULL)",
    )
    .await
    .unwrap();
    let infos = load_column_info(&mut c, "sluice_rows", "fixed")
        .await
        .unwrap();
    let expected = c
        .query("SELECT id, CAST(u AS CHAR) FROM sluice_rows.fixed ORDER BY id")
        .await
        .unwrap();
    let (seen, _) = read_all(StartPosition::File { file, pos }, 9202).await;
    c.exec("DROP TABLE sluice_rows.fixed").await.unwrap();
    // Other tests write meanwhile: only this table's rows events.
    let mut decoder: Option<(u64, TableDecoder)> = None;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for s in &seen {
        match s {
            Seen::TableMap(m) if m.table == "fixed" => {
                let d = TableDecoder::new(m, &infos, &DecodeOptions::default(), "t.f.Value");
                decoder = Some((m.table_id, d.unwrap()));
            }
            Seen::Rows(t, body) => {
                let ev = RowsEvent::parse(*t, body, 6).unwrap().unwrap();
                let Some((_, d)) = decoder.as_ref().filter(|(id, _)| *id == ev.table_id) else {
                    continue;
                };
                let mut r = Reader::new(ev.rows);
                while !r.is_empty() {
                    let mut out = Vec::new();
                    decode_row(&mut r, &d.plans, ev.present, &mut out).unwrap();
                    rows.push(out);
                }
            }
            _ => {}
        }
    }
    let (_, d) = decoder.expect("a TABLE_MAP for fixed");
    assert_eq!(d.plans[1].schema.name(), Some("io.debezium.data.Uuid"));
    assert_eq!(rows.len(), expected.rows.len());
    for (ri, row) in rows.iter().enumerate() {
        let want = expected.rows[ri][1]
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned());
        let got = match &row[1] {
            Value::Null => None,
            Value::String(s) => Some(s.to_string()),
            other => panic!("row {ri}: {other:?}"),
        };
        assert_eq!(got, want, "row {}", ri + 1);
    }
}
