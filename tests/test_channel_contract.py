"""The channel contract (``channels.base``), for every channel and every sample release that goes to it:
the module declares its ``CHANNEL`` (name, Chinese labels) and the correction/withdrawal functions, ``render`` returns a matching ``Rendition`` of plain relative,
non-empty files, deterministically, and the limits the channel module itself declares hold.

No limit is made up here: each check uses the module's own constants and functions. Portal declares none,
so it gets the generic checks only. The checks are plain functions, so the last tests can show that each
one fails on a rendition that breaks it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from pathlib import PurePosixPath

import pytest
from PIL import Image as PILImage

import channels
from channels import h5, infographic, markup, newspaper, portal, tv, wechat, weibo
from channels.base import Rendition, dump_json
from tests import golden

_, _releases, _ = golden.load_samples()
CASES = [(ch, rid) for ch in channels.names() for rid in sorted(_releases) if ch in _releases[rid].channels]
IDS = [f"{ch}/{rid}" for ch, rid in CASES]
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

_renditions: dict[tuple[str, str], Rendition] = {}


@pytest.fixture
def case(request, samples, contexts):
    """(channel, release, ctx, rendition) of one case; each case is rendered once for the checks."""
    channel, release_id = request.param
    release, ctx = samples[release_id], contexts[release_id]
    if (channel, release_id) not in _renditions:
        _renditions[channel, release_id] = channels.render(channel, release, ctx)
    return channel, release, ctx, _renditions[channel, release_id]


def image(data: bytes) -> PILImage.Image:
    im = PILImage.open(io.BytesIO(data))
    im.load()
    return im


# ---------------------------------------------------------------------------------------------
# Generic: what channels.base promises for every channel


def check_module(channel: str) -> None:
    module = channels.adapter(channel)
    decl = module.CHANNEL
    assert decl.name == channel, f"channels.{channel}.CHANNEL.name is {decl.name!r}"
    for what in ("label", "short"):
        label = getattr(decl, what)
        assert isinstance(label, str) and label.strip(), f"channels.{channel}.CHANNEL.{what} is empty"
        assert _HAN.search(label) or label.isupper(), f"channels.{channel}.CHANNEL.{what} {label!r} is not Chinese"
    assert "{release}" in decl.outbox or "{" not in decl.outbox, f"channels.{channel}.CHANNEL.outbox {decl.outbox!r}"
    for fn in ("render", "correct", "withdraw"):
        assert callable(getattr(module, fn, None)), f"channels.{channel} lacks {fn}"


def check_rendition(channel: str, release, ctx, rd) -> None:
    assert isinstance(rd, Rendition), f"render returned {type(rd).__name__}, not channels.base.Rendition"
    assert rd.channel == channel
    assert rd.release_id == release.id
    assert rd.version == release.version
    assert rd.files, "a rendition without files"
    for name, data in rd.files.items():
        assert isinstance(name, str) and name and "\\" not in name, f"file name {name!r}"
        p = PurePosixPath(name)
        assert not p.is_absolute() and ".." not in p.parts and p.as_posix() == name, \
            f"{name!r} is not a plain relative path"
        assert isinstance(data, bytes), f"{name}: {type(data).__name__}, not bytes"
        assert data or empty_allowed(channel, release, ctx, name), f"{name} is empty"
    assert isinstance(rd.warnings, tuple) and all(isinstance(w, str) and w for w in rd.warnings)
    if rd.payload is not None:
        dump_json(rd.payload)  # the API body is JSON as it is


def empty_allowed(channel: str, release, ctx, name: str) -> bool:
    """The one empty file a channel delivers by design: the TV subtitles of a script without sound bites
    (a policy document's item is a 口播简讯, read by the anchor alone)."""
    if channel != "tv" or name != f"{release.id}.srt":
        return False
    blocks, _ = tv.build_blocks(release, ctx)
    return not any(b.kind == "同期声" for b in blocks)


def check_deterministic(channel: str, release, ctx, rd, other=None) -> None:
    """Rendering again gives the same bytes: with the infographic's paint cache emptied (else the second
    poster is the first one's bytes), and after another release went through the same channel."""
    infographic.clear_cache()
    if other is not None:
        channels.render(channel, *other)
    again = channels.render(channel, release, ctx)
    differ = sorted(n for n in rd.files.keys() | again.files.keys() if rd.files.get(n) != again.files.get(n))
    assert not differ, f"rendering {release.id} for {channel} twice gave different bytes in {differ}"
    assert again.payload == rd.payload and again.warnings == rd.warnings
    assert (again.title, again.url, again.version) == (rd.title, rd.url, rd.version)


# ---------------------------------------------------------------------------------------------
# Each channel's own declared limits


def check_wechat(release, ctx, rd) -> None:
    article = rd.payload["articles"][0]
    assert rd.files[wechat.DRAFT_FILE] == dump_json(rd.payload)
    assert len(article["title"]) <= wechat.TITLE_MAX
    assert len(article["author"]) <= wechat.AUTHOR_MAX
    assert len(article["digest"]) <= wechat.DIGEST_MAX
    content = article["content"]
    n_images = content.count(f'src="{wechat.IMAGE_SCHEME}')
    assert len(content) + n_images * wechat.UPLOADIMG_URL_RESERVE < wechat.CONTENT_MAX_CHARS
    assert len(content.encode("utf-8")) + n_images * wechat.UPLOADIMG_URL_RESERVE < wechat.CONTENT_MAX_BYTES
    assert not re.search(r"<a[\s>]", content), "WeChat content carries no <a>"
    assert len(article["content_source_url"].encode("utf-8")) <= wechat.SOURCE_URL_MAX_BYTES
    assert article["thumb_media_id"] == wechat.COVER_PLACEHOLDER
    manifest = json.loads(rd.files[wechat.MANIFEST_FILE])
    for upload in manifest["images"]:
        data = rd.files[upload["file"]]
        assert len(data) < wechat.UPLOADIMG_MAX_BYTES and image(data).format in ("PNG", "JPEG"), upload["file"]
        assert upload["placeholder"] in content
    cover = manifest["cover"]
    data = rd.files[cover["file"]]
    assert len(data) <= wechat.COVER_MAX_BYTES
    assert image(data).size == (cover["width"], cover["height"])
    assert {k: article[k] for k in ("pic_crop_235_1", "pic_crop_1_1")} == wechat.crops(cover["width"], cover["height"])


def check_weibo(release, ctx, rd) -> None:
    status = rd.payload["status"]
    count = weibo.length_counter(ctx.settings)  # the count the settings name, which validation used
    assert rd.files[weibo.SHARE_FILE] == dump_json(rd.payload)
    assert count(status) <= weibo.STATUS_MAX, f"{count(status)} > {weibo.STATUS_MAX}"
    assert "#" not in status and "＃" not in status, "statuses/share refuses #话题#"
    assert status.endswith(weibo.LINK_LABEL + ctx.url_for(release.id))
    assert rd.payload["pic"] == weibo.PIC_FILE
    assert len(rd.files[weibo.PIC_FILE]) < weibo.PIC_MAX_BYTES
    assert image(rd.files[weibo.PIC_FILE]).format in ("PNG", "JPEG", "GIF")
    manual = rd.files[weibo.MANUAL_FILE].decode("utf-8").rstrip("\n")
    tags = re.match(r"(?:#[^#]+#)*", manual).group(0)
    assert tags.count("#") // 2 <= weibo.MAX_HASHTAGS
    too_long = count(manual) > weibo.STATUS_MAX
    assert too_long == any("人工发布文案" in w and "超过微博" in w for w in rd.warnings), \
        "a hand post over the limit gets a warning, and only then"


def check_tv(release, ctx, rd) -> None:
    assert set(rd.files) == {f"{release.id}.txt", f"{release.id}.html", f"{release.id}.srt"}
    outlet = ctx.settings.outlet("tv")
    cpm = outlet["chars_per_minute"]  # its default comes from the settings module
    slot = outlet["slot_seconds"]
    blocks, _ = tv.build_blocks(release, ctx)
    names = {s.name for s in release.speakers} | {e.name for e in release.experts}
    seconds = tv.read_seconds(sum(tv.spoken_chars(b.text) for b in blocks), cpm)
    over = [w for w in rd.warnings if "超过栏目时段" in w]
    assert bool(over) == (seconds > slot), f"read time {seconds:.0f} s, slot {slot} s, warnings {over}"
    for b in blocks:
        if b.kind == "同期声":  # only the editor's marked quotes (README "Content format")
            marked = [w for sec in release.sections for _n, w in markup.quotes(sec.body, names)[0]]
            assert any(tv.text(w) == b.text for w in marked), b.text
    srt = rd.files[f"{release.id}.srt"].decode("utf-8")
    for entry in filter(None, srt.split("\n\n")):
        lines = entry.split("\n")
        assert re.fullmatch(r"\d+", lines[0]) and " --> " in lines[1], entry
        for line in lines[2:]:
            assert len(line) <= tv.SUBTITLE_MAX, f"subtitle line {line!r} over {tv.SUBTITLE_MAX} characters"


def check_infographic(release, ctx, rd) -> None:
    poster, cover = image(rd.files["infographic.png"]), image(rd.files["cover.png"])
    assert poster.format == cover.format == "PNG"
    assert poster.width == infographic.POSTER_WIDTH and poster.height <= infographic.MAX_POSTER_HEIGHT
    assert cover.size == infographic.COVER_SIZE
    layout = infographic.poster_layout(release, ctx)
    assert layout.size == poster.size
    cover_layout = infographic.cover_layout(release, ctx)
    for lay in (layout, cover_layout):
        w, h = lay.size
        for op in lay.texts:
            x0, y0, x1, y1 = op.box
            assert 0 <= x0 and 0 <= y0 and x1 <= w and y1 <= h, f"{op.field} {op.text!r} outside the canvas"
    sx0, sy0, sx1, sy1 = infographic.SQUARE_BOX
    for op in cover_layout.texts:
        if op.field in ("title", "wechat_title"):
            x0, y0, x1, y1 = op.box
            assert sx0 <= x0 and x1 <= sx1 and sy0 <= y0 and y1 <= sy1, f"cover title {op.text!r} outside the 1:1 crop"


def check_h5(release, ctx, rd) -> None:
    name = h5.file_name(release.id)
    assert set(rd.files) == {name}
    page = rd.files[name]
    heavy = [w for w in rd.warnings if w.startswith("H5 页面")]
    assert bool(heavy) == (len(page) > h5.HEAVY_BYTES)
    html = page.decode("utf-8")
    assert not re.search(r"<(script|link|iframe)\b", html), "the page is self-contained: no script, no outside file"
    for src in re.findall(r'\ssrc="([^"]*)"', html):
        assert src.startswith("data:"), f"outside resource {src[:80]}"


def check_newspaper(release, ctx, rd) -> None:
    txt = rd.files[f"{release.id}.txt"]
    assert newspaper.TXT_ENCODING == "utf-8-sig" and txt.startswith(b"\xef\xbb\xbf"), "the .txt opens with a BOM"
    assert newspaper.DATELINE in txt.decode(newspaper.TXT_ENCODING)
    with zipfile.ZipFile(io.BytesIO(rd.files[f"{release.id}.docx"])) as z:
        assert "word/document.xml" in z.namelist()
        assert z.testzip() is None
    for img in release.images:
        assert rd.files[newspaper.photo_file(release.id, img.path)] == img.data


LIMITS = {
    "wechat": check_wechat,
    "weibo": check_weibo,
    "tv": check_tv,
    "infographic": check_infographic,
    "h5": check_h5,
    "newspaper": check_newspaper,
    # portal declares no limit of its own: the generic checks only.
}


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", channels.names())
def test_module_declares_name_and_label(channel):
    check_module(channel)


@pytest.mark.parametrize("case", CASES, ids=IDS, indirect=True)
def test_render_returns_a_matching_rendition(case):
    channel, release, ctx, rd = case
    check_rendition(channel, release, ctx, rd)


@pytest.mark.parametrize("case", CASES, ids=IDS, indirect=True)
def test_render_is_deterministic(case, samples, contexts):
    channel, release, ctx, rd = case
    others = [rid for ch, rid in CASES if ch == channel and rid != release.id]
    other = (samples[others[0]], contexts[others[0]]) if others else None
    check_deterministic(channel, release, ctx, rd, other)


@pytest.mark.parametrize("case", CASES, ids=IDS, indirect=True)
def test_channel_limits_hold(case):
    channel, release, ctx, rd = case
    check = LIMITS.get(channel)
    if check:
        check(release, ctx, rd)


# ---------------------------------------------------------------------------------------------
# The checks fail on renditions that break them


def _broken(rd: Rendition, **changes) -> Rendition:
    return dataclasses.replace(rd, **changes)


def _with_payload(rd: Rendition, file: str, payload) -> Rendition:
    return _broken(rd, payload=payload, files={**rd.files, file: dump_json(payload)})


GENERIC, LIMITS_OF_CHANNEL = "generic", "limits"
BREAKS = {
    "wrong channel": ("portal", GENERIC, lambda rd: _broken(rd, channel="h5")),
    "wrong release": ("portal", GENERIC, lambda rd: _broken(rd, release_id="other")),
    "wrong version": ("portal", GENERIC, lambda rd: _broken(rd, version="0" * 12)),
    "no files": ("portal", GENERIC, lambda rd: _broken(rd, files={})),
    "empty file": ("portal", GENERIC, lambda rd: _broken(rd, files={**rd.files, "x.html": b""})),
    "empty srt with sound bites": ("tv", GENERIC, lambda rd: _broken(rd, files={
        **rd.files, f"{rd.release_id}.srt": b""})),
    "parent path": ("portal", GENERIC, lambda rd: _broken(rd, files={**rd.files, "../x.html": b"x"})),
    "absolute path": ("portal", GENERIC, lambda rd: _broken(rd, files={**rd.files, "/x.html": b"x"})),
    "not a Rendition": ("portal", GENERIC, lambda rd: dataclasses.asdict(rd)),
    "weibo too long": ("weibo", LIMITS_OF_CHANNEL, lambda rd: _with_payload(rd, weibo.SHARE_FILE, {
        **rd.payload, "status": "长" * 120 + rd.payload["status"]})),
    "weibo hashtag": ("weibo", LIMITS_OF_CHANNEL, lambda rd: _with_payload(rd, weibo.SHARE_FILE, {
        **rd.payload, "status": "#话题#" + rd.payload["status"]})),
    "wechat title": ("wechat", LIMITS_OF_CHANNEL, lambda rd: _with_payload(rd, wechat.DRAFT_FILE, {"articles": [{
        **rd.payload["articles"][0], "title": "标" * (wechat.TITLE_MAX + 1)}]})),
    "wechat digest": ("wechat", LIMITS_OF_CHANNEL, lambda rd: _with_payload(rd, wechat.DRAFT_FILE, {"articles": [{
        **rd.payload["articles"][0], "digest": "摘" * (wechat.DIGEST_MAX + 1)}]})),
    "tv over slot, no warning": ("tv", LIMITS_OF_CHANNEL, lambda rd: _broken(rd, warnings=tuple(
        w for w in rd.warnings if "超过栏目时段" not in w))),
    "h5 outside image": ("h5", LIMITS_OF_CHANNEL, lambda rd: _broken(rd, files={
        k: v.replace(b"</main>", b'<img src="https://x/a.png" alt=""></main>', 1) for k, v in rd.files.items()})),
    "poster too wide": ("infographic", LIMITS_OF_CHANNEL, lambda rd: _broken(rd, files={
        **rd.files, "infographic.png": _png(infographic.POSTER_WIDTH + 1, 100)})),
    "newspaper without BOM": ("newspaper", LIMITS_OF_CHANNEL, lambda rd: _broken(rd, files={
        k: v.removeprefix(b"\xef\xbb\xbf") for k, v in rd.files.items()})),
}
# The release each break starts from: one whose TV script has sound bites and runs over its slot.
BREAK_RELEASE = "work-report-2026-q3"  # has a marked quote: the TV script has a sound bite


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height), (255, 255, 255)).save(buf, "PNG")
    return buf.getvalue()


