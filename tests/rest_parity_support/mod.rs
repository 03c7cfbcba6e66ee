//! The engine of the REST parity test: one request sent to the real Kafka
//! Connect 4.4 worker and to Sluice, both replies normalised, then compared
//! (status codes exactly, bodies as JSON). See `tests/parity_rest.rs` for
//! the sequence and the table of known differences.
//!
//! Normalisations, each for a reason (nothing else is normalised):
//!
//! - N1 worker identity: each side's `127.0.0.1:PORT` becomes `<worker>`
//!   (in `worker_id`, the `Location` header, anywhere in a string).
//! - N2 per-side connector settings: each side's connectors need their own
//!   `topic.prefix`, `database.server.id` and schema history topic (both read
//!   the same MariaDB and write the same Kafka); they become `<prefix-X>`,
//!   `<server-id-X>`, `<history-X>` wherever they appear.
//! - N3 versions: `GET /`'s `version` and `commit`, the plugins' `version`
//!   and the status entries' `version` (KIP-891) are each product's own;
//!   they become `<version>` (absent stays absent; KC's `null` for a task
//!   being restarted also becomes `<version>`). `kafka_cluster_id` is
//!   compared: both use the same broker.
//! - N4 JSON semantics: objects are compared as maps (key order ignored);
//!   arrays in order, except sets: the names of `GET /connectors` (KC lists
//!   them in hash order), the topics of `/topics`, the offsets of
//!   `/offsets` (sorted by partition), plugin lists and config definitions
//!   (keyed by class and type, by key name). KC lists some plugins twice
//!   (one per plugin folder that bundles them): identical after N3, kept once.
//! - N5 timestamps: loggers' `last_modified` numbers become `<timestamp>`.
//! - N6 traces: `trace` strings (Java vs Rust stacks) become `<trace>`.
//! - N7 connector-specific content: what the connector itself decides is
//!   the MySQL parity suite's business, not the REST API's: the offset
//!   objects of `/offsets` (Debezium's binlog position fields) become
//!   `<offset>`; the task configs of `/tasks` drop `task.class` (Debezium's
//!   Java task class); in `/connector-plugins/{type}/config` and
//!   `/config/validate`, the keys that are not Kafka Connect's own
//!   (FRAMEWORK_KEYS) are compared by shape only (the field names of their
//!   `definition` and `value`), and so are the groups that are not the
//!   framework's.
//! - N8 prose: config keys' `documentation` becomes `<doc>` (each product
//!   documents its own behaviour); the converter keys' `recommended_values`
//!   list the installed plugins and become `<plugins>`; in "Failed to find
//!   any class ... which name matches X" errors, the list of installed
//!   plugins that follows (KC prints Java `PluginDesc` objects with jar
//!   paths) becomes `<plugins>`.
//! - N9 error messages: a Sluice message that starts with KC's message and
//!   goes on with more detail (after `:`, `.`, `;`, `,`, a space or a
//!   newline) counts as KC's message: tools that match KC's words still do.
//! - N10 `GET /admin/loggers`: KC lists every log4j logger its JVM created
//!   (hundreds of Java class names); only `root` and this run's own loggers
//!   are compared.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Map, Value};

pub const ABSENT: &str = "‹absent›";

/// Kafka Connect's own connector config keys (`ConnectorConfig`,
/// `SourceConnectorConfig`), compared in full in config definitions and
/// validation results; every other key is the connector's (N7).
pub const FRAMEWORK_KEYS: &[&str] = &[
    "name",
    "connector.class",
    "connector.plugin.version",
    "tasks.max",
    "tasks.max.enforce",
    "key.converter",
    "key.converter.plugin.version",
    "value.converter",
    "value.converter.plugin.version",
    "header.converter",
    "header.converter.plugin.version",
    "transforms",
    "predicates",
    "config.action.reload",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
    "errors.tolerance",
    "errors.log.enable",
    "errors.log.include.messages",
    "topic.creation.groups",
    "exactly.once.support",
    "transaction.boundary",
    "transaction.boundary.interval.ms",
    "offsets.storage.topic",
];

