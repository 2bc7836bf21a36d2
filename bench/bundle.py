"""Simultaneity of a policy bundle (三同步): the skew between the first and the last delivery across both
halves and every channel, for the sample bundle published to the outbox (ephemeral Prefect).

    .venv/bin/python bench/bundle.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

# The performance figures leave the micro-video out (bench/video.py measures it).
os.environ.setdefault("PRESSROOM_VIDEO", "off")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOC = "notice-2017-78"


def fresh_workspace() -> Path:
    ws = Path(tempfile.mkdtemp(prefix="pressroom-bundle-"))
    shutil.copytree(ROOT / "content", ws / "content")
    text = (ROOT / "pressroom.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^ledger = .*$', f'ledger = "sqlite:///{ws}/ledger.db"', text)
    text = re.sub(r'(?m)^levels = .*$', "levels = []", text)  # measure delivery, not reviewers
    (ws / "pressroom.toml").write_text(text, encoding="utf-8")
    os.environ["PRESSROOM_CONFIG"] = str(ws / "pressroom.toml")
    return ws


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    from pressroom import runtime

    runtime.configure(quiet_console=True)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.publish import publish_release

    skews, deliveries = [], 0
    for i in range(args.runs):
        ws = fresh_workspace()
        state = publish_release(DOC, return_state=True)  # publish_at is past: no override needed
        assert state.is_completed(), state.message
        summary = state.result()
        skews.append(summary["skew_seconds"])
        deliveries = sum(len(v) for v in summary["bundle"].values())
        shutil.rmtree(ws, ignore_errors=True)
    print(f"policy bundle {DOC} + interpretation: {deliveries} deliveries per run, {args.runs} runs (outbox)")
    print(f"skew (last minus first delivery): median {statistics.median(skews) * 1000:.0f} ms, "
          f"min {min(skews) * 1000:.0f} ms, max {max(skews) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
