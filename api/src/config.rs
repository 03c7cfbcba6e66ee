//! Config declarations (Kafka Connect's `ConfigDef`) and parsed configs.
//!
//! Each plugin declares its keys once: name, type, default, importance, doc
//! and validator. The same declaration parses the flat string map a
//! connector config is, answers `PUT /connector-plugins/{type}/config/validate`
//! in Kafka Connect's response shape, and generates the reference docs.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::json;

/// Kafka Connect's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    pub fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

/// Kafka Connect's `ConfigDef.Importance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

impl Importance {
    pub fn name(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

/// Checks one value beyond its type.
#[derive(Clone)]
pub enum Validator {
    /// One of these strings, ignoring case.
    OneOf(Vec<&'static str>),
    /// A number within [min, max].
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    NonEmpty,
    /// Any check; the message says what is wrong.
    Custom(fn(&str) -> Result<(), String>),
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::OneOf(v) => write!(f, "OneOf({v:?})"),
            Validator::Range { min, max } => write!(f, "Range({min:?}, {max:?})"),
            Validator::NonEmpty => f.write_str("NonEmpty"),
            Validator::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl Validator {
    fn check(&self, value: &str) -> Result<(), String> {
        match self {
            Validator::OneOf(allowed) => {
                if allowed.iter().any(|a| a.eq_ignore_ascii_case(value.trim())) {
                    Ok(())
                } else {
                    Err(format!(
                        "Invalid value {value}: must be one of {}",
                        allowed.join(", ")
                    ))
                }
            }
            Validator::Range { min, max } => {
                let n: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("Invalid value {value}: not a number"))?;
                if let Some(min) = min {
                    if n < *min {
                        return Err(format!("Invalid value {value}: must be at least {min}"));
                    }
                }
                if let Some(max) = max {
                    if n > *max {
                        return Err(format!("Invalid value {value}: must be no more than {max}"));
                    }
                }
                Ok(())
            }
            Validator::NonEmpty => {
                if value.trim().is_empty() {
                    Err("must not be empty".into())
                } else {
                    Ok(())
                }
            }
            Validator::Custom(f) => f(value),
        }
    }

    /// Text for docs.
    pub fn describe(&self) -> String {
        match self {
            Validator::OneOf(v) => format!("one of {}", v.join(", ")),
            Validator::Range { min, max } => match (min, max) {
                (Some(a), Some(b)) => format!("[{a},...,{b}]"),
                (Some(a), None) => format!("[{a},...]"),
                (None, Some(b)) => format!("[...,{b}]"),
                (None, None) => String::new(),
            },
            Validator::NonEmpty => "non-empty string".into(),
            Validator::Custom(_) => String::new(),
        }
    }

    fn recommended(&self) -> Vec<String> {
        match self {
            Validator::OneOf(v) => v.iter().map(|s| s.to_string()).collect(),
            _ => Vec::new(),
        }
    }
}

/// One declared config key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: String,
    pub kind: ConfigType,
    /// `None` means required.
    pub default: Option<String>,
    pub importance: Importance,
    pub doc: String,
    pub group: Option<String>,
    pub validator: Option<Validator>,
    /// Accepted for compatibility; Sluice does not act on it yet.
    pub unsupported: bool,
}

impl ConfigKey {
    pub fn required(&self) -> bool {
        self.default.is_none()
    }

    /// Kafka Connect's `ConfigKeyInfo` JSON (validate and plugin config APIs);
    /// `order_in_group` from [`ConfigDef::order_in_group`].
    pub fn definition_json(&self, order_in_group: i64) -> serde_json::Value {
        json!({
            "name": self.name,
            "type": self.kind.name(),
            "required": self.required(),
            "default_value": self.default,
            "importance": self.importance.name(),
            "documentation": self.doc,
            "group": self.group,
            "width": "NONE",
            "display_name": self.name,
            "dependents": [],
            "order_in_group": order_in_group,
        })
    }
}

/// A plugin's declared keys (Kafka Connect's `ConfigDef`).
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    pub keys: Vec<ConfigKey>,
    /// Key prefixes the plugin passes on as they are (Debezium's
    /// `schema.history.internal.producer.*`): keys under them are its own,
    /// not unknown.
    pub prefixes: Vec<String>,
}

impl ConfigDef {
    pub fn new() -> Self {
        ConfigDef::default()
    }

