//! Every MySQL/MariaDB column type through the real `sluice standalone`,
//! the private MariaDB and the broker: the same rows once by the snapshot
//! (op "r") and once by the binlog (op "c"), each field checked against
//! Debezium's default type mapping (schema type + logical name +
//! parameters) and its exact value.
//!
//! A 17 MB value (a row image over one 16 MB packet) has its own test,
//! read back byte for byte.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn db_name(tag: &str) -> String {
    format!("sl_{}", unique(tag).replace('-', "_"))
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Like `mariadb`, but the SQL goes through stdin: a 5 MB statement does
/// not fit in one command-line argument.
fn mariadb_stdin(sql: &str) {
    use std::io::Write;
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let mut child = std::process::Command::new("mariadb")
        .args([
            "--no-defaults",
            "-h",
            &env("SLUICE_MARIADB_HOST", "127.0.0.1"),
        ])
        .args([
            "-P",
            &env("SLUICE_MARIADB_PORT", "3307"),
            "-uroot",
            "--default-character-set=utf8mb4",
        ])
        .arg(format!(
            "-p{}",
            env("SLUICE_MARIADB_ROOT_PASSWORD", "sluice")
        ))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run the mariadb client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "SQL via stdin failed");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Kafka Connect's Decimal bytes: the unscaled value as Java's
/// `BigInteger.toByteArray()` (minimal big-endian two's complement).
fn decimal_bytes(text: &str, scale: usize) -> Vec<u8> {
    let neg = text.starts_with('-');
    let t = text.trim_start_matches('-');
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = format!("{int}{frac:0<scale$}");
    // Magnitude in base 256, big-endian.
    let mut mag: Vec<u8> = vec![0];
    for d in digits.bytes() {
        let mut carry = (d - b'0') as u32;
        for byte in mag.iter_mut().rev() {
            let v = *byte as u32 * 10 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            mag.insert(0, carry as u8);
            carry >>= 8;
        }
    }
    while mag.len() > 1 && mag[0] == 0 {
        mag.remove(0);
    }
    if mag[0] & 0x80 != 0 {
        mag.insert(0, 0);
    }
    if !neg {
        return mag;
    }
    // Two's complement of the magnitude, then drop redundant 0xFF bytes.
    let mut v: Vec<u8> = mag.iter().map(|b| !b).collect();
    for byte in v.iter_mut().rev() {
        let (s, o) = byte.overflowing_add(1);
        *byte = s;
        if !o {
            break;
        }
    }
    while v.len() > 1 && v[0] == 0xFF && v[1] & 0x80 != 0 {
        v.remove(0);
    }
    v
}

/// A non-UTF-8 byte pattern of `len` bytes (every byte value occurs).
fn blob(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ salt)
        .collect()
}

const COLUMNS: &str = "id INT PRIMARY KEY,
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
    mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
    bi BIGINT, biu BIGINT UNSIGNED,
    d65 DECIMAL(65,30), d10 DECIMAL(10,2),
    f FLOAT, dbl DOUBLE,
    b1 BIT(1), b10 BIT(10),
    dt DATE, tm TIME(6), dt0 DATETIME(0), dt3 DATETIME(3), dt6 DATETIME(6),
    ts TIMESTAMP(6) NULL DEFAULT NULL, y YEAR,
    c CHAR(10) CHARACTER SET utf8mb4, vc VARCHAR(100) CHARACTER SET utf8mb4,
    l1 VARCHAR(300) CHARACTER SET latin1,
    bn BINARY(6), vb VARBINARY(10), bl BLOB, tx TEXT CHARACTER SET utf8mb4,
    lb LONGBLOB, j JSON,
    e ENUM('small','medium','large'), st SET('a','b','c','d')";

const LATIN1_HIGH: std::ops::RangeInclusive<u8> = 0x80..=0xFF;

