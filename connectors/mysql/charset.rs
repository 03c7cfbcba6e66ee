//! Text decoding by column charset.
//!
//! MySQL's `latin1` is Windows-1252, except that the five bytes cp1252
//! leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to the C1 controls
//! of the same code point, so every byte has exactly one character and the
//! mapping is lossless. UTF-8 charsets (utf8mb3 is a subset of utf8mb4) are
//! validated, not trusted. The other single- and multi-byte charsets of
//! MySQL and MariaDB that have an exact WHATWG counterpart (latin2, the
//! Windows code pages, KOI8, GBK/GB18030, Big5, EUC-JP, Shift-JIS/cp932,
//! EUC-KR, UTF-16/UCS-2, ...) are decoded by encoding_rs, strictly
//! (malformed bytes are an error, never a replacement character), and
//! UTF-32 by hand. Any other charset is an explicit error when its bytes
//! are not plain UTF-8, rather than a silently mangled string.

use std::borrow::Cow;
use std::sync::Arc;

use encoding_rs::Encoding;

/// How a text column's bytes become a Rust string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Latin1,
    /// The `binary` charset: the column is bytes, not text.
    Binary,
    /// A charset with an exact WHATWG encoding: (MySQL name, encoding).
    Encoded(&'static str, &'static Encoding),
    /// utf32: big-endian code points, four bytes each.
    Utf32,
    /// A charset Sluice cannot decode yet (name kept for the error).
    Other(String),
}

impl Charset {
    /// From a charset name as information_schema reports it.
    pub fn from_name(name: &str) -> Charset {
        match name.to_ascii_lowercase().as_str() {
            "utf8mb4" | "utf8mb3" | "utf8" | "ascii" => Charset::Utf8,
            "latin1" => Charset::Latin1,
            "binary" => Charset::Binary,
            "utf32" => Charset::Utf32,
            other => match encoding_of(other) {
                Some((name, e)) => Charset::Encoded(name, e),
                None => Charset::Other(other.to_string()),
            },
        }
    }

    /// From a collation id, for the common ones (the table map gives ids;
    /// the full table comes from information_schema.COLLATIONS).
    pub fn from_collation_id(id: u32) -> Option<Charset> {
        Some(match id {
            63 => Charset::Binary,
            5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 => Charset::Latin1,
            11 | 65 | 33 | 83 | 45 | 46 | 192..=215 | 223..=247 | 255..=309 => Charset::Utf8,
            _ => return None,
        })
    }

    /// Decodes `b` into a shared string (one allocation when the bytes
    /// are already UTF-8 text: ASCII, utf8mb4, ...); `Err` names the
    /// charset when the bytes are not valid.
    pub fn decode(&self, b: &[u8]) -> Result<Arc<str>, String> {
        let text: Cow<'_, str> = match self {
            Charset::Latin1 => match std::str::from_utf8(b) {
                Ok(s) if b.is_ascii() => Cow::Borrowed(s),
                _ => Cow::Owned(latin1(b)),
            },
            Charset::Utf8 | Charset::Binary => match std::str::from_utf8(b) {
                Ok(s) => Cow::Borrowed(s),
                Err(e) => return Err(format!("invalid UTF-8 at byte {}", e.valid_up_to())),
            },
            Charset::Encoded(name, e) => {
                e.decode_without_bom_handling_and_without_replacement(b)
                    .ok_or_else(|| format!("bytes that are not valid {name}"))?
            }
            Charset::Utf32 => Cow::Owned(utf32(b)?),
            Charset::Other(name) => match std::str::from_utf8(b) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => return Err(format!("charset {name} is not supported yet")),
            },
        };
        Ok(match text {
            Cow::Borrowed(s) => Arc::from(s),
            Cow::Owned(s) => Arc::from(s),
        })
    }
}

