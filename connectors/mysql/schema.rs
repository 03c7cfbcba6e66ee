//! Debezium's event schemas, built once per table version.
//!
//! A [`TableSchema`] holds everything a row needs to become an event: the
//! decoding plans of every column (the binlog carries all of them), which
//! columns the user keeps (column.include/exclude.list), the key columns
//! (primary key, or message.key.columns), and the shared `Arc<Schema>`s:
//! `<prefix>.<db>.<table>.Key`, `.Value` and `.Envelope` (version 1, as
//! Debezium 2.x). Nothing here runs per row.
//!
//! Names and topics as [`crate::debezium::schema`] says.

use std::sync::{Arc, OnceLock};

use sluice_api::data::{schemas, Schema, SchemaBuilder, Value};

use super::column::{Adapt, ColumnPlan};
use super::config::{Flavor, MySqlConfig};
use crate::debezium::schema::{source_builder, transaction_schema};

/// The `source` struct (io.debezium.connector.mysql.Source, or the
/// mariadb namespace for the MariaDB connector), fields in Debezium 2.7's order.
pub fn source_schema(flavor: Flavor) -> Arc<Schema> {
    static MYSQL: OnceLock<Arc<Schema>> = OnceLock::new();
    static MARIA: OnceLock<Arc<Schema>> = OnceLock::new();
    let cell = match flavor {
        Flavor::MySql => &MYSQL,
        Flavor::MariaDb => &MARIA,
    };
    cell.get_or_init(|| {
        source_builder(flavor.source_schema_name())
            .version(1)
            .field("table", schemas::optional_string())
            .field("server_id", schemas::int64())
            .field("gtid", schemas::optional_string())
            .field("file", schemas::string())
            .field("pos", schemas::int64())
            .field("row", schemas::int32())
            .field("thread", schemas::optional_int64())
            .field("query", schemas::optional_string())
            .build()
    })
    .clone()
}

/// Field positions in [`source_schema`]: the common ones, then MySQL's.
pub mod source_field {
    pub use crate::debezium::schema::source_field::{
        CONNECTOR, DB, NAME, SNAPSHOT, TS_MS, TS_NS, TS_US, VERSION,
    };
    pub const TABLE: usize = 9;
    pub const SERVER_ID: usize = 10;
    pub const GTID: usize = 11;
    pub const FILE: usize = 12;
    pub const POS: usize = 13;
    pub const ROW: usize = 14;
    pub const THREAD: usize = 15;
    pub const QUERY: usize = 16;
    pub const COUNT: usize = 17;
}

/// `<prefix>.<db>.<table>.Envelope` (schema version 2, as Debezium 3.x's),
/// fields in Debezium 2.7's order.
pub fn envelope_schema(name: &str, row: &Arc<Schema>, flavor: Flavor) -> Arc<Schema> {
    SchemaBuilder::structure()
        .name(name)
        .version(2)
        .field("before", row.clone())
        .field("after", row.clone())
        .field("source", source_schema(flavor))
        .field("transaction", transaction_schema())
        .field("op", schemas::string())
        .field("ts_ms", schemas::optional_int64())
        .field("ts_us", schemas::optional_int64())
        .field("ts_ns", schemas::optional_int64())
        .build()
}

/// Everything needed to turn one table version's rows into events.
#[derive(Debug)]
pub struct TableSchema {
    /// Shared into every event's `source` (a count, not a copy).
    pub db: Arc<str>,
    pub table: Arc<str>,
    pub topic: Arc<str>,
    /// `db.table`: the data collection of transaction metadata.
    pub collection: String,
    /// Decoding plans of every column, in table order.
    pub plans: Vec<ColumnPlan>,
    /// Indexes (into `plans`) of the columns events carry.
    pub kept: Vec<usize>,
    /// `.Value`: the kept columns.
    pub value_schema: Arc<Schema>,
    /// `.Key` and the key columns' indexes into `plans`; `None` for a
    /// table without a primary key (and no message.key.columns): key null.
    pub key: Option<(Arc<Schema>, Vec<usize>)>,
    pub envelope: Arc<Schema>,
    /// Columns whose decoded values a mapping option changes (index into
    /// `plans`); empty with Debezium's default modes.
    pub adapt: Vec<(usize, Adapt)>,
    /// column.mask.* / column.truncate.* rules (index into `plans`).
    pub rules: Vec<(usize, super::column_rules::Rule)>,
}

