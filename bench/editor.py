"""The editor's loop, whole processes as an editor runs them: `pressroom --help`, `validate ONE`,
`validate` (all samples) and `preview ONE`, each the median of a few runs, wall and CPU seconds side by
side, with each command's ratio to `--help` (the floor: Python, Typer and the settings).

    .venv/bin/python bench/editor.py [--runs 5] [--release work-report-2026-q3] [--old CHECKOUT]

Each run is a fresh process in the checkout, on a copy of content/ (PRESSROOM_CONTENT) with its own
validation cache (PRESSROOM_CACHE); the preview goes to a temporary folder. Each command is measured three
ways: cold (the cache emptied before every run: what the first command after a change of code costs),
warm (nothing changed since the last run) and edited (the release — for `validate` of all, one release —
changed before every run, as an editor fixing it does). Nothing else is warm but the OS file cache and
Python's bytecode (kept, as on an editor's machine, even where PYTHONDONTWRITEBYTECODE is set). ``--old``
runs the same commands in another checkout (an earlier commit: ``git worktree add /tmp/old HEAD~3``; one
without the cache measures the same thing three times) and prints both side by side. The machine has 2
cores: run nothing else meanwhile, and trust ratios more than seconds.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _once(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "import sys; from pressroom.cli import app; sys.argv[0] = "
                           "'pressroom'; sys.exit(app())", *args], cwd=cwd, env=env, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # 1: problems found, still a measured run
        raise SystemExit(f"pressroom {' '.join(args)} failed:\n{done.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _edit(page: Path, n: int) -> None:
    """A new version of the release: its text with one more trailing line each time."""
    text = page.read_text(encoding="utf-8").rstrip("\n")
    page.write_text(text + "\n" * (1 + n % 7), encoding="utf-8")


def measure(root: Path, release: str, runs: int, tmp: Path) -> list[tuple[str, float, float]]:
    content, cache = tmp / "content", tmp / "cache"
    shutil.copytree(ROOT / "content", content)
    env = {**os.environ, "PYTHONPATH": str(root), "PRESSROOM_CONTENT": str(content), "PRESSROOM_CACHE": str(cache)}
    # As on an editor's machine: Python keeps the checkout's bytecode (a sandbox that turns it off would
    # measure compiling every module of the project on every command).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    folder, page = str(content / "releases" / release), content / "releases" / release / "release.md"
    commands = [("validate ONE", ["validate", folder]), ("validate (all samples)", ["validate"]),
                ("preview ONE", ["preview", folder, "--out", str(tmp / "preview")])]
    _once(["--help"], env, root)  # the first run fills the OS file cache and Python's bytecode
    rows = [("--help", *_median([_once(["--help"], env, root) for _ in range(runs)]))]
    edits = iter(range(10 ** 6))
    for label, argv in commands:
        _once(argv, env, root)
        ways = {"cold": lambda: shutil.rmtree(cache, ignore_errors=True), "warm": lambda: None,
                "edited": lambda: _edit(page, next(edits))}
        for way, before in ways.items():
            times = []
            for _ in range(runs):
                before()
                times.append(_once(argv, env, root))
            rows.append((f"{label} {way}", *_median(times)))
    return rows


def _median(times: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in times), statistics.median(c for _, c in times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--release", default="work-report-2026-q3")
    ap.add_argument("--old", type=Path, help="another checkout to measure the same way (the old path)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sides = [("old", args.old)] if args.old else []
        results = [(name, measure(root.resolve(), args.release, args.runs, Path(tmp) / name))
                   for name, root in sides + [("new", ROOT)]]
    head = f"{'command (whole process)':29s}"
    for name, _ in results:
        head += f" | {name + ' wall s':>10s} {'CPU s':>6s} {'x help':>6s}"
    print(head)
    for i, (label, *_rest) in enumerate(results[0][1]):
        line = f"{label:29s}"
        for _name, rows in results:
            _, wall, cpu = rows[i]
            line += f" | {wall:10.2f} {cpu:6.2f} {wall / rows[0][1]:5.1f}x"
        print(line)


if __name__ == "__main__":
    main()
