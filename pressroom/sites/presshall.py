"""The 淮南新闻发布厅 website (R5, R8, R10): a static site generated from published releases.

Where it goes: ``outbox/portal/presshall/``. The press hall is served next to the portal's "新闻发布" column
(the notice names both under 网站), so the local outbox stays one browsable tree and whatever serves
``outbox/portal`` serves the hall too. A remote CMS gets exactly what changed: ``BuildResult.written`` and
``removed`` (pushing them is a transport's job; the CMS transport sends release pages only, for now).

Layout (every page is at depth 0 or 1, all links relative, so the tree works on any host and from disk):

    index.html  search.html  search.js  search-index.js  search-index.json  style.css  feed.xml
    notices/      发布通知     upcoming conferences, then held conferences
    videos/       发布视频实录  conferences with their video records
    spokespeople/ 新闻发言人    the registry (R8)
    policies/     新闻发布政策  policy documents with their interpretations side by side
    images/       新闻发布图片  photos, covers, infographics
    coverage/     媒体报道集    coverage links (R10)
    releases/     全部发布      every release; ``releases/<id>.html`` is the release page
    assets/<id>/<image path>

Each section has ``index.html`` (the newest items), ``page-<n>.html`` archive pages and ``feed.xml`` (RSS).
Archive pages are numbered from the oldest and hold a fixed run of items, so a new release changes only the
newest page of each section it belongs to (and, when it opens a new page, the "较新一页" link of the one
before), never the old pages. A release dated back into the archive shifts the pages after it, as it must.

Incremental: ``.build-manifest.json`` records, per release and archive page, a key of everything the page
shows. A page whose key is unchanged (and whose file exists) is not rendered again; every page that is
rendered is written atomically (temp file + rename) and only when its bytes changed. Pages and assets that no
longer belong to the site are removed. A large build renders in forked worker processes. The manifest
also records where the search index (rewritten every build: it holds every release) has each release's row,
and the index's size and CRC-32, so the rows of releases whose pages are kept are copied, not made again.
Markdown is converted once per text and process: a release's page, its search text and its Word file share
the conversions.

Durability: a small (incremental) build writes with ``write_atomic``, which fsyncs every file. A full build
of a large archive writes 13,000 files, and an fsync costs about 1 ms on this disk however many run at once
(the journal serializes them): 13 s of a 20 s budget. So a large build replaces files without a per-file
fsync and syncs the file system once, before the manifest that records the pages as done is written.

Input is plain values: releases, a mapping release id -> first publication time (from the ledger), the
registry, the media store (``pressroom.sites.coverage``) and ``now`` (for upcoming conferences). No clock, network
or randomness inside: the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import multiprocessing as mp
import os
import threading
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache, reduce
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import quote

from feedgen.feed import FeedGenerator
from PIL import Image as PILImage

import channels
from channels import govsite, markup, officialdoc
from channels.infographic import THUMB_NAME as INFOGRAPHIC_THUMB
from channels.base import Published, RenderContext, display_date, display_time, template_env, video_files
from channels.portal import body_html, document_view, emergency_view, image_resolver, people, text

from pressroom.sites.coverage import Media
from pressroom.model import Registry, Release
from pressroom.settings import TEMPLATES_DIR, Settings
from pressroom.files import locked, write_atomic

SUBDIR = "presshall"
MANIFEST = ".build-manifest.json"
BUILDER_VERSION = "4"  # bump when this module changes what pages contain

# (key, label, what it holds) in the order of the notice (淮宣〔2017〕78号 五（三）); "releases" is the archive
# every release belongs to, so no release page is without a section.
SECTIONS = (
    ("notices", "发布通知", "新闻发布会预告与往期发布会"),
    ("videos", "发布视频实录", "新闻发布会视频实录"),
    ("spokespeople", "新闻发言人", "各部门新闻发言人和新闻发布工作联络员"),
    ("policies", "新闻发布政策", "政策文件与政策解读对照"),
    ("images", "新闻发布图片", "发布会图片与图解"),
    ("coverage", "媒体报道集", "各媒体对新闻发布的报道"),
    ("releases", "全部发布", "全部新闻发布"),
)
LABELS = {k: label for k, label, _ in SECTIONS}
PAGE_SIZE = 20
IMAGE_PAGE_SIZE = 24
FEED_SIZE = 20
HOME_ITEMS = 6
PARALLEL_FROM = 300  # pages to render before forking workers pays off
EMPTY_DATE = datetime(1970, 1, 1, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# Inputs


def published_times(rows: Iterable, channel: str | None = None) -> dict[str, datetime]:
    """Release id -> the 发布时间 of its first publication (any channel, or one channel), from the ledger's
    rows: the minute its pages show (``ledger.shown_time``), so the site and the pages agree."""
    from pressroom.delivery.ledger import PUBLISHED, shown_time

    out: dict[str, datetime] = {}
    for d in rows:
        if d.state == PUBLISHED and d.published_at and (channel is None or d.channel == channel):
            at = shown_time(d)
            if d.release_id not in out or at < out[d.release_id]:
                out[d.release_id] = at
    return out


def registry_problems(registry: Registry) -> list[str]:
    """R8: every department names 1–2 spokespersons (one of them its head) and one liaison."""
    problems = []
    for key, dep in registry.departments.items():
        persons = registry.speakers_of(key)
        if not persons:
            problems.append(f"{dep.name}：未登记新闻发言人（每个部门应确定1—2名）")
        elif len(persons) > 2:
            problems.append(f"{dep.name}：登记了 {len(persons)} 名新闻发言人，超过2名上限")
        if persons and sum(p.head for p in persons) != 1:
            problems.append(f"{dep.name}：应有且只有1名主要负责人（head: true）作为第一发言人")
        if key not in registry.liaisons:
            problems.append(f"{dep.name}：未确定新闻发布工作联络员")
    return problems


@dataclass
class BuildResult:
    out_dir: Path
    written: list[str]  # files whose bytes changed (created or rewritten), relative to out_dir
    removed: list[str]  # files no longer part of the site
    rendered: int  # pages rendered (the rest were unchanged by key)
    pages: int  # pages in the site
    warnings: list[str] = field(default_factory=list)  # Chinese: registry gaps, a store that did not load
    check: object = None  # the link verifier's LinkReport, when ``refresh`` ran it
    timings: dict = field(default_factory=dict)  # seconds per build phase (for bench/site.py)


# ---------------------------------------------------------------------------------------------
# The site model: every relation computed once, so each page renders on its own.


def _sha(*parts) -> str:
    """A key of plain values (strings, numbers, None, tuples and lists of them): their marshal format 2 (no
    references between objects, so the bytes depend on the values alone), else their repr."""
    try:
        data = marshal.dumps(parts, 2)
    except ValueError:  # a value marshal does not take
        data = repr(parts).encode("utf-8")
    return hashlib.sha1(data).hexdigest()


@dataclass(frozen=True)
class PictureItem:
    release: Release
    label: str  # caption
    href: str  # the full picture, relative to the site root
    width: int  # of what the gallery shows (``thumb`` when there is one); 0 = unknown
    height: int
    thumb: str = ""  # a scaled-down copy of the whole picture, relative to the site root


class Site:
    def __init__(self, releases: Iterable[Release], published: Mapping[str, datetime], registry: Registry,
                 settings: Settings, media: Mapping[str, Media], now: datetime,
                 infographics: Mapping[str, Path], notes: Mapping[str, str],
                 videos: Mapping[str, Path] | None = None):
        self.settings = settings
        self.videos = videos or {}  # release id -> its micro-video (the video channel's MP4 in the outbox)
        self.tz = settings.tz
        self.registry = registry
        self.media = media
        self.now = now
        self.infographics = infographics
        self.thumbs: dict[str, tuple[Path, int, int] | None] = {}
        self.notes = notes  # release id -> its 更正说明 (HTML), for corrected releases
        self.name = settings.press_hall_name
        self.base = govsite.press_hall_base(settings)
        self.press_office = settings.city.press_office

        everything = {r.id: r for r in releases}
        self.pub = {rid: t for rid, t in published.items() if rid in everything}
        self.releases = sorted((everything[i] for i in self.pub), key=self.order, reverse=True)
        self.by_id = {r.id: r for r in self.releases}
        self.upcoming = sorted((r for r in everything.values() if r.press_conference and r.id not in self.pub
                                and r.publish_at > now), key=lambda r: (r.publish_at, r.id))

        self.interps: dict[str, list[Release]] = {}
        for r in self.releases:
            if r.kind == "policy" and r.interprets in self.by_id:
                self.interps.setdefault(r.interprets, []).append(r)
        for v in self.interps.values():
            v.sort(key=lambda r: r.id)
        # Policy documents by the ids they supersede, and the rank of each release (newest first), so a
        # document's linked documents are found without scanning the archive for each.
        self.rank = {r.id: i for i, r in enumerate(self.releases)}
        self.superseded_by: dict[str, list[Release]] = {}
        for r in self.releases:
            if r.kind == "policy-document":
                for old in set(r.supersedes):
                    self.superseded_by.setdefault(old, []).append(r)
        self.events: dict[str, list[Release]] = {}
        for r in reversed(self.releases):  # oldest first
            if r.kind in ("emergency", "opinion"):
                self.events.setdefault(r.follow_up_of or r.id, []).append(r)

        self.sig_cache: dict[str, str] = {}
        self.lists = self._section_lists()
        self.templates = _templates_sig()
        self.template_sig = _sha(BUILDER_VERSION, self.name, self.base, self.press_office, self.templates,
                                 sorted(settings.site.items()), settings.outlet("portal")["base_url"])

    # -- ordering and identity ---------------------------------------------------------------

    def order(self, r: Release):
        return (self.pub[r.id], r.id)

    def when(self, r: Release) -> datetime:
        return self.pub.get(r.id, r.publish_at).astimezone(self.tz)

    def sig(self, r: Release) -> str:
        """Everything a release contributes to any page (body covered by the content hash)."""
        s = self.sig_cache.get(r.id)
        if s is None:
            d = r.department
            # Plain strings only: repr() of nested dataclasses is the slow part of keying 10,000 pages.
            s = _sha(r.id, r.content_hash, r.title, r.kind, d.key, d.name, d.short, d.listed,
                     [(p.name, p.title, p.head) for p in r.speakers], [(e.name, e.title) for e in r.experts],
                     r.publish_at.isoformat(), self.pub.get(r.id, EMPTY_DATE).isoformat(), r.kicker, r.subtitle,
                     r.digest, r.keywords, [(f.label, f.value, f.unit) for f in r.key_figures], r.venue,
                     [(i.path, i.caption, i.width, i.height) for i in r.images],
                     r.cover and (r.cover.path, r.cover.width, r.cover.height), r.press_conference, r.interprets,
                     r.document_number, r.issuer, r.event_at and r.event_at.isoformat(), r.follow_up_of,
                     len(r.lead), [(x.heading, len(x.body), x.not_applicable) for x in r.sections],
                     r.index_number, r.topic, r.written_on, r.status, r.supersedes, r.safety,
                     [(h.name, h.number) for h in r.hotlines],
                     self._infographic_sig(r.id))
            self.sig_cache[r.id] = s
        return s

    def _video_sig(self, rid: str):
        p = self.videos.get(rid)
        return p and (p.stat().st_size, p.stat().st_mtime_ns)

    def _infographic_sig(self, rid: str):
        p = self.infographics.get(rid)
        if p is None:
            return None
        st = p.stat()
        thumb = self.infographic_thumb(rid)
        return (st.st_size, st.st_mtime_ns, thumb and (thumb[0].stat().st_size, thumb[0].stat().st_mtime_ns))

    def infographic_thumb(self, rid: str) -> tuple[Path, int, int] | None:
        """The poster's thumbnail the infographic channel delivered beside it, with its size in pixels."""
        if rid not in self.thumbs:
            p = self.infographics[rid].with_name(INFOGRAPHIC_THUMB)
            if p.is_file():
                with PILImage.open(p) as im:  # reads the header only
                    self.thumbs[rid] = (p, im.width, im.height)
            else:
                self.thumbs[rid] = None
        return self.thumbs[rid]

    # -- sections ------------------------------------------------------------------------------

    def primary(self, r: Release) -> str:
        if r.kind in ("policy", "policy-document"):
            return "policies"
        return "notices" if r.press_conference else "releases"

    def memberships(self, r: Release) -> list[str]:
        m = self.media.get(r.id)
        keys = {self.primary(r), "releases"}
        if r.press_conference:
            keys.add("notices")
        if (m and m.videos) or r.id in self.videos:
            keys.add("videos")
        if m and m.coverage:
            keys.add("coverage")
        if r.cover or r.images or r.id in self.infographics:  # what pictures_of lists
            keys.add("images")
        return [k for k, _, _ in SECTIONS if k in keys]

    def pictures_of(self, r: Release) -> list[PictureItem]:
        seen, out = set(), []
        for img in ([r.cover] if r.cover else []) + list(r.images):
            if img.path in seen:
                continue
            seen.add(img.path)
            out.append(PictureItem(r, img.caption or text(r.title), asset_path(r.id, img.path), img.width, img.height))
        if r.id in self.infographics:
            thumb = self.infographic_thumb(r.id)
            out.append(PictureItem(r, f"图解：{text(r.title)}", asset_path(r.id, "infographic.png"),
                                   thumb[1] if thumb else 0, thumb[2] if thumb else 0,
                                   asset_path(r.id, INFOGRAPHIC_THUMB) if thumb else ""))
        return out

    def _section_lists(self) -> dict[str, list]:
        """Items of each paginated section, oldest first (archive pages are numbered from the oldest)."""
        oldest = list(reversed(self.releases))
        coverage = [(c, r) for r in oldest for c in (self.media.get(r.id) or Media()).coverage]
        coverage.sort(key=lambda cr: (cr[0].date, self.order(cr[1]), cr[0].url))
        docs = [r for r in oldest if r.kind == "policy-document"]
        orphans = [r for r in oldest if r.kind == "policy" and r.interprets not in self.by_id]
        rows = sorted([(d, self.interps.get(d.id, [])) for d in docs] + [(None, [o]) for o in orphans],
                      key=lambda row: self.order(row[0] or row[1][0]))
        return {
            "notices": [r for r in oldest if r.press_conference],
            "videos": [r for r in oldest if ((m := self.media.get(r.id)) and m.videos) or r.id in self.videos],
            "policies": rows,
            "images": [p for r in oldest for p in self.pictures_of(r)],
            "coverage": coverage,
            "releases": oldest,
        }

    def item_sig(self, section: str, item):
        """Everything an item of ``section`` shows, as plain values for its archive page's key."""
        if section == "policies":
            doc, interps = item
            return doc and self.sig(doc), [self.sig(i) for i in interps]
        if section == "coverage":
            c, r = item
            return c.outlet, c.title, c.url, c.date.isoformat(), self.sig(r)
        if section == "images":
            return item.href, item.thumb, item.label, self.sig(item.release)
        if section == "videos":
            return (self.sig(item), [(v.title, v.url, v.duration) for v in self.media[item.id].videos]
                    if item.id in self.media else [], self._video_sig(item.id))
        return self.sig(item)

    def release_key(self, r: Release) -> str:
        related = [self.sig(x) for x in self.related(r)]
        m = self.media.get(r.id)
        media = m and ([(c.outlet, c.title, c.url, c.date.isoformat()) for c in m.coverage],
                       [(v.title, v.url, v.duration) for v in m.videos], m.live)
        return _sha(self.template_sig, self.sig(r), related, media, self.memberships(r), self.notes.get(r.id),
                    self._video_sig(r.id))

    def related(self, r: Release) -> list[Release]:
        out = list(self.interps.get(r.id, []))
        if r.kind == "policy" and r.interprets in self.by_id:
            out.append(self.by_id[r.interprets])
        if r.kind in ("emergency", "opinion"):
            out += [x for x in self.events.get(r.follow_up_of or r.id, []) if x.id != r.id]
        return out + self.documents_linked(r)

    def documents_linked(self, r: Release) -> list[Release]:
        """The policy documents ``r`` supersedes and those that supersede it."""
        if r.kind != "policy-document":
            return []
        linked = {x.id: x for x in self.superseded_by.get(r.id, [])}
        linked.update((i, self.by_id[i]) for i in r.supersedes if i in self.by_id and self.by_id[i].kind == "policy-document")
        linked.pop(r.id, None)
        return sorted(linked.values(), key=lambda x: self.rank[x.id])


