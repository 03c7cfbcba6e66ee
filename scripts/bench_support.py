"""Shared pieces of the benchmarks (scripts/bench_*.py).

- `PrivateKafka`: an Apache Kafka broker of the bench's own (one KRaft node,
  broker + controller, the shared broker's settings from scripts/services'
  kafka_node), on free loopback ports, its storage formatted in a fresh
  directory under the bench's work dir, started from the Kafka classpath
  folder (SLUICE_KAFKA_LIBS), killed by its PID at the end and its
  directory deleted. Other engineers' tests use the shared broker on 9092;
  a private one keeps their load out of the figures (the machine's cores
  are still shared). Kafka has no engine that discards records, so every
  bench stores what it sends: ~3 GB per million JsonConverter records with
  schemas.
- `create_topics`: one-partition topics with message.timestamp.type=
  LogAppendTime, so that every record's timestamp is the broker's append
  time: the moment it was written to the leader's log, which for a
  one-broker acks=all producer is the moment it was acknowledged (to the
  millisecond, plus the response's way back). Completion and latency are
  read from these timestamps after a run, not from logs and not by a
  consumer racing the pipeline for the two cores.
- `Watermark`: polls a topic's high watermark (ListOffsets), the number of
  records the broker acknowledged (one partition, idempotent producers).
- `read_topic`: reads a topic back after a run: distinct ids of the JSON
  key, duplicates, and per id its append time.
- `SluiceWorker`: a release `sluice standalone` of the bench's own.
- `DebeziumWorker`: a fresh Kafka Connect 4.4 worker with Debezium's
  plugins (scripts/debezium up --name ... --port ... --bootstrap ...), so
  its JVM's RSS and CPU are its own; stopped (scripts/debezium down) and
  its state directory removed at the end.
- `PrivateMariaDB`: a MariaDB 10.11 server of the bench's own (a fresh
  data directory under the work dir, the shared server's settings from
  scripts/services, free port, stopped by its PID and deleted at the end),
  so that other engineers' tests on the shared server (DDL that Debezium's
  parser rejects, killed replication connections, purged binlogs, their
  own binlog traffic) stay out of the run.
- `OffsetWatch`: polls a connector's committed source offset.
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(port, method, path, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


def create_connector(port, name, config, initial_state=None):
    """POST /connectors; on a refusal exits with the worker's own words. Kafka
    Connect 4.4 with Debezium 3.5/3.6 answers a config that fails validation
    with an HTTP 500 that hides the error: the validate endpoint shows it."""
    body = {"name": name, "config": config}
    if initial_state:
        body["initial_state"] = initial_state
    try:
        return http(port, "POST", "/connectors", body)
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace")
        errors = ""
        try:
            v = http(port, "PUT", f"/connector-plugins/{config['connector.class']}/config/validate",
                     config)
            errors = "; ".join(f"{c['value']['name']}: {err}" for c in v.get("configs", [])
                               for err in c["value"].get("errors", []))
        except Exception as ve:  # noqa: BLE001 - only for the message
            errors = f"(validate failed too: {ve})"
        sys.exit(f"POST /connectors on port {port} failed: HTTP {e.code} {text.strip()}"
                 f" (validate: {errors or 'no errors'})")


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_secs(pid):
    """User + system CPU seconds the process (all its threads) has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sys_secs(pid):
    """System (kernel) CPU seconds the process has used so far: page
    faults, direct reclaim and syscalls on its behalf."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def steal_secs():
    """CPU seconds the hypervisor gave to other guests (all CPUs), so far."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def settle():
    """Writes dirty pages out (sync) before a timed phase, so that no phase
    starts with the previous one's ~3 GB of broker log still to write.
    It did not remove the 2-3x swings of CPU per unit of work seen on this
    VM (docs/benchmarks.md, "The ceiling on this machine")."""
    t0 = time.time()
    os.sync()
    return time.time() - t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def wait_for(what, cond, timeout, proc=None, log=None, period=0.05):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline or (proc is not None and proc.poll() is not None):
            sys.exit(f"timed out waiting for {what}" + (f"; see {log}" if log else ""))
        time.sleep(period)


