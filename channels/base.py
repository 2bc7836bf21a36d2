"""The adapter contract every channel module follows.

A channel module declares ``CHANNEL = Channel(...)`` (what it is) and three pure functions (what it does):
``render(release, ctx) -> Rendition``; ``correct(release, ctx, base, correction, earlier, old) -> Rendition``,
how the outlet shows a correction of ``base``, the new version's ordinary rendition; and
``withdraw(release_id, ctx, withdrawal) -> Rendition``, what it receives when a release is withdrawn. No side
effects, no network, deterministic (the same release and context give byte-identical files). A limit the outlet imposes is checked here and breaks the render with a
``RenditionError`` naming the limit; advice that does not block (punctuation, read time) goes in ``warnings``.
Delivery is somebody else's job (``pressroom.transports``). Optional parts: ``view(rendition, settings)`` (how
approvers see it) and ``finish(rendition, settings)`` (files made at delivery, ``Rendition.derived``: the
micro-video's MP4; the delivery engine calls it, ``EncodeError`` fails that channel only) and
``doctor(settings) -> [(check, passed, detail)]`` (what the channel needs at delivery besides its transport,
the micro-video's ffmpeg; ``pressroom doctor`` and the pre-flight check run it; it may run programs, never publish).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Mapping

from markupsafe import Markup, escape

from pressroom.model import Release
from pressroom.settings import TEMPLATES_DIR, Settings

if TYPE_CHECKING:
    import jinja2


@dataclass(frozen=True)
class Channel:
    """What a channel module declares about its outlet (``CHANNEL = Channel(...)``); the registry in
    ``channels/__init__.py`` is built from these declarations and nothing else lists outlets."""

    name: str  # the key in settings, in a release's ``channels`` and in the ledger
    label: str  # what editors see: 门户网站“新闻发布”栏目
    short: str  # in tables: 门户网站
    fast: bool = False  # an emergency's first information reaches it in the first wave
    desk: bool = False  # a desk (newspaper, TV) receives copy it edits itself: corrections are notices
    outbox: str = "{channel}/{release}"  # its folder in the local outbox
    uses: tuple[str, ...] = ()  # channels whose output it reuses (the poster of the infographic)
    column: bool = False  # its pages make up the site's column: publishing one rebuilds the column, feeds, press hall
    preview: str = ""  # a picture among its files shown small on the Prefect run page
    phone: bool = False  # read on a phone: the approval page shows it in a phone-width frame
    # What the fidelity audit asks of it (pressroom.releases.audit): "full" carries every fact of the
    # approved text; "summary" may leave facts out. Neither may add a fact.
    carries: str = "full"
    # Heavy work at delivery (the video's encoding, ``finish`` in its module): delivered after every
    # other channel of the run, so it never holds the others back.
    slow: bool = False


@dataclass(frozen=True)
class ReleaseRef:
    """What one release needs to know of another to link to it."""

    id: str
    title: str
    kind: str
    url: str
    publish_at: str = ""  # ISO 8601, for ordering follow-ups


@dataclass(frozen=True)
class RenderContext:
    settings: Settings
    # Releases this one links to or is linked from: its policy document or interpretation, the first
    # release of its event and the follow-ups. Filled by the caller, so rendering stays pure.
    related: Mapping[str, ReleaseRef] = field(default_factory=dict)

    def url_for(self, release_id: str) -> str:
        """Public portal URL of a release page."""
        return f"{self.portal_base}{release_id}.html"

    @property
    def portal_base(self) -> str:
        base = self.settings.outlet("portal")["base_url"]
        return base if base.endswith("/") else base + "/"

    def counterpart(self, release: Release) -> ReleaseRef | None:
        """The other half of a policy bundle: the document for an interpretation and vice versa."""
        if release.interprets:
            return self.related.get(release.interprets)
        if release.kind == "policy-document":
            return next((r for r in self.related.values() if r.kind == "policy"), None)
        return None


@dataclass(frozen=True)
class Rendition:
    channel: str
    release_id: str
    version: str  # the release's content version
    title: str
    files: Mapping[str, bytes]  # relative path -> bytes: exactly what is delivered
    payload: Mapping[str, Any] | None = None  # the API request body, for API channels
    warnings: tuple[str, ...] = ()
    url: str = ""  # public URL when the channel knows it before delivery
    # Files made from ``files`` at delivery by the channel's optional ``finish`` (the video's MP4): delivered
    # with them but not signed (``content_hash`` covers ``files`` only; ffmpeg builds differ in bytes).
    derived: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0")
            h.update(hashlib.sha256(self.files[name]).digest())
        return h.hexdigest()


@dataclass(frozen=True)
class View:
    """How the approval page shows a rendition when its files are not what people see (an API payload):
    ``pages`` (name -> HTML shown in a frame) written beside the files, or ``card`` (a post as a card)."""

    pages: Mapping[str, str] = field(default_factory=dict)
    card: Mapping[str, Any] | None = None


# A file of drawing instructions (text broken into lines at pixel positions): its words are a rendition's
# other files' whole texts, so the fidelity audit reads those and not the broken lines.
DRAWING_SUFFIX = ".ops.json"


class EncodeError(Exception):
    """A channel's ``finish`` could not make its derived files (ffmpeg missing or failing): that channel
    fails at delivery, the others go out."""


@dataclass(frozen=True)
class VideoFiles:
    """The micro-video's files in its folder (``video/<id>/`` beside the portal's pages), named here because
    the portal page, the H5 page and the press hall link to them."""

    release_id: str

    @property
    def mp4(self) -> str:
        return f"{self.release_id}.mp4"

    @property
    def poster(self) -> str:
        return "poster.jpg"

    @property
    def srt(self) -> str:
        return f"{self.release_id}.srt"

    @property
    def vtt(self) -> str:
        return f"{self.release_id}.vtt"

    @property
    def plan(self) -> str:
        """The timeline: cards with their whole texts, captions, stills (what the fidelity audit reads)."""
        return f"{self.release_id}-video.json"

    @property
    def stills(self) -> str:
        """The cards' drawing instructions, line by line (``DRAWING_SUFFIX``: not read as text)."""
        return f"{self.release_id}-cards{DRAWING_SUFFIX}"

    def embed(self, root: str) -> dict[str, str]:
        """URLs of the player's files, ``root`` being the portal column's folder as the page sees it."""
        folder = f"{root}video/{self.release_id}/"
        return {"src": folder + self.mp4, "poster": folder + self.poster, "track": folder + self.vtt}


