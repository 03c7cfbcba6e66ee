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

/// Differences explained, each with its reason (docs/compatibility.md,
/// "MySQL and MariaDB events", lists them for users).
const KNOWN: &[Known] = &[
    Known {
        name: "source-version",
        scenario: "*",
        path: "*source.version",
        reason: "source.version names the software that wrote the event: Sluice's own version, not Debezium's",
        timing: false,
    },
    Known {
        name: "other-databases-ddl",
        scenario: "*",
        path: "<record only in debezium> (schema change, another database: *",
        reason: "Debezium's schema change topic carries the DDL of every database on the server (schema.history.internal.store.only.captured.databases.ddl=false by default); Sluice's only that of the captured databases",
        timing: false,
    },
    Known {
        name: "snapshot-preamble-drop-table",
        scenario: "*",
        path: "<record only in debezium> (schema change, captured database: DROP TABLE IF EXISTS)",
        reason: "Debezium's snapshot replays DROP TABLE IF EXISTS for each table before its CREATE TABLEs; Sluice emits the CREATE TABLEs only",
        timing: false,
    },
    Known {
        name: "snapshot-preamble-database",
        scenario: "*",
        path: "<record only in debezium> (schema change, captured database: *DATABASE*)",
        reason: "Debezium's snapshot replays DROP DATABASE IF EXISTS and CREATE DATABASE for each captured database; Sluice does not",
        timing: false,
    },
    Known {
        name: "snapshot-preamble-use",
        scenario: "*",
        path: "<record only in debezium> (schema change, captured database: USE)",
        reason: "Debezium's snapshot replays USE <db> before each database's tables; Sluice does not",
        timing: false,
    },
    Known {
        name: "snapshot-preamble-charset",
        scenario: "*",
        path: "<record only in debezium> (schema change, no database: SET)",
        reason: "Debezium's snapshot starts with the server's SET character_set_server statement; Sluice does not",
        timing: false,
    },
    Known {
        name: "initial-snapshot-notification-ids",
        scenario: "incremental",
        path: "<record only in *> (notification, Initial Snapshot *)",
        reason: "an Initial Snapshot notification's id (its key) is a random UUID on both sides, so the records pair by nothing; their fields are the same",
        timing: false,
    },
    Known {
        name: "notification-data-order",
        scenario: "incremental",
        path: "value.payload.additional_data.<key order>",
        reason: "additional_data is a map: Debezium writes it in a Java HashMap's order, Sluice in insertion order (connector_name last)",
        timing: false,
    },
    Known {
        name: "notification-time",
        scenario: "incremental",
        path: "value.payload.timestamp",
        reason: "a notification's timestamp is the wall clock when each side sent it",
        timing: false,
    },
    Known {
        name: "incremental-window-position",
        scenario: "incremental",
        path: "value.payload.source.pos",
        reason: "an incremental snapshot's rows name the binlog position of their window's close watermark, and each connector writes its own watermarks into the shared signal table",
        timing: false,
    },
    Known {
        name: "incremental-window-gtid",
        scenario: "incremental",
        path: "value.payload.source.gtid",
        reason: "as incremental-window-position: the GTID of each connector's own close watermark",
        timing: false,
    },
    Known {
        name: "record-count",
        scenario: "*",
        path: "<record count>",
        reason: "follows from the records only one side has, each of which is a difference of its own",
        timing: false,
    },
    Known {
        name: "transaction-begin-of-every-group",
        scenario: "tx*",
        path: "<record only in debezium> (transaction BEGIN)",
        reason: "Debezium writes a BEGIN for every event group on the server (other databases' transactions, DDL groups and XA COMMIT/ROLLBACK groups, which never get an END); Sluice writes BEGIN/END around transactions with captured changes",
        timing: false,
    },
    Known {
        name: "transaction-boundary-time",
        scenario: "tx*",
        path: "value.payload.ts_ms",
        reason: "Debezium stamps some boundaries with another binlog event's time (its first BEGIN after the snapshot an earlier event's; an END its last change's rather than its commit's, a second apart at times); Sluice the transaction's own events'",
        timing: false,
    },
    Known {
        name: "uuid-trailing-zeros",
        scenario: "types_extra*",
        path: "*after.u",
        reason: "a streamed UUID whose stored bytes end in zeros: the binlog drops the trailing zero bytes and Debezium pads at the front (00123e45-... for 123e4567-...-426614174000; its own snapshot of the row is right); Sluice sends the stored UUID",
        timing: false,
    },
    Known {
        name: "inet-debezium-cannot-parse",
        scenario: "types_inet",
        path: "<task failed>",
        reason: "Debezium 3.5 cannot parse INET4/INET6 columns (ParsingException) and fails; Sluice decodes them as text",
        timing: false,
    },
    Known {
        name: "transaction-end-of-every-group",
        scenario: "tx",
        path: "<record only in debezium> (transaction END)",
        reason: "Debezium writes an END with event_count 0 for other connections' transactions too; Sluice writes boundaries only around transactions with captured changes",
        timing: false,
    },
    Known {
        name: "transaction-collections-order",
        scenario: "tx",
        path: "value.payload.data_collections.<data_collection order>",
        reason: "Debezium lists an END's data_collections in no stable order (a hash map's); Sluice in the order of their first change",
        timing: true,
    },
    Known {
        name: "rename-pairs-table-order",
        scenario: "osc",
        path: "value.payload.source.table",
        reason: "a RENAME TABLE of two pairs: both sides list the new names in source.table; Debezium's order changes from run to run (t,_t_del in one, _t_del,t in the next)",
        timing: true,
    },
    Known {
        name: "table-comment",
        scenario: "osc",
        path: "value.payload.tableChanges[*].table.comment",
        reason: "Debezium's schema model keeps a table's COMMENT (gh-ost's sentry table has one); Sluice's table changes carry none (null)",
        timing: false,
    },
    Known {
        name: "create-or-replace-debezium-keeps-the-old-table",
        scenario: "osc",
        path: "value.payload.tableChanges[*]*",
        reason: "Debezium 3.5 ignores CREATE OR REPLACE TABLE of a table that exists (its schema change names no table and has no table change) and keeps the old definition: its ALTER that follows still lists the replaced table's column a; Sluice applies the statement (the table has b, as SHOW CREATE TABLE says)",
        timing: false,
    },
    Known {
        name: "create-or-replace-debezium-decodes-with-the-old-table",
        scenario: "osc",
        path: "value.*.fields[*]*",
        reason: "as create-or-replace-debezium-keeps-the-old-table: Debezium decodes the rows of the replaced table r with the old definition (field a for the table's column b); Sluice with the table's own",
        timing: false,
    },
    Known {
        name: "create-or-replace-debezium-values",
        scenario: "osc",
        path: "value.payload.after.*",
        reason: "as create-or-replace-debezium-decodes-with-the-old-table (the same rows' values)",
        timing: false,
    },
    Known {
        name: "schema-parameter-order",
        scenario: "rules",
        path: "value.schema.fields[*].fields[*].parameters.<key order>",
        reason: "Sluice's schema parameters are ordered by name (the JSON converter writes them so); Debezium's in the order it added them: the same keys and values",
        timing: false,
    },
    Known {
        name: "hash-v2-debezium-ignores-the-key",
        scenario: "rules",
        path: "value.payload.*.name",
        reason: "Debezium 3.5's MariaDB connector leaves a column named by column.mask.hash.v2.SHA-256.with.salt.pepper in clear (the v2 key takes no effect there); Sluice hashes it (SHA-256 of salt and value), as the key asks",
        timing: false,
    },
    Known {
        name: "hash-v2-debezium-ignores-the-key-schema",
        scenario: "rules",
        path: "value.schema.fields[*].fields[name].parameters.masked",
        reason: "as hash-v2-debezium-ignores-the-key: Sluice marks the hashed column masked=true, as Debezium marks its v1-hashed ones",
        timing: false,
    },
    Known {
        name: "compressed-binlog-debezium-reads-nothing",
        scenario: "tx_compressed",
        path: "<record only in sluice>*",
        reason: "Debezium 3.5's MariaDB connector passes over MariaDB's compressed query and rows events (log_bin_compress=ON): none of the streamed changes reach its topics; Sluice inflates them",
        timing: false,
    },
    Known {
        name: "compressed-binlog-empty-transactions",
        scenario: "tx_compressed",
        path: "value.payload.*",
        reason: "as compressed-binlog-debezium-reads-nothing: Debezium's transaction ENDs count no events (event_count 0, no data_collections); Sluice's count the changes it read",
        timing: false,
    },
    Known {
        name: "include-list-tables-ddl",
        scenario: "types_nolog*",
        path: "<record only in debezium> (schema change, captured database: CREATE TABLE)",
        reason: "with table.include.list naming one table, Debezium's snapshot still writes the CREATE TABLE of every table of the captured database; Sluice only the captured tables'",
        timing: false,
    },
    Known {
        name: "include-list-tables-ddl-extra",
        scenario: "types_extra*",
        path: "<record only in debezium> (schema change, captured database: CREATE TABLE)",
        reason: "with table.include.list naming one table, Debezium's snapshot still writes the CREATE TABLE of every table of the captured database; Sluice only the captured tables'",
        timing: false,
    },
];

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
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("key.converter.schemas.enable", "false"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
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

fn types_scenario(server: Server) -> Scenario {
    let mut sc = Scenario::new("types", server);
    sc.setup = format!("{TYPES_TABLES}{}", types_rows(0, false));
    sc.changes = vec![types_rows(100, true)];
    sc.variants = vec![Variant::new("default", &[]), schemaless()];
    sc
}

#[test]
fn parity_1_types() {
    let _g = serial();
    check(&types_scenario(Server::Shared));
}

/// MariaDB's UUID, the spatial types and other spellings, one connector
/// pair per table (`table.include.list`): a type that fails one connector
/// does not hide the others. (INET4/INET6 have their own scenario: Debezium
/// cannot parse a table with them, and it parses every table it sees.)
const EXTRA_SETUP: &str = "
CREATE TABLE net (id INT PRIMARY KEY, u UUID);
CREATE TABLE geo (id INT PRIMARY KEY, p POINT, g GEOMETRY, l LINESTRING, pg POLYGON,
  mp MULTIPOINT, gc GEOMETRYCOLLECTION);
CREATE TABLE misc (id INT PRIMARY KEY, s SERIAL, r REAL, dp DOUBLE PRECISION, nc NATIONAL CHAR(5),
  nv NVARCHAR(10), bo BOOL, ch CHAR(0), vb1 VARBINARY(1), tb TINYTEXT CHARACTER SET latin1);
";

fn extra_rows(base: i32) -> String {
    let (a, b, n) = (base + 1, base + 2, base + 9);
    format!(
        "INSERT INTO net VALUES ({a}, '123e4567-e89b-12d3-a456-426614174000'),
          ({b}, '00000000-0000-0000-0000-000000000000'), ({n}, NULL);
        INSERT INTO geo VALUES ({a}, ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(-1.5 2.25)', 4326),
          ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)'), ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))'),
          ST_GeomFromText('MULTIPOINT(0 0, 1 1)'), ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 1 1))')),
          ({n}, NULL, NULL, NULL, NULL, NULL, NULL);
        INSERT INTO misc VALUES ({a}, {a}, 1.25, -2.5, 'ñ', 'národní', TRUE, '', X'FF', 'ÿ'),
          ({n}, {n}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
    )
}

