//! MariaDB → MySQL source → Kafka → JDBC sink → PostgreSQL, all through a
//! real `sluice standalone` and its REST API. Tables of the common column
//! types take inserts, updates, deletes and primary-key changes while the
//! pipeline runs, and a column is added mid-stream; afterwards every table
//! must read the same on both sides, row for row and column by column
//! (one query per side, values compared as text in a common format).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn db_name(tag: &str) -> String {
    format!("sl_{}", unique(tag).replace('-', "_"))
}

/// Runs SQL on the private PostgreSQL with `psql`; tab-separated rows,
/// NULL as `NULL`. Panics with the command that starts the server when it
/// is down.
fn psql(sql: &str) -> String {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let (host, port) = (
        env("SLUICE_POSTGRES_HOST", "127.0.0.1"),
        env("SLUICE_POSTGRES_PORT", "5433"),
    );
    let out = Command::new("psql")
        .args(["-X", "-q", "-w", "-A", "-t", "-F", "\t", "-P", "null=NULL"])
        .args(["-v", "ON_ERROR_STOP=1", "-h", &host, "-p", &port])
        .args(["-U", &env("SLUICE_POSTGRES_USER", "sluice")])
        .args(["-d", &env("SLUICE_POSTGRES_DB", "sluice")])
        .args(["-c", sql])
        .env("PGPASSWORD", env("SLUICE_POSTGRES_PASSWORD", "sluice"))
        .output()
        .expect("run psql (apt-get install postgresql-client)");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("could not connect") || err.contains("Connection refused") {
            panic!("the private PostgreSQL at {host}:{port} is not reachable ({err}); start it with scripts/services up postgres");
        }
        panic!("SQL failed on PostgreSQL: {sql}\n{err}");
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How a column is read on each side so that both print the same text.
#[derive(Clone, Copy)]
enum Kind {
    Plain,
    /// BIT(1) → 0 or 1 (a boolean in PostgreSQL).
    Bit1,
    /// BIT(n) → number.
    Bit,
    /// Binary → upper-case hex.
    Bin,
    /// Geometry → its WKB in hex (PostgreSQL without PostGIS keeps the WKB).
    Geom,
    /// JSON → compared as parsed JSON.
    Json,
    /// TIME → HH:MM:SS.ffffff.
    Time,
    /// DATETIME → YYYY-MM-DD HH:MM:SS.ffffff.
    DateTime,
    /// TIMESTAMP (an instant) → its UTC YYYY-MM-DD HH:MM:SS.ffffff.
    Instant,
}

struct TableSpec {
    name: &'static str,
    ddl: &'static str,
    columns: Vec<(&'static str, Kind)>,
}

fn mariadb_expr(c: &str, k: Kind) -> String {
    match k {
        Kind::Plain | Kind::Json => c.to_string(),
        Kind::Bit | Kind::Bit1 => format!("{c}+0"),
        Kind::Bin => format!("HEX({c})"),
        Kind::Geom => format!("HEX(ST_AsWKB({c}))"),
        Kind::Time => format!("TIME_FORMAT({c}, '%H:%i:%s.%f')"),
        Kind::DateTime | Kind::Instant => format!("DATE_FORMAT({c}, '%Y-%m-%d %H:%i:%s.%f')"),
    }
}

fn pg_expr(c: &str, k: Kind) -> String {
    match k {
        Kind::Plain | Kind::Json => format!("{c}::text"),
        Kind::Bit1 => format!("{c}::int"),
        Kind::Bit => format!("lpad({c}::text, 64, '0')::bit(64)::bigint"),
        Kind::Bin | Kind::Geom => format!("upper(encode({c}, 'hex'))"),
        Kind::Time => format!("to_char({c}, 'HH24:MI:SS.US')"),
        Kind::DateTime => format!("to_char({c}, 'YYYY-MM-DD HH24:MI:SS.US')"),
        Kind::Instant => format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"),
    }
}

/// The tables of the scenario: every common MariaDB column type.
fn tables() -> Vec<TableSpec> {
    use Kind::*;
    vec![
        TableSpec {
            name: "ints",
            ddl: "id INT PRIMARY KEY, a TINYINT, b SMALLINT, c MEDIUMINT, d BIGINT, e INT UNSIGNED, flag BOOLEAN, b1 BIT(1), b10 BIT(10)",
            columns: vec![("id", Plain), ("a", Plain), ("b", Plain), ("c", Plain), ("d", Plain), ("e", Plain), ("flag", Plain), ("b1", Bit1), ("b10", Bit)],
        },
        TableSpec {
            name: "texts",
            ddl: "id BIGINT PRIMARY KEY, s VARCHAR(100) NOT NULL, t TEXT, ch CHAR(5), e ENUM('red','green','blue'), st SET('x','y','z'), j JSON, bin VARBINARY(16), bl BLOB",
            columns: vec![("id", Plain), ("s", Plain), ("t", Plain), ("ch", Plain), ("e", Plain), ("st", Plain), ("j", Json), ("bin", Bin), ("bl", Bin)],
        },
        TableSpec {
            name: "nums",
            ddl: "id INT PRIMARY KEY, dec1 DECIMAL(12,3), dec2 DECIMAL(30,10), f FLOAT, d DOUBLE, g GEOMETRY NULL, pt POINT NULL",
            columns: vec![("id", Plain), ("dec1", Plain), ("dec2", Plain), ("f", Plain), ("d", Plain), ("g", Geom), ("pt", Geom)],
        },
        TableSpec {
            name: "times",
            ddl: "id INT PRIMARY KEY, d DATE, t TIME(3), dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, y YEAR",
            columns: vec![("id", Plain), ("d", Plain), ("t", Time), ("dt", DateTime), ("dt6", DateTime), ("ts", Instant), ("y", Plain)],
        },
        TableSpec {
            name: "pairs",
            ddl: "a INT, b VARCHAR(20), v INT, note VARCHAR(50), PRIMARY KEY (a, b)",
            columns: vec![("a", Plain), ("b", Plain), ("v", Plain), ("note", Plain)],
        },
    ]
}

/// One row per table; `i` makes the values differ.
fn insert_rows(db: &str, i: i64) -> String {
    format!(
        "INSERT INTO {db}.ints VALUES ({i}, {a}, {b}, {c}, {d}, {e}, {flag}, {b1}, {b10});
         INSERT INTO {db}.texts VALUES ({i}, 'row {i} O''Brien \"q\" é', REPEAT('t', {i} % 50), 'ab', 'green', 'x,z', '{{\"k\": {i}, \"tags\": [\"a\", \"b\"]}}', UNHEX('00FF10'), UNHEX(REPEAT('AB', {i} % 7)));
         INSERT INTO {db}.nums VALUES ({i}, {i}.125, -{i}.0000000001, 1.5, 3.141592653589793, ST_GeomFromText('LINESTRING(0 0, 1 1, 2 {i})'), ST_GeomFromText('POINT({i} 2.5)'));
         INSERT INTO {db}.times VALUES ({i}, '2024-02-29', '12:34:56.789', '2023-12-31 23:59:59', '1999-01-02 03:04:05.123456', '2024-06-01 10:00:00.5', 2024);
         INSERT INTO {db}.pairs (a, b, v, note) VALUES ({i}, 'k{i}', {i}, NULL);",
        a = i % 127,
        b = -(i % 30000),
        c = i * 3,
        d = i * 1_000_000_007,
        e = 4_000_000_000i64 - i,
        flag = i % 2,
        b1 = i % 2,
        b10 = i % 1024,
    )
}

/// Updates, deletes and primary-key changes of row `i` (inserted before).
fn change_rows(db: &str, i: i64) -> String {
    format!(
        "UPDATE {db}.ints SET a = NULL, d = -d, b10 = 1023 WHERE id = {i};
         UPDATE {db}.texts SET t = NULL, j = '[1, 2, {{\"x\": null}}]', bl = NULL WHERE id = {i};
         UPDATE {db}.nums SET dec1 = -0.5, f = NULL, g = NULL WHERE id = {i};
         UPDATE {db}.times SET t = '23:59:59.999', dt6 = NULL, ts = '2038-01-01 00:00:00' WHERE id = {i};
         UPDATE {db}.pairs SET v = v + 1 WHERE a = {i};
         DELETE FROM {db}.ints WHERE id = {i} AND {i} % 3 = 0;
         DELETE FROM {db}.pairs WHERE a = {i} AND {i} % 3 = 0;
         DELETE FROM {db}.texts WHERE id = {i} AND {i} % 4 = 0;
         UPDATE {db}.ints SET id = id + 100000 WHERE id = {i} AND {i} % 3 = 1;
         UPDATE {db}.pairs SET b = CONCAT(b, '-moved') WHERE a = {i} AND {i} % 3 = 1;
         UPDATE {db}.times SET id = -id WHERE id = {i} AND {i} % 5 = 1;"
    )
}

fn rows_of(out: &str, kinds: &[Kind]) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = out
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split('\t')
                .zip(kinds)
                .map(|(cell, k)| match k {
                    // One text per JSON value, whatever the spacing.
                    Kind::Json if cell != "NULL" => serde_json::from_str::<Value>(cell)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|_| cell.to_string()),
                    _ => cell.to_string(),
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Where the sink writes: a PostgreSQL schema or a second MariaDB
/// database, named `name`.
#[derive(Clone)]
struct Target {
    postgres: bool,
    name: String,
}

impl Target {
    fn label(&self) -> &'static str {
        if self.postgres {
            "PostgreSQL"
        } else {
            "the target MariaDB database"
        }
    }
    fn query(&self, sql: &str) -> String {
        if self.postgres {
            psql(sql)
        } else {
            mariadb(&format!("SET time_zone = '+00:00'; {sql}"))
        }
    }
    fn count(&self, sql: &str) -> i64 {
        self.query(sql).trim().parse().unwrap_or(0)
    }
    fn tables(&self) -> i64 {
        let n = &self.name;
        self.count(&if self.postgres {
            format!("SELECT count(*) FROM pg_tables WHERE schemaname = '{n}'")
        } else {
            format!("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{n}'")
        })
    }
    fn has_table(&self, table: &str) -> bool {
        let n = &self.name;
        self.count(&if self.postgres {
            format!("SELECT count(*) FROM pg_tables WHERE schemaname = '{n}' AND tablename = '{table}'")
        } else {
            format!("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{n}' AND TABLE_NAME = '{table}'")
        }) == 1
    }
    fn expr(&self, c: &str, k: Kind) -> String {
        if self.postgres {
            pg_expr(c, k)
        } else {
            mariadb_expr(c, k)
        }
    }
    /// Drops what an earlier run left, and makes the database a MariaDB
    /// target needs to connect to.
    fn reset(&self) {
        if self.postgres {
            psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        } else {
            mariadb(&format!(
                "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0}",
                self.name
            ));
        }
    }
    fn drop(&self) {
        if self.postgres {
            psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        } else {
            mariadb(&format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}

/// Every table's rows on both sides, or the first difference.
fn compare(db: &str, target: &Target, specs: &[TableSpec]) -> Result<(), String> {
    for t in specs {
        let kinds: Vec<Kind> = t.columns.iter().map(|c| c.1).collect();
        let m: Vec<String> = t.columns.iter().map(|(c, k)| mariadb_expr(c, *k)).collect();
        let p: Vec<String> = t.columns.iter().map(|(c, k)| target.expr(c, *k)).collect();
        let source = rows_of(
            &mariadb(&format!(
                "SET time_zone = '+00:00'; SELECT {} FROM {db}.{}",
                m.join(", "),
                t.name
            )),
            &kinds,
        );
        if !target.has_table(t.name) {
            return Err(format!(
                "table {}.{} is not in {} yet",
                target.name,
                t.name,
                target.label()
            ));
        }
        let copy = rows_of(
            &target.query(&format!(
                "SELECT {} FROM {}.{}",
                p.join(", "),
                target.name,
                t.name
            )),
            &kinds,
        );
        if source != copy {
            let first = source
                .iter()
                .zip(&copy)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("first difference:\n  source {a:?}\n  target {b:?}"))
                .unwrap_or_default();
            return Err(format!(
                "table {}: {} rows in the source, {} in {}; {first}",
                t.name,
                source.len(),
                copy.len(),
                target.label()
            ));
        }
    }
    Ok(())
}

/// Which connector class and record form the sink gets.
#[derive(Clone, Copy, PartialEq)]
enum Sink {
    /// Debezium's class on Debezium's change events, as they are.
    DebeziumEnvelope,
    /// Debezium's class after ExtractNewRecordState (flat rows).
    DebeziumFlat,
    /// Confluent's class and key names, after ExtractNewRecordState.
    Confluent,
}

fn pg_url() -> String {
    format!(
        "jdbc:postgresql://127.0.0.1:{}/{}",
        std::env::var("SLUICE_POSTGRES_PORT").unwrap_or_else(|_| "5433".into()),
        std::env::var("SLUICE_POSTGRES_DB").unwrap_or_else(|_| "sluice".into())
    )
}

fn pg_user() -> String {
    std::env::var("SLUICE_POSTGRES_USER").unwrap_or_else(|_| "sluice".into())
}

fn pg_password() -> String {
    std::env::var("SLUICE_POSTGRES_PASSWORD").unwrap_or_else(|_| "sluice".into())
}

/// The JSON a user would POST: the table is the source table, in a
/// PostgreSQL schema of its own.
fn sink_config(name: &str, topics_regex: &str, target: &Target, sink: Sink) -> Value {
    let pg_schema = &target.name;
    let mut config = match sink {
        Sink::DebeziumEnvelope | Sink::DebeziumFlat => json!({
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "connection.url": pg_url(),
            "connection.username": pg_user(),
            "connection.password": pg_password(),
            "insert.mode": "upsert",
            "delete.enabled": "true",
            "primary.key.mode": "record_key",
            "schema.evolution": "basic",
            "collection.name.format": if sink == Sink::DebeziumEnvelope {
                format!("{pg_schema}.${{source.table}}")
            } else {
                format!("{pg_schema}.${{topic}}")
            },
        }),
        Sink::Confluent => json!({
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "connection.url": pg_url(),
            "connection.user": pg_user(),
            "connection.password": pg_password(),
            "insert.mode": "upsert",
            "delete.enabled": "true",
            "pk.mode": "record_key",
            "auto.create": "true",
            "auto.evolve": "true",
            "table.name.format": format!("{pg_schema}.${{topic}}"),
        }),
    };
    config["tasks.max"] = json!("1");
    config["topics.regex"] = json!(topics_regex);
    if !target.postgres {
        let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
        let user_key = if sink == Sink::Confluent {
            "connection.user"
        } else {
            "connection.username"
        };
        config["connection.url"] = json!(format!(
            "jdbc:mariadb://127.0.0.1:{}/{}",
            env("SLUICE_MARIADB_PORT", "3307"),
            target.name
        ));
        config[user_key] = json!("root");
        config["connection.password"] = json!(env("SLUICE_MARIADB_ROOT_PASSWORD", "sluice"));
    }
    if sink != Sink::DebeziumEnvelope {
        // Flat rows, and the topic renamed to the table's name.
        config["transforms"] = json!("unwrap,route");
        config["transforms.unwrap.type"] = json!("io.debezium.transforms.ExtractNewRecordState");
        config["transforms.unwrap.delete.tombstone.handling.mode"] = json!("tombstone");
        config["transforms.route.type"] = json!("org.apache.kafka.connect.transforms.RegexRouter");
        config["transforms.route.regex"] = json!("[^.]+\\.[^.]+\\.([^.]+)");
        config["transforms.route.replacement"] = json!("$1");
    }
    json!({"name": name, "config": config})
}

/// What a scenario varies.
struct Scenario<'a> {
    tag: &'a str,
    sink: Sink,
    /// Into PostgreSQL (true) or a second MariaDB database.
    postgres: bool,
    /// Kill -9 the worker once part of the changes are in, then restart it
    /// while the rest are made.
    kill_mid_stream: bool,
    /// More sink keys.
    sink_extra: &'a [(&'a str, &'a str)],
}

/// Changes `from..=to` of the workload; at 40 a column is added and a NOT
/// NULL column made nullable (then set to NULL).
fn workload(db: &str, from: i64, to: i64) {
    for i in from..=to {
        let mut sql = insert_rows(db, i);
        sql.push_str(&change_rows(db, i - 10));
        if i == 40 {
            sql.push_str(&format!(
                "ALTER TABLE {db}.pairs ADD COLUMN added VARCHAR(20) NULL;
                 ALTER TABLE {db}.texts MODIFY s VARCHAR(100) NULL;"
            ));
        }
        if i > 40 {
            sql.push_str(&format!(
                "UPDATE {db}.pairs SET added = 'after-{i}' WHERE a = {i};
                 UPDATE {db}.texts SET s = NULL WHERE id = {i};"
            ));
        }
        mariadb(&format!("BEGIN; {sql} COMMIT;"));
    }
}

fn pg_count(sql: &str) -> i64 {
    psql(sql).trim().parse().unwrap_or(0)
}

fn replicate(sc: Scenario<'_>) {
    let specs = tables();
    let db = db_name(sc.tag);
    let target = Target {
        postgres: sc.postgres,
        name: if sc.postgres {
            db.clone()
        } else {
            format!("{db}_copy")
        },
    };
    let mut ddl = format!("CREATE DATABASE {db};");
    for t in &specs {
        ddl.push_str(&format!("CREATE TABLE {db}.{} ({});", t.name, t.ddl));
    }
    mariadb(&ddl);
    for i in 1..=20 {
        mariadb(&insert_rows(&db, i));
    }
    target.reset();

    let dir = TempDir::new(sc.tag);
    let mut s = Sluice::start(dir.path(), &[]);
    let prefix = unique("jd");
    let src = unique("jdbc-src");
    let sink = unique("jdbc-sink");
    let cfg = mysql_connector_config(&src, &prefix, &db, &dir.path().join("history.jsonl"), &[]);
    let r = s.post("/connectors", &cfg.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let regex = format!("{}\\.{db}\\..*", prefix.replace('-', "\\-"));
    let mut config = sink_config(&sink, &regex, &target, sc.sink);
    for (k, v) in sc.sink_extra {
        config["config"][*k] = json!(v);
    }
    let r = s.post("/connectors", &config.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    s.wait_status(&sink, "RUNNING sink tasks", |v| {
        v["tasks"]
            .as_array()
            .is_some_and(|t| !t.is_empty() && t.iter().all(|t| t["state"] == "RUNNING"))
    });

    if sc.kill_mid_stream {
        // Half of the changes, some of them in PostgreSQL, then kill -9;
        // the other half is made while the worker restarts.
        workload(&db, 21, 40);
        wait_for(
            "some changes in the target before the kill",
            Duration::from_secs(120),
            || {
                (target.tables() == 5
                    && target.count(&format!("SELECT count(*) FROM {}.ints", target.name)) > 20)
                    .then_some(())
            },
        );
        s.kill9();
        let db2 = db.clone();
        let writer = std::thread::spawn(move || workload(&db2, 41, 60));
        s = Sluice::start_with(s.worker_file.clone(), s.port, dir.path());
        writer.join().expect("the MariaDB writer thread");
    } else {
        // Changes made while the pipeline runs, from another thread.
        let db2 = db.clone();
        std::thread::spawn(move || workload(&db2, 21, 60))
            .join()
            .expect("the MariaDB writer thread");
    }

    let mut specs = specs;
    specs[4].columns.push(("added", Kind::Plain));
    let outcome = poll(Duration::from_secs(180), || {
        compare(&db, &target, &specs).ok()
    });
    if outcome.is_none() {
        let status = s.get(&format!("/connectors/{sink}/status")).body;
        panic!(
            "the source and {} never matched: {}\nsink status: {status}\nlog:\n{}",
            target.label(),
            compare(&db, &target, &specs).unwrap_err(),
            s.log_text()
        );
    }
    let status = s.get(&format!("/connectors/{sink}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    // The workload did what it says (a check of the check).
    let moved = target.count(&format!(
        "SELECT count(*) FROM {}.ints WHERE id > 100000",
        target.name
    ));
    assert!(moved >= 10, "{moved} moved keys");
    let added = target.count(&format!(
        "SELECT count(*) FROM {}.pairs WHERE added IS NOT NULL",
        target.name
    ));
    assert!(added > 5, "{added} rows with the added column set");
    let nulls = target.count(&format!(
        "SELECT count(*) FROM {}.texts WHERE s IS NULL",
        target.name
    ));
    assert!(nulls > 5, "{nulls} rows with s made NULL");
    for (k, _) in sc
        .sink_extra
        .iter()
        .filter(|(k, _)| k.starts_with("hibernate."))
    {
        let log = s.log_text();
        assert!(
            log.contains("Hibernate settings")
                && log.contains(k)
                && !log.contains(&format!("config key {k} is not known")),
            "{log}"
        );
    }
    if sc.sink_extra.contains(&("tasks.max", "2")) {
        let st = s.get(&format!("/connectors/{sink}/status")).json();
        assert_eq!(st["tasks"].as_array().map(Vec::len), Some(2), "{st}");
    }
    if std::env::var_os("SLUICE_KEEP_TEST_FILES").is_none() {
        target.drop();
    }
}

#[test]
fn mariadb_tables_replicate_into_postgres_row_for_row() {
    replicate(Scenario {
        tag: "jdbc-env",
        sink: Sink::DebeziumEnvelope,
        postgres: true,
        kill_mid_stream: false,
        sink_extra: &[],
    });
}

#[test]
fn flat_rows_after_extract_new_record_state_replicate_row_for_row() {
    replicate(Scenario {
        tag: "jdbc-flat",
        sink: Sink::DebeziumFlat,
        postgres: true,
        kill_mid_stream: false,
        // Accepted with one warning naming it.
        sink_extra: &[("hibernate.c3p0.max_size", "5")],
    });
}

#[test]
fn confluent_class_and_keys_replicate_row_for_row() {
    replicate(Scenario {
        tag: "jdbc-cfl",
        sink: Sink::Confluent,
        postgres: true,
        kill_mid_stream: false,
        sink_extra: &[],
    });
}

#[test]
fn mariadb_tables_replicate_into_a_second_mariadb_database_row_for_row() {
    replicate(Scenario {
        tag: "jdbc-maria",
        sink: Sink::DebeziumEnvelope,
        postgres: false,
        kill_mid_stream: false,
        // Two tasks share the five topics.
        sink_extra: &[("tasks.max", "2")],
    });
}

#[test]
fn kill_9_of_the_worker_mid_stream_still_ends_equal() {
    replicate(Scenario {
        tag: "jdbc-kill",
        sink: Sink::DebeziumEnvelope,
        postgres: true,
        kill_mid_stream: true,
        sink_extra: &[],
    });
}

/// A flat row with Kafka Connect's JSON schema: `{id, name}`.
fn json_row(id: i32, name: &str) -> String {
    json!({
        "schema": {"type": "struct", "name": "t.Value", "optional": false, "fields": [
            {"field": "id", "type": "int32", "optional": false},
            {"field": "name", "type": "string", "optional": true}
        ]},
        "payload": {"id": id, "name": name}
    })
    .to_string()
}

/// A sink of flat rows keyed by their `id` value, into `table`.
fn plain_sink(name: &str, topic: &str, table: &str, extra: &[(&str, &str)]) -> Value {
    let mut config = json!({
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "topics": topic,
        "connection.url": pg_url(),
        "connection.username": pg_user(),
        "connection.password": pg_password(),
        "insert.mode": "upsert",
        "primary.key.mode": "record_value",
        "primary.key.fields": "id",
        "collection.name.format": table,
    });
    for (k, v) in extra {
        config[*k] = json!(v);
    }
    json!({"name": name, "config": config})
}

/// Starts a sink that must fail; returns its task's trace.
fn failed_trace(s: &Sluice, config: &Value) -> String {
    let name = config["name"].as_str().unwrap().to_string();
    let r = s.post("/connectors", &config.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let st = s.wait_status(&name, "a FAILED task", |v| {
        v["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eprintln!("{name} failed as expected: {trace}");
    trace
}

#[test]
fn unreachable_database_or_refused_login_fails_the_task_with_the_remedy() {
    kafka_bootstrap();
    psql("SELECT 1");
    let dir = TempDir::new("jdbc-conn");
    let s = Sluice::start(dir.path(), &[]);
    let topic = unique("jdbc-conn");
    let port = free_port();
    let secret = "pw-that-must-not-show-9431";
    let trace = failed_trace(
        &s,
        &plain_sink(
            &unique("jdbc-down"),
            &topic,
            "t",
            &[
                (
                    "connection.url",
                    &format!("jdbc:postgresql://127.0.0.1:{port}/sluice"),
                ),
                ("connection.password", secret),
            ],
        ),
    );
    assert!(
        trace.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port}/sluice"
        )) && trace.contains("connection.url"),
        "{trace}"
    );
    let trace = failed_trace(
        &s,
        &plain_sink(
            &unique("jdbc-login"),
            &topic,
            "t",
            &[("connection.password", secret)],
        ),
    );
    assert!(
        trace.contains("refused the login of user") && trace.contains("connection.password"),
        "{trace}"
    );
    for text in [trace, s.log_text()] {
        assert!(!text.contains(secret), "the password shows: {text}");
    }
    // TLS required of servers that do not speak it: the task fails saying so.
    let trace = failed_trace(
        &s,
        &plain_sink(
            &unique("jdbc-tls"),
            &topic,
            "t",
            &[("connection.url", &format!("{}?sslmode=require", pg_url()))],
        ),
    );
    assert!(
        trace.contains("TLS") && trace.contains("sslmode"),
        "{trace}"
    );
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let trace = failed_trace(
        &s,
        &plain_sink(
            &unique("jdbc-tls-maria"),
            &topic,
            "t",
            &[
                (
                    "connection.url",
                    &format!(
                        "jdbc:mariadb://127.0.0.1:{}/mysql?sslMode=verify-full",
                        env("SLUICE_MARIADB_PORT", "3307")
                    ),
                ),
                ("connection.username", "root"),
                (
                    "connection.password",
                    &env("SLUICE_MARIADB_ROOT_PASSWORD", "sluice"),
                ),
            ],
        ),
    );
    assert!(
        trace.contains("does not offer TLS") && trace.contains("sslMode"),
        "{trace}"
    );
    // Validation names the key of a combination that cannot work.
    let r = s.put(
        "/connector-plugins/JdbcSink/config/validate",
        &json!({
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "name": "v",
            "topics": "t",
            "connection.url": "jdbc:postgresql://127.0.0.1/sluice",
            "insert.mode": "upsert",
        })
        .to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error_count"], 1, "{v}");
    let insert_mode = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "insert.mode")
        .expect("insert.mode in the validation");
    assert!(
        insert_mode["value"]["errors"][0]
            .as_str()
            .unwrap_or("")
            .contains("primary.key.mode"),
        "{insert_mode}"
    );
    // A URL that is not a JDBC URL is refused when the connector is created.
    let bad = plain_sink(
        &unique("jdbc-url"),
        &topic,
        "t",
        &[("connection.url", "postgresql://127.0.0.1/sluice")],
    );
    let r = s.post("/connectors", &bad.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("jdbc:postgresql:"), "{}", r.body);
}

#[test]
fn missing_table_or_column_without_schema_evolution_fails_naming_them() {
    let bootstrap = kafka_bootstrap();
    let schema = db_name("jdbc-missing");
    psql(&format!(
        "CREATE SCHEMA {schema}; CREATE TABLE {schema}.narrow (id int PRIMARY KEY)"
    ));
    let dir = TempDir::new("jdbc-missing");
    let s = Sluice::start(dir.path(), &[]);
    let topic = unique("jdbc-missing");
    produce_strings(&bootstrap, &topic, &[&json_row(1, "a")]);
    let trace = failed_trace(
        &s,
        &plain_sink(
            &unique("jdbc-notable"),
            &topic,
            &format!("{schema}.absent"),
            &[],
        ),
    );
    assert!(
        trace.contains(&format!("table {schema}.absent does not exist"))
            && trace.contains("schema.evolution=basic"),
        "{trace}"
    );
    let trace = failed_trace(
        &s,
        &plain_sink(
            &unique("jdbc-nocol"),
            &topic,
            &format!("{schema}.narrow"),
            &[],
        ),
    );
    assert!(
        trace.contains(&format!("table {schema}.narrow has no column name"))
            && trace.contains("schema.evolution=basic"),
        "{trace}"
    );
    // A column whose type refuses the value is named, with the value.
    psql(&format!(
        "CREATE TABLE {schema}.typed (id int PRIMARY KEY, name int)"
    ));
    let trace = failed_trace(
        &s,
        &plain_sink(
            &unique("jdbc-type"),
            &topic,
            &format!("{schema}.typed"),
            &[],
        ),
    );
    assert!(
        trace.contains(&format!("table {schema}.typed"))
            && trace.contains("column \"name\" (integer)")
            && trace.contains("\"a\""),
        "{trace}"
    );
    // With basic evolution the same records go in.
    let name = unique("jdbc-evolve");
    let r = s.post(
        "/connectors",
        &plain_sink(
            &name,
            &topic,
            &format!("{schema}.narrow"),
            &[("schema.evolution", "basic")],
        )
        .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    wait_for("the row in PostgreSQL", Duration::from_secs(60), || {
        let column = pg_count(&format!(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name = 'narrow' AND column_name = 'name'"
        ));
        (column == 1 && psql(&format!("SELECT id, name FROM {schema}.narrow")).trim() == "1\ta")
            .then_some(())
    });
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

#[test]
fn refused_records_fail_the_task_or_are_skipped_under_errors_tolerance_all() {
    let bootstrap = kafka_bootstrap();
    let schema = db_name("jdbc-poison");
    psql(&format!(
        "CREATE SCHEMA {schema}; CREATE TABLE {schema}.checked (id int PRIMARY KEY, name text CHECK (name <> 'poison'))"
    ));
    let dir = TempDir::new("jdbc-poison");
    let s = Sluice::start(dir.path(), &[]);
    let topic = unique("jdbc-poison");
    let rows: Vec<String> = [
        (1, "a"),
        (2, "poison"),
        (3, "c"),
        (4, "d"),
        (5, "poison"),
        (6, "f"),
    ]
    .iter()
    .map(|(id, name)| json_row(*id, name))
    .collect();
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    produce_strings(&bootstrap, &topic, &refs);
    let table = format!("{schema}.checked");
    // errors.tolerance=none (the default): the task fails naming the table.
    let trace = failed_trace(&s, &plain_sink(&unique("jdbc-strict"), &topic, &table, &[]));
    assert!(
        trace.contains(&format!("table {table}")) && trace.contains("check constraint"),
        "{trace}"
    );
    assert_eq!(pg_count(&format!("SELECT count(*) FROM {table}")), 0);
    // errors.tolerance=all: the refused records are skipped, the rest written.
    let name = unique("jdbc-tolerant");
    let r = s.post(
        "/connectors",
        &plain_sink(&name, &topic, &table, &[("errors.tolerance", "all")]).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    wait_for(
        "the good rows in PostgreSQL",
        Duration::from_secs(60),
        || {
            (psql(&format!(
                "SELECT string_agg(id::text, ',' ORDER BY id) FROM {table}"
            ))
            .trim()
                == "1,3,4,6")
                .then_some(())
        },
    );
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
    assert!(
        s.log_text()
            .contains("skipping a record the database refused"),
        "{}",
        s.log_text()
    );
    // With a dead letter queue, the refused records go there as they were
    // consumed, with Kafka Connect's context headers (KIP-610).
    psql(&format!("TRUNCATE {table}"));
    let dlq = unique("jdbc-poison-dlq");
    let name = unique("jdbc-dlq");
    let r = s.post(
        "/connectors",
        &plain_sink(
            &name,
            &topic,
            &table,
            &[
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", &dlq),
                ("errors.deadletterqueue.topic.replication.factor", "1"),
                ("errors.deadletterqueue.context.headers.enable", "true"),
            ],
        )
        .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let dead = consume(&bootstrap, &dlq, 2, Duration::from_secs(60));
    assert_eq!(
        dead.len(),
        2,
        "two refused records in the dead letter queue"
    );
    for (r, id) in dead.iter().zip([2, 5]) {
        let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
        assert_eq!(value, json_row(id, "poison"), "the record as consumed");
        let header = |k: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.as_deref())
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("__connect.errors.topic"), topic);
        assert_eq!(header("__connect.errors.stage"), "TASK_PUT");
        assert!(
            header("__connect.errors.exception.message").contains("check constraint"),
            "{:?}",
            r.headers
        );
    }
    wait_for("the good rows again", Duration::from_secs(60), || {
        (psql(&format!(
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM {table}"
        ))
        .trim()
            == "1,3,4,6")
            .then_some(())
    });
    let st = s.get(&format!("/connectors/{name}/status")).json();
    assert_eq!(
        st["tasks"][0]["errors"]["deadletterqueue-produce-requests"], 2,
        "{st}"
    );
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

/// Writes keyed records (`None`: a tombstone) and waits for the broker.
fn produce_keyed(bootstrap: &str, topic: &str, records: &[(&str, Option<&str>)]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for (key, value) in records {
        let mut r = BaseRecord::<str, str>::to(topic).key(*key);
        if let Some(v) = value {
            r = r.payload(*v);
        }
        producer.send(r).expect("enqueue a record");
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("records acknowledged");
}

#[test]
fn schemaless_json_rows_are_written_with_inferred_columns() {
    let bootstrap = kafka_bootstrap();
    let schema = db_name("jdbc-nosch");
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    let dir = TempDir::new("jdbc-nosch");
    let s = Sluice::start(dir.path(), &[]);
    let topic = unique("jdbc-nosch");
    produce_keyed(
        &bootstrap,
        &topic,
        &[
            (
                r#"{"id": 1}"#,
                Some(r#"{"id": 1, "name": "a", "score": 2.5, "tags": ["x", "y"], "ok": true}"#),
            ),
            (
                r#"{"id": 2}"#,
                Some(r#"{"id": 2, "name": "b", "score": 1, "tags": [], "ok": false}"#),
            ),
            (
                r#"{"id": 1}"#,
                Some(r#"{"id": 1, "name": "a2", "score": -0.5, "tags": null, "ok": null}"#),
            ),
            (r#"{"id": 2}"#, None),
            (
                r#"{"id": 3}"#,
                Some(r#"{"id": 3, "name": "c", "score": 0, "tags": {"k": 1}, "ok": true}"#),
            ),
        ],
    );
    let name = unique("jdbc-nosch");
    let config = json!({"name": name, "config": {
        "connector.class": "JdbcSink",
        "topics": topic,
        "connection.url": pg_url(),
        "connection.username": pg_user(),
        "connection.password": pg_password(),
        "insert.mode": "upsert",
        "delete.enabled": "true",
        "primary.key.mode": "record_key",
        "schema.evolution": "basic",
        "collection.name.format": format!("{schema}.rows"),
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }});
    let r = s.post("/connectors", &config.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let want = "1\ta2\t-0.5\tNULL\tNULL\n3\tc\t0\t{\"k\": 1}\tt";
    let got = poll(Duration::from_secs(60), || {
        let tables = pg_count(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}'"
        ));
        if tables != 1 {
            return None;
        }
        let rows = psql(&format!(
            "SELECT id, name, score, tags, ok FROM {schema}.rows ORDER BY id"
        ));
        (rows.trim() == want).then_some(rows)
    });
    let rows = psql(&format!("SELECT * FROM {schema}.rows ORDER BY id"));
    assert!(got.is_some(), "rows: {rows}\nlog:\n{}", s.log_text());
    let types = psql(&format!(
        "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name = 'rows'"
    ));
    assert_eq!(
        types.trim(),
        "id bigint, name text, score double precision, tags jsonb, ok boolean"
    );
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

#[test]
fn truncate_events_empty_the_target_table_with_truncate_enabled() {
    kafka_bootstrap();
    let db = db_name("jdbc-trunc");
    mariadb(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO {db}.t VALUES (1, 'a'), (2, 'b'), (3, 'c');"
    ));
    psql(&format!("DROP SCHEMA IF EXISTS {db} CASCADE"));
    let dir = TempDir::new("jdbc-trunc");
    let s = Sluice::start(dir.path(), &[]);
    let prefix = unique("jt");
    let src = mysql_connector_config(
        &unique("jdbc-trunc-src"),
        &prefix,
        &db,
        &dir.path().join("history.jsonl"),
        &[("skipped.operations", "none")],
    );
    let r = s.post("/connectors", &src.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let sink = unique("jdbc-trunc-sink");
    let target = Target {
        postgres: true,
        name: db.clone(),
    };
    let mut config = sink_config(
        &sink,
        &format!("{}\\.{db}\\..*", prefix.replace('-', "\\-")),
        &target,
        Sink::DebeziumEnvelope,
    );
    config["config"]["truncate.enabled"] = json!("true");
    let r = s.post("/connectors", &config.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let rows = |want: &'static str| {
        let (db, target) = (db.clone(), target.clone());
        move || {
            (target.has_table("t")
                && psql(&format!(
                    "SELECT string_agg(id || v, ',' ORDER BY id) FROM {db}.t"
                ))
                .trim()
                    == want)
                .then_some(())
        }
    };
    wait_for(
        "the snapshot rows",
        Duration::from_secs(60),
        rows("1a,2b,3c"),
    );
    mariadb(&format!(
        "TRUNCATE TABLE {db}.t; INSERT INTO {db}.t VALUES (4, 'd');"
    ));
    wait_for(
        "the table emptied, then the new row",
        Duration::from_secs(60),
        rows("4d"),
    );
    psql(&format!("DROP SCHEMA {db} CASCADE"));
}

#[test]
fn insert_and_update_modes_and_kafka_coordinates_as_key() {
    let bootstrap = kafka_bootstrap();
    let schema = db_name("jdbc-modes");
    psql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
         CREATE TABLE {schema}.upd (id int PRIMARY KEY, name text);
         INSERT INTO {schema}.upd VALUES (1, 'old'), (2, 'old')"
    ));
    let dir = TempDir::new("jdbc-modes");
    let s = Sluice::start(dir.path(), &[]);
    let topic = unique("jdbc-modes");
    produce_strings(
        &bootstrap,
        &topic,
        &[
            &json_row(1, "new"),
            &json_row(3, "absent"),
            &json_row(1, "newer"),
        ],
    );
    // update: existing rows change, missing ones are not created.
    let r = s.post(
        "/connectors",
        &plain_sink(
            &unique("jdbc-update"),
            &topic,
            &format!("{schema}.upd"),
            &[("insert.mode", "update")],
        )
        .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    wait_for("the updates", Duration::from_secs(60), || {
        (psql(&format!(
            "SELECT string_agg(id || name, ',' ORDER BY id) FROM {schema}.upd"
        ))
        .trim()
            == "1newer,2old")
            .then_some(())
    });
    // insert with the Kafka coordinates as the key: one row per record.
    let r = s.post(
        "/connectors",
        &plain_sink(
            &unique("jdbc-kafka"),
            &topic,
            &format!("{schema}.log"),
            &[
                ("insert.mode", "insert"),
                ("primary.key.mode", "kafka"),
                ("primary.key.fields", ""),
                ("schema.evolution", "basic"),
            ],
        )
        .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let want = format!("{topic} 0 0 1 new,{topic} 0 1 3 absent,{topic} 0 2 1 newer");
    wait_for("one row per record", Duration::from_secs(60), || {
        let tables = pg_count(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}' AND tablename = 'log'"
        ));
        (tables == 1
            && psql(&format!(
                "SELECT string_agg(concat_ws(' ', __connect_topic, __connect_partition, __connect_offset, id, name), ',' ORDER BY __connect_offset) FROM {schema}.log"
            ))
            .trim()
                == want)
            .then_some(())
    });
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

/// A rough throughput figure, not a benchmark of record (debug builds;
/// docs/benchmarks.md says how benchmarks are run):
/// `SLUICE_JDBC_BENCH_ROWS=200000 cargo test -p sluice --test jdbc_sink -- --ignored --nocapture bench`
#[test]
#[ignore]
fn bench_flat_rows_into_postgres() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let n: i64 = std::env::var("SLUICE_JDBC_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let bootstrap = kafka_bootstrap();
    let schema = db_name("jdbc-bench");
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    let topic = unique("jdbc-bench");
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    let key_schema = r#"{"type":"struct","optional":false,"fields":[{"field":"id","type":"int64","optional":false}]}"#;
    let value_schema = r#"{"type":"struct","optional":false,"name":"bench.Value","fields":[{"field":"id","type":"int64","optional":false},{"field":"name","type":"string","optional":true},{"field":"n","type":"int32","optional":true},{"field":"x","type":"double","optional":true},{"field":"ts","type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1}]}"#;
    for i in 0..n {
        // Every tenth change updates an earlier row.
        let id = if i % 10 == 9 { i / 2 } else { i };
        let key = format!(r#"{{"schema":{key_schema},"payload":{{"id":{id}}}}}"#);
        let value = format!(
            r#"{{"schema":{value_schema},"payload":{{"id":{id},"name":"row number {i}","n":{},"x":{}.25,"ts":{}}}}}"#,
            i % 1000,
            i,
            1_700_000_000_000_000i64 + i
        );
        loop {
            match producer.send(BaseRecord::to(&topic).key(&key).payload(&value)) {
                Ok(()) => break,
                Err((_, _)) => {
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flushed");
    let distinct = (0..n)
        .map(|i| if i % 10 == 9 { i / 2 } else { i })
        .collect::<std::collections::HashSet<_>>()
        .len() as i64;
    let dir = TempDir::new("jdbc-bench");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("jdbc-bench");
    let config = json!({"name": name, "config": {
        "connector.class": "JdbcSink",
        "topics": topic,
        "connection.url": pg_url(),
        "connection.username": pg_user(),
        "connection.password": pg_password(),
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "schema.evolution": "basic",
        "collection.name.format": format!("{schema}.bench"),
    }});
    let start = std::time::Instant::now();
    let r = s.post("/connectors", &config.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    wait_for("every row in PostgreSQL", Duration::from_secs(600), || {
        let tables = pg_count(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}'"
        ));
        (tables == 1 && pg_count(&format!("SELECT count(*) FROM {schema}.bench")) == distinct)
            .then_some(())
    });
    let secs = start.elapsed().as_secs_f64();
    let rss = std::fs::read_to_string(format!("/proc/{}/status", s.child.id()))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    println!(
        "{n} changes ({distinct} rows) from Kafka into PostgreSQL in {secs:.1} s: {:.0} changes/s; worker peak RSS {rss}",
        n as f64 / secs
    );
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

/// A throw-away PostgreSQL with TLS on (a CA and a server certificate that
/// names `localhost`), run as the OS user `postgres` when the test runs as
/// root (the server refuses root), trusting local logins.
struct TlsPostgres {
    child: std::process::Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl TlsPostgres {
    fn bin() -> std::path::PathBuf {
        let mut bins: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's binaries in /usr/lib/postgresql (apt-get install postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        bins.sort();
        bins.pop()
            .expect("an initdb under /usr/lib/postgresql/*/bin")
    }

    fn as_postgres(program: &std::path::Path) -> Command {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        if root {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn start() -> TlsPostgres {
        // Under /tmp: the server's user must reach it.
        let dir = std::env::temp_dir().join(unique("jdbc-tls-pg"));
        std::fs::create_dir_all(&dir).unwrap();
        issue_cert(&dir, "server", "localhost", "subjectAltName=DNS:localhost");
        let _ = Command::new("chown")
            .arg("-R")
            .arg("postgres:postgres")
            .arg(&dir)
            .status();
        let _ = Command::new("chmod").arg("0700").arg(&dir).status();
        let _ = Command::new("chmod")
            .arg("0600")
            .arg(dir.join("server-key.pem"))
            .status();
        let bin = Self::bin();
        let out = Self::as_postgres(&bin.join("initdb"))
            .args(["-D"])
            .arg(dir.join("data"))
            .args(["-U", "sluice", "--auth=trust", "-E", "UTF8"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let log = std::fs::File::create(dir.join("postgres.log")).unwrap();
        let child = Self::as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "ssl=on",
            ])
            .arg("-c")
            .arg(format!(
                "ssl_cert_file={}",
                dir.join("server.pem").display()
            ))
            .arg("-c")
            .arg(format!(
                "ssl_key_file={}",
                dir.join("server-key.pem").display()
            ))
            .arg("-k")
            .arg(&dir)
            .stdout(std::process::Stdio::from(log.try_clone().unwrap()))
            .stderr(std::process::Stdio::from(log))
            .spawn()
            .expect("start postgres");
        let pg = TlsPostgres { child, dir, port };
        wait_for(
            "the TLS PostgreSQL to accept logins",
            Duration::from_secs(60),
            || {
                pg.try_sql("SELECT 1")
                    .filter(|o| o.trim() == "1")
                    .map(|_| ())
            },
        );
        pg
    }

    fn try_sql(&self, sql: &str) -> Option<String> {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-w",
                "-A",
                "-t",
                "-h",
                "127.0.0.1",
                "-U",
                "sluice",
                "-d",
                "postgres",
            ])
            .args(["-p", &self.port.to_string(), "-c", sql])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn tls_to_postgres_with_a_verified_certificate() {
    let bootstrap = kafka_bootstrap();
    let pg = TlsPostgres::start();
    let dir = TempDir::new("jdbc-tls");
    let s = Sluice::start(dir.path(), &[]);
    let topic = unique("jdbc-tls");
    produce_strings(&bootstrap, &topic, &[&json_row(1, "secret")]);
    let url = |mode: &str| {
        format!(
            "jdbc:postgresql://localhost:{}/postgres?sslmode={mode}&sslrootcert={}",
            pg.port,
            pg.dir.join("ca.pem").display()
        )
    };
    let name = unique("jdbc-tls-ok");
    let config = plain_sink(
        &name,
        &topic,
        "tls_rows",
        &[
            ("connection.url", &url("verify-full")),
            ("connection.password", ""),
            ("schema.evolution", "basic"),
        ],
    );
    let r = s.post("/connectors", &config.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    wait_for("the row over TLS", Duration::from_secs(60), || {
        pg.try_sql("SELECT id || name FROM tls_rows")
            .filter(|o| o.trim() == "1secret")
            .map(|_| ())
    });
    let ssl = pg
        .try_sql("SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'sluice-jdbc-sink'")
        .unwrap_or_default();
    assert_eq!(ssl.trim(), "t", "the sink's session is not encrypted");
    // A certificate that names another host fails verify-full.
    let trace = failed_trace(
        &s,
        &plain_sink(
            &unique("jdbc-tls-name"),
            &topic,
            "tls_rows",
            &[
                (
                    "connection.url",
                    &url("verify-full").replace("localhost", "127.0.0.1"),
                ),
                ("connection.password", ""),
            ],
        ),
    );
    assert!(trace.contains("TLS"), "{trace}");
}
