//! The JDBC sink's configuration: Debezium's property names and defaults
//! (`io.debezium.connector.jdbc.JdbcSinkConnector`, 3.x names with their
//! deprecated 2.x aliases), and Confluent's (`io.confluent.connect.jdbc.
//! JdbcSinkConnector`) mapped onto the same typed struct ([`JdbcSinkConfig`]).
//!
//! Keys that only tune Debezium's Java internals (Hibernate, the c3p0 pool)
//! are accepted; `hibernate.*` keys get one warning naming them. Values
//! Sluice cannot honour are refused at start with the key and the remedy.

use regex::Regex;
use sluice_api::{Config, ConfigDef, ConfigError, ConfigType, Importance, Props, Validator};

use super::url::JdbcUrl;
use crate::debezium::config::{one_of, regex_list, regexes};

/// Which class (and so which key names) a connector instance answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `io.debezium.connector.jdbc.JdbcSinkConnector`.
    Debezium,
    /// `io.confluent.connect.jdbc.JdbcSinkConnector`.
    Confluent,
}

/// `insert.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    Insert,
    Upsert,
    Update,
}

/// `primary.key.mode` / `pk.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkMode {
    None,
    /// `__connect_topic`, `__connect_partition`, `__connect_offset`.
    Kafka,
    RecordKey,
    RecordValue,
}

/// Everything a task needs, parsed once.
#[derive(Debug, Clone)]
pub struct JdbcSinkConfig {
    pub flavor: Flavor,
    pub url: JdbcUrl,
    pub username: Option<String>,
    pub password: Option<String>,
    pub insert_mode: InsertMode,
    pub delete_enabled: bool,
    pub truncate_enabled: bool,
    pub pk_mode: PkMode,
    pub pk_fields: Vec<String>,
    /// Create a missing table from the record schema.
    pub auto_create: bool,
    /// Add missing columns, drop NOT NULL of columns whose field became optional.
    pub auto_evolve: bool,
    /// `collection.name.format` / `table.name.format`.
    pub table_format: String,
    /// Debezium's default naming replaces dots in the topic with underscores.
    pub topic_dots_to_underscores: bool,
    pub batch_size: usize,
    pub quote_identifiers: bool,
    pub field_include: Vec<Regex>,
    pub field_exclude: Vec<Regex>,
    /// `hibernate.*` keys that were set (and are ignored).
    pub ignored_keys: Vec<String>,
}

fn time_zone(v: &str) -> Result<(), String> {
    match v.trim().to_ascii_uppercase().as_str() {
        "" | "UTC" | "Z" | "GMT" | "UTC+0" | "+00:00" | "ETC/UTC" => Ok(()),
        _ => Err(format!(
            "Sluice writes temporal values in UTC only (as Debezium does by default); {v} is not supported yet: remove the key or set it to UTC"
        )),
    }
}

fn url_check(v: &str) -> Result<(), String> {
    JdbcUrl::parse(v).map(|_| ())
}

