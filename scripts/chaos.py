"""The chaos suite (scripts/chaos, issue #16, docs/reliability.md).

Each scenario runs a Debezium MySQL connector (MySqlConnector on MariaDB)
under a steady write load, injects one failure, and then counts, for the
rows committed in the database during the run:

- written: rows in the table at the end (the truth, read back with SELECT;
  a commit whose answer was lost in a database restart counts if the row is
  there);
- in Kafka: distinct rows read back from the topic with a read_committed
  consumer (librdkafka's default);
- lost: written rows not in Kafka (must be 0);
- duplicates: records of a row already read (0 under exactly-once; counted
  under at-least-once);
- recovery: the worst delay of any row, from its commit to its first
  arrival at the live consumer: how long the failure held changes up;
- the task's state at the end (a task left FAILED needs an operator).

Everything is private to the run and bounded in time: a 3-broker Apache
Kafka cluster (KRaft, replication factor 3, min.insync.replicas 2), a
MariaDB server (binlog_format=ROW as CDC requires, the rest of the binlog
settings MariaDB's defaults: binlog_row_metadata NO_LOG), and for each scenario a fresh 3-worker distributed Sluice
cluster (its own group and internal topics) or a standalone worker, all on
loopback. The network cut puts each worker in a network namespace of its
own, reached through a forwarder that this script runs (namespaces need
root); cutting stops the forwarding of the broker ports for one worker, as
a partition would, and the connections held during the cut are dropped when
it heals. The disk-full scenario mounts a small tmpfs (root) for the
standalone worker's offset file.

Scenarios: broker-kill, broker-rolling, worker-kill, worker-stop,
worker-rolling, db-restart, db-kill, disk-full, net-cut.
"""

import argparse
import ctypes
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pymysql
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench_support import KEY_ID, PrivateMariaDB, free_port, http, kafka_cluster_id

SCENARIOS = ["broker-kill", "broker-rolling", "worker-kill", "worker-stop", "worker-rolling",
             "db-restart", "db-kill", "disk-full", "net-cut"]
MYSQL_CLASS = "io.debezium.connector.mysql.MySqlConnector"


def note(msg):
    print(f"chaos: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def poll_until(what, cond, timeout, period=0.2):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(period)


# ---------------------------------------------------------------- Kafka ---

class KafkaCluster:
    """Three KRaft nodes (broker + controller each) of this run's own."""

    def __init__(self, libs, workdir):
        self.libs, self.dir = libs, os.path.join(workdir, "kafka")
        self.ports = [free_port() for _ in range(3)]
        self.cports = [free_port() for _ in range(3)]
        self.bootstrap = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        self.procs = [None, None, None]

    def _node_dir(self, i):
        return os.path.join(self.dir, f"node-{i + 1}")

    def __enter__(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        voters = ",".join(f"{i + 1}@127.0.0.1:{c}" for i, c in enumerate(self.cports))
        cid = kafka_cluster_id()
        cp = os.path.join(self.libs, "*")
        for i in range(3):
            d = self._node_dir(i)
            os.makedirs(d)
            with open(os.path.join(d, "server.properties"), "w") as f:
                f.write("process.roles=broker,controller\n"
                        f"node.id={i + 1}\ncontroller.quorum.voters={voters}\n"
                        f"listeners=PLAINTEXT://127.0.0.1:{self.ports[i]},"
                        f"CONTROLLER://127.0.0.1:{self.cports[i]}\n"
                        f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.ports[i]}\n"
                        "controller.listener.names=CONTROLLER\n"
                        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
                        f"log.dirs={d}/data\n"
                        "offsets.topic.replication.factor=3\n"
                        "transaction.state.log.replication.factor=3\n"
                        "transaction.state.log.min.isr=2\n"
                        "default.replication.factor=3\nmin.insync.replicas=2\n"
                        "unclean.leader.election.enable=false\n"
                        "group.initial.rebalance.delay.ms=0\n")
            with open(os.path.join(d, "log4j2.yaml"), "w") as f:
                f.write("Configuration:\n  Appenders:\n    File:\n      name: server\n"
                        f"      fileName: \"{d}/server.log\"\n"
                        "      PatternLayout: { pattern: \"[%d] %p %m (%c)%n\" }\n"
                        "  Loggers:\n    Root: { level: INFO, AppenderRef: [ { ref: server } ] }\n")
            out = subprocess.run(["java", "-Xmx256m", f"-Dlog4j2.configurationFile={d}/log4j2.yaml",
                                  "-cp", cp, "kafka.tools.StorageTool", "format", "-t", cid,
                                  "-c", f"{d}/server.properties"], capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"formatting Kafka node {i + 1} failed: {out.stdout}{out.stderr}")
        for i in range(3):
            self.start(i, wait=False)
        poll_until("the 3-broker cluster", lambda: self.brokers_up() == 3, 120)
        return self

    def start(self, i, wait=True):
        d = self._node_dir(i)
        log = open(os.path.join(d, "stdout.log"), "a")
        self.procs[i] = subprocess.Popen(
            ["java", "-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={d}/log4j2.yaml", "-cp", os.path.join(self.libs, "*"),
             "kafka.Kafka", f"{d}/server.properties"],
            cwd=d, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        if wait:
            poll_until(f"broker {i + 1} back in the cluster", lambda: self.brokers_up() == 3, 120)

    def stop(self, i, kill=False):
        p = self.procs[i]
        if p and p.poll() is None:
            p.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(15)

    def admin(self):
        return AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})

    def brokers_up(self):
        try:
            return len(self.admin().list_topics(timeout=3).brokers)
        except Exception:
            return 0

    def fully_replicated(self):
        """Every partition of every topic has its three replicas in sync."""
        try:
            md = self.admin().list_topics(timeout=5)
        except Exception:
            return False
        return len(md.brokers) == 3 and all(
            len(p.isrs) == 3 for t in md.topics.values() for p in t.partitions.values())

    def leader(self, topic):
        md = self.admin().list_topics(topic, timeout=10)
        return md.topics[topic].partitions[0].leader - 1

    def __exit__(self, *exc):
        for i in range(3):
            self.stop(i, kill=True)
        return False