#[test]
fn parity_1b_types_extra() {
    let _g = serial();
    let mut sc = Scenario::new("types_extra", Server::Shared);
    sc.setup = format!("{EXTRA_SETUP}{}", extra_rows(0));
    sc.changes = vec![extra_rows(100)];
    sc.variants = ["net", "geo", "misc"]
        .iter()
        .map(|t| Variant::new(t, &[("table.include.list", &format!("{{db}}.{t}"))]))
        .collect();
    check(&sc);
}

/// INET4 (MariaDB 10.10+) and INET6 (10.5+).
#[test]
fn parity_1c_types_inet() {
    let _g = serial();
    let mut sc = Scenario::new("types_inet", Server::Shared);
    let rows = |b: i32| {
        format!(
            "INSERT INTO n4 VALUES ({a}, '192.168.0.1'), ({c}, '0.0.0.0'), ({n}, NULL);
             INSERT INTO n6 VALUES ({a}, '2001:db8::ff00:42:8329'), ({c}, '::ffff:1.2.3.4'), ({n}, NULL);",
            a = b + 1,
            c = b + 2,
            n = b + 9
        )
    };
    sc.setup = format!(
        "CREATE TABLE n4 (id INT PRIMARY KEY, i4 INET4);
         CREATE TABLE n6 (id INT PRIMARY KEY, i6 INET6); {}",
        rows(0)
    );
    sc.changes = vec![rows(100)];
    check(&sc);
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

fn dml_scenario(server: Server) -> Scenario {
    let mut sc = Scenario::new("dml", server);
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
    check(&dml_scenario(Server::Shared));
}

// ------------------------------------------------------------------ 3. keys

const KEYS_SETUP: &str = "
CREATE TABLE nopk (code VARCHAR(10), qty INT, note TEXT);
CREATE TABLE uk (a INT NOT NULL, b VARCHAR(10), c INT, UNIQUE KEY uk_a (a));
INSERT INTO nopk VALUES ('x', 1, 'first'), ('x', 1, 'first'), ('y', NULL, NULL);
INSERT INTO uk VALUES (1, 'one', 10);
";

const KEYS_CHANGES: &str = "
INSERT INTO nopk VALUES ('z', 3, 'third'), ('z', 3, 'third');
UPDATE nopk SET qty = 5 WHERE code = 'x';
UPDATE nopk SET code = 'w' WHERE code = 'y';
DELETE FROM nopk WHERE code = 'z';
INSERT INTO uk VALUES (2, 'two', 20);
UPDATE uk SET b = 'uno' WHERE a = 1;
UPDATE uk SET a = 3 WHERE a = 2;
DELETE FROM uk WHERE a = 1;
";

#[test]
fn parity_3_keys() {
    let _g = serial();
    let mut sc = Scenario::new("keys", Server::Shared);
    sc.setup = KEYS_SETUP.to_string();
    sc.changes = vec![KEYS_CHANGES.to_string()];
    sc.variants = vec![
        Variant::new("no_key_columns", &[]),
        Variant::new(
            "message_key_columns",
            &[("message.key.columns", "{db}.nopk:code;{db}.uk:b,c")],
        ),
    ];
    check(&sc);
}

// ------------------------------------------------------------------ 4. transactions

const TX_SETUP: &str = "
CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20));
CREATE TABLE b (id INT PRIMARY KEY, n INT);
INSERT INTO a VALUES (1, 'a1');
INSERT INTO b VALUES (1, 10);
CREATE DATABASE IF NOT EXISTS {db}_other;
CREATE TABLE {db}_other.o (id INT PRIMARY KEY);
";

