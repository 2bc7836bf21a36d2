"""The "2·1+N" compliance report (R6) and the accountability flags (R7), per department and half year.

Rules (淮宣〔2017〕78号 二（一）、（三）):
* a listed department (``listed: true``, the 31 of the notice) holds at least one press conference each half
  year and at least two a year, and its head (``head: true``) speaks at one or more of them a year;
* any other department holds at least one a year;
* N: the releases on emergencies and hot issues (kinds emergency and opinion), counted, not required.

A press conference is a published release with ``press_conference: true``; a policy document and its
interpretation held together count once. "Published" and "when" come from the ledger (first publication on
any channel), passed in as a mapping, so the report is a pure function of its inputs.

Accountability flags, each with its evidence: a policy document without a published interpretation; an
interpretation published later than its document (beyond ``interpretation_grace_minutes``); an emergency
without a press conference within 24 h or without authoritative information within 5 h; a public-opinion
case answered later than ``opinion_hours`` (the event clocks of ``pressroom.delivery.deadlines``).
Limits can be set in ``pressroom.toml`` under ``[compliance]``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Iterable, Mapping

from pressroom import clock
from pressroom.delivery import deadlines
from pressroom.delivery.ledger import PUBLISHED
from pressroom.model import Registry, Release
from pressroom.settings import Settings

MET, EXCEEDED, BEHIND, PENDING = "met", "exceeded", "behind", "pending"
STATUS_LABELS = {MET: "达标", EXCEEDED: "超额完成", BEHIND: "未达标", PENDING: "待全年考核"}

UNINTERPRETED = "uninterpreted"
LATE_INTERPRETATION = "late-interpretation"
LATE_FIRST_INFORMATION = "late-first-information"
NO_CONFERENCE = "emergency-no-conference"
LATE_OPINION = "late-opinion"
LATE_PUBLICATION = "late-publication"
FLAG_LABELS = {
    UNINTERPRETED: "重大政策未解读",
    LATE_INTERPRETATION: "政策解读未与文件同步发布",
    LATE_FIRST_INFORMATION: "突发事件未及时发布权威信息",
    NO_CONFERENCE: "突发事件24小时内未举行新闻发布会",
    LATE_OPINION: "政务舆情回应不及时",
    LATE_PUBLICATION: "晚于发布时间发布",
}
CLOCK_FLAGS = {"首发权威信息": LATE_FIRST_INFORMATION, "召开新闻发布会": NO_CONFERENCE, "回应社会关切": LATE_OPINION}


# ---------------------------------------------------------------------------------------------
# Periods


@dataclass(frozen=True)
class Period:
    year: int
    half: int | None = None  # None: the whole year

    def __post_init__(self):
        if self.half not in (None, 1, 2):
            raise ValueError("half must be 1, 2 or None")

    def bounds(self, tz) -> tuple[datetime, datetime]:
        """[start, end) in the city's zone."""
        start_month = 7 if self.half == 2 else 1
        start = datetime(self.year, start_month, 1, tzinfo=tz)
        end = datetime(self.year, 7, 1, tzinfo=tz) if self.half == 1 else datetime(self.year + 1, 1, 1, tzinfo=tz)
        return start, end

    @property
    def halves(self) -> tuple[int, ...]:
        return (self.half,) if self.half else (1, 2)

    @property
    def label(self) -> str:
        return f"{self.year}年" + {None: "度", 1: "上半年", 2: "下半年"}[self.half]

    @property
    def slug(self) -> str:
        return f"{self.year}-h{self.half}" if self.half else str(self.year)


def previous_period(now: datetime) -> Period:
    """What a scheduled run reports: in the second half year the first half, in January the whole last year."""
    return Period(now.year, 1) if now.month >= 7 else Period(now.year - 1)


# ---------------------------------------------------------------------------------------------
# The report's values


