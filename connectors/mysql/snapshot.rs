//! The initial snapshot: every captured row as an `r` event, consistent
//! with the binlog position streaming then starts from.
//!
//! Why it is consistent (nothing missed, nothing doubled):
//! - MariaDB: `START TRANSACTION WITH CONSISTENT SNAPSHOT` opens an InnoDB
//!   read view and, atomically with it, records the binlog position of the
//!   last transaction the view contains (status `binlog_snapshot_file` /
//!   `binlog_snapshot_position`). No lock is needed: every transaction
//!   committed before that position is in the view, every later one is in
//!   the binlog after it.
//! - MySQL: with snapshot.locking.mode=minimal/extended, `FLUSH TABLES WITH
//!   READ LOCK` stops commits, the transaction and its read view start,
//!   `SHOW MASTER STATUS` reads the position, and the lock is released
//!   before any row is read. With `none`, there is no such guarantee (as
//!   with Debezium).
//! - All tables are read inside that one REPEATABLE READ transaction, so
//!   they are mutually consistent, and streaming starts exactly at the
//!   recorded position.
//!
//! Why a crash never loses a row: every snapshot record carries an offset
//! marked `snapshot: true` except the very last, which carries the
//! completed offset (the snapshot position). A restart that finds a
//! `snapshot: true` offset (or none) takes the snapshot again from the
//! start (rows may be delivered twice, never missed) and then streams
//! from the *first* attempt's position, so that a row the first attempt
//! emitted and that was deleted before the second one still gets its
//! delete event; only after the last record is acked does a restart
//! stream instead.
//!
//! Memory stays flat: rows are read one packet at a time
//! ([`Connection::next_row`]) and sent downstream in batches through a
//! bounded channel, so a slow broker slows the read.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use sluice_api::data::{SourceRecord, Value};
use sluice_api::SourceTaskContext;

use super::catalog::{list_tables, load_table, quote_ident, sql_string, TableDef};
use super::config::LockingMode;
use super::error::MySqlError;
use super::events::SourceInfo;
use super::offset::BinlogOffset;
use super::protocol::Connection;
use super::schema::TableSchema;
use super::stream::Capture;
use super::text::decode_text_row;
use crate::debezium::events::Op;
use crate::debezium::feed::FeedTx;
use crate::debezium::progress::SnapshotProgress;

/// FLUSH TABLES WITH READ LOCK, waiting for it at most `timeout_ms`
/// (snapshot.lock.timeout.ms); a failure names the privilege it needs, or
/// the timeout and what holds the tables.
async fn read_lock(conn: &mut Connection, timeout_ms: u64) -> Result<(), MySqlError> {
    let secs = timeout_ms.div_ceil(1000).max(1);
    conn.exec(&format!("SET SESSION lock_wait_timeout = {secs}"))
        .await?;
    conn.exec("FLUSH TABLES WITH READ LOCK").await.map_err(|e| {
        // 1205: ER_LOCK_WAIT_TIMEOUT.
        if e.server_code() == Some(1205) {
            MySqlError::Config(format!(
                "{e}; the snapshot waited snapshot.lock.timeout.ms={timeout_ms} for its global read lock (FLUSH TABLES WITH READ LOCK) while other sessions held tables (a long query, LOCK TABLES, an open DDL): raise snapshot.lock.timeout.ms, or run the snapshot when they end"
            ))
        } else {
            MySqlError::Config(format!(
                "{e}; the snapshot needs the RELOAD privilege for FLUSH TABLES WITH READ LOCK (or set snapshot.locking.mode=none, which gives up consistency)"
            ))
        }
    })?;
    Ok(())
}

/// Ends the snapshot's transaction, and with snapshot.locking.mode=extended
/// its global read lock.
async fn end_consistent(conn: &mut Connection, locking: LockingMode) {
    conn.exec("COMMIT").await.ok();
    if locking == LockingMode::Extended {
        conn.exec("UNLOCK TABLES").await.ok();
    }
}

