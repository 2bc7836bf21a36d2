"""Corrections and retractions, the pure parts (issue 8): which channels carry which old version, what changed
(the readable diff the desks get and the 更正说明 the public reads), and the renditions each outlet receives.

How the ledger is used (rows are told apart by their ``action``):

- A correction is the new version's own row per channel, keyed (release, channel, new version,
  ``correct``); its ``steps["correction"]`` records what it corrects (old version, old URL), when, by whom
  and the 更正说明 — saved once, before the first send, so a re-run renders byte-identical copies and the
  flow's at-most-once delivery (``flows.publish.deliver_one``) holds.
- A retraction is a row (release, channel, version withdrawn, ``retract``) whose ``steps["withdrawal"]``
  holds the reason, the public notice, when and who. It ends ``retracted``, like every published row of the
  release on that channel. Its renditions (and its entries in the audit trail) go by the version
  ``retract-<version withdrawn>`` (``retraction_version``), as they always have.
- ``steps["snapshot"]`` keeps the text each channel received (the desks' copy, or the release as plain
  text), written when a version is rendered for delivery: a later correction diffs against it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from difflib import SequenceMatcher
from typing import Iterable

from channels.base import RenderContext, Rendition, display_time, dump_json, render_template
from channels import markup

from pressroom.delivery.ledger import CORRECT, PUBLISHED, RETRACT, RETRACT_LABEL, RETRACTED, Delivery, Ledger
from pressroom.model import Release

RETRACT_PREFIX = RETRACT_LABEL
DESK_CHANNELS = ("newspaper", "tv")
SNAPSHOT, CORRECTION, WITHDRAWAL = "snapshot", "correction", "withdrawal"
DEFAULT_NOTICE = "经核实，本文已撤回。相关信息以本网站后续发布为准。"
MAX_ITEMS = 3  # changes named in an automatic 更正说明; the rest are counted
_CLAUSE_END = "。！？；，：\n"
_MAX_CLAUSE = 60
BOM = "\ufeff"


# ---------------------------------------------------------------------------------------------
# What was sent: snapshots


def release_text(release: Release) -> str:
    """The release as plain text, one paragraph a line: what the 更正说明 compares."""
    lines = [x for x in (release.kicker, release.title, release.subtitle) if x]
    lines += markup.paragraphs(release.lead)
    for s in release.sections:
        lines.append(s.heading)
        lines += markup.paragraphs(s.body)
    return "\n".join(markup.clean_text(x).strip() for x in lines if x.strip())


def copy_text(rendition: Rendition) -> str:
    """A desk's copy (``<release id>.txt``), without the BOM the copy desk's file carries."""
    data = rendition.files.get(f"{rendition.release_id}.txt", b"")
    return data.decode("utf-8").removeprefix(BOM)


def snapshot(channel: str, release: Release, rendition: Rendition) -> dict:
    """What ``steps["snapshot"]`` keeps for one channel of one version."""
    text = copy_text(rendition) if channel in DESK_CHANNELS else release_text(release)
    return {"title": release.title, "text": text}


def remember(ledger: Ledger, parts: Iterable[Release], renditions: dict) -> None:
    """Keep each rendered channel's text on its ledger row (once: a later run never rewrites it), so a
    correction can show what changed. ``renditions`` maps (release id, channel) to the rendition."""
    by_id = {r.id: r for r in parts}
    for (rid, ch), rendition in renditions.items():
        r = by_id.get(rid)
        d = ledger.get(rid, ch, r.version) if r else None
        if d is not None and SNAPSHOT not in d.steps:
            ledger.save_steps(d, {SNAPSHOT: snapshot(ch, r, rendition)})


# ---------------------------------------------------------------------------------------------
# Records kept in the ledger


def _iso(dt: datetime | None) -> str:
    return dt.isoformat() if dt else ""


def _dt(s: str) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


@dataclass(frozen=True)
class Correction:
    at: datetime
    corrects: str  # the version the public saw
    note: str  # the 更正说明, without its date
    actor: str = ""
    old_url: str = ""
    old_title: str = ""
    old_published_at: datetime | None = None

    def to_json(self) -> dict:
        return {"at": _iso(self.at), "corrects": self.corrects, "note": self.note, "actor": self.actor,
                "old_url": self.old_url, "old_title": self.old_title, "old_published_at": _iso(self.old_published_at)}

    @classmethod
    def from_json(cls, d: dict) -> "Correction":
        return cls(_dt(d["at"]), d["corrects"], d.get("note", ""), d.get("actor", ""), d.get("old_url", ""),
                   d.get("old_title", ""), _dt(d.get("old_published_at", "")))


@dataclass(frozen=True)
class Withdrawal:
    at: datetime
    withdraws: str  # the version withdrawn
    reason: str  # for the ledger and the desks
    notice: str  # what the public reads
    title: str
    actor: str = ""
    published_at: datetime | None = None
    old_url: str = ""

    def to_json(self) -> dict:
        return {"at": _iso(self.at), "withdraws": self.withdraws, "reason": self.reason, "notice": self.notice,
                "title": self.title, "actor": self.actor, "published_at": _iso(self.published_at),
                "old_url": self.old_url}

    @classmethod
    def from_json(cls, d: dict) -> "Withdrawal":
        return cls(_dt(d["at"]), d["withdraws"], d.get("reason", ""), d.get("notice", ""), d.get("title", ""),
                   d.get("actor", ""), _dt(d.get("published_at", "")), d.get("old_url", ""))


def is_retraction(d: Delivery) -> bool:
    return d.action == RETRACT


def is_correction(d: Delivery) -> bool:
    return d.action == CORRECT


def retraction_version(version: str) -> str:
    """What the withdrawal of ``version`` is called in its renditions and the audit trail (its ledger row
    is keyed by ``version`` itself, with action ``retract``)."""
    return f"{RETRACT_PREFIX}{version}"


# ---------------------------------------------------------------------------------------------
# Which channels had which old version


@dataclass(frozen=True)
class ChannelCorrection:
    channel: str
    old: Delivery  # the row of the version the public saw
    new: Delivery | None  # the new version's row, once the correction has started

    @property
    def correction(self) -> Correction | None:
        raw = self.new.steps.get(CORRECTION) if self.new else None
        return Correction.from_json(raw) if raw else None

    @property
    def done(self) -> bool:
        return self.new is not None and self.new.state == PUBLISHED


def _by_channel(rows: Iterable[Delivery]) -> dict[str, list[Delivery]]:
    out: dict[str, list[Delivery]] = {}
    for d in sorted(rows, key=lambda d: (d.created_at, d.id)):
        out.setdefault(d.channel, []).append(d)
    return out


def correction_plan(rows: Iterable[Delivery], version: str) -> dict[str, ChannelCorrection]:
    """Per channel, the old version to correct with ``version``: every channel whose public copy is another
    version (a channel that already carries ``version`` from an ordinary publication has nothing to
    correct). Started corrections stay in the plan (``done`` once sent), so a re-run can tell."""
    plan = {}
    for ch, ds in _by_channel(d for d in rows if not is_retraction(d)).items():
        cur = next((d for d in ds if d.version == version), None)
        if cur is not None and cur.state == PUBLISHED and not is_correction(cur):
            continue
        corrects = (cur.steps.get(CORRECTION) or {}).get("corrects") if cur else None
        if corrects:
            old = next((d for d in ds if d.version == corrects), None)
        else:
            old = next((d for d in reversed(ds) if d.version != version and d.state == PUBLISHED), None)
        if old is not None:
            plan[ch] = ChannelCorrection(ch, old, cur)
    return plan


def live_rows(rows: Iterable[Delivery]) -> dict[str, list[Delivery]]:
    """Per channel, every published row of the release (oldest first): what a retraction takes down."""
    out: dict[str, list[Delivery]] = {}
    for ch, ds in _by_channel(d for d in rows if not is_retraction(d)).items():
        live = [d for d in ds if d.state == PUBLISHED]
        if live:
            out[ch] = live
    return out


def retraction_rows(rows: Iterable[Delivery]) -> dict[str, Delivery]:
    return {d.channel: d for d in rows if is_retraction(d)}


def is_retracted(rows: Iterable[Delivery]) -> bool:
    return any(is_retraction(d) for d in rows)


def old_text(rows: Iterable[Delivery], version: str, desk_channel: str | None = None) -> str | None:
    """The text a version carried: the desk copy of ``desk_channel``, else the release's plain text (from any
    channel that kept it). None when nothing was kept (published before snapshots existed)."""
    rows = [d for d in rows if d.version == version and SNAPSHOT in d.steps and not is_retraction(d)]
    if desk_channel:
        d = next((d for d in rows if d.channel == desk_channel), None)
        return d.steps[SNAPSHOT]["text"] if d else None
    d = next((d for d in rows if d.channel not in DESK_CHANNELS), None)
    return d.steps[SNAPSHOT]["text"] if d else None


def first_published(rows: Iterable[Delivery]) -> datetime | None:
    times = [d.published_at for d in rows if d.published_at and not is_retraction(d)]
    return min(times) if times else None


# ---------------------------------------------------------------------------------------------
# What changed


def _quote(s: str) -> str:
    """A span quoted inside “”: its own double quotes become single ones (GB/T 15834 nesting)."""
    return s.replace("“", "‘").replace("”", "’").replace("\n", " ")


def _clause(text: str, i: int, j: int) -> tuple[int, int]:
    """Widen [i, j) to the clause around it (between punctuation), at most about ``_MAX_CLAUSE``."""
    s = i
    while s > 0 and text[s - 1] not in _CLAUSE_END:
        s -= 1
    e = j
    while e < len(text) and text[e] not in _CLAUSE_END:
        e += 1
    if e - s > _MAX_CLAUSE:
        s, e = max(s, i - 12), min(e, j + 12)
    return s, e


def changes(old: str, new: str) -> list[tuple[str, str]]:
    """What changed, clause by clause: (old clause, new clause); an empty side is an addition or a deletion.
    Lines are matched first, then characters within changed lines (difflib; CJK text has no words)."""
    out: list[tuple[str, str]] = []
    a_lines, b_lines = old.split("\n"), new.split("\n")
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a_lines, b_lines, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        a, b = "\n".join(a_lines[i1:i2]), "\n".join(b_lines[j1:j2])
        if tag != "replace":
            out += [(x, "") for x in a_lines[i1:i2]] + [("", x) for x in b_lines[j1:j2]]
            continue
        clauses: list[list[int]] = []  # [a start, a end, b start, b end]: each change widened to its clause
        for i1, i2, j1, j2 in _spans(a, b):
            s, e = _clause(a, i1, i2)
            bs, be = _clause(b, j1, j2)
            if clauses and s <= clauses[-1][1]:
                clauses[-1][1], clauses[-1][3] = max(clauses[-1][1], e), max(clauses[-1][3], be)
            else:
                clauses.append([s, e, bs, be])
        out += [(a[s:e].strip(_CLAUSE_END + " "), b[bs:be].strip(_CLAUSE_END + " ")) for s, e, bs, be in clauses]
    return [(o, n) for o, n in out if (o or n) and o != n]


def summary(old: str | None, new: str) -> str:
    """The automatic 更正说明: the changed wording, quoted. An editor's own note replaces it."""
    if old is None:
        return "本文部分内容有误，现已更正。"
    items = changes(old, new)
    if not items:
        return "本文个别文字有误，现已更正。"
    if len(items) == 1 and items[0][0] and items[0][1]:
        o, n = items[0]
        return f"本文原稿中“{_quote(o)}”有误，现更正为“{_quote(n)}”。"
    named = []
    for o, n in items[:MAX_ITEMS]:
        if o and n:
            named.append(f"“{_quote(o)}”更正为“{_quote(n)}”")
        elif o:
            named.append(f"删去“{_quote(o)}”")
        else:
            named.append(f"增加“{_quote(n)}”")
    more = f"等，共{len(items)}处" if len(items) > MAX_ITEMS else ""
    return f"本文原稿有误，现更正：{'；'.join(named)}{more}。"


