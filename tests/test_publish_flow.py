"""The publish flow end to end: Prefect (test harness), the real ledger (SQLite), the real outbox, and
platform doubles that show every duplicate."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests import doubles
from tests.conftest import ROOT

SAMPLE = "water-price-rumor"  # a single release (not a bundle), all channels


@pytest.fixture(autouse=True)
def _prefect(prefect_server):
    yield


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A private copy of the content, settings, outbox and ledger; ``configure(channel=transport)``."""
    shutil.copytree(ROOT / "content", tmp_path / "content")
    base = (ROOT / "pressroom.toml").read_text(encoding="utf-8")
    base = re.sub(r'(?m)^ledger = .*$', f'ledger = "sqlite:///{tmp_path}/ledger.db"', base)
    monkeypatch.setenv("PRESSROOM_CONFIG", str(tmp_path / "pressroom.toml"))
    monkeypatch.setenv("PRESSROOM_TEST_PLATFORM", str(tmp_path / "platform"))
    monkeypatch.setenv("PRESSROOM_RETRY_DELAYS", "0.1,0.1,0.1")

    class Workspace:
        root = tmp_path
        outbox = tmp_path / "outbox"

        def configure(self, approval_levels=None, **transports):
            """Point channels at transports; ``approval_levels`` replaces [approval] levels (default none,
            so flows that are not about approval run straight through)."""
            text = base
            for ch, name in transports.items():
                text = re.sub(rf'(?m)^{ch} = ".*"$', f'{ch} = "{name}"', text)
            levels = ", ".join(f'"{x}"' for x in approval_levels or [])
            text = re.sub(r'(?m)^levels = .*$', f"levels = [{levels}]", text)
            (tmp_path / "pressroom.toml").write_text(text, encoding="utf-8")

        def edit(self, release_id, pattern, repl):
            path = tmp_path / "content" / "releases" / release_id / "release.md"
            text = path.read_text(encoding="utf-8")
            new = re.sub(pattern, repl, text, count=1, flags=re.M)
            assert new != text
            path.write_text(new, encoding="utf-8")

        def ledger(self):
            from pressroom.delivery.ledger import Ledger
            from pressroom.settings import load_settings

            return Ledger(load_settings().ledger_url)

    ws = Workspace()
    ws.configure()
    return ws


def run(release=SAMPLE, **kw):
    from flows.publish import publish_release

    return publish_release(release, return_state=True, **kw)


def outbox_files(ws):
    return sorted(p.relative_to(ws.outbox).as_posix() for p in ws.outbox.rglob("*") if p.is_file()) \
        if ws.outbox.exists() else []


def test_publishes_every_channel_to_the_outbox(workspace, samples):
    state = run()
    assert state.is_completed(), state.message
    rows = workspace.ledger().latest(SAMPLE)
    assert set(rows) == set(samples[SAMPLE].channels)
    assert all(d.state == "published" and d.attempts == 1 for d in rows.values())
    # What the fidelity audit checked stays with each row: the version, the facts, the verdict.
    for ch, d in rows.items():
        checked = d.steps["audit"]
        assert checked["version"] == samples[SAMPLE].version and checked["clean"] is True, (ch, checked)
        assert checked["facts"] > 0 and checked["added"] == []
        assert checked["carries"] == ("summary" if ch in ("tv", "weibo", "infographic") else "full")
    out = workspace.outbox
    assert (out / "portal" / f"{SAMPLE}.html").is_file()
    assert (out / "portal" / "index.html").is_file() and (out / "portal" / "feed.xml").is_file()
    assert samples[SAMPLE].title in (out / "portal" / "index.html").read_text(encoding="utf-8")
    assert (out / "wechat" / SAMPLE / "wechat-draft.json").is_file()
    assert (out / "weibo" / SAMPLE / "weibo-share.json").is_file()
    assert (out / "newspaper" / SAMPLE / f"{SAMPLE}.docx").is_file()
    assert (out / "tv" / SAMPLE / f"{SAMPLE}.srt").is_file()
    assert (out / "assets" / SAMPLE / "infographic.png").is_file()
    assert not [p for p in outbox_files(workspace) if p.endswith(".tmp")]


