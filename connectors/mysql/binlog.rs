//! Reading the binlog as a replica: checks, registration, dump, events.
//!
//! Why this is correct:
//! - Before streaming, [`check_server`] refuses settings that would lose
//!   changes or make rows undecodable (binlog off, STATEMENT/MIXED format,
//!   MINIMAL/NOBLOB row image, MySQL's PARTIAL_JSON row values), naming
//!   the variable to set. A session may still change the last two for
//!   itself: the stream refuses such events one by one.
//! - The session declares it understands checksums
//!   (`@master_binlog_checksum` = the server's `binlog_checksum`) and
//!   MariaDB's GTID events (`@mariadb_slave_capability=4`: without it the
//!   server rewrites GTID events as BEGIN queries and drops other MariaDB
//!   events). Every event's CRC32 is then verified before it is used, so
//!   corruption is an error, never a wrong row.
//! - A start position is either file + offset, a MariaDB GTID position
//!   (`@slave_connect_state`, dump from an empty file name at 4), or a
//!   MySQL executed GTID set (COM_BINLOG_DUMP_GTID, as Debezium does with
//!   gtid_mode=ON; Dolt serves no other dump): the server itself locates
//!   the first transaction after that position.
//! - [`BinlogStream::next_event`] returns events borrowed from one packet
//!   buffer that is reused: no allocation per event. The current file name
//!   follows ROTATE events (the first, fake one included), so every event's
//!   `(file, log_pos)` is a resumable position.
//! - Compressed events are returned as the events they stand for
//!   ([`super::compressed`]): a MariaDB compressed query or rows event with
//!   its plain type and inflated body, a MySQL transaction payload as the
//!   events inside it, one per call, each reporting the payload event's
//!   end and size as its `log_pos` and `event_size` (inner events carry no
//!   position; the payload's start is theirs, its end where a reader
//!   resumes after the transaction).

use std::time::Duration;

use super::compressed;
use super::error::{MySqlError, Result};
use super::event::{types, EventHeader, FormatDescription, Rotate, HEADER_LEN};
use super::gtid::{GtidSet, MariaGtidPosition};
use super::protocol::Connection;

/// Where to start reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    /// A binlog file and the offset of the first event to read (4 = start).
    File { file: String, pos: u32 },
    /// MariaDB: the first event group after this GTID position.
    MariaGtid(MariaGtidPosition),
    /// MySQL with gtid_mode=ON: the first transaction not in this
    /// executed set.
    MySqlGtids(GtidSet),
}

/// How the server writes its binlog, as far as capture cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub checksum: bool,
    pub row_metadata_full: bool,
    pub server_id: u32,
}

fn var(rs: &super::protocol::ResultSet, col: usize) -> String {
    rs.text(0, col).unwrap_or("").to_string()
}

/// Checks that the server logs complete row images; errors name the fix.
pub async fn check_server(conn: &mut Connection) -> Result<ServerSettings> {
    let addr = conn.addr().to_string();
    let rs = conn
        .query("SELECT @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image, @@global.binlog_checksum, @@global.server_id")
        .await?;
    let (log_bin, format, image, checksum) = (var(&rs, 0), var(&rs, 1), var(&rs, 2), var(&rs, 3));
    if !matches!(log_bin.as_str(), "1" | "ON") {
        return Err(MySqlError::Config(format!(
            "the binary log is off on {addr}; start the server with log_bin (and binlog_format=ROW, binlog_row_image=FULL)"
        )));
    }
    if !format.eq_ignore_ascii_case("ROW") {
        return Err(MySqlError::Config(format!(
            "binlog_format is {format} on {addr}; set binlog_format=ROW (SET GLOBAL binlog_format=ROW and in the server config)"
        )));
    }
    if !image.eq_ignore_ascii_case("FULL") {
        return Err(MySqlError::Config(format!(
            "binlog_row_image is {image} on {addr}; set binlog_row_image=FULL so that every event carries whole rows"
        )));
    }
    // MySQL only (MariaDB has no such variable): JSON columns logged as
    // partial updates cannot be turned into whole rows.
    match conn.query("SELECT @@global.binlog_row_value_options").await {
        Ok(rs) if var(&rs, 0).to_ascii_uppercase().contains("PARTIAL_JSON") => {
            return Err(MySqlError::Config(format!(
                "binlog_row_value_options is PARTIAL_JSON on {addr}: JSON columns are logged as partial updates, which cannot be turned into whole rows; set binlog_row_value_options='' (SET GLOBAL and the server config)"
            )))
        }
        Ok(_) => {}
        Err(e) if e.is_unknown_variable() => {} // MariaDB, old MySQL, Dolt
        Err(e) => return Err(e),
    }
    let row_metadata_full = match conn.query("SELECT @@global.binlog_row_metadata").await {
        Ok(rs) => var(&rs, 0).eq_ignore_ascii_case("FULL"),
        Err(e) if e.is_unknown_variable() => false, // old server
        Err(e) => return Err(e),
    };
    Ok(ServerSettings {
        checksum: !checksum.is_empty() && !checksum.eq_ignore_ascii_case("NONE"),
        row_metadata_full,
        server_id: var(&rs, 4).parse().unwrap_or(0),
    })
}

