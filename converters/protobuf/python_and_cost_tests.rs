//! The Python `protobuf` package as a second third-party decoder, and the
//! per-record cost figures quoted in docs/converters/protobuf.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sluice_api::data::{Headers, Value};
use sluice_api::plugin::Converter;

use super::{conv, encode, envelope, envelope_schema, row, with_schema};

/// The same row read by Python's `protobuf` package (scripts/requirements.txt).
#[test]
fn python_protobuf_decodes_a_row_field_by_field() {
    let s = envelope_schema();
    let value_schema = s.field("after").unwrap().schema.clone();
    let after = with_schema(row(1001, Some("sally@example.com")), &value_schema);
    let c = conv(&[]);
    let bytes = encode(&c, Some(&s), &envelope(Value::Null, after));
    let venv = std::env::var("SLUICE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let home = std::env::var("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/sluice/venv")
        });
    let script = r#"
import json, sys
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
value = sys.stdin.buffer.read()
pool = descriptor_pool.DescriptorPool()
for f in descriptor_pb2.FileDescriptorSet.FromString(value).file:
    pool.Add(f)
Record = message_factory.GetMessageClass(pool.FindMessageTypeByName("sluice.Record"))
record = Record.FromString(value)
print(json.dumps({
    "has_before": record.value.HasField("before"),
    "has_score": record.value.after.HasField("score"),
    "value": json_format.MessageToDict(record.value, preserving_proto_field_name=True),
}))
"#;
    let python = venv.join("bin/python");
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; create the venv with scripts/pyenv",
                python.display()
            )
        });
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Python could not decode the record ({stderr}); if protobuf is missing, run scripts/pyenv"
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = serde_json::json!({
        "has_before": false,
        "has_score": false,
        "value": {
            "after": {
                "id": 1001, "first_name": "Sally", "email": "sally@example.com",
                "price": "1234.50", "born": 19000, "updated": "1700000000123",
                "active": true, "small": -3, "photo": "3q0=", "tags": ["a", "b c"],
                "attrs": {"value": {"k1": "-5", "k2": "0"}}
            },
            "source": {"version": "2.7.0", "file": "mysql-bin.000003", "pos": "154"},
            "op": "u",
            "ts_ms": "1700000000999"
        }
    });
    assert_eq!(got, expected);
}

/// Per-record cost of one Debezium update event (release build:
/// `cargo test --release -p sluice-converters protobuf_cost -- --ignored --nocapture`).
#[test]
#[ignore]
fn protobuf_cost() {
    let c = conv(&[]);
    let s = envelope_schema();
    let value_schema = s.field("after").unwrap().schema.clone();
    let after = with_schema(row(1001, Some("sally@example.com")), &value_schema);
    let v = envelope(with_schema(row(1001, None), &value_schema), after);
    let mut out = Vec::new();
    let n = 200_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        out.clear();
        c.from_connect("t", &mut Headers::new(), Some(&s), &v, &mut out)
            .unwrap();
    }
    let enc = start.elapsed() / n;
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(c.to_connect("t", &Headers::new(), Some(&out)).unwrap());
    }
    let dec = start.elapsed() / n;
    let prefix = c.prefix(&s).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..n {
        out.clear();
        crate::protobuf::encode::write_field(&mut out, 2, &s, false, &v).unwrap();
    }
    let value_only = start.elapsed() / n;
    let set = c.descriptor_set(&s).unwrap().len();
    println!(
        "protobuf: {} bytes/record ({set} descriptor set + {} schema JSON + {} value), \
         encode {enc:?}/record ({value_only:?} of it the value), decode {dec:?}/record",
        prefix.bytes.len() + out.len(),
        prefix.bytes.len() - set,
        out.len()
    );
    let json = crate::JsonConverter::new();
    let start = std::time::Instant::now();
    for _ in 0..n {
        out.clear();
        json.from_connect("t", &mut Headers::new(), Some(&s), &v, &mut out)
            .unwrap();
    }
    let enc = start.elapsed() / n;
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(json.to_connect("t", &Headers::new(), Some(&out)).unwrap());
    }
    let dec = start.elapsed() / n;
    println!(
        "json (schemas.enable=true), same record: {} bytes, encode {enc:?}, decode {dec:?}",
        out.len()
    );
}
