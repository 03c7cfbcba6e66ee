//! Debezium's outbox `EventRouter`: turns inserts into an outbox table into
//! events on per-aggregate topics. For each created row: the topic is the
//! `route.by.field` column run through `route.topic.regex` →
//! `route.topic.replacement` (default `outbox.event.${routedByValue}`), the
//! key is the `table.field.event.key` column, the value is the
//! `table.field.event.payload` column (optionally parsed from a JSON string
//! with `table.expand.json.payload`), the event id goes into an `id` header,
//! and `table.fields.additional.placement` (`column:header|envelope|partition[:alias]`)
//! places other columns. With any `envelope` placement the value becomes a
//! struct `{payload, <alias>...}`. Deletes and tombstones are dropped (the
//! usual pattern inserts and deletes in one transaction); updates are
//! unexpected and dropped, or fail with `table.op.invalid.behavior=fatal`.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{names, schemas, RecordData, Schema, SchemaBuilder, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::extract_new_record_state::is_envelope;
use crate::regex_router::RegexRouter;
use crate::util::{config_err, err, parse_config, SchemaCache};

pub const DOC: &str = "Debezium's outbox event router: emits each row inserted into an outbox table as an event on a topic chosen by one of its columns, keyed by another, with the payload column as the value.";
const ID: &str = "table.field.event.id";
const KEY: &str = "table.field.event.key";
const TYPE: &str = "table.field.event.type";
const PAYLOAD: &str = "table.field.event.payload";
const TIMESTAMP: &str = "table.field.event.timestamp";
const PLACEMENT: &str = "table.fields.additional.placement";
const ERROR_ON_MISSING: &str = "table.fields.additional.error.on.missing";
const SCHEMA_VERSION: &str = "table.field.event.schema.version";
const ROUTE_BY: &str = "route.by.field";
const ROUTE_REGEX: &str = "route.topic.regex";
const ROUTE_REPLACEMENT: &str = "route.topic.replacement";
const TOMBSTONE_ON_EMPTY: &str = "route.tombstone.on.empty.payload";
const INVALID_OP: &str = "table.op.invalid.behavior";
const EXPAND_JSON: &str = "table.expand.json.payload";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(ID, ConfigType::String, Some("id"), Importance::Low, "The column which contains the event ID within the outbox table.")
        .define(KEY, ConfigType::String, Some("aggregateid"), Importance::Low, "The column which contains the event key within the outbox table.")
        .define(TYPE, ConfigType::String, Some("type"), Importance::Low, "The column which contains the event type within the outbox table.")
        .define(PAYLOAD, ConfigType::String, Some("payload"), Importance::Low, "The column which contains the event payload within the outbox table.")
        .define(TIMESTAMP, ConfigType::String, Some(""), Importance::Medium, "Optionally override the Kafka message timestamp with a value from a chosen column, otherwise it'll be the Debezium event processed timestamp.")
        .define(PLACEMENT, ConfigType::List, Some(""), Importance::High, "Extra fields can be added as part of the event envelope or a message header, format is a list of colon-delimited pairs or trios when you desire to have aliases, e.g. id:header,field_name:envelope:alias,field_name:partition.")
        .define(ERROR_ON_MISSING, ConfigType::Boolean, Some("true"), Importance::Medium, "Whether to fail when a column named in table.fields.additional.placement is missing from the event.")
        .define(SCHEMA_VERSION, ConfigType::String, Some(""), Importance::Low, "The column which contains the event schema version within the outbox table.")
        .define(ROUTE_BY, ConfigType::String, Some("aggregatetype"), Importance::High, "The column which determines how the events will be routed, the value will become part of the topic name.")
        .define(ROUTE_REGEX, ConfigType::String, Some("(?<routedByValue>.*)"), Importance::Low, "The regex applied to the routing column value, with capture groups available to route.topic.replacement.")
        .define(ROUTE_REPLACEMENT, ConfigType::String, Some("outbox.event.${routedByValue}"), Importance::High, "The name of the topic in which the events will be routed; ${routedByValue} is the value of the column configured via route.by.field.")
        .define(TOMBSTONE_ON_EMPTY, ConfigType::Boolean, Some("false"), Importance::High, "Whether or not an empty payload should cause a tombstone event.")
        .define(INVALID_OP, ConfigType::String, Some("warn"), Importance::Medium, "What to do with an update to the outbox table: warn and error skip it, fatal fails the task.")
        .validate(Validator::OneOf(vec!["warn", "error", "fatal"]))
        .define(EXPAND_JSON, ConfigType::Boolean, Some("false"), Importance::Medium, "Whether to parse a JSON string payload into a struct, inferring its schema.")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Header,
    Envelope,
    Partition,
}

pub struct EventRouter {
    id: String,
    key: String,
    payload: String,
    timestamp: Option<String>,
    additional: Vec<(String, Place, String)>,
    error_on_missing: bool,
    schema_version: Option<String>,
    route_by: String,
    router: RegexRouter,
    tombstone_on_empty: bool,
    fatal_on_update: bool,
    expand_json: bool,
    cache: SchemaCache<Arc<Schema>>,
}

