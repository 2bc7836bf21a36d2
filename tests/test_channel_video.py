"""The micro-video (微视频): the plan rendered in validation, the MP4 encoded at delivery through the delivery
engine into the outbox, read back with ffprobe and ffmpeg, and played on the portal page in Chromium.

These tests turn the video on (tests/conftest.py turns it off for everything else)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PIL import ImageChops, ImageStat

import channels
from channels import h264, video
from channels.base import EncodeError, video_files
from channels.corrections import Withdrawal
from pressroom.delivery import engine
from pressroom.delivery.ledger import Ledger, worker_token
from pressroom.errors import RenditionError, ValidationFailed
from pressroom.text.linebreak import load_cjk_font, missing_glyphs
from tests.browser import PHONE, SHOTS, browser, shoot  # noqa: F401  (browser is a fixture)

ROOT = Path(__file__).resolve().parent.parent
RID = "water-price-rumor"  # an opinion release with two key figures
pytestmark = pytest.mark.skipif(not shutil.which("ffprobe"), reason="ffmpeg not installed (scripts/system-deps.sh)")


@pytest.fixture(scope="module")
def on(tmp_path_factory):
    """The project's settings with the micro-video on, an outbox and a ledger of their own."""
    from pressroom.settings import load_settings

    tmp = tmp_path_factory.mktemp("video")
    mp = pytest.MonkeyPatch()
    mp.delenv("PRESSROOM_VIDEO", raising=False)
    mp.setenv("PRESSROOM_OUTBOX", str(tmp / "outbox"))
    mp.setenv("PRESSROOM_LEDGER_URL", f"sqlite:///{tmp / 'ledger.db'}")
    settings = load_settings(ROOT / "pressroom.toml")
    yield settings
    mp.undo()


@pytest.fixture(scope="module")
def loaded(on):
    from pressroom.releases.loader import load_all, load_registry

    releases, problems = load_all(on, load_registry(on.content_dir))
    assert not problems and all("video" in r.channels for r in releases.values())
    return releases


def ctx_of(rid, loaded, settings):
    return channels.context_for(loaded[rid], loaded, settings)


@pytest.fixture(scope="module")
def delivered(on, loaded):
    """The sample published on the video and portal channels through the delivery engine."""
    release = loaded[RID]
    ctx = ctx_of(RID, loaded, on)
    token = worker_token()
    out = {}
    for ch in ("portal", "video"):
        rd = channels.render(ch, release, ctx)
        o = engine.deliver(engine.Job(release.id, ch, release.version), rd, on, token)
        assert o.state == "published", o.error
        out[ch] = rd
    folder = on.outbox_dir / "portal" / "video" / RID
    return folder, out["video"]


def probe(path: Path) -> dict:
    run = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def frame_at(mp4: Path, seconds: float, out: Path) -> PILImage.Image:
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-ss", f"{seconds:.2f}", "-i", str(mp4), "-frames:v", "1", str(out)],
                   check=True)
    return PILImage.open(out).convert("RGB")


def plan_of(rd) -> dict:
    return json.loads(rd.files[video_files(rd.release_id).plan])


# ---------------------------------------------------------------------------------------------
# The MP4 as a platform reads it


def test_the_mp4_is_vertical_h264_with_a_silent_aac_track_in_range(delivered, on):
    folder, rd = delivered
    info = probe(folder / f"{RID}.mp4")
    v = next(s for s in info["streams"] if s["codec_type"] == "video")
    a = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert (v["codec_name"], v["width"], v["height"], v["pix_fmt"]) == ("h264", 1080, 1920, "yuv420p")
    assert v["r_frame_rate"] == f"{on.outlet('video')['fps']}/1"
    assert a and a[0]["codec_name"] == "aac"
    duration = float(info["format"]["duration"])
    lo, hi = on.outlet("video")["min_seconds"], on.outlet("video")["max_seconds"]
    assert lo <= duration <= hi + 0.1
    assert abs(duration - plan_of(rd)["duration"]) < 0.2
    # Beside it: the cards, the poster, the subtitles and the WebVTT track; the page links them.
    names = video_files(RID)
    for name in (names.poster, names.srt, names.vtt, "cards/01-title.png"):
        assert (folder / name).is_file(), name
    assert PILImage.open(folder / names.poster).format == "JPEG"
    # The delivered cards are the deterministic ones approvers were shown (made while x264 encodes).
    pngs = video.card_pngs(rd)
    assert {n: (folder / n).read_bytes() for n in pngs} == pngs
    assert (folder / names.poster).read_bytes() == video.poster_jpeg(pngs["cards/01-title.png"])
    page = (on.outbox_dir / "portal" / f"{RID}.html").read_text(encoding="utf-8")
    assert f'src="video/{RID}/{RID}.mp4"' in page and f'poster="video/{RID}/poster.jpg"' in page


