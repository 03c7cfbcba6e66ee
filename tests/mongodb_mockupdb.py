"""A scripted mongod for tests/mongodb_mockupdb.rs (mockupdb, PyPI).

Serves what the Rust driver and Sluice's MongoDB connector ask a mongod
7.0 replica set member for, with replies in mongod's own format:

  --mode oplog          local.oplog.rs as mongod writes it: inserts,
                        $v:2 diff updates (u/i/d/s<field>, array diffs),
                        a legacy $v:1 $set update, a replacement, deletes,
                        an applyOps transaction (lsid, txnNumber), a
                        create command, noops; written two entries per
                        getMore while the connector tails (tailable find,
                        getMores, a plain catch-up find), with the
                        connection dropped once in the middle (the
                        connector must resume without loss or doubles),
                        and `find` by _id for update look-ups.
  --mode history-lost   every change stream `aggregate` fails with
                        mongod's error 286 (ChangeStreamHistoryLost).

Prints "READY <port>" on stdout once listening; logs requests to stderr.
Runs until killed.
"""

import argparse
import datetime
import sys
import threading
import time
import uuid

from bson import Binary, Int64, ObjectId, Timestamp
from bson.binary import UuidRepresentation
from mockupdb import MockupDB

T = 1_700_000_000


def ts(i):
    return Timestamp(T, i)


def wall(i):
    return datetime.datetime.fromtimestamp(T, datetime.timezone.utc) + datetime.timedelta(milliseconds=i)


UI = Binary.from_uuid(uuid.UUID(int=7), UuidRepresentation.STANDARD)
LSID = {
    "id": Binary.from_uuid(uuid.UUID(int=42), UuidRepresentation.STANDARD),
    "uid": Binary(b"\x01" * 32, 0),
}
A = ObjectId("65a000000000000000000001")


def entry(i, op, ns, o, **extra):
    e = {"op": op, "ns": ns, "ui": UI, "o": o, "ts": ts(i), "t": Int64(1), "v": Int64(2), "wall": wall(i)}
    e.update(extra)
    return e


def noop(i):
    return {"op": "n", "ns": "", "o": {"msg": "periodic noop"}, "ts": ts(i), "t": Int64(1), "v": Int64(2), "wall": wall(i)}


