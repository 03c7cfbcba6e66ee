//! Field-level Kafka Connect transforms, schemaful and schemaless.

use std::sync::Arc;

use sluice_api::data::{
    decimal, names, schemas, RecordData, Schema, SchemaBuilder, SchemaType, Struct, Value,
};

use super::*;

fn row_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .name("row")
        .field("id", schemas::int64())
        .field("name", schemas::optional_string())
        .field("price", schemas::float64())
        .field("flag", schemas::boolean())
        .build()
}

fn row(id: i64, name: Option<&str>) -> Value {
    Value::Struct(Struct::from_values(
        row_schema(),
        vec![
            Value::Int64(id),
            Value::from(name),
            Value::Float64(2.5),
            Value::Boolean(true),
        ],
    ))
}

fn get<'a>(v: &'a Value, f: &str) -> &'a Value {
    match v {
        Value::Struct(s) => s.get(f).unwrap_or_else(|| panic!("no field {f}")),
        Value::Map(_) => v.map_get(f).unwrap_or_else(|| panic!("no key {f}")),
        _ => panic!("not a struct or map"),
    }
}

#[test]
fn cast_fields_schemaful_and_schemaless() {
    let t = make(
        "Cast$Value",
        &[("spec", "id:int8,price:string,flag:int32,name:boolean")],
    );
    let s = row_schema();
    let mut v = row(300, Some("TRUE"));
    let r = apply(&*t, record(Some(s.clone()), v.clone()));
    let out = r.value_schema.clone().unwrap();
    assert_eq!(out.field("id").unwrap().schema.kind, SchemaType::Int8);
    assert!(out.field("name").unwrap().schema.optional);
    assert_eq!(get(&r.value, "id"), &Value::Int8(44)); // 300 wraps like Java's byteValue
    assert_eq!(get(&r.value, "price"), &Value::from("2.5"));
    assert_eq!(get(&r.value, "flag"), &Value::Int32(1));
    assert_eq!(get(&r.value, "name"), &Value::Boolean(true));
    // The cast schema is built once.
    v = row(1, None);
    let r2 = apply(&*t, record(Some(s), v));
    assert!(Arc::ptr_eq(&r2.value_schema.unwrap(), &out));
    assert_eq!(get(&r2.value, "name"), &Value::Null);

    let r = apply(
        &*t,
        record(
            None,
            map(&[
                ("id", Value::from("7")),
                ("price", Value::Float64(1e10)),
                ("other", Value::from(1)),
            ]),
        ),
    );
    assert_eq!(get(&r.value, "id"), &Value::Int8(7));
    assert_eq!(get(&r.value, "price"), &Value::from("1.0E10"));
    assert_eq!(get(&r.value, "other"), &Value::Int32(1));
    let e = t
        .apply(record(None, map(&[("id", Value::from("x"))])))
        .unwrap_err()
        .to_string();
    assert!(e.contains("For input string"), "{e}");
}