def _check(kind: str, channel: str, release, ctx, rd) -> None:
    if kind == GENERIC:
        check_rendition(channel, release, ctx, rd)
    else:
        LIMITS[channel](release, ctx, rd)


@pytest.mark.parametrize("what", sorted(BREAKS))
def test_the_checks_catch_a_broken_rendition(what, samples, contexts):
    channel, kind, breaking = BREAKS[what]
    release, ctx = samples[BREAK_RELEASE], contexts[BREAK_RELEASE]
    rd = channels.render(channel, release, ctx)
    _check(kind, channel, release, ctx, rd)  # the real rendition passes
    with pytest.raises(AssertionError):
        _check(kind, channel, release, ctx, breaking(rd))


def test_the_determinism_check_catches_a_changing_render(samples, contexts, monkeypatch):
    release, ctx = samples["water-price-rumor"], contexts["water-price-rumor"]
    rd = channels.render("portal", release, ctx)
    calls = iter(range(1, 100))
    real = portal.render
    monkeypatch.setattr(portal, "render", lambda r, c: _broken(
        real(r, c), files={f"{r.id}.html": f"<p>{next(calls)}</p>".encode()}))
    with pytest.raises(AssertionError, match="different bytes"):
        check_deterministic("portal", release, ctx, rd)


@pytest.mark.parametrize(("attr", "value"), [("name", "micro-blog"), ("label", "Weibo"), ("label", " "), ("short", "")])
def test_the_module_check_catches_a_wrong_declaration(attr, value, monkeypatch):
    import dataclasses

    monkeypatch.setattr(weibo, "CHANNEL", dataclasses.replace(weibo.CHANNEL, **{attr: value}))
    with pytest.raises(AssertionError):
        check_module("weibo")
