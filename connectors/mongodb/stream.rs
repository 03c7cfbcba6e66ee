//! The change stream reader.
//!
//! Why it loses nothing: the stream opens at a recorded position (a resume
//! token, `resumeAfter`; or a cluster time, `startAtOperationTime`) and
//! the server returns every change after it in oplog order. Each record
//! carries the resume token of its own event, and the worker commits an
//! offset only once every record before it is acked; a restart resumes
//! after the last committed event, so events after it are delivered again
//! at worst, never skipped. Events of one transaction share a cluster time
//! but each has its own token, so a restart inside a transaction is exact.
//!
//! Filtering (scope, include/exclude lists) happens here, per event, so the
//! resume position still moves past events of collections not captured;
//! with heartbeat.interval.ms set, idle periods emit heartbeats carrying the
//! server's post-batch resume token, so a connector watching quiet
//! collections does not fall behind the oplog window.
//!
//! Events over 16 MB (cursor.oversize.handling.mode): mongod refuses to
//! return a change event larger than the 16 MB BSON limit (BSONObjectTooLarge,
//! 10334), which a full pre- and post-image of a large document easily
//! reaches. `fail` stops the task naming the remedies; `skip` adds a
//! `$match` on `$bsonSize` of the images; `split` appends
//! `$changeStreamSplitLargeEvent` and joins the fragments (same event, one
//! `splitEvent: {fragment, of}` each, fields spread over them) into one
//! event before anything is sent: the offset of a joined event is its last
//! fragment's token, so a restart never begins inside an event. A reply
//! larger than the driver's maximum message size (48 MB; SecantusDB 0.7
//! packs events into one reply without mongod's 16 MB batch cap) is read
//! again one event per batch, and only a single event over that size fails
//! the task.
//!
//! A position the server no longer has (ChangeStreamHistoryLost 286, an
//! invalid or unparsable token 260/9, a fatal change stream error 280) is
//! [`StreamError::PositionLost`]: the task takes a new snapshot when
//! snapshot.mode=when_needed, and otherwise fails naming the remedy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document, Timestamp};
use mongodb::action::Action as _;
use mongodb::change_stream::event::ResumeToken;
use mongodb::change_stream::ChangeStream;
use mongodb::options::{FullDocumentBeforeChangeType, FullDocumentType};
use mongodb::Client;
use sluice_api::data::SourceRecord;
use sluice_api::TaskError;

use super::config::{CaptureScope, MongoConfig, Oversize};
use super::events::{ChangeEvent, EventBuilder, UpdateDesc};
use super::incremental::MongoSnapshots;
use super::offset::MongoOffset;
use crate::debezium::events::Op;
use crate::debezium::feed::FeedTx;

/// Where a change stream opens.
#[derive(Debug, Clone, PartialEq)]
pub enum StartAt {
    /// `resumeAfter` this token.
    Token(Document),
    /// `startAtOperationTime` (inclusive).
    Time(Timestamp),
    /// `startAfter` this token (an invalidate's: a new stream on the same
    /// namespace).
    After(Document),
    /// The current end of the oplog.
    Now,
}

impl StartAt {
    pub fn of(offset: &MongoOffset) -> StartAt {
        match &offset.resume_token {
            Some(t) => StartAt::Token(t.clone()),
            None if offset.sec > 0 => StartAt::Time(offset.timestamp()),
            None => StartAt::Now,
        }
    }
}

/// Why the stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The saved position is gone from the server's oplog (or unusable).
    #[error("{0}")]
    PositionLost(String),
    #[error("{0}")]
    Task(TaskError),
    /// A reply over the driver's maximum message size (read again one
    /// event per batch).
    #[error("{0}")]
    ReplyTooLarge(String),
}

