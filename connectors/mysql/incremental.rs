//! Signals and incremental snapshots while the binlog streams (Debezium's
//! `SignalBasedIncrementalSnapshotChangeEventSource` for MySQL/MariaDB).
//!
//! The stream calls in at three places:
//! - a row inserted into the signal table (`signal.data.collection`) is a
//!   signal, handled at its place in the binlog ([`Snapshots::handle`]);
//!   signals from the Kafka and file channels are handled between
//!   transactions;
//! - a streamed change of the table in the window drops the chunk's row
//!   of its key ([`Incremental::dedup`]);
//! - every hand-over's offset gets the snapshot's state
//!   ([`Snapshots::fields`]).
//!
//! A chunk is read on a connection of its own: INSERT of the open
//! watermark (`<chunk id>-open`, `snapshot-window-open`), the SELECT of the
//! next `incremental.snapshot.chunk.size` rows by primary key (after the
//! last key emitted, up to the greatest key when the table's scan started),
//! INSERT of the close watermark. Each statement commits on its own
//! (autocommit), so the SELECT sees everything committed before the open
//! row, and nothing committed after the close row. Why the window then
//! makes replay right is told in [`crate::debezium::incremental`].
//!
//! `read.only=true` (MariaDB, Percona Server) writes nothing: a chunk is
//! read in `START TRANSACTION WITH CONSISTENT SNAPSHOT`, whose binlog
//! position P the server reports atomically with the read view
//! (`binlog_snapshot_file` / `_position`): the chunk is exactly the rows as
//! of P. The stream emits it once every event before P is out and before
//! any event after P, so no dedup window is needed: what comes before is
//! older, what comes after is newer. (Debezium's read-only variant brackets
//! the SELECT with two GTID sets and deduplicates between them; P makes the
//! bracket a point.)

use std::sync::Arc;

use serde_json::Value as Json;
use sluice_api::data::{JsonMap, SourceRecord, Value};

use super::catalog::{list_tables, load_table, quote_ident, sql_string, ColumnDesc, TableDef};
use super::config::MySqlConfig;
use super::error::MySqlError;
use super::events::SourceInfo;
use super::protocol::Connection;
use super::schema::{source_field, TableSchema};
use super::stream::Capture;
use super::text::decode_text_row;
use crate::debezium::events::Op;
use crate::debezium::incremental::{full_match, Collection, Incremental};
use crate::debezium::signal::{
    expand_collections, Action, Channels, Signal, SnapshotKind, SnapshotRequest,
};

/// Where the stream is when a chunk is emitted: the source block of its
/// rows names this position.
pub struct At {
    pub file: Arc<str>,
    pub pos: u64,
    pub server_id: u32,
    /// The GTID of the transaction the stream is in.
    pub gtid: Option<Arc<str>>,
}

/// The stream's signals and incremental snapshot.
pub struct Snapshots {
    pub inc: Incremental,
    /// signal.data.collection as (db, table).
    signal_table: Option<(String, String)>,
    /// Whether the signal table's own changes reach its topic (it is
    /// captured by the include/exclude lists).
    pub signal_captured: bool,
    channels: Channels,
    /// For watermarks and chunk reads.
    conn: Option<Connection>,
    cfg: Arc<MySqlConfig>,
    /// Chunks read since the task started (progress and logs).
    pub chunks_read: u64,
    /// A blocking snapshot asked for: (signal id, data-collections), run
    /// by the stream at the end of the signal's transaction.
    blocking: Option<(String, Vec<String>)>,
    /// read.only: the binlog position (file, pos) the chunk in the window
    /// is consistent with; the stream emits it on reaching that position.
    pub read_only_at: Option<(String, u64)>,
    /// Where progress is published (the status JSON's `snapshot` part,
    /// Debezium's snapshot metrics in /metrics).
    pub progress: Option<sluice_api::SourceTaskContext>,
}

