"""Scale-out on the documented production layout, started by ``scripts/stack.sh``: PostgreSQL from
Debian's package on 127.0.0.1 in a temporary folder, the Prefect server on PostgreSQL, one process work pool,
two workers. Fifty releases (WeChat, Weibo and portal each — the three API outlets; the other channels are
left out to keep the run near three minutes on two cores) are scheduled for the same second through the
outlet doubles, with random faults injected; then every (release, channel) is published exactly once and
the ledger and the doubles agree row by row. Also: migrations on PostgreSQL and SQLite, and the claim under
many concurrent processes on PostgreSQL.

PostgreSQL comes from ``scripts/system-deps.sh --test`` (CI); without it these tests are skipped. The fault
seed is printed; ``PRESSROOM_SCALE_SEED=n`` replays one.
"""

from __future__ import annotations

import contextvars
import multiprocessing as mp
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT
from tests.postgres import PG_BINS, Stack
from tests.servers.cms import CMSServer
from tests.servers.harness import CREDENTIALS, settings_text
from tests.servers.wechat import WeChatServer
from tests.servers.weibo import SHARE, WeiboServer

pytestmark = pytest.mark.skipif(not PG_BINS, reason="PostgreSQL not installed (scripts/system-deps.sh --test)")

RELEASES = 50
CHANNELS = ("wechat", "weibo", "portal")
TRANSPORTS = {"wechat": "wechat", "weibo": "weibo", "portal": "cms"}
SAMPLE = "water-price-rumor"
RETRY_DELAYS = "0.5,1,2,4,8"  # the flow's task retries (production default: 5, 30, 120 s)
DEADLINE = 600  # at most, for the fifty runs (they take ~3 minutes on 2 cores; a loaded machine is slower)
DRAFT_ADD, SUBMIT, GET = "/cgi-bin/draft/add", "/cgi-bin/freepublish/submit", "/cgi-bin/freepublish/get"
# Faults the pipeline must absorb without a duplicate or a lost release (each consumed by whichever
# release's request comes next). Faults that end in "unconfirmed" by design (a reply lost before the
# platform acted) are left out: they wait for an editor, not for a retry.
FAULTS = [
    ("wechat", DRAFT_ADD, "5xx", {}), ("wechat", DRAFT_ADD, "drop-after", {}),
    ("wechat", SUBMIT, "errcode", {"code": -1}), ("wechat", SUBMIT, "errcode", {"code": 45011}),
    ("wechat", SUBMIT, "drop-after", {}), ("wechat", SUBMIT, "expire-token", {}),
    ("wechat", GET, "drop-after", {}), ("wechat", GET, "5xx", {}),
    ("wechat", "/cgi-bin/material/add_material", "5xx", {}),
    ("weibo", SHARE, "error", {"code": 20016}),  # (10022–10024 wait for the next hour: test_quota_wait)
    ("weibo", SHARE, "5xx", {}), ("weibo", SHARE, "drop-after", {}), ("weibo", SHARE, "error-after", {"code": 20019}),
    ("cms", "page", "5xx", {}), ("cms", "page", "drop-after", {}),
]


def make_releases(content: Path, prefix: str, n: int, publish_at: datetime | None, sample: str = SAMPLE) -> list[str]:
    """n copies of a sample release (with its pictures) under new ids and titles (so each outlet post is
    distinct), on the three API outlets; ``publish_at`` None keeps the sample's own."""
    src = (ROOT / "content" / "releases" / sample / "release.md").read_text(encoding="utf-8")
    when = f"publish_at: {publish_at.isoformat()}" if publish_at else r"publish_at: \1"
    ids = []
    for i in range(n):
        rid = f"{prefix}-{i:03d}"
        text = re.sub(r"(?m)^id: .*$", f"id: {rid}", src)
        text = re.sub(r"(?m)^title: (.*)$", lambda m: f"title: {m.group(1)}（{prefix}{i + 1}）", text)
        text = re.sub(r"(?m)^channels: .*\n", "", text)
        text = re.sub(r"(?m)^publish_at: (.*)$", f"{when}\nchannels: [{', '.join(CHANNELS)}]", text)
        shutil.copytree(ROOT / "content" / "releases" / sample, content / "releases" / rid)
        (content / "releases" / rid / "release.md").write_text(text, encoding="utf-8")
        ids.append(rid)
    return ids


