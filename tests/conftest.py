"""Shared fixtures: the project's own settings and sample content, loaded for real."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The micro-video encodes an MP4 on every publish; tests that do not need it leave it out (the settings
# and every CLI or flow subprocess read this). tests/test_channel_video.py and the goldens turn it on.
os.environ.setdefault("PRESSROOM_VIDEO", "off")
# pytest-xdist's workers start with COLUMNS=80. A Rich console made while COLUMNS is set keeps that width for
# good, so the CLI's tables would ignore the COLUMNS a test gives one command (``invoke(..., env=)``).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)


def private_copy(root: Path, edit=None, **lines: str) -> Path:
    """A private copy of the sample content under ``root`` and of pressroom.toml with its own ledger there;
    ``lines`` replace settings lines by key (``levels="[]"``), then ``edit(text)`` may change the rest.
    Returns the settings file (point PRESSROOM_CONFIG at it)."""
    shutil.copytree(ROOT / "content", root / "content")
    text = (ROOT / "pressroom.toml").read_text(encoding="utf-8")
    for key, value in {"ledger": f'"sqlite:///{root}/ledger.db"', **lines}.items():
        text = re.sub(rf"(?m)^{key} = .*$", lambda _m: f"{key} = {value}", text)
    path = root / "pressroom.toml"
    path.write_text(edit(text) if edit else text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def settings():
    from pressroom.settings import load_settings

    return load_settings(ROOT / "pressroom.toml")


@pytest.fixture(scope="session")
def registry(settings):
    from pressroom.releases.loader import load_registry

    return load_registry(settings.content_dir)


@pytest.fixture(scope="session")
def samples(settings, registry):
    """Every sample release under content/releases, by id (they must all validate)."""
    from pressroom.releases.loader import load_all

    releases, problems = load_all(settings, registry)
    assert not problems, problems
    return releases


@pytest.fixture(scope="session")
def contexts(samples, settings):
    from channels import context_for

    return {rid: context_for(r, samples, settings) for rid, r in samples.items()}


@pytest.fixture(scope="session")
def rendered(samples, contexts):
    """``rendered(channel, rid=the single-release sample)``: a sample's rendition, rendered once (rendering
    is pure), for tests that deliver it through transports."""
    import channels

    cache = {}

    def get(channel, rid="water-price-rumor"):
        if (channel, rid) not in cache:
            cache[(channel, rid)] = channels.render(channel, samples[rid], contexts[rid])
        return cache[(channel, rid)]

    return get


@pytest.fixture
def ctx(settings):
    """The render context of the channel tests' release built in code (``make_release`` in
    tests/test_channel_portal.py, a policy interpretation): it links to its policy document ``DOC_REF``.
    Function-scoped, like the copy each channel test module used to define."""
    from channels.base import RenderContext
    from tests.test_channel_portal import DOC_REF

    return RenderContext(settings, {DOC_REF.id: DOC_REF})


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server for the whole test session (it takes ~12 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# `make test` runs two workers that take one test file at a time (pytest-xdist, --dist loadfile). The files
# that take longest start first, so that the run does not end with one worker busy on a long file and the
# other idle. Ranked by the "slowest test files" of a serial run; a file not listed keeps its place after them.
LONGEST_FIRST = ("test_serve.py", "test_scale.py", "test_bundle.py", "test_killpoints.py", "test_publish_flow.py",
                 "test_schedule.py", "test_reviewers.py", "test_accessibility.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's own order stays


# The slowest test files, printed at the end of every run: where the suite's minutes go (README "Tests").
_FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if len(_FILE_SECONDS) < 2:
        return
    total = sum(_FILE_SECONDS.values())
    terminalreporter.section("slowest test files")
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda kv: -kv[1])[:15]:
        terminalreporter.write_line(f"{seconds:8.1f} s  {seconds / total:4.0%}  {path}")
    terminalreporter.write_line(f"{total:8.1f} s  in all ({len(_FILE_SECONDS)} files, setup and teardown included)")
