//! The source offset: where in the binlog a restart resumes.
//!
//! Debezium's shape: `{file, pos, gtids, event, row, ts_sec, server_id}`
//! plus `snapshot: true` while a snapshot is incomplete. `pos` is the start
//! of the transaction the record belongs to (its GTID or BEGIN event), never
//! the middle of one: a dump started there re-reads the transaction's
//! TABLE_MAP events, so its rows decode. `event` counts the row events of
//! that transaction already emitted completely and `row` the rows of the
//! next row event already emitted; a restart skips exactly those and emits
//! the rest. Once a transaction is complete, the offset moves to the
//! position after its COMMIT with both counters 0.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value as Json};
use sluice_runtime::data::JsonMap;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BinlogOffset {
    pub file: String,
    pub pos: u64,
    /// MariaDB GTID position (`domain-server-seq,...`) of the completed
    /// transactions before `pos`, when the server uses GTIDs.
    pub gtids: Option<String>,
    pub event: u64,
    pub row: u64,
    pub ts_sec: i64,
    pub server_id: u32,
    /// The offset of a snapshot that has not completed: a restart takes
    /// the snapshot again.
    pub snapshot: bool,
}

impl BinlogOffset {
    pub fn to_json(&self) -> JsonMap {
        let mut m = JsonMap::new();
        m.insert("file".into(), json!(self.file));
        m.insert("pos".into(), json!(self.pos));
        if let Some(g) = &self.gtids {
            m.insert("gtids".into(), json!(g));
        }
        m.insert("event".into(), json!(self.event));
        m.insert("row".into(), json!(self.row));
        m.insert("ts_sec".into(), json!(self.ts_sec));
        m.insert("server_id".into(), json!(self.server_id));
        if self.snapshot {
            m.insert("snapshot".into(), json!(true));
        }
        m
    }

    /// Reads a stored offset; `Err` names what is missing or malformed.
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
            snapshot: matches!(
                m.get("snapshot"),
                Some(Json::Bool(true)) | Some(Json::String(_))
            ),
        })
    }
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
    }
}