def make_workspace(root: Path, outlets: SimpleNamespace, rate_limits: str) -> Path:
    """Content (registry only, releases added later), settings for the doubles, outbox."""
    content = root / "content"
    (content / "releases").mkdir(parents=True)
    for f in (ROOT / "content").glob("*.yaml"):
        shutil.copy(f, content / f.name)
    text = settings_text(root, outlets, TRANSPORTS, wechat_timeout="5", wechat_connect_timeout="5",
                         weibo_timeout="5", cms_timeout="5", wechat_poll_delays="[0.2, 0.5, 1, 2, 4, 8]",
                         wechat_lookup_pages="5", weibo_lookup_count="100")
    text = re.sub(r'(?m)^content = .*$', f'content = "{content}"', text)
    (root / "pressroom.toml").write_text(text + rate_limits, encoding="utf-8")
    return root / "pressroom.toml"


class CountingCMS(CMSServer):
    """The CMS double, counting the PUTs it acted on per page (a re-sent page would count twice)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.stored: dict[str, int] = {}

    def handle(self, req, fault=None):
        resp = super().handle(req, fault)
        if req.method == "PUT" and resp.status in (200, 201):
            self.stored[req.path] = self.stored.get(req.path, 0) + 1
        return resp


def start_outlets() -> SimpleNamespace:
    wechat = WeChatServer(appid=CREDENTIALS["PRESSROOM_WECHAT_APPID"], secret=CREDENTIALS["PRESSROOM_WECHAT_SECRET"],
                          quotas={SUBMIT: 10**6, GET: 10**6, DRAFT_ADD: 10**6})
    weibo = WeiboServer(token=CREDENTIALS["PRESSROOM_WEIBO_TOKEN"], hourly_limit=10**6)
    cms = CountingCMS(token=CREDENTIALS["PRESSROOM_CMS_TOKEN"])
    for s in (wechat, weibo, cms):
        s.start()
    smtp = SimpleNamespace(port=25, username="unused", cert="/nonexistent")  # no mail channel here
    return SimpleNamespace(wechat=wechat, weibo=weibo, cms=cms, smtp=smtp)


RATE_LIMITS = """
[rate_limits]
wechat = { per_second = 40, burst = 20 }
weibo = { per_second = 20, burst = 10 }
"""


@pytest.fixture(scope="module")
def outlets():
    o = start_outlets()
    yield o
    for s in (o.wechat, o.weibo, o.cms):
        s.stop()


@pytest.fixture(scope="module")
def stack(outlets):
    """The stack's PostgreSQL first (the claim and migration tests need only it); ``stack.full()`` adds
    the Prefect server, work pool, deployments, rate limits and two workers."""
    root = Path(tempfile.mkdtemp(prefix="pressroom-scale-"))
    config = make_workspace(root, outlets, RATE_LIMITS)
    env = {**CREDENTIALS, "PRESSROOM_CONFIG": str(config), "PRESSROOM_RETRY_DELAYS": RETRY_DELAYS}
    s = Stack(root, env)
    s.started = False

    def full():
        if not s.started:
            t = time.monotonic()
            s.run("start", "2")
            s.start_seconds = time.monotonic() - t
            s.started = True
        return s

    s.full = full
    s.run("db")
    try:
        yield s
    finally:
        s.run("stop", timeout=120)
        shutil.rmtree(s.dir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


# -- migrations ---------------------------------------------------------------------------------------

def test_migrations_build_exactly_the_ledger_tables_on_postgresql_and_sqlite(stack, tmp_path):
    from alembic import command

    from pressroom.delivery import db
    from pressroom.delivery.ledger import Ledger

    pg = db.status(stack.ledger_url)  # stack.sh ran `pressroom db upgrade` on an empty database
    tables = {"deliveries", "events", "approvals", "outlet_state", "code_uses", "reviewer_locks", "audit_waivers"}
    assert pg.current == db.head() and pg.drift == [] and pg.tables == tables

    lite = f"sqlite:///{tmp_path}/new.db"
    before, after = db.upgrade(lite)
    assert before.current is None and not before.tables
    assert after.up_to_date and after.tables == tables
    command.downgrade(db.alembic_config(lite), "base")  # the way back works too
    assert db.status(lite).tables == set()
    assert db.upgrade(lite)[1].up_to_date

    # A ledger Ledger() made by itself before migrations (SQLite default, or PostgreSQL) is adopted.
    stack.psql("create database legacy")
    for url in (f"sqlite:///{tmp_path}/old.db", stack.ledger_url.rsplit("/", 1)[0] + "/legacy"):
        old = Ledger(url)
        old.ensure("r1", "wechat", "v1")
        assert db.status(url).current is None
        before, after = db.upgrade(url)
        assert before.tables and after.up_to_date, after.drift
        assert [d.release_id for d in Ledger(url).rows()] == ["r1"]  # nothing lost


def test_pressroom_db_commands(stack, tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    cli = [str(Path(sys.executable).parent / "pressroom")]
    current = subprocess.run([*cli, "db", "current", "--url", url], capture_output=True, text=True)
    assert current.returncode == 1 and "pressroom db upgrade" in current.stderr
    up = subprocess.run([*cli, "db", "upgrade", "--url", url], capture_output=True, text=True)
    assert up.returncode == 0 and "已建立账本数据表" in up.stdout, up.stderr
    again = subprocess.run([*cli, "db", "current", "--url", stack.ledger_url], capture_output=True, text=True)
    assert again.returncode == 0 and "已是最新" in again.stdout, again.stderr


# -- the claim under concurrency ----------------------------------------------------------------------

def _claimers(url: str, rows: int, threads: int, start_at: float, q, done) -> None:
    """One process: ``threads`` threads claim every row, all starting at the same moment. It stays alive
    until every process is done: one that had exited would be a crashed claimer, rightly taken over."""
    import threading

    from pressroom.delivery.ledger import Ledger, worker_token

    ledger = Ledger(url)
    won: list[tuple[int, str]] = []
    lock = threading.Lock()

    def claim_all():
        token = worker_token()
        for i in range(rows):
            d = ledger.get(f"race-{i:03d}", "wechat", "v1")
            if ledger.claim(d, token):
                with lock:
                    won.append((i, token))

    ts = [threading.Thread(target=claim_all) for _ in range(threads)]
    while time.time() < start_at:
        time.sleep(0.005)
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put(won)
    done.wait(120)


def test_claim_on_postgresql_has_one_winner_among_many_processes(stack):
    """6 processes × 4 threads claim the same 60 rows at once (half new, half left 'delivering' by a
    claimer that died): each row is won exactly once, and the ledger names that winner."""
    from pressroom.delivery.ledger import DELIVERING, Ledger

    ledger = Ledger(stack.ledger_url)
    dead = subprocess.Popen(["true"])
    dead.wait()
    dead_token = f"{socket.gethostname()}:{dead.pid}:crashed"
    rows = 60
    for i in range(rows):
        d = ledger.ensure(f"race-{i:03d}", "wechat", "v1")
        if i % 2:
            ledger._update(d, state=DELIVERING, claimed_by=dead_token, claimed_at=d.created_at, attempts=1)
    ctx = mp.get_context("spawn")
    q, done = ctx.Queue(), ctx.Event()
    start_at = time.time() + 4  # after every process has imported and connected
    procs = [ctx.Process(target=_claimers, args=(stack.ledger_url, rows, 4, start_at, q, done)) for _ in range(6)]
    for p in procs:
        p.start()
    wins = [w for _ in procs for w in q.get(timeout=120)]
    done.set()
    for p in procs:
        p.join(30)
    by_row: dict[int, list[str]] = {}
    for i, token in wins:
        by_row.setdefault(i, []).append(token)
    assert sorted(by_row) == list(range(rows)) and all(len(t) == 1 for t in by_row.values()), \
        {i: t for i, t in by_row.items() if len(t) != 1}
    for i, (token,) in by_row.items():
        d = ledger.get(f"race-{i:03d}", "wechat", "v1")
        assert d.state == DELIVERING and d.claimed_by == token
        assert d.attempts == (2 if i % 2 else 1)  # a takeover counts as a second attempt


# -- rate limits ---------------------------------------------------------------------------------------

def test_rate_limits_without_a_server_or_limit_never_block(monkeypatch, stack):
    import prefect.concurrency.sync
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from pressroom.transports import ratelimit as concurrency
    from pressroom.settings import load_settings

    def must_not_be_called(*a, **kw):
        raise AssertionError("throttle contacted Prefect without a server")

    with monkeypatch.context() as m:
        m.setattr(prefect.concurrency.sync, "rate_limit", must_not_be_called)
        with temporary_settings(updates={PREFECT_API_URL: ""}):
            concurrency.throttle("wechat")  # embedded default: nothing to ask

    defaults = {lim.outlet: lim for lim in concurrency.limits_from(None)}
    assert defaults["wechat"].per_second == 5 and defaults["weibo"].per_second == pytest.approx(30 / 3600)
    ours = {lim.outlet: lim for lim in concurrency.limits_from(load_settings(stack.env["PRESSROOM_CONFIG"]))}
    assert (ours["wechat"].per_second, ours["wechat"].burst, ours["weibo"].burst) == (40, 20, 10)
    assert concurrency._parse("weibo", {"per_minute": 6}).per_second == pytest.approx(0.1)
    with pytest.raises(ValueError, match="速率应大于 0"):
        concurrency._parse("wechat", {"burst": 3})
    assert not concurrency._parse("weibo", False).active

    stack.full()
    with stack.settings():
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:  # stack.sh created them from the settings
            made = {lim.outlet: client.read_global_concurrency_limit_by_name(lim.name) for lim in ours.values()}
        assert {o: (m.limit, m.slot_decay_per_second, m.active) for o, m in made.items()} == {
            "wechat": (20, 40.0, True), "weibo": (10, 20.0, True)}
        concurrency.ensure_limits(load_settings(stack.env["PRESSROOM_CONFIG"]))  # again: updated, not doubled
        concurrency._missing.clear()
        concurrency.throttle("no-such-outlet", wait_seconds=5)  # the server has no such limit: go on
        assert concurrency.limit_name("no-such-outlet") in concurrency._missing


# -- fifty releases at once on two workers -------------------------------------------------------------

class FaultInjector:
    """Random faults while the releases go out: one every ``every`` seconds from ``start_at``, never two
    waiting on the same path (so no single delivery meets more faults in a row than its retries absorb),
    a portal fault only on a page not yet published. ``consumed()``: those the doubles have used."""

    def __init__(self, outlets, rng: random.Random, ids: list[str], n: int, every: float, start_at: float):
        import threading

        self.outlets, self.rng, self.ids, self.n, self.every, self.start_at = outlets, rng, ids, n, every, start_at
        self.injected: list[tuple[object, str, str]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(10)

    def _pending(self, server, path: str) -> bool:
        with server.lock:
            return any(f.path == path for f in server.faults)

    def _run(self):
        self.stopped.wait(max(0.0, self.start_at - time.time()))
        while len(self.injected) < self.n and not self.stopped.is_set():
            outlet, path, kind, kw = self.rng.choice(FAULTS)
            server = getattr(self.outlets, outlet)
            if path == "page":
                with server.lock:
                    waiting = [r for r in self.ids if f"/releases/{r}" not in server.pages]
                if not waiting:
                    continue
                path = f"/releases/{self.rng.choice(waiting)}"
            if self._pending(server, path):
                self.stopped.wait(0.2)
                continue
            server.inject(path, kind, **kw)
            self.injected.append((server, path, f"{outlet} {path} {kind} {kw or ''}".strip()))
            self.stopped.wait(self.every)

    def consumed(self) -> int:
        return sum(not self._pending(server, path) for server, path, _ in self.injected)

    def describe(self) -> str:
        return "; ".join(d for _, _, d in self.injected)


def _flow_runs(ids: set[str]):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    runs: list = []
    with get_client(sync_client=True) as client:
        while True:  # the API answers 200 at most: page through every run of the flow
            page = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["publish-release"])),
                                         limit=200, offset=len(runs))
            runs += page
            if len(page) < 200:
                break
    return [r for r in runs if r.parameters.get("release") in ids]


def _acquisitions(limit: str) -> int:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    f = EventFilter(event=EventNameFilter(name=["prefect.concurrency-limit.acquired"]),
                    resource=EventResourceFilter(labels={"prefect.resource.name": limit}))
    with get_client(sync_client=True) as client:
        return client.read_events(filter=f, limit=1).total


def load_catalog(stack: Stack):
    from pressroom.releases.catalog import validate
    from pressroom.settings import load_settings

    return validate(load_settings(stack.env["PRESSROOM_CONFIG"]), render=False)


def schedule_all(catalog, ids: list[str]) -> list:
    """Schedule every release through ``pressroom.delivery.schedule`` at once (8 threads; call inside
    ``stack.settings()``)."""
    from pressroom.delivery import schedule

    contexts = [contextvars.copy_context() for _ in ids]  # the settings, carried into the threads
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda c, rid: c.run(schedule.schedule, catalog.releases[rid], catalog), contexts, ids))


def wait_for_runs(ids: list[str], seconds: float) -> dict[str, str]:
    """The final state of each release's flow run (or the state it was in at the deadline)."""
    deadline = time.monotonic() + seconds
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {r.parameters["release"]: r.state_type.value for r in _flow_runs(set(ids))}
        if len(states) == len(ids) and all(s in FINAL for s in states.values()):
            break
        time.sleep(3)
    return states


FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def latencies(rows, ids: list[str], at: datetime) -> list[float]:
    """Seconds from the scheduled time to the last channel published, per release (published ones)."""
    last: dict[str, datetime] = {}
    for d in rows:
        if d.published_at and d.release_id in ids:
            last[d.release_id] = max(last.get(d.release_id, d.published_at), d.published_at)
    return sorted((t - at).total_seconds() for t in last.values())


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] if sorted_values else float("nan")


def outlet_copies(outlets, ids: list[str], titles: dict[str, str]) -> dict[str, dict[str, int]]:
    """How many copies of each release each double holds (WeChat drafts and publications, Weibo posts,
    CMS PUTs of its page); exactly-once means all ones."""
    by_title = {v: k for k, v in titles.items()}
    out: dict[str, dict[str, int]] = {k: dict.fromkeys(ids, 0) for k in ("draft", "wechat", "weibo", "portal")}
    for news in outlets.wechat.drafts:
        for a in news:
            if a["title"] in by_title:
                out["draft"][by_title[a["title"]]] += 1
    for p in outlets.wechat.publications:
        for a in p["content"]["news_item"]:
            if a["title"] in by_title:
                out["wechat"][by_title[a["title"]]] += 1
    wanted = {f"/xwfb/{r}.html": r for r in ids}
    for p in outlets.weibo.posts:
        m = re.search(r"/xwfb/[a-z0-9-]+\.html", outlets.weibo.originals[p["idstr"]])
        if m and m.group() in wanted:
            out["weibo"][wanted[m.group()]] += 1
    for path, n in outlets.cms.stored.items():
        rid = path.rsplit("/", 1)[-1]
        if rid in out["portal"]:
            out["portal"][rid] += n
    return out


