"""The content catalog: every release loaded, checked across releases, through the copy gate and through
every channel's limits. ``validate`` is what "fit to publish" means; the publish flow calls it first, so a
release that fails here reaches no channel."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, MutableMapping

from pressroom.errors import Problem, RenditionError, ValidationFailed
from pressroom.releases.loader import FOOTNOTE_NOTE, RELEASE_FILE, load_all, load_registry
from pressroom.releases.memo import Deferred
from pressroom.model import Registry, Release
from pressroom.settings import Settings


@dataclass
class Catalog:
    settings: Settings
    registry: Registry
    releases: dict[str, Release]  # the valid ones, by id
    problems: dict[str, list[Problem]]  # by release folder name
    warnings: dict[str, list[str]] = field(default_factory=dict)  # by release id
    # What validation rendered, by (release id, channel): the publish flow delivers exactly these, so each
    # channel of a release is rendered once per publish. Those of a verdict from the cache are read from
    # it when first asked for.
    renditions: MutableMapping[tuple[str, str], Any] = field(default_factory=Deferred)
    # The fidelity audit of each rendered release (pressroom.releases.audit), by release id.
    audits: MutableMapping[str, Any] = field(default_factory=Deferred)
    # Findings of the audit a verified reviewer waived (ids of ``audit.Finding``s of the release's current
    # version, as the ledger holds them: given to ``validate``), by release id: they do not block. Read
    # only when a release checked has a finding (``waivers_read``): without one no waiver matters.
    waived: frozenset = frozenset()  # (release id, version, finding id)
    waivers_read: bool = False
    # The cache key of each release checked with the cache (``pressroom.releases.memo``), by release id:
    # what else is made from its renditions (the approval page's views) is kept under it too.
    keys: dict[str, str] = field(default_factory=dict)
    # What the approval page lists of each valid release's own text (``memo.Verdict.shown``), by release id.
    shown: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # When the same content would be judged differently (an event_at still ahead of the clock is then
    # past): an answer kept for reuse is not given after it. None: never.
    answer_changes_at: datetime | None = None

    def waived_for(self, release: Release) -> set[str]:
        return {f for rid, version, f in self.waived if rid == release.id and version == release.version}

    def find(self, name: str) -> Release:
        """A release by id, folder name or path."""
        if name in self.releases:
            return self.releases[name]
        folder = Path(name)
        if folder.name == RELEASE_FILE:
            folder = folder.parent
        for r in self.releases.values():
            if Path(r.source).name == folder.name:
                return r
        for key, problems in self.problems.items():
            if key == folder.name:
                raise ValidationFailed(problems)
        raise KeyError(name)

    def context(self, release: Release):
        from channels import context_for

        return context_for(release, self.releases, self.settings)

    def bundle_of(self, release: Release) -> list[Release]:
        """A policy document with its interpretation(s), document first; other releases alone."""
        doc_id = release.interprets or (release.id if release.kind == "policy-document" else "")
        if not doc_id or doc_id not in self.releases:
            return [release]
        parts = [r for r in self.releases.values() if r.interprets == doc_id]
        return [self.releases[doc_id], *sorted(parts, key=lambda r: r.id)]


def _rel(settings: Settings, r: Release) -> str:
    try:
        return Path(r.source, RELEASE_FILE).resolve().relative_to(settings.content_dir.resolve()).as_posix()
    except ValueError:
        return str(Path(r.source, RELEASE_FILE))


def copy_gate(release: Release, settings: Settings) -> tuple[list[Problem], list[str]]:
    """错敏 patterns block; GB/T 15834 punctuation warns. Line numbers are those of release.md."""
    from pressroom.text import copycheck

    text = Path(release.source, RELEASE_FILE).read_text(encoding="utf-8")
    patterns_file = settings.content_dir / "sensitive.yaml"
    patterns = copycheck.load_sensitive_patterns(patterns_file) if patterns_file.exists() else []
    blocking, warnings = [], []
    for issue in copycheck.check_copy(text, patterns, allow=set(release.copy_allow)):
        if issue.blocking:
            blocking.append(Problem(_rel(settings, release), f"第{issue.line}行", f"{issue.message}（错敏规则 {issue.rule}）",
                                    f"请改为正确表述；确属历史原文须保留的，在前置信息中写 copy_allow: [{issue.rule}]"))
        else:
            warnings.append(f"第{issue.line}行：{issue.message}")
    return blocking, warnings + footnote_warnings(text)


def footnote_warnings(text: str) -> list[str]:
    """The Word footnotes ``pressroom import`` dropped, still noted in release.md: no outlet shows them."""
    return [f"第{lineno}行：Word 原文的脚注{m.group(1)}“{m.group(2)}”导入时已删去，不会发布；"
            "需要保留的请写入正文，然后删除这行注释"
            for lineno, line in enumerate(text.splitlines(), 1) for m in FOOTNOTE_NOTE.finditer(line)]


def markup_warnings(release: Release) -> list[str]:
    """HTML typed into the body is removed on publishing; say where, and what goes with it."""
    from channels import markup

    warnings = []
    parts = [("导语", release.lead)] + [(f"“{sec.heading}”一节", sec.body) for sec in release.sections]
    for where, md in parts:
        for d in markup.dropped_markup(md):
            warnings.append(f"{where}含有 HTML 标签 <{d.tag}>，发布时会被删除{_what_goes(d)}")
    return warnings


def _what_goes(d) -> str:
    """What an editor loses with a dropped tag, and how to write it instead."""
    from channels import markup

    if d.tag == "img":
        return (f"，图片“{d.text or '（无地址）'}”不会发布；请把图片放进稿件文件夹，用 Markdown 写法"
                " ![说明](images/文件名.png) 引用")
    if d.tag in markup.EMBEDS:
        return (f"，嵌入的内容“{d.text or '（无地址）'}”不会发布；视频、网页请写成链接 [说明](网址)，"
                "或把截图作为图片放入稿件")
    if d.content_lost:
        return (f"，其中的文字“{d.text}”（未闭合时连同其后全部正文）也不会发布；"
                "加粗、表格、链接等请用 Markdown 写法")
    shown = f"，“{d.text}”的文字保留但格式丢失" if d.text else "，格式丢失"
    return f"{shown}；加粗、表格、链接等请用 Markdown 写法"


def render_check(release: Release, catalog: Catalog, rendered: dict[str, Any] | None = None,
                 ) -> tuple[list[Problem], list[str]]:
    """Render every channel of the release: an outlet limit broken is a validation problem. The renditions
    go into ``rendered`` (by channel) when given, else into the catalog (what a publish delivers)."""
    import channels

    ctx = catalog.context(release)
    problems, warnings = [], []
    for ch in release.channels:
        try:
            rendition = channels.render(ch, release, ctx)
        except RenditionError as e:
            problems.append(Problem(_rel(catalog.settings, release), e.field, f"{channels.get(ch).label}：{e.message}", e.fix))
            continue
        if rendered is None:
            catalog.renditions[(release.id, ch)] = rendition
        else:
            rendered[ch] = rendition
        warnings.extend(f"{channels.get(ch).label}：{w}" for w in rendition.warnings)
    return problems, warnings


def _furniture(release: Release, catalog: Catalog) -> list[str]:
    """What a rendition may print besides the release: the settings (the city, its press office and
    venue, the outlets' names and sites), the portal URL and the releases it links to."""
    import channels

    s = catalog.settings
    ctx = catalog.context(release)
    texts = [str(v) for v in s.city.values()] + list(s.site_names) + [ctx.portal_base, ctx.url_for(release.id)]
    for ch in channels.names():
        texts += [f"{v:g}" if isinstance(v, float) else str(v) for v in s.outlet(ch).values()]
    def shown(when):  # as the channels print it: in the city's zone
        when = when.astimezone(s.tz)
        return f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}"

    texts += [shown(t) for t in (release.publish_at, release.event_at) if t]
    for r in ctx.related.values():
        texts.append(f"{r.title} {r.url} " + (shown(datetime.fromisoformat(r.publish_at)) if r.publish_at else ""))
    return texts


