//! From a sink record to a change of one table row.
//!
//! A Debezium envelope (a struct with `op` and `after`) gives its `after`
//! image for c/r/u, a delete by key for d (with `delete.enabled`) and a
//! TRUNCATE for t (with `truncate.enabled`). Any other struct is a flat row
//! (ExtractNewRecordState, or a plain producer). A null value deletes by key
//! with `delete.enabled`: the tombstone Debezium writes after each delete
//! then deletes a row already gone, which is harmless because a later
//! insert of that key comes after it in the same partition.
//!
//! The column list of a record (its [`Shape`]) depends only on its topic
//! and the key and row schemas, which converters share per table: it is
//! computed once per schema pair and cached.

use std::sync::Arc;

use sluice_api::data::{Schema, SchemaBuilder, SchemaType, SinkRecord, Struct, Value};

use super::config::{Flavor, JdbcSinkConfig, PkMode};
use super::schemaless::Inferrer;
use super::types::to_text;
use super::url::Dialect;

/// A table, as named by `collection.name.format`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    /// PostgreSQL schema or MariaDB database; `None`: the connection's.
    pub schema: Option<String>,
    pub name: String,
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub schema: Arc<Schema>,
}

/// The columns a record writes: key columns first.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub columns: Vec<Column>,
    pub key_count: usize,
}

impl Shape {
    pub fn key_columns(&self) -> &[Column] {
        &self.columns[..self.key_count]
    }
    /// The shape of a delete: the key columns alone.
    fn keys_only(&self) -> Shape {
        Shape {
            columns: self.key_columns().to_vec(),
            key_count: self.key_count,
        }
    }
}

/// What one record does to its table.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Insert, upsert or update (as `insert.mode` says) of a row.
    Write {
        table: TableId,
        shape: Arc<Shape>,
        values: Vec<Option<String>>,
    },
    /// Delete by key; `values` are the key columns'.
    Delete {
        table: TableId,
        shape: Arc<Shape>,
        values: Vec<Option<String>>,
    },
    Truncate {
        table: TableId,
    },
    /// Nothing to do (a tombstone or delete without delete.enabled, ...).
    Skip,
}

struct CachedShape {
    topic: Arc<str>,
    key: Option<Arc<Schema>>,
    row: Arc<Schema>,
    shape: Arc<Shape>,
    delete: Arc<Shape>,
}

/// Turns records into changes; holds the shape cache.
pub struct Decoder {
    cfg: Arc<JdbcSinkConfig>,
    dialect: Dialect,
    shapes: Vec<CachedShape>,
    inferrer: Inferrer,
}

const MAX_SHAPES: usize = 512;

fn kafka_columns() -> Vec<Column> {
    use sluice_api::data::schemas;
    vec![
        Column {
            name: "__connect_topic".into(),
            schema: schemas::string(),
        },
        Column {
            name: "__connect_partition".into(),
            schema: schemas::int32(),
        },
        Column {
            name: "__connect_offset".into(),
            schema: schemas::int64(),
        },
    ]
}

/// The envelope's parts, when the value is a Debezium change event.
struct Envelope<'a> {
    op: &'a str,
    after: Option<&'a Struct>,
    source: Option<&'a Struct>,
}

fn envelope(value: &Value) -> Option<Envelope<'_>> {
    let st = value.as_struct()?;
    let op = st.get("op")?.as_str()?;
    let schema = &st.schema;
    if schema.field("after").is_none() && schema.field("before").is_none() {
        return None;
    }
    Some(Envelope {
        op,
        after: st.get("after").and_then(Value::as_struct),
        source: st.get("source").and_then(Value::as_struct),
    })
}

impl Decoder {
    pub fn new(cfg: Arc<JdbcSinkConfig>, dialect: Dialect) -> Decoder {
        Decoder {
            cfg,
            dialect,
            shapes: Vec::new(),
            inferrer: Inferrer::default(),
        }
    }

