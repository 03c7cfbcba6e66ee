//! Snapshot values: the text protocol's column values into the same
//! `Value`s the binlog decoder produces.
//!
//! The snapshot session sets `character_set_results = NULL` (bytes as
//! stored, decoded by the column's own charset, exactly as from the
//! binlog) and `time_zone = '+00:00'` (TIMESTAMP text is UTC, as the
//! binlog's epoch seconds are). Each column is parsed by the same
//! [`ColumnPlan`] that streams it, so a snapshot row and a streamed row
//! of the same table version are the same struct.

use sluice_api::data::decimal::{digits_to_unscaled, i128_to_bytes};
use sluice_api::data::{SchemaBuilder, Value};

use super::column::{binary_value, ColumnPlan, DecimalMode, Decode, IntOut};
use super::rows::{datetime_value, zero};
use super::temporal::{iso_utc, iso_utc_trimmed, DateTime};
use crate::debezium::time::days_from_civil;

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
            let f: f32 = utf8(b)?.parse().map_err(|_| bad("float", b))?;
            if *widen {
                // The float the server holds, widened exactly (as streamed).
                Value::Float64(f as f64)
            } else {
                Value::Float32(f)
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
            // Debezium's snapshot reads a JDBC timestamp (the zero one as
            // null) and prints it with ISO_OFFSET_DATE_TIME: the fraction
            // only as long as needed ('00:00:01.000' is "...00:00:01Z").
            let dt = parse_datetime(utf8(b)?).ok_or_else(|| bad("timestamp", b))?;
            if dt.is_zero_date() {
                zero(plan, Value::String("1970-01-01T00:00:00Z".into()))
            } else {
                let us = dt.epoch_micros();
                let mut s = String::with_capacity(32);
                iso_utc_trimmed(
                    us.div_euclid(1_000_000),
                    us.rem_euclid(1_000_000) as u32,
                    &mut s,
                );
                Value::String(s.into())
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
                binary_value(b, *pad_binary_to)
            } else {
                Value::String(charset.decode(b)?)
            }
        }
        Decode::Enum { .. } | Decode::Set { .. } | Decode::JsonBinary { .. } => {
            Value::String(String::from_utf8_lossy(b).into())
        }
        Decode::Geometry { point, .. } => super::column::geometry_value(plan, b, *point)?,
        // The text protocol sends UUID/INET4/INET6 as their text.
        Decode::Fixed { .. } => Value::String(utf8(b)?.into()),
    })
}

/// Debezium's "date part is zero" defaults (`0000-00-00`, `2024-00-10`,
/// alone or with a time of 00:00:00[.f]).
fn zero_date_default(s: &str) -> bool {
    let (date, time) = s.split_once(' ').unwrap_or((s, ""));
    let p: Vec<&str> = date.split('-').collect();
    let shape = p.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&p)
            .all(|(n, x)| x.len() == *n && x.bytes().all(|c| c.is_ascii_digit()));
    if !shape || !p.iter().any(|x| x.bytes().all(|c| c == b'0')) {
        return false;
    }
    if time.is_empty() {
        return true;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    hms == "00:00:00" && (1..=6).contains(&frac.len()) && frac.bytes().all(|c| c.is_ascii_digit())
}

/// Java's `Math.round`: half up, saturating at the `i64` range.
fn java_round(x: f64) -> i64 {
    (x + 0.5).floor() as i64
}

/// Decimal text rounded half-up to `scale` digits (BigDecimal.setScale
/// with HALF_UP), as plain text.
fn decimal_round(s: &str, scale: u8) -> Option<String> {
    let (neg, body) = match s.trim().strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.trim().trim_start_matches('+')),
    };
    // Exponent forms (1e3) through f64 would lose digits: refuse them.
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = scale as usize;
    let mut digits: Vec<u8> = int
        .bytes()
        .chain(frac.bytes().chain(std::iter::repeat(b'0')).take(scale))
        .collect();
    if frac.as_bytes().get(scale).is_some_and(|d| *d >= b'5') {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let split = digits.len() - scale;
    let int_part = std::str::from_utf8(&digits[..split])
        .ok()?
        .trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let frac_part = std::str::from_utf8(&digits[split..]).ok()?;
    let zero = digits.iter().all(|d| *d == b'0');
    let mut out = String::with_capacity(digits.len() + 2);
    if neg && !zero {
        out.push('-');
    }
    out.push_str(int_part);
    if scale > 0 {
        out.push('.');
        out.push_str(frac_part);
    }
    Some(out)
}

