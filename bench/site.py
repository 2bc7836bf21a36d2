"""Press-hall site build: full build of a large archive, incremental rebuild after one more release, and the
link check, with peak memory. Targets: 10,000 releases full build <= 12 s, incremental <= 0.3 s,
peak RSS <= 250 MB on a 2-core machine.

    .venv/bin/python bench/site.py [--releases 10000] [--workers N] [--keep DIR]
    .venv/bin/python bench/site.py --releases 500 --old /work/main [--runs 3]

``--old CHECKOUT`` builds the same archive with that checkout's code and with this one's, in turns, each in
a process of its own, prints their figures side by side (the quietest of ``--runs``: least wall time, with
its CPU-seconds) and whether the two built trees are byte-identical, file for file.

The archive is generated from the sample releases (tests/test_presshall.py ``make_archive``) with a unique
lead and section text per release, so nothing can be served from a cache. Memory is sampled every 20 ms
over the whole process tree (the builder forks workers for a large build): RSS counts pages shared by the
forked workers once per process, PSS shares them out, so PSS is the honest total.
"""

from __future__ import annotations

import argparse
import dataclasses
import filecmp
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

# --code CHECKOUT (used by --old): import the press hall from that checkout instead of this one.
_CODE = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, _CODE)

from pressroom.sites import linkcheck, presshall  # noqa: E402
from pressroom.releases.loader import load_all, load_registry  # noqa: E402
from pressroom.settings import load_settings  # noqa: E402
from tests.test_presshall import START, STEP, make_archive, make_media, make_release, make_upcoming  # noqa: E402

# The performance figures leave the micro-video out (bench/video.py measures it).
os.environ.setdefault("PRESSROOM_VIDEO", "off")


