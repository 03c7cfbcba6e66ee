//! JsonConverter tests: exact Kafka Connect bytes and exact round trips.

use std::sync::Arc;
use std::time::Instant;

use sluice_api::data::{
    decimal, names, schemas, Headers, Schema, SchemaAndValue, SchemaBuilder, Struct, Value,
};
use sluice_api::plugin::{Converter, HeaderConverter, Props};

use super::JsonConverter;

fn conv(kv: &[(&str, &str)]) -> JsonConverter {
    let props: Props = kv
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut c = JsonConverter::new();
    Converter::configure(&mut c, &props, false).unwrap();
    c
}

fn encode(c: &JsonConverter, schema: Option<&Arc<Schema>>, v: &Value) -> String {
    let mut out = Vec::new();
    assert!(c
        .from_connect("t", &mut Headers::new(), schema, v, &mut out)
        .unwrap());
    String::from_utf8(out).unwrap()
}

fn decode(c: &JsonConverter, bytes: &str) -> SchemaAndValue {
    c.to_connect("t", &Headers::new(), Some(bytes.as_bytes()))
        .unwrap()
}

fn decode_err(c: &JsonConverter, bytes: &[u8]) -> String {
    c.to_connect("t", &Headers::new(), Some(bytes))
        .unwrap_err()
        .message
}

/// Asserts to_connect(from_connect(v)) == (schema, v) and returns the JSON.
fn round_trip(c: &JsonConverter, schema: &Arc<Schema>, v: Value) -> String {
    let json = encode(c, Some(schema), &v);
    let back = decode(c, &json);
    assert_eq!(back.schema.as_deref(), Some(&**schema), "schema of {json}");
    assert_eq!(back.value, v, "value of {json}");
    json
}

fn dec(text: &str) -> (Vec<u8>, i32) {
    decimal::parse(text).unwrap()
}

#[test]
fn schema_json_has_kafka_connects_shape() {
    let c = conv(&[]);
    let schema = SchemaBuilder::structure()
        .name("db.inv.customers.Value")
        .version(1)
        .doc("a \"row\"")
        .field("id", schemas::int32())
        .field("born", schemas::date(true))
        .field("price", schemas::decimal(2, false))
        .field(
            "tags",
            SchemaBuilder::array(schemas::string()).optional().build(),
        )
        .field(
            "attrs",
            SchemaBuilder::map(schemas::string(), schemas::optional_int64()).build(),
        )
        .field(
            "note",
            SchemaBuilder::string()
                .optional()
                .default_value("n/a".into())
                .parameter("__debezium.source.column.type", "VARCHAR")
                .build(),
        )
        .build();
    let value = Struct::from_values(
        schema.clone(),
        vec![
            Value::Int32(7),
            Value::Null,
            Value::Bytes(dec("12.30").0),
            Value::Array(vec!["a".into()]),
            Value::Map(vec![("k".into(), Value::Int64(-1))]),
            Value::Null,
        ],
    );
    let json = encode(&c, Some(&schema), &Value::Struct(value));
    let expected = concat!(
        r#"{"schema":{"type":"struct","fields":["#,
        r#"{"type":"int32","optional":false,"field":"id"},"#,
        r#"{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"born"},"#,
        r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"price"},"#,
        r#"{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"tags"},"#,
        r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int64","optional":true},"optional":false,"field":"attrs"},"#,
        r#"{"type":"string","optional":true,"parameters":{"__debezium.source.column.type":"VARCHAR"},"default":"n/a","field":"note"}],"#,
        r#""optional":false,"name":"db.inv.customers.Value","version":1,"doc":"a \"row\""},"#,
        r#""payload":{"id":7,"born":null,"price":"BM4=","tags":["a"],"attrs":{"k":-1},"note":"n/a"}}"#
    );
    assert_eq!(json, expected);
    // Second write comes from the schema cache and is identical.
    let again = Struct::from_values(
        schema.clone(),
        vec![
            Value::Int32(8),
            Value::Int32(3),
            Value::Bytes(vec![0]),
            Value::Null,
            Value::Map(vec![]),
            "x".into(),
        ],
    );
    let json2 = encode(&c, Some(&schema), &Value::Struct(again));
    assert!(json2.starts_with(&expected[..expected.find(",\"payload\"").unwrap()]));
    assert!(
        json2.ends_with(
            r#""payload":{"id":8,"born":3,"price":"AA==","tags":null,"attrs":{},"note":"x"}}"#
        ),
        "{json2}"
    );
}

