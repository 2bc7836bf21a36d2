"""Scheduled publishing on a real Prefect server (the test harness's) with a real process worker in a
subprocess: the release goes out at its publish_at, not before, exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_publish_flow import workspace  # noqa: F401  (fixture)

POOL = "pressroom-test"
RELEASE = "work-report-2026-q3"
LATE = "water-price-rumor"


@pytest.fixture(autouse=True)
def _prefect(prefect_server):
    yield


@pytest.fixture
def deployed():
    """A process work pool and the three deployments of prefect.yaml, from this checkout."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from flows.publish import publish_release

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
        except ObjectAlreadyExists:
            pass
    from flows.preflight import preflight

    source = publish_release.from_source(source=str(ROOT), entrypoint="flows/publish.py:publish_release")
    for name in ("publish", "policy-bundle", "emergency"):
        source.deploy(name=name, work_pool_name=POOL, print_next_steps=False, ignore_warnings=True)
    preflight.from_source(source=str(ROOT), entrypoint="flows/preflight.py:preflight").deploy(
        name="preflight", work_pool_name=POOL, print_next_steps=False, ignore_warnings=True)


def catalog_and_release(release_id):
    from pressroom.releases.catalog import validate
    from pressroom.settings import load_settings

    catalog = validate(load_settings(), only=release_id)
    return catalog, catalog.find(release_id)