@dataclass(frozen=True)
class DepartmentRow:
    key: str
    name: str
    short: str
    listed: bool
    conferences: Mapping[int, int]  # half -> press conferences held
    head_attended: bool
    heads: tuple[str, ...]  # the head(s) who spoke at a conference in the period
    extra: int  # N: emergency and public-opinion releases published
    releases: int  # every release published
    status: str
    reasons: tuple[str, ...]  # why it falls behind (Chinese)
    conference_ids: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(self.conferences.values())

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def rule(self) -> str:
        return "2·1+N" if self.listed else "一年一会"


@dataclass(frozen=True)
class Flag:
    kind: str
    department: str  # short name
    release_id: str
    title: str
    evidence: str  # Chinese, with the times
    due: datetime | None = None
    at: datetime | None = None  # when it happened, None if it never did

    @property
    def label(self) -> str:
        return FLAG_LABELS[self.kind]


@dataclass
class Report:
    period: Period
    generated_at: datetime
    rows: list[DepartmentRow]
    flags: list[Flag]
    city: str = ""
    press_office: str = ""
    limits: dict = field(default_factory=dict)

    @property
    def behind(self) -> list[DepartmentRow]:
        return [r for r in self.rows if r.status == BEHIND]

    def row(self, key: str) -> DepartmentRow:
        return next(r for r in self.rows if r.key == key)

    def flags_of(self, kind: str) -> list[Flag]:
        return [f for f in self.flags if f.kind == kind]


# ---------------------------------------------------------------------------------------------
# Building


def _fmt(dt: datetime | None, tz) -> str:
    if dt is None:
        return ""
    d = dt.astimezone(tz)
    return f"{d.year}年{d.month}月{d.day}日 {d:%H:%M}"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days}天"] if days else []) + ([f"{hours}小时"] if hours else []) + ([f"{mins}分钟"] if mins and not days else [])
    return "".join(parts) or "不到1分钟"


class _PublishedLedger:
    """Just enough of a Ledger for ``deadlines.clocks``: one published row per release."""

    def __init__(self, published: Mapping[str, datetime]):
        self.published = published

    def rows(self, release_id: str):
        t = self.published.get(release_id)
        return [SimpleNamespace(state=PUBLISHED, published_at=t)] if t else []


def limits(settings: Settings) -> dict:
    cfg = settings.compliance
    return {"opinion_hours": cfg.opinion_hours, "interpretation_grace_minutes": cfg.interpretation_grace_minutes}


def build_report(releases: Iterable[Release], registry: Registry, published: Mapping[str, datetime],
                 period: Period, now: datetime, settings: Settings) -> Report:
    tz = settings.tz
    start, end = period.bounds(tz)
    everything = {r.id: r for r in releases}
    pub = {rid: t for rid, t in published.items() if rid in everything and t < now}
    lim = limits(settings)

    def in_period(rid: str) -> bool:
        return rid in pub and start <= pub[rid] < end

    def half_of(t: datetime) -> int:
        return 1 if t.astimezone(tz).month <= 6 else 2

    # Press conferences, a policy bundle counted once (at its first publication).
    conferences: dict[tuple[str, str], list[Release]] = {}
    for r in everything.values():
        if r.press_conference and in_period(r.id):
            bundle = r.interprets if r.kind == "policy" and r.interprets else r.id
            conferences.setdefault((r.department.key, bundle), []).append(r)
    # Year to date, for the yearly rule of the other departments in a half-year report.
    year_start = datetime(period.year, 1, 1, tzinfo=tz)
    ytd = {r.department.key for r in everything.values()
           if r.press_conference and r.id in pub and year_start <= pub[r.id] < end}

    rows = []
    for key, dep in registry.departments.items():
        groups = [g for (k, _), g in conferences.items() if k == key]
        counts = {h: 0 for h in period.halves}
        for g in groups:
            counts[half_of(min(pub[x.id] for x in g))] += 1
        heads = sorted({s.name for g in groups for x in g for s in x.speakers if s.head})
        mine = [r for r in everything.values() if r.department.key == key and in_period(r.id)]
        status, reasons = _judge(dep.listed, counts, bool(heads), period, key in ytd)
        rows.append(DepartmentRow(
            key, dep.name, dep.short, dep.listed, counts, bool(heads), tuple(heads),
            sum(r.kind in ("emergency", "opinion") for r in mine), len(mine), status, tuple(reasons),
            tuple(sorted(x.id for g in groups for x in g))))

    flags = (_policy_flags(everything, pub, start, end, now, tz, lim) + _clock_flags(everything, pub, start, end, now, tz, lim)
             + _late_flags(everything, pub, start, end, tz))
    flags.sort(key=lambda f: (list(FLAG_LABELS).index(f.kind), f.department, f.release_id))
    return Report(period, now, rows, flags, settings.city.name, settings.city.press_office, lim)


