//! The record JSON of plug-in ABI version 1 (docs/plugins.md), both ways.
//!
//! A record goes to a plug-in as
//! `{"topic", "partition", "timestamp", "key", "value", "headers": [{"key", "value"}]}`
//! plus `"offset"` (the Kafka offset) on a sink connector's records; an
//! `"offset"` in the output is ignored (where a record was read cannot change).
//! with every Connect value in its schemaless JSON form: structs and maps
//! with string keys become objects (fields in schema order), bytes become
//! base64 strings, logical types keep their physical form (Decimal = base64
//! of the unscaled big-endian bytes, Date = days, Time and Timestamp =
//! milliseconds), non-finite floats become the strings `"NaN"`,
//! `"Infinity"`, `"-Infinity"`, and maps with other keys become arrays of
//! `[key, value]` pairs.
//!
//! On the way back Sluice re-applies the input's schema to the key, the value
//! and each header when the output fits it exactly (same struct field set,
//! numbers in range, base64 that decodes, ...): a plug-in that edits field
//! values keeps the record schemaful. Output that does not fit the schema
//! becomes schemaless (no schema; integers Int64, other numbers Float64,
//! objects maps with string keys), which is always correct if not always
//! what a schema registry wants. Members the output leaves out keep their
//! input value, so `{"value": "x"}` replaces only the value.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};

use crate::data::{Header, Headers, RecordData, Schema, SchemaType, Struct, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The record JSON a plug-in receives.
pub fn record_to_json(record: &RecordData) -> Json {
    let headers: Vec<Json> = record
        .headers
        .iter()
        .map(|h| {
            let mut m = Map::new();
            m.insert("key".into(), Json::String(h.key.to_string()));
            m.insert("value".into(), value_to_json(&h.value));
            Json::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("topic".into(), Json::String(record.topic.to_string()));
    m.insert(
        "partition".into(),
        record.kafka_partition.map(Json::from).unwrap_or(Json::Null),
    );
    m.insert(
        "timestamp".into(),
        record.timestamp.map(Json::from).unwrap_or(Json::Null),
    );
    if let Some(offset) = record.kafka_offset {
        m.insert("offset".into(), Json::from(offset));
    }
    m.insert("key".into(), value_to_json(&record.key));
    m.insert("value".into(), value_to_json(&record.value));
    m.insert("headers".into(), Json::Array(headers));
    Json::Object(m)
}

/// Applies a plug-in's output record JSON to its input record.
pub fn record_from_json(input: RecordData, out: Json) -> Result<RecordData, String> {
    let Json::Object(mut out) = out else {
        return Err(format!(
            "returned {} where a record object was expected",
            json_kind(&out)
        ));
    };
    if let Some(e) = out.get("error") {
        let msg = e
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string());
        return Err(format!("reported an error: {msg}"));
    }
    let mut rec = input;
    if let Some(t) = out.remove("topic") {
        rec.topic = match t {
            Json::String(s) if !s.is_empty() => s.into(),
            other => {
                return Err(format!(
                    "returned topic {other}; it must be a non-empty string"
                ))
            }
        };
    }
    if let Some(p) = out.remove("partition") {
        rec.kafka_partition = match &p {
            Json::Null => None,
            _ => Some(
                p.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| {
                        format!("returned partition {p}; it must be null or an int32 >= 0")
                    })?,
            ),
        };
    }
    if let Some(t) = out.remove("timestamp") {
        rec.timestamp = match &t {
            Json::Null => None,
            _ => Some(t.as_i64().ok_or_else(|| {
                format!("returned timestamp {t}; it must be null or epoch milliseconds")
            })?),
        };
    }
    if let Some(k) = out.remove("key") {
        (rec.key_schema, rec.key) = reapply(rec.key_schema.take(), &k);
    }
    if let Some(v) = out.remove("value") {
        (rec.value_schema, rec.value) = reapply(rec.value_schema.take(), &v);
    }
    if let Some(h) = out.remove("headers") {
        let Json::Array(items) = h else {
            return Err("returned headers that are not an array of {\"key\", \"value\"}".into());
        };
        let mut headers = Headers::new();
        for item in items {
            let key = item
                .get("key")
                .and_then(Json::as_str)
                .ok_or_else(|| format!("returned header {item} without a string \"key\""))?;
            let json = item.get("value").unwrap_or(&Json::Null);
            let old = rec
                .headers
                .last_with_name(key)
                .and_then(|h| h.schema.clone());
            let (schema, value) = reapply(old, json);
            headers.0.push(Header {
                key: Arc::from(key),
                schema,
                value,
            });
        }
        rec.headers = headers;
    }
    Ok(rec)
}

/// The schema kept when the JSON fits it, otherwise no schema.
fn reapply(schema: Option<Arc<Schema>>, json: &Json) -> (Option<Arc<Schema>>, Value) {
    if let Some(s) = schema {
        if let Some(v) = fit(json, &s) {
            return (Some(s), v);
        }
    }
    (None, schemaless(json))
}

/// A Connect value in its schemaless JSON form.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int8(n) => Json::from(*n),
        Value::Int16(n) => Json::from(*n),
        Value::Int32(n) => Json::from(*n),
        Value::Int64(n) => Json::from(*n),
        Value::Float32(f) => float_to_json(*f as f64),
        Value::Float64(f) => float_to_json(*f),
        Value::String(s) => Json::String(s.to_string()),
        Value::Bytes(b) => Json::String(B64.encode(b)),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| k.as_str().is_some()) {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.as_str().unwrap_or_default().to_string(), value_to_json(v));
                }
                Json::Object(m)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| Json::Array(vec![value_to_json(k), value_to_json(v)]))
                        .collect(),
                )
            }
        }
        Value::Struct(s) => {
            let mut m = Map::new();
            for f in &s.schema.fields {
                m.insert(f.name.clone(), value_to_json(s.get_index(f.index)));
            }
            Json::Object(m)
        }
    }
}

