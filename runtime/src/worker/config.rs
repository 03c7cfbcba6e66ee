//! The worker's own config, in Kafka Connect's property names.
//!
//! Read from a `.properties` file (Kafka Connect's format) with environment
//! overrides: `SLUICE_BOOTSTRAP_SERVERS=...` (or Kafka Connect's docker-image
//! style `CONNECT_BOOTSTRAP_SERVERS=...`) sets `bootstrap.servers`; each `_`
//! becomes a `.` and the name is lower-cased.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{sub_map, Config, ConfigDef, ConfigType, Importance, Validator};
use crate::config_providers::ConfigProviders;
use crate::rest::server::ListenerSpec;

/// A bad worker config: one line, naming the key and the remedy.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct WorkerConfigError(pub String);

/// The parsed worker config.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub props: BTreeMap<String, String>,
    pub bootstrap_servers: String,
    /// host:port the REST API binds (the first of `listeners`).
    pub rest_bind: String,
    /// Every `listeners` and `admin.listeners` entry.
    pub rest_listeners: Vec<ListenerSpec>,
    /// `admin.listeners` is set (possibly empty): `/admin` is not served on
    /// the API's listeners.
    pub admin_elsewhere: bool,
    pub offset_file: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
    pub offset_flush_interval_ms: u64,
    /// `metrics.enabled`: whether tasks count what GET /metrics reports.
    pub metrics_enabled: bool,
    pub plugin_path: Vec<PathBuf>,
    pub group_id: Option<String>,
    /// `config.providers`: what `${provider:path:key}` in connector configs
    /// resolves through (the worker's own values are resolved already).
    pub providers: ConfigProviders,
}

pub fn worker_config_def() -> ConfigDef {
    ConfigDef::new()
        .define("bootstrap.servers", ConfigType::List, None, Importance::High,
            "Kafka brokers to connect to, host:port pairs separated by commas.")
        .define("listeners", ConfigType::List, Some("http://127.0.0.1:8083"), Importance::Low,
            "Where the REST API listens: http://host:port or https://host:port, comma-separated. HTTPS reads listeners.https.ssl.* then ssl.*: keystore.location (PEM with key and chain; keystore.type=PEM) or keystore.key + keystore.certificate.chain, client.auth (none, requested, required) with truststore.location (PEM) or truststore.certificates, enabled.protocols.")
        .define("admin.listeners", ConfigType::List, Some(""), Importance::Low,
            "Where /admin (the log levels) is served: unset, with the API; listeners like those of listeners (HTTPS keys admin.listeners.https.ssl.*), there only; empty, nowhere.")
        .define("rest.extension.classes", ConfigType::List, Some(""), Importance::Low,
            "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension turns on HTTP Basic authentication with the credentials file named in the JAAS file of java.security.auth.login.config (KafkaConnect section, PropertyFileLoginModule, file=...); other classes are refused.")
        .define("java.security.auth.login.config", ConfigType::String, Some(""), Importance::Low,
            "Sluice: the JAAS file that Kafka Connect takes from -Djava.security.auth.login.config (which Sluice also reads from KAFKA_OPTS).")
        .define("access.control.allow.origin", ConfigType::String, Some(""), Importance::Low,
            "Origins allowed cross-origin (CORS) REST calls, comma-separated; * for any. Empty: no CORS headers are sent.")
        .define("access.control.allow.methods", ConfigType::String, Some(""), Importance::Low,
            "Methods allowed in CORS requests (default GET,POST,HEAD).")
        .define("key.converter", ConfigType::Class, Some("org.apache.kafka.connect.json.JsonConverter"), Importance::High,
            "Converter for record keys; connectors may override it.")
        .define("value.converter", ConfigType::Class, Some("org.apache.kafka.connect.json.JsonConverter"), Importance::High,
            "Converter for record values; connectors may override it.")
        .define("header.converter", ConfigType::Class, Some("org.apache.kafka.connect.storage.SimpleHeaderConverter"), Importance::Low,
            "Converter for record headers.")
        .define("offset.storage.file.filename", ConfigType::String, Some(""), Importance::High,
            "Standalone: the file that holds source offsets.")
        .define("config.storage.file.filename", ConfigType::String, Some(""), Importance::Low,
            "Standalone: the file that holds connector configs and states (default: beside the offset file).")
        .define("offset.flush.interval.ms", ConfigType::Long, Some("60000"), Importance::Low,
            "How often source offsets are committed.")
        .define("plugin.path", ConfigType::List, Some(""), Importance::Low,
            "Directories searched for run-time plugins.")
        .define("group.id", ConfigType::String, Some(""), Importance::High,
            "Distributed: the cluster's group id.")
        .define("config.providers", ConfigType::List, Some(""), Importance::Low,
            "Names of config providers (KIP-297): ${NAME:[path:]key} in worker and connector configs is resolved when the worker starts, and when a connector or task starts; stored and shown as written. config.providers.NAME.class is org.apache.kafka.common.config.provider.FileConfigProvider, DirectoryConfigProvider or EnvVarConfigProvider; config.providers.NAME.param.allowed.paths (file, directory) and .param.allowlist.pattern (env) limit what they read. See docs/security.md.")
        .define("connector.client.config.override.policy", ConfigType::String, Some("All"), Importance::Medium,
            "Which client settings connectors may override (producer.override.*, consumer.override.*, admin.override.*): All, Principal (security.protocol, sasl.mechanism, sasl.jaas.config only) or None; Kafka Connect's class names work too.")
        .define("task.shutdown.graceful.timeout.ms", ConfigType::Long, Some("5000"), Importance::Low,
            "How long a stopping task may take to finish.")
        .define("metrics.enabled", ConfigType::Boolean, Some("true"), Importance::Low,
            "Sluice: whether tasks count what GET /metrics reports of them (Kafka Connect's source-task, sink-task and task-error counters, batch sizes, commit→ack latency). false leaves those at 0 (the worker's and Debezium's gauges remain): it exists to measure what the counting costs (docs/benchmarks.md).")
        .define("log.format", ConfigType::String, Some("text"), Importance::Low,
            "Sluice: the log format on stderr. text: one line per event, a task's lines prefixed with task{connector=... task=...}. json: one JSON object per line with timestamp, level, logger, message, the connector and task of a task's lines, and the event's fields (see docs/operations.md). Read before the rest of the worker config, so every line of the start is in it; SLUICE_WORKER_LOG_FORMAT=json sets it from the environment.")
        .validate(Validator::OneOf(vec!["text", "json"]))
}

