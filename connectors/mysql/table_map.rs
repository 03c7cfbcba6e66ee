//! TABLE_MAP_EVENT: which table a rows event writes, its column types, and
//! (with `binlog_row_metadata=FULL`) names, signedness, charsets, enum/set
//! values and primary key.
//!
//! The per-column metadata block is read with the exact width each type
//! declares (MySQL's `Table_map_log_event` layout); a column type whose width
//! is unknown makes the whole map an error rather than a silent misread of
//! every column after it. The optional metadata is a sequence of
//! type-length-value fields; unknown fields are skipped by their length.

use super::wire::{Reader, WireResult};

/// MySQL column type codes as they appear in the binlog.
pub mod col {
    pub const DECIMAL: u8 = 0;
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const NULL: u8 = 6;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
    pub const NEWDATE: u8 = 14;
    pub const VARCHAR: u8 = 15;
    pub const BIT: u8 = 16;
    pub const TIMESTAMP2: u8 = 17;
    pub const DATETIME2: u8 = 18;
    pub const TIME2: u8 = 19;
    pub const JSON: u8 = 245;
    pub const NEWDECIMAL: u8 = 246;
    pub const ENUM: u8 = 247;
    pub const SET: u8 = 248;
    pub const TINY_BLOB: u8 = 249;
    pub const MEDIUM_BLOB: u8 = 250;
    pub const LONG_BLOB: u8 = 251;
    pub const BLOB: u8 = 252;
    pub const VAR_STRING: u8 = 253;
    pub const STRING: u8 = 254;
    pub const GEOMETRY: u8 = 255;
}

/// Optional metadata field types.
mod opt {
    pub const SIGNEDNESS: u8 = 1;
    pub const DEFAULT_CHARSET: u8 = 2;
    pub const COLUMN_CHARSET: u8 = 3;
    pub const COLUMN_NAME: u8 = 4;
    pub const SET_STR_VALUE: u8 = 5;
    pub const ENUM_STR_VALUE: u8 = 6;
    pub const GEOMETRY_TYPE: u8 = 7;
    pub const SIMPLE_PRIMARY_KEY: u8 = 8;
    pub const PRIMARY_KEY_WITH_PREFIX: u8 = 9;
    pub const ENUM_AND_SET_DEFAULT_CHARSET: u8 = 10;
    pub const ENUM_AND_SET_COLUMN_CHARSET: u8 = 11;
}

/// One column as the table map describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MapColumn {
    /// The binlog type, with STRING's real type (ENUM, SET) resolved.
    pub column_type: u8,
    /// The type-specific metadata word (see [`TableMap::parse`]).
    pub meta: u16,
    pub nullable: bool,
    pub name: Option<String>,
    /// From the SIGNEDNESS field; `None` for non-numeric columns or when the
    /// server sent no optional metadata.
    pub unsigned: Option<bool>,
    /// Collation id of character columns (and enum/set), when known.
    pub collation: Option<u32>,
    pub enum_values: Vec<Vec<u8>>,
    pub set_values: Vec<Vec<u8>>,
    pub geometry_type: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMap {
    pub table_id: u64,
    pub schema: String,
    pub table: String,
    pub columns: Vec<MapColumn>,
    /// Primary-key column indexes (optional metadata), in key order.
    pub primary_key: Vec<usize>,
    /// Whether optional metadata (binlog_row_metadata=FULL) was present.
    pub has_full_metadata: bool,
}

fn is_numeric(t: u8) -> bool {
    use col::*;
    matches!(
        t,
        TINY | SHORT | INT24 | LONG | LONGLONG | FLOAT | DOUBLE | NEWDECIMAL | DECIMAL
    )
}

fn is_character(t: u8, meta: u16) -> bool {
    use col::*;
    // BLOB-type columns carry a charset too (TEXT); binary ones report 63.
    let _ = meta;
    matches!(
        t,
        VARCHAR | VAR_STRING | STRING | BLOB | TINY_BLOB | MEDIUM_BLOB | LONG_BLOB
    )
}

