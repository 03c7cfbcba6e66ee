//! The source offset: where a restart resumes.
//!
//! Debezium 2.x's MongoDB offset, under the source partition
//! `{"server_id": <topic.prefix>}`:
//! `{"sec": <cluster time seconds>, "ord": <increment>, "resume_token":
//! <base64 of the resume token document>, "lsid"?, "txnNumber"?,
//! "initsync"?: true}`. The resume token is opaque (SecantusDB's are not
//! mongod's KeyString); a restart passes it back as `resumeAfter`, which
//! starts exactly after the event it names. Offsets written by older
//! Debezium versions (the token's hex `_data` string) are read too.
//!
//! Without a token (a snapshot that began on a server that gave none), the
//! cluster time is the position: `startAtOperationTime`, inclusive, so the
//! events at that exact time may be delivered twice, never skipped.
//!
//! `initsync: true` marks records of a snapshot still in progress: a task
//! that restarts with it snapshots again (as Debezium does).
//!
//! The oplog mode (capture.mode=oplog) has no resume token: its position is
//! the oplog entry's `ts` (`sec`, `ord`) plus `tord`, the number of changes
//! at that `ts` already delivered (the ops of an `applyOps` transaction
//! entry, or SecantusDB's transaction entries, share one `ts`). A restart
//! reads from `ts >= (sec, ord)` and skips the first `tord` changes there;
//! without `tord` it reads from `ts > (sec, ord)`. (Debezium 1.x's oplog
//! offsets used the same `tord` name for the position inside a transaction.)
//!
//! Switching capture.mode with a stored offset ([`MongoOffset::for_mode`]):
//! both modes' offsets carry the cluster time of the last delivered change,
//! and a change stream event's `clusterTime` is its oplog entry's `ts`, so
//! the other mode resumes from that time. An offset written by the change
//! stream (it has a `resume_token`) or by the oplog reader (it has `tord`)
//! is rewritten for the other mode: right after its cluster time, where one
//! time is one change; at its cluster time again, where the change was part
//! of a transaction (`lsid`/`txnNumber` set): the changes of one
//! transaction share one time, and the offset does not say how many of them
//! the other mode counted. So a switch never skips a change, and delivers
//! again at most the rest of one transaction.

use base64::Engine as _;
use bson::{Document, Timestamp};
use sluice_api::data::JsonMap;

/// A typed MongoDB source offset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MongoOffset {
    pub sec: u32,
    pub ord: u32,
    /// The change stream's resume token (`{"_data": ...}`), or for the
    /// oplog mode none (the cluster time is exact there).
    pub resume_token: Option<Document>,
    pub lsid: Option<String>,
    pub txn_number: Option<i64>,
    /// Oplog mode: changes at `(sec, ord)` already delivered (see the module doc).
    pub tord: Option<u32>,
    pub initsync: bool,
    /// A running incremental snapshot's `incremental_snapshot_*` fields.
    pub incremental: Option<Box<JsonMap>>,
}

/// Which capture mode wrote an offset, as far as it shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Origin {
    ChangeStream,
    Oplog,
    /// Only a cluster time (a snapshot's start position): both modes read it.
    Either,
}

/// An offset that cannot be read back.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct OffsetError(String);

impl MongoOffset {
    pub fn timestamp(&self) -> Timestamp {
        Timestamp {
            time: self.sec,
            increment: self.ord,
        }
    }

    pub fn origin(&self) -> Origin {
        if self.resume_token.is_some() {
            Origin::ChangeStream
        } else if self.tord.is_some() {
            Origin::Oplog
        } else {
            Origin::Either
        }
    }

    fn in_transaction(&self) -> bool {
        self.lsid.is_some() || self.txn_number.is_some()
    }

