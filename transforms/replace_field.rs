//! `ReplaceField`: filters and renames the fields of a struct or map.
//! A field is kept when it is not in `exclude` and `include` is empty or
//! lists it; `renames` (`old:new` pairs) then renames kept fields. The old
//! key names `blacklist` and `whitelist` still work. The new struct schema
//! (Kafka Connect's `copySchemaBasics`: name, version, doc, parameters) is
//! built once per input schema. Null values pass through.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance};
use sluice_api::data::{RecordData, Schema, SchemaType, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{
    config_err, copy_basics, parse_config, require_map_msg, require_struct_msg, SchemaCache, Target,
};

pub const DOC: &str = "Filter or rename fields of the record key ($Key) or value ($Value): exclude drops fields, include keeps only the listed ones, renames maps old names to new ones.";
const EXCLUDE: &str = "exclude";
const INCLUDE: &str = "include";
const RENAMES: &str = "renames";
const BLACKLIST: &str = "blacklist";
const WHITELIST: &str = "whitelist";
const PURPOSE: &str = "field replacement";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            EXCLUDE,
            ConfigType::List,
            Some(""),
            Importance::Medium,
            "Fields to exclude. This takes precedence over the fields to include.",
        )
        .define(
            INCLUDE,
            ConfigType::List,
            Some(""),
            Importance::Medium,
            "Fields to include. If specified, only these fields will be used.",
        )
        .define(
            RENAMES,
            ConfigType::List,
            Some(""),
            Importance::Medium,
            "Field rename mappings, as comma-separated old:new pairs.",
        )
        .define(
            BLACKLIST,
            ConfigType::List,
            Some(""),
            Importance::Low,
            "Deprecated. Use exclude instead.",
        )
        .define(
            WHITELIST,
            ConfigType::List,
            Some(""),
            Importance::Low,
            "Deprecated. Use include instead.",
        )
}

pub struct ReplaceField {
    target: Target,
    exclude: Vec<String>,
    include: Vec<String>,
    renames: HashMap<String, String>,
    /// Output schema and, per output field, the input field index.
    cache: SchemaCache<(Arc<Schema>, Arc<Vec<usize>>)>,
}

impl ReplaceField {
    pub fn new(target: Target) -> Self {
        ReplaceField {
            target,
            exclude: Vec::new(),
            include: Vec::new(),
            renames: HashMap::new(),
            cache: SchemaCache::new(),
        }
    }

    fn keep(&self, name: &str) -> bool {
        !self.exclude.iter().any(|f| f == name)
            && (self.include.is_empty() || self.include.iter().any(|f| f == name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames.get(name).map(String::as_str).unwrap_or(name)
    }
}

impl Transform for ReplaceField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.exclude = c.list(EXCLUDE);
        self.exclude.extend(c.list(BLACKLIST));
        self.include = c.list(INCLUDE);
        self.include.extend(c.list(WHITELIST));
        self.renames.clear();
        for pair in c.list(RENAMES) {
            match pair.split_once(':') {
                Some((old, new)) if !old.is_empty() && !new.is_empty() && !new.contains(':') => {
                    self.renames.insert(old.to_string(), new.to_string());
                }
                _ => {
                    return Err(config_err(
                        RENAMES,
                        format!("Invalid rename mapping: {pair}; write renames as old:new pairs separated by commas"),
                    ))
                }
            }
        }
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let (schema, value) = self.target.take(&mut record);
        let out = match (schema, value) {
            (schema, Value::Null) => (schema, Value::Null),
            (None, Value::Map(entries)) => {
                let kept = entries
                    .into_iter()
                    .filter_map(|(k, v)| {
                        let name = k.as_str()?;
                        if !self.keep(name) {
                            return None;
                        }
                        Some((Value::String(self.renamed(name).into()), v))
                    })
                    .collect();
                (None, Value::Map(kept))
            }
            (None, other) => return Err(require_map_msg(&other, PURPOSE)),
            (Some(schema), Value::Struct(s)) => {
                let (out_schema, idx) = self.cache.get_or_build(&schema, || {
                    let mut b = copy_basics(&schema, SchemaType::Struct);
                    let mut idx = Vec::new();
                    for f in &schema.fields {
                        if self.keep(&f.name) {
                            b = b.field(self.renamed(&f.name).to_string(), f.schema.clone());
                            idx.push(f.index);
                        }
                    }
                    Ok((b.build(), Arc::new(idx)))
                })?;
                let mut values = s.values;
                let out: Vec<Value> = idx
                    .iter()
                    .map(|&i| values.get_mut(i).map(std::mem::take).unwrap_or(Value::Null))
                    .collect();
                (
                    Some(out_schema.clone()),
                    Value::Struct(Struct::from_values(out_schema, out)),
                )
            }
            (Some(_), other) => return Err(require_struct_msg(&other, PURPOSE)),
        };
        self.target.set(&mut record, out.0, out.1);
        Ok(Some(record))
    }
}
