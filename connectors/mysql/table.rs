//! A table version's decoding plan: built once from its TABLE_MAP event
//! and information_schema, shared by every row of that version.
//!
//! information_schema is read only for what the binlog lacks (FLOAT(M,D),
//! MariaDB's JSON-as-LONGTEXT, charsets when binlog_row_metadata is not
//! FULL); columns are matched by ordinal position, which is what the
//! TABLE_MAP column order is.

use std::sync::Arc;

use sluice_api::data::{Schema, SchemaBuilder};

use super::column::{plan, ColumnInfo, ColumnPlan, DecodeOptions};
use super::error::{MySqlError, Result};
use super::protocol::Connection;
use super::table_map::TableMap;

/// Decoding plan and row schema of one table version.
#[derive(Debug, Clone)]
pub struct TableDecoder {
    pub schema_name: String,
    pub table_name: String,
    pub plans: Vec<ColumnPlan>,
    /// The row struct schema (`<prefix>.<db>.<table>.Value`).
    pub row_schema: Arc<Schema>,
    pub primary_key: Vec<usize>,
}

impl TableDecoder {
    pub fn new(
        map: &TableMap,
        infos: &[ColumnInfo],
        opts: &DecodeOptions,
        row_schema_name: &str,
    ) -> Result<TableDecoder> {
        let mut plans = Vec::with_capacity(map.columns.len());
        for (i, c) in map.columns.iter().enumerate() {
            let p = plan(i, c, infos.get(i), opts).map_err(|e| {
                MySqlError::decode(format!("table {}.{}", map.schema, map.table), e)
            })?;
            plans.push(p);
        }
        let mut b = SchemaBuilder::structure().name(row_schema_name).optional();
        for p in &plans {
            b = b.field(p.name.clone(), p.schema.clone());
        }
        Ok(TableDecoder {
            schema_name: map.schema.clone(),
            table_name: map.table.clone(),
            plans,
            row_schema: b.build(),
            primary_key: map.primary_key.clone(),
        })
    }
}

fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Column facts from information_schema, in ordinal order.
pub async fn load_column_info(
    conn: &mut Connection,
    db: &str,
    table: &str,
) -> Result<Vec<ColumnInfo>> {
    let rs = conn
        .query(&format!(
            "SELECT COLUMN_NAME, LOWER(COLUMN_TYPE), CHARACTER_SET_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            sql_string(db),
            sql_string(table)
        ))
        .await?;
    let mut infos: Vec<ColumnInfo> = (0..rs.rows.len())
        .map(|i| ColumnInfo {
            name: rs.text(i, 0).unwrap_or("").to_string(),
            column_type: rs.text(i, 1).unwrap_or("").to_string(),
            charset: rs.text(i, 2).map(str::to_string),
            is_json: rs.text(i, 1) == Some("json"),
            default: None,
        })
        .collect();
    // MariaDB: JSON is LONGTEXT with CHECK (json_valid(`col`)).
    if let Ok(checks) = conn
        .query(&format!(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = {} AND TABLE_NAME = {}",
            sql_string(db),
            sql_string(table)
        ))
        .await
    {
        for i in 0..checks.rows.len() {
            let clause = checks.text(i, 0).unwrap_or("");
            for info in infos.iter_mut() {
                if clause == format!("json_valid(`{}`)", info.name) {
                    info.is_json = true;
                }
            }
        }
    }
    Ok(infos)
}
