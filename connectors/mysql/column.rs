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

use sluice_runtime::data::{names, schemas, Schema, SchemaBuilder, Value};

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

/// A change of a decoded value that a mapping option asks for, applied to
/// the row before its events are built (snapshot and stream alike, so the
/// two decoders stay single-purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Adapt {
    #[default]
    None,
    /// int64 microseconds to Kafka Connect's Time (int32 milliseconds).
    MicrosToMillisInt32,
    /// int64 microseconds to Kafka Connect's Timestamp (int64 milliseconds).
    MicrosToMillis,
    /// Bytes to a string, as binary.handling.mode asks.
    BytesToText(BinaryMode),
}

impl Adapt {
    pub fn apply(self, v: &mut Value) {
        match (self, &*v) {
            (Adapt::MicrosToMillisInt32, Value::Int64(us)) => {
                *v = Value::Int32(us.div_euclid(1000) as i32)
            }
            (Adapt::MicrosToMillis, Value::Int64(us)) => *v = Value::Int64(us.div_euclid(1000)),
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
    use sluice_runtime::data::SchemaType as T;
    if opts.time_precision == TimePrecision::Connect {
        match decode {
            Decode::Date => return (schemas::date(optional), Adapt::None),
            Decode::Time2 { .. } | Decode::TimeOld => {
                return (schemas::time(optional), Adapt::MicrosToMillisInt32)
            }
            Decode::DateTime2 { fsp } if *fsp > 3 => {
                return (schemas::timestamp(optional), Adapt::MicrosToMillis)
            }
            Decode::DateTime2 { .. } | Decode::DateTimeOld => {
                return (schemas::timestamp(optional), Adapt::None)
            }
            _ => {}
        }
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

/// Facts about a column that the binlog does not carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    /// information_schema COLUMN_TYPE, lower case (`float(7,2)`, `binary(4)`).
    pub column_type: String,
    pub charset: Option<String>,
    pub is_json: bool,
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
}

impl ColumnPlan {
    /// Whether a string-typed column's bytes are kept as bytes (binary
    /// charset): its schema says bytes, or binary.handling.mode turns the
    /// bytes into text after decoding (see [`Adapt`]).
    pub fn decodes_bytes(&self) -> bool {
        self.schema.kind == sluice_runtime::data::SchemaType::Bytes
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
    values.push(Value::Int32(srid));
    Ok(Value::Struct(sluice_runtime::data::Struct {
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
    use sluice_runtime::data::SchemaType as T;
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
    let (decode, schema) = match c.column_type {
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
            let json = info.is_some_and(|i| i.is_json);
            let binary = charset == Charset::Binary && !json;
            let schema = if json {
                named(SchemaBuilder::string(), names::DBZ_JSON, optional)
            } else {
                prim(if binary { T::Bytes } else { T::String })
            };
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
            let values = enum_values(&c.enum_values, &charset);
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
            let values = enum_values(&c.set_values, &charset);
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
    Ok(ColumnPlan {
        name,
        decode,
        optional,
        schema,
        adapt,
    })
}