# ------------------------------------------------- network namespaces ---

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
HOST_NS = os.open("/proc/self/ns/net", os.O_RDONLY)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


class Forwarder:
    """Joins one network namespace to the host's loopback, port by port:
    `inward` ports listen inside the namespace and connect to the host's
    127.0.0.1 (the brokers, the database, the other workers' REST ports);
    `outward` ports listen on the host and connect into the namespace (the
    worker's own REST port). `cut()` stops forwarding the broker ports."""

    def __init__(self, ns, inward, outward, cuttable):
        self.ns_path = f"/var/run/netns/{ns}"
        self.cuttable = set(cuttable)
        self.is_cut, self.epoch = False, 0
        self.stopped = False
        self.listeners = []
        ns_fd = os.open(self.ns_path, os.O_RDONLY)
        try:
            for port in inward:
                setns(ns_fd)
                try:
                    s = self._listen(port)
                finally:
                    setns(HOST_NS)
                self.listeners.append(s)
                threading.Thread(target=self._accept, args=(s, port, False), daemon=True).start()
            for port in outward:
                s = self._listen(port)
                self.listeners.append(s)
                threading.Thread(target=self._accept, args=(s, port, True), daemon=True).start()
        finally:
            os.close(ns_fd)

    @staticmethod
    def _listen(port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(128)
        return s

    def cut(self):
        self.epoch += 1
        self.is_cut = True

    def heal(self):
        self.is_cut = False

    def _accept(self, lsock, port, into_ns):
        while not self.stopped:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._link, args=(conn, port, into_ns), daemon=True).start()

    def _held(self, port, epoch):
        """During a cut, a broker connection neither moves data nor closes;
        once healed, a connection that lived through a cut is dropped."""
        if port not in self.cuttable:
            return False
        while self.is_cut and not self.stopped:
            time.sleep(0.05)
        return self.epoch != epoch

    def _link(self, conn, port, into_ns):
        epoch = self.epoch
        if self._held(port, epoch):
            conn.close()
            return
        up = socket.socket()
        try:
            if into_ns:
                fd = os.open(self.ns_path, os.O_RDONLY)
                try:
                    setns(fd)
                    up = socket.socket()
                finally:
                    setns(HOST_NS)
                    os.close(fd)
            up.connect(("127.0.0.1", port))
        except OSError:
            conn.close()
            up.close()
            return
        socks = [conn, up]
        try:
            while not self.stopped:
                if port in self.cuttable and (self.is_cut or self.epoch != epoch):
                    if self._held(port, epoch):
                        return
                r, _, _ = select.select(socks, [], [], 0.1)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is conn else conn).sendall(data)
        except OSError:
            return
        finally:
            conn.close()
            up.close()

    def close(self):
        self.stopped = True
        for s in self.listeners:
            s.close()


