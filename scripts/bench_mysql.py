"""MySQL/MariaDB -> Kafka streaming benchmark (scripts/bench-mysql).

One run, one binlog range, three readers:

- Sluice: a release `sluice standalone`, MySQL connector created over REST
  with snapshot.mode=no_data (so every row is streamed from the binlog),
  JsonConverter with schemas, into the broker (see Broker below).
- The decode limit: `mariadb-binlog --read-from-remote-server
  --base64-output=decode-rows -v` over the same binlog range, to /dev/null.
- A peer: python-mysql-replication's BinLogStreamReader reading the same
  range and materialising every row's values.

Writes: N rows (default 1,000,000) in transactions of B rows (default
1,000), `INSERT ... SELECT ... FROM seq_1_to_B` (table: BIGINT key
i*B + seq, INT, VARCHAR(32), DATETIME(6) = NOW(6)), one client
session, written as fast as the server takes them while Sluice streams.

Broker: by default a private tansu broker on the memory engine, started
and stopped by this script on its own port (scripts/bench_support.py says
why); `--broker shared` uses the shared broker at --bootstrap (sqlite),
which bounds Sluice at a few thousand records/s.

Completion and latency: a consumer thread reads the topic back from the
start while Sluice streams and marks each id of the JSON key (transaction
i writes ids [i*B+1, (i+1)*B]). Throughput: N / (time the last id was read - time the
first transaction's COMMIT returned). Latency (commit -> read back): per
transaction, the time its last row was read minus the wall clock when the
writer's COMMIT returned; p50 / p99 are over transactions. Reading back
comes after the broker's ack (acks=all, one node), so this is an upper
bound on commit -> ack, off by the consumer's fetch wait (10 ms) and its
batch. Every id must arrive; duplicates and missing ids are reported. The
high watermark is not used: tansu's memory engine can report a wrong one.

`--broker null`: the private tansu on its null engine, which acknowledges
every record and keeps none (scripts/bench_support.py): Sluice's own cost
up to the broker's ack, without the broker's storage. Nothing can be read
back, so completion is Sluice's committed source offset (polled over REST
every 20 ms; offset.flush.interval.ms=100): after the last bench
transaction the writer commits one row to a second table, and once the
committed offset reaches that transaction's position every earlier row
was acknowledged (the worker commits only fully acknowledged prefixes).
Transaction i counts as acknowledged when the committed offset reaches
the binlog position after its COMMIT (an upper bound, quantised by the
100 ms flush).

Peak RSS: the kernel's VmHWM of the Sluice process at the end. CPU: the
Sluice process's user + system seconds from the first write to the last
ack, and rows per CPU-second: on a 2-core machine shared with other
builds, wall-clock rates swing with the load; CPU per row does much less.

`--catch-up`: the connector is paused (REST) while the rows are written
and resumed after the last COMMIT, so Sluice reads a binlog that is
already written, as mariadb-binlog does: throughput is N / (last ack -
resume), the figure to set against the decode limit. Without it the
writer (one Python session) paces the stream and the latency figures
mean something; with it they do not and are not printed.

`--ceiling`: after Sluice, in the same run and on the same private broker,
a plain librdkafka producer (`examples/plain_producer.rs --repeat`, one
thread, exactly a Sluice source task's producer settings) sends N records
shaped as Sluice's records of the bench table (the key and the Debezium
envelope with schemas, built by `record_template` below; only the id
varies), timed from its first send to its last delivery report. Nothing
can deliver these records into this broker on this machine faster, so
it is the ceiling of any pipeline, printed with its ratio to the decode
limit; the producer's CPU seconds are printed too.

Tuning runs: `--producer KEY=VALUE` writes worker `producer.*` settings,
`--connector KEY=VALUE` adds connector settings; `--batch` sets the
transaction size (peak RSS against transaction size: `--rows 100000
--batch 100000` against `--batch 1`).
"""
import argparse
import os
import subprocess
import sys
import time

import pymysql
from confluent_kafka.admin import AdminClient, NewTopic

from bench_support import (OffsetWatch, PrivateBroker, ReadBack, cpu_secs, free_port, http, pct,
                           vm_hwm_kb)


