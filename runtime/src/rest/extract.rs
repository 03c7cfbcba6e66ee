//! Request extractors that fail in Kafka Connect's error shape.
//!
//! axum's own `Json`, `Path` and `Query` rejections answer in plain text.
//! [`JsonBody`] reads the raw bytes and parses them as JSON; a parse error
//! becomes a 400 whose message names the JSON problem (line, column, what was
//! expected). As in Kafka Connect, a body without a `Content-Type` is a 415
//! (a `Content-Type` other than `application/json` is refused before, see
//! `require_json` in the module above). Query strings are parsed by hand because Kafka Connect repeats
//! keys (`?expand=status&expand=info`), which `serde_urlencoded` cannot keep.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use crate::plugin::Props;

/// How long a request body may take to arrive (Jetty's idle timeout in
/// Kafka Connect): a client that stops sending holds no handler longer.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A request body parsed as JSON regardless of its `Content-Type`.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match req.headers().get(header::CONTENT_TYPE) {
            Some(ct) if is_json_media_type(ct) => {}
            _ => return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "HTTP 415 Unsupported Media Type: send the body as Content-Type: application/json",
            )),
        }
        let read = tokio::time::timeout(BODY_TIMEOUT, Bytes::from_request(req, state));
        let bytes = read.await.map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "HTTP 408 Request Timeout: the request body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            )
        })?;
        let bytes = bytes.map_err(|e| {
            let status = e.status();
            let status = if status.is_client_error() || status.is_server_error() {
                status
            } else {
                StatusCode::BAD_REQUEST
            };
            ApiError::new(
                status,
                format!("Cannot read the request body: {}", e.body_text()),
            )
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Whether a `Content-Type` is `application/json` (any case, any parameters
/// such as `; charset=utf-8`), the only type Kafka Connect consumes.
pub fn is_json_media_type(value: &HeaderValue) -> bool {
    value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses a request body, with messages that say what is wrong with it.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "Request body is empty: send a JSON document",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON in request body: {e}")))
}

/// Path parameters, with a JSON 400 instead of axum's plain-text rejection.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|e| ApiError::bad_request(format!("Invalid request path: {}", e.body_text())))
    }
}

/// The query string as ordered, percent-decoded pairs; keys may repeat.
#[derive(Debug, Clone, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryPairs::parse(parts.uri.query().unwrap_or("")))
    }
}

impl QueryPairs {
    pub fn parse(query: &str) -> QueryPairs {
        let pairs = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (percent_decode(k), percent_decode(v)),
                None => (percent_decode(p), String::new()),
            })
            .collect();
        QueryPairs(pairs)
    }

    /// Every value given for `key`, in order.
    pub fn all<'a, 'k>(&'a self, key: &'k str) -> impl Iterator<Item = &'a str> + use<'a, 'k> {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value given for `key`.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.all(key).next()
    }

    /// A boolean flag read as JAX-RS reads `Boolean`: only a case-insensitive
    /// "true" is true; absent means `default`.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.first(key)
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
            .unwrap_or(default)
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; invalid escapes are kept as written, invalid UTF-8 replaced.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// A connector config from JSON. Like Jackson reading `Map<String, String>`,
/// numbers and booleans are accepted and kept as their JSON text
/// (`"tasks.max": 1` is `"1"`); null, arrays and objects are rejected.
pub fn props_from_json(value: &Value, what: &str) -> Result<Props, ApiError> {
    let Some(map) = value.as_object() else {
        return Err(ApiError::bad_request(format!(
            "{what} must be a JSON object of string keys to string values, not {}",
            json_kind(value)
        )));
    };
    let mut props = Props::new();
    for (key, v) in map {
        match scalar_to_string(v) {
            Some(s) => {
                props.insert(key.clone(), s);
            }
            None => {
                return Err(ApiError::bad_request(format!(
                    "{what}: the value of \"{key}\" must be a string, not {}",
                    json_kind(v)
                )))
            }
        }
    }
    Ok(props)
}

/// A config patch: like [`props_from_json`], but a null value means "remove".
pub fn patch_from_json(value: &Value) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let Some(map) = value.as_object() else {
        return Err(ApiError::bad_request(format!(
            "Connector config patch must be a JSON object, not {}",
            json_kind(value)
        )));
    };
    let mut patch = Vec::with_capacity(map.len());
    for (key, v) in map {
        if v.is_null() {
            patch.push((key.clone(), None));
        } else if let Some(s) = scalar_to_string(v) {
            patch.push((key.clone(), Some(s)));
        } else {
            return Err(ApiError::bad_request(format!(
                "Connector config patch: the value of \"{key}\" must be a string or null, not {}",
                json_kind(v)
            )));
        }
    }
    Ok(patch)
}

fn scalar_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// "an object", "null", ... for error messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