#[test]
fn every_primitive_and_logical_type_round_trips() {
    let c = conv(&[]);
    let cases: Vec<(Arc<Schema>, Value)> = vec![
        (schemas::int8(), Value::Int8(-128)),
        (schemas::int16(), Value::Int16(32_767)),
        (schemas::int32(), Value::Int32(i32::MIN)),
        (schemas::int64(), Value::Int64(i64::MAX)),
        (schemas::float32(), Value::Float32(3.4028235e38)),
        (schemas::float32(), Value::Float32(0.1)),
        (schemas::float64(), Value::Float64(-1.5e-300)),
        (schemas::float64(), Value::Float64(0.1 + 0.2)),
        (schemas::boolean(), Value::Boolean(false)),
        (schemas::string(), Value::String("".into())),
        (schemas::bytes(), Value::Bytes(vec![0, 1, 254, 255])),
        (schemas::bytes(), Value::Bytes(vec![])),
        (schemas::date(false), Value::Int32(-719_162)),
        (schemas::time(false), Value::Int32(86_399_999)),
        (schemas::timestamp(false), Value::Int64(1_700_000_000_123)),
        (schemas::decimal(3, false), Value::Bytes(dec("-12.345").0)),
        (schemas::optional_int32(), Value::Null),
        (schemas::decimal(0, true), Value::Null),
    ];
    for (schema, v) in cases {
        round_trip(&c, &schema, v);
    }
    assert_eq!(
        round_trip(&c, &schemas::float64(), Value::Float64(1e21)),
        r#"{"schema":{"type":"double","optional":false},"payload":1.0E21}"#
    );
}

