//! The schema model: a DDL statement applied to the table definitions in
//! force before it, giving the definitions after it, at the statement's
//! binlog position.
//!
//! Why this exists: reading a changed table's definition from
//! information_schema when the DDL is met gives today's definition. A
//! connector that lags behind two ALTERs of one table then decodes the rows
//! between them with the second one: wrong column names and signedness
//! under MariaDB's default binlog_row_metadata=NO_LOG, wrong defaults in
//! the schemas, a table created and dropped before it is read described as
//! a DROP. Debezium applies every DDL to its model at its position; so does
//! this module, for the statements that define columns and keys.
//!
//! Why correct, and what it does not do:
//! - A small tokenizer (identifiers plain, `backquoted` or "ANSI-quoted",
//!   strings with MySQL's escapes, numbers, punctuation) and a recursive
//!   reader of MySQL's and MariaDB's column-definition and ALTER TABLE
//!   grammar. Each column becomes the [`ColumnDesc`] information_schema
//!   would describe: the type as written, lower case outside quoted
//!   labels, its character set (the column's own, its collation's, the
//!   table's, the database's), octet length from the charset's widest
//!   character, fractional seconds, precision and scale, NOT NULL (primary
//!   key columns too), AUTO_INCREMENT and the default as Debezium keeps it.
//! - The primary key comes from PRIMARY KEY (table or column level); a
//!   table without one takes its first UNIQUE key of NOT NULL columns, as
//!   Debezium's model does.
//! - Whatever it does not read exactly (CREATE TABLE ... SELECT, CONVERT
//!   TO CHARACTER SET, dropping or adding an index of a table whose key may
//!   come from it, an unknown clause) is [`Unsupported`]: the caller then
//!   reads information_schema as before, so the model never guesses.
//! - Why a hand-written reader and not the sqlparser crate: MariaDB's forms
//!   (`ADD COLUMN IF NOT EXISTS`, `MODIFY IF EXISTS`, `WAIT n`, system
//!   versioning, INET6/UUID types) fall outside its MySQL dialect, and its
//!   AST would still have to be turned into information_schema's type text;
//!   the grammar read here is exactly the part that defines columns.

use super::catalog::{charset_of_collation, default_expression, ColumnDesc, TableDef};

/// A statement (or one of its clauses) the model does not read exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

type R<T> = Result<T, Unsupported>;

fn unsupported<T>(what: impl Into<String>) -> R<T> {
    Err(Unsupported(what.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An unquoted word (keyword or identifier), as written.
    Word(String),
    /// A quoted identifier, unquoted.
    Ident(String),
    /// A string literal, unescaped.
    Str(String),
    Num(String),
    /// `b'0101'`, `x'ff'`, `0xff`: kept as written.
    Bits(String),
    Punct(char),
}

fn tokenize(sql: &str) -> R<Vec<Tok>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            _ if c.is_ascii_whitespace() => i += 1,
            b'`' | b'"' => {
                let (text, next) = quoted(sql, i, c, false)?;
                out.push(Tok::Ident(text));
                i = next;
            }
            b'\'' => {
                let (text, next) = quoted(sql, i, c, true)?;
                out.push(Tok::Str(text));
                i = next;
            }
            b'0'..=b'9' | b'.' if c != b'.' || b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let start = i;
                if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'b')) {
                    i += 2;
                    while i < b.len() && b[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    out.push(Tok::Bits(sql[start..i].to_string()));
                    continue;
                }
                while i < b.len()
                    && (b[i].is_ascii_digit()
                        || b[i] == b'.'
                        || ((b[i] == b'e' || b[i] == b'E')
                            && b.get(i + 1)
                                .is_some_and(|n| n.is_ascii_digit() || *n == b'-' || *n == b'+')))
                {
                    if b[i] == b'e' || b[i] == b'E' {
                        i += 1;
                    }
                    i += 1;
                }
                out.push(Tok::Num(sql[start..i].to_string()));
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'$'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                let word = &sql[start..i];
                let lower = word.to_ascii_lowercase();
                // b'0101', x'ff', and charset introducers _utf8mb4'...', N'...'.
                if b.get(i) == Some(&b'\'') {
                    if lower == "b" || lower == "x" {
                        let (text, next) = quoted(sql, i, b'\'', true)?;
                        out.push(Tok::Bits(format!("{lower}'{text}'")));
                        i = next;
                        continue;
                    }
                    if lower == "n" || lower.starts_with('_') {
                        let (text, next) = quoted(sql, i, b'\'', true)?;
                        out.push(Tok::Str(text));
                        i = next;
                        continue;
                    }
                }
                out.push(Tok::Word(word.to_string()));
            }
            _ => {
                out.push(Tok::Punct(c as char));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// A quoted token starting at `start`: its text (doubled quotes and, for
/// strings, backslash escapes undone) and the index after it.
fn quoted(sql: &str, start: usize, q: u8, escapes: bool) -> R<(String, usize)> {
    let b = sql.as_bytes();
    let mut text = Vec::new();
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if c == q {
            if b.get(i + 1) == Some(&q) {
                text.push(q);
                i += 2;
                continue;
            }
            return Ok((String::from_utf8_lossy(&text).into_owned(), i + 1));
        }
        if escapes && c == b'\\' && i + 1 < b.len() {
            let e = b[i + 1];
            text.push(match e {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                b'Z' => 26,
                other => other,
            });
            i += 2;
            continue;
        }
        text.push(c);
        i += 1;
    }
    unsupported("an unterminated quote")
}

