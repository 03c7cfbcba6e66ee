//! Calendar arithmetic and a subset of Java's `SimpleDateFormat`, in UTC.
//!
//! TimestampConverter and TimestampRouter format and parse with the patterns
//! users already have in their Kafka Connect configs. Kafka Connect runs
//! them in UTC; so does this. Dates use the proleptic Gregorian calendar via
//! the API's `days_from_civil` / `civil_from_days` (Howard Hinnant's, exact for
//! every i64 millisecond value we can be given), so no date library is needed.
//!
//! Supported letters: `y` `M` (numeric, `MMM` short and `MMMM` long names)
//! `d` `D` `H` `k` `h` `K` `m` `s` `S` `a` `E` `X` `Z` `z`, quoted text
//! (`'T'`, `''`) and any non-letter as a literal. Parsing is lenient like
//! `SimpleDateFormat`'s default (month 13 rolls into the next year). Any
//! other letter is rejected when the config is read.

use std::time::{SystemTime, UNIX_EPOCH};

use sluice_api::java_text::{civil_from_days, days_from_civil};

pub const MS_PER_DAY: i64 = 86_400_000;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Literal(String),
    Field(char, usize),
}

/// A compiled `SimpleDateFormat` pattern.
#[derive(Debug, Clone)]
pub struct DateFormat {
    pattern: String,
    items: Vec<Item>,
}

