//! `org.apache.kafka.connect.storage.SimpleHeaderConverter`.
//!
//! Writes a header as Kafka Connect's `Values.convertToString` does, in
//! UTF-8: a top-level string as is, bytes as base64, numbers as Java prints
//! them, logical dates as ISO-8601 UTC, and containers in its JSON-like form
//! (`[1,2]`, `{"k":"v"}`, a struct as an object of its fields, strings inside
//! quoted with `"` and `\` escaped). Reading back follows `Values.parseString`
//! for the common cases: empty text is an empty string; `true`/`false`
//! booleans; integers the smallest of INT8..INT64 that holds them; other
//! numbers FLOAT32 when in range, else FLOAT64; ISO dates, times and
//! timestamps as their logical types; `[..]`/`{..}` as schemaless lists and
//! maps when they parse as JSON; anything else a string.

use std::sync::Arc;

use sluice_api::config::ConfigError;
use sluice_api::data::{schemas, Logical, Schema, SchemaAndValue, Value};
use sluice_api::plugin::{HeaderConverter, Props, RecordError};

use crate::json_read::{parse, schemaless};
use crate::json_write::{decimal_scale, write_base64};
use sluice_api::java_text::{
    days_from_civil, format_date, format_time, format_timestamp, write_big_decimal, write_f32,
    write_f64, write_i64,
};

pub const CLASS: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// Kafka Connect's default header converter.
#[derive(Debug, Clone, Default)]
pub struct SimpleHeaderConverter;

impl SimpleHeaderConverter {
    pub fn new() -> Self {
        SimpleHeaderConverter
    }
}

/// `Values.convertToString`: the header text of a value.
pub fn convert_to_string(schema: Option<&Schema>, value: &Value) -> String {
    let mut out = String::new();
    append(schema, value, false, &mut out);
    out
}

fn push_bytes(out: &mut String, bytes: &[u8]) {
    out.push_str(std::str::from_utf8(bytes).unwrap_or(""));
}

fn append(schema: Option<&Schema>, value: &Value, embedded: bool, out: &mut String) {
    let mut buf = Vec::new();
    let logical = schema.and_then(Schema::logical);
    let quote = |out: &mut String, f: &dyn Fn(&mut String)| {
        if embedded {
            out.push('"');
        }
        f(out);
        if embedded {
            out.push('"');
        }
    };
    match (logical, value) {
        (_, Value::Null) => out.push_str("null"),
        (Some(Logical::Decimal), Value::Bytes(b)) => {
            let scale = schema.and_then(|s| decimal_scale(s).ok()).unwrap_or(0);
            write_big_decimal(&mut buf, b, scale);
        }
        (Some(Logical::Date), Value::Int32(d)) => quote(out, &|o| format_date(o, *d as i64)),
        (Some(Logical::Time), Value::Int32(t)) => quote(out, &|o| format_time(o, *t as i64)),
        (Some(Logical::Timestamp), Value::Int64(t)) => quote(out, &|o| format_timestamp(o, *t)),
        (_, Value::Boolean(b)) => out.push_str(if *b { "true" } else { "false" }),
        (_, Value::Int8(v)) => write_i64(&mut buf, *v as i64),
        (_, Value::Int16(v)) => write_i64(&mut buf, *v as i64),
        (_, Value::Int32(v)) => write_i64(&mut buf, *v as i64),
        (_, Value::Int64(v)) => write_i64(&mut buf, *v),
        (_, Value::Float32(v)) => write_f32(&mut buf, *v),
        (_, Value::Float64(v)) => write_f64(&mut buf, *v),
        (_, Value::String(s)) => {
            if embedded {
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            } else {
                out.push_str(s);
            }
        }
        (_, Value::Bytes(b)) => {
            write_base64(&mut buf, b);
            if !embedded {
                buf.retain(|&c| c != b'"');
            }
        }
        (_, Value::Array(items)) => {
            let elem = schema.and_then(|s| s.value_schema.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(elem, item, true, out);
            }
            out.push(']');
        }
        (_, Value::Map(entries)) => {
            let ks = schema.and_then(|s| s.key_schema.as_deref());
            let vs = schema.and_then(|s| s.value_schema.as_deref());
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(ks, k, true, out);
                out.push(':');
                append(vs, v, true, out);
            }
            out.push('}');
        }
        (_, Value::Struct(s)) => {
            out.push('{');
            for (i, f) in s.schema.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(None, &Value::String(f.name.as_str().into()), true, out);
                out.push(':');
                let mut v = s.get_index(f.index);
                if v.is_null() {
                    // Struct.get applies the field's default.
                    v = f.schema.default.as_ref().unwrap_or(v);
                }
                append(Some(&f.schema), v, true, out);
            }
            out.push('}');
        }
    }
    push_bytes(out, &buf);
}

