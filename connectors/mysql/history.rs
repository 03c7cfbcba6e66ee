//! The schema history: every captured DDL with its binlog position and the
//! table definitions it produced, so that a restart resuming before a DDL
//! decodes with the definitions valid there.
//!
//! Records are Debezium's history records, one JSON document per DDL
//! statement (`source`, `position`, `ts_ms`, `databaseName`, `ddl`,
//! `tableChanges`), kept where schema.history.internal says:
//! - `io.debezium.storage.kafka.history.KafkaSchemaHistory` (Debezium's
//!   default): a one-partition topic (schema.history.internal.kafka.topic
//!   on schema.history.internal.kafka.bootstrap.servers), created when
//!   missing with infinite retention; every record is acknowledged by the
//!   broker (acks=all) before the events after its DDL are sent, so the
//!   history is never behind a committed offset. On start the topic is read
//!   from its beginning up to its end (high watermark).
//! - `io.debezium.storage.file.history.FileSchemaHistory`: one line per
//!   record in schema.history.internal.file.filename, fsync'd (standalone).
//!
//! Each column of `tableChanges` carries Debezium's fields plus a `sluice`
//! object with the information_schema facts Sluice decodes with (exact
//! COLUMN_TYPE, fractional digits, JSON check); a history written by
//! Debezium (without it) is read from Debezium's fields alone.
//!
//! A history that is missing, empty or unreadable while the connector has
//! offsets fails the task naming snapshot.mode=recovery, as Debezium's "db
//! history topic is missing" does (the task decides, see task.rs); with
//! recovery it is rebuilt from the current schema at the offset.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{json, Value as Json};
use sluice_runtime::kafka::admin::TopicSettings;
use sluice_runtime::kafka::{client_config, TopicAdmin};

use super::catalog::{jdbc_type, ColumnDesc, TableDef};
use super::config::HistoryKind;
use super::error::MySqlError;

/// A binlog position, ordered as the binlog is.
pub type Position = (String, u64);

/// One table as of one position; `None`: dropped.
type Entry = (Position, (String, String), Option<TableDef>);

enum Store {
    Memory,
    File(PathBuf),
    Kafka {
        producer: FutureProducer,
        topic: String,
    },
}

/// Captured DDL with the definitions it produced, by binlog position.
pub struct SchemaHistory {
    store: Store,
    server: String,
    entries: Vec<Entry>,
}

impl std::fmt::Debug for SchemaHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaHistory")
            .field("entries", &self.entries.len())
            .finish()
    }
}

fn kafka_err(what: &str, e: impl std::fmt::Display) -> MySqlError {
    MySqlError::History {
        detail: format!("{what}: {e}; check schema.history.internal.kafka.bootstrap.servers and that the broker is up"),
        retriable: true,
    }
}

/// `"db"."table"`, as Debezium names a table in tableChanges.
fn table_id(db: &str, table: &str) -> String {
    format!("\"{db}\".\"{table}\"")
}

fn parse_table_id(id: &str) -> Option<(String, String)> {
    let inner = id.strip_prefix('"')?.strip_suffix('"')?;
    let (db, table) = inner.split_once("\".\"")?;
    Some((db.to_string(), table.to_string()))
}

/// A `tableChanges` entry in Debezium's JSON history shape.
pub fn table_change_json(db: &str, table: &str, def: Option<&TableDef>, kind: &str) -> Json {
    let Some(def) = def else {
        return json!({"type": "DROP", "id": table_id(db, table)});
    };
    let columns: Vec<Json> = def
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let m = c.model();
            json!({
                "name": c.name,
                "jdbcType": jdbc_type(&c.data_type),
                "typeName": m.type_name,
                "typeExpression": m.type_name,
                "charsetName": c.charset,
                "length": m.length,
                "scale": m.scale,
                "position": i + 1,
                "optional": c.nullable,
                "autoIncremented": c.auto_increment,
                "generated": c.auto_increment,
                "defaultValueExpression": c.default,
                "enumValues": m.enum_values,
                "sluice": c.to_json(),
            })
        })
        .collect();
    json!({
        "type": kind,
        "id": table_id(db, table),
        "table": {
            "defaultCharsetName": def.charset,
            "primaryKeyColumnNames": def.primary_key,
            "columns": columns,
            "attributes": [],
        }
    })
}

