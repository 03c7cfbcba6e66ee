//! Reference producers for the benchmarks: plain librdkafka (via rdkafka),
//! one thread sending as fast as the queue takes records, timed from the
//! first send to the last delivery report. Prints `records=N seconds=S
//! cpu_seconds=C`.
//!
//! - `plain_producer BOOTSTRAP TOPIC FILE`: every line of FILE as a value,
//!   with the settings of `scripts/bench-file`'s figures (acks=all,
//!   idempotence, murmur2_random, linger 5 ms).
//! - `plain_producer BOOTSTRAP TOPIC --repeat N TEMPLATE`: N records made
//!   from TEMPLATE (two lines: key, then value; `@ID@` in either is
//!   replaced by the record's number, 1..=N), with exactly the producer
//!   settings of a Sluice source task
//!   (`sluice_runtime::kafka::producer_defaults`; `KEY=VALUE` arguments
//!   after TEMPLATE override them). Sending the records a
//!   connector would send, with nothing else to do, this is the ceiling of
//!   any pipeline into that broker on this machine (`scripts/bench-mysql
//!   --ceiling`).

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext};

struct Counter(Arc<AtomicU64>, Arc<AtomicU64>);
impl ClientContext for Counter {}
impl ProducerContext for Counter {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => self.0.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.1.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// A key/value template split at its `@ID@` placeholders.
struct Template {
    key: Vec<Vec<u8>>,
    value: Vec<Vec<u8>>,
}

impl Template {
    fn read(path: &str) -> anyhow::Result<Template> {
        let text = std::fs::read(path)?;
        let mut lines = text.split(|&b| b == b'\n');
        let split = |line: &[u8]| -> Vec<Vec<u8>> {
            let mut parts = Vec::new();
            let mut rest = line;
            while let Some(at) = rest.windows(4).position(|w| w == b"@ID@") {
                parts.push(rest[..at].to_vec());
                rest = &rest[at + 4..];
            }
            parts.push(rest.to_vec());
            parts
        };
        let (Some(key), Some(value)) = (lines.next(), lines.next()) else {
            anyhow::bail!("{path}: expected two lines (key, value)");
        };
        Ok(Template {
            key: split(key),
            value: split(value),
        })
    }

    fn fill(parts: &[Vec<u8>], id: &[u8], out: &mut Vec<u8>) {
        out.clear();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(id);
            }
            out.extend_from_slice(p);
        }
    }
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: plain_producer BOOTSTRAP TOPIC FILE | plain_producer BOOTSTRAP TOPIC --repeat N TEMPLATE [KEY=VALUE ...]";
    anyhow::ensure!(args.len() == 4 || args.len() >= 6, "{usage}");
    let (bootstrap, topic) = (&args[1], &args[2]);
    let repeat = if args.len() >= 6 {
        anyhow::ensure!(args[3] == "--repeat", "{usage}");
        Some((args[4].parse::<u64>()?, Template::read(&args[5])?))
    } else {
        None
    };
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    if repeat.is_some() {
        for (k, v) in sluice_runtime::kafka::producer_defaults() {
            cfg.set(k, v);
        }
        for kv in &args[6..] {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("{usage}"))?;
            cfg.set(k, v);
        }
    } else {
        cfg.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "5")
            .set("queue.buffering.max.kbytes", "16384")
            .set("queue.buffering.max.messages", "20000")
            .set("batch.num.messages", "10000");
    }
    let producer: ThreadedProducer<Counter> =
        cfg.create_with_context(Counter(ok.clone(), failed.clone()))?;
    let send = |key: Option<&[u8]>, value: &[u8]| -> anyhow::Result<()> {
        loop {
            let mut r = BaseRecord::<[u8], [u8]>::to(topic).payload(value);
            if let Some(k) = key {
                r = r.key(k);
            }
            match producer.send(r) {
                Ok(()) => return Ok(()),
                Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err((e, _)) => anyhow::bail!("produce failed: {e}"),
            }
        }
    };
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let mut sent = 0u64;
    match &repeat {
        Some((n, t)) => {
            let (mut key, mut value) = (Vec::with_capacity(256), Vec::with_capacity(4096));
            let mut id = itoa_buf();
            for i in 1..=*n {
                let digits = id.format(i);
                Template::fill(&t.key, digits, &mut key);
                Template::fill(&t.value, digits, &mut value);
                send(Some(&key), &value)?;
                sent += 1;
            }
        }
        None => {
            let file = std::fs::File::open(&args[3])?;
            let reader = std::io::BufReader::with_capacity(256 * 1024, file);
            for line in reader.split(b'\n') {
                send(None, &line?)?;
                sent += 1;
            }
        }
    }
    producer.flush(Duration::from_secs(300))?;
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_start;
    anyhow::ensure!(
        ok.load(Ordering::Relaxed) == sent,
        "only {} of {sent} delivered ({} failed)",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    println!("records={sent} seconds={secs:.3} cpu_seconds={cpu:.2}");
    Ok(())
}

/// Decimal digits of a u64 into a reused buffer.
struct Digits([u8; 20]);

fn itoa_buf() -> Digits {
    Digits([0; 20])
}

impl Digits {
    fn format(&mut self, mut n: u64) -> &[u8] {
        let mut at = self.0.len();
        loop {
            at -= 1;
            self.0[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                return &self.0[at..];
            }
        }
    }
}
