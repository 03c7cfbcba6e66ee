//! Debezium's transforms on hand-built change events shaped like the MySQL
//! connector's: `<prefix>.<db>.<table>.Envelope {before, after, source, op, ts_ms, transaction}`.

use std::sync::Arc;

use sluice_api::data::{schemas, RecordData, Schema, SchemaBuilder, Struct, Value};

use super::*;

const T: &str = "dbserver1.inventory.customers";

fn row_schema(topic: &str) -> Arc<Schema> {
    SchemaBuilder::structure()
        .name(format!("{topic}.Value"))
        .optional()
        .field("id", schemas::int32())
        .field("email", schemas::string())
        .field("kind", schemas::optional_string())
        .build()
}

fn source_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .name("io.debezium.connector.mysql.Source")
        .field("db", schemas::string())
        .field("table", schemas::optional_string())
        .field("ts_ms", schemas::int64())
        .build()
}

fn envelope_schema(topic: &str) -> Arc<Schema> {
    let row = row_schema(topic);
    SchemaBuilder::structure()
        .name(format!("{topic}.Envelope"))
        .field("before", row.clone())
        .field("after", row)
        .field("source", source_schema())
        .field("op", schemas::string())
        .field("ts_ms", schemas::optional_int64())
        .build()
}

fn key_schema(topic: &str) -> Arc<Schema> {
    SchemaBuilder::structure()
        .name(format!("{topic}.Key"))
        .field("id", schemas::int32())
        .build()
}

fn row(topic: &str, id: i32, email: &str, kind: &str) -> Value {
    Value::Struct(Struct::from_values(
        row_schema(topic),
        vec![Value::Int32(id), Value::from(email), Value::from(kind)],
    ))
}

fn event(topic: &str, op: &str, before: Value, after: Value) -> RecordData {
    let env = envelope_schema(topic);
    let source = Value::Struct(Struct::from_values(
        source_schema(),
        vec![
            Value::from("inventory"),
            Value::from("customers"),
            Value::Int64(111),
        ],
    ));
    let v = Struct::from_values(
        env.clone(),
        vec![before, after, source, Value::from(op), Value::Int64(222)],
    );
    RecordData {
        topic: topic.into(),
        key_schema: Some(key_schema(topic)),
        key: Value::Struct(Struct::from_values(
            key_schema(topic),
            vec![Value::Int32(1)],
        )),
        value_schema: Some(env),
        value: Value::Struct(v),
        timestamp: Some(5),
        ..Default::default()
    }
}

fn tombstone(topic: &str) -> RecordData {
    let mut r = event(topic, "d", Value::Null, Value::Null);
    r.value_schema = None;
    r.value = Value::Null;
    r
}

fn field<'a>(v: &'a Value, f: &str) -> &'a Value {
    v.as_struct()
        .and_then(|s| s.get(f))
        .unwrap_or_else(|| panic!("no field {f} in {v:?}"))
}

const UNWRAP: &str = "io.debezium.transforms.ExtractNewRecordState";

#[test]
fn unwrap_extracts_after_state() {
    let t = make(UNWRAP, &[]);
    let r = apply(&*t, event(T, "c", Value::Null, row(T, 1, "a@x", "k")));
    assert_eq!(
        r.value_schema.as_ref().unwrap().name(),
        Some("dbserver1.inventory.customers.Value")
    );
    assert_eq!(field(&r.value, "email"), &Value::from("a@x"));
    let u = apply(
        &*t,
        event(T, "u", row(T, 1, "a@x", "k"), row(T, 1, "b@x", "k")),
    );
    assert_eq!(field(&u.value, "email"), &Value::from("b@x"));
    // Not an envelope: passes unchanged.
    let plain = record(Some(schemas::string()), Value::from("hb"));
    assert_eq!(apply(&*t, plain.clone()), plain);
    // Truncate (no row state) is dropped.
    assert!(t
        .apply(event(T, "t", Value::Null, Value::Null))
        .unwrap()
        .is_none());
}

