//! Plug-in transforms against ABI version 1, with test modules written in
//! WAT (tests/plugins/ holds the ones the integration test also loads).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::ConfigError;
use crate::data::{Headers, RecordData, SchemaBuilder, Struct, Value};
use crate::plugin::{Props, Transform};

const UPPER: &str = include_str!("../../../tests/plugins/upper.wat");
const DROP_COMMENTS: &str = include_str!("../../../tests/plugins/drop_comments.wat");
const TRAP: &str = include_str!("../../../tests/plugins/trap.wat");
const LOOP: &str = include_str!("../../../tests/plugins/loop.wat");
const MALFORMED: &str = include_str!("../../../tests/plugins/malformed.wat");
const ABI_V2: &str = include_str!("../../../tests/plugins/abi_v2.wat");

/// The common exports of the inline test modules below.
const PRELUDE: &str = r#"
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_alloc") (param i32) (result i32) (i32.const 1024))
"#;

fn module(body: &str) -> String {
    format!("(module {PRELUDE} {body})")
}

/// Returns a constant record JSON; rejects any config key.
fn record_module(json: &str) -> String {
    let escaped = json.replace('"', "\\\"");
    module(&format!(
        r#"(data (i32.const 16) "{escaped}")
           (func (export "sluice_configure") (param $ptr i32) (param $len i32) (result i32)
             (if (result i32) (i32.gt_u (local.get $len) (i32.const 2))
               (then (i32.const 7)) (else (i32.const 0))))
           (func (export "sluice_transform") (param i32 i32) (result i64)
             (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const {})))"#,
        json.len()
    ))
}

fn transform(wat: &str, props: &[(&str, &str)]) -> Result<WasmTransform, ConfigError> {
    let plugin = WasmPlugin::from_bytes(&engine(), "wasm:test", wat.as_bytes());
    let mut t = WasmTransform::new(Arc::new(plugin));
    let props: Props = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    t.configure(&props)?;
    Ok(t)
}

fn string_record(value: &str) -> RecordData {
    RecordData {
        topic: "lines".into(),
        value: Value::String(value.into()),
        ..Default::default()
    }
}

fn config_error(wat: &str) -> String {
    match transform(wat, &[]) {
        Ok(_) => panic!("the module was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn upper_cases_a_string_value() {
    let t = transform(UPPER, &[]).unwrap();
    for (input, want) in [
        ("hello, sluice!", "HELLO, SLUICE!"),
        ("", ""),
        ("ÀbC", "ÀBC"),
    ] {
        let out = t.apply(string_record(input)).unwrap().unwrap();
        assert_eq!(out.value, Value::String(want.into()));
        assert_eq!(out.topic, "lines".into());
    }
    let bytes = RecordData {
        value: Value::Bytes(b"abc".to_vec()),
        ..Default::default()
    };
    assert_eq!(
        t.apply(bytes).unwrap().unwrap().value,
        Value::Bytes(b"ABC".to_vec())
    );
}

#[test]
fn value_entry_point_passes_tombstones_and_refuses_structs() {
    let t = transform(UPPER, &[]).unwrap();
    let tombstone = RecordData::default();
    assert_eq!(
        t.apply(tombstone.clone()).unwrap(),
        Some(tombstone),
        "a null value passes untouched"
    );
    let schema = SchemaBuilder::structure()
        .field("a", SchemaBuilder::string().build())
        .build();
    let rec = RecordData {
        value: Value::Struct(Struct::new(schema)),
        ..Default::default()
    };
    let e = t.apply(rec).unwrap_err().to_string();
    assert!(
        e.contains("string or bytes values") && e.contains("struct"),
        "{e}"
    );
}

#[test]
fn a_filter_drops_records() {
    let t = transform(DROP_COMMENTS, &[]).unwrap();
    assert_eq!(t.apply(string_record("# comment")).unwrap(), None);
    let kept = t.apply(string_record("data")).unwrap().unwrap();
    assert_eq!(kept.value, Value::String("data".into()));
}

#[test]
fn a_trap_is_a_record_error_naming_the_plugin_and_the_trap() {
    let t = transform(TRAP, &[]).unwrap();
    let e = t.apply(string_record("x")).unwrap_err().to_string();
    assert!(e.contains("plug-in wasm:test"), "{e}");
    assert!(e.contains("trapped") && e.contains("unreachable"), "{e}");
    assert!(e.contains("topic lines"), "{e}");
    // The instance is re-created for the next record: still a clean error.
    let again = t.apply(string_record("y")).unwrap_err().to_string();
    assert!(again.contains("unreachable"), "{again}");
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let t = transform(LOOP, &[]).unwrap();
    let start = Instant::now();
    let e = t.apply(string_record("x")).unwrap_err().to_string();
    assert!(
        e.contains("plug-in wasm:test") && e.contains("ran out of fuel (looped?)"),
        "{e}"
    );
    assert!(e.contains("topic lines") && e.contains("fuel"), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the default fuel took {:?}",
        start.elapsed()
    );
    let small = transform(LOOP, &[("fuel", "1000")]).unwrap();
    let e = small.apply(string_record("x")).unwrap_err().to_string();
    assert!(e.contains("after 1000 units"), "{e}");
}

#[test]
fn malformed_modules_fail_at_configure() {
    let e = config_error(MALFORMED);
    assert!(
        e.contains("plug-in wasm:test") && e.contains("not a valid WebAssembly module"),
        "{e}"
    );
    let e = config_error("this is not wasm");
    assert!(e.contains("not a valid WebAssembly module"), "{e}");
    let e = config_error(&format!(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) {PRELUDE})"#
    ));
    assert!(
        e.contains("imports wasi_snapshot_preview1.fd_write") && e.contains("no imports"),
        "{e}"
    );
}

