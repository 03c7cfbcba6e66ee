//! Change events in Debezium's MongoDB shape.
//!
//! A [`ChangeEvent`] is what both capture modes decode to (a change stream
//! document or an oplog entry); [`EventBuilder`] turns it, or a snapshot
//! document, into records:
//! - key `{"id": <_id in relaxed extended JSON>}`;
//! - value envelope: `after` (inserts, replaces, update_full updates,
//!   snapshot reads) and `before` (pre-image modes) as strict extended JSON
//!   strings, `updateDescription` on updates, `source`, `op` (r/c/u/d),
//!   `ts_ms` (processing time);
//! - a tombstone (null value, same key) after each delete when
//!   tombstones.on.delete is on.
//!
//! Every record of one event carries the event's offset: the worker commits
//! an offset only once every record before it is acked, so a crash between
//! a delete and its tombstone re-delivers the pair, never half of it past a
//! commit.

use std::collections::HashMap;
use std::sync::Arc;

use bson::{Bson, Document, Timestamp};
use sluice_api::data::{JsonMap, RecordData, SourceRecord, Struct, Value};

use super::config::MongoConfig;
use super::json::{self, Mode};
use super::offset::MongoOffset;
use super::schema::{
    envelope_field, source_field, source_schema, truncated_array_schema, update_description_schema,
    CollectionSchema,
};
use crate::debezium::events::{Heartbeat, Op};
use crate::debezium::time::now_ms;

/// An update's description (change streams' `updateDescription`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateDesc {
    pub updated: Document,
    pub removed: Vec<String>,
    pub truncated: Vec<(String, i32)>,
}

/// One document change, whichever capture mode read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub op: Op,
    pub db: String,
    pub coll: String,
    /// The document's `_id` (from documentKey).
    pub id: Bson,
    pub after: Option<Document>,
    pub before: Option<Document>,
    pub update: Option<UpdateDesc>,
    pub cluster_time: Timestamp,
    pub wall_ms: Option<i64>,
    pub lsid: Option<Document>,
    pub txn_number: Option<i64>,
}

/// Drops a dotted path (`a.b.c`) from a document, through nested documents
/// and arrays of documents, as Debezium's field selector does.
fn remove_path(doc: &mut Document, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        doc.remove(*first);
        return;
    }
    match doc.get_mut(*first) {
        Some(Bson::Document(d)) => remove_path(d, rest),
        Some(Bson::Array(a)) => {
            for x in a.iter_mut() {
                if let Bson::Document(d) = x {
                    remove_path(d, rest);
                }
            }
        }
        _ => {}
    }
}

fn without_fields(doc: &Document, excluded: &[String]) -> Option<Document> {
    if excluded.is_empty() {
        return None;
    }
    let mut d = doc.clone();
    for f in excluded {
        let parts: Vec<&str> = f.split('.').collect();
        remove_path(&mut d, &parts);
    }
    Some(d)
}

fn doc_json(doc: &Document, excluded: &[String]) -> String {
    match without_fields(doc, excluded) {
        Some(d) => json::document(&d, Mode::Strict),
        None => json::document(doc, Mode::Strict),
    }
}

/// Whether a dotted update path falls under an excluded field.
fn path_excluded(path: &str, excluded: &[String]) -> bool {
    excluded
        .iter()
        .any(|f| path == f || path.starts_with(&format!("{f}.")))
}

/// updatedFields keys are dotted paths: drop those under an excluded field,
/// and excluded fields nested inside the values of shorter paths.
fn filter_updated(updated: &Document, excluded: &[String]) -> Document {
    let mut out = Document::new();
    for (k, v) in updated {
        if path_excluded(k, excluded) {
            continue;
        }
        let mut v = v.clone();
        if let Bson::Document(d) = &mut v {
            let prefix = format!("{k}.");
            for f in excluded {
                if let Some(rest) = f.strip_prefix(&prefix) {
                    let parts: Vec<&str> = rest.split('.').collect();
                    remove_path(d, &parts);
                }
            }
        }
        out.insert(k.clone(), v);
    }
    out
}

