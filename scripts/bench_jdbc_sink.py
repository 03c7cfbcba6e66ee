"""JDBC sink benchmark (scripts/bench-jdbc-sink): N row changes from Kafka
into PostgreSQL by Sluice's JdbcSinkConnector and, in the same run, from
the same topic into the same database, by Debezium's (JdbcSinkConnector
3.5.0.Final on a fresh Apache Kafka Connect 4.4 worker, scripts/debezium;
JVM heap -Xmx1g), with `COPY` of the same final rows as the ceiling.

The topic (one partition, fresh each run) holds N records (default
1,000,000) as a Debezium source writes them after ExtractNewRecordState:
JsonConverter with schemas, the key `{id}`, the value a flat row
(id BIGINT, name TEXT, n INT, x DOUBLE, ts io.debezium.time.MicroTimestamp).
Every tenth record updates an earlier row, so the table ends with
D < N distinct rows. They are written by confluent-kafka (librdkafka)
before any sink starts, so a sink reads a backlog: its figure is its own
write speed.

Each sink gets the same connector JSON (Debezium's key names: insert.mode
upsert, primary.key.mode record_key, schema.evolution basic, its own
target table by collection.name.format / table.name.format, every other
key at its default, batch.size included) and a fresh consumer group, and
runs alone. A run: POST the connector (the worker already up), poll
`SELECT count(*)` every 0.2 s until it is D and the last record's row is
there; rows/s = N / that time. Peak RSS (VmHWM) of Sluice's process and of
Kafka Connect's JVM at the end; CPU seconds (/proc/PID/stat) from the POST
to the end. Then each target table is compared with the expected final
rows (count and a sum over every column).

The ceiling: the final D rows as CSV, loaded with psql's `\\copy` into a
fresh table of the same shape (primary key included): D / its time.
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

from confluent_kafka import Producer

from bench_support import (DebeziumWorker, PrivateKafka, SharedKafka, SluiceWorker, cpu_secs,
                           create_connector, create_topics, http, loadavg, settle, vm_hwm_kb)

KEY_SCHEMA = {"type": "struct", "optional": False, "name": "bench.Key",
              "fields": [{"field": "id", "type": "int64", "optional": False}]}
VALUE_SCHEMA = {"type": "struct", "optional": False, "name": "bench.Value", "fields": [
    {"field": "id", "type": "int64", "optional": False},
    {"field": "name", "type": "string", "optional": True},
    {"field": "n", "type": "int32", "optional": True},
    {"field": "x", "type": "double", "optional": True},
    {"field": "ts", "type": "int64", "optional": True, "name": "io.debezium.time.MicroTimestamp",
     "version": 1}]}
TS0 = 1_700_000_000_000_000


def row_id(i):
    """Every tenth change updates an earlier row."""
    return i // 2 if i % 10 == 9 else i


def row(i):
    return {"id": row_id(i), "name": f"row number {i}", "n": i % 1000, "x": i + 0.25,
            "ts": TS0 + i}


def note(msg):
    print(f"[bench-jdbc-sink] {msg}", file=sys.stderr, flush=True)


class Pg:
    def __init__(self, a):
        self.a = a

    def run(self, sql, stdin=None):
        env = dict(os.environ, PGPASSWORD=self.a.pg_password)
        out = subprocess.run(
            ["psql", "-X", "-q", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.a.pg_host,
             "-p", str(self.a.pg_port), "-U", self.a.pg_user, "-d", self.a.pg_db, "-c", sql],
            capture_output=True, text=True, env=env, stdin=stdin)
        if out.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {out.stderr.strip()}")
        return out.stdout.strip()

    def count(self, table):
        try:
            return int(self.run(f"SELECT count(*) FROM {table}") or 0)
        except RuntimeError:
            return -1  # not created yet


def produce(bootstrap, topic, n):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000,
                  "compression.type": "none", "queue.buffering.max.messages": 1_000_000})
    ks, vs = json.dumps(KEY_SCHEMA), json.dumps(VALUE_SCHEMA)
    for i in range(n):
        r = row(i)
        key = f'{{"schema":{ks},"payload":{{"id":{r["id"]}}}}}'
        value = f'{{"schema":{vs},"payload":{json.dumps(r)}}}'
        while True:
            try:
                p.produce(topic, value.encode(), key.encode())
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    left = p.flush(120)
    if left:
        sys.exit(f"{left} records not delivered to {topic}")


def expected(n):
    final = {}
    for i in range(n):
        r = row(i)
        final[r["id"]] = r
    return final


def checksum(pg, table):
    return pg.run(f"SELECT count(*), sum(id), sum(n), sum(x), sum(length(name)), "
                  f"sum(extract(epoch from ts)::numeric(20,6)) FROM {table}")


def expected_checksum(final):
    rows = final.values()
    # extract(epoch) of a MicroTimestamp stored as a timestamp without zone.
    return (len(final), sum(r["id"] for r in rows), sum(r["n"] for r in rows),
            sum(r["x"] for r in rows), sum(len(r["name"]) for r in rows),
            sum(r["ts"] for r in rows) / 1_000_000)


def check(pg, table, final):
    got = checksum(pg, table).split("|")
    want = expected_checksum(final)
    ok = (int(got[0]) == want[0] and int(got[1]) == want[1] and int(got[2]) == want[2]
          and abs(float(got[3]) - want[3]) < 1e-3 * max(1.0, abs(want[3]))
          and int(got[4]) == want[4] and abs(float(got[5]) - want[5]) < 1.0)
    return ok, got, want


def run_sink(label, port, pid, config, pg, table, n, distinct, last_id, timeout):
    name = f"bench-jdbc-{label}-{int(time.time())}"
    settle()
    cpu0 = cpu_secs(pid)
    t0 = time.time()
    create_connector(port, name, config)
    deadline = t0 + timeout
    done = None
    polls = 0
    while time.time() < deadline:
        polls += 1
        if polls % 25 == 0:
            st = http(port, "GET", f"/connectors/{name}/status")
            failed = [t for t in st.get("tasks", []) if t.get("state") == "FAILED"]
            if failed or st.get("connector", {}).get("state") == "FAILED":
                sys.exit(f"{label}: the connector failed: {json.dumps(st)[:3000]}")
        if pg.count(table) == distinct and pg.run(
                f"SELECT count(*) FROM {table} WHERE id = {last_id}") == "1":
            done = time.time()
            break
        time.sleep(0.2)
    secs = (done or time.time()) - t0
    return {"label": label, "done": done is not None, "secs": secs,
            "rows_per_s": n / secs if done else None, "rss_mb": vm_hwm_kb(pid) / 1024,
            "cpu_s": cpu_secs(pid) - cpu0, "table": table}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--debezium", help="scripts/debezium (the peer)")
    ap.add_argument("--broker", choices=["private", "shared"], default="private")
    ap.add_argument("--kafka-libs")
    ap.add_argument("--bootstrap")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-port", type=int, default=5433)
    ap.add_argument("--pg-user", default="sluice")
    ap.add_argument("--pg-password", default="sluice")
    ap.add_argument("--pg-db", default="sluice")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--timeout", type=int, default=3600, help="seconds each sink may take")
    ap.add_argument("--no-debezium", action="store_true")
    ap.add_argument("--no-copy", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    run = str(int(time.time()))
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load0 = loadavg()
    pg = Pg(a)
    schema = f"bench_jdbc_{run}"
    pg.run(f"CREATE SCHEMA {schema}")
    n = a.rows
    final = expected(n)
    distinct = len(final)
    last_id = row_id(n - 1)
    results = []
    if a.broker == "private":
        broker = PrivateKafka(a.kafka_libs, a.workdir, run, "1g")
    else:
        if not a.bootstrap:
            sys.exit("--broker shared needs --bootstrap")
        broker = SharedKafka(a.bootstrap)
    try:
        with broker as b:
            bootstrap = b.bootstrap
            topic = f"bench-jdbc-{run}"
            create_topics(bootstrap, [topic])
            note(f"writing {n} records to {topic}")
            t = time.time()
            produce(bootstrap, topic, n)
            note(f"written in {time.time() - t:.1f} s ({distinct} distinct rows)")
            common = {"topics": topic, "connection.username": a.pg_user,
                      "connection.password": a.pg_password, "insert.mode": "upsert",
                      "primary.key.mode": "record_key", "schema.evolution": "basic",
                      "tasks.max": "1"}
            url = f"jdbc:postgresql://{a.pg_host}:{a.pg_port}/{a.pg_db}"
            with SluiceWorker(a.sluice, a.workdir, f"jdbc-{run}", bootstrap) as s:
                table = f"{schema}.sluice"
                cfg = dict(common, **{"connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
                                      "connection.url": url, "collection.name.format": table})
                note("Sluice")
                results.append(run_sink("sluice", s.port, s.pid, cfg, pg, table, n, distinct,
                                        last_id, a.timeout))
            if not a.no_debezium:
                if not a.debezium:
                    sys.exit("--debezium (scripts/debezium) is needed, or --no-debezium")
                with DebeziumWorker(a.debezium, f"jdbc-{run}", bootstrap, heap="1g",
                                    workdir=a.workdir) as d:
                    table = f"{schema}.debezium"
                    cfg = dict(common, **{"connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
                                          "connection.url": url, "collection.name.format": table,
                                          "key.converter": "org.apache.kafka.connect.json.JsonConverter",
                                          "value.converter": "org.apache.kafka.connect.json.JsonConverter"})
                    note("Debezium")
                    results.append(run_sink("debezium", d.port, d.pid, cfg, pg, table, n, distinct,
                                            last_id, a.timeout))
        if not a.no_copy:
            note("COPY")
            csv = os.path.join(a.workdir, f"rows-{run}.csv")
            with open(csv, "w") as f:
                for r in final.values():
                    ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["ts"] // 1_000_000))
                    f.write(f'{r["id"]},{r["name"]},{r["n"]},{r["x"]!r},{ts}.{r["ts"] % 1_000_000:06d}\n')
            table = f"{schema}.copy"
            pg.run(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT, n INT, "
                   f"x DOUBLE PRECISION, ts TIMESTAMP(6))")
            settle()
            t = time.time()
            pg.run(f"\\copy {table} FROM '{csv}' WITH (FORMAT csv)")
            secs = time.time() - t
            os.remove(csv)
            results.append({"label": "copy", "done": True, "secs": secs,
                            "rows_per_s": distinct / secs, "rss_mb": None, "cpu_s": None,
                            "table": table})
        print(f"\nJDBC sink benchmark, {started}: {n} changes ({distinct} rows) from Kafka into "
              f"PostgreSQL; load average at start {load0}, at end {loadavg()}")
        print(f"{'system':<10} {'done':<5} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12} "
              f"{'CPU s':>7}  table check")
        by = {}
        for r in results:
            ok, got, want = check(pg, r["table"], final)
            by[r["label"]] = r
            rps = f"{r['rows_per_s']:.0f}" if r["rows_per_s"] else "-"
            rss = f"{r['rss_mb']:.0f}" if r["rss_mb"] is not None else "-"
            cpu = f"{r['cpu_s']:.1f}" if r["cpu_s"] is not None else "-"
            print(f"{r['label']:<10} {str(r['done']):<5} {r['secs']:>8.1f} {rps:>10} {rss:>12} "
                  f"{cpu:>7}  {'equal' if ok else f'DIFFERS: {got} != {want}'}")
        s, d, c = by.get("sluice"), by.get("debezium"), by.get("copy")
        if s and d and s["rows_per_s"] and d["rows_per_s"]:
            print(f"Sluice / Debezium: throughput {s['rows_per_s'] / d['rows_per_s']:.2f}x, "
                  f"peak RSS {s['rss_mb'] / d['rss_mb']:.2f}x, CPU {s['cpu_s'] / max(d['cpu_s'], 0.01):.2f}x")
        if s and c and s["rows_per_s"]:
            print(f"Sluice / COPY (rows of the final table per second): "
                  f"{(distinct / s['secs']) / c['rows_per_s']:.2f}x")
    finally:
        if os.environ.get("SLUICE_BENCH_KEEP") is None:
            with contextlib.suppress(RuntimeError):
                pg.run(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