#[test]
fn unwrap_delete_modes() {
    let del = || event(T, "d", row(T, 1, "a@x", "k"), Value::Null);
    // Default (tombstone): delete -> null value, tombstone dropped.
    let t = make(UNWRAP, &[]);
    let r = apply(&*t, del());
    assert_eq!(r.value, Value::Null);
    assert!(t.apply(tombstone(T)).unwrap().is_none());
    // drop: both dropped.
    let t = make(UNWRAP, &[("delete.tombstone.handling.mode", "drop")]);
    assert!(t.apply(del()).unwrap().is_none());
    assert!(t.apply(tombstone(T)).unwrap().is_none());
    // rewrite: before row with __deleted=true; inserts get __deleted=false.
    let t = make(UNWRAP, &[("delete.tombstone.handling.mode", "rewrite")]);
    let r = apply(&*t, del());
    assert_eq!(field(&r.value, "__deleted"), &Value::from("true"));
    assert_eq!(field(&r.value, "email"), &Value::from("a@x"));
    let c = apply(&*t, event(T, "c", Value::Null, row(T, 2, "c@x", "k")));
    assert_eq!(field(&c.value, "__deleted"), &Value::from("false"));
    assert!(
        Arc::ptr_eq(
            r.value_schema.as_ref().unwrap(),
            c.value_schema.as_ref().unwrap()
        ),
        "one widened schema"
    );
    assert!(t.apply(tombstone(T)).unwrap().is_none());
    // rewrite-with-tombstone keeps the tombstone.
    let t = make(
        UNWRAP,
        &[("delete.tombstone.handling.mode", "rewrite-with-tombstone")],
    );
    assert!(t.apply(tombstone(T)).unwrap().is_some());
    // Deprecated keys: drop.tombstones=false + delete.handling.mode=none.
    let t = make(
        UNWRAP,
        &[
            ("drop.tombstones", "false"),
            ("delete.handling.mode", "none"),
        ],
    );
    assert_eq!(apply(&*t, del()).value, Value::Null);
    assert!(t.apply(tombstone(T)).unwrap().is_some());
    let t = make(UNWRAP, &[("delete.handling.mode", "drop")]);
    assert!(t.apply(del()).unwrap().is_none());
    let t = make(
        UNWRAP,
        &[
            ("delete.handling.mode", "rewrite"),
            ("drop.tombstones", "true"),
        ],
    );
    assert_eq!(
        field(&apply(&*t, del()).value, "__deleted"),
        &Value::from("true")
    );
    assert!(
        config_error(UNWRAP, &[("delete.tombstone.handling.mode", "keep")])
            .contains("delete.tombstone.handling.mode")
    );
}

#[test]
fn unwrap_adds_fields_headers_and_routes() {
    let t = make(
        "ExtractNewRecordState",
        &[
            ("add.fields", "op,source.ts_ms,table,db:DATABASE"),
            ("add.headers", "op,ts_ms"),
            ("add.headers.prefix", "dbz."),
        ],
    );
    let r = apply(&*t, event(T, "c", Value::Null, row(T, 1, "a@x", "k")));
    let s = r.value_schema.clone().unwrap();
    let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "email",
            "kind",
            "__op",
            "__source_ts_ms",
            "__table",
            "__DATABASE"
        ]
    );
    assert!(s.field("__op").unwrap().schema.optional);
    assert_eq!(field(&r.value, "__op"), &Value::from("c"));
    assert_eq!(field(&r.value, "__source_ts_ms"), &Value::Int64(111));
    assert_eq!(field(&r.value, "__table"), &Value::from("customers"));
    assert_eq!(field(&r.value, "__DATABASE"), &Value::from("inventory"));
    assert_eq!(
        r.headers.last_with_name("dbz.op").unwrap().value,
        Value::from("c")
    );
    assert_eq!(
        r.headers.last_with_name("dbz.ts_ms").unwrap().value,
        Value::Int64(222)
    );

    let t = make(
        UNWRAP,
        &[
            ("route.by.field", "kind"),
            ("delete.tombstone.handling.mode", "rewrite-with-tombstone"),
            ("add.headers", "op"),
        ],
    );
    assert_eq!(
        apply(&*t, event(T, "c", Value::Null, row(T, 1, "a", "vip"))).topic,
        "vip".into()
    );
    assert_eq!(
        apply(&*t, event(T, "d", row(T, 1, "a", "old"), Value::Null)).topic,
        "old".into()
    );
    let ts = apply(&*t, tombstone(T));
    assert_eq!(
        ts.headers.last_with_name("__op").unwrap().value,
        Value::from("d")
    );
}

