//! MySQL's binary JSON (column type 245) to compact JSON text, as Debezium
//! emits it for io.debezium.data.Json. MariaDB stores JSON as LONGTEXT, so
//! this only runs against Oracle MySQL.
//!
//! The format (MySQL's `json_binary.h`): a type byte, then objects/arrays
//! with an element count and byte size (2-byte fields when "small", 4-byte
//! when "large"), key entries, value entries (small scalars inlined), and
//! variable-length strings. Every offset is checked against the value's
//! bounds; nesting depth is capped so a hostile document cannot overflow
//! the stack.

use sluice_api::data::decimal::to_plain_string;

use super::wire::le_uint;

const MAX_DEPTH: usize = 100;

pub fn to_json_text(b: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(b.len() + 16);
    if b.is_empty() {
        out.push_str("null");
        return Ok(out);
    }
    value(b[0], &b[1..], &mut out, 0)?;
    Ok(out)
}

fn err(what: &str) -> String {
    format!("corrupt binary JSON: {what}")
}

fn get(b: &[u8], at: usize, n: usize) -> Result<&[u8], String> {
    b.get(at..at.checked_add(n).ok_or_else(|| err("offset overflow"))?)
        .ok_or_else(|| err("offset out of bounds"))
}

fn varlen(b: &[u8]) -> Result<(usize, usize), String> {
    let mut len = 0usize;
    for i in 0..5 {
        let x = *b.get(i).ok_or_else(|| err("truncated length"))?;
        len |= ((x & 0x7f) as usize) << (7 * i);
        if x & 0x80 == 0 {
            return Ok((len, i + 1));
        }
    }
    Err(err("length longer than 5 bytes"))
}

fn value(t: u8, b: &[u8], out: &mut String, depth: usize) -> Result<(), String> {
    use std::fmt::Write;
    if depth > MAX_DEPTH {
        return Err(err("nested deeper than 100 levels"));
    }
    match t {
        0x00..=0x03 => container(t, b, out, depth)?,
        0x04 => out.push_str(match b.first() {
            Some(0) => "null",
            Some(1) => "true",
            Some(2) => "false",
            _ => return Err(err("bad literal")),
        }),
        0x05 => {
            let _ = write!(out, "{}", le_uint(get(b, 0, 2)?) as u16 as i16);
        }
        0x06 => {
            let _ = write!(out, "{}", le_uint(get(b, 0, 2)?) as u16);
        }
        0x07 => {
            let _ = write!(out, "{}", le_uint(get(b, 0, 4)?) as u32 as i32);
        }
        0x08 => {
            let _ = write!(out, "{}", le_uint(get(b, 0, 4)?) as u32);
        }
        0x09 => {
            let _ = write!(out, "{}", le_uint(get(b, 0, 8)?) as i64);
        }
        0x0a => {
            let _ = write!(out, "{}", le_uint(get(b, 0, 8)?));
        }
        0x0b => {
            let f = f64::from_bits(le_uint(get(b, 0, 8)?));
            let _ = write!(out, "{f:?}");
        }
        0x0c => {
            let (n, used) = varlen(b)?;
            let s =
                std::str::from_utf8(get(b, used, n)?).map_err(|_| err("string is not UTF-8"))?;
            quote(s, out);
        }
        0x0f => opaque(b, out)?,
        _ => return Err(err(&format!("unknown value type {t}"))),
    }
    Ok(())
}

fn container(t: u8, b: &[u8], out: &mut String, depth: usize) -> Result<(), String> {
    let large = t == 0x01 || t == 0x03;
    let is_obj = t <= 0x01;
    let w = if large { 4 } else { 2 };
    let count = le_uint(get(b, 0, w)?) as usize;
    let size = le_uint(get(b, w, w)?) as usize;
    let b = get(b, 0, size)?;
    let key_entry = if large { 6 } else { 4 };
    let val_entry = 1 + w;
    let keys_at = 2 * w;
    let vals_at = keys_at + if is_obj { count * key_entry } else { 0 };
    out.push(if is_obj { '{' } else { '[' });
    for i in 0..count {
        if i > 0 {
            out.push(',');
        }
        if is_obj {
            let e = keys_at + i * key_entry;
            let off = le_uint(get(b, e, w)?) as usize;
            let len = le_uint(get(b, e + w, 2)?) as usize;
            let k = std::str::from_utf8(get(b, off, len)?).map_err(|_| err("key is not UTF-8"))?;
            quote(k, out);
            out.push(':');
        }
        let e = vals_at + i * val_entry;
        let vt = *get(b, e, 1)?.first().unwrap_or(&0);
        let inline = matches!(vt, 0x04..=0x06) || (large && matches!(vt, 0x07 | 0x08));
        if inline {
            value(vt, get(b, e + 1, w)?, out, depth + 1)?;
        } else {
            let off = le_uint(get(b, e + 1, w)?) as usize;
            let inner = b
                .get(off..)
                .ok_or_else(|| err("value offset out of bounds"))?;
            value(vt, inner, out, depth + 1)?;
        }
    }
    out.push(if is_obj { '}' } else { ']' });
    Ok(())
}

