//! `Cast`: casts fields (or the whole key/value) to another primitive
//! type: `spec` is `field:type,...`, or a single `type` for the whole
//! value. Conversions follow Java's rules as Kafka Connect applies them:
//! integer narrowing wraps, float-to-integer truncates and saturates,
//! numbers to boolean are "not zero", strings parse (`Boolean.parseBoolean`
//! for booleans), and to-string uses Java's `toString` (floats as
//! `Double.toString`, bytes as Base64, Decimal as plain digits, dates in
//! ISO-8601 UTC). The cast schema is built once per input schema.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{
    decimal, Logical, RecordData, Schema, SchemaBuilder, SchemaType, Struct, Value,
};
use sluice_api::java_text::{double_to_string, float_to_string};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::datetime::{DateFormat, MS_PER_DAY};
use crate::util::{
    config_err, copy_basics, err, parse_config, require_map_msg, require_struct_msg, SchemaCache,
    Target,
};

pub const DOC: &str = "Cast fields or the entire key or value to a specific type, e.g. to force an integer field to a smaller width. Cast from integers, floats, boolean, string, bytes (to string, as Base64), Decimal, and dates (to string) to int8, int16, int32, int64, float32, float64, boolean or string.";
const SPEC: &str = "spec";
const REPLACE_NULL: &str = "replace.null.with.default";
const PURPOSE: &str = "cast types";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(SPEC, ConfigType::List, None, Importance::High, "List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string.")
        .validate(Validator::NonEmpty)
        .define(REPLACE_NULL, ConfigType::Boolean, Some("true"), Importance::Medium, "Whether to replace fields that have a default value and that are null to the default value. Sluice keeps values as they are.")
}

fn parse_type(key: &str, t: &str) -> Result<SchemaType, ConfigError> {
    match SchemaType::parse(t.trim()) {
        Some(k @ (SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 | SchemaType::Float32 | SchemaType::Float64 | SchemaType::Boolean | SchemaType::String)) => Ok(k),
        _ => Err(config_err(key, format!("Invalid value {t}: Cast transformation does not support casting to {t}; valid types are int8, int16, int32, int64, float32, float64, boolean, string"))),
    }
}

/// Output schema and, per input field, the cast to apply.
type CastPlan = (Arc<Schema>, Arc<Vec<Option<SchemaType>>>);

pub struct Cast {
    target: Target,
    whole: Option<SchemaType>,
    fields: Vec<(String, SchemaType)>,
    /// Output schema and, per field, the cast to apply (by index).
    cache: SchemaCache<CastPlan>,
}

impl Cast {
    pub fn new(target: Target) -> Self {
        Cast {
            target,
            whole: None,
            fields: Vec::new(),
            cache: SchemaCache::new(),
        }
    }

    fn field_cast(&self, name: &str) -> Option<SchemaType> {
        self.fields.iter().find(|(f, _)| f == name).map(|(_, t)| *t)
    }

    fn out_schema(
        input: &Arc<Schema>,
        to: SchemaType,
        path: &str,
    ) -> Result<Arc<Schema>, RecordError> {
        check_input(input, to, path)?;
        let mut b = SchemaBuilder::new(to).set_optional(input.optional);
        if let Some(d) = &input.default {
            b = b.default_value(cast_value(d, Some(input), to, path)?);
        }
        Ok(b.build())
    }
}

fn check_input(schema: &Schema, to: SchemaType, path: &str) -> Result<(), RecordError> {
    let ok = match schema.logical() {
        Some(Logical::Decimal) => true,
        Some(_) => to == SchemaType::String,
        None => {
            schema.kind.is_primitive()
                && (schema.kind != SchemaType::Bytes || to == SchemaType::String)
        }
    };
    if ok {
        Ok(())
    } else {
        Err(err(format!(
            "Cast transformation does not support casting from {} to {to} ({path})",
            schema.name().unwrap_or(&schema.kind.to_string())
        )))
    }
}