#[test]
fn a_wrong_abi_version_fails_at_configure() {
    let e = config_error(ABI_V2);
    assert!(
        e.contains("ABI version 2") && e.contains("speaks version 1"),
        "{e}"
    );
}

#[test]
fn missing_or_mistyped_exports_fail_at_configure() {
    let e = config_error("(module (memory (export \"memory\") 1))");
    assert!(e.contains("does not export sluice_abi_version"), "{e}");
    let e = config_error(&module(""));
    assert!(
        e.contains("exports neither sluice_transform") && e.contains("sluice_transform_value"),
        "{e}"
    );
    let e = config_error(&module(
        r#"(func (export "sluice_transform") (param i32 i32) (result i32) (i32.const 0))"#,
    ));
    assert!(
        e.contains("sluice_transform with the wrong type") && e.contains("-> i64"),
        "{e}"
    );
    let e =
        config_error(r#"(module (func (export "sluice_abi_version") (result i32) (i32.const 1)))"#);
    assert!(e.contains("\"memory\""), "{e}");
}

#[test]
fn a_start_function_that_loops_is_stopped_by_fuel() {
    let e = config_error(&module(
        r#"(func $spin (loop $l (br $l))) (start $spin)
           (func (export "sluice_transform_value") (param i32 i32) (result i64) (i64.const 0))"#,
    ));
    assert!(e.contains("ran out of fuel"), "{e}");
}

#[test]
fn memory_is_capped() {
    // Grows by 128 MiB and traps when that fails.
    let hog = module(
        r#"(func (export "sluice_transform_value") (param i32 i32) (result i64)
             (if (i32.eq (memory.grow (i32.const 2048)) (i32.const -1)) (then (unreachable)))
             (i64.const 0))"#,
    );
    let t = transform(&hog, &[]).unwrap();
    let e = t.apply(string_record("x")).unwrap_err().to_string();
    assert!(e.contains("unreachable"), "{e}");
    let roomy = transform(&hog, &[("memory.max.bytes", "536870912")]).unwrap();
    assert_eq!(roomy.apply(string_record("x")).unwrap(), None);
}