def test_the_frame_rate_is_constant_and_each_still_is_one_keyframe_held(delivered, on):
    """Platforms want a constant rate: every frame lasts 1/fps s, as many frames as the plan's length. Each
    still is a keyframe (a player seeking lands on the picture), the frames holding it are skipped pictures,
    and ffmpeg decodes the whole stream without one error."""
    folder, rd = delivered
    mp4, fps, doc = folder / f"{RID}.mp4", on.outlet("video")["fps"], plan_of(rd)
    v = next(s for s in probe(mp4)["streams"] if s["codec_type"] == "video")
    assert v["avg_frame_rate"] == v["r_frame_rate"] == f"{fps}/1"
    run = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,size,flags",
                          "-of", "csv=p=0", str(mp4)], capture_output=True, text=True, check=True)
    packets = [ln.split(",") for ln in run.stdout.split()]
    assert len(packets) == round(doc["duration"] * fps)
    times = [float(p[0]) for p in packets]
    assert all(abs(b - a - 1 / fps) < 1e-3 for a, b in zip(times, times[1:]))
    spans = [video.frame_span(s["start"], s["end"], fps) for s in doc["segments"]]
    keys = [i for i, p in enumerate(packets) if "K" in p[2]]
    starts = [sum(spans[:i]) for i, n in enumerate(spans) if n]
    assert keys == starts
    assert all(int(p[1]) < 64 for i, p in enumerate(packets) if i not in set(keys))
    decode = subprocess.run(["ffmpeg", "-v", "error", "-err_detect", "explode", "-xerror", "-i", str(mp4), "-f", "null",
                             "-"], capture_output=True, text=True)
    assert decode.returncode == 0 and not decode.stderr.strip(), decode.stderr


def test_the_encoder_stream_is_checked_before_stills_are_held(tmp_path):
    """A stream the skipped pictures cannot follow (here x264's default CABAC) is refused, not muxed."""
    out = tmp_path / "cabac.h264"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64:r=25", "-frames:v", "2",
                    "-c:v", "libx264", "-g", "1", "-f", "h264", str(out)], check=True)
    with pytest.raises(ValueError, match="CABAC"):
        h264.hold(out.read_bytes(), [3, 3])


def test_five_moments_show_the_cards_with_captions_inside_the_safe_area(delivered, tmp_path):
    folder, rd = delivered
    doc = plan_of(rd)
    cards = {c["kind"]: c for c in doc["cards"]}
    first_figure = next(c for c in doc["cards"] if c["kind"] == "figure")
    moments = {
        "title": 0.8,
        "figure-label": first_figure["start"] + 0.2,  # the label alone, before the number comes in
        "figure": first_figure["start"] + 1.5,
        "point": (cards["point"]["start"] + cards["point"]["end"]) / 2,
        "end": doc["duration"] - 1.0,
    }
    pngs = {n: PILImage.open(io.BytesIO(b)).convert("RGB") for n, b in video.card_pngs(rd).items()}
    SHOTS.mkdir(parents=True, exist_ok=True)
    captioned = 0
    for label, t in moments.items():
        frame = frame_at(folder / f"{RID}.mp4", t, SHOTS / f"video-{RID}-{label}.png")
        seg = next(s for s in doc["segments"] if s["start"] <= t < s["end"])
        card = pngs[seg["still"]]
        # Above the caption zone the frame is the card (H.264 noise only) ...
        top = (0, 0, 1080, video.CAPTION_ZONE[1])
        diff = ImageStat.Stat(ImageChops.difference(frame.crop(top), card.crop(top))).mean
        assert max(diff) < 4, (label, diff)
        # ... and the platform's strips (above and below the safe area) carry no caption.
        below = (0, video.SAFE_BOTTOM + 4, 1080, 1920)
        assert max(ImageStat.Stat(ImageChops.difference(frame.crop(below), card.crop(below))).mean) < 4, label
        burned = ImageStat.Stat(ImageChops.difference(frame.crop(video.CAPTION_ZONE), card.crop(video.CAPTION_ZONE))).mean
        if seg["caption"] is not None:
            captioned += 1
            assert max(burned) > 8, f"{label}: no caption burned in at {t:.1f}s"
        else:
            assert max(burned) < 4, f"{label}: something in the caption zone at {t:.1f}s without a caption"
    assert captioned >= 3
    # The number is "animated in": the label-only still and the full one differ where the value is drawn.
    a, b = pngs[first_figure["reveal"]], pngs[first_figure["file"]]
    assert ImageChops.difference(a, b).getbbox() is not None


