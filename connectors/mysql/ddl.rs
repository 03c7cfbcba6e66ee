//! DDL recognition in the binlog's query events: which statements change
//! table definitions, and which tables they touch.
//!
//! Regular expressions over the statement with its comments stripped, as a
//! stopgap: a real SQL parser applied to a schema model as of each
//! statement's position is the planned replacement (it also reads
//! DDL written the way tools and dumps write it). Statements that are not
//! DDL, or DDL of things that hold no tables (GRANT, SAVEPOINT, CREATE
//! USER, CREATE TRIGGER, ...) are none of its business; a statement that
//! creates, alters, drops or renames something that may hold tables and
//! that no rule reads is [`Unparseable`], never silently passed over (the
//! tables it changes would keep their old definitions).

use regex::Regex;

/// A table reference: `t`, `db.t`, each part plain, `quoted` or "quoted"
/// (sql_mode ANSI_QUOTES; without it the server refuses such DDL, so a
/// logged one is always an identifier).
const TABLE_REF: &str = r#"(?:`(?:[^`]|``)+`|"(?:[^"]|"")+"|[\w$]+)(?:\s*\.\s*(?:`(?:[^`]|``)+`|"(?:[^"]|"")+"|[\w$]+))?"#;

fn ddl_regexes() -> &'static [Regex; 7] {
    static R: std::sync::OnceLock<[Regex; 7]> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let t = TABLE_REF;
        let re = |s: &str| Regex::new(s).expect("valid regex");
        [
            re(&format!(r"(?is)^\s*(create|alter|drop|truncate)\s+(?:or\s+replace\s+)?(?:(?:temporary|online|offline|ignore)\s+)*table\s+(?:if\s+(?:not\s+)?exists\s+)?({t}(?:\s*,\s*{t})*)")),
            re(r"(?is)^\s*rename\s+tables?\s+(.+)$"),
            re(&format!(r"(?is)^\s*(?:create|drop)\s+(?:or\s+replace\s+)?(?:(?:unique|fulltext|spatial|online|offline)\s+)*index\s+(?:if\s+(?:not\s+)?exists\s+)?\S+\s+(?:using\s+\w+\s+)?on\s+({t})")),
            re(r"(?is)^\s*(create|drop|alter)\s+(?:or\s+replace\s+)?(database|schema)\b"),
            // TRUNCATE t (TABLE is optional there).
            re(&format!(r"(?is)^\s*truncate\s+({t})\s*$")),
            // ALTER TABLE a ... RENAME [TO|AS] b (not RENAME COLUMN/INDEX/KEY).
            re(&format!(r"(?is)\brename\s+(?:(?:to|as)\s+)?({t})\s*(?:,|$)")),
            // One pair of RENAME TABLE: `a`TO`b` needs no spaces.
            re(&format!(r"(?is)^\s*({t})\s*\bto\b\s*({t})\s*$")),
        ]
    })
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    match s.as_bytes().first() {
        Some(b'"') => s.trim_matches('"').replace("\"\"", "\""),
        _ => s.trim_matches('`').replace("``", "`"),
    }
}