    /// Declares a key. `default: None` makes it required.
    pub fn define(
        mut self,
        name: &str,
        kind: ConfigType,
        default: Option<&str>,
        importance: Importance,
        doc: &str,
    ) -> Self {
        self.keys.push(ConfigKey {
            name: name.to_string(),
            kind,
            default: default.map(str::to_string),
            importance,
            doc: doc.to_string(),
            group: None,
            validator: None,
            unsupported: false,
        });
        self
    }

    /// Adds a validator to the key declared last.
    pub fn validate(mut self, validator: Validator) -> Self {
        if let Some(k) = self.keys.last_mut() {
            k.validator = Some(validator);
        }
        self
    }

    /// Sets the group of the key declared last.
    pub fn group(mut self, group: &str) -> Self {
        if let Some(k) = self.keys.last_mut() {
            k.group = Some(group.to_string());
        }
        self
    }

    /// Marks the key declared last as accepted but not yet acted on: a
    /// config that sets it gets one warning naming it.
    pub fn unsupported(mut self) -> Self {
        if let Some(k) = self.keys.last_mut() {
            k.unsupported = true;
        }
        self
    }

    /// Appends another definition's keys (a key declared twice keeps the
    /// first declaration).
    pub fn merge(mut self, other: &ConfigDef) -> Self {
        for k in &other.keys {
            if self.key(&k.name).is_none() {
                self.keys.push(k.clone());
            }
        }
        self.prefixes.extend(other.prefixes.iter().cloned());
        self
    }

    /// Declares a prefix whose keys the plugin passes on as they are.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefixes.push(prefix.to_string());
        self
    }

    /// Whether `name` is declared, or falls under a declared prefix.
    pub fn knows(&self, name: &str) -> bool {
        self.key(name).is_some() || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    /// A Markdown table of the keys, for the generated reference docs.
    pub fn markdown_table(&self) -> String {
        let mut out = String::from(
            "| key | type | default | importance | description |\n|---|---|---|---|---|\n",
        );
        for k in &self.keys {
            let default = match &k.default {
                None => "*required*".to_string(),
                Some(d) if d.is_empty() => "\"\"".to_string(),
                Some(d) => format!("`{}`", d.replace('|', "\\|")),
            };
            let mut doc = k.doc.replace('|', "\\|").replace('\n', " ");
            if let Some(v) = &k.validator {
                let d = v.describe();
                if !d.is_empty() {
                    doc.push_str(&format!(" Valid values: {d}."));
                }
            }
            if k.unsupported {
                doc.push_str(" *Accepted; not acted on yet.*");
            }
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                k.name,
                k.kind.name(),
                default,
                k.importance.name(),
                doc
            ));
        }
        out
    }

    /// Kafka Connect's `order_in_group` of the key at `index`: its 1-based
    /// place among the keys of its group, -1 for a key without a group.
    pub fn order_in_group(&self, index: usize) -> i64 {
        let Some(group) = self.keys.get(index).and_then(|k| k.group.as_ref()) else {
            return -1;
        };
        1 + self.keys[..index]
            .iter()
            .filter(|k| k.group.as_ref() == Some(group))
            .count() as i64
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Checks every declared key of `props`; returns each key's errors.
    pub fn validate_all(&self, props: &BTreeMap<String, String>) -> Vec<(String, Vec<String>)> {
        self.keys
            .iter()
            .map(|k| (k.name.clone(), check_key(k, props.get(&k.name))))
            .collect()
    }

    /// Parses `props`. Errors name every bad key at once.
    pub fn parse(&self, props: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let mut errors = Vec::new();
        for (name, errs) in self.validate_all(props) {
            for e in errs {
                errors.push(format!("{name}: {e}"));
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError::Invalid(errors));
        }
        Ok(Config::with_def(props.clone(), self.clone()))
    }

    /// Kafka Connect's validate response entries (`configs` array items).
    pub fn validation_entries(
        &self,
        props: &BTreeMap<String, String>,
        extra_errors: &BTreeMap<String, Vec<String>>,
    ) -> (usize, Vec<serde_json::Value>) {
        let mut count = 0;
        let mut out = Vec::new();
        for (order, k) in self.keys.iter().enumerate() {
            let mut errors = check_key(k, props.get(&k.name));
            if let Some(extra) = extra_errors.get(&k.name) {
                errors.extend(extra.iter().cloned());
            }
            count += errors.len();
            let value = props.get(&k.name).cloned().or_else(|| k.default.clone());
            let shown = if k.kind == ConfigType::Password && value.is_some() {
                Some("[hidden]".to_string())
            } else {
                value
            };
            out.push(json!({
                "definition": k.definition_json(self.order_in_group(order)),
                "value": {
                    "name": k.name,
                    "value": shown,
                    "recommended_values": k.validator.as_ref().map(Validator::recommended).unwrap_or_default(),
                    "errors": errors,
                    "visible": true,
                }
            }));
        }
        (count, out)
    }
}

