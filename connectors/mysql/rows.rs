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

use sluice_api::data::decimal::{i128_to_bytes, to_plain_string};
use sluice_api::data::Value;

use super::column::{binary_value, ColumnPlan, DecimalMode, Decode, IntOut};
use super::decimal::decode_decimal;
use super::temporal::{self, frac_bytes};
use super::wire::{be_uint, le_uint, Reader, Truncated};
use crate::debezium::time::days_from_civil;

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

/// Whether a rows event holds whole rows: every column in its image (both
/// images of an update). A session with `binlog_row_image=MINIMAL` or
/// `NOBLOB` logs only some columns, and a change event built from that
/// would show the others as null: the error names the absent columns and
/// the setting.
pub fn check_full_image(
    plans: &[ColumnPlan],
    present: &[u8],
    present_after: Option<&[u8]>,
) -> Result<(), RowError> {
    let absent = |bitmap: &[u8]| -> Vec<&str> {
        plans
            .iter()
            .enumerate()
            .filter(|&(i, _)| !bit(bitmap, i))
            .map(|(_, p)| p.name.as_str())
            .collect()
    };
    let mut parts = Vec::new();
    let before = absent(present);
    if !before.is_empty() {
        let image = if present_after.is_some() {
            " (before image)"
        } else {
            ""
        };
        parts.push(format!("{}{image}", before.join(", ")));
    }
    if let Some(after) = present_after.map(absent).filter(|a| !a.is_empty()) {
        parts.push(format!("{} (after image)", after.join(", ")));
    }
    if parts.is_empty() {
        return Ok(());
    }
    Err(RowError {
        column: parts.join("; "),
        detail: "absent from the row image: the session that made the change ran with \
                 binlog_row_image=MINIMAL or NOBLOB, so the event does not hold whole rows; \
                 set binlog_row_image=FULL for every session (the server config and SET GLOBAL, \
                 and no SET SESSION binlog_row_image in applications)"
            .into(),
    })
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
                Value::Int32(days_from_civil(y as i64, m, d) as i32)
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
                binary_value(b, *pad_binary_to)
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