def _word(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in ".%")


def _spans(a: str, b: str) -> list[list[int]]:
    """Changed runs [a start, a end, b start, b end]: runs closer than three characters are one run, and a
    run touching a number or a Latin word takes all of it (a figure reads 〖137〗, never 1〖37〗)."""
    spans: list[list[int]] = []
    for t, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if t == "equal":
            continue
        if spans and i1 - spans[-1][1] < 3:
            spans[-1][1], spans[-1][3] = i2, j2
        else:
            spans.append([i1, i2, j1, j2])
    for sp in spans:  # the text around a run is the same on both sides: widen both alike
        while sp[0] > 0 and sp[2] > 0 and _word(a[sp[0] - 1]) and a[sp[0] - 1] == b[sp[2] - 1]:
            sp[0], sp[2] = sp[0] - 1, sp[2] - 1
        while sp[1] < len(a) and sp[3] < len(b) and _word(a[sp[1]]) and a[sp[1]] == b[sp[3]]:
            sp[1], sp[3] = sp[1] + 1, sp[3] + 1
    merged: list[list[int]] = []
    for sp in spans:
        if merged and sp[0] <= merged[-1][1]:
            merged[-1][1], merged[-1][3] = max(merged[-1][1], sp[1]), max(merged[-1][3], sp[3])
        else:
            merged.append(sp)
    return merged