# ------------------------------------------------------------- workers ---

class Worker:
    def __init__(self, sluice, workdir, tag, port, props, ns=None):
        self.sluice, self.port, self.ns = sluice, port, ns
        self.props_path = os.path.join(workdir, f"{tag}.properties")
        self.log = os.path.join(workdir, f"{tag}.log")
        with open(self.props_path, "w") as f:
            f.write("\n".join(props) + "\n")
        self.mode = "standalone" if not any(p.startswith("group.id=") for p in props) \
            else "distributed"
        self.p = None

    def start(self):
        cmd = [self.sluice, self.mode, self.props_path]
        if self.ns:
            cmd = ["ip", "netns", "exec", self.ns] + cmd
        logf = open(self.log, "a")
        self.p = subprocess.Popen(cmd, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        poll_until(f"worker on port {self.port}", self.up, 60)

    def up(self):
        if self.p.poll() is not None:
            raise RuntimeError(f"worker on port {self.port} exited; see {self.log}")
        try:
            http(self.port, "GET", "/", timeout=2)
            return True
        except Exception:
            return False

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def stop(self, kill=False):
        if self.alive():
            os.kill(self.p.pid, signal.SIGCONT)
            self.p.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(15)

    def signal(self, sig):
        os.kill(self.p.pid, sig)


# ---------------------------------------------------- load and reading ---

class Writer(threading.Thread):
    """Inserts `batch` rows per transaction, `rate` transactions a second,
    with ids 1, 2, ...; reconnects through database restarts. `committed`:
    id -> commit time for every commit the database confirmed."""

    def __init__(self, db, table, rate=50, batch=10):
        super().__init__(daemon=True)
        self.db, self.table, self.rate, self.batch = db, table, rate, batch
        self.committed, self.errors = {}, 0
        self.stop_ev = threading.Event()
        self.next_id = 1

    def connect(self):
        return pymysql.connect(host="127.0.0.1", port=self.db.port, user="root",
                               password=self.db.root_password, database="chaos",
                               autocommit=False, connect_timeout=3, read_timeout=10,
                               write_timeout=10)

    def run(self):
        conn, t_next = None, time.time()
        while not self.stop_ev.is_set():
            t_next += 1 / self.rate
            delay = t_next - time.time()
            if delay > 0:
                time.sleep(delay)
            else:
                t_next = time.time()
            ids = list(range(self.next_id, self.next_id + self.batch))
            try:
                if conn is None:
                    conn = self.connect()
                with conn.cursor() as c:
                    c.executemany(f"INSERT INTO {self.table} (id, v) VALUES (%s, %s)",
                                  [(i, f"row {i}") for i in ids])
                conn.commit()
                now = time.time()
                for i in ids:
                    self.committed[i] = now
            except pymysql.MySQLError:
                self.errors += 1
                try:
                    if conn:
                        conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(0.2)
            # ids are never reused: an insert whose commit answer was lost may
            # have committed; the truth is read back from the table at the end.
            self.next_id += self.batch
        if conn:
            conn.close()


class LiveReader(threading.Thread):
    """Reads the topic as it fills (read_committed): first arrival time per
    id, duplicates."""

    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.arrived, self.duplicates, self.records = {}, 0, 0
        self.stop_ev = threading.Event()

    def run(self):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"chaos-{self.topic}",
                      "enable.auto.commit": False, "isolation.level": "read_committed",
                      "log_level": 0})
        c.assign([TopicPartition(self.topic, 0, 0)])
        while not self.stop_ev.is_set():
            for m in c.consume(num_messages=5000, timeout=0.5):
                if m.error():
                    continue
                now = time.time()
                hit = KEY_ID.search(m.key() or b"")
                if not hit or m.value() is None:
                    continue
                self.records += 1
                i = int(hit.group(1))
                if i in self.arrived:
                    self.duplicates += 1
                else:
                    self.arrived[i] = now
        c.close()


# ------------------------------------------------------------ the suite ---

