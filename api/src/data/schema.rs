//! Kafka Connect's schema model.
//!
//! A [`Schema`] is built once per table version (or per record shape) and
//! shared as `Arc<Schema>`; records never rebuild it. Logical types are a
//! `name` on a primitive schema, exactly as in Kafka Connect, so converters
//! written against Kafka Connect's wire formats see the same thing.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::value::Value;

/// The physical type of a schema (Kafka Connect's `Schema.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The lower-case name Kafka Connect's JSON schema format uses.
    pub fn json_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    /// Parses Kafka Connect's type names (case-insensitive: `INT32`, `int32`,
    /// `float`/`float32`, `double`/`float64`).
    pub fn parse(name: &str) -> Option<SchemaType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" | "float32" => SchemaType::Float32,
            "double" | "float64" => SchemaType::Float64,
            "boolean" => SchemaType::Boolean,
            "string" => SchemaType::String,
            "bytes" => SchemaType::Bytes,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }

    pub fn is_primitive(self) -> bool {
        !matches!(
            self,
            SchemaType::Array | SchemaType::Map | SchemaType::Struct
        )
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json_name().to_ascii_uppercase())
    }
}

/// One field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub index: usize,
    pub schema: Arc<Schema>,
}

/// A Kafka Connect schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub kind: SchemaType,
    pub optional: bool,
    pub default: Option<Value>,
    /// Logical type or record name (e.g. `org.apache.kafka.connect.data.Decimal`).
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: BTreeMap<String, String>,
    /// Struct fields, in order. Empty for other types.
    pub fields: Vec<Field>,
    /// Map key schema.
    pub key_schema: Option<Arc<Schema>>,
    /// Map value schema, or array element schema.
    pub value_schema: Option<Arc<Schema>>,
}

impl Schema {
    pub fn new(kind: SchemaType) -> Schema {
        Schema {
            kind,
            optional: false,
            default: None,
            name: None,
            version: None,
            doc: None,
            parameters: BTreeMap::new(),
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The logical type, when the schema's name is one the runtime knows.
    pub fn logical(&self) -> Option<Logical> {
        Logical::from_name(self.name.as_deref()?)
    }

    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.get(key).map(String::as_str)
    }

    /// A copy that is optional (returns self unchanged when it already is).
    pub fn to_optional(self: &Arc<Self>) -> Arc<Schema> {
        if self.optional {
            return self.clone();
        }
        let mut s = (**self).clone();
        s.optional = true;
        Arc::new(s)
    }
}

/// Builder in the style of Kafka Connect's `SchemaBuilder`.
#[derive(Debug, Clone)]
pub struct SchemaBuilder {
    schema: Schema,
}

impl SchemaBuilder {
    pub fn new(kind: SchemaType) -> Self {
        SchemaBuilder {
            schema: Schema::new(kind),
        }
    }
    pub fn int8() -> Self {
        Self::new(SchemaType::Int8)
    }
    pub fn int16() -> Self {
        Self::new(SchemaType::Int16)
    }
    pub fn int32() -> Self {
        Self::new(SchemaType::Int32)
    }
    pub fn int64() -> Self {
        Self::new(SchemaType::Int64)
    }
    pub fn float32() -> Self {
        Self::new(SchemaType::Float32)
    }
    pub fn float64() -> Self {
        Self::new(SchemaType::Float64)
    }
    pub fn boolean() -> Self {
        Self::new(SchemaType::Boolean)
    }
    pub fn string() -> Self {
        Self::new(SchemaType::String)
    }
    pub fn bytes() -> Self {
        Self::new(SchemaType::Bytes)
    }
    pub fn structure() -> Self {
        Self::new(SchemaType::Struct)
    }
    pub fn array(element: Arc<Schema>) -> Self {
        let mut b = Self::new(SchemaType::Array);
        b.schema.value_schema = Some(element);
        b
    }
    pub fn map(key: Arc<Schema>, value: Arc<Schema>) -> Self {
        let mut b = Self::new(SchemaType::Map);
        b.schema.key_schema = Some(key);
        b.schema.value_schema = Some(value);
        b
    }
    /// Starts from an existing schema (to derive a changed copy).
    pub fn from_schema(schema: &Schema) -> Self {
        SchemaBuilder {
            schema: schema.clone(),
        }
    }
    pub fn optional(mut self) -> Self {
        self.schema.optional = true;
        self
    }
    pub fn required(mut self) -> Self {
        self.schema.optional = false;
        self
    }
    pub fn set_optional(mut self, optional: bool) -> Self {
        self.schema.optional = optional;
        self
    }
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.schema.name = Some(name.into());
        self
    }
    pub fn maybe_name(mut self, name: Option<String>) -> Self {
        self.schema.name = name;
        self
    }
    pub fn version(mut self, version: i32) -> Self {
        self.schema.version = Some(version);
        self
    }
    pub fn maybe_version(mut self, version: Option<i32>) -> Self {
        self.schema.version = version;
        self
    }
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.schema.doc = Some(doc.into());
        self
    }
    pub fn default_value(mut self, value: Value) -> Self {
        self.schema.default = Some(value);
        self
    }
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.schema.parameters.insert(key.into(), value.into());
        self
    }
    /// Adds a struct field; its index is its position.
    pub fn field(mut self, name: impl Into<String>, schema: Arc<Schema>) -> Self {
        let index = self.schema.fields.len();
        self.schema.fields.push(Field {
            name: name.into(),
            index,
            schema,
        });
        self
    }
    pub fn build(self) -> Arc<Schema> {
        Arc::new(self.schema)
    }
    pub fn build_schema(self) -> Schema {
        self.schema
    }
}

