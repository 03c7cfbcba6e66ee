//! A user's own Sluice binary with a custom transform, written against
//! Sluice's library API: it adds `com.example.Uppercase` to the built-in
//! registry and runs the usual command line. Connectors then use it like any
//! Kafka Connect transform:
//!
//! ```text
//! "transforms": "up",
//! "transforms.up.type": "com.example.Uppercase",
//! "transforms.up.field": "name"        (optional: a field of a struct or map value)
//! ```
//!
//! It also adds `com.example.FlakyLookup`, which stands for a transform that
//! asks an outside service and fails with a *retriable* error while that
//! service is down (`RecordError::retriable`): the worker retries it as
//! `errors.retry.timeout` and `errors.retry.delay.max.ms` say, and applies
//! `errors.tolerance` only when the retries are used up.
//!
//! Build and run: `cargo run --example custom_transform -- standalone worker.properties`.

use std::sync::atomic::{AtomicU64, Ordering};

use sluice::runtime::data::{RecordData, Value};
use sluice::runtime::{
    ConfigDef, ConfigError, ConfigType, Importance, Props, RecordError, Transform,
};

/// Upper-cases a string value, or one string field of a struct or map value.
#[derive(Default)]
struct Uppercase {
    field: Option<String>,
}

impl Transform for Uppercase {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "field",
            ConfigType::String,
            Some(""),
            Importance::Medium,
            "Field to upper-case; empty: the whole value, which must be a string.",
        )
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let cfg = self.config_def().parse(props)?;
        self.field = cfg.opt_string("field");
        Ok(())
    }

    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let upper = |v: &mut Value| {
            if let Value::String(s) = v {
                *s = s.to_uppercase().into();
            }
        };
        match (&self.field, &mut record.value) {
            (None, Value::String(s)) => *s = s.to_uppercase().into(),
            (None, Value::Null) => {}
            (None, other) => {
                return Err(RecordError::new(format!(
                    "Uppercase needs a string value, got {}; set transforms.<name>.field to upper-case one field",
                    other.type_name()
                )))
            }
            (Some(f), Value::Struct(s)) => {
                if let Some(i) = s.schema.field(f).map(|x| x.index) {
                    upper(&mut s.values[i]);
                }
            }
            (Some(f), Value::Map(entries)) => {
                for (k, v) in entries.iter_mut() {
                    if k.as_str() == Some(f.as_str()) {
                        upper(v);
                    }
                }
            }
            _ => {}
        }
        Ok(Some(record))
    }
}

/// Passes records unchanged, except that its first `failures` calls fail
/// with a retriable error ("the lookup service is down").
#[derive(Default)]
struct FlakyLookup {
    failures: u64,
    calls: AtomicU64,
}

impl Transform for FlakyLookup {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "failures",
            ConfigType::Long,
            Some("0"),
            Importance::Medium,
            "How many calls fail (retriably) before the service comes back.",
        )
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let cfg = self.config_def().parse(props)?;
        self.failures = cfg.i64("failures")?.max(0) as u64;
        Ok(())
    }

    fn apply(&self, record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call <= self.failures {
            return Err(RecordError::retriable(format!(
                "the lookup service is down (call {call} of {} that fail)",
                self.failures
            )));
        }
        Ok(Some(record))
    }
}

fn main() {
    let mut registry = sluice::registry::builtin();
    registry.register_transform("com.example.Uppercase", &["Uppercase"], || {
        Box::new(Uppercase::default())
    });
    registry.register_transform("com.example.FlakyLookup", &["FlakyLookup"], || {
        Box::new(FlakyLookup::default())
    });
    std::process::exit(sluice::cli::main_with(registry));
}
