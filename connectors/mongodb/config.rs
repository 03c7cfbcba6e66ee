//! The MongoDB connector's configuration: Debezium 2.7's property names and
//! defaults, declared once ([`config_def`]) and parsed into one typed struct
//! ([`MongoConfig`]).
//!
//! Keys Debezium users set that Sluice accepts but does not act on yet are
//! declared `.unsupported()`: the herder warns once, naming the key. Values
//! Sluice cannot honour (e.g. `capture.mode.full.update.type=post_image`)
//! are refused at start with the key and the remedy, never ignored.

use regex::Regex;
use sluice_api::data::JsonMap;
use sluice_api::{Config, ConfigDef, ConfigError, ConfigType, Importance, Props, Validator};

use crate::debezium::config::{
    one_of, regex_list, regexes, CommonConfig, CommonKeys, SnapshotMode,
};

/// capture.mode: what a change event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMode {
    /// Change streams; `after` only for inserts and replaces, updates carry
    /// `updateDescription`.
    ChangeStreams { update_full: bool, pre_image: bool },
    /// Sluice's oplog mode (Debezium 1.x's `oplog`): tail local.oplog.rs.
    Oplog,
}

impl CaptureMode {
    fn parse(v: &str) -> Option<CaptureMode> {
        let (update_full, pre_image) = match v.trim().to_ascii_lowercase().as_str() {
            "change_streams" => (false, false),
            "change_streams_update_full" => (true, false),
            "change_streams_with_pre_image" => (false, true),
            "change_streams_update_full_with_pre_image" => (true, true),
            "oplog" => return Some(CaptureMode::Oplog),
            _ => return None,
        };
        Some(CaptureMode::ChangeStreams {
            update_full,
            pre_image,
        })
    }

    /// Whether updates carry the full document (`fullDocument: updateLookup`).
    pub fn update_full(self) -> bool {
        matches!(
            self,
            CaptureMode::ChangeStreams {
                update_full: true,
                ..
            }
        )
    }

    /// Whether events carry `before` (`fullDocumentBeforeChange: whenAvailable`).
    pub fn pre_image(self) -> bool {
        matches!(
            self,
            CaptureMode::ChangeStreams {
                pre_image: true,
                ..
            }
        )
    }
}

/// capture.scope + capture.target: what the change stream is opened on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureScope {
    Deployment,
    Database(String),
    Collection { db: String, coll: String },
}

/// The snapshot modes the MongoDB connector accepts.
pub const SNAPSHOT_MODES: &[SnapshotMode] = &[
    SnapshotMode::Initial,
    SnapshotMode::InitialOnly,
    SnapshotMode::NoData,
    SnapshotMode::Never,
    SnapshotMode::WhenNeeded,
    SnapshotMode::Always,
];

/// Databases Debezium never captures.
const BUILT_IN_DBS: &[&str] = &["admin", "config", "local"];

/// database/collection include/exclude lists and field.exclude.list.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub db_include: Vec<Regex>,
    pub db_exclude: Vec<Regex>,
    pub coll_include: Vec<Regex>,
    pub coll_exclude: Vec<Regex>,
    /// field.exclude.list entries: (db pattern, collection pattern, dotted field path).
    pub field_exclude: Vec<(Regex, Regex, String)>,
}

impl Filters {
    pub fn captures_db(&self, db: &str) -> bool {
        if BUILT_IN_DBS.contains(&db) {
            return false;
        }
        if !self.db_include.is_empty() {
            return self.db_include.iter().any(|r| r.is_match(db));
        }
        !self.db_exclude.iter().any(|r| r.is_match(db))
    }

    pub fn captures(&self, db: &str, coll: &str) -> bool {
        if !self.captures_db(db) || coll.starts_with("system.") {
            return false;
        }
        let ns = format!("{db}.{coll}");
        if !self.coll_include.is_empty() {
            return self.coll_include.iter().any(|r| r.is_match(&ns));
        }
        !self.coll_exclude.iter().any(|r| r.is_match(&ns))
    }

