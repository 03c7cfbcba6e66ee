//! JDBC sink: Kafka records (Debezium change events or flat rows) written
//! into PostgreSQL or MariaDB/MySQL tables, under Debezium's class and keys
//! (`io.debezium.connector.jdbc.JdbcSinkConnector`) and Confluent's
//! (`io.confluent.connect.jdbc.JdbcSinkConnector`).
//!
//! Layers: [`config`] (keys of both classes onto one struct), [`url`] (the
//! JDBC URL), [`record`] (a record to a row change, by the key mode;
//! [`schemaless`] gives schemaless JSON objects a schema first),
//! [`types`] (schemas to column types, values to text; [`hints`] for
//! Debezium's source column type hints), [`plan`] (changes
//! to per-table runs in Kafka order), one writer per database
//! ([`postgres`] on tokio-postgres, [`mariadb`] on Sluice's own MySQL
//! client), and [`task`] (decode, plan, write one transaction per
//! put). The task's doc says why offsets never pass an uncommitted change.

pub mod config;
pub mod hints;
pub mod mariadb;
pub mod pg_diagnose;
pub mod pg_tls;
pub mod plan;
pub mod postgres;
pub mod record;
pub mod schemaless;
pub mod task;
pub mod types;
pub mod url;

use std::sync::Arc;

use sluice_api::{ConfigDef, ConfigError, Props, SinkConnector, SinkTask};

pub use config::{Flavor, JdbcSinkConfig};
pub use task::JdbcSinkTask;

use plan::TableBatch;
use url::Dialect;

/// Why a write failed, split by what the task does about it.
#[derive(Debug, Clone)]
pub enum WriteError {
    /// A retry may succeed (connection lost, deadlock, server restarting).
    Retriable(String),
    /// The database cannot be reached (at start the task fails; during a
    /// put it reconnects and retries).
    Unreachable(String),
    /// The database refused a record's values (a constraint, a value the
    /// column cannot hold): retrying cannot help, and under
    /// `errors.tolerance=all` the record is skipped.
    Data(String),
    /// Retrying cannot help (a missing table or column, a bad login).
    Fatal(String),
}

/// The database a task writes to.
pub enum Target {
    Postgres(postgres::PgWriter),
    MariaDb(mariadb::MariaDbWriter),
}

impl Target {
    pub async fn connect(cfg: Arc<JdbcSinkConfig>) -> Result<Target, WriteError> {
        match cfg.url.dialect {
            Dialect::Postgres => Ok(Target::Postgres(postgres::PgWriter::connect(cfg).await?)),
            Dialect::MariaDb => Ok(Target::MariaDb(mariadb::MariaDbWriter::connect(cfg).await?)),
        }
    }

    pub async fn write(&mut self, batches: &[TableBatch]) -> Result<(), WriteError> {
        match self {
            Target::Postgres(w) => w.write(batches).await,
            Target::MariaDb(w) => w.write(batches).await,
        }
    }
}

/// The connector: validates the config and hands it to every task.
pub struct JdbcSinkConnector {
    flavor: Flavor,
    props: Props,
}

impl JdbcSinkConnector {
    pub fn new(flavor: Flavor) -> JdbcSinkConnector {
        JdbcSinkConnector {
            flavor,
            props: Props::new(),
        }
    }
}

impl SinkConnector for JdbcSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config::config_def(self.flavor)
    }

    fn validate(&self, props: &Props) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut errors = std::collections::BTreeMap::new();
        if config::config_def(self.flavor).parse(props).is_err() {
            // The declarations report these, key by key.
            return errors;
        }
        if let Err(e) = JdbcSinkConfig::parse(props, self.flavor) {
            // Per-key type errors are reported by the declarations; these
            // are the combinations that cannot work.
            for m in e.messages() {
                let key = ["insert.mode", "delete.enabled", "connection.url"]
                    .into_iter()
                    .find(|k| m.starts_with(k) || m.contains(&format!("{k}=")))
                    .unwrap_or("connection.url");
                errors
                    .entry(key.to_string())
                    .or_insert_with(Vec::new)
                    .push(m.clone());
            }
        }
        errors
    }

    fn start(&mut self, props: &Props) -> Result<(), ConfigError> {
        JdbcSinkConfig::parse(props, self.flavor)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Vec<Props> {
        vec![self.props.clone(); max_tasks.max(1)]
    }

    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(JdbcSinkTask::new(self.flavor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_key_of_an_impossible_combination() {
        let c = JdbcSinkConnector::new(Flavor::Debezium);
        let mut p = Props::new();
        p.insert("connection.url".into(), "jdbc:postgresql://h/d".into());
        assert!(c.validate(&p).is_empty());
        p.insert("insert.mode".into(), "upsert".into());
        let errors = c.validate(&p);
        assert!(
            errors["insert.mode"][0].contains("primary.key.mode"),
            "{errors:?}"
        );
        p.insert("primary.key.mode".into(), "record_key".into());
        p.insert("delete.enabled".into(), "true".into());
        assert!(c.validate(&p).is_empty());
        p.insert("primary.key.mode".into(), "kafka".into());
        assert!(c.validate(&p).contains_key("delete.enabled"));
    }
}