fn check_key(key: &ConfigKey, value: Option<&String>) -> Vec<String> {
    let value = match value {
        Some(v) => v,
        None => {
            return if key.required() {
                vec![format!(
                    "Missing required configuration \"{}\" which has no default value.",
                    key.name
                )]
            } else {
                Vec::new()
            }
        }
    };
    let mut errors = Vec::new();
    if let Err(e) = check_type(key.kind, value) {
        errors.push(format!(
            "Invalid value {value} for configuration {}: {e}",
            key.name
        ));
        return errors;
    }
    if let Some(v) = &key.validator {
        if let Err(e) = v.check(value) {
            errors.push(e);
        }
    }
    errors
}

fn check_type(kind: ConfigType, value: &str) -> Result<(), String> {
    let v = value.trim();
    match kind {
        ConfigType::Boolean => match v.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err("Expected value to be either true or false".into()),
        },
        ConfigType::Int => v
            .parse::<i32>()
            .map(|_| ())
            .map_err(|_| "Not a number of type INT".into()),
        ConfigType::Short => v
            .parse::<i16>()
            .map(|_| ())
            .map_err(|_| "Not a number of type SHORT".into()),
        ConfigType::Long => v
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| "Not a number of type LONG".into()),
        ConfigType::Double => v
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| "Not a number of type DOUBLE".into()),
        _ => Ok(()),
    }
}

/// A config error: every problem, each naming its key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl ConfigError {
    pub fn one(msg: impl Into<String>) -> ConfigError {
        ConfigError::Invalid(vec![msg.into()])
    }
    pub fn messages(&self) -> &[String] {
        match self {
            ConfigError::Invalid(v) => v,
        }
    }
}

/// A parsed config: the raw map plus typed getters that fall back to the
/// declared defaults.
#[derive(Debug, Clone, Default)]
pub struct Config {
    props: BTreeMap<String, String>,
    def: ConfigDef,
}

impl Config {
    /// A config without declarations (getters see only the map).
    pub fn new(props: BTreeMap<String, String>) -> Config {
        Config {
            props,
            def: ConfigDef::default(),
        }
    }

    pub fn with_def(props: BTreeMap<String, String>, def: ConfigDef) -> Config {
        Config { props, def }
    }

    pub fn props(&self) -> &BTreeMap<String, String> {
        &self.props
    }

