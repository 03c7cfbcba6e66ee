//! `sluice standalone`: the state files, the worker, the connector files
//! given on the command line, the REST API, and a graceful stop on
//! SIGINT/SIGTERM that commits what was acknowledged.
//!
//! Every start-up problem (bad worker config, unreachable broker, port in
//! use, unwritable state file) ends the process with one line naming the
//! problem and the remedy, and a non-zero exit code. The REST API answers
//! from before the broker check: `GET /health` is 503 until the worker has
//! started (see `sluice_runtime::rest::health`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use sluice_runtime::herder::standalone::StandaloneHerder;
use sluice_runtime::herder::Herder;
use sluice_runtime::rest::HerderProvider;
use sluice_runtime::store::file_configs::record_topic;
use sluice_runtime::store::{FileConfigStore, FileOffsetStore, OffsetStore};
use sluice_runtime::worker::config::{read_properties, WorkerConfig};
use sluice_runtime::worker::{TaskEnv, Worker};

use crate::startup::{
    bind_rest, check_broker, init_logging, load_plugins, start_serving, topic_admin,
};

/// Runs a standalone worker with the plugins of `registry` until SIGINT/SIGTERM.
///
/// What can be checked locally (the worker config, the state files, the
/// connector files, the REST port) is checked before anything else; then
/// the REST API answers as a starting worker's (`GET /health` 503) while
/// the broker is checked and the connectors start.
pub async fn run(
    mut registry: sluice_runtime::Registry,
    worker_file: PathBuf,
    connector_files: Vec<PathBuf>,
) -> Result<()> {
    let loggers = init_logging(&worker_file);
    let cfg = WorkerConfig::from_file(&worker_file).map_err(|e| anyhow!("{e}"))?;
    crate::startup::check_worker_keys(&cfg, false)?;
    sluice_runtime::worker::metrics::set_recording(cfg.metrics_enabled);
    load_plugins(&mut registry, &cfg);
    let offset_file = cfg.offset_file.clone().ok_or_else(|| {
        anyhow!("worker config: offset.storage.file.filename is not set; standalone mode keeps source offsets in that file (e.g. offset.storage.file.filename=/var/lib/sluice/connect.offsets)")
    })?;
    let offsets: Arc<dyn OffsetStore> =
        Arc::new(FileOffsetStore::open(offset_file).map_err(|e| anyhow!("offset store: {e}"))?);
    let config_file = cfg
        .config_file
        .clone()
        .expect("derived from the offset file");
    let configs =
        Arc::new(FileConfigStore::open(config_file).map_err(|e| anyhow!("config store: {e}"))?);
    let connector_configs = connector_files
        .iter()
        .map(|p| read_connector_file(p))
        .collect::<Result<Vec<_>>>()?;
    let listeners = bind_rest(&cfg).await?;

    let cfg = Arc::new(cfg);
    let serve_cfg = cfg.clone();
    let start = |provider: HerderProvider| async move {
        provider.set_stage(format!(
            "checking the brokers at bootstrap.servers={}",
            cfg.bootstrap_servers
        ));
        let cluster_id = check_broker(&cfg).await?;
        let admin = topic_admin(&cfg)?;
        let topic_store = configs.clone();
        let env = TaskEnv {
            worker: cfg.clone(),
            registry: Arc::new(registry),
            offsets: offsets.clone(),
            admin,
            on_topic: Arc::new(move |connector, topic| {
                record_topic(&topic_store, connector, topic)
            }),
            lease: None,
        };
        let worker = Arc::new(Worker::new(env));
        let herder = StandaloneHerder::new(worker.clone(), configs, cluster_id);
        provider.set_stage("starting the stored connectors");
        herder.start_stored().await;
        provider.set_stage("creating the connectors given on the command line");
        for (name, config) in connector_configs {
            herder
                .put_connector_config(&name, config, true, None)
                .await
                .map_err(|e| anyhow!("connector {name}: {e}"))?;
        }
        Ok(herder)
    };
    let started = start_serving(serve_cfg, listeners, loggers, "standalone", start).await?;
    if let Some(herder) = started {
        tracing::info!("stopping: committing offsets of acknowledged records");
        herder.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Reads a connector config: Kafka Connect `.properties`, or JSON either as
/// the REST body `{"name", "config"}` or as a flat map.
pub fn read_connector_file(path: &Path) -> Result<(String, BTreeMap<String, String>)> {
    let is_json = path.extension().map(|e| e == "json").unwrap_or(false);
    let mut config = if is_json {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read connector config {}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| anyhow!("connector config {} is not valid JSON: {e}", path.display()))?;
        let (name, map) = match v.get("config") {
            Some(c) => (
                v.get("name").and_then(|n| n.as_str()).map(str::to_string),
                c.clone(),
            ),
            None => (None, v.clone()),
        };
        let obj = map
            .as_object()
            .ok_or_else(|| anyhow!("connector config {} must be a JSON object", path.display()))?;
        let mut out: BTreeMap<String, String> = obj
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect();
        if let Some(n) = name {
            out.insert("name".into(), n);
        }
        out
    } else {
        read_properties(path).map_err(|e| anyhow!("{e}"))?
    };
    let name = config
        .get("name")
        .cloned()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            anyhow!(
                "connector config {} has no name; add name=...",
                path.display()
            )
        })?;
    config.insert("name".into(), name.clone());
    if name.contains('/') {
        bail!(
            "connector name {name} in {} must not contain '/'",
            path.display()
        );
    }
    Ok((name, config))
}
