//! Binlog streaming: row events into change events, DDL into new table
//! versions and schema change events, with exact resume.
//!
//! Why no change is lost or doubled across restarts:
//! - A position is a [`BinlogOffset`]: the start of its transaction
//!   (`pos`, at its GTID or BEGIN event) plus how many of that
//!   transaction's events (`event`: Debezium's count, its GTID or BEGIN
//!   event, TABLE_MAPs and row events included) and of the next event's
//!   rows (`row`) are already handled. Transaction, DDL and heartbeat records
//!   carry theirs; a row event only notes the position after its last row.
//!   Of the records handed over together (one queue message), one carries
//!   an offset: the last that has or was noted a position ([`hand_over`]).
//!   The worker commits an offset only once the broker acked its record
//!   and everything before it, and `poll` ends every batch on a record with
//!   an offset, so earlier offsets of one hand-over would be superseded
//!   within the same poll; building them (two maps per row event) was the
//!   costliest part of small transactions, and holding one per queued
//!   transaction most of the queue's memory. A crash may re-send up to one
//!   batch (at-least-once); a clean stop commits the last record.
//! - A restart dumps from `pos`, or from the GTID position `gtids` when the
//!   offset has a MariaDB one (as Debezium's MariaDbConnector does): the
//!   server replays the transaction from its start (TABLE_MAP events
//!   included, so rows decode), and the reader skips exactly `event`
//!   events and then `row` rows, in that first transaction only. The next
//!   record emitted is the first not acked.
//! - A dump never starts mid-transaction, so a transaction's rows are never
//!   half-seen; the position after COMMIT (XID) starts the next one.
//! - A saved file no longer on the server is detected before dumping
//!   (SHOW BINARY LOGS) and reported as the server's 1236 error with the
//!   remedy, never skipped over silently.
//!
//! Why each event carries the right schema: a row event's columns are
//! those of the TABLE_MAP right before it (the binlog is self-describing
//! with binlog_row_metadata=FULL); information_schema facts are matched
//! by name and, for resumes before a DDL, taken from the schema history
//! as of the event's position ([`super::catalog`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_api::data::{JsonMap, SourceRecord, Value};

use super::binlog::{BinlogStream, DumpOptions, StartPosition};
use super::catalog::{load_table, plans_for_map, TableDef};
use super::config::{FailureMode, MySqlConfig};
use super::ddl::{classify_ddl, Ddl, Unparseable};
use super::error::MySqlError;
use super::event::{
    statement_text, types, MariaGtidEvent, MySqlGtidEvent, Query, RowsEvent, RowsKind,
};
use super::events::{keep_pending, EventBuilder, SourceInfo, TxnState};
use super::gtid::{GtidSet, MariaGtidPosition, Uuid};
use super::history::{Position, SchemaHistory};
use super::incremental::{At, Snapshots};
use super::offset::BinlogOffset;
use super::protocol::Connection;
use super::rows::{check_full_image, decode_row};
use super::schema::TableSchema;
use super::table_map::TableMap;
use super::wire::Reader;
use crate::debezium::events::Op;
use crate::debezium::feed::FeedTx;

/// State shared by the snapshot and the stream of one task.
pub struct Capture {
    pub cfg: Arc<MySqlConfig>,
    pub eb: EventBuilder,
    /// For information_schema lookups while streaming.
    pub meta: Option<Connection>,
    pub history: SchemaHistory,
    /// Current definitions read from information_schema, by (db, table).
    defs: HashMap<(String, String), Option<TableDef>>,
    /// Databases' default character sets (for the schema model), kept
    /// up to date by the database DDL the stream reads.
    db_charsets: HashMap<String, String>,
    /// The server's explicit_defaults_for_timestamp, once read.
    explicit_ts: Option<bool>,
    /// Where the task's progress is published (status JSON, /metrics).
    pub progress: Option<sluice_api::SourceTaskContext>,
}

impl Capture {
    pub fn new(cfg: Arc<MySqlConfig>, history: SchemaHistory) -> Capture {
        Capture {
            eb: EventBuilder::new(&cfg),
            cfg,
            meta: None,
            history,
            defs: HashMap::new(),
            db_charsets: HashMap::new(),
            explicit_ts: None,
            progress: None,
        }
    }

    /// A CREATE/ALTER/DROP DATABASE read at its position: the charset the
    /// model gives that database's new tables from here on.
    fn database_ddl(&mut self, sql: &str, session_db: &str) {
        if let Some((db, charset)) = super::model::database_charset(sql, session_db) {
            match charset {
                Some(c) => {
                    self.db_charsets.insert(db, c);
                }
                None => {
                    self.db_charsets.remove(&db);
                }
            }
        }
    }

    /// What a DDL statement makes of the tables it touches, by the schema
    /// model from the history's definitions just before it (`before`);
    /// `None` when the model cannot tell (information_schema is read).
    async fn modelled(
        &mut self,
        ddl: &Ddl,
        sql: &str,
        before: &Position,
    ) -> Result<Option<super::model::Defined>, MySqlError> {
        let Some((db, _)) = ddl.tables.first() else {
            return Ok(None);
        };
        if !self.db_charsets.contains_key(db) {
            let rs = self
                .meta()
                .await?
                .query(&format!(
                    "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
                    super::catalog::sql_string(db)
                ))
                .await?;
            let Some(charset) = rs.text(0, 0).map(str::to_ascii_lowercase) else {
                return Ok(None);
            };
            self.db_charsets.insert(db.clone(), charset);
        }
        let mariadb = self.meta().await?.server().is_mariadb();
        if self.explicit_ts.is_none() {
            let rs = self
                .meta()
                .await?
                .query("SELECT @@global.explicit_defaults_for_timestamp")
                .await;
            // Unknown (an old server): as OFF, so that the model reads no
            // TIMESTAMP whose nullability depends on it.
            self.explicit_ts = Some(
                rs.ok()
                    .and_then(|rs| {
                        rs.text(0, 0)
                            .map(|v| v == "1" || v.eq_ignore_ascii_case("on"))
                    })
                    .unwrap_or(false),
            );
        }
        let cx = super::model::Context {
            mariadb,
            db_charset: &self.db_charsets[db],
            explicit_timestamp_defaults: self.explicit_ts.unwrap_or(false),
        };
        let history = &self.history;
        let out = super::model::statement(
            ddl,
            sql,
            |d, t| history.as_of(before, d, t).map(|def| def.cloned()),
            &cx,
        );
        if out.is_none() {
            tracing::debug!(
                "the schema model does not read this DDL; reading information_schema: {sql}"
            );
        }
        Ok(out)
    }

