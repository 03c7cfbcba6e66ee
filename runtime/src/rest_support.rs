//! Plugin listings for the REST API, shared by both herders.

use serde_json::json;

use crate::herder::{HerderError, HerderResult};
use crate::plugin::{PluginKind, Registry};

/// `GET /connector-plugins` items.
pub fn plugin_list(registry: &Registry, connectors_only: bool) -> Vec<serde_json::Value> {
    registry
        .plugins()
        .filter(|d| !connectors_only || matches!(d.kind, PluginKind::Source | PluginKind::Sink))
        .map(|d| json!({"class": d.class, "type": d.kind.name(), "version": d.version}))
        .collect()
}

/// `GET /connector-plugins/{type}/config`: the declared keys.
pub fn plugin_config(registry: &Registry, plugin: &str) -> HerderResult<Vec<serde_json::Value>> {
    let desc = registry
        .find(plugin)
        .ok_or_else(|| HerderError::NotFound(format!("Unknown plugin {plugin}.")))?;
    let mut def = registry
        .config_def(plugin)
        .ok_or_else(|| HerderError::NotFound(format!("Unknown plugin {plugin}.")))?;
    if matches!(desc.kind, PluginKind::Source | PluginKind::Sink) {
        let kind = if desc.kind == PluginKind::Source {
            crate::herder::ConnectorType::Source
        } else {
            crate::herder::ConnectorType::Sink
        };
        def = crate::connector_config::common_def(kind).merge(&def);
    }
    Ok(def
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| k.definition_json(def.order_in_group(i)))
        .collect())
}
