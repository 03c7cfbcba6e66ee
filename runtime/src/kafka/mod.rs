//! Kafka I/O over rdkafka: the source tasks' producer, sink consumers, and
//! topic administration.
//!
//! Producer defaults are Kafka Connect's (acks=all, idempotence on, retries
//! without a deadline so a restarting broker stalls the pipeline rather than
//! dropping records) and Java's partitioner (`murmur2_random`), so a key lands
//! on the same partition as with Kafka Connect. Each delivery report carries
//! the record's sequence number back to the task, which commits source
//! offsets only past fully acknowledged prefixes (see `worker::submitted`).

pub mod admin;
pub mod group;
pub mod log;
pub mod secure;

pub use admin::TopicAdmin;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Message};
use tokio::sync::Notify;

/// A Kafka client problem, with the retriable/fatal split.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KafkaError {
    #[error("{0}")]
    Retriable(String),
    #[error("{0}")]
    Fatal(String),
}

/// Builds a client config from bootstrap servers and pass-through settings.
///
/// Kafka Connect users pass Java client names (`producer.buffer.memory`,
/// `producer.delivery.timeout.ms`, `ssl.truststore.location`); librdkafka
/// knows most of them by the same name, the others are translated here (see
/// [`with_librdkafka_names`]), and Java-only classes are dropped. A setting
/// that has no librdkafka equivalent is an error naming it and the remedy.
pub fn client_config(
    bootstrap: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<ClientConfig, String> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    cfg.set("log_level", "4");
    for (k, v) in &with_librdkafka_names(overrides)? {
        match k.as_str() {
            "key.serializer"
            | "value.serializer"
            | "key.deserializer"
            | "value.deserializer"
            | "interceptor.classes" => {}
            "buffer.memory" => {
                if let Ok(bytes) = v.trim().parse::<u64>() {
                    cfg.set(
                        "queue.buffering.max.kbytes",
                        (bytes / 1024).max(1).to_string(),
                    );
                }
            }
            _ => {
                cfg.set(k, v);
            }
        }
    }
    Ok(cfg)
}

