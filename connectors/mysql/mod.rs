//! MySQL/MariaDB binlog source, Debezium-compatible.
//!
//! Layers, bottom up:
//! - [`wire`], [`packet`], [`protocol`]: our own async client for the small
//!   protocol subset change capture needs (handshake, native-password auth,
//!   text queries). Owned rather than borrowed from mysql_async: that crate
//!   pulls a very large dependency tree and decodes rows at ~280k rows/s with
//!   a per-row allocation (measured on this machine), while everything here
//!   is a few hundred lines against a fully documented protocol.
//! - [`binlog`], [`event`], [`table_map`], [`gtid`]: replica registration,
//!   COM_BINLOG_DUMP, verified CRC32 checksums, and an event reader that
//!   borrows each event from one reused packet buffer; parsers for the
//!   events capture needs (MariaDB and MySQL GTIDs included).
//! - [`column`](mod@column), [`table`], [`rows`] (with [`temporal`],
//!   [`decimal`], [`charset`], [`json_binary`]): the hot path. A table version's plan and
//!   `Arc<Schema>` are built once from TABLE_MAP + information_schema; rows
//!   decode straight into `Value`s with Debezium's default type mapping.
//!   Measured: ~3.1M rows/s read + decoded over the network on this machine
//!   (release, 1M rows of 6 mixed columns; `mariadb-binlog
//!   --base64-output=decode-rows -v` reads the same binlog at ~625k rows/s).
//!
//! - [`config`], [`catalog`], [`history`], [`schema`], [`events`],
//!   [`snapshot`], [`stream`], [`task`]: capture, on the shared Debezium
//!   parts of [`crate::debezium`] (config keys, schemas, the reader task).
//!
//! Errors are [`error::MySqlError`], split retriable / fatal for the worker.

pub mod binlog;
pub mod catalog;
pub mod charset;
pub mod column;
pub mod column_rules;
pub mod compressed;
pub mod config;
pub mod ddl;
pub mod decimal;
pub mod error;
pub mod event;
pub mod events;
pub mod gtid;
pub mod history;
pub mod incremental;
pub mod json_binary;
pub mod model;
pub mod offset;
pub mod packet;
pub mod protocol;
pub mod rows;
pub mod schema;
pub mod snapshot;
pub mod stream;
pub mod table;
pub mod table_map;
pub mod task;
pub mod temporal;
pub mod text;
pub mod tls;
pub mod wire;

pub use config::Flavor;
pub use task::{MySqlConnector, MySqlSourceTask};

#[cfg(test)]
mod bench_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod rows_live_tests;
#[cfg(test)]
mod rows_tests;
#[cfg(test)]
pub(crate) mod testdb;
