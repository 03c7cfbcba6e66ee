//! The one set of rules that says how a Connect schema sits in a protobuf
//! field. The descriptor builder, the encoder and the decoder all ask
//! [`shape`], so the message a consumer decodes with the published
//! descriptor is the message the encoder wrote and the decoder reads.

use prost::encoding::WireType;
use sluice_api::data::{names, Schema, SchemaType};

/// A protobuf scalar a Connect primitive becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// int8, int16, int32 (and Date, Time).
    Int32,
    /// int64 (and Timestamp).
    Int64,
    Float,
    Double,
    Bool,
    String,
    Bytes,
    /// Connect's Decimal: the plain decimal text, e.g. `-12.340`.
    Decimal,
}

impl Scalar {
    pub(crate) fn of(schema: &Schema) -> Option<Scalar> {
        Some(match schema.kind {
            SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 => Scalar::Int32,
            SchemaType::Int64 => Scalar::Int64,
            SchemaType::Float32 => Scalar::Float,
            SchemaType::Float64 => Scalar::Double,
            SchemaType::Boolean => Scalar::Bool,
            SchemaType::String => Scalar::String,
            SchemaType::Bytes if schema.name.as_deref() == Some(names::DECIMAL) => Scalar::Decimal,
            SchemaType::Bytes => Scalar::Bytes,
            SchemaType::Array | SchemaType::Map | SchemaType::Struct => return None,
        })
    }

    pub(crate) fn wire(self) -> WireType {
        match self {
            Scalar::Int32 | Scalar::Int64 | Scalar::Bool => WireType::Varint,
            Scalar::Float => WireType::ThirtyTwoBit,
            Scalar::Double => WireType::SixtyFourBit,
            Scalar::String | Scalar::Bytes | Scalar::Decimal => WireType::LengthDelimited,
        }
    }

    /// Numeric scalars are packed in repeated fields (proto3's default).
    pub(crate) fn packable(self) -> bool {
        self.wire() != WireType::LengthDelimited
    }

    /// `google.protobuf.FieldDescriptorProto.Type`.
    pub(crate) fn proto_type(self) -> prost_types::field_descriptor_proto::Type {
        use prost_types::field_descriptor_proto::Type;
        match self {
            Scalar::Int32 => Type::Int32,
            Scalar::Int64 => Type::Int64,
            Scalar::Float => Type::Float,
            Scalar::Double => Type::Double,
            Scalar::Bool => Type::Bool,
            Scalar::String | Scalar::Decimal => Type::String,
            Scalar::Bytes => Type::Bytes,
        }
    }
}

/// How a field holding a value of one schema is laid out.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape<'a> {
    /// A singular scalar; explicit presence (proto3 `optional`) when the
    /// schema is optional, so null and zero stay apart.
    Scalar(Scalar),
    /// A message field (presence is always explicit for messages).
    Struct,
    /// A required array: a repeated field of its elements.
    List(&'a Schema),
    /// A required map: a repeated field of `{key = 1; value = 2}` entries.
    Map(&'a Schema, &'a Schema),
    /// An optional array or map: a message `{<the collection> value = 1}`,
    /// because a repeated field cannot tell null from empty.
    Boxed,
}

/// The shape of a field of `schema`. `in_box` is true for the content of a
/// [`Shape::Boxed`] message, where the collection is present by definition.
pub(crate) fn shape(schema: &Schema, in_box: bool) -> Shape<'_> {
    match schema.kind {
        SchemaType::Struct => Shape::Struct,
        SchemaType::Array | SchemaType::Map if schema.optional && !in_box => Shape::Boxed,
        SchemaType::Array => match schema.value_schema.as_deref() {
            Some(e) => Shape::List(e),
            None => Shape::Boxed,
        },
        SchemaType::Map => match (schema.key_schema.as_deref(), schema.value_schema.as_deref()) {
            (Some(k), Some(v)) => Shape::Map(k, v),
            _ => Shape::Boxed,
        },
        _ => Shape::Scalar(Scalar::of(schema).unwrap_or(Scalar::Bytes)),
    }
}

/// Whether array elements of this schema need a one-field wrapper message:
/// repeated fields hold neither nulls nor other repeated fields.
pub(crate) fn element_wrapped(element: &Schema) -> bool {
    element.optional || matches!(element.kind, SchemaType::Array | SchemaType::Map)
}

/// Whether an explicit-presence scalar is needed (proto3 `optional`).
pub(crate) fn explicit_presence(schema: &Schema, in_box: bool) -> bool {
    schema.optional && !in_box
}

/// Checks that collection schemas carry their element schemas (a schema
/// built by hand could lack them), so that [`shape`] never guesses.
pub(crate) fn check(schema: &Schema, path: &str) -> Result<(), String> {
    match schema.kind {
        SchemaType::Array => match &schema.value_schema {
            Some(e) => check(e, &format!("{path}[]")),
            None => Err(format!("{path}: array schema has no element schema")),
        },
        SchemaType::Map => match (&schema.key_schema, &schema.value_schema) {
            (Some(k), Some(v)) => {
                check(k, &format!("{path}{{key}}"))?;
                check(v, &format!("{path}{{value}}"))
            }
            _ => Err(format!("{path}: map schema lacks its key or value schema")),
        },
        SchemaType::Struct => schema
            .fields
            .iter()
            .try_for_each(|f| check(&f.schema, &format!("{path}.{}", f.name))),
        _ => Ok(()),
    }
}

/// A protobuf identifier for any Connect name: other characters become
/// `_`, and a leading digit gets a `_` before it.
pub(crate) fn identifier(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// protoc's `ToCamelCase(name, false)`: the name a map entry must have.
pub(crate) fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// protoc rejects proto3 fields whose names are equal once lower-cased
/// with underscores removed (their JSON names would clash).
pub(crate) fn json_key(name: &str) -> String {
    name.chars()
        .filter(|&c| c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_identifiers() {
        assert_eq!(identifier("order-id"), "order_id");
        assert_eq!(identifier("1st"), "_1st");
        assert_eq!(identifier(""), "_");
        assert_eq!(identifier("_id"), "_id");
        assert_eq!(camel_case("my_map_2"), "MyMap2");
        assert_eq!(camel_case("_id"), "Id");
        assert_eq!(json_key("Order_Id"), "orderid");
    }
}
