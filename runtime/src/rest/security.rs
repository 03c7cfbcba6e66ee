//! Who may call the REST API: HTTP Basic authentication as Kafka Connect's
//! `BasicAuthSecurityRestExtension` does it, and CORS as Kafka Connect's
//! `access.control.allow.origin` / `access.control.allow.methods` set up
//! Jetty's CrossOriginFilter.
//!
//! **Basic authentication.** A Kafka Connect worker turns it on with
//! `rest.extension.classes=org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension`
//! and a JAAS file (named by the JVM's `-Djava.security.auth.login.config`)
//! whose `KafkaConnect` section names `PropertyFileLoginModule` with a
//! `file` option: a properties file of `user=password` lines. Sluice takes
//! the same worker key and the same two files; the JAAS file is named by the
//! worker key `java.security.auth.login.config`, or by
//! `-Djava.security.auth.login.config=...` in `KAFKA_OPTS` as a Kafka Connect
//! deployment already sets it. As in Kafka Connect, the credentials are read
//! once at start, an empty credentials file lets every request through (with
//! a warning), and a request without valid credentials gets 401 "User cannot
//! access the resource." (in Kafka Connect's error JSON here, with a
//! `WWW-Authenticate` header so that browsers and curl can ask). Every path
//! is protected, `/` and `/health` included, as Kafka Connect's filter does;
//! only CORS preflights (which carry no credentials) are answered first.
//!
//! **CORS.** With `access.control.allow.origin` set (a comma-separated list of
//! origins, `*` for any, `*` inside an origin as a wildcard), a request
//! from an allowed origin gets `Access-Control-Allow-Origin` (the origin
//! itself) and `Access-Control-Allow-Credentials: true`; a preflight
//! (`OPTIONS` with `Access-Control-Request-Method`) is answered 200 with the
//! allowed methods (`access.control.allow.methods`, default GET,POST,HEAD as
//! Jetty's), headers (X-Requested-With,Content-Type,Accept,Origin) and a max
//! age of 1800 s when the method and headers are allowed, and with no CORS
//! headers otherwise. Without the key no CORS header is ever sent, so a
//! browser refuses every cross-origin answer; a cross-origin `text/plain`
//! POST (which needs no preflight) is refused with 415 before it reaches a
//! handler in either case (see `require_json`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::error::ApiError;
use crate::plugin::Props;

/// Kafka Connect's Basic authentication extension.
pub const BASIC_AUTH_EXTENSION: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
const LOGIN_MODULE: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule";
const DEFAULT_METHODS: &str = "GET,POST,HEAD";
const ALLOWED_HEADERS: &str = "X-Requested-With,Content-Type,Accept,Origin";

/// The REST API's access rules, read from the worker config.
#[derive(Debug, Clone, Default)]
pub struct RestSecurity {
    /// user → password (None: no authentication).
    pub basic: Option<BTreeMap<String, String>>,
    pub cors: Option<Cors>,
}

#[derive(Debug, Clone)]
pub struct Cors {
    origins: Vec<String>,
    methods: Vec<String>,
}