#[test]
fn an_error_message_from_the_plugin_is_reported() {
    let msg = "value rejected";
    let t = transform(
        &module(&format!(
            r#"(data (i32.const 16) "{msg}")
               (func (export "sluice_transform_value") (param i32 i32) (result i64)
                 (i64.sub (i64.const 0)
                   (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const {}))))"#,
            msg.len()
        )),
        &[],
    )
    .unwrap();
    let e = t.apply(string_record("x")).unwrap_err().to_string();
    assert!(e.contains("reported an error: value rejected"), "{e}");
    let t = transform(&record_module(r#"{"error":"no thanks"}"#), &[]).unwrap();
    let e = t.apply(string_record("x")).unwrap_err().to_string();
    assert!(e.contains("reported an error: no thanks"), "{e}");
}

#[test]
fn an_output_outside_memory_is_an_abi_error() {
    let t = transform(
        &module(
            r#"(func (export "sluice_transform_value") (param i32 i32) (result i64)
                 (i64.or (i64.shl (i64.const 65000) (i64.const 32)) (i64.const 1000)))"#,
        ),
        &[],
    )
    .unwrap();
    let e = t.apply(string_record("x")).unwrap_err().to_string();
    assert!(
        e.contains("broke ABI version 1") && e.contains("outside"),
        "{e}"
    );
}