    /// The change a record makes, or why it cannot be written.
    pub fn decode(&mut self, rec: &SinkRecord) -> Result<Change, String> {
        // Schemaless maps get an inferred schema first.
        let inferred = self.inferrer.infer(rec);
        let rec = inferred.as_ref().unwrap_or(rec);
        let d = &rec.data;
        if let Some(name) = d.value_schema.as_ref().and_then(|s| s.name()) {
            if name.ends_with("SchemaChangeValue") {
                return Err(format!(
                    "topic {} carries schema change events ({name}), which the JDBC sink does not apply: set topics (or topics.regex) to the table topics only",
                    d.topic
                ));
            }
        }
        let env = envelope(&d.value);
        let table = self.table_id(rec, env.as_ref())?;
        let table = match table {
            Some(t) => t,
            None => return Ok(Change::Skip),
        };
        let row = match (&d.value, &env) {
            (Value::Null, _) => return self.delete(rec, table),
            (_, Some(e)) => match e.op {
                "c" | "r" | "u" => e.after.ok_or_else(|| {
                    format!("a change event (op {}) without an after image", e.op)
                })?,
                "d" => return self.delete(rec, table),
                "t" if self.cfg.truncate_enabled => return Ok(Change::Truncate { table }),
                _ => return Ok(Change::Skip),
            },
            (Value::Struct(s), None) => s,
            (v, None) => {
                return Err(format!(
                    "the value is a {}, not a struct or JSON object: the JDBC sink writes rows (structs, or JSON objects without schemas)",
                    v.type_name()
                ))
            }
        };
        let (shape, _) = self.shapes_for(rec, &row.schema, &table)?;
        let mut values = Vec::with_capacity(shape.columns.len());
        for (i, col) in shape.columns.iter().enumerate() {
            let v = if i < shape.key_count {
                self.key_value(rec, row, &col.name)?
            } else {
                row.get(&col.name).cloned().unwrap_or(Value::Null)
            };
            values.push(self.text(&table, col, &v)?);
        }
        Ok(Change::Write {
            table,
            shape,
            values,
        })
    }

    fn text(&self, table: &TableId, col: &Column, v: &Value) -> Result<Option<String>, String> {
        to_text(v, &col.schema, self.dialect)
            .map_err(|e| format!("table {table}, column {}: {e}", col.name))
    }

    fn delete(&mut self, rec: &SinkRecord, table: TableId) -> Result<Change, String> {
        if !self.cfg.delete_enabled || rec.data.key.is_null() {
            return Ok(Change::Skip);
        }
        let shape = self.key_shape(rec, &table)?;
        let mut values = Vec::with_capacity(shape.columns.len());
        for col in &shape.columns {
            let v = self.key_value(rec, &Struct::new(empty_schema()), &col.name)?;
            values.push(self.text(&table, col, &v)?);
        }
        Ok(Change::Delete {
            table,
            shape,
            values,
        })
    }

    /// A key column's value: from the key (record_key), the row
    /// (record_value) or the Kafka coordinates (kafka).
    fn key_value(&self, rec: &SinkRecord, row: &Struct, name: &str) -> Result<Value, String> {
        Ok(match self.cfg.pk_mode {
            PkMode::Kafka => match name {
                "__connect_topic" => Value::from(rec.original_topic.as_str()),
                "__connect_partition" => Value::Int32(rec.original_partition),
                _ => Value::Int64(rec.kafka_offset),
            },
            PkMode::RecordKey => match &rec.data.key {
                Value::Struct(k) => k.get(name).cloned().unwrap_or(Value::Null),
                Value::Null => return Err(self.no_key(rec)),
                primitive => primitive.clone(),
            },
            PkMode::RecordValue | PkMode::None => row.get(name).cloned().unwrap_or(Value::Null),
        })
    }

    fn no_key(&self, rec: &SinkRecord) -> String {
        format!(
            "the record at {}-{}@{} has no key, but {}=record_key takes the primary key from it",
            rec.original_topic,
            rec.original_partition,
            rec.kafka_offset,
            self.mode_key()
        )
    }