/// The server's error code, if the error came from a command.
pub fn server_code(e: &mongodb::error::Error) -> Option<i32> {
    match e.kind.as_ref() {
        mongodb::error::ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

/// Connection-level trouble is retriable; a server refusing the command
/// (auth, bad option) is not.
pub fn task_error(e: &mongodb::error::Error, what: &str) -> TaskError {
    use mongodb::error::ErrorKind;
    match e.kind.as_ref() {
        ErrorKind::Command(c) => TaskError::Fatal(format!(
            "{what}: the server refused it: {} (code {} {}); fix the permissions or settings it names and restart the connector",
            c.message, c.code, c.code_name
        )),
        ErrorKind::Authentication { message, .. } => TaskError::Fatal(format!(
            "{what}: authentication failed: {message}; check mongodb.user / mongodb.password / mongodb.authsource"
        )),
        ErrorKind::InvalidArgument { message, .. } => TaskError::Fatal(format!("{what}: {message}")),
        // The same read would get the same reply: retrying cannot help.
        ErrorKind::InvalidResponse { message, .. } if message.contains("over maximum") => TaskError::Fatal(format!(
            "{what}: a reply from MongoDB is over the driver's maximum message size ({message}): large documents fill it; lower max.batch.size (and snapshot.fetch.size) so that fewer fit in one reply, and restart the connector"
        )),
        _ => TaskError::Retriable(format!("{what}: {e}; retrying")),
    }
}

/// Whether the driver refused a reply for being over its maximum message
/// size (`maxMessageSizeBytes`, 48 MB).
pub fn reply_too_large(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), mongodb::error::ErrorKind::InvalidResponse { message, .. } if message.contains("over maximum"))
}

/// The task error for a change event too large to read.
pub fn oversize_error(cfg: &MongoConfig, detail: &str) -> StreamError {
    let remedy = match cfg.oversize {
        Oversize::Split => "it is too large even split; filter it out with cursor.oversize.handling.mode=skip and cursor.oversize.skip.threshold, or choose a capture.mode without pre-images (change_streams or change_streams_update_full)",
        _ => "set cursor.oversize.handling.mode=split (MongoDB 6.0.9+ splits such events and Sluice joins them again), or cursor.oversize.handling.mode=skip with cursor.oversize.skip.threshold to leave them out, or choose a capture.mode without pre-images (change_streams or change_streams_update_full)",
    };
    StreamError::Task(TaskError::Fatal(format!(
        "a change event of {} is too large to read ({detail}). Remedy: {remedy}; then restart the connector",
        cfg.topic_prefix
    )))
}

pub fn classify(e: mongodb::error::Error, what: &str, cfg: &MongoConfig) -> StreamError {
    match server_code(&e) {
        Some(10334) => oversize_error(cfg, &format!("{what}: BSONObjectTooLarge, code 10334: {e}")),
        Some(code @ (286 | 280 | 260 | 9 | 136)) => StreamError::PositionLost(format!(
            "{what}: the saved change stream position is no longer available on the server (code {code}: {e}); the changes since then are gone from the oplog of {}. Remedy: set snapshot.mode=when_needed and restart the connector to take a new snapshot, or reset its offsets (DELETE /connectors/<name>/offsets) and restart",
            cfg.topic_prefix
        )),
        _ => StreamError::Task(task_error(&e, what)),
    }
}

fn to_token(doc: &Document) -> Result<ResumeToken, TaskError> {
    bson::deserialize_from_bson(Bson::Document(doc.clone()))
        .map_err(|e| TaskError::Fatal(format!("the stored resume token {doc} cannot be used ({e}); reset the connector's offsets and restart")))
}

pub fn from_token(t: &ResumeToken) -> Option<Document> {
    match bson::serialize_to_bson(t) {
        Ok(Bson::Document(d)) => Some(d),
        _ => None,
    }
}

/// The cluster time a resume token names, as Debezium reads it for a
/// heartbeat's offset: mongod's `_data` is a hex KeyString whose first byte
/// 0x82 (a Timestamp) is followed by the time and increment, big-endian;
/// SecantusDB's is the hex of a BSON document holding a Timestamp.
pub fn token_time(token: &Document) -> Option<Timestamp> {
    let hex = token.get_str("_data").ok()?;
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    if bytes.first() == Some(&0x82) && bytes.len() >= 9 {
        let t = u64::from_be_bytes(bytes[1..9].try_into().ok()?);
        return Some(Timestamp {
            time: (t >> 32) as u32,
            increment: t as u32,
        });
    }
    let d = Document::from_reader(bytes.as_slice()).ok()?;
    d.values().find_map(|v| match v {
        Bson::Timestamp(t) => Some(*t),
        _ => None,
    })
}

