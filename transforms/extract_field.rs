//! `ExtractField`: replaces the key or value with one of its fields: the
//! field's schema becomes the record's schema. A missing field is an error
//! with a schema (Kafka Connect's "Unknown field"), and null without one.
//! A null key or value stays null.

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{RecordData, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{err, map_get, parse_config, require_map_msg, require_struct_msg, Target};

pub const DOC: &str = "Extract the specified field from a Struct when schema present, or a Map in the case of schemaless data. Any null values are passed through unmodified. Use the concrete transformation type designed for the record key ($Key) or value ($Value).";
const FIELD: &str = "field";
const PURPOSE: &str = "field extraction";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            FIELD,
            ConfigType::String,
            None,
            Importance::Medium,
            "Field name to extract.",
        )
        .validate(Validator::NonEmpty)
}

pub struct ExtractField {
    target: Target,
    field: String,
}

impl ExtractField {
    pub fn new(target: Target) -> Self {
        ExtractField {
            target,
            field: String::new(),
        }
    }

    /// Configured directly (as Debezium's transforms use it).
    pub fn of(target: Target, field: &str) -> Self {
        ExtractField {
            target,
            field: field.to_string(),
        }
    }
}

impl Transform for ExtractField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        self.field = parse_config(&config_def(), props)?.string(FIELD)?;
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let (schema, value) = self.target.take(&mut record);
        match schema {
            None => {
                let v = match &value {
                    Value::Null => Value::Null,
                    Value::Map(entries) => map_get(entries, &self.field)
                        .cloned()
                        .unwrap_or(Value::Null),
                    other => return Err(require_map_msg(other, PURPOSE)),
                };
                self.target.set(&mut record, None, v);
            }
            Some(schema) => {
                let field = schema
                    .field(&self.field)
                    .ok_or_else(|| err(format!("Unknown field: {}", self.field)))?;
                let fschema = field.schema.clone();
                let index = field.index;
                let v = match value {
                    Value::Null => Value::Null,
                    Value::Struct(mut s) => {
                        if index < s.values.len() {
                            std::mem::take(&mut s.values[index])
                        } else {
                            Value::Null
                        }
                    }
                    other => return Err(require_struct_msg(&other, PURPOSE)),
                };
                self.target.set(&mut record, Some(fschema), v);
            }
        }
        Ok(Some(record))
    }
}
