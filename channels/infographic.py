"""图解: a phone-portrait poster of the release (``infographic.png``, with its 360 px wide thumbnail
``infographic-thumb.jpg`` for the press hall's gallery) and the WeChat cover (``cover.png``).

Drawn with Pillow in Noto Sans CJK SC (``pressroom.text.linebreak``), in two steps: a *layout* (pure geometry:
every text line, block and the QR code with its box) and *painting* it. Tests inspect the layout, so "no
text outside the canvas" is checked on the same boxes that are drawn. Before painting, every character is
checked against the font: a character the font lacks (an emoji, a rare character) would print as a box, so
it fails the render naming the field instead. Each picture's words (``words``: its drawn strings, a line per
block) are delivered beside it, ``infographic.txt`` and ``cover.txt``: its alt text, and what the fidelity
audit reads back (no OCR).

The poster is 1080 px wide (a phone at 3x) and as tall as its content, up to ``MAX_POSTER_HEIGHT``. The
cover is WeChat's 2.35:1 900×383; its title sits inside the centred 383×383 square, so the 1:1 crop
(``SQUARE_CROP``, the ``pic_crop_1_1`` of ``draft/add``) reads on its own.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache, partial

import segno
from PIL import Image as PILImage
from PIL import ImageDraw

from pressroom.errors import RenditionError
from pressroom.text.linebreak import break_lines, load_cjk_font, missing_glyphs
from pressroom.model import Release

from channels import markup
from channels.markup import plain as text
from channels.base import Channel, RenderContext, Rendition, display_date
from channels.corrections import Correction, Withdrawal, manual_withdrawal

CHANNEL = Channel(name="infographic", label="图解", short="图解", outbox="assets/{release}",
                  preview="infographic-thumb.jpg", carries="summary")
NAME = CHANNEL.name

# --- Geometry ---------------------------------------------------------------------------------
POSTER_WIDTH = 1080
MAX_POSTER_HEIGHT = 3600  # 1:3.3, still one long-image screenful-by-screenful read on a phone
MARGIN = 72
COVER_SIZE = (900, 383)  # WeChat 2.35:1 cover (draft/add pic_crop_235_1)
# The centred square of the cover, as WeChat's "X1_Y1_X2_Y2" crop in 0..1 cover coordinates:
# x from (900 - 383) / 2 = 258.5 px to 641.5 px, i.e. 0.2872 .. 0.7128, full height.
SQUARE_CROP = "0.2872_0_0.7128_1"
WIDE_CROP = "0_0_1_1"
SQUARE_BOX = (258.5, 0.0, 641.5, 383.0)
SQ_X0, SQ_X1 = 259, 641  # the whole pixels inside it

MAX_FIGURES = 6  # a grid of more numbers stops being read
MAX_POINTS = 4
POINT_CHARS = 110  # a point longer than this is cut at a clause boundary

# --- Colours: restrained government red on white ------------------------------------------------
RED = (176, 24, 30)
DEEP_RED = (138, 14, 20)
GOLD = (236, 196, 120)
INK = (33, 33, 33)
GREY = (96, 96, 96)
LIGHT_GREY = (150, 150, 150)
TINT = (250, 242, 240)
RULE = (232, 216, 212)
WHITE = (255, 255, 255)

# Release fields as editors know them, for error messages.
FIELD_ZH = {
    "title": "标题", "kicker": "引题", "subtitle": "副题", "wechat_title": "微信标题",
    "department": "发布部门", "key_figures": "关键数字", "sections": "正文要点", "lead": "导语",
    "kind": "稿件类型", "settings": "设置（pressroom.toml）",
}


# ---------------------------------------------------------------------------------------------
# Layout: what goes where


@dataclass(frozen=True)
class TextOp:
    field: str  # the release field the text comes from (named in errors)
    text: str
    size: int
    bold: bool
    xy: tuple[float, float]
    fill: tuple[int, int, int]
    anchor: str = "la"  # left/ascender; "ls" for baseline-aligned numbers

    @property
    def font(self):
        return load_cjk_font(self.size, self.bold)

    @property
    def box(self) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.font.getbbox(self.text, anchor=self.anchor)
        return (self.xy[0] + x0, self.xy[1] + y0, self.xy[0] + x1, self.xy[1] + y1)


@dataclass(frozen=True)
class RectOp:
    box: tuple[float, float, float, float]
    fill: tuple[int, int, int]
    radius: int = 0


@dataclass(frozen=True)
class QrOp:
    matrix: tuple[bytes, ...]  # segno's modules, 1 = dark
    xy: tuple[int, int]
    scale: int
    border: int = 4  # quiet zone, in modules

    @property
    def box(self) -> tuple[int, int, int, int]:
        side = (len(self.matrix) + 2 * self.border) * self.scale
        return (self.xy[0], self.xy[1], self.xy[0] + side, self.xy[1] + side)


@dataclass(frozen=True)
class PictureOp:
    image: PILImage.Image = field(compare=False)
    xy: tuple[int, int] = (0, 0)
    # What the pixels are made from (a digest of the source picture), so that two layouts with the same one
    # paint the same picture; "" (unknown) keeps a layout with it from ever being reused.
    source: str = ""


@dataclass
class Layout:
    size: tuple[int, int]
    ops: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def texts(self) -> list[TextOp]:
        return [op for op in self.ops if isinstance(op, TextOp)]


def _font(size: int, bold: bool = False):
    return load_cjk_font(size, bold)


# Layouts measure the same strings many times (line breaking tries every break; 图解, 微博 and H5 lay out
# the same poster). Shaping is by raqm, so a string's width is not the sum of its characters': cache whole
# strings.
@lru_cache(maxsize=1 << 16)
def _advance(size: int, bold: bool, s: str) -> float:
    return _font(size, bold).getlength(s)


@lru_cache(maxsize=1 << 12)
def _ink(size: int, bold: bool, line: str) -> tuple[float, tuple[int, int, int, int] | None]:
    """The line's left bearing as laid out and the box of its ink."""
    font = _font(size, bold)
    return font.getbbox(line, anchor="la")[0], font.getmask(line).getbbox()