/// The settings of `all` that say how to reach a secured cluster
/// (`security.protocol`, `sasl.*`, `ssl.*`): what the worker's own clients
/// take from the top level of the worker config, as Kafka Connect's do.
pub fn security_settings(all: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    all.iter()
        .filter(|(k, _)| {
            k.as_str() == "security.protocol" || k.starts_with("sasl.") || k.starts_with("ssl.")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Java's TLS settings in librdkafka's terms (KIP-651 PEM stores, PKCS#12
/// key stores; PKCS#12 trust stores and JKS stores handed over as PEM).
fn map_ssl(out: &mut BTreeMap<String, String>) -> Result<(), String> {
    let store_type = |out: &BTreeMap<String, String>, store: &str| {
        out.get(&format!("ssl.{store}.type"))
            .map(|t| t.trim().to_ascii_uppercase())
    };
    let ts_type = store_type(out, "truststore");
    out.remove("ssl.truststore.type");
    let ts_password = out.remove("ssl.truststore.password");
    if let Some(loc) = out.remove("ssl.truststore.location") {
        let is_pem = std::fs::read(loc.trim())
            .map(|b| b.windows(11).any(|w| w == b"-----BEGIN "))
            .unwrap_or(ts_type.as_deref() == Some("PEM"));
        let is_p12 = !is_pem
            && std::fs::read(loc.trim())
                .map(|b| crate::pkcs12::looks_like(&b))
                .unwrap_or(false);
        let is_jks = !is_pem
            && std::fs::read(loc.trim())
                .map(|b| crate::jks::looks_like(&b))
                .unwrap_or(false);
        if is_jks {
            // Nor a JKS one: its certificates, as PEM.
            let pw = ts_password.as_deref().unwrap_or("");
            let store = crate::jks::read(
                std::path::Path::new(loc.trim()),
                pw,
                pw,
                "ssl.truststore.location",
            )?;
            out.insert("ssl.ca.pem".into(), crate::pkcs12::to_pem(&store.certs));
        } else if is_p12 {
            // librdkafka reads no PKCS#12 trust store: hand it the CAs as PEM.
            let store = crate::pkcs12::read(
                std::path::Path::new(loc.trim()),
                ts_password.as_deref().unwrap_or(""),
                "ssl.truststore.location",
            )?;
            out.insert("ssl.ca.pem".into(), crate::pkcs12::to_pem(&store.certs));
        } else if !is_pem {
            return Err(format!(
                "ssl.truststore.location={loc} is a {} trust store, which librdkafka does not read; convert it to PKCS12 (keytool -importkeystore -srckeystore {loc} -destkeystore truststore.p12 -deststoretype PKCS12) and set ssl.truststore.type=PKCS12, or export its CA certificates as PEM (keytool -exportcert -rfc -keystore {loc} -alias CA > ca.pem)",
                ts_type.as_deref().unwrap_or("JKS")
            ));
        } else {
            out.insert("ssl.ca.location".into(), loc);
        }
    }
    if let Some(pem) = out.remove("ssl.truststore.certificates") {
        out.insert("ssl.ca.pem".into(), pem);
    }
    let ks_type = store_type(out, "keystore");
    out.remove("ssl.keystore.type");
    if let Some(loc) = out.get("ssl.keystore.location").cloned() {
        let is_pem = std::fs::read(loc.trim())
            .map(|b| b.windows(11).any(|w| w == b"-----BEGIN "))
            .unwrap_or(ks_type.as_deref() == Some("PEM"));
        let is_jks = !is_pem
            && std::fs::read(loc.trim())
                .map(|b| crate::jks::looks_like(&b))
                .unwrap_or(false);
        match (is_pem, ks_type.as_deref()) {
            (false, _) if is_jks => {
                // librdkafka reads no JKS: the key and chain as PEM text.
                out.remove("ssl.keystore.location");
                let pw = out.remove("ssl.keystore.password").unwrap_or_default();
                let key_pw = out.remove("ssl.key.password").unwrap_or_else(|| pw.clone());
                let store = crate::jks::read(
                    std::path::Path::new(loc.trim()),
                    &pw,
                    &key_pw,
                    "ssl.keystore.location",
                )?;
                let key = store
                    .key
                    .ok_or_else(|| format!("ssl.keystore.location={loc} holds no private key"))?;
                let pem = openssl::pkey::PKey::private_key_from_pkcs8(&key)
                    .and_then(|k| k.private_key_to_pem_pkcs8())
                    .map_err(|e| format!("ssl.keystore.location={loc}: its private key: {e}"))?;
                out.insert("ssl.key.pem".into(), String::from_utf8_lossy(&pem).into_owned());
                out.insert("ssl.certificate.pem".into(), crate::pkcs12::to_pem(&store.certs));
            }
            (true, _) => {
                // One PEM file with the key and the chain: librdkafka reads
                // each from it.
                out.remove("ssl.keystore.location");
                out.remove("ssl.keystore.password");
                out.insert("ssl.certificate.location".into(), loc.clone());
                out.insert("ssl.key.location".into(), loc);
            }
            (false, Some("PKCS12")) => {} // librdkafka's own ssl.keystore.*
            (false, t) => {
                return Err(format!(
                    "ssl.keystore.location={loc} is a {} key store, which librdkafka does not read; convert it to PKCS12 (keytool -importkeystore -srckeystore {loc} -destkeystore ks.p12 -deststoretype PKCS12) and set ssl.keystore.type=PKCS12, or to PEM",
                    t.unwrap_or("JKS")
                ))
            }
        }
    }
    if let Some(pem) = out.remove("ssl.keystore.key") {
        out.insert("ssl.key.pem".into(), pem);
    }
    if let Some(pem) = out.remove("ssl.keystore.certificate.chain") {
        out.insert("ssl.certificate.pem".into(), pem);
    }
    // Java's empty value switches host name checks off; librdkafka says none.
    if let Some(v) = out.get_mut("ssl.endpoint.identification.algorithm") {
        if v.trim().is_empty() {
            *v = "none".into();
        }
    }
    // Which JSSE implementation and protocol versions Java uses: librdkafka
    // speaks TLS 1.2 and 1.3 through OpenSSL, with no such choice.
    for k in [
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.keymanager.algorithm",
        "ssl.trustmanager.algorithm",
        "ssl.secure.random.implementation",
        "ssl.engine.factory.class",
    ] {
        if let Some(v) = out.remove(k) {
            tracing::debug!("{k}={v} is a Java TLS setting librdkafka has no use for; left out");
        }
    }
    Ok(())
}

/// Java client names that librdkafka spells otherwise. Java's
/// `max.request.size` (the largest request, and so the largest record, a
/// producer sends) is librdkafka's `message.max.bytes`; a `message.max.bytes`
/// set as well wins, being librdkafka's own name. A `sasl.jaas.config` of the
/// PLAIN or SCRAM login module becomes librdkafka's `sasl.username` and
/// `sasl.password`, replacing any set otherwise: the settings come merged
/// (worker `consumer.*` under a connector's `consumer.override.*`), and the
/// JAAS config is what a Kafka Connect user writes at either level, so a
/// worker-level librdkafka name must not outvote a connector's own
/// credentials. Other login modules are
/// left for librdkafka to refuse, by name (the error text goes through the
/// caller's secret redaction).
pub(crate) fn with_librdkafka_names(
    settings: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = settings.clone();
    map_ssl(&mut out)?;
    for k in [
        "sasl.login.class",
        "sasl.client.callback.handler.class",
        "sasl.login.callback.handler.class",
    ] {
        if let Some(v) = out.get(k) {
            return Err(format!(
                "{k}={v} is a Java class librdkafka cannot load; Sluice logs in with sasl.jaas.config (PLAIN, SCRAM) or librdkafka's own sasl.* settings"
            ));
        }
    }
    if let Some(v) = out.remove("max.request.size") {
        out.entry("message.max.bytes".to_string()).or_insert(v);
    }
    if let Some(jaas) = out.get("sasl.jaas.config").cloned() {
        let module = jaas.split_whitespace().next().unwrap_or("");
        if module.ends_with(".PlainLoginModule") || module.ends_with(".ScramLoginModule") {
            out.remove("sasl.jaas.config");
            for (name, value) in crate::secrets::jaas_options(&jaas) {
                if name == "username" || name == "password" {
                    out.insert(format!("sasl.{name}"), value);
                }
            }
        }
    }
    Ok(out)
}

/// Acks delivered by the producer's callback thread to the task loop.
#[derive(Default)]
pub struct Acks {
    inner: Mutex<AckBuf>,
    notify: Notify,
}

#[derive(Default)]
struct AckBuf {
    acked: Vec<u64>,
    failed: Vec<(u64, String)>,
}

impl Acks {
    /// Takes the acks received so far: (acked seqs, failed seqs with reasons).
    pub fn drain(&self) -> (Vec<u64>, Vec<(u64, String)>) {
        let mut b = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut b.acked), std::mem::take(&mut b.failed))
    }

    /// Waits until an ack arrives or the timeout passes.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }
}

/// Producer context that routes delivery reports to [`Acks`].
pub struct AckContext {
    acks: Arc<Acks>,
}

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        {
            let mut b = self.acks.inner.lock().unwrap_or_else(|p| p.into_inner());
            match result {
                Ok(_) => b.acked.push(seq as u64),
                Err((e, msg)) => b
                    .failed
                    .push((seq as u64, format!("{e} (topic {})", msg.topic()))),
            }
        }
        self.acks.notify.notify_one();
    }
}

