//! `HeaderFrom`: copies (or moves) fields of the key or value into headers:
//! `fields[i]` becomes header `headers[i]`, with the field's schema. With
//! `operation=move` the fields leave the struct; that narrower schema is
//! built once per input schema. Null keys or values pass unchanged.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::{RecordData, Schema, SchemaType, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{
    config_err, copy_basics, err, map_get, parse_config, require_map_msg, require_struct_msg,
    SchemaCache, Target,
};

pub const DOC: &str = "Moves or copies fields in the key/value of a record into that record's headers. Corresponding elements of fields and headers together identify a field and the header it should be moved or copied to.";
const FIELDS: &str = "fields";
const HEADERS: &str = "headers";
const OPERATION: &str = "operation";
const REPLACE_NULL: &str = "replace.null.with.default";
const PURPOSE: &str = "header from field";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(FIELDS, ConfigType::List, None, Importance::High, "Field names in the record whose values are to be copied or moved to headers.")
        .validate(Validator::NonEmpty)
        .define(HEADERS, ConfigType::List, None, Importance::High, "Header names, in the same order as the field names listed in the fields configuration property.")
        .validate(Validator::NonEmpty)
        .define(OPERATION, ConfigType::String, None, Importance::High, "Either move if the fields are to be moved to the headers (removed from the key/value), or copy if the fields are to be copied to the headers (retained in the key/value).")
        .validate(Validator::OneOf(vec!["move", "copy"]))
        .define(REPLACE_NULL, ConfigType::Boolean, Some("true"), Importance::Medium, "Whether to replace fields that have a default value and that are null to the default value. Sluice keeps values as they are.")
}

/// Per input schema: the header (schema, field index) list and, for move,
/// the schema left behind with the indexes it keeps.
type Plan = Arc<(Vec<(Arc<Schema>, usize)>, Option<(Arc<Schema>, Vec<usize>)>)>;

pub struct HeaderFrom {
    target: Target,
    fields: Vec<String>,
    headers: Vec<String>,
    moving: bool,
    cache: SchemaCache<Plan>,
}

impl HeaderFrom {
    pub fn new(target: Target) -> Self {
        HeaderFrom {
            target,
            fields: Vec::new(),
            headers: Vec::new(),
            moving: false,
            cache: SchemaCache::new(),
        }
    }

    fn plan(&self, schema: &Arc<Schema>) -> Result<Plan, RecordError> {
        self.cache.get_or_build(schema, || {
            let mut headers = Vec::new();
            for f in &self.fields {
                let field = schema.field(f).ok_or_else(|| {
                    err(format!(
                        "Field {f} not found in the {} schema {}",
                        self.target.name(),
                        schema.name().unwrap_or("(unnamed)")
                    ))
                })?;
                headers.push((field.schema.clone(), field.index));
            }
            let rest = if self.moving {
                let mut b = copy_basics(schema, SchemaType::Struct);
                let mut keep = Vec::new();
                for f in &schema.fields {
                    if !self.fields.contains(&f.name) {
                        b = b.field(f.name.clone(), f.schema.clone());
                        keep.push(f.index);
                    }
                }
                Some((b.build(), keep))
            } else {
                None
            };
            Ok(Arc::new((headers, rest)))
        })
    }
}

impl Transform for HeaderFrom {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.fields = c.list(FIELDS);
        self.headers = c.list(HEADERS);
        if self.fields.len() != self.headers.len() {
            return Err(config_err(
                HEADERS,
                format!("'{FIELDS}' config must have the same number of elements as '{HEADERS}' config ({} fields, {} headers)", self.fields.len(), self.headers.len()),
            ));
        }
        self.moving = c.string(OPERATION)?.trim().eq_ignore_ascii_case("move");
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        if self.target.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.target.take(&mut record);
        let out = match (schema, value) {
            (None, Value::Map(mut entries)) => {
                for (f, h) in self.fields.iter().zip(&self.headers) {
                    let v = map_get(&entries, f).cloned().unwrap_or(Value::Null);
                    record.headers.add(h.clone(), None, v);
                }
                if self.moving {
                    entries.retain(|(k, _)| {
                        !k.as_str()
                            .is_some_and(|k| self.fields.iter().any(|f| f == k))
                    });
                }
                (None, Value::Map(entries))
            }
            (None, other) => return Err(require_map_msg(&other, PURPOSE)),
            (Some(schema), Value::Struct(s)) => {
                let plan = self.plan(&schema)?;
                for ((hs, i), h) in plan.0.iter().zip(&self.headers) {
                    record
                        .headers
                        .add(h.clone(), Some(hs.clone()), s.get_index(*i).clone());
                }
                match &plan.1 {
                    Some((rest, keep)) => {
                        let mut values = s.values;
                        let kept = keep
                            .iter()
                            .map(|&i| values.get_mut(i).map(std::mem::take).unwrap_or(Value::Null))
                            .collect();
                        (
                            Some(rest.clone()),
                            Value::Struct(Struct::from_values(rest.clone(), kept)),
                        )
                    }
                    None => (Some(schema), Value::Struct(s)),
                }
            }
            (Some(_), other) => return Err(require_struct_msg(&other, PURPOSE)),
        };
        self.target.set(&mut record, out.0, out.1);
        Ok(Some(record))
    }
}
