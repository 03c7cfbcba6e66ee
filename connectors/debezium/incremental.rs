//! The incremental snapshot's state, shared by the connectors: which data
//! collections are still to be read, how far the current one is, and the
//! window that deduplicates a chunk against the stream (Debezium's
//! watermark algorithm, DDD-3).
//!
//! Why no row is lost and no stale row wins:
//! - A chunk is read between two watermarks the connector writes into the
//!   change log (for MySQL, rows inserted into the signal table): *open*,
//!   then the chunk's SELECT, then *close*. The reader holds the chunk's
//!   rows in the window until the stream reaches *close*.
//! - A change the stream meets between *open* and *close* to a key the
//!   chunk holds is newer than, or as new as, what the SELECT read (the
//!   SELECT ran after *open* was committed): the chunk's row for that key is
//!   dropped, and the streamed change stands.
//! - A change before *open* is older than the SELECT: the chunk's row,
//!   emitted at *close*, comes after it. A change after *close* comes after
//!   the chunk's rows. So replaying the topic leaves every key as the table
//!   has it.
//! - The offset carries the last key of the last chunk *emitted* (never of
//!   one read but still in the window), and it is written only on a record
//!   at or after that chunk's last row: a restart reads the next chunk
//!   afresh (with new watermarks; old ones in the log are ignored, their ids
//!   are not the current chunk's). At most one chunk is read twice.

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Value as Json};
use sluice_api::data::{JsonMap, SourceRecord, Value};
use sluice_api::SourceTaskContext;

use super::notify::{Notifier, INCREMENTAL};
use super::signal::Action;

/// One data collection queued for the incremental snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// `<db>.<table>`.
    pub id: String,
    /// `additional-conditions` filter (SQL).
    pub condition: Option<String>,
    /// `surrogate-key`.
    pub surrogate_key: Option<String>,
}

/// The chunk in the window: its rows by key, in key order.
#[derive(Debug, Default)]
struct Window {
    id: String,
    open: bool,
    rows: Vec<Option<SourceRecord>>,
    by_key: HashMap<String, usize>,
    /// The chunk's last key (text values of the key columns).
    last_key: Option<Vec<Json>>,
    /// Whether this chunk ends its table's scan.
    last_of_table: bool,
}

/// The incremental snapshot's state.
#[derive(Debug, Default)]
pub struct Incremental {
    /// The signal id that started the snapshot (notifications' id).
    pub correlation: Option<String>,
    /// Still to read; the first is the current one.
    pub collections: VecDeque<Collection>,
    /// Last key of the current collection's last emitted chunk.
    pub emitted_key: Option<Vec<Json>>,
    /// The current collection's greatest key when its scan started.
    pub max_key: Option<Vec<Json>>,
    pub paused: bool,
    /// Rows read of the current collection.
    pub rows_scanned: u64,
    window: Option<Window>,
    /// Rows read per collection by this task (its progress).
    tables: serde_json::Map<String, Json>,
}

const COLLECTIONS: &str = "incremental_snapshot_collections";
const PRIMARY_KEY: &str = "incremental_snapshot_primary_key";
const MAXIMUM_KEY: &str = "incremental_snapshot_maximum_key";
const CORRELATION: &str = "incremental_snapshot_correlation_id";

/// Sluice writes its keys as `sluice:` + a JSON array of the key columns'
/// text; Debezium writes a hex Java serialization that Sluice does not
/// read (the current collection is then scanned from its start).
const KEY_TAG: &str = "sluice:";

/// Whether the regular expression `re` matches all of `s`.
pub fn full_match(re: &str, s: &str) -> bool {
    regex::Regex::new(&format!("^(?:{re})$")).is_ok_and(|r| r.is_match(s))
}

/// A random version 4 UUID's text (36 characters: with `-close`, the 42
/// of the signal table's id column).
pub fn new_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A key's text for deduplication: the values of its fields.
pub fn key_text(key: &Value) -> String {
    match key {
        Value::Struct(s) => format!("{:?}", s.values),
        other => format!("{other:?}"),
    }
}

impl Incremental {
    pub fn active(&self) -> bool {
        !self.collections.is_empty()
    }

    pub fn current(&self) -> Option<&Collection> {
        self.collections.front()
    }

