//! Debezium's source column hints (`column.propagate.source.type` on the
//! source connector): `__debezium.source.column.type`, `.length` and
//! `.scale` parameters on a field's schema. When present, a created column
//! takes the source's type where the target has the same one (a MySQL
//! `MEDIUMINT UNSIGNED` stays one in MariaDB, a `VARCHAR(64)` stays
//! `varchar(64)` in PostgreSQL), instead of the wider type the Kafka
//! Connect schema alone gives. Unknown or unsafe hints are ignored.

use sluice_api::data::{names, Schema, SchemaType};

use super::url::Dialect;

const TYPE: &str = "__debezium.source.column.type";
const LENGTH: &str = "__debezium.source.column.length";
const SCALE: &str = "__debezium.source.column.scale";

fn is_int(k: SchemaType) -> bool {
    matches!(
        k,
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64
    )
}

fn param(s: &Schema, key: &str) -> Option<u32> {
    s.parameter(key).and_then(|v| v.trim().parse().ok())
}

/// The column type the hints give, if they give a usable one.
pub fn hinted_type(s: &Schema, dialect: Dialect, key: bool) -> Option<String> {
    let hint = s.parameter(TYPE)?.trim().to_ascii_uppercase();
    let (base, unsigned) = match hint.strip_suffix(" UNSIGNED") {
        Some(b) => (b.trim().to_string(), true),
        None => (hint.clone(), false),
    };
    let length = param(s, LENGTH).filter(|n| *n > 0);
    let scale = param(s, SCALE);
    match dialect {
        Dialect::Postgres => postgres(s, &base, unsigned, length, scale),
        Dialect::MariaDb => mariadb(s, &base, unsigned, length, scale, key),
    }
}

fn postgres(
    s: &Schema,
    base: &str,
    unsigned: bool,
    length: Option<u32>,
    scale: Option<u32>,
) -> Option<String> {
    Some(match (base, s.kind) {
        ("VARCHAR" | "CHARACTER VARYING" | "NVARCHAR" | "VARCHAR2", SchemaType::String) => {
            format!("varchar({})", length?)
        }
        ("CHAR" | "CHARACTER" | "NCHAR" | "BPCHAR", SchemaType::String) => {
            format!("char({})", length?)
        }
        ("DECIMAL" | "NUMERIC", SchemaType::Bytes) if s.name() == Some(names::DECIMAL) => {
            let p = length.filter(|p| *p <= 1000)?;
            format!("numeric({p},{})", scale.unwrap_or(0))
        }
        // Signed integers narrower than PostgreSQL's: keep the narrowest fit.
        ("TINYINT" | "SMALLINT", k) if !unsigned && is_int(k) => "smallint".into(),
        ("MEDIUMINT", k) if is_int(k) => "integer".into(),
        (
            "UUID" | "INET" | "CIDR" | "MACADDR" | "MACADDR8" | "XML" | "CITEXT",
            SchemaType::String,
        ) => base.to_ascii_lowercase(),
        ("JSON" | "JSONB", SchemaType::String) => base.to_ascii_lowercase(),
        _ => return None,
    })
}