/// The groups of the framework keys (KC's names).
pub const FRAMEWORK_GROUPS: &[&str] = &[
    "Common",
    "Transforms",
    "Predicates",
    "Error Handling",
    "Topic Creation",
    "Exactly Once Support",
    "offsets.topic",
];

// ------------------------------------------------------------------ HTTP

/// One HTTP reply (`tests/common`'s client sends every request).
pub type Reply = crate::common::Response;

/// A request with an optional body and Content-Type (None: no header).
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    content_type: Option<&str>,
) -> std::io::Result<Reply> {
    crate::common::http_with(port, method, path, body, content_type)
}

// ------------------------------------------------------------------ sides

/// Which worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Kc,
    Sluice,
}

/// One worker and what is normalised in its replies (N1, N2).
pub struct Side {
    pub which: Which,
    pub port: u16,
    /// (literal, placeholder), replaced in every string, longest first.
    pub substrings: Vec<(String, String)>,
    /// (literal, placeholder), replacing only strings equal to the literal.
    pub exact: Vec<(String, String)>,
}

impl Side {
    pub fn new(which: Which, port: u16) -> Side {
        Side {
            which,
            port,
            substrings: vec![(format!("127.0.0.1:{port}"), "<worker>".into())],
            exact: Vec::new(),
        }
    }

    fn subst(&self, s: &str) -> String {
        if let Some((_, p)) = self.exact.iter().find(|(l, _)| l == s) {
            return p.clone();
        }
        let mut out = s.to_string();
        let mut subs: Vec<&(String, String)> = self.substrings.iter().collect();
        subs.sort_by_key(|(l, _)| std::cmp::Reverse(l.len()));
        for (l, p) in subs {
            if out.contains(l.as_str()) {
                out = out.replace(l.as_str(), p);
            }
        }
        out
    }