fn rows_sql(table: &str, id0: i32, lb: &[u8]) -> String {
    let latin: Vec<u8> = LATIN1_HIGH.collect();
    format!(
        "SET time_zone = '+00:00';
         INSERT INTO {table} VALUES
         ({a}, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
          -9223372036854775808, 18446744073709551615,
          '12345678901234567890123456789012345.123456789012345678901234567890', '-12345678.99',
          1.5, -2.5e300, b'1', b'1000000001',
          '2024-02-29', '-838:59:59.000000', '2024-02-29 12:34:56', '2024-02-29 12:34:56.789',
          '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012', 2024,
          'héllo😀', '🦀 crab ✓', X'{latin}', X'00FF80FE', X'C3283FFF', X'DEADBEEF00',
          'plain text ✓', X'{lb}', '{{\"a\": [1, 2.5, \"x\", null, true], \"b\": {{\"c\": \"é\"}}}}',
          'medium', 'a,c'),
         ({b}, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0,
          9223372036854775807, 0,
          '-0.000000000000000000000000000001', '0.00',
          -0.25, 0, b'0', b'0000000000',
          '1969-12-31', '12:34:56.789012', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999',
          '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01.000001', 1901,
          '', '', '', X'', X'', X'', '', X'', '[]', 'small', ''),
         ({n}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
        a = id0,
        b = id0 + 1,
        n = id0 + 2,
        latin = hex(&latin),
        lb = hex(lb),
    )
}

/// (field, schema type, logical name, parameters) as Debezium declares them.
fn expected_schema() -> Vec<(&'static str, &'static str, Option<&'static str>, Value)> {
    let dec = |p: &str, s: &str| json!({"scale": s, "connect.decimal.precision": p});
    vec![
        ("id", "int32", None, Value::Null),
        ("ti", "int16", None, Value::Null),
        ("tiu", "int16", None, Value::Null),
        ("si", "int16", None, Value::Null),
        ("siu", "int32", None, Value::Null),
        ("mi", "int32", None, Value::Null),
        ("miu", "int32", None, Value::Null),
        ("i", "int32", None, Value::Null),
        ("iu", "int64", None, Value::Null),
        ("bi", "int64", None, Value::Null),
        ("biu", "int64", None, Value::Null),
        (
            "d65",
            "bytes",
            Some("org.apache.kafka.connect.data.Decimal"),
            dec("65", "30"),
        ),
        (
            "d10",
            "bytes",
            Some("org.apache.kafka.connect.data.Decimal"),
            dec("10", "2"),
        ),
        ("f", "float", None, Value::Null),
        ("dbl", "double", None, Value::Null),
        ("b1", "boolean", None, Value::Null),
        (
            "b10",
            "bytes",
            Some("io.debezium.data.Bits"),
            json!({"length": "10"}),
        ),
        ("dt", "int32", Some("io.debezium.time.Date"), Value::Null),
        (
            "tm",
            "int64",
            Some("io.debezium.time.MicroTime"),
            Value::Null,
        ),
        (
            "dt0",
            "int64",
            Some("io.debezium.time.Timestamp"),
            Value::Null,
        ),
        (
            "dt3",
            "int64",
            Some("io.debezium.time.Timestamp"),
            Value::Null,
        ),
        (
            "dt6",
            "int64",
            Some("io.debezium.time.MicroTimestamp"),
            Value::Null,
        ),
        (
            "ts",
            "string",
            Some("io.debezium.time.ZonedTimestamp"),
            Value::Null,
        ),
        ("y", "int32", Some("io.debezium.time.Year"), Value::Null),
        ("c", "string", None, Value::Null),
        ("vc", "string", None, Value::Null),
        ("l1", "string", None, Value::Null),
        ("bn", "bytes", None, Value::Null),
        ("vb", "bytes", None, Value::Null),
        ("bl", "bytes", None, Value::Null),
        ("tx", "string", None, Value::Null),
        ("lb", "bytes", None, Value::Null),
        // MariaDB's JSON is LONGTEXT + json_valid(): Debezium's MariaDB
        // connector sends it as a plain string (no io.debezium.data.Json).
        ("j", "string", None, Value::Null),
        (
            "e",
            "string",
            Some("io.debezium.data.Enum"),
            json!({"allowed": "small,medium,large"}),
        ),
        (
            "st",
            "string",
            Some("io.debezium.data.EnumSet"),
            json!({"allowed": "a,b,c,d"}),
        ),
    ]
}

/// The `after` values Debezium gives the three rows (ids id0, id0+1, id0+2).
fn expected_after(id0: i64, lb: &[u8], latin1_text: &str) -> [Value; 3] {
    let d = |s: &str, scale| b64(&decimal_bytes(s, scale));
    let day = 19782i64; // 2024-02-29
    let noon = (12 * 3600 + 34 * 60 + 56) as i64; // 12:34:56
    let full = json!({
        "id": id0, "ti": -128, "tiu": 255, "si": -32768, "siu": 65535,
        "mi": -8388608, "miu": 16777215, "i": -2147483648i64, "iu": 4294967295i64,
        "bi": i64::MIN,
        // bigint.unsigned.handling.mode=long (the default): a Java long, so
        // 2^64-1 is -1, as Debezium documents.
        "biu": -1,
        "d65": d("12345678901234567890123456789012345.123456789012345678901234567890", 30),
        "d10": d("-12345678.99", 2),
        "f": 1.5, "dbl": -2.5e300,
        "b1": true, "b10": b64(&[0x01, 0x02]),
        "dt": day,
        "tm": -((838 * 3600 + 59 * 60 + 59) as i64) * 1_000_000,
        "dt0": (day * 86400 + noon) * 1000,
        "dt3": (day * 86400 + noon) * 1000 + 789,
        "dt6": (day * 86400 + noon) * 1_000_000 + 789_012,
        "ts": "2024-02-29T12:34:56.789012Z",
        "y": 2024,
        "c": "héllo😀", "vc": "🦀 crab ✓", "l1": latin1_text,
        "bn": b64(&[0x00, 0xFF, 0x80, 0xFE, 0, 0]),
        "vb": b64(&[0xC3, 0x28, 0x3F, 0xFF]),
        "bl": b64(&[0xDE, 0xAD, 0xBE, 0xEF, 0x00]),
        "tx": "plain text ✓",
        "lb": b64(lb),
        "j": "{\"a\": [1, 2.5, \"x\", null, true], \"b\": {\"c\": \"é\"}}",
        "e": "medium", "st": "a,c",
    });
    let edge = json!({
        "id": id0 + 1, "ti": 127, "tiu": 0, "si": 32767, "siu": 0,
        "mi": 8388607, "miu": 0, "i": 2147483647, "iu": 0,
        "bi": i64::MAX, "biu": 0,
        "d65": d("-0.000000000000000000000000000001", 30),
        "d10": d("0.00", 2),
        "f": -0.25, "dbl": 0.0,
        "b1": false, "b10": b64(&[0, 0]),
        "dt": -1,
        "tm": (noon * 1_000_000) + 789_012,
        "dt0": 0,
        "dt3": -1,
        "dt6": 253_402_300_799_999_999i64,
        "ts": "1970-01-01T00:00:01.000001Z",
        "y": 1901,
        "c": "", "vc": "", "l1": "",
        "bn": b64(&[0; 6]), "vb": "", "bl": "", "tx": "", "lb": "",
        "j": "[]", "e": "small", "st": "",
    });
    let mut nulls = serde_json::Map::new();
    for (f, ..) in expected_schema() {
        nulls.insert(f.to_string(), Value::Null);
    }
    nulls.insert("id".into(), json!(id0 + 2));
    [full, edge, Value::Object(nulls)]
}

fn check_schema(record_value: &[u8], what: &str) {
    let v: Value = serde_json::from_slice(record_value).unwrap();
    let after = v["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "after")
        .unwrap();
    let fields = after["fields"].as_array().unwrap();
    let want = expected_schema();
    let names: Vec<&str> = fields
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    let want_names: Vec<&str> = want.iter().map(|w| w.0).collect();
    assert_eq!(names, want_names, "{what}: after fields");
    for (f, (name, ty, logical, params)) in fields.iter().zip(want) {
        assert_eq!(f["type"], ty, "{what}: {name} type in {f}");
        assert_eq!(
            f["optional"],
            name != "id",
            "{what}: {name} optional in {f}"
        );
        assert_eq!(
            f["name"].as_str(),
            logical,
            "{what}: {name} logical name in {f}"
        );
        if !params.is_null() {
            assert_eq!(f["parameters"], params, "{what}: {name} parameters in {f}");
        }
    }
}

fn check_after(got: &Value, want: &Value, what: &str) {
    let (g, w) = (got.as_object().unwrap(), want.as_object().unwrap());
    assert_eq!(
        g.keys().collect::<Vec<_>>(),
        w.keys().collect::<Vec<_>>(),
        "{what}: field set"
    );
    for (k, wv) in w {
        let gv = &g[k];
        let same = match (gv.as_f64(), wv.as_f64()) {
            (Some(a), Some(b)) if gv.is_f64() || wv.is_f64() => a == b,
            _ => gv == wv,
        };
        if !same {
            let show = |v: &Value| {
                let s = v.to_string();
                if s.chars().count() > 200 {
                    let head: String = s.chars().take(200).collect();
                    format!("{head}... ({} chars)", s.len())
                } else {
                    s
                }
            };
            panic!("{what}: field {k}: got {}, want {}", show(gv), show(wv));
        }
    }
}

#[test]
fn every_column_type_arrives_as_debezium_shapes_it() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("types");
    let lb = blob(2_500_000, 0x5A);
    let big_len = 17 * 1024 * 1024 + 123;
    mariadb(&format!(
        "CREATE DATABASE {db};
         CREATE TABLE {db}.t ({COLUMNS});
         CREATE TABLE {db}.big (id INT PRIMARY KEY, v LONGBLOB);"
    ));
    mariadb_stdin(&rows_sql(&format!("{db}.t"), 1, &lb));
    // ~17 MB: one row image (and one text-protocol row) over a 16 MB packet.
    let big_sql = |id: i32| {
        format!(
            "INSERT INTO {db}.big VALUES ({id}, REPEAT(X'00FF80C328', {n}))",
            n = big_len / 5
        )
    };
    mariadb(&big_sql(1));
    // The server's own reading of the latin1 bytes 0x80..0xFF.
    let latin1_text = String::from_utf8(unhex(
        mariadb(&format!(
            "SELECT HEX(CONVERT(l1 USING utf8mb4)) FROM {db}.t WHERE id = 1"
        ))
        .trim(),
    ))
    .unwrap();
    assert_eq!(latin1_text.chars().count(), 128);

    let dir = TempDir::new("mysql-types");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-types");
    let prefix = unique("mt");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[
            ("producer.override.message.max.bytes", "67108864"),
            // Sluice's producer queue defaults to 16 MiB
            // (queue.buffering.max.kbytes=16384): a 23 MB JSON record never
            // fits in it and the send waits on QueueFull forever.
            ("producer.override.queue.buffering.max.kbytes", "131072"),
            ("topic.creation.default.max.message.bytes", "67108864"),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    reader.read_until("the snapshot of 3 rows", Duration::from_secs(120), |r| {
        r.len() >= 3
    });

    mariadb_stdin(&rows_sql(&format!("{db}.t"), 11, &lb));
    mariadb(&big_sql(2));
    reader.read_until("the streamed 3 rows", Duration::from_secs(120), |r| {
        r.len() >= 6
    });
    assert_eq!(reader.records.len(), 6);

    for (i, (key, value)) in reader.parsed.iter().enumerate() {
        let snapshot = i < 3;
        let id0 = if snapshot { 1 } else { 11 };
        let what = format!(
            "{} row {}",
            if snapshot { "snapshot" } else { "stream" },
            i % 3
        );
        assert_eq!(value["op"], if snapshot { "r" } else { "c" }, "{what}");
        assert_eq!(key["id"], id0 + (i % 3) as i64, "{what}: key");
        assert!(value["before"].is_null(), "{what}: before");
        check_schema(reader.records[i].value.as_ref().unwrap(), &what);
        let want = &expected_after(id0, &lb, &latin1_text)[i % 3];
        check_after(&value["after"], want, &what);
    }
    // Snapshot and stream carry identical `after` values (ids aside).
    for i in 0..3 {
        let mut a = reader.parsed[i].1["after"].clone();
        let mut b = reader.parsed[i + 3].1["after"].clone();
        a["id"] = Value::Null;
        b["id"] = Value::Null;
        assert_eq!(a, b, "row {i}: snapshot vs stream after");
    }

    // The 17 MB rows: both acknowledged by the broker (the snapshot's and
    // the stream's), and the task still running.
    let big_topic = format!("{prefix}.{db}.big");
    let consumer: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    wait_for(
        "two 17 MB records in the big table's topic",
        Duration::from_secs(120),
        || {
            use rdkafka::consumer::Consumer;
            match consumer.fetch_watermarks(&big_topic, 0, Duration::from_secs(5)) {
                Ok((lo, hi)) if hi - lo >= 2 => Some(()),
                _ => None,
            }
        },
    );
    let status = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}

/// Debezium's other mapping modes: time.precision.mode=connect (Kafka
/// Connect's Date, Time and Timestamp in milliseconds; TIMESTAMP stays
/// ZonedTimestamp) and binary.handling.mode (binary columns, keys
/// included, as base64, base64-url-safe or hex strings), the same in the
/// snapshot and the stream.
#[test]
fn connect_time_precision_and_binary_handling_modes() {
    let bootstrap = kafka_bootstrap();
    // X'FBFF00FB' (the first key, and the other binary columns), X'FBFF00FC'
    // (the key after the update).
    for (mode, old_key, new_key) in [
        ("base64", "+/8A+w==", "+/8A/A=="),
        ("base64-url-safe", "-_8A-w==", "-_8A_A=="),
        ("hex", "fbff00fb", "fbff00fc"),
    ] {
        let db = db_name("modes");
        mariadb(&format!(
            "CREATE DATABASE {db};
             CREATE TABLE {db}.t (k VARBINARY(8) PRIMARY KEY, d DATE, t3 TIME(3), t6 TIME(6),
               dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(6) NULL, b BLOB, bin BINARY(4), bits BIT(12));
             INSERT INTO {db}.t VALUES (X'FBFF00FB', '2024-02-29', '12:34:56.789', '-01:02:03.456789',
               '2024-02-29 12:34:56', '1969-12-31 23:59:59.999999', NULL, X'FBFF00FB', X'FBFF00FB', b'101');"
        ));
        let dir = TempDir::new("mysql-modes");
        let s = Sluice::start(dir.path(), &[]);
        let name = unique("mysql-modes");
        let prefix = unique("mm");
        let cfg = mysql_connector_config(
            &name,
            &prefix,
            &db,
            &dir.path().join("h.jsonl"),
            &[
                ("time.precision.mode", "connect"),
                ("binary.handling.mode", mode),
            ],
        );
        let r = s.post("/connectors", &cfg.to_string());
        assert_eq!(r.status, 201, "{}", r.body);
        let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
        reader.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
        mariadb(&format!(
            "UPDATE {db}.t SET k = X'FBFF00FC' WHERE k = X'FBFF00FB';"
        ));
        // The key change: d (+ tombstone) for the old key, c for the new.
        reader.read_until("the key change", Duration::from_secs(60), |r| {
            r.iter().any(|(_, v)| v["op"] == "c")
        });
        for (i, rec) in reader.records.iter().enumerate() {
            let Some(value) = rec.value.as_deref() else {
                continue;
            };
            let v: Value = serde_json::from_slice(value).unwrap();
            let fields = v["schema"]["fields"][1]["fields"].as_array().unwrap();
            let schema_of = |f: &str| {
                fields
                    .iter()
                    .find(|x| x["field"] == f)
                    .map(|x| (x["type"].clone(), x["name"].clone()))
                    .unwrap()
            };
            let named = |t: &str, n: &str| (json!(t), json!(n));
            assert_eq!(
                schema_of("d"),
                named("int32", "org.apache.kafka.connect.data.Date")
            );
            assert_eq!(
                schema_of("t3"),
                named("int32", "org.apache.kafka.connect.data.Time")
            );
            assert_eq!(
                schema_of("t6"),
                named("int32", "org.apache.kafka.connect.data.Time")
            );
            assert_eq!(
                schema_of("dt"),
                named("int64", "org.apache.kafka.connect.data.Timestamp")
            );
            assert_eq!(
                schema_of("dt6"),
                named("int64", "org.apache.kafka.connect.data.Timestamp")
            );
            assert_eq!(
                schema_of("ts"),
                named("string", "io.debezium.time.ZonedTimestamp")
            );
            for f in ["k", "b", "bin"] {
                assert_eq!(schema_of(f), (json!("string"), Value::Null), "{mode}: {f}");
            }
            assert_eq!(
                schema_of("bits"),
                named("bytes", "io.debezium.data.Bits"),
                "Bits stay bytes"
            );
            let p = &v["payload"];
            let row = if p["op"] == "d" {
                &p["before"]
            } else {
                &p["after"]
            };
            let key_text = if p["op"] == "c" { new_key } else { old_key };
            assert_eq!(row["k"], json!(key_text), "{mode} record {i}: {row}");
            assert_eq!(row["b"], json!(old_key), "{mode}");
            assert_eq!(row["bin"], json!(old_key), "{mode}");
            assert_eq!(row["d"], json!(19782), "days since the epoch");
            assert_eq!(row["t3"], json!(45_296_789), "ms of the day");
            // Debezium's connect mode takes TIME only within 00:00:00..24:00:00.
            assert_eq!(row["t6"], Value::Null, "negative TIME: null");
            assert_eq!(row["dt"], json!(1_709_210_096_000_i64));
            assert_eq!(row["dt6"], json!(-1), "microseconds floored to ms");
            let key: Value = serde_json::from_slice(rec.key.as_deref().unwrap()).unwrap();
            assert_eq!(
                key["payload"]["k"], row["k"],
                "the key column is encoded too"
            );
        }
        let ops: Vec<&str> = reader
            .parsed
            .iter()
            .map(|(_, v)| v["op"].as_str().unwrap_or("tombstone"))
            .collect();
        assert_eq!(ops, ["r", "d", "tombstone", "c"], "{mode}");
    }
}

/// Spatial columns as Debezium maps them: POINT as io.debezium.data.geometry.Point
/// (x, y, wkb, srid), other geometries as Geometry (wkb, srid); the same in
/// the snapshot and the stream.
#[test]
fn point_and_geometry_columns_are_debeziums_point_and_geometry() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("geo");
    mariadb(&format!(
        "CREATE DATABASE {db};
         CREATE TABLE {db}.t (id INT PRIMARY KEY, p POINT, g GEOMETRY);
         INSERT INTO {db}.t VALUES (1, ST_GeomFromText('POINT(1.5 -2.25)', 4326), ST_GeomFromText('LINESTRING(0 0, 1 1)'));"
    ));
    let dir = TempDir::new("mysql-geo");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-geo");
    let prefix = unique("mg");
    let cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("h.jsonl"), &[]);
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    reader.read_until("the snapshot", Duration::from_secs(60), |r| !r.is_empty());
    mariadb(&format!(
        "INSERT INTO {db}.t VALUES (2, ST_GeomFromText('POINT(1.5 -2.25)', 4326), ST_GeomFromText('LINESTRING(0 0, 1 1)'));"
    ));
    reader.read_until("the streamed insert", Duration::from_secs(60), |r| {
        r.len() >= 2
    });
    let wkb = |h: &str| {
        mariadb(&format!(
            "SELECT HEX(ST_AsWKB({h})) FROM {db}.t WHERE id = 1"
        ))
        .trim()
        .to_string()
    };
    let (p_wkb, g_wkb) = (b64(&unhex(&wkb("p"))), b64(&unhex(&wkb("g"))));
    for rec in &reader.records {
        let v: Value = serde_json::from_slice(rec.value.as_deref().unwrap()).unwrap();
        let fields = v["schema"]["fields"][1]["fields"].as_array().unwrap();
        let p_schema = &fields[1];
        assert_eq!(
            p_schema["name"], "io.debezium.data.geometry.Point",
            "{p_schema}"
        );
        assert_eq!(p_schema["version"], 1);
        let names: Vec<&str> = p_schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["x", "y", "wkb", "srid"]);
        assert_eq!(fields[2]["name"], "io.debezium.data.geometry.Geometry");
        assert_eq!(fields[2]["version"], 1);
        let after = &v["payload"]["after"];
        assert_eq!(
            after["p"],
            json!({"x": 1.5, "y": -2.25, "wkb": p_wkb, "srid": 4326}),
            "{}",
            v["payload"]["op"]
        );
        assert_eq!(
            after["g"],
            // SRID 0 is "unset": Debezium's null.
            json!({"wkb": g_wkb, "srid": null}),
            "{}",
            v["payload"]["op"]
        );
    }
    let ops: Vec<&str> = reader
        .parsed
        .iter()
        .map(|(_, v)| v["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["r", "c"]);
}

/// A binlog value over 16 MB (its row image spans two packets), read back
/// byte for byte from the shared broker (message.max.bytes 64 MiB), with
/// the settings a Kafka Connect user raises for large records.
#[test]
fn a_value_over_16_mb_arrives_byte_for_byte() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("huge");
    let n = 17 * 1024 * 1024 / 5 + 1;
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.big (id INT PRIMARY KEY, v LONGBLOB);"
    ));
    let dir = TempDir::new("mysql-huge");
    let s = Sluice::start(dir.path(), &[("bootstrap.servers", &bootstrap)]);
    let name = unique("mysql-huge");
    let prefix = unique("mh");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        &db,
        &dir.path().join("h.jsonl"),
        &[
            ("snapshot.mode", "no_data"),
            ("producer.override.max.request.size", "62914560"),
            ("topic.creation.default.max.message.bytes", "62914560"),
        ],
    );
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    s.wait_committed_offset(&name, Duration::from_secs(60));
    mariadb(&format!(
        "INSERT INTO {db}.big VALUES (1, REPEAT(X'00FF80C328', {n})); INSERT INTO {db}.big VALUES (2, X'01');"
    ));
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.big"));
    reader.read_until(
        "the large row and the one after",
        Duration::from_secs(180),
        |r| r.len() >= 2,
    );
    let want = b64(&[0x00u8, 0xFF, 0x80, 0xC3, 0x28].repeat(n));
    let after = &reader.parsed[0].1["after"];
    assert_eq!(after["id"], 1);
    let got = after["v"].as_str().unwrap();
    assert_eq!(got.len(), want.len(), "length of the base64 value");
    assert!(got == want, "the 17 MB value differs from what was written");
    assert_eq!(reader.parsed[1].1["after"]["v"], b64(&[1]));
    let status = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}

