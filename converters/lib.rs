//! Converters: Kafka Connect values to bytes and back.
//!
//! Each converter reproduces the bytes of its Kafka Connect namesake, so
//! that topics written by Sluice read the same to existing consumers and
//! topics written by Kafka Connect read back into the same values here.
//! [`register`] lists them all by class name and alias.

mod bytearray;
mod header;
mod json;
mod json_read;
mod json_write;
mod protobuf;
mod string;

pub use bytearray::ByteArrayConverter;
pub use header::{convert_to_string, parse_string, SimpleHeaderConverter};
pub use json::{ConverterType, JsonConverter};
pub use protobuf::ProtobufConverter;
pub use string::{Encoding, StringConverter};

use sluice_api::plugin::Registry;

/// Registers every converter and header converter of this crate.
pub fn register(registry: &mut Registry) {
    registry
        .register_converter(json::CLASS, &["JsonConverter"], || {
            Box::new(JsonConverter::new())
        })
        .register_converter(string::CLASS, &["StringConverter"], || {
            Box::new(StringConverter::new())
        })
        .register_converter(bytearray::CLASS, &["ByteArrayConverter"], || {
            Box::new(ByteArrayConverter::new())
        })
        .register_converter(protobuf::CLASS, &["ProtobufConverter"], || {
            Box::new(ProtobufConverter::new())
        })
        .register_header_converter(header::CLASS, &["SimpleHeaderConverter"], || {
            Box::new(SimpleHeaderConverter::new())
        })
        .register_header_converter(json::CLASS, &["JsonConverter"], || {
            Box::new(JsonConverter::new())
        })
        .register_header_converter(string::CLASS, &["StringConverter"], || {
            Box::new(StringConverter::new())
        })
        .register_header_converter(bytearray::CLASS, &["ByteArrayConverter"], || {
            Box::new(ByteArrayConverter::new())
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_converter_is_found_by_class_and_alias() {
        let mut r = Registry::new();
        register(&mut r);
        for name in [
            "org.apache.kafka.connect.json.JsonConverter",
            "JsonConverter",
            "org.apache.kafka.connect.storage.StringConverter",
            "StringConverter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
            "ByteArrayConverter",
            "io.sluice.converters.ProtobufConverter",
            "ProtobufConverter",
        ] {
            assert!(r.converter(name).is_ok(), "{name}");
        }
        for name in [
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "SimpleHeaderConverter",
            "JsonConverter",
            "StringConverter",
        ] {
            assert!(r.header_converter(name).is_ok(), "{name}");
        }
        assert!(r.converter("SimpleHeaderConverter").is_err());
        let def = r.config_def("JsonConverter").unwrap();
        assert!(def.key("schemas.enable").is_some());
    }
}