    pub async fn meta(&mut self) -> Result<&mut Connection, MySqlError> {
        if self.meta.is_none() {
            self.meta = Some(Connection::connect(&self.cfg.connect_options()).await?);
        }
        Ok(self.meta.as_mut().expect("connected above"))
    }

    /// The definition of a table as of `pos`: from the history when it
    /// knows the table there, else the current one.
    async fn def_as_of(
        &mut self,
        pos: &Position,
        db: &str,
        table: &str,
    ) -> Result<Option<TableDef>, MySqlError> {
        if let Some(d) = self.history.as_of(pos, db, table) {
            return Ok(d.cloned());
        }
        let key = (db.to_string(), table.to_string());
        if let Some(d) = self.defs.get(&key) {
            return Ok(d.clone());
        }
        let d = load_table(self.meta().await?, db, table).await?;
        self.defs.insert(key, d.clone());
        Ok(d)
    }

    fn forget(&mut self, db: &str, table: &str) {
        self.defs.remove(&(db.to_string(), table.to_string()));
    }
}

/// Whether a MySQL server assigns GTIDs (gtid_mode=ON); MariaDB has its own.
async fn mysql_gtid_mode(conn: &mut Connection) -> Result<bool, MySqlError> {
    if conn.server().is_mariadb() {
        return Ok(false);
    }
    match conn.query("SELECT @@global.gtid_mode").await {
        Ok(rs) => Ok(rs.text(0, 0).is_some_and(|v| v.eq_ignore_ascii_case("ON"))),
        Err(e) if e.is_unknown_variable() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Where the server's binlog files are, to tell a purged position.
async fn check_not_purged(conn: &mut Connection, file: &str) -> Result<(), MySqlError> {
    let rs = conn.query("SHOW BINARY LOGS").await?;
    let files: Vec<&str> = (0..rs.rows.len()).filter_map(|i| rs.text(i, 0)).collect();
    if files.is_empty() || files.contains(&file) {
        return Ok(());
    }
    Err(MySqlError::Server {
        addr: conn.addr().to_string(),
        code: 1236,
        state: "HY000".into(),
        message: format!(
            "binlog file {file} of the saved offset was purged (the oldest on the server is {})",
            files[0]
        ),
    })
}

/// Refuses a database.server.id another live replica already uses. Our
/// own previous dump may linger for a moment after a reconnect, so only a
/// clash that persists is an error.
pub(crate) async fn check_server_id(
    conn: &mut Connection,
    server_id: u32,
) -> Result<(), MySqlError> {
    for attempt in 0..3 {
        let rs = match conn.query("SHOW SLAVE HOSTS").await {
            Ok(rs) => rs,
            Err(e) if !e.is_retriable() => return Ok(()), // no privilege: cannot tell
            Err(e) => return Err(e),
        };
        let clash =
            (0..rs.rows.len()).find(|&i| rs.text(i, 0) == Some(server_id.to_string().as_str()));
        let Some(i) = clash else { return Ok(()) };
        if attempt == 2 {
            return Err(MySqlError::Config(format!(
                "database.server.id={server_id} is already used by another replica of {} (host '{}'); every replica and connector needs its own id: set database.server.id to an unused number",
                conn.addr(),
                rs.text(i, 1).unwrap_or("")
            )));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    Ok(())
}

/// Per-dump position state.
#[derive(Default)]
struct Position_ {
    /// Shared into every event's `source.file`.
    file: Arc<str>,
    txn_start: u64,
    in_txn: bool,
    began: bool,
    /// Events of the current transaction read so far, counted as Debezium
    /// counts its offset's `event`: from the GTID event (MariaDB) or BEGIN
    /// (MySQL), that event included.
    event_idx: u64,
    skip: Option<(u64, u64)>,
    /// MariaDB's GTID position (one GTID per domain) ...
    gtids: MariaGtidPosition,
    /// ... or MySQL's executed set (uuid:intervals): whichever the server
    /// writes; the offset's `gtids` carries the one in use.
    mysql_gtids: GtidSet,
    cur_gtid: Option<Arc<str>>,
    cur_maria: Option<super::gtid::MariaGtid>,
    cur_mysql: Option<(Uuid, u64)>,
    thread: Option<i64>,
    /// The statement of the coming row events (include.query): MariaDB's
    /// ANNOTATE_ROWS or MySQL's ROWS_QUERY event, until its statement ends.
    query: Option<Arc<str>>,
    /// The current transaction's metadata (provide.transaction.metadata).
    txn: Option<TxnState>,
}

impl Position_ {
    /// A transaction starts: with provide.transaction.metadata, its
    /// counters start at 0. On a resume inside it (`skip`), its BEGIN
    /// was acknowledged before the restart and is not sent again; the
    /// skipped rows are still counted.
    /// `id` is `None` without provide.transaction.metadata (no id string
    /// is built then).
    fn start_txn(&mut self, id: Option<String>) {
        self.txn = id.map(|id| TxnState {
            begun: self.skip.is_some(),
            ..TxnState::new(id)
        });
    }

    /// The stored offset's `gtids`: a MariaDB position or a MySQL set.
    fn parse_gtids(text: Option<&str>) -> (MariaGtidPosition, GtidSet) {
        let text = text.unwrap_or("").trim();
        if text.is_empty() {
            return Default::default();
        }
        match text.parse::<MariaGtidPosition>() {
            Ok(maria) => (maria, GtidSet::new()),
            Err(_) => (MariaGtidPosition::new(), text.parse().unwrap_or_default()),
        }
    }

    /// The transaction's GTID joins the executed ones (at its COMMIT/XID).
    fn commit_gtid(&mut self) {
        if let Some(g) = self.cur_maria.take() {
            self.gtids.update(g);
        }
        if let Some((uuid, gno)) = self.cur_mysql.take() {
            self.mysql_gtids.add(uuid, gno);
        }
        self.cur_gtid = None;
    }

    fn gtids_text(&self) -> Option<String> {
        if !self.gtids.is_empty() {
            Some(self.gtids.to_string())
        } else if !self.mysql_gtids.is_empty() {
            Some(self.mysql_gtids.to_string())
        } else {
            None
        }
    }

    fn offset(&self, event: u64, row: u64, ts_sec: i64, server_id: u32) -> BinlogOffset {
        BinlogOffset {
            file: self.file.to_string(),
            pos: self.txn_start,
            gtids: self.gtids_text(),
            event,
            row,
            ts_sec,
            server_id,
            snapshot: false,
            incremental: None,
        }
    }
}

/// How long a read of the binlog connection may wait for a byte before the
/// connection counts as lost: the server sends a heartbeat at least every
/// second when it has nothing else (a replica's slave_net_timeout). Time
/// spent receiving a large event, or not reading (back-pressure), does not
/// count.
const SILENCE_LIMIT: Duration = Duration::from_secs(30);

/// Streams from `start` until the receiver is dropped or an error ends it.
pub async fn stream(cap: &mut Capture, start: BinlogOffset, tx: &FeedTx) -> Result<(), MySqlError> {
    let cfg = cap.cfg.clone();
    let mut conn = Connection::connect(&cfg.connect_options()).await?;
    // A MariaDB GTID position positions the dump (Debezium's MariaDbConnector
    // does so whenever its offset has gtids), and so does a MySQL GTID set
    // on a server with gtid_mode=ON (as Debezium's MySqlConnector does; Dolt
    // serves no dump by file and position); file and pos otherwise.
    let (by_gtid, mysql_set) = Position_::parse_gtids(start.gtids.as_deref());
    let start_at = if !by_gtid.is_empty() {
        StartPosition::MariaGtid(by_gtid.clone())
    } else if !mysql_set.is_empty() && mysql_gtid_mode(&mut conn).await? {
        StartPosition::MySqlGtids(mysql_set)
    } else {
        check_not_purged(&mut conn, &start.file).await?;
        StartPosition::File {
            file: start.file.clone(),
            pos: start.pos.max(4) as u32,
        }
    };
    check_server_id(&mut conn, cfg.server_id).await?;
    let hb = if cfg.common.heartbeat_interval_ms > 0 {
        Duration::from_millis(cfg.common.heartbeat_interval_ms.min(1000))
    } else {
        Duration::from_secs(1)
    };
    let mut bs = BinlogStream::start(
        conn,
        &DumpOptions {
            server_id: cfg.server_id,
            start: start_at.clone(),
            heartbeat: Some(hb),
            non_blocking: false,
            annotate_rows: cfg.include_query,
        },
    )
    .await?;
    if let StartPosition::MySqlGtids(set) = &start_at {
        tracing::info!(server = %bs.addr(), "streaming the binlog from {start}, positioned by GTID set {set}");
    } else if by_gtid.is_empty() {
        tracing::info!(server = %bs.addr(), "streaming the binlog from {start}");
    } else {
        tracing::info!(server = %bs.addr(), "streaming the binlog from {start}, positioned by GTID {by_gtid}");
    }
    let mut p = Position_ {
        file: start.file.as_str().into(),
        txn_start: start.pos.max(4),
        in_txn: false,
        began: false,
        event_idx: 0,
        skip: (start.event > 0 || start.row > 0).then_some((start.event, start.row)),
        gtids: MariaGtidPosition::new(),
        mysql_gtids: GtidSet::new(),
        cur_gtid: None,
        cur_maria: None,
        cur_mysql: None,
        thread: None,
        query: None,
        txn: None,
    };
    (p.gtids, p.mysql_gtids) = Position_::parse_gtids(start.gtids.as_deref());
    let metadata = cfg.provide_transaction_metadata;
    let mut snaps = Snapshots::new(cfg.clone(), start.incremental.as_ref());
    snaps.progress = cap.progress.clone();
    // Records of skipped rows, built only to count them (then dropped).
    let mut uncounted: Vec<SourceRecord> = Vec::new();
    let mut tables: HashMap<u64, (TableMap, Option<Arc<TableSchema>>)> = HashMap::new();
    let mut out: Vec<SourceRecord> = Vec::with_capacity(cfg.common.max_batch_size);
    // The position after the last row event in `out` (its index there).
    let mut noted: Option<(usize, BinlogOffset)> = None;
    let mut values: Vec<Value> = Vec::new();
    let mut after: Vec<Value> = Vec::new();
    let mut last_heartbeat = Instant::now();
    let heartbeat_every = Duration::from_millis(cfg.common.heartbeat_interval_ms);
    bs.set_idle_limit(Some(SILENCE_LIMIT));
    let addr = bs.addr().to_string();
    let lost = |detail: String| MySqlError::Io {
        addr: addr.clone(),
        source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, detail),
    };
    // A resumed incremental snapshot reads its next chunk now (its
    // watermarks come later in the binlog).
    snaps.read_chunk(cap, &mut out).await?;
    loop {
        let id_len = bs.table_id_len();
        // The server ends a blocking dump only when it shuts down: a lost
        // connection, as is a read that waits SILENCE_LIMIT for a byte. The
        // reader ends with a retriable error and is restarted from the last
        // handed-over record.
        let Some(ev) = bs.next_event().await? else {
            return Err(lost(
                "the server ended the binlog dump (shut down or restarted?); reconnecting".into(),
            ));
        };
        let h = ev.header;
        let ev_start = (h.log_pos as u64).saturating_sub(h.event_size as u64);
        let mut end_txn = false;
        // A COMMIT or XID (a DDL's implicit commit is not counted, as
        // Debezium's NumberOfCommittedTransactions does not).
        let mut committed = false;
        // read.only: a chunk consistent with binlog position P goes out
        // once every event before P is out and before any event after it
        // (a heartbeat at or past P says the same).
        if let Some((f, at_pos)) = &snaps.read_only_at {
            let here = if h.event_type == types::HEARTBEAT {
                h.log_pos as u64
            } else {
                ev_start
            };
            let reached = h.log_pos != 0
                && h.event_type != types::ROTATE
                && ((&*p.file == f.as_str() && here >= *at_pos) || &*p.file > f.as_str());
            if reached && !p.in_txn {
                let at = At {
                    file: p.file.clone(),
                    pos: here,
                    server_id: h.server_id,
                    gtid: None,
                };
                if snaps.emit_window(&at, &mut out) {
                    noted = Some((
                        out.len() - 1,
                        p.offset(0, 0, h.timestamp as i64, h.server_id),
                    ));
                }
                snaps.read_chunk(cap, &mut out).await?;
            }
        }
        // This event's number in its transaction (Debezium's `event`).
        let ev_idx = p.event_idx;
        p.event_idx += 1;
        match h.event_type {
            types::ROTATE => {
                p.file = bs.file().into();
                if h.log_pos != 0 && !p.in_txn {
                    p.txn_start = bs.next_pos();
                }
                continue;
            }
            types::MARIA_GTID => {
                let g = MariaGtidEvent::parse(ev.body, h.server_id)?;
                p.cur_gtid = Some(g.gtid.to_string().into());
                p.cur_maria = Some(g.gtid);
                p.txn_start = ev_start;
                p.in_txn = true;
                // MariaDB writes no BEGIN event for a transaction (with
                // @mariadb_slave_capability=4): its GTID event says so.
                p.began = g.is_transaction();
                // Debezium's MariaDB transaction starts here: this event
                // is its first.
                p.event_idx = 1;
                p.start_txn(metadata.then(|| g.gtid.to_string()));
            }
            types::MYSQL_GTID => {
                let g = MySqlGtidEvent::parse(ev.body)?;
                p.cur_gtid = Some(format!("{}:{}", g.uuid, g.gno).into());
                p.cur_mysql = Some((g.uuid, g.gno));
                p.txn_start = ev_start;
                p.in_txn = true;
                p.began = false;
                p.event_idx = 0;
                p.start_txn(metadata.then(|| format!("{}:{}", g.uuid, g.gno)));
            }
            types::MYSQL_ANONYMOUS_GTID => {
                p.txn_start = ev_start;
                p.in_txn = true;
                p.began = false;
                p.event_idx = 0;
                p.start_txn(metadata.then(|| format!("{}:{}", p.file, ev_start)));
            }
            types::QUERY => {
                let q = Query::parse(ev.body)?;
                // Comments stripped (executable ones kept): a leading
                // comment (gh-ost writes one) must not hide a DDL, and
                // the schema change names the statement as Debezium does.
                let raw = String::from_utf8_lossy(q.sql);
                let sql = super::ddl::strip_comments(&raw);
                let db = String::from_utf8_lossy(q.schema).into_owned();
                if sql.eq_ignore_ascii_case("BEGIN") {
                    if !p.in_txn {
                        p.txn_start = ev_start;
                        p.in_txn = true;
                        p.start_txn(metadata.then(|| format!("{}:{}", p.file, ev_start)));
                    }
                    // Debezium's MySQL transaction starts at BEGIN (after
                    // the GTID event): this event is its first.
                    p.event_idx = 1;
                    p.began = true;
                    p.thread = Some(q.thread_id as i64);
                } else if sql.eq_ignore_ascii_case("COMMIT") {
                    end_txn = true;
                    committed = true;
                } else if !p.began {
                    // A DDL (its own, implicitly committed group).
                    let after_pos: Position = (p.file.to_string(), h.log_pos as u64);
                    let ddl = match classify_ddl(&sql, &db) {
                        Ok(ddl) => ddl,
                        Err(Unparseable(seems)) => {
                            let what = format!("the DDL statement at {}:{ev_start}", p.file);
                            let shown: String = sql.chars().take(300).collect();
                            if !db.is_empty() && !cfg.filters.captures_db(&db) {
                                tracing::debug!(
                                    "{what} (database {db}, not captured) is not read: {shown}"
                                );
                            } else if cfg.skip_unparseable_ddl {
                                tracing::warn!("skipping {what}, which Sluice cannot read ({seems}; schema.history.internal.skip.unparseable.ddl=true): {shown}");
                            } else {
                                return Err(MySqlError::decode(
                                    what,
                                    format!("Sluice cannot read this {seems} statement, so the definitions of the tables it changes would go stale: {shown}; if it changes no captured table, set schema.history.internal.skip.unparseable.ddl=true to skip such statements with a warning"),
                                ));
                            }
                            None
                        }
                    };
                    if let Some(ddl) = ddl {
                        tables.clear();
                        if ddl.database_level {
                            cap.database_ddl(&sql, &db);
                        }
                        let here = p.offset(0, 0, h.timestamp as i64, h.server_id);
                        let next = BinlogOffset {
                            pos: h.log_pos as u64,
                            ..here.clone()
                        };
                        handle_ddl(
                            cap,
                            &ddl,
                            &db,
                            (&sql, super::ddl::statement_text(&raw)),
                            &after_pos,
                            h.timestamp,
                            h.server_id,
                            p.cur_gtid.clone(),
                            ev_start,
                            (&here, &next),
                            &mut out,
                        )
                        .await?;
                        // A DDL of the table whose chunk is in the window:
                        // the chunk may have been read with either
                        // definition, so it is read again (as Debezium
                        // does) with the one now in force.
                        if snaps.inc.in_window()
                            && snaps.read_only_at.is_none()
                            && snaps.inc.current().is_some_and(|c| {
                                ddl.tables.iter().any(|(d, t)| c.id == format!("{d}.{t}"))
                            })
                        {
                            tracing::info!("a DDL changed the table of the chunk in the incremental snapshot's window; the chunk is read again");
                            snaps.inc.drop_window();
                            snaps.read_chunk(cap, &mut out).await?;
                        }
                    }
                    end_txn = true;
                }
            }
            types::XID => {
                end_txn = true;
                committed = true;
            }
            types::TABLE_MAP => {
                let map = TableMap::parse(ev.body, id_len)?;
                let reuse = matches!(tables.get(&map.table_id), Some((m, _)) if *m == map);
                if !reuse {
                    // The signal table is read whatever the filters say
                    // (as Debezium adds it to them).
                    let schema = if cfg.filters.captures_table(&map.schema, &map.table)
                        || snaps.is_signal_table(&map.schema, &map.table)
                    {
                        let pos: Position = (p.file.to_string(), p.txn_start);
                        let def = cap.def_as_of(&pos, &map.schema, &map.table).await?;
                        let plans = plans_for_map(&map, def.as_ref(), &cfg.decode)?;
                        let pk: Vec<usize> = match &def {
                            Some(d) if !map.has_full_metadata => d
                                .primary_key
                                .iter()
                                .filter_map(|k| plans.iter().position(|pl| &pl.name == k))
                                .collect(),
                            _ => map.primary_key.clone(),
                        };
                        let ts = TableSchema::new(&cfg, &map.schema, &map.table, plans, &pk)
                            .map_err(MySqlError::Config)?;
                        Some(Arc::new(ts))
                    } else {
                        None
                    };
                    tables.insert(map.table_id, (map, schema));
                }
            }
            t if RowsEvent::kind_of(t).is_some() => {
                let re = RowsEvent::parse(t, ev.body, id_len)?.expect("kind checked");
                let idx = ev_idx;
                // The statement's last row event ends its query.
                let query = if re.flags & RowsEvent::STMT_END != 0 {
                    p.query.take()
                } else {
                    p.query.clone()
                };
                // Rows emitted before a restart are skipped; with
                // transaction metadata they are still decoded and counted.
                let (skip_all, skip_rows) = match p.skip {
                    Some((e, _)) if idx < e => (true, u64::MAX),
                    Some((e, r)) if idx == e => (false, r),
                    _ => (false, 0),
                };
                if skip_all && p.txn.is_none() {
                    continue;
                }
                let Some((_, Some(ts))) = tables.get(&re.table_id) else {
                    continue;
                };
                let ts = ts.clone();
                let signal_table = snaps.is_signal_table(&ts.db, &ts.table);
                let signals = re.kind == RowsKind::Write && signal_table;
                // insert_delete watermarking: the delete of a window's open
                // row closes the window.
                let closes =
                    re.kind == RowsKind::Delete && signal_table && cfg.signal.close_by_delete;
                let (op, skipped) = match re.kind {
                    RowsKind::Write => (Op::Create, cfg.common.skipped.create),
                    RowsKind::Update => (Op::Update, cfg.common.skipped.update),
                    RowsKind::Delete => (Op::Delete, cfg.common.skipped.delete),
                };
                // skipped.operations drops the events, not the signals and
                // watermarks among the signal table's rows.
                if skipped && !(signals || closes) {
                    continue;
                }
                let mut r = Reader::new(re.rows);
                let mut row_no: u64 = 0;
                let ts_sec = h.timestamp as i64;
                let whole = check_full_image(
                    &ts.plans,
                    re.present,
                    (re.kind == RowsKind::Update).then_some(re.present_after),
                );
                while r.remaining() > 0 {
                    values.clear();
                    let decoded = whole
                        .clone()
                        .and_then(|()| decode_row(&mut r, &ts.plans, re.present, &mut values))
                        .and_then(|()| match re.kind {
                            RowsKind::Update => {
                                after.clear();
                                decode_row(&mut r, &ts.plans, re.present_after, &mut after)
                            }
                            _ => Ok(()),
                        });
                    if let Err(e) = decoded {
                        let what = format!(
                            "row {row_no} of {}.{} in the row event at {}:{}",
                            ts.db, ts.table, p.file, ev_start
                        );
                        undecodable(cfg.on_failure, "the rest of the row event", what, e)?;
                        break;
                    }
                    let emit = !skip_all && row_no >= skip_rows;
                    // skip.messages.without.change: an update that leaves
                    // every column events carry as it was is no event (and
                    // not counted in its transaction, as Debezium's).
                    if op == Op::Update
                        && cfg.skip_messages_without_change
                        && ts.kept.iter().all(|&i| values.get(i) == after.get(i))
                    {
                        row_no += 1;
                        continue;
                    }
                    if emit || p.txn.is_some() {
                        // Offsets: see `hand_over`; a row event's position
                        // is noted at its last row and becomes an offset
                        // map only if it ends a hand-over.
                        let last_in_event = r.remaining() == 0;
                        let src = SourceInfo {
                            ts_ms: ts_sec * 1000,
                            snapshot: "false",
                            db: &ts.db,
                            table: Some(&ts.table),
                            server_id: h.server_id,
                            gtid: p.cur_gtid.as_ref(),
                            file: &p.file,
                            pos: ev_start,
                            row: row_no as i32,
                            thread: p.thread,
                            query: query.as_ref(),
                        };
                        if emit && !skipped && p.txn.as_ref().is_some_and(|t| !t.begun) {
                            let pending =
                                Arc::new(p.offset(idx, row_no, ts_sec, h.server_id).to_json());
                            if let Some(txn) = p.txn.as_mut() {
                                txn.begun = true;
                                out.push(cap.eb.transaction_event(
                                    txn,
                                    false,
                                    ts_sec * 1000,
                                    &pending,
                                ));
                            }
                        }
                        let closed = (emit && closes)
                            // The id alone: a minimal row image has no more.
                            .then(|| match values.first() {
                                Some(Value::String(id)) => {
                                    crate::debezium::signal::close_of_deleted(id)
                                }
                                Some(Value::Bytes(id)) => {
                                    crate::debezium::signal::close_of_deleted(
                                        &String::from_utf8_lossy(id),
                                    )
                                }
                                _ => None,
                            })
                            .flatten();
                        // Handled before the row's own event, as Debezium
                        // does: a window's rows come before its close
                        // watermark's event.
                        let signal = if emit && signals {
                            match Snapshots::row_signal(&values) {
                                Some(Ok(sig)) => Some(sig),
                                Some(Err(e)) => {
                                    tracing::warn!("{e}; the signal is ignored");
                                    None
                                }
                                None => {
                                    tracing::warn!("a row of the signal table {}.{} at {}:{ev_start} has no id and type; the signal table's first columns must be id VARCHAR(42), type VARCHAR(32), data VARCHAR(2048)", ts.db, ts.table, p.file);
                                    None
                                }
                            }
                        } else {
                            closed
                        };
                        let mut appended = false;
                        if let Some(sig) = signal {
                            let at = At {
                                file: p.file.clone(),
                                pos: ev_start,
                                server_id: h.server_id,
                                gtid: p.cur_gtid.clone(),
                            };
                            appended = snaps.handle(cap, sig, &at, &mut out).await?;
                        }
                        if skipped {
                            // No event of its own: the window's rows (if
                            // the signal brought any) carry the offset.
                            if emit && appended && last_in_event && !out.is_empty() {
                                noted = Some((
                                    out.len() - 1,
                                    p.offset(idx, row_no + 1, ts_sec, h.server_id),
                                ));
                            }
                            row_no += 1;
                            continue;
                        }
                        let (before, aft) = match op {
                            Op::Update => (Some(values.as_mut_slice()), Some(after.as_mut_slice())),
                            Op::Delete => (Some(values.as_mut_slice()), None),
                            _ => (None, Some(values.as_mut_slice())),
                        };
                        let first = out.len();
                        let sink = if emit { &mut out } else { &mut uncounted };
                        cap.eb.change_in_txn(
                            &ts,
                            op,
                            before,
                            aft,
                            &src,
                            None,
                            p.txn.as_mut(),
                            sink,
                        );
                        if emit && snaps.inc.watches(&ts.collection) {
                            for r in &out[first..] {
                                if !r.data.value.is_null() {
                                    snaps.inc.dedup(&ts.collection, &r.data.key);
                                }
                            }
                        }
                        if emit && last_in_event && !out.is_empty() {
                            noted = Some((
                                out.len() - 1,
                                p.offset(idx, row_no + 1, ts_sec, h.server_id),
                            ));
                        }
                        uncounted.clear();
                    }
                    row_no += 1;
                }
                if out.len() >= cfg.common.max_batch_size
                    && hand_over(tx, &mut out, &mut noted, snaps.fields())
                        .await
                        .is_err()
                {
                    return Ok(());
                }
            }
            types::MARIA_ANNOTATE_ROWS | types::ROWS_QUERY if cfg.include_query => {
                let text = statement_text(h.event_type, ev.body).unwrap_or_default();
                p.query = Some(String::from_utf8_lossy(text).as_ref().into());
            }
            types::MYSQL_PARTIAL_UPDATE_ROWS => {
                // Its JSON columns hold only the changed paths: an event
                // built from it would be wrong, so it is never passed over.
                let table_id = Reader::new(ev.body).uint_n(id_len, "rows table id")?;
                let Some((map, Some(_))) = tables.get(&table_id) else {
                    continue;
                };
                let what = format!(
                    "the partial update event of {}.{} at {}:{}",
                    map.schema, map.table, p.file, ev_start
                );
                let detail = "MySQL logged JSON columns as partial updates (binlog_row_value_options=PARTIAL_JSON), which Sluice cannot turn into whole rows; set binlog_row_value_options='' (SET GLOBAL and the server config)";
                undecodable(cfg.on_failure, "the event", what, detail)?;
            }
            types::HEARTBEAT => {}
            _ => {}
        }
        if committed {
            tx.count_commit();
        }
        if end_txn {
            p.query = None;
            p.in_txn = false;
            p.began = false;
            p.txn_start = h.log_pos as u64;
            p.event_idx = 0;
            p.skip = None;
            p.thread = None;
            p.commit_gtid();
            if let Some(txn) = p.txn.take().filter(|t| t.begun) {
                let off = Arc::new(p.offset(0, 0, h.timestamp as i64, h.server_id).to_json());
                out.push(
                    cap.eb
                        .transaction_event(&txn, true, h.timestamp as i64 * 1000, &off),
                );
            }
        }
        if !p.in_txn {
            // Signals of the Kafka and file channels, between transactions.
            while let Some(sig) = snaps.next_channel_signal() {
                let at = At {
                    file: p.file.clone(),
                    pos: h.log_pos as u64,
                    server_id: h.server_id,
                    gtid: p.cur_gtid.clone(),
                };
                snaps.handle(cap, sig, &at, &mut out).await?;
            }
            if let Some(req) = snaps.take_blocking() {
                // Everything before the snapshot goes first; the stream
                // then waits for it (its position stays committed).
                if !out.is_empty()
                    && hand_over(tx, &mut out, &mut noted, snaps.fields())
                        .await
                        .is_err()
                {
                    return Ok(());
                }
                let at = At {
                    file: p.file.clone(),
                    pos: h.log_pos as u64,
                    server_id: h.server_id,
                    gtid: p.cur_gtid.clone(),
                };
                snaps.blocking(cap, req, &at, tx).await?;
            }
            if !heartbeat_every.is_zero() && last_heartbeat.elapsed() >= heartbeat_every {
                last_heartbeat = Instant::now();
                let off = Arc::new(p.offset(0, 0, h.timestamp as i64, h.server_id).to_json());
                out.push(cap.eb.heartbeat(&off));
                if let Some(q) = &cfg.heartbeat_action_query {
                    // On the metadata connection; a failure is said and
                    // the stream goes on (the next heartbeat tries again).
                    if let Err(e) = cap.meta().await?.exec(q).await {
                        tracing::warn!("heartbeat.action.query failed: {e}");
                    }
                }
            }
            // Between transactions the batch goes to the worker unless more
            // of the binlog is already here: small transactions read in a
            // run (catching up) share batches instead of each being one
            // hand-over, and nothing waits once the reader would wait.
            let flush = out.len() >= cfg.common.max_batch_size || !bs.has_buffered();
            if flush
                && !out.is_empty()
                && hand_over(tx, &mut out, &mut noted, snaps.fields())
                    .await
                    .is_err()
            {
                return Ok(());
            }
        }
    }
}

/// An event that cannot be decoded, as event.processing.failure.handling.mode
/// says: an error naming it and the key (fail), or `skipped` is passed over
/// with a warning (warn) or silently (skip).
fn undecodable(
    mode: FailureMode,
    skipped: &str,
    what: String,
    detail: impl std::fmt::Display,
) -> Result<(), MySqlError> {
    match mode {
        FailureMode::Fail => Err(MySqlError::decode(
            what,
            format!("{detail}; to skip such events set event.processing.failure.handling.mode=warn (logged) or skip"),
        )),
        FailureMode::Warn => {
            tracing::warn!("skipping {skipped} (event.processing.failure.handling.mode=warn): cannot decode {what}: {detail}");
            Ok(())
        }
        FailureMode::Skip => {
            tracing::debug!("skipped {skipped}: cannot decode {what}: {detail}");
            Ok(())
        }
    }
}

/// Queues `out` for the worker with one offset, on its last record that has
/// or was `noted` a position (see the module's notes). A hand-over never
/// splits a row's records (it happens between row events), so a row's
/// "pending" offset is never the one kept.
async fn hand_over(
    tx: &FeedTx,
    out: &mut Vec<SourceRecord>,
    noted: &mut Option<(usize, BinlogOffset)>,
    incremental: Option<JsonMap>,
) -> Result<(), crate::debezium::feed::Closed> {
    let own = out.iter().rposition(|r| r.source_offset.is_some());
    let keep = match (noted.take(), own) {
        (Some((at, off)), own) if at < out.len() && own.is_none_or(|o| o < at) => {
            out[at].source_offset = Some(Arc::new(off.to_json()));
            Some(at)
        }
        (_, own) => own,
    };
    if let Some(keep) = keep {
        for r in &mut out[..keep] {
            r.source_offset = None;
        }
        // A running incremental snapshot's state, as of everything handed
        // over here (see crate::debezium::incremental).
        if let (Some(fields), Some(o)) = (incremental, out[keep].source_offset.as_mut()) {
            Arc::make_mut(o).extend(fields);
        }
    }
    tx.send(Ok(std::mem::take(out))).await
}

/// Refreshes the definitions a DDL touched, records them in the history,
/// and appends its schema change event (when captured and wanted) and,
/// for TRUNCATE TABLE when `t` is not in skipped.operations, one `t`
/// event per captured table. `offsets`: the DDL's own position (every
/// record but the last keeps it pending) and the one after it. `sql`:
/// the statement without comments, and as schema change events name it.
#[allow(clippy::too_many_arguments)]
async fn handle_ddl(
    cap: &mut Capture,
    ddl: &Ddl,
    db: &str,
    (sql, text): (&str, &str),
    after: &Position,
    ts: u32,
    server_id: u32,
    gtid: Option<Arc<str>>,
    ev_start: u64,
    offsets: (&BinlogOffset, &BinlogOffset),
    out: &mut Vec<SourceRecord>,
) -> Result<(), MySqlError> {
    let cfg = cap.cfg.clone();
    let first = out.len();
    let mut changes = Vec::new();
    let mut recorded = Vec::new();
    let mut truncated = Vec::new();
    let mut dropped = Vec::new();
    // The definitions as of this DDL, by the schema model when it reads
    // the statement; information_schema (today's definition) otherwise.
    let before: Position = (after.0.clone(), ev_start);
    let modelled = if ddl
        .tables
        .iter()
        .any(|(d, t)| cfg.filters.captures_table(d, t))
    {
        cap.modelled(ddl, sql, &before).await?
    } else {
        None
    };
    let mut seen: Vec<&(String, String)> = Vec::new();
    for dt in &ddl.tables {
        let (d, t) = dt;
        cap.forget(d, t);
        // A table named twice (a RENAME swap) is described once, as it
        // ends up.
        if !cfg.filters.captures_table(d, t) || seen.contains(&dt) {
            continue;
        }
        seen.push(dt);
        // A DDL read again after a restart keeps what the history saw
        // then: the current definition may be that of a later DDL.
        let def = match cap.history.at(after, d, t) {
            Some(known) => known.cloned(),
            None => {
                let from_model = modelled.as_ref().and_then(|m| {
                    m.iter()
                        .rev()
                        .find(|((md, mt), _)| md == d && mt == t)
                        .map(|(_, def)| def.clone())
                });
                let def = match from_model {
                    Some(def) => def,
                    None => load_table(cap.meta().await?, d, t).await?,
                };
                recorded.push((d.clone(), t.clone(), def.clone()));
                def
            }
        };
        tracing::info!("DDL on {d}.{t} at {}:{}: {sql}", after.0, after.1);
        if ddl.kind == "TRUNCATE" && !cfg.common.skipped.truncate {
            if let Some(def) = &def {
                truncated.push(def.clone());
            }
        }
        // A rename changes its new name (Debezium reports an ALTER of it,
        // no DROP of the old name, unless a swap gave the old name another
        // table); an index changes no table for Debezium.
        if ddl.index
            || (def.is_none() && ddl.renamed_from.iter().any(|(rd, rt)| rd == d && rt == t))
        {
            continue;
        }
        match (&def, ddl.kind) {
            (Some(def), "CREATE") => changes.push(((d, t), def.change_value("CREATE"))),
            (Some(def), _) => changes.push(((d, t), def.change_value("ALTER"))),
            (None, _) => {
                let change = TableDef {
                    db: d.clone(),
                    table: t.clone(),
                    ..Default::default()
                }
                .change_value("DROP");
                if ddl.kind == "DROP" {
                    dropped.push((d.clone(), t.clone(), change));
                } else {
                    changes.push(((d, t), change));
                }
            }
        }
    }
    let target_db = ddl.tables.first().map(|(d, _)| d.as_str()).unwrap_or(db);
    if !recorded.is_empty() {
        let kind = if ddl.kind == "CREATE" {
            "CREATE"
        } else {
            "ALTER"
        };
        cap.history
            .record(after, target_db, text, kind, &recorded)
            .await?;
    }
    let (db_name, file): (Arc<str>, Arc<str>) = (target_db.into(), after.0.as_str().into());
    // The table the statement is about: a rename's new name; none (an
    // empty name, as Debezium writes) for an index.
    let table_name: Option<Arc<str>> = if ddl.index {
        Some("".into())
    } else {
        ddl.tables
            .iter()
            .find(|dt| !ddl.renamed_from.contains(dt))
            .map(|(_, t)| t.as_str().into())
    };
    let src = SourceInfo {
        ts_ms: ts as i64 * 1000,
        snapshot: "false",
        db: &db_name,
        table: table_name.as_ref(),
        server_id,
        gtid: gtid.as_ref(),
        file: &file,
        pos: ev_start,
        row: 0,
        thread: None,
        query: None,
    };
    let (here, next) = offsets;
    let pending: Arc<JsonMap> = Arc::new(here.to_json());
    let done: Arc<JsonMap> = Arc::new(next.to_json());
    // TRUNCATE changes no definition: Debezium emits no schema change.
    let wanted = cfg.include_schema_changes
        && ddl.kind != "TRUNCATE"
        && cfg.filters.captures_db(target_db)
        && (ddl.database_level || ddl.index || !changes.is_empty());
    match super::ddl::rename_pairs(text) {
        // RENAME TABLE a TO b, c TO d: one event per pair, each with the
        // change of its new name; source.table lists the new names (as
        // Debezium does for gh-ost's and pt-online-schema-change's
        // two-pair swaps; its order varies from run to run).
        Some(pairs) if wanted && pairs.len() * 2 == ddl.tables.len() => {
            let targets: Vec<&(String, String)> = ddl.tables.iter().skip(1).step_by(2).collect();
            let listed: Vec<&str> = {
                let mut l: Vec<&str> = Vec::new();
                for (_, t) in &targets {
                    if !l.contains(&t.as_str()) {
                        l.push(t);
                    }
                }
                l
            };
            let listed: Arc<str> = listed.join(",").into();
            let src = SourceInfo {
                table: Some(&listed),
                ..src.clone()
            };
            for (pair, target) in pairs.iter().zip(&targets) {
                let mine = changes
                    .iter()
                    .filter(|((d, t), _)| (*d, *t) == (&target.0, &target.1))
                    .map(|(_, c)| c.clone())
                    .collect();
                out.push(cap.eb.schema_change(target_db, pair, mine, &src, &done));
            }
        }
        _ if wanted => {
            let changes = changes.into_iter().map(|(_, c)| c).collect();
            out.push(cap.eb.schema_change(target_db, text, changes, &src, &done));
        }
        _ => {}
    }
    // DROP TABLE: one event per table, with Debezium's own statement.
    if cfg.include_schema_changes {
        let if_exists = if ddl_has_if_exists(sql) {
            "IF EXISTS "
        } else {
            ""
        };
        for (d, t, change) in dropped {
            if !cfg.filters.captures_db(&d) {
                continue;
            }
            let (db_a, table_a): (Arc<str>, Arc<str>) = (d.as_str().into(), t.as_str().into());
            let src = SourceInfo {
                db: &db_a,
                table: Some(&table_a),
                ..src.clone()
            };
            let stmt = format!(
                "DROP TABLE {if_exists}`{}`.`{}`",
                d.replace('`', "``"),
                t.replace('`', "``")
            );
            out.push(cap.eb.schema_change(&d, &stmt, vec![change], &src, &done));
        }
    }
    for def in truncated {
        let plans = def.plans(&cfg.decode)?;
        let ts = TableSchema::new(&cfg, &def.db, &def.table, plans, &def.primary_key_indexes())
            .map_err(MySqlError::Config)?;
        let src = SourceInfo {
            db: &ts.db,
            table: Some(&ts.table),
            ..src.clone()
        };
        cap.eb
            .change(&ts, Op::Truncate, None, None, &src, &done, &done, out);
    }
    // A DDL that adds no record (an uncaptured table) leaves `out` alone.
    keep_pending(&mut out[first..], Some(&pending));
    Ok(())
}

/// `DROP TABLE IF EXISTS ...` (any case and spacing).
fn ddl_has_if_exists(sql: &str) -> bool {
    let sql = super::ddl::set_statement_inner(sql).unwrap_or(sql);
    let words: Vec<String> = sql
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    words.get(2).map(String::as_str) == Some("IF")
        && words.get(3).map(String::as_str) == Some("EXISTS")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::{JsonMap, RecordData};

    fn rec(offset: Option<u64>) -> SourceRecord {
        let off = offset.map(|pos| {
            Arc::new(
                BinlogOffset {
                    file: "b.000001".into(),
                    pos,
                    ..Default::default()
                }
                .to_json(),
            )
        });
        let data = RecordData {
            topic: "t".into(),
            ..Default::default()
        };
        SourceRecord::new(Arc::new(JsonMap::new()), off, data)
    }

    fn pos(r: &SourceRecord) -> Option<u64> {
        r.source_offset
            .as_ref()
            .map(|o| BinlogOffset::from_json(o).unwrap().pos)
    }

    async fn handed(mut out: Vec<SourceRecord>, noted: Option<(usize, u64)>) -> Vec<Option<u64>> {
        let (tx, mut rx) = crate::debezium::feed::queue(100, 0);
        let mut noted = noted.map(|(at, pos)| {
            let off = BinlogOffset {
                file: "b.000001".into(),
                pos,
                ..Default::default()
            };
            (at, off)
        });
        hand_over(&tx, &mut out, &mut noted, None).await.unwrap();
        assert!(out.is_empty() && noted.is_none());
        let batch = rx.recv().await.unwrap().unwrap();
        batch.iter().map(pos).collect()
    }

    #[tokio::test]
    async fn a_hand_over_keeps_one_offset_on_its_last_position() {
        // Rows only noted: the map goes on the noted record, nothing else.
        let got = handed(vec![rec(None), rec(None), rec(None)], Some((1, 7))).await;
        assert_eq!(got, [None, Some(7), None]);
        // A record with its own offset after the noted row (a transaction's
        // END, a heartbeat, DDL) wins; earlier own offsets are dropped.
        let got = handed(vec![rec(Some(3)), rec(None), rec(Some(9))], Some((1, 7))).await;
        assert_eq!(got, [None, None, Some(9)]);
        // A noted row after a record with its own offset (a BEGIN) wins.
        let got = handed(vec![rec(Some(3)), rec(None), rec(None)], Some((2, 7))).await;
        assert_eq!(got, [None, None, Some(7)]);
        // Nothing noted: the last own offset stays.
        let got = handed(vec![rec(Some(3)), rec(Some(4)), rec(None)], None).await;
        assert_eq!(got, [None, Some(4), None]);
    }

    #[tokio::test]
    async fn a_ddl_on_an_uncaptured_table_leaves_pending_records_alone() {
        // A DDL of another database arrives while earlier records are not
        // yet handed over (a binlog read in a run): it adds no record and
        // must neither panic nor touch the records before it.
        let props: sluice_api::Props = [
            ("database.hostname", "127.0.0.1"),
            ("database.user", "u"),
            ("database.server.id", "5400"),
            ("topic.prefix", "srv"),
            ("database.include.list", "inv"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = MySqlConfig::parse(&props, super::super::Flavor::MariaDb).unwrap();
        let mut cap = Capture::new(Arc::new(cfg), SchemaHistory::in_memory("srv"));
        let sql = "CREATE TABLE other.t (id INT PRIMARY KEY)";
        let ddl = super::super::ddl::parse_ddl(sql, "other").unwrap();
        let here = BinlogOffset {
            file: "b.000001".into(),
            pos: 10,
            ..Default::default()
        };
        let next = BinlogOffset {
            pos: 20,
            ..here.clone()
        };
        let mut out = vec![rec(None), rec(Some(5)), rec(None)];
        let after: Position = ("b.000001".into(), 20);
        handle_ddl(
            &mut cap,
            &ddl,
            "other",
            (sql, sql),
            &after,
            0,
            1,
            None,
            10,
            (&here, &next),
            &mut out,
        )
        .await
        .unwrap();
        assert_eq!(
            out.iter().map(pos).collect::<Vec<_>>(),
            [None, Some(5), None]
        );
    }

    #[test]
    fn offsets_carry_mysqls_executed_gtid_set_and_mariadbs_position() {
        let a = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let b = "8f9c3a2e-0000-11e1-9e33-c80aa9429562";
        // A MySQL set from the stored offset grows by each committed GTID.
        let mut p = Position_::default();
        (p.gtids, p.mysql_gtids) = Position_::parse_gtids(Some(&format!("{a}:1-5")));
        assert!(p.gtids.is_empty());
        for (uuid, gno) in [(a, 6), (b, 1), (a, 8)] {
            p.cur_mysql = Some((uuid.parse().unwrap(), gno));
            p.commit_gtid();
        }
        assert_eq!(
            p.offset(0, 0, 0, 1).gtids.as_deref(),
            Some(format!("{a}:1-6:8,{b}:1").as_str())
        );
        // A MariaDB position keeps one GTID per domain.
        let mut p = Position_::default();
        (p.gtids, p.mysql_gtids) = Position_::parse_gtids(Some("0-1-10,1-2-5"));
        assert!(p.mysql_gtids.is_empty());
        p.cur_maria = Some("0-1-11".parse().unwrap());
        p.commit_gtid();
        assert_eq!(p.offset(0, 0, 0, 1).gtids.as_deref(), Some("0-1-11,1-2-5"));
        // Nothing stored, nothing seen: no gtids.
        assert_eq!(Position_::default().offset(0, 0, 0, 1).gtids, None);
    }
}
