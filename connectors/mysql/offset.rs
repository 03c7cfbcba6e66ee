//! The source offset: where in the binlog a restart resumes, in Debezium's
//! exact shape and meaning (BinlogOffsetContext of Debezium 3.x), so that a
//! connector moves between Debezium and Sluice both ways through the same
//! offsets topic, nothing lost and nothing doubled.
//!
//! Fields, as Debezium writes them:
//! - `file`, `pos`: where a restart dumps from. Inside a transaction, the
//!   start of that transaction (its GTID event on MariaDB, its BEGIN on
//!   MySQL; Sluice writes MySQL's GTID event, which comes right before
//!   BEGIN); between transactions, the position after the last event.
//!   Never the middle of a transaction: a dump started there re-reads the
//!   transaction's TABLE_MAP events, so its rows decode.
//! - `gtids`: the GTID position (MariaDB `domain-server-seq,...`) or set
//!   (MySQL `uuid:1-5,...`) of the transactions completed before `pos`: a
//!   transaction joins it at its COMMIT. When present (MariaDB), a restart
//!   positions the dump by it, not by `file`/`pos` (as Debezium's
//!   MariaDbConnector always does).
//! - `event`: how many events of the current transaction were completely
//!   handled, counted from its GTID (MariaDB) or BEGIN (MySQL) event
//!   included, every event the server sends counting (TABLE_MAP and
//!   ANNOTATE_ROWS too, not only row events); `row`: how many rows of the
//!   next event were emitted. A restart skips exactly those events, then
//!   that many rows of the next row event. A change in a one-row
//!   transaction on MariaDB is `event` 2 (GTID, TABLE_MAP), `row` 1.
//! - `ts_sec`: the event's time (seconds); `server_id`: the server id of the
//!   event's header.
//! - `snapshot`: present while a snapshot is incomplete (a restart takes it
//!   again). Debezium 3.x writes `"INITIAL"`, Debezium 1.x/2.x `true`;
//!   Sluice writes `true`, which every version reads as an incomplete
//!   initial snapshot (Debezium 2.x would read `"INITIAL"` as no snapshot).
//!   `"BLOCKING"` / `"INCREMENTAL"` and `snapshot_completed: true` do not
//!   mean an initial snapshot to redo.
//! - Zero `event`, `row`, `server_id` and `ts_sec` are left out, as
//!   Debezium leaves them out; a missing number reads as 0.
//! - `transaction_id` and `transaction_data_collection_order_*`
//!   (provide.transaction.metadata) are accepted and not used: on a resume
//!   inside a transaction Sluice counts the skipped rows again (and
//!   Debezium re-reads the transaction's GTID event, which sets them
//!   afresh).
//! - `incremental_snapshot_*`: a running incremental snapshot's state
//!   ([`crate::debezium::incremental`]); the stream resumes it.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value as Json};
use sluice_api::data::JsonMap;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BinlogOffset {
    pub file: String,
    pub pos: u64,
    /// MariaDB GTID position (`domain-server-seq,...`) or MySQL GTID set
    /// of the completed transactions before `pos`, when the server uses
    /// GTIDs.
    pub gtids: Option<String>,
    /// Events of the current transaction completely handled (its GTID or
    /// BEGIN event included): Debezium's `event`.
    pub event: u64,
    /// Rows of the next event already emitted: Debezium's `row`.
    pub row: u64,
    pub ts_sec: i64,
    pub server_id: u32,
    /// The offset of a snapshot that has not completed: a restart takes
    /// the snapshot again.
    pub snapshot: bool,
    /// The `incremental_snapshot_*` fields of a running incremental
    /// snapshot, as read (the stream writes them afresh on each hand-over).
    pub incremental: Option<JsonMap>,
}