/// Debezium's keys.
pub fn debezium_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    ConfigDef::new()
        .define("connection.url", String, None, High, "JDBC URL of the target database: jdbc:postgresql://host[:port]/database, jdbc:mariadb://host[:port]/database or jdbc:mysql://host[:port]/database.")
        .validate(Validator::Custom(url_check))
        .define("connection.username", String, Some(""), High, "Database user the connector connects as.")
        .define("connection.password", Password, Some(""), High, "Password of the database user.")
        .define("connection.provider", String, Some("org.hibernate.c3p0.internal.C3P0ConnectionProvider"), Low, "Debezium's Java connection provider; Sluice keeps one connection per task and ignores it.")
        .define("connection.pool.min_size", Int, Some("5"), Low, "Debezium's c3p0 pool size; Sluice keeps one connection per task and ignores it.")
        .define("connection.pool.max_size", Int, Some("32"), Low, "Debezium's c3p0 pool size; ignored (one connection per task).")
        .define("connection.pool.acquire_increment", Int, Some("32"), Low, "Debezium's c3p0 setting; ignored.")
        .define("connection.pool.timeout", Int, Some("1800"), Low, "Debezium's c3p0 setting; ignored.")
        .define("insert.mode", String, Some("insert"), High, "insert (plain INSERT), upsert (INSERT ... ON CONFLICT DO UPDATE / ON DUPLICATE KEY UPDATE; needs a primary.key.mode other than none) or update (UPDATE by key).")
        .validate(one_of(&["insert", "upsert", "update"]))
        .define("delete.enabled", Boolean, Some("false"), Medium, "Apply delete events and tombstones as DELETEs by key (needs primary.key.mode=record_key).")
        .define("truncate.enabled", Boolean, Some("false"), Medium, "Apply Debezium truncate events (op t) as TRUNCATE TABLE.")
        .define("primary.key.mode", String, Some("none"), High, "Where the primary key columns come from: none, kafka (__connect_topic, __connect_partition, __connect_offset), record_key or record_value.")
        .validate(one_of(&["none", "kafka", "record_key", "record_value"]))
        .define("primary.key.fields", List, Some(""), Medium, "The key fields (record_key: a subset of the key struct, or the column name of a primitive key; record_value: fields of the value, all of them when empty).")
        .define("schema.evolution", String, Some("none"), Medium, "none: tables must exist with every column; basic: missing tables are created and missing columns added from the record schema.")
        .validate(one_of(&["none", "basic"]))
        .define("collection.name.format", String, Some("${topic}"), Medium, "The table name: ${topic} (dots replaced by underscores) and ${source.<field>} (e.g. ${source.db}, ${source.table}) are replaced; a dot in the result separates the schema (PostgreSQL) or database (MariaDB) from the table.")
        .define("table.name.format", String, Some(""), Low, "Deprecated alias of collection.name.format.")
        .define("collection.naming.strategy", String, Some("io.debezium.sink.naming.DefaultCollectionNamingStrategy"), Low, "Only the default strategy is built in.")
        .validate(one_of(&["io.debezium.sink.naming.DefaultCollectionNamingStrategy", "io.debezium.connector.jdbc.naming.DefaultTableNamingStrategy"]))
        .define("table.naming.strategy", String, Some(""), Low, "Deprecated alias of collection.naming.strategy.")
        .define("column.naming.strategy", String, Some("io.debezium.connector.jdbc.naming.DefaultColumnNamingStrategy"), Low, "Only the default strategy (the field name) is built in.")
        .validate(one_of(&["io.debezium.connector.jdbc.naming.DefaultColumnNamingStrategy"]))
        .define("batch.size", Int, Some("500"), Medium, "Rows per multi-row statement. The consumer's max.poll.records (consumer.override.max.poll.records) bounds a put, and so a transaction.")
        .validate(Validator::Range { min: Some(1.0), max: None })
        .define("use.time.zone", String, Some("UTC"), Medium, "Time zone of temporal values written; only UTC is supported.")
        .validate(Validator::Custom(time_zone))
        .define("database.time_zone", String, Some(""), Low, "Deprecated alias of use.time.zone.")
        .validate(Validator::Custom(time_zone))
        .define("quote.identifiers", Boolean, Some("false"), Medium, "Quote table and column names as given (case kept). When false, PostgreSQL names are folded to lower case, as unquoted names are.")
        .define("field.include.list", List, Some(""), Medium, "Regular expressions matching <topic>:<field> of the value fields to write (all others left out).")
        .validate(Validator::Custom(regex_list))
        .define("field.exclude.list", List, Some(""), Medium, "Regular expressions matching <topic>:<field> of value fields not to write.")
        .validate(Validator::Custom(regex_list))
        .define("use.reduction.buffer", Boolean, Some("false"), Low, "Debezium's reduction buffer; Sluice always keeps only the last change of a key within one multi-row upsert.")
        .define("dialect.postgres.postgis.schema", String, Some("public"), Low, "Schema of the PostGIS extension.")
        .unsupported()
        .define("dialect.sqlserver.identity.insert", Boolean, Some("false"), Low, "SQL Server only.")
        .unsupported()
        .define("flush.max.retries", Int, Some("5"), Low, "Debezium's retry count for a failed flush; Sluice's worker retries transient failures with back-off.")
        .define("flush.retry.delay.ms", Long, Some("1000"), Low, "Debezium's delay between flush retries; see flush.max.retries.")
        .define("connection.restart.on.errors", Boolean, Some("false"), Low, "Sluice always reconnects after a lost connection.")
        .define("cloud.events.schema.name.pattern", String, Some(".*CloudEvents\\.Envelope$"), Low, "CloudEvents are not consumed yet.")
        .unsupported()
        .prefix("hibernate.")
}