#[test]
fn cast_whole_value_and_logical_types() {
    let t = make(
        "org.apache.kafka.connect.transforms.Cast$Value",
        &[("spec", "int32")],
    );
    let r = apply(
        &*t,
        record(Some(schemas::optional_float64()), Value::Float64(-3.9)),
    );
    assert_eq!(r.value, Value::Int32(-3));
    assert_eq!(r.value_schema.unwrap(), schemas::optional_int32());
    let r = apply(&*t, record(None, Value::from("12")));
    assert_eq!(r.value, Value::Int32(12));

    let dec = schemas::decimal(2, false);
    let t = make("Cast$Value", &[("spec", "string")]);
    let r = apply(
        &*t,
        record(
            Some(dec.clone()),
            Value::Bytes(decimal::i128_to_bytes(-12345)),
        ),
    );
    assert_eq!(r.value, Value::from("-123.45"));
    let t = make("Cast$Value", &[("spec", "int64")]);
    assert_eq!(
        apply(
            &*t,
            record(Some(dec), Value::Bytes(decimal::i128_to_bytes(12399)))
        )
        .value,
        Value::Int64(123)
    );
    let t = make("Cast$Value", &[("spec", "string")]);
    let r = apply(
        &*t,
        record(
            Some(schemas::timestamp(false)),
            Value::Int64(1_700_000_000_123),
        ),
    );
    assert_eq!(r.value, Value::from("2023-11-14T22:13:20.123Z"));
    let r = apply(
        &*t,
        record(Some(schemas::bytes()), Value::Bytes(b"foo".to_vec())),
    );
    assert_eq!(r.value, Value::from("Zm9v"));
    let t = make("Cast$Value", &[("spec", "int32")]);
    assert!(t
        .apply(record(Some(schemas::date(false)), Value::Int32(1)))
        .is_err());

    assert!(config_error("Cast$Value", &[("spec", "int32,string")]).contains("single cast"));
    assert!(config_error("Cast$Value", &[("spec", "a:bytes")]).contains("spec"));
    let mut k = RecordData {
        key: Value::from("5"),
        ..Default::default()
    };
    k = apply(&*make("Cast$Key", &[("spec", "int16")]), k);
    assert_eq!(k.key, Value::Int16(5));
}

#[test]
fn extract_field_and_hoist_field() {
    let t = make("ExtractField$Value", &[("field", "name")]);
    let r = apply(&*t, record(Some(row_schema()), row(1, Some("ann"))));
    assert_eq!(r.value, Value::from("ann"));
    assert_eq!(r.value_schema.unwrap(), schemas::optional_string());
    let r = apply(&*t, record(None, map(&[("name", Value::from("bob"))])));
    assert_eq!(r.value, Value::from("bob"));
    assert_eq!(apply(&*t, record(None, map(&[]))).value, Value::Null);
    assert_eq!(
        apply(&*t, record(Some(row_schema()), Value::Null)).value,
        Value::Null
    );
    let t2 = make("ExtractField$Value", &[("field", "nope")]);
    assert!(t2
        .apply(record(Some(row_schema()), row(1, None)))
        .unwrap_err()
        .to_string()
        .contains("Unknown field: nope"));

    let h = make("HoistField$Value", &[("field", "wrapped")]);
    let r = apply(&*h, record(Some(schemas::int32()), Value::Int32(5)));
    let s = r.value_schema.clone().unwrap();
    assert_eq!(s.fields.len(), 1);
    assert_eq!(s.field("wrapped").unwrap().schema, schemas::int32());
    assert_eq!(get(&r.value, "wrapped"), &Value::Int32(5));
    let r = apply(&*h, record(None, Value::from("x")));
    assert_eq!(r.value, map(&[("wrapped", Value::from("x"))]));
    let mut k = RecordData {
        key: Value::from(1),
        ..Default::default()
    };
    k = apply(&*make("HoistField$Key", &[("field", "k")]), k);
    assert_eq!(k.key, map(&[("k", Value::Int32(1))]));
}

