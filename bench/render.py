"""Rendering speed: releases/second for all channels of the sample releases (pure, in-process), CPU
milliseconds per release and per channel, and what was done per release: how often each channel's
``render`` ran and how often a picture was painted (poster, cover).

    .venv/bin/python bench/render.py [--rounds 5] [--runs 1] [--old CHECKOUT]

Each round renders every sample release for every channel it goes to, after clearing the channels' own
caches (``clear_cache``: the painted pictures), so a round never reuses an earlier round's pictures; the
figures are those of the quietest round (the least wall time) and the CPU time of that round; with
``--runs N``, N processes per side, of which the one that used the least CPU is shown. ``--old``
measures another checkout (an earlier commit: ``git worktree add /tmp/old HEAD~3``) the same way, in
processes of its own taking turns with this one's, and prints both side by side. The machine has 2 cores shared with others: trust CPU
milliseconds and ratios more than releases/second. To profile this checkout:
``.venv/bin/python -m cProfile -s cumtime bench/render.py --worker --rounds 3``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _worker(rounds: int) -> dict:
    """Measure the checkout on sys.path (run in a process of its own)."""
    # The performance figures leave the micro-video out (bench/video.py measures it).
    os.environ.setdefault("PRESSROOM_VIDEO", "off")
    import channels
    from pressroom.releases.catalog import validate
    from pressroom.settings import load_settings

    catalog = validate(load_settings(), render=False)
    releases = list(catalog.releases.values())
    contexts = {r.id: catalog.context(r) for r in releases}
    renders: Counter = Counter()
    paints: Counter = Counter()
    _count(channels, renders, paints)
    best: dict | None = None
    for _ in range(rounds):
        for ch in channels.names():
            fn = getattr(channels.adapter(ch), "clear_cache", None)
            if fn:
                fn()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        per_channel: Counter = Counter()
        for r in releases:
            for ch in r.channels:
                t = time.process_time()
                channels.render(ch, r, contexts[r.id])
                per_channel[ch] += time.process_time() - t
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if best is None or wall < best["wall"]:
            best = {"wall": wall, "cpu": cpu, "per_channel": dict(per_channel)}
    n = len(releases)
    assert best is not None
    return {"releases": n, "rounds": rounds, **best,
            "renders": {ch: renders[ch] / (rounds * n) for ch in sorted({c for r in releases for c in r.channels})},
            "paints": {kind: k / (rounds * n) for kind, k in sorted(paints.items())}}


def _count(channels, renders: Counter, paints: Counter) -> None:
    """Count each channel's ``render`` and each picture the infographic paints (by its size)."""
    for name in channels.names():
        module = channels.adapter(name)
        real = module.render

        def render(release, ctx, real=real, name=name):
            renders[name] += 1
            return real(release, ctx)

        module.render = render
    infographic = channels.adapter("infographic")
    real_paint = infographic._paint

    def paint(layout, *a, **k):
        paints["cover" if tuple(layout.size) == tuple(infographic.COVER_SIZE) else "poster"] += 1
        return real_paint(layout, *a, **k)

    infographic._paint = paint


def measure(root: Path, rounds: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, __file__, "--worker", "--rounds", str(rounds)], cwd=root, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench/render.py in {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: list[tuple[str, dict]]) -> None:
    head = f"{'':30s}" + "".join(f" | {name:>18s}" for name, _ in results)
    print(head)

    def row(label: str, cells: list[str]) -> None:
        print(f"{label:30s}" + "".join(f" | {c:>18s}" for c in cells))

    row("releases/s (wall)", [f"{r['releases'] / r['wall']:.1f}" for _, r in results])
    row("CPU ms per release", [f"{1000 * r['cpu'] / r['releases']:.0f}" for _, r in results])
    row("releases/CPU-s", [f"{r['releases'] / r['cpu']:.1f}" for _, r in results])
    chans = sorted(results[-1][1]["per_channel"], key=lambda c: -results[-1][1]["per_channel"][c])
    for ch in chans:
        row(f"  {ch} CPU ms", [f"{1000 * r['per_channel'].get(ch, 0) / r['releases']:.1f}" for _, r in results])
    for ch in chans:
        row(f"  {ch} renders/release", [f"{r['renders'].get(ch, 0):g}" for _, r in results])
    for kind in sorted({k for _, r in results for k in r["paints"]}):
        row(f"  {kind} paints/release", [f"{r['paints'].get(kind, 0):g}" for _, r in results])
    first = results[-1][1]
    print(f"({first['releases']} releases; the quietest of {first['rounds']} rounds in each process; "
          f"renders and paints counted over all rounds)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=1, help="processes per side, taking turns; the least CPU is shown")
    ap.add_argument("--old", type=Path, help="another checkout to measure the same way (the old path)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        sys.path.insert(0, os.getcwd())
        print(json.dumps(_worker(args.rounds)))
        return
    sides = ([("old", args.old.resolve())] if args.old else []) + [("new", ROOT)]
    best: dict[str, dict] = {}
    for _ in range(args.runs):  # old and new taking turns, so both see the same neighbours on the machine
        for name, root in sides:
            got = measure(root, args.rounds)
            if name not in best or got["cpu"] < best[name]["cpu"]:
                best[name] = got
    report([(name, best[name]) for name, _ in sides])


if __name__ == "__main__":
    main()