    /// The dotted field paths to drop from documents of `db.coll`.
    pub fn excluded_fields(&self, db: &str, coll: &str) -> Vec<String> {
        self.field_exclude
            .iter()
            .filter(|(d, c, _)| d.is_match(db) && c.is_match(coll))
            .map(|(_, _, f)| f.clone())
            .collect()
    }
}

/// Everything the task needs, typed.
#[derive(Debug, Clone)]
pub struct MongoConfig {
    /// signal.*, incremental.snapshot.*.
    pub signal: crate::debezium::signal::SignalConfig,
    /// notification.*.
    pub notifier: crate::debezium::notify::Notifier,
    pub provide_transaction_metadata: bool,
    pub connection_string: String,
    pub topic_prefix: String,
    pub capture_mode: CaptureMode,
    pub scope: CaptureScope,
    pub filters: Filters,
    /// The keys every Debezium source shares (snapshot.mode, queue,
    /// heartbeats, ...; skipped.operations' `t` means nothing here).
    pub common: CommonConfig,
    pub snapshot_fetch_size: u32,
    /// snapshot.include.collection.list: the captured collections the
    /// initial snapshot reads (empty: all).
    pub snapshot_include: Vec<Regex>,
    pub cursor_max_await_ms: u64,
    pub oversize: Oversize,
}

/// cursor.oversize.handling.mode: change events over 16 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    Fail,
    /// Drop events whose pre- or post-image exceeds this many bytes.
    Skip(i64),
    /// `$changeStreamSplitLargeEvent`, fragments joined again.
    Split,
}