    fn subst_all(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.subst(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.subst_all(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (self.subst(k), self.subst_all(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

// ------------------------------------------------------------------ requests

/// A request: the same for both sides unless a per-side body is given.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    /// The path as written in the step's label, `{A}` and the like included.
    pub template: String,
    pub path: String,
    pub body_kc: Option<String>,
    pub body_sluice: Option<String>,
    pub content_type: Option<String>,
    pub note: String,
}

impl Req {
    pub fn body(mut self, v: &Value) -> Req {
        self.body_kc = Some(v.to_string());
        self.body_sluice = Some(v.to_string());
        self
    }
    pub fn raw(mut self, s: &str) -> Req {
        self.body_kc = Some(s.to_string());
        self.body_sluice = Some(s.to_string());
        self
    }
    pub fn per_side(mut self, kc: &Value, sluice: &Value) -> Req {
        self.body_kc = Some(kc.to_string());
        self.body_sluice = Some(sluice.to_string());
        self
    }
    pub fn content_type(mut self, ct: Option<&str>) -> Req {
        self.content_type = ct.map(str::to_string);
        self
    }
    pub fn note(mut self, n: &str) -> Req {
        self.note = n.to_string();
        self
    }
    pub fn label(&self) -> String {
        let mut l = format!("{} {}", self.method, self.template);
        if let Some(ct) = &self.content_type {
            if ct != "application/json" {
                let _ = write!(l, " [{ct}]");
            }
        } else {
            l.push_str(" [no content type]");
        }
        if !self.note.is_empty() {
            let _ = write!(l, " ({})", self.note);
        }
        l
    }
}

// ------------------------------------------------------------------ diffs

/// One difference between the two replies of a step.
#[derive(Debug, Clone)]
pub struct Diff {
    pub step: String,
    pub path: String,
    pub kc: String,
    pub sluice: String,
}

/// A difference that is explained: `step` and `path` are globs (`*`).
pub struct Known {
    pub step: &'static str,
    pub path: &'static str,
    pub why: &'static str,
    /// The difference depends on timing (a field present only while a
    /// snapshot runs): an entry that did not match this run is not stale.
    pub timing: bool,
}

pub fn glob(pat: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pat.as_bytes(), s.as_bytes())
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => ABSENT.to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 300 {
                let cut: String = s.chars().take(300).collect();
                format!("{cut}…")
            } else {
                s
            }
        }
    }
}

fn seg(path: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    } else {
        format!("{path}[{key:?}]")
    }
}

/// Every leaf that differs, by JSON path.
pub fn diff_json(
    path: &str,
    a: Option<&Value>,
    b: Option<&Value>,
    out: &mut Vec<(String, String, String)>,
) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().collect();
            keys.extend(y.keys().filter(|k| !x.contains_key(*k)));
            for k in keys {
                diff_json(&seg(path, k), x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                diff_json(&format!("{path}[{i}]"), x.get(i), y.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push((
            if path.is_empty() {
                "body".into()
            } else {
                path.to_string()
            },
            show(a),
            show(b),
        )),
    }
}

// ------------------------------------------------------------------ normalising

/// The JSON type of a value, for shape-only comparisons.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_error(v: &Value) -> bool {
    v.get("error_code").is_some() && v.get("message").is_some()
}

/// N8: the plugin list after "which name matches X".
fn cut_plugin_list(msg: &str) -> String {
    const MARK: &str = "which name matches ";
    match msg.find(MARK) {
        Some(i) => {
            let start = i + MARK.len();
            let rest = &msg[start..];
            let end = rest.find([',', ';', '\n']).unwrap_or(rest.len());
            format!("{}{} <plugins>", &msg[..start], &rest[..end])
        }
        None => msg.to_string(),
    }
}

/// N9: Sluice's message counts as KC's when it starts with it and adds
/// detail after a separator.
pub fn message_matches(kc: &str, sluice: &str) -> bool {
    if kc == sluice {
        return true;
    }
    match sluice.strip_prefix(kc) {
        Some(rest) => rest.starts_with([':', '.', ';', ',', ' ', '\n']),
        None => false,
    }
}

fn status_entry(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        if o.contains_key("version") {
            o.insert("version".into(), json!("<version>"));
        }
        if let Some(t) = o.get_mut("trace") {
            if t.is_string() {
                *t = json!("<trace>");
            }
        }
    }
}

/// N3/N6 on a connector status (`/status`, `expand=status`, restart plans).
fn connector_status(v: &mut Value) {
    if let Some(c) = v.get_mut("connector") {
        status_entry(c);
    }
    if let Some(Value::Array(tasks)) = v.get_mut("tasks") {
        for t in tasks {
            status_entry(t);
        }
    }
}

fn is_framework_key(name: &str) -> bool {
    FRAMEWORK_KEYS.contains(&name)
}

/// N7/N8 on one config definition (`ConfigKeyInfo`).
fn definition(d: &mut Value) {
    if let Some(o) = d.as_object_mut() {
        if o.contains_key("documentation") {
            o.insert("documentation".into(), json!("<doc>"));
        }
    }
}

/// The field names of an object, as a sorted array (shape only).
fn field_names(v: Option<&Value>) -> Value {
    let mut names: Vec<String> = v
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    json!(names)
}

/// `/connector-plugins/{type}/config`: keyed by name; for a connector, its
/// own keys by shape (a transform's or converter's keys are Kafka's own and
/// compared in full).
fn config_defs(v: &Value, connector: bool) -> Value {
    let Some(items) = v.as_array() else {
        return v.clone();
    };
    let mut out = Map::new();
    let mut shapes = Vec::new();
    for item in items {
        let name = item["name"].as_str().unwrap_or("?").to_string();
        if !connector || is_framework_key(&name) {
            let mut d = item.clone();
            definition(&mut d);
            out.insert(name, d);
        } else {
            shapes.push(field_names(Some(item)));
        }
    }
    shapes.sort_by_key(|s| s.to_string());
    shapes.dedup();
    if connector {
        out.insert("<connector keys: definition fields>".into(), json!(shapes));
    }
    Value::Object(out)
}