def test_rerun_publishes_nothing_twice(workspace):
    workspace.configure(wechat="platform", weibo="platform")
    assert run().is_completed()
    before = {p: (workspace.outbox / p).stat().st_mtime_ns for p in outbox_files(workspace)}
    assert run().is_completed()
    assert len(doubles.items("wechat")) == 1 and len(doubles.items("weibo")) == 1
    assert all(d.attempts == 1 for d in workspace.ledger().latest(SAMPLE).values())
    after = {p: (workspace.outbox / p).stat().st_mtime_ns for p in outbox_files(workspace)}
    changed = [p for p in after if before.get(p) != after[p] and not p.startswith("portal/index")]
    assert changed == []


def test_transient_failures_are_retried_until_published(workspace):
    workspace.configure(weibo="flaky")
    assert run().is_completed()
    d = workspace.ledger().latest(SAMPLE)["weibo"]
    assert d.state == "published" and d.attempts == 3
    assert len(doubles.items("weibo")) == 1


def test_a_refusing_channel_fails_alone_and_names_itself(workspace):
    workspace.configure(wechat="refusing")
    state = run()
    assert state.is_failed()
    assert "微信公众号" in state.message and "45003" in state.message
    rows = workspace.ledger().latest(SAMPLE)
    assert rows["wechat"].state == "failed" and rows["wechat"].attempts == 1  # permanent: not retried
    assert all(d.state == "published" for ch, d in rows.items() if ch != "wechat")


def test_the_run_page_shows_the_infographic_small(workspace):
    """The run's 图解 preview is the poster's gallery thumbnail as delivered (the whole poster, 360 px wide)."""
    import base64
    import io

    from PIL import Image as PILImage
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    state = run()
    assert state.is_completed(), state.message
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[f"infographic-{SAMPLE}"]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    assert len(found) == 1 and found[0].description == "图解预览"
    shown = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)\)", found[0].data).group(1))
    delivered = (workspace.outbox / "assets" / SAMPLE / "infographic-thumb.jpg").read_bytes()
    assert shown == delivered
    with PILImage.open(io.BytesIO(shown)) as im:
        poster = PILImage.open(workspace.outbox / "assets" / SAMPLE / "infographic.png")
        assert im.format == "JPEG" and im.width == 360
        assert abs(im.height - poster.height * 360 / poster.width) <= 1  # the whole poster, not a crop


def test_retries_exhausted_leave_the_channel_failed(workspace):
    workspace.configure(weibo="down")
    state = run()
    assert state.is_failed() and "微博" in state.message
    d = workspace.ledger().latest(SAMPLE)["weibo"]
    assert d.state == "failed" and d.attempts == 4 and "暂时性错误" in d.last_error


def test_lost_reply_is_looked_up_not_resent(workspace):
    workspace.configure(wechat="lossy")
    assert run().is_completed()
    assert len(doubles.items("wechat")) == 1
    assert workspace.ledger().latest(SAMPLE)["wechat"].state == "published"


def test_crash_between_deliver_and_record_then_rerun_leaves_one_copy(workspace):
    from prefect.settings import PREFECT_API_URL

    workspace.configure(wechat="crashing")
    # The subprocess runs on the session's Prefect server (a cold ephemeral one would cost it ~20 s); the
    # run it leaves Running there is filtered out by every test that looks for runs.
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    code = ("import tests.doubles; from flows.publish import publish_release; "
            f"publish_release({SAMPLE!r}, channels_only=['wechat'])")
    log = workspace.root / "crash.log"
    with open(log, "wb") as out:
        # Its own session: any process it starts could outlive the killed worker (holding a pipe open),
        # so output goes to a file and the whole group is cleaned up afterwards.
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = proc.wait(timeout=300)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert returncode == -9, log.read_text(errors="replace")[-2000:]  # killed mid-delivery
    assert len(doubles.items("wechat")) == 1
    assert workspace.ledger().latest(SAMPLE)["wechat"].state == "delivering"
    workspace.configure(wechat="platform")
    assert run(channels_only=["wechat"]).is_completed()
    d = workspace.ledger().latest(SAMPLE)["wechat"]
    assert d.state == "published" and d.attempts == 2
    assert len(doubles.items("wechat")) == 1  # found on the platform, not sent again


