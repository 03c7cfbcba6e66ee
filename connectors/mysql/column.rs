//! Per-column decoding plans and their Debezium field schemas.
//!
//! A [`ColumnPlan`] is built once per table version from the TABLE_MAP
//! column (type, metadata, signedness, charset, enum/set values) plus what
//! only information_schema knows (e.g. `float(7,2)`, MariaDB JSON's
//! `json_valid` check), and carries its `Arc<Schema>`: the row decoder never
//! looks at types again. The mapping is Debezium's defaults
//! (decimal.handling.mode=precise, time.precision.mode=adaptive_time_microseconds,
//! bigint.unsigned.handling.mode=long, binary.handling.mode=bytes).

use std::sync::Arc;

use sluice_api::data::{names, schemas, Schema, SchemaBuilder, Value};

use super::charset::Charset;
use super::table_map::{col, MapColumn};

/// decimal.handling.mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalMode {
    #[default]
    Precise,
    Double,
    String,
}

/// bigint.unsigned.handling.mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BigintUnsignedMode {
    #[default]
    Long,
    Precise,
}

/// time.precision.mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimePrecision {
    /// Debezium's default: io.debezium.time.* at the column's precision.
    #[default]
    AdaptiveTimeMicroseconds,
    /// Kafka Connect's Date, Time and Timestamp (milliseconds).
    Connect,
    /// io.debezium.time.IsoDate, IsoTime and IsoTimestamp strings.
    IsoString,
    /// io.debezium.time.Date, MicroTime and MicroTimestamp at every precision.
    Microseconds,
    /// io.debezium.time.Date, NanoTime and NanoTimestamp.
    Nanoseconds,
}

/// binary.handling.mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BinaryMode {
    #[default]
    Bytes,
    Base64,
    Base64UrlSafe,
    Hex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeOptions {
    pub decimal: DecimalMode,
    pub bigint_unsigned: BigintUnsignedMode,
    pub time_precision: TimePrecision,
    pub binary: BinaryMode,
}

/// What a DATETIME becomes under a time.precision.mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateTimeOut {
    Millis,
    Micros,
    Nanos,
    /// io.debezium.time.IsoTimestamp.
    Iso,
}

/// A change of a decoded value that a mapping option asks for, applied to
/// the row before its events are built (snapshot and stream alike, so the
/// two decoders stay single-purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Adapt {
    #[default]
    None,
    /// TIME (int64 microseconds) to Kafka Connect's Time (int32 ms of the
    /// day). Debezium refuses values outside 00:00:00..=24:00:00 there:
    /// null (0 for a NOT NULL column).
    TimeToMillis { optional: bool },
    /// TIME microseconds to io.debezium.time.NanoTime.
    TimeToNanos,
    /// TIME microseconds to io.debezium.time.IsoTime (null outside
    /// 00:00:00..=24:00:00, "00:00:00Z" for a NOT NULL column).
    TimeToIso { optional: bool },
    /// DATE (int32 days) to io.debezium.time.IsoDate.
    DateToIso,
    /// DATETIME (int64 epoch milliseconds, or microseconds when `micros`)
    /// to another unit or to io.debezium.time.IsoTimestamp.
    DateTime { micros: bool, to: DateTimeOut },
    /// Bytes to a string, as binary.handling.mode asks.
    BytesToText(BinaryMode),
}

impl Adapt {
    pub fn apply(self, v: &mut Value) {
        use super::temporal::{iso_date, iso_time, iso_timestamp, ONE_DAY_MICROS};
        match (self, &*v) {
            (Adapt::TimeToMillis { optional }, Value::Int64(us)) => {
                *v = if (0..=ONE_DAY_MICROS).contains(us) {
                    Value::Int32((us / 1000) as i32)
                } else if optional {
                    Value::Null
                } else {
                    Value::Int32(0)
                }
            }
            (Adapt::TimeToNanos, Value::Int64(us)) => *v = Value::Int64(us.saturating_mul(1000)),
            (Adapt::TimeToIso { optional }, Value::Int64(us)) => {
                *v = match iso_time(*us) {
                    Some(t) => Value::String(t.into()),
                    None if optional => Value::Null,
                    None => Value::String("00:00:00Z".into()),
                }
            }
            (Adapt::DateToIso, Value::Int32(days)) => {
                *v = Value::String(iso_date(*days as i64).into())
            }
            (Adapt::DateTime { micros, to }, Value::Int64(t)) => {
                let us = if micros { *t } else { t.saturating_mul(1000) };
                *v = match to {
                    DateTimeOut::Millis => Value::Int64(us.div_euclid(1000)),
                    DateTimeOut::Micros => Value::Int64(us),
                    // Debezium's NanoTimestamp: epoch day * nanos per day +
                    // nano of day in Java's wrapping long arithmetic (years
                    // before 1677 or after 2262 wrap, as there).
                    DateTimeOut::Nanos => Value::Int64(
                        us.div_euclid(86_400_000_000)
                            .wrapping_mul(86_400_000_000_000)
                            .wrapping_add(us.rem_euclid(86_400_000_000) * 1000),
                    ),
                    DateTimeOut::Iso => Value::String(iso_timestamp(us).into()),
                }
            }
            (Adapt::BytesToText(mode), Value::Bytes(b)) => {
                use base64::Engine as _;
                let text = match mode {
                    BinaryMode::Base64 => base64::engine::general_purpose::STANDARD.encode(b),
                    BinaryMode::Base64UrlSafe => {
                        base64::engine::general_purpose::URL_SAFE.encode(b)
                    }
                    BinaryMode::Hex => {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        let mut h = String::with_capacity(b.len() * 2);
                        for &x in b {
                            h.push(HEX[(x >> 4) as usize] as char);
                            h.push(HEX[(x & 15) as usize] as char);
                        }
                        h
                    }
                    BinaryMode::Bytes => return,
                };
                *v = Value::String(text.into());
            }
            _ => {}
        }
    }
}