fn float_to_json(f: f64) -> Json {
    match Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f.is_nan() => Json::String("NaN".into()),
        None if f > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}

fn float_from_json(j: &Json) -> Option<f64> {
    match j {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// The JSON read with `schema`, or `None` when it does not fit exactly.
fn fit(j: &Json, schema: &Arc<Schema>) -> Option<Value> {
    if j.is_null() {
        return (schema.optional || schema.default.is_some()).then_some(Value::Null);
    }
    let int = || j.as_i64();
    Some(match schema.kind {
        SchemaType::Int8 => Value::Int8(int()?.try_into().ok()?),
        SchemaType::Int16 => Value::Int16(int()?.try_into().ok()?),
        SchemaType::Int32 => Value::Int32(int()?.try_into().ok()?),
        SchemaType::Int64 => Value::Int64(int()?),
        SchemaType::Float32 => Value::Float32(float_from_json(j)? as f32),
        SchemaType::Float64 => Value::Float64(float_from_json(j)?),
        SchemaType::Boolean => Value::Boolean(j.as_bool()?),
        SchemaType::String => Value::String(j.as_str()?.into()),
        SchemaType::Bytes => Value::Bytes(B64.decode(j.as_str()?).ok()?),
        SchemaType::Array => {
            let elem = schema.value_schema.as_ref()?;
            Value::Array(
                j.as_array()?
                    .iter()
                    .map(|x| fit(x, elem))
                    .collect::<Option<_>>()?,
            )
        }
        SchemaType::Map => {
            let (ks, vs) = (schema.key_schema.as_ref()?, schema.value_schema.as_ref()?);
            match j {
                Json::Object(m) => Value::Map(
                    m.iter()
                        .map(|(k, v)| Some((fit(&Json::String(k.clone()), ks)?, fit(v, vs)?)))
                        .collect::<Option<_>>()?,
                ),
                Json::Array(pairs) => Value::Map(
                    pairs
                        .iter()
                        .map(|p| match p.as_array()?.as_slice() {
                            [k, v] => Some((fit(k, ks)?, fit(v, vs)?)),
                            _ => None,
                        })
                        .collect::<Option<_>>()?,
                ),
                _ => return None,
            }
        }
        SchemaType::Struct => {
            let m = j.as_object()?;
            if m.len() != schema.fields.len() {
                return None;
            }
            let values = schema
                .fields
                .iter()
                .map(|f| fit(m.get(&f.name)?, &f.schema))
                .collect::<Option<Vec<_>>>()?;
            Value::Struct(Struct::from_values(schema.clone(), values))
        }
    })
}

/// The JSON read without a schema.
fn schemaless(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.as_str().into()),
        Json::Array(items) => Value::Array(items.iter().map(schemaless).collect()),
        Json::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (Value::String(k.as_str().into()), schemaless(v)))
                .collect(),
        ),
    }
}

fn json_kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}
