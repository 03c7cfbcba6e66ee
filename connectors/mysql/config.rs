//! The MySQL/MariaDB connector's configuration: Debezium's property names
//! and defaults, declared once ([`config_def`]) and parsed into one typed
//! struct ([`MySqlConfig`]).
//!
//! Keys Debezium users set that Sluice accepts but does not act on yet are
//! declared `.unsupported()`: the herder warns once, naming the key, and the
//! connector runs. Values Sluice cannot honour (e.g. `database.ssl.mode=required`
//! without TLS support) are refused at start with the key and the remedy,
//! never silently ignored.

use std::collections::BTreeMap;

use regex::Regex;
use sluice_api::{Config, ConfigDef, ConfigError, ConfigType, Importance, Props, Validator};

use crate::debezium::config::{
    included, one_of, regex_list, regexes, CommonConfig, CommonKeys, SnapshotMode,
};

use super::column::{BigintUnsignedMode, BinaryMode, DecimalMode, DecodeOptions, TimePrecision};

/// Which Debezium connector class this instance answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MySql,
    MariaDb,
}

impl Flavor {
    /// `source.connector`.
    pub fn connector_name(self) -> &'static str {
        match self {
            Flavor::MySql => "mysql",
            Flavor::MariaDb => "mariadb",
        }
    }

    /// The source struct's schema name.
    pub fn source_schema_name(self) -> &'static str {
        match self {
            Flavor::MySql => "io.debezium.connector.mysql.Source",
            Flavor::MariaDb => "io.debezium.connector.mariadb.Source",
        }
    }

    pub fn namespace(self) -> &'static str {
        match self {
            Flavor::MySql => "io.debezium.connector.mysql",
            Flavor::MariaDb => "io.debezium.connector.mariadb",
        }
    }
}

/// The snapshot modes the MySQL connector accepts.
pub const SNAPSHOT_MODES: &[SnapshotMode] = &[
    SnapshotMode::Initial,
    SnapshotMode::InitialOnly,
    SnapshotMode::NoData,
    SnapshotMode::Never,
    SnapshotMode::WhenNeeded,
    SnapshotMode::Recovery,
    SnapshotMode::Always,
];

/// event.processing.failure.handling.mode: what a binlog row event that
/// cannot be decoded does (the snapshot always fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    Fail,
    /// Skip the rest of the event, with a warning naming its position.
    Warn,
    /// Skip it silently (skip, ignore).
    Skip,
}

/// snapshot.locking.mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockingMode {
    Minimal,
    Extended,
    None,
}

/// The include/exclude lists, as Debezium matches them: each entry is a
/// regular expression matched against the whole name.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub db_include: Vec<Regex>,
    pub db_exclude: Vec<Regex>,
    pub table_include: Vec<Regex>,
    pub table_exclude: Vec<Regex>,
    pub column_include: Vec<Regex>,
    pub column_exclude: Vec<Regex>,
}

/// System databases Debezium never captures.
const SYSTEM_DBS: &[&str] = &["mysql", "sys", "performance_schema", "information_schema"];

fn any_full_match(list: &[Regex], s: &str) -> bool {
    list.iter().any(|r| r.is_match(s))
}

impl Filters {
    pub fn captures_db(&self, db: &str) -> bool {
        if SYSTEM_DBS.contains(&db) {
            return false;
        }
        if !self.db_include.is_empty() {
            return any_full_match(&self.db_include, db);
        }
        !any_full_match(&self.db_exclude, db)
    }

    pub fn captures_table(&self, db: &str, table: &str) -> bool {
        if !self.captures_db(db) {
            return false;
        }
        let id = format!("{db}.{table}");
        if !self.table_include.is_empty() {
            return any_full_match(&self.table_include, &id);
        }
        !any_full_match(&self.table_exclude, &id)
    }

    pub fn captures_column(&self, db: &str, table: &str, column: &str) -> bool {
        if self.column_include.is_empty() && self.column_exclude.is_empty() {
            return true;
        }
        let id = format!("{db}.{table}.{column}");
        if !self.column_include.is_empty() {
            return any_full_match(&self.column_include, &id);
        }
        !any_full_match(&self.column_exclude, &id)
    }
}

