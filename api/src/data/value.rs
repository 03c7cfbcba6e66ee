//! Values of Kafka Connect's data model.
//!
//! A [`Struct`] is its `Arc<Schema>` plus a `Vec<Value>` indexed by field
//! position: no per-row map, no per-row schema. Logical types keep their
//! physical representation (Decimal = big-endian two's-complement bytes with
//! the scale in the schema, Date = Int32 days, Time = Int32 millis,
//! Timestamp = Int64 millis), as Kafka Connect's converters serialise them.

use std::fmt;
use std::sync::Arc;

use super::schema::{Schema, SchemaType};

/// One value. `Null` stands for a missing optional value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    /// Shared text: cloning a string value (a connector's constant
    /// `source` fields, a key copied into a header) bumps a count instead
    /// of copying. Build one with `Value::from` (a `String` or `&str`) or
    /// `.into()`.
    String(Arc<str>),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// A map keeps insertion order; keys may be any value (strings in
    /// schemaless records).
    Map(Vec<(Value, Value)>),
    Struct(Struct),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "boolean",
            Value::Int8(_) => "int8",
            Value::Int16(_) => "int16",
            Value::Int32(_) => "int32",
            Value::Int64(_) => "int64",
            Value::Float32(_) => "float32",
            Value::Float64(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Struct(_) => "struct",
        }
    }

    /// The schema type a value of this variant has when schemaless.
    pub fn inferred_type(&self) -> Option<SchemaType> {
        Some(match self {
            Value::Null => return None,
            Value::Boolean(_) => SchemaType::Boolean,
            Value::Int8(_) => SchemaType::Int8,
            Value::Int16(_) => SchemaType::Int16,
            Value::Int32(_) => SchemaType::Int32,
            Value::Int64(_) => SchemaType::Int64,
            Value::Float32(_) => SchemaType::Float32,
            Value::Float64(_) => SchemaType::Float64,
            Value::String(_) => SchemaType::String,
            Value::Bytes(_) => SchemaType::Bytes,
            Value::Array(_) => SchemaType::Array,
            Value::Map(_) => SchemaType::Map,
            Value::Struct(_) => SchemaType::Struct,
        })
    }

    /// About how many heap bytes the value holds (strings, bytes and nested
    /// values; shared schemas not counted): what bounds a queue in bytes. A
    /// shared string counts in full in every value holding it: an upper
    /// bound (a connector's constant strings are short; `source.query` of
    /// a long multi-row statement counts once per row).
    pub fn heap_bytes(&self) -> usize {
        const V: usize = std::mem::size_of::<Value>();
        match self {
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.capacity(),
            Value::Array(items) => {
                items.capacity() * V + items.iter().map(Value::heap_bytes).sum::<usize>()
            }
            Value::Map(entries) => {
                entries.capacity() * 2 * V
                    + entries
                        .iter()
                        .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
                        .sum::<usize>()
            }
            Value::Struct(s) => {
                s.values.capacity() * V + s.values.iter().map(Value::heap_bytes).sum::<usize>()
            }
            _ => 0,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_struct_mut(&mut self) -> Option<&mut Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// Any integer variant widened to i64.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(v) => Some(v as i64),
            Value::Int16(v) => Some(v as i64),
            Value::Int32(v) => Some(v as i64),
            Value::Int64(v) => Some(v),
            _ => None,
        }
    }

    /// Looks up a key of a map with string keys (schemaless records).
    pub fn map_get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Checks that the value fits the schema (Kafka Connect's
    /// `ConnectSchema.validateValue`), naming the offending field path.
    pub fn validate(&self, schema: &Schema) -> Result<(), String> {
        validate_at(self, schema, "")
    }
}

