//! Kafka Connect and Debezium types as SQL column types, and values as the
//! text the database parses.
//!
//! Every value is sent as text and typed by the server against the target
//! column (PostgreSQL: text-format bind parameters; MariaDB: quoted
//! literals), so a table created by someone else with compatible column
//! types works as well as one this sink created. The logical type (the
//! schema name) decides the text: days become `YYYY-MM-DD`, epoch
//! micros a UTC `YYYY-MM-DD HH:MM:SS.ffffff`, Decimal bytes their digits.

use sluice_api::data::decimal::unscaled_to_digits;
use sluice_api::data::{names, Schema, SchemaType, Value};
use sluice_api::java_text::civil_from_days;

use super::hints::hinted_type;
use super::url::Dialect;

const DBZ_UUID: &str = "io.debezium.data.Uuid";
const DBZ_XML: &str = "io.debezium.data.Xml";
const COLUMN_LENGTH: &str = "__debezium.source.column.length";

/// The column type a field of `schema` gets in a created table.
/// `key`: the column is part of the primary key (MariaDB cannot index TEXT
/// without a length).
pub fn column_type(schema: &Schema, dialect: Dialect, key: bool) -> Result<String, String> {
    if let Some(t) = hinted_type(schema, dialect, key) {
        return Ok(t);
    }
    match dialect {
        Dialect::Postgres => pg_type(schema),
        Dialect::MariaDb => mariadb_type(schema, key),
    }
}

fn precision(schema: &Schema) -> Option<u32> {
    schema
        .parameter("connect.decimal.precision")
        .and_then(|p| p.parse().ok())
}