def _marked(a: str, b: str) -> tuple[str, str]:
    """The two lines with their differing runs in 〖〗 (full-width: lines up with Chinese text)."""
    if SequenceMatcher(None, a, b, autojunk=False).ratio() < 0.3:
        return a, b  # a rewritten line: marking every run would only add noise

    def mark(text: str, cuts: list[tuple[int, int]]) -> str:
        out, pos = [], 0
        for s, e in cuts:
            out += [text[pos:s], f"〖{text[s:e]}〗" if e > s else ""]
            pos = e
        return "".join(out) + text[pos:]

    spans = _spans(a, b)
    return mark(a, [(s[0], s[1]) for s in spans]), mark(b, [(s[2], s[3]) for s in spans])


DEL, ADD, SAME = "【删】", "【增】", "　　　"


def text_diff(old: str, new: str, context: int = 1) -> list[str]:
    """A diff for people: changed lines of the old copy as 【删】, of the new as 【增】, the changed words in
    〖〗, one line of context around each change, and where each change is (line of the corrected copy)."""
    a, b = old.splitlines(), new.splitlines()
    out: list[str] = []
    for group in SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if out:
            out.append("")
        out.append(f"（更正稿第{group[0][3] + 1}行起）")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [SAME + x for x in b[j1:j2] if x.strip()]
                continue
            olds, news = a[i1:i2], b[j1:j2]
            if tag == "replace":
                paired = [_marked(x, y) for x, y in zip(olds, news)]
                olds = [p[0] for p in paired] + olds[len(paired):]
                news = [p[1] for p in paired] + news[len(paired):]
            out += [DEL + x for x in olds] + [ADD + x for x in news]
    return out


