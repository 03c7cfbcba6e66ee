//! JDBC connection URLs: `jdbc:postgresql://host[:port]/database?k=v&...`,
//! `jdbc:mariadb://...` and `jdbc:mysql://...`, as the Java drivers read
//! them (the parts Sluice uses: host, port, database, user, password,
//! `currentSchema`, `sslmode`/`ssl`). Messages never echo the URL, which
//! may hold a password.

use std::collections::BTreeMap;

use crate::mysql::tls::{SslMode, TlsOptions};

/// Which database the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    /// MariaDB and MySQL: one SQL dialect for what the sink writes.
    MariaDb,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MariaDb => "MariaDB/MySQL",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct JdbcUrl {
    pub dialect: Dialect,
    pub host: String,
    pub port: u16,
    pub database: String,
    /// Query parameters (`user`, `password`, `currentSchema`, ...).
    pub params: BTreeMap<String, String>,
}

impl std::fmt::Debug for JdbcUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is a parameter: never printed.
        f.debug_struct("JdbcUrl")
            .field("dialect", &self.dialect)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .finish()
    }
}

const FORMS: &str = "jdbc:postgresql://host[:port]/database, jdbc:mariadb://host[:port]/database or jdbc:mysql://host[:port]/database";

impl JdbcUrl {
    pub fn parse(url: &str) -> Result<JdbcUrl, String> {
        let url = url.trim();
        let (dialect, rest, default_port) = if let Some(r) = url.strip_prefix("jdbc:postgresql:") {
            (Dialect::Postgres, r, 5432)
        } else if let Some(r) = url
            .strip_prefix("jdbc:mariadb:")
            .or_else(|| url.strip_prefix("jdbc:mysql:"))
        {
            (Dialect::MariaDb, r, 3306)
        } else {
            let scheme: String = url
                .split("//")
                .next()
                .unwrap_or("")
                .chars()
                .take(40)
                .collect();
            return Err(format!(
                "connection.url must start with jdbc:postgresql:, jdbc:mariadb: or jdbc:mysql: (it starts with '{scheme}'); the forms Sluice reads are {FORMS}"
            ));
        };
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, q),
            None => (rest, ""),
        };
        let mut params = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(k.to_string(), percent_decode(v));
        }
        let (authority, database) = match main.strip_prefix("//") {
            Some(a) => match a.split_once('/') {
                Some((h, d)) => (h.to_string(), d.to_string()),
                None => (a.to_string(), String::new()),
            },
            // jdbc:postgresql:database means localhost.
            None => ("localhost".to_string(), main.to_string()),
        };
        if authority.contains(',') {
            return Err(format!(
                "connection.url names several hosts; Sluice's JDBC sink connects to one: keep the first host. Forms: {FORMS}"
            ));
        }
        if authority.contains('@') {
            return Err(
                "connection.url holds user@host; give the user in connection.username (or ?user=) instead"
                    .into(),
            );
        }
        let (host, port) = split_host_port(&authority, default_port)?;
        if host.is_empty() {
            return Err(format!("connection.url has no host; the forms are {FORMS}"));
        }
        let database = percent_decode(&database);
        if database.is_empty() {
            return Err(format!(
                "connection.url names no database (the part after host:port/); the forms are {FORMS}"
            ));
        }
        let u = JdbcUrl {
            dialect,
            host,
            port,
            database,
            params,
        };
        u.tls()?;
        Ok(u)
    }

    /// The TLS settings the URL asks for, as the Java drivers name them.
    /// PostgreSQL (pgjdbc): `sslmode` disable, allow, prefer (the default),
    /// require, verify-ca, verify-full; `ssl=true` is verify-full;
    /// `sslrootcert` the CA file. MariaDB/MySQL: `sslMode` disable(d),
    /// trust, preferred, required, verify-ca / verify_ca, verify-full /
    /// verify_identity; `useSSL=true` (or `useSsl`) is required;
    /// `serverSslCert` the CA file. Unknown values are refused.
    pub fn tls(&self) -> Result<TlsOptions, String> {
        let get = |k: &str| {
            self.params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.trim().to_ascii_lowercase())
        };
        let (mode_key, ca_key) = match self.dialect {
            Dialect::Postgres => ("sslmode", "sslrootcert"),
            Dialect::MariaDb => ("sslMode", "serverSslCert"),
        };
        let mode = match (self.dialect, get(mode_key)) {
            (_, Some(m)) => match m.replace('_', "-").as_str() {
                "disable" | "disabled" => SslMode::Disabled,
                "allow" | "prefer" | "preferred" => SslMode::Preferred,
                "require" | "required" | "trust" => SslMode::Required,
                "verify-ca" => SslMode::VerifyCa,
                "verify-full" | "verify-identity" => SslMode::VerifyIdentity,
                other => {
                    return Err(format!(
                        "connection.url: {mode_key}={other} is not a TLS mode Sluice knows (disable, prefer, require, verify-ca, verify-full)"
                    ))
                }
            },
            (Dialect::Postgres, None) if get("ssl").as_deref() == Some("true") => {
                SslMode::VerifyIdentity
            }
            (Dialect::MariaDb, None) if get("useSSL").as_deref() == Some("true") => {
                SslMode::Required
            }
            (_, None) => SslMode::Preferred,
        };
        if self.dialect == Dialect::MariaDb && get("trustCertificateKeyStoreUrl").is_some() {
            return Err("connection.url: trustCertificateKeyStoreUrl (a Java key store) cannot be read; export the CA as PEM (keytool -exportcert -rfc) and give its path as serverSslCert".into());
        }
        let ca_file = self
            .params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(ca_key))
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty());
        Ok(TlsOptions { mode, ca_file })
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// `host:port/database`, for messages (no credentials).
    pub fn display(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }
}