# The oplog, as a mongod 7.0 primary writes it.
OPLOG = [
    noop(1),
    entry(2, "i", "shop.orders", {"_id": A, "item": "apple", "qty": 1, "tags": ["x", "y"]}, o2={"_id": A}),
    entry(3, "i", "shop.orders", {"_id": 2, "item": "pear", "qty": 5, "addr": {"city": "Oslo", "zip": "0150"}}, o2={"_id": 2}),
    entry(4, "u", "shop.orders", {"$v": 2, "diff": {"u": {"qty": 3}, "i": {"note": "n"}, "stags": {"a": True, "u1": "z"}}}, o2={"_id": A}),
    entry(5, "c", "shop.$cmd", {"create": "lines", "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}),
    {
        "lsid": LSID, "txnNumber": Int64(7), "op": "c", "ns": "admin.$cmd",
        "o": {"applyOps": [
            {"op": "i", "ns": "shop.lines", "ui": UI, "o": {"_id": 3, "sku": "c-1"}, "o2": {"_id": 3}},
            {"op": "u", "ns": "shop.orders", "ui": UI, "o": {"$v": 2, "diff": {"saddr": {"u": {"city": "Bergen"}, "d": {"zip": False}}}}, "o2": {"_id": 2}},
            {"op": "d", "ns": "shop.orders", "ui": UI, "o": {"_id": 99}},
        ]},
        "ts": ts(6), "t": Int64(1), "v": Int64(2), "wall": wall(6),
        "prevOpTime": {"ts": Timestamp(0, 0), "t": Int64(-1)},
    },
    noop(7),
    entry(8, "u", "shop.orders", {"$v": 1, "$set": {"qty": 6}}, o2={"_id": 2}),
    entry(9, "u", "shop.lines", {"_id": 3, "sku": "c-2"}, o2={"_id": 3}),
    entry(10, "d", "shop.orders", {"_id": A}),
    entry(11, "i", "other.x", {"_id": 1}, o2={"_id": 1}),
    entry(12, "i", "shop.orders", {"_id": 4, "item": "sentinel"}, o2={"_id": 4}),
]

# The documents as they are after the whole oplog (update look-ups).
DOCS = {
    ("shop", "orders"): {2: {"_id": 2, "item": "pear", "qty": 6, "addr": {"city": "Bergen"}},
                         4: {"_id": 4, "item": "sentinel"}},
    ("shop", "lines"): {3: {"_id": 3, "sku": "c-2"}},
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Oplog:
    """A live oplog: entries become visible two per getMore (as if written
    meanwhile); tailable cursors remember their place; one getMore is
    answered by dropping the connection."""

    def __init__(self):
        self.lock = threading.Lock()
        self.visible = 1
        self.cursors = {}
        self.next_id = 1000
        self.getmores = 0
        self.hung_up = False

    def select(self, flt, after=None):
        cond = flt.get("ts", {})
        out = []
        for e in OPLOG[: self.visible]:
            if "$gte" in cond and not e["ts"] >= cond["$gte"]:
                continue
            if "$gt" in cond and not e["ts"] > cond["$gt"]:
                continue
            if after is not None and not e["ts"] > after:
                continue
            out.append(e)
        return out

    def reply(self, r, cid, key, batch):
        return r.replies({"cursor": {"id": Int64(cid), "ns": "local.oplog.rs", key: batch}})

    def find(self, r):
        doc = r.doc
        with self.lock:
            if doc.get("limit") == 1 and "sort" in doc:
                edge = OPLOG[self.visible - 1] if doc["sort"].get("$natural") == -1 else OPLOG[0]
                return self.reply(r, 0, "firstBatch", [edge])
            rest = self.select(doc.get("filter", {}))
            if not doc.get("tailable"):
                return self.reply(r, 0, "firstBatch", rest)
            cid = self.next_id
            self.next_id += 1
            batch = rest[:2]
            last = batch[-1]["ts"] if batch else doc.get("filter", {}).get("ts", {}).get("$gt", Timestamp(0, 0))
            self.cursors[cid] = (doc.get("filter", {}), last)
        return self.reply(r, cid, "firstBatch", batch)

    def get_more(self, r):
        cid = int(r.doc["getMore"])
        with self.lock:
            self.getmores += 1
            self.visible = min(len(OPLOG), self.visible + 2)
            if self.getmores == 2 and not self.hung_up:
                self.hung_up = True
                log("hanging up on getMore", cid)
                return r.hangup()
            flt, last = self.cursors.get(cid, ({}, Timestamp(0, 0)))
            batch = self.select(flt, after=last)[:2]
            if batch:
                self.cursors[cid] = (flt, batch[-1]["ts"])
        if not batch:
            time.sleep(min(int(r.doc.get("maxTimeMS", 100)), 200) / 1000)
        return self.reply(r, cid, "nextBatch", batch)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["oplog", "history-lost"], required=True)
    a = p.parse_args()
    me = "127.0.0.1:%d" % a.port
    server = MockupDB(port=a.port, max_wire_version=21, min_wire_version=0, request_timeout=3600)
    oplog = Oplog()

    def hello():
        return {
            "ismaster": True, "isWritablePrimary": True, "helloOk": True, "secondary": False,
            "setName": "rs0", "setVersion": 1, "hosts": [me], "primary": me, "me": me,
            "electionId": ObjectId("7fffffff0000000000000001"),
            "maxBsonObjectSize": 16777216, "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000,
            "localTime": datetime.datetime.now(datetime.timezone.utc), "logicalSessionTimeoutMinutes": 30,
            "connectionId": 1, "minWireVersion": 0, "maxWireVersion": 21, "readOnly": False,
        }

    def handle(r):
        name = (r.command_name or "").lower()
        doc = r.doc
        if name in ("ismaster", "hello"):
            return r.replies(hello())
        if name != "getmore":
            log("request", r)
        if name in ("endsessions", "killcursors", "ping"):
            return r.ok()
        if a.mode == "history-lost":
            if name == "aggregate":
                return r.command_err(
                    code=286,
                    errmsg="Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
                    codeName="ChangeStreamHistoryLost",
                )
            return r.command_err(code=59, errmsg="no such command: '%s'" % name, codeName="CommandNotFound")
        if name == "find" and doc["find"] == "oplog.rs":
            return oplog.find(r)
        if name == "getmore":
            return oplog.get_more(r)
        if name == "find":
            coll = DOCS.get((r.namespace, doc["find"]), {})
            ids = doc.get("filter", {}).get("_id", {}).get("$in", [])
            found = [coll[i] for i in ids if i in coll]
            return r.replies({"cursor": {"id": Int64(0), "ns": "%s.%s" % (r.namespace, doc["find"]), "firstBatch": found}})
        return r.command_err(code=59, errmsg="no such command: '%s'" % name, codeName="CommandNotFound")

    server.autoresponds(handle)
    server.run()
    print("READY %d" % server.port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