def kafka_cluster_id():
    """A random cluster id as Kafka's Uuid prints it (22 base64url characters)."""
    while True:
        s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not s.startswith("-"):
            return s


class PrivateKafka:
    """One Apache Kafka node (KRaft, broker + controller) for one bench run; a context manager."""

    def __init__(self, libs, workdir, run, heap="1g"):
        self.libs, self.heap = libs, heap
        self.dir = os.path.join(workdir, f"kafka-{run}")
        self.port, self.cport = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.proc = None

    def __enter__(self):
        if not (self.libs and os.path.isdir(self.libs)):
            sys.exit(f"no Kafka classpath folder at {self.libs!r}: run scripts/install-jars kafka,"
                     " or pass --broker shared to use the shared broker")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        props = os.path.join(self.dir, "server.properties")
        with open(props, "w") as f:
            f.write("process.roles=broker,controller\nnode.id=1\n"
                    f"controller.quorum.voters=1@127.0.0.1:{self.cport}\n"
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.cport}\n"
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}\n"
                    "controller.listener.names=CONTROLLER\n"
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
                    f"log.dirs={self.dir}/data\n"
                    "offsets.topic.replication.factor=1\ntransaction.state.log.replication.factor=1\n"
                    "transaction.state.log.min.isr=1\n"
                    "share.coordinator.state.topic.replication.factor=1\n"
                    "share.coordinator.state.topic.min.isr=1\n"
                    "default.replication.factor=1\nmin.insync.replicas=1\n"
                    "group.initial.rebalance.delay.ms=0\n"
                    "message.max.bytes=67108864\nreplica.fetch.max.bytes=67108864\n")
        with open(os.path.join(self.dir, "log4j2.yaml"), "w") as f:
            f.write("Configuration:\n  Appenders:\n    File:\n      name: server\n"
                    f"      fileName: \"{self.dir}/server.log\"\n"
                    "      PatternLayout: { pattern: \"[%d] %p %m (%c)%n\" }\n"
                    "  Loggers:\n    Root: { level: INFO, AppenderRef: [ { ref: server } ] }\n")
        cp = os.path.join(self.libs, "*")
        log4j = f"-Dlog4j2.configurationFile={self.dir}/log4j2.yaml"
        fmt = subprocess.run(["java", "-Xmx256m", log4j, "-cp", cp, "kafka.tools.StorageTool",
                              "format", "-t", kafka_cluster_id(), "-c", props],
                             capture_output=True, text=True)
        if fmt.returncode != 0:
            sys.exit(f"formatting the private Kafka broker's storage failed: {fmt.stdout}{fmt.stderr}")
        self.log = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen(
            ["java", "-Xms128m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
             "-Djava.awt.headless=true", log4j, "-cp", cp, "kafka.Kafka", props],
            cwd=self.dir, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        deadline = time.time() + 90
        while True:
            try:
                if admin.list_topics(timeout=1).brokers:
                    return self
            except Exception:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.__exit__(None, None, None)
                sys.exit(f"the private Kafka broker did not start; see {self.dir}/server.log")
            time.sleep(0.2)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


class SharedKafka:
    """The shared broker (--broker shared), with the same interface as PrivateKafka."""

    def __init__(self, bootstrap):
        self.bootstrap, self.pid = bootstrap, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class PrivateMariaDB:
    """One MariaDB server for one bench run; a context manager. Accounts:
    root (password `root_password`, over TCP) and `user`/`password` with a
    CDC connector's grants."""

    def __init__(self, workdir, run, root_password="sluice", user="sluice", password="sluice",
                 row_metadata="FULL"):
        self.row_metadata = row_metadata
        self.dir = os.path.join(workdir, f"mariadb-{run}")
        self.port = free_port()
        self.host = "127.0.0.1"
        self.root_password, self.user, self.password = root_password, user, password
        self.proc = None

    def _client(self, *args, **kw):
        return subprocess.run(["mariadb", f"--defaults-file={self.cnf}", "--protocol=socket",
                               "-uroot", "-N", "-B", *args], capture_output=True, text=True, **kw)

    def __enter__(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        d = self.dir
        self.cnf = os.path.join(d, "my.cnf")
        # Its own tmpdir: a server starting removes every #sql* file in its
        # tmpdir, another server's being initialised in /tmp included.
        os.makedirs(os.path.join(d, "tmp"))
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        with open(self.cnf, "w") as f:
            f.write(f"[client]\nport = {self.port}\nsocket = {d}/mariadb.sock\n"
                    f"[mariadbd]\nuser = {user}\ndatadir = {d}/data\nsocket = {d}/mariadb.sock\n"
                    f"pid-file = {d}/mariadbd.pid\nport = {self.port}\nbind-address = 127.0.0.1\n"
                    f"skip-name-resolve\nlog-error = {d}/mariadbd.err\ntmpdir = {d}/tmp\n"
                    "character-set-server = utf8mb4\ncollation-server = utf8mb4_general_ci\n"
                    "server_id = 1\nlog_bin = mariadb-bin\nbinlog_format = ROW\n"
                    "binlog_row_image = FULL\n"
                    + (f"binlog_row_metadata = {self.row_metadata}\n" if self.row_metadata else "")
                    + "max_allowed_packet = 64M\ninnodb_buffer_pool_size = 256M\n")
        out = subprocess.run(["mariadb-install-db", f"--defaults-file={self.cnf}",
                              f"--datadir={d}/data", "--auth-root-authentication-method=normal",
                              "--skip-test-db"], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"mariadb-install-db failed: {out.stderr[-2000:]}")
        self.start_server()
        rp, u, p = (x.replace("'", "''") for x in (self.root_password, self.user, self.password))
        hosts = self._client("-e", "SELECT host FROM mysql.user WHERE user = 'root'").stdout.split()
        sql = "".join(f"ALTER USER IF EXISTS 'root'@'{h}' IDENTIFIED BY '{rp}';" for h in hosts
                      if h != "localhost")
        sql += (f"CREATE USER 'root'@'%' IDENTIFIED BY '{rp}';"
                "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
                f"CREATE USER '{u}'@'%' IDENTIFIED BY '{p}';"
                "GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SELECT, RELOAD,"
                f" SHOW DATABASES, LOCK TABLES ON *.* TO '{u}'@'%'; FLUSH PRIVILEGES;")
        out = self._client("-e", sql)
        if out.returncode != 0:
            self.__exit__(None, None, None)
            sys.exit(f"setting up the private MariaDB's accounts failed: {out.stderr}")
        return self

    def start_server(self):
        """Starts mariadbd on the existing data directory; returns once it answers."""
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.proc = subprocess.Popen([mariadbd, f"--defaults-file={self.cnf}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.time() + 60
        while self._client("-e", "SELECT 1").returncode != 0:
            if time.time() > deadline or self.proc.poll() is not None:
                self.__exit__(None, None, None)
                sys.exit(f"the private MariaDB did not start; see {self.dir}/mariadbd.err")
            time.sleep(0.1)

    def stop_server(self, kill=False):
        """Stops mariadbd (SIGTERM, a clean shutdown; SIGKILL with kill=True)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)

    def __exit__(self, *exc):
        self.stop_server()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def create_topics(bootstrap, names, log_append_time=True):
    """One partition each, replication factor 1, broker append time as timestamp."""
    config = {"message.timestamp.type": "LogAppendTime"} if log_append_time else {}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(n, 1, 1, config=config) for n in names]).values():
        f.result(30)


class Watermark:
    """A topic's (one partition) high watermark, polled with ListOffsets."""

    def __init__(self, bootstrap, topic):
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-wm-{topic}",
                           "log_level": 0})
        self.tp = TopicPartition(topic, 0)

    def __call__(self):
        try:
            return self.c.get_watermark_offsets(self.tp, timeout=5, cached=False)[1]
        except Exception:
            return -1

    def close(self):
        self.c.close()


def record_at(bootstrap, topic, offset, timeout=30):
    """The record at `offset` of partition 0 (key, value, timestamp in ms)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-at-{topic}",
                  "enable.auto.commit": False, "fetch.max.bytes": 64 << 20})
    c.assign([TopicPartition(topic, 0, offset)])
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            m = c.poll(1.0)
            if m is not None and m.error() is None and m.offset() >= offset:
                return m.key(), m.value(), m.timestamp()[1]
        sys.exit(f"could not read offset {offset} of {topic}")
    finally:
        c.close()


KEY_ID = re.compile(rb'"payload":\{"id":(-?\d+)\}')


def read_topic(bootstrap, topic, end, start=0, timeout=600, want_ts=False):
    """Reads offsets [start, end) of partition 0. Returns dict(records, ids (a
    set), duplicates, others, ts: {id: append time ms} when want_ts)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-read-{topic}",
                  "enable.auto.commit": False, "fetch.max.bytes": 64 << 20,
                  "max.partition.fetch.bytes": 16 << 20})
    c.assign([TopicPartition(topic, 0, start)])
    ids, ts = set(), {}
    records = duplicates = others = 0
    deadline = time.time() + timeout
    pos = start
    while pos < end and time.time() < deadline:
        for m in c.consume(num_messages=10_000, timeout=1.0):
            if m.error():
                continue
            pos = m.offset() + 1
            if m.offset() >= end:
                continue
            records += 1
            k = m.key()
            hit = KEY_ID.search(k) if k else None
            if not hit:
                others += 1
                continue
            i = int(hit.group(1))
            if i in ids:
                duplicates += 1
                continue
            ids.add(i)
            if want_ts:
                ts[i] = m.timestamp()[1]
    c.close()
    return dict(records=records, ids=ids, duplicates=duplicates, others=others, ts=ts)