/// Whether the server writes each row statement's SQL text into the binlog
/// (what include.query reads): MariaDB's binlog_annotate_row_events or
/// MySQL's binlog_rows_query_log_events, named; `None` if it has neither.
pub async fn statement_text_logged(conn: &mut Connection) -> Result<Option<(&'static str, bool)>> {
    for name in ["binlog_annotate_row_events", "binlog_rows_query_log_events"] {
        match conn.query(&format!("SELECT @@global.{name}")).await {
            Ok(rs) => return Ok(Some((name, matches!(var(&rs, 0).as_str(), "1" | "ON")))),
            Err(e) if e.is_unknown_variable() => continue, // not this server's
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// One event, borrowed from the stream's packet buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    pub header: EventHeader,
    /// The body: after the 19-byte header, before the checksum.
    pub body: &'a [u8],
}

/// Options of one dump.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// This replica's `server_id` (database.server.id); must be unique
    /// among the primary's replicas.
    pub server_id: u32,
    pub start: StartPosition,
    /// Heartbeat period; `None` leaves the server default.
    pub heartbeat: Option<Duration>,
    /// Return end-of-stream instead of waiting at the end of the binlog.
    pub non_blocking: bool,
    /// Ask MariaDB for its ANNOTATE_ROWS events (each row statement's
    /// SQL text; include.query). MySQL sends ROWS_QUERY events whenever
    /// binlog_rows_query_log_events is on.
    pub annotate_rows: bool,
}

/// A running binlog dump.
pub struct BinlogStream {
    conn: Connection,
    buf: Vec<u8>,
    checksum: bool,
    format: Option<FormatDescription>,
    file: String,
    /// Position of the next event (end of the last one), in `file`.
    next_pos: u64,
    /// The body of the last MariaDB compressed event, inflated.
    inflated: Vec<u8>,
    /// The events of the last MySQL transaction payload, inflated, the
    /// next one at `payload_at`, and the payload's end position.
    payload: Vec<u8>,
    payload_at: usize,
    /// The payload event's end position and size: every inner event
    /// reports them, so that its start is the payload's start.
    payload_end: u32,
    payload_size: u32,
}

impl BinlogStream {
    /// Registers as a replica and starts the dump.
    pub async fn start(mut conn: Connection, opts: &DumpOptions) -> Result<BinlogStream> {
        let settings = check_server(&mut conn).await?;
        if opts.server_id == 0 || opts.server_id == settings.server_id {
            return Err(MySqlError::Config(format!(
                "database.server.id={} cannot be used against {} (server_id {}): choose a number unique among its replicas, not 0",
                opts.server_id,
                conn.addr(),
                settings.server_id
            )));
        }
        conn.exec("SET @master_binlog_checksum = @@global.binlog_checksum")
            .await?;
        conn.exec("SET @mariadb_slave_capability = 4").await?;
        if let Some(hb) = opts.heartbeat {
            let ns = hb.as_nanos().min(u64::MAX as u128);
            conn.exec(&format!("SET @master_heartbeat_period = {ns}"))
                .await?;
        }
        let (file, pos) = match &opts.start {
            StartPosition::File { file, pos } => (file.clone(), *pos),
            StartPosition::MySqlGtids(_) => (String::new(), 4),
            StartPosition::MariaGtid(p) => {
                let state = p.to_string();
                if !state
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'-' || b == b',')
                {
                    return Err(MySqlError::Config(format!("bad GTID position '{state}'")));
                }
                conn.exec(&format!("SET @slave_connect_state = '{state}'"))
                    .await?;
                conn.exec("SET @slave_gtid_strict_mode = 0").await?;
                conn.exec("SET @slave_gtid_ignore_duplicates = 0").await?;
                (String::new(), 4)
            }
        };
        register_replica(&mut conn, opts.server_id).await?;
        let dump = match &opts.start {
            StartPosition::MySqlGtids(set) => dump_gtid_command(opts, set),
            _ => {
                // MariaDB's BINLOG_SEND_ANNOTATE_ROWS_EVENT (MySQL has none).
                let annotate = opts.annotate_rows && conn.server().is_mariadb();
                dump_command(opts, annotate, &file, pos)
            }
        };
        conn.command(&dump).await?;
        Ok(BinlogStream {
            conn,
            buf: Vec::with_capacity(1 << 20),
            checksum: settings.checksum,
            format: None,
            file,
            next_pos: pos as u64,
            inflated: Vec::new(),
            payload: Vec::new(),
            payload_at: 0,
            payload_end: 0,
            payload_size: 0,
        })
    }

    /// A read that waits this long for a byte (no event, no heartbeat)
    /// fails as a lost connection.
    pub fn set_idle_limit(&mut self, limit: Option<Duration>) {
        self.conn.set_idle_limit(limit);
    }

    /// The binlog file the last event came from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The position after the last event read.
    pub fn next_pos(&self) -> u64 {
        self.next_pos
    }

    pub fn format(&self) -> Option<&FormatDescription> {
        self.format.as_ref()
    }

    pub fn table_id_len(&self) -> usize {
        self.format
            .as_ref()
            .map_or(6, FormatDescription::table_id_len)
    }

    pub fn addr(&self) -> &str {
        self.conn.addr()
    }

    /// Whether the next event is (at least partly) received already, so
    /// that reading it does not wait for the server.
    pub fn has_buffered(&self) -> bool {
        self.conn.has_buffered()
    }

    /// The next event; `None` at the end of a non-blocking dump.
    pub async fn next_event(&mut self) -> Result<Option<RawEvent<'_>>> {
        if self.payload_at < self.payload.len() {
            return inner_event(
                &self.payload,
                &mut self.payload_at,
                self.payload_end,
                self.payload_size,
            )
            .map(Some);
        }
        self.conn.read_packet_into(&mut self.buf).await?;
        let addr = self.conn.addr();
        match self.buf.first() {
            Some(0x00) => {}
            Some(0xfe) if self.buf.len() < 9 => return Ok(None),
            Some(0xff) => return Err(self.conn.server_error(&self.buf)),
            _ => {
                return Err(MySqlError::protocol(
                    addr,
                    "binlog packet without the OK marker",
                ))
            }
        }
        let ev = &self.buf[1..];
        let header = EventHeader::parse(ev)?;
        if (header.event_size as usize) != ev.len() {
            return Err(MySqlError::decode(
                "binlog event",
                format!(
                    "header says {} bytes, packet has {}",
                    header.event_size,
                    ev.len()
                ),
            ));
        }
        let mut end = ev.len();
        if self.checksum {
            if end < HEADER_LEN + 4 {
                return Err(MySqlError::decode(
                    "binlog event",
                    "too short for its checksum",
                ));
            }
            let want = u32::from_le_bytes([ev[end - 4], ev[end - 3], ev[end - 2], ev[end - 1]]);
            let got = crc32fast::hash(&ev[..end - 4]);
            if want != got {
                return Err(MySqlError::decode(
                    format!("binlog event type {} at {}:{}", header.event_type, self.file, self.next_pos),
                    format!("CRC32 mismatch (event says {want:08x}, computed {got:08x}): the stream is corrupt; reconnect"),
                ));
            }
            end -= 4;
        }
        if end < HEADER_LEN {
            return Err(MySqlError::decode(
                "binlog event",
                "shorter than its header",
            ));
        }
        let body = &ev[HEADER_LEN..end];
        match header.event_type {
            types::ROTATE => {
                let r = Rotate::parse(body)?;
                self.file = String::from_utf8_lossy(r.file).into_owned();
                self.next_pos = r.position;
            }
            types::FORMAT_DESCRIPTION => {
                self.format = Some(FormatDescription::parse(body, self.checksum)?);
            }
            _ => {}
        }
        if header.log_pos != 0 && header.event_type != types::ROTATE {
            self.next_pos = header.log_pos as u64;
        }
        let body = &self.buf[1 + HEADER_LEN..1 + end];
        let at = || format!("{}:{}", self.file, self.next_pos);
        if header.event_type == types::MYSQL_TRANSACTION_PAYLOAD {
            compressed::inflate_payload(body, &mut self.payload)
                .map_err(|e| e.context(format!("the event ending at {}", at())))?;
            self.payload_at = 0;
            self.payload_end = header.log_pos;
            self.payload_size = header.event_size;
            if self.payload.is_empty() {
                return Err(MySqlError::decode(
                    format!("the transaction payload event ending at {}", at()),
                    "it holds no events",
                ));
            }
            return inner_event(
                &self.payload,
                &mut self.payload_at,
                self.payload_end,
                self.payload_size,
            )
            .map(Some);
        }
        let id_len = self
            .format
            .as_ref()
            .map_or(6, FormatDescription::table_id_len);
        match compressed::inflate_mariadb(header.event_type, body, id_len, &mut self.inflated) {
            Ok(None) => Ok(Some(RawEvent { header, body })),
            Ok(Some(plain)) => Ok(Some(RawEvent {
                header: EventHeader {
                    event_type: plain,
                    ..header
                },
                body: &self.inflated,
            })),
            Err(e) => Err(e.context(format!("the event ending at {}", at()))),
        }
    }

    /// Ends the dump, returning the connection is not possible mid-dump:
    /// the connection is closed.
    pub fn close(self) {}
}