/// Text in each charset Sluice decodes besides utf8 and latin1, as the
/// snapshot reads it (op r) and as the binlog carries it (op c): every
/// value arrives as the string that was written (the client sends UTF-8,
/// the server stores the column's charset).
#[test]
fn text_in_other_charsets_arrives_as_written() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("charsets");
    let samples: &[(&str, &str)] = &[
        ("latin2", "Łódź żółć"),
        ("latin7", "Ąčęėįšųūž"),
        ("greek", "Καλημέρα"),
        ("hebrew", "שלום"),
        ("cp1250", "Žluťoučký kůň"),
        ("cp1251", "Привет, мир"),
        ("cp1256", "مرحبا"),
        ("cp1257", "Ąčęėįšųūž"),
        ("cp866", "Привет"),
        ("koi8r", "Привет"),
        ("koi8u", "Привіт"),
        ("macroman", "café ©"),
        ("tis620", "สวัสดี"),
        ("gbk", "你好，世界"),
        ("gb2312", "你好"),
        ("big5", "臺灣您好"),
        ("ujis", "こんにちは"),
        ("eucjpms", "こんにちは"),
        ("sjis", "こんにちは"),
        ("cp932", "こんにちは①"),
        ("euckr", "안녕하세요"),
        ("ucs2", "héllo ✓"),
        ("utf16", "héllo 😀"),
        ("utf16le", "héllo 😀"),
        ("utf32", "héllo 😀"),
    ];
    let columns: Vec<String> = samples
        .iter()
        .map(|(cs, _)| format!("c_{cs} VARCHAR(40) CHARACTER SET {cs}"))
        .collect();
    let insert = |id: i32| {
        let values: Vec<String> = samples.iter().map(|(_, t)| format!("'{t}'")).collect();
        format!("INSERT INTO {db}.t VALUES ({id}, {});", values.join(", "))
    };
    mariadb_stdin(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, {}); {}",
        columns.join(", "),
        insert(1)
    ));
    let dir = TempDir::new("mysql-charsets");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-charsets");
    let prefix = unique("mcs");
    let cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("h.jsonl"), &[]);
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    s.wait_committed_offset(&name, Duration::from_secs(60));
    mariadb_stdin(&insert(2));
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    reader.read_until(
        "the snapshot row and the streamed one",
        Duration::from_secs(60),
        |r| r.len() >= 2,
    );
    for (i, op) in ["r", "c"].into_iter().enumerate() {
        let v = &reader.parsed[i].1;
        assert_eq!(v["op"], json!(op), "{v}");
        for (cs, text) in samples {
            assert_eq!(v["after"][format!("c_{cs}")], json!(text), "{cs} ({op})");
        }
    }
    s.wait_status(&name, "still RUNNING", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
}