const TX_CHANGES: &str = "
START TRANSACTION;
INSERT INTO a VALUES (2, 'a2');
INSERT INTO b VALUES (2, 20), (3, 30);
UPDATE a SET v = 'a1+' WHERE id = 1;
DELETE FROM b WHERE id = 1;
COMMIT;
INSERT INTO a VALUES (3, 'autocommit');
START TRANSACTION;
INSERT INTO {db}_other.o VALUES (1);
COMMIT;
START TRANSACTION;
INSERT INTO {db}_other.o VALUES (2);
UPDATE b SET n = n + 1;
COMMIT;
START TRANSACTION;
INSERT INTO a VALUES (99, 'rolled back');
ROLLBACK;
START TRANSACTION;
UPDATE a SET v = CONCAT(v, '!');
DELETE FROM a WHERE id = 3;
COMMIT;
DROP DATABASE {db}_other;
";

#[test]
fn parity_4_transactions() {
    let _g = serial();
    let mut sc = Scenario::new("tx", Server::Shared);
    sc.setup = TX_SETUP.to_string();
    sc.changes = vec![TX_CHANGES.to_string()];
    sc.config = vec![("provide.transaction.metadata".into(), "true".into())];
    check(&sc);
}

// ------------------------------------------------------------------ 5. DDL

