//! `org.apache.kafka.connect.storage.StringConverter`.
//!
//! Writes a value's Java `toString` in `converter.encoding` (strings as
//! they are, numbers as Java prints them, a struct as `Struct{a=1,b=x}`
//! skipping null fields, lists as `[1, 2]`, maps as `{k=v}`), and reads any
//! bytes back as an optional string, as Kafka Connect does. Where Java's
//! `toString` is useless (`byte[]` prints `[B@1f2a`), raw bytes are written
//! at the top level and base64 inside containers; logical dates print as
//! ISO-8601 rather than `java.util.Date`'s locale form.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigError, ConfigType, Importance, Validator};
use sluice_api::data::{schemas, Headers, Logical, Schema, SchemaAndValue, Value};
use sluice_api::plugin::{Converter, HeaderConverter, Props, RecordError};

use crate::json::define_type;
use crate::json_write::write_base64;
use sluice_api::java_text::{
    format_date, format_time, format_timestamp, write_big_decimal, write_f32, write_f64, write_i64,
};

pub const CLASS: &str = "org.apache.kafka.connect.storage.StringConverter";

/// The character sets Sluice encodes (Java charset names and aliases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Latin1,
    Ascii,
}

impl Encoding {
    pub fn parse(name: &str) -> Option<Encoding> {
        match name.trim().to_ascii_uppercase().replace('_', "-").as_str() {
            "UTF-8" | "UTF8" => Some(Encoding::Utf8),
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "ISO-LATIN-1" => Some(Encoding::Latin1),
            "US-ASCII" | "ASCII" => Some(Encoding::Ascii),
            _ => None,
        }
    }

    /// Appends `text` encoded; unmappable characters become `?` as in Java.
    pub fn encode(self, text: &str, out: &mut Vec<u8>) {
        match self {
            Encoding::Utf8 => out.extend_from_slice(text.as_bytes()),
            Encoding::Latin1 => out.extend(text.chars().map(|c| u8::try_from(c).unwrap_or(b'?'))),
            Encoding::Ascii => {
                out.extend(
                    text.chars()
                        .map(|c| if c.is_ascii() { c as u8 } else { b'?' }),
                )
            }
        }
    }

    /// Decodes bytes; malformed input becomes U+FFFD as in Java.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Encoding::Latin1 => bytes.iter().map(|&b| b as char).collect(),
            Encoding::Ascii => bytes
                .iter()
                .map(|&b| if b.is_ascii() { b as char } else { '\u{FFFD}' })
                .collect(),
        }
    }
}

fn check_encoding(v: &str) -> Result<(), String> {
    Encoding::parse(v).map(|_| ()).ok_or_else(|| {
        format!("Invalid value {v}: unsupported encoding; use UTF-8, ISO-8859-1 or US-ASCII")
    })
}

/// Kafka Connect's string converter.
#[derive(Debug, Clone)]
pub struct StringConverter {
    encoding: Encoding,
}

impl Default for StringConverter {
    fn default() -> Self {
        StringConverter {
            encoding: Encoding::Utf8,
        }
    }
}

impl StringConverter {
    pub fn new() -> Self {
        Self::default()
    }

    fn apply(&mut self, props: &Props) -> Result<(), ConfigError> {
        let cfg = Converter::config_def(self).parse(props)?;
        let name = cfg.string("converter.encoding")?;
        self.encoding = Encoding::parse(&name).ok_or_else(|| {
            ConfigError::one(format!(
                "converter.encoding: {}",
                check_encoding(&name).unwrap_err()
            ))
        })?;
        Ok(())
    }
}

/// Java's `toString` of a value (top level: strings and bytes raw).
pub fn to_java_string(schema: Option<&Schema>, value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) if !is_decimal(schema) => {
            let mut buf = Vec::new();
            write_base64(&mut buf, b);
            out.push_str(std::str::from_utf8(&buf[1..buf.len() - 1]).unwrap_or(""));
        }
        _ => append_java(schema, value, out),
    }
}

fn is_decimal(schema: Option<&Schema>) -> bool {
    schema.and_then(Schema::logical) == Some(Logical::Decimal)
}