/// `/config/validate`: framework keys in full, connector keys by shape.
fn validation(v: &Value) -> Value {
    let mut out = Map::new();
    for k in ["name", "error_count"] {
        if let Some(x) = v.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    if let Some(groups) = v.get("groups").and_then(Value::as_array) {
        let framework: Vec<Value> = groups
            .iter()
            .filter(|g| g.as_str().is_some_and(|g| FRAMEWORK_GROUPS.contains(&g)))
            .cloned()
            .collect();
        out.insert("groups (framework)".into(), json!(framework));
    }
    let mut configs = Map::new();
    let mut def_shapes = Vec::new();
    let mut value_shapes = Vec::new();
    for c in v
        .get("configs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = c["definition"]["name"].as_str().unwrap_or("?").to_string();
        if is_framework_key(&name) {
            let mut c = c.clone();
            definition(&mut c["definition"]);
            if name.ends_with(".converter") {
                if let Some(r) = c["value"].get_mut("recommended_values") {
                    *r = json!("<plugins>");
                }
            }
            configs.insert(name, c);
        } else {
            def_shapes.push(field_names(c.get("definition")));
            value_shapes.push(field_names(c.get("value")));
        }
    }
    for shapes in [&mut def_shapes, &mut value_shapes] {
        shapes.sort_by_key(|s| s.to_string());
        shapes.dedup();
    }
    configs.insert(
        "<connector keys: definition fields>".into(),
        json!(def_shapes),
    );
    configs.insert("<connector keys: value fields>".into(), json!(value_shapes));
    out.insert("configs".into(), Value::Object(configs));
    Value::Object(out)
}

/// `/connector-plugins`: keyed by "class (type)", versions normalised.
fn plugin_list(v: &Value) -> Value {
    let Some(items) = v.as_array() else {
        return v.clone();
    };
    let mut out = BTreeMap::new();
    for item in items {
        let key = format!(
            "{} ({})",
            item["class"].as_str().unwrap_or("?"),
            item["type"].as_str().unwrap_or("?")
        );
        let mut item = item.clone();
        if let Some(o) = item.as_object_mut() {
            if o.contains_key("version") {
                o.insert("version".into(), json!("<version>"));
            }
        }
        out.insert(key, item);
    }
    json!(out)
}

/// Normalises one reply body for the step `req` (see the module doc).
pub fn normalise(req: &Req, side: &Side, logger_prefix: &str, body: &str) -> Value {
    let raw: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) if body.trim().is_empty() => return json!("<empty body>"),
        Err(_) => return json!(format!("<not JSON> {}", side.subst(body.trim()))),
    };
    let mut v = side.subst_all(&raw);
    if is_error(&v) {
        if let Some(m) = v["message"].as_str() {
            v["message"] = json!(cut_plugin_list(m));
        }
        return v;
    }
    let t = req.template.split('?').next().unwrap_or("");
    let q = req.template.split_once('?').map(|(_, q)| q).unwrap_or("");
    match t {
        "/" => {
            for k in ["version", "commit"] {
                if v.get(k).is_some() {
                    v[k] = json!("<version>");
                }
            }
        }
        "/connectors" | "/connectors/" if q.contains("expand") => {
            if let Some(o) = v.as_object_mut() {
                for (_, e) in o.iter_mut() {
                    if let Some(s) = e.get_mut("status") {
                        connector_status(s);
                    }
                }
            }
        }
        "/connectors" | "/connectors/" => {
            if let Some(names) = v.as_array_mut() {
                names.sort_by_key(|x| x.to_string());
            }
        }
        "/connector-plugins" => v = plugin_list(&v),
        _ if t.starts_with("/connector-plugins/") && t.ends_with("/config") => {
            v = config_defs(&v, t.trim_end_matches("/config").ends_with("Connector"))
        }
        _ if t.ends_with("/config/validate") => v = validation(&v),
        _ if t.ends_with("/status") && t.contains("/tasks/") => status_entry(&mut v),
        _ if t.ends_with("/status") || t.ends_with("/restart") => connector_status(&mut v),
        _ if t.ends_with("/tasks") => {
            for task in v.as_array_mut().into_iter().flatten() {
                if let Some(c) = task.get_mut("config").and_then(Value::as_object_mut) {
                    c.remove("task.class");
                }
            }
        }
        _ if t.ends_with("/offsets") => {
            if let Some(Value::Array(entries)) = v.get_mut("offsets") {
                for e in entries.iter_mut() {
                    if e.get("offset").is_some_and(|o| !o.is_null()) {
                        e["offset"] = json!("<offset>");
                    }
                }
                entries.sort_by_key(|e| e["partition"].to_string());
            }
        }
        _ if t.ends_with("/topics") => {
            if let Some(o) = v.as_object_mut() {
                for (_, e) in o.iter_mut() {
                    if let Some(Value::Array(topics)) = e.get_mut("topics") {
                        topics.sort_by_key(|x| x.to_string());
                    }
                }
            }
        }
        "/admin/loggers" | "/admin/loggers/" => {
            if let Some(o) = v.as_object_mut() {
                o.retain(|k, _| k == "root" || k.starts_with(logger_prefix));
                for (_, e) in o.iter_mut() {
                    logger_level(e);
                }
            }
        }
        _ if t.starts_with("/admin/loggers/") => logger_level(&mut v),
        _ => {}
    }
    v
}