impl DateFormat {
    pub fn new(pattern: &str) -> Result<DateFormat, String> {
        let mut items = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        let mut lit = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    lit.push('\'');
                    i += 2;
                    continue;
                }
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(format!("Unterminated quote in date format {pattern}")),
                        Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                            lit.push('\'');
                            j += 2;
                        }
                        Some('\'') => break,
                        Some(ch) => {
                            lit.push(*ch);
                            j += 1;
                        }
                    }
                }
                i = j + 1;
            } else if c.is_ascii_alphabetic() {
                if !"yMdDHkhKmsSaEXZzu".contains(c) {
                    return Err(format!(
                        "Unsupported letter '{c}' in date format {pattern}; Sluice supports y M d D H k h K m s S a E X Z z and quoted text"
                    ));
                }
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                if !lit.is_empty() {
                    items.push(Item::Literal(std::mem::take(&mut lit)));
                }
                items.push(Item::Field(c, n));
                i += n;
            } else {
                lit.push(c);
                i += 1;
            }
        }
        if !lit.is_empty() {
            items.push(Item::Literal(lit));
        }
        Ok(DateFormat {
            pattern: pattern.to_string(),
            items,
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Formats milliseconds since the epoch, in UTC.
    pub fn format(&self, millis: i64) -> String {
        let days = millis.div_euclid(MS_PER_DAY);
        let ms_of_day = millis.rem_euclid(MS_PER_DAY);
        let (y, mo, d) = civil_from_days(days);
        let (mo, d) = (i64::from(mo), i64::from(d));
        let h = ms_of_day / 3_600_000;
        let mi = ms_of_day / 60_000 % 60;
        let s = ms_of_day / 1000 % 60;
        let ms = ms_of_day % 1000;
        let mut out = String::new();
        for item in &self.items {
            match item {
                Item::Literal(l) => out.push_str(l),
                Item::Field(c, n) => {
                    let n = *n;
                    match c {
                        'y' | 'u' => {
                            if n == 2 {
                                pad(&mut out, y.rem_euclid(100), 2)
                            } else {
                                pad(&mut out, y, n)
                            }
                        }
                        'M' => match n {
                            1 | 2 => pad(&mut out, mo, n),
                            3 => out.push_str(&MONTHS[(mo - 1) as usize][..3]),
                            _ => out.push_str(MONTHS[(mo - 1) as usize]),
                        },
                        'd' => pad(&mut out, d, n),
                        'D' => pad(&mut out, days - days_from_civil(y, 1, 1) + 1, n),
                        'H' => pad(&mut out, h, n),
                        'k' => pad(&mut out, if h == 0 { 24 } else { h }, n),
                        'K' => pad(&mut out, h % 12, n),
                        'h' => pad(&mut out, if h % 12 == 0 { 12 } else { h % 12 }, n),
                        'm' => pad(&mut out, mi, n),
                        's' => pad(&mut out, s, n),
                        'S' => pad(&mut out, ms, n),
                        'a' => out.push_str(if h < 12 { "AM" } else { "PM" }),
                        'E' => {
                            let dow = (days + 3).rem_euclid(7) as usize;
                            if n >= 4 {
                                out.push_str(DAYS[dow])
                            } else {
                                out.push_str(&DAYS[dow][..3])
                            }
                        }
                        'X' => out.push('Z'),
                        'Z' => out.push_str("+0000"),
                        'z' => out.push_str("UTC"),
                        _ => {}
                    }
                }
            }
        }
        out
    }

    /// Parses text into milliseconds since the epoch (UTC unless the text
    /// carries an offset). Fields absent from the pattern default to
    /// 1970-01-01T00:00:00.000, as with `SimpleDateFormat`.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let bad = |why: &str| {
            format!(
                "Could not parse timestamp: value ({text}) does not match pattern ({}): {why}",
                self.pattern
            )
        };
        let (mut y, mut mo, mut d, mut doy) = (1970i64, 1i64, 1i64, None::<i64>);
        let (mut h, mut mi, mut s, mut ms) = (0i64, 0i64, 0i64, 0i64);
        let mut pm: Option<bool> = None;
        let mut h12 = false;
        let mut offset_ms = 0i64;
        let b = text.as_bytes();
        let mut pos = 0usize;
        for (idx, item) in self.items.iter().enumerate() {
            match item {
                Item::Literal(l) => {
                    if text[pos..].starts_with(l.as_str()) {
                        pos += l.len();
                    } else {
                        return Err(bad(&format!("expected '{l}' at position {pos}")));
                    }
                }
                Item::Field(c, n) => {
                    let abutting = matches!(self.items.get(idx + 1), Some(Item::Field(nc, nn)) if is_numeric(*nc, *nn));
                    match c {
                        'M' if *n >= 3 => {
                            let (i, used) = match_name(&text[pos..], &MONTHS)
                                .ok_or_else(|| bad("expected a month name"))?;
                            mo = i as i64 + 1;
                            pos += used;
                        }
                        'E' => {
                            let (_, used) = match_name(&text[pos..], &DAYS)
                                .ok_or_else(|| bad("expected a day name"))?;
                            pos += used;
                        }
                        'a' => {
                            let rest = text[pos..].to_ascii_uppercase();
                            if rest.starts_with("AM") {
                                pm = Some(false);
                            } else if rest.starts_with("PM") {
                                pm = Some(true);
                            } else {
                                return Err(bad("expected AM or PM"));
                            }
                            pos += 2;
                        }
                        'X' | 'Z' | 'z' => {
                            let (off, used) = parse_offset(&text[pos..])
                                .ok_or_else(|| bad("expected a zone offset"))?;
                            offset_ms = off;
                            pos += used;
                        }
                        _ => {
                            let max = if abutting { *n } else { usize::MAX };
                            let start = pos;
                            let neg = b.get(pos) == Some(&b'-') && *c == 'y';
                            if neg {
                                pos += 1;
                            }
                            let digits_start = pos;
                            while pos < b.len()
                                && b[pos].is_ascii_digit()
                                && pos - digits_start < max
                            {
                                pos += 1;
                            }
                            if pos == digits_start {
                                return Err(bad(&format!("expected digits at position {start}")));
                            }
                            let mut v: i64 = text[digits_start..pos]
                                .parse()
                                .map_err(|_| bad("number out of range"))?;
                            if neg {
                                v = -v;
                            }
                            match c {
                                'y' | 'u' => {
                                    y = if *n <= 2 && pos - digits_start == 2 && !neg {
                                        two_digit_year(v)
                                    } else {
                                        v
                                    }
                                }
                                'M' => mo = v,
                                'd' => d = v,
                                'D' => doy = Some(v),
                                'H' => h = v,
                                'k' => h = if v == 24 { 0 } else { v },
                                'K' => {
                                    h = v;
                                    h12 = true
                                }
                                'h' => {
                                    h = if v == 12 { 0 } else { v };
                                    h12 = true
                                }
                                'm' => mi = v,
                                's' => s = v,
                                'S' => ms = v,
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
        if pos != text.len() && pos == 0 {
            return Err(bad("nothing matched"));
        }
        if pm == Some(true) && (h12 || h < 12) {
            h += 12;
        }
        // Lenient month overflow, then days added onto the first of the month.
        let y2 = y + (mo - 1).div_euclid(12);
        let mo2 = (mo - 1).rem_euclid(12) + 1;
        let days = match doy {
            Some(n) => days_from_civil(y, 1, 1) + n - 1,
            None => days_from_civil(y2, mo2 as u32, 1) + d - 1,
        };
        let millis = days
            .checked_mul(MS_PER_DAY)
            .and_then(|v| v.checked_add(h * 3_600_000 + mi * 60_000 + s * 1000 + ms))
            .ok_or_else(|| bad("date out of range"))?;
        Ok(millis - offset_ms)
    }
}

fn is_numeric(c: char, n: usize) -> bool {
    match c {
        'M' => n <= 2,
        'a' | 'E' | 'X' | 'Z' | 'z' => false,
        _ => true,
    }
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    let s = v.unsigned_abs().to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

fn match_name(text: &str, names: &[&str]) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    // Full names first, so "March" does not stop at "Mar".
    for (i, n) in names.iter().enumerate() {
        if lower.starts_with(&n.to_ascii_lowercase()) {
            return Some((i, n.len()));
        }
    }
    for (i, n) in names.iter().enumerate() {
        if lower.starts_with(&n[..3].to_ascii_lowercase()) {
            return Some((i, 3));
        }
    }
    None
}

fn parse_offset(text: &str) -> Option<(i64, usize)> {
    if text.starts_with('Z') {
        return Some((0, 1));
    }
    if text.starts_with("UTC") || text.starts_with("GMT") {
        return Some((0, 3));
    }
    let b = text.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| (c - b'0') as i64)
    };
    let hh = digit(1)? * 10 + digit(2)?;
    let (mm, used) = if b.get(3) == Some(&b':') {
        (digit(4)? * 10 + digit(5)?, 6)
    } else if let (Some(a), Some(c)) = (digit(3), digit(4)) {
        (a * 10 + c, 5)
    } else {
        (0, 3)
    };
    Some((sign * (hh * 3_600_000 + mm * 60_000), used))
}

/// `SimpleDateFormat`'s two-digit year: within 80 years before and 20
/// after now.
fn two_digit_year(yy: i64) -> i64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (now_year, _, _) = civil_from_days(now_ms.div_euclid(MS_PER_DAY));
    let start = now_year - 80;
    let mut y = (start / 100) * 100 + yy;
    if y < start {
        y += 100;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_common_patterns() {
        let ms = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z, a Tuesday
        let f = DateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSSXXX").unwrap();
        assert_eq!(f.format(ms), "2023-11-14T22:13:20.123Z");
        assert_eq!(DateFormat::new("yyyyMMdd").unwrap().format(ms), "20231114");
        assert_eq!(
            DateFormat::new("EEE, d MMM yy hh:mm a Z")
                .unwrap()
                .format(ms),
            "Tue, 14 Nov 23 10:13 PM +0000"
        );
        assert_eq!(
            DateFormat::new("yyyy-MM-dd").unwrap().format(-1),
            "1969-12-31"
        );
    }

    #[test]
    fn parses_what_it_formats() {
        for p in [
            "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
            "yyyyMMddHHmmssSSS",
            "dd MMMM yyyy HH:mm:ss.SSS Z",
        ] {
            let f = DateFormat::new(p).unwrap();
            for ms in [0i64, 1_700_000_000_123, -86_400_001, 253_402_300_799_999] {
                assert_eq!(f.parse(&f.format(ms)).unwrap(), ms, "{p}");
            }
        }
        let f = DateFormat::new("yyyy-MM-dd'T'HH:mm:ssXXX").unwrap();
        assert_eq!(f.parse("1970-01-01T02:00:00+02:00").unwrap(), 0);
        assert!(f.parse("1970-01-01").is_err());
    }

    #[test]
    fn rejects_unknown_letters() {
        let e = DateFormat::new("yyyy-ww").unwrap_err();
        assert!(e.contains("'w'"), "{e}");
        assert!(DateFormat::new("'open").is_err());
    }
}
