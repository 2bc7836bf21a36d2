"""Golden renditions: every sample release rendered for every channel it goes to, kept under
``tests/golden/<release id>/<channel>/`` (this module is the code, that folder only data).

Each case holds the rendition's files at their own paths, ``payload.json`` (``channels.base.dump_json`` of
``Rendition.payload``, when there is one) and ``warnings.txt`` (one warning a line; empty without warnings).
``tests/test_golden.py`` renders again and compares::

    python -m tests.golden --refresh   # rewrite the golden set after a deliberate change
    python -m tests.golden             # compare and print the differences (what the test does)

Run it from the repository root. How files are compared:

* text (``.html .txt .json .srt .md .xml .css`` or anything that decodes as UTF-8): byte for byte, with a
  unified diff. ``data:image/...;base64`` URIs inside (the H5 page embeds the infographic) are compared as
  the images they are, as below; the rest of the text still byte for byte.
* PNG/JPEG: by decoded pixels, as font, FreeType, zlib and Pillow versions on another machine draw and
  encode slightly differently: same format, mode and size, mean absolute difference of every channel
  <= ``MEAN_TOLERANCE`` and fewer than ``MAX_LARGE_SHARE`` of the pixels off by more than ``LARGE_DIFF``.
* ``.docx``: unzipped, the same parts; XML parts byte for byte (diffs shown pretty-printed), images as above.
* anything else: byte for byte.

That tolerance is wide enough for a changed digit in the poster to pass, so it applies only where it is
needed: ``--refresh`` records what draws and encodes the images (Pillow, FreeType, HarfBuzz, zlib, libjpeg
and the fonts) in ``tests/golden/environment.json``; where they are the same, every file must be
byte-identical, images included. ``PRESSROOM_GOLDEN_EXACT=1`` (or ``--exact``) asks for identical bytes
anyway, ``PRESSROOM_GOLDEN_EXACT=0`` for the tolerance anyway.
"""

from __future__ import annotations

import argparse
import base64
import difflib
import hashlib
import io
import json
import os
import re
import shutil
import sys
import zipfile
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Mapping

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
PAYLOAD_FILE = "payload.json"
WARNINGS_FILE = "warnings.txt"
ENVIRONMENT_FILE = "environment.json"
REFRESH_HINT = ("If the change is deliberate, run `python -m tests.golden --refresh` from the repository root "
                "and commit tests/golden/.")
EXACT_ENV = "PRESSROOM_GOLDEN_EXACT"

