"""`pressroom serve` end to end, as an editor uses it: the command in a subprocess (its own PREFECT_HOME, a free
port), a run started through the API the way the UI's "Run" button starts it, its approval resumed with the
form's input after serve was stopped and started again, the release published with one channel table on the
run page, a release scheduled with `pressroom schedule` that came due while serve was down going out after the
restart, the automations' notices (a failed run, an emergency past 5 hours, a sign-off waiting, and the
reminder and the alert that came due while serve was down), a sign-off still waiting across the restart,
and Ctrl-C leaving no process behind.

Slow (cold Prefect servers: minutes on a 2-core machine): marked ``slow``; `make test-quick` leaves it out."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT, private_copy

pytestmark = pytest.mark.slow

APPROVED = "water-price-rumor"  # an opinion release; the test's settings make opinions need one sign-off
SCHEDULED = "work-report-2026-q3"
EMERGENCY = "rainstorm-2026-11"
REVIEWER = "王审稿"
START_SECONDS = 400  # a cold server on a loaded 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _edit(root: Path, release: str, pattern: str, repl: str) -> None:
    path = root / "content" / "releases" / release / "release.md"
    text = path.read_text(encoding="utf-8")
    new = re.sub(pattern, repl, text, count=1, flags=re.M)
    assert new != text
    path.write_text(new, encoding="utf-8")


@pytest.fixture
def newsroom(tmp_path, monkeypatch):
    """A private copy of content and settings (one sign-off level for opinions, reminders after 30 s) and
    the environment `pressroom serve` runs in."""
    private_copy(tmp_path, levels='["责任编辑"]', kinds='["opinion"]', remind_hours="0.008")
    monkeypatch.setenv("PRESSROOM_CONFIG", str(tmp_path / "pressroom.toml"))
    home = tmp_path / "prefect"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PRESSROOM_CONFIG=str(tmp_path / "pressroom.toml"), PREFECT_HOME=str(home), PYTHONPATH=str(ROOT),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_RUNNER_POLL_FREQUENCY="2")
    return tmp_path, env, _free_port()


def _serve(env: dict, port: int, log: Path) -> subprocess.Popen:
    out = open(log, "ab")
    proc = subprocess.Popen([sys.executable, "-c", "from pressroom.cli import app; app()", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + START_SECONDS
    while "Ctrl-C" not in log.read_text(encoding="utf-8", errors="replace"):
        assert proc.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
        assert time.monotonic() < deadline, "pressroom serve did not come up"
        time.sleep(1)
    return proc


def _left(home: Path) -> list[str]:
    """Processes still running with this PREFECT_HOME (serve, the server, flow runs)."""
    mark = f"PREFECT_HOME={home}".encode()
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
                out.append(f"{pid}: {cmdline!r}")
        except OSError:
            pass
    return out


def _stop(proc: subprocess.Popen, home: Path, log: Path) -> None:
    """Ctrl-C, as an editor stops it: it exits, and takes every process it started with it."""
    proc.send_signal(signal.SIGINT)
    proc.wait(90)
    assert proc.returncode == 0, log.read_text(encoding="utf-8", errors="replace")[-3000:]
    deadline = time.monotonic() + 10
    while _left(home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _left(home), _left(home)
    assert "已停止" in log.read_text(encoding="utf-8")


def _wait(what, seconds: float = 300, every: float = 2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(every)
    return what()


def _state(client, run_id):
    return client.read_flow_run(run_id).state


def test_serve_publishes_from_the_ui_keeps_approvals_and_schedules_across_a_restart(newsroom):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests import reviewers

    root, env, port = newsroom
    home, log, api = Path(env["PREFECT_HOME"]), root / "serve.log", f"http://127.0.0.1:{port}/api"
    reviewers.enroll(REVIEWER)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # The emergency happened almost 5 hours ago and nothing is out: the alert is due within the test.
    for rid in (EMERGENCY, f"{EMERGENCY}-update-1"):
        _edit(root, rid, r"^event_at: .*$", f"event_at: {(now - timedelta(hours=5) + timedelta(seconds=60)).isoformat()}")
    _edit(root, EMERGENCY, r"^publish_at: .*$", f"publish_at: {now.isoformat()}")

    serve = _serve(env, port, log)
    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        try:
            # "Run" on the deployment in the UI: a flow run created from the deployment with the form's values.
            deployment = client.read_deployment_by_name("publish-release/publish")
            run = client.create_flow_run_from_deployment(deployment.id, parameters={"release": APPROVED})
            assert _wait(lambda: _state(client, run.id).is_paused()), _state(client, run.id)
            failed = client.create_flow_run_from_deployment(deployment.id, parameters={"release": "no-such-release"})
            notices = root / "outbox" / "notices"
            assert _wait(lambda: (notices / f"run-{failed.id}-failed.txt").is_file(), 120), list(notices.glob("*"))
            assert "【发布流程失败】" in (notices / f"run-{failed.id}-failed.txt").read_text(encoding="utf-8")
            reminder = _wait(lambda: list(notices.glob(f"remind-{run.id}-1.txt")), 180)
            assert reminder and REVIEWER in reminder[0].read_text(encoding="utf-8")
            alert = _wait(lambda: list(notices.glob(f"emergency-{EMERGENCY}-5h.txt")), 300)
            assert alert and "【突发事件超时未发布】" in alert[0].read_text(encoding="utf-8")
            # A release that comes due while serve is stopped: scheduled with the editor's command.
            at = datetime.now(timezone.utc) + timedelta(seconds=40)
            _edit(root, SCHEDULED, r"^publish_at: .*$", f"publish_at: {at.isoformat()}")
            said = subprocess.run([sys.executable, "-c", "from pressroom.cli import app; app()", "schedule", SCHEDULED],
                                  cwd=ROOT, env={**env, "PREFECT_API_URL": api}, capture_output=True, text=True)
            assert said.returncode == 0, said.stderr
            assert f"http://127.0.0.1:{port}/runs/flow-run/" in said.stdout.replace("\n", "")
            # A second sign-off starts waiting just before serve stops: its reminder comes due while serve is down.
            late = client.create_flow_run_from_deployment(deployment.id, parameters={"release": APPROVED})
            assert _wait(lambda: _state(client, late.id).is_paused()), _state(client, late.id)
            # Another emergency whose 5-hour clock runs out while serve is down.
            night = _emergency(root, "storm-night", due=datetime.now(timezone.utc) + timedelta(seconds=100))
        finally:
            _stop(serve, home, log)
        assert not (root / "outbox" / "portal" / f"{SCHEDULED}.html").exists()  # nothing served it while down
        assert not night.exists()

        serve = _serve(env, port, log)
        try:
            # The sign-off still waits after the restart, and its reminder, due while serve was down, is sent.
            assert _state(client, late.id).is_paused(), _state(client, late.id)
            assert _wait(lambda: (notices / f"remind-{late.id}-1.txt").is_file(), 120), list(notices.glob("*"))
            # The approval survived the restart: resumed with the form's input, the run publishes.
            from prefect.flow_runs import resume_flow_run

            assert _state(client, run.id).is_paused()
            resume_flow_run(run.id, run_input={"reviewer": REVIEWER, "code": reviewers.code(REVIEWER), "approve": True,
                                               "comment": ""})
            assert _wait(lambda: _state(client, run.id).is_final()) and _state(client, run.id).is_completed(), \
                _state(client, run.id)
            ledger = _ledger()
            assert {d.state for d in ledger.latest(APPROVED).values()} == {"published"}
            artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
            keys = [a.key for a in artifacts]
            assert keys.count(f"channels-{APPROVED}") == 1 and keys.count(f"audit-{APPROVED}") == 1, keys
            table = next(a for a in artifacts if a.key == f"channels-{APPROVED}")
            rows = json.loads(table.data) if isinstance(table.data, str) else table.data
            assert table.description.startswith("**7/7 个渠道已完成**") and [r["状态"] for r in rows] == ["已发布"] * 7
            # The release scheduled for when serve was down goes out after the restart.
            assert _wait(lambda: ledger.latest(SCHEDULED) and all(
                d.state == "published" for d in ledger.latest(SCHEDULED).values()), 300), ledger.latest(SCHEDULED)
            assert (root / "outbox" / "portal" / f"{SCHEDULED}.html").is_file()
            # The alert that came due while serve was down is sent after the restart.
            assert _wait(night.exists, 240), list(notices.glob("*"))
            _screenshots(api, deployment.id, run.id)
        finally:
            _stop(serve, home, log)


def test_serve_on_postgresql_publishes_a_run_started_from_the_ui(newsroom):
    """`--database postgresql+asyncpg://…`: the Prefect server keeps its runs in PostgreSQL (the office's
    production database), and "Run" on the deployment publishes."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.postgres import PG_BINS, postgres

    if not PG_BINS:
        pytest.skip("PostgreSQL is not installed (bash scripts/system-deps.sh --test)")
    root, env, port = newsroom
    home, log, api = Path(env["PREFECT_HOME"]), root / "serve.log", f"http://127.0.0.1:{port}/api"
    with postgres() as pg:
        database = pg.url("prefect").replace("+psycopg", "+asyncpg")  # scripts/stack.sh made it
        serve = _serve({**env, "PRESSROOM_PREFECT_DATABASE": database}, port, log)
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            try:
                assert "启动 Prefect 服务器（PostgreSQL）" in log.read_text(encoding="utf-8")
                deployment = client.read_deployment_by_name("publish-release/publish")
                run = client.create_flow_run_from_deployment(deployment.id, parameters={"release": SCHEDULED})
                assert _wait(lambda: _state(client, run.id).is_final()) and _state(client, run.id).is_completed(), \
                    _state(client, run.id)
                assert {d.state for d in _ledger().latest(SCHEDULED).values()} == {"published"}
                assert pg.psql(f"select state_type from flow_run where id = '{run.id}'", "prefect") == "COMPLETED"
            finally:
                _stop(serve, home, log)