#[test]
fn logical_table_router_merges_shards() {
    let t = make(
        "io.debezium.transforms.ByLogicalTableRouter",
        &[
            ("topic.regex", "(.*)customers_shard(.*)"),
            ("topic.replacement", "$1customers_all_shards"),
        ],
    );
    let shard = "db.inventory.customers_shard1";
    let r = apply(&*t, event(shard, "c", Value::Null, row(shard, 1, "a", "k")));
    assert_eq!(r.topic, "db.inventory.customers_all_shards".into());
    let ks = r.key_schema.clone().unwrap();
    assert_eq!(ks.name(), Some("db.inventory.customers_all_shards.Key"));
    assert_eq!(
        field(&r.key, "__dbz__physicalTableIdentifier"),
        &Value::from(shard)
    );
    let vs = r.value_schema.clone().unwrap();
    assert_eq!(
        vs.name(),
        Some("db.inventory.customers_all_shards.Envelope")
    );
    assert_eq!(
        vs.field("after").unwrap().schema.name(),
        Some("db.inventory.customers_all_shards.Value")
    );
    assert_eq!(field(field(&r.value, "after"), "email"), &Value::from("a"));
    // Non-matching topics pass unchanged; tombstones get the new key.
    let other = event(T, "c", Value::Null, row(T, 1, "a", "k"));
    assert_eq!(apply(&*t, other.clone()), other);
    let tomb = apply(&*t, tombstone(shard));
    assert_eq!(tomb.value, Value::Null);
    assert_eq!(
        field(&tomb.key, "__dbz__physicalTableIdentifier"),
        &Value::from(shard)
    );

    let t = make(
        "ByLogicalTableRouter",
        &[
            ("topic.regex", "(.*)customers_shard(.*)"),
            ("topic.replacement", "$1customers_all_shards"),
            ("key.field.name", "shard_id"),
            ("key.field.regex", "(.*)customers_shard(.*)"),
            ("key.field.replacement", "$2"),
        ],
    );
    let r = apply(&*t, event(shard, "c", Value::Null, row(shard, 1, "a", "k")));
    assert_eq!(field(&r.key, "shard_id"), &Value::from("1"));
    let t = make(
        "ByLogicalTableRouter",
        &[
            ("topic.regex", "(.*)_shard\\d+"),
            ("topic.replacement", "$1"),
            ("key.enforce.uniqueness", "false"),
        ],
    );
    let r = apply(&*t, event(shard, "c", Value::Null, row(shard, 1, "a", "k")));
    assert_eq!(r.key_schema.unwrap().fields.len(), 1);
    assert!(
        config_error("ByLogicalTableRouter", &[("topic.regex", "x")]).contains("topic.replacement")
    );
}

fn outbox_event(op: &str, payload: &str, partition: i32) -> RecordData {
    let t = "dbserver1.inventory.outboxevent";
    let row_s = SchemaBuilder::structure()
        .name(format!("{t}.Value"))
        .optional()
        .field("id", schemas::string())
        .field("aggregatetype", schemas::string())
        .field("aggregateid", schemas::string())
        .field("type", schemas::string())
        .field("payload", schemas::optional_string())
        .field("part", schemas::int32())
        .build();
    let env = SchemaBuilder::structure()
        .name(format!("{t}.Envelope"))
        .field("before", row_s.clone())
        .field("after", row_s.clone())
        .field("op", schemas::string())
        .field("ts_ms", schemas::optional_int64())
        .build();
    let row = Value::Struct(Struct::from_values(
        row_s,
        vec![
            Value::from("ev-1"),
            Value::from("Order"),
            Value::from("o-7"),
            Value::from("OrderCreated"),
            Value::from(payload),
            Value::Int32(partition),
        ],
    ));
    let (before, after) = if op == "d" {
        (row, Value::Null)
    } else {
        (Value::Null, row)
    };
    RecordData {
        topic: t.into(),
        value_schema: Some(env.clone()),
        value: Value::Struct(Struct::from_values(
            env,
            vec![before, after, Value::from(op), Value::Int64(999)],
        )),
        ..Default::default()
    }
}