impl Snapshots {
    /// The state of `resumed` (the incremental snapshot fields of the
    /// offset the stream starts from).
    pub fn new(cfg: Arc<MySqlConfig>, resumed: Option<&JsonMap>) -> Snapshots {
        let signal_table = cfg.signal.data_collection.as_deref().and_then(|dc| {
            let (db, t) = dc.split_once('.')?;
            Some((db.to_string(), t.to_string()))
        });
        let signal_captured = signal_table
            .as_ref()
            .is_some_and(|(db, t)| cfg.filters.captures_table(db, t));
        let inc = resumed.map(Incremental::from_offset).unwrap_or_default();
        if inc.active() {
            tracing::info!(
                "resuming the incremental snapshot of {} after key {:?}",
                inc.collections
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                inc.emitted_key
            );
        }
        Snapshots {
            inc,
            signal_captured,
            channels: Channels::start(&cfg.signal, &cfg.topic_prefix),
            signal_table: if cfg.signal.source || cfg.signal.data_collection.is_some() {
                signal_table
            } else {
                None
            },
            conn: None,
            cfg,
            chunks_read: 0,
            blocking: None,
            read_only_at: None,
            progress: None,
        }
    }

    pub fn is_signal_table(&self, db: &str, table: &str) -> bool {
        self.signal_table
            .as_ref()
            .is_some_and(|(d, t)| d == db && t == table)
    }

    /// The offset fields of the incremental snapshot (none when none runs).
    pub fn fields(&self) -> Option<JsonMap> {
        self.inc.offset_fields()
    }

    /// A signal from the Kafka or file channel, if one came.
    pub fn next_channel_signal(&mut self) -> Option<Signal> {
        self.channels.try_next()
    }

