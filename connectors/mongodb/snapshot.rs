//! The initial snapshot: every captured document as a read event (`op: r`).
//!
//! Why snapshot + stream miss nothing: before reading any collection, the
//! plan ([`super::capture`]) records the change stream's current position
//! ([`super::stream::current_position`]: the post-batch resume token of a
//! stream opened at the present cluster time; in capture.mode=oplog the
//! `ts` of the newest oplog entry, [`super::oplog::current_position`]),
//! and hands it to [`snapshot`]. Every document change after that point is
//! in the change stream, and streaming starts from exactly that point once
//! the snapshot is done. A document written while the snapshot runs is
//! therefore either read by the snapshot, or streamed, or both; never
//! neither. Collections are scanned in natural order (WiredTiger record
//! ids do not move when a document grows), so a document present for the
//! whole snapshot is read exactly once.
//!
//! Duplicates are possible, as in Debezium: a document changed during the
//! snapshot may appear as a read event in its new state and again as the
//! change event that made it so (and a deleted one as a read followed by a
//! delete). Consumers that apply events in order by key converge on the
//! collection's state, which is Debezium's guarantee.
//!
//! Every snapshot record carries the recorded position with `initsync:
//! true`, except the very last one (source.snapshot "last"), which carries
//! it without: a task that dies mid-snapshot snapshots again on restart,
//! one that got past the last record streams from the recorded position.

use std::sync::Arc;

use bson::{doc, Document};
use mongodb::action::Action as _;
use mongodb::Client;
use sluice_api::data::SourceRecord;
use sluice_api::SourceTaskContext;

use super::config::{CaptureScope, MongoConfig};
use super::events::EventBuilder;
use super::offset::MongoOffset;
use super::stream::{flush, task_error, StreamError};
use crate::debezium::config::included;
use crate::debezium::feed::FeedTx;
use crate::debezium::progress::SnapshotProgress;

/// The captured collections, in a stable order.
pub async fn captured_collections(
    client: &Client,
    cfg: &MongoConfig,
) -> Result<Vec<(String, String)>, StreamError> {
    let dbs = match &cfg.scope {
        CaptureScope::Deployment => client
            .list_database_names()
            .await
            .map_err(|e| StreamError::Task(task_error(&e, "listing databases")))?,
        CaptureScope::Database(d) => vec![d.clone()],
        CaptureScope::Collection { db, .. } => vec![db.clone()],
    };
    let mut out = Vec::new();
    for db in dbs.iter().filter(|d| cfg.filters.captures_db(d)) {
        let names = client
            .database(db)
            .list_collection_names()
            .filter(doc! {"type": "collection"})
            .await
            .map_err(|e| {
                StreamError::Task(task_error(&e, &format!("listing the collections of {db}")))
            })?;
        for coll in names {
            if cfg.captures(db, &coll) {
                out.push((db.clone(), coll));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs the snapshot, `pos` being the position recorded before it;
/// returns `pos`, the position to stream from.
pub async fn snapshot(
    client: &Client,
    cfg: &Arc<MongoConfig>,
    builder: &mut EventBuilder,
    ctx: &SourceTaskContext,
    pos: MongoOffset,
    tx: &FeedTx,
) -> Result<MongoOffset, StreamError> {
    let collections: Vec<(String, String)> = captured_collections(client, cfg)
        .await?
        .into_iter()
        .filter(|(db, coll)| included(&cfg.snapshot_include, &format!("{db}.{coll}")))
        .collect();
    tracing::info!(
        "snapshot of {} collections from sec={} ord={}",
        collections.len(),
        pos.sec,
        pos.ord
    );
    let pending = Arc::new(
        MongoOffset {
            initsync: true,
            ..pos.clone()
        }
        .to_json(),
    );
    let done = Arc::new(pos.to_json());
    let mut batch: Vec<SourceRecord> = Vec::with_capacity(cfg.common.max_batch_size);
    // The last document read, held back until we know whether it is the
    // very last one.
    let mut held: Option<(String, String, Document)> = None;
    let mut total: u64 = 0;
    for (i, (db, coll)) in collections.iter().enumerate() {
        ctx.set_progress(serde_json::json!({
            "phase": "snapshot",
            "collection": format!("{db}.{coll}"),
            "collections_done": i,
            "collections_total": collections.len(),
            "documents": total,
        }));
        let collection = client.database(db).collection::<Document>(coll);
        // The collection's metadata count: cheap, and good enough for an ETA.
        let estimate = collection.estimated_document_count().await.unwrap_or(0);
        let mut logged = SnapshotProgress::start(format!("{db}.{coll}"), estimate);
        let mut read: u64 = 0;
        let mut cursor = collection
            .find(doc! {})
            .optional(
                (cfg.snapshot_fetch_size > 0).then_some(cfg.snapshot_fetch_size),
                |f, n| f.batch_size(n),
            )
            .await
            .map_err(|e| StreamError::Task(task_error(&e, &format!("reading {db}.{coll}"))))?;
        let read_err = |e: mongodb::error::Error| {
            StreamError::Task(task_error(&e, &format!("reading {db}.{coll}")))
        };
        while cursor.advance().await.map_err(read_err)? {
            let d = cursor.deserialize_current().map_err(read_err)?;
            read += 1;
            if let Some((hdb, hcoll, hdoc)) = held.replace((db.clone(), coll.clone(), d)) {
                batch.push(builder.snapshot(&hdb, &hcoll, &hdoc, "true", &pos, &pending));
                total += 1;
                if batch.len() >= cfg.common.max_batch_size {
                    flush(&mut batch, tx).await?;
                    logged.rows(read);
                }
            }
        }
        logged.done(read);
    }
    if let Some((hdb, hcoll, hdoc)) = held {
        batch.push(builder.snapshot(&hdb, &hcoll, &hdoc, "last", &pos, &done));
        total += 1;
    }
    flush(&mut batch, tx).await?;
    ctx.set_progress(serde_json::json!({
        "phase": "streaming",
        "snapshot": {"collections": collections.len(), "documents": total},
    }));
    tracing::info!("snapshot done: {total} documents");
    Ok(pos)
}