/// A cursor over the tokens of one statement.
struct P {
    toks: Vec<Tok>,
    at: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.at + n)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn is_word_at(&self, n: usize, w: &str) -> bool {
        matches!(self.peek_at(n), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn eat(&mut self, w: &str) -> bool {
        let yes = self.is_word(w);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn eat_all(&mut self, ws: &[&str]) -> bool {
        if ws.iter().enumerate().all(|(k, w)| self.is_word_at(k, w)) {
            self.at += ws.len();
            true
        } else {
            false
        }
    }

    /// After CONSTRAINT: the kind follows at once (no constraint name).
    fn names_a_constraint_kind(&self) -> bool {
        ["primary", "unique", "foreign", "check"]
            .iter()
            .any(|w| self.is_word(w))
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let yes = self.is_punct(c);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn expect_punct(&mut self, c: char) -> R<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            unsupported(format!("'{c}' expected"))
        }
    }

    fn done(&self) -> bool {
        self.at >= self.toks.len() || (self.is_punct(';') && self.at + 1 == self.toks.len())
    }

    /// An identifier (quoted or a plain word).
    fn ident(&mut self) -> R<String> {
        match self.next() {
            Some(Tok::Ident(s)) | Some(Tok::Word(s)) => Ok(s),
            other => unsupported(format!("an identifier expected, not {other:?}")),
        }
    }

    /// `name` or `db.name`: the last part.
    fn table_name(&mut self) -> R<(Option<String>, String)> {
        let first = self.ident()?;
        if self.eat_punct('.') {
            Ok((Some(first), self.ident()?))
        } else {
            Ok((None, first))
        }
    }

    /// Skips a balanced parenthesised group starting at `(`.
    fn skip_group(&mut self) -> R<()> {
        self.expect_punct('(')?;
        let mut depth = 1;
        while depth > 0 {
            match self.next() {
                Some(Tok::Punct('(')) => depth += 1,
                Some(Tok::Punct(')')) => depth -= 1,
                Some(_) => {}
                None => return unsupported("an unbalanced parenthesis"),
            }
        }
        Ok(())
    }

    /// Skips to the next `,` or `)` at this depth (not consuming it).
    fn skip_clause(&mut self) -> R<()> {
        loop {
            match self.peek() {
                None | Some(Tok::Punct(',')) | Some(Tok::Punct(')')) => return Ok(()),
                Some(Tok::Punct(';')) if self.at + 1 == self.toks.len() => return Ok(()),
                Some(Tok::Punct('(')) => self.skip_group()?,
                _ => self.at += 1,
            }
        }
    }

    /// `(a, b(10), c DESC)`: the column names of a key.
    fn key_columns(&mut self) -> R<Vec<String>> {
        self.expect_punct('(')?;
        let mut cols = Vec::new();
        loop {
            if self.is_punct('(') {
                return unsupported("a key on an expression");
            }
            cols.push(self.ident()?);
            if self.is_punct('(') {
                self.skip_group()?; // prefix length
            }
            while self.eat("asc") || self.eat("desc") {}
            if self.eat_punct(')') {
                return Ok(cols);
            }
            self.expect_punct(',')?;
        }
    }

    /// A literal value or simple expression, as information_schema's
    /// COLUMN_DEFAULT would show it (MariaDB): strings quoted, NULL,
    /// numbers and bit literals as written, functions by name.
    fn default_value(&mut self) -> R<String> {
        let neg = if self.eat_punct('-') {
            "-"
        } else {
            self.eat_punct('+');
            ""
        };
        Ok(match self.next() {
            Some(Tok::Str(s)) => format!("'{}'", s.replace('\'', "''")),
            Some(Tok::Num(n)) => format!("{neg}{n}"),
            Some(Tok::Bits(b)) => b,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => "1".into(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => "0".into(),
            Some(Tok::Word(w)) => {
                let lower = w.to_ascii_lowercase();
                if self.is_punct('(') {
                    let start = self.at;
                    self.skip_group()?;
                    let args: Vec<String> = self.toks[start + 1..self.at - 1]
                        .iter()
                        .map(|t| match t {
                            Tok::Num(n) => n.clone(),
                            _ => "?".into(),
                        })
                        .collect();
                    format!("{lower}({})", args.join(""))
                } else {
                    lower
                }
            }
            Some(Tok::Punct('(')) => {
                self.at -= 1;
                self.skip_group()?;
                "(expression)".into()
            }
            other => return unsupported(format!("a default of {other:?}")),
        })
    }
}

/// The widest character of a charset, in bytes (information_schema's
/// CHARACTER_OCTET_LENGTH is the length times this).
fn max_bytes(charset: &str) -> u64 {
    match charset {
        "utf8mb4" | "utf16" | "utf16le" | "utf32" | "gb18030" => 4,
        "utf8" | "utf8mb3" | "ujis" | "eucjpms" => 3,
        "ucs2" | "gbk" | "big5" | "sjis" | "cp932" | "euckr" | "gb2312" => 2,
        _ => 1,
    }
}

/// What the model needs to know around a statement.
pub struct Context<'a> {
    /// The server is MariaDB (JSON is LONGTEXT there).
    pub mariadb: bool,
    /// The database's default character set.
    pub db_charset: &'a str,
    /// The server's explicit_defaults_for_timestamp.
    pub explicit_timestamp_defaults: bool,
}

/// One column definition, after its name: the type and its attributes.
/// Returns the column and whether it declared PRIMARY KEY / UNIQUE.
fn column(
    p: &mut P,
    name: String,
    table_charset: &str,
    cx: &Context<'_>,
) -> R<(ColumnDesc, bool, bool)> {
    let Some(Tok::Word(word)) = p.next() else {
        return unsupported(format!("no type for column {name}"));
    };
    let mut base = word.to_ascii_lowercase();
    // Two-word types.
    if base == "double" && p.eat("precision") {
    } else if (base == "character" || base == "char") && p.eat("varying") {
        base = "varchar".into();
    } else if base == "national" || base == "nchar" {
        // NATIONAL CHAR[ACTER] [VARYING], NATIONAL VARCHAR, NCHAR
        // [VARYING], NCHAR VARCHAR.
        if base == "national" && !(p.eat("char") || p.eat("character") || p.eat("varchar")) {
            return unsupported(format!("NATIONAL without a type for column {name}"));
        }
        let varying = p.eat("varying")
            || p.eat("varchar")
            || matches!(p.toks.get(p.at - 1), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("varchar"));
        base = if varying {
            "varchar".into()
        } else {
            "char".into()
        };
    } else if base == "long" {
        base = if p.eat("varbinary") {
            "mediumblob".into()
        } else {
            p.eat("varchar");
            "mediumtext".into()
        };
    }
    let national = word.eq_ignore_ascii_case("national")
        || word.eq_ignore_ascii_case("nchar")
        || word.eq_ignore_ascii_case("nvarchar");
    let mut data_type = match base.as_str() {
        "integer" | "int4" => "int",
        "int1" => "tinyint",
        "int2" => "smallint",
        "int3" | "middleint" => "mediumint",
        "int8" => "bigint",
        "bool" | "boolean" => "tinyint",
        "dec" | "numeric" | "fixed" => "decimal",
        "real" | "float8" | "double" => "double",
        "float4" => "float",
        "character" | "nchar" => "char",
        "nvarchar" => "varchar",
        "serial" => "bigint",
        other => other,
    }
    .to_string();
    const KNOWN: &[&str] = &[
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "bigint",
        "decimal",
        "float",
        "double",
        "bit",
        "date",
        "time",
        "datetime",
        "timestamp",
        "year",
        "char",
        "varchar",
        "binary",
        "varbinary",
        "tinytext",
        "text",
        "mediumtext",
        "longtext",
        "tinyblob",
        "blob",
        "mediumblob",
        "longblob",
        "enum",
        "set",
        "json",
        "uuid",
        "inet4",
        "inet6",
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
    ];
    if !KNOWN.contains(&data_type.as_str()) {
        return unsupported(format!("the type {word} of column {name}"));
    }
    // Parameters: numbers, or ENUM/SET labels.
    let mut nums: Vec<u64> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    if p.eat_punct('(') {
        loop {
            match p.next() {
                Some(Tok::Num(n)) => nums.push(
                    n.parse()
                        .map_err(|_| Unsupported(format!("a type parameter {n}")))?,
                ),
                // The server strips an ENUM/SET label's trailing spaces.
                Some(Tok::Str(s)) => labels.push(s.trim_end_matches(' ').to_string()),
                other => return unsupported(format!("a type parameter {other:?}")),
            }
            if p.eat_punct(')') {
                break;
            }
            p.expect_punct(',')?;
        }
    }
    // TEXT(n), BLOB(n): sized after the charset is known (n characters).
    let sized_text = (data_type == "text" || data_type == "blob") && !nums.is_empty();
    if sized_text && data_type == "blob" {
        let n = nums[0];
        let size = if n < 256 {
            "tiny"
        } else if n < 65536 {
            ""
        } else if n < 1 << 24 {
            "medium"
        } else {
            "long"
        };
        data_type = format!("{size}{data_type}");
        nums.clear();
    }
    if data_type == "float" && nums.len() == 1 && nums[0] > 24 {
        data_type = "double".into();
        nums.clear();
    }
    let (mut unsigned, mut zerofill, mut charset, mut collation) =
        (false, false, None::<String>, None::<String>);
    loop {
        if p.eat("unsigned") {
            unsigned = true;
        } else if p.eat("signed") {
        } else if p.eat("zerofill") {
            zerofill = true;
            unsigned = true;
        } else if p.eat_all(&["character", "set"]) || p.eat("charset") {
            charset = Some(p.ident()?.to_ascii_lowercase());
        } else if p.eat("collate") {
            collation = Some(p.ident()?.to_ascii_lowercase());
        } else if p.eat("binary") {
            // A binary collation of the column's charset: no new charset.
        } else if p.eat("ascii") {
            charset = Some("latin1".into());
        } else if p.eat("unicode") {
            charset = Some("ucs2".into());
        } else {
            break;
        }
    }
    if sized_text && data_type == "text" {
        let bytes = nums[0]
            * charset
                .as_deref()
                .or_else(|| {
                    collation
                        .as_deref()
                        .map(|c| c.split('_').next().unwrap_or(c))
                })
                .map_or(max_bytes(table_charset), max_bytes);
        let size = if bytes < 256 {
            "tiny"
        } else if bytes < 65536 {
            ""
        } else if bytes < 1 << 24 {
            "medium"
        } else {
            "long"
        };
        data_type = format!("{size}text");
        nums.clear();
    }
    let is_json = data_type == "json";
    if is_json && cx.mariadb {
        data_type = "longtext".into();
        charset.get_or_insert_with(|| "utf8mb4".into());
    }
    let textual = matches!(
        data_type.as_str(),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
    );
    let charset = if textual {
        Some(
            charset
                .or_else(|| collation.as_deref().map(charset_of_collation))
                .or_else(|| national.then(|| "utf8mb3".to_string()))
                .unwrap_or_else(|| table_charset.to_string()),
        )
    } else {
        None
    };
    let mut column_type = data_type.clone();
    if base == "bool" || base == "boolean" {
        column_type = "tinyint(1)".into();
    } else if !labels.is_empty() {
        let quoted: Vec<String> = labels
            .iter()
            .map(|l| format!("'{}'", l.replace('\'', "''")))
            .collect();
        column_type = format!("{data_type}({})", quoted.join(","));
    } else if !nums.is_empty() {
        let n: Vec<String> = nums.iter().map(u64::to_string).collect();
        column_type = format!("{data_type}({})", n.join(","));
    }
    if unsigned
        && matches!(
            data_type.as_str(),
            "tinyint"
                | "smallint"
                | "mediumint"
                | "int"
                | "bigint"
                | "decimal"
                | "float"
                | "double"
        )
    {
        column_type.push_str(" unsigned");
    }
    if zerofill {
        column_type.push_str(" zerofill");
    }
    let first = nums.first().copied();
    let mut desc = ColumnDesc {
        name,
        column_type,
        data_type: data_type.clone(),
        nullable: true,
        is_json,
        ..Default::default()
    };
    match data_type.as_str() {
        "decimal" => {
            desc.precision = Some(first.unwrap_or(10));
            desc.scale = Some(nums.get(1).copied().unwrap_or(0));
        }
        "bit" => desc.precision = Some(first.unwrap_or(1)),
        "time" | "datetime" | "timestamp" => desc.fsp = Some(first.unwrap_or(0)),
        "char" | "varchar" => {
            desc.octets = Some(first.unwrap_or(1) * max_bytes(charset.as_deref().unwrap_or("")))
        }
        "binary" | "varbinary" => desc.octets = Some(first.unwrap_or(1)),
        _ => {}
    }
    if data_type == "varchar" && first.is_none() || data_type == "varbinary" && first.is_none() {
        return unsupported(format!(
            "{data_type} without a length for column {}",
            desc.name
        ));
    }
    desc.charset = charset;
    if base == "serial" {
        desc.column_type = "bigint unsigned".into();
        desc.nullable = false;
        desc.auto_increment = true;
    }
    // SERIAL: BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE.
    let (mut primary, mut unique) = (false, base == "serial");
    let mut null_said = base == "serial";
    let mut default_raw: Option<String> = None;
    loop {
        if p.eat_all(&["not", "null"]) {
            desc.nullable = false;
            null_said = true;
        } else if p.eat("null") {
            desc.nullable = true;
            null_said = true;
        } else if p.eat("default") {
            default_raw = Some(p.default_value()?);
            null_said = true;
        } else if p.eat("auto_increment") {
            desc.auto_increment = true;
        } else if p.eat_all(&["primary", "key"]) {
            primary = true;
        } else if p.eat("unique") {
            p.eat("key");
            unique = true;
        } else if p.eat("key") {
            primary = true;
        } else if p.eat("comment") {
            p.next();
        } else if p.eat_all(&["on", "update"]) {
            p.default_value()?;
        } else if p.eat("collate") {
            let c = p.ident()?.to_ascii_lowercase();
            if textual {
                desc.charset = Some(charset_of_collation(&c));
            }
        } else if p.eat_all(&["character", "set"]) || p.eat("charset") {
            let c = p.ident()?.to_ascii_lowercase();
            if textual {
                desc.charset = Some(c);
            }
        } else if p.eat("invisible") || p.eat("visible") || p.eat("compressed") {
        } else if p.eat("column_format") || p.eat("storage") {
            p.next();
        } else if p.is_word("generated") || p.is_word("as") {
            return unsupported(format!("the generated column {}", desc.name));
        } else if p.eat("check") {
            // MariaDB's JSON alias is LONGTEXT CHECK (json_valid(col)).
            let start = p.at;
            p.skip_group()?;
            let inner = &p.toks[start..p.at];
            if matches!(inner.get(1), Some(Tok::Word(f)) if f.eq_ignore_ascii_case("json_valid"))
                && matches!(inner.get(3), Some(Tok::Word(c) | Tok::Ident(c)) if c.eq_ignore_ascii_case(&desc.name))
            {
                desc.is_json = true;
            }
        } else if p.eat("constraint") {
            // CONSTRAINT [name] CHECK (...): the check follows.
            if !p.is_word("check") {
                p.ident()?;
            }
        } else if p.is_word("references") {
            return unsupported(format!("the inline REFERENCES of column {}", desc.name));
        } else if p.eat_all(&["serial", "default", "value"]) {
            desc.nullable = false;
            desc.auto_increment = true;
            unique = true;
        } else {
            break;
        }
    }
    if let Some(c) = desc.charset.as_deref() {
        if matches!(data_type.as_str(), "char" | "varchar") {
            desc.octets = Some(first.unwrap_or(1) * max_bytes(c));
        }
    }
    if primary {
        desc.nullable = false;
    }
    // A TIMESTAMP without NULL, NOT NULL or DEFAULT depends on the server's
    // explicit_defaults_for_timestamp (OFF: NOT NULL, and the first one
    // defaults to CURRENT_TIMESTAMP).
    if data_type == "timestamp" && !null_said && !primary && !cx.explicit_timestamp_defaults {
        return unsupported(format!(
            "TIMESTAMP column {} under explicit_defaults_for_timestamp=OFF",
            desc.name
        ));
    }
    desc.default = match default_raw {
        Some(raw) if !raw.eq_ignore_ascii_case("null") => default_expression(Some(&raw)),
        _ => None,
    };
    Ok((desc, primary, unique))
}

/// A table being defined or altered.
struct Table {
    def: TableDef,
    /// Whether `def.primary_key` is a declared PRIMARY KEY (not a UNIQUE
    /// key taken in its place).
    declared_pk: bool,
    /// UNIQUE keys in declaration order (for a table without a primary key).
    uniques: Vec<Vec<String>>,
    /// Whether `declared_pk` and `uniques` are known: a table defined by
    /// this statement. A definition from the history has a key but not
    /// whether it is declared or a UNIQUE index taken in its place.
    key_known: bool,
}

impl Table {
    fn charset(&self, cx: &Context<'_>) -> String {
        self.def
            .charset
            .clone()
            .unwrap_or_else(|| cx.db_charset.to_string())
    }

    fn col(&self, name: &str) -> Option<usize> {
        self.def
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Places a column FIRST, AFTER another, or last.
    fn place(&mut self, p: &mut P, col: ColumnDesc, at: Option<usize>) -> R<()> {
        let idx = if p.eat("first") {
            0
        } else if p.eat("after") {
            let after = p.ident()?;
            let Some(i) = self.col(&after) else {
                return unsupported(format!("AFTER {after}: no such column"));
            };
            i + 1
        } else {
            at.unwrap_or(self.def.columns.len())
        };
        self.def
            .columns
            .insert(idx.min(self.def.columns.len()), col);
        Ok(())
    }

    fn key_from_uniques(&mut self) {
        if self.declared_pk {
            return;
        }
        let cols = &self.def.columns;
        self.def.primary_key = self
            .uniques
            .iter()
            .find(|k| {
                k.iter().all(|n| {
                    cols.iter()
                        .any(|c| c.name.eq_ignore_ascii_case(n) && !c.nullable)
                })
            })
            .cloned()
            .unwrap_or_default();
    }

    fn set_pk(&mut self, cols: Vec<String>) -> R<()> {
        for n in &cols {
            let Some(i) = self.col(n) else {
                return unsupported(format!("PRIMARY KEY on a missing column {n}"));
            };
            self.def.columns[i].nullable = false;
        }
        self.def.primary_key = cols;
        self.declared_pk = true;
        Ok(())
    }
}

/// Reads `( element, ... )` of CREATE TABLE into `t`.
fn create_elements(p: &mut P, t: &mut Table, cx: &Context<'_>) -> R<()> {
    p.expect_punct('(')?;
    let mut pk_cols: Option<Vec<String>> = None;
    loop {
        if p.eat("constraint") && !p.names_a_constraint_kind() {
            p.ident()?; // the constraint's name
        }
        if p.eat_all(&["primary", "key"]) {
            p.eat("using").then(|| p.next());
            if !p.is_punct('(') {
                p.ident()?;
            }
            pk_cols = Some(p.key_columns()?);
            p.skip_clause()?;
        } else if p.eat("unique") {
            let _ = p.eat("key") || p.eat("index");
            if !p.is_punct('(') {
                p.ident()?;
            }
            t.uniques.push(p.key_columns()?);
            p.skip_clause()?;
        } else if p.is_word("key")
            || p.is_word("index")
            || p.is_word("fulltext")
            || p.is_word("spatial")
            || p.is_word("foreign")
            || p.is_word("check")
            || (p.is_word("period") && p.is_word_at(1, "for"))
        {
            p.skip_clause()?;
        } else {
            let name = p.ident()?;
            let charset = t.charset(cx);
            let (col, primary, unique) = column(p, name, &charset, cx)?;
            if primary {
                pk_cols = Some(vec![col.name.clone()]);
            } else if unique {
                t.uniques.push(vec![col.name.clone()]);
            }
            t.def.columns.push(col);
            p.skip_clause()?;
        }
        if p.eat_punct(')') {
            break;
        }
        p.expect_punct(',')?;
    }
    if let Some(cols) = pk_cols {
        t.set_pk(cols)?;
    }
    t.key_from_uniques();
    Ok(())
}

/// Table options after CREATE TABLE's elements: the default charset.
fn table_options(p: &mut P, t: &mut Table) -> R<()> {
    while !p.done() {
        p.eat("default");
        if p.eat_all(&["character", "set"]) || p.eat("charset") {
            p.eat_punct('=');
            t.def.charset = Some(p.ident()?.to_ascii_lowercase());
        } else if p.eat("collate") {
            p.eat_punct('=');
            let c = p.ident()?.to_ascii_lowercase();
            t.def.charset = Some(charset_of_collation(&c));
        } else if p.is_word("as")
            || p.is_word("select")
            || p.is_word("ignore")
            || p.is_word("replace")
        {
            return unsupported("CREATE TABLE ... SELECT");
        } else if p.eat("partition") {
            return Ok(()); // partitioning defines no columns
        } else {
            p.next();
        }
        p.eat_punct(',');
    }
    Ok(())
}

/// One ALTER TABLE clause applied to `t`; `Ok(Some(name))` for RENAME TO.
fn alter_clause(p: &mut P, t: &mut Table, cx: &Context<'_>) -> R<Option<String>> {
    if p.eat("add") {
        if p.eat("constraint") && !p.names_a_constraint_kind() {
            p.ident()?;
        }
        if p.eat_all(&["primary", "key"]) {
            if !p.is_punct('(') {
                p.ident()?;
            }
            let cols = p.key_columns()?;
            t.set_pk(cols)?;
            p.skip_clause()?;
            return Ok(None);
        }
        if p.eat("unique") {
            let _ = p.eat("key") || p.eat("index");
            p.eat_all(&["if", "not", "exists"]);
            if !p.is_punct('(') {
                p.ident()?;
            }
            let cols = p.key_columns()?;
            t.uniques.push(cols);
            t.key_from_uniques();
            p.skip_clause()?;
            return Ok(None);
        }
        if [
            "key",
            "index",
            "fulltext",
            "spatial",
            "foreign",
            "check",
            "partition",
        ]
        .iter()
        .any(|w| p.is_word(w))
            || p.is_word("period") && p.is_word_at(1, "for")
            || p.is_word("system") && p.is_word_at(1, "versioning")
        {
            p.skip_clause()?;
            return Ok(None);
        }
        p.eat("column");
        let if_not_exists = p.eat_all(&["if", "not", "exists"]);
        let charset = t.charset(cx);
        let add = |p: &mut P, t: &mut Table| -> R<()> {
            let name = p.ident()?;
            let (col, primary, unique) = column(p, name, &charset, cx)?;
            if if_not_exists && t.col(&col.name).is_some() {
                p.skip_clause()?;
                return Ok(());
            }
            if t.col(&col.name).is_some() {
                return unsupported(format!("ADD COLUMN {} that exists", col.name));
            }
            let name = col.name.clone();
            t.place(p, col, None)?;
            if primary {
                t.set_pk(vec![name])?;
            } else if unique {
                t.uniques.push(vec![name]);
                t.key_from_uniques();
            }
            Ok(())
        };
        if p.eat_punct('(') {
            loop {
                add(p, t)?;
                p.skip_clause()?;
                if p.eat_punct(')') {
                    break;
                }
                p.expect_punct(',')?;
            }
        } else {
            add(p, t)?;
        }
        return Ok(None);
    }
    if p.eat("drop") {
        if p.eat_all(&["primary", "key"]) {
            t.def.primary_key.clear();
            t.declared_pk = false;
            t.key_from_uniques();
            return Ok(None);
        }
        if p.is_word("index") || p.is_word("key") || p.is_word("constraint") {
            // The dropped index may be the UNIQUE key taken as the table's
            // key: not guessed unless the key is known to be declared.
            if !t.key_known || (!t.declared_pk && !t.uniques.is_empty()) {
                return unsupported(
                    "DROP INDEX/CONSTRAINT of a table whose key may be a UNIQUE index",
                );
            }
            p.skip_clause()?;
            return Ok(None);
        }
        if ["foreign", "check", "partition"]
            .iter()
            .any(|w| p.is_word(w))
            || p.is_word("period") && p.is_word_at(1, "for")
            || p.is_word("system") && p.is_word_at(1, "versioning")
        {
            p.skip_clause()?;
            return Ok(None);
        }
        p.eat("column");
        let if_exists = p.eat_all(&["if", "exists"]);
        let name = p.ident()?;
        match t.col(&name) {
            Some(i) => {
                t.def.columns.remove(i);
                t.def.primary_key.retain(|k| !k.eq_ignore_ascii_case(&name));
                t.uniques
                    .retain(|k| !k.iter().any(|c| c.eq_ignore_ascii_case(&name)));
            }
            None if if_exists => {}
            None => return unsupported(format!("DROP COLUMN {name}: no such column")),
        }
        let _ = p.eat("restrict") || p.eat("cascade");
        return Ok(None);
    }
    let change = p.eat("change");
    if change || p.eat("modify") {
        p.eat("column");
        let if_exists = p.eat_all(&["if", "exists"]);
        let old = if change { Some(p.ident()?) } else { None };
        let new_name = p.ident()?;
        let old_name = old.unwrap_or_else(|| new_name.clone());
        let Some(i) = t.col(&old_name) else {
            if if_exists {
                p.skip_clause()?;
                return Ok(None);
            }
            return unsupported(format!(
                "{} {old_name}: no such column",
                if change { "CHANGE" } else { "MODIFY" }
            ));
        };
        let charset = t.charset(cx);
        let (mut col, primary, unique) = column(p, new_name.clone(), &charset, cx)?;
        let in_pk = t
            .def
            .primary_key
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&old_name));
        if in_pk {
            if col.nullable && !t.key_known {
                return unsupported(format!(
                    "{old_name} made nullable while its key may be a UNIQUE index"
                ));
            }
            col.nullable = false;
        }
        t.def.columns.remove(i);
        t.place(p, col, Some(i))?;
        for k in t
            .def
            .primary_key
            .iter_mut()
            .chain(t.uniques.iter_mut().flatten())
        {
            if k.eq_ignore_ascii_case(&old_name) {
                *k = new_name.clone();
            }
        }
        if primary {
            t.set_pk(vec![new_name])?;
        } else if unique {
            t.uniques.push(vec![new_name]);
        }
        t.key_from_uniques();
        return Ok(None);
    }
    if p.eat("rename") {
        if p.eat("column") {
            let old = p.ident()?;
            if !p.eat("to") {
                return unsupported("RENAME COLUMN without TO");
            }
            let new = p.ident()?;
            let Some(i) = t.col(&old) else {
                return unsupported(format!("RENAME COLUMN {old}: no such column"));
            };
            t.def.columns[i].name = new.clone();
            for k in t
                .def
                .primary_key
                .iter_mut()
                .chain(t.uniques.iter_mut().flatten())
            {
                if k.eq_ignore_ascii_case(&old) {
                    *k = new.clone();
                }
            }
            return Ok(None);
        }
        if p.is_word("index") || p.is_word("key") {
            p.skip_clause()?;
            return Ok(None);
        }
        let _ = p.eat("to") || p.eat("as");
        let (_, name) = p.table_name()?;
        return Ok(Some(name));
    }
    if p.eat("alter") {
        p.eat("column");
        let name = p.ident()?;
        let Some(i) = t.col(&name) else {
            return unsupported(format!("ALTER COLUMN {name}: no such column"));
        };
        if p.eat_all(&["set", "default"]) {
            let raw = p.default_value()?;
            t.def.columns[i].default = default_expression(Some(&raw));
        } else if p.eat_all(&["drop", "default"]) {
            t.def.columns[i].default = None;
        } else {
            p.skip_clause()?;
        }
        return Ok(None);
    }
    if p.is_word("convert") {
        return unsupported("CONVERT TO CHARACTER SET");
    }
    p.eat("default");
    if p.eat_all(&["character", "set"]) || p.eat("charset") {
        p.eat_punct('=');
        // A new table default changes no existing column.
        t.def.charset = Some(p.ident()?.to_ascii_lowercase());
        p.skip_clause()?;
        return Ok(None);
    }
    if p.eat("collate") {
        p.eat_punct('=');
        let c = p.ident()?.to_ascii_lowercase();
        t.def.charset = Some(charset_of_collation(&c));
        return Ok(None);
    }
    // Table options and clauses that define no column.
    const OPTIONS: &[&str] = &[
        "engine",
        "auto_increment",
        "comment",
        "row_format",
        "key_block_size",
        "algorithm",
        "lock",
        "force",
        "avg_row_length",
        "checksum",
        "max_rows",
        "min_rows",
        "pack_keys",
        "stats_auto_recalc",
        "stats_persistent",
        "stats_sample_pages",
        "page_checksum",
        "transactional",
        "enable",
        "disable",
        "discard",
        "import",
        "order",
        "remove",
        "coalesce",
        "reorganize",
        "analyze",
        "check",
        "optimize",
        "rebuild",
        "repair",
        "truncate",
        "exchange",
        "partition",
        "with",
        "without",
        "encrypted",
        "encryption_key_id",
        "page_compressed",
        "page_compression_level",
        "data",
        "index",
        "delay_key_write",
        "insert_method",
        "union",
        "connection",
        "password",
        "compression",
        "tablespace",
        "storage",
        "secondary_engine",
        "ietf_quotes",
        "sequence",
    ];
    if OPTIONS.iter().any(|w| p.is_word(w)) {
        p.skip_clause()?;
        return Ok(None);
    }
    unsupported(format!("the ALTER TABLE clause {:?}", p.peek()))
}

