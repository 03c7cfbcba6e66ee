//! Source and sink connectors, one folder each.

pub mod mysql;
pub mod file;
pub mod mongodb;
