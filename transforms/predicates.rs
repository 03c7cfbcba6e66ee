//! Kafka Connect's predicates: `TopicNameMatches` (the whole topic matches
//! `pattern`), `HasHeaderKey` (some header has key `name`) and
//! `RecordIsTombstone` (the value is null). A transform applies only when
//! its predicate holds (or, with `negate=true`, when it does not).

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::RecordData;
use sluice_api::{ConfigError, Predicate, Props};

use crate::util::{parse_config, JavaRegex, TopicCache};

pub const TOPIC_NAME_MATCHES_DOC: &str =
    "A predicate which is true for records with a topic name that matches the configured regular expression.";
pub const HAS_HEADER_KEY_DOC: &str =
    "A predicate which is true for records with at least one header with the configured name.";
pub const RECORD_IS_TOMBSTONE_DOC: &str =
    "A predicate which is true for records which are tombstones (i.e. have null value).";

const PATTERN: &str = "pattern";
const NAME: &str = "name";

pub fn topic_name_matches_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            PATTERN,
            ConfigType::String,
            None,
            Importance::Medium,
            "A Java regular expression for matching against the name of a record's topic.",
        )
        .validate(Validator::NonEmpty)
}

pub fn has_header_key_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            NAME,
            ConfigType::String,
            None,
            Importance::Medium,
            "The header name.",
        )
        .validate(Validator::NonEmpty)
}

#[derive(Default)]
pub struct TopicNameMatches {
    pattern: Option<JavaRegex>,
    verdicts: TopicCache<bool>,
}

impl Predicate for TopicNameMatches {
    fn config_def(&self) -> ConfigDef {
        topic_name_matches_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&topic_name_matches_def(), props)?;
        self.pattern = Some(JavaRegex::compile(PATTERN, &c.string(PATTERN)?)?);
        Ok(())
    }
    fn test(&self, record: &RecordData) -> bool {
        self.pattern.as_ref().is_some_and(|p| {
            self.verdicts
                .get_or_compute(&record.topic, || p.is_full_match(&record.topic))
        })
    }
}

#[derive(Default)]
pub struct HasHeaderKey {
    name: String,
}

impl Predicate for HasHeaderKey {
    fn config_def(&self) -> ConfigDef {
        has_header_key_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        self.name = parse_config(&has_header_key_def(), props)?.string(NAME)?;
        Ok(())
    }
    fn test(&self, record: &RecordData) -> bool {
        record.headers.iter().any(|h| *h.key == *self.name)
    }
}

#[derive(Default)]
pub struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _props: &Props) -> Result<(), ConfigError> {
        Ok(())
    }
    fn test(&self, record: &RecordData) -> bool {
        record.value.is_null()
    }
}