def test_every_drawn_character_is_in_the_font_and_inside_the_safe_area(on, loaded):
    for rid, r in sorted(loaded.items()):
        doc, layouts, caps, _w = video.plan(r, ctx_of(rid, loaded, on))
        assert 2 <= sum(c["kind"] == "point" for c in doc["cards"]) <= 4 or not r.sections
        for name, layout in layouts.items():
            for op in layout.texts:
                assert not missing_glyphs(op.font, op.text), (rid, name, op.text)
                x0, y0, x1, y1 = op.box
                assert video.SAFE_TOP <= y0 and y1 <= video.CONTENT_BOTTOM, (rid, name, op.text, op.box)
        font = load_cjk_font(video.CAPTION_SIZE, True)
        for cap in caps:
            assert not missing_glyphs(font, cap.text)
            assert 1 <= len(cap.lines) <= video.CAPTION_LINES and "".join(cap.lines).replace(" ", "") == cap.text.replace(" ", "")
            for _line, _xy, (x0, y0, x1, y1) in video.caption_boxes(cap):
                assert video.SAFE_X <= x0 and x1 <= 1080 - video.SAFE_X, (rid, cap.text)
                assert video.CAPTION_ZONE[1] <= y0 and y1 <= video.SAFE_BOTTOM, (rid, cap.text)
        assert doc["duration"] <= on.outlet("video")["max_seconds"]
        # The cards say what the release says: the drawn lines of each card joined are its whole texts.
        for c in doc["cards"]:
            drawn = "".join(op.text for op in layouts[c["file"]].texts).replace(" ", "")
            assert all(t.replace(" ", "") in drawn for t in c["texts"]), c


def test_a_character_the_font_lacks_fails_validation_naming_the_field(on, loaded):
    r = replace(loaded[RID], title="我市居民生活用水价格不会翻倍😀")
    with pytest.raises(RenditionError) as e:
        video.render(r, ctx_of(RID, loaded, on))
    assert e.value.channel == "video" and e.value.field == "title" and "方框" in e.value.message


def test_captions_are_the_tv_narration_and_never_cut_a_number_from_its_unit(on, loaded):
    r = loaded["notice-2017-78"]
    caps = [c["text"] for c in plan_of(video.render(r, ctx_of(r.id, loaded, on)))["captions"]]
    assert any("24小时" in c for c in caps)
    assert not any(c.endswith(tuple("0123456789")) for c in caps)
    assert "本台消息" not in "".join(caps)
    long = "一" * 30 + "2026年" + "二" * 30
    chunks = video.caption_chunks(long)
    assert "".join(chunks) == long and any("2026年" in c for c in chunks)
    assert all(len(video.caption_lines(c)) <= video.CAPTION_LINES for c in chunks)


def test_the_plan_and_the_cards_are_deterministic(on, loaded):
    r = loaded[RID]
    a, b = video.render(r, ctx_of(RID, loaded, on)), video.render(r, ctx_of(RID, loaded, on))
    assert a.files == b.files and a.content_hash == b.content_hash
    from channels import infographic

    first = video.card_pngs(a)
    infographic.clear_cache()
    assert video.card_pngs(b) == first
    assert video.poster(r, ctx_of(RID, loaded, on)) == video.poster_jpeg(first["cards/01-title.png"])


def test_the_title_card_shows_a_date_never_a_time_of_day(on, loaded):
    r = loaded[RID]
    doc = plan_of(video.render(r, ctx_of(RID, loaded, on)))
    title = doc["cards"][0]["texts"]
    local = r.publish_at.astimezone(on.tz)
    assert f"{local.year}年{local.month}月{local.day}日" in title
    assert not any(f"{local:%H:%M}" in t for c in doc["cards"] for t in c["texts"])


def test_the_configured_length_is_kept(on, loaded):
    short = replace(on, outlets=replace(on.outlets, video=replace(on.outlets.video, min_seconds=20, max_seconds=30)))
    for rid, r in loaded.items():
        rd = video.render(r, channels.context_for(r, loaded, short))
        doc = plan_of(rd)
        assert 20 <= doc["duration"] <= 30
        assert doc["segments"][0]["start"] == 0 and doc["segments"][-1]["end"] == doc["duration"]
        assert all(c["end"] <= doc["duration"] for c in doc["captions"])


