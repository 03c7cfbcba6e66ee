//! Debezium's `ExtractNewRecordState` ("unwrap"): replaces a change event
//! envelope `{before, after, source, op, ts_ms, transaction}` with its row
//! state (`after`), so sinks see plain rows.
//!
//! Deletes and tombstones follow `delete.tombstone.handling.mode`:
//! `drop` drops both; `tombstone` (the default) turns the delete event into
//! a record with a null value and drops Debezium's tombstone; `rewrite`
//! emits the `before` row with `__deleted=true` (and `__deleted=false` on
//! inserts and updates) and drops the tombstone; `rewrite-with-tombstone`
//! does the same and keeps the tombstone. The deprecated `drop.tombstones`
//! and `delete.handling.mode` (none/drop/rewrite) are honoured when the new
//! key is absent. Truncate events (no row state) are dropped; records that
//! are not envelopes (heartbeats, schema changes) pass unchanged.
//!
//! `add.fields` appends envelope metadata (`op`, `ts_ms`, `source.*`,
//! `transaction.*`, optionally `field:alias`) as optional fields named
//! `add.fields.prefix` + `struct_field`; `add.headers` does the same as
//! headers. The widened row schema is built once per (row schema, envelope
//! schema) pair.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{schemas, RecordData, Schema, SchemaType, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{config_err, copy_basics, err, parse_config, with_room, SchemaCache};

pub const DOC: &str = "Debezium's event flattening: replaces the change event envelope with the row state after the change, with configurable handling of deletes and tombstones and optional envelope metadata added as fields or headers.";
const DROP_TOMBSTONES: &str = "drop.tombstones";
const DELETE_HANDLING: &str = "delete.handling.mode";
const DELETE_TOMBSTONE_HANDLING: &str = "delete.tombstone.handling.mode";
const ROUTE_BY_FIELD: &str = "route.by.field";
const ADD_FIELDS_PREFIX: &str = "add.fields.prefix";
const ADD_FIELDS: &str = "add.fields";
const ADD_HEADERS_PREFIX: &str = "add.headers.prefix";
const ADD_HEADERS: &str = "add.headers";
const REPLACE_NULL: &str = "replace.null.with.default";
const DELETED_FIELD: &str = "__deleted";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(DELETE_TOMBSTONE_HANDLING, ConfigType::String, Some(""), Importance::Medium, "How to handle delete events and tombstones: drop (remove both), tombstone (the default: each delete becomes a record with a null value; Debezium's tombstone is removed), rewrite (the before row with __deleted=true; tombstone removed), rewrite-with-tombstone (as rewrite, tombstone kept).")
        .validate(Validator::Custom(|v| {
            if v.trim().is_empty() || ["drop", "tombstone", "rewrite", "rewrite-with-tombstone"].iter().any(|m| m.eq_ignore_ascii_case(v.trim())) {
                Ok(())
            } else {
                Err(format!("Invalid value {v}: must be one of drop, tombstone, rewrite, rewrite-with-tombstone"))
            }
        }))
        .define(DROP_TOMBSTONES, ConfigType::Boolean, Some("true"), Importance::Low, "Deprecated: use delete.tombstone.handling.mode. Whether to drop the tombstone that follows each delete.")
        .define(DELETE_HANDLING, ConfigType::String, Some("drop"), Importance::Medium, "Deprecated: use delete.tombstone.handling.mode. none passes deletes with a null value, drop removes them, rewrite adds a __deleted field.")
        .validate(Validator::OneOf(vec!["none", "drop", "rewrite"]))
        .define(ROUTE_BY_FIELD, ConfigType::String, Some(""), Importance::Low, "A row field whose value replaces the topic name (from the before row for deletes).")
        .define(ADD_FIELDS_PREFIX, ConfigType::String, Some("__"), Importance::Low, "Prefix of each field added by add.fields.")
        .define(ADD_FIELDS, ConfigType::List, Some(""), Importance::Low, "Envelope fields to add to the row, e.g. op,table,source.ts_ms (added as __op, __table, __source_ts_ms); field:alias names the new field prefix+alias.")
        .define(ADD_HEADERS_PREFIX, ConfigType::String, Some("__"), Importance::Low, "Prefix of each header added by add.headers.")
        .define(ADD_HEADERS, ConfigType::List, Some(""), Importance::Low, "Envelope fields to add as headers, named as for add.fields.")
        .define(REPLACE_NULL, ConfigType::Boolean, Some("true"), Importance::Low, "Replace null field values with the column default when rewriting. Sluice keeps values as they are.")
        .unsupported()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deletes {
    Drop,
    Null,
    Rewrite,
}

