//! The `sluice` binary: `sluice standalone WORKER.properties [CONNECTOR ...]`.

mod registry;
mod standalone;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sluice", version, about = "Change data capture: Kafka Connect + Debezium compatible, one small binary")]
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
    /// Lists the built-in plugins.
    Plugins,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plugins => {
            let r = registry::builtin();
            for p in r.plugins() {
                println!("{:<16} {}  ({})", p.kind.name(), p.class, p.aliases.join(", "));
            }
            ExitCode::SUCCESS
        }
        Command::Distributed { worker } => {
            eprintln!(
                "sluice: distributed mode is not available yet (worker config {}); run `sluice standalone` instead",
                worker.display()
            );
            ExitCode::from(2)
        }
        Command::Standalone { worker, connectors } => {
            let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("sluice: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(standalone::run(worker, connectors)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sluice: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