/// event.processing.failure.handling.mode on a row event Sluice cannot
/// decode (text in cp852, a charset it does not decode, that is not plain
/// UTF-8): `warn` skips that event with a warning naming its position and
/// streams the rows after it; the default `fail` fails the task naming the
/// event and the option.
#[test]
fn an_undecodable_row_event_is_skipped_with_warn_and_fails_the_task_by_default() {
    let bootstrap = kafka_bootstrap();
    let db = db_name("undecodable");
    mariadb_stdin(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20) CHARACTER SET cp852);"
    ));
    let dir = TempDir::new("mysql-undecodable");
    let s = Sluice::start(dir.path(), &[]);
    let mut names = Vec::new();
    for mode in ["warn", "fail"] {
        let name = unique(&format!("mysql-undecodable-{mode}"));
        let prefix = unique(&format!("mund{mode}"));
        let mut extra = vec![("snapshot.mode", "no_data")];
        if mode == "warn" {
            extra.push(("event.processing.failure.handling.mode", "warn"));
        }
        let cfg = mysql_connector_config(
            &name,
            &prefix,
            &db,
            &dir.path().join(format!("h-{mode}.jsonl")),
            &extra,
        );
        assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
        s.wait_committed_offset(&name, Duration::from_secs(60));
        names.push((name, prefix));
    }
    // Three row events: plain ASCII, then bytes that are not UTF-8, then
    // plain ASCII again.
    mariadb_stdin(&format!(
        "INSERT INTO {db}.t VALUES (1, 'abc'); INSERT INTO {db}.t VALUES (2, 'Łódź'); INSERT INTO {db}.t VALUES (3, 'xyz');"
    ));
    let (warn_name, warn_prefix) = &names[0];
    let mut reader = TopicReader::new(&bootstrap, &format!("{warn_prefix}.{db}.t"));
    reader.read_until("rows 1 and 3", Duration::from_secs(60), |r| {
        r.iter().any(|(k, _)| k["id"] == json!(3))
    });
    let ids: Vec<Value> = reader.parsed.iter().map(|(k, _)| k["id"].clone()).collect();
    assert_eq!(ids, vec![json!(1), json!(3)], "row 2 skipped, nothing else");
    s.wait_status(warn_name, "warn: still RUNNING", |v| {
        v["tasks"][0]["state"] == "RUNNING"
    });
    let log = s.log_text();
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("skipping the rest of the row event"))
        .collect();
    assert_eq!(warned.len(), 1, "one warning\n{log}");
    assert!(
        warned[0].contains(&format!("{db}.t in the row event at mariadb-bin."))
            && warned[0].contains("charset cp852"),
        "the warning names the event's position and the problem: {}",
        warned[0]
    );

    let (fail_name, _) = &names[1];
    let status = s.wait_status(fail_name, "fail: the task FAILED", |v| {
        v["tasks"][0]["state"] == "FAILED"
    });
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("charset cp852")
            && trace.contains("event.processing.failure.handling.mode=warn"),
        "the trace names the problem and the option: {trace}"
    );
}