/// Applies environment overrides from `SLUICE_*` and `CONNECT_*` variables.
pub fn env_overrides(
    props: &mut BTreeMap<String, String>,
    vars: impl Iterator<Item = (String, String)>,
) {
    for (k, v) in vars {
        let name = k
            .strip_prefix("SLUICE_WORKER_")
            .or_else(|| k.strip_prefix("CONNECT_"));
        if let Some(name) = name {
            if name.is_empty() {
                continue;
            }
            props.insert(name.to_ascii_lowercase().replace('_', "."), v);
        }
    }
}

/// Reads a properties file into a map, with a clear error.
pub fn read_properties(path: &Path) -> Result<BTreeMap<String, String>, WorkerConfigError> {
    let file = std::fs::File::open(path).map_err(|e| {
        WorkerConfigError(format!("cannot read config file {}: {e}", path.display()))
    })?;
    let map = java_properties::read(std::io::BufReader::new(file)).map_err(|e| {
        WorkerConfigError(format!(
            "config file {} is not a valid properties file: {e}",
            path.display()
        ))
    })?;
    Ok(map.into_iter().collect())
}

impl WorkerConfig {
    pub fn from_file(path: &Path) -> Result<WorkerConfig, WorkerConfigError> {
        let mut props = read_properties(path)?;
        env_overrides(&mut props, std::env::vars());
        WorkerConfig::from_props(props)
    }