def _lines(value: str, size: int, bold: bool, width: float, mode: str = "plain") -> list[str]:
    """Wrapped lines. ``plain`` fills each line (running text); ``balance`` evens the lines out when the last
    one would be short (no lone character under a label), keeping the line count; ``headline`` first tries
    breaking only after clauses (，、：；), as headline setters do, when that costs no extra line."""
    measure = partial(_advance, size, bold)

    def wrap(v: str, w: float) -> list[str]:
        return [ln.rstrip(" ") for ln in break_lines(v, measure, w)]

    lines = wrap(value, width)
    if mode == "plain" or len(lines) < 2 or "\n" in value:
        return lines
    short_last = measure(lines[-1]) < 0.4 * width
    if mode == "headline":
        clauses = [c for c in _CLAUSE.findall(value) if c]
        if len(clauses) > 1:
            packed: list[str] = []
            for c in clauses:
                if packed and measure(packed[-1] + c) <= width:
                    packed[-1] += c
                else:
                    packed.extend(wrap(c, width))
            if len(packed) <= len(lines):
                return packed
    if not short_last:
        return lines
    lo, hi = width / 2, width  # the narrowest measure that still needs no more lines
    for _ in range(10):
        mid = (lo + hi) / 2
        if len(wrap(value, mid)) <= len(lines):
            hi = mid
        else:
            lo = mid
    return wrap(value, hi)


_CLAUSE = re.compile(r"[^，、：；！？]*[，、：；！？]+[”’」』）》]*|[^，、：；！？]+$")
# Full-width opening marks carry half an em of blank before the ink; at a line start that reads as an indent,
# so the line is pulled left by it (行首标点挤压).
_OPENING = set("（《“‘「『【〔〖〈［｛")