fn scale(schema: &Schema) -> i32 {
    schema
        .parameter(names::DECIMAL_SCALE)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Fractional digits of a time column from its logical type.
fn time_digits(name: &str) -> u32 {
    match name {
        names::TIME | names::TIMESTAMP | names::DBZ_TIME | names::DBZ_TIMESTAMP => 3,
        _ => 6,
    }
}

fn source_length(schema: &Schema) -> Option<u32> {
    schema.parameter(COLUMN_LENGTH).and_then(|l| l.parse().ok())
}

fn pg_type(s: &Schema) -> Result<String, String> {
    if let Some(name) = s.name() {
        let t = match name {
            names::DECIMAL => match precision(s) {
                Some(p) if p > 0 && p <= 1000 => format!("numeric({p},{})", scale(s)),
                _ => "numeric".into(),
            },
            names::DBZ_VARIABLE_SCALE_DECIMAL => "numeric".into(),
            names::DATE | names::DBZ_DATE => "date".into(),
            names::TIME | names::DBZ_TIME | names::DBZ_MICRO_TIME | names::DBZ_NANO_TIME => {
                format!("time({})", time_digits(name))
            }
            names::TIMESTAMP
            | names::DBZ_TIMESTAMP
            | names::DBZ_MICRO_TIMESTAMP
            | names::DBZ_NANO_TIMESTAMP => format!("timestamp({})", time_digits(name)),
            names::DBZ_ZONED_TIMESTAMP => "timestamptz".into(),
            names::DBZ_ZONED_TIME => "timetz".into(),
            names::DBZ_YEAR => "integer".into(),
            names::DBZ_MICRO_DURATION => "interval".into(),
            names::DBZ_JSON => "jsonb".into(),
            DBZ_UUID => "uuid".into(),
            DBZ_XML => "xml".into(),
            names::DBZ_ENUM | names::DBZ_ENUM_SET => "text".into(),
            names::DBZ_BITS => match s.parameter("length").and_then(|l| l.parse::<u32>().ok()) {
                Some(n) if n > 0 => format!("bit varying({n})"),
                _ => "bit varying".into(),
            },
            names::DBZ_GEOMETRY | names::DBZ_POINT => "bytea".into(),
            _ => return pg_physical(s),
        };
        return Ok(t);
    }
    pg_physical(s)
}

fn pg_physical(s: &Schema) -> Result<String, String> {
    Ok(match s.kind {
        SchemaType::Int8 | SchemaType::Int16 => "smallint".into(),
        SchemaType::Int32 => "integer".into(),
        SchemaType::Int64 => "bigint".into(),
        SchemaType::Float32 => "real".into(),
        SchemaType::Float64 => "double precision".into(),
        SchemaType::Boolean => "boolean".into(),
        SchemaType::String => "text".into(),
        SchemaType::Bytes => "bytea".into(),
        SchemaType::Array => match &s.value_schema {
            Some(e) if e.kind.is_primitive() => format!("{}[]", pg_type(e)?),
            _ => return Err("an array of non-primitive values has no column type".into()),
        },
        SchemaType::Map | SchemaType::Struct => "jsonb".into(),
    })
}

fn mariadb_type(s: &Schema, key: bool) -> Result<String, String> {
    if let Some(name) = s.name() {
        let t = match name {
            names::DECIMAL => match precision(s) {
                Some(p) if p > 0 && p <= 65 => format!("decimal({p},{})", scale(s)),
                _ => format!("decimal(65,{})", scale(s).clamp(0, 30)),
            },
            names::DBZ_VARIABLE_SCALE_DECIMAL => "decimal(65,30)".into(),
            names::DATE | names::DBZ_DATE => "date".into(),
            names::TIME | names::DBZ_TIME | names::DBZ_MICRO_TIME | names::DBZ_NANO_TIME => {
                format!("time({})", time_digits(name))
            }
            names::TIMESTAMP
            | names::DBZ_TIMESTAMP
            | names::DBZ_MICRO_TIMESTAMP
            | names::DBZ_NANO_TIMESTAMP => format!("datetime({})", time_digits(name)),
            // MariaDB keeps no zone: the UTC instant, as Debezium's MySQL
            // dialect writes it.
            names::DBZ_ZONED_TIMESTAMP => "datetime(6)".into(),
            names::DBZ_ZONED_TIME => "time(6)".into(),
            names::DBZ_YEAR => "year".into(),
            names::DBZ_MICRO_DURATION => "bigint".into(),
            names::DBZ_JSON => "json".into(),
            DBZ_UUID => "char(36)".into(),
            names::DBZ_ENUM | names::DBZ_ENUM_SET if !key => "text".into(),
            names::DBZ_BITS => match s.parameter("length").and_then(|l| l.parse::<u32>().ok()) {
                Some(n) if n > 0 && n <= 64 => format!("bit({n})"),
                _ => "varbinary(255)".into(),
            },
            names::DBZ_GEOMETRY => "geometry".into(),
            names::DBZ_POINT => "point".into(),
            _ => return mariadb_physical(s, key),
        };
        return Ok(t);
    }
    mariadb_physical(s, key)
}

fn mariadb_physical(s: &Schema, key: bool) -> Result<String, String> {
    Ok(match s.kind {
        SchemaType::Int8 => "tinyint".into(),
        SchemaType::Int16 => "smallint".into(),
        SchemaType::Int32 => "int".into(),
        SchemaType::Int64 => "bigint".into(),
        SchemaType::Float32 => "float".into(),
        SchemaType::Float64 => "double".into(),
        SchemaType::Boolean => "boolean".into(),
        SchemaType::String => match source_length(s) {
            Some(n) if n > 0 && n <= 16383 => format!("varchar({n})"),
            _ if key => "varchar(255)".into(),
            _ => "longtext".into(),
        },
        SchemaType::Bytes if key => "varbinary(255)".into(),
        SchemaType::Bytes => "longblob".into(),
        SchemaType::Array | SchemaType::Map | SchemaType::Struct => "json".into(),
    })
}

/// The value as the text the database parses for a column of the type
/// [`column_type`] gives; `None` for NULL.
pub fn to_text(v: &Value, s: &Schema, dialect: Dialect) -> Result<Option<String>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let name = s.name().unwrap_or("");
    let wrong = || {
        format!(
            "a {} value does not fit its schema ({}{})",
            v.type_name(),
            s.kind,
            if name.is_empty() {
                String::new()
            } else {
                format!(" {name}")
            }
        )
    };
    let text = match name {
        names::DECIMAL => match v {
            Value::Bytes(b) => decimal_text(b, sane_scale(scale(s) as i64)?),
            _ => return Err(wrong()),
        },
        names::DBZ_VARIABLE_SCALE_DECIMAL => {
            let st = v.as_struct().ok_or_else(wrong)?;
            let scale = sane_scale(st.get("scale").and_then(Value::as_i64).unwrap_or(0))?;
            match st.get("value") {
                Some(Value::Bytes(b)) => decimal_text(b, scale),
                _ => return Err(wrong()),
            }
        }
        names::DATE | names::DBZ_DATE => date_text(v.as_i64().ok_or_else(wrong)?, dialect),
        names::TIME | names::DBZ_TIME => time_text(v.as_i64().ok_or_else(wrong)? * 1000)?,
        names::DBZ_MICRO_TIME => time_text(v.as_i64().ok_or_else(wrong)?)?,
        names::DBZ_NANO_TIME => time_text(v.as_i64().ok_or_else(wrong)?.div_euclid(1000))?,
        names::TIMESTAMP | names::DBZ_TIMESTAMP => {
            timestamp_text(v.as_i64().ok_or_else(wrong)? as i128 * 1000, dialect)
        }
        names::DBZ_MICRO_TIMESTAMP => {
            timestamp_text(v.as_i64().ok_or_else(wrong)? as i128, dialect)
        }
        names::DBZ_NANO_TIMESTAMP => timestamp_text(
            (v.as_i64().ok_or_else(wrong)? as i128).div_euclid(1000),
            dialect,
        ),
        names::DBZ_ZONED_TIMESTAMP if dialect == Dialect::MariaDb => {
            // 2024-01-02T03:04:05.123456Z → 2024-01-02 03:04:05.123456
            let t = v.as_str().ok_or_else(wrong)?;
            t.trim_end_matches('Z').replacen('T', " ", 1)
        }
        names::DBZ_ZONED_TIME if dialect == Dialect::MariaDb => v
            .as_str()
            .ok_or_else(wrong)?
            .trim_end_matches('Z')
            .to_string(),
        names::DBZ_MICRO_DURATION if dialect == Dialect::Postgres => {
            format!("{} microseconds", v.as_i64().ok_or_else(wrong)?)
        }
        names::DBZ_BITS => match v {
            Value::Bytes(b) => {
                let len = s
                    .parameter("length")
                    .and_then(|l| l.parse::<usize>().ok())
                    .unwrap_or(b.len() * 8);
                bits_text(b, len, dialect)
            }
            _ => return Err(wrong()),
        },
        names::DBZ_GEOMETRY | names::DBZ_POINT => {
            let st = v.as_struct().ok_or_else(wrong)?;
            let wkb = match st.get("wkb") {
                Some(Value::Bytes(b)) => b,
                _ => return Err(wrong()),
            };
            match dialect {
                Dialect::Postgres => bytes_text(wkb, dialect),
                // MariaDB has geometry: the value is the expression that
                // builds it (the MariaDB writer passes it through).
                Dialect::MariaDb => {
                    let srid = st.get("srid").and_then(Value::as_i64).unwrap_or(0);
                    format!("ST_GeomFromWKB(X'{}', {srid})", bytes_text(wkb, dialect))
                }
            }
        }
        _ => physical_text(v, s, dialect).ok_or_else(wrong)?,
    };
    Ok(Some(text))
}