def _judge(listed: bool, counts: dict[int, int], head: bool, period: Period, held_this_year: bool):
    total = sum(counts.values())
    reasons = []
    if listed and period.half is None:
        # One per half year is the rule; fewer than two a year always means a half year without one.
        for h, label in ((1, "上半年"), (2, "下半年")):
            if counts[h] < 1:
                reasons.append(f"{label}未举行新闻发布会")
        if not head:
            reasons.append("主要负责人全年未出席新闻发布会")
        return (BEHIND if reasons else EXCEEDED if total > 2 else MET), reasons
    if listed:
        if total < 1:
            return BEHIND, ["本半年未举行新闻发布会"]
        return (EXCEEDED if total > 1 else MET), []
    if period.half is None or period.half == 2:
        if total < 1 and not held_this_year:
            return BEHIND, ["全年未举行新闻发布会"]
    elif total < 1:
        return PENDING, []
    return (EXCEEDED if total > 1 else MET), []


def _late_flags(everything, pub, start, end, tz) -> list[Flag]:
    """Releases that went out later than their ``publish_at``: the time their pages show and how late
    (``pub`` holds the 发布时间 the pages show, to the minute)."""
    flags = []
    for rid, at in sorted(pub.items()):
        r = everything[rid]
        late = timedelta(minutes=clock.shown_time(r.publish_at, at)[1])
        if start <= at < end and late > timedelta(0):
            flags.append(Flag(LATE_PUBLICATION, r.department.short, r.id, r.title,
                              f"定于{_fmt(r.publish_at, tz)}发布，实际{_fmt(at, tz)}发布，"
                              f"晚{_duration(late)}（{late.total_seconds() // 60:.0f}分钟）",
                              due=r.publish_at, at=at))
    return flags


def _policy_flags(everything, pub, start, end, now, tz, lim) -> list[Flag]:
    flags = []
    grace = timedelta(minutes=lim["interpretation_grace_minutes"])
    for doc in everything.values():
        if doc.kind != "policy-document" or doc.id not in pub or not start <= pub[doc.id] < end:
            continue
        at = pub[doc.id]
        number = f"（{doc.document_number}）" if doc.document_number else ""
        interps = sorted((r for r in everything.values() if r.interprets == doc.id), key=lambda r: r.id)
        done = [r for r in interps if r.id in pub]
        if not done:
            pending = f"；解读稿 {'、'.join(r.id for r in interps)} 已编写但未发布" if interps else ""
            flags.append(Flag(UNINTERPRETED, doc.department.short, doc.id, doc.title,
                              f"政策文件《{doc.title}》{number}于{_fmt(at, tz)}发布，截至{_fmt(now, tz)}未发布政策解读{pending}",
                              at=None))
            continue
        for r in done:
            late = pub[r.id] - at
            if late > grace:
                flags.append(Flag(LATE_INTERPRETATION, r.department.short, r.id, r.title,
                                  f"政策文件《{doc.title}》{number}于{_fmt(at, tz)}发布，解读《{r.title}》于"
                                  f"{_fmt(pub[r.id], tz)}发布，晚{_duration(late)}（应同步发布）",
                                  due=at + grace, at=pub[r.id]))
    return flags