/// Appends the `toString` of a value with its schema's logical type.
pub(crate) fn append_java(schema: Option<&Schema>, value: &Value, out: &mut String) {
    let mut buf = Vec::new();
    let logical = schema.and_then(Schema::logical);
    match (logical, value) {
        (_, Value::Null) => out.push_str("null"),
        (Some(Logical::Decimal), Value::Bytes(b)) => {
            let scale = schema
                .and_then(|s| crate::json_write::decimal_scale(s).ok())
                .unwrap_or(0);
            write_big_decimal(&mut buf, b, scale);
        }
        (Some(Logical::Date), Value::Int32(d)) => format_date(out, *d as i64),
        (Some(Logical::Time), Value::Int32(t)) => format_time(out, *t as i64),
        (Some(Logical::Timestamp), Value::Int64(t)) => format_timestamp(out, *t),
        (_, Value::Boolean(b)) => out.push_str(if *b { "true" } else { "false" }),
        (_, Value::Int8(v)) => write_i64(&mut buf, *v as i64),
        (_, Value::Int16(v)) => write_i64(&mut buf, *v as i64),
        (_, Value::Int32(v)) => write_i64(&mut buf, *v as i64),
        (_, Value::Int64(v)) => write_i64(&mut buf, *v),
        (_, Value::Float32(v)) => write_f32(&mut buf, *v),
        (_, Value::Float64(v)) => write_f64(&mut buf, *v),
        (_, Value::String(s)) => out.push_str(s),
        (_, Value::Bytes(b)) => {
            write_base64(&mut buf, b);
            buf.retain(|&c| c != b'"');
        }
        (_, Value::Array(items)) => {
            let elem = schema.and_then(|s| s.value_schema.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                append_java(elem, item, out);
            }
            out.push(']');
        }
        (_, Value::Map(entries)) => {
            let ks = schema.and_then(|s| s.key_schema.as_deref());
            let vs = schema.and_then(|s| s.value_schema.as_deref());
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                append_java(ks, k, out);
                out.push('=');
                append_java(vs, v, out);
            }
            out.push('}');
        }
        (_, Value::Struct(s)) => {
            out.push_str("Struct{");
            let mut first = true;
            for f in &s.schema.fields {
                let v = s.get_index(f.index);
                if v.is_null() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&f.name);
                out.push('=');
                append_java(Some(&f.schema), v, out);
            }
            out.push('}');
        }
    }
    out.push_str(std::str::from_utf8(&buf).unwrap_or(""));
}

impl Converter for StringConverter {
    fn config_def(&self) -> ConfigDef {
        define_type(ConfigDef::new().define(
            "converter.encoding",
            ConfigType::String,
            Some("UTF-8"),
            Importance::High,
            "The name of the Java character set to use for encoding strings as byte arrays.",
        )
        .validate(Validator::Custom(check_encoding)))
    }

    fn configure(&mut self, props: &Props, _is_key: bool) -> Result<(), ConfigError> {
        self.apply(props)
    }

