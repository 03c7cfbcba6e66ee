//! Streaming JSON writer for Kafka Connect values and schemas.
//!
//! Writes straight into the caller's buffer, with no intermediate tree, the
//! same bytes Kafka Connect's `JsonConverter` (Jackson, compact) writes:
//! - schemas as `{"type":..,[fields|items|keys,values],"optional":..,
//!   "name":..,"version":..,"doc":..,"parameters":{..},"default":..}`, and a
//!   struct field's schema with `"field":"<name>"` last;
//! - strings escaped as Jackson does (`\"`, `\\`, `\b \t \n \f \r`, other
//!   control characters as `\u00XX` upper-case, everything else raw UTF-8);
//! - floats with Java's `toString`, NaN and infinities as quoted strings;
//! - bytes as standard padded base64; decimals as base64 of the minimal
//!   unscaled two's-complement bytes, or `BigDecimal.toString()` numbers;
//! - a null with a default writes the default when `replace.null.with.default`
//!   is on, a required null without default is an error naming the field.

use base64::Engine as _;
use sluice_api::data::{names, Schema, SchemaType, Value};

use sluice_api::java_text::{write_big_decimal, write_f32, write_f64, write_i64};

/// An encoding failure, with the field path filled in while unwinding.
#[derive(Debug)]
pub(crate) struct EncodeError {
    path: Vec<String>,
    msg: String,
}

impl EncodeError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        EncodeError {
            path: Vec::new(),
            msg: msg.into(),
        }
    }
    fn within(mut self, field: &str) -> Self {
        self.path.push(field.to_string());
        self
    }
    pub(crate) fn message(&self) -> String {
        if self.path.is_empty() {
            self.msg.clone()
        } else {
            let path: Vec<&str> = self.path.iter().rev().map(String::as_str).collect();
            format!("field {}: {}", path.join("."), self.msg)
        }
    }
}

type Result<T> = std::result::Result<T, EncodeError>;

/// What to emit: Kafka Connect's `decimal.format` and
/// `replace.null.with.default`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Encoder {
    pub decimal_numeric: bool,
    pub replace_null_with_default: bool,
}

const ESC: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Whether any of the 8 bytes of `x` must be escaped: a control character
/// (< 0x20), `"` or `\\` (word-at-a-time, no false negatives; a false
/// positive only sends the chunk through the byte loop).
#[inline]
fn needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    (below_space | zero_in(x ^ (ONES * b'"' as u64)) | zero_in(x ^ (ONES * b'\\' as u64))) != 0
}

