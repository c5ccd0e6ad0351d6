#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An example contest platform talking to gavel workers through Kafka.

Enqueues one job on gavel.jobs (a msgpack map, key = the submission id, see schema/README.md)
and waits for its verdict on gavel.verdicts, read with isolation.level=read_committed, so only a
verdict whose transaction committed is ever seen. Uses Debian's python3-confluent-kafka and
python3-msgpack, which install for /usr/bin/python3.

    /usr/bin/python3 ops/examples/client.py --brokers HOST:PORT --lang c \\
        --problem aplusb ops/examples/solutions/aplusb/ac.c
    /usr/bin/python3 ops/examples/client.py --brokers HOST:PORT --lang python3 \\
        --tests DIR --meta '{"user": 42}' solution.py

Prints the verdict as one JSON object; exit status 0 when it came (1 when it is not AC with
--strict), 2 for bad arguments, 3 when no verdict came in time.
"""
import argparse
import json
import os
import re
import sys
import time
import uuid

import msgpack
from confluent_kafka import OFFSET_END, Consumer, KafkaException, Producer, TopicPartition

JOBS, VERDICTS = "gavel.jobs", "gavel.verdicts"


def natural_key(name):
    """2.in before 10.in."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def read_tests(folder):
    """The N.in / N.ans (or N.out) pairs of a folder, in the order of N."""
    tests = []
    for name in sorted((n for n in os.listdir(folder) if n.endswith(".in")), key=natural_key):
        stem = os.path.join(folder, name[:-3])
        answer = stem + ".ans" if os.path.exists(stem + ".ans") else stem + ".out"
        with open(stem + ".in", "rb") as fin, open(answer, "rb") as fans:
            tests.append({"in": fin.read(), "out": fans.read()})
    if not tests:
        raise ValueError(f"{folder}: no N.in files")
    return tests


def make_job(args, source):
    job = {"v": 1, "id": args.id, "lang": args.lang, "source": source}
    if args.problem:
        job["problem"] = args.problem
    else:
        job["tests"] = read_tests(args.tests)
    limits = {k: v for k, v in (("time_ms", args.time_ms), ("memory_kib", args.memory_kib)) if v}
    if limits:
        job["limits"] = limits
    if args.meta:
        job["meta"] = json.loads(args.meta)  # echoed byte for byte in the verdict
    return job


def watch_verdicts(conf):
    """A consumer assigned every verdicts partition at its current end, before the enqueue."""
    consumer = Consumer({**conf, "group.id": "gavel-client", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    meta = consumer.list_topics(VERDICTS, timeout=10)
    if VERDICTS not in meta.topics or meta.topics[VERDICTS].error:
        raise KafkaException(f"topic {VERDICTS} does not exist")
    parts = []
    for p in meta.topics[VERDICTS].partitions:
        _, high = consumer.get_watermark_offsets(TopicPartition(VERDICTS, p), timeout=10)
        parts.append(TopicPartition(VERDICTS, p, high if high >= 0 else OFFSET_END))
    consumer.assign(parts)
    return consumer


def enqueue(conf, job):
    errors = []
    producer = Producer({**conf, "enable.idempotence": True})
    producer.produce(JOBS, key=job["id"].encode(), value=msgpack.packb(job, use_bin_type=True),
                     on_delivery=lambda err, _msg: err and errors.append(err))
    producer.flush(30)
    if errors or len(producer):
        raise KafkaException(f"job not delivered: {errors or 'timed out'}")


def wait_verdict(consumer, job_id, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.error():
            continue
        verdict = decode_verdict(msg.value(), msg.offset())
        if isinstance(verdict, dict) and verdict.get("id") == job_id:
            return verdict
    return None


def decode_verdict(value, offset=None):
    """A verdict message as a dict, or None; a message that does not decode is reported on
    stderr and skipped, never fatal: one bad message must not stop a platform's reader. A str
    that is not UTF-8 (gavel writes none; an older or foreign writer might) is reported and
    decoded with U+FFFD in place of the bad bytes."""
    where = f"verdict at offset {offset}" if offset is not None else "verdict"
    try:
        return msgpack.unpackb(value or b"", raw=False, strict_map_key=False)
    except UnicodeDecodeError as e:
        print(f"client.py: {where}: a str is not UTF-8 ({e}); decoded with U+FFFD",
              file=sys.stderr)
        failure = e
    except Exception as e:  # noqa: BLE001 -- any decoding failure is reported alike
        failure = e
    if isinstance(failure, UnicodeDecodeError):
        try:
            return msgpack.unpackb(value, raw=False, strict_map_key=False,
                                   unicode_errors="replace")
        except Exception as e:  # noqa: BLE001
            failure = e
    print(f"client.py: {where}: does not decode ({type(failure).__name__}: {failure}); skipped",
          file=sys.stderr)
    return None


def printable(value):
    """msgpack bytes (bin) as text when it is UTF-8, else a list of byte values."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return list(value)
    if isinstance(value, dict):
        return {str(k): printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable(v) for v in value]
    return value


def main():
    ap = argparse.ArgumentParser(description="enqueue a job for gavel and wait for its verdict")
    ap.add_argument("--brokers", required=True, help="bootstrap servers, host:port,...")
    ap.add_argument("--lang", required=True, help="language name in the workers' table")
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--problem", help="a problem of the workers' problem store")
    group.add_argument("--tests", help="a folder of N.in / N.ans pairs, sent inline")
    ap.add_argument("--id", default=None, help="submission id (default: random)")
    ap.add_argument("--time-ms", type=int, default=0)
    ap.add_argument("--memory-kib", type=int, default=0)
    ap.add_argument("--meta", help="a JSON value the verdict echoes")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait (default 120)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when the verdict is not AC")
    ap.add_argument("-X", action="append", default=[], metavar="NAME=VALUE",
                    help="a librdkafka property (security.protocol=sasl_ssl, ...)")
    ap.add_argument("source")
    args = ap.parse_args()

    conf = {"bootstrap.servers": args.brokers}
    for prop in args.X:
        name, sep, value = prop.partition("=")
        if not sep:
            ap.error(f"-X: expected NAME=VALUE, got {prop!r}")
        conf[name] = value
    args.id = args.id or f"py-{uuid.uuid4().hex[:12]}"
    try:
        with open(args.source, "rb") as f:
            source = f.read()
        job = make_job(args, source)
    except (OSError, ValueError) as e:
        print(f"client.py: {e}", file=sys.stderr)
        return 2

    consumer = watch_verdicts(conf)  # from before the enqueue: the verdict cannot slip by
    try:
        enqueue(conf, job)
        print(f"client.py: enqueued {args.id}", file=sys.stderr)
        verdict = wait_verdict(consumer, args.id, args.timeout)
    finally:
        consumer.close()
    if verdict is None:
        print(f"client.py: no verdict for {args.id} within {args.timeout} s", file=sys.stderr)
        return 3
    print(json.dumps(printable(verdict), sort_keys=True))
    return 1 if args.strict and verdict.get("verdict") != "AC" else 0


if __name__ == "__main__":
    sys.exit(main())
