//! `SetSchemaMetadata`: sets the name and/or version of the key or value
//! schema. A struct value is re-pointed at the renamed schema (same
//! values), so converters see the new name. The renamed schema is built
//! once per input schema.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance};
use sluice_api::data::{RecordData, Schema, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{err, parse_config, SchemaCache, Target};

pub const DOC: &str =
    "Set the schema name, version or both on the record's key ($Key) or value ($Value) schema.";
const NAME: &str = "schema.name";
const VERSION: &str = "schema.version";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            NAME,
            ConfigType::String,
            Some(""),
            Importance::High,
            "Schema name to set.",
        )
        .define(
            VERSION,
            ConfigType::Int,
            Some(""),
            Importance::High,
            "Schema version to set.",
        )
}

pub struct SetSchemaMetadata {
    target: Target,
    name: Option<String>,
    version: Option<i32>,
    cache: SchemaCache<Arc<Schema>>,
}

impl SetSchemaMetadata {
    pub fn new(target: Target) -> Self {
        SetSchemaMetadata {
            target,
            name: None,
            version: None,
            cache: SchemaCache::new(),
        }
    }
}

impl Transform for SetSchemaMetadata {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let mut p = props.clone();
        // An empty version means "not set" (the declared default).
        if p.get(VERSION).is_some_and(|v| v.trim().is_empty()) {
            p.remove(VERSION);
        }
        let c = parse_config(&config_def(), &p)?;
        self.name = c.opt_string(NAME);
        self.version = if p.contains_key(VERSION) {
            Some(c.i32(VERSION)?)
        } else {
            None
        };
        if self.name.is_none() && self.version.is_none() {
            return Err(ConfigError::one(format!(
                "{NAME}: Neither schema name nor version configured; set {NAME}, {VERSION} or both"
            )));
        }
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let (schema, value) = self.target.take(&mut record);
        let schema = schema.ok_or_else(|| {
            err(format!(
                "Schema required for [updating schema metadata] of the record {} (topic {}); SetSchemaMetadata needs schemaful data",
                self.target.name(),
                record.topic
            ))
        })?;
        let updated = self.cache.get_or_build(&schema, || {
            let mut s = (*schema).clone();
            if let Some(n) = &self.name {
                s.name = Some(n.clone());
            }
            if let Some(v) = self.version {
                s.version = Some(v);
            }
            Ok(Arc::new(s))
        })?;
        let value = match value {
            Value::Struct(mut s) => {
                s.schema = updated.clone();
                Value::Struct(s)
            }
            other => other,
        };
        self.target.set(&mut record, Some(updated), value);
        Ok(Some(record))
    }
}
