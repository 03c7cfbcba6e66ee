//! Kafka Connect's Decimal logical type: an unscaled integer as big-endian
//! two's-complement bytes, with the scale in the schema. MySQL's DECIMAL(65)
//! overflows i128, so the conversions work on arbitrary-length byte strings.

/// Minimal big-endian two's-complement bytes of an i128.
pub fn i128_to_bytes(v: i128) -> Vec<u8> {
    let full = v.to_be_bytes();
    let mut start = 0;
    while start < full.len() - 1 {
        let b = full[start];
        let next_sign = full[start + 1] & 0x80;
        if (b == 0x00 && next_sign == 0) || (b == 0xff && next_sign != 0) {
            start += 1;
        } else {
            break;
        }
    }
    full[start..].to_vec()
}

/// The i128 of big-endian two's-complement bytes, when it fits.
pub fn bytes_to_i128(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() {
        return Some(0);
    }
    if bytes.len() > 16 {
        // Longer encodings still fit when the extra bytes are only sign.
        let extra = bytes.len() - 16;
        let sign = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
        if bytes[..extra].iter().any(|&b| b != sign) || (bytes[extra] & 0x80 != 0) != (sign == 0xff)
        {
            return None;
        }
        return bytes_to_i128(&bytes[extra..]);
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
    let mut buf = [fill; 16];
    buf[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(buf))
}

/// Decimal digits of the unscaled value (with a leading '-' when negative).
pub fn unscaled_to_digits(bytes: &[u8]) -> String {
    if let Some(v) = bytes_to_i128(bytes) {
        return v.to_string();
    }
    let negative = bytes[0] & 0x80 != 0;
    // Magnitude as big-endian unsigned bytes.
    let mut mag: Vec<u8> = if negative {
        let mut m: Vec<u8> = bytes.iter().map(|b| !b).collect();
        // +1
        for b in m.iter_mut().rev() {
            let (r, carry) = b.overflowing_add(1);
            *b = r;
            if !carry {
                break;
            }
        }
        m
    } else {
        bytes.to_vec()
    };
    let mut digits = Vec::new();
    while mag.iter().any(|&b| b != 0) {
        let mut rem: u32 = 0;
        for b in mag.iter_mut() {
            let cur = (rem << 8) | *b as u32;
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    if negative {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).expect("ascii digits")
}

/// Plain decimal text (`-12.340`) of an unscaled value and scale.
pub fn to_plain_string(bytes: &[u8], scale: i32) -> String {
    let digits = unscaled_to_digits(bytes);
    let (neg, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, digits),
    };
    let mut out = String::with_capacity(digits.len() + 3);
    if neg {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(&digits);
        for _ in 0..(-scale) {
            out.push('0');
        }
        if out == "-0" {
            out.remove(0);
        }
        return out;
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        out.push_str("0.");
        for _ in 0..(scale - digits.len()) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Parses decimal text (`-12.340`, `1e3`) into unscaled bytes and its scale.
pub fn parse(text: &str) -> Option<(Vec<u8>, i32)> {
    let text = text.trim();
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (neg, body) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int, frac) = match body.find('.') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = format!("{int}{frac}");
    let scale = i32::try_from(frac.len()).ok()?.checked_sub(exp)?;
    Some((digits_to_unscaled(&digits, neg), scale))
}

/// Big-endian two's-complement bytes of a decimal digit string.
pub fn digits_to_unscaled(digits: &str, negative: bool) -> Vec<u8> {
    if digits.len() <= 38 {
        let v: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().unwrap_or(0)
        };
        return i128_to_bytes(if negative { -v } else { v });
    }
    // Magnitude in base 256, little-endian while building.
    let mut mag: Vec<u8> = vec![0];
    for d in digits.bytes() {
        let mut carry = (d - b'0') as u32;
        for b in mag.iter_mut() {
            let cur = *b as u32 * 10 + carry;
            *b = (cur & 0xff) as u8;
            carry = cur >> 8;
        }
        while carry > 0 {
            mag.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    mag.push(0); // room for the sign bit
    if negative {
        for b in mag.iter_mut() {
            *b = !*b;
        }
        for b in mag.iter_mut() {
            let (r, c) = b.overflowing_add(1);
            *b = r;
            if !c {
                break;
            }
        }
    }
    mag.reverse();
    // Trim redundant sign bytes.
    let mut start = 0;
    while start + 1 < mag.len() {
        let (b, next) = (mag[start], mag[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    mag[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i128_round_trip_minimal() {
        for v in [
            0i128,
            1,
            -1,
            127,
            128,
            -128,
            -129,
            255,
            256,
            i64::MAX as i128,
            i128::MIN,
        ] {
            let b = i128_to_bytes(v);
            assert_eq!(bytes_to_i128(&b), Some(v), "{v}");
        }
        assert_eq!(i128_to_bytes(128), vec![0x00, 0x80]);
        assert_eq!(i128_to_bytes(-128), vec![0x80]);
    }

    #[test]
    fn text_round_trip_beyond_i128() {
        for s in [
            "0.00",
            "-12.340",
            "12345678901234567890123456789012345678901234567890.123456789012345",
            "-99999999999999999999999999999999999999999999999999999999999999999",
            "0.000000000000000000000000000000000000000000000000000000000000001",
        ] {
            let (bytes, scale) = parse(s).unwrap();
            assert_eq!(to_plain_string(&bytes, scale), s, "{s}");
        }
    }

    #[test]
    fn exponent_and_negative_scale() {
        let (b, s) = parse("1.5e3").unwrap();
        assert_eq!((to_plain_string(&b, s), s), ("1500".to_string(), -2));
        assert!(parse("abc").is_none());
        assert!(parse("1e-2147483648").is_none());
        assert!(parse("").is_none());
    }
}
