//! Behaviour tests for every transform and predicate, written against
//! Kafka Connect's and Debezium's documented behaviour, driven through the
//! registry exactly as a connector config would (class names and aliases).

mod chain;
mod connect_fields;
mod connect_records;
mod debezium;

use std::sync::Arc;

use sluice_api::data::{RecordData, Schema, Value};
use sluice_api::{Props, Registry, Transform};

pub fn registry() -> Registry {
    let mut r = Registry::new();
    sluice_transforms::register(&mut r);
    r
}

pub fn props(kv: &[(&str, &str)]) -> Props {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A transform by class or alias, configured with `kv`.
pub fn make(class: &str, kv: &[(&str, &str)]) -> Box<dyn Transform> {
    let mut t = registry()
        .transform(class)
        .unwrap_or_else(|e| panic!("{e}"));
    t.configure(&props(kv))
        .unwrap_or_else(|e| panic!("{class}: {e}"));
    t
}

/// The config error a transform reports for `kv`.
pub fn config_error(class: &str, kv: &[(&str, &str)]) -> String {
    let mut t = registry().transform(class).unwrap();
    match t.configure(&props(kv)) {
        Ok(()) => panic!("{class} accepted {kv:?}"),
        Err(e) => e.to_string(),
    }
}

pub fn record(schema: Option<Arc<Schema>>, value: Value) -> RecordData {
    RecordData {
        topic: "test".into(),
        value_schema: schema,
        value,
        ..Default::default()
    }
}

pub fn map(kv: &[(&str, Value)]) -> Value {
    Value::Map(
        kv.iter()
            .map(|(k, v)| (Value::from(*k), v.clone()))
            .collect(),
    )
}

pub fn apply(t: &dyn Transform, r: RecordData) -> RecordData {
    t.apply(r)
        .expect("transform failed")
        .expect("record dropped")
}
