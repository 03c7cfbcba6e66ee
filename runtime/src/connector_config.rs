//! The keys every connector config has (Kafka Connect's `ConnectorConfig`,
//! `SourceConnectorConfig`, `SinkConnectorConfig`) and connector validation.
//!
//! Validation is one function for both the validate endpoint and connector
//! creation, so a config that validates clean is a config that starts: it
//! checks the common keys, the connector's own declared keys and checks, and
//! that the transform chain and converters can be built from the config.

use std::collections::BTreeMap;

use serde_json::json;

use crate::config::{split_list, ConfigDef, ConfigType, Importance, Validator};
use crate::config_providers::has_variables;
use crate::herder::ConnectorType;
use crate::plugin::{PluginKind, Props, Registry};
use crate::worker::chain::{Chain, Converters};
use crate::worker::config::WorkerConfig;

pub fn common_def(kind: ConnectorType) -> ConfigDef {
    let mut d = ConfigDef::new()
        .define(
            "name",
            ConfigType::String,
            None,
            Importance::High,
            "Globally unique name to use for this connector.",
        )
        .group("Common")
        .validate(Validator::NonEmpty)
        .define(
            "connector.class",
            ConfigType::String,
            None,
            Importance::High,
            "Name or alias of the class for this connector.",
        )
        .group("Common")
        .define(
            "tasks.max",
            ConfigType::Int,
            Some("1"),
            Importance::High,
            "Maximum number of tasks to use for this connector.",
        )
        .group("Common")
        .validate(Validator::Range {
            min: Some(1.0),
            max: None,
        })
        .define(
            "key.converter",
            ConfigType::Class,
            Some(""),
            Importance::Low,
            "Converter for keys; overrides the worker's.",
        )
        .group("Common")
        .define(
            "value.converter",
            ConfigType::Class,
            Some(""),
            Importance::Low,
            "Converter for values; overrides the worker's.",
        )
        .group("Common")
        .define(
            "header.converter",
            ConfigType::Class,
            Some(""),
            Importance::Low,
            "Converter for headers; overrides the worker's.",
        )
        .group("Common")
        .define(
            "transforms",
            ConfigType::List,
            Some(""),
            Importance::Low,
            "Aliases for the transformations to be applied to records, in order.",
        )
        .group("Transforms")
        .define(
            "predicates",
            ConfigType::List,
            Some(""),
            Importance::Low,
            "Aliases for the predicates used by transformations.",
        )
        .group("Predicates")
        .define(
            "config.action.reload",
            ConfigType::String,
            Some("restart"),
            Importance::Low,
            "Accepted for compatibility.",
        )
        .group("Common")
        .validate(Validator::OneOf(vec!["none", "restart"]))
        .define(
            "errors.retry.timeout",
            ConfigType::Long,
            Some("0"),
            Importance::Medium,
            "How long a transform or converter that fails with a retriable error is retried, in ms: 0 never (the default), -1 forever. When the time is up, errors.tolerance decides. Errors that are not retriable (bad data) are never retried.",
        )
        .group("Error Handling")
        .define(
            "errors.retry.delay.max.ms",
            ConfigType::Long,
            Some("60000"),
            Importance::Medium,
            "The longest wait between two retries, in ms: waits start at 300 ms and double up to this.",
        )
        .group("Error Handling")
        .define(
            "errors.tolerance",
            ConfigType::String,
            Some("none"),
            Importance::Medium,
            "none: a bad record fails the task; all: bad records are skipped.",
        )
        .group("Error Handling")
        .validate(Validator::OneOf(vec!["none", "all"]))
        .define(
            "errors.log.enable",
            ConfigType::Boolean,
            Some("false"),
            Importance::Medium,
            "Log each skipped record's error.",
        )
        .group("Error Handling")
        .define(
            "errors.log.include.messages",
            ConfigType::Boolean,
            Some("false"),
            Importance::Medium,
            "Include the record in the error log.",
        )
        .group("Error Handling");
    match kind {
        ConnectorType::Sink => {
            d = d
                .define(
                    "topics",
                    ConfigType::List,
                    Some(""),
                    Importance::High,
                    "Topics to consume.",
                )
                .group("Common")
                .define(
                    "topics.regex",
                    ConfigType::String,
                    Some(""),
                    Importance::High,
                    "Regular expression of topics to consume.",
                )
                .group("Common")
                .define(
                    "errors.deadletterqueue.topic.name",
                    ConfigType::String,
                    Some(""),
                    Importance::Medium,
                    "Topic for records that failed conversion or a transform (with errors.tolerance=all).",
                )
                .group("Error Handling")
                .define(
                    "errors.deadletterqueue.topic.replication.factor",
                    ConfigType::Short,
                    Some("3"),
                    Importance::Medium,
                    "Replication factor of the dead letter queue topic.",
                )
                .group("Error Handling")
                .define(
                    "errors.deadletterqueue.context.headers.enable",
                    ConfigType::Boolean,
                    Some("false"),
                    Importance::Medium,
                    "Add __connect.errors.* headers to dead-lettered records.",
                )
                .group("Error Handling");
        }
        _ => {
            d = d
                .define(
                    "topic.creation.groups",
                    ConfigType::List,
                    Some(""),
                    Importance::Low,
                    "Groups of topic creation settings beyond the default.",
                )
                .group("Topic Creation")
                .unsupported()
                .define(
                    "exactly.once.support",
                    ConfigType::String,
                    Some("requested"),
                    Importance::Medium,
                    "requested or required. With a distributed worker whose exactly.once.source.support=enabled, source records are delivered in transactions either way; required asks the connector to declare that it supports it, which none of the Debezium connectors does (as on Kafka Connect): use requested.",
                )
                .group("Exactly Once Support")
                .validate(Validator::Custom(exactly_once_support))
                .define(
                    "transaction.boundary",
                    ConfigType::String,
                    Some("poll"),
                    Importance::Medium,
                    "With exactly-once delivery, when a transaction commits: poll (after each batch the task returns), interval (every transaction.boundary.interval.ms) or connector (refused: no connector here defines transactions).",
                )
                .group("Exactly Once Support")
                .define(
                    "transaction.boundary.interval.ms",
                    ConfigType::Long,
                    Some(""),
                    Importance::Low,
                    "With transaction.boundary=interval: milliseconds between commits (default: the worker's offset.flush.interval.ms).",
                )
                .group("Exactly Once Support")
                .define(
                    "offsets.storage.topic",
                    ConfigType::String,
                    Some(""),
                    Importance::Low,
                    "A source connector's own offsets topic (distributed mode): read first, the worker's offset.storage.topic as the fallback; written first, then copied to the worker's topic.",
                )
                .group("offsets.topic");
        }
    }
    d
}

