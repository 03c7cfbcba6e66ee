//! Compressed binlog events: MariaDB's (`log_bin_compress=ON`) and MySQL's
//! compressed transactions (`binlog_transaction_compression=ON`).
//!
//! Why this is correct:
//! - MariaDB compresses only the variable tail of an event: a query event's
//!   SQL text, a rows event's packed row images. Everything before (status
//!   variables, schema; table id, flags, column count and bitmaps) is
//!   written plainly. [`inflate_mariadb`] copies that head, inflates the
//!   tail and returns the uncompressed event type, so the rest of the
//!   reader sees the event exactly as the server would have logged it
//!   uncompressed. The tail starts with MariaDB's own header: one byte
//!   `0x80 | n` (`n` in 1..=4), the uncompressed length in `n` big-endian
//!   bytes, then a zlib stream. The inflated length must equal that length.
//! - A MySQL TRANSACTION_PAYLOAD event holds, after a few type-length-value
//!   fields, a whole transaction's events (BEGIN through XID, without
//!   checksums) compressed with zstd (or stored, type NONE). [`Payload`]
//!   reads the fields and [`inflate_payload`] the events; [`inner_event`]
//!   walks them one at a time, so every inner event is handled (and counted
//!   for offsets) as if it had been logged on its own.
//! - Before these existed such events were passed over without a word and
//!   the offset moved past them: a compressed transaction's rows were lost.
//!   Now an event that cannot be inflated is an error naming it, and a
//!   length over [`MAX_INFLATED`] (MariaDB's and MySQL's largest packet and
//!   transaction payload are 1 GiB) is refused before any allocation.

use std::io::Read;

use super::error::{MySqlError, Result};
use super::event::{types, EventHeader, Query, RowsEvent, HEADER_LEN};
use super::wire::Reader;

/// MariaDB's compressed event types and the types they stand for.
pub fn mariadb_plain_type(event_type: u8) -> Option<u8> {
    Some(match event_type {
        165 => types::QUERY,
        166 => types::WRITE_ROWS_V1,
        167 => types::UPDATE_ROWS_V1,
        168 => types::DELETE_ROWS_V1,
        169 => types::WRITE_ROWS_V2,
        170 => types::UPDATE_ROWS_V2,
        171 => types::DELETE_ROWS_V2,
        _ => return None,
    })
}

/// The largest inflated size accepted (1 GiB: max_allowed_packet's limit).
pub const MAX_INFLATED: u64 = 1 << 30;

/// Inflates a MariaDB compressed event's `body` into `out` (cleared first)
/// and returns the uncompressed event type; `None` if `event_type` is not
/// a compressed one.
pub fn inflate_mariadb(
    event_type: u8,
    body: &[u8],
    table_id_len: usize,
    out: &mut Vec<u8>,
) -> Result<Option<u8>> {
    let Some(plain) = mariadb_plain_type(event_type) else {
        return Ok(None);
    };
    let what = || format!("MariaDB compressed event (type {event_type})");
    // Where the compressed tail starts: the plain event's parsers find the
    // head's end, since the head is laid out as in the uncompressed event.
    let head_len = if plain == types::QUERY {
        body.len() - Query::parse(body)?.sql.len()
    } else {
        let rows = RowsEvent::parse(plain, body, table_id_len)?.expect("a rows event type");
        body.len() - rows.rows.len()
    };
    out.clear();
    out.extend_from_slice(&body[..head_len]);
    inflate_mariadb_tail(&body[head_len..], out).map_err(|e| MySqlError::decode(what(), e))?;
    Ok(Some(plain))
}

/// MariaDB's `0x80 | n`, length, zlib stream; appended to `out`.
fn inflate_mariadb_tail(tail: &[u8], out: &mut Vec<u8>) -> std::result::Result<(), String> {
    let (&first, rest) = tail.split_first().ok_or("the compressed part is empty")?;
    let n = (first & 0x07) as usize;
    if first & 0x80 == 0 || !(1..=4).contains(&n) || rest.len() < n {
        return Err(format!(
            "the compressed part starts with 0x{first:02x}, not MariaDB's length header"
        ));
    }
    let len = rest[..n]
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let start = out.len();
    inflate_exact(flate2::read::ZlibDecoder::new(&rest[n..]), len, out, "zlib")?;
    debug_assert_eq!((out.len() - start) as u64, len);
    Ok(())
}

