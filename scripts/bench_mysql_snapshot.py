"""MySQL/MariaDB initial snapshot benchmark (scripts/bench-mysql-snapshot).

One table of N rows (default 1,000,000; BIGINT key, INT, VARCHAR(32),
DATETIME(6), written with `INSERT ... SELECT ... FROM seq_1_to_N`), read
in the same run by:

- the reference: `mariadb --quick -N -B -e 'SELECT * FROM db.t'` to
  /dev/null (the server's own client streaming the rows as text: the
  speed of reading the table over the network, nothing else);
- Sluice: a release `sluice standalone`, MySQL connector created over REST
  with snapshot.mode=initial_only, JsonConverter with schemas, into the
  local broker (acks=all).

Broker: by default a private tansu broker on the memory engine, started
and stopped by this script on its own port; `--broker shared` uses the
shared (sqlite) broker at --bootstrap (scripts/bench_support.py says why).

`--broker null`: tansu's null engine (acknowledges, keeps nothing);
completion is the committed source offset losing its `snapshot` flag
(the snapshot's last record carries the final offset; offsets commit only
past acknowledged records; offset.flush.interval.ms=100), polled every
20 ms.

Sluice's figures: rows / (time the last row was read back - time the
connector was created), i.e. snapshot to broker acknowledgement, counted
by a consumer reading the topic back from the start and marking each id
of the JSON key (every id 1..N must arrive; duplicates are reported; the
high watermark is not used, the memory engine can report a wrong one);
the snapshot's own read time from its log line ("snapshot: <db>.t done, N
rows in ..."), which ends when the last row was handed to the producer
(the read is back-pressured by the broker); peak RSS (VmHWM) of the
process.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import pymysql
from confluent_kafka.admin import AdminClient, NewTopic

from bench_support import OffsetWatch, PrivateBroker, ReadBack, cpu_secs, free_port, http, vm_hwm_kb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--broker", choices=["private", "null", "shared"], default="private",
                    help="private: a tansu broker of this run's own on the memory engine"
                         " (default); null: the same on tansu's null engine (acks, discards);"
                         " shared: the broker at --bootstrap (sqlite)")
    ap.add_argument("--tansu", help="the tansu binary (for --broker private)")
    ap.add_argument("--bootstrap", help="the shared broker (for --broker shared)")
    ap.add_argument("--producer", action="append", default=[], metavar="KEY=VALUE",
                    help="a worker producer.* setting (repeatable)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3307)
    ap.add_argument("--root-password", default="sluice")
    ap.add_argument("--user", default="sluice")
    ap.add_argument("--password", default="sluice")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--timeout", type=int, default=1800, help="seconds Sluice may take")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    run = str(int(time.time()))
    if a.broker in ("private", "null"):
        engine = "memory://tansu/" if a.broker == "private" else "null://sluice-bench"
        with PrivateBroker(a.tansu, a.workdir, run, engine) as b:
            snapshot_once(a, run, b.bootstrap)
    else:
        if not a.bootstrap:
            sys.exit("--broker shared needs --bootstrap")
        snapshot_once(a, run, a.bootstrap)


def snapshot_once(a, run, bootstrap):
    db, prefix = f"bench_snap_{run}", f"bs{run}"
    topic = f"{prefix}.{db}.t"
    root = pymysql.connect(host=a.host, port=a.port, user="root", password=a.root_password,
                           autocommit=True)
    with root.cursor() as c:
        c.execute(f"CREATE DATABASE {db}")
        c.execute(f"CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, k INT NOT NULL,"
                  " v VARCHAR(32) NOT NULL, ts DATETIME(6) NOT NULL)")
        done = 0
        while done < a.rows:  # in chunks: one huge transaction strains the server
            n = min(100_000, a.rows - done)
            c.execute(f"INSERT INTO {db}.t SELECT seq, seq % 1000, 'abcdefghijklmnopqrstuvwxyz012345',"
                      f" '2024-01-01 00:00:00.123456' + INTERVAL seq SECOND FROM {db}.seq_{done + 1}_to_{done + n}")
            done += n
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        f.result(30)

    # The reference: the server's own client, --quick (row by row, no buffering).
    cmd = ["mariadb", "--no-defaults", "--quick", "-N", "-B", f"--host={a.host}", f"--port={a.port}",
           "--user=root", f"--password={a.root_password}", "-e", f"SELECT * FROM {db}.t"]
    t0 = time.monotonic()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    quick_secs = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"mariadb --quick failed: {out.stderr.decode()}")
    quick_rows = out.stdout.count(b"\n")
    del out

    port = free_port()
    worker = os.path.join(a.workdir, f"worker-{run}.properties")
    with open(worker, "w") as f:
        f.write(f"bootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:{port}\n"
                f"offset.storage.file.filename={a.workdir}/offsets-{run}\n"
                f"offset.flush.interval.ms={100 if a.broker == 'null' else 1000}\n"
                "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n")
        for it in a.producer:
            k, _, v = it.partition("=")
            f.write(f"producer.{k}={v}\n")
    log = open(os.path.join(a.workdir, f"sluice-{run}.log"), "w")
    p = subprocess.Popen([a.sluice, "standalone", worker], stdout=log, stderr=log)
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
        if a.broker == "null":
            reader = OffsetWatch(port, f"bench-snap-{run}")
        else:
            reader = ReadBack(bootstrap, topic, a.rows, a.rows, run, a.timeout)
        reader.start()
        cpu0 = cpu_secs(p.pid)
        t0 = time.time()
        http(port, "POST", "/connectors", {"name": f"bench-snap-{run}", "config": {
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": a.host, "database.port": str(a.port),
            "database.user": a.user, "database.password": a.password,
            "database.server.id": str(70_000 + int(run) % 100_000),
            "topic.prefix": prefix, "database.include.list": db,
            "snapshot.mode": "initial_only", "include.schema.changes": "false",
            "schema.history.internal.file.filename": f"{a.workdir}/history-{run}.jsonl",
            "tasks.max": "1"}})
        progress_seen = None
        deadline = time.time() + a.timeout
        while p.poll() is None and time.time() < deadline:
            if a.broker == "null":
                # The snapshot's last record carries the offset without the
                # `snapshot` flag: committed once every row was acknowledged.
                if reader.first_at(lambda o: not o.get("snapshot")) is not None:
                    break
            elif not reader.is_alive():
                break
            if progress_seen is None:
                st = http(port, "GET", f"/connectors/bench-snap-{run}/status")
                prog = st["tasks"][0].get("progress") if st["tasks"] else None
                if prog and prog.get("snapshot", {}).get("tables"):
                    progress_seen = prog
            reader.join(0.05 if progress_seen is None or a.broker == "null" else 1)
        reader.stop.set()
        reader.join(30)
        rss_kb = vm_hwm_kb(p.pid)
        cpu = cpu_secs(p.pid) - cpu0
        if a.broker == "null":
            end = reader.first_at(lambda o: not o.get("snapshot"))
            if end is None:
                sys.exit(f"the snapshot's last offset was not committed; see {log.name}")
            sluice_secs = end - t0
            verified = "committed offset reached the snapshot's end (null engine: nothing read back)"
        else:
            if reader.count < a.rows:
                sys.exit(f"sluice delivered {reader.count} of {a.rows} rows (missing ids"
                         f" {reader.missing()}...); see {log.name}")
            sluice_secs = reader.done_at[0] - t0
            verified = (f"{reader.count} distinct ids of {a.rows} read back, {reader.duplicates}"
                        f" duplicates, {reader.others} other records")
    finally:
        p.terminate()
        p.wait(30)
    text = open(log.name).read()
    m = re.search(r"snapshot: \S+ done, (\d+) rows in ([0-9.]+)(ms|s)", text)
    read_secs = None
    if m:
        read_secs = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    progress_lines = len(re.findall(r"snapshot: \S+ \d+ of ~\d+ rows", text))

    quick_rate = quick_rows / quick_secs
    sluice_rate = a.rows / sluice_secs
    print(f"rows={a.rows} table={db}.t")
    print(f"mariadb --quick (reference, table read to /dev/null): {quick_rate:,.0f} rows/s ({quick_rows} rows, {quick_secs:.2f} s)")
    print(f"sluice snapshot -> kafka (acked): {sluice_rate:,.0f} rows/s ({sluice_secs:.2f} s)"
          f"  peak RSS {rss_kb / 1024:.1f} MiB"
          + (f"  snapshot read done after {read_secs:.1f} s" if read_secs else ""))
    print(f"verified: {verified}; broker: " + {"private": "private tansu, memory engine",
          "null": "private tansu, null engine", "shared": f"shared {bootstrap}"}[a.broker])
    print(f"sluice CPU: {cpu:.1f} s user+system, {a.rows / cpu:,.0f} rows per CPU-second")
    print(f"progress: status {json.dumps(progress_seen) if progress_seen else 'not seen'}; {progress_lines} log lines")
    print(f"ratio sluice/mariadb --quick: {sluice_rate / quick_rate:.2f}")


if __name__ == "__main__":
    main()
