//! Signals and incremental snapshots while the change stream runs
//! (Debezium's `MongoDbIncrementalSnapshotChangeEventSource`).
//!
//! The same watermark algorithm as the MySQL source's
//! ([`crate::debezium::incremental`] says why it is right), with MongoDB's
//! pieces: the signal collection (`signal.data.collection`,
//! `<db>.<collection>`) holds signal documents `{_id, type, data}` and the
//! window watermarks, inserted as `{_id: "<chunk id>-open", type:
//! "snapshot-window-open", payload: ""}` and `...-close` /
//! `snapshot-window-close`; a chunk is the next
//! `incremental.snapshot.chunk.size` documents by `_id` after the last one
//! emitted, up to the greatest `_id` when the collection's scan started
//! (each find is one read, after the open insert and before the close one).
//! Keys in the offset are `_id`s as canonical extended JSON.

use std::sync::Arc;

use bson::{doc, Bson, Document};
use mongodb::Client;
use serde_json::Value as Json;
use sluice_api::data::{JsonMap, SourceRecord};

use super::config::MongoConfig;
use super::events::EventBuilder;
use super::offset::MongoOffset;
use super::stream::{task_error, StreamError};
use crate::debezium::incremental::{full_match, Collection, Incremental};
use crate::debezium::signal::{
    expand_collections, Action, Channels, Signal, SnapshotKind, WINDOW_CLOSE, WINDOW_OPEN,
};

/// The change stream's signals and incremental snapshot.
pub struct MongoSnapshots {
    pub inc: Incremental,
    /// Where progress is published (status JSON, /metrics).
    pub progress: Option<sluice_api::SourceTaskContext>,
    /// A blocking snapshot asked for: (signal id, data-collections).
    blocking: Option<(String, Vec<String>)>,
    signal: Option<(String, String)>,
    channels: Channels,
    cfg: Arc<MongoConfig>,
}

fn failed(e: mongodb::error::Error, what: &str) -> StreamError {
    StreamError::Task(task_error(&e, what))
}

impl MongoSnapshots {
    pub fn new(cfg: Arc<MongoConfig>, resumed: Option<&JsonMap>) -> MongoSnapshots {
        let signal = cfg.signal.data_collection.as_deref().and_then(|dc| {
            let (db, c) = dc.split_once('.')?;
            Some((db.to_string(), c.to_string()))
        });
        let inc = resumed.map(Incremental::from_offset).unwrap_or_default();
        if inc.active() {
            tracing::info!(
                "resuming the incremental snapshot of {} after _id {:?}",
                inc.names(),
                inc.emitted_key
            );
        }
        MongoSnapshots {
            inc,
            progress: None,
            blocking: None,
            signal,
            channels: Channels::start(&cfg.signal, &cfg.topic_prefix),
            cfg,
        }
    }

    pub fn is_signal(&self, db: &str, coll: &str) -> bool {
        self.signal
            .as_ref()
            .is_some_and(|(d, c)| d == db && c == coll)
    }

    pub fn fields(&self) -> Option<JsonMap> {
        self.inc.offset_fields()
    }

    pub fn next_channel_signal(&mut self) -> Option<Signal> {
        self.channels.try_next()
    }

    /// The signal of a document inserted into the signal collection.
    pub fn doc_signal(d: &Document) -> Option<Result<Signal, String>> {
        let id = match d.get("_id")? {
            Bson::String(s) => s.clone(),
            Bson::ObjectId(o) => o.to_hex(),
            other => other.clone().into_relaxed_extjson().to_string(),
        };
        let kind = d.get_str("type").ok()?;
        let data = match d.get("data") {
            None | Some(Bson::Null) => None,
            Some(Bson::String(s)) => Some(s.clone()),
            Some(other) => Some(other.clone().into_relaxed_extjson().to_string()),
        };
        Some(Signal::new(&id, kind, data.as_deref()))
    }

