//! A private Apache Kafka broker secured as production clusters are, for the
//! tests of Kafka security (issue #17): clients must speak TLS, prove who
//! they are with SCRAM, and may do only what an ACL allows.
//!
//! One node in KRaft combined mode (broker and controller), its own
//! directory, its own ports:
//!
//! - `SASL_SSL://127.0.0.1:PORT`, advertised as `localhost:PORT`: the only
//!   listener clients reach. TLS with a certificate from a test CA the
//!   harness makes with the `openssl` CLI (subjectAltName `DNS:localhost`,
//!   `IP:127.0.0.1`, so clients verify the host name as they do by
//!   default); SCRAM-SHA-512 and SCRAM-SHA-256. The broker's key store is
//!   PEM (KIP-651): the unencrypted PKCS#8 key and the certificate in one
//!   file, with neither `ssl.keystore.password` (Kafka refuses one for PEM)
//!   nor `ssl.key.password` (not needed for an unencrypted key). It is the
//!   inter-broker listener too; the broker logs in there as `admin`.
//! - `CONTROLLER://127.0.0.1:CPORT`, TLS with client certificates required:
//!   the broker reaches its controller with the same certificate, so that
//!   listener's principal is `User:CN=localhost`, a super user. Nothing
//!   reaches it without a certificate from the test CA (a PLAINTEXT
//!   controller listener would make any local process `User:ANONYMOUS`,
//!   which would have to be a super user).
//!
//! The users are SCRAM credentials written at format time (`kafka-storage
//! format --add-scram`), so they exist before the broker first answers:
//! `admin` (super user), `worker` (Sluice's principal, with the ACLs of
//! [`worker_acls`] on names that start with the test's prefix) and
//! `intruder`, who can log in and is allowed nothing. The authorizer is
//! KRaft's `StandardAuthorizer` with `allow.everyone.if.no.acl.found=false`.
//!
//! The ACLs are added with Kafka's own `AclCommand` (kafka-tools), run as
//! `admin` over SASL_SSL, as an operator would; [`SecureKafka::start`]
//! returns once the broker applies them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::{free_port, kafka_libs, kill9_child, poll, TempDir};

/// The super user, as operators have one.
pub const ADMIN: &str = "admin";
/// Sluice's principal: what it may do is [`worker_acls`].
pub const WORKER: &str = "worker";
/// A user who authenticates and has no ACLs at all.
pub const INTRUDER: &str = "intruder";

pub const ADMIN_PASSWORD: &str = "admin-pw-7c1f9e";
pub const WORKER_PASSWORD: &str = "worker-pw-3b8d42";
pub const INTRUDER_PASSWORD: &str = "intruder-pw-5a06e1";

/// The SCRAM mechanism clients use; SCRAM-SHA-256 is enabled as well
/// (for `worker` only).
pub const MECHANISM: &str = "SCRAM-SHA-512";

/// The password of one of the three users.
pub fn password(user: &str) -> &'static str {
    match user {
        ADMIN => ADMIN_PASSWORD,
        WORKER => WORKER_PASSWORD,
        INTRUDER => INTRUDER_PASSWORD,
        other => panic!("the secure broker has no user {other:?}"),
    }
}