/// The stages after `$changeStream` that cursor.oversize.handling.mode asks for.
fn pipeline(cfg: &MongoConfig) -> Vec<Document> {
    match cfg.oversize {
        Oversize::Fail => Vec::new(),
        // $bsonSize of a missing image is null, which sorts below numbers.
        Oversize::Skip(max) => vec![doc! {"$match": {"$and": [
            {"$expr": {"$lte": [{"$bsonSize": "$fullDocument"}, max]}},
            {"$expr": {"$lte": [{"$bsonSize": "$fullDocumentBeforeChange"}, max]}},
        ]}}],
        Oversize::Split => vec![doc! {"$changeStreamSplitLargeEvent": {}}],
    }
}

/// Opens the change stream of the configured scope at `from`, `batch`
/// events per batch at most (`None`: max.batch.size).
pub async fn open(
    client: &Client,
    cfg: &MongoConfig,
    from: &StartAt,
    batch: Option<u32>,
) -> Result<ChangeStream<Document>, StreamError> {
    let token = match from {
        StartAt::Token(t) => Some(to_token(t).map_err(StreamError::Task)?),
        _ => None,
    };
    let after = match from {
        StartAt::After(t) => Some(to_token(t).map_err(StreamError::Task)?),
        _ => None,
    };
    let time = match from {
        StartAt::Time(t) => Some(*t),
        _ => None,
    };
    let full = cfg
        .capture_mode
        .update_full()
        .then_some(FullDocumentType::UpdateLookup);
    let before = cfg
        .capture_mode
        .pre_image()
        .then_some(FullDocumentBeforeChangeType::WhenAvailable);
    let await_time = Duration::from_millis(cfg.cursor_max_await_ms.min(250));
    let batch = batch.unwrap_or(cfg.common.max_batch_size.min(u32::MAX as usize) as u32);
    macro_rules! watch {
        ($target:expr) => {
            $target
                .watch()
                .pipeline(pipeline(cfg))
                .resume_after(token)
                .optional(after, |w, t| w.start_after(t))
                .optional(time, |w, t| w.start_at_operation_time(t))
                .optional(full, |w, f| w.full_document(f))
                .optional(before, |w, b| w.full_document_before_change(b))
                .max_await_time(await_time)
                .batch_size(batch)
                .await
        };
    }
    let r = match &cfg.scope {
        CaptureScope::Deployment => watch!(client),
        CaptureScope::Database(d) => watch!(client.database(d)),
        CaptureScope::Collection { db, coll } => {
            watch!(client.database(db).collection::<Document>(coll))
        }
    };
    r.map(|s| s.with_type::<Document>()).map_err(|e| {
        if reply_too_large(&e) {
            StreamError::ReplyTooLarge(format!("opening the change stream: {e}"))
        } else {
            classify(e, "opening the change stream", cfg)
        }
    })
}

/// Opens the stream for reading: max.batch.size events per batch, or one
/// when `one_by_one` (set here when a whole batch is over the driver's
/// maximum message size); one event over it fails the task.
async fn open_reading(
    client: &Client,
    cfg: &MongoConfig,
    from: &StartAt,
    one_by_one: &mut bool,
) -> Result<ChangeStream<Document>, StreamError> {
    if !*one_by_one {
        match open(client, cfg, from, None).await {
            Err(StreamError::ReplyTooLarge(m)) => {
                tracing::info!(server = %cfg.topic_prefix, "{m}; reading one event per batch until the stream is idle");
                *one_by_one = true;
            }
            r => return r,
        }
    }
    open(client, cfg, from, Some(1)).await.map_err(|e| match e {
        StreamError::ReplyTooLarge(m) => oversize_error(
            cfg,
            &format!("one event alone is over the driver's maximum message size: {m}"),
        ),
        e => e,
    })
}

fn ts(d: &Document, k: &str) -> Timestamp {
    match d.get(k) {
        Some(Bson::Timestamp(t)) => *t,
        _ => Timestamp {
            time: 0,
            increment: 0,
        },
    }
}

fn opt_doc(d: &Document, k: &str) -> Option<Document> {
    match d.get(k) {
        Some(Bson::Document(x)) => Some(x.clone()),
        _ => None,
    }
}