def master_status(conn):
    with conn.cursor() as c:
        c.execute("SHOW MASTER STATUS")
        row = c.fetchone()
        return row[0], int(row[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--broker", choices=["private", "null", "shared"], default="private",
                    help="private: a tansu broker of this run's own on the memory engine"
                         " (default); null: the same on tansu's null engine (acks, discards);"
                         " shared: the broker at --bootstrap (sqlite)")
    ap.add_argument("--flush-ms", type=int, help="offset.flush.interval.ms (default 1000;"
                    " 100 with --broker null, where completion is read from the committed offset)")
    ap.add_argument("--tansu", help="the tansu binary (for --broker private)")
    ap.add_argument("--bootstrap", help="the shared broker (for --broker shared)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3307)
    ap.add_argument("--root-password", default="sluice")
    ap.add_argument("--user", default="sluice")
    ap.add_argument("--password", default="sluice")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--timeout", type=int, default=900, help="seconds Sluice may take")
    ap.add_argument("--catch-up", action="store_true",
                    help="pause the connector while the rows are written, then resume it:"
                         " throughput of reading a written binlog, as the decode limit does")
    ap.add_argument("--no-peer", action="store_true", help="skip python-mysql-replication")
    ap.add_argument("--ceiling", action="store_true",
                    help="also time a plain librdkafka producer (--plain) sending as many"
                         " Sluice-shaped records to the same broker: the ceiling")
    ap.add_argument("--plain", help="examples/plain_producer.rs's release binary")
    ap.add_argument("--no-decode", action="store_true", help="skip mariadb-binlog")
    ap.add_argument("--producer", action="append", default=[], metavar="KEY=VALUE",
                    help="a worker producer.* setting (repeatable), e.g. linger.ms=20")
    ap.add_argument("--connector", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra connector setting (repeatable), e.g. max.queue.size=4096")
    a = ap.parse_args()
    if a.rows % a.batch:
        sys.exit("--rows must be a multiple of --batch")
    os.makedirs(a.workdir, exist_ok=True)
    run = str(int(time.time()))
    if a.flush_ms is None:
        a.flush_ms = 100 if a.broker == "null" else 1000
    if a.broker in ("private", "null"):
        engine = "memory://tansu/" if a.broker == "private" else "null://sluice-bench"
        with PrivateBroker(a.tansu, a.workdir, run, engine) as b:
            res = stream_once(a, run, b.bootstrap)
            if a.ceiling:
                res["ceiling"] = ceiling(a, run, b.bootstrap)
    else:
        if not a.bootstrap:
            sys.exit("--broker shared needs --bootstrap")
        res = stream_once(a, run, a.bootstrap)
        if a.ceiling:
            res["ceiling"] = ceiling(a, run, a.bootstrap)
    report(a, res)


def kv(items):
    out = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep:
            sys.exit(f"expected KEY=VALUE, got {it!r}")
        out[k] = v
    return out


def stream_once(a, run, bootstrap):
    """Sluice streams N rows into `bootstrap`; then the reference readers."""
    db, prefix = f"bench_{run}", f"bm{run}"
    topic = f"{prefix}.{db}.t"
    root = pymysql.connect(host=a.host, port=a.port, user="root", password=a.root_password,
                           autocommit=True)
    with root.cursor() as c:
        c.execute(f"CREATE DATABASE {db}")
        c.execute(f"CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, k INT NOT NULL,"
                  " v VARCHAR(32) NOT NULL, ts DATETIME(6) NOT NULL)")
        c.execute(f"CREATE TABLE {db}.t_end (id INT PRIMARY KEY)")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, 1, 1), NewTopic(f"{topic}_end", 1, 1)]).values():
        f.result(30)

    port = free_port()
    worker = os.path.join(a.workdir, f"worker-{run}.properties")
    with open(worker, "w") as f:
        f.write(f"bootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:{port}\n"
                f"offset.storage.file.filename={a.workdir}/offsets-{run}\n"
                f"offset.flush.interval.ms={a.flush_ms}\n"
                "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n")
        for k, v in kv(a.producer).items():
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
        config = {
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": a.host, "database.port": str(a.port),
            "database.user": a.user, "database.password": a.password,
            "database.server.id": str(50_000 + int(run) % 100_000),
            "topic.prefix": prefix, "database.include.list": db,
            "snapshot.mode": "no_data",
            "schema.history.internal.file.filename": f"{a.workdir}/history-{run}.jsonl",
            "tasks.max": "1"}
        config.update(kv(a.connector))
        http(port, "POST", "/connectors", {"name": f"bench-{run}", "config": config})
        # Streaming has begun when the log says so.
        deadline = time.time() + 60
        while "streaming the binlog" not in open(log.name).read():
            if time.time() > deadline or p.poll() is not None:
                sys.exit("the connector did not start streaming; see " + log.name)
            time.sleep(0.05)

        n_tx = a.rows // a.batch
        if a.broker == "null":
            reader = OffsetWatch(port, f"bench-{run}")
        else:
            reader = ReadBack(bootstrap, topic, a.rows, a.batch, run, a.timeout)
        reader.start()
        if a.catch_up:
            http(port, "PUT", f"/connectors/bench-{run}/pause")
            deadline = time.time() + 60
            while True:
                st = http(port, "GET", f"/connectors/bench-{run}/status")
                if st["tasks"] and all(t["state"] == "PAUSED" for t in st["tasks"]):
                    break
                if time.time() > deadline:
                    sys.exit(f"the connector did not pause; see {log.name}")
                time.sleep(0.05)
        start_file, start_pos = master_status(root)
        cpu_at_start = cpu_secs(p.pid)
        commit_at, end_at = [], []
        w = pymysql.connect(host=a.host, port=a.port, user="root", password=a.root_password,
                            database=db, autocommit=False)
        with w.cursor() as c:
            for i in range(n_tx):
                # Explicit ids: auto-increment leaves gaps after INSERT ... SELECT.
                c.execute(f"INSERT INTO {db}.t (id, k, v, ts) SELECT {i * a.batch} + seq, seq,"
                          f" 'abcdefghijklmnopqrstuvwxyz012345', NOW(6) FROM seq_1_to_{a.batch}")
                w.commit()
                commit_at.append(time.time())
                if a.broker == "null":
                    end_at.append(master_status(root))
            # A last transaction on another table: once the committed offset
            # reaches it, every bench row before it was acknowledged.
            c.execute(f"INSERT INTO {db}.t_end VALUES (1)")
            w.commit()
        end_file, end_pos = master_status(root)
        resume_at = None
        if a.catch_up:
            cpu_at_start = cpu_secs(p.pid)
            resume_at = time.time()
            http(port, "PUT", f"/connectors/bench-{run}/resume")
        if a.broker == "null":
            last = end_at[-1]
            deadline = time.time() + a.timeout
            while reader.first_at(lambda o: (o["file"], o["pos"]) >= last) is None:
                if time.time() > deadline or p.poll() is not None:
                    sys.exit(f"sluice's committed offset did not reach {last} within {a.timeout} s;"
                             f" see {log.name}")
                time.sleep(0.05)
            reader.stop.set()
            done_at = [reader.first_at(lambda o, e=e: (o["file"], o["pos"]) >= e) for e in end_at]
            verified = (f"committed offset reached the sentinel transaction at {last[0]}:{last[1]}"
                        " (nothing read back: the null engine discards)")
        else:
            reader.join(a.timeout + 30)
            reader.stop.set()
            if reader.count < a.rows:
                sys.exit(f"sluice delivered {reader.count} of {a.rows} rows within {a.timeout} s"
                         f" (missing ids {reader.missing()}...); see {log.name}")
            done_at = reader.done_at
            verified = (f"{reader.count} distinct ids of {a.rows} read back, {reader.duplicates}"
                        f" duplicates, {reader.others} other records")
        sluice_rss_kb = vm_hwm_kb(p.pid)
        sluice_cpu = cpu_secs(p.pid) - cpu_at_start
        status = http(port, "GET", f"/connectors/bench-{run}/status")
    finally:
        p.terminate()
        p.wait(30)
    return dict(run=run, db=db, log=log.name, n_tx=n_tx, commit_at=commit_at, done_at=done_at,
                verified=verified, cpu=sluice_cpu, resume_at=resume_at,
                rss_kb=sluice_rss_kb, status=status, start=(start_file, start_pos),
                end=(end_file, end_pos), bootstrap=bootstrap)


