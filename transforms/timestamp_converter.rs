//! `TimestampConverter`: converts a timestamp field (or the whole key or
//! value) between a formatted string, a Unix epoch number (`unix`, in
//! `unix.precision` units), and Kafka Connect's Date, Time and Timestamp
//! logical types. Every conversion goes through milliseconds since the
//! epoch in UTC: Date keeps the day (time set to midnight), Time keeps the
//! time of day. The input type is read from the schema (or, schemaless,
//! from the value: integers are `unix`, strings are `format`ted).

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{schemas, Logical, RecordData, Schema, SchemaType, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::datetime::{DateFormat, MS_PER_DAY};
use crate::util::{
    config_err, copy_basics, err, parse_config, require_map_msg, require_struct_msg, SchemaCache,
    Target,
};

pub const DOC: &str = "Convert timestamps between different formats such as Unix epoch, strings, and Connect Date/Timestamp types. Applies to individual fields or to the entire value.";
const FIELD: &str = "field";
const TARGET_TYPE: &str = "target.type";
const FORMAT: &str = "format";
const UNIX_PRECISION: &str = "unix.precision";
const REPLACE_NULL: &str = "replace.null.with.default";
const PURPOSE: &str = "converting timestamp formats";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(FIELD, ConfigType::String, Some(""), Importance::High, "The field containing the timestamp, or empty if the entire value is a timestamp.")
        .define(TARGET_TYPE, ConfigType::String, None, Importance::High, "The desired timestamp representation: string, unix, Date, Time, or Timestamp.")
        .validate(Validator::OneOf(vec!["string", "unix", "Date", "Time", "Timestamp"]))
        .define(FORMAT, ConfigType::String, Some(""), Importance::Medium, "A SimpleDateFormat-compatible format for the timestamp (evaluated in UTC). Used to generate the output when type=string or used to parse the input if the input is a string.")
        .define(UNIX_PRECISION, ConfigType::String, Some("milliseconds"), Importance::Low, "The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds. Used to generate the output when type=unix or used to parse the input if the input is a Long.")
        .validate(Validator::OneOf(vec!["seconds", "milliseconds", "microseconds", "nanoseconds"]))
        .define(REPLACE_NULL, ConfigType::Boolean, Some("true"), Importance::Medium, "Whether to replace fields that have a default value and that are null to the default value. Sluice keeps values as they are.")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

pub struct TimestampConverter {
    target: Target,
    field: Option<String>,
    to: Kind,
    format: Option<DateFormat>,
    precision: Precision,
    cache: SchemaCache<(Arc<Schema>, Option<usize>)>,
}

impl TimestampConverter {
    pub fn new(target: Target) -> Self {
        TimestampConverter {
            target,
            field: None,
            to: Kind::Timestamp,
            format: None,
            precision: Precision::Millis,
            cache: SchemaCache::new(),
        }
    }

    fn kind_of_schema(s: &Schema) -> Result<Kind, RecordError> {
        Ok(match (s.logical(), s.kind) {
            (Some(Logical::Timestamp), _) => Kind::Timestamp,
            (Some(Logical::Date), _) => Kind::Date,
            (Some(Logical::Time), _) => Kind::Time,
            (_, SchemaType::String) => Kind::String,
            (None, SchemaType::Int64) => Kind::Unix,
            _ => {
                return Err(err(format!(
                    "Schema {} does not correspond to a known timestamp type format",
                    s.name().unwrap_or(&s.kind.to_string())
                )))
            }
        })
    }

    fn out_schema(&self, optional: bool) -> Arc<Schema> {
        match self.to {
            Kind::String => schemas::primitive(SchemaType::String, optional),
            Kind::Unix => schemas::primitive(SchemaType::Int64, optional),
            Kind::Date => schemas::date(optional),
            Kind::Time => schemas::time(optional),
            Kind::Timestamp => schemas::timestamp(optional),
        }
    }

    fn to_millis(&self, v: &Value, from: Kind) -> Result<i64, RecordError> {
        let wrong = || {
            err(format!(
                "Expected a {from:?} timestamp value, found a {} value",
                v.type_name()
            ))
        };
        Ok(match from {
            Kind::String => {
                let s = v.as_str().ok_or_else(wrong)?;
                let f = self.format.as_ref().ok_or_else(|| {
                    err("TimestampConverter requires format option to be specified when using string timestamps")
                })?;
                f.parse(s).map_err(err)?
            }
            Kind::Unix => {
                let n = v.as_i64().ok_or_else(wrong)?;
                match self.precision {
                    Precision::Seconds => n.saturating_mul(1000),
                    Precision::Millis => n,
                    Precision::Micros => n / 1000,
                    Precision::Nanos => n / 1_000_000,
                }
            }
            Kind::Date => (v.as_i64().ok_or_else(wrong)?) * MS_PER_DAY,
            Kind::Time | Kind::Timestamp => v.as_i64().ok_or_else(wrong)?,
        })
    }

    fn millis_to(&self, ms: i64) -> Result<Value, RecordError> {
        Ok(match self.to {
            Kind::String => Value::String(
                self.format
                    .as_ref()
                    .ok_or_else(|| err("TimestampConverter requires format option to be specified when using string timestamps"))?
                    .format(ms).into(),
            ),
            Kind::Unix => Value::Int64(match self.precision {
                Precision::Seconds => ms / 1000,
                Precision::Millis => ms,
                Precision::Micros => ms.saturating_mul(1000),
                Precision::Nanos => ms.saturating_mul(1_000_000),
            }),
            Kind::Date => Value::Int32(ms.div_euclid(MS_PER_DAY) as i32),
            Kind::Time => Value::Int32(ms.rem_euclid(MS_PER_DAY) as i32),
            Kind::Timestamp => Value::Int64(ms),
        })
    }

    fn convert(&self, v: &Value, schema: Option<&Schema>) -> Result<Value, RecordError> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let from = match schema {
            Some(s) => Self::kind_of_schema(s)?,
            None => match v {
                Value::String(_) => Kind::String,
                v if v.as_i64().is_some() => Kind::Unix,
                other => {
                    return Err(err(format!(
                        "TimestampConverter does not support {} objects as timestamps",
                        other.type_name()
                    )))
                }
            },
        };
        self.millis_to(self.to_millis(v, from)?)
    }
}

