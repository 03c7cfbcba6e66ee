//! Table definitions from information_schema, and the schema history.
//!
//! The binlog's TABLE_MAP (with binlog_row_metadata=FULL) carries each row
//! event's column names, types, signedness, charsets and primary key: the
//! events after a DDL decode with the new columns and the events before it
//! with the old ones, straight from the binlog. What the binlog lacks
//! (FLOAT(M,D), MariaDB's JSON-as-LONGTEXT, column facts on servers without
//! FULL metadata) comes from a [`TableDef`] read from information_schema
//! and matched to the TABLE_MAP **by column name**, so a definition read
//! later than the event (after a further DDL) never shifts a column's
//! facts onto another column.
//!
//! The [`SchemaHistory`] (in [`super::history`]) records each captured DDL
//! with its binlog position and the table definitions it produced, so that
//! a restart resuming before a DDL uses the definitions valid there.
//!
//! Snapshots use the same definitions to build synthetic TABLE_MAP columns,
//! so snapshot (`r`) and streamed (`c/u/d`) events share one schema.

use std::collections::HashMap;

use serde_json::{json, Value as Json};
use sluice_api::data::{Struct, Value};

use super::column::{enum_labels, plan, ColumnInfo, ColumnPlan, DecodeOptions};
use super::error::{MySqlError, Result};
use super::protocol::Connection;
use super::schema::{table_change_schema, table_change_table_schema};
use super::table_map::{col, MapColumn, TableMap};
use super::text::apply_default;

/// One column as information_schema describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnDesc {
    pub name: String,
    /// COLUMN_TYPE, lower case but for ENUM/SET labels (`int(10) unsigned`,
    /// `enum('a','B')`).
    pub column_type: String,
    /// DATA_TYPE, lower case (`int`, `varchar`).
    pub data_type: String,
    pub charset: Option<String>,
    pub nullable: bool,
    pub is_json: bool,
    pub precision: Option<u64>,
    pub scale: Option<u64>,
    pub fsp: Option<u64>,
    pub octets: Option<u64>,
    pub auto_increment: bool,
    /// The default as Debezium's DDL parser keeps it (see
    /// [`default_expression`]).
    pub default: Option<String>,
}

/// A table's definition at one point in time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableDef {
    pub db: String,
    pub table: String,
    pub columns: Vec<ColumnDesc>,
    pub primary_key: Vec<String>,
    /// The table's default character set (from its collation), Debezium's
    /// `defaultCharsetName`.
    pub charset: Option<String>,
}

pub fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// Every base table of the captured databases.
pub async fn list_tables(
    conn: &mut Connection,
    filters: &super::config::Filters,
) -> Result<Vec<(String, String)>> {
    let rs = conn
        .query("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME")
        .await?;
    Ok((0..rs.rows.len())
        .filter_map(|i| Some((rs.text(i, 0)?.to_string(), rs.text(i, 1)?.to_string())))
        .filter(|(d, t)| filters.captures_table(d, t))
        .collect())
}