/// `Values.parseString` for the shapes listed in the module doc.
pub fn parse_string(text: &str) -> SchemaAndValue {
    let string = || SchemaAndValue::new(Some(schemas::string()), Value::String(text.into()));
    let t = text.trim();
    if text.is_empty() {
        return string();
    }
    match t {
        "true" => return SchemaAndValue::new(Some(schemas::boolean()), Value::Boolean(true)),
        "false" => return SchemaAndValue::new(Some(schemas::boolean()), Value::Boolean(false)),
        "null" => return SchemaAndValue::null(),
        _ => {}
    }
    if let Some(sv) = parse_number(t) {
        return sv;
    }
    if let Some(sv) = parse_temporal(t) {
        return sv;
    }
    if t.starts_with('[') || t.starts_with('{') {
        if let Ok(v) = parse(t.as_bytes()).and_then(|n| schemaless(&n)) {
            return SchemaAndValue::new(None, v);
        }
    }
    string()
}

fn is_number_text(t: &str) -> bool {
    let b = t.as_bytes();
    let body = b
        .strip_prefix(b"-")
        .or_else(|| b.strip_prefix(b"+"))
        .unwrap_or(b);
    body.first()
        .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
        && body
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
}

fn parse_number(t: &str) -> Option<SchemaAndValue> {
    if !is_number_text(t) {
        return None;
    }
    // decimal::parse overflows on exponents near i32::MIN; such numbers
    // are floats or nothing anyway.
    let huge_exponent = t.find(['e', 'E']).is_some_and(|i| {
        t[i + 1..]
            .parse::<i64>()
            .map_or(true, |e| e.abs() > 100_000)
    });
    if huge_exponent {
        return match t.parse::<f64>() {
            Ok(d) if d.is_finite() => Some(SchemaAndValue::new(
                Some(schemas::float64()),
                Value::Float64(d),
            )),
            _ => None,
        };
    }
    let (bytes, scale) = sluice_api::data::decimal::parse(t)?;
    // An integral value (`42`, `1.0`, `1e5`) that fits INT64 is an integer.
    // (Bounded scales only: `1e99999` must not print a billion zeros.)
    let integral = (-20..=400).contains(&scale).then(|| {
        let plain = sluice_api::data::decimal::to_plain_string(&bytes, scale);
        let (int, frac) = plain.split_once('.').unwrap_or((&plain, ""));
        frac.bytes()
            .all(|b| b == b'0')
            .then(|| int.parse::<i64>().ok())
            .flatten()
    });
    if let Some(Some(v)) = integral {
        return Some(if let Ok(v) = i8::try_from(v) {
            SchemaAndValue::new(Some(schemas::int8()), Value::Int8(v))
        } else if let Ok(v) = i16::try_from(v) {
            SchemaAndValue::new(Some(schemas::int16()), Value::Int16(v))
        } else if let Ok(v) = i32::try_from(v) {
            SchemaAndValue::new(Some(schemas::int32()), Value::Int32(v))
        } else {
            SchemaAndValue::new(Some(schemas::int64()), Value::Int64(v))
        });
    }
    if scale == 0 {
        // An integer too wide for INT64: a Decimal, as Kafka Connect does.
        return Some(SchemaAndValue::new(
            Some(schemas::decimal(0, false)),
            Value::Bytes(bytes),
        ));
    }
    let f: f32 = t.parse().ok()?;
    if f.is_finite() {
        return Some(SchemaAndValue::new(
            Some(schemas::float32()),
            Value::Float32(f),
        ));
    }
    let d: f64 = t.parse().ok()?;
    Some(if d.is_finite() {
        SchemaAndValue::new(Some(schemas::float64()), Value::Float64(d))
    } else {
        SchemaAndValue::new(Some(schemas::decimal(scale, false)), Value::Bytes(bytes))
    })
}