/// The event at `*at` of an inflated transaction payload (`*at` moves past
/// it), with the payload event's end and size as its `log_pos` and
/// `event_size` (its position is the payload's). Called with events left.
fn inner_event<'a>(payload: &'a [u8], at: &mut usize, end: u32, size: u32) -> Result<RawEvent<'a>> {
    let (header, body) = compressed::inner_event(payload, *at)?
        .ok_or_else(|| MySqlError::decode("a transaction payload", "read past its last event"))?;
    *at = body.end;
    Ok(RawEvent {
        header: EventHeader {
            log_pos: end,
            event_size: size,
            ..header
        },
        body: &payload[body],
    })
}

/// COM_REGISTER_SLAVE.
async fn register_replica(conn: &mut Connection, server_id: u32) -> Result<()> {
    let mut p = Vec::with_capacity(32);
    p.push(0x15);
    p.extend_from_slice(&server_id.to_le_bytes());
    p.push(0); // hostname
    p.push(0); // user
    p.push(0); // password
    p.extend_from_slice(&0u16.to_le_bytes()); // port
    p.extend_from_slice(&0u32.to_le_bytes()); // replication rank
    p.extend_from_slice(&0u32.to_le_bytes()); // master id
    conn.command(&p).await?;
    conn.read_packet().await?;
    match conn.packet().first() {
        Some(0x00) => Ok(()),
        Some(0xff) => Err(conn.server_error(conn.packet())),
        _ => Err(MySqlError::protocol(
            conn.addr(),
            "unexpected reply to COM_REGISTER_SLAVE",
        )),
    }
}

