# SPDX-License-Identifier: MIT
"""ops/bench-e2e: what Kafka and the worker add to judging (run through ops/bench-e2e).

Python A+B with 3 inline tests, through an embedded broker and real workers, measured two ways
in the same run:
  one at a time  each job enqueued after the previous verdict: enqueue -> verdict latency
                 p50/p95 next to the judge's own time for the same job (verdict finished_ms -
                 received_ms: compile, runs, checks) and the sandbox's (the sum of the tests'
                 wall time, and the compile's when not cached); latency minus the judge's time is
                 the pipeline's overhead (Kafka both ways, the worker, the transaction);
  all at once    N jobs enqueued together: jobs/s, latency p50/p95, against the capacity the
                 judge's own times allow (slots / mean judge time per job).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import gavelops as g

APLUSB_PY = b"print(sum(map(int, input().split())))\n"
TESTS = [(b"1 2\n", b"3\n"), (b"-5 5\n", b"0\n"), (b"1000000000 2000000000\n", b"3000000000\n")]


def judge_ms(v):
    return max(0, v.get("finished_ms", 0) - v.get("received_ms", 0))


def sandbox_ms(v):
    """The tests' wall time, plus the compile's unless it came from the cache (a cached compile
    reports the original's time, which this job did not spend)."""
    compile_ = v.get("compile") or {}
    return sum(t.get("wall_ms", 0) for t in v.get("tests", [])) + \
        (0 if compile_.get("cached") else compile_.get("time_ms", 0))


def wait_for(verdicts, ids, timeout):
    """Verdicts of ids as {id: (verdict, receive time)}."""
    got, deadline = {}, time.monotonic() + timeout
    while len(got) < len(ids) and time.monotonic() < deadline:
        r = verdicts.poll(0.05)
        if r and r[0].get("id") in ids and r[0]["id"] not in got:
            got[r[0]["id"]] = r
    if len(got) < len(ids):
        raise RuntimeError(f"{len(ids) - len(got)} verdicts missing after {timeout} s")
    bad = [v for v, _ in got.values() if v.get("verdict") != "AC"]
    if bad:
        raise RuntimeError(f"not AC: {bad[0].get('id')}: {bad[0].get('verdict')} "
                           f"{bad[0].get('reason', '')}")
    return got


def stats(values):
    return {"p50": g.percentile(values, 50), "p95": g.percentile(values, 95),
            "mean": statistics.fmean(values) if values else float("nan")}


def main():
    ap = argparse.ArgumentParser(prog="ops/bench-e2e", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gavel", required=True)
    ap.add_argument("--jobs", type=int, default=200, help="jobs enqueued at once (200)")
    ap.add_argument("--sequential", type=int, default=30, help="jobs one at a time (30)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--slots", type=int, default=os.cpu_count() or 1, help="per worker")
    ap.add_argument("--fetch-wait-ms", type=int, default=10,
                    help="fetch.wait.max.ms of the worker and the verdict reader (10): the mock "
                         "broker holds an empty fetch this long even when data arrives")
    ap.add_argument("--json", action="store_true", help="the figures as one JSON object")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="gavel-bench-")
    broker = g.Broker(args.gavel, work, nodes=1, partitions=8)  # 8: the mock keeps 5 MiB each
    conf = {"bootstrap.servers": broker.bootstrap}
    config = os.path.join(work, "worker.yaml")
    g.write_config(config, broker.bootstrap, args.slots, os.path.join(work, "cache"),
                   props=[("fetch.wait.max.ms", str(args.fetch_wait_ms))])
    workers = [g.Worker(args.gavel, work, config, f"bench-{n}") for n in range(args.workers)]
    try:
        g.wait_assigned(workers)
        verdicts = g.Verdicts({**conf, "fetch.wait.max.ms": args.fetch_wait_ms}, from_end=True)
        jobs = g.Jobs(conf)

        def one(jid):
            jobs.send(g.job(jid, "python3", APLUSB_PY, tests=TESTS))
            jobs.flush()

        for i in range(4):  # warm-up: pool, page cache, connections
            one(f"warm-{i}")
        wait_for(verdicts, {f"warm-{i}" for i in range(4)}, 120)

        seq_lat, seq_judge, seq_sandbox = [], [], []
        for i in range(args.sequential):
            jid = f"seq-{i}"
            one(jid)
            v, t = wait_for(verdicts, {jid}, 120)[jid]
            seq_lat.append((t - jobs.enqueued[jid]) * 1000)
            seq_judge.append(judge_ms(v))
            seq_sandbox.append(sandbox_ms(v))

        ids = {f"load-{i}" for i in range(args.jobs)}
        t0 = time.monotonic()
        for i in range(args.jobs):
            jobs.send(g.job(f"load-{i}", "python3", APLUSB_PY, tests=TESTS))
        jobs.flush()
        got = wait_for(verdicts, ids, 600)
        elapsed = max(t for _, t in got.values()) - t0
        load_lat = [(t - jobs.enqueued[j]) * 1000 for j, (_, t) in got.items()]
        load_judge = [judge_ms(v) for v, _ in got.values()]
        verdicts.close()
        del jobs  # its producer goes before the broker, quietly
    finally:
        for w in workers:
            w.kill(15)
        broker.stop()

    slots = args.workers * args.slots
    capacity = slots * 1000 / statistics.fmean(load_judge)
    fig = {
        "workers": args.workers, "slots": slots, "fetch_wait_ms": args.fetch_wait_ms,
        "sequential": {"jobs": args.sequential, "latency_ms": stats(seq_lat),
                       "judge_ms": stats(seq_judge), "sandbox_ms": stats(seq_sandbox),
                       "overhead_ms": stats([a - b for a, b in zip(seq_lat, seq_judge)])},
        "load": {"jobs": args.jobs, "seconds": elapsed, "jobs_per_s": args.jobs / elapsed,
                 "latency_ms": stats(load_lat), "judge_ms": stats(load_judge),
                 "capacity_jobs_per_s": capacity,
                 "efficiency": args.jobs / elapsed / capacity},
    }
    if args.json:
        print(json.dumps(fig, indent=2))
        return 0
    s, ld = fig["sequential"], fig["load"]
    print(f"gavel bench-e2e: Python A+B, 3 tests; {args.workers} worker(s) x {args.slots} slots; "
          f"embedded broker; fetch.wait.max.ms {args.fetch_wait_ms}")
    print(f"\none at a time ({s['jobs']} jobs)             p50        p95")
    for name, key in (("enqueue -> verdict", "latency_ms"), ("judge (same job)", "judge_ms"),
                      ("sandbox: runs' wall time", "sandbox_ms"),
                      ("pipeline overhead", "overhead_ms")):
        print(f"  {name:<28} {s[key]['p50']:7.1f} ms {s[key]['p95']:7.1f} ms")
    print(f"  overhead / latency (p50)     {s['overhead_ms']['p50'] / s['latency_ms']['p50']:7.1%}")
    print(f"\nall at once ({ld['jobs']} jobs)")
    print(f"  throughput                   {ld['jobs_per_s']:7.1f} jobs/s "
          f"({ld['seconds']:.2f} s)")
    print(f"  judge capacity (same run)    {ld['capacity_jobs_per_s']:7.1f} jobs/s "
          f"({slots} slots / mean judge time {ld['judge_ms']['mean']:.1f} ms)")
    print(f"  efficiency                   {ld['efficiency']:7.1%}")
    print(f"  enqueue -> verdict           p50 {ld['latency_ms']['p50']:.0f} ms, "
          f"p95 {ld['latency_ms']['p95']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