def test_fifty_releases_at_once_on_two_workers_are_each_published_exactly_once(stack, outlets):
    from pressroom.transports.ratelimit import limit_name
    from pressroom.delivery.ledger import PUBLISHED, Ledger

    stack.full()
    seed = int(os.environ.get("PRESSROOM_SCALE_SEED") or random.randrange(10**6))
    rng = random.Random(seed)
    at = (datetime.now(timezone.utc) + timedelta(seconds=15)).replace(microsecond=0)
    ids = make_releases(stack.workspace / "content", "scale", RELEASES, at)
    catalog = load_catalog(stack)
    assert set(ids) <= set(catalog.releases), catalog.problems
    titles = {rid: catalog.releases[rid].title for rid in ids}

    faults = FaultInjector(outlets, rng, ids, n=16, every=4, start_at=at.timestamp() + 10)
    with stack.settings(), faults:
        t0 = time.monotonic()
        runs = schedule_all(catalog, ids)
        scheduled_in = time.monotonic() - t0
        assert len({r.id for r in runs}) == RELEASES
        assert all(abs((r.scheduled_at - at).total_seconds()) < 1 for r in runs)
        states = wait_for_runs(ids, DEADLINE)
        waited = time.monotonic() - t0
        print(f"\nseed {seed}; {faults.consumed()} of {len(faults.injected)} faults met: {faults.describe()}")
        assert faults.consumed() >= 8  # the run really went through faults
        assert states == dict.fromkeys(ids, "COMPLETED"), (
            {k: v for k, v in states.items() if v != "COMPLETED"}, stack.logs())

        # The ledger: one published row per (release, channel), nothing else, nothing missing.
        rows = [d for d in Ledger(stack.ledger_url).rows() if d.release_id.startswith("scale-")]
        assert sorted((d.release_id, d.channel) for d in rows) == sorted((r, c) for r in ids for c in CHANNELS)
        assert all(d.state == PUBLISHED for d in rows), [(d.release_id, d.channel, d.state, d.last_error)
                                                         for d in rows if d.state != PUBLISHED]
        row = {(d.release_id, d.channel): d for d in rows}

        # The outlets: exactly one copy of each release on each (and one WeChat draft), none of anything else.
        copies = outlet_copies(outlets, ids, titles)
        assert {k: {r: n for r, n in v.items() if n != 1} for k, v in copies.items()} == dict.fromkeys(copies, {})
        assert len(outlets.wechat.publications) == len(outlets.weibo.posts) == len(outlets.cms.pages) == RELEASES

        # Row by row: the ledger holds what each platform answered for that release.
        wechat_url = {a["title"]: a["url"] for p in outlets.wechat.publications for a in p["content"]["news_item"]}
        assert {r: row[(r, "wechat")].url for r in ids} == {r: wechat_url[titles[r]] for r in ids}
        weibo_id = {re.search(r"/xwfb/([a-z0-9-]+)\.html", outlets.weibo.originals[p["idstr"]]).group(1): p["idstr"]
                    for p in outlets.weibo.posts}
        assert {r: row[(r, "weibo")].external_id for r in ids} == {r: weibo_id[r] for r in ids}
        assert {r: row[(r, "portal")].url for r in ids} == {
            r: f"https://www.huainan.gov.cn/xwfb/{r}.html" for r in ids}

        # The per-outlet rate limits were in force: every WeChat and Weibo call took a slot.
        deadline = time.monotonic() + 30  # events reach the server shortly after the runs end
        while time.monotonic() < deadline and (_acquisitions(limit_name("weibo")) < RELEASES
                                               or _acquisitions(limit_name("wechat")) < 4 * RELEASES):
            time.sleep(2)
        assert _acquisitions(limit_name("wechat")) >= 4 * RELEASES  # token, cover, draft, submit, polls
        assert _acquisitions(limit_name("weibo")) >= RELEASES

    secs = latencies(rows, ids, at)
    print(f"stack started in {stack.start_seconds:.0f} s; {RELEASES} releases scheduled in {scheduled_in:.1f} s "
          f"(due {15} s after scheduling began); all runs finished after {waited:.0f} s; trigger→published "
          f"p50 {statistics.median(secs):.1f} s, p95 {percentile(secs, 0.95):.1f} s; rows retried: "
          f"{sum(d.attempts > 1 for d in rows)}")
