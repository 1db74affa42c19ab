#!/usr/bin/python3
"""boto3's side of `make bench-peers`: the same work as `dynox bench`, written
the way a boto3 user would write it.

  put            Table.batch_writer() (25 items per BatchWriteItem, unprocessed
                 items re-sent by boto3), one writer per thread
  update_by_key  Table.update_item(), SET of the nine non-key attributes, in
                 --threads threads
  delete_by_key  Table.batch_writer().delete_item(), one writer per thread

Items are those of dynox's built-in bench model: id plus nine attributes,
about 150 bytes (--item-bytes pads `name` for larger items). Set-up (table,
loading the items an update or delete works on) and clean-up happen outside
the handshake: with --handshake the program prints "ready", waits for a line
on stdin, does the measured work, prints "done", waits for another line, and
prints "result {json}". The harness reads the process's CPU time in between.

Runs with Debian's python3-boto3 (/usr/bin/python3).
"""
import argparse
import json
import os
import sys
import threading
import time
from decimal import Decimal

import boto3
import botocore
from botocore.config import Config

COUNTRIES = ["DE", "FR", "US", "JP", "BR", "IN", "GB", "NG"]
PLANS = ["free", "standard", "premium", "business"]


def mix(x):
    x &= 0xFFFFFFFFFFFFFFFF
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 31
    return x


def attrs(i, version, pad):
    h = mix(i * 0x9E3779B97F4A7C15 + version)
    t = time.gmtime(1700000000 + (h >> 12) % 50000000)
    return {
        "name": "user-%07d" % (i % 10000000) + "x" * pad,
        "email": "user%07d@example.com" % ((h >> 8) % 10000000),
        "age": 18 + h % 70,
        "score": Decimal("%d.%02d" % ((h >> 16) % 100000, (h >> 40) % 100)),
        "active": bool((h >> 3) & 1),
        "country": COUNTRIES[(h >> 5) % 8],
        "plan": PLANS[(h >> 9) % 4],
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % (h % 1000),
        "version": version + 1,
    }


def key(tag, i):
    return {"id": "bench-%s-%010d" % (tag, i)}


def item(tag, i, version, pad):
    d = key(tag, i)
    d.update(attrs(i, version, pad))
    return d


def handshake(enabled, word):
    if enabled:
        sys.stdout.write(word + "\n")
        sys.stdout.flush()
        if not sys.stdin.readline():
            sys.exit(3)


def ensure_table(client, name):
    try:
        client.describe_table(TableName=name)
        return False
    except client.exceptions.ResourceNotFoundException:
        pass
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for _ in range(600):
        if client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    return True


def slices(n, threads):
    step = (n + threads - 1) // threads
    return [(s, min(n, s + step)) for s in range(0, n, step)]


def run_threads(fn, n, threads):
    errors = []

    def wrap(lo, hi):
        try:
            fn(lo, hi)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            errors.append(repr(e))

    ts = [threading.Thread(target=wrap, args=s) for s in slices(n, threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--op", required=True, choices=["put", "update_by_key", "delete_by_key"])
    p.add_argument("--items", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--retry-mode", default="legacy", choices=["legacy", "standard", "adaptive"])
    p.add_argument("--item-bytes", type=int, default=0)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--handshake", action="store_true")
    a = p.parse_args()

    cfg = Config(retries={"mode": a.retry_mode}, max_pool_connections=max(10, a.threads * 2))
    kw = dict(endpoint_url=a.endpoint, region_name="us-east-1", aws_access_key_id="x",
              aws_secret_access_key="y", config=cfg)
    client = boto3.client("dynamodb", **kw)
    table = boto3.resource("dynamodb", **kw).Table(a.table)
    tag = "%06d" % (100000 + int.from_bytes(os.urandom(4), "little") % 900000)
    pad = 0
    if a.item_bytes:
        base = 154  # the built-in model's mean size, as dynox counts it
        pad = max(0, a.item_bytes - base)

    created = ensure_table(client, a.table)
    if a.op != "put":  # the items to work on exist first, as with dynox bench
        def load(lo, hi):
            with table.batch_writer() as bw:
                for i in range(lo, hi):
                    bw.put_item(Item=item(tag, i, 0, pad))
        errs = run_threads(load, a.items, 4)
        if errs:
            print("loading failed: %s" % errs[0], file=sys.stderr)
            return 3

    names = {"#a%d" % k: n for k, n in enumerate(attrs(0, 0, 0))}
    expr = "SET " + ", ".join("#a%d = :v%d" % (k, k) for k in range(len(names)))

    def put(lo, hi):
        with table.batch_writer() as bw:
            for i in range(lo, hi):
                bw.put_item(Item=item(tag, i, 0, pad))

    def update(lo, hi):
        for i in range(lo, hi):
            vals = {":v%d" % k: v for k, v in enumerate(attrs(i, 1, pad).values())}
            table.update_item(Key=key(tag, i), UpdateExpression=expr,
                              ExpressionAttributeNames=names, ExpressionAttributeValues=vals)

    def delete(lo, hi):
        with table.batch_writer() as bw:
            for i in range(lo, hi):
                bw.delete_item(Key=key(tag, i))

    fn = {"put": put, "update_by_key": update, "delete_by_key": delete}[a.op]
    handshake(a.handshake, "ready")
    t0 = time.monotonic()
    errs = run_threads(fn, a.items, a.threads)
    secs = time.monotonic() - t0
    handshake(a.handshake, "done")
    if created and not a.keep:
        try:
            client.delete_table(TableName=a.table)
        except botocore.exceptions.ClientError:
            pass
    print("result " + json.dumps({"client": "boto3", "op": a.op, "items": a.items,
                                   "seconds": secs, "errors": errs[:3],
                                   "boto3": boto3.__version__,
                                   "botocore": botocore.__version__}))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
