//! Transforms loaded at run time from plugin.path (WebAssembly, ABI v1):
//! a connector created over REST runs them against the real broker, and
//! broken plug-ins fail only their own connector's task.
//!
//! The plug-ins are the WAT files in tests/plugins/; the directory also
//! holds a malformed module and one built for ABI version 2, so the worker
//! starting at all shows that bad plug-in files do not stop it.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use serde_json::json;

fn plugin_dir() -> PathBuf {
    manifest_dir().join("tests/plugins")
}

fn values(recs: &[Record]) -> Vec<String> {
    recs.iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap_or_default()).unwrap())
        .collect()
}

fn file_source(
    name: &str,
    file: &std::path::Path,
    topic: &str,
    transforms: &[(&str, &str)],
) -> String {
    let mut config = json!({"connector.class": "FileStreamSource", "file": file, "topic": topic});
    for (k, v) in transforms {
        config[*k] = json!(v);
    }
    json!({"name": name, "config": config}).to_string()
}

#[test]
fn plugin_transforms_run_and_broken_plugins_fail_only_their_task() {
    let bootstrap = kafka_bootstrap();
    let dir = TempDir::new("wasm-plugin");
    let plugins = plugin_dir();
    let s = Sluice::start(
        dir.path(),
        &[
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            ("plugin.path", plugins.to_str().unwrap()),
        ],
    );
    let log = s.log_text();
    assert!(
        log.contains("wasm:malformed") && log.contains("not a valid WebAssembly module"),
        "the malformed plug-in is reported at start-up:\n{log}"
    );

    let listed = s.get("/connector-plugins?connectorsOnly=false").json();
    for class in ["wasm:upper", "wasm:drop_comments", "wasm:loop"] {
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["class"] == class && p["type"] == "transformation"),
            "{class} is listed: {listed}"
        );
    }

    // A chain of two plug-ins: a filter, then an upper-caser (by its alias).
    let good_file = dir.path().join("good.txt");
    std::fs::write(&good_file, "hello\n# a comment\nsluice\n").unwrap();
    let good_topic = unique("wasm-good");
    let good = unique("wasm-good");
    let r = s.post(
        "/connectors",
        &file_source(
            &good,
            &good_file,
            &good_topic,
            &[
                ("transforms", "drop,up"),
                ("transforms.drop.type", "wasm:drop_comments"),
                ("transforms.up.type", "upper"),
            ],
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let recs = consume(&bootstrap, &good_topic, 2, Duration::from_secs(30));
    assert_eq!(values(&recs), vec!["HELLO", "SLUICE"]);

    // Two broken plug-ins, each in its own connector.
    let mut broken = Vec::new();
    for (plugin, want) in [
        ("wasm:loop", "ran out of fuel (looped?)"),
        ("wasm:trap", "unreachable"),
    ] {
        let file = dir.path().join(format!("{}.txt", &plugin[5..]));
        std::fs::write(&file, "x\n").unwrap();
        let name = unique(&format!("wasm-{}", &plugin[5..]));
        let r = s.post(
            "/connectors",
            &file_source(
                &name,
                &file,
                &unique("wasm-broken"),
                &[("transforms", "bad"), ("transforms.bad.type", plugin)],
            ),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        broken.push((name, plugin, want));
    }
    for (name, plugin, want) in &broken {
        let status = s.wait_status(name, "a FAILED task", |v| {
            v["tasks"][0]["state"] == "FAILED"
        });
        let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
        assert!(
            trace.contains(&format!("plug-in {plugin}")) && trace.contains(want),
            "the trace names the plug-in and the failure: {status}"
        );
    }

    // With errors.tolerance=all a record the plug-in traps on is skipped
    // and the next record runs in a fresh instance.
    let mixed_file = dir.path().join("mixed.txt");
    std::fs::write(&mixed_file, "one\n!boom\ntwo\n").unwrap();
    let mixed_topic = unique("wasm-mixed");
    let tolerant = unique("wasm-tolerant");
    let r = s.post(
        "/connectors",
        &file_source(
            &tolerant,
            &mixed_file,
            &mixed_topic,
            &[
                ("errors.tolerance", "all"),
                ("errors.log.enable", "true"),
                ("errors.log.include.messages", "true"),
                ("transforms", "bang,up"),
                ("transforms.bang.type", "wasm:trap_on_bang"),
                ("transforms.up.type", "wasm:upper"),
            ],
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let recs = consume(&bootstrap, &mixed_topic, 2, Duration::from_secs(30));
    assert_eq!(values(&recs), vec!["ONE", "TWO"]);
    let status = s.get(&format!("/connectors/{tolerant}/status")).json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    // errors.log.include.messages: the skipped record is in the log, as the
    // source task gave it (before the plug-in ran).
    wait_for(
        "the skipped record in the log",
        Duration::from_secs(30),
        || {
            s.log_text()
                .lines()
                .any(|l| {
                    l.contains("skipping a record")
                        && l.contains("source record is SourceRecord{")
                        && l.contains(r#"value=String("!boom")"#)
                })
                .then_some(())
        },
    );

    // Even with errors.tolerance=all, a plug-in that runs out of fuel on
    // fuel.exhausted.max.consecutive (3 by default) records in a row fails
    // its task instead of burning its fuel budget on every record.
    let loop_file = dir.path().join("loop-tolerant.txt");
    std::fs::write(&loop_file, "a\nb\nc\nd\n").unwrap();
    let looping = unique("wasm-loop-tolerant");
    let r = s.post(
        "/connectors",
        &file_source(
            &looping,
            &loop_file,
            &unique("wasm-loop-tolerant"),
            &[
                ("errors.tolerance", "all"),
                ("transforms", "spin"),
                ("transforms.spin.type", "wasm:loop"),
                ("transforms.spin.fuel", "100000"),
            ],
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let status = s.wait_status(&looping, "a FAILED task", |v| {
        v["tasks"][0]["state"] == "FAILED"
    });
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("on 3 records in a row")
            && trace.contains("fuel.exhausted.max.consecutive=3")
            && trace.contains("errors.tolerance does not apply"),
        "{status}"
    );

    // A malformed module is refused when the connector is created.
    let r = s.post(
        "/connectors",
        &file_source(
            &unique("wasm-malformed"),
            &good_file,
            &unique("wasm-malformed"),
            &[("transforms", "m"), ("transforms.m.type", "wasm:malformed")],
        ),
    );
    assert!(
        r.status == 400 && r.body.contains("plug-in wasm:malformed"),
        "{} {}",
        r.status,
        r.body
    );

    // The first connector is untouched: still RUNNING, still transforming.
    let status = s.get(&format!("/connectors/{good}/status")).json();
    assert_eq!(status["connector"]["state"], "RUNNING", "{status}");
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&good_file)
        .unwrap();
    f.write_all(b"# another comment\nstill here\n").unwrap();
    drop(f);
    let recs = consume(&bootstrap, &good_topic, 3, Duration::from_secs(30));
    assert_eq!(values(&recs), vec!["HELLO", "SLUICE", "STILL HERE"]);
    assert_eq!(s.get("/").status, 200, "the worker still answers");
}