class Suite:
    def __init__(self, a, kafka, db):
        self.a, self.kafka, self.db = a, kafka, db
        self.run_id = str(int(time.time()))
        self.workers, self.forwarders, self.namespaces = [], [], []
        self.mounts = []

    # -- set-up of one scenario --------------------------------------------
    def worker_props(self, group, port):
        props = [f"bootstrap.servers={self.kafka.bootstrap}",
                 f"listeners=http://127.0.0.1:{port}",
                 "offset.flush.interval.ms=1000",
                 "key.converter=org.apache.kafka.connect.json.JsonConverter",
                 "value.converter=org.apache.kafka.connect.json.JsonConverter"]
        if group:
            props += [f"group.id={group}", f"config.storage.topic={group}-configs",
                      f"offset.storage.topic={group}-offsets",
                      f"status.storage.topic={group}-status",
                      "session.timeout.ms=10000", "heartbeat.interval.ms=2000"]
            if self.a.eos:
                props.append("exactly.once.source.support=enabled")
        return props

    def cluster(self, name, netns=False):
        group = f"chaos-{self.run_id}-{name}"
        ports = [free_port() for _ in range(3)]
        for i, port in enumerate(ports):
            ns = None
            if netns:
                ns = f"chaos{self.run_id[-5:]}w{i}"
                subprocess.run(["ip", "netns", "add", ns], check=True)
                self.namespaces.append(ns)
                subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
                               check=True)
                others = [p for p in ports if p != port]
                self.forwarders.append(Forwarder(
                    ns, inward=self.kafka.ports + [self.db.port] + others, outward=[port],
                    cuttable=self.kafka.ports))
            w = Worker(self.a.sluice, self.a.workdir, f"{group}-w{i + 1}", port,
                       self.worker_props(group, port), ns)
            self.workers.append(w)
        for w in self.workers:
            w.start()
        return self.workers

    def standalone(self, name, offsets_dir):
        port = free_port()
        props = self.worker_props(None, port) + [
            f"offset.storage.file.filename={offsets_dir}/offsets"]
        w = Worker(self.a.sluice, self.a.workdir, f"chaos-{self.run_id}-{name}", port, props)
        self.workers.append(w)
        w.start()
        return [w]

    def teardown(self):
        for w in self.workers:
            w.stop()
        for f in self.forwarders:
            f.close()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns])
        for m in self.mounts:
            subprocess.run(["umount", m])
        self.workers, self.forwarders, self.namespaces, self.mounts = [], [], [], []

    def connector(self, name, prefix, table):
        return {"connector.class": MYSQL_CLASS, "tasks.max": "1",
                "database.hostname": "127.0.0.1", "database.port": str(self.db.port),
                "database.user": self.db.user, "database.password": self.db.password,
                "database.server.id": str(60_000 + SCENARIOS.index(name[len("chaos-"):])),
                "topic.prefix": prefix, "database.include.list": "chaos",
                "table.include.list": f"chaos.{table}",
                "snapshot.mode": "initial",
                "schema.history.internal.kafka.bootstrap.servers": self.kafka.bootstrap,
                "schema.history.internal.kafka.topic": f"{prefix}-schemahistory"}

    def task(self, port, name):
        try:
            st = http(port, "GET", f"/connectors/{name}/status", timeout=5)
        except Exception:
            return None
        tasks = st.get("tasks") or []
        return tasks[0] if tasks else None

    def any_port(self):
        for w in self.workers:
            if w.alive():
                try:
                    http(w.port, "GET", "/", timeout=2)
                    return w.port
                except Exception:
                    continue
        return self.workers[0].port

    def running_on(self, name):
        """The worker running the connector's task, once it is RUNNING."""
        t = self.task(self.any_port(), name)
        if not t or t.get("state") != "RUNNING":
            return None
        port = int(t["worker_id"].rsplit(":", 1)[1])
        return next(w for w in self.workers if w.port == port)

    # -- one scenario --------------------------------------------------------
    def scenario(self, name):
        a = self.a
        table = f"t_{name.replace('-', '_')}"
        prefix = f"chaos{self.run_id}{name.replace('-', '')}"
        topic = f"{prefix}.chaos.{table}"
        self.db._client("-e", f"CREATE TABLE chaos.{table} (id BIGINT PRIMARY KEY,"
                              " v VARCHAR(64)) ENGINE=InnoDB")
        admin = self.kafka.admin()
        for f in admin.create_topics([NewTopic(topic, 1, 3)]).values():
            f.result(30)
        if name == "disk-full":
            offsets_dir = os.path.join(a.workdir, f"offsets-{self.run_id}")
            os.makedirs(offsets_dir, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", offsets_dir],
                           check=True)
            self.mounts.append(offsets_dir)
            self.standalone(name, offsets_dir)
        else:
            offsets_dir = None
            self.cluster(name, netns=(name == "net-cut"))
        cname = f"chaos-{name}"
        http(self.workers[0].port, "POST", "/connectors",
             {"name": cname, "config": self.connector(cname, prefix, table)})
        poll_until("the task to run", lambda: self.running_on(cname), 90)
        reader = LiveReader(self.kafka.bootstrap, topic)
        reader.start()
        writer = Writer(self.db, f"chaos.{table}", rate=a.rate, batch=a.batch)
        writer.start()
        poll_until("the first rows in Kafka", lambda: reader.arrived, 60)
        time.sleep(a.warmup)
        note(f"{name}: load running, {len(writer.committed)} rows committed; injecting")
        t0 = time.time()
        detail = getattr(self, "fault_" + name.replace("-", "_"))(cname, topic, offsets_dir)
        t1 = time.time()
        note(f"{name}: fault over after {t1 - t0:.1f} s ({detail}); load goes on {a.after} s")
        time.sleep(a.after)
        writer.stop_ev.set()
        writer.join(30)
        truth = set(int(x) for x in self.db._client(
            "-e", f"SELECT id FROM chaos.{table}").stdout.split())
        try:
            poll_until("every written row in Kafka", lambda: truth <= reader.arrived.keys(),
                       a.drain, period=0.5)
        except RuntimeError as e:
            note(f"{name}: {e}")
        # A moment more for duplicates still on their way.
        time.sleep(3)
        reader.stop_ev.set()
        reader.join(30)
        task = self.task(self.any_port(), cname) or {}
        lost = truth - reader.arrived.keys()
        delays = [reader.arrived[i] - t for i, t in writer.committed.items() if i in reader.arrived]
        row = {"scenario": name, "mode": "exactly-once" if a.eos and offsets_dir is None
               else "at-least-once", "written": len(truth), "in_kafka": len(reader.arrived),
               "lost": len(lost), "duplicates": reader.duplicates,
               "recovery_s": round(max(delays), 1) if delays else None,
               "fault_s": round(t1 - t0, 1), "task_state": task.get("state"),
               "writer_errors": writer.errors, "detail": detail}
        if lost:
            row["lost_sample"] = sorted(lost)[:10]
        try:
            http(self.any_port(), "DELETE", f"/connectors/{cname}", timeout=30)
        except Exception:
            pass
        self.teardown()
        return row

    # -- the failures --------------------------------------------------------
    def fault_broker_kill(self, cname, topic, _):
        i = self.kafka.leader(topic)
        self.kafka.stop(i, kill=True)
        time.sleep(self.a.outage)
        self.kafka.start(i)
        poll_until("full replication", self.kafka.fully_replicated, 180, period=1)
        return f"killed broker {i + 1} (leader of {topic}-0), restarted after {self.a.outage} s"

    def fault_broker_rolling(self, *_):
        for i in range(3):
            self.kafka.stop(i)
            self.kafka.start(i)
            poll_until("full replication", self.kafka.fully_replicated, 180, period=1)
        return "stopped and restarted brokers 1, 2, 3 in turn, each back in sync before the next"

    def fault_worker_kill(self, cname, *_):
        w = self.running_on(cname)
        w.stop(kill=True)
        time.sleep(self.a.outage)
        w.start()
        poll_until("the task running again", lambda: self.running_on(cname), 120)
        return f"kill -9 of the worker on port {w.port} running the task, restarted after {self.a.outage} s"

    def fault_worker_stop(self, cname, *_):
        w = self.running_on(cname)
        w.signal(signal.SIGSTOP)
        time.sleep(self.a.freeze)
        w.signal(signal.SIGCONT)
        poll_until("the task running", lambda: self.running_on(cname), 120)
        return f"SIGSTOP of the worker on port {w.port} running the task for {self.a.freeze} s, then SIGCONT"

    def fault_worker_rolling(self, cname, *_):
        for w in list(self.workers):
            w.stop()
            w.start()
            poll_until("the task running", lambda: self.running_on(cname), 120)
        return "graceful restart of workers 1, 2, 3 in turn"

    def fault_db_restart(self, cname, *_):
        self.db.stop_server()
        time.sleep(self.a.outage)
        self.db.start_server()
        poll_until("the task running", lambda: self.running_on(cname), 120)
        return f"MariaDB shut down cleanly, started again after {self.a.outage} s"

    def fault_db_kill(self, cname, *_):
        self.db.stop_server(kill=True)
        time.sleep(self.a.outage)
        self.db.start_server()
        poll_until("the task running", lambda: self.running_on(cname), 120)
        return f"kill -9 of mariadbd, started again after {self.a.outage} s"

    def fault_disk_full(self, cname, topic, offsets_dir):
        w = self.workers[0]
        filler = os.path.join(offsets_dir, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k", "count=100000"],
                       capture_output=True)
        time.sleep(self.a.freeze)
        w.stop(kill=True)
        os.remove(filler)
        w.start()
        poll_until("the task running", lambda: self.running_on(cname), 120)
        return (f"the offset file's tmpfs filled for {self.a.freeze} s, then kill -9 of the"
                " worker, space freed, worker restarted")

    def fault_net_cut(self, cname, *_):
        w = self.running_on(cname)
        f = self.forwarders[self.workers.index(w)]
        f.cut()
        time.sleep(self.a.freeze)
        f.heal()
        poll_until("the task running", lambda: self.running_on(cname), 120)
        return f"worker on port {w.port} (running the task) cut from the 3 brokers for {self.a.freeze} s"