def test_video_points_come_first_and_are_validated(on, loaded, tmp_path):
    r = replace(loaded[RID], video_points=("水价调整须经听证", "目前没有启动调价程序"))
    doc = plan_of(video.render(r, ctx_of(RID, loaded, on)))
    assert [c["texts"] for c in doc["cards"] if c["kind"] == "point"] == [["水价调整须经听证"], ["目前没有启动调价程序"]]
    from pressroom.releases.loader import load_registry, load_release

    src = ROOT / "content" / "releases" / RID
    shutil.copytree(src, tmp_path / RID)
    md = tmp_path / RID / "release.md"
    text = md.read_text(encoding="utf-8")
    md.write_text(text.replace("\ndigest:", "\nvideo_points: [只有一条]\ndigest:", 1), encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        load_release(tmp_path / RID, load_registry(on.content_dir), on)
    assert any(p.field == "video_points" and "2～4" in p.message for p in e.value.problems)


def test_the_fidelity_audit_reads_cards_and_captions(on, loaded):
    from pressroom.releases import catalog as cat

    c = cat.validate(on)
    assert not c.problems, c.problems
    for rid, a in c.audits.items():
        row = next(ch for ch in a.channels if ch.channel == "video")
        assert row.carries == "summary" and not row.added, (rid, row.added)
        assert row.kept  # it does say things the release says
    # A caption that adds a number is caught.
    r = loaded[RID]
    rd = c.renditions[(RID, "video")]
    doc = plan_of(rd)
    doc["captions"][0]["text"] = "涨价幅度为37%"
    tampered = replace(rd, files={**rd.files, video_files(RID).plan: json.dumps(doc, ensure_ascii=False).encode()})
    from pressroom.releases import audit

    row = audit.audit_release(r, c.registry, {"video": tampered}, {"video": ("微视频", "summary")},
                              cat._furniture(r, c)).channels[0]
    assert any("37%" in f.shown for f in row.added)


# ---------------------------------------------------------------------------------------------
# Delivery: after the other channels, failing alone, taken down with the page


def test_without_ffmpeg_only_the_video_fails_with_a_clear_message(on, loaded):
    broken = replace(on, outlets=replace(on.outlets, video=replace(on.outlets.video, ffmpeg="/nonexistent/ffmpeg")))
    r = loaded["rainstorm-2026-11"]
    rd = channels.render("video", r, ctx_of(r.id, loaded, broken))
    with pytest.raises(EncodeError, match="找不到 ffmpeg"):
        channels.finish("video", rd, broken)
    o = engine.deliver(engine.Job(r.id, "video", r.version), rd, broken, worker_token())
    assert o.state == "failed" and "找不到 ffmpeg" in o.error and "system-deps.sh" in o.error
    portal = channels.render("portal", r, ctx_of(r.id, loaded, broken))
    assert engine.deliver(engine.Job(r.id, "portal", r.version), portal, broken, worker_token()).state == "published"


def test_the_video_goes_in_the_last_wave_and_is_on_by_default(on):
    assert channels.get("video").slow and not any(c.slow for c in channels.declared() if c.name != "video")
    assert "video" in channels.configured(on)
    off = replace(on, outlets=replace(on.outlets, video=replace(on.outlets.video, enabled=False)))
    assert "video" not in channels.configured(off)


# ---------------------------------------------------------------------------------------------
# Where people look


def test_the_portal_page_plays_the_video_muted_inline_at_375_px(browser, delivered, on):  # noqa: F811
    folder, _rd = delivered
    page_path = on.outbox_dir / "portal" / f"{RID}.html"
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(page_path.resolve().as_uri(), wait_until="load")
        v = page.locator("video").first
        assert v.get_attribute("poster") == f"video/{RID}/poster.jpg"
        props = page.evaluate("""() => { const v = document.querySelector('video');
            return {muted: v.muted, inline: v.hasAttribute('playsinline'), controls: v.controls,
                    track: v.querySelector('track').getAttribute('kind'), trackDefault: v.querySelector('track').default,
                    canPlay: v.canPlayType('video/mp4; codecs="avc1.42E01E, mp4a.40.2"')}; }""")
        assert props["muted"] and props["inline"] and props["controls"] and props["track"] == "captions"
        assert not props["trackDefault"]  # captions are burned in: the track is offered, not shown twice
        box = v.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["height"] > box["width"]
        poster_ok = page.evaluate("""() => new Promise(ok => { const i = new Image();
            i.onload = () => ok([i.naturalWidth, i.naturalHeight]); i.onerror = () => ok(null);
            i.src = document.querySelector('video').poster; })""")
        assert poster_ok == [1080, 1920]
        if not props["canPlay"]:
            pytest.skip("this Chromium build has no H.264 decoder")
        played = page.evaluate("""() => new Promise(ok => { const v = document.querySelector('video');
            v.play().then(() => setTimeout(() => ok({t: v.currentTime, paused: v.paused, w: v.videoWidth,
                                                      h: v.videoHeight}), 1500), e => ok({error: String(e)})); })""")
        assert "error" not in played, played
        assert not played["paused"] and played["t"] > 0.3 and (played["w"], played["h"]) == (1080, 1920)
        shoot(v, f"video-portal-{RID}-375-playing")
        shoot(page, f"video-portal-{RID}-375", full_page=True)
    finally:
        context.close()


def test_the_h5_page_and_the_press_hall_show_it(on, loaded, delivered, tmp_path):
    folder, rd = delivered
    r = loaded[RID]
    ctx = ctx_of(RID, loaded, on)
    h5 = channels.render("h5", r, ctx).files[f"{RID}-h5.html"].decode("utf-8")
    assert f'src="{ctx.portal_base}video/{RID}/{RID}.mp4"' in h5 and 'poster="data:image/jpeg;base64,' in h5
    assert "playsinline" in h5 and "muted" in h5 and 'preload="none"' in h5
    from pressroom.releases.loader import load_registry
    from pressroom.sites import presshall

    out = tmp_path / "presshall"
    published = {RID: r.publish_at, "work-report-2026-q3": loaded["work-report-2026-q3"].publish_at}
    from pressroom.sites import coverage

    presshall.build_site(loaded.values(), published, load_registry(on.content_dir), on, out,
                         media=coverage.load(on.content_dir), videos=presshall.videos_in_outbox(on, published))
    section = (out / "videos" / "index.html").read_text(encoding="utf-8")
    assert f'src="../../video/{RID}/{RID}.mp4"' in section and "微视频" in section
    # The conference's recordings stay a list of their own, apart from the micro-videos.
    assert 'aria-label="发布会视频实录"' in section


def test_approvers_see_every_card_and_caption(on, delivered):
    _folder, rd = delivered
    v = channels.view("video", rd, on)
    (name, html), = v.pages.items()
    doc = plan_of(rd)
    assert html.count("data:image/jpeg;base64,") == len(doc["cards"])
    assert all(c["text"] in html for c in doc["captions"])


def test_a_correction_re_renders_the_video(on, loaded, delivered):
    folder, rd = delivered
    from channels.corrections import Correction

    r = loaded[RID]
    before = (folder / "cards" / "01-title.png").read_bytes()
    fixed = replace(r, subtitle="调价须经成本监审和价格听证", content_hash="f" * 64)
    ctx = ctx_of(RID, loaded, on)
    c = Correction(datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc), r.version, "副题有误，已更正。")
    new = channels.correct("video", fixed, ctx, channels.render("video", fixed, ctx), c, [], None)
    o = engine.deliver(engine.Job(RID, "video", fixed.version), new, on, worker_token())
    assert o.state == "published", o.error
    assert (folder / "cards" / "01-title.png").read_bytes() != before
    assert "调价须经成本监审和价格听证" in (folder / f"{RID}-video.json").read_text(encoding="utf-8")
    assert (folder / f"{RID}.mp4").stat().st_size > 0


def test_a_withdrawal_takes_the_video_down(on, loaded, delivered):
    folder, rd = delivered
    r = loaded[RID]
    w = Withdrawal(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc), "f" * 12, "内容有误", "本文已撤稿。", r.title)
    gone = channels.withdraw("video", RID, ctx_of(RID, loaded, on), w)
    o = engine.deliver(engine.Job(RID, "video", gone.version), gone, on, worker_token())
    assert o.state == "published"
    assert not (folder / f"{RID}.mp4").exists() and not (folder / "poster.jpg").exists()
    assert not (folder / "cards").exists() or not any((folder / "cards").iterdir())
    assert "撤下" in (folder / "withdrawn.txt").read_text(encoding="utf-8")
    from pressroom.sites.presshall import videos_in_outbox

    assert videos_in_outbox(on, [RID]) == {}
