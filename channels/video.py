"""微视频: a vertical 1080×1920 MP4 of the release, made of still cards with burned-in captions.

Rendering (pure, deterministic, what validation checks and reviewers sign) makes the *plan* of the video:

* the cards as PNG (``cards/``), drawn with the infographic's drawing code and font: a title card (引题,
  主题, department, the release's date — never a time of day), one card per key figure (shown first with its
  label, then with the number: the figure is "animated in" by two stills), two to four points (the editor's
  ``video_points``, else the infographic's points from the sections and lead), and an end card with the
  source, the portal URL and its QR code;
* the captions: the TV script's narration (口播导语 and 配音 of ``channels.tv``, without the TV dateline), cut
  into subtitle lines by ``tv.subtitle_chunks`` and broken with the project's line breaker; every caption
  must fit in two lines inside the safe area (a caption that does not is a validation problem);
* the timeline (``<id>-video.json``): each card's and caption's time, clamped to ``[outlets.video]
  min_seconds``–``max_seconds``; the ``.srt`` and a WebVTT track (``.vtt``) beside it; the poster
  (``poster.jpg``, the title card).

Encoding (``finish``, at delivery, after the other channels) composites each caption onto its card with
Pillow and hands each still once to ffmpeg's x264 (one still per stretch of time, never a frame per tick),
which encodes it as an IDR picture; ``channels.h264`` holds it for its frames with skipped pictures, so the
MP4 has a constant ``[outlets.video] fps`` and a silent AAC track from ``anullsrc`` (platforms that require
audio accept it). The MP4 is a derived file: it is not part of the signed content hash (its bytes may
differ between ffmpeg builds; the cards do not).

A summary channel (``carries="summary"``): it may leave facts out but never adds one; the fidelity audit
reads its card texts and captions (the plan and the ``.srt``). Facts: docs/outlets.md#micro-video.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import partial

from PIL import Image as PILImage
from PIL import ImageDraw

from pressroom.errors import RenditionError
from pressroom.model import Release
from pressroom.text.linebreak import break_lines, load_cjk_font

from channels import h264, infographic, tv
from channels.base import (
    Channel, EncodeError, RenderContext, Rendition, View, display_date, dump_json, render_template, video_files,
)
from channels.corrections import Correction, Withdrawal, withdrawal
from channels.infographic import GOLD, GREY, INK, LIGHT_GREY, RED, RULE, TINT, WHITE, Layout, QrOp, RectOp, TextOp
from channels.portal import text

CHANNEL = Channel(name="video", label="微视频", short="微视频", outbox="portal/video/{release}",
                  phone=True, carries="summary", slow=True)
NAME = CHANNEL.name

# --- Geometry (a phone held upright) ----------------------------------------------------------------
SIZE = W, H = 1080, 1920
# Safe area (ours, after the short-video platforms' overlays): the top strip holds the platform's title bar
# and the bottom one its buttons, caption of the post and progress bar; nothing that must be read goes there.
SAFE_TOP, SAFE_BOTTOM, SAFE_X = 288, 1440, 96
COL = W - 2 * SAFE_X
CAPTION_SIZE, CAPTION_LINES, CAPTION_PAD = 52, 2, 22
CAPTION_STEP = round(CAPTION_SIZE * 1.4)
CAPTION_ZONE = (SAFE_X, SAFE_BOTTOM - CAPTION_LINES * CAPTION_STEP - 2 * CAPTION_PAD, W - SAFE_X, SAFE_BOTTOM)
CONTENT_BOTTOM = CAPTION_ZONE[1] - 40  # cards keep their text above the captions

# --- Timing (seconds, ours) ------------------------------------------------------------------------
TITLE_SECONDS, FIGURE_SECONDS, POINT_SECONDS, END_SECONDS = 3.5, 3.0, 4.5, 5.0
FIGURE_REVEAL = 0.6  # a figure card shows its label this long before the number appears
CAPTION_MIN_SECONDS = 1.2
FPS_ALLOWED = (25, 30)
POINTS = (2, 4)


@dataclass(frozen=True)
class Card:
    file: str
    kind: str  # title | figure | point | end
    texts: tuple[str, ...]  # every text on the card, whole (what the audit reads)
    seconds: float  # its share of the timeline before scaling
    reveal: str = ""  # a figure card: the still shown first (label only)


@dataclass(frozen=True)
class Caption:
    text: str
    lines: tuple[str, ...]
    start: float = 0.0
    end: float = 0.0


def _settings(ctx: RenderContext) -> tuple[float, float, int, float]:
    v = ctx.settings.outlet(NAME)
    lo, hi, fps, cps = v["min_seconds"], v["max_seconds"], v["fps"], v["caption_chars_per_second"]
    if not (0 < lo <= hi):
        raise RenditionError(NAME, "settings", f"微视频时长设置 {lo:g}～{hi:g} 秒无效",
                             "请在 pressroom.toml 的 [outlets.video] 中设 0 < min_seconds ≤ max_seconds")
    if fps not in FPS_ALLOWED or cps <= 0:
        raise RenditionError(NAME, "settings", f"微视频帧率 {fps} 或字幕速度 {cps:g} 无效",
                             "请在 [outlets.video] 中设 fps = 25 或 30，caption_chars_per_second 为正数")
    return float(lo), float(hi), int(fps), float(cps)


# ---------------------------------------------------------------------------------------------
# Cards


def _frame(ops: list, label: str) -> None:
    """What every card shares: the red band (decoration only) above the safe area, the column label at
    its top, a thin rule at the bottom of the picture."""
    ops.append(RectOp((0, 0, W, SAFE_TOP - 40), RED))
    ops.append(RectOp((0, SAFE_TOP - 40, W, SAFE_TOP - 32), GOLD))
    ops.append(TextOp("settings", label, 40, True, (SAFE_X, SAFE_TOP + 24), RED))
    ops.append(RectOp((SAFE_X, SAFE_TOP + 92, SAFE_X + 120, SAFE_TOP + 98), RED))
    ops.append(RectOp((0, H - 24, W, H), RED))


def _column(ops: list, fld: str, value: str, size: int, bold: bool, y: float, fill, leading=1.4,
            mode="plain", align="left") -> float:
    return infographic._block(ops, fld, value, size, bold, SAFE_X, y, COL, fill, leading, align=align, mode=mode)


def _title_card(release: Release, ctx: RenderContext) -> tuple[list, list[str]]:
    """引题, 主题, 副题, the department and the release's date: the title as large as fits above the captions."""
    for size in (84, 72, 64, 56, 48):
        ops, texts, bottom = _title_ops(release, ctx, size)
        if bottom <= CONTENT_BOTTOM:
            break
    return ops, texts