    /// Acts on `sig`, the stream being at `pos`; chunk documents and
    /// notifications are appended to `out` (the last chunk document
    /// carries `pos` with the new state).
    pub async fn handle(
        &mut self,
        client: &Client,
        builder: &mut EventBuilder,
        sig: Signal,
        pos: &MongoOffset,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), StreamError> {
        let action = match sig.action() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("{e}; the signal is ignored");
                return Ok(());
            }
        };
        match action {
            Action::WindowOpen => {
                self.inc.open(&sig.id);
            }
            Action::WindowClose => {
                if self.inc.is_close(&sig.id) {
                    let (mut rows, _) = self.inc.close();
                    if let Some(last) = rows.last_mut() {
                        let off = MongoOffset {
                            incremental: self.fields().map(Box::new),
                            ..pos.clone()
                        };
                        last.source_offset = Some(Arc::new(off.to_json()));
                    }
                    out.append(&mut rows);
                    self.read_chunk(client, builder, pos, out).await?;
                }
            }
            Action::Log(m) => {
                tracing::info!("{}", m.replace("{}", &format!("{:?}", pos.to_json())))
            }
            Action::Execute(req) if req.kind == SnapshotKind::Blocking => {
                self.blocking = Some((sig.id.clone(), req.collections));
            }
            Action::Execute(req) => {
                if self.signal.is_none() {
                    tracing::error!("signal {}: an incremental snapshot needs the signal collection for its watermarks; set signal.data.collection (<db>.<collection>) and send the signal again", sig.id);
                    return Ok(());
                }
                let all: Vec<(String, String)> =
                    super::snapshot::captured_collections(client, &self.cfg)
                        .await?
                        .into_iter()
                        .filter(|(db, c)| !self.is_signal(db, c))
                        .collect();
                let chosen = match expand_collections(
                    &req.collections,
                    &all,
                    |(db, c)| format!("{db}.{c}"),
                    false,
                ) {
                    Ok(chosen) => chosen,
                    Err(e) => {
                        tracing::warn!("signal {}: {e}; the signal is ignored", sig.id);
                        return Ok(());
                    }
                };
                let add: Vec<Collection> = chosen
                    .into_iter()
                    .map(|(db, c)| {
                        let name = format!("{db}.{c}");
                        let condition = req
                            .conditions
                            .iter()
                            .find(|(dc, _)| full_match(dc, &name))
                            .map(|(_, f)| f.clone());
                        Collection {
                            id: name,
                            condition,
                            surrogate_key: None,
                        }
                    })
                    .collect();
                if add.is_empty() {
                    tracing::warn!(
                        "signal {}: no captured collection matches {:?}",
                        sig.id,
                        req.collections
                    );
                    return Ok(());
                }
                if self.inc.begin(&self.cfg.notifier, &sig.id, add, out) {
                    self.read_chunk(client, builder, pos, out).await?;
                }
            }
            control => {
                if self.inc.control(&self.cfg.notifier, &sig.id, &control, out) {
                    self.read_chunk(client, builder, pos, out).await?;
                }
            }
        }
        Ok(())
    }

    /// A blocking snapshot asked for, to run now (the batch before it
    /// handed over).
    pub fn take_blocking(&mut self) -> Option<(String, Vec<String>)> {
        self.blocking.take()
    }

    /// A blocking snapshot: the stream waits while the named collections
    /// are read whole (`r` events marked as an initial snapshot's, at the
    /// stream's position `pos`), sent to `tx` without offsets, so the
    /// committed position stays where the stream stopped; then the stream
    /// goes on.
    pub async fn blocking(
        &mut self,
        client: &Client,
        builder: &mut EventBuilder,
        (id, collections): (String, Vec<String>),
        pos: &MongoOffset,
        tx: &crate::debezium::feed::FeedTx,
    ) -> Result<(), StreamError> {
        use crate::debezium::notify::INITIAL;
        let all: Vec<(String, String)> = super::snapshot::captured_collections(client, &self.cfg)
            .await?
            .into_iter()
            .filter(|(d, c)| !self.is_signal(d, c))
            .collect();
        let chosen: Vec<(String, String)> =
            match expand_collections(&collections, &all, |(d, c)| format!("{d}.{c}"), true) {
                Ok(chosen) => chosen.into_iter().cloned().collect(),
                Err(e) => {
                    tracing::warn!("signal {id}: {e}; the blocking snapshot is not taken");
                    return Ok(());
                }
            };
        if chosen.is_empty() {
            tracing::warn!("signal {id}: no captured collection matches {collections:?}; no blocking snapshot is taken");
            return Ok(());
        }
        let names: Vec<String> = chosen.iter().map(|(d, c)| format!("{d}.{c}")).collect();
        tracing::info!(
            "signal {id}: blocking snapshot of {}; streaming waits",
            names.join(",")
        );
        let note = crate::debezium::incremental::new_uuid();
        let notifier = self.cfg.notifier.clone();
        let max = self.cfg.common.max_batch_size;
        let mut out = Vec::new();
        notifier.notify(&note, INITIAL, "STARTED", &[], &mut out);
        let none = Arc::new(JsonMap::new());
        let mut first = true;
        let mut held: Option<SourceRecord> = None;
        for (i, (db, coll)) in chosen.iter().enumerate() {
            let name = format!("{db}.{coll}");
            notifier.notify(
                &note,
                INITIAL,
                "IN_PROGRESS",
                &[
                    ("current_collection_in_progress", name.clone()),
                    ("data_collections", names.join(",")),
                ],
                &mut out,
            );
            let what = format!("reading {name} for a blocking snapshot");
            let mut cursor = client
                .database(db)
                .collection::<Document>(coll)
                .find(doc! {})
                .await
                .map_err(|e| failed(e, &what))?;
            let mut rows: u64 = 0;
            while cursor.advance().await.map_err(|e| failed(e, &what))? {
                let d = cursor.deserialize_current().map_err(|e| failed(e, &what))?;
                if let Some(h) = held.take() {
                    out.push(h);
                }
                let mark = if first { "first" } else { "true" };
                first = false;
                let mut r = builder.snapshot(db, coll, &d, mark, pos, &none);
                r.source_offset = None;
                held = Some(r);
                rows += 1;
                if out.len() >= max && tx.send(Ok(std::mem::take(&mut out))).await.is_err() {
                    return Ok(());
                }
            }
            if i + 1 == chosen.len() {
                if let Some(mut h) = held.take() {
                    set_marker(&mut h, "last");
                    out.push(h);
                }
            }
            notifier.notify(
                &note,
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
        }
        notifier.notify(&note, INITIAL, "COMPLETED", &[], &mut out);
        tracing::info!("blocking snapshot done; streaming goes on");
        let _ = tx.send(Ok(out)).await;
        Ok(())
    }

    fn table_done(&mut self, status: &str, out: &mut Vec<SourceRecord>) {
        self.inc
            .table_done(&self.cfg.notifier, self.progress.as_ref(), status, out);
    }

    /// Reads the next chunk into the window between its watermarks.
    pub async fn read_chunk(
        &mut self,
        client: &Client,
        builder: &mut EventBuilder,
        pos: &MongoOffset,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), StreamError> {
        while self.inc.active() && !self.inc.paused && !self.inc.in_window() {
            let c = self.inc.current().expect("active").clone();
            let Some((db, coll)) = c.id.split_once('.') else {
                self.table_done("UNKNOWN_SCHEMA", out);
                continue;
            };
            let condition = match &c.condition {
                None => None,
                Some(f) => match serde_json::from_str::<Json>(f)
                    .ok()
                    .and_then(|v| Bson::try_from(v).ok())
                {
                    Some(Bson::Document(d)) => Some(d),
                    _ => {
                        tracing::warn!("incremental snapshot of {}: additional condition {f} is not a JSON query document; the collection is skipped", c.id);
                        self.table_done("SQL_EXCEPTION", out);
                        continue;
                    }
                },
            };
            let collection = client.database(db).collection::<Document>(coll);
            if self.inc.max_key.is_none() {
                self.inc.emitted_key = None;
                let last = collection
                    .find(condition.clone().unwrap_or_default())
                    .sort(doc! {"_id": -1})
                    .limit(1)
                    .await
                    .map_err(|e| failed(e, "reading the greatest _id"))?;
                let mut last = last;
                let max = match last
                    .advance()
                    .await
                    .map_err(|e| failed(e, "reading the greatest _id"))?
                {
                    true => {
                        let d = last
                            .deserialize_current()
                            .map_err(|e| failed(e, "reading the greatest _id"))?;
                        d.get("_id").cloned()
                    }
                    false => None,
                };
                match max {
                    Some(id) => self.inc.max_key = Some(vec![key_json(&id)]),
                    None => {
                        self.table_done("EMPTY", out);
                        continue;
                    }
                }
            }
            let (sdb, scoll) = self.signal.clone().expect("checked at execute");
            let signals = client.database(&sdb).collection::<Document>(&scoll);
            let chunk = crate::debezium::incremental::new_uuid();
            signals
                .insert_one(doc! {"_id": format!("{chunk}-open"), "type": WINDOW_OPEN, "payload": ""})
                .await
                .map_err(|e| failed(e, &format!("writing the incremental snapshot's open watermark into {sdb}.{scoll} (the connector's user needs insert on it)")))?;
            let mut parts = Vec::new();
            if let Some(k) = self
                .inc
                .emitted_key
                .as_ref()
                .and_then(|k| key_bson(k.first()?))
            {
                parts.push(doc! {"_id": {"$gt": k}});
            }
            if let Some(k) = self.inc.max_key.as_ref().and_then(|k| key_bson(k.first()?)) {
                parts.push(doc! {"_id": {"$lte": k}});
            }
            if let Some(d) = condition {
                parts.push(d);
            }
            let filter = if parts.is_empty() {
                Document::new()
            } else {
                doc! {"$and": parts}
            };
            let mut cursor = collection
                .find(filter)
                .sort(doc! {"_id": 1})
                .limit(self.cfg.signal.chunk_size as i64)
                .await
                .map_err(|e| failed(e, &format!("reading a chunk of {}", c.id)))?;
            let mut rows = Vec::new();
            let mut last_key = None;
            let snapshot_offset = Arc::new(JsonMap::new());
            while cursor
                .advance()
                .await
                .map_err(|e| failed(e, &format!("reading a chunk of {}", c.id)))?
            {
                let d = cursor
                    .deserialize_current()
                    .map_err(|e| failed(e, &format!("reading a chunk of {}", c.id)))?;
                if let Some(id) = d.get("_id") {
                    last_key = Some(vec![key_json(id)]);
                }
                let mut r = builder.snapshot(db, coll, &d, "incremental", pos, &snapshot_offset);
                r.source_offset = None;
                rows.push(r);
            }
            if self.cfg.signal.close_by_delete {
                signals
                    .delete_one(doc! {"_id": format!("{chunk}-open")})
                    .await
                    .map_err(|e| failed(e, "deleting the incremental snapshot's open watermark (the connector's user needs remove on the signal collection)"))?;
            } else {
                signals
                    .insert_one(
                        doc! {"_id": format!("{chunk}-close"), "type": WINDOW_CLOSE, "payload": ""},
                    )
                    .await
                    .map_err(|e| failed(e, "writing the incremental snapshot's close watermark"))?;
            }
            let n = rows.len();
            self.inc.rows_scanned += n as u64;
            if n == 0 {
                self.table_done("SUCCEEDED", out);
                continue;
            }
            self.inc.chunk_read(
                &self.cfg.notifier,
                self.progress.as_ref(),
                chunk,
                rows,
                last_key,
                &|v| v.as_str().unwrap_or("").to_string(),
                out,
            );
        }
        Ok(())
    }
}