/// Appends `s` as a quoted, escaped JSON string.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings need no escape: check 8 bytes at a time and copy whole.
    let mut clean = 0;
    while clean + 8 <= bytes.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[clean..clean + 8]);
        if needs_escape(u64::from_le_bytes(w)) {
            break;
        }
        clean += 8;
    }
    while clean < bytes.len() && ESC[bytes[clean] as usize] == 0 {
        clean += 1;
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if clean == bytes.len() {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let e = ESC[b as usize];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if e == b'u' {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.push(b'\\');
            out.push(e);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends bytes as a quoted base64 string.
pub(crate) fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let engine = &base64::engine::general_purpose::STANDARD;
    out.push(b'"');
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    let written = engine.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

fn write_float_json(out: &mut Vec<u8>, finite: bool, write: impl FnOnce(&mut Vec<u8>)) {
    // Jackson quotes NaN and the infinities (QUOTE_NON_NUMERIC_NUMBERS).
    if !finite {
        out.push(b'"');
    }
    write(out);
    if !finite {
        out.push(b'"');
    }
}

/// Drops redundant leading sign bytes, as `BigInteger.toByteArray` has none.
pub(crate) fn minimal_twos_complement(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    while start + 1 < bytes.len() {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    if bytes.is_empty() {
        &[0]
    } else {
        &bytes[start..]
    }
}

/// The `scale` parameter of a Decimal schema.
pub(crate) fn decimal_scale(schema: &Schema) -> std::result::Result<i32, String> {
    schema
        .parameter(names::DECIMAL_SCALE)
        .ok_or_else(|| "Invalid Decimal schema: scale parameter not found.".to_string())?
        .trim()
        .parse()
        .map_err(|_| "Invalid Decimal schema: scale parameter is not an integer.".to_string())
}

fn is_decimal(schema: &Schema) -> bool {
    schema.kind == SchemaType::Bytes && schema.name.as_deref() == Some(names::DECIMAL)
}

impl Encoder {
    /// Appends Kafka Connect's JSON form of a schema.
    pub(crate) fn write_schema(&self, out: &mut Vec<u8>, schema: &Schema) -> Result<()> {
        self.write_schema_inner(out, schema, None)
    }

    fn write_schema_inner(
        &self,
        out: &mut Vec<u8>,
        schema: &Schema,
        field: Option<&str>,
    ) -> Result<()> {
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(schema.kind.json_name().as_bytes());
        out.push(b'"');
        match schema.kind {
            SchemaType::Struct => {
                out.extend_from_slice(b",\"fields\":[");
                for (i, f) in schema.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write_schema_inner(out, &f.schema, Some(&f.name))
                        .map_err(|e| e.within(&f.name))?;
                }
                out.push(b']');
            }
            SchemaType::Array => {
                out.extend_from_slice(b",\"items\":");
                self.write_opt_schema(out, schema.value_schema.as_deref())?;
            }
            SchemaType::Map => {
                out.extend_from_slice(b",\"keys\":");
                self.write_opt_schema(out, schema.key_schema.as_deref())?;
                out.extend_from_slice(b",\"values\":");
                self.write_opt_schema(out, schema.value_schema.as_deref())?;
            }
            _ => {}
        }
        out.extend_from_slice(if schema.optional {
            b",\"optional\":true"
        } else {
            b",\"optional\":false"
        });
        if let Some(name) = &schema.name {
            out.extend_from_slice(b",\"name\":");
            write_str(out, name);
        }
        if let Some(v) = schema.version {
            out.extend_from_slice(b",\"version\":");
            write_i64(out, v as i64);
        }
        if let Some(doc) = &schema.doc {
            out.extend_from_slice(b",\"doc\":");
            write_str(out, doc);
        }
        if !schema.parameters.is_empty() {
            out.extend_from_slice(b",\"parameters\":{");
            // Kafka Connect keeps insertion order; our map is sorted. The
            // Decimal scale is always set first (Decimal.builder), so keep
            // it first to match what Kafka Connect and Debezium write.
            let scale_first = is_decimal(schema);
            let mut first = true;
            let mut param = |out: &mut Vec<u8>, k: &str, v: &str| {
                if !first {
                    out.push(b',');
                }
                first = false;
                write_str(out, k);
                out.push(b':');
                write_str(out, v);
            };
            if scale_first {
                if let Some(v) = schema.parameter(names::DECIMAL_SCALE) {
                    param(out, names::DECIMAL_SCALE, v);
                }
            }
            for (k, v) in &schema.parameters {
                if !(scale_first && k == names::DECIMAL_SCALE) {
                    param(out, k, v);
                }
            }
            out.push(b'}');
        }
        if let Some(default) = &schema.default {
            if !default.is_null() {
                out.extend_from_slice(b",\"default\":");
                self.write_value(out, schema, default)
                    .map_err(|e| EncodeError::new(format!("default value: {}", e.message())))?;
            }
        }
        if let Some(name) = field {
            out.extend_from_slice(b",\"field\":");
            write_str(out, name);
        }
        out.push(b'}');
        Ok(())
    }

    fn write_opt_schema(&self, out: &mut Vec<u8>, schema: Option<&Schema>) -> Result<()> {
        match schema {
            Some(s) => self.write_schema(out, s),
            None => {
                out.extend_from_slice(b"null");
                Ok(())
            }
        }
    }

    /// Appends a value as its schema says; `None` infers from the value.
    pub(crate) fn write(
        &self,
        out: &mut Vec<u8>,
        schema: Option<&Schema>,
        v: &Value,
    ) -> Result<()> {
        match schema {
            Some(s) => self.write_value(out, s, v),
            None => self.write_schemaless(out, v),
        }
    }

    fn write_value(&self, out: &mut Vec<u8>, schema: &Schema, value: &Value) -> Result<()> {
        if value.is_null() {
            if self.replace_null_with_default {
                if let Some(d) = schema.default.as_ref().filter(|d| !d.is_null()) {
                    return self.write_value(out, schema, d);
                }
            }
            if schema.optional {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            return Err(EncodeError::new(
                "Conversion error: null value for field that is required and has no default value",
            ));
        }
        match (schema.kind, value) {
            (SchemaType::Boolean, Value::Boolean(b)) => {
                out.extend_from_slice(if *b { b"true" } else { b"false" })
            }
            (SchemaType::Int8, Value::Int8(v)) => write_i64(out, *v as i64),
            (SchemaType::Int16, Value::Int16(v)) => write_i64(out, *v as i64),
            (SchemaType::Int32, Value::Int32(v)) => write_i64(out, *v as i64),
            (SchemaType::Int64, Value::Int64(v)) => write_i64(out, *v),
            (SchemaType::Float32, Value::Float32(v)) => {
                write_float_json(out, v.is_finite(), |o| write_f32(o, *v))
            }
            (SchemaType::Float64, Value::Float64(v)) => {
                write_float_json(out, v.is_finite(), |o| write_f64(o, *v))
            }
            (SchemaType::String, Value::String(s)) => write_str(out, s),
            (SchemaType::Bytes, Value::Bytes(b)) => {
                if is_decimal(schema) {
                    let bytes = minimal_twos_complement(b);
                    if self.decimal_numeric {
                        let scale = decimal_scale(schema).map_err(EncodeError::new)?;
                        write_big_decimal(out, bytes, scale);
                    } else {
                        write_base64(out, bytes);
                    }
                } else {
                    write_base64(out, b);
                }
            }
            (SchemaType::Array, Value::Array(items)) => {
                let elem = schema.value_schema.as_deref();
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write(out, elem, item)
                        .map_err(|e| e.within(&format!("[{i}]")))?;
                }
                out.push(b']');
            }
            (SchemaType::Map, Value::Map(entries)) => {
                let object_mode = schema
                    .key_schema
                    .as_ref()
                    .is_none_or(|k| k.kind == SchemaType::String);
                self.write_map(
                    out,
                    object_mode,
                    schema.key_schema.as_deref(),
                    schema.value_schema.as_deref(),
                    entries,
                )?;
            }
            (SchemaType::Struct, Value::Struct(s)) => {
                if !std::ptr::eq(&*s.schema, schema) && *s.schema != *schema {
                    return Err(EncodeError::new(format!(
                        "Mismatching schema: the struct's schema ({}) is not the schema it is written with ({})",
                        s.schema.name().unwrap_or("unnamed"),
                        schema.name().unwrap_or("unnamed")
                    )));
                }
                self.write_struct_fields(out, schema, &s.values)?;
            }
            (kind, v) => {
                return Err(EncodeError::new(format!(
                    "Invalid type for {kind}: a {} value",
                    v.type_name()
                )))
            }
        }
        Ok(())
    }

    fn write_struct_fields(
        &self,
        out: &mut Vec<u8>,
        schema: &Schema,
        values: &[Value],
    ) -> Result<()> {
        out.push(b'{');
        for (i, f) in schema.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, &f.name);
            out.push(b':');
            let v = values.get(f.index).unwrap_or(&Value::Null);
            self.write_value(out, &f.schema, v)
                .map_err(|e| e.within(&f.name))?;
        }
        out.push(b'}');
        Ok(())
    }

    fn write_map(
        &self,
        out: &mut Vec<u8>,
        object_mode: bool,
        key_schema: Option<&Schema>,
        value_schema: Option<&Schema>,
        entries: &[(Value, Value)],
    ) -> Result<()> {
        out.push(if object_mode { b'{' } else { b'[' });
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if object_mode {
                match k {
                    Value::String(k) => write_str(out, k),
                    other => {
                        return Err(EncodeError::new(format!(
                            "a map with string keys has a {} key",
                            other.type_name()
                        )))
                    }
                }
                out.push(b':');
                self.write(out, value_schema, v)
                    .map_err(|e| e.within(&format!("<value of {}>", k.as_str().unwrap_or(""))))?;
            } else {
                out.push(b'[');
                self.write(out, key_schema, k)
                    .map_err(|e| e.within("<key>"))?;
                out.push(b',');
                self.write(out, value_schema, v)
                    .map_err(|e| e.within("<value>"))?;
                out.push(b']');
            }
        }
        out.push(if object_mode { b'}' } else { b']' });
        Ok(())
    }

    /// Values without a schema: natural JSON (maps with only string keys
    /// as objects, other maps as arrays of `[key, value]` pairs).
    fn write_schemaless(&self, out: &mut Vec<u8>, value: &Value) -> Result<()> {
        match value {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Int8(v) => write_i64(out, *v as i64),
            Value::Int16(v) => write_i64(out, *v as i64),
            Value::Int32(v) => write_i64(out, *v as i64),
            Value::Int64(v) => write_i64(out, *v),
            Value::Float32(v) => write_float_json(out, v.is_finite(), |o| write_f32(o, *v)),
            Value::Float64(v) => write_float_json(out, v.is_finite(), |o| write_f64(o, *v)),
            Value::String(s) => write_str(out, s),
            Value::Bytes(b) => write_base64(out, b),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write_schemaless(out, item)?;
                }
                out.push(b']');
            }
            Value::Map(entries) => {
                let object_mode = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
                self.write_map(out, object_mode, None, None, entries)?;
            }
            // Kafka Connect rejects a struct without a schema; the struct
            // carries its own, so write it with that.
            Value::Struct(s) => self.write_struct_fields(out, &s.schema, &s.values)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain byte-at-a-time escaper, to check the word-at-a-time one.
    fn reference(s: &str) -> Vec<u8> {
        let mut out = vec![b'"'];
        for &b in s.as_bytes() {
            match ESC[b as usize] {
                0 => out.push(b),
                b'u' => out.extend_from_slice(format!("\\u{:04X}", b).as_bytes()),
                e => out.extend_from_slice(&[b'\\', e]),
            }
        }
        out.push(b'"');
        out
    }

    #[test]
    fn strings_escape_like_jackson_wherever_the_special_byte_is() {
        let specials = [
            '"', '\\', '\n', '\u{1}', '\u{1f}', ' ', '~', 'é', '\u{7f}', '€',
        ];
        for len in 0..20 {
            for at in 0..len.max(1) {
                for &c in &specials {
                    let s: String = (0..len).map(|i| if i == at { c } else { 'a' }).collect();
                    let mut out = Vec::new();
                    write_str(&mut out, &s);
                    assert_eq!(out, reference(&s), "{s:?}");
                }
            }
        }
        let mut out = Vec::new();
        write_str(&mut out, "tab\there \"quoted\" back\\slash \u{0}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"tab\\there \\\"quoted\\\" back\\\\slash \\u0000\""
        );
    }
}
