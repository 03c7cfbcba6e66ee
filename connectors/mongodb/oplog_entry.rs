//! Decoding `local.oplog.rs` entries into [`ChangeEvent`]s.
//!
//! mongod's entry formats (4.0 to 8.x):
//! - insert `{op: "i", ns, o: <document>, o2?: {_id}}`;
//! - update `{op: "u", ns, o2: {_id}, o: ...}` where `o` is a `$v: 2`
//!   diff (`{$v: 2, diff: {u: {...}, i: {...}, d: {...}, s<field>: <sub
//!   diff>}}`; an array sub-diff has `a: true`, `u<index>`, `s<index>` and
//!   `l` for a new, shorter length), a `$v: 1` / unversioned modifier
//!   document (`{$set: {...}, $unset: {...}}`, mongod before 5.0), or a
//!   whole replacement document;
//! - delete `{op: "d", ns, o: {_id}}`;
//! - commands `{op: "c", ns: "<db>.$cmd", o: {...}}`: `applyOps` carries
//!   the ops of a transaction (with the entry's `lsid` and `txnNumber`)
//!   or of a multi-entry transaction (`partialTxn`: each entry's ops are
//!   committed when they are visible); `create`, `drop`, `dropDatabase`,
//!   `renameCollection`, index builds and the like are not document
//!   changes and are skipped;
//! - noops `{op: "n"}` (mongod's periodic writes) are skipped.
//!
//! SecantusDB writes updates as `{$v: 2, diff: {updatedFields,
//! removedFields, truncatedArrays}}` (change streams' updateDescription)
//! and a transaction as one entry per op sharing one `ts`; both decode
//! to the same events.
//!
//! Every entry decodes to one or more *units* (one per op; one for an
//! entry that is not a document change): the position inside a `ts` that
//! the offset's `tord` counts.

use bson::{Bson, Document, Timestamp};

use super::events::{ChangeEvent, UpdateDesc};
use crate::debezium::events::Op;

/// One unit of an entry: a change, or nothing to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event: ChangeEvent,
    /// The event's `after` must be looked up by `_id` (a diff update).
    pub lookup: bool,
}

/// An entry Sluice cannot take: the task fails naming it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// The ts, wall time and transaction of the entry that holds an op (an
/// `applyOps` entry for its inner ops).
#[derive(Debug, Clone)]
struct Context {
    ts: Timestamp,
    wall_ms: Option<i64>,
    lsid: Option<Document>,
    txn_number: Option<i64>,
}

/// The units of one oplog entry, in order.
pub fn decode_entry(entry: &Document) -> Result<Vec<Option<Change>>, DecodeError> {
    let ts = match entry.get("ts") {
        Some(Bson::Timestamp(t)) => *t,
        _ => return Err(DecodeError(format!("oplog entry without a ts: {entry}"))),
    };
    let ctx = Context {
        ts,
        wall_ms: match entry.get("wall") {
            Some(Bson::DateTime(d)) => Some(d.timestamp_millis()),
            _ => None,
        },
        lsid: entry.get_document("lsid").ok().cloned(),
        txn_number: int64(entry.get("txnNumber")),
    };
    let mut out = Vec::new();
    decode_op(entry, &ctx, &mut out)?;
    Ok(out)
}