/// Every key the connector reads, with Debezium 2.7's defaults.
pub fn config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    let at_least = |n: f64| Validator::Range {
        min: Some(n),
        max: None,
    };
    let def = ConfigDef::new()
        .define("mongodb.connection.string", String, None, High, "Database connection string (mongodb://...); the driver discovers the replica set from it.")
        .validate(Validator::NonEmpty)
        .define("topic.prefix", String, None, High, "Topic prefix naming this MongoDB server or cluster; prefixes every topic the connector writes.")
        .validate(Validator::NonEmpty)
        .define("mongodb.user", String, Some(""), High, "Database user (added to the connection string when set).")
        .define("mongodb.password", Password, Some(""), High, "Password of mongodb.user.")
        .define("mongodb.authsource", String, Some("admin"), Medium, "Database holding the user's credentials.")
        .define("mongodb.ssl.enabled", Boolean, Some("false"), Medium, "Connect over TLS.")
        .define("mongodb.ssl.invalid.hostname.allowed", Boolean, Some("false"), Low, "Accept server certificates whose host name does not match.")
        .define("mongodb.connect.timeout.ms", Int, Some("10000"), Low, "Milliseconds to wait for a new connection.")
        .validate(at_least(0.0))
        .define("mongodb.server.selection.timeout.ms", Int, Some("30000"), Low, "Milliseconds to wait for a suitable server.")
        .validate(at_least(0.0))
        .define("mongodb.socket.timeout.ms", Int, Some("0"), Low, "Socket read timeout in milliseconds (0: none).")
        .unsupported()
        .define("mongodb.heartbeat.frequency.ms", Int, Some("10000"), Low, "Milliseconds between the driver's server monitor checks.")
        .validate(at_least(500.0))
        .define("mongodb.poll.interval.ms", Long, Some("30000"), Low, "Milliseconds between checks for new, removed or changed replica sets (the driver monitors the topology itself).")
        .unsupported()
        .define("capture.mode", String, Some("change_streams_update_full"), Medium, "change_streams (updates carry updateDescription only), change_streams_update_full (updates carry the looked-up document), *_with_pre_image (events carry `before`), or oplog (Sluice: tail local.oplog.rs; reads no signals).")
        .validate(one_of(&["change_streams", "change_streams_update_full", "change_streams_with_pre_image", "change_streams_update_full_with_pre_image", "oplog"]))
        .define("capture.mode.full.update.type", String, Some("lookup"), Low, "How update_full modes get the document: lookup (Sluice supports only lookup).")
        .validate(one_of(&["lookup", "post_image"]))
        .define("capture.scope", String, Some("deployment"), Medium, "What the change stream watches: deployment, database or collection (named by capture.target).")
        .validate(one_of(&["deployment", "database", "collection"]))
        .define("capture.target", String, Some(""), Medium, "The database (scope database) or <db>.<collection> (scope collection) to watch.")
        .define("database.include.list", List, Some(""), High, "Regular expressions matching the databases to capture.")
        .validate(Validator::Custom(regex_list))
        .define("database.exclude.list", List, Some(""), High, "Regular expressions matching the databases not to capture.")
        .validate(Validator::Custom(regex_list))
        .define("collection.include.list", List, Some(""), High, "Regular expressions matching <db>.<collection> names to capture.")
        .validate(Validator::Custom(regex_list))
        .define("collection.exclude.list", List, Some(""), High, "Regular expressions matching <db>.<collection> names not to capture.")
        .validate(Validator::Custom(regex_list))
        .define("filters.match.mode", String, Some("regex"), Medium, "Whether the include/exclude lists are regex (default) or literal names.")
        .validate(one_of(&["regex", "literal"]))
        .define("field.exclude.list", String, Some(""), Medium, "Fields to leave out of events: <db>.<collection>.<field>[.<nested>...], db and collection may be *.")
        .define("field.renames", String, Some(""), Low, "Fields to rename: <db>.<collection>.<field>:<new name>.")
        .unsupported()
        .define("snapshot.mode", String, Some("initial"), Low, "When to snapshot: initial, initial_only, no_data, never, when_needed, always.")
        .validate(one_of(&["initial", "initial_only", "no_data", "schema_only", "never", "when_needed", "always"]))
        .define("snapshot.fetch.size", Int, Some("0"), Medium, "Documents fetched per round trip during the snapshot (0: the server's default).")
        .validate(at_least(0.0))
        .define("snapshot.max.threads", Int, Some("1"), Low, "Collections snapshotted in parallel (Sluice reads them one after another).")
        .unsupported()
        .define("snapshot.collection.filter.overrides", String, Some(""), Low, "Collections whose snapshot is filtered by a query.")
        .unsupported()
        .define("snapshot.include.collection.list", List, Some(""), Low, "Regular expressions matching <db>.<collection> of the captured collections the initial snapshot reads (default: every captured collection); the others are only streamed.")
        .tombstones_on_delete()
        .skipped_operations()
        .define("provide.transaction.metadata", Boolean, Some("false"), Low, "Publish BEGIN/END transaction events on <topic.prefix>.transaction (id <lsid>:<txnNumber>; a transaction's END is written when the next change, of another transaction or of none, arrives, as Debezium does) and the envelope's transaction block.")
        .heartbeat_and_queue("the reader", "Milliseconds between heartbeat messages that move the offset while captured collections are idle; 0 disables them.")
        .define("cursor.max.await.time.ms", Int, Some("0"), Low, "Milliseconds the server waits for new changes per getMore (0: poll.interval.ms).")
        .validate(at_least(0.0))
        .define("cursor.pipeline", String, Some(""), Low, "Aggregation stages appended to the change stream pipeline.")
        .unsupported()
        .define("cursor.pipeline.order", String, Some("internal_first"), Low, "Order of internal and user pipeline stages.")
        .unsupported()
        .define("cursor.oversize.handling.mode", String, Some("fail"), Low, "What happens to change events over the 16 MB BSON limit: fail (the task fails naming the remedy), skip (events whose fullDocument or fullDocumentBeforeChange exceeds cursor.oversize.skip.threshold bytes are filtered out on the server), split (the server splits them with $changeStreamSplitLargeEvent, MongoDB 6.0.9+, and Sluice joins the fragments into one event).")
        .validate(one_of(&["fail", "skip", "split"]))
        .define("cursor.oversize.skip.threshold", Int, Some("0"), Low, "With cursor.oversize.handling.mode=skip: the largest fullDocument / fullDocumentBeforeChange, in bytes of BSON, whose change events are kept.")
        .validate(at_least(0.0))
        .define("schema.name.adjustment.mode", String, Some("none"), Low, "How schema names are adjusted (Sluice: none).")
        .unsupported()
        .define("topic.naming.strategy", Class, Some("io.debezium.schema.DefaultTopicNamingStrategy"), Low, "Topic naming strategy (Sluice: <topic.prefix>.<db>.<collection>).")
        .unsupported();
    crate::debezium::signal::define(def)
}

