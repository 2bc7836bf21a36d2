"""Soak of the production layout under faults: scripts/stack.sh (PostgreSQL from Debian's package, Prefect
server on it, one process work pool) with 1, 2 and 4 workers; each round schedules N releases (default 200;
WeChat, Weibo and portal each, through the HTTP outlet doubles of the tests, with random injected faults)
for the same second, and waits until every flow run has finished.

Prints per round: releases/minute (releases ÷ time from the scheduled second to the last channel
published), p50/p95 trigger-to-published latency (scheduled second → the release's last channel published
in the ledger), duplicates (copies beyond one of any release on any outlet — must be 0), releases not
fully published, and rows that needed more than one attempt.

    .venv/bin/python bench/soak.py [--releases 200] [--workers 1,2,4] [--faults 40] [--seed N]
    .venv/bin/python bench/soak.py --paced 3 [--rate 10] [--emergencies 3]   # the steady figures, 1 worker

Paced mode (``--paced MINUTES``): one worker, releases due one after another at ``--rate`` a minute (each
scheduled ahead, as ``pressroom schedule`` does; trigger = its scheduled second), and ``--emergencies``
emergency releases triggered among them (a flow run of the emergency deployment created at that moment, as
an editor's "Run" does; trigger = that moment). No faults. Prints p50/p95 trigger → every channel published,
the emergencies' trigger → first fast channel published, and the stack's CPU-seconds per release: the CPU of
every process of the stack (Prefect server, PostgreSQL and its backends, the worker and each flow-run
process it started), counted from /proc, so other programs on the machine do not count; the stack's idle
CPU over the same span is printed beside it.

Mode: a started Prefect server on PostgreSQL with process workers (each flow run is its own process), on
this machine; the doubles answer at once, so the figures are the pipeline's own cost. Server, database,
workers and every flow-run process share the machine's cores, so each round also prints the machine's CPU
seconds spent per release and the ceiling that puts on releases/minute here: when a round is at that
ceiling, more workers on the same machine cannot go faster (they pay off on machines of their own).
"""

from __future__ import annotations

import argparse
import contextvars
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
    RATE_LIMITS, RETRY_DELAYS, FaultInjector, Stack, _flow_runs, latencies, load_catalog, make_releases,
    make_workspace, outlet_copies, percentile, schedule_all, start_outlets, wait_for_runs,
)


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent not idle (every process: server, database, workers, runs)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its waited-for children) from /proc, or None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def stack_roots(stack: Stack) -> dict[str, list[int]]:
    """The stack's long-lived processes by part: the Prefect server, PostgreSQL's postmaster, the workers and
    their launchers (whose children are the flow runs, when scripts/stack.sh runs with LAUNCHER=on)."""
    def pid(path: Path) -> list[int]:
        try:
            return [int(path.read_text().split()[0])]
        except (OSError, ValueError, IndexError):
            return []

    run = stack.dir / "run"
    return {"server": pid(run / "server.pid"), "postgres": pid(stack.dir / "pg" / "data" / "postmaster.pid"),
            "worker": [p for f in sorted(run.glob("worker-*.pid")) for p in pid(f)],
            "launcher": [p for f in sorted(run.glob("launcher-*.pid")) for p in pid(f)]}


