//! Debezium's `ByLogicalTableRouter`: routes the change events of several
//! physical tables (shards) to one logical topic. When the whole topic
//! matches `topic.regex` it becomes `topic.replacement`; the key schema is
//! renamed `<topic>.Key` and, with `key.enforce.uniqueness`, gains a string
//! field (`key.field.name`) holding the physical table's identifier (the
//! original topic, or `key.field.regex` → `key.field.replacement` of it), so
//! rows with equal keys from different shards stay distinct. Envelope
//! schemas are renamed `<topic>.Envelope` with `<topic>.Value` rows.
//! Renamed schemas are built once per (input schema, new topic).

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{schemas, RecordData, Schema, SchemaType, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::extract_new_record_state::is_envelope;
use crate::util::{config_err, copy_basics, parse_config, JavaRegex, JavaReplacement, SchemaCache};

pub const DOC: &str = "Debezium's logical table router: re-routes the records of physical tables (e.g. shards) to one logical topic, and keeps their keys unique by adding the physical table identifier to the key.";
const TOPIC_REGEX: &str = "topic.regex";
const TOPIC_REPLACEMENT: &str = "topic.replacement";
const KEY_ENFORCE: &str = "key.enforce.uniqueness";
const KEY_FIELD_NAME: &str = "key.field.name";
const KEY_FIELD_REGEX: &str = "key.field.regex";
const KEY_FIELD_REPLACEMENT: &str = "key.field.replacement";
const CACHE_SIZE: &str = "logical.table.cache.size";
const ADJUSTMENT: &str = "schema.name.adjustment.mode";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(TOPIC_REGEX, ConfigType::String, None, Importance::Low, "The regex used for extracting the name of the logical table from the original topic name.")
        .validate(Validator::NonEmpty)
        .define(TOPIC_REPLACEMENT, ConfigType::String, None, Importance::Low, "The replacement string used in conjunction with topic.regex. This will be used to create the new topic name.")
        .validate(Validator::NonEmpty)
        .define(KEY_ENFORCE, ConfigType::Boolean, Some("true"), Importance::Low, "Augment each record's key with a field denoting on which physical table it was stored.")
        .define(KEY_FIELD_NAME, ConfigType::String, Some("__dbz__physicalTableIdentifier"), Importance::Low, "The name of the key field denoting the physical table identifier.")
        .define(KEY_FIELD_REGEX, ConfigType::String, Some(""), Importance::Low, "The regex used for extracting the physical table identifier from the original topic name.")
        .define(KEY_FIELD_REPLACEMENT, ConfigType::String, Some(""), Importance::Low, "The replacement string used in conjunction with key.field.regex to create the physical table identifier in the record key.")
        .define(CACHE_SIZE, ConfigType::Int, Some("16"), Importance::Low, "The size used for holding the max entries in LRUCache. Sluice bounds its schema cache itself.")
        .unsupported()
        .define(ADJUSTMENT, ConfigType::String, Some("none"), Importance::Low, "Schema name adjustment (none, avro, avro_unicode). Sluice does not adjust names.")
        .unsupported()
}

type Rule = (JavaRegex, JavaReplacement);

#[derive(Default)]
pub struct ByLogicalTableRouter {
    topic: Option<Rule>,
    key_field: Option<Rule>,
    enforce: bool,
    key_field_name: String,
    key_cache: SchemaCache<(Arc<str>, Arc<Schema>)>,
    value_cache: SchemaCache<(Arc<str>, Arc<Schema>)>,
}

fn renamed(s: &Arc<Schema>, name: String) -> Arc<Schema> {
    let mut c = (**s).clone();
    c.name = Some(name);
    Arc::new(c)
}

/// The cached schema for `input` when it was built for `topic`, else a
/// fresh one (a schema belongs to one table, so this is the rare case).
fn cached(
    cache: &SchemaCache<(Arc<str>, Arc<Schema>)>,
    input: &Arc<Schema>,
    topic: &str,
    build: impl Fn() -> Arc<Schema>,
) -> Result<Arc<Schema>, RecordError> {
    let (t, s) = cache.get_or_build(input, || Ok((Arc::from(topic), build())))?;
    Ok(if &*t == topic { s } else { build() })
}