/// A change stream document as a [`ChangeEvent`]; `None` for operations
/// that are not document changes (drop, rename, invalidate, ...).
pub fn decode(d: &Document) -> Option<ChangeEvent> {
    let op = match d.get_str("operationType").ok()? {
        "insert" => Op::Create,
        "update" | "replace" => Op::Update,
        "delete" => Op::Delete,
        _ => return None,
    };
    let ns = d.get_document("ns").ok()?;
    let update = d
        .get_document("updateDescription")
        .ok()
        .map(|u| UpdateDesc {
            updated: u.get_document("updatedFields").cloned().unwrap_or_default(),
            removed: u
                .get_array("removedFields")
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            truncated: u
                .get_array("truncatedArrays")
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_document())
                        .map(|t| {
                            let size = t
                                .get_i32("newSize")
                                .ok()
                                .or_else(|| t.get_i64("newSize").ok().map(|n| n as i32));
                            (
                                t.get_str("field").unwrap_or("").to_string(),
                                size.unwrap_or(0),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
    Some(ChangeEvent {
        op,
        db: ns.get_str("db").ok()?.to_string(),
        coll: ns.get_str("coll").ok()?.to_string(),
        id: d
            .get_document("documentKey")
            .ok()
            .and_then(|k| k.get("_id").cloned())
            .unwrap_or(Bson::Null),
        after: opt_doc(d, "fullDocument"),
        before: opt_doc(d, "fullDocumentBeforeChange"),
        update: if d.get_str("operationType").ok() == Some("update") {
            update
        } else {
            None
        },
        cluster_time: ts(d, "clusterTime"),
        wall_ms: match d.get("wallTime") {
            Some(Bson::DateTime(t)) => Some(t.timestamp_millis()),
            _ => None,
        },
        lsid: opt_doc(d, "lsid"),
        txn_number: d
            .get_i64("txnNumber")
            .ok()
            .or_else(|| d.get_i32("txnNumber").ok().map(i64::from)),
    })
}

/// Streams changes from `from` into `tx` until the task stops or an error.
pub async fn stream(
    client: &Client,
    cfg: &Arc<MongoConfig>,
    builder: &mut EventBuilder,
    from: MongoOffset,
    ctx: &sluice_api::SourceTaskContext,
    tx: &FeedTx,
) -> Result<(), StreamError> {
    let mut last = MongoOffset {
        initsync: false,
        ..from
    };
    // One event per batch after a reply over the driver's maximum size,
    // until the stream is idle again.
    let mut one_by_one = false;
    let mut cs = open_reading(client, cfg, &StartAt::of(&last), &mut one_by_one).await?;
    let mut fragments = Fragments::default();
    tracing::info!(server = %cfg.topic_prefix, "streaming changes from sec={} ord={}", last.sec, last.ord);
    let heartbeat = (cfg.common.heartbeat_interval_ms > 0)
        .then(|| Duration::from_millis(cfg.common.heartbeat_interval_ms));
    let mut last_heartbeat = Instant::now();
    // The token of the last record sent: a heartbeat is due when the
    // stream has moved past it, through filtered-out events or idle time.
    let mut sent_token = last.resume_token.clone();
    let mut batch: Vec<SourceRecord> = Vec::new();
    let mut batch_start = Instant::now();
    let mut snaps = MongoSnapshots::new(cfg.clone(), last.incremental.as_deref());
    snaps.progress = Some(ctx.clone());
    // A resumed incremental snapshot reads its next chunk now.
    snaps.read_chunk(client, builder, &last, &mut batch).await?;
    loop {
        // Signals of the Kafka and file channels.
        while let Some(sig) = snaps.next_channel_signal() {
            snaps
                .handle(client, builder, sig, &last, &mut batch)
                .await?;
            last.incremental = snaps.fields().map(Box::new);
            if let Some(req) = snaps.take_blocking() {
                flush(&mut batch, tx).await?;
                snaps.blocking(client, builder, req, &last, tx).await?;
            }
        }
        let next = cs.next_if_any().await;
        match next {
            Ok(Some(doc)) => {
                let doc = match fragments.join(doc) {
                    Ok(Some(d)) => d,
                    Ok(None) => continue,
                    Err(msg) => {
                        return Err(StreamError::Task(TaskError::Fatal(format!(
                            "the change stream of {} returned {msg}; restart the connector (it resumes after the last whole event)",
                            cfg.topic_prefix
                        ))))
                    }
                };
                let token = opt_doc(&doc, "_id");
                if doc.get_str("operationType").ok() == Some("invalidate") {
                    // The watched collection or database went away: start
                    // after the invalidate so a re-created one is captured.
                    flush(&mut batch, tx).await?;
                    let from = token.map_or(StartAt::Now, StartAt::After);
                    cs = open_reading(client, cfg, &from, &mut one_by_one).await?;
                    continue;
                }
                let Some(ev) = decode(&doc) else { continue };
                last = MongoOffset {
                    sec: ev.cluster_time.time,
                    ord: ev.cluster_time.increment,
                    resume_token: token,
                    lsid: ev
                        .lsid
                        .as_ref()
                        .map(|l| super::json::document(l, super::json::Mode::Strict)),
                    txn_number: ev.txn_number,
                    tord: None,
                    initsync: false,
                    incremental: snaps.fields().map(Box::new),
                };
                let signal = snaps.is_signal(&ev.db, &ev.coll);
                // insert_delete watermarking: the delete of a window's open
                // document closes the window.
                let closed = (signal && ev.op == Op::Delete && cfg.signal.close_by_delete)
                    .then(|| match &ev.id {
                        mongodb::bson::Bson::String(id) => {
                            crate::debezium::signal::close_of_deleted(id)
                        }
                        _ => None,
                    })
                    .flatten();
                if let Some(sig) = closed {
                    snaps
                        .handle(client, builder, sig, &last, &mut batch)
                        .await?;
                    last.incremental = snaps.fields().map(Box::new);
                }
                if signal && ev.op == Op::Create {
                    // Acted on before the document's own event, as
                    // Debezium does (a window's documents come first).
                    match ev.after.as_ref().and_then(MongoSnapshots::doc_signal) {
                        Some(Ok(sig)) => {
                            snaps.handle(client, builder, sig, &last, &mut batch).await?;
                            last.incremental = snaps.fields().map(Box::new);
                            if let Some(req) = snaps.take_blocking() {
                                flush(&mut batch, tx).await?;
                                snaps.blocking(client, builder, req, &last, tx).await?;
                            }
                        }
                        Some(Err(e)) => tracing::warn!("{e}; the signal is ignored"),
                        None => tracing::warn!(
                            "a document of the signal collection {}.{} has no _id and type; ignored",
                            ev.db,
                            ev.coll
                        ),
                    }
                }
                if !cfg.captures(&ev.db, &ev.coll) {
                    continue;
                }
                if batch.is_empty() {
                    batch_start = Instant::now();
                }
                let offset = Arc::new(last.to_json());
                let before = batch.len();
                builder.change(&ev, &offset, &mut batch);
                if snaps.inc.in_window() {
                    let ns = format!("{}.{}", ev.db, ev.coll);
                    if snaps.inc.watches(&ns) {
                        for r in &batch[before..] {
                            if !r.data.value.is_null() {
                                snaps.inc.dedup(&ns, &r.data.key);
                            }
                        }
                    }
                }
                if batch.len() > before {
                    sent_token = last.resume_token.clone();
                }
                if batch.len() >= cfg.common.max_batch_size
                    || batch_start.elapsed() > Duration::from_millis(100)
                {
                    flush(&mut batch, tx).await?;
                }
            }
            Ok(None) => {
                flush(&mut batch, tx).await?;
                if tx.is_closed() {
                    return Ok(());
                }
                if one_by_one && !fragments.pending() {
                    one_by_one = false;
                    cs = open_reading(client, cfg, &StartAt::of(&last), &mut one_by_one).await?;
                    continue;
                }
                if let Some(every) = heartbeat {
                    if last_heartbeat.elapsed() >= every {
                        last_heartbeat = Instant::now();
                        let pbrt = cs.resume_token().as_ref().and_then(from_token);
                        if pbrt.is_some() && pbrt != sent_token {
                            // The offset's time moves with the token (a
                            // restart in oplog mode reads from there).
                            if let Some(t) = pbrt.as_ref().and_then(token_time) {
                                if (t.time, t.increment) > (last.sec, last.ord) {
                                    last.sec = t.time;
                                    last.ord = t.increment;
                                }
                            }
                            last.resume_token = pbrt.clone();
                            sent_token = pbrt;
                            let offset = Arc::new(last.to_json());
                            batch.push(builder.heartbeat(&offset));
                            flush(&mut batch, tx).await?;
                        }
                    }
                }
            }
            Err(e) if reply_too_large(&e) && !one_by_one => {
                // Read the same events again, one per reply.
                tracing::info!(server = %cfg.topic_prefix, "a change stream reply is over the maximum message size ({e}); reading one event per batch until the stream is idle");
                flush(&mut batch, tx).await?;
                one_by_one = true;
                fragments = Fragments::default();
                cs = open_reading(client, cfg, &StartAt::of(&last), &mut one_by_one).await?;
            }
            Err(e) if reply_too_large(&e) => {
                flush(&mut batch, tx).await?;
                return Err(oversize_error(
                    cfg,
                    &format!("one event alone is over the maximum message size: {e}"),
                ));
            }
            Err(e) => {
                flush(&mut batch, tx).await?;
                return Err(classify(e, "reading the change stream", cfg));
            }
        }
    }
}

/// Joins the fragments of a split event (`splitEvent: {fragment, of}`).
#[derive(Default)]
pub struct Fragments {
    joined: Option<Document>,
    next: i64,
}

fn split_event(d: &Document) -> Option<(i64, i64)> {
    let s = d.get_document("splitEvent").ok()?;
    let n = |k: &str| match s.get(k) {
        Some(Bson::Int32(v)) => Some(i64::from(*v)),
        Some(Bson::Int64(v)) => Some(*v),
        _ => None,
    };
    Some((n("fragment")?, n("of")?))
}

impl Fragments {
    /// Whether fragments of an event are waiting for the rest.
    pub fn pending(&self) -> bool {
        self.joined.is_some()
    }

    /// The whole event once its last fragment is in (an event that was not
    /// split passes through); `None` while fragments are missing.
    pub fn join(&mut self, mut d: Document) -> Result<Option<Document>, String> {
        let Some((fragment, of)) = split_event(&d) else {
            if self.joined.is_some() {
                return Err("an event while a split event was still missing fragments".into());
            }
            return Ok(Some(d));
        };
        d.remove("splitEvent");
        if fragment == 1 {
            if self.joined.is_some() {
                return Err(
                    "a new split event before the last fragment of the previous one".into(),
                );
            }
            self.joined = Some(d);
            self.next = 2;
        } else {
            let Some(joined) = self.joined.as_mut() else {
                return Err(format!(
                    "fragment {fragment} of {of} of a split event without its first fragment"
                ));
            };
            if fragment != self.next {
                return Err(format!(
                    "fragment {fragment} of {of} of a split event where fragment {} was due",
                    self.next
                ));
            }
            // Each fragment repeats the event's identity; its own fields
            // (fullDocument, updateDescription, ...) are added. The last
            // fragment's token (`_id`) is the event's resume point.
            for (k, v) in d {
                joined.insert(k, v);
            }
            self.next += 1;
        }
        if fragment >= of {
            self.next = 0;
            return Ok(self.joined.take());
        }
        Ok(None)
    }
}

/// Sends a non-empty batch; a stopped task is a retriable end.
pub async fn flush(batch: &mut Vec<SourceRecord>, tx: &FeedTx) -> Result<(), StreamError> {
    if batch.is_empty() {
        return Ok(());
    }
    let b = std::mem::take(batch);
    tx.send(Ok(b))
        .await
        .map_err(|_| StreamError::Task(TaskError::Retriable("the task stopped".into())))
}

/// The current end of the change stream: its post-batch resume token (and
/// the cluster time just before it, for `source.ts_ms`), read before a
/// snapshot so that streaming from it misses nothing the snapshot missed.
pub async fn current_position(
    client: &Client,
    cfg: &MongoConfig,
) -> Result<MongoOffset, StreamError> {
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .map_err(|e| StreamError::Task(task_error(&e, "reading the cluster time")))?;
    let time = match hello.get("operationTime") {
        Some(Bson::Timestamp(t)) => *t,
        _ => match hello
            .get_document("$clusterTime")
            .ok()
            .and_then(|c| c.get("clusterTime"))
        {
            Some(Bson::Timestamp(t)) => *t,
            _ => Timestamp {
                time: (crate::debezium::time::now_ms() / 1000) as u32,
                increment: 0,
            },
        },
    };
    let mut cs = open(client, cfg, &StartAt::Time(time), None).await?;
    // An empty first batch gives the post-batch resume token.
    let token = cs.resume_token().as_ref().and_then(from_token);
    let token = match token {
        Some(t) => Some(t),
        None => match cs.next_if_any().await {
            Ok(Some(_)) | Ok(None) => None,
            Err(e) => return Err(classify(e, "opening the change stream", cfg)),
        },
    };
    Ok(MongoOffset {
        sec: time.time,
        ord: time.increment,
        resume_token: token,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_tokens_time_is_read_from_mongods_and_secantusdbs_forms() {
        // mongod: 0x82, then time and increment (big-endian), then more.
        let mongod = doc! {"_data": "8265F1A2B3000000042B022C0100296E5A1004"};
        assert_eq!(
            token_time(&mongod),
            Some(Timestamp {
                time: 0x65F1A2B3,
                increment: 4
            })
        );
        // SecantusDB: the hex of {s: 2, t: Timestamp(0x6b17339a, 7), n: ...}.
        let secantus = doc! {"_data": "3b00000010730002000000117400070000009a33176b026e001500000061646d696e2e24636d642e61676772656761746500036b00050000000000"};
        assert_eq!(
            token_time(&secantus),
            Some(Timestamp {
                time: 0x6b17339a,
                increment: 7
            })
        );
        assert_eq!(token_time(&doc! {"_data": "zz"}), None);
        assert_eq!(token_time(&doc! {}), None);
    }

    #[test]
    fn decodes_change_stream_documents() {
        let d = doc! {
            "_id": {"_data": "ab"},
            "operationType": "update",
            "clusterTime": Timestamp { time: 10, increment: 2 },
            "wallTime": bson::DateTime::from_millis(10_123),
            "ns": {"db": "inv", "coll": "users"},
            "documentKey": {"_id": 5},
            "updateDescription": {"updatedFields": {"a": 1}, "removedFields": ["b"], "truncatedArrays": [{"field": "c", "newSize": 1}]},
            "lsid": {"id": 1},
            "txnNumber": 3_i64,
        };
        let ev = decode(&d).unwrap();
        assert_eq!(
            (ev.op, ev.db.as_str(), ev.coll.as_str()),
            (Op::Update, "inv", "users")
        );
        assert_eq!(ev.id, Bson::Int32(5));
        let u = ev.update.unwrap();
        assert_eq!(
            (u.removed, u.truncated),
            (vec!["b".to_string()], vec![("c".to_string(), 1)])
        );
        assert_eq!(
            (ev.cluster_time.time, ev.wall_ms, ev.txn_number),
            (10, Some(10_123), Some(3))
        );
        assert!(decode(&doc! {"operationType": "drop", "ns": {"db": "a", "coll": "b"}}).is_none());
        assert!(
            decode(&doc! {"operationType": "insert"}).is_none(),
            "no ns: not an event"
        );
    }

    #[test]
    fn split_events_are_joined_and_out_of_order_fragments_refused() {
        let mut f = Fragments::default();
        let whole = doc! {"_id": {"_data": "a"}, "operationType": "insert"};
        assert_eq!(f.join(whole.clone()).unwrap(), Some(whole));
        let frag = |n: i32, of: i32, field: &str| {
            let mut d = doc! {"_id": {"_data": format!("t{n}")}, "operationType": "update", "splitEvent": {"fragment": n, "of": of}};
            d.insert(field, doc! {"x": n});
            d
        };
        assert_eq!(f.join(frag(1, 3, "fullDocument")).unwrap(), None);
        assert!(f.pending());
        assert_eq!(f.join(frag(2, 3, "updateDescription")).unwrap(), None);
        let joined = f
            .join(frag(3, 3, "fullDocumentBeforeChange"))
            .unwrap()
            .unwrap();
        assert!(!f.pending());
        assert_eq!(joined.get_document("_id").unwrap(), &doc! {"_data": "t3"});
        for k in [
            "fullDocument",
            "updateDescription",
            "fullDocumentBeforeChange",
        ] {
            assert!(joined.contains_key(k), "{k}");
        }
        assert!(!joined.contains_key("splitEvent"));
        // SecantusDB marks whole events as fragment 1 of 1.
        assert!(f.join(frag(1, 1, "fullDocument")).unwrap().is_some());
        assert!(f
            .join(frag(2, 3, "x"))
            .unwrap_err()
            .contains("without its first"));
        let mut f = Fragments::default();
        f.join(frag(1, 3, "a")).unwrap();
        assert!(f
            .join(frag(3, 3, "b"))
            .unwrap_err()
            .contains("fragment 2 was due"));
    }

    #[test]
    fn tokens_round_trip_through_documents() {
        let d = doc! {"_data": "826F00"};
        let t = to_token(&d).unwrap();
        assert_eq!(from_token(&t), Some(d));
    }
}
