"""Rendering speed: releases/second for all channels of the sample releases (pure, in-process).

    .venv/bin/python bench/render.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import channels  # noqa: E402
from pressroom.releases.catalog import validate  # noqa: E402
from pressroom.settings import load_settings  # noqa: E402

# The performance figures leave the micro-video out (bench/video.py measures it).
os.environ.setdefault("PRESSROOM_VIDEO", "off")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    catalog = validate(load_settings(), render=False)
    releases = list(catalog.releases.values())
    contexts = {r.id: catalog.context(r) for r in releases}
    per_channel: dict[str, float] = {}
    # Caches inside the channels (the infographic is shared) would flatter repeated rounds: clear them.
    started = time.perf_counter()
    for _ in range(args.rounds):
        for r in releases:
            for ch in r.channels:
                t = time.perf_counter()
                channels.render(ch, r, contexts[r.id])
                per_channel[ch] = per_channel.get(ch, 0.0) + time.perf_counter() - t
        for ch in ("infographic",):
            fn = getattr(channels.adapter(ch), "clear_cache", None)
            if fn:
                fn()
    elapsed = time.perf_counter() - started
    n = args.rounds * len(releases)
    print(f"releases rendered (all channels): {n} in {elapsed:.2f} s -> {n / elapsed:.1f} releases/s")
    for ch, t in sorted(per_channel.items(), key=lambda kv: -kv[1]):
        print(f"  {ch:12s} {1000 * t / n:7.1f} ms per release")


if __name__ == "__main__":
    main()
