//! Binlog events: the common header and the bodies change capture reads.
//!
//! Layouts follow MySQL's "Binary log" internals (v4 format, 19-byte header)
//! and MariaDB's own events (GTID 0xA2, ANNOTATE_ROWS 0xA0).
//! Every parser borrows from the event's bytes and checks lengths, so a
//! corrupt event is a [`Truncated`](super::wire::Truncated) error naming the
//! field, not a panic. The 4-byte CRC32 trailer has already been verified
//! and removed by the reader when these run.

use super::gtid::{MariaGtid, Uuid};
use super::wire::{Reader, WireResult};

pub const HEADER_LEN: usize = 19;

pub mod types {
    pub const QUERY: u8 = 2;
    pub const STOP: u8 = 3;
    pub const ROTATE: u8 = 4;
    pub const FORMAT_DESCRIPTION: u8 = 15;
    pub const XID: u8 = 16;
    pub const TABLE_MAP: u8 = 19;
    pub const WRITE_ROWS_V1: u8 = 23;
    pub const UPDATE_ROWS_V1: u8 = 24;
    pub const DELETE_ROWS_V1: u8 = 25;
    pub const HEARTBEAT: u8 = 27;
    /// MySQL's statement text before its row events (binlog_rows_query_log_events).
    pub const ROWS_QUERY: u8 = 29;
    pub const WRITE_ROWS_V2: u8 = 30;
    pub const UPDATE_ROWS_V2: u8 = 31;
    pub const DELETE_ROWS_V2: u8 = 32;
    pub const MYSQL_GTID: u8 = 33;
    pub const MYSQL_ANONYMOUS_GTID: u8 = 34;
    pub const MYSQL_PREVIOUS_GTIDS: u8 = 35;
    /// MySQL 8.0.3+ with binlog_row_value_options=PARTIAL_JSON: an update
    /// whose JSON columns hold only the changed paths.
    pub const MYSQL_PARTIAL_UPDATE_ROWS: u8 = 39;
    /// MySQL 8.0.20+: a whole transaction's events, compressed
    /// (binlog_transaction_compression).
    pub const MYSQL_TRANSACTION_PAYLOAD: u8 = 40;
    pub const MARIA_ANNOTATE_ROWS: u8 = 160;
    pub const MARIA_BINLOG_CHECKPOINT: u8 = 161;
    pub const MARIA_GTID: u8 = 162;
    pub const MARIA_GTID_LIST: u8 = 163;
    pub const MARIA_START_ENCRYPTION: u8 = 164;
    /// MariaDB compressed query/rows events (log_bin_compress=ON).
    pub const MARIA_COMPRESSED_FIRST: u8 = 165;
    pub const MARIA_COMPRESSED_LAST: u8 = 171;
}

/// The common event header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader {
    pub timestamp: u32,
    pub event_type: u8,
    pub server_id: u32,
    /// Size of the whole event as logged, header and checksum included.
    pub event_size: u32,
    /// Position of the next event in the binlog file (0 for fake events).
    pub log_pos: u32,
    pub flags: u16,
}

impl EventHeader {
    pub fn parse(b: &[u8]) -> WireResult<EventHeader> {
        let mut r = Reader::new(b);
        Ok(EventHeader {
            timestamp: r.u32("event timestamp")?,
            event_type: r.u8("event type")?,
            server_id: r.u32("event server id")?,
            event_size: r.u32("event size")?,
            log_pos: r.u32("event log position")?,
            flags: r.u16("event flags")?,
        })
    }
}

/// FORMAT_DESCRIPTION_EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDescription {
    pub binlog_version: u16,
    pub server_version: String,
    pub header_len: u8,
    /// Post-header length per event type (index = type - 1).
    pub post_header_lens: Vec<u8>,
    /// Checksum algorithm byte (0 none, 1 CRC32), when present.
    pub checksum_alg: Option<u8>,
}