impl RestSecurity {
    /// Reads `rest.extension.classes`, the JAAS and credentials files, and
    /// the CORS keys. `kafka_opts` is the `KAFKA_OPTS` environment variable.
    pub fn from_worker(props: &Props, kafka_opts: Option<&str>) -> Result<RestSecurity, String> {
        let mut basic = None;
        let classes = props
            .get("rest.extension.classes")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for class in classes {
            if class != BASIC_AUTH_EXTENSION {
                return Err(format!(
                    "worker config: rest.extension.classes names {class}, a Java REST extension Sluice cannot run; Sluice has HTTP Basic authentication ({BASIC_AUTH_EXTENSION}): remove {class}, or put the worker behind a proxy that does what it did"
                ));
            }
            let jaas = props
                .get("java.security.auth.login.config")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .or_else(|| kafka_opts.and_then(jaas_path_from_opts))
                .ok_or_else(|| {
                    format!("worker config: rest.extension.classes names {BASIC_AUTH_EXTENSION}, but no JAAS file is named: set java.security.auth.login.config=/path/to/connect_jaas.conf in the worker config (or -Djava.security.auth.login.config=... in KAFKA_OPTS), with a KafkaConnect {{ {LOGIN_MODULE} required file=\"/path/to/credentials.properties\"; }}; section")
                })?;
            let text = std::fs::read_to_string(&jaas)
                .map_err(|e| format!("worker config: cannot read the JAAS file {jaas}: {e}"))?;
            let file = credentials_file(&text).map_err(|e| format!("JAAS file {jaas}: {e}"))?;
            let f = std::fs::File::open(&file).map_err(|e| {
                format!("JAAS file {jaas}: cannot read the credentials file {file}: {e}")
            })?;
            let users: BTreeMap<String, String> = java_properties::read(std::io::BufReader::new(f))
                .map_err(|e| {
                    format!("credentials file {file} is not a valid properties file: {e}")
                })?
                .into_iter()
                .collect();
            if users.is_empty() {
                tracing::warn!("REST: the credentials file {file} is empty; every request is let through, as Kafka Connect does: add user=password lines to require authentication");
            }
            basic = Some(users);
        }
        let cors = props
            .get("access.control.allow.origin")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(|origins| {
                let methods = props
                    .get("access.control.allow.methods")
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .unwrap_or(DEFAULT_METHODS);
                Cors {
                    origins: split(origins),
                    methods: split(methods),
                }
            });
        Ok(RestSecurity { basic, cors })
    }

    /// Whether anything is switched on.
    pub fn is_open(&self) -> bool {
        self.basic.is_none() && self.cors.is_none()
    }
}

fn split(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `-Djava.security.auth.login.config=PATH` in a JVM options string.
fn jaas_path_from_opts(opts: &str) -> Option<String> {
    opts.split_whitespace()
        .find_map(|o| o.strip_prefix("-Djava.security.auth.login.config="))
        .map(|p| p.trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|p| !p.is_empty())
}

/// The `file` option of the `KafkaConnect` section's login module.
fn credentials_file(jaas: &str) -> Result<String, String> {
    let text: String = jaas
        .lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let start = text
        .find("KafkaConnect")
        .and_then(|i| text[i..].find('{').map(|j| i + j + 1))
        .ok_or("it has no KafkaConnect { ... }; section, which Kafka Connect's extension reads")?;
    let end = text[start..]
        .find('}')
        .map(|j| start + j)
        .ok_or("its KafkaConnect section is not closed with }")?;
    let body = text[start..end].trim();
    let module = body.split_whitespace().next().unwrap_or("");
    if module != LOGIN_MODULE {
        return Err(format!(
            "its KafkaConnect section uses {module}; Sluice reads only {LOGIN_MODULE} (user=password lines in a properties file)"
        ));
    }
    let at = body
        .find("file")
        .and_then(|i| {
            let rest = body[i + 4..].trim_start();
            rest.strip_prefix('=').map(str::trim_start)
        })
        .ok_or_else(|| {
            format!("its {LOGIN_MODULE} has no file=\"...\" option naming the credentials file")
        })?;
    let value = match at.strip_prefix('"') {
        Some(q) => q.split('"').next().unwrap_or(""),
        None => at
            .split(|c: char| c.is_whitespace() || c == ';')
            .next()
            .unwrap_or(""),
    };
    if value.is_empty() {
        return Err("the file option of its login module is empty".into());
    }
    Ok(value.to_string())
}

/// Basic authentication, in front of every route.
pub async fn authenticate(
    State(sec): State<Arc<RestSecurity>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(users) = &sec.basic else {
        return next.run(req).await;
    };
    if users.is_empty() || credentials_ok(users, req.headers()) {
        return next.run(req).await;
    }
    let mut resp =
        ApiError::new(StatusCode::UNAUTHORIZED, "User cannot access the resource.").into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Kafka Connect\""),
    );
    resp
}

fn credentials_ok(users: &BTreeMap<String, String>, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, password)) = decoded.split_once(':') else {
        return false;
    };
    users
        .get(user)
        .is_some_and(|expected| same(expected.as_bytes(), password.as_bytes()))
}