/// Confluent's keys.
pub fn confluent_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    ConfigDef::new()
        .define("connection.url", String, None, High, "JDBC URL of the target database (jdbc:postgresql://, jdbc:mariadb://, jdbc:mysql://).")
        .validate(Validator::Custom(url_check))
        .define("connection.user", String, Some(""), High, "Database user.")
        .define("connection.password", Password, Some(""), High, "Password of the database user.")
        .define("connection.attempts", Int, Some("3"), Low, "Sluice retries lost connections with back-off and ignores it.")
        .define("connection.backoff.ms", Long, Some("10000"), Low, "See connection.attempts.")
        .define("dialect.name", String, Some(""), Low, "Taken from the URL; ignored.")
        .define("insert.mode", String, Some("insert"), High, "insert, upsert or update.")
        .validate(one_of(&["insert", "upsert", "update"]))
        .define("batch.size", Int, Some("3000"), Medium, "Rows per multi-row statement.")
        .validate(Validator::Range { min: Some(1.0), max: None })
        .define("delete.enabled", Boolean, Some("false"), Medium, "Tombstones (and Debezium delete events) delete by key; needs pk.mode=record_key.")
        .define("table.name.format", String, Some("${topic}"), Medium, "The table name; ${topic} is replaced by the topic (dots kept: a dotted name is schema-qualified).")
        .define("pk.mode", String, Some("none"), High, "none, kafka, record_key or record_value.")
        .validate(one_of(&["none", "kafka", "record_key", "record_value"]))
        .define("pk.fields", List, Some(""), Medium, "The primary key fields; see pk.mode.")
        .define("fields.whitelist", List, Some(""), Medium, "Value fields to write (all when empty).")
        .define("auto.create", Boolean, Some("false"), Medium, "Create missing tables from the record schema.")
        .define("auto.evolve", Boolean, Some("false"), Medium, "Add missing columns from the record schema.")
        .define("quote.sql.identifiers", String, Some("always"), Medium, "always or never.")
        .validate(one_of(&["always", "never"]))
        .define("db.timezone", String, Some("UTC"), Medium, "Only UTC is supported.")
        .validate(Validator::Custom(time_zone))
        .define("max.retries", Int, Some("10"), Low, "Sluice's worker retries transient failures with back-off.")
        .define("retry.backoff.ms", Int, Some("3000"), Low, "See max.retries.")
        .define("table.types", List, Some("TABLE"), Low, "Only tables are written.")
}

pub fn config_def(flavor: Flavor) -> ConfigDef {
    match flavor {
        Flavor::Debezium => debezium_def(),
        Flavor::Confluent => confluent_def(),
    }
}

fn non_empty(cfg: &Config, key: &str) -> Option<String> {
    cfg.opt_string(key)
}

fn insert_mode(v: &str) -> InsertMode {
    match v.trim().to_ascii_lowercase().as_str() {
        "upsert" => InsertMode::Upsert,
        "update" => InsertMode::Update,
        _ => InsertMode::Insert,
    }
}

fn pk_mode(v: &str) -> PkMode {
    match v.trim().to_ascii_lowercase().as_str() {
        "kafka" => PkMode::Kafka,
        "record_key" => PkMode::RecordKey,
        "record_value" => PkMode::RecordValue,
        _ => PkMode::None,
    }
}

