//! `HoistField`: wraps the key or value in a struct (schemaful) or a map
//! (schemaless) with a single field named `field`. The wrapping struct
//! schema is built once per input schema.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{RecordData, Schema, SchemaBuilder, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{parse_config, SchemaCache, Target};

pub const DOC: &str = "Wrap data using the specified field name in a Struct when schema present, or a Map in the case of schemaless data. Use the concrete transformation type designed for the record key ($Key) or value ($Value).";
const FIELD: &str = "field";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            FIELD,
            ConfigType::String,
            None,
            Importance::Medium,
            "Field name for the single field that will be created in the resulting Struct or Map.",
        )
        .validate(Validator::NonEmpty)
}

pub struct HoistField {
    target: Target,
    field: String,
    cache: SchemaCache<Arc<Schema>>,
}

impl HoistField {
    pub fn new(target: Target) -> Self {
        HoistField {
            target,
            field: String::new(),
            cache: SchemaCache::new(),
        }
    }
}

impl Transform for HoistField {
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
                let map = Value::Map(vec![(Value::String(self.field.as_str().into()), value)]);
                self.target.set(&mut record, None, map);
            }
            Some(schema) => {
                let wrapped = self.cache.get_or_build(&schema, || {
                    Ok(SchemaBuilder::structure()
                        .field(self.field.clone(), schema.clone())
                        .build())
                })?;
                let s = Struct::from_values(wrapped.clone(), vec![value]);
                self.target
                    .set(&mut record, Some(wrapped), Value::Struct(s));
            }
        }
        Ok(Some(record))
    }
}