fn mariadb(
    s: &Schema,
    base: &str,
    unsigned: bool,
    length: Option<u32>,
    scale: Option<u32>,
    key: bool,
) -> Option<String> {
    let u = if unsigned { " unsigned" } else { "" };
    Some(match (base, s.kind) {
        ("TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "INTEGER" | "BIGINT", k) if is_int(k) => {
            format!("{}{u}", base.to_ascii_lowercase())
        }
        ("CHAR" | "VARCHAR" | "BINARY" | "VARBINARY", SchemaType::String | SchemaType::Bytes) => {
            format!(
                "{}({})",
                base.to_ascii_lowercase(),
                length.filter(|n| *n <= 65_535)?
            )
        }
        (
            "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB"
            | "LONGBLOB",
            SchemaType::String | SchemaType::Bytes,
        ) if !key => base.to_ascii_lowercase(),
        ("DECIMAL" | "NUMERIC", SchemaType::Bytes) if s.name() == Some(names::DECIMAL) => {
            let p = length.filter(|p| *p <= 65)?;
            format!("decimal({p},{}){u}", scale.unwrap_or(0).min(30))
        }
        ("FLOAT" | "DOUBLE", SchemaType::Float32 | SchemaType::Float64) => {
            format!("{}{u}", base.to_ascii_lowercase())
        }
        ("DATETIME" | "TIME", SchemaType::Int32 | SchemaType::Int64) => {
            format!(
                "{}({})",
                base.to_ascii_lowercase(),
                scale.unwrap_or(0).min(6)
            )
        }
        ("DATE", SchemaType::Int32) | ("YEAR", SchemaType::Int32) => base.to_ascii_lowercase(),
        ("JSON", SchemaType::String) => "json".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::{schemas, SchemaBuilder};

    fn hinted(b: SchemaBuilder, ty: &str, len: Option<&str>, scale: Option<&str>) -> Schema {
        let mut b = b.parameter(TYPE, ty);
        if let Some(l) = len {
            b = b.parameter(LENGTH, l);
        }
        if let Some(s) = scale {
            b = b.parameter(SCALE, s);
        }
        b.build_schema()
    }

    #[test]
    fn source_types_are_kept_where_the_target_has_them() {
        let pg = |s: &Schema| hinted_type(s, Dialect::Postgres, false);
        let my = |s: &Schema| hinted_type(s, Dialect::MariaDb, false);
        let v = hinted(SchemaBuilder::string(), "VARCHAR", Some("64"), None);
        assert_eq!(pg(&v).as_deref(), Some("varchar(64)"));
        assert_eq!(my(&v).as_deref(), Some("varchar(64)"));
        let c = hinted(SchemaBuilder::string(), "CHAR", Some("5"), None);
        assert_eq!(pg(&c).as_deref(), Some("char(5)"));
        let m = hinted(
            SchemaBuilder::int32(),
            "MEDIUMINT UNSIGNED",
            Some("8"),
            None,
        );
        assert_eq!(my(&m).as_deref(), Some("mediumint unsigned"));
        assert_eq!(pg(&m).as_deref(), Some("integer"));
        let d = SchemaBuilder::from_schema(&schemas::decimal(3, false));
        let d = hinted(d, "DECIMAL", Some("12"), Some("3"));
        assert_eq!(pg(&d).as_deref(), Some("numeric(12,3)"));
        assert_eq!(my(&d).as_deref(), Some("decimal(12,3)"));
        let t = hinted(SchemaBuilder::int64(), "DATETIME", Some("26"), Some("6"));
        assert_eq!(my(&t).as_deref(), Some("datetime(6)"));
        assert_eq!(pg(&t), None);
    }

    #[test]
    fn unusable_hints_are_ignored() {
        // A VARCHAR without a length, a TEXT in a key, an unknown type, a
        // hint that does not match the value's type.
        let v = hinted(SchemaBuilder::string(), "VARCHAR", None, None);
        assert_eq!(hinted_type(&v, Dialect::Postgres, false), None);
        let t = hinted(SchemaBuilder::string(), "TEXT", None, None);
        assert_eq!(hinted_type(&t, Dialect::MariaDb, true), None);
        let g = hinted(SchemaBuilder::bytes(), "GEOMETRY", None, None);
        assert_eq!(hinted_type(&g, Dialect::MariaDb, false), None);
        let i = hinted(SchemaBuilder::string(), "INT", None, None);
        assert_eq!(hinted_type(&i, Dialect::MariaDb, false), None);
        assert_eq!(
            hinted_type(
                &SchemaBuilder::int32().build_schema(),
                Dialect::Postgres,
                false
            ),
            None
        );
    }
}