    /// Queues `add` (collections already queued are not queued twice).
    /// Returns those added.
    pub fn add(&mut self, correlation: &str, add: Vec<Collection>) -> Vec<Collection> {
        if self.collections.is_empty() {
            self.correlation = (!correlation.is_empty()).then(|| correlation.to_string());
            self.emitted_key = None;
            self.max_key = None;
            self.rows_scanned = 0;
        }
        let mut added = Vec::new();
        for c in add {
            if !self.collections.iter().any(|q| q.id == c.id) {
                self.collections.push_back(c.clone());
                added.push(c);
            }
        }
        added
    }

    /// Drops `ids` (all when empty) from the queue; the current chunk is
    /// dropped with its collection. Returns the ids dropped.
    pub fn stop(&mut self, ids: &[String]) -> Vec<String> {
        let mut dropped = Vec::new();
        let first = self.collections.front().map(|c| c.id.clone());
        self.collections.retain(|c| {
            let drop = ids.is_empty() || ids.iter().any(|i| i == &c.id);
            if drop {
                dropped.push(c.id.clone());
            }
            !drop
        });
        if first != self.collections.front().map(|c| c.id.clone()) {
            self.next_collection_reset();
        }
        dropped
    }

    fn next_collection_reset(&mut self) {
        self.window = None;
        self.emitted_key = None;
        self.max_key = None;
        self.rows_scanned = 0;
        if self.collections.is_empty() {
            self.correlation = None;
            self.paused = false;
        }
    }

    /// The current collection is done (scanned, dropped or unreadable).
    pub fn finish_current(&mut self) -> Option<Collection> {
        let c = self.collections.pop_front();
        self.next_collection_reset();
        c
    }

    /// Drops the chunk in the window unread (its table's definition
    /// changed): the next read starts after the last key emitted again.
    pub fn drop_window(&mut self) {
        self.window = None;
    }

    /// Whether a chunk is in the window (read, not yet emitted).
    pub fn in_window(&self) -> bool {
        self.window.is_some()
    }