#[test]
fn the_record_entry_point_replaces_what_the_output_names() {
    let t = transform(&record_module(r#"{"topic":"routed","value":{"n":1}}"#), &[]).unwrap();
    let mut input = string_record("x");
    input.timestamp = Some(42);
    input.key = Value::String("k".into());
    let out = t.apply(input).unwrap().unwrap();
    assert_eq!(out.topic, "routed".into());
    assert_eq!(
        out.value,
        Value::Map(vec![(Value::String("n".into()), Value::Int64(1))])
    );
    assert_eq!(out.timestamp, Some(42), "left out: kept");
    assert_eq!(out.key, Value::String("k".into()), "left out: kept");
}

#[test]
fn the_plugin_config_goes_to_sluice_configure() {
    let wat = record_module(r#"{"value":"v"}"#);
    assert!(
        transform(&wat, &[("fuel", "5000")]).is_ok(),
        "Sluice's own keys are not passed"
    );
    let e = match transform(&wat, &[("mode", "strict")]) {
        Ok(_) => panic!("the plug-in accepted a config it rejects"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("rejected its config {\"mode\":\"strict\"}") && e.contains("returned 7"),
        "{e}"
    );
}

#[test]
fn record_json_reapplies_the_schema_when_the_output_fits() {
    let schema = SchemaBuilder::structure()
        .name("row")
        .field("id", SchemaBuilder::int32().build())
        .field("name", SchemaBuilder::string().optional().build())
        .field("blob", SchemaBuilder::bytes().build())
        .build();
    let value = Value::Struct(Struct::from_values(
        schema.clone(),
        vec![Value::Int32(7), Value::Null, Value::Bytes(vec![0, 1, 255])],
    ));
    let mut headers = Headers::new();
    headers.add("h", Some(SchemaBuilder::int64().build()), Value::Int64(5));
    let rec = RecordData {
        topic: "t".into(),
        kafka_partition: Some(3),
        value_schema: Some(schema.clone()),
        value: value.clone(),
        headers,
        ..Default::default()
    };
    let json = record_to_json(&rec);
    assert_eq!(
        json,
        serde_json::json!({"topic": "t", "partition": 3, "timestamp": null, "key": null,
            "value": {"id": 7, "name": null, "blob": "AAH/"},
            "headers": [{"key": "h", "value": 5}]})
    );
    // Unchanged JSON: the same record, schemas included.
    assert_eq!(record_from_json(rec.clone(), json.clone()).unwrap(), rec);
    // Same fields, new values: still schemaful.
    let mut edited = json.clone();
    edited["value"]["name"] = "ann".into();
    let out = record_from_json(rec.clone(), edited).unwrap();
    assert_eq!(out.value_schema, Some(schema.clone()));
    assert_eq!(
        out.value.as_struct().unwrap().get("name"),
        Some(&Value::String("ann".into()))
    );
    // A new field: no longer fits, so schemaless.
    let mut grown = json.clone();
    grown["value"]["extra"] = true.into();
    let out = record_from_json(rec.clone(), grown).unwrap();
    assert_eq!(out.value_schema, None);
    assert_eq!(out.value.map_get("id"), Some(&Value::Int64(7)));
    assert_eq!(out.value.map_get("extra"), Some(&Value::Boolean(true)));
    // An out-of-range number does not fit an int32 either.
    let mut big = json;
    big["value"]["id"] = serde_json::json!(1u64 << 40);
    assert_eq!(record_from_json(rec, big).unwrap().value_schema, None);
}

#[test]
fn record_json_rejects_bad_output() {
    for (out, want) in [
        (serde_json::json!([1]), "where a record object was expected"),
        (serde_json::json!({"topic": ""}), "non-empty string"),
        (serde_json::json!({"partition": -1}), "int32 >= 0"),
        (
            serde_json::json!({"timestamp": "now"}),
            "epoch milliseconds",
        ),
        (
            serde_json::json!({"headers": [{"value": 1}]}),
            "without a string \"key\"",
        ),
    ] {
        let e = record_from_json(RecordData::default(), out).unwrap_err();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn plugin_dir_registers_modules_by_stem_and_manifest() {
    let dir = std::env::temp_dir().join(format!("sluice-plugins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("upper.wat"), UPPER).unwrap();
    std::fs::write(dir.join("broken.wat"), MALFORMED).unwrap();
    std::fs::write(dir.join("filter.wat"), DROP_COMMENTS).unwrap();
    std::fs::write(
        dir.join("filter.json"),
        r#"{"class": "com.example.DropComments", "aliases": ["DropComments"]}"#,
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a plug-in").unwrap();
    let mut registry = crate::plugin::Registry::new();
    let missing = dir.join("missing");
    let result = load_plugin_dir(&mut registry, &[dir.clone(), missing]);
    let e = result.unwrap_err();
    assert!(e.contains("missing") && e.contains("cannot be read"), "{e}");
    let classes = load_plugin_dir(&mut registry, std::slice::from_ref(&dir)).unwrap();
    assert_eq!(
        classes,
        vec!["wasm:broken", "com.example.DropComments", "wasm:upper"]
    );
    for name in [
        "wasm:upper",
        "upper",
        "DropComments",
        "wasm:filter",
        "filter",
    ] {
        assert!(registry.transform(name).is_ok(), "{name}");
    }
    let mut t = registry.transform("upper").unwrap();
    t.configure(&Props::new()).unwrap();
    assert_eq!(
        t.apply(string_record("abc")).unwrap().unwrap().value,
        Value::String("ABC".into())
    );
    let mut broken = registry.transform("wasm:broken").unwrap();
    let e = broken.configure(&Props::new()).unwrap_err().to_string();
    assert!(
        e.contains("plug-in wasm:broken") && e.contains("broken.wat") && e.contains("not a valid"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Per-record cost, for docs/plugins.md:
/// `cargo test -p sluice-runtime --release --lib plugins::tests::per_record_cost -- --ignored --nocapture`
#[test]
#[ignore = "a measurement; run in release"]
fn per_record_cost() {
    let n = 200_000u32;
    let line = "hello sluice, a line of a file of about sixty bytes or so..";
    let time = |name: &str, t: &dyn Transform| {
        let record = string_record(line);
        for _ in 0..1000 {
            t.apply(record.clone()).unwrap();
        }
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(t.apply(record.clone()).unwrap());
        }
        let ns = start.elapsed().as_nanos() / u128::from(n);
        println!("{name}: {ns} ns/record");
    };
    time(
        "upper.wat (sluice_transform_value, 59-byte string)",
        &transform(UPPER, &[]).unwrap(),
    );
    time(
        "constant-output module (sluice_transform: record JSON both ways)",
        &transform(&record_module(r#"{"value":"HELLO"}"#), &[]).unwrap(),
    );
    struct Native;
    impl Transform for Native {
        fn config_def(&self) -> crate::config::ConfigDef {
            crate::config::ConfigDef::new()
        }
        fn configure(&mut self, _: &Props) -> Result<(), ConfigError> {
            Ok(())
        }
        fn apply(
            &self,
            mut r: RecordData,
        ) -> Result<Option<RecordData>, crate::plugin::RecordError> {
            if let Value::String(s) = &r.value {
                r.value = Value::from(s.to_ascii_uppercase());
            }
            Ok(Some(r))
        }
    }
    time("native Rust upper-case (baseline)", &Native);
    let looping = transform(LOOP, &[]).unwrap();
    let start = Instant::now();
    assert!(looping.apply(string_record(line)).is_err());
    println!(
        "loop.wat: out of fuel after {DEFAULT_FUEL} units in {:?}",
        start.elapsed()
    );
}

#[test]
fn records_out_of_fuel_in_a_row_fail_the_task_after_the_configured_count() {
    let t = transform(
        LOOP,
        &[("fuel", "1000"), ("fuel.exhausted.max.consecutive", "2")],
    )
    .unwrap();
    let first = t.apply(string_record("x")).unwrap_err();
    assert!(
        !first.is_fatal(),
        "one record out of fuel is a record error: {first}"
    );
    let second = t.apply(string_record("y")).unwrap_err();
    assert!(second.is_fatal(), "{second}");
    assert!(
        second.message.contains("on 2 records in a row")
            && second.message.contains("fuel.exhausted.max.consecutive=2"),
        "{second}"
    );
    // 0: never fatal; the key is not passed to the plug-in's own config.
    let never = transform(
        LOOP,
        &[("fuel", "1000"), ("fuel.exhausted.max.consecutive", "0")],
    )
    .unwrap();
    for _ in 0..5 {
        assert!(!never.apply(string_record("x")).unwrap_err().is_fatal());
    }
    assert!(transform(LOOP, &[("fuel.exhausted.max.consecutive", "-1")]).is_err());
}

#[test]
fn a_record_that_finishes_resets_the_out_of_fuel_count() {
    // Loops on values that start with "!", passes the others.
    let wat = module(
        r#"(func (export "sluice_transform_value") (param $ptr i32) (param $len i32) (result i64)
             (if (i32.eq (i32.load8_u (local.get $ptr)) (i32.const 33))
               (then (loop $l (br $l))))
             (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
                     (i64.extend_i32_u (local.get $len))))"#,
    );
    let t = transform(
        &wat,
        &[("fuel", "1000"), ("fuel.exhausted.max.consecutive", "2")],
    )
    .unwrap();
    for _ in 0..3 {
        assert!(!t.apply(string_record("!loop")).unwrap_err().is_fatal());
        assert!(t.apply(string_record("fine")).is_ok());
    }
    assert!(!t.apply(string_record("!loop")).unwrap_err().is_fatal());
    assert!(t.apply(string_record("!loop")).unwrap_err().is_fatal());
}

#[test]
fn sink_records_carry_their_kafka_offset_to_plugins() {
    use serde_json::json;
    let source = string_record("x");
    let j = record_json::record_to_json(&source);
    assert!(
        j.get("offset").is_none(),
        "no offset on a source record: {j}"
    );
    let sink = RecordData {
        kafka_partition: Some(1),
        kafka_offset: Some(41),
        ..string_record("x")
    };
    let j = record_json::record_to_json(&sink);
    assert_eq!(j["offset"], json!(41));
    assert_eq!(j["partition"], json!(1));
    // An offset in the output is ignored: where a record was read is fixed.
    let back =
        record_json::record_from_json(sink.clone(), json!({"offset": 7, "value": "y"})).unwrap();
    assert_eq!(back.kafka_offset, Some(41));
    assert_eq!(back.value, Value::from("y"));
}
