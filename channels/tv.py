"""TV news script (《淮南新闻联播》, 新闻综合频道 "新闻发布" column).

Files: ``<id>.txt`` (the script, block by block), ``<id>.html`` (the same as the two-column sheet the studio
uses: 画面 | 解说词/同期声) and ``<id>.srt`` (subtitles of the sound bites).

How a release becomes a script (deterministic, so the editor knows what to expect and where to cut):

* 口播导语 (read on camera): "本台消息" and the news lead (``newspaper.news_lead``: the lead's first paragraph;
  for a policy document its digest, dated "近日"). Without a time of its own it gets the publishing date.
* 正文 (voice-over, 配音): every section in order, read in full when the whole script fits ``slot_seconds``;
  otherwise the sections that save most are shortened one by one until it fits — to the editor's own
  ``tv_summary`` of the section when given (README "Content format"), else to its first paragraph — and a
  warning names each shortened section and how many characters and seconds it lost. A 不涉及 section is
  not read. An outside link is read as “详情请登录<link text>。”, its address shown as a caption (字幕).
* 同期声 (sound bites): only the editor's marked quotes (a blockquote ending in ——姓名 of one of the
  release's speakers or experts; README "Content format"), after their section's voice-over, captioned
  with the speaker's registered title. Nothing else is put in anyone's mouth; the recording decides.
* 画面 notes: the press conference only when ``press_conference: true``; otherwise 资料画面、图表.
* A policy document is not read out: its item is a 口播简讯 (the 口播导语 alone).
* Spoken style: "据悉" is read as "据了解".

Read time = spoken characters (Han characters and digits of 口播, 配音 and 同期声; not 画面 notes, 字幕 or
punctuation) ÷ ``chars_per_minute`` ([outlets.tv], default 270: radio-news pace, a little slower than
CCTV's 290–300). Still longer than ``slot_seconds`` after shortening gives a warning, never an error: the
editor cuts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pressroom.errors import RenditionError
from pressroom.model import Release

from channels import markup
from channels.base import Channel, RenderContext, Rendition, display_time, render_template
from channels.corrections import Correction, Desk, Withdrawal, desk_correction, desk_withdrawal
from channels.newspaper import lead_states_time, news_lead, speakers_with_titles
from channels.portal import text

CHANNEL = Channel(name="tv", label="电视《淮南新闻联播》“新闻发布”栏目", short="电视", desk=True,
                  carries="summary")
NAME = CHANNEL.name

SUBTITLE_MAX = 16  # characters on one subtitle line of a 16:9 picture
SPOKEN = {"据悉": "据了解"}

DATELINE = "本台消息"
_SPOKEN_CHAR = re.compile(r"[0-9\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SENTENCE = re.compile(r"[^。！？]+(?:[。！？]+[”’」』）]*|$)")
_CLAUSE = re.compile(r"[^，。；：！？、]+[，。；：！？、]*")
_TRAILING = re.compile(r"[，。；：、\s]+$")
_IMAGE_ALT = re.compile(r"!\[([^\]]*)\]\(")


@dataclass(frozen=True)
class Block:
    kind: str  # 口播导语 | 配音 | 同期声
    picture: str  # 画面 note (not read)
    text: str  # what is read or said
    caption: str = ""  # 字幕 of a sound bite: "name title"
    start: float = 0.0  # seconds from the start of the item
    end: float = 0.0


def spoken_chars(s: str) -> int:
    """Characters read aloud: Han characters and digits (punctuation, Latin and spaces are not counted)."""
    return len(_SPOKEN_CHAR.findall(s))


def read_seconds(chars: int, chars_per_minute: float) -> float:
    return chars * 60.0 / chars_per_minute


def mmss(seconds: float) -> str:
    total = int(round(seconds))  # as the block timeline does, so the last block ends at the total
    return f"{total // 60}分{total % 60:02d}秒" if total >= 60 else f"{total}秒"


def spoken(s: str) -> str:
    for written, said in SPOKEN.items():
        s = s.replace(written, said)
    return s


def sentences(paragraph: str) -> list[str]:
    return [m.group(0) for m in _SENTENCE.finditer(paragraph) if m.group(0).strip()]


def _rate(ctx: RenderContext) -> tuple[float, float]:
    outlet = ctx.settings.outlet(NAME)
    cpm, slot = outlet["chars_per_minute"], outlet["slot_seconds"]
    for key, value in (("chars_per_minute", cpm), ("slot_seconds", slot)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise RenditionError(NAME, key, f"电视配置 {key} 为“{value}”，不是正数",
                                 f"请在 pressroom.toml 的 [outlets.tv] 中把 {key} 设为正数")
    return float(cpm), float(slot)


def _anchor(release: Release, ctx: RenderContext, links: dict[str, str]) -> tuple[str, str]:
    first, _rest = news_lead(release)
    if not first:
        raise RenditionError(NAME, "导语", "缺少导语：电视口播导语须以“本台消息”开头，写明何时、何人、何事",
                             "请在第一个“## ”小标题之前写一段导语")
    if not lead_states_time(first):  # (a policy document's item is already dated by news_lead)
        local = release.publish_at.astimezone(ctx.settings.tz)
        first = f"{local.month}月{local.day}日，{first}"
    said, caption = _voice(first, links)
    return f"{DATELINE} {said}", caption


_URL_NOTE = re.compile(r"（网址：(https?://[^（）\s]+)）")


def _voice(paragraphs_with_links: str, links: dict[str, str]) -> tuple[str, str]:
    """What is read of text whose outside links carry their address (“（网址：…）”, as the full-text copy
    writes them): an address is not read out; “详情请登录<link text>。” is, and the address is shown as a
    caption line (字幕). Returns (spoken text, caption)."""
    urls = list(dict.fromkeys(_URL_NOTE.findall(paragraphs_with_links)))
    said = spoken(_URL_NOTE.sub("", paragraphs_with_links))
    for url in urls:
        said += f"详情请登录{links.get(url) or url}。"
    return said, ("网址 " + "　".join(urls) if urls else "")


def _picture(release: Release, heading: str, body: str, index: int) -> str:
    """The shot note: the editor's picture if the section has one; the press conference only when there
    was one (``press_conference: true``); otherwise neutral material, never an invented scene."""
    alt = _IMAGE_ALT.search(body)
    if alt and alt.group(1).strip():
        return f"图片/视频素材：{text(alt.group(1))}"
    if release.press_conference:
        if index == 0:
            venue = f"（{release.venue}）" if release.venue else ""
            return f"新闻发布会现场全景{venue}；叠加屏幕字幕：{heading}"
        return f"发布会现场、相关资料画面；叠加屏幕字幕：{heading}"
    return f"资料画面、图表；叠加屏幕字幕：{heading}"


def _table_blocks(heading: str, tables: list[markup.Table]) -> list[Block]:
    """A table is read row by row, each row a sentence naming its columns (its time counted like any
    voice-over), over a caption card that shows the table."""
    out = []
    for table in tables:
        columns = "、".join(h for h in table.header if h)
        card = f"字幕卡：“{heading}”表格{f'（列：{columns}）' if columns else ''}，逐行显示"
        out.append(Block("配音", card, spoken("".join(table.sentences()))))
    return out


def _titles(release: Release) -> dict[str, str]:
    return dict(speakers_with_titles(release))


@dataclass(frozen=True)
class Part:
    """One section of the script: its blocks read in full, and shortened to fit the slot (the editor's
    ``tv_summary``, else the first paragraph; tables and marked quotes stay)."""

    heading: str
    full: list[Block]
    short: list[Block]
    summary: bool  # the shortened form is the editor's own

    def saving(self) -> int:
        return _chars(self.full) - _chars(self.short)


def _chars(blocks: list[Block]) -> int:
    return sum(spoken_chars(b.text) for b in blocks)


def _section_part(release: Release, sec, titles: dict[str, str], index: int, links: dict[str, str]) -> Part:
    said, body = markup.quotes(sec.body, set(titles))
    picture = _picture(release, sec.heading, sec.body, index)
    full: list[Block] = []
    paras: list[str] = []

    def flush() -> None:
        if paras:
            text_, caption = _voice("".join(paras), links)
            full.append(Block("配音", picture if not full else _picture(release, sec.heading, "", 1), text_, caption))
            paras.clear()

    tables: list[Block] = []
    for part in markup.blocks(body, links=True):
        if isinstance(part, markup.Table):
            flush()
            tables += _table_blocks(sec.heading, [part])
            full += tables[-1:]
        else:
            paras.append(part)
    flush()
    bites = [Block("同期声", f"{'发布会现场，' if release.press_conference else ''}{name}讲话（同期声以录音为准）",
                   text(words), caption=f"{name}　{titles[name]}" if titles[name] else name) for name, words in said]
    summary = release.tv_summary_of(sec.heading)
    if summary:
        short = [Block("配音", picture, *_voice(summary, links))]
    else:
        first = next((p for p in markup.blocks(body, links=True) if isinstance(p, str)), "")
        short = ([Block("配音", picture, *_voice(first, links))] if first else []) + tables
    return Part(sec.heading, full + bites, short + bites, bool(summary))


def _fit(parts: list[Part], fixed: int, cpm: float, slot: float) -> tuple[list[Block], list[str]]:
    """Every section in full when the script fits the slot; otherwise the sections that save most are
    shortened, one by one, until it fits. The warning names each shortened section and what it lost."""
    cut: set[int] = set()
    total = fixed + sum(_chars(p.full) for p in parts)
    while read_seconds(total, cpm) > slot:
        left = [i for i, p in enumerate(parts) if i not in cut and p.saving() > 0]
        if not left:
            break
        i = max(left, key=lambda k: (parts[k].saving(), -k))
        cut.add(i)
        total -= parts[i].saving()
    blocks = [b for i, p in enumerate(parts) for b in (p.short if i in cut else p.full)]
    if not cut:
        return blocks, []
    lines = [f"“{p.heading}”{'改读电视版摘要（tv_summary）' if p.summary else '只读首段'}，"
             f"删去{p.saving()}字（约{read_seconds(p.saving(), cpm):.0f}秒）" for i, p in enumerate(parts) if i in cut]
    return blocks, [f"电视稿全文长于栏目时段{mmss(slot)}，已压缩{len(cut)}个小节：" + "；".join(lines)
                    + "。如需自行决定播读内容，请在前置信息 tv_summary 中为小节写电视版摘要（只能删减原文）"]


def build_blocks(release: Release, ctx: RenderContext) -> tuple[list[Block], list[str]]:
    """口播导语, then each section read as 配音 (in full when the script fits the slot, else shortened:
    ``_fit``), followed by the section's marked quotes as 同期声 (only those: nobody is shown saying
    what the editor did not mark as theirs)."""
    warnings: list[str] = []
    links = markup.outside_links("\n\n".join([release.lead, *(s.body for s in release.sections)]))
    anchor, caption = _anchor(release, ctx, links)
    if release.kind == "policy-document":
        # A document is not read out: the item is a 口播简讯 pointing to the full text on the portal.
        number = f"{release.document_number}　" if release.document_number else ""
        return [Block("口播导语", f"主持人近景（演播室）；叠加屏幕字幕：{number}《{text(release.title)}》",
                      anchor, caption)], warnings
    titles = _titles(release)
    read = [sec for sec in release.sections if not sec.not_applicable]
    parts = [_section_part(release, sec, titles, i, links) for i, sec in enumerate(read)]
    cpm, slot = _rate(ctx)
    body, warnings = _fit(parts, spoken_chars(anchor), cpm, slot)
    blocks = [Block("口播导语", "主持人近景（演播室）", anchor, caption), *body]
    if release.press_conference and not any(b.kind == "同期声" for b in blocks):
        warnings.append("发布会稿件中没有标注的引语，电视稿不含同期声：如需同期声，请在正文中以“> 原话——姓名”标注发言人的原话")
    return blocks, warnings


def timed(blocks: list[Block], cpm: float) -> list[Block]:
    """Each block's place on the timeline, from the read rate."""
    out, pos = [], 0.0
    for b in blocks:
        length = read_seconds(spoken_chars(b.text), cpm)
        out.append(Block(b.kind, b.picture, b.text, b.caption, pos, pos + length))
        pos += length
    return out