def record_template(prefix, db, server_id):
    """Key and value (two lines, `@ID@` for the id) as Sluice's JsonConverter
    (schemas enabled) writes a streamed insert into the bench table: the same
    schemas, field order and value widths (a 19-digit ts, the 32-byte v, a
    binlog file/pos/gtid of the usual lengths). Checked against a record read
    back from the broker (`--broker shared`): equal but for the values."""
    import json

    def f(t, field, optional=False, **extra):
        return {"type": t, "optional": optional, **extra, "field": field}

    row = [f("int64", "id"), f("int32", "k"), f("string", "v"),
           f("int64", "ts", name="io.debezium.time.MicroTimestamp", version=1)]
    table = f"{prefix}.{db}.t"
    snapshot = {"type": "string", "optional": True, "name": "io.debezium.data.Enum", "version": 1,
                "parameters": {"allowed": "true,first,first_in_data_collection,"
                               "last_in_data_collection,last,false,incremental"},
                "default": "false", "field": "snapshot"}
    source = [f("string", "version"), f("string", "connector"), f("string", "name"),
              f("int64", "ts_ms"), snapshot, f("string", "db"), f("string", "sequence", True),
              f("int64", "ts_us", True), f("int64", "ts_ns", True), f("string", "table", True),
              f("int64", "server_id"), f("string", "gtid", True), f("string", "file"),
              f("int64", "pos"), f("int32", "row"), f("int64", "thread", True),
              f("string", "query", True)]
    block = [f("string", "id"), f("int64", "total_order"), f("int64", "data_collection_order")]
    image = {"type": "struct", "fields": row, "optional": True, "name": f"{table}.Value"}
    envelope = {"type": "struct", "fields": [
        {**image, "field": "before"}, {**image, "field": "after"},
        {"type": "struct", "fields": source, "optional": False,
         "name": "io.debezium.connector.mysql.Source", "field": "source"},
        {"type": "struct", "fields": block, "optional": True, "name": "event.block",
         "version": 1, "field": "transaction"},
        f("string", "op"), f("int64", "ts_ms", True), f("int64", "ts_us", True),
        f("int64", "ts_ns", True)], "optional": False, "name": f"{table}.Envelope", "version": 1}
    ms = 1796156751000
    payload = {"before": None,
               "after": {"id": "@ID@", "k": 123, "v": "abcdefghijklmnopqrstuvwxyz012345",
                         "ts": 1796156751403466},
               "source": {"version": "0.1.0", "connector": "mysql", "name": prefix, "ts_ms": ms,
                          "snapshot": "false", "db": db, "sequence": None, "ts_us": ms * 1000,
                          "ts_ns": ms * 1000000, "table": "t", "server_id": server_id,
                          "gtid": "0-1-1234", "file": "mariadb-bin.000001", "pos": 12345678,
                          "row": 123, "thread": None, "query": None},
               "transaction": None, "op": "c", "ts_ms": ms + 403, "ts_us": (ms + 403) * 1000 + 466,
               "ts_ns": ((ms + 403) * 1000 + 466) * 1000 + 436}
    key = {"schema": {"type": "struct", "fields": [f("int64", "id")], "optional": False,
                      "name": f"{table}.Key"}, "payload": {"id": "@ID@"}}

    def dump(o):
        return json.dumps(o, separators=(",", ":")).replace('"@ID@"', "@ID@")

    return dump(key) + "\n" + dump({"schema": envelope, "payload": payload}) + "\n"


