//! Per-record cost of each transform and converter, and a 4-transform chain
//! against none, in process (no broker), release build:
//!
//! `cargo run --release --example bench_pipeline [RECORDS] [chain [ROUNDS]]`
//! (`chain`: only the chain against none, timed in ROUNDS alternating
//! rounds, 5 by default)
//!
//! Times are the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so that
//! other processes on a shared machine do not inflate them. Each figure is ns per record with the cost of cloning the input record
//! (measured separately, printed first) subtracted. Records are MySQL-shaped:
//! a Debezium envelope for the unwrap and ByLogicalTableRouter, an outbox
//! insert for EventRouter, a flat 8-column row (with three headers for
//! DropHeaders) for the others.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice::runtime::data::{schemas, Headers, RecordData, Schema, SchemaBuilder, Struct, Value};
use sluice::runtime::worker::chain::Chain;
use sluice::runtime::{Converter, Props, Registry};

fn row_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .name("p.db.customers.Value")
        .field("id", schemas::int64())
        .field("name", schemas::optional_string())
        .field("email", schemas::optional_string())
        .field("amount", schemas::decimal(2, true))
        .field("created", schemas::timestamp(true))
        .field("active", schemas::optional_boolean())
        .field("score", schemas::optional_float64())
        .field("note", schemas::optional_string())
        .build()
}

fn row(schema: &Arc<Schema>, i: i64) -> Value {
    Value::Struct(Struct::from_values(
        schema.clone(),
        vec![
            Value::Int64(i),
            Value::String(format!("customer {i}").into()),
            Value::String(format!("c{i}@example.com").into()),
            Value::Bytes(sluice::runtime::data::decimal::i128_to_bytes(
                12345 + i as i128,
            )),
            Value::Int64(1_764_000_000_000 + i),
            Value::Boolean(i % 2 == 0),
            Value::Float64(i as f64 * 0.5),
            Value::String("a short note about this customer".into()),
        ],
    ))
}

fn envelope(row_schema: &Arc<Schema>, i: i64) -> (Arc<Schema>, Value) {
    let source = SchemaBuilder::structure()
        .name("io.debezium.connector.mysql.Source")
        .field("db", schemas::string())
        .field("table", schemas::optional_string())
        .field("ts_ms", schemas::int64())
        .build();
    let opt_row = row_schema.to_optional();
    let opt_row_value = opt_row.clone();
    let env = SchemaBuilder::structure()
        .name("p.db.customers.Envelope")
        .field("before", opt_row.clone())
        .field("after", opt_row)
        .field("source", source.clone())
        .field("op", schemas::string())
        .field("ts_ms", schemas::optional_int64())
        .build();
    let src = Struct::from_values(
        source,
        vec![
            "db".into(),
            Value::String("customers".into()),
            Value::Int64(1),
        ],
    );
    let v = Value::Struct(Struct::from_values(
        env.clone(),
        vec![
            Value::Null,
            row(&opt_row_value, i),
            Value::Struct(src),
            "c".into(),
            Value::Int64(2),
        ],
    ));
    (env, v)
}

/// A Debezium envelope of an insert into an outbox table (EventRouter's
/// default columns).
fn outbox_envelope(i: i64) -> (Arc<Schema>, Value) {
    let row = SchemaBuilder::structure()
        .name("p.db.outbox.Value")
        .field("id", schemas::string())
        .field("aggregatetype", schemas::string())
        .field("aggregateid", schemas::string())
        .field("type", schemas::string())
        .field("payload", schemas::optional_string())
        .build()
        .to_optional();
    let env = SchemaBuilder::structure()
        .name("p.db.outbox.Envelope")
        .field("before", row.clone())
        .field("after", row.clone())
        .field("op", schemas::string())
        .field("ts_ms", schemas::optional_int64())
        .build();
    let after = Struct::from_values(
        row,
        vec![
            Value::String(format!("00000000-0000-0000-0000-{i:012}").into()),
            "order".into(),
            Value::String(format!("{i}").into()),
            "OrderCreated".into(),
            Value::String(format!("{{\"id\": {i}, \"total\": 12.5}}").into()),
        ],
    );
    let v = Value::Struct(Struct::from_values(
        env.clone(),
        vec![
            Value::Null,
            Value::Struct(after),
            "c".into(),
            Value::Int64(2),
        ],
    ));
    (env, v)
}

