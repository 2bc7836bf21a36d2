"""Portal "新闻发布" column: one static HTML5 page per release, plus the column's index and feeds.

A page is ``<id>.html`` with its body images under ``assets/<id>/<image path>``; pages of one column sit
side by side, so links between them (document <-> interpretation, an event's updates, the index) are
relative and work both on the public site and in the local outbox. ``index_page`` and ``feeds`` rebuild
the whole column from loaded releases (``pressroom.sites.site``), and are as pure as ``render``.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable, Iterable, Mapping
from urllib.parse import quote, unquote

from feedgen.feed import FeedGenerator

from pressroom.errors import RenditionError
from pressroom.model import Image, Release
from pressroom.settings import Settings

from channels import govsite, infographic, markup, officialdoc
from channels.corrections import Correction, Withdrawal, page_note, withdrawal, withdrawal_page
from channels.base import (
    Channel, Published, ReleaseRef, RenderContext, Rendition, display_date, display_time, render_template,
    video_embed,
)

CHANNEL = Channel(name="portal", label="门户网站“新闻发布”栏目", short="门户网站", fast=True, column=True,
                  outbox="portal", uses=("infographic",))  # pages side by side, so the site's relative links work
NAME = CHANNEL.name

# A column with nothing published still needs a fixed feed date (never the clock: output is deterministic).
EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=timezone.utc)

# What sanitized Markdown gives for a paragraph holding only an image: shown as a figure with its caption.
_LONE_IMAGE = re.compile(r'<p>(<img\b[^>]*>)</p>')
_ALT = re.compile(r'\balt="([^"]*)"')


# ---------------------------------------------------------------------------------------------
# Shared with the H5 page


def image_resolver(release: Release, src_of: Callable[[Image], str]) -> Callable[[str], str | None]:
    """Map a body image reference (as written in the Markdown) to the URL the outlet serves it from.
    Only the release's own, loaded images resolve; anything else is dropped by ``markup.to_html``."""
    by_path = {img.path: img for img in release.images}

    def resolve(ref: str) -> str | None:
        img = by_path.get(posixpath.normpath(unquote(ref)))
        return src_of(img) if img else None

    return resolve


TABLE_WRAP = '<div class="table-wrap" tabindex="0" role="region" aria-label="表格（可左右滑动）">'


def body_html(md: str, image_src: Callable[[str], str | None]) -> str:
    """Sanitized HTML of a Markdown fragment, with lone images as captioned figures and tables in a
    wrapper that scrolls by itself (a wide table must not widen a 375 px page). Only markup that
    ``markup.to_html`` produced is rearranged here; no attribute or text is added from the input."""
    html = markup.to_html(md, image_src=image_src)

    def figure(m: re.Match) -> str:
        alt = _ALT.search(m.group(1))
        caption = f"<figcaption>{alt.group(1)}</figcaption>" if alt and alt.group(1) else ""
        return f"<figure>{m.group(1)}{caption}</figure>"

    html = _LONE_IMAGE.sub(figure, html)
    # The wrapper scrolls, so it takes keyboard focus and is named (WCAG 2.1.1; axe scrollable-region-focusable).
    return html.replace("<table>", TABLE_WRAP + "<table>").replace("</table>", "</table></div>")


text = markup.plain  # plain text fields (titles, digest), as every HTML channel shows them


def people(release: Release) -> dict[str, list[str]]:
    return {
        "speakers": [f"{s.name}（{s.title}）" if s.title else s.name for s in release.speakers],
        "experts": [f"{e.name}（{e.title}）" if e.title else e.name for e in release.experts],
    }


def counterpart_link(release: Release, ctx: RenderContext) -> tuple[str, ReleaseRef] | None:
    """The label and target of the policy bundle's two-way link (checked by government inspections)."""
    ref = ctx.counterpart(release)
    if ref is None:
        return None
    return ("政策原文" if release.kind == "policy" else "政策解读"), ref


def counterpart_warning(release: Release, ctx: RenderContext) -> list[str]:
    if release.kind == "policy-document" and ctx.counterpart(release) is None:
        return ["未找到配套的政策解读，页面缺少“政策解读”链接（文件与解读须同步发布、相互链接）"]
    if release.kind == "policy" and release.interprets and ctx.counterpart(release) is None:
        return [f"未找到被解读的政策文件“{release.interprets}”，页面缺少“政策原文”链接"]
    return []


# ---------------------------------------------------------------------------------------------
# One release page


def asset_name(release_id: str, image: Image) -> str:
    return f"assets/{release_id}/{image.path}"


def infographic_name(release_id: str) -> str:
    return f"assets/{release_id}/infographic.png"


