"""Micro-video speed: the time per release and per stage, for every sample release (goal: ≤ 10 s a release
on 2 cores). The other benchmarks leave the video out; this one measures only it.

    .venv/bin/python bench/video.py [--only RELEASE] [--keep DIR] [--old CHECKOUT] [--runs N]

Stages: ``plan`` (what validation does: cards as drawing instructions, captions, timeline), ``cards`` (painting
the card PNGs), ``poster``, ``stills`` (burning each caption into its card) and ``encode`` (ffmpeg: each
still through x264 once, held for its frames, muxed with the silent AAC track). Each stage's wall and CPU
seconds are printed; CPU seconds are this process's and its children's (ffmpeg), so a busy shared machine
shows in the wall time, not in them. The stages run one after the other here; at delivery (``finish``) the
stills are drawn while x264 encodes the ones before, so a release takes less than the sum on 2 cores: the
``delivery`` column times the rendition and ``finish`` as the delivery engine calls them.

``--old`` measures another checkout (an earlier commit: ``git worktree add /tmp/old HEAD~3``) the same way,
release by release in turns with this one (so both see the same load), and prints the two side by side.
This script measures the other checkout's code in a child process; for a checkout from before the stills
were held (``channels.video`` without ``encode``) it times that checkout's own steps: PNG stills for
ffmpeg's concat demuxer and one ``ffmpeg_command``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
CODE = os.environ.get("BENCH_VIDEO_CODE") or str(HERE.parent.parent)  # the checkout whose code is measured
sys.path.insert(0, CODE)

import channels  # noqa: E402
from channels import infographic, video  # noqa: E402
from channels.base import video_files  # noqa: E402
from pressroom.releases.catalog import validate  # noqa: E402
from pressroom.settings import load_settings  # noqa: E402

NAMES = ("plan", "cards", "poster", "stills", "encode")


def cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(release, ctx, settings, exe: str, keep: Path | None) -> dict:
    """(wall, cpu) seconds of each stage: the same steps ``video.finish`` takes, timed one by one."""
    stages: dict[str, tuple[float, float]] = {}

    def timed(name, fn):
        w, c = time.perf_counter(), cpu()
        out = fn()
        stages[name] = (time.perf_counter() - w, cpu() - c)
        return out

    infographic.clear_cache()
    rd = timed("plan", lambda: channels.render("video", release, ctx))
    doc = video._plan(rd)
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        if hasattr(video, "card_images"):
            cards = timed("cards", lambda: _drawn(video.card_images(rd)))
            timed("poster", lambda: video.jpeg(cards["cards/01-title.png"]))
            shown = timed("stills", lambda: list(video.stills(rd, cards)))
            mp4 = timed("encode", lambda: video.encode(exe, shown, doc, tmp))
        else:
            pngs = timed("cards", lambda: {**video.card_pngs(rd)})
            timed("poster", lambda: video.poster_jpeg(pngs["cards/01-title.png"]))
            mp4 = _before_held_stills(rd, pngs, doc, exe, tmp, timed)
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / video_files(release.id).mp4).write_bytes(mp4)
    # What a delivery takes: the rendition and ``finish`` as the engine calls them (stills drawn while
    # x264 encodes), from a cold painting cache.
    infographic.clear_cache()
    w, c = time.perf_counter(), cpu()
    channels.finish("video", channels.render("video", release, ctx), settings)
    delivery = (time.perf_counter() - w, cpu() - c)
    return {"id": release.id, "duration": doc["duration"], "segments": len(doc["segments"]), "stages": stages,
            "delivery": delivery}


def _drawn(cards: dict) -> dict:
    """The cards drawn and their PNG files made (at delivery the PNGs are made while x264 encodes)."""
    for img in cards.values():
        infographic.png(img)
    return cards


def _before_held_stills(rd, pngs, doc, exe, tmp, timed) -> bytes:
    """A checkout from before: every still as a PNG file, one ffmpeg encoding every frame."""
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
    out = os.path.join(tmp, "old.mp4")
    timed("encode", lambda: subprocess.run(video.ffmpeg_command(exe, listing, out, doc), check=True))
    return Path(out).read_bytes()


def measure_elsewhere(checkout: Path, rid: str) -> dict:
    """One release measured with another checkout's code, in a child process."""
    env = {**os.environ, "BENCH_VIDEO_CODE": str(checkout.resolve()), "PYTHONPATH": str(checkout.resolve())}
    run = subprocess.run([sys.executable, str(HERE), "--only", rid, "--json"], cwd=checkout, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout.splitlines()[-1])


def row(label: str, m: dict) -> str:
    st = m["stages"]
    wall, cpus = sum(w for w, _ in st.values()), sum(c for _, c in st.values())
    return (f"{label:44} {m['duration']:6.1f} {m['segments']:4d} "
            + " ".join(f"{st[n][0]:5.2f}/{st[n][1]:<5.2f}" for n in NAMES) + f" {wall:6.2f} {cpus:6.2f}"
            + " {:6.2f}/{:<5.2f}".format(*m["delivery"]))


def summary(label: str, ms: list[dict]) -> str:
    n = len(ms)
    walls = [sum(w for w, _ in m["stages"].values()) for m in ms]
    cpus = [sum(c for _, c in m["stages"].values()) for m in ms]
    per = " ".join(f"{sum(m['stages'][s][0] for m in ms) / n:.2f}/{sum(m['stages'][s][1] for m in ms) / n:.2f}"
                   for s in NAMES)
    dw, dc = [m["delivery"][0] for m in ms], [m["delivery"][1] for m in ms]
    return (f"{label}: stages one by one: mean per release {sum(walls) / n:.2f} s wall, {sum(cpus) / n:.2f} s CPU, "
            f"slowest {max(walls):.2f} s; a delivery (render + finish): mean {sum(dw) / n:.2f} s wall, "
            f"{sum(dc) / n:.2f} s CPU, slowest {max(dw):.2f} s wall (goal ≤ 10 s on 2 cores); "
            f"stages wall/CPU {per}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="one release id")
    ap.add_argument("--keep", type=Path, help="keep the MP4s in this folder")
    ap.add_argument("--old", type=Path, help="another checkout to measure the same way (the old path)")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one release, for --old
    args = ap.parse_args()
    os.environ.pop("PRESSROOM_VIDEO", None)
    settings = load_settings()
    exe = shutil.which(settings.outlet("video")["ffmpeg"])
    catalog = validate(settings, render=False)
    releases = sorted((r for r in catalog.releases.values() if not args.only or r.id == args.only), key=lambda r: r.id)
    if args.json:
        print(json.dumps(measure(releases[0], catalog.context(releases[0]), settings, exe, args.keep)))
        return
    print(f"micro-video, {len(releases)} releases, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'release':44} {'video s':>6} {'segs':>4} " + " ".join(f"{n + ' wall/cpu':>11}" for n in NAMES)
          + f" {'total':>6} {'cpu':>6} {'delivery w/cpu':>12}")
    sides: dict[str, list[dict]] = {"old": [], "new": []}
    for r in releases:
        if args.old:
            sides["old"].append(measure_elsewhere(args.old, r.id))
            print(row(f"{r.id} (old)", sides["old"][-1]))
        sides["new"].append(measure(r, catalog.context(r), settings, exe, args.keep))
        print(row(f"{r.id}" + (" (new)" if args.old else ""), sides["new"][-1]), flush=True)
    for label, ms in sides.items():
        if ms:
            print(summary(label if args.old else "all", ms))
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
