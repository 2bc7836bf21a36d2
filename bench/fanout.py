"""Fan-out cost of the publish flow on the embedded default (ephemeral Prefect, outbox, SQLite ledger).

Prints: (1) cold whole-process time of `pressroom publish` (publish_at is past), wall and CPU seconds (the
command and every process it started, Prefect's temporary server included), the quietest of ``--cold-runs``;
(2) wall time from flow start to the last channel published for one release, through Prefect, and each
channel's renders in that publish (counted); (3) the same adapters and transports called directly
without Prefect, and the ratio; (4) releases/minute for N releases published one after another in one
process.

    .venv/bin/python bench/fanout.py [--releases 100] [--cold-runs 3] [--old CHECKOUT] [--cold-only]
                                     [--pairs 5] [--warm-only]

``--old`` measures the cold publish of another checkout too (an earlier commit), taking turns with this
one, and prints both side by side.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The performance figures leave the micro-video out (bench/video.py measures it).
os.environ.setdefault("PRESSROOM_VIDEO", "off")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = "water-price-rumor"


def make_workspace(n_copies: int = 0, root: Path = ROOT) -> Path:
    """A private content tree (plus n copies of the sample under new ids) and settings, from ``root``'s
    checkout (an older checkout may not know this one's settings)."""
    ws = Path(tempfile.mkdtemp(prefix="pressroom-bench-"))
    shutil.copytree(root / "content", ws / "content")
    src = ws / "content" / "releases" / SAMPLE
    for i in range(n_copies):
        dst = ws / "content" / "releases" / f"bench-{i:04d}"
        shutil.copytree(src, dst)
        md = dst / "release.md"
        md.write_text(re.sub(r"(?m)^id: .*$", f"id: bench-{i:04d}", md.read_text(encoding="utf-8")), encoding="utf-8")
    text = (root / "pressroom.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^ledger = .*$', f'ledger = "sqlite:///{ws}/ledger.db"', text)
    (ws / "pressroom.toml").write_text(text, encoding="utf-8")
    os.environ["PRESSROOM_CONFIG"] = str(ws / "pressroom.toml")
    return ws


def cold_cli(root: Path = ROOT) -> tuple[float, float]:
    """Wall and CPU seconds of one `pressroom publish` of the sample in a fresh workspace, with ``root``'s code."""
    ws = make_workspace(root=root)
    env = {**os.environ, "PRESSROOM_CONFIG": str(ws / "pressroom.toml"), "PYTHONPATH": str(root)}
    env.pop("PREFECT_API_URL", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "import sys; from pressroom.cli import app; sys.argv[0] = "
                           "'pressroom'; sys.exit(app())", "publish", SAMPLE], cwd=ws, env=env, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(ws, ignore_errors=True)
    if done.returncode:
        raise SystemExit(f"pressroom publish ({root}) failed:\n{done.stderr.decode()[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cold_figures(runs: int, old: Path | None) -> None:
    sides = ([("old", old.resolve())] if old else []) + [("new", ROOT)]
    best: dict[str, tuple[float, float]] = {}
    for _ in range(runs):  # taking turns, so both sides see the same neighbours on the machine
        for name, root in sides:
            wall, cpu = cold_cli(root)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
    for name, _ in sides:
        wall, cpu = best[name]
        print(f"cold `pressroom publish` (whole process, ephemeral Prefect), {name}: {wall:.2f} s wall, "
              f"{cpu:.2f} CPU-s (quietest of {runs})")


def counting_renders():
    """Count each channel's render by (release, channel) from now on."""
    from collections import Counter

    import channels

    counts: Counter = Counter()
    for name in channels.names():
        module = channels.adapter(name)

        def render(release, ctx, real=module.render, name=name):
            counts[(release.id, name)] += 1
            return real(release, ctx)

        module.render = render
    return counts


def direct(ws: Path, release_id: str) -> float:
    """Render and deliver every channel with the same code, no Prefect."""
    import channels
    from pressroom.releases.catalog import validate
    from pressroom.delivery.ledger import Ledger, worker_token
    from pressroom.settings import load_settings
    from pressroom.sites.site import refresh_portal_column
    from pressroom.delivery.engine import attempt_for
    from pressroom.transports import transport_for

    t = time.perf_counter()
    settings = load_settings()
    catalog = validate(settings, only=release_id)
    r = catalog.find(release_id)
    ledger = Ledger(settings.ledger_url)
    ctx = catalog.context(r)
    token = worker_token()
    for ch in r.channels:
        rend = catalog.renditions.get((r.id, ch)) or channels.render(ch, r, ctx)  # validation's, as the flow
        row = ledger.claim(ledger.ensure(r.id, ch, r.version), token)
        receipt = transport_for(settings, ch).deliver(rend, attempt_for(ledger, row))
        ledger.mark_published(row, token, receipt.external_id, receipt.url)
    refresh_portal_column(settings, catalog, ledger)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--releases", type=int, default=100)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--old", type=Path, help="another checkout whose cold publish is measured too")
    ap.add_argument("--cold-only", action="store_true", help="only the cold publish")
    ap.add_argument("--pairs", type=int, default=5, help="warm flow / direct pairs (their medians print)")
    ap.add_argument("--warm-only", action="store_true", help="no cold publish: the warm flow against direct")
    args = ap.parse_args()
    from pressroom import runtime

    runtime.configure(quiet_console=True)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    if not args.warm_only:
        cold_figures(args.cold_runs, args.old)
    if args.cold_only:
        return

    pairs = max(1, args.pairs)
    ws = make_workspace(n_copies=args.releases + 1 + 2 * pairs)
    from flows.publish import publish_release
    from pressroom.delivery.ledger import Ledger
    from pressroom.settings import load_settings

    publish_release("bench-0000")  # warm: starts the ephemeral server once
    renders = counting_renders()
    flows_s, plains = [], []
    for k in range(pairs):  # taking turns, so both see the same neighbours on the machine
        rid, other = f"bench-{args.releases + 1 + 2 * k:04d}", f"bench-{args.releases + 2 + 2 * k:04d}"
        t0 = time.time()
        publish_release(rid)
        last = max(d.published_at for d in Ledger(load_settings().ledger_url).latest(rid).values())
        flows_s.append(last.timestamp() - t0)
        plains.append(direct(ws, other))
        if k == 0:
            counted = {ch: n for (r, ch), n in sorted(renders.items()) if r == rid}
            print("renders per channel in that publish: " + ", ".join(f"{ch} {n}" for ch, n in counted.items()))
    via_prefect, plain = statistics.median(flows_s), statistics.median(plains)
    print(f"one release, flow start -> last channel published (warm ephemeral Prefect): {via_prefect:.2f} s "
          f"(median of {pairs})")
    print(f"one release, same adapters without Prefect:                               {plain:.2f} s")
    print(f"ratio Prefect / direct: {via_prefect / plain:.1f}x; warm flow minus direct: {via_prefect - plain:.2f} s "
          f"(per pair: {', '.join(f'{a - b:.2f}' for a, b in zip(flows_s, plains))})")

    t = time.perf_counter()
    for i in range(1, args.releases + 1):
        publish_release(f"bench-{i:04d}")
    n = args.releases
    elapsed = time.perf_counter() - t
    print(f"{n} releases one after another through the flow: {elapsed:.1f} s -> {60 * n / elapsed:.1f} releases/minute")
    shutil.rmtree(ws, ignore_errors=True)


if __name__ == "__main__":
    main()
