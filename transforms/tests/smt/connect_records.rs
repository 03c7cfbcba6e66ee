//! Topic, header and whole-record transforms, and the predicates.

use sluice_api::data::{schemas, RecordData, Value};

use super::*;

#[test]
fn regex_router_renames_whole_matches_only() {
    let t = make(
        "org.apache.kafka.connect.transforms.RegexRouter",
        &[("regex", "(.*)-(\\d+)"), ("replacement", "$1_v$2")],
    );
    let mut r = record(None, Value::Null);
    r.topic = "orders-12".into();
    assert_eq!(apply(&*t, r).topic, "orders_v12".into());
    let mut r = record(None, Value::Null);
    r.topic = "orders".into();
    assert_eq!(apply(&*t, r).topic, "orders".into());
    // Java's find-vs-matches: a partial match does not route.
    let t = make("RegexRouter", &[("regex", "order"), ("replacement", "x")]);
    let mut r = record(None, Value::Null);
    r.topic = "orders".into();
    assert_eq!(apply(&*t, r).topic, "orders".into());
    let e = config_error("RegexRouter", &[("regex", "(a)"), ("replacement", "$2")]);
    assert!(e.contains("replacement"), "{e}");
    let e = config_error("RegexRouter", &[("regex", "(?<=a)b"), ("replacement", "x")]);
    assert!(e.contains("regex") && e.contains("look-around"), "{e}");
}

#[test]
fn timestamp_router_formats_in_utc() {
    let t = make("TimestampRouter", &[]);
    let mut r = record(None, Value::Null);
    r.timestamp = Some(1_700_000_000_000);
    assert_eq!(apply(&*t, r).topic, "test-20231114".into());
    let t = make(
        "TimestampRouter",
        &[
            ("topic.format", "${timestamp}.${topic}"),
            ("timestamp.format", "yyyy-MM"),
        ],
    );
    let mut r = record(None, Value::Null);
    r.timestamp = Some(0);
    assert_eq!(apply(&*t, r).topic, "1970-01.test".into());
    let err = t.apply(record(None, Value::Null)).unwrap_err().to_string();
    assert!(err.contains("Timestamp missing"), "{err}");
    assert!(
        config_error("TimestampRouter", &[("timestamp.format", "yyyy-ww")])
            .contains("timestamp.format")
    );
}

#[test]
fn filter_drops_everything() {
    let t = make("org.apache.kafka.connect.transforms.Filter", &[]);
    assert!(t.apply(record(None, Value::from(1))).unwrap().is_none());
}

#[test]
fn headers_insert_and_drop() {
    let t = make(
        "InsertHeader",
        &[("header", "source"), ("value.literal", "42")],
    );
    let r = apply(&*t, record(None, Value::Null));
    let h = r.headers.last_with_name("source").unwrap();
    assert_eq!(h.value, Value::Int8(42));
    assert_eq!(h.schema, Some(schemas::int8()));
    let t = make(
        "InsertHeader",
        &[("header", "who"), ("value.literal", "sluice")],
    );
    let r = apply(&*t, r);
    assert_eq!(
        r.headers.last_with_name("who").unwrap().value,
        Value::from("sluice")
    );
    let t = make("DropHeaders", &[("headers", "source, nope")]);
    let r = apply(&*t, r);
    assert!(r.headers.last_with_name("source").is_none());
    assert_eq!(r.headers.len(), 1);
    assert!(config_error("DropHeaders", &[]).contains("headers"));
}

#[test]
fn predicates_match_as_documented() {
    let reg = registry();
    let mut p = reg
        .predicate("org.apache.kafka.connect.transforms.predicates.TopicNameMatches")
        .unwrap();
    p.configure(&props(&[("pattern", "db\\..*")])).unwrap();
    let mut r = record(None, Value::Null);
    r.topic = "db.users".into();
    assert!(p.test(&r));
    r.topic = "xdb.users".into();
    assert!(!p.test(&r));

    let mut p = reg.predicate("HasHeaderKey").unwrap();
    p.configure(&props(&[("name", "trace")])).unwrap();
    assert!(!p.test(&r));
    r.headers.add("trace", None, Value::Null);
    assert!(p.test(&r));

    let mut p = reg.predicate("RecordIsTombstone").unwrap();
    p.configure(&props(&[])).unwrap();
    assert!(p.test(&r));
    assert!(!p.test(&record(None, Value::from(1))));

    let mut bad = reg.predicate("TopicNameMatches").unwrap();
    assert!(bad
        .configure(&props(&[]))
        .unwrap_err()
        .to_string()
        .contains("pattern"));
}

#[test]
fn set_schema_metadata_renames_schema_and_struct() {
    use sluice_api::data::{SchemaBuilder, Struct};
    let s = SchemaBuilder::structure()
        .name("old")
        .field("a", schemas::int32())
        .build();
    let v = Value::Struct(Struct::from_values(s.clone(), vec![Value::Int32(1)]));
    let t = make(
        "SetSchemaMetadata$Value",
        &[("schema.name", "new"), ("schema.version", "3")],
    );
    let r = apply(&*t, record(Some(s.clone()), v.clone()));
    let out = r.value_schema.clone().unwrap();
    assert_eq!(out.name(), Some("new"));
    assert_eq!(out.version, Some(3));
    assert!(Arc::ptr_eq(&r.value.as_struct().unwrap().schema, &out));
    // Built once per input schema.
    let r2 = apply(&*t, record(Some(s), v));
    assert!(Arc::ptr_eq(&r2.value_schema.unwrap(), &out));
    let e = t.apply(record(None, map(&[]))).unwrap_err().to_string();
    assert!(e.contains("Schema required"), "{e}");
    assert!(config_error("SetSchemaMetadata$Key", &[]).contains("schema.name"));
    let mut k = RecordData {
        key_schema: Some(schemas::string()),
        key: Value::from("k"),
        ..Default::default()
    };
    k = apply(&*make("SetSchemaMetadata$Key", &[("schema.name", "K")]), k);
    assert_eq!(k.key_schema.unwrap().name(), Some("K"));
}