fn num(t: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let s = t.get(range)?;
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

/// `yyyy-MM-dd`, `HH:mm:ss.SSSZ`, `yyyy-MM-ddTHH:mm:ss.SSSZ`.
fn parse_temporal(t: &str) -> Option<SchemaAndValue> {
    let date = |t: &str| -> Option<i64> {
        let b = t.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let (y, m, d) = (num(t, 0..4)?, num(t, 5..7)?, num(t, 8..10)?);
        ((1..=12).contains(&m) && (1..=31).contains(&d))
            .then(|| days_from_civil(y, m as u32, d as u32))
    };
    let time = |t: &str| -> Option<i64> {
        let b = t.as_bytes();
        if b.len() != 13 || b[2] != b':' || b[5] != b':' || b[8] != b'.' || b[12] != b'Z' {
            return None;
        }
        let (h, m, s, ms) = (num(t, 0..2)?, num(t, 3..5)?, num(t, 6..8)?, num(t, 9..12)?);
        (h < 24 && m < 60 && s < 60).then_some(((h * 60 + m) * 60 + s) * 1000 + ms)
    };
    if let Some(d) = date(t) {
        return Some(SchemaAndValue::new(
            Some(schemas::date(false)),
            Value::Int32(d as i32),
        ));
    }
    if let Some(ms) = time(t) {
        return Some(SchemaAndValue::new(
            Some(schemas::time(false)),
            Value::Int32(ms as i32),
        ));
    }
    if t.len() == 24 && t.as_bytes()[10] == b'T' {
        let (d, ms) = (date(&t[..10])?, time(&t[11..])?);
        return Some(SchemaAndValue::new(
            Some(schemas::timestamp(false)),
            Value::Int64(d * 86_400_000 + ms),
        ));
    }
    None
}

impl HeaderConverter for SimpleHeaderConverter {
    fn configure(&mut self, _props: &Props) -> Result<(), ConfigError> {
        Ok(())
    }

    fn from_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, RecordError> {
        if value.is_null() {
            return Ok(None);
        }
        Ok(Some(
            convert_to_string(schema.map(|s| &**s), value).into_bytes(),
        ))
    }

    fn to_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, RecordError> {
        Ok(match data {
            None => SchemaAndValue::null(),
            Some(d) => match std::str::from_utf8(d) {
                Ok(text) => parse_string(text),
                // Not text: keep it as a string of what could be decoded.
                Err(_) => SchemaAndValue::new(
                    Some(schemas::string()),
                    Value::String(String::from_utf8_lossy(d).into()),
                ),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::{names, SchemaBuilder, SchemaType, Struct};

    fn round(schema: Option<Arc<Schema>>, v: Value) -> (String, SchemaAndValue) {
        let c = SimpleHeaderConverter::new();
        let bytes = c
            .from_connect_header("t", "h", schema.as_ref(), &v)
            .unwrap()
            .unwrap();
        let back = c.to_connect_header("t", "h", Some(&bytes)).unwrap();
        (String::from_utf8(bytes).unwrap(), back)
    }

    #[test]
    fn primitives_round_trip_with_inferred_schemas() {
        let (s, b) = round(Some(schemas::string()), "héllo \"x\"".into());
        assert_eq!(s, "héllo \"x\"");
        assert_eq!(b.value, Value::String("héllo \"x\"".into()));
        let (s, b) = round(Some(schemas::int32()), Value::Int32(42));
        assert_eq!((s.as_str(), b.value), ("42", Value::Int8(42)));
        let (_, b) = round(Some(schemas::int32()), Value::Int32(40_000));
        assert_eq!(b.value, Value::Int32(40_000));
        assert_eq!(b.schema, Some(schemas::int32()));
        let (_, b) = round(Some(schemas::int64()), Value::Int64(1 << 40));
        assert_eq!(b.value, Value::Int64(1 << 40));
        let (s, b) = round(Some(schemas::float64()), Value::Float64(1.5));
        assert_eq!((s.as_str(), b.value), ("1.5", Value::Float32(1.5)));
        let (s, b) = round(Some(schemas::float64()), Value::Float64(2.0));
        assert_eq!((s.as_str(), b.value), ("2.0", Value::Int8(2)));
        assert_eq!(parse_string("1e5").value, Value::Int32(100_000));
        assert_eq!(parse_string("-7").value, Value::Int8(-7));
        let huge = parse_string("1e99999").schema.unwrap();
        assert_eq!(
            (huge.kind, huge.name()),
            (SchemaType::Bytes, Some(names::DECIMAL))
        );
        assert_eq!(parse_string("1e-2147483648").value, Value::Float64(0.0));
        assert_eq!(
            parse_string("1e999999999").value,
            Value::String("1e999999999".into())
        );
        assert_eq!(parse_string("1-2").value, Value::String("1-2".into()));
        let wide = parse_string("123456789012345678901234567890");
        assert_eq!(wide.schema, Some(schemas::decimal(0, false)));
        let (s, b) = round(Some(schemas::boolean()), Value::Boolean(true));
        assert_eq!((s.as_str(), b.value), ("true", Value::Boolean(true)));
        let (_, b) = round(Some(schemas::date(false)), Value::Int32(19_000));
        assert_eq!(
            b,
            SchemaAndValue::new(Some(schemas::date(false)), Value::Int32(19_000))
        );
        let (s, b) = round(
            Some(schemas::timestamp(false)),
            Value::Int64(1_700_000_000_123),
        );
        assert_eq!(s, "2023-11-14T22:13:20.123Z");
        assert_eq!(b.value, Value::Int64(1_700_000_000_123));
        let c = SimpleHeaderConverter::new();
        assert_eq!(
            c.to_connect_header("t", "h", Some(b"")).unwrap().value,
            Value::String("".into())
        );
        assert_eq!(
            c.to_connect_header("t", "h", None).unwrap(),
            SchemaAndValue::null()
        );
        assert_eq!(
            c.from_connect_header("t", "h", None, &Value::Null).unwrap(),
            None
        );
    }

    #[test]
    fn containers_are_written_as_kafka_connect_does() {
        let schema = SchemaBuilder::structure()
            .field("a", schemas::int32())
            .field("b", schemas::optional_string())
            .field("c", SchemaBuilder::array(schemas::string()).build())
            .build();
        let s = Struct::from_values(
            schema.clone(),
            vec![
                Value::Int32(1),
                "x\"y".into(),
                Value::Array(vec!["p".into(), "q".into()]),
            ],
        );
        let (text, back) = round(Some(schema), Value::Struct(s));
        assert_eq!(text, r#"{"a":1,"b":"x\"y","c":["p","q"]}"#);
        assert_eq!(back.value.map_get("a"), Some(&Value::Int64(1)));
        assert_eq!(back.value.map_get("b"), Some(&Value::String("x\"y".into())));
    }
}
