//! `org.apache.kafka.connect.json.JsonConverter`, byte-compatible.
//!
//! With `schemas.enable=true` every message is the envelope
//! `{"schema":<schema JSON>,"payload":<value>}`, otherwise the bare payload;
//! Kafka Connect's own rules decide nulls (a null value without schema is a
//! Kafka null; with a schema it is a `null` payload or the default), and
//! `json_write`/`json_read` produce and accept exactly its bytes.
//!
//! Schemas are per table version, not per record, so both directions keep a
//! bounded cache (`schemas.cache.size`, as Kafka Connect does): the schema
//! JSON of an `Arc<Schema>` (the cache holds the `Arc`, so its address cannot
//! be reused while cached) and the `Arc<Schema>` of a schema JSON text (so
//! sink records of one table share one schema). A full cache is cleared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sluice_api::config::{ConfigDef, ConfigError, ConfigType, Importance, Validator};
use sluice_api::data::{Headers, Schema, SchemaAndValue, Value};
use sluice_api::plugin::{Converter, HeaderConverter, Props, RecordError};

use crate::json_read::{object_members, parse, schemaless, Decoder, Node};
use crate::json_write::Encoder;

pub const CLASS: &str = "org.apache.kafka.connect.json.JsonConverter";

/// Kafka Connect's `converter.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConverterType {
    Key,
    Value,
    Header,
}

impl ConverterType {
    pub(crate) fn parse(text: Option<&str>, fallback: ConverterType) -> ConverterType {
        match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
            Some("key") => ConverterType::Key,
            Some("value") => ConverterType::Value,
            Some("header") => ConverterType::Header,
            _ => fallback,
        }
    }
}

/// The `converter.type` key every Kafka Connect converter declares.
pub(crate) fn define_type(def: ConfigDef) -> ConfigDef {
    def.define(
        "converter.type",
        ConfigType::String,
        Some("value"),
        Importance::Low,
        "How this converter will be used: key, value or header (set by the worker).",
    )
    .validate(Validator::OneOf(vec!["key", "value", "header"]))
}

/// Keyed by the schema's address: hashed with one multiplication (this
/// lookup runs twice per record; SipHash showed in profiles).
type SchemaJsonCache =
    HashMap<usize, (Arc<Schema>, Box<[u8]>), std::hash::BuildHasherDefault<AddrHasher>>;

#[derive(Default)]
struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Kafka Connect's JSON converter.
pub struct JsonConverter {
    schemas_enable: bool,
    encoder: Encoder,
    cache_size: usize,
    converter_type: ConverterType,
    to_json: Mutex<SchemaJsonCache>,
    from_json: Mutex<HashMap<Box<[u8]>, Arc<Schema>>>,
}

impl Default for JsonConverter {
    fn default() -> Self {
        JsonConverter {
            schemas_enable: true,
            encoder: Encoder {
                decimal_numeric: false,
                replace_null_with_default: true,
            },
            cache_size: 1000,
            converter_type: ConverterType::Value,
            to_json: Mutex::new(SchemaJsonCache::default()),
            from_json: Mutex::new(HashMap::new()),
        }
    }
}

