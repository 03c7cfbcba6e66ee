//! FileStreamSource: lines of a file (or stdin) into a topic.

use std::io::SeekFrom;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sluice_api::data::{schemas, JsonMap, RecordData, SourceRecord, Value};
use sluice_api::{
    BoxFuture, ConfigDef, ConfigError, ConfigType, Importance, Props, SourceConnector, SourceTask,
    SourceTaskContext, TaskError, Validator,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncSeekExt, BufReader};

fn def() -> ConfigDef {
    ConfigDef::new()
        .define("file", ConfigType::String, Some(""), Importance::High,
            "Source filename. If not specified, the standard input will be used.")
        .define("topic", ConfigType::List, None, Importance::High,
            "The topic to publish data to.")
        .validate(Validator::NonEmpty)
        .define("batch.size", ConfigType::Int, Some("2000"), Importance::Low,
            "The maximum number of records the source task can read from the file each time it is polled.")
        .validate(Validator::Range { min: Some(1.0), max: None })
}

/// `org.apache.kafka.connect.file.FileStreamSourceConnector`.
#[derive(Default)]
pub struct FileStreamSourceConnector {
    props: Props,
}

impl SourceConnector for FileStreamSourceConnector {
    fn config_def(&self) -> ConfigDef {
        def()
    }

    fn validate(&self, props: &Props) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut errors = std::collections::BTreeMap::new();
        if let Some(t) = props.get("topic") {
            if t.contains(',') {
                errors.insert(
                    "topic".to_string(),
                    vec!["'topic' in FileStreamSourceConnector configuration requires definition of a single topic".to_string()],
                );
            }
        }
        errors
    }

    fn start(&mut self, props: &Props) -> Result<(), ConfigError> {
        def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, _max_tasks: usize) -> Vec<Props> {
        // One file, one reader: a single task whatever tasks.max says.
        let mut p = Props::new();
        for k in ["file", "topic", "batch.size"] {
            if let Some(v) = self.props.get(k) {
                p.insert(k.to_string(), v.clone());
            }
        }
        vec![p]
    }

    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(FileStreamSourceTask::default())
    }
}

/// Reads lines and tracks the byte position after each.
#[derive(Default)]
pub struct FileStreamSourceTask {
    reader: Option<BufReader<Box<dyn AsyncRead + Send + Unpin>>>,
    filename: Option<String>,
    /// Shared by every record of the task.
    topic: std::sync::Arc<str>,
    batch_size: usize,
    position: u64,
    partition: Option<Arc<JsonMap>>,
    /// Bytes of a line whose newline has not arrived yet.
    partial: Vec<u8>,
}

impl FileStreamSourceTask {
    async fn open(&mut self) -> Result<(), TaskError> {
        let reader: Box<dyn AsyncRead + Send + Unpin> = match &self.filename {
            None => Box::new(tokio::io::stdin()),
            Some(f) => {
                let mut file = match tokio::fs::File::open(f).await {
                    Ok(file) => file,
                    // The file may appear later, as with Kafka Connect.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(TaskError::Retriable(format!("cannot open {f}: {e}"))),
                };
                if self.position > 0 {
                    file.seek(SeekFrom::Start(self.position))
                        .await
                        .map_err(|e| {
                            TaskError::Retriable(format!(
                                "cannot seek {f} to {}: {e}",
                                self.position
                            ))
                        })?;
                }
                Box::new(file)
            }
        };
        self.reader = Some(BufReader::with_capacity(256 * 1024, reader));
        Ok(())
    }
}

impl SourceTask for FileStreamSourceTask {
    fn start(
        &mut self,
        props: Props,
        ctx: SourceTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let cfg = def().parse(&props)?;
            self.filename = cfg.opt_string("file");
            self.topic = cfg.string("topic")?.into();
            self.batch_size = cfg.i32("batch.size")?.max(1) as usize;
            if let Some(f) = &self.filename {
                let partition = json!({"filename": f})
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                if let Some(off) = ctx.offsets.offset(&partition) {
                    self.position = off
                        .get("position")
                        .and_then(|v| v.as_u64())
                        .ok_or_else(|| TaskError::Fatal(format!(
                            "the stored offset for {f} has no numeric position: {}; reset the connector's offsets",
                            serde_json::Value::Object(off.clone())
                        )))?;
                    tracing::info!(file = %f, position = self.position, "resuming from committed offset");
                }
                self.partition = Some(Arc::new(partition));
            }
            self.open().await
        })
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>, TaskError>> {
        Box::pin(async move {
            if self.reader.is_none() {
                self.open().await?;
                if self.reader.is_none() {
                    // Waiting for the file to appear; poll returns within a second.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    return Ok(Vec::new());
                }
            }
            let mut out = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            let partition = self
                .partition
                .clone()
                .unwrap_or_else(|| Arc::new(JsonMap::new()));
            let schema = schemas::string();
            let reader = self.reader.as_mut().expect("opened above");
            while out.len() < self.batch_size {
                let before = self.partial.len();
                let n = match tokio::time::timeout_at(
                    deadline,
                    reader.read_until(b'\n', &mut self.partial),
                )
                .await
                {
                    Ok(r) => r.map_err(|e| {
                        TaskError::Retriable(format!(
                            "cannot read {}: {e}",
                            self.filename.as_deref().unwrap_or("stdin")
                        ))
                    })?,
                    Err(_) => break,
                };
                if n == 0 {
                    if out.is_empty() && tokio::time::Instant::now() < deadline {
                        // At the end of the file: wait a little for more.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    break;
                }
                if self.partial.last() != Some(&b'\n') {
                    // A line still being written; keep it for the next read.
                    let _ = before;
                    continue;
                }
                let line_len = self.partial.len() as u64;
                let mut line = &self.partial[..self.partial.len() - 1];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                self.position += line_len;
                let text = String::from_utf8_lossy(line).into_owned();
                self.partial.clear();
                let offset = self.filename.as_ref().map(|_| {
                    let mut m = JsonMap::new();
                    m.insert("position".into(), json!(self.position));
                    Arc::new(m)
                });
                out.push(SourceRecord::new(
                    partition.clone(),
                    offset,
                    RecordData {
                        topic: self.topic.clone(),
                        value_schema: Some(schema.clone()),
                        value: Value::String(text.into()),
                        ..Default::default()
                    },
                ));
            }
            Ok(out)
        })
    }
}