impl JdbcSinkConfig {
    pub fn parse(props: &Props, flavor: Flavor) -> Result<JdbcSinkConfig, ConfigError> {
        let def = config_def(flavor);
        let cfg = def.parse(props)?;
        let url = JdbcUrl::parse(&cfg.string("connection.url")?).map_err(ConfigError::one)?;
        let parsed = match flavor {
            Flavor::Debezium => {
                let basic = cfg
                    .string("schema.evolution")?
                    .eq_ignore_ascii_case("basic");
                let table_format = non_empty(&cfg, "table.name.format")
                    .filter(|_| !props.contains_key("collection.name.format"))
                    .unwrap_or(cfg.string("collection.name.format")?);
                JdbcSinkConfig {
                    flavor,
                    username: non_empty(&cfg, "connection.username"),
                    password: non_empty(&cfg, "connection.password"),
                    insert_mode: insert_mode(&cfg.string("insert.mode")?),
                    delete_enabled: cfg.bool("delete.enabled")?,
                    truncate_enabled: cfg.bool("truncate.enabled")?,
                    pk_mode: pk_mode(&cfg.string("primary.key.mode")?),
                    pk_fields: cfg.list("primary.key.fields"),
                    auto_create: basic,
                    auto_evolve: basic,
                    table_format,
                    topic_dots_to_underscores: true,
                    batch_size: cfg.i32("batch.size")?.max(1) as usize,
                    quote_identifiers: cfg.bool("quote.identifiers")?,
                    field_include: regexes(&cfg, "field.include.list", false)?,
                    field_exclude: regexes(&cfg, "field.exclude.list", false)?,
                    ignored_keys: props
                        .keys()
                        .filter(|k| k.starts_with("hibernate."))
                        .cloned()
                        .collect(),
                    url,
                }
            }
            Flavor::Confluent => {
                let include: Vec<Regex> = cfg
                    .list("fields.whitelist")
                    .iter()
                    .map(|f| Regex::new(&format!("^(?:.*):{}$", regex::escape(f))))
                    .collect::<Result<_, _>>()
                    .map_err(|e| ConfigError::one(format!("fields.whitelist: {e}")))?;
                JdbcSinkConfig {
                    flavor,
                    username: non_empty(&cfg, "connection.user"),
                    password: non_empty(&cfg, "connection.password"),
                    insert_mode: insert_mode(&cfg.string("insert.mode")?),
                    delete_enabled: cfg.bool("delete.enabled")?,
                    truncate_enabled: false,
                    pk_mode: pk_mode(&cfg.string("pk.mode")?),
                    pk_fields: cfg.list("pk.fields"),
                    auto_create: cfg.bool("auto.create")?,
                    auto_evolve: cfg.bool("auto.evolve")?,
                    table_format: cfg.string("table.name.format")?,
                    topic_dots_to_underscores: false,
                    batch_size: cfg.i32("batch.size")?.max(1) as usize,
                    quote_identifiers: cfg
                        .string("quote.sql.identifiers")?
                        .eq_ignore_ascii_case("always"),
                    field_include: include,
                    field_exclude: Vec::new(),
                    ignored_keys: Vec::new(),
                    url,
                }
            }
        };
        parsed.check()?;
        Ok(parsed)
    }

    fn keys(&self) -> (&'static str, &'static str, &'static str) {
        match self.flavor {
            Flavor::Debezium => (
                "primary.key.mode",
                "primary.key.fields",
                "schema.evolution=basic",
            ),
            Flavor::Confluent => ("pk.mode", "pk.fields", "auto.create=true"),
        }
    }

    /// Combinations that cannot work, refused with the remedy.
    fn check(&self) -> Result<(), ConfigError> {
        let (mode_key, _, _) = self.keys();
        if self.insert_mode != InsertMode::Insert && self.pk_mode == PkMode::None {
            return Err(ConfigError::one(format!(
                "insert.mode={} needs a primary key to match rows: set {mode_key} to record_key (or record_value, kafka)",
                match self.insert_mode {
                    InsertMode::Upsert => "upsert",
                    _ => "update",
                }
            )));
        }
        if self.delete_enabled && self.pk_mode != PkMode::RecordKey {
            return Err(ConfigError::one(format!(
                "delete.enabled=true needs {mode_key}=record_key: deletes are matched by the record key"
            )));
        }
        Ok(())
    }

