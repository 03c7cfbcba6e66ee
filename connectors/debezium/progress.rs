//! Snapshot progress in the log: for each table (or collection) being
//! read, a line at a steady pace, [`PROGRESS_INTERVAL`] apart, with the
//! rows read, the estimate, the rate and the time left; and one when it is
//! done. Debezium logs its snapshot the same way, every 10 s.
//!
//! A line per row would drown the log and one per table says nothing
//! during a table of hours. The check costs one clock read, so callers make
//! it per batch. Lines are fields as well as text (`table`, `rows`,
//! `estimated_total`, `rows_per_second`, `eta_seconds`), for `log.format=json`;
//! the connector and task come from the task's span.

use std::time::{Duration, Instant};

/// How often a table's progress is logged (Debezium's snapshot log interval).
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// The interval, shortened by the hidden `SLUICE_SNAPSHOT_PROGRESS_INTERVAL_MS`
/// (tests, which cannot wait for a 10 s table).
fn interval() -> Duration {
    std::env::var("SLUICE_SNAPSHOT_PROGRESS_INTERVAL_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(PROGRESS_INTERVAL, Duration::from_millis)
}

/// The progress of one table's snapshot.
pub struct SnapshotProgress {
    table: String,
    estimate: u64,
    interval: Duration,
    started: Instant,
    last: Instant,
}

impl SnapshotProgress {
    /// A table whose read begins now; `estimate` is the server's row count
    /// guess (0: unknown).
    pub fn start(table: impl Into<String>, estimate: u64) -> SnapshotProgress {
        let now = Instant::now();
        SnapshotProgress {
            table: table.into(),
            estimate,
            interval: interval(),
            started: now,
            last: now,
        }
    }

    /// `rows` of the table have been read: logs a line when the interval
    /// has passed since the last one.
    pub fn rows(&mut self, rows: u64) {
        if self.due(Instant::now()) {
            self.log(rows);
        }
    }

    /// Whether a line is due at `now`; if so, the next one is due an
    /// interval later.
    fn due(&mut self, now: Instant) -> bool {
        if now.duration_since(self.last) < self.interval {
            return false;
        }
        self.last = now;
        true
    }

    fn log(&self, rows: u64) {
        let elapsed = self.started.elapsed();
        let rate = rate(rows, elapsed);
        let total = self.estimate.max(rows);
        let eta = eta(rows, self.estimate, rate);
        let left = eta.map_or(String::new(), |s| format!(", about {} left", human(s)));
        tracing::info!(
            table = %self.table,
            rows,
            estimated_total = total,
            rows_per_second = rate.round() as u64,
            eta_seconds = eta,
            "snapshot: {} {rows} of ~{total} rows ({:.0}%), {:.0} rows/s{left}",
            self.table,
            percent(rows, total),
            rate,
        );
    }

    /// The table has been read: `rows` in all.
    pub fn done(&self, rows: u64) {
        let elapsed = self.started.elapsed();
        tracing::info!(
            table = %self.table,
            rows,
            rows_per_second = rate(rows, elapsed).round() as u64,
            elapsed_ms = elapsed.as_millis() as u64,
            "snapshot: {} done, {rows} rows in {:.1?}",
            self.table,
            elapsed,
        );
    }
}

fn rate(rows: u64, elapsed: Duration) -> f64 {
    rows as f64 / elapsed.as_secs_f64().max(0.001)
}

fn percent(rows: u64, total: u64) -> f64 {
    if total == 0 {
        100.0
    } else {
        rows as f64 * 100.0 / total as f64
    }
}

/// Seconds left at `rate`, while the estimate is ahead of the rows read.
fn eta(rows: u64, estimate: u64, rate: f64) -> Option<u64> {
    (estimate > rows && rate > 0.0).then(|| ((estimate - rows) as f64 / rate).ceil() as u64)
}

/// `42s`, `3m10s`, `2h05m`.
fn human(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_due_once_per_interval_however_often_asked() {
        let mut p = SnapshotProgress::start("db.t", 1000);
        p.interval = Duration::from_secs(10);
        let t0 = p.last;
        let due: Vec<u64> = (1..=35)
            .filter(|s| p.due(t0 + Duration::from_secs(*s)))
            .collect();
        assert_eq!(due, [10, 20, 30]);
    }

    #[test]
    fn time_left_follows_the_estimate() {
        assert_eq!(eta(250, 1000, 50.0), Some(15));
        assert_eq!(eta(1000, 1000, 50.0), None);
        assert_eq!(eta(1200, 1000, 50.0), None, "past the estimate");
        assert_eq!(eta(0, 1000, 0.0), None);
        assert_eq!(percent(250, 1000), 25.0);
        assert_eq!(percent(0, 0), 100.0);
        assert_eq!(human(42), "42s");
        assert_eq!(human(190), "3m10s");
        assert_eq!(human(7500), "2h05m");
    }
}