/// Where the history is kept (schema.history.internal.*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryKind {
    /// Nothing kept: every start recovers from the current schema.
    Memory,
    File(String),
    Kafka {
        topic: String,
        bootstrap: String,
        /// schema.history.internal.producer.* / consumer.* (librdkafka names).
        producer: BTreeMap<String, String>,
        consumer: BTreeMap<String, String>,
    },
}

impl HistoryKind {
    /// Where the history is, for messages (no client settings: they may
    /// hold credentials).
    pub fn describe(&self) -> String {
        match self {
            HistoryKind::Memory => "kept in memory".into(),
            HistoryKind::File(f) => format!("file {f}"),
            HistoryKind::Kafka { topic, .. } => format!("topic {topic}"),
        }
    }
}

/// Everything the task needs, typed.
#[derive(Debug, Clone)]
pub struct MySqlConfig {
    pub flavor: Flavor,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub server_id: u32,
    pub topic_prefix: String,
    pub filters: Filters,
    /// message.key.columns: (table regex over `<db>.<table>`, matched whole
    /// and without case as Debezium's, columns), first match wins.
    pub key_columns: Vec<(Regex, Vec<String>)>,
    /// skip.messages.without.change: an update that changes none of the
    /// columns events carry is not published.
    pub skip_messages_without_change: bool,
    /// The keys every Debezium source shares (snapshot.mode, queue, heartbeats, ...).
    pub common: CommonConfig,
    pub locking_mode: LockingMode,
    /// snapshot.lock.timeout.ms: how long the snapshot waits for its
    /// global read lock.
    pub lock_timeout_ms: u64,
    /// snapshot.include.collection.list: the captured tables whose rows
    /// the initial snapshot reads (empty: all).
    pub snapshot_include: Vec<Regex>,
    /// snapshot.select.statement.overrides: `<db>.<table>` → the SELECT
    /// its initial snapshot reads instead of the whole table.
    pub select_overrides: BTreeMap<String, String>,
    pub include_schema_changes: bool,
    /// include.query: source.query carries each change's SQL statement.
    pub include_query: bool,
    /// event.processing.failure.handling.mode.
    pub on_failure: FailureMode,
    /// column.mask.*, column.truncate.*, column/datatype.propagate.source.type.
    pub column_rules: super::column_rules::ColumnRules,
    /// schema.history.internal.skip.unparseable.ddl.
    pub skip_unparseable_ddl: bool,
    /// extended.headers.enabled: Debezium's `__debezium.context.*` headers
    /// on every record.
    pub extended_headers: bool,
    pub decode: DecodeOptions,
    pub provide_transaction_metadata: bool,
    pub history: HistoryKind,
    pub tls: super::tls::TlsOptions,
    /// signal.*, incremental.snapshot.*.
    pub signal: crate::debezium::signal::SignalConfig,
    /// notification.*.
    pub notifier: crate::debezium::notify::Notifier,
    /// heartbeat.action.query: run on each heartbeat.
    pub heartbeat_action_query: Option<String>,
    /// read.only: incremental snapshots write nothing.
    pub read_only: bool,
}

