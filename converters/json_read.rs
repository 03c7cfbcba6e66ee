//! JSON parsing and conversion back to Kafka Connect values and schemas.
//!
//! A small strict parser (RFC 8259; depth-limited so hostile input cannot
//! exhaust the stack) builds a borrowed tree that keeps number literals as
//! text: decimals wider than i128 and exact float digits survive, which a
//! parse through `f64` would lose. Conversion then follows Kafka Connect's
//! `JsonConverter.asConnectSchema`/`convertToConnect`: a schema JSON becomes
//! an `Arc<Schema>` with name, version, doc, parameters and default; a
//! payload is read as its schema says (logical types included); without a
//! schema, objects become maps with string keys, integers Int64 and other
//! numbers Float64. Where Kafka Connect silently coerces a wrongly typed
//! payload (a string read as int32 gives 0), this errors instead.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use sluice_api::data::{names, schemas, Schema, SchemaBuilder, SchemaType, Struct, Value};

use crate::json_write::decimal_scale;
use sluice_api::java_text::decimal_at_scale;

const MAX_DEPTH: usize = 512;

/// A parsed JSON value borrowing from the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    /// The number's literal text, already checked against JSON's grammar.
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<Node<'a>>),
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Obj(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Null => "NULL",
            Node::Bool(_) => "BOOLEAN",
            Node::Num(_) => "NUMBER",
            Node::Str(_) => "STRING",
            Node::Arr(_) => "ARRAY",
            Node::Obj(_) => "OBJECT",
        }
    }
}

/// Parses a whole document (whitespace around it allowed, nothing else).
pub(crate) fn parse(input: &[u8]) -> Result<Node<'_>, String> {
    let text =
        std::str::from_utf8(input).map_err(|e| format!("the bytes are not UTF-8 text ({e})"))?;
    let mut p = Parser { s: text, pos: 0 };
    p.ws();
    let node = p.value(0)?;
    p.ws();
    if p.pos != text.len() {
        return Err(p.error("unexpected data after the JSON value"));
    }
    Ok(node)
}

/// An object member: key and the value's raw (checked) JSON text.
pub(crate) type Member<'a> = (Cow<'a, str>, &'a str);

