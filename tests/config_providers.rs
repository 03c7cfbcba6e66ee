//! Config providers (KIP-297): a MySQL connector whose password comes from
//! a properties file (`${file:...}`), whose user comes from a secret
//! directory (`${dir:...}`) and whose host comes from the environment
//! (`${env:...}`) reads the database, while the password shows in no REST
//! answer, state file or log line. Variables that do not resolve are
//! refused at creation with the key and the reason, and fail a connector
//! whose secret disappears by the time it restarts.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

#[test]
fn secrets_resolve_in_the_task_and_show_nowhere() {
    let canary = format!("cp-canary-{}", std::process::id());
    let user = "sluice_cp";
    mariadb(&format!(
        "CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{canary}';
         ALTER USER '{user}'@'%' IDENTIFIED BY '{canary}';
         GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SELECT, RELOAD, SHOW DATABASES, LOCK TABLES ON *.* TO '{user}'@'%';
         CREATE DATABASE IF NOT EXISTS cpdb; CREATE OR REPLACE TABLE cpdb.t (id INT PRIMARY KEY, v TEXT);
         INSERT INTO cpdb.t VALUES (1, 'one');"
    ));

    let dir = TempDir::new("config-providers");
    let secrets = dir.path().join("secrets");
    let users = secrets.join("users");
    std::fs::create_dir_all(&users).unwrap();
    let props_file = secrets.join("db.properties");
    std::fs::write(
        &props_file,
        format!("# the database's\npassword={canary}\n"),
    )
    .unwrap();
    std::fs::write(users.join("user"), user).unwrap();
    std::env::set_var(
        "SLUICE_CP_HOST",
        std::env::var("SLUICE_MARIADB_HOST").unwrap_or_else(|_| "127.0.0.1".into()),
    );
    let allowed = secrets.display().to_string();
    let s = Sluice::start(
        dir.path(),
        &[
            ("config.providers", "file,dir,env"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
            ("config.providers.file.param.allowed.paths", &allowed),
            (
                "config.providers.dir.class",
                "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
            ),
            (
                "config.providers.env.class",
                "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            ),
            (
                "config.providers.env.param.allowlist.pattern",
                "SLUICE_CP_.*",
            ),
        ],
    );

    let password_var = format!("${{file:{}:password}}", props_file.display());
    let user_var = format!("${{dir:{}:user}}", users.display());
    let name = unique("cp");
    let prefix = unique("cp");
    let cfg = mysql_connector_config(
        &name,
        &prefix,
        "cpdb",
        &dir.path().join("history.dat"),
        &[
            ("database.hostname", "${env:SLUICE_CP_HOST}"),
            ("database.user", &user_var),
            ("database.password", &password_var),
            ("table.include.list", "cpdb.t"),
        ],
    );

    // Validation sees the resolved values and shows the written ones.
    let mut to_validate = cfg["config"].clone();
    to_validate["name"] = name.clone().into();
    let v = s.put(
        "/connector-plugins/io.debezium.connector.mysql.MySqlConnector/config/validate",
        &to_validate.to_string(),
    );
    assert_eq!(v.status, 200, "{}", v.body);
    let body = v.json();
    let errors: Vec<Value> = body["configs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["value"]["errors"]
                .as_array()
                .is_some_and(|e| !e.is_empty())
        })
        .map(|c| c["value"].clone())
        .collect();
    assert_eq!(body["error_count"], 0, "{errors:?}");
    let shown = |key: &str| {
        body["configs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["value"]["name"] == key)
            .map(|c| c["value"]["value"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(shown("database.password"), "[hidden]");
    assert_eq!(shown("database.user"), Value::String(user_var.clone()));
    assert!(
        !v.body.contains(&canary),
        "validate shows the password: {}",
        v.body
    );
    assert!(v.body.contains("${env:SLUICE_CP_HOST}"), "{}", v.body);

    assert_eq!(s.post("/connectors", &cfg.to_string()).status, 201);
    let mut r = TopicReader::new(&kafka_bootstrap(), &format!("{prefix}.cpdb.t"));
    r.read_until("the snapshot row", Duration::from_secs(90), |r| {
        r.iter().any(|(_, v)| v["after"]["id"] == 1)
    });
    mariadb("INSERT INTO cpdb.t VALUES (2, 'two')");
    r.read_until("the streamed row", Duration::from_secs(60), |r| {
        r.iter().any(|(_, v)| v["after"]["id"] == 2)
    });

    // Every REST answer shows the variables as written.
    let config = s.get(&format!("/connectors/{name}/config")).json();
    assert_eq!(
        config["database.password"],
        Value::String(password_var.clone())
    );
    assert_eq!(config["database.user"], Value::String(user_var.clone()));
    for path in [
        format!("/connectors/{name}"),
        format!("/connectors/{name}/config"),
        format!("/connectors/{name}/tasks"),
        format!("/connectors/{name}/status"),
        "/connectors?expand=info&expand=status".to_string(),
    ] {
        let body = s.get(&path).body;
        assert!(
            !body.contains(&canary),
            "GET {path} shows the password: {body}"
        );
    }
    let tasks = s.get(&format!("/connectors/{name}/tasks")).json();
    assert_eq!(
        tasks[0]["config"]["database.password"],
        Value::String(password_var.clone()),
        "task configs are stored with the variables: {tasks}"
    );

    // Unresolvable variables are refused at creation, naming key and reason.
    let refuse = |key: &str, value: &str, reason: &str| {
        let mut bad = cfg.clone();
        bad["name"] = unique("cp-bad").into();
        bad["config"][key] = value.into();
        let resp = s.post("/connectors", &bad.to_string());
        assert_eq!(resp.status, 400, "{value}: {}", resp.body);
        let msg = resp.json()["message"].as_str().unwrap_or("").to_string();
        assert!(
            msg.contains(key) && msg.contains(value) && msg.contains(reason),
            "{msg}"
        );
        assert!(!msg.contains(&canary), "{msg}");
    };
    refuse(
        "database.password",
        &format!("${{file:{}:nokey}}", props_file.display()),
        "has no key nokey",
    );
    refuse(
        "database.password",
        "${file:/etc/passwd:root}",
        "is not under the provider's allowed.paths",
    );
    refuse("database.hostname", "${env:HOME}", "allowlist.pattern");
    refuse(
        "database.password",
        "${vault:db:pw}",
        "no config provider named vault",
    );

    // A secret gone by the time the connector restarts fails it, with the reason.
    let moved = secrets.join("db.properties.moved");
    std::fs::rename(&props_file, &moved).unwrap();
    assert_eq!(
        s.post(&format!("/connectors/{name}/restart?includeTasks=true"), "")
            .status
            / 100,
        2
    );
    let st = s.wait_status(&name, "FAILED", |st| {
        st["connector"]["state"] == "FAILED" || st["tasks"][0]["state"] == "FAILED"
    });
    let trace = format!("{}{}", st["connector"]["trace"], st["tasks"][0]["trace"]);
    assert!(
        trace.contains("database.password") && trace.contains("cannot read"),
        "{trace}"
    );
    std::fs::rename(&moved, &props_file).unwrap();

    // Nothing the worker wrote holds the password.
    let mut files = vec![s.log.clone()];
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && p != props_file {
            files.push(p);
        }
    }
    assert!(
        files.len() >= 3,
        "log, offsets and connector state: {files:?}"
    );
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(
            !text.contains(&canary),
            "{} holds the password",
            f.display()
        );
    }
}