impl Default for EventRouter {
    fn default() -> Self {
        EventRouter {
            id: "id".into(),
            key: "aggregateid".into(),
            payload: "payload".into(),
            timestamp: None,
            additional: Vec::new(),
            error_on_missing: true,
            schema_version: None,
            route_by: "aggregatetype".into(),
            router: RegexRouter::default(),
            tombstone_on_empty: false,
            fatal_on_update: false,
            expand_json: false,
            cache: SchemaCache::new(),
        }
    }
}

/// A Connect schema and value inferred from JSON (all optional; nulls
/// dropped, as Debezium's default `ignore` null behaviour does).
fn from_json(name: &str, j: &serde_json::Value) -> Option<(Arc<Schema>, Value)> {
    use serde_json::Value as J;
    Some(match j {
        J::Null => return None,
        J::Bool(b) => (schemas::optional_boolean(), Value::Boolean(*b)),
        J::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => {
                (schemas::optional_int32(), Value::Int32(i as i32))
            }
            Some(i) => (schemas::optional_int64(), Value::Int64(i)),
            None => (
                schemas::optional_float64(),
                Value::Float64(n.as_f64().unwrap_or(0.0)),
            ),
        },
        J::String(s) => (schemas::optional_string(), Value::String(s.as_str().into())),
        J::Array(items) => {
            let parts: Vec<_> = items.iter().filter_map(|i| from_json(name, i)).collect();
            let elem = parts
                .first()
                .map(|(s, _)| s.clone())
                .unwrap_or_else(schemas::optional_string);
            let s = SchemaBuilder::array(elem).optional().build();
            (s, Value::Array(parts.into_iter().map(|(_, v)| v).collect()))
        }
        J::Object(map) => {
            let mut b = SchemaBuilder::structure().name(name.to_string()).optional();
            let mut values = Vec::new();
            for (k, v) in map {
                if let Some((s, v)) = from_json(&format!("{name}.{k}"), v) {
                    b = b.field(k.clone(), s);
                    values.push(v);
                }
            }
            let s = b.build();
            (s.clone(), Value::Struct(Struct::from_values(s, values)))
        }
    })
}

impl EventRouter {
    fn timestamp(&self, env: &Struct, row: &Struct) -> Result<Option<i64>, RecordError> {
        let env_ts = env.get("ts_ms").and_then(Value::as_i64);
        let Some(col) = &self.timestamp else {
            return Ok(env_ts);
        };
        let f = row
            .schema
            .field(col)
            .ok_or_else(|| err(format!("Unable to find timestamp field {col} in event")))?;
        let Some(v) = row.get_index(f.index).as_i64() else {
            return Ok(env_ts);
        };
        Ok(Some(match f.schema.name() {
            Some(names::TIMESTAMP) | Some(names::DBZ_TIMESTAMP) => v,
            Some(names::DBZ_MICRO_TIMESTAMP) => v / 1000,
            Some(names::DBZ_NANO_TIMESTAMP) => v / 1_000_000,
            other => {
                return Err(err(format!(
                    "Unsupported field type {} for event timestamp (column {col})",
                    other.unwrap_or("without logical schema name")
                )))
            }
        }))
    }
}