/// Builds records for one connector; keeps each collection's schemas.
pub struct EventBuilder {
    cfg: Arc<MongoConfig>,
    pub partition: Arc<JsonMap>,
    heartbeat: Heartbeat,
    version: Arc<str>,
    name: Arc<str>,
    /// `source.connector` and every `source.snapshot` mark, shared.
    words: [(&'static str, Arc<str>); 6],
    collections: HashMap<(String, String), Arc<CollectionSchema>>,
    /// The collection of the last event: consecutive events mostly share it.
    last: Option<Arc<CollectionSchema>>,
    /// provide.transaction.metadata: the transaction in progress, and
    /// where its boundaries go.
    txn: Option<crate::debezium::transaction::TxnState>,
    transaction_topic: Arc<str>,
}

/// What the `source` struct needs besides the collection.
struct SourceInfo<'a> {
    ts_ms: i64,
    snapshot: &'static str,
    ord: u32,
    lsid: Option<String>,
    txn_number: Option<i64>,
    wall_ms: Option<i64>,
    coll: &'a CollectionSchema,
}

impl EventBuilder {
    pub fn new(cfg: Arc<MongoConfig>) -> EventBuilder {
        let cfg_topic: Arc<str> = cfg.common.transaction_topic(&cfg.topic_prefix).into();
        EventBuilder {
            partition: Arc::new(cfg.source_partition()),
            heartbeat: Heartbeat {
                topic: cfg.heartbeat_topic().into(),
                server_name: cfg.topic_prefix.as_str().into(),
                versioned: false,
            },
            name: cfg.topic_prefix.as_str().into(),
            cfg,
            version: env!("CARGO_PKG_VERSION").into(),
            words: [
                "mongodb",
                "true",
                "false",
                "first",
                "last",
                "last_in_data_collection",
            ]
            .map(|w| (w, w.into())),
            collections: HashMap::new(),
            last: None,
            txn: None,
            transaction_topic: cfg_topic,
        }
    }

    /// A constant string as a shared value (one of `words`; any other is
    /// allocated).
    fn word(&self, w: &'static str) -> Value {
        match self.words.iter().find(|(k, _)| *k == w) {
            Some((_, shared)) => Value::String(shared.clone()),
            None => Value::from(w),
        }
    }

    pub fn collection(&mut self, db: &str, coll: &str) -> Arc<CollectionSchema> {
        if let Some(c) = self
            .last
            .as_ref()
            .filter(|c| &*c.db == db && &*c.coll == coll)
        {
            return c.clone();
        }
        let c = self.collection_slow(db, coll);
        self.last = Some(c.clone());
        c
    }

    fn collection_slow(&mut self, db: &str, coll: &str) -> Arc<CollectionSchema> {
        if let Some(c) = self.collections.get(&(db.to_string(), coll.to_string())) {
            return c.clone();
        }
        let c = Arc::new(CollectionSchema::new(
            &self.cfg.topic_prefix,
            db,
            coll,
            self.cfg.filters.excluded_fields(db, coll),
            &self.cfg.common.topic_delimiter,
        ));
        self.collections
            .insert((db.to_string(), coll.to_string()), c.clone());
        c
    }

    fn source(&self, s: &SourceInfo<'_>) -> Value {
        let mut v = vec![Value::Null; source_field::COUNT];
        v[source_field::VERSION] = Value::String(self.version.clone());
        v[source_field::CONNECTOR] = self.word("mongodb");
        v[source_field::NAME] = Value::String(self.name.clone());
        v[source_field::TS_MS] = Value::Int64(s.ts_ms);
        v[source_field::SNAPSHOT] = self.word(s.snapshot);
        v[source_field::DB] = Value::String(s.coll.db.clone());
        v[source_field::TS_US] = Value::Int64(s.ts_ms.saturating_mul(1000));
        v[source_field::TS_NS] = Value::Int64(s.ts_ms.saturating_mul(1_000_000));
        v[source_field::COLLECTION] = Value::String(s.coll.coll.clone());
        v[source_field::ORD] = Value::Int32(s.ord as i32);
        v[source_field::LSID] = s.lsid.as_deref().map_or(Value::Null, Value::from);
        v[source_field::TXN_NUMBER] = s.txn_number.map_or(Value::Null, Value::Int64);
        v[source_field::WALL_TIME] = s.wall_ms.map_or(Value::Null, Value::Int64);
        Value::Struct(Struct::from_values(source_schema(), v))
    }

    fn key(coll: &CollectionSchema, id: &Bson) -> Value {
        Value::Struct(Struct::from_values(
            coll.key.clone(),
            vec![Value::String(json::value(id, Mode::Relaxed).into())],
        ))
    }