#[test]
fn enum_and_set_labels_keep_their_case() {
    // The labels are data: ENUM('Red') is "Red", by snapshot and by binlog,
    // whichever source the labels come from (information_schema, or the
    // TABLE_MAP with binlog_row_metadata=FULL).
    let bootstrap = kafka_bootstrap();
    let db = db_name("enumcase");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY,
           e ENUM('Red','GREEN','blue'), s SET('Xa','yB','zz'));
         INSERT INTO {db}.t VALUES (1, 'Red', 'Xa,yB');"
    ));
    let dir = TempDir::new("mysql-enumcase");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("mysql-enumcase");
    let prefix = unique("mec");
    let cfg = mysql_connector_config(&name, &prefix, &db, &dir.path().join("h.jsonl"), &[]);
    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.t"));
    reader.read_until("the snapshot row", Duration::from_secs(60), |r| {
        !r.is_empty()
    });
    mariadb(&format!(
        "INSERT INTO {db}.t VALUES (2, 'GREEN', 'yB,zz'), (3, 'blue', 'Xa');"
    ));
    reader.read_until("three rows", Duration::from_secs(60), |r| r.len() >= 3);
    let got: Vec<(Value, Value)> = reader
        .parsed
        .iter()
        .map(|(_, v)| (v["after"]["e"].clone(), v["after"]["s"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!("Red"), json!("Xa,yB")),
            (json!("GREEN"), json!("yB,zz")),
            (json!("blue"), json!("Xa")),
        ]
    );
}
