//! The keys every Debezium-style source reads alike, declared once (the
//! [`CommonKeys`] steps of a connector's `config_def`) and parsed once into
//! [`CommonConfig`], which each connector's own config struct holds.
//!
//! The keys keep their places in each connector's declaration (the order
//! Debezium documents them in, which the REST validate API and the generated
//! reference follow); where a connector words a key's doc its own way, it
//! passes the words in.

use regex::Regex;
use sluice_api::{Config, ConfigDef, ConfigError, ConfigType, Importance, Validator};

/// snapshot.mode. Each connector accepts its own subset of the modes
/// (Debezium's per-connector lists), named by its config validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot when there is no offset (or an unfinished snapshot), then
    /// stream.
    Initial,
    /// Snapshot, then stop (no streaming).
    InitialOnly,
    /// No data snapshot (schema only, for MySQL), then stream from the
    /// current position (no_data, schema_only).
    NoData,
    /// Never snapshot: stream from the saved offset, or from the start
    /// (MySQL: the oldest binlog; MongoDB: now).
    Never,
    /// As initial, and also when the saved position is gone.
    WhenNeeded,
    /// MySQL: rebuild the schema history from the current schema, then
    /// stream (recovery, schema_only_recovery).
    Recovery,
    /// Snapshot at every start of the task, then stream from the
    /// snapshot's position.
    Always,
}

impl SnapshotMode {
    /// The mode named `v` (Debezium's names and aliases, any case), if it is
    /// one of `accepted`.
    pub fn parse(v: &str, accepted: &[SnapshotMode]) -> Option<SnapshotMode> {
        let mode = match v.trim().to_ascii_lowercase().as_str() {
            "initial" => SnapshotMode::Initial,
            "initial_only" => SnapshotMode::InitialOnly,
            "no_data" | "schema_only" => SnapshotMode::NoData,
            "never" => SnapshotMode::Never,
            "when_needed" => SnapshotMode::WhenNeeded,
            "recovery" | "schema_only_recovery" => SnapshotMode::Recovery,
            "always" => SnapshotMode::Always,
            _ => return None,
        };
        accepted.contains(&mode).then_some(mode)
    }
}

/// Operations a user asked not to see (skipped.operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SkippedOps {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    /// MySQL's TRUNCATE events (MongoDB has none).
    pub truncate: bool,
}

impl SkippedOps {
    fn parse(cfg: &Config) -> Result<SkippedOps, ConfigError> {
        let mut skipped = SkippedOps::default();
        for op in cfg.list("skipped.operations") {
            match op.to_ascii_lowercase().as_str() {
                "c" => skipped.create = true,
                "u" => skipped.update = true,
                "d" => skipped.delete = true,
                "t" => skipped.truncate = true,
                "none" => {}
                other => {
                    return Err(ConfigError::one(format!(
                        "skipped.operations: '{other}' is not one of c, u, d, t, none"
                    )))
                }
            }
        }
        Ok(skipped)
    }
}

/// topic.heartbeat.prefix's default.
const HEARTBEAT_PREFIX: &str = "__debezium-heartbeat";

/// What every Debezium-style source reads from the keys it shares.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub snapshot_mode: SnapshotMode,
    pub tombstones_on_delete: bool,
    pub skipped: SkippedOps,
    pub heartbeat_interval_ms: u64,
    /// topic.heartbeat.prefix (or the older heartbeat.topics.prefix).
    pub heartbeat_topics_prefix: String,
    /// topic.delimiter: between a topic name's parts.
    pub topic_delimiter: String,
    /// topic.transaction: the transaction topic's last part.
    pub topic_transaction: String,
    pub max_batch_size: usize,
    pub max_queue_size: usize,
    /// 0: no byte bound.
    pub max_queue_size_in_bytes: u64,
    /// Capped at 1000: a poll returns within about a second.
    pub poll_interval_ms: u64,
}