/// One `add.fields` / `add.headers` entry.
#[derive(Debug, Clone)]
struct FieldRef {
    /// `source`, `transaction`, or `None` for the envelope itself.
    parent: Option<String>,
    field: String,
    new_name: String,
}

impl FieldRef {
    fn parse(key: &str, prefix: &str, spec: &str) -> Result<FieldRef, ConfigError> {
        let mut parts = spec.split(':');
        let path = parts.next().unwrap_or("").trim();
        let alias = parts.next().map(str::trim);
        if parts.next().is_some() || path.is_empty() {
            return Err(config_err(key, format!("Unexpected field name: {spec}")));
        }
        let (parent, field) = match path.split_once('.') {
            Some((p, f)) => (Some(p.to_string()), f.to_string()),
            None => {
                let parent = match path {
                    "op" | "ts_ms" | "ts_us" | "ts_ns" => None,
                    "id" | "total_order" | "data_collection_order" => {
                        Some("transaction".to_string())
                    }
                    _ => Some("source".to_string()),
                };
                (parent, path.to_string())
            }
        };
        let new_name = match alias {
            Some(a) => format!("{prefix}{a}"),
            None => match (&parent, path.contains('.')) {
                (Some(p), true) => format!("{prefix}{p}_{field}"),
                _ => format!("{prefix}{field}"),
            },
        };
        Ok(FieldRef {
            parent,
            field,
            new_name,
        })
    }

    /// The field's schema (optional, without default) in an envelope of
    /// schema `env`; `None` when the envelope has no such field. Built once
    /// per envelope schema (see the caches), never per record.
    fn schema(&self, env: &Schema) -> Option<Arc<Schema>> {
        if let Some(p) = &self.parent {
            if let Some(f) = env.field(p).and_then(|pf| pf.schema.field(&self.field)) {
                return Some(optional_copy(&f.schema));
            }
        }
        env.field(&self.field).map(|f| optional_copy(&f.schema))
    }

    /// The field's value in `env`, resolved as [`FieldRef::schema`] does.
    fn value(&self, env: &Struct) -> Option<Value> {
        if let Some(p) = &self.parent {
            if let Some(pf) = env.schema.field(p) {
                if let Some(f) = pf.schema.field(&self.field) {
                    return Some(match env.get_index(pf.index) {
                        Value::Struct(ps) => ps.get_index(f.index).clone(),
                        _ => Value::Null,
                    });
                }
            }
        }
        let f = env.schema.field(&self.field)?;
        Some(env.get_index(f.index).clone())
    }
}

fn optional_copy(s: &Arc<Schema>) -> Arc<Schema> {
    let mut c = copy_basics(s, s.kind).optional().build_schema();
    c.fields = s.fields.clone();
    c.key_schema = s.key_schema.clone();
    c.value_schema = s.value_schema.clone();
    Arc::new(c)
}

/// Whether a record is a Debezium change event envelope.
pub fn is_envelope(r: &RecordData) -> bool {
    r.value_schema
        .as_ref()
        .and_then(|s| s.name())
        .is_some_and(|n| n.ends_with(".Envelope"))
        && matches!(r.value, Value::Struct(_))
}