def stack_cpu(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds spent so far by each part of the stack: its processes, every live descendant and every
    descendant already waited for (a finished flow-run process counts in its worker's children's time)."""
    procs = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _proc_stat(int(d.name))):
            procs[int(d.name)] = st
    children: dict[int, list[int]] = {}
    for p, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(p)
    out = {}
    for part, pids in roots.items():
        total, todo = 0.0, [p for p in pids if p in procs]
        while todo:
            p = todo.pop()
            total += procs[p][1]
            todo += children.get(p, [])
        out[part] = total
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after}


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
    roots = stack_roots(stack)
    with stack.settings(), injector:
        t0, cpu0, stack0 = time.monotonic(), busy_cpu_seconds(), stack_cpu(roots)
        schedule_all(catalog, ids)
        scheduled_in = time.monotonic() - t0
        states = wait_for_runs(ids, 3 * 3600)
        cpu = busy_cpu_seconds() - cpu0
        own = {k: v / n for k, v in cpu_delta(stack0, stack_cpu(roots)).items()}
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
        "stack_cpu": own,  # the stack's processes only, per release, by part
        "cpu_per_release": cpu / n,  # machine-wide CPU seconds per release: what bounds releases/minute
        "problems": [f"{d.release_id}/{d.channel} {d.state}: {d.last_error[:160]}" for d in rows if d.state != PUBLISHED],
    }


EMERGENCY_SAMPLE = "rainstorm-2026-11"


def trigger_emergencies(catalog, ids: list[str], times: list[float]) -> dict[str, datetime]:
    """At each time (epoch seconds), a run of the emergency deployment for the next emergency, as "Run" in
    the UI starts one; returns when each was triggered."""
    from prefect.deployments import run_deployment

    from pressroom.delivery.schedule import deployment_for

    triggered = {}
    for rid, t in zip(ids, times):
        time.sleep(max(0.0, t - time.time()))
        triggered[rid] = datetime.now(timezone.utc)
        run_deployment(deployment_for(catalog.releases[rid]), parameters={"release": rid}, timeout=0,
                       as_subflow=False, tags=["pressroom", "soak"])
    return triggered


def state_time(flow_run_id, state_type: str) -> datetime | None:
    """When a flow run first entered a state of that type (its state history on the server)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        times = [s.timestamp for s in client.read_flow_run_states(flow_run_id) if s.type.value == state_type]
    return min(times, default=None)


def paced_round(stack: Stack, minutes: float, rate: float, n_emergencies: int) -> dict:
    """One worker; releases due every 60/rate seconds for ``minutes``, emergencies triggered among them."""
    import threading

    from pressroom.delivery.ledger import PUBLISHED, Ledger

    n = max(1, int(minutes * rate))
    gap = 60.0 / rate
    lead = 30.0  # every run is scheduled before the first is due
    start = (datetime.now(timezone.utc) + timedelta(seconds=lead)).replace(microsecond=0)
    content = stack.workspace / "content"
    ids, due = [], {}
    for i in range(n):
        at = start + timedelta(seconds=i * gap)
        (rid,) = make_releases(content, f"paced-{i:03d}", 1, at)
        ids.append(rid)
        due[rid] = at
    emergencies = make_releases(content, "alert", n_emergencies, None, EMERGENCY_SAMPLE)
    catalog = load_catalog(stack)
    missing = set(ids + emergencies) - set(catalog.releases)
    assert not missing, catalog.problems
    # Emergencies half a gap after a scheduled release, spread over the round.
    e_times = [start.timestamp() + (k + 0.5) * (n * gap) / max(1, n_emergencies) + gap / 2 for k in range(n_emergencies)]
    with stack.settings():
        roots = stack_roots(stack)
        idle0, t_idle = stack_cpu(roots), time.monotonic()
        time.sleep(10)  # the stack's own cost with nothing to do
        idle_rate = sum(cpu_delta(idle0, stack_cpu(roots)).values()) / (time.monotonic() - t_idle)
        cpu0, t0 = stack_cpu(roots), time.monotonic()
        schedule_all(catalog, ids)
        triggered: dict[str, datetime] = {}
        ctx = contextvars.copy_context()  # the stack's Prefect settings, carried into the thread
        thread = threading.Thread(target=lambda: triggered.update(
            ctx.run(trigger_emergencies, catalog, emergencies, e_times)))
        thread.start()
        states = wait_for_runs(ids, 3600)
        thread.join()
        e_states = wait_for_runs(emergencies, 600)
        cpu = cpu_delta(cpu0, stack_cpu(roots))
        span = time.monotonic() - t0
        started, pending = {}, {}
        for run in _flow_runs(set(emergencies)):
            started[run.parameters["release"]] = run.start_time
            pending[run.parameters["release"]] = state_time(run.id, "PENDING")
    rows = [d for d in Ledger(stack.ledger_url).rows() if d.release_id in due or d.release_id in triggered]
    last: dict[str, datetime] = {}
    first: dict[str, datetime] = {}
    for d in rows:
        if d.state == PUBLISHED and d.published_at:
            last[d.release_id] = max(last.get(d.release_id, d.published_at), d.published_at)
            first[d.release_id] = min(first.get(d.release_id, d.published_at), d.published_at)
    secs = sorted((last[r] - due[r]).total_seconds() for r in ids if r in last)
    e_secs = sorted((first[r] - triggered[r]).total_seconds() for r in emergencies if r in first)
    e_all = sorted((last[r] - triggered[r]).total_seconds() for r in emergencies if r in last)
    # Where an emergency's time goes: before its run starts (the worker's poll, the fork) and in the run.
    e_start = sorted((started[r] - triggered[r]).total_seconds() for r in emergencies if started.get(r))
    e_pending = sorted((pending[r] - triggered[r]).total_seconds() for r in emergencies if pending.get(r))
    runs = n + n_emergencies
    return {
        "releases": n, "rate": rate, "emergencies": n_emergencies, "p50": statistics.median(secs) if secs else float("nan"),
        "p95": percentile(secs, 0.95), "max": max(secs, default=float("nan")),
        "e_p50": statistics.median(e_secs) if e_secs else float("nan"), "e_max": max(e_secs, default=float("nan")),
        "e_all_p50": statistics.median(e_all) if e_all else float("nan"),
        "e_start_p50": statistics.median(e_start) if e_start else float("nan"),
        "e_pending_p50": statistics.median(e_pending) if e_pending else float("nan"),
        "not_published": sum(sum(d.state == PUBLISHED and d.release_id == r for d in rows) != 3 for r in ids + emergencies),
        "runs_not_completed": sum(s != "COMPLETED" for s in {**states, **e_states}.values())
                              + runs - len(states) - len(e_states),
        "cpu": cpu, "cpu_per_release": sum(cpu.values()) / runs, "idle_rate": idle_rate, "span": span,
        "idle_per_release": idle_rate * span / runs,
    }


def api_calls(server_log: Path, runs: int) -> list[tuple[str, float]]:
    """Requests per flow run by method and path (ids shown as {id}), from the server's access log
    (``--api-calls`` runs the server at log level INFO), most frequent first."""
    import re
    from collections import Counter

    counts: Counter = Counter()
    for line in server_log.read_text(errors="replace").splitlines():
        m = re.search(r'"(GET|POST|PATCH|PUT|DELETE) (/api/[^ ?"]*)', line)
        if m:
            path = re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27,}", "/{id}", m.group(2))
            counts[f"{m.group(1)} {path}"] += 1
    return [(k, v / runs) for k, v in counts.most_common()]


