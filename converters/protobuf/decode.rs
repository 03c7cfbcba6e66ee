//! Protobuf wire bytes back to Connect values, guided by the Connect
//! schema the record carries (the same [`shape`] rules the encoder and the
//! descriptor follow). Unknown fields are skipped, repeated scalars are read
//! packed or not (as protobuf requires of every reader), and an absent
//! field is null when optional and its type's zero value when required.

use std::sync::Arc;

use prost::encoding::{decode_key, decode_varint, WireType};
use sluice_api::data::{decimal, Schema, SchemaType, Struct, Value};

use crate::json_write::decimal_scale;

use super::shape::{element_wrapped, shape, Scalar, Shape};

type Result<T> = std::result::Result<T, String>;

/// Nesting deeper than this is refused (a crafted message must not blow
/// the stack).
const MAX_DEPTH: usize = 100;

/// The fields of one message, numbered from `first`.
#[derive(Clone, Copy)]
pub(crate) enum Layout<'a> {
    Struct(&'a Schema),
    /// One field (a wrapper, a box, or `Record.value`); `bool` is `in_box`.
    One(&'a Arc<Schema>, bool),
    /// A map entry: key = 1, value = 2.
    Entry(&'a Arc<Schema>, &'a Arc<Schema>),
}

impl<'a> Layout<'a> {
    fn len(self) -> usize {
        match self {
            Layout::Struct(s) => s.fields.len(),
            Layout::One(..) => 1,
            Layout::Entry(..) => 2,
        }
    }

    fn get(self, i: usize) -> (&'a Arc<Schema>, bool) {
        match self {
            Layout::Struct(s) => (&s.fields[i].schema, false),
            Layout::One(s, in_box) => (s, in_box),
            Layout::Entry(k, v) => (if i == 0 { k } else { v }, false),
        }
    }
}

/// Reads a message body: one value per field of `layout`.
pub(crate) fn read_message(
    mut buf: &[u8],
    first: u32,
    layout: Layout,
    depth: usize,
) -> Result<Vec<Value>> {
    if depth > MAX_DEPTH {
        return Err(format!("message nested deeper than {MAX_DEPTH} levels"));
    }
    let mut acc: Vec<Option<Value>> = vec![None; layout.len()];
    while !buf.is_empty() {
        let (number, wire) = decode_key(&mut buf).map_err(|e| e.to_string())?;
        let index = number
            .checked_sub(first)
            .map(|i| i as usize)
            .filter(|&i| i < acc.len());
        match index {
            Some(i) => {
                let (schema, in_box) = layout.get(i);
                read_field(&mut buf, wire, schema, in_box, &mut acc[i], depth)
                    .map_err(|e| format!("field {number}: {e}"))?;
            }
            None => skip(&mut buf, wire)?,
        }
    }
    acc.into_iter()
        .enumerate()
        .map(|(i, v)| {
            let (schema, in_box) = layout.get(i);
            match v {
                Some(v) => Ok(v),
                None => Ok(absent(schema, in_box)),
            }
        })
        .collect()
}

fn read_field(
    buf: &mut &[u8],
    wire: WireType,
    schema: &Arc<Schema>,
    in_box: bool,
    slot: &mut Option<Value>,
    depth: usize,
) -> Result<()> {
    match shape(schema, in_box) {
        Shape::Scalar(scalar) => *slot = Some(read_scalar(buf, wire, scalar, schema)?),
        Shape::Struct => *slot = Some(read_struct(buf, wire, schema, depth)?),
        Shape::List(_) => {
            let element = schema
                .value_schema
                .as_ref()
                .ok_or("array without element")?;
            let items = match slot.get_or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(items) => items,
                _ => return Err("array field holds another value".into()),
            };
            if element_wrapped(element) {
                let body = read_len(buf, wire)?;
                let mut v = read_message(body, 1, Layout::One(element, false), depth + 1)?;
                items.push(v.pop().unwrap_or(Value::Null));
                return Ok(());
            }
            match Scalar::of(element) {
                Some(scalar) if scalar.packable() && wire == WireType::LengthDelimited => {
                    let mut packed = read_len(buf, wire)?;
                    while !packed.is_empty() {
                        items.push(read_scalar(&mut packed, scalar.wire(), scalar, element)?);
                    }
                }
                Some(scalar) => items.push(read_scalar(buf, wire, scalar, element)?),
                None => items.push(read_struct(buf, wire, element, depth)?),
            }
        }
        Shape::Map(..) => {
            let (Some(k), Some(v)) = (&schema.key_schema, &schema.value_schema) else {
                return Err("map without key or value schema".into());
            };
            let body = read_len(buf, wire)?;
            let mut kv = read_message(body, 1, Layout::Entry(k, v), depth + 1)?;
            let value = kv.pop().unwrap_or(Value::Null);
            let key = kv.pop().unwrap_or(Value::Null);
            match slot.get_or_insert_with(|| Value::Map(Vec::new())) {
                Value::Map(entries) => entries.push((key, value)),
                _ => return Err("map field holds another value".into()),
            }
        }
        Shape::Boxed => {
            let body = read_len(buf, wire)?;
            let mut v = read_message(body, 1, Layout::One(schema, true), depth + 1)?;
            *slot = v.pop();
        }
    }
    Ok(())
}

fn read_struct(
    buf: &mut &[u8],
    wire: WireType,
    schema: &Arc<Schema>,
    depth: usize,
) -> Result<Value> {
    let body = read_len(buf, wire)?;
    let values = read_message(body, 1, Layout::Struct(schema), depth + 1)?;
    Ok(Value::Struct(Struct::from_values(schema.clone(), values)))
}