def start_worker(log: Path):
    """A process worker in its own session. Its output goes to ``log``: a pipe nobody reads fills up and
    blocks the worker mid-log, and then it cannot even shut down."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_WORKER_PREFETCH_SECONDS": "5", "PRESSROOM_HOME": str(ROOT)}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type",
                                 "process", "--install-policy", "never"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(worker: subprocess.Popen) -> None:
    """Ask the worker and its flow runs to stop; after 30 s (a loaded machine) stop them outright."""
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)


def test_a_scheduled_release_is_published_at_its_time_by_a_worker(workspace, deployed):  # noqa: F811
    from pressroom.delivery import schedule

    at = datetime.now(timezone.utc) + timedelta(seconds=20)
    workspace.edit(RELEASE, r"^publish_at: .*$", f"publish_at: {at.isoformat()}")
    # A second release was due five minutes ago, while no worker was running: it goes out late, and says so.
    overdue = datetime.now(timezone.utc) - timedelta(minutes=5)
    workspace.edit(LATE, r"^publish_at: .*$", f"publish_at: {overdue.isoformat()}")
    schedule.schedule(*reversed(catalog_and_release(LATE)))
    catalog, release = catalog_and_release(RELEASE)
    run = schedule.schedule(release, catalog)
    again = schedule.schedule(release, catalog)
    assert again.id == run.id  # scheduling twice gives one run
    waiting = [s for s in schedule.scheduled() if s.release == RELEASE]
    assert [s.id for s in waiting] == [run.id]
    assert abs((waiting[0].scheduled_at - at).total_seconds()) < 1

    worker = start_worker(workspace.root / "worker.log")
    try:
        ledger = workspace.ledger()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            rows = {**ledger.latest(RELEASE), **{f"late-{k}": v for k, v in ledger.latest(LATE).items()}}
            if len(rows) > 7 and all(d.state in ("published", "failed") for d in rows.values()):
                break
            time.sleep(1)
        rows = ledger.latest(RELEASE)
        assert rows and all(d.state == "published" for d in rows.values()), \
            {ch: (d.state, d.last_error) for ch, d in rows.items()}
        assert all(d.published_at >= at for d in rows.values())  # not before the embargo
        assert all(d.attempts == 1 for d in rows.values())
        assert (workspace.outbox / "portal" / f"{RELEASE}.html").is_file()
        late = [e for e in ledger.history(LATE) if e["action"] == "late-start"]
        assert late and "晚了" in late[0]["detail"]
        assert all(d.state == "published" for d in ledger.latest(LATE).values())
        assert not [e for e in ledger.history(RELEASE) if e["action"] == "late-start"]
    finally:
        stop_worker(worker)
    assert [s for s in schedule.scheduled() if s.release == RELEASE] == []


def test_a_scheduled_run_can_be_cancelled(workspace, deployed):  # noqa: F811
    from pressroom.delivery import schedule

    at = datetime.now(timezone.utc) + timedelta(days=3)
    workspace.edit(RELEASE, r"^publish_at: .*$", f"publish_at: {at.isoformat()}")
    catalog, release = catalog_and_release(RELEASE)
    run = schedule.schedule(release, catalog)
    assert run.id in [s.id for s in schedule.scheduled()]
    cancelled = schedule.cancel(release, catalog)
    assert run.id in cancelled and len(cancelled) == 2  # the run and its pre-flight check
    assert run.id not in [s.id for s in schedule.scheduled()]


def test_a_preflight_run_is_scheduled_half_an_hour_before(workspace, deployed):  # noqa: F811
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    from pressroom.delivery import schedule

    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    workspace.edit(RELEASE, r"^publish_at: .*$", f"publish_at: {at.isoformat()}")
    catalog, release = catalog_and_release(RELEASE)
    schedule.schedule(release, catalog)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=["preflight", f"release:{RELEASE}"])))
    runs = [r for r in runs if r.state_type.value == "SCHEDULED"]
    assert len(runs) == 1 and runs[0].expected_start_time == at - timedelta(minutes=30)
    schedule.cancel(release, catalog)


def test_preflight_alerts_the_office_when_an_outlet_would_fail(workspace, monkeypatch):  # noqa: F811
    from flows.preflight import preflight

    monkeypatch.delenv("PRESSROOM_WECHAT_SECRET", raising=False)
    workspace.configure(wechat="wechat")  # the real WeChat transport, with no credentials set
    state = preflight(RELEASE, return_state=True)
    assert state.is_failed() and "微信" in state.message
    notices = list((workspace.outbox / "notices").glob("*preflight-failed.txt"))
    assert len(notices) == 1 and "发布前检查未通过" in notices[0].read_text(encoding="utf-8")
    assert not (workspace.outbox / "portal").exists()  # nothing published
    workspace.configure()
    assert preflight(RELEASE, return_state=True).is_completed()


def test_preflight_finds_an_ffmpeg_that_cannot_encode_the_video(workspace, monkeypatch, tmp_path):  # noqa: F811
    from flows.preflight import preflight

    monkeypatch.delenv("PRESSROOM_VIDEO", raising=False)  # on, as installed (tests/conftest.py turns it off)
    fake = tmp_path / "bin" / "ffmpeg"  # an ffmpeg built without x264, first on PATH
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf ' ------\\n V....D mpeg4  MPEG-4\\n A....D aac  AAC\\n'\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    state = preflight(RELEASE, return_state=True)
    assert state.is_failed() and "微视频：ffmpeg 编码器 libx264、aac 未通过" in state.message, state.message
    assert "[outlets.video] ffmpeg" in state.message and "bash scripts/system-deps.sh" in state.message
    notices = list((workspace.outbox / "notices").glob("*preflight-failed.txt"))
    assert len(notices) == 1 and "缺少编码器 libx264" in notices[0].read_text(encoding="utf-8")
    assert not (workspace.outbox / "portal").exists()  # nothing published


def test_a_bundle_is_scheduled_once_under_its_document(workspace, deployed):  # noqa: F811
    from pressroom.delivery import schedule

    at = datetime.now(timezone.utc) + timedelta(days=2)
    for rid in ("notice-2017-78", "notice-2017-78-interpretation"):
        workspace.edit(rid, r"^publish_at: .*$", f"publish_at: {at.isoformat()}")
    catalog, interpretation = catalog_and_release("notice-2017-78-interpretation")
    run = schedule.schedule(interpretation, catalog)
    assert run.release == "notice-2017-78"
    assert schedule.schedule(catalog.find("notice-2017-78"), catalog).id == run.id
    schedule.cancel(interpretation, catalog)


def test_schedule_without_a_server_says_what_to_do(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from pressroom.delivery import schedule

    with temporary_settings(updates={PREFECT_API_URL: ""}):
        with pytest.raises(schedule.ScheduleError, match="prefect server start"):
            schedule.scheduled()