#[test]
fn flatten_nested_structs_and_maps() {
    let inner = SchemaBuilder::structure()
        .optional()
        .field("city", schemas::string())
        .field("zip", schemas::int32())
        .build();
    let s = SchemaBuilder::structure()
        .name("outer")
        .field("id", schemas::int32())
        .field("addr", inner.clone())
        .field("tags", SchemaBuilder::array(schemas::string()).build())
        .build();
    let v = Value::Struct(Struct::from_values(
        s.clone(),
        vec![
            Value::Int32(1),
            Value::Struct(Struct::from_values(
                inner,
                vec![Value::from("Oslo"), Value::Int32(150)],
            )),
            Value::Array(vec![Value::from("a")]),
        ],
    ));
    let t = make("Flatten$Value", &[]);
    let r = apply(&*t, record(Some(s.clone()), v));
    let out = r.value_schema.clone().unwrap();
    let names: Vec<&str> = out.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["id", "addr.city", "addr.zip", "tags"]);
    assert_eq!(out.name(), Some("outer"));
    assert!(
        out.field("addr.city").unwrap().schema.optional,
        "a child of an optional struct is optional"
    );
    assert_eq!(get(&r.value, "addr.zip"), &Value::Int32(150));
    // A null nested struct flattens to null leaves.
    let v = Value::Struct(Struct::from_values(
        s.clone(),
        vec![Value::Int32(2), Value::Null, Value::Array(vec![])],
    ));
    let r = apply(&*t, record(Some(s), v));
    assert_eq!(get(&r.value, "addr.city"), &Value::Null);

    let t = make("Flatten$Value", &[("delimiter", "_")]);
    let r = apply(
        &*t,
        record(
            None,
            map(&[
                ("a", map(&[("b", map(&[("c", Value::Int32(1))]))])),
                ("d", Value::Array(vec![])),
            ]),
        ),
    );
    assert_eq!(
        r.value,
        map(&[("a_b_c", Value::Int32(1)), ("d", Value::Array(vec![]))])
    );
    assert_eq!(apply(&*t, record(None, Value::Null)).value, Value::Null);
}

#[test]
fn header_from_copies_and_moves() {
    let t = make(
        "HeaderFrom$Value",
        &[
            ("fields", "id,name"),
            ("headers", "h_id,h_name"),
            ("operation", "copy"),
        ],
    );
    let r = apply(&*t, record(Some(row_schema()), row(9, Some("x"))));
    assert_eq!(
        r.headers.last_with_name("h_id").unwrap().value,
        Value::Int64(9)
    );
    assert_eq!(
        r.headers.last_with_name("h_name").unwrap().schema,
        Some(schemas::optional_string())
    );
    assert_eq!(r.value_schema.unwrap().fields.len(), 4);
    let t = make(
        "HeaderFrom$Value",
        &[("fields", "id"), ("headers", "h_id"), ("operation", "move")],
    );
    let r = apply(&*t, record(Some(row_schema()), row(9, None)));
    let s = r.value_schema.unwrap();
    assert!(s.field("id").is_none());
    assert_eq!(s.fields.len(), 3);
    assert_eq!(get(&r.value, "price"), &Value::Float64(2.5));
    let r = apply(
        &*t,
        record(None, map(&[("id", Value::from(3)), ("x", Value::from(1))])),
    );
    assert_eq!(r.value, map(&[("x", Value::Int32(1))]));
    assert_eq!(
        r.headers.last_with_name("h_id").unwrap().value,
        Value::Int32(3)
    );
    assert!(config_error(
        "HeaderFrom$Value",
        &[("fields", "a,b"), ("headers", "h"), ("operation", "copy")]
    )
    .contains("same number"));
    assert!(config_error(
        "HeaderFrom$Key",
        &[("fields", "a"), ("headers", "h"), ("operation", "cut")]
    )
    .contains("operation"));
}