/// Sets a read event's `source.snapshot` marker.
fn set_marker(r: &mut SourceRecord, mark: &str) {
    use super::schema::source_field;
    if let sluice_api::data::Value::Struct(env) = &mut r.data.value {
        if let Some(sluice_api::data::Value::Struct(src)) =
            env.values.get_mut(super::schema::envelope_field::SOURCE)
        {
            src.values[source_field::SNAPSHOT] = sluice_api::data::Value::from(mark);
        }
    }
}

/// An `_id` as the offset keeps it: its canonical extended JSON text.
fn key_json(id: &Bson) -> Json {
    Json::String(id.clone().into_canonical_extjson().to_string())
}

fn key_bson(v: &Json) -> Option<Bson> {
    let text = v.as_str()?;
    let j: Json = serde_json::from_str(text).ok()?;
    Bson::try_from(j).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_type_through_the_offset() {
        for id in [
            Bson::Int32(7),
            Bson::Int64(1 << 40),
            Bson::String("k1".into()),
            Bson::ObjectId(bson::oid::ObjectId::parse_str("65f0c0ffee0000000000abcd").unwrap()),
        ] {
            assert_eq!(key_bson(&key_json(&id)), Some(id));
        }
    }

    #[test]
    fn signal_documents_read_like_debeziums() {
        let d =
            doc! {"_id": "s1", "type": "execute-snapshot", "data": {"data-collections": ["db.c"]}};
        let s = MongoSnapshots::doc_signal(&d).unwrap().unwrap();
        assert_eq!(s.id, "s1");
        assert!(matches!(s.action().unwrap(), Action::Execute(_)));
        let d = doc! {"_id": "x-open", "type": WINDOW_OPEN, "payload": ""};
        let s = MongoSnapshots::doc_signal(&d).unwrap().unwrap();
        assert_eq!(s.action().unwrap(), Action::WindowOpen);
    }
}
