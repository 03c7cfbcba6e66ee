//! Source and sink connectors, one folder each.

pub mod mysql;