# ---------------------------------------------------------------------------------------------
# Notes and notices


def dated(at: datetime, ctx: RenderContext) -> str:
    return display_time(at.astimezone(ctx.settings.tz))


def page_note(corrections: list[Correction], ctx: RenderContext) -> str:
    """The 更正说明 box on the portal page (and at the top of the feed entry): every correction, dated."""
    notes = [{"time": dated(c.at, ctx), "iso": c.at.astimezone(ctx.settings.tz).isoformat(), "text": c.note}
             for c in sorted(corrections, key=lambda c: c.at)]
    return render_template("corrections/note.html", notes=notes)


def desk_label(channel: str, ctx: RenderContext) -> tuple[str, str]:
    """(who receives it, the outlet's word for "printed" / "aired")."""
    out = ctx.settings.outlet(channel)
    if channel == "tv":
        station, programme = str(out.get("station", "")), str(out.get("programme", ""))
        return f"{station}{f'《{programme}》' if programme else ''}编辑部", "播出"
    return f"{'、'.join(out.get('papers', [])) or '报社'}编辑部", "刊发"


def desk_correction(channel: str, release: Release, ctx: RenderContext, c: Correction, old: str | None,
                    new: str) -> str:
    who, done = desk_label(channel, ctx)
    return render_template(
        "corrections/desk-correction.txt", who=who, done=done, title=release.title,
        release_id=release.id, old_version=c.corrects, new_version=release.version,
        old_sent=dated(c.old_published_at, ctx) if c.old_published_at else "", at=dated(c.at, ctx), note=c.note,
        diff=text_diff(old, new) if old is not None else [], archived=old is not None, full=new,
        press_office=str(ctx.settings.city.get("press_office", "")))


def desk_withdrawal(channel: str, release_id: str, ctx: RenderContext, w: Withdrawal) -> str:
    who, done = desk_label(channel, ctx)
    return render_template(
        "corrections/desk-withdrawal.txt", who=who, done=done, title=w.title,
        release_id=release_id, version=w.withdraws, sent=dated(w.published_at, ctx) if w.published_at else "",
        at=dated(w.at, ctx), reason=w.reason, press_office=str(ctx.settings.city.get("press_office", "")))


# ---------------------------------------------------------------------------------------------
# Renditions: what each outlet receives


def corrected_title(title: str, limit: int) -> tuple[str, bool]:
    """“【更正】” + title within ``limit`` characters (a long title is shortened with “…”)."""
    mark = "【更正】"
    if len(mark) + len(title) <= limit:
        return mark + title, False
    return mark + title[: limit - len(mark) - 1] + "…", True