impl BinlogOffset {
    /// The offset map as Debezium writes it (zero counters, server id and
    /// time left out).
    pub fn to_json(&self) -> JsonMap {
        let mut m = JsonMap::new();
        if self.server_id != 0 {
            m.insert("server_id".into(), json!(self.server_id));
        }
        if let Some(g) = &self.gtids {
            m.insert("gtids".into(), json!(g));
        }
        m.insert("file".into(), json!(self.file));
        m.insert("pos".into(), json!(self.pos));
        if self.event != 0 {
            m.insert("event".into(), json!(self.event));
        }
        if self.row != 0 {
            m.insert("row".into(), json!(self.row));
        }
        if self.ts_sec != 0 {
            m.insert("ts_sec".into(), json!(self.ts_sec));
        }
        if self.snapshot {
            m.insert("snapshot".into(), json!(true));
        }
        if let Some(inc) = &self.incremental {
            m.extend(inc.clone());
        }
        m
    }

    /// Reads a stored offset (Sluice's or Debezium's); `Err` names what is
    /// missing or malformed.
    pub fn from_json(m: &JsonMap) -> Result<BinlogOffset, String> {
        let num = |k: &str| -> Result<u64, String> {
            match m.get(k) {
                None | Some(Json::Null) => Ok(0),
                Some(Json::Number(n)) => n
                    .as_u64()
                    .ok_or_else(|| format!("offset field {k} is not a non-negative integer")),
                Some(Json::String(s)) => s
                    .parse()
                    .map_err(|_| format!("offset field {k} is not a number")),
                Some(_) => Err(format!("offset field {k} is not a number")),
            }
        };
        let file = match m.get("file") {
            Some(Json::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err("offset has no binlog file name".into()),
        };
        Ok(BinlogOffset {
            file,
            pos: num("pos")?,
            gtids: m
                .get("gtids")
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            event: num("event")?,
            row: num("row")?,
            ts_sec: num("ts_sec")? as i64,
            server_id: num("server_id")? as u32,
            snapshot: initial_snapshot_running(m),
            incremental: crate::debezium::incremental::Incremental::offset_part(m),
        })
    }
}

/// Whether the offset is that of an initial snapshot that did not complete
/// (Debezium's `OffsetContext.Loader`: `snapshot` true / "true" (1.x, 2.x)
/// or "INITIAL" (3.x), unless `snapshot_completed` is true). A "BLOCKING"
/// or "INCREMENTAL" snapshot runs beside streaming: Debezium resumes
/// streaming from such an offset, and so does Sluice.
fn initial_snapshot_running(m: &JsonMap) -> bool {
    let truthy = |v: Option<&Json>| match v {
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let initial = match m.get("snapshot") {
        Some(Json::String(s)) => s == "INITIAL" || s.eq_ignore_ascii_case("true"),
        v => truthy(v),
    };
    initial && !truthy(m.get("snapshot_completed"))
}

impl fmt::Display for BinlogOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Json::Object(self.to_json()).to_string())
    }
}

