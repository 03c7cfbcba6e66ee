//! `io.sluice.converters.ProtobufConverter`: Connect records as protobuf
//! messages that carry their own descriptor, so any protobuf library (or
//! `protoc --decode`) reads them without a schema registry.
//!
//! # What a Kafka value is
//!
//! Each value is one `Record` message of a proto3 file derived from the
//! record's Connect schema:
//!
//! ```text
//! message Record {
//!   repeated bytes file_descriptor = 1; // google.protobuf.FileDescriptorProto
//!   <the value's type> value = 2;       // the Connect value
//!   string connect_schema = 3;          // the Connect schema, Kafka Connect's JSON form
//! }
//! ```
//!
//! Field 1 has the wire layout of `google.protobuf.FileDescriptorSet`, so
//! the Kafka value itself *is* a descriptor set: `protoc
//! --descriptor_set_in=value.bin --decode=sluice.Record < value.bin` decodes
//! it, and so do Python's `FileDescriptorSet.FromString(value)` plus a
//! `DescriptorPool`. With `descriptor.location=header` field 1 moves to a
//! record header instead (the same bytes: a serialized descriptor set), and
//! the value keeps fields 2 and 3; the reader needs only those two, so it
//! reads both layouts.
//!
//! # Why the round trip is exact
//!
//! protobuf cannot express all of a Connect schema (int8 vs int32, names,
//! versions, parameters, docs, defaults, optional array elements), so field
//! 3 carries the Connect schema itself, in the JSON form `JsonConverter`
//! already writes and reads losslessly. The reader rebuilds the schema from
//! it and decodes field 2 with the same [`shape`](shape::shape) rules the
//! encoder and the descriptor follow. Those rules keep every value apart:
//! optional scalars use proto3 `optional` (explicit presence, so null is
//! not zero), optional arrays and maps sit in a one-field box message (a
//! repeated field cannot tell null from empty), nullable or nested array
//! elements sit in wrapper messages, float zero is omitted only when its
//! bits are `+0.0`, int8/int16 are range-checked on the way back, and
//! Decimal is its plain text (`-12.340`, or `12e3` for a negative scale)
//! parsed back at the schema's scale. The one normalisation: Decimal bytes
//! come back in minimal two's complement (as `BigDecimal` writes them).
//!
//! # Cost
//!
//! The descriptor and schema JSON are built once per distinct `Arc<Schema>`
//! and cached (bounded by `schemas.cache.size`); a record copies that
//! prefix and encodes its value in place. Readers cache schemas by their
//! JSON bytes.

mod decode;
mod descriptor;
mod encode;
mod shape;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message as _;
use prost_types::FileDescriptorSet;
use sluice_api::config::{ConfigDef, ConfigError, ConfigType, Importance, Validator};
use sluice_api::data::{schemas, Headers, Schema, SchemaAndValue, Value};
use sluice_api::plugin::{Converter, Props, RecordError};

use crate::json::define_type;
use crate::json_read::{parse, Decoder};
use crate::json_write::Encoder;

pub const CLASS: &str = "io.sluice.converters.ProtobufConverter";

/// Per-schema bytes that start every record of that schema: the serialized
/// descriptor set (field 1 entries, `set_len` bytes), then field 3.
#[derive(Clone)]
struct Prefix {
    bytes: Arc<[u8]>,
    set_len: usize,
}

type PrefixCache = HashMap<usize, (Arc<Schema>, Prefix)>;

/// Where the descriptor set of each record goes (`descriptor.location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptorLocation {
    /// Field 1 of the value: the value alone decodes with protoc.
    Value,
    /// A record header; the value is `Record` without field 1.
    Header,
}

/// Connect values as self-describing protobuf messages.
pub struct ProtobufConverter {
    package: String,
    cache_size: usize,
    location: DescriptorLocation,
    header_name: String,
    to_proto: Mutex<PrefixCache>,
    from_proto: Mutex<SchemaCache>,
}

/// The default header name of the descriptor set, per converter role.
pub fn default_header_name(is_key: bool) -> &'static str {
    if is_key {
        "sluice.protobuf.descriptor.key"
    } else {
        "sluice.protobuf.descriptor.value"
    }
}

/// Schemas by their JSON text. Every record of a schema carries the same
/// few kilobytes, so the bucket key samples them ([`sample`]) and the
/// bucket compares them whole: one `memcmp`, not a hash of every byte.
type SchemaCache = HashMap<u64, Vec<(Box<[u8]>, Arc<Schema>)>>;

/// A cheap hash of schema JSON: its length, first and last 32 bytes.
fn sample(json: &[u8]) -> u64 {
    let head = &json[..json.len().min(32)];
    let tail = &json[json.len().saturating_sub(32)..];
    let mut bytes = json.len().to_le_bytes().to_vec();
    bytes.extend_from_slice(head);
    bytes.extend_from_slice(tail);
    fnv1a(&bytes)
}

