//! Config providers (Kafka's KIP-297): `${provider:[path:]key}` in a worker
//! or connector config stands for a value the worker reads when it needs it,
//! so that secrets stay out of the config as it is stored and shown.
//!
//! The worker config declares them as Kafka Connect's does:
//!
//! ```properties
//! config.providers=file,env,dir
//! config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
//! config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
//! config.providers.file.param.allowed.paths=/etc/sluice/secrets
//! ```
//!
//! - `FileConfigProvider`: `${file:/path/to/file.properties:key}`, the key's
//!   value in that properties file.
//! - `DirectoryConfigProvider`: `${dir:/path/to/dir:name}`, the whole content
//!   of the file `name` in that directory (Kubernetes secret volumes).
//! - `EnvVarConfigProvider`: `${env:NAME}`, an environment variable; its
//!   `allowlist.pattern` parameter limits which ones.
//! - `allowed.paths` (file and directory, KIP-993) limits which files may be
//!   read.
//!
//! Where Kafka Connect leaves a variable it cannot resolve as written (an
//! unknown provider, a missing key), Sluice fails with the key, the variable
//! and the remedy: a connector that started with the literal text `${...}` as
//! its password would fail later with a message that names none of it.
//!
//! What is stored (the state file, the config topic) and shown (every GET)
//! is the config as written; values are resolved when a connector or task
//! starts, and for validation. A connector's task configs are stored with the
//! variables put back ([`ConfigProviders::unresolve`], as Kafka Connect's
//! herder does), so a resolved secret that a connector copies into its task
//! configs is not written to the config topic.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::plugin::Props;

const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const DIR_CLASS: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
const ENV_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";

#[derive(Debug, Clone)]
enum Kind {
    File,
    Dir,
    Env { allow: Option<regex::Regex> },
}

#[derive(Debug, Clone)]
struct Provider {
    kind: Kind,
    /// `allowed.paths`: files must lie under one of these (None: any).
    allowed: Option<Vec<PathBuf>>,
}

/// The providers a worker config declares (none: variables are errors).
#[derive(Debug, Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Provider>,
}

/// One `${provider:[path:]key}` in a value.
#[derive(Debug, PartialEq)]
struct Variable<'a> {
    /// Byte range of the whole `${...}` in the value.
    start: usize,
    end: usize,
    provider: &'a str,
    path: Option<&'a str>,
    key: &'a str,
}

/// The variables of `value`, as Kafka's ConfigTransformer finds them: the
/// provider runs to the first `:`, the path to the next one if there is one,
/// the key to the closing `}`.
fn variables(value: &str) -> Vec<Variable<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = value[from..].find("${") {
        let start = from + i;
        let Some(len) = value[start + 2..].find('}') else {
            break;
        };
        let inner = &value[start + 2..start + 2 + len];
        let end = start + 2 + len + 1;
        if let Some((provider, rest)) = inner.split_once(':') {
            let (path, key) = match rest.split_once(':') {
                Some((p, k)) => (Some(p), k),
                None => (None, rest),
            };
            out.push(Variable {
                start,
                end,
                provider,
                path,
                key,
            });
            from = end;
        } else {
            from = start + 2;
        }
    }
    out
}

/// Whether a value holds a `${provider:key}` variable.
pub fn has_variables(value: &str) -> bool {
    !variables(value).is_empty()
}