    /// The value, or its declared default.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.props
            .get(name)
            .map(String::as_str)
            .or_else(|| self.def.key(name).and_then(|k| k.default.as_deref()))
    }

    pub fn string(&self, name: &str) -> Result<String, ConfigError> {
        self.get(name).map(str::to_string).ok_or_else(|| {
            ConfigError::one(format!(
                "Missing required configuration \"{name}\" which has no default value."
            ))
        })
    }

    /// A non-empty value, or `None`.
    pub fn opt_string(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    pub fn bool(&self, name: &str) -> Result<bool, ConfigError> {
        let v = self.string(name)?;
        match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ConfigError::one(format!(
                "Invalid value {v} for configuration {name}: Expected value to be either true or false"
            ))),
        }
    }

    pub fn i64(&self, name: &str) -> Result<i64, ConfigError> {
        let v = self.string(name)?;
        v.trim().parse().map_err(|_| {
            ConfigError::one(format!(
                "Invalid value {v} for configuration {name}: Not a number of type LONG"
            ))
        })
    }

    pub fn i32(&self, name: &str) -> Result<i32, ConfigError> {
        let v = self.i64(name)?;
        i32::try_from(v).map_err(|_| {
            ConfigError::one(format!(
                "Invalid value {v} for configuration {name}: Not a number of type INT"
            ))
        })
    }

    pub fn f64(&self, name: &str) -> Result<f64, ConfigError> {
        let v = self.string(name)?;
        v.trim().parse().map_err(|_| {
            ConfigError::one(format!(
                "Invalid value {v} for configuration {name}: Not a number of type DOUBLE"
            ))
        })
    }

    /// A comma-separated list, trimmed, empty items dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        split_list(self.get(name).unwrap_or(""))
    }

    /// Every key under `prefix`, with the prefix stripped.
    pub fn with_prefix(&self, prefix: &str) -> BTreeMap<String, String> {
        sub_map(&self.props, prefix)
    }
}

/// Splits Kafka Connect's comma-separated list values.
pub fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Every key under `prefix`, with the prefix stripped.
pub fn sub_map(props: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, String> {
    props
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|s| (s.to_string(), v.clone())))
        .collect()
}

/// Keeps generated reference pages current (a test helper for the crates
/// that generate docs): with SLUICE_REGEN_DOCS=1 it writes each page
/// (`path` relative to `docs_dir`), otherwise it panics on the first page
/// whose file differs, naming `regen`, the command that rewrites them.
pub fn check_generated_docs(docs_dir: &std::path::Path, pages: &[(String, String)], regen: &str) {
    let write = std::env::var("SLUICE_REGEN_DOCS").is_ok_and(|v| v == "1");
    for (rel, want) in pages {
        let file = docs_dir.join(rel);
        if write {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).expect("create the docs directory");
            }
            std::fs::write(&file, want).expect("write a reference page");
            continue;
        }
        let have = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(have == *want, "docs/{rel} is out of date: run {regen}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                "file",
                ConfigType::String,
                None,
                Importance::High,
                "The file.",
            )
            .define(
                "batch.size",
                ConfigType::Int,
                Some("2000"),
                Importance::Low,
                "Batch.",
            )
            .validate(Validator::Range {
                min: Some(1.0),
                max: None,
            })
            .define(
                "mode",
                ConfigType::String,
                Some("a"),
                Importance::Low,
                "Mode.",
            )
            .validate(Validator::OneOf(vec!["a", "b"]))
    }

    fn props(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_types() {
        let c = def().parse(&props(&[("file", "/tmp/x")])).unwrap();
        assert_eq!(c.i32("batch.size").unwrap(), 2000);
        assert_eq!(c.string("file").unwrap(), "/tmp/x");
    }

    #[test]
    fn every_error_is_named() {
        let err = def()
            .parse(&props(&[("batch.size", "zero"), ("mode", "c")]))
            .unwrap_err();
        let msgs = err.messages().join("\n");
        assert!(
            msgs.contains("Missing required configuration \"file\""),
            "{msgs}"
        );
        assert!(msgs.contains("batch.size"), "{msgs}");
        assert!(msgs.contains("must be one of a, b"), "{msgs}");
    }

    #[test]
    fn validation_entries_count_errors() {
        let (n, entries) =
            def().validation_entries(&props(&[("batch.size", "0")]), &BTreeMap::new());
        assert_eq!(n, 2);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1]["definition"]["type"], "INT");
    }
}