@lru_cache(maxsize=2)
def _env_for(templates: str):
    """The shared template environment without its per-render file checks (a build renders thousands of
    pages from templates that do not change while it runs); a new one when the templates change."""
    return template_env().overlay(auto_reload=False)


def _env():
    return _env_for(_templates_sig())


_CURRENT_ENV = None  # set for the duration of a build, so a page render does not hash the templates


def render_template(name: str, **values) -> str:
    return (_CURRENT_ENV or _env()).get_template(name).render(**values)


def asset_path(release_id: str, image_path: str) -> str:
    return f"assets/{release_id}/{image_path}"


def _templates_sig() -> str:
    h = hashlib.sha1()
    for folder in ("presshall", "portal"):
        for p in sorted((TEMPLATES_DIR / folder).glob("*")):
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def _pages(n_items: int, size: int) -> int:
    return (n_items + size - 1) // size


def _page_size(section: str) -> int:
    return IMAGE_PAGE_SIZE if section == "images" else PAGE_SIZE


# ---------------------------------------------------------------------------------------------
# Views: plain dicts for the templates


def _common(site: Site, root: str, current: str, page_kind: str, feed: str = "", feed_title: str = "",
            gov: dict | None = None) -> dict:
    return {
        "site": site.name, "root": root, "current": current, "page_kind": page_kind,
        "nav": [{"key": k, "label": label} for k, label, _ in SECTIONS],
        "press_office": site.press_office, "feed": feed, "feed_title": feed_title,
        "default_venue": site.settings.city.default_venue,
        **(gov or _gov(site, "index.html", title=site.name, column="首页")),
    }


