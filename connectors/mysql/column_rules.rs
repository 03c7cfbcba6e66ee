//! Debezium's keys that change column values and schemas, by column:
//! `column.mask.with.N.chars`, `column.truncate.to.N.chars`,
//! `column.mask.hash[.v2].ALGORITHM.with.salt.SALT` (each a comma-separated
//! list of regular expressions over `db.table.column`), and
//! `column.propagate.source.type` / `datatype.propagate.source.type`
//! (the source type as schema parameters).
//!
//! Why correct: a key Sluice did not read would send data a user asked to
//! mask in clear; so every form of these keys is read, an algorithm Sluice
//! cannot compute is refused at start, and the rules apply to snapshot and
//! streamed rows alike (in the event builder, after the type mapping).
//! Expressions match the whole name, case-insensitively, as Debezium's
//! column filters do. Masking, truncation and hashing apply to text values
//! (character columns), as Debezium's do.

use regex::Regex;
use sluice_api::data::{Schema, Value};
use sluice_api::{ConfigError, Props};
use std::sync::Arc;

/// What happens to a column's text values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Replaced by this many `*`.
    Mask(usize),
    /// Cut to at most this many characters.
    Truncate(usize),
    /// The hex digest of salt and value.
    Hash {
        algorithm: Algorithm,
        salt: String,
        v2: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    fn parse(name: &str) -> Option<Algorithm> {
        Some(match name.to_ascii_uppercase().replace('_', "-").as_str() {
            "SHA-1" | "SHA1" | "SHA" => Algorithm::Sha1,
            "SHA-256" | "SHA256" => Algorithm::Sha256,
            "SHA-384" | "SHA384" => Algorithm::Sha384,
            "SHA-512" | "SHA512" => Algorithm::Sha512,
            _ => return None,
        })
    }

    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Algorithm::Sha1 => {
                use sha1::Digest as _;
                let mut d = sha1::Sha1::new();
                for p in parts {
                    d.update(p);
                }
                d.finalize().to_vec()
            }
            Algorithm::Sha256 => run::<sha2::Sha256>(parts),
            Algorithm::Sha384 => run::<sha2::Sha384>(parts),
            Algorithm::Sha512 => run::<sha2::Sha512>(parts),
        }
    }
}

impl Rule {
    /// The schema parameter Debezium marks such a column with.
    pub fn parameter(&self) -> (&'static str, String) {
        match self {
            Rule::Truncate(n) => ("truncateLength", n.to_string()),
            Rule::Mask(_) | Rule::Hash { .. } => ("masked", "true".into()),
        }
    }

    pub fn apply(&self, v: &mut Value) {
        // A mask hides whether there was a value (Debezium masks null too).
        if let (Rule::Mask(n), Value::Null) = (self, &*v) {
            *v = Value::String("*".repeat(*n).into());
            return;
        }
        let Value::String(s) = v else {
            return;
        };
        let out: String = match self {
            Rule::Mask(n) => "*".repeat(*n),
            Rule::Truncate(n) => {
                if s.chars().count() <= *n {
                    return;
                }
                s.chars().take(*n).collect()
            }
            Rule::Hash {
                algorithm,
                salt,
                v2,
            } => {
                let digest = if *v2 {
                    algorithm.digest(&[salt.as_bytes(), s.as_bytes()])
                } else {
                    // v1 hashes the value as Java serializes a String
                    // (stream header, TC_STRING, 2-byte length, its bytes).
                    let mut ser = vec![0xac, 0xed, 0x00, 0x05, 0x74];
                    ser.extend_from_slice(&(s.len().min(u16::MAX as usize) as u16).to_be_bytes());
                    ser.extend_from_slice(s.as_bytes());
                    algorithm.digest(&[salt.as_bytes(), &ser])
                };
                digest.iter().map(|b| format!("{b:02x}")).collect()
            }
        };
        *v = Value::String(out.into());
    }
}

/// The rules of one connector.
#[derive(Debug, Clone, Default)]
pub struct ColumnRules {
    rules: Vec<(Vec<Regex>, Rule)>,
    propagate_columns: Vec<Regex>,
    propagate_types: Vec<Regex>,
}

fn patterns(key: &str, list: &str) -> Result<Vec<Regex>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            Regex::new(&format!("(?i)^(?:{p})$")).map_err(|e| {
                ConfigError::one(format!("{key}: '{p}' is not a regular expression: {e}"))
            })
        })
        .collect()
}

