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
use sluice_runtime::data::SourceRecord;
use sluice_runtime::TaskError;
use tokio::sync::mpsc;

use super::config::{CaptureScope, MongoConfig};
use super::events::{ChangeEvent, EventBuilder, Op, UpdateDesc};
use super::offset::MongoOffset;

/// Batches of records (or the error that ended the reader) for the task.
pub use crate::feed::Batch;

/// Where a change stream opens.
#[derive(Debug, Clone, PartialEq)]
pub enum StartAt {
    /// `resumeAfter` this token.
    Token(Document),
    /// `startAtOperationTime` (inclusive).
    Time(Timestamp),
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
        _ => TaskError::Retriable(format!("{what}: {e}; retrying")),
    }
}

pub fn classify(e: mongodb::error::Error, what: &str, cfg: &MongoConfig) -> StreamError {
    match server_code(&e) {
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

/// Opens the change stream of the configured scope at `from`.
pub async fn open(
    client: &Client,
    cfg: &MongoConfig,
    from: &StartAt,
) -> Result<ChangeStream<Document>, StreamError> {
    let token = match from {
        StartAt::Token(t) => Some(to_token(t).map_err(StreamError::Task)?),
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
    let batch = cfg.max_batch_size.min(u32::MAX as usize) as u32;
    macro_rules! watch {
        ($target:expr) => {
            $target
                .watch()
                .resume_after(token)
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
    r.map(|s| s.with_type::<Document>())
        .map_err(|e| classify(e, "opening the change stream", cfg))
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
    tx: &mpsc::Sender<Batch>,
) -> Result<(), StreamError> {
    let mut last = MongoOffset {
        initsync: false,
        ..from
    };
    let mut cs = open(client, cfg, &StartAt::of(&last)).await?;
    tracing::info!(server = %cfg.topic_prefix, "streaming changes from sec={} ord={}", last.sec, last.ord);
    let heartbeat =
        (cfg.heartbeat_interval_ms > 0).then(|| Duration::from_millis(cfg.heartbeat_interval_ms));
    let mut last_heartbeat = Instant::now();
    let mut batch: Vec<SourceRecord> = Vec::new();
    let mut batch_start = Instant::now();
    loop {
        let next = cs.next_if_any().await;
        match next {
            Ok(Some(doc)) => {
                let token = opt_doc(&doc, "_id");
                if doc.get_str("operationType").ok() == Some("invalidate") {
                    // The watched collection or database went away: start
                    // after the invalidate so a re-created one is captured.
                    flush(&mut batch, tx).await?;
                    let t = token.and_then(|t| {
                        bson::deserialize_from_bson::<ResumeToken>(Bson::Document(t)).ok()
                    });
                    cs = open_after(client, cfg, t).await?;
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
                };
                if !cfg.captures(&ev.db, &ev.coll) {
                    continue;
                }
                if batch.is_empty() {
                    batch_start = Instant::now();
                }
                let offset = Arc::new(last.to_json());
                builder.change(&ev, &offset, &mut batch);
                if batch.len() >= cfg.max_batch_size
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
                if let Some(every) = heartbeat {
                    if last_heartbeat.elapsed() >= every {
                        last_heartbeat = Instant::now();
                        let pbrt = cs.resume_token().as_ref().and_then(from_token);
                        if pbrt.is_some() && pbrt != last.resume_token {
                            last.resume_token = pbrt;
                            let offset = Arc::new(last.to_json());
                            batch.push(builder.heartbeat(&offset));
                            flush(&mut batch, tx).await?;
                        }
                    }
                }
            }
            Err(e) => {
                flush(&mut batch, tx).await?;
                return Err(classify(e, "reading the change stream", cfg));
            }
        }
    }
}

async fn open_after(
    client: &Client,
    cfg: &MongoConfig,
    token: Option<ResumeToken>,
) -> Result<ChangeStream<Document>, StreamError> {
    let r = match &cfg.scope {
        CaptureScope::Deployment => {
            client
                .watch()
                .optional(token, |w, t| w.start_after(t))
                .await
        }
        CaptureScope::Database(d) => {
            client
                .database(d)
                .watch()
                .optional(token, |w, t| w.start_after(t))
                .await
        }
        CaptureScope::Collection { db, coll } => {
            client
                .database(db)
                .collection::<Document>(coll)
                .watch()
                .optional(token, |w, t| w.start_after(t))
                .await
        }
    };
    r.map(|s| s.with_type::<Document>())
        .map_err(|e| classify(e, "re-opening the change stream after invalidate", cfg))
}

async fn flush(batch: &mut Vec<SourceRecord>, tx: &mpsc::Sender<Batch>) -> Result<(), StreamError> {
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
                time: (super::events::now_ms() / 1000) as u32,
                increment: 0,
            },
        },
    };
    let mut cs = open(client, cfg, &StartAt::Time(time)).await?;
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
    fn tokens_round_trip_through_documents() {
        let d = doc! {"_data": "826F00"};
        let t = to_token(&d).unwrap();
        assert_eq!(from_token(&t), Some(d));
    }
}