# ColumnType of each section (the inspection's clocks: 通知公告 and 政策文件 six months, the rest two weeks).
SECTION_TYPES = {"notices": govsite.NOTICES, "policies": govsite.POLICY_DOCUMENTS}


def _gov(site: Site, path: str, *, title: str, column: str, column_type: str = govsite.NEWS,
         published: datetime | None = None, source: str = "", description: str = "", image: str = "",
         article: bool = False) -> dict:
    """Meta tags, footer lines and the ``published_iso`` the meta's PubDate is read from
    (``portal/_gov.html``); ``path`` is the page's path under the site root."""
    meta = govsite.meta(site.settings, site_name=site.name, column=column, column_type=column_type, title=title,
                        source=source or site.press_office or site.name, url=site.base + path,
                        description=description, image=image, article=article)
    return {"meta": meta, "footer_lines": govsite.footer(site.settings),
            "published_iso": published.astimezone(site.tz).isoformat() if published else ""}


def _release_of(section: str, item) -> Release:
    if section == "policies":
        return item[0] or item[1][0]
    if section == "images":
        return item.release
    return item[1] if section == "coverage" else item


def _section_gov(site: Site, section: str, path: str, chosen: list) -> dict:
    newest = max((site.when(_release_of(section, it)) for it in chosen), default=None)
    label = LABELS[section]
    return _gov(site, path, title=f"{label} - {site.name}", column=label,
                column_type=SECTION_TYPES.get(section, govsite.NEWS), published=newest)


def _item(site: Site, r: Release, root: str) -> dict:
    when = site.when(r)
    return {"href": f"{root}releases/{r.id}.html", "title": text(r.title), "kind": r.kind_label,
            "date": display_date(when), "time": display_time(when), "iso": when.isoformat(),
            "department": r.department.name, "short": r.department.short, "digest": text(r.digest),
            "conference": r.press_conference, "id": r.id}


