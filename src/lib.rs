//! Sluice as a library: a user's own binary adds its plugins (transforms,
//! predicates, converters, connectors) to the built-in registry and runs the
//! worker, with no fork of Sluice:
//!
//! ```no_run
//! let mut registry = sluice::registry::builtin();
//! // registry.register_transform("com.example.MyTransform", &["MyTransform"], || Box::new(...));
//! std::process::exit(sluice::cli::main_with(registry));
//! ```
//!
//! See `examples/custom_transform.rs`.

pub mod cli;
pub mod distributed;
pub mod registry;
pub mod standalone;

pub use sluice_runtime as runtime;

/// The configuration reference (docs/configuration.md), generated from the
/// config declarations of the worker and of every registered plugin.
pub fn configuration_reference(registry: &runtime::Registry) -> String {
    use runtime::herder::ConnectorType;
    use runtime::PluginKind;
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from the config declarations by \
         `SLUICE_REGEN_DOCS=1 cargo test -p sluice --lib docs_are_current`; do not edit. -->\n\n\
         Keys are Kafka Connect's and Debezium's. Transforms and predicates are in \
         [transforms.md](transforms.md).\n\n\
         ## Worker\n\n\
         The worker file (`sluice standalone worker.properties`). Any key can be set from the \
         environment: `SLUICE_WORKER_BOOTSTRAP_SERVERS=...` or `CONNECT_BOOTSTRAP_SERVERS=...` \
         (`_` becomes `.`, lower-cased). `producer.*`, `consumer.*` and `admin.*` keys pass to \
         librdkafka; `topic.creation.default.*` sets how the worker creates topics.\n\n",
    );
    out.push_str(&runtime::worker::config::worker_config_def().markdown_table());
    out.push_str(
        "\n## Distributed worker\n\n\
         Keys of `sluice distributed worker.properties`, besides the worker keys above. \
         See [operations.md](operations.md) for running a cluster.\n\n",
    );
    out.push_str(&runtime::distributed::distributed_config_def().markdown_table());
    out.push_str("\n## Every source connector\n\n");
    out.push_str(&runtime::connector_config::common_def(ConnectorType::Source).markdown_table());
    out.push_str("\n## Every sink connector\n\n");
    out.push_str(&runtime::connector_config::common_def(ConnectorType::Sink).markdown_table());
    for kind in [PluginKind::Source, PluginKind::Sink, PluginKind::Converter] {
        for p in registry.plugins().filter(|p| p.kind == kind) {
            let Some(def) = registry.config_def(&p.class) else {
                continue;
            };
            out.push_str(&format!("\n## {} `{}`\n\n", kind.name(), p.class));
            if !p.aliases.is_empty() {
                out.push_str(&format!(
                    "Aliases: {}.\n\n",
                    p.aliases
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if def.keys.is_empty() {
                out.push_str("No keys of its own.\n");
            } else {
                out.push_str(&def.markdown_table());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_are_current() {
        let path = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("docs/configuration.md");
        let want = super::configuration_reference(&super::registry::builtin());
        if std::env::var("SLUICE_REGEN_DOCS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &want).expect("write docs/configuration.md");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/configuration.md is out of date: run SLUICE_REGEN_DOCS=1 cargo test -p sluice --lib docs_are_current"
        );
    }
}