/// Opens the consistent read view and returns its binlog position.
async fn begin_consistent(
    conn: &mut Connection,
    locking: LockingMode,
    lock_timeout_ms: u64,
) -> Result<BinlogOffset, MySqlError> {
    conn.exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await?;
    let server_id = conn
        .query("SELECT @@global.server_id")
        .await?
        .text(0, 0)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if conn.server().is_mariadb() {
        if locking == LockingMode::Extended {
            // extended: writes wait for the whole snapshot (released at
            // its COMMIT, or with the session if it stops).
            read_lock(conn, lock_timeout_ms).await?;
        }
        conn.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await?;
        let rs = conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'").await?;
        let mut file = String::new();
        let mut pos = 0u64;
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
            return Err(MySqlError::Config(format!(
                "{} reports no binlog snapshot position; start the server with log_bin",
                conn.addr()
            )));
        }
        let gtids = conn
            .query(&format!(
                "SELECT BINLOG_GTID_POS({}, {pos})",
                sql_string(&file)
            ))
            .await
            .ok()
            .and_then(|rs| rs.text(0, 0).map(str::to_string))
            .filter(|g| !g.is_empty());
        return Ok(BinlogOffset {
            file,
            pos,
            gtids,
            server_id,
            ..Default::default()
        });
    }
    let lock = locking != LockingMode::None;
    if lock {
        read_lock(conn, lock_timeout_ms).await?;
    }
    conn.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await?;
    let (file, pos) = super::binlog::current_position(conn).await?;
    // MySQL's executed GTID set at the same point (under the lock): the
    // offset carries it as Debezium's does; empty with gtid_mode=OFF.
    let gtids = conn
        .query("SELECT @@global.gtid_executed")
        .await
        .ok()
        .and_then(|rs| {
            rs.text(0, 0)
                .map(|g| g.split_whitespace().collect::<String>())
        })
        .filter(|g| !g.is_empty());
    // minimal: only while the position is read; extended: until the end.
    if locking == LockingMode::Minimal {
        conn.exec("UNLOCK TABLES").await?;
    }
    Ok(BinlogOffset {
        file,
        pos: pos as u64,
        gtids,
        server_id,
        ..Default::default()
    })
}

async fn still_on_server(conn: &mut Connection, file: &str) -> bool {
    match conn.query("SHOW BINARY LOGS").await {
        Ok(rs) => (0..rs.rows.len()).any(|i| rs.text(i, 0) == Some(file)),
        Err(_) => false,
    }
}

/// The DDL of a table, for the snapshot's schema change events.
async fn create_statement(conn: &mut Connection, def: &TableDef) -> Option<String> {
    let rs = conn
        .query(&format!(
            "SHOW CREATE TABLE {}.{}",
            quote_ident(&def.db),
            quote_ident(&def.table)
        ))
        .await
        .ok()?;
    rs.text(0, 1).map(str::to_string)
}

/// Which snapshot marker a record gets (Debezium 2.x values).
pub(crate) fn marker(
    first_overall: bool,
    first_in_table: bool,
    last_in_table: bool,
    last_overall: bool,
) -> &'static str {
    if last_overall {
        "last"
    } else if first_overall {
        "first"
    } else if last_in_table {
        "last_in_data_collection"
    } else if first_in_table {
        "first_in_data_collection"
    } else {
        "true"
    }
}

/// snapshot.mode=recovery with a stored offset: records every captured
/// table's current definition in the schema history at the offset's
/// position, as Debezium's recovery rebuilds a lost or damaged history
/// topic from the tables, and streaming then resumes from the offset. Later
/// lookups at or after that position find these entries first. As with
/// Debezium, this is right only if no schema change happened after the
/// offset.
pub async fn rebuild_history(
    cap: &mut Capture,
    ctx: &SourceTaskContext,
    at: &BinlogOffset,
) -> Result<(), MySqlError> {
    let cfg = cap.cfg.clone();
    let tables = list_tables(cap.meta().await?, &cfg.filters).await?;
    let pos = (at.file.clone(), at.pos);
    for (db, table) in &tables {
        let Some(def) = load_table(cap.meta().await?, db, table).await? else {
            continue;
        };
        let ddl = create_statement(cap.meta().await?, &def)
            .await
            .unwrap_or_default();
        cap.history
            .record(
                &pos,
                db,
                &ddl,
                "CREATE",
                &[(db.clone(), table.clone(), Some(def))],
            )
            .await?;
    }
    tracing::info!(connector = %ctx.connector, "snapshot.mode=recovery: the schema history holds the current definitions of {} tables as of {}:{}; streaming resumes there", tables.len(), at.file, at.pos);
    Ok(())
}