/// Every key the connector reads, with Debezium's defaults.
pub fn config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    let def = ConfigDef::new()
        .define("database.hostname", String, None, High, "Resolvable hostname or IP address of the database server.")
        .validate(Validator::NonEmpty)
        .define("database.port", Int, Some("3306"), High, "Port of the database server.")
        .validate(Validator::Range { min: Some(1.0), max: Some(65535.0) })
        .define("database.user", String, None, High, "Name of the database user to connect as.")
        .define("database.password", Password, Some(""), High, "Password of the database user.")
        .define("database.server.id", Long, None, Low, "A numeric ID of this client, unique among all replicas of the server (it joins the cluster as a replica).")
        .validate(Validator::Range { min: Some(1.0), max: Some(4294967295.0) })
        .define("topic.prefix", String, None, High, "Topic prefix naming the server; prefixes every topic this connector writes.")
        .validate(Validator::NonEmpty)
        .define("database.include.list", List, Some(""), High, "Regular expressions matching the databases to capture (all others excluded).")
        .validate(Validator::Custom(regex_list))
        .define("database.exclude.list", List, Some(""), High, "Regular expressions matching databases not to capture.")
        .validate(Validator::Custom(regex_list))
        .define("table.include.list", List, Some(""), High, "Regular expressions matching <db>.<table> identifiers to capture.")
        .validate(Validator::Custom(regex_list))
        .define("table.exclude.list", List, Some(""), High, "Regular expressions matching <db>.<table> identifiers not to capture.")
        .validate(Validator::Custom(regex_list))
        .define("column.include.list", List, Some(""), Medium, "Regular expressions matching <db>.<table>.<column> to include in events.")
        .validate(Validator::Custom(regex_list))
        .define("column.exclude.list", List, Some(""), Medium, "Regular expressions matching <db>.<table>.<column> to leave out of events.")
        .validate(Validator::Custom(regex_list))
        .prefix("column.mask.with.")
        .prefix("column.truncate.to.")
        .prefix("column.mask.hash.")
        .define("column.propagate.source.type", String, Some(""), Low, "Regular expressions (comma-separated) over <db>.<table>.<column>: those columns' schemas carry the source type as parameters (__debezium.source.column.type, .length, .scale, .name). column.mask.with.<N>.chars, column.truncate.to.<N>.chars and column.mask.hash.[v2.]<ALGORITHM>.with.salt.<SALT> take such lists too and mask, cut or hash the text of those columns.")
        .define("datatype.propagate.source.type", String, Some(""), Low, "Regular expressions (comma-separated) over <db>.<table>.<TYPE> or <TYPE>: columns of those types carry the source type as schema parameters.")
        .define("message.key.columns", String, Some(""), Low, "Key columns per table: <table regex>:<col>[,<col>...] entries separated by ';'; the regular expression is matched whole, without case, against <db>.<table> (first match wins).")
        .define("skip.messages.without.change", Boolean, Some("false"), Low, "Whether an update that changes none of the columns events carry (after column.include.list / column.exclude.list) is left out.")
        .define("snapshot.mode", String, Some("initial"), Low, "When to snapshot: initial, initial_only, no_data (schema_only), never, when_needed, recovery, always (a snapshot at every start of the task, then streaming from its position).")
        .validate(one_of(&["initial", "initial_only", "no_data", "schema_only", "never", "when_needed", "recovery", "schema_only_recovery", "always"]))
        .define("snapshot.locking.mode", String, Some("minimal"), Low, "Locking during the snapshot: minimal (MySQL: a global read lock only while the position is read; MariaDB needs none, its consistent snapshot reports its own binlog position), extended (a global read lock for the whole snapshot: writes wait until it ends), none.")
        .validate(one_of(&["minimal", "minimal_percona", "extended", "none"]))
        .define("snapshot.lock.timeout.ms", Long, Some("10000"), Medium, "Milliseconds the snapshot waits for its global read lock (FLUSH TABLES WITH READ LOCK, under snapshot.locking.mode minimal on MySQL or extended) before it fails naming the lock: the session's lock_wait_timeout, rounded up to whole seconds.")
        .define("snapshot.include.collection.list", List, Some(""), Medium, "Regular expressions matching <db>.<table> of the captured tables whose rows the initial snapshot reads (default: every captured table). The other captured tables' definitions are still recorded, and their changes streamed.")
        .define("snapshot.select.statement.overrides", List, Some(""), Medium, "Captured tables (<db>.<table>) whose initial snapshot reads the statement in snapshot.select.statement.overrides.<db>.<table> instead of the whole table, e.g. SELECT * FROM db.orders WHERE status <> 'archived'. The statement must return the table's columns in the table's order.")
        .prefix("snapshot.select.statement.overrides.")
        .define("snapshot.fetch.size", Int, Some("0"), Medium, "Rows fetched per round trip during the snapshot (Sluice streams rows with flat memory whatever the value).")
        .unsupported()
        .define("include.schema.changes", Boolean, Some("true"), Low, "Whether schema changes are published to the topic named by topic.prefix.")
        .tombstones_on_delete()
        .define("extended.headers.enabled", Boolean, Some("true"), Low, "Whether every record carries Debezium's context headers: __debezium.context.connectorLogicalName, connectorName, taskId and runId.")
        .define("decimal.handling.mode", String, Some("precise"), Medium, "DECIMAL/NUMERIC as precise (Kafka Connect Decimal), double, or string.")
        .validate(one_of(&["precise", "double", "string"]))
        .define("time.precision.mode", String, Some("adaptive_time_microseconds"), Medium, "Temporal type mapping: adaptive_time_microseconds (io.debezium.time.* at each column's precision), connect (Kafka Connect's Date, Time and Timestamp, in milliseconds; TIME outside 00:00:00-24:00:00 is null), isostring (IsoDate, IsoTime, IsoTimestamp strings), microseconds (MicroTime, MicroTimestamp) or nanoseconds (NanoTime, NanoTimestamp). TIMESTAMP is ZonedTimestamp in every mode.")
        .validate(one_of(&["adaptive_time_microseconds", "connect", "isostring", "microseconds", "nanoseconds"]))
        .define("bigint.unsigned.handling.mode", String, Some("long"), Medium, "BIGINT UNSIGNED as long (int64, wraps above 2^63-1) or precise (Decimal).")
        .validate(one_of(&["long", "precise"]))
        .define("binary.handling.mode", String, Some("bytes"), Low, "BINARY, VARBINARY and BLOB columns as bytes, or as strings: base64, base64-url-safe or hex.")
        .validate(one_of(&["bytes", "base64", "base64-url-safe", "hex"]))
        .skipped_operations()
        .define("provide.transaction.metadata", Boolean, Some("false"), Low, "Publish BEGIN/END transaction events on <topic.prefix>.transaction and fill each change event's transaction block (id, total_order, data_collection_order).")
        .heartbeat_and_queue("the binlog reader", "Milliseconds between heartbeat messages; 0 disables them.")
        .define("read.only", Boolean, Some("false"), Low, "Incremental snapshots without writing to the database: each chunk is read in a consistent snapshot whose binlog position MariaDB reports (binlog_snapshot_position), and emitted when the stream reaches that position; no watermark rows, no dedup window. MariaDB (and Percona Server) only.")
        .define("heartbeat.action.query", String, Some(""), Low, "A statement run against the source database at each heartbeat (heartbeat.interval.ms), so that a quiet captured database still moves the binlog position (an UPDATE of a heartbeat table).")
        .define("schema.history.internal", String, Some("io.debezium.storage.kafka.history.KafkaSchemaHistory"), Low, "Where the schema history is kept: io.debezium.storage.kafka.history.KafkaSchemaHistory (a one-partition topic, Debezium's default), io.debezium.storage.file.history.FileSchemaHistory (a file, standalone) or io.debezium.relational.history.MemorySchemaHistory (nothing kept). With KafkaSchemaHistory and no schema.history.internal.kafka.topic, Sluice uses schema.history.internal.file.filename when set. A connector with offsets whose history is missing, empty or damaged fails naming snapshot.mode=recovery, as Debezium's does.")
        .define("schema.history.internal.file.filename", String, Some(""), Low, "File the schema history is kept in (FileSchemaHistory).")
        .define("schema.history.internal.kafka.topic", String, Some(""), Low, "Topic of the schema history (KafkaSchemaHistory); created with one partition and infinite retention when missing.")
        .define("schema.history.internal.kafka.bootstrap.servers", String, Some(""), Low, "Brokers of the schema history topic; required with schema.history.internal.kafka.topic. schema.history.internal.producer.* and .consumer.* are passed to its clients.")
        .prefix("schema.history.internal.producer.")
        .prefix("schema.history.internal.consumer.")
        .define("schema.history.internal.store.only.captured.tables.ddl", Boolean, Some("false"), Low, "Record only captured tables' DDL.")
        .unsupported()
        .define("schema.history.internal.skip.unparseable.ddl", Boolean, Some("false"), Low, "A DDL statement of a captured (or no) database that Sluice cannot read fails the task naming it; true skips it with a warning instead (the tables it changed keep their old definitions until the next DDL that is read).")
        .define("database.ssl.mode", String, Some("preferred"), Medium, "TLS to the server: disabled; preferred (TLS when offered, certificate not checked); required (TLS or fail, certificate not checked); verify_ca (the chain must lead to a CA of database.ssl.ca); verify_identity (verify_ca, and the certificate must name database.hostname).")
        .validate(one_of(&["disabled", "preferred", "required", "verify_ca", "verify_identity"]))
        .define("database.ssl.ca", String, Some(""), Medium, "Sluice: PEM file of the CA certificates trusted with verify_ca / verify_identity (default: the Mozilla root CAs). Debezium's JKS database.ssl.truststore is not read: export its CA with keytool -exportcert -rfc.")
        .define("include.query", Boolean, Some("false"), Low, "Put the SQL statement that made each streamed change in source.query (needs binlog_annotate_row_events=ON on MariaDB, its default, or binlog_rows_query_log_events=ON on MySQL; snapshot events have none).")
        .define("event.processing.failure.handling.mode", String, Some("fail"), Low, "A binlog row event that cannot be decoded: fail (the task FAILS naming the event), warn (the rest of the event is skipped and logged with its position) or skip (skipped silently; ignore is the same).")
        .validate(one_of(&["fail", "warn", "skip", "ignore"]));
    crate::debezium::signal::define(def)
}

