"""Shared pieces of the benchmarks (scripts/bench_*.py).

- `PrivateBroker`: a tansu broker of the bench's own, memory engine, on a
  free loopback port, state dir under the bench's work dir; started and
  stopped (by PID) by the bench, its directory deleted afterwards. The
  shared broker on 9092 stores on sqlite, which caps a producer at ~6k
  records/s of ~1.5 KB: a bench against it measures sqlite, not Sluice.
- `PrivateBroker(engine="null://sluice-bench")`: the same broker with a
  storage URL tansu does not know, which it serves with its null engine:
  every produce request is received, decoded and acknowledged, and the
  records are discarded. This measures Sluice's whole path to the broker's
  ack without the broker's storage (tansu's memory engine takes ~20-40k
  records/s of ~1.5 KB on this machine, the sqlite one ~6k). Nothing can
  be read back: completion is then Sluice's committed source offset
  (`OffsetWatch`), which only moves past records the broker acknowledged.
- `ReadBack`: a consumer thread that reads the topic from the start and
  counts records by the `id` in their JSON key. Completion is "every id
  1..N read back", never the high watermark (tansu's memory engine can
  report a wrong one). It records, per group of ids (a transaction), when
  its last record was read: an upper bound on the broker's ack time.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient


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


def cpu_secs(pid):
    """User + system CPU seconds the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class PrivateBroker:
    """A tansu broker (memory engine, or null) for one bench run; a context manager."""

    def __init__(self, tansu, workdir, run, engine="memory://tansu/"):
        self.tansu, self.engine = tansu, engine
        self.dir = os.path.join(workdir, f"broker-{run}")
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.proc = None

    def __enter__(self):
        if not (self.tansu and os.access(self.tansu, os.X_OK)):
            sys.exit(f"tansu is not executable at {self.tansu!r}: run scripts/install-tansu,"
                     " or pass --broker shared to use the shared broker")
        # Its own working directory: tansu reads a .env file from there.
        os.makedirs(self.dir, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "tansu.log"), "w")
        self.proc = subprocess.Popen(
            [self.tansu, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", self.engine],
            cwd=self.dir, stdout=self.log, stderr=self.log)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        deadline = time.time() + 30
        while True:
            try:
                admin.list_topics(timeout=1)
                return self
            except Exception:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.__exit__(None, None, None)
                    sys.exit(f"the private tansu broker did not start; see {self.log.name}")
                time.sleep(0.05)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


KEY_ID = re.compile(rb'"payload":\{"id":(-?\d+)\}')


class ReadBack(threading.Thread):
    """Reads `topic` (partition 0) from the start until ids 1..n are all seen.

    `group`: ids [i*group+1, (i+1)*group] form group i; `done_at[i]` is the
    wall-clock time its last record was read. `duplicates` counts records
    whose id was already seen; `others` records without an id key.
    """

    def __init__(self, bootstrap, topic, n, group, run, timeout):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.n, self.group = bootstrap, topic, n, group
        self.run_id, self.timeout = run, timeout
        self.seen = bytearray(n + 1)
        self.count = 0
        self.duplicates = 0
        self.others = 0
        self.in_group = [0] * ((n + group - 1) // group)
        self.done_at = [None] * len(self.in_group)
        self.first_at = None
        self.stop = threading.Event()

    def run(self):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"bench-read-{self.run_id}",
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "fetch.wait.max.ms": 10, "fetch.max.bytes": 64 << 20,
                      "max.partition.fetch.bytes": 16 << 20})
        c.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        deadline = time.time() + self.timeout
        seen, in_group, group, n = self.seen, self.in_group, self.group, self.n
        while self.count < n and not self.stop.is_set() and time.time() < deadline:
            msgs = c.consume(num_messages=10_000, timeout=0.2)
            now = time.time()
            for m in msgs:
                if m.error():
                    continue
                k = m.key()
                hit = KEY_ID.search(k) if k else None
                if not hit:
                    self.others += 1
                    continue
                i = int(hit.group(1))
                if i < 1 or i > n or seen[i]:
                    self.duplicates += 1
                    continue
                seen[i] = 1
                self.count += 1
                if self.first_at is None:
                    self.first_at = now
                g = (i - 1) // group
                in_group[g] += 1
                if in_group[g] == group or (g == len(in_group) - 1 and in_group[g] == n - g * group):
                    self.done_at[g] = now
        c.close()

    def missing(self, limit=5):
        return [i for i in range(1, self.n + 1) if not self.seen[i]][:limit]


class OffsetWatch(threading.Thread):
    """Polls a connector's committed source offset (GET /connectors/{name}/offsets).

    `changes`: (wall-clock time, offset dict) each time the committed
    offset changed. The worker commits only offsets whose records, and all
    before them, the broker acknowledged.
    """

    def __init__(self, port, name, period=0.02):
        super().__init__(daemon=True)
        self.port, self.name, self.period = port, name, period
        self.changes = []
        self.stop = threading.Event()

    def run(self):
        last = None
        while not self.stop.is_set():
            try:
                offs = http(self.port, "GET", f"/connectors/{self.name}/offsets")["offsets"]
            except Exception:
                offs = []
            now = time.time()
            if offs:
                cur = offs[0]["offset"]
                if cur != last:
                    self.changes.append((now, cur))
                    last = cur
            time.sleep(self.period)

    def first_at(self, pred):
        """The first time a committed offset satisfied `pred`, else None."""
        for t, off in self.changes:
            if pred(off):
                return t
        return None