fn logger_level(v: &mut Value) {
    if let Some(t) = v.get_mut("last_modified") {
        if t.is_number() {
            *t = json!("<timestamp>");
        }
    }
}

// ------------------------------------------------------------------ the run

/// One compared step, for the report.
pub struct StepLog {
    pub label: String,
    pub kc: u16,
    pub sluice: u16,
    pub diffs: usize,
}

/// Both workers, the steps run so far and their differences.
pub struct Parity {
    pub kc: Side,
    pub sluice: Side,
    pub logger_prefix: String,
    pub diffs: Vec<Diff>,
    pub steps: Vec<StepLog>,
}

impl Parity {
    pub fn req(&self, method: &str, template: &str, vars: &[(&str, &str)]) -> Req {
        let mut path = template.to_string();
        for (k, v) in vars {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        Req {
            method: method.to_string(),
            template: template.to_string(),
            path,
            body_kc: None,
            body_sluice: None,
            content_type: Some("application/json".into()),
            note: String::new(),
        }
    }

    fn send_to(&self, side: &Side, r: &Req) -> Reply {
        let body = match side.which {
            Which::Kc => r.body_kc.as_deref(),
            Which::Sluice => r.body_sluice.as_deref(),
        };
        let who = match side.which {
            Which::Kc => "Kafka Connect",
            Which::Sluice => "Sluice",
        };
        send(
            side.port,
            &r.method,
            &r.path,
            body,
            r.content_type.as_deref(),
        )
        .unwrap_or_else(|e| panic!("{who} on port {}: {} {}: {e}", side.port, r.method, r.path))
    }

    /// Sends `r` to both sides (Kafka Connect first), compares, records
    /// the differences; returns both raw replies.
    pub fn step(&mut self, r: Req) -> (Reply, Reply) {
        let a = self.send_to(&self.kc, &r);
        let b = self.send_to(&self.sluice, &r);
        let label = r.label();
        let mut found = Vec::new();
        if a.status != b.status {
            found.push((
                "HTTP status".to_string(),
                a.status.to_string(),
                b.status.to_string(),
            ));
        }
        let na = normalise(&r, &self.kc, &self.logger_prefix, &a.body);
        let mut nb = normalise(&r, &self.sluice, &self.logger_prefix, &b.body);
        if is_error(&na) && is_error(&nb) {
            if let (Some(x), Some(y)) = (na["message"].as_str(), nb["message"].as_str()) {
                if message_matches(x, y) {
                    nb["message"] = na["message"].clone();
                }
            }
        }
        // The Location header of a creation (N1).
        if a.status == 201 || b.status == 201 {
            let la = a.header("location").map(|l| self.kc.subst(l));
            let lb = b.header("location").map(|l| self.sluice.subst(l));
            if la != lb {
                found.push((
                    "header Location".into(),
                    la.unwrap_or_else(|| ABSENT.into()),
                    lb.unwrap_or_else(|| ABSENT.into()),
                ));
            }
        }
        let mut body_diffs = Vec::new();
        diff_json("", Some(&na), Some(&nb), &mut body_diffs);
        found.extend(body_diffs);
        eprintln!(
            "{} {label}: KC {} / Sluice {}{}",
            if found.is_empty() { "  same" } else { "  DIFF" },
            a.status,
            b.status,
            if found.is_empty() {
                String::new()
            } else {
                format!(", {} difference(s)", found.len())
            }
        );
        self.steps.push(StepLog {
            label: label.clone(),
            kc: a.status,
            sluice: b.status,
            diffs: found.len(),
        });
        for (path, kc, sluice) in found {
            self.diffs.push(Diff {
                step: label.clone(),
                path,
                kc,
                sluice,
            });
        }
        (a, b)
    }

    /// Polls `GET path` on both sides until `pred` holds for each (it is a
    /// wait, not a comparison); panics at the deadline with the last bodies.
    pub fn wait_both(
        &self,
        what: &str,
        path: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) {
        for side in [&self.kc, &self.sluice] {
            let mut last = String::new();
            let failed_body = crate::common::poll(timeout, || {
                let r = send(side.port, "GET", path, None, None).ok()?;
                let v = r.json_or_null();
                if r.status == 200 && pred(&v) {
                    return Some(None);
                }
                let failed = |x: &Value| x["state"] == "FAILED";
                if failed(&v["connector"])
                    || v["tasks"].as_array().is_some_and(|t| t.iter().any(failed))
                {
                    return Some(Some(r.body));
                }
                last = format!("{} {}", r.status, r.body);
                None
            });
            match failed_body {
                Some(None) => {}
                Some(Some(body)) => panic!(
                    "{:?}: a connector or task FAILED while waiting for {what} (GET {path}): {body}",
                    side.which
                ),
                None => panic!(
                    "{:?} never reached {what} within {timeout:?} (GET {path}); last reply: {last}",
                    side.which
                ),
            }
        }
    }

    /// The verdict: every difference explained by `known`, every entry of
    /// `known` used. Prints (and returns) the full report.
    pub fn verdict(&self, known: &[Known]) -> Result<String, String> {
        let mut used = vec![0usize; known.len()];
        let mut unexplained = Vec::new();
        let mut report = String::new();
        let _ = writeln!(
            report,
            "REST parity: {} steps, {} differences",
            self.steps.len(),
            self.diffs.len()
        );
        for d in &self.diffs {
            let hit = known
                .iter()
                .position(|k| glob(k.step, &d.step) && glob(k.path, &d.path));
            match hit {
                Some(i) => used[i] += 1,
                None => unexplained.push(d),
            }
            let _ = writeln!(
                report,
                "{} {} | {} | KC: {} | Sluice: {}",
                if hit.is_some() { "known  " } else { "NEW    " },
                d.step,
                d.path,
                d.kc,
                d.sluice
            );
        }
        let unused: Vec<&Known> = known
            .iter()
            .zip(&used)
            .filter(|(k, n)| **n == 0 && !k.timing)
            .map(|(k, _)| k)
            .collect();
        for k in &unused {
            let _ = writeln!(
                report,
                "UNUSED known difference: {} | {} ({})",
                k.step, k.path, k.why
            );
        }
        if unexplained.is_empty() && unused.is_empty() {
            Ok(report)
        } else {
            let _ = writeln!(
                report,
                "{} unexplained difference(s), {} known difference(s) that never matched",
                unexplained.len(),
                unused.len()
            );
            Err(report)
        }
    }
}