/// `s` in lower case except inside single quotes (`ENUM('Red')` →
/// `enum('Red')`).
pub fn lower_outside_quotes(s: &str) -> String {
    let mut quoted = false;
    s.chars()
        .map(|c| {
            if c == '\'' {
                quoted = !quoted;
            }
            if quoted {
                c
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// The current definition of `db.table`; `None` when it does not exist.
pub async fn load_table(conn: &mut Connection, db: &str, table: &str) -> Result<Option<TableDef>> {
    let rs = conn
        .query(&format!(
            "SELECT COLUMN_NAME, COLUMN_TYPE, LOWER(DATA_TYPE), CHARACTER_SET_NAME, IS_NULLABLE, \
             NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_OCTET_LENGTH, COLUMN_KEY, EXTRA, \
             COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            sql_string(db),
            sql_string(table)
        ))
        .await?;
    if rs.rows.is_empty() {
        return Ok(None);
    }
    let num = |i: usize, c: usize| rs.text(i, c).and_then(|v| v.parse().ok());
    let mut columns: Vec<ColumnDesc> = (0..rs.rows.len())
        .map(|i| ColumnDesc {
            name: rs.text(i, 0).unwrap_or("").to_string(),
            // Lower case but for quoted ENUM/SET labels, whose case is data.
            column_type: lower_outside_quotes(rs.text(i, 1).unwrap_or("")),
            data_type: rs.text(i, 2).unwrap_or("").to_string(),
            charset: rs.text(i, 3).map(str::to_string),
            nullable: rs.text(i, 4) == Some("YES"),
            is_json: rs.text(i, 2) == Some("json"),
            precision: num(i, 5),
            scale: num(i, 6),
            fsp: num(i, 7),
            octets: num(i, 8),
            auto_increment: rs.text(i, 10).is_some_and(|e| e.contains("auto_increment")),
            default: default_expression(rs.text(i, 11)),
        })
        .collect();
    // MariaDB: JSON is LONGTEXT with CHECK (json_valid(`col`)).
    if let Ok(checks) = conn
        .query(&format!(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {} AND TABLE_NAME = {}",
            sql_string(db),
            sql_string(table)
        ))
        .await
    {
        for i in 0..checks.rows.len() {
            let clause = checks.text(i, 0).unwrap_or("");
            for c in columns.iter_mut() {
                if clause == format!("json_valid(`{}`)", c.name) {
                    c.is_json = true;
                }
            }
        }
    }
    let pk = conn
        .query(&format!(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} \
             AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            sql_string(db),
            sql_string(table)
        ))
        .await?;
    let mut primary_key: Vec<String> = (0..pk.rows.len())
        .filter_map(|i| pk.text(i, 0).map(str::to_string))
        .collect();
    if primary_key.is_empty() {
        // No primary key: Debezium's DDL parser takes the first UNIQUE key
        // whose columns are all NOT NULL (SHOW CREATE TABLE order, which is
        // the server's key order, as information_schema.STATISTICS lists it).
        let uk = conn
            .query(&format!(
                "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = {} \
                 AND TABLE_NAME = {} AND NON_UNIQUE = 0",
                sql_string(db),
                sql_string(table)
            ))
            .await?;
        let rows: Vec<(String, Option<String>)> = (0..uk.rows.len())
            .filter_map(|i| {
                Some((
                    uk.text(i, 0)?.to_string(),
                    uk.text(i, 1).map(str::to_string),
                ))
            })
            .collect();
        primary_key = unique_key_as_primary(&rows, &columns);
    }
    let collation = conn
        .query(&format!(
            "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            sql_string(db),
            sql_string(table)
        ))
        .await?;
    Ok(Some(TableDef {
        db: db.to_string(),
        table: table.to_string(),
        columns,
        primary_key,
        charset: collation.text(0, 0).map(charset_of_collation),
    }))
}

/// The key Debezium makes a table's primary key when it has none: the first
/// unique index (rows of information_schema.STATISTICS: index name, column
/// name or NULL for an expression, in the server's order) whose columns
/// all exist and are NOT NULL.
fn unique_key_as_primary(rows: &[(String, Option<String>)], columns: &[ColumnDesc]) -> Vec<String> {
    let mut order: Vec<&str> = Vec::new();
    for (index, _) in rows {
        if !order.contains(&index.as_str()) {
            order.push(index);
        }
    }
    for index in order {
        let cols: Vec<Option<&ColumnDesc>> = rows
            .iter()
            .filter(|(i, _)| i == index)
            .map(|(_, c)| {
                c.as_deref()
                    .and_then(|c| columns.iter().find(|d| d.name == c))
            })
            .collect();
        if cols.iter().all(|c| c.is_some_and(|c| !c.nullable)) {
            return cols.into_iter().flatten().map(|c| c.name.clone()).collect();
        }
    }
    Vec::new()
}

/// A column's information_schema COLUMN_DEFAULT (MariaDB 10.2.7+: string
/// literals quoted, `NULL` for a NULL default, expressions as text) as
/// Debezium's DDL parser keeps the same default from SHOW CREATE TABLE
/// (its defaultValueExpression): a string literal without its outer quotes
/// (and nothing else unescaped), a number as written, a bit literal's
/// digits, "1970-01-01 00:00:00" for CURRENT_TIMESTAMP/NOW; `None` for no
/// default, NULL, and any other expression.
pub(crate) fn default_expression(raw: Option<&str>) -> Option<String> {
    let raw = raw?.trim();
    if raw.eq_ignore_ascii_case("null") {
        return None;
    }
    if raw.len() >= 2 && raw.starts_with('\'') && raw.ends_with('\'') {
        return Some(raw[1..raw.len() - 1].to_string());
    }
    let lower = raw.to_ascii_lowercase();
    if (lower.starts_with("b'") && raw.len() >= 3 && raw.ends_with('\''))
        && raw[2..raw.len() - 1]
            .bytes()
            .all(|c| c == b'0' || c == b'1')
    {
        return Some(raw[2..raw.len() - 1].to_string());
    }
    let func = lower.split('(').next().unwrap_or("");
    if matches!(
        func,
        "current_timestamp" | "now" | "localtime" | "localtimestamp"
    ) && (lower == func
        || lower[func.len()..]
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .is_some_and(|d| d.bytes().all(|c| c.is_ascii_digit())))
    {
        return Some("1970-01-01 00:00:00".to_string());
    }
    let number = lower.strip_prefix(['-', '+']).unwrap_or(&lower);
    let (mantissa, exponent) = number.split_once('e').unwrap_or((number, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
    if !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && !exponent.is_empty()
        && digits(exponent)
    {
        return Some(raw.to_string());
    }
    None
}

impl ColumnDesc {
    /// The TABLE_MAP column the binlog would carry for this definition.
    pub fn map_column(&self) -> MapColumn {
        let dt = self.data_type.as_str();
        let unsigned = self.column_type.contains("unsigned");
        let fsp = self.fsp.unwrap_or(0).min(6) as u16;
        let octets = self.octets.unwrap_or(0).min(u16::MAX as u64) as u16;
        let (column_type, meta) = match dt {
            "tinyint" | "bool" | "boolean" => (col::TINY, 0),
            "smallint" => (col::SHORT, 0),
            "mediumint" => (col::INT24, 0),
            "int" | "integer" => (col::LONG, 0),
            "bigint" => (col::LONGLONG, 0),
            "float" => (col::FLOAT, 4),
            "double" | "real" | "double precision" => (col::DOUBLE, 8),
            "decimal" | "numeric" => {
                let p = self.precision.unwrap_or(10).min(65) as u16;
                let s = self.scale.unwrap_or(0).min(30) as u16;
                (col::NEWDECIMAL, (p << 8) | s)
            }
            "date" => (col::DATE, 0),
            "time" => (col::TIME2, fsp),
            "datetime" => (col::DATETIME2, fsp),
            "timestamp" => (col::TIMESTAMP2, fsp),
            "year" => (col::YEAR, 0),
            // MariaDB's fixed-size types: BINARY(n) in the binlog.
            "uuid" | "inet6" => (col::STRING, 16),
            "inet4" => (col::STRING, 4),
            "bit" => {
                let n = self.precision.unwrap_or(1).clamp(1, 64) as u16;
                (col::BIT, ((n / 8) << 8) | (n % 8))
            }
            "char" | "binary" => (col::STRING, octets),
            "varchar" | "varbinary" => (col::VARCHAR, octets),
            "tinytext" | "tinyblob" => (col::BLOB, 1),
            "text" | "blob" => (col::BLOB, 2),
            "mediumtext" | "mediumblob" => (col::BLOB, 3),
            "longtext" | "longblob" => (col::BLOB, 4),
            "json" => (col::JSON, 4),
            "enum" => (col::ENUM, 2),
            "set" => (col::SET, 8),
            _ => (col::GEOMETRY, 4),
        };
        let numeric = matches!(
            column_type,
            col::TINY
                | col::SHORT
                | col::INT24
                | col::LONG
                | col::LONGLONG
                | col::FLOAT
                | col::DOUBLE
                | col::NEWDECIMAL
        );
        let labels = if matches!(column_type, col::ENUM | col::SET) {
            enum_labels(&self.column_type)
        } else {
            Vec::new()
        };
        MapColumn {
            column_type,
            meta,
            nullable: self.nullable,
            name: Some(self.name.clone()),
            unsigned: numeric.then_some(unsigned),
            collation: None,
            enum_values: if column_type == col::ENUM {
                labels.clone()
            } else {
                Vec::new()
            },
            set_values: if column_type == col::SET {
                labels
            } else {
                Vec::new()
            },
            geometry_type: None,
        }
    }

    pub fn info(&self) -> ColumnInfo {
        ColumnInfo {
            name: self.name.clone(),
            column_type: self.column_type.clone(),
            charset: self.charset.clone(),
            is_json: self.is_json,
            default: self.default.clone(),
        }
    }

    pub(crate) fn to_json(&self) -> Json {
        json!({"name": self.name, "columnType": self.column_type, "dataType": self.data_type,
            "charset": self.charset, "nullable": self.nullable, "json": self.is_json,
            "precision": self.precision, "scale": self.scale, "fsp": self.fsp, "octets": self.octets,
            "autoIncrement": self.auto_increment, "default": self.default})
    }

    pub(crate) fn from_json(j: &Json) -> Option<ColumnDesc> {
        let s = |k: &str| j.get(k).and_then(Json::as_str).map(str::to_string);
        let n = |k: &str| j.get(k).and_then(Json::as_u64);
        let b = |k: &str| j.get(k).and_then(Json::as_bool).unwrap_or(false);
        Some(ColumnDesc {
            name: s("name")?,
            column_type: s("columnType")?,
            data_type: s("dataType")?,
            charset: s("charset"),
            nullable: b("nullable"),
            is_json: b("json"),
            precision: n("precision"),
            scale: n("scale"),
            fsp: n("fsp"),
            octets: n("octets"),
            auto_increment: b("autoIncrement"),
            default: s("default"),
        })
    }
}

/// A collation's character set: its name up to the first `_`
/// (`utf8mb4_general_ci` → `utf8mb4`; `binary` → `binary`).
pub fn charset_of_collation(collation: &str) -> String {
    collation.split('_').next().unwrap_or(collation).to_string()
}

/// A column as Debezium's schema model describes it in `tableChanges`,
/// from the column type as the server prints it: the type name with its
/// UNSIGNED / ZEROFILL attributes (no parameters), the declared length and
/// scale (a temporal type's fractional precision is its length; integers
/// have no scale; types declared without parameters have neither), and for
/// ENUM/SET the labels as written, quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelColumn {
    pub type_name: String,
    pub length: Option<i32>,
    pub scale: Option<i32>,
    pub enum_values: Option<Vec<String>>,
}

impl ColumnDesc {
    pub fn model(&self) -> ModelColumn {
        let t = self.column_type.trim();
        let cut = t.find(['(', ' ']).unwrap_or(t.len());
        let base = &t[..cut];
        let rest = &t[cut..];
        let (params, after) = match rest.strip_prefix('(') {
            Some(inner) => {
                // The closing parenthesis outside quotes.
                let mut quoted = false;
                let end = inner
                    .char_indices()
                    .find(|&(_, c)| {
                        if c == '\'' {
                            quoted = !quoted;
                        }
                        c == ')' && !quoted
                    })
                    .map_or(inner.len(), |(i, _)| i);
                (&inner[..end], inner.get(end + 1..).unwrap_or(""))
            }
            None => ("", rest),
        };
        let mut type_name = base.to_ascii_uppercase();
        if after.contains("unsigned") {
            type_name.push_str(" UNSIGNED");
        }
        if after.contains("zerofill") {
            type_name.push_str(" ZEROFILL");
        }
        if matches!(base, "enum" | "set") {
            let labels: Vec<String> = enum_labels(t)
                .iter()
                .map(|l| format!("'{}'", String::from_utf8_lossy(l).replace('\'', "''")))
                .collect();
            let length = if base == "enum" {
                1
            } else {
                let chars: usize = enum_labels(t)
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).chars().count())
                    .sum();
                (chars + labels.len().saturating_sub(1)) as i32
            };
            return ModelColumn {
                type_name,
                length: Some(length),
                scale: None,
                enum_values: Some(labels),
            };
        }
        let mut nums = params.split(',').map(|n| n.trim().parse::<i32>().ok());
        ModelColumn {
            type_name,
            length: nums.next().flatten(),
            scale: nums.next().flatten(),
            enum_values: None,
        }
    }
}

impl TableDef {
    pub fn primary_key_indexes(&self) -> Vec<usize> {
        self.primary_key
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| &c.name == k))
            .collect()
    }

    /// Plans for snapshot rows: synthetic TABLE_MAP columns + these facts.
    pub fn plans(&self, opts: &DecodeOptions) -> Result<Vec<ColumnPlan>> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let info = c.info();
                plan_with_default(i, &c.map_column(), Some(&info), opts)
                    .map_err(|e| MySqlError::decode(format!("table {}.{}", self.db, self.table), e))
            })
            .collect()
    }

    /// The `tableChanges` entry of a schema change event.
    pub fn change_value(&self, kind: &str) -> Value {
        let cs = table_change_schema();
        let ts = table_change_table_schema();
        let col_schema = ts
            .field("columns")
            .and_then(|f| f.schema.value_schema.clone());
        let columns = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let schema = col_schema.clone().unwrap_or_else(|| ts.clone());
                let m = c.model();
                let type_name: std::sync::Arc<str> = m.type_name.into();
                Value::Struct(Struct {
                    schema,
                    values: vec![
                        Value::String(c.name.as_str().into()),
                        Value::Int32(jdbc_type(&c.data_type)),
                        Value::Null,
                        Value::String(type_name.clone()),
                        Value::String(type_name),
                        c.charset.clone().map_or(Value::Null, Value::from),
                        m.length.map_or(Value::Null, Value::Int32),
                        m.scale.map_or(Value::Null, Value::Int32),
                        Value::Int32(i as i32 + 1),
                        Value::Boolean(c.nullable),
                        Value::Boolean(c.auto_increment),
                        // Debezium counts AUTO_INCREMENT columns as generated.
                        Value::Boolean(c.auto_increment),
                        Value::Null,
                        c.default.clone().map_or(Value::Null, Value::from),
                        m.enum_values.map_or(Value::Null, |v| {
                            Value::Array(v.into_iter().map(Value::from).collect())
                        }),
                    ],
                })
            })
            .collect();
        Value::Struct(Struct {
            schema: cs,
            values: vec![
                Value::String(kind.into()),
                Value::String(format!("\"{}\".\"{}\"", self.db, self.table).into()),
                // A dropped table has no description (Debezium's null).
                if kind == "DROP" {
                    Value::Null
                } else {
                    Value::Struct(Struct {
                        schema: ts,
                        values: vec![
                            self.charset.clone().map_or(Value::Null, Value::from),
                            Value::Array(
                                self.primary_key.iter().cloned().map(Value::from).collect(),
                            ),
                            Value::Array(columns),
                            Value::Null,
                        ],
                    })
                },
            ],
        })
    }

    pub(crate) fn from_json(j: &Json) -> Option<TableDef> {
        Some(TableDef {
            db: j.get("db")?.as_str()?.to_string(),
            table: j.get("table")?.as_str()?.to_string(),
            primary_key: j
                .get("primaryKey")?
                .as_array()?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            columns: j
                .get("columns")?
                .as_array()?
                .iter()
                .map(ColumnDesc::from_json)
                .collect::<Option<_>>()?,
            charset: None,
        })
    }
}