fn physical_text(v: &Value, s: &Schema, dialect: Dialect) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Boolean(b) => match dialect {
            Dialect::Postgres => b.to_string(),
            Dialect::MariaDb => (*b as u8).to_string(),
        },
        Value::Int8(n) => n.to_string(),
        Value::Int16(n) => n.to_string(),
        Value::Int32(n) => n.to_string(),
        Value::Int64(n) => n.to_string(),
        Value::Float32(f) => float_text(*f as f64, Some(*f), dialect),
        Value::Float64(f) => float_text(*f, None, dialect),
        Value::String(t) => t.to_string(),
        Value::Bytes(b) => bytes_text(b, dialect),
        Value::Array(items) if dialect == Dialect::Postgres => {
            let elem = s.value_schema.as_deref()?;
            let mut out = String::from("{");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match to_text(item, elem, dialect).ok()? {
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
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => json_text(v).to_string(),
    })
}

fn json_text(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Int8(n) => J::from(*n),
        Value::Int16(n) => J::from(*n),
        Value::Int32(n) => J::from(*n),
        Value::Int64(n) => J::from(*n),
        Value::Float32(f) => J::from(*f as f64),
        Value::Float64(f) => J::from(*f),
        Value::String(s) => J::String(s.to_string()),
        Value::Bytes(b) => J::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        Value::Array(items) => J::Array(items.iter().map(json_text).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => s.to_string(),
                        other => json_text(other).to_string(),
                    };
                    (key, json_text(v))
                })
                .collect(),
        ),
        Value::Struct(st) => J::Object(
            st.schema
                .fields
                .iter()
                .map(|f| (f.name.clone(), json_text(st.get_index(f.index))))
                .collect(),
        ),
    }
}

