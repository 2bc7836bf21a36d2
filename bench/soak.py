"""Soak of the production layout under faults: scripts/stack.sh (PostgreSQL from Debian's package, Prefect
server on it, one process work pool) with 1, 2 and 4 workers; each round schedules N releases (default 200;
WeChat, Weibo and portal each, through the HTTP outlet doubles of the tests, with random injected faults)
for the same second, and waits until every flow run has finished.

Prints per round: releases/minute (releases ÷ time from the scheduled second to the last channel
published), p50/p95 trigger-to-published latency (scheduled second → the release's last channel published
in the ledger), duplicates (copies beyond one of any release on any outlet — must be 0), releases not
fully published, and rows that needed more than one attempt.

    .venv/bin/python bench/soak.py [--releases 200] [--workers 1,2,4] [--faults 40] [--seed N]

Mode: a started Prefect server on PostgreSQL with process workers (each flow run is its own process), on
this machine; the doubles answer at once, so the figures are the pipeline's own cost. Server, database,
workers and every flow-run process share the machine's cores, so each round also prints the machine's CPU
seconds spent per release and the ceiling that puts on releases/minute here: when a round is at that
ceiling, more workers on the same machine cannot go faster (they pay off on machines of their own).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

# The performance figures leave the micro-video out (bench/video.py measures it).
os.environ.setdefault("PRESSROOM_VIDEO", "off")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pressroom import runtime  # noqa: E402

runtime.configure()

from tests.servers.harness import CREDENTIALS  # noqa: E402
from tests.test_scale import (  # noqa: E402
    RATE_LIMITS, RETRY_DELAYS, FaultInjector, Stack, latencies, load_catalog, make_releases, make_workspace,
    outlet_copies, percentile, schedule_all, start_outlets, wait_for_runs,
)


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent not idle (every process: server, database, workers, runs)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def soak_round(stack: Stack, outlets, workers: int, n: int, faults: int, fault_every: float,
               rng: random.Random) -> dict:
    from pressroom.delivery.ledger import PUBLISHED, Ledger

    stack.run("workers", str(workers))
    prefix = f"soak-w{workers}"
    lead = 20 + n // 10  # seconds to schedule them all before they are due
    at = (datetime.now(timezone.utc) + timedelta(seconds=lead)).replace(microsecond=0)
    ids = make_releases(stack.workspace / "content", prefix, n, at)
    catalog = load_catalog(stack)
    missing = set(ids) - set(catalog.releases)
    assert not missing, catalog.problems
    titles = {rid: catalog.releases[rid].title for rid in ids}
    # Faults spread over the first minutes of the round, one at a time per API path.
    injector = FaultInjector(outlets, rng, ids, n=faults, every=fault_every, start_at=at.timestamp() + 5)
    with stack.settings(), injector:
        t0, cpu0 = time.monotonic(), busy_cpu_seconds()
        schedule_all(catalog, ids)
        scheduled_in = time.monotonic() - t0
        states = wait_for_runs(ids, 3 * 3600)
        cpu = busy_cpu_seconds() - cpu0
    met = injector.consumed()
    rows = [d for d in Ledger(stack.ledger_url).rows() if d.release_id.startswith(prefix + "-")]
    secs = latencies([d for d in rows if d.state == PUBLISHED], ids, at)
    complete = {r for r in ids if sum(d.state == PUBLISHED and d.release_id == r for d in rows) == 3}
    copies = outlet_copies(outlets, ids, titles)
    duplicates = sum(max(0, c - 1) for per in copies.values() for c in per.values())
    span = max(secs) if secs else float("nan")
    return {
        "workers": workers, "releases": n, "faults": met, "scheduled_in": scheduled_in,
        "per_minute": len(complete) / span * 60 if secs else 0.0, "p50": statistics.median(secs) if secs else 0.0,
        "p95": percentile(secs, 0.95), "span": span, "duplicates": duplicates, "not_published": n - len(complete),
        "runs_not_completed": sum(s != "COMPLETED" for s in states.values()) + (n - len(states)),
        "retried_rows": sum(d.attempts > 1 for d in rows),
        "cpu_per_release": cpu / n,  # machine-wide CPU seconds per release: what bounds releases/minute
        "problems": [f"{d.release_id}/{d.channel} {d.state}: {d.last_error[:160]}" for d in rows if d.state != PUBLISHED],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--releases", type=int, default=200)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--faults", type=int, default=40)
    ap.add_argument("--fault-every", type=float, default=5.0, help="seconds between injected faults")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("soak: stopped"))  # so the stack is stopped below
    signal.signal(signal.SIGINT, lambda *_: sys.exit("soak: stopped"))
    outlets = start_outlets()
    root = Path(tempfile.mkdtemp(prefix="pressroom-soak-"))
    config = make_workspace(root, outlets, RATE_LIMITS)
    stack = Stack(root, {**CREDENTIALS, "PRESSROOM_CONFIG": str(config), "PRESSROOM_RETRY_DELAYS": RETRY_DELAYS})
    results = []
    try:
        t = time.monotonic()
        stack.run("start", "1")
        print(f"stack up in {time.monotonic() - t:.0f} s (PostgreSQL {stack.pg_port}, Prefect {stack.api_url}); "
              f"seed {seed}", flush=True)
        for w in [int(x) for x in args.workers.split(",")]:
            r = soak_round(stack, outlets, w, args.releases, args.faults, args.fault_every, rng)
            results.append(r)
            print(f"{w} worker(s): {r['releases']} releases, {r['faults']} faults → {r['per_minute']:.1f} releases/min, "
                  f"p50 {r['p50']:.1f} s, p95 {r['p95']:.1f} s, last at {r['span']:.0f} s; duplicates "
                  f"{r['duplicates']}, not published {r['not_published']}, runs not completed "
                  f"{r['runs_not_completed']}, rows retried {r['retried_rows']} (scheduled in {r['scheduled_in']:.1f} s); "
                  f"{r['cpu_per_release']:.1f} CPU-s a release on {os.cpu_count()} cores → at most "
                  f"{60 * os.cpu_count() / r['cpu_per_release']:.1f} releases/min here",
                  flush=True)
            for line in r["problems"][:10]:
                print("   ", line, flush=True)
    finally:
        stack.run("stop", timeout=120)
        for s in (outlets.wechat, outlets.weibo, outlets.cms):
            s.stop()
        shutil.rmtree(stack.dir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    print("\n| workers | releases | releases/min | p50 latency | p95 latency | duplicates | not published "
          "| CPU-s a release |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['workers']} | {r['releases']} | {r['per_minute']:.1f} | {r['p50']:.1f} s | {r['p95']:.1f} s "
              f"| {r['duplicates']} | {r['not_published']} | {r['cpu_per_release']:.1f} |")
    if any(r["duplicates"] for r in results):
        sys.exit("DUPLICATES FOUND")


if __name__ == "__main__":
    main()