def audit_release(release: Release, catalog: Catalog, rendered: dict[str, Any] | None = None):
    """The fidelity audit of the release's renditions that validation made (an ``audit.Audit``), or of
    ``rendered`` (by channel) when given."""
    import channels
    from pressroom.releases import audit

    if rendered is None:
        rendered = {ch: catalog.renditions[(release.id, ch)] for ch in release.channels
                    if (release.id, ch) in catalog.renditions}
    declared = {ch: (channels.get(ch).label, channels.get(ch).carries) for ch in rendered}
    return audit.audit_release(release, catalog.registry, rendered, declared, _furniture(release, catalog))


def audit_check(release: Release, catalog: Catalog, rendered: dict[str, Any] | None = None,
                ) -> tuple[list[Problem], list[str]]:
    """A fact dropped by a full-text channel or added by any channel is a validation problem; a summary
    channel that leaves a table out says so in a warning. ``rendered``: a draft's renditions (its audit is
    not kept)."""
    result = audit_release(release, catalog, rendered)
    if rendered is None:
        catalog.audits[release.id] = result
    findings, warnings = audit_findings(release, catalog, result)
    waived = catalog.waived_for(release)
    return [p for finding, p in findings if finding not in waived], warnings


def audit_findings(release: Release, catalog: Catalog, result) -> tuple[list[tuple[str, Problem]], list[str]]:
    """Every finding of the audit ``result`` as (finding id, problem), waived or not, and the warnings."""
    import channels
    from pressroom.releases import audit

    warnings = []
    for c in result.channels:
        lost = sorted({f.where for f in c.dropped if f.kind == "cell"})
        if c.carries == "summary" and lost:
            warnings.append(f"{channels.get(c.channel).label}：未能呈现{'、'.join(lost)}的表格，"
                            "读者须到全文渠道查看；如需在此呈现，请把关键数字写进导语或 key_figures")
    # audit.problems gives one problem per finding, in the findings' order, when nothing is waived
    ids = [f.id for f in audit.findings(result)]
    return list(zip(ids, audit.problems(result, _rel(catalog.settings, release)), strict=True)), warnings