const DDL_SETUP: &str = "
CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10));
INSERT INTO t VALUES (1, 1, 'one');
";

const DDL_CHANGES: &str = "
ALTER TABLE t ADD COLUMN c INT DEFAULT 5;
INSERT INTO t (id, a, b) VALUES (2, 2, 'two');
ALTER TABLE t DROP COLUMN a;
INSERT INTO t VALUES (3, 'three', 3);
ALTER TABLE t MODIFY COLUMN b VARCHAR(50) NOT NULL DEFAULT 'x';
INSERT INTO t (id, c) VALUES (4, 4);
ALTER TABLE t RENAME COLUMN c TO c2;
INSERT INTO t VALUES (5, 'five', 5);
ALTER TABLE t CHANGE COLUMN c2 c3 BIGINT UNSIGNED;
UPDATE t SET c3 = 18446744073709551615 WHERE id = 5;
RENAME TABLE t TO t2;
INSERT INTO t2 VALUES (6, 'six', 6);
/* gh-ost */ ALTER TABLE t2 ADD COLUMN d DATETIME(3) NULL;
INSERT INTO t2 VALUES (7, 'seven', 7, '2024-01-02 03:04:05.678');
TRUNCATE TABLE t2;
INSERT INTO t2 VALUES (8, 'eight', 8, NULL);
CREATE TABLE n (id INT PRIMARY KEY, v TEXT);
INSERT INTO n VALUES (1, 'new table');
CREATE INDEX n_v ON n (v(10));
DROP TABLE n;
CREATE TABLE IF NOT EXISTS t2 (x INT);
";

