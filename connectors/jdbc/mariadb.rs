//! MariaDB/MySQL target, over the MySQL client protocol Sluice already
//! owns for its source connector (`crate::mysql::protocol`): no second
//! MySQL driver in the tree.
//!
//! Why a put is applied whole or not at all: MariaDB commits implicitly
//! around DDL, so the tables are created and altered first (idempotent
//! statements, each committed alone), and only then do the rows go in, in
//! one `START TRANSACTION ... COMMIT`. A failure rolls the row transaction
//! back; the worker retries the same records or fails the task, without
//! committing consumer offsets past them. A truncate is a `DELETE` inside
//! the transaction (TRUNCATE TABLE would commit).
//!
//! Values travel as literals: strings as `_utf8mb4 X'<hex>'` (no escaping
//! rules that depend on the server's sql_mode), bytes as `X'<hex>'`, bits
//! as numbers; the server converts them to each column's type.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sluice_api::data::{names, SchemaType};

use super::config::{InsertMode, JdbcSinkConfig, PkMode};
use super::plan::{Row, Run, TableBatch};
use super::record::{Column, Shape, TableId};
use super::types::column_type;
use super::url::Dialect;
use super::WriteError;
use crate::mysql::error::MySqlError;
use crate::mysql::protocol::{ConnectOptions, Connection};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Statements stay well under the default max_allowed_packet (16 MB).
const MAX_STATEMENT_BYTES: usize = 4 << 20;

/// A column as information_schema describes it.
#[derive(Debug, Clone, Default)]
struct ColumnInfo {
    name: String,
    not_null: bool,
    /// The full type (`varchar(64)`, `int(10) unsigned`), for MODIFY.
    column_type: String,
    charset: Option<String>,
    collation: Option<String>,
    /// As MariaDB shows it: an SQL literal or expression (`NULL` for none).
    default: Option<String>,
    comment: String,
}

impl ColumnInfo {
    /// The MODIFY clause that makes the column nullable and keeps the rest
    /// of its definition (type, character set, default, comment).
    fn modify_to_nullable(&self, mariadb: bool) -> String {
        let mut sql = format!("MODIFY COLUMN {} {}", ident(&self.name), self.column_type);
        if let (Some(cs), Some(co)) = (&self.charset, &self.collation) {
            sql.push_str(&format!(" CHARACTER SET {cs} COLLATE {co}"));
        }
        sql.push_str(" NULL");
        // MariaDB shows defaults as SQL (quoted strings); MySQL shows raw
        // values, which cannot be told apart from expressions here.
        match &self.default {
            Some(d) if mariadb && d != "NULL" => sql.push_str(&format!(" DEFAULT {d}")),
            _ => {}
        }
        if !self.comment.is_empty() {
            sql.push_str(&format!(" COMMENT {}", string_literal(&self.comment)));
        }
        sql
    }
}

#[derive(Debug, Default)]
struct TableMeta {
    columns: Vec<ColumnInfo>,
    checked: Vec<Arc<Shape>>,
}

/// Shapes remembered per table; more (a schema that changes all the time)
/// are checked again, which costs no query.
const MAX_CHECKED: usize = 64;

impl TableMeta {
    fn knows(&self, shape: &Arc<Shape>) -> bool {
        self.checked
            .iter()
            .any(|c| Arc::ptr_eq(c, shape) || **c == **shape)
    }
}

pub struct MariaDbWriter {
    cfg: Arc<JdbcSinkConfig>,
    conn: Option<Connection>,
    tables: HashMap<TableId, TableMeta>,
}

fn classify(e: &MySqlError, what: &str) -> WriteError {
    let msg = match e {
        MySqlError::Server {
            code,
            state,
            message,
            ..
        } => format!("{what}: error {code} ({state}): {message}"),
        other => format!("{what}: {other}"),
    };
    if e.is_retriable() {
        WriteError::Retriable(msg)
    } else if matches!(
        e.server_code(),
        // NULL into NOT NULL, duplicate key, out of range, truncated,
        // incorrect value, too long, foreign key, check constraint.
        Some(1048 | 1062 | 1264 | 1265 | 1292 | 1366 | 1406 | 1451 | 1452 | 1690 | 3819 | 4025)
    ) {
        WriteError::Data(msg)
    } else {
        WriteError::Fatal(msg)
    }
}

