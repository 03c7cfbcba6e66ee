//! Transforms loaded at run time from `plugin.path`: WebAssembly modules
//! under a versioned ABI (docs/plugins.md), with no rebuild of Sluice.
//!
//! Why a failing plug-in cannot harm the worker:
//! - A module runs inside the wasmi interpreter: it sees only its own
//!   linear memory, and Sluice gives it no imports, so it cannot touch the
//!   worker's memory, files, sockets or threads.
//! - Every call has a fuel budget (`transforms.<name>.fuel`, default ten
//!   million units, about as many instructions): an infinite loop ends in an
//!   out-of-fuel error within tens of milliseconds instead of holding a
//!   worker thread forever. Memory is capped (`transforms.<name>.memory.max.bytes`,
//!   default 64 MiB): `memory.grow` past it fails inside the module.
//! - Traps (`unreachable`, out-of-bounds access, a Rust plug-in's panic,
//!   stack overflow) are values returned by the interpreter, not host
//!   panics. They, out-of-fuel and ABI violations become a `RecordError`
//!   naming the plug-in, the file and the topic. The worker treats that like
//!   any transform error: with `errors.tolerance=none` only this task goes
//!   FAILED with that trace; with `all` the record is skipped.
//! - Each task's transform owns its store and instance (the compiled module
//!   is shared read-only), so one task's plug-in state never leaks into
//!   another's; after a trap the instance is discarded and re-created.
//! - An unreadable or malformed file, a missing export or a wrong ABI version
//!   is found when the file is loaded (a warning in the worker log) and
//!   again when a connector configures the transform (a `ConfigError`: the
//!   connector is rejected or its task FAILS with the reason). The worker
//!   itself starts and runs its other connectors regardless.
//!
//! Engine choice: wasmi (an interpreter) over wasmtime (a JIT). Measured on
//! this project's shared 2-core machines with one upper-casing plug-in: a
//! cold release build of the engine costs 111 s of CPU for wasmi 2.0 against
//! 688 s for wasmtime 48 with Cranelift only (whose current release, 50,
//! also needs a newer rustc than these machines have), and a 4 MB against a
//! 16 MB test binary. Per record wasmi takes ~1.2 µs and wasmtime ~0.2 µs;
//! a record through the worker costs 50-120 µs end to end
//! (docs/benchmarks.md), so the JIT would save about 1% of a record's cost
//! for six times the build. Figures and commands: docs/plugins.md.
//!
//! Discovery: every `*.wasm` (binary) or `*.wat` (text) file directly in a
//! `plugin.path` directory (or named there itself) is a transform with the
//! class name `wasm:<file stem>` and the alias `<file stem>`. A side-car
//! `<stem>.json` manifest, `{"class": "com.example.Upper", "aliases": ["Upper"]}`,
//! adds a class name and aliases; built-in names win over aliases.

mod record_json;
mod wasm;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use record_json::{record_from_json, record_to_json, value_to_json};
pub use wasm::{engine, WasmPlugin, WasmTransform, ABI_VERSION, DEFAULT_FUEL, DEFAULT_MEMORY_MAX};

use crate::plugin::Registry;

/// Registers a transform for every plug-in module found in `dirs`.
///
/// Returns the class names registered. A module that cannot be used is
/// logged as a warning and still registered under its names, so that a
/// connector naming it fails with the real reason rather than "no such
/// class". `Err` lists the `plugin.path` entries that could not be read at
/// all; the plug-ins of the other entries are registered regardless.
pub fn load_plugin_dir(registry: &mut Registry, dirs: &[PathBuf]) -> Result<Vec<String>, String> {
    let engine = engine();
    let mut classes = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        let files = match module_files(dir) {
            Ok(files) => files,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for file in files {
            let (class, aliases) = names(&file);
            let plugin = Arc::new(WasmPlugin::load(&engine, class.clone(), &file));
            match &plugin.module {
                Ok(_) => tracing::info!(
                    "loaded transform plug-in {class} (aliases {}) from {}",
                    aliases.join(", "),
                    file.display()
                ),
                Err(e) => tracing::warn!(
                    "transform plug-in {class} from {} {e}; connectors that use it will fail until it is fixed",
                    file.display()
                ),
            }
            let alias_refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
            registry.register_transform(&class, &alias_refs, move || {
                Box::new(WasmTransform::new(plugin.clone()))
            });
            classes.push(class);
        }
    }
    if errors.is_empty() {
        Ok(classes)
    } else {
        Err(errors.join("; "))
    }
}

fn is_module(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("wasm" | "wat")
    )
}

/// The module files of one `plugin.path` entry, sorted by name.
fn module_files(entry: &Path) -> Result<Vec<PathBuf>, String> {
    if entry.is_file() && is_module(entry) {
        return Ok(vec![entry.to_path_buf()]);
    }
    let read = std::fs::read_dir(entry).map_err(|e| {
        format!(
            "plugin.path entry {} cannot be read ({e}); fix or remove it in the worker config",
            entry.display()
        )
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_module(p))
        .collect();
    files.sort();
    Ok(files)
}

/// The class name and aliases of a module file, from its manifest if any.
fn names(file: &Path) -> (String, Vec<String>) {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let default_class = format!("wasm:{stem}");
    let mut aliases = vec![stem.clone()];
    let manifest = file.with_extension("json");
    if !manifest.is_file() {
        return (default_class, aliases);
    }
    match read_manifest(&manifest) {
        Ok((class, more)) => {
            aliases.insert(0, default_class);
            aliases.extend(more);
            (class, aliases)
        }
        Err(e) => {
            tracing::warn!(
                "plug-in manifest {} {e}; using the names {default_class} and {stem}",
                manifest.display()
            );
            (default_class, aliases)
        }
    }
}

fn read_manifest(path: &Path) -> Result<(String, Vec<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot be read: {e}"))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("is not valid JSON: {e}"))?;
    let class = json
        .get("class")
        .and_then(|c| c.as_str())
        .filter(|c| !c.trim().is_empty())
        .ok_or("has no \"class\" string")?
        .trim()
        .to_string();
    let aliases = match json.get("aliases") {
        None => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or("has a non-string alias")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("has \"aliases\" that is not an array of strings".into()),
    };
    Ok((class, aliases))
}
