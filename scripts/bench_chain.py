"""End-to-end cost of a transform chain (docs/benchmarks.md, issue #4).

One MariaDB table of N rows is snapshotted into Kafka by a release
`sluice standalone` with the MySQL connector and JsonConverter, alternately
with no transforms and with the issue's chain ExtractNewRecordState ->
RegexRouter -> MaskField -> InsertField (under a TopicNameMatches
predicate), each run a fresh connector with its own topic prefix. A run's
time is from the POST /connectors to the moment the broker's high
watermark of its destination topic reaches N (records acked by the broker,
counted by a consumer's ListOffsets every 20 ms). The rounds alternate so
that a noisy machine hits both alike; each figure is the best round.

Broker: `--broker private` (the default) a private Apache Kafka 4.4 node
of the run's own (bench_support.PrivateKafka: one KRaft node on free
ports, killed at the end); `--broker shared` the shared broker at
--bootstrap, fresh topics. Completion is the destination topic's high
watermark reaching N, polled with ListOffsets every 20 ms (Kafka's high
watermark counts acknowledged records). Each round also prints Sluice's
CPU seconds. The chain's output is checked by reading one routed record
back.

Until 2026-12-07 the default was `--broker null`, a private stand-in
broker on an engine that acknowledged records and kept none; Kafka has no such
engine, so every run now stores what it sends and the broker's work is in
the figures again (docs/benchmarks.md).
"""

import argparse
import json
import os
import subprocess
import sys
import time

import pymysql
from confluent_kafka import Consumer, TopicPartition

from bench_support import PrivateKafka, SharedKafka, cpu_secs, free_port, http


def chain_config(prefix):
    return {
        "transforms": "unwrap,route,mask,insert",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": f"{prefix}\\.(.*)\\.t",
        "transforms.route.replacement": f"{prefix}-routed-$1",
        "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
        "transforms.mask.fields": "v",
        "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.insert.static.field": "src",
        "transforms.insert.static.value": "sluice",
        "transforms.insert.predicate": "routed",
        "predicates": "routed",
        "predicates.routed.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "predicates.routed.pattern": ".*-routed-.*",
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3307)
    ap.add_argument("--root-password", default="sluice")
    ap.add_argument("--user", default="sluice")
    ap.add_argument("--password", default="sluice")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--broker", choices=["private", "shared", "null"], default="private",
                    help="private: an Apache Kafka broker of this run's own (default);"
                         " shared: --bootstrap, fresh topics")
    ap.add_argument("--kafka-libs", default=os.environ.get("SLUICE_KAFKA_LIBS"),
                    help="Kafka's classpath folder (for --broker private)")
    a = ap.parse_args()
    if a.broker == "null":
        sys.exit("--broker null is gone: Apache Kafka has no engine that discards records (the retired"
                 " stand-in broker's null engine did); use --broker private (default) or shared")
    os.makedirs(a.workdir, exist_ok=True)
    run = str(int(time.time()))
    db = f"chain_{run}"
    root = pymysql.connect(host=a.host, port=a.port, user="root", password=a.root_password,
                           autocommit=True)
    with root.cursor() as c:
        c.execute(f"CREATE DATABASE {db}")
        c.execute(f"CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, k INT NOT NULL,"
                  " v VARCHAR(32) NOT NULL, ts DATETIME(6) NOT NULL)")
        c.execute(f"INSERT INTO {db}.t SELECT seq, seq % 1000, 'abcdefghijklmnopqrstuvwxyz012345',"
                  f" NOW(6) FROM {db}.seq_1_to_{a.rows}")

    try:
        broker = (PrivateKafka(a.kafka_libs, a.workdir, run) if a.broker == "private"
                  else SharedKafka(a.bootstrap))
        with broker as b:
            rounds(a, run, db, b.bootstrap)
    finally:
        with root.cursor() as c:
            c.execute(f"DROP DATABASE IF EXISTS {db}")


