//! Schemaless records (JsonConverter with `schemas.enable=false`): maps
//! turned into structs with a schema inferred from their values, so that
//! the rest of the sink sees one kind of record.
//!
//! Every inferred field is optional (nothing says otherwise); integers are
//! int64, decimals float64, nested maps and arrays JSON text
//! (`io.debezium.data.Json`), and a null value a string (its column, if it
//! creates one, is text). A Debezium envelope keeps its `before`, `after`
//! and `source` as structs. Inferred schemas are interned by their field
//! names and types: records of one shape share one `Arc<Schema>`, which
//! the shape caches downstream rely on.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::data::{names, schemas, Schema, SchemaBuilder, SinkRecord, Struct, Value};

const MAX_INTERNED: usize = 1024;

#[derive(Default)]
pub struct Inferrer {
    interned: HashMap<String, Arc<Schema>>,
}

fn json_of(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Int8(n) => J::from(*n),
        Value::Int16(n) => J::from(*n),
        Value::Int32(n) => J::from(*n),
        Value::Int64(n) => J::from(*n),
        Value::Float32(f) => J::from(*f as f64),
        Value::Float64(f) => J::from(*f),
        Value::String(s) => J::String(s.to_string()),
        Value::Bytes(b) => J::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        Value::Array(items) => J::Array(items.iter().map(json_of).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => s.to_string(),
                        other => json_of(other).to_string(),
                    };
                    (key, json_of(v))
                })
                .collect(),
        ),
        Value::Struct(s) => J::Object(
            s.schema
                .fields
                .iter()
                .map(|f| (f.name.clone(), json_of(s.get_index(f.index))))
                .collect(),
        ),
    }
}

/// A scalar's schema and value; nested values become JSON text.
fn scalar(v: &Value) -> (Arc<Schema>, Value) {
    match v {
        Value::Null => (schemas::optional_string(), Value::Null),
        Value::Boolean(_) => (schemas::optional_boolean(), v.clone()),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => (
            schemas::optional_int64(),
            Value::Int64(v.as_i64().unwrap_or_default()),
        ),
        Value::Float32(f) => (schemas::optional_float64(), Value::Float64(*f as f64)),
        Value::Float64(_) => (schemas::optional_float64(), v.clone()),
        Value::String(_) => (schemas::optional_string(), v.clone()),
        Value::Bytes(_) => (schemas::optional_bytes(), v.clone()),
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => (
            SchemaBuilder::string()
                .name(names::DBZ_JSON)
                .optional()
                .build(),
            Value::from(json_of(v).to_string()),
        ),
    }
}

fn key_text(k: &Value) -> Option<String> {
    match k {
        Value::String(s) => Some(s.to_string()),
        Value::Null => None,
        other => Some(json_of(other).to_string()),
    }
}

impl Inferrer {
    fn intern(&mut self, fields: Vec<(String, Arc<Schema>)>) -> Arc<Schema> {
        let signature: String = fields
            .iter()
            .map(|(n, s)| {
                format!(
                    "{n}\u{1}{}\u{1}{}\u{2}",
                    s.kind.json_name(),
                    s.name().unwrap_or("")
                )
            })
            .collect();
        if let Some(s) = self.interned.get(&signature) {
            return s.clone();
        }
        let mut b = SchemaBuilder::structure().optional();
        for (n, s) in fields {
            b = b.field(n, s);
        }
        let schema = b.build();
        if self.interned.len() >= MAX_INTERNED {
            self.interned.clear();
        }
        self.interned.insert(signature, schema.clone());
        schema
    }