/// The WHATWG encoding that decodes a MySQL/MariaDB charset exactly.
/// latin5 (ISO-8859-9) is left out: WHATWG reads it as windows-1254.
fn encoding_of(name: &str) -> Option<(&'static str, &'static Encoding)> {
    use encoding_rs::*;
    Some(match name {
        "latin2" => ("latin2", ISO_8859_2),
        "latin7" => ("latin7", ISO_8859_13),
        "greek" => ("greek", ISO_8859_7),
        "hebrew" => ("hebrew", ISO_8859_8),
        "cp1250" => ("cp1250", WINDOWS_1250),
        "cp1251" => ("cp1251", WINDOWS_1251),
        "cp1256" => ("cp1256", WINDOWS_1256),
        "cp1257" => ("cp1257", WINDOWS_1257),
        "cp866" => ("cp866", IBM866),
        "koi8r" => ("koi8r", KOI8_R),
        "koi8u" => ("koi8u", KOI8_U),
        "macroman" => ("macroman", MACINTOSH),
        "tis620" => ("tis620", WINDOWS_874),
        "gbk" => ("gbk", GBK),
        "gb2312" => ("gb2312", GBK),
        "gb18030" => ("gb18030", GB18030),
        "big5" => ("big5", BIG5),
        "ujis" => ("ujis", EUC_JP),
        "eucjpms" => ("eucjpms", EUC_JP),
        "sjis" => ("sjis", SHIFT_JIS),
        "cp932" => ("cp932", SHIFT_JIS),
        "euckr" => ("euckr", EUC_KR),
        "utf16" => ("utf16", UTF_16BE),
        "ucs2" => ("ucs2", UTF_16BE),
        "utf16le" => ("utf16le", UTF_16LE),
        _ => return None,
    })
}

/// UTF-32BE, validated (no surrogates, nothing past U+10FFFF).
fn utf32(b: &[u8]) -> Result<String, String> {
    if !b.len().is_multiple_of(4) {
        return Err(format!("{} bytes are not whole utf32 characters", b.len()));
    }
    b.chunks_exact(4)
        .map(|c| {
            let cp = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            char::from_u32(cp).ok_or_else(|| format!("U+{cp:X} is not a utf32 character"))
        })
        .collect()
}

/// cp1252's 0x80..0x9F, with MySQL's C1 fallbacks for the undefined five.
const HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

/// MySQL latin1 (cp1252) to a String.
pub fn latin1(b: &[u8]) -> String {
    if b.is_ascii() {
        // SAFETY-free fast path: ASCII is UTF-8.
        return String::from_utf8(b.to_vec()).unwrap_or_default();
    }
    let mut s = String::with_capacity(b.len() + b.len() / 2);
    for &c in b {
        s.push(match c {
            0x80..=0x9f => HIGH[(c - 0x80) as usize],
            _ => c as char,
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_mysqls_cp1252() {
        assert_eq!(latin1(b"abc"), "abc");
        assert_eq!(latin1(&[0x80, 0xe9, 0x81, 0x9f, 0xff]), "€é\u{81}Ÿÿ");
        // Every byte maps to exactly one char: no loss.
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(latin1(&all).chars().count(), 256);
    }

    #[test]
    fn utf8_is_validated() {
        assert_eq!(
            Charset::Utf8.decode("ü😀".as_bytes()).unwrap().as_ref(),
            "ü😀"
        );
        assert!(Charset::Utf8.decode(&[0xff, 0x41]).is_err());
        assert!(Charset::Other("swe7".into())
            .decode(&[0xc4, 0xe3])
            .unwrap_err()
            .contains("swe7"));
        assert_eq!(Charset::from_name("UTF8MB4"), Charset::Utf8);
        assert_eq!(Charset::from_collation_id(8), Some(Charset::Latin1));
    }

    #[test]
    fn other_charsets_decode_exactly_or_fail() {
        let d = |name: &str, b: &[u8]| Charset::from_name(name).decode(b);
        assert_eq!(
            d("gbk", &[0xc4, 0xe3, 0xba, 0xc3]).unwrap().as_ref(),
            "你好"
        );
        assert_eq!(d("cp1251", &[0xcf, 0xf0, 0xe8]).unwrap().as_ref(), "При");
        assert_eq!(d("koi8r", &[0xf0, 0xd2, 0xc9]).unwrap().as_ref(), "При");
        assert_eq!(d("sjis", &[0x82, 0xa0]).unwrap().as_ref(), "あ");
        assert_eq!(
            d("utf16", &[0xd8, 0x3d, 0xde, 0x00]).unwrap().as_ref(),
            "😀"
        );
        assert_eq!(
            d("utf16le", &[0x3d, 0xd8, 0x00, 0xde]).unwrap().as_ref(),
            "😀"
        );
        assert_eq!(
            d("utf32", &[0, 1, 0xf6, 0, 0, 0, 0, 0x41])
                .unwrap()
                .as_ref(),
            "😀A"
        );
        // Malformed: an error naming the charset, never U+FFFD.
        assert!(d("gbk", &[0x81]).unwrap_err().contains("gbk"));
        assert!(d("utf16", &[0xd8, 0x3d]).unwrap_err().contains("utf16"));
        assert!(d("utf32", &[0, 0x11, 0, 0]).is_err());
        assert!(d("utf32", &[0, 0, 0]).is_err());
    }
}
