//! `TimestampRouter`: rewrites the topic from `topic.format`, replacing
//! `${topic}` with the original topic and `${timestamp}` with the record
//! timestamp formatted by `timestamp.format` (a `SimpleDateFormat` pattern,
//! in UTC). A record without a timestamp is an error, as in Kafka Connect.

use sluice_api::config::{ConfigDef, ConfigType, Importance, Validator};
use sluice_api::data::RecordData;
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::datetime::DateFormat;
use crate::util::{config_err, err, parse_config};

pub const DOC: &str = "Updates the record's topic field as a function of the original topic value and the record timestamp. Useful for sinks that write to time-based indexes or tables.";
const TOPIC_FORMAT: &str = "topic.format";
const TIMESTAMP_FORMAT: &str = "timestamp.format";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            TOPIC_FORMAT,
            ConfigType::String,
            Some("${topic}-${timestamp}"),
            Importance::High,
            "Format string which can contain ${topic} and ${timestamp} as placeholders for the topic and timestamp, respectively.",
        )
        .validate(Validator::NonEmpty)
        .define(
            TIMESTAMP_FORMAT,
            ConfigType::String,
            Some("yyyyMMdd"),
            Importance::High,
            "Format string for the timestamp that is compatible with java.text.SimpleDateFormat (evaluated in UTC).",
        )
        .validate(Validator::NonEmpty)
}

pub struct TimestampRouter {
    topic_format: String,
    format: DateFormat,
}

impl Default for TimestampRouter {
    fn default() -> Self {
        TimestampRouter {
            topic_format: "${topic}-${timestamp}".into(),
            format: DateFormat::new("yyyyMMdd")
                .unwrap_or_else(|_| unreachable!("constant pattern")),
        }
    }
}

impl Transform for TimestampRouter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        self.topic_format = c.string(TOPIC_FORMAT)?;
        self.format = DateFormat::new(&c.string(TIMESTAMP_FORMAT)?)
            .map_err(|e| config_err(TIMESTAMP_FORMAT, e))?;
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let ts = record.timestamp.ok_or_else(|| {
            err(format!(
                "Timestamp missing on record for topic {}: TimestampRouter needs the record timestamp",
                record.topic
            ))
        })?;
        let formatted = self.format.format(ts);
        record.topic = self
            .topic_format
            .replace("${topic}", &record.topic)
            .replace("${timestamp}", &formatted)
            .into();
        Ok(Some(record))
    }
}
