//! FileStreamSource and FileStreamSink: Kafka Connect's file connectors,
//! with its class names and keys (`file`, `topic`, `topics`, `batch.size`).
//!
//! The source emits one record per complete line; its offset is the byte
//! position just after that line, so a restart resumes at the first line
//! not yet committed (a line written in two parts is only read once its
//! newline arrives). The sink appends each record's value as a line and
//! fsyncs on flush, before the worker commits the consumer offsets.

mod sink;
mod source;

pub use sink::{FileStreamSinkConnector, FileStreamSinkTask};
pub use source::{FileStreamSourceConnector, FileStreamSourceTask};