/// The schema and adaptation a mapping option gives a column, from the
/// default mapping's.
fn with_options(
    decode: &Decode,
    schema: Arc<Schema>,
    optional: bool,
    opts: &DecodeOptions,
) -> (Arc<Schema>, Adapt) {
    use sluice_api::data::SchemaType as T;
    if let Some(changed) = time_mode(decode, optional, opts.time_precision) {
        return changed;
    }
    if opts.binary != BinaryMode::Bytes
        && schema.kind == T::Bytes
        && schema.name.is_none()
        && matches!(decode, Decode::Str { .. })
    {
        return (
            schemas::primitive(T::String, optional),
            Adapt::BytesToText(opts.binary),
        );
    }
    (schema, Adapt::None)
}

/// The schema and adaptation a time.precision.mode other than the default
/// gives a DATE, TIME or DATETIME column (TIMESTAMP is ZonedTimestamp in
/// every mode, YEAR int32); `None`: the default mapping stands.
fn time_mode(decode: &Decode, optional: bool, mode: TimePrecision) -> Option<(Arc<Schema>, Adapt)> {
    use DateTimeOut as O;
    use TimePrecision as P;
    let (date, time, datetime) = (
        matches!(decode, Decode::Date),
        matches!(decode, Decode::Time2 { .. } | Decode::TimeOld),
        matches!(decode, Decode::DateTime2 { .. } | Decode::DateTimeOld),
    );
    let micros = matches!(decode, Decode::DateTime2 { fsp } if *fsp > 3);
    let string = |n: &str| named(SchemaBuilder::string(), n, optional);
    let int64 = |n: &str| named(SchemaBuilder::int64(), n, optional);
    let dt = |to| Adapt::DateTime { micros, to };
    Some(match mode {
        P::AdaptiveTimeMicroseconds => return None,
        P::Connect if date => (schemas::date(optional), Adapt::None),
        P::Connect if time => (schemas::time(optional), Adapt::TimeToMillis { optional }),
        P::Connect if datetime => (
            schemas::timestamp(optional),
            if micros { dt(O::Millis) } else { Adapt::None },
        ),
        P::IsoString if date => (string("io.debezium.time.IsoDate"), Adapt::DateToIso),
        P::IsoString if time => (
            string("io.debezium.time.IsoTime"),
            Adapt::TimeToIso { optional },
        ),
        P::IsoString if datetime => (string("io.debezium.time.IsoTimestamp"), dt(O::Iso)),
        P::Microseconds if datetime && !micros => {
            (int64(names::DBZ_MICRO_TIMESTAMP), dt(O::Micros))
        }
        P::Nanoseconds if time => (int64(names::DBZ_NANO_TIME), Adapt::TimeToNanos),
        P::Nanoseconds if datetime => (int64(names::DBZ_NANO_TIMESTAMP), dt(O::Nanos)),
        _ => return None,
    })
}

/// Facts about a column that the binlog does not carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    /// information_schema COLUMN_TYPE, lower case (`float(7,2)`, `binary(4)`).
    pub column_type: String,
    pub charset: Option<String>,
    pub is_json: bool,
    /// The default as Debezium's DDL parser keeps it (its
    /// `defaultValueExpression`): `None` for no default, NULL or an
    /// expression; see `catalog::default_expression`.
    pub default: Option<String>,
}

/// MariaDB's fixed-size binary types (stored as BINARY(n), shown as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedText {
    Uuid,
    Inet4,
    Inet6,
}

impl FixedText {
    fn of(column_type: &str) -> Option<FixedText> {
        Some(match column_type {
            "uuid" => FixedText::Uuid,
            "inet4" => FixedText::Inet4,
            "inet6" => FixedText::Inet6,
            _ => return None,
        })
    }

    /// The stored size in bytes.
    pub fn size(self) -> usize {
        match self {
            FixedText::Inet4 => 4,
            FixedText::Uuid | FixedText::Inet6 => 16,
        }
    }