#[test]
fn insert_field_metadata_and_static() {
    let t = make(
        "InsertField$Value",
        &[
            ("topic.field", "t!"),
            ("partition.field", "p"),
            ("timestamp.field", "ts?"),
            ("static.field", "src"),
            ("static.value", "sluice"),
        ],
    );
    let mut r = record(Some(row_schema()), row(1, None));
    r.kafka_partition = Some(3);
    r.timestamp = Some(1000);
    let r = apply(&*t, r);
    let s = r.value_schema.clone().unwrap();
    assert_eq!(s.field("t").unwrap().schema, schemas::string());
    assert_eq!(s.field("p").unwrap().schema, schemas::optional_int32());
    assert_eq!(s.field("ts").unwrap().schema.name(), Some(names::TIMESTAMP));
    assert_eq!(get(&r.value, "t"), &Value::from("test"));
    assert_eq!(get(&r.value, "p"), &Value::Int32(3));
    assert_eq!(get(&r.value, "ts"), &Value::Int64(1000));
    assert_eq!(get(&r.value, "src"), &Value::from("sluice"));
    // Schemaless: the partition key is left out when the record has none
    // (Kafka Connect puts it only when `kafkaPartition() != null`).
    let r = apply(&*t, record(None, map(&[("a", Value::from(1))])));
    assert_eq!(get(&r.value, "t"), &Value::from("test"));
    assert_eq!(r.value.map_get("p"), None);
    assert_eq!(r.value.map_get("ts"), None);
    assert_eq!(get(&r.value, "src"), &Value::from("sluice"));
    // Tombstones pass unchanged.
    assert_eq!(
        apply(&*t, record(Some(row_schema()), Value::Null)).value,
        Value::Null
    );
    // A required field the record has no value for: an error on a struct
    // (Kafka Connect's Struct.validate), the key left out on a map.
    let t = make("InsertField$Value", &[("timestamp.field", "ts!")]);
    let e = t
        .apply(record(Some(row_schema()), row(1, None)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("null used for required field: \"ts\""), "{e}");
    let r = apply(&*t, record(None, map(&[])));
    assert_eq!(r.value, map(&[]));
}

/// A sink record: read from Kafka at `offset`.
fn sink_record(schema: Option<Arc<Schema>>, value: Value, offset: i64) -> RecordData {
    RecordData {
        kafka_partition: Some(2),
        timestamp: Some(5000),
        kafka_offset: Some(offset),
        ..record(schema, value)
    }
}

#[test]
fn insert_field_offset_on_sink_records() {
    let all = [
        ("topic.field", "t"),
        ("partition.field", "p"),
        ("offset.field", "o!"),
        ("timestamp.field", "ts"),
        ("static.field", "src"),
        ("static.value", "sluice"),
    ];
    let t = make("InsertField$Value", &all);
    let r = apply(&*t, sink_record(Some(row_schema()), row(1, None), 42));
    let s = r.value_schema.clone().unwrap();
    // Kafka Connect's order: topic, partition, offset, timestamp, static.
    let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["id", "name", "price", "flag", "t", "p", "o", "ts", "src"]
    );
    assert_eq!(s.field("o").unwrap().schema, schemas::int64());
    assert_eq!(get(&r.value, "t"), &Value::from("test"));
    assert_eq!(get(&r.value, "p"), &Value::Int32(2));
    assert_eq!(get(&r.value, "o"), &Value::Int64(42));
    assert_eq!(get(&r.value, "ts"), &Value::Int64(5000));
    // Optional (the default suffix): an optional int64.
    let t2 = make("InsertField$Value", &[("offset.field", "off")]);
    let r = apply(&*t2, sink_record(Some(row_schema()), row(1, None), 7));
    let s = r.value_schema.clone().unwrap();
    assert_eq!(s.field("off").unwrap().schema, schemas::optional_int64());
    assert_eq!(get(&r.value, "off"), &Value::Int64(7));
    // Schemaless: every key, the offset as an int64.
    let r = apply(&*t, sink_record(None, map(&[("a", Value::from(1))]), 9));
    assert_eq!(get(&r.value, "o"), &Value::Int64(9));
    assert_eq!(get(&r.value, "p"), &Value::Int32(2));
    assert_eq!(get(&r.value, "ts"), &Value::Int64(5000));
    // A source record has no Kafka offset: Kafka Connect's requireSinkRecord.
    for r in [
        record(Some(row_schema()), row(1, None)),
        record(None, map(&[("a", Value::from(1))])),
    ] {
        let e = t2.apply(r).unwrap_err().to_string();
        assert!(
            e.contains("Only SinkRecord supported for [field insertion]"),
            "{e}"
        );
    }
    // The key variant reads the same offset.
    let tk = make("InsertField$Key", &[("offset.field", "o")]);
    let mut r = sink_record(None, Value::Null, 3);
    r.key = map(&[("id", Value::from(1))]);
    let r = apply(&*tk, r);
    assert_eq!(get(&r.key, "o"), &Value::Int64(3));
}