def test_two_concurrent_runs_publish_once(workspace):
    workspace.configure(wechat="platform", weibo="platform", portal="platform")
    states = []
    threads = [threading.Thread(target=lambda: states.append(run())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert len(states) == 2 and all(s.is_completed() for s in states), [s.message for s in states]
    for ch in ("wechat", "weibo", "portal"):
        assert len(doubles.items(ch)) == 1, ch


def test_nothing_is_delivered_before_publish_at(workspace):
    at = datetime.now(timezone.utc) + timedelta(seconds=6)
    workspace.edit(SAMPLE, r"^publish_at: .*$", f"publish_at: {at.isoformat()}")
    workspace.configure(weibo="platform")
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("state", run()))
    t.start()
    time.sleep(3)
    assert datetime.now(timezone.utc) < at
    assert doubles.items("weibo") == [] and not (workspace.outbox / "portal" / f"{SAMPLE}.html").exists()
    t.join(300)
    assert result["state"].is_completed()
    for d in workspace.ledger().latest(SAMPLE).values():
        assert d.published_at >= at


def test_a_release_failing_validation_reaches_no_channel(workspace):
    workspace.edit(SAMPLE, r"^## 社会关切$", "## 别的标题")
    workspace.configure(wechat="platform")
    state = run()
    assert state.is_failed() and "社会关切" in state.message
    assert outbox_files(workspace) == [] and doubles.items() == []
    assert workspace.ledger().rows(SAMPLE) == []


def test_an_edit_after_publishing_is_not_published_again_silently(workspace):
    workspace.configure(weibo="platform")
    assert run().is_completed()
    workspace.edit(SAMPLE, r"^(## 社会关切\n)", r"\1\n补充说明：价格调整须依法履行程序。\n")
    state = run()
    assert state.is_failed() and "pressroom correct" in state.message
    assert len(doubles.items("weibo")) == 1


def test_the_micro_video_goes_out_after_every_other_channel(workspace, monkeypatch):
    monkeypatch.delenv("PRESSROOM_VIDEO", raising=False)  # on, as installed (tests/conftest.py turns it off)
    state = run()
    assert state.is_completed(), state.message
    rows = workspace.ledger().latest(SAMPLE)
    assert rows["video"].state == "published", rows["video"].last_error
    others = [d.published_at for ch, d in rows.items() if ch != "video"]
    assert rows["video"].published_at >= max(others)  # the encoding never held the others back
    folder = workspace.outbox / "portal" / "video" / SAMPLE
    assert (folder / f"{SAMPLE}.mp4").stat().st_size > 100_000 and (folder / "poster.jpg").is_file()
    page = (workspace.outbox / "portal" / f"{SAMPLE}.html").read_text(encoding="utf-8")
    assert f'src="video/{SAMPLE}/{SAMPLE}.mp4"' in page
    hall = (workspace.outbox / "portal" / "presshall" / "videos" / "index.html").read_text(encoding="utf-8")
    assert f"video/{SAMPLE}/{SAMPLE}.mp4" in hall


def test_the_run_is_named_by_the_title_without_disguising_characters(workspace):
    """The run list in the Prefect UI shows the headline, read from the front matter even when the release
    does not validate, and never the invisible characters validation refuses."""
    from prefect.client.orchestration import get_client

    workspace.edit(SAMPLE, r"^title: (.*)$", "title: \\1\u200b\u202e")
    state = run()
    assert state.is_failed() and "不可见字符" in state.message
    with get_client(sync_client=True) as client:
        name = client.read_flow_run(state.state_details.flow_run_id).name
    assert name == "发布: 我市居民生活用水价格不会“翻倍”"
