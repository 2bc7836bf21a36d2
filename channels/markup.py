"""Markdown to sanitized HTML, and to plain text. Content is untrusted input: every HTML rendition
(portal, H5, WeChat, press hall) goes through ``to_html``, so the allow-list lives here and only here."""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Callable

import markdown
import nh3

# What a department's Markdown may become. No script, style, iframe, form, event handler or inline style.
ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "strong", "em", "b", "i", "u", "sup", "sub", "blockquote",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "img", "figure", "figcaption",
    "code", "pre",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}  # not javascript:, not data:
IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # Word pastes \x0b; XML refuses them


def clean_text(text: str) -> str:
    return CONTROL_CHARS.sub("", text)


def plain(value: str) -> str:
    """Plain text fields (titles, digest): without the control characters Word pastes, trimmed."""
    return clean_text(value).strip()


_local = threading.local()


def _markdown() -> markdown.Markdown:
    """One parser per thread, reset between documents: building it (extensions, patterns) costs more than
    converting a short section."""
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
    return md.reset()


@lru_cache(maxsize=4096)
def _converted(md: str) -> str:
    """Markdown as HTML, before sanitizing. Every outlet converts the same sections (and validation checks
    them again): convert each text once per process."""
    return _markdown().convert(clean_text(md))


# Tags the sanitizer removes together with everything inside them; an unclosed one takes the rest of the text.
CONTENT_DROPPING_TAGS = {"script", "style"}
_TAG_OPEN = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)")


def dropped_tags(md: str) -> list[str]:
    """HTML tags written into the Markdown that publishing removes (Markdown itself only makes allowed
    ones, and escapes code), so the editor can be told before the text looks different on the outlets."""
    raw = _converted(md)
    return sorted({t.lower() for t in _TAG_OPEN.findall(raw)} - ALLOWED_TAGS)


@dataclass(frozen=True)
class Dropped:
    """One piece of HTML typed into the body that publishing removes, and what goes with it."""

    tag: str
    text: str  # the text inside it (or, for an image or an embed, its address and description)
    content_lost: bool  # the text goes too (script, style, an image, an embed), not only the formatting


# Markdown's own image syntax: the only way an image reaches the outlets (a raw <img> is dropped).
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*(?:<[^>]*>|[^)]*)[^)]*\)")
EMBEDS = {"img", "iframe", "embed", "object", "video", "audio", "source", "frame"}  # what they show is elsewhere


class _DroppedFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[list] = []  # [tag, text, content_lost]
        self.open: list[list] = []

    def handle_starttag(self, tag, attrs):
        if tag in ALLOWED_TAGS and tag != "img":
            return
        a = dict(attrs)
        if tag in EMBEDS:
            src, alt = a.get("src") or a.get("data") or "", a.get("alt") or a.get("title") or ""
            what = src + (f"（{alt}）" if alt else "")
            self.found.append([tag, what, True])
            return
        entry = [tag, "", tag in CONTENT_DROPPING_TAGS]
        self.found.append(entry)
        self.open.append(entry)

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                del self.open[i:]
                break

    def handle_data(self, data):
        for entry in self.open:
            entry[1] += data


def dropped_markup(md: str) -> list[Dropped]:
    """Every HTML element typed into the Markdown that publishing removes, with the text that goes with it:
    a raw ``<img>`` (only ``![说明](路径)`` images are delivered), an ``<iframe>`` or other embed (its
    address), ``<script>``/``<style>`` (their text, removed with them), any other tag (its text stays)."""
    p = _DroppedFinder()
    p.feed(_markdown().convert(clean_text(_MD_IMAGE.sub("", md))))
    p.close()
    out = []
    for tag, text, lost in p.found:
        text, room = re.sub(r"\s+", " ", text).strip(), 200 if tag in EMBEDS else 30  # an address in full
        out.append(Dropped(tag, text[:room] + ("…" if len(text) > room else ""), lost))
    return list(dict.fromkeys(out))


def to_html(md: str, image_src: Callable[[str], str | None] | None = None) -> str:
    """Render Markdown and sanitize it. ``image_src`` maps a release-relative image path to the URL the
    outlet serves it from (``None`` drops the image)."""
    raw = _converted(md)

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src":
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//", value):
                return None  # outside images are never shown: only the release's own files
            return image_src(value) if image_src else value
        return value

    cleaned = nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
        attribute_filter=attribute_filter,
        strip_comments=True,
    )
    return IMG_WITHOUT_SRC.sub("", cleaned)  # a dropped outside image leaves no empty frame


