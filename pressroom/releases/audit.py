"""The fidelity audit: does every rendition carry what was approved, and nothing from nowhere (R1, R5)?

Pure: no file is read, nothing is written. The facts of the approved source are found by rules and the
registries (no language model): numbers with their units, percentages and money, dates and times, names of
people and departments from the registries, quoted speech (the marked quotes of the content format), link
URLs, table cells, image files and the document number (文号). Each rendition's text is read back from its
files (HTML, plain text, subtitles, JSON payloads, Word; a picture by the words its drawing instructions
draw, delivered beside it as text) and the same rules run on it.

* A full-text channel (``Channel.carries == "full"``: portal, H5, WeChat, newspaper) must carry every fact
  of the source; each one it lacks is a drop.
* Every channel may add only what comes from the release's own front matter, the registries or the settings
  (outlet names, a spokesperson's registered title, the portal URL, the date and time of publication); any
  other number, registered name or quote is an addition. A summary channel (``carries == "summary"``: TV,
  Weibo, the infographic) may leave facts out, but an addition is a problem there as everywhere.

"The same fact" tolerates formatting: full-width and half-width digits and signs, 5.0% and 5%, 1,386.5 and
1386.5, and 11月20日 for 2026年11月20日 when 2026 is the year of the release's publication.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Iterable, Mapping
from urllib.parse import unquote

from pressroom.errors import Problem
from pressroom.model import Registry, Release

from channels import markup
from channels.base import DRAWING_SUFFIX

KIND_LABELS = {"number": "数字", "percent": "百分比", "money": "金额", "date": "日期", "time": "时间",
               "name": "人名或机构名", "quote": "引语", "link": "链接", "cell": "表格单元格", "image": "图片",
               "docnum": "文号"}

# Units a number may carry, longest first (so 个百分点 wins over 个, 亿元 over 亿).
UNITS = sorted("""个百分点 % ‰ 亿元 万元 千元 元 亿 万 千 平方公里 平方米 立方米 公里 千米 厘米 毫米 米 公顷 亩 万吨 吨
千克 公斤 克 万人次 人次 万人 万户 人 户 家 个 项 条 件 所 名 位 台 辆 套 次 场 天 日 小时 分钟 秒 周 年 月 岁 倍 级 号 层
座 楼 室 处 批 部 篇 期 份 元/吨 元/立方米 元/人 度 摄氏度 ℃ 小时内""".split(), key=len, reverse=True)
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_EDGE_L = r"(?<![A-Za-z0-9_.\-/#@])"  # not part of an id, a version hash, a path or a URL
_EDGE_R = r"(?![A-Za-z0-9_\-/])"
NUMBER = re.compile(_EDGE_L + f"({_NUM})" + r"\s*(" + "|".join(re.escape(u) for u in UNITS) + r")?" + _EDGE_R)
DATE = re.compile(_EDGE_L + r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日")
TIME = re.compile(_EDGE_L + r"(\d{1,2}):(\d{2})(?![\d:])")
DOCNUM = re.compile(r"[\u4e00-\u9fff]{1,10}〔\d{4}〕\d+号")
URL = re.compile(r"https?://[^\s<>\"'“”‘’（）()，。；、]+")
MD_LINK = re.compile(r"\[[^\]]*\]\((https?://[^)\s]+)\)")
MD_LINK_DEF = re.compile(r"(?m)^ {0,3}\[[^\]]+\]:\s*<?(https?://[^>\s]+)>?")  # [n]: https://… (a reference link)
MD_TABLE_ROW = re.compile(r"^\s*\|(.+)\|\s*$")
MD_TABLE_RULE = re.compile(r"^[\s|:\-]+$")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)

# What a channel's own furniture prints that is not the release's content: the TV script's timeline, its
# read-time line and the subtitles' timestamps (channels/tv.py), never facts of the release.
# (Patterns on NFKC-normalised text: ： is :, （ is ( there.) The newspaper numbers its photos (图1).
FURNITURE = [
    re.compile(r"\d{2}:\d{2}[—-]+\d{2}:\d{2}"),
    re.compile(r"预计时长:?\s*[^\n]*(?:\n约[^\n]*)?"),
    re.compile(r"^\d+\n\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}$", re.M),
    re.compile(r"^图\d+", re.M),
]
SOUND_BITE = re.compile(r"【同期声】[^\n]*\n(?:画面:[^\n]*\n)?(?:字幕:[^\n]*\n)?([^\n]+)")


@dataclass(frozen=True)
class Fact:
    kind: str  # a key of KIND_LABELS
    key: str  # canonical form: what "the same fact" means
    shown: str  # as the source writes it
    where: str = ""  # 导语, “主要内容”一节, 标题 …

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass(frozen=True)
class ChannelAudit:
    channel: str
    label: str
    carries: str  # "full" | "summary"
    kept: tuple[Fact, ...]
    dropped: tuple[Fact, ...]
    added: tuple[Fact, ...]

    @property
    def clean(self) -> bool:
        return not self.added and not (self.carries == "full" and self.dropped)


@dataclass(frozen=True)
class Audit:
    release_id: str
    version: str
    facts: tuple[Fact, ...]
    channels: tuple[ChannelAudit, ...]

    @property
    def clean(self) -> bool:
        return all(c.clean for c in self.channels)

    def summary(self) -> dict:
        """What is stored with a ledger row and shown in a run's artifact: counts and the findings."""
        return {"version": self.version, "facts": len(self.facts), "clean": self.clean,
                "channels": {c.channel: {"carries": c.carries, "kept": len(c.kept),
                                         "dropped": [f.shown for f in c.dropped],
                                         "added": [f.shown for f in c.added], "clean": c.clean}
                             for c in self.channels}}