impl ByLogicalTableRouter {
    fn identifier(&self, old_topic: &str) -> String {
        if let Some((re, repl)) = &self.key_field {
            if let Some(c) = re.full_match(old_topic) {
                return repl.expand(&c);
            }
        }
        old_topic.to_string()
    }

    fn new_key(
        &self,
        record: &mut RecordData,
        new_topic: &str,
        old_topic: &str,
    ) -> Result<(), RecordError> {
        let (Some(ks), Value::Struct(k)) = (&record.key_schema, &record.key) else {
            return Ok(());
        };
        let schema = cached(&self.key_cache, ks, new_topic, || {
            let mut b = copy_basics(ks, SchemaType::Struct)
                .name(format!("{new_topic}.Key"))
                .set_optional(ks.optional);
            for f in &ks.fields {
                b = b.field(f.name.clone(), f.schema.clone());
            }
            if self.enforce {
                b = b.field(self.key_field_name.clone(), schemas::string());
            }
            b.build()
        })?;
        let mut values = Vec::with_capacity(k.values.len() + 1);
        values.extend_from_slice(&k.values);
        if self.enforce {
            values.push(Value::String(self.identifier(old_topic).into()));
        }
        record.key = Value::Struct(Struct::from_values(schema.clone(), values));
        record.key_schema = Some(schema);
        Ok(())
    }

    fn new_value(&self, record: &mut RecordData, new_topic: &str) -> Result<(), RecordError> {
        if !is_envelope(record) {
            return Ok(());
        }
        let (Some(vs), Value::Struct(env)) = (
            record.value_schema.clone(),
            std::mem::take(&mut record.value),
        ) else {
            return Ok(());
        };
        let schema = cached(&self.value_cache, &vs, new_topic, || {
            let mut b = copy_basics(&vs, SchemaType::Struct)
                .name(format!("{new_topic}.Envelope"))
                .set_optional(vs.optional);
            for f in &vs.fields {
                let fs = if f.name == "before" || f.name == "after" {
                    renamed(&f.schema, format!("{new_topic}.Value"))
                } else {
                    f.schema.clone()
                };
                b = b.field(f.name.clone(), fs);
            }
            b.build()
        })?;
        let values = env
            .values
            .into_iter()
            .zip(&schema.fields)
            .map(|(v, f)| match v {
                Value::Struct(mut row) if f.name == "before" || f.name == "after" => {
                    row.schema = f.schema.clone();
                    Value::Struct(row)
                }
                other => other,
            })
            .collect();
        record.value = Value::Struct(Struct::from_values(schema.clone(), values));
        record.value_schema = Some(schema);
        Ok(())
    }
}

fn rule(c: &sluice_api::Config, rk: &str, pk: &str) -> Result<Option<Rule>, ConfigError> {
    let Some(re) = c.opt_string(rk) else {
        return Ok(None);
    };
    let re = JavaRegex::compile(rk, &re)?;
    let repl = c.get(pk).unwrap_or("").to_string();
    let repl = JavaReplacement::parse(pk, &repl, re.regex())?;
    Ok(Some((re, repl)))
}

impl Transform for ByLogicalTableRouter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.topic = rule(&c, TOPIC_REGEX, TOPIC_REPLACEMENT)?;
        self.key_field = rule(&c, KEY_FIELD_REGEX, KEY_FIELD_REPLACEMENT)?;
        if self.key_field.is_some() && c.opt_string(KEY_FIELD_REPLACEMENT).is_none() {
            return Err(config_err(
                KEY_FIELD_REPLACEMENT,
                "key.field.regex is set, so key.field.replacement must be set too",
            ));
        }
        self.enforce = c.bool(KEY_ENFORCE)?;
        self.key_field_name = c.string(KEY_FIELD_NAME)?;
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let Some((re, repl)) = &self.topic else {
            return Ok(Some(record));
        };
        let Some(caps) = re.full_match(&record.topic) else {
            return Ok(Some(record));
        };
        let new_topic: std::sync::Arc<str> = repl.expand(&caps).into();
        let old_topic = std::mem::replace(&mut record.topic, new_topic.clone());
        self.new_key(&mut record, &new_topic, &old_topic)?;
        self.new_value(&mut record, &new_topic)?;
        Ok(Some(record))
    }
}