# ---------------------------------------------------------------------------------------------
# Subtitles


def subtitle_chunks(s: str) -> list[str]:
    """A sound bite cut into subtitle lines at clause punctuation, each at most SUBTITLE_MAX characters;
    the clause's closing punctuation is dropped, as on screen."""
    chunks: list[str] = []
    for clause in _CLAUSE.findall(s.strip()):
        clause = _TRAILING.sub("", clause)
        # A long clause is shared out evenly over as few lines as fit, not cut into a full line and a stub.
        parts = math.ceil(len(clause) / SUBTITLE_MAX)
        while parts > 1:
            cut = math.ceil(len(clause) / parts)
            while cut > 1 and _word(clause[cut - 1]) and _word(clause[cut]):
                cut -= 1  # keep a number or a Latin word whole
            chunks.append(clause[:cut])
            clause = clause[cut:]
            parts -= 1
        chunks.append(clause)
    return [c for c in chunks if spoken_chars(c)]


def _word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == ".")


def srt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def srt(blocks: list[Block], cpm: float) -> str:
    entries = []
    for b in blocks:
        if b.kind != "同期声":
            continue
        pos = b.start
        for chunk in subtitle_chunks(b.text):
            end = pos + read_seconds(spoken_chars(chunk), cpm)
            entries.append((pos, end, chunk))
            pos = end
    return "".join(f"{i}\n{srt_time(a)} --> {srt_time(z)}\n{t}\n\n" for i, (a, z, t) in enumerate(entries, 1))