def _tree(pid: int) -> list[int]:
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for c in children:
        out += _tree(int(c))
    return out


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB summed over the process and its children."""
    rss = pss = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


class Sampler:
    def __init__(self):
        self.peak_rss = self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            rss, pss = _memory(os.getpid())
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self._stop.wait(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--releases", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: up to 4, by CPU count)")
    ap.add_argument("--keep", type=Path, help="build here and keep the site (default: a temporary folder, removed after)")
    ap.add_argument("--old", type=Path, help="also build with this checkout's code; figures side by side, trees compared")
    ap.add_argument("--runs", type=int, default=1, help="with --old: runs of each, the quietest shown")
    ap.add_argument("--code", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.old:
        return compare(args)
    figures: dict = {}

    settings = load_settings()
    registry = load_registry(settings.content_dir)
    samples, _ = load_all(settings, registry)
    t = time.perf_counter()
    releases, published = make_archive(samples, registry, args.releases, unique_body=True)
    now = START + args.releases * STEP  # just after the newest release
    releases += make_upcoming(samples, registry, now=now)
    media = make_media(releases)
    print(f"archive: {len(releases)} releases generated in {time.perf_counter() - t:.1f} s "
          f"({sum(len(r.images) for r in releases)} images, {sum(len(m.coverage) for m in media.values())} coverage links); "
          f"{os.cpu_count()} CPUs, workers={args.workers or 'auto'}")
    print(f"memory before building: RSS {mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}")

    out = args.keep or Path(tempfile.mkdtemp(prefix="presshall-bench-")) / "site"
    if out.exists():
        shutil.rmtree(out)

    def build(rs, pub):
        return presshall.build_site(rs, pub, registry, settings, out, media=media, now=now, workers=args.workers)

    cpu0 = cpu_seconds()
    with Sampler() as mem:
        t = time.perf_counter()
        result = build(releases, published)
        full = time.perf_counter() - t
    cpu = cpu_seconds() - cpu0
    figures.update(full=full, full_cpu=cpu, full_rss=mem.peak_rss, full_pss=mem.peak_pss)
    files = sum(1 for p in out.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"full build:        {full:6.2f} s  ({result.pages} pages rendered, {files} files, {size / 2**20:.0f} MB on disk; "
          f"{cpu:.1f} CPU-seconds in this process and its workers, load average {os.getloadavg()[0]:.1f})")
    print("  phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
    print(f"  peak memory, process tree: RSS {mb(mem.peak_rss)}, PSS {mb(mem.peak_pss)}; "
          f"this process {mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}, "
          f"largest worker {mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)}")

    extra = dataclasses.replace(make_release(samples, registry, args.releases + 5, unique_body=True),
                                id="bench-new", publish_at=now)
    cpu0 = cpu_seconds()
    with Sampler() as mem:
        t = time.perf_counter()
        result = build([*releases, extra], {**published, extra.id: now})
        inc = time.perf_counter() - t
    figures.update(inc=inc, inc_cpu=cpu_seconds() - cpu0, inc_rss=mem.peak_rss)
    print(f"incremental build: {inc:6.2f} s  (one new release: {result.rendered} pages rendered, "
          f"{len(result.written)} files written: {', '.join(result.written)})")
    print(f"  peak memory, process tree: RSS {mb(mem.peak_rss)}, PSS {mb(mem.peak_pss)}")

    t = time.perf_counter()
    result = build([*releases, extra], {**published, extra.id: now})
    print(f"no-change rebuild: {time.perf_counter() - t:6.2f} s  ({len(result.written)} files written)")

    t = time.perf_counter()
    report = linkcheck.check_site(out, check_coverage=False)
    print(f"link check:        {time.perf_counter() - t:6.2f} s  ({report.pages} pages; ok={report.ok}, "
          f"broken={len(report.broken)}, interpretation ratio {report.ratio:.0%})")
    print("targets: full <= 12 s, incremental <= 0.3 s, peak RSS <= 250 MB")
    if args.json:
        args.json.write_text(json.dumps(figures))
    if not args.keep:
        shutil.rmtree(out.parent)


def _kind(path: str) -> str:
    """A file's kind, for the list of files that differ: releases/page-12.html -> releases/page-N.html."""
    return re.sub(r"\d+", "N", path) if "/page-" in path else re.sub(r"^(releases|assets)/[^/]+", r"\1/*", path)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def compare(args) -> None:
    """Old and new code in turns on the same archive; the quietest run of each; the trees compared."""
    work = Path(tempfile.mkdtemp(prefix="presshall-compare-"))
    best: dict[str, dict] = {}
    try:
        for run in range(args.runs):
            for tag, code in (("old", args.old.resolve()), ("new", Path(_CODE))):
                out, fig = work / tag / "site", work / f"{tag}.json"
                if out.exists():
                    shutil.rmtree(out)
                cmd = [sys.executable, __file__, "--releases", str(args.releases), "--keep", str(out),
                       "--code", str(code), "--json", str(fig)] + (["--workers", str(args.workers)] if args.workers else [])
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(code)))
                f = json.loads(fig.read_text())
                if tag not in best or f["full"] < best[tag]["full"]:
                    best[tag] = f
                print(f"run {run + 1} {tag}: full {f['full']:.2f} s ({f['full_cpu']:.1f} CPU-s), "
                      f"incremental {f['inc']:.2f} s ({f['inc_cpu']:.2f} CPU-s)", flush=True)
        rows = [("full build, s", "full", "{:.2f}"), ("  CPU-seconds", "full_cpu", "{:.1f}"),
                ("  peak RSS, MB", "full_rss", "{:.0f}"), ("  peak PSS, MB", "full_pss", "{:.0f}"),
                ("incremental, s", "inc", "{:.2f}"), ("  CPU-seconds", "inc_cpu", "{:.2f}"),
                ("  peak RSS, MB", "inc_rss", "{:.0f}")]
        print(f"\n{args.releases} releases, quietest of {args.runs} run(s) each (least full-build wall time)")
        print(f"{'':18}{'old':>10}{'new':>10}")
        for label, key, fmt in rows:
            o, n = best["old"][key], best["new"][key]
            if key.endswith(("rss", "pss")):
                o, n = o / 1024, n / 1024
            print(f"{label:18}{fmt.format(o):>10}{fmt.format(n):>10}")
        old, new = _files(work / "old" / "site"), _files(work / "new" / "site")
        differ = sorted((old ^ new) | {k for k in old & new if not filecmp.cmp(work / "old" / "site" / k,
                                                                              work / "new" / "site" / k, shallow=False)})
        print(f"trees: {len(old)} files old, {len(new)} new; " +
              ("byte-identical" if not differ else f"{len(differ)} differ: " + ", ".join(
                  f"{kind} ({n})" for kind, n in sorted(Counter(_kind(f) for f in differ).items()))))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
