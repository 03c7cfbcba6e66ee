//! A put's changes grouped into per-table runs, in Kafka order.
//!
//! Order only matters between changes of one table (rows of different
//! tables are independent), so each table gets its own list of runs: a run
//! is a maximal sequence of consecutive writes of one shape, deletes of one
//! shape, or a truncate. Runs of a table execute in order, each as few
//! multi-row statements as its size allows. In upsert mode a run keeps only
//! the last image of each key: a multi-row `INSERT ... ON CONFLICT` may not
//! touch one row twice, and the last image is what the row must end as.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::record::{Change, Shape, TableId};

pub type Row = Vec<Option<String>>;

#[derive(Debug)]
pub enum Run {
    Write { shape: Arc<Shape>, rows: Vec<Row> },
    Delete { shape: Arc<Shape>, rows: Vec<Row> },
    Truncate,
}

#[derive(Debug)]
pub struct TableBatch {
    pub table: TableId,
    pub runs: Vec<Run>,
}

impl TableBatch {
    /// The distinct shapes this batch writes (to check the table against).
    pub fn write_shapes(&self) -> Vec<Arc<Shape>> {
        let mut out: Vec<Arc<Shape>> = Vec::new();
        for r in &self.runs {
            if let Run::Write { shape, .. } = r {
                if !out.iter().any(|s| Arc::ptr_eq(s, shape) || **s == **shape) {
                    out.push(shape.clone());
                }
            }
        }
        out
    }
}

fn same(a: &Arc<Shape>, b: &Arc<Shape>) -> bool {
    Arc::ptr_eq(a, b) || **a == **b
}

/// Groups changes by table, keeping each table's order.
pub fn plan(changes: Vec<Change>, dedupe_keys: bool) -> Vec<TableBatch> {
    let mut batches: Vec<TableBatch> = Vec::new();
    let mut index: HashMap<TableId, usize> = HashMap::new();
    for change in changes {
        let (table, run) = match change {
            Change::Skip => continue,
            Change::Write {
                table,
                shape,
                values,
            } => (
                table,
                Run::Write {
                    shape,
                    rows: vec![values],
                },
            ),
            Change::Delete {
                table,
                shape,
                values,
            } => (
                table,
                Run::Delete {
                    shape,
                    rows: vec![values],
                },
            ),
            Change::Truncate { table } => (table, Run::Truncate),
        };
        let i = *index.entry(table.clone()).or_insert_with(|| {
            batches.push(TableBatch {
                table,
                runs: Vec::new(),
            });
            batches.len() - 1
        });
        let runs = &mut batches[i].runs;
        match (runs.last_mut(), run) {
            (
                Some(Run::Write { shape: s, rows }),
                Run::Write {
                    shape,
                    rows: mut new,
                },
            ) if same(s, &shape) => rows.append(&mut new),
            (
                Some(Run::Delete { shape: s, rows }),
                Run::Delete {
                    shape,
                    rows: mut new,
                },
            ) if same(s, &shape) => rows.append(&mut new),
            (Some(Run::Truncate), Run::Truncate) => {}
            (_, run) => runs.push(run),
        }
    }
    if dedupe_keys {
        for b in &mut batches {
            for r in &mut b.runs {
                if let Run::Write { shape, rows } = r {
                    keep_last_per_key(rows, shape.key_count);
                }
            }
        }
    }
    batches
}

/// Keeps the last row of each key, in the order of those last rows.
fn keep_last_per_key(rows: &mut Vec<Row>, key_count: usize) {
    if key_count == 0 || rows.len() < 2 {
        return;
    }
    let mut seen: HashSet<&[Option<String>]> = HashSet::with_capacity(rows.len());
    let mut keep = vec![false; rows.len()];
    for (i, row) in rows.iter().enumerate().rev() {
        keep[i] = seen.insert(&row[..key_count]);
    }
    let mut i = 0;
    rows.retain(|_| {
        let k = keep[i];
        i += 1;
        k
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::schemas;

    use super::super::record::Column;

    fn shape() -> Arc<Shape> {
        Arc::new(Shape {
            columns: vec![
                Column {
                    name: "id".into(),
                    schema: schemas::int32(),
                },
                Column {
                    name: "v".into(),
                    schema: schemas::string(),
                },
            ],
            key_count: 1,
        })
    }

    fn t(name: &str) -> TableId {
        TableId {
            schema: None,
            name: name.into(),
        }
    }

    fn write(table: &str, id: &str, v: &str) -> Change {
        Change::Write {
            table: t(table),
            shape: shape(),
            values: vec![Some(id.into()), Some(v.into())],
        }
    }

    fn delete(table: &str, id: &str) -> Change {
        Change::Delete {
            table: t(table),
            shape: shape(),
            values: vec![Some(id.into())],
        }
    }

    #[test]
    fn runs_keep_each_tables_order_and_upserts_keep_the_last_image() {
        let batches = plan(
            vec![
                write("a", "1", "x"),
                write("b", "1", "y"),
                write("a", "2", "x"),
                write("a", "1", "z"),
                delete("a", "2"),
                write("a", "2", "again"),
                Change::Skip,
            ],
            true,
        );
        assert_eq!(batches.len(), 2);
        let a = &batches[0];
        assert_eq!(a.table, t("a"));
        assert_eq!(a.runs.len(), 3);
        match &a.runs[0] {
            Run::Write { rows, .. } => {
                assert_eq!(
                    rows,
                    &vec![
                        vec![Some("2".into()), Some("x".into())],
                        vec![Some("1".into()), Some("z".into())]
                    ]
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&a.runs[1], Run::Delete { rows, .. } if rows.len() == 1));
        assert!(matches!(&a.runs[2], Run::Write { rows, .. } if rows.len() == 1));
    }

    #[test]
    fn plain_inserts_keep_every_row() {
        let batches = plan(vec![write("a", "1", "x"), write("a", "1", "y")], false);
        assert!(matches!(&batches[0].runs[0], Run::Write { rows, .. } if rows.len() == 2));
    }
}