#[test]
fn parity_5_ddl() {
    let _g = serial();
    let mut sc = Scenario::new("ddl", Server::Shared);
    sc.setup = DDL_SETUP.to_string();
    sc.changes = vec![DDL_CHANGES.to_string()];
    sc.config = vec![("include.schema.changes".into(), "true".into())];
    check(&sc);
}

// ------------------------------------------------------------------ 6. type mapping modes

const MODES_SETUP: &str = "
CREATE TABLE m (id INT PRIMARY KEY,
  d DECIMAL(20,6), dn DECIMAL(5,2), d65 DECIMAL(65,30), d0 DECIMAL(10,0),
  dt DATE, t0 TIME, t3 TIME(3), t6 TIME(6), dtm0 DATETIME, dtm3 DATETIME(3), dtm6 DATETIME(6),
  ts TIMESTAMP(3) NULL DEFAULT NULL, y YEAR,
  bn BINARY(4), vb VARBINARY(8), bl BLOB, bt BIT(12), biu BIGINT UNSIGNED);
INSERT INTO m VALUES
 (1, '12345678901234.123456', '-999.99', '-12345678901234567890123456789012345.123456789012345678901234567890',
  '9999999999', '2024-02-29', '-838:59:59', '12:34:56.789', '-00:00:00.000001',
  '1000-01-01 00:00:00', '2024-02-29 12:34:56.789', '9999-12-31 23:59:59.999999',
  '2038-01-19 03:14:07.999', 2024, X'00FF80FE', X'C328', X'DEADBEEF00FFFE', b'101010101010',
  18446744073709551615),
 (2, '0.000001', '0.00', '0', '-1', '1970-01-01', '00:00:00', '00:00:00.000', '838:59:59.999999',
  '1970-01-01 00:00:00', '1969-12-31 23:59:59.999', '1970-01-01 00:00:00.000001',
  '1970-01-01 00:00:01.000', 1970, X'', X'', X'', b'0', 0),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL);
";

const MODES_CHANGES: &str = "
SET time_zone = '+00:00';
INSERT INTO m SELECT id + 100, d, dn, d65, d0, dt, t0, t3, t6, dtm0, dtm3, dtm6, ts, y, bn, vb, bl, bt, biu FROM m;
UPDATE m SET d = d + 1, t3 = '-01:00:00.5', bn = X'01020304' WHERE id = 101;
";

#[test]
fn parity_6_modes() {
    let _g = serial();
    let mut sc = Scenario::new("modes", Server::Shared);
    sc.setup = format!("SET time_zone = '+00:00'; {MODES_SETUP}");
    sc.changes = vec![MODES_CHANGES.to_string()];
    sc.variants = vec![
        Variant::new(
            "precise_adaptivemicros_bytes",
            &[
                ("decimal.handling.mode", "precise"),
                ("time.precision.mode", "adaptive_time_microseconds"),
                ("binary.handling.mode", "bytes"),
            ],
        ),
        Variant::new(
            "double_connect_base64",
            &[
                ("decimal.handling.mode", "double"),
                ("time.precision.mode", "connect"),
                ("binary.handling.mode", "base64"),
                ("bigint.unsigned.handling.mode", "precise"),
            ],
        ),
        Variant::new(
            "string_isostring_hex",
            &[
                ("decimal.handling.mode", "string"),
                ("time.precision.mode", "isostring"),
                ("binary.handling.mode", "hex"),
            ],
        ),
        Variant::new(
            "microseconds_base64urlsafe",
            &[
                ("time.precision.mode", "microseconds"),
                ("binary.handling.mode", "base64-url-safe"),
            ],
        ),
        Variant::new("nanoseconds", &[("time.precision.mode", "nanoseconds")]),
        // Debezium refuses it ("no longer supported"): both must refuse.
        Variant::new("adaptive", &[("time.precision.mode", "adaptive")]),
    ];
    check(&sc);
}

// ------------------------------------------------------------------ 7. heartbeats

#[test]
fn parity_7_heartbeats() {
    let _g = serial();
    let mut sc = Scenario::new("heartbeat", Server::Shared);
    sc.setup = "CREATE TABLE h (id INT PRIMARY KEY); INSERT INTO h VALUES (1);".into();
    sc.changes = vec!["INSERT INTO h VALUES (2); UPDATE h SET id = 3 WHERE id = 2;".into()];
    sc.config = vec![("heartbeat.interval.ms".into(), "1000".into())];
    sc.heartbeats = 3;
    check(&sc);
}