/// DDL errors: a duplicate column or table means another task won a race
/// that a retry resolves; nothing in a DDL failure is a record's fault.
fn ddl_error(e: WriteError, raced: bool) -> WriteError {
    match e {
        WriteError::Data(m) | WriteError::Fatal(m) if raced => WriteError::Retriable(m),
        WriteError::Data(m) => WriteError::Fatal(m),
        other => other,
    }
}

fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02X}"));
    }
    s
}

/// A text as a literal that needs no escaping.
fn string_literal(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    format!("_utf8mb4 X'{}'", hex(s.as_bytes()))
}

/// A column value (text from `types::to_text`) as a SQL literal.
fn literal(col: &Column, v: &Option<String>) -> String {
    let Some(v) = v else {
        return "NULL".into();
    };
    let name = col.schema.name().unwrap_or("");
    match (name, col.schema.kind) {
        (names::DBZ_BITS, _) => v.clone(),
        // ST_GeomFromWKB(X'...', srid), built by types::to_text.
        (names::DBZ_GEOMETRY | names::DBZ_POINT, _) => v.clone(),
        ("", SchemaType::Bytes) => format!("X'{v}'"),
        _ => string_literal(v),
    }
}

impl MariaDbWriter {
    pub async fn connect(cfg: Arc<JdbcSinkConfig>) -> Result<MariaDbWriter, WriteError> {
        let mut w = MariaDbWriter {
            cfg,
            conn: None,
            tables: HashMap::new(),
        };
        w.reconnect().await?;
        Ok(w)
    }

    fn where_(&self) -> String {
        format!("MariaDB/MySQL at {}", self.cfg.url.display())
    }

