//! Secrets in configs, and their removal from any text that leaves the
//! worker (a log line, a status trace, an error message).
//!
//! A key holds a secret when Kafka Connect or its clients would treat it as
//! a password: PASSWORD-type keys by name (`*password`, `*.secret`,
//! `sasl.jaas.config`, `basic.auth.user.info`, ...) under any prefix
//! (`producer.override.`, `consumer.`, `database.`). Errors raised by
//! libraries (librdkafka quotes a bad `sasl.jaas.config` whole) cannot be
//! trusted to leave values out, so every text that names a failure passes
//! through [`Secrets::redact`], which replaces each secret value, and the
//! password inside a JAAS config, with `[hidden]`, as Kafka Connect shows
//! PASSWORD values.

use crate::plugin::Props;

/// What a hidden value is shown as (Kafka Connect's `Password.HIDDEN`).
pub const HIDDEN: &str = "[hidden]";

/// Whether `key` (with any prefix) holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let last = k.rsplit('.').next().unwrap_or(&k);
    last.contains("password")
        || last == "secret"
        || last.ends_with("secret")
        || last == "token"
        || k.ends_with("sasl.jaas.config")
        || k.ends_with("basic.auth.user.info")
        || k.ends_with("oauthbearer.config")
}

/// The secret values of some configs, to hide in texts.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// Collects the values of every secret key of each of `configs`.
    pub fn of<'a>(configs: impl IntoIterator<Item = &'a Props>) -> Secrets {
        let mut values = Vec::new();
        for props in configs {
            for (k, v) in props {
                if is_secret_key(k) && !v.is_empty() {
                    values.push(v.clone());
                    values.extend(jaas_options(v).into_iter().filter_map(|(name, value)| {
                        name.to_ascii_lowercase()
                            .contains("password")
                            .then_some(value)
                    }));
                }
            }
        }
        // Longest first, so a JAAS config goes whole before its password.
        values.retain(|v| !v.is_empty());
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets { values }
    }

    /// `text` with every secret value replaced by `[hidden]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), HIDDEN);
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The options of a JAAS config line (`Module required a="x" b=y;`), as
/// (name, value) pairs with the quotes removed.
pub fn jaas_options(config: &str) -> Vec<(String, String)> {
    let body = config.trim().trim_end_matches(';');
    // Skip the login module class and its control flag.
    let mut rest = body;
    for _ in 0..2 {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    let mut out = Vec::new();
    let mut s = rest.trim_start();
    while let Some(eq) = s.find('=') {
        let name = s[..eq].trim().to_string();
        let after = s[eq + 1..].trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            (v, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        if !name.is_empty() {
            out.push((name, value));
        }
        s = tail.trim_start();
    }
    out
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
    fn secret_keys_under_any_prefix() {
        for k in [
            "database.password",
            "producer.override.sasl.jaas.config",
            "consumer.ssl.key.password",
            "ssl.truststore.password",
            "mongodb.password",
            "sasl.oauthbearer.client.secret",
            "basic.auth.user.info",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "database.user",
            "topic.prefix",
            "password.hint.column",
            "sasl.mechanism",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn redacts_values_and_the_password_inside_a_jaas_config() {
        let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="app" password="s3cr\"et";"#;
        let s = Secrets::of([&props(&[
            ("producer.override.sasl.jaas.config", jaas),
            ("database.password", "hunter22"),
            ("database.user", "app"),
        ])]);
        assert_eq!(
            s.redact(&format!("bad config {jaas}; login hunter22 failed")),
            "bad config [hidden]; login [hidden] failed"
        );
        assert_eq!(
            s.redact(r#"auth failed for s3cr"et"#),
            "auth failed for [hidden]"
        );
        assert_eq!(s.redact("user app"), "user app", "only secrets are hidden");
    }

    #[test]
    fn jaas_options_parse_quoted_and_bare_values() {
        let o = jaas_options(
            r#"x.PlainLoginModule required username="u" password=p2 serviceName="kafka";"#,
        );
        assert_eq!(
            o,
            vec![
                ("username".to_string(), "u".to_string()),
                ("password".to_string(), "p2".to_string()),
                ("serviceName".to_string(), "kafka".to_string())
            ]
        );
    }
}