fn key_columns(v: &str) -> Result<Vec<(Regex, Vec<String>)>, ConfigError> {
    let mut out = Vec::new();
    for entry in v.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((table, cols)) = entry.split_once(':') else {
            return Err(ConfigError::one(format!(
                "message.key.columns: '{entry}' must be <db>.<table>:<column>[,<column>...]"
            )));
        };
        let cols: Vec<String> = cols
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if cols.is_empty() {
            return Err(ConfigError::one(format!(
                "message.key.columns: '{entry}' names no column"
            )));
        }
        let table = table.trim();
        let re = regex::RegexBuilder::new(&format!("^(?:{table})$"))
            .case_insensitive(true)
            .build()
            .map_err(|e| {
                ConfigError::one(format!(
                    "message.key.columns: '{table}' is not a regular expression over <db>.<table>: {e}"
                ))
            })?;
        out.push((re, cols));
    }
    Ok(out)
}

/// schema.history.internal and its keys.
fn history_kind(cfg: &Config, props: &Props) -> Result<HistoryKind, ConfigError> {
    let class = cfg.get("schema.history.internal").unwrap_or("").trim();
    let file = cfg.opt_string("schema.history.internal.file.filename");
    let topic = cfg.opt_string("schema.history.internal.kafka.topic");
    let bootstrap = cfg.opt_string("schema.history.internal.kafka.bootstrap.servers");
    let short = class.rsplit('.').next().unwrap_or(class);
    let clients = |prefix: &str| -> BTreeMap<String, String> {
        props
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone())))
            .collect()
    };
    match short {
        "FileSchemaHistory" | "FileDatabaseHistory" => match file {
            Some(f) => Ok(HistoryKind::File(f)),
            None => Err(ConfigError::one(format!(
                "schema.history.internal.file.filename: required with schema.history.internal={class}; name the file the history is kept in"
            ))),
        },
        "MemorySchemaHistory" | "MemoryDatabaseHistory" => Ok(HistoryKind::Memory),
        "KafkaSchemaHistory" | "KafkaDatabaseHistory" | "" => match (topic, file) {
            (Some(topic), _) => match bootstrap {
                Some(bootstrap) => Ok(HistoryKind::Kafka {
                    topic,
                    bootstrap,
                    producer: clients("schema.history.internal.producer."),
                    consumer: clients("schema.history.internal.consumer."),
                }),
                None => Err(ConfigError::one(
                    "schema.history.internal.kafka.bootstrap.servers: required with schema.history.internal.kafka.topic; name the brokers of the history topic",
                )),
            },
            (None, Some(f)) => Ok(HistoryKind::File(f)),
            (None, None) => Ok(HistoryKind::Memory),
        },
        _ => Err(ConfigError::one(format!(
            "schema.history.internal: {class} is not a schema history Sluice knows; use io.debezium.storage.kafka.history.KafkaSchemaHistory or io.debezium.storage.file.history.FileSchemaHistory"
        ))),
    }
}