/// Sets a column's default (the plan's, and its schema's adapted) from the
/// DDL's default `expr`, as [`default_value`] makes it; nothing when
/// Debezium would set none.
pub fn apply_default(p: &mut ColumnPlan, expr: &str) {
    if let Some(v) = default_value(p, expr) {
        let mut shown = v.clone();
        p.adapt.apply(&mut shown);
        if !matches!(shown, Value::Null) {
            p.schema = SchemaBuilder::from_schema(&p.schema)
                .default_value(shown)
                .build();
            p.default = Some(v);
        }
    }
}

/// A column's default value as Debezium's BinlogDefaultValueConverter makes
/// it from the DDL's default (`expr`, its defaultValueExpression: a string
/// literal without its quotes, a number, a bit string, or
/// "1970-01-01 00:00:00" for CURRENT_TIMESTAMP), before the column's mapping
/// options; `None` when Debezium would set no default.
pub fn default_value(plan: &ColumnPlan, expr: &str) -> Option<Value> {
    let trimmed = expr.trim();
    let number = |s: &str| -> Option<f64> {
        match s.to_ascii_lowercase().as_str() {
            "true" => Some(1.0),
            "false" => Some(0.0),
            _ => s.parse().ok(),
        }
    };
    Some(match &plan.decode {
        // Debezium reads integer defaults through a double, rounded.
        Decode::Int { out, .. } => match out {
            IntOut::I16 => Value::Int16(java_round(number(trimmed)?) as i16),
            IntOut::I32 => Value::Int32(java_round(number(trimmed)?) as i32),
            IntOut::I64 => Value::Int64(java_round(number(trimmed)?)),
            IntOut::Decimal => {
                let v: u64 = trimmed.parse().ok()?;
                Value::Bytes(i128_to_bytes(v as i128))
            }
        },
        Decode::Float32 { widen: false } => Value::Float32(number(trimmed)? as f32),
        Decode::Float32 { widen: true } | Decode::Float64 => Value::Float64(number(trimmed)?),
        Decode::Decimal { scale, mode, .. } => {
            let t = match trimmed.to_ascii_lowercase().as_str() {
                "true" => "1".to_string(),
                "false" => "0".to_string(),
                _ => trimmed.to_string(),
            };
            let rounded = decimal_round(&t, *scale)?;
            match mode {
                DecimalMode::Precise => Value::Bytes(decimal_unscaled(&rounded, *scale)?),
                DecimalMode::String => Value::String(rounded.into()),
                DecimalMode::Double => Value::Float64(rounded.parse().ok()?),
            }
        }
        Decode::Date => {
            if zero_date_default(trimmed) || trimmed == "0" {
                zero(plan, Value::Int32(0))
            } else {
                decode_text(plan, trimmed.as_bytes()).ok()?
            }
        }
        Decode::DateTime2 { .. } | Decode::DateTimeOld => {
            if zero_date_default(trimmed) || trimmed == "0" {
                zero(plan, Value::Int64(0))
            } else {
                decode_text(plan, trimmed.as_bytes()).ok()?
            }
        }
        Decode::Timestamp2 { .. } | Decode::TimestampOld => {
            if zero_date_default(trimmed) || trimmed == "0" || trimmed == "1970-01-01 00:00:00" {
                zero(plan, Value::String("1970-01-01T00:00:00Z".into()))
            } else {
                // A ZonedDateTime: printed at the column's width.
                let fsp = match plan.decode {
                    Decode::Timestamp2 { fsp } => fsp,
                    _ => 0,
                };
                let dt = parse_datetime(trimmed)?;
                if dt.is_zero_date() {
                    return None;
                }
                let us = dt.epoch_micros();
                let mut s = String::with_capacity(32);
                iso_utc(
                    us.div_euclid(1_000_000),
                    us.rem_euclid(1_000_000) as u32,
                    fsp,
                    &mut s,
                );
                Value::String(s.into())
            }
        }
        Decode::Time2 { .. } | Decode::TimeOld => {
            // A time, or the time of a timestamp literal.
            let t = match trimmed.split_once(' ') {
                Some((d, t)) if d.contains('-') => t,
                _ => trimmed,
            };
            Value::Int64(parse_time(t)?)
        }
        Decode::Year => {
            let y: i32 = trimmed.parse().ok()?;
            Value::Int32(match y {
                0..=69 => y + 2000,
                70..=99 => y + 1900,
                _ => y,
            })
        }
        Decode::Bit { bits } => {
            if *bits == 1 {
                Value::Boolean(match trimmed.parse::<i16>() {
                    Ok(v) => v != 0,
                    Err(_) => trimmed.eq_ignore_ascii_case("true"),
                })
            } else {
                // A string of binary digits, as Debezium keeps b'0101'.
                if trimmed.is_empty() || !trimmed.bytes().all(|c| c == b'0' || c == b'1') {
                    return None;
                }
                let n = (*bits as usize).div_ceil(8);
                let mut be = vec![0u8; n];
                for (i, c) in trimmed.bytes().rev().enumerate() {
                    if c == b'1' && i / 8 < n {
                        be[n - 1 - i / 8] |= 1 << (i % 8);
                    }
                }
                be.reverse();
                Value::Bytes(be)
            }
        }
        Decode::Str { pad_binary_to, .. } => {
            if plan.decodes_bytes() {
                let mut v = expr.as_bytes().to_vec();
                if let Some(n) = pad_binary_to {
                    if v.len() < *n {
                        v.resize(*n, 0);
                    }
                }
                Value::Bytes(v)
            } else {
                Value::String(expr.into())
            }
        }
        Decode::Enum { .. } | Decode::Set { .. } | Decode::JsonBinary { .. } => {
            Value::String(expr.into())
        }
        // Debezium cannot take a default for these (its UUID converter
        // fails on one).
        Decode::Geometry { .. } | Decode::Fixed { .. } => return None,
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

    fn plan_of(t: u8, meta: u16, ctype: &str, nullable: bool) -> ColumnPlan {
        use super::super::column::{plan, ColumnInfo, DecodeOptions};
        use super::super::table_map::MapColumn;
        let m = MapColumn {
            column_type: t,
            meta,
            nullable,
            ..Default::default()
        };
        let i = ColumnInfo {
            name: "c".into(),
            column_type: ctype.into(),
            ..Default::default()
        };
        plan(0, &m, Some(&i), &DecodeOptions::default()).unwrap()
    }

    #[test]
    fn snapshot_values_as_debezium_reads_them() {
        use super::super::table_map::col;
        // TIMESTAMP: ISO_OFFSET_DATE_TIME, the fraction only as needed.
        let ts3 = plan_of(col::TIMESTAMP2, 3, "timestamp(3)", true);
        for (text, want) in [
            ("1970-01-01 00:00:01.000", "1970-01-01T00:00:01Z"),
            ("1970-01-01 00:00:01.100", "1970-01-01T00:00:01.1Z"),
            ("2038-01-19 03:14:07.999", "2038-01-19T03:14:07.999Z"),
        ] {
            assert_eq!(
                decode_text(&ts3, text.as_bytes()).unwrap(),
                Value::String(want.into())
            );
        }
        assert_eq!(
            decode_text(&ts3, b"0000-00-00 00:00:00.000").unwrap(),
            Value::Null
        );
        // FLOAT(7,3): the float widened exactly.
        let fp = plan_of(col::FLOAT, 4, "float(7,3)", true);
        assert_eq!(
            decode_text(&fp, b"-9999.999").unwrap(),
            Value::Float64(-9999.9990234375)
        );
        let u = plan_of(col::STRING, 16, "uuid", true);
        assert_eq!(
            decode_text(&u, b"123e4567-e89b-12d3-a456-426614174000").unwrap(),
            Value::String("123e4567-e89b-12d3-a456-426614174000".into())
        );
    }

    #[test]
    fn defaults_convert_as_debezium_converts_them() {
        use super::super::table_map::col;
        let d = |p: &ColumnPlan, e: &str| default_value(p, e);
        let int = plan_of(col::LONG, 0, "int(11)", true);
        assert_eq!(d(&int, "5"), Some(Value::Int32(5)));
        assert_eq!(d(&int, "2.5"), Some(Value::Int32(3)));
        assert_eq!(d(&int, "(1 + 1)"), None);
        // BIGINT goes through a double: beyond 2^63 it saturates, as Java's
        // Math.round does.
        let big = plan_of(col::LONGLONG, 0, "bigint(20) unsigned", true);
        assert_eq!(
            d(&big, "18446744073709551615"),
            Some(Value::Int64(i64::MAX))
        );
        let dec = plan_of(col::NEWDECIMAL, (10 << 8) | 2, "decimal(10,2)", false);
        assert_eq!(d(&dec, "0"), Some(Value::Bytes(vec![0])));
        assert_eq!(d(&dec, "1.005"), Some(Value::Bytes(vec![101])));
        assert_eq!(d(&dec, "-0.001"), Some(Value::Bytes(vec![0])));
        assert_eq!(decimal_round("9.995", 2).as_deref(), Some("10.00"));
        assert_eq!(decimal_round("-1.5", 0).as_deref(), Some("-2"));
        let f = plan_of(col::FLOAT, 4, "float", true);
        assert_eq!(d(&f, "1.1"), Some(Value::Float32(1.1)));
        let fp = plan_of(col::FLOAT, 4, "float(7,3)", true);
        assert_eq!(d(&fp, "1.1"), Some(Value::Float64(1.1)));
        let bits = plan_of(col::BIT, (1 << 8) | 2, "bit(10)", true);
        assert_eq!(d(&bits, "101"), Some(Value::Bytes(vec![5, 0])));
        assert_eq!(d(&bits, "1100000001"), Some(Value::Bytes(vec![1, 3])));
        let b1 = plan_of(col::BIT, 1, "bit(1)", true);
        assert_eq!(d(&b1, "1"), Some(Value::Boolean(true)));
        let y = plan_of(col::YEAR, 0, "year(4)", true);
        assert_eq!(d(&y, "2024"), Some(Value::Int32(2024)));
        let t = plan_of(col::TIME2, 0, "time", true);
        assert_eq!(d(&t, "-01:00:00"), Some(Value::Int64(-3_600_000_000)));
        let date = plan_of(col::DATE, 0, "date", true);
        assert_eq!(d(&date, "0000-00-00"), Some(Value::Null));
        assert_eq!(d(&date, "2024-02-29"), Some(Value::Int32(19_782)));
        let nn_date = plan_of(col::DATE, 0, "date", false);
        assert_eq!(d(&nn_date, "2024-00-10"), Some(Value::Int32(0)));
        // A literal TIMESTAMP default is printed at the column's width.
        let ts = plan_of(col::TIMESTAMP2, 3, "timestamp(3)", false);
        assert_eq!(
            d(&ts, "2024-01-02 03:04:05"),
            Some(Value::String("2024-01-02T03:04:05.000Z".into()))
        );
        let e = plan_of(col::ENUM, 1, "enum('p','q')", true);
        assert_eq!(d(&e, "q"), Some(Value::String("q".into())));
        let bin = plan_of(col::STRING, 3, "binary(3)", true);
        assert_eq!(d(&bin, "ab"), Some(Value::Bytes(b"ab\0".to_vec())));
    }

    #[test]
    fn decimal_text_to_unscaled() {
        use sluice_api::data::decimal::to_plain_string;
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
