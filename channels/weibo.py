"""Weibo (新浪微博): the ``statuses/share`` request body, the picture, and a copy to post by hand.

Files of a rendition (the outbox puts them under ``weibo/<id>/``):

- ``weibo-share.json``: ``{"status": …, "pic": "weibo-pic.png"}``, also ``Rendition.payload``. The transport
  sends it as multipart (``pic`` is the file beside it) and adds what is not content: ``access_token`` and
  ``rip`` (the end user's real IP, required: the office's egress IP from ``[outlets.weibo]`` settings), so
  neither is in the rendition.
- ``weibo-pic.png``: the infographic poster (JPEG/GIF/PNG < 5 MB).
- ``weibo-manual.txt``: the same post with up to two ``#话题#`` from the keywords, for an editor to post by
  hand (``statuses/share`` refuses hashtags; a hand post may carry them).

The status is 【short title】 + the digest (or the lead) trimmed to fit + "详情：" + the portal URL, which is
the link under the app's registered safe domain that ``statuses/share`` requires.
"""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from math import ceil
from typing import Callable

from pressroom.errors import RenditionError
from pressroom.model import Release

from channels import markup
from channels.base import Channel, RenderContext, Rendition, View, dump_json
from channels.corrections import Correction, Withdrawal, manual_withdrawal
from channels.portal import text

CHANNEL = Channel(name="weibo", label="微博", short="微博", fast=True, uses=("infographic",),
                  carries="summary")
NAME = CHANNEL.name

STATUS_MAX = 140  # 汉字, counted by ``length_counter(settings)``
PIC_MAX_BYTES = 5 * 1024 * 1024  # strictly less than
MAX_HASHTAGS = 2
SHARE_FILE = "weibo-share.json"
PIC_FILE = "weibo-pic.png"
MANUAL_FILE = "weibo-manual.txt"
LINK_LABEL = "详情："
ELLIPSIS = "……"  # GB/T 15834: the Chinese ellipsis is two 省略号 characters
MIN_HEAD = 8  # a trimmed summary shorter than this says nothing: leave it out

# Sina's own counter (the web client's getLength in STK, reimplemented bug-for-bug by the WeCase client):
# text counts in bytes, ASCII 1 and anything else 2, and the result is ceil(bytes / 2) 汉字. A URL of at most
# 41 bytes counts as itself; a longer one is replaced by a t.cn short link and counts 20 bytes (10 汉字) up
# to 140 bytes, beyond that its bytes minus 120. The URL pattern is Sina's, extended to https.
_URL = re.compile(r"https?://[a-zA-Z0-9]+(?:\.[a-zA-Z0-9]+)+[-A-Za-z0-9_$.+!*()/\\,:;@&=?~#%]*")
URL_MIN_BYTES, URL_MAX_BYTES, SHORT_URL_BYTES = 41, 140, 20


def _bytes(s: str) -> int:
    return sum(1 if ord(c) < 0x80 else 2 for c in s)


def weibo_length(text: str) -> int:
    """Length of a post in Weibo's 汉字: a Han character (or any full-width character) is 1, two ASCII
    characters are 1 (rounded up over the whole post), a URL counts as the short link Weibo makes of it."""
    total, pos = 0, 0
    for m in _URL.finditer(text):
        total += _bytes(text[pos:m.start()])
        n = _bytes(m.group())
        total += n if n <= URL_MIN_BYTES else SHORT_URL_BYTES if n <= URL_MAX_BYTES else n - URL_MAX_BYTES + SHORT_URL_BYTES
        pos = m.end()
    total += _bytes(text[pos:])
    return ceil(total / 2)


def plain_length(text: str) -> int:
    """What "不超过140个汉字" supports (docs/outlets.md#weibo): every character counts one, URLs at full
    length, so a post within it is never refused for length."""
    return len(text)


def length_counter(settings) -> Callable[[str], int]:
    """The count ``[outlets.weibo] length`` names: ``plain_length`` (default) or ``weibo_length``."""
    return weibo_length if settings.outlet("weibo")["length"] == "weighted" else plain_length


# ---------------------------------------------------------------------------------------------
# Trimming

# Never cut inside these: a URL, a number with its digits, decimals and magnitude (11月18日, 5.8%, 1386.5亿,
# 1—2), a Latin word or code (2·1+N), a —— or …… pair.
_UNCUTTABLE = (
    _URL,
    re.compile(r"(?:[0-9]+(?:[.,:：][0-9]+)*[年月日时分秒万亿%‰℃]*)+"),
    re.compile(r"[0-9A-Za-z]+(?:[·+\-/_.—～~][0-9A-Za-z]+)*"),
    re.compile(r"——|……"),
)
_SENTENCE_END = re.compile(r"[。！？](?:[”’）」』]*)")
_PAUSE = "，、；：,;: "
_OPENING = "（《“‘「『【〔([{"
_PAIRS = ("（）", "《》", "“”", "‘’", "「」", "『』", "【】", "〔〕", "()")


