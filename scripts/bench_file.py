"""FileStreamSource -> Kafka benchmark against a plain librdkafka producer.

Both send the same file's lines to fresh topics on the same broker in the
same run. Sluice's time runs from the connector's creation until its
committed source offset reaches the end of the file (offsets are committed
only after the broker acknowledged every line before them); the plain
producer's time is from its start until its last delivery report. Peak RSS
is the kernel's high-water mark (VmHWM) of each process.
"""
import argparse
import os
import subprocess
import sys
import time

from bench_support import free_port, http, vm_hwm_kb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--plain", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--worker-prop", action="append", default=[], help="extra worker property k=v")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    run = str(int(time.time()))
    data = os.path.join(a.workdir, f"lines-{a.lines}.txt")
    if not os.path.exists(data):
        with open(data, "w") as f:
            for i in range(a.lines):
                f.write(f"{i:09d} " + "abcdefghij" * 9 + "\n")  # 100 bytes a line
    size = os.path.getsize(data)
    # The broker here does not create topics on demand: make both alike.
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    for f in admin.create_topics([NewTopic(f"bench-{k}-{run}", 1, 1) for k in ("plain", "sluice")]).values():
        f.result(30)

    # Reference: plain librdkafka producer. wait4 gives this child's own
    # peak RSS (RUSAGE_CHILDREN would include the build that ran before).
    proc = subprocess.Popen([a.plain, a.bootstrap, f"bench-plain-{run}", data],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"plain producer failed: {err}")
    plain_rss_kb = usage.ru_maxrss
    fields = dict(kv.split("=") for kv in out.split())
    plain_secs = float(fields["seconds"])

    # Sluice standalone with the file source.
    port = free_port()
    worker = os.path.join(a.workdir, f"worker-{run}.properties")
    with open(worker, "w") as f:
        f.write(f"bootstrap.servers={a.bootstrap}\nlisteners=http://127.0.0.1:{port}\n"
                f"offset.storage.file.filename={a.workdir}/offsets-{run}\n"
                "offset.flush.interval.ms=100\n"
                "key.converter=org.apache.kafka.connect.storage.StringConverter\n"
                "value.converter=org.apache.kafka.connect.storage.StringConverter\n"
                + "".join(p + "\n" for p in a.worker_prop))
    log = open(os.path.join(a.workdir, f"sluice-{run}.log"), "w")
    p = subprocess.Popen([a.sluice, "standalone", worker], stdout=log, stderr=log)
    peak = 0
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
        t0 = time.monotonic()
        http(port, "POST", "/connectors", {"name": f"bench-{run}", "config": {
            "connector.class": "FileStreamSource", "file": data,
            "topic": f"bench-sluice-{run}", "batch.size": "10000"}})
        deadline = time.time() + 600
        while True:
            offs = http(port, "GET", f"/connectors/bench-{run}/offsets")["offsets"]
            if offs and offs[0]["offset"].get("position") == size:
                break
            if time.time() > deadline:
                sys.exit(f"sluice did not finish within 600 s: {offs}")
            time.sleep(0.02)
        sluice_secs = time.monotonic() - t0
        sluice_rss_kb = vm_hwm_kb(p.pid)
    finally:
        p.terminate()
        p.wait(30)

    n = a.lines
    print(f"lines={n} bytes={size}")
    print(f"plain librdkafka producer: {n / plain_secs:,.0f} records/s  ({plain_secs:.2f} s)  peak RSS {plain_rss_kb / 1024:.1f} MiB")
    print(f"sluice FileStreamSource:   {n / sluice_secs:,.0f} records/s  ({sluice_secs:.2f} s)  peak RSS {sluice_rss_kb / 1024:.1f} MiB")
    print(f"ratio sluice/plain throughput: {plain_secs / sluice_secs:.2f}")


if __name__ == "__main__":
    main()