def _title_ops(release: Release, ctx: RenderContext, size: int) -> tuple[list, list[str], float]:
    ops: list = []
    _frame(ops, "权威发布")
    small = size * 0.55
    y = SAFE_TOP + 150
    texts = []
    if release.kicker:
        y = _column(ops, "kicker", text(release.kicker), round(small), False, y, RED, mode="balance") + 16
        texts.append(text(release.kicker))
    title = text(release.title)
    y = _column(ops, "title", title, size, True, y, INK, 1.32, mode="headline") + 20
    texts.append(title)
    if release.subtitle:
        y = _column(ops, "subtitle", text(release.subtitle), round(small * 0.95), False, y, GREY, mode="headline") + 12
        texts.append(text(release.subtitle))
    ops.append(RectOp((SAFE_X, y + 10, W - SAFE_X, y + 13), RULE))
    date = display_date(release.publish_at.astimezone(ctx.settings.tz))
    y = _column(ops, "department", text(release.department.name), 40, True, y + 40, GREY)
    y = _column(ops, "department", date, 40, False, y, LIGHT_GREY)
    texts += [text(release.department.name), date]
    office = text(ctx.settings.city.press_office)
    if office:
        y = _column(ops, "settings", office, 32, False, y + 16, LIGHT_GREY)
        texts.append(office)
    return ops, texts, y


def _figure_ops(fig, index: int, total: int, with_value: bool) -> tuple[list, list[str]]:
    ops: list = []
    _frame(ops, f"关键数据　{index}/{total}")
    value, unit, label = text(fig.value), text(fig.unit), text(fig.label)
    y = SAFE_TOP + 260
    ops.append(RectOp((SAFE_X, y, W - SAFE_X, y + 560), TINT, radius=24))
    ops.append(RectOp((SAFE_X, y, SAFE_X + 12, y + 560), RED))
    inner = COL - 96
    for size in (220, 190, 160, 130, 110, 90, 76):
        uw = infographic._advance(72, True, unit) + 16 if unit else 0
        if infographic._advance(size, True, value) + uw <= inner:
            break
    base = y + 60 + size
    if with_value:
        if infographic._advance(size, True, value) + uw <= inner:
            ops.append(TextOp("key_figures", value, size, True, (SAFE_X + 56, base), RED, "ls"))
            if unit:
                ux = SAFE_X + 56 + infographic._advance(size, True, value) + 16
                ops.append(TextOp("key_figures", unit, 72, True, (round(ux), base), RED, "ls"))
        else:  # a value no size fits on one line (rare: values are numbers)
            infographic._block(ops, "key_figures", value + unit, 76, True, SAFE_X + 56, y + 60, inner, RED, 1.2)
    infographic._block(ops, "key_figures", label, 52, False, SAFE_X + 56, base + 70, inner, INK, 1.4,
                       mode="balance")
    return ops, [f"{value}{unit}", label]