/// A column from a tableChanges entry: Sluice's facts when present, else
/// Debezium's fields.
fn column_from_json(c: &Json) -> Option<ColumnDesc> {
    if let Some(d) = c.get("sluice").and_then(ColumnDesc::from_json) {
        return Some(d);
    }
    let s = |k: &str| c.get(k).and_then(Json::as_str).map(str::to_string);
    let n = |k: &str| c.get(k).and_then(Json::as_u64);
    let type_name = s("typeName")?.to_ascii_lowercase();
    let textual = matches!(
        type_name.as_str(),
        "char" | "varchar" | "binary" | "varbinary"
    );
    Some(ColumnDesc {
        name: s("name")?,
        column_type: s("typeExpression")
            .unwrap_or_else(|| type_name.clone())
            .to_ascii_lowercase(),
        data_type: type_name.clone(),
        charset: s("charsetName"),
        nullable: c.get("optional").and_then(Json::as_bool).unwrap_or(true),
        is_json: type_name == "json",
        precision: (!textual).then(|| n("length")).flatten(),
        scale: n("scale"),
        fsp: matches!(type_name.as_str(), "time" | "datetime" | "timestamp")
            .then(|| n("length"))
            .flatten(),
        octets: textual.then(|| n("length")).flatten(),
        auto_increment: c
            .get("autoIncremented")
            .and_then(Json::as_bool)
            .unwrap_or(false),
        default: s("defaultValueExpression"),
    })
}

/// The entries of one history record: Debezium's shape, or the one-table
/// lines Sluice wrote before it kept Debezium's shape.
fn parse_record(j: &Json) -> Option<Vec<Entry>> {
    if let Some(def) = j.get("def") {
        let pos = (
            j.get("file")?.as_str()?.to_string(),
            j.get("pos")?.as_u64()?,
        );
        let db = j.get("db")?.as_str()?.to_string();
        let table = j.get("table")?.as_str()?.to_string();
        let def = match def {
            Json::Null => None,
            d => Some(TableDef::from_json(d)?),
        };
        return Some(vec![(pos, (db, table), def)]);
    }
    let p = j.get("position")?;
    let pos = (
        p.get("file")?.as_str()?.to_string(),
        p.get("pos")?.as_u64()?,
    );
    let mut out = Vec::new();
    for change in j.get("tableChanges")?.as_array()? {
        let (db, table) = parse_table_id(change.get("id")?.as_str()?)?;
        let def = if change.get("type").and_then(Json::as_str) == Some("DROP") {
            None
        } else {
            let t = change.get("table")?;
            Some(TableDef {
                db: db.clone(),
                table: table.clone(),
                primary_key: t
                    .get("primaryKeyColumnNames")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                columns: t
                    .get("columns")?
                    .as_array()?
                    .iter()
                    .map(column_from_json)
                    .collect::<Option<_>>()?,
                charset: t
                    .get("defaultCharsetName")
                    .and_then(Json::as_str)
                    .map(str::to_string),
            })
        };
        out.push((pos.clone(), (db, table), def));
    }
    Some(out)
}

/// Reads a topic's single partition from its beginning to its end.
fn read_topic(
    bootstrap: &str,
    overrides: &BTreeMap<String, String>,
    topic: &str,
) -> Result<Vec<Vec<u8>>, MySqlError> {
    let mut cfg = client_config(bootstrap, overrides)
        .map_err(|e| MySqlError::Config(format!("schema.history.internal.consumer.*: {e}")))?;
    cfg.set("group.id", format!("sluice-schema-history-{topic}"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = cfg
        .create()
        .map_err(|e| kafka_err("cannot create a consumer", e))?;
    let (low, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(30))
        .map_err(|e| kafka_err(&format!("cannot read the end of topic {topic}"), e))?;
    let mut out = Vec::new();
    if high <= low {
        return Ok(out);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .map_err(|e| kafka_err("cannot assign the history partition", e))?;
    consumer
        .assign(&tpl)
        .map_err(|e| kafka_err("cannot assign the history partition", e))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                if let Some(p) = m.payload() {
                    out.push(p.to_vec());
                }
                if m.offset() + 1 >= high {
                    return Ok(out);
                }
            }
            Some(Err(e)) => tracing::warn!("reading schema history topic {topic}: {e}"),
            None => {}
        }
        if std::time::Instant::now() > deadline {
            return Err(kafka_err(
                &format!("topic {topic} was not read to its end (offset {high}) within 120 s"),
                "timeout",
            ));
        }
    }
}

impl SchemaHistory {
    /// A history kept in memory only.
    pub fn in_memory(server: &str) -> SchemaHistory {
        SchemaHistory {
            store: Store::Memory,
            server: server.to_string(),
            entries: Vec::new(),
        }
    }