impl CommonConfig {
    /// Reads the shared keys of a config its `config_def` has checked;
    /// `modes` are the snapshot modes the connector accepts.
    pub fn parse(cfg: &Config, modes: &[SnapshotMode]) -> Result<CommonConfig, ConfigError> {
        let skipped = SkippedOps::parse(cfg)?;
        Ok(CommonConfig {
            snapshot_mode: SnapshotMode::parse(
                cfg.get("snapshot.mode").unwrap_or("initial"),
                modes,
            )
            .ok_or_else(|| ConfigError::one("snapshot.mode: unknown mode"))?,
            tombstones_on_delete: cfg.bool("tombstones.on.delete")?,
            skipped,
            heartbeat_interval_ms: cfg.i64("heartbeat.interval.ms")?.max(0) as u64,
            // Debezium 2's name wins; the 1.x name still counts when it
            // is the one set.
            heartbeat_topics_prefix: match (
                cfg.string("topic.heartbeat.prefix")?,
                cfg.string("heartbeat.topics.prefix")?,
            ) {
                (new, old) if new == HEARTBEAT_PREFIX && old != HEARTBEAT_PREFIX => old,
                (new, _) => new,
            },
            topic_delimiter: {
                let d = cfg.string("topic.delimiter")?;
                if d.is_empty()
                    || !d
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    return Err(ConfigError::one(format!(
                        "topic.delimiter: '{d}' cannot be part of a topic name; use '.', '_' or '-'"
                    )));
                }
                d
            },
            topic_transaction: cfg.string("topic.transaction")?,
            max_batch_size: cfg.i32("max.batch.size")?.max(1) as usize,
            max_queue_size: cfg.i32("max.queue.size")?.max(1) as usize,
            max_queue_size_in_bytes: cfg.i64("max.queue.size.in.bytes")?.max(0) as u64,
            poll_interval_ms: cfg.i64("poll.interval.ms")?.clamp(1, 1000) as u64,
        })
    }

    /// `<topic.heartbeat.prefix><topic.delimiter><topic.prefix>`.
    pub fn heartbeat_topic(&self, topic_prefix: &str) -> String {
        format!(
            "{}{}{}",
            self.heartbeat_topics_prefix, self.topic_delimiter, topic_prefix
        )
    }

    /// A topic of `parts` joined by topic.delimiter (Debezium's
    /// DefaultTopicNamingStrategy).
    pub fn topic(&self, parts: &[&str]) -> String {
        super::schema::topic_name_with(parts, &self.topic_delimiter)
    }

    /// `<topic.prefix><topic.delimiter><topic.transaction>`.
    pub fn transaction_topic(&self, topic_prefix: &str) -> String {
        self.topic(&[topic_prefix, &self.topic_transaction])
    }
}

/// Declaration steps for the shared keys, chained into a connector's
/// `config_def` where Debezium lists them.
pub trait CommonKeys {
    /// tombstones.on.delete.
    fn tombstones_on_delete(self) -> Self;
    /// skipped.operations.
    fn skipped_operations(self) -> Self;
    /// heartbeat.interval.ms, heartbeat.topics.prefix, max.batch.size,
    /// max.queue.size, max.queue.size.in.bytes and poll.interval.ms.
    /// `reader` names what fills the queue ("the binlog reader"),
    /// `heartbeat_doc` is heartbeat.interval.ms's doc.
    fn heartbeat_and_queue(self, reader: &str, heartbeat_doc: &str) -> Self;
}

fn at_least(n: f64) -> Validator {
    Validator::Range {
        min: Some(n),
        max: None,
    }
}

impl CommonKeys for ConfigDef {
    fn tombstones_on_delete(self) -> Self {
        self.define(
            "tombstones.on.delete",
            ConfigType::Boolean,
            Some("true"),
            Importance::Medium,
            "Whether a delete event is followed by a tombstone (null value) for compaction.",
        )
    }

    fn skipped_operations(self) -> Self {
        self.define(
            "skipped.operations",
            ConfigType::List,
            Some("t"),
            Importance::Low,
            "Operations not to publish: c (create), u (update), d (delete), t (truncate), none.",
        )
    }

    fn heartbeat_and_queue(self, reader: &str, heartbeat_doc: &str) -> Self {
        use ConfigType::*;
        use Importance::*;
        self.define("heartbeat.interval.ms", Int, Some("0"), Medium, heartbeat_doc)
            .validate(at_least(0.0))
            .define("topic.heartbeat.prefix", String, Some(HEARTBEAT_PREFIX), Low, "Prefix of the heartbeat topic (<prefix><topic.delimiter><topic.prefix>).")
            .define("heartbeat.topics.prefix", String, Some(HEARTBEAT_PREFIX), Low, "The Debezium 1.x name of topic.heartbeat.prefix (used when only it is set).")
            .define("topic.delimiter", String, Some("."), Low, "Between the parts of topic names (<topic.prefix>, database, table; the transaction and heartbeat topics).")
            .define("topic.transaction", String, Some("transaction"), Low, "Last part of the transaction topic (<topic.prefix><topic.delimiter><topic.transaction>).")
            .define("topic.naming.strategy", String, Some("io.debezium.schema.DefaultTopicNamingStrategy"), Low, "How topics are named: io.debezium.schema.DefaultTopicNamingStrategy (the only one Sluice has).")
            .validate(one_of(&["io.debezium.schema.DefaultTopicNamingStrategy"]))
            .define("max.batch.size", Int, Some("2048"), Medium, "Maximum records per poll.")
            .validate(at_least(1.0))
            .define("max.queue.size", Int, Some("8192"), Medium, &format!("Maximum records queued between {reader} and the worker."))
            .validate(at_least(1.0))
            .define("max.queue.size.in.bytes", Long, Some("0"), Medium, &format!("Maximum bytes of records (estimated from their values) queued between {reader} and the worker; 0: bounded by max.queue.size only."))
            .validate(at_least(0.0))
            .define("poll.interval.ms", Int, Some("500"), Medium, "Milliseconds a poll waits for new records before returning an empty batch (capped at 1000).")
            .validate(at_least(1.0))
    }
}