    fn from_connect(
        &self,
        _topic: &str,
        _headers: &mut Headers,
        schema: Option<&Arc<Schema>>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, RecordError> {
        match value {
            Value::Null => return Ok(false),
            Value::String(s) => self.encoding.encode(s, out),
            Value::Bytes(b) if !is_decimal(schema.map(|s| &**s)) => out.extend_from_slice(b),
            _ => {
                let mut text = String::new();
                to_java_string(schema.map(|s| &**s), value, &mut text);
                self.encoding.encode(&text, out);
            }
        }
        Ok(true)
    }

    fn to_connect(
        &self,
        _topic: &str,
        _headers: &Headers,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, RecordError> {
        Ok(SchemaAndValue::new(
            Some(schemas::optional_string()),
            data.map(|d| Value::String(self.encoding.decode(d).into()))
                .unwrap_or(Value::Null),
        ))
    }
}

impl HeaderConverter for StringConverter {
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        self.apply(props)
    }

    fn from_connect_header(
        &self,
        topic: &str,
        _key: &str,
        schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, RecordError> {
        let mut out = Vec::new();
        let present = self.from_connect(topic, &mut Headers::new(), schema, value, &mut out)?;
        Ok(present.then_some(out))
    }

    fn to_connect_header(
        &self,
        topic: &str,
        _key: &str,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, RecordError> {
        self.to_connect(topic, &Headers::new(), data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::{SchemaBuilder, Struct};

    fn text(c: &StringConverter, schema: Option<Arc<Schema>>, v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(c
            .from_connect("t", &mut Headers::new(), schema.as_ref(), &v, &mut out)
            .unwrap());
        out
    }

    #[test]
    fn values_print_as_java_to_string() {
        let c = StringConverter::new();
        assert_eq!(text(&c, None, "héllo".into()), "héllo".as_bytes());
        assert_eq!(text(&c, None, Value::Int64(-42)), b"-42");
        assert_eq!(text(&c, None, Value::Float64(1e10)), b"1.0E10");
        assert_eq!(text(&c, None, Value::Float32(0.5)), b"0.5");
        assert_eq!(text(&c, None, Value::Boolean(true)), b"true");
        assert_eq!(
            text(
                &c,
                Some(schemas::decimal(2, false)),
                Value::Bytes(vec![0x04, 0xce])
            ),
            b"12.30"
        );
        assert_eq!(
            text(&c, Some(schemas::date(false)), Value::Int32(19_000)),
            b"2022-01-08"
        );
        let schema = SchemaBuilder::structure()
            .field("a", schemas::int32())
            .field("b", schemas::optional_string())
            .field("c", schemas::optional_string())
            .field("l", SchemaBuilder::array(schemas::int32()).build())
            .build();
        let s = Struct::from_values(
            schema.clone(),
            vec![
                Value::Int32(1),
                "x".into(),
                Value::Null,
                Value::Array(vec![Value::Int32(1), Value::Int32(2)]),
            ],
        );
        assert_eq!(
            text(&c, Some(schema), Value::Struct(s)),
            b"Struct{a=1,b=x,l=[1, 2]}"
        );
        let m = Value::Map(vec![
            ("k".into(), Value::Int32(1)),
            ("j".into(), "v".into()),
        ]);
        assert_eq!(text(&c, None, m), b"{k=1, j=v}");
        assert_eq!(text(&c, None, Value::Bytes(vec![1, 2])), [1, 2]);
        let mut out = Vec::new();
        assert!(!c
            .from_connect("t", &mut Headers::new(), None, &Value::Null, &mut out)
            .unwrap());
    }

    #[test]
    fn reads_back_an_optional_string_in_the_configured_encoding() {
        let mut c = StringConverter::new();
        let back = c
            .to_connect("t", &Headers::new(), Some("ü".as_bytes()))
            .unwrap();
        assert_eq!(
            back,
            SchemaAndValue::new(Some(schemas::optional_string()), "ü".into())
        );
        let none = c.to_connect("t", &Headers::new(), None).unwrap();
        assert_eq!(none.schema, Some(schemas::optional_string()));
        assert_eq!(none.value, Value::Null);

        let props: Props = [("converter.encoding".to_string(), "ISO-8859-1".to_string())].into();
        Converter::configure(&mut c, &props, false).unwrap();
        assert_eq!(text(&c, None, "ü€".into()), [0xfc, b'?']);
        let back = c.to_connect("t", &Headers::new(), Some(&[0xfc])).unwrap();
        assert_eq!(back.value, Value::String("ü".into()));

        let bad: Props = [("converter.encoding".to_string(), "EBCDIC".to_string())].into();
        let err = Converter::configure(&mut c, &bad, false).unwrap_err();
        assert!(err.to_string().contains("unsupported encoding"), "{err}");
    }

    #[test]
    fn acts_as_header_converter() {
        let mut c = StringConverter::new();
        HeaderConverter::configure(&mut c, &Props::new()).unwrap();
        let b = c
            .from_connect_header("t", "h", Some(&schemas::int32()), &Value::Int32(5))
            .unwrap();
        assert_eq!(b.as_deref(), Some(&b"5"[..]));
        let back = c.to_connect_header("t", "h", b.as_deref()).unwrap();
        assert_eq!(back.value, Value::String("5".into()));
    }
}