/// `*` in the db and collection parts of field.exclude.list matches anything.
fn wildcard(part: &str) -> Result<Regex, ConfigError> {
    let p = regex::escape(part).replace("\\*", ".*");
    Regex::new(&format!("^{p}$"))
        .map_err(|e| ConfigError::one(format!("field.exclude.list: '{part}': {e}")))
}

fn field_excludes(v: &str) -> Result<Vec<(Regex, Regex, String)>, ConfigError> {
    let mut out = Vec::new();
    for entry in sluice_api::config::split_list(v) {
        let parts: Vec<&str> = entry.splitn(3, '.').collect();
        if parts.len() < 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(ConfigError::one(format!(
                "field.exclude.list: '{entry}' must be <db>.<collection>.<field>[.<nested field>...]"
            )));
        }
        out.push((
            wildcard(parts[0])?,
            wildcard(parts[1])?,
            parts[2].to_string(),
        ));
    }
    Ok(out)
}

fn scope(cfg: &Config) -> Result<CaptureScope, ConfigError> {
    let target = cfg.opt_string("capture.target").unwrap_or_default();
    let scope = cfg
        .get("capture.scope")
        .unwrap_or("deployment")
        .trim()
        .to_ascii_lowercase();
    match scope.as_str() {
        "database" if target.is_empty() || target.contains('.') => Err(ConfigError::one(
            "capture.target: capture.scope=database needs the database name in capture.target",
        )),
        "database" => Ok(CaptureScope::Database(target)),
        "collection" => match target.split_once('.') {
            Some((db, coll)) if !db.is_empty() && !coll.is_empty() => Ok(CaptureScope::Collection {
                db: db.to_string(),
                coll: coll.to_string(),
            }),
            _ => Err(ConfigError::one(
                "capture.target: capture.scope=collection needs <db>.<collection> in capture.target",
            )),
        },
        _ => Ok(CaptureScope::Deployment),
    }
}