fn int64(v: Option<&Bson>) -> Option<i64> {
    match v? {
        Bson::Int64(n) => Some(*n),
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Double(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

fn decode_op(
    op: &Document,
    ctx: &Context,
    out: &mut Vec<Option<Change>>,
) -> Result<(), DecodeError> {
    let kind = op.get_str("op").unwrap_or("");
    let ns = op.get_str("ns").unwrap_or("");
    if kind == "c" {
        let o = op.get_document("o").ok();
        if let Some(Ok(ops)) = o.map(|o| o.get_array("applyOps")) {
            if o.and_then(|o| o.get_bool("prepare").ok()) == Some(true) {
                return Err(DecodeError(format!(
                    "a prepared transaction (applyOps with prepare: true) at ts {}:{}: capture.mode=oplog does not support prepared (cross-shard) transactions; use capture.mode=change_streams_update_full",
                    ctx.ts.time, ctx.ts.increment
                )));
            }
            for inner in ops {
                match inner {
                    Bson::Document(d) => decode_op(d, ctx, out)?,
                    _ => out.push(None),
                }
            }
            return Ok(());
        }
        out.push(None);
        return Ok(());
    }
    let Some((db, coll)) = ns.split_once('.') else {
        out.push(None);
        return Ok(());
    };
    let event = |op: Op, id: Bson| ChangeEvent {
        op,
        db: db.to_string(),
        coll: coll.to_string(),
        id,
        after: None,
        before: None,
        update: None,
        cluster_time: ctx.ts,
        wall_ms: ctx.wall_ms,
        lsid: ctx.lsid.clone(),
        txn_number: ctx.txn_number,
    };
    let o = op.get_document("o").ok();
    let o2_id = op
        .get_document("o2")
        .ok()
        .and_then(|d| d.get("_id"))
        .cloned();
    let change = match (kind, o) {
        ("i", Some(o)) => {
            let id = o.get("_id").cloned().or(o2_id).unwrap_or(Bson::Null);
            let mut ev = event(Op::Create, id);
            ev.after = Some(o.clone());
            Some(Change {
                event: ev,
                lookup: false,
            })
        }
        ("u", Some(o)) => {
            let Some(id) = o2_id else {
                return Err(DecodeError(format!(
                    "oplog update on {ns} at ts {}:{} without o2._id",
                    ctx.ts.time, ctx.ts.increment
                )));
            };
            let mut ev = event(Op::Update, id);
            let lookup = match update_description(o) {
                Some(u) => {
                    ev.update = Some(u);
                    true
                }
                None => {
                    // A replacement: the entry holds the whole new document.
                    let mut doc = o.clone();
                    if !doc.contains_key("_id") {
                        let mut with_id = Document::new();
                        with_id.insert("_id", ev.id.clone());
                        with_id.extend(doc);
                        doc = with_id;
                    }
                    ev.after = Some(doc);
                    false
                }
            };
            Some(Change { event: ev, lookup })
        }
        ("d", Some(o)) => {
            let id = o.get("_id").cloned().or(o2_id).unwrap_or(Bson::Null);
            Some(Change {
                event: event(Op::Delete, id),
                lookup: false,
            })
        }
        _ => None,
    };
    out.push(change);
    Ok(())
}

/// The update description of a modifier update; `None` for a replacement.
pub fn update_description(o: &Document) -> Option<UpdateDesc> {
    let version = int64(o.get("$v"));
    if let (Some(2), Ok(diff)) = (version, o.get_document("diff")) {
        let mut u = UpdateDesc::default();
        if diff.contains_key("updatedFields") || diff.contains_key("removedFields") {
            secantus_diff(diff, &mut u);
        } else {
            object_diff(diff, "", &mut u);
        }
        return Some(u);
    }
    if !o.keys().any(|k| k.starts_with('$') && k != "$v") {
        return None;
    }
    let mut u = UpdateDesc::default();
    for (k, v) in o {
        match (k.as_str(), v) {
            ("$set", Bson::Document(set)) => {
                for (f, x) in set {
                    u.updated.insert(f.clone(), x.clone());
                }
            }
            ("$unset", Bson::Document(unset)) => u.removed.extend(unset.keys().cloned()),
            _ => {}
        }
    }
    Some(u)
}

/// SecantusDB's diff: already change streams' updateDescription.
fn secantus_diff(diff: &Document, u: &mut UpdateDesc) {
    if let Ok(set) = diff.get_document("updatedFields") {
        u.updated = set.clone();
    }
    if let Ok(removed) = diff.get_array("removedFields") {
        u.removed = removed
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
    }
    if let Ok(t) = diff.get_array("truncatedArrays") {
        for x in t.iter().filter_map(Bson::as_document) {
            let size = int64(x.get("newSize")).unwrap_or(0) as i32;
            u.truncated
                .push((x.get_str("field").unwrap_or("").to_string(), size));
        }
    }
}

fn path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

/// mongod's object diff: `u` (updated), `i` (inserted), `d` (deleted),
/// `s<field>` (a sub-diff of a document or array field).
fn object_diff(diff: &Document, prefix: &str, u: &mut UpdateDesc) {
    for (k, v) in diff {
        match (k.as_str(), v) {
            ("u" | "i", Bson::Document(fields)) => {
                for (f, x) in fields {
                    u.updated.insert(path(prefix, f), x.clone());
                }
            }
            ("d", Bson::Document(fields)) => {
                u.removed.extend(fields.keys().map(|f| path(prefix, f)));
            }
            (k, Bson::Document(sub)) if k.len() > 1 && k.starts_with('s') => {
                sub_diff(sub, &path(prefix, &k[1..]), u)
            }
            _ => {}
        }
    }
}

fn sub_diff(sub: &Document, prefix: &str, u: &mut UpdateDesc) {
    if sub.get_bool("a").ok() == Some(true) {
        array_diff(sub, prefix, u);
    } else {
        object_diff(sub, prefix, u);
    }
}

/// mongod's array diff: `a: true`, `l` (the new, shorter length),
/// `u<index>` (a new value), `s<index>` (a sub-diff of an element).
fn array_diff(diff: &Document, prefix: &str, u: &mut UpdateDesc) {
    for (k, v) in diff {
        if k == "a" {
            continue;
        }
        if k == "l" {
            u.truncated
                .push((prefix.to_string(), int64(Some(v)).unwrap_or(0) as i32));
            continue;
        }
        let (tag, index) = k.split_at(1);
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        match (tag, v) {
            ("u", x) => {
                u.updated.insert(path(prefix, index), x.clone());
            }
            ("s", Bson::Document(sub)) => sub_diff(sub, &path(prefix, index), u),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId, Binary, DateTime};

    fn ts(i: u32) -> Timestamp {
        Timestamp {
            time: 1_700_000_000,
            increment: i,
        }
    }

    fn ui() -> Bson {
        Bson::Binary(Binary {
            subtype: bson::spec::BinarySubtype::Uuid,
            bytes: vec![7; 16],
        })
    }

    fn only(entry: Document) -> Change {
        let mut units = decode_entry(&entry).unwrap();
        assert_eq!(units.len(), 1, "{entry}");
        units.pop().unwrap().expect("a change")
    }

    #[test]
    fn mongod_insert_and_delete() {
        let oid = ObjectId::from_bytes([1; 12]);
        let ins = only(doc! {
            "lsid": {"id": ui(), "uid": Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0; 32] }},
            "txnNumber": 1_i64, "op": "i", "ns": "inv.users", "ui": ui(),
            "o": {"_id": oid, "name": "a"}, "o2": {"_id": oid},
            "stmtId": 0, "ts": ts(1), "t": 1_i64, "v": 2_i64,
            "wall": DateTime::from_millis(1_700_000_000_123), "prevOpTime": {"ts": ts(0), "t": -1_i64},
        });
        let e = &ins.event;
        assert_eq!(
            (e.op, e.db.as_str(), e.coll.as_str()),
            (Op::Create, "inv", "users")
        );
        assert_eq!(e.id, Bson::ObjectId(oid));
        assert_eq!(e.after, Some(doc! {"_id": oid, "name": "a"}));
        assert_eq!(
            (e.cluster_time, e.wall_ms, e.txn_number),
            (ts(1), Some(1_700_000_000_123), Some(1))
        );
        assert!(!ins.lookup);
        let del = only(
            doc! {"op": "d", "ns": "inv.users", "ui": ui(), "o": {"_id": 5}, "ts": ts(2), "t": 1_i64, "v": 2_i64, "wall": DateTime::from_millis(1)},
        );
        assert_eq!(
            (del.event.op, del.event.id.clone(), del.event.after.clone()),
            (Op::Delete, Bson::Int32(5), None)
        );
    }

    #[test]
    fn mongod_v2_diffs_become_update_descriptions() {
        // db.users.updateOne({_id: 1}, {$set: {name: "b", "addr.city": "x",
        // "tags.1": "z", "new": 1}, $unset: {old: ""}, $pop: {...}}) on mongod 6.
        let u = only(doc! {
            "op": "u", "ns": "inv.users", "ui": ui(),
            "o": {"$v": 2, "diff": {
                "d": {"old": false},
                "u": {"name": "b"},
                "i": {"new": 1},
                "saddr": {"u": {"city": "x"}, "sgeo": {"d": {"lat": false}}},
                "stags": {"a": true, "u1": "z", "s2": {"i": {"k": 1}}},
                "sitems": {"a": true, "l": 2},
            }},
            "o2": {"_id": 1}, "ts": ts(3), "t": 1_i64, "v": 2_i64, "wall": DateTime::from_millis(1),
        });
        assert!(u.lookup, "a diff update needs the post-image");
        assert_eq!(u.event.after, None);
        let d = u.event.update.unwrap();
        assert_eq!(
            d.updated,
            doc! {"name": "b", "new": 1, "addr.city": "x", "tags.1": "z", "tags.2.k": 1}
        );
        assert_eq!(
            d.removed,
            vec!["old".to_string(), "addr.geo.lat".to_string()]
        );
        assert_eq!(d.truncated, vec![("items".to_string(), 2)]);
    }

    #[test]
    fn legacy_modifiers_and_replacements() {
        let legacy = only(
            doc! {"op": "u", "ns": "a.b", "o": {"$v": 1, "$set": {"x.y": 2}, "$unset": {"z": true}}, "o2": {"_id": "k"}, "ts": ts(4), "h": 99_i64, "v": 2},
        );
        let d = legacy.event.update.clone().unwrap();
        assert_eq!(
            (d.updated, d.removed),
            (doc! {"x.y": 2}, vec!["z".to_string()])
        );
        assert!(legacy.lookup);
        let plain = only(
            doc! {"op": "u", "ns": "a.b", "o": {"$set": {"q": 1}}, "o2": {"_id": "k"}, "ts": ts(4)},
        );
        assert_eq!(plain.event.update.unwrap().updated, doc! {"q": 1});
        // A replacement: the document itself (mongod includes _id).
        let r = only(
            doc! {"op": "u", "ns": "a.b", "o": {"_id": "k", "r": true}, "o2": {"_id": "k"}, "ts": ts(5)},
        );
        assert_eq!(
            (r.event.after, r.event.update, r.lookup),
            (Some(doc! {"_id": "k", "r": true}), None, false)
        );
        let no_id =
            only(doc! {"op": "u", "ns": "a.b", "o": {"r": 1}, "o2": {"_id": 3}, "ts": ts(5)});
        assert_eq!(no_id.event.after, Some(doc! {"_id": 3, "r": 1}));
    }

    #[test]
    fn secantus_diffs() {
        let u = only(
            doc! {"op": "u", "ns": "x.t", "o": {"$v": 2, "diff": {"updatedFields": {"b": 2, "n.x": 5}, "removedFields": ["a"], "truncatedArrays": [{"field": "arr", "newSize": 1}]}}, "o2": {"_id": 1}, "ts": ts(2), "wall": DateTime::from_millis(5)},
        );
        let d = u.event.update.unwrap();
        assert_eq!(d.updated, doc! {"b": 2, "n.x": 5});
        assert_eq!(
            (d.removed, d.truncated),
            (vec!["a".to_string()], vec![("arr".to_string(), 1)])
        );
    }

    #[test]
    fn apply_ops_transactions_and_skipped_entries() {
        let lsid = doc! {"id": ui(), "uid": Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1; 32] }};
        let txn = doc! {
            "lsid": lsid.clone(), "txnNumber": 7_i64, "op": "c", "ns": "admin.$cmd",
            "o": {"applyOps": [
                {"op": "i", "ns": "shop.orders", "ui": ui(), "o": {"_id": 1, "qty": 2}, "o2": {"_id": 1}},
                {"op": "u", "ns": "shop.orders", "ui": ui(), "o": {"$v": 2, "diff": {"u": {"qty": 3}}}, "o2": {"_id": 1}},
                {"op": "d", "ns": "shop.lines", "ui": ui(), "o": {"_id": 9}},
            ]},
            "ts": ts(8), "t": 1_i64, "v": 2_i64, "wall": DateTime::from_millis(42), "prevOpTime": {"ts": ts(0), "t": -1_i64},
        };
        let units = decode_entry(&txn).unwrap();
        assert_eq!(units.len(), 3);
        let evs: Vec<&ChangeEvent> = units.iter().map(|u| &u.as_ref().unwrap().event).collect();
        assert_eq!(
            evs.iter().map(|e| e.op).collect::<Vec<_>>(),
            [Op::Create, Op::Update, Op::Delete]
        );
        assert_eq!(evs[2].coll, "lines");
        for e in &evs {
            assert_eq!(
                (e.cluster_time, e.wall_ms, e.txn_number, e.lsid.as_ref()),
                (ts(8), Some(42), Some(7), Some(&lsid))
            );
        }
        // Commands and noops: one unit, nothing to publish.
        for e in [
            doc! {"op": "n", "ns": "", "o": {"msg": "periodic noop"}, "ts": ts(9), "t": 1_i64},
            doc! {"op": "c", "ns": "shop.$cmd", "ui": ui(), "o": {"create": "orders", "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}, "ts": ts(10)},
            doc! {"op": "c", "ns": "shop.$cmd", "o": {"drop": "orders"}, "o2": {"numRecords": 3}, "ts": ts(11)},
            doc! {"op": "c", "ns": "shop.$cmd", "o": {"dropDatabase": 1}, "ts": ts(12)},
            doc! {"op": "c", "ns": "admin.$cmd", "o": {"commitTransaction": 1, "commitTimestamp": ts(12)}, "ts": ts(13)},
        ] {
            assert_eq!(decode_entry(&e).unwrap(), vec![None], "{e}");
        }
        let prepared = doc! {"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [], "prepare": true}, "ts": ts(14)};
        assert!(decode_entry(&prepared)
            .unwrap_err()
            .0
            .contains("change_streams"));
        assert!(decode_entry(&doc! {"op": "i"}).is_err(), "no ts");
        assert!(
            decode_entry(&doc! {"op": "u", "ns": "a.b", "o": {"$set": {"a": 1}}, "ts": ts(1)})
                .is_err(),
            "no o2"
        );
    }
}