#[test]
fn outbox_event_router_routes_inserts() {
    let t = make("io.debezium.transforms.outbox.EventRouter", &[]);
    let r = apply(&*t, outbox_event("c", "{\"total\":5}", 0));
    assert_eq!(r.topic, "outbox.event.Order".into());
    assert_eq!(r.key, Value::from("o-7"));
    assert_eq!(r.value, Value::from("{\"total\":5}"));
    assert_eq!(r.value_schema, Some(schemas::optional_string()));
    assert_eq!(
        r.headers.last_with_name("id").unwrap().value,
        Value::from("ev-1")
    );
    assert_eq!(r.timestamp, Some(999));
    assert!(t.apply(outbox_event("d", "x", 0)).unwrap().is_none());
    assert!(t.apply(outbox_event("u", "x", 0)).unwrap().is_none());
    assert!(t.apply(record(None, Value::Null)).unwrap().is_none());
    let fatal = make("EventRouter", &[("table.op.invalid.behavior", "fatal")]);
    assert!(fatal.apply(outbox_event("u", "x", 0)).is_err());

    let t = make(
        "EventRouter",
        &[
            (
                "table.fields.additional.placement",
                "type:header:eventType,type:envelope:eventType,part:partition",
            ),
            ("route.topic.replacement", "events.${routedByValue}"),
            ("table.expand.json.payload", "true"),
        ],
    );
    let r = apply(&*t, outbox_event("c", "{\"total\":5,\"items\":[\"a\"]}", 2));
    assert_eq!(r.topic, "events.Order".into());
    assert_eq!(r.kafka_partition, Some(2));
    assert_eq!(
        r.headers.last_with_name("eventType").unwrap().value,
        Value::from("OrderCreated")
    );
    let vs = r.value_schema.clone().unwrap();
    assert_eq!(
        vs.name(),
        Some("dbserver1.inventory.outboxevent.Order.Value")
    );
    assert_eq!(field(&r.value, "eventType"), &Value::from("OrderCreated"));
    assert_eq!(field(field(&r.value, "payload"), "total"), &Value::Int32(5));
    assert!(config_error(
        "EventRouter",
        &[("table.fields.additional.placement", "type:body")]
    )
    .contains("table.fields.additional.placement"));
}

/// The widened row schema and the header schemas are cached per envelope
/// schema: records of two tables, alternating, each get their own.
#[test]
fn unwrap_caches_per_table_as_tables_alternate() {
    let t = make(
        "ExtractNewRecordState",
        &[
            ("add.fields", "op,table"),
            ("add.headers", "db"),
            ("delete.tombstone.handling.mode", "rewrite"),
        ],
    );
    let other = "dbserver1.inventory.orders";
    for i in 0..4 {
        for topic in [T, other] {
            let r = if i % 2 == 0 {
                apply(
                    &*t,
                    event(topic, "c", Value::Null, row(topic, i, "a@x", "k")),
                )
            } else {
                apply(
                    &*t,
                    event(topic, "d", row(topic, i, "a@x", "k"), Value::Null),
                )
            };
            let s = r.value_schema.clone().unwrap();
            assert_eq!(s.name(), Some(format!("{topic}.Value").as_str()));
            let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(
                names,
                ["id", "email", "kind", "__op", "__table", "__deleted"]
            );
            assert_eq!(field(&r.value, "id"), &Value::Int32(i));
            let deleted = if i % 2 == 0 { "false" } else { "true" };
            assert_eq!(field(&r.value, "__deleted"), &Value::from(deleted));
            assert_eq!(r.headers.len(), 1);
            assert_eq!(
                r.headers.last_with_name("__db").unwrap().value,
                Value::from("inventory")
            );
        }
    }
}