/// java.sql.Types codes for the schema change events.
pub(crate) fn jdbc_type(data_type: &str) -> i32 {
    match data_type {
        // As Debezium's MySQL/MariaDB schema model (its parity records).
        "tinyint" | "smallint" => 5,
        "mediumint" | "int" | "integer" => 4,
        "bigint" => -5,
        "float" => 6,
        "double" | "real" => 8,
        "decimal" | "numeric" => 3,
        "date" => 91,
        "time" => 92,
        "datetime" => 93,
        "timestamp" => 2014,
        "year" => 4,
        "bit" => -7,
        "char" | "enum" | "set" => 1,
        "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "json" => 12,
        "binary" => -2,
        "varbinary" => -3,
        "tinyblob" | "blob" | "mediumblob" | "longblob" => 2004,
        _ => 1111,
    }
}

/// Plans for a TABLE_MAP, with the facts of `def` matched by column name.
pub fn plans_for_map(
    map: &TableMap,
    def: Option<&TableDef>,
    opts: &DecodeOptions,
) -> Result<Vec<ColumnPlan>> {
    let by_name: HashMap<&str, &ColumnDesc> = def
        .map(|d| d.columns.iter().map(|c| (c.name.as_str(), c)).collect())
        .unwrap_or_default();
    map.columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let desc = match &c.name {
                Some(n) => by_name.get(n.as_str()).copied(),
                // No names in the binlog: trust positions only when the
                // column counts agree.
                None => def
                    .filter(|d| d.columns.len() == map.columns.len())
                    .map(|d| &d.columns[i]),
            };
            let info = desc.map(ColumnDesc::info);
            plan_with_default(i, c, info.as_ref(), opts)
                .map_err(|e| MySqlError::decode(format!("table {}.{}", map.schema, map.table), e))
        })
        .collect()
}

