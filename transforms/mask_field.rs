//! `MaskField`: replaces the listed fields with the "empty" value of their
//! type (0, 0.0, false, "", empty bytes/array/map, the epoch for dates), or
//! with `replacement` parsed as the field's type (numbers and strings only,
//! as in Kafka Connect). The schema does not change. Nulls stay null.

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{decimal, Logical, RecordData, Schema, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{err, parse_config, require_map_msg, require_struct_msg, Target};

pub const DOC: &str = "Mask specified fields with a valid null value for the field type (i.e. 0, false, empty string, and so on), or with a custom replacement for numeric and string fields.";
const FIELDS: &str = "fields";
const REPLACEMENT: &str = "replacement";
const REPLACE_NULL: &str = "replace.null.with.default";
const PURPOSE: &str = "mask fields";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(FIELDS, ConfigType::List, None, Importance::High, "Names of fields to mask.")
        .validate(Validator::NonEmpty)
        .define(REPLACEMENT, ConfigType::String, Some(""), Importance::Low, "Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only).")
        .define(REPLACE_NULL, ConfigType::Boolean, Some("true"), Importance::Medium, "Whether to replace fields that have a default value and that are null to the default value. Sluice keeps values as they are.")
}

pub struct MaskField {
    target: Target,
    fields: Vec<String>,
    replacement: Option<String>,
}

impl MaskField {
    pub fn new(target: Target) -> Self {
        MaskField {
            target,
            fields: Vec::new(),
            replacement: None,
        }
    }

    fn mask(
        &self,
        field: &str,
        value: &Value,
        schema: Option<&Schema>,
    ) -> Result<Value, RecordError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let logical = schema.and_then(|s| s.logical());
        match &self.replacement {
            None => Ok(match value {
                Value::Boolean(_) => Value::Boolean(false),
                Value::Int8(_) => Value::Int8(0),
                Value::Int16(_) => Value::Int16(0),
                Value::Int32(_) => Value::Int32(0),
                Value::Int64(_) => Value::Int64(0),
                Value::Float32(_) => Value::Float32(0.0),
                Value::Float64(_) => Value::Float64(0.0),
                Value::String(_) => Value::String("".into()),
                Value::Bytes(_) if logical == Some(Logical::Decimal) => Value::Bytes(vec![0]),
                Value::Bytes(_) => Value::Bytes(Vec::new()),
                Value::Array(_) => Value::Array(Vec::new()),
                Value::Map(_) => Value::Map(Vec::new()),
                Value::Struct(_) | Value::Null => {
                    return Err(err(format!("Cannot mask value of type struct (field {field}); list its inner fields after Flatten instead")))
                }
            }),
            Some(r) => {
                if matches!(logical, Some(Logical::Date | Logical::Time | Logical::Timestamp)) {
                    return Err(err(format!("Cannot mask value of type java.util.Date with custom replacement (field {field})")));
                }
                let bad = || err(format!("Unable to convert {r} ({}) to number (field {field})", "String"));
                let t = r.trim();
                Ok(match value {
                    Value::Int8(_) => Value::Int8(t.parse().map_err(|_| bad())?),
                    Value::Int16(_) => Value::Int16(t.parse().map_err(|_| bad())?),
                    Value::Int32(_) => Value::Int32(t.parse().map_err(|_| bad())?),
                    Value::Int64(_) => Value::Int64(t.parse().map_err(|_| bad())?),
                    Value::Float32(_) => Value::Float32(t.parse().map_err(|_| bad())?),
                    Value::Float64(_) => Value::Float64(t.parse().map_err(|_| bad())?),
                    Value::String(_) => Value::String(r.as_str().into()),
                    Value::Bytes(_) if logical == Some(Logical::Decimal) => {
                        let scale: i32 = schema.and_then(|s| s.parameter("scale")).and_then(|s| s.parse().ok()).unwrap_or(0);
                        Value::Bytes(rescale(t, scale).ok_or_else(bad)?)
                    }
                    other => {
                        return Err(err(format!(
                            "Cannot mask value of type {} with custom replacement (field {field})",
                            other.type_name()
                        )))
                    }
                })
            }
        }
    }
}

/// The unscaled bytes of decimal text at `scale` (None if it would lose digits).
fn rescale(text: &str, scale: i32) -> Option<Vec<u8>> {
    let (bytes, s) = decimal::parse(text)?;
    let mut v = decimal::bytes_to_i128(&bytes)?;
    if s > scale {
        let div = 10i128.checked_pow((s - scale) as u32)?;
        if v % div != 0 {
            return None;
        }
        v /= div;
    } else {
        v = v.checked_mul(10i128.checked_pow((scale - s) as u32)?)?;
    }
    Some(decimal::i128_to_bytes(v))
}

impl Transform for MaskField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.fields = c.list(FIELDS);
        self.replacement = c
            .get(REPLACEMENT)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let has_schema = self.target.schema(&record).is_some();
        let (schema, mut value) = self.target.take(&mut record);
        match (&schema, &mut value) {
            (_, Value::Null) => {}
            (None, Value::Map(entries)) => {
                for (k, v) in entries.iter_mut() {
                    if let Some(name) = k.as_str() {
                        if self.fields.iter().any(|f| f == name) {
                            *v = self.mask(name, v, None)?;
                        }
                    }
                }
            }
            (Some(_), Value::Struct(s)) => {
                for f in &self.fields {
                    if let Some(field) = s.schema.field(f) {
                        if let Some(v) = s.values.get_mut(field.index) {
                            *v = self.mask(f, v, Some(&field.schema))?;
                        }
                    }
                }
            }
            (_, other) if has_schema => return Err(require_struct_msg(other, PURPOSE)),
            (_, other) => return Err(require_map_msg(other, PURPOSE)),
        }
        self.target.set(&mut record, schema, value);
        Ok(Some(record))
    }
}