    /// The offset as the capture mode in use reads it (see the module doc):
    /// `None` when it was written by that mode (or by either), else the
    /// rewritten offset. Fails when the offset has no cluster time to go on.
    pub fn for_mode(&self, oplog: bool) -> Result<Option<MongoOffset>, OffsetError> {
        let from = self.origin();
        if from == Origin::Either || (from == Origin::Oplog) == oplog {
            return Ok(None);
        }
        if self.sec == 0 {
            return Err(OffsetError(format!(
                "the stored offset was written by capture.mode={} and holds no cluster time to resume from in capture.mode={}",
                if oplog { "change_streams" } else { "oplog" },
                if oplog { "oplog" } else { "change_streams" },
            )));
        }
        let (sec, ord) = if self.in_transaction() {
            // At the transaction's time again.
            if oplog {
                // The oplog reader reads `ts >` a position without `tord`.
                match self.ord.checked_sub(1) {
                    Some(o) => (self.sec, o),
                    None => (self.sec - 1, u32::MAX),
                }
            } else {
                // startAtOperationTime is inclusive.
                (self.sec, self.ord)
            }
        } else if oplog {
            (self.sec, self.ord)
        } else {
            match self.ord.checked_add(1) {
                Some(o) => (self.sec, o),
                None => (self.sec + 1, 0),
            }
        };
        Ok(Some(MongoOffset {
            sec,
            ord,
            resume_token: None,
            lsid: None,
            txn_number: None,
            tord: None,
            initsync: self.initsync,
            incremental: self.incremental.clone(),
        }))
    }

    pub fn to_json(&self) -> JsonMap {
        let mut m = JsonMap::new();
        m.insert("sec".into(), self.sec.into());
        m.insert("ord".into(), self.ord.into());
        if let Some(t) = &self.resume_token {
            let mut bytes = Vec::new();
            if t.to_writer(&mut bytes).is_ok() {
                let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                m.insert("resume_token".into(), b64.into());
            }
        }
        if let Some(l) = &self.lsid {
            m.insert("lsid".into(), l.clone().into());
        }
        if let Some(n) = self.txn_number {
            m.insert("txnNumber".into(), n.into());
        }
        if let Some(n) = self.tord {
            m.insert("tord".into(), n.into());
        }
        if self.initsync {
            m.insert("initsync".into(), true.into());
        }
        if let Some(inc) = &self.incremental {
            m.extend((**inc).clone());
        }
        m
    }

    pub fn from_json(m: &JsonMap) -> Result<MongoOffset, OffsetError> {
        let num = |k: &str| -> Result<u32, OffsetError> {
            match m.get(k) {
                None | Some(serde_json::Value::Null) => Ok(0),
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        OffsetError(format!("'{k}' is {v}, not a 32-bit unsigned number"))
                    }),
            }
        };
        let resume_token = match m.get("resume_token") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(decode_token(s)?),
            Some(v) => return Err(OffsetError(format!("'resume_token' is {v}, not a string"))),
        };
        Ok(MongoOffset {
            sec: num("sec")?,
            ord: num("ord")?,
            resume_token,
            lsid: m.get("lsid").and_then(|v| v.as_str()).map(str::to_string),
            txn_number: m.get("txnNumber").and_then(|v| v.as_i64()),
            tord: match m.get("tord") {
                None | Some(serde_json::Value::Null) => None,
                Some(_) => Some(num("tord")?),
            },
            initsync: m
                .get("initsync")
                .map(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"))
                .unwrap_or(false),
            incremental: crate::debezium::incremental::Incremental::offset_part(m).map(Box::new),
        })
    }
}

