"""MySQL/MariaDB -> Kafka streaming benchmark (scripts/bench-mysql): Sluice
against Debezium, same run, same broker, same database, same binlog range.

Systems, each given the same connector JSON (io.debezium.connector.mariadb.
MariaDbConnector, snapshot.mode=no_data, KafkaSchemaHistory on the same
broker, JsonConverter with schemas, one task):

- Sluice: a release `sluice standalone` of the run's own.
- Debezium: MariaDbConnector 3.5.0.Final on a fresh Apache Kafka Connect
  4.4 worker per variant (scripts/debezium up --name bench-RUN-...;
  distributed mode, its own group and internal topics, default JVM heap
  -Xms256m -Xmx1g), so its JVM's RSS and CPU are its own; stopped at the
  end. (Its MySqlConnector 3.6.1 does not work against MariaDB 10.11.)
  Two variants: `debezium`, Kafka Connect's producer defaults (acks=all,
  max.in.flight 1, batch.size 16384, linger 5 ms, no idempotence), and
  `debezium-tuned`, its producer set like Sluice's (TUNED below).
  Debezium alone also gets DEBEZIUM_ONLY below (no global read lock, no
  failure on other databases' DDL: the MariaDB is shared).
- The ceiling: a plain librdkafka producer (examples/plain_producer.rs
  --repeat, one thread, exactly a Sluice source task's producer settings)
  sending N copies of Sluice's own record (key and value read back from
  Sluice's topic, only the id varies) to a fresh topic of the same broker,
  timed from its first send to its last delivery report: nothing delivers
  these bytes into this broker on this machine faster. Timed twice, right
  after Sluice's catch-up and at the end; the faster is the ceiling.
- Extra lines, same binlog range, no broker: `mariadb-binlog
  --read-from-remote-server --base64-output=decode-rows -v` to /dev/null
  (the decode limit) and python-mysql-replication (a reader that only
  decodes); --no-decode / --no-peer leave them out.

Broker: a private Apache Kafka 4.4 broker of the run's own (one KRaft node
on free ports, bench_support.PrivateKafka; killed at the end), or with
`--broker shared` the shared broker at --bootstrap with fresh topic names.
Database: a private MariaDB 10.11 of the run's own (bench_support.
PrivateMariaDB, the shared server's settings), or with `--mariadb shared`
the one at --host/--port: other engineers' tests there have failed
Debezium's task mid-run (DDL its parser rejects; a binlog connection cut
mid-event) and add their own binlog traffic.
Every topic is created beforehand with one partition and
message.timestamp.type=LogAppendTime: each record's timestamp is then the
broker's append time, i.e. its acknowledgement (one broker, acks=all).

Catch-up (the default): both connectors are created before the writes,
wait until they stream the binlog, and are stopped (PUT
/connectors/NAME/stop: tasks shut down, their committed offset is the
position before the writes; checked). Then N rows (default 1,000,000) are
written in transactions of B (default 1,000), `INSERT ... SELECT ... FROM
seq_1_to_B` (BIGINT key, INT, VARCHAR(32), DATETIME(6)), one session, as
fast as the server takes them. Then each system in turn, alone (the other
is stopped), is resumed and reads the same written binlog range:
throughput = N / (append time of the N-th record in its topic - the
resume call), the task's restart included. Completion is polled with
ListOffsets (the high watermark reaching N), the time taken from the
record's append timestamp, not from logs. A system that misses its
deadline (--timeout for Sluice; --debezium-timeout, default 120 s +
1 ms per row) is reported with what it had acknowledged by then.

Latency (commit -> ack): after its catch-up, with the system streaming
live and alone, the writer commits --latency-rows more rows (default
100,000) in transactions of --latency-batch (100) paced at --latency-rate
rows/s (10,000). Per transaction: the latest append time among its rows
minus the wall clock when the writer's COMMIT returned (same host clock);
p50 / p99 over transactions. The rows are read back with their
timestamps after the phase. A system that cannot keep up with the rate
shows it as growing latency. Debezium, resumed after Sluice, also reads
Sluice's latency rows during its catch-up tail (not timed).

Peak RSS: the kernel's VmHWM of the Sluice process and of Kafka Connect's
JVM at the end of each one's phase (the JVM's figure includes the
worker's own start). CPU seconds: user + system of the process from
/proc/PID/stat, from the resume to the N-th record's ack (the broker's
too, when it is private). After the runs each topic's first N records are
read back: N distinct ids, duplicates counted (--no-verify skips it).

`--live`: instead of catching up, each system in turn (fresh worker,
fresh connector and its own database, started at the then-current
position) streams N rows while the writer writes them as fast as it can:
rows/s = N / (last ack - first commit), latency per transaction as above.
When the writer outruns a system these latencies measure its backlog.
"""
import argparse
import contextlib
import os
import re
import subprocess
import sys
import time