impl FormatDescription {
    /// `body` is the event body with any checksum already removed; `had_crc`
    /// says whether it was, so that the algorithm byte is found.
    pub fn parse(body: &[u8], had_crc: bool) -> WireResult<FormatDescription> {
        let mut r = Reader::new(body);
        let binlog_version = r.u16("binlog version")?;
        let ver = r.take(50, "server version")?;
        let server_version =
            String::from_utf8_lossy(ver.split(|&b| b == 0).next().unwrap_or(ver)).into_owned();
        r.skip(4, "create timestamp")?;
        let header_len = r.u8("header length")?;
        let mut rest = r.take_rest();
        // Servers since 5.6.1 / MariaDB 5.3 end the body with the checksum
        // algorithm byte; it is present whenever a checksum was.
        let mut checksum_alg = None;
        if had_crc || version_has_checksum(&server_version) {
            if let Some((&alg, lens)) = rest.split_last() {
                checksum_alg = Some(alg);
                rest = lens;
            }
        }
        Ok(FormatDescription {
            binlog_version,
            server_version,
            header_len,
            post_header_lens: rest.to_vec(),
            checksum_alg,
        })
    }

    pub fn post_header_len(&self, event_type: u8) -> Option<u8> {
        self.post_header_lens.get(event_type as usize - 1).copied()
    }

    /// Table ids are 6 bytes, except in ancient formats with a 6-byte
    /// TABLE_MAP post-header (4-byte ids).
    pub fn table_id_len(&self) -> usize {
        match self.post_header_len(super::event::types::TABLE_MAP) {
            Some(6) => 4,
            _ => 6,
        }
    }
}

fn version_has_checksum(v: &str) -> bool {
    let mut it = v
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (a, b, c) = (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    );
    if v.contains("MariaDB") {
        (a, b) >= (5, 3)
    } else {
        (a, b, c) >= (5, 6, 1)
    }
}

/// ROTATE_EVENT: where the stream continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotate<'a> {
    pub position: u64,
    pub file: &'a [u8],
}

impl<'a> Rotate<'a> {
    pub fn parse(body: &'a [u8]) -> WireResult<Rotate<'a>> {
        let mut r = Reader::new(body);
        Ok(Rotate {
            position: r.u64("rotate position")?,
            file: r.take_rest(),
        })
    }
}

/// QUERY_EVENT: BEGIN, COMMIT (non-transactional engines), and DDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub thread_id: u32,
    pub exec_time: u32,
    pub error_code: u16,
    pub schema: &'a [u8],
    pub sql: &'a [u8],
}

impl<'a> Query<'a> {
    pub fn parse(body: &'a [u8]) -> WireResult<Query<'a>> {
        let mut r = Reader::new(body);
        let thread_id = r.u32("query thread id")?;
        let exec_time = r.u32("query exec time")?;
        let schema_len = r.u8("query schema length")? as usize;
        let error_code = r.u16("query error code")?;
        let status_len = r.u16("query status length")? as usize;
        r.skip(status_len, "query status variables")?;
        let schema = r.take(schema_len, "query schema")?;
        r.skip(1, "query schema terminator")?;
        Ok(Query {
            thread_id,
            exec_time,
            error_code,
            schema,
            sql: r.take_rest(),
        })
    }
}

/// MariaDB GTID_EVENT: starts an event group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariaGtidEvent {
    pub gtid: MariaGtid,
    pub flags: u8,
    pub commit_id: Option<u64>,
}

impl MariaGtidEvent {
    /// The group is a single statement with no BEGIN/COMMIT (e.g. DDL).
    pub const FL_STANDALONE: u8 = 1;
    pub const FL_GROUP_COMMIT_ID: u8 = 2;
    /// The group holds a DDL statement (with rows for CREATE ... SELECT).
    pub const FL_DDL: u8 = 32;

    /// A transaction: ended by its XID or COMMIT event only, so a query
    /// event inside it (SAVEPOINT, a statement-format DML) is not a DDL
    /// and does not end it.
    pub fn is_transaction(&self) -> bool {
        self.flags & (Self::FL_STANDALONE | Self::FL_DDL) == 0
    }