/// Base64 of the token's BSON (Debezium 2.x), or the bare hex `_data`
/// string older versions stored.
fn decode_token(s: &str) -> Result<Document, OffsetError> {
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) {
        if let Ok(doc) = Document::from_reader(&mut bytes.as_slice()) {
            return Ok(doc);
        }
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut d = Document::new();
        d.insert("_data", s);
        return Ok(d);
    }
    Err(OffsetError(format!(
        "'resume_token' {s:?} is neither base64 BSON nor a hex token"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn round_trips() {
        let o = MongoOffset {
            sec: 1_700_000_000,
            ord: 7,
            resume_token: Some(doc! {"_data": "8264ABCDEF"}),
            lsid: Some("{\"id\": 1}".into()),
            txn_number: Some(3),
            tord: Some(2),
            initsync: true,
            incremental: None,
        };
        let j = o.to_json();
        assert_eq!(j["sec"], 1_700_000_000u32);
        assert!(j["resume_token"].as_str().unwrap().len() > 8);
        assert_eq!(MongoOffset::from_json(&j).unwrap(), o);
        let plain = MongoOffset {
            sec: 5,
            ..Default::default()
        };
        assert_eq!(MongoOffset::from_json(&plain.to_json()).unwrap(), plain);
        assert!(!plain.to_json().contains_key("initsync"));
    }

    #[test]
    fn switching_capture_mode_resumes_from_the_cluster_time() {
        let stream = MongoOffset {
            sec: 100,
            ord: 3,
            resume_token: Some(doc! {"_data": "82"}),
            ..Default::default()
        };
        assert_eq!(stream.origin(), Origin::ChangeStream);
        assert_eq!(stream.for_mode(false).unwrap(), None);
        // Oplog: after (100, 3), as the oplog reader reads a bare ts.
        let o = stream.for_mode(true).unwrap().unwrap();
        assert_eq!((o.sec, o.ord, o.tord, o.resume_token), (100, 3, None, None));
        // Inside a transaction: (100, 3) itself is read again.
        let txn = MongoOffset {
            lsid: Some("{}".into()),
            txn_number: Some(1),
            ..stream.clone()
        };
        let o = txn.for_mode(true).unwrap().unwrap();
        assert_eq!((o.sec, o.ord), (100, 2));
        let first = MongoOffset { ord: 0, ..txn };
        let o = first.for_mode(true).unwrap().unwrap();
        assert_eq!((o.sec, o.ord), (99, u32::MAX));

        let oplog = MongoOffset {
            sec: 100,
            ord: 3,
            tord: Some(1),
            ..Default::default()
        };
        assert_eq!(oplog.origin(), Origin::Oplog);
        assert_eq!(oplog.for_mode(true).unwrap(), None);
        // Change streams: startAtOperationTime (100, 4), just after.
        let o = oplog.for_mode(false).unwrap().unwrap();
        assert_eq!((o.sec, o.ord, o.tord), (100, 4, None));
        let o = MongoOffset {
            txn_number: Some(2),
            ..oplog.clone()
        }
        .for_mode(false)
        .unwrap()
        .unwrap();
        assert_eq!((o.sec, o.ord), (100, 3));
        let last = MongoOffset {
            ord: u32::MAX,
            ..oplog
        };
        let o = last.for_mode(false).unwrap().unwrap();
        assert_eq!((o.sec, o.ord), (101, 0));

        let snapshot_start = MongoOffset {
            sec: 5,
            ..Default::default()
        };
        assert_eq!(snapshot_start.for_mode(true).unwrap(), None);
        let no_time = MongoOffset {
            resume_token: Some(doc! {"_data": "82"}),
            ..Default::default()
        };
        assert!(no_time
            .for_mode(true)
            .unwrap_err()
            .to_string()
            .contains("no cluster time"));
    }

    #[test]
    fn reads_old_hex_tokens_and_refuses_garbage() {
        let mut j = JsonMap::new();
        j.insert("sec".into(), 10.into());
        j.insert("ord".into(), 1.into());
        j.insert("resume_token".into(), "826F".into());
        let o = MongoOffset::from_json(&j).unwrap();
        assert_eq!(o.resume_token, Some(doc! {"_data": "826F"}));
        j.insert("resume_token".into(), "not a token!".into());
        assert!(MongoOffset::from_json(&j).is_err());
        j.insert("resume_token".into(), serde_json::Value::Null);
        j.insert("sec".into(), (-1).into());
        assert!(MongoOffset::from_json(&j)
            .unwrap_err()
            .to_string()
            .contains("sec"));
    }
}
