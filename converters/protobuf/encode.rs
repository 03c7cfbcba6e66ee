//! Connect values to protobuf wire bytes, straight into the output buffer.
//!
//! Nested messages are written in place: one byte is reserved for the
//! length, the body is written after it, and in the rare case the length
//! needs more than one varint byte the body is shifted right. The output is
//! canonical proto3: required scalars equal to their zero value are left
//! out (a reader gets the same zero back), optional ones are written
//! whenever they are not null.

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use sluice_api::data::{Schema, SchemaType, Value};

use crate::json_write::{decimal_scale, minimal_twos_complement};

use super::shape::{element_wrapped, explicit_presence, shape, Scalar, Shape};
use sluice_api::data::decimal;

type Result<T> = std::result::Result<T, String>;

/// Writes field `number` holding `value` of `schema`.
pub(crate) fn write_field(
    out: &mut Vec<u8>,
    number: u32,
    schema: &Schema,
    in_box: bool,
    value: &Value,
) -> Result<()> {
    let value = match value {
        Value::Null if schema.optional && !in_box => return Ok(()),
        Value::Null => schema
            .default
            .as_ref()
            .filter(|d| !d.is_null())
            .ok_or_else(|| {
                "a required field is null and its schema has no default; make the field optional \
             or give it a value"
                    .to_string()
            })?,
        v => v,
    };
    match shape(schema, in_box) {
        Shape::Scalar(scalar) => {
            if !explicit_presence(schema, in_box) && scalar != Scalar::Decimal && is_zero(value) {
                return Ok(());
            }
            encode_key(number, scalar.wire(), out);
            write_scalar(out, scalar, schema, value)
        }
        Shape::Struct => {
            let Value::Struct(s) = value else {
                return Err(mismatch(schema, value));
            };
            if s.values.len() != schema.fields.len() {
                return Err(format!(
                    "struct value has {} fields but its schema {} has {}",
                    s.values.len(),
                    schema.name().unwrap_or("(unnamed)"),
                    schema.fields.len()
                ));
            }
            nested(out, number, |out| {
                for (i, (f, v)) in schema.fields.iter().zip(&s.values).enumerate() {
                    write_field(out, i as u32 + 1, &f.schema, false, v)
                        .map_err(|e| format!("field {}: {e}", f.name))?;
                }
                Ok(())
            })
        }
        Shape::List(element) => {
            let Value::Array(items) = value else {
                return Err(mismatch(schema, value));
            };
            write_list(out, number, element, items)
        }
        Shape::Map(key, val) => {
            let Value::Map(entries) = value else {
                return Err(mismatch(schema, value));
            };
            for (k, v) in entries {
                nested(out, number, |out| {
                    write_field(out, 1, key, false, k).map_err(|e| format!("map key: {e}"))?;
                    write_field(out, 2, val, false, v).map_err(|e| format!("map value: {e}"))
                })?;
            }
            Ok(())
        }
        Shape::Boxed => nested(out, number, |out| write_field(out, 1, schema, true, value)),
    }
}

fn write_list(out: &mut Vec<u8>, number: u32, element: &Schema, items: &[Value]) -> Result<()> {
    if element_wrapped(element) {
        for v in items {
            nested(out, number, |out| write_field(out, 1, element, false, v))?;
        }
        return Ok(());
    }
    match Scalar::of(element) {
        Some(scalar) if scalar.packable() => {
            if items.is_empty() {
                return Ok(());
            }
            nested(out, number, |out| {
                items
                    .iter()
                    .try_for_each(|v| write_scalar(out, scalar, element, required(element, v)?))
            })
        }
        Some(scalar) => items.iter().try_for_each(|v| {
            encode_key(number, WireType::LengthDelimited, out);
            write_scalar(out, scalar, element, required(element, v)?)
        }),
        None => items.iter().try_for_each(|v| {
            // A required struct element: always written, even when empty.
            write_field(out, number, element, false, required(element, v)?)
        }),
    }
}

/// A non-null element value: nulls in a required element take the default.
fn required<'v>(schema: &'v Schema, v: &'v Value) -> Result<&'v Value> {
    match v {
        Value::Null => schema
            .default
            .as_ref()
            .filter(|d| !d.is_null())
            .ok_or_else(|| "an array element is null but the element schema is required".into()),
        v => Ok(v),
    }
}

fn write_scalar(out: &mut Vec<u8>, scalar: Scalar, schema: &Schema, value: &Value) -> Result<()> {
    match (scalar, schema.kind, value) {
        (Scalar::Int32, SchemaType::Int8, Value::Int8(i)) => encode_varint(*i as i64 as u64, out),
        (Scalar::Int32, SchemaType::Int16, Value::Int16(i)) => encode_varint(*i as i64 as u64, out),
        (Scalar::Int32, SchemaType::Int32, Value::Int32(i)) => encode_varint(*i as i64 as u64, out),
        (Scalar::Int64, _, Value::Int64(i)) => encode_varint(*i as u64, out),
        (Scalar::Float, _, Value::Float32(f)) => out.extend_from_slice(&f.to_bits().to_le_bytes()),
        (Scalar::Double, _, Value::Float64(f)) => out.extend_from_slice(&f.to_bits().to_le_bytes()),
        (Scalar::Bool, _, Value::Boolean(b)) => encode_varint(u64::from(*b), out),
        (Scalar::String, _, Value::String(s)) => write_bytes(out, s.as_bytes()),
        (Scalar::Bytes, _, Value::Bytes(b)) => write_bytes(out, b),
        (Scalar::Decimal, _, Value::Bytes(b)) => {
            let scale = decimal_scale(schema)?;
            let unscaled = minimal_twos_complement(b);
            let text = if scale < 0 {
                // `12e3`: reads back with the same negative scale.
                format!("{}e{}", decimal::unscaled_to_digits(unscaled), -scale)
            } else {
                decimal::to_plain_string(unscaled, scale)
            };
            write_bytes(out, text.as_bytes());
        }
        _ => return Err(mismatch(schema, value)),
    }
    Ok(())
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// proto3's zero values, which a required (implicit-presence) field omits.
/// `-0.0` is not zero here: its sign must survive the round trip.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Int8(i) => *i == 0,
        Value::Int16(i) => *i == 0,
        Value::Int32(i) => *i == 0,
        Value::Int64(i) => *i == 0,
        Value::Float32(f) => f.to_bits() == 0,
        Value::Float64(f) => f.to_bits() == 0,
        Value::Boolean(b) => !*b,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        _ => false,
    }
}

/// Writes a length-delimited field whose body `body` writes.
fn nested(
    out: &mut Vec<u8>,
    number: u32,
    body: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    encode_key(number, WireType::LengthDelimited, out);
    let at = out.len();
    out.push(0);
    body(out)?;
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
    } else {
        let width = encoded_len_varint(len as u64);
        let mut prefix = Vec::with_capacity(width);
        encode_varint(len as u64, &mut prefix);
        out.splice(at..at + 1, prefix);
    }
    Ok(())
}

fn mismatch(schema: &Schema, value: &Value) -> String {
    let expected = match schema.name() {
        Some(n) => format!("{} ({n})", schema.kind),
        None => schema.kind.to_string(),
    };
    format!(
        "the schema says {expected} but the value is {}",
        value.type_name()
    )
}