/// Compares in time that does not depend on where the texts first differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// CORS, outermost: preflights are answered here (before authentication:
/// a browser sends them without credentials), other requests from an
/// allowed origin get the allow headers on their answer.
pub async fn cors(State(sec): State<Arc<RestSecurity>>, req: Request, next: Next) -> Response {
    let Some(cors) = &sec.cors else {
        return next.run(req).await;
    };
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let Some(origin) = origin.filter(|o| cors.allows_origin(o)) else {
        return next.run(req).await;
    };
    let preflight_method = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .map(str::to_string);
    if req.method() == Method::OPTIONS {
        if let Some(method) = preflight_method {
            let mut resp = StatusCode::OK.into_response();
            let asked_headers = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            if cors.methods.iter().any(|m| m == &method) && headers_allowed(asked_headers) {
                let h = resp.headers_mut();
                allow_origin(h, &origin);
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("1800"),
                );
                if let Ok(v) = HeaderValue::from_str(&cors.methods.join(",")) {
                    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
                }
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(ALLOWED_HEADERS),
                );
            }
            return resp;
        }
    }
    let mut resp = next.run(req).await;
    allow_origin(resp.headers_mut(), &origin);
    resp
}

fn allow_origin(h: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

fn headers_allowed(asked: &str) -> bool {
    asked
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .all(|h| {
            ALLOWED_HEADERS
                .split(',')
                .any(|a| a.eq_ignore_ascii_case(h))
        })
}

impl Cors {
    fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| glob(o, origin))
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jaas_file_names_the_credentials_file() {
        let jaas = format!(
            "// Kafka Connect's REST users\nKafkaConnect {{\n  {LOGIN_MODULE} required\n  file=\"/etc/kafka/connect.password\";\n}};\n"
        );
        assert_eq!(
            credentials_file(&jaas).unwrap(),
            "/etc/kafka/connect.password"
        );
        let other = "KafkaConnect { com.example.LdapLoginModule required url=\"ldap://x\"; };";
        assert!(credentials_file(other)
            .unwrap_err()
            .contains("com.example.LdapLoginModule"));
        assert!(credentials_file("KafkaServer { x required; };").is_err());
        assert_eq!(
            jaas_path_from_opts(
                "-Xmx1g -Djava.security.auth.login.config=/etc/kafka/jaas.conf -Dx=y"
            ),
            Some("/etc/kafka/jaas.conf".into())
        );
    }

    #[test]
    fn basic_credentials_are_checked() {
        let users: BTreeMap<String, String> =
            [("alice".to_string(), "pw:with:colons".to_string())].into();
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            h
        };
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert!(credentials_ok(
            &users,
            &with(&format!("Basic {}", b64("alice:pw:with:colons")))
        ));
        assert!(credentials_ok(
            &users,
            &with(&format!("basic {}", b64("alice:pw:with:colons")))
        ));
        assert!(!credentials_ok(
            &users,
            &with(&format!("Basic {}", b64("alice:pw")))
        ));
        assert!(!credentials_ok(
            &users,
            &with(&format!("Basic {}", b64("bob:pw:with:colons")))
        ));
        assert!(!credentials_ok(
            &users,
            &with(&format!("Bearer {}", b64("alice:pw:with:colons")))
        ));
        assert!(!credentials_ok(&users, &HeaderMap::new()));
    }

    #[test]
    fn origins_match_as_jetty_patterns() {
        assert!(glob("*", "http://evil.example"));
        assert!(glob("https://*.example.com", "https://ui.example.com"));
        assert!(!glob("https://*.example.com", "https://example.org"));
        assert!(glob("http://localhost:3000", "http://localhost:3000"));
        assert!(!glob("http://localhost:3000", "http://localhost:3001"));
        assert!(headers_allowed("content-type, Accept"));
        assert!(!headers_allowed("Authorization"));
    }

    #[test]
    fn unknown_rest_extensions_are_refused() {
        let props: Props = [(
            "rest.extension.classes".to_string(),
            "com.example.MyExtension".to_string(),
        )]
        .into();
        let e = RestSecurity::from_worker(&props, None).unwrap_err();
        assert!(
            e.contains("com.example.MyExtension") && e.contains(BASIC_AUTH_EXTENSION),
            "{e}"
        );
        let props: Props = [(
            "rest.extension.classes".to_string(),
            BASIC_AUTH_EXTENSION.to_string(),
        )]
        .into();
        let e = RestSecurity::from_worker(&props, None).unwrap_err();
        assert!(e.contains("java.security.auth.login.config"), "{e}");
    }
}