def rounds(a, run, db, bootstrap):
    port = free_port()
    worker = os.path.join(a.workdir, f"worker-{run}.properties")
    with open(worker, "w") as f:
        f.write(f"bootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:{port}\n"
                f"offset.storage.file.filename={a.workdir}/offsets-{run}\n"
                "offset.flush.interval.ms=1000\n"
                "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n")
    log = open(os.path.join(a.workdir, f"sluice-{run}.log"), "w")
    p = subprocess.Popen([a.sluice, "standalone", worker], stdout=log, stderr=log)
    # A topic asked for before the connector creates it would otherwise stay
    # unknown to this client until the next metadata refresh (5 minutes).
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-chain-{run}",
                         "topic.metadata.refresh.interval.ms": 200})
    best, best_cpu = {}, {}
    try:
        deadline = time.time() + 60
        while True:
            try:
                http(port, "GET", "/")
                break
            except OSError:
                if time.time() > deadline or p.poll() is not None:
                    sys.exit("sluice did not start; see " + log.name)
                time.sleep(0.05)
        for r in range(a.rounds):
            for mode in ("none", "chain"):
                prefix = f"bc{run}r{r}{mode}"
                name = f"bench-chain-{run}-{r}-{mode}"
                config = {
                    "connector.class": "io.debezium.connector.mysql.MySqlConnector",
                    "database.hostname": a.host, "database.port": str(a.port),
                    "database.user": a.user, "database.password": a.password,
                    "database.server.id": str(60_000 + (int(run) * 10 + r * 2 + (mode == "chain")) % 100_000),
                    "topic.prefix": prefix, "database.include.list": db,
                    "snapshot.mode": "initial",
                    "schema.history.internal.file.filename": f"{a.workdir}/history-{name}.jsonl",
                    "tasks.max": "1"}
                topic = f"{prefix}.{db}.t"
                if mode == "chain":
                    config.update(chain_config(prefix))
                    topic = f"{prefix}-routed-{db}"
                cpu0 = cpu_secs(p.pid)
                start = time.time()
                http(port, "POST", "/connectors", {"name": name, "config": config})
                deadline = start + 600
                tp = TopicPartition(topic, 0)
                hi = 0
                while hi < a.rows:
                    if time.time() > deadline:
                        sys.exit(f"{mode}: only {hi} of {a.rows} rows in {topic} after 600 s; see {log.name}")
                    try:
                        _, hi = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                    except Exception:  # topic not created yet, or a busy broker
                        pass
                    time.sleep(0.02)
                secs = time.time() - start
                cpu = cpu_secs(p.pid) - cpu0
                # Leave no snapshot or stream running into the next round.
                http(port, "DELETE", f"/connectors/{name}")
                rate = a.rows / secs
                print(f"round {r + 1} {mode:<5}: {a.rows} rows in {secs:.2f} s = {rate:,.0f} rows/s;"
                      f" Sluice CPU {cpu:.2f} s = {a.rows / cpu:,.0f} rows per CPU-second", flush=True)
                best[mode] = max(best.get(mode, 0), rate)
                best_cpu[mode] = max(best_cpu.get(mode, 0), a.rows / cpu)
        # Check that the chain did its work: one routed value.
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-chain-check-{run}",
                      "auto.offset.reset": "earliest"})
        c.assign([TopicPartition(f"bc{run}r0chain-routed-{db}", 0, 0)])
        m = c.poll(30)
        c.close()
        payload = json.loads(m.value())["payload"] if m is not None else None
        if not payload or payload.get("v") != "" or payload.get("src") != "sluice" or "id" not in payload:
            sys.exit(f"the chain's output is not as expected: {payload}")
    finally:
        consumer.close()
        p.terminate()
        p.wait(30)
        if best.get("chain"):
            report(a, best, best_cpu)


def report(a, best, best_cpu):
    none, chain = best["none"], best["chain"]
    print(f"best of {a.rounds}, CPU: no transforms {best_cpu['none']:,.0f} rows per CPU-second,"
          f" chain {best_cpu['chain']:,.0f}; chain/none = {best_cpu['chain'] / best_cpu['none']:.3f}")
    print(f"\nbest of {a.rounds}: no transforms {none:,.0f} rows/s, 4-transform chain {chain:,.0f} rows/s;"
          f" chain/none = {chain / none:.3f} ({(none / chain - 1) * 100:+.1f}% time per row; target <= +15%)")


if __name__ == "__main__":
    main()