/// A list of regular expressions (the include/exclude lists), each valid
/// when matched against a whole name.
pub fn regex_list(v: &str) -> Result<(), String> {
    for item in sluice_api::config::split_list(v) {
        if let Err(e) = Regex::new(&format!("^(?:{item})$")) {
            return Err(format!("'{item}' is not a valid regular expression: {e}"));
        }
    }
    Ok(())
}

/// The regular expressions of an include/exclude list, each matched
/// against a whole name, ignoring case, as Debezium matches them; with
/// `literal` (filters.match.mode=literal), the entries are names.
pub fn regexes(cfg: &Config, key: &str, literal: bool) -> Result<Vec<Regex>, ConfigError> {
    cfg.list(key)
        .iter()
        .map(|item| {
            let pattern = if literal {
                regex::escape(item)
            } else {
                item.clone()
            };
            Regex::new(&format!("(?i)^(?:{pattern})$")).map_err(|e| {
                ConfigError::one(format!(
                    "{key}: '{item}' is not a valid regular expression: {e}"
                ))
            })
        })
        .collect()
}

/// Whether an include list (`snapshot.include.collection.list` and the
/// like) takes `id`: an empty list takes everything.
pub fn included(list: &[Regex], id: &str) -> bool {
    list.is_empty() || list.iter().any(|r| r.is_match(id))
}

/// A validator: one of `v`, ignoring case.
pub fn one_of(v: &[&'static str]) -> Validator {
    Validator::OneOf(v.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use SnapshotMode::*;

    #[test]
    fn snapshot_modes_are_parsed_by_name_and_alias_within_the_accepted_set() {
        let some = [Initial, NoData, Recovery];
        assert_eq!(SnapshotMode::parse(" Schema_Only ", &some), Some(NoData));
        assert_eq!(
            SnapshotMode::parse("schema_only_recovery", &some),
            Some(Recovery)
        );
        assert_eq!(SnapshotMode::parse("always", &[Initial]), None);
        assert_eq!(SnapshotMode::parse("sometimes", &some), None);
    }

    #[test]
    fn shared_keys_parse_with_debeziums_defaults() {
        let def = ConfigDef::new()
            .define(
                "snapshot.mode",
                ConfigType::String,
                Some("initial"),
                Importance::Low,
                "",
            )
            .tombstones_on_delete()
            .skipped_operations()
            .heartbeat_and_queue("the reader", "Heartbeats.");
        let cfg = def.parse(&Default::default()).unwrap();
        let c = CommonConfig::parse(&cfg, &[Initial]).unwrap();
        assert_eq!(c.snapshot_mode, Initial);
        assert!(c.tombstones_on_delete && c.skipped.truncate && !c.skipped.create);
        assert_eq!(
            (c.max_batch_size, c.max_queue_size, c.poll_interval_ms),
            (2048, 8192, 500)
        );
        assert_eq!(
            c.max_queue_size_in_bytes, 0,
            "Debezium's default: no byte bound"
        );
        let bounded = def
            .parse(&[("max.queue.size.in.bytes".to_string(), "1048576".to_string())].into())
            .unwrap();
        let bounded = CommonConfig::parse(&bounded, &[Initial]).unwrap();
        assert_eq!(bounded.max_queue_size_in_bytes, 1 << 20);
        assert_eq!(c.heartbeat_topic("srv"), "__debezium-heartbeat.srv");
        let bad = def
            .parse(&[("skipped.operations".to_string(), "x".to_string())].into())
            .unwrap();
        let e = CommonConfig::parse(&bad, &[Initial])
            .unwrap_err()
            .to_string();
        assert!(e.contains("skipped.operations"), "{e}");
    }
}
