//! Transaction metadata (`provide.transaction.metadata`), shared by the
//! connectors: the counters of the transaction an event belongs to, and
//! the BEGIN / END records of `<topic.prefix>.transaction`.

use std::sync::Arc;

use sluice_api::data::{JsonMap, RecordData, SourceRecord, Struct, Value};

use super::schema::{transaction_schema, transaction_schemas};

/// The transaction a streamed event belongs to, with Debezium's counters:
/// `total_order` over every change event of the transaction,
/// `data_collection_order` per data collection (`db.table`, `db.coll`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnState {
    /// MySQL/MariaDB: the GTID, or `file:pos` without GTIDs; MongoDB:
    /// `<lsid>:<txnNumber>`.
    pub id: Arc<str>,
    /// Whether the BEGIN event was emitted (or, on a resume inside the
    /// transaction, already acknowledged before the restart).
    pub begun: bool,
    pub total: i64,
    /// Per data collection, in order of first appearance.
    pub per_collection: Vec<(String, i64)>,
}

impl TxnState {
    pub fn new(id: String) -> TxnState {
        TxnState {
            id: id.into(),
            ..Default::default()
        }
    }

    /// Counts one more change event of `collection`: (total_order,
    /// data_collection_order), both starting at 1.
    pub fn next(&mut self, collection: &str) -> (i64, i64) {
        self.total += 1;
        let n = match self
            .per_collection
            .iter_mut()
            .find(|(c, _)| c == collection)
        {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.per_collection.push((collection.to_string(), 1));
                1
            }
        };
        (self.total, n)
    }

    /// The envelope's `transaction` block for the next event of
    /// `collection` (counted).
    pub fn block(&mut self, collection: &str) -> Value {
        let (total, per) = self.next(collection);
        Value::Struct(Struct {
            schema: transaction_schema(),
            values: vec![
                Value::String(self.id.clone()),
                Value::Int64(total),
                Value::Int64(per),
            ],
        })
    }
}

/// A BEGIN (or, with `end`, END with the counts) record of `txn` on
/// `topic`, without headers (Debezium puts none on boundaries).
pub fn boundary(
    topic: &Arc<str>,
    partition: &Arc<JsonMap>,
    txn: &TxnState,
    end: bool,
    ts_ms: i64,
    offset: Option<&Arc<JsonMap>>,
) -> SourceRecord {
    let (ks, vs, per) = transaction_schemas();
    let key = Value::Struct(Struct {
        schema: ks.clone(),
        values: vec![Value::String(txn.id.clone())],
    });
    let (count, collections) = if end {
        (
            Value::Int64(txn.total),
            Value::Array(
                txn.per_collection
                    .iter()
                    .map(|(c, n)| {
                        Value::Struct(Struct {
                            schema: per.clone(),
                            values: vec![Value::String(c.as_str().into()), Value::Int64(*n)],
                        })
                    })
                    .collect(),
            ),
        )
    } else {
        (Value::Null, Value::Null)
    };
    let value = Value::Struct(Struct {
        schema: vs.clone(),
        values: vec![
            Value::String(if end { "END" } else { "BEGIN" }.into()),
            Value::String(txn.id.clone()),
            count,
            collections,
            Value::Int64(ts_ms),
        ],
    });
    SourceRecord::new(
        partition.clone(),
        offset.cloned(),
        RecordData {
            topic: topic.clone(),
            kafka_partition: None,
            key_schema: Some(ks),
            key,
            value_schema: Some(vs),
            value,
            timestamp: Some(ts_ms),
            headers: Default::default(),
            kafka_offset: None,
        },
    )
}
