"""Fan-out cost of the publish flow on the embedded default (ephemeral Prefect, outbox, SQLite ledger).

Prints: (1) cold whole-process time of `pressroom publish` (publish_at is past); (2) wall time from flow start to the last
channel published for one release, through Prefect; (3) the same adapters and transports called directly
without Prefect, and the ratio; (4) releases/minute for N releases published one after another in one
process.

    .venv/bin/python bench/fanout.py [--releases 100]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
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


def make_workspace(n_copies: int = 0) -> Path:
    """A private content tree (plus n copies of the sample under new ids) and settings."""
    ws = Path(tempfile.mkdtemp(prefix="pressroom-bench-"))
    shutil.copytree(ROOT / "content", ws / "content")
    src = ws / "content" / "releases" / SAMPLE
    for i in range(n_copies):
        dst = ws / "content" / "releases" / f"bench-{i:04d}"
        shutil.copytree(src, dst)
        md = dst / "release.md"
        md.write_text(re.sub(r"(?m)^id: .*$", f"id: bench-{i:04d}", md.read_text(encoding="utf-8")), encoding="utf-8")
    text = (ROOT / "pressroom.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^ledger = .*$', f'ledger = "sqlite:///{ws}/ledger.db"', text)
    (ws / "pressroom.toml").write_text(text, encoding="utf-8")
    os.environ["PRESSROOM_CONFIG"] = str(ws / "pressroom.toml")
    return ws


def cold_cli() -> float:
    ws = make_workspace()
    env = {**os.environ, "PRESSROOM_CONFIG": str(ws / "pressroom.toml")}
    env.pop("PREFECT_API_URL", None)
    t = time.perf_counter()
    subprocess.run([str(ROOT / ".venv" / "bin" / "pressroom"), "publish", SAMPLE], env=env,
                   check=True, capture_output=True)
    return time.perf_counter() - t


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
        rend = channels.render(ch, r, ctx)
        row = ledger.claim(ledger.ensure(r.id, ch, r.version), token)
        receipt = transport_for(settings, ch).deliver(rend, attempt_for(ledger, row))
        ledger.mark_published(row, token, receipt.external_id, receipt.url)
    refresh_portal_column(settings, catalog, ledger)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--releases", type=int, default=100)
    args = ap.parse_args()
    from pressroom import runtime

    runtime.configure(quiet_console=True)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    cold = cold_cli()
    print(f"cold `pressroom publish` (whole process, ephemeral Prefect): {cold:.2f} s")

    ws = make_workspace(n_copies=args.releases + 2)
    from flows.publish import publish_release
    from pressroom.delivery.ledger import Ledger
    from pressroom.settings import load_settings

    publish_release("bench-0000")  # warm: starts the ephemeral server once
    t0 = time.time()
    publish_release("bench-0001")
    last = max(d.published_at for d in Ledger(load_settings().ledger_url).latest("bench-0001").values())
    via_prefect = last.timestamp() - t0
    plain = direct(ws, f"bench-{args.releases + 1:04d}")
    print(f"one release, flow start -> last channel published (warm ephemeral Prefect): {via_prefect:.2f} s")
    print(f"one release, same adapters without Prefect:                               {plain:.2f} s")
    print(f"ratio Prefect / direct: {via_prefect / plain:.1f}x")

    t = time.perf_counter()
    for i in range(2, args.releases + 1):
        publish_release(f"bench-{i:04d}")
    n = args.releases - 1
    elapsed = time.perf_counter() - t
    print(f"{n} releases one after another through the flow: {elapsed:.1f} s -> {60 * n / elapsed:.1f} releases/minute")
    shutil.rmtree(ws, ignore_errors=True)


if __name__ == "__main__":
    main()
