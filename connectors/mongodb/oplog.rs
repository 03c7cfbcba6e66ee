//! The oplog capture mode (capture.mode=oplog): tail `local.oplog.rs`
//! directly, for deployments where change streams are not available.
//!
//! Why it loses nothing: the oplog is the replica set's ordered log of
//! every committed write, in `ts` order. The reader opens a tailable,
//! awaitData `find` on `local.oplog.rs` from the saved position (`ts >=`
//! the saved `ts` when a `tord` says how many changes there were already
//! delivered, else `ts >`) and keeps issuing `getMore`s on it; a dead
//! cursor is re-opened from the position of the last entry read. Each
//! record carries the position of its own change (`sec`, `ord` = the
//! entry's `ts`, `tord` = the change's place among the changes at that
//! `ts`), and the worker commits an offset only once every record before
//! it is acked, so a restart re-reads at most what was not committed and
//! skips exactly the changes that were.
//!
//! Before every open, the oldest entry still in the oplog is compared with
//! the saved position: if the oplog has rolled past it (or mongod reports
//! CappedPositionLost while tailing) the changes in between are gone, and
//! the task fails with the remedy, or re-snapshots under
//! snapshot.mode=when_needed.
//!
//! The snapshot records the `ts` of the newest oplog entry before reading
//! any collection and streaming starts after it, so a write during the
//! snapshot is read, streamed, or both (see [`super::snapshot`]); the
//! plan around snapshot and tail is [`super::capture`]'s.
//!
//! Events are the same as in change_streams_update_full: inserts and
//! replacements carry the document from the entry; updates carry the
//! `updateDescription` decoded from the entry's diff and, as `after`, the
//! document looked up by `_id` when the batch is read (its current state,
//! as change streams' `updateLookup`; null if it has since been deleted).
//! Lookups are batched: one `find` per collection per `getMore` batch.
//! `before` is always null: the oplog holds no pre-images.
//!
//! Commands go straight to the server over one explicit session (mongod
//! refuses a `getMore` from a session other than the cursor's), so that an
//! empty `getMore` (after cursor.max.await.time.ms) returns control: the
//! reader then flushes, sends heartbeats and notices a stopped task.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document, Timestamp};
use mongodb::{Client, ClientSession};
use sluice_api::data::SourceRecord;
use sluice_api::TaskError;

use super::config::{CaptureScope, MongoConfig};
use super::events::{ChangeEvent, EventBuilder};
use super::json::{self, Mode};
use super::offset::MongoOffset;
use super::oplog_entry::{decode_entry, Change};
use super::stream::{flush, reply_too_large, task_error, StreamError};
use crate::debezium::feed::FeedTx;

const OPLOG: &str = "oplog.rs";

/// The oplog exists only on replica set members.
pub async fn require_replica_set(client: &Client) -> Result<(), TaskError> {
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .map_err(|e| task_error(&e, "asking the server what it is (hello)"))?;
    if hello.get_str("setName").is_err() && hello.get_str("msg").ok() != Some("isdbgrid") {
        return Err(TaskError::Fatal("capture.mode=oplog needs a replica set member: the server is a standalone mongod, which keeps no oplog (local.oplog.rs); run it as a replica set (even of one node), or point mongodb.connection.string at one".into()));
    }
    if hello.get_str("msg").ok() == Some("isdbgrid") {
        return Err(TaskError::Fatal("capture.mode=oplog cannot read through mongos: point mongodb.connection.string at a shard's replica set, or use capture.mode=change_streams_update_full".into()));
    }
    Ok(())
}

fn entry_ts(d: &Document) -> Option<Timestamp> {
    match d.get("ts") {
        Some(Bson::Timestamp(t)) => Some(*t),
        _ => None,
    }
}

async fn edge_entry(client: &Client, newest: bool) -> Result<Option<Timestamp>, StreamError> {
    let r = client
        .database("local")
        .run_command(doc! {
            "find": OPLOG,
            "filter": {},
            "sort": {"$natural": if newest { -1 } else { 1 }},
            "limit": 1_i32,
            "singleBatch": true,
            "projection": {"ts": 1_i32},
        })
        .await
        .map_err(|e| StreamError::Task(task_error(&e, "reading the end of local.oplog.rs")))?;
    Ok(first_batch(&r).and_then(|b| b.first().and_then(Bson::as_document).and_then(entry_ts)))
}