def _conference(site: Site, r: Release, root: str) -> dict:
    item = _item(site, r, root)
    item.update(speakers=people(r)["speakers"], venue=text(r.venue), topic=text(r.kicker) or item["title"])
    return item


def _notice(site: Site, r: Release) -> dict:
    """An upcoming conference: time, venue, topic, speakers, live stream. The release itself is under
    embargo, so its title and body are not shown: the topic is the kicker, else the department's conference."""
    when = r.publish_at.astimezone(site.tz)
    m = site.media.get(r.id)
    return {"topic": text(r.kicker) or f"{r.department.short}新闻发布会", "time": display_time(when),
            "iso": when.isoformat(), "venue": text(r.venue), "department": r.department.name,
            "speakers": people(r)["speakers"], "live": m.live if m else "", "id": r.id}


def _policy_row(site: Site, row, root: str) -> dict:
    doc, interps = row
    return {"document": _item(site, doc, root) | {"number": doc.document_number} if doc else None,
            "interpretations": [_item(site, i, root) for i in interps]}


def _picture(site: Site, p: PictureItem, root: str) -> dict:
    return {"src": root + quote(p.thumb or p.href), "full": root + quote(p.href), "label": p.label,
            "href": f"{root}releases/{p.release.id}.html",
            "title": text(p.release.title), "date": display_date(site.when(p.release)),
            "width": p.width, "height": p.height}


def _coverage(site: Site, cr, root: str) -> dict:
    c, r = cr
    return {"outlet": c.outlet, "title": c.title, "url": c.url, "date": f"{c.date.year}年{c.date.month}月{c.date.day}日",
            "iso": c.date.isoformat(), "release": _item(site, r, root)}


def _videos_summary(site: Site, r: Release) -> str:
    m = site.media.get(r.id)
    parts = (["视频实录：" + "、".join(v.title for v in m.videos)] if m and m.videos else [])
    return "；".join(parts + (["微视频"] if r.id in site.videos else []))


def _video_item(site: Site, r: Release, root: str) -> dict:
    """A release's conference recordings (视频实录) and, apart from them, its micro-video (微视频), played
    from the portal's video folder (the press hall sits in the portal's folder)."""
    m = site.media.get(r.id)
    micro = video_files(r.id).embed(f"{root}../") if r.id in site.videos else None
    return _conference(site, r, root) | {"videos": list(m.videos) if m else [], "micro": micro}


def _section_item(site: Site, section: str, item, root: str) -> dict:
    return {
        "notices": _conference, "videos": _video_item, "policies": _policy_row, "images": _picture,
        "coverage": _coverage, "releases": _item,
    }[section](site, item, root)


def _nav_pages(n_pages: int, current: int | None) -> list[dict]:
    """Archive page links for an index, newest page first."""
    return [{"n": k, "href": f"page-{k}.html", "current": k == current} for k in range(n_pages, 0, -1)]


def render_section_page(site: Site, section: str, page: int | None) -> bytes:
    """``page`` None is the section's index (newest items); otherwise archive page ``page`` (1 = oldest)."""
    items = site.lists[section]
    size = _page_size(section)
    n_pages = _pages(len(items), size)
    if page is None:
        chosen = items[-size:]
    else:
        chosen = items[(page - 1) * size: page * size]
    label = LABELS[section]
    path = f"{section}/{'index.html' if page is None else f'page-{page}.html'}"
    common = _common(site, "../", section, "section", "feed.xml", f"{site.name}·{label}（RSS）",
                     _section_gov(site, section, path, chosen))
    view = dict(common, section=section, label=label, description=dict((k, d) for k, _, d in SECTIONS)[section],
                items=[_section_item(site, section, it, "../") for it in reversed(chosen)],
                page=page, n_pages=n_pages, pages=_nav_pages(n_pages, page) if page is None else [],
                newer=(f"page-{page + 1}.html" if page and page < n_pages else "index.html") if page else "",
                older=f"page-{page - 1}.html" if page and page > 1 else "",
                total=len(items) if page is None else 0,  # an archive page stays as it is when the section grows
                upcoming=[_notice(site, r) for r in site.upcoming] if section == "notices" and page is None else [])
    return render_template(f"presshall/{section}.html", **view).encode("utf-8")


def render_spokespeople(site: Site) -> bytes:
    reg = site.registry
    held: dict[str, int] = {}
    for r in site.releases:
        if r.press_conference:
            held[r.department.key] = held.get(r.department.key, 0) + 1
    rows = []
    for key, dep in reg.departments.items():
        persons = sorted(reg.speakers_of(key), key=lambda s: not s.head)
        li = reg.liaisons.get(key)
        rows.append({"key": key, "name": dep.name, "short": dep.short, "listed": dep.listed,
                     "spokespersons": [{"name": s.name, "title": s.title, "head": s.head} for s in persons],
                     "liaison": {"name": li.name, "title": li.title, "phone": li.phone} if li else None,
                     "conferences": held.get(key, 0)})
    gov = _gov(site, "spokespeople/index.html", title=f"{LABELS['spokespeople']} - {site.name}",
               column=LABELS["spokespeople"])
    common = _common(site, "../", "spokespeople", "section", "feed.xml", f"{site.name}·新闻发言人（RSS）", gov)
    return render_template("presshall/spokespeople.html", **common, label=LABELS["spokespeople"], rows=rows,
                           listed=sum(r["listed"] for r in rows)).encode("utf-8")


