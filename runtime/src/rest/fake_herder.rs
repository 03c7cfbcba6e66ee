//! Test-only scaffolding: an in-memory [`Herder`] over a `BTreeMap`, with
//! just enough behaviour (conflicts, unknown classes, STOPPED-only offset
//! changes) to drive every REST status code.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::herder::{
    ConnectorInfo, ConnectorOffset, ConnectorState, ConnectorStatus, ConnectorType, Health, Herder,
    HerderError, HerderResult, State, TargetState, TaskId, TaskInfo, TaskState,
};
use crate::plugin::{BoxFuture, Props};

/// The one connector class the fake knows.
pub const FILE_SOURCE: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";

struct Connector {
    config: Props,
    target: TargetState,
    offsets: Vec<ConnectorOffset>,
    topics: Vec<String>,
}

#[derive(Default)]
pub struct FakeHerder {
    connectors: Mutex<BTreeMap<String, Connector>>,
    /// What the health check answers; `Some(None)`: it never answers.
    pub health: Mutex<Option<Option<Health>>>,
}

impl FakeHerder {
    fn with<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Connector) -> HerderResult<T>,
    ) -> HerderResult<T> {
        let mut map = self.connectors.lock().unwrap();
        match map.get_mut(name) {
            Some(c) => f(c),
            None => Err(HerderError::connector_not_found(name)),
        }
    }

    fn info(name: &str, c: &Connector) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_string(),
            config: c.config.clone(),
            tasks: vec![TaskId {
                connector: name.to_string(),
                task: 0,
            }],
            kind: ConnectorType::Source,
        }
    }

    fn status(name: &str, c: &Connector) -> ConnectorStatus {
        let state = match c.target {
            TargetState::Running => State::Running,
            TargetState::Paused => State::Paused,
            TargetState::Stopped => State::Stopped,
        };
        ConnectorStatus {
            name: name.to_string(),
            connector: ConnectorState {
                state,
                worker_id: "127.0.0.1:8083".into(),
                trace: None,
            },
            tasks: vec![TaskState {
                id: 0,
                state,
                worker_id: "127.0.0.1:8083".into(),
                trace: None,
                progress: None,
                starts: None,
                errors: None,
            }],
            kind: ConnectorType::Source,
        }
    }
}

fn ready<'a, T: Send + 'a>(v: T) -> BoxFuture<'a, T> {
    Box::pin(async move { v })
}

fn check_task(name: &str, task: u32) -> HerderResult<()> {
    if task == 0 {
        Ok(())
    } else {
        Err(HerderError::NotFound(format!(
            "Task {name}-{task} not found"
        )))
    }
}