def correction_rendition(channel: str, release: Release, ctx: RenderContext, base: Rendition, c: Correction,
                         earlier: list[Correction], old: str | None) -> Rendition:
    """The new version as the channel's correction: ``base`` is the ordinary rendition of the new version,
    ``earlier`` the corrections made before this one (the portal shows them all), ``old`` the text the
    channel had (desks: their copy; otherwise the release's plain text)."""
    if channel == "portal":
        from channels import portal

        page = f"{release.id}.html"
        html = portal.insert_note(base.files[page].decode("utf-8"), page_note([*earlier, c], ctx), NOTE_CSS)
        return replace(base, files={**base.files, page: html.encode("utf-8")})
    if channel == "wechat":
        return _wechat(release, ctx, base, c)
    if channel == "weibo":
        return _weibo(release, ctx, base, c)
    if channel in DESK_CHANNELS:
        name = f"{release.id}.txt"
        bom = base.files[name].startswith(BOM.encode("utf-8"))
        message = desk_correction(channel, release, ctx, c, old, copy_text(base))
        data = (BOM if bom else "").encode("utf-8") + message.encode("utf-8")
        return replace(base, title=f"【更正】{base.title}", files={**base.files, name: data})
    if channel == "h5":
        from channels import h5

        name = h5.file_name(release.id)
        html = h5.insert_note(base.files[name].decode("utf-8"), page_note([*earlier, c], ctx))
        return replace(base, files={**base.files, name: html.encode("utf-8")})
    return base  # infographic: the corrected poster replaces the old one


NOTE_CSS = (".correction { border-left-color: #b71c1c; background: #fff6f4; }\n"
            ".correction p + p { margin-top: 6px; }\n.correction time { margin-right: 0.5em; color: #b71c1c; }\n")
WECHAT_NOTE = ("margin:0 0 20px;padding:10px 14px;background:#fff6f4;border-left:4px solid #b8232f;"
               "font-size:15px;line-height:1.6;color:#333;")


def _wechat(release: Release, ctx: RenderContext, base: Rendition, c: Correction) -> Rendition:
    from channels import wechat

    article = dict(base.payload["articles"][0])
    title, cut = corrected_title(article["title"], wechat.TITLE_MAX)
    old = f"{dated(c.old_published_at, ctx)}发布的" if c.old_published_at else "此前发布的"
    said = c.note.removeprefix("本文")  # "原稿中……": this article is not the one that was wrong
    # Only links to WeChat's own articles survive in an article: the old one is linked when it is one.
    link = (f'<a href="{markup.escape(c.old_url)}">《{markup.escape(c.old_title or release.title)}》</a>'
            if c.old_url.startswith("https://mp.weixin.qq.com/") else f"《{markup.escape(c.old_title or release.title)}》")
    note = f'<p style="{WECHAT_NOTE}"><strong>【更正】</strong>本文为{old}{link}的更正稿。{markup.escape(said)}</p>'
    article.update(title=title, content=note + article["content"])
    wechat._check_content(article["content"])  # the note must not push the article over WeChat's limits
    payload = {"articles": [article]}
    files = {**base.files, wechat.DRAFT_FILE: dump_json(payload)}
    warnings = base.warnings + ((f"微信标题加“【更正】”后超过 {wechat.TITLE_MAX} 字，已截短为“{title}”",) if cut else ())
    return replace(base, title=title, payload=payload, files=files, warnings=warnings)


def _weibo(release: Release, ctx: RenderContext, base: Rendition, c: Correction) -> Rendition:
    from channels import weibo

    url = ctx.url_for(release.id)
    short = weibo._no_hash(markup.clean_text(release.wechat_title or release.title).strip())
    quoted = f"原微博：{c.old_url} " if c.old_url.startswith("https://") else ""

    def compose(body: str) -> str:
        return f"【更正】{short}：{body}{quoted}{weibo.LINK_LABEL}{url}"

    body, _ = weibo.trim(weibo._no_hash(c.note), lambda b: weibo.weibo_length(compose(b)) <= weibo.STATUS_MAX)
    status = compose(body)
    payload = {"status": status, **({"pic": base.payload["pic"]} if base.payload.get("pic") else {})}
    files = {**base.files, weibo.SHARE_FILE: dump_json(payload), weibo.MANUAL_FILE: (status + "\n").encode("utf-8")}
    warnings = base.warnings
    if weibo.weibo_length(status) > weibo.STATUS_MAX:
        warnings += (f"更正微博 {weibo.weibo_length(status)} 字，超过 {weibo.STATUS_MAX} 字，请缩短微信短标题",)
    return replace(base, title=f"【更正】{release.title}", payload=payload, files=files, warnings=warnings)


