//! `InsertField`: adds record metadata (topic, partition, Kafka offset,
//! timestamp) and a static string to a struct (schemaful) or map
//! (schemaless). A field name ending in `?` is optional (the default), in `!`
//! required. Tombstones pass unchanged. The widened schema is built once per
//! input schema.
//!
//! As in Kafka Connect: `offset.field` needs a sink record (one read from
//! Kafka, which carries its offset) and fails on a source record; on a map,
//! the partition and timestamp keys are left out when the record has none,
//! while a struct's fields are null then (an error if the field is
//! required).

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance};
use sluice_api::data::{schemas, RecordData, Schema, SchemaType, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{
    config_err, copy_basics, err, parse_config, require_map_msg, require_struct_msg, with_room,
    SchemaCache, Target,
};

pub const DOC: &str = "Insert field(s) using attributes from the record metadata or a configured static value. Suffix a field name with ! to make it required, or ? to keep it optional (the default).";
const TOPIC: &str = "topic.field";
const PARTITION: &str = "partition.field";
const OFFSET: &str = "offset.field";
const TIMESTAMP: &str = "timestamp.field";
const STATIC_FIELD: &str = "static.field";
const STATIC_VALUE: &str = "static.value";
const REPLACE_NULL: &str = "replace.null.with.default";
const PURPOSE: &str = "field insertion";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(TOPIC, ConfigType::String, Some(""), Importance::Medium, "Field name for Kafka topic. Suffix with ! to make this a required field, or ? to keep it optional (the default).")
        .define(PARTITION, ConfigType::String, Some(""), Importance::Medium, "Field name for Kafka partition. Suffix with ! to make this a required field, or ? to keep it optional (the default).")
        .define(OFFSET, ConfigType::String, Some(""), Importance::Medium, "Field name for Kafka offset - only applicable to sink connectors. Suffix with ! to make this a required field, or ? to keep it optional (the default).")
        .define(TIMESTAMP, ConfigType::String, Some(""), Importance::Medium, "Field name for record timestamp. Suffix with ! to make this a required field, or ? to keep it optional (the default).")
        .define(STATIC_FIELD, ConfigType::String, Some(""), Importance::Medium, "Field name for static data field. Suffix with ! to make this a required field, or ? to keep it optional (the default).")
        .define(STATIC_VALUE, ConfigType::String, Some(""), Importance::Medium, "Static field value, if field name configured.")
        .define(REPLACE_NULL, ConfigType::Boolean, Some("true"), Importance::Medium, "Whether to replace fields that have a default value and that are null to the default value. Sluice keeps values as they are.")
}

#[derive(Debug, Clone)]
struct FieldSpec {
    name: String,
    optional: bool,
}

fn spec(value: Option<String>) -> Option<FieldSpec> {
    let v = value?;
    Some(if let Some(n) = v.strip_suffix('!') {
        FieldSpec {
            name: n.to_string(),
            optional: false,
        }
    } else if let Some(n) = v.strip_suffix('?') {
        FieldSpec {
            name: n.to_string(),
            optional: true,
        }
    } else {
        FieldSpec {
            name: v,
            optional: true,
        }
    })
}

pub struct InsertField {
    target: Target,
    topic: Option<FieldSpec>,
    partition: Option<FieldSpec>,
    offset: Option<FieldSpec>,
    timestamp: Option<FieldSpec>,
    static_field: Option<FieldSpec>,
    static_value: String,
    cache: SchemaCache<Arc<Schema>>,
}

impl InsertField {
    pub fn new(target: Target) -> Self {
        InsertField {
            target,
            topic: None,
            partition: None,
            offset: None,
            timestamp: None,
            static_field: None,
            static_value: String::new(),
            cache: SchemaCache::new(),
        }
    }

    /// A `static.field` insertion configured directly (Debezium's
    /// `__deleted` field).
    pub fn static_string(target: Target, field: &str, value: &str) -> Self {
        let mut t = InsertField::new(target);
        t.static_field = spec(Some(field.to_string()));
        t.static_value = value.to_string();
        t
    }

    /// Each inserted field with its schema, in Kafka Connect's order.
    fn fields(&self) -> Vec<(&FieldSpec, Arc<Schema>)> {
        let pick = |f: &FieldSpec, required: Arc<Schema>, optional: Arc<Schema>| {
            if f.optional {
                optional
            } else {
                required
            }
        };
        let mut out = Vec::new();
        if let Some(f) = &self.topic {
            out.push((f, pick(f, schemas::string(), schemas::optional_string())));
        }
        if let Some(f) = &self.partition {
            out.push((f, pick(f, schemas::int32(), schemas::optional_int32())));
        }
        if let Some(f) = &self.offset {
            out.push((f, pick(f, schemas::int64(), schemas::optional_int64())));
        }
        if let Some(f) = &self.timestamp {
            out.push((f, schemas::timestamp(f.optional)));
        }
        if let Some(f) = &self.static_field {
            out.push((f, pick(f, schemas::string(), schemas::optional_string())));
        }
        out
    }