def plain_ceiling(plain, b, workdir, run, topic, n, producer=None, timeout=900):
    """The ceiling: examples/plain_producer --repeat sends n copies of the
    record at offset n-1 of `topic` (Sluice's own key and value; the id in
    both is replaced by 1..n) to a fresh topic of the same broker, with a
    Sluice source task's producer settings (plus `producer` overrides).
    The benches time it twice, right after Sluice's run and at the end,
    and take the faster as the ceiling: on this shared 2-core machine one
    timing alone has come out at half the other.
    Returns records, secs (first send -> last delivery report), cpu (the
    producer's), bytes (key + value) and the broker's CPU when private."""
    key, value, _ = record_at(b.bootstrap, topic, n - 1)
    hit = KEY_ID.search(key or b"")
    if not hit:
        sys.exit(f"{topic}'s record {n - 1} has no id key: {key[:200]!r}")
    pat = re.compile(rb'"id":' + hit.group(1) + rb'([,}])')
    key_t, nk = pat.subn(rb'"id":@ID@\1', key)
    value_t, nv = pat.subn(rb'"id":@ID@\1', value)
    if not nk or not nv or b"\n" in key_t + value_t:
        sys.exit(f"cannot make a template of {topic}'s record {n - 1}")
    template = os.path.join(workdir, f"template-{run}.txt")
    with open(template, "wb") as f:
        f.write(key_t + b"\n" + value_t + b"\n")
    plain_topic = f"plain{run}.t{int(time.time() * 1000) % 10**8}"
    create_topics(b.bootstrap, [plain_topic])
    if not (plain and os.access(plain, os.X_OK)):
        sys.exit(f"the ceiling needs the plain_producer example's binary, got {plain!r}")
    settle()
    bcpu0, steal0 = (cpu_secs(b.pid) if b.pid else None), steal_secs()
    out_path = os.path.join(workdir, f"plain-{run}.out")
    with open(out_path, "w+") as out:
        proc = subprocess.Popen([plain, b.bootstrap, plain_topic, "--repeat", str(n), template]
                                + [f"{k}={v}" for k, v in (producer or {}).items()],
                                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while True:  # wait4: the child's own rusage, user and system apart
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                proc.kill()
                sys.exit(f"the plain producer did not finish within {timeout} s")
            time.sleep(0.05)
        out.seek(0)
        text = out.read()
    if status != 0:
        sys.exit(f"plain producer failed: {text.strip()[-2000:]}")
    fields = dict(x.split("=", 1) for x in text.split() if x.count("=") == 1 and x[0].isalpha())
    return dict(records=int(fields["records"]), secs=float(fields["seconds"]),
                cpu=float(fields["cpu_seconds"]), cpu_sys=usage.ru_stime, bytes=len(key) + len(value),
                steal=steal_secs() - steal0,
                broker_cpu=cpu_secs(b.pid) - bcpu0 if b.pid else None)


class SluiceWorker:
    """A release `sluice standalone` (or, with mode="distributed", a one-worker
    cluster with its own group and internal topics) with its own REST port
    and files; a context manager."""

    def __init__(self, sluice, workdir, tag, bootstrap, extra_props=(), flush_ms=1000,
                 mode="standalone"):
        self.sluice, self.workdir, self.tag = sluice, workdir, tag
        self.bootstrap, self.extra, self.flush_ms = bootstrap, list(extra_props), flush_ms
        self.mode = mode
        self.port = free_port()
        self.p = None

    def __enter__(self):
        worker = os.path.join(self.workdir, f"worker-{self.tag}.properties")
        with open(worker, "w") as f:
            f.write(f"bootstrap.servers={self.bootstrap}\nlisteners=http://127.0.0.1:{self.port}\n"
                    f"offset.storage.file.filename={self.workdir}/offsets-{self.tag}\n"
                    f"offset.flush.interval.ms={self.flush_ms}\n"
                    "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                    "value.converter=org.apache.kafka.connect.json.JsonConverter\n")
            if self.mode == "distributed":
                g = f"bench-{self.tag}"
                f.write(f"group.id={g}\nconfig.storage.topic={g}-configs\n"
                        f"offset.storage.topic={g}-offsets\nstatus.storage.topic={g}-status\n"
                        "config.storage.replication.factor=1\noffset.storage.replication.factor=1\n"
                        "status.storage.replication.factor=1\n")
            for line in self.extra:
                f.write(line + "\n")
        self.log = os.path.join(self.workdir, f"sluice-{self.tag}.log")
        logf = open(self.log, "w")
        self.p = subprocess.Popen([self.sluice, self.mode, worker], stdout=logf, stderr=logf)
        self.pid = self.p.pid

        def up():
            try:
                http(self.port, "GET", "/")
                return True
            except OSError:
                return False
        wait_for("sluice to start", up, 60, self.p, self.log)
        return self

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def __exit__(self, *exc):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(15)
        return False


class DebeziumWorker:
    """A fresh Kafka Connect 4.4 worker (distributed, its own group and internal
    topics) with Debezium's plugins, started by scripts/debezium; a context
    manager. Its log is kept as WORKDIR/debezium-bench-TAG.log."""

    def __init__(self, script, tag, bootstrap, worker_props=(), heap=None, workdir=None):
        self.script, self.name, self.bootstrap = script, f"bench-{tag}", bootstrap
        self.workdir = workdir
        self.props, self.heap = list(worker_props), heap
        self.port = free_port()
        self.pid = None

    def _env(self):
        env = dict(os.environ)
        if self.props:
            env["SLUICE_DEBEZIUM_WORKER_PROPS"] = "\n".join(self.props)
        if self.heap:
            env["SLUICE_DEBEZIUM_HEAP"] = self.heap
        return env

    def __enter__(self):
        t0 = time.time()
        out = subprocess.run([self.script, "up", "--name", self.name, "--port", str(self.port),
                              "--bootstrap", self.bootstrap], capture_output=True, text=True,
                             env=self._env())
        if out.returncode != 0:
            self._down()
            sys.exit(f"scripts/debezium up --name {self.name} failed: {out.stderr.strip()}")
        self.dir = os.path.join(os.environ.get("SLUICE_STATE_DIR", os.path.expanduser(
            "~/.cache/sluice/state")), "debezium", self.name)
        with open(os.path.join(self.dir, "worker.pid")) as f:
            self.pid = int(f.read().strip())
        self.log = os.path.join(self.dir, "connect.log")
        self.start_secs = time.time() - t0
        return self

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def _down(self):
        subprocess.run([self.script, "down", "--name", self.name], capture_output=True,
                       env=self._env())

    def __exit__(self, *exc):
        if self.pid is None:
            return False
        self._down()
        self.pid = None
        if self.workdir and os.path.exists(self.log):
            kept = os.path.join(self.workdir, f"debezium-{self.name}.log")
            shutil.copyfile(self.log, kept)
            self.log = kept
        if os.environ.get("SLUICE_BENCH_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


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