# -- normalising --------------------------------------------------------------------------------------

def normal(text: str) -> str:
    """Full-width digits, letters and signs as half-width (NFKC), so １２３％ is 123%."""
    return unicodedata.normalize("NFKC", text)


def squeeze(text: str) -> str:
    """Text without spaces and punctuation, for "does the rendition say this" on quotes and cells."""
    return _PUNCT.sub("", normal(text))


def _number(value: str) -> str:
    try:
        d = Decimal(value.replace(",", ""))
    except InvalidOperation:
        return value
    s = format(d.normalize(), "f")
    return s


# -- facts of a text ----------------------------------------------------------------------------------

def text_facts(text: str, year: int, where: str = "", names: Iterable[str] = ()) -> list[Fact]:
    """Numbers, dates, times, 文号, URLs and registered names in ``text``. Dates without a year are read as
    of ``year`` (the year of the release's publication)."""
    text = normal(text)
    facts: list[Fact] = []
    for m in URL.finditer(text):
        facts.append(Fact("link", m.group(0).rstrip(".,;:!?"), m.group(0), where))
    text = URL.sub(" ", text)
    for m in DOCNUM.finditer(text):
        facts.append(Fact("docnum", m.group(0), m.group(0), where))
    text = DOCNUM.sub(" ", text)
    for m in DATE.finditer(text):
        y = int(m.group(1) or year)
        facts.append(Fact("date", f"{y:04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}", m.group(0), where))
    text = DATE.sub(" ", text)
    for m in TIME.finditer(text):
        facts.append(Fact("time", f"{int(m.group(1)):02d}:{m.group(2)}", m.group(0), where))
    text = TIME.sub(" ", text)
    for m in NUMBER.finditer(text):
        value, unit = _number(m.group(1)), m.group(2) or ""
        kind = "percent" if unit in ("%", "‰", "个百分点") else "money" if unit.endswith("元") else "number"
        facts.append(Fact(kind, f"{value}{unit}", m.group(0).strip(), where))
    for name in names:
        if name and name in text:
            facts.append(Fact("name", name, name, where))
    return facts


def _md_tables(md: str, where: str) -> tuple[list[Fact], str]:
    """Cells of Markdown tables (header and body), and the text without the table rules."""
    facts, rest = [], []
    for line in md.splitlines():
        row = MD_TABLE_ROW.match(line)
        if row and MD_TABLE_RULE.match(line):
            continue
        if row:
            for cell in row.group(1).split("|"):
                cell = cell.strip()
                if squeeze(cell):
                    facts.append(Fact("cell", squeeze(cell), cell, where))
            rest.append(row.group(1).replace("|", "　"))
        else:
            rest.append(line)
    return facts, "\n".join(rest)