fn validate_at(value: &Value, schema: &Schema, path: &str) -> Result<(), String> {
    let here = || {
        if path.is_empty() {
            "value".to_string()
        } else {
            format!("field {path}")
        }
    };
    let ok = match (value, schema.kind) {
        (Value::Null, _) => {
            if schema.optional || schema.default.is_some() {
                return Ok(());
            }
            return Err(format!("{} is null but its schema is not optional", here()));
        }
        (Value::Boolean(_), SchemaType::Boolean)
        | (Value::Int8(_), SchemaType::Int8)
        | (Value::Int16(_), SchemaType::Int16)
        | (Value::Int32(_), SchemaType::Int32)
        | (Value::Int64(_), SchemaType::Int64)
        | (Value::Float32(_), SchemaType::Float32)
        | (Value::Float64(_), SchemaType::Float64)
        | (Value::String(_), SchemaType::String)
        | (Value::Bytes(_), SchemaType::Bytes) => true,
        (Value::Array(items), SchemaType::Array) => {
            if let Some(elem) = &schema.value_schema {
                for (i, item) in items.iter().enumerate() {
                    validate_at(item, elem, &format!("{path}[{i}]"))?;
                }
            }
            true
        }
        (Value::Map(entries), SchemaType::Map) => {
            for (k, v) in entries {
                if let Some(ks) = &schema.key_schema {
                    validate_at(k, ks, &format!("{path}.<key>"))?;
                }
                if let Some(vs) = &schema.value_schema {
                    validate_at(v, vs, &format!("{path}.<value>"))?;
                }
            }
            true
        }
        (Value::Struct(s), SchemaType::Struct) => {
            if s.schema.fields.len() != schema.fields.len() {
                return Err(format!(
                    "{} is a struct of another schema ({} fields, expected {})",
                    here(),
                    s.schema.fields.len(),
                    schema.fields.len()
                ));
            }
            for field in &schema.fields {
                let child = if path.is_empty() {
                    field.name.clone()
                } else {
                    format!("{path}.{}", field.name)
                };
                validate_at(s.get_index(field.index), &field.schema, &child)?;
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} has a {} value but its schema type is {}",
            here(),
            value.type_name(),
            schema.kind
        ))
    }
}

/// A struct value: its schema and one value per field, by position.
#[derive(Clone, PartialEq)]
pub struct Struct {
    pub schema: Arc<Schema>,
    pub values: Vec<Value>,
}

impl fmt::Debug for Struct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_struct(self.schema.name().unwrap_or("Struct"));
        for field in &self.schema.fields {
            m.field(&field.name, self.get_index(field.index));
        }
        m.finish()
    }
}

static NULL: Value = Value::Null;

impl Struct {
    /// A struct with every field null.
    pub fn new(schema: Arc<Schema>) -> Struct {
        let values = vec![Value::Null; schema.fields.len()];
        Struct { schema, values }
    }

    /// A struct from values in field order.
    pub fn from_values(schema: Arc<Schema>, values: Vec<Value>) -> Struct {
        debug_assert_eq!(schema.fields.len(), values.len());
        Struct { schema, values }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schema
            .field(name)
            .map(|f| self.values.get(f.index).unwrap_or(&NULL))
    }

    pub fn get_index(&self, index: usize) -> &Value {
        self.values.get(index).unwrap_or(&NULL)
    }

    /// Sets a field by name; an unknown name is an error naming the field.
    pub fn put(&mut self, name: &str, value: Value) -> Result<(), String> {
        match self.schema.field(name) {
            Some(f) => {
                let i = f.index;
                if self.values.len() <= i {
                    self.values.resize(i + 1, Value::Null);
                }
                self.values[i] = value;
                Ok(())
            }
            None => Err(format!(
                "{} is not a field of {}",
                name,
                self.schema.name().unwrap_or("the struct")
            )),
        }
    }

    /// Builder-style `put` for code that knows its schema.
    pub fn with(mut self, name: &str, value: Value) -> Struct {
        if let Err(e) = self.put(name, value) {
            panic!("Struct::with on a schema it was not built for: {e}");
        }
        self
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}
impl From<i8> for Value {
    fn from(v: i8) -> Self {
        Value::Int8(v)
    }
}
impl From<i16> for Value {
    fn from(v: i16) -> Self {
        Value::Int16(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int32(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int64(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float32(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float64(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v.into())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.into())
    }
}
impl From<Arc<str>> for Value {
    fn from(v: Arc<str>) -> Self {
        Value::String(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<Struct> for Value {
    fn from(v: Struct) -> Self {
        Value::Struct(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}
