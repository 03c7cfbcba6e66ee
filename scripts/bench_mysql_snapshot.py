"""MySQL/MariaDB initial snapshot benchmark (scripts/bench-mysql-snapshot):
Sluice against Debezium, same run, same broker, same table.

One table of N rows (default 1,000,000; BIGINT key, INT, VARCHAR(32),
DATETIME(6), written with `INSERT ... SELECT ... FROM seq_...` in chunks
of 100,000), read in the same run by, one after another:

- the reference: `mariadb --quick -N -B -e 'SELECT * FROM db.t'` to
  /dev/null (the server's own client streaming the rows as text: the
  speed of reading the table over the network, nothing else);
- Sluice: a release `sluice standalone` of the run's own;
- Debezium: MariaDbConnector 3.5.0.Final on a fresh Apache Kafka Connect
  4.4 worker per variant (scripts/debezium; default JVM heap -Xmx1g):
  `debezium` with Kafka Connect's producer defaults, `debezium-tuned` with
  the producer set like Sluice's (scripts/bench_mysql.py's TUNED);
- the ceiling: the plain librdkafka producer sending N copies of Sluice's
  last snapshot record to a fresh topic (bench_support.plain_ceiling),
  timed right after Sluice's run and at the end; the faster counts.

Each system gets the same connector JSON (io.debezium.connector.mariadb.
MariaDbConnector, snapshot.mode=initial, KafkaSchemaHistory on the same
broker, JsonConverter with schemas, one task); Debezium also gets
scripts/bench_mysql.py's DEBEZIUM_ONLY (no global read lock on the shared
MariaDB, no failure on other databases' DDL; that file says why).

Broker: a private Apache Kafka 4.4 node of the run's own (--broker shared:
the shared broker, fresh topics). Database: a private MariaDB 10.11 of the
run's own (--mariadb shared: --host/--port; scripts/bench_mysql.py says
why). The topics are created beforehand with
one partition and message.timestamp.type=LogAppendTime.

Figures: rows / (append time of the N-th record of the system's topic -
the time its connector was POSTed; its worker was already up), polled
with ListOffsets; a system that misses its deadline is reported with what
was acknowledged by then. Peak RSS (VmHWM) of Sluice's process and of
Kafka Connect's JVM at the end of each one's run; CPU seconds
(/proc/PID/stat user + system) from the POST to the N-th ack, and the
private broker's. After the runs each topic's first N records are read
back (N distinct ids; --no-verify skips it).
"""
import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time

import pymysql

