# SPDX-License-Identifier: MIT
"""What ops/chaos and ops/bench-e2e share: an embedded broker process, worker processes with a
generated configuration, jobs produced as a platform would (msgpack on gavel.jobs, key = id) and
verdicts read as a platform would (read_committed). Runs with Debian's /usr/bin/python3 and its
python3-confluent-kafka and python3-msgpack."""
import os
import signal
import subprocess
import sys
import time

import msgpack
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

TOPICS = {"jobs": "gavel.jobs", "verdicts": "gavel.verdicts", "progress": "gavel.progress",
          "dlq": "gavel.jobs.dlq"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Broker:
    """`gavel broker` in the background; fault-injection commands go to its stdin."""

    def __init__(self, gavel, workdir, nodes=1, partitions=4):
        bootfile = os.path.join(workdir, "bootstrap")
        self.err = open(os.path.join(workdir, "broker.log"), "wb")
        self.proc = subprocess.Popen(
            [gavel, "broker", "--nodes", str(nodes), "--partitions", str(partitions),
             "--bootstrap-file", bootfile],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)
        self.bootstrap = self.proc.stdout.readline().decode().strip()
        if not self.bootstrap:
            raise RuntimeError(f"gavel broker did not start (see {self.err.name})")

    def command(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().decode().strip()
        if reply != "ok":
            raise RuntimeError(f"broker: {line}: {reply}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        self.err.close()


def write_config(path, brokers, slots, cache_dir, problems=None, session_ms=6000,
                 topics=TOPICS, group="gavel", props=()):
    lines = [f'brokers: "{brokers}"', f"group: {group}", f"slots: {slots}",
             f"session_timeout_ms: {session_ms}", "shutdown_grace_s: 20",
             f"cache_dir: {cache_dir}", "topics:"]
    lines += [f"  {k}: {v}" for k, v in topics.items()]
    if problems:
        lines.append(f"problems: {problems}")
    lines += ["kafka:", "  heartbeat.interval.ms: 1000"]
    lines += [f"  {name}: {value}" for name, value in props]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Worker:
    """`gavel worker --config ... --id ...` in the background, its log in a file."""

    def __init__(self, gavel, workdir, config, wid):
        self.gavel, self.config, self.wid = gavel, config, wid
        self.logpath = os.path.join(workdir, f"{wid}.log")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([self.gavel, "worker", "--config", self.config,
                                      "--id", self.wid], stdout=self.log, stderr=self.log)

    def assigned(self):
        with open(self.logpath, "rb") as f:
            return b"assigned" in f.read()

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        status = self.proc.wait(60)
        self.log.close()
        return status


def wait_assigned(workers, timeout=60):
    deadline = time.monotonic() + timeout
    while not all(w.assigned() for w in workers):
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not join the group in time")
        time.sleep(0.1)


def job(jid, lang, source, tests=None, problem=None):
    j = {"v": 1, "id": jid, "lang": lang, "source": source}
    if problem:
        j["problem"] = problem
    else:
        j["tests"] = [{"in": i, "out": o} for i, o in tests]
    return j


class Jobs:
    """An idempotent producer of jobs; remembers when each was enqueued."""

    def __init__(self, conf, topic=TOPICS["jobs"]):
        self.topic = topic
        self.producer = Producer({**conf, "enable.idempotence": True, "linger.ms": 2,
                                  "log_level": 4})
        self.enqueued = {}

    def send(self, j):
        self.enqueued[j["id"]] = time.monotonic()
        self.producer.produce(self.topic, key=j["id"].encode(),
                              value=msgpack.packb(j, use_bin_type=True))
        self.producer.poll(0)

    def flush(self):
        if self.producer.flush(30):
            raise KafkaException("jobs not delivered in 30 s")


class Verdicts:
    """A read_committed reader of every verdicts partition, from the start or the current end."""

    def __init__(self, conf, topic=TOPICS["verdicts"], from_end=True):
        self.consumer = Consumer({"fetch.wait.max.ms": 10, **conf, "group.id": "gavel-ops",
                                  "enable.auto.commit": False,
                                  "isolation.level": "read_committed", "log_level": 4})
        meta = self.consumer.list_topics(topic, timeout=10)
        if topic not in meta.topics or meta.topics[topic].error:
            raise KafkaException(f"topic {topic} does not exist")
        parts = []
        for p in meta.topics[topic].partitions:
            tp = TopicPartition(topic, p)
            if from_end:
                _, tp.offset = self.consumer.get_watermark_offsets(tp, timeout=10)
            else:
                tp.offset = OFFSET_BEGINNING
            parts.append(tp)
        self.consumer.assign(parts)

    def poll(self, timeout=0.1):
        """The next verdict as (dict, receive time), or None."""
        msg = self.consumer.poll(timeout)
        if msg is None or msg.error():
            return None
        return msgpack.unpackb(msg.value(), raw=False, strict_map_key=False), time.monotonic()

    def close(self):
        self.consumer.close()


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)
