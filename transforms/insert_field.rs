//! `InsertField`: adds record metadata (topic, partition, timestamp) and a
//! static string to a struct (schemaful) or map (schemaless). A field name
//! ending in `?` is optional (the default), in `!` required. Tombstones pass
//! unchanged. The widened schema is built once per input schema.
//!
//! `offset.field` needs the Kafka offset of a sink record, which transforms
//! do not see in Sluice yet: configuring it is rejected with that reason.

use std::sync::Arc;

use sluice_runtime::config::{ConfigDef, ConfigType, Importance};
use sluice_runtime::data::{schemas, RecordData, Schema, SchemaType, Struct, Value};
use sluice_runtime::{ConfigError, Props, RecordError, Transform};

use crate::util::{
    config_err, copy_basics, err, parse_config, require_map_msg, require_struct_msg, SchemaCache,
    Target,
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
        .define(OFFSET, ConfigType::String, Some(""), Importance::Medium, "Field name for Kafka offset - only applicable to sink connectors. Not yet available in Sluice (transforms do not see the offset).")
        .unsupported()
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
        if let Some(f) = &self.timestamp {
            out.push((f, schemas::timestamp(f.optional)));
        }
        if let Some(f) = &self.static_field {
            out.push((f, pick(f, schemas::string(), schemas::optional_string())));
        }
        out
    }

    /// Checks that no required inserted field would be null.
    fn check_required(&self, r: &RecordData) -> Result<(), RecordError> {
        let nulls = [
            (&self.partition, r.kafka_partition.is_none()),
            (&self.timestamp, r.timestamp.is_none()),
        ];
        for (f, null) in nulls {
            if let Some(f) = f.as_ref().filter(|f| !f.optional && null) {
                return Err(err(format!(
                    "Invalid value: null used for required field: \"{}\"",
                    f.name
                )));
            }
        }
        Ok(())
    }

    /// Appends the value of each inserted field, in the order of
    /// [`InsertField::fields`].
    fn push_values(&self, r: &RecordData, out: &mut Vec<Value>) {
        if self.topic.is_some() {
            out.push(Value::String(r.topic.clone()));
        }
        if self.partition.is_some() {
            out.push(r.kafka_partition.map(Value::Int32).unwrap_or(Value::Null));
        }
        if self.timestamp.is_some() {
            out.push(r.timestamp.map(Value::Int64).unwrap_or(Value::Null));
        }
        if self.static_field.is_some() {
            out.push(Value::String(self.static_value.clone()));
        }
    }

    /// The names of the inserted fields, in the order of [`InsertField::values`].
    fn names(&self) -> impl Iterator<Item = &FieldSpec> {
        [
            &self.topic,
            &self.partition,
            &self.timestamp,
            &self.static_field,
        ]
        .into_iter()
        .flatten()
    }
}

impl Transform for InsertField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        if c.opt_string(OFFSET).is_some() {
            return Err(config_err(
                OFFSET,
                "the Kafka offset is not available to Sluice transforms yet; remove offset.field (or insert it in the sink connector)",
            ));
        }
        self.topic = spec(c.opt_string(TOPIC));
        self.partition = spec(c.opt_string(PARTITION));
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
        self.check_required(&record)?;
        let (schema, value) = self.target.take(&mut record);
        let out = match (schema, value) {
            (None, Value::Map(mut entries)) => {
                let mut inserted = Vec::with_capacity(4);
                self.push_values(&record, &mut inserted);
                for (f, v) in self.names().zip(inserted) {
                    entries.retain(|(k, _)| k.as_str() != Some(&f.name));
                    entries.push((Value::String(f.name.clone()), v));
                }
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
                let mut values = s.values;
                self.push_values(&record, &mut values);
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