/// COM_BINLOG_DUMP: from `file` at `pos`. Flags: BINLOG_DUMP_NON_BLOCK (1),
/// MariaDB's BINLOG_SEND_ANNOTATE_ROWS_EVENT (2).
fn dump_command(opts: &DumpOptions, annotate: bool, file: &str, pos: u32) -> Vec<u8> {
    let mut dump = Vec::with_capacity(11 + file.len());
    dump.push(0x12);
    dump.extend_from_slice(&pos.to_le_bytes());
    let flags = opts.non_blocking as u16 | (annotate as u16) << 1;
    dump.extend_from_slice(&flags.to_le_bytes());
    dump.extend_from_slice(&opts.server_id.to_le_bytes());
    dump.extend_from_slice(file.as_bytes());
    dump
}

/// COM_BINLOG_DUMP_GTID: from the first transaction not in `set`. Flags:
/// BINLOG_DUMP_NON_BLOCK (1), BINLOG_THROUGH_GTID (4); no file name, pos 4,
/// then the set's length and its encoding.
fn dump_gtid_command(opts: &DumpOptions, set: &GtidSet) -> Vec<u8> {
    let mut data = Vec::new();
    set.encode(&mut data);
    let mut dump = Vec::with_capacity(27 + data.len());
    dump.push(0x1e);
    let flags = opts.non_blocking as u16 | 4;
    dump.extend_from_slice(&flags.to_le_bytes());
    dump.extend_from_slice(&opts.server_id.to_le_bytes());
    dump.extend_from_slice(&0u32.to_le_bytes());
    dump.extend_from_slice(&4u64.to_le_bytes());
    dump.extend_from_slice(&(data.len() as u32).to_le_bytes());
    dump.extend_from_slice(&data);
    dump
}

