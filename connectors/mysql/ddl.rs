//! DDL recognition in the binlog's query events: which statements change
//! table definitions, and which tables they touch.
//!
//! Regular expressions over the statement with its comments stripped, as a
//! stopgap: a real SQL parser applied to a schema model as of each
//! statement's position is the planned replacement (it also reads
//! `CREATE OR REPLACE`, `SET STATEMENT ... FOR`, ...). What is not
//! recognised here is not a table DDL (GRANT, SAVEPOINT, ...).

use regex::Regex;

/// A table reference: `t`, `db.t`, each part plain or `quoted`.
const TABLE_REF: &str = r"(?:`[^`]+`|[\w$]+)(?:\s*\.\s*(?:`[^`]+`|[\w$]+))?";

fn ddl_regexes() -> &'static [Regex; 6] {
    static R: std::sync::OnceLock<[Regex; 6]> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let t = TABLE_REF;
        let re = |s: &str| Regex::new(s).expect("valid regex");
        [
            re(&format!(r"(?is)^\s*(create|alter|drop|truncate)\s+(?:(?:temporary|online|offline|ignore)\s+)*table\s+(?:if\s+(?:not\s+)?exists\s+)?({t}(?:\s*,\s*{t})*)")),
            re(r"(?is)^\s*rename\s+tables?\s+(.+)$"),
            re(&format!(r"(?is)^\s*(?:create|drop)\s+(?:unique\s+|fulltext\s+|spatial\s+)?index\s+\S+\s+on\s+({t})")),
            re(r"(?is)^\s*(create|drop|alter)\s+(database|schema)\b"),
            // TRUNCATE t (TABLE is optional there).
            re(&format!(r"(?is)^\s*truncate\s+({t})\s*$")),
            // ALTER TABLE a ... RENAME [TO|AS] b (not RENAME COLUMN/INDEX/KEY).
            re(&format!(r"(?is)\brename\s+(?:(?:to|as)\s+)?({t})\s*(?:,|$)")),
        ]
    })
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('`').replace("``", "`")
}

/// `db.t`, `` `db`.`t` `` or `t` (in `default_db`).
fn table_ref(s: &str, default_db: &str) -> (String, String) {
    let s = s.trim();
    // Split on the dot outside backticks.
    let mut in_tick = false;
    for (i, c) in s.char_indices() {
        match c {
            '`' => in_tick = !in_tick,
            '.' if !in_tick => return (unquote(&s[..i]), unquote(&s[i + 1..])),
            _ => {}
        }
    }
    (default_db.to_string(), unquote(s))
}

/// A DDL statement's kind and the tables it touches.
#[derive(Debug, PartialEq, Eq)]
pub struct Ddl {
    pub kind: &'static str,
    pub tables: Vec<(String, String)>,
    pub database_level: bool,
    /// Tables renamed away (RENAME TABLE, ALTER TABLE ... RENAME TO): in
    /// `tables` too, but the statement changes their new names.
    pub renamed_from: Vec<(String, String)>,
    /// CREATE/DROP INDEX: Debezium reports no table change for it.
    pub index: bool,
}

/// Recognises the DDL that changes table definitions; `None` for other
/// statements (GRANT, SAVEPOINT, ...).
pub fn parse_ddl(sql: &str, default_db: &str) -> Option<Ddl> {
    let [table, rename, index, database, truncate, alter_rename] = ddl_regexes();
    if let Some(c) = table.captures(sql) {
        let kind = match c[1].to_ascii_lowercase().as_str() {
            "create" => "CREATE",
            "alter" => "ALTER",
            "drop" => "DROP",
            _ => "TRUNCATE",
        };
        let mut tables: Vec<(String, String)> =
            c[2].split(',').map(|t| table_ref(t, default_db)).collect();
        let mut renamed_from = Vec::new();
        if kind == "ALTER" {
            // The new name of ALTER TABLE ... RENAME TO: both tables change.
            let rest = &sql[c.get(2).map_or(0, |m| m.end())..];
            if let Some(r) = alter_rename.captures(rest) {
                let new = r[1].to_ascii_lowercase();
                if !matches!(new.as_str(), "column" | "index" | "key") {
                    renamed_from.push(tables[0].clone());
                    tables.push(table_ref(&r[1], default_db));
                }
            }
        }
        return Some(Ddl {
            kind,
            tables,
            database_level: false,
            renamed_from,
            index: false,
        });
    }
    if let Some(c) = rename.captures(sql) {
        let mut tables = Vec::new();
        let mut renamed_from = Vec::new();
        for pair in c[1].split(',') {
            let lower = pair.to_ascii_lowercase();
            if let Some(i) = lower.find(" to ") {
                renamed_from.push(table_ref(&pair[..i], default_db));
                tables.push(table_ref(&pair[..i], default_db));
                tables.push(table_ref(&pair[i + 4..], default_db));
            }
        }
        return Some(Ddl {
            kind: "ALTER",
            tables,
            database_level: false,
            renamed_from,
            index: false,
        });
    }
    if let Some(c) = index.captures(sql) {
        return Some(Ddl {
            kind: "ALTER",
            tables: vec![table_ref(&c[1], default_db)],
            database_level: false,
            renamed_from: Vec::new(),
            index: true,
        });
    }
    if let Some(c) = truncate.captures(sql) {
        return Some(Ddl {
            kind: "TRUNCATE",
            tables: vec![table_ref(&c[1], default_db)],
            database_level: false,
            renamed_from: Vec::new(),
            index: false,
        });
    }
    if database.is_match(sql) {
        return Some(Ddl {
            kind: "DATABASE",
            tables: Vec::new(),
            database_level: true,
            renamed_from: Vec::new(),
            index: false,
        });
    }
    None
}

