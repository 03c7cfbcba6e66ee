//! A connector's record pipeline: its transform chain (with predicates) and
//! its key, value and header converters, built from the connector config.
//!
//! Kafka Connect's rules: `transforms=a,b` names the chain in order, each
//! `transforms.a.type` a transform class and the rest of `transforms.a.*` its
//! config; `transforms.a.predicate` names an entry of `predicates` and
//! `transforms.a.negate` inverts it. A connector that sets `key.converter`
//! configures it from its own `key.converter.*` keys; otherwise the worker's
//! converter and keys apply.

use std::sync::Arc;

use crate::config::{split_list, sub_map, ConfigError};
use crate::data::RecordData;
use crate::plugin::{
    Converter, HeaderConverter, Predicate, Props, RecordError, Registry, Transform,
};
use crate::worker::config::WorkerConfig;

struct Stage {
    name: String,
    transform: Box<dyn Transform>,
    predicate: Option<(Arc<dyn Predicate>, bool)>,
}

/// The transform chain of one connector.
#[derive(Default)]
pub struct Chain {
    stages: Vec<Stage>,
}

impl Chain {
    pub fn build(registry: &Registry, props: &Props) -> Result<Chain, ConfigError> {
        let mut predicates = std::collections::HashMap::new();
        for alias in split_list(props.get("predicates").map(String::as_str).unwrap_or("")) {
            let prefix = format!("predicates.{alias}.");
            let sub = sub_map(props, &prefix);
            let class = sub.get("type").ok_or_else(|| {
                ConfigError::one(format!("predicates.{alias}.type: Missing required configuration \"predicates.{alias}.type\" which has no default value."))
            })?;
            let mut p = registry
                .predicate(class)
                .map_err(|e| ConfigError::one(format!("predicates.{alias}.type: {e}")))?;
            p.configure(&sub)
                .map_err(|e| prefixed(&format!("predicates.{alias}."), e))?;
            predicates.insert(alias, Arc::<dyn Predicate>::from(p));
        }
        let mut stages = Vec::new();
        for alias in split_list(props.get("transforms").map(String::as_str).unwrap_or("")) {
            let prefix = format!("transforms.{alias}.");
            let sub = sub_map(props, &prefix);
            let class = sub.get("type").ok_or_else(|| {
                ConfigError::one(format!("transforms.{alias}.type: Missing required configuration \"transforms.{alias}.type\" which has no default value."))
            })?;
            let mut t = registry
                .transform(class)
                .map_err(|e| ConfigError::one(format!("transforms.{alias}.type: {e}")))?;
            let mut own = sub.clone();
            own.remove("type");
            own.remove("predicate");
            own.remove("negate");
            t.configure(&own).map_err(|e| prefixed(&prefix, e))?;
            let predicate = match sub
                .get("predicate")
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
            {
                Some(name) => {
                    let p = predicates.get(name).ok_or_else(|| {
                        ConfigError::one(format!(
                            "transforms.{alias}.predicate: predicate {name} is not listed in predicates"
                        ))
                    })?;
                    let negate = sub
                        .get("negate")
                        .map(|v| v.trim().eq_ignore_ascii_case("true"))
                        .unwrap_or(false);
                    Some((p.clone(), negate))
                }
                None => None,
            };
            stages.push(Stage {
                name: alias,
                transform: t,
                predicate,
            });
        }
        Ok(Chain { stages })
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Runs the chain. `Ok(None)`: a transform dropped the record. An error
    /// names the transform that failed.
    pub fn apply(&self, mut rec: RecordData) -> Result<Option<RecordData>, RecordError> {
        for s in &self.stages {
            if let Some((p, negate)) = &s.predicate {
                if p.test(&rec) == *negate {
                    continue;
                }
            }
            match s.transform.apply(rec) {
                Ok(Some(r)) => rec = r,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(e.map_message(|m| format!("transform {} failed: {m}", s.name)))
                }
            }
        }
        Ok(Some(rec))
    }
}

fn prefixed(prefix: &str, e: ConfigError) -> ConfigError {
    ConfigError::Invalid(
        e.messages()
            .iter()
            .map(|m| format!("{prefix}{m}"))
            .collect(),
    )
}

/// A connector's converters.
pub struct Converters {
    pub key: Box<dyn Converter>,
    pub value: Box<dyn Converter>,
    pub header: Box<dyn HeaderConverter>,
}

impl Converters {
    pub fn build(
        registry: &Registry,
        worker: &WorkerConfig,
        props: &Props,
    ) -> Result<Converters, ConfigError> {
        let pick = |key: &str| -> (String, Props) {
            match props.get(key) {
                Some(class) => (class.clone(), sub_map(props, &format!("{key}."))),
                None => (
                    worker.get(key).unwrap_or_default(),
                    sub_map(&worker.props, &format!("{key}.")),
                ),
            }
        };
        let make = |key: &str, is_key: bool| -> Result<Box<dyn Converter>, ConfigError> {
            let (class, mut sub) = pick(key);
            let mut c = registry
                .converter(&class)
                .map_err(|e| ConfigError::one(format!("{key}: {e}")))?;
            sub.entry("converter.type".into())
                .or_insert_with(|| if is_key { "key" } else { "value" }.into());
            c.configure(&sub, is_key)
                .map_err(|e| prefixed(&format!("{key}."), e))?;
            Ok(c)
        };
        let key = make("key.converter", true)?;
        let value = make("value.converter", false)?;
        let (class, mut sub) = pick("header.converter");
        let mut header = registry
            .header_converter(&class)
            .map_err(|e| ConfigError::one(format!("header.converter: {e}")))?;
        sub.entry("converter.type".into())
            .or_insert_with(|| "header".into());
        header
            .configure(&sub)
            .map_err(|e| prefixed("header.converter.", e))?;
        Ok(Converters { key, value, header })
    }
}