def _inside(text: str) -> set[int]:
    """Positions where a cut would split an uncuttable run."""
    blocked: set[int] = set()
    for pattern in _UNCUTTABLE:
        for m in pattern.finditer(text):
            blocked.update(range(m.start() + 1, m.end()))
    return blocked


def _balanced(s: str) -> bool:
    return all(s.count(a) == s.count(b) for a, b in _PAIRS)


def trim(body: str, fits: Callable[[str], bool]) -> tuple[str, bool]:
    """The longest head of ``body`` that ``fits``: the whole of it, else whole sentences, else clauses or a
    clean cut followed by "……" (never inside an uncuttable run, never leaving an opening mark or an unclosed
    pair). Returns (text, cut with an ellipsis)."""
    if fits(body):
        return body, False
    sentence = ""
    for m in _SENTENCE_END.finditer(body):
        head = body[:m.end()]
        if fits(head):
            sentence = head
    blocked = _inside(body)
    clipped, clause = "", ""
    for i in range(len(body) - 1, 0, -1):
        if i in blocked:
            continue
        head = body[:i].rstrip(_PAUSE)
        if not head or head[-1] in _OPENING or not _balanced(head) or not fits(head + ELLIPSIS):
            continue
        clipped = clipped or head
        if body[i - 1] in _PAUSE or body[i] in _PAUSE:
            clause = head
            break
    # Whole sentences read best, then whole clauses, unless they keep much less than a plain cut keeps.
    if sentence and len(sentence) * 2 >= len(clipped):
        return sentence, False
    if clause and len(clause) * 3 >= len(clipped) * 2:
        clipped = clause
    if len(clipped) < MIN_HEAD:
        return (sentence, False) if sentence else ("", True)
    return clipped + ELLIPSIS, True


# ---------------------------------------------------------------------------------------------
# The post


def _no_hash(s: str) -> str:
    """``statuses/share`` refuses #话题#: no '#' may reach the status (full-width ones neither)."""
    return s.replace("#", "").replace("＃", "")


def hashtags(release: Release) -> list[str]:
    tags = []
    for k in release.keywords:
        tag = re.sub(r"\s+", "", _no_hash(text(k)))
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:MAX_HASHTAGS]


def _summary(release: Release) -> str:
    """What the post says: the digest, else the lead's first paragraph."""
    if text(release.digest):
        return text(release.digest)
    for md in [release.lead, *(s.body for s in release.sections)]:
        paras = markup.paragraphs(md)
        if paras:
            return paras[0]
    return ""


def compose(title: str, body: str, url: str, tags: list[str] | tuple[str, ...] = ()) -> str:
    return "".join(f"#{t}#" for t in tags) + f"【{title}】{body}{LINK_LABEL}{url}"


def post(title: str, summary: str, url: str, tags=(), count: Callable[[str], int] = plain_length) -> tuple[str, bool]:
    """The longest post within ``STATUS_MAX`` as ``count`` counts: (text, trimmed with an ellipsis)."""
    body, cut = trim(summary, lambda b: count(compose(title, b, url, tags)) <= STATUS_MAX)
    return compose(title, body, url, tags), cut


def _picture(release: Release, ctx: RenderContext) -> bytes:
    from channels import infographic  # imported here, as the infographic is rendered by its own module

    try:
        data = infographic.poster_png(release, ctx)
    except RenditionError as e:  # the picture is the infographic, so it fails for the same reason
        raise RenditionError(NAME, e.field, f"微博配图（图解）无法生成：{e.message}", e.fix) from e
    if len(data) >= PIC_MAX_BYTES:
        raise RenditionError(NAME, "key_figures",
                             f"微博配图（图解）{len(data) / 1024 / 1024:.1f} MB，超过微博图片 5 MB 上限",
                             "请减少图解中的关键数据或文字，使图片变小")
    return data


