//! The binlog's packed temporal formats (dates are converted with the
//! day count of [`crate::debezium::time`]).
//!
//! The packed TIME2/DATETIME2/TIMESTAMP2 layouts are big-endian with an
//! offset that makes them sort as bytes; fractional seconds use 1, 2 or 3
//! bytes for fsp 1–2, 3–4, 5–6. Negative TIME values borrow from the
//! integer part exactly as MySQL's `my_time_packed_from_binary` does.

use super::wire::be_uint;
use crate::debezium::time::{civil_from_days, days_from_civil};

/// Bytes of the fractional part for a given fsp.
pub fn frac_bytes(fsp: u8) -> usize {
    (fsp as usize).div_ceil(2)
}

/// Microseconds of a fractional part stored in `frac_bytes(fsp)` bytes.
fn frac_micros(b: &[u8]) -> i64 {
    match b.len() {
        0 => 0,
        1 => b[0] as i64 * 10_000,
        2 => be_uint(b) as i64 * 100,
        _ => be_uint(b) as i64,
    }
}

/// A calendar date-time with microseconds (from DATETIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: u32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

impl DateTime {
    /// Zero dates ('0000-00-00') and dates with a zero month or day have
    /// no instant; Debezium emits them as null (or the epoch when the
    /// column is NOT NULL).
    pub fn is_zero_date(&self) -> bool {
        self.month == 0 || self.day == 0
    }

    pub fn epoch_micros(&self) -> i64 {
        let days = days_from_civil(self.year as i64, self.month, self.day);
        ((days * 86_400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64)
            * 1_000_000)
            + self.micros as i64
    }
}

/// DATETIME2: 5 bytes + fraction.
pub fn datetime2(b: &[u8]) -> DateTime {
    let int = be_uint(&b[..5]) as i64 - 0x80_0000_0000;
    let micros = frac_micros(&b[5..]) as u32;
    let ymd = (int >> 17) as u64;
    let ym = ymd >> 5;
    let hms = (int as u64) & ((1 << 17) - 1);
    DateTime {
        year: (ym / 13) as u32,
        month: (ym % 13) as u32,
        day: (ymd & 31) as u32,
        hour: (hms >> 12) as u32,
        minute: ((hms >> 6) & 63) as u32,
        second: (hms & 63) as u32,
        micros,
    }
}

/// Old DATETIME: 8-byte little-endian YYYYMMDDhhmmss.
pub fn datetime_old(v: u64) -> DateTime {
    let (date, time) = (v / 1_000_000, v % 1_000_000);
    DateTime {
        year: (date / 10_000) as u32,
        month: (date / 100 % 100) as u32,
        day: (date % 100) as u32,
        hour: (time / 10_000) as u32,
        minute: (time / 100 % 100) as u32,
        second: (time % 100) as u32,
        micros: 0,
    }
}

/// TIME2: microseconds (signed) of a 3-byte + fraction value.
pub fn time2_micros(b: &[u8], fsp: u8) -> i64 {
    const INT_OFS: i64 = 0x80_0000;
    let packed: i64 = match fsp {
        0 => (be_uint(&b[..3]) as i64 - INT_OFS) << 24,
        1 | 2 => {
            let mut int = be_uint(&b[..3]) as i64 - INT_OFS;
            let mut frac = b[3] as i64;
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x100;
            }
            (int << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut int = be_uint(&b[..3]) as i64 - INT_OFS;
            let mut frac = be_uint(&b[3..5]) as i64;
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x10000;
            }
            (int << 24) + frac * 100
        }
        _ => be_uint(&b[..6]) as i64 - 0x8000_0000_0000,
    };
    let neg = packed < 0;
    let p = packed.abs();
    let hms = p >> 24;
    let frac = p & 0xff_ffff;
    let (h, m, s) = ((hms >> 12) & 0x3ff, (hms >> 6) & 63, hms & 63);
    let v = (h * 3600 + m * 60 + s) * 1_000_000 + frac;
    if neg {
        -v
    } else {
        v
    }
}

