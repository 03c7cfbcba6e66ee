//! Java's text forms of numbers and dates, byte for byte.
//!
//! Kafka Connect's converters print values with Java's `toString`: floats
//! with `Float.toString`/`Double.toString` (shortest round-trip digits, plain
//! between 10^-3 and 10^7, otherwise `d.dddE±n`), decimals with
//! `BigDecimal.toString` (plain unless the scale is negative or the adjusted
//! exponent is below -6), dates in ISO-8601 UTC. Rust's `{:e}` formatting
//! yields the same shortest round-trip digits, so re-arranging those digits
//! with Java's layout rules gives Java's exact output (JDK 19+, whose
//! `Double.toString` is the shortest-digits algorithm).

use std::fmt::Write as _;

/// A fixed stack buffer that `write!` can fill, for float digit strings.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends Java's `Double.toString(v)`.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if !write_special(
        out,
        v.is_nan(),
        v.is_infinite(),
        v.is_sign_negative(),
        v == 0.0,
    ) {
        let mut b = StackBuf {
            buf: [0; 40],
            len: 0,
        };
        // `{:e}` of a finite f64 always fits in 40 bytes.
        let _ = write!(b, "{v:e}");
        write_scientific(out, &b.buf[..b.len]);
    }
}

/// Java's `Double.toString(v)`.
pub fn double_to_string(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_f64(&mut out, v);
    String::from_utf8(out).expect("ASCII digits")
}

/// Java's `Float.toString(v)`.
pub fn float_to_string(v: f32) -> String {
    let mut out = Vec::with_capacity(16);
    write_f32(&mut out, v);
    String::from_utf8(out).expect("ASCII digits")
}

/// Appends Java's `Float.toString(v)`.
pub fn write_f32(out: &mut Vec<u8>, v: f32) {
    if !write_special(
        out,
        v.is_nan(),
        v.is_infinite(),
        v.is_sign_negative(),
        v == 0.0,
    ) {
        let mut b = StackBuf {
            buf: [0; 40],
            len: 0,
        };
        let _ = write!(b, "{v:e}");
        write_scientific(out, &b.buf[..b.len]);
    }
}

fn write_special(out: &mut Vec<u8>, nan: bool, inf: bool, neg: bool, zero: bool) -> bool {
    let text: &[u8] = if nan {
        b"NaN"
    } else if inf && neg {
        b"-Infinity"
    } else if inf {
        b"Infinity"
    } else if zero && neg {
        b"-0.0"
    } else if zero {
        b"0.0"
    } else {
        return false;
    };
    out.extend_from_slice(text);
    true
}

/// Re-lays Rust's `-d.ddde-n` as Java does.
fn write_scientific(out: &mut Vec<u8>, sci: &[u8]) {
    let (neg, sci) = match sci.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, sci),
    };
    let e = sci.iter().position(|&c| c == b'e').unwrap_or(sci.len());
    let mut digits = [0u8; 24];
    let mut n = 0;
    for &c in &sci[..e] {
        if c.is_ascii_digit() && n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    let exp: i32 = std::str::from_utf8(sci.get(e + 1..).unwrap_or(b"0"))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if neg {
        out.push(b'-');
    }
    java_layout(out, &digits[..n], exp);
}

/// `digits` = d1 d2 ..., value = d1.d2... × 10^exp.
fn java_layout(out: &mut Vec<u8>, digits: &[u8], exp: i32) {
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits.first().copied().unwrap_or(b'0'));
        out.push(b'.');
        if digits.len() > 1 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        write_i64(out, exp as i64);
    }
}

/// Appends the decimal digits of an integer (no allocation).
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    // Two digits per division (timestamps in ns have 19).
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if n >= 10 {
        let d = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Java's `BigDecimal.toString()` of an unscaled big-endian
/// two's-complement value and a scale.
pub fn write_big_decimal(out: &mut Vec<u8>, unscaled: &[u8], scale: i32) {
    let digits = crate::data::decimal::unscaled_to_digits(unscaled);
    let (neg, coeff) = match digits.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, digits.as_str()),
    };
    if neg {
        out.push(b'-');
    }
    let coeff = coeff.as_bytes();
    let adjusted = -(scale as i64) + (coeff.len() as i64 - 1);
    if scale == 0 {
        out.extend_from_slice(coeff);
    } else if scale > 0 && adjusted >= -6 {
        let scale = scale as usize;
        if coeff.len() > scale {
            let (int, frac) = coeff.split_at(coeff.len() - scale);
            out.extend_from_slice(int);
            out.push(b'.');
            out.extend_from_slice(frac);
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', scale - coeff.len()));
            out.extend_from_slice(coeff);
        }
    } else {
        out.push(coeff[0]);
        if coeff.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&coeff[1..]);
        }
        if adjusted != 0 {
            out.push(b'E');
            if adjusted > 0 {
                out.push(b'+');
            }
            write_i64(out, adjusted);
        }
    }
}

