//! The REST API's access rules, checked with curl as an operator would:
//! HTTP Basic authentication from Kafka Connect's JAAS and credentials
//! files; HTTPS with a CA made here and client certificates; CORS answers
//! to a browser's preflight, and a cross-origin `text/plain` POST that
//! creates nothing; `admin.listeners`; and a client that stalls in its body
//! not holding up a SIGTERM.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A worker started on `props` (beside the usual ones), waited for until it
/// answers `probe` with anything but 503 (the answer of a worker still
/// starting; it may be 401).
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(dir: &Path, props: &[(&str, &str)], probe: &[&str]) -> Worker {
        let mut text = format!(
            "bootstrap.servers={}\noffset.storage.file.filename={}\noffset.flush.interval.ms=1000\n",
            kafka_bootstrap(),
            dir.join("connect.offsets").display()
        );
        for (k, v) in props {
            text.push_str(&format!("{k}={v}\n"));
        }
        let file = dir.join("worker.properties");
        std::fs::write(&file, text).unwrap();
        let log = dir.join(format!("sluice-{}.log", unique("run")));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("standalone")
            .arg(&file)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start sluice");
        let mut w = Worker { child, log };
        let answered = poll(Duration::from_secs(60), || {
            if let Ok(Some(status)) = w.child.try_wait() {
                panic!("sluice exited ({status}); its log:\n{}", w.log_text());
            }
            // 503: listening, but still starting (GET /health says so).
            (!matches!(curl(probe).status, 0 | 503)).then_some(())
        });
        if answered.is_none() {
            w.stop();
            panic!(
                "sluice did not answer {probe:?} within 60 s; its log:\n{}",
                w.log_text()
            );
        }
        w
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

struct Answer {
    /// 0: no HTTP answer (refused, TLS failure).
    status: u16,
    headers: String,
    body: String,
    curl_error: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Runs curl with `args`; the status, headers and body it got.
fn curl(args: &[&str]) -> Answer {
    let dir = std::env::temp_dir();
    let tag = unique("curl");
    let headers = dir.join(format!("{tag}.h"));
    let body = dir.join(format!("{tag}.b"));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(["-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("run curl (apt-get install -y curl)");
    let a = Answer {
        status: String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: std::fs::read_to_string(&body).unwrap_or_default(),
        curl_error: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let _ = std::fs::remove_file(headers);
    let _ = std::fs::remove_file(body);
    a
}

/// Starts `sluice standalone` on a worker config of the shared broker, a
/// file offset store in `dir` and `props` (lines), expects it to refuse
/// to start, and returns what it printed.
fn refused_start(dir: &Path, props: &str) -> String {
    let file = dir.join("refused.properties");
    std::fs::write(
        &file,
        format!(
            "bootstrap.servers={}\noffset.storage.file.filename={}\n{props}",
            kafka_bootstrap(),
            dir.join("o").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("standalone")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the worker started on {props}");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn basic_authentication_with_kafka_connects_files() {
    let dir = TempDir::new("rest-basic");
    let jaas = basic_auth_files(
        dir.path(),
        "# user=password\nalice=alice-secret\nbob: bob-secret\n",
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listeners = format!("http://127.0.0.1:{port}");
    let jaas_path = jaas.display().to_string();
    let root = format!("{base}/");
    let w = Worker::start(
        dir.path(),
        &[
            ("listeners", &listeners),
            (
                "rest.extension.classes",
                "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension",
            ),
            ("java.security.auth.login.config", &jaas_path),
        ],
        &["-u", "alice:alice-secret", &root],
    );
    let connectors = format!("{base}/connectors");
    for args in [
        vec![connectors.as_str()],
        vec!["-u", "alice:wrong", connectors.as_str()],
        vec!["-u", "carol:alice-secret", connectors.as_str()],
        vec![root.as_str()],
    ] {
        let a = curl(&args);
        assert_eq!(a.status, 401, "{args:?}: {} {}", a.status, a.body);
        assert_eq!(a.json()["error_code"], 401, "{}", a.body);
        assert_eq!(a.json()["message"], "User cannot access the resource.");
        assert!(
            a.header("WWW-Authenticate")
                .is_some_and(|h| h.starts_with("Basic")),
            "{}",
            a.headers
        );
    }
    assert_eq!(curl(&["-u", "alice:alice-secret", &connectors]).status, 200);
    assert_eq!(curl(&["-u", "bob:bob-secret", &root]).status, 200);

    // An unauthenticated POST creates nothing; an authenticated one does.
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    let body = serde_json::json!({"name": "basic-file", "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": unique("basic")}})
    .to_string();
    let post = |user: Option<&str>| {
        let mut args = vec![
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data",
            &body,
        ];
        if let Some(u) = user {
            args.extend(["-u", u]);
        }
        args.push(&connectors);
        curl(&args)
    };
    assert_eq!(post(None).status, 401);
    assert_eq!(post(Some("alice:nope")).status, 401);
    assert_eq!(curl(&["-u", "alice:alice-secret", &connectors]).body, "[]");
    assert_eq!(post(Some("alice:alice-secret")).status, 201);
    assert_eq!(
        curl(&["-u", "alice:alice-secret", &connectors]).body,
        "[\"basic-file\"]"
    );
    let log = w.log_text();
    assert!(
        !log.contains("alice-secret") && !log.contains("bob-secret"),
        "{log}"
    );
}

#[test]
fn https_with_client_certificates_and_an_admin_listener() {
    let dir = TempDir::new("rest-tls");
    let d = dir.path();
    issue_cert(
        d,
        "server",
        "localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
    );
    issue_cert(d, "client", "operator", "extendedKeyUsage=clientAuth");
    // A PEM key store as Kafka Connect reads it: the key and the chain.
    let keystore = d.join("keystore.pem");
    let mut ks = std::fs::File::create(&keystore).unwrap();
    ks.write_all(&std::fs::read(d.join("server-key.pem")).unwrap())
        .unwrap();
    ks.write_all(&std::fs::read(d.join("server.pem")).unwrap())
        .unwrap();
    drop(ks);
    let (port, admin_port) = (free_port(), free_port());
    let listeners = format!("https://localhost:{port}");
    let admin = format!("http://127.0.0.1:{admin_port}");
    let keystore_path = keystore.display().to_string();
    let ca = d.join("ca.pem").display().to_string();
    let client_cert = d.join("client.pem").display().to_string();
    let client_key = d.join("client-key.pem").display().to_string();
    let base = format!("https://localhost:{port}");
    let root = format!("{base}/");
    let tls = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--cacert",
            &ca,
            "--cert",
            &client_cert,
            "--key",
            &client_key,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let tls_curl =
        |extra: &[&str]| curl(&tls(extra).iter().map(String::as_str).collect::<Vec<_>>());
    let _w = Worker::start(
        d,
        &[
            ("listeners", &listeners),
            ("admin.listeners", &admin),
            ("listeners.https.ssl.keystore.type", "PEM"),
            ("listeners.https.ssl.keystore.location", &keystore_path),
            ("listeners.https.ssl.client.auth", "required"),
            ("listeners.https.ssl.truststore.type", "PEM"),
            ("listeners.https.ssl.truststore.location", &ca),
        ],
        &tls(&[&root]).iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let a = tls_curl(&[&root]);
    assert_eq!(a.status, 200, "{}", a.curl_error);
    assert!(a.json()["version"].is_string(), "{}", a.body);
    let connectors = format!("{base}/connectors");
    assert_eq!(tls_curl(&[&connectors]).status, 200);

    // Without a client certificate, or without trusting the CA, or in
    // clear text, there is no answer.
    let no_cert = curl(&["--cacert", &ca, &root]);
    assert_eq!(
        no_cert.status, 0,
        "answered without a client certificate: {}",
        no_cert.body
    );
    let untrusted = curl(&["--cert", &client_cert, "--key", &client_key, &root]);
    assert_eq!(untrusted.status, 0);
    assert!(
        untrusted.curl_error.contains("certificate"),
        "{}",
        untrusted.curl_error
    );
    let plain = curl(&[&format!("http://localhost:{port}/")]);
    assert_ne!(plain.status, 200, "plain HTTP answered on the HTTPS port");

    // /admin only on the admin listener; the API not there.
    let loggers = format!("{base}/admin/loggers");
    assert_eq!(tls_curl(&[&loggers]).status, 404);
    let a = curl(&[&format!("{admin}/admin/loggers")]);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.json().is_object(), "{}", a.body);
    assert_eq!(curl(&[&format!("{admin}/connectors")]).status, 404);
}

#[test]
fn https_settings_that_cannot_work_stop_the_worker_with_the_remedy() {
    let dir = TempDir::new("rest-tls-bad");
    let jks = dir.path().join("keystore.jceks");
    std::fs::write(&jks, [0xce, 0xce, 0xce, 0xce, 0, 0, 0, 2]).unwrap();
    let port = free_port();
    let file = dir.path().join("worker.properties");
    let run = |props: &str| {
        std::fs::write(
            &file,
            format!(
                "bootstrap.servers={}\noffset.storage.file.filename={}\nlisteners=https://127.0.0.1:{port}\n{props}",
                kafka_bootstrap(),
                dir.path().join("o").display()
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("standalone")
            .arg(&file)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run(&format!("ssl.keystore.location={}\n", jks.display()));
    assert!(
        e.contains("JCEKS") && e.contains("keytool -importkeystore") && e.contains("PKCS12"),
        "{e}"
    );
    let e = run("");
    assert!(e.contains("listeners.https.ssl.keystore.location"), "{e}");
    let e = run("rest.extension.classes=com.example.LdapRestExtension\n");
    assert!(
        e.contains("com.example.LdapRestExtension") && e.contains("BasicAuthSecurityRestExtension"),
        "{e}"
    );
}

#[test]
fn cors_answers_allowed_origins_and_a_cross_origin_text_post_creates_nothing() {
    let dir = TempDir::new("rest-cors");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listeners = base.clone();
    let root = format!("{base}/");
    let _w = Worker::start(
        dir.path(),
        &[
            ("listeners", &listeners),
            ("access.control.allow.origin", "http://ui.example:3000"),
            ("access.control.allow.methods", "GET,POST,PUT,DELETE"),
        ],
        &[&root],
    );
    let connectors = format!("{base}/connectors");
    let preflight = |origin: &str, method: &str| {
        curl(&[
            "-X",
            "OPTIONS",
            "-H",
            &format!("Origin: {origin}"),
            "-H",
            &format!("Access-Control-Request-Method: {method}"),
            "-H",
            "Access-Control-Request-Headers: content-type",
            &connectors,
        ])
    };
    let ok = preflight("http://ui.example:3000", "PUT");
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.header("Access-Control-Allow-Origin").as_deref(),
        Some("http://ui.example:3000"),
        "{}",
        ok.headers
    );
    assert_eq!(
        ok.header("Access-Control-Allow-Methods").as_deref(),
        Some("GET,POST,PUT,DELETE")
    );
    assert!(ok
        .header("Access-Control-Allow-Headers")
        .is_some_and(|h| h.contains("Content-Type")));
    let patch = preflight("http://ui.example:3000", "PATCH");
    assert_eq!(
        patch.header("Access-Control-Allow-Origin"),
        None,
        "PATCH is not allowed"
    );
    let evil = preflight("http://evil.example", "POST");
    assert_eq!(
        evil.header("Access-Control-Allow-Origin"),
        None,
        "{}",
        evil.headers
    );

    let get = curl(&["-H", "Origin: http://ui.example:3000", &connectors]);
    assert_eq!(
        get.header("Access-Control-Allow-Origin").as_deref(),
        Some("http://ui.example:3000")
    );
    let get = curl(&["-H", "Origin: http://evil.example", &connectors]);
    assert_eq!(get.status, 200);
    assert_eq!(get.header("Access-Control-Allow-Origin"), None);

    // The POST a page on another site can send without a preflight.
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    let body = serde_json::json!({"name": "from-a-web-page", "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": unique("cors")}})
    .to_string();
    for origin in ["http://evil.example", "http://ui.example:3000"] {
        let a = curl(&[
            "-X",
            "POST",
            "-H",
            &format!("Origin: {origin}"),
            "-H",
            "Content-Type: text/plain;charset=UTF-8",
            "--data",
            &body,
            &connectors,
        ]);
        assert_eq!(a.status, 415, "{origin}: {}", a.body);
    }
    assert_eq!(curl(&[&connectors]).body, "[]", "a connector was created");
}

#[test]
fn a_client_stalled_in_its_body_does_not_hold_up_a_stop() {
    use std::net::TcpStream;
    let dir = TempDir::new("rest-slow");
    let mut s = Sluice::start(dir.path(), &[]);
    let mut stalled = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    write!(
        stalled,
        "POST /connectors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\""
    )
    .unwrap();
    stalled.flush().unwrap();
    // The request is in its handler, reading the body, once the worker
    // answers others again (one runtime, requests served concurrently).
    assert_eq!(s.get("/connectors").status, 200);
    let t = Instant::now();
    let status = s.terminate();
    let took = t.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_secs(15),
        "the stop waited {took:?} for the stalled client"
    );
    drop(stalled);
}

#[test]
fn https_with_java_style_pkcs12_stores() {
    let dir = TempDir::new("rest-p12");
    let d = dir.path();
    issue_cert(
        d,
        "server",
        "localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
    );
    issue_cert(d, "client", "operator", "extendedKeyUsage=clientAuth");
    // As keytool makes them: a key store with the key and chain, a trust
    // store with the CA only, each behind its password.
    openssl(
        d,
        &[
            "pkcs12",
            "-export",
            "-in",
            "server.pem",
            "-inkey",
            "server-key.pem",
            "-certfile",
            "ca.pem",
            "-out",
            "keystore.p12",
            "-passout",
            "pass:ks-secret",
        ],
    );
    openssl(
        d,
        &[
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            "ca.pem",
            "-out",
            "truststore.p12",
            "-passout",
            "pass:ts-secret",
        ],
    );
    let port = free_port();
    let listeners = format!("https://localhost:{port}");
    let ks = d.join("keystore.p12").display().to_string();
    let ts = d.join("truststore.p12").display().to_string();
    let ca = d.join("ca.pem").display().to_string();
    let cert = d.join("client.pem").display().to_string();
    let key = d.join("client-key.pem").display().to_string();
    let root = format!("https://localhost:{port}/");
    let args = [
        "--cacert",
        ca.as_str(),
        "--cert",
        cert.as_str(),
        "--key",
        key.as_str(),
        root.as_str(),
    ];
    let w = Worker::start(
        d,
        &[
            ("listeners", &listeners),
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.location", &ks),
            ("ssl.keystore.password", "ks-secret"),
            ("ssl.truststore.type", "PKCS12"),
            ("ssl.truststore.location", &ts),
            ("ssl.truststore.password", "ts-secret"),
            ("ssl.client.auth", "required"),
        ],
        &args,
    );
    let a = curl(&args);
    assert_eq!(a.status, 200, "{}", a.curl_error);
    assert_eq!(
        curl(&["--cacert", &ca, &root]).status,
        0,
        "answered without a client certificate"
    );
    assert!(!w.log_text().contains("ks-secret"));

    // A wrong store password stops the worker with the key named and the
    // password not shown.
    let file = d.join("bad.properties");
    std::fs::write(
        &file,
        format!(
            "bootstrap.servers={}\noffset.storage.file.filename={}\nlisteners=https://127.0.0.1:{}\nssl.keystore.location={ks}\nssl.keystore.password=Wrong-ks-pw\n",
            kafka_bootstrap(),
            d.join("o2").display(),
            free_port()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("standalone")
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("ssl.keystore.location") && err.contains("password"),
        "{err}"
    );
    assert!(!err.contains("Wrong-ks-pw"), "{err}");
}

/// A PEM key store whose private key is encrypted (PKCS#8 with AES, as
/// `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it) opens with
/// `ssl.key.password`, as Kafka Connect's PEM stores do; a wrong or
/// missing passphrase stops the worker naming the setting, never showing
/// the passphrase.
#[test]
fn an_encrypted_pem_key_opens_with_ssl_key_password() {
    let dir = TempDir::new("rest-tls-encrypted");
    let d = dir.path();
    issue_cert(
        d,
        "server",
        "localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
    );
    let secret = "Key-Passphrase-4711";
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "server-key.pem",
            "-out",
            "server-key-enc.pem",
            "-passout",
            &format!("pass:{secret}"),
        ],
    );
    let enc = std::fs::read_to_string(d.join("server-key-enc.pem")).unwrap();
    assert!(enc.contains("BEGIN ENCRYPTED PRIVATE KEY"), "{enc}");
    let keystore = d.join("keystore.pem");
    std::fs::write(
        &keystore,
        format!(
            "{enc}{}",
            std::fs::read_to_string(d.join("server.pem")).unwrap()
        ),
    )
    .unwrap();
    let port = free_port();
    let listeners = format!("https://localhost:{port}");
    let keystore_path = keystore.display().to_string();
    let ca = d.join("ca.pem").display().to_string();
    let root = format!("https://localhost:{port}/");

    // Without the passphrase, or with a wrong one: the worker stops, naming
    // the setting, and the passphrase is nowhere in what it says.
    for extra in ["", "ssl.key.password=Wrong-Passphrase-1\n"] {
        let said = refused_start(
            d,
            &format!("listeners={listeners}\nssl.keystore.location={keystore_path}\n{extra}"),
        );
        assert!(said.contains("ssl.key.password"), "{said}");
        assert!(
            !said.contains("Wrong-Passphrase-1"),
            "the passphrase leaked: {said}"
        );
    }

    let mut w = Worker::start(
        d,
        &[
            ("listeners", &listeners),
            ("ssl.keystore.location", &keystore_path),
            ("ssl.key.password", secret),
        ],
        &["--cacert", &ca, &root],
    );
    let r = curl(&["--cacert", &ca, &root]);
    assert_eq!(r.status, 200, "{}", w.log_text());
    assert!(
        !w.log_text().contains(secret),
        "the passphrase is in the log"
    );
    w.stop();
}

/// A JKS key store as `keytool` writes it (Java's default before JDK 9):
/// the worker serves HTTPS with its key, opened with the store's password
/// (Java's default key password) or `ssl.key.password`; a wrong store
/// password stops the worker naming the setting, not the password.
#[test]
fn a_jks_key_store_from_keytool_serves_https() {
    let dir = TempDir::new("rest-tls-jks");
    let d = dir.path();
    let keytool = |args: &[&str]| {
        let out = Command::new("keytool")
            .current_dir(d)
            .args(args)
            .output()
            .expect("run keytool (a JDK: apt-get install -y openjdk-17-jdk-headless)");
        assert!(
            out.status.success(),
            "keytool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for (store, keypass) in [("same.jks", "Store-Pass-1"), ("own.jks", "Key-Pass-2")] {
        keytool(&[
            "-genkeypair",
            "-keystore",
            store,
            "-storetype",
            "JKS",
            "-storepass",
            "Store-Pass-1",
            "-keypass",
            keypass,
            "-alias",
            "server",
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
            "-dname",
            "CN=localhost",
            "-ext",
            "SAN=dns:localhost,ip:127.0.0.1",
            "-validity",
            "2",
        ]);
    }
    keytool(&[
        "-exportcert",
        "-rfc",
        "-keystore",
        "same.jks",
        "-storepass",
        "Store-Pass-1",
        "-alias",
        "server",
        "-file",
        "same.pem",
    ]);
    keytool(&[
        "-exportcert",
        "-rfc",
        "-keystore",
        "own.jks",
        "-storepass",
        "Store-Pass-1",
        "-alias",
        "server",
        "-file",
        "own.pem",
    ]);
    assert_eq!(
        &std::fs::read(d.join("same.jks")).unwrap()[..4],
        &[0xfe, 0xed, 0xfe, 0xed]
    );

    // A wrong store password: the worker stops, naming the store.
    let port = free_port();
    let said = refused_start(
        d,
        &format!(
            "listeners=https://localhost:{port}\nssl.keystore.location={}\nssl.keystore.password=Wrong-Store-Pass\n",
            d.join("same.jks").display()
        ),
    );
    assert!(
        said.contains("ssl.keystore.location") && said.contains("password"),
        "{said}"
    );
    assert!(
        !said.contains("Wrong-Store-Pass"),
        "the password leaked: {said}"
    );

    for (store, key_password) in [("same", None), ("own", Some("Key-Pass-2"))] {
        let port = free_port();
        let listeners = format!("https://localhost:{port}");
        let location = d.join(format!("{store}.jks")).display().to_string();
        let ca = d.join(format!("{store}.pem")).display().to_string();
        let root = format!("https://localhost:{port}/");
        let mut props = vec![
            ("listeners", listeners.as_str()),
            ("ssl.keystore.location", location.as_str()),
            ("ssl.keystore.type", "JKS"),
            ("ssl.keystore.password", "Store-Pass-1"),
        ];
        if let Some(k) = key_password {
            props.push(("ssl.key.password", k));
        }
        let sub = d.join(store);
        std::fs::create_dir_all(&sub).unwrap();
        let mut w = Worker::start(&sub, &props, &["--cacert", &ca, &root]);
        let r = curl(&["--cacert", &ca, &root]);
        assert_eq!(r.status, 200, "{store}: {}", w.log_text());
        w.stop();
    }
}