/// The producer settings every source task starts from (Kafka Connect's
/// defaults, plus the batching measured best here), before the worker's
/// `producer.*` and the connector's `producer.override.*`. Public so that
/// reference producers in the benchmarks send with exactly these.
pub fn producer_defaults() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("enable.idempotence".to_string(), "true".to_string()),
        ("acks".to_string(), "all".to_string()),
        ("partitioner".to_string(), "murmur2_random".to_string()),
        ("message.timeout.ms".to_string(), "0".to_string()),
        // 20 ms, not librdkafka's 5: fewer, fuller produce requests
        // cut the producer thread's CPU per record by a third or more
        // (scripts/bench-mysql --broker null, docs/benchmarks.md).
        ("linger.ms".to_string(), "20".to_string()),
        // Queued record bytes, librdkafka's own copies: the largest
        // share of peak RSS. 4 MB kept the MySQL stream's throughput
        // on loopback and took peak RSS from ~70 to ~50 MiB; raise it
        // (producer.queue.buffering.max.kbytes, or Kafka Connect's
        // producer.buffer.memory) for a distant broker.
        ("queue.buffering.max.kbytes".to_string(), "4096".to_string()),
        // Bounds the records in flight, and with them the offsets held
        // for commit: measured 163 MiB peak RSS at 100,000, 43 MiB at
        // 10,000, at the same throughput (scripts/bench-file).
        (
            "queue.buffering.max.messages".to_string(),
            "20000".to_string(),
        ),
        ("batch.num.messages".to_string(), "10000".to_string()),
    ])
}

