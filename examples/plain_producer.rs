//! The reference for `scripts/bench-file`: a plain librdkafka producer (via
//! rdkafka) sending every line of a file to a topic with the settings Sluice
//! uses (acks=all, idempotence, murmur2_random, linger 5 ms), waiting for
//! every delivery report. Prints `records=N seconds=S`.
//!
//! Usage: plain_producer BOOTSTRAP TOPIC FILE

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

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 4,
        "usage: plain_producer BOOTSTRAP TOPIC FILE"
    );
    let (bootstrap, topic, file) = (&args[1], &args[2], &args[3]);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let producer: ThreadedProducer<Counter> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("queue.buffering.max.kbytes", "16384")
        .set("queue.buffering.max.messages", "20000")
        .set("batch.num.messages", "10000")
        .create_with_context(Counter(ok.clone(), failed.clone()))?;
    let start = Instant::now();
    let reader = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(file)?);
    let mut sent = 0u64;
    for line in reader.split(b'\n') {
        let line = line?;
        loop {
            match producer.send::<[u8], [u8]>(BaseRecord::to(topic).payload(&line[..])) {
                Ok(()) => break,
                Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err((e, _)) => anyhow::bail!("produce failed: {e}"),
            }
        }
        sent += 1;
    }
    producer.flush(Duration::from_secs(300))?;
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        ok.load(Ordering::Relaxed) == sent,
        "only {} of {sent} delivered ({} failed)",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    println!("records={sent} seconds={secs:.3}");
    Ok(())
}
