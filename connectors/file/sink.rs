//! FileStreamSink: records' values appended as lines to a file (or stdout).

use std::io::Write;

use sluice_api::data::{SinkRecord, Value};
use sluice_api::{
    BoxFuture, ConfigDef, ConfigError, ConfigType, Importance, Props, SinkConnector, SinkTask,
    SinkTaskContext, TaskError,
};

fn def() -> ConfigDef {
    ConfigDef::new().define(
        "file",
        ConfigType::String,
        Some(""),
        Importance::High,
        "Destination filename. If not specified, the standard output will be used.",
    )
}

/// `org.apache.kafka.connect.file.FileStreamSinkConnector`.
#[derive(Default)]
pub struct FileStreamSinkConnector {
    props: Props,
}

impl SinkConnector for FileStreamSinkConnector {
    fn config_def(&self) -> ConfigDef {
        def()
    }

    fn start(&mut self, props: &Props) -> Result<(), ConfigError> {
        def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Vec<Props> {
        let mut p = Props::new();
        if let Some(f) = self.props.get("file") {
            p.insert("file".into(), f.clone());
        }
        vec![p; max_tasks.max(1)]
    }

    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(FileStreamSinkTask::default())
    }
}

/// Appends values, one per line.
#[derive(Default)]
pub struct FileStreamSinkTask {
    out: Option<Box<dyn Write + Send>>,
    file: Option<std::fs::File>,
    filename: Option<String>,
}

/// A value as a line of text (Java's `toString` for the common cases).
fn render(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bytes(b) => out.extend_from_slice(b),
        Value::Boolean(b) => out.extend_from_slice(b.to_string().as_bytes()),
        Value::Int8(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Int16(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Int32(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Int64(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Float32(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Float64(n) => out.extend_from_slice(n.to_string().as_bytes()),
        other => out.extend_from_slice(format!("{other:?}").as_bytes()),
    }
}

impl SinkTask for FileStreamSinkTask {
    fn start(
        &mut self,
        props: Props,
        _ctx: SinkTaskContext,
    ) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let cfg = def().parse(&props)?;
            self.filename = cfg.opt_string("file");
            match &self.filename {
                None => self.out = Some(Box::new(std::io::stdout())),
                Some(f) => {
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(f)
                        .map_err(|e| TaskError::Fatal(format!("cannot open {f} for appending: {e}; check the path and permissions")))?;
                    self.file = Some(
                        file.try_clone()
                            .map_err(|e| TaskError::Fatal(e.to_string()))?,
                    );
                    self.out = Some(Box::new(std::io::BufWriter::with_capacity(
                        256 * 1024,
                        file,
                    )));
                }
            }
            Ok(())
        })
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            let out = self
                .out
                .as_mut()
                .ok_or_else(|| TaskError::Fatal("put before start".into()))?;
            let mut buf = Vec::with_capacity(records.len() * 32);
            for r in &records {
                render(&r.data.value, &mut buf);
                buf.push(b'\n');
            }
            out.write_all(&buf).map_err(|e| {
                TaskError::Retriable(format!(
                    "cannot write to {}: {e}",
                    self.filename.as_deref().unwrap_or("stdout")
                ))
            })
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(async move {
            if let Some(out) = self.out.as_mut() {
                out.flush()
                    .map_err(|e| TaskError::Retriable(format!("cannot flush: {e}")))?;
            }
            if let Some(f) = &self.file {
                f.sync_data()
                    .map_err(|e| TaskError::Retriable(format!("cannot fsync: {e}")))?;
            }
            Ok(())
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(out) = self.out.as_mut() {
                let _ = out.flush();
            }
        })
    }
}