/// snapshot.select.statement.overrides: each table listed, with the
/// statement of its own key.
fn select_overrides(cfg: &Config, props: &Props) -> Result<BTreeMap<String, String>, ConfigError> {
    const KEY: &str = "snapshot.select.statement.overrides";
    let mut out = BTreeMap::new();
    for table in cfg.list(KEY) {
        let key = format!("{KEY}.{table}");
        match props.get(&key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            Some(sql) => {
                out.insert(table.clone(), sql.to_string());
            }
            None => {
                return Err(ConfigError::one(format!(
                    "{KEY}: names {table}, but {key} is missing; set it to the SELECT the snapshot of {table} reads (e.g. SELECT * FROM {table} WHERE ...), or take {table} out of the list"
                )))
            }
        }
    }
    Ok(out)
}

impl MySqlConfig {
    /// Whether the initial snapshot reads the rows of `db.table`
    /// (snapshot.include.collection.list).
    pub fn snapshots_rows_of(&self, db: &str, table: &str) -> bool {
        included(&self.snapshot_include, &format!("{db}.{table}"))
    }

    pub fn parse(props: &Props, flavor: Flavor) -> Result<MySqlConfig, ConfigError> {
        let cfg = config_def().parse(props)?;
        let lower = |k: &str| cfg.get(k).unwrap_or("").trim().to_ascii_lowercase();
        let common = CommonConfig::parse(&cfg, SNAPSHOT_MODES)?;
        let server_id = cfg.i64("database.server.id")?;
        let history = history_kind(&cfg, props)?;
        let topic_prefix = cfg.string("topic.prefix")?;
        let mut partition = sluice_api::data::JsonMap::new();
        partition.insert(
            "server".into(),
            serde_json::Value::String(topic_prefix.clone()),
        );
        Ok(MySqlConfig {
            flavor,
            hostname: cfg.string("database.hostname")?,
            port: cfg.i32("database.port")? as u16,
            user: cfg.string("database.user")?,
            password: cfg.string("database.password")?,
            server_id: u32::try_from(server_id).map_err(|_| {
                ConfigError::one("database.server.id: must be between 1 and 4294967295")
            })?,
            topic_prefix: cfg.string("topic.prefix")?,
            filters: Filters {
                db_include: regexes(&cfg, "database.include.list", false)?,
                db_exclude: regexes(&cfg, "database.exclude.list", false)?,
                table_include: regexes(&cfg, "table.include.list", false)?,
                table_exclude: regexes(&cfg, "table.exclude.list", false)?,
                column_include: regexes(&cfg, "column.include.list", false)?,
                column_exclude: regexes(&cfg, "column.exclude.list", false)?,
            },
            key_columns: key_columns(cfg.get("message.key.columns").unwrap_or(""))?,
            common,
            locking_mode: match lower("snapshot.locking.mode").as_str() {
                "none" => LockingMode::None,
                "extended" => LockingMode::Extended,
                _ => LockingMode::Minimal,
            },
            lock_timeout_ms: cfg.i64("snapshot.lock.timeout.ms")?.max(0) as u64,
            snapshot_include: regexes(&cfg, "snapshot.include.collection.list", false)?,
            select_overrides: select_overrides(&cfg, props)?,
            include_schema_changes: cfg.bool("include.schema.changes")?,
            include_query: cfg.bool("include.query")?,
            on_failure: match lower("event.processing.failure.handling.mode").as_str() {
                "warn" => FailureMode::Warn,
                "skip" | "ignore" => FailureMode::Skip,
                _ => FailureMode::Fail,
            },
            skip_unparseable_ddl: cfg.bool("schema.history.internal.skip.unparseable.ddl")?,
            column_rules: super::column_rules::ColumnRules::parse(props)?,
            extended_headers: cfg.bool("extended.headers.enabled")?,
            decode: DecodeOptions {
                decimal: match lower("decimal.handling.mode").as_str() {
                    "double" => DecimalMode::Double,
                    "string" => DecimalMode::String,
                    _ => DecimalMode::Precise,
                },
                bigint_unsigned: match lower("bigint.unsigned.handling.mode").as_str() {
                    "precise" => BigintUnsignedMode::Precise,
                    _ => BigintUnsignedMode::Long,
                },
                time_precision: match lower("time.precision.mode").as_str() {
                    "connect" => TimePrecision::Connect,
                    "isostring" => TimePrecision::IsoString,
                    "microseconds" => TimePrecision::Microseconds,
                    "nanoseconds" => TimePrecision::Nanoseconds,
                    _ => TimePrecision::AdaptiveTimeMicroseconds,
                },
                binary: match lower("binary.handling.mode").as_str() {
                    "base64" => BinaryMode::Base64,
                    "base64-url-safe" => BinaryMode::Base64UrlSafe,
                    "hex" => BinaryMode::Hex,
                    _ => BinaryMode::Bytes,
                },
            },
            provide_transaction_metadata: cfg.bool("provide.transaction.metadata")?,
            history,
            tls: super::tls::TlsOptions {
                mode: super::tls::SslMode::parse(&lower("database.ssl.mode"))
                    .ok_or_else(|| ConfigError::one("database.ssl.mode: unknown mode"))?,
                ca_file: cfg.opt_string("database.ssl.ca"),
            },
            signal: crate::debezium::signal::SignalConfig::parse(&cfg, &topic_prefix)?,
            notifier: crate::debezium::notify::Notifier::parse(
                &cfg,
                &topic_prefix,
                std::sync::Arc::new(partition),
            )?,
            heartbeat_action_query: cfg.opt_string("heartbeat.action.query"),
            read_only: cfg.bool("read.only")?,
            skip_messages_without_change: cfg.bool("skip.messages.without.change")?,
        })
    }