fn split_host_port(a: &str, default_port: u16) -> Result<(String, u16), String> {
    // [v6]:port
    if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or("connection.url has an unclosed [ in its host")?;
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(p)?,
            None => default_port,
        };
        return Ok((h.to_string(), port));
    }
    match a.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), parse_port(p)?)),
        None => Ok((a.to_string(), default_port)),
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
        format!("connection.url has port '{p}', which is not a port number (1-65535)")
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls() {
        let u = JdbcUrl::parse("jdbc:postgresql://127.0.0.1:5433/sluice?currentSchema=s1&user=x")
            .unwrap();
        assert_eq!(u.dialect, Dialect::Postgres);
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 5433));
        assert_eq!(u.database, "sluice");
        assert_eq!(u.param("currentSchema"), Some("s1"));
        let u = JdbcUrl::parse("jdbc:postgresql://db/app").unwrap();
        assert_eq!(u.port, 5432);
        let u = JdbcUrl::parse("jdbc:postgresql:app").unwrap();
        assert_eq!((u.host.as_str(), u.database.as_str()), ("localhost", "app"));
    }

    #[test]
    fn mariadb_and_mysql_urls() {
        // Bytes after a % that are not hex digits stay as they are.
        let u = JdbcUrl::parse("jdbc:postgresql://h/d?password=%a\u{e9}%zz%41").unwrap();
        assert_eq!(u.param("password"), Some("%a\u{e9}%zzA"));
        let u = JdbcUrl::parse("jdbc:mariadb://[::1]:3307/t%20db").unwrap();
        assert_eq!(u.dialect, Dialect::MariaDb);
        assert_eq!((u.host.as_str(), u.port), ("::1", 3307));
        assert_eq!(u.database, "t db");
        assert_eq!(
            JdbcUrl::parse("jdbc:mysql://h/d").unwrap().dialect,
            Dialect::MariaDb
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong_without_echoing_secrets() {
        for (url, says) in [
            ("postgresql://h/d", "must start with"),
            ("jdbc:oracle:thin:@h:1521:x", "must start with"),
            ("jdbc:postgresql://h:99999/d", "not a port"),
            ("jdbc:postgresql://h:5432", "no database"),
            ("jdbc:postgresql://a,b/d", "several hosts"),
            (
                "jdbc:postgresql://h/d?sslmode=sometimes&password=hunter2",
                "TLS mode",
            ),
            (
                "jdbc:mysql://h/d?trustCertificateKeyStoreUrl=file:/k.jks",
                "PEM",
            ),
        ] {
            let e = JdbcUrl::parse(url).unwrap_err();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let u = JdbcUrl::parse("jdbc:postgresql://h/d?password=hunter2").unwrap();
        assert!(!format!("{u:?}").contains("hunter2"));
    }

    #[test]
    fn tls_settings_as_the_java_drivers_name_them() {
        let tls = |u: &str| JdbcUrl::parse(u).unwrap().tls().unwrap();
        assert_eq!(tls("jdbc:postgresql://h/d").mode, SslMode::Preferred);
        assert_eq!(
            tls("jdbc:postgresql://h/d?sslmode=disable").mode,
            SslMode::Disabled
        );
        assert_eq!(
            tls("jdbc:postgresql://h/d?sslmode=require").mode,
            SslMode::Required
        );
        let t = tls("jdbc:postgresql://h/d?sslmode=verify-ca&sslrootcert=/ca.pem");
        assert_eq!(
            (t.mode, t.ca_file.as_deref()),
            (SslMode::VerifyCa, Some("/ca.pem"))
        );
        assert_eq!(
            tls("jdbc:postgresql://h/d?ssl=true").mode,
            SslMode::VerifyIdentity
        );
        assert_eq!(
            tls("jdbc:mariadb://h/d?sslMode=trust").mode,
            SslMode::Required
        );
        assert_eq!(
            tls("jdbc:mysql://h/d?sslMode=VERIFY_IDENTITY").mode,
            SslMode::VerifyIdentity
        );
        assert_eq!(tls("jdbc:mysql://h/d?useSSL=true").mode, SslMode::Required);
        assert_eq!(
            tls("jdbc:mariadb://h/d?sslMode=disable").mode,
            SslMode::Disabled
        );
    }
}