impl Default for ProtobufConverter {
    fn default() -> Self {
        ProtobufConverter {
            package: "sluice".into(),
            cache_size: 1000,
            location: DescriptorLocation::Value,
            header_name: default_header_name(false).into(),
            to_proto: Mutex::new(HashMap::new()),
            from_proto: Mutex::new(HashMap::new()),
        }
    }
}

impl ProtobufConverter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The serialized `google.protobuf.FileDescriptorSet` describing the
    /// records of `schema` (what field 1 of each record holds), e.g. to
    /// hand to consumers or to `protoc --descriptor_set_in`.
    pub fn descriptor_set(&self, schema: &Schema) -> Result<Vec<u8>, RecordError> {
        let (set, _) = self.describe(schema)?;
        Ok(set.encode_to_vec())
    }

    /// The full name of the message a record is (`<package>.Record`).
    pub fn record_type(&self) -> String {
        format!("{}.Record", self.package)
    }

    fn describe(&self, schema: &Schema) -> Result<(FileDescriptorSet, Vec<u8>), RecordError> {
        shape::check(schema, "value").map_err(|e| {
            RecordError::new(format!("ProtobufConverter cannot describe the schema: {e}"))
        })?;
        too_wide(schema).map_err(|e| RecordError::new(format!("ProtobufConverter: {e}")))?;
        let mut json = Vec::new();
        let encoder = Encoder {
            decimal_numeric: false,
            replace_null_with_default: true,
        };
        encoder.write_schema(&mut json, schema).map_err(|e| {
            RecordError::new(format!(
                "ProtobufConverter could not write the Connect schema: {}",
                e.message()
            ))
        })?;
        let file = format!("sluice/{:016x}.proto", fnv1a(&json));
        let set = FileDescriptorSet {
            file: vec![descriptor::file_descriptor(schema, &self.package, file)],
        };
        Ok((set, json))
    }

    /// Field 1 (the descriptor set) and field 3 (the schema JSON).
    fn prefix(&self, schema: &Arc<Schema>) -> Result<Prefix, RecordError> {
        let key = Arc::as_ptr(schema) as usize;
        if self.cache_size > 0 {
            if let Some((_, p)) = lock(&self.to_proto).get(&key) {
                return Ok(p.clone());
            }
        }
        let (set, json) = self.describe(schema)?;
        let mut bytes = set.encode_to_vec();
        let set_len = bytes.len();
        encode_key(
            descriptor::RECORD_SCHEMA,
            WireType::LengthDelimited,
            &mut bytes,
        );
        encode_varint(json.len() as u64, &mut bytes);
        bytes.extend_from_slice(&json);
        let prefix = Prefix {
            bytes: bytes.into(),
            set_len,
        };
        if self.cache_size > 0 {
            let mut cache = lock(&self.to_proto);
            if cache.len() >= self.cache_size {
                cache.clear();
            }
            cache.insert(key, (schema.clone(), prefix.clone()));
        }
        Ok(prefix)
    }

    fn schema_of(&self, json: &[u8]) -> Result<Arc<Schema>, RecordError> {
        if self.cache_size > 0 {
            let cache = lock(&self.from_proto);
            let bucket = cache.get(&sample(json)).into_iter().flatten();
            if let Some((_, s)) = bucket.into_iter().find(|(j, _)| **j == *json) {
                return Ok(s.clone());
            }
        }
        let decoder = Decoder {
            replace_null_with_default: true,
        };
        let schema = parse(json)
            .and_then(|node| decoder.schema(&node))
            .map_err(|e| {
                RecordError::new(format!(
                    "ProtobufConverter could not read the record's Connect schema (field 3): {e}"
                ))
            })?
            .ok_or_else(|| RecordError::new("ProtobufConverter: the record's schema is null"))?;
        shape::check(&schema, "value")
            .map_err(|e| RecordError::new(format!("ProtobufConverter: bad Connect schema: {e}")))?;
        if self.cache_size > 0 {
            let mut cache = lock(&self.from_proto);
            if cache.values().map(Vec::len).sum::<usize>() >= self.cache_size {
                cache.clear();
            }
            let bucket = cache.entry(sample(json)).or_default();
            bucket.push((json.into(), schema.clone()));
        }
        Ok(schema)
    }
}

/// Refuses structs with more fields than protobuf has field numbers for.
fn too_wide(schema: &Schema) -> Result<(), String> {
    if schema.fields.len() > descriptor::MAX_FIELDS {
        return Err(format!(
            "struct {} has {} fields; a protobuf message holds at most {}",
            schema.name().unwrap_or("(unnamed)"),
            schema.fields.len(),
            descriptor::MAX_FIELDS
        ));
    }
    let children = schema.fields.iter().map(|f| &f.schema);
    children
        .chain(&schema.key_schema)
        .chain(&schema.value_schema)
        .try_for_each(|s| too_wide(s))
}