#[test]
fn mask_field_defaults_and_replacement() {
    let t = make("MaskField$Value", &[("fields", "id,name,price,flag")]);
    let r = apply(&*t, record(Some(row_schema()), row(5, Some("secret"))));
    assert_eq!(get(&r.value, "id"), &Value::Int64(0));
    assert_eq!(get(&r.value, "name"), &Value::from(""));
    assert_eq!(get(&r.value, "price"), &Value::Float64(0.0));
    assert_eq!(get(&r.value, "flag"), &Value::Boolean(false));
    assert_eq!(
        apply(&*t, record(Some(row_schema()), row(5, None)))
            .value
            .as_struct()
            .unwrap()
            .get("name"),
        Some(&Value::Null)
    );
    let t = make(
        "MaskField$Value",
        &[("fields", "name,id"), ("replacement", "42")],
    );
    let r = apply(
        &*t,
        record(
            None,
            map(&[
                ("name", Value::from("x")),
                ("id", Value::Int64(7)),
                ("k", Value::from(1)),
            ]),
        ),
    );
    assert_eq!(
        r.value,
        map(&[
            ("name", Value::from("42")),
            ("id", Value::Int64(42)),
            ("k", Value::Int32(1))
        ])
    );
    let t = make(
        "MaskField$Value",
        &[("fields", "flag"), ("replacement", "x")],
    );
    assert!(t
        .apply(record(Some(row_schema()), row(1, None)))
        .unwrap_err()
        .to_string()
        .contains("custom replacement"));
    let t = make(
        "MaskField$Value",
        &[("fields", "id"), ("replacement", "abc")],
    );
    assert!(t.apply(record(Some(row_schema()), row(1, None))).is_err());
}

#[test]
fn replace_field_include_exclude_rename() {
    let t = make(
        "ReplaceField$Value",
        &[("exclude", "price"), ("renames", "id:key,name:label")],
    );
    let r = apply(&*t, record(Some(row_schema()), row(1, Some("n"))));
    let s = r.value_schema.clone().unwrap();
    let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["key", "label", "flag"]);
    assert_eq!(s.name(), Some("row"));
    assert_eq!(get(&r.value, "label"), &Value::from("n"));
    let t = make(
        "ReplaceField$Value",
        &[("include", "id,flag"), ("exclude", "flag")],
    );
    let r = apply(
        &*t,
        record(
            None,
            map(&[
                ("id", Value::from(1)),
                ("flag", Value::from(true)),
                ("x", Value::Null),
            ]),
        ),
    );
    assert_eq!(r.value, map(&[("id", Value::Int32(1))]));
    let t = make(
        "ReplaceField$Value",
        &[("whitelist", "name"), ("blacklist", "id")],
    );
    let r = apply(&*t, record(Some(row_schema()), row(1, Some("n"))));
    assert_eq!(r.value_schema.unwrap().fields.len(), 1);
    assert!(config_error("ReplaceField$Value", &[("renames", "a-b")]).contains("renames"));
}