def video_files(release_id: str) -> VideoFiles:
    return VideoFiles(release_id)


def video_embed(release: Release, settings: Settings, root: str) -> dict[str, str] | None:
    """The micro-video player's URLs for a page of ``release``, or None when it has no video."""
    if "video" not in release.channels or not settings.outlet("video")["enabled"]:
        return None
    return video_files(release.id).embed(root)


def dump_json(data: Any) -> bytes:
    """Stable JSON with real UTF-8 (WeChat answers 40033 to \\uXXXX escapes)."""
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


# Where templates are looked up, in order: the project's folder, then any an installation adds for its own
# outlets (call ``template_env.cache_clear()`` after changing it).
TEMPLATE_DIRS = [TEMPLATES_DIR]


@lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    import jinja2  # here: a command answered from the validation cache renders no template

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIRS),
        # Compiling a template costs more than rendering it, and every command is a new process: keep the
        # compiled code in Jinja's per-user cache folder (keyed by the template's source, so never stale).
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(name: str, **values: Any) -> str:
    return template_env().get_template(name).render(**values)


def display_time(dt) -> str:
    """2026年11月20日 10:00, in the city's zone (GB/T 15835 style dates)."""
    return f"{dt.year}年{dt.month}月{dt.day}日 {dt:%H:%M}"