    /// The text MariaDB shows for the stored bytes (the binlog drops
    /// trailing zero bytes, as of any BINARY(n): they are put back here).
    pub fn text(self, stored: &[u8]) -> Result<String, String> {
        if stored.len() > self.size() {
            return Err(format!(
                "{self:?} value of {} bytes, more than {}",
                stored.len(),
                self.size()
            ));
        }
        let mut b = [0u8; 16];
        b[..stored.len()].copy_from_slice(stored);
        Ok(match self {
            FixedText::Uuid => {
                let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                )
            }
            FixedText::Inet4 => format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
            FixedText::Inet6 => inet6_text(&b),
        })
    }
}

/// INET6 as MariaDB prints it: the longest run of zero groups (the first
/// of equal runs, even a single group) as `::`, and `::a.b.c.d` /
/// `::ffff:a.b.c.d` for IPv4-compatible and IPv4-mapped addresses.
fn inet6_text(b: &[u8; 16]) -> String {
    use std::fmt::Write;
    let w: Vec<u16> = b
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let (mut best, mut best_len, mut i) = (0usize, 0usize, 0usize);
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                (best, best_len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    if best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
        let prefix = if best_len == 6 { "::" } else { "::ffff:" };
        return format!("{prefix}{}.{}.{}.{}", b[12], b[13], b[14], b[15]);
    }
    let mut s = String::with_capacity(40);
    let mut k = 0;
    while k < 8 {
        if best_len > 0 && k == best {
            s.push_str("::");
            k += best_len;
            continue;
        }
        if !s.is_empty() && !s.ends_with(':') {
            s.push(':');
        }
        let _ = write!(s, "{:x}", w[k]);
        k += 1;
    }
    s
}

/// What the decoder does with a column's bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Decode {
    Int {
        bytes: u8,
        unsigned: bool,
        out: IntOut,
    },
    Float32 {
        widen: bool,
    },
    Float64,
    Decimal {
        precision: u8,
        scale: u8,
        mode: DecimalMode,
    },
    Date,
    Time2 {
        fsp: u8,
    },
    TimeOld,
    DateTime2 {
        fsp: u8,
    },
    DateTimeOld,
    Timestamp2 {
        fsp: u8,
    },
    TimestampOld,
    Year,
    Bit {
        bits: u16,
    },
    /// VARCHAR/CHAR/TEXT/BLOB: `len_bytes` of length prefix, then bytes.
    Str {
        len_bytes: u8,
        charset: Charset,
        pad_binary_to: Option<usize>,
        json: bool,
    },
    /// The allowed values, shared: an ENUM value is a count, not a copy.
    Enum {
        len_bytes: u8,
        values: Arc<[Arc<str>]>,
    },
    Set {
        len_bytes: u8,
        values: Arc<[Arc<str>]>,
    },
    /// MySQL's binary JSON (type 245).
    JsonBinary {
        len_bytes: u8,
    },
    /// MariaDB's UUID, INET4 and INET6: BINARY(n) in the binlog, text in
    /// events.
    Fixed {
        len_bytes: u8,
        kind: FixedText,
    },
    /// GEOMETRY and its subtypes: 4 bytes of SRID, then WKB. `point`:
    /// a POINT column (Debezium's Point, with x and y).
    Geometry {
        len_bytes: u8,
        point: bool,
    },
}

/// Which Value variant an integer becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOut {
    I16,
    I32,
    I64,
    /// BIGINT UNSIGNED with bigint.unsigned.handling.mode=precise.
    Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPlan {
    pub name: String,
    pub decode: Decode,
    pub optional: bool,
    pub schema: Arc<Schema>,
    /// What time.precision.mode / binary.handling.mode change in the
    /// decoded value.
    pub adapt: Adapt,
    /// The column's default as decoded (before `adapt`); the schema carries
    /// it adapted. A NOT NULL column's zero date reads as it, as Debezium's
    /// converters fall back to the field's default.
    pub default: Option<Value>,
    /// information_schema's COLUMN_TYPE, when known (for
    /// column.propagate.source.type).
    pub column_type: Option<String>,
}

impl ColumnPlan {
    /// Whether a string-typed column's bytes are kept as bytes (binary
    /// charset): its schema says bytes, or binary.handling.mode turns the
    /// bytes into text after decoding (see [`Adapt`]).
    pub fn decodes_bytes(&self) -> bool {
        self.schema.kind == sluice_api::data::SchemaType::Bytes
            || matches!(self.adapt, Adapt::BytesToText(_))
    }
}

fn named(b: SchemaBuilder, name: &str, optional: bool) -> Arc<Schema> {
    b.name(name).version(1).set_optional(optional).build()
}

/// Debezium's Geometry struct (wkb bytes + optional srid).
pub fn geometry_schema(optional: bool) -> Arc<Schema> {
    SchemaBuilder::structure()
        .name(names::DBZ_GEOMETRY)
        .version(1)
        .doc("Geometry")
        .field("wkb", schemas::bytes())
        .field("srid", schemas::optional_int32())
        .set_optional(optional)
        .build()
}