def _same_time(r: Release, halves: list[Release], catalog: Catalog) -> None:
    """The halves of a bundle go out together (三同步): one publish_at for all, or the later one's page
    would show a time the document did not go out at."""
    times = {x.publish_at for x in halves}
    if len(times) > 1 and r.id in catalog.releases:
        catalog.releases.pop(r.id)
        shown = "、".join(f"{x.id}：{x.publish_at.astimezone(catalog.settings.tz):%Y-%m-%d %H:%M}" for x in halves)
        catalog.problems.setdefault(Path(r.source).name, []).append(Problem(
            _rel(catalog.settings, r), "publish_at", f"政策文件与解读的发布时间不一致（{shown}）",
            "政策文件与解读须同步发布：请把两篇稿件的 publish_at 改为同一时间"))


EVENT_CLOCK_SLACK = timedelta(minutes=5)  # clocks of the editor's machine and the server may differ a little


def _event_in_future(r: Release, settings: Settings, now: datetime) -> list[Problem]:
    """An event cannot have happened after now: its 5 h / 24 h / 48 h clocks would start late and show 按时完成."""
    if r.event_at is None or r.event_at <= now + EVENT_CLOCK_SLACK:
        return []
    return [Problem(_rel(settings, r), "event_at",
                    f"事件发生时间 {r.event_at.astimezone(settings.tz):%Y-%m-%d %H:%M} 晚于当前时间",
                    "event_at 应填写事件实际发生的时间（北京时间），请核对日期和时刻")]


def lead_warnings(release: Release) -> list[str]:
    """本报讯 is the newspaper's dateline (its copy adds it); typed into the lead it is taken out of every
    channel's copy (the loader does), and the editor is told so."""
    from pressroom.releases.loader import DATELINE, split_front_matter, split_sections

    parts = split_front_matter(Path(release.source, RELEASE_FILE).read_text(encoding="utf-8").removeprefix("\ufeff"))
    typed = DATELINE.match(split_sections(parts[1])[0]) if parts else None
    if typed:
        return [f"导语以“{typed.group(1)}”开头：这是报纸、电视的电头，报纸稿和电视稿自动加上，"
                "已从门户网站、微信、H5、微博等渠道的稿件中删去；请从导语中删去这几个字"]
    return []