def display_date(dt) -> str:
    return f"{dt.year}年{dt.month}月{dt.day}日"


# ---------------------------------------------------------------------------------------------
# The 发布时间 slot (docs/requirements.md R4): a page shows the time the release actually went out, which
# is known only when the channel is delivered. Renditions are made (and signed) before that, so a page
# template writes the slot with the planned time (``publish_at``) and the transport fills it with the time
# the ledger keeps for the delivery (``fill_published``); a release delivered on schedule keeps its bytes.
# Sanitized body HTML cannot carry the marker attribute (``channels.markup`` allows no data-* attribute).

SLOT_ATTR = "data-published"
META_FORMAT = "%Y-%m-%d %H:%M"  # the 发布时间 of government-site metadata (PubDate)


@dataclass(frozen=True)
class Published:
    """The one template variable for a page's 发布时间 (``published`` in every page template): ``{{
    published }}`` is a ``<time>`` with date and time (its ``datetime`` ISO 8601, +08:00), ``{{
    published.date }}`` the date alone, ``{{ published.meta("PubDate") }}`` a ``<meta>`` tag. Every form is
    filled when the channel is delivered; text written around it (``published.text``) is not."""

    at: datetime  # local time shown until delivery fills the slot
    release: str = ""  # another release's time (an event's earlier update): filled from its own delivery

    def __html__(self) -> str:
        return self.time

    def __str__(self) -> str:
        return str(self.time)

    def _attrs(self, form: str) -> str:
        other = f' data-release="{escape(self.release)}"' if self.release else ""
        return f'datetime="{self.at.isoformat()}" {SLOT_ATTR}="{form}"{other}'

    @property
    def time(self) -> Markup:
        return Markup(f'<time {self._attrs("time")}>{display_time(self.at)}</time>')

    @property
    def date(self) -> Markup:
        return Markup(f'<time {self._attrs("date")}>{display_date(self.at)}</time>')

    def meta(self, name: str) -> Markup:
        return Markup(f'<meta name="{escape(name)}" content="{self.at.strftime(META_FORMAT)}" {SLOT_ATTR}="meta">')


_TIME_SLOT = re.compile(rf'<time datetime="[^"<>]*" {SLOT_ATTR}="(time|date)"(?: data-release="([^"<>]*)")?>[^<]*</time>')
_META_SLOT = re.compile(rf'<meta name="([^"<>]*)" content="[^"<>]*" {SLOT_ATTR}="meta">')


def slot_releases(files: Mapping[str, bytes]) -> set[str]:
    """Other releases whose 发布时间 the pages show (an event's timeline): their ids."""
    return {m.group(2) for name, data in files.items() if name.endswith(".html") and SLOT_ATTR.encode() in data
            for m in _TIME_SLOT.finditer(data.decode("utf-8")) if m.group(2)}


def fill_published(files: Mapping[str, bytes], at: datetime, tz,
                   others: Mapping[str, datetime] | None = None) -> dict[str, bytes]:
    """The files as delivered: every 发布时间 slot of every HTML page filled with ``at`` (shown in ``tz``), and
    a slot of another release with that release's time from ``others`` (left as it is when not there yet).
    Files without a slot are returned as they are."""
    others = others or {}

    def time_slot(m: re.Match) -> str:
        rid = m.group(2)
        if rid and rid not in others:
            return m.group(0)
        slot = Published((others[rid] if rid else at).astimezone(tz), rid or "")
        return slot.time if m.group(1) == "time" else slot.date

    out = dict(files)
    for name, data in files.items():
        if not name.endswith(".html") or SLOT_ATTR.encode() not in data:
            continue
        page = _TIME_SLOT.sub(time_slot, data.decode("utf-8"))
        mine = Published(at.astimezone(tz))
        page = _META_SLOT.sub(lambda m: mine.meta(Markup(m.group(1))), page)  # the name is kept as written
        out[name] = page.encode("utf-8")
    return out