/// What one table-defining statement makes of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The table's definition after the statement (with its new name).
    Defined(TableDef),
    /// CREATE TABLE new LIKE source: the source's definition is needed.
    Like { db: Option<String>, table: String },
    /// CREATE TABLE IF NOT EXISTS of a table that exists: no change.
    Unchanged,
}

fn start(def: Option<&TableDef>, db: &str, table: &str) -> Table {
    let mut def = def.cloned().unwrap_or_default();
    def.db = db.to_string();
    def.table = table.to_string();
    Table {
        // A table the model did not define: its key is taken as declared
        // when it has one (information_schema's key is the declared one,
        // or a UNIQUE key with no way to tell; the latter makes DROP INDEX
        // unsupported below only when uniques are known).
        declared_pk: !def.primary_key.is_empty(),
        key_known: def.primary_key.is_empty(),
        def,
        uniques: Vec::new(),
    }
}

/// Applies CREATE TABLE or ALTER TABLE (comments stripped) to `prev`, the
/// definition of `db`.`table` just before it (`None`: not known to exist).
pub fn apply(
    sql: &str,
    db: &str,
    table: &str,
    prev: Option<&TableDef>,
    cx: &Context<'_>,
) -> R<Outcome> {
    let mut p = P {
        toks: tokenize(sql)?,
        at: 0,
    };
    if p.eat("create") {
        p.eat_all(&["or", "replace"]);
        if p.eat("temporary") {
            return unsupported("CREATE TEMPORARY TABLE");
        }
        if !p.eat("table") {
            return unsupported("CREATE of something other than a table");
        }
        let if_not_exists = p.eat_all(&["if", "not", "exists"]);
        p.table_name()?;
        if if_not_exists && prev.is_some() {
            return Ok(Outcome::Unchanged);
        }
        if p.eat("like") || (p.is_punct('(') && p.is_word_at(1, "like")) {
            let paren = p.eat_punct('(');
            p.eat("like");
            let (sdb, st) = p.table_name()?;
            if paren {
                p.expect_punct(')')?;
            }
            return Ok(Outcome::Like { db: sdb, table: st });
        }
        let mut t = start(None, db, table);
        t.def.charset = None;
        // The table's default charset comes after its columns: read the
        // options first, then the columns with it.
        let elements_at = p.at;
        if p.is_punct('(') {
            p.skip_group()?;
        } else {
            return unsupported("CREATE TABLE without a column list");
        }
        table_options(&mut p, &mut t)?;
        p.at = elements_at;
        create_elements(&mut p, &mut t, cx)?;
        t.def
            .charset
            .get_or_insert_with(|| cx.db_charset.to_string());
        return Ok(Outcome::Defined(t.def));
    }
    if p.eat("alter") {
        let _ = p.eat("online") || p.eat("offline");
        p.eat("ignore");
        if !p.eat("table") {
            return unsupported("ALTER of something other than a table");
        }
        p.eat_all(&["if", "exists"]);
        p.table_name()?;
        // MariaDB: WAIT n / NOWAIT before the clauses.
        if p.eat("wait") {
            p.next();
        } else {
            p.eat("nowait");
        }
        let Some(prev) = prev else {
            return unsupported("ALTER TABLE of a table the model does not know");
        };
        let mut t = start(Some(prev), db, table);
        // A new table charset applies to every column the statement adds
        // or redefines, whatever the clause order: read it first.
        let clauses_at = p.at;
        let mut at_clause_start = true;
        let mut depth = 0;
        while let Some(tok) = p.peek().cloned() {
            match tok {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => depth -= 1,
                Tok::Punct(',') if depth == 0 => {
                    at_clause_start = true;
                    p.at += 1;
                    continue;
                }
                _ if at_clause_start && depth == 0 => {
                    p.eat("default");
                    if p.eat_all(&["character", "set"]) || p.eat("charset") {
                        p.eat_punct('=');
                        t.def.charset = Some(p.ident()?.to_ascii_lowercase());
                    } else if p.eat("collate") {
                        p.eat_punct('=');
                        t.def.charset =
                            Some(charset_of_collation(&p.ident()?.to_ascii_lowercase()));
                    }
                    at_clause_start = false;
                    continue;
                }
                _ => {}
            }
            at_clause_start = false;
            p.at += 1;
        }
        p.at = clauses_at;
        let mut renamed = None;
        if p.done() {
            return Ok(Outcome::Defined(t.def));
        }
        loop {
            if let Some(name) = alter_clause(&mut p, &mut t, cx)? {
                renamed = Some(name);
            }
            if p.done() {
                break;
            }
            if !p.eat_punct(',') {
                return unsupported(format!("after an ALTER TABLE clause: {:?}", p.peek()));
            }
        }
        if let Some(name) = renamed {
            t.def.table = name;
        }
        return Ok(Outcome::Defined(t.def));
    }
    unsupported("not CREATE TABLE or ALTER TABLE")
}