/// A row read but not yet emitted (its marker depends on what follows).
struct Held {
    table: Arc<TableSchema>,
    values: Vec<Value>,
    first_in_table: bool,
}

/// Takes the snapshot (`with_data = false`: schema only) and returns the
/// position streaming continues from. Records go to `tx`.
pub async fn snapshot(
    cap: &mut Capture,
    ctx: &SourceTaskContext,
    with_data: bool,
    earlier: Option<BinlogOffset>,
    tx: &FeedTx,
) -> Result<Option<BinlogOffset>, MySqlError> {
    let cfg = cap.cfg.clone();
    let started = Instant::now();
    let mut conn = Connection::connect(&cfg.connect_options()).await?;
    // Bytes as stored (decoded by each column's charset, as the binlog's
    // are): without this a latin1 column arrives converted to the
    // connection's utf8mb4 and is then decoded as latin1 a second time.
    conn.exec("SET SESSION time_zone = '+00:00', character_set_results = NULL")
        .await?;
    let tables = list_tables(cap.meta().await?, &cfg.filters).await?;
    let mut pos = begin_consistent(&mut conn, cfg.locking_mode, cfg.lock_timeout_ms).await?;
    if let Some(e) = earlier.filter(|e| e.pos > 0) {
        // A snapshot that did not complete: stream from its (earlier)
        // position, so that changes between the two snapshots, deletes
        // of rows the first one already emitted included, reach the topic.
        if still_on_server(&mut conn, &e.file).await {
            tracing::info!("an earlier snapshot did not complete; streaming will start from its position {}:{}", e.file, e.pos);
            pos = BinlogOffset {
                snapshot: false,
                event: 0,
                row: 0,
                ..e
            };
        }
    }
    tracing::info!(
        "snapshot of {} tables at {}:{}",
        tables.len(),
        pos.file,
        pos.pos
    );
    let done_offset = Arc::new(pos.to_json());
    let running = Arc::new(
        BinlogOffset {
            snapshot: true,
            ..pos.clone()
        }
        .to_json(),
    );
    let mut defs = Vec::new();
    let mut out: Vec<SourceRecord> = Vec::with_capacity(cfg.common.max_batch_size);
    let history_pos = (pos.file.clone(), pos.pos);
    // The binlog file every snapshot event names, shared into each.
    let file: Arc<str> = pos.file.as_str().into();
    for (db, table) in &tables {
        let Some(def) = load_table(cap.meta().await?, db, table).await? else {
            continue;
        };
        let known = cap.history.as_of(&history_pos, db, table).is_some();
        let ddl = if !known || cfg.include_schema_changes {
            create_statement(cap.meta().await?, &def)
                .await
                .unwrap_or_default()
        } else {
            String::new()
        };
        if !known {
            cap.history
                .record(
                    &history_pos,
                    db,
                    &ddl,
                    "CREATE",
                    &[(db.clone(), table.clone(), Some(def.clone()))],
                )
                .await?;
        }
        if cfg.include_schema_changes {
            let (db_name, table_name) = (db.as_str().into(), table.as_str().into());
            let src = SourceInfo {
                ts_ms: crate::debezium::time::now().0,
                snapshot: "true",
                db: &db_name,
                table: Some(&table_name),
                server_id: 0,
                gtid: None,
                file: &file,
                pos: pos.pos,
                row: 0,
                thread: None,
                query: None,
            };
            out.push(cap.eb.schema_change(
                db,
                &ddl,
                vec![def.change_value("CREATE")],
                &src,
                &running,
            ));
        }
        defs.push(def);
    }
    if !with_data {
        end_consistent(&mut conn, cfg.locking_mode).await;
        if let Some(last) = out.last_mut() {
            last.source_offset = Some(done_offset.clone());
        }
        if !out.is_empty() && tx.send(Ok(out)).await.is_err() {
            return Ok(None);
        }
        return Ok(Some(pos));
    }

    // Debezium's Initial Snapshot notifications (notification.enabled.channels).
    use crate::debezium::notify::INITIAL;
    let note_id = super::incremental::new_uuid();
    // The signal table's rows are signals, not data (Debezium leaves them
    // out of snapshots too); snapshot.include.collection.list may leave
    // out others.
    let is_signal_table = |def: &TableDef| {
        cfg.signal.data_collection.as_deref() == Some(format!("{}.{}", def.db, def.table).as_str())
    };
    let reads_rows =
        |def: &TableDef| !is_signal_table(def) && cfg.snapshots_rows_of(&def.db, &def.table);
    let data_tables: Vec<String> = defs
        .iter()
        .filter(|d| reads_rows(d))
        .map(|d| format!("{}.{}", d.db, d.table))
        .collect();
    let mut captured: Vec<String> = defs
        .iter()
        .map(|d| format!("{}.{}", d.db, d.table))
        .collect();
    captured.sort();
    cfg.notifier
        .notify(&note_id, INITIAL, "STARTED", &[], &mut out);
    let mut held: Option<Held> = None;
    let mut first_overall = true;
    let mut progress = serde_json::Map::new();
    let mut total_rows: u64 = 0;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut spans = Vec::new();
    let n_tables = defs.len();
    let tables_to_read = data_tables.len();
    for (ti, def) in defs.iter().enumerate() {
        if !reads_rows(def) {
            continue;
        }
        let plans = def.plans(&cfg.decode)?;
        let ts = Arc::new(
            TableSchema::new(&cfg, &def.db, &def.table, plans, &def.primary_key_indexes())
                .map_err(MySqlError::Config)?,
        );
        let estimate: u64 = cap
            .meta()
            .await?
            .query(&format!(
                "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                sql_string(&def.db),
                sql_string(&def.table)
            ))
            .await
            .ok()
            .and_then(|rs| rs.text(0, 0).and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        let id = format!("{}.{}", def.db, def.table);
        cfg.notifier.notify(
            &note_id,
            INITIAL,
            "IN_PROGRESS",
            &[
                ("current_collection_in_progress", id.clone()),
                ("data_collections", data_tables.join(",")),
            ],
            &mut out,
        );
        tracing::info!(
            "snapshot: table {}/{n_tables} {id} (~{estimate} rows)",
            ti + 1
        );
        let overridden = cfg.select_overrides.get(&id);
        let sql = match overridden {
            Some(sql) => {
                tracing::info!(
                    "snapshot: {id} is read by snapshot.select.statement.overrides.{id}: {sql}"
                );
                sql.clone()
            }
            None => {
                let cols: Vec<String> = def.columns.iter().map(|c| quote_ident(&c.name)).collect();
                format!(
                    "SELECT {} FROM {}.{}",
                    cols.join(", "),
                    quote_ident(&def.db),
                    quote_ident(&def.table)
                )
            }
        };
        let ncols = conn
            .query_start(&sql)
            .await
            .map_err(|e| match overridden {
                Some(_) => MySqlError::Config(format!("{e}; the snapshot of {id} ran snapshot.select.statement.overrides.{id}: correct that statement")),
                None => e,
            })?
            .len();
        if ncols != def.columns.len() {
            return Err(MySqlError::Config(format!(
                "snapshot.select.statement.overrides.{id} returns {ncols} columns, but {id} has {}: the statement must return the table's columns in its order (SELECT * FROM {id} WHERE ...)",
                def.columns.len()
            )));
        }
        let mut rows: u64 = 0;
        let mut first_in_table = true;
        let mut logged = SnapshotProgress::start(&id, estimate);
        // Per-row buffers, reused: the column slices, and the row's values
        // (the held row's vector once it has been emitted).
        let mut vals_store: Vec<Option<&'static [u8]>> = Vec::new();
        let mut spare: Vec<Value> = Vec::new();
        while conn.next_row(ncols, &mut buf, &mut spans).await? {
            let mut vals = reuse(std::mem::take(&mut vals_store));
            vals.extend(spans.iter().map(|s| s.map(|(a, b)| &buf[a..b])));
            if let Some(mut h) = held.take() {
                let last_in_table = !Arc::ptr_eq(&h.table, &ts);
                let mark = marker(first_overall, h.first_in_table, last_in_table, false);
                emit(cap, &mut h, mark, &pos, &file, &running, &mut out);
                first_overall = false;
                spare = h.values;
            }
            let mut values = std::mem::take(&mut spare);
            values.clear();
            decode_text_row(&ts.plans, &vals, &mut values)
                .map_err(|e| MySqlError::decode(format!("snapshot row of {id}"), e))?;
            vals_store = reuse(vals);
            held = Some(Held {
                table: ts.clone(),
                values,
                first_in_table,
            });
            first_in_table = false;
            rows += 1;
            if out.len() >= cfg.common.max_batch_size {
                if tx.send(Ok(std::mem::take(&mut out))).await.is_err() {
                    return Ok(None);
                }
                if rows % 10_000 < cfg.common.max_batch_size as u64 {
                    progress.insert(
                        id.clone(),
                        json!({"rows": rows, "estimated_total": estimate.max(rows)}),
                    );
                    ctx.set_progress(snapshot_progress(true, &progress, tables_to_read, started));
                }
                logged.rows(rows);
            }
        }
        total_rows += rows;
        progress.insert(
            id.clone(),
            json!({"rows": rows, "estimated_total": estimate.max(rows), "done": true}),
        );
        ctx.set_progress(snapshot_progress(true, &progress, tables_to_read, started));
        logged.done(rows);
        cfg.notifier.notify(
            &note_id,
            INITIAL,
            "TABLE_SCAN_COMPLETED",
            &[
                ("scanned_collection", id.clone()),
                ("data_collections", captured.join(",")),
                ("total_rows_scanned", rows.to_string()),
                ("status", "SUCCEEDED".into()),
            ],
            &mut out,
        );
    }
    end_consistent(&mut conn, cfg.locking_mode).await;
    if let Some(mut h) = held.take() {
        let mark = marker(first_overall, h.first_in_table, true, true);
        emit(cap, &mut h, mark, &pos, &file, &done_offset, &mut out);
    } else if let Some(last) = out.last_mut() {
        last.source_offset = Some(done_offset.clone());
    }
    cfg.notifier
        .notify(&note_id, INITIAL, "COMPLETED", &[], &mut out);
    if !out.is_empty() && tx.send(Ok(out)).await.is_err() {
        return Ok(None);
    }
    ctx.set_progress(snapshot_progress(false, &progress, tables_to_read, started));
    tracing::info!(
        "snapshot complete: {total_rows} rows in {:.1?}; streaming from {}:{}",
        started.elapsed(),
        pos.file,
        pos.pos
    );
    pos.snapshot = false;
    Ok(Some(pos))
}

/// A snapshot's progress for the status JSON and Debezium's snapshot
/// metrics (`TotalTableCount`, `RemainingTableCount`,
/// `SnapshotDurationInSeconds`).
fn snapshot_progress(
    running: bool,
    tables: &serde_json::Map<String, serde_json::Value>,
    total_tables: usize,
    started: Instant,
) -> serde_json::Value {
    let done = tables
        .values()
        .filter(|t| t.get("done").and_then(|d| d.as_bool()) == Some(true))
        .count();
    let mut snapshot = json!({
        "running": running,
        "tables": tables,
        "TotalTableCount": total_tables,
        "RemainingTableCount": total_tables.saturating_sub(done),
        "SnapshotDurationInSeconds": started.elapsed().as_secs(),
    });
    if !running {
        let rows: u64 = tables
            .values()
            .filter_map(|t| t.get("rows").and_then(|r| r.as_u64()))
            .sum();
        snapshot["rows"] = json!(rows);
    }
    json!({ "snapshot": snapshot })
}

/// An emptied vector whose allocation serves elements of another lifetime.
fn reuse<'b>(mut v: Vec<Option<&'_ [u8]>>) -> Vec<Option<&'b [u8]>> {
    v.clear();
    // Same size and alignment, no element: collected in place.
    v.into_iter().map(|_| None).collect()
}

fn emit(
    cap: &Capture,
    h: &mut Held,
    mark: &'static str,
    pos: &BinlogOffset,
    file: &Arc<str>,
    offset: &Arc<sluice_api::data::JsonMap>,
    out: &mut Vec<SourceRecord>,
) {
    // As Debezium's snapshot records: the read time in whole seconds, no
    // server id and row 0 (they name no binlog event).
    let src = SourceInfo {
        ts_ms: crate::debezium::time::now().0 / 1000 * 1000,
        snapshot: mark,
        db: &h.table.db,
        table: Some(&h.table.table),
        server_id: 0,
        gtid: None,
        file,
        pos: pos.pos,
        row: 0,
        thread: None,
        query: None,
    };
    cap.eb.change(
        &h.table,
        Op::Read,
        None,
        Some(&mut h.values),
        &src,
        offset,
        offset,
        out,
    );
}
