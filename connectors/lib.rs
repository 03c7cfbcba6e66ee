//! Source and sink connectors, one folder each.

pub mod feed;
pub mod file;
pub mod mongodb;
pub mod mysql;