def render_release(site: Site, r: Release) -> tuple[bytes, dict[str, bytes | Path]]:
    """A release page and its assets (relative path -> bytes, or a source file to copy)."""
    root = "../"
    image_src = image_resolver(r, lambda img: root + quote(asset_path(r.id, img.path)))
    when = site.when(r)
    counterparts = []
    if r.kind == "policy-document":
        counterparts = [{"label": "政策解读", "title": text(i.title), "href": f"{i.id}.html", "id": i.id}
                        for i in site.interps.get(r.id, [])]
    elif r.kind == "policy" and r.interprets in site.by_id:
        d = site.by_id[r.interprets]
        counterparts = [{"label": "政策原文", "title": text(d.title), "href": f"{d.id}.html", "id": d.id}]
    timeline = []
    if r.kind in ("emergency", "opinion"):
        members = site.events.get(r.follow_up_of or r.id, [])
        if len(members) > 1:
            timeline = [{"title": text(x.title), "href": f"{x.id}.html", "current": x.id == r.id,
                         "time": display_time(site.when(x))} for x in members]
    m = site.media.get(r.id) or Media()
    assets: dict[str, bytes | Path] = {asset_path(r.id, img.path): img.data
                                       for img in ([r.cover] if r.cover else []) + list(r.images)}
    infographic = ""
    if r.id in site.infographics:
        assets[asset_path(r.id, "infographic.png")] = site.infographics[r.id]
        infographic = root + asset_path(r.id, "infographic.png")
        if thumb := site.infographic_thumb(r.id):
            assets[asset_path(r.id, INFOGRAPHIC_THUMB)] = thumb[0]
    primary = site.primary(r)
    document = document_view(r, site.documents_linked(r), root + quote(asset_path(r.id, officialdoc.file_name(r.id))))
    if document:
        assets[asset_path(r.id, officialdoc.file_name(r.id))] = officialdoc.docx_bytes(r)
    body = body_parts(r, image_src)
    view = dict(
        _common(site, root, primary, "release", "feed.xml", f"{site.name}·{LABELS[primary]}（RSS）",
                _gov(site, f"releases/{r.id}.html", title=text(r.title), column=LABELS[primary],
                     column_type=govsite.column_type(r.kind), source=r.department.name,
                     published=when, description=text(r.digest), article=True)),
        r=r, title=text(r.title), kicker=text(r.kicker), subtitle=text(r.subtitle), digest=text(r.digest),
        published=Published(when),  # the 发布时间 slot, here filled by the build from the ledger
        event_time=display_time(r.event_at.astimezone(site.tz)) if r.event_at else "",
        people=people(r), venue=text(r.venue) if r.press_conference else "",
        counterparts=counterparts, timeline=timeline, videos=list(m.videos),
        coverage=[{"outlet": c.outlet, "title": c.title, "url": c.url, "iso": c.date.isoformat(),
                   "date": f"{c.date.year}年{c.date.month}月{c.date.day}日"} for c in m.coverage],
        cover=root + quote(asset_path(r.id, r.cover.path)) if r.cover else "",
        infographic=infographic,
        correction=site.notes.get(r.id, ""),
        primary={"key": primary, "label": LABELS[primary]},
        sections_in=[{"key": k, "label": LABELS[k]} for k in site.memberships(r)],
        url=f"{site.base}releases/{r.id}.html",
        lead=body[0],
        sections=[{"heading": s.heading, "html": html, "not_applicable": s.not_applicable}
                  for s, html in zip(r.sections, body[1:])],
        document=document,
        emergency=emergency_view(r, RenderContext(site.settings)),
    )
    return render_template("presshall/release.html", **view).encode("utf-8"), assets


SECTION_BREAK = "PRESSHALLSECTIONBREAK9F3C2A"


def _body_texts(r: Release) -> list[str]:
    """The Markdown of the lead and of each section as the page shows them (a policy document's last
    section without its signature block, which the page sets apart)."""
    if r.kind == "policy-document":
        return [body for _, body in officialdoc.signed(r).body]
    return [r.lead, *(s.body for s in r.sections)]


def _joined(r: Release, texts: list[str]) -> str | None:
    """The parts as one Markdown document with a marker paragraph between them (one parser instead of one
    per part: the build's largest cost), or None where each part is rendered on its own: a policy
    document, whose Word file converts each part (the same conversions serve both), and a text holding
    the marker."""
    if r.kind == "policy-document" or any(SECTION_BREAK in t for t in texts):
        return None
    return f"\n\n{SECTION_BREAK}\n\n".join(texts)


def body_parts(r: Release, image_src) -> list[str]:
    """Sanitized HTML of the lead and of each section: ``_joined`` rendered and split at the markers. If the
    marker does not come back as exactly one paragraph per boundary (an unclosed code fence, say,
    swallowed it), each part is rendered on its own, as the portal does."""
    texts = _body_texts(r)
    joined = _joined(r, texts)
    if joined is not None:
        parts = body_html(joined, image_src).split(f"<p>{SECTION_BREAK}</p>")
        if len(parts) == len(texts):
            return [p.strip() for p in parts]
    return [body_html(t, image_src) for t in texts]


def render_home(site: Site) -> bytes:
    lists = site.lists
    view = dict(
        _common(site, "", "", "home", "feed.xml", f"{site.name}（RSS）",
                _gov(site, "index.html", title=site.name, column="首页",
                     published=site.when(site.releases[0]) if site.releases else None)),
        upcoming=[_notice(site, r) for r in site.upcoming],
        latest=[_item(site, r, "") for r in site.releases[:HOME_ITEMS]],
        conferences=[_conference(site, r, "") for r in reversed(lists["notices"][-4:])],
        policies=[_policy_row(site, row, "") for row in reversed(lists["policies"][-5:])],
        videos=[_video_item(site, r, "") for r in reversed(lists["videos"][-3:])],
        pictures=[_picture(site, p, "") for p in reversed(lists["images"][-6:])],
        coverage=[_coverage(site, c, "") for c in reversed(lists["coverage"][-5:])],
        departments=len(site.registry.departments), spokespersons=len(site.registry.speakers),
        total=len(site.releases),
        sections=[{"key": k, "label": label, "description": d} for k, label, d in SECTIONS],
    )
    return render_template("presshall/home.html", **view).encode("utf-8")


def render_search(site: Site) -> bytes:
    gov = _gov(site, "search.html", title=f"站内搜索 - {site.name}", column="站内搜索")
    return render_template("presshall/search.html", **_common(site, "", "", "search", gov=gov)).encode("utf-8")


def full_text(r: Release) -> str:
    """The words the release page shows, as one line of plain text (the search index's full text): the
    lead, each section's heading and text, a policy document's signature and date. Made from the
    conversions ``body_parts`` made (Markdown is converted once per text and process). An incremental build
    reuses the last index's text of a release whose page is unchanged: a change here bumps BUILDER_VERSION."""
    texts = _body_texts(r)
    words = _paragraphs(r, texts)
    out = words[0]
    for section, part in zip(r.sections, words[1:]):
        out += [section.heading, *part]
    if r.kind == "policy-document":
        signed = officialdoc.signed(r)
        out += [*signed.signers, signed.date]
    return " ".join(" ".join(out).split())


def _paragraphs(r: Release, texts: list[str]) -> list[list[str]]:
    """``markup.paragraphs`` of each text, from the joined document where ``body_parts`` rendered one."""
    joined = _joined(r, texts)
    if joined is not None:
        parts: list[list[str]] = [[]]
        for line in markup.paragraphs(joined):
            if line == SECTION_BREAK:
                parts.append([])
            else:
                parts[-1].append(line)
        if len(parts) == len(texts):
            return parts
    return [markup.paragraphs(t) for t in texts]


SEARCH_FIELDS = ["title", "url", "date", "kind", "department", "keywords", "digest", "section", "number", "people",
                 "organ", "text"]


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # compact, Chinese as it is


