"""Small Kafka CLI for Sluice tests and demos (run it as scripts/kafka).

Uses confluent-kafka, whose wheel bundles a librdkafka new enough for Kafka 4.x
(Debian's kcat/librdkafka 2.0 is not). Bootstrap: --bootstrap, else $SLUICE_KAFKA_BOOTSTRAP,
else 127.0.0.1:$SLUICE_KAFKA_PORT (default 9092).

  scripts/kafka topics [-v]
  scripts/kafka create TOPIC [--partitions N] [--compact] [--config K=V]... [--if-not-exists]
  scripts/kafka consume TOPIC [--from-beginning] [--max N] [--timeout S] [--eof]
                              [--keys] [--headers] [--json] [--group G]
  scripts/kafka produce TOPIC [--keys] [--header K=V]...     (one message per stdin line)
  scripts/kafka offsets TOPIC                                (low/high watermark per partition)
  scripts/kafka ping [--timeout S]                           (exit 0 when a metadata request works)
  scripts/kafka record-limit SIZE[,SIZE...] [--compression C] [--timeout S]
                              (does a record of key + value SIZE bytes come back? see below)

Text output of consume: one line per message, TAB-separated: [key] value [headers].
A byte string prints as UTF-8 text when it decodes and has no TAB/CR/LF, otherwise as
`hex:` + hex digits; a null key/value (tombstone) prints as `<null>`. Headers print as
`name=value,name=value`. Use --json for an unambiguous form (one JSON object a line).
produce reads the same text form: with --keys each line is `key<TAB>value`; a value (or
key) of exactly `<null>` is sent as null, so tombstones can be produced.

record-limit creates a fresh topic per size (max.message.bytes=1000000000), produces
a record whose key + value is SIZE bytes and a small one after it, and reads the topic
back with default consumer settings: it prints whether each came back. It measures
the largest record a broker delivers (the test broker: message.max.bytes = 64 MiB).
"""

import argparse
import json
import os
import sys
import time

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

NULL = "<null>"


def bootstrap_default():
    env = os.environ.get("SLUICE_KAFKA_BOOTSTRAP")
    if env:
        return env
    return "127.0.0.1:" + os.environ.get("SLUICE_KAFKA_PORT", "9092")


def render(b):
    """Bytes -> one TAB/line-safe text field (see module doc)."""
    if b is None:
        return NULL
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + b.hex()
    if any(c in s for c in "\t\r\n") or s == NULL or s.startswith("hex:"):
        return "hex:" + b.hex()
    return s


def parse_field(s):
    """Inverse of render() for produce input."""
    if s == NULL:
        return None
    if s.startswith("hex:"):
        try:
            return bytes.fromhex(s[4:])
        except ValueError:
            pass
    return s.encode("utf-8")


def _payload(b):
    """A JSON converter record's payload (with or without its schema), or None."""
    if b is None:
        return None
    try:
        doc = json.loads(b)
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(doc, dict) and "payload" in doc and "schema" in doc:
        return doc["payload"]
    return doc


def _fields(row):
    return " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in row.items())


def digest(key, value):
    """One readable line for a Debezium change event: op, key, and the columns
    it set (c, r), changed (u: old -> new) or removed (d); a tombstone says so."""
    k = _payload(key)
    ktext = _fields(k) if isinstance(k, dict) else render(key)
    if value is None:
        return f"tombstone  {ktext}"
    v = _payload(value)
    if not isinstance(v, dict) or "op" not in v:
        return f"?  {ktext}  {render(value)}"
    op, before, after = v.get("op"), v.get("before") or {}, v.get("after") or {}
    keys = set(k) if isinstance(k, dict) else set()
    if op in ("c", "r"):
        cols = {c: x for c, x in after.items() if c not in keys}
        return f"{op}  {ktext}  {_fields(cols)}"
    if op == "u":
        changed = [c for c in after if before.get(c) != after.get(c)]
        text = ", ".join(
            f"{c}: {json.dumps(before.get(c), ensure_ascii=False)} -> {json.dumps(after.get(c), ensure_ascii=False)}"
            for c in changed)
        return f"u  {ktext}  {text or '(no column changed)'}"
    if op == "d":
        return f"d  {ktext}  (was {_fields({c: x for c, x in before.items() if c not in keys})})"
    return f"{op}  {ktext}"