    fn record(
        &self,
        coll: &CollectionSchema,
        key: Value,
        value: Option<Value>,
        ts: i64,
        offset: &Arc<JsonMap>,
    ) -> SourceRecord {
        let (value_schema, value) = match value {
            Some(v) => (Some(coll.envelope.clone()), v),
            None => (None, Value::Null),
        };
        SourceRecord::new(
            self.partition.clone(),
            Some(offset.clone()),
            RecordData {
                topic: coll.topic.clone(),
                kafka_partition: None,
                key_schema: Some(coll.key.clone()),
                key,
                value_schema,
                value,
                timestamp: Some(ts),
                headers: Default::default(),
                kafka_offset: None,
            },
        )
    }

    /// A snapshot read (`op: r`) of one document, at the position the
    /// snapshot began from.
    pub fn snapshot(
        &mut self,
        db: &str,
        coll: &str,
        doc: &Document,
        marker: &'static str,
        pos: &MongoOffset,
        offset: &Arc<JsonMap>,
    ) -> SourceRecord {
        let c = self.collection(db, coll);
        let now = now_ms();
        let ts_ms = if pos.sec > 0 {
            i64::from(pos.sec) * 1000
        } else {
            now
        };
        let source = self.source(&SourceInfo {
            ts_ms,
            snapshot: marker,
            ord: pos.ord,
            lsid: None,
            txn_number: None,
            wall_ms: None,
            coll: &c,
        });
        let mut v = vec![Value::Null; envelope_field::COUNT];
        v[envelope_field::AFTER] = Value::String(doc_json(doc, &c.excluded_fields).into());
        v[envelope_field::SOURCE] = source;
        v[envelope_field::OP] = Value::String(Op::Read.code().into());
        v[envelope_field::TS_MS] = Value::Int64(now);
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        let value = Value::Struct(Struct::from_values(c.envelope.clone(), v));
        self.record(&c, Self::key(&c, &id), Some(value), ts_ms, offset)
    }

    /// The records of one change (nothing for a skipped operation).
    pub fn change(&mut self, ev: &ChangeEvent, offset: &Arc<JsonMap>, out: &mut Vec<SourceRecord>) {
        let skipped = &self.cfg.common.skipped;
        if (ev.op == Op::Create && skipped.create)
            || (ev.op == Op::Update && skipped.update)
            || (ev.op == Op::Delete && skipped.delete)
        {
            return;
        }
        let c = self.collection(&ev.db, &ev.coll);
        let now = now_ms();
        let ts_ms = ev.wall_ms.unwrap_or(i64::from(ev.cluster_time.time) * 1000);
        let block = if self.cfg.provide_transaction_metadata {
            self.transaction(ev, ts_ms, &c, out)
        } else {
            Value::Null
        };
        let source = self.source(&SourceInfo {
            ts_ms,
            snapshot: "false",
            ord: ev.cluster_time.increment,
            lsid: ev
                .lsid
                .as_ref()
                .filter(|_| ev.txn_number.is_some())
                .map(|l| json::document(l, Mode::Strict)),
            txn_number: ev.txn_number.filter(|_| ev.lsid.is_some()),
            wall_ms: ev.wall_ms,
            coll: &c,
        });
        let mut v = vec![Value::Null; envelope_field::COUNT];
        if let Some(b) = &ev.before {
            v[envelope_field::BEFORE] = Value::String(doc_json(b, &c.excluded_fields).into());
        }
        if ev.op != Op::Delete {
            if let Some(a) = &ev.after {
                v[envelope_field::AFTER] = Value::String(doc_json(a, &c.excluded_fields).into());
            }
        }
        if let (Op::Update, Some(u)) = (ev.op, &ev.update) {
            v[envelope_field::UPDATE_DESCRIPTION] = update_description(u, &c.excluded_fields);
        }
        v[envelope_field::SOURCE] = source;
        v[envelope_field::OP] = Value::String(ev.op.code().into());
        v[envelope_field::TS_MS] = Value::Int64(now);
        v[envelope_field::TRANSACTION] = block;
        let key = Self::key(&c, &ev.id);
        let value = Value::Struct(Struct::from_values(c.envelope.clone(), v));
        out.push(self.record(&c, key.clone(), Some(value), ts_ms, offset));
        if ev.op == Op::Delete && self.cfg.common.tombstones_on_delete {
            out.push(self.record(&c, key, None, ts_ms, offset));
        }
    }