def _md_quotes(md: str, where: str, speakers: set[str]) -> list[Fact]:
    """The marked quotes: a blockquote ending in ——姓名 of a named speaker or expert."""
    found, _rest = markup.quotes(md, speakers)
    return [Fact("quote", squeeze(words), f"{name}：{words}", where) for name, words in found]


def registry_names(registry: Registry) -> list[str]:
    names = {s.name for s in registry.speakers.values()} | {d.name for d in registry.departments.values()}
    names |= {l.name for l in registry.liaisons.values()}
    return sorted(n for n in names if len(n) >= 2)


def source_facts(release: Release, registry: Registry) -> list[Fact]:
    """The facts every full-text channel must carry: of the title lines, the lead, the sections, the
    document number and the images the body references."""
    year = release.publish_at.year
    names = registry_names(registry) + [e.name for e in release.experts]
    speakers = {s.name for s in release.speakers} | {e.name for e in release.experts}
    parts = [("标题", release.title), ("引题", release.kicker), ("副题", release.subtitle), ("导语", release.lead)]
    parts += [(f"“{s.heading}”一节", s.body) for s in release.sections if not s.not_applicable]
    # What the channels also print of the text: the section headings and the images' captions.
    parts += [(f"“{s.heading}”一节标题", s.heading) for s in release.sections]
    parts += [("图片说明", img.caption) for img in release.images if img.caption]
    facts: list[Fact] = []
    for where, md in parts:
        cells, md = _md_tables(md, where)
        facts += cells + _md_quotes(md, where, speakers)
        links = {m.group(1) for rx in (MD_LINK, MD_LINK_DEF) for m in rx.finditer(md)}
        facts += [Fact("link", u, u, where) for u in sorted(links)]
        # The words as published: raw HTML the sanitizer removes is no fact of the release (validation
        # names it in a warning), and an image's path or a link's URL is no number of the text.
        facts += text_facts(markup.to_text(md) if md.strip() else "", year, where, names)
    if release.document_number:
        facts.append(Fact("docnum", normal(release.document_number), release.document_number, "document_number"))
    facts += [Fact("image", img.path.rsplit("/", 1)[-1], img.path, "正文图片") for img in release.images]
    return _unique(facts)