/// Adds user, password, authSource and tls to the connection string, as
/// Debezium does with mongodb.user / mongodb.password / mongodb.ssl.*.
fn connection_string(cfg: &Config) -> Result<String, ConfigError> {
    let base = cfg.string("mongodb.connection.string")?.trim().to_string();
    let Some(rest) = base.strip_prefix("mongodb://") else {
        if base.starts_with("mongodb+srv://") {
            return Err(ConfigError::one("mongodb.connection.string: mongodb+srv:// (DNS seed lists) is not supported by Sluice yet; list the hosts in a mongodb:// string (mongodb://host1,host2/?replicaSet=rs0)"));
        }
        return Err(ConfigError::one(format!(
            "mongodb.connection.string: '{base}' must start with mongodb://"
        )));
    };
    let user = cfg.opt_string("mongodb.user");
    let mut uri = match (&user, rest.contains('@')) {
        (Some(u), false) => {
            let pw = cfg.get("mongodb.password").unwrap_or("");
            format!("mongodb://{}:{}@{rest}", pct(u), pct(pw))
        }
        _ => base.clone(),
    };
    let mut params = Vec::new();
    let has = |k: &str| {
        base.to_ascii_lowercase()
            .contains(&format!("{}=", k.to_ascii_lowercase()))
    };
    if user.is_some() && !has("authSource") {
        params.push(format!(
            "authSource={}",
            cfg.get("mongodb.authsource").unwrap_or("admin")
        ));
    }
    if cfg.bool("mongodb.ssl.enabled")? && !has("tls") && !has("ssl") {
        params.push("tls=true".to_string());
        if cfg.bool("mongodb.ssl.invalid.hostname.allowed")? {
            params.push("tlsAllowInvalidHostnames=true".to_string());
        }
    }
    for (key, opt) in [
        ("mongodb.connect.timeout.ms", "connectTimeoutMS"),
        (
            "mongodb.server.selection.timeout.ms",
            "serverSelectionTimeoutMS",
        ),
        ("mongodb.heartbeat.frequency.ms", "heartbeatFrequencyMS"),
    ] {
        if cfg.props().contains_key(key) && !has(opt) {
            params.push(format!("{opt}={}", cfg.i64(key)?));
        }
    }
    if !params.is_empty() {
        let after_hosts = uri.split_once("://").map_or("", |x| x.1);
        let sep = if uri.contains('?') {
            "&"
        } else if after_hosts.contains('/') {
            "?"
        } else {
            "/?"
        };
        uri = format!("{uri}{sep}{}", params.join("&"));
    }
    Ok(uri)
}