    /// Debezium's transaction monitor for one change: an event of a new
    /// transaction ends the one in progress (END) and begins its own
    /// (BEGIN); an event of none ends the one in progress. Boundaries carry
    /// no offset (a commit never stops on one). Returns the event's
    /// `transaction` block.
    fn transaction(
        &mut self,
        ev: &ChangeEvent,
        ts_ms: i64,
        c: &CollectionSchema,
        out: &mut Vec<SourceRecord>,
    ) -> Value {
        let lsid = ev.lsid.as_ref().map(|l| json::document(l, Mode::Strict));
        let id = match (lsid, ev.txn_number) {
            (Some(l), Some(n)) => Some(format!("{l}:{n}")),
            (Some(l), None) => Some(l),
            (None, Some(n)) => Some(n.to_string()),
            (None, None) => None,
        };
        if let Some(t) = &self.txn {
            if id.as_deref() != Some(&*t.id) {
                out.push(crate::debezium::transaction::boundary(
                    &self.transaction_topic,
                    &self.partition,
                    t,
                    true,
                    ts_ms,
                    None,
                ));
                self.txn = None;
            }
        }
        let Some(id) = id else {
            return Value::Null;
        };
        if self.txn.is_none() {
            let t = crate::debezium::transaction::TxnState::new(id);
            out.push(crate::debezium::transaction::boundary(
                &self.transaction_topic,
                &self.partition,
                &t,
                false,
                ts_ms,
                None,
            ));
            self.txn = Some(t);
        }
        let collection = format!("{}.{}", c.db, c.coll);
        self.txn
            .as_mut()
            .map_or(Value::Null, |t| t.block(&collection))
    }