/// Reads `decoder` to its end into `out`, which must then have grown by
/// exactly `len` bytes.
fn inflate_exact(
    decoder: impl Read,
    len: u64,
    out: &mut Vec<u8>,
    codec: &str,
) -> std::result::Result<(), String> {
    if len > MAX_INFLATED {
        return Err(format!(
            "it says it inflates to {len} bytes, over the {MAX_INFLATED}-byte limit"
        ));
    }
    let start = out.len();
    out.reserve(len as usize);
    // One byte past the declared length shows a stream longer than declared.
    decoder
        .take(len + 1)
        .read_to_end(out)
        .map_err(|e| format!("{codec} data is corrupt: {e}"))?;
    let got = (out.len() - start) as u64;
    if got > len {
        return Err(format!(
            "{codec} data inflates to more than the {len} bytes the event says"
        ));
    }
    if got < len {
        return Err(format!(
            "{codec} data inflates to {got} bytes, the event says {len}"
        ));
    }
    Ok(())
}

/// MySQL's TRANSACTION_PAYLOAD_EVENT (type 40).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload<'a> {
    pub compression: Compression,
    pub uncompressed_size: u64,
    pub data: &'a [u8],
}

/// How a transaction payload is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zstd,
    None,
}

impl<'a> Payload<'a> {
    const END_MARK: u64 = 0;
    const SIZE: u64 = 1;
    const COMPRESSION_TYPE: u64 = 2;
    const UNCOMPRESSED_SIZE: u64 = 3;