impl JsonConverter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn converter_type(&self) -> ConverterType {
        self.converter_type
    }

    fn apply(&mut self, props: &Props, fallback: ConverterType) -> Result<(), ConfigError> {
        let cfg = self.config_def().parse(props)?;
        self.schemas_enable = cfg.bool("schemas.enable")?;
        self.cache_size = usize::try_from(cfg.i32("schemas.cache.size")?).unwrap_or(0);
        self.encoder.decimal_numeric = cfg
            .string("decimal.format")?
            .trim()
            .eq_ignore_ascii_case("NUMERIC");
        self.encoder.replace_null_with_default = cfg.bool("replace.null.with.default")?;
        self.converter_type =
            ConverterType::parse(props.get("converter.type").map(String::as_str), fallback);
        lock(&self.to_json).clear();
        lock(&self.from_json).clear();
        Ok(())
    }

    fn decoder(&self) -> Decoder {
        Decoder {
            replace_null_with_default: self.encoder.replace_null_with_default,
        }
    }

    fn write_schema_cached(
        &self,
        out: &mut Vec<u8>,
        schema: &Arc<Schema>,
    ) -> Result<(), RecordError> {
        if self.cache_size == 0 {
            return self.encoder.write_schema(out, schema).map_err(encode_error);
        }
        let key = Arc::as_ptr(schema) as usize;
        {
            let cache = lock(&self.to_json);
            if let Some((_, json)) = cache.get(&key) {
                out.extend_from_slice(json);
                return Ok(());
            }
        }
        let start = out.len();
        self.encoder
            .write_schema(out, schema)
            .map_err(encode_error)?;
        let mut cache = lock(&self.to_json);
        if cache.len() >= self.cache_size {
            cache.clear();
        }
        cache.insert(key, (schema.clone(), out[start..].into()));
        Ok(())
    }

    /// The schema of a schema JSON text (already checked to be JSON).
    fn schema_cached(&self, raw: &str) -> Result<Option<Arc<Schema>>, RecordError> {
        if raw == "null" {
            return Ok(None);
        }
        if self.cache_size > 0 {
            if let Some(s) = lock(&self.from_json).get(raw.as_bytes()) {
                return Ok(Some(s.clone()));
            }
        }
        let node = parse(raw.as_bytes()).map_err(parse_error)?;
        let schema = self.decoder().schema(&node).map_err(|e| {
            RecordError::new(format!(
                "JsonConverter could not read the message's schema: {e}"
            ))
        })?;
        if let (Some(s), true) = (&schema, self.cache_size > 0) {
            let mut cache = lock(&self.from_json);
            if cache.len() >= self.cache_size {
                cache.clear();
            }
            cache.insert(raw.as_bytes().into(), s.clone());
        }
        Ok(schema)
    }

    fn read_payload(
        &self,
        schema: Option<Arc<Schema>>,
        payload: &Node,
    ) -> Result<SchemaAndValue, RecordError> {
        let value = match &schema {
            Some(s) => self.decoder().value(s, payload),
            None => schemaless(payload),
        }
        .map_err(|e| {
            RecordError::new(format!("JsonConverter could not convert the payload: {e}"))
        })?;
        Ok(SchemaAndValue::new(schema, value))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn encode_error(e: crate::json_write::EncodeError) -> RecordError {
    RecordError::new(format!(
        "JsonConverter could not convert the value to JSON: {}",
        e.message()
    ))
}

fn parse_error(e: String) -> RecordError {
    RecordError::new(format!(
        "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
    ))
}

impl Converter for JsonConverter {
    fn config_def(&self) -> ConfigDef {
        let def = ConfigDef::new()
            .define(
                "schemas.enable",
                ConfigType::Boolean,
                Some("true"),
                Importance::High,
                "Include schemas within each of the serialized values and keys.",
            )
            .define(
                "schemas.cache.size",
                ConfigType::Int,
                Some("1000"),
                Importance::High,
                "The maximum number of schemas that can be cached in this converter instance.",
            )
            .validate(Validator::Range {
                min: Some(0.0),
                max: None,
            })
            .define(
                "decimal.format",
                ConfigType::String,
                Some("BASE64"),
                Importance::Low,
                "How to serialize decimals: BASE64 (the unscaled bytes) or NUMERIC (a JSON number).",
            )
            .validate(Validator::OneOf(vec!["BASE64", "NUMERIC"]))
            .define(
                "replace.null.with.default",
                ConfigType::Boolean,
                Some("true"),
                Importance::Low,
                "Whether a null field with a default value is written and read as that default.",
            );
        define_type(def)
    }

    fn configure(&mut self, props: &Props, is_key: bool) -> Result<(), ConfigError> {
        let mut props = props.clone();
        let t = if is_key { "key" } else { "value" };
        props.insert("converter.type".into(), t.into());
        self.apply(&props, ConverterType::Value)
    }

    fn from_connect(
        &self,
        _topic: &str,
        _headers: &mut Headers,
        schema: Option<&Arc<Schema>>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, RecordError> {
        if schema.is_none() && value.is_null() {
            return Ok(false);
        }
        if self.schemas_enable {
            out.extend_from_slice(b"{\"schema\":");
            match schema {
                Some(s) => self.write_schema_cached(out, s)?,
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"payload\":");
        }
        self.encoder
            .write(out, schema.map(|s| &**s), value)
            .map_err(encode_error)?;
        if self.schemas_enable {
            out.push(b'}');
        }
        Ok(true)
    }

    fn to_connect(
        &self,
        _topic: &str,
        _headers: &Headers,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, RecordError> {
        let data = match data {
            Some(d) if !d.iter().all(u8::is_ascii_whitespace) => d,
            _ => return Ok(SchemaAndValue::null()),
        };
        if !self.schemas_enable {
            let node = parse(data).map_err(parse_error)?;
            return self.read_payload(None, &node);
        }
        let members = object_members(data).map_err(parse_error)?;
        let envelope = members.as_deref().and_then(|m| match m {
            [(k1, schema), (k2, payload)] if k1 == "schema" && k2 == "payload" => {
                Some((*schema, *payload))
            }
            [(k1, payload), (k2, schema)] if k1 == "payload" && k2 == "schema" => {
                Some((*schema, *payload))
            }
            _ => None,
        });
        match envelope {
            Some((schema, payload)) => {
                let schema = self.schema_cached(schema)?;
                let payload = parse(payload.as_bytes()).map_err(parse_error)?;
                self.read_payload(schema, &payload)
            }
            None if data.trim_ascii() == b"null" => Ok(SchemaAndValue::null()),
            None => Err(RecordError::new(
                "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain \
                 additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in \
                 your converter configuration.",
            )),
        }
    }
}

impl HeaderConverter for JsonConverter {
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let mut props = props.clone();
        props.insert("converter.type".into(), "header".into());
        self.apply(&props, ConverterType::Header)
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
#[path = "json_tests.rs"]
mod tests;