impl ColumnRules {
    pub fn parse(props: &Props) -> Result<ColumnRules, ConfigError> {
        let mut out = ColumnRules::default();
        let n_chars = |key: &str, rest: &str| -> Result<usize, ConfigError> {
            rest.strip_suffix(".chars")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| ConfigError::one(format!("{key}: the key must read column.mask.with.<N>.chars or column.truncate.to.<N>.chars, N a number")))
        };
        for (key, value) in props.iter() {
            let rule = if let Some(rest) = key.strip_prefix("column.mask.with.") {
                Rule::Mask(n_chars(key, rest)?)
            } else if let Some(rest) = key.strip_prefix("column.truncate.to.") {
                Rule::Truncate(n_chars(key, rest)?)
            } else if let Some(rest) = key.strip_prefix("column.mask.hash.") {
                let (v2, rest) = match rest.strip_prefix("v2.") {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                let Some((alg, salt)) = rest.split_once(".with.salt.") else {
                    return Err(ConfigError::one(format!("{key}: the key must read column.mask.hash.[v2.]<ALGORITHM>.with.salt.<SALT>")));
                };
                let algorithm = Algorithm::parse(alg).ok_or_else(|| {
                    ConfigError::one(format!("{key}: Sluice hashes with SHA-1, SHA-256, SHA-384 or SHA-512, not {alg}; choose one of them"))
                })?;
                Rule::Hash {
                    algorithm,
                    salt: salt.to_string(),
                    v2,
                }
            } else if key == "column.propagate.source.type" {
                out.propagate_columns = patterns(key, value)?;
                continue;
            } else if key == "datatype.propagate.source.type" {
                out.propagate_types = patterns(key, value)?;
                continue;
            } else {
                continue;
            };
            out.rules.push((patterns(key, value)?, rule));
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
            && self.propagate_columns.is_empty()
            && self.propagate_types.is_empty()
    }

    /// The rules of `db.table.column`, in the order they are applied:
    /// truncation before masking and hashing, as Debezium orders them.
    pub fn for_column(&self, db: &str, table: &str, column: &str) -> Vec<Rule> {
        let name = format!("{db}.{table}.{column}");
        let mut found: Vec<Rule> = self
            .rules
            .iter()
            .filter(|(ps, _)| ps.iter().any(|p| p.is_match(&name)))
            .map(|(_, r)| r.clone())
            .collect();
        found.sort_by_key(|r| !matches!(r, Rule::Truncate(_)));
        found
    }

    /// Whether the column's source type goes into its schema's parameters:
    /// named by column.propagate.source.type (`db.table.column`) or its
    /// type by datatype.propagate.source.type (`db.table.TYPE`).
    pub fn propagates(&self, db: &str, table: &str, column: &str, type_name: &str) -> bool {
        let by_column = format!("{db}.{table}.{column}");
        let by_type = format!("{db}.{table}.{type_name}");
        self.propagate_columns
            .iter()
            .any(|p| p.is_match(&by_column))
            || self
                .propagate_types
                .iter()
                .any(|p| p.is_match(&by_type) || p.is_match(type_name))
    }
}

/// `schema` with Debezium's source-type parameters.
pub fn with_source_type(
    schema: &Arc<Schema>,
    column: &str,
    type_name: &str,
    length: Option<i32>,
    scale: Option<i32>,
) -> Arc<Schema> {
    let mut s = (**schema).clone();
    s.parameters
        .insert("__debezium.source.column.type".into(), type_name.into());
    if let Some(l) = length {
        s.parameters
            .insert("__debezium.source.column.length".into(), l.to_string());
    }
    if let Some(sc) = scale {
        s.parameters
            .insert("__debezium.source.column.scale".into(), sc.to_string());
    }
    s.parameters
        .insert("__debezium.source.column.name".into(), column.into());
    Arc::new(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> Props {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_parse_into_rules() {
        let r = ColumnRules::parse(&props(&[
            ("column.mask.with.5.chars", "d.t.secret, d\\..*\\.card"),
            ("column.truncate.to.3.chars", "d.t.note"),
            ("column.mask.hash.SHA-256.with.salt.pepper", "d.t.email"),
            ("column.mask.hash.v2.SHA-512.with.salt.x.y", "d.t.mail2"),
            ("column.propagate.source.type", "d.t.note"),
            ("datatype.propagate.source.type", ".+\\.DECIMAL"),
        ]))
        .unwrap();
        assert_eq!(r.for_column("d", "T", "SECRET"), vec![Rule::Mask(5)]);
        assert_eq!(r.for_column("d", "other", "card"), vec![Rule::Mask(5)]);
        assert_eq!(r.for_column("d", "t", "secretive"), vec![]);
        assert_eq!(r.for_column("d", "t", "note"), vec![Rule::Truncate(3)]);
        assert!(
            matches!(&r.for_column("d", "t", "mail2")[0], Rule::Hash { v2: true, salt, algorithm: Algorithm::Sha512 } if salt == "x.y")
        );
        assert!(r.propagates("d", "t", "note", "VARCHAR"));
        assert!(r.propagates("d", "t", "price", "DECIMAL"));
        assert!(!r.propagates("d", "t", "price", "INT"));
        for bad in [
            ("column.mask.with.x.chars", "a.b.c"),
            ("column.mask.hash.MD5.with.salt.s", "a.b.c"),
            ("column.mask.hash.SHA-256", "a.b.c"),
            ("column.truncate.to.3.chars", "a.b.(c"),
        ] {
            let e = ColumnRules::parse(&props(&[bad])).unwrap_err().to_string();
            assert!(e.contains(bad.0), "{e}");
        }
    }

    #[test]
    fn rules_change_text_only() {
        let mut v = Value::String("hello world".into());
        Rule::Truncate(5).apply(&mut v);
        assert_eq!(v, Value::String("hello".into()));
        Rule::Mask(3).apply(&mut v);
        assert_eq!(v, Value::String("***".into()));
        let mut n = Value::Int32(7);
        Rule::Mask(3).apply(&mut n);
        assert_eq!(n, Value::Int32(7));
        let mut null = Value::Null;
        Rule::Truncate(1).apply(&mut null);
        assert_eq!(null, Value::Null);
        Rule::Mask(2).apply(&mut null);
        assert_eq!(null, Value::String("**".into()));
        let mut h = Value::String("abc".into());
        Rule::Hash {
            algorithm: Algorithm::Sha256,
            salt: "s".into(),
            v2: true,
        }
        .apply(&mut h);
        // sha256("sabc")
        assert_eq!(
            h,
            Value::String(
                "cf0bbce2b0833f47b48155c56a549459af12f1724088f0246d837ec199eb787a".into()
            )
        );
    }
}