/// CPU time of the calling thread, in ns: unlike wall time, it does not
/// count the time other processes on this shared machine hold the core.
fn thread_cpu_ns() -> u128 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to a valid pointer.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// (class, alias, config, whether the input is an envelope).
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, bool);
/// A transform with its own input: class, config, input record.
type OtherCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a RecordData);

/// Thread CPU ns per record of `f`.
fn time_per_record(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let t = thread_cpu_ns();
    for i in 0..n {
        f(i);
    }
    (thread_cpu_ns() - t) as f64 / n as f64
}

fn props(kv: &[(&str, &str)]) -> Props {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn chain(registry: &Registry, alias: &str, class: &str, cfg: &[(&str, &str)]) -> Chain {
    let mut p: Props = BTreeMap::new();
    p.insert("transforms".into(), alias.into());
    p.insert(format!("transforms.{alias}.type"), class.into());
    for (k, v) in cfg {
        p.insert(format!("transforms.{alias}.{k}"), v.to_string());
    }
    Chain::build(registry, &p).unwrap_or_else(|e| panic!("{class}: {e}"))
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let registry = sluice::registry::builtin();
    let rs = row_schema();
    let flat = RecordData {
        topic: "p.db.customers".into(),
        key_schema: Some(
            SchemaBuilder::structure()
                .name("p.db.customers.Key")
                .field("id", schemas::int64())
                .build(),
        ),
        key: Value::Null,
        value_schema: Some(rs.clone()),
        value: row(&rs, 7),
        timestamp: Some(1_764_000_000_000),
        headers: Headers::new(),
        ..Default::default()
    };
    let (env_schema, env_value) = envelope(&rs, 7);
    let env_rec = RecordData {
        value_schema: Some(env_schema),
        value: env_value,
        ..flat.clone()
    };
    let clone_ns = time_per_record(n, |_| {
        std::hint::black_box(flat.clone());
    });
    let env_clone_ns = time_per_record(n, |_| {
        std::hint::black_box(env_rec.clone());
    });
    println!(
        "records per figure: {n}; clone (and drop) of the input record: row {clone_ns:.0} ns, \
         envelope {env_clone_ns:.0} ns (subtracted below)\n"
    );
    // `bench_pipeline N chain`: only the chain comparison.
    let only_chain = std::env::args().nth(2).as_deref() == Some("chain");
    println!("{:<58} {:>10}", "transform", "ns/record");
    let cases: Vec<Case> = vec![
        (
            "io.debezium.transforms.ExtractNewRecordState",
            "unwrap",
            vec![],
            true,
        ),
        (
            "org.apache.kafka.connect.transforms.Cast$Value",
            "t",
            vec![("spec", "id:string")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.ExtractField$Value",
            "t",
            vec![("field", "name")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.Flatten$Value",
            "t",
            vec![],
            true,
        ),
        (
            "org.apache.kafka.connect.transforms.HoistField$Value",
            "t",
            vec![("field", "wrapped")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.InsertField$Value",
            "t",
            vec![("static.field", "src"), ("static.value", "sluice")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.MaskField$Value",
            "t",
            vec![("fields", "email")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.RegexRouter",
            "t",
            vec![("regex", "p\\.db\\.(.*)"), ("replacement", "routed-$1")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "t",
            vec![("exclude", "note"), ("renames", "name:full_name")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
            "t",
            vec![("schema.name", "renamed")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.TimestampConverter$Value",
            "t",
            vec![
                ("field", "created"),
                ("target.type", "string"),
                ("format", "yyyy-MM-dd'T'HH:mm:ss"),
            ],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.TimestampRouter",
            "t",
            vec![],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.ValueToKey",
            "t",
            vec![("fields", "id")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.InsertHeader",
            "t",
            vec![("header", "h"), ("value.literal", "v")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.HeaderFrom$Value",
            "t",
            vec![("fields", "name"), ("headers", "hn"), ("operation", "copy")],
            false,
        ),
        (
            "org.apache.kafka.connect.transforms.Filter",
            "t",
            vec![],
            false,
        ),
    ];
    for (class, alias, cfg, on_envelope) in cases.iter().filter(|_| !only_chain) {
        let c = chain(&registry, alias, class, cfg);
        let (input, base) = if *on_envelope {
            (&env_rec, env_clone_ns)
        } else {
            (&flat, clone_ns)
        };
        let ns = time_per_record(n, |_| {
            std::hint::black_box(c.apply(input.clone()).unwrap());
        });
        println!(
            "{:<58} {:>10.0}",
            class.rsplit('.').next().unwrap(),
            (ns - base).max(0.0)
        );
    }

    // Transforms that need other inputs: headers, a Debezium record to
    // re-route, an outbox row.
    let mut with_headers = flat.clone();
    for h in ["a", "b", "c"] {
        with_headers.headers.add(
            h,
            Some(schemas::string()),
            Value::String("header value".into()),
        );
    }
    let (outbox_schema, outbox_value) = outbox_envelope(7);
    let outbox = RecordData {
        topic: "p.db.outbox".into(),
        key_schema: None,
        key: Value::Null,
        value_schema: Some(outbox_schema),
        value: outbox_value,
        ..flat.clone()
    };
    let others: Vec<OtherCase> = vec![
        (
            "org.apache.kafka.connect.transforms.DropHeaders",
            vec![("headers", "a,b")],
            &with_headers,
        ),
        (
            "io.debezium.transforms.ByLogicalTableRouter",
            vec![
                ("topic.regex", "p\\.db\\.(.*)"),
                ("topic.replacement", "all-$1"),
                ("key.enforce.uniqueness", "false"),
            ],
            &env_rec,
        ),
        ("io.debezium.transforms.outbox.EventRouter", vec![], &outbox),
    ];
    for (class, cfg, input) in others.iter().filter(|_| !only_chain) {
        let c = chain(&registry, "t", class, cfg);
        let base = time_per_record(n, |_| {
            std::hint::black_box((*input).clone());
        });
        let ns = time_per_record(n, |_| {
            std::hint::black_box(c.apply((*input).clone()).unwrap());
        });
        println!(
            "{:<58} {:>10.0}",
            class.rsplit('.').next().unwrap(),
            (ns - base).max(0.0)
        );
    }

    println!(
        "\n{:<58} {:>10}",
        "converter (value, from_connect)", "ns/record"
    );
    let convs: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "org.apache.kafka.connect.json.JsonConverter",
            vec![("schemas.enable", "true")],
        ),
        (
            "org.apache.kafka.connect.json.JsonConverter",
            vec![("schemas.enable", "false")],
        ),
        ("org.apache.kafka.connect.storage.StringConverter", vec![]),
        ("io.sluice.converters.ProtobufConverter", vec![]),
    ];
    let mut out = Vec::with_capacity(4096);
    for (class, cfg) in convs.iter().filter(|_| !only_chain) {
        let mut c: Box<dyn Converter> = registry.converter(class).unwrap();
        c.configure(&props(cfg), false).unwrap();
        let ns = time_per_record(n, |_| {
            out.clear();
            c.from_connect(
                &flat.topic,
                &mut Headers::new(),
                flat.value_schema.as_ref(),
                &flat.value,
                &mut out,
            )
            .unwrap();
        });
        println!(
            "{:<58} {:>10.0}",
            format!("{} {:?}", class.rsplit('.').next().unwrap(), cfg),
            ns
        );
    }

    // ByteArrayConverter takes bytes: a 200-byte value.
    if !only_chain {
        let mut c: Box<dyn Converter> = registry
            .converter("org.apache.kafka.connect.converters.ByteArrayConverter")
            .unwrap();
        c.configure(&props(&[]), false).unwrap();
        let bytes = Value::Bytes(vec![7u8; 200]);
        let schema = schemas::optional_bytes();
        let ns = time_per_record(n, |_| {
            out.clear();
            c.from_connect(
                &flat.topic,
                &mut Headers::new(),
                Some(&schema),
                &bytes,
                &mut out,
            )
            .unwrap();
        });
        println!("{:<58} {:>10.0}", "ByteArrayConverter (200-byte value)", ns);
    }

    // The chain against none, each followed by the JSON converter:
    // ExtractNewRecordState → RegexRouter → MaskField → InsertField, the
    // last one under a TopicNameMatches predicate (as tests/transform_chain.rs).
    let mut json: Box<dyn Converter> = registry.converter("JsonConverter").unwrap();
    json.configure(&props(&[("schemas.enable", "true")]), false)
        .unwrap();
    let stages: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "unwrap",
            vec![("type", "io.debezium.transforms.ExtractNewRecordState")],
        ),
        (
            "route",
            vec![
                ("type", "RegexRouter"),
                ("regex", "p\\.db\\.(.*)"),
                ("replacement", "routed-$1"),
            ],
        ),
        (
            "mask",
            vec![("type", "MaskField$Value"), ("fields", "email")],
        ),
        (
            "insert",
            vec![
                ("type", "InsertField$Value"),
                ("static.field", "src"),
                ("static.value", "sluice"),
                ("predicate", "routed"),
            ],
        ),
    ];
    // The first `k` stages of the chain (0: no transforms).
    let prefix_chain = |k: usize| {
        let mut p = props(&[
            ("predicates", "routed"),
            ("predicates.routed.type", "TopicNameMatches"),
            ("predicates.routed.pattern", "routed-.*"),
        ]);
        let names: Vec<&str> = stages[..k].iter().map(|(a, _)| *a).collect();
        p.insert("transforms".into(), names.join(","));
        for (alias, cfg) in &stages[..k] {
            for (key, v) in cfg {
                p.insert(format!("transforms.{alias}.{key}"), v.to_string());
            }
        }
        Chain::build(&registry, &p).unwrap()
    };
    let chains: Vec<Chain> = (0..=stages.len()).map(prefix_chain).collect();
    let mut run = |c: &Chain| {
        time_per_record(n, |_| {
            let mut r = c.apply(env_rec.clone()).unwrap().unwrap();
            out.clear();
            json.from_connect(
                &r.topic,
                &mut r.headers,
                r.value_schema.as_ref(),
                &r.value,
                &mut out,
            )
            .unwrap();
        })
    };
    // Rounds alternate between the chains so that a noisy neighbour hits
    // all of them alike; each figure is the best round.
    let rounds: usize = std::env::args()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5)
        .max(1);
    let mut best = vec![f64::INFINITY; chains.len()];
    // Per round, the full chain's time over none's: the two were timed
    // moments apart, so a round's ratio is less exposed to load swings
    // than the ratio of two bests taken at different times.
    let mut ratios = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let mut this = vec![0.0; chains.len()];
        for (i, c) in chains.iter().enumerate() {
            this[i] = run(c);
            best[i] = best[i].min(this[i]);
        }
        ratios.push(this[stages.len()] / this[0]);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[rounds / 2];
    println!("\nenvelope record → transforms → JsonConverter (schemas.enable=true), best of {rounds} rounds:");
    println!("{:<58} {:>10} {:>12}", "chain", "ns/record", "records/s");
    for (k, ns) in best.iter().enumerate() {
        let label = if k == 0 {
            "no transforms".to_string()
        } else {
            stages[..k]
                .iter()
                .map(|(a, _)| *a)
                .collect::<Vec<_>>()
                .join(" → ")
        };
        println!("{:<58} {:>10.0} {:>12.0}", label, ns, 1e9 / ns);
    }
    let (base, with) = (best[0], best[stages.len()]);
    println!(
        "\n4-transform chain against none: {:.0} vs {:.0} records/s, {:+.1}% time per record (target: ≤ +15%)",
        1e9 / with,
        1e9 / base,
        (with / base - 1.0) * 100.0
    );
    println!(
        "median over the {rounds} rounds of (chain / none) in the same round: {:+.1}% (min {:+.1}%, max {:+.1}%)",
        (median - 1.0) * 100.0,
        (ratios[0] - 1.0) * 100.0,
        (ratios[rounds - 1] - 1.0) * 100.0
    );
}
