//! Snapshot values: the text protocol's column values into the same
//! `Value`s the binlog decoder produces.
//!
//! The snapshot session sets `character_set_results = NULL` (bytes as
//! stored, decoded by the column's own charset, exactly as from the
//! binlog) and `time_zone = '+00:00'` (TIMESTAMP text is UTC, as the
//! binlog's epoch seconds are). Each column is parsed by the same
//! [`ColumnPlan`] that streams it, so a snapshot row and a streamed row
//! of the same table version are the same struct.

use sluice_runtime::data::decimal::{digits_to_unscaled, i128_to_bytes};
use sluice_runtime::data::Value;

use super::column::{ColumnPlan, DecimalMode, Decode, IntOut};
use super::rows::{datetime_value, timestamp_value, zero};
use super::temporal::{days_from_civil, DateTime};

fn utf8(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|_| "not ASCII text".to_string())
}

fn bad(what: &str, b: &[u8]) -> String {
    format!("'{}' is not a valid {what}", String::from_utf8_lossy(b))
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]]`.
fn parse_datetime(s: &str) -> Option<DateTime> {
    let (date, time) = s.split_once(' ').unwrap_or((s, "00:00:00"));
    let mut d = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<u32>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    Some(DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micros: frac_micros(frac)?,
    })
}

fn frac_micros(frac: &str) -> Option<u32> {
    if frac.is_empty() {
        return Some(0);
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    digits.parse().ok()
}

/// `[-]HHH:MM:SS[.ffffff]` → microseconds.
fn parse_time(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    let us = (h * 3600 + m * 60 + sec) * 1_000_000 + frac_micros(frac)? as i64;
    Some(if neg { -us } else { us })
}

/// Decimal text with exactly `scale` fraction digits → unscaled bytes.
fn decimal_unscaled(s: &str, scale: u8) -> Option<Vec<u8>> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = String::with_capacity(int.len() + scale as usize);
    digits.push_str(int);
    digits.extend(
        frac.chars()
            .chain(std::iter::repeat('0'))
            .take(scale as usize),
    );
    Some(digits_to_unscaled(&digits, neg))
}

/// One text value (never NULL: the caller maps NULL to `Value::Null`).
pub fn decode_text(plan: &ColumnPlan, b: &[u8]) -> Result<Value, String> {
    Ok(match &plan.decode {
        Decode::Int { unsigned, out, .. } => {
            let s = utf8(b)?;
            if *unsigned {
                let v: u64 = s.parse().map_err(|_| bad("unsigned integer", b))?;
                match out {
                    IntOut::I16 => Value::Int16(v as i16),
                    IntOut::I32 => Value::Int32(v as i32),
                    IntOut::I64 => Value::Int64(v as i64),
                    IntOut::Decimal => Value::Bytes(i128_to_bytes(v as i128)),
                }
            } else {
                let v: i64 = s.parse().map_err(|_| bad("integer", b))?;
                match out {
                    IntOut::I16 => Value::Int16(v as i16),
                    IntOut::I32 => Value::Int32(v as i32),
                    IntOut::I64 | IntOut::Decimal => Value::Int64(v),
                }
            }
        }
        Decode::Float32 { widen } => {
            let s = utf8(b)?;
            if *widen {
                Value::Float64(s.parse().map_err(|_| bad("float", b))?)
            } else {
                Value::Float32(s.parse().map_err(|_| bad("float", b))?)
            }
        }
        Decode::Float64 => Value::Float64(utf8(b)?.parse().map_err(|_| bad("double", b))?),
        Decode::Decimal { scale, mode, .. } => {
            let s = utf8(b)?;
            match mode {
                DecimalMode::Precise => {
                    Value::Bytes(decimal_unscaled(s, *scale).ok_or_else(|| bad("decimal", b))?)
                }
                DecimalMode::String => Value::String(s.into()),
                DecimalMode::Double => Value::Float64(s.parse().map_err(|_| bad("decimal", b))?),
            }
        }
        Decode::Date => {
            let dt = parse_datetime(utf8(b)?).ok_or_else(|| bad("date", b))?;
            if dt.is_zero_date() {
                zero(plan, Value::Int32(0))
            } else {
                Value::Int32(days_from_civil(dt.year as i64, dt.month, dt.day) as i32)
            }
        }
        Decode::Time2 { .. } | Decode::TimeOld => {
            Value::Int64(parse_time(utf8(b)?).ok_or_else(|| bad("time", b))?)
        }
        Decode::DateTime2 { fsp } => {
            let dt = parse_datetime(utf8(b)?).ok_or_else(|| bad("datetime", b))?;
            datetime_value(plan, dt, *fsp > 3)
        }
        Decode::DateTimeOld => {
            let dt = parse_datetime(utf8(b)?).ok_or_else(|| bad("datetime", b))?;
            datetime_value(plan, dt, false)
        }
        Decode::Timestamp2 { .. } | Decode::TimestampOld => {
            let fsp = match plan.decode {
                Decode::Timestamp2 { fsp } => fsp,
                _ => 0,
            };
            let dt = parse_datetime(utf8(b)?).ok_or_else(|| bad("timestamp", b))?;
            if dt.is_zero_date() {
                timestamp_value(plan, 0, 0, fsp)
            } else {
                let us = dt.epoch_micros();
                timestamp_value(
                    plan,
                    us.div_euclid(1_000_000),
                    us.rem_euclid(1_000_000) as u32,
                    fsp,
                )
            }
        }
        Decode::Year => Value::Int32(utf8(b)?.parse().map_err(|_| bad("year", b))?),
        Decode::Bit { bits } => {
            let n = (*bits as usize).div_ceil(8);
            if *bits == 1 {
                Value::Boolean(b.last().is_some_and(|v| v & 1 != 0))
            } else {
                // Big-endian on the wire, possibly short: right-align, then
                // little-endian as Debezium's Bits.
                let mut v = vec![0u8; n.saturating_sub(b.len())];
                v.extend_from_slice(&b[b.len().saturating_sub(n)..]);
                v.reverse();
                Value::Bytes(v)
            }
        }
        Decode::Str {
            charset,
            pad_binary_to,
            ..
        } => {
            if plan.decodes_bytes() {
                let mut v = b.to_vec();
                if let Some(n) = pad_binary_to {
                    if v.len() < *n {
                        v.resize(*n, 0);
                    }
                }
                Value::Bytes(v)
            } else {
                Value::String(charset.decode(b)?)
            }
        }
        Decode::Enum { .. } | Decode::Set { .. } | Decode::JsonBinary { .. } => {
            Value::String(String::from_utf8_lossy(b).into())
        }
        Decode::Geometry { point, .. } => super::column::geometry_value(plan, b, *point)?,
    })
}

/// A text row into `out` (one value per plan).
pub fn decode_text_row(
    plans: &[ColumnPlan],
    row: &[Option<&[u8]>],
    out: &mut Vec<Value>,
) -> Result<(), String> {
    for (i, p) in plans.iter().enumerate() {
        match row.get(i).copied().flatten() {
            None => out.push(Value::Null),
            Some(b) => out.push(decode_text(p, b).map_err(|e| format!("column {}: {e}", p.name))?),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporal_text() {
        assert_eq!(
            parse_time("-838:59:59"),
            Some(-(838 * 3600 + 59 * 60 + 59) * 1_000_000)
        );
        assert_eq!(parse_time("-00:00:01.000001"), Some(-1_000_001));
        assert_eq!(
            parse_time("12:34:56.78"),
            Some((12 * 3600 + 34 * 60 + 56) * 1_000_000 + 780_000)
        );
        let dt = parse_datetime("2024-02-29 23:59:58.000001").unwrap();
        assert_eq!(
            (dt.year, dt.month, dt.day, dt.second, dt.micros),
            (2024, 2, 29, 58, 1)
        );
        assert!(parse_datetime("0000-00-00").unwrap().is_zero_date());
        assert!(parse_datetime("garbage").is_none());
    }

    #[test]
    fn decimal_text_to_unscaled() {
        use sluice_runtime::data::decimal::to_plain_string;
        for (s, scale) in [
            ("-12345678.91", 2u8),
            ("0.000000000000000000000000000001", 30),
            ("-99999", 0),
            ("0.01", 2),
        ] {
            let u = decimal_unscaled(s, scale).unwrap();
            assert_eq!(to_plain_string(&u, scale as i32), s);
        }
        assert!(decimal_unscaled("1x", 0).is_none());
    }
}
