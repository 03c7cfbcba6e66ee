//! Single message transforms and predicates.

use sluice_runtime::Registry;

/// Registers every built-in transform and predicate.
pub fn register(_registry: &mut Registry) {}
