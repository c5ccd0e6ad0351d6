# SPDX-License-Identifier: MIT
"""ops/chaos: the exactly-once promise checked where it matters (run through ops/chaos).

Starts two workers, enqueues N jobs (a trivial C program with an inline test, unique ids of this
run), kills one worker with SIGKILL part-way and starts it again, and meanwhile, on the embedded
broker, injects retriable broker faults. Then a read_committed reader must see exactly one
verdict per job: none missing, none twice. With --brokers it runs against a real cluster (the
topics must exist; a fixed consumer group keeps later runs from re-judging earlier jobs), where
it also proves what the mock cannot: aborted and fenced transactions.
"""
import argparse
import os
import signal
import sys
import tempfile
import time
import uuid

import gavelops as g

CAT_C = b"#include <stdio.h>\nint main(void) { int c; while ((c = getchar()) != EOF) " \
        b"putchar(c); return 0; }\n"

# (fraction of the jobs answered, delay after the previous step in s, broker commands | action)
MOCK_STEPS = [
    (0.08, 0, ["fail Produce NOT_LEADER_FOR_PARTITION*3 REQUEST_TIMED_OUT",
               "fail EndTxn COORDINATOR_NOT_AVAILABLE NOT_COORDINATOR",
               "fail TxnOffsetCommit COORDINATOR_LOAD_IN_PROGRESS",
               "fail AddPartitionsToTxn CONCURRENT_TRANSACTIONS"]),
    (0.18, 0, ["leader {verdicts} 0 2", "leader {verdicts} 1 3", "rtt all 20"]),
    (0.28, 0, "kill"),
    (0.30, 0, ["rtt all 0", "fail AddOffsetsToTxn COORDINATOR_NOT_AVAILABLE"]),
    (0.0, 1.0, "start"),
    (0.52, 0, ["fail Produce _TRANSPORT", "fail Fetch _TRANSPORT"]),
    (0.66, 0, ["down 2"]),
    (0.0, 1.5, ["up 2"]),
    (0.80, 0, ["fail OffsetCommit REBALANCE_IN_PROGRESS", "fail Heartbeat _TRANSPORT"]),
]
REAL_STEPS = [(0.3, 0, "kill"), (0.0, 1.0, "start")]


def main():
    ap = argparse.ArgumentParser(prog="ops/chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gavel", required=True, help="the gavel program")
    ap.add_argument("--brokers", help="a real cluster (default: an embedded 3-node broker)")
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--slots", type=int, default=2, help="slots per worker")
    ap.add_argument("--topic-prefix", default=None,
                    help="topics <prefix>jobs, verdicts, progress, jobs.dlq (default: gavel. on "
                         "the embedded broker, gavel.chaos. with --brokers)")
    ap.add_argument("--group", default="gavel-chaos")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("-X", action="append", default=[], metavar="NAME=VALUE",
                    help="a librdkafka property for every client (SASL, TLS...)")
    args = ap.parse_args()

    if args.topic_prefix is None:
        args.topic_prefix = "gavel.chaos." if args.brokers else "gavel."
    if args.brokers and args.topic_prefix == "gavel.":
        ap.error("--topic-prefix gavel. on a real cluster would judge its real jobs and publish "
                 "verdicts among the real ones: use topics of their own (gavel.chaos.)")
    props = [p.partition("=")[::2] for p in args.X]
    topics = {k: args.topic_prefix + ("jobs.dlq" if k == "dlq" else k) for k in g.TOPICS}
    work = tempfile.mkdtemp(prefix="gavel-chaos-")
    broker = None
    if not args.brokers:
        broker = g.Broker(args.gavel, work, nodes=3, partitions=4)
        for t in topics.values():
            if not t.startswith("gavel."):
                broker.command(f"topic {t} 4")
    brokers = args.brokers or broker.bootstrap
    conf = {"bootstrap.servers": brokers, **dict(props)}
    config = os.path.join(work, "worker.yaml")
    g.write_config(config, brokers, args.slots, os.path.join(work, "cache"), topics=topics,
                   group=args.group, props=props)
    g.log(f"broker {brokers}, {args.jobs} jobs, logs in {work}")

    workers = [g.Worker(args.gavel, work, config, f"chaos-{n}") for n in "ab"]
    g.wait_assigned(workers)
    verdicts = g.Verdicts(conf, topics["verdicts"], from_end=True)
    run = uuid.uuid4().hex[:8]
    jobs = g.Jobs(conf, topics["jobs"])
    for i in range(args.jobs):
        data = f"{i}\n".encode()
        jobs.send(g.job(f"chaos-{run}-{i}", "c", CAT_C, tests=[(data, data)]))
    jobs.flush()
    g.log(f"enqueued {args.jobs} jobs of run {run}")

    steps = list(MOCK_STEPS if broker else REAL_STEPS)
    seen, total, last_step, quiet_until = {}, 0, time.monotonic(), None
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        got = verdicts.poll(0.1)
        if got:
            v = got[0]
            if str(v.get("id", "")).startswith(f"chaos-{run}-"):
                total += 1
                seen[v["id"]] = seen.get(v["id"], 0) + 1
                if v.get("verdict") != "AC":
                    g.log(f"{v['id']}: {v.get('verdict')} {v.get('reason', '')}")
        while steps and len(seen) >= steps[0][0] * args.jobs and \
                time.monotonic() - last_step >= steps[0][1]:
            _, _, what = steps.pop(0)
            if what == "kill":
                g.log(f"SIGKILL {workers[0].wid} at {len(seen)} verdicts")
                workers[0].kill(signal.SIGKILL)
            elif what == "start":
                g.log(f"restarting {workers[0].wid}")
                workers[0].start()
            else:
                for cmd in what:
                    g.log(f"broker: {cmd.format(**topics)}")
                    broker.command(cmd.format(**topics))
            last_step = time.monotonic()
        if len(seen) == args.jobs and quiet_until is None:
            quiet_until = time.monotonic() + 5  # time for a late duplicate to show
        if quiet_until and time.monotonic() > quiet_until:
            break
    for w in workers:
        if w.proc.poll() is None:
            w.kill(signal.SIGTERM)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        got = verdicts.poll(0.1)
        if got and str(got[0].get("id", "")).startswith(f"chaos-{run}-"):
            total += 1
            seen[got[0]["id"]] = seen.get(got[0]["id"], 0) + 1
    verdicts.close()
    del jobs  # its producer goes before the broker, quietly
    if broker:
        broker.stop()

    dups = {k: n for k, n in seen.items() if n > 1}
    missing = args.jobs - len(seen)
    print(f"jobs {args.jobs}  verdicts {total}  distinct {len(seen)}  missing {missing}  "
          f"duplicated {len(dups)}")
    for k in sorted(dups)[:20]:
        print(f"  {k}: {dups[k]} verdicts")
    ok = missing == 0 and not dups and total == args.jobs
    print("exactly once: " + ("yes" if ok else f"NO (logs in {work})"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
