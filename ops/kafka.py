# SPDX-License-Identifier: MIT
"""ops/kafka: a real Apache Kafka cluster (KRaft) on this machine, run through ops/kafka.

Fetches Apache Kafka's jars from Maven Central once (ops/kafka-pom.xml, into
~/.cache/gavel/kafka-<version>) and runs 1 or 3 combined broker+controller nodes on loopback
(or, for ops/fleet, each in a network namespace of its own). The cluster's state (nodes, pids,
ports) is kept in its folder (--dir, default /tmp/gavel-kafka), so that later commands find it:

  ops/kafka start --nodes 1|3 [--dir D] [--version V] [--partitions 4]
  ops/kafka stop | status | bootstrap [--dir D]
  ops/kafka kill N | restart N | pause N | resume N [--dir D]     (node numbers 1..nodes)
  ops/kafka topics [--reset] NAME:PARTITIONS... [--dir D]
  ops/kafka leader TOPIC PARTITION | coordinator TRANSACTIONAL_ID [--dir D]  (prints a node)
  ops/kafka fetch [--version V]

`start` formats the storage, starts the nodes with free ports, creates gavel's four topics
(replication factor = nodes; min.insync.replicas = 2 on three nodes, and the transaction state
log likewise), checks a transaction end to end through librdkafka (the client gavel uses), and
prints the bootstrap address, which it also writes to D/bootstrap.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

DEFAULT_VERSION = "4.0.1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POM = os.path.join(ROOT, "ops", "kafka-pom.xml")
TOPICS = ["gavel.jobs", "gavel.verdicts", "gavel.progress", "gavel.jobs.dlq"]
INTERNAL_PARTITIONS = 8  # of __consumer_offsets and __transaction_state: quick to create
JVM = ["-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
       "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
       "-Dorg.slf4j.simpleLogger.showDateTime=true",
       "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
       "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.clients=warn",
       "-Dorg.slf4j.simpleLogger.log.kafka.request.logger=warn",
       "-Dorg.slf4j.simpleLogger.log.state.change.logger=warn"]


class Fail(Exception):
    pass


def say(msg):
    print(f"ops/kafka: {msg}", file=sys.stderr, flush=True)


# ---- the jars ------------------------------------------------------------------------------

def cache_dir(version):
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gavel", f"kafka-{version}")


def need(program, package):
    if not shutil.which(program):
        raise Fail(f"{program} not found: Apache Kafka needs Java 17 and Maven "
                   f"(apt-get install {package})")


def fetch(version):
    """The folder of Kafka's jars, fetched with Maven the first time."""
    need("java", "openjdk-17-jre-headless")
    jars = cache_dir(version)
    if os.path.exists(os.path.join(jars, ".complete")):
        return jars
    need("mvn", "maven")
    tmp = jars + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"fetching Apache Kafka {version} from Maven Central into {jars}")
    r = subprocess.run(["mvn", "-B", "-q", "-f", POM, "dependency:copy-dependencies",
                        f"-Dkafka.version={version}", f"-DoutputDirectory={tmp}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or not os.path.exists(os.path.join(tmp, f"kafka_2.13-{version}.jar")):
        tail = "\n".join(r.stdout.strip().splitlines()[-8:])
        raise Fail(f"cannot fetch Apache Kafka {version} (org.apache.kafka:kafka_2.13:{version}) "
                   f"from Maven Central: mvn dependency:copy-dependencies failed:\n{tail}")
    open(os.path.join(tmp, ".complete"), "w").close()
    shutil.rmtree(jars, ignore_errors=True)
    os.rename(tmp, jars)
    return jars


# ---- the cluster's state -------------------------------------------------------------------

def state_path(d):
    return os.path.join(d, "cluster.json")


def load(d):
    try:
        with open(state_path(d)) as f:
            return json.load(f)
    except FileNotFoundError:
        raise Fail(f"no cluster in {d} (ops/kafka start --dir {d})") from None


def save(d, st):
    tmp = state_path(d) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1)
    os.rename(tmp, state_path(d))


def alive(node):
    """Whether the node's JVM runs (the pid is checked against its command line)."""
    pid = node.get("pid")
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
        with open(f"/proc/{pid}/stat") as f:
            zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
    return node["props"].encode() in cmd and not zombie


def paused(node):
    try:
        with open(f"/proc/{node['pid']}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def wait_gone(node, timeout):
    end = time.monotonic() + timeout
    while alive(node):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def free_port(host):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bootstrap(st):
    return ",".join(f"{n['host']}:{n['port']}" for n in st["nodes"])


def node_of(st, n):
    if not 1 <= n <= len(st["nodes"]):
        raise Fail(f"no node {n}: the cluster has nodes 1..{len(st['nodes'])}")
    return st["nodes"][n - 1]


# ---- starting ------------------------------------------------------------------------------

def properties(st, node):
    n = len(st["nodes"])
    isr = min(2, n)
    voters = ",".join(f"{x['id']}@{x['host']}:{x['cport']}" for x in st["nodes"])
    props = {
        "process.roles": "broker,controller",
        "node.id": node["id"],
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{node['host']}:{node['port']},"
                     f"CONTROLLER://{node['host']}:{node['cport']}",
        "advertised.listeners": f"PLAINTEXT://{node['host']}:{node['port']}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": node["data"],
        "num.partitions": st["partitions"],
        "default.replication.factor": n,
        "min.insync.replicas": isr,
        "offsets.topic.replication.factor": n,
        "offsets.topic.num.partitions": INTERNAL_PARTITIONS,
        "transaction.state.log.replication.factor": n,
        "transaction.state.log.min.isr": isr,
        "transaction.state.log.num.partitions": INTERNAL_PARTITIONS,
        "group.initial.rebalance.delay.ms": 0,
        "group.min.session.timeout.ms": 1000,
        "auto.create.topics.enable": "false",
        "unclean.leader.election.enable": "false",
        "num.network.threads": 2,
        "num.io.threads": 2,
        "num.replica.fetchers": 1,
        "background.threads": 2,
        "log.cleaner.threads": 1,
        # a dead node is fenced (its leaderships and ISR places move) after 6 s
        "broker.session.timeout.ms": 6000,
        "broker.heartbeat.interval.ms": 1000,
        "replica.lag.time.max.ms": 10000,
    }
    with open(node["props"], "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in props.items()))


def launch(st, node):
    cmd = ["java", *JVM, "-cp", os.path.join(st["jars"], "*"), "kafka.Kafka", node["props"]]
    if node.get("netns"):
        cmd = ["ip", "netns", "exec", node["netns"], *cmd]
    with open(node["log"], "ab") as log:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             start_new_session=True)
    node["pid"] = p.pid


def log_tail(node, lines=15):
    try:
        with open(node["log"], errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def admin(st, timeout=10):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": bootstrap(st), "log_level": 0,
                        "socket.timeout.ms": timeout * 1000})


def wait_brokers(st, want, timeout):
    """Until the metadata lists the brokers of want (node ids) and every partition has a leader."""
    end = time.monotonic() + timeout
    a = admin(st)
    while True:
        for node in st["nodes"]:
            if node["id"] in want and not alive(node):
                raise Fail(f"node {node['id']} exited:\n{log_tail(node)}")
        try:
            md = a.list_topics(timeout=5)
            ids = set(md.brokers)
            leaders = all(p.leader >= 0 for t in md.topics.values() for p in t.partitions.values())
            if want <= ids and leaders:
                return
        except Exception:  # not up yet
            pass
        if time.monotonic() > end:
            raise Fail(f"nodes {sorted(want)} did not come up in {timeout} s (logs: "
                       f"{', '.join(n['log'] for n in st['nodes'])})")
        time.sleep(0.3)


def create_topics(st, specs, reset=False):
    from confluent_kafka.admin import NewTopic
    n = len(st["nodes"])
    a = admin(st)
    names = [name for name, _ in specs]
    if reset:
        existing = set(a.list_topics(timeout=10).topics)
        gone = [t for t in names if t in existing]
        if gone:
            for t, f in a.delete_topics(gone, operation_timeout=30).items():
                f.result()
            end = time.monotonic() + 30
            while set(gone) & set(a.list_topics(timeout=10).topics):
                if time.monotonic() > end:
                    raise Fail(f"topics {gone} were not deleted in 30 s")
                time.sleep(0.2)
    conf = {"min.insync.replicas": str(min(2, n))}
    new = [NewTopic(name, num_partitions=parts, replication_factor=n, config=conf)
           for name, parts in specs]
    end = time.monotonic() + 60
    while new:
        futures = a.create_topics(new, operation_timeout=30)
        retry = []
        for t in new:
            try:
                futures[t.topic].result()
            except Exception as e:
                err = e.args[0] if e.args else None
                code = err.name() if hasattr(err, "name") else str(e)
                if code == "TOPIC_ALREADY_EXISTS" and not reset:
                    continue
                if time.monotonic() > end:
                    raise Fail(f"cannot create topic {t.topic}: {e}")
                retry.append(t)  # e.g. a deleted topic of that name not gone everywhere yet
        new = retry
        if new:
            time.sleep(0.5)
    # until every partition of them has a leader and a full ISR
    end = time.monotonic() + 60
    while True:
        md = a.list_topics(timeout=10)
        ok = all(name in md.topics and not md.topics[name].error and
                 len(md.topics[name].partitions) == parts and
                 all(p.leader >= 0 and len(p.isrs) == n
                     for p in md.topics[name].partitions.values())
                 for name, parts in specs)
        if ok:
            return
        if time.monotonic() > end:
            raise Fail(f"topics {names} have no leaders after 60 s")
        time.sleep(0.2)


def selfcheck(st):
    """A transaction end to end with librdkafka, as gavel's worker does one: a group consumer
    reads a message, a transactional producer writes an answer and sends the consumer's offset
    with the group's metadata, commits; a read_committed reader sees the answer and the group
    the offset. Brokers whose protocol librdkafka 2.0.2 cannot speak fail here."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    b = bootstrap(st)
    t_in, t_out = "gavel.selfcheck.in", "gavel.selfcheck.out"
    create_topics(st, [(t_in, 1), (t_out, 1)], reset=True)
    p = Producer({"bootstrap.servers": b, "enable.idempotence": True, "log_level": 3})
    p.produce(t_in, key=b"k", value=b"question")
    if p.flush(30):
        raise Fail("selfcheck: an idempotent produce was not delivered in 30 s")
    c = Consumer({"bootstrap.servers": b, "group.id": "gavel.selfcheck", "log_level": 3,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "isolation.level": "read_committed", "session.timeout.ms": 6000})
    c.subscribe([t_in])
    msg, end = None, time.monotonic() + 60
    while msg is None and time.monotonic() < end:
        m = c.poll(0.5)
        if m is not None and not m.error():
            msg = m
    if msg is None:
        raise Fail("selfcheck: a group consumer got no message in 60 s")
    tp = TopicPartition(t_in, msg.partition(), msg.offset() + 1)
    tx = Producer({"bootstrap.servers": b, "transactional.id": "gavel.selfcheck",
                   "log_level": 3})
    tx.init_transactions(60)
    tx.begin_transaction()
    tx.produce(t_out, key=b"k", value=b"answer")
    tx.send_offsets_to_transaction([tp], c.consumer_group_metadata(), 30)
    tx.commit_transaction(60)
    got = c.committed([TopicPartition(t_in, msg.partition())], timeout=30)
    if got[0].offset != tp.offset:
        raise Fail(f"selfcheck: the transaction's offset was not stored (group offset "
                   f"{got[0].offset}, expected {tp.offset})")
    c.close()
    r = Consumer({"bootstrap.servers": b, "group.id": "gavel.selfcheck.reader", "log_level": 3,
                  "isolation.level": "read_committed", "enable.auto.commit": False})
    r.assign([TopicPartition(t_out, 0, 0)])
    end = time.monotonic() + 30
    while time.monotonic() < end:
        m = r.poll(0.5)
        if m is not None and not m.error() and m.value() == b"answer":
            break
    else:
        raise Fail("selfcheck: the committed answer is not visible read_committed")
    r.close()
    a = admin(st)
    for f in a.delete_topics([t_in, t_out], operation_timeout=30).values():
        f.result()


def cmd_start(args):
    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    if os.path.exists(state_path(d)):
        old = load(d)
        if any(alive(n) for n in old["nodes"]):
            raise Fail(f"a cluster already runs in {d} (ops/kafka stop --dir {d})")
    if args.nodes not in (1, 3):
        raise Fail("--nodes is 1 or 3")
    hosts = args.hosts.split(",") if args.hosts else ["127.0.0.1"] * args.nodes
    netns = args.netns.split(",") if args.netns else [None] * args.nodes
    if len(hosts) != args.nodes or len(netns) != args.nodes:
        raise Fail("--hosts and --netns need one entry per node")
    jars = fetch(args.version)
    st = {"version": args.version, "jars": jars, "partitions": args.partitions,
          "internal_partitions": INTERNAL_PARTITIONS, "nodes": []}
    for i in range(args.nodes):
        nd = os.path.join(d, f"node-{i + 1}")
        shutil.rmtree(nd, ignore_errors=True)
        os.makedirs(nd)
        fixed = args.netns is not None  # a namespace of its own: its ports are all free
        st["nodes"].append({
            "id": i + 1, "host": hosts[i], "netns": netns[i],
            "port": 9092 if fixed else free_port(hosts[i]),
            "cport": 9093 if fixed else free_port(hosts[i]),
            "props": os.path.join(nd, "server.properties"),
            "data": os.path.join(nd, "data"), "log": os.path.join(nd, "kafka.log"), "pid": None})
    for node in st["nodes"]:
        properties(st, node)
    cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    formats = [subprocess.Popen(["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp",
                                 os.path.join(jars, "*"), "kafka.tools.StorageTool", "format",
                                 "-t", cluster_id, "-c", n["props"]],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for n in st["nodes"]]
    for n, f in zip(st["nodes"], formats):
        out, _ = f.communicate()
        if f.returncode:
            raise Fail(f"formatting node {n['id']} failed:\n{out}")
    t0 = time.monotonic()
    for node in st["nodes"]:
        launch(st, node)
    save(d, st)
    try:
        wait_brokers(st, {n["id"] for n in st["nodes"]}, 120)
        create_topics(st, [(t, args.partitions) for t in TOPICS])
        if not args.no_selfcheck:
            selfcheck(st)
    except BaseException:
        stop(d, st, keep=True)
        raise
    b = bootstrap(st)
    with open(os.path.join(d, "bootstrap"), "w") as f:
        f.write(b + "\n")
    say(f"Apache Kafka {args.version}, {args.nodes} node(s) up in "
        f"{time.monotonic() - t0:.1f} s; logs in {d}/node-*/kafka.log")
    print(b, flush=True)


# ---- the other commands --------------------------------------------------------------------

def stop(d, st, keep=False):
    for node in st["nodes"]:
        if alive(node):
            os.kill(node["pid"], signal.SIGCONT)
            os.kill(node["pid"], signal.SIGTERM)
    for node in st["nodes"]:
        if not wait_gone(node, 20) and alive(node):
            os.kill(node["pid"], signal.SIGKILL)
            wait_gone(node, 10)
        node["pid"] = None
    if keep:
        save(d, st)
        return
    for node in st["nodes"]:
        shutil.rmtree(os.path.dirname(node["props"]), ignore_errors=True)
    for f in ("cluster.json", "bootstrap"):
        try:
            os.unlink(os.path.join(d, f))
        except FileNotFoundError:
            pass


def cmd_stop(args):
    d = os.path.abspath(args.dir)
    if not os.path.exists(state_path(d)):
        say(f"no cluster in {d}")
        return
    stop(d, load(d), keep=args.keep)


def cmd_signal(args):
    d = os.path.abspath(args.dir)
    st = load(d)
    node = node_of(st, args.node)
    if args.cmd == "restart":
        if alive(node):
            os.kill(node["pid"], signal.SIGCONT)
            os.kill(node["pid"], signal.SIGTERM)
            if not wait_gone(node, 30):
                os.kill(node["pid"], signal.SIGKILL)
                wait_gone(node, 10)
        launch(st, node)
        save(d, st)
        if args.wait:
            end = time.monotonic() + 120
            while True:  # its listener answers, then the cluster lists it
                try:
                    socket.create_connection((node["host"], node["port"]), 1).close()
                    break
                except OSError:
                    if not alive(node) or time.monotonic() > end:
                        raise Fail(f"node {node['id']} did not come back:\n{log_tail(node)}")
                    time.sleep(0.2)
            wait_brokers(st, {node["id"]}, 120)
        return
    if not alive(node):
        raise Fail(f"node {args.node} is not running")
    sig = {"kill": signal.SIGKILL, "pause": signal.SIGSTOP, "resume": signal.SIGCONT}[args.cmd]
    os.kill(node["pid"], sig)
    if args.cmd == "kill":
        wait_gone(node, 10)


def cmd_status(args):
    st = load(os.path.abspath(args.dir))
    print(f"Apache Kafka {st['version']}, bootstrap {bootstrap(st)}")
    for n in st["nodes"]:
        state = ("paused" if paused(n) else "running") if alive(n) else "stopped"
        print(f"node {n['id']}: {state} pid {n['pid']} {n['host']}:{n['port']}"
              f"{' netns ' + n['netns'] if n.get('netns') else ''}")


def java_hash(s):
    h = 0
    for unit in s.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def leader_of(st, topic, partition):
    md = admin(st).list_topics(topic, timeout=10)
    t = md.topics.get(topic)
    if t is None or t.error or partition not in t.partitions:
        raise Fail(f"no partition {topic}[{partition}]")
    return t.partitions[partition].leader


def cmd_leader(args):
    print(leader_of(load(os.path.abspath(args.dir)), args.topic, args.partition))


def cmd_coordinator(args):
    """The node coordinating a transactional id: the leader of its __transaction_state
    partition (abs(hashCode) % partitions, as the broker computes it)."""
    st = load(os.path.abspath(args.dir))
    h = java_hash(args.transactional_id)
    part = (0 if h == -(1 << 31) else abs(h)) % st["internal_partitions"]
    print(leader_of(st, "__transaction_state", part))


def cmd_topics(args):
    st = load(os.path.abspath(args.dir))
    specs = []
    for s in args.topics:
        name, _, parts = s.partition(":")
        specs.append((name, int(parts or st["partitions"])))
    create_topics(st, specs, reset=args.reset)


def main():
    ap = argparse.ArgumentParser(prog="ops/kafka", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default=os.environ.get("GAVEL_KAFKA_DIR", "/tmp/gavel-kafka"))
    s = sub.add_parser("start", parents=[common])
    s.add_argument("--nodes", type=int, default=1)
    s.add_argument("--version", default=DEFAULT_VERSION)
    s.add_argument("--partitions", type=int, default=4)
    s.add_argument("--hosts", help="one listen address per node (default 127.0.0.1)")
    s.add_argument("--netns", help="one network namespace per node (ops/fleet)")
    s.add_argument("--no-selfcheck", action="store_true")
    s.set_defaults(fn=cmd_start)
    s = sub.add_parser("stop", parents=[common])
    s.add_argument("--keep", action="store_true", help="keep the nodes' data")
    s.set_defaults(fn=cmd_stop)
    for name in ("kill", "restart", "pause", "resume"):
        s = sub.add_parser(name, parents=[common])
        s.add_argument("node", type=int)
        if name == "restart":
            s.add_argument("--no-wait", dest="wait", action="store_false",
                           help="do not wait until the node serves again")
        s.set_defaults(fn=cmd_signal)
    sub.add_parser("status", parents=[common]).set_defaults(fn=cmd_status)
    sub.add_parser("bootstrap", parents=[common]).set_defaults(
        fn=lambda a: print(bootstrap(load(os.path.abspath(a.dir)))))
    s = sub.add_parser("topics", parents=[common])
    s.add_argument("--reset", action="store_true", help="delete them first")
    s.add_argument("topics", nargs="+", metavar="NAME[:PARTITIONS]")
    s.set_defaults(fn=cmd_topics)
    s = sub.add_parser("leader", parents=[common])
    s.add_argument("topic")
    s.add_argument("partition", type=int)
    s.set_defaults(fn=cmd_leader)
    s = sub.add_parser("coordinator", parents=[common])
    s.add_argument("transactional_id")
    s.set_defaults(fn=cmd_coordinator)
    s = sub.add_parser("fetch")
    s.add_argument("--version", default=DEFAULT_VERSION)
    s.set_defaults(fn=lambda a: print(fetch(a.version)))
    args = ap.parse_args()
    try:
        args.fn(args)
    except Fail as e:
        say(str(e))
        return 1
    except Exception as e:  # a Kafka error from the admin client, named
        say(f"{args.cmd}: {type(e).__name__}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