/// The newest entry's `ts`, read before a snapshot: streaming from just
/// after it misses nothing the snapshot missed.
pub async fn current_position(client: &Client) -> Result<MongoOffset, StreamError> {
    let ts = match edge_entry(client, true).await? {
        Some(t) => t,
        None => Timestamp {
            time: 0,
            increment: 0,
        },
    };
    Ok(MongoOffset {
        sec: ts.time,
        ord: ts.increment,
        ..Default::default()
    })
}

fn first_batch(reply: &Document) -> Option<&bson::Array> {
    let c = reply.get_document("cursor").ok()?;
    c.get_array("firstBatch")
        .or_else(|_| c.get_array("nextBatch"))
        .ok()
}

fn cursor_id(reply: &Document) -> i64 {
    reply
        .get_document("cursor")
        .ok()
        .and_then(|c| match c.get("id") {
            Some(Bson::Int64(n)) => Some(*n),
            Some(Bson::Int32(n)) => Some(i64::from(*n)),
            _ => None,
        })
        .unwrap_or(0)
}

/// The namespace part of the tailing filter: only what the scope can
/// capture, plus transactions (`admin.$cmd`) and noops. The include and
/// exclude lists are applied per change.
fn namespace_filter(cfg: &MongoConfig) -> Option<Document> {
    let esc = |s: &str| regex::escape(s);
    let ns = match &cfg.scope {
        CaptureScope::Deployment => {
            return Some(doc! {"ns": {"$not": {"$regex": "^(local|config)\\."}}})
        }
        CaptureScope::Database(d) => doc! {"ns": {"$regex": format!("^{}\\.", esc(d))}},
        CaptureScope::Collection { db, coll } => doc! {"ns": format!("{db}.{coll}")},
    };
    Some(doc! {"$or": [ns, {"ns": "admin.$cmd"}, {"op": "n"}]})
}

/// Position bookkeeping: the `ts` being read and how many units of it
/// are done, and how many units at the resume `ts` a re-open re-reads and
/// must skip.
struct Position {
    ts: Timestamp,
    seen: u32,
    skip_ts: Timestamp,
    skip: u32,
    skipped: u32,
}

impl Position {
    fn new(from: &MongoOffset) -> Position {
        let tord = from.tord.unwrap_or(0);
        Position {
            ts: from.timestamp(),
            seen: tord,
            skip_ts: from.timestamp(),
            skip: tord,
            skipped: 0,
        }
    }

    /// Counts one unit at `ts`; false if it was delivered before the re-open.
    fn step(&mut self, ts: Timestamp) -> bool {
        if ts == self.skip_ts && self.skipped < self.skip {
            self.skipped += 1;
            return false;
        }
        if ts != self.ts {
            self.ts = ts;
            self.seen = 0;
        }
        self.seen += 1;
        true
    }

    fn offset(&self) -> MongoOffset {
        MongoOffset {
            sec: self.ts.time,
            ord: self.ts.increment,
            tord: Some(self.seen),
            ..Default::default()
        }
    }
}

fn lost(cfg: &MongoConfig, from: &MongoOffset, oldest: Timestamp) -> StreamError {
    StreamError::PositionLost(format!(
        "the saved oplog position of {} (ts {}:{}) is no longer available: the oldest entry in local.oplog.rs is ts {}:{}, so the changes in between are gone. Remedy: set snapshot.mode=when_needed and restart the connector to take a new snapshot, or reset its offsets (DELETE /connectors/<name>/offsets) and restart; a larger oplog (replSetResizeOplog) keeps a stopped connector resumable for longer",
        cfg.topic_prefix, from.sec, from.ord, oldest.time, oldest.increment
    ))
}

fn classify(e: mongodb::error::Error, what: &str, cfg: &MongoConfig, at: &Position) -> StreamError {
    match super::stream::server_code(&e) {
        // CappedPositionLost, ChangeStreamHistoryLost, OplogQueryMinTsMissing.
        Some(code @ (136 | 286 | 326)) => StreamError::PositionLost(format!(
            "{what}: the oplog of {} rolled past the reader's position (ts {}:{}; code {code}: {e}). Remedy: set snapshot.mode=when_needed and restart the connector to take a new snapshot, or reset its offsets (DELETE /connectors/<name>/offsets) and restart",
            cfg.topic_prefix, at.ts.time, at.ts.increment
        )),
        _ => StreamError::Task(task_error(&e, what)),
    }
}

/// A change waiting for its batch to be looked up and built.
struct Pending {
    event: ChangeEvent,
    lookup: bool,
    offset: MongoOffset,
}

