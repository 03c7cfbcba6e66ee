//! The `sluice` command line, reusable by binaries that add their own plugins.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sluice_runtime::Registry;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Change data capture: Kafka Connect + Debezium compatible, one small binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One worker; connector configs and offsets in local files.
    Standalone {
        /// The worker config (Kafka Connect's connect-standalone.properties keys).
        worker: PathBuf,
        /// Connector configs to create or update at start (.properties or .json).
        connectors: Vec<PathBuf>,
    },
    /// A worker of a cluster coordinated through Kafka.
    Distributed {
        /// The worker config (Kafka Connect's connect-distributed.properties keys).
        worker: PathBuf,
    },
    /// Lists the plugins this binary knows.
    Plugins,
}

/// Parses the command line and runs it with `registry`; returns the exit code.
pub fn main_with(registry: Registry) -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Plugins => {
            for p in registry.plugins() {
                println!(
                    "{:<16} {}  ({})",
                    p.kind.name(),
                    p.class,
                    p.aliases.join(", ")
                );
            }
            0
        }
        Command::Distributed { worker } => run(crate::distributed::run(registry, worker)),
        Command::Standalone { worker, connectors } => {
            run(crate::standalone::run(registry, worker, connectors))
        }
    }
}

/// Runs a worker to completion on a multi-threaded runtime; the exit code.
fn run(worker: impl std::future::Future<Output = anyhow::Result<()>>) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sluice: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(worker) {
        Ok(()) => 0,
        Err(e) => {
            crate::startup::report_fatal(&e);
            1
        }
    }
}