// ------------------------------------------------------------------ 8. server defaults

/// Scenarios 1 and 2 against a private MariaDB with the server's defaults
/// but binlog_format=ROW (and the binlog on): binlog_row_metadata=NO_LOG,
/// so TABLE_MAP events carry no column names, signedness or charsets.
#[test]
fn parity_8_server_defaults() {
    let _g = serial();
    let db = common::PrivateMariaDb::start(&["log_bin = mariadb-bin", "binlog_format = ROW"]);
    let meta = db.sql("SELECT @@binlog_row_metadata, @@binlog_row_image, @@binlog_format");
    assert_eq!(
        meta.trim(),
        "NO_LOG\tFULL\tROW",
        "the private server's settings"
    );
    let mut types = types_scenario(Server::Private(&db));
    types.name = "types_nolog";
    // One pair per table: a table one side cannot decode does not hide
    // the others.
    types.variants = ["ints", "nums", "times", "strs", "bins"]
        .iter()
        .map(|t| Variant::new(t, &[("table.include.list", &format!("{{db}}.{t}"))]))
        .collect();
    let mut dml = dml_scenario(Server::Private(&db));
    dml.name = "dml_nolog";
    let mut failures = Vec::new();
    for sc in [types, dml] {
        let outcome = run(&sc);
        if let Err(e) = verdict(sc.name, &outcome, KNOWN) {
            failures.push(e);
        }
    }
    drop(db); // stopped and deleted (a panic would keep its files)
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------- 9. XA and savepoints

const XA_SETUP: &str = "
CREATE TABLE x (id INT PRIMARY KEY, v VARCHAR(40));
INSERT INTO x VALUES (0, 'snapshot');
";

/// XA committed after PREPARE, rolled back after PREPARE, committed in one
/// phase; savepoints inside a transaction. Both sides emit a prepared XA
/// branch's rows at its PREPARE, the rolled-back one's too.
const XA_CHANGES: &str = "
XA START 'a'; INSERT INTO x VALUES (1, 'xa commit'); UPDATE x SET v = 'xa commit 2' WHERE id = 1; XA END 'a'; XA PREPARE 'a'; XA COMMIT 'a';
XA START 'b'; INSERT INTO x VALUES (2, 'xa rollback'); XA END 'b'; XA PREPARE 'b'; XA ROLLBACK 'b';
XA START 'c'; INSERT INTO x VALUES (3, 'one phase'); XA END 'c'; XA COMMIT 'c' ONE PHASE;
BEGIN; INSERT INTO x VALUES (4, 'savepoint'); SAVEPOINT s1; INSERT INTO x VALUES (5, 'rolled back'); ROLLBACK TO SAVEPOINT s1; INSERT INTO x VALUES (6, 'after'); COMMIT;
INSERT INTO x VALUES (7, REPEAT('z', 40));
DELETE FROM x WHERE id = 4;
";

/// A private MariaDB with its defaults: XA transactions and savepoints,
/// transaction metadata on.
#[test]
fn parity_9_xa_savepoints() {
    let _g = serial();
    let db = common::PrivateMariaDb::start(&["log_bin = mariadb-bin", "binlog_format = ROW"]);
    let mut sc = Scenario::new("tx_xa", Server::Private(&db));
    sc.setup = XA_SETUP.to_string();
    sc.changes = vec![XA_CHANGES.to_string()];
    sc.config = vec![("provide.transaction.metadata".into(), "true".into())];
    let outcome = run(&sc);
    let verdict = verdict(sc.name, &outcome, KNOWN);
    drop(db);
    if let Err(e) = verdict {
        panic!("{e}");
    }
}

// ------------------------------------------- 10. a compressed binlog

/// The same changes on a private MariaDB that compresses its binlog
/// (log_bin_compress=ON). Debezium 3.5 reads none of the compressed events:
/// its topic has the snapshot only, and empty transactions.
#[test]
fn parity_10_compressed_binlog() {
    let _g = serial();
    let db = common::PrivateMariaDb::start(&[
        "log_bin = mariadb-bin",
        "binlog_format = ROW",
        "log_bin_compress = ON",
        "log_bin_compress_min_len = 10",
    ]);
    let mut sc = Scenario::new("tx_compressed", Server::Private(&db));
    sc.setup = XA_SETUP.to_string();
    sc.changes = vec![XA_CHANGES.to_string()];
    sc.config = vec![("provide.transaction.metadata".into(), "true".into())];
    let outcome = run(&sc);
    let verdict = verdict(sc.name, &outcome, KNOWN);
    drop(db);
    if let Err(e) = verdict {
        panic!("{e}");
    }
}

// ------------------------------------- 11. online schema change tools

const OSC_SETUP: &str = "
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));
CREATE TABLE p (id INT PRIMARY KEY, v VARCHAR(20));
INSERT INTO t VALUES (1, 'one'), (2, 'two');
INSERT INTO p VALUES (1, 'one'), (2, 'two');
";

