//! Row images to `Value`s: the hot path.
//!
//! A row image is a NULL bitmap over the columns present in the event,
//! then each present, non-NULL column in its packed binlog form. Decoding
//! walks a [`ColumnPlan`] per column (built once per table version), reads
//! exactly the bytes that column's type and metadata declare, and pushes one
//! `Value` per present column. Only the value itself allocates (strings,
//! bytes); integers, dates and times are arithmetic. Every length is checked
//! against the remaining bytes, so a corrupt image is an error naming the
//! column, never a panic or a shifted read of the next column.

use sluice_runtime::data::decimal::{digits_to_unscaled, i128_to_bytes, to_plain_string};
use sluice_runtime::data::{Struct, Value};

use super::column::{ColumnPlan, DecimalMode, Decode, IntOut};
use super::temporal::{self, frac_bytes};
use super::wire::{be_uint, le_uint, Reader, Truncated};

/// A row image could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub column: String,
    pub detail: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column {}: {}", self.column, self.detail)
    }
}

fn bit(bitmap: &[u8], i: usize) -> bool {
    bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// Decodes one row image from `r` into `out` (one value per plan; columns
/// absent from the image are `Null`).
pub fn decode_row(
    r: &mut Reader<'_>,
    plans: &[ColumnPlan],
    present: &[u8],
    out: &mut Vec<Value>,
) -> Result<(), RowError> {
    let n_present = (0..plans.len()).filter(|&i| bit(present, i)).count();
    let nulls = r
        .take(n_present.div_ceil(8), "row null bitmap")
        .map_err(|e| RowError {
            column: "(null bitmap)".into(),
            detail: e.to_string(),
        })?;
    let mut k = 0;
    for (i, plan) in plans.iter().enumerate() {
        if !bit(present, i) {
            out.push(Value::Null);
            continue;
        }
        let is_null = bit(nulls, k);
        k += 1;
        if is_null {
            out.push(Value::Null);
            continue;
        }
        let v = decode_value(r, plan).map_err(|detail| RowError {
            column: plan.name.clone(),
            detail,
        })?;
        out.push(v);
    }
    Ok(())
}

/// Decodes a row image into a struct of `schema` (fields = plans, in order).
pub fn decode_struct(
    r: &mut Reader<'_>,
    plans: &[ColumnPlan],
    present: &[u8],
    schema: &std::sync::Arc<sluice_runtime::data::Schema>,
) -> Result<Struct, RowError> {
    let mut values = Vec::with_capacity(plans.len());
    decode_row(r, plans, present, &mut values)?;
    Ok(Struct {
        schema: schema.clone(),
        values,
    })
}

fn t(e: Truncated) -> String {
    e.to_string()
}

fn length_prefixed<'a>(r: &mut Reader<'a>, len_bytes: u8) -> Result<&'a [u8], String> {
    let n = r.uint_n(len_bytes as usize, "value length").map_err(t)? as usize;
    r.take(n, "value").map_err(t)
}