/// One source task's producer.
pub struct TaskProducer {
    producer: ThreadedProducer<AckContext>,
    pub acks: Arc<Acks>,
}

/// One record ready for the producer.
pub struct OutRecord<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Option<OwnedHeaders>,
    pub timestamp: Option<i64>,
}

impl TaskProducer {
    /// A producer with Kafka Connect's defaults, then the worker's
    /// `producer.*` and the connector's `producer.override.*` settings.
    pub fn new(bootstrap: &str, overrides: &BTreeMap<String, String>) -> Result<Self, KafkaError> {
        let mut settings = producer_defaults();
        for (k, v) in with_librdkafka_names(overrides).map_err(KafkaError::Fatal)? {
            settings.insert(k, v);
        }
        // A record larger than the queue can never be queued (send would
        // wait forever): keep room for two of the largest records allowed.
        let max_message = settings
            .get("message.max.bytes")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1_000_000);
        let queue_kb = settings
            .get("queue.buffering.max.kbytes")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(4096);
        if queue_kb * 1024 < 2 * max_message {
            settings.insert(
                "queue.buffering.max.kbytes".to_string(),
                (2 * max_message / 1024 + 1).to_string(),
            );
        }
        let cfg = client_config(bootstrap, &settings).map_err(KafkaError::Fatal)?;
        let acks = Arc::new(Acks::default());
        let producer = cfg
            .create_with_context(AckContext { acks: acks.clone() })
            .map_err(|e| {
                KafkaError::Fatal(format!(
                    "cannot create the Kafka producer: {e}; check the producer.* settings"
                ))
            })?;
        Ok(TaskProducer { producer, acks })
    }

    /// Exactly-once delivery (KIP-618): takes the task's transactional id,
    /// which fences any earlier producer of the same task (a zombie on a
    /// worker that lost the task) and aborts its open transaction.
    pub fn init_transactions(&self, timeout: Duration) -> Result<(), KafkaError> {
        tokio::task::block_in_place(|| self.producer.init_transactions(timeout))
            .map_err(|e| KafkaError::Fatal(format!("cannot start the task's transactions: {e}")))
    }

    pub fn begin_transaction(&self) -> Result<(), KafkaError> {
        self.producer
            .begin_transaction()
            .map_err(|e| KafkaError::Fatal(format!("cannot begin a transaction: {e}")))
    }

    /// Commits the open transaction: its records and source offsets become
    /// visible to read_committed consumers together, or (on an error) not
    /// at all.
    pub fn commit_transaction(&self, timeout: Duration) -> Result<(), KafkaError> {
        tokio::task::block_in_place(|| self.producer.commit_transaction(timeout))
            .map_err(|e| KafkaError::Fatal(format!("cannot commit the transaction: {e}")))
    }

    pub fn abort_transaction(&self, timeout: Duration) -> Result<(), KafkaError> {
        tokio::task::block_in_place(|| self.producer.abort_transaction(timeout))
            .map_err(|e| KafkaError::Fatal(format!("cannot abort the transaction: {e}")))
    }

    /// Queues one record. When librdkafka's queue is full this waits for
    /// deliveries (back-pressure) instead of growing memory.
    pub async fn send(&self, rec: OutRecord<'_>, seq: u64) -> Result<(), KafkaError> {
        let mut headers = rec.headers;
        loop {
            let mut r: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(rec.topic, seq as usize);
            if let Some(k) = rec.key {
                r = r.key(k);
            }
            if let Some(v) = rec.value {
                r = r.payload(v);
            }
            if let Some(p) = rec.partition {
                r = r.partition(p);
            }
            if let Some(ts) = rec.timestamp {
                r = r.timestamp(ts);
            }
            if let Some(h) = headers.take() {
                r = r.headers(h);
            }
            match self.producer.send(r) {
                Ok(()) => return Ok(()),
                Err((e, back)) => {
                    headers = back.headers;
                    match e.rdkafka_error_code() {
                        Some(RDKafkaErrorCode::QueueFull) => {
                            if self.producer.in_flight_count() == 0 {
                                // Nothing to wait for: this record alone
                                // is larger than the whole queue.
                                return Err(KafkaError::Fatal(format!(
                                    "a record for topic {} does not fit in the producer queue; raise producer.override.queue.buffering.max.kbytes (and max.request.size for records over 1 MB)",
                                    rec.topic
                                )));
                            }
                            self.acks.wait(Duration::from_millis(20)).await;
                        }
                        Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
                            return Err(KafkaError::Fatal(format!(
                                "a record for topic {} is larger than the producer allows ({e}); raise producer.override.max.request.size (librdkafka: message.max.bytes) and the topic's max.message.bytes (topic.creation.default.max.message.bytes for topics Sluice creates)",
                                rec.topic
                            )))
                        }
                        _ => return Err(KafkaError::Fatal(format!("cannot produce to topic {}: {e}", rec.topic))),
                    }
                }
            }
        }
    }

    /// Records queued or in flight in librdkafka.
    pub fn in_flight(&self) -> i32 {
        self.producer.in_flight_count()
    }

    /// Waits (bounded) for queued records to be delivered.
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(timeout);
    }
}