def ceiling(a, run, bootstrap):
    """The plain producer sends a.rows Sluice-shaped records to a fresh topic."""
    db, prefix = f"bench_{run}", f"bm{run}"
    topic = f"{prefix}.{db}.t_plain"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        f.result(30)
    template = os.path.join(a.workdir, f"template-{run}.txt")
    with open(template, "w") as f:
        f.write(record_template(prefix, db, 1))
    if not (a.plain and os.access(a.plain, os.X_OK)):
        sys.exit(f"--ceiling needs --plain (the plain_producer example), got {a.plain!r}")
    out = subprocess.run([a.plain, bootstrap, topic, "--repeat", str(a.rows), template],
                         capture_output=True, text=True, timeout=a.timeout)
    if out.returncode != 0:
        sys.exit(f"plain producer failed: {out.stderr.strip()}")
    fields = dict(kv.split("=", 1) for kv in out.stdout.split())
    with open(template) as f:
        key, value = f.read().splitlines()
    return dict(records=int(fields["records"]), secs=float(fields["seconds"]),
                cpu=float(fields["cpu_seconds"]), bytes=len(key) + len(value))


def report(a, r):
    n, n_tx, commit_at, done_at = a.rows, r["n_tx"], r["commit_at"], r["done_at"]
    (start_file, start_pos), (end_file, end_pos) = r["start"], r["end"]
    write_secs = max(commit_at[-1] - commit_at[0], 1e-9)
    began = r["resume_at"] or commit_at[0]
    sluice_secs = max(done_at) - began
    lat = [(ack - com) * 1000 for ack, com in zip(done_at, commit_at)]
    sluice_rate = n / sluice_secs

    decode = None
    if not a.no_decode:
        # The decode limit: mariadb-binlog over the same range.
        cmd = ["mariadb-binlog", "--no-defaults", "--read-from-remote-server", f"--host={a.host}",
               f"--port={a.port}", "--user=root", f"--password={a.root_password}",
               "--base64-output=decode-rows", "-v", f"--start-position={start_pos}"]
        if end_file == start_file:
            cmd += [f"--stop-position={end_pos}", start_file]
        else:
            cmd += ["--to-last-log", start_file]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        decoded_rows, tail = 0, b""
        while chunk := proc.stdout.read(1 << 20):
            chunk = tail + chunk
            decoded_rows += chunk.count(b"### INSERT INTO")
            tail = chunk[-16:]
            decoded_rows -= tail.count(b"### INSERT INTO")
        decoded_rows += tail.count(b"### INSERT INTO")
        err = proc.stderr.read()
        if proc.wait() != 0:
            sys.exit(f"mariadb-binlog failed: {err.decode()}")
        decode = (decoded_rows, time.monotonic() - t0)

    peer = None
    if not a.no_peer:
        from pymysqlreplication import BinLogStreamReader
        from pymysqlreplication.row_event import WriteRowsEvent
        t0 = time.monotonic()
        stream = BinLogStreamReader(
            connection_settings={"host": a.host, "port": a.port, "user": "root",
                                 "passwd": a.root_password},
            server_id=60_000 + int(r["run"]) % 100_000, log_file=start_file, log_pos=start_pos,
            resume_stream=True, blocking=False, only_events=[WriteRowsEvent],
            only_schemas=[r["db"]])
        peer_rows = 0
        for ev in stream:
            for row in ev.rows:
                peer_rows += 1 if row["values"] is not None else 0
            if peer_rows >= a.rows:
                break
        stream.close()
        peer = (peer_rows, time.monotonic() - t0)

    broker = {"private": "private tansu, memory engine", "null": "private tansu, null engine",
              "shared": f"shared broker {r['bootstrap']}"}[a.broker]
    print(f"rows={n} transactions={n_tx}x{a.batch} binlog={start_file}:{start_pos}..{end_file}:{end_pos}"
          f" broker={broker}")
    if n_tx > 1:
        print(f"writer: {n / write_secs:,.0f} rows/s committed ({write_secs:.2f} s)")
    else:
        print("writer: one transaction")
    print(f"verified: {r['verified']}")
    if r["resume_at"]:
        print(f"sluice mysql -> kafka (catch-up): {sluice_rate:,.0f} rows/s ({sluice_secs:.2f} s, resume -> last ack;"
              f" rows written while paused)  peak RSS {r['rss_kb'] / 1024:.1f} MiB"
              f"  task {r['status']['tasks'][0]['state']}")
    else:
        print(f"sluice mysql -> kafka: {sluice_rate:,.0f} rows/s end to end ({sluice_secs:.2f} s, first commit -> last ack)"
              f"  latency commit->ack p50 {pct(lat, 50):.0f} ms p99 {pct(lat, 99):.0f} ms max {max(lat):.0f} ms"
              f"  peak RSS {r['rss_kb'] / 1024:.1f} MiB  task {r['status']['tasks'][0]['state']}")
    print(f"sluice CPU: {r['cpu']:.1f} s user+system while streaming, {n / r['cpu']:,.0f} rows per CPU-second")
    if decode:
        decode_rate = decode[0] / decode[1]
        print(f"mariadb-binlog decode-rows -v (limit): {decode_rate:,.0f} rows/s ({decode[0]} rows, {decode[1]:.2f} s)")
    if peer:
        print(f"python-mysql-replication (peer): {peer[0] / peer[1]:,.0f} rows/s ({peer[0]} rows, {peer[1]:.2f} s)")
    ceil = r.get("ceiling")
    if ceil:
        ceil_rate = ceil["records"] / ceil["secs"]
        print(f"plain librdkafka producer, same broker, {ceil['bytes']}-byte records (ceiling):"
              f" {ceil_rate:,.0f} records/s ({ceil['secs']:.2f} s, first send -> last ack;"
              f" {ceil['cpu']:.1f} CPU-s, {ceil['records'] / max(ceil['cpu'], 1e-9):,.0f} records per CPU-second)")
    if decode:
        print(f"ratio sluice/decode limit: {sluice_rate / decode_rate:.2f}")
    if ceil:
        print(f"ratio sluice/ceiling: {sluice_rate / ceil_rate:.2f}")
        if decode:
            print(f"ratio ceiling/decode limit: {ceil_rate / decode_rate:.2f}")
    if peer:
        print(f"ratio sluice/peer: {sluice_rate / (peer[0] / peer[1]):.2f}")


if __name__ == "__main__":
    main()