    pub fn parse(body: &[u8], server_id: u32) -> WireResult<MariaGtidEvent> {
        let mut r = Reader::new(body);
        let sequence = r.u64("gtid sequence")?;
        let domain = r.u32("gtid domain")?;
        let flags = r.u8("gtid flags")?;
        let commit_id = if flags & Self::FL_GROUP_COMMIT_ID != 0 {
            Some(r.u64("gtid commit id")?)
        } else {
            None
        };
        Ok(MariaGtidEvent {
            gtid: MariaGtid {
                domain,
                server: server_id,
                sequence,
            },
            flags,
            commit_id,
        })
    }

    pub fn standalone(&self) -> bool {
        self.flags & Self::FL_STANDALONE != 0
    }
}

/// MySQL GTID_LOG_EVENT: `uuid:gno` of the next transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MySqlGtidEvent {
    pub flags: u8,
    pub uuid: Uuid,
    pub gno: u64,
}

impl MySqlGtidEvent {
    pub fn parse(body: &[u8]) -> WireResult<MySqlGtidEvent> {
        let mut r = Reader::new(body);
        let flags = r.u8("gtid flags")?;
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(r.take(16, "gtid uuid")?);
        Ok(MySqlGtidEvent {
            flags,
            uuid: Uuid(uuid),
            gno: r.u64("gtid gno")?,
        })
    }
}

/// Which kind of row change a rows event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsKind {
    Write,
    Update,
    Delete,
}

/// The SQL text of MariaDB's ANNOTATE_ROWS event (the whole body) or
/// MySQL's ROWS_QUERY event (a one-byte, possibly truncated, length, then
/// the text); `None` for any other event.
pub fn statement_text(event_type: u8, body: &[u8]) -> Option<&[u8]> {
    match event_type {
        types::MARIA_ANNOTATE_ROWS => Some(body),
        types::ROWS_QUERY => Some(body.get(1..).unwrap_or_default()),
        _ => None,
    }
}

/// The fixed part of a WRITE/UPDATE/DELETE_ROWS event (v1 or v2); `rows`
/// is the packed row images that [`super::rows`] decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsEvent<'a> {
    pub kind: RowsKind,
    pub table_id: u64,
    pub flags: u16,
    pub column_count: usize,
    /// Columns present in the (before) image.
    pub present: &'a [u8],
    /// Columns present in the after image (updates only).
    pub present_after: &'a [u8],
    pub rows: &'a [u8],
}

impl<'a> RowsEvent<'a> {
    /// End of statement: the table maps of this statement may be dropped.
    pub const STMT_END: u16 = 1;

    pub fn kind_of(event_type: u8) -> Option<(RowsKind, bool)> {
        use types::*;
        Some(match event_type {
            WRITE_ROWS_V1 => (RowsKind::Write, false),
            UPDATE_ROWS_V1 => (RowsKind::Update, false),
            DELETE_ROWS_V1 => (RowsKind::Delete, false),
            WRITE_ROWS_V2 => (RowsKind::Write, true),
            UPDATE_ROWS_V2 => (RowsKind::Update, true),
            DELETE_ROWS_V2 => (RowsKind::Delete, true),
            _ => return None,
        })
    }