/// `SHOW MASTER STATUS` (`SHOW BINARY LOG STATUS` on MySQL 8.4+): the
/// current end of the binlog.
pub async fn current_position(conn: &mut Connection) -> Result<(String, u32)> {
    let rs = match conn.query("SHOW MASTER STATUS").await {
        Ok(rs) => rs,
        Err(e) if e.server_code() == Some(1064) => conn.query("SHOW BINARY LOG STATUS").await?,
        Err(e) => return Err(e),
    };
    let file = rs.text(0, 0).unwrap_or("").to_string();
    let pos = rs.text(0, 1).and_then(|p| p.parse().ok()).unwrap_or(4);
    if file.is_empty() {
        return Err(MySqlError::Config(format!(
            "{} reports no binlog position; start the server with log_bin",
            conn.addr()
        )));
    }
    Ok((file, pos))
}

/// Reads a MariaDB body text field as UTF-8 (lossless for valid text).
pub fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(non_blocking: bool) -> DumpOptions {
        DumpOptions {
            server_id: 0x0102_0304,
            start: StartPosition::File {
                file: String::new(),
                pos: 4,
            },
            heartbeat: None,
            non_blocking,
            annotate_rows: false,
        }
    }

    #[test]
    fn dump_by_file_and_position() {
        let d = dump_command(&opts(true), true, "b.000002", 0x0a0b);
        let mut want = vec![0x12, 0x0b, 0x0a, 0, 0, 3, 0, 4, 3, 2, 1];
        want.extend_from_slice(b"b.000002");
        assert_eq!(d, want);
    }

    #[test]
    fn dump_by_mysql_gtid_set_as_documented() {
        // One uuid with the interval 1-4 (stored half-open: [1, 5)).
        let set: GtidSet = "65b81105-38a7-455f-92c2-fc1125d2f868:1-4".parse().unwrap();
        let d = dump_gtid_command(&opts(false), &set);
        let mut want = vec![0x1e, 4, 0, 4, 3, 2, 1, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(&48u32.to_le_bytes()); // 8 + 16 + 8 + 16
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&[
            0x65, 0xb8, 0x11, 0x05, 0x38, 0xa7, 0x45, 0x5f, 0x92, 0xc2, 0xfc, 0x11, 0x25, 0xd2,
            0xf8, 0x68,
        ]);
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&5u64.to_le_bytes());
        assert_eq!(d, want);
        // An empty set: only its zero count.
        let d = dump_gtid_command(&opts(true), &GtidSet::new());
        assert_eq!(&d[1..3], &[5, 0]);
        assert_eq!(&d[19..], &[8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
}
