//! `DropHeaders`: removes every header whose key is listed in `headers`.

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::RecordData;
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{config_err, parse_config};

pub const DOC: &str = "Removes one or more headers from each record.";
const HEADERS: &str = "headers";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            HEADERS,
            ConfigType::List,
            None,
            Importance::High,
            "The name of the headers to be removed.",
        )
        .validate(Validator::NonEmpty)
}

#[derive(Default)]
pub struct DropHeaders {
    headers: Vec<String>,
}

impl Transform for DropHeaders {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.headers = c.list(HEADERS);
        if self.headers.is_empty() {
            return Err(config_err(HEADERS, "must name at least one header"));
        }
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        record
            .headers
            .0
            .retain(|h| !self.headers.iter().any(|n| **n == *h.key));
        Ok(Some(record))
    }
}