def withdrawal_rendition(channel: str, release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    """What a channel without a delete receives: the portal and H5 pages become a withdrawal notice, the
    desks get a 撤稿通知, anything else (an outbox folder) a note saying what to take down by hand."""
    version = retraction_version(w.withdraws)
    url = ctx.url_for(release_id)
    if channel in ("portal", "h5"):
        from channels import h5

        name = f"{release_id}.html" if channel == "portal" else h5.file_name(release_id)
        files = {name: withdrawal_page(release_id, ctx, w).encode("utf-8")}
    elif channel in DESK_CHANNELS:
        text = desk_withdrawal(channel, release_id, ctx, w)
        enc = "utf-8-sig" if channel == "newspaper" else "utf-8"
        files = {f"{release_id}.txt": text.encode(enc)}
    else:
        import channels

        label = channels.adapter(channel).LABEL
        text = render_template("corrections/manual-withdrawal.txt", label=label, title=w.title, url=w.old_url,
                               at=dated(w.at, ctx), reason=w.reason, release_id=release_id)
        files = {f"{channel}-withdrawn.txt": text.encode("utf-8")}
    return Rendition(channel=channel, release_id=release_id, version=version, title=f"【撤稿】{w.title}",
                     files=files, url=url if channel == "portal" else "")


def withdrawal_page(release_id: str, ctx: RenderContext, w: Withdrawal) -> str:
    s = ctx.settings
    outlet = s.outlet("portal")
    sites = list(outlet.get("sites", [])) or [str(s.city.get("name", ""))]
    return render_template(
        "corrections/withdrawn.html", title=markup.clean_text(w.title).strip(), site=sites[0], sites=sites,
        column=str(outlet.get("column", "新闻发布")), press_office=str(s.city.get("press_office", "")),
        url=ctx.url_for(release_id), published=dated(w.published_at, ctx) if w.published_at else "",
        withdrawn=dated(w.at, ctx), withdrawn_iso=w.at.astimezone(s.tz).isoformat(), notice=w.notice or DEFAULT_NOTICE)


# ---------------------------------------------------------------------------------------------
# The portal column's feeds


def _portal_history(rows: Iterable[Delivery]) -> tuple[dict[str, list[Correction]], dict[str, Withdrawal]]:
    """From the portal rows of the ledger: each release's corrections, and its withdrawal."""
    corrected: dict[str, list[Correction]] = {}
    withdrawn: dict[str, Withdrawal] = {}
    for d in rows:
        if d.channel != "portal":
            continue
        if is_retraction(d) and WITHDRAWAL in d.steps and d.state in (PUBLISHED, RETRACTED):
            withdrawn[d.release_id] = Withdrawal.from_json(d.steps[WITHDRAWAL])
        elif is_correction(d) and CORRECTION in d.steps and d.state in (PUBLISHED, RETRACTED):
            corrected.setdefault(d.release_id, []).append(Correction.from_json(d.steps[CORRECTION]))
    return corrected, withdrawn


def correction_notes(rows: Iterable[Delivery], ctx: RenderContext) -> dict[str, str]:
    """Release id -> the 更正说明 its pages carry (the press hall's, like the portal's), for every corrected
    release that is not withdrawn."""
    corrected, withdrawn = _portal_history(rows)
    return {rid: page_note(cs, ctx) for rid, cs in corrected.items() if rid not in withdrawn}


def column_notices(rows: Iterable[Delivery], ctx: RenderContext) -> dict:
    """Per release, what its feed entry must say: its 更正说明 (the entry is updated, same GUID), or that
    it was withdrawn."""
    from channels.portal import FeedNotice

    corrected, withdrawn = _portal_history(rows)
    out = {rid: FeedNotice("corrected", max(c.at for c in cs), page_note(cs, ctx)) for rid, cs in corrected.items()}
    for rid, w in withdrawn.items():
        out[rid] = FeedNotice("withdrawn", w.at, f"<p>《{markup.escape(w.title)}》已于{dated(w.at, ctx)}撤回。"
                                                   f"{markup.escape(w.notice or DEFAULT_NOTICE)}</p>",
                              title=f"【已撤回】{w.title}", published_at=w.published_at)
    return out


def refresh_column(settings, catalog, ledger: Ledger) -> list[str]:
    """Rebuild the portal column (``pressroom.sites.site``): its feeds carry the corrections and withdrawals."""
    from pressroom.sites.site import refresh_portal_column

    return refresh_portal_column(settings, catalog, ledger)