/// Percent-encodes a user name or password for the connection string.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl MongoConfig {
    pub fn parse(props: &Props) -> Result<MongoConfig, ConfigError> {
        let cfg = config_def().parse(props)?;
        let lower = |k: &str| cfg.get(k).unwrap_or("").trim().to_ascii_lowercase();
        if lower("capture.mode.full.update.type") == "post_image" {
            return Err(ConfigError::one("capture.mode.full.update.type: post_image is not supported by Sluice yet; use lookup (the default)"));
        }
        let common = CommonConfig::parse(&cfg, SNAPSHOT_MODES)?;
        let literal = lower("filters.match.mode") == "literal";
        let poll_interval_ms = common.poll_interval_ms;
        let await_ms = cfg.i64("cursor.max.await.time.ms")?.max(0) as u64;
        let oversize = match lower("cursor.oversize.handling.mode").as_str() {
            "skip" => match cfg.i64("cursor.oversize.skip.threshold")? {
                n if n > 0 => Oversize::Skip(n),
                _ => return Err(ConfigError::one("cursor.oversize.skip.threshold: cursor.oversize.handling.mode=skip needs a threshold above 0 (bytes of BSON, e.g. 16000000)")),
            },
            "split" => Oversize::Split,
            _ => Oversize::Fail,
        };
        let topic_prefix = cfg.string("topic.prefix")?.trim().to_string();
        let mut partition = JsonMap::new();
        partition.insert(
            "server_id".into(),
            serde_json::Value::String(topic_prefix.clone()),
        );
        let capture_mode = CaptureMode::parse(cfg.get("capture.mode").unwrap_or(""))
            .ok_or_else(|| ConfigError::one("capture.mode: unknown mode"))?;
        let signal = crate::debezium::signal::SignalConfig::parse(&cfg, &topic_prefix)?;
        if capture_mode == CaptureMode::Oplog
            && (signal.data_collection.is_some() || signal.kafka || signal.file)
        {
            // Rather than signals that would never be read.
            return Err(ConfigError::one("signal.data.collection / signal.enabled.channels: capture.mode=oplog reads no signals (no incremental or blocking snapshots); use a change stream capture.mode (change_streams_update_full, the default) for signals, or remove the signal settings"));
        }
        Ok(MongoConfig {
            signal,
            provide_transaction_metadata: cfg.bool("provide.transaction.metadata")?,
            notifier: crate::debezium::notify::Notifier::parse(
                &cfg,
                &topic_prefix,
                std::sync::Arc::new(partition),
            )?,
            oversize,
            connection_string: connection_string(&cfg)?,
            topic_prefix: cfg.string("topic.prefix")?.trim().to_string(),
            capture_mode,
            scope: scope(&cfg)?,
            filters: Filters {
                db_include: regexes(&cfg, "database.include.list", literal)?,
                db_exclude: regexes(&cfg, "database.exclude.list", literal)?,
                coll_include: regexes(&cfg, "collection.include.list", literal)?,
                coll_exclude: regexes(&cfg, "collection.exclude.list", literal)?,
                field_exclude: field_excludes(cfg.get("field.exclude.list").unwrap_or(""))?,
            },
            common,
            snapshot_fetch_size: cfg.i64("snapshot.fetch.size")?.clamp(0, u32::MAX as i64) as u32,
            snapshot_include: regexes(&cfg, "snapshot.include.collection.list", false)?,
            cursor_max_await_ms: if await_ms == 0 {
                poll_interval_ms
            } else {
                await_ms.min(1000)
            },
        })
    }

    /// The source partition every record carries: `{"server_id": <topic.prefix>}`,
    /// as Debezium 2.x's MongoDbPartition.
    pub fn source_partition(&self) -> JsonMap {
        let mut m = JsonMap::new();
        m.insert(
            "server_id".into(),
            serde_json::Value::String(self.topic_prefix.clone()),
        );
        m
    }

    pub fn heartbeat_topic(&self) -> String {
        self.common.heartbeat_topic(&self.topic_prefix)
    }

    /// Whether the scope and the filters capture `db.coll`.
    pub fn captures(&self, db: &str, coll: &str) -> bool {
        let in_scope = match &self.scope {
            CaptureScope::Deployment => true,
            CaptureScope::Database(d) => d == db,
            CaptureScope::Collection { db: d, coll: c } => d == db && c == coll,
        };
        in_scope && self.filters.captures(db, coll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(extra: &[(&str, &str)]) -> Props {
        let mut p: Props = [
            (
                "mongodb.connection.string",
                "mongodb://127.0.0.1:27017/?replicaSet=rs0",
            ),
            ("topic.prefix", "mongo1"),
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
        let c = MongoConfig::parse(&props(&[])).unwrap();
        assert!(c.capture_mode.update_full() && !c.capture_mode.pre_image());
        assert_eq!(c.scope, CaptureScope::Deployment);
        assert_eq!(c.common.snapshot_mode, SnapshotMode::Initial);
        assert!(c.common.tombstones_on_delete);
        assert_eq!(c.heartbeat_topic(), "__debezium-heartbeat.mongo1");
        assert_eq!(c.source_partition()["server_id"], "mongo1");
        assert_eq!(
            c.connection_string,
            "mongodb://127.0.0.1:27017/?replicaSet=rs0"
        );
    }

    #[test]
    fn oplog_mode_refuses_signals_it_would_never_read() {
        for extra in [
            [("signal.data.collection", "db.signals"), ("x", "")],
            [
                ("signal.enabled.channels", "source,file"),
                ("signal.file", "/tmp/s"),
            ],
        ] {
            let mut p = props(&extra);
            p.insert("capture.mode".into(), "oplog".into());
            let e = MongoConfig::parse(&p).unwrap_err().to_string();
            assert!(e.contains("capture.mode=oplog reads no signals"), "{e}");
            p.insert("capture.mode".into(), "change_streams".into());
            assert!(MongoConfig::parse(&p).is_ok());
        }
        // The default channel alone, with no signal collection, reads nothing.
        let mut p = props(&[]);
        p.insert("capture.mode".into(), "oplog".into());
        assert!(MongoConfig::parse(&p).is_ok());
    }

    #[test]
    fn missing_required_keys_are_named() {
        let err = MongoConfig::parse(&Props::new()).unwrap_err().to_string();
        assert!(
            err.contains("mongodb.connection.string") && err.contains("topic.prefix"),
            "{err}"
        );
    }

    #[test]
    fn credentials_and_tls_join_the_connection_string() {
        let c = MongoConfig::parse(&props(&[
            ("mongodb.connection.string", "mongodb://h1:1,h2:2"),
            ("mongodb.user", "deb"),
            ("mongodb.password", "p@ss:w"),
            ("mongodb.ssl.enabled", "true"),
        ]))
        .unwrap();
        assert_eq!(
            c.connection_string,
            "mongodb://deb:p%40ss%3Aw@h1:1,h2:2/?authSource=admin&tls=true"
        );
        let e = MongoConfig::parse(&props(&[("mongodb.connection.string", "mongodb+srv://x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mongodb+srv") && e.contains("mongodb://"), "{e}");
    }

    #[test]
    fn scopes_need_targets() {
        let c = MongoConfig::parse(&props(&[
            ("capture.scope", "collection"),
            ("capture.target", "inv.orders"),
        ]))
        .unwrap();
        assert!(c.captures("inv", "orders") && !c.captures("inv", "users"));
        assert!(MongoConfig::parse(&props(&[("capture.scope", "database")])).is_err());
        assert!(MongoConfig::parse(&props(&[
            ("capture.scope", "collection"),
            ("capture.target", "nodot")
        ]))
        .is_err());
    }

    #[test]
    fn filters_match_whole_names() {
        let c = MongoConfig::parse(&props(&[
            ("database.include.list", "inv.*,shop"),
            ("collection.exclude.list", "inventory\\.secret.*"),
            (
                "field.exclude.list",
                "*.users.password,inventory.orders.card.number",
            ),
        ]))
        .unwrap();
        assert!(c.captures("inventory", "users") && c.captures("SHOP", "x"));
        assert!(!c.captures("shopping", "x") && !c.captures("admin", "x"));
        assert!(!c.captures("inventory", "secrets") && !c.captures("inventory", "system.views"));
        assert_eq!(c.filters.excluded_fields("shop", "users"), vec!["password"]);
        assert_eq!(
            c.filters.excluded_fields("inventory", "orders"),
            vec!["card.number"]
        );
        let lit = MongoConfig::parse(&props(&[
            ("filters.match.mode", "literal"),
            ("database.include.list", "a.b"),
        ]))
        .unwrap();
        assert!(lit.filters.captures_db("a.b") && !lit.filters.captures_db("axb"));
    }

    #[test]
    fn modes_parse_and_bad_values_name_the_key() {
        let c = MongoConfig::parse(&props(&[
            ("capture.mode", "change_streams_with_pre_image"),
            ("snapshot.mode", "when_needed"),
            ("skipped.operations", "u,d"),
        ]))
        .unwrap();
        assert!(c.capture_mode.pre_image() && !c.capture_mode.update_full());
        assert_eq!(c.common.snapshot_mode, SnapshotMode::WhenNeeded);
        assert!(c.common.skipped.update && c.common.skipped.delete && !c.common.skipped.create);
        for (k, v) in [
            ("capture.mode.full.update.type", "post_image"),
            ("collection.include.list", "a("),
            ("field.exclude.list", "db.coll"),
            ("skipped.operations", "x"),
        ] {
            let e = MongoConfig::parse(&props(&[(k, v)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(k), "{k}: {e}");
        }
    }

    #[test]
    fn unsupported_keys_are_declared() {
        let def = config_def();
        for k in ["field.renames", "cursor.pipeline"] {
            assert!(def.key(k).unwrap().unsupported, "{k}");
        }
        assert!(!def.key("collection.include.list").unwrap().unsupported);
        assert!(!def.key("provide.transaction.metadata").unwrap().unsupported);
    }
}