import pymysql

from bench_support import (DebeziumWorker, PrivateKafka, PrivateMariaDB, SharedKafka,
                           SluiceWorker, Watermark, cpu_secs, create_connector, create_topics,
                           http, loadavg, pct, plain_ceiling, read_topic, record_at, settle,
                           steal_secs, sys_secs, vm_hwm_kb)

MARIADB_CLASS = "io.debezium.connector.mariadb.MariaDbConnector"
# Kafka Connect's producer set like a Sluice source task's librdkafka one
# (runtime/src/kafka/mod.rs producer_defaults: idempotent, acks=all, linger
# 20 ms, batches up to librdkafka's 1,000,000 bytes, 5 requests in flight).
# Out of the box Kafka Connect sends at most one 16 KB batch (five ~3 KB
# records) at a time: max.in.flight 1, batch.size 16384, linger 5 ms.
TUNED = {"linger.ms": "20", "batch.size": "1000000", "max.in.flight.requests.per.connection": "5",
         "enable.idempotence": "true"}
NAMES = {"sluice": "Sluice",
         "debezium": "Debezium (MariaDbConnector 3.5.0, Kafka Connect 4.4, its producer defaults)",
         "debezium-tuned": "Debezium (same, producer set like Sluice's: " + ", ".join(
             f"{k}={v}" for k, v in TUNED.items()) + ")"}


PFX = {"sluice": "s", "debezium": "d", "debezium-tuned": "t"}
# Debezium alone, for the shared MariaDB: without the first two its schema
# read holds a global read lock while it reads every database's structure
# (~9 s here; Sluice takes no lock on MariaDB); without the third, another
# engineer's test DDL in the binlog that its parser rejects (seen: `CREATE
# TABLE n4 (id INT PRIMARY KEY, i4 INET4)`) fails its task.
DEBEZIUM_ONLY = {"snapshot.locking.mode": "none",
                 "schema.history.internal.store.only.captured.databases.ddl": "true",
                 "schema.history.internal.skip.unparseable.ddl": "true"}


def master_status(conn):
    with conn.cursor() as c:
        c.execute("SHOW MASTER STATUS")
        row = c.fetchone()
        return row[0], int(row[1])


