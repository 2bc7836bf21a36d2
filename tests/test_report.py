"""The "2·1+N" compliance report on a crafted year: departments meeting, missing and exceeding the rule, and
each accountability case, with the evidence an inspector reads. Publication times are given as a mapping
(what the ledger would say), so no Prefect is needed except for the one flow test at the end."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image as PILImage

from pressroom.sites import report as rp
from pressroom.model import Department, Liaison, Registry, Speaker
from tests.browser import browser  # noqa: F401  (a fixture)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2027, 1, 2, 9, 0, tzinfo=TZ)
YEAR = rp.Period(2026)


def t(month, day, hour=10, minute=0, year=2026):
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


class Year:
    """Builds releases from a sample and records when each was published."""

    def __init__(self, samples, registry):
        self.base = samples["work-report-2026-q3"]
        self.registry = registry
        self.releases = {}
        self.published = {}

    def add(self, rid, dep, when, *, kind="routine", conference=True, head=True, published=True, **kw):
        persons = sorted(self.registry.speakers_of(dep), key=lambda s: not s.head)
        speakers = tuple(persons[:1]) if head else tuple(p for p in persons if not p.head)[:1]
        r = dataclasses.replace(self.base, id=rid, title=f"{dep}稿件{rid}", kind=kind,
                                department=self.registry.departments[dep], speakers=speakers,
                                publish_at=when, press_conference=conference, **kw)
        self.releases[rid] = r
        if published:
            self.published[rid] = when if published is True else published
        return r

    def report(self, settings, period=YEAR, now=NOW):
        return rp.build_report(self.releases.values(), self.registry, self.published, period, now, settings)


@pytest.fixture
def year(samples, registry):
    y = Year(samples, registry)
    # 发改委 (listed): one conference each half, the head at one -> meets the rule.
    y.add("fgw-1", "发改委", t(3, 10))
    y.add("fgw-2", "发改委", t(9, 10), head=False)
    # 教育 (listed): two each half -> exceeds.
    for i, when in enumerate([t(1, 5), t(4, 5), t(8, 5), t(11, 5)]):
        y.add(f"jy-{i}", "教育", when, head=i == 0)
    # 科技 (listed): nothing in the second half -> behind twice over.
    y.add("kj-1", "科技", t(5, 20))
    # 公安 (listed): one each half but the head never spoke -> behind.
    y.add("ga-1", "公安", t(2, 1), head=False)
    y.add("ga-2", "公安", t(10, 1), head=False)
    # 财政 (listed): document and interpretation at one conference count once, plus one in H2 -> exactly 2.
    y.add("cz-doc", "财政", t(6, 1), kind="policy-document", document_number="淮财〔2026〕1号")
    y.add("cz-jd", "财政", t(6, 1, 10, 2), kind="policy", interprets="cz-doc")
    y.add("cz-2", "财政", t(12, 1))
    # Not counted: a written release, an unpublished conference, last year's conference.
    y.add("kj-written", "科技", t(10, 10), conference=False)
    y.add("kj-draft", "科技", t(11, 10), published=False)
    y.add("kj-2025", "科技", t(11, 10, year=2025))
    # Other departments: one (meets), none (behind), two (exceeds).
    y.add("sj-1", "市审计局", t(9, 1))
    y.add("xcb-1", "市委宣传部", t(2, 2))
    y.add("xcb-2", "市委宣传部", t(8, 2))
    return y


def test_listed_departments_against_2_1_n(year, settings):
    rep = year.report(settings)
    fgw = rep.row("发改委")
    assert (fgw.conferences, fgw.total, fgw.head_attended, fgw.status) == ({1: 1, 2: 1}, 2, True, rp.MET)
    assert fgw.heads == ("林志远",) and fgw.reasons == ()
    jy = rep.row("教育")
    assert (jy.conferences, jy.status, jy.status_label) == ({1: 2, 2: 2}, rp.EXCEEDED, "超额完成")
    kj = rep.row("科技")
    assert (kj.conferences, kj.status) == ({1: 1, 2: 0}, rp.BEHIND)
    assert kj.reasons == ("下半年未举行新闻发布会",)
    assert kj.conference_ids == ("kj-1",)  # not the written release, the draft or last year's
    assert kj.releases == 2  # kj-1 and the written release were published this year
    ga = rep.row("公安")
    assert (ga.total, ga.head_attended, ga.status) == (2, False, rp.BEHIND)
    assert ga.reasons == ("主要负责人全年未出席新闻发布会",)
    cz = rep.row("财政")
    assert (cz.conferences, cz.status) == ({1: 1, 2: 1}, rp.MET)
    assert cz.conference_ids == ("cz-2", "cz-doc", "cz-jd")


def test_other_departments_need_one_a_year(year, settings):
    rep = year.report(settings)
    assert (rep.row("市审计局").total, rep.row("市审计局").status) == (1, rp.MET)
    assert rep.row("市委宣传部").status == rp.EXCEEDED
    xf = rep.row("市信访局")
    assert (xf.status, xf.reasons) == (rp.BEHIND, ("全年未举行新闻发布会",))


def test_every_row_of_the_year(year, settings, registry):
    rep = year.report(settings)
    assert [r.key for r in rep.rows] == list(registry.departments)  # every department, registry order
    expected = {"发改委": rp.MET, "教育": rp.EXCEEDED, "科技": rp.BEHIND, "公安": rp.BEHIND, "财政": rp.MET,
                "市审计局": rp.MET, "市委宣传部": rp.EXCEEDED}
    for row in rep.rows:
        want = expected.get(row.key, rp.BEHIND)  # everyone else held nothing
        assert row.status == want, row.key
        if row.key not in expected:
            assert row.total == 0
            assert row.reasons == (("上半年未举行新闻发布会", "下半年未举行新闻发布会", "主要负责人全年未出席新闻发布会")
                                   if row.listed else ("全年未举行新闻发布会",))
    assert len(rep.behind) == sum(1 for k in registry.departments if k not in expected) + 2


def test_half_year_report_judges_the_half(year, settings):
    rep = year.report(settings, rp.Period(2026, 1), now=t(7, 1, 9))
    assert rep.row("科技").status == rp.MET  # its H1 conference is enough for H1
    assert rep.row("公安").status == rp.MET  # the head's attendance is a yearly rule
    assert rep.row("教育").status == rp.EXCEEDED
    assert rep.row("市审计局").status == rp.PENDING  # its one conference is still to come, in September
    assert rep.row("市委宣传部").status == rp.MET
    assert rep.row("发改委").conferences == {1: 1}
    h2 = year.report(settings, rp.Period(2026, 2))
    assert (h2.row("科技").status, h2.row("科技").reasons) == (rp.BEHIND, ("本半年未举行新闻发布会",))
    assert h2.row("市委宣传部").status == rp.MET and h2.row("市审计局").status == rp.MET


def test_scheduled_runs_report_the_period_before():
    assert rp.previous_period(t(7, 1, 9)) == rp.Period(2026, 1)
    assert rp.previous_period(datetime(2027, 1, 2, 9, tzinfo=TZ)) == rp.Period(2026)
    assert rp.Period(2026, 1).bounds(TZ) == (t(1, 1, 0), t(7, 1, 0))
    assert rp.Period(2026).label == "2026年度" and rp.Period(2026, 2).slug == "2026-h2"


# ---------------------------------------------------------------------------------------------
# Accountability (R7)


@pytest.fixture
def accountable(year):
    y = year
    # A policy document whose interpretation was written but never published.
    y.add("fgw-doc", "发改委", t(3, 1), kind="policy-document", conference=False, document_number="淮发改〔2026〕3号")
    y.add("fgw-jd", "发改委", t(3, 1), kind="policy", interprets="fgw-doc", conference=False, published=False)
    # An interpretation two days after its document; and a bundle published together (no flag).
    y.add("mz-doc", "民政", t(4, 1), kind="policy-document", conference=False, document_number="淮民〔2026〕2号")
    y.add("mz-jd", "民政", t(4, 3), kind="policy", interprets="mz-doc", conference=False)
    y.add("sw-doc", "商务", t(4, 8), kind="policy-document", conference=False, document_number="淮商〔2026〕1号")
    y.add("sw-jd", "商务", t(4, 8, 10, 5), kind="policy", interprets="sw-doc", conference=False)
    # Emergency 1: information in 2 h, but the conference 31 h after the event.
    y.add("e1", "公安", t(5, 10, 4), kind="emergency", conference=False, event_at=t(5, 10, 2))
    y.add("e1-u1", "公安", t(5, 11, 9), kind="emergency", follow_up_of="e1", event_at=t(5, 10, 2))
    # Emergency 2: first information 7 h after the event, conference in time.
    y.add("e2", "市应急办", t(8, 1, 15), kind="emergency", conference=False, event_at=t(8, 1, 8))
    y.add("e2-u1", "市应急办", t(8, 1, 20), kind="emergency", follow_up_of="e2", event_at=t(8, 1, 8))
    # Emergency 3: information in time, never a conference.
    y.add("e3", "市应急办", t(9, 1, 12), kind="emergency", conference=False, event_at=t(9, 1, 10))
    # Opinion cases: answered after 72 h (late), after 24 h (in time).
    y.add("o1", "发改委", t(6, 4, 10), kind="opinion", conference=False, event_at=t(6, 1, 10))
    y.add("o2", "教育", t(6, 12, 10), kind="opinion", conference=False, event_at=t(6, 11, 10))
    # Last year's late emergency is not this year's business.
    y.add("e0", "公安", t(12, 30, 12, year=2025), kind="emergency", conference=False, event_at=t(12, 29, 1, year=2025))
    return y


def flags(rep, kind):
    return {f.release_id: f for f in rep.flags_of(kind)}


def test_policy_documents_without_or_behind_their_interpretation(accountable, settings):
    rep = accountable.report(settings)
    un = flags(rep, rp.UNINTERPRETED)
    assert set(un) == {"fgw-doc"}
    assert un["fgw-doc"].evidence == ("政策文件《发改委稿件fgw-doc》（淮发改〔2026〕3号）于2026年3月1日 10:00发布，"
                                      "截至2027年1月2日 09:00未发布政策解读；解读稿 fgw-jd 已编写但未发布")
    late = flags(rep, rp.LATE_INTERPRETATION)
    assert set(late) == {"mz-jd"}  # sw-jd came 5 minutes after its document: published together
    assert late["mz-jd"].evidence.endswith("于2026年4月3日 10:00发布，晚2天（应同步发布）")
    assert late["mz-jd"].department == "市民政局"


def test_emergencies_and_opinion_cases_against_their_clocks(accountable, settings):
    rep = accountable.report(settings)
    conf = flags(rep, rp.NO_CONFERENCE)
    assert set(conf) == {"e1", "e3"}
    assert conf["e1"].evidence == ("事件发生于2026年5月10日 02:00，于2026年5月11日 09:00举行新闻发布会，"
                                   "超过24小时时限7小时")
    assert conf["e1"].at == t(5, 11, 9) and conf["e1"].due == t(5, 11, 2)
    assert conf["e3"].evidence == ("事件发生于2026年9月1日 10:00，截至2027年1月2日 09:00未举行新闻发布会"
                                   "（时限24小时，应于2026年9月2日 10:00前）")
    assert conf["e3"].at is None
    first = flags(rep, rp.LATE_FIRST_INFORMATION)
    assert set(first) == {"e2"}
    assert "于2026年8月1日 15:00发布权威信息，超过5小时时限2小时" in first["e2"].evidence
    opinion = flags(rep, rp.LATE_OPINION)
    assert set(opinion) == {"o1"} and "超过48小时时限1天" in opinion["o1"].evidence
    assert "e0" not in {f.release_id for f in rep.flags}
    assert len(rep.flags) == 6


def test_the_opinion_limit_is_configurable(accountable, settings):
    strict = dataclasses.replace(settings, compliance=dataclasses.replace(settings.compliance, opinion_hours=12))
    opinion = flags(accountable.report(strict), rp.LATE_OPINION)
    assert set(opinion) == {"o1", "o2"}
    assert "超过12小时时限12小时" in opinion["o2"].evidence


def test_n_counts_emergency_and_opinion_releases(accountable, settings):
    rep = accountable.report(settings)
    assert rep.row("公安").extra == 2 and rep.row("市应急办").extra == 3 and rep.row("发改委").extra == 1


# ---------------------------------------------------------------------------------------------
# Outputs


def test_csv_markdown_and_html(accountable, settings, tmp_path):
    rep = accountable.report(settings)
    files = rp.write_report(rep, tmp_path)
    raw = files["departments.csv"].read_bytes()
    assert raw.startswith("\ufeff".encode())  # Excel needs the BOM for Chinese
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == len(rep.rows)
    kj = next(r for r in rows if r["部门"] == "淮南市科学技术局")
    assert (kj["上半年发布会"], kj["下半年发布会"], kj["结果"]) == ("1", "0", "未达标")
    assert "下半年未举行新闻发布会" in kj["原因"]
    fl = list(csv.DictReader(io.StringIO(files["flags.csv"].read_text(encoding="utf-8-sig"))))
    assert [f["稿件"] for f in fl] == ["fgw-doc", "mz-jd", "e2", "e1", "e3", "o1"]
    md = files["report.md"].read_text(encoding="utf-8")
    assert "![各部门新闻发布会召开情况](chart.png)" in md
    assert "| 淮南市科学技术局 | 2·1+N | 1 场 | 下半年未举行新闻发布会 |" in md
    assert "政策解读未与文件同步发布" in md and "超过24小时时限7小时" in md
    page = files["report.html"].read_text(encoding="utf-8")
    assert '<img src="chart.png"' in page and "<script" not in page
    assert page.count('<tr class="behind">') == 2 * len(rep.behind)  # the behind table and the detail rows


def test_an_empty_flag_list_still_gives_a_csv_with_its_header(year, settings, tmp_path):
    rep = rp.build_report([], year.registry, {}, YEAR, NOW, settings)
    files = rp.write_report(rep, tmp_path)
    assert files["flags.csv"].read_bytes().decode("utf-8-sig") == "问题,部门,稿件,标题,依据\r\n"


def red_pixels(png: bytes) -> int:
    with PILImage.open(io.BytesIO(png)) as im:
        colours = dict((c, n) for n, c in im.convert("RGB").getcolors(maxcolors=1 << 20))
    return colours.get(rp.COLORS[rp.BEHIND][0], 0)


def test_the_chart_shows_who_falls_behind_in_red(accountable, settings):
    rep = accountable.report(settings)
    png = rp.chart_png(rep)
    assert png == rp.chart_png(rep)  # deterministic
    with PILImage.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.width == 1200
        assert im.height > 30 * len(rep.rows)  # a row per department
        assert not im.info  # no metadata chunks
    assert red_pixels(png) > 1000
    order = [r.key for _, rows in rp.chart_rows(rep) for r in rows]
    assert order.index("科技") < order.index("发改委")  # falling behind comes first in its group
    assert order.index("市信访局") > order.index("发改委")  # listed departments first


def test_a_chart_with_nobody_behind_has_no_red_bars(settings):
    dep = Department("审计", "淮南市审计局", "市审计局", False)
    head = Speaker("甲", "局长", "审计", True)
    reg = Registry({"审计": dep}, {"甲": head}, {"审计": Liaison("乙", "科长", "审计")})
    rep = rp.build_report([], reg, {}, YEAR, NOW, settings)
    assert rep.row("审计").status == rp.BEHIND and red_pixels(rp.chart_png(rep)) > 0
    ok = rp.Report(YEAR, NOW, [dataclasses.replace(rep.rows[0], conferences={1: 1, 2: 0}, status=rp.MET, reasons=())], [])
    png = rp.chart_png(ok)
    assert red_pixels(png) == 0


# ---------------------------------------------------------------------------------------------
# The flow


@pytest.fixture
def flow_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESSROOM_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("PRESSROOM_LEDGER_URL", f"sqlite:///{tmp_path}/ledger.db")
    return tmp_path


def test_the_flow_writes_the_report_and_its_artifacts(prefect_server, flow_workspace, samples):
    from prefect.client.orchestration import get_client

    from flows.compliance import compliance_report
    from pressroom.delivery.ledger import Ledger

    ledger = Ledger(f"sqlite:///{flow_workspace}/ledger.db")
    for rid in ("notice-2017-78", "water-price-rumor"):  # published now, i.e. in this year
        d = ledger.ensure(rid, "portal", samples[rid].version)
        ledger.mark_published(ledger.claim(d, "test"), "test", url="https://example/")
    year = datetime.now(TZ).year
    result = compliance_report(year=year)
    folder = flow_workspace / "outbox" / "reports" / str(year)
    assert sorted(p.name for p in folder.iterdir()) == ["chart.png", "departments.csv", "flags.csv",
                                                        "report.html", "report.md"]
    assert result["period"] == str(year) and "发改委" in result["behind"]
    flags = (folder / "flags.csv").read_text(encoding="utf-8-sig")
    assert "notice-2017-78" in flags  # the document went out without its interpretation
    with get_client(sync_client=True) as client:
        art = client.read_latest_artifacts()
    keys = {a.key for a in art}
    assert {f"compliance-{year}", f"compliance-{year}-chart"} <= keys
    table = next(a for a in art if a.key == f"compliance-{year}")
    assert "未达标部门 38 个" in table.description  # the samples hold no press conference
    rows = json.loads(table.data)
    assert len(rows) == 38 and rows[0]["部门"] == "淮南市发展和改革委员会" and rows[0]["结果"] == "未达标"


def test_the_report_page_in_chromium(accountable, settings, tmp_path, browser):
    from tests.browser import DESKTOP, PHONE, open_page

    files = rp.write_report(accountable.report(settings), tmp_path)
    for name, viewport in (("375", PHONE), ("1280", DESKTOP)):
        check = open_page(browser, files["report.html"], viewport, shot=f"report-{name}")
        assert not check.overflows, name  # wide tables scroll inside their wrapper
        assert check.title_visible
        assert any(u.endswith("/chart.png") for u in check.requests)
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(files["report.html"].resolve().as_uri())
        width = page.evaluate("document.querySelector('.chart img').naturalWidth")
        shown = page.evaluate("document.querySelector('.chart img').getBoundingClientRect().width")
        frame = page.evaluate("document.querySelector('.chart-scroll').getBoundingClientRect().width")
        # The chart loads, stays readable on a phone (not shrunk to a thumbnail) and scrolls in its frame.
        assert width == 1200 and shown == 760 and frame <= PHONE["width"]
    finally:
        context.close()