def _clock_flags(everything, pub, start, end, now, tz, lim) -> list[Flag]:
    catalog = SimpleNamespace(releases=everything)
    opinion_hours = timedelta(hours=lim["opinion_hours"])
    flags = []
    for c in deadlines.clocks(catalog, _PublishedLedger(pub), now):
        first = everything[c.event_id]
        event_at = first.event_at or first.publish_at
        if not start <= event_at < end:
            continue
        due, status = c.due, c.status
        if c.rule == "回应社会关切" and due != event_at + opinion_hours:  # a configured limit
            due = event_at + opinion_hours
            status = (deadlines.MET if c.met_at <= due else deadlines.LATE) if c.met_at else \
                (deadlines.BREACHED if now >= due else deadlines.OPEN)
        if status not in (deadlines.LATE, deadlines.BREACHED):
            continue
        hours = f"{(due - event_at).total_seconds() / 3600:g}小时"
        what = {"首发权威信息": "发布权威信息", "召开新闻发布会": "举行新闻发布会", "回应社会关切": "回应社会关切"}[c.rule]
        if c.met_at:
            evidence = (f"事件发生于{_fmt(event_at, tz)}，于{_fmt(c.met_at, tz)}{what}，"
                        f"超过{hours}时限{_duration(c.met_at - due)}")
        else:
            evidence = f"事件发生于{_fmt(event_at, tz)}，截至{_fmt(now, tz)}未{what}（时限{hours}，应于{_fmt(due, tz)}前）"
        flags.append(Flag(CLOCK_FLAGS[c.rule], first.department.short, first.id, first.title, evidence, due, c.met_at))
    return flags


# ---------------------------------------------------------------------------------------------
# Outputs


def table(report: Report) -> list[dict]:
    """One row per department, Chinese column names: the CSV and the Prefect table artifact."""
    out = []
    for r in report.rows:
        row = {"部门": r.name, "机制": r.rule}
        for h in report.period.halves:
            row[{1: "上半年发布会", 2: "下半年发布会"}[h]] = r.conferences[h]
        row.update({
            "发布会合计": r.total,
            "主要负责人出席": "是（" + "、".join(r.heads) + "）" if r.head_attended else "否",
            "N（突发/舆情发布）": r.extra,
            "发布总数": r.releases,
            "结果": r.status_label,
            "原因": "；".join(r.reasons),
        })
        out.append(row)
    return out


def flag_table(report: Report) -> list[dict]:
    return [dict(zip(FLAG_COLUMNS, (f.label, f.department, f.release_id, f.title, f.evidence)))
            for f in report.flags]


FLAG_COLUMNS = ["问题", "部门", "稿件", "标题", "依据"]