def _centred(line: str, size: int, bold: bool, x: float, width: float) -> float:
    """x that centres the line's ink (not its advance: a leading “ or （ would look pushed right)."""
    left, ink = _ink(size, bold, line)  # getbbox spans advances; the mask's box is the ink
    if not ink:
        return x + (width - _advance(size, bold, line)) / 2
    x0, x1 = left + ink[0], left + ink[2]
    return x + (width - (x1 - x0)) / 2 - x0


def _block(ops: list, fld: str, value: str, size: int, bold: bool, x: float, y: float, width: float,
           fill, leading: float = 1.5, align: str = "left", mode: str = "plain") -> float:
    """Wrapped text from (x, y); returns the y below it."""
    step = round(size * leading)
    for ln in _lines(value, size, bold, width, mode):
        if ln:
            lx = x
            if align == "center":
                lx = _centred(ln, size, bold, x, width)
            elif ln[0] in _OPENING:
                lx = x - size // 2
            ops.append(TextOp(fld, ln, size, bold, (round(lx), round(y)), fill))
        y += step
    return y


# ---------------------------------------------------------------------------------------------
# Content: the main points


_SENTENCE = re.compile(r"[^。！？]*[。！？]+[”’」』）]*|[^。！？]+$")


_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$")


def _drop_tables(md: str) -> str:
    """Markdown without its pipe tables: a table's cells run together make no sentence."""
    lines = md.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and "|" in lines[i] and _TABLE_RULE.match(lines[i + 1]):
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def _summary(md: str) -> str:
    """The first sentence or two of a section, as one line of plain text (tables left out)."""
    sentences = _SENTENCE.findall("".join(markup.paragraphs(_drop_tables(md))))
    out = ""
    for s in sentences:
        if out and (len(out) >= 36 or len(out) + len(s) > POINT_CHARS):
            break
        out += s
    if len(out) > POINT_CHARS:  # one very long sentence: stop at the last clause that fits
        cut = max(out.rfind(c, 0, POINT_CHARS) for c in "，；：")
        out = (out[:cut] if cut > 20 else out[:POINT_CHARS]) + "……"
    return out.strip()


def points(release: Release) -> list[tuple[str, str]]:
    """(heading, summary) of the sections worth a point: not the 不涉及 ones, not empty ones."""
    out = []
    for sec in release.sections:
        if sec.not_applicable:
            continue
        summary = _summary(sec.body)
        if summary:
            out.append((text(sec.heading), summary))
    if not out and release.lead.strip():
        out.append(("", _summary(release.lead)))
    return out


# ---------------------------------------------------------------------------------------------
# The poster


def _check_figures(release: Release) -> None:
    if len(release.key_figures) > MAX_FIGURES:
        raise RenditionError(NAME, "key_figures",
                             f"关键数字共 {len(release.key_figures)} 项，图解最多展示 {MAX_FIGURES} 项",
                             f"请在前置信息 key_figures 中保留最重要的 {MAX_FIGURES} 项以内")


def _header(ops: list, release: Release, ctx: RenderContext, width: int) -> float:
    office = text(ctx.settings.city.press_office)
    ops.append(RectOp((0, 0, width, 250), RED))
    ops.append(RectOp((0, 250, width, 258), GOLD))
    if office:
        ops.append(TextOp("settings", office, 30, False, (MARGIN, 52), WHITE))
    ops.append(TextOp("settings", "权威发布", 84, True, (MARGIN, 100), WHITE))
    # Kind label as a pill at the right, level with "权威发布".
    label = release.kind_label
    w = _advance(32, True, label) + 48
    x1 = width - MARGIN
    ops.append(RectOp((x1 - w, 128, x1, 128 + 60), DEEP_RED, radius=30))
    ops.append(TextOp("kind", label, 32, True, (round(x1 - w + 24), 134), GOLD))
    return 258


