//! The wall clock of events (`ts_ms`, `ts_us`, `ts_ns`), and the calendar
//! arithmetic of their dates (the API's proleptic Gregorian day count, exact
//! for every year the sources allow).

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time: (ms, us, ns) since the epoch.
pub fn now() -> (i64, i64, i64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ns = d.as_nanos() as i64;
    (ns / 1_000_000, ns / 1_000, ns)
}

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    now().0
}

pub use sluice_api::java_text::{civil_from_days, days_from_civil};