pub struct ExtractNewRecordState {
    keep_tombstones: bool,
    deletes: Deletes,
    rewrite: bool,
    route_by_field: Option<String>,
    fields: Vec<FieldRef>,
    headers: Vec<FieldRef>,
    /// Widened row schema; which refs resolved.
    cache: SchemaCache<(Arc<Schema>, Arc<Vec<bool>>)>,
    header_cache: SchemaCache<HeaderSchemas>,
}

/// Per `add.headers` entry, its schema (`None`: not in this envelope).
type HeaderSchemas = Arc<Vec<Option<Arc<Schema>>>>;

impl Default for ExtractNewRecordState {
    fn default() -> Self {
        ExtractNewRecordState {
            keep_tombstones: false,
            deletes: Deletes::Null,
            rewrite: false,
            route_by_field: None,
            fields: Vec::new(),
            headers: Vec::new(),
            cache: SchemaCache::new(),
            header_cache: SchemaCache::new(),
        }
    }
}

impl ExtractNewRecordState {
    /// The row as the record's new value: moved as it is, or (with
    /// `add.fields` or a rewrite) extended in place by the extra values, with
    /// the widened schema derived once per (row schema, envelope schema).
    fn widen(
        &self,
        row: Struct,
        added: Vec<Option<Value>>,
        env_schema: &Arc<Schema>,
        deleted: Option<bool>,
    ) -> Result<(Arc<Schema>, Value), RecordError> {
        if self.fields.is_empty() && deleted.is_none() {
            return Ok((row.schema.clone(), Value::Struct(row)));
        }
        let (schema, present) = self
            .cache
            .get_or_build2(&row.schema, Some(env_schema), || {
                let mut b = copy_basics(&row.schema, SchemaType::Struct);
                for f in &row.schema.fields {
                    b = b.field(f.name.clone(), f.schema.clone());
                }
                let mut present = Vec::new();
                for f in &self.fields {
                    let s = f.schema(env_schema);
                    present.push(s.is_some());
                    if let Some(s) = s {
                        b = b.field(f.new_name.clone(), s);
                    }
                }
                if self.rewrite {
                    b = b.field(DELETED_FIELD, schemas::optional_string());
                }
                Ok((b.build(), Arc::new(present)))
            })?;
        let mut values = with_room(row.values, added.len() + 1);
        values.extend(
            added
                .into_iter()
                .zip(present.iter())
                .filter(|(_, p)| **p)
                .map(|(v, _)| v.unwrap_or(Value::Null)),
        );
        if self.rewrite {
            values.push(Value::String(deleted.unwrap_or(false).to_string().into()));
        }
        Ok((
            schema.clone(),
            Value::Struct(Struct::from_values(schema, values)),
        ))
    }

    /// The schemas of the `add.headers` entries in envelopes of this schema.
    fn header_schemas(&self, env_schema: &Arc<Schema>) -> Result<HeaderSchemas, RecordError> {
        self.header_cache.get_or_build(env_schema, || {
            Ok(Arc::new(
                self.headers.iter().map(|h| h.schema(env_schema)).collect(),
            ))
        })
    }

    fn route(&self, record: &mut RecordData, row: &Struct) -> Result<(), RecordError> {
        if let Some(f) = &self.route_by_field {
            match row.get(f) {
                None => {
                    return Err(err(format!(
                        "{ROUTE_BY_FIELD}: {f} is not a field of {}",
                        row.schema.name().unwrap_or("the row")
                    )))
                }
                Some(Value::String(t)) => record.topic = t.clone(),
                Some(Value::Null) => {}
                Some(other) => {
                    return Err(err(format!(
                        "{ROUTE_BY_FIELD}: field {f} is a {}, not a string",
                        other.type_name()
                    )))
                }
            }
        }
        Ok(())
    }
}