/// The ACLs of `User:worker`: all PREFIXED patterns, allowing what a Kafka
/// Connect worker does and nothing else. Each row is (AclCommand's
/// resource option, the name prefixes, the operations). Describe is not
/// listed: Kafka implies it from Read, Write, Delete and Alter on the same
/// resource.
///
/// - Topics `PREFIX*`: Create (internal topics, `topic.creation.*`, the
///   schema history topic), Read (sink tasks, the internal topics' readers),
///   Write (source tasks, the internal topics' writers; with it an
///   idempotent producer may get a producer id, so no IdempotentWrite on
///   the cluster since Kafka 3.0, KIP-679), DescribeConfigs (the check that
///   an internal topic is compacted).
/// - Groups `PREFIX*` (the distributed worker's `group.id`, test readers)
///   and `connect-PREFIX*` (a sink connector's group is `connect-NAME`):
///   Read (join, fetch and commit offsets), Delete (resetting a sink
///   connector's offsets deletes its group, KIP-875).
/// - Transactional ids `PREFIX*` (exactly-once source tasks use
///   `GROUP-CONNECTOR-TASK`) and `connect-cluster-PREFIX*` (the leader's,
///   `connect-cluster-GROUP`, KIP-618): Write.
///
/// Nothing on the cluster resource.
pub fn worker_acls(prefix: &str) -> Vec<(&'static str, Vec<String>, &'static [&'static str])> {
    vec![
        (
            "--topic",
            vec![prefix.to_string()],
            &["Create", "Read", "Write", "DescribeConfigs"],
        ),
        (
            "--group",
            vec![prefix.to_string(), format!("connect-{prefix}")],
            &["Read", "Delete"],
        ),
        (
            "--transactional-id",
            vec![prefix.to_string(), format!("connect-cluster-{prefix}")],
            &["Write"],
        ),
    ]
}

/// librdkafka has TLS and SCRAM only when built with OpenSSL (rdkafka's
/// `ssl` feature); without them no client can reach this broker.
fn assert_librdkafka_speaks_sasl_ssl() {
    let made: Result<BaseConsumer, _> = ClientConfig::new()
        .set("security.protocol", "SASL_SSL")
        .set("sasl.mechanisms", MECHANISM)
        .set("sasl.username", "probe")
        .set("sasl.password", "probe")
        .create();
    if let Err(e) = made {
        panic!(
            "this librdkafka cannot speak SASL_SSL with {MECHANISM} ({e}): build rdkafka with \
             its `ssl` feature (features = [..., \"ssl\"] in Cargo.toml, or cargo test \
             --features rdkafka/ssl)"
        );
    }
}

/// A running secured broker; killed (by its PID) on drop, its directory
/// kept when the test failed.
pub struct SecureKafka {
    child: Option<Child>,
    dir: TempDir,
    port: u16,
    prefix: String,
}

impl SecureKafka {
    /// Makes the certificates, formats the storage with the three users,
    /// starts the broker, waits until `admin` can list topics over SASL_SSL,
    /// and adds the worker's ACLs for names that start with `topic_prefix`.
    pub fn start(topic_prefix: &str) -> SecureKafka {
        let began = Instant::now();
        assert_librdkafka_speaks_sasl_ssl();
        let libs = kafka_libs();
        assert!(
            Path::new(&libs).is_dir(),
            "no Kafka jars in {libs}: run scripts/install-jars kafka (or scripts/services up)"
        );
        let port = free_port();
        let controller_port = loop {
            let p = free_port();
            if p != port {
                break p;
            }
        };
        let mut kafka = SecureKafka {
            child: None,
            dir: TempDir::new("kafka-secure"),
            port,
            prefix: topic_prefix.to_string(),
        };
        kafka.make_certificates();
        kafka.write_configs(controller_port);
        kafka.format_storage();
        kafka.child = Some(kafka.spawn());
        kafka.wait_until_admin_lists_topics();
        let up = began.elapsed();
        kafka.add_worker_acls();
        kafka.wait_until_worker_acls_apply();
        eprintln!(
            "secure Kafka broker on {} answered {up:.1?} after start began, with ACLs after {:.1?} (files in {})",
            kafka.bootstrap(),
            began.elapsed(),
            kafka.dir.path().display()
        );
        kafka
    }

    /// `localhost:PORT`: the name in the broker's certificate.
    pub fn bootstrap(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// The test CA's certificate, which clients trust.
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The prefix of the names the worker may use.
    pub fn topic_prefix(&self) -> &str {
        &self.prefix
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The broker's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// What librdkafka needs to reach the broker as `user` (bootstrap
    /// servers aside).
    pub fn librdkafka_settings(&self, user: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("security.protocol".into(), "SASL_SSL".into()),
            ("sasl.mechanisms".into(), MECHANISM.into()),
            ("sasl.username".into(), user.into()),
            ("sasl.password".into(), password(user).into()),
            (
                "ssl.ca.location".into(),
                self.ca_pem().display().to_string(),
            ),
        ])
    }

    /// A librdkafka client config for `user`, bootstrap servers included.
    pub fn client_config(&self, user: &str) -> ClientConfig {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", self.bootstrap());
        for (k, v) in self.librdkafka_settings(user) {
            cfg.set(k, v);
        }
        cfg
    }

    /// The same settings in Kafka Connect's (Java client) names, as a
    /// worker config or `producer.`/`consumer.`/`admin.` overrides carry
    /// them.
    pub fn connect_settings(&self, user: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("security.protocol".into(), "SASL_SSL".into()),
            ("sasl.mechanism".into(), MECHANISM.into()),
            (
                "sasl.jaas.config".into(),
                format!(
                    "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{}\";",
                    password(user)
                ),
            ),
            ("ssl.truststore.type".into(), "PEM".into()),
            (
                "ssl.truststore.location".into(),
                self.ca_pem().display().to_string(),
            ),
        ])
    }

    /// The test CA and the broker's key and certificate, signed by it (an
    /// X.509 v3 certificate: `x509 -req` writes v3 only with an extfile).
    fn make_certificates(&self) {
        let d = self.dir.path();
        std::fs::write(
            d.join("ca.cnf"),
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = Sluice test CA\n\
             [v3_ca]\nbasicConstraints = critical,CA:TRUE\n\
             keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n",
        )
        .unwrap();
        std::fs::write(
            d.join("broker.ext"),
            "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage = serverAuth,clientAuth\n\
             subjectAltName = DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        // Relative paths only (the commands run in the directory): no spaces.
        let openssl =
            |command: &str| super::openssl(d, &command.split_whitespace().collect::<Vec<_>>());
        openssl(
            "req -x509 -new -config ca.cnf -extensions v3_ca -newkey rsa:2048 -nodes \
             -keyout ca.key -out ca.pem -days 2",
        );
        // OpenSSL 3 writes an unencrypted key as PKCS#8 ("BEGIN PRIVATE
        // KEY"), the form Kafka's PEM key store reads.
        openssl(
            "req -new -newkey rsa:2048 -nodes -keyout broker.key -subj /CN=localhost \
             -out broker.csr",
        );
        openssl(
            "x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
             -extfile broker.ext -out broker.pem",
        );
        let key_store = [
            std::fs::read_to_string(d.join("broker.key")).unwrap(),
            std::fs::read_to_string(d.join("broker.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(d.join("broker-keystore.pem"), key_store).unwrap();
    }

    fn write_configs(&self, controller_port: u16) {
        let d = self.dir.path();
        let port = self.port;
        let scram = |user: &str| {
            format!(
                "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{}\";",
                password(user)
            )
        };
        std::fs::write(
            d.join("server.properties"),
            format!(
                "process.roles=broker,controller\nnode.id=1\n\
                 controller.quorum.voters=1@127.0.0.1:{controller_port}\n\
                 listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}\n\
                 advertised.listeners=SASL_SSL://localhost:{port}\n\
                 controller.listener.names=CONTROLLER\n\
                 inter.broker.listener.name=SASL_SSL\n\
                 listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL\n\
                 listener.name.controller.ssl.client.auth=required\n\
                 sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256\n\
                 sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n\
                 listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={admin}\n\
                 listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
                 ssl.keystore.type=PEM\nssl.keystore.location={keystore}\n\
                 ssl.truststore.type=PEM\nssl.truststore.location={ca}\n\
                 authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n\
                 super.users=User:{ADMIN};User:CN=localhost\n\
                 allow.everyone.if.no.acl.found=false\n\
                 log.dirs={data}\n\
                 offsets.topic.replication.factor=1\ntransaction.state.log.replication.factor=1\n\
                 transaction.state.log.min.isr=1\nshare.coordinator.state.topic.replication.factor=1\n\
                 share.coordinator.state.topic.min.isr=1\ngroup.initial.rebalance.delay.ms=0\n\
                 message.max.bytes=67108864\nreplica.fetch.max.bytes=67108864\n",
                admin = scram(ADMIN),
                keystore = d.join("broker-keystore.pem").display(),
                ca = self.ca_pem().display(),
                data = d.join("data").display(),
            ),
        )
        .expect("write server.properties");
        std::fs::write(
            d.join("log4j2.properties"),
            format!(
                "appender.f.type=File\nappender.f.name=F\nappender.f.fileName={}\n\
                 appender.f.layout.type=PatternLayout\nappender.f.layout.pattern=[%d] %p %m (%c)%n\n\
                 rootLogger.level=INFO\nrootLogger.appenderRef.f.ref=F\n",
                d.join("server.log").display()
            ),
        )
        .expect("write log4j2.properties");
        // The command-line tools warn on stderr, which the harness reports.
        std::fs::write(
            d.join("tools-log4j2.properties"),
            "appender.e.type=Console\nappender.e.name=E\nappender.e.target=SYSTEM_ERR\n\
             appender.e.layout.type=PatternLayout\nappender.e.layout.pattern=%p %m (%c)%n\n\
             rootLogger.level=WARN\nrootLogger.appenderRef.e.ref=E\n",
        )
        .expect("write tools-log4j2.properties");
        let admin: String = self
            .connect_settings(ADMIN)
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(d.join("admin.properties"), admin).expect("write admin.properties");
    }

    fn java(&self) -> Command {
        let mut c = Command::new("java");
        c.current_dir(self.dir.path());
        c
    }

    fn classpath() -> String {
        format!("{}/*", kafka_libs())
    }

    /// `kafka-storage format` with the users' SCRAM credentials.
    fn format_storage(&self) {
        let d = self.dir.path();
        let mut c = self.java();
        c.args(["-Xmx256m", "-XX:TieredStopAtLevel=1"])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                d.join("log4j2.properties").display()
            ))
            .args(["-cp", &Self::classpath(), "kafka.tools.StorageTool"])
            .args(["format", "-t", "c2x1aWNlLXNlY3VyZS1rAA", "-c"])
            .arg(d.join("server.properties"));
        let credentials = [
            ("SCRAM-SHA-512", ADMIN),
            ("SCRAM-SHA-512", WORKER),
            ("SCRAM-SHA-256", WORKER),
            ("SCRAM-SHA-512", INTRUDER),
        ];
        for (mechanism, user) in credentials {
            c.arg("--add-scram").arg(format!(
                "{mechanism}=[name={user},password={}]",
                password(user)
            ));
        }
        let out = c
            .output()
            .expect("run java (apt-get install -y openjdk-17-jdk-headless)");
        assert!(
            out.status.success(),
            "formatting the secure broker's storage failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn spawn(&self) -> Child {
        let d = self.dir.path();
        let out = std::fs::File::create(d.join("kafka.out")).unwrap();
        self.java()
            // As spawn_kafka: heap and direct memory bounded, NIO's
            // per-thread buffer cache capped.
            .args(["-Xms64m", "-Xmx512m", "-XX:MaxDirectMemorySize=512m"])
            .args(["-Djdk.nio.maxCachedBufferSize=1048576", "-XX:+UseG1GC"])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                d.join("log4j2.properties").display()
            ))
            .args(["-cp", &Self::classpath(), "kafka.Kafka"])
            .arg(d.join("server.properties"))
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start java (apt-get install -y openjdk-17-jdk-headless)")
    }

    /// Polls until `admin`, over SASL_SSL with the test CA, gets the topic
    /// list: TLS, SCRAM and the broker's registration all work then.
    fn wait_until_admin_lists_topics(&mut self) {
        let probe: BaseConsumer = self
            .client_config(ADMIN)
            .set("log_level", "0")
            .create()
            .expect("a Kafka client for the secure broker");
        let mut last = String::from("no answer yet");
        let listed = poll(Duration::from_secs(90), || {
            if let Ok(Some(status)) = self.child.as_mut().expect("the broker").try_wait() {
                panic!(
                    "the secure broker exited ({status}); its output:\n{}\nits log:\n{}",
                    std::fs::read_to_string(self.dir.path().join("kafka.out")).unwrap_or_default(),
                    self.log_text()
                );
            }
            match probe.fetch_metadata(None, Duration::from_secs(1)) {
                Ok(md) if !md.brokers().is_empty() => Some(()),
                Ok(_) => None,
                Err(e) => {
                    last = e.to_string();
                    None
                }
            }
        });
        if listed.is_none() {
            panic!(
                "admin could not list the secure broker's topics within 90 s ({last}); its log:\n{}",
                self.log_text()
            );
        }
    }

    /// Adds [`worker_acls`] with AclCommand, one run per resource type (it
    /// checks that every operation suits every resource of a run), the
    /// runs side by side: each is a JVM start.
    fn add_worker_acls(&self) {
        let runs: Vec<Output> = std::thread::scope(|s| {
            let handles: Vec<_> = worker_acls(&self.prefix)
                .into_iter()
                .map(|(resource, names, operations)| {
                    let mut c = self.acl_command();
                    c.args(["--add", "--allow-principal"])
                        .arg(format!("User:{WORKER}"))
                        .args(["--resource-pattern-type", "prefixed"]);
                    for name in &names {
                        c.args([resource, name]);
                    }
                    for op in operations {
                        c.args(["--operation", op]);
                    }
                    s.spawn(move || c.output().expect("run java (AclCommand)"))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for out in runs {
            assert!(
                out.status.success(),
                "AclCommand failed: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Kafka's AclCommand, as `admin` over SASL_SSL; add its own arguments.
    pub fn acl_command(&self) -> Command {
        let d = self.dir.path();
        let mut c = self.java();
        c.args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                d.join("tools-log4j2.properties").display()
            ))
            .args([
                "-cp",
                &Self::classpath(),
                "org.apache.kafka.tools.AclCommand",
            ])
            .args(["--bootstrap-server", &self.bootstrap()])
            .arg("--command-config")
            .arg(d.join("admin.properties"));
        c
    }

    /// AclCommand returns once the controller has the ACLs; the broker's
    /// authorizer applies them a moment later. Polls, as the worker, until
    /// a topic and a group with the prefix are no longer refused.
    fn wait_until_worker_acls_apply(&self) {
        let topic = format!("{}acl-probe", self.prefix);
        let probe: BaseConsumer = self
            .client_config(WORKER)
            .set("group.id", &topic)
            .set("log_level", "0")
            .create()
            .expect("probe client");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Invalid)
            .unwrap();
        let mut last = String::new();
        let applied = poll(Duration::from_secs(30), || {
            let topic_error = match probe.fetch_metadata(Some(&topic), Duration::from_secs(2)) {
                Ok(md) => md.topics().first().and_then(|t| t.error()),
                Err(e) => {
                    last = format!("metadata: {e}");
                    return None;
                }
            };
            if topic_error.map(RDKafkaErrorCode::from)
                == Some(RDKafkaErrorCode::TopicAuthorizationFailed)
            {
                last = "topic authorization failed".into();
                return None;
            }
            match probe.committed_offsets(tpl.clone(), Duration::from_secs(2)) {
                Ok(_) => Some(()),
                Err(e) => {
                    last = format!("committed offsets: {e}");
                    None
                }
            }
        });
        if applied.is_none() {
            panic!(
                "the worker's ACLs were not in force within 30 s ({last}); its log:\n{}",
                self.log_text()
            );
        }
    }
}

impl Drop for SecureKafka {
    fn drop(&mut self) {
        // Before `dir` goes (fields drop after this).
        kill9_child(&mut self.child);
    }
}