/// The state of one tailing run.
struct Reader<'a> {
    client: &'a Client,
    cfg: &'a Arc<MongoConfig>,
    builder: &'a mut EventBuilder,
    tx: &'a FeedTx,
    pos: Position,
    last_sent: MongoOffset,
}

impl Reader<'_> {
    /// Decodes entries in order, skips what was delivered before and what
    /// is at or before `skip_through` (already read by a catch-up), looks up
    /// post-images and sends the records.
    async fn process(
        &mut self,
        entries: Vec<Bson>,
        skip_through: Option<Timestamp>,
    ) -> Result<(), StreamError> {
        let cfg = self.cfg;
        let mut pending = Vec::new();
        for e in entries {
            let Bson::Document(entry) = e else { continue };
            let Some(ts) = entry_ts(&entry) else { continue };
            if skip_through.is_some_and(|c| (ts.time, ts.increment) <= (c.time, c.increment)) {
                continue;
            }
            let units = decode_entry(&entry).map_err(|e| {
                StreamError::Task(TaskError::Fatal(format!(
                    "cannot decode an oplog entry of {}: {e}",
                    cfg.topic_prefix
                )))
            })?;
            for unit in units {
                if !self.pos.step(ts) {
                    continue;
                }
                let Some(Change { event, lookup }) = unit else {
                    continue;
                };
                if !cfg.captures(&event.db, &event.coll) {
                    continue;
                }
                let offset = MongoOffset {
                    lsid: event
                        .lsid
                        .as_ref()
                        .filter(|_| event.txn_number.is_some())
                        .map(|l| json::document(l, Mode::Strict)),
                    txn_number: event.txn_number.filter(|_| event.lsid.is_some()),
                    ..self.pos.offset()
                };
                pending.push(Pending {
                    event,
                    lookup,
                    offset,
                });
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        look_up(self.client, &mut pending).await?;
        let mut batch: Vec<SourceRecord> = Vec::with_capacity(pending.len() + 8);
        for p in &pending {
            let offset = Arc::new(p.offset.to_json());
            self.builder.change(&p.event, &offset, &mut batch);
            if batch.len() >= cfg.common.max_batch_size {
                flush(&mut batch, self.tx).await?;
            }
        }
        flush(&mut batch, self.tx).await?;
        self.last_sent = self.pos.offset();
        Ok(())
    }
}

/// Server errors after which the cursor is re-opened from the reader's
/// position (whether that position is still in the oplog is then checked):
/// CursorNotFound (an idle cursor timed out), CappedPositionLost (the
/// cursor's own place rolled away, perhaps behind the reader's position).
fn reopenable(e: &mongodb::error::Error) -> bool {
    matches!(super::stream::server_code(e), Some(43 | 136))
}

/// Tails the oplog from `from` into `tx` until the task stops or an error.
///
/// Each (re)open first opens the tailable cursor, then reads everything
/// after the position with a plain `find` (the catch-up), and then takes
/// from the tailable cursor only entries after the last one the catch-up
/// read. With mongod the catch-up repeats what the cursor would return;
/// SecantusDB 0.7's tailable cursor skips entries written while its first
/// scan runs (measured: 13 of 20), and the catch-up reads those.
pub async fn tail(
    client: &Client,
    cfg: &Arc<MongoConfig>,
    builder: &mut EventBuilder,
    from: MongoOffset,
    tx: &FeedTx,
) -> Result<(), StreamError> {
    let from = MongoOffset {
        initsync: false,
        resume_token: None,
        ..from
    };
    let mut session = client
        .start_session()
        .await
        .map_err(|e| StreamError::Task(task_error(&e, "starting a session")))?;
    let heartbeat = (cfg.common.heartbeat_interval_ms > 0)
        .then(|| Duration::from_millis(cfg.common.heartbeat_interval_ms));
    let mut last_heartbeat = Instant::now();
    let local = client.database("local");
    let oplog = local.collection::<Document>(OPLOG);
    let await_ms = cfg.cursor_max_await_ms.clamp(1, 1000) as i64;
    let mut r = Reader {
        client,
        cfg,
        builder,
        tx,
        pos: Position::new(&from),
        last_sent: from.clone(),
    };
    tracing::info!(server = %cfg.topic_prefix, "tailing local.oplog.rs from ts {}:{} (tord {:?})", from.sec, from.ord, from.tord);
    // One entry per batch after a reply over the driver's maximum message
    // size (large entries in a row), until the oplog is idle again; as the
    // change stream does.
    let mut one_by_one = false;
    loop {
        let batch_size = if one_by_one {
            1
        } else {
            cfg.common.max_batch_size
        };
        // (Re)open from the position of the last unit read.
        let resume = r.pos.offset();
        r.pos = Position::new(&resume);
        if resume.sec > 0 {
            if let Some(oldest) = edge_entry(client, false).await? {
                if (oldest.time, oldest.increment) > (resume.sec, resume.ord) {
                    return Err(lost(cfg, &resume, oldest));
                }
            }
        }
        let ts_filter = if resume.tord.is_some_and(|n| n > 0) {
            doc! {"$gte": resume.timestamp()}
        } else {
            doc! {"$gt": resume.timestamp()}
        };
        let mut filter = doc! {"ts": ts_filter};
        if let Some(ns) = namespace_filter(cfg) {
            filter.extend(ns);
        }
        let find = doc! {
            "find": OPLOG,
            "filter": filter.clone(),
            "tailable": true,
            "awaitData": true,
            "batchSize": batch_size as i64,
        };
        let reply = match local.run_command(find).session(&mut session).await {
            Err(e) if reply_too_large(&e) && !one_by_one => {
                one_by_one = true;
                continue;
            }
            other => other,
        };
        let reply = reply.map_err(|e| {
            classify(
                e,
                "opening a tailable cursor on local.oplog.rs",
                cfg,
                &r.pos,
            )
        })?;
        let mut id = cursor_id(&reply);
        let mut entries = first_batch(&reply).cloned().unwrap_or_default();
        // The catch-up: everything after the position that a plain read sees.
        let mut caught_up: Option<Timestamp> = None;
        let mut cursor = oplog
            .find(filter)
            .sort(doc! {"$natural": 1})
            .batch_size(batch_size.min(u32::MAX as usize) as u32)
            .await
            .map_err(|e| classify(e, "reading local.oplog.rs", cfg, &r.pos))?;
        let mut chunk = Vec::new();
        let mut too_large = false;
        loop {
            let more = match cursor.advance().await {
                Err(e) if reply_too_large(&e) && !one_by_one => {
                    too_large = true;
                    break;
                }
                other => other.map_err(|e| classify(e, "reading local.oplog.rs", cfg, &r.pos))?,
            };
            if more {
                let d = cursor
                    .deserialize_current()
                    .map_err(|e| classify(e, "reading local.oplog.rs", cfg, &r.pos))?;
                caught_up = entry_ts(&d).or(caught_up);
                chunk.push(Bson::Document(d));
            }
            if chunk.len() >= cfg.common.max_batch_size || (!more && !chunk.is_empty()) {
                r.process(std::mem::take(&mut chunk), None).await?;
            }
            if !more {
                break;
            }
        }
        drop(cursor);
        if too_large {
            // Entries processed so far moved `r.pos`: re-open from there.
            tracing::info!(server = %cfg.topic_prefix, "an oplog reply is over the maximum message size; reading one entry per batch until the oplog is idle");
            kill_cursor(&local, &mut session, id).await;
            one_by_one = true;
            continue;
        }
        loop {
            let had_data = !entries.is_empty();
            r.process(std::mem::take(&mut entries), caught_up).await?;
            if tx.is_closed() {
                kill_cursor(&local, &mut session, id).await;
                return Ok(());
            }
            if let Some(every) = heartbeat {
                let here = r.pos.offset();
                if !had_data && last_heartbeat.elapsed() >= every && here != r.last_sent {
                    last_heartbeat = Instant::now();
                    r.last_sent = here.clone();
                    let mut b = vec![r.builder.heartbeat(&Arc::new(here.to_json()))];
                    flush(&mut b, tx).await?;
                }
            }
            if id == 0 {
                break;
            }
            if one_by_one && !had_data {
                one_by_one = false;
            }
            let more = doc! {
                "getMore": id,
                "collection": OPLOG,
                "batchSize": if one_by_one { 1 } else { cfg.common.max_batch_size as i64 },
                "maxTimeMS": await_ms,
            };
            let reply = match local.run_command(more).session(&mut session).await {
                Ok(reply) => reply,
                Err(e) if reply_too_large(&e) && !one_by_one => {
                    tracing::info!(server = %cfg.topic_prefix, "an oplog reply is over the maximum message size; reading one entry per batch until the oplog is idle");
                    one_by_one = true;
                    kill_cursor(&local, &mut session, id).await;
                    break;
                }
                Err(e) if reopenable(&e) => {
                    tracing::info!(server = %cfg.topic_prefix, "the oplog cursor is gone ({e}); re-opening");
                    break;
                }
                Err(e) => return Err(classify(e, "reading local.oplog.rs (getMore)", cfg, &r.pos)),
            };
            id = cursor_id(&reply);
            entries = first_batch(&reply).cloned().unwrap_or_default();
        }
        tracing::debug!(server = %cfg.topic_prefix, "re-opening the oplog cursor from ts {}:{}", r.pos.ts.time, r.pos.ts.increment);
    }
}

/// Fills `after` of diff updates with the current documents, one `find`
/// per collection.
async fn look_up(client: &Client, pending: &mut [Pending]) -> Result<(), StreamError> {
    let mut wanted: HashMap<(String, String), Vec<Bson>> = HashMap::new();
    for p in pending.iter().filter(|p| p.lookup) {
        wanted
            .entry((p.event.db.clone(), p.event.coll.clone()))
            .or_default()
            .push(p.event.id.clone());
    }
    for ((db, coll), ids) in wanted {
        let mut found: HashMap<String, Document> = HashMap::new();
        for chunk in ids.chunks(1000) {
            let mut cursor = client
                .database(&db)
                .collection::<Document>(&coll)
                .find(doc! {"_id": {"$in": chunk.to_vec()}})
                .await
                .map_err(|e| {
                    StreamError::Task(task_error(
                        &e,
                        &format!("looking up updated documents of {db}.{coll}"),
                    ))
                })?;
            while cursor.advance().await.map_err(|e| {
                StreamError::Task(task_error(
                    &e,
                    &format!("looking up updated documents of {db}.{coll}"),
                ))
            })? {
                if let Ok(d) = cursor.deserialize_current() {
                    let key = json::value(d.get("_id").unwrap_or(&Bson::Null), Mode::Relaxed);
                    found.insert(key, d);
                }
            }
        }
        for p in pending
            .iter_mut()
            .filter(|p| p.lookup && p.event.db == db && p.event.coll == coll)
        {
            p.event.after = found.get(&json::value(&p.event.id, Mode::Relaxed)).cloned();
        }
    }
    Ok(())
}

async fn kill_cursor(local: &mongodb::Database, session: &mut ClientSession, id: i64) {
    if id != 0 {
        let _ = local
            .run_command(doc! {"killCursors": OPLOG, "cursors": [id]})
            .session(session)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(i: u32) -> Timestamp {
        Timestamp {
            time: 100,
            increment: i,
        }
    }

    #[test]
    fn resume_skips_exactly_the_delivered_units_of_a_ts() {
        // Delivered: the first 2 of the 3 changes at ts 100:5.
        let from = MongoOffset {
            sec: 100,
            ord: 5,
            tord: Some(2),
            ..Default::default()
        };
        let mut p = Position::new(&from);
        assert!(!p.step(t(5)) && !p.step(t(5)));
        assert!(p.step(t(5)), "the third change at 100:5 is new");
        assert_eq!(p.offset().tord, Some(3));
        assert!(p.step(t(6)));
        assert_eq!((p.offset().ord, p.offset().tord), (6, Some(1)));
        // Without tord the ts was read with $gt: everything is new.
        let mut q = Position::new(&MongoOffset {
            sec: 100,
            ord: 5,
            ..Default::default()
        });
        assert!(q.step(t(6)) && q.step(t(6)));
        assert_eq!(q.offset().tord, Some(2));
    }

    #[test]
    fn namespace_filters_follow_the_scope() {
        let mut p: sluice_api::Props = [
            ("mongodb.connection.string", "mongodb://h:1"),
            ("topic.prefix", "m"),
            ("capture.mode", "oplog"),
            ("capture.scope", "collection"),
            ("capture.target", "shop.orders"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c = MongoConfig::parse(&p).unwrap();
        assert_eq!(
            namespace_filter(&c).unwrap(),
            doc! {"$or": [{"ns": "shop.orders"}, {"ns": "admin.$cmd"}, {"op": "n"}]}
        );
        p.insert("capture.scope".into(), "database".into());
        p.insert("capture.target".into(), "a.b".into());
        assert!(MongoConfig::parse(&p).is_err());
        p.insert("capture.target".into(), "shop+1".into());
        let c = MongoConfig::parse(&p).unwrap();
        assert_eq!(
            namespace_filter(&c).unwrap().get_array("$or").unwrap()[0],
            Bson::Document(doc! {"ns": {"$regex": "^shop\\+1\\."}})
        );
    }
}
