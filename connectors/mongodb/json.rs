//! BSON to extended JSON text, exactly as Debezium writes it.
//!
//! Debezium's MongoDB connector (2.x) renders documents with the Java
//! driver's `JsonMode.STRICT` (legacy extended JSON: `{"$numberLong": "5"}`,
//! `{"$date": 1700000000000}`, `{"$binary": "...", "$type": "00"}`) and the
//! key's `_id` with `JsonMode.RELAXED` (`5`, `{"$date": "2023-...Z"}`,
//! `{"$binary": {"base64": "...", "subType": "00"}}`), both with the writer's
//! "indent with empty strings" layout: `{"a": 1,"b": [1,2]}` (a space after
//! each colon, none after commas). Consumers that compare strings, or parse
//! them with the Java driver, see the same text from Sluice.
//!
//! Doubles follow Java's `Double.toString` (`1.0`, `1.0E-5`, `1.5E+10`);
//! strings are escaped like the Java writer for everything it escapes in
//! practice (quotes, backslash, control characters, characters outside the
//! BMP as UTF-16 surrogate pairs, line/paragraph separators, format and
//! private-use characters, combining diacritics U+0300–U+036F). Other
//! combining marks are written as themselves: the same JSON value.

use std::fmt::Write as _;

use bson::{Bson, Document};

/// Which of the Java driver's output modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// JsonMode.STRICT: document values (`after`, `before`, `updatedFields`, `lsid`).
    Strict,
    /// JsonMode.RELAXED: the key's `id`.
    Relaxed,
}

/// A document as Debezium's `after`/`before` strings.
pub fn document(doc: &Document, mode: Mode) -> String {
    let mut out = String::with_capacity(64);
    write_doc(&mut out, doc, mode);
    out
}

/// One value (the key's `_id`).
pub fn value(v: &Bson, mode: Mode) -> String {
    let mut out = String::with_capacity(32);
    write_value(&mut out, v, mode);
    out
}

fn write_doc(out: &mut String, doc: &Document, mode: Mode) {
    out.push('{');
    for (i, (k, v)) in doc.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push_str(": ");
        write_value(out, v, mode);
    }
    out.push('}');
}

/// Writes one field's value.
type FieldWriter<'a> = &'a dyn Fn(&mut String);

/// `{"name": value}` pairs written with the same layout.
fn write_obj(out: &mut String, fields: &[(&str, FieldWriter<'_>)]) {
    out.push('{');
    for (i, (k, f)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push_str(": ");
        f(out);
    }
    out.push('}');
}

fn write_value(out: &mut String, v: &Bson, mode: Mode) {
    let relaxed = mode == Mode::Relaxed;
    match v {
        Bson::Double(d) => {
            if relaxed && !d.is_finite() {
                let s = java_double(*d);
                write_obj(out, &[("$numberDouble", &|o| write_str(o, &s))]);
            } else {
                out.push_str(&java_double(*d));
            }
        }
        Bson::String(s) => write_str(out, s),
        Bson::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x, mode);
            }
            out.push(']');
        }
        Bson::Document(d) => write_doc(out, d, mode),
        Bson::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Bson::Null => out.push_str("null"),
        Bson::RegularExpression(r) => {
            let (p, o) = (r.pattern.as_str(), r.options.as_str());
            if relaxed {
                write_obj(
                    out,
                    &[("$regularExpression", &|x| {
                        write_obj(
                            x,
                            &[
                                ("pattern", &|y| write_str(y, p)),
                                ("options", &|y| write_str(y, o)),
                            ],
                        )
                    })],
                );
            } else {
                write_obj(
                    out,
                    &[
                        ("$regex", &|x| write_str(x, p)),
                        ("$options", &|x| write_str(x, o)),
                    ],
                );
            }
        }
        Bson::JavaScriptCode(c) => write_obj(out, &[("$code", &|x| write_str(x, c))]),
        Bson::JavaScriptCodeWithScope(c) => write_obj(
            out,
            &[
                ("$code", &|x| write_str(x, &c.code)),
                ("$scope", &|x| write_doc(x, &c.scope, mode)),
            ],
        ),
        Bson::Int32(i) => {
            let _ = write!(out, "{i}");
        }
        Bson::Int64(i) => {
            if relaxed {
                let _ = write!(out, "{i}");
            } else {
                let s = i.to_string();
                write_obj(out, &[("$numberLong", &|x| write_str(x, &s))]);
            }
        }
        Bson::Timestamp(t) => {
            let (ts, inc) = (t.time.to_string(), t.increment.to_string());
            write_obj(
                out,
                &[("$timestamp", &|x| {
                    write_obj(
                        x,
                        &[("t", &|y| y.push_str(&ts)), ("i", &|y| y.push_str(&inc))],
                    )
                })],
            );
        }
        Bson::Binary(b) => {
            let data = base64(&b.bytes);
            let sub = format!("{:02X}", u8::from(b.subtype));
            if relaxed {
                write_obj(
                    out,
                    &[("$binary", &|x| {
                        write_obj(
                            x,
                            &[
                                ("base64", &|y| write_str(y, &data)),
                                ("subType", &|y| write_str(y, &sub)),
                            ],
                        )
                    })],
                );
            } else {
                write_obj(
                    out,
                    &[
                        ("$binary", &|x| write_str(x, &data)),
                        ("$type", &|x| write_str(x, &sub)),
                    ],
                );
            }
        }
        Bson::ObjectId(o) => {
            let hex = o.to_hex();
            write_obj(out, &[("$oid", &|x| write_str(x, &hex))]);
        }
        Bson::DateTime(d) => {
            let ms = d.timestamp_millis();
            const LAST_MS_OF_9999: i64 = 253_402_300_799_999;
            if !relaxed {
                write_obj(out, &[("$date", &|x| x.push_str(&ms.to_string()))]);
            } else if (0..=LAST_MS_OF_9999).contains(&ms) {
                let iso = iso_millis(ms);
                write_obj(out, &[("$date", &|x| write_str(x, &iso))]);
            } else {
                let s = ms.to_string();
                write_obj(
                    out,
                    &[("$date", &|x| {
                        write_obj(x, &[("$numberLong", &|y| write_str(y, &s))])
                    })],
                );
            }
        }
        Bson::Symbol(s) => write_obj(out, &[("$symbol", &|x| write_str(x, s))]),
        Bson::Decimal128(d) => {
            let s = d.to_string();
            write_obj(out, &[("$numberDecimal", &|x| write_str(x, &s))]);
        }
        Bson::Undefined => write_obj(out, &[("$undefined", &|x| x.push_str("true"))]),
        Bson::MaxKey => write_obj(out, &[("$maxKey", &|x| x.push('1'))]),
        Bson::MinKey => write_obj(out, &[("$minKey", &|x| x.push('1'))]),
        Bson::DbPointer(_) => {
            // The driver keeps the pointer's parts private; its canonical
            // form names them.
            let canon = v.clone().into_canonical_extjson();
            let p = &canon["$dbPointer"];
            let ns = p["$ref"].as_str().unwrap_or("").to_string();
            let id = p["$id"]["$oid"].as_str().unwrap_or("").to_string();
            write_obj(
                out,
                &[
                    ("$ref", &|x| write_str(x, &ns)),
                    ("$id", &|x| {
                        write_obj(x, &[("$oid", &|y| write_str(y, &id))])
                    }),
                ],
            );
        }
    }
}