/// gh-ost's statements for `ALTER TABLE t ADD COLUMN extra INT` (its
/// comment marks, LIKE copy, changelog table, sentry table and atomic
/// two-pair rename), pt-online-schema-change's for table p (triggers,
/// chunked copy, rename, drop), then DDL as dumps and tools write it:
/// CREATE OR REPLACE TABLE, SET STATEMENT ... FOR ALTER, a RENAME with no
/// spaces around TO, ANSI_QUOTES identifiers. Rows written between the
/// steps show which definition each side applied.
const OSC_CHANGES: &str = r#"
create /* gh-ost */ table `{db}`.`_t_ghc` (id bigint auto_increment, last_update timestamp not null DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, hint varchar(64) charset ascii not null, value varchar(4096) charset ascii not null, primary key(id), unique key hint_uidx(hint)) auto_increment=256;
create /* gh-ost */ table `{db}`.`_t_gho` like `{db}`.`t`;
alter /* gh-ost */ table `{db}`.`_t_gho` add column extra int;
insert /* gh-ost */ into `{db}`.`_t_ghc` (id, hint, value) values (2, 'state', 'GhostTableMigrated');
insert /* gh-ost `{db}`.`t` */ ignore into `{db}`.`_t_gho` (`id`, `v`) (select `id`, `v` from `{db}`.`t` force index (`PRIMARY`) where ((`id` > 0)) and ((`id` < 3)) lock in share mode);
insert into t values (3, 'three');
replace /* gh-ost `{db}`.`_t_gho` */ into `{db}`.`_t_gho` (`id`, `v`) values (3, 'three');
create /* gh-ost */ table `{db}`.`_t_del` (id int auto_increment primary key) engine=InnoDB comment='ghost-cut-over-sentry';
drop /* gh-ost */ table if exists `{db}`.`_t_del`;
rename /* gh-ost */ table `{db}`.`t` to `{db}`.`_t_del`, `{db}`.`_t_gho` to `{db}`.`t`;
insert into t values (4, 'four', 4);
drop /* gh-ost */ table if exists `{db}`.`_t_ghc`;
drop /* gh-ost */ table if exists `{db}`.`_t_del`;
CREATE TABLE `{db}`.`_p_new` (`id` int(11) NOT NULL, `v` varchar(20) DEFAULT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
ALTER TABLE `{db}`.`_p_new` ADD COLUMN extra INT;
CREATE TRIGGER `pt_osc_{db}_p_ins` AFTER INSERT ON `{db}`.`p` FOR EACH ROW REPLACE INTO `{db}`.`_p_new` (`id`, `v`) VALUES (NEW.`id`, NEW.`v`);
INSERT LOW_PRIORITY IGNORE INTO `{db}`.`_p_new` (`id`, `v`) SELECT `id`, `v` FROM `{db}`.`p` FORCE INDEX(`PRIMARY`) WHERE ((`id` >= '1')) AND ((`id` <= '2')) LOCK IN SHARE MODE;
INSERT INTO p VALUES (3, 'three');
RENAME TABLE `{db}`.`p` TO `{db}`.`_p_old`, `{db}`.`_p_new` TO `{db}`.`p`;
DROP TABLE IF EXISTS `{db}`.`_p_old`;
DROP TRIGGER IF EXISTS `{db}`.`pt_osc_{db}_p_ins`;
INSERT INTO p VALUES (4, 'four', 4);
CREATE OR REPLACE TABLE r (id INT PRIMARY KEY, a INT);
INSERT INTO r VALUES (1, 1);
CREATE OR REPLACE TABLE r (id INT PRIMARY KEY, b VARCHAR(5));
INSERT INTO r VALUES (2, 'b');
SET STATEMENT max_statement_time=60 FOR ALTER TABLE r ADD COLUMN c INT DEFAULT 3;
INSERT INTO r VALUES (3, 'c', 30);
RENAME TABLE `r`TO`r2`;
INSERT INTO r2 VALUES (4, 'd', 40);
SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES');
CREATE TABLE "q" ("id" INT PRIMARY KEY, "w" INT);
INSERT INTO "q" VALUES (1, 10);
ALTER TABLE "q" ADD COLUMN "z" INT DEFAULT 7;
INSERT INTO "q" VALUES (2, 20, 70);
"#;

#[test]
fn parity_11_online_schema_change_tools() {
    let _g = serial();
    let mut sc = Scenario::new("osc", Server::Shared);
    sc.setup = OSC_SETUP.to_string();
    sc.changes = vec![OSC_CHANGES.to_string()];
    sc.config = vec![("include.schema.changes".into(), "true".into())];
    check(&sc);
}

// --------------------------------------------- 12. keys that change values

const RULES_SETUP: &str = "
CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(100),
  card CHAR(16), note TEXT, price DECIMAL(8,2), qty INT);
