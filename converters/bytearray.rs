//! `org.apache.kafka.connect.converters.ByteArrayConverter`.
//!
//! Bytes pass through untouched both ways; a schema other than BYTES or a
//! value that is not bytes is refused with the reason, as Kafka Connect
//! does, and a null value is a Kafka null.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigError};
use sluice_api::data::{schemas, Headers, Schema, SchemaAndValue, SchemaType, Value};
use sluice_api::plugin::{Converter, HeaderConverter, Props, RecordError};

use crate::json::define_type;

pub const CLASS: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

/// Kafka Connect's byte-array converter.
#[derive(Debug, Clone, Default)]
pub struct ByteArrayConverter;

impl ByteArrayConverter {
    pub fn new() -> Self {
        ByteArrayConverter
    }
}

impl Converter for ByteArrayConverter {
    fn config_def(&self) -> ConfigDef {
        define_type(ConfigDef::new())
    }

    fn configure(&mut self, props: &Props, _is_key: bool) -> Result<(), ConfigError> {
        Converter::config_def(self).parse(props).map(|_| ())
    }

    fn from_connect(
        &self,
        _topic: &str,
        _headers: &mut Headers,
        schema: Option<&Arc<Schema>>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, RecordError> {
        if let Some(s) = schema {
            if s.kind != SchemaType::Bytes {
                return Err(RecordError::new(format!(
                    "Invalid schema type for ByteArrayConverter: {}; it only writes BYTES values \
                     (use StringConverter or JsonConverter for other types)",
                    s.kind
                )));
            }
        }
        match value {
            Value::Null => Ok(false),
            Value::Bytes(b) => {
                out.extend_from_slice(b);
                Ok(true)
            }
            other => Err(RecordError::new(format!(
                "ByteArrayConverter is not compatible with {} values; it only writes bytes \
                 (use StringConverter or JsonConverter for other types)",
                other.type_name()
            ))),
        }
    }

    fn to_connect(
        &self,
        _topic: &str,
        _headers: &Headers,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, RecordError> {
        Ok(SchemaAndValue::new(
            Some(schemas::optional_bytes()),
            data.map(|d| Value::Bytes(d.to_vec()))
                .unwrap_or(Value::Null),
        ))
    }
}

impl HeaderConverter for ByteArrayConverter {
    fn configure(&mut self, _props: &Props) -> Result<(), ConfigError> {
        Ok(())
    }

    fn from_connect_header(
        &self,
        topic: &str,
        _key: &str,
        schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, RecordError> {
        let mut out = Vec::new();
        let present = self.from_connect(topic, &mut Headers::new(), schema, value, &mut out)?;
        Ok(present.then_some(out))
    }

    fn to_connect_header(
        &self,
        topic: &str,
        _key: &str,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, RecordError> {
        self.to_connect(topic, &Headers::new(), data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::schemas;

    #[test]
    fn bytes_pass_through_and_others_are_refused() {
        let c = ByteArrayConverter::new();
        let mut h = Headers::new();
        let mut out = Vec::new();
        let v = Value::Bytes(vec![0, 255, 7]);
        assert!(c
            .from_connect("t", &mut h, Some(&schemas::bytes()), &v, &mut out)
            .unwrap());
        assert_eq!(out, [0, 255, 7]);
        let back = c.to_connect("t", &h, Some(&out)).unwrap();
        assert_eq!(back.value, v);
        assert_eq!(back.schema, Some(schemas::optional_bytes()));

        let mut out = Vec::new();
        assert!(!c
            .from_connect("t", &mut h, None, &Value::Null, &mut out)
            .unwrap());
        let err = c
            .from_connect("t", &mut h, None, &Value::String("x".into()), &mut out)
            .unwrap_err();
        assert!(err.message.contains("not compatible with string"), "{err}");
        let err = c
            .from_connect(
                "t",
                &mut h,
                Some(&schemas::string()),
                &Value::Bytes(vec![]),
                &mut out,
            )
            .unwrap_err();
        assert!(
            err.message
                .contains("Invalid schema type for ByteArrayConverter: STRING"),
            "{err}"
        );
        assert_eq!(c.to_connect("t", &h, None).unwrap().value, Value::Null);
    }
}