fn opaque(b: &[u8], out: &mut String) -> Result<(), String> {
    use std::fmt::Write;
    let ft = *b.first().ok_or_else(|| err("truncated opaque"))?;
    let (n, used) = varlen(&b[1..])?;
    let data = get(b, 1 + used, n)?;
    match ft {
        246 if data.len() >= 2 => {
            let (p, s) = (data[0], data[1]);
            let (unscaled, _) = super::decimal::decode_decimal(&data[2..], p, s)?;
            out.push_str(&to_plain_string(&unscaled, s as i32));
        }
        10 | 12 | 7 | 11 if data.len() >= 8 => {
            // Packed temporal: int64 of (ymd-hms << 24 | micros).
            let v = le_uint(&data[..8]) as i64;
            let (neg, v) = (v < 0, v.abs());
            let micros = v & 0xff_ffff;
            let int = v >> 24;
            let ymd = int >> 17;
            let ym = ymd >> 5;
            let hms = int & 0x1ffff;
            let (h, mi, s) = (hms >> 12, (hms >> 6) & 63, hms & 63);
            let mut t = String::new();
            if ft == 11 {
                let _ = write!(
                    t,
                    "{}{:02}:{:02}:{:02}",
                    if neg { "-" } else { "" },
                    h,
                    mi,
                    s
                );
            } else {
                let _ = write!(t, "{:04}-{:02}-{:02}", ym / 13, ym % 13, ymd & 31);
                if ft != 10 {
                    let _ = write!(t, " {h:02}:{mi:02}:{s:02}");
                }
            }
            if ft != 10 && micros != 0 {
                let _ = write!(t, ".{micros:06}");
            }
            quote(&t, out);
        }
        _ => {
            // Other opaque values (BLOB, BIT, GEOMETRY): base64, as MySQL
            // prints "base64:type<N>:<data>".
            let mut s = format!("base64:type{ft}:");
            s.push_str(&base64(data));
            quote(&s, out);
        }
    }
    Ok(())
}

fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn quote(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(to_json_text(&[0x04, 1]).unwrap(), "true");
        assert_eq!(to_json_text(&[0x05, 0xff, 0xff]).unwrap(), "-1");
        assert_eq!(
            to_json_text(&[0x0c, 3, b'a', b'"', b'b']).unwrap(),
            "\"a\\\"b\""
        );
        assert!(to_json_text(&[0x0c, 9, b'a']).is_err());
    }

    #[test]
    fn small_object_with_inline_and_nested_values() {
        // {"a": 1, "b": "xy"}: count 2, keys at 4.., values after.
        let mut b = vec![0x00];
        let body_start = b.len();
        b.extend_from_slice(&[2, 0, 0, 0]); // count, size (patched)
        b.extend_from_slice(&[18, 0, 1, 0, 19, 0, 1, 0]); // key entries
        b.extend_from_slice(&[0x05, 1, 0, 0x0c, 20, 0]); // value entries
        b.extend_from_slice(b"ab");
        b.extend_from_slice(&[2, b'x', b'y']);
        let size = (b.len() - body_start) as u8;
        b[body_start + 2] = size;
        assert_eq!(to_json_text(&b).unwrap(), r#"{"a":1,"b":"xy"}"#);
        // Corrupt offsets are errors.
        let mut bad = b.clone();
        bad[body_start + 4] = 200;
        assert!(to_json_text(&bad).is_err());
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
    }

    /// MySQL's binary JSON, written from its documented layout (a type
    /// byte; containers as count, size, key entries, value entries with
    /// small scalars inlined, then keys and values at offsets from the
    /// container's start), in the small (16-bit) or large (32-bit) form:
    /// shapes no server on this machine writes (MariaDB stores JSON as text).
    fn encode(v: &serde_json::Value, large: bool) -> Vec<u8> {
        let (t, body) = enc(v, large);
        let mut out = vec![t];
        out.extend_from_slice(&body);
        out
    }

    fn put(b: &mut [u8], at: usize, n: usize, w: usize) {
        b[at..at + w].copy_from_slice(&(n as u64).to_le_bytes()[..w]);
    }

    fn enc(v: &serde_json::Value, large: bool) -> (u8, Vec<u8>) {
        use serde_json::Value as J;
        match v {
            J::Null => (0x04, vec![0]),
            J::Bool(true) => (0x04, vec![1]),
            J::Bool(false) => (0x04, vec![2]),
            J::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) if i16::try_from(i).is_ok() => {
                    (0x05, (i as i16).to_le_bytes().to_vec())
                }
                (Some(i), _) if i32::try_from(i).is_ok() => {
                    (0x07, (i as i32).to_le_bytes().to_vec())
                }
                (Some(i), _) => (0x09, i.to_le_bytes().to_vec()),
                (None, Some(u)) => (0x0a, u.to_le_bytes().to_vec()),
                _ => (0x0b, n.as_f64().unwrap().to_bits().to_le_bytes().to_vec()),
            },
            J::String(s) => {
                let mut b = Vec::new();
                let mut n = s.len();
                loop {
                    let x = (n & 0x7f) as u8;
                    n >>= 7;
                    b.push(if n > 0 { x | 0x80 } else { x });
                    if n == 0 {
                        break;
                    }
                }
                b.extend_from_slice(s.as_bytes());
                (0x0c, b)
            }
            J::Array(items) => container(items.iter().map(|v| (None, v)).collect(), false, large),
            J::Object(m) => container(
                m.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
                true,
                large,
            ),
        }
    }

    fn container(
        entries: Vec<(Option<&str>, &serde_json::Value)>,
        obj: bool,
        large: bool,
    ) -> (u8, Vec<u8>) {
        let w = if large { 4 } else { 2 };
        let n = entries.len();
        let keys_at = 2 * w;
        let vals_at = keys_at + if obj { n * (w + 2) } else { 0 };
        let header = vals_at + n * (1 + w);
        let mut body = vec![0u8; header];
        put(&mut body, 0, n, w);
        for (i, (k, _)) in entries.iter().enumerate() {
            if let Some(k) = k {
                let off = body.len();
                body.extend_from_slice(k.as_bytes());
                put(&mut body, keys_at + i * (w + 2), off, w);
                put(&mut body, keys_at + i * (w + 2) + w, k.len(), 2);
            }
        }
        for (i, (_, v)) in entries.iter().enumerate() {
            let (t, vb) = enc(v, large);
            let e = vals_at + i * (1 + w);
            body[e] = t;
            if matches!(t, 0x04..=0x06) || (large && matches!(t, 0x07 | 0x08)) {
                body[e + 1..e + 1 + vb.len()].copy_from_slice(&vb);
            } else {
                let off = body.len();
                body.extend_from_slice(&vb);
                put(&mut body, e + 1, off, w);
            }
        }
        let size = body.len();
        put(&mut body, w, size, w);
        let t = match (obj, large) {
            (true, false) => 0x00,
            (true, true) => 0x01,
            (false, false) => 0x02,
            (false, true) => 0x03,
        };
        (t, body)
    }

    #[test]
    fn documents_of_every_shape_decode_as_written_small_and_large() {
        let long = "x".repeat(300); // a two-byte length
        let doc = serde_json::json!({
            "i16": -32768, "i16max": 32767, "i32": -2147483648i64, "i32max": 2147483647,
            "i64": -9223372036854775808i64, "u64": 18446744073709551615u64,
            "pi": 3.25, "tiny": 1e-300, "t": true, "f": false, "n": null,
            "text": "quote \" backslash \\ tab \t ünïcødé €", "long": long,
            "empty_obj": {}, "empty_arr": [],
            "nested": {"a": [1, [2, [3, {"deep": "yes"}]]], "ключ": "значение"},
            "mixed": [null, true, 70000, -5, "s", 2.5, {"k": [false]}]
        });
        for large in [false, true] {
            let text = to_json_text(&encode(&doc, large)).unwrap();
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, doc, "large={large}: {text}");
        }
        // Over 64 KB: only the large form can address it.
        let big = serde_json::Value::Array(
            (0..5000)
                .map(|i| serde_json::json!({"id": i, "name": format!("item-{i:014}")}))
                .collect(),
        );
        let bytes = encode(&big, true);
        assert!(bytes.len() > 65_536, "{}", bytes.len());
        let back: serde_json::Value = serde_json::from_str(&to_json_text(&bytes).unwrap()).unwrap();
        assert_eq!(back, big);
        // Top-level scalars.
        for v in [
            serde_json::json!(null),
            serde_json::json!(-7),
            serde_json::json!("s"),
            serde_json::json!(1.5),
        ] {
            let back: serde_json::Value =
                serde_json::from_str(&to_json_text(&encode(&v, false)).unwrap()).unwrap();
            assert_eq!(back, v);
        }
    }
}
