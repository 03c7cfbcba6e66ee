//! The parity suite for the MySQL/MariaDB source: the same connector JSON
//! POSTed to the real Debezium (io.debezium.connector.mariadb.MariaDbConnector
//! 3.5.0.Final on Kafka Connect 4.4, `scripts/debezium up`) and to Sluice,
//! both reading the same MariaDB; every topic of both prefixes read back with
//! librdkafka and compared record by record (see tests/parity_support for
//! what is normalised: the prefix, the connector's server id, the envelope's
//! processing time, heartbeat timing; nothing else).
//!
//! Debezium is the oracle. A difference fails the test unless the one
//! KNOWN table below explains it; an entry that explains nothing fails too.
//! Every difference is printed grouped by JSON path and appended to
//! /tmp/parity-diffs.txt.
//!
//!   scripts/test -p sluice --test parity_mariadb -- --nocapture
//!
//! (`scripts/debezium up` is run by the test itself.)

mod common;
mod parity_support;

use std::sync::Mutex;

use parity_support::*;

/// Differences explained, each with its reason. Empty: the suite's job is
/// to find them first.
const KNOWN: &[Known] = &[];

/// One scenario at a time: they share the Debezium worker, the MariaDB and
/// two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn check(sc: &Scenario) {
    let outcome = run(sc);
    judge(sc.name, &outcome, KNOWN);
}

/// JsonConverter without schemas, set in the connector config (with the
/// converter class: Kafka Connect ignores a connector's
/// `key.converter.*` keys unless it sets `key.converter` too).
fn schemaless() -> Variant {
    Variant::new(
        "schemaless",
        &[
            ("key.converter", "org.apache.kafka.connect.json.JsonConverter"),
            ("key.converter.schemas.enable", "false"),
            ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
            ("value.converter.schemas.enable", "false"),
        ],
    )
}

// ------------------------------------------------------------------ 1. types

const TYPES_TABLES: &str = "
CREATE TABLE ints (id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED, bo BOOLEAN, tz TINYINT(3) ZEROFILL, i11 INT(11));
CREATE TABLE nums (id INT PRIMARY KEY,
  d65 DECIMAL(65,30), d10 DECIMAL(10,2), d0 DECIMAL(5,0), du DECIMAL(12,4) UNSIGNED,
  n NUMERIC(20,10), f FLOAT, fp FLOAT(7,3), dbl DOUBLE, dblp DOUBLE(12,4),
  b1 BIT(1), b8 BIT(8), b10 BIT(10), b64 BIT(64));
CREATE TABLE times (id INT PRIMARY KEY,
  d DATE, t0 TIME, t1 TIME(1), t3 TIME(3), t6 TIME(6),
  dt0 DATETIME, dt1 DATETIME(1), dt3 DATETIME(3), dt6 DATETIME(6),
  ts0 TIMESTAMP NULL DEFAULT NULL, ts1 TIMESTAMP(1) NULL DEFAULT NULL,
  ts3 TIMESTAMP(3) NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL, y YEAR);
CREATE TABLE strs (id INT PRIMARY KEY,
  c CHAR(10) CHARACTER SET utf8mb4, vc VARCHAR(100) CHARACTER SET utf8mb4,
  tt TINYTEXT CHARACTER SET utf8mb4, tx TEXT CHARACTER SET utf8mb4,
  mt MEDIUMTEXT CHARACTER SET utf8mb4, lt LONGTEXT CHARACTER SET utf8mb4,
  l1 VARCHAR(50) CHARACTER SET latin1, l1c CHAR(10) CHARACTER SET latin1,
  l1t TEXT CHARACTER SET latin1,
  e ENUM('small','medium','large'), s SET('a','b','c','d'), j JSON);
CREATE TABLE bins (id INT PRIMARY KEY,
  bn BINARY(6), vb VARBINARY(10), tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB);
";

