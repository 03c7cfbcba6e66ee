"""MySQL/MariaDB -> Kafka streaming benchmark (scripts/bench-mysql).

One run, one binlog range, three readers:

- Sluice: a release `sluice standalone`, MySQL connector created over REST
  with snapshot.mode=no_data (so every row is streamed from the binlog),
  JsonConverter with schemas, into the local broker.
- The decode limit: `mariadb-binlog --read-from-remote-server
  --base64-output=decode-rows -v` over the same binlog range, to /dev/null.
- A peer: python-mysql-replication's BinLogStreamReader reading the same
  range and materialising every row's values.

Writes: N rows (default 1,000,000) in transactions of B rows (default
1,000), `INSERT ... SELECT ... FROM seq_1_to_B` (table: BIGINT
auto-increment key, INT, VARCHAR(32), DATETIME(6) = NOW(6)), one client
session, written as fast as the server takes them while Sluice streams.

Throughput: rows / (time the broker's high watermark of the topic reaches
N - time the first transaction's COMMIT returned).

Latency (commit -> broker ack): the topic has one partition and the rows
of transaction i are exactly offsets [i*B, (i+1)*B). A sampler thread
polls the topic's high watermark (ListOffsets, no cache) every ~2 ms and
records when it first covers each transaction's last row: that is when the
broker has acknowledged (acks=all, one node) the whole transaction. The
commit time is the wall clock when the writer's COMMIT returned. p50 / p99
are over transactions (each sample is the latency of that transaction's
last row, the worst of its rows); the sampler's 2 ms period bounds the
error. The record's own timestamp is not used: it is the binlog event
time (second resolution), not the ack time.

Peak RSS: the kernel's VmHWM of the Sluice process at the end.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import pymysql
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def master_status(conn):
    with conn.cursor() as c:
        c.execute("SHOW MASTER STATUS")
        row = c.fetchone()
        return row[0], int(row[1])


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
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--no-peer", action="store_true", help="skip python-mysql-replication")
    a = ap.parse_args()
    if a.rows % a.batch:
        sys.exit("--rows must be a multiple of --batch")
    os.makedirs(a.workdir, exist_ok=True)
    run = str(int(time.time()))
    db, prefix = f"bench_{run}", f"bm{run}"
    topic = f"{prefix}.{db}.t"
    root = pymysql.connect(host=a.host, port=a.port, user="root", password=a.root_password,
                           autocommit=True)
    with root.cursor() as c:
        c.execute(f"CREATE DATABASE {db}")
        c.execute(f"CREATE TABLE {db}.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL,"
                  " v VARCHAR(32) NOT NULL, ts DATETIME(6) NOT NULL)")
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        f.result(30)

    port = free_port()
    worker = os.path.join(a.workdir, f"worker-{run}.properties")
    with open(worker, "w") as f:
        f.write(f"bootstrap.servers={a.bootstrap}\nlisteners=http://127.0.0.1:{port}\n"
                f"offset.storage.file.filename={a.workdir}/offsets-{run}\n"
                "offset.flush.interval.ms=1000\n"
                "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n")
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
        http(port, "POST", "/connectors", {"name": f"bench-{run}", "config": {
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": a.host, "database.port": str(a.port),
            "database.user": a.user, "database.password": a.password,
            "database.server.id": str(50_000 + int(run) % 100_000),
            "topic.prefix": prefix, "database.include.list": db,
            "snapshot.mode": "no_data",
            "schema.history.internal.file.filename": f"{a.workdir}/history-{run}.jsonl",
            "tasks.max": "1"}})
        # Streaming has begun when the log says so.
        deadline = time.time() + 60
        while "streaming the binlog" not in open(log.name).read():
            if time.time() > deadline or p.poll() is not None:
                sys.exit("the connector did not start streaming; see " + log.name)
            time.sleep(0.05)

        n_tx = a.rows // a.batch
        ack_at = [None] * n_tx
        stop = threading.Event()

        def sample():
            c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": f"bench-wm-{run}"})
            tp = TopicPartition(topic, 0)
            done = 0
            while done < n_tx and not stop.is_set():
                try:
                    _, hi = c.get_watermark_offsets(tp, timeout=5, cached=False)
                except Exception:  # a busy broker times out: ask again
                    continue
                now = time.time()
                while done < n_tx and hi >= (done + 1) * a.batch:
                    ack_at[done] = now
                    done += 1
                time.sleep(0.002)
            c.close()

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start_file, start_pos = master_status(root)
        commit_at = []
        w = pymysql.connect(host=a.host, port=a.port, user="root", password=a.root_password,
                            database=db, autocommit=False)
        with w.cursor() as c:
            for i in range(n_tx):
                c.execute(f"INSERT INTO {db}.t (k, v, ts) SELECT seq, 'abcdefghijklmnopqrstuvwxyz012345',"
                          f" NOW(6) FROM seq_1_to_{a.batch}")
                w.commit()
                commit_at.append(time.time())
        write_secs = commit_at[-1] - commit_at[0]
        end_file, end_pos = master_status(root)
        sampler.join(600)
        stop.set()
        if ack_at[-1] is None:
            sys.exit(f"sluice did not deliver all {a.rows} rows within 600 s; see {log.name}")
        sluice_secs = ack_at[-1] - commit_at[0]
        lat = [(ack - com) * 1000 for ack, com in zip(ack_at, commit_at)]
        sluice_rss_kb = vm_hwm_kb(p.pid)
        status = http(port, "GET", f"/connectors/bench-{run}/status")
    finally:
        p.terminate()
        p.wait(30)

    # The decode limit: mariadb-binlog over the same range.
    cmd = ["mariadb-binlog", "--no-defaults", "--read-from-remote-server", f"--host={a.host}",
           f"--port={a.port}", "--user=root", f"--password={a.root_password}",
           "--base64-output=decode-rows", "-v", f"--start-position={start_pos}"]
    if end_file == start_file:
        cmd += [f"--stop-position={end_pos}", start_file]
    else:
        cmd += ["--to-last-log", start_file]
    t0 = time.monotonic()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    decode_secs = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"mariadb-binlog failed: {out.stderr.decode()}")
    decoded_rows = out.stdout.count(b"### INSERT INTO")
    del out

    peer = None
    if not a.no_peer:
        from pymysqlreplication import BinLogStreamReader
        from pymysqlreplication.row_event import WriteRowsEvent
        t0 = time.monotonic()
        stream = BinLogStreamReader(
            connection_settings={"host": a.host, "port": a.port, "user": "root",
                                 "passwd": a.root_password},
            server_id=60_000 + int(run) % 100_000, log_file=start_file, log_pos=start_pos,
            resume_stream=True, blocking=False, only_events=[WriteRowsEvent],
            only_schemas=[db])
        peer_rows = 0
        for ev in stream:
            for row in ev.rows:
                peer_rows += 1 if row["values"] is not None else 0
            if peer_rows >= a.rows:
                break
        stream.close()
        peer = (peer_rows, time.monotonic() - t0)

    n = a.rows
    sluice_rate = n / sluice_secs
    decode_rate = decoded_rows / decode_secs
    print(f"rows={n} transactions={n_tx}x{a.batch} binlog={start_file}:{start_pos}..{end_file}:{end_pos}")
    print(f"writer: {n / write_secs:,.0f} rows/s committed ({write_secs:.2f} s)")
    print(f"sluice mysql -> kafka: {sluice_rate:,.0f} rows/s end to end ({sluice_secs:.2f} s, first commit -> last ack)"
          f"  latency commit->ack p50 {pct(lat, 50):.0f} ms p99 {pct(lat, 99):.0f} ms max {max(lat):.0f} ms"
          f"  peak RSS {sluice_rss_kb / 1024:.1f} MiB  task {status['tasks'][0]['state']}")
    print(f"mariadb-binlog decode-rows -v (limit): {decode_rate:,.0f} rows/s ({decoded_rows} rows, {decode_secs:.2f} s)")
    if peer:
        print(f"python-mysql-replication (peer): {peer[0] / peer[1]:,.0f} rows/s ({peer[0]} rows, {peer[1]:.2f} s)")
    print(f"ratio sluice/decode limit: {sluice_rate / decode_rate:.2f}")
    if peer:
        print(f"ratio sluice/peer: {sluice_rate / (peer[0] / peer[1]):.2f}")


if __name__ == "__main__":
    main()