def poster(release: Release, ctx: RenderContext, channel: str) -> bytes | None:
    """The 图解 of a release that goes out as one (its poster), for a page that shows it; None otherwise."""
    if "infographic" not in release.channels:
        return None
    try:
        return infographic.poster_png(release, ctx)
    except RenditionError as e:  # the page shows the same poster, so it fails for the same reason
        raise RenditionError(channel, e.field, f"图解无法生成：{e.message}", e.fix) from e


def _local(settings: Settings, dt: datetime) -> datetime:
    return dt.astimezone(settings.tz)


def event_timeline(release: Release, ctx: RenderContext) -> list[dict]:
    """An event's releases in publishing order, this one included (marked, not linked)."""
    if release.kind not in ("emergency", "opinion"):
        return []
    refs = [r for r in ctx.related.values() if r.kind == release.kind]
    if not refs and release.kind != "emergency":
        return []
    tz = ctx.settings.tz
    items = [{"id": r.id, "title": r.title, "href": f"{r.id}.html", "current": False,
              "at": datetime.fromisoformat(r.publish_at).astimezone(tz) if r.publish_at else None}
             for r in refs]
    items.append({"id": release.id, "title": release.title, "href": "", "current": True,
                  "at": release.publish_at.astimezone(tz)})
    items.sort(key=lambda i: (i["at"] is None, i["at"] or EMPTY_FEED_DATE, i["id"]))
    for i in items:
        # Another release's time is a slot too: delivery fills it with the time that release went out.
        i["slot"] = Published(i["at"], i["id"]) if i["at"] and not i["current"] else ""
    return items


def emergency_view(release: Release, ctx: RenderContext) -> dict | None:
    """An emergency's advice and hotlines (templates/portal/_emergency.html), and the press hall's page of the
    event's first release, which lists every follow-up however late it comes."""
    if release.kind != "emergency":
        return None
    first = release.follow_up_of or release.id
    return {"safety": [text(x) for x in release.safety],
            "hotlines": [{"name": text(h.name), "number": h.number} for h in release.hotlines],
            "all_href": f"{govsite.press_hall_base(ctx.settings)}releases/{first}.html"}


def _sections(release: Release, image_src) -> list[dict]:
    # A 不涉及 element is shown (muted), not omitted: readers and inspectors see every element the notice
    # requires was considered, and the reason given.
    bodies = [b for _, b in officialdoc.signed(release).body[1:]] if release.kind == "policy-document" else \
        [s.body for s in release.sections]
    return [{"heading": s.heading, "html": body_html(b, image_src), "not_applicable": s.not_applicable}
            for s, b in zip(release.sections, bodies)]


def document_view(release: Release, documents: Iterable, docx_href: str) -> dict | None:
    """What a policy document's page adds (templates/portal/_document.html): the information block, the
    signature and date set right, the .docx download and the 有效性 label with the documents it replaces or
    that replace it (both linked). ``documents``: the other policy documents it is linked with (anything
    with ``id``, ``title`` and ``kind``; their pages sit beside this one)."""
    if release.kind != "policy-document":
        return None
    s = officialdoc.signed(release)
    refs = [r for r in documents if r.kind == "policy-document"]
    link = lambda r: {"title": text(r.title), "href": f"{r.id}.html"}  # noqa: E731
    return {"info": officialdoc.information(release),
            "signers": list(s.signers), "date": officialdoc.written_on(release) if s.signers else "",
            "docx": docx_href, "status": release.status, "status_label": officialdoc.DOCUMENT_STATUS[release.status],
            "replaces": [link(r) for r in refs if r.id in release.supersedes],
            "replaced_by": [link(r) for r in refs if r.id not in release.supersedes]}


def page_html(release: Release, ctx: RenderContext, note: str = "", infographic: bool | None = None) -> str:
    """The release page; ``note`` is the 更正说明 box of a corrected release (the template's note slot)."""
    s = ctx.settings
    outlet = s.outlet(NAME)
    sites = list(s.site_names)
    image_src = image_resolver(release, lambda img: quote(asset_name(release.id, img)))
    link = counterpart_link(release, ctx)
    local = _local(s, release.publish_at)
    return render_template(
        "portal/page.html",
        r=release,
        title=text(release.title),
        kicker=text(release.kicker),
        subtitle=text(release.subtitle),
        digest=text(release.digest),
        site=sites[0],
        sites=sites,
        column=outlet["column"],
        press_office=s.city.press_office,
        url=ctx.url_for(release.id),
        published=Published(local),  # the 发布时间 slot, filled on delivery (channels.base.fill_published)
        event_time=display_time(release.event_at.astimezone(s.tz)) if release.event_at else "",
        people=people(release),
        counterpart=({"label": link[0], "title": link[1].title, "href": f"{link[1].id}.html"} if link else None),
        timeline=event_timeline(release, ctx),
        lead=body_html(release.lead, image_src),
        sections=_sections(release, image_src),
        video=video_embed(release, s, ""),  # its folder sits beside the pages (channels/video.py)
        document=document_view(release, ctx.related.values(), officialdoc.file_name(release.id)),
        emergency=emergency_view(release, ctx),
        infographic=({"src": quote(infographic_name(release.id)), "alt": f"图解：{text(release.title)}"}
                     if (infographic if infographic is not None else "infographic" in release.channels) else None),
        note=note,
        **govsite.portal_page(s, title=text(release.title), source=release.department.name,
                              url=ctx.url_for(release.id), column_type=govsite.column_type(release.kind),
                              description=text(release.digest)),
    )