/// Casts one value. `schema` gives the logical type when known.
pub fn cast_value(
    v: &Value,
    schema: Option<&Schema>,
    to: SchemaType,
    path: &str,
) -> Result<Value, RecordError> {
    let bad = |why: String| err(format!("Cast {path} to {to} failed: {why}"));
    if v.is_null() {
        return Ok(Value::Null);
    }
    let logical = schema.and_then(|s| s.logical());
    // Decimals become a number first.
    enum N {
        I(i128),
        F(f64),
    }
    let num: Option<N> = match (v, logical) {
        (Value::Bytes(b), Some(Logical::Decimal)) => {
            let scale: i32 = schema
                .and_then(|s| s.parameter("scale"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if to == SchemaType::String {
                return Ok(Value::String(decimal::to_plain_string(b, scale).into()));
            }
            if matches!(to, SchemaType::Float32 | SchemaType::Float64) {
                let f: f64 = decimal::to_plain_string(b, scale)
                    .parse()
                    .map_err(|_| bad("not a number".into()))?;
                Some(N::F(f))
            } else {
                let u = decimal::bytes_to_i128(b).ok_or_else(|| bad("decimal too large".into()))?;
                let div = 10i128.checked_pow(scale.max(0) as u32).unwrap_or(i128::MAX);
                Some(N::I(u / div))
            }
        }
        (Value::Int8(x), _) => Some(N::I(*x as i128)),
        (Value::Int16(x), _) => Some(N::I(*x as i128)),
        (Value::Int32(x), _) => Some(N::I(*x as i128)),
        (Value::Int64(x), _) => Some(N::I(*x as i128)),
        (Value::Float32(x), _) => Some(N::F(*x as f64)),
        (Value::Float64(x), _) => Some(N::F(*x)),
        _ => None,
    };
    if to == SchemaType::String {
        return Ok(Value::String(match (v, logical) {
            (Value::Int32(d), Some(Logical::Date)) => DateFormat::new("yyyy-MM-dd")
                .map(|f| f.format(*d as i64 * MS_PER_DAY))
                .unwrap_or_default()
                .into(),
            (Value::Int32(t), Some(Logical::Time)) => DateFormat::new("HH:mm:ss.SSS'Z'")
                .map(|f| f.format(*t as i64))
                .unwrap_or_default()
                .into(),
            (Value::Int64(t), Some(Logical::Timestamp)) => {
                DateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
                    .map(|f| f.format(*t))
                    .unwrap_or_default()
                    .into()
            }
            (Value::Float32(f), _) => float_to_string(*f).into(),
            (Value::Float64(f), _) => double_to_string(*f).into(),
            (Value::Boolean(b), _) => b.to_string().into(),
            (Value::String(s), _) => s.clone(),
            (Value::Bytes(b), _) => BASE64.encode(b).into(),
            (other, _) => match other.as_i64() {
                Some(i) => i.to_string().into(),
                None => return Err(bad(format!("unexpected {} value", other.type_name()))),
            },
        }));
    }
    if to == SchemaType::Boolean {
        return Ok(Value::Boolean(match (v, &num) {
            (Value::Boolean(b), _) => *b,
            (Value::String(s), _) => s.trim().eq_ignore_ascii_case("true"),
            (_, Some(N::I(i))) => *i != 0,
            (_, Some(N::F(f))) => *f as i64 != 0,
            (other, None) => return Err(bad(format!("unexpected {} value", other.type_name()))),
        }));
    }
    let num = match (v, num) {
        (_, Some(n)) => n,
        (Value::Boolean(b), None) => N::I(*b as i128),
        (Value::String(s), None) => {
            let t = s.trim();
            if matches!(to, SchemaType::Float32 | SchemaType::Float64) {
                N::F(
                    t.parse()
                        .map_err(|_| bad(format!("For input string: \"{s}\"")))?,
                )
            } else {
                let i: i64 = t
                    .parse()
                    .map_err(|_| bad(format!("For input string: \"{s}\"")))?;
                // Java's parseByte/parseShort/parseInt reject out-of-range text.
                let fits = match to {
                    SchemaType::Int8 => i8::try_from(i).is_ok(),
                    SchemaType::Int16 => i16::try_from(i).is_ok(),
                    SchemaType::Int32 => i32::try_from(i).is_ok(),
                    _ => true,
                };
                if !fits {
                    return Err(bad(format!("Value out of range. Value:\"{s}\"")));
                }
                N::I(i as i128)
            }
        }
        (other, None) => return Err(bad(format!("unexpected {} value", other.type_name()))),
    };
    Ok(match (to, num) {
        (SchemaType::Int8, N::I(i)) => Value::Int8(i as i8),
        (SchemaType::Int16, N::I(i)) => Value::Int16(i as i16),
        (SchemaType::Int32, N::I(i)) => Value::Int32(i as i32),
        (SchemaType::Int64, N::I(i)) => Value::Int64(i as i64),
        (SchemaType::Float32, N::I(i)) => Value::Float32(i as f32),
        (SchemaType::Float64, N::I(i)) => Value::Float64(i as f64),
        (SchemaType::Int8, N::F(f)) => Value::Int8(f as i32 as i8),
        (SchemaType::Int16, N::F(f)) => Value::Int16(f as i32 as i16),
        (SchemaType::Int32, N::F(f)) => Value::Int32(f as i32),
        (SchemaType::Int64, N::F(f)) => Value::Int64(f as i64),
        (SchemaType::Float32, N::F(f)) => Value::Float32(f as f32),
        (SchemaType::Float64, N::F(f)) => Value::Float64(f),
        _ => return Err(bad("unsupported target".into())),
    })
}

impl Transform for Cast {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        let spec = c.list(SPEC);
        self.whole = None;
        self.fields.clear();
        for item in &spec {
            match item.split_once(':') {
                Some((f, t)) => self
                    .fields
                    .push((f.trim().to_string(), parse_type(SPEC, t)?)),
                None => {
                    if spec.len() > 1 {
                        return Err(config_err(SPEC, format!("Invalid value {}: Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec", spec.join(","))));
                    }
                    self.whole = Some(parse_type(SPEC, item)?);
                }
            }
        }
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let (schema, value) = self.target.take(&mut record);
        let out = match (self.whole, schema, value) {
            (Some(to), None, v) => (None, cast_value(&v, None, to, "whole value")?),
            (Some(to), Some(schema), v) => {
                let (out, _) = self.cache.get_or_build(&schema, || {
                    Ok((
                        Cast::out_schema(&schema, to, "whole value")?,
                        Arc::new(Vec::new()),
                    ))
                })?;
                let v = cast_value(&v, Some(&schema), to, "whole value")?;
                (Some(out), v)
            }
            (None, schema, Value::Null) => (schema, Value::Null),
            (None, None, Value::Map(mut entries)) => {
                for (k, v) in entries.iter_mut() {
                    if let Some(to) = k.as_str().and_then(|n| self.field_cast(n)) {
                        *v = cast_value(
                            v,
                            None,
                            to,
                            &format!("field {}", k.as_str().unwrap_or("")),
                        )?;
                    }
                }
                (None, Value::Map(entries))
            }
            (None, None, other) => return Err(require_map_msg(&other, PURPOSE)),
            (None, Some(schema), Value::Struct(s)) => {
                let (out, casts) = self.cache.get_or_build(&schema, || {
                    let mut b =
                        copy_basics(&schema, SchemaType::Struct).set_optional(schema.optional);
                    let mut casts = Vec::new();
                    for f in &schema.fields {
                        match self.field_cast(&f.name) {
                            Some(to) => {
                                b = b.field(
                                    f.name.clone(),
                                    Cast::out_schema(&f.schema, to, &format!("field {}", f.name))?,
                                );
                                casts.push(Some(to));
                            }
                            None => {
                                b = b.field(f.name.clone(), f.schema.clone());
                                casts.push(None);
                            }
                        }
                    }
                    Ok((b.build(), Arc::new(casts)))
                })?;
                let mut values = s.values;
                for (f, to) in schema.fields.iter().zip(casts.iter()) {
                    if let (Some(to), Some(v)) = (to, values.get_mut(f.index)) {
                        *v = cast_value(v, Some(&f.schema), *to, &format!("field {}", f.name))?;
                    }
                }
                (
                    Some(out.clone()),
                    Value::Struct(Struct::from_values(out, values)),
                )
            }
            (None, Some(_), other) => return Err(require_struct_msg(&other, PURPOSE)),
        };
        self.target.set(&mut record, out.0, out.1);
        Ok(Some(record))
    }
}