/// The edge values of every type, as rows `base+1..`. YEAR 0000 only while
/// streaming: Debezium's snapshot of it fails the task (the MariaDB JDBC
/// driver's YearColumn.getDefaultText calls java.sql.Date.valueOf on it:
/// IllegalArgumentException).
fn types_rows(base: i32, streaming: bool) -> String {
    let r = |k: i32| base + k;
    format!(
        "SET SESSION sql_mode = ''; SET time_zone = '+00:00';
INSERT INTO ints VALUES
 ({a}, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, FALSE, 0, -1),
 ({b}, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
       9223372036854775807, 18446744073709551615, TRUE, 255, 1),
 ({c}, 0, 128, 0, 32768, 0, 8388608, 0, 2147483648, 0, 9223372036854775808, 2, 7, 0),
 ({n}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO nums VALUES
 ({a}, '12345678901234567890123456789012345.123456789012345678901234567890', '-12345678.99',
       '-99999', '0.0001', '-1234567890.0123456789', 3.40282e38, -9999.999,
       1.7976931348623157e308, -12345678.1234, b'1', b'10000000', b'1000000001',
       b'1111111111111111111111111111111111111111111111111111111111111111'),
 ({b}, '-99999999999999999999999999999999999.999999999999999999999999999999', '0.00',
       '0', '99999999.9999', '0.0000000001', -1.17549e-38, 0.5,
       -2.2250738585072014e-308, 0, b'0', b'00000000', b'0000000000', b'0'),
 ({c}, '-0.000000000000000000000000000001', '99999999.99', '99999', '0', '1', 1.5, -0.25,
       -2.5e300, 0.1, b'1', b'11111111', b'1111111111',
       b'1000000000000000000000000000000000000000000000000000000000000000'),
 ({n}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO times VALUES
 ({a}, '0000-00-00', '00:00:00', '00:00:00.0', '00:00:00.000', '00:00:00.000000',
       '0000-00-00 00:00:00', '0000-00-00 00:00:00.0', '0000-00-00 00:00:00.000',
       '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.0',
       '0000-00-00 00:00:00.000', '0000-00-00 00:00:00.000000', 1999),
 ({b}, '1000-01-01', '-838:59:59', '-838:59:59.9', '-838:59:59.999', '-838:59:59.999999',
       '1000-01-01 00:00:00', '1000-01-01 00:00:00.1', '1000-01-01 00:00:00.001',
       '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01', '1970-01-01 00:00:01.1',
       '1970-01-01 00:00:01.001', '1970-01-01 00:00:01.000001', 1901),
 ({c}, '9999-12-31', '838:59:59', '838:59:59.9', '838:59:59.999', '838:59:59.999999',
       '9999-12-31 23:59:59', '9999-12-31 23:59:59.9', '9999-12-31 23:59:59.999',
       '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', '2038-01-19 03:14:07.9',
       '2038-01-19 03:14:07.999', '2038-01-19 03:14:07.999999', 2155),
 ({d}, '2024-02-29', '-00:00:01', '-00:00:00.5', '-01:02:03.456', '-01:02:03.456789',
       '1969-12-31 23:59:59', '1969-12-31 23:59:59.5', '2024-02-29 12:34:56.789',
       '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56', '2024-02-29 12:34:56.7',
       '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789012', 1970),
 ({n}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
{year0}
INSERT INTO strs VALUES
 ({a}, 'héllo😀', '🦀 crab ✓', 'ü', 'plain text ✓', 'Ω', '长文本',
       'Grüße, café, ñ, €, œ', 'àé  ', 'Ünïcödé ¿¡ ÿ',
       'medium', 'a,c', '{{\"a\": [1, 2.5, \"x\", null, true], \"b\": {{\"c\": \"é\"}}}}'),
 ({b}, 'pad  ', 'trailing  ', ' ', '', '', '', '', '', '', 'small', '', '[]'),
 ({c}, '', '', '', '', '', '', 'x', 'y', 'z', 'large', 'a,b,c,d', '\"str\"'),
 ({n}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO bins VALUES
 ({a}, X'00FF80FE', X'C3283FFF', X'DEADBEEF00', X'00', X'FFFE', X'0102030405'),
 ({b}, X'', X'', X'', X'', X'', X''),
 ({c}, X'FFFFFFFFFFFF', X'00000000000000000000', X'20', X'E282AC', X'C3A9', X'7B7D'),
 ({n}, NULL, NULL, NULL, NULL, NULL, NULL);",
        a = r(1),
        b = r(2),
        c = r(3),
        d = r(4),
        n = r(9),
        year0 = if streaming {
            format!("INSERT INTO times (id, y) VALUES ({}, 0);", r(5))
        } else {
            String::new()
        },
    )
}

fn types_scenario() -> Scenario<'static> {
    let mut sc = Scenario::new("types", Server::Shared);
    sc.setup = format!("{TYPES_TABLES}{}", types_rows(0, false));
    sc.changes = vec![types_rows(100, true)];
    sc.variants = vec![Variant::new("default", &[]), schemaless()];
    sc
}

#[test]
fn parity_1_types() {
    let _g = serial();
    check(&types_scenario());
}

// ------------------------------------------------------------------ 2. dml

const DML_SETUP: &str = "
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL,
  email VARCHAR(100), balance DECIMAL(10,2) NOT NULL DEFAULT 0);
CREATE TABLE orders (a INT, b VARCHAR(10), qty INT, PRIMARY KEY (a, b));
INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', 10.50),
  (2, 'Bob', NULL, 0), (3, 'Cy', 'cy@example.com', -3.25);
INSERT INTO orders VALUES (1, 'x', 5), (2, 'y', 7);
";

const DML_CHANGES: &str = "
INSERT INTO customers VALUES (4, 'Dee', 'dee@example.com', 1.00);
INSERT INTO customers (id, name) VALUES (5, 'Eve'), (6, 'Fay');
UPDATE customers SET name = 'Ada L.' WHERE id = 1;
UPDATE customers SET balance = balance + 1 WHERE id IN (1, 3, 4);
UPDATE customers SET email = NULL WHERE id = 3;
DELETE FROM customers WHERE id = 4;
UPDATE customers SET id = 20 WHERE id = 2;
UPDATE customers SET id = id + 100 WHERE id IN (5, 6);
REPLACE INTO customers VALUES (1, 'Ada R.', NULL, 0);
INSERT INTO customers VALUES (3, 'Cy', NULL, 0) ON DUPLICATE KEY UPDATE name = 'Cy D.';
UPDATE orders SET b = 'z' WHERE a = 1;
UPDATE orders SET qty = qty * 2;
DELETE FROM orders;
DELETE FROM customers WHERE id > 100;
";

fn dml_scenario() -> Scenario<'static> {
    let mut sc = Scenario::new("dml", Server::Shared);
    sc.setup = DML_SETUP.to_string();
    sc.changes = vec![DML_CHANGES.to_string()];
    sc.variants = vec![
        Variant::new("default", &[]),
        schemaless(),
        // Only the schemas.enable keys: Kafka Connect ignores them without
        // the converter class (the worker's converter, with schemas, applies).
        Variant::new(
            "schemas_enable_only",
            &[
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
            ],
        ),
    ];
    sc
}

#[test]
fn parity_2_dml() {
    let _g = serial();
    check(&dml_scenario());
}
