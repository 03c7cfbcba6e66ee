//! `ValueToKey`: replaces the key with a struct (schemaful) or map
//! (schemaless) made of the listed `fields` of the value. The key schema is
//! built once per value schema; a listed field missing from the value
//! schema is an error naming it.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{RecordData, Schema, SchemaBuilder, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{
    config_err, err, map_get, parse_config, require_map_msg, require_struct_msg, SchemaCache,
};

pub const DOC: &str =
    "Replace the record key with a new key formed from a subset of fields in the record value.";
const FIELDS: &str = "fields";
const PURPOSE: &str = "copying fields from value to key";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            FIELDS,
            ConfigType::List,
            None,
            Importance::High,
            "Field names on the record value to extract as the record key.",
        )
        .validate(Validator::NonEmpty)
}

#[derive(Default)]
pub struct ValueToKey {
    fields: Vec<String>,
    /// Key schema and the value field index of each key field.
    cache: SchemaCache<(Arc<Schema>, Arc<Vec<usize>>)>,
}

impl Transform for ValueToKey {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        self.fields = parse_config(&config_def(), props)?.list(FIELDS);
        if self.fields.is_empty() {
            return Err(config_err(FIELDS, "must name at least one field"));
        }
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        match &record.value_schema {
            None => {
                let Value::Map(entries) = &record.value else {
                    return Err(require_map_msg(&record.value, PURPOSE));
                };
                let key = self
                    .fields
                    .iter()
                    .map(|f| {
                        (
                            Value::String(f.as_str().into()),
                            map_get(entries, f).cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect();
                record.key_schema = None;
                record.key = Value::Map(key);
            }
            Some(schema) => {
                let Value::Struct(value) = &record.value else {
                    return Err(require_struct_msg(&record.value, PURPOSE));
                };
                let (key_schema, indexes) = self.cache.get_or_build(schema, || {
                    let mut b = SchemaBuilder::structure();
                    let mut idx = Vec::new();
                    for f in &self.fields {
                        let field = schema
                            .field(f)
                            .ok_or_else(|| err(format!("Field does not exist: {f}")))?;
                        b = b.field(f.clone(), field.schema.clone());
                        idx.push(field.index);
                    }
                    Ok((b.build(), Arc::new(idx)))
                })?;
                let values = indexes
                    .iter()
                    .map(|&i| value.get_index(i).clone())
                    .collect();
                record.key = Value::Struct(Struct::from_values(key_schema.clone(), values));
                record.key_schema = Some(key_schema);
            }
        }
        Ok(Some(record))
    }
}
