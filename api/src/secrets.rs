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
    /// Collects the values of every secret key of each of `configs`, and
    /// the passwords inside URIs (`mongodb://user:PASSWORD@host`,
    /// `jdbc:...?password=PASSWORD`) of any key.
    pub fn of<'a>(configs: impl IntoIterator<Item = &'a Props>) -> Secrets {
        Self::of_declared(configs, |_| false)
    }

    /// [`Secrets::of`], where `declared` also names the keys a plugin
    /// declares as PASSWORD under names of its own.
    pub fn of_declared<'a>(
        configs: impl IntoIterator<Item = &'a Props>,
        declared: impl Fn(&str) -> bool,
    ) -> Secrets {
        let mut values = Vec::new();
        for props in configs {
            for (k, v) in props {
                values.extend(uri_passwords(v));
                if (is_secret_key(k) || declared(k)) && !v.is_empty() {
                    values.push(v.clone());
                    values.extend(
                        jaas_options(v)
                            .into_iter()
                            .filter_map(|(name, value)| is_secret_key(&name).then_some(value)),
                    );
                }
            }
        }
        // Longest first, so a JAAS config goes whole before its password.
        values.retain(|v| !v.is_empty());
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets { values }
    }

    /// `text` with every secret value replaced by `[hidden]`, in one pass
    /// over the original (so one replacement never matches inside another).
    /// A value shorter than [`SHORT`] characters is replaced only as a whole
    /// word: a password such as `dbz` would otherwise shred every word that
    /// holds those letters, and tell the reader what it is.
    pub fn redact(&self, text: &str) -> String {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for v in &self.values {
            for (at, _) in text.match_indices(v.as_str()) {
                let end = at + v.len();
                if v.chars().count() < SHORT && !(word_edge(text, at) && word_edge(text, end)) {
                    continue;
                }
                if spans.iter().any(|&(a, b)| at < b && a < end) {
                    continue;
                }
                spans.push((at, end));
            }
        }
        if spans.is_empty() {
            return text.to_string();
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (a, b) in spans {
            out.push_str(&text[last..a]);
            out.push_str(HIDDEN);
            last = b;
        }
        out.push_str(&text[last..]);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The passwords a value carries inside URIs: the userinfo's password
/// (`scheme://user:PASSWORD@host`, as written and percent-decoded) and
/// `password=` / `pwd=` parameters (`jdbc:mysql://h/db?password=x`,
/// `;password=x`).
pub fn uri_passwords(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find("://") {
        let after = &rest[i + 3..];
        let authority_end = after
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        if let Some(at) = authority.rfind('@') {
            if let Some((_, pw)) = authority[..at].split_once(':') {
                if !pw.is_empty() {
                    out.push(pw.to_string());
                    let decoded = percent_decode(pw);
                    if decoded != pw {
                        out.push(decoded);
                    }
                }
            }
        }
        rest = &after[authority_end..];
    }
    let lower = value.to_ascii_lowercase();
    for name in ["password=", "pwd="] {
        for (at, _) in lower.match_indices(name) {
            let before_ok =
                at == 0 || matches!(lower.as_bytes()[at - 1], b'?' | b'&' | b';' | b' ');
            if !before_ok {
                continue;
            }
            let start = at + name.len();
            let end = value[start..]
                .find(['&', ';', ' ', '#'])
                .map(|e| start + e)
                .unwrap_or(value.len());
            if end > start {
                out.push(value[start..end].to_string());
                let decoded = percent_decode(&value[start..end]);
                if decoded != value[start..end] {
                    out.push(decoded);
                }
            }
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Secret values shorter than this are hidden only as whole words.
pub const SHORT: usize = 6;

/// Whether byte offset `at` of `text` is a word's edge: no letter or digit
/// on both of its sides.
fn word_edge(text: &str, at: usize) -> bool {
    let before = text[..at]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric);
    let after = text[at..].chars().next().is_some_and(char::is_alphanumeric);
    !(before && after)
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
    fn short_values_are_hidden_only_as_words_and_oauth_secrets_too() {
        let s = Secrets::of([&props(&[
            ("database.password", "dbz"),
            (
                "sasl.jaas.config",
                r#"x.OAuthBearerLoginModule required clientId="app" clientSecret="cs-7781";"#,
            ),
        ])]);
        assert_eq!(
            s.redact("io.dbzium login dbz failed; secret cs-7781"),
            "io.dbzium login [hidden] failed; secret [hidden]"
        );
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

    #[test]
    fn passwords_inside_uris_are_secrets() {
        assert_eq!(
            uri_passwords("mongodb://dbz:p%40ss@h1:27017,h2/?replicaSet=rs0"),
            vec!["p%40ss".to_string(), "p@ss".to_string()]
        );
        assert_eq!(
            uri_passwords("jdbc:mysql://h:3306/db?user=u&password=s3cret&ssl=true"),
            vec!["s3cret".to_string()]
        );
        assert_eq!(
            uri_passwords("jdbc:sqlserver://h;user=u;password=pw1;db=x"),
            vec!["pw1".to_string()]
        );
        assert!(uri_passwords("mongodb://h1:27017/?replicaSet=rs0").is_empty());
        assert!(uri_passwords("http://user@host/").is_empty());
        let s = Secrets::of([&props(&[(
            "mongodb.connection.string",
            "mongodb://dbz:CanaryPw9@h:27017/?replicaSet=rs0",
        )])]);
        assert_eq!(
            s.redact("cannot connect to mongodb://dbz:CanaryPw9@h:27017"),
            "cannot connect to mongodb://dbz:[hidden]@h:27017"
        );
        let declared =
            Secrets::of_declared([&props(&[("vault.credential", "LongCredential")])], |k| {
                k == "vault.credential"
            });
        assert_eq!(declared.redact("x LongCredential y"), "x [hidden] y");
    }
}
