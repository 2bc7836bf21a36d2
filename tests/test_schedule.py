"""Scheduled publishing on a real Prefect server (the test harness's) with a real process worker in a
subprocess: the release goes out at its publish_at, not before, exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import ROOT
from tests.test_publish_flow import workspace  # noqa: F401  (fixture)

POOL = "pressroom-test"
RELEASE = "work-report-2026-q3"


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
    source = publish_release.from_source(source=str(ROOT), entrypoint="flows/publish.py:publish_release")
    for name in ("publish", "policy-bundle", "emergency"):
        source.deploy(name=name, work_pool_name=POOL, print_next_steps=False, ignore_warnings=True)


def catalog_and_release(release_id):
    from pressroom.catalog import validate
    from pressroom.settings import load_settings

    catalog = validate(load_settings(), only=release_id)
    return catalog, catalog.find(release_id)


def start_worker():
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_WORKER_PREFETCH_SECONDS": "5", "PRESSROOM_HOME": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process",
                             "--install-policy", "never"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def test_a_scheduled_release_is_published_at_its_time_by_a_worker(workspace, deployed):  # noqa: F811
    from pressroom import schedule

    at = datetime.now(timezone.utc) + timedelta(seconds=20)
    workspace.edit(RELEASE, r"^publish_at: .*$", f"publish_at: {at.isoformat()}")
    catalog, release = catalog_and_release(RELEASE)
    run = schedule.schedule(release, catalog)
    again = schedule.schedule(release, catalog)
    assert again.id == run.id  # scheduling twice gives one run
    waiting = [s for s in schedule.scheduled() if s.release == RELEASE]
    assert [s.id for s in waiting] == [run.id]
    assert abs((waiting[0].scheduled_at - at).total_seconds()) < 1

    worker = start_worker()
    try:
        ledger = workspace.ledger()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            rows = ledger.latest(RELEASE)
            if rows and all(d.state in ("published", "failed") for d in rows.values()):
                break
            time.sleep(1)
        rows = ledger.latest(RELEASE)
        assert rows and all(d.state == "published" for d in rows.values()), \
            {ch: (d.state, d.last_error) for ch, d in rows.items()}
        assert all(d.published_at >= at for d in rows.values())  # not before the embargo
        assert all(d.attempts == 1 for d in rows.values())
        assert (workspace.outbox / "portal" / f"{RELEASE}.html").is_file()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
    assert [s for s in schedule.scheduled() if s.release == RELEASE] == []


def test_a_scheduled_run_can_be_cancelled(workspace, deployed):  # noqa: F811
    from pressroom import schedule

    at = datetime.now(timezone.utc) + timedelta(days=3)
    workspace.edit(RELEASE, r"^publish_at: .*$", f"publish_at: {at.isoformat()}")
    catalog, release = catalog_and_release(RELEASE)
    run = schedule.schedule(release, catalog)
    assert run.id in [s.id for s in schedule.scheduled()]
    assert schedule.cancel(release, catalog) == [run.id]
    assert run.id not in [s.id for s in schedule.scheduled()]


def test_a_bundle_is_scheduled_once_under_its_document(workspace, deployed):  # noqa: F811
    from pressroom import schedule

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

    from pressroom import schedule

    with temporary_settings(updates={PREFECT_API_URL: ""}):
        with pytest.raises(schedule.ScheduleError, match="prefect server start"):
            schedule.scheduled()