    fn mode_key(&self) -> &'static str {
        match self.cfg.flavor {
            Flavor::Debezium => "primary.key.mode",
            Flavor::Confluent => "pk.mode",
        }
    }

    fn fields_key(&self) -> &'static str {
        match self.cfg.flavor {
            Flavor::Debezium => "primary.key.fields",
            Flavor::Confluent => "pk.fields",
        }
    }

    fn key_shape(&mut self, rec: &SinkRecord, table: &TableId) -> Result<Arc<Shape>, String> {
        let row = empty_schema();
        Ok(self.shapes_for(rec, &row, table)?.1)
    }

    /// The write and delete shapes of a record, cached per schema pair.
    fn shapes_for(
        &mut self,
        rec: &SinkRecord,
        row: &Arc<Schema>,
        table: &TableId,
    ) -> Result<(Arc<Shape>, Arc<Shape>), String> {
        let d = &rec.data;
        let same = |a: &Option<Arc<Schema>>, b: &Option<Arc<Schema>>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if let Some(c) = self
            .shapes
            .iter()
            .find(|c| Arc::ptr_eq(&c.row, row) && same(&c.key, &d.key_schema) && c.topic == d.topic)
        {
            return Ok((c.shape.clone(), c.delete.clone()));
        }
        let shape = self.build_shape(rec, row, table)?;
        let delete = Arc::new(shape.keys_only());
        let shape = Arc::new(shape);
        if self.shapes.len() >= MAX_SHAPES {
            self.shapes.clear();
        }
        self.shapes.push(CachedShape {
            topic: d.topic.clone(),
            key: d.key_schema.clone(),
            row: row.clone(),
            shape: shape.clone(),
            delete: delete.clone(),
        });
        Ok((shape, delete))
    }

    fn build_shape(
        &self,
        rec: &SinkRecord,
        row: &Arc<Schema>,
        table: &TableId,
    ) -> Result<Shape, String> {
        let cfg = &self.cfg;
        let mut columns: Vec<Column> = match cfg.pk_mode {
            PkMode::None => Vec::new(),
            PkMode::Kafka => kafka_columns(),
            PkMode::RecordKey => self.record_key_columns(rec, table)?,
            PkMode::RecordValue => {
                let names: Vec<String> = if cfg.pk_fields.is_empty() {
                    row.fields.iter().map(|f| f.name.clone()).collect()
                } else {
                    cfg.pk_fields.clone()
                };
                let mut cols = Vec::new();
                for n in names {
                    match row.field(&n) {
                        Some(f) => cols.push(Column {
                            name: n,
                            schema: f.schema.clone(),
                        }),
                        // A delete has no row: its key is taken from the key.
                        None if row.fields.is_empty() => {}
                        None => {
                            return Err(format!(
                            "table {table}: {} names {n}, which is not a field of the record value",
                            self.fields_key()
                        ))
                        }
                    }
                }
                cols
            }
        };
        let key_count = columns.len();
        for f in &row.fields {
            if columns[..key_count].iter().any(|c| c.name == f.name) {
                continue;
            }
            if !cfg.writes_field(&rec.data.topic, &f.name) {
                continue;
            }
            columns.push(Column {
                name: f.name.clone(),
                schema: f.schema.clone(),
            });
        }
        Ok(Shape { columns, key_count })
    }

    fn record_key_columns(&self, rec: &SinkRecord, table: &TableId) -> Result<Vec<Column>, String> {
        let d = &rec.data;
        let schema = match &d.key_schema {
            Some(s) => s.clone(),
            None if d.key.is_null() => return Err(self.no_key(rec)),
            None => {
                return Err(format!(
                    "table {table}: the record key has no schema; {}=record_key needs keys with schemas (key.converter.schemas.enable=true)",
                    self.mode_key()
                ))
            }
        };
        if schema.kind == SchemaType::Struct {
            let names: Vec<String> = if self.cfg.pk_fields.is_empty() {
                schema.fields.iter().map(|f| f.name.clone()).collect()
            } else {
                self.cfg.pk_fields.clone()
            };
            return names
                .into_iter()
                .map(|n| match schema.field(&n) {
                    Some(f) => Ok(Column {
                        name: n,
                        schema: f.schema.clone(),
                    }),
                    None => Err(format!(
                        "table {table}: {} names {n}, which is not a field of the record key",
                        self.fields_key()
                    )),
                })
                .collect();
        }
        match self.cfg.pk_fields.as_slice() {
            [one] => Ok(vec![Column {
                name: one.clone(),
                schema,
            }]),
            _ => Err(format!(
                "table {table}: the record key is a primitive {}; name its column with exactly one {}",
                schema.kind,
                self.fields_key()
            )),
        }
    }

    /// The table from `collection.name.format`; `None` skips the record
    /// (a `${source.*}` format on a record without a source block).
    fn table_id(
        &self,
        rec: &SinkRecord,
        env: Option<&Envelope<'_>>,
    ) -> Result<Option<TableId>, String> {
        let cfg = &self.cfg;
        let topic = if cfg.topic_dots_to_underscores {
            rec.data.topic.replace('.', "_")
        } else {
            rec.data.topic.to_string()
        };
        let mut name = cfg.table_format.replace("${topic}", &topic);
        while let Some(start) = name.find("${source.") {
            let end = match name[start..].find('}') {
                Some(e) => start + e,
                None => break,
            };
            let field = &name[start + "${source.".len()..end];
            let value = env
                .and_then(|e| e.source)
                .and_then(|s| s.get(field))
                .and_then(|v| match v {
                    Value::String(s) => Some(s.to_string()),
                    Value::Null => None,
                    other => other.as_i64().map(|n| n.to_string()),
                });
            match value {
                Some(v) => name.replace_range(start..=end, &v),
                None => {
                    tracing::warn!(
                        "skipping the record at {}-{}@{}: the table name format {} needs source.{field}, which the record does not carry",
                        rec.original_topic,
                        rec.original_partition,
                        rec.kafka_offset,
                        cfg.table_format
                    );
                    return Ok(None);
                }
            }
        }
        Ok(Some(split_table(&name)?))
    }
}