/// CREATE/ALTER/DROP DATABASE: the database and its default charset after
/// the statement (`None`: dropped, or not said: read it again).
pub fn database_charset(sql: &str, session_db: &str) -> Option<(String, Option<String>)> {
    let mut p = P {
        toks: tokenize(sql).ok()?,
        at: 0,
    };
    let drop = p.eat("drop");
    if !drop && !p.eat("create") && !p.eat("alter") {
        return None;
    }
    p.eat_all(&["or", "replace"]);
    if !(p.eat("database") || p.eat("schema")) {
        return None;
    }
    let _ = p.eat_all(&["if", "not", "exists"]) || p.eat_all(&["if", "exists"]);
    let named = !(p.is_word("default")
        || p.is_word("character")
        || p.is_word("charset")
        || p.is_word("collate")
        || p.done());
    let db = if named {
        p.ident().ok()?
    } else {
        session_db.to_string()
    };
    if drop {
        return Some((db, None));
    }
    let mut charset = None;
    while !p.done() {
        if p.eat_all(&["character", "set"]) || p.eat("charset") {
            p.eat_punct('=');
            charset = p.ident().ok().map(|c| c.to_ascii_lowercase());
        } else if p.eat("collate") {
            p.eat_punct('=');
            if charset.is_none() {
                charset = p
                    .ident()
                    .ok()
                    .map(|c| charset_of_collation(&c.to_ascii_lowercase()));
            }
        } else {
            p.next();
        }
    }
    Some((db, charset))
}