def _title(ops: list, release: Release, ctx: RenderContext, y: float, width: int) -> float:
    col = width - 2 * MARGIN
    y += 64
    if release.kicker:
        y = _block(ops, "kicker", text(release.kicker), 34, False, MARGIN, y, col, RED, 1.45, mode="balance") + 8
    title = text(release.title)
    size = 64
    if len(_lines(title, size, True, col)) > 3:  # a long title: one step smaller, then as many lines as needed
        size = 54
    y = _block(ops, "title", title, size, True, MARGIN, y, col, INK, 1.38, mode="headline")
    if release.subtitle:
        y = _block(ops, "subtitle", text(release.subtitle), 36, False, MARGIN, y + 18, col, GREY, 1.45,
                   mode="headline")
    tz = ctx.settings.tz
    meta = f"{release.department.name}　{display_date(release.publish_at.astimezone(tz))}"
    y = _block(ops, "department", meta, 30, False, MARGIN, y + 22, col, LIGHT_GREY, 1.45)
    ops.append(RectOp((MARGIN, y + 24, width - MARGIN, y + 26), RULE))
    return y + 26


def _section_heading(ops: list, label: str, y: float) -> float:
    y += 56
    ops.append(RectOp((MARGIN, y + 8, MARGIN + 10, y + 50), RED))
    ops.append(TextOp("settings", label, 40, True, (MARGIN + 28, y), INK))
    return y + 60 + 24


def _figure_card(fig, x: float, y: float, w: float, hero: bool) -> tuple[float, list]:
    """One key figure: the value large, its unit beside it, the label under. Returns its height and ops."""
    pad = 32
    inner = w - 2 * pad
    value, unit, label = text(fig.value), text(fig.unit), text(fig.label)
    unit_size = 40 if hero else 34
    for size in ((120, 104, 88, 72, 60) if hero else (96, 84, 72, 60, 50, 42)):
        vw = _advance(size, True, value) + (_advance(unit_size, True, unit) + 10 if unit else 0)
        if vw <= inner:
            break
    card = []
    top = y + pad
    if vw <= inner:
        base = top + round(size * 1.0)
        card.append(TextOp("key_figures", value, size, True, (round(x + pad), base), RED, "ls"))
        if unit:
            ux = x + pad + _advance(size, True, value) + 10
            card.append(TextOp("key_figures", unit, unit_size, True, (round(ux), base), RED, "ls"))
        after = base + round(size * 0.22)
    else:  # a value too long for one line even small: wrap it (rare: values are numbers)
        after = _block(card, "key_figures", f"{value}{unit}", size, True, x + pad, top, inner, RED, 1.25)
    after = _block(card, "key_figures", label, 30, False, x + pad, after + 14, inner, GREY, 1.45, mode="balance")
    return after - y + pad - 10, card


def _figures(ops: list, release: Release, y: float, width: int) -> float:
    figs = list(release.key_figures)
    if not figs:
        return y
    y = _section_heading(ops, "关键数据", y)
    gap = 24
    col = width - 2 * MARGIN
    rows: list[list] = []
    if len(figs) % 2 == 1:
        rows.append([figs.pop(0)])  # an odd count: the first figure leads, full width
    rows += [figs[i:i + 2] for i in range(0, len(figs), 2)]
    for row in rows:
        w = col if len(row) == 1 else (col - gap) / 2
        cards = [(MARGIN + i * (w + gap), _figure_card(fig, MARGIN + i * (w + gap), y, w, len(row) == 1))
                 for i, fig in enumerate(row)]
        h = max(card[0] for _x, card in cards)
        for cx, (_h, card) in cards:  # cards of one row share the tallest height
            ops.append(RectOp((round(cx), round(y), round(cx + w), round(y + h)), TINT, radius=16))
            ops.append(RectOp((round(cx), round(y), round(cx + 8), round(y + h)), RED))
            ops.extend(card)
        y += h + gap
    return y - gap


def _points(ops: list, items: list[tuple[str, str]], y: float, width: int) -> float:
    if not items:
        return y
    y = _section_heading(ops, "发布要点", y)
    x = MARGIN + 36
    col = width - MARGIN - x
    for i, (heading, summary) in enumerate(items):
        if i:
            ops.append(RectOp((x, y + 6, width - MARGIN, y + 7), RULE))
            y += 30
        if heading:
            ops.append(RectOp((MARGIN + 2, y + 14, MARGIN + 18, y + 30), RED))
            y = _block(ops, "sections", heading, 36, True, x, y, col, RED, 1.4, mode="balance") + 6
        y = _block(ops, "sections", summary, 34, False, x, y, col, INK, 1.6)
    return y