/// Logical type names of Kafka Connect and Debezium.
pub mod names {
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
    pub const DECIMAL_SCALE: &str = "scale";

    pub const DBZ_DATE: &str = "io.debezium.time.Date";
    pub const DBZ_TIME: &str = "io.debezium.time.Time";
    pub const DBZ_MICRO_TIME: &str = "io.debezium.time.MicroTime";
    pub const DBZ_NANO_TIME: &str = "io.debezium.time.NanoTime";
    pub const DBZ_TIMESTAMP: &str = "io.debezium.time.Timestamp";
    pub const DBZ_MICRO_TIMESTAMP: &str = "io.debezium.time.MicroTimestamp";
    pub const DBZ_NANO_TIMESTAMP: &str = "io.debezium.time.NanoTimestamp";
    pub const DBZ_ZONED_TIMESTAMP: &str = "io.debezium.time.ZonedTimestamp";
    pub const DBZ_ZONED_TIME: &str = "io.debezium.time.ZonedTime";
    pub const DBZ_YEAR: &str = "io.debezium.time.Year";
    pub const DBZ_MICRO_DURATION: &str = "io.debezium.time.MicroDuration";
    pub const DBZ_JSON: &str = "io.debezium.data.Json";
    pub const DBZ_ENUM: &str = "io.debezium.data.Enum";
    pub const DBZ_ENUM_SET: &str = "io.debezium.data.EnumSet";
    pub const DBZ_BITS: &str = "io.debezium.data.Bits";
    pub const DBZ_VARIABLE_SCALE_DECIMAL: &str = "io.debezium.data.VariableScaleDecimal";
    pub const DBZ_GEOMETRY: &str = "io.debezium.data.geometry.Geometry";
    pub const DBZ_POINT: &str = "io.debezium.data.geometry.Point";
}

/// The logical types the runtime interprets (converters and transforms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    /// Bytes: big-endian two's-complement unscaled value; `scale` parameter.
    Decimal,
    /// Int32: days since the epoch.
    Date,
    /// Int32: milliseconds since midnight.
    Time,
    /// Int64: milliseconds since the epoch.
    Timestamp,
}

impl Logical {
    pub fn from_name(name: &str) -> Option<Logical> {
        Some(match name {
            names::DECIMAL => Logical::Decimal,
            names::DATE => Logical::Date,
            names::TIME => Logical::Time,
            names::TIMESTAMP => Logical::Timestamp,
            _ => return None,
        })
    }
}

