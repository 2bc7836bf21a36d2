"""Chinese line breaking and the CJK font, for everything pressroom draws itself (the infographic).

Pillow has no Chinese line breaking (its ``wrap`` splits on spaces), so this is our own, after the rules in
GB/T 15834 and the usual kinsoku (禁则) of Chinese typesetting:

* a break is allowed between any two Han characters (and around most punctuation);
* Latin words and numbers (``1386.5``, ``5.8%``, ``2·1+N``, ``10:00``) stay whole unless longer than a line;
* the dash ``——`` and the ellipsis ``……`` are never split;
* no line starts with closing punctuation (，。、》）” …) and no line ends with opening punctuation (《（“ …):
  the character before a closing mark is pushed down with it, an opening mark goes down with what follows,
  and with ``hang`` > 0 a closing mark may instead hang past the measure by up to ``hang``;
* ``\\n`` is a hard break.

Nothing is dropped or added: the lines of one paragraph joined give the paragraph back (spaces at a break
stay at the end of the line before it, where they take no room).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Callable

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
FONT_FILES = {False: FONT_DIR / "NotoSansCJK-Regular.ttc", True: FONT_DIR / "NotoSansCJK-Bold.ttc"}
# In Noto's .ttc collections face 0 is Japanese (different glyphs for 直, 骨 …); face 2 is Simplified Chinese.
SC_INDEX = 2
SC_NAME = "Noto Sans CJK SC"

# Kinsoku sets, as listed in docs/outlets.md#line-breaking (GB/T 15834 and common CJK typesetting practice).
NO_START = set("!%),.:;>?]}°·’”…‰′″℃、。〃〉》」』】〕〗！＂％＇），．：；？］｝～")
NO_END = set("$([{£¥·‘“〈《「『【〔〖（［｛￡￥")
SPACES = " \t"  # break opportunities that take no room at the end of a line

# One unbreakable unit. Order matters: the first alternative that matches wins.
_ATOM = re.compile(
    r"""
      [ \t]+                                      # spaces: a break comes after them
    | —+ | …+ | ⸺+                                # dash and ellipsis runs are one unit
    | (?:[^\W_]|[\u0300-\u036f])+                # a word or number (Han is split off below) ...
      (?:[.,:/\-+·'’_&@=?#~]+(?:[^\W_]|[\u0300-\u036f])+)*   # ... with joiners: 1386.5, 2·1+N, URLs
      [%‰℃°′″]*                                   # ... and a trailing unit sign
    | .                                           # anything else: one character
    """,
    re.VERBOSE | re.DOTALL,
)


def _wide(ch: str) -> bool:
    """Han, kana, hangul, full-width forms: characters a line may break between."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _attaches(ch: str) -> bool:
    """Combining marks, variation selectors and joiners belong to the character before them."""
    return unicodedata.category(ch) in ("Mn", "Me", "Cf") or "\ufe00" <= ch <= "\ufe0f"


def atoms(paragraph: str) -> list[str]:
    """Split a paragraph (no ``\\n``) into the units a line never breaks inside."""
    out: list[str] = []
    for m in _ATOM.finditer(paragraph):
        tok = m.group()
        # \w also matches Han: cut a "word" wherever a wide character begins or ends.
        if len(tok) > 1 and any(_wide(c) for c in tok) and tok[0] not in "—…⸺":
            out.extend(_split_wide(tok))
        else:
            out.append(tok)
    merged: list[str] = []
    for tok in out:
        if merged and _attaches(tok[0]):
            merged[-1] += tok
        else:
            merged.append(tok)
    return merged


def _split_wide(tok: str) -> list[str]:
    parts: list[str] = []
    for ch in tok:
        if parts and not _wide(ch) and not _wide(parts[-1][-1]):
            parts[-1] += ch
        else:
            parts.append(ch)
    return parts


def _glued(a: str, b: str) -> bool:
    """True when no break is allowed between atoms a and b."""
    return (b[0] in SPACES or b[0] in NO_START or a[-1] in NO_END
            or (b[0] in "—…⸺" and a[-1] == b[0]))


def segments(paragraph: str) -> list[list[str]]:
    """Atoms grouped into runs with no allowed break inside (kinsoku glue)."""
    segs: list[list[str]] = []
    for a in atoms(paragraph):
        if segs and _glued(segs[-1][-1], a):
            segs[-1].append(a)
        else:
            segs.append([a])
    return segs


def break_lines(text: str, measure: Callable[[str], float], max_width: float, hang: float = 0.0) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width`` as ``measure`` sees them (trailing spaces not
    counted). ``hang`` lets closing punctuation that would start the next line hang past the measure by up
    to that much instead of pushing the character before it down. Each ``\\n`` starts a new line; an empty
    paragraph gives an empty line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_paragraph(paragraph, measure, max_width, hang))
    return lines


def _width(measure: Callable[[str], float], s: str) -> float:
    s = s.rstrip(SPACES)
    return measure(s) if s else 0.0


def _paragraph(paragraph: str, measure, max_width: float, hang: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for seg in segments(paragraph):
        piece = "".join(seg)
        if _width(measure, line + piece) <= max_width or _hangs(line, seg, measure, max_width, hang):
            line += piece
            continue
        if line:
            lines.append(line)
            line = ""
        if _width(measure, piece) <= max_width:
            line = piece
            continue
        # Longer than a whole line: break inside it after all, as late as possible.
        for atom in seg:
            if _width(measure, line + atom) <= max_width:
                line += atom
                continue
            if line:
                lines.append(line)
                line = ""
            if _width(measure, atom) <= max_width:
                line = atom
                continue
            for ch in _graphemes(atom):  # a URL or word longer than a line: cut by character
                if line and _width(measure, line + ch) > max_width:
                    lines.append(line)
                    line = ""
                line += ch
    lines.append(line)
    return lines


def _hangs(line: str, seg: list[str], measure, max_width: float, hang: float) -> bool:
    """Whether ``seg`` fits on ``line`` with its trailing closing punctuation hanging."""
    if hang <= 0 or not line:
        return False
    end = len(seg)
    while end > 0 and seg[end - 1][0] in SPACES:
        end -= 1
    k = end
    while k > 0 and seg[k - 1][0] in NO_START:
        k -= 1
    if k == end or k == 0:
        return False
    return (_width(measure, line + "".join(seg[:k])) <= max_width
            and _width(measure, line + "".join(seg)) <= max_width + hang)


def _graphemes(s: str) -> list[str]:
    out: list[str] = []
    for ch in s:
        if out and _attaches(ch):
            out[-1] += ch
        else:
            out.append(ch)
    return out


# ---------------------------------------------------------------------------------------------
# The font


class FontMissing(RuntimeError):
    """The CJK font is not installed (an operator's problem, so the message is in English)."""


@lru_cache(maxsize=None)
def load_cjk_font(size: int, bold: bool = False):
    """Noto Sans CJK SC (Simplified Chinese face of the Debian ``fonts-noto-cjk`` collection) at ``size``."""
    from PIL import ImageFont

    path = FONT_FILES[bool(bold)]
    if not path.is_file():
        raise FontMissing(
            f"CJK font not found: {path}. The infographic needs Debian's fonts-noto-cjk package; "
            "install it with `bash scripts/system-deps.sh` (or `apt-get install fonts-noto-cjk`).")
    font = ImageFont.truetype(str(path), size, index=SC_INDEX)
    name = font.getname()[0]
    if name != SC_NAME:  # a different build of the collection: Japanese glyphs would slip in silently
        raise FontMissing(f"{path} face {SC_INDEX} is {name!r}, expected {SC_NAME!r}; "
                          "reinstall fonts-noto-cjk (`bash scripts/system-deps.sh`).")
    return font


# A noncharacter: never in any cmap, so it always draws the font's .notdef (tofu) glyph.
_NOTDEF_PROBE = "\uffff"


def missing_glyphs(font, text: str) -> set[str]:
    """The characters of ``text`` that ``font`` has no glyph for (they would draw as tofu boxes).
    Line breaks and invisible format characters (zero-width space …) are never reported; other control
    characters are (Word's \\x0b draws as a box)."""
    chars = {ch for ch in text if ch != "\n" and unicodedata.category(ch) != "Cf"}
    cmap = _cmap(font)
    if cmap is not None:
        return {ch for ch in chars if ord(ch) not in cmap}
    return {ch for ch in chars if _draws_notdef(font, ch)}


def _cmap(font) -> frozenset[int] | None:
    """The font's character map via fontTools, when it is installed (it is optional)."""
    if not _have_fonttools():
        return None
    return _cmap_of(str(font.path), _face_index(font))


@lru_cache(maxsize=1)
def _have_fonttools() -> bool:
    """Looked for once: a failed import searches the whole path again on every try."""
    try:
        import fontTools  # noqa: F401
    except ImportError:
        return False
    return True


def _face_index(font) -> int:
    return int(getattr(font, "index", 0) or 0)


@lru_cache(maxsize=4)
def _cmap_of(path: str, index: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as tt:
        return frozenset(tt.getBestCmap() or {})


def _draws_notdef(font, ch: str) -> bool:
    """Without fontTools: a character whose rendering is pixel-identical to the .notdef glyph's is missing.
    Whether a face has a glyph does not depend on the size, so each face is probed once, at one size."""
    return _face_draws_notdef(str(font.path), _face_index(font), ch)


@lru_cache(maxsize=1 << 14)
def _face_draws_notdef(path: str, index: int, ch: str) -> bool:
    font = _probe_font(path, index)
    notdef = font.getmask(_NOTDEF_PROBE)
    mask = font.getmask(ch)
    return mask.size == notdef.size and bytes(mask) == bytes(notdef)


@lru_cache(maxsize=8)
def _probe_font(path: str, index: int):
    from PIL import ImageFont  # Pillow only where fonts are drawn (the line breaker itself needs none)

    return ImageFont.truetype(path, 48, index=index)