/// Debezium's Point struct for POINT columns: x, y, then Geometry's fields.
pub fn point_schema(optional: bool) -> Arc<Schema> {
    SchemaBuilder::structure()
        .name(names::DBZ_POINT)
        .version(1)
        .doc("Geometry (POINT)")
        .field("x", schemas::float64())
        .field("y", schemas::float64())
        .field("wkb", schemas::optional_bytes())
        .field("srid", schemas::optional_int32())
        .set_optional(optional)
        .build()
}

/// A geometry value as stored (4 bytes of SRID, little-endian, then WKB)
/// into Debezium's Geometry, or Point (x and y read from the WKB).
pub fn geometry_value(plan: &ColumnPlan, stored: &[u8], point: bool) -> Result<Value, String> {
    if stored.len() < 4 {
        return Err("geometry shorter than its SRID".into());
    }
    let srid = i32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    let wkb = &stored[4..];
    let mut values = Vec::with_capacity(4);
    if point {
        // WKB point: byte order (1 = little-endian), type 1, x, y.
        if wkb.len() != 21 {
            return Err(format!("a POINT's WKB is {} bytes, not 21", wkb.len()));
        }
        let le = wkb[0] != 0;
        let f = |at: usize| {
            let b: [u8; 8] = wkb[at..at + 8].try_into().expect("8 bytes");
            if le {
                f64::from_le_bytes(b)
            } else {
                f64::from_be_bytes(b)
            }
        };
        values.push(Value::Float64(f(5)));
        values.push(Value::Float64(f(13)));
    }
    values.push(Value::Bytes(wkb.to_vec()));
    // SRID 0 is "unset": Debezium's null.
    values.push(if srid == 0 {
        Value::Null
    } else {
        Value::Int32(srid)
    });
    Ok(Value::Struct(sluice_api::data::Struct {
        schema: plan.schema.clone(),
        values,
    }))
}

fn decimal_schema(precision: u8, scale: u8, optional: bool) -> Arc<Schema> {
    SchemaBuilder::bytes()
        .name(names::DECIMAL)
        .version(1)
        .parameter(names::DECIMAL_SCALE, scale.to_string())
        .parameter("connect.decimal.precision", precision.to_string())
        .set_optional(optional)
        .build()
}

fn enum_values(vals: &[Vec<u8>], cs: &Charset) -> Arc<[Arc<str>]> {
    vals.iter()
        .map(|v| {
            cs.decode(v)
                .unwrap_or_else(|_| String::from_utf8_lossy(v).into())
        })
        .collect()
}

/// `enum('a','b''c')` → ["a", "b'c"].
pub fn enum_labels(column_type: &str) -> Vec<Vec<u8>> {
    let inner = column_type
        .find('(')
        .and_then(|s| column_type.rfind(')').map(|e| &column_type[s + 1..e]))
        .unwrap_or("");
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut in_quote = false;
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_quote {
            if c == b'\'' {
                if b.get(i + 1) == Some(&b'\'') {
                    cur.push(b'\'');
                    i += 1;
                } else {
                    in_quote = false;
                    out.push(std::mem::take(&mut cur));
                }
            } else if c == b'\\' && i + 1 < b.len() {
                cur.push(b[i + 1]);
                i += 1;
            } else {
                cur.push(c);
            }
        } else if c == b'\'' {
            in_quote = true;
        }
        i += 1;
    }
    out
}

/// A binary string column's bytes as its value, a BINARY(n) padded with
/// zero bytes to its length as the server pads it (`pad_binary_to`).
#[inline]
pub fn binary_value(b: &[u8], pad_binary_to: Option<usize>) -> Value {
    let mut v = b.to_vec();
    if let Some(n) = pad_binary_to {
        if v.len() < n {
            v.resize(n, 0);
        }
    }
    Value::Bytes(v)
}

/// The ENUM/SET values of a column: from the table definition
/// (information_schema's COLUMN_TYPE, UTF-8 text) whenever it is known, as
/// Debezium takes them from its schema model; the TABLE_MAP's (only with
/// binlog_row_metadata=FULL) otherwise.
fn enum_or_set_values(
    info: Option<&ColumnInfo>,
    prefix: &str,
    from_map: &[Vec<u8>],
    cs: &Charset,
) -> Arc<[Arc<str>]> {
    match info.filter(|i| i.column_type.starts_with(prefix)) {
        Some(i) => enum_labels(&i.column_type)
            .iter()
            .map(|v| Arc::from(String::from_utf8_lossy(v).as_ref()))
            .collect(),
        None => enum_values(from_map, cs),
    }
}