def search_row(site: Site, r: Release, words: str | None = None) -> bytes:
    """The release's row of the search index (``SEARCH_FIELDS``); ``words``: its ``full_text`` if made."""
    speakers = " ".join([s.name for s in r.speakers] + [e.name for e in r.experts])
    return _JSON([text(r.title), f"releases/{r.id}.html", f"{site.when(r):%Y-%m-%d %H:%M}", r.kind_label,
                  r.department.short, " ".join(r.keywords), text(r.digest)[:80], LABELS[site.primary(r)],
                  r.document_number, speakers, r.department.name, words or full_text(r)]).encode("utf-8")


def search_index(site: Site, rows: Mapping[str, bytes | memoryview] | None = None,
                 texts: Mapping[str, str] | None = None) -> tuple[list, dict[str, list[int]]]:
    """Compact JSON: field names once, then one array per release (newest first). Besides the title lines it
    covers the full text, the 文号, the speakers and experts and the department's full name (the search page
    alone loads it). ``rows``: release id -> its ``search_row`` where already made (where its page was
    rendered, or as the last build wrote it: ``_kept_rows``); ``texts``: id -> its ``full_text`` where that
    alone is known. Returned in pieces, one per release, whose concatenation is the file (the full text of
    every release is tens of megabytes), and where each release's row is in it: id -> [offset, length]."""
    rows, texts = rows or {}, texts or {}
    head = _JSON({"fields": SEARCH_FIELDS, "items": []})
    parts: list = [head[:-2].encode("utf-8")]  # up to the items' "["
    spans, offset = {}, len(parts[0])
    for r in site.releases:
        row = rows.get(r.id)
        if row is None:
            row = search_row(site, r, texts.get(r.id))
        if len(parts) > 1:
            parts.append(b",")
            offset += 1
        parts.append(row)
        spans[r.id] = [offset, len(row)]
        offset += len(row)
    parts.append(b"]}")
    return parts, spans


# ---------------------------------------------------------------------------------------------
# Feeds (RSS 2.0), one per section and one for the whole site


def _feed(site: Site, path: str, title: str, entries: list[dict]) -> bytes:
    fg = FeedGenerator()
    fg.id(site.base + path)
    fg.title(title)
    fg.subtitle(f"{site.press_office or site.name}权威发布")
    fg.author({"name": site.press_office or site.name})
    fg.language("zh-CN")
    fg.link(href=site.base + path, rel="self")
    fg.link(href=site.base + path.replace("feed.xml", "index.html"), rel="alternate")
    # Dates from the content (never the clock), in the city's zone (+08:00) as the pages show them.
    fg.updated(max((e["date"] for e in entries), default=EMPTY_DATE).astimezone(site.tz))
    for e in entries:
        fe = fg.add_entry(order="append")
        fe.id(e["id"])
        fe.guid(e["id"], permalink=e["id"].startswith("http"))
        fe.title(e["title"])
        fe.link(href=e["link"], rel="alternate")
        fe.published(e["date"].astimezone(site.tz))
        fe.updated(e["date"].astimezone(site.tz))
        if e.get("author"):
            fe.author({"name": e["author"]})
        if e.get("category"):
            fe.category(term=e["category"][0], label=e["category"][1])
        if e.get("summary"):
            fe.description(e["summary"])
    return fg.rss_str(pretty=True)


def _release_entry(site: Site, r: Release, summary: str = "") -> dict:
    url = f"{site.base}releases/{r.id}.html"
    return {"id": url, "link": url, "title": text(r.title), "date": site.when(r), "author": r.department.name,
            "category": (r.kind, r.kind_label), "summary": summary or text(r.digest) or text(r.title)}


def feeds(site: Site) -> dict[str, bytes]:
    newest = lambda items: list(reversed(items[-FEED_SIZE:]))  # noqa: E731
    out = {"feed.xml": _feed(site, "feed.xml", site.name, [_release_entry(site, r) for r in site.releases[:FEED_SIZE]])}
    for section in ("notices", "videos", "policies", "images", "coverage", "releases"):
        items = newest(site.lists[section])
        if section == "policies":
            entries = [_release_entry(site, doc or interps[0],
                                      "政策解读：" + "；".join(text(i.title) for i in interps) if doc and interps else "")
                       for doc, interps in items]
        elif section == "images":
            entries = [dict(_release_entry(site, p.release, p.label), id=site.base + p.href,
                            link=f"{site.base}releases/{p.release.id}.html") for p in items]
        elif section == "coverage":
            entries = [{"id": c.url, "link": c.url, "title": f"{c.outlet}：{c.title}",
                        "date": datetime(c.date.year, c.date.month, c.date.day, tzinfo=site.tz), "author": c.outlet,
                        "summary": f"相关发布：{text(r.title)}"} for c, r in items]
        elif section == "videos":
            entries = [_release_entry(site, r, _videos_summary(site, r)) for r in items]
        elif section == "notices":
            entries = [_release_entry(site, r, f"{display_time(site.when(r))}，{text(r.venue)}") for r in items]
            for r in site.upcoming:  # announced conferences, without their embargoed content
                n = _notice(site, r)
                entries.insert(0, {"id": f"{site.base}notices/index.html#notice-{r.id}",
                                   "link": f"{site.base}notices/index.html#notice-{r.id}",
                                   "title": f"【预告】{n['topic']}", "date": r.publish_at, "author": n["department"],
                                   "summary": f"{n['time']}，{n['venue']}"})
        else:
            entries = [_release_entry(site, r) for r in items]
        out[f"{section}/feed.xml"] = _feed(site, f"{section}/feed.xml", f"{site.name}·{LABELS[section]}", entries)
    speakers = [r for r in site.releases if r.press_conference][:FEED_SIZE]
    out["spokespeople/feed.xml"] = _feed(
        site, "spokespeople/feed.xml", f"{site.name}·新闻发言人",
        [_release_entry(site, r, "发言人：" + "；".join(people(r)["speakers"])) for r in speakers])
    return out


# ---------------------------------------------------------------------------------------------
# Building


_SITE: Site | None = None  # the model a forked worker renders from (inherited, never pickled)
_OUT: Path | None = None
_DURABLE_EACH = True  # fsync each file (small builds) or sync once at the end (large builds)


def _write(path: Path, data: bytes | list[bytes]) -> bool:
    """Replace ``path`` atomically if its bytes differ; False when unchanged (like ``write_atomic``)."""
    return write_atomic(path, data, durable=_DURABLE_EACH)