/// Builds Kafka headers from converted (key, bytes) pairs.
pub fn make_headers<K: AsRef<str>>(pairs: &[(K, Option<Vec<u8>>)]) -> Option<OwnedHeaders> {
    if pairs.is_empty() {
        return None;
    }
    let mut h = OwnedHeaders::new_with_capacity(pairs.len());
    for (k, v) in pairs {
        h = h.insert(Header {
            key: k.as_ref(),
            value: v.as_deref(),
        });
    }
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javas_max_request_size_becomes_message_max_bytes() {
        let java = BTreeMap::from([("max.request.size".to_string(), "20971520".to_string())]);
        let cfg = client_config("127.0.0.1:1", &java).unwrap();
        assert_eq!(cfg.get("message.max.bytes"), Some("20971520"));
        assert_eq!(cfg.get("max.request.size"), None);
        let both = BTreeMap::from([
            ("max.request.size".to_string(), "5".to_string()),
            ("message.max.bytes".to_string(), "7".to_string()),
        ]);
        assert_eq!(
            with_librdkafka_names(&both)
                .unwrap()
                .get("message.max.bytes"),
            Some(&"7".to_string())
        );
    }

    #[test]
    fn a_plain_or_scram_jaas_config_becomes_sasl_username_and_password() {
        let jaas = |module: &str| {
            BTreeMap::from([(
                "sasl.jaas.config".to_string(),
                format!(
                    r#"org.apache.kafka.common.security.{module} required username="app" password="p w";"#
                ),
            )])
        };
        for module in ["plain.PlainLoginModule", "scram.ScramLoginModule"] {
            let cfg = client_config("127.0.0.1:1", &jaas(module)).unwrap();
            assert_eq!(cfg.get("sasl.username"), Some("app"));
            assert_eq!(cfg.get("sasl.password"), Some("p w"));
            assert_eq!(cfg.get("sasl.jaas.config"), None);
        }
        // A connector's JAAS config beats a worker-level librdkafka name.
        let mut merged = jaas("plain.PlainLoginModule");
        merged.insert("sasl.username".into(), "worker".into());
        assert_eq!(
            client_config("127.0.0.1:1", &merged)
                .unwrap()
                .get("sasl.username"),
            Some("app")
        );
        // Another login module is left for librdkafka to refuse by name.
        let oauth = jaas("oauthbearer.OAuthBearerLoginModule");
        assert!(with_librdkafka_names(&oauth)
            .unwrap()
            .contains_key("sasl.jaas.config"));
    }

    #[test]
    fn javas_tls_stores_become_librdkafkas() {
        let dir = std::env::temp_dir().join(format!("sluice-kafka-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = dir.join("ca.pem");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let jks = dir.join("truststore.jks");
        std::fs::write(&jks, [0xfe, 0xed, 0xfe, 0xed]).unwrap();
        let m = |kv: &[(&str, &str)]| {
            with_librdkafka_names(
                &kv.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let p = pem.display().to_string();
        let out = m(&[
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", &p),
            ("ssl.keystore.location", &p),
            ("ssl.keystore.type", "PEM"),
            ("ssl.endpoint.identification.algorithm", ""),
            ("ssl.enabled.protocols", "TLSv1.2,TLSv1.3"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
        ])
        .unwrap();
        assert_eq!(out.get("ssl.ca.location"), Some(&p));
        assert_eq!(out.get("ssl.certificate.location"), Some(&p));
        assert_eq!(out.get("ssl.key.location"), Some(&p));
        assert_eq!(
            out.get("ssl.endpoint.identification.algorithm")
                .map(String::as_str),
            Some("none")
        );
        assert!(!out
            .keys()
            .any(|k| k.contains("truststore") || k == "ssl.enabled.protocols"));
        assert_eq!(
            out.get("sasl.mechanism").map(String::as_str),
            Some("SCRAM-SHA-512")
        );
        // A JKS store is read (tests/rest_security.rs reads keytool's);
        // a damaged one is an error naming the setting.
        let j = jks.display().to_string();
        let e = m(&[("ssl.truststore.location", &j)]).unwrap_err();
        assert!(
            e.contains("ssl.truststore.location") && e.contains("JKS"),
            "{e}"
        );
        let e = m(&[("ssl.keystore.location", &j), ("ssl.keystore.type", "JKS")]).unwrap_err();
        assert!(
            e.contains("ssl.keystore.location") && e.contains("JKS"),
            "{e}"
        );
        // Another store (JCEKS, say) gets the conversion command.
        let other = dir.join("truststore.jceks");
        std::fs::write(&other, [0xce, 0xce, 0xce, 0xce]).unwrap();
        let o = other.display().to_string();
        let e = m(&[
            ("ssl.truststore.location", &o),
            ("ssl.truststore.type", "JCEKS"),
        ])
        .unwrap_err();
        assert!(
            e.contains("JCEKS") && e.contains("keytool -exportcert"),
            "{e}"
        );
        let e = m(&[
            ("ssl.keystore.location", &o),
            ("ssl.keystore.type", "JCEKS"),
        ])
        .unwrap_err();
        assert!(e.contains("PKCS12"), "{e}");
        let ok = m(&[
            ("ssl.keystore.location", &o),
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.password", "x"),
        ])
        .unwrap();
        assert_eq!(ok.get("ssl.keystore.location"), Some(&o));
        let e = m(&[("sasl.login.callback.handler.class", "com.x.Handler")]).unwrap_err();
        assert!(e.contains("com.x.Handler"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
