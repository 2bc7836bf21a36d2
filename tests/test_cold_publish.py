"""`pressroom publish` without a Prefect server, as an editor runs it: a process of its own, Prefect's
temporary server started while the release is validated. It publishes, and no server outlives the
command, whether it published or refused."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, private_copy

SAMPLE = "water-price-rumor"


@pytest.fixture
def ws(tmp_path) -> Path:
    private_copy(tmp_path)
    return tmp_path


def publish(ws: Path, release: str) -> tuple[int, str]:
    """Run the command in a session of its own and return its exit code and output once it ended;
    every process left in that session afterwards fails the test (and is killed)."""
    env = {**os.environ, "PRESSROOM_CONFIG": str(ws / "pressroom.toml"), "PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_API_URL", None)
    log = ws / "publish.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from pressroom.cli import app; "
                                 "sys.argv[0] = 'pressroom'; sys.exit(app())", "publish", release],
                                cwd=ws, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        code = proc.wait(timeout=600)
    left = _still_running(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"processes outlived `pressroom publish`: {left}"
    return code, log.read_text(encoding="utf-8", errors="replace")


def _still_running(session: int) -> list[str]:
    deadline = time.monotonic() + 10  # a server told to stop may take a moment
    while True:
        found = []
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == session and fields[0] != "Z":  # fields[3]: the session id
                found.append(status.parent.name)
        if not found or time.monotonic() > deadline:
            return [(Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    for pid in found if (Path("/proc") / pid).exists()]
        time.sleep(0.2)


def test_a_cold_publish_publishes_every_channel_and_leaves_no_server(ws):
    code, output = publish(ws, SAMPLE)
    assert code == 0, output[-3000:]
    with sqlite3.connect(ws / "ledger.db") as db:
        states = dict(db.execute("select channel, state from deliveries where release_id = ?", (SAMPLE,)))
    assert states and set(states.values()) == {"published"}, states
    assert (ws / "outbox" / "portal" / f"{SAMPLE}.html").exists()


def test_a_refused_publish_leaves_no_server(ws):
    code, output = publish(ws, "no-such-release")
    assert code == 1 and "找不到稿件" in output, output[-3000:]