def _point_card(index: int, total: int, heading: str, body: str) -> tuple[list, list[str]]:
    ops: list = []
    _frame(ops, f"发布要点　{index}/{total}")
    y = SAFE_TOP + 190
    texts = []
    if heading:
        y = _column(ops, "sections", heading, 60, True, y, RED, 1.35, mode="balance") + 28
        texts.append(heading)
    y = _column(ops, "sections", body, 50, False, y, INK, 1.6)
    texts.append(body)
    return ops, texts


def _end_card(release: Release, ctx: RenderContext) -> tuple[list, list[str]]:
    ops: list = []
    _frame(ops, "扫码阅读全文")
    url = ctx.url_for(release.id)
    matrix = infographic._qr_matrix(url)
    border, scale = 4, max(6, 440 // (len(matrix) + 8))
    side = (len(matrix) + 2 * border) * scale
    qop = QrOp(matrix, ((W - side) // 2, SAFE_TOP + 170), scale, border)
    ops.append(RectOp((SAFE_X, SAFE_TOP + 140, W - SAFE_X, SAFE_TOP + 200 + side), TINT, radius=24))
    ops.append(qop)
    y = SAFE_TOP + 240 + side
    portal = ctx.settings.outlet("portal")
    sites = [text(str(s)) for s in portal["sites"]][:1]
    texts = []
    if sites:
        where = f"{sites[0]}“{text(portal['column'])}”栏目"
        y = _column(ops, "settings", where, 40, True, y, INK, align="center", mode="balance")
        texts.append(where)
    y = _column(ops, "settings", url, 30, False, y + 8, GREY, 1.35, align="center")
    texts.append(url)
    y += 16
    office = text(ctx.settings.city.press_office)
    for line in (f"来源：{text(release.department.name)}", office):  # one line each: never a name cut in two
        if line:
            y = _column(ops, "department", line, 34, False, y, GREY, align="center", mode="balance")
            texts.append(line)
    return ops, texts


def points(release: Release) -> list[tuple[str, str]]:
    """Two to four (heading, text): the editor's ``video_points``, else the infographic's points."""
    if release.video_points:
        return [("", text(p)) for p in release.video_points[: POINTS[1]]]
    items = infographic.points(release)
    if len(items) < POINTS[0] and release.lead.strip() and all(h for h, _ in items):
        items.append(("", infographic._summary(release.lead)))
    return items[: POINTS[1]]


def cards(release: Release, ctx: RenderContext) -> tuple[list[Card], dict[str, Layout]]:
    """Every card of the video, in order, with the layout of each still."""
    out: list[Card] = []
    layouts: dict[str, Layout] = {}

    def add(name: str, kind: str, ops_texts, seconds: float, reveal: str = "") -> None:
        ops, texts = ops_texts
        layouts[name] = Layout(SIZE, ops)
        out.append(Card(name, kind, tuple(texts), seconds, reveal))

    add("cards/01-title.png", "title", _title_card(release, ctx), TITLE_SECONDS)
    figs = release.key_figures[: infographic.MAX_FIGURES]
    for i, fig in enumerate(figs, 1):
        n = len(out) + 1
        layouts[f"cards/{n:02d}-figure-{i}a.png"] = Layout(SIZE, _figure_ops(fig, i, len(figs), False)[0])
        add(f"cards/{n:02d}-figure-{i}b.png", "figure", _figure_ops(fig, i, len(figs), True), FIGURE_SECONDS,
            reveal=f"cards/{n:02d}-figure-{i}a.png")
    items = points(release)
    for i, (heading, body) in enumerate(items, 1):
        add(f"cards/{len(out) + 1:02d}-point-{i}.png", "point", _point_card(i, len(items), heading, body),
            POINT_SECONDS)
    add(f"cards/{len(out) + 1:02d}-end.png", "end", _end_card(release, ctx), END_SECONDS)
    return out, layouts


def _check_layouts(layouts: dict[str, Layout]) -> list[str]:
    """Every drawn character is in the font, and nothing that must be read leaves the safe area above
    the captions. Returns the warnings (points cut to fit)."""
    for layout in layouts.values():
        try:
            infographic.check_glyphs(layout)
        except RenditionError as e:
            raise RenditionError(NAME, e.field, e.message.replace("图解", "微视频"), e.fix) from None
        for op in layout.texts:
            x0, y0, x1, y1 = op.box
            slack = op.size // 2 + 4  # an opening mark at a line start is pulled left into the margin
            if y0 < SAFE_TOP or y1 > CONTENT_BOTTOM or x0 < SAFE_X - slack or x1 > W - SAFE_X + slack:
                raise RenditionError(NAME, op.field, f"微视频卡片放不下“{op.text}”（超出安全区域）",
                                     "请缩短该项文字（标题、关键数字说明或 video_points）")
    return []


# ---------------------------------------------------------------------------------------------
# Captions and the timeline


def narration(release: Release, ctx: RenderContext) -> list[str]:
    """The TV script's narration (口播导语 and 配音), without its dateline, as caption texts."""
    blocks, _warnings = tv.build_blocks(release, ctx)
    out = []
    for b in blocks:
        if b.kind in ("口播导语", "配音"):
            said = b.text.removeprefix(tv.DATELINE).strip()
            for clause in tv._CLAUSE.findall(said):
                out += caption_chunks(tv._TRAILING.sub("", clause))
    return [c for c in out if tv.spoken_chars(c)]


def caption_lines(chunk: str) -> list[str]:
    measure = partial(infographic._advance, CAPTION_SIZE, True)  # the infographic's cached widths, same font
    return [ln.rstrip(" ") for ln in break_lines(chunk, measure, COL - 2 * CAPTION_PAD)]


def caption_chunks(clause: str) -> list[str]:
    """A clause as captions of at most two lines each, shared out evenly; a cut never falls inside a number
    or between a number and its unit (24|小时 would read as two facts)."""
    lines = caption_lines(clause)
    parts = -(-len(lines) // CAPTION_LINES)
    out = []
    while parts > 1:
        cut = -(-len(clause) // parts)
        while 1 < cut < len(clause) - 1 and (_glued(clause[cut - 1]) or _glued(clause[cut - 1] + clause[cut])):
            cut -= 1
        out.append(clause[:cut])
        clause, parts = clause[cut:], parts - 1
    return out + [clause]


def _glued(s: str) -> bool:
    """Characters a caption is never cut after: a digit, a Latin letter, a decimal point or sign (the
    number goes on with its unit)."""
    return s[-1].isascii() and (s[-1].isalnum() or s[-1] in ".%+-·") or s[-1] in "〔（《“"


def _captions(release: Release, ctx: RenderContext, cps: float) -> list[Caption]:
    out = []
    for chunk in narration(release, ctx):
        lines = caption_lines(chunk)
        missing = infographic.missing_glyphs(load_cjk_font(CAPTION_SIZE, True), chunk)
        if missing:
            raise RenditionError(NAME, "lead", f"字幕“{chunk}”中的 {'、'.join(sorted(missing))} 无法用字体显示",
                                 "请删除或换掉这些字符")
        if len(lines) > CAPTION_LINES:
            raise RenditionError(NAME, "lead", f"字幕“{chunk}”超过{CAPTION_LINES}行，放不进字幕区",
                                 "请在该句中加逗号断开")
        secs = max(CAPTION_MIN_SECONDS, tv.spoken_chars(chunk) / cps)
        out.append(Caption(chunk, tuple(lines), 0.0, secs))  # (start, end) hold (0, its length) here
    return out


def timeline(items: list[Card], caps: list[Caption], lo: float, hi: float) -> tuple[list, list[Caption], float, list[str]]:
    """(card, start, end) and the captions placed in time; the total duration and warnings. The end card
    keeps its length; the others share the rest, as long as the captions need (within ``lo``–``hi``)."""
    warnings = []
    body = sum(c.seconds for c in items[:-1])
    end = items[-1].seconds
    said = sum(c.end for c in caps)
    total = min(hi, max(lo, body + end, said + end + 0.5))
    room = total - end - 0.3
    kept, used = [], 0.0
    for c in caps:
        if used + c.end > room:
            break
        kept.append(c)
        used += c.end
    if len(kept) < len(caps):
        warnings.append(f"微视频不超过{hi:g}秒，字幕只含解说词的前{len(kept)}句（共{len(caps)}句）")
    stretch = min(1.6, room / used) if used else 1.0
    placed, pos = [], 0.3
    for c in kept:
        length = c.end * stretch
        placed.append(Caption(c.text, c.lines, round(pos, 3), round(pos + length, 3)))
        pos += length
    scale = (total - end) / body
    shown, t = [], 0.0
    for c in items[:-1]:
        shown.append((c, round(t, 3), round(t + c.seconds * scale, 3)))
        t += c.seconds * scale
    shown.append((items[-1], round(total - end, 3), round(total, 3)))
    return shown, placed, round(total, 3), warnings


def segments(shown: list, caps: list[Caption]) -> list[dict]:
    """The stills in order: (card still, caption index or None, start, end), one per stretch of time in
    which neither the card nor the caption changes."""
    cuts = {0.0}
    for c, a, z in shown:
        cuts |= {a, z}
        if c.reveal:
            cuts.add(round(a + FIGURE_REVEAL, 3))
    for c in caps:
        cuts |= {c.start, c.end}
    total = shown[-1][2]
    times = sorted(t for t in cuts if t <= total)
    out = []
    for a, z in zip(times, times[1:]):
        mid = (a + z) / 2
        card, ca, _cz = next((c, ca, cz) for c, ca, cz in shown if ca <= mid < cz)
        still = card.reveal if card.reveal and mid < ca + FIGURE_REVEAL else card.file
        cap = next((i for i, c in enumerate(caps) if c.start <= mid < c.end), None)
        if out and out[-1]["still"] == still and out[-1]["caption"] == cap:
            out[-1]["end"] = z
        else:
            out.append({"still": still, "caption": cap, "start": a, "end": z})
    return out


def srt(caps: list[Caption]) -> str:
    return "".join(f"{i}\n{tv.srt_time(c.start)} --> {tv.srt_time(c.end)}\n{c.text}\n\n" for i, c in enumerate(caps, 1))


def vtt(caps: list[Caption]) -> str:
    def t(s: float) -> str:
        return tv.srt_time(s).replace(",", ".")
    return "WEBVTT\n\n" + "".join(f"{i}\n{t(c.start)} --> {t(c.end)}\n{c.text}\n\n" for i, c in enumerate(caps, 1))


def caption_boxes(cap: Caption) -> list[tuple[str, tuple[int, int], tuple[int, int, int, int]]]:
    """Where each caption line is drawn: (line, its x/y, its ink box) — centred, bottom line on the caption
    zone's bottom, all inside the safe area."""
    font = load_cjk_font(CAPTION_SIZE, True)
    out = []
    y = CAPTION_ZONE[3] - CAPTION_PAD - len(cap.lines) * CAPTION_STEP
    for ln in cap.lines:
        x = round((W - font.getlength(ln)) / 2)
        x0, y0, x1, y1 = font.getbbox(ln, anchor="la")
        out.append((ln, (x, y), (x + x0, y + y0, x + x1, y + y1)))
        y += CAPTION_STEP
    return out


# ---------------------------------------------------------------------------------------------
# The rendition


def plan(release: Release, ctx: RenderContext) -> tuple[dict, dict[str, Layout], list[Caption], list[str]]:
    lo, hi, fps, cps = _settings(ctx)
    items, layouts = cards(release, ctx)
    warnings = _check_layouts(layouts)
    shown, caps, total, more = timeline(items, _captions(release, ctx, cps), lo, hi)
    doc = {
        "size": list(SIZE), "fps": fps, "duration": total,
        "safe_area": {"top": SAFE_TOP, "bottom": SAFE_BOTTOM, "x": SAFE_X},
        "cards": [{"file": c.file, "kind": c.kind, "texts": list(c.texts), "start": a, "end": z,
                   **({"reveal": c.reveal} if c.reveal else {})} for c, a, z in shown],
        "captions": [{"text": c.text, "start": c.start, "end": c.end} for c in caps],  # lines: caption_lines
        "segments": segments(shown, caps),
    }
    return doc, layouts, caps, warnings + more


def op_json(op) -> dict:
    if isinstance(op, TextOp):
        return {"text": op.text, "field": op.field, "size": op.size, "bold": op.bold, "xy": list(op.xy),
                "fill": list(op.fill), "anchor": op.anchor}
    if isinstance(op, RectOp):
        return {"rect": list(op.box), "fill": list(op.fill), "radius": op.radius}
    return {"qr": [row.hex() for row in op.matrix], "xy": list(op.xy), "scale": op.scale, "border": op.border}


def op_from(d: dict):
    if "text" in d:
        return TextOp(d["field"], d["text"], d["size"], d["bold"], tuple(d["xy"]), tuple(d["fill"]), d["anchor"])
    if "rect" in d:
        return RectOp(tuple(d["rect"]), tuple(d["fill"]), d["radius"])
    return QrOp(tuple(bytes.fromhex(r) for r in d["qr"]), tuple(d["xy"]), d["scale"], d["border"])


def render(release: Release, ctx: RenderContext) -> Rendition:
    """The plan of the video (cards as drawing instructions, captions, timeline), its subtitles and WebVTT
    track: cheap to make, so validation checks it; the pictures are drawn at delivery (``finish``)."""
    doc, layouts, caps, warnings = plan(release, ctx)
    stills = {name: [op_json(op) for op in layout.ops] for name, layout in sorted(layouts.items())}
    names = video_files(release.id)
    files = {names.plan: dump_json(doc), names.stills: dump_json(stills),
             names.srt: srt(caps).encode("utf-8"), names.vtt: vtt(caps).encode("utf-8")}
    return Rendition(channel=NAME, release_id=release.id, version=release.version, title=release.title,
                     files=files, warnings=tuple(warnings), url=ctx.url_for(release.id))


def card_pngs(rendition: Rendition) -> dict[str, bytes]:
    """Every card still as PNG, painted from the plan with the infographic's painter (deterministic: the
    same plan gives the same bytes)."""
    import json

    stills = json.loads(rendition.files[video_files(rendition.release_id).stills])
    return {name: infographic.paint(Layout(SIZE, [op_from(d) for d in ops])) for name, ops in stills.items()}


def card_images(rendition: Rendition) -> dict[str, PILImage.Image]:
    """Every card still drawn (``card_pngs`` without the PNG: what the stills are made of)."""
    import json

    stills = json.loads(rendition.files[video_files(rendition.release_id).stills])
    return {name: infographic.draw(Layout(SIZE, [op_from(d) for d in ops])) for name, ops in stills.items()}


def poster(release: Release, ctx: RenderContext) -> bytes:
    """The poster frame (the title card as JPEG), the same bytes ``finish`` delivers as ``poster.jpg``."""
    return poster_jpeg(infographic.paint(Layout(SIZE, _title_card(release, ctx)[0])))


def poster_jpeg(card_png: bytes) -> bytes:
    with PILImage.open(io.BytesIO(card_png)) as im:
        return jpeg(im.convert("RGB"))


def jpeg(card: PILImage.Image) -> bytes:
    buf = io.BytesIO()
    card.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def view(rendition: Rendition, settings) -> View | None:
    """For approvers: every card as it will be drawn (small), with its time, and the captions with theirs."""
    names = video_files(rendition.release_id)
    if names.plan not in rendition.files:
        return None
    import base64

    doc = _plan(rendition)
    drawn = card_images(rendition)  # the pixels of card_pngs, without encoding PNGs only to decode them
    cards = []
    for c in doc["cards"]:
        small = drawn[c["file"]].resize((320, 569))
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=80)
        cards.append({"src": "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode(),
                      "kind": c["kind"], "start": f"{c['start']:.1f}", "end": f"{c['end']:.1f}"})
    caps = [{"text": c["text"], "start": f"{c['start']:.1f}", "end": f"{c['end']:.1f}"} for c in doc["captions"]]
    html = render_template("video/view.html", title=text(rendition.title), size=f"{W}×{H}", fps=doc["fps"],
                           duration=f"{doc['duration']:.1f}", cards=cards, captions=caps)
    return View(pages={"video-cards.html": html})


def correct(release: Release, ctx: RenderContext, base: Rendition, c: Correction, earlier: list[Correction],
            old: str | None) -> Rendition:
    """The corrected video replaces the old one (re-rendered from the new version; the page around it
    carries the 更正说明)."""
    return base


def withdraw(release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    """Taken down with the page: the folder keeps only a notice (the outbox removes the earlier files)."""
    note = f"《{w.title}》的微视频已随稿件撤下。\n{w.notice}\n"
    return withdrawal(NAME, release_id, w, {"withdrawn.txt": note.encode("utf-8")})


# ---------------------------------------------------------------------------------------------
# Encoding (at delivery, not in validation)


def _still(card: PILImage.Image, cap: dict | None) -> PILImage.Image:
    img = card.copy()
    if cap is None:
        return img
    c = Caption(cap["text"], tuple(caption_lines(cap["text"])))
    boxes = caption_boxes(c)
    x0 = min(b[2][0] for b in boxes) - CAPTION_PAD
    x1 = max(b[2][2] for b in boxes) + CAPTION_PAD
    y0, y1 = boxes[0][2][1] - CAPTION_PAD, boxes[-1][2][3] + CAPTION_PAD
    region = img.crop((x0, y0, x1, y1)).convert("RGBA")
    shade = PILImage.new("RGBA", region.size, (0, 0, 0, 0))
    ImageDraw.Draw(shade).rounded_rectangle((0, 0, region.size[0] - 1, region.size[1] - 1), radius=18,
                                            fill=(20, 20, 20, 190))
    region = PILImage.alpha_composite(region, shade)
    d = ImageDraw.Draw(region)
    font = load_cjk_font(CAPTION_SIZE, True)
    for ln, (x, y), _box in boxes:
        d.text((x - x0, y - y0), ln, font=font, fill=WHITE)
    img.paste(region.convert("RGB"), (x0, y0))
    return img


def frame_span(start: float, end: float, fps: int) -> int:
    """How many frames a stretch of the timeline shows: frame k (at k/fps s) shows the stretch its time
    falls in, a time on a half frame going to the later frame (times are whole milliseconds)."""
    def first(t: float) -> int:
        return (round(t * 1000) * fps * 2 + 1000) // 2000
    return first(end) - first(start)


def stills(rendition: Rendition, cards: dict[str, PILImage.Image]) -> Iterator[tuple[PILImage.Image, int]]:
    """Each still of the video (card with its caption burned in) and for how many frames it shows, one
    after the other; a stretch too short for a frame has no still."""
    doc = _plan(rendition)
    caps = doc["captions"]
    for s in doc["segments"]:
        frames = frame_span(s["start"], s["end"], doc["fps"])
        if frames >= 1:
            yield _still(cards[s["still"]], caps[s["caption"]] if s["caption"] is not None else None), frames


def _plan(rendition: Rendition) -> dict:
    import json

    return json.loads(rendition.files[video_files(rendition.release_id).plan])


# Each still is encoded once, as an IDR picture, and held for its frames by skipped pictures (channels.h264).
# x264 only ever sees new pictures, so a lower rate factor than a moving picture's costs little: text stays as
# sharp as the card (docs/outlets.md#micro-video).
STILL_CRF = 4
_QUIET = ["-y", "-hide_banner", "-nostdin", "-loglevel", "error"]


def stills_command(exe: str, fps: int, out: str) -> list[str]:
    """The stills (raw RGB on standard input, one frame each) as H.264 IDR pictures, an Annex B stream."""
    return [exe, "-y", "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
            "-framerate", str(fps), "-i", "-", "-vf", "format=yuv420p", "-c:v", "libx264", "-preset", "superfast",
            "-crf", str(STILL_CRF), "-g", str(fps * 60), "-force_key_frames", "expr:1", "-forced-idr", "1",
            # what channels.h264 needs to write the held pictures: one slice a picture, CAVLC, no weighting
            "-x264-params", "cabac=0:slices=1:ref=1:bframes=0:weightp=0:scenecut=0:rc-lookahead=0:sync-lookahead=0",
            "-f", "h264", out]


def audio_command(exe: str, doc: dict, out: str) -> list[str]:
    return [exe, *_QUIET, "-f", "lavfi", "-i", "anullsrc=channel_layout=stereo:sample_rate=44100",
            "-t", f"{doc['duration']:.3f}", "-c:a", "aac", "-b:a", "64k", out]


def mux_command(exe: str, video: str, audio: str, out: str, doc: dict) -> list[str]:
    return [exe, *_QUIET, "-framerate", str(doc["fps"]), "-f", "h264", "-i", video, "-i", audio,
            "-map", "0:v", "-map", "1:a", "-c", "copy", "-t", f"{doc['duration']:.3f}", "-movflags", "+faststart", out]


def _failed(what: str, code: int, log) -> EncodeError:
    log.seek(0)
    return EncodeError(f"微视频{what}失败（ffmpeg 退出码 {code}）：{log.read().strip()[-400:]}")


def _feed(pipe, frames: Iterable[tuple[PILImage.Image, int]], counts: list[int], errors: list) -> None:
    """Write each still to x264's standard input as raw RGB (in a thread: the write waits for x264)."""
    try:
        for img, n in frames:
            pipe.write(img.tobytes())
            counts.append(n)
    except BrokenPipeError:  # x264 stopped: its log says why
        pass
    except Exception as e:  # drawing a still failed: raised in the caller
        errors.append(e)
    finally:
        try:
            pipe.close()
        except BrokenPipeError:
            pass


def _encode_stills(exe: str, frames: Iterable[tuple[PILImage.Image, int]], doc: dict, tmp: str,
                   meanwhile: Callable[[], None]) -> list[int]:
    """The stills through x264 (raw frames on a pipe, drawn while x264 encodes the one before) and the
    silent AAC track beside it, ``meanwhile`` run as they encode; returns each still's frame count."""
    counts: list[int] = []
    errors: list[Exception] = []
    with open(os.path.join(tmp, "x264.log"), "w+") as vlog, open(os.path.join(tmp, "aac.log"), "w+") as alog:
        aac = subprocess.Popen(audio_command(exe, doc, os.path.join(tmp, "audio.m4a")), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=alog)
        x264 = subprocess.Popen(stills_command(exe, doc["fps"], os.path.join(tmp, "stills.h264")),
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=vlog)
        feeder = threading.Thread(target=_feed, args=(x264.stdin, frames, counts, errors), daemon=True)
        feeder.start()
        try:
            meanwhile()
            feeder.join()
            if errors:
                raise errors[0]
            codes = x264.wait(), aac.wait()
        finally:
            for proc in (x264, aac):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            feeder.join()
        if codes[0]:
            raise _failed("编码", codes[0], vlog)
        if codes[1]:
            raise _failed("音轨编码", codes[1], alog)
    return counts


def encode(exe: str, frames: Iterable[tuple[PILImage.Image, int]], doc: dict, tmp: str,
           meanwhile: Callable[[], None] = lambda: None) -> bytes:
    """The MP4 of the stills (each with its frame count, as ``stills`` gives them), made in ``tmp``: each
    still encoded once, held for its frames, muxed with the silent track at the constant frame rate.
    ``meanwhile`` runs while the encoders do."""
    counts = _encode_stills(exe, frames, doc, tmp, meanwhile)
    with open(os.path.join(tmp, "stills.h264"), "rb") as f:
        try:
            held = h264.hold(f.read(), counts)
        except ValueError as e:
            raise EncodeError(f"微视频编码失败：ffmpeg 输出的 H.264 码流无法续帧（{e}）") from None
    video, out = os.path.join(tmp, "held.h264"), os.path.join(tmp, "video.mp4")
    with open(video, "wb") as f:
        f.write(held)
    run = subprocess.run(mux_command(exe, video, os.path.join(tmp, "audio.m4a"), out, doc), capture_output=True,
                         text=True)
    if run.returncode != 0 or not os.path.isfile(out):
        raise EncodeError(f"微视频封装失败（ffmpeg 退出码 {run.returncode}）：{run.stderr.strip()[-400:]}")
    with open(out, "rb") as f:
        return f.read()


# What the editor is told to do about a missing or unusable encoder (the encoding and ``doctor`` say it).
FFMPEG_FIX = ("请运行 bash scripts/system-deps.sh 安装 Debian 的 ffmpeg 软件包，"
              "或在 pressroom.toml 的 [outlets.video] ffmpeg 中写明其路径")


def finish(rendition: Rendition, settings) -> Rendition:
    """The pictures made from the plan, delivered with it (``Rendition.derived``): the card PNGs, the
    poster (the title card as JPEG) and the MP4. Raises EncodeError (ffmpeg missing or failing)."""
    names = video_files(rendition.release_id)
    if names.plan not in rendition.files:  # a withdrawal notice: nothing to encode
        return rendition
    exe = settings.outlet(NAME)["ffmpeg"]
    found = shutil.which(exe)
    if not found:
        raise EncodeError(f"微视频无法生成：找不到 ffmpeg（{exe}）。{FFMPEG_FIX}；其他渠道不受影响")
    doc = _plan(rendition)
    cards = card_images(rendition)
    derived: dict[str, bytes] = {}

    def card_files() -> None:  # made while x264 encodes the stills (the same bytes as card_pngs)
        derived.update({name: infographic.png(img) for name, img in cards.items()})
        derived[names.poster] = jpeg(cards[doc["cards"][0]["file"]])

    with tempfile.TemporaryDirectory(prefix="pressroom-video-") as tmp:
        mp4 = encode(found, stills(rendition, cards), doc, tmp, card_files)
    return replace(rendition, derived={**derived, names.mp4: mp4})


# ---------------------------------------------------------------------------------------------
# Health check (``pressroom doctor`` and the pre-flight check): the encoding is the last step of a
# delivery, so a missing or unusable ffmpeg is found before a release, not after every other channel.

ENCODERS = ("libx264", "aac")  # what ``stills_command`` and ``audio_command`` encode with
DOCTOR_SECONDS = 5  # the whole check, as each outlet's check in ``pressroom doctor``


def _run(argv: list[str], deadline: float) -> tuple[bool, str]:
    """(ran and exited 0, its output or why not) of a short program run, stopped at ``deadline``."""
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False, f"{DOCTOR_SECONDS} 秒内没有结束"
    except OSError as e:  # not executable, wrong format, vanished
        return False, f"无法执行（{e.strerror or type(e).__name__}）"
    if run.returncode != 0:
        return False, f"退出码 {run.returncode}：{(run.stderr or run.stdout).strip()[-200:]}"
    return True, run.stdout


def _encoders(listing: str) -> set[str]:
    """Encoder names of ``ffmpeg -hide_banner -encoders``: lines "<6 flags> <name> <description>" after
    the " ------" rule."""
    lines = listing.splitlines()
    start = next((i + 1 for i, ln in enumerate(lines) if ln.strip().startswith("---")), len(lines))
    return {ln.split()[1] for ln in lines[start:] if len(ln.split()) >= 2}


def doctor(settings) -> list[tuple[str, bool, str]]:
    """ffmpeg (``[outlets.video] ffmpeg``) exists, runs and has the H.264 and AAC encoders; ffprobe is
    installed beside it. Rows of (检查, passed, 说明)."""
    exe = settings.outlet(NAME)["ffmpeg"]
    found = shutil.which(exe)
    if not found:
        return [("ffmpeg", False, f"找不到 ffmpeg（[outlets.video] ffmpeg = {exe}）。{FFMPEG_FIX}")]
    deadline = time.monotonic() + DOCTOR_SECONDS
    ran, out = _run([found, "-hide_banner", "-encoders"], deadline)
    if not ran:
        return [("ffmpeg", False, f"ffmpeg（{found}）无法运行：{out}。{FFMPEG_FIX}")]
    rows = [("ffmpeg", True, f"{found} 可运行")]
    missing = [e for e in ENCODERS if e not in _encoders(out)]
    rows.append(("ffmpeg 编码器 libx264、aac", not missing,
                 f"ffmpeg（{found}）缺少编码器 {'、'.join(missing)}，无法生成微视频。{FFMPEG_FIX}" if missing
                 else "H.264（libx264）与 AAC 编码器可用"))
    beside = os.path.join(os.path.dirname(found), "ffprobe")
    probe = beside if os.access(beside, os.X_OK) else shutil.which("ffprobe")
    ok = bool(probe) and _run([probe, "-version"], deadline)[0]
    rows.append(("ffprobe", ok, f"{probe} 可运行" if ok else
                 f"找不到可运行的 ffprobe（ffmpeg 软件包自带，应在 {found} 旁）。{FFMPEG_FIX}"))
    return rows