def print_paced(r: dict) -> None:
    parts = ", ".join(f"{k} {v / (r['releases'] + r['emergencies']):.2f}" for k, v in r["cpu"].items())
    print(f"paced, 1 worker: {r['releases']} releases due at {r['rate']:g}/min "
          f"+ {r['emergencies']} emergencies over {r['span']:.0f} s; not published {r['not_published']}, runs not "
          f"completed {r['runs_not_completed']}", flush=True)
    print(f"  trigger -> every channel published: p50 {r['p50']:.1f} s, p95 {r['p95']:.1f} s, max {r['max']:.1f} s",
          flush=True)
    print(f"  emergency trigger -> first fast channel published: p50 {r['e_p50']:.1f} s, max {r['e_max']:.1f} s "
          f"(-> every channel: p50 {r['e_all_p50']:.1f} s)", flush=True)
    print(f"    of which trigger -> its run taken by the worker (PENDING): p50 {r['e_pending_p50']:.1f} s, "
          f"-> running: p50 {r['e_start_p50']:.1f} s", flush=True)
    print(f"  stack CPU per release (all its processes): {r['cpu_per_release']:.2f} CPU-s ({parts}); of which idle "
          f"cost {r['idle_per_release']:.2f} CPU-s ({r['idle_rate']:.3f} CPU-s/s with nothing to do)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--releases", type=int, default=200)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--faults", type=int, default=40)
    ap.add_argument("--fault-every", type=float, default=5.0, help="seconds between injected faults")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--paced", type=float, default=0, metavar="MINUTES",
                    help="the paced round only: 1 worker, --rate releases a minute for MINUTES")
    ap.add_argument("--rate", type=float, default=10.0, help="releases a minute in the paced round")
    ap.add_argument("--emergencies", type=int, default=3, help="emergencies triggered in the paced round")
    ap.add_argument("--api-calls", action="store_true",
                    help="the server logs every request; the paced round prints the requests per flow run")
    ap.add_argument("--launcher", choices=("on", "off"), default="on",
                    help="scripts/stack.sh's LAUNCHER: flow runs forked by a launcher, or each a new process")
    ap.add_argument("--poll", type=float, metavar="SECONDS",
                    help="the workers' PREFECT_WORKER_QUERY_SECONDS (default: scripts/stack.sh's)")
    ap.add_argument("--profile", type=Path, metavar="DIR",
                    help="each flow run forked by a launcher writes its cProfile to DIR (python -m pstats)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("soak: stopped"))  # so the stack is stopped below
    signal.signal(signal.SIGINT, lambda *_: sys.exit("soak: stopped"))
    outlets = start_outlets()
    root = Path(tempfile.mkdtemp(prefix="pressroom-soak-"))
    config = make_workspace(root, outlets, RATE_LIMITS)
    stack = Stack(root, {**CREDENTIALS, "PRESSROOM_CONFIG": str(config), "PRESSROOM_RETRY_DELAYS": RETRY_DELAYS,
                         "LAUNCHER": args.launcher})
    if args.poll:
        stack.env["PREFECT_WORKER_QUERY_SECONDS"] = f"{args.poll:g}"
    if args.api_calls:
        stack.env["PREFECT_SERVER_LOGGING_LEVEL"] = "INFO"  # uvicorn's access log
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        stack.env["PRESSROOM_LAUNCHER_PROFILE"] = str(args.profile.resolve())
    results = []
    try:
        t = time.monotonic()
        stack.run("start", "1")
        print(f"stack up in {time.monotonic() - t:.0f} s (PostgreSQL {stack.pg_port}, Prefect {stack.api_url}); "
              f"seed {seed}", flush=True)
        if args.paced:
            r = paced_round(stack, args.paced, args.rate, args.emergencies)
            print_paced(r)
            if args.api_calls:
                calls = api_calls(stack.dir / "logs" / "server.log", r["releases"] + r["emergencies"])
                print(f"  API requests per flow run (all clients, the whole round): {sum(n for _, n in calls):.1f}")
                for what, n in calls[:25]:
                    print(f"    {n:6.1f}  {what}")
            return
        for w in [int(x) for x in args.workers.split(",")]:
            r = soak_round(stack, outlets, w, args.releases, args.faults, args.fault_every, rng)
            results.append(r)
            parts = ", ".join(f"{k} {v:.2f}" for k, v in r["stack_cpu"].items())
            print(f"{w} worker(s): {r['releases']} releases, {r['faults']} faults → {r['per_minute']:.1f} releases/min, "
                  f"p50 {r['p50']:.1f} s, p95 {r['p95']:.1f} s, last at {r['span']:.0f} s; duplicates "
                  f"{r['duplicates']}, not published {r['not_published']}, runs not completed "
                  f"{r['runs_not_completed']}, rows retried {r['retried_rows']} (scheduled in {r['scheduled_in']:.1f} s); "
                  f"{r['cpu_per_release']:.1f} CPU-s a release on {os.cpu_count()} cores → at most "
                  f"{60 * os.cpu_count() / r['cpu_per_release']:.1f} releases/min here; the stack's own processes "
                  f"{sum(r['stack_cpu'].values()):.2f} CPU-s a release ({parts})", flush=True)
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
