//! A MySQL connector with a Kafka Connect transform chain, as users write it:
//! ExtractNewRecordState → RegexRouter → MaskField → InsertField (with a
//! predicate), read back from the real broker.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[test]
fn unwrap_route_mask_and_insert_with_predicate() {
    let bootstrap = kafka_bootstrap();
    let db = format!("sl_{}", unique("chain").replace('-', "_"));
    mariadb(&format!(
        "CREATE DATABASE {db};
         CREATE TABLE {db}.customers (id INT PRIMARY KEY, name VARCHAR(50), ssn VARCHAR(20));
         CREATE TABLE {db}.orders (id INT PRIMARY KEY, amount INT);
         INSERT INTO {db}.customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321');
         INSERT INTO {db}.orders VALUES (10, 500);"
    ));
    let dir = TempDir::new("transform-chain");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("chain");
    let prefix = unique("ch");
    let routed = unique("routed");
    let mut cfg =
        mysql_connector_config(&name, &prefix, &db, &dir.path().join("history.jsonl"), &[]);
    let extra = json!({
        "transforms": "unwrap,route,mask,insert",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.add.fields": "op",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "[^.]+\\.[^.]+\\.(.*)",
        "transforms.route.replacement": format!("{routed}-$1"),
        "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
        "transforms.mask.fields": "ssn",
        "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.insert.static.field": "origin",
        "transforms.insert.static.value": "sluice",
        "transforms.insert.predicate": "isCustomers",
        "predicates": "isCustomers",
        "predicates.isCustomers.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "predicates.isCustomers.pattern": ".*-customers",
    });
    for (k, v) in extra.as_object().unwrap() {
        cfg["config"][k] = v.clone();
    }
    let r = s.post("/connectors", &cfg.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    // Change rows only once the snapshot has been read, so that the
    // snapshot sees both rows and the stream the changes.
    let mut customers = TopicReader::new(&bootstrap, &format!("{routed}-customers"));
    customers.read_until("the customers snapshot", Duration::from_secs(120), |recs| {
        recs.len() >= 2
    });
    mariadb(&format!(
        "UPDATE {db}.customers SET name = 'Ada L' WHERE id = 1; DELETE FROM {db}.customers WHERE id = 2;"
    ));

    // customers: 2 snapshot rows, 1 update, and the delete as a tombstone
    // (ExtractNewRecordState's default drops the delete event itself).
    customers.read_until("the customers changes", Duration::from_secs(120), |recs| {
        recs.len() >= 4
    });
    let values: Vec<&Value> = customers.parsed.iter().map(|(_, v)| v).collect();
    assert_eq!(
        values[0],
        &json!({"id": 1, "name": "Ada", "ssn": "", "origin": "sluice", "__op": "r"}),
        "snapshot row: unwrapped, masked, field inserted"
    );
    assert_eq!(values[1]["id"], 2);
    assert_eq!(values[1]["ssn"], "", "masked");
    assert_eq!(
        values[2],
        &json!({"id": 1, "name": "Ada L", "ssn": "", "origin": "sluice", "__op": "u"})
    );
    assert_eq!(
        customers.parsed[3].0,
        json!({"id": 2}),
        "tombstone keyed by the deleted row"
    );
    assert!(
        values[3].is_null(),
        "tombstone after the delete: {}",
        values[3]
    );

    // orders: the predicate does not match, so no inserted field.
    let mut orders = TopicReader::new(&bootstrap, &format!("{routed}-orders"));
    orders.read_until("the orders snapshot", Duration::from_secs(60), |recs| {
        !recs.is_empty()
    });
    assert_eq!(
        orders.parsed[0].1,
        json!({"id": 10, "amount": 500, "__op": "r"})
    );
}

/// Issue #4's "Protobuf output decoded by a third-party protobuf tool,
/// matching the source rows": a MySQL connector whose own
/// `value.converter` (a per-connector override of the worker's JSON
/// converter) is the ProtobufConverter; each Kafka value is decoded by
/// Debian's `protoc` with the descriptor set the value carries.
#[test]
fn protobuf_values_from_mysql_decode_with_protoc_as_the_rows() {
    let bootstrap = kafka_bootstrap();
    let db = format!("sl_{}", unique("pb").replace('-', "_"));
    mariadb(&format!(
        "CREATE DATABASE {db};
         CREATE TABLE {db}.customers (id INT PRIMARY KEY, name VARCHAR(50), score BIGINT);
         INSERT INTO {db}.customers VALUES (1, 'Ada', -7), (2, 'Bob', 9000000000);"
    ));
    let dir = TempDir::new("protobuf-mysql");
    let s = Sluice::start(dir.path(), &[]);
    let name = unique("pb");
    let prefix = unique("pb");
    let mut cfg =
        mysql_connector_config(&name, &prefix, &db, &dir.path().join("history.jsonl"), &[]);
    let extra = json!({
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "value.converter": "io.sluice.converters.ProtobufConverter",
    });
    for (k, v) in extra.as_object().unwrap() {
        cfg["config"][k] = v.clone();
    }
    let r = s.post("/connectors", &cfg.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let mut reader = TopicReader::new(&bootstrap, &format!("{prefix}.{db}.customers"));
    reader.read_until("the two snapshot rows", Duration::from_secs(120), |recs| {
        recs.len() >= 2
    });
    let recs = &reader.records;
    assert_eq!(recs.len(), 2);
    let want = [("1", "Ada", "-7"), ("2", "Bob", "9000000000")];
    let texts: Vec<String> = recs
        .iter()
        .enumerate()
        .map(|(i, rec)| {
            let value = rec.value.as_deref().expect("a protobuf value");
            // The value is itself a descriptor set (its field 1), so protoc
            // reads the types from the same bytes it decodes.
            let file = dir.path().join(format!("value-{i}.bin"));
            std::fs::write(&file, value).unwrap();
            let out = std::process::Command::new("protoc")
                .arg(format!("--descriptor_set_in={}", file.display()))
                .arg("--decode=sluice.Record")
                .stdin(std::fs::File::open(&file).unwrap())
                .output()
                .expect("protoc (Debian's protobuf-compiler) is not installed: apt-get install protobuf-compiler");
            assert!(
                out.status.success(),
                "protoc failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    for (id, name, score) in want {
        let lines = [
            format!("id: {id}"),
            format!("name: \"{name}\""),
            format!("score: {score}"),
        ];
        assert!(
            texts
                .iter()
                .any(|t| lines.iter().all(|l| t.lines().any(|x| x.trim() == l))),
            "no record decodes to {lines:?}; protoc's texts:\n{texts:#?}"
        );
    }
}