/// Java's `Double.toString`, with the driver's `E+` for positive exponents.
pub fn java_double(d: f64) -> String {
    let mut s = sluice_api::java_text::double_to_string(d);
    if let Some(e) = s.find('E') {
        if !s[e + 1..].starts_with('-') {
            s.insert(e + 1, '+');
        }
    }
    s
}

fn needs_escape(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x1F | 0x7F..=0x9F | 0xAD | 0x300..=0x36F | 0x600..=0x605 | 0x61C | 0x6DD
        | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xE000..=0xF8FF | 0xFEFF | 0xFFF9..=0xFFFB | 0x10000..)
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Milliseconds since the epoch (0..=year 9999) as Java's
/// ISO_OFFSET_DATE_TIME in UTC: `2023-05-01T10:00:00Z`, `...:00.5Z`.
fn iso_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (year, month, day) = crate::debezium::time::civil_from_days(days);
    let (h, m, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    let mut out = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if milli != 0 {
        let frac = format!("{milli:03}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, Timestamp};

    #[test]
    fn strict_mode_matches_the_java_driver() {
        let oid = ObjectId::parse_str("596e275826f08b2730779e1f").unwrap();
        let d = doc! {
            "_id": oid,
            "i": 5_i32,
            "l": 5_i64,
            "d": 1.0,
            "s": "a\"b\n",
            "a": [1_i32, "x", {"n": bson::Bson::Null}],
            "t": bson::DateTime::from_millis(1_700_000_000_123),
            "b": Binary { subtype: BinarySubtype::Uuid, bytes: vec![1, 2, 3, 4] },
            "ts": Timestamp { time: 7, increment: 3 },
            "e": {},
        };
        assert_eq!(
            document(&d, Mode::Strict),
            r#"{"_id": {"$oid": "596e275826f08b2730779e1f"},"i": 5,"l": {"$numberLong": "5"},"d": 1.0,"s": "a\"b\n","a": [1,"x",{"n": null}],"t": {"$date": 1700000000123},"b": {"$binary": "AQIDBA==","$type": "04"},"ts": {"$timestamp": {"t": 7,"i": 3}},"e": {}}"#
        );
    }

    #[test]
    fn relaxed_mode_for_keys() {
        assert_eq!(value(&Bson::Int64(1004), Mode::Relaxed), "1004");
        assert_eq!(
            value(&Bson::String("k\u{1F600}".into()), Mode::Relaxed),
            r#""k\ud83d\ude00""#
        );
        let oid = ObjectId::parse_str("596e275826f08b2730779e1f").unwrap();
        assert_eq!(
            value(&Bson::ObjectId(oid), Mode::Relaxed),
            r#"{"$oid": "596e275826f08b2730779e1f"}"#
        );
        assert_eq!(
            value(
                &Bson::DateTime(bson::DateTime::from_millis(1_500)),
                Mode::Relaxed
            ),
            r#"{"$date": "1970-01-01T00:00:01.5Z"}"#
        );
        assert_eq!(
            value(
                &Bson::DateTime(bson::DateTime::from_millis(-1)),
                Mode::Relaxed
            ),
            r#"{"$date": {"$numberLong": "-1"}}"#
        );
        assert_eq!(
            value(&Bson::Double(f64::NAN), Mode::Relaxed),
            r#"{"$numberDouble": "NaN"}"#
        );
        assert_eq!(
            value(
                &Bson::Document(doc! {"a": 1_i32, "b": 2_i64}),
                Mode::Relaxed
            ),
            r#"{"a": 1,"b": 2}"#
        );
    }

    #[test]
    fn doubles_print_like_java() {
        for (d, s) in [
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (1e-4, "1.0E-4"),
            (1.5e10, "1.5E+10"),
            (1e7, "1.0E+7"),
            (9999999.0, "9999999.0"),
            (123.456, "123.456"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
        ] {
            assert_eq!(java_double(d), s, "{d}");
        }
    }

    #[test]
    fn dates_cover_the_calendar() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_millis(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso_millis(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }
}