/// Key prefixes that belong to the runtime, not to the connector's own keys.
const RUNTIME_PREFIXES: &[&str] = &[
    "transforms.",
    "predicates.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "producer.override.",
    "consumer.override.",
    "admin.override.",
    "topic.creation.",
];

/// The outcome of validating a connector config.
pub struct Validation {
    pub kind: ConnectorType,
    pub class: String,
    /// Kafka Connect's validate response body.
    pub body: serde_json::Value,
    pub error_count: usize,
    /// `key: message` lines, for the 400 on create.
    pub messages: Vec<String>,
    /// Keys nobody declares (reported with a warning, not rejected).
    pub unknown_keys: Vec<String>,
    /// Keys accepted but not acted on yet.
    pub unsupported_keys: Vec<String>,
}

/// Validates a connector config; `Err` when no connector class can be found.
pub fn validate(
    registry: &Registry,
    worker: &WorkerConfig,
    written: &Props,
) -> Result<Validation, String> {
    // Values are checked as the tasks will see them, with variables
    // resolved; the response shows them as written.
    let (resolved, unresolvable) = worker.providers.resolve_each(written);
    let props = &resolved;
    let class = props
        .get("connector.class")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            "Connector config contains no connector type: set connector.class (e.g. io.debezium.connector.mysql.MySqlConnector or FileStreamSource)".to_string()
        })?;
    let (desc, plugin_kind) = registry.connector_kind(&class).map_err(|e| e.to_string())?;
    let kind = if plugin_kind == PluginKind::Source {
        ConnectorType::Source
    } else {
        ConnectorType::Sink
    };
    let (own_def, extra) = match kind {
        ConnectorType::Source => {
            let c = registry.source(&class).map_err(|e| e.to_string())?;
            (c.config_def(), c.validate(props))
        }
        _ => {
            let c = registry.sink(&class).map_err(|e| e.to_string())?;
            (c.config_def(), c.validate(props))
        }
    };
    let common = common_def(kind);
    let def = common.clone().merge(&own_def);
    let mut extra: BTreeMap<String, Vec<String>> = extra;
    if kind == ConnectorType::Source {
        for (k, v) in exactly_once_errors(worker, props) {
            extra.entry(k).or_default().extend(v);
        }
    }
    // A variable that does not resolve is an error of its key; keys the
    // definitions do not list (client overrides, ...) are counted apart.
    let mut undeclared_errors = override_policy_errors(worker, written)?;
    for (k, e) in unresolvable {
        if def.key(&k).is_some() {
            extra.entry(k).or_default().push(e);
        } else {
            undeclared_errors.push(format!("{k}: {e}"));
        }
    }
    if kind == ConnectorType::Sink {
        let topics = split_list(props.get("topics").map(String::as_str).unwrap_or(""));
        let regex = props.get("topics.regex").map(|s| s.trim()).unwrap_or("");
        if topics.is_empty() && regex.is_empty() {
            extra
                .entry("topics".into())
                .or_default()
                .push("Must configure one of topics or topics.regex".into());
        } else if !topics.is_empty() && !regex.is_empty() {
            extra
                .entry("topics".into())
                .or_default()
                .push("topics and topics.regex are mutually exclusive; set only one".into());
        }
    }
    if let Err(e) = Chain::build(registry, props) {
        for m in e.messages() {
            let key = m.split(':').next().unwrap_or("transforms").to_string();
            let key = if def.key(&key).is_some() {
                key
            } else {
                "transforms".to_string()
            };
            extra.entry(key).or_default().push(m.clone());
        }
    }
    if let Err(e) = Converters::build(registry, worker, props) {
        for m in e.messages() {
            let key = ["key.converter", "value.converter", "header.converter"]
                .into_iter()
                .find(|k| m.starts_with(k))
                .unwrap_or("value.converter");
            extra.entry(key.to_string()).or_default().push(m.clone());
        }
    }
    let (error_count, mut configs) = def.validation_entries(props, &extra);
    let error_count = error_count + undeclared_errors.len();
    for c in configs.iter_mut() {
        let name = c["definition"]["name"].as_str().unwrap_or("").to_string();
        if let Some(text) = written.get(&name).filter(|v| has_variables(v)) {
            if c["value"]["value"].is_string() && c["value"]["value"] != "[hidden]" {
                c["value"]["value"] = json!(text);
            }
        }
    }
    let mut messages = undeclared_errors;
    for c in &configs {
        let name = c["definition"]["name"].as_str().unwrap_or("");
        for e in c["value"]["errors"].as_array().into_iter().flatten() {
            messages.push(format!("{name}: {}", e.as_str().unwrap_or("")));
        }
    }
    let mut groups: Vec<String> = Vec::new();
    for k in &def.keys {
        if let Some(g) = &k.group {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
    }
    let unknown_keys = props
        .keys()
        .filter(|k| !def.knows(k) && !RUNTIME_PREFIXES.iter().any(|p| k.starts_with(p)))
        .cloned()
        .collect();
    let unsupported_keys = props
        .keys()
        .filter(|k| def.key(k).map(|d| d.unsupported).unwrap_or(false))
        .cloned()
        .collect();
    Ok(Validation {
        kind,
        class: desc.class.clone(),
        body: json!({
            "name": desc.class,
            "error_count": error_count,
            "groups": groups,
            "configs": configs,
        }),
        error_count,
        messages,
        unknown_keys,
        unsupported_keys,
    })
}

