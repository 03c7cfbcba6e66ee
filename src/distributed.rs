//! `sluice distributed`: a worker of a cluster coordinated through Kafka.
//!
//! Start-up problems (bad worker config, a missing distributed key,
//! unreachable broker, port in use) end the process with one line naming
//! the problem and the remedy, and a non-zero exit code. The REST API
//! answers from before the broker check: `GET /health` is 503 until the
//! worker has read the internal topics and joined its group. SIGINT/SIGTERM
//! stops local tasks (committing what was acknowledged) and leaves the
//! group, so the other workers take the work over at once.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use sluice_runtime::herder::distributed::{DistributedConfig, DistributedHerder};
use sluice_runtime::rest::HerderProvider;
use sluice_runtime::worker::config::WorkerConfig;

use crate::startup::{
    bind_rest, check_broker, init_logging, load_plugins, start_serving, topic_admin,
};

/// Runs a distributed worker with the plugins of `registry` until SIGINT/SIGTERM.
pub async fn run(mut registry: sluice_runtime::Registry, worker_file: PathBuf) -> Result<()> {
    let loggers = init_logging(&worker_file);
    let cfg = WorkerConfig::from_file(&worker_file).map_err(|e| anyhow!("{e}"))?;
    crate::startup::check_worker_keys(&cfg, true)?;
    sluice_runtime::worker::metrics::set_recording(cfg.metrics_enabled);
    let dc = DistributedConfig::from_worker(&cfg).map_err(|e| anyhow!("{e}"))?;
    load_plugins(&mut registry, &cfg);
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
        provider.set_stage(format!(
            "reading the internal topics {}, {} and {} to their end",
            dc.config_topic, dc.offset_topic, dc.status_topic
        ));
        DistributedHerder::start(cfg.clone(), Arc::new(registry), admin, cluster_id)
            .await
            .map_err(|e| anyhow!("{e}"))
    };
    let started = start_serving(serve_cfg, listeners, loggers, "distributed", start).await?;
    if let Some(herder) = started {
        tracing::info!(
            "stopping: committing offsets of acknowledged records, then leaving the group"
        );
        herder.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}