impl Herder for FakeHerder {
    fn server_info(&self) -> BoxFuture<'_, Value> {
        ready(json!({"version": "test", "commit": "abc", "kafka_cluster_id": "cluster"}))
    }

    fn connectors(&self) -> BoxFuture<'_, Vec<String>> {
        ready(self.connectors.lock().unwrap().keys().cloned().collect())
    }

    fn connector_info(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorInfo>> {
        ready(self.with(name, |c| Ok(FakeHerder::info(name, c))))
    }

    fn put_connector_config(
        &self,
        name: &str,
        config: Props,
        allow_replace: bool,
        initial_state: Option<TargetState>,
    ) -> BoxFuture<'_, HerderResult<(bool, ConnectorInfo)>> {
        let result = (|| {
            match config.get("connector.class").map(String::as_str) {
                Some(FILE_SOURCE) => {}
                Some(other) => {
                    return Err(HerderError::BadRequest(format!(
                        "Failed to find any class that implements Connector and which name matches {other}"
                    )))
                }
                None => {
                    return Err(HerderError::BadRequest(
                        "Connector config contains no connector type".into(),
                    ))
                }
            }
            let mut map = self.connectors.lock().unwrap();
            if let Some(existing) = map.get_mut(name) {
                if !allow_replace {
                    return Err(HerderError::Conflict(format!(
                        "Connector {name} already exists"
                    )));
                }
                existing.config = config;
                return Ok((false, FakeHerder::info(name, existing)));
            }
            let c = Connector {
                config,
                target: initial_state.unwrap_or(TargetState::Running),
                offsets: vec![],
                topics: vec!["topic-a".into()],
            };
            let info = FakeHerder::info(name, &c);
            map.insert(name.to_string(), c);
            Ok((true, info))
        })();
        ready(result)
    }

    fn delete_connector(&self, name: &str) -> BoxFuture<'_, HerderResult<()>> {
        let removed = self.connectors.lock().unwrap().remove(name);
        ready(
            removed
                .map(|_| ())
                .ok_or_else(|| HerderError::connector_not_found(name)),
        )
    }

    fn connector_status(&self, name: &str) -> BoxFuture<'_, HerderResult<ConnectorStatus>> {
        ready(self.with(name, |c| Ok(FakeHerder::status(name, c))))
    }

    fn task_status(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<TaskState>> {
        ready(self.with(name, |c| {
            check_task(name, task)?;
            Ok(FakeHerder::status(name, c).tasks.remove(0))
        }))
    }

    fn task_configs(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<TaskInfo>>> {
        ready(self.with(name, |c| {
            Ok(vec![TaskInfo {
                id: TaskId {
                    connector: name.to_string(),
                    task: 0,
                },
                config: c.config.clone(),
            }])
        }))
    }

    fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> BoxFuture<'_, HerderResult<Option<ConnectorStatus>>> {
        ready(self.with(name, |c| {
            Ok((include_tasks || only_failed).then(|| FakeHerder::status(name, c)))
        }))
    }

    fn restart_task(&self, name: &str, task: u32) -> BoxFuture<'_, HerderResult<()>> {
        ready(self.with(name, |_| check_task(name, task)))
    }

    fn set_target_state(&self, name: &str, state: TargetState) -> BoxFuture<'_, HerderResult<()>> {
        ready(self.with(name, |c| {
            c.target = state;
            Ok(())
        }))
    }

    fn offsets(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<ConnectorOffset>>> {
        ready(self.with(name, |c| Ok(c.offsets.clone())))
    }

    fn modify_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<ConnectorOffset>>,
    ) -> BoxFuture<'_, HerderResult<()>> {
        ready(self.with(name, |c| {
            if c.target != TargetState::Stopped {
                return Err(HerderError::BadRequest(format!(
                    "Connectors must be in the STOPPED state before their offsets can be modified. \
                     Stop {name} with PUT /connectors/{name}/stop first"
                )));
            }
            match offsets {
                None => c.offsets.clear(),
                Some(new) => {
                    for o in new {
                        c.offsets.retain(|e| e.partition != o.partition);
                        if o.offset.is_some() {
                            c.offsets.push(o);
                        }
                    }
                }
            }
            Ok(())
        }))
    }

    fn active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<Vec<String>>> {
        ready(self.with(name, |c| Ok(c.topics.clone())))
    }

    fn reset_active_topics(&self, name: &str) -> BoxFuture<'_, HerderResult<()>> {
        ready(self.with(name, |c| {
            c.topics.clear();
            Ok(())
        }))
    }

    fn validate_config(&self, plugin: &str, config: Props) -> BoxFuture<'_, HerderResult<Value>> {
        ready(Ok(json!({
            "name": plugin,
            "error_count": 0,
            "groups": ["Common"],
            "configs": config.keys().map(|k| json!({"value": {"name": k, "errors": []}})).collect::<Vec<_>>(),
        })))
    }

    fn plugins(&self, connectors_only: bool) -> Vec<Value> {
        let mut out = vec![json!({"class": FILE_SOURCE, "type": "source", "version": "test"})];
        if !connectors_only {
            out.push(json!({
                "class": "org.apache.kafka.connect.transforms.RegexRouter",
                "type": "transformation",
                "version": "test",
            }));
        }
        out
    }

    fn health_check(&self, _timeout: std::time::Duration) -> BoxFuture<'_, Health> {
        let health = self.health.lock().unwrap().clone();
        Box::pin(async move {
            match health {
                None => Health::Healthy,
                Some(Some(h)) => h,
                Some(None) => std::future::pending().await,
            }
        })
    }

    fn plugin_config(&self, plugin: &str) -> HerderResult<Vec<Value>> {
        if plugin == FILE_SOURCE || plugin == "FileStreamSource" {
            Ok(vec![
                json!({"name": "file", "type": "STRING", "required": false}),
            ])
        } else {
            Err(HerderError::NotFound(format!("Unknown plugin {plugin}.")))
        }
    }
}
