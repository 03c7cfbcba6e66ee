//! Rows to Debezium change events, tombstones, heartbeats and schema
//! change events.
//!
//! One decoded row becomes one or more records:
//! - insert: `c` (`r` in a snapshot); update: `u`; delete: `d`, then a
//!   tombstone (same key, null value) when tombstones.on.delete=true;
//! - an update that changes the key: `d` (+ tombstone) for the old key,
//!   then `c` for the new one, as Debezium does, so that compaction keeps
//!   the new row and forgets the old key.
//!
//! Offsets: every record but the last of one row carries the offset that
//! still counts the row as pending, the last one the offset past it. A
//! crash between them re-emits the row (at-least-once), never skips part
//! of it.

use std::sync::Arc;

use sluice_api::data::{Header, Headers, JsonMap, RecordData, Schema, SourceRecord, Struct, Value};

use super::config::{Flavor, MySqlConfig};
use super::schema::{
    schema_change_key_schema, schema_change_value_schema, source_field, source_schema, TableSchema,
};
use crate::debezium::events::{Heartbeat, Op};
use crate::debezium::schema::{topic_name, transaction_schema};
use crate::debezium::time::now;

pub use crate::debezium::transaction::TxnState;

/// What `source` says about one event. Borrowed: built once per row, it
/// costs no allocation of its own, and its strings are shared into the
/// event (a count, not a copy).
#[derive(Debug, Clone)]
pub struct SourceInfo<'a> {
    /// Event time (binlog header), milliseconds.
    pub ts_ms: i64,
    /// "true", "last", "false", ...
    pub snapshot: &'static str,
    pub db: &'a Arc<str>,
    pub table: Option<&'a Arc<str>>,
    pub server_id: u32,
    pub gtid: Option<&'a Arc<str>>,
    pub file: &'a Arc<str>,
    pub pos: u64,
    pub row: i32,
    pub thread: Option<i64>,
    /// The statement (include.query), from the binlog's annotation.
    pub query: Option<&'a Arc<str>>,
}

/// Debezium's context headers (extended.headers.enabled, on by default),
/// on change and schema change events (not heartbeats or transaction
/// boundaries):
/// the logical name (topic.prefix), the connector type, the task id and a
/// run id, a UUID (version 7: time-ordered) new at each task start.
pub fn context_headers(logical_name: &str, connector: &str) -> Headers {
    let string = || Some(sluice_api::data::schemas::string());
    let mut h = Headers::new();
    h.add(
        "__debezium.context.connectorLogicalName",
        string(),
        Value::from(logical_name),
    );
    h.add("__debezium.context.taskId", string(), Value::from("0"));
    h.add(
        "__debezium.context.connectorName",
        string(),
        Value::from(connector),
    );
    h.add(
        "__debezium.context.runId",
        string(),
        Value::from(run_id().as_str()),
    );
    h
}