/// Old TIME: 3-byte little-endian signed HHMMSS.
pub fn time_old_micros(v: u32) -> i64 {
    let signed = ((v << 8) as i32 >> 8) as i64;
    let a = signed.abs();
    let secs = (a / 10_000) * 3600 + (a / 100 % 100) * 60 + a % 100;
    signed.signum() * secs * 1_000_000
}

/// ISO-8601 UTC text of an instant, with exactly `fsp` fraction digits
/// (Debezium's ZonedTimestamp since DBZ-5996 pads to the column's width).
pub fn iso_utc(epoch_secs: i64, micros: u32, fsp: u8, out: &mut String) {
    use std::fmt::Write;
    let days = epoch_secs.div_euclid(86_400);
    let sod = epoch_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if fsp > 0 {
        let digits = format!("{micros:06}");
        out.push('.');
        out.push_str(&digits[..(fsp as usize).min(6)]);
    }
    out.push('Z');
}

/// A fraction of a second as Java's ISO formatters print it
/// (`appendFraction(NANO_OF_SECOND, 0, 9, true)`): nothing for zero, else
/// the digits without trailing zeros.
fn push_trimmed_fraction(micros: u32, out: &mut String) {
    if micros == 0 {
        return;
    }
    let digits = format!("{micros:06}");
    out.push('.');
    out.push_str(digits.trim_end_matches('0'));
}

/// `HH:MM:SS` of a second of the day.
fn push_hms(sod: i64, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
}

/// ISO-8601 UTC text of an instant as Java's `ISO_OFFSET_DATE_TIME` prints
/// it: the fraction only as long as it needs to be (`...:01Z`, `...:01.1Z`).
/// Debezium's ZonedTimestamp of a snapshot value (a JDBC Timestamp) and its
/// IsoTimestamp are this.
pub fn iso_utc_trimmed(epoch_secs: i64, micros: u32, out: &mut String) {
    use std::fmt::Write;
    let days = epoch_secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T");
    push_hms(epoch_secs.rem_euclid(86_400), out);
    push_trimmed_fraction(micros, out);
    out.push('Z');
}

/// io.debezium.time.IsoTimestamp of epoch microseconds.
pub fn iso_timestamp(epoch_micros: i64) -> String {
    let mut s = String::with_capacity(32);
    iso_utc_trimmed(
        epoch_micros.div_euclid(1_000_000),
        epoch_micros.rem_euclid(1_000_000) as u32,
        &mut s,
    );
    s
}

/// io.debezium.time.IsoDate of days since the epoch (`2024-02-29Z`).
pub fn iso_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}Z")
}

/// The largest TIME Debezium's non-adaptive modes accept: 24:00:00.
pub const ONE_DAY_MICROS: i64 = 86_400_000_000;