#[inline]
fn decode_value(r: &mut Reader<'_>, plan: &ColumnPlan) -> Result<Value, String> {
    Ok(match &plan.decode {
        Decode::Int {
            bytes,
            unsigned,
            out,
        } => {
            let n = *bytes as usize;
            let raw = le_uint(r.take(n, "integer").map_err(t)?);
            let signed = if *unsigned {
                raw as i64
            } else {
                let shift = 64 - 8 * n as u32;
                ((raw << shift) as i64) >> shift
            };
            match out {
                IntOut::I16 => Value::Int16(signed as i16),
                IntOut::I32 => Value::Int32(signed as i32),
                IntOut::I64 => Value::Int64(signed),
                IntOut::Decimal => Value::Bytes(i128_to_bytes(raw as i128)),
            }
        }
        Decode::Float32 { widen } => {
            let b = r.take(4, "float").map_err(t)?;
            let f = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if *widen {
                // FLOAT(M,D): the float widened to a double exactly, as
                // Debezium's (-9999.999 is -9999.9990234375).
                Value::Float64(f as f64)
            } else {
                Value::Float32(f)
            }
        }
        Decode::Float64 => {
            let b = r.take(8, "double").map_err(t)?;
            Value::Float64(f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        }
        Decode::Decimal {
            precision,
            scale,
            mode,
        } => {
            let (unscaled, size) = decode_decimal(r.rest(), *precision, *scale)?;
            r.skip(size, "decimal").map_err(t)?;
            match mode {
                DecimalMode::Precise => Value::Bytes(unscaled),
                DecimalMode::String => {
                    Value::String(to_plain_string(&unscaled, *scale as i32).into())
                }
                DecimalMode::Double => Value::Float64(
                    to_plain_string(&unscaled, *scale as i32)
                        .parse()
                        .unwrap_or(0.0),
                ),
            }
        }
        Decode::Date => {
            let v = r.u24("date").map_err(t)?;
            let (d, m, y) = (v & 31, (v >> 5) & 15, v >> 9);
            if m == 0 || d == 0 {
                zero(plan, Value::Int32(0))
            } else {
                Value::Int32(temporal::days_from_civil(y as i64, m, d) as i32)
            }
        }
        Decode::Time2 { fsp } => {
            let b = r.take(3 + frac_bytes(*fsp), "time").map_err(t)?;
            Value::Int64(temporal::time2_micros(b, *fsp))
        }
        Decode::TimeOld => Value::Int64(temporal::time_old_micros(r.u24("time").map_err(t)?)),
        Decode::DateTime2 { fsp } => {
            let dt = temporal::datetime2(r.take(5 + frac_bytes(*fsp), "datetime").map_err(t)?);
            datetime_value(plan, dt, *fsp > 3)
        }
        Decode::DateTimeOld => {
            let dt = temporal::datetime_old(r.u64("datetime").map_err(t)?);
            datetime_value(plan, dt, false)
        }
        Decode::Timestamp2 { fsp } => {
            let b = r.take(4 + frac_bytes(*fsp), "timestamp").map_err(t)?;
            let secs = be_uint(&b[..4]) as i64;
            let micros = match b.len() - 4 {
                0 => 0,
                1 => b[4] as u32 * 10_000,
                2 => be_uint(&b[4..]) as u32 * 100,
                _ => be_uint(&b[4..]) as u32,
            };
            timestamp_value(secs, micros, *fsp)
        }
        Decode::TimestampOld => {
            let secs = r.u32("timestamp").map_err(t)? as i64;
            timestamp_value(secs, 0, 0)
        }
        // 1900 + the stored byte, 0 (YEAR 0000) included: Debezium's 1900.
        Decode::Year => Value::Int32(1900 + r.u8("year").map_err(t)? as i32),
        Decode::Bit { bits } => {
            let n = (*bits as usize).div_ceil(8);
            let b = r.take(n, "bit").map_err(t)?;
            if *bits == 1 {
                Value::Boolean(b[0] & 1 != 0)
            } else {
                // Stored big-endian; Debezium's Bits are little-endian.
                Value::Bytes(b.iter().rev().copied().collect())
            }
        }
        Decode::Str {
            len_bytes,
            charset,
            pad_binary_to,
            json,
        } => {
            let b = length_prefixed(r, *len_bytes)?;
            if plan.decodes_bytes() {
                let mut v = b.to_vec();
                if let Some(n) = pad_binary_to {
                    if v.len() < *n {
                        v.resize(*n, 0);
                    }
                }
                Value::Bytes(v)
            } else {
                let _ = json;
                Value::String(charset.decode(b)?)
            }
        }
        Decode::Enum { len_bytes, values } => {
            let i = r.uint_n(*len_bytes as usize, "enum").map_err(t)? as usize;
            match i {
                0 => Value::String("".into()),
                _ => {
                    Value::String(values.get(i - 1).cloned().ok_or_else(|| {
                        format!("enum index {i} beyond its {} values", values.len())
                    })?)
                }
            }
        }
        Decode::Set { len_bytes, values } => {
            let bits = r.uint_n(*len_bytes as usize, "set").map_err(t)?;
            let mut s = String::new();
            for (i, v) in values.iter().enumerate().take(64) {
                if bits & (1 << i) != 0 {
                    if !s.is_empty() {
                        s.push(',');
                    }
                    s.push_str(v);
                }
            }
            Value::String(s.into())
        }
        Decode::JsonBinary { len_bytes } => {
            let b = length_prefixed(r, *len_bytes)?;
            Value::String(super::json_binary::to_json_text(b)?.into())
        }
        Decode::Geometry { len_bytes, point } => {
            let b = length_prefixed(r, *len_bytes)?;
            super::column::geometry_value(plan, b, *point)?
        }
        Decode::Fixed { len_bytes, kind } => {
            Value::String(kind.text(length_prefixed(r, *len_bytes)?)?.into())
        }
    })
}

/// A zero date: null when the column is nullable, else the column's
/// default, else the fallback (the epoch), as Debezium's converters do.
pub(crate) fn zero(plan: &ColumnPlan, fallback: Value) -> Value {
    if plan.optional {
        Value::Null
    } else {
        plan.default.clone().unwrap_or(fallback)
    }
}

pub(crate) fn datetime_value(plan: &ColumnPlan, dt: temporal::DateTime, micros: bool) -> Value {
    if dt.is_zero_date() {
        return zero(plan, Value::Int64(0));
    }
    let us = dt.epoch_micros();
    Value::Int64(if micros { us } else { us.div_euclid(1000) })
}

/// A binlog TIMESTAMP: ISO text padded to the column's fsp (Debezium's
/// ZonedTimestamp of the binlog's value). '0000-00-00 00:00:00' is stored
/// as 0 and is the epoch here too, as in Debezium's streamed events.
pub(crate) fn timestamp_value(secs: i64, micros: u32, fsp: u8) -> Value {
    let mut s = String::with_capacity(32);
    temporal::iso_utc(secs, micros, fsp, &mut s);
    Value::String(s.into())
}

const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
const POW10: [i128; 10] = [
    1,
    10,
    100,
    1000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// MySQL's packed DECIMAL (decimal2bin) to unscaled big-endian
/// two's-complement bytes; returns them and the packed size.
pub fn decode_decimal(b: &[u8], precision: u8, scale: u8) -> Result<(Vec<u8>, usize), String> {
    let (p, s) = (precision as usize, scale as usize);
    let intg = p - s;
    let (intg0, intg0x, frac0, frac0x) = (intg / 9, intg % 9, s / 9, s % 9);
    let size = DIG2BYTES[intg0x] + intg0 * 4 + frac0 * 4 + DIG2BYTES[frac0x];
    if b.len() < size || size == 0 {
        return Err(format!(
            "truncated DECIMAL({p},{s}): needs {size} bytes, {} left",
            b.len()
        ));
    }
    let negative = b[0] & 0x80 == 0;
    let mask: u8 = if negative { 0xff } else { 0 };
    let byte = |i: usize| -> u8 {
        let x = if i == 0 { b[0] ^ 0x80 } else { b[i] };
        x ^ mask
    };
    let group = |from: usize, n: usize| -> u64 {
        let mut v = 0u64;
        for i in from..from + n {
            v = (v << 8) | byte(i) as u64;
        }
        v
    };
    // Groups in order: (value, digit count).
    let mut pos = 0;
    let mut groups: [(u64, usize); 10] = [(0, 0); 10];
    let mut ng = 0;
    let mut push = |v: u64, digits: usize| {
        groups[ng] = (v, digits);
        ng += 1;
    };
    if intg0x > 0 {
        push(group(0, DIG2BYTES[intg0x]), intg0x);
        pos += DIG2BYTES[intg0x];
    }
    for _ in 0..intg0 {
        push(group(pos, 4), 9);
        pos += 4;
    }
    for _ in 0..frac0 {
        push(group(pos, 4), 9);
        pos += 4;
    }
    if frac0x > 0 {
        push(group(pos, DIG2BYTES[frac0x]), frac0x);
    }
    let groups = &groups[..ng];
    for &(v, d) in groups {
        if v >= POW10[d] as u64 {
            return Err(format!(
                "DECIMAL({p},{s}) group {v} has more than {d} digits: corrupt value"
            ));
        }
    }
    if p <= 38 {
        let mut v: i128 = 0;
        for &(g, d) in groups {
            v = v * POW10[d] + g as i128;
        }
        return Ok((i128_to_bytes(if negative { -v } else { v }), size));
    }
    let mut digits = String::with_capacity(p + 9);
    for &(g, d) in groups {
        use std::fmt::Write;
        let _ = write!(digits, "{g:0d$}");
    }
    Ok((digits_to_unscaled(&digits, negative), size))
}