def _emergency(root: Path, release: str, due: datetime) -> Path:
    """A copy of the sample emergency as a new event, its 5-hour clock running out at ``due``; its alert's
    notice file."""
    shutil.copytree(root / "content" / "releases" / EMERGENCY, root / "content" / "releases" / release)
    _edit(root, release, r"^id: .*$", f"id: {release}")
    _edit(root, release, r"^title: (.*)$", r"title: 夜间\1")
    _edit(root, release, r"^event_at: .*$", f"event_at: {(due - timedelta(hours=5)).replace(microsecond=0).isoformat()}")
    _edit(root, release, r"^publish_at: .*$", f"publish_at: {datetime.now(timezone.utc).replace(microsecond=0).isoformat()}")
    return root / "outbox" / "notices" / f"emergency-{release}-5h.txt"


def _ledger():
    from pressroom.delivery.ledger import Ledger
    from pressroom.settings import load_settings

    return Ledger(load_settings().ledger_url)


def _screenshots(api: str, deployment_id, run_id) -> None:
    """The parameter form carries the Chinese descriptions and the artifacts tab one channel table, in headless
    Chromium; with PRESSROOM_SHOTS set, the form, the run graph and the artifacts tab into /tmp/pressroom-shots."""
    from tests.browser import CHROMIUM, TAKE_SHOTS, chromium, shoot

    if not CHROMIUM.exists():
        return
    ui = api.removesuffix("/api")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.goto(f"{ui}/deployments/deployment/{deployment_id}/run", wait_until="networkidle")
        page.get_by_text("只发这些渠道").first.wait_for(timeout=60_000)
        shoot(page, "serve-form", full_page=True)
        page.goto(f"{ui}/runs/flow-run/{run_id}", wait_until="networkidle")
        if TAKE_SHOTS:
            page.wait_for_timeout(5000)  # the graph is drawn on a canvas: nothing to wait for in the page
            shoot(page, "serve-graph", full_page=True)
        page.get_by_text("Artifacts", exact=True).first.click()
        page.get_by_text("7/7 个渠道已完成").first.wait_for(timeout=60_000)
        assert page.get_by_text(f"channels-{APPROVED}", exact=True).count() == 1
        shoot(page, "serve-artifacts", full_page=True)