def json_bytes(b):
    if b is None:
        return None
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": b.hex()}


def admin(args, quiet=False):
    conf = {"bootstrap.servers": args.bootstrap}
    if quiet:
        conf["log_level"] = 0  # no "Connection refused" noise while polling for readiness
    return AdminClient(conf)


def topic_partitions(args, topic, timeout=10):
    md = admin(args).list_topics(topic=topic, timeout=timeout)
    t = md.topics.get(topic)
    if t is None or t.error is not None or not t.partitions:
        err = t.error if t is not None else "not found"
        sys.exit(f"kafka: topic {topic!r} is not available ({err}); create it with: scripts/kafka create {topic}")
    return sorted(t.partitions)


def wait_for_topic(args, topic, timeout):
    """The topic's partitions once it exists (a connector creates its topics
    on its first record), polling until `timeout` seconds have passed."""
    deadline = time.monotonic() + (timeout if timeout is not None else 0)
    client = admin(args)
    while True:
        md = client.list_topics(topic=topic, timeout=10)
        t = md.topics.get(topic)
        if t is not None and t.error is None and t.partitions:
            return sorted(t.partitions)
        if time.monotonic() >= deadline:
            return topic_partitions(args, topic)  # exits naming the problem
        time.sleep(0.2)


def cmd_ping(args):
    try:
        md = admin(args, quiet=True).list_topics(timeout=args.timeout)
    except KafkaException as e:
        print(f"kafka: {args.bootstrap} not reachable: {e}", file=sys.stderr)
        return 1
    if len(md.brokers) < args.brokers:
        print(f"kafka: {args.bootstrap} answers with {len(md.brokers)} of {args.brokers} brokers", file=sys.stderr)
        return 1
    print(f"ok {args.bootstrap} cluster_id={md.cluster_id} brokers={len(md.brokers)} topics={len(md.topics)}")
    return 0


def cmd_topics(args):
    md = admin(args).list_topics(timeout=args.timeout)
    for name in sorted(md.topics):
        if args.verbose:
            print(f"{name}\tpartitions={len(md.topics[name].partitions)}")
        else:
            print(name)
    return 0


def cmd_create(args):
    config = {}
    for kv in args.config:
        k, sep, v = kv.partition("=")
        if not sep:
            sys.exit(f"kafka: --config wants K=V, got {kv!r}")
        config[k] = v
    if args.compact:
        config["cleanup.policy"] = "compact"
    nt = NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1, config=config)
    client = admin(args)  # keep a reference: a collected client cancels the request
    fut = client.create_topics([nt], request_timeout=args.timeout)[args.topic]
    try:
        fut.result()
    except KafkaException as e:
        if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
            print(f"topic {args.topic} already exists", file=sys.stderr)
            return 0 if args.if_not_exists else 1
        print(f"kafka: create {args.topic} failed: {e}", file=sys.stderr)
        return 1
    print(f"created {args.topic} partitions={args.partitions}" + (" " + json.dumps(config) if config else ""))
    return 0


def cmd_offsets(args):
    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "sluice-cli-offsets"})
    try:
        for p in topic_partitions(args, args.topic, args.timeout):
            lo, hi = c.get_watermark_offsets(TopicPartition(args.topic, p), timeout=args.timeout)
            print(f"{args.topic}\t{p}\t{lo}\t{hi}")
    finally:
        c.close()
    return 0