/// Checks an object document and returns each member's raw value text, so
/// that a cached schema is found by its exact JSON without being parsed.
/// `None` when the document is valid JSON but not an object.
pub(crate) fn object_members(input: &[u8]) -> Result<Option<Vec<Member<'_>>>, String> {
    let text =
        std::str::from_utf8(input).map_err(|e| format!("the bytes are not UTF-8 text ({e})"))?;
    let mut p = Parser { s: text, pos: 0 };
    p.ws();
    if p.peek() != Some(b'{') {
        return parse(input).map(|_| None);
    }
    p.pos += 1;
    let mut members = Vec::new();
    p.ws();
    if p.peek() == Some(b'}') {
        p.pos += 1;
    } else {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            let start = p.pos;
            p.skip(1)?;
            members.push((key, &text[start..p.pos]));
            p.ws();
            match p.next_byte() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(p.error("expected ',' or '}' in an object")),
            }
        }
    }
    p.ws();
    if p.pos != text.len() {
        return Err(p.error("unexpected data after the JSON value"));
    }
    Ok(Some(members))
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, what: &str) -> String {
        format!("invalid JSON at byte {}: {what}", self.pos)
    }
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek();
        self.pos += 1;
        b
    }
    fn expect(&mut self, b: u8) -> Result<(), String> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", b as char)))
        }
    }
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }
    fn literal(&mut self, word: &str, node: Node<'a>) -> Result<Node<'a>, String> {
        if self.s.as_bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(node)
        } else {
            Err(self.error("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, String> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'n') => self.literal("null", Node::Null),
            Some(b't') => self.literal("true", Node::Bool(true)),
            Some(b'f') => self.literal("false", Node::Bool(false)),
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Node::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.next_byte() {
                        Some(b',') => continue,
                        Some(b']') => return Ok(Node::Arr(items)),
                        _ => return Err(self.error("expected ',' or ']' in an array")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Node::Obj(members));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    self.expect(b':')?;
                    self.ws();
                    members.push((key, self.value(depth + 1)?));
                    self.ws();
                    match self.next_byte() {
                        Some(b',') => continue,
                        Some(b'}') => return Ok(Node::Obj(members)),
                        _ => return Err(self.error("expected ',' or '}' in an object")),
                    }
                }
            }
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    /// Checks one value without building it.
    fn skip(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let (open, close) = match self.peek() {
            Some(b'"') => return self.skip_string(),
            Some(b'[') => (b'[', b']'),
            Some(b'{') => (b'{', b'}'),
            _ => return self.value(depth).map(|_| ()),
        };
        self.pos += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if open == b'{' {
                self.skip_string()?;
                self.ws();
                self.expect(b':')?;
                self.ws();
            }
            self.skip(depth + 1)?;
            self.ws();
            match self.next_byte() {
                Some(b',') => continue,
                Some(c) if c == close => return Ok(()),
                _ => {
                    return Err(self.error(&format!(
                        "expected ',' or '{}' in an {}",
                        close as char,
                        if open == b'{' { "object" } else { "array" }
                    )))
                }
            }
        }
    }

    fn skip_string(&mut self) -> Result<(), String> {
        self.expect(b'"')?;
        loop {
            match self.next_byte() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => return Ok(()),
                Some(b'\\') => match self.next_byte() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => {
                        self.hex4()?;
                    }
                    _ => return Err(self.error("invalid escape in a string")),
                },
                Some(b) if b < 0x20 => return Err(self.error("control character inside a string")),
                Some(_) => {}
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Node<'a>, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("a number needs digits")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("a number needs digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("a number needs digits in its exponent"));
            }
        }
        Ok(Node::Num(&self.s[start..self.pos]))
    }

    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.expect(b'"')?;
        let bytes = self.s.as_bytes();
        let start = self.pos;
        // Fast path: no escapes.
        loop {
            match bytes.get(self.pos) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    let s = &self.s[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => return Err(self.error("control character inside a string")),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::from(&self.s[start..self.pos]);
        loop {
            let run = self.pos;
            while let Some(&b) = bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.s[run..self.pos]);
            match self.next_byte() {
                Some(b'"') => return Ok(Cow::Owned(out)),
                Some(b'\\') => {
                    let c = match self.next_byte() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => return Err(self.error("invalid escape in a string")),
                    };
                    out.push(c);
                }
                Some(_) => return Err(self.error("control character inside a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|h| {
                u32::from_str_radix(h, 16)
                    .ok()
                    .filter(|_| !h.starts_with('+'))
            })
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.pos += 4;
        Ok(h)
    }

    fn unicode_escape(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.s.as_bytes()[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.pos = save;
        }
        // A lone surrogate cannot be UTF-8: replace it, as Java's encoder does.
        Ok(char::from_u32(hi).unwrap_or('\u{FFFD}'))
    }
}

/// Reading options (Kafka Connect's `replace.null.with.default`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoder {
    pub replace_null_with_default: bool,
}

impl Decoder {
    /// Kafka Connect's `asConnectSchema`; JSON null is no schema.
    pub(crate) fn schema(&self, node: &Node) -> Result<Option<Arc<Schema>>, String> {
        if *node == Node::Null {
            return Ok(None);
        }
        self.schema_at(node, 0).map(Some)
    }