fn float_text(f: f64, f32v: Option<f32>, dialect: Dialect) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return match (dialect, f > 0.0) {
            (Dialect::Postgres, true) => "Infinity".into(),
            (Dialect::Postgres, false) => "-Infinity".into(),
            // MariaDB has no infinities: let the server refuse the value.
            (Dialect::MariaDb, _) => "inf".into(),
        };
    }
    match f32v {
        // The shortest text that reads back as the same f32.
        Some(x) => x.to_string(),
        None => f.to_string(),
    }
}

fn bytes_text(b: &[u8], dialect: Dialect) -> String {
    let mut out = String::with_capacity(2 + b.len() * 2);
    match dialect {
        Dialect::Postgres => out.push_str("\\x"),
        Dialect::MariaDb => {}
    }
    for x in b {
        out.push_str(&format!("{x:02x}"));
    }
    out
}

/// Debezium's Bits: bit i is bit (i % 8) of byte i / 8 (little-endian).
/// PostgreSQL reads the bit string, most significant bit first; MariaDB
/// gets the number, which BIT(n) takes.
fn bits_text(b: &[u8], len: usize, dialect: Dialect) -> String {
    let bit = |i: usize| b.get(i / 8).is_some_and(|x| x >> (i % 8) & 1 == 1);
    match dialect {
        Dialect::Postgres => (0..len)
            .rev()
            .map(|i| if bit(i) { '1' } else { '0' })
            .collect(),
        Dialect::MariaDb => {
            let mut n: u64 = 0;
            for i in (0..len.min(64)).rev() {
                n = (n << 1) | bit(i) as u64;
            }
            n.to_string()
        }
    }
}

/// A decimal scale no database takes beyond ±1000 (and a bad schema must
/// not make the sink write a billion zeros).
fn sane_scale(scale: i64) -> Result<i32, String> {
    if scale.abs() > 1000 {
        return Err(format!(
            "a decimal scale of {scale} is out of range (±1000)"
        ));
    }
    Ok(scale as i32)
}

/// The digits of an unscaled two's-complement value with `scale` decimals.
pub fn decimal_text(unscaled: &[u8], scale: i32) -> String {
    let digits = unscaled_to_digits(unscaled);
    let (neg, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, digits),
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(&digits);
        for _ in 0..(-scale) {
            out.push('0');
        }
        return out;
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        out.push_str("0.");
        for _ in 0..(scale - digits.len()) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let (i, f) = digits.split_at(digits.len() - scale);
        out.push_str(i);
        out.push('.');
        out.push_str(f);
    }
    out
}

fn ymd(days: i64, dialect: Dialect) -> String {
    let (y, m, d) = civil_from_days(days);
    if y <= 0 && dialect == Dialect::Postgres {
        // Year 0 is 1 BC in PostgreSQL's calendar.
        return format!("{:04}-{m:02}-{d:02} BC", 1 - y);
    }
    format!("{y:04}-{m:02}-{d:02}")
}

fn date_text(days: i64, dialect: Dialect) -> String {
    ymd(days, dialect)
}

fn frac(micros: i64) -> String {
    if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    }
}

