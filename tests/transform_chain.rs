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
