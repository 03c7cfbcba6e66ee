//! `Flatten`: turns nested structs (schemaful) or maps (schemaless) into
//! one level, naming each leaf by its path joined with `delimiter`
//! (`a.b.c`). A leaf under an optional parent becomes optional, since the
//! parent may be null; arrays and maps are leaves and pass unchanged.
//! The flat schema and the index path of every leaf are computed once per
//! input schema, so each record is a walk along precomputed paths.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance};
use sluice_api::data::{RecordData, Schema, SchemaBuilder, SchemaType, Struct, Value};
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{
    copy_basics, err, parse_config, require_map_msg, require_struct_msg, with_optional,
    SchemaCache, Target,
};

pub const DOC: &str = "Flatten a nested data structure, generating names for each field by concatenating the field names at each level with a configurable delimiter character. Applies to Struct when schema present, or a Map in the case of schemaless data. Array fields and their contents are not modified.";
const DELIMITER: &str = "delimiter";
const PURPOSE: &str = "flattening";

pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        DELIMITER,
        ConfigType::String,
        Some("."),
        Importance::Medium,
        "Delimiter to insert between field names from the input record when generating field names for the output record.",
    )
}

type Plan = Arc<(Arc<Schema>, Vec<Vec<usize>>)>;

pub struct Flatten {
    target: Target,
    delimiter: String,
    cache: SchemaCache<Plan>,
}

impl Flatten {
    pub fn new(target: Target) -> Self {
        Flatten {
            target,
            delimiter: ".".into(),
            cache: SchemaCache::new(),
        }
    }

    fn name(&self, prefix: &str, field: &str) -> String {
        if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}{}{field}", self.delimiter)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        schema: &Schema,
        prefix: &str,
        optional: bool,
        path: &mut Vec<usize>,
        b: &mut Option<SchemaBuilder>,
        paths: &mut Vec<Vec<usize>>,
        names: &mut Vec<String>,
    ) -> Result<(), RecordError> {
        for f in &schema.fields {
            let name = self.name(prefix, &f.name);
            let opt = optional || f.schema.optional;
            path.push(f.index);
            if f.schema.kind == SchemaType::Struct {
                self.build(&f.schema, &name, opt, path, b, paths, names)?;
            } else {
                if names.contains(&name) {
                    return Err(err(format!(
                        "Flatten cannot create field {name}: two fields flatten to that name; choose another delimiter"
                    )));
                }
                let builder = b.take().unwrap_or_else(SchemaBuilder::structure);
                *b = Some(builder.field(name.clone(), with_optional(&f.schema, opt)));
                names.push(name);
                paths.push(path.clone());
            }
            path.pop();
        }
        Ok(())
    }

    fn flatten_map(
        &self,
        prefix: &str,
        entries: Vec<(Value, Value)>,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<(), RecordError> {
        for (k, v) in entries {
            let key = match &k {
                Value::String(s) => s.clone(),
                other => {
                    return Err(err(format!(
                        "Flatten needs string map keys, found a {} key",
                        other.type_name()
                    )))
                }
            };
            let name = self.name(prefix, &key);
            match v {
                Value::Map(inner) => self.flatten_map(&name, inner, out)?,
                other => out.push((Value::String(name.into()), other)),
            }
        }
        Ok(())
    }
}

fn walk<'a>(s: &'a Struct, path: &[usize]) -> &'a Value {
    let mut v = s.get_index(path[0]);
    for &i in &path[1..] {
        match v {
            Value::Struct(inner) => v = inner.get_index(i),
            _ => return &Value::Null,
        }
    }
    v
}

impl Transform for Flatten {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        self.delimiter = parse_config(&config_def(), props)?.string(DELIMITER)?;
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        if self.target.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.target.take(&mut record);
        let out = match (schema, value) {
            (None, Value::Map(entries)) => {
                let mut out = Vec::with_capacity(entries.len());
                self.flatten_map("", entries, &mut out)?;
                (None, Value::Map(out))
            }
            (None, other) => return Err(require_map_msg(&other, PURPOSE)),
            (Some(schema), Value::Struct(s)) => {
                let plan = self.cache.get_or_build(&schema, || {
                    let mut b = Some(copy_basics(&schema, SchemaType::Struct));
                    let (mut paths, mut names) = (Vec::new(), Vec::new());
                    self.build(
                        &schema,
                        "",
                        false,
                        &mut Vec::new(),
                        &mut b,
                        &mut paths,
                        &mut names,
                    )?;
                    let flat = b.unwrap_or_else(SchemaBuilder::structure).build();
                    Ok(Arc::new((flat, paths)))
                })?;
                let values = plan.1.iter().map(|p| walk(&s, p).clone()).collect();
                (
                    Some(plan.0.clone()),
                    Value::Struct(Struct::from_values(plan.0.clone(), values)),
                )
            }
            (Some(_), other) => return Err(require_struct_msg(&other, PURPOSE)),
        };
        self.target.set(&mut record, out.0, out.1);
        Ok(Some(record))
    }
}
