//! `InsertHeader`: adds a header whose value is a literal, parsed the way
//! Kafka Connect's `Values.parseString` does (booleans, the smallest integer
//! type that holds the number, doubles, otherwise a string) so that header
//! converters write the same bytes.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{schemas, RecordData, Schema, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::parse_config;

pub const DOC: &str = "Adds a header with a literal value to each record.";
const HEADER: &str = "header";
const VALUE_LITERAL: &str = "value.literal";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            HEADER,
            ConfigType::String,
            None,
            Importance::High,
            "The name of the header.",
        )
        .validate(Validator::NonEmpty)
        .define(
            VALUE_LITERAL,
            ConfigType::String,
            None,
            Importance::High,
            "The literal value that is to be set as the header value on all records.",
        )
}

/// The schema and value Kafka Connect infers for a literal string.
pub fn parse_literal(text: &str) -> (Arc<Schema>, Value) {
    let t = text.trim();
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        return (
            schemas::boolean(),
            Value::Boolean(t.eq_ignore_ascii_case("true")),
        );
    }
    if let Ok(v) = t.parse::<i64>() {
        return if let Ok(v) = i8::try_from(v) {
            (schemas::int8(), Value::Int8(v))
        } else if let Ok(v) = i16::try_from(v) {
            (schemas::int16(), Value::Int16(v))
        } else if let Ok(v) = i32::try_from(v) {
            (schemas::int32(), Value::Int32(v))
        } else {
            (schemas::int64(), Value::Int64(v))
        };
    }
    let numeric = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && t.chars().any(|c| c.is_ascii_digit());
    if numeric {
        if let Ok(v) = t.parse::<f64>() {
            return (schemas::float64(), Value::Float64(v));
        }
    }
    (schemas::string(), Value::String(text.into()))
}

#[derive(Default)]
pub struct InsertHeader {
    header: String,
    schema: Option<Arc<Schema>>,
    value: Value,
}

impl Transform for InsertHeader {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.header = c.string(HEADER)?;
        let (schema, value) = parse_literal(&c.string(VALUE_LITERAL)?);
        self.schema = Some(schema);
        self.value = value;
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        record
            .headers
            .add(self.header.clone(), self.schema.clone(), self.value.clone());
        Ok(Some(record))
    }
}