/// Tables and what a statement leaves of them (`None`: gone), in order.
pub type Defined = Vec<((String, String), Option<TableDef>)>;

/// The tables a whole DDL statement defines, with their definitions after
/// it (`None`: dropped or renamed away), from `before` (the definitions
/// the history holds just before the statement: `Some(None)` dropped,
/// `None` unknown). `None` when the model cannot tell for every table the
/// statement touches: the caller reads information_schema instead.
pub fn statement(
    ddl: &super::ddl::Ddl,
    sql: &str,
    before: impl Fn(&str, &str) -> Option<Option<TableDef>>,
    cx: &Context<'_>,
) -> Option<Defined> {
    let mut out: Defined = Vec::new();
    let known = |out: &[((String, String), Option<TableDef>)], d: &str, t: &str| {
        out.iter()
            .rev()
            .find(|((od, ot), _)| od == d && ot == t)
            .map(|(_, def)| def.clone())
            .or_else(|| before(d, t))
    };
    if ddl.database_level {
        return None;
    }
    let sql = super::ddl::set_statement_inner(sql).unwrap_or(sql);
    let lower = sql.trim_start().to_ascii_lowercase();
    match ddl.kind {
        "DROP" => {
            for (d, t) in &ddl.tables {
                out.push(((d.clone(), t.clone()), None));
            }
        }
        "TRUNCATE" => {
            for (d, t) in &ddl.tables {
                out.push(((d.clone(), t.clone()), known(&out, d, t)?));
            }
        }
        _ if ddl.index => {
            // CREATE/DROP INDEX: a UNIQUE index may become the key of a
            // table without a primary key.
            let (d, t) = ddl.tables.first()?;
            let def = known(&out, d, t)??;
            if def.primary_key.is_empty()
                || lower.starts_with("create unique")
                || lower.starts_with("drop")
            {
                return None;
            }
            out.push(((d.clone(), t.clone()), Some(def)));
        }
        _ if lower.starts_with("rename") => {
            // RENAME TABLE a TO b, c TO d: pair by pair, so that a swap
            // (t TO t_old, t_new TO t) moves each definition once.
            for pair in ddl.tables.chunks(2) {
                let [(od, ot), (nd, nt)] = pair else {
                    return None;
                };
                let mut def = known(&out, od, ot)??;
                out.push(((od.clone(), ot.clone()), None));
                def.db = nd.clone();
                def.table = nt.clone();
                out.push(((nd.clone(), nt.clone()), Some(def)));
            }
        }
        _ => {
            let (d, t) = ddl.tables.first()?;
            let prev = known(&out, d, t);
            let outcome = apply(sql, d, t, prev.as_ref().and_then(Option::as_ref), cx).ok()?;
            let def = match outcome {
                Outcome::Defined(def) => def,
                Outcome::Unchanged => prev??,
                Outcome::Like { db, table } => {
                    let mut def = known(&out, db.as_deref().unwrap_or(d), &table)??;
                    def.db = d.clone();
                    def.table = t.clone();
                    def
                }
            };
            if def.table != *t {
                // ALTER TABLE ... RENAME TO: the old name is gone.
                out.push(((d.clone(), t.clone()), None));
            }
            out.push(((def.db.clone(), def.table.clone()), Some(def)));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARIA: Context<'static> = Context {
        mariadb: true,
        db_charset: "latin1",
        explicit_timestamp_defaults: true,
    };

    fn def(sql: &str) -> TableDef {
        match apply(sql, "d", "t", None, &MARIA).unwrap() {
            Outcome::Defined(d) => d,
            other => panic!("{other:?}"),
        }
    }

    fn alter(prev: &TableDef, sql: &str) -> R<TableDef> {
        match apply(sql, "d", &prev.table, Some(prev), &MARIA)? {
            Outcome::Defined(d) => Ok(d),
            other => panic!("{other:?}"),
        }
    }

    fn col<'a>(d: &'a TableDef, name: &str) -> &'a ColumnDesc {
        d.columns
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} in {d:?}"))
    }

    #[test]
    fn create_table_columns_as_information_schema_describes_them() {
        let d = def("CREATE TABLE `t` (id INT UNSIGNED NOT NULL AUTO_INCREMENT, \
            v VARCHAR(20) CHARACTER SET utf8mb4 DEFAULT 'x''y', \
            d DECIMAL(10,2) DEFAULT -1.5, e ENUM('Red','green') NOT NULL, \
            ts TIMESTAMP(3) NULL DEFAULT CURRENT_TIMESTAMP(3), b BIT(3) DEFAULT b'101', \
            j JSON, n NATIONAL VARCHAR(4), bo BOOLEAN, x TEXT(300), c CHAR COLLATE utf8mb3_bin, \
            PRIMARY KEY (id), KEY k (v(5)), CONSTRAINT u UNIQUE (n)) ENGINE=InnoDB DEFAULT CHARSET=cp1251");
        assert_eq!(d.primary_key, vec!["id"]);
        assert_eq!(d.charset.as_deref(), Some("cp1251"));
        let id = col(&d, "id");
        assert_eq!(
            (
                id.column_type.as_str(),
                id.data_type.as_str(),
                id.nullable,
                id.auto_increment
            ),
            ("int unsigned", "int", false, true)
        );
        let v = col(&d, "v");
        assert_eq!(
            (v.charset.as_deref(), v.octets, v.default.as_deref()),
            (Some("utf8mb4"), Some(80), Some("x''y"))
        );
        let dec = col(&d, "d");
        assert_eq!(
            (dec.precision, dec.scale, dec.default.as_deref()),
            (Some(10), Some(2), Some("-1.5"))
        );
        let e = col(&d, "e");
        assert_eq!(
            (e.column_type.as_str(), e.charset.as_deref(), e.nullable),
            ("enum('Red','green')", Some("cp1251"), false)
        );
        let ts = col(&d, "ts");
        assert_eq!(
            (ts.fsp, ts.default.as_deref()),
            (Some(3), Some("1970-01-01 00:00:00"))
        );
        assert_eq!(col(&d, "b").default.as_deref(), Some("101"));
        let j = col(&d, "j");
        assert_eq!(
            (j.data_type.as_str(), j.is_json, j.charset.as_deref()),
            ("longtext", true, Some("utf8mb4"))
        );
        assert_eq!(
            (col(&d, "n").charset.as_deref(), col(&d, "n").octets),
            (Some("utf8mb3"), Some(12))
        );
        assert_eq!(col(&d, "bo").column_type, "tinyint(1)");
        assert_eq!(col(&d, "x").data_type, "text");
        assert_eq!(
            (col(&d, "c").charset.as_deref(), col(&d, "c").octets),
            (Some("utf8mb3"), Some(3))
        );
        // No charset anywhere: the database's.
        let d = def("create table t (a varchar(3), id int primary key)");
        assert_eq!(
            (
                d.charset.as_deref(),
                col(&d, "a").octets,
                d.primary_key.clone()
            ),
            (Some("latin1"), Some(3), vec!["id".to_string()])
        );
        assert!(!col(&d, "id").nullable);
    }

    #[test]
    fn a_table_without_primary_key_takes_its_first_not_null_unique_key() {
        let d = def("CREATE TABLE t (a INT, b INT NOT NULL, c INT NOT NULL UNIQUE, UNIQUE KEY ua (a), UNIQUE KEY ub (b))");
        assert_eq!(d.primary_key, vec!["c"]);
        let d2 = alter(&d, "ALTER TABLE t MODIFY a INT NOT NULL").unwrap();
        assert_eq!(d2.primary_key, vec!["c"]);
        let d3 = alter(&d, "ALTER TABLE t ADD PRIMARY KEY (a)").unwrap();
        assert_eq!(d3.primary_key, vec!["a"]);
        assert!(!col(&d3, "a").nullable);
    }

    #[test]
    fn alter_table_clauses() {
        let d = def("CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10))");
        let d = alter(&d, "ALTER TABLE t ADD COLUMN c INT DEFAULT 5 AFTER id, ADD d DATETIME(6) FIRST, ALGORITHM=INPLACE, LOCK=NONE").unwrap();
        let names: Vec<&str> = d.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["d", "id", "c", "a", "b"]);
        assert_eq!(col(&d, "c").default.as_deref(), Some("5"));
        let d = alter(&d, "ALTER TABLE t DROP COLUMN a, MODIFY b VARCHAR(50) NOT NULL DEFAULT 'x', CHANGE COLUMN c c2 BIGINT UNSIGNED").unwrap();
        let names: Vec<&str> = d.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["d", "id", "c2", "b"]);
        assert_eq!(
            (col(&d, "b").nullable, col(&d, "b").octets),
            (false, Some(50))
        );
        assert_eq!(col(&d, "c2").column_type, "bigint unsigned");
        let d = alter(&d, "ALTER TABLE t RENAME COLUMN c2 TO c3, ALTER COLUMN b SET DEFAULT 'y', ADD COLUMN IF NOT EXISTS b INT, DROP COLUMN IF EXISTS zz, ADD INDEX i (b), RENAME INDEX i TO j, ENGINE=InnoDB").unwrap();
        assert_eq!(col(&d, "c3").column_type, "bigint unsigned");
        assert_eq!(col(&d, "b").default.as_deref(), Some("y"));
        let d = alter(
            &d,
            "ALTER TABLE t CHANGE id ident INT NOT NULL, RENAME TO t2",
        )
        .unwrap();
        assert_eq!(
            (d.table.as_str(), d.primary_key.clone()),
            ("t2", vec!["ident".to_string()])
        );
        let d = alter(
            &d,
            "ALTER TABLE t2 ADD (e INT, f ENUM('a','b') DEFAULT 'a'), DEFAULT CHARSET = utf8mb4",
        )
        .unwrap();
        // The statement's new table charset applies to the column it adds.
        assert_eq!(
            (col(&d, "f").charset.as_deref(), d.charset.as_deref()),
            (Some("utf8mb4"), Some("utf8mb4"))
        );
        let d = alter(&d, "ALTER TABLE t2 ADD g VARCHAR(2)").unwrap();
        assert_eq!(col(&d, "g").octets, Some(8));
    }

    #[test]
    fn whole_statements_renames_and_swaps() {
        use super::super::ddl::parse_ddl;
        let t = def("CREATE TABLE t (id INT PRIMARY KEY, v INT)");
        let mut gho = t.clone();
        gho.table = "_t_gho".into();
        gho.columns.push(ColumnDesc {
            name: "extra".into(),
            column_type: "int".into(),
            data_type: "int".into(),
            nullable: true,
            ..Default::default()
        });
        let before = |d: &str, tb: &str| -> Option<Option<TableDef>> {
            assert_eq!(d, "d");
            match tb {
                "t" => Some(Some(t.clone())),
                "_t_gho" => Some(Some(gho.clone())),
                _ => None,
            }
        };
        let sql = "rename table `d`.`t` to `d`.`_t_del`, `d`.`_t_gho` to `d`.`t`";
        let out = statement(&parse_ddl(sql, "d").unwrap(), sql, before, &MARIA).unwrap();
        let last = |name: &str| {
            out.iter()
                .rev()
                .find(|((_, n), _)| n == name)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(
            last("t").unwrap().columns.len(),
            3,
            "t is gh-ost's table now"
        );
        assert_eq!(last("_t_del").unwrap().columns.len(), 2);
        assert!(last("_t_gho").is_none());
        let sql = "ALTER TABLE t ADD c INT, RENAME TO t2";
        let out = statement(&parse_ddl(sql, "d").unwrap(), sql, before, &MARIA).unwrap();
        assert!(last_of(&out, "t").is_none());
        assert_eq!(last_of(&out, "t2").unwrap().columns.len(), 3);
        let sql = "CREATE TABLE n LIKE t";
        let out = statement(&parse_ddl(sql, "d").unwrap(), sql, before, &MARIA).unwrap();
        assert_eq!(last_of(&out, "n").unwrap().primary_key, vec!["id"]);
        let sql = "SET STATEMENT max_statement_time=1 FOR ALTER TABLE t DROP COLUMN v";
        let ddl = super::super::ddl::classify_ddl(sql, "d").unwrap().unwrap();
        let out = statement(&ddl, sql, before, &MARIA).unwrap();
        assert_eq!(last_of(&out, "t").unwrap().columns.len(), 1);
        // A table the history does not know cannot be altered by the model.
        let sql = "ALTER TABLE unknown ADD c INT";
        assert!(statement(&parse_ddl(sql, "d").unwrap(), sql, before, &MARIA).is_none());
    }

    fn last_of(out: &[((String, String), Option<TableDef>)], name: &str) -> Option<TableDef> {
        out.iter()
            .rev()
            .find(|((_, n), _)| n == name)
            .unwrap()
            .1
            .clone()
    }

    #[test]
    fn database_charsets() {
        assert_eq!(
            database_charset(
                "CREATE DATABASE IF NOT EXISTS `x` DEFAULT CHARACTER SET utf8mb4",
                "d"
            ),
            Some(("x".into(), Some("utf8mb4".into())))
        );
        assert_eq!(
            database_charset("ALTER DATABASE COLLATE = latin1_swedish_ci", "d"),
            Some(("d".into(), Some("latin1".into())))
        );
        assert_eq!(
            database_charset("DROP SCHEMA IF EXISTS y", "d"),
            Some(("y".into(), None))
        );
        assert_eq!(
            database_charset("CREATE DATABASE z", "d"),
            Some(("z".into(), None))
        );
        assert_eq!(database_charset("CREATE TABLE t (a INT)", "d"), None);
    }

    #[test]
    fn review_cases() {
        // WAIT n / NOWAIT before the first clause.
        let d = def("CREATE TABLE t (id INT PRIMARY KEY)");
        let d2 = alter(&d, "ALTER TABLE t WAIT 10 ADD COLUMN c INT").unwrap();
        assert_eq!(d2.columns.len(), 2);
        let d2 = alter(
            &d,
            "ALTER TABLE t NOWAIT ADD COLUMN c2 INT, ADD COLUMN c3 INT",
        )
        .unwrap();
        assert_eq!(d2.columns.len(), 3);
        // Non-reserved words as column names.
        let d = def("CREATE TABLE t (id INT PRIMARY KEY, period VARCHAR(7), system INT)");
        assert_eq!(d.columns.len(), 3);
        let d2 = alter(
            &d,
            "ALTER TABLE t ADD period2 INT, DROP period, DROP system",
        )
        .unwrap();
        let names: Vec<&str> = d2.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "period2"]);
        // A table charset said after the clause that adds a column.
        let d = def("CREATE TABLE t (id INT PRIMARY KEY) DEFAULT CHARSET=latin1");
        let d2 = alter(
            &d,
            "ALTER TABLE t ADD COLUMN q2 VARCHAR(10), DEFAULT CHARSET utf8mb4",
        )
        .unwrap();
        assert_eq!(
            (col(&d2, "q2").charset.as_deref(), col(&d2, "q2").octets),
            (Some("utf8mb4"), Some(40))
        );
        // SERIAL is unique, not the primary key.
        let d = def("CREATE TABLE t (a INT PRIMARY KEY, b SERIAL)");
        assert_eq!(d.primary_key, vec!["a"]);
        // NCHAR VARCHAR, NATIONAL CHARACTER VARYING keep their length and NOT NULL.
        let d = def("CREATE TABLE t (a NCHAR VARCHAR(20) NOT NULL, b NATIONAL CHARACTER VARYING(5) DEFAULT 'x', c INT CONSTRAINT c1 CHECK (c > 0) NOT NULL)");
        assert_eq!(
            (
                col(&d, "a").data_type.as_str(),
                col(&d, "a").octets,
                col(&d, "a").nullable
            ),
            ("varchar", Some(60), false)
        );
        assert_eq!(
            (col(&d, "b").octets, col(&d, "b").default.as_deref()),
            (Some(15), Some("x"))
        );
        assert!(!col(&d, "c").nullable);
        // TEXT(n) counts characters.
        let d = def("CREATE TABLE t (a TEXT(100) CHARACTER SET utf8mb4, b TEXT(100))");
        assert_eq!(
            (
                col(&d, "a").data_type.as_str(),
                col(&d, "b").data_type.as_str()
            ),
            ("text", "tinytext")
        );
        // Labels lose trailing spaces; TRUE/FALSE defaults; LONGTEXT CHECK json_valid.
        let d = def("CREATE TABLE t (e ENUM('a ','b'), f BOOLEAN DEFAULT TRUE, j LONGTEXT CHECK (json_valid(`j`)))");
        assert_eq!(col(&d, "e").column_type, "enum('a','b')");
        assert_eq!(col(&d, "f").default.as_deref(), Some("1"));
        assert!(col(&d, "j").is_json);
        // A key from the history may be a UNIQUE index: dropping an index
        // or making a key column nullable is not guessed.
        let mut from_history = def("CREATE TABLE t (a INT NOT NULL, b INT)");
        from_history.primary_key = vec!["a".into()];
        assert!(alter(&from_history, "ALTER TABLE t DROP INDEX u").is_err());
        assert!(alter(&from_history, "ALTER TABLE t DROP CONSTRAINT u").is_err());
        assert!(alter(&from_history, "ALTER TABLE t MODIFY a INT NULL").is_err());
        assert!(alter(&from_history, "ALTER TABLE t MODIFY b BIGINT").is_ok());
        // TIMESTAMP under explicit_defaults_for_timestamp=OFF.
        let off = Context {
            explicit_timestamp_defaults: false,
            ..MARIA
        };
        assert!(apply("CREATE TABLE t (ts TIMESTAMP)", "d", "t", None, &off).is_err());
        assert!(apply("CREATE TABLE t (ts TIMESTAMP NULL)", "d", "t", None, &off).is_ok());
        // Inline REFERENCES is not guessed.
        assert!(apply(
            "CREATE TABLE t (a INT REFERENCES p(id) NOT NULL)",
            "d",
            "t",
            None,
            &MARIA
        )
        .is_err());
    }

    #[test]
    fn what_the_model_does_not_read_is_unsupported() {
        let d = def("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(3))");
        for sql in [
            "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4",
            "ALTER TABLE t ADD z INT AS (id + 1) VIRTUAL",
            "ALTER TABLE t ADD q FOO",
            "ALTER TABLE t FROBNICATE",
            "ALTER TABLE t DROP COLUMN nope",
            "ALTER TABLE t ADD a INT",
        ] {
            assert!(alter(&d, sql).is_err(), "{sql}");
        }
        assert!(apply("CREATE TABLE t2 SELECT * FROM t", "d", "t2", None, &MARIA).is_err());
        assert!(apply("CREATE TABLE t2 AS SELECT 1", "d", "t2", None, &MARIA).is_err());
        assert!(apply("ALTER TABLE t ADD a INT", "d", "t", None, &MARIA).is_err());
        assert_eq!(
            apply("CREATE TABLE t2 LIKE `x`.t", "d", "t2", None, &MARIA),
            Ok(Outcome::Like {
                db: Some("x".into()),
                table: "t".into()
            })
        );
        assert_eq!(
            apply(
                "CREATE TABLE IF NOT EXISTS t (x INT)",
                "d",
                "t",
                Some(&d),
                &MARIA
            ),
            Ok(Outcome::Unchanged)
        );
    }
}