    /// Opens the history. Returns whether it had to be recovered (absent,
    /// empty or damaged): then the current schema fills the gaps.
    pub async fn open(
        kind: &HistoryKind,
        server: &str,
    ) -> Result<(SchemaHistory, bool), MySqlError> {
        let mut h = SchemaHistory::in_memory(server);
        let lines: Vec<Vec<u8>> = match kind {
            HistoryKind::Memory => return Ok((h, true)),
            HistoryKind::File(path) => {
                h.store = Store::File(PathBuf::from(path));
                match std::fs::read(path) {
                    Ok(bytes) => bytes
                        .split(|b| *b == b'\n')
                        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                        .map(<[u8]>::to_vec)
                        .collect(),
                    Err(_) => return Ok((h, true)),
                }
            }
            HistoryKind::Kafka {
                topic,
                bootstrap,
                producer,
                consumer,
            } => {
                let admin = TopicAdmin::new(bootstrap, producer)
                    .map_err(|e| kafka_err("cannot create the admin client", e))?;
                let settings = TopicSettings {
                    partitions: 1,
                    replication_factor: -1,
                    configs: BTreeMap::from([
                        ("cleanup.policy".to_string(), "delete".to_string()),
                        // Kept for ever, as Debezium creates its history
                        // topic (Long.MAX_VALUE).
                        ("retention.ms".to_string(), i64::MAX.to_string()),
                    ]),
                };
                admin
                    .ensure_topic(topic, &settings)
                    .await
                    .map_err(|e| kafka_err(&format!("cannot create topic {topic}"), e))?;
                let mut pcfg = client_config(bootstrap, producer).map_err(|e| {
                    MySqlError::Config(format!("schema.history.internal.producer.*: {e}"))
                })?;
                pcfg.set("acks", "all");
                h.store = Store::Kafka {
                    producer: pcfg
                        .create()
                        .map_err(|e| kafka_err("cannot create a producer", e))?,
                    topic: topic.clone(),
                };
                let (b, c, t) = (bootstrap.clone(), consumer.clone(), topic.clone());
                tokio::task::spawn_blocking(move || read_topic(&b, &c, &t))
                    .await
                    .map_err(|e| kafka_err("the history reader stopped", e))??
            }
        };
        let mut damaged = lines.is_empty();
        for line in &lines {
            match serde_json::from_slice::<Json>(line)
                .ok()
                .as_ref()
                .and_then(parse_record)
            {
                Some(entries) => h.entries.extend(entries),
                // A torn last line (crash mid-write) is dropped.
                None => damaged = true,
            }
        }
        Ok((h, damaged))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records one DDL statement (or one snapshot table) as of `pos` (after
    /// the DDL): `changes` are the tables it touched with their new
    /// definitions (`None`: dropped); `kind` is CREATE or ALTER for those
    /// that exist.
    pub async fn record(
        &mut self,
        pos: &Position,
        db: &str,
        ddl: &str,
        kind: &str,
        changes: &[(String, String, Option<TableDef>)],
    ) -> Result<(), MySqlError> {
        let record = json!({
            "source": {"server": self.server},
            "position": {"file": pos.0, "pos": pos.1},
            "ts_ms": crate::debezium::time::now().0,
            "databaseName": db,
            "ddl": ddl,
            "tableChanges": changes
                .iter()
                .map(|(d, t, def)| table_change_json(d, t, def.as_ref(), kind))
                .collect::<Vec<_>>(),
        });
        match &self.store {
            Store::Memory => {}
            Store::File(p) => {
                let write = || -> std::io::Result<()> {
                    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)?;
                    }
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)?;
                    writeln!(f, "{record}")?;
                    f.sync_data()
                };
                write().map_err(|e| {
                    MySqlError::Config(format!(
                        "cannot write the schema history file {}: {e}; check schema.history.internal.file.filename",
                        p.display()
                    ))
                })?;
            }
            Store::Kafka { producer, topic } => {
                let payload = record.to_string();
                producer
                    .send(
                        FutureRecord::<(), _>::to(topic)
                            .partition(0)
                            .payload(&payload),
                        Duration::from_secs(60),
                    )
                    .await
                    .map_err(|(e, _)| kafka_err(&format!("cannot write to topic {topic}"), e))?;
            }
        }
        for (d, t, def) in changes {
            self.entries
                .push((pos.clone(), (d.clone(), t.clone()), def.clone()));
        }
        Ok(())
    }

    /// What the history recorded for a table exactly at `pos` (a DDL read
    /// again after a restart): `Some(None)` when it was dropped there.
    pub fn at(&self, pos: &Position, db: &str, table: &str) -> Option<Option<&TableDef>> {
        self.entries
            .iter()
            .rev()
            .find(|(p, (d, t), _)| p == pos && d == db && t == table)
            .map(|(_, _, def)| def.as_ref())
    }

    /// The definition of a table as of `pos`: the last entry at or before
    /// it. `Some(None)` means dropped; `None` means the history does not
    /// know the table.
    pub fn as_of(&self, pos: &Position, db: &str, table: &str) -> Option<Option<&TableDef>> {
        self.entries
            .iter()
            .rev()
            .find(|(p, (d, t), _)| p <= pos && d == db && t == table)
            .map(|(_, _, def)| def.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &str, column_type: &str, data_type: &str) -> ColumnDesc {
        ColumnDesc {
            name: name.into(),
            column_type: column_type.into(),
            data_type: data_type.into(),
            ..Default::default()
        }
    }

    fn one(def: &TableDef) -> Vec<(String, String, Option<TableDef>)> {
        vec![(def.db.clone(), def.table.clone(), Some(def.clone()))]
    }

    #[tokio::test]
    async fn file_history_round_trips_and_answers_by_position() {
        let dir = std::env::temp_dir().join(format!("sluice-hist-{}", std::process::id()));
        let path = dir.join("h.jsonl");
        let _ = std::fs::remove_file(&path);
        let kind = HistoryKind::File(path.display().to_string());
        let (mut h, recovered) = SchemaHistory::open(&kind, "srv").await.unwrap();
        assert!(recovered && h.is_empty());
        let v1 = TableDef {
            db: "d".into(),
            table: "t".into(),
            columns: vec![desc("a", "int(11)", "int")],
            primary_key: vec!["a".into()],
            charset: Some("utf8mb4".into()),
        };
        let mut v2 = v1.clone();
        v2.columns.push(desc("b", "longtext", "longtext"));
        let pos = |f: &str, p: u64| (f.to_string(), p);
        h.record(
            &pos("bin.000001", 100),
            "d",
            "CREATE TABLE t (a INT)",
            "CREATE",
            &one(&v1),
        )
        .await
        .unwrap();
        h.record(
            &pos("bin.000002", 50),
            "d",
            "ALTER TABLE t ADD b LONGTEXT",
            "ALTER",
            &one(&v2),
        )
        .await
        .unwrap();
        h.record(
            &pos("bin.000002", 90),
            "d",
            "DROP TABLE t",
            "DROP",
            &[("d".into(), "t".into(), None)],
        )
        .await
        .unwrap();
        // Debezium's record shape, one line per statement.
        let text = std::fs::read_to_string(&path).unwrap();
        let first: Json = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["source"]["server"], "srv");
        assert_eq!(first["position"]["file"], "bin.000001");
        assert_eq!(first["databaseName"], "d");
        assert_eq!(first["ddl"], "CREATE TABLE t (a INT)");
        assert_eq!(first["tableChanges"][0]["type"], "CREATE");
        assert_eq!(first["tableChanges"][0]["id"], "\"d\".\"t\"");
        assert_eq!(
            first["tableChanges"][0]["table"]["columns"][0]["typeName"],
            "INT"
        );
        let (h, recovered) = SchemaHistory::open(&kind, "srv").await.unwrap();
        assert!(!recovered);
        assert_eq!(h.as_of(&pos("bin.000001", 99), "d", "t"), None);
        assert_eq!(h.as_of(&pos("bin.000001", 500), "d", "t"), Some(Some(&v1)));
        assert_eq!(h.as_of(&pos("bin.000002", 60), "d", "t"), Some(Some(&v2)));
        assert_eq!(h.as_of(&pos("bin.000003", 4), "d", "t"), Some(None));
        std::fs::write(&path, "{\"torn").unwrap();
        assert!(SchemaHistory::open(&kind, "srv").await.unwrap().1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reads_sluice_legacy_lines_and_debezium_written_records() {
        let legacy = json!({"file": "b.1", "pos": 7, "db": "d", "table": "t",
            "def": {"db": "d", "table": "t", "primaryKey": ["id"],
                "columns": [{"name": "id", "columnType": "int(11)", "dataType": "int"}]}});
        let e = parse_record(&legacy).unwrap();
        assert_eq!(e[0].0, ("b.1".to_string(), 7));
        assert_eq!(e[0].2.as_ref().unwrap().primary_key, vec!["id".to_string()]);
        let dbz = json!({"source": {"server": "s"}, "position": {"file": "b.2", "pos": 9},
        "databaseName": "inv", "ddl": "CREATE TABLE c (id INT, name VARCHAR(255))",
        "tableChanges": [{"type": "CREATE", "id": "\"inv\".\"c\"", "table": {
            "primaryKeyColumnNames": ["id"],
            "columns": [
                {"name": "id", "jdbcType": 4, "typeName": "INT", "typeExpression": "INT", "position": 1, "optional": false},
                {"name": "name", "jdbcType": 12, "typeName": "VARCHAR", "typeExpression": "VARCHAR", "charsetName": "utf8mb4", "length": 255, "position": 2, "optional": true}
            ]}}]});
        let e = parse_record(&dbz).unwrap();
        let def = e[0].2.as_ref().unwrap();
        assert_eq!((def.db.as_str(), def.table.as_str()), ("inv", "c"));
        assert_eq!(def.columns[1].data_type, "varchar");
        assert_eq!(def.columns[1].octets, Some(255));
        assert!(def.columns[1].nullable && !def.columns[0].nullable);
    }
}