impl FromStr for BinlogOffset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match serde_json::from_str::<Json>(s) {
            Ok(Json::Object(m)) => BinlogOffset::from_json(&m),
            _ => Err(format!("'{s}' is not a JSON offset object")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_json() {
        let o = BinlogOffset {
            file: "mysql-bin.000003".into(),
            pos: 154,
            gtids: Some("0-1-42".into()),
            event: 2,
            row: 7,
            ts_sec: 1_700_000_000,
            server_id: 1,
            snapshot: true,
            incremental: None,
        };
        assert_eq!(o.to_string().parse::<BinlogOffset>().unwrap(), o);
        let plain = BinlogOffset {
            gtids: None,
            snapshot: false,
            ..o
        };
        let j = plain.to_json();
        assert!(!j.contains_key("snapshot") && !j.contains_key("gtids"));
        assert_eq!(BinlogOffset::from_json(&j).unwrap(), plain);
    }

    #[test]
    fn reads_debezium_offsets() {
        let o: BinlogOffset = r#"{"ts_sec":1,"file":"mysql-bin.000002","pos":4,"gtids":"0-1-5","row":1,"server_id":1,"event":2}"#
            .parse()
            .unwrap();
        assert_eq!(
            (o.file.as_str(), o.pos, o.event, o.row),
            ("mysql-bin.000002", 4, 2, 1)
        );
        assert!(r#"{"pos":4}"#.parse::<BinlogOffset>().unwrap_err().contains("file"));
        assert!(r#"{"file":"f","pos":-1}"#.parse::<BinlogOffset>().is_err());
        // As Debezium 3.5's MariaDbConnector committed them (GET
        // /connectors/N/offsets): inside a 3,000-row INSERT ... SELECT
        // (GTID, TABLE_MAP, 4 row events done, 28 rows of the 5th) ...
        let inside: BinlogOffset = r#"{"ts_sec":1796606457,"file":"mariadb-bin.000008","pos":6989507,"gtids":"0-1-4522","row":28,"server_id":1,"event":6}"#
            .parse()
            .unwrap();
        assert_eq!((inside.event, inside.row, inside.snapshot), (6, 28, false));
        assert_eq!(inside.gtids.as_deref(), Some("0-1-4522"));
        // ... and at the end of its snapshot: still running until the
        // first streamed change is committed.
        let snap: BinlogOffset = r#"{"ts_sec":1796606455,"file":"mariadb-bin.000008","pos":6989273,"gtids":"0-1-4521","snapshot":"INITIAL"}"#
            .parse()
            .unwrap();
        assert!(snap.snapshot && snap.event == 0 && snap.server_id == 0);
        // Numbers as strings (a hand-edited offset) are read too.
        let s: BinlogOffset = r#"{"file":"f","pos":"12","event":"3","row":"1"}"#.parse().unwrap();
        assert_eq!((s.pos, s.event, s.row), (12, 3, 1));
        // Transaction metadata and incremental snapshot keys are accepted.
        let t: BinlogOffset = r#"{"file":"f","pos":9,"event":2,"row":1,"transaction_id":"0-1-7","transaction_data_collection_order_db.t":1,"incremental_snapshot_correlation_id":null}"#
            .parse()
            .unwrap();
        assert_eq!((t.event, t.row), (2, 1));
    }

    #[test]
    fn snapshot_flag_as_every_debezium_version_writes_it() {
        let snap = |extra: &str| {
            format!(r#"{{"file":"f","pos":4{extra}}}"#)
                .parse::<BinlogOffset>()
                .unwrap()
                .snapshot
        };
        assert!(snap(r#","snapshot":true"#)); // 1.x, 2.x, Sluice
        assert!(snap(r#","snapshot":"true""#));
        assert!(snap(r#","snapshot":"INITIAL""#)); // 3.x
        assert!(!snap(""));
        assert!(!snap(r#","snapshot":false"#));
        // Snapshots that run beside streaming: resume streaming.
        assert!(!snap(r#","snapshot":"INCREMENTAL""#));
        assert!(!snap(r#","snapshot":"BLOCKING""#));
        assert!(!snap(r#","snapshot":"INITIAL","snapshot_completed":true"#));
        assert!(snap(r#","snapshot":"INITIAL","snapshot_completed":false"#));
    }

    #[test]
    fn writes_debezium_shape() {
        // Inside a transaction: every key Debezium writes there.
        let inside = BinlogOffset {
            file: "mariadb-bin.000008".into(),
            pos: 6989507,
            gtids: Some("0-1-4522".into()),
            event: 6,
            row: 28,
            ts_sec: 1796606457,
            server_id: 1,
            snapshot: false,
            incremental: None,
        };
        let keys = |o: &BinlogOffset| {
            let mut k: Vec<String> = o.to_json().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(&inside),
            [
                "event",
                "file",
                "gtids",
                "pos",
                "row",
                "server_id",
                "ts_sec"
            ]
        );
        assert_eq!(
            Json::Object(inside.to_json()),
            serde_json::from_str::<Json>(r#"{"ts_sec":1796606457,"file":"mariadb-bin.000008","pos":6989507,"gtids":"0-1-4522","row":28,"server_id":1,"event":6}"#).unwrap()
        );
        // Between transactions: no zero counters, as Debezium.
        let between = BinlogOffset {
            event: 0,
            row: 0,
            ..inside.clone()
        };
        assert_eq!(
            keys(&between),
            ["file", "gtids", "pos", "server_id", "ts_sec"]
        );
        // A snapshot in progress.
        let snap = BinlogOffset {
            server_id: 0,
            snapshot: true,
            ..between
        };
        assert_eq!(
            Json::Object(snap.to_json()),
            serde_json::json!({"file":"mariadb-bin.000008","pos":6989507,"gtids":"0-1-4522","ts_sec":1796606457,"snapshot":true})
        );
    }
}