    /// A heartbeat on `<heartbeat.topics.prefix>.<topic.prefix>` carrying
    /// the current offset, so that idle or filtered traffic moves it.
    pub fn heartbeat(&self, offset: &Arc<JsonMap>) -> SourceRecord {
        self.heartbeat.record(&self.partition, offset, now_ms())
    }
}

fn update_description(u: &UpdateDesc, excluded: &[String]) -> Value {
    let removed: Vec<Value> = u
        .removed
        .iter()
        .filter(|p| !path_excluded(p, excluded))
        .map(|p| Value::String(p.as_str().into()))
        .collect();
    let truncated: Vec<Value> = u
        .truncated
        .iter()
        .filter(|(p, _)| !path_excluded(p, excluded))
        .map(|(p, n)| {
            Value::Struct(Struct::from_values(
                truncated_array_schema(),
                vec![Value::String(p.as_str().into()), Value::Int32(*n)],
            ))
        })
        .collect();
    let updated = if excluded.is_empty() {
        json::document(&u.updated, Mode::Strict)
    } else {
        json::document(&filter_updated(&u.updated, excluded), Mode::Strict)
    };
    // Debezium leaves empty lists out (null), but always writes updatedFields.
    Value::Struct(Struct::from_values(
        update_description_schema(),
        vec![
            if removed.is_empty() {
                Value::Null
            } else {
                Value::Array(removed)
            },
            Value::String(updated.into()),
            if truncated.is_empty() {
                Value::Null
            } else {
                Value::Array(truncated)
            },
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use sluice_api::Props;

    fn builder(extra: &[(&str, &str)]) -> EventBuilder {
        let mut p: Props = [
            ("mongodb.connection.string", "mongodb://h:1"),
            ("topic.prefix", "m1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        EventBuilder::new(Arc::new(MongoConfig::parse(&p).unwrap()))
    }

    fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
        v.as_struct().unwrap().get(name).unwrap()
    }

    fn event(op: Op) -> ChangeEvent {
        ChangeEvent {
            op,
            db: "inv".into(),
            coll: "users".into(),
            id: Bson::Int32(7),
            after: Some(doc! {"_id": 7, "name": "a", "pw": "x"}),
            before: None,
            update: None,
            cluster_time: Timestamp {
                time: 1_700_000_000,
                increment: 4,
            },
            wall_ms: Some(1_700_000_000_123),
            lsid: Some(doc! {"id": 1}),
            txn_number: Some(9),
        }
    }

    #[test]
    fn insert_shape() {
        let mut b = builder(&[]);
        let mut out = Vec::new();
        let off = Arc::new(JsonMap::new());
        b.change(&event(Op::Create), &off, &mut out);
        assert_eq!(out.len(), 1);
        let r = &out[0].data;
        assert_eq!(r.topic, "m1.inv.users".into());
        assert_eq!(field(&r.key, "id"), &Value::String("7".into()));
        assert_eq!(
            field(&r.value, "after"),
            &Value::String(r#"{"_id": 7,"name": "a","pw": "x"}"#.into())
        );
        assert_eq!(field(&r.value, "op"), &Value::String("c".into()));
        assert!(field(&r.value, "updateDescription").is_null());
        let src = field(&r.value, "source");
        assert_eq!(field(src, "ts_ms"), &Value::Int64(1_700_000_000_123));
        assert_eq!(field(src, "ord"), &Value::Int32(4));
        assert_eq!(field(src, "lsid"), &Value::String(r#"{"id": 1}"#.into()));
        assert_eq!(field(src, "txnNumber"), &Value::Int64(9));
        assert_eq!(field(src, "collection"), &Value::String("users".into()));
        assert_eq!(field(src, "snapshot"), &Value::String("false".into()));
        r.value.validate(r.value_schema.as_ref().unwrap()).unwrap();
    }

    #[test]
    fn update_with_excluded_fields_and_delete_tombstone() {
        let mut b = builder(&[("field.exclude.list", "inv.users.pw,inv.users.addr.zip")]);
        let mut ev = event(Op::Update);
        ev.update = Some(UpdateDesc {
            updated: doc! {"name": "b", "pw": "y", "addr": {"zip": 1, "city": "c"}},
            removed: vec!["pw".into(), "old".into()],
            truncated: vec![("arr".into(), 2)],
        });
        let off = Arc::new(JsonMap::new());
        let mut out = Vec::new();
        b.change(&ev, &off, &mut out);
        let v = &out[0].data.value;
        assert_eq!(
            field(v, "after"),
            &Value::String(r#"{"_id": 7,"name": "a"}"#.into())
        );
        let ud = field(v, "updateDescription");
        assert_eq!(
            field(ud, "updatedFields"),
            &Value::String(r#"{"name": "b","addr": {"city": "c"}}"#.into())
        );
        assert_eq!(
            field(ud, "removedFields"),
            &Value::Array(vec![Value::String("old".into())])
        );
        v.validate(out[0].data.value_schema.as_ref().unwrap())
            .unwrap();

        out.clear();
        let mut del = event(Op::Delete);
        del.before = Some(doc! {"_id": 7, "name": "a"});
        b.change(&del, &off, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(field(&out[0].data.value, "op"), &Value::String("d".into()));
        assert!(field(&out[0].data.value, "after").is_null());
        assert_eq!(
            field(&out[0].data.value, "before"),
            &Value::String(r#"{"_id": 7,"name": "a"}"#.into())
        );
        assert!(out[1].data.is_tombstone() && out[1].data.key == out[0].data.key);
    }

    #[test]
    fn snapshot_reads_and_skipped_operations() {
        let mut b = builder(&[
            ("skipped.operations", "c"),
            ("tombstones.on.delete", "false"),
        ]);
        let pos = MongoOffset {
            sec: 100,
            ord: 2,
            ..Default::default()
        };
        let off = Arc::new(JsonMap::new());
        let r = b.snapshot(
            "inv",
            "users",
            &doc! {"_id": bson::oid::ObjectId::from_bytes([1; 12])},
            "last",
            &pos,
            &off,
        );
        assert_eq!(
            field(&r.data.key, "id"),
            &Value::String(r#"{"$oid": "010101010101010101010101"}"#.into())
        );
        assert_eq!(field(&r.data.value, "op"), &Value::String("r".into()));
        assert_eq!(
            field(field(&r.data.value, "source"), "snapshot"),
            &Value::String("last".into())
        );
        assert_eq!(
            field(field(&r.data.value, "source"), "ts_ms"),
            &Value::Int64(100_000)
        );
        let mut out = Vec::new();
        b.change(&event(Op::Create), &off, &mut out);
        b.change(&event(Op::Delete), &off, &mut out);
        assert_eq!(out.len(), 1, "create skipped, delete without tombstone");
    }
}