    pub fn from_props(props: BTreeMap<String, String>) -> Result<WorkerConfig, WorkerConfigError> {
        let providers = ConfigProviders::from_worker_props(&props).map_err(WorkerConfigError)?;
        let props = providers
            .resolve_worker(&props)
            .map_err(|e| WorkerConfigError(format!("worker config: {e}")))?;
        let def = worker_config_def();
        for (name, errors) in def.validate_all(&props) {
            if let Some(e) = errors.first() {
                let hint = if name == "bootstrap.servers" {
                    " (e.g. bootstrap.servers=127.0.0.1:9092, or set SLUICE_WORKER_BOOTSTRAP_SERVERS)"
                } else {
                    ""
                };
                return Err(WorkerConfigError(format!("worker config: {e}{hint}")));
            }
        }
        let cfg = Config::with_def(props.clone(), def);
        let bootstrap_servers = cfg.list("bootstrap.servers").join(",");
        if bootstrap_servers.is_empty() {
            return Err(WorkerConfigError(
                "worker config: bootstrap.servers is empty; set it to the Kafka brokers, e.g. bootstrap.servers=127.0.0.1:9092".into(),
            ));
        }
        let mut rest_listeners = Vec::new();
        for l in cfg.list("listeners") {
            rest_listeners.push(parse_listener(&l, "listeners", false)?);
        }
        let rest_bind = rest_listeners
            .first()
            .map(|l| l.bind.clone())
            .ok_or_else(|| {
                WorkerConfigError(
                    "worker config: listeners is empty; set listeners=http://127.0.0.1:8083".into(),
                )
            })?;
        let admin_elsewhere = props.contains_key("admin.listeners");
        for l in cfg.list("admin.listeners") {
            rest_listeners.push(parse_listener(&l, "admin.listeners", true)?);
        }
        let offset_file = cfg
            .opt_string("offset.storage.file.filename")
            .map(PathBuf::from);
        let config_file = cfg
            .opt_string("config.storage.file.filename")
            .map(PathBuf::from)
            .or_else(|| {
                offset_file.as_ref().map(|p| {
                    let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
                    name.push(".connectors.json");
                    p.with_file_name(name)
                })
            });
        let flush = cfg.i64("offset.flush.interval.ms").unwrap_or(60000);
        if flush <= 0 {
            return Err(WorkerConfigError(format!(
                "worker config: offset.flush.interval.ms is {flush}; it must be a positive number of milliseconds"
            )));
        }
        Ok(WorkerConfig {
            bootstrap_servers,
            rest_bind,
            rest_listeners,
            admin_elsewhere,
            offset_file,
            config_file,
            offset_flush_interval_ms: flush as u64,
            metrics_enabled: cfg.bool("metrics.enabled").unwrap_or(true),
            plugin_path: cfg
                .list("plugin.path")
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            group_id: cfg.opt_string("group.id"),
            providers,
            props,
        })
    }

    /// Worker-level defaults for a key (e.g. `key.converter`).
    pub fn get(&self, key: &str) -> Option<String> {
        self.props
            .get(key)
            .cloned()
            .or_else(|| worker_config_def().key(key).and_then(|k| k.default.clone()))
    }

    /// librdkafka settings for the worker's producers: `producer.*`.
    pub fn producer_overrides(&self) -> BTreeMap<String, String> {
        sub_map(&self.props, "producer.")
    }

    /// librdkafka settings for the worker's consumers: `consumer.*`.
    pub fn consumer_overrides(&self) -> BTreeMap<String, String> {
        sub_map(&self.props, "consumer.")
    }

    /// Settings for admin clients: the worker's cluster security (see
    /// [`WorkerConfig::cluster_security`]) under `admin.*` (but not
    /// `admin.listeners*`, the REST API's admin listeners).
    pub fn admin_overrides(&self) -> BTreeMap<String, String> {
        let mut m = self.cluster_security();
        let mut admin = sub_map(&self.props, "admin.");
        admin.retain(|k, _| !k.starts_with("listeners"));
        m.extend(admin);
        m
    }