/// A version-7 UUID: 48 bits of Unix milliseconds, then random bits.
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let ms = now().0 as u64;
    // Random bits from the standard library's per-process random keys,
    // mixed with the time in nanoseconds.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(now().2 as u64);
    let r1 = hasher.finish();
    hasher.write_u64(r1);
    let r2 = hasher.finish();
    let hi = (ms << 16) | 0x7000 | (r1 & 0x0fff);
    let lo = (r2 & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// Debezium's headers on the two events of a primary-key change.
pub const NEW_KEY_HEADER: &str = "__debezium.newkey";
pub const OLD_KEY_HEADER: &str = "__debezium.oldkey";

/// Gives every record of `added` (the records of one row or one DDL) but
/// the last the offset that still counts it as pending, so a commit never
/// lands inside it. None or one record: nothing to do.
pub fn keep_pending(added: &mut [SourceRecord], pending: Option<&Arc<JsonMap>>) {
    if let Some((_, before_last)) = added.split_last_mut() {
        for r in before_last {
            r.source_offset = pending.cloned();
        }
    }
}

/// Builds records for one connector.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    pub flavor: Flavor,
    pub server_name: Arc<str>,
    /// `<topic.prefix><topic.delimiter><topic.transaction>`.
    transaction_topic: Arc<str>,
    pub partition: Arc<JsonMap>,
    pub tombstones: bool,
    pub version: Arc<str>,
    pub heartbeat: Heartbeat,
    connector: Arc<str>,
    /// Debezium's `__debezium.context.*` headers of this task run, put on
    /// every record (empty with extended.headers.enabled=false).
    context: Headers,
    /// The constant strings of every event (op codes, snapshot marks),
    /// shared: an event takes a count, not an allocation.
    words: Vec<(&'static str, Arc<str>)>,
}

/// Every `op` and `source.snapshot` an event can carry.
const WORDS: [&str; 11] = [
    "r",
    "c",
    "u",
    "d",
    "t",
    "true",
    "false",
    "last",
    "first",
    "first_in_data_collection",
    "last_in_data_collection",
];

impl EventBuilder {
    pub fn new(cfg: &MySqlConfig) -> EventBuilder {
        EventBuilder {
            flavor: cfg.flavor,
            server_name: cfg.topic_prefix.as_str().into(),
            transaction_topic: cfg.common.transaction_topic(&cfg.topic_prefix).into(),
            partition: Arc::new(cfg.source_partition()),
            tombstones: cfg.common.tombstones_on_delete,
            version: env!("CARGO_PKG_VERSION").into(),
            heartbeat: Heartbeat {
                topic: cfg.heartbeat_topic().into(),
                server_name: cfg.topic_prefix.as_str().into(),
                versioned: true,
            },
            connector: cfg.flavor.connector_name().into(),
            context: if cfg.extended_headers {
                context_headers(&cfg.topic_prefix, cfg.flavor.connector_name())
            } else {
                Headers::new()
            },
            words: WORDS.iter().map(|&w| (w, w.into())).collect(),
        }
    }

    /// A constant string as a shared value (one of `WORDS`; any other is
    /// allocated).
    fn word(&self, w: &'static str) -> Value {
        match self.words.iter().find(|(k, _)| *k == w) {
            Some((_, shared)) => Value::String(shared.clone()),
            None => Value::from(w),
        }
    }

    pub fn source(&self, s: &SourceInfo<'_>) -> Struct {
        let mut v = vec![Value::Null; source_field::COUNT];
        v[source_field::VERSION] = Value::String(self.version.clone());
        v[source_field::CONNECTOR] = Value::String(self.connector.clone());
        v[source_field::NAME] = Value::String(self.server_name.clone());
        v[source_field::TS_MS] = Value::Int64(s.ts_ms);
        v[source_field::SNAPSHOT] = self.word(s.snapshot);
        v[source_field::DB] = Value::String(s.db.clone());
        v[source_field::TS_US] = Value::Int64(s.ts_ms * 1000);
        v[source_field::TS_NS] = Value::Int64(s.ts_ms * 1_000_000);
        v[source_field::TABLE] = s.table.map_or(Value::Null, |t| Value::String(t.clone()));
        v[source_field::SERVER_ID] = Value::Int64(s.server_id as i64);
        v[source_field::GTID] = s.gtid.map_or(Value::Null, |g| Value::String(g.clone()));
        v[source_field::FILE] = Value::String(s.file.clone());
        v[source_field::POS] = Value::Int64(s.pos as i64);
        v[source_field::ROW] = Value::Int32(s.row);
        v[source_field::THREAD] = s.thread.map_or(Value::Null, Value::Int64);
        v[source_field::QUERY] = s.query.map_or(Value::Null, |q| Value::String(q.clone()));
        Struct {
            schema: source_schema(self.flavor),
            values: v,
        }
    }

    fn key_of(t: &TableSchema, row: &[Value]) -> (Option<Arc<sluice_api::data::Schema>>, Value) {
        match &t.key {
            None => (None, Value::Null),
            Some((schema, idx)) => (
                Some(schema.clone()),
                Value::Struct(Struct {
                    schema: schema.clone(),
                    values: idx
                        .iter()
                        .map(|&i| row.get(i).cloned().unwrap_or(Value::Null))
                        .collect(),
                }),
            ),
        }
    }

    /// The row image; the values are moved out of `row` (each image is
    /// built once, after the keys), which keeps its length and capacity.
    fn image(t: &TableSchema, row: Option<&mut [Value]>) -> Value {
        match row {
            None => Value::Null,
            Some(row) => Value::Struct(Struct {
                schema: t.value_schema.clone(),
                values: t
                    .kept
                    .iter()
                    .map(|&i| row.get_mut(i).map(std::mem::take).unwrap_or(Value::Null))
                    .collect(),
            }),
        }
    }

    fn envelope(
        &self,
        t: &TableSchema,
        op: Op,
        before: Option<&mut [Value]>,
        after: Option<&mut [Value]>,
        source: Struct,
        txn: Option<&mut TxnState>,
    ) -> Value {
        let (ms, us, ns) = now();
        let block = match txn {
            None => Value::Null,
            Some(txn) => {
                let (total, per) = txn.next(&t.collection);
                Value::Struct(Struct {
                    schema: transaction_schema(),
                    values: vec![
                        Value::String(txn.id.clone()),
                        Value::Int64(total),
                        Value::Int64(per),
                    ],
                })
            }
        };
        Value::Struct(Struct {
            schema: t.envelope.clone(),
            values: vec![
                Self::image(t, before),
                Self::image(t, after),
                Value::Struct(source),
                block,
                self.word(op.code()),
                Value::Int64(ms),
                Value::Int64(us),
                Value::Int64(ns),
            ],
        })
    }

    fn record(
        &self,
        topic: &Arc<str>,
        key: (Option<Arc<sluice_api::data::Schema>>, Value),
        value_schema: Option<Arc<sluice_api::data::Schema>>,
        value: Value,
        ts: i64,
        offset: Option<&Arc<JsonMap>>,
    ) -> SourceRecord {
        SourceRecord::new(
            self.partition.clone(),
            offset.cloned(),
            RecordData {
                topic: topic.clone(),
                kafka_partition: None,
                key_schema: key.0,
                key: key.1,
                value_schema,
                value,
                timestamp: Some(ts),
                headers: self.context.clone(),
                kafka_offset: None,
            },
        )
    }

    /// The records of one row change, appended to `out`. `pending` is the
    /// offset that still counts this row as not emitted, `done` the one
    /// past it.
    #[allow(clippy::too_many_arguments)]
    pub fn change(
        &self,
        t: &TableSchema,
        op: Op,
        before: Option<&mut [Value]>,
        after: Option<&mut [Value]>,
        src: &SourceInfo<'_>,
        pending: &Arc<JsonMap>,
        done: &Arc<JsonMap>,
        out: &mut Vec<SourceRecord>,
    ) {
        let offsets = Some((pending, done));
        self.change_in_txn(t, op, before, after, src, offsets, None, out)
    }

    /// [`change`](Self::change), with each envelope's `transaction` block
    /// taken from (and counted in) `txn`. `offsets` (pending, done) may be
    /// `None`: the row's records then carry no offset, and a commit stops
    /// at the last record before them that has one (the stream sets
    /// offsets on the last row of each binlog row event only; see
    /// `stream`).
    #[allow(clippy::too_many_arguments)]
    pub fn change_in_txn(
        &self,
        t: &TableSchema,
        op: Op,
        before: Option<&mut [Value]>,
        after: Option<&mut [Value]>,
        src: &SourceInfo<'_>,
        offsets: Option<(&Arc<JsonMap>, &Arc<JsonMap>)>,
        mut txn: Option<&mut TxnState>,
        out: &mut Vec<SourceRecord>,
    ) {
        let (pending, done) = match offsets {
            Some((p, d)) => (Some(p), Some(d)),
            None => (None, None),
        };
        let (mut before, mut after) = (before, after);
        if !t.adapt.is_empty() || !t.rules.is_empty() {
            t.adapt_row(before.as_deref_mut());
            t.adapt_row(after.as_deref_mut());
        }
        let source = self.source(src);
        let start = out.len();
        let ts = src.ts_ms;
        match op {
            Op::Read | Op::Create => {
                let key = Self::key_of(t, after.as_deref().unwrap_or(&[]));
                let v = self.envelope(t, op, None, after, source, txn);
                out.push(self.record(&t.topic, key, Some(t.envelope.clone()), v, ts, done));
            }
            Op::Update => {
                let old_key = Self::key_of(t, before.as_deref().unwrap_or(&[]));
                let new_key = Self::key_of(t, after.as_deref().unwrap_or(&[]));
                if t.key.is_some() && old_key.1 != new_key.1 {
                    // As Debezium: the delete (and its tombstone) name the
                    // new key in a `__debezium.newkey` header, the create
                    // the old one in `__debezium.oldkey`.
                    let header = |name: &str, key: &(Option<Arc<Schema>>, Value)| {
                        Headers(vec![Header {
                            key: name.into(),
                            schema: key.0.clone(),
                            value: key.1.clone(),
                        }])
                    };
                    let (new_key_header, old_key_header) = (
                        header(NEW_KEY_HEADER, &new_key),
                        header(OLD_KEY_HEADER, &old_key),
                    );
                    let deleted_from = out.len();
                    self.delete(
                        t,
                        old_key,
                        before,
                        source.clone(),
                        ts,
                        done,
                        txn.as_deref_mut(),
                        out,
                    );
                    // Before the context headers, as Debezium orders them.
                    for r in &mut out[deleted_from..] {
                        r.data
                            .headers
                            .0
                            .splice(0..0, new_key_header.0.iter().cloned());
                    }
                    let v = self.envelope(t, Op::Create, None, after, source, txn);
                    let mut created =
                        self.record(&t.topic, new_key, Some(t.envelope.clone()), v, ts, done);
                    created.data.headers.0.splice(0..0, old_key_header.0);
                    out.push(created);
                } else {
                    let v = self.envelope(t, Op::Update, before, after, source, txn);
                    out.push(self.record(&t.topic, new_key, Some(t.envelope.clone()), v, ts, done));
                }
            }
            Op::Delete => {
                let key = Self::key_of(t, before.as_deref().unwrap_or(&[]));
                self.delete(t, key, before, source, ts, done, txn, out);
            }
            Op::Truncate => {
                // Debezium: no key, no row images.
                let v = self.envelope(t, Op::Truncate, None, None, source, txn);
                out.push(self.record(
                    &t.topic,
                    (None, Value::Null),
                    Some(t.envelope.clone()),
                    v,
                    ts,
                    done,
                ));
            }
        }
        // Every record but the last of this row keeps the row pending.
        keep_pending(&mut out[start..], pending);
    }

    #[allow(clippy::too_many_arguments)]
    fn delete(
        &self,
        t: &TableSchema,
        key: (Option<Arc<sluice_api::data::Schema>>, Value),
        before: Option<&mut [Value]>,
        source: Struct,
        ts: i64,
        offset: Option<&Arc<JsonMap>>,
        txn: Option<&mut TxnState>,
        out: &mut Vec<SourceRecord>,
    ) {
        let v = self.envelope(t, Op::Delete, before, None, source, txn);
        let tombstone_key = self.tombstones.then(|| key.clone());
        out.push(self.record(&t.topic, key, Some(t.envelope.clone()), v, ts, offset));
        if let Some(key) = tombstone_key {
            out.push(self.record(&t.topic, key, None, Value::Null, ts, offset));
        }
    }

    /// A heartbeat on `<heartbeat.topics.prefix>.<topic.prefix>`, carrying
    /// the current offset so that idle or filtered traffic still moves it.
    pub fn heartbeat(&self, offset: &Arc<JsonMap>) -> SourceRecord {
        self.heartbeat.record(&self.partition, offset, now().0)
    }

    /// A transaction boundary on `<topic.prefix>.transaction`
    /// (provide.transaction.metadata): BEGIN before the transaction's
    /// first change event, END after its last, with the counts.
    pub fn transaction_event(
        &self,
        txn: &TxnState,
        end: bool,
        ts_ms: i64,
        offset: &Arc<JsonMap>,
    ) -> SourceRecord {
        crate::debezium::transaction::boundary(
            &self.transaction_topic,
            &self.partition,
            txn,
            end,
            ts_ms,
            Some(offset),
        )
    }

    /// A schema change event on the topic named by topic.prefix.
    pub fn schema_change(
        &self,
        db: &str,
        ddl: &str,
        table_changes: Vec<Value>,
        src: &SourceInfo<'_>,
        offset: &Arc<JsonMap>,
    ) -> SourceRecord {
        let ks = schema_change_key_schema(self.flavor);
        let vs = schema_change_value_schema(self.flavor);
        let (ms, _, _) = now();
        let key = Value::Struct(Struct {
            schema: ks.clone(),
            values: vec![Value::String(db.into())],
        });
        let value = Value::Struct(Struct {
            schema: vs.clone(),
            values: vec![
                Value::Struct(self.source(src)),
                Value::Int64(ms),
                Value::String(db.into()),
                Value::Null,
                Value::String(ddl.into()),
                Value::Array(table_changes),
            ],
        });
        let topic = topic_name(&[&*self.server_name]).into();
        self.record(
            &topic,
            (Some(ks), key),
            Some(vs),
            value,
            src.ts_ms,
            Some(offset),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::column::{plan, DecodeOptions};
    use crate::mysql::table_map::{col, MapColumn};

    fn setup(tombstones: bool) -> (EventBuilder, TableSchema) {
        let mut p = sluice_api::Props::new();
        for (k, v) in [
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.server.id", "9"),
            ("topic.prefix", "dbserver1"),
            (
                "tombstones.on.delete",
                if tombstones { "true" } else { "false" },
            ),
        ] {
            p.insert(k.into(), v.into());
        }
        let cfg = MySqlConfig::parse(&p, Flavor::MySql).unwrap();
        let plans = [(col::LONG, false, "id"), (col::VARCHAR, true, "name")]
            .iter()
            .enumerate()
            .map(|(i, (t, n, name))| {
                let c = MapColumn {
                    column_type: *t,
                    meta: 100,
                    nullable: *n,
                    name: Some(name.to_string()),
                    collation: Some(45),
                    ..Default::default()
                };
                plan(i, &c, None, &DecodeOptions::default()).unwrap()
            })
            .collect();
        let t = TableSchema::new(&cfg, "inventory", "customers", plans, &[0]).unwrap();
        (EventBuilder::new(&cfg), t)
    }

    fn row(id: i32, name: &str) -> Vec<Value> {
        vec![Value::Int32(id), Value::String(name.into())]
    }

    fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
        v.as_struct().unwrap().get(name).unwrap()
    }

    fn offsets() -> (Arc<JsonMap>, Arc<JsonMap>) {
        let mut a = JsonMap::new();
        a.insert("row".into(), 0.into());
        let mut b = JsonMap::new();
        b.insert("row".into(), 1.into());
        (Arc::new(a), Arc::new(b))
    }

    /// A streamed event's `source` (test strings live for the test run).
    fn info(db: &str, table: &str, file: &str) -> SourceInfo<'static> {
        let leak = |s: &str| &*Box::leak(Box::new(Arc::<str>::from(s)));
        SourceInfo {
            ts_ms: 0,
            snapshot: "false",
            db: leak(db),
            table: Some(leak(table)),
            server_id: 0,
            gtid: None,
            file: leak(file),
            pos: 0,
            row: 0,
            thread: None,
            query: None,
        }
    }

    #[test]
    fn create_update_delete_shapes() {
        let (eb, t) = setup(true);
        let (p, d) = offsets();
        let src = SourceInfo {
            pos: 9,
            ..info("inventory", "customers", "f")
        };
        let mut out = Vec::new();
        eb.change(
            &t,
            Op::Create,
            None,
            Some(&mut row(1, "a")),
            &src,
            &p,
            &d,
            &mut out,
        );
        eb.change(
            &t,
            Op::Update,
            Some(&mut row(1, "a")),
            Some(&mut row(1, "b")),
            &src,
            &p,
            &d,
            &mut out,
        );
        eb.change(
            &t,
            Op::Delete,
            Some(&mut row(1, "b")),
            None,
            &src,
            &p,
            &d,
            &mut out,
        );
        assert_eq!(out.len(), 4);
        let ops: Vec<&Value> = out[..3]
            .iter()
            .map(|r| field(&r.data.value, "op"))
            .collect();
        assert_eq!(
            ops,
            [
                &Value::String("c".into()),
                &Value::String("u".into()),
                &Value::String("d".into())
            ]
        );
        assert!(field(&out[0].data.value, "before").is_null());
        assert_eq!(
            field(field(&out[1].data.value, "before"), "name"),
            &Value::String("a".into())
        );
        assert_eq!(
            field(field(&out[1].data.value, "after"), "name"),
            &Value::String("b".into())
        );
        assert!(field(&out[2].data.value, "after").is_null());
        // The tombstone: same key, null value, and it ends the row.
        assert!(out[3].data.value.is_null() && out[3].data.value_schema.is_none());
        assert_eq!(out[3].data.key, out[2].data.key);
        assert_eq!(out[2].source_offset.as_ref().unwrap(), &p);
        assert_eq!(out[3].source_offset.as_ref().unwrap(), &d);
        let source = field(&out[0].data.value, "source");
        assert_eq!(field(source, "connector"), &Value::String("mysql".into()));
        assert_eq!(field(source, "name"), &Value::String("dbserver1".into()));
        assert_eq!(field(source, "pos"), &Value::Int64(9));
        assert_eq!(out[0].data.topic, "dbserver1.inventory.customers".into());
    }

    #[test]
    fn key_change_is_delete_tombstone_create() {
        let (eb, t) = setup(true);
        let (p, d) = offsets();
        let src = info("", "", "");
        let mut out = Vec::new();
        eb.change(
            &t,
            Op::Update,
            Some(&mut row(1, "a")),
            Some(&mut row(2, "a")),
            &src,
            &p,
            &d,
            &mut out,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(field(&out[0].data.value, "op"), &Value::String("d".into()));
        assert!(out[1].data.value.is_null());
        assert_eq!(field(&out[2].data.value, "op"), &Value::String("c".into()));
        assert_eq!(field(&out[2].data.key, "id"), &Value::Int32(2));
        assert_eq!(field(&out[0].data.key, "id"), &Value::Int32(1));
    }

    #[test]
    fn no_tombstones_when_disabled() {
        let (eb, t) = setup(false);
        let (p, d) = offsets();
        let mut out = Vec::new();
        eb.change(
            &t,
            Op::Delete,
            Some(&mut row(1, "a")),
            None,
            &info("", "", ""),
            &p,
            &d,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].source_offset.as_ref().unwrap(), &d);
    }
}