def table(rows):
    head = ("| scenario | mode | written | in Kafka | lost | duplicates | recovery (worst row"
            " delay, s) | task at end |\n|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['scenario']} | {r['mode']} | {r['written']:,} | {r['in_kafka']:,} | {r['lost']} |"
        f" {r['duplicates']:,} | {r['recovery_s']} | {r['task_state']} |\n" for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--kafka-libs", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--eos", action="store_true",
                    help="distributed workers with exactly.once.source.support=enabled")
    ap.add_argument("--rate", type=float, default=50, help="transactions per second")
    ap.add_argument("--batch", type=int, default=10, help="rows per transaction")
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--outage", type=float, default=10, help="seconds a killed part stays down")
    ap.add_argument("--freeze", type=float, default=25,
                    help="seconds of a SIGSTOP, a network cut or a full disk")
    ap.add_argument("--after", type=float, default=10, help="seconds of load after the fault")
    ap.add_argument("--drain", type=float, default=180,
                    help="seconds to wait for every row after the load stops")
    ap.add_argument("scenarios", nargs="*", default=SCENARIOS)
    a = ap.parse_args()
    bad = [s for s in a.scenarios if s not in SCENARIOS]
    if bad:
        sys.exit(f"unknown scenario(s) {bad}; known: {', '.join(SCENARIOS)}")
    if os.geteuid() != 0 and ({"net-cut", "disk-full"} & set(a.scenarios)):
        sys.exit("net-cut and disk-full need root (network namespaces, a tmpfs mount)")
    os.makedirs(a.workdir, exist_ok=True)
    rows = []
    started = time.time()
    with KafkaCluster(a.kafka_libs, a.workdir) as kafka, \
            PrivateMariaDB(a.workdir, "chaos", row_metadata=None) as db:
        db._client("-e", "CREATE DATABASE chaos")
        suite = Suite(a, kafka, db)
        try:
            for s in a.scenarios:
                note(f"scenario {s}")
                try:
                    row = suite.scenario(s)
                except Exception as e:  # one scenario's failure is a row, not the end
                    suite.teardown()
                    row = {"scenario": s, "mode": "exactly-once" if a.eos else "at-least-once",
                           "written": 0, "in_kafka": 0, "lost": "?", "duplicates": 0,
                           "recovery_s": None, "task_state": f"ERROR: {e}"}
                note(json.dumps(row))
                rows.append(row)
                with open(os.path.join(a.workdir, "results.jsonl"), "a") as f:
                    f.write(json.dumps(row) + "\n")
        finally:
            suite.teardown()
    print(table(rows))
    print(f"{len(rows)} scenario(s) in {time.time() - started:.0f} s;"
          f" Sluice {a.sluice}; {time.strftime('%Y-%m-%d')}")
    if any(r["lost"] != 0 for r in rows):
        sys.exit("chaos: rows were lost (or a scenario could not run); see above")


if __name__ == "__main__":
    main()
