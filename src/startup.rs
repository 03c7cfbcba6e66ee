//! Start-up and shutdown steps both modes take: plug-ins, the broker check,
//! the REST listener, the topic admin, and the signals that stop a worker.
//!
//! Each failure is one line naming the problem and the remedy; the caller
//! ends the process with it and a non-zero exit code.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use rdkafka::consumer::BaseConsumer;
use sluice_runtime::kafka::{client_config, TopicAdmin};
use sluice_runtime::rest::security::RestSecurity;
use sluice_runtime::rest::server::{self, Bound};
use sluice_runtime::rest::{HerderProvider, LogFormat, LogLevels};
use sluice_runtime::worker::config::{env_overrides, read_properties, WorkerConfig};
use sluice_runtime::Registry;

/// Installs logging in the format of the worker config's `log.format`.
///
/// The key is read from the file and the environment
/// (`SLUICE_WORKER_LOG_FORMAT`) before the rest of the config is parsed and
/// checked, so that everything the start says is in the chosen format:
/// config warnings, and the errors of a config that does not parse (a
/// missing file or a bad value leaves text; `WorkerConfig` then names the
/// problem). Config providers are not applied to this one key.
pub(crate) fn init_logging(worker_file: &Path) -> LogLevels {
    let mut props = read_properties(worker_file).unwrap_or_default();
    env_overrides(&mut props, std::env::vars());
    let format = props
        .get("log.format")
        .and_then(|f| LogFormat::parse(f))
        .unwrap_or_default();
    let levels = sluice_runtime::rest::init_logging_as("INFO", format);
    JSON_LOGS.store(
        format == LogFormat::Json,
        std::sync::atomic::Ordering::Relaxed,
    );
    levels
}

/// Whether the log is JSON: the last line of a failed start is a JSON line too.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says why the worker stopped: `sluice: <error>` on stderr, or an ERROR
/// line when the log is JSON.
pub(crate) fn report_fatal(e: &anyhow::Error) {
    if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::error!("sluice: {e:#}");
    } else {
        eprintln!("sluice: {e:#}");
    }
}

/// Worker keys Sluice refuses stop the start; keys it will not act on are
/// named once, each in a warning.
pub(crate) fn check_worker_keys(cfg: &WorkerConfig, distributed: bool) -> Result<()> {
    cfg.refused_keys(distributed).map_err(|e| anyhow!("{e}"))?;
    let distributed = sluice_runtime::herder::distributed::distributed_config_def();
    for (_, warning) in cfg.unused_keys(&distributed) {
        tracing::warn!("{warning}");
    }
    Ok(())
}

/// Loads the plug-in directory. Plug-in problems are warnings: connectors
/// that use a broken plug-in fail, the worker runs.
pub(crate) fn load_plugins(registry: &mut Registry, cfg: &WorkerConfig) {
    if let Err(e) = sluice_runtime::plugins::load_plugin_dir(registry, &cfg.plugin_path) {
        tracing::warn!("{e}");
    }
}

/// The REST API's listeners, bound, and its access rules (HTTPS, Basic
/// authentication, CORS), each problem one line with the remedy.
pub(crate) async fn bind_rest(cfg: &WorkerConfig) -> Result<(Vec<Bound>, Arc<RestSecurity>)> {
    let security =
        RestSecurity::from_worker(&cfg.props, std::env::var("KAFKA_OPTS").ok().as_deref())
            .map_err(|e| anyhow!("{e}"))?;
    let listeners = server::bind(&cfg.rest_listeners, &cfg.props)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    Ok((listeners, Arc::new(security)))
}

/// Serves the REST API until SIGINT/SIGTERM: as a starting worker's until
/// the herder is handed to `herder`, then over it.
pub(crate) async fn serve_rest(
    cfg: Arc<WorkerConfig>,
    (listeners, security): (Vec<Bound>, Arc<RestSecurity>),
    herder: HerderProvider,
    loggers: LogLevels,
    mode: &'static str,
) -> Result<()> {
    for l in &listeners {
        tracing::info!(
            "Sluice {mode} worker listening on {}{}",
            l.spec.url(),
            if l.spec.admin { " (/admin)" } else { "" }
        );
    }
    if security.basic.is_some() {
        tracing::info!("REST: HTTP Basic authentication is on");
    }
    server::serve(
        listeners,
        herder,
        loggers,
        security,
        cfg.admin_elsewhere,
        shutdown_signal(),
    )
    .await
    .map_err(|e| anyhow!("REST server failed: {e}"))
}