from bench_mysql import NAMES, PFX, System, drop_db, kv, note, print_ceilings, wait_acked
from bench_support import (PrivateKafka, PrivateMariaDB, SharedKafka, Watermark, cpu_secs,
                           create_connector, create_topics, http, loadavg, plain_ceiling,
                           read_topic, record_at, settle, steal_secs, sys_secs, vm_hwm_kb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--plain", help="examples/plain_producer.rs's release binary (the ceiling)")
    ap.add_argument("--debezium", help="scripts/debezium (the peer)")
    ap.add_argument("--broker", choices=["private", "shared", "null"], default="private")
    ap.add_argument("--kafka-libs", help="Kafka's classpath folder (SLUICE_KAFKA_LIBS)")
    ap.add_argument("--broker-heap", default="1g")
    ap.add_argument("--bootstrap", help="the shared broker (for --broker shared)")
    ap.add_argument("--producer", action="append", default=[], metavar="KEY=VALUE",
                    help="a Sluice worker producer.* setting (repeatable); the ceiling gets it too")
    ap.add_argument("--connector", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra connector setting for both systems (repeatable)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--mariadb", choices=["private", "shared"], default="private",
                    help="private: a MariaDB server of this run's own (default); shared: --host/--port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3307)
    ap.add_argument("--root-password", default="sluice")
    ap.add_argument("--user", default="sluice")
    ap.add_argument("--password", default="sluice")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--timeout", type=int, default=1800, help="seconds Sluice may take")
    ap.add_argument("--debezium-timeout", type=int,
                    help="seconds Debezium may take (default 120 + rows/2000)")
    ap.add_argument("--order", default="sluice,debezium-tuned,debezium",
                    help="the systems, in the order they run (see scripts/bench_mysql.py)")
    ap.add_argument("--no-debezium", action="store_true")
    ap.add_argument("--no-ceiling", action="store_true")
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--flush-ms", type=int, default=1000)
    ap.add_argument("--debezium-heap")
    ap.add_argument("--debezium-worker-prop", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()
    if a.broker == "null":
        sys.exit("--broker null is gone: Apache Kafka has no engine that discards records;"
                 " use --broker private (default) or shared")
    if a.debezium_timeout is None:
        a.debezium_timeout = 120 + a.rows // 2000
    a.order = [s.strip() for s in a.order.split(",") if s.strip()]
    if a.no_debezium:
        a.order = [s for s in a.order if not s.startswith("debezium")]
    if any(s not in NAMES for s in a.order):
        sys.exit(f"--order: systems are {', '.join(NAMES)}")
    if any(s.startswith("debezium") for s in a.order) and not a.debezium:
        sys.exit("--debezium (scripts/debezium) is needed, or --no-debezium")
    a.what = "snap"
    a.latency_rows = 0
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
    db = f"bench_snap_{run}"
    with contextlib.ExitStack() as stack:
        if a.mariadb == "private":
            m = stack.enter_context(PrivateMariaDB(a.workdir, run, a.root_password, a.user, a.password))
            a.host, a.port = m.host, m.port
        root = pymysql.connect(host=a.host, port=a.port, user="root", password=a.root_password,
                               autocommit=True)
        stack.callback(drop_db, root, db)
        with root.cursor() as c:
            c.execute(f"CREATE DATABASE {db}")
            c.execute(f"CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, k INT NOT NULL,"
                      " v VARCHAR(32) NOT NULL, ts DATETIME(6) NOT NULL)")
            done = 0
            while done < a.rows:  # in chunks: one huge transaction strains the server
                n = min(100_000, a.rows - done)
                c.execute(f"INSERT INTO {db}.t SELECT seq, seq % 1000, 'abcdefghijklmnopqrstuvwxyz012345',"
                          f" '2024-01-01 00:00:00.123456' + INTERVAL seq SECOND"
                          f" FROM {db}.seq_{done + 1}_to_{done + n}")
                done += n
        quick = quick_read(a, db)
        b = stack.enter_context(broker)
        res, ceilings = {}, []
        for k in a.order:
            res[k] = snapshot_once(a, run, b, db, k)
            if k == "sluice" and not a.no_ceiling and "partial" not in res[k]:
                ceilings.append(plain_ceiling(a.plain, b, a.workdir, run, res[k]["topic"], a.rows,
                                              kv(a.producer), max(a.timeout, 600)))
        for k, r in res.items():
            if not a.no_verify and "partial" not in r:
                got = read_topic(b.bootstrap, r["topic"], a.rows)
                r["verified"] = (f"{len(got['ids'])} distinct ids of {a.rows} in the first"
                                 f" {got['records']} records, {got['duplicates']} duplicates,"
                                 f" {got['others']} others")
                r["verified_ok"] = len(got["ids"]) == a.rows
            r["record_bytes"] = sum(len(x or b"") for x in record_at(b.bootstrap, r["topic"], 0)[:2])
        if ceilings:
            ceilings.append(plain_ceiling(a.plain, b, a.workdir, run, res["sluice"]["topic"], a.rows,
                                          kv(a.producer), max(a.timeout, 600)))
    report(a, db, quick, res, ceilings, started, load0, loadavg())


def quick_read(a, db):
    cmd = ["mariadb", "--no-defaults", "--quick", "-N", "-B", f"--host={a.host}", f"--port={a.port}",
           "--user=root", f"--password={a.root_password}", "-e", f"SELECT * FROM {db}.t"]
    t0 = time.monotonic()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    secs = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"mariadb --quick failed: {out.stderr.decode()}")
    return out.stdout.count(b"\n"), secs


def snapshot_once(a, run, b, db, kind):
    s = System(kind, a, run, b, f"bs{PFX[kind]}{run}")
    topic = f"{s.prefix}.{db}.t"
    create_topics(b.bootstrap, [topic])
    r = {"topic": topic}
    with s:
        config = s.config(a, b, db, run)
        config["snapshot.mode"] = "initial"
        wm = Watermark(b.bootstrap, topic)
        settle()
        cpu0, bcpu0, sys0 = cpu_secs(s.pid), (cpu_secs(b.pid) if b.pid else None), sys_secs(s.pid)
        steal0 = steal_secs()
        note(f"{kind}: snapshot (deadline {s.timeout} s)")
        t0 = time.time()
        create_connector(s.port, s.connector, config)
        progress = None
        deadline = t0 + s.timeout
        while True:
            hw, timed_out = wait_acked(s, wm, a.rows, min(deadline, time.time() + 1), b)
            if not timed_out or time.time() > deadline:
                break
            st = s.status()
            if any(t["state"] == "FAILED" for t in st.get("tasks", [])):
                trace = st["tasks"][0].get("trace", "")
                print(f"{kind}: the task FAILED: {trace[:3000]}", file=sys.stderr)
                r["failed"] = trace.splitlines()[0] if trace else "FAILED"
                hw = max(wm(), 0)
                break
            if progress is None and not s.dbz:
                st = s.status()
                prog = st["tasks"][0].get("progress") if st.get("tasks") else None
                if prog and prog.get("snapshot", {}).get("tables"):
                    progress = prog
        polled = time.time()
        r["cpu"], r["cpu_sys"] = cpu_secs(s.pid) - cpu0, sys_secs(s.pid) - sys0
        r["steal"] = steal_secs() - steal0
        r["broker_cpu"] = cpu_secs(b.pid) - bcpu0 if b.pid else None
        r["rss_kb"] = vm_hwm_kb(s.pid)
        if timed_out or r.get("failed"):
            r.update(partial=hw, secs=polled - t0)
        else:
            _, _, ts = record_at(b.bootstrap, topic, a.rows - 1)
            r["secs"] = ts / 1000 - t0
        wm.close()
        note(f"{kind}: " + (f"{hw} of {a.rows} rows acked in {r['secs']:.1f} s ({r.get('failed') or 'deadline'})"
                            if "partial" in r else f"{a.rows} rows in {r['secs']:.2f} s"))
        st = s.status()
        r["status"] = st["tasks"][0]["state"] if st.get("tasks") else "-"
        r["progress"] = progress
        r["start_secs"] = s.worker.start_secs if s.dbz else None
        text = s.worker.log_text()
        if not s.dbz:
            m = re.search(r"snapshot: \S+ done, (\d+) rows in ([0-9.]+)(ms|s)", text)
            if m:
                r["read_secs"] = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
            r["progress_lines"] = len(re.findall(r"snapshot: \S+ \d+ of ~\d+ rows", text))
    r["log"] = s.worker.log
    return r


def report(a, db, quick, res, ceilings, started, load0, load1):
    n = a.rows
    broker = ("private Apache Kafka 4.4 (one KRaft node)" if a.broker == "private"
              else f"shared Apache Kafka at {a.bootstrap}")
    mariadb = "private MariaDB" if a.mariadb == "private" else f"shared MariaDB at {a.host}:{a.port}"
    print(f"\n== bench-mysql-snapshot: {n} rows, table {db}.t, snapshot.mode=initial; broker: {broker};"
          f" {mariadb}")
    print(f"started {started}; load average {load0} at the start, {load1} at the end")
    qrows, qsecs = quick
    print(f"mariadb --quick (reference, table read to /dev/null): {qrows / qsecs:,.0f} rows/s"
          f" ({qrows} rows, {qsecs:.2f} s)")
    rates = {}
    for k, r in res.items():
        if "partial" in r:
            rate = r["partial"] / r["secs"]
            why = f"its task FAILED ({r['failed']})" if r.get("failed") else "MISSED its deadline"
            print(f"{NAMES[k]}: {why}: {r['partial']} of {n} rows acked after"
                  f" {r['secs']:.0f} s = {rate:,.0f} rows/s so far")
        else:
            rate = n / r["secs"]
            print(f"{NAMES[k]}: {rate:,.0f} rows/s ({r['secs']:.2f} s, connector POST -> N-th ack)")
        rates[k] = rate
        print(f"    CPU {r['cpu']:.1f} s user+system (system {r['cpu_sys']:.1f} s;"
              f" {n / max(r['cpu'], 1e-9):,.0f} rows per CPU-second)"
              + (f"; broker CPU {r['broker_cpu']:.1f} s" if r.get("broker_cpu") is not None else "")
              + f"; steal {r['steal']:.1f} s; peak RSS {r['rss_kb'] / 1024:.1f} MiB; task {r['status']}")
        print(f"    records {r.get('record_bytes', 0)} bytes (key + value); "
              + (r.get("verified") or "not read back")
              + ("" if r.get("verified_ok", True) else "  <-- NOT ALL IDS"))
        if k == "sluice":
            print(f"    snapshot read done after {r.get('read_secs', float('nan')):.1f} s;"
                  f" progress in status: {json.dumps(r['progress']) if r['progress'] else 'not seen'};"
                  f" {r.get('progress_lines', 0)} progress log lines")
        else:
            print(f"    worker start {r['start_secs']:.1f} s (not timed); log {r['log']}")
    ceil = print_ceilings(ceilings)
    sl = res.get("sluice")
    if sl:
        print(f"RATIO Sluice/mariadb --quick: {rates['sluice'] / (qrows / qsecs):.2f}")
    for k, dz in res.items():
        if k == "sluice" or not sl:
            continue
        mr = sl["rss_kb"] / dz["rss_kb"]
        print(f"RATIO Sluice/{k} throughput: {rates['sluice'] / rates[k]:.2f}x (target >= 10)"
              + (f"  [{k} partial: rate so far]" if "partial" in dz else ""))
        print(f"RATIO Sluice/{k} peak RSS: {mr:.3f} = 1/{1 / mr:.1f} (target <= 1/10)")
        print(f"RATIO Sluice/{k} CPU-s: {sl['cpu'] / max(dz['cpu'], 1e-9):.3f}"
              + ("  [partial: CPU for fewer rows]" if "partial" in dz else ""))
    if sl and ceil:
        print(f"RATIO Sluice/ceiling: {rates['sluice'] / (ceil['records'] / ceil['secs']):.2f}"
              " (the faster ceiling; target >= 0.9)")


if __name__ == "__main__":
    main()
