"""Migration 0002 (the explicit vocabulary) on a ledger written by the code before it, on SQLite and on
PostgreSQL: every row survives with the right action and version, sign-offs become ``approvals`` and breaker
events ``outlet_state`` (the events stay, all of them), and the new code answers every question about the
migrated ledger as the old code did about the old one.

The old ledger is ``fixtures/ledger-0001.sqlite``, written through the old code's own functions by
``fixtures/legacy_ledger.py`` (which also saved the old code's answers, ``fixtures/ledger-0001.json``); for
PostgreSQL its rows are replayed into a database created by migration 0001. Until upgraded, ``Ledger()``
refuses an old ledger and changes nothing.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from pressroom.delivery import approval, db, doctor
from pressroom.delivery import corrections as cx
from pressroom.delivery.ledger import (
    CORRECT, DISABLED, ENABLED, PUBLISH, REJECT, RETRACT, SIGN_OFF, Ledger, LedgerOutdated, engine_for,
)
from tests.postgres import PG_BINS, postgres

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEGACY = FIXTURES / "ledger-0001.sqlite"
OLD = json.loads((FIXTURES / "ledger-0001.json").read_text(encoding="utf-8"))
NEWS, RUMOR = "water-price-2026", "rumor-2026-03"
DOC, INTERP = "notice-2026-7", "notice-2026-7-interpretation"
V1, V2, BAD = "a1b2c3d4e5f6", "0f9e8d7c6b5a", "badc0ffee123"
OLD_TABLES = ("deliveries", "events")

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_BINS, reason="PostgreSQL not installed (scripts/system-deps.sh --test)"))]


def bundle(content: str) -> list:
    """The policy bundle the fixture signed (what ``approval`` reads of a release)."""
    return [SimpleNamespace(id=DOC, version=f"d-{content}", content_hash=f"doc-{content}"),
            SimpleNamespace(id=INTERP, version=f"i-{content}", content_hash=f"interp-{content}")]


def utc(x):
    if isinstance(x, datetime):
        return x.replace(tzinfo=timezone.utc) if x.tzinfo is None else x.astimezone(timezone.utc)
    return x


def iso(x):
    return utc(x).isoformat() if isinstance(x, datetime) else x


def raw(url: str, tables=OLD_TABLES) -> dict[str, list[dict]]:
    """The tables as stored, row by row (ids included, times in UTC)."""
    eng = sa.create_engine(url, poolclass=NullPool)
    try:
        meta = sa.MetaData()
        meta.reflect(eng, only=list(tables))
        with eng.connect() as conn:
            return {t: [{k: utc(v) for k, v in r._mapping.items()}
                        for r in conn.execute(sa.select(meta.tables[t]).order_by(meta.tables[t].c.id))]
                    for t in tables}
    finally:
        eng.dispose()


def replay(rows: dict[str, list[dict]], url: str) -> None:
    """An old ledger on PostgreSQL: the 0001 tables, as ``pressroom db upgrade`` made them, with these rows."""
    db.upgrade(url, db.BASELINE)
    eng = sa.create_engine(url, poolclass=NullPool)
    try:
        meta = sa.MetaData()
        meta.reflect(eng, only=list(OLD_TABLES))
        with eng.begin() as conn:
            for t in OLD_TABLES:
                conn.execute(meta.tables[t].insert(), rows[t])
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
    finally:
        eng.dispose()


@pytest.fixture(scope="module")
def pg():
    with postgres() as s:
        yield s


@pytest.fixture
def legacy(request, tmp_path):
    """(URL of an old ledger, its rows as the old code left them)."""
    path = tmp_path / "ledger.db"
    shutil.copy(LEGACY, path)
    url = f"sqlite:///{path}"
    original = raw(url)
    if request.param == "postgresql":
        server = request.getfixturevalue("pg")
        name = f"legacy_{uuid.uuid4().hex[:8]}"
        server.psql(f"create database {name}")
        url = server.url(name)
        replay(original, url)
    yield url, original
    try:
        engine_for(url).dispose()  # the cached engine of an upgraded ledger: let go of its connections
    except LedgerOutdated:
        pass


def upgrade_with_the_cli(url: str) -> str:
    from typer.testing import CliRunner

    from pressroom.cli import app

    res = CliRunner().invoke(app, ["db", "upgrade", "--url", url], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


def tables(url: str) -> set[str]:
    eng = sa.create_engine(url, poolclass=NullPool)
    try:
        return set(sa.inspect(eng).get_table_names())
    finally:
        eng.dispose()


@pytest.mark.parametrize("legacy", BACKENDS, indirect=True)
def test_an_old_ledger_is_refused_then_upgraded_keeping_every_row(legacy):
    url, original = legacy
    before = db.status(url)
    assert before.current == (None if url.startswith("sqlite") else "0001")  # made by Ledger() / by db upgrade
    with pytest.raises(LedgerOutdated, match="pressroom db upgrade"):
        Ledger(url)
    assert tables(url) - {"alembic_version"} == set(OLD_TABLES)  # nothing half-created
    assert raw(url) == original

    out = upgrade_with_the_cli(url)
    assert ("已接管迁移前建立的账本并升级到 0004" if before.current is None else "已从 0001 升级到 0004") in out, out
    after = db.status(url)
    assert after.up_to_date and after.drift == [] and after.tables == db.LEDGER_TABLES

    # Every delivery row: same id, same columns, the version withdrawn and the action it always meant.
    retractions = {int(i) for i, r in OLD["is_retraction"].items() if r}
    corrections = {new for _, new, _ in OLD["correction_plan"].values() if new}
    assert len(retractions) == 3 and len(corrections) == 3
    migrated = {d["id"]: d for d in raw(url)["deliveries"]}
    assert set(migrated) == {d["id"] for d in original["deliveries"]}
    for old in original["deliveries"]:
        new = dict(migrated[old["id"]])
        steps = json.loads(old["steps"])
        if old["id"] in retractions:
            assert old["version"] == f"retract-{steps['withdrawal']['withdraws']}"
            want = (steps["withdrawal"]["withdraws"], RETRACT)
        else:
            want = (old["version"], CORRECT if old["id"] in corrections else PUBLISH)
        assert (new.pop("version"), new.pop("action")) == want, old
        assert new == {k: v for k, v in old.items() if k != "version"}, old

    # The audit trail is untouched: the same events, sign-offs and breaker changes included.
    assert raw(url)["events"] == original["events"]

    ledger = Ledger(url)
    rows = {d.id: d for d in ledger.rows()}
    assert {str(i): cx.is_retraction(d) for i, d in rows.items()} == OLD["is_retraction"]
    assert ledger.get(RUMOR, "portal", BAD).action == PUBLISH and ledger.get(RUMOR, "portal", BAD).state == "retracted"
    assert ledger.get(RUMOR, "portal", BAD, RETRACT).id == OLD["retraction_rows"][RUMOR]["portal"]
    assert ledger.get(NEWS, "newspaper", V2).action == CORRECT  # a correction not yet sent
    assert {d.id for d in ledger.rows(action=RETRACT)} == retractions

    # Approvals: one per sign-off or rejection event, read back through the new API.
    decided = [e for e in original["events"] if e["action"] in ("signoff", "rejected")]
    assert len(decided) == 6
    for e in decided:
        a = next(a for a in ledger.approvals(e["release_id"], e["version"]) if a.at == e["at"])
        detail = json.loads(e["detail"])
        assert (a.decision, a.reviewer, a.level, a.role, a.comment, a.run_id, a.versions) == (
            SIGN_OFF if e["action"] == "signoff" else REJECT, e["actor"], detail["level"], detail["role"],
            detail["comment"], detail["run"], detail["versions"])
    assert sum(len(ledger.approvals(rid)) for rid in (DOC, INTERP)) == len(decided)
    for content in ("one", "two"):
        assert approval.signature(bundle(content)) == OLD["signatures"][content]
        assert [{k: iso(v) for k, v in d.items()} for d in approval.decisions(ledger, bundle(content))] \
            == OLD["decisions"][content]
    assert approval.next_level(ledger, bundle("two"), approval.Policy(("责任编辑", "分管领导"), frozenset(), True, 1)) \
        == "分管领导"

    # Outlets: the newest trip or reset of each.
    assert {o: doctor.disabled_reason(ledger, o) for o in OLD["disabled"]} == OLD["disabled"]
    breaker = [e for e in original["events"] if e["release_id"] == doctor.BREAKER_ID]
    states = ledger.outlet_states()
    assert set(states) == {"wechat", "weibo", "smtp", "cms"}
    for name, s in states.items():
        last = [e for e in breaker if e["channel"] == name][-1]
        assert (s.state, s.reason, s.since, s.actor) == (
            DISABLED if last["action"] == doctor.DISABLED else ENABLED, last["detail"], last["at"], last["actor"])
    assert states["smtp"].actor == "worker-1" and states["weibo"] == ledger.outlet_state("weibo")
    assert states["weibo"].state == ENABLED and states["weibo"].actor == "运维"
    assert ledger.outlet_state("outbox") is None

    # Everything else the old code answered, the new code answers alike.
    assert {rid: {ch: d.id for ch, d in cx.retraction_rows(ledger.rows(rid)).items()} for rid in (NEWS, RUMOR)} \
        == OLD["retraction_rows"]
    assert {rid: cx.is_retracted(ledger.rows(rid)) for rid in (NEWS, RUMOR)} == OLD["is_retracted"]
    assert {rid: {ch: [d.id for d in ds] for ch, ds in cx.live_rows(ledger.rows(rid)).items()}
            for rid in (NEWS, RUMOR)} == OLD["live_rows"]
    assert {ch: [i.old.id, i.new.id if i.new else None, i.done]
            for ch, i in cx.correction_plan(ledger.rows(NEWS), V2).items()} == OLD["correction_plan"]
    assert cx.old_text(ledger.rows(NEWS), V1) == OLD["old_text"]
    assert iso(cx.first_published(ledger.rows(RUMOR))) == OLD["first_published"]
    corrected, withdrawn = cx._portal_history(ledger.rows())
    assert {rid: [c.to_json() for c in cs] for rid, cs in corrected.items()} == OLD["portal_corrected"]
    assert {rid: w.to_json() for rid, w in withdrawn.items()} == OLD["portal_withdrawn"]
    for rid, entries in OLD["history"].items():  # what `pressroom history` prints
        assert [[iso(e["at"]), e["channel"], e["version"], e["action"], e["actor"], e["detail"]]
                for e in ledger.history(rid)] == entries, rid

    # And the migrated ledger takes new rows: ids go on, keys hold.
    top = max(rows)
    assert ledger.ensure(NEWS, "tv", V2).id > top
    assert ledger.ensure(RUMOR, "portal", BAD, RETRACT).id == OLD["retraction_rows"][RUMOR]["portal"]
    with pytest.raises(sa.exc.IntegrityError):
        with ledger.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO deliveries (release_id, channel, version, action, state, attempts, "
                                 "content_hash, external_id, url, steps, last_error, claimed_by, created_at, "
                                 "updated_at) SELECT release_id, channel, version, action, state, attempts, "
                                 "content_hash, external_id, url, steps, last_error, claimed_by, created_at, "
                                 f"updated_at FROM deliveries WHERE id = {top}"))
    events = len(original["events"])
    doctor.trip(ledger, "outbox", "测试")
    doctor.trip(ledger, "smtp", "已停用，不再记录")
    assert doctor.reset(ledger, "cms") and not doctor.reset(ledger, "wechat")
    approval.record(ledger, bundle("three"), "责任编辑", True, "孙编辑")
    assert len(raw(url)["events"]) == events + 2  # outbox tripped, cms reset; a decision is not an event
    assert approval.next_level(ledger, bundle("three"), approval.Policy(("责任编辑",), frozenset(), True, 1)) is None
    assert [e["actor"] for e in ledger.history(DOC) if e["action"] == "signoff"] == ["王审稿", "钱编辑", "孙编辑"]


@pytest.mark.parametrize("legacy", BACKENDS, indirect=True)
def test_downgrade_gives_the_old_rows_back(legacy):
    from alembic import command

    url, original = legacy
    db.upgrade(url)
    approval.record(Ledger(url), bundle("three"), "责任编辑", False, "孙编辑", comment="请补充依据")
    command.downgrade(db.alembic_config(url), db.BASELINE)
    assert db.status(url).current == "0001" and tables(url) - {"alembic_version"} == set(OLD_TABLES)
    back = raw(url)
    assert back["deliveries"] == original["deliveries"]
    assert back["events"][:len(original["events"])] == original["events"]
    added = back["events"][len(original["events"]):]  # decisions made since the upgrade, as events again
    assert [(e["release_id"], e["action"], e["actor"]) for e in added] == [(DOC, "rejected", "孙编辑"),
                                                                          (INTERP, "rejected", "孙编辑")]
    assert json.loads(added[0]["detail"])["comment"] == "请补充依据"
    eng = sa.create_engine(url, poolclass=NullPool)
    try:
        uniques = sa.inspect(eng).get_unique_constraints("deliveries")
    finally:
        eng.dispose()
    assert [(u["name"], u["column_names"]) for u in uniques] == [("uq_delivery", ["release_id", "channel", "version"])]
    db.upgrade(url)
    assert db.status(url).up_to_date
    assert len(raw(url, ("approvals",))["approvals"]) == 8


def test_a_fresh_ledger_is_created_and_one_newer_than_the_code_refused(tmp_path):
    fresh = f"sqlite:///{tmp_path}/fresh.db"
    Ledger(fresh).ensure(NEWS, "portal", V1)
    assert tables(fresh) == db.LEDGER_TABLES and db.status(fresh).drift == []  # made whole, adopted by upgrade
    newer = f"sqlite:///{tmp_path}/newer.db"
    db.upgrade(newer)
    eng = sa.create_engine(newer, poolclass=NullPool)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    eng.dispose()
    with pytest.raises(LedgerOutdated, match="比本程序新"):
        Ledger(newer)


# ---------------------------------------------------------------------------------------------
# Migration 0003: the reviewers' one-time codes (``code_uses``, ``reviewer_locks``); nothing else changes.


@pytest.fixture
def at_0002(request, tmp_path):
    """A ledger at revision 0002 with the rows of the old fixture upgraded, stamped by ``db upgrade``."""
    if request.param == "postgresql":
        server = request.getfixturevalue("pg")
        name = f"at0002_{uuid.uuid4().hex[:8]}"
        server.psql(f"create database {name}")
        url = server.url(name)
        replay(raw(f"sqlite:///{LEGACY}"), url)
    else:
        shutil.copy(LEGACY, tmp_path / "ledger.db")
        url = f"sqlite:///{tmp_path}/ledger.db"
    db.upgrade(url, "0002")
    yield url
    try:
        engine_for(url).dispose()
    except LedgerOutdated:
        pass


@pytest.mark.parametrize("at_0002", BACKENDS, indirect=True)
def test_0003_adds_the_code_tables_and_keeps_every_row(at_0002):
    from datetime import timedelta

    url = at_0002
    kept = raw(url, ("deliveries", "events", "approvals"))
    with pytest.raises(LedgerOutdated, match="pressroom db upgrade"):
        Ledger(url)  # the code needs the new tables: refused until upgraded, nothing half-created
    assert "code_uses" not in tables(url)
    out = upgrade_with_the_cli(url)
    assert "已从 0002 升级到 0004" in out, out
    after = db.status(url)
    assert after.up_to_date and after.drift == [] and {"code_uses", "reviewer_locks"} <= after.tables
    assert raw(url, ("deliveries", "events", "approvals")) == kept
    ledger = Ledger(url)
    assert ledger.use_code("王审稿", 59_000_000) and not ledger.use_code("王审稿", 59_000_000)  # once
    assert ledger.use_code("钱编辑", 59_000_000)  # per reviewer
    for _ in range(4):
        assert ledger.code_failed("王审稿", 5, timedelta(minutes=5)) is None
    assert ledger.code_failed("王审稿", 5, timedelta(minutes=5)) is not None
    assert ledger.locked_until("王审稿") is not None and ledger.locked_until("钱编辑") is None
    from alembic import command

    engine_for(url).dispose()
    command.downgrade(db.alembic_config(url), "0002")
    assert "code_uses" not in tables(url) and raw(url, ("deliveries", "events", "approvals")) == kept


def test_an_unstamped_ledger_of_the_previous_code_is_adopted_at_0002(tmp_path):
    """A ledger ``Ledger()`` of the 0002 code created (never stamped) is adopted at 0002, then upgraded."""
    from pressroom.delivery.schema import metadata

    url = f"sqlite:///{tmp_path}/made-by-0002.db"
    eng = sa.create_engine(url, poolclass=NullPool)
    metadata.create_all(eng, tables=[t for n, t in metadata.tables.items() if n not in db.LACKS["0002"]])
    eng.dispose()
    before, after = db.upgrade(url)
    assert before.current is None and after.up_to_date and after.tables == db.LEDGER_TABLES


# Migration 0004: the waived findings of the fidelity audit (``audit_waivers``); nothing else changes.


@pytest.mark.parametrize("at_0002", BACKENDS, indirect=True)
def test_0004_adds_the_waiver_table_and_keeps_every_row(at_0002):
    from alembic import command

    url = at_0002
    db.upgrade(url, "0003")
    kept = raw(url, ("deliveries", "events", "approvals"))
    with pytest.raises(LedgerOutdated, match="pressroom db upgrade"):
        Ledger(url)  # the code needs the new table: refused until upgraded
    assert "audit_waivers" not in tables(url)
    out = upgrade_with_the_cli(url)
    assert "已从 0003 升级到 0004" in out, out
    after = db.status(url)
    assert after.up_to_date and after.drift == [] and after.tables == db.LEDGER_TABLES
    assert raw(url, ("deliveries", "events", "approvals")) == kept
    ledger = Ledger(url)
    assert ledger.add_waiver(NEWS, V1, "0a1b2c3d", "tv", "电视：出现了……", "模板固定文字", "王审稿")
    assert not ledger.add_waiver(NEWS, V1, "0a1b2c3d", "tv", "电视：出现了……", "再次豁免", "钱编辑")  # once
    (w,) = ledger.waivers(NEWS)
    assert (w["finding"], w["reviewer"], w["reason"]) == ("0a1b2c3d", "王审稿", "模板固定文字")
    assert any(e["action"] == "audit-waived" and e["actor"] == "王审稿" for e in ledger.history(NEWS))
    engine_for(url).dispose()
    command.downgrade(db.alembic_config(url), "0003")
    assert "audit_waivers" not in tables(url) and raw(url, ("deliveries", "approvals")) == {
        k: v for k, v in kept.items() if k != "events"}


def test_an_unstamped_ledger_of_the_0003_code_is_adopted_at_0003(tmp_path):
    from pressroom.delivery.schema import metadata

    url = f"sqlite:///{tmp_path}/made-by-0003.db"
    eng = sa.create_engine(url, poolclass=NullPool)
    metadata.create_all(eng, tables=[t for n, t in metadata.tables.items() if n not in db.LACKS["0003"]])
    eng.dispose()
    before, after = db.upgrade(url)
    assert before.current is None and after.up_to_date and after.tables == db.LEDGER_TABLES


def test_the_revisions_read_from_the_scripts_are_alembics():
    """Opening a ledger reads the head and the known revisions from the scripts' lines, without Alembic:
    the same answer Alembic gives (else a ledger at the head would be refused, or an old one accepted)."""
    from alembic.script import ScriptDirectory

    from pressroom.delivery import db

    scripts = ScriptDirectory.from_config(db.alembic_config(""))
    assert db._chain() == (scripts.get_current_head(), frozenset(r.revision for r in scripts.walk_revisions()))