    async fn reconnect(&mut self) -> Result<(), WriteError> {
        self.conn = None;
        self.tables.clear();
        let url = &self.cfg.url;
        let where_ = self.where_();
        let user = self
            .cfg
            .username
            .clone()
            .or_else(|| url.param("user").map(str::to_string))
            .ok_or_else(|| {
                WriteError::Fatal(format!(
                    "no user to log in to {where_} with: set connection.username"
                ))
            })?;
        let opts = ConnectOptions {
            host: url.host.clone(),
            port: url.port,
            user: user.clone(),
            password: self
                .cfg
                .password
                .clone()
                .or_else(|| url.param("password").map(str::to_string))
                .unwrap_or_default(),
            database: Some(url.database.clone()),
            tls: url.tls().map_err(WriteError::Fatal)?,
        };
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&opts)).await {
            Ok(Ok(c)) => c,
            Ok(Err(MySqlError::Connect { source, .. })) => {
                return Err(WriteError::Unreachable(format!(
                    "cannot connect to {where_}: {source}; check the host and port in connection.url and that the database is running"
                )))
            }
            Ok(Err(MySqlError::Server { code, message, .. })) if matches!(code, 1044 | 1045 | 1049) => {
                let remedy = if code == 1049 {
                    "create the database or correct its name in connection.url"
                } else {
                    "check connection.username and connection.password, and the user's grants"
                };
                return Err(WriteError::Fatal(format!(
                    "{where_} refused the login of user {user}: error {code}: {message}; {remedy}"
                )));
            }
            // TLS settings or a TLS handshake that cannot succeed.
            Ok(Err(MySqlError::Config(m))) => {
                return Err(WriteError::Fatal(format!(
                    "{where_}: {}",
                    m.replace("database.ssl.ca", "serverSslCert")
                        .replace("database.ssl.mode", "sslMode")
                        .replace("database.hostname", "the host of connection.url")
                )))
            }
            Ok(Err(e)) => {
                return Err(WriteError::Unreachable(format!(
                    "cannot log in to {where_}: {e}"
                )))
            }

            Err(_) => {
                return Err(WriteError::Unreachable(format!(
                    "cannot connect to {where_}: no answer within {} s; check the host and port in connection.url and the network",
                    CONNECT_TIMEOUT.as_secs()
                )))
            }
        };
        self.conn = Some(conn);
        self.exec("SET time_zone = '+00:00'", "setting up the session")
            .await?;
        Ok(())
    }

    async fn exec(&mut self, sql: &str, what: &str) -> Result<u64, WriteError> {
        let where_ = self.where_();
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| WriteError::Retriable(format!("not connected to {where_}")))?;
        conn.exec(sql).await.map_err(|e| classify(&e, what))
    }

    async fn ddl(&mut self, sql: &str, what: &str) -> Result<(), WriteError> {
        let where_ = self.where_();
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| WriteError::Retriable(format!("not connected to {where_}")))?;
        conn.exec(sql).await.map(|_| ()).map_err(|e| {
            // 1050 table exists, 1060 duplicate column.
            let raced = matches!(e.server_code(), Some(1050 | 1060));
            ddl_error(classify(&e, what), raced)
        })
    }

    fn schema_of(&self, t: &TableId) -> String {
        t.schema
            .clone()
            .unwrap_or_else(|| self.cfg.url.database.clone())
    }

    fn qualified(&self, t: &TableId) -> String {
        format!("{}.{}", ident(&self.schema_of(t)), ident(&t.name))
    }

    pub async fn write(&mut self, batches: &[TableBatch]) -> Result<(), WriteError> {
        if batches.is_empty() {
            return Ok(());
        }
        if self.conn.is_none() {
            self.reconnect().await?;
        }
        let result = self.write_all(batches).await;
        if let Err(e) = &result {
            self.tables.clear();
            let alive = matches!(e, WriteError::Fatal(_) | WriteError::Data(_))
                && self.exec("ROLLBACK", "ROLLBACK").await.is_ok();
            if !alive {
                self.conn = None;
            }
        }
        result
    }

    async fn write_all(&mut self, batches: &[TableBatch]) -> Result<(), WriteError> {
        // DDL first: it commits implicitly.
        let mut present = Vec::with_capacity(batches.len());
        for b in batches {
            present.push(self.ensure_table(b).await?);
        }
        self.exec("START TRANSACTION", "START TRANSACTION").await?;
        for (b, present) in batches.iter().zip(present) {
            if !present {
                continue;
            }
            for run in &b.runs {
                self.run(&b.table, run).await?;
            }
        }
        self.exec("COMMIT", "COMMIT").await?;
        Ok(())
    }

    async fn load_columns(&mut self, t: &TableId) -> Result<Option<Vec<ColumnInfo>>, WriteError> {
        let sql = format!(
            "SELECT COLUMN_NAME, IS_NULLABLE, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_DEFAULT, COLUMN_COMMENT \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            string_literal(&self.schema_of(t)),
            string_literal(&t.name)
        );
        let where_ = self.where_();
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| WriteError::Retriable(format!("not connected to {where_}")))?;
        let rs = conn
            .query(&sql)
            .await
            .map_err(|e| classify(&e, &format!("reading the columns of table {t}")))?;
        if rs.rows.is_empty() {
            return Ok(None);
        }
        let text = |i: usize, c: usize| rs.text(i, c).map(str::to_string);
        Ok(Some(
            (0..rs.rows.len())
                .map(|i| ColumnInfo {
                    name: text(i, 0).unwrap_or_default(),
                    not_null: text(i, 1).as_deref() == Some("NO"),
                    column_type: text(i, 2).unwrap_or_default(),
                    charset: text(i, 3),
                    collation: text(i, 4),
                    default: text(i, 5),
                    comment: text(i, 6).unwrap_or_default(),
                })
                .collect(),
        ))
    }

    /// As PostgreSQL's: create, add columns, or fail naming them; `false`
    /// when the table is missing and the batch only deletes.
    async fn ensure_table(&mut self, b: &TableBatch) -> Result<bool, WriteError> {
        let t = &b.table;
        let shapes = b.write_shapes();
        if let Some(meta) = self.tables.get(t) {
            if shapes.iter().all(|s| meta.knows(s)) {
                return Ok(true);
            }
        }
        if !self.tables.contains_key(t) {
            let columns = match self.load_columns(t).await? {
                Some(c) => c,
                None => {
                    let Some(shape) = shapes.first().cloned() else {
                        return Ok(false);
                    };
                    if !self.cfg.auto_create {
                        return Err(WriteError::Fatal(format!(
                            "table {}.{} does not exist in MariaDB/MySQL: create it, or set {} to let the sink create it from the record schema",
                            self.schema_of(t),
                            t.name,
                            self.cfg.create_remedy()
                        )));
                    }
                    self.create_table(t, &shape).await?;
                    self.load_columns(t).await?.unwrap_or_default()
                }
            };
            self.tables.insert(
                t.clone(),
                TableMeta {
                    columns,
                    checked: Vec::new(),
                },
            );
        }
        for shape in shapes {
            self.evolve(t, &shape).await?;
        }
        Ok(true)
    }

    async fn create_table(&mut self, t: &TableId, shape: &Shape) -> Result<(), WriteError> {
        let mut cols = Vec::new();
        for (i, c) in shape.columns.iter().enumerate() {
            let key = i < shape.key_count;
            let ty = column_type(&c.schema, Dialect::MariaDb, key)
                .map_err(|e| WriteError::Fatal(format!("table {t}, column {}: {e}", c.name)))?;
            let null = if key || !c.schema.optional {
                " NOT NULL"
            } else {
                " NULL"
            };
            cols.push(format!("{} {ty}{null}", ident(&c.name)));
        }
        if shape.key_count > 0 && self.cfg.pk_mode != PkMode::None {
            let keys: Vec<String> = shape.key_columns().iter().map(|c| ident(&c.name)).collect();
            cols.push(format!("PRIMARY KEY ({})", keys.join(", ")));
        }
        if t.schema.is_some() {
            let sql = format!(
                "CREATE DATABASE IF NOT EXISTS {}",
                ident(&self.schema_of(t))
            );
            self.ddl(&sql, &format!("creating the database of table {t}"))
                .await?;
        }
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} ({}) DEFAULT CHARSET=utf8mb4",
            self.qualified(t),
            cols.join(", ")
        );
        tracing::info!("JDBC sink: {sql}");
        self.ddl(&sql, &format!("creating table {t}")).await?;
        Ok(())
    }

    async fn evolve(&mut self, t: &TableId, shape: &Arc<Shape>) -> Result<(), WriteError> {
        let mut adds = Vec::new();
        {
            let meta = &self.tables[t];
            if meta.knows(shape) {
                return Ok(());
            }
            let mariadb = self.conn.as_ref().is_some_and(|c| c.server().is_mariadb());
            for (i, c) in shape.columns.iter().enumerate() {
                // Column names are case-insensitive in MariaDB and MySQL.
                if let Some(col) = meta
                    .columns
                    .iter()
                    .find(|n| n.name.eq_ignore_ascii_case(&c.name))
                {
                    let key = i < shape.key_count;
                    if col.not_null && !key && c.schema.optional && self.cfg.auto_evolve {
                        adds.push(col.modify_to_nullable(mariadb));
                    }
                    continue;
                }
                if !self.cfg.auto_evolve {
                    return Err(WriteError::Fatal(format!(
                        "table {t} has no column {}, which the records carry: add the column, or set {} to let the sink add it",
                        c.name,
                        self.cfg.create_remedy()
                    )));
                }
                let ty = column_type(&c.schema, Dialect::MariaDb, i < shape.key_count)
                    .map_err(|e| WriteError::Fatal(format!("table {t}, column {}: {e}", c.name)))?;
                adds.push(format!("ADD COLUMN {} {ty} NULL", ident(&c.name)));
            }
        }
        if !adds.is_empty() {
            let sql = format!("ALTER TABLE {} {}", self.qualified(t), adds.join(", "));
            tracing::info!("JDBC sink: {sql}");
            self.ddl(&sql, &format!("altering table {t}")).await?;
            let columns = self.load_columns(t).await?.unwrap_or_default();
            if let Some(meta) = self.tables.get_mut(t) {
                meta.columns = columns;
            }
        }
        if let Some(meta) = self.tables.get_mut(t) {
            if meta.checked.len() >= MAX_CHECKED {
                meta.checked.clear();
            }
            meta.checked.push(shape.clone());
        }
        Ok(())
    }

    async fn run(&mut self, t: &TableId, run: &Run) -> Result<(), WriteError> {
        match run {
            Run::Truncate => {
                let sql = format!("DELETE FROM {}", self.qualified(t));
                self.exec(&sql, &format!("truncating table {t}")).await?;
            }
            Run::Write { shape, rows } if self.cfg.insert_mode == InsertMode::Update => {
                for row in rows {
                    let sql = self.update_sql(t, shape, row);
                    self.exec(&sql, &format!("updating table {t}")).await?;
                }
            }
            Run::Write { shape, rows } => {
                for sql in self.insert_sqls(t, shape, rows) {
                    self.exec(&sql, &format!("writing to table {t}")).await?;
                }
            }
            Run::Delete { shape, rows } => {
                for sql in self.delete_sqls(t, shape, rows) {
                    self.exec(&sql, &format!("deleting from table {t}")).await?;
                }
            }
        }
        Ok(())
    }

    fn tuple(shape: &Shape, row: &Row, n: usize) -> String {
        let vals: Vec<String> = shape.columns[..n]
            .iter()
            .zip(row)
            .map(|(c, v)| literal(c, v))
            .collect();
        format!("({})", vals.join(", "))
    }

    /// Multi-row statements of at most batch.size rows and about
    /// MAX_STATEMENT_BYTES each.
    fn chunked(&self, head: &str, tail: &str, tuples: impl Iterator<Item = String>) -> Vec<String> {
        let mut out = Vec::new();
        let mut sql = String::new();
        let mut rows = 0;
        for tuple in tuples {
            if rows > 0
                && (rows >= self.cfg.batch_size || sql.len() + tuple.len() > MAX_STATEMENT_BYTES)
            {
                sql.push_str(tail);
                out.push(std::mem::take(&mut sql));
                rows = 0;
            }
            if rows == 0 {
                sql.push_str(head);
            } else {
                sql.push_str(", ");
            }
            sql.push_str(&tuple);
            rows += 1;
        }
        if rows > 0 {
            sql.push_str(tail);
            out.push(sql);
        }
        out
    }

    fn insert_sqls(&self, t: &TableId, shape: &Shape, rows: &[Row]) -> Vec<String> {
        let cols: Vec<String> = shape.columns.iter().map(|c| ident(&c.name)).collect();
        let head = format!(
            "INSERT INTO {} ({}) VALUES ",
            self.qualified(t),
            cols.join(", ")
        );
        let tail = if self.cfg.insert_mode == InsertMode::Upsert && shape.key_count > 0 {
            let mut sets: Vec<String> = shape.columns[shape.key_count..]
                .iter()
                .map(|c| {
                    let i = ident(&c.name);
                    format!("{i} = VALUES({i})")
                })
                .collect();
            if sets.is_empty() {
                // Keys only: a no-op update keeps the row.
                let k = ident(&shape.columns[0].name);
                sets.push(format!("{k} = {k}"));
            }
            format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", "))
        } else {
            String::new()
        };
        let n = shape.columns.len();
        self.chunked(&head, &tail, rows.iter().map(|r| Self::tuple(shape, r, n)))
    }

    fn update_sql(&self, t: &TableId, shape: &Shape, row: &Row) -> String {
        let k = shape.key_count;
        let assign =
            |c: &Column, v: &Option<String>| format!("{} = {}", ident(&c.name), literal(c, v));
        let keys: Vec<String> = shape.columns[..k]
            .iter()
            .zip(row)
            .map(|(c, v)| assign(c, v))
            .collect();
        let sets: Vec<String> = shape.columns[k..]
            .iter()
            .zip(&row[k..])
            .map(|(c, v)| assign(c, v))
            .collect();
        if sets.is_empty() {
            return format!(
                "SELECT 1 FROM {} WHERE {}",
                self.qualified(t),
                keys.join(" AND ")
            );
        }
        format!(
            "UPDATE {} SET {} WHERE {}",
            self.qualified(t),
            sets.join(", "),
            keys.join(" AND ")
        )
    }

    fn delete_sqls(&self, t: &TableId, shape: &Shape, rows: &[Row]) -> Vec<String> {
        let k = shape.key_count;
        let keys: Vec<String> = shape.key_columns().iter().map(|c| ident(&c.name)).collect();
        let lhs = if k == 1 {
            keys[0].clone()
        } else {
            format!("({})", keys.join(", "))
        };
        let head = format!("DELETE FROM {} WHERE {lhs} IN (", self.qualified(t));
        let tuples = rows.iter().map(|r| {
            if k == 1 {
                literal(&shape.columns[0], &r[0])
            } else {
                Self::tuple(shape, r, k)
            }
        });
        self.chunked(&head, ")", tuples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::{schemas, SchemaBuilder};

    fn col(name: &str, schema: Arc<sluice_api::data::Schema>) -> Column {
        Column {
            name: name.into(),
            schema,
        }
    }

    #[test]
    fn literals_need_no_escaping() {
        let s = col("s", schemas::string());
        assert_eq!(literal(&s, &Some("a'b\\".into())), "_utf8mb4 X'6127625C'");
        assert_eq!(literal(&s, &Some(String::new())), "''");
        assert_eq!(literal(&s, &None), "NULL");
        let b = col("b", schemas::bytes());
        assert_eq!(literal(&b, &Some("00ff".into())), "X'00ff'");
        let bits = col(
            "x",
            SchemaBuilder::bytes()
                .name(names::DBZ_BITS)
                .parameter("length", "10")
                .build(),
        );
        assert_eq!(literal(&bits, &Some("515".into())), "515");
        let d = col("d", schemas::decimal(2, false));
        assert_eq!(literal(&d, &Some("1.50".into())), "_utf8mb4 X'312E3530'");
        assert_eq!(ident("a`b"), "`a``b`");
    }
}