def conference_warnings(release: Release) -> list[str]:
    """A release that reads like a press conference (发布会 in its title lines or lead) but is not marked as one
    is missing from the conference count (“2·1+N”), the 24 h clock and the press hall's 发布通知."""
    if release.press_conference:
        return []
    where = [name for name, value in (("标题", release.title), ("引题", release.kicker), ("副题", release.subtitle),
                                      ("导语", release.lead)) if "发布会" in value]
    if not where:
        return []
    return [f"{'、'.join(where)}写到“发布会”，但未标记 press_conference: true：如本稿是新闻发布会，请在前置信息中加上，"
            "否则它不计入部门发布会场次（“2·1+N”）和24小时内召开发布会的时限，也不列入发布厅“发布通知”；"
            "如只是提及发布会，可忽略本提示"]


# The last few catalogs validated in this process, by what they were made from: a CLI publish validates,
# then runs the flow in the same process, which validates again; the content is loaded and every channel
# rendered once. Any change to a file under content/ (or to the settings) makes a new key.
_MEMO: dict[tuple, Catalog] = {}
_MEMO_SIZE = 4


def _fingerprint(settings: Settings) -> tuple:
    files = []
    for folder, _dirs, names in os.walk(settings.content_dir):
        for name in names:
            st = os.stat(os.path.join(folder, name))
            files.append((folder, name, st.st_mtime_ns, st.st_size, st.st_ino))
    return (repr(settings), tuple(sorted(files)))


def validate(settings: Settings, render: bool = True, only: str | None = None,
             now: datetime | None = None, waived: frozenset | Callable[[], frozenset] = frozenset(), cache: bool = False,
             workers: int = 1) -> Catalog:
    """Load every release (cheap) and check them. The copy gate and the render check (the expensive part)
    run for every release, or with ``only`` (an id, folder or path) for that release and its bundle.
    Releases with problems are moved out of ``releases``. Unchanged content validated before in this
    process is not loaded or rendered again (a rendered catalog also answers ``render=False``).
    ``waived``: (release id, version, finding id) of the audit findings verified reviewers waived (the
    ledger's, ``pressroom.delivery.waivers``), or a function returning them, called only when a release
    checked has a finding; nothing else silences a finding. ``cache``: verdicts and renditions kept
    between commands in the settings' cache folder (``pressroom.releases.memo``) are used and kept; the
    verdict is the same either way. ``workers``: releases not in the cache are checked in that many
    processes (forked: only from a process without threads, as the CLI is)."""
    wanted = waived if callable(waived) else (lambda: frozenset(waived))
    if now is not None:  # an injected clock (tests): no memo, the answer depends on it
        return _validate(settings, render, only, now, wanted, cache, workers)
    key = _fingerprint(settings)
    at = datetime.now(timezone.utc)
    for want in ((only, True), (only, False))[: 1 if render else 2]:
        hit = _MEMO.get((*want, key))
        if hit is not None and (hit.answer_changes_at is None or at < hit.answer_changes_at) and (
                not hit.waivers_read or hit.waived == frozenset(wanted())):
            return hit
    catalog = _validate(settings, render, only, at, wanted, cache, workers)
    _MEMO[(only, render, key)] = catalog
    if only is not None and (found := catalog.releases.get(only) or _found(catalog, only)) is not None:
        _MEMO[(found.id, render, key)] = catalog  # a folder or path given here, the id in the flow: one catalog
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    return catalog


def _found(catalog: Catalog, name: str) -> Release | None:
    try:
        return catalog.find(name)
    except (KeyError, ValidationFailed):
        return None