#[test]
fn timestamp_converter_between_types() {
    let s = SchemaBuilder::structure()
        .field("ts", schemas::int64())
        .field("x", schemas::int32())
        .build();
    let v = Value::Struct(Struct::from_values(
        s.clone(),
        vec![Value::Int64(1_700_000_000_123), Value::Int32(1)],
    ));
    let t = make(
        "TimestampConverter$Value",
        &[
            ("field", "ts"),
            ("target.type", "string"),
            ("format", "yyyy-MM-dd HH:mm:ss.SSS"),
        ],
    );
    let r = apply(&*t, record(Some(s.clone()), v.clone()));
    assert_eq!(get(&r.value, "ts"), &Value::from("2023-11-14 22:13:20.123"));
    assert_eq!(
        r.value_schema.unwrap().field("ts").unwrap().schema,
        schemas::string()
    );
    let t = make(
        "TimestampConverter$Value",
        &[("field", "ts"), ("target.type", "Date")],
    );
    let r = apply(&*t, record(Some(s.clone()), v.clone()));
    assert_eq!(get(&r.value, "ts"), &Value::Int32(19_675));
    assert_eq!(
        r.value_schema.unwrap().field("ts").unwrap().schema.name(),
        Some(names::DATE)
    );
    let t = make(
        "TimestampConverter$Value",
        &[("field", "ts"), ("target.type", "Time")],
    );
    assert_eq!(
        get(&apply(&*t, record(Some(s.clone()), v.clone())).value, "ts"),
        &Value::Int32(80_000_123)
    );
    let t = make(
        "TimestampConverter$Value",
        &[
            ("field", "ts"),
            ("target.type", "unix"),
            ("unix.precision", "seconds"),
        ],
    );
    // unix.precision reads int64 input in the same unit: a round trip.
    assert_eq!(
        get(&apply(&*t, record(Some(s), v)).value, "ts"),
        &Value::Int64(1_700_000_000_123)
    );
    let t = make(
        "TimestampConverter$Value",
        &[("target.type", "unix"), ("unix.precision", "seconds")],
    );
    let r = apply(
        &*t,
        record(
            Some(schemas::timestamp(false)),
            Value::Int64(1_700_000_000_999),
        ),
    );
    assert_eq!(r.value, Value::Int64(1_700_000_000));

    // Whole value, schemaless: string in, Timestamp out.
    let t = make(
        "TimestampConverter$Value",
        &[
            ("target.type", "Timestamp"),
            ("format", "yyyy-MM-dd'T'HH:mm:ssXXX"),
        ],
    );
    let r = apply(&*t, record(None, Value::from("1970-01-02T00:00:00Z")));
    assert_eq!(r.value, Value::Int64(86_400_000));
    let t = make(
        "TimestampConverter$Value",
        &[
            ("target.type", "Timestamp"),
            ("unix.precision", "microseconds"),
        ],
    );
    let r = apply(&*t, record(Some(schemas::int64()), Value::Int64(5_000_000)));
    assert_eq!(r.value, Value::Int64(5_000));
    assert_eq!(r.value_schema.unwrap().name(), Some(names::TIMESTAMP));
    let t = make(
        "TimestampConverter$Value",
        &[("field", "ts"), ("target.type", "unix")],
    );
    let e = t
        .apply(record(None, map(&[("ts", Value::from("x"))])))
        .unwrap_err()
        .to_string();
    assert!(e.contains("format"), "{e}");
    assert!(
        config_error("TimestampConverter$Value", &[("target.type", "string")]).contains("format")
    );
    assert!(
        config_error("TimestampConverter$Value", &[("target.type", "week")])
            .contains("target.type")
    );
    assert!(config_error(
        "TimestampConverter$Value",
        &[("target.type", "string"), ("format", "yyyy-ww")]
    )
    .contains("'w'"));
}

#[test]
fn value_to_key_builds_key() {
    let t = make("ValueToKey", &[("fields", "id,flag")]);
    let r = apply(&*t, record(Some(row_schema()), row(4, None)));
    let ks = r.key_schema.clone().unwrap();
    assert_eq!(
        ks.fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["id", "flag"]
    );
    assert_eq!(get(&r.key, "id"), &Value::Int64(4));
    let r2 = apply(&*t, record(Some(row_schema()), row(5, None)));
    assert!(Arc::ptr_eq(&r2.key_schema.unwrap(), &ks));
    let r = apply(
        &*t,
        record(None, map(&[("id", Value::from(1)), ("z", Value::from(2))])),
    );
    assert_eq!(
        r.key,
        map(&[("id", Value::Int32(1)), ("flag", Value::Null)])
    );
    let t = make("ValueToKey", &[("fields", "nope")]);
    assert!(t
        .apply(record(Some(row_schema()), row(1, None)))
        .unwrap_err()
        .to_string()
        .contains("Field does not exist: nope"));
}
