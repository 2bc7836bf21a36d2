"""H5 page: one self-contained mobile HTML file per release."""

from __future__ import annotations

import base64
import io
import os
import re

import pytest
from markupsafe import escape
from PIL import Image as PILImage

from channels import h5
from channels.base import RenderContext
from pressroom.model import Image, Section
from tests.browser import DESKTOP, PHONE, browser, open_page  # noqa: F401  (browser is a fixture)
from tests.test_channel_portal import (
    DOC_REF, EVIL_BODY, PHOTO, SAMPLE_IDS, Tags, assert_no_active_content, loaded, make_release,  # noqa: F401
    samples_or_skip,
)


def page_of(rendition) -> str:
    return rendition.files[f"{rendition.release_id}-h5.html"].decode("utf-8")


def assert_self_contained(html: str) -> None:
    tags = Tags(html)
    assert not tags.all("link") and not tags.all("script") and not tags.all("iframe")
    for tag, attrs in tags.tags:
        if "src" in attrs:
            assert attrs["src"].startswith("data:image/"), f"<{tag}> loads {attrs['src'][:60]}"
    css = "".join(re.findall(r"<style>(.*?)</style>", html, re.S))
    assert "url(" not in css and "@import" not in css and "@font-face" not in css


def test_one_self_contained_file(ctx):
    rd = h5.render(make_release(), ctx)
    assert rd.channel == "h5" and set(rd.files) == {"water-price-2026-h5.html"}
    html = page_of(rd)
    assert '<html lang="zh-CN">' in html
    assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in html
    assert_self_contained(html)
    assert_no_active_content(html)


def test_body_images_are_inlined_and_the_poster_is_linked_not_shrunk(ctx):
    r = make_release(channels=("portal", "h5", "infographic"))
    html = page_of(h5.render(r, ctx))
    srcs = [i["src"] for i in Tags(html).all("img")]
    # The poster is drawn 1080 px wide; at 375 px its small text would be 5 px high: not repeated here.
    assert srcs == ["data:image/png;base64," + base64.b64encode(PHOTO).decode()]
    assert "<figcaption>市发展改革委新闻发布会现场</figcaption>" in html
    assert '<a href="https://www.huainan.gov.cn/xwfb/water-price-2026.html#infographic">查看图解' in html
    assert "查看图解" not in page_of(h5.render(make_release(channels=("portal", "h5")), ctx))


def test_jpeg_images_keep_their_type(ctx):
    buf = io.BytesIO()
    PILImage.new("RGB", (400, 300), (10, 120, 40)).save(buf, "JPEG")
    r = make_release(images=(Image("images/photo.png", buf.getvalue(), "JPEG", 400, 300),))
    assert "data:image/jpeg;base64," in page_of(h5.render(r, ctx))


def test_title_figures_sections_and_portal_link(ctx):
    r = make_release()
    html = page_of(h5.render(r, ctx))
    assert '<h1 id="title">我市回应“居民水价翻倍”网络传言：今年没有调价计划</h1>' in html
    assert '<span class="value">2.30</span><span class="unit">元/吨</span><span class="label">居民用水价格</span>' in html
    summaries = re.findall(r"<summary>(.*?)</summary>", html)
    assert summaries == ["背景依据", "主要内容", '新旧政策差异<span class="na">不涉及</span>']
    assert '<details class="card section" open>' in html  # the first element is unfolded
    assert '<details class="card section not-applicable">' in html
    assert f'<a class="button" href="{ctx.url_for(r.id)}">查看门户网站发布全文</a>' in html
    assert f'<a href="{DOC_REF.url}">政策原文：{DOC_REF.title}</a>' in html
    for text in ("回应网络关切", "水价调整须依法履行听证程序", "2026年11月20日 10:00", "市发展改革委",
                 "张明（市发展改革委主任）", "王强（安徽理工大学经济学教授）", "今年没有居民水价调价计划"):
        assert text in html, text


def test_hostile_markdown_is_neutralised(ctx):
    r = make_release(lead=EVIL_BODY, sections=(Section("主要内容", EVIL_BODY),), title="标题<script>x</script>")
    html = page_of(h5.render(r, ctx))
    assert_no_active_content(html)
    assert_self_contained(html)
    assert "标题&lt;script&gt;x&lt;/script&gt;" in html


def test_deterministic(ctx):
    assert h5.render(make_release(), ctx).files == h5.render(make_release(), ctx).files


def test_heavy_page_warns(ctx):
    noise = PILImage.frombytes("RGB", (1400, 1000), os.urandom(1400 * 1000 * 3))
    buf = io.BytesIO()
    noise.save(buf, "PNG")
    r = make_release(images=(Image("images/photo.png", buf.getvalue(), "PNG", 1400, 1000),))
    warnings = h5.render(r, ctx).warnings
    assert any("超过 3 MB" in w for w in warnings), warnings
    assert not any("超过 3 MB" in w for w in h5.render(make_release(), ctx).warnings)


@pytest.mark.parametrize("rid", SAMPLE_IDS)
def test_sample_pages(loaded, rid):
    samples, contexts = loaded
    r = samples_or_skip(samples, rid)
    rd = h5.render(r, contexts[rid])
    assert rd.files == h5.render(r, contexts[rid]).files
    html = page_of(rd)
    assert_self_contained(html)
    assert_no_active_content(html)
    assert f'<h1 id="title">{escape(r.title)}</h1>' in html
    assert [s.heading for s in r.sections] == [re.sub(r"<.*", "", s) for s in re.findall(r"<summary>(.*?)</summary>", html)]
    assert contexts[rid].url_for(rid) in html


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
def test_pages_fit_the_screen_and_load_nothing(browser, tmp_path, loaded, settings, viewport):  # noqa: F811
    samples, contexts = loaded
    cases = [(make_release(), RenderContext(settings, {DOC_REF.id: DOC_REF}))]
    cases += [(r, contexts[rid]) for rid, r in sorted(samples.items())]
    for r, c in cases:
        path = tmp_path / h5.file_name(r.id)
        path.write_bytes(h5.render(r, c).files[path.name])
        check = open_page(browser, path, viewport, shot=f"h5-{r.id}-{viewport['width']}")
        assert not check.overflows, f"{r.id}: {check.scroll_width}px wide in a {check.inner_width}px window"
        assert check.title_visible, f"{r.id}: title box {check.title_box}"
        assert [u for u in check.requests if not u.startswith("data:")] == [path.as_uri()], "outside resources"
