"""One publish loads the content once and renders each channel of the release once: validation's renditions
are what the flow delivers (the CLI validates, then runs the flow in the same process)."""

from __future__ import annotations

from collections import Counter

import pytest
from typer.testing import CliRunner

import channels
from tests.conftest import private_copy
from tests.reviewers import code

SAMPLE = "water-price-rumor"  # one release (not a bundle), every channel


@pytest.fixture
def counted(tmp_path, monkeypatch, prefect_server):
    monkeypatch.setenv("PRESSROOM_CONFIG", str(private_copy(tmp_path, levels="[]")))
    renders: Counter = Counter()
    for name in channels.names():
        module = channels.adapter(name)
        real = module.render

        def render(release, ctx, real=real, name=name):
            renders[(release.id, name)] += 1
            return real(release, ctx)

        monkeypatch.setattr(module, "render", render)
    from pressroom.releases import catalog

    loads = []
    real_load = catalog.load_all
    monkeypatch.setattr(catalog, "load_all", lambda *a, **k: loads.append(1) or real_load(*a, **k))
    return renders, loads


def test_a_cli_publish_loads_once_and_renders_every_channel_once(counted):
    from pressroom.cli import app

    renders, loads = counted
    result = CliRunner().invoke(app, ["publish", SAMPLE, "--now", "--reviewer", "王审稿", "--code", code("王审稿")])
    assert result.exit_code == 0, result.output
    mine = {ch: n for (rid, ch), n in renders.items() if rid == SAMPLE}
    from pressroom.settings import load_settings
    from pressroom.releases.catalog import validate

    expected = validate(load_settings(), render=False, only=SAMPLE).find(SAMPLE).channels
    assert sorted(mine) == sorted(expected)
    assert set(mine.values()) == {1}, f"renders per channel: {mine}"
    assert len(loads) == 1, f"the content was loaded {len(loads)} times"


def test_an_edit_between_two_publishes_is_loaded_again(counted, tmp_path):
    from pressroom.releases.catalog import validate
    from pressroom.settings import load_settings

    renders, loads = counted
    first = validate(load_settings(), only=SAMPLE)
    page = tmp_path / "content" / "releases" / SAMPLE / "release.md"
    page.write_text(page.read_text(encoding="utf-8").replace("。", "。 ", 1), encoding="utf-8")
    second = validate(load_settings(), only=SAMPLE)
    assert len(loads) == 2 and first is not second
    assert first.find(SAMPLE).version != second.find(SAMPLE).version


def test_a_cli_publish_of_a_folder_path_loads_once_and_renders_every_channel_once(counted):
    """The editor names the folder (as `pressroom validate` lists it); the flow is given the release's id."""
    from pressroom.cli import app

    renders, loads = counted
    folder = f"content/releases/{SAMPLE}"
    result = CliRunner().invoke(app, ["publish", folder, "--now", "--reviewer", "王审稿", "--code", code("王审稿")])
    assert result.exit_code == 0, result.output
    mine = {ch: n for (rid, ch), n in renders.items() if rid == SAMPLE}
    assert mine and set(mine.values()) == {1}, f"renders per channel: {mine}"
    assert len(loads) == 1, f"the content was loaded {len(loads)} times"


def test_an_answer_that_depends_on_the_clock_is_not_reused_after_it_changes(counted, monkeypatch):
    """An event_at still ahead of the clock refuses the release; once that time is reached the same
    content is fit to publish, and validation says so instead of repeating its earlier answer."""
    from datetime import datetime as real_datetime, timezone

    from pressroom.releases import catalog
    from pressroom.settings import load_settings

    renders, loads = counted
    clock = {"now": real_datetime(2026, 11, 20, 11, 0, tzinfo=timezone.utc)}  # event_at 19:30 +08:00 is ahead

    class Clock(real_datetime):
        @classmethod
        def now(cls, tz=None):
            return clock["now"].astimezone(tz) if tz else clock["now"].replace(tzinfo=None)

    monkeypatch.setattr(catalog, "datetime", Clock)
    early = catalog.validate(load_settings(), only=SAMPLE)
    assert SAMPLE not in early.releases and "晚于当前时间" in str(early.problems)
    assert catalog.validate(load_settings(), only=SAMPLE) is early  # nothing changed yet: the same answer
    clock["now"] = real_datetime(2026, 11, 20, 11, 26, tzinfo=timezone.utc)  # within the 5 minutes' slack
    later = catalog.validate(load_settings(), only=SAMPLE)
    assert later is not early and SAMPLE in later.releases and len(loads) == 2
