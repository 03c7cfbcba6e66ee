//! Transforms with `predicate` and `negate` through the runtime's chain,
//! configured from connector JSON keys.

use sluice_api::data::Value;
use sluice_runtime::worker::chain::Chain;

use super::*;

fn chain(kv: &[(&str, &str)]) -> Chain {
    Chain::build(&registry(), &props(kv)).unwrap_or_else(|e| panic!("{e}"))
}

fn topic(t: &str, value: Value) -> sluice_api::data::RecordData {
    let mut r = record(None, value);
    r.topic = t.into();
    r
}

#[test]
fn predicate_selects_and_negate_inverts() {
    let c = chain(&[
        ("transforms", "route,drop"),
        (
            "transforms.route.type",
            "org.apache.kafka.connect.transforms.RegexRouter",
        ),
        ("transforms.route.regex", "db\\.(.*)"),
        ("transforms.route.replacement", "clean.$1"),
        ("transforms.route.predicate", "isDb"),
        ("transforms.drop.type", "Filter"),
        ("transforms.drop.predicate", "isDb"),
        ("transforms.drop.negate", "true"),
        ("predicates", "isDb"),
        (
            "predicates.isDb.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.isDb.pattern", "db\\..*"),
    ]);
    // Each stage tests its predicate on the record as it reaches it: the
    // routed record (clean.users) no longer matches, so the negated Filter drops it.
    let out = c.apply(topic("db.users", Value::from(1))).unwrap();
    assert!(
        out.is_none(),
        "after routing, clean.users does not match isDb, so the negated Filter drops it"
    );
    let out = c.apply(topic("other", Value::from(1))).unwrap();
    assert!(
        out.is_none(),
        "non-matching topics are dropped by the negated Filter"
    );

    let c = chain(&[
        ("transforms", "dropTombstones"),
        ("transforms.dropTombstones.type", "Filter"),
        ("transforms.dropTombstones.predicate", "t"),
        ("predicates", "t"),
        ("predicates.t.type", "RecordIsTombstone"),
    ]);
    assert!(c.apply(topic("a", Value::Null)).unwrap().is_none());
    assert!(c.apply(topic("a", Value::from(1))).unwrap().is_some());
}

#[test]
fn header_predicate_guards_a_transform() {
    let c = chain(&[
        ("transforms", "mark"),
        ("transforms.mark.type", "InsertHeader"),
        ("transforms.mark.header", "seen"),
        ("transforms.mark.value.literal", "yes"),
        ("transforms.mark.predicate", "traced"),
        ("transforms.mark.negate", "false"),
        ("predicates", "traced"),
        ("predicates.traced.type", "HasHeaderKey"),
        ("predicates.traced.name", "trace"),
    ]);
    let out = c.apply(topic("a", Value::from(1))).unwrap().unwrap();
    assert!(out.headers.last_with_name("seen").is_none());
    let mut r = topic("a", Value::from(1));
    r.headers.add("trace", None, Value::from("t1"));
    let out = c.apply(r).unwrap().unwrap();
    assert_eq!(
        out.headers.last_with_name("seen").unwrap().value,
        Value::from("yes")
    );
}

#[test]
fn config_errors_name_the_transform_key() {
    let err = Chain::build(
        &registry(),
        &props(&[
            ("transforms", "r"),
            ("transforms.r.type", "RegexRouter"),
            ("transforms.r.regex", "x"),
        ]),
    )
    .err()
    .expect("missing replacement must fail")
    .to_string();
    assert!(err.contains("transforms.r.replacement"), "{err}");
}

/// The per-topic and per-schema caches (last hit, then map) never hand one
/// topic's or schema's result to another, however records alternate.
#[test]
fn cached_results_follow_each_topic_and_schema_as_records_alternate() {
    use sluice_api::data::{schemas, SchemaBuilder, Struct};
    let router = make(
        "RegexRouter",
        &[("regex", "db\\.(.*)"), ("replacement", "routed-$1")],
    );
    let c = chain(&[
        ("predicates", "a"),
        ("predicates.a.type", "TopicNameMatches"),
        ("predicates.a.pattern", "db\\.a"),
        ("transforms", "ins"),
        ("transforms.ins.type", "InsertField$Value"),
        ("transforms.ins.topic.field", "t"),
        ("transforms.ins.predicate", "a"),
    ]);
    let narrow = SchemaBuilder::structure()
        .field("id", schemas::int32())
        .build();
    let wide = SchemaBuilder::structure()
        .field("id", schemas::int32())
        .field("name", schemas::string())
        .build();
    let value = |s: &Arc<sluice_api::data::Schema>| {
        let mut values = vec![Value::Int32(1)];
        if s.fields.len() == 2 {
            values.push(Value::from("n"));
        }
        Value::Struct(Struct::from_values(s.clone(), values))
    };
    let cases = [
        ("db.a", &narrow, Some("routed-a"), true),
        ("db.b", &wide, Some("routed-b"), false),
        ("db.a", &wide, Some("routed-a"), true),
        ("other", &narrow, None, false),
        ("db.a", &narrow, Some("routed-a"), true),
    ];
    for round in 0..3 {
        for (t, s, routed, inserted) in &cases {
            // A structurally equal schema behind a new Arc in later rounds.
            let s: Arc<_> = if round == 2 {
                Arc::new((***s).clone())
            } else {
                (*s).clone()
            };
            let mut r = topic(t, value(&s));
            r.value_schema = Some(s.clone());
            let out = router.apply(r.clone()).unwrap().unwrap();
            assert_eq!(out.topic, routed.unwrap_or(t).into(), "round {round}, {t}");
            let out = c.apply(r).unwrap().unwrap();
            let got = out.value_schema.unwrap();
            let names: Vec<&str> = got.fields.iter().map(|f| f.name.as_str()).collect();
            let mut want: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
            if *inserted {
                want.push("t");
            }
            assert_eq!(names, want, "round {round}, {t}");
            let Value::Struct(v) = out.value else {
                panic!("a struct")
            };
            assert_eq!(v.values.len(), want.len());
            if *inserted {
                assert_eq!(v.get("t"), Some(&Value::from(*t)));
            }
        }
    }
}