INSERT INTO people VALUES (1, 'Ada Lovelace', 'ada@example.com', '4111111111111111', 'first programmer', 12.50, 3),
  (2, NULL, NULL, NULL, NULL, NULL, NULL);
";

const RULES_CHANGES: &str = "
INSERT INTO people VALUES (3, 'Grace Hopper', 'grace@example.com', '5500000000000004', 'COBOL', 7.25, 1);
UPDATE people SET note = 'a longer note than four', email = 'ada@lovelace.org' WHERE id = 1;
INSERT INTO people VALUES (4, 'Zoë Ünïcødé', 'zoe@example.com', '', 'ünï', 0.01, 0);
";

/// column.mask.with, column.truncate.to, column.mask.hash (v1 and v2),
/// column.propagate.source.type and datatype.propagate.source.type.
#[test]
fn parity_12_column_rules() {
    let _g = serial();
    let mut sc = Scenario::new("rules", Server::Shared);
    sc.setup = RULES_SETUP.to_string();
    sc.changes = vec![RULES_CHANGES.to_string()];
    sc.config = [
        ("column.mask.with.6.chars", "{db}.people.card"),
        ("column.truncate.to.4.chars", "{db}.people.note"),
        (
            "column.mask.hash.SHA-256.with.salt.pepper",
            "{db}.people.email",
        ),
        (
            "column.mask.hash.v2.SHA-256.with.salt.pepper",
            "{db}.people.name",
        ),
        (
            "column.propagate.source.type",
            "{db}.people.name,{db}.people.qty",
        ),
        ("datatype.propagate.source.type", ".+\\.DECIMAL"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    check(&sc);
}

// ------------------------------------------------------------------ 13. signals and incremental snapshots

const INCREMENTAL_SETUP: &str = "
CREATE TABLE debezium_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL);
GRANT INSERT ON {db}.debezium_signal TO 'sluice'@'%';
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), n INT);
CREATE TABLE c2 (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b));
INSERT INTO t SELECT seq, CONCAT('v', seq), seq * 2 FROM seq_1_to_2500;
INSERT INTO c2 SELECT seq % 7, CONCAT('k', seq), seq FROM seq_1_to_1200;
";

/// One execute-snapshot row, read by both connectors (both watch the same
/// signal table): the incremental snapshot's events (chunks of 1000 with
/// a composite key too), its notifications on `<topic.prefix>.notes`, and
/// the signal table's own events (the request and both sides' watermarks).
const INCREMENTAL_CHANGES: &str = "
UPDATE t SET v = 'before' WHERE id = 5;
INSERT INTO debezium_signal VALUES ('par-inc-1', 'execute-snapshot', '{\"data-collections\": [\"{db}.t\", \"{db}.c2\"], \"type\": \"incremental\", \"additional-conditions\": [{\"data-collection\": \"{db}.c2\", \"filter\": \"v > 100\"}]}');
";

#[test]
fn parity_13_incremental_snapshot() {
    let _g = serial();
    let mut sc = Scenario::new("incremental", Server::Shared);
    sc.setup = INCREMENTAL_SETUP.to_string();
    sc.changes = vec![INCREMENTAL_CHANGES.to_string()];
    sc.config = [
        ("signal.data.collection", "{db}.debezium_signal"),
        ("incremental.snapshot.chunk.size", "1000"),
        ("notification.enabled.channels", "sink"),
        ("notification.sink.topic.name", "{prefix}.notes"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    check(&sc);
}
