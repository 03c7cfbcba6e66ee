//! Text decoding by column charset.
//!
//! MySQL's `latin1` is Windows-1252, except that the five bytes cp1252
//! leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to the C1 controls
//! of the same code point, so every byte has exactly one character and the
//! mapping is lossless. UTF-8 charsets (utf8mb3 is a subset of utf8mb4) are
//! validated, not trusted. Any other charset is an explicit error when its
//! bytes are not plain UTF-8, rather than a silently mangled string.

/// How a text column's bytes become a Rust string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Latin1,
    /// The `binary` charset: the column is bytes, not text.
    Binary,
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
            other => Charset::Other(other.to_string()),
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

    /// Decodes `b`; `Err` names the charset when the bytes are not valid.
    pub fn decode(&self, b: &[u8]) -> Result<String, String> {
        match self {
            Charset::Latin1 => Ok(latin1(b)),
            Charset::Utf8 | Charset::Binary => match std::str::from_utf8(b) {
                Ok(s) => Ok(s.to_owned()),
                Err(e) => Err(format!("invalid UTF-8 at byte {}", e.valid_up_to())),
            },
            Charset::Other(name) => match std::str::from_utf8(b) {
                Ok(s) => Ok(s.to_owned()),
                Err(_) => Err(format!("charset {name} is not supported yet")),
            },
        }
    }
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
        assert_eq!(Charset::Utf8.decode("ü😀".as_bytes()).unwrap(), "ü😀");
        assert!(Charset::Utf8.decode(&[0xff, 0x41]).is_err());
        assert!(Charset::Other("gbk".into())
            .decode(&[0xc4, 0xe3])
            .unwrap_err()
            .contains("gbk"));
        assert_eq!(Charset::from_name("UTF8MB4"), Charset::Utf8);
        assert_eq!(Charset::from_collation_id(8), Some(Charset::Latin1));
    }
}