impl Transform for EventRouter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.id = c.string(ID)?;
        self.key = c.string(KEY)?;
        self.payload = c.string(PAYLOAD)?;
        self.timestamp = c.opt_string(TIMESTAMP);
        self.schema_version = c.opt_string(SCHEMA_VERSION);
        self.route_by = c.string(ROUTE_BY)?;
        self.router = RegexRouter::with(
            ROUTE_REGEX,
            &c.string(ROUTE_REGEX)?,
            ROUTE_REPLACEMENT,
            &c.string(ROUTE_REPLACEMENT)?,
        )?;
        self.tombstone_on_empty = c.bool(TOMBSTONE_ON_EMPTY)?;
        self.fatal_on_update = c.string(INVALID_OP)?.trim().eq_ignore_ascii_case("fatal");
        self.expand_json = c.bool(EXPAND_JSON)?;
        self.error_on_missing = c.bool(ERROR_ON_MISSING)?;
        self.additional.clear();
        for spec in c.list(PLACEMENT) {
            let parts: Vec<&str> = spec.split(':').map(str::trim).collect();
            let place = match parts.get(1).map(|p| p.to_ascii_lowercase()) {
                Some(p) if p == "header" => Place::Header,
                Some(p) if p == "envelope" => Place::Envelope,
                Some(p) if p == "partition" => Place::Partition,
                _ => return Err(config_err(PLACEMENT, format!("Invalid value {spec}: each entry is column:header|envelope|partition[:alias]"))),
            };
            if parts.len() > 3 || parts[0].is_empty() {
                return Err(config_err(PLACEMENT, format!("Invalid value {spec}: each entry is column:header|envelope|partition[:alias]")));
            }
            let alias = parts.get(2).unwrap_or(&parts[0]).to_string();
            self.additional.push((parts[0].to_string(), place, alias));
        }
        Ok(())
    }

    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        if record.value.is_null() {
            return Ok(None);
        }
        if !is_envelope(&record) {
            return Ok(Some(record));
        }
        let Value::Struct(env) = &record.value else {
            return Ok(Some(record));
        };
        match env.get("op").and_then(Value::as_str) {
            Some("d") => return Ok(None),
            Some("u") if self.fatal_on_update => {
                return Err(err(format!("Unexpected update message received {:?} on {}; the outbox table should only receive inserts", record.key, record.topic)))
            }
            Some("u") => return Ok(None),
            _ => {}
        }
        let Some(Value::Struct(row)) = env.get("after") else {
            return Err(err(
                "Only Struct objects supported for [Read Outbox Event], found: null after",
            ));
        };
        let field = |name: &str| {
            row.schema
                .field(name)
                .map(|f| (f.schema.clone(), row.get_index(f.index).clone()))
        };
        let (mut payload_schema, mut payload) = field(&self.payload).ok_or_else(|| {
            err(format!(
                "Unable to find payload field {} in event",
                self.payload
            ))
        })?;
        let (id_schema, id) = field(&self.id).ok_or_else(|| {
            err(format!(
                "Unable to find event-id field {} in event",
                self.id
            ))
        })?;
        let timestamp = self.timestamp(env, row)?;
        let routed = match field(&self.route_by) {
            Some((_, Value::String(s))) => s,
            _ => {
                return Err(err(format!(
                    "The outbox event has no string {} column to route by ({ROUTE_BY})",
                    self.route_by
                )))
            }
        };
        let (key_schema, key) = field(&self.key).ok_or_else(|| {
            err(format!(
                "Unable to find event key field {} in event ({KEY})",
                self.key
            ))
        })?;
        record.headers.add("id", Some(id_schema), id);
        if self.expand_json {
            if let Value::String(text) = &payload {
                let t = text.trim_start();
                if t.starts_with('{') || t.starts_with('[') {
                    if let Ok(j) = serde_json::from_str::<serde_json::Value>(text) {
                        if let Some((s, v)) = from_json(&self.payload, &j) {
                            payload_schema = s;
                            payload = v;
                        }
                    }
                }
            }
        }
        let envelope_fields: Vec<_> = self
            .additional
            .iter()
            .filter(|a| a.1 == Place::Envelope)
            .collect();
        let mut envelope_values = Vec::new();
        let mut partition = None;
        for (col, place, alias) in &self.additional {
            let Some((s, v)) = field(col) else {
                if self.error_on_missing {
                    return Err(err(format!(
                        "{col} is not a valid field name ({PLACEMENT})"
                    )));
                }
                continue;
            };
            match place {
                Place::Header => record.headers.add(alias.clone(), Some(s), v),
                Place::Envelope => envelope_values.push(v),
                Place::Partition => partition = v.as_i64().map(|p| p as i32),
            }
        }
        let empty = match &payload {
            Value::Null => true,
            Value::String(s) => s.trim().is_empty(),
            _ => false,
        };
        let (value_schema, value) = if empty && self.tombstone_on_empty {
            (None, Value::Null)
        } else if envelope_fields.is_empty() && self.schema_version.is_none() {
            (Some(payload_schema), payload)
        } else {
            let version = match &self.schema_version {
                Some(c) => field(c).and_then(|(_, v)| v.as_i64()).map(|v| v as i32),
                None => None,
            };
            let schema = self
                .cache
                .get_or_build2(&payload_schema, Some(&row.schema), || {
                    let base = row.schema.name().unwrap_or("");
                    let name = match base.rfind('.') {
                        Some(i) => format!("{}{routed}.{}", &base[..=i], &base[i + 1..]),
                        None if base.is_empty() => routed.to_string(),
                        None => format!("{routed}.{base}"),
                    };
                    let mut b = SchemaBuilder::structure()
                        .name(name)
                        .field("payload", payload_schema.clone());
                    for (col, _, alias) in &envelope_fields
                        .iter()
                        .map(|a| (*a).clone())
                        .collect::<Vec<_>>()
                    {
                        if let Some(f) = row.schema.field(col) {
                            b = b.field(alias.clone(), f.schema.clone());
                        }
                    }
                    if let Some(v) = version {
                        b = b.version(v);
                    }
                    Ok(b.build())
                })?;
            let mut values = vec![payload];
            values.extend(envelope_values);
            values.resize(schema.fields.len(), Value::Null);
            (
                Some(schema.clone()),
                Value::Struct(Struct::from_values(schema, values)),
            )
        };
        record.topic = self.router.route(&routed).unwrap_or_else(|| routed.clone());
        record.kafka_partition = partition;
        record.key_schema = Some(key_schema);
        record.key = key;
        record.value_schema = value_schema;
        record.value = value;
        record.timestamp = timestamp;
        Ok(Some(record))
    }
}