    fn schema_at(&self, node: &Node, depth: usize) -> Result<Arc<Schema>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("schema nested deeper than {MAX_DEPTH} levels"));
        }
        let Some(Node::Str(type_name)) = node.get("type") else {
            return Err("Schema must contain 'type' field".into());
        };
        let kind = SchemaType::parse(type_name)
            .filter(|k| k.json_name() == type_name.as_ref())
            .ok_or_else(|| format!("Unknown schema type: {type_name}"))?;
        let mut b = match kind {
            SchemaType::Array => match node.get("items") {
                None | Some(Node::Null) => {
                    return Err("Array schema did not specify the element type".into())
                }
                Some(items) => SchemaBuilder::array(self.schema_at(items, depth + 1)?),
            },
            SchemaType::Map => {
                let keys = node
                    .get("keys")
                    .ok_or("Map schema did not specify the key type")?;
                let values = node
                    .get("values")
                    .ok_or("Map schema did not specify the value type")?;
                SchemaBuilder::map(
                    self.schema_at(keys, depth + 1)?,
                    self.schema_at(values, depth + 1)?,
                )
            }
            SchemaType::Struct => {
                let Some(Node::Arr(fields)) = node.get("fields") else {
                    return Err("Struct schema's \"fields\" argument is not an array.".into());
                };
                let mut b = SchemaBuilder::structure();
                for field in fields {
                    let Some(Node::Str(name)) = field.get("field") else {
                        return Err("Struct schema's field name not specified properly".into());
                    };
                    let fs = self
                        .schema_at(field, depth + 1)
                        .map_err(|e| format!("field {name}: {e}"))?;
                    b = b.field(name.as_ref(), fs);
                }
                b
            }
            k => SchemaBuilder::new(k),
        };
        let optional = matches!(node.get("optional"), Some(Node::Bool(true)));
        b = b.set_optional(optional);
        let name = match node.get("name") {
            Some(Node::Str(n)) => Some(n.to_string()),
            _ => None,
        };
        let version = match node.get("version") {
            Some(Node::Num(n)) => n.parse::<i64>().ok().map(|v| v as i32),
            _ => None,
        };
        let doc = match node.get("doc") {
            Some(Node::Str(d)) => Some(d.to_string()),
            _ => None,
        };
        let params = match node.get("parameters") {
            Some(Node::Obj(p)) => p.as_slice(),
            _ => &[],
        };
        let default = node.get("default");
        if kind.is_primitive()
            && name.is_none()
            && version.is_none()
            && doc.is_none()
            && params.is_empty()
            && default.is_none()
        {
            // Share the ready-made primitive schemas.
            return Ok(schemas::primitive(kind, optional));
        }
        b = b.maybe_name(name).maybe_version(version);
        if let Some(doc) = doc {
            b = b.doc(doc);
        }
        for (k, v) in params {
            match v {
                Node::Str(v) => b = b.parameter(k.as_ref(), v.as_ref()),
                _ => return Err("Schema parameters must have string values.".into()),
            }
        }
        if let Some(default) = default {
            let without_default = b.clone().build();
            let value = self
                .value(&without_default, default)
                .map_err(|e| format!("default value: {e}"))?;
            if !value.is_null() {
                b = b.default_value(value);
            }
        }
        Ok(b.build())
    }

    /// Kafka Connect's `convertToConnect` with a schema.
    pub(crate) fn value(&self, schema: &Arc<Schema>, node: &Node) -> Result<Value, String> {
        self.value_at(schema, node, 0)
    }

    fn value_at(&self, schema: &Arc<Schema>, node: &Node, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("value nested deeper than {MAX_DEPTH} levels"));
        }
        if *node == Node::Null {
            if self.replace_null_with_default {
                if let Some(d) = &schema.default {
                    return Ok(d.clone());
                }
            }
            if schema.optional {
                return Ok(Value::Null);
            }
            return Err(format!(
                "Invalid null value for required {} field",
                schema.kind
            ));
        }
        let mismatch = || {
            format!(
                "expected {} for a {} schema{}, found {}",
                expected_json(schema.kind),
                schema.kind,
                schema.name().map(|n| format!(" ({n})")).unwrap_or_default(),
                node.kind()
            )
        };
        let int = |min: i64, max: i64| -> Result<i64, String> {
            match node {
                Node::Num(n) => n
                    .parse::<i64>()
                    .ok()
                    .filter(|v| (min..=max).contains(v))
                    .ok_or_else(|| format!("{n} is not a {} value", schema.kind)),
                _ => Err(mismatch()),
            }
        };
        Ok(match schema.kind {
            SchemaType::Boolean => match node {
                Node::Bool(b) => Value::Boolean(*b),
                _ => return Err(mismatch()),
            },
            SchemaType::Int8 => Value::Int8(int(i8::MIN.into(), i8::MAX.into())? as i8),
            SchemaType::Int16 => Value::Int16(int(i16::MIN.into(), i16::MAX.into())? as i16),
            SchemaType::Int32 => Value::Int32(int(i32::MIN.into(), i32::MAX.into())? as i32),
            SchemaType::Int64 => Value::Int64(int(i64::MIN, i64::MAX)?),
            SchemaType::Float32 => Value::Float32(parse_float(node).ok_or_else(mismatch)?),
            SchemaType::Float64 => Value::Float64(parse_float(node).ok_or_else(mismatch)?),
            SchemaType::String => match node {
                Node::Str(s) => Value::String(s.as_ref().into()),
                _ => return Err(mismatch()),
            },
            SchemaType::Bytes => match node {
                Node::Str(s) => Value::Bytes(
                    base64::engine::general_purpose::STANDARD
                        .decode(s.as_bytes())
                        .map_err(|e| format!("invalid base64 for a BYTES value: {e}"))?,
                ),
                Node::Num(n) if schema.name.as_deref() == Some(names::DECIMAL) => {
                    let scale = decimal_scale(schema)?;
                    Value::Bytes(decimal_at_scale(n, scale).ok_or_else(|| {
                        format!("{n} does not fit a Decimal of scale {scale} without rounding")
                    })?)
                }
                _ => return Err(mismatch()),
            },
            SchemaType::Array => {
                let Node::Arr(items) = node else {
                    return Err(mismatch());
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(
                        match &schema.value_schema {
                            Some(elem) => self.value_at(elem, item, depth + 1),
                            None => schemaless_at(item, depth + 1),
                        }
                        .map_err(|e| format!("[{i}]: {e}"))?,
                    );
                }
                Value::Array(out)
            }
            SchemaType::Map => self.map(schema, node, depth)?,
            SchemaType::Struct => {
                let Node::Obj(members) = node else {
                    return Err(format!(
                        "Structs should be encoded as JSON objects, but found {}",
                        node.kind()
                    ));
                };
                let mut values = Vec::with_capacity(schema.fields.len());
                for (i, field) in schema.fields.iter().enumerate() {
                    // Members usually come in field order: look there first.
                    let member = match members.get(i) {
                        Some((k, v)) if *k == field.name => Some(v),
                        _ => members
                            .iter()
                            .rev()
                            .find(|(k, _)| *k == field.name)
                            .map(|(_, v)| v),
                    };
                    let v = self
                        .value_at(&field.schema, member.unwrap_or(&Node::Null), depth + 1)
                        .map_err(|e| format!("field {}: {e}", field.name))?;
                    values.push(v);
                }
                Value::Struct(Struct::from_values(schema.clone(), values))
            }
        })
    }

    fn map(&self, schema: &Arc<Schema>, node: &Node, depth: usize) -> Result<Value, String> {
        let key_schema = schema.key_schema.as_ref();
        let convert = |s: Option<&Arc<Schema>>, n: &Node| match s {
            Some(s) => self.value_at(s, n, depth + 1),
            None => schemaless_at(n, depth + 1),
        };
        let mut out = Vec::new();
        if key_schema.is_none_or(|k| k.kind == SchemaType::String) {
            let Node::Obj(members) = node else {
                return Err(format!(
                    "Maps with string fields should be encoded as JSON objects, but found {}",
                    node.kind()
                ));
            };
            for (k, v) in members {
                let v =
                    convert(schema.value_schema.as_ref(), v).map_err(|e| format!("{k}: {e}"))?;
                out.push((Value::String(k.as_ref().into()), v));
            }
        } else {
            let Node::Arr(entries) = node else {
                return Err(format!(
                    "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                    node.kind()
                ));
            };
            for entry in entries {
                match entry {
                    Node::Arr(pair) if pair.len() == 2 => out.push((
                        convert(key_schema, &pair[0])?,
                        convert(schema.value_schema.as_ref(), &pair[1])?,
                    )),
                    _ => {
                        return Err(
                            "Found invalid map entry instead of a [key, value] array tuple".into(),
                        )
                    }
                }
            }
        }
        Ok(Value::Map(out))
    }
}

