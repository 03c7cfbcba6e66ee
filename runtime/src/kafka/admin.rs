//! Topic administration: create the topics a task writes to (KIP-158).
//!
//! Some brokers (the one used in tests among them) do not create topics on
//! demand; a producer to a missing topic would retry until it times out. So
//! a task makes sure each topic exists before its first record goes there.
//! Creating a topic that exists is harmless (TOPIC_ALREADY_EXISTS is success).

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::{client_config, KafkaError};

/// How new topics are made (`topic.creation.default.*`).
#[derive(Debug, Clone)]
pub struct TopicSettings {
    pub partitions: i32,
    /// -1: the broker's default.
    pub replication_factor: i32,
    pub configs: BTreeMap<String, String>,
}

impl Default for TopicSettings {
    fn default() -> Self {
        TopicSettings {
            partitions: 1,
            replication_factor: -1,
            configs: BTreeMap::new(),
        }
    }
}

impl TopicSettings {
    /// Reads `topic.creation.default.*` keys (prefix already stripped).
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<TopicSettings, String> {
        let mut s = TopicSettings::default();
        for (k, v) in props {
            match k.as_str() {
                "partitions" => {
                    s.partitions = v.trim().parse().map_err(|_| {
                        format!("topic.creation.default.partitions={v} is not a number")
                    })?
                }
                "replication.factor" => {
                    s.replication_factor = v.trim().parse().map_err(|_| {
                        format!("topic.creation.default.replication.factor={v} is not a number")
                    })?
                }
                "include" | "exclude" => {}
                other => {
                    s.configs.insert(other.to_string(), v.clone());
                }
            }
        }
        if s.partitions < 1 && s.partitions != -1 {
            return Err(format!(
                "topic.creation.default.partitions={} must be at least 1 (or -1 for the broker default)",
                s.partitions
            ));
        }
        Ok(s)
    }
}

/// Creates topics once per name.
pub struct TopicAdmin {
    client: AdminClient<DefaultClientContext>,
    known: Mutex<HashSet<String>>,
}

impl TopicAdmin {
    pub fn new(bootstrap: &str, overrides: &BTreeMap<String, String>) -> Result<Self, KafkaError> {
        let client = client_config(bootstrap, overrides)
            .map_err(KafkaError::Fatal)?
            .create()
            .map_err(|e| KafkaError::Fatal(format!("cannot create the Kafka admin client: {e}")))?;
        Ok(TopicAdmin {
            client,
            known: Mutex::new(HashSet::new()),
        })
    }

    /// Makes sure `topic` exists, creating it with `settings` when missing.
    pub async fn ensure_topic(
        &self,
        topic: &str,
        settings: &TopicSettings,
    ) -> Result<(), KafkaError> {
        if self
            .known
            .lock()
            .map(|k| k.contains(topic))
            .unwrap_or(false)
        {
            return Ok(());
        }
        let configs: Vec<(&str, &str)> = settings
            .configs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut new = NewTopic::new(
            topic,
            settings.partitions,
            TopicReplication::Fixed(settings.replication_factor),
        );
        for (k, v) in &configs {
            new = new.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = self
            .client
            .create_topics([&new], &opts)
            .await
            .map_err(|e| KafkaError::Retriable(format!("cannot create topic {topic}: {e}")))?;
        for r in results {
            match r {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) if retriable_code(code) => {
                    return Err(KafkaError::Retriable(format!("cannot create topic {name}: {code}")))
                }
                Err((name, code)) => {
                    return Err(KafkaError::Fatal(format!(
                        "cannot create topic {name}: {code}; create it by hand or fix the topic.creation.default.* settings"
                    )))
                }
            }
        }
        if let Ok(mut k) = self.known.lock() {
            k.insert(topic.to_string());
        }
        Ok(())
    }

    /// The topic's configuration as the broker describes it.
    pub async fn topic_configs(&self, topic: &str) -> Result<BTreeMap<String, String>, KafkaError> {
        let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
        let results = self
            .client
            .describe_configs(&[rdkafka::admin::ResourceSpecifier::Topic(topic)], &opts)
            .await
            .map_err(|e| KafkaError::Retriable(format!("cannot describe topic {topic}: {e}")))?;
        let config = results
            .into_iter()
            .next()
            .ok_or_else(|| KafkaError::Retriable(format!("no description of topic {topic}")))?
            .map_err(|e| KafkaError::Retriable(format!("cannot describe topic {topic}: {e}")))?;
        Ok(config
            .entries
            .into_iter()
            .filter_map(|e| Some((e.name, e.value?)))
            .collect())
    }

    pub fn client(&self) -> &AdminClient<DefaultClientContext> {
        &self.client
    }
}

fn retriable_code(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::NotController
            | RDKafkaErrorCode::BrokerNotAvailable
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::NetworkException
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::AllBrokersDown
    )
}