/// `connector.client.config.override.policy` (KIP-458): which client
/// settings a connector may override with `producer.override.*`,
/// `consumer.override.*` and `admin.override.*`. All (Kafka Connect's
/// default since 3.0), Principal (only the login: `security.protocol`,
/// `sasl.mechanism`, `sasl.jaas.config`) or None; Kafka Connect's class
/// names are accepted too. A refused key is an error of the config.
fn override_policy_errors(worker: &WorkerConfig, props: &Props) -> Result<Vec<String>, String> {
    let policy = worker
        .props
        .get("connector.client.config.override.policy")
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .unwrap_or("All");
    let short = policy
        .rsplit('.')
        .next()
        .unwrap_or(policy)
        .trim_end_matches("ConnectorClientConfigOverridePolicy");
    let allowed: fn(&str) -> bool = match short {
        "All" => return Ok(Vec::new()),
        "None" => |_| false,
        "Principal" => |k| matches!(k, "security.protocol" | "sasl.mechanism" | "sasl.jaas.config"),
        _ => return Err(format!(
            "worker config: connector.client.config.override.policy={policy} is not All, Principal or None"
        )),
    };
    let mut errors = Vec::new();
    for k in props.keys() {
        for prefix in [
            "producer.override.",
            "consumer.override.",
            "admin.override.",
        ] {
            if let Some(setting) = k.strip_prefix(prefix) {
                if !allowed(setting) {
                    errors.push(format!(
                        "{k}: The '{short}' policy does not allow '{setting}' to be overridden in the connector configuration (connector.client.config.override.policy in the worker config)."
                    ));
                }
            }
        }
    }
    Ok(errors)
}