def _validate(settings: Settings, render: bool, only: str | None, now: datetime, waived: Callable[[], frozenset],
              cache: bool, workers: int) -> Catalog:
    from pressroom.releases import memo

    registry = load_registry(settings.content_dir)
    drafts: dict[str, Release] = {}  # releases with problems that can still be checked further, by folder
    releases, problems = load_all(settings, registry, drafts, memo.configured(settings) if cache else None)
    catalog = Catalog(settings, registry, dict(releases), problems)
    scope = list(releases.values())
    if only is not None:
        try:
            scope = catalog.bundle_of(catalog.find(only))
        except (KeyError, ValidationFailed):
            scope = []
        drafts = {k: d for k, d in drafts.items() if only in (k, d.id) or Path(only).name in (k, d.id)
                  or Path(only).parent.name == k}
    jobs = [(r, False) for r in scope] + [(d, True) for d in drafts.values()]
    verdicts = _verdicts(catalog, jobs, render, cache, workers)
    if any(v.findings for v in verdicts if v.rendered):  # else no waiver can change the verdict: not read
        catalog.waived, catalog.waivers_read = frozenset(waived()), True
    for (r, draft), v in zip(jobs, verdicts):
        folder = Path(r.source).name
        blocking, warnings = _assemble(r, v, catalog, now)
        if folder in problems:
            blocking = problems[folder] + [p for p in blocking if p not in problems[folder]]
        if blocking:
            problems[folder] = blocking
            if not draft:
                catalog.releases.pop(r.id, None)
        if not draft:
            catalog.warnings[r.id], catalog.shown[r.id] = warnings, v.shown
    _bundles_whole(catalog, releases)
    return catalog


def _assemble(r: Release, v, catalog: Catalog, now: datetime) -> tuple[list[Problem], list[str]]:
    """A release's problems and warnings: its verdict, with the clock's check and the waivers applied."""
    ahead = _event_in_future(r, catalog.settings, now)
    if ahead:
        flips = r.event_at - EVENT_CLOCK_SLACK  # from then on it is no longer ahead (see _event_in_future)
        catalog.answer_changes_at = min(filter(None, (catalog.answer_changes_at, flips)))
    blocking, warnings = v.blocking + ahead, list(v.warnings)
    if v.rendered and not v.failed:
        waived = catalog.waived_for(r)
        blocking += v.problems + [p for finding, p in v.findings if finding not in waived]
        warnings += v.more
    return blocking, warnings


def _verdicts(catalog: Catalog, jobs: list[tuple[Release, bool]], render: bool, cache: bool, workers: int) -> list:
    """Each job's verdict: from the cache when it holds it, else checked (in ``workers`` processes when
    several are to be checked) and kept there."""
    from pressroom.releases import memo

    settings = catalog.settings
    version = memo.code_version() if cache else ""
    keys = [_key(catalog, r, draft, version) for r, draft in jobs] if cache else [""] * len(jobs)
    out: list = [None] * len(jobs)
    catalog.keys.update({r.id: k for (r, draft), k in zip(jobs, keys) if k and not draft})
    for i, (r, draft) in enumerate(jobs):
        v = memo.verdict(settings, Path(r.source).name, keys[i]) if cache else None
        if v is not None and (v.rendered or not render):
            out[i] = v
            if render and not draft:
                _attach(catalog, r, v, keys[i])
    todo = [i for i, v in enumerate(out) if v is None]
    for i, (v, things) in zip(todo, _check_all(catalog, [jobs[i] for i in todo], render, workers)):
        r, draft = jobs[i]
        out[i] = v
        if things is not None and not draft:
            catalog.renditions.update({(r.id, ch): things["renditions"][ch] for ch in v.channels})
            catalog.audits[r.id] = things["audit"]
        if cache:
            memo.store(settings, Path(r.source).name, keys[i], version, v, None if draft else things)
    return out


def _key(catalog: Catalog, r: Release, draft: bool, version: str) -> str:
    from pressroom.releases import memo

    patterns = catalog.settings.content_dir / "sensitive.yaml"
    return memo.release_key(version, r, catalog.context(r), catalog.registry, catalog.settings,
                            patterns.read_bytes() if patterns.exists() else b"", draft)