impl TableMap {
    /// Parses the event body. Metadata words per type:
    /// FLOAT/DOUBLE/BLOB/GEOMETRY/JSON/TIME2/DATETIME2/TIMESTAMP2: 1 byte;
    /// VARCHAR/BIT/NEWDECIMAL/ENUM/SET/STRING: 2 bytes (STRING's first byte
    /// is the real type and carries two high bits of the length).
    pub fn parse(body: &[u8], table_id_len: usize) -> WireResult<TableMap> {
        let mut r = Reader::new(body);
        let table_id = r.uint_n(table_id_len, "table map id")?;
        r.skip(2, "table map flags")?;
        let n = r.u8("schema name length")? as usize;
        let schema = String::from_utf8_lossy(r.take(n, "schema name")?).into_owned();
        r.skip(1, "schema name terminator")?;
        let n = r.u8("table name length")? as usize;
        let table = String::from_utf8_lossy(r.take(n, "table name")?).into_owned();
        r.skip(1, "table name terminator")?;
        let count = usize::try_from(r.lenenc("table map column count")?).unwrap_or(usize::MAX);
        let types = r.take(count, "table map column types")?;
        let meta_len = r.lenenc("table map metadata length")? as usize;
        let mut m = Reader::new(r.take(meta_len, "table map metadata")?);
        let mut columns = Vec::with_capacity(count);
        for &t in types {
            let (column_type, meta) = match t {
                col::FLOAT
                | col::DOUBLE
                | col::BLOB
                | col::GEOMETRY
                | col::JSON
                | col::TIME2
                | col::DATETIME2
                | col::TIMESTAMP2
                | col::TINY_BLOB
                | col::MEDIUM_BLOB
                | col::LONG_BLOB => (t, m.u8("column metadata")? as u16),
                col::VARCHAR | col::VAR_STRING | col::BIT | col::ENUM | col::SET => {
                    (t, m.u16("column metadata")?)
                }
                col::NEWDECIMAL => {
                    // precision, scale (kept as precision << 8 | scale)
                    let p = m.u8("decimal precision")? as u16;
                    let s = m.u8("decimal scale")? as u16;
                    (t, (p << 8) | s)
                }
                col::STRING => {
                    let b0 = m.u8("string real type")?;
                    let b1 = m.u8("string length")?;
                    if b0 & 0x30 != 0x30 {
                        // Long CHAR: the real type's two spare bits hold
                        // length bits 8..9 (inverted).
                        let real = b0 | 0x30;
                        let len = b1 as u16 | ((((b0 & 0x30) ^ 0x30) as u16) << 4);
                        (real, len)
                    } else {
                        match b0 {
                            col::ENUM | col::SET => (b0, b1 as u16),
                            _ => (col::STRING, b1 as u16),
                        }
                    }
                }
                _ => (t, 0),
            };
            columns.push(MapColumn {
                column_type,
                meta,
                ..MapColumn::default()
            });
        }
        let nulls = r.take(count.div_ceil(8), "table map null bitmap")?;
        for (i, c) in columns.iter_mut().enumerate() {
            c.nullable = nulls[i / 8] & (1 << (i % 8)) != 0;
        }
        let mut map = TableMap {
            table_id,
            schema,
            table,
            columns,
            primary_key: Vec::new(),
            has_full_metadata: false,
        };
        while !r.is_empty() {
            let kind = r.u8("optional metadata type")?;
            let len = r.lenenc("optional metadata length")? as usize;
            let field = r.take(len, "optional metadata")?;
            map.has_full_metadata = true;
            map.apply_optional(kind, field)?;
        }
        Ok(map)
    }