def render(release: Release, ctx: RenderContext) -> Rendition:
    warnings: list[str] = []
    url = ctx.url_for(release.id)
    raw_title, raw_summary = text(release.wechat_title or release.title), _summary(release)
    title, summary = _no_hash(raw_title), _no_hash(raw_summary)
    if (title, summary) != (raw_title, raw_summary):
        warnings.append("标题或摘要中的“#”已从微博正文中去掉：接口发布的微博不能带 #话题#，话题只用于人工发布的文案")

    count = length_counter(ctx.settings)  # the same counter trims and checks: a post that validates fits
    status, cut = post(title, summary, url, count=count)
    if count(status) > STATUS_MAX:
        raise RenditionError(NAME, "wechat_title",
                             f"微博正文仅标题和网址就有 {count(status)} 字，超过 {STATUS_MAX} 字上限",
                             "请在前置信息中填写较短的 wechat_title（微博与微信共用短标题）")
    if cut:
        warnings.append(f"微博正文限 {STATUS_MAX} 字，摘要已截短；如需完整表述，请缩短摘要（digest）")

    tags = hashtags(release)
    manual, _ = post(title, summary, url, tags, count=count)
    if count(manual) > STATUS_MAX:
        warnings.append(f"人工发布文案 {count(manual)} 字，超过微博 {STATUS_MAX} 字，请发布前删减")
    if not tags:
        warnings.append("未填写关键词（keywords），人工发布文案没有 #话题#")

    payload = {"status": status, "pic": PIC_FILE}
    files = {
        SHARE_FILE: dump_json(payload),
        PIC_FILE: _picture(release, ctx),
        MANUAL_FILE: (manual + "\n").encode("utf-8"),
    }
    return Rendition(channel=NAME, release_id=release.id, version=release.version, title=release.title,
                     files=files, payload=payload, warnings=tuple(warnings))


# The 更正说明's "what was wrong" half (pressroom.text.diff writes "本文原稿中“…”有误，现更正为“…”。"): left out
# when the whole note does not fit, so the post still says what is right.
_WRONG_PART = re.compile(r"^本文原稿中“[^”]*”有误，")


def correct(release: Release, ctx: RenderContext, base: Rendition, c: Correction, earlier: list[Correction],
            old: str | None) -> Rendition:
    """A new post: 【更正】, the short title, the 更正说明 trimmed to fit, the old post and the page link. The
    更正说明 comes first: when the old post's link would cut it short, the link is left out (with a warning)."""
    url = ctx.url_for(release.id)
    short = _no_hash(markup.clean_text(release.wechat_title or release.title).strip())
    count = length_counter(ctx.settings)
    note = _no_hash(c.note)

    def compose_correction(body: str, quoted: str) -> str:
        return f"【更正】{short}：{body}{quoted}{LINK_LABEL}{url}"

    def fits(body: str, quoted: str) -> bool:
        return count(compose_correction(body, quoted)) <= STATUS_MAX

    link = f"原微博：{c.old_url} " if c.old_url.startswith("https://") else ""
    # The whole 更正说明 with the old post's link, without it, then only what it now says; else trimmed.
    shorter = _WRONG_PART.sub("", note)
    tries = [(note, link), (note, ""), (shorter, link), (shorter, "")] if shorter != note else [(note, link), (note, "")]
    body, quoted = next(((b, q) for b, q in tries if fits(b, q)), (None, link))
    warnings = base.warnings
    if body is None:
        body, _ = trim(note, lambda b: fits(b, link))
    elif (body, quoted) != (note, link):
        warnings += ("更正微博字数有限，" + ("已省略原微博链接" if link and not quoted else "")
                     + ("、" if link and not quoted and body != note else "")
                     + ("只写更正后的内容" if body != note else "") + "，请核对",)
    status = compose_correction(body, quoted)
    payload = {"status": status, **({"pic": base.payload["pic"]} if base.payload.get("pic") else {})}
    files = {**base.files, SHARE_FILE: dump_json(payload), MANUAL_FILE: (status + "\n").encode("utf-8")}
    if count(status) > STATUS_MAX:
        warnings += (f"更正微博 {count(status)} 字，超过 {STATUS_MAX} 字，请缩短微信短标题",)
    return replace(base, title=f"【更正】{release.title}", payload=payload, files=files, warnings=warnings)


def withdraw(release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    """The transport deletes the post; this note is what an outbox receives instead."""
    return manual_withdrawal(NAME, CHANNEL.label, release_id, ctx, w)


def view(rendition: Rendition, settings) -> View | None:
    """The post as a card: its text, its length against the limit, its picture."""
    if not rendition.payload:
        return None
    status = str(rendition.payload.get("status", ""))
    pic = rendition.payload.get("pic")
    picture = rendition.files.get(pic, b"") if pic else b""
    return View(card={"status": status, "length": length_counter(settings)(status), "max": STATUS_MAX,
                      "pic": "data:image/png;base64," + base64.b64encode(picture).decode() if picture else ""})
