"""The cost of exactly-once source delivery (scripts/bench-eos): the same
MySQL snapshot of N rows (default 200,000) read by a one-worker distributed
Sluice cluster with `exactly.once.source.support=disabled` (at least once)
and with `enabled` (KIP-618 transactions, one per poll), in the same run,
on the same private Kafka broker and private MariaDB, alternating, R rounds
each (default 2).

Each round: a fresh worker (release build, its own group and internal
topics), a fresh output topic (one partition, LogAppendTime), POST of the
connector (snapshot.mode=initial, JsonConverter with schemas). Time: from
the POST to the broker's append time of the last of the N rows, read back
with a read_committed consumer (transaction markers take offsets, so the
high watermark alone does not count rows). Also: the worker's CPU seconds
and peak RSS. Every row is checked present once.

Prints each round and the ratio of the medians exactly-once / at-least-once.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from confluent_kafka import Consumer, TopicPartition

from bench_support import (KEY_ID, PrivateKafka, PrivateMariaDB, SluiceWorker, Watermark,
                           cpu_secs, create_connector, create_topics, vm_hwm_kb)


def note(msg):
    print(f"bench-eos: {msg}", file=sys.stderr, flush=True)


def read_committed(bootstrap, topic, want, deadline):
    """Ids and the latest append time among the first `want` distinct ids."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-eos-{topic}",
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "fetch.max.bytes": 64 << 20})
    c.assign([TopicPartition(topic, 0, 0)])
    ids, last, dups = set(), 0, 0
    while len(ids) < want and time.time() < deadline:
        for m in c.consume(num_messages=10_000, timeout=1.0):
            if m.error():
                continue
            hit = KEY_ID.search(m.key() or b"")
            if not hit:
                continue
            i = int(hit.group(1))
            if i in ids:
                dups += 1
                continue
            ids.add(i)
            last = max(last, m.timestamp()[1])
    c.close()
    return ids, last, dups


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--kafka-libs", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--connector", action="append", default=[], metavar="KEY=VALUE",
                    help="extra connector settings for the exactly-once rounds"
                         " (e.g. transaction.boundary=interval)")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    run = str(int(time.time()))
    results = {"alo": [], "eos": []}
    with PrivateKafka(a.kafka_libs, a.workdir, run) as b, PrivateMariaDB(a.workdir, run) as db:
        note(f"filling a {a.rows}-row table")
        sql = ("CREATE DATABASE bench; CREATE TABLE bench.t (id BIGINT PRIMARY KEY, n INT,"
               " s VARCHAR(32), d DATETIME(6)); USE bench;")
        step = 50_000
        for lo in range(1, a.rows + 1, step):
            hi = min(lo + step - 1, a.rows)
            sql += (f"INSERT INTO t SELECT seq, seq % 1000, CONCAT('v-', seq),"
                    f" '2026-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_{lo}_to_{hi};")
        out = db._client("-e", sql)
        if out.returncode != 0:
            sys.exit(f"filling the table failed: {out.stderr}")
        for rnd in range(a.rounds):
            for mode in ("alo", "eos"):
                tag = f"{run}-{mode}{rnd}"
                prefix = f"eos{mode}{rnd}x{run}"
                topic = f"{prefix}.bench.t"
                create_topics(b.bootstrap, [topic])
                props = ["exactly.once.source.support=" + ("enabled" if mode == "eos" else "disabled")]
                with SluiceWorker(a.sluice, a.workdir, tag, b.bootstrap, props,
                                  mode="distributed") as w:
                    cfg = {"connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
                           "database.hostname": db.host, "database.port": str(db.port),
                           "database.user": db.user, "database.password": db.password,
                           "database.server.id": str(7000 + rnd * 2 + (mode == "eos")),
                           "topic.prefix": prefix, "database.include.list": "bench",
                           "snapshot.mode": "initial",
                           "schema.history.internal.kafka.bootstrap.servers": b.bootstrap,
                           "schema.history.internal.kafka.topic": f"{prefix}-history",
                           "tasks.max": "1"}
                    if mode == "eos":
                        cfg.update(dict(kv.split("=", 1) for kv in a.connector))
                    cpu0 = cpu_secs(w.pid)
                    t0 = time.time()
                    create_connector(w.port, f"bench-{mode}", cfg)
                    wm = Watermark(b.bootstrap, topic)
                    deadline = t0 + a.timeout
                    while wm() < a.rows and time.time() < deadline:
                        time.sleep(0.05)
                    ids, last, dups = read_committed(b.bootstrap, topic, a.rows, deadline)
                    cpu = cpu_secs(w.pid) - cpu0
                    rss = vm_hwm_kb(w.pid)
                    wm.close()
                    if len(ids) < a.rows:
                        sys.exit(f"{mode} round {rnd}: {len(ids)} of {a.rows} rows within {a.timeout} s;"
                                 f" see {w.log}")
                    secs = last / 1000 - t0
                    r = dict(secs=secs, rows_s=a.rows / secs, cpu=cpu, rss_mib=rss / 1024, dups=dups)
                    results[mode].append(r)
                    note(f"{mode} round {rnd}: {a.rows} rows in {secs:.2f} s = {r['rows_s']:,.0f} rows/s,"
                         f" {cpu:.1f} CPU-s, peak RSS {r['rss_mib']:.1f} MiB, {dups} duplicates")
    extra = f" (exactly-once rounds with {', '.join(a.connector)})" if a.connector else ""
    print(f"\nMySQL snapshot of {a.rows} rows, one-worker distributed Sluice, same broker and database{extra}:")
    print("| mode | rows/s per round | median rows/s | CPU-s (median) | peak RSS MiB (max) |")
    print("|---|---|---|---|---|")
    med = {}
    for mode, label in (("alo", "at least once"), ("eos", "exactly once (KIP-618)")):
        rs = results[mode]
        med[mode] = statistics.median(r["rows_s"] for r in rs)
        per_round = ", ".join(f"{r['rows_s']:,.0f}" for r in rs)
        print(f"| {label} | {per_round} | {med[mode]:,.0f} |"
              f" {statistics.median(r['cpu'] for r in rs):.1f} | {max(r['rss_mib'] for r in rs):.1f} |")
    print(f"\nexactly-once / at-least-once throughput: {med['eos'] / med['alo']:.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