@lru_cache(maxsize=256)
def _qr_matrix(url: str) -> tuple[bytes, ...]:
    """The QR code's modules (encoding picks the best of eight masks: slow, and the same URL each time)."""
    return tuple(bytes(row) for row in segno.make(url, error="m", micro=False).matrix)


def _footer(ops: list, release: Release, ctx: RenderContext, y: float, width: int) -> float:
    """A panel with the QR code to the portal page and what to do with it; under it the source line."""
    y += 56
    matrix = _qr_matrix(ctx.url_for(release.id))
    border = 4
    scale = max(4, 232 // (len(matrix) + 2 * border))
    pad = 36
    qx, qy = MARGIN + pad, round(y) + pad
    qop = QrOp(matrix, (qx, qy), scale, border)
    side = qop.box[2] - qop.box[0]
    tx = qx + side + 40
    tcol = width - MARGIN - pad - tx
    right: list = []
    ty = _block(right, "settings", "扫码阅读全文", 40, True, tx, qy + 28, tcol, INK, 1.4)
    portal = ctx.settings.outlet("portal")
    sites = list(portal["sites"])
    if sites:
        where = f"{text(str(sites[0]))}“{text(portal['column'])}”栏目"
        ty = _block(right, "settings", where, 28, False, tx, ty + 4, tcol, GREY, 1.5, mode="balance")
    account = text(ctx.settings.outlet("wechat")["account"])
    if account:
        ty = _block(right, "settings", f"更多权威信息，请关注“{account}”", 28, False, tx, ty + 8, tcol, GREY, 1.5,
                    mode="balance")
    bottom = max(qy + side, ty) + pad
    ops.append(RectOp((MARGIN, round(y), width - MARGIN, round(bottom)), TINT, radius=16))
    ops.append(qop)
    ops.extend(right)
    office = text(ctx.settings.city.press_office)
    source = "来源：" + " · ".join(s for s in (text(release.department.name), office) if s)
    return _block(ops, "department", source, 28, False, MARGIN, bottom + 28, width - 2 * MARGIN, GREY, 1.5,
                  align="center", mode="balance")


def poster_layout(release: Release, ctx: RenderContext, max_points: int = MAX_POINTS) -> Layout:
    """Where everything on the poster goes. Drops trailing points (with a warning) rather than exceed
    ``MAX_POSTER_HEIGHT``; never clips."""
    _check_figures(release)
    items = points(release)
    shown = min(len(items), max_points)
    while True:
        ops: list = []
        y = _header(ops, release, ctx, POSTER_WIDTH)
        y = _title(ops, release, ctx, y, POSTER_WIDTH)
        y = _figures(ops, release, y, POSTER_WIDTH)
        y = _points(ops, items[:shown], y, POSTER_WIDTH)
        y = _footer(ops, release, ctx, y, POSTER_WIDTH)
        height = round(y + 24 + 16)
        if height <= MAX_POSTER_HEIGHT or shown == 0:
            break
        shown -= 1
    ops.append(RectOp((0, height - 16, POSTER_WIDTH, height), RED))
    layout = Layout((POSTER_WIDTH, height), ops)
    if shown < min(len(items), max_points):
        layout.warnings.append(f"图解篇幅有限，只展示了前 {shown} 个要点（共 {len(items)} 个）")
    if height > MAX_POSTER_HEIGHT:
        raise RenditionError(NAME, "title", f"图解高度 {height} 像素，超过 {MAX_POSTER_HEIGHT} 像素上限",
                             "请缩短标题、副题或关键数字说明")
    return layout


# ---------------------------------------------------------------------------------------------
# The cover


def _cover_background(release: Release) -> PILImage.Image:
    w, h = COVER_SIZE
    if release.cover is None:
        bg = PILImage.new("RGB", (w, h), RED)
        # A darker band outside the square marks the two crops without any text to cut.
        d = ImageDraw.Draw(bg)
        d.rectangle((0, 0, SQ_X0 - 1, h), fill=DEEP_RED)
        d.rectangle((SQ_X1, 0, w, h), fill=DEEP_RED)
        return bg
    from PIL import ImageOps

    with PILImage.open(io.BytesIO(release.cover.data)) as src:
        src.load()
        img = src.convert("RGBA")
    flat = PILImage.new("RGBA", img.size, WHITE + (255,))
    flat.alpha_composite(img)
    img = ImageOps.fit(flat.convert("RGB"), (w, h), method=PILImage.Resampling.LANCZOS)
    # Darken so white text reads on any picture; the square a little more, where the title is.
    img = PILImage.blend(img, PILImage.new("RGB", (w, h), (40, 6, 8)), 0.55)
    square = img.crop((SQ_X0, 0, SQ_X1, h))
    img.paste(PILImage.blend(square, PILImage.new("RGB", square.size, (30, 4, 6)), 0.35), (SQ_X0, 0))
    return img


def cover_layout(release: Release, ctx: RenderContext) -> Layout:
    """The 900×383 cover: title inside the centred square; the side panels carry nothing that matters."""
    w, h = COVER_SIZE
    # The background is made from the cover photo alone (or from nothing): its digest names it.
    source = hashlib.sha256(release.cover.data).hexdigest() if release.cover is not None else "plain"
    ops: list = [PictureOp(_cover_background(release), source=f"cover-background:{source}")]
    pad = 26
    x0, x1 = SQ_X0 + pad, SQ_X1 - pad
    col = x1 - x0
    # Inside the square, top: the column label; bottom: the date.
    label = "权威发布"
    lw = _advance(24, True, label)
    ops.append(RectOp((round((w - lw) / 2), 40, round((w + lw) / 2), 42), GOLD))
    ops.append(TextOp("settings", label, 24, True, (round((w - lw) / 2), 50), GOLD))
    tz = ctx.settings.tz
    date = display_date(release.publish_at.astimezone(tz))
    dw = _advance(22, False, date)
    ops.append(TextOp("settings", date, 22, False, (round((w - dw) / 2), h - 66), WHITE))
    # The title, centred in the space between, as large as fits.
    fld = "wechat_title" if release.wechat_title else "title"
    title = text(release.wechat_title or release.title)
    top, bottom = 100, h - 84
    for size in (44, 40, 36, 32, 28):
        lines = _lines(title, size, True, col, mode="headline")
        step = round(size * 1.32)
        if len(lines) * step - (step - size * 1.16) <= bottom - top:
            break
    else:
        raise RenditionError(NAME, fld, f"标题 {len(title)} 字，封面图方形区域放不下",
                             "请在前置信息中填写不超过 32 字的 wechat_title")
    block = len(lines) * step - round(step - size * 1.16)
    y = top + (bottom - top - block) / 2
    for ln in lines:
        ops.append(TextOp(fld, ln, size, True, (round(_centred(ln, size, True, x0, col)), round(y)), WHITE))
        y += step
    # Outside the square (seen only in the 2.35:1 crop): the account and the kind, wholly left and right of it.
    account = text(ctx.settings.outlet("wechat")["account"]) or text(ctx.settings.city.name)
    side_w = SQ_X0 - 2 * 28
    if account:
        _side_text(ops, "settings", account, 28, True, 28, side_w, GOLD)
    _side_text(ops, "kind", release.kind_label, 28, True, SQ_X1 + 28, side_w, WHITE)
    return Layout(COVER_SIZE, ops)


def _side_text(ops: list, fld: str, value: str, size: int, bold: bool, x: float, width: float, fill) -> None:
    lines = _lines(value, size, bold, width)
    step = round(size * 1.4)
    y = (COVER_SIZE[1] - len(lines) * step) / 2
    for ln in lines:
        lw = _advance(size, bold, ln)
        ops.append(TextOp(fld, ln, size, bold, (round(x + (width - lw) / 2), round(y)), fill))
        y += step


# ---------------------------------------------------------------------------------------------
# Painting


def check_glyphs(layout: Layout) -> None:
    """Refuse to draw a character the font lacks (it would print as a box), naming the field."""
    missing: dict[str, set[str]] = {}
    for op in layout.texts:
        chars = missing_glyphs(op.font, op.text)
        if chars:
            missing.setdefault(op.field, set()).update(chars)
    if missing:
        fld = next(iter(missing))
        chars = "".join(sorted(missing[fld]))
        shown = "、".join(f"“{c}”" if c.isprintable() else f"U+{ord(c):04X}" for c in chars)
        raise RenditionError(NAME, fld, f"{FIELD_ZH.get(fld, fld)}中的 {shown} 无法用图解字体显示（会印成方框）",
                             "请删除或换掉这些字符（如表情符号、生僻字），再生成图解")


# A release's poster is painted once for every channel that shows it (图解, 门户, 微信, 微博) and its cover
# once for 图解 and 微信: painting is most of their cost. The key is the whole list of drawing instructions,
# so a changed release can never get a stale picture; a layout with a picture of unknown source
# (``PictureOp.source`` empty: it compares without its pixels) is never reused. Channels render at the same
# time (the publish flow's tasks): a picture being painted is waited for, not painted a second time.
PAINT_CACHE_SIZE = 8
PIXELS_KEPT = 2  # the pixels of the latest posters, for their thumbnails (a poster is up to 11 MB of them)
_painted: OrderedDict[tuple, "_Picture"] = OrderedDict()
_pixels: OrderedDict[tuple, PILImage.Image] = OrderedDict()
_painted_lock = threading.Lock()


class _Picture:
    """One painted layout: its PNG once ``done`` is set (None: painting it failed)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.png: bytes | None = None


def clear_cache() -> None:
    with _painted_lock:
        _painted.clear()
        _pixels.clear()


def _key(layout: Layout) -> tuple | None:
    if any(isinstance(op, PictureOp) and not op.source for op in layout.ops):
        return None
    return (layout.size, tuple(layout.ops))


def paint(layout: Layout, keep_pixels: bool = False) -> bytes:
    """The layout as a PNG. ``keep_pixels``: keep the image for ``thumbnail_of`` (a poster)."""
    key = _key(layout)
    if key is None:
        return _paint(layout)[0]
    with _painted_lock:
        picture = _painted.get(key)
        mine = picture is None
        if mine:
            picture = _painted[key] = _Picture()
            while len(_painted) > PAINT_CACHE_SIZE:
                _painted.popitem(last=False)
        else:
            _painted.move_to_end(key)
    if not mine:
        picture.done.wait()
        if picture.png is not None:
            return picture.png
        return _paint(layout)[0]  # it failed for the painter: fail here with an error of this render's own
    try:
        picture.png, image = _paint(layout)
    finally:
        picture.done.set()
        if picture.png is None:
            with _painted_lock:
                if _painted.get(key) is picture:
                    del _painted[key]
    if keep_pixels:
        with _painted_lock:
            _pixels[key] = image
            while len(_pixels) > PIXELS_KEPT:
                _pixels.popitem(last=False)
    return picture.png


def _pixels_of(layout: Layout, png: bytes) -> PILImage.Image:
    """The painted image (the same pixels as decoding its lossless PNG, without decoding it)."""
    key = _key(layout)
    with _painted_lock:
        image = _pixels.pop(key, None) if key is not None else None
    return image if image is not None else PILImage.open(io.BytesIO(png)).convert("RGB")


def _paint(layout: Layout) -> tuple[bytes, PILImage.Image]:
    img = draw(layout)
    return png(img), img


def draw(layout: Layout) -> PILImage.Image:
    """The picture of a layout (its characters checked against the font first); ``paint`` is its PNG."""
    check_glyphs(layout)
    img = PILImage.new("RGB", layout.size, WHITE)
    d = ImageDraw.Draw(img)
    for op in layout.ops:
        if isinstance(op, PictureOp):
            img.paste(op.image, op.xy)
        elif isinstance(op, RectOp):
            if op.radius:
                d.rounded_rectangle(op.box, radius=op.radius, fill=op.fill)
            else:
                d.rectangle(op.box, fill=op.fill)
        elif isinstance(op, QrOp):
            d.rectangle(op.box, fill=WHITE)
            qx = op.xy[0] + op.border * op.scale
            qy = op.xy[1] + op.border * op.scale
            for r, row in enumerate(op.matrix):
                for c, dark in enumerate(row):
                    if dark:
                        x, y = qx + c * op.scale, qy + r * op.scale
                        d.rectangle((x, y, x + op.scale - 1, y + op.scale - 1), fill=(0, 0, 0))
        elif isinstance(op, TextOp):
            d.text(op.xy, op.text, font=op.font, fill=op.fill, anchor=op.anchor)
    return img


def png(img: PILImage.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)  # Pillow writes no time or text chunks: same bytes each time
    return buf.getvalue()


def poster_png(release: Release, ctx: RenderContext) -> bytes:
    """The poster alone (the H5 page embeds it)."""
    return paint(poster_layout(release, ctx), keep_pixels=True)


def cover_png(release: Release, ctx: RenderContext) -> bytes:
    return paint(cover_layout(release, ctx))


def words(layout: Layout) -> str:
    """The text a picture shows, from its drawing instructions: a line per block of one field, the lines of
    a wrapped block joined again (so a break never splits "24小时") and a figure's unit beside its value.
    Delivered beside the picture (its alt text) and read back by the fidelity audit."""
    out: list[str] = []
    prev = None
    for op in layout.texts:
        same_line = prev is not None and op.field == prev.field and op.xy[1] == prev.xy[1]
        next_line = (prev is not None and (op.field, op.size, op.bold, op.fill) == (prev.field, prev.size,
                     prev.bold, prev.fill) and 0 < op.xy[1] - prev.xy[1] <= op.size * 1.65)
        if (same_line or next_line) and out:
            gap = " " if out[-1][-1:].isascii() and out[-1][-1:].isalnum() and op.text[:1].isascii() \
                and op.text[:1].isalnum() else ""
            out[-1] += gap + op.text
        else:
            out.append(op.text)
        prev = op
    return "".join(f"{line}\n" for line in out)


THUMB_NAME = "infographic-thumb.jpg"
THUMB_WIDTH = 360  # the press hall's gallery shows the whole poster at this width (docs/outlets.md)
THUMB_QUALITY = 85


def thumbnail(img: PILImage.Image) -> bytes:
    """The whole poster scaled down to ``THUMB_WIDTH``, aspect kept, as a JPEG. Fixed quality and no
    EXIF, ICC or comment: the same poster gives the same bytes."""
    height = max(1, round(img.height * THUMB_WIDTH / img.width))
    small = img.resize((THUMB_WIDTH, height), PILImage.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=THUMB_QUALITY, optimize=False, progressive=False, subsampling=2)
    return buf.getvalue()


def rendition(release: Release, poster: Layout, cover: Layout) -> Rendition:
    """The poster and its thumbnail, and the cover, each with its words (``words``)."""
    poster_bytes = paint(poster, keep_pixels=True)
    files = {"infographic.png": poster_bytes, THUMB_NAME: thumbnail(_pixels_of(poster, poster_bytes)),
             "infographic.txt": words(poster).encode("utf-8"),
             "cover.png": paint(cover), "cover.txt": words(cover).encode("utf-8")}
    return Rendition(channel=NAME, release_id=release.id, version=release.version, title=release.title,
                     files=files, warnings=tuple(poster.warnings))


def render(release: Release, ctx: RenderContext) -> Rendition:
    return rendition(release, poster_layout(release, ctx), cover_layout(release, ctx))


def correct(release: Release, ctx: RenderContext, base: Rendition, c: Correction, earlier: list[Correction],
            old: str | None) -> Rendition:
    """The corrected poster replaces the old one: a picture carries no correction note."""
    return base


def withdraw(release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    return manual_withdrawal(NAME, CHANNEL.label, release_id, ctx, w)
