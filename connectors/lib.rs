//! Source and sink connectors, one folder each.

pub mod debezium;
pub mod file;
pub mod jdbc;
pub mod mongodb;
pub mod mysql;