def _attach(catalog: Catalog, r: Release, v, key: str) -> None:
    """The stored renditions and audit of a verdict from the cache, read when first asked for."""
    from pressroom.releases import memo

    stored = memo.Made(catalog.settings, Path(r.source).name, key, lambda: _check(r, catalog, True, False)[1])
    for ch in v.channels:
        catalog.renditions.defer((r.id, ch), lambda ch=ch: stored.get()["renditions"][ch])
    catalog.audits.defer(r.id, lambda: stored.get()["audit"])


def _check_all(catalog: Catalog, jobs: list[tuple[Release, bool]], render: bool, workers: int) -> list[tuple]:
    """``_check`` of every job, in order; in ``workers`` forked processes when there are several jobs and
    this process has no other thread (forking one that has could leave a lock held in the child)."""
    import threading

    n = min(workers, len(jobs), os.cpu_count() or 1)
    if n < 2 or threading.active_count() > 1:
        return [_check(r, catalog, render, draft) for r, draft in jobs]
    import multiprocessing

    global _FORKED
    _FORKED = (catalog, jobs, render)
    try:
        with multiprocessing.get_context("fork").Pool(n) as pool:
            return pool.map(_check_forked, range(len(jobs)), chunksize=1)
    except OSError:  # no fork or no semaphores here: one process does it
        return [_check(r, catalog, render, draft) for r, draft in jobs]
    finally:
        _FORKED = None


_FORKED: tuple | None = None  # what the forked processes of ``_check_all`` check


def _check_forked(i: int) -> tuple:
    catalog, jobs, render = _FORKED
    r, draft = jobs[i]
    return _check(r, catalog, render, draft)


def _check(r: Release, catalog: Catalog, render: bool, draft: bool) -> tuple:
    """The checks beyond loading, but the clock's: the copy gate and (``render``) every channel and the
    fidelity audit. A draft (a release that already has problems) gets them too, so that every problem of
    a release is told in one round; a channel that cannot render it at all (its broken fields given up on)
    adds nothing. Returns the ``memo.Verdict`` and what was made ({"renditions", "audit"}, or None)."""
    from pressroom.releases import memo

    blocking, warnings = copy_gate(r, catalog.settings)
    markup = markup_warnings(r)
    v = memo.Verdict(blocking, warnings + markup + conference_warnings(r), shown={"copy": warnings, "markup": markup})
    if not render:
        return v, None
    rendered: dict[str, Any] = {}
    try:
        v.problems, render_warnings = render_check(r, catalog, rendered)
        result = audit_release(r, catalog, rendered)
        v.findings, audit_warnings = audit_findings(r, catalog, result)
    except Exception:  # noqa: BLE001 - a draft's fields may be half-read; its own problems say why
        if not draft:
            raise
        v.rendered = v.failed = True
        return v, None
    v.rendered, v.channels = True, tuple(ch for ch in r.channels if ch in rendered)
    v.shown["lead"] = lead_warnings(r)
    v.more = render_warnings + audit_warnings + v.shown["lead"]
    return v, {"renditions": rendered, "audit": result}


def _bundles_whole(catalog: Catalog, releases: dict[str, Release]) -> None:
    """A bundle is valid only as a whole: one invalid half holds back the other (三同步)."""
    settings, problems = catalog.settings, catalog.problems
    for r in list(catalog.releases.values()):
        doc = r.interprets or (r.id if r.kind == "policy-document" else "")
        if not doc:
            continue
        halves = [x for x in releases.values() if x.id == doc or x.interprets == doc]
        _same_time(r, halves, catalog)
        broken = [x for x in halves if x.id not in catalog.releases]
        if broken:
            catalog.releases.pop(r.id, None)
            problems.setdefault(Path(r.source).name, []).append(Problem(
                _rel(settings, r), "interprets" if r.interprets else "id",
                f"同一政策文件的另一篇稿件（{'、'.join(x.id for x in broken)}）未通过校验",
                "政策文件与解读须同步发布：请先修正另一篇稿件"))
