//! Source and sink connectors, one folder each.

pub mod debezium;
pub mod file;
pub mod mongodb;
pub mod mysql;
