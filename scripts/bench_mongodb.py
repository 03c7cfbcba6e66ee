"""MongoDB -> Kafka benchmark (scripts/bench-mongodb).

One run, one backlog of changes, three readers of it:

- The peer: a pymongo change stream on the collection
  (`watch(start_at_operation_time=T0)`), iterating every change event
  (decoded to Python dicts) until it has N.
- Sluice, capture.mode=change_streams_update_full (Debezium's default):
  a release `sluice standalone`, MongoDB connector created over REST,
  JsonConverter with schemas, into the local broker.
- Sluice, capture.mode=oplog: the same, tailing local.oplog.rs.

Server: a private SecantusDB started for the run (a WiredTiger data dir
under the work dir, --oplog-max-entries large enough for the backlog),
stopped by its PID at the end, so the shared test server's history does
not enter the figures.

Writes: N documents (default 200,000) inserted with insert_many in
batches of B (default 1,000): `{_id: i, k, v: 32 chars, n: {a, b: [1,2,3]}}`.
T0 is the newest oplog entry before the first write. The backlog is
written first; then each reader reads it from T0, one after another, so
they do not compete for the two cores.

Sluice's start at T0: the connector is created (snapshot.mode=never),
stopped, its offset set to {sec, ord} = T0 with PATCH
/connectors/{name}/offsets, and resumed. Throughput: N / (time from the
resume to the broker's high watermark of the topic (one partition)
reaching N). With JsonConverter schemas (the default) each record is
~3 KB, so the broker's byte rate can be the limit: --schemas false
(~0.4 KB records) shows how much. Afterwards the topic is read back with a consumer and its
distinct keys counted (must be N). Peak RSS: the kernel's VmHWM of the
Sluice process at the end.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

import pymongo
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench_support import free_port, http, vm_hwm_kb


def wait(what, cond, timeout, proc=None, log=None):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline or (proc is not None and proc.poll() is not None):
            sys.exit(f"timed out waiting for {what}" + (f"; see {log}" if log else ""))
        time.sleep(0.05)


def start_server(venv, workdir, entries):
    port = free_port()
    data = os.path.join(workdir, "secantus-data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    conf = os.path.join(workdir, "secantusd.toml")
    with open(conf, "w") as f:
        f.write("# bench-mongodb: flags on the command line\n")
    log = open(os.path.join(workdir, "secantusd.log"), "w")
    p = subprocess.Popen([os.path.join(venv, "bin", "secantusd-py"), "--config", conf,
                          "--host", "127.0.0.1", "--port", str(port), "--storage-path", data,
                          "--oplog-max-entries", str(entries)], stdout=log, stderr=log)
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"

    def up():
        try:
            pymongo.MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
            return True
        except Exception:
            return False

    wait("SecantusDB to start", up, 60, p, log.name)
    return p, uri


def high_watermark(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-wm-{topic}"})
    tp = TopicPartition(topic, 0)

    def hw():
        try:
            return c.get_watermark_offsets(tp, timeout=5, cached=False)[1]
        except Exception:
            return -1
    return c, hw


def distinct_keys(bootstrap, topic, n, timeout=300):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-read-{topic}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    keys, records = set(), 0
    deadline = time.time() + timeout
    while records < n and time.time() < deadline:
        for m in c.consume(1000, 1.0):
            if m.error() is None:
                records += 1
                keys.add(m.key())
    c.close()
    return records, len(keys)


def run_sluice(a, mode, uri, db, t0, n, run):
    prefix = f"bmg{run}{mode[:2]}"
    topic = f"{prefix}.{db}.t"
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        f.result(30)
    port = free_port()
    worker = os.path.join(a.workdir, f"worker-{run}-{mode}.properties")
    with open(worker, "w") as f:
        f.write(f"bootstrap.servers={a.bootstrap}\nlisteners=http://127.0.0.1:{port}\n"
                f"offset.storage.file.filename={a.workdir}/offsets-{run}-{mode}\n"
                "offset.flush.interval.ms=1000\n"
                "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                f"key.converter.schemas.enable={a.schemas}\nvalue.converter.schemas.enable={a.schemas}\n")
    log = open(os.path.join(a.workdir, f"sluice-{run}-{mode}.log"), "w")
    p = subprocess.Popen([a.sluice, "standalone", worker], stdout=log, stderr=log)
    name = f"bench-{run}-{mode}"
    try:
        def rest_up():
            try:
                http(port, "GET", "/")
                return True
            except OSError:
                return False
        wait("sluice to start", rest_up, 60, p, log.name)
        http(port, "POST", "/connectors", {"name": name, "config": {
            "connector.class": "io.debezium.connector.mongodb.MongoDbConnector",
            "mongodb.connection.string": uri, "topic.prefix": prefix,
            "database.include.list": db, "capture.mode": mode, "snapshot.mode": "never"}})
        state = lambda: http(port, "GET", f"/connectors/{name}/status")
        wait("the task to run", lambda: state()["tasks"] and state()["tasks"][0]["state"] == "RUNNING",
             60, p, log.name)
        http(port, "PUT", f"/connectors/{name}/stop")
        wait("the connector to stop", lambda: state()["connector"]["state"] == "STOPPED", 60, p, log.name)
        http(port, "PATCH", f"/connectors/{name}/offsets", {"offsets": [{
            "partition": {"server_id": prefix}, "offset": {"sec": t0.time, "ord": t0.inc}}]})
        c, hw = high_watermark(a.bootstrap, topic)
        start = time.time()
        http(port, "PUT", f"/connectors/{name}/resume")
        wait(f"{n} records in {topic}", lambda: hw() >= n, 900, p, log.name)
        secs = time.time() - start
        c.close()
        rss = vm_hwm_kb(p.pid)
        st = state()["tasks"][0]["state"]
    finally:
        p.terminate()
        p.wait(30)
    records, keys = distinct_keys(a.bootstrap, topic, n)
    return {"secs": secs, "rss_mib": rss / 1024, "state": st, "records": records, "keys": keys}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--schemas", choices=["true", "false"], default="true",
                    help="JsonConverter schemas.enable (true: Kafka Connect's default, ~3 KB records)")
    a = ap.parse_args()
    if a.docs > 2_000_000:
        sys.exit("--docs is capped at 2,000,000")
    os.makedirs(a.workdir, exist_ok=True)
    run = str(int(time.time()))
    db = f"bench_{run}"
    server, uri = start_server(a.venv, a.workdir, a.docs * 2 + 10_000)
    try:
        client = pymongo.MongoClient(uri)
        oplog = client.local["oplog.rs"]
        client[db].create_collection("t")
        t0 = next(oplog.find().sort("$natural", -1).limit(1))["ts"]
        w0 = time.time()
        coll = client[db].t
        for i in range(0, a.docs, a.batch):
            coll.insert_many([{"_id": j, "k": j % 1000, "v": "abcdefghijklmnopqrstuvwxyz012345",
                               "n": {"a": j, "b": [1, 2, 3]}}
                              for j in range(i, min(a.docs, i + a.batch))])
        write_secs = time.time() - w0

        # The peer: a pymongo change stream over the same backlog.
        p0 = time.time()
        seen = 0
        with coll.watch(start_at_operation_time=t0, batch_size=a.batch) as cs:
            for ev in cs:
                if ev["operationType"] == "insert":
                    seen += 1
                    if seen >= a.docs:
                        break
                if time.time() - p0 > 900:
                    sys.exit("the pymongo reader did not finish within 900 s")
        peer_secs = time.time() - p0

        results = {m: run_sluice(a, m, uri, db, t0, a.docs, run)
                   for m in ("change_streams_update_full", "oplog")}
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(os.path.join(a.workdir, "secantus-data"), ignore_errors=True)

    n = a.docs
    peer_rate = n / peer_secs
    print(f"documents={n} insert_many batches of {a.batch}; server SecantusDB (private, WiredTiger);"
          f" JsonConverter schemas.enable={a.schemas}")
    print(f"writer: {n / write_secs:,.0f} docs/s inserted ({write_secs:.2f} s)")
    print(f"pymongo change stream (peer): {peer_rate:,.0f} docs/s ({peer_secs:.2f} s)")
    for mode, r in results.items():
        rate = n / r["secs"]
        print(f"sluice {mode} -> kafka: {rate:,.0f} docs/s ({r['secs']:.2f} s, resume -> high watermark {n})"
              f"  peak RSS {r['rss_mib']:.1f} MiB  task {r['state']}"
              f"  read back {r['records']} records, {r['keys']} distinct keys"
              f"  ratio sluice/peer {rate / peer_rate:.2f}")
        if r["keys"] != n:
            sys.exit(f"{mode}: the topic holds {r['keys']} distinct keys, not {n}")


if __name__ == "__main__":
    main()