    /// What `${...}` and the keys of this flavor are named, for messages.
    pub fn create_remedy(&self) -> &'static str {
        self.keys().2
    }

    /// Whether a value field is written (field.include.list / exclude.list).
    pub fn writes_field(&self, topic: &str, field: &str) -> bool {
        if self.field_include.is_empty() && self.field_exclude.is_empty() {
            return true;
        }
        let name = format!("{topic}:{field}");
        if !self.field_include.is_empty() {
            return self.field_include.iter().any(|r| r.is_match(&name));
        }
        !self.field_exclude.iter().any(|r| r.is_match(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(extra: &[(&str, &str)]) -> Props {
        let mut p = Props::new();
        p.insert(
            "connection.url".into(),
            "jdbc:postgresql://127.0.0.1:5433/sluice".into(),
        );
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        p
    }

    #[test]
    fn debezium_defaults() {
        let c = JdbcSinkConfig::parse(&props(&[]), Flavor::Debezium).unwrap();
        assert_eq!(c.insert_mode, InsertMode::Insert);
        assert_eq!(c.pk_mode, PkMode::None);
        assert!(!c.delete_enabled && !c.truncate_enabled && !c.auto_create);
        assert_eq!(c.table_format, "${topic}");
        assert!(c.topic_dots_to_underscores);
        assert_eq!(c.batch_size, 500);
        assert!(!c.quote_identifiers);
    }

    #[test]
    fn deprecated_table_name_format_is_read() {
        let c = JdbcSinkConfig::parse(
            &props(&[("table.name.format", "t_${source.table}")]),
            Flavor::Debezium,
        )
        .unwrap();
        assert_eq!(c.table_format, "t_${source.table}");
        let c = JdbcSinkConfig::parse(
            &props(&[
                ("table.name.format", "old"),
                ("collection.name.format", "new"),
            ]),
            Flavor::Debezium,
        )
        .unwrap();
        assert_eq!(c.table_format, "new");
    }

    #[test]
    fn impossible_combinations_are_refused_with_a_remedy() {
        let e = JdbcSinkConfig::parse(&props(&[("insert.mode", "upsert")]), Flavor::Debezium)
            .unwrap_err()
            .to_string();
        assert!(e.contains("primary.key.mode"), "{e}");
        let e = JdbcSinkConfig::parse(
            &props(&[
                ("delete.enabled", "true"),
                ("primary.key.mode", "record_value"),
            ]),
            Flavor::Debezium,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("record_key"), "{e}");
        let e = JdbcSinkConfig::parse(&props(&[("insert.mode", "upsert")]), Flavor::Confluent)
            .unwrap_err()
            .to_string();
        assert!(e.contains("pk.mode"), "{e}");
    }

    #[test]
    fn confluent_keys_map_onto_the_same_settings() {
        let c = JdbcSinkConfig::parse(
            &props(&[
                ("connection.user", "u"),
                ("pk.mode", "record_key"),
                ("pk.fields", "id"),
                ("insert.mode", "upsert"),
                ("auto.create", "true"),
                ("auto.evolve", "true"),
                ("delete.enabled", "true"),
            ]),
            Flavor::Confluent,
        )
        .unwrap();
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.pk_mode, PkMode::RecordKey);
        assert_eq!(c.pk_fields, vec!["id".to_string()]);
        assert!(c.auto_create && c.auto_evolve && c.delete_enabled);
        assert!(c.quote_identifiers);
        assert!(!c.topic_dots_to_underscores);
        assert_eq!(c.batch_size, 3000);
    }

    #[test]
    fn field_filters_match_topic_and_field() {
        let c = JdbcSinkConfig::parse(
            &props(&[("field.exclude.list", "t1:secret.*")]),
            Flavor::Debezium,
        )
        .unwrap();
        assert!(!c.writes_field("t1", "secret_x"));
        assert!(c.writes_field("t2", "secret_x"));
        assert!(c.writes_field("t1", "name"));
    }

    #[test]
    fn time_zones_other_than_utc_are_refused() {
        assert!(
            JdbcSinkConfig::parse(&props(&[("use.time.zone", "UTC")]), Flavor::Debezium).is_ok()
        );
        let e = JdbcSinkConfig::parse(
            &props(&[("use.time.zone", "Europe/Paris")]),
            Flavor::Debezium,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("UTC"), "{e}");
    }
}