fn empty_schema() -> Arc<Schema> {
    use std::sync::OnceLock;
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| SchemaBuilder::structure().build()).clone()
}

/// `schema.table` or `table`; three parts (`catalog.schema.table`) keep
/// the last two.
pub fn split_table(name: &str) -> Result<TableId, String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "the table name '{name}' (from the table name format) has an empty part"
        ));
    }
    Ok(match parts.as_slice() {
        [t] => TableId {
            schema: None,
            name: t.to_string(),
        },
        [.., s, t] => TableId {
            schema: Some(s.to_string()),
            name: t.to_string(),
        },
        [] => unreachable!("split yields at least one part"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::{schemas, RecordData};
    use sluice_api::Props;

    fn cfg(extra: &[(&str, &str)]) -> Arc<JdbcSinkConfig> {
        let mut p = Props::new();
        p.insert("connection.url".into(), "jdbc:postgresql://h/d".into());
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        Arc::new(JdbcSinkConfig::parse(&p, Flavor::Debezium).unwrap())
    }

    fn row_schema() -> Arc<Schema> {
        SchemaBuilder::structure()
            .name("srv.db.t.Value")
            .field("id", schemas::int32())
            .field("name", schemas::optional_string())
            .build()
    }

    fn key_schema() -> Arc<Schema> {
        SchemaBuilder::structure()
            .name("srv.db.t.Key")
            .field("id", schemas::int32())
            .build()
    }

    fn envelope_schema(row: &Arc<Schema>) -> Arc<Schema> {
        let source = SchemaBuilder::structure()
            .field("db", schemas::string())
            .field("table", schemas::optional_string())
            .build();
        SchemaBuilder::structure()
            .name("srv.db.t.Envelope")
            .field("before", row.to_optional())
            .field("after", row.to_optional())
            .field("source", source)
            .field("op", schemas::string())
            .build()
    }

    fn record(op: Option<&str>, id: i32, name: Option<&str>) -> SinkRecord {
        let row = row_schema();
        let key = Struct::new(key_schema()).with("id", Value::Int32(id));
        let after = Struct::new(row.clone())
            .with("id", Value::Int32(id))
            .with("name", name.into());
        let (value_schema, value) = match op {
            None => (Some(row), Value::Struct(after)),
            Some("tombstone") => (None, Value::Null),
            Some(op) => {
                let env = envelope_schema(&row);
                let source = Struct::new(env.field("source").unwrap().schema.clone())
                    .with("db", "db".into())
                    .with("table", "t".into());
                let mut v = Struct::new(env.clone())
                    .with("source", Value::Struct(source))
                    .with("op", op.into());
                if op != "d" {
                    v = v.with("after", Value::Struct(after));
                }
                (Some(env), Value::Struct(v))
            }
        };
        SinkRecord {
            data: RecordData {
                topic: "srv.db.t".into(),
                kafka_partition: Some(0),
                key_schema: Some(key_schema()),
                key: Value::Struct(key),
                value_schema,
                value,
                timestamp: None,
                headers: Default::default(),
                kafka_offset: Some(7),
            },
            kafka_offset: 7,
            original_topic: "srv.db.t".into(),
            original_partition: 0,
        }
    }

    fn texts(c: &Change) -> (String, Vec<String>, Vec<Option<String>>) {
        match c {
            Change::Write {
                table,
                shape,
                values,
            }
            | Change::Delete {
                table,
                shape,
                values,
            } => (
                table.to_string(),
                shape.columns.iter().map(|c| c.name.clone()).collect(),
                values.clone(),
            ),
            other => panic!("not a row change: {other:?}"),
        }
    }

    #[test]
    fn envelope_after_images_become_rows_named_after_the_topic() {
        let mut d = Decoder::new(
            cfg(&[("primary.key.mode", "record_key")]),
            Dialect::Postgres,
        );
        let c = d.decode(&record(Some("u"), 5, Some("x"))).unwrap();
        let (t, cols, vals) = texts(&c);
        assert_eq!(t, "srv_db_t");
        assert_eq!(cols, vec!["id", "name"]);
        assert_eq!(vals, vec![Some("5".into()), Some("x".into())]);
        // Flat rows give the same change.
        assert_eq!(d.decode(&record(None, 5, Some("x"))).unwrap(), c);
    }

    #[test]
    fn deletes_need_delete_enabled() {
        let mut d = Decoder::new(
            cfg(&[("primary.key.mode", "record_key")]),
            Dialect::Postgres,
        );
        assert_eq!(d.decode(&record(Some("d"), 5, None)).unwrap(), Change::Skip);
        let mut d = Decoder::new(
            cfg(&[
                ("primary.key.mode", "record_key"),
                ("delete.enabled", "true"),
            ]),
            Dialect::Postgres,
        );
        let (_, cols, vals) = texts(&d.decode(&record(Some("d"), 5, None)).unwrap());
        assert_eq!(
            (cols, vals),
            (vec!["id".to_string()], vec![Some("5".into())])
        );
        let (_, cols, _) = texts(&d.decode(&record(Some("tombstone"), 5, None)).unwrap());
        assert_eq!(cols, vec!["id".to_string()]);
    }

    #[test]
    fn truncates_need_truncate_enabled() {
        let mut d = Decoder::new(cfg(&[]), Dialect::Postgres);
        assert_eq!(d.decode(&record(Some("t"), 5, None)).unwrap(), Change::Skip);
        let mut d = Decoder::new(cfg(&[("truncate.enabled", "true")]), Dialect::Postgres);
        assert!(matches!(
            d.decode(&record(Some("t"), 5, None)).unwrap(),
            Change::Truncate { .. }
        ));
    }

    #[test]
    fn source_fields_and_schemas_in_table_names() {
        let mut d = Decoder::new(
            cfg(&[(
                "collection.name.format",
                "copy.${source.db}_${source.table}",
            )]),
            Dialect::Postgres,
        );
        let (t, cols, _) = texts(&d.decode(&record(Some("c"), 1, None)).unwrap());
        assert_eq!(t, "copy.db_t");
        assert_eq!(cols, vec!["id", "name"]);
        // A flat record has no source block: skipped.
        assert_eq!(d.decode(&record(None, 1, None)).unwrap(), Change::Skip);
    }

    #[test]
    fn kafka_and_record_value_keys() {
        let mut d = Decoder::new(cfg(&[("primary.key.mode", "kafka")]), Dialect::Postgres);
        let (_, cols, vals) = texts(&d.decode(&record(None, 3, Some("a"))).unwrap());
        assert_eq!(
            cols,
            vec![
                "__connect_topic",
                "__connect_partition",
                "__connect_offset",
                "id",
                "name"
            ]
        );
        assert_eq!(
            vals[..3],
            [Some("srv.db.t".into()), Some("0".into()), Some("7".into())]
        );
        let mut d = Decoder::new(
            cfg(&[
                ("primary.key.mode", "record_value"),
                ("primary.key.fields", "name"),
            ]),
            Dialect::Postgres,
        );
        let (_, cols, _) = texts(&d.decode(&record(None, 3, Some("a"))).unwrap());
        assert_eq!(cols, vec!["name", "id"]);
        let mut d = Decoder::new(
            cfg(&[
                ("primary.key.mode", "record_key"),
                ("primary.key.fields", "nope"),
            ]),
            Dialect::Postgres,
        );
        let e = d.decode(&record(None, 3, None)).unwrap_err();
        assert!(
            e.contains("nope") && e.contains("primary.key.fields"),
            "{e}"
        );
    }

    #[test]
    fn field_filters_leave_value_columns_out() {
        let mut d = Decoder::new(
            cfg(&[
                ("primary.key.mode", "record_key"),
                ("field.exclude.list", "srv.db.t:name"),
            ]),
            Dialect::Postgres,
        );
        let (_, cols, _) = texts(&d.decode(&record(None, 3, Some("a"))).unwrap());
        assert_eq!(cols, vec!["id"]);
    }

    #[test]
    fn schemaless_values_are_refused_with_a_remedy() {
        let mut r = record(None, 1, None);
        r.data.value_schema = None;
        r.data.value = Value::from("text");
        let mut d = Decoder::new(cfg(&[]), Dialect::Postgres);
        let e = d.decode(&r).unwrap_err();
        assert!(e.contains("not a struct or JSON object"), "{e}");
    }

    #[test]
    fn table_names_split_on_dots() {
        assert_eq!(split_table("a").unwrap().to_string(), "a");
        assert_eq!(split_table("s.a").unwrap().schema.as_deref(), Some("s"));
        assert_eq!(split_table("c.s.a").unwrap().to_string(), "s.a");
        assert!(split_table("s.").is_err());
    }
}