/// `exactly.once.support`: Kafka Connect's values, but `required` is
/// refused until Sluice delivers exactly once (KIP-618); accepting it would
/// silently give at-least-once to a user who asked for more.
fn exactly_once_support(v: &str) -> Result<(), String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "requested" | "required" => Ok(()),
        _ => Err("must be requested or required".into()),
    }
}

/// Kafka Connect's answers to `exactly.once.support=required` and
/// `transaction.boundary=connector` (DistributedHerder's preflight
/// validation), by the worker's support.
fn exactly_once_errors(worker: &WorkerConfig, props: &Props) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let get = |k: &str| props.get(k).map(|v| v.trim().to_ascii_lowercase());
    if get("exactly.once.support").as_deref() == Some("required") {
        let msg = if worker.exactly_once_enabled() {
            "The connector does not implement the API required for preflight validation of exactly-once source support. Please consult the documentation for the connector to determine whether it supports exactly-once semantics, and then consider reconfiguring the connector to use the value \"requested\" for this property (which will disable this preflight check and allow the connector to be created)."
        } else {
            "This worker does not have exactly-once source support enabled."
        };
        out.entry("exactly.once.support".into())
            .or_default()
            .push(msg.into());
    }
    match get("transaction.boundary").as_deref() {
        None | Some("poll") | Some("interval") => {}
        Some("connector") if worker.exactly_once_enabled() => {
            out.entry("transaction.boundary".into()).or_default().push(
                "The connector does not support connector-defined transaction boundaries with the given configuration. Please reconfigure it to use a different transaction boundary definition.".into(),
            );
        }
        Some("connector") => {}
        Some(other) => out
            .entry("transaction.boundary".into())
            .or_default()
            .push(format!("Invalid value {other} for configuration transaction.boundary: must be poll, interval or connector")),
    }
    out
}

#[cfg(test)]
mod override_policy_tests {
    use super::*;

    fn worker(policy: Option<&str>) -> WorkerConfig {
        let mut p: Props = [(
            "bootstrap.servers".to_string(),
            "127.0.0.1:9092".to_string(),
        )]
        .into();
        if let Some(policy) = policy {
            p.insert(
                "connector.client.config.override.policy".into(),
                policy.into(),
            );
        }
        WorkerConfig::from_props(p).unwrap()
    }

    #[test]
    fn the_policy_decides_which_overrides_pass() {
        let props: Props = [
            (
                "producer.override.sasl.jaas.config".to_string(),
                "x".to_string(),
            ),
            (
                "consumer.override.max.poll.records".to_string(),
                "5".to_string(),
            ),
        ]
        .into();
        assert!(override_policy_errors(&worker(None), &props)
            .unwrap()
            .is_empty());
        let e = override_policy_errors(&worker(Some("Principal")), &props).unwrap();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("consumer.override.max.poll.records: The 'Principal' policy does not allow 'max.poll.records'"), "{e:?}");
        let e = override_policy_errors(
            &worker(Some(
                "org.apache.kafka.connect.connector.policy.NoneConnectorClientConfigOverridePolicy",
            )),
            &props,
        )
        .unwrap();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(override_policy_errors(&worker(Some("Some")), &props).is_err());
    }
}