impl TableSchema {
    /// Builds the schemas of a table version. `primary_key` are column
    /// indexes; message.key.columns overrides them.
    pub fn new(
        cfg: &MySqlConfig,
        db: &str,
        table: &str,
        plans: Vec<ColumnPlan>,
        primary_key: &[usize],
    ) -> Result<TableSchema, String> {
        let prefix = &cfg.topic_prefix;
        let base = format!("{prefix}.{db}.{table}");
        let mut plans = plans;
        let mut rules = Vec::new();
        if !cfg.column_rules.is_empty() {
            for (i, p) in plans.iter_mut().enumerate() {
                // Character columns only, as Debezium's.
                let found = if p.schema.kind == sluice_api::data::SchemaType::String {
                    cfg.column_rules.for_column(db, table, &p.name)
                } else {
                    Vec::new()
                };
                if !found.is_empty() {
                    let mut s = (*p.schema).clone();
                    for r in &found {
                        let (k, v) = r.parameter();
                        s.parameters.insert(k.into(), v);
                    }
                    p.schema = Arc::new(s);
                }
                for r in found {
                    rules.push((i, r));
                }
                let model = p.column_type.as_ref().map(|t| {
                    super::catalog::ColumnDesc {
                        column_type: t.clone(),
                        ..Default::default()
                    }
                    .model()
                });
                if let Some(m) = model {
                    if cfg
                        .column_rules
                        .propagates(db, table, &p.name, &m.type_name)
                    {
                        p.schema = super::column_rules::with_source_type(
                            &p.schema,
                            &p.name,
                            &m.type_name,
                            m.length,
                            m.scale,
                        );
                    }
                }
            }
        }
        let kept: Vec<usize> = (0..plans.len())
            .filter(|&i| cfg.filters.captures_column(db, table, &plans[i].name))
            .collect();
        let mut vb = SchemaBuilder::structure()
            .name(format!("{base}.Value"))
            .optional();
        for &i in &kept {
            vb = vb.field(plans[i].name.clone(), plans[i].schema.clone());
        }
        let value_schema = vb.build();
        let key_idx: Vec<usize> = match cfg.key_columns_for(db, table) {
            Some(cols) => cols
                .iter()
                .map(|c| {
                    plans.iter().position(|p| p.name.eq_ignore_ascii_case(c)).ok_or_else(|| {
                        format!("message.key.columns names {db}.{table}.{c}, which the table does not have")
                    })
                })
                .collect::<Result<_, _>>()?,
            None => primary_key.iter().copied().filter(|&i| i < plans.len()).collect(),
        };
        let key = if key_idx.is_empty() {
            None
        } else {
            let mut kb = SchemaBuilder::structure().name(format!("{base}.Key"));
            for &i in &key_idx {
                // The column's own field schema: a nullable column named by
                // message.key.columns stays optional, as in Debezium's keys.
                kb = kb.field(plans[i].name.clone(), plans[i].schema.clone());
            }
            Some((kb.build(), key_idx))
        };
        let envelope = envelope_schema(&format!("{base}.Envelope"), &value_schema, cfg.flavor);
        let adapt = plans
            .iter()
            .enumerate()
            .filter(|(_, p)| p.adapt != Adapt::None)
            .map(|(i, p)| (i, p.adapt))
            .collect();
        Ok(TableSchema {
            db: db.into(),
            table: table.into(),
            topic: cfg.common.topic(&[prefix, db, table]).into(),
            collection: format!("{db}.{table}"),
            plans,
            kept,
            value_schema,
            key,
            envelope,
            adapt,
            rules,
        })
    }

    /// Applies the mapping options' changes to a decoded row.
    pub fn adapt_row(&self, row: Option<&mut [Value]>) {
        if let Some(row) = row {
            for &(i, a) in &self.adapt {
                if let Some(v) = row.get_mut(i) {
                    a.apply(v);
                }
            }
            for (i, r) in &self.rules {
                if let Some(v) = row.get_mut(*i) {
                    r.apply(v);
                }
            }
        }
    }
}

/// io.debezium.connector.mysql.SchemaChangeKey.
pub fn schema_change_key_schema(flavor: Flavor) -> Arc<Schema> {
    SchemaBuilder::structure()
        .name(format!("{}.SchemaChangeKey", flavor.namespace()))
        .version(1)
        .field("databaseName", schemas::string())
        .build()
}

fn column_change_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .name("io.debezium.connector.schema.Column")
        .version(1)
        .field("name", schemas::string())
        .field("jdbcType", schemas::int32())
        .field("nativeType", schemas::optional_int32())
        .field("typeName", schemas::string())
        .field("typeExpression", schemas::optional_string())
        .field("charsetName", schemas::optional_string())
        .field("length", schemas::optional_int32())
        .field("scale", schemas::optional_int32())
        .field("position", schemas::int32())
        .field("optional", schemas::optional_boolean())
        .field("autoIncremented", schemas::optional_boolean())
        .field("generated", schemas::optional_boolean())
        .field("comment", schemas::optional_string())
        .field("defaultValueExpression", schemas::optional_string())
        .field(
            "enumValues",
            SchemaBuilder::array(schemas::string()).optional().build(),
        )
        .build()
}