/// io.debezium.time.IsoTime of a TIME in microseconds: `None` outside
/// 00:00:00..=24:00:00 (Debezium's IsoTime refuses those; 24:00:00 wraps
/// to midnight, as Java's `LocalTime.plus` does).
pub fn iso_time(micros: i64) -> Option<String> {
    if !(0..=ONE_DAY_MICROS).contains(&micros) {
        return None;
    }
    let micros = micros % ONE_DAY_MICROS;
    let mut s = String::with_capacity(20);
    push_hms(micros / 1_000_000, &mut s);
    push_trimmed_fraction((micros % 1_000_000) as u32, &mut s);
    s.push('Z');
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_texts_trim_the_fraction_as_java_does() {
        let mut s = String::new();
        iso_utc_trimmed(1, 0, &mut s);
        assert_eq!(s, "1970-01-01T00:00:01Z");
        s.clear();
        iso_utc_trimmed(1, 100_000, &mut s);
        assert_eq!(s, "1970-01-01T00:00:01.1Z");
        s.clear();
        iso_utc_trimmed(2_147_483_647, 999_000, &mut s);
        assert_eq!(s, "2038-01-19T03:14:07.999Z");
        assert_eq!(iso_timestamp(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            iso_timestamp(1_709_210_096_789_000),
            "2024-02-29T12:34:56.789Z"
        );
        assert_eq!(iso_date(19_782), "2024-02-29Z");
        assert_eq!(iso_date(-354_285), "1000-01-01Z");
        assert_eq!(iso_time(45_296_789_000).as_deref(), Some("12:34:56.789Z"));
        assert_eq!(iso_time(0).as_deref(), Some("00:00:00Z"));
        assert_eq!(iso_time(ONE_DAY_MICROS).as_deref(), Some("00:00:00Z"));
        assert_eq!(iso_time(ONE_DAY_MICROS + 1), None);
        assert_eq!(iso_time(-1), None);
    }

    fn pack_datetime2(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64) -> [u8; 5] {
        let ymd = ((y * 13 + mo) << 5) | d;
        let v = (ymd << 17 | h << 12 | mi << 6 | s) + 0x80_0000_0000;
        let b = v.to_be_bytes();
        [b[3], b[4], b[5], b[6], b[7]]
    }

    #[test]
    fn datetime2_with_microseconds() {
        let mut b = pack_datetime2(2024, 2, 29, 23, 59, 58).to_vec();
        b.extend_from_slice(&[0x0f, 0x42, 0x3f]); // 999999
        let dt = datetime2(&b);
        assert_eq!(
            (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.micros),
            (2024, 2, 29, 23, 59, 58, 999_999)
        );
        assert_eq!(dt.epoch_micros(), 1_709_251_198_999_999);
        assert!(datetime2(&pack_datetime2(0, 0, 0, 0, 0, 0)).is_zero_date());
    }

    #[test]
    fn time2_negative_and_fractional() {
        // '-00:00:01.5' fsp 1: MySQL stores int -1 + borrow.
        let int: i64 = 1; // 00:00:01
        let packed = -((int << 24) + 500_000); // -1.5 s
        let v = (packed + 0x8000_0000_0000) as u64;
        let b = &v.to_be_bytes()[2..];
        assert_eq!(time2_micros(b, 6), -1_500_000);
        // '838:59:59' fsp 0
        let hms = (838i64 << 12) | (59 << 6) | 59;
        let v = (hms + 0x80_0000) as u64;
        assert_eq!(
            time2_micros(&v.to_be_bytes()[5..], 0),
            (838 * 3600 + 59 * 60 + 59) * 1_000_000
        );
        // '-12:00:00.25' fsp 2: int part -(12<<12) - 1 after borrow, frac 0x100 - 25
        let int = -(12i64 << 12) - 1 + 0x80_0000;
        let mut b = (int as u64).to_be_bytes()[5..].to_vec();
        b.push((0x100 - 25) as u8);
        assert_eq!(time2_micros(&b, 2), -(12 * 3600 * 1_000_000 + 250_000));
    }

    #[test]
    fn iso_text_pads_to_fsp() {
        let mut s = String::new();
        iso_utc(1_673_440_200, 123_000, 6, &mut s);
        assert_eq!(s, "2023-01-11T12:30:00.123000Z");
        s.clear();
        iso_utc(0, 0, 0, &mut s);
        assert_eq!(s, "1970-01-01T00:00:00Z");
        s.clear();
        iso_utc(2_147_483_647, 0, 3, &mut s);
        assert_eq!(s, "2038-01-19T03:14:07.000Z");
    }

    #[test]
    fn old_formats() {
        assert_eq!(
            time_old_micros(0x00_1c_20 /* 7200 = 00:72:00? */),
            (72 * 60) * 1_000_000
        );
        let dt = datetime_old(20_240_229_235_958);
        assert_eq!((dt.year, dt.month, dt.day, dt.second), (2024, 2, 29, 58));
    }
}
