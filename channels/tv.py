"""TV news script (《淮南新闻联播》, 新闻综合频道 "新闻发布" column).

Files: ``<id>.txt`` (the script, block by block), ``<id>.html`` (the same as the two-column sheet the studio
uses: 画面 | 解说词/同期声) and ``<id>.srt`` (subtitles of the sound bites).

How a release becomes a script (deterministic, so the editor knows what to expect and where to cut):

* 口播导语 (read on camera): "本台消息" and the news lead (``newspaper.news_lead``: the lead's first paragraph;
  for a policy document its digest, dated "近日"). Without a time of its own it gets the publishing date.
* 正文 (voice-over, 配音): the first paragraph of each section, in order; a 不涉及 section is not read.
* 同期声 (sound bites): each person in turn (speakers in front-matter order, then experts) is given the
  first sentence of 15 to 60 spoken characters (``SOUND_BITE_MIN``/``MAX``) of the next read section that
  has one, looking from the section's second sentence on, so the voice-over keeps the topic sentence; the
  bite follows that section's voice-over and is not also read in it. The script marks bites as drafts:
  the recording of the press conference decides. A person left without one gets a warning.
* A policy document is not read out: its item is a 口播简讯 (the 口播导语 alone).
* Spoken style: "据悉" is read as "据了解".

Read time = spoken characters (Han characters and digits of 口播, 配音 and 同期声; not 画面 notes, 字幕 or
punctuation) ÷ ``chars_per_minute`` ([outlets.tv], default 270: radio-news pace, a little slower than
CCTV's 290–300). Longer than ``slot_seconds`` gives a warning, never an error: the editor cuts.
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

CHANNEL = Channel(name="tv", label="电视《淮南新闻联播》“新闻发布”栏目", short="电视", desk=True)
NAME = CHANNEL.name

SOUND_BITE_MIN, SOUND_BITE_MAX = 15, 60  # spoken characters: 3–13 s at 270 a minute; shorter ones are
# the "一是……。" lead-ins of a list or a bare "不会。", not something a person is shown saying
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


def _anchor(release: Release, ctx: RenderContext) -> str:
    first, _rest = news_lead(release)
    if not first:
        raise RenditionError(NAME, "导语", "缺少导语：电视口播导语须以“本台消息”开头，写明何时、何人、何事",
                             "请在第一个“## ”小标题之前写一段导语")
    if not lead_states_time(first):  # (a policy document's item is already dated by news_lead)
        local = release.publish_at.astimezone(ctx.settings.tz)
        first = f"{local.month}月{local.day}日，{first}"
    return f"{DATELINE} {spoken(first)}"


def _picture(release: Release, heading: str, body: str, index: int) -> str:
    alt = _IMAGE_ALT.search(body)
    if alt and alt.group(1).strip():
        return f"图片/视频素材：{text(alt.group(1))}"
    if index == 0:
        venue = f"（{release.venue}）" if release.venue else ""
        return f"新闻发布会现场全景{venue}；叠加屏幕字幕：{heading}"
    if release.kind == "emergency":
        return f"现场画面；叠加屏幕字幕：{heading}"
    return f"发布会现场、相关资料画面；叠加屏幕字幕：{heading}"


def _sound_bite(paragraphs: list[str]) -> tuple[str, int, int] | None:
    """(sentence, paragraph index, sentence index) of the first short sentence after the first."""
    for p_i, par in enumerate(paragraphs):
        for s_i, sent in enumerate(sentences(par)):
            if (p_i, s_i) == (0, 0):
                continue
            if SOUND_BITE_MIN <= spoken_chars(sent) <= SOUND_BITE_MAX:
                return sent.strip(), p_i, s_i
    return None


def build_blocks(release: Release, ctx: RenderContext) -> tuple[list[Block], list[str]]:
    warnings: list[str] = []
    if release.kind == "policy-document":
        # A document is not read out: the item is a 口播简讯 pointing to the full text on the portal.
        number = f"{release.document_number}　" if release.document_number else ""
        return [Block("口播导语", f"主持人近景（演播室）；叠加屏幕字幕：{number}《{text(release.title)}》",
                      _anchor(release, ctx))], warnings
    blocks = [Block("口播导语", "主持人近景（演播室）", _anchor(release, ctx))]
    read = [(sec, markup.paragraphs(sec.body)) for sec in release.sections if not sec.not_applicable]
    read = [(sec, paras) for sec, paras in read if paras]
    # Each person takes a sentence from the next section that has a suitable one, in order.
    bites: dict[int, tuple[tuple[str, str], tuple[str, int, int]]] = {}
    next_section = 0
    for person in speakers_with_titles(release):
        for j in range(next_section, len(read)):
            bite = _sound_bite(read[j][1])
            if bite:
                bites[j] = (person, bite)
                next_section = j + 1
                break
        else:
            next_section = len(read)
            warnings.append(f"未能为{person[0]}选出同期声（正文中没有合适的短句），请编辑从发布会录音中选取")
    for i, (sec, paras) in enumerate(read):
        voice = paras[0]
        person, bite = bites.get(i, (None, None))
        if bite and bite[1] == 0:
            voice = "".join(s for j, s in enumerate(sentences(paras[0])) if j != bite[2])
        if voice.strip():
            blocks.append(Block("配音", _picture(release, sec.heading, sec.body, i), spoken(voice.strip())))
        if person:
            name, title = person
            blocks.append(Block("同期声", f"发布会现场，{name}发言（同期声以现场录音为准）", bite[0],
                                caption=f"{name}　{title}" if title else name))
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