def _sync(out: Path) -> None:
    """Make every file written so far durable: syncfs(2) on the site's file system, else sync(2)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(out, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


def _render_spec(spec: tuple) -> tuple[str, list[str], list[str], bytes | None]:
    """Render one keyed page and write it (and its assets). Returns (path, its assets, files written, and for
    a release page the release's search-index row, made where the page is rendered)."""
    site, out = _SITE, _OUT
    kind = spec[0]
    if kind == "release":
        r = site.by_id[spec[1]]
        data, assets = render_release(site, r)
        written = [name for name, blob in assets.items()
                   if _write(out / name, blob.read_bytes() if isinstance(blob, Path) else blob)]
        path = f"releases/{r.id}.html"
        return path, sorted(assets), written + ([path] if _write(out / path, data) else []), search_row(site, r)
    _, section, page = spec
    path = f"{section}/page-{page}.html"
    return path, [], [path] if _write(out / path, render_section_page(site, section, page)) else [], None


def _render_chunk(specs: list[tuple]) -> list[tuple[str, list[str], list[str], bytes | None]]:
    return [_render_spec(s) for s in specs]


def _load_manifest(out: Path, full: bool) -> tuple[dict, dict]:
    """The last build's pages (path -> [key, assets]) and where its search index holds each release's row."""
    if full:
        return {}, {}
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}, {}
    if not isinstance(data, dict) or data.get("version") != BUILDER_VERSION:
        return {}, {}
    return data.get("pages", {}), data.get("index", {})


_BUILDING = threading.Lock()  # the globals above belong to one build at a time in this process


def build_site(releases: Iterable[Release], published: Mapping[str, datetime], registry: Registry,
               settings: Settings, out_dir: Path, *, media: Mapping[str, Media] | None = None,
               now: datetime | None = None, infographics: Mapping[str, Path] | None = None,
               notes: Mapping[str, str] | None = None, full: bool = False, workers: int | None = None,
               videos: Mapping[str, Path] | None = None) -> BuildResult:
    """Build (or update) the press-hall site in ``out_dir``. ``published`` decides what is on the site;
    ``full`` ignores the manifest (every page rendered, still written only when its bytes differ); ``notes``
    are the 更正说明 of corrected releases (``pressroom.delivery.corrections.correction_notes``).
    Two processes building the same folder must hold a lock around this (``pressroom.files.locked``)."""
    with _BUILDING:
        return _build(releases, published, registry, settings, Path(out_dir), media, now, infographics, notes or {},
                      full, workers, videos)


def _build(releases, published, registry, settings, out, media, now, infographics, notes, full, workers,
           videos=None) -> BuildResult:
    global _DURABLE_EACH, _CURRENT_ENV
    clock = time.perf_counter  # timings for the benchmark; never in the output
    timings, t0 = {}, clock()

    def lap(name: str) -> None:
        timings[name] = clock() - t0 - sum(timings.values())

    now = now or datetime.now(settings.tz)
    site = Site(releases, published, registry, settings, media or {}, now, infographics or {}, notes, videos)
    _CURRENT_ENV = _env_for(site.templates)
    old, old_index = _load_manifest(out, full)
    keyed = _keyed_pages(site)
    todo, manifest = _pages_to_render(keyed, old, out)
    lap("model and keys")

    _DURABLE_EACH = len(todo) < PARALLEL_FROM
    rows: dict[str, bytes | memoryview] = {}
    written = _render_keyed_pages(site, out, todo, keyed, manifest, workers, rows)
    rows.update(_kept_rows(site, out, old_index, rows))
    texts = _kept_texts(site, out, rows)
    lap("render pages")
    index: dict = {}
    try:
        written += _write_site_wide_pages(site, out, manifest, rows, texts, index)
        lap("site-wide pages")
        if not _DURABLE_EACH:
            _sync(out)
            lap("sync")
    finally:
        _DURABLE_EACH = True

    removed = _remove_stale(out, old, manifest)
    _CURRENT_ENV = None
    if _write_manifest(out, manifest, index):
        written.append(MANIFEST)
    lap("manifest")
    return BuildResult(out, sorted(written), removed, len(todo), len(manifest), registry_problems(registry),
                       timings=timings)


def _keyed_pages(site: Site) -> dict[str, tuple[str, tuple]]:
    """A release page per release and the archive pages of each section, by path: (key, render spec). A page
    whose key is the same as in the last build is not rendered again."""
    keyed: dict[str, tuple[str, tuple]] = {}
    for r in site.releases:
        keyed[f"releases/{r.id}.html"] = (site.release_key(r), ("release", r.id))
    for section, items in site.lists.items():
        size = _page_size(section)
        n = _pages(len(items), size)
        for k in range(1, n + 1):
            chunk = items[(k - 1) * size: k * size]
            # k < n: the page's 'newer' link goes to the next page rather than to the index
            key = _sha(site.template_sig, section, k, k < n, [site.item_sig(section, it) for it in chunk])
            keyed[f"{section}/page-{k}.html"] = (key, ("page", section, k))
    return keyed


def _pages_to_render(keyed: dict[str, tuple[str, tuple]], old: dict, out: Path) -> tuple[list, dict]:
    """The keyed pages to render (path, key, spec), and the manifest entries of those kept as they are: same
    key as last build, and the page and its assets still on disk."""
    todo, manifest = [], {}
    exists, root = os.path.exists, str(out) + os.sep
    for path, (key, spec) in keyed.items():
        prev = old.get(path)
        if prev and prev[0] == key and exists(root + path) and all(exists(root + a) for a in prev[1]):
            manifest[path] = prev
        else:
            todo.append((path, key, spec))
    return todo, manifest


def _render_keyed_pages(site: Site, out: Path, todo: list, keyed: dict[str, tuple[str, tuple]], manifest: dict,
                        workers: int | None, rows: dict) -> list[str]:
    """Render the pages of ``todo`` (in forked workers when many), recording each in ``manifest`` and the
    search-index row of each release rendered in ``rows``; returns the files written."""
    global _SITE, _OUT
    written: list[str] = []
    _SITE, _OUT = site, out
    try:
        for path, assets, files, row in _run(todo, workers):
            manifest[path] = [keyed[path][0], assets]
            written += files
            if row is not None:
                rows[keyed[path][1][1]] = row
    finally:
        _SITE, _OUT = None, None
    return written


SEARCH_INDEX = "search-index.json"


def _kept_rows(site: Site, out: Path, old_index: dict, made: Mapping) -> dict[str, memoryview]:
    """The search-index row of each release whose page was kept, as the last build wrote it: that page's
    key covers everything the row shows (the release's content hash among it), so the row is the same.
    Taken only from an index of the size and CRC-32 the last build's manifest recorded (the same input gives
    the same manifest: no file times), and only where the bytes there are a row; any other release's row
    is made again."""
    wanted = [r.id for r in site.releases if r.id not in made]
    spans = old_index.get("rows")
    if not wanted or not isinstance(spans, dict):
        return {}
    try:
        data = (out / SEARCH_INDEX).read_bytes()
    except OSError:
        return {}
    if [len(data), zlib.crc32(data)] != old_index.get("file"):
        return {}
    view, rows = memoryview(data), {}
    for rid in wanted:
        try:
            start, length = spans[rid]
            end = start + length
        except (KeyError, TypeError, ValueError):
            continue
        # The CRC says this is the index the spans were made for; a row is still checked to be one.
        if isinstance(start, int) and 0 < start < end < len(data) and data[start] == 0x5B and data[end - 1] == 0x5D \
                and data[start - 1] in b"[," and data[end] in b",]":
            rows[rid] = view[start:end]
    return rows


