"""`make test` as CI runs it: a fresh clone of a commit, its own virtual environment, then the README's test
command. Prints the install and the test run apart (wall and CPU seconds of every process they waited for),
pytest's summary line and the slowest test files, for each commit side by side.

    .venv/bin/python bench/suite.py [--rev HEAD] [--old REV]

The system packages (Chromium, ffmpeg, PostgreSQL, fonts) are installed once per machine by
scripts/system-deps.sh and are not counted. One run is 15 minutes or more on the 2-core machine, ``--old``
doubles it: run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(argv: list[str], cwd: Path, log: Path) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = log.read_text(errors="replace")
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}:\n{text[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), text


def measure(rev: str, tmp: Path) -> dict:
    clone = tmp / rev.replace("/", "_")
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", rev], cwd=clone, check=True)
    install = _timed(["make", ".venv/bin/.installed"], clone, tmp / f"{clone.name}-install.log")
    wall, cpu, out = _timed(["make", "test"], clone, tmp / f"{clone.name}-test.log")
    summary = re.findall(r"(?m)^=* ?(\d+ passed.*?) ?=*$", out)
    slowest = out.split("slowest test files", 1)[-1].splitlines()[1:11] if "slowest test files" in out else []
    return {"rev": rev, "install": install[:2], "test": (wall, cpu), "summary": summary[-1] if summary else "?",
            "slowest": slowest}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--old", help="an earlier commit, measured the same way")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pressroom-suite-") as tmp:
        results = [measure(rev, Path(tmp)) for rev in ([args.old] if args.old else []) + [args.rev]]
    for r in results:
        print(f"{r['rev']}: install {r['install'][0]:.0f} s wall; make test {r['test'][0]:.0f} s wall "
              f"({r['test'][0] / 60:.1f} min), {r['test'][1]:.0f} CPU-s; {r['summary']}")
        for line in r["slowest"]:
            print("   ", line.strip())


if __name__ == "__main__":
    main()