def reference_keys(release: Release, registry: Registry, furniture: Iterable[str]) -> set[str]:
    """What a rendition may say besides the source: the release's own front matter, its department and
    speakers with their registered titles, the liaison, the settings (``furniture``: outlet names, the
    portal URL, related releases) and the date and time of publication."""
    year = release.publish_at.year
    local = release.publish_at
    texts = [release.digest, release.venue, release.wechat_title, " ".join(release.keywords),
             release.department.name, release.department.short, " ".join(release.issuer),
             f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"]
    if release.event_at:
        e = release.event_at
        texts.append(f"{e.year}年{e.month}月{e.day}日 {e:%H:%M}")
    texts += [f"{k.label} {k.value}{k.unit}" for k in release.key_figures]
    # A document's information block and an emergency's advice box come from the front matter too.
    texts += [release.index_number, release.topic, release.written_on, *release.safety]
    texts += [f"{h.name} {h.number}" for h in release.hotlines]
    texts += [f"{s.name} {s.title}" for s in release.speakers] + [f"{e.name} {e.title}" for e in release.experts]
    liaison = registry.liaisons.get(release.department.key)
    if liaison:
        texts.append(f"{liaison.name} {liaison.title} {liaison.phone}")
    # The version id the desks' copies print: twelve hex digits that can happen to be all digits.
    texts += [release.version, *list(furniture)]
    keys = {f.key for t in texts for f in text_facts(t, year, names=registry_names(registry))}
    keys |= {f.key for f in source_facts(release, registry)}
    return keys


def _unique(facts: list[Fact]) -> list[Fact]:
    seen, out = set(), []
    for f in facts:
        if (f.kind, f.key) not in seen:
            seen.add((f.kind, f.key))
            out.append(f)
    return out


# -- reading a rendition back ---------------------------------------------------------------------------

class _Reader(HTMLParser):
    SKIP = {"script", "style"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.SKIP:
            self._skip += 1
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        self.text.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        self.text.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


@dataclass
class Readback:
    """What a rendition says: its text, the URLs it links, the images it shows or attaches."""

    text: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # file names
    image_hashes: set[str] = field(default_factory=set)  # sha256 of embedded (data:) images

    def html(self, markup: str) -> None:
        r = _Reader()
        r.feed(markup)
        self.text.append("".join(r.text))
        self.links += r.links
        for src in r.images:
            if src.startswith("data:") and "," in src:
                try:
                    self.image_hashes.add(hashlib.sha256(base64.b64decode(src.split(",", 1)[1])).hexdigest())
                except ValueError:
                    pass
            else:
                self.images.append(unquote(src).rsplit("/", 1)[-1])

    def value(self, v) -> None:
        if isinstance(v, str):
            if re.fullmatch(r"[!-~]*", v) and not v.startswith("http"):
                return  # an API flag, a file name, a media id: not words of the release
            if "<" in v and ">" in v:
                self.html(v)
            else:
                self.text.append(v)
        elif isinstance(v, Mapping):
            for item in v.values():
                self.value(item)
        elif isinstance(v, (list, tuple)):
            for item in v:
                self.value(item)


def _docx_text(data: bytes) -> str:
    """The words of a .docx (paragraphs and table cells), from its XML."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    xml = re.sub(r"</w:p>|</w:tc>", "\n", xml)
    return re.sub(r"<[^>]+>", "", xml)


def read_back(rendition) -> Readback:
    rb = Readback()
    for name, data in sorted(rendition.files.items()):
        low = name.lower()
        base = name.rsplit("/", 1)[-1]
        if low.endswith(DRAWING_SUFFIX):
            continue  # drawing instructions: their words are the rendition's plan's whole texts (the video)
        if low.endswith((".png", ".jpg", ".jpeg", ".gif")):
            rb.images.append(base)
            rb.image_hashes.add(hashlib.sha256(data).hexdigest())
        elif low.endswith((".html", ".htm")):
            rb.html(data.decode("utf-8", "replace"))
        elif low.endswith(".json"):
            try:
                rb.value(json.loads(data))
            except ValueError:
                rb.text.append(data.decode("utf-8", "replace"))
        elif low.endswith(".docx"):
            rb.text.append(_docx_text(data))
        elif low.endswith((".txt", ".srt", ".md", ".xml")):
            rb.text.append(data.decode("utf-8-sig", "replace"))
    if rendition.payload:
        rb.value(dict(rendition.payload))
    return rb


# -- the audit ----------------------------------------------------------------------------------------

def audit_rendition(release: Release, registry: Registry, rendition, carries: str, label: str,
                    facts: list[Fact], allowed: set[str]) -> ChannelAudit:
    rb = read_back(rendition)
    text = normal("\n".join(rb.text))
    for pattern in FURNITURE:
        text = pattern.sub(" ", text)
    said = text_facts(text, release.publish_at.year, names=registry_names(registry))
    said_keys = {f.key for f in said} | {normal(u).rstrip("/") for u in rb.links}
    flat = squeeze(text)
    hashes = {hashlib.sha256(img.data).hexdigest(): img.path.rsplit("/", 1)[-1] for img in release.images}
    shown = set(rb.images) | {hashes[h] for h in rb.image_hashes if h in hashes}
    kept, dropped = [], []
    for f in facts:
        if f.kind in ("quote", "cell"):
            ok = f.key in flat
        elif f.kind == "image":
            ok = f.key in shown
        elif f.kind == "link":
            ok = f.key.rstrip("/") in {k.rstrip("/") for k in said_keys}
        else:
            ok = f.key in said_keys
        (kept if ok else dropped).append(f)
    source_quotes = {f.key for f in facts if f.kind == "quote"}
    added = [f for f in _unique(said) if f.key not in allowed and not (
        f.kind == "link" and any(f.key.startswith(a) for a in allowed if a.startswith("http")))]
    for m in SOUND_BITE.finditer(normal("\n".join(rb.text))):
        bite = squeeze(m.group(1))
        if bite and not any(bite in q for q in source_quotes):
            added.append(Fact("quote", bite, m.group(1).strip(), "同期声"))
    return ChannelAudit(rendition.channel, label, carries, tuple(kept), tuple(dropped), tuple(_unique(added)))


def audit_release(release: Release, registry: Registry, renditions: Mapping[str, object],
                  declared: Mapping[str, tuple[str, str]], furniture: Iterable[str]) -> Audit:
    """The audit of one release: ``renditions`` by channel name, ``declared`` gives each channel's
    (label, carries) and ``furniture`` the texts of the settings and related releases it may print."""
    facts = source_facts(release, registry)
    allowed = reference_keys(release, registry, furniture)
    rows = []
    for ch, rendition in renditions.items():
        label, carries = declared[ch]
        rows.append(audit_rendition(release, registry, rendition, carries, label, facts, allowed))
    return Audit(release.id, release.version, tuple(facts), tuple(rows))


@dataclass(frozen=True)
class Finding:
    """One thing the audit holds against a rendition: a fact a full-text channel drops, or a fact any
    channel adds. ``id`` is stable for the same fact on the same channel of the same release, so a
    reviewer can waive exactly this one (``pressroom waive``)."""

    id: str
    channel: str
    label: str  # the channel's
    verdict: str  # "dropped" | "added"
    fact: Fact

    def describe(self) -> str:
        if self.verdict == "dropped":
            return f"{self.label}：漏掉了原稿中的{self.fact.label}“{self.fact.shown}”"
        return f"{self.label}：出现了原稿、登记表和设置中都没有的{self.fact.label}“{self.fact.shown}”"


def _finding_id(release_id: str, channel: str, verdict: str, fact: Fact) -> str:
    return hashlib.sha256(f"{release_id}|{channel}|{verdict}|{fact.kind}|{fact.key}".encode()).hexdigest()[:8]


def findings(audit: Audit) -> list[Finding]:
    """Every finding that blocks the release unless waived: drops on full-text channels, additions anywhere."""
    out = []
    for c in audit.channels:
        for verdict, facts in (("dropped", c.dropped if c.carries == "full" else ()), ("added", c.added)):
            out += [Finding(_finding_id(audit.release_id, c.channel, verdict, f), c.channel, c.label, verdict, f)
                    for f in facts]
    return out


def problems(audit: Audit, file: str, waived: Iterable[str] = ()) -> list[Problem]:
    """A drop on a full-text channel and an addition on any channel, each a validation problem, except the
    findings whose id is in ``waived`` (waived by a verified reviewer, for this version)."""
    waived = set(waived)
    how = (f"；确属必要的，可由审核人说明理由后豁免这一项：pressroom waive {audit.release_id} {{id}} "
           "--reason 理由 --reviewer 姓名 --code 动态口令")
    out = []
    for f in findings(audit):
        if f.id in waived:
            continue
        if f.verdict == "dropped":
            fix = ("全文渠道须完整刊载原稿的每一项事实：请检查该渠道的版式能否容纳它（表格、链接、图片），"
                   "或修改原稿的写法")
            out.append(Problem(file, f.fact.where or "正文", f"{f.describe()}（核对项 {f.id}）", fix + how.format(id=f.id)))
        else:
            fix = "各渠道只能删减、不能增添事实：请删去它，或先写进原稿并重新审核"
            out.append(Problem(file, "渠道稿件", f"{f.describe()}（核对项 {f.id}）", fix + how.format(id=f.id)))
    return out


def table(audit: Audit, waived: Iterable[str] = ()) -> list[dict]:
    """Rows for a printed or artifact table: channel, kind of channel, kept, dropped, added, verdict (a
    channel whose every finding was waived passes, and says how many were waived)."""
    waived = set(waived)
    open_ = {}
    for f in findings(audit):
        open_.setdefault(f.channel, [0, 0])[f.id in waived] += 1
    rows = []
    for c in audit.channels:
        left, excused = open_.get(c.channel, [0, 0])
        verdict = "不通过" if left else ("通过" + (f"（豁免 {excused} 项）" if excused else ""))
        rows.append({"渠道": c.label, "类型": "全文" if c.carries == "full" else "摘要",
                     "保留": len(c.kept), "未刊载": "、".join(f.shown for f in c.dropped) or "—",
                     "新增": "、".join(f.shown for f in c.added) or "—", "结论": verdict})
    return rows