def _kept_texts(site: Site, out: Path, rows: Mapping) -> dict[str, str]:
    """The full text of each release whose page was kept and whose row ``_kept_rows`` did not find, from the
    last build's search index: the page's key covers the release's content hash, so its words are those that
    index holds (a release missing there, or an index that does not read, is made again by ``search_index``)."""
    if len(rows) >= len(site.releases):
        return {}
    try:
        data = json.loads((out / SEARCH_INDEX).read_bytes())
        url, words = data["fields"].index("url"), data["fields"].index("text")
        old = {row[url]: row[words] for row in data["items"]}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return {}
    return {r.id: w for r in site.releases
            if r.id not in rows and (w := old.get(f"releases/{r.id}.html")) is not None}


def _write_site_wide_pages(site: Site, out: Path, manifest: dict, rows: dict, texts: dict[str, str],
                           index: dict) -> list[str]:
    """Pages that show the whole site: cheap, always rendered, written when their bytes change. Returns the
    files written. The search index (the largest file by far, the full text of every release) is written
    first and let go before the rest is rendered; ``index`` gets where it holds each release's row, and
    the size and CRC-32 of the file, for the manifest."""
    written = []

    def put(path: str, data: bytes | list[bytes]) -> None:
        manifest[path] = ["", []]  # no key: rendered every build
        if _write(out / path, data):
            written.append(path)

    pieces, spans = search_index(site, rows, texts)
    put(SEARCH_INDEX, pieces)
    put("search-index.js", [b"window.PRESSHALL_SEARCH=", *pieces, b";\n"])
    index.update(file=[sum(map(len, pieces)), reduce(lambda crc, p: zlib.crc32(p, crc), pieces, 0)],
                 rows=spans)
    del pieces
    rows.clear()  # in the index now (and lets the last build's index go)
    texts.clear()
    put("index.html", render_home(site))
    put("search.html", render_search(site))
    put("style.css", (render_template("portal/style.css") + render_template("presshall/style.css")).encode("utf-8"))
    put("search.js", render_template("presshall/search.js").encode("utf-8"))
    put("spokespeople/index.html", render_spokespeople(site))
    for path, data in feeds(site).items():
        put(path, data)
    for section in site.lists:
        if section != "spokespeople":
            put(f"{section}/index.html", render_section_page(site, section, None))
    return written


def _write_manifest(out: Path, manifest: dict, index: dict) -> bool:
    data = json.dumps({"version": BUILDER_VERSION, "pages": dict(sorted(manifest.items())), "index": index},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return write_atomic(out / MANIFEST, data)


def _run(todo: list, workers: int | None):
    specs = [spec for _, _, spec in todo]
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers <= 1 or len(specs) < PARALLEL_FROM or "fork" not in mp.get_all_start_methods():
        yield from _render_chunk(specs)
        return
    _compile_templates()
    size = max(20, len(specs) // (workers * 24))  # small enough that no worker is left alone at the end
    chunks = [specs[i:i + size] for i in range(0, len(specs), size)]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        for batch in pool.map(_render_chunk, chunks):
            yield from batch


def _compile_templates() -> None:
    """Compile every template in the parent, before forking, so workers share the compiled code."""
    env = _CURRENT_ENV or _env()
    for p in sorted((TEMPLATES_DIR / "presshall").glob("*.html")):
        env.get_template(f"presshall/{p.name}")


def _remove_stale(out: Path, old: dict, new: dict) -> list[str]:
    """Delete pages and assets the previous build wrote that this site no longer has."""
    keep = set(new) | {a for _, assets in new.values() for a in assets}
    gone = (set(old) | {a for _, assets in old.values() for a in assets}) - keep
    removed = []
    for rel in sorted(gone):
        p = out / rel
        if p.resolve().is_relative_to(out.resolve()) and p.is_file():
            p.unlink()
            removed.append(rel)
    return removed


def site_dir(settings: Settings) -> Path:
    return settings.outbox_dir / "portal" / SUBDIR


def videos_in_outbox(settings: Settings, ids: Iterable[str]) -> dict[str, Path]:
    """The micro-videos delivered to the outbox (``portal/video/<id>/<id>.mp4``; a withdrawn one is gone)."""
    out = {}
    for rid in ids:
        p = settings.outbox_dir / channels.get("video").outbox.format(channel="video", release=rid) / video_files(rid).mp4
        if p.is_file():
            out[rid] = p
    return out


def infographics_in_outbox(settings: Settings, ids: Iterable[str]) -> dict[str, Path]:
    """The infographic channel's PNGs already in the outbox (``assets/<id>/infographic.png``)."""
    out = {}
    for rid in ids:
        p = settings.outbox_dir / "assets" / rid / "infographic.png"
        if p.is_file():
            out[rid] = p
    return out


def refresh(settings: Settings, catalog, ledger, now: datetime | None = None, full: bool = False,
            check: bool = True) -> BuildResult:
    """Rebuild the press hall from the catalog and the ledger, then run the link verifier on it (without
    requesting outside sites). Called after publishing (``pressroom.sites.site``) and by ``pressroom site build``.
    A media store with errors leaves the site as it was: publishing must not take coverage pages down."""
    from pressroom.sites import coverage, linkcheck
    from pressroom.delivery.corrections import correction_notes
    from pressroom.errors import ValidationFailed

    out = site_dir(settings)
    try:
        media = coverage.load(settings.content_dir)
    except ValidationFailed as e:
        return BuildResult(out, [], [], 0, 0, [f"{coverage.STORE} 有错误，新闻发布厅未更新：{p}" for p in e.problems])
    with locked(out / ".lock"):  # a publish flow and `pressroom site build` may finish together
        rows = ledger.rows()
        published = published_times(rows)
        result = build_site(catalog.releases.values(), published, catalog.registry, settings, out, media=media,
                            now=now, infographics=infographics_in_outbox(settings, published),
                            notes=correction_notes(rows, RenderContext(settings)), full=full,
                            videos=videos_in_outbox(settings, published))
        if check:
            result.check = linkcheck.check_site(out, check_coverage=False)
        if result.check is not None and not result.check.ok:
            result.warnings.append("新闻发布厅链接检查未通过：" + "；".join(result.check.lines()[1:-1])[:2000])
    return result
