"""The inspection watchdog: what a machine can check of the government-website inspection's one-strike
(单项否决) and deduction items, on what is live, before an inspector does (docs/outlets.md#government-websites).

Checked: columns not updated in time (news within two weeks; notices and policy documents within six
months), blank columns, items without a publication time or a source, a page whose 发布时间 is not the
time the ledger says it went out, policy documents without an
interpretation or with a late one, broken links, 错敏 hits on what is live, and pages over the weight
budget. A column whose deadline falls within ``warn_days`` is reported *before* it is breached, so the
press office can publish in time. Pure reading: the ledger, the catalog and the built outbox; nothing is
changed except the report it writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from channels.base import render_template
from pressroom.delivery.ledger import Ledger
from pressroom.files import write_atomic
from pressroom.releases.catalog import Catalog
from pressroom.settings import Settings
from pressroom.sites import linkcheck, presshall, report
from pressroom.text import copycheck

FAIL, DEDUCT, SOON = "单项否决", "扣分", "即将到期"
NEWS_LIMIT, SLOW_LIMIT = timedelta(days=14), timedelta(days=183)  # two weeks; six months
PAGE_BUDGET = 1024 * 1024  # a page with its images
_TIME = re.compile(r"<time\b[^>]*datetime=")
_SHOWN = re.compile(r'<time datetime="([^"]+)" data-published="time">')  # the page's 发布时间 slot


def _minute(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(second=0, microsecond=0)
_SOURCE = re.compile(r"来源：")
_LOCAL_SRC = re.compile(r'<(?:img|video|source)\b[^>]*\bsrc="(?!https?:|data:|//)([^"#?]+)"')


@dataclass(frozen=True)
class Finding:
    severity: str  # FAIL, DEDUCT or SOON
    item: str  # the inspection item, as the rules name it
    where: str  # the column, release or page
    detail: str  # the evidence, with dates
    due: datetime | None = None  # when a column becomes a failure


@dataclass
class Inspection:
    at: datetime
    findings: list[Finding] = field(default_factory=list)

    def of(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    @property
    def passed(self) -> bool:
        return not self.of(FAIL)

    def rows(self) -> list[dict]:
        return [{"结论": f.severity, "检查项": f.item, "位置": f.where, "说明": f.detail} for f in self.findings]


@dataclass(frozen=True)
class Column:
    name: str
    limit: timedelta
    release_ids: frozenset[str] | None = None  # None: every release published on the portal


def inspect_site(settings: Settings, catalog: Catalog, ledger: Ledger, now: datetime, warn_days: int = 3) -> Inspection:
    """Every check, newest evidence first; ``now`` is injected (tests, and the scheduled flow's clock)."""
    rows = ledger.rows()
    published = presshall.published_times(rows, "portal")
    result = Inspection(now)
    result.findings += _freshness(settings, catalog, published, now, timedelta(days=warn_days))
    result.findings += _blank_columns(settings)
    result.findings += _pages(settings, published)
    result.findings += _policies(settings, catalog, published, now)
    result.findings += _links(settings)
    result.findings += _wording(settings, catalog, published)
    order = {FAIL: 0, SOON: 1, DEDUCT: 2}
    result.findings.sort(key=lambda f: (order[f.severity], f.item, f.where))
    return result


def _columns(catalog: Catalog) -> list[Column]:
    label = presshall.LABELS
    releases = catalog.releases.values()
    return [
        Column(f"门户“{catalog.settings.outlet('portal')['column']}”栏目", NEWS_LIMIT),
        Column(f"新闻发布厅“{label['releases']}”", NEWS_LIMIT),
        Column(f"新闻发布厅“{label['notices']}”", SLOW_LIMIT, frozenset(r.id for r in releases if r.press_conference)),
        Column(f"新闻发布厅“{label['policies']}”", SLOW_LIMIT,
               frozenset(r.id for r in releases if r.kind in ("policy", "policy-document"))),
    ]


def _freshness(settings, catalog, published, now, warn) -> list[Finding]:
    """A column's last update against its limit: breached is a failure, close to it a warning."""
    tz, out = settings.tz, []
    for col in _columns(catalog):
        times = [t for rid, t in published.items() if col.release_ids is None or rid in col.release_ids]
        if not times:
            continue  # a column with nothing at all is a blank column (checked on the pages)
        last = max(times)
        due = last + col.limit
        days = col.limit.days
        when = f"最近更新 {last.astimezone(tz):%Y-%m-%d %H:%M}，须在 {due.astimezone(tz):%Y-%m-%d %H:%M} 前再更新"
        if now >= due:
            out.append(Finding(FAIL, f"栏目超过{days}天未更新", col.name, when, due))
        elif due - now <= warn:
            out.append(Finding(SOON, f"栏目将满{days}天未更新", col.name, f"{when}（还剩 {_left(due - now)}）", due))
    return out


def _left(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}天{hours % 24}小时" if hours >= 24 else f"{max(hours, 0)}小时"


def _blank_columns(settings: Settings) -> list[Finding]:
    """A press-hall section whose index page shows nothing."""
    site = presshall.site_dir(settings)
    out = []
    for key, label, _ in presshall.SECTIONS:
        page = site / key / "index.html"
        if page.exists() and 'class="empty"' in page.read_text(encoding="utf-8"):
            out.append(Finding(DEDUCT, "空白栏目", f"新闻发布厅“{label}”", f"{page.relative_to(settings.outbox_dir)} 暂无内容"))
    return out


def _pages(settings: Settings, published) -> list[Finding]:
    """Each live release page: a publication time, a source, and within the weight budget."""
    root = settings.outbox_dir / "portal"
    out = []
    for rid in sorted(published):
        page = root / f"{rid}.html"
        if not page.exists():
            continue
        html = page.read_text(encoding="utf-8")
        where = f"portal/{rid}.html"
        if not _TIME.search(html):
            out.append(Finding(FAIL, "信息无发布时间", where, "页面没有标注发布时间（视同未更新）"))
        elif (shown := _SHOWN.search(html)) and _minute(shown.group(1)) != _minute(published[rid].isoformat()):
            # A page dated other than when it went out is a forged or backdated time: a one-strike failure.
            at = datetime.fromisoformat(shown.group(1)).astimezone(settings.tz)
            out.append(Finding(FAIL, "信息发布时间与实际不符", where,
                               f"页面显示 {at:%Y-%m-%d %H:%M}，台账记录实际发出 "
                               f"{published[rid].astimezone(settings.tz):%Y-%m-%d %H:%M}"))
        if not _SOURCE.search(html):
            out.append(Finding(DEDUCT, "信息未注明来源", where, "页面没有“来源：”"))
        weight = page.stat().st_size + sum((root / src).stat().st_size for src in set(_LOCAL_SRC.findall(html))
                                           if (root / src).is_file())
        if weight > PAGE_BUDGET:
            out.append(Finding(DEDUCT, "页面过大", where, f"页面连同图片 {weight / 1024 / 1024:.1f} MB，超过 1 MB，打开缓慢"))
    return out


def _policies(settings, catalog, published, now) -> list[Finding]:
    """Documents without an interpretation, or with a late one, this year (the “2·1+N” report's flags)."""
    rep = report.build_report(catalog.releases.values(), catalog.registry, published,
                              report.Period(now.astimezone(settings.tz).year), now, settings)
    kinds = (report.UNINTERPRETED, report.LATE_INTERPRETATION)
    return [Finding(DEDUCT, f.label, f"{f.title}（{f.release_id}）", f.evidence) for f in rep.flags if f.kind in kinds]


def _links(settings: Settings) -> list[Finding]:
    root = settings.outbox_dir / "portal"
    if not (root / "index.html").exists():
        return []
    checked = linkcheck.check_site(root, check_coverage=False)
    return [Finding(DEDUCT, "链接不可用", b.page, f"{b.target}：{b.reason}") for b in checked.broken]


def _wording(settings: Settings, catalog: Catalog, published) -> list[Finding]:
    """错敏 rules on the text of every live release (a rule added after publishing finds old mistakes)."""
    rules_file = settings.content_dir / "sensitive.yaml"
    patterns = copycheck.load_sensitive_patterns(rules_file) if rules_file.exists() else []
    out = []
    for rid in sorted(published):
        r = catalog.releases.get(rid)
        if r is None:
            continue
        text = (Path(r.source) / "release.md").read_text(encoding="utf-8")
        for issue in copycheck.check_copy(text, patterns, allow=set(r.copy_allow)):
            if issue.blocking:
                out.append(Finding(FAIL, "严重错误表述", f"{r.title}（{rid}）", f"第{issue.line}行：{issue.message}"))
    return out


def write_inspection(result: Inspection, settings: Settings) -> Path:
    """The report as a page beside the site (``outbox/inspection/<date>.html``)."""
    tz = settings.tz
    html = render_template("inspection/report.html", at=f"{result.at.astimezone(tz):%Y-%m-%d %H:%M}",
                           passed=result.passed, rows=result.rows(), counts={s: len(result.of(s)) for s in (FAIL, SOON, DEDUCT)},
                           office=settings.city.press_office)
    path = settings.outbox_dir / "inspection" / f"{result.at.astimezone(tz):%Y-%m-%d}.html"
    write_atomic(path, html.encode("utf-8"))
    return path


def alert_lines(result: Inspection) -> list[str]:
    """What the press office is told: failures and columns about to fail."""
    return [f"【{f.severity}】{f.item}：{f.where}。{f.detail}" for f in result.findings if f.severity in (FAIL, SOON)]