    /// The fields: each a length-encoded type, a length-encoded length and
    /// a length-encoded integer of that many bytes, up to the end mark;
    /// the payload follows. Fields of unknown types are skipped (MySQL
    /// readers do the same), an unknown compression type is an error.
    pub fn parse(body: &'a [u8]) -> Result<Payload<'a>> {
        let mut r = Reader::new(body);
        let (mut size, mut compression, mut uncompressed) = (None, None, None);
        loop {
            let field = r.lenenc("transaction payload field type")?;
            if field == Self::END_MARK {
                break;
            }
            let len = usize::try_from(r.lenenc("transaction payload field length")?)
                .unwrap_or(usize::MAX);
            let raw = r.take(len, "transaction payload field")?;
            let value = || -> Result<u64> {
                let mut v = Reader::new(raw);
                let n = v.lenenc("transaction payload field value")?;
                Ok(n)
            };
            match field {
                Self::SIZE => size = Some(value()?),
                Self::COMPRESSION_TYPE => compression = Some(value()?),
                Self::UNCOMPRESSED_SIZE => uncompressed = Some(value()?),
                _ => {}
            }
        }
        let data = r.take_rest();
        let what = "MySQL transaction payload event";
        let compression = match compression {
            Some(0) => Compression::Zstd,
            Some(255) => Compression::None,
            Some(other) => {
                return Err(MySqlError::decode(
                    what,
                    format!("compression type {other} is unknown (0 zstd and 255 none are known)"),
                ))
            }
            None => return Err(MySqlError::decode(what, "no compression type field")),
        };
        if let Some(size) = size {
            if size != data.len() as u64 {
                return Err(MySqlError::decode(
                    what,
                    format!(
                        "it says its payload is {size} bytes, it holds {}",
                        data.len()
                    ),
                ));
            }
        }
        let uncompressed_size = match (uncompressed, compression) {
            (Some(n), _) => n,
            (None, Compression::None) => data.len() as u64,
            (None, Compression::Zstd) => {
                return Err(MySqlError::decode(what, "no uncompressed size field"))
            }
        };
        Ok(Payload {
            compression,
            uncompressed_size,
            data,
        })
    }
}

/// Inflates a transaction payload event's events into `out` (cleared first).
pub fn inflate_payload(body: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let p = Payload::parse(body)?;
    out.clear();
    let what = "MySQL transaction payload event";
    match p.compression {
        Compression::None => {
            if p.uncompressed_size != p.data.len() as u64 {
                return Err(MySqlError::decode(
                    what,
                    "an uncompressed payload's two sizes differ",
                ));
            }
            out.extend_from_slice(p.data);
        }
        Compression::Zstd => {
            let mut src = p.data;
            let decoder = ruzstd::decoding::StreamingDecoder::new(&mut src)
                .map_err(|e| MySqlError::decode(what, format!("zstd frame is corrupt: {e}")))?;
            inflate_exact(decoder, p.uncompressed_size, out, "zstd")
                .map_err(|e| MySqlError::decode(what, e))?;
        }
    }
    Ok(())
}

/// The event at `at` of an inflated payload: its header and the range of
/// its body (inner events carry no checksum); `None` at the end.
pub fn inner_event(
    events: &[u8],
    at: usize,
) -> Result<Option<(EventHeader, std::ops::Range<usize>)>> {
    if at >= events.len() {
        return Ok(None);
    }
    let header = EventHeader::parse(&events[at..])?;
    let end = at.saturating_add(header.event_size as usize);
    if (header.event_size as usize) < HEADER_LEN || end > events.len() {
        return Err(MySqlError::decode(
            "MySQL transaction payload event",
            format!(
                "its event at byte {at} says it is {} bytes; {} are left",
                header.event_size,
                events.len() - at
            ),
        ));
    }
    Ok(Some((header, at + HEADER_LEN..end)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// MariaDB's header for `len`: 0x80 | bytes, big-endian length.
    fn maria_tail(data: &[u8]) -> Vec<u8> {
        let len = data.len() as u32;
        let n = (4 - len.leading_zeros() as usize / 8).max(1);
        let mut t = vec![0x80 | n as u8];
        t.extend_from_slice(&len.to_be_bytes()[4 - n..]);
        t.extend(zlib(data));
        t
    }

    /// The query event MariaDB 10.11 logged for `create table d.t(...)`
    /// with log_bin_compress=ON (mariadb-binlog --hexdump of a real server).
    const QUERY_COMPRESSED: &str = "050000000000000000000023000000000001010000205400000000060373746404210021000800810500000000\
        000000008134789c4b2e4a4d2c495528494cca495548d12bd1c84c51c8cc2b512828cacc4d2caa54c84eadd4512856284b2c4ace482cd2303430d0d40400e83a1181";

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn mariadb_query_event_from_a_real_server() {
        let body = hex(QUERY_COMPRESSED);
        let mut out = Vec::new();
        let t = inflate_mariadb(165, &body, 6, &mut out).unwrap();
        assert_eq!(t, Some(types::QUERY));
        let q = Query::parse(&out).unwrap();
        assert_eq!(q.schema, b"");
        assert_eq!(
            q.sql,
            b"create table d.t(id int primary key, s varchar(100))"
        );
    }

    /// The write rows event of `insert into d.t values (1, repeat('a',50)),
    /// (2,'bb')` from the same server: head plain, rows compressed.
    #[test]
    fn mariadb_rows_event_from_a_real_server() {
        let body =
            hex("120000000000 0100 02 03 8140 789cfbc3c8c0c060944832f8c304d4c794940400cee815e6");
        let mut out = Vec::new();
        let t = inflate_mariadb(166, &body, 6, &mut out).unwrap();
        assert_eq!(t, Some(types::WRITE_ROWS_V1));
        let e = RowsEvent::parse(types::WRITE_ROWS_V1, &out, 6)
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.table_id, e.column_count, e.present),
            (0x12, 2, &[3u8][..])
        );
        let mut want = vec![0xfc, 1, 0, 0, 0, 50];
        want.extend([b'a'; 50]);
        want.extend([0xfc, 2, 0, 0, 0, 2, b'b', b'b']);
        assert_eq!(e.rows, &want[..]);
    }

    #[test]
    fn mariadb_update_v2_rows_and_length_headers() {
        // v2 update rows: 2 bytes of extra data (length 2), 9 columns (two
        // bitmap bytes each), rows over 256 bytes (a 2-byte length).
        let rows: Vec<u8> = (0..700u32).map(|i| (i % 251) as u8).collect();
        let mut body = vec![7, 0, 0, 0, 0, 0, 1, 0, 2, 0, 9, 0xff, 1, 0xff, 1];
        body.extend(maria_tail(&rows));
        assert_eq!(body[15], 0x82);
        let mut out = Vec::new();
        assert_eq!(
            inflate_mariadb(170, &body, 6, &mut out).unwrap(),
            Some(types::UPDATE_ROWS_V2)
        );
        let e = RowsEvent::parse(types::UPDATE_ROWS_V2, &out, 6)
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.column_count, e.present_after, e.rows),
            (9, &[0xff, 1][..], &rows[..])
        );
        assert_eq!(
            inflate_mariadb(types::QUERY, &body, 6, &mut out).unwrap(),
            None
        );
    }

    #[test]
    fn mariadb_corrupt_or_lying_events_are_errors() {
        let head = [7u8, 0, 0, 0, 0, 0, 1, 0, 1, 1];
        let mut out = Vec::new();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "is empty"),
            (vec![0x05, 1], "not MariaDB's length header"),
            (vec![0x85, 1], "not MariaDB's length header"),
            (vec![0x81, 3, 1, 2, 3], "corrupt"),
            (
                {
                    let mut t = maria_tail(b"abcd");
                    t[1] = 3;
                    t
                },
                "more than the 3 bytes",
            ),
            (
                {
                    let mut t = maria_tail(b"abcd");
                    t[1] = 9;
                    t
                },
                "inflates to 4 bytes, the event says 9",
            ),
            (vec![0x84, 0x7f, 0xff, 0xff, 0xff, 0x78], "over the"),
        ];
        for (tail, want) in cases {
            let mut body = head.to_vec();
            body.extend(&tail);
            let e = inflate_mariadb(166, &body, 6, &mut out)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want) && e.contains("type 166"), "{tail:?}: {e}");
        }
    }

    /// An event as MySQL writes it inside a payload: header, body, no CRC.
    fn event(event_type: u8, body: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        e.push(event_type);
        e.extend_from_slice(&1u32.to_le_bytes());
        e.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        e.extend_from_slice(body);
        e
    }

    /// MySQL's field layout: lenenc type, lenenc length, lenenc value.
    fn payload_body(compression: u64, events: &[u8]) -> Vec<u8> {
        let data = match compression {
            0 => ruzstd::encoding::compress_to_vec(
                events,
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
            _ => events.to_vec(),
        };
        let mut b = Vec::new();
        for (field, value) in [
            (1, data.len() as u64),
            (2, compression),
            (3, events.len() as u64),
        ] {
            let mut v = Vec::new();
            super::super::wire::put_lenenc(&mut v, value);
            super::super::wire::put_lenenc(&mut b, field);
            super::super::wire::put_lenenc(&mut b, v.len() as u64);
            b.extend(v);
        }
        b.push(0);
        b.extend(data);
        b
    }

    fn transaction() -> Vec<u8> {
        let mut events = event(types::QUERY, b"\x09\0\0\0\0\0\0\0\0\0\0\0\0BEGIN");
        events.extend(event(types::TABLE_MAP, &[0x42; 30]));
        events.extend(event(types::WRITE_ROWS_V2, &vec![0x17; 300]));
        events.extend(event(types::XID, &7u64.to_le_bytes()));
        events
    }

    fn walk(events: &[u8]) -> Vec<(u8, usize)> {
        let mut at = 0;
        let mut seen = Vec::new();
        while let Some((h, body)) = inner_event(events, at).unwrap() {
            seen.push((h.event_type, body.len()));
            at = body.end;
        }
        seen
    }

    #[test]
    fn mysql_transaction_payload_zstd_and_stored() {
        let events = transaction();
        let want = vec![
            (types::QUERY, 18),
            (types::TABLE_MAP, 30),
            (types::WRITE_ROWS_V2, 300),
            (types::XID, 8),
        ];
        for compression in [0, 255] {
            let body = payload_body(compression, &events);
            let mut out = Vec::new();
            inflate_payload(&body, &mut out).unwrap();
            assert_eq!(out, events, "compression {compression}");
            assert_eq!(walk(&out), want);
        }
    }

    #[test]
    fn mysql_transaction_payload_errors_name_the_problem() {
        let events = transaction();
        let err = |body: &[u8]| {
            inflate_payload(body, &mut Vec::new())
                .unwrap_err()
                .to_string()
        };
        let mut b = payload_body(0, &events);
        // compression type 1 (field 2's value is at byte 2 + len(field 1) + 2)
        // Field 1 (type, length, value), then field 2's type byte.
        let at = 2 + b[1] as usize;
        assert_eq!(b[at], 2, "field 2 follows field 1");
        let mut unknown = b.clone();
        unknown[at + 2] = 1;
        assert!(
            err(&unknown).contains("compression type 1 is unknown"),
            "{}",
            err(&unknown)
        );
        let last = b.len() - 1;
        b[last] ^= 0xff;
        let e = err(&b);
        assert!(
            e.contains("transaction payload") && (e.contains("zstd")),
            "{e}"
        );
        let short = payload_body(255, &events);
        assert!(err(&short[..short.len() - 1]).contains("it says its payload is"));
        // An inner event longer than what is left.
        let mut cut = events.clone();
        cut.truncate(events.len() - 3);
        assert!(inner_event(&cut, 0).is_ok());
        let mut at = 0;
        let e = loop {
            match inner_event(&cut, at) {
                Ok(Some((_, body))) => at = body.end,
                Ok(None) => panic!("a cut event went unnoticed"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(e.contains("says it is 27 bytes; 24 are left"), "{e}");
    }
}