impl Transform for ExtractNewRecordState {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        let (keep, deletes) = match c
            .opt_string(DELETE_TOMBSTONE_HANDLING)
            .map(|s| s.to_ascii_lowercase())
        {
            Some(m) => match m.as_str() {
                "drop" => (false, Deletes::Drop),
                "rewrite" => (false, Deletes::Rewrite),
                "rewrite-with-tombstone" => (true, Deletes::Rewrite),
                _ => (false, Deletes::Null),
            },
            None if props.contains_key(DROP_TOMBSTONES) || props.contains_key(DELETE_HANDLING) => {
                let deletes = match c
                    .string(DELETE_HANDLING)?
                    .trim()
                    .to_ascii_lowercase()
                    .as_str()
                {
                    "none" => Deletes::Null,
                    "rewrite" => Deletes::Rewrite,
                    _ => Deletes::Drop,
                };
                (!c.bool(DROP_TOMBSTONES)?, deletes)
            }
            None => (false, Deletes::Null),
        };
        self.keep_tombstones = keep;
        self.deletes = deletes;
        self.rewrite = deletes == Deletes::Rewrite;
        self.route_by_field = c.opt_string(ROUTE_BY_FIELD);
        let fp = c.get(ADD_FIELDS_PREFIX).unwrap_or("__").to_string();
        let hp = c.get(ADD_HEADERS_PREFIX).unwrap_or("__").to_string();
        self.fields = c
            .list(ADD_FIELDS)
            .iter()
            .map(|s| FieldRef::parse(ADD_FIELDS, &fp, s))
            .collect::<Result<_, _>>()?;
        self.headers = c
            .list(ADD_HEADERS)
            .iter()
            .map(|s| FieldRef::parse(ADD_HEADERS, &hp, s))
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        if record.value.is_null() {
            if !self.keep_tombstones {
                return Ok(None);
            }
            for h in self
                .headers
                .iter()
                .filter(|h| h.parent.is_none() && h.field == "op")
            {
                record.headers.add(
                    h.new_name.clone(),
                    Some(schemas::string()),
                    Value::from("d"),
                );
            }
            return Ok(Some(record));
        }
        if !is_envelope(&record) {
            return Ok(Some(record));
        }
        let Value::Struct(mut env) = std::mem::take(&mut record.value) else {
            return Ok(Some(record));
        };
        if !self.headers.is_empty() {
            let header_schemas = self.header_schemas(&env.schema)?;
            for (h, s) in self.headers.iter().zip(header_schemas.iter()) {
                if let (Some(s), Some(v)) = (s, h.value(&env)) {
                    record.headers.add(h.new_name.clone(), Some(s.clone()), v);
                }
            }
        }
        let added: Vec<Option<Value>> = self.fields.iter().map(|f| f.value(&env)).collect();
        // The row states move out of the envelope: no copy of the row.
        let env_schema = env.schema.clone();
        let mut take = |name: &str| {
            env_schema
                .field(name)
                .map(|f| (&f.schema, env.values.get_mut(f.index).map(std::mem::take)))
        };
        let (after_schema, after) =
            take("after").ok_or_else(|| err("The change event envelope has no after field"))?;
        let before = take("before").and_then(|(_, v)| v).unwrap_or(Value::Null);
        match (after.unwrap_or(Value::Null), before) {
            (Value::Null, Value::Null) => Ok(None),
            (Value::Null, Value::Struct(before)) => {
                self.route(&mut record, &before)?;
                match self.deletes {
                    Deletes::Drop => Ok(None),
                    Deletes::Null => {
                        record.value_schema = Some(after_schema.clone());
                        record.value = Value::Null;
                        Ok(Some(record))
                    }
                    Deletes::Rewrite => {
                        let (s, v) = self.widen(before, added, &env_schema, Some(true))?;
                        record.value_schema = Some(s);
                        record.value = v;
                        Ok(Some(record))
                    }
                }
            }
            (Value::Struct(after), _) => {
                self.route(&mut record, &after)?;
                let deleted = if self.rewrite { Some(false) } else { None };
                let (s, v) = self.widen(after, added, &env_schema, deleted)?;
                record.value_schema = Some(s);
                record.value = v;
                Ok(Some(record))
            }
            (other, _) => Err(err(format!(
                "The change event's after field is a {}, not a struct",
                other.type_name()
            ))),
        }
    }
}