fn read_scalar(buf: &mut &[u8], wire: WireType, scalar: Scalar, schema: &Schema) -> Result<Value> {
    if wire != scalar.wire() {
        return Err(format!(
            "wire type {wire:?} where {:?} was expected for {}",
            scalar.wire(),
            schema.kind
        ));
    }
    Ok(match scalar {
        Scalar::Int32 => {
            // protobuf's int32 is the low 32 bits of the varint.
            let i = varint(buf)? as i32;
            match schema.kind {
                SchemaType::Int8 => Value::Int8(i8::try_from(i).map_err(|_| range(i, "INT8"))?),
                SchemaType::Int16 => Value::Int16(i16::try_from(i).map_err(|_| range(i, "INT16"))?),
                _ => Value::Int32(i),
            }
        }
        Scalar::Int64 => Value::Int64(varint(buf)? as i64),
        Scalar::Bool => Value::Boolean(varint(buf)? != 0),
        Scalar::Float => Value::Float32(f32::from_bits(u32::from_le_bytes(fixed(buf)?))),
        Scalar::Double => Value::Float64(f64::from_bits(u64::from_le_bytes(fixed(buf)?))),
        Scalar::String => Value::String(utf8(read_len(buf, wire)?)?.into()),
        Scalar::Bytes => Value::Bytes(read_len(buf, wire)?.to_vec()),
        Scalar::Decimal => {
            let text = utf8(read_len(buf, wire)?)?;
            let scale = decimal_scale(schema)?;
            match decimal::parse(text) {
                Some((unscaled, s)) if s == scale => Value::Bytes(unscaled),
                Some((_, s)) => {
                    return Err(format!(
                        "decimal {text:?} has scale {s}, but the schema's scale is {scale}"
                    ))
                }
                None => return Err(format!("{text:?} is not a decimal number")),
            }
        }
    })
}

/// The value of a field the message does not hold.
fn absent(schema: &Arc<Schema>, in_box: bool) -> Value {
    if schema.optional && !in_box {
        return Value::Null;
    }
    zero(schema)
}

/// proto3's zero value of a type, as a Connect value.
fn zero(schema: &Arc<Schema>) -> Value {
    match schema.kind {
        SchemaType::Int8 => Value::Int8(0),
        SchemaType::Int16 => Value::Int16(0),
        SchemaType::Int32 => Value::Int32(0),
        SchemaType::Int64 => Value::Int64(0),
        SchemaType::Float32 => Value::Float32(0.0),
        SchemaType::Float64 => Value::Float64(0.0),
        SchemaType::Boolean => Value::Boolean(false),
        SchemaType::String => Value::String("".into()),
        SchemaType::Bytes if Scalar::of(schema) == Some(Scalar::Decimal) => Value::Bytes(vec![0]),
        SchemaType::Bytes => Value::Bytes(Vec::new()),
        SchemaType::Array => Value::Array(Vec::new()),
        SchemaType::Map => Value::Map(Vec::new()),
        SchemaType::Struct => {
            let values = schema
                .fields
                .iter()
                .map(|f| absent(&f.schema, false))
                .collect();
            Value::Struct(Struct::from_values(schema.clone(), values))
        }
    }
}

fn varint(buf: &mut &[u8]) -> Result<u64> {
    decode_varint(buf).map_err(|e| e.to_string())
}

fn fixed<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N]> {
    if buf.len() < N {
        return Err("message ends inside a fixed-width number".into());
    }
    let (head, rest) = buf.split_at(N);
    *buf = rest;
    Ok(head.try_into().unwrap_or([0; N]))
}

fn read_len<'b>(buf: &mut &'b [u8], wire: WireType) -> Result<&'b [u8]> {
    if wire != WireType::LengthDelimited {
        return Err(format!(
            "wire type {wire:?} where a length-delimited field was expected"
        ));
    }
    let len = usize::try_from(varint(buf)?).unwrap_or(usize::MAX);
    if len > buf.len() {
        return Err(format!(
            "a field of {len} bytes overruns the message ({} bytes left)",
            buf.len()
        ));
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

/// Skips an unknown field.
pub(crate) fn skip(buf: &mut &[u8], wire: WireType) -> Result<()> {
    match wire {
        WireType::Varint => varint(buf).map(|_| ()),
        WireType::SixtyFourBit => fixed::<8>(buf).map(|_| ()),
        WireType::ThirtyTwoBit => fixed::<4>(buf).map(|_| ()),
        WireType::LengthDelimited => read_len(buf, wire).map(|_| ()),
        WireType::StartGroup | WireType::EndGroup => {
            Err("groups (proto2) are not part of a Sluice message".into())
        }
    }
}

/// The length-delimited payload of the first field `number` (for the
/// record's Connect schema), if any.
pub(crate) fn find_bytes(mut buf: &[u8], number: u32) -> Result<Option<&[u8]>> {
    while !buf.is_empty() {
        let (n, wire) = decode_key(&mut buf).map_err(|e| e.to_string())?;
        if n == number && wire == WireType::LengthDelimited {
            return read_len(&mut buf, wire).map(Some);
        }
        skip(&mut buf, wire)?;
    }
    Ok(None)
}

fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| "a string field is not valid UTF-8".to_string())
}

fn range(i: i32, kind: &str) -> String {
    format!("{i} does not fit the schema's {kind}")
}