impl ConfigProviders {
    /// Reads `config.providers` and each provider's `class` and `param.*`
    /// from a worker config. An unknown class is an error naming the ones
    /// Sluice has.
    pub fn from_worker_props(props: &Props) -> Result<ConfigProviders, String> {
        let names: Vec<&str> = props
            .get("config.providers")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut providers = BTreeMap::new();
        for name in names {
            let prefix = format!("config.providers.{name}.");
            let class_key = format!("{prefix}class");
            let class = props.get(&class_key).map(|c| c.trim()).unwrap_or("");
            let param = |p: &str| {
                props
                    .get(&format!("{prefix}param.{p}"))
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
            };
            let allowed = param("allowed.paths").map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|p| normalize(Path::new(p)))
                    .collect::<Vec<_>>()
            });
            let kind = match class {
                FILE_CLASS => Kind::File,
                DIR_CLASS => Kind::Dir,
                ENV_CLASS => Kind::Env {
                    allow: match param("allowlist.pattern") {
                        None => None,
                        Some(p) => Some(regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                            format!("worker config: {prefix}param.allowlist.pattern={p} is not a valid regular expression: {e}")
                        })?),
                    },
                },
                "" => {
                    return Err(format!(
                        "worker config: config.providers names {name} but {class_key} is not set; set it to {FILE_CLASS}, {DIR_CLASS} or {ENV_CLASS}"
                    ))
                }
                other => {
                    return Err(format!(
                        "worker config: {class_key}={other} is not a config provider Sluice has; use {FILE_CLASS}, {DIR_CLASS} or {ENV_CLASS}"
                    ))
                }
            };
            providers.insert(name.to_string(), Provider { kind, allowed });
        }
        Ok(ConfigProviders { providers })
    }

    /// `props` with every variable replaced by its value. Keys that hold no
    /// variable are copied as they are. An error names the key, the
    /// variable and the remedy, and never a resolved value.
    pub fn resolve(&self, props: &Props) -> Result<Props, String> {
        let mut out = props.clone();
        for (k, v) in props {
            if let Some(resolved) = self.resolve_value(k, v)? {
                out.insert(k.clone(), resolved);
            }
        }
        Ok(out)
    }

    /// `props` resolved key by key: the keys that resolve get their values,
    /// the others keep their text and come back with the error (for
    /// validation, which reports every problem at once).
    pub fn resolve_each(&self, props: &Props) -> (Props, BTreeMap<String, String>) {
        let mut out = props.clone();
        let mut errors = BTreeMap::new();
        for (k, v) in props {
            match self.resolve_value(k, v) {
                Ok(Some(resolved)) => {
                    out.insert(k.clone(), resolved);
                }
                Ok(None) => {}
                Err(e) => {
                    errors.insert(k.clone(), e);
                }
            }
        }
        (out, errors)
    }

    /// The worker config's own variables resolved; the provider declarations
    /// (`config.providers*`) are left as they are.
    pub fn resolve_worker(&self, props: &Props) -> Result<Props, String> {
        let mut out = props.clone();
        for (k, v) in props {
            if k.starts_with("config.providers") {
                continue;
            }
            if let Some(resolved) = self.resolve_value(k, v)? {
                out.insert(k.clone(), resolved);
            }
        }
        Ok(out)
    }

    fn resolve_value(&self, key: &str, value: &str) -> Result<Option<String>, String> {
        let vars = variables(value);
        if vars.is_empty() {
            return Ok(None);
        }
        let mut out = String::with_capacity(value.len());
        let mut at = 0;
        for var in vars {
            out.push_str(&value[at..var.start]);
            let text = &value[var.start..var.end];
            out.push_str(
                &self
                    .lookup(&var)
                    .map_err(|e| format!("config key {key}: cannot resolve {text}: {e}"))?,
            );
            at = var.end;
        }
        out.push_str(&value[at..]);
        Ok(Some(out))
    }

    fn lookup(&self, var: &Variable) -> Result<String, String> {
        let Some(p) = self.providers.get(var.provider) else {
            let known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
            return Err(if known.is_empty() {
                format!("the worker defines no config providers; declare one in the worker config (config.providers={0} and config.providers.{0}.class=...)", var.provider)
            } else {
                format!("the worker defines no config provider named {} (it has {}); add it to config.providers in the worker config", var.provider, known.join(", "))
            });
        };
        match &p.kind {
            Kind::Env { allow } => {
                if var.path.is_some_and(|p| !p.is_empty()) {
                    return Err("the env provider takes no path; write ${env:NAME}".into());
                }
                if allow.as_ref().is_some_and(|re| !re.is_match(var.key)) {
                    return Err(format!(
                        "environment variable {} is not matched by the provider's allowlist.pattern",
                        var.key
                    ));
                }
                std::env::var(var.key).map_err(|_| {
                    format!(
                        "environment variable {} is not set in the worker's environment",
                        var.key
                    )
                })
            }
            Kind::File => {
                let path = self.allowed_path(p, var)?;
                let file = std::fs::File::open(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let map = java_properties::read(std::io::BufReader::new(file)).map_err(|e| {
                    format!("{} is not a valid properties file: {e}", path.display())
                })?;
                map.get(var.key)
                    .cloned()
                    .ok_or_else(|| format!("{} has no key {}", path.display(), var.key))
            }
            Kind::Dir => {
                let dir = self.allowed_path(p, var)?;
                if var.key.contains('/') || var.key == ".." || var.key == "." {
                    return Err(format!(
                        "{} names a file outside the directory; name a file directly in {}",
                        var.key,
                        dir.display()
                    ));
                }
                let file = dir.join(var.key);
                std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))
            }
        }
    }

    /// The variable's path, checked against `allowed.paths`.
    fn allowed_path(&self, p: &Provider, var: &Variable) -> Result<PathBuf, String> {
        let raw = var.path.filter(|s| !s.is_empty()).ok_or_else(|| {
            format!(
                "{} needs a path: write ${{{}:/path/to/{}:{}}}",
                var.provider,
                var.provider,
                if matches!(p.kind, Kind::Dir) {
                    "dir"
                } else {
                    "file.properties"
                },
                var.key
            )
        })?;
        let path = normalize(Path::new(raw));
        if let Some(allowed) = &p.allowed {
            if !allowed.iter().any(|a| path.starts_with(a)) {
                return Err(format!(
                    "{} is not under the provider's allowed.paths ({})",
                    path.display(),
                    allowed
                        .iter()
                        .map(|a| a.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(path)
    }

    /// Task configs as they are stored: each key whose value in the
    /// connector's config as written holds a variable gets that text back,
    /// so that a resolved secret the connector copied into its task configs
    /// is not stored (Kafka Connect's herder does the same).
    pub fn unresolve(written: &Props, mut task: Props) -> Props {
        for (k, v) in written {
            if has_variables(v) {
                if let Some(slot) = task.get_mut(k) {
                    *slot = v.clone();
                }
            }
        }
        task
    }
}

/// `path` made absolute against the working directory with `.` and `..`
/// taken out, without touching the file system (as Java's
/// `Path.normalize()`), so `allowed.paths` cannot be escaped with `..`.
fn normalize(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
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

    fn providers(extra: &[(&str, &str)]) -> ConfigProviders {
        let mut kv = vec![
            ("config.providers", "file,env,dir"),
            ("config.providers.file.class", FILE_CLASS),
            ("config.providers.env.class", ENV_CLASS),
            ("config.providers.dir.class", DIR_CLASS),
        ];
        kv.extend_from_slice(extra);
        ConfigProviders::from_worker_props(&props(&kv)).unwrap()
    }

    #[test]
    fn variables_split_as_kafka_does() {
        let v = variables("a${file:/x/y.properties:db.password}b${env:HOME}${nope}${dir:/d:k:z}");
        assert_eq!(v.len(), 3);
        assert_eq!(
            (v[0].provider, v[0].path, v[0].key),
            ("file", Some("/x/y.properties"), "db.password")
        );
        assert_eq!((v[1].provider, v[1].path, v[1].key), ("env", None, "HOME"));
        assert_eq!(
            (v[2].provider, v[2].path, v[2].key),
            ("dir", Some("/d"), "k:z")
        );
        assert!(variables("plain ${text} and $1").is_empty());
    }

    #[test]
    fn file_dir_and_env_resolve() {
        let dir = std::env::temp_dir().join(format!("sluice-cp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("db.properties"),
            "password=s3cret-file\nuser: bob\n",
        )
        .unwrap();
        std::fs::write(dir.join("token"), "tok\n").unwrap();
        let p = providers(&[]);
        let f = dir.join("db.properties").display().to_string();
        let d = dir.display().to_string();
        let cfg = props(&[
            ("a", &format!("${{file:{f}:password}}")),
            ("b", &format!("u=${{file:{f}:user}};t=${{dir:{d}:token}}")),
            ("c", "${env:PATH}"),
            ("d", "no variables"),
        ]);
        let r = p.resolve(&cfg).unwrap();
        assert_eq!(r["a"], "s3cret-file");
        assert_eq!(r["b"], "u=bob;t=tok\n");
        assert_eq!(r["c"], std::env::var("PATH").unwrap());
        assert_eq!(r["d"], "no variables");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_key_the_variable_and_the_remedy() {
        let p = providers(&[
            ("config.providers.file.param.allowed.paths", "/etc/sluice"),
            ("config.providers.env.param.allowlist.pattern", "SLUICE_.*"),
        ]);
        let err = |v: &str| p.resolve(&props(&[("database.password", v)])).unwrap_err();
        let e = err("${vault:secret/db:password}");
        assert!(
            e.contains("database.password")
                && e.contains("${vault:secret/db:password}")
                && e.contains("config.providers"),
            "{e}"
        );
        let e = err("${file:/etc/sluice/../shadow:x}");
        assert!(
            e.contains("/etc/shadow is not under the provider's allowed.paths (/etc/sluice)"),
            "{e}"
        );
        let e = err("${env:HOME}");
        assert!(e.contains("allowlist.pattern"), "{e}");
        let e = err("${env:SLUICE_SURELY_UNSET_VARIABLE}");
        assert!(e.contains("not set"), "{e}");
        let e = err("${file:/etc/sluice/none.properties:x}");
        assert!(e.contains("cannot read /etc/sluice/none.properties"), "{e}");
        let e = err("${dir:/etc/sluice:../x}");
        assert!(e.contains("outside the directory"), "{e}");
        let none = ConfigProviders::default();
        let e = none.resolve(&props(&[("k", "${env:HOME}")])).unwrap_err();
        assert!(e.contains("defines no config providers"), "{e}");
    }

    #[test]
    fn unknown_classes_are_refused() {
        let e = ConfigProviders::from_worker_props(&props(&[
            ("config.providers", "vault"),
            (
                "config.providers.vault.class",
                "io.confluent.VaultConfigProvider",
            ),
        ]))
        .unwrap_err();
        assert!(
            e.contains("config.providers.vault.class=io.confluent.VaultConfigProvider")
                && e.contains(FILE_CLASS),
            "{e}"
        );
        let e = ConfigProviders::from_worker_props(&props(&[("config.providers", "file")]))
            .unwrap_err();
        assert!(e.contains("config.providers.file.class is not set"), "{e}");
    }

    #[test]
    fn task_configs_get_the_variables_back() {
        let written = props(&[("database.password", "${env:X}"), ("database.user", "u")]);
        let task = props(&[
            ("database.password", "resolved"),
            ("database.user", "u"),
            ("task.id", "0"),
        ]);
        let stored = ConfigProviders::unresolve(&written, task);
        assert_eq!(stored["database.password"], "${env:X}");
        assert_eq!(stored["database.user"], "u");
        assert_eq!(stored["task.id"], "0");
    }
}