    pub fn connect_options(&self) -> super::protocol::ConnectOptions {
        super::protocol::ConnectOptions {
            host: self.hostname.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.clone(),
            database: None,
            tls: self.tls.clone(),
        }
    }

    /// The source partition every record carries: `{"server": <topic.prefix>}`.
    pub fn source_partition(&self) -> sluice_api::data::JsonMap {
        let mut m = sluice_api::data::JsonMap::new();
        m.insert(
            "server".into(),
            serde_json::Value::String(self.topic_prefix.clone()),
        );
        m
    }

    /// Key columns configured for a table, if any.
    pub fn key_columns_for(&self, db: &str, table: &str) -> Option<&Vec<String>> {
        if self.key_columns.is_empty() {
            return None;
        }
        let id = format!("{db}.{table}");
        self.key_columns
            .iter()
            .find(|(k, _)| k.is_match(&id))
            .map(|(_, v)| v)
    }

    pub fn heartbeat_topic(&self) -> String {
        self.common.heartbeat_topic(&self.topic_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(extra: &[(&str, &str)]) -> Props {
        let mut p: Props = [
            ("database.hostname", "127.0.0.1"),
            ("database.user", "u"),
            ("database.server.id", "5400"),
            ("topic.prefix", "srv"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        p
    }

    #[test]
    fn debezium_defaults() {
        let c = MySqlConfig::parse(&props(&[]), Flavor::MySql).unwrap();
        assert_eq!(c.port, 3306);
        assert_eq!(c.common.snapshot_mode, SnapshotMode::Initial);
        assert!(c.include_schema_changes && c.common.tombstones_on_delete);
        assert!(c.common.skipped.truncate && !c.common.skipped.create);
        assert_eq!(c.common.heartbeat_interval_ms, 0);
        assert_eq!(c.heartbeat_topic(), "__debezium-heartbeat.srv");
    }

    #[test]
    fn missing_required_keys_are_named() {
        let err = MySqlConfig::parse(&Props::new(), Flavor::MySql)
            .unwrap_err()
            .to_string();
        for k in [
            "database.hostname",
            "database.user",
            "database.server.id",
            "topic.prefix",
        ] {
            assert!(err.contains(k), "{err}");
        }
    }

    #[test]
    fn filters_match_whole_names_as_regexes() {
        let c = MySqlConfig::parse(
            &props(&[
                ("database.include.list", "inv.*,shop"),
                ("table.exclude.list", "inventory\\.secret.*"),
                ("column.exclude.list", "inventory\\.users\\.password"),
            ]),
            Flavor::MySql,
        )
        .unwrap();
        let f = &c.filters;
        assert!(f.captures_db("inventory") && f.captures_db("shop"));
        assert!(!f.captures_db("shopping") && !f.captures_db("mysql"));
        assert!(f.captures_table("inventory", "users"));
        assert!(!f.captures_table("inventory", "secrets"));
        assert!(!f.captures_column("inventory", "users", "password"));
        assert!(f.captures_column("inventory", "users", "password_hint"));
    }

    #[test]
    fn snapshot_modes_and_aliases() {
        for (v, m) in [
            ("schema_only", SnapshotMode::NoData),
            ("no_data", SnapshotMode::NoData),
            ("when_needed", SnapshotMode::WhenNeeded),
            ("never", SnapshotMode::Never),
            ("initial_only", SnapshotMode::InitialOnly),
            ("recovery", SnapshotMode::Recovery),
        ] {
            let c = MySqlConfig::parse(&props(&[("snapshot.mode", v)]), Flavor::MariaDb).unwrap();
            assert_eq!(c.common.snapshot_mode, m, "{v}");
        }
        assert!(
            MySqlConfig::parse(&props(&[("snapshot.mode", "sometimes")]), Flavor::MySql).is_err()
        );
    }

    #[test]
    fn key_columns_and_skipped_operations() {
        let c = MySqlConfig::parse(
            &props(&[
                ("message.key.columns", "inv.users:email; inv.orders:a,b"),
                ("skipped.operations", "c,d"),
            ]),
            Flavor::MySql,
        )
        .unwrap();
        assert_eq!(
            c.key_columns_for("inv", "orders").unwrap(),
            &vec!["a".to_string(), "b".to_string()]
        );
        assert_eq!(
            c.key_columns_for("INV", "users").unwrap(),
            &vec!["email".to_string()]
        );
        let r = MySqlConfig::parse(
            &props(&[("message.key.columns", "inv\\.shard_[0-9]+:tenant,id")]),
            Flavor::MySql,
        )
        .unwrap();
        assert_eq!(r.key_columns_for("inv", "shard_12").unwrap().len(), 2);
        assert!(r.key_columns_for("inv", "shard_x").is_none());
        assert!(
            MySqlConfig::parse(&props(&[("message.key.columns", "inv.(:a")]), Flavor::MySql)
                .is_err()
        );
        let k = &c.common.skipped;
        assert!(k.create && k.delete && !k.update && !k.truncate);
        assert!(
            MySqlConfig::parse(&props(&[("message.key.columns", "nocolon")]), Flavor::MySql)
                .is_err()
        );
    }

    #[test]
    fn unsupported_values_are_refused_with_a_remedy() {
        let e = MySqlConfig::parse(
            &props(&[("time.precision.mode", "adaptive")]),
            Flavor::MySql,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("time.precision.mode"), "{e}");
        // Debezium's other modes are taken.
        let c = MySqlConfig::parse(
            &props(&[
                ("time.precision.mode", "connect"),
                ("binary.handling.mode", "hex"),
            ]),
            Flavor::MySql,
        )
        .unwrap();
        assert_eq!(c.decode.time_precision, TimePrecision::Connect);
        assert_eq!(c.decode.binary, BinaryMode::Hex);
        for (mode, want) in [
            ("isostring", TimePrecision::IsoString),
            ("microseconds", TimePrecision::Microseconds),
            ("nanoseconds", TimePrecision::Nanoseconds),
        ] {
            let c = MySqlConfig::parse(&props(&[("time.precision.mode", mode)]), Flavor::MySql)
                .unwrap();
            assert_eq!(c.decode.time_precision, want, "{mode}");
        }
        let e = MySqlConfig::parse(&props(&[("table.include.list", "a(")]), Flavor::MySql)
            .unwrap_err()
            .to_string();
        assert!(e.contains("table.include.list"), "{e}");
    }

    #[test]
    fn unsupported_keys_are_declared() {
        let def = config_def();
        assert!(def.key("snapshot.fetch.size").unwrap().unsupported);
        assert!(
            !def.key("event.processing.failure.handling.mode")
                .unwrap()
                .unsupported
        );
        assert!(!def.key("table.include.list").unwrap().unsupported);
        assert!(!def.key("include.query").unwrap().unsupported);
        assert!(!def.key("provide.transaction.metadata").unwrap().unsupported);
        // The history clients' settings are passed on, not unknown.
        assert!(def.knows("schema.history.internal.producer.security.protocol"));
        assert!(def.knows("schema.history.internal.consumer.fetch.max.bytes"));
        assert!(!def.knows("schema.history.internal.typo"));
    }
}