/// The `table` struct of a tableChanges entry.
pub fn table_change_table_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .name("io.debezium.connector.schema.Table")
        .version(1)
        .optional()
        .field("defaultCharsetName", schemas::optional_string())
        .field(
            "primaryKeyColumnNames",
            SchemaBuilder::array(schemas::string()).optional().build(),
        )
        .field(
            "columns",
            SchemaBuilder::array(column_change_schema()).build(),
        )
        .field("comment", schemas::optional_string())
        .build()
}

pub fn table_change_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .name("io.debezium.connector.schema.Change")
        .version(1)
        .field("type", schemas::string())
        .field("id", schemas::string())
        .field("table", table_change_table_schema())
        .build()
}

/// io.debezium.connector.mysql.SchemaChangeValue.
pub fn schema_change_value_schema(flavor: Flavor) -> Arc<Schema> {
    SchemaBuilder::structure()
        .name(format!("{}.SchemaChangeValue", flavor.namespace()))
        .version(1)
        .field("source", source_schema(flavor))
        .field("ts_ms", schemas::int64())
        .field("databaseName", schemas::optional_string())
        .field("schemaName", schemas::optional_string())
        .field("ddl", schemas::optional_string())
        .field(
            "tableChanges",
            SchemaBuilder::array(table_change_schema()).build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::column::{plan, DecodeOptions};
    use crate::mysql::table_map::{col, MapColumn};

    fn cfg(extra: &[(&str, &str)]) -> MySqlConfig {
        let mut p = sluice_api::Props::new();
        for (k, v) in [
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.server.id", "9"),
            ("topic.prefix", "dbserver1"),
        ]
        .iter()
        .chain(extra)
        {
            p.insert(k.to_string(), v.to_string());
        }
        MySqlConfig::parse(&p, Flavor::MySql).unwrap()
    }

    fn plans() -> Vec<ColumnPlan> {
        let cols = [
            (col::LONG, false, "id"),
            (col::VARCHAR, true, "email"),
            (col::VARCHAR, true, "secret"),
        ];
        cols.iter()
            .enumerate()
            .map(|(i, (t, nullable, name))| {
                let c = MapColumn {
                    column_type: *t,
                    meta: 255,
                    nullable: *nullable,
                    name: Some(name.to_string()),
                    collation: Some(45),
                    ..Default::default()
                };
                plan(i, &c, None, &DecodeOptions::default()).unwrap()
            })
            .collect()
    }

    #[test]
    fn debezium_names_and_envelope_shape() {
        let t = TableSchema::new(&cfg(&[]), "inventory", "customers", plans(), &[0]).unwrap();
        assert_eq!(&*t.topic, "dbserver1.inventory.customers");
        assert_eq!(
            t.envelope.name(),
            Some("dbserver1.inventory.customers.Envelope")
        );
        assert_eq!(t.envelope.version, Some(2));
        let names: Vec<&str> = t.envelope.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "before",
                "after",
                "source",
                "transaction",
                "op",
                "ts_ms",
                "ts_us",
                "ts_ns"
            ]
        );
        assert_eq!(
            t.value_schema.name(),
            Some("dbserver1.inventory.customers.Value")
        );
        assert!(t.value_schema.optional);
        let (k, idx) = t.key.as_ref().unwrap();
        assert_eq!(k.name(), Some("dbserver1.inventory.customers.Key"));
        assert_eq!(idx, &vec![0]);
        let src = source_schema(Flavor::MySql);
        assert_eq!(src.fields.len(), source_field::COUNT);
        assert_eq!(src.fields[source_field::FILE].name, "file");
        assert_eq!(src.fields[source_field::ROW].name, "row");
        assert_eq!(src.fields[source_field::THREAD].name, "thread");
        assert_eq!(src.fields[source_field::TS_NS].name, "ts_ns");
    }

    #[test]
    fn column_filters_and_key_override() {
        let c = cfg(&[
            ("column.exclude.list", "inventory\\.customers\\.secret"),
            ("message.key.columns", "inventory.customers:email"),
        ]);
        let t = TableSchema::new(&c, "inventory", "customers", plans(), &[0]).unwrap();
        assert_eq!(t.kept, vec![0, 1]);
        let (k, idx) = t.key.as_ref().unwrap();
        assert_eq!(idx, &vec![1]);
        assert!(
            k.fields[0].schema.optional,
            "a nullable key column stays optional, as in Debezium"
        );
        let bad = cfg(&[("message.key.columns", "inventory.customers:nope")]);
        assert!(TableSchema::new(&bad, "inventory", "customers", plans(), &[0]).is_err());
    }

    #[test]
    fn no_primary_key_means_null_key() {
        let t = TableSchema::new(&cfg(&[]), "d", "t", plans(), &[]).unwrap();
        assert!(t.key.is_none());
    }
}
