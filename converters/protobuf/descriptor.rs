//! A proto3 `FileDescriptorProto` derived from a Connect schema.
//!
//! The file holds `Record` (what a Kafka value is: descriptor, value,
//! Connect schema) and one top-level message per distinct struct schema.
//! Helper messages (array element wrappers, map entries, boxes for optional
//! collections) are nested in the message whose field needs them and named
//! after that field, so names never clash across fields. Every name is a
//! valid, unique protobuf identifier, and the file passes protoc's own
//! validation (proto3 JSON-name clashes, synthetic oneofs, map entries).

use std::collections::HashSet;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MessageOptions,
    OneofDescriptorProto,
};
use sluice_api::data::{Schema, SchemaType};

use super::shape::{
    camel_case, element_wrapped, explicit_presence, identifier, json_key, shape, Scalar, Shape,
};

/// Field numbers of `Record`.
pub(crate) const RECORD_DESCRIPTOR: u32 = 1;
pub(crate) const RECORD_VALUE: u32 = 2;
pub(crate) const RECORD_SCHEMA: u32 = 3;

/// Protobuf reserves 19000..=19999; a struct needs one number per field.
pub(crate) const MAX_FIELDS: usize = 18_999;

/// Builds the file for `schema` (already checked with `shape::check`).
pub(crate) fn file_descriptor(schema: &Schema, package: &str, file: String) -> FileDescriptorProto {
    let mut b = Builder {
        package,
        messages: Vec::new(),
        structs: Vec::new(),
        names: HashSet::from(["Record".to_string()]),
    };
    let mut record = Message::new("Record".into(), format!(".{package}.Record"));
    record.push(FieldDescriptorProto {
        name: Some("file_descriptor".into()),
        number: Some(RECORD_DESCRIPTOR as i32),
        label: Some(Label::Repeated as i32),
        r#type: Some(Type::Bytes as i32),
        ..Default::default()
    });
    b.add_field(&mut record, "value".into(), RECORD_VALUE, schema, false);
    record.push(FieldDescriptorProto {
        name: Some("connect_schema".into()),
        number: Some(RECORD_SCHEMA as i32),
        label: Some(Label::Optional as i32),
        r#type: Some(Type::String as i32),
        ..Default::default()
    });
    let mut messages = vec![record.finish()];
    messages.append(&mut b.messages);
    FileDescriptorProto {
        name: Some(file),
        package: Some(package.to_string()),
        message_type: messages,
        syntax: Some("proto3".into()),
        ..Default::default()
    }
}

struct Builder<'a, 's> {
    package: &'a str,
    /// Top-level struct messages, in the order they were finished.
    messages: Vec<DescriptorProto>,
    /// Struct schemas already given a message: equal name and fields share it.
    structs: Vec<(&'s Schema, String)>,
    /// Top-level names taken.
    names: HashSet<String>,
}

/// A message being built, with the names taken in its scope.
struct Message {
    proto: DescriptorProto,
    /// `.package.Outer.Inner`, for the type names of nested messages.
    full_name: String,
    /// Fields, nested types and oneofs share one namespace.
    taken: HashSet<String>,
    /// Lower-cased, underscore-free field names (protoc's proto3 rule).
    json_taken: HashSet<String>,
}

impl Message {
    fn new(name: String, full_name: String) -> Message {
        Message {
            proto: DescriptorProto {
                name: Some(name),
                ..Default::default()
            },
            full_name,
            taken: HashSet::new(),
            json_taken: HashSet::new(),
        }
    }

    /// A field name derived from `wanted`, unique in this message.
    fn field_name(&mut self, wanted: &str) -> String {
        let base = identifier(wanted);
        let mut name = base.clone();
        let mut n = 2;
        while self.taken.contains(&name) || self.json_taken.contains(&json_key(&name)) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(name.clone());
        self.json_taken.insert(json_key(&name));
        name
    }

    /// A nested-type or oneof name: `wanted`, else with `X` before it (as
    /// protoc does for synthetic oneofs), unique in this message.
    fn scoped_name(&mut self, wanted: String) -> String {
        let mut name = wanted;
        while self.taken.contains(&name) {
            name.insert(0, 'X');
        }
        self.taken.insert(name.clone());
        name
    }

    fn push(&mut self, field: FieldDescriptorProto) {
        if let Some(name) = &field.name {
            self.taken.insert(name.clone());
            self.json_taken.insert(json_key(name));
        }
        self.proto.field.push(field);
    }

    fn nest(&mut self, message: Message) -> String {
        let type_name = message.full_name.clone();
        self.proto.nested_type.push(message.finish());
        type_name
    }

