//! `Filter`: drops every record it sees. Used with a predicate
//! (`transforms.x.predicate`, optionally `negate`), it drops exactly the
//! records the predicate selects.

use sluice_api::config::ConfigDef;
use sluice_api::data::RecordData;
use sluice_api::{ConfigError, Props, RecordError, Transform};

pub const DOC: &str = "Drops all records. Use it with a predicate to drop only the records that match (or, with negate=true, that do not match).";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
}

#[derive(Default)]
pub struct Filter;

impl Transform for Filter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, _props: &Props) -> Result<(), ConfigError> {
        Ok(())
    }
    fn apply(&self, _record: RecordData) -> Result<Option<RecordData>, RecordError> {
        Ok(None)
    }
}