def to_csv(rows: list[dict], columns: list[str] | None = None) -> bytes:
    """UTF-8 with a BOM: Excel on a Chinese Windows desktop opens it without mojibake."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns or list(rows[0]), lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _view(report: Report, chart: str) -> dict:
    tz = None if report.generated_at.tzinfo is None else report.generated_at.tzinfo
    listed = [r for r in report.rows if r.listed]
    return {
        "report": report, "period": report.period, "chart": chart, "city": report.city,
        "generated": _fmt(report.generated_at, tz), "rows": table(report), "flags": flag_table(report),
        "behind": report.behind, "listed_total": len(listed),
        "listed_met": sum(r.status in (MET, EXCEEDED) for r in listed),
        "others_total": len(report.rows) - len(listed),
        "others_met": sum(r.status in (MET, EXCEEDED) for r in report.rows if not r.listed),
        "conferences": sum(r.total for r in report.rows),
        "flag_counts": [(label, len(report.flags_of(kind))) for kind, label in FLAG_LABELS.items()],
        "columns": list(table(report)[0]) if report.rows else [],
    }


def to_markdown(report: Report, chart: str = "chart.png") -> str:
    from channels.base import render_template

    return render_template("report/report.md", **_view(report, chart))


def to_html(report: Report, chart: str = "chart.png") -> str:
    from channels.base import render_template

    return render_template("report/report.html", **_view(report, chart))


def write_report(report: Report, folder: Path) -> dict[str, Path]:
    """report.md, report.html, departments.csv, flags.csv and chart.png in ``folder``."""
    from pressroom.files import write_atomic

    files = {
        "report.md": to_markdown(report).encode("utf-8"),
        "report.html": to_html(report).encode("utf-8"),
        "departments.csv": to_csv(table(report)),
        "flags.csv": to_csv(flag_table(report), FLAG_COLUMNS),
        "chart.png": chart_png(report),
    }
    out = {}
    for name, data in files.items():
        write_atomic(Path(folder) / name, data)
        out[name] = Path(folder) / name
    return out


# ---------------------------------------------------------------------------------------------
# The chart: one bar per department, halves stacked, falling-behind in red


COLORS = {
    BEHIND: ((198, 40, 40), (239, 154, 154)),
    PENDING: ((120, 120, 120), (190, 190, 190)),
    MET: ((21, 101, 192), (144, 202, 249)),
    EXCEEDED: ((21, 101, 192), (144, 202, 249)),
}
INK, MUTED, GRID, BAND = (34, 34, 34), (110, 110, 110), (225, 225, 225), (253, 236, 234)


def _font(size: int, bold: bool = False):
    try:
        from pressroom.text.linebreak import load_cjk_font
    except ImportError:  # before the line-breaking module existed
        from PIL import ImageFont

        name = "NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc"
        return ImageFont.truetype(f"/usr/share/fonts/opentype/noto/{name}", size, index=2)
    return load_cjk_font(size, bold=bold)


def _short_reasons(row: DepartmentRow) -> str:
    out = []
    for reason in row.reasons:
        if reason.startswith("上半年"):
            out.append("上半年缺")
        elif reason.startswith("下半年"):
            out.append("下半年缺")
        elif "主要负责人" in reason:
            out.append("负责人未出席")
        elif reason.startswith("本半年") or reason.startswith("全年未"):
            out.append("未召开")
    return "、".join(out)


def chart_rows(report: Report) -> list[tuple[str, list[DepartmentRow]]]:
    """Groups as drawn: listed departments, then the others; in each, who falls behind first."""
    order = {BEHIND: 0, PENDING: 1, MET: 2, EXCEEDED: 2}
    groups = []
    for title, listed in (("“2·1+N”重点部门", True), ("其他部门", False)):
        rows = [r for r in report.rows if r.listed == listed]
        rows.sort(key=lambda r: (order[r.status], -r.total, report.rows.index(r)))
        if rows:
            groups.append((title, rows))
    return groups


# Layout, in pixels: department names left of CHART_LABEL_W, bars after it, counts in the right margin.
CHART_W, CHART_LABEL_W, CHART_RIGHT = 1200, 250, 210
CHART_TOP, CHART_ROW, CHART_GROUP_GAP, CHART_BOTTOM = 190, 30, 44, 90


def chart_png(report: Report) -> bytes:
    from PIL import Image, ImageDraw

    groups = chart_rows(report)
    n_rows = sum(len(g) for _, g in groups)
    height = CHART_TOP + n_rows * CHART_ROW + len(groups) * CHART_GROUP_GAP + CHART_BOTTOM
    img = Image.new("RGB", (CHART_W, height), "white")
    d = ImageDraw.Draw(img)
    _draw_heading(d, report)
    _draw_legend(d, report)
    max_total = max([r.total for r in report.rows] + [3])
    unit = (CHART_W - CHART_LABEL_W - CHART_RIGHT) / max_total  # the width of one conference
    y = CHART_TOP
    for title, rows in groups:
        y = _draw_group(d, report, title, rows, y, unit, max_total)
    small_f = _font(16)
    for i in range(max_total + 1):  # axis numbers under the last group
        gx = CHART_LABEL_W + i * unit
        d.text((gx - d.textlength(str(i), font=small_f) / 2, y + 4), str(i), font=small_f, fill=MUTED)
    footer = f"统计期间：{report.period.label}；截至{_fmt(report.generated_at, report.generated_at.tzinfo)}；数据来源：发布台账"
    d.text((40, height - 44), footer, font=small_f, fill=MUTED)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)  # no metadata chunks: the same report gives the same bytes
    return buf.getvalue()


def _draw_heading(d, report: Report) -> None:
    """Title, the rule being measured and the one-line verdict."""
    behind = report.behind
    d.text((40, 28), f"{report.period.label}各部门新闻发布会召开情况", font=_font(34, True), fill=INK)
    rule = ("重点部门每半年至少1场、全年至少2场，主要负责人至少出席1次；其他部门全年至少1场"
            if report.period.half is None else "重点部门本半年至少1场；其他部门全年至少1场")
    d.text((40, 80), rule, font=_font(19), fill=MUTED)
    summary = f"未达标 {len(behind)} 个部门" if behind else "全部部门达标"
    d.text((40, 112), summary, font=_font(22, True), fill=COLORS[BEHIND][0] if behind else COLORS[MET][0])


def _draw_legend(d, report: Report) -> None:
    """The legend, right of the verdict: a swatch per half (per colour), then the required-count mark."""
    small_f = _font(16)
    x = 330
    halves = report.period.halves
    legend = [(COLORS[MET][0], "上半年" if halves == (1, 2) else "发布会"), (COLORS[MET][1], "下半年")][:len(halves)]
    if report.behind:
        legend += [(COLORS[BEHIND][0], "未达标")]
    for colour, label in legend:
        d.rectangle((x, 118, x + 22, 136), fill=colour)
        d.text((x + 30, 114), label, font=small_f, fill=INK)
        x += 48 + int(d.textlength(label, font=small_f))
    d.line((x, 114, x, 140), fill=INK, width=3)
    d.text((x + 10, 114), "要求场次", font=small_f, fill=INK)


def _draw_group(d, report: Report, title: str, rows: list[DepartmentRow], y: int, unit: float,
                max_total: int) -> int:
    """One group of departments under its title, from ``y`` down; returns the ``y`` below it."""
    d.text((40, y + 8), title, font=_font(20, True), fill=INK)
    y += CHART_GROUP_GAP
    top = y
    for i in range(max_total + 1):  # grid, one line per conference
        gx = CHART_LABEL_W + i * unit
        d.line((gx, top - 6, gx, top + len(rows) * CHART_ROW), fill=GRID, width=1)
    for r in rows:
        _draw_row(d, report, r, y, unit, max_total)
        y += CHART_ROW
    return y


def _draw_row(d, report: Report, r: DepartmentRow, y: int, unit: float, max_total: int) -> None:
    """One department: its name, a bar segment per half, the required-count mark and the count with why."""
    label_f, small_f = _font(19), _font(16)
    if r.status == BEHIND:  # a pale band: the rows that need action stand out at a glance
        d.rectangle((24, y + 1, CHART_W - 24, y + CHART_ROW - 1), fill=BAND)
        for i in range(max_total + 1):  # the band covers the grid: draw it again on top
            gx = CHART_LABEL_W + i * unit
            d.line((gx, y + 1, gx, y + CHART_ROW - 1), fill=GRID, width=1)
    label = r.short
    while d.textlength(label, font=label_f) > CHART_LABEL_W - 20:
        label = label[:-1]
    d.text((CHART_LABEL_W - 12 - d.textlength(label, font=label_f), y + 3), label, font=label_f,
           fill=COLORS[BEHIND][0] if r.status == BEHIND else INK)
    bx = CHART_LABEL_W
    for i, h in enumerate(report.period.halves):
        n = r.conferences[h]
        if n:
            d.rectangle((bx, y + 6, bx + n * unit - 2, y + CHART_ROW - 6), fill=COLORS[r.status][i])
            bx += n * unit
    need = (2 if report.period.half is None else 1) if r.listed else 1
    tx = CHART_LABEL_W + need * unit
    d.line((tx, y + 2, tx, y + CHART_ROW - 2), fill=INK, width=3)
    note = f"{r.total}场"
    why = {BEHIND: _short_reasons(r), EXCEEDED: "超额", PENDING: "待全年考核"}.get(r.status, "")
    nx = max(bx, tx) + 10
    d.text((nx, y + 4), note, font=small_f, fill=INK)
    if why:
        d.text((nx + d.textlength(note, font=small_f) + 8, y + 4), why, font=small_f,
               fill=COLORS[BEHIND][0] if r.status == BEHIND else MUTED)