    /// Puts a chunk read between the watermarks of `id` into the window.
    pub fn set_window(
        &mut self,
        id: String,
        rows: Vec<SourceRecord>,
        last_key: Option<Vec<Json>>,
        last_of_table: bool,
    ) {
        let mut by_key = HashMap::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            by_key.insert(key_text(&r.data.key), i);
        }
        self.window = Some(Window {
            id,
            open: false,
            rows: rows.into_iter().map(Some).collect(),
            by_key,
            last_key,
            last_of_table,
        });
    }

    /// The open watermark `signal_id` reached the stream.
    pub fn open(&mut self, signal_id: &str) -> bool {
        match &mut self.window {
            Some(w) if signal_id == format!("{}-open", w.id) => {
                w.open = true;
                true
            }
            _ => false,
        }
    }

    /// Whether `signal_id` is the current chunk's close watermark.
    pub fn is_close(&self, signal_id: &str) -> bool {
        matches!(&self.window, Some(w) if w.open && signal_id == format!("{}-close", w.id))
    }

    /// A streamed change of `collection` with `key`: while the window is
    /// open, the chunk's row for that key is dropped.
    pub fn dedup(&mut self, collection: &str, key: &Value) {
        let Some(w) = &mut self.window else {
            return;
        };
        if !w.open || self.collections.front().is_none_or(|c| c.id != collection) {
            return;
        }
        if let Some(i) = w.by_key.remove(&key_text(key)) {
            w.rows[i] = None;
        }
    }

    /// Whether streamed changes of `collection` are to be checked.
    pub fn watches(&self, collection: &str) -> bool {
        matches!(&self.window, Some(w) if w.open)
            && self.collections.front().is_some_and(|c| c.id == collection)
    }

    /// Closes the window: the chunk's rows left, to emit, and whether the
    /// current collection's scan is done with them.
    pub fn close(&mut self) -> (Vec<SourceRecord>, bool) {
        let Some(w) = self.window.take() else {
            return (Vec::new(), false);
        };
        let rows: Vec<SourceRecord> = w.rows.into_iter().flatten().collect();
        if w.last_key.is_some() {
            self.emitted_key = w.last_key;
        }
        (rows, w.last_of_table)
    }

    /// Publishes the snapshot's progress to `ctx` (the status JSON's
    /// `snapshot` part, Debezium's snapshot metrics): rows read per
    /// collection, the collections left, and `chunk` = (id, from, to, the
    /// collection's greatest key) of the chunk just read, keys as the
    /// connector shows them.
    pub fn publish(
        &mut self,
        ctx: Option<&SourceTaskContext>,
        chunk: Option<(&str, String, String, String)>,
    ) {
        let Some(ctx) = ctx else {
            return;
        };
        if let Some(c) = self.current() {
            self.tables
                .insert(c.id.clone(), json!({"rows": self.rows_scanned}));
        }
        let mut v = json!({
            "running": self.active(),
            "incremental": true,
            "tables": self.tables,
            "RemainingTableCount": self.collections.len(),
        });
        if let (Some((id, from, to, max)), Some(c)) = (chunk, self.current()) {
            v["ChunkId"] = Json::from(id);
            v["ChunkFrom"] = Json::from(from);
            v["ChunkTo"] = Json::from(to);
            v["CurrentTable"] = Json::from(c.id.as_str());
            v["TableTo"] = Json::from(max);
        }
        ctx.update_progress("snapshot", v);
    }

    /// The queued collections, comma-separated (notifications'
    /// `data_collections`).
    pub fn names(&self) -> String {
        self.collections
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// An Incremental Snapshot notification, with the snapshot's
    /// correlation id (the signal's), or a new one.
    pub fn notify(
        &self,
        n: &Notifier,
        kind: &str,
        data: &[(&str, String)],
        out: &mut Vec<SourceRecord>,
    ) {
        let id = self.correlation.clone().unwrap_or_else(new_uuid);
        n.notify(&id, INCREMENTAL, kind, data, out);
    }

    /// Queues the collections an execute-snapshot named (STARTED when no
    /// snapshot ran). Returns whether the caller reads a chunk now.
    pub fn begin(
        &mut self,
        n: &Notifier,
        signal: &str,
        add: Vec<Collection>,
        out: &mut Vec<SourceRecord>,
    ) -> bool {
        let was_active = self.active();
        let added = self.add(signal, add);
        if added.is_empty() {
            return false;
        }
        let list: Vec<&str> = added.iter().map(|c| c.id.as_str()).collect();
        tracing::info!(
            "signal {signal}: incremental snapshot of {}",
            list.join(",")
        );
        if !was_active {
            self.notify(n, "STARTED", &[("data_collections", list.join(","))], out);
        }
        !self.in_window()
    }

    /// `stop-snapshot`, `pause-snapshot`, `resume-snapshot` (their
    /// notifications included). Returns whether the caller reads a chunk
    /// now; other actions are not handled here (false).
    pub fn control(
        &mut self,
        n: &Notifier,
        signal: &str,
        action: &Action,
        out: &mut Vec<SourceRecord>,
    ) -> bool {
        match action {
            Action::Stop(ids) => {
                let matching: Vec<String> = self
                    .collections
                    .iter()
                    .filter(|c| ids.is_empty() || ids.iter().any(|r| full_match(r, &c.id)))
                    .map(|c| c.id.clone())
                    .collect();
                if matching.is_empty() {
                    tracing::info!("signal {signal}: stop-snapshot names no collection of the running incremental snapshot");
                    return false;
                }
                let id = self
                    .correlation
                    .clone()
                    .unwrap_or_else(|| signal.to_string());
                let dropped = self.stop(&matching);
                tracing::info!(
                    "signal {signal}: incremental snapshot of {} stopped",
                    dropped.join(",")
                );
                n.notify(
                    &id,
                    INCREMENTAL,
                    "ABORTED",
                    &[("data_collections", dropped.join(","))],
                    out,
                );
                true
            }
            Action::Pause if self.active() && !self.paused => {
                self.paused = true;
                tracing::info!("signal {signal}: incremental snapshot paused");
                self.notify(n, "PAUSED", &[("data_collections", self.names())], out);
                false
            }
            Action::Resume if self.paused => {
                self.paused = false;
                tracing::info!("signal {signal}: incremental snapshot resumed");
                self.notify(n, "RESUMED", &[("data_collections", self.names())], out);
                !self.in_window()
            }
            _ => false,
        }
    }

    /// The current collection's scan ended (`status`: Debezium's
    /// TableScanCompletionStatus); COMPLETED when it was the last.
    pub fn table_done(
        &mut self,
        n: &Notifier,
        ctx: Option<&SourceTaskContext>,
        status: &str,
        out: &mut Vec<SourceRecord>,
    ) {
        let current = self.current().map(|c| c.id.clone()).unwrap_or_default();
        tracing::info!(
            "incremental snapshot of {current}: {} rows ({status})",
            self.rows_scanned
        );
        self.notify(
            n,
            "TABLE_SCAN_COMPLETED",
            &[
                ("data_collections", self.names()),
                ("scanned_collection", current),
                ("total_rows_scanned", self.rows_scanned.to_string()),
                ("status", status.to_string()),
            ],
            out,
        );
        let correlation = self.correlation.clone();
        self.finish_current();
        self.publish(ctx, None);
        if !self.active() {
            tracing::info!("incremental snapshot completed");
            let id = correlation.unwrap_or_else(new_uuid);
            n.notify(&id, INCREMENTAL, "COMPLETED", &[], out);
        }
    }

    /// A chunk of `rows` read: IN_PROGRESS, progress, and the window.
    /// `show` writes a key part as the connector shows it.
    #[allow(clippy::too_many_arguments)]
    pub fn chunk_read(
        &mut self,
        n: &Notifier,
        ctx: Option<&SourceTaskContext>,
        chunk: String,
        rows: Vec<SourceRecord>,
        last_key: Option<Vec<Json>>,
        show: &dyn Fn(&Json) -> String,
        out: &mut Vec<SourceRecord>,
    ) {
        let text = |k: &Option<Vec<Json>>| match k {
            Some(k) => k.iter().map(show).collect::<Vec<_>>().join(","),
            None => String::new(),
        };
        let shown = (
            text(&self.emitted_key),
            text(&last_key),
            text(&self.max_key),
        );
        let current = self.current().map(|c| c.id.clone()).unwrap_or_default();
        let or_null = |s: &str| {
            if s.is_empty() {
                "\"<null>\"".to_string()
            } else {
                s.to_string()
            }
        };
        self.notify(
            n,
            "IN_PROGRESS",
            &[
                ("data_collections", self.names()),
                ("current_collection_in_progress", current),
                ("maximum_key", or_null(&shown.2)),
                ("last_processed_key", or_null(&shown.1)),
            ],
            out,
        );
        self.publish(ctx, Some((&chunk, shown.0, shown.1, shown.2)));
        self.set_window(chunk, rows, last_key, false);
    }

    /// The offset fields of this state (none when no snapshot runs).
    pub fn offset_fields(&self) -> Option<JsonMap> {
        if self.collections.is_empty() {
            return None;
        }
        let list: Vec<Json> = self
            .collections
            .iter()
            .map(|c| {
                json!({
                    "incremental_snapshot_collections_id": c.id,
                    "incremental_snapshot_collections_additional_condition": c.condition,
                    "incremental_snapshot_collections_surrogate_key": c.surrogate_key,
                })
            })
            .collect();
        let mut m = JsonMap::new();
        m.insert(
            COLLECTIONS.into(),
            Json::String(Json::Array(list).to_string()),
        );
        let key = |k: &Option<Vec<Json>>| {
            k.as_ref()
                .map(|k| Json::String(format!("{KEY_TAG}{}", Json::Array(k.clone()))))
                .unwrap_or(Json::Null)
        };
        m.insert(PRIMARY_KEY.into(), key(&self.emitted_key));
        m.insert(MAXIMUM_KEY.into(), key(&self.max_key));
        if let Some(c) = &self.correlation {
            m.insert(CORRELATION.into(), json!(c));
        }
        Some(m)
    }

    /// The incremental snapshot fields of a stored offset, if any.
    pub fn offset_part(m: &JsonMap) -> Option<JsonMap> {
        let part: JsonMap = m
            .iter()
            .filter(|(k, _)| k.starts_with("incremental_snapshot_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!part.is_empty()).then_some(part)
    }

    /// The state a stored offset's fields describe (its window empty: a
    /// restart reads the next chunk afresh).
    pub fn from_offset(m: &JsonMap) -> Incremental {
        let mut inc = Incremental::default();
        let Some(list) = m.get(COLLECTIONS).and_then(Json::as_str) else {
            return inc;
        };
        let Ok(Json::Array(list)) = serde_json::from_str::<Json>(list) else {
            tracing::warn!("the offset's {COLLECTIONS} is unreadable; the incremental snapshot it describes is dropped: {list}");
            return inc;
        };
        let text = |v: Option<&Json>| v.and_then(Json::as_str).map(String::from);
        for c in &list {
            if let Some(id) = text(c.get("incremental_snapshot_collections_id")) {
                inc.collections.push_back(Collection {
                    id,
                    condition: text(c.get("incremental_snapshot_collections_additional_condition")),
                    surrogate_key: text(c.get("incremental_snapshot_collections_surrogate_key")),
                });
            }
        }
        let key = |k: &str| -> Option<Vec<Json>> {
            let s = m.get(k)?.as_str()?;
            match s
                .strip_prefix(KEY_TAG)
                .map(serde_json::from_str::<Vec<Json>>)
            {
                Some(Ok(v)) => Some(v),
                _ => {
                    tracing::warn!("the offset's {k} was not written by Sluice (Debezium's serialized form?); the current table's incremental snapshot starts from its first row again");
                    None
                }
            }
        };
        inc.emitted_key = key(PRIMARY_KEY);
        inc.max_key = inc.emitted_key.as_ref().and_then(|_| key(MAXIMUM_KEY));
        if inc.max_key.is_none() {
            inc.emitted_key = None;
        }
        inc.correlation = text(m.get(CORRELATION));
        inc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::{RecordData, SchemaBuilder, Struct};
    use std::sync::Arc;

    fn rec(k: i32) -> SourceRecord {
        let schema = SchemaBuilder::structure()
            .field("id", SchemaBuilder::int32().build())
            .build();
        SourceRecord::new(
            Arc::new(JsonMap::new()),
            None,
            RecordData {
                topic: "t".into(),
                kafka_partition: None,
                key_schema: Some(schema.clone()),
                key: Value::Struct(Struct::from_values(schema, vec![Value::Int32(k)])),
                value_schema: None,
                value: Value::Int32(k),
                timestamp: None,
                headers: Default::default(),
                kafka_offset: None,
            },
        )
    }

    fn coll(id: &str) -> Collection {
        Collection {
            id: id.into(),
            condition: None,
            surrogate_key: None,
        }
    }

    #[test]
    fn streamed_changes_inside_the_window_win_over_the_chunk() {
        let mut inc = Incremental::default();
        inc.add("sig-1", vec![coll("db.t")]);
        inc.set_window(
            "c1".into(),
            (1..=4).map(rec).collect(),
            Some(vec![json!("4")]),
            false,
        );
        // Before the open watermark: not deduplicated.
        inc.dedup("db.t", &rec(1).data.key);
        assert!(!inc.open("c0-open"));
        assert!(inc.open("c1-open"));
        inc.dedup("db.t", &rec(2).data.key);
        inc.dedup("db.other", &rec(3).data.key);
        assert!(!inc.is_close("c0-close"));
        assert!(inc.is_close("c1-close"));
        let (rows, done) = inc.close();
        let keys: Vec<i32> = rows
            .iter()
            .map(|r| match r.data.value {
                Value::Int32(k) => k,
                _ => 0,
            })
            .collect();
        assert_eq!(keys, [1, 3, 4]);
        assert!(!done);
        assert_eq!(inc.emitted_key, Some(vec![json!("4")]));
    }

    #[test]
    fn the_offset_round_trips_without_the_window() {
        let mut inc = Incremental::default();
        inc.add("sig-1", vec![coll("db.a"), coll("db.b")]);
        inc.max_key = Some(vec![json!("9"), json!("x")]);
        inc.set_window(
            "c1".into(),
            vec![rec(1)],
            Some(vec![json!("1"), json!("a")]),
            false,
        );
        inc.open("c1-open");
        inc.close();
        let m = inc.offset_fields().unwrap();
        let back = Incremental::from_offset(&m);
        assert_eq!(back.collections, inc.collections);
        assert_eq!(back.emitted_key, Some(vec![json!("1"), json!("a")]));
        assert_eq!(back.max_key, inc.max_key);
        assert_eq!(back.correlation.as_deref(), Some("sig-1"));
        assert!(!back.in_window());
        // Debezium's serialized keys: the table starts again.
        let mut d = m.clone();
        d.insert(PRIMARY_KEY.into(), json!("aced0005757200"));
        let back = Incremental::from_offset(&d);
        assert_eq!(back.emitted_key, None);
        assert_eq!(back.collections.len(), 2);
    }

    #[test]
    fn stop_drops_collections_and_the_current_window() {
        let mut inc = Incremental::default();
        inc.add("s", vec![coll("db.a"), coll("db.b"), coll("db.a")]);
        assert_eq!(inc.collections.len(), 2);
        inc.set_window("c".into(), vec![rec(1)], None, false);
        assert_eq!(inc.stop(&["db.a".into()]), ["db.a"]);
        assert!(!inc.in_window());
        assert_eq!(inc.current().unwrap().id, "db.b");
        assert_eq!(inc.stop(&[]), ["db.b"]);
        assert!(!inc.active());
        assert!(inc.offset_fields().is_none());
    }
}