/// Runs `start` while the REST API answers as a starting worker's, then
/// hands the herder it returns to the API and serves until SIGINT/SIGTERM;
/// returns the herder to stop (None when stopped or failed while starting:
/// a stop signal during the start ends it there, as nothing has been
/// acknowledged that a graceful stop would commit).
pub(crate) async fn start_serving<H, F>(
    cfg: Arc<WorkerConfig>,
    listeners: (Vec<Bound>, Arc<RestSecurity>),
    loggers: LogLevels,
    mode: &'static str,
    start: impl FnOnce(HerderProvider) -> F,
) -> Result<Option<Arc<H>>>
where
    H: sluice_runtime::herder::Herder,
    F: std::future::Future<Output = Result<Arc<H>>>,
{
    let provider = HerderProvider::starting();
    let mut serving = tokio::spawn(serve_rest(cfg, listeners, provider.clone(), loggers, mode));
    let herder = tokio::select! {
        started = start(provider.clone()) => started?,
        served = &mut serving => {
            served.map_err(|e| anyhow!("REST server panicked: {e}"))??;
            tracing::info!("stopped while starting");
            return Ok(None);
        }
    };
    provider.set(herder.clone());
    tracing::info!("Sluice {mode} worker started");
    serving
        .await
        .map_err(|e| anyhow!("REST server panicked: {e}"))??;
    Ok(Some(herder))
}

/// The admin client that creates topics.
pub(crate) fn topic_admin(cfg: &WorkerConfig) -> Result<Arc<TopicAdmin>> {
    Ok(Arc::new(
        TopicAdmin::new(&cfg.bootstrap_servers, &cfg.admin_overrides())
            .map_err(|e| anyhow!("{e}"))?,
    ))
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// What librdkafka said went wrong with the connection (its error
/// callback carries the reason: a refused login, a certificate that does not
/// verify), which a failed metadata request only calls a transport failure.
#[derive(Default)]
struct LastError(std::sync::Mutex<Option<(rdkafka::types::RDKafkaErrorCode, String)>>);

impl rdkafka::ClientContext for LastError {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if let Some(code) = error.rdkafka_error_code() {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((code, reason.to_string()));
        }
    }
}

impl rdkafka::consumer::ConsumerContext for LastError {}

/// Checks that the brokers answer; returns the cluster id.
pub(crate) async fn check_broker(cfg: &WorkerConfig) -> Result<String> {
    let bootstrap = cfg.bootstrap_servers.clone();
    let overrides = cfg.admin_overrides();
    let secrets = sluice_runtime::secrets::Secrets::of([&cfg.props]);
    tokio::task::spawn_blocking(move || -> Result<String> {
        let consumer: BaseConsumer<LastError> = client_config(&bootstrap, &overrides)
            .map_err(|e| anyhow!("worker config: {e}"))?
            .create_with_context(LastError::default())
            .map_err(|e| anyhow!("cannot create a Kafka client for bootstrap.servers={bootstrap}: {}", secrets.redact(&e.to_string())))?;
        use rdkafka::consumer::Consumer;
        use rdkafka::types::RDKafkaErrorCode as C;
        consumer
            .fetch_metadata(None, Duration::from_secs(10))
            .map_err(|e| {
                // The error callback runs when the client's events are served.
                for _ in 0..10 {
                    let _ = consumer.poll(Duration::from_millis(100));
                    if consumer.context().0.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                        break;
                    }
                }
                let heard = consumer.context().0.lock().unwrap_or_else(|p| p.into_inner()).clone();
                match heard {
                    Some((C::Authentication, reason)) => anyhow!(
                        "cannot log in to Kafka at bootstrap.servers={bootstrap}: {}; check sasl.mechanism and the credentials in sasl.jaas.config of the worker config (and producer.*, consumer.*)",
                        secrets.redact(&reason)
                    ),
                    Some((C::SSL, reason)) => anyhow!(
                        "cannot reach Kafka at bootstrap.servers={bootstrap} over TLS: {}; check security.protocol and ssl.truststore.location (the CA that signed the broker's certificate) in the worker config",
                        secrets.redact(&reason)
                    ),
                    _ => anyhow!("cannot reach Kafka at bootstrap.servers={bootstrap}: {e}; start the broker (scripts/services up kafka) or fix bootstrap.servers"),
                }
            })?;
        Ok(consumer
            .client()
            .fetch_cluster_id(Duration::from_secs(5))
            .unwrap_or_else(|| "unknown".into()))
    })
    .await
    .map_err(|e| anyhow!("broker check panicked: {e}"))?
}
