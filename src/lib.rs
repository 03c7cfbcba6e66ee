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
//! See `examples/custom_transform.rs`, and `examples/custom_source.rs` for a
//! source connector written against the plugin API (`sluice-api`, also
//! re-exported here as `sluice::api`) alone.

pub mod cli;
pub mod distributed;
pub mod registry;
pub mod standalone;
mod startup;

pub use sluice_api as api;
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
         [transforms.md](transforms.md) (a page each); each converter also has a page of its \
         own under [converters/](converters/).\n\n\
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
    out.push_str(&runtime::herder::distributed::distributed_config_def().markdown_table());
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
            out.push_str(&plugin_keys(&p.aliases, &def));
        }
    }
    out
}

/// A plug-in's aliases and its keys' table.
fn plugin_keys(aliases: &[String], def: &runtime::ConfigDef) -> String {
    let mut out = String::new();
    if !aliases.is_empty() {
        out.push_str(&format!(
            "Aliases: {}.\n\n",
            aliases
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
    out
}

/// A reference page per converter (`converters/<Name>.md`, relative to
/// docs/), generated from the config declarations.
pub fn converter_pages(registry: &runtime::Registry) -> Vec<(String, String)> {
    registry
        .plugins()
        .filter(|p| p.kind == runtime::PluginKind::Converter)
        .filter_map(|p| {
            let def = registry.config_def(&p.class)?;
            let short = p.class.rsplit('.').next().unwrap_or(&p.class).to_string();
            let body = format!(
                "# {short}\n\n<!-- Generated from the config declarations by \
                 `SLUICE_REGEN_DOCS=1 cargo test -p sluice --lib docs_are_current`; do not edit. -->\n\n\
                 Converter `{}`. Set it as the worker's or a connector's `key.converter`, \
                 `value.converter` (or `header.converter` where it converts headers); its keys go \
                 under that prefix (`value.converter.<key>=...`).\n\n{}\n\
                 [Configuration reference](../configuration.md)\n",
                p.class,
                plugin_keys(&p.aliases, &def)
            );
            Some((format!("converters/{short}.md"), body))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_are_current() {
        let path = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("docs");
        let registry = super::registry::builtin();
        let mut pages = vec![(
            "configuration.md".to_string(),
            super::configuration_reference(&registry),
        )];
        pages.extend(super::converter_pages(&registry));
        crate::runtime::config::check_generated_docs(
            &path,
            &pages,
            "SLUICE_REGEN_DOCS=1 cargo test -p sluice --lib docs_are_current",
        );
    }
}
