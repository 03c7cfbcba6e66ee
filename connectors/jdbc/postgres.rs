//! PostgreSQL target: tokio-postgres on the worker's runtime, one
//! connection per task.
//!
//! Why a put is applied exactly as a whole or not at all: every put runs
//! in one transaction (BEGIN ... COMMIT), DDL included, since PostgreSQL's
//! DDL is transactional. A failure rolls back, forgets what it knew of the
//! tables (a rolled-back CREATE or ALTER is gone) and reports the error;
//! the worker retries the same records or fails the task, and commits no
//! consumer offset past them either way.
//!
//! Values are bound as text-format parameters that the server types
//! against the target columns (the parameter type is left for the server to
//! infer), so any column type with a text input works, whoever created the
//! table. Each statement is one round trip (an unnamed statement parsed,
//! bound and executed together): nothing is prepared or cached on the
//! server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::types::{Format, IsNull, ToSql, Type};
use tokio_postgres::Client;

use super::config::{InsertMode, JdbcSinkConfig, PkMode};
use super::pg_diagnose::column_at_fault;
use super::pg_tls::RustlsConnect;
use super::plan::{Row, Run, TableBatch};
use super::record::{Shape, TableId};
use super::types::column_type;
use super::url::Dialect;
use super::WriteError;
use crate::mysql::tls::SslMode;

/// One value as a text-format parameter (`None`: NULL).
#[derive(Debug)]
struct Text<'a>(Option<&'a str>);

impl ToSql for Text<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            None => Ok(IsNull::Yes),
            Some(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }
    fn accepts(_ty: &Type) -> bool {
        true
    }
    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }
    tokio_postgres::types::to_sql_checked!();
}

/// What the sink knows of a table's columns.
#[derive(Debug, Default)]
struct TableMeta {
    /// Column name → NOT NULL.
    columns: HashMap<String, bool>,
    /// Shapes already checked against the columns.
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

pub struct PgWriter {
    cfg: Arc<JdbcSinkConfig>,
    client: Option<Client>,
    /// `current_schema()` of the connection.
    default_schema: String,
    tables: HashMap<TableId, TableMeta>,
    /// The statement that hit a data exception: (table, catalog column
    /// names, rows), to name the column once the transaction is rolled back.
    failed: Option<(TableId, Vec<String>, Vec<Row>)>,
}

const MAX_PARAMS: usize = 65_535;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

fn classify(e: &tokio_postgres::Error, what: &str) -> WriteError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let mut msg = format!("{what}: {} (SQLSTATE {code})", db.message());
        if let Some(d) = db.detail() {
            msg.push_str(&format!("; {d}"));
        }
        if let Some(c) = db.column() {
            msg.push_str(&format!("; column {c}"));
        }
        let transient = code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57P")
            || matches!(code, "40001" | "40P01" | "55P03");
        return if transient {
            WriteError::Retriable(msg)
        } else if code.starts_with("22") || code.starts_with("23") {
            // Data exception or integrity violation: a record's values.
            WriteError::Data(msg)
        } else {
            WriteError::Fatal(msg)
        };
    }
    // No server error: the connection broke (I/O, closed, timeout).
    WriteError::Retriable(format!("{what}: {e}"))
}

/// DDL errors: another task creating the same table or column at the same
/// moment loses a race that a retry wins (it then finds them); nothing in a
/// DDL failure is a record's fault.
fn classify_ddl(e: &tokio_postgres::Error, what: &str) -> WriteError {
    let raced = e
        .as_db_error()
        .is_some_and(|d| matches!(d.code().code(), "23505" | "42P06" | "42P07" | "42701"));
    match classify(e, what) {
        WriteError::Data(m) | WriteError::Fatal(m) if raced => WriteError::Retriable(m),
        WriteError::Data(m) => WriteError::Fatal(m),
        other => other,
    }
}