/// `s` split at `sep` outside quoted identifiers.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '`' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c == sep => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// `db.t`, `` `db`.`t` `` or `t` (in `default_db`).
fn table_ref(s: &str, default_db: &str) -> (String, String) {
    let s = s.trim();
    match split_outside_quotes(s, '.')[..] {
        [db, t] => (unquote(db), unquote(t)),
        _ => (default_db.to_string(), unquote(s)),
    }
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

/// A DDL statement no rule reads: what it seemed to be.
#[derive(Debug, PartialEq, Eq)]
pub struct Unparseable(pub String);

/// What comes after CREATE/ALTER/DROP and holds no tables.
const OTHER_OBJECTS: &[&str] = &[
    "view",
    "user",
    "role",
    "function",
    "procedure",
    "trigger",
    "event",
    "server",
    "sequence",
    "tablespace",
    "logfile",
    "package",
    "resource",
    "spatial",
    "instance",
    "undo",
    "aggregate",
    "definer",
    "algorithm",
    "sql",
    "or",
    "if",
];

/// Classifies a query event's statement (comments stripped): the table
/// DDL it is, `Ok(None)` if it changes no table definition, or
/// [`Unparseable`] when it looks like DDL of tables or databases that no
/// rule reads. MariaDB's `SET STATEMENT var=value[, ...] FOR <statement>`
/// is read as its statement.
pub fn classify_ddl(sql: &str, default_db: &str) -> Result<Option<Ddl>, Unparseable> {
    let sql = set_statement_inner(sql).unwrap_or(sql);
    if let Some(ddl) = parse_ddl(sql, default_db) {
        return Ok(Some(ddl));
    }
    let mut words = sql
        .split(|c: char| c.is_ascii_whitespace() || c == '(' || c == '`' || c == '=')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase);
    let Some(verb) = words.next() else {
        return Ok(None);
    };
    if !matches!(
        verb.as_str(),
        "create" | "alter" | "drop" | "rename" | "truncate"
    ) {
        return Ok(None);
    }
    // The object: the first word that is not a modifier.
    let object = words
        .find(|w| {
            !matches!(
                w.as_str(),
                "temporary"
                    | "online"
                    | "offline"
                    | "ignore"
                    | "unique"
                    | "fulltext"
                    | "or"
                    | "replace"
            )
        })
        .unwrap_or_default();
    if OTHER_OBJECTS.contains(&object.as_str()) {
        // CREATE OR REPLACE VIEW, CREATE DEFINER=... TRIGGER, DROP VIEW IF
        // EXISTS, ... and ALTER DEFINER=... VIEW: no table definition.
        // (`definer`, `algorithm`, `sql` and `if` only start views,
        // routines, triggers and events here: TABLE would have matched.)
        return Ok(None);
    }
    Err(Unparseable(format!(
        "{} {}",
        verb.to_uppercase(),
        object.to_uppercase()
    )))
}

