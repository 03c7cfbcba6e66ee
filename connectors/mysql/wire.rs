//! Little readers over byte slices for the MySQL wire and binlog formats.
//!
//! Every read checks the remaining length first and returns
//! [`Truncated`] instead of panicking, so a short or corrupt packet becomes an
//! error that names what was being read, never an index panic. Readers borrow
//! the packet buffer: nothing here allocates.

use std::fmt;

/// A read ran past the end of its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    pub what: &'static str,
    pub needed: usize,
    pub available: usize,
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "truncated {}: needed {} bytes, {} left",
            self.what, self.needed, self.available
        )
    }
}

impl std::error::Error for Truncated {}

pub type WireResult<T> = Result<T, Truncated>;

/// A forward-only cursor over a byte slice.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Consumes and returns every unread byte.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let r = &self.buf[self.pos..];
        self.pos = self.buf.len();
        r
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> WireResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(Truncated {
                what,
                needed: n,
                available: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn skip(&mut self, n: usize, what: &'static str) -> WireResult<()> {
        self.take(n, what).map(|_| ())
    }

    pub fn u8(&mut self, what: &'static str) -> WireResult<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> WireResult<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u24(&mut self, what: &'static str) -> WireResult<u32> {
        let b = self.take(3, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }

    pub fn u32(&mut self, what: &'static str) -> WireResult<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &'static str) -> WireResult<u64> {
        let b = self.take(8, what)?;
        Ok(le_uint(b))
    }

    /// A little-endian unsigned integer of `n` (<= 8) bytes.
    pub fn uint_n(&mut self, n: usize, what: &'static str) -> WireResult<u64> {
        Ok(le_uint(self.take(n, what)?))
    }

    /// A length-encoded integer; `None` for the NULL marker (0xfb).
    pub fn lenenc_opt(&mut self, what: &'static str) -> WireResult<Option<u64>> {
        Ok(Some(match self.u8(what)? {
            0xfb => return Ok(None),
            0xfc => self.u16(what)? as u64,
            0xfd => self.u24(what)? as u64,
            0xfe => self.u64(what)?,
            b => b as u64,
        }))
    }

    /// A length-encoded integer (NULL read as 0).
    pub fn lenenc(&mut self, what: &'static str) -> WireResult<u64> {
        Ok(self.lenenc_opt(what)?.unwrap_or(0))
    }

    /// A length-encoded string; `None` for NULL.
    pub fn lenenc_bytes_opt(&mut self, what: &'static str) -> WireResult<Option<&'a [u8]>> {
        match self.lenenc_opt(what)? {
            None => Ok(None),
            Some(n) => {
                let n = usize::try_from(n).map_err(|_| Truncated {
                    what,
                    needed: usize::MAX,
                    available: self.remaining(),
                })?;
                self.take(n, what).map(Some)
            }
        }
    }

    pub fn lenenc_bytes(&mut self, what: &'static str) -> WireResult<&'a [u8]> {
        Ok(self.lenenc_bytes_opt(what)?.unwrap_or(&[]))
    }

    /// Bytes up to (not including) a NUL, which is consumed.
    pub fn nul_terminated(&mut self, what: &'static str) -> WireResult<&'a [u8]> {
        match self.rest().iter().position(|&b| b == 0) {
            Some(i) => {
                let s = &self.buf[self.pos..self.pos + i];
                self.pos += i + 1;
                Ok(s)
            }
            None => Err(Truncated {
                what,
                needed: self.remaining() + 1,
                available: self.remaining(),
            }),
        }
    }
}

/// Little-endian unsigned integer of up to 8 bytes.
#[inline]
pub fn le_uint(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate().take(8) {
        v |= (x as u64) << (8 * i);
    }
    v
}

/// Big-endian unsigned integer of up to 8 bytes.
#[inline]
pub fn be_uint(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for &x in b.iter().take(8) {
        v = (v << 8) | x as u64;
    }
    v
}

/// Appends a length-encoded integer.
pub fn put_lenenc(out: &mut Vec<u8>, v: u64) {
    if v < 251 {
        out.push(v as u8);
    } else if v < 1 << 16 {
        out.push(0xfc);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v < 1 << 24 {
        out.push(0xfd);
        out.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
    } else {
        out.push(0xfe);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trip() {
        for v in [
            0u64,
            250,
            251,
            65535,
            65536,
            (1 << 24) - 1,
            1 << 24,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_lenenc(&mut b, v);
            let mut r = Reader::new(&b);
            assert_eq!(r.lenenc("v").unwrap(), v);
            assert!(r.is_empty());
        }
        assert_eq!(Reader::new(&[0xfb]).lenenc_opt("v").unwrap(), None);
    }

    #[test]
    fn short_reads_are_errors() {
        let mut r = Reader::new(&[1, 2]);
        let e = r.u32("header").unwrap_err();
        assert_eq!((e.needed, e.available), (4, 2));
        assert!(Reader::new(&[0xfc, 1]).lenenc("n").is_err());
        assert!(Reader::new(&[3, b'a']).lenenc_bytes("s").is_err());
        assert!(Reader::new(b"abc").nul_terminated("s").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(be_uint(&[1, 2, 3]), 0x010203);
        assert_eq!(le_uint(&[1, 2, 3]), 0x030201);
        let mut r = Reader::new(&[1, 0, 0, 0, 7]);
        assert_eq!(r.u32("x").unwrap(), 1);
        assert_eq!(r.u8("y").unwrap(), 7);
    }
}