    /// A map as a flat row.
    fn row(&mut self, entries: &[(Value, Value)]) -> Struct {
        let mut fields = Vec::with_capacity(entries.len());
        let mut values = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Some(name) = key_text(k) else { continue };
            let (s, v) = scalar(v);
            fields.push((name, s));
            values.push(v);
        }
        Struct::from_values(self.intern(fields), values)
    }

    /// A map as a Debezium envelope: `before`, `after`, `source` stay structs.
    fn envelope(&mut self, entries: &[(Value, Value)]) -> Struct {
        let mut fields = Vec::with_capacity(entries.len());
        let mut values = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Some(name) = key_text(k) else { continue };
            let (s, v) = match (name.as_str(), v) {
                ("before" | "after" | "source", Value::Map(m)) => {
                    let st = self.row(m);
                    (st.schema.clone(), Value::Struct(st))
                }
                // A null before/after still needs a struct schema.
                ("before" | "after", Value::Null) => (self.intern(Vec::new()), Value::Null),
                _ => scalar(v),
            };
            fields.push((name, s));
            values.push(v);
        }
        Struct::from_values(self.intern(fields), values)
    }

    fn value(&mut self, v: &Value) -> Option<(Arc<Schema>, Value)> {
        let Value::Map(entries) = v else {
            return None;
        };
        let is_envelope = v.map_get("op").is_some_and(|o| o.as_str().is_some())
            && (v.map_get("after").is_some() || v.map_get("before").is_some());
        let st = if is_envelope {
            self.envelope(entries)
        } else {
            self.row(entries)
        };
        Some((st.schema.clone(), Value::Struct(st)))
    }

    /// The record with schemas inferred where it has none; `None` when it
    /// needs nothing (both parts have schemas, or are null).
    pub fn infer(&mut self, rec: &SinkRecord) -> Option<SinkRecord> {
        let d = &rec.data;
        let value_needs = d.value_schema.is_none() && !d.value.is_null();
        let key_needs = d.key_schema.is_none() && !d.key.is_null();
        if !value_needs && !key_needs {
            return None;
        }
        let mut out = rec.clone();
        if value_needs {
            if let Some((s, v)) = self.value(&d.value) {
                out.data.value_schema = Some(s);
                out.data.value = v;
            }
        }
        if key_needs {
            let (s, v) = match &d.key {
                Value::Map(entries) => {
                    let st = self.row(entries);
                    (st.schema.clone(), Value::Struct(st))
                }
                other => {
                    let (s, v) = scalar(other);
                    // A key is never null where it is used.
                    (schemas::primitive(s.kind, false), v)
                }
            };
            out.data.key_schema = Some(s);
            out.data.key = v;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::{RecordData, SchemaType};

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (Value::from(*k), v.clone()))
                .collect(),
        )
    }

    fn rec(key: Value, value: Value) -> SinkRecord {
        SinkRecord {
            data: RecordData {
                topic: "t".into(),
                key,
                value,
                ..Default::default()
            },
            kafka_offset: 0,
            original_topic: "t".into(),
            original_partition: 0,
        }
    }

    #[test]
    fn maps_become_structs_sharing_one_schema_per_shape() {
        let mut inf = Inferrer::default();
        let v = map(&[
            ("id", Value::Int64(1)),
            ("name", Value::from("a")),
            ("tags", Value::Array(vec![Value::Int64(1)])),
            ("gone", Value::Null),
        ]);
        let a = inf
            .infer(&rec(map(&[("id", Value::Int64(1))]), v.clone()))
            .unwrap();
        let b = inf.infer(&rec(map(&[("id", Value::Int64(2))]), v)).unwrap();
        let (sa, sb) = (a.data.value_schema.unwrap(), b.data.value_schema.unwrap());
        assert!(Arc::ptr_eq(&sa, &sb));
        let st = a.data.value.as_struct().unwrap();
        assert_eq!(st.get("tags"), Some(&Value::from("[1]")));
        assert_eq!(
            sa.field("tags").unwrap().schema.name(),
            Some(names::DBZ_JSON)
        );
        assert_eq!(sa.field("id").unwrap().schema.kind, SchemaType::Int64);
        assert!(a.data.key_schema.is_some());
    }

    #[test]
    fn envelopes_keep_their_images_as_structs() {
        let mut inf = Inferrer::default();
        let v = map(&[
            ("before", Value::Null),
            ("after", map(&[("id", Value::Int64(1))])),
            ("op", Value::from("c")),
        ]);
        let r = inf.infer(&rec(Value::Int64(1), v)).unwrap();
        let st = r.data.value.as_struct().unwrap();
        assert!(st.get("after").unwrap().as_struct().is_some());
        assert_eq!(r.data.key_schema.unwrap().kind, SchemaType::Int64);
    }

    #[test]
    fn records_with_schemas_are_left_alone() {
        let mut inf = Inferrer::default();
        assert!(inf.infer(&rec(Value::Null, Value::Null)).is_none());
    }
}
