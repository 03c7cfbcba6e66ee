//! `RegexRouter`: renames the topic when the whole topic name matches
//! `regex` (Java's `Matcher.matches()`), replacing it with `replacement`,
//! where `$1` and `${name}` refer to capture groups. Topics that do not
//! match pass unchanged. Each distinct topic is matched once and its route
//! remembered (bounded) as a shared name that every routed record takes (a
//! count, not a copy): no route allocates per record.

use std::sync::Arc;

use sluice_api::config::{ConfigDef, ConfigType, Importance};
use sluice_api::data::RecordData;
use sluice_api::{ConfigError, Props, RecordError, Transform};

use crate::util::{parse_config, JavaRegex, JavaReplacement, TopicCache};

pub const DOC: &str = "Updates the record topic using the configured regular expression and replacement string. The whole topic must match; groups are referenced as $1 or ${name}.";
const REGEX: &str = "regex";
const REPLACEMENT: &str = "replacement";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            REGEX,
            ConfigType::String,
            None,
            Importance::High,
            "Regular expression to use for matching.",
        )
        .define(
            REPLACEMENT,
            ConfigType::String,
            None,
            Importance::High,
            "Replacement string.",
        )
}

#[derive(Default)]
pub struct RegexRouter {
    rule: Option<(JavaRegex, JavaReplacement)>,
    routes: TopicCache<Option<Arc<str>>>,
}

impl RegexRouter {
    /// A router from a pattern and replacement (as EventRouter uses one).
    pub fn with(
        regex_key: &str,
        regex: &str,
        repl_key: &str,
        replacement: &str,
    ) -> Result<Self, ConfigError> {
        let re = JavaRegex::compile(regex_key, regex)?;
        let repl = JavaReplacement::parse(repl_key, replacement, re.regex())?;
        Ok(RegexRouter {
            rule: Some((re, repl)),
            routes: TopicCache::default(),
        })
    }

    /// The new topic, or `None` when `topic` does not match.
    pub fn route(&self, topic: &str) -> Option<Arc<str>> {
        let (re, repl) = self.rule.as_ref()?;
        self.routes.get_or_compute(topic, || {
            re.full_match(topic).map(|caps| repl.expand(&caps).into())
        })
    }
}

impl Transform for RegexRouter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let c = parse_config(&config_def(), props)?;
        *self = RegexRouter::with(
            REGEX,
            &c.string(REGEX)?,
            REPLACEMENT,
            &c.string(REPLACEMENT)?,
        )?;
        Ok(())
    }
    fn apply(&self, mut record: RecordData) -> Result<Option<RecordData>, RecordError> {
        if let Some(new) = self.route(&record.topic) {
            record.topic = new;
        }
        Ok(Some(record))
    }
}