@dataclass(frozen=True)
class Table:
    """A table of the body: its header cells and its rows, as text."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def sentences(self) -> list[str]:
        """One sentence per row naming the column headers (“项目：一级；标准：每人每月500元。”): how a
        table is read aloud or set in plain copy without losing which figure belongs to which column."""
        out = []
        for row in self.rows:
            cells = [f"{h}：{c}" if h else c for h, c in zip(self.header + ("",) * len(row), row) if c]
            if cells:
                out.append("；".join(cells).rstrip("。；") + "。")
        return out


class _TextExtractor(HTMLParser):
    BLOCKS = {"p", "h2", "h3", "h4", "li", "blockquote", "pre", "figcaption", "br", "hr"}

    def __init__(self, links: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.links = links  # write an outside link's address after its text: （网址：…）
        self.href = ""
        self.parts: list[str | Table] = []
        self._table: list[list[str]] | None = None
        self._head_rows = 0
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href") or ""
        if tag == "a" and self.links and href.startswith(("http://", "https://")):
            self.href = href
        if tag == "table":
            self._table, self._head_rows = [], 0
        elif self._table is not None:
            if tag == "thead":
                self._in_head = True
            elif tag == "tr":
                self._table.append([])
                self._head_rows += self._in_head
            elif tag in ("td", "th") and self._table:
                self._table[-1].append("")
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "a" and self.href:
            if not (self.parts and isinstance(self.parts[-1], str) and self.parts[-1].strip() == self.href):
                self.handle_data(f"（网址：{self.href}）")
            self.href = ""
        if tag == "thead":
            self._in_head = False
        elif tag == "table" and self._table is not None:
            rows = [tuple(re.sub(r"\s+", " ", c).strip() for c in r) for r in self._table if r]
            head = rows[0] if rows and self._head_rows else ()
            self.parts += ["\n", Table(head, tuple(rows[1:] if head else rows)), "\n"]
            self._table = None
        elif self._table is None and tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._table is not None:
            if self._table and self._table[-1]:
                self._table[-1][-1] += data
            return
        self.parts.append(data)


def blocks(md: str, links: bool = False) -> list[str | Table]:
    """The body as plain paragraphs and tables, in order: no markup, no images. ``links``: an outside
    link's address follows its text (the full-text copy keeps it: “市人社局网站（网址：https://…）”)."""
    if not md.strip():
        return []
    p = _TextExtractor(links)
    p.feed(to_html(md, image_src=lambda _src: None))
    out: list[str | Table] = []
    text = ""
    for part in p.parts + ["\n"]:
        if isinstance(part, Table):
            out.append(part)
            continue
        text += part
        if "\n" in text:
            *done, text = text.split("\n")
            out += [ln for ln in (re.sub(r"[ \t]+", " ", d).strip() for d in done) if ln]
    return out


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: dict[str, str] = {}
        self.href = ""
        self.text = ""

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.startswith(("http://", "https://")):
            self.href, self.text = href, ""

    def handle_endtag(self, tag):
        if tag == "a" and self.href:
            self.links.setdefault(self.href, re.sub(r"\s+", " ", self.text).strip())
            self.href = ""

    def handle_data(self, data):
        if self.href:
            self.text += data


def outside_links(md: str) -> dict[str, str]:
    """The outside links of ``md`` (http/https, as published), address -> the link's text."""
    p = _LinkCollector()
    p.feed(to_html(md, image_src=lambda _src: None))
    return p.links


def to_text(md: str) -> str:
    """Plain paragraphs (one per line) for copy desks, scripts and posts: no markup, no images; a table
    is one sentence per row naming its column headers (``Table.sentences``)."""
    return "\n".join(paragraphs(md))


def paragraphs(md: str, links: bool = False) -> list[str]:
    out: list[str] = []
    for b in blocks(md, links):
        out += b.sentences() if isinstance(b, Table) else [b]
    return out


def tables(md: str) -> list[Table]:
    return [b for b in blocks(md) if isinstance(b, Table)]


# A marked quote (README "Content format"): a blockquote whose last line ends in ——姓名, the name of one of
# the release's speakers or experts. Only these may become a TV sound bite (同期声).
QUOTE_SIGN = re.compile(r"[—－]{2}\s*([\u4e00-\u9fff·]{2,8})\s*$")


def quotes(md: str, people: set[str]) -> tuple[list[tuple[str, str]], str]:
    """The marked quotes of ``md`` as (speaker, words), and the Markdown without them."""
    found: list[tuple[str, str]] = []
    rest: list[str] = []
    block: list[str] = []
    for line in md.splitlines() + [""]:
        if line.lstrip().startswith(">"):
            block.append(line)
            continue
        if block:
            said = " ".join(b.lstrip()[1:].strip() for b in block).strip()
            sign = QUOTE_SIGN.search(said)
            if sign and sign.group(1) in people:
                found.append((sign.group(1), said[: sign.start()].strip()))
            else:
                rest += block
            block = []
        rest.append(line)
    return found, "\n".join(rest[:-1])


def escape(text: str) -> str:
    return html.escape(text, quote=True)