pub use super::history::{Position, SchemaHistory};

/// A column's plan ([`plan`]) with the default value of its definition
/// ([`apply_default`]).
fn plan_with_default(
    index: usize,
    c: &MapColumn,
    info: Option<&ColumnInfo>,
    opts: &DecodeOptions,
) -> std::result::Result<ColumnPlan, String> {
    let mut p = plan(index, c, info, opts)?;
    if let Some(expr) = info.and_then(|i| i.default.as_deref()) {
        apply_default(&mut p, expr);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &str, column_type: &str, data_type: &str) -> ColumnDesc {
        ColumnDesc {
            name: name.into(),
            column_type: column_type.into(),
            data_type: data_type.into(),
            ..Default::default()
        }
    }

    #[test]
    fn columns_as_debeziums_schema_model_describes_them() {
        // Values read off Debezium 3.5's tableChanges for the same tables.
        let m = |t: &str| {
            let m = desc("c", t, "").model();
            (m.type_name, m.length, m.scale, m.enum_values)
        };
        let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(m("int(11)"), ("INT".into(), Some(11), None, None));
        assert_eq!(
            m("tinyint(3) unsigned"),
            ("TINYINT UNSIGNED".into(), Some(3), None, None)
        );
        assert_eq!(
            m("tinyint(3) unsigned zerofill"),
            ("TINYINT UNSIGNED ZEROFILL".into(), Some(3), None, None)
        );
        assert_eq!(
            m("decimal(65,30)"),
            ("DECIMAL".into(), Some(65), Some(30), None)
        );
        assert_eq!(
            m("decimal(12,4) unsigned"),
            ("DECIMAL UNSIGNED".into(), Some(12), Some(4), None)
        );
        assert_eq!(m("float"), ("FLOAT".into(), None, None, None));
        assert_eq!(m("float(7,3)"), ("FLOAT".into(), Some(7), Some(3), None));
        assert_eq!(m("varchar(100)"), ("VARCHAR".into(), Some(100), None, None));
        assert_eq!(m("longtext"), ("LONGTEXT".into(), None, None, None));
        assert_eq!(m("blob"), ("BLOB".into(), None, None, None));
        assert_eq!(m("time"), ("TIME".into(), None, None, None));
        assert_eq!(m("datetime(1)"), ("DATETIME".into(), Some(1), None, None));
        assert_eq!(m("year(4)"), ("YEAR".into(), Some(4), None, None));
        assert_eq!(m("bit(1)"), ("BIT".into(), Some(1), None, None));
        assert_eq!(
            m("enum('small','medium','large')"),
            (
                "ENUM".into(),
                Some(1),
                None,
                s(&["'small'", "'medium'", "'large'"])
            )
        );
        assert_eq!(
            m("set('a','b','c','d')"),
            (
                "SET".into(),
                Some(7),
                None,
                s(&["'a'", "'b'", "'c'", "'d'"])
            )
        );
        // A label with a parenthesis or a quote.
        assert_eq!(
            m("enum('a)','it''s')"),
            ("ENUM".into(), Some(1), None, s(&["'a)'", "'it''s'"]))
        );
        assert_eq!(charset_of_collation("utf8mb4_general_ci"), "utf8mb4");
        assert_eq!(charset_of_collation("binary"), "binary");
    }

    #[test]
    fn column_defaults_as_debezium_keeps_them() {
        let d = |raw: Option<&str>| default_expression(raw);
        assert_eq!(d(None), None);
        assert_eq!(d(Some("NULL")), None);
        assert_eq!(d(Some("5")), Some("5".into()));
        assert_eq!(d(Some("-2.5e10")), Some("-2.5e10".into()));
        assert_eq!(d(Some("0.00")), Some("0.00".into()));
        assert_eq!(d(Some("'x'")), Some("x".into()));
        assert_eq!(d(Some("''")), Some("".into()));
        // Only the outer quotes go, as in Debezium's parser.
        assert_eq!(d(Some("'x''y\\\\z'")), Some("x''y\\\\z".into()));
        assert_eq!(d(Some("b'101'")), Some("101".into()));
        assert_eq!(
            d(Some("current_timestamp()")),
            Some("1970-01-01 00:00:00".into())
        );
        assert_eq!(
            d(Some("current_timestamp(3)")),
            Some("1970-01-01 00:00:00".into())
        );
        assert_eq!(d(Some("(1 + 1)")), None);
        assert_eq!(d(Some("uuid()")), None);
        assert_eq!(d(Some("curdate()")), None);
    }

    #[test]
    fn first_not_null_unique_key_is_the_primary_key() {
        let col = |n: &str, nullable: bool| ColumnDesc {
            name: n.into(),
            nullable,
            ..Default::default()
        };
        let cols = [col("a", false), col("b", true), col("c", false)];
        let rows = |r: &[(&str, Option<&str>)]| -> Vec<(String, Option<String>)> {
            r.iter()
                .map(|(i, c)| (i.to_string(), c.map(str::to_string)))
                .collect()
        };
        assert_eq!(
            unique_key_as_primary(
                &rows(&[("ub", Some("b")), ("uac", Some("a")), ("uac", Some("c"))]),
                &cols
            ),
            vec!["a".to_string(), "c".to_string()]
        );
        assert!(unique_key_as_primary(&rows(&[("ub", Some("b")), ("ex", None)]), &cols).is_empty());
        assert!(unique_key_as_primary(&[], &cols).is_empty());
    }

    #[test]
    fn enum_labels_unquote() {
        assert_eq!(
            enum_labels("enum('a','b''c','d,e')"),
            vec![b"a".to_vec(), b"b'c".to_vec(), b"d,e".to_vec()]
        );
    }

    #[test]
    fn synthetic_map_columns_match_binlog_metadata() {
        let mut d = desc("d", "decimal(10,2)", "decimal");
        d.precision = Some(10);
        d.scale = Some(2);
        assert_eq!(d.map_column().meta, (10 << 8) | 2);
        let mut b = desc("b", "bit(12)", "bit");
        b.precision = Some(12);
        assert_eq!(b.map_column().meta, (1 << 8) | 4);
        let mut t = desc("t", "datetime(6)", "datetime");
        t.fsp = Some(6);
        assert_eq!(
            (t.map_column().column_type, t.map_column().meta),
            (col::DATETIME2, 6)
        );
        assert_eq!(
            desc("u", "int(10) unsigned", "int").map_column().unsigned,
            Some(true)
        );
        assert_eq!(desc("m", "mediumblob", "mediumblob").map_column().meta, 3);
        // MariaDB's UUID/INET types are BINARY(n) in the binlog, not geometry.
        let u = desc("u", "uuid", "uuid").map_column();
        assert_eq!((u.column_type, u.meta), (col::STRING, 16));
        let i = desc("i", "inet4", "inet4").map_column();
        assert_eq!((i.column_type, i.meta), (col::STRING, 4));
    }
}