/// Recognises the DDL that changes table definitions; `None` for other
/// statements (GRANT, SAVEPOINT, ...).
pub fn parse_ddl(sql: &str, default_db: &str) -> Option<Ddl> {
    let [table, rename, index, database, truncate, alter_rename, rename_pair] = ddl_regexes();
    if let Some(c) = table.captures(sql) {
        let kind = match c[1].to_ascii_lowercase().as_str() {
            "create" => "CREATE",
            "alter" => "ALTER",
            "drop" => "DROP",
            _ => "TRUNCATE",
        };
        let mut tables: Vec<(String, String)> = split_outside_quotes(&c[2], ',')
            .into_iter()
            .map(|t| table_ref(t, default_db))
            .collect();
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
        for pair in split_outside_quotes(&c[1], ',') {
            // A pair not read leaves the statement unread (unparseable),
            // never a rename half applied.
            let p = rename_pair.captures(pair)?;
            renamed_from.push(table_ref(&p[1], default_db));
            tables.push(table_ref(&p[1], default_db));
            tables.push(table_ref(&p[2], default_db));
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

/// A DDL statement as Debezium's schema change events name it: the
/// comments before it go (`/* gh-ost */ ALTER ...` is `ALTER ...`), those
/// inside stay (`rename /* gh-ost */ table ...`), executable comments stay.
pub fn statement_text(raw: &str) -> &str {
    let mut s = raw.trim_start();
    loop {
        if s.starts_with("/*") && !s.starts_with("/*!") && !s.starts_with("/*M!") {
            match s.find("*/") {
                Some(e) => s = s[e + 2..].trim_start(),
                None => return "",
            }
        } else if s.starts_with('#') || s.starts_with("-- ") || s.starts_with("--\n") {
            s = s.find('\n').map_or("", |e| s[e + 1..].trim_start());
        } else {
            break;
        }
    }
    // MariaDB's SET STATEMENT ... FOR <statement>: the statement.
    let s = set_statement_inner(s).unwrap_or(s);
    s.trim_end_matches(|c: char| c.is_whitespace() || c == ';')
}

/// The statement of MariaDB's `SET STATEMENT var=value[, ...] FOR <statement>`.
pub fn set_statement_inner(sql: &str) -> Option<&str> {
    static R: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = R.get_or_init(|| {
        Regex::new(r"(?is)^\s*set\s+statement\s+.+?\s+for\s+(.+)$").expect("valid regex")
    });
    re.captures(sql).and_then(|c| c.get(1)).map(|m| m.as_str())
}

/// A RENAME TABLE of several pairs as one statement per pair, the way
/// Debezium reports it (`RENAME TABLE a TO b, c TO d` is `RENAME TABLE a
/// TO b` and `RENAME TABLE c TO d`, each with the statement's own words
/// before the first pair); `None` for any other statement.
pub fn rename_pairs(text: &str) -> Option<Vec<String>> {
    static R: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re =
        R.get_or_init(|| Regex::new(r"(?is)^(rename\b.*?\btables?\s*)(.+)$").expect("valid regex"));
    let c = re.captures(text)?;
    let prefix = c.get(1)?.as_str();
    let pairs = split_outside_quotes(c.get(2)?.as_str(), ',');
    (pairs.len() > 1).then(|| {
        pairs
            .into_iter()
            .map(|pair| format!("{}{}", prefix, pair.trim()))
            .collect()
    })
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
        for sql in [
            "DROP INDEX IF EXISTS i ON t",
            "CREATE INDEX IF NOT EXISTS i ON t (a)",
            "CREATE OR REPLACE INDEX i ON t (a)",
            "CREATE UNIQUE INDEX i USING BTREE ON t (a)",
        ] {
            let d = parse_ddl(sql, "d").unwrap_or_else(|| panic!("{sql}"));
            assert!(
                d.index && d.tables == vec![("d".into(), "t".into())],
                "{sql}"
            );
        }
        assert!(
            parse_ddl("CREATE OR REPLACE DATABASE x", "")
                .unwrap()
                .database_level
        );
        assert!(parse_ddl("CREATE DATABASE x", "").unwrap().database_level);
        assert!(parse_ddl("GRANT ALL ON *.* TO x", "d").is_none());
        assert!(parse_ddl("SAVEPOINT s", "d").is_none());
    }

    #[test]
    fn classifies_what_tools_and_dumps_write() {
        let table = |sql: &str| classify_ddl(sql, "d").unwrap().unwrap();
        let d = table("CREATE OR REPLACE TABLE t (id INT)");
        assert_eq!(
            (d.kind, d.tables),
            ("CREATE", vec![("d".into(), "t".into())])
        );
        let d = table("SET STATEMENT max_statement_time=60, lock_wait_timeout=5 FOR ALTER TABLE x.t ADD c INT");
        assert_eq!(
            (d.kind, d.tables),
            ("ALTER", vec![("x".into(), "t".into())])
        );
        // gh-ost's and pt-online-schema-change's statements.
        let d = table(&strip_comments(
            "rename /* gh-ost */ table `d`.`t` to `d`.`_t_del`, `d`.`_t_gho` to `d`.`t`",
        ));
        assert_eq!(d.tables.len(), 4);
        assert_eq!(
            d.renamed_from,
            vec![("d".into(), "t".into()), ("d".into(), "_t_gho".into())]
        );
        let d = table("CREATE TABLE `d`.`_t_new` LIKE `d`.`t`");
        assert_eq!(d.tables, vec![("d".into(), "_t_new".into())]);
        let none = |sql: &str| assert_eq!(classify_ddl(sql, "d"), Ok(None), "{sql}");
        none("CREATE DEFINER=`root`@`localhost` TRIGGER `pt_osc_d_t_ins` AFTER INSERT ON `d`.`t` FOR EACH ROW REPLACE INTO `d`.`_t_new` (`id`) VALUES (NEW.`id`)");
        none("DROP TRIGGER IF EXISTS `d`.`pt_osc_d_t_del`");
        none("CREATE OR REPLACE ALGORITHM=UNDEFINED DEFINER=`u`@`%` SQL SECURITY DEFINER VIEW v AS SELECT 1");
        none("CREATE USER 'x'@'%' IDENTIFIED BY 'secret'");
        none("ALTER USER x IDENTIFIED BY 'y'");
        none("CREATE SEQUENCE s START WITH 1");
        none("DROP PROCEDURE IF EXISTS p");
        none("GRANT SELECT ON d.* TO x");
        none("SAVEPOINT s1");
        none("XA COMMIT 'a'");
        none("ANALYZE TABLE t");
        let d = table("RENAME TABLE `a`TO`b`,`c`to`d`");
        assert_eq!(
            d.tables,
            vec![
                ("d".into(), "a".into()),
                ("d".into(), "b".into()),
                ("d".into(), "c".into()),
                ("d".into(), "d".into())
            ]
        );
        let d = table("RENAME TABLE photo TO `x,y`, d2.\"q\"\"r\" TO tomato");
        assert_eq!(
            d.renamed_from,
            vec![("d".into(), "photo".into()), ("d2".into(), "q\"r".into())]
        );
        assert_eq!(d.tables[1], ("d".into(), "x,y".into()));
        let d = table("CREATE TABLE \"ansi\".\"t\" (id INT)");
        assert_eq!(d.tables, vec![("ansi".into(), "t".into())]);
        let d = table("DROP TABLE `a,b`, c");
        assert_eq!(
            d.tables,
            vec![("d".into(), "a,b".into()), ("d".into(), "c".into())]
        );
        // Looks like DDL of tables, and no rule reads it.
        assert_eq!(
            classify_ddl("RENAME TABLE a b", "d"),
            Err(Unparseable("RENAME TABLE".into()))
        );
        assert_eq!(
            classify_ddl("ALTER TABLE", "d"),
            Err(Unparseable("ALTER TABLE".into()))
        );
        assert_eq!(
            classify_ddl("CREATE GLOBAL TEMPORARY TABLE t (a INT)", "d"),
            Err(Unparseable("CREATE GLOBAL".into()))
        );
        assert_eq!(
            classify_ddl("DROP TABLES", "d"),
            Err(Unparseable("DROP TABLES".into()))
        );
    }

    #[test]
    fn statement_text_and_rename_pairs_as_debezium_names_them() {
        assert_eq!(
            statement_text("/* gh-ost */ ALTER TABLE t ADD d INT;\n"),
            "ALTER TABLE t ADD d INT"
        );
        assert_eq!(
            statement_text("-- note\n/* a */ rename /* gh-ost */ table a to b"),
            "rename /* gh-ost */ table a to b"
        );
        assert_eq!(
            statement_text("/*!40101 ALTER TABLE t ENGINE=InnoDB */"),
            "/*!40101 ALTER TABLE t ENGINE=InnoDB */"
        );
        assert_eq!(
            rename_pairs(
                "rename /* gh-ost */ table `d`.`t` to `d`.`_t_del`, `d`.`_t_gho` to `d`.`t`"
            ),
            Some(vec![
                "rename /* gh-ost */ table `d`.`t` to `d`.`_t_del`".to_string(),
                "rename /* gh-ost */ table `d`.`_t_gho` to `d`.`t`".to_string()
            ])
        );
        assert_eq!(
            rename_pairs("RENAME TABLE `a,b`TO`c`,x TO y"),
            Some(vec![
                "RENAME TABLE `a,b`TO`c`".to_string(),
                "RENAME TABLE x TO y".to_string()
            ])
        );
        assert_eq!(rename_pairs("RENAME TABLE a TO b"), None);
        assert_eq!(rename_pairs("ALTER TABLE a RENAME TO b, ADD c INT"), None);
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
