"""Micro-video speed: the time per release and per stage, for every sample release (goal: ≤ 10 s a release
on 2 cores). The other benchmarks leave the video out; this one measures only it.

    .venv/bin/python bench/video.py [--only RELEASE] [--keep DIR]

Stages: ``plan`` (what validation does: cards as drawing instructions, captions, timeline), ``cards`` (painting
the card PNGs and the poster), ``stills`` (burning each caption into its card, writing the PNGs ffmpeg reads)
and ``encode`` (ffmpeg: H.264 + AAC). CPU seconds are this process's and its children's (ffmpeg), so a busy
shared machine shows in the wall time, not in them.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import channels  # noqa: E402
from channels import infographic, video  # noqa: E402
from channels.base import video_files  # noqa: E402
from pressroom.releases.catalog import validate  # noqa: E402
from pressroom.settings import load_settings  # noqa: E402


def cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(release, ctx, settings, keep: Path | None) -> dict[str, tuple[float, float]]:
    """(wall, cpu) seconds of each stage: the same steps ``video.finish`` takes, timed one by one."""
    stages: dict[str, tuple[float, float]] = {}

    def timed(name, fn):
        w, c = time.perf_counter(), cpu()
        out = fn()
        stages[name] = (time.perf_counter() - w, cpu() - c)
        return out

    infographic.clear_cache()
    rd = timed("plan", lambda: channels.render("video", release, ctx))
    pngs = timed("cards", lambda: {**video.card_pngs(rd)})
    timed("poster", lambda: video.poster_jpeg(pngs["cards/01-title.png"]))
    doc = video._plan(rd)
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        def write_stills():
            lines = []
            for i, (img, seconds) in enumerate(video.stills(rd, pngs)):
                path = os.path.join(tmp, f"{i:03d}.png")
                img.save(path, format="PNG", compress_level=1)
                lines += [f"file '{path}'", f"duration {seconds:.3f}"]
            lines.append(f"file '{path}'")
            listing = os.path.join(tmp, "stills.txt")
            Path(listing).write_text("\n".join(lines) + "\n", encoding="utf-8")
            return listing

        listing = timed("stills", write_stills)
        out = os.path.join(tmp, video_files(release.id).mp4)
        import subprocess

        timed("encode", lambda: subprocess.run(video.ffmpeg_command("ffmpeg", listing, out, doc), check=True))
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            Path(out).replace(keep / Path(out).name)
    stages["_duration"] = (doc["duration"], len(doc["segments"]))
    return stages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="one release id")
    ap.add_argument("--keep", type=Path, help="keep the MP4s in this folder")
    args = ap.parse_args()
    os.environ.pop("PRESSROOM_VIDEO", None)
    settings = load_settings()
    catalog = validate(settings, render=False)
    releases = [r for r in catalog.releases.values() if not args.only or r.id == args.only]
    names = ("plan", "cards", "poster", "stills", "encode")
    print(f"micro-video, {len(releases)} releases, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'release':40} {'video s':>7} {'stills':>6} " + " ".join(f"{n:>7}" for n in names) + f" {'total':>7} {'cpu':>6}")
    totals = []
    for r in sorted(releases, key=lambda r: r.id):
        st = measure(r, catalog.context(r), settings, args.keep)
        length, segs = st.pop("_duration")
        wall, cpus = sum(w for w, _ in st.values()), sum(c for _, c in st.values())
        totals.append((wall, cpus))
        print(f"{r.id:40} {length:7.1f} {segs:6d} " + " ".join(f"{st[n][0]:7.2f}" for n in names)
              + f" {wall:7.2f} {cpus:6.2f}")
    if totals:
        n = len(totals)
        print(f"mean per release: {sum(w for w, _ in totals) / n:.2f} s wall, {sum(c for _, c in totals) / n:.2f} s CPU;"
              f" slowest {max(w for w, _ in totals):.2f} s wall (goal ≤ 10 s on 2 cores)")


if __name__ == "__main__":
    main()
