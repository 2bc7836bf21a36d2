"""图解: the poster PNG and the WeChat cover."""

from __future__ import annotations

import io
import struct

import pytest
import segno
from PIL import Image as PILImage

from channels import infographic
from channels.infographic import COVER_SIZE, POSTER_WIDTH, QrOp, TextOp
from pressroom.errors import RenditionError
from pressroom.text.linebreak import missing_glyphs
from pressroom.model import Image, KeyFigure, Section
from tests.test_channel_portal import SAMPLE_IDS, loaded, make_release, png, samples_or_skip  # noqa: F401

LONG_TITLE = ("我市出台进一步优化营商环境若干措施，围绕市场准入、要素保障、政务服务、法治保障四个方面推出"
              "三十条具体举措，着力打造市场化法治化国际化一流营商环境，持续激发各类经营主体活力")


def image_of(data: bytes) -> PILImage.Image:
    im = PILImage.open(io.BytesIO(data))
    im.load()
    return im


def chunk_types(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        out.append(kind)
        pos += 12 + length
    return out


def assert_inside(layout, margin: int = 0) -> None:
    w, h = layout.size
    for op in layout.ops:
        box = getattr(op, "box", None)  # text, blocks and the QR code; a background picture is the canvas
        if box is None:
            continue
        x0, y0, x1, y1 = box
        m = margin if isinstance(op, TextOp) else 0
        assert m <= x0 and x1 <= w - m and 0 <= y0 and y1 <= h, (getattr(op, "text", op), box, layout.size)


def lines_of(layout, field: str) -> list[TextOp]:
    return [op for op in layout.texts if op.field == field]


# ---------------------------------------------------------------------------------------------
# Files


def test_renders_poster_and_cover_pngs(ctx):
    r = make_release()
    rd = infographic.render(r, ctx)
    assert rd.channel == "infographic" and set(rd.files) == {"infographic.png", "infographic-thumb.jpg", "cover.png",
                                                             "infographic.txt", "cover.txt"}
    poster = image_of(rd.files["infographic.png"])
    cover = image_of(rd.files["cover.png"])
    assert poster.format == "PNG" and poster.width == POSTER_WIDTH and 1000 < poster.height <= 3600
    assert cover.size == COVER_SIZE == (900, 383)
    assert rd.files["infographic.png"] == infographic.poster_png(r, ctx)  # what the H5 page embeds
    # Beside each picture its words, whole: the title as one line however the poster broke it.
    words = rd.files["infographic.txt"].decode("utf-8").splitlines()
    assert r.title in words and "扫码阅读全文" in words
    assert (r.wechat_title or r.title) in rd.files["cover.txt"].decode("utf-8").splitlines()


def test_bytes_are_deterministic_and_carry_no_metadata(ctx):
    r = make_release()
    a, b = infographic.render(r, ctx), infographic.render(r, ctx)
    assert a.files == b.files and a.content_hash == b.content_hash
    for data in (a.files["infographic.png"], a.files["cover.png"]):
        assert set(chunk_types(data)) <= {b"IHDR", b"IDAT", b"IEND"}  # no tIME, tEXt, pHYs …
    thumb = image_of(a.files["infographic-thumb.jpg"])
    assert thumb.format == "JPEG" and not thumb.getexif() and "icc_profile" not in thumb.info
    assert b"Exif" not in a.files["infographic-thumb.jpg"][:200]


def test_the_thumbnail_is_the_whole_poster_scaled_down(ctx):
    rd = infographic.render(make_release(), ctx)
    poster, thumb = image_of(rd.files["infographic.png"]), image_of(rd.files["infographic-thumb.jpg"])
    assert thumb.width == infographic.THUMB_WIDTH == 360
    assert abs(thumb.width / thumb.height - poster.width / poster.height) < 0.01 * poster.width / poster.height
    # Not a crop: the poster scaled to the thumbnail's size looks like the thumbnail, top and bottom alike.
    from PIL import ImageChops, ImageStat

    scaled = poster.convert("RGB").resize(thumb.size)
    diff = ImageStat.Stat(ImageChops.difference(scaled, thumb.convert("RGB"))).mean
    assert max(diff) < 6, diff


def test_an_edited_release_never_gets_the_previous_poster(ctx):
    """The poster is painted once and shared by 图解, 微博 and H5; an edit must still show at once."""
    before = make_release()
    first = infographic.poster_png(before, ctx)
    edited = make_release(key_figures=(KeyFigure("居民用水价格", "2.40", "元/吨"), KeyFigure("年内调价计划", "0", "项")))
    second = infographic.poster_png(edited, ctx)
    assert second != first
    assert "2.40" in [op.text for op in infographic.poster_layout(edited, ctx).texts]
    infographic.clear_cache()
    assert infographic.poster_png(edited, ctx) == second  # what was served is what painting gives
    assert infographic.poster_png(before, ctx) == first


def _counting_paints(monkeypatch) -> list:
    painted = []
    real = infographic._paint

    def paint(layout):
        painted.append("cover" if layout.size == COVER_SIZE else "poster")
        return real(layout)

    monkeypatch.setattr(infographic, "_paint", paint)
    infographic.clear_cache()
    return painted


def test_every_channel_of_a_release_gets_the_same_poster_and_cover_painted_once(ctx, monkeypatch):
    """Channels render at the same time in a publish (its tasks): the poster and the cover are each painted
    once, and what each channel gets is what painting alone gives."""
    import threading

    from channels import portal, wechat, weibo

    r = make_release(channels=("portal", "wechat", "weibo", "infographic", "h5"),
                     cover=Image("images/cover.png", png(1600, 900, (200, 220, 240)), "PNG", 1600, 900))
    painted = _counting_paints(monkeypatch)
    out: dict = {}
    start = threading.Barrier(4)

    def run(mod):
        start.wait()
        out[mod.NAME] = mod.render(r, ctx)

    threads = [threading.Thread(target=run, args=(m,)) for m in (portal, wechat, weibo, infographic)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(painted) == ["cover", "poster"], painted
    poster = out["infographic"].files["infographic.png"]
    assert out["portal"].files[portal.infographic_name(r.id)] == poster
    infographic.clear_cache()
    alone = infographic.render(r, ctx)
    assert alone.files == out["infographic"].files  # the thumbnail from the painted pixels is the same too


def test_another_cover_photo_is_another_cover(ctx, monkeypatch):
    painted = _counting_paints(monkeypatch)
    blue = infographic.cover_png(make_release(cover=Image("images/c.png", png(1600, 900, (20, 40, 240)), "PNG",
                                                          1600, 900)), ctx)
    green = infographic.cover_png(make_release(cover=Image("images/c.png", png(1600, 900, (20, 240, 40)), "PNG",
                                                           1600, 900)), ctx)
    assert blue != green and painted == ["cover", "cover"]
    assert image_of(blue).convert("RGB").getpixel((5, 5)) != image_of(green).convert("RGB").getpixel((5, 5))


def test_a_picture_of_unknown_source_is_painted_every_time(monkeypatch):
    painted = _counting_paints(monkeypatch)
    layout = infographic.Layout(COVER_SIZE, [infographic.PictureOp(PILImage.new("RGB", COVER_SIZE, (9, 9, 9)))])
    first = infographic.paint(layout)
    layout.ops[0].image.paste((250, 250, 250), (0, 0, 900, 383))
    second = infographic.paint(layout)
    assert painted == ["cover", "cover"]
    assert image_of(second).convert("RGB").getpixel((0, 0)) == (250, 250, 250) != image_of(first).getpixel((0, 0))


# ---------------------------------------------------------------------------------------------
# The poster's content


def test_poster_shows_title_figures_points_and_source(ctx, settings):
    r = make_release()
    layout = infographic.poster_layout(r, ctx)
    drawn = [op.text for op in layout.texts]
    assert "".join(op.text for op in lines_of(layout, "title")) == r.title  # wrapped, nothing lost
    assert "".join(op.text for op in lines_of(layout, "kicker")) == r.kicker
    assert "".join(op.text for op in lines_of(layout, "subtitle")) == r.subtitle
    assert "权威发布" in drawn and r.kind_label in drawn
    assert settings.city["press_office"] in drawn
    figures = "".join(op.text for op in lines_of(layout, "key_figures"))
    for f in r.key_figures:
        assert f.value in drawn and f.unit in drawn and f.label in figures
    points = "".join(op.text for op in lines_of(layout, "sections"))
    assert "背景依据" in points and "主要内容" in points
    assert "新旧政策差异" not in points and "首次制定" not in points  # 不涉及 sections are left out
    assert "近日网络流传居民水价将翻倍。" in points and "2025年" not in points  # a table is no sentence
    assert "扫码阅读全文" in drawn
    source = "".join(op.text for op in lines_of(layout, "department"))
    assert f"来源：{r.department.name} · {settings.city['press_office']}" in source
    assert "2026年11月20日" in source


def test_text_is_really_drawn_where_the_layout_says(ctx):
    layout = infographic.poster_layout(make_release(), ctx)
    im = image_of(infographic.paint(layout)).convert("RGB")
    for op in lines_of(layout, "title"):
        crop = im.crop(tuple(round(v) for v in op.box))
        assert infographic.INK in {c for _n, c in crop.getcolors(1 << 20)}, op.text


def test_a_very_long_title_wraps_smaller_and_the_poster_grows(ctx):
    short = infographic.poster_layout(make_release(), ctx)
    long = infographic.poster_layout(make_release(title=LONG_TITLE), ctx)
    title_lines = lines_of(long, "title")
    assert "".join(op.text for op in title_lines) == LONG_TITLE
    assert len(title_lines) > 3 and len(title_lines) > len(lines_of(short, "title"))
    assert title_lines[0].size < lines_of(short, "title")[0].size  # one step smaller, then wrapped
    assert long.size[1] > short.size[1]
    assert_inside(long, margin=infographic.MARGIN - 40)
    image = image_of(infographic.paint(long))
    assert image.size == long.size


def test_no_text_leaves_the_canvas_even_with_long_everything(ctx):
    long_label = "其中新能源新材料高端装备制造等新兴产业产值占规模以上工业产值的比重"
    r = make_release(
        title=LONG_TITLE, kicker=LONG_TITLE[:40], subtitle=LONG_TITLE[10:60],
        key_figures=(KeyFigure(long_label, "123456789.123456", "万元/平方米"), KeyFigure("比重", "12.3", "%"),
                     KeyFigure(long_label, "35862", "元")),
        sections=tuple(Section(f"第{i}部分内容标题也可以相当长并且需要换行显示才能放下", "很长的一句话" * 40)
                       for i in range(6)),
    )
    layout = infographic.poster_layout(r, ctx)
    assert_inside(layout, margin=infographic.MARGIN - 40)
    assert layout.size[1] <= infographic.MAX_POSTER_HEIGHT


def test_too_tall_content_drops_trailing_points_with_a_warning(ctx, monkeypatch):
    monkeypatch.setattr(infographic, "MAX_POSTER_HEIGHT", 2000)
    r = make_release(sections=tuple(Section(f"要点{i}", "这是一段说明。" * 12) for i in range(4)))
    layout = infographic.poster_layout(r, ctx)
    assert layout.size[1] <= 2000
    headings = [op.text for op in lines_of(layout, "sections") if op.bold]
    assert headings and len(headings) < 4 and headings[0] == "要点0"
    assert any("要点" in w for w in layout.warnings)
    assert infographic.render(r, ctx).warnings == tuple(layout.warnings)


def test_more_key_figures_than_the_grid_holds_is_refused(ctx):
    figs = tuple(KeyFigure(f"指标{i}", str(i), "项") for i in range(7))
    with pytest.raises(RenditionError) as e:
        infographic.render(make_release(key_figures=figs), ctx)
    assert e.value.channel == "infographic" and e.value.field == "key_figures" and "7" in e.value.message


def test_qr_code_encodes_the_portal_url_and_is_drawn_module_for_module(ctx):
    r = make_release()
    layout = infographic.poster_layout(r, ctx)
    (qr,) = [op for op in layout.ops if isinstance(op, QrOp)]
    expected = segno.make(ctx.url_for(r.id), error="m", micro=False)
    assert qr.matrix == tuple(bytes(row) for row in expected.matrix)
    assert "https://www.huainan.gov.cn/xwfb/water-price-2026.html" == ctx.url_for(r.id)
    im = image_of(infographic.paint(layout)).convert("L")
    x0, y0, x1, y1 = qr.box
    assert (x1 - x0) >= 200  # big enough to scan from a phone screen
    q = qr.border * qr.scale
    for row, modules in enumerate(qr.matrix):
        for col, dark in enumerate(modules):
            px = im.getpixel((x0 + q + col * qr.scale + qr.scale // 2, y0 + q + row * qr.scale + qr.scale // 2))
            assert (px < 64) if dark else (px > 192), (row, col)
    assert all(im.getpixel((x0 + 1, y)) > 192 for y in range(y0, y1))  # quiet zone


# ---------------------------------------------------------------------------------------------
# Characters the font lacks


def test_an_emoji_in_the_title_fails_naming_the_field(ctx):
    with pytest.raises(RenditionError) as e:
        infographic.render(make_release(title="暴雨来了😀请注意出行安全"), ctx)
    assert e.value.channel == "infographic" and e.value.field == "title"
    assert "😀" in e.value.message and "标题" in e.value.message and "方框" in e.value.message


def test_a_character_missing_from_the_font_in_a_key_figure_fails(ctx):
    with pytest.raises(RenditionError) as e:
        infographic.poster_png(make_release(key_figures=(KeyFigure("𠀀类用户", "3", "户"),)), ctx)
    assert e.value.field == "key_figures" and "𠀀" in e.value.message


def test_an_emoji_in_the_wechat_title_fails_the_cover(ctx):
    with pytest.raises(RenditionError) as e:
        infographic.render(make_release(wechat_title="水价不会翻倍👍"), ctx)
    assert e.value.field == "wechat_title" and "👍" in e.value.message


# ---------------------------------------------------------------------------------------------
# The cover


def test_square_crop_constant_matches_the_centred_square():
    x1, y1, x2, y2 = (float(v) for v in infographic.SQUARE_CROP.split("_"))
    w, h = COVER_SIZE
    assert (y1, y2) == (0, 1)
    assert abs((x2 - x1) * w - h) < 0.5 and abs((x1 + x2) / 2 - 0.5) < 1e-9


def test_cover_title_sits_inside_the_square_and_side_text_outside_it(ctx):
    r = make_release()
    layout = infographic.cover_layout(r, ctx)
    assert layout.size == COVER_SIZE
    sq0, sq1 = infographic.SQUARE_BOX[0], infographic.SQUARE_BOX[2]
    title = lines_of(layout, "title")
    assert "".join(op.text for op in title) == r.title
    for op in layout.texts:
        x0, y0, x1, y1 = op.box
        assert 0 <= y0 and y1 <= COVER_SIZE[1]
        # Every text is wholly inside the square or wholly outside it: no crop cuts a word in half.
        assert (sq0 <= x0 and x1 <= sq1) or x1 <= sq0 or x0 >= sq1, (op.text, op.box)
    assert all(sq0 + 10 <= op.box[0] and op.box[2] <= sq1 - 10 for op in title)


def test_cover_prefers_the_wechat_title(ctx):
    layout = infographic.cover_layout(make_release(wechat_title="居民水价今年不调整"), ctx)
    assert "".join(op.text for op in lines_of(layout, "wechat_title")) == "居民水价今年不调整"
    assert not lines_of(layout, "title")


def test_a_title_too_long_for_the_cover_asks_for_a_wechat_title(ctx):
    with pytest.raises(RenditionError) as e:
        infographic.cover_png(make_release(title=LONG_TITLE), ctx)
    assert e.value.field == "title" and "wechat_title" in e.value.fix


def test_cover_image_becomes_a_darkened_background(ctx):
    photo = png(1600, 900, (200, 220, 240))
    plain = image_of(infographic.cover_png(make_release(), ctx)).convert("RGB")
    shot = image_of(infographic.cover_png(
        make_release(cover=Image("images/cover.png", photo, "PNG", 1600, 900)), ctx)).convert("RGB")
    corner = shot.getpixel((5, 5))
    assert corner != plain.getpixel((5, 5))
    assert sum(corner) < sum((200, 220, 240)) * 0.6  # darkened so white text reads
    assert corner[2] > corner[0] - 40  # it is the photo's colour, not the plain red


# ---------------------------------------------------------------------------------------------
# Every sample


@pytest.mark.parametrize("rid", SAMPLE_IDS)
def test_sample_infographics(loaded, rid):
    samples, contexts = loaded
    r = samples_or_skip(samples, rid)
    ctx = contexts[rid]
    for layout in (infographic.poster_layout(r, ctx), infographic.cover_layout(r, ctx)):
        for op in layout.texts:  # every character drawn has a glyph: no tofu
            assert missing_glyphs(op.font, op.text) == set(), (op.field, op.text)
        assert_inside(layout)
    poster = infographic.poster_layout(r, ctx)
    assert "".join(op.text for op in lines_of(poster, "title")) == r.title
    assert len(lines_of(poster, "key_figures")) >= 2 * len(r.key_figures)
    rd = infographic.render(r, ctx)
    assert rd.files == infographic.render(r, ctx).files
    assert image_of(rd.files["cover.png"]).size == COVER_SIZE
    assert image_of(rd.files["infographic.png"]).width == POSTER_WIDTH
    assert rd.warnings == ()
