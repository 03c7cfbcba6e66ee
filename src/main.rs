//! The `sluice` binary: `sluice standalone WORKER.properties [CONNECTOR ...]`.

fn main() {
    std::process::exit(sluice::cli::main_with(sluice::registry::builtin()));
}