def render(release: Release, ctx: RenderContext) -> Rendition:
    picture = poster(release, ctx, NAME)
    files = {f"{release.id}.html": page_html(release, ctx, infographic=picture is not None).encode("utf-8")}
    if picture is not None:
        files[infographic_name(release.id)] = picture
    if release.kind == "policy-document":
        files[officialdoc.file_name(release.id)] = officialdoc.docx_bytes(release)
    for img in release.images:
        files[asset_name(release.id, img)] = img.data
    warnings = counterpart_warning(release, ctx)
    if release.follow_up_of and release.follow_up_of not in ctx.related:
        warnings.append(f"未找到首发稿件“{release.follow_up_of}”，页面的事件进展列表不完整")
    return Rendition(channel=NAME, release_id=release.id, version=release.version, title=release.title,
                     files=files, warnings=tuple(warnings), url=ctx.url_for(release.id))


# ---------------------------------------------------------------------------------------------
# The column: index page and feeds


Times = Mapping[str, datetime]  # release id -> the 发布时间 its page shows (the ledger's, see site.py)


def _when(r: Release, settings: Settings, published: Times | None) -> datetime:
    """A listed release's 发布时间 in the city's zone: when it went out, else (not yet known) its publish_at."""
    return (published or {}).get(r.id, r.publish_at).astimezone(settings.tz)


def _newest_first(releases: Iterable[Release], settings: Settings, published: Times | None) -> list[Release]:
    return sorted(releases, key=lambda r: (_when(r, settings, published), r.id), reverse=True)


def index_page(releases: Iterable[Release], settings: Settings, published: Times | None = None) -> bytes:
    """The column's index (``index.html``): every published release, newest first, dated by ``published``
    (release id -> the time it went out; a release missing there shows its publish_at)."""
    ctx = RenderContext(settings)
    outlet = settings.outlet(NAME)
    sites = list(settings.site_names)
    items = [{"href": f"{r.id}.html", "title": text(r.title), "kind": r.kind_label,
              "date": display_date(_when(r, settings, published)),
              "iso": _when(r, settings, published).isoformat(), "department": r.department.name,
              "digest": text(r.digest)}
             for r in _newest_first(releases, settings, published)]
    gov = govsite.portal_page(settings, title=f"{outlet['column']} - {sites[0]}", url=ctx.portal_base + "index.html",
                              source=settings.city.press_office or sites[0], column_type=govsite.NEWS, article=False)
    html = render_template("portal/index.html", items=items, site=sites[0], sites=sites,
                           column=outlet["column"], url=ctx.portal_base, press_office=settings.city.press_office,
                           published_iso=items[0]["iso"] if items else "", **gov)
    return html.encode("utf-8")