    fn finish(self) -> DescriptorProto {
        self.proto
    }
}

impl<'a, 's> Builder<'a, 's> {
    /// Adds field `number` for a value of `schema` to `owner`.
    fn add_field(
        &mut self,
        owner: &mut Message,
        wanted: String,
        number: u32,
        schema: &'s Schema,
        in_box: bool,
    ) {
        let name = owner.field_name(&wanted);
        let mut field = FieldDescriptorProto {
            name: Some(name.clone()),
            number: Some(number as i32),
            label: Some(Label::Optional as i32),
            ..Default::default()
        };
        match shape(schema, in_box) {
            Shape::Scalar(scalar) => {
                field.r#type = Some(scalar.proto_type() as i32);
                if explicit_presence(schema, in_box) {
                    let oneof = owner.scoped_name(format!("_{name}"));
                    field.oneof_index = Some(owner.proto.oneof_decl.len() as i32);
                    field.proto3_optional = Some(true);
                    owner.proto.oneof_decl.push(OneofDescriptorProto {
                        name: Some(oneof),
                        options: None,
                    });
                }
            }
            Shape::Struct => {
                let type_name = self.struct_message(schema, &name);
                message_type(&mut field, type_name);
            }
            Shape::List(element) => {
                field.label = Some(Label::Repeated as i32);
                if element_wrapped(element) {
                    let nested = self.helper(owner, format!("{}Element", camel_case(&name)));
                    let type_name = self.fill(owner, nested, &[("value", element, false)], false);
                    message_type(&mut field, type_name);
                } else if let Some(scalar) = Scalar::of(element) {
                    field.r#type = Some(scalar.proto_type() as i32);
                } else {
                    let type_name = self.struct_message(element, &name);
                    message_type(&mut field, type_name);
                }
            }
            Shape::Map(key, value) => {
                field.label = Some(Label::Repeated as i32);
                let entry_name = format!("{}Entry", camel_case(&name));
                let map_entry = proper_map(key, value) && !owner.taken.contains(&entry_name);
                let nested = self.helper(owner, entry_name);
                let layout = [("key", key, false), ("value", value, false)];
                let type_name = self.fill(owner, nested, &layout, map_entry);
                message_type(&mut field, type_name);
            }
            Shape::Boxed => {
                let suffix = if schema.kind == SchemaType::Map {
                    "Map"
                } else {
                    "List"
                };
                let nested = self.helper(owner, format!("{}{suffix}", camel_case(&name)));
                let type_name = self.fill(owner, nested, &[("value", schema, true)], false);
                message_type(&mut field, type_name);
            }
        }
        owner.push(field);
    }

    /// A helper message nested in `owner`, not yet filled.
    fn helper(&self, owner: &mut Message, wanted: String) -> Message {
        let name = owner.scoped_name(wanted);
        let full = format!("{}.{name}", owner.full_name);
        Message::new(name, full)
    }

    /// Gives `nested` fields numbered from 1 and nests it in `owner`.
    fn fill(
        &mut self,
        owner: &mut Message,
        mut nested: Message,
        layout: &[(&str, &'s Schema, bool)],
        map_entry: bool,
    ) -> String {
        for (i, (name, schema, in_box)) in layout.iter().enumerate() {
            self.add_field(&mut nested, name.to_string(), i as u32 + 1, schema, *in_box);
        }
        if map_entry {
            nested.proto.options = Some(MessageOptions {
                map_entry: Some(true),
                ..Default::default()
            });
        }
        owner.nest(nested)
    }

    /// The type name of the top-level message of a struct schema.
    fn struct_message(&mut self, schema: &'s Schema, field_name: &str) -> String {
        let same = |s: &&Schema| s.name == schema.name && s.fields == schema.fields;
        if let Some((_, name)) = self.structs.iter().find(|(s, _)| same(s)) {
            return format!(".{}.{name}", self.package);
        }
        let wanted = match schema.name.as_deref() {
            Some(n) => identifier(n.rsplit('.').next().unwrap_or(n)),
            None => camel_case(&identifier(field_name)),
        };
        let mut name = wanted.clone();
        let mut n = 2;
        while self.names.contains(&name) {
            name = format!("{wanted}_{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        self.structs.push((schema, name.clone()));
        let full = format!(".{}.{name}", self.package);
        let mut message = Message::new(name, full.clone());
        for (i, f) in schema.fields.iter().enumerate() {
            self.add_field(&mut message, f.name.clone(), i as u32 + 1, &f.schema, false);
        }
        self.messages.push(message.finish());
        full
    }
}

/// Whether a map can be a protobuf `map<K, V>`: integral, bool or string
/// keys, and a value that is neither null (map values have no presence) nor
/// repeated.
fn proper_map(key: &Schema, value: &Schema) -> bool {
    let key_ok = matches!(
        key.kind,
        SchemaType::Int8
            | SchemaType::Int16
            | SchemaType::Int32
            | SchemaType::Int64
            | SchemaType::Boolean
            | SchemaType::String
    );
    key_ok
        && !key.optional
        && !value.optional
        && !matches!(value.kind, SchemaType::Array | SchemaType::Map)
}

fn message_type(field: &mut FieldDescriptorProto, type_name: String) {
    field.r#type = Some(Type::Message as i32);
    field.type_name = Some(type_name);
}
