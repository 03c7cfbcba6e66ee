//! ProtobufConverter tests: exact round trips for every schema and logical
//! type, and every message checked by a protobuf tool Sluice did not write
//! (Debian's `protoc`), which also validates each derived descriptor.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sluice_api::data::{
    decimal, names, schemas, Headers, Schema, SchemaAndValue, SchemaBuilder, Struct, Value,
};
use sluice_api::plugin::{Converter, Props};

use super::ProtobufConverter;

fn conv(kv: &[(&str, &str)]) -> ProtobufConverter {
    let props: Props = kv
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut c = ProtobufConverter::new();
    c.configure(&props, false).unwrap();
    c
}

fn encode(c: &ProtobufConverter, schema: Option<&Arc<Schema>>, v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    assert!(c
        .from_connect("t", &mut Headers::new(), schema, v, &mut out)
        .unwrap());
    out
}

fn decode(c: &ProtobufConverter, bytes: &[u8]) -> SchemaAndValue {
    c.to_connect("t", &Headers::new(), Some(bytes)).unwrap()
}

/// Asserts to_connect(from_connect(v)) == (schema, v), that protoc accepts
/// the message with its own descriptor, and returns protoc's text.
fn round_trip(schema: &Arc<Schema>, v: Value) -> String {
    let c = conv(&[]);
    let bytes = encode(&c, Some(schema), &v);
    let back = decode(&c, &bytes);
    assert_eq!(back.schema.as_deref(), Some(&**schema), "schema");
    assert_eq!(back.value, v, "value");
    protoc_decode(&bytes, "sluice.Record")
}

static FILES: AtomicUsize = AtomicUsize::new(0);

/// Runs `protoc --descriptor_set_in=<msg> --decode=<type> < <msg>`: the
/// message is its own descriptor set.
fn protoc_decode(message: &[u8], type_name: &str) -> String {
    protoc(message, |path| {
        vec![
            format!("--descriptor_set_in={}", path.display()),
            format!("--decode={type_name}"),
        ]
    })
}