/// Builds one column's plan. `info` may be `None` when information_schema
/// is unavailable (then FLOAT(M,D) reads as FLOAT and MariaDB JSON as text).
pub fn plan(
    index: usize,
    c: &MapColumn,
    info: Option<&ColumnInfo>,
    opts: &DecodeOptions,
) -> Result<ColumnPlan, String> {
    let name = c
        .name
        .clone()
        .or_else(|| info.map(|i| i.name.clone()))
        .unwrap_or_else(|| format!("_col{index}"));
    let optional = c.nullable;
    let unsigned = c
        .unsigned
        .unwrap_or_else(|| info.is_some_and(|i| i.column_type.contains("unsigned")));
    let ctype = info.map(|i| i.column_type.as_str()).unwrap_or("");
    let charset = c
        .collation
        .and_then(Charset::from_collation_id)
        .or_else(|| {
            info.and_then(|i| i.charset.as_deref())
                .map(Charset::from_name)
        })
        .unwrap_or(Charset::Binary);
    let prim = |k| schemas::primitive(k, optional);
    use sluice_api::data::SchemaType as T;
    let int = |bytes: u8, out: IntOut, schema: Arc<Schema>| {
        (
            Decode::Int {
                bytes,
                unsigned,
                out,
            },
            schema,
        )
    };
    let fixed = info
        .and_then(|i| FixedText::of(&i.column_type))
        .filter(|_| matches!(c.column_type, col::STRING | col::VARCHAR | col::VAR_STRING));
    let (decode, schema) = match c.column_type {
        _ if fixed.is_some() => {
            let kind = fixed.expect("checked");
            let schema = match kind {
                FixedText::Uuid => {
                    named(SchemaBuilder::string(), "io.debezium.data.Uuid", optional)
                }
                FixedText::Inet4 | FixedText::Inet6 => prim(T::String),
            };
            let len_bytes = if c.meta > 255 { 2 } else { 1 };
            (Decode::Fixed { len_bytes, kind }, schema)
        }
        col::TINY => int(1, IntOut::I16, prim(T::Int16)),
        col::SHORT if unsigned => int(2, IntOut::I32, prim(T::Int32)),
        col::SHORT => int(2, IntOut::I16, prim(T::Int16)),
        col::INT24 => int(3, IntOut::I32, prim(T::Int32)),
        col::LONG if unsigned => int(4, IntOut::I64, prim(T::Int64)),
        col::LONG => int(4, IntOut::I32, prim(T::Int32)),
        col::LONGLONG if unsigned && opts.bigint_unsigned == BigintUnsignedMode::Precise => {
            int(8, IntOut::Decimal, decimal_schema(20, 0, optional))
        }
        col::LONGLONG => int(8, IntOut::I64, prim(T::Int64)),
        col::FLOAT => {
            // FLOAT(M,D) is FLOAT64 in Debezium; FLOAT and FLOAT(p<=23) FLOAT32.
            let widen = ctype.starts_with("float(") && ctype.contains(',');
            (
                Decode::Float32 { widen },
                prim(if widen { T::Float64 } else { T::Float32 }),
            )
        }
        col::DOUBLE => (Decode::Float64, prim(T::Float64)),
        col::NEWDECIMAL => {
            let (p, s) = ((c.meta >> 8) as u8, (c.meta & 0xff) as u8);
            if p == 0 || p > 65 || s > 30 || s > p {
                return Err(format!(
                    "column {name}: DECIMAL({p},{s}) is not a valid definition"
                ));
            }
            let schema = match opts.decimal {
                DecimalMode::Precise => decimal_schema(p, s, optional),
                DecimalMode::Double => prim(T::Float64),
                DecimalMode::String => prim(T::String),
            };
            (
                Decode::Decimal {
                    precision: p,
                    scale: s,
                    mode: opts.decimal,
                },
                schema,
            )
        }
        col::DATE | col::NEWDATE => (
            Decode::Date,
            named(SchemaBuilder::int32(), names::DBZ_DATE, optional),
        ),
        col::TIME2 => (
            Decode::Time2 { fsp: c.meta as u8 },
            named(SchemaBuilder::int64(), names::DBZ_MICRO_TIME, optional),
        ),
        col::TIME => (
            Decode::TimeOld,
            named(SchemaBuilder::int64(), names::DBZ_MICRO_TIME, optional),
        ),
        col::DATETIME2 => {
            let fsp = c.meta as u8;
            let n = if fsp <= 3 {
                names::DBZ_TIMESTAMP
            } else {
                names::DBZ_MICRO_TIMESTAMP
            };
            (
                Decode::DateTime2 { fsp },
                named(SchemaBuilder::int64(), n, optional),
            )
        }
        col::DATETIME => (
            Decode::DateTimeOld,
            named(SchemaBuilder::int64(), names::DBZ_TIMESTAMP, optional),
        ),
        col::TIMESTAMP2 => (
            Decode::Timestamp2 { fsp: c.meta as u8 },
            named(
                SchemaBuilder::string(),
                names::DBZ_ZONED_TIMESTAMP,
                optional,
            ),
        ),
        col::TIMESTAMP => (
            Decode::TimestampOld,
            named(
                SchemaBuilder::string(),
                names::DBZ_ZONED_TIMESTAMP,
                optional,
            ),
        ),
        col::YEAR => (
            Decode::Year,
            named(SchemaBuilder::int32(), names::DBZ_YEAR, optional),
        ),
        col::BIT => {
            let bits = (c.meta >> 8) * 8 + (c.meta & 0xff);
            if bits <= 1 {
                (Decode::Bit { bits: 1 }, prim(T::Boolean))
            } else {
                let s = SchemaBuilder::bytes()
                    .name(names::DBZ_BITS)
                    .version(1)
                    .parameter("length", bits.to_string())
                    .set_optional(optional)
                    .build();
                (Decode::Bit { bits }, s)
            }
        }
        col::VARCHAR | col::VAR_STRING | col::STRING => {
            let max = c.meta as usize;
            let len_bytes = if max > 255 { 2 } else { 1 };
            let binary = charset == Charset::Binary;
            let pad = (binary && c.column_type == col::STRING).then_some(max);
            let schema = prim(if binary { T::Bytes } else { T::String });
            (
                Decode::Str {
                    len_bytes,
                    charset,
                    pad_binary_to: pad,
                    json: false,
                },
                schema,
            )
        }
        col::BLOB | col::TINY_BLOB | col::MEDIUM_BLOB | col::LONG_BLOB => {
            let len_bytes = c.meta as u8;
            if !(1..=4).contains(&len_bytes) {
                return Err(format!(
                    "column {name}: BLOB length width {len_bytes} is not 1-4"
                ));
            }
            // MariaDB's JSON is LONGTEXT with a json_valid() check: Debezium
            // sees LONGTEXT there, a plain string (MySQL's JSON is type 245).
            let json = info.is_some_and(|i| i.is_json);
            let binary = charset == Charset::Binary && !json;
            let schema = prim(if binary { T::Bytes } else { T::String });
            (
                Decode::Str {
                    len_bytes,
                    charset,
                    pad_binary_to: None,
                    json,
                },
                schema,
            )
        }
        col::JSON => (
            Decode::JsonBinary {
                len_bytes: c.meta as u8,
            },
            named(SchemaBuilder::string(), names::DBZ_JSON, optional),
        ),
        col::ENUM => {
            let values = enum_or_set_values(info, "enum(", &c.enum_values, &charset);
            let s = SchemaBuilder::string()
                .name(names::DBZ_ENUM)
                .version(1)
                .parameter("allowed", values.join(","))
                .set_optional(optional)
                .build();
            (
                Decode::Enum {
                    len_bytes: c.meta as u8,
                    values,
                },
                s,
            )
        }
        col::SET => {
            let values = enum_or_set_values(info, "set(", &c.set_values, &charset);
            let s = SchemaBuilder::string()
                .name(names::DBZ_ENUM_SET)
                .version(1)
                .parameter("allowed", values.join(","))
                .set_optional(optional)
                .build();
            (
                Decode::Set {
                    len_bytes: c.meta as u8,
                    values,
                },
                s,
            )
        }
        col::GEOMETRY => {
            // The TABLE_MAP's geometry type (FULL metadata; 1 = POINT), or
            // information_schema's column type.
            let point = c.geometry_type.map_or(ctype == "point", |g| g == 1);
            let schema = if point {
                point_schema(optional)
            } else {
                geometry_schema(optional)
            };
            (
                Decode::Geometry {
                    len_bytes: c.meta as u8,
                    point,
                },
                schema,
            )
        }
        other => {
            return Err(format!(
                "column {name}: binlog type {other} is not supported"
            ))
        }
    };
    let (schema, adapt) = with_options(&decode, schema, optional, opts);
    let p = ColumnPlan {
        name,
        decode,
        optional,
        schema,
        adapt,
        default: None,
        column_type: info.map(|i| i.column_type.clone()),
    };
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(column_type: &str) -> ColumnInfo {
        ColumnInfo {
            name: "c".into(),
            column_type: column_type.into(),
            charset: Some("utf8mb4".into()),
            ..Default::default()
        }
    }

    fn map(t: u8, meta: u16) -> MapColumn {
        MapColumn {
            column_type: t,
            meta,
            nullable: true,
            ..Default::default()
        }
    }

    #[test]
    fn fixed_size_types_print_as_mariadb_does() {
        // The binlog drops a BINARY(n)'s trailing zero bytes: put back at
        // the end (Debezium's streamed UUID left-pads them, a bug: its own
        // snapshot of the same row prints the UUID as stored).
        let u = [
            0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17,
            0x40,
        ];
        assert_eq!(
            FixedText::Uuid.text(&u).unwrap(),
            "123e4567-e89b-12d3-a456-426614174000"
        );
        assert_eq!(
            FixedText::Uuid.text(&[]).unwrap(),
            "00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            FixedText::Inet4.text(&[192, 168, 0, 1]).unwrap(),
            "192.168.0.1"
        );
        assert_eq!(FixedText::Inet4.text(&[10]).unwrap(), "10.0.0.0");
        let v6 = |s: &str| {
            let a: std::net::Ipv6Addr = s.parse().unwrap();
            FixedText::Inet6.text(&a.octets()).unwrap()
        };
        assert_eq!(v6("2001:db8::ff00:42:8329"), "2001:db8::ff00:42:8329");
        assert_eq!(v6("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(v6("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("1::"), "1::");
        // A single zero group is compressed too (MariaDB, not RFC 5952).
        assert_eq!(v6("1:0:1:0:1:0:1:0"), "1::1:0:1:0:1:0");
        assert_eq!(v6("1:0:0:1:0:0:0:1"), "1:0:0:1::1");
        assert!(FixedText::Inet4.text(&[1, 2, 3, 4, 5]).is_err());
    }

    #[test]
    fn mariadb_types_get_debezium_schemas() {
        let o = DecodeOptions::default();
        let u = plan(0, &map(col::STRING, 16), Some(&info("uuid")), &o).unwrap();
        assert_eq!(u.schema.name(), Some("io.debezium.data.Uuid"));
        assert_eq!(u.schema.kind, sluice_api::data::SchemaType::String);
        let i = plan(0, &map(col::STRING, 4), Some(&info("inet4")), &o).unwrap();
        assert_eq!(
            (i.schema.name(), i.schema.kind),
            (None, sluice_api::data::SchemaType::String)
        );
        // MariaDB JSON: LONGTEXT + json_valid(), a plain string.
        let mut j = info("longtext");
        j.is_json = true;
        let j = plan(0, &map(col::BLOB, 4), Some(&j), &o).unwrap();
        assert_eq!(j.schema.name(), None);
        // MySQL's JSON keeps its name.
        let mj = plan(0, &map(col::JSON, 4), None, &o).unwrap();
        assert_eq!(mj.schema.name(), Some(names::DBZ_JSON));
        // FLOAT(M,D) is a double, FLOAT a float.
        let f = plan(0, &map(col::FLOAT, 4), Some(&info("float(7,3)")), &o).unwrap();
        assert_eq!(f.decode, Decode::Float32 { widen: true });
        assert_eq!(f.schema.kind, sluice_api::data::SchemaType::Float64);
    }

    #[test]
    fn enum_and_set_values_come_from_the_table_definition() {
        // binlog_row_metadata=NO_LOG: the TABLE_MAP has no values.
        let o = DecodeOptions::default();
        let e = plan(
            0,
            &map(col::ENUM, 1),
            Some(&info("enum('small','medium','lárge')")),
            &o,
        )
        .unwrap();
        match &e.decode {
            Decode::Enum { values, .. } => {
                assert_eq!(
                    values.iter().map(|v| &**v).collect::<Vec<_>>(),
                    ["small", "medium", "lárge"]
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.schema.parameter("allowed"), Some("small,medium,lárge"));
        let s = plan(0, &map(col::SET, 1), Some(&info("set('a','b')")), &o).unwrap();
        assert!(matches!(&s.decode, Decode::Set { values, .. } if values.len() == 2));
        // Without a definition, the TABLE_MAP's (FULL metadata).
        let mut m = map(col::ENUM, 1);
        m.enum_values = vec![b"x".to_vec()];
        let e = plan(0, &m, None, &o).unwrap();
        assert!(matches!(&e.decode, Decode::Enum { values, .. } if values.len() == 1));
    }

    #[test]
    fn time_precision_modes_map_as_debezium() {
        let opts = |m| DecodeOptions {
            time_precision: m,
            ..Default::default()
        };
        let time = map(col::TIME2, 6);
        let dt3 = map(col::DATETIME2, 3);
        let date = map(col::DATE, 0);
        let p = |c: &MapColumn, m| plan(0, c, None, &opts(m)).unwrap();
        use TimePrecision as P;
        // connect: TIME outside 00:00:00..=24:00:00 is null.
        let t = p(&time, P::Connect);
        assert_eq!(t.schema.name(), Some(names::TIME));
        for (us, want) in [
            (45_296_789_000i64, Value::Int32(45_296_789)),
            (-1, Value::Null),
            (-3_020_399_000_000, Value::Null),
            (86_400_000_000, Value::Int32(86_400_000)),
            (86_400_000_001, Value::Null),
        ] {
            let mut v = Value::Int64(us);
            t.adapt.apply(&mut v);
            assert_eq!(v, want, "{us}");
        }
        let iso = |c: &MapColumn, v: Value| {
            let pl = p(c, P::IsoString);
            let mut v = v;
            pl.adapt.apply(&mut v);
            (pl.schema.name().map(str::to_string), v)
        };
        assert_eq!(
            iso(&time, Value::Int64(45_296_789_000)),
            (
                Some("io.debezium.time.IsoTime".into()),
                Value::String("12:34:56.789Z".into())
            )
        );
        assert_eq!(iso(&time, Value::Int64(-1)).1, Value::Null);
        assert_eq!(
            iso(&date, Value::Int32(19_782)),
            (
                Some("io.debezium.time.IsoDate".into()),
                Value::String("2024-02-29Z".into())
            )
        );
        assert_eq!(
            iso(&dt3, Value::Int64(1_709_210_096_789)),
            (
                Some("io.debezium.time.IsoTimestamp".into()),
                Value::String("2024-02-29T12:34:56.789Z".into())
            )
        );
        let us = p(&dt3, P::Microseconds);
        assert_eq!(us.schema.name(), Some(names::DBZ_MICRO_TIMESTAMP));
        let mut v = Value::Int64(-1);
        us.adapt.apply(&mut v);
        assert_eq!(v, Value::Int64(-1000));
        assert_eq!(p(&time, P::Microseconds).adapt, Adapt::None);
        let ns = p(&time, P::Nanoseconds);
        assert_eq!(ns.schema.name(), Some(names::DBZ_NANO_TIME));
        let mut v = Value::Int64(-3_723_456_789);
        ns.adapt.apply(&mut v);
        assert_eq!(v, Value::Int64(-3_723_456_789_000));
        let nts = p(&map(col::DATETIME2, 6), P::Nanoseconds);
        assert_eq!(nts.schema.name(), Some(names::DBZ_NANO_TIMESTAMP));
        let mut v = Value::Int64(1);
        nts.adapt.apply(&mut v);
        assert_eq!(v, Value::Int64(1000));
        // Out of the i64 nanosecond range: wrapped as Debezium's Java longs
        // (1000-01-01 and 9999-12-31 23:59:59.999999, from its events).
        for (us, want) in [
            (-30_610_224_000_000_000i64, 6_283_264_147_419_103_232i64),
            (253_402_300_799_999_999, -4_852_116_231_933_723_624),
        ] {
            let mut v = Value::Int64(us);
            nts.adapt.apply(&mut v);
            assert_eq!(v, Value::Int64(want), "{us}");
        }
        // TIMESTAMP is ZonedTimestamp in every mode.
        for m in [P::Connect, P::IsoString, P::Microseconds, P::Nanoseconds] {
            assert_eq!(
                p(&map(col::TIMESTAMP2, 3), m).schema.name(),
                Some(names::DBZ_ZONED_TIMESTAMP)
            );
        }
    }

    #[test]
    fn defaults_go_into_the_field_schema() {
        let o = DecodeOptions::default();
        let with = |ct: &str, t: u8, meta: u16, nullable: bool, d: &str| {
            let mut i = info(ct);
            i.default = Some(d.into());
            let mut m = map(t, meta);
            m.nullable = nullable;
            let mut p = plan(0, &m, Some(&i), &o).unwrap();
            super::super::text::apply_default(&mut p, d);
            p
        };
        let dec = with(
            "decimal(10,2)",
            col::NEWDECIMAL,
            (10 << 8) | 2,
            false,
            "0.00",
        );
        assert_eq!(dec.schema.default, Some(Value::Bytes(vec![0])));
        let s = with("varchar(10)", col::VARCHAR, 40, true, "x");
        assert_eq!(s.schema.default, Some(Value::String("x".into())));
        let i = with("int(11)", col::LONG, 0, true, "5");
        assert_eq!(i.schema.default, Some(Value::Int32(5)));
        // A nullable zero date has no default; a NOT NULL one the epoch,
        // which its zero values then read as.
        assert_eq!(
            with("date", col::DATE, 0, true, "0000-00-00")
                .schema
                .default,
            None
        );
        let nn = with("datetime", col::DATETIME2, 0, false, "2024-01-02 03:04:05");
        assert_eq!(nn.schema.default, Some(Value::Int64(1_704_164_645_000)));
        assert_eq!(
            super::super::rows::zero(&nn, Value::Int64(0)),
            Value::Int64(1_704_164_645_000)
        );
        // CURRENT_TIMESTAMP on a NOT NULL TIMESTAMP: the epoch.
        let ts = with(
            "timestamp(3)",
            col::TIMESTAMP2,
            3,
            false,
            "1970-01-01 00:00:00",
        );
        assert_eq!(
            ts.schema.default,
            Some(Value::String("1970-01-01T00:00:00Z".into()))
        );
        assert_eq!(
            with(
                "timestamp(3)",
                col::TIMESTAMP2,
                3,
                true,
                "1970-01-01 00:00:00"
            )
            .schema
            .default,
            None
        );
        // Mapping options apply to the default too.
        let t = {
            let mut i = info("time");
            i.default = Some("12:00:00".into());
            let o = DecodeOptions {
                time_precision: TimePrecision::Connect,
                ..Default::default()
            };
            let mut p = plan(0, &map(col::TIME2, 0), Some(&i), &o).unwrap();
            super::super::text::apply_default(&mut p, "12:00:00");
            p
        };
        assert_eq!(t.schema.default, Some(Value::Int32(43_200_000)));
    }
}