/// Parses decimal text (`-12.5`, `1E+3`) into unscaled bytes at exactly
/// `scale`; `None` when it is not a number or would lose digits.
pub fn decimal_at_scale(text: &str, scale: i32) -> Option<Vec<u8>> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (neg, body) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut digits = format!("{int}{frac}");
    let have = (frac.len() as i64).checked_sub(exp)?;
    let want = scale as i64;
    if want >= have {
        let pad = usize::try_from(want.checked_sub(have)?)
            .ok()
            .filter(|&p| p < 100_000)?;
        digits.extend(std::iter::repeat_n('0', pad));
    } else {
        let drop = usize::try_from(have.checked_sub(want)?).ok()?;
        let keep = digits.len().saturating_sub(drop);
        if digits.as_bytes()[keep..].iter().any(|&b| b != b'0') {
            return None;
        }
        digits.truncate(keep);
    }
    let trimmed = digits.trim_start_matches('0');
    Some(crate::data::decimal::digits_to_unscaled(trimmed, neg))
}

/// Civil date (year, month, day) of days since 1970-01-01 (proleptic
/// Gregorian, as `java.time` and UTC `SimpleDateFormat` after 1582).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `yyyy-MM-dd` of days since the epoch.
pub fn format_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// `HH:mm:ss.SSS'Z'` of milliseconds within a day.
pub fn format_time(out: &mut String, millis: i64) {
    let ms = millis.rem_euclid(86_400_000);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    );
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` of milliseconds since the epoch.
pub fn format_timestamp(out: &mut String, millis: i64) {
    format_date(out, millis.div_euclid(86_400_000));
    out.push('T');
    format_time(out, millis);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_print_like_java() {
        let mut edges = vec![
            0i64,
            1,
            9,
            10,
            11,
            99,
            100,
            101,
            999,
            1000,
            i64::MAX,
            i64::MIN,
        ];
        let mut p = 1i64;
        while let Some(next) = p.checked_mul(10) {
            edges.extend([p - 1, p, p + 1, -p + 1, -p, -p - 1]);
            p = next;
        }
        edges.extend([1_764_088_000_123_456_789, -86_400_000]);
        for v in edges {
            let mut out = Vec::new();
            write_i64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }

    fn d(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn f(v: f32) -> String {
        let mut out = Vec::new();
        write_f32(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(d(1.0), "1.0");
        assert_eq!(d(-2.5), "-2.5");
        assert_eq!(d(100.0), "100.0");
        assert_eq!(d(1234567.0), "1234567.0");
        assert_eq!(d(12345678.0), "1.2345678E7");
        assert_eq!(d(1e10), "1.0E10");
        assert_eq!(d(0.001), "0.001");
        assert_eq!(d(0.0001), "1.0E-4");
        assert_eq!(d(1.5e-7), "1.5E-7");
        assert_eq!(d(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(d(f64::MAX), "1.7976931348623157E308");
        assert_eq!(d(-0.0), "-0.0");
        assert_eq!(d(f64::NAN), "NaN");
        assert_eq!(d(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn floats_print_like_java() {
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(3.4028235e38), "3.4028235E38");
        assert_eq!(f(1.0e7), "1.0E7");
        assert_eq!(f(9999999.0), "9999999.0");
    }

    fn bd(text: &str, scale: i32) -> String {
        let bytes = decimal_at_scale(text, scale).unwrap();
        let mut out = Vec::new();
        write_big_decimal(&mut out, &bytes, scale);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn big_decimals_print_like_java() {
        assert_eq!(bd("12.30", 2), "12.30");
        assert_eq!(bd("-0.5", 1), "-0.5");
        assert_eq!(bd("0.00000001", 8), "1E-8");
        assert_eq!(bd("0.000001", 6), "0.000001");
        assert_eq!(bd("1200", -2), "1.2E+3");
        assert_eq!(bd("7", 0), "7");
        assert_eq!(bd("1.2E+3", -2), "1.2E+3");
        assert!(decimal_at_scale("1.25", 1).is_none());
        assert!(decimal_at_scale("x", 1).is_none());
        assert!(decimal_at_scale("1e999999999", 1).is_none());
    }

    #[test]
    fn strings_of_floats() {
        assert_eq!(double_to_string(1.0), "1.0");
        assert_eq!(double_to_string(1.5e10), "1.5E10");
        assert_eq!(double_to_string(1e-5), "1.0E-5");
        assert_eq!(double_to_string(0.001), "0.001");
        assert_eq!(double_to_string(f64::NAN), "NaN");
        assert_eq!(float_to_string(3.25), "3.25");
        assert_eq!(float_to_string(1.1), "1.1");
    }

    #[test]
    fn dates_round_trip() {
        for days in (-800_000..3_000_000)
            .step_by(997)
            .chain([-719_468, -1, 0, 1, 2_932_896])
        {
            let (y, m, dd) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, dd), days);
        }
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        let mut s = String::new();
        format_timestamp(&mut s, 1_700_000_000_123);
        assert_eq!(s, "2023-11-14T22:13:20.123Z");
    }
}
