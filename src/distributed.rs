//! `sluice distributed`: a worker of a cluster coordinated through Kafka.
//!
//! Start-up problems (bad worker config, a missing distributed key,
//! unreachable broker, port in use) end the process with one line naming
//! the problem and the remedy, and a non-zero exit code. SIGINT/SIGTERM
//! stops local tasks (committing what was acknowledged) and leaves the
//! group, so the other workers take the work over at once.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use sluice_runtime::herder::distributed::{DistributedConfig, DistributedHerder};
use sluice_runtime::rest;
use sluice_runtime::worker::config::WorkerConfig;

use crate::startup::{bind_rest, check_broker, load_plugins, serve_rest, topic_admin};

/// Runs a distributed worker with the plugins of `registry` until SIGINT/SIGTERM.
pub async fn run(mut registry: sluice_runtime::Registry, worker_file: PathBuf) -> Result<()> {
    let loggers = rest::loggers::init_logging("INFO");
    let cfg = WorkerConfig::from_file(&worker_file).map_err(|e| anyhow!("{e}"))?;
    crate::startup::check_worker_keys(&cfg, true)?;
    DistributedConfig::from_worker(&cfg).map_err(|e| anyhow!("{e}"))?;
    load_plugins(&mut registry, &cfg);
    let cluster_id = check_broker(&cfg).await?;
    let listener = bind_rest(&cfg).await?;
    let cfg = Arc::new(cfg);
    let admin = topic_admin(&cfg)?;
    let herder = DistributedHerder::start(cfg.clone(), Arc::new(registry), admin, cluster_id)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    serve_rest(&cfg, listener, herder.clone(), loggers, "distributed").await?;
    tracing::info!("stopping: committing offsets of acknowledged records, then leaving the group");
    herder.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