    /// The signal of a signal-table row (id, type, data columns).
    pub fn row_signal(values: &[Value]) -> Option<Result<Signal, String>> {
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => Some(s.to_string()),
            Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        };
        let id = text(values.first())?;
        let kind = text(values.get(1))?;
        let data = text(values.get(2));
        Some(Signal::new(&id, &kind, data.as_deref()))
    }

    async fn conn(&mut self) -> Result<&mut Connection, MySqlError> {
        if self.conn.is_none() {
            let mut c = Connection::connect(&self.cfg.connect_options()).await?;
            // As the initial snapshot reads: bytes as stored, times in UTC.
            c.exec("SET SESSION time_zone = '+00:00', character_set_results = NULL")
                .await?;
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }

    /// Acts on `sig` at stream position `at`; chunk rows and notifications
    /// are appended to `out`. Returns whether chunk rows were appended
    /// (the caller notes an offset on the last of them).
    pub async fn handle(
        &mut self,
        cap: &mut Capture,
        sig: Signal,
        at: &At,
        out: &mut Vec<SourceRecord>,
    ) -> Result<bool, MySqlError> {
        let action = match sig.action() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("{e}; the signal is ignored");
                return Ok(false);
            }
        };
        match action {
            Action::WindowOpen => {
                self.inc.open(&sig.id);
                Ok(false)
            }
            Action::WindowClose => {
                if !self.inc.is_close(&sig.id) {
                    return Ok(false);
                }
                let emitted = self.emit_window(at, out);
                self.read_chunk(cap, out).await?;
                Ok(emitted)
            }
            Action::Log(message) => {
                let offset = format!("{}:{}", at.file, at.pos);
                tracing::info!("{}", message.replace("{}", &offset));
                Ok(false)
            }
            Action::Execute(req) if req.kind == SnapshotKind::Blocking => {
                self.blocking = Some((sig.id.clone(), req.collections));
                Ok(false)
            }
            Action::Execute(req) => {
                self.execute(cap, &sig.id, req, out).await?;
                Ok(false)
            }
            control => {
                if self.inc.control(&self.cfg.notifier, &sig.id, &control, out) {
                    self.read_chunk(cap, out).await?;
                }
                Ok(false)
            }
        }
    }

    /// A blocking snapshot asked for, to run now (between transactions,
    /// everything before it handed over).
    pub fn take_blocking(&mut self) -> Option<(String, Vec<String>)> {
        self.blocking.take()
    }

    /// A blocking snapshot (Debezium's `execute-snapshot` type blocking):
    /// the stream waits while the tables the request names are read in
    /// one consistent snapshot, and then goes on where it stopped. The rows
    /// are `r` events marked as an initial snapshot's are, named by the
    /// stream's position `at`, sent in batches to `tx` without offsets: the
    /// committed offset stays where the stream stopped.
    pub async fn blocking(
        &mut self,
        cap: &mut Capture,
        (id, collections): (String, Vec<String>),
        at: &At,
        tx: &crate::debezium::feed::FeedTx,
    ) -> Result<(), MySqlError> {
        use crate::debezium::notify::INITIAL;
        let all: Vec<(String, String)> = list_tables(cap.meta().await?, &self.cfg.filters)
            .await?
            .into_iter()
            .filter(|(db, t)| !self.is_signal_table(db, t))
            .collect();
        let tables: Vec<(String, String)> =
            match expand_collections(&collections, &all, |(db, t)| format!("{db}.{t}"), true) {
                Ok(chosen) => chosen.into_iter().cloned().collect(),
                Err(e) => {
                    tracing::warn!("signal {id}: {e}; the blocking snapshot is not taken");
                    return Ok(());
                }
            };
        if tables.is_empty() {
            tracing::warn!("signal {id}: no captured table matches {collections:?}; no blocking snapshot is taken");
            return Ok(());
        }
        let names: Vec<String> = tables.iter().map(|(d, t)| format!("{d}.{t}")).collect();
        tracing::info!(
            "signal {id}: blocking snapshot of {}; streaming waits",
            names.join(",")
        );
        let notify_id = new_uuid();
        let notifier = self.cfg.notifier.clone();
        let cfg = self.cfg.clone();
        let mut out: Vec<SourceRecord> = Vec::new();
        notifier.notify(&notify_id, INITIAL, "STARTED", &[], &mut out);
        let mut defs = Vec::new();
        for (db, t) in &tables {
            if let Some(def) = load_table(cap.meta().await?, db, t).await? {
                defs.push(def);
            }
        }
        let conn = self.conn().await?;
        conn.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await?;
        let mut held: Option<(Arc<TableSchema>, Vec<Value>, bool)> = None;
        let mut first_overall = true;
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        let file: Arc<str> = at.file.clone();
        let emit = |cap: &Capture,
                    h: &mut (Arc<TableSchema>, Vec<Value>, bool),
                    mark: &'static str,
                    out: &mut Vec<SourceRecord>| {
            let src = SourceInfo {
                ts_ms: crate::debezium::time::now().0,
                snapshot: mark,
                db: &h.0.db,
                table: Some(&h.0.table),
                server_id: at.server_id,
                gtid: None,
                file: &file,
                pos: at.pos,
                row: 0,
                thread: None,
                query: None,
            };
            cap.eb.change_in_txn(
                &h.0,
                Op::Read,
                None,
                Some(h.1.as_mut_slice()),
                &src,
                None,
                None,
                out,
            );
        };
        for (ti, def) in defs.iter().enumerate() {
            let ts = Arc::new(
                TableSchema::new(
                    &cfg,
                    &def.db,
                    &def.table,
                    def.plans(&cfg.decode)?,
                    &def.primary_key_indexes(),
                )
                .map_err(MySqlError::Config)?,
            );
            let name = format!("{}.{}", def.db, def.table);
            notifier.notify(
                &notify_id,
                INITIAL,
                "IN_PROGRESS",
                &[
                    ("current_collection_in_progress", name.clone()),
                    ("data_collections", names.join(",")),
                ],
                &mut out,
            );
            let cols: Vec<String> = def.columns.iter().map(|c| quote_ident(&c.name)).collect();
            let sql = format!(
                "SELECT {} FROM {}.{}",
                cols.join(", "),
                quote_ident(&def.db),
                quote_ident(&def.table)
            );
            let n = conn.query_start(&sql).await?.len();
            let mut rows: u64 = 0;
            let mut first_in_table = true;
            while conn.next_row(n, &mut buf, &mut spans).await? {
                let raw: Vec<Option<&[u8]>> =
                    spans.iter().map(|s| s.map(|(a, b)| &buf[a..b])).collect();
                let mut values = Vec::new();
                decode_text_row(&ts.plans, &raw, &mut values).map_err(|e| {
                    MySqlError::decode(format!("blocking snapshot row of {name}"), e)
                })?;
                if let Some(mut h) = held.take() {
                    let mark = super::snapshot::marker(first_overall, h.2, false, false);
                    emit(cap, &mut h, mark, &mut out);
                    first_overall = false;
                }
                held = Some((ts.clone(), values, first_in_table));
                first_in_table = false;
                rows += 1;
                if out.len() >= cfg.common.max_batch_size
                    && tx.send(Ok(std::mem::take(&mut out))).await.is_err()
                {
                    let _ = conn.exec("COMMIT").await;
                    return Ok(());
                }
            }
            if let Some(mut h) = held.take() {
                let mark = super::snapshot::marker(first_overall, h.2, true, ti + 1 == defs.len());
                emit(cap, &mut h, mark, &mut out);
                first_overall = false;
            }
            notifier.notify(
                &notify_id,
                INITIAL,
                "TABLE_SCAN_COMPLETED",
                &[
                    ("scanned_collection", name.clone()),
                    ("data_collections", names.join(",")),
                    ("total_rows_scanned", rows.to_string()),
                    ("status", "SUCCEEDED".into()),
                ],
                &mut out,
            );
            tracing::info!("blocking snapshot of {name}: {rows} rows");
        }
        conn.exec("COMMIT").await?;
        notifier.notify(&notify_id, INITIAL, "COMPLETED", &[], &mut out);
        tracing::info!(
            "blocking snapshot done; streaming goes on from {}:{}",
            at.file,
            at.pos
        );
        if !out.is_empty() {
            let _ = tx.send(Ok(out)).await;
        }
        Ok(())
    }

    /// `execute-snapshot` (incremental): queues the captured tables the
    /// request names and starts reading unless a chunk is in flight.
    async fn execute(
        &mut self,
        cap: &mut Capture,
        id: &str,
        req: SnapshotRequest,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), MySqlError> {
        if self.signal_table.is_none() && !self.cfg.read_only {
            tracing::error!("signal {id}: an incremental snapshot needs the signal table for its watermarks; set signal.data.collection (<db>.<table>, with INSERT granted), or read.only=true on MariaDB, and send the signal again");
            return Ok(());
        }
        let tables: Vec<(String, String)> = list_tables(cap.meta().await?, &self.cfg.filters)
            .await?
            .into_iter()
            .filter(|(db, t)| !self.is_signal_table(db, t))
            .collect();
        let chosen = match expand_collections(
            &req.collections,
            &tables,
            |(db, t)| format!("{db}.{t}"),
            false,
        ) {
            Ok(chosen) => chosen,
            Err(e) => {
                tracing::warn!("signal {id}: {e}; the signal is ignored");
                return Ok(());
            }
        };
        let mut add = Vec::new();
        for (db, table) in chosen {
            let name = format!("{db}.{table}");
            let condition = req
                .conditions
                .iter()
                .find(|(dc, _)| full_match(dc, &name))
                .map(|(_, f)| f.clone());
            add.push(Collection {
                id: name,
                condition,
                surrogate_key: req.surrogate_key.clone(),
            });
        }
        // Data collections named literally that are not captured: said
        // once, as Debezium skips them.
        for r in &req.collections {
            if !add.iter().any(|c| full_match(r, &c.id)) {
                tracing::warn!("signal {id}: no captured table matches '{r}' (check table.include.list / table.exclude.list); it is not snapshotted");
            }
        }
        if add.is_empty() {
            return Ok(());
        }
        if self.inc.begin(&self.cfg.notifier, id, add, out) {
            self.read_chunk(cap, out).await?;
        }
        Ok(())
    }

    /// The rows of the closed window, restamped with the stream's
    /// position, appended to `out`.
    pub fn emit_window(&mut self, at: &At, out: &mut Vec<SourceRecord>) -> bool {
        self.read_only_at = None;
        let (mut rows, _) = self.inc.close();
        for r in &mut rows {
            restamp(r, at);
        }
        let emitted = !rows.is_empty();
        out.append(&mut rows);
        emitted
    }

    fn table_done(&mut self, status: &str, out: &mut Vec<SourceRecord>) {
        self.inc
            .table_done(&self.cfg.notifier, self.progress.as_ref(), status, out);
    }

    /// Reads the next chunk into the window between its watermarks
    /// (skipping tables that are gone, keyless or empty), unless paused,
    /// done, or a chunk is already in the window.
    pub async fn read_chunk(
        &mut self,
        cap: &mut Capture,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), MySqlError> {
        while self.inc.active() && !self.inc.paused && !self.inc.in_window() {
            let c = self.inc.current().expect("active").clone();
            let Some((db, table)) = c.id.split_once('.') else {
                self.table_done("UNKNOWN_SCHEMA", out);
                continue;
            };
            let Some(def) = load_table(cap.meta().await?, db, table).await? else {
                tracing::warn!(
                    "incremental snapshot: table {} does not exist (any more); skipped",
                    c.id
                );
                self.table_done("UNKNOWN_SCHEMA", out);
                continue;
            };
            let key_cols: Vec<usize> = match &c.surrogate_key {
                Some(k) => match def.columns.iter().position(|col| &col.name == k) {
                    Some(i) => vec![i],
                    None => {
                        tracing::warn!("incremental snapshot of {}: surrogate-key {k} is not a column of the table; skipped", c.id);
                        self.table_done("SKIPPED", out);
                        continue;
                    }
                },
                None => def.primary_key_indexes(),
            };
            if key_cols.is_empty() {
                tracing::warn!("incremental snapshot of {}: the table has no primary key (name a column with surrogate-key); skipped", c.id);
                self.table_done("NO_PRIMARY_KEY", out);
                continue;
            }
            if self.inc.max_key.is_none() {
                self.inc.emitted_key = None;
                match self
                    .max_key(&def, &key_cols, c.condition.as_deref())
                    .await?
                {
                    Some(k) => self.inc.max_key = Some(k),
                    None => {
                        self.table_done("EMPTY", out);
                        continue;
                    }
                }
            }
            if self.read_window(cap, &def, &key_cols, &c, out).await? == 0 {
                // Past the last key: the table is done (as Debezium, on
                // the first chunk that comes back empty).
                self.table_done("SUCCEEDED", out);
            }
        }
        Ok(())
    }

    async fn max_key(
        &mut self,
        def: &TableDef,
        key_cols: &[usize],
        condition: Option<&str>,
    ) -> Result<Option<Vec<Json>>, MySqlError> {
        let cols: Vec<String> = key_cols
            .iter()
            .map(|&i| quote_ident(&def.columns[i].name))
            .collect();
        let desc: Vec<String> = cols.iter().map(|c| format!("{c} DESC")).collect();
        let sql = format!(
            "SELECT {} FROM {}.{}{} ORDER BY {} LIMIT 1",
            cols.join(", "),
            quote_ident(&def.db),
            quote_ident(&def.table),
            condition
                .map(|f| format!(" WHERE ({f})"))
                .unwrap_or_default(),
            desc.join(", ")
        );
        let conn = self.conn().await?;
        let n = conn.query_start(&sql).await?.len();
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        let mut key = None;
        while conn.next_row(n, &mut buf, &mut spans).await? {
            if key.is_none() {
                key = Some(
                    key_cols
                        .iter()
                        .enumerate()
                        .map(|(j, &i)| key_part(&def.columns[i], spans[j].map(|(a, b)| &buf[a..b])))
                        .collect(),
                );
            }
        }
        Ok(key)
    }

    async fn read_window(
        &mut self,
        cap: &mut Capture,
        def: &TableDef,
        key_cols: &[usize],
        c: &Collection,
        out: &mut Vec<SourceRecord>,
    ) -> Result<usize, MySqlError> {
        let cfg = self.cfg.clone();
        let plans = def.plans(&cfg.decode)?;
        let ts = Arc::new(
            TableSchema::new(&cfg, &def.db, &def.table, plans, &def.primary_key_indexes())
                .map_err(MySqlError::Config)?,
        );
        let (sdb, stable) = self.signal_table.clone().unwrap_or_default();
        let signal = format!("{}.{}", quote_ident(&sdb), quote_ident(&stable));
        let read_only = cfg.read_only;
        let chunk = new_uuid();
        let mut filter = Vec::new();
        if let Some(k) = &self.inc.emitted_key {
            filter.push(compare(def, key_cols, k, ">"));
        }
        if let Some(k) = &self.inc.max_key {
            filter.push(compare(def, key_cols, k, "<="));
        }
        if let Some(f) = &c.condition {
            filter.push(format!("({f})"));
        }
        let cols: Vec<String> = def
            .columns
            .iter()
            .map(|col| quote_ident(&col.name))
            .collect();
        let order: Vec<String> = key_cols
            .iter()
            .map(|&i| quote_ident(&def.columns[i].name))
            .collect();
        let select = format!(
            "SELECT {} FROM {}.{}{} ORDER BY {} LIMIT {}",
            cols.join(", "),
            quote_ident(&def.db),
            quote_ident(&def.table),
            if filter.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", filter.join(" AND "))
            },
            order.join(", "),
            cfg.signal.chunk_size
        );
        let watermark = |kind: &str, suffix: &str, data: &str| {
            format!(
                "INSERT INTO {signal} VALUES ({}, {}, {})",
                sql_string(&format!("{chunk}-{suffix}")),
                sql_string(kind),
                sql_string(data)
            )
        };
        let opened = instant_text();
        let open = watermark(
            crate::debezium::signal::WINDOW_OPEN,
            "open",
            &format!("{{\"openWindowTimestamp\": \"{opened}\"}}"),
        );
        let remedy = |e: MySqlError| {
            MySqlError::decode(
                format!("the incremental snapshot's watermark in {sdb}.{stable}"),
                format!("{e}; the connector's user needs INSERT (and DELETE with incremental.snapshot.watermarking.strategy=insert_delete) on the signal table, whose columns are id VARCHAR(42) PRIMARY KEY, type VARCHAR(32), data VARCHAR(2048)"),
            )
        };
        let conn = self.conn().await?;
        let mut consistent_at = None;
        if read_only {
            // The chunk as of an exact binlog position (see the module
            // doc): no write, no window.
            conn.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                .await?;
            let rs = conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'").await?;
            let (mut file, mut pos) = (String::new(), 0u64);
            for i in 0..rs.rows.len() {
                match rs.text(i, 0) {
                    Some("Binlog_snapshot_file") => file = rs.text(i, 1).unwrap_or("").to_string(),
                    Some("Binlog_snapshot_position") => {
                        pos = rs.text(i, 1).and_then(|v| v.parse().ok()).unwrap_or(0)
                    }
                    _ => {}
                }
            }
            if file.is_empty() {
                let _ = conn.exec("COMMIT").await;
                return Err(MySqlError::Config(format!(
                    "read.only=true: {} reports no binlog_snapshot_file (MariaDB and Percona Server do; MySQL does not), so a chunk cannot be tied to a binlog position without writing; set read.only=false and signal.data.collection",
                    conn.addr()
                )));
            }
            consistent_at = Some((file, pos));
        } else {
            conn.exec(&open).await.map_err(remedy)?;
        }
        let n = conn.query_start(&select).await?.len();
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        let mut rows = Vec::new();
        let mut last_key = None;
        let mut values = Vec::new();
        let file: Arc<str> = "".into();
        let id = c.id.clone();
        while conn.next_row(n, &mut buf, &mut spans).await? {
            let raw: Vec<Option<&[u8]>> =
                spans.iter().map(|s| s.map(|(a, b)| &buf[a..b])).collect();
            last_key = Some(
                key_cols
                    .iter()
                    .map(|&i| key_part(&def.columns[i], raw[i]))
                    .collect::<Vec<_>>(),
            );
            values.clear();
            decode_text_row(&ts.plans, &raw, &mut values)
                .map_err(|e| MySqlError::decode(format!("incremental snapshot row of {id}"), e))?;
            let src = SourceInfo {
                ts_ms: crate::debezium::time::now().0,
                snapshot: "incremental",
                db: &ts.db,
                table: Some(&ts.table),
                server_id: 0,
                gtid: None,
                file: &file,
                pos: 0,
                row: 0,
                thread: None,
                query: None,
            };
            cap.eb.change_in_txn(
                &ts,
                Op::Read,
                None,
                Some(values.as_mut_slice()),
                &src,
                None,
                None,
                &mut rows,
            );
        }
        let close = if cfg.signal.close_by_delete {
            format!(
                "DELETE FROM {signal} WHERE id = {}",
                sql_string(&format!("{chunk}-open"))
            )
        } else {
            watermark(
                crate::debezium::signal::WINDOW_CLOSE,
                "close",
                &format!(
                    "{{\"openWindowTimestamp\": \"{opened}\", \"closeWindowTimestamp\": \"{}\"}}",
                    instant_text()
                ),
            )
        };
        if read_only {
            conn.exec("COMMIT").await?;
        } else {
            conn.exec(&close).await.map_err(remedy)?;
        }
        self.chunks_read += 1;
        let n = rows.len();
        tracing::debug!(
            "incremental snapshot of {id}: chunk {chunk} read ({n} rows, after {:?})",
            self.inc.emitted_key
        );
        self.inc.rows_scanned += n as u64;
        if n > 0 {
            self.inc.chunk_read(
                &self.cfg.notifier,
                self.progress.as_ref(),
                chunk,
                rows,
                last_key,
                &key_part_text,
                out,
            );
            self.read_only_at = consistent_at;
        }
        Ok(n)
    }
}