/// FNV-1a: a stable fingerprint for the descriptor's file name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn check_package(text: &str) -> Result<(), String> {
    let ok = !text.is_empty()
        && text.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a protobuf package name: use dot-separated identifiers such as sluice or com.example.cdc"
        ))
    }
}

impl Converter for ProtobufConverter {
    fn config_def(&self) -> ConfigDef {
        let def = ConfigDef::new()
            .define(
                "message.name.prefix",
                ConfigType::String,
                Some("sluice"),
                Importance::Medium,
                "The protobuf package of the derived messages: a record is the message <prefix>.Record.",
            )
            .validate(Validator::Custom(check_package))
            .define(
                "schemas.cache.size",
                ConfigType::Int,
                Some("1000"),
                Importance::Low,
                "How many distinct schemas this converter keeps derived descriptors for.",
            )
            .validate(Validator::Range {
                min: Some(0.0),
                max: None,
            })
            .define(
                "descriptor.location",
                ConfigType::String,
                Some("value"),
                Importance::Medium,
                "Where each record's descriptor set goes: value (field 1 of the Kafka value, which then decodes on its own with protoc --descriptor_set_in=value.bin) or header (a record header named by descriptor.header.name; the value is the Record message without field 1). Headers pass through the connector's header converter: the default SimpleHeaderConverter writes these bytes as base64 text.",
            )
            .validate(Validator::OneOf(vec!["value", "header"]))
            .define(
                "descriptor.header.name",
                ConfigType::String,
                Some(""),
                Importance::Low,
                "The header that carries the descriptor set when descriptor.location=header. Empty: sluice.protobuf.descriptor.value for the value converter, sluice.protobuf.descriptor.key for the key converter.",
            );
        define_type(def)
    }

    fn configure(&mut self, props: &Props, is_key: bool) -> Result<(), ConfigError> {
        let cfg = self.config_def().parse(props)?;
        self.location = match cfg.string("descriptor.location")?.trim() {
            "header" => DescriptorLocation::Header,
            _ => DescriptorLocation::Value,
        };
        self.header_name = cfg
            .opt_string("descriptor.header.name")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| default_header_name(is_key).to_string());
        self.package = cfg.string("message.name.prefix")?.trim().to_string();
        self.cache_size = usize::try_from(cfg.i32("schemas.cache.size")?).unwrap_or(0);
        lock(&self.to_proto).clear();
        lock(&self.from_proto).clear();
        Ok(())
    }

    fn from_connect(
        &self,
        topic: &str,
        headers: &mut Headers,
        schema: Option<&Arc<Schema>>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, RecordError> {
        let schema = match schema {
            Some(s) => s,
            None if value.is_null() => return Ok(false),
            None => {
                return Err(RecordError::new(format!(
                    "ProtobufConverter needs a schema, and the record for topic {topic} has none \
                     (a schemaless {}); use JsonConverter with schemas.enable=false for schemaless data",
                    value.type_name()
                )))
            }
        };
        let prefix = self.prefix(schema)?;
        match self.location {
            DescriptorLocation::Value => out.extend_from_slice(&prefix.bytes),
            DescriptorLocation::Header => {
                headers.remove(&self.header_name);
                headers.add(
                    self.header_name.clone(),
                    Some(schemas::bytes()),
                    Value::Bytes(prefix.bytes[..prefix.set_len].to_vec()),
                );
                out.extend_from_slice(&prefix.bytes[prefix.set_len..]);
            }
        }
        encode::write_field(out, descriptor::RECORD_VALUE, schema, false, value).map_err(|e| {
            RecordError::new(format!(
                "ProtobufConverter could not encode a record for topic {topic}: {e}"
            ))
        })?;
        Ok(true)
    }

    fn to_connect(
        &self,
        topic: &str,
        _headers: &Headers,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, RecordError> {
        let Some(data) = data else {
            return Ok(SchemaAndValue::null());
        };
        let bad = |e: String| {
            RecordError::new(format!(
                "ProtobufConverter could not decode a record from topic {topic}: {e}; \
                 was it written by {CLASS}?"
            ))
        };
        let json = decode::find_bytes(data, descriptor::RECORD_SCHEMA)
            .map_err(bad)?
            .ok_or_else(|| bad("it has no Connect schema (field 3)".into()))?;
        let schema = self.schema_of(json)?;
        let mut values = decode::read_message(
            data,
            descriptor::RECORD_VALUE,
            decode::Layout::One(&schema, false),
            0,
        )
        .map_err(bad)?;
        let value = values.pop().unwrap_or(Value::Null);
        Ok(SchemaAndValue::new(Some(schema), value))
    }
}

#[cfg(test)]
mod tests;