    /// How the worker's own clients (internal topics, group membership,
    /// admin) reach a secured cluster: the top-level `security.protocol`,
    /// and with it `sasl.*` (SASL protocols) and `ssl.*` (SSL protocols), as
    /// Kafka Connect's worker takes them. The REST API's server-side
    /// `ssl.client.auth` is not a client setting and is left out. Task
    /// producers and consumers take `producer.*` / `consumer.*` only, as in
    /// Kafka Connect.
    pub fn cluster_security(&self) -> BTreeMap<String, String> {
        let protocol = self
            .props
            .get("security.protocol")
            .map(|p| p.trim().to_ascii_uppercase())
            .unwrap_or_default();
        let mut out = BTreeMap::new();
        if protocol.is_empty() || protocol == "PLAINTEXT" {
            return out;
        }
        out.insert("security.protocol".to_string(), protocol.clone());
        for (k, v) in &self.props {
            let take = (k.starts_with("sasl.") && protocol.starts_with("SASL"))
                || (k.starts_with("ssl.") && protocol.ends_with("SSL") && k != "ssl.client.auth");
            if take {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// The worker id shown in statuses: the REST address others reach it
    /// at (`rest.advertised.host.name` / `rest.advertised.port` when set;
    /// the machine's name for a wildcard listener, so that workers on
    /// different machines listening on 0.0.0.0 do not share one id).
    pub fn worker_id(&self) -> String {
        let (host, port) = self
            .rest_bind
            .rsplit_once(':')
            .unwrap_or((self.rest_bind.as_str(), "8083"));
        let prop = |k: &str| {
            self.props
                .get(k)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let host = prop("rest.advertised.host.name")
            .map(str::to_string)
            .unwrap_or_else(|| advertised_host(host));
        let port = prop("rest.advertised.port")
            .filter(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
            .unwrap_or(port);
        format!("{host}:{port}")
    }
}

/// Worker keys under these prefixes are read (client settings, converter
/// settings, config providers, HTTPS settings, topic creation defaults).
const KNOWN_PREFIXES: &[&str] = &[
    "producer.",
    "consumer.",
    "admin.",
    "ssl.",
    "sasl.",
    "listeners.https.",
    "config.providers.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "topic.creation.",
];

/// Kafka Connect worker keys Sluice reads elsewhere (not declared above).
const KNOWN_KEYS: &[&str] = &["security.protocol", "offset.flush.timeout.ms"];

/// Kafka Connect worker keys Sluice accepts and does without: each is
/// named once at start, so that nobody counts on it.
const NO_EFFECT: &[(&str, &str)] = &[
    (
        "rest.advertised.listener",
        "the advertised URL is http(s)://rest.advertised.host.name:rest.advertised.port",
    ),
    ("client.id", "client ids are Sluice's own"),
    (
        "plugin.discovery",
        "plug-ins are compiled in or loaded from plugin.path",
    ),
    (
        "connect.protocol",
        "the group protocol is sessioned (incremental)",
    ),
    ("worker.sync.timeout.ms", ""),
    ("worker.unsync.backoff.ms", ""),
    (
        "inter.worker.key.generation.algorithm",
        "workers do not call each other over REST",
    ),
    (
        "inter.worker.key.size",
        "workers do not call each other over REST",
    ),
    (
        "inter.worker.key.ttl.ms",
        "workers do not call each other over REST",
    ),
    (
        "inter.worker.signature.algorithm",
        "workers do not call each other over REST",
    ),
    (
        "inter.worker.verification.algorithms",
        "workers do not call each other over REST",
    ),
    (
        "response.http.headers.config",
        "set response headers in a proxy in front of the worker",
    ),
    ("metric.reporters", "Sluice runs no Java metric reporters"),
    ("auto.include.jmx.reporter", "there is no JMX"),
    ("metrics.num.samples", ""),
    ("metrics.sample.window.ms", ""),
    ("metrics.recording.level", ""),
    ("rest.host.name", "use listeners"),
    ("rest.port", "use listeners"),
    (
        "access.control.allow.headers",
        "CORS allows Jetty's default headers",
    ),
];

impl WorkerConfig {
    /// What to say at start about keys that will not do what their writer
    /// expects: (key, warning). Keys of `also` (the distributed keys) count
    /// as known.
    pub fn unused_keys(&self, also: &ConfigDef) -> Vec<(String, String)> {
        let def = worker_config_def();
        let mut out = Vec::new();
        for k in self.props.keys() {
            if def.knows(k)
                || also.knows(k)
                || KNOWN_KEYS.contains(&k.as_str())
                || KNOWN_PREFIXES.iter().any(|p| k.starts_with(p))
            {
                continue;
            }
            let why = match NO_EFFECT.iter().find(|(n, _)| n == k) {
                Some((_, "")) => format!("worker config key {k} has no effect in Sluice"),
                Some((_, why)) => format!("worker config key {k} has no effect in Sluice: {why}"),
                None => format!("worker config key {k} is not known to Sluice and is ignored; check its spelling"),
            };
            out.push((k.clone(), why));
        }
        out
    }

    /// Worker keys whose promise Sluice cannot keep: an error naming the
    /// key and the remedy. Exactly-once source delivery (KIP-618) is a
    /// distributed worker's: a standalone worker refuses it.
    pub fn refused_keys(&self, distributed: bool) -> Result<(), WorkerConfigError> {
        if let Some(v) = self.props.get("exactly.once.source.support") {
            let v = v.trim().to_ascii_lowercase();
            match (v.as_str(), distributed) {
                ("disabled", _) => {}
                ("enabled" | "preparing", true) => {}
                ("enabled" | "preparing", false) => {
                    return Err(WorkerConfigError(format!(
                        "worker config: exactly.once.source.support={v}: a standalone worker delivers source records at least once (its offsets live in a file, outside Kafka's transactions); run the connector on a distributed worker for exactly-once delivery, or remove the key and expect duplicates after a crash"
                    )))
                }
                (other, _) => {
                    return Err(WorkerConfigError(format!(
                        "worker config: exactly.once.source.support={other} is not disabled, preparing or enabled"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Source tasks deliver exactly once (distributed workers with
    /// `exactly.once.source.support=enabled`).
    pub fn exactly_once_enabled(&self) -> bool {
        self.group_id.is_some()
            && self
                .props
                .get("exactly.once.source.support")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("enabled"))
    }
}

/// The host to advertise for a listener bound to `bind`: the machine's
/// name for a wildcard address (as Kafka Connect resolves one), else
/// `bind` itself.
pub fn advertised_host(bind: &str) -> String {
    let bind = bind.trim_matches(|c| c == '[' || c == ']');
    if !matches!(bind, "" | "0.0.0.0" | "::") {
        return bind.to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `http://host:port` or `https://host:port` (Kafka Connect's `listeners`).
fn parse_listener(
    listener: &str,
    key: &str,
    admin: bool,
) -> Result<ListenerSpec, WorkerConfigError> {
    let (https, rest) = if let Some(r) = listener.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = listener.strip_prefix("https://") {
        (true, r)
    } else {
        return Err(WorkerConfigError(format!(
            "worker config: {key}={listener} is not of the form http://host:port or https://host:port"
        )));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| {
        WorkerConfigError(format!(
            "worker config: {key}={listener} has no port; use http://host:port"
        ))
    })?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    port.parse::<u16>().map_err(|_| {
        WorkerConfigError(format!(
            "worker config: {key}={listener}: port {port} is not a number from 0 to 65535"
        ))
    })?;
    Ok(ListenerSpec {
        https,
        bind: format!("{host}:{port}"),
        admin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn missing_bootstrap_is_one_clear_line() {
        let e = WorkerConfig::from_props(props(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bootstrap.servers"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn listeners_and_defaults() {
        let c = WorkerConfig::from_props(props(&[
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("listeners", "http://:8084"),
            ("offset.storage.file.filename", "/tmp/x/offsets"),
        ]))
        .unwrap();
        assert_eq!(c.rest_bind, "0.0.0.0:8084");
        assert_eq!(
            c.config_file.unwrap(),
            PathBuf::from("/tmp/x/offsets.connectors.json")
        );
        assert_eq!(c.offset_flush_interval_ms, 60000);
        assert!(WorkerConfig::from_props(props(&[
            ("bootstrap.servers", "a:1"),
            ("listeners", "http://x")
        ]))
        .is_err());
    }

    #[test]
    fn worker_id_is_an_address_others_reach() {
        let id = |kv: &[(&str, &str)]| {
            let mut all = vec![("bootstrap.servers", "k:9092")];
            all.extend_from_slice(kv);
            WorkerConfig::from_props(props(&all)).unwrap().worker_id()
        };
        // A wildcard listener: the machine's name, never 0.0.0.0.
        let wild = id(&[("listeners", "http://0.0.0.0:8083")]);
        assert_eq!(wild, format!("{}:8083", advertised_host("0.0.0.0")));
        assert!(
            !wild.starts_with("0.0.0.0") && !wild.starts_with(':'),
            "{wild}"
        );
        assert_eq!(id(&[("listeners", "http://:8083")]), wild);
        assert_eq!(
            id(&[("listeners", "http://127.0.0.1:8085")]),
            "127.0.0.1:8085"
        );
        assert_eq!(
            id(&[
                ("listeners", "http://0.0.0.0:8083"),
                ("rest.advertised.host.name", "w1.example"),
                ("rest.advertised.port", "18083")
            ]),
            "w1.example:18083"
        );
    }

    #[test]
    fn env_overrides_map_names() {
        let mut p = BTreeMap::new();
        env_overrides(
            &mut p,
            vec![
                (
                    "SLUICE_WORKER_BOOTSTRAP_SERVERS".to_string(),
                    "h:1".to_string(),
                ),
                (
                    "CONNECT_OFFSET_FLUSH_INTERVAL_MS".to_string(),
                    "100".to_string(),
                ),
                ("PATH".to_string(), "/bin".to_string()),
            ]
            .into_iter(),
        );
        assert_eq!(p.get("bootstrap.servers").unwrap(), "h:1");
        assert_eq!(p.get("offset.flush.interval.ms").unwrap(), "100");
        assert_eq!(p.len(), 2);
    }
}
