//! The binlog's packed DECIMAL (MySQL's `decimal2bin`): groups of nine
//! digits in four big-endian bytes, a shorter leading and trailing group,
//! the sign in the first bit and negative values stored inverted. Read by
//! row events ([`super::rows`]) and by JSON documents' opaque decimals
//! ([`super::json_binary`]).

use sluice_api::data::decimal::{digits_to_unscaled, i128_to_bytes};

/// Bytes of a group of 0..=9 digits.
const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
const POW10: [i128; 10] = [
    1,
    10,
    100,
    1000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// MySQL's packed DECIMAL (decimal2bin) to unscaled big-endian
/// two's-complement bytes; returns them and the packed size.
pub fn decode_decimal(b: &[u8], precision: u8, scale: u8) -> Result<(Vec<u8>, usize), String> {
    let (p, s) = (precision as usize, scale as usize);
    let intg = p - s;
    let (intg0, intg0x, frac0, frac0x) = (intg / 9, intg % 9, s / 9, s % 9);
    let size = DIG2BYTES[intg0x] + intg0 * 4 + frac0 * 4 + DIG2BYTES[frac0x];
    if b.len() < size || size == 0 {
        return Err(format!(
            "truncated DECIMAL({p},{s}): needs {size} bytes, {} left",
            b.len()
        ));
    }
    let negative = b[0] & 0x80 == 0;
    let mask: u8 = if negative { 0xff } else { 0 };
    let byte = |i: usize| -> u8 {
        let x = if i == 0 { b[0] ^ 0x80 } else { b[i] };
        x ^ mask
    };
    let group = |from: usize, n: usize| -> u64 {
        let mut v = 0u64;
        for i in from..from + n {
            v = (v << 8) | byte(i) as u64;
        }
        v
    };
    // Groups in order: (value, digit count).
    let mut pos = 0;
    let mut groups: [(u64, usize); 10] = [(0, 0); 10];
    let mut ng = 0;
    let mut push = |v: u64, digits: usize| {
        groups[ng] = (v, digits);
        ng += 1;
    };
    if intg0x > 0 {
        push(group(0, DIG2BYTES[intg0x]), intg0x);
        pos += DIG2BYTES[intg0x];
    }
    for _ in 0..intg0 {
        push(group(pos, 4), 9);
        pos += 4;
    }
    for _ in 0..frac0 {
        push(group(pos, 4), 9);
        pos += 4;
    }
    if frac0x > 0 {
        push(group(pos, DIG2BYTES[frac0x]), frac0x);
    }
    let groups = &groups[..ng];
    for &(v, d) in groups {
        if v >= POW10[d] as u64 {
            return Err(format!(
                "DECIMAL({p},{s}) group {v} has more than {d} digits: corrupt value"
            ));
        }
    }
    if p <= 38 {
        let mut v: i128 = 0;
        for &(g, d) in groups {
            v = v * POW10[d] + g as i128;
        }
        return Ok((i128_to_bytes(if negative { -v } else { v }), size));
    }
    let mut digits = String::with_capacity(p + 9);
    for &(g, d) in groups {
        use std::fmt::Write;
        let _ = write!(digits, "{g:0d$}");
    }
    Ok((digits_to_unscaled(&digits, negative), size))
}