/// The statement without its comments, trimmed: `/* ... */`, `-- ...` and
/// `# ...` go; an executable comment (`/*!40101 ... */`, `/*M!100100 ...
/// */`) keeps its text, as the server runs it. Quoted strings and
/// identifiers are left alone.
pub fn strip_comments(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                out.push_str(&sql[last..i]);
                let end = sql[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e);
                let body = &sql[i + 2..end];
                let exec = body.strip_prefix('!').or_else(|| body.strip_prefix("M!"));
                if let Some(rest) = exec {
                    let text = rest.trim_start_matches(|c: char| c.is_ascii_digit());
                    out.push(' ');
                    out.push_str(text);
                }
                out.push(' ');
                i = (end + 2).min(b.len());
                last = i;
            }
            b'#' => {
                out.push_str(&sql[last..i]);
                i = sql[i..].find('\n').map_or(b.len(), |e| i + e);
                last = i;
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                out.push_str(&sql[last..i]);
                i = sql[i..].find('\n').map_or(b.len(), |e| i + e);
                last = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[last.min(sql.len())..]);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_table_ddl() {
        let d = parse_ddl("ALTER TABLE `inv`.`users` ADD COLUMN x INT", "other").unwrap();
        assert_eq!(
            (d.kind, d.tables),
            ("ALTER", vec![("inv".into(), "users".into())])
        );
        let d = parse_ddl("create table if not exists t1 (id int)", "inv").unwrap();
        assert_eq!(
            (d.kind, d.tables),
            ("CREATE", vec![("inv".into(), "t1".into())])
        );
        let d = parse_ddl("DROP TABLE IF EXISTS a, b.c /* generated by server */", "d").unwrap();
        assert_eq!(
            d.tables,
            vec![("d".into(), "a".into()), ("b".into(), "c".into())]
        );
        let d = parse_ddl("RENAME TABLE a TO b, x.y TO x.z", "d").unwrap();
        assert_eq!(d.tables.len(), 4);
        assert_eq!(d.tables[3], ("x".into(), "z".into()));
        let d = parse_ddl("TRUNCATE TABLE t", "d").unwrap();
        assert_eq!(d.kind, "TRUNCATE");
        let d = parse_ddl("truncate `d2`.t", "d").unwrap();
        assert_eq!(
            (d.kind, d.tables),
            ("TRUNCATE", vec![("d2".into(), "t".into())])
        );
        let d = parse_ddl("RENAME TABLE a TO b", "d").unwrap();
        assert_eq!(d.renamed_from, vec![("d".into(), "a".into())]);
        let d = parse_ddl("ALTER TABLE a RENAME TO b", "d").unwrap();
        assert_eq!(d.renamed_from, vec![("d".into(), "a".into())]);
        assert_eq!(
            (d.kind, d.tables),
            (
                "ALTER",
                vec![("d".into(), "a".into()), ("d".into(), "b".into())]
            )
        );
        let d = parse_ddl(
            "alter table `x`.a add column c int, rename as `x`.`b c`",
            "d",
        )
        .unwrap();
        assert_eq!(
            d.tables,
            vec![("x".into(), "a".into()), ("x".into(), "b c".into())]
        );
        // Renaming a column or an index renames no table.
        let d = parse_ddl("ALTER TABLE a RENAME COLUMN x TO y", "d").unwrap();
        assert_eq!(d.tables, vec![("d".into(), "a".into())]);
        let d = parse_ddl("ALTER TABLE a RENAME INDEX i TO j", "d").unwrap();
        assert_eq!(d.tables, vec![("d".into(), "a".into())]);
        let d = parse_ddl("CREATE INDEX i ON t (a)", "d").unwrap();
        assert_eq!(d.tables, vec![("d".into(), "t".into())]);
        assert!(parse_ddl("CREATE DATABASE x", "").unwrap().database_level);
        assert!(parse_ddl("GRANT ALL ON *.* TO x", "d").is_none());
        assert!(parse_ddl("SAVEPOINT s", "d").is_none());
    }

    #[test]
    fn comments_go_and_executable_comments_stay() {
        assert_eq!(
            strip_comments("/* gh-ost */ ALTER TABLE t ADD COLUMN d INT"),
            "ALTER TABLE t ADD COLUMN d INT"
        );
        assert_eq!(
            strip_comments("DROP TABLE `n` /* generated by server */"),
            "DROP TABLE `n`"
        );
        assert_eq!(
            strip_comments("/*!40101 SET NAMES utf8 */"),
            "SET NAMES utf8"
        );
        assert_eq!(
            strip_comments("CREATE TABLE t (a INT) /*M!100100 ENGINE=InnoDB */"),
            "CREATE TABLE t (a INT)   ENGINE=InnoDB"
        );
        assert_eq!(
            strip_comments("-- a note\nALTER TABLE t ADD c INT # why\n"),
            "ALTER TABLE t ADD c INT"
        );
        // Inside quotes nothing is a comment.
        assert_eq!(
            strip_comments("ALTER TABLE t ADD c VARCHAR(9) DEFAULT '/* x */ -- y'"),
            "ALTER TABLE t ADD c VARCHAR(9) DEFAULT '/* x */ -- y'"
        );
        assert_eq!(
            strip_comments("ALTER TABLE `a--b` ADD c INT"),
            "ALTER TABLE `a--b` ADD c INT"
        );
        let d = parse_ddl(
            &strip_comments("/* gh-ost */ ALTER TABLE x.t ADD d INT"),
            "o",
        )
        .unwrap();
        assert_eq!(d.tables, vec![("x".into(), "t".into())]);
        // An unterminated comment ends the statement.
        assert_eq!(strip_comments("ALTER TABLE t /* oops"), "ALTER TABLE t");
    }
}
