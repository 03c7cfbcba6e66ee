//! Which column a value PostgreSQL refused belongs to.
//!
//! A data exception (SQLSTATE class 22: invalid input syntax, out of range,
//! too long) names the type and the value but not the column. After the
//! failed transaction is rolled back, each column's values of the failed
//! statement are cast, as one text array, to an array of the column's type
//! (`SELECT $1::text[]::<type>[]`): the first column whose cast fails is the
//! one at fault. Reads only; one round trip per column.

use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::plan::Row;

/// A PostgreSQL array literal of texts (`NULL` for none).
fn text_array(values: impl Iterator<Item = Option<String>>) -> String {
    let mut out = String::from("{");
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            None => out.push_str("NULL"),
            Some(t) => {
                out.push('"');
                for c in t.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    out
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `column <name> (<type>): <message>` for the first column of `columns`
/// (names as in the catalog) whose values in `rows` its type refuses.
pub async fn column_at_fault(
    client: &Client,
    schema: &str,
    table: &str,
    columns: &[String],
    rows: &[Row],
) -> Option<String> {
    let types = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON a.attrelid = c.oid \
             JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
             WHERE n.nspname = $1::text AND c.relname = $2::text AND a.attnum > 0 AND NOT a.attisdropped",
            &[&schema, &table],
        )
        .await
        .ok()?;
    for (i, name) in columns.iter().enumerate() {
        let Some(ty) = types
            .iter()
            .find(|r| r.get::<_, String>(0) == *name)
            .map(|r| r.get::<_, String>(1))
        else {
            continue;
        };
        let array = text_array(rows.iter().map(|r| r.get(i).cloned().flatten()));
        // The type name comes from the catalog; quoting an array of a
        // user-defined type is left to format_type.
        let sql = format!("SELECT $1::text::text[]::{ty}[]");
        if let Err(e) = client.query_typed(&sql, &[(&array, Type::TEXT)]).await {
            let msg = e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string());
            return Some(format!("column {} ({ty}): {msg}", quote(name)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_arrays_quote_and_escape() {
        let a = text_array([Some("a\"b".to_string()), None, Some("c\\".to_string())].into_iter());
        assert_eq!(a, r#"{"a\"b",NULL,"c\\"}"#);
    }
}