    /// Kafka Connect's `requireSinkRecord` for `offset.field`, and the
    /// null check its `Struct.validate` makes on required fields.
    fn check(&self, r: &RecordData, schemaful: bool) -> Result<(), RecordError> {
        if self.offset.is_some() && !r.is_sink_record() {
            return Err(err(format!(
                "Only SinkRecord supported for [{PURPOSE}], found: SourceRecord (offset.field needs the Kafka offset, which only records read by a sink connector have)"
            )));
        }
        if !schemaful {
            return Ok(());
        }
        let nulls = [
            (&self.partition, r.kafka_partition.is_none(), "INT32"),
            (&self.timestamp, r.timestamp.is_none(), "INT64"),
        ];
        for (f, null, kind) in nulls {
            if let Some(f) = f.as_ref().filter(|f| !f.optional && null) {
                return Err(err(format!(
                    "Invalid value: null used for required field: \"{}\", schema type: {kind}",
                    f.name
                )));
            }
        }
        Ok(())
    }

    /// Calls `f` with each inserted field and its value, in the order of
    /// [`InsertField::fields`]; `None` where the record has no such value.
    fn each_value(&self, r: &RecordData, mut f: impl FnMut(&FieldSpec, Option<Value>)) {
        if let Some(s) = &self.topic {
            f(s, Some(Value::String(r.topic.clone())));
        }
        if let Some(s) = &self.partition {
            f(s, r.kafka_partition.map(Value::Int32));
        }
        if let Some(s) = &self.offset {
            f(s, r.kafka_offset.map(Value::Int64));
        }
        if let Some(s) = &self.timestamp {
            f(s, r.timestamp.map(Value::Int64));
        }
        if let Some(s) = &self.static_field {
            f(s, Some(Value::String(self.static_value.as_str().into())));
        }
    }

    /// How many fields this transform inserts.
    fn count(&self) -> usize {
        [
            &self.topic,
            &self.partition,
            &self.offset,
            &self.timestamp,
            &self.static_field,
        ]
        .into_iter()
        .filter(|f| f.is_some())
        .count()
    }
}

impl Transform for InsertField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.topic = spec(c.opt_string(TOPIC));
        self.partition = spec(c.opt_string(PARTITION));
        self.offset = spec(c.opt_string(OFFSET));
        self.timestamp = spec(c.opt_string(TIMESTAMP));
        self.static_field = spec(c.opt_string(STATIC_FIELD));
        self.static_value = c.get(STATIC_VALUE).unwrap_or("").to_string();
        if self.static_field.is_some() && c.opt_string(STATIC_VALUE).is_none() {
            return Err(config_err(
                STATIC_VALUE,
                "static.field is set, so static.value must be set too",
            ));
        }
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        if self.target.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.target.take(&mut record);
        self.check(&record, schema.is_some())?;
        let out = match (schema, value) {
            (None, Value::Map(mut entries)) => {
                // Kafka Connect puts a key only when the record has a value.
                self.each_value(&record, |f, v| {
                    if let Some(v) = v {
                        entries.retain(|(k, _)| k.as_str() != Some(&f.name));
                        entries.push((Value::String(f.name.as_str().into()), v));
                    }
                });
                (None, Value::Map(entries))
            }
            (None, other) => return Err(require_map_msg(&other, PURPOSE)),
            (Some(schema), Value::Struct(s)) => {
                let out_schema = self.cache.get_or_build(&schema, || {
                    let mut b = copy_basics(&schema, SchemaType::Struct);
                    for f in &schema.fields {
                        b = b.field(f.name.clone(), f.schema.clone());
                    }
                    for (f, s) in self.fields() {
                        if schema.field(&f.name).is_some() {
                            return Err(err(format!(
                                "InsertField cannot add field {}: the {} schema already has a field of that name",
                                f.name,
                                self.target.name()
                            )));
                        }
                        b = b.field(f.name.clone(), s);
                    }
                    Ok(b.build())
                })?;
                // The struct's values are moved and extended, not copied.
                let mut values = with_room(s.values, self.count());
                self.each_value(&record, |_, v| values.push(v.unwrap_or(Value::Null)));
                (
                    Some(out_schema.clone()),
                    Value::Struct(Struct::from_values(out_schema, values)),
                )
            }
            (Some(_), other) => return Err(require_struct_msg(&other, PURPOSE)),
        };
        self.target.set(&mut record, out.0, out.1);
        Ok(Some(record))
    }
}