/// Why a login failed, with the key that fixes it.
fn login_error(e: &tokio_postgres::Error, where_: &str, user: &str) -> WriteError {
    let code = e.as_db_error().map(|d| d.code().code().to_string());
    let msg = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| {
            let mut m = e.to_string();
            if let Some(source) = std::error::Error::source(e) {
                m.push_str(&format!(": {source}"));
            }
            m
        });
    match code.as_deref() {
        Some(c) if c.starts_with("28") => WriteError::Fatal(format!(
            "{where_} refused the login of user {user}: {msg}; check connection.username and connection.password"
        )),
        Some("3D000") => WriteError::Fatal(format!(
            "{where_}: {msg}; create the database or correct its name in connection.url"
        )),
        None if msg.contains("TLS") => WriteError::Fatal(format!(
            "{where_}: {msg}; enable TLS (ssl=on) on the server, trust its certificate (sslrootcert), or relax sslmode in connection.url"
        )),
        _ => WriteError::Unreachable(format!("cannot log in to {where_}: {msg}")),
    }
}

impl PgWriter {
    /// Connects; a refused login or missing database fails for good, with
    /// the remedy.
    pub async fn connect(cfg: Arc<JdbcSinkConfig>) -> Result<PgWriter, WriteError> {
        let mut w = PgWriter {
            cfg,
            client: None,
            default_schema: "public".into(),
            tables: HashMap::new(),
            failed: None,
        };
        w.reconnect().await?;
        Ok(w)
    }