# ---------------------------------------------------------------------------------------------


def render(release: Release, ctx: RenderContext) -> Rendition:
    s = ctx.settings
    outlet = s.outlet(NAME)
    cpm, slot = _rate(ctx)
    blocks, warnings = build_blocks(release, ctx)
    blocks = timed(blocks, cpm)
    chars = sum(spoken_chars(b.text) for b in blocks)
    seconds = read_seconds(chars, cpm)
    if seconds > slot:
        warnings.append(f"电视稿预计时长{mmss(seconds)}（{chars}字，按每分钟{cpm:g}字计），超过栏目时段{mmss(slot)}："
                        "请压缩配音，或只保留口播导语作口播简讯")
    values = dict(
        r=release,
        title=text(release.title),
        station=outlet["station"],
        channel=outlet["channel"],
        programme=outlet["programme"],
        column=outlet["column"],
        published=display_time(release.publish_at.astimezone(s.tz)),
        duration=mmss(seconds),
        chars=chars,
        cpm=f"{cpm:g}",
        slot=mmss(slot),
        blocks=blocks,
        span=lambda b: f"{mmss_clock(b.start)}—{mmss_clock(b.end)}",
    )
    files = {
        f"{release.id}.txt": render_template("tv/script.txt", **values).encode("utf-8"),
        f"{release.id}.html": render_template("tv/sheet.html", **values).encode("utf-8"),
        f"{release.id}.srt": srt(blocks, cpm).encode("utf-8"),
    }
    return Rendition(channel=NAME, release_id=release.id, version=release.version, title=release.title,
                     files=files, warnings=tuple(warnings))


def mmss_clock(seconds: float) -> str:
    total = int(round(seconds))
    return f"{total // 60:02d}:{total % 60:02d}"


def desk(ctx: RenderContext) -> Desk:
    out = ctx.settings.outlet(NAME)
    station, programme = out["station"], out["programme"]
    return Desk(f"{station}{f'《{programme}》' if programme else ''}编辑部", "播出")


def correct(release: Release, ctx: RenderContext, base: Rendition, c: Correction, earlier: list[Correction],
            old: str | None) -> Rendition:
    """The news desk gets a correction notice: what changed against the script it had, and the new one."""
    return desk_correction(desk(ctx), release, ctx, base, c, old)


def withdraw(release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    return desk_withdrawal(desk(ctx), NAME, release_id, ctx, w)