/// Runs protoc with `message` on stdin (and in a file the args may name).
fn protoc(message: &[u8], args: impl FnOnce(&Path) -> Vec<String>) -> String {
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path: PathBuf =
        std::env::temp_dir().join(format!("sluice-protobuf-{}-{n}.bin", std::process::id()));
    std::fs::write(&path, message).unwrap();
    let run = Command::new("protoc")
        .args(args(&path))
        .stdin(std::fs::File::open(&path).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    let _ = std::fs::remove_file(&path);
    let out = match run {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "protoc not found: install protobuf-compiler (apt-get install -y protobuf-compiler)"
        ),
        Err(e) => panic!("cannot run protoc: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "protoc rejected the message: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// protoc's text without the descriptor and schema lines.
fn value_text(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("file_descriptor:") && !l.starts_with("connect_schema:"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn dec(text: &str) -> Vec<u8> {
    decimal::parse(text).unwrap().0
}

fn opt(s: Arc<Schema>) -> Arc<Schema> {
    s.to_optional()
}

#[test]
fn every_primitive_round_trips_with_zero_extremes_and_null() {
    let cases: Vec<(Arc<Schema>, Vec<Value>)> = vec![
        (
            schemas::int8(),
            vec![Value::Int8(0), Value::Int8(i8::MIN), Value::Int8(i8::MAX)],
        ),
        (
            schemas::int16(),
            vec![Value::Int16(0), Value::Int16(i16::MIN), Value::Int16(7)],
        ),
        (
            schemas::int32(),
            vec![Value::Int32(0), Value::Int32(i32::MIN), Value::Int32(-1)],
        ),
        (
            schemas::int64(),
            vec![Value::Int64(i64::MIN), Value::Int64(i64::MAX)],
        ),
        (
            schemas::float32(),
            vec![
                Value::Float32(0.0),
                Value::Float32(-0.0),
                Value::Float32(f32::INFINITY),
            ],
        ),
        (
            schemas::float64(),
            vec![
                Value::Float64(-0.0),
                Value::Float64(1e300),
                Value::Float64(f64::MIN_POSITIVE),
            ],
        ),
        (
            schemas::boolean(),
            vec![Value::Boolean(false), Value::Boolean(true)],
        ),
        (schemas::string(), vec!["".into(), "héllo \"q\"\n".into()]),
        (
            schemas::bytes(),
            vec![Value::Bytes(vec![]), Value::Bytes(vec![0, 255, 10])],
        ),
    ];
    for (schema, values) in cases {
        for v in values {
            round_trip(&schema, v.clone());
            // Optional: the same values, zero included, and null.
            round_trip(&opt(schema.clone()), v);
        }
        round_trip(&opt(schema.clone()), Value::Null);
    }
}

#[test]
fn negative_zero_keeps_its_sign() {
    let c = conv(&[]);
    let s = schemas::float64();
    let back = decode(&c, &encode(&c, Some(&s), &Value::Float64(-0.0)));
    let Value::Float64(f) = back.value else {
        panic!("{:?}", back.value)
    };
    assert!(f == 0.0 && f.is_sign_negative());
}

#[test]
fn logical_types_round_trip_with_names_versions_and_parameters() {
    round_trip(&schemas::decimal(2, false), Value::Bytes(dec("-12.34")));
    round_trip(&schemas::decimal(0, false), Value::Bytes(dec("0")));
    round_trip(
        &schemas::decimal(10, true),
        Value::Bytes(dec(
            "-12345678901234567890123456789012345678901234.5678901234",
        )),
    );
    round_trip(&schemas::decimal(10, true), Value::Null);
    round_trip(&schemas::decimal(-3, false), Value::Bytes(dec("42")));
    round_trip(&schemas::date(false), Value::Int32(19_000));
    round_trip(&schemas::date(true), Value::Int32(-1));
    round_trip(&schemas::time(false), Value::Int32(86_399_999));
    round_trip(&schemas::timestamp(false), Value::Int64(1_700_000_000_123));
    round_trip(&schemas::timestamp(true), Value::Null);
    let debezium = [
        (
            names::DBZ_MICRO_TIMESTAMP,
            schemas::int64(),
            Value::Int64(1_700_000_000_123_456),
        ),
        (names::DBZ_NANO_TIME, schemas::int64(), Value::Int64(5)),
        (
            names::DBZ_ZONED_TIMESTAMP,
            schemas::string(),
            "2024-01-02T03:04:05Z".into(),
        ),
        (names::DBZ_YEAR, schemas::int32(), Value::Int32(2024)),
        (names::DBZ_JSON, schemas::string(), "{\"a\":1}".into()),
        (names::DBZ_BITS, schemas::bytes(), Value::Bytes(vec![1, 2])),
    ];
    for (name, base, v) in debezium {
        let s = SchemaBuilder::from_schema(&base)
            .name(name)
            .version(1)
            .doc("a doc")
            .parameter("length", "3")
            .build();
        round_trip(&s, v);
    }
    let e = SchemaBuilder::string()
        .name(names::DBZ_ENUM)
        .parameter("allowed", "a,b,c")
        .optional()
        .default_value("a".into())
        .build();
    round_trip(&e, "b".into());
}

fn row_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .name("dbserver1.inventory.customers.Value")
        .version(3)
        .doc("a row")
        .field("id", schemas::int32())
        .field("first_name", schemas::string())
        .field("email", schemas::optional_string())
        .field("price", schemas::decimal(2, false))
        .field("born", schemas::date(true))
        .field("updated", schemas::timestamp(false))
        .field("score", schemas::optional_float64())
        .field("active", schemas::boolean())
        .field("small", schemas::int8())
        .field("photo", schemas::optional_bytes())
        .field("tags", SchemaBuilder::array(schemas::string()).build())
        .field(
            "attrs",
            SchemaBuilder::map(schemas::string(), schemas::int64())
                .optional()
                .build(),
        )
        .build()
}

fn row(id: i32, email: Option<&str>) -> Value {
    let s = row_schema();
    Value::Struct(Struct::from_values(
        s,
        vec![
            Value::Int32(id),
            "Sally".into(),
            email.map_or(Value::Null, Value::from),
            Value::Bytes(dec("1234.50")),
            Value::Int32(19_000),
            Value::Int64(1_700_000_000_123),
            Value::Null,
            Value::Boolean(true),
            Value::Int8(-3),
            Value::Bytes(vec![0xde, 0xad]),
            Value::Array(vec!["a".into(), "b c".into()]),
            Value::Map(vec![
                ("k1".into(), Value::Int64(-5)),
                ("k2".into(), Value::Int64(0)),
            ]),
        ],
    ))
}

fn envelope_schema() -> Arc<Schema> {
    let value = opt(row_schema());
    let source = SchemaBuilder::structure()
        .name("io.debezium.connector.mysql.Source")
        .field("version", schemas::string())
        .field("file", schemas::string())
        .field("pos", schemas::int64())
        .field("gtid", schemas::optional_string())
        .build();
    SchemaBuilder::structure()
        .name("dbserver1.inventory.customers.Envelope")
        .version(2)
        .field("before", value.clone())
        .field("after", value)
        .field("source", source)
        .field("op", schemas::string())
        .field("ts_ms", schemas::optional_int64())
        .build()
}

fn envelope(before: Value, after: Value) -> Value {
    let s = envelope_schema();
    let source = s.field("source").unwrap().schema.clone();
    Value::Struct(Struct::from_values(
        s,
        vec![
            before,
            after,
            Value::Struct(Struct::from_values(
                source,
                vec![
                    "2.7.0".into(),
                    "mysql-bin.000003".into(),
                    Value::Int64(154),
                    Value::Null,
                ],
            )),
            "u".into(),
            Value::Int64(1_700_000_000_999),
        ],
    ))
}

fn with_schema(v: Value, schema: &Arc<Schema>) -> Value {
    match v {
        Value::Struct(s) => Value::Struct(Struct::from_values(schema.clone(), s.values)),
        v => v,
    }
}

#[test]
fn debezium_envelope_round_trips() {
    let s = envelope_schema();
    let value_schema = s.field("after").unwrap().schema.clone();
    let after = with_schema(row(1001, Some("sally@example.com")), &value_schema);
    round_trip(&s, envelope(Value::Null, after.clone()));
    let before = with_schema(row(1001, None), &value_schema);
    round_trip(&s, envelope(before, after));
}

#[test]
fn protoc_decodes_a_row_field_by_field() {
    let s = envelope_schema();
    let value_schema = s.field("after").unwrap().schema.clone();
    let after = with_schema(row(1001, Some("sally@example.com")), &value_schema);
    let text = value_text(&round_trip(&s, envelope(Value::Null, after)));
    let expected = r#"value {
  after {
    id: 1001
    first_name: "Sally"
    email: "sally@example.com"
    price: "1234.50"
    born: 19000
    updated: 1700000000123
    active: true
    small: -3
    photo: "\336\255"
    tags: "a"
    tags: "b c"
    attrs {
      value {
        key: "k1"
        value: -5
      }
      value {
        key: "k2"
        value: 0
      }
    }
  }
  source {
    version: "2.7.0"
    file: "mysql-bin.000003"
    pos: 154
  }
  op: "u"
  ts_ms: 1700000000999
}"#;
    assert_eq!(text, expected);
}

#[test]
fn the_record_carries_the_connect_schema_and_a_descriptor_set() {
    let c = conv(&[]);
    let s = envelope_schema();
    let v = envelope(Value::Null, Value::Null);
    let text = protoc_decode(&encode(&c, Some(&s), &v), "sluice.Record");
    assert!(
        text.contains("connect_schema: \"{\\\"type\\\":\\\"struct\\\""),
        "{text}"
    );
    // The published descriptor set is what the record starts with.
    let set = c.descriptor_set(&s).unwrap();
    assert!(encode(&c, Some(&s), &v).starts_with(&set));
    // Raw field numbers of descriptor.proto: message names (DescriptorProto.name
    // = 1), proto3_optional (FieldDescriptorProto = 17), map_entry (MessageOptions = 7).
    let raw = protoc(&set, |_| vec!["--decode_raw".into()]);
    assert!(raw.contains("1: \"Envelope\""), "{raw}");
    assert!(raw.contains("17: 1"), "{raw}");
    assert!(raw.contains("7: 1"), "{raw}");
}

#[test]
fn arrays_round_trip_packed_wrapped_and_nested() {
    let ints = SchemaBuilder::array(schemas::int32()).build();
    round_trip(&ints, Value::Array(vec![]));
    round_trip(
        &ints,
        Value::Array(vec![Value::Int32(0), Value::Int32(-7), Value::Int32(300)]),
    );
    let nullable = SchemaBuilder::array(schemas::optional_int64()).build();
    round_trip(
        &nullable,
        Value::Array(vec![
            Value::Null,
            Value::Int64(0),
            Value::Null,
            Value::Int64(9),
        ]),
    );
    let optional = opt(ints.clone());
    round_trip(&optional, Value::Null);
    round_trip(&optional, Value::Array(vec![]));
    round_trip(&optional, Value::Array(vec![Value::Int32(1)]));
    let nested = SchemaBuilder::array(ints.clone()).build();
    round_trip(
        &nested,
        Value::Array(vec![
            Value::Array(vec![]),
            Value::Array(vec![Value::Int32(1), Value::Int32(2)]),
        ]),
    );
    let nested_optional = SchemaBuilder::array(opt(ints.clone())).build();
    round_trip(
        &nested_optional,
        Value::Array(vec![
            Value::Null,
            Value::Array(vec![]),
            Value::Array(vec![Value::Int32(3)]),
        ]),
    );
    let strings = SchemaBuilder::array(schemas::optional_string()).build();
    round_trip(
        &strings,
        Value::Array(vec!["".into(), Value::Null, "x".into()]),
    );
    let floats = SchemaBuilder::array(schemas::float32()).build();
    round_trip(
        &floats,
        Value::Array(vec![Value::Float32(-0.0), Value::Float32(1.5)]),
    );
    let decimals = SchemaBuilder::array(schemas::decimal(3, false)).build();
    round_trip(
        &decimals,
        Value::Array(vec![
            Value::Bytes(dec("1.000")),
            Value::Bytes(dec("-0.001")),
        ]),
    );
    let point = SchemaBuilder::structure()
        .field("x", schemas::int32())
        .field("y", schemas::optional_int32())
        .build();
    let points = SchemaBuilder::array(point.clone()).build();
    let p = |x, y: Option<i32>| {
        Value::Struct(Struct::from_values(
            point.clone(),
            vec![Value::Int32(x), y.map_or(Value::Null, Value::Int32)],
        ))
    };
    round_trip(&points, Value::Array(vec![p(0, None), p(1, Some(0))]));
    let maps =
        SchemaBuilder::array(SchemaBuilder::map(schemas::string(), schemas::int32()).build())
            .build();
    round_trip(
        &maps,
        Value::Array(vec![
            Value::Map(vec![]),
            Value::Map(vec![("a".into(), Value::Int32(1))]),
        ]),
    );
}

#[test]
fn maps_round_trip_in_order_with_any_key_type() {
    let proper = SchemaBuilder::map(schemas::int16(), schemas::string()).build();
    round_trip(
        &proper,
        Value::Map(vec![
            (Value::Int16(2), "b".into()),
            (Value::Int16(-1), "".into()),
        ]),
    );
    let bytes_keys = SchemaBuilder::map(schemas::bytes(), schemas::optional_float64()).build();
    round_trip(
        &bytes_keys,
        Value::Map(vec![
            (Value::Bytes(vec![1]), Value::Null),
            (Value::Bytes(vec![]), Value::Float64(0.0)),
        ]),
    );
    let nullable_keys = SchemaBuilder::map(schemas::optional_string(), schemas::int32()).build();
    round_trip(
        &nullable_keys,
        Value::Map(vec![(Value::Null, Value::Int32(1))]),
    );
    let of_arrays = SchemaBuilder::map(
        schemas::string(),
        SchemaBuilder::array(schemas::boolean()).build(),
    )
    .optional()
    .build();
    round_trip(&of_arrays, Value::Null);
    round_trip(&of_arrays, Value::Map(vec![]));
    round_trip(
        &of_arrays,
        Value::Map(vec![(
            "t".into(),
            Value::Array(vec![Value::Boolean(true), Value::Boolean(false)]),
        )]),
    );
    let point = SchemaBuilder::structure()
        .name("Point")
        .field("x", schemas::int64())
        .optional()
        .build();
    let of_structs = SchemaBuilder::map(schemas::int64(), point.clone()).build();
    let px = Value::Struct(Struct::from_values(point, vec![Value::Int64(4)]));
    round_trip(
        &of_structs,
        Value::Map(vec![(Value::Int64(1), px), (Value::Int64(2), Value::Null)]),
    );
    let decimal_keys = SchemaBuilder::map(schemas::decimal(1, false), schemas::int8()).build();
    round_trip(
        &decimal_keys,
        Value::Map(vec![(Value::Bytes(dec("2.5")), Value::Int8(1))]),
    );
}

#[test]
fn defaults_and_field_names_that_protobuf_would_reject_survive() {
    let s = SchemaBuilder::structure()
        .name("weird-name.1")
        .parameter("p", "q")
        .field("_id", schemas::string())
        .field("id", schemas::optional_int32())
        .field("order_id", schemas::int32())
        .field("orderId", schemas::int32())
        .field("1st", schemas::optional_boolean())
        .field("a-b c", schemas::optional_string())
        .field(
            "Record",
            SchemaBuilder::int32()
                .default_value(Value::Int32(7))
                .build(),
        )
        .field(
            "nested",
            SchemaBuilder::structure()
                .field("_id", schemas::int64())
                .optional()
                .build(),
        )
        .build();
    let nested = s.field("nested").unwrap().schema.clone();
    let v = Value::Struct(Struct::from_values(
        s.clone(),
        vec![
            "x".into(),
            Value::Int32(0),
            Value::Int32(1),
            Value::Int32(2),
            Value::Null,
            "y".into(),
            Value::Int32(8),
            Value::Struct(Struct::from_values(nested, vec![Value::Int64(1)])),
        ],
    ));
    let text = round_trip(&s, v);
    assert!(
        text.contains("order_id: 1") && text.contains("orderId_2: 2"),
        "{text}"
    );
    // A null in a required field with a default is written as the default.
    let c = conv(&[]);
    let r = SchemaBuilder::structure()
        .field(
            "n",
            SchemaBuilder::int32()
                .default_value(Value::Int32(7))
                .build(),
        )
        .build();
    let null_field = Value::Struct(Struct::from_values(r.clone(), vec![Value::Null]));
    let back = decode(&c, &encode(&c, Some(&r), &null_field));
    assert_eq!(
        back.value,
        Value::Struct(Struct::from_values(r, vec![Value::Int32(7)]))
    );
}

#[test]
fn nulls_and_top_level_primitives() {
    let c = conv(&[]);
    let mut out = Vec::new();
    // No schema and null: a Kafka null (tombstone).
    assert!(!c
        .from_connect("t", &mut Headers::new(), None, &Value::Null, &mut out)
        .unwrap());
    assert_eq!(decode_none(&c), SchemaAndValue::null());
    round_trip(&schemas::optional_string(), Value::Null);
    round_trip(&schemas::string(), "key-1".into());
    round_trip(&opt(envelope_schema()), Value::Null);
}

fn decode_none(c: &ProtobufConverter) -> SchemaAndValue {
    c.to_connect("t", &Headers::new(), None).unwrap()
}

#[test]
fn bad_input_is_an_error_that_names_the_problem() {
    let c = conv(&[]);
    let mut out = Vec::new();
    let err = c
        .from_connect("t", &mut Headers::new(), None, &Value::Int32(1), &mut out)
        .unwrap_err()
        .message;
    assert!(
        err.contains("needs a schema") && err.contains("JsonConverter"),
        "{err}"
    );
    let s = SchemaBuilder::structure()
        .field("a", schemas::int32())
        .build();
    let wrong = Value::Struct(Struct::from_values(s.clone(), vec![Value::Int64(1)]));
    let err = c
        .from_connect("t", &mut Headers::new(), Some(&s), &wrong, &mut out)
        .unwrap_err()
        .message;
    assert!(err.contains("field a") && err.contains("INT32"), "{err}");
    let null = Value::Struct(Struct::from_values(s.clone(), vec![Value::Null]));
    let err = c
        .from_connect("t", &mut Headers::new(), Some(&s), &null, &mut out)
        .unwrap_err()
        .message;
    assert!(err.contains("required field is null"), "{err}");

    let good = encode(
        &c,
        Some(&envelope_schema()),
        &envelope(Value::Null, Value::Null),
    );
    for bad in [
        &b"\xff\xff\xff"[..],
        b"not protobuf",
        &good[..good.len() - 3],
        &[0x1a, 0x02, b'{', b'}'],
    ] {
        let err = c
            .to_connect("t", &Headers::new(), Some(bad))
            .unwrap_err()
            .message;
        assert!(err.contains("ProtobufConverter"), "{err}");
    }
    // Every truncation fails cleanly or decodes; none panics.
    for cut in 0..good.len() {
        let _ = c.to_connect("t", &Headers::new(), Some(&good[..cut]));
    }
}

#[test]
fn schemas_are_derived_once_per_arc_and_the_cache_is_bounded() {
    let c = conv(&[("schemas.cache.size", "2")]);
    let s = envelope_schema();
    let v = envelope(Value::Null, Value::Null);
    let a = encode(&c, Some(&s), &v);
    assert_eq!(super::lock(&c.to_proto).len(), 1);
    assert_eq!(encode(&c, Some(&s), &v), a);
    for _ in 0..5 {
        let other = SchemaBuilder::structure()
            .field("x", schemas::int32())
            .build();
        encode(
            &c,
            Some(&other),
            &Value::Struct(Struct::new(other.clone()).with("x", 1.into())),
        );
        assert!(super::lock(&c.to_proto).len() <= 2);
    }
    decode(&c, &a);
    decode(&c, &a);
    assert_eq!(super::lock(&c.from_proto).len(), 1);
}

#[test]
fn config_names_the_package() {
    let c = conv(&[("message.name.prefix", "com.example.cdc")]);
    assert_eq!(c.record_type(), "com.example.cdc.Record");
    let s = schemas::int64();
    let text = protoc_decode(
        &encode(&c, Some(&s), &Value::Int64(5)),
        "com.example.cdc.Record",
    );
    assert!(text.contains("value: 5"), "{text}");
    let mut bad = ProtobufConverter::new();
    let props: Props = [("message.name.prefix".to_string(), "1.bad-name".to_string())].into();
    let err = bad.configure(&props, false).unwrap_err().to_string();
    assert!(err.contains("not a protobuf package name"), "{err}");
}

#[path = "python_and_cost_tests.rs"]
mod python_and_cost;

/// `descriptor.location=header`: the descriptor set rides in a record
/// header, the value is `Record` without field 1, protoc decodes the value
/// with the header as its descriptor set, and the round trip stays exact.
#[test]
fn descriptor_in_a_header_decodes_with_protoc_and_round_trips() {
    let s = envelope_schema();
    let value_schema = s.field("after").unwrap().schema.clone();
    let after = with_schema(row(1001, Some("sally@example.com")), &value_schema);
    let v = envelope(Value::Null, after);
    let c = conv(&[("descriptor.location", "header")]);
    let mut headers = Headers::new();
    let mut value = Vec::new();
    assert!(c
        .from_connect("t", &mut headers, Some(&s), &v, &mut value)
        .unwrap());
    // A retried call replaces the header instead of adding a second one.
    let mut again = Vec::new();
    c.from_connect("t", &mut headers, Some(&s), &v, &mut again)
        .unwrap();
    assert_eq!(again, value);
    assert_eq!(headers.len(), 1, "{headers:?}");
    let h = headers
        .last_with_name("sluice.protobuf.descriptor.value")
        .expect("the descriptor header");
    let Value::Bytes(set) = &h.value else {
        panic!("the header holds bytes: {h:?}")
    };
    assert_eq!(*set, c.descriptor_set(&s).unwrap());
    assert!(
        !value.starts_with(set),
        "the value no longer carries field 1"
    );

    // protoc reads the value with the header's descriptor set.
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let set_file = std::env::temp_dir().join(format!(
        "sluice-protobuf-set-{}-{n}.bin",
        std::process::id()
    ));
    std::fs::write(&set_file, set).unwrap();
    let text = protoc(&value, |_| {
        vec![
            format!("--descriptor_set_in={}", set_file.display()),
            "--decode=sluice.Record".into(),
        ]
    });
    let _ = std::fs::remove_file(&set_file);
    let in_value = protoc_decode(&encode(&conv(&[]), Some(&s), &v), "sluice.Record");
    assert_eq!(value_text(&text), value_text(&in_value));
    assert!(!text.contains("file_descriptor"), "{text}");

    // Both layouts read back to the same schema and value.
    let back = decode(&c, &value);
    assert_eq!(back.schema.as_deref(), Some(&*s));
    assert_eq!(back.value, v);

    // The key converter's header has its own name; the name is configurable.
    let mut key = ProtobufConverter::new();
    key.configure(
        &[("descriptor.location".to_string(), "header".to_string())].into(),
        true,
    )
    .unwrap();
    let mut headers = Headers::new();
    key.from_connect("t", &mut headers, Some(&s), &v, &mut Vec::new())
        .unwrap();
    assert!(headers
        .last_with_name("sluice.protobuf.descriptor.key")
        .is_some());
    let named = conv(&[
        ("descriptor.location", "header"),
        ("descriptor.header.name", "proto.desc"),
    ]);
    let mut headers = Headers::new();
    named
        .from_connect("t", &mut headers, Some(&s), &v, &mut Vec::new())
        .unwrap();
    assert!(headers.last_with_name("proto.desc").is_some());
}