/// Now as Java's `Instant.toString()` writes it (UTC, `Z`).
fn instant_text() -> String {
    let (ms, _, _) = crate::debezium::time::now();
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::debezium::time::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// A chunk row's source block, as of the stream's position at the window's
/// close (where Debezium's incremental snapshot events stand).
fn restamp(r: &mut SourceRecord, at: &At) {
    let Value::Struct(env) = &mut r.data.value else {
        return;
    };
    let Some(Value::Struct(src)) = env.values.get_mut(2) else {
        return;
    };
    src.values[source_field::FILE] = Value::String(at.file.clone());
    src.values[source_field::POS] = Value::Int64(at.pos as i64);
    src.values[source_field::SERVER_ID] = Value::Int64(at.server_id as i64);
    src.values[source_field::GTID] = at.gtid.clone().map_or(Value::Null, Value::String);
}

/// Whether a column compares as a number (its key text is a literal).
fn numeric(c: &ColumnDesc) -> bool {
    matches!(
        c.data_type.as_str(),
        "tinyint"
            | "smallint"
            | "mediumint"
            | "int"
            | "integer"
            | "bigint"
            | "decimal"
            | "numeric"
            | "float"
            | "double"
            | "year"
    )
}

/// A key column's value as the offset keeps it: a number's text, or
/// `null`, or the hex of the stored bytes.
fn key_part(c: &ColumnDesc, raw: Option<&[u8]>) -> Json {
    match raw {
        None => Json::Null,
        Some(b) if numeric(c) => Json::String(String::from_utf8_lossy(b).into_owned()),
        Some(b) => Json::String(format!("x{}", hex(b))),
    }
}

/// The bytes of a key part written as `x<hex>`.
fn unhex(s: &str) -> Option<Vec<u8>> {
    let h = s.strip_prefix('x')?;
    if h.len() % 2 != 0 {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A key part as notifications show it.
fn key_part_text(v: &Json) -> String {
    match v {
        Json::String(s) => match unhex(s) {
            Some(b) => String::from_utf8_lossy(&b).into_owned(),
            None => s.clone(),
        },
        Json::Null => "<null>".into(),
        other => other.to_string(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The SQL literal of a key part: numbers as they are, text in the
/// column's own character set (so it compares under the column's
/// collation, as ORDER BY sorts), bytes and other types as hex.
fn literal(c: &ColumnDesc, v: &Json) -> String {
    let Some(s) = v.as_str() else {
        return "NULL".into();
    };
    if numeric(c) {
        // Checked: only a number's characters reach the statement.
        if s.chars()
            .all(|ch| ch.is_ascii_digit() || matches!(ch, '-' | '+' | '.' | 'e' | 'E'))
        {
            return s.to_string();
        }
        return sql_string(s);
    }
    let Some(bytes) = unhex(s) else {
        return sql_string(s);
    };
    let s = &s[1..];
    match c.data_type.as_str() {
        "date" | "datetime" | "timestamp" | "time" => {
            // Temporal text is ASCII: the stored text itself.
            sql_string(&String::from_utf8_lossy(&bytes))
        }
        _ => match &c.charset {
            Some(cs) if cs.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') => {
                format!("_{cs} X'{s}'")
            }
            _ => format!("X'{s}'"),
        },
    }
}

/// `(k1, k2, ...) <op> key` written out lexicographically (`>` or `<=`),
/// which every server version plans with the primary key's index.
fn compare(def: &TableDef, key_cols: &[usize], key: &[Json], op: &str) -> String {
    let strict = if op == ">" { ">" } else { "<" };
    let mut alternatives = Vec::new();
    for n in 0..key_cols.len() {
        let mut terms = Vec::new();
        for (j, &i) in key_cols.iter().enumerate().take(n) {
            let c = &def.columns[i];
            terms.push(format!(
                "{} = {}",
                quote_ident(&c.name),
                literal(c, &key[j])
            ));
        }
        let c = &def.columns[key_cols[n]];
        let last_op = if n + 1 == key_cols.len() { op } else { strict };
        terms.push(format!(
            "{} {last_op} {}",
            quote_ident(&c.name),
            literal(c, &key[n])
        ));
        alternatives.push(format!("({})", terms.join(" AND ")));
    }
    format!("({})", alternatives.join(" OR "))
}

pub use crate::debezium::incremental::new_uuid;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn col(name: &str, data_type: &str, charset: Option<&str>) -> ColumnDesc {
        ColumnDesc {
            name: name.into(),
            data_type: data_type.into(),
            charset: charset.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn chunk_bounds_compare_keys_lexicographically() {
        let def = TableDef {
            db: "d".into(),
            table: "t".into(),
            columns: vec![col("a", "int", None), col("b", "varchar", Some("utf8mb4"))],
            primary_key: vec!["a".into(), "b".into()],
            charset: None,
        };
        let key = vec![json!("7"), json!(format!("x{}", hex(b"x'y")))];
        assert_eq!(
            compare(&def, &[0, 1], &key, ">"),
            "((`a` > 7) OR (`a` = 7 AND `b` > _utf8mb4 X'782779'))"
        );
        assert_eq!(compare(&def, &[0], &key[..1], "<="), "((`a` <= 7))");
    }

    #[test]
    fn literals_never_carry_text_into_the_statement() {
        let c = col("a", "int", None);
        assert_eq!(literal(&c, &json!("1; DROP TABLE x")), "'1; DROP TABLE x'");
        let d = col("d", "datetime", None);
        assert_eq!(
            literal(&d, &json!(format!("x{}", hex(b"2024-01-02 03:04:05")))),
            "'2024-01-02 03:04:05'"
        );
        let b = col("b", "varbinary", None);
        assert_eq!(literal(&b, &json!("x00ff")), "X'00ff'");
        assert_eq!(key_part_text(&json!("x6b3239")), "k29");
    }

    #[test]
    fn uuids_have_the_36_characters_of_debeziums() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_ne!(u, new_uuid());
    }
}