def cmd_consume(args):
    conf = {
        "bootstrap.servers": args.bootstrap,
        "enable.partition.eof": args.eof,
        "auto.offset.reset": "earliest" if args.from_beginning else "latest",
    }
    if args.group:
        conf.update({"group.id": args.group, "enable.auto.commit": True})
    else:
        # No group: read the partitions directly (no join/rebalance, commits nothing).
        # librdkafka still wants a group.id to exist.
        conf.update({"group.id": f"sluice-cli-{os.getpid()}", "enable.auto.commit": False})
    c = Consumer(conf)
    count = 0
    try:
        if args.group:
            c.subscribe([args.topic])
            remaining_eof = None
        else:
            parts = wait_for_topic(args, args.topic, args.timeout)
            start = OFFSET_BEGINNING if args.from_beginning else OFFSET_END
            c.assign([TopicPartition(args.topic, p, start) for p in parts])
            remaining_eof = set(parts)
        last = time.monotonic()
        while args.max is None or count < args.max:
            if args.timeout is not None and time.monotonic() - last >= args.timeout:
                break
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    if remaining_eof is not None:
                        remaining_eof.discard(msg.partition())
                        if not remaining_eof:
                            break
                    continue
                print(f"kafka: {msg.error()}", file=sys.stderr)
                continue
            last = time.monotonic()
            count += 1
            headers = msg.headers() or []
            if args.json:
                ts_type, ts = msg.timestamp()
                print(json.dumps({
                    "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
                    "timestamp": ts, "key": json_bytes(msg.key()), "value": json_bytes(msg.value()),
                    "headers": [[k, json_bytes(v)] for k, v in headers],
                }, ensure_ascii=False), flush=True)
                continue
            if args.digest:
                print(digest(msg.key(), msg.value()), flush=True)
                continue
            fields = []
            if args.keys:
                fields.append(render(msg.key()))
            fields.append(render(msg.value()))
            if args.headers:
                fields.append(",".join(f"{k}={render(v)}" for k, v in headers))
            print("\t".join(fields), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        c.close()
    if args.max is not None and count < args.max:
        print(f"kafka: got {count} of {args.max} messages", file=sys.stderr)
        return 1
    return 0


def cmd_produce(args):
    headers = []
    for kv in args.header:
        k, sep, v = kv.partition("=")
        if not sep:
            sys.exit(f"kafka: --header wants K=V, got {kv!r}")
        headers.append((k, v.encode("utf-8")))
    # Fail fast on a missing topic instead of retrying for minutes (or auto-creating it).
    topic_partitions(args, args.topic)
    p = Producer({
        "bootstrap.servers": args.bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": int(args.timeout * 1000),
    })
    failed = []
    sent = 0

    def on_delivery(err, _msg):
        if err is not None:
            failed.append(err)

    for raw in sys.stdin.buffer:
        line = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="surrogateescape")
        key = None
        if args.keys:
            k, sep, line = line.partition("\t")
            if not sep:
                sys.exit(f"kafka: --keys expects key<TAB>value lines, got {raw!r}")
            key = parse_field(k)
        value = parse_field(line)
        while True:
            try:
                p.produce(args.topic, value=value, key=key, headers=headers or None, on_delivery=on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain
                p.poll(0.1)
        sent += 1
        p.poll(0)
    left = p.flush(args.timeout)
    if failed or left:
        print(f"kafka: {len(failed)} failed, {left} undelivered of {sent}; first error: {failed[:1]}", file=sys.stderr)
        return 1
    print(f"produced {sent} messages to {args.topic}", file=sys.stderr)
    return 0


def cmd_record_limit(args):
    from confluent_kafka.admin import AdminClient, NewTopic

    adm = AdminClient({"bootstrap.servers": args.bootstrap, "log_level": 3})
    run = f"{os.getpid()}-{int(time.time())}"
    for size in [int(x) for x in args.sizes.split(",")]:
        topic = f"record-limit-{args.compression}-{size}-{run}"
        adm.create_topics([NewTopic(topic, 1, 1, config={"max.message.bytes": "1000000000"})])[topic].result()
        p = Producer({"bootstrap.servers": args.bootstrap, "message.max.bytes": max(size + 100_000, 1_000_000),
                      "compression.type": args.compression, "enable.idempotence": True, "log_level": 3})
        acks = []
        value = (b"0123456789abcdef" * (size // 16 + 1))[: size - 1]
        p.produce(topic, key=b"k", value=value, on_delivery=lambda e, m: acks.append(e))
        p.produce(topic, key=b"n", value=b"next", on_delivery=lambda e, m: acks.append(e))
        p.flush(60)
        c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": f"record-limit-{run}",
                      "auto.offset.reset": "earliest", "log_level": 3})
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got = {}
        end = time.time() + args.timeout
        while time.time() < end and len(got) < 2:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got[m.key()] = len(m.key()) + len(m.value())
        c.close()
        acked = all(e is None for e in acks) and len(acks) == 2
        big = "yes" if got.get(b"k") == size else "no"
        nxt = "yes" if b"n" in got else "no"
        print(f"key+value={size} compression={args.compression} acked={'yes' if acked else 'no'} "
              f"delivered={big} next_record_delivered={nxt}", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(prog="scripts/kafka", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", default=bootstrap_default(), help="host:port (default %(default)s)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("ping", help="exit 0 when the broker answers a metadata request")
    s.add_argument("--timeout", type=float, default=2.0)
    s.add_argument("--brokers", type=int, default=1, help="fail unless at least N brokers are up")
    s.set_defaults(fn=cmd_ping)

    s = sub.add_parser("topics", help="list topics")
    s.add_argument("-v", "--verbose", action="store_true", help="also show partition counts")
    s.add_argument("--timeout", type=float, default=10.0)
    s.set_defaults(fn=cmd_topics)

    s = sub.add_parser("create", help="create a topic (replication factor 1)")
    s.add_argument("topic")
    s.add_argument("--partitions", type=int, default=1)
    s.add_argument("--compact", action="store_true", help="cleanup.policy=compact")
    s.add_argument("--config", action="append", default=[], metavar="K=V", help="topic config, repeatable")
    s.add_argument("--if-not-exists", action="store_true", help="exit 0 when the topic already exists")
    s.add_argument("--timeout", type=float, default=15.0)
    s.set_defaults(fn=cmd_create)

    s = sub.add_parser("offsets", help="print topic, partition, low and high watermark")
    s.add_argument("topic")
    s.add_argument("--timeout", type=float, default=10.0)
    s.set_defaults(fn=cmd_offsets)

    s = sub.add_parser("consume", help="print messages, one a line")
    s.add_argument("topic")
    s.add_argument("--from-beginning", action="store_true", help="start at the earliest offset (default: latest)")
    s.add_argument("--max", type=int, help="stop after N messages (exit 1 if fewer arrived)")
    s.add_argument("--timeout", type=float, help="stop after S seconds without a new message (and wait up to S seconds for the topic to exist)")
    s.add_argument("--eof", action="store_true", help="stop at the end of every partition")
    s.add_argument("--keys", action="store_true", help="print key<TAB>value")
    s.add_argument("--headers", action="store_true", help="append a TAB and name=value,... headers")
    s.add_argument("--json", action="store_true", help="one JSON object per message")
    s.add_argument("--digest", action="store_true",
                   help="Debezium change events as one readable line each: op, key, the columns set or changed")
    s.add_argument("--group", help="consume as this consumer group (subscribe + commit)")
    s.set_defaults(fn=cmd_consume)

    s = sub.add_parser("produce", help="send each stdin line as one message")
    s.add_argument("topic")
    s.add_argument("--keys", action="store_true", help="lines are key<TAB>value")
    s.add_argument("--header", action="append", default=[], metavar="K=V", help="header on every message, repeatable")
    s.add_argument("--timeout", type=float, default=30.0, help="delivery timeout in seconds")
    s.set_defaults(fn=cmd_produce)

    s = sub.add_parser("record-limit", help="does a record of SIZE bytes come back from the broker?")
    s.add_argument("sizes", metavar="SIZE[,SIZE...]", help="key + value bytes, comma-separated")
    s.add_argument("--compression", default="none", help="producer compression.type (default none)")
    s.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the records")
    s.set_defaults(fn=cmd_record_limit)

    args = ap.parse_args()
    try:
        return args.fn(args)
    except KafkaException as e:
        print(f"kafka: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