    fn apply_optional(&mut self, kind: u8, field: &[u8]) -> WireResult<()> {
        let mut f = Reader::new(field);
        match kind {
            opt::SIGNEDNESS => {
                let numeric = self
                    .columns
                    .iter_mut()
                    .filter(|c| is_numeric(c.column_type));
                for (bit, c) in numeric.enumerate() {
                    let byte = field.get(bit / 8).copied().unwrap_or(0);
                    c.unsigned = Some(byte & (0x80 >> (bit % 8)) != 0);
                }
            }
            opt::DEFAULT_CHARSET | opt::ENUM_AND_SET_DEFAULT_CHARSET => {
                let enum_set = kind == opt::ENUM_AND_SET_DEFAULT_CHARSET;
                let default = f.lenenc("default charset")? as u32;
                let mut overrides = Vec::new();
                while !f.is_empty() {
                    let idx = f.lenenc("charset column index")? as usize;
                    let coll = f.lenenc("charset collation")? as u32;
                    overrides.push((idx, coll));
                }
                let cols = self.charset_columns(enum_set);
                for (k, &ci) in cols.iter().enumerate() {
                    let coll = overrides
                        .iter()
                        .find(|(i, _)| *i == k)
                        .map_or(default, |o| o.1);
                    self.columns[ci].collation = Some(coll);
                }
            }
            opt::COLUMN_CHARSET | opt::ENUM_AND_SET_COLUMN_CHARSET => {
                let cols = self.charset_columns(kind == opt::ENUM_AND_SET_COLUMN_CHARSET);
                for ci in cols {
                    if f.is_empty() {
                        break;
                    }
                    self.columns[ci].collation = Some(f.lenenc("column charset")? as u32);
                }
            }
            opt::COLUMN_NAME => {
                for c in self.columns.iter_mut() {
                    if f.is_empty() {
                        break;
                    }
                    c.name =
                        Some(String::from_utf8_lossy(f.lenenc_bytes("column name")?).into_owned());
                }
            }
            opt::SET_STR_VALUE | opt::ENUM_STR_VALUE => {
                let want = if kind == opt::SET_STR_VALUE {
                    col::SET
                } else {
                    col::ENUM
                };
                for c in self.columns.iter_mut().filter(|c| c.column_type == want) {
                    if f.is_empty() {
                        break;
                    }
                    let n = f.lenenc("enum/set value count")?;
                    let mut vals = Vec::with_capacity(n.min(4096) as usize);
                    for _ in 0..n {
                        vals.push(f.lenenc_bytes("enum/set value")?.to_vec());
                    }
                    if want == col::SET {
                        c.set_values = vals;
                    } else {
                        c.enum_values = vals;
                    }
                }
            }
            opt::GEOMETRY_TYPE => {
                for c in self
                    .columns
                    .iter_mut()
                    .filter(|c| c.column_type == col::GEOMETRY)
                {
                    if f.is_empty() {
                        break;
                    }
                    c.geometry_type = Some(f.lenenc("geometry type")? as u32);
                }
            }
            opt::SIMPLE_PRIMARY_KEY => {
                while !f.is_empty() {
                    self.primary_key
                        .push(f.lenenc("primary key column")? as usize);
                }
            }
            opt::PRIMARY_KEY_WITH_PREFIX => {
                while !f.is_empty() {
                    self.primary_key
                        .push(f.lenenc("primary key column")? as usize);
                    let _prefix = f.lenenc("primary key prefix")?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Indexes of the columns a charset field enumerates, in order.
    fn charset_columns(&self, enum_set: bool) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                if enum_set {
                    matches!(c.column_type, col::ENUM | col::SET)
                } else {
                    is_character(c.column_type, c.meta)
                }
            })
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a TABLE_MAP body: id 7, shop.t, (INT, VARCHAR(40), CHAR(300) as
    /// STRING with long-length bits, ENUM via STRING, DECIMAL(10,2)).
    pub(crate) fn sample() -> Vec<u8> {
        let mut b = vec![7, 0, 0, 0, 0, 0, 1, 0];
        b.extend_from_slice(&[4]);
        b.extend_from_slice(b"shop\0");
        b.extend_from_slice(&[1]);
        b.extend_from_slice(b"t\0");
        b.push(5);
        b.extend_from_slice(&[
            col::LONG,
            col::VARCHAR,
            col::STRING,
            col::STRING,
            col::NEWDECIMAL,
        ]);
        // 300 = 0x12c: b0 = 0xfe ^ ((0x100 >> 4) & 0x30) = 0xee, b1 = 0x2c
        let meta = [160u8, 0, 0xee, 0x2c, col::ENUM, 1, 10, 2];
        b.push(meta.len() as u8);
        b.extend_from_slice(&meta);
        b.push(0b11110); // all nullable but the first
                         // optional: signedness (numeric cols: LONG, NEWDECIMAL) first unsigned
        b.extend_from_slice(&[opt::SIGNEDNESS, 1, 0b1000_0000]);
        // default charset 45, column 1 (CHAR) is latin1 (8)
        b.extend_from_slice(&[opt::DEFAULT_CHARSET, 3, 45, 1, 8]);
        let names: &[&[u8]] = &[b"id", b"name", b"code", b"color", b"price"];
        let mut nb = Vec::new();
        for n in names {
            nb.push(n.len() as u8);
            nb.extend_from_slice(n);
        }
        b.push(opt::COLUMN_NAME);
        b.push(nb.len() as u8);
        b.extend_from_slice(&nb);
        b.extend_from_slice(&[
            opt::ENUM_STR_VALUE,
            8,
            2,
            3,
            b'r',
            b'e',
            b'd',
            2,
            b'g',
            b'o',
        ]);
        b.extend_from_slice(&[opt::SIMPLE_PRIMARY_KEY, 1, 0]);
        b.extend_from_slice(&[99, 2, 0xde, 0xad]); // unknown field: skipped
        b
    }

    #[test]
    fn parses_types_metadata_and_optional_fields() {
        let m = TableMap::parse(&sample(), 6).unwrap();
        assert_eq!(
            (m.table_id, m.schema.as_str(), m.table.as_str()),
            (7, "shop", "t")
        );
        let c = &m.columns;
        assert_eq!(
            (c[0].column_type, c[0].unsigned, c[0].nullable),
            (col::LONG, Some(true), false)
        );
        assert_eq!(
            (c[1].column_type, c[1].meta, c[1].collation),
            (col::VARCHAR, 160, Some(45))
        );
        assert_eq!(
            (c[2].column_type, c[2].meta, c[2].collation),
            (col::STRING, 300, Some(8))
        );
        assert_eq!((c[3].column_type, c[3].meta), (col::ENUM, 1));
        assert_eq!(c[3].enum_values, vec![b"red".to_vec(), b"go".to_vec()]);
        assert_eq!(
            (c[4].column_type, c[4].meta >> 8, c[4].meta & 0xff),
            (col::NEWDECIMAL, 10, 2)
        );
        assert_eq!(c[4].unsigned, Some(false));
        assert_eq!(c[4].name.as_deref(), Some("price"));
        assert_eq!(m.primary_key, vec![0]);
        assert!(m.has_full_metadata);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let b = sample();
        for cut in 0..b.len() - 4 {
            // Cutting inside the fixed part or a TLV must never panic.
            let _ = TableMap::parse(&b[..cut], 6);
        }
        assert!(TableMap::parse(&b[..20], 6).is_err());
    }
}