def _feed(releases: list[Release], settings: Settings, self_name: str,
          notices: Mapping[str, "FeedNotice"] | None = None, published: Times | None = None) -> FeedGenerator:
    ctx = RenderContext(settings)
    notices = notices or {}
    outlet = settings.outlet(NAME)
    sites = list(settings.site_names)
    column = outlet["column"]
    base = ctx.portal_base
    tz = settings.tz  # every feed date in the city's zone (+08:00), as the pages show it
    when = {r.id: _when(r, settings, published) for r in releases}
    newest = when[releases[0].id] if releases else EMPTY_FEED_DATE
    newest = max([newest, *(n.at for n in notices.values())]).astimezone(tz)  # a correction updates the feed too

    fg = FeedGenerator()
    fg.id(base)
    fg.title(f"{sites[0]}·{column}")
    fg.subtitle(f"{settings.city.press_office or sites[0]}权威发布")
    fg.author({"name": settings.city.press_office or sites[0]})
    fg.language("zh-CN")
    # feedgen makes the LAST link the RSS <channel><link>: self first, the human page last.
    fg.link(href=base + self_name, rel="self")
    fg.link(href=base + "index.html", rel="alternate")
    fg.updated(newest)  # also lastBuildDate; from the content, never the clock
    listed = {r.id for r in releases}
    withdrawn = sorted((n.published_at or EMPTY_FEED_DATE, rid) for rid, n in notices.items()
                       if n.kind == "withdrawn" and rid not in listed)
    for r in releases:
        while withdrawn and withdrawn[-1][0] >= when[r.id]:  # newest first, withdrawn ones in their place
            _withdrawn_entry(fg, ctx, withdrawn.pop()[1], notices)
        url = ctx.url_for(r.id)
        content = page_content_for_feed(r, base)
        notice = notices.get(r.id)
        if notice and notice.kind == "corrected":
            content = notice.html + content  # same GUID, newer updated: readers replace the entry
        fe = fg.add_entry(order="append")
        fe.id(url)
        fe.guid(url, permalink=True)  # stable: a corrected release updates its entry
        fe.title(text(r.title))
        fe.link(href=url, rel="alternate")
        fe.author({"name": r.department.name})
        fe.published(when[r.id])
        fe.updated(notice.at.astimezone(tz) if notice and notice.kind == "corrected" else when[r.id])
        fe.category(term=r.kind, label=r.kind_label)
        summary = text(r.digest) or markup.to_text(r.lead).split("\n")[0]
        if summary:
            fe.summary(summary)
        fe.content(content, type="html")
    while withdrawn:
        _withdrawn_entry(fg, ctx, withdrawn.pop()[1], notices)
    return fg


def page_content_for_feed(release: Release, base: str) -> str:
    """The article body for feed readers: the same sanitized HTML, with image URLs made absolute."""
    image_src = image_resolver(release, lambda img: base + quote(asset_name(release.id, img)))
    parts = [body_html(release.lead, image_src)]
    for s in release.sections:
        parts.append(f"<h2>{markup.escape(s.heading)}</h2>")
        parts.append(body_html(s.body, image_src))
    return "\n".join(p for p in parts if p)


def feeds(releases: Iterable[Release], settings: Settings, notices: Mapping[str, "FeedNotice"] | None = None,
          published: Times | None = None) -> dict[str, bytes]:
    """``feed.xml`` (RSS 2.0) and ``atom.xml`` (Atom 1.0) of the column, newest first; serve them as
    application/rss+xml and application/atom+xml. ``notices`` (by release id) carry corrections and
    withdrawals (``pressroom.delivery.corrections.column_notices``); ``published`` the time each release
    went out (as ``index_page``)."""
    ordered = _newest_first(releases, settings, published)
    return {
        "feed.xml": _feed(ordered, settings, "feed.xml", notices, published).rss_str(pretty=True),
        "atom.xml": _feed(ordered, settings, "atom.xml", notices, published).atom_str(pretty=True),
    }


# ---------------------------------------------------------------------------------------------
# Corrections and withdrawals (the notes themselves come from ``pressroom.delivery.corrections``)


@dataclass(frozen=True)
class FeedNotice:
    kind: str  # "corrected" | "withdrawn"
    at: datetime  # when: the entry's new ``updated``
    html: str  # a correction's 更正说明 (put above the content), or the withdrawal notice (the content)
    title: str = ""  # a withdrawn entry's title
    published_at: datetime | None = None  # a withdrawn entry's first publication


def _withdrawn_entry(fg: FeedGenerator, ctx: RenderContext, release_id: str, notices) -> None:
    n = notices[release_id]
    url = ctx.url_for(release_id)
    fe = fg.add_entry(order="append")
    fe.id(url)
    fe.guid(url, permalink=True)  # the same GUID as the withdrawn entry, so readers replace it
    fe.title(text(n.title))
    fe.link(href=url, rel="alternate")
    fe.author({"name": ctx.settings.city.press_office or ctx.settings.city.name})
    fe.published((n.published_at or n.at).astimezone(ctx.settings.tz))
    fe.updated(n.at.astimezone(ctx.settings.tz))
    fe.content(n.html, type="html")


def correct(release: Release, ctx: RenderContext, base: Rendition, c: Correction, earlier: list[Correction],
            old: str | None) -> Rendition:
    """The corrected page carries every 更正说明 of the release, dated, under its header."""
    page = f"{release.id}.html"
    html = page_html(release, ctx, note=page_note([*earlier, c], ctx))
    return replace(base, files={**base.files, page: html.encode("utf-8")})


def withdraw(release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    """The page is replaced by a withdrawal notice at the same address."""
    files = {f"{release_id}.html": withdrawal_page(release_id, ctx, w).encode("utf-8")}
    return withdrawal(NAME, release_id, w, files, url=ctx.url_for(release_id))
