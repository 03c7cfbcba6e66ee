//! Source and sink connectors, one folder each.