fn expected_json(kind: SchemaType) -> &'static str {
    match kind {
        SchemaType::Boolean => "a JSON boolean",
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => {
            "a JSON integer"
        }
        SchemaType::Float32 | SchemaType::Float64 => "a JSON number",
        SchemaType::String => "a JSON string",
        SchemaType::Bytes => "a base64 JSON string",
        SchemaType::Array => "a JSON array",
        SchemaType::Map => "a JSON object or array",
        SchemaType::Struct => "a JSON object",
    }
}

fn parse_float<T: std::str::FromStr>(node: &Node) -> Option<T> {
    match node {
        Node::Num(n) => n.parse().ok(),
        // What Jackson writes for non-finite numbers.
        Node::Str(s) if matches!(s.as_ref(), "NaN" | "Infinity" | "-Infinity") => {
            s.replace("Infinity", "inf").parse().ok()
        }
        _ => None,
    }
}

/// Kafka Connect's `convertToConnect` without a schema.
pub(crate) fn schemaless(node: &Node) -> Result<Value, String> {
    schemaless_at(node, 0)
}

fn schemaless_at(node: &Node, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("value nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Boolean(*b),
        Node::Num(n) => match n.parse::<i64>() {
            Ok(v) => Value::Int64(v),
            Err(_) => Value::Float64(n.parse().map_err(|_| format!("{n} is not a number"))?),
        },
        Node::Str(s) => Value::String(s.as_ref().into()),
        Node::Arr(items) => Value::Array(
            items
                .iter()
                .map(|i| schemaless_at(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Node::Obj(members) => Value::Map(
            members
                .iter()
                .map(|(k, v)| {
                    Ok((
                        Value::String(k.as_ref().into()),
                        schemaless_at(v, depth + 1)?,
                    ))
                })
                .collect::<Result<_, String>>()?,
        ),
    })
}