    pub fn parse(
        event_type: u8,
        body: &'a [u8],
        table_id_len: usize,
    ) -> WireResult<Option<RowsEvent<'a>>> {
        let Some((kind, v2)) = Self::kind_of(event_type) else {
            return Ok(None);
        };
        let mut r = Reader::new(body);
        let table_id = r.uint_n(table_id_len, "rows table id")?;
        let flags = r.u16("rows flags")?;
        if v2 {
            let extra = r.u16("rows extra data length")? as usize;
            r.skip(extra.saturating_sub(2), "rows extra data")?;
        }
        let column_count = usize::try_from(r.lenenc("rows column count")?).unwrap_or(usize::MAX);
        let bitmap_len = column_count.div_ceil(8);
        let present = r.take(bitmap_len, "rows columns-present bitmap")?;
        let present_after = if kind == RowsKind::Update {
            r.take(bitmap_len, "rows columns-present bitmap (after)")?
        } else {
            &[]
        };
        Ok(Some(RowsEvent {
            kind,
            table_id,
            flags,
            column_count,
            present,
            present_after,
            rows: r.take_rest(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_text_of_mariadb_annotate_and_mysql_rows_query() {
        let sql = b"INSERT INTO t VALUES (1)";
        assert_eq!(
            statement_text(types::MARIA_ANNOTATE_ROWS, sql),
            Some(&sql[..])
        );
        // MySQL: the length byte (here truncated: 300 % 256) comes first.
        let mut body = vec![44u8];
        body.extend_from_slice(sql);
        assert_eq!(statement_text(types::ROWS_QUERY, &body), Some(&sql[..]));
        assert_eq!(statement_text(types::ROWS_QUERY, &[]), Some(&b""[..]));
        assert_eq!(statement_text(types::QUERY, sql), None);
    }

    #[test]
    fn header_round_trip() {
        let mut b = Vec::new();
        b.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        b.push(types::XID);
        b.extend_from_slice(&7u32.to_le_bytes());
        b.extend_from_slice(&31u32.to_le_bytes());
        b.extend_from_slice(&1234u32.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        let h = EventHeader::parse(&b).unwrap();
        assert_eq!(
            (h.event_type, h.server_id, h.event_size, h.log_pos),
            (types::XID, 7, 31, 1234)
        );
        assert!(EventHeader::parse(&b[..18]).is_err());
    }

    #[test]
    fn query_event_schema_and_sql() {
        let mut b = Vec::new();
        b.extend_from_slice(&9u32.to_le_bytes()); // thread
        b.extend_from_slice(&0u32.to_le_bytes()); // exec time
        b.push(4); // schema len
        b.extend_from_slice(&0u16.to_le_bytes()); // error
        b.extend_from_slice(&3u16.to_le_bytes()); // status len
        b.extend_from_slice(&[1, 2, 3]);
        b.extend_from_slice(b"shop\0CREATE TABLE t (a INT)");
        let q = Query::parse(&b).unwrap();
        assert_eq!(
            (q.thread_id, q.schema, q.sql),
            (9, &b"shop"[..], &b"CREATE TABLE t (a INT)"[..])
        );
        assert!(Query::parse(&b[..15]).is_err());
    }

    #[test]
    fn mariadb_gtid_event() {
        let mut b = Vec::new();
        b.extend_from_slice(&42u64.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes());
        b.push(MariaGtidEvent::FL_STANDALONE | MariaGtidEvent::FL_GROUP_COMMIT_ID);
        b.extend_from_slice(&99u64.to_le_bytes());
        let g = MariaGtidEvent::parse(&b, 5).unwrap();
        assert_eq!(g.gtid.to_string(), "3-5-42");
        assert!(g.standalone());
        assert_eq!(g.commit_id, Some(99));
    }

    #[test]
    fn rows_event_v1_and_v2_headers() {
        // v2 update, table 0x0102, 3 columns, 2-byte extra data.
        let mut b = vec![2, 1, 0, 0, 0, 0, 1, 0, 2, 0, 3, 0b111, 0b101, 0xaa];
        let e = RowsEvent::parse(types::UPDATE_ROWS_V2, &b, 6)
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.kind, e.table_id, e.flags, e.column_count),
            (RowsKind::Update, 0x0102, 1, 3)
        );
        assert_eq!(
            (e.present, e.present_after, e.rows),
            (&[0b111u8][..], &[0b101u8][..], &[0xaau8][..])
        );
        b.truncate(11);
        assert!(RowsEvent::parse(types::UPDATE_ROWS_V2, &b, 6).is_err());
        assert!(RowsEvent::parse(types::XID, &b, 6).unwrap().is_none());
    }

    #[test]
    fn checksum_capable_versions() {
        assert!(version_has_checksum("10.11.19-MariaDB-log"));
        assert!(version_has_checksum("8.0.36"));
        assert!(!version_has_checksum("5.5.60"));
    }
}