/// Micros since midnight as `HH:MM:SS[.ffffff]`; MySQL's TIME range
/// (-838:59:59 .. 838:59:59) is kept, for the columns that can hold it.
fn time_text(micros: i64) -> Result<String, String> {
    let neg = micros < 0;
    let m = micros.unsigned_abs() as i64;
    let secs = m / 1_000_000;
    let text = format!(
        "{}{:02}:{:02}:{:02}{}",
        if neg { "-" } else { "" },
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        frac(m % 1_000_000)
    );
    Ok(text)
}

/// Epoch micros as a UTC `YYYY-MM-DD HH:MM:SS[.ffffff]`.
fn timestamp_text(micros: i128, dialect: Dialect) -> String {
    let days = micros.div_euclid(86_400_000_000) as i64;
    let in_day = micros.rem_euclid(86_400_000_000) as i64;
    let secs = in_day / 1_000_000;
    let date = ymd(days, dialect);
    let (date, bc) = match date.strip_suffix(" BC") {
        Some(d) => (d.to_string(), " BC"),
        None => (date, ""),
    };
    format!(
        "{date} {:02}:{:02}:{:02}{}{bc}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        frac(in_day % 1_000_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::decimal::i128_to_bytes;
    use sluice_api::data::{schemas, SchemaBuilder};

    fn named(kind: fn() -> SchemaBuilder, name: &str) -> Schema {
        kind().name(name).build_schema()
    }

    #[test]
    fn decimals_keep_their_scale() {
        assert_eq!(decimal_text(&i128_to_bytes(12345), 2), "123.45");
        assert_eq!(decimal_text(&i128_to_bytes(-5), 3), "-0.005");
        assert_eq!(decimal_text(&i128_to_bytes(0), 2), "0.00");
        assert_eq!(decimal_text(&i128_to_bytes(7), 0), "7");
        assert_eq!(decimal_text(&i128_to_bytes(7), -2), "700");
    }

    #[test]
    fn temporal_values_as_text() {
        let pg = Dialect::Postgres;
        let s = named(SchemaBuilder::int32, names::DBZ_DATE);
        assert_eq!(
            to_text(&Value::Int32(19_000), &s, pg).unwrap().unwrap(),
            "2022-01-08"
        );
        assert_eq!(
            to_text(&Value::Int32(-719_528), &s, pg).unwrap().unwrap(),
            "0001-01-01 BC"
        );
        let s = named(SchemaBuilder::int64, names::DBZ_MICRO_TIMESTAMP);
        assert_eq!(
            to_text(&Value::Int64(1_641_600_000_123_456), &s, pg)
                .unwrap()
                .unwrap(),
            "2022-01-08 00:00:00.123456"
        );
        assert_eq!(
            to_text(&Value::Int64(-1), &s, pg).unwrap().unwrap(),
            "1969-12-31 23:59:59.999999"
        );
        let s = named(SchemaBuilder::int64, names::DBZ_MICRO_TIME);
        assert_eq!(
            to_text(&Value::Int64(3_723_000_001), &s, pg)
                .unwrap()
                .unwrap(),
            "01:02:03.000001"
        );
        let s = schemas::timestamp(false);
        assert_eq!(
            to_text(&Value::Int64(1_000), &s, pg).unwrap().unwrap(),
            "1970-01-01 00:00:01"
        );
        let s = named(SchemaBuilder::string, names::DBZ_ZONED_TIMESTAMP);
        let v = Value::from("2024-01-02T03:04:05.5Z");
        assert_eq!(
            to_text(&v, &s, pg).unwrap().unwrap(),
            "2024-01-02T03:04:05.5Z"
        );
        assert_eq!(
            to_text(&v, &s, Dialect::MariaDb).unwrap().unwrap(),
            "2024-01-02 03:04:05.5"
        );
    }

    #[test]
    fn bits_are_little_endian_as_debezium_writes_them() {
        let s = SchemaBuilder::bytes()
            .name(names::DBZ_BITS)
            .parameter("length", "10")
            .build_schema();
        // 0b10_0000_0011 = 515 → bytes [0x03, 0x02].
        let v = Value::Bytes(vec![0x03, 0x02]);
        assert_eq!(
            to_text(&v, &s, Dialect::Postgres).unwrap().unwrap(),
            "1000000011"
        );
        assert_eq!(to_text(&v, &s, Dialect::MariaDb).unwrap().unwrap(), "515");
        assert_eq!(
            column_type(&s, Dialect::Postgres, false).unwrap(),
            "bit varying(10)"
        );
    }

    #[test]
    fn column_types_follow_the_logical_type() {
        let pg = |s: &Schema| column_type(s, Dialect::Postgres, false).unwrap();
        assert_eq!(pg(&schemas::decimal(2, false)), "numeric");
        let d = SchemaBuilder::from_schema(&schemas::decimal(2, false))
            .parameter("connect.decimal.precision", "10")
            .build_schema();
        assert_eq!(pg(&d), "numeric(10,2)");
        assert_eq!(
            pg(&named(SchemaBuilder::int64, names::DBZ_MICRO_TIMESTAMP)),
            "timestamp(6)"
        );
        assert_eq!(
            pg(&named(SchemaBuilder::int64, names::DBZ_TIMESTAMP)),
            "timestamp(3)"
        );
        assert_eq!(pg(&named(SchemaBuilder::string, names::DBZ_JSON)), "jsonb");
        assert_eq!(pg(&named(SchemaBuilder::string, DBZ_UUID)), "uuid");
        assert_eq!(pg(&SchemaBuilder::int8().build_schema()), "smallint");
        assert_eq!(pg(&SchemaBuilder::bytes().build_schema()), "bytea");
        let m = |s: &Schema, key| column_type(s, Dialect::MariaDb, key).unwrap();
        assert_eq!(
            m(&SchemaBuilder::string().build_schema(), true),
            "varchar(255)"
        );
        assert_eq!(
            m(&SchemaBuilder::string().build_schema(), false),
            "longtext"
        );
        let g = SchemaBuilder::structure()
            .name(names::DBZ_GEOMETRY)
            .field("wkb", schemas::bytes())
            .field("srid", schemas::optional_int32())
            .build();
        assert_eq!(m(&g, false), "geometry");
        assert_eq!(column_type(&g, Dialect::Postgres, false).unwrap(), "bytea");
        let v = Value::Struct(
            sluice_api::data::Struct::new(g.clone())
                .with("wkb", Value::Bytes(vec![1, 2]))
                .with("srid", Value::Int32(4326)),
        );
        assert_eq!(
            to_text(&v, &g, Dialect::MariaDb).unwrap().unwrap(),
            "ST_GeomFromWKB(X'0102', 4326)"
        );
        assert_eq!(
            to_text(&v, &g, Dialect::Postgres).unwrap().unwrap(),
            "\\x0102"
        );
    }

    #[test]
    fn bytes_floats_and_bools() {
        let b = SchemaBuilder::bytes().build_schema();
        assert_eq!(
            to_text(&Value::Bytes(vec![0, 255]), &b, Dialect::Postgres)
                .unwrap()
                .unwrap(),
            "\\x00ff"
        );
        let f = SchemaBuilder::float32().build_schema();
        assert_eq!(
            to_text(&Value::Float32(0.1), &f, Dialect::Postgres)
                .unwrap()
                .unwrap(),
            "0.1"
        );
        let f = SchemaBuilder::float64().build_schema();
        assert_eq!(
            to_text(&Value::Float64(f64::NEG_INFINITY), &f, Dialect::Postgres)
                .unwrap()
                .unwrap(),
            "-Infinity"
        );
        let t = SchemaBuilder::boolean().build_schema();
        assert_eq!(
            to_text(&Value::Boolean(true), &t, Dialect::MariaDb)
                .unwrap()
                .unwrap(),
            "1"
        );
        assert!(to_text(&Value::Null, &t, Dialect::MariaDb)
            .unwrap()
            .is_none());
        let huge = to_text(
            &Value::Bytes(vec![1]),
            &schemas::decimal(-2_000_000_000, false),
            Dialect::Postgres,
        );
        assert!(huge.unwrap_err().contains("out of range"));
        let wrong = to_text(
            &Value::Int32(1),
            &schemas::decimal(2, false),
            Dialect::Postgres,
        );
        assert!(wrong.unwrap_err().contains("does not fit"));
    }
}