def note(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def kv(items):
    out = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep:
            sys.exit(f"expected KEY=VALUE, got {it!r}")
        out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--plain", help="examples/plain_producer.rs's release binary (the ceiling)")
    ap.add_argument("--debezium", help="scripts/debezium (the peer)")
    ap.add_argument("--broker", choices=["private", "shared", "null"], default="private",
                    help="private: an Apache Kafka broker of this run's own (default);"
                         " shared: the broker at --bootstrap, fresh topics")
    ap.add_argument("--kafka-libs", help="Kafka's classpath folder (SLUICE_KAFKA_LIBS), for --broker private")
    ap.add_argument("--broker-heap", default="1g")
    ap.add_argument("--bootstrap", help="the shared broker (for --broker shared)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--mariadb", choices=["private", "shared"], default="private",
                    help="private: a MariaDB server of this run's own (default); shared: --host/--port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3307)
    ap.add_argument("--root-password", default="sluice")
    ap.add_argument("--user", default="sluice")
    ap.add_argument("--password", default="sluice")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--timeout", type=int, default=900, help="seconds Sluice may take")
    ap.add_argument("--debezium-timeout", type=int,
                    help="seconds Debezium may take (default 120 + rows/2000)")
    ap.add_argument("--live", action="store_true",
                    help="each system streams while the rows are written (see the docstring)")
    ap.add_argument("--catch-up", action="store_true", help="the default; kept for old command lines")
    ap.add_argument("--ceiling", action="store_true", help="the default; kept for old command lines")
    ap.add_argument("--no-ceiling", action="store_true")
    ap.add_argument("--no-debezium", action="store_true")
    ap.add_argument("--no-peer", action="store_true", help="skip python-mysql-replication")
    ap.add_argument("--no-decode", action="store_true", help="skip mariadb-binlog")
    ap.add_argument("--no-verify", action="store_true", help="skip reading the topics back")
    ap.add_argument("--latency-rows", type=int, default=100_000,
                    help="rows of the paced live phase after each catch-up (0: none)")
    ap.add_argument("--latency-batch", type=int, default=100)
    ap.add_argument("--latency-rate", type=int, default=10_000, help="rows/s of the paced writer")
    ap.add_argument("--order", default="sluice,debezium-tuned,debezium",
                    help="the systems, in the order they run: sluice, debezium (Kafka Connect's"
                         " producer defaults), debezium-tuned (producer set like Sluice's)")
    ap.add_argument("--flush-ms", type=int, default=1000, help="offset.flush.interval.ms of both workers")
    ap.add_argument("--producer", action="append", default=[], metavar="KEY=VALUE",
                    help="a Sluice worker producer.* setting (repeatable); the ceiling gets it too")
    ap.add_argument("--connector", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra connector setting for both systems (repeatable)")
    ap.add_argument("--debezium-heap", help="Kafka Connect's -Xmx (scripts/debezium's default: 1g)")
    ap.add_argument("--debezium-worker-prop", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra Kafka Connect worker property (repeatable)")
    a = ap.parse_args()
    if a.broker == "null":
        sys.exit("--broker null is gone: Apache Kafka has no engine that discards records;"
                 " use --broker private (default) or shared")
    if a.rows % a.batch or (a.latency_rows and a.latency_rows % a.latency_batch):
        sys.exit("--rows must be a multiple of --batch, --latency-rows of --latency-batch")
    if a.debezium_timeout is None:
        a.debezium_timeout = 120 + a.rows // 2000
    a.order = [s.strip() for s in a.order.split(",") if s.strip()]
    if a.no_debezium:
        a.order = [s for s in a.order if not s.startswith("debezium")]
    if any(s not in NAMES for s in a.order):
        sys.exit(f"--order: systems are {', '.join(NAMES)}")
    a.what = "live" if a.live else "stream"
    if not a.no_debezium and not a.debezium:
        sys.exit("--debezium (scripts/debezium) is needed, or --no-debezium")
    os.makedirs(a.workdir, exist_ok=True)
    run = str(int(time.time()))
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load0 = loadavg()
    if a.broker == "private":
        broker = PrivateKafka(a.kafka_libs, a.workdir, run, a.broker_heap)
    else:
        if not a.bootstrap:
            sys.exit("--broker shared needs --bootstrap")
        broker = SharedKafka(a.bootstrap)
    with contextlib.ExitStack() as stack:
        if a.mariadb == "private":
            m = stack.enter_context(PrivateMariaDB(a.workdir, run, a.root_password, a.user, a.password))
            a.host, a.port = m.host, m.port
        b = stack.enter_context(broker)
        res = (live if a.live else catch_up)(a, run, b)
        if not a.no_ceiling and "sluice" in res["systems"] and "partial" not in res["systems"]["sluice"]:
            res["ceilings"].append(ceiling(a, run, b, res))
    res.update(started=started, load0=load0, load1=loadavg())
    report(a, res)


class System:
    """One side of the comparison: its worker (a context manager), REST port, PID."""

    def __init__(self, kind, a, run, b, topic_prefix):
        self.kind, self.prefix = kind, topic_prefix
        self.dbz = kind.startswith("debezium")
        self.connector = f"bench-{kind}-{run}"
        if kind == "sluice":
            self.worker = SluiceWorker(a.sluice, a.workdir, f"{run}-{a.what}", b.bootstrap,
                                       [f"producer.{k}={v}" for k, v in kv(a.producer).items()],
                                       flush_ms=a.flush_ms)
        else:
            props = [f"offset.flush.interval.ms={a.flush_ms}"] + a.debezium_worker_prop
            if kind == "debezium-tuned":
                props += [f"producer.{k}={v}" for k, v in TUNED.items()]
            self.worker = DebeziumWorker(a.debezium, f"{run}-{a.what}-{kind}", b.bootstrap, props,
                                         a.debezium_heap, a.workdir)
        self.timeout = a.timeout if kind == "sluice" else a.debezium_timeout

    def __enter__(self):
        self.worker.__enter__()
        self.port, self.pid = self.worker.port, self.worker.pid
        return self

    def __exit__(self, *exc):
        return self.worker.__exit__(*exc)

    def config(self, a, b, db, run):
        c = {"connector.class": MARIADB_CLASS,
             "database.hostname": a.host, "database.port": str(a.port),
             "database.user": a.user, "database.password": a.password,
             "database.server.id": str(50_000 + (int(run) * 4 + list(NAMES).index(self.kind)) % 100_000),
             "topic.prefix": self.prefix, "database.include.list": db,
             "snapshot.mode": "no_data",
             "schema.history.internal.kafka.bootstrap.servers": b.bootstrap,
             "schema.history.internal.kafka.topic": f"{self.prefix}-schemahistory",
             "tasks.max": "1"}
        if self.dbz:
            c.update(DEBEZIUM_ONLY)
        c.update(kv(a.connector))
        return c

    def streaming(self):
        text = self.worker.log_text()
        if not self.dbz:
            return "streaming the binlog" in text
        return "Connected to binlog at" in text

    def status(self):
        try:
            return http(self.port, "GET", f"/connectors/{self.connector}/status")
        except OSError:  # not written yet (distributed mode), or a busy worker
            return {"connector": {"state": "?"}, "tasks": []}

    def start_streaming(self, a, b, db, run):
        create_connector(self.port, self.connector, self.config(a, b, db, run))
        deadline = time.time() + 120
        while not self.streaming():
            st = self.status()
            if any(t["state"] == "FAILED" for t in st.get("tasks", [])):
                sys.exit(f"{self.kind}: the task FAILED: {st['tasks'][0].get('trace', '')[:2000]}")
            if time.time() > deadline:
                sys.exit(f"{self.kind}: the connector did not start streaming; see {self.worker.log}")
            time.sleep(0.1)

    def stop(self):
        """Stops the connector (its tasks shut down, offsets committed)."""
        http(self.port, "PUT", f"/connectors/{self.connector}/stop")
        deadline = time.time() + 60
        while True:
            st = self.status()
            if st["connector"]["state"] == "STOPPED" and not st["tasks"]:
                break
            if time.time() > deadline:
                sys.exit(f"{self.kind}: the connector did not stop: {st}")
            time.sleep(0.1)
        offs = http(self.port, "GET", f"/connectors/{self.connector}/offsets")["offsets"]
        if not offs:
            sys.exit(f"{self.kind}: no committed offset after the stop; see {self.worker.log}")
        return offs[0]["offset"]

    def resume(self):
        http(self.port, "PUT", f"/connectors/{self.connector}/resume")


def wait_acked(sys_, wm, want, deadline, b, r=None):
    """Polls the high watermark every 50 ms until `want` (the task's state
    every second); returns (hw, timed_out). A FAILED task ends the wait as
    a timeout, its trace in r["failed"]."""
    checked = time.time()
    while True:
        hw = wm()
        if hw >= want:
            return hw, False
        if time.time() > deadline:
            return max(hw, 0), True
        if time.time() - checked > 1:
            checked = time.time()
            st = sys_.status()
            if any(t["state"] == "FAILED" for t in st.get("tasks", [])):
                trace = st["tasks"][0].get("trace", "")
                print(f"{sys_.kind}: the task FAILED: {trace[:3000]}", file=sys.stderr)
                if r is not None:
                    r["failed"] = trace.splitlines()[0] if trace else "FAILED"
                return max(wm(), 0), True
        time.sleep(0.05)


def write_rows(a, db, first_id, rows, batch, rate=None):
    """Commits `rows` rows (ids first_id+1..) in transactions of `batch`,
    paced at `rate` rows/s when given; returns the commit times."""
    w = pymysql.connect(host=a.host, port=a.port, user="root", password=a.root_password,
                        database=db, autocommit=False)
    commit_at = []
    t0 = time.time()
    with w.cursor() as c:
        for i in range(rows // batch):
            if rate:
                due = t0 + i * batch / rate
                now = time.time()
                if due > now:
                    time.sleep(due - now)
            c.execute(f"INSERT INTO {db}.t (id, k, v, ts) SELECT {first_id + i * batch} + seq, seq,"
                      f" 'abcdefghijklmnopqrstuvwxyz012345', NOW(6) FROM seq_1_to_{batch}")
            w.commit()
            commit_at.append(time.time())
    w.close()
    return commit_at


def tx_latencies(ts_by_id, first_id, batch, commit_at):
    """Per transaction: latest append time of its rows - its commit time (ms)."""
    lat = []
    for i, com in enumerate(commit_at):
        ts = [ts_by_id.get(first_id + i * batch + j) for j in range(1, batch + 1)]
        if None in ts:
            continue
        lat.append(max(ts) - com * 1000)
    return lat


def create_db(a, db):
    root = pymysql.connect(host=a.host, port=a.port, user="root", password=a.root_password,
                           autocommit=True)
    with root.cursor() as c:
        c.execute(f"CREATE DATABASE {db}")
        c.execute(f"CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, k INT NOT NULL,"
                  " v VARCHAR(32) NOT NULL, ts DATETIME(6) NOT NULL)")
    return root


def catch_up(a, run, b):
    db = f"bench_{run}"
    root = create_db(a, db)
    systems = {k: System(k, a, run, b, f"bm{PFX[k]}{run}") for k in a.order}
    topics = {k: f"{s.prefix}.{db}.t" for k, s in systems.items()}
    create_topics(b.bootstrap, list(topics.values()))
    out = {"db": db, "systems": {}, "mode": "catch-up", "ceilings": []}
    with contextlib.ExitStack() as stack:
        stack.callback(drop_db, root, db)
        for k, s in systems.items():
            t0 = time.time()
            stack.enter_context(s)
            s.start_secs = time.time() - t0
            s.start_streaming(a, b, db, run)
            # Let one offset flush pass, then stop: the committed offset is
            # the position the task resumes from.
            time.sleep(a.flush_ms / 1000 + 0.5)
            out["systems"][k] = {"held_at": s.stop(), "worker_start_secs": s.start_secs}
        start = master_status(root)
        note(f"writing {a.rows} rows")
        w0 = time.time()
        commit_at = write_rows(a, db, 0, a.rows, a.batch)
        out["write_secs"] = time.time() - w0
        end = master_status(root)
        out.update(start=start, end=end, n_tx=len(commit_at))
        out["decode"] = None if a.no_decode else decode_limit(a, start, end)
        out["peer"] = None if a.no_peer else peer(a, run, db, start)
        latency_rows_so_far = 0
        for k, s in systems.items():
            r = out["systems"][k]
            wm = Watermark(b.bootstrap, topics[k])
            settle()
            cpu0, bcpu0, sys0 = cpu_secs(s.pid), (cpu_secs(b.pid) if b.pid else None), sys_secs(s.pid)
            steal0 = steal_secs()
            note(f"{k}: resuming (deadline {s.timeout} s)")
            resumed = time.time()
            s.resume()
            hw, timed_out = wait_acked(s, wm, a.rows, resumed + s.timeout, b, r)
            polled = time.time()
            r["cpu"], r["cpu_sys"] = cpu_secs(s.pid) - cpu0, sys_secs(s.pid) - sys0
            r["steal"] = steal_secs() - steal0
            r["broker_cpu"] = cpu_secs(b.pid) - bcpu0 if b.pid else None
            if timed_out:
                r.update(partial=hw, secs=polled - resumed)
            else:
                _, _, ts = record_at(b.bootstrap, topics[k], a.rows - 1)
                r["secs"] = ts / 1000 - resumed
                r["poll_lag"] = polled - ts / 1000
            r["rss_kb"] = vm_hwm_kb(s.pid)
            r["topic"] = topics[k]
            if k == "sluice" and not a.no_ceiling and not timed_out:
                out["ceilings"].append(ceiling(a, run, b, out))
            note(f"{k}: " + (f"{hw} of {a.rows} rows acked in {r['secs']:.1f} s (deadline)" if timed_out
                             else f"{a.rows} rows in {r['secs']:.2f} s = {a.rows / r['secs']:,.0f} rows/s"))
            if a.latency_rows and not timed_out:
                # Drain what earlier systems' latency phases wrote, then the paced phase.
                base = a.rows + latency_rows_so_far
                hw, late = wait_acked(s, wm, base, time.time() + s.timeout, b)
                if late:
                    r["latency_note"] = f"did not drain the earlier phases' rows ({hw} of {base})"
                else:
                    l0 = time.time()
                    lcommits = write_rows(a, db, base, a.latency_rows, a.latency_batch, a.latency_rate)
                    r["latency_write_rate"] = a.latency_rows / max(lcommits[-1] - l0, 1e-9)
                    want = base + a.latency_rows
                    hw, late = wait_acked(s, wm, want, time.time() + max(60, s.timeout / 4), b)
                    got = read_topic(b.bootstrap, topics[k], hw, start=base, want_ts=True)
                    r["latency"] = tx_latencies(got["ts"], base, a.latency_batch, lcommits)
                    r["latency_missing"] = want - hw if late else 0
                    latency_rows_so_far += a.latency_rows
            r["rss_end_kb"] = vm_hwm_kb(s.pid)
            st = s.status()
            r["status"] = st["tasks"][0]["state"] if st["tasks"] else "-"
            wm.close()
            if s.dbz:
                r["producer_config"] = producer_config(s.worker.log_text(), s.connector)
            # Stop this system's worker now: the next one runs alone.
            stack_exit(s)
            r["log"] = s.worker.log
    for k in systems:
        r = out["systems"][k]
        r["topic"] = topics[k]
        if not a.no_verify and "partial" not in r:
            got = read_topic(b.bootstrap, topics[k], a.rows)
            r["verified"] = (f"{len(got['ids'])} distinct ids of {a.rows} in the first {got['records']}"
                             f" records, {got['duplicates']} duplicates, {got['others']} others")
            r["verified_ok"] = len(got["ids"]) == a.rows
        r["record_bytes"] = sum(len(x or b"") for x in record_at(b.bootstrap, topics[k], 0)[:2])
    return out


def drop_db(root, db):
    with root.cursor() as c:
        c.execute(f"DROP DATABASE IF EXISTS {db}")


def stack_exit(s):
    """Stops a system's worker early (its __exit__ is idempotent)."""
    s.__exit__(None, None, None)


def live(a, run, b):
    out = {"systems": {}, "mode": "live", "ceilings": []}
    root = None
    for k in a.order:
        db = f"bench_{run}_{PFX[k]}"
        root = create_db(a, db)
        s = System(k, a, run, b, f"bm{PFX[k]}{run}")
        topic = f"{s.prefix}.{db}.t"
        create_topics(b.bootstrap, [topic])
        r = out["systems"][k] = {}
        with contextlib.ExitStack() as stack:
            stack.callback(drop_db, root, db)
            stack.enter_context(s)
            s.start_streaming(a, b, db, run)
            wm = Watermark(b.bootstrap, topic)
            settle()
            cpu0, sys0, steal0 = cpu_secs(s.pid), sys_secs(s.pid), steal_secs()
            bcpu0 = cpu_secs(b.pid) if b.pid else None
            w0 = time.time()
            start = master_status(root)
            commit_at = write_rows(a, db, 0, a.rows, a.batch)
            r["write_secs"] = time.time() - w0
            end = master_status(root)
            out.setdefault("start", start)
            out.update(end=end, n_tx=len(commit_at), write_secs=r["write_secs"], db=db)
            hw, timed_out = wait_acked(s, wm, a.rows, w0 + s.timeout, b, r)
            r["cpu"], r["cpu_sys"] = cpu_secs(s.pid) - cpu0, sys_secs(s.pid) - sys0
            r["steal"] = steal_secs() - steal0
            r["broker_cpu"] = cpu_secs(b.pid) - bcpu0 if b.pid else None
            r["rss_kb"] = r["rss_end_kb"] = vm_hwm_kb(s.pid)
            r["status"] = s.status()["tasks"][0]["state"] if s.status()["tasks"] else "-"
            if s.dbz:
                r["producer_config"] = producer_config(s.worker.log_text(), s.connector)
            wm.close()
        r["log"] = s.worker.log
        got = read_topic(b.bootstrap, topic, hw, want_ts=True)
        if timed_out:
            r.update(partial=hw, secs=time.time() - commit_at[0])
        else:
            r["secs"] = max(got["ts"].values()) / 1000 - commit_at[0]
            r["verified"] = (f"{len(got['ids'])} distinct ids of {a.rows}, {got['duplicates']}"
                             f" duplicates, {got['others']} others")
            r["verified_ok"] = len(got["ids"]) == a.rows
        r["latency"] = tx_latencies(got["ts"], 0, a.batch, commit_at)
        r["latency_write_rate"] = a.rows / max(commit_at[-1] - w0, 1e-9)
        r["topic"] = topic
        r["record_bytes"] = sum(len(x or b"") for x in record_at(b.bootstrap, topic, 0)[:2])
    out["decode"] = out["peer"] = None
    return out


def producer_config(text, connector):
    """The connector task producer's settings from Kafka Connect's log."""
    m = re.search(r"ProducerConfig values:(.*?client\.id = connector-producer-"
                  + re.escape(connector) + r".*?)\n\[", text, re.S)
    if not m:
        return None
    want = ("acks", "batch.size", "linger.ms", "max.in.flight.requests.per.connection",
            "enable.idempotence", "compression.type", "buffer.memory")
    got = {}
    for line in m.group(1).splitlines():
        k, _, v = line.strip().partition(" = ")
        if k in want:
            got[k] = v
    return got


def decode_limit(a, start, end):
    (start_file, start_pos), (end_file, end_pos) = start, end
    cmd = ["mariadb-binlog", "--no-defaults", "--read-from-remote-server", f"--host={a.host}",
           f"--port={a.port}", "--user=root", f"--password={a.root_password}",
           "--base64-output=decode-rows", "-v", f"--start-position={start_pos}"]
    if end_file == start_file:
        cmd += [f"--stop-position={end_pos}", start_file]
    else:
        cmd += ["--to-last-log", start_file]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rows, tail = 0, b""
    while chunk := proc.stdout.read(1 << 20):
        chunk = tail + chunk
        rows += chunk.count(b"### INSERT INTO")
        tail = chunk[-16:]
        rows -= tail.count(b"### INSERT INTO")
    rows += tail.count(b"### INSERT INTO")
    err = proc.stderr.read()
    if proc.wait() != 0:
        sys.exit(f"mariadb-binlog failed: {err.decode()}")
    return rows, time.monotonic() - t0


def peer(a, run, db, start):
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.row_event import WriteRowsEvent
    t0 = time.monotonic()
    stream = BinLogStreamReader(
        connection_settings={"host": a.host, "port": a.port, "user": "root",
                             "passwd": a.root_password},
        server_id=60_000 + int(run) % 100_000, log_file=start[0], log_pos=start[1],
        resume_stream=True, blocking=False, only_events=[WriteRowsEvent], only_schemas=[db])
    rows = 0
    for ev in stream:
        for row in ev.rows:
            rows += 1 if row["values"] is not None else 0
        if rows >= a.rows:
            break
    stream.close()
    return rows, time.monotonic() - t0


def ceiling(a, run, b, res):
    """The plain producer sends N copies of Sluice's last record (id varied)."""
    return plain_ceiling(a.plain, b, a.workdir, run, res["systems"]["sluice"]["topic"], a.rows,
                         kv(a.producer), max(a.timeout, 600))


def print_ceilings(ceilings):
    """Prints each timing of the ceiling; returns the fastest (or None)."""
    for i, c in enumerate(ceilings):
        when = "right after Sluice" if i == 0 and len(ceilings) > 1 else "at the end"
        print(f"ceiling ({when}): plain librdkafka producer, Sluice's {c['bytes']}-byte records,"
              f" same broker: {c['records'] / c['secs']:,.0f} records/s ({c['secs']:.2f} s;"
              f" {c['cpu']:.1f} CPU-s, system {c['cpu_sys']:.1f} s"
              + (f"; broker CPU {c['broker_cpu']:.1f} s" if c.get("broker_cpu") is not None else "")
              + f"; steal {c['steal']:.1f} s)")
    return max(ceilings, key=lambda c: c["records"] / c["secs"]) if ceilings else None


def report(a, r):
    n = a.rows
    broker = ("private Apache Kafka 4.4 (one KRaft node)" if a.broker == "private"
              else f"shared Apache Kafka at {a.bootstrap}")
    mariadb = "private MariaDB" if a.mariadb == "private" else f"shared MariaDB at {a.host}:{a.port}"
    print(f"\n== bench-mysql {r['mode']}: {n} rows in {r['n_tx']} transactions of"
          f" {a.batch}; binlog {r['start'][0]}:{r['start'][1]}..{r['end'][0]}:{r['end'][1]};"
          f" broker: {broker}; {mariadb}")
    print(f"started {r['started']}; load average {r['load0']} at the start, {r['load1']} at the end")
    print(f"writer: {n / r['write_secs']:,.0f} rows/s committed ({r['write_secs']:.2f} s)")
    rates = {}
    for k, s in r["systems"].items():
        name = NAMES[k]
        lat = s.get("latency") or []
        if "partial" in s:
            rate = s["partial"] / s["secs"]
            why = f"its task FAILED ({s['failed']})" if s.get("failed") else "MISSED its deadline"
            print(f"{name}: {why}: {s['partial']} of {n} rows acked after {s['secs']:.0f} s"
                  f" = {rate:,.0f} rows/s so far")
        else:
            rate = n / s["secs"]
            what = "resume -> N-th ack" if r["mode"] == "catch-up" else "first commit -> last ack"
            print(f"{name}: {rate:,.0f} rows/s ({s['secs']:.2f} s, {what})")
        rates[k] = rate
        print(f"    CPU {s['cpu']:.1f} s user+system (system {s['cpu_sys']:.1f} s;"
              f" {n / max(s['cpu'], 1e-9):,.0f} rows per CPU-second)"
              + (f"; broker CPU {s['broker_cpu']:.1f} s" if s.get("broker_cpu") is not None else "")
              + (f"; steal {s['steal']:.1f} s" if "steal" in s else "")
              + f"; peak RSS {s['rss_kb'] / 1024:.1f} MiB after the catch-up,"
              f" {s['rss_end_kb'] / 1024:.1f} MiB at the end; task {s['status']}")
        if lat:
            extra = (f"; {s['latency_missing']} rows not acked" if s.get("latency_missing") else "")
            print(f"    commit->ack ({len(lat)} transactions, writer at {s['latency_write_rate']:,.0f}"
                  f" rows/s): p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms,"
                  f" max {max(lat):.0f} ms{extra}")
        elif s.get("latency_note"):
            print(f"    latency: {s['latency_note']}")
        print(f"    records {s.get('record_bytes', 0)} bytes (key + value); "
              + (s.get("verified") or "not read back")
              + ("" if s.get("verified_ok", True) else "  <-- NOT ALL IDS"))
        if s.get("producer_config"):
            print(f"    its producer: {s['producer_config']}")
        print(f"    " + (f"worker start {s['worker_start_secs']:.1f} s (not timed); "
                            if "worker_start_secs" in s else "") + f"log {s['log']}")
    ceil = print_ceilings(r["ceilings"])
    if r.get("decode"):
        rows, secs = r["decode"]
        print(f"mariadb-binlog decode-rows -v (decode limit, no broker): {rows / secs:,.0f} rows/s ({rows} rows)")
    if r.get("peer"):
        rows, secs = r["peer"]
        print(f"python-mysql-replication 1.0.17 (decodes only, no broker): {rows / secs:,.0f} rows/s ({rows} rows)")
    sl = r["systems"].get("sluice")
    for k, dz in r["systems"].items():
        if k == "sluice" or not sl:
            continue
        tr = rates["sluice"] / rates[k]
        mr = sl["rss_end_kb"] / dz["rss_end_kb"]
        print(f"RATIO Sluice/{k} throughput: {tr:.2f}x (target >= 10)"
              + (f"  [{k} partial: rate so far]" if "partial" in dz else ""))
        print(f"RATIO Sluice/{k} peak RSS: {mr:.3f} = 1/{1 / mr:.1f} (target <= 1/10)")
        print(f"RATIO Sluice/{k} CPU-s: {sl['cpu'] / max(dz['cpu'], 1e-9):.3f}"
              + ("  [partial: CPU for fewer rows]" if "partial" in dz else ""))
    if sl and ceil and "partial" not in sl:
        print(f"RATIO Sluice/ceiling: {rates['sluice'] / (ceil['records'] / ceil['secs']):.2f}"
              " (the faster ceiling; target >= 0.9)")


if __name__ == "__main__":
    main()