/// Ready-made shared schemas for the common primitives.
pub mod schemas {
    use super::*;
    use std::sync::OnceLock;

    macro_rules! cached {
        ($fn_name:ident, $kind:expr, $optional:expr) => {
            pub fn $fn_name() -> Arc<Schema> {
                static S: OnceLock<Arc<Schema>> = OnceLock::new();
                S.get_or_init(|| SchemaBuilder::new($kind).set_optional($optional).build())
                    .clone()
            }
        };
    }
    cached!(int8, SchemaType::Int8, false);
    cached!(int16, SchemaType::Int16, false);
    cached!(int32, SchemaType::Int32, false);
    cached!(int64, SchemaType::Int64, false);
    cached!(float32, SchemaType::Float32, false);
    cached!(float64, SchemaType::Float64, false);
    cached!(boolean, SchemaType::Boolean, false);
    cached!(string, SchemaType::String, false);
    cached!(bytes, SchemaType::Bytes, false);
    cached!(optional_int8, SchemaType::Int8, true);
    cached!(optional_int16, SchemaType::Int16, true);
    cached!(optional_int32, SchemaType::Int32, true);
    cached!(optional_int64, SchemaType::Int64, true);
    cached!(optional_float32, SchemaType::Float32, true);
    cached!(optional_float64, SchemaType::Float64, true);
    cached!(optional_boolean, SchemaType::Boolean, true);
    cached!(optional_string, SchemaType::String, true);
    cached!(optional_bytes, SchemaType::Bytes, true);

    /// A primitive schema of the given type.
    pub fn primitive(kind: SchemaType, optional: bool) -> Arc<Schema> {
        match (kind, optional) {
            (SchemaType::Int8, false) => int8(),
            (SchemaType::Int16, false) => int16(),
            (SchemaType::Int32, false) => int32(),
            (SchemaType::Int64, false) => int64(),
            (SchemaType::Float32, false) => float32(),
            (SchemaType::Float64, false) => float64(),
            (SchemaType::Boolean, false) => boolean(),
            (SchemaType::String, false) => string(),
            (SchemaType::Bytes, false) => bytes(),
            (SchemaType::Int8, true) => optional_int8(),
            (SchemaType::Int16, true) => optional_int16(),
            (SchemaType::Int32, true) => optional_int32(),
            (SchemaType::Int64, true) => optional_int64(),
            (SchemaType::Float32, true) => optional_float32(),
            (SchemaType::Float64, true) => optional_float64(),
            (SchemaType::Boolean, true) => optional_boolean(),
            (SchemaType::String, true) => optional_string(),
            (SchemaType::Bytes, true) => optional_bytes(),
            (k, o) => SchemaBuilder::new(k).set_optional(o).build(),
        }
    }

    /// Kafka Connect's `Decimal.schema(scale)`.
    pub fn decimal(scale: i32, optional: bool) -> Arc<Schema> {
        SchemaBuilder::bytes()
            .name(names::DECIMAL)
            .version(1)
            .parameter(names::DECIMAL_SCALE, scale.to_string())
            .set_optional(optional)
            .build()
    }
    /// Kafka Connect's `Date.SCHEMA`.
    pub fn date(optional: bool) -> Arc<Schema> {
        SchemaBuilder::int32()
            .name(names::DATE)
            .version(1)
            .set_optional(optional)
            .build()
    }
    /// Kafka Connect's `Time.SCHEMA`.
    pub fn time(optional: bool) -> Arc<Schema> {
        SchemaBuilder::int32()
            .name(names::TIME)
            .version(1)
            .set_optional(optional)
            .build()
    }
    /// Kafka Connect's `Timestamp.SCHEMA`.
    pub fn timestamp(optional: bool) -> Arc<Schema> {
        SchemaBuilder::int64()
            .name(names::TIMESTAMP)
            .version(1)
            .set_optional(optional)
            .build()
    }
}
