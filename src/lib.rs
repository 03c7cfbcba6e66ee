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
pub mod registry;
pub mod standalone;

pub use sluice_runtime as runtime;