#[test]
fn non_finite_floats_are_quoted_like_jackson() {
    let c = conv(&[]);
    let json = round_trip(&c, &schemas::float64(), Value::Float64(f64::INFINITY));
    assert!(json.ends_with(r#""payload":"Infinity"}"#), "{json}");
    round_trip(&c, &schemas::float32(), Value::Float32(f32::NEG_INFINITY));
    let json = encode(&c, Some(&schemas::float64()), &Value::Float64(f64::NAN));
    assert!(json.ends_with(r#""payload":"NaN"}"#), "{json}");
    match decode(&c, &json).value {
        Value::Float64(v) => assert!(v.is_nan()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn strings_escape_like_jackson_and_round_trip() {
    let c = conv(&[("schemas.enable", "false")]);
    let s = "quote\" back\\ slash/ nl\n tab\t bell\u{7} nul\u{0} del\u{7f} é 中文 😀";
    let json = round_trip_schemaless_string(&c, s);
    assert_eq!(
        json,
        "\"quote\\\" back\\\\ slash/ nl\\n tab\\t bell\\u0007 nul\\u0000 del\u{7f} é 中文 😀\""
    );
    // Escaped input, including a surrogate pair, reads back.
    let back = decode(&c, r#""\u00e9\ud83d\ude00\/\b\f\r""#);
    assert_eq!(back.value, Value::String("é😀/\u{8}\u{c}\r".into()));
}

fn round_trip_schemaless_string(c: &JsonConverter, s: &str) -> String {
    let json = encode(c, Some(&schemas::string()), &s.into());
    assert_eq!(decode(c, &json).value, Value::String(s.into()));
    json
}

#[test]
fn nested_structs_arrays_and_maps_round_trip() {
    let c = conv(&[]);
    let inner = SchemaBuilder::structure()
        .name("inner")
        .optional()
        .field("x", schemas::optional_float64())
        .field("when", schemas::timestamp(true))
        .build();
    let schema = SchemaBuilder::structure()
        .name("outer")
        .field("inner", inner.clone())
        .field("list", SchemaBuilder::array(inner.clone()).build())
        .field(
            "by_id",
            SchemaBuilder::map(
                schemas::int32(),
                SchemaBuilder::array(schemas::optional_string()).build(),
            )
            .build(),
        )
        .field(
            "nums",
            SchemaBuilder::map(schemas::string(), schemas::decimal(4, false)).build(),
        )
        .build();
    let i1 = Struct::from_values(inner.clone(), vec![Value::Float64(2.5), Value::Int64(0)]);
    let i2 = Struct::from_values(inner.clone(), vec![Value::Null, Value::Null]);
    let v = Value::Struct(Struct::from_values(
        schema.clone(),
        vec![
            Value::Null,
            Value::Array(vec![Value::Struct(i1), Value::Null, Value::Struct(i2)]),
            Value::Map(vec![
                (Value::Int32(2), Value::Array(vec!["a".into(), Value::Null])),
                (Value::Int32(-1), Value::Array(vec![])),
            ]),
            Value::Map(vec![("pi".into(), Value::Bytes(dec("3.1416").0))]),
        ],
    ));
    let json = round_trip(&c, &schema, v);
    assert!(
        json.contains(r#""by_id":[[2,["a",null]],[-1,[]]]"#),
        "{json}"
    );
    assert!(
        json.contains(r#""list":[{"x":2.5,"when":0},null,{"x":null,"when":null}]"#),
        "{json}"
    );
}

#[test]
fn defaults_and_names_and_parameters_round_trip() {
    let schema = SchemaBuilder::structure()
        .name("with.defaults")
        .version(3)
        .doc("doc ✓")
        .parameter("p1", "v1")
        .field(
            "a",
            SchemaBuilder::int32()
                .optional()
                .default_value(Value::Int32(5))
                .build(),
        )
        .field(
            "d",
            SchemaBuilder::from_schema(&schemas::decimal(2, true))
                .parameter("connect.decimal.precision", "10")
                .default_value(Value::Bytes(dec("1.50").0))
                .build(),
        )
        .field("s", SchemaBuilder::string().optional().build())
        .build();
    // With replace.null.with.default (the default) a null field reads and
    // writes as its default.
    let c = conv(&[]);
    let v = Struct::from_values(
        schema.clone(),
        vec![Value::Int32(1), Value::Bytes(dec("0.01").0), "s".into()],
    );
    let json = round_trip(&c, &schema, Value::Struct(v));
    assert!(
        json.contains(
            r#""parameters":{"scale":"2","connect.decimal.precision":"10"},"default":"AJY=""#
        ),
        "{json}"
    );
    let nulls = Struct::from_values(schema.clone(), vec![Value::Null, Value::Null, Value::Null]);
    let json = encode(&c, Some(&schema), &Value::Struct(nulls.clone()));
    assert!(
        json.ends_with(r#""payload":{"a":5,"d":"AJY=","s":null}}"#),
        "{json}"
    );
    // Without it, nulls stay null both ways.
    let c = conv(&[("replace.null.with.default", "false")]);
    let json = round_trip(&c, &schema, Value::Struct(nulls));
    assert!(
        json.ends_with(r#""payload":{"a":null,"d":null,"s":null}}"#),
        "{json}"
    );
}

#[test]
fn numeric_decimals_are_exact_beyond_i128() {
    let c = conv(&[("decimal.format", "NUMERIC")]);
    for (text, scale, written) in [
        ("12.30", 2, "12.30"),
        ("-0.000001", 6, "-0.000001"),
        ("0.00000001", 8, "1E-8"),
        (
            "-123456789012345678901234567890123456789012345678901234567890.12345",
            5,
            "-123456789012345678901234567890123456789012345678901234567890.12345",
        ),
        (
            "99999999999999999999999999999999999999999999999999999999999999999",
            0,
            "99999999999999999999999999999999999999999999999999999999999999999",
        ),
    ] {
        let schema = schemas::decimal(scale, false);
        let bytes = decimal::parse(text).unwrap().0;
        let json = round_trip(&c, &schema, Value::Bytes(bytes));
        assert!(
            json.ends_with(&format!("\"payload\":{written}}}")),
            "{json}"
        );
    }
    // A number with fewer digits than the scale is widened, never rounded.
    let back = decode(
        &c,
        r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"3"}},"payload":1.5}"#,
    );
    assert_eq!(back.value, Value::Bytes(dec("1.500").0));
    let err = decode_err(&c, br#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"1"}},"payload":1.25}"#);
    assert!(err.contains("does not fit a Decimal of scale 1"), "{err}");
    // BASE64 of wide decimals round trips too, and non-minimal input bytes
    // are written minimal as Kafka Connect's BigInteger does.
    let c = conv(&[]);
    let wide =
        decimal::parse("-123456789012345678901234567890123456789012345678901234567890.12345")
            .unwrap()
            .0;
    round_trip(&c, &schemas::decimal(5, false), Value::Bytes(wide));
    let json = encode(
        &c,
        Some(&schemas::decimal(0, false)),
        &Value::Bytes(vec![0, 0, 1]),
    );
    assert!(json.ends_with(r#""payload":"AQ=="}"#), "{json}");
}

#[test]
fn schemaless_values_are_natural_json() {
    let c = conv(&[("schemas.enable", "false")]);
    let v = Value::Map(vec![
        ("n".into(), Value::Int32(1)),
        ("f".into(), Value::Float64(2.5)),
        ("s".into(), "x".into()),
        ("b".into(), Value::Boolean(true)),
        ("z".into(), Value::Null),
        (
            "l".into(),
            Value::Array(vec![Value::Int64(1), "two".into()]),
        ),
        (
            "m".into(),
            Value::Map(vec![(Value::Int32(1), Value::Int32(2))]),
        ),
    ]);
    let json = encode(&c, None, &v);
    assert_eq!(
        json,
        r#"{"n":1,"f":2.5,"s":"x","b":true,"z":null,"l":[1,"two"],"m":[[1,2]]}"#
    );
    let back = decode(&c, &json);
    assert_eq!(back.schema, None);
    assert_eq!(back.value.map_get("n"), Some(&Value::Int64(1)));
    assert_eq!(back.value.map_get("f"), Some(&Value::Float64(2.5)));
    assert_eq!(back.value.map_get("z"), Some(&Value::Null));
    assert_eq!(
        back.value.map_get("m"),
        Some(&Value::Array(vec![Value::Array(vec![
            Value::Int64(1),
            Value::Int64(2)
        ])]))
    );
    // With a schema but schemas.enable=false only the payload is written.
    assert_eq!(encode(&c, Some(&schemas::int32()), &Value::Int32(3)), "3");
    // Schemaless with schemas.enable=true: a null schema in the envelope.
    let c = conv(&[]);
    let json = encode(&c, None, &Value::Array(vec![Value::Int8(1)]));
    assert_eq!(json, r#"{"schema":null,"payload":[1]}"#);
    assert_eq!(
        decode(&c, &json),
        SchemaAndValue::new(None, Value::Array(vec![Value::Int64(1)]))
    );
}

#[test]
fn nulls_follow_kafka_connect() {
    let c = conv(&[]);
    let mut out = Vec::new();
    assert!(!c
        .from_connect("t", &mut Headers::new(), None, &Value::Null, &mut out)
        .unwrap());
    assert!(out.is_empty());
    // A null with an optional schema is a null payload, not a Kafka null.
    assert_eq!(
        encode(&c, Some(&schemas::optional_string()), &Value::Null),
        r#"{"schema":{"type":"string","optional":true},"payload":null}"#
    );
    let err = c
        .from_connect(
            "t",
            &mut Headers::new(),
            Some(&schemas::string()),
            &Value::Null,
            &mut out,
        )
        .unwrap_err();
    assert!(
        err.message
            .contains("null value for field that is required"),
        "{err}"
    );
    assert_eq!(
        c.to_connect("t", &Headers::new(), None).unwrap(),
        SchemaAndValue::null()
    );
    assert_eq!(
        c.to_connect("t", &Headers::new(), Some(b"")).unwrap(),
        SchemaAndValue::null()
    );
    assert_eq!(decode(&c, "null"), SchemaAndValue::null());
}

#[test]
fn bad_input_is_an_error_naming_the_problem() {
    let c = conv(&[]);
    for (bytes, wanted) in [
        (&b"{\"schema\":null,"[..], "invalid JSON at byte"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{\"a\":1}", "requires \"schema\" and \"payload\""),
        (br#"{"schema":{"type":"int32"},"payload":1,"x":2}"#, "requires \"schema\""),
        (br#"{"schema":{"type":"int32"},"payload":"1"}"#, "expected a JSON integer"),
        (br#"{"schema":{"type":"int8"},"payload":300}"#, "300 is not a INT8 value"),
        (br#"{"schema":{"type":"blob"},"payload":1}"#, "Unknown schema type: blob"),
        (br#"{"schema":{"optional":true},"payload":1}"#, "Schema must contain 'type' field"),
        (br#"{"schema":{"type":"bytes"},"payload":"!!"}"#, "invalid base64"),
        (br#"{"schema":{"type":"int32"},"payload":null}"#, "Invalid null value for required INT32"),
        (br#"{"schema":{"type":"struct","fields":[{"type":"int32","field":"a"}]},"payload":{"a":true}}"#, "field a: expected a JSON integer"),
        (br#"{"schema":{"type":"struct","fields":[{"type":"int32"}]},"payload":{}}"#, "field name not specified"),
        (br#"{"schema":{"type":"array"},"payload":[]}"#, "did not specify the element type"),
        (br#"{"schema":{"type":"string"},"payload":"a"} x"#, "unexpected data after"),
        (br#"{"schema":{"type":"string"},"payload":"a" x}"#, "expected ',' or '}'"),
        (br#"{"schema":{"type":"double"},"payload":01}"#, "invalid JSON"),
        (br#"{"schema":{"type":"string"},"payload":"\q"}"#, "invalid escape"),
    ] {
        let err = decode_err(&c, bytes);
        assert!(err.contains(wanted), "{}: {err}", String::from_utf8_lossy(bytes));
    }
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let c2 = conv(&[("schemas.enable", "false")]);
    assert!(decode_err(&c2, deep.as_bytes()).contains("nested deeper"));
    // Writing a value that does not match its schema names the field.
    let schema = SchemaBuilder::structure()
        .field("a", schemas::int32())
        .build();
    let s = Struct::from_values(schema.clone(), vec!["x".into()]);
    let mut out = Vec::new();
    let err = c
        .from_connect(
            "t",
            &mut Headers::new(),
            Some(&schema),
            &Value::Struct(s),
            &mut out,
        )
        .unwrap_err();
    assert!(
        err.message
            .contains("field a: Invalid type for INT32: a string value"),
        "{err}"
    );
}

#[test]
fn reads_what_kafka_connect_writes() {
    let c = conv(&[]);
    // A Debezium-style envelope with fields in a different member order.
    let json = r#"{"payload":{"after":{"id":1001,"email":"sally@example.com"},"op":"c","before":null},
        "schema":{"type":"struct","fields":[
          {"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"email"}],"optional":true,"name":"v.Value","field":"before"},
          {"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"email"}],"optional":true,"name":"v.Value","field":"after"},
          {"type":"string","optional":false,"field":"op"}],"optional":false,"name":"v.Envelope","version":1}}"#;
    let back = decode(&c, json);
    let v = back.value.as_struct().unwrap();
    assert_eq!(v.get("op"), Some(&Value::String("c".into())));
    assert_eq!(v.get("before"), Some(&Value::Null));
    let after = v.get("after").unwrap().as_struct().unwrap();
    assert_eq!(after.get("id"), Some(&Value::Int32(1001)));
    // The schema is cached: the next record shares the same Arc.
    let again = decode(&c, json);
    assert!(Arc::ptr_eq(
        back.schema.as_ref().unwrap(),
        again.schema.as_ref().unwrap()
    ));
}

#[test]
fn acts_as_header_converter() {
    let mut c = JsonConverter::new();
    HeaderConverter::configure(&mut c, &Props::new()).unwrap();
    assert_eq!(c.converter_type(), super::ConverterType::Header);
    let bytes = c
        .from_connect_header("t", "h", Some(&schemas::int64()), &Value::Int64(9))
        .unwrap()
        .unwrap();
    assert_eq!(
        bytes,
        br#"{"schema":{"type":"int64","optional":false},"payload":9}"#
    );
    let back = c.to_connect_header("t", "h", Some(&bytes)).unwrap();
    assert_eq!(
        back,
        SchemaAndValue::new(Some(schemas::int64()), Value::Int64(9))
    );
    assert_eq!(
        c.from_connect_header("t", "h", None, &Value::Null).unwrap(),
        None
    );
}

#[test]
fn config_is_validated() {
    let mut c = JsonConverter::new();
    let props: Props = [("decimal.format".to_string(), "TEXT".to_string())].into();
    let err = Converter::configure(&mut c, &props, true).unwrap_err();
    assert!(
        err.to_string().contains("must be one of BASE64, NUMERIC"),
        "{err}"
    );
    let c = conv(&[("schemas.cache.size", "0")]);
    round_trip(&c, &schemas::int16(), Value::Int16(1));
    let _ = names::DECIMAL;
}

#[test]
fn encoding_many_small_structs_is_linear() {
    let c = conv(&[]);
    let schema = SchemaBuilder::structure()
        .name("s")
        .field("id", schemas::int64())
        .field("name", schemas::string())
        .field("score", schemas::optional_float64())
        .build();
    let mut out = Vec::with_capacity(256);
    let time = |n: i64, out: &mut Vec<u8>| {
        let start = Instant::now();
        let mut total = 0;
        for i in 0..n {
            let s = Struct::from_values(
                schema.clone(),
                vec![
                    Value::Int64(i),
                    "name".into(),
                    Value::Float64(i as f64 / 3.0),
                ],
            );
            out.clear();
            assert!(c
                .from_connect(
                    "t",
                    &mut Headers::new(),
                    Some(&schema),
                    &Value::Struct(s),
                    out
                )
                .unwrap());
            total += out.len();
        }
        (start.elapsed(), total)
    };
    let (small, _) = time(10_000, &mut out);
    let (big, total) = time(100_000, &mut out);
    assert!(total > 100_000 * 100);
    // 10x the records should take about 10x the time; 40x means quadratic.
    assert!(
        big < small * 40 + std::time::Duration::from_millis(50),
        "{small:?} vs {big:?}"
    );
    let last = String::from_utf8(out).unwrap();
    assert!(
        last.ends_with(r#""payload":{"id":99999,"name":"name","score":33333.0}}"#),
        "{last}"
    );
}

/// Throughput check for release builds:
/// `cargo test -p sluice-converters --release -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn throughput() {
    let c = conv(&[]);
    let schema = SchemaBuilder::structure()
        .name("s")
        .field("id", schemas::int64())
        .field("name", schemas::string())
        .field("score", schemas::optional_float64())
        .field("ok", schemas::boolean())
        .build();
    let records: Vec<Value> = (0..1000)
        .map(|i| {
            Value::Struct(Struct::from_values(
                schema.clone(),
                vec![
                    Value::Int64(i),
                    format!("name {i}").into(),
                    Value::Float64(i as f64 * 1.25),
                    Value::Boolean(true),
                ],
            ))
        })
        .collect();
    let mut out = Vec::with_capacity(512);
    let n = 2_000_000;
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        out.clear();
        c.from_connect(
            "t",
            &mut Headers::new(),
            Some(&schema),
            &records[i % 1000],
            &mut out,
        )
        .unwrap();
        bytes += out.len();
    }
    let enc = start.elapsed();
    let start = Instant::now();
    let sample = String::from_utf8(out.clone()).unwrap();
    for _ in 0..n / 4 {
        std::hint::black_box(decode(&c, &sample));
    }
    let dec = start.elapsed();
    println!(
        "encode: {:.2} M records/s ({} bytes each); decode: {:.2} M records/s",
        n as f64 / enc.as_secs_f64() / 1e6,
        bytes / n,
        (n / 4) as f64 / dec.as_secs_f64() / 1e6
    );
}

#[test]
fn mutated_input_never_panics() {
    let sample = concat!(
        r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},"#,
        r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"d"},"#,
        r#"{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"double","optional":true},"optional":true,"field":"m"},"#,
        r#"{"type":"string","optional":true,"default":"x\u00e9\n","field":"s"}],"optional":false},"#,
        r#""payload":{"id":1,"d":"AJY=","m":[[1,2.5e3]],"s":"h\"é"}}"#
    );
    let converters = [
        conv(&[]),
        conv(&[("schemas.enable", "false")]),
        conv(&[("decimal.format", "NUMERIC")]),
    ];
    assert!(decode(&converters[0], sample).value.as_struct().is_some());
    let alphabet = b"{}[]\":,0123456789-+.eEtrufalsnull\\u \xc3\xa9\xff";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let mut bytes = sample.as_bytes().to_vec();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        for c in &converters {
            // Ok or a clear error; never a panic.
            let _ = c.to_connect("t", &Headers::new(), Some(&bytes));
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = crate::parse_string(&text);
    }
}