TEXT_SUFFIXES = {".html", ".txt", ".json", ".srt", ".md", ".xml", ".css"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
XML_PART_SUFFIXES = {".xml", ".rels"}
MEAN_TOLERANCE = 2.0  # mean absolute difference, per channel (0..255)
LARGE_DIFF = 40  # a pixel "differs" when one of its channels is off by more than this
MAX_LARGE_SHARE = 0.005  # fewer than 0.5 % of the pixels may differ
MAX_DIFF_LINES = 150  # of one file's unified diff in a message
SIZE_WARNING_BYTES = 15 * 1024 * 1024

_DATA_URI = re.compile(rb"data:(image/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=]+)")


# ---------------------------------------------------------------------------------------------
# The cases


@lru_cache(maxsize=1)
def load_samples():
    """(settings, releases by id, problems): the project's settings and every sample release under
    content/releases, loaded as tests/conftest.py's ``settings`` and ``samples`` fixtures load them."""
    from pressroom.releases.loader import load_all, load_registry
    from pressroom.settings import load_settings

    # The goldens are the default installation's output, the micro-video included (tests/conftest.py turns it
    # off for the tests that do not need it).
    saved = os.environ.pop("PRESSROOM_VIDEO", None)
    try:
        settings = load_settings(ROOT / "pressroom.toml")
        releases, problems = load_all(settings, load_registry(settings.content_dir))
    finally:
        if saved is not None:
            os.environ["PRESSROOM_VIDEO"] = saved
    return settings, releases, problems


def cases(releases: Mapping) -> list[tuple[str, str]]:
    """(release id, channel) for every sample release and every channel it goes to."""
    import channels

    return [(rid, ch) for rid in sorted(releases) for ch in channels.names() if ch in releases[rid].channels]


def check_checkout() -> None:
    """The code under test must be this checkout's (an editable install elsewhere would shadow it)."""
    import channels
    import pressroom

    for module in (channels, pressroom):
        where = Path(module.__file__).resolve()
        if ROOT not in where.parents:
            raise RuntimeError(f"{module.__name__} is imported from {where}, not from {ROOT}: run from the "
                               f"repository root, or with PYTHONPATH={ROOT}")


def check_path(name: str) -> None:
    p = PurePosixPath(name)
    if not name or "\\" in name or p.is_absolute() or ".." in p.parts or name != p.as_posix():
        raise ValueError(f"rendition file {name!r} is not a plain relative path")


def golden_files(rendition) -> dict[str, bytes]:
    """What the golden set keeps of a rendition: its files, payload.json and warnings.txt."""
    from channels.base import dump_json

    files = dict(rendition.files)
    for own in (PAYLOAD_FILE, WARNINGS_FILE):
        if own in files:
            raise ValueError(f"{rendition.channel} renders a file named {own}, which the golden set uses itself")
    for name in files:
        check_path(name)
    if rendition.payload is not None:
        files[PAYLOAD_FILE] = dump_json(rendition.payload)
    files[WARNINGS_FILE] = "".join(f"{w}\n" for w in rendition.warnings).encode("utf-8")
    return files


def render_case(release_id: str, channel: str, releases: Mapping, settings) -> dict[str, bytes]:
    import channels

    release = releases[release_id]
    return golden_files(channels.render(channel, release, channels.context_for(release, releases, settings)))


def case_dir(release_id: str, channel: str, root: Path = GOLDEN_DIR) -> Path:
    return root / release_id / channel


def stored(release_id: str, channel: str, root: Path = GOLDEN_DIR) -> dict[str, bytes] | None:
    """The golden files of one case, or None when the case has none."""
    d = case_dir(release_id, channel, root)
    if not d.is_dir():
        return None
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def stored_cases(root: Path = GOLDEN_DIR) -> list[tuple[str, str]]:
    if not root.is_dir():
        return []
    return sorted((r.name, c.name) for r in root.iterdir() if r.is_dir() for c in r.iterdir() if c.is_dir())


def write_case(files: Mapping[str, bytes], release_id: str, channel: str, root: Path) -> None:
    d = case_dir(release_id, channel, root)
    for name, data in files.items():
        check_path(name)
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def refresh(releases: Mapping, settings, root: Path = GOLDEN_DIR) -> dict[tuple[str, str], dict[str, bytes]]:
    """Rewrite the golden set: everything is rendered first, so a failing render leaves the old set alone.
    Release folders are replaced, environment.json rewritten; other files at the top of ``root`` (its
    .gitattributes) are kept."""
    from channels.base import dump_json

    rendered = {case: render_case(*case, releases, settings) for case in cases(releases)}
    root.mkdir(parents=True, exist_ok=True)
    for d in root.iterdir():
        if d.is_dir():
            shutil.rmtree(d)
    for (rid, ch), files in rendered.items():
        write_case(files, rid, ch, root)
    (root / ENVIRONMENT_FILE).write_bytes(dump_json(rendering_environment()))
    return rendered


# ---------------------------------------------------------------------------------------------
# Comparing


@lru_cache(maxsize=1)
def rendering_environment() -> dict:
    """What decides the bytes of the pictures: the imaging libraries' versions and the fonts."""
    from PIL import __version__ as pillow, features

    from pressroom.text.linebreak import FONT_FILES

    fonts = {}
    for path in sorted({Path(p) for p in FONT_FILES.values()}):
        fonts[path.name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    libs = {name: features.version(name) for name in ("freetype2", "raqm", "harfbuzz", "fribidi", "jpg", "zlib")}
    return {"pillow": pillow, **libs, "fonts": fonts}


def recorded_environment(root: Path = GOLDEN_DIR) -> dict | None:
    p = root / ENVIRONMENT_FILE
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None


def exact_mode(root: Path = GOLDEN_DIR) -> bool:
    """Whether every file must be byte-identical: asked for, or the golden set was drawn by the same
    libraries and fonts (then a pixel difference is a real change)."""
    asked = os.environ.get(EXACT_ENV, "")
    if asked in ("0", "1"):
        return asked == "1"
    return recorded_environment(root) == rendering_environment()


def mode_note(exact: bool) -> str:
    if exact:
        return (f"Every file was compared byte for byte ({EXACT_ENV}=1, or the same imaging libraries and fonts "
                f"as tests/golden/{ENVIRONMENT_FILE}).")
    return (f"Images were compared within the tolerance ({EXACT_ENV}=0, or imaging libraries or fonts other "
            f"than those in tests/golden/{ENVIRONMENT_FILE}).")


def compare(expected: Mapping[str, bytes], actual: Mapping[str, bytes], exact: bool = False) -> list[str]:
    """What differs between a case's golden files and a new rendering of it, one message per file."""
    problems = [f"{n}: in the golden set, no longer rendered" for n in sorted(expected.keys() - actual.keys())]
    problems += [f"{n}: rendered, not in the golden set" for n in sorted(actual.keys() - expected.keys())]
    for name in sorted(expected.keys() & actual.keys()):
        problem = compare_file(name, expected[name], actual[name], exact)
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


def compare_file(name: str, old: bytes, new: bytes, exact: bool = False) -> str | None:
    """None when ``new`` matches ``old``, else what differs."""
    if old == new:
        return None
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        problem = image_difference(old, new)
    elif suffix == ".docx":
        problem = docx_difference(old, new, exact)
    elif suffix in TEXT_SUFFIXES or (_utf8(old) is not None and _utf8(new) is not None):
        problem = text_difference(name, old, new)
    else:
        problem = f"bytes differ ({len(old)} -> {len(new)} bytes)"
    if problem is None and exact:
        return (f"bytes differ ({len(old)} -> {len(new)} bytes); by content they would pass (images within "
                f"the tolerance, or the same .docx parts), but identical bytes are required here")
    return problem


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _open_image(data: bytes):
    from PIL import Image as PILImage

    im = PILImage.open(io.BytesIO(data))
    im.load()
    return im


def image_difference(old: bytes, new: bytes) -> str | None:
    """None when the two images look the same within the tolerance, else how they differ."""
    from PIL import ImageChops, ImageStat

    try:
        a, b = _open_image(old), _open_image(new)
    except Exception as e:  # noqa: BLE001  (a broken image is a difference to report, whatever broke)
        return f"cannot decode the image ({type(e).__name__}: {e})"
    if a.format != b.format:
        return f"image format {a.format} -> {b.format}"
    if a.size != b.size:
        return f"image size {a.size[0]}x{a.size[1]} -> {b.size[0]}x{b.size[1]}"
    if a.mode != b.mode:
        return f"image mode {a.mode} -> {b.mode}"
    diff = ImageChops.difference(a.convert("RGBA"), b.convert("RGBA"))
    means = ImageStat.Stat(diff).mean
    bands = diff.split()
    peak = bands[0]
    for band in bands[1:]:
        peak = ImageChops.lighter(peak, band)  # per pixel, the largest channel difference
    large = sum(peak.histogram()[LARGE_DIFF + 1:])
    total = a.size[0] * a.size[1]
    if max(means) <= MEAN_TOLERANCE and large < MAX_LARGE_SHARE * total:
        return None
    box = peak.point(lambda v: 255 if v > LARGE_DIFF else 0).getbbox()
    where = f"; they lie within x {box[0]}..{box[2]}, y {box[1]}..{box[3]}" if box else ""
    return (f"pixels differ beyond the tolerance: mean absolute difference per channel (RGBA) "
            f"{', '.join(f'{m:.2f}' for m in means)} (limit {MEAN_TOLERANCE}); {large} of {total} pixels "
            f"({large / total:.2%}) off by more than {LARGE_DIFF} (limit {MAX_LARGE_SHARE:.1%}){where}")


def _split_data_uris(data: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The text with each embedded image replaced by a numbered stand-in, and the images."""
    images: list[tuple[str, bytes]] = []

    def stand_in(m: re.Match) -> bytes:
        images.append((m.group(1).decode("ascii"), base64.b64decode(m.group(2))))
        return b"data:" + m.group(1) + b";base64,[embedded image %d]" % len(images)

    return _DATA_URI.sub(stand_in, data), images


def text_difference(name: str, old: bytes, new: bytes) -> str | None:
    old_text, old_images = _split_data_uris(old)
    new_text, new_images = _split_data_uris(new)
    if old_text != new_text:
        return "text differs:\n" + unified_diff(old_text, new_text, name)
    problems = []
    for i, ((old_mime, a), (new_mime, b)) in enumerate(zip(old_images, new_images), 1):
        if a == b:
            continue
        suffix = {"image/png": ".png", "image/jpeg": ".jpg"}.get(new_mime) if old_mime == new_mime else None
        problem = image_difference(a, b) if suffix else f"bytes differ ({len(a)} -> {len(b)} bytes)"
        if problem:
            problems.append(f"embedded image {i} ({new_mime}): {problem}")
    return "; ".join(problems) or None


def _display_lines(data: bytes) -> list[str]:
    """Lines for a diff: a very long line (a JSON string of HTML, minified XML) is broken after each tag
    and each Chinese full stop, so the diff shows the part that changed, not the whole line."""
    text = data.decode("utf-8", errors="replace")
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        if len(line) <= 200:
            out.append(line)
            continue
        parts = [part for part in re.split(r"(?<=[>。])", line) if part]
        out.extend(part + "\n" for part in parts[:-1])
        out.append(parts[-1])
    return out


def unified_diff(old: bytes, new: bytes, name: str) -> str:
    lines = list(difflib.unified_diff(_display_lines(old), _display_lines(new), fromfile=f"golden/{name}",
                                      tofile=f"rendered/{name}", n=2))
    if not lines:  # the same lines: the difference is in line endings or invisible characters
        return f"    (no visible difference: {len(old)} -> {len(new)} bytes; check line endings and BOM)"
    shown = [ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines[:MAX_DIFF_LINES]]
    more = f"    ... {len(lines) - MAX_DIFF_LINES} more diff lines\n" if len(lines) > MAX_DIFF_LINES else ""
    return "".join("    " + ln for ln in "".join(shown).splitlines(keepends=True)) + more


def _pretty_xml(data: bytes) -> bytes:
    from lxml import etree

    try:
        return etree.tostring(etree.fromstring(data), pretty_print=True, encoding="utf-8")
    except etree.XMLSyntaxError:
        return data


def docx_difference(old: bytes, new: bytes, exact: bool = False) -> str | None:
    try:
        za, zb = zipfile.ZipFile(io.BytesIO(old)), zipfile.ZipFile(io.BytesIO(new))
    except zipfile.BadZipFile as e:
        return f"not a zip file ({e})"
    with za, zb:
        a_names, b_names = set(za.namelist()), set(zb.namelist())
        problems = [f"part {n} is gone" for n in sorted(a_names - b_names)]
        problems += [f"part {n} is new" for n in sorted(b_names - a_names)]
        for part in sorted(a_names & b_names):
            a, b = za.read(part), zb.read(part)
            if a == b:
                continue
            suffix = PurePosixPath(part).suffix.lower()
            if suffix in XML_PART_SUFFIXES:
                pa, pb = _pretty_xml(a), _pretty_xml(b)
                diff = unified_diff(pa, pb, part) if pa != pb else "    (differs only in XML formatting)\n" + \
                    unified_diff(a, b, part)
                problems.append(f"part {part} differs:\n{diff}")
            elif suffix in IMAGE_SUFFIXES:
                problem = image_difference(a, b)
                if problem or exact:
                    problems.append(f"part {part}: {problem or 'bytes differ, although within the image tolerance'}")
            else:
                problems.append(f"part {part}: bytes differ ({len(a)} -> {len(b)} bytes)")
    return "\n".join(problems) or None


def report(release_id: str, channel: str, problems: list[str], rendered_at: Path | None = None,
           exact: bool | None = None) -> str:
    where = f"The new rendition is in {rendered_at}.\n" if rendered_at else ""
    mode = f"{mode_note(exact)}\n" if exact is not None else ""
    return (f"Golden rendition of release {release_id}, channel {channel} differs "
            f"(tests/golden/{release_id}/{channel}/):\n"
            + "".join(f"  {p}\n" for p in problems) + where + mode + REFRESH_HINT)


def size_of(root: Path = GOLDEN_DIR) -> tuple[int, int]:
    """(total bytes, bytes of PNG/JPEG files) of the golden set."""
    files = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
    return (sum(p.stat().st_size for p in files),
            sum(p.stat().st_size for p in files if p.suffix.lower() in IMAGE_SUFFIXES))


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.golden", description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh", action="store_true", help="rewrite tests/golden from the current code")
    parser.add_argument("--exact", action="store_true", help="compare every file byte for byte, images too")
    args = parser.parse_args(argv)
    check_checkout()
    settings, releases, problems = load_samples()
    if problems:
        print("The sample releases do not validate:", *problems, sep="\n  ", file=sys.stderr)
        return 2
    if args.refresh:
        rendered = refresh(releases, settings)
        total, images = size_of()
        n_files = sum(len(f) for f in rendered.values())
        print(f"Wrote {len(rendered)} renditions ({n_files} files, {total / 1024 / 1024:.1f} MB, of which "
              f"images {images / 1024 / 1024:.1f} MB) to {GOLDEN_DIR.relative_to(ROOT)}/")
        if total > SIZE_WARNING_BYTES:
            print(f"warning: the golden set is over {SIZE_WARNING_BYTES // 1024 // 1024} MB", file=sys.stderr)
        return 0
    exact = args.exact or exact_mode()
    failed = 0
    wanted = cases(releases)
    for rid, ch in wanted:
        expected = stored(rid, ch)
        if expected is None:
            print(f"release {rid}, channel {ch}: no golden files")
            failed += 1
            continue
        diffs = compare(expected, render_case(rid, ch, releases, settings), exact)
        if diffs:
            print(report(rid, ch, diffs).rsplit("\n", 1)[0])
            failed += 1
    for rid, ch in sorted(set(stored_cases()) - set(wanted)):
        print(f"tests/golden/{rid}/{ch}/ is stale: no sample release {rid} goes to {ch}")
        failed += 1
    if failed:
        print(f"{failed} of {len(wanted)} renditions differ from the golden set. {mode_note(exact)}\n{REFRESH_HINT}")
        return 1
    print(f"All {len(wanted)} renditions match the golden set. {mode_note(exact)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