    async fn reconnect(&mut self) -> Result<(), WriteError> {
        self.client = None;
        self.tables.clear();
        let url = &self.cfg.url;
        let where_ = format!("PostgreSQL at {}", url.display());
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
        let password = self
            .cfg
            .password
            .clone()
            .or_else(|| url.param("password").map(str::to_string));
        let addr = (url.host.as_str(), url.port);
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(WriteError::Unreachable(format!(
                    "cannot connect to {where_}: {e}; check the host and port in connection.url and that the database is running"
                )))
            }
            Err(_) => {
                return Err(WriteError::Unreachable(format!(
                    "cannot connect to {where_}: no answer within {} s; check the host and port in connection.url and the network",
                    CONNECT_TIMEOUT.as_secs()
                )))
            }
        };
        let _ = stream.set_nodelay(true);
        let mut pg = tokio_postgres::Config::new();
        pg.user(&user)
            .dbname(&url.database)
            .application_name("sluice-jdbc-sink");
        if let Some(p) = &password {
            pg.password(p);
        }
        let tls_opts = url.tls().map_err(WriteError::Fatal)?;
        pg.ssl_mode(match tls_opts.mode {
            SslMode::Disabled => PgSslMode::Disable,
            SslMode::Preferred => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        });
        let tls = RustlsConnect::new(&tls_opts, &url.host)
            .map_err(|e| WriteError::Fatal(format!("{where_}: {e}")))?;
        let (client, connection) =
            match tokio::time::timeout(CONNECT_TIMEOUT, pg.connect_raw(stream, tls)).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(login_error(&e, &where_, &user)),
                Err(_) => {
                    return Err(WriteError::Unreachable(format!(
                        "{where_} did not complete the login within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    )))
                }
            };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("PostgreSQL connection of the JDBC sink ended: {e}");
            }
        });
        let mut setup = String::from("SET TIME ZONE 'UTC'");
        if let Some(schema) = url.param("currentSchema") {
            setup.push_str(&format!("; SET search_path TO {}", self.ident(schema)));
        }
        client
            .batch_execute(&setup)
            .await
            .map_err(|e| classify(&e, &format!("setting up the session on {where_}")))?;
        let row = client
            .query_one("SELECT current_schema()", &[])
            .await
            .map_err(|e| classify(&e, &format!("reading the current schema on {where_}")))?;
        let schema: Option<String> = row.get(0);
        self.default_schema = schema.unwrap_or_else(|| "public".into());
        self.client = Some(client);
        Ok(())
    }

    /// A name as PostgreSQL reads it: quoted as given with
    /// quote.identifiers, otherwise folded to lower case as unquoted names
    /// are (then quoted, so that keywords and odd characters are safe).
    fn ident(&self, name: &str) -> String {
        let n = self.name(name);
        format!("\"{}\"", n.replace('"', "\"\""))
    }

    fn name(&self, name: &str) -> String {
        let mut n = if self.cfg.quote_identifiers {
            name.to_string()
        } else {
            name.to_lowercase()
        };
        // PostgreSQL keeps the first 63 bytes of a name (NAMEDATALEN - 1):
        // cut it the same way, so that the catalog finds what was created.
        if n.len() > 63 {
            let mut end = 63;
            while !n.is_char_boundary(end) {
                end -= 1;
            }
            n.truncate(end);
        }
        n
    }

    fn schema_of(&self, t: &TableId) -> String {
        match &t.schema {
            Some(s) => self.name(s),
            None => self.default_schema.clone(),
        }
    }

    fn qualified(&self, t: &TableId) -> String {
        format!("{}.{}", self.ident(&self.schema_of(t)), self.ident(&t.name))
    }

    /// Applies every batch in one transaction.
    pub async fn write(&mut self, batches: &[TableBatch]) -> Result<(), WriteError> {
        if batches.is_empty() {
            return Ok(());
        }
        if self.client.is_none() {
            self.reconnect().await?;
        }
        self.failed = None;
        let mut result = self.write_in_transaction(batches).await;
        if result.is_err() {
            // What was learnt inside the failed transaction is rolled back.
            self.tables.clear();
            let alive = match &self.client {
                Some(c) if !c.is_closed() => c.batch_execute("ROLLBACK").await.is_ok(),
                _ => false,
            };
            if !alive {
                self.client = None;
            }
        }
        if let (Err(WriteError::Data(m)), Some((t, columns, rows))) =
            (&mut result, self.failed.take())
        {
            if let Some(client) = &self.client {
                let (schema, table) = (self.schema_of(&t), self.name(&t.name));
                if let Some(col) = column_at_fault(client, &schema, &table, &columns, &rows).await {
                    m.push_str(&format!("; {col}"));
                }
            }
        }
        result
    }

    async fn write_in_transaction(&mut self, batches: &[TableBatch]) -> Result<(), WriteError> {
        self.client()?
            .batch_execute("BEGIN")
            .await
            .map_err(|e| classify(&e, "BEGIN"))?;
        for b in batches {
            if !self.ensure_table(b).await? {
                continue;
            }
            for run in &b.runs {
                self.run(&b.table, run).await?;
            }
        }
        self.client()?
            .batch_execute("COMMIT")
            .await
            .map_err(|e| classify(&e, "COMMIT"))?;
        Ok(())
    }

    fn client(&self) -> Result<&Client, WriteError> {
        self.client
            .as_ref()
            .ok_or_else(|| WriteError::Retriable("not connected to PostgreSQL".into()))
    }

    async fn load_columns(&self, t: &TableId) -> Result<Option<HashMap<String, bool>>, WriteError> {
        let rows = self
            .client()?
            .query(
                "SELECT a.attname::text, a.attnotnull FROM pg_catalog.pg_attribute a \
                 JOIN pg_catalog.pg_class c ON a.attrelid = c.oid \
                 JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
                 WHERE n.nspname = $1::text AND c.relname = $2::text AND c.relkind IN ('r', 'p') \
                 AND a.attnum > 0 AND NOT a.attisdropped",
                &[&self.schema_of(t), &self.name(&t.name)],
            )
            .await
            .map_err(|e| classify(&e, &format!("reading the columns of table {t}")))?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1)))
                .collect(),
        ))
    }

    /// Creates the table or adds columns as the config allows; otherwise a
    /// missing table or column fails naming it. `false`: the table does not
    /// exist and the batch only deletes or truncates, which leaves nothing
    /// to do.
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
                    let shape = match shapes.first() {
                        Some(s) => s.clone(),
                        // Only deletes or truncates for a missing table: nothing to do there.
                        None => return Ok(false),
                    };
                    if !self.cfg.auto_create {
                        return Err(self.missing_table(t));
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

    fn missing_table(&self, t: &TableId) -> WriteError {
        WriteError::Fatal(format!(
            "table {}.{} does not exist in PostgreSQL database {}: create it, or set {} to let the sink create it from the record schema",
            self.schema_of(t),
            self.name(&t.name),
            self.cfg.url.database,
            self.cfg.create_remedy()
        ))
    }

    async fn create_table(&mut self, t: &TableId, shape: &Shape) -> Result<(), WriteError> {
        let mut cols = Vec::new();
        for (i, c) in shape.columns.iter().enumerate() {
            let key = i < shape.key_count;
            let ty = column_type(&c.schema, Dialect::Postgres, key)
                .map_err(|e| WriteError::Fatal(format!("table {t}, column {}: {e}", c.name)))?;
            let not_null = if key || !c.schema.optional {
                " NOT NULL"
            } else {
                ""
            };
            cols.push(format!("{} {ty}{not_null}", self.ident(&c.name)));
        }
        if shape.key_count > 0 && self.cfg.pk_mode != PkMode::None {
            let keys: Vec<String> = shape
                .key_columns()
                .iter()
                .map(|c| self.ident(&c.name))
                .collect();
            cols.push(format!("PRIMARY KEY ({})", keys.join(", ")));
        }
        if t.schema.is_some() {
            let sql = format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                self.ident(&self.schema_of(t))
            );
            self.client()?
                .batch_execute(&sql)
                .await
                .map_err(|e| classify_ddl(&e, &format!("creating the schema of table {t}")))?;
        }
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            self.qualified(t),
            cols.join(", ")
        );
        tracing::info!("JDBC sink: {sql}");
        self.client()?
            .batch_execute(&sql)
            .await
            .map_err(|e| classify_ddl(&e, &format!("creating table {t}")))
    }

    /// Adds missing columns and drops NOT NULL where a field became
    /// optional (auto_evolve), or fails naming the column.
    async fn evolve(&mut self, t: &TableId, shape: &Arc<Shape>) -> Result<(), WriteError> {
        let mut ddl = Vec::new();
        {
            let meta = &self.tables[t];
            if meta.knows(shape) {
                return Ok(());
            }
            for (i, c) in shape.columns.iter().enumerate() {
                let key = i < shape.key_count;
                let name = self.name(&c.name);
                match meta.columns.get(&name) {
                    None if self.cfg.auto_evolve => {
                        let ty = column_type(&c.schema, Dialect::Postgres, key).map_err(|e| {
                            WriteError::Fatal(format!("table {t}, column {}: {e}", c.name))
                        })?;
                        ddl.push(format!("ADD COLUMN IF NOT EXISTS {} {ty}", self.ident(&c.name)));
                    }
                    None => {
                        return Err(WriteError::Fatal(format!(
                            "table {t} has no column {name}, which the records carry: add the column, or set {} to let the sink add it",
                            self.cfg.create_remedy()
                        )))
                    }
                    Some(true) if !key && c.schema.optional && self.cfg.auto_evolve => {
                        ddl.push(format!("ALTER COLUMN {} DROP NOT NULL", self.ident(&c.name)));
                    }
                    Some(_) => {}
                }
            }
        }
        if !ddl.is_empty() {
            let sql = format!("ALTER TABLE {} {}", self.qualified(t), ddl.join(", "));
            tracing::info!("JDBC sink: {sql}");
            self.client()?
                .batch_execute(&sql)
                .await
                .map_err(|e| classify_ddl(&e, &format!("altering table {t}")))?;
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
                let sql = format!("TRUNCATE TABLE {}", self.qualified(t));
                self.client()?
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| classify(&e, &format!("truncating table {t}")))
            }
            Run::Write { shape, rows } => match self.cfg.insert_mode {
                InsertMode::Update => {
                    for row in rows {
                        let sql = self.update_sql(t, shape);
                        self.execute(t, shape, &sql, std::slice::from_ref(row), "updating")
                            .await?;
                    }
                    Ok(())
                }
                _ => {
                    let per = self.rows_per_statement(shape.columns.len());
                    for chunk in rows.chunks(per) {
                        let sql = self.insert_sql(t, shape, chunk.len());
                        self.execute(t, shape, &sql, chunk, "writing to").await?;
                    }
                    Ok(())
                }
            },
            Run::Delete { shape, rows } => {
                let per = self.rows_per_statement(shape.columns.len());
                for chunk in rows.chunks(per) {
                    let sql = self.delete_sql(t, shape, chunk.len());
                    self.execute(t, shape, &sql, chunk, "deleting from").await?;
                }
                Ok(())
            }
        }
    }

    fn rows_per_statement(&self, columns: usize) -> usize {
        (MAX_PARAMS / columns.max(1))
            .min(self.cfg.batch_size)
            .max(1)
    }

    async fn execute(
        &mut self,
        t: &TableId,
        shape: &Shape,
        sql: &str,
        rows: &[Row],
        what: &str,
    ) -> Result<(), WriteError> {
        let params: Vec<Text<'_>> = rows
            .iter()
            .flat_map(|r| r.iter().map(|v| Text(v.as_deref())))
            .collect();
        // One round trip: parse, bind and execute an unnamed statement, the
        // parameter types left for the server to infer from the columns.
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
            .collect();
        let result = self.client()?.query_typed(sql, &typed).await;
        if let Err(e) = result {
            let data_exception = e
                .as_db_error()
                .is_some_and(|d| d.code().code().starts_with("22"));
            if data_exception {
                let columns = shape.columns.iter().map(|c| self.name(&c.name)).collect();
                self.failed = Some((t.clone(), columns, rows.to_vec()));
            }
            return Err(classify(&e, &format!("{what} table {t}")));
        }
        Ok(())
    }

    fn column_list(&self, shape: &Shape) -> String {
        shape
            .columns
            .iter()
            .map(|c| self.ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn insert_sql(&self, t: &TableId, shape: &Shape, rows: usize) -> String {
        let n = shape.columns.len();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            self.qualified(t),
            self.column_list(shape)
        );
        let mut p = 1;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..n {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${p}"));
                p += 1;
            }
            sql.push(')');
        }
        if self.cfg.insert_mode == InsertMode::Upsert && shape.key_count > 0 {
            let keys: Vec<String> = shape
                .key_columns()
                .iter()
                .map(|c| self.ident(&c.name))
                .collect();
            let sets: Vec<String> = shape.columns[shape.key_count..]
                .iter()
                .map(|c| {
                    let i = self.ident(&c.name);
                    format!("{i} = EXCLUDED.{i}")
                })
                .collect();
            if sets.is_empty() {
                sql.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", keys.join(", ")));
            } else {
                sql.push_str(&format!(
                    " ON CONFLICT ({}) DO UPDATE SET {}",
                    keys.join(", "),
                    sets.join(", ")
                ));
            }
        }
        sql
    }

    fn update_sql(&self, t: &TableId, shape: &Shape) -> String {
        let mut p = 0;
        let mut next = || {
            p += 1;
            format!("${p}")
        };
        // Parameters come in column order: keys first.
        let keys: Vec<String> = shape
            .key_columns()
            .iter()
            .map(|c| format!("{} = {}", self.ident(&c.name), next()))
            .collect();
        let sets: Vec<String> = shape.columns[shape.key_count..]
            .iter()
            .map(|c| format!("{} = {}", self.ident(&c.name), next()))
            .collect();
        if sets.is_empty() {
            // Nothing to change but the key: a no-op that still checks it.
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

    fn delete_sql(&self, t: &TableId, shape: &Shape, rows: usize) -> String {
        let keys: Vec<String> = shape
            .key_columns()
            .iter()
            .map(|c| self.ident(&c.name))
            .collect();
        let n = keys.len();
        let mut tuples = Vec::with_capacity(rows);
        let mut p = 1;
        for _ in 0..rows {
            let ps: Vec<String> = (0..n)
                .map(|_| {
                    let s = format!("${p}");
                    p += 1;
                    s
                })
                .collect();
            tuples.push(if n == 1 {
                ps[0].clone()
            } else {
                format!("({})", ps.join(", "))
            });
        }
        let lhs = if n == 1 {
            keys[0].clone()
        } else {
            format!("({})", keys.join(", "))
        };
        format!(
            "DELETE FROM {} WHERE {lhs} IN ({})",
            self.qualified(t),
            tuples.join(", ")
        )
    }
}