impl Transform for TimestampConverter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.field = c.opt_string(FIELD);
        self.to = match c.string(TARGET_TYPE)?.trim().to_ascii_lowercase().as_str() {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "date" => Kind::Date,
            "time" => Kind::Time,
            _ => Kind::Timestamp,
        };
        self.precision = match c
            .string(UNIX_PRECISION)?
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "seconds" => Precision::Seconds,
            "microseconds" => Precision::Micros,
            "nanoseconds" => Precision::Nanos,
            _ => Precision::Millis,
        };
        self.format = match c.get(FORMAT).filter(|s| !s.trim().is_empty()) {
            Some(f) => Some(DateFormat::new(f).map_err(|e| {
                config_err(
                    FORMAT,
                    format!(
                        "TimestampConverter requires a SimpleDateFormat-compatible pattern: {e}"
                    ),
                )
            })?),
            None => None,
        };
        if self.to == Kind::String && self.format.is_none() {
            return Err(config_err(FORMAT, "TimestampConverter requires format option to be specified when using string timestamps"));
        }
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let (schema, value) = self.target.take(&mut record);
        let out = match (&self.field, schema, value) {
            (None, None, v) => (None, self.convert(&v, None)?),
            (None, Some(s), v) => {
                let (out, _) = self.cache.get_or_build(&s, || {
                    Self::kind_of_schema(&s)?;
                    Ok((self.out_schema(s.optional), None))
                })?;
                (Some(out), self.convert(&v, Some(&s))?)
            }
            (Some(_), schema, Value::Null) => (schema, Value::Null),
            (Some(f), None, Value::Map(mut entries)) => {
                for (k, v) in entries.iter_mut() {
                    if k.as_str() == Some(f) {
                        *v = self.convert(v, None)?;
                    }
                }
                (None, Value::Map(entries))
            }
            (Some(_), None, other) => return Err(require_map_msg(&other, PURPOSE)),
            (Some(f), Some(s), Value::Struct(st)) => {
                let (out, idx) = self.cache.get_or_build(&s, || {
                    let mut b = copy_basics(&s, SchemaType::Struct).set_optional(s.optional);
                    let mut idx = None;
                    for fl in &s.fields {
                        if fl.name == *f {
                            Self::kind_of_schema(&fl.schema)?;
                            b = b.field(fl.name.clone(), self.out_schema(fl.schema.optional));
                            idx = Some(fl.index);
                        } else {
                            b = b.field(fl.name.clone(), fl.schema.clone());
                        }
                    }
                    Ok((b.build(), idx))
                })?;
                let mut values = st.values;
                if let Some(i) = idx {
                    let fs = s
                        .fields
                        .iter()
                        .find(|fl| fl.index == i)
                        .map(|fl| fl.schema.clone());
                    if let Some(v) = values.get_mut(i) {
                        *v = self.convert(v, fs.as_deref())?;
                    }
                }
                (
                    Some(out.clone()),
                    Value::Struct(Struct::from_values(out, values)),
                )
            }
            (Some(_), Some(_), other) => return Err(require_struct_msg(&other, PURPOSE)),
        };
        self.target.set(&mut record, out.0, out.1);
        Ok(Some(record))
    }
}
