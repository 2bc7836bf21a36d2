"""WeChat official account: the draft/add payload, its limits, the content HTML and the upload manifest."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import os
import re

import pytest
from PIL import Image as PILImage

from channels import wechat
from channels.base import ReleaseRef, RenderContext, dump_json
from pressroom.errors import RenditionError
from pressroom.model import Image, Section
from tests.browser import PHONE, browser, open_page  # noqa: F401  (browser is a fixture)
from tests.test_channel_portal import (
    DOC_REF, EVIL_BODY, PHOTO, SAMPLE_IDS, Tags, loaded, make_release, png, samples_or_skip,  # noqa: F401
)

HAS_INFOGRAPHIC = importlib.util.find_spec("channels.infographic") is not None
needs_infographic = pytest.mark.skipif(
    not HAS_INFOGRAPHIC, reason="channels/infographic.py (the default cover) has not landed yet")
COVER = Image("images/cover.png", png(900, 383, (180, 30, 40)), "PNG", 900, 383)


def release(**overrides):
    """The portal tests' release, with its own cover so the infographic is not needed."""
    return make_release(**{"cover": COVER, **overrides})


def article(rendition) -> dict:
    return rendition.payload["articles"][0]


def manifest(rendition) -> dict:
    return json.loads(rendition.files[wechat.MANIFEST_FILE])


def refused(r, ctx) -> RenditionError:
    with pytest.raises(RenditionError) as e:
        wechat.render(r, ctx)
    assert e.value.channel == "wechat"
    return e.value


# ---------------------------------------------------------------------------------------------
# The payload and its limits


def test_draft_payload_is_exactly_what_draft_add_takes(settings, ctx):
    r = release()
    rd = wechat.render(r, ctx)
    a = article(rd)
    assert set(rd.payload) == {"articles"} and len(rd.payload["articles"]) == 1
    assert set(a) == {"title", "author", "digest", "content", "content_source_url", "thumb_media_id",
                      "need_open_comment", "only_fans_can_comment", "pic_crop_235_1", "pic_crop_1_1"}
    assert a["title"] == r.title and a["digest"] == r.digest
    assert a["author"] == settings.outlet("wechat")["author"]
    assert a["content_source_url"] == "https://www.huainan.gov.cn/xwfb/water-price-2026.html"
    assert a["thumb_media_id"] == "pressroom-cover"
    assert a["need_open_comment"] == 0 and a["only_fans_can_comment"] == 0
    raw = rd.files["wechat-draft.json"]
    assert raw == dump_json(rd.payload) and json.loads(raw) == rd.payload
    assert b"\\u" not in raw and r.title.encode("utf-8") in raw  # real UTF-8: \uXXXX gives 40033


def test_title_over_32_without_wechat_title_fails_naming_wechat_title(ctx):
    e = refused(release(title="关" * 33, wechat_title=""), ctx)
    assert e.field == "wechat_title" and "33" in e.message and "32" in e.message
    assert "wechat_title" in e.fix and "32" in e.fix
    assert article(wechat.render(release(title="关" * 32, wechat_title=""), ctx))["title"] == "关" * 32


def test_wechat_title_replaces_a_long_title_and_has_the_same_limit(ctx):
    long = "关于进一步加强政务公开新闻发布工作的通知的政策解读：三十一个重点部门实行新机制"
    assert len(long) > 32
    rd = wechat.render(release(title=long, wechat_title="31个重点部门实行新闻发布新机制"), ctx)
    assert article(rd)["title"] == "31个重点部门实行新闻发布新机制" and rd.title == article(rd)["title"]
    e = refused(release(title=long, wechat_title="题" * 33), ctx)
    assert e.field == "wechat_title" and "32" in e.fix


def test_long_title_fails_validation_through_the_render_check(settings, registry):
    from pressroom.releases.catalog import Catalog, render_check

    r = release(title="关" * 33, wechat_title="", channels=("portal", "wechat"), interprets="")
    problems, _ = render_check(r, Catalog(settings, registry, {r.id: r}, {}))
    assert [p.field for p in problems] == ["wechat_title"]
    assert "微信公众号" in problems[0].message


def test_author_limit(settings, ctx):
    def with_author(author):
        outlets = {**settings.outlets, "wechat": {"account": "淮南发布", "author": author}}
        return RenderContext(dataclasses.replace(settings, outlets=outlets), ctx.related)

    assert article(wechat.render(release(), with_author("作" * 16)))["author"] == "作" * 16
    e = refused(release(), with_author("作" * 17))
    assert e.field == "author" and "16" in e.message and "[outlets.wechat]" in e.fix


def test_digest_limit_and_missing_digest(ctx):
    assert article(wechat.render(release(digest="摘" * 128), ctx))["digest"] == "摘" * 128
    e = refused(release(digest="摘" * 129), ctx)
    assert e.field == "digest" and "129" in e.message and "128" in e.fix
    rd = wechat.render(release(digest=""), ctx)
    assert article(rd)["digest"] == "" and any("54" in w for w in rd.warnings)


def test_content_too_long_fails_naming_the_limit(ctx):
    long_body = "\n\n".join("这是一段很长的正文，用于测试微信正文长度上限。" * 20 for _ in range(50))
    e = refused(release(sections=(Section("主要内容", long_body),)), ctx)
    assert e.field == "正文" and "20000" in e.message and "拆分" in e.fix


def test_content_limit_reserves_room_for_the_uploaded_image_urls(ctx):
    """Placeholders are shorter than the uploadimg URLs that replace them: content just under the limit
    with an image placeholder would be over it once the transport substitutes the URL."""
    r = release()

    def with_filler(n, **kw):
        return release(sections=(*r.sections, Section("补充说明", "字" * n)), **kw)

    n = wechat.CONTENT_MAX_CHARS - 100 - (len(wechat.content_html(with_filler(1), ctx)) - 1)
    over = with_filler(n)
    assert len(wechat.content_html(over, ctx)) == wechat.CONTENT_MAX_CHARS - 100
    assert refused(over, ctx).field == "正文"
    wechat.render(with_filler(n, lead="导语。", images=()), ctx)  # the same text without the image fits


# ---------------------------------------------------------------------------------------------
# Content


def test_content_has_headlines_people_sections_and_figures(ctx):
    r = release()
    content = article(wechat.render(r, ctx))["content"]
    h2 = re.findall(r'<h2 style="[^"]+">(.*?)</h2>', content)
    assert h2 == ["背景依据", "主要内容", "新旧政策差异"]
    for expected in ("回应网络关切", "水价调整须依法履行听证程序", "新闻发言人：张明（市发展改革委主任）；李华（市发展改革委副主任）",
                     "解读专家：王强（安徽理工大学经济学教授）", "发布部门：淮南市发展和改革委员会", "居民用水价格",
                     "2.30", "不涉及。本政策为首次制定。", "《价格法》", "来源：淮南市发展和改革委员会"):
        assert expected in content, expected
    assert "<table" in content and "</table></section>" in content  # a wide table scrolls by itself
    assert "\n" not in content  # WeChat may turn newlines between blocks into blank lines


def test_every_body_image_is_a_placeholder_listed_in_the_manifest(ctx):
    jpeg = io.BytesIO()
    PILImage.new("RGB", (640, 480), (20, 120, 60)).save(jpeg, "JPEG")
    second = Image("images/site visit.jpg", jpeg.getvalue(), "JPEG", 640, 480)
    r = release(lead="导语。\n\n![发布会现场](images/photo.png)\n\n段落。\n\n![现场察看](images/site%20visit.jpg)"
                     "\n\n![外链](https://evil.example/x.png)\n\n![不存在](images/missing.png)",
                images=(make_release().images[0], second))
    rd = wechat.render(r, ctx)
    srcs = [i["src"] for i in Tags(article(rd)["content"]).all("img")]
    assert srcs == ["pressroom-image:images/photo.png", "pressroom-image:images/site%20visit.jpg"]
    m = manifest(rd)
    assert [(i["path"], i["placeholder"], i["file"]) for i in m["images"]] == [
        ("images/photo.png", "pressroom-image:images/photo.png", "images/images/photo.png"),
        ("images/site visit.jpg", "pressroom-image:images/site%20visit.jpg", "images/images/site visit.jpg")]
    assert rd.files["images/images/photo.png"] == PHOTO
    assert rd.files["images/images/site visit.jpg"] == second.data
    assert m["cover"]["placeholder"] == article(rd)["thumb_media_id"] and m["draft"] == "wechat-draft.json"
    assert rd.files[m["cover"]["file"]] == COVER.data and m["cover"]["source"] == "release"
    assert "<figure" not in article(rd)["content"] and "发布会现场</p></section>" in article(rd)["content"]


def test_outside_links_lose_their_href_keep_their_address_and_the_editor_is_told(ctx):
    r = release(lead="详见[市发展改革委网站](https://fgw.huainan.gov.cn/notice.html)。")
    rd = wechat.render(r, ctx)
    content = article(rd)["content"]
    assert "<a" not in content
    assert "详见市发展改革委网站（网址：https://fgw.huainan.gov.cn/notice.html）。" in content  # the full text keeps it
    assert any("1 个外部链接" in w and "https://fgw.huainan.gov.cn/notice.html" in w for w in rd.warnings)
    assert not any("外部链接" in w for w in wechat.render(release(), ctx).warnings)


def test_hostile_markdown_leaves_no_active_content(ctx):
    r = release(lead=EVIL_BODY, sections=(Section("主要内容", EVIL_BODY),))
    content = article(wechat.render(r, ctx))["content"]
    tags = Tags(content)
    assert not tags.all("script") and not tags.all("iframe") and not tags.all("a")
    allowed_styles = set(wechat.STYLE.values()) | {wechat.MUTED}
    for tag, attrs in tags.tags:
        assert not [a for a in attrs if a.startswith("on")], f"event handler on <{tag}>"
        assert "class" not in attrs, f"class on <{tag}>: WeChat has no stylesheet"
        assert attrs.get("style", wechat.MUTED) in allowed_styles, f"foreign style on <{tag}>"
        assert not (attrs.get("src") or "").lower().startswith(("javascript:", "http", "//", "data:"))
    assert "alert" not in content and "javascript" not in content and "color:red" not in content
    assert "悬停" in content and "点我" in content  # the text survives, the behaviour does not


def test_interpretation_names_its_document_with_the_portal_url(ctx):
    content = article(wechat.render(release(), ctx))["content"]
    assert "<strong>政策原文：</strong>淮南市城市供水价格管理办法" in content
    assert f"网址：{DOC_REF.url}" in content and "阅读原文" in content


def test_document_names_its_interpretation_and_warns_without_one(settings):
    doc = release(id="water-notice-2026", kind="policy-document", title="淮南市城市供水价格管理办法",
                  interprets="", document_number="淮政〔2026〕12号", issuer=("淮南市人民政府",), sections=())
    interp = ReleaseRef("water-price-2026", "《淮南市城市供水价格管理办法》政策解读", "policy",
                        "https://www.huainan.gov.cn/xwfb/water-price-2026.html", "2026-11-20T10:00:00+08:00")
    rd = wechat.render(doc, RenderContext(settings, {interp.id: interp}))
    content = article(rd)["content"]
    assert "<strong>政策解读：</strong>《淮南市城市供水价格管理办法》政策解读" in content
    assert f"网址：{interp.url}" in content and "发文字号：淮政〔2026〕12号" in content
    assert not any("政策解读" in w for w in rd.warnings)
    alone = wechat.render(doc, RenderContext(settings))
    assert any("政策解读" in w for w in alone.warnings) and "政策解读：" not in article(alone)["content"]


def test_follow_up_lists_the_event_in_publishing_order(settings):
    first = ReleaseRef("storm-1", "我市启动防汛Ⅳ级应急响应", "emergency",
                       "https://www.huainan.gov.cn/xwfb/storm-1.html", "2026-07-01T08:00:00+08:00")
    r = release(id="storm-2", kind="emergency", title="暴雨灾害第一次情况通报", interprets="", follow_up_of="storm-1",
                publish_at=make_release().publish_at.replace(year=2026, month=7, day=1, hour=20))
    content = article(wechat.render(r, RenderContext(settings, {first.id: first})))["content"]
    block = content[content.index("事件相关发布"):]
    assert block.index("2026年7月1日 08:00") < block.index(first.url) < block.index("暴雨灾害第一次情况通报（本文）")
    assert "20:00" not in block  # its own time is not known before it goes out (WeChat shows it)
    assert any("storm-1" in w for w in wechat.render(r, RenderContext(settings)).warnings)


# ---------------------------------------------------------------------------------------------
# Images and cover


def test_cover_crops_follow_the_cover_size():
    assert wechat.crops(900, 383) == {"pic_crop_235_1": "0_0_1_1", "pic_crop_1_1": "0.287222_0_0.712778_1"}
    assert wechat.crops(900, 500) == {"pic_crop_235_1": "0_0.117_1_0.883", "pic_crop_1_1": "0.222222_0_0.777778_1"}
    assert wechat.crops(1000, 1000) == {"pic_crop_235_1": "0_0.287222_1_0.712778", "pic_crop_1_1": "0_0_1_1"}
    # Wider than 2.35:1: the sides are trimmed (900 × 900/383 = 2114.9 of 3000 px kept, centred).
    assert wechat.crops(3000, 900) == {"pic_crop_235_1": "0.14752_0_0.85248_1", "pic_crop_1_1": "0.35_0_0.65_1"}


def test_cover_of_another_ratio_is_cropped_with_a_warning(ctx):
    rd = wechat.render(release(cover=Image("images/cover.png", PHOTO, "PNG", 1600, 900)), ctx)
    assert article(rd)["pic_crop_235_1"] == "0_0.121728_1_0.878272"  # 1600 × 383/900 = 680.9 of 900 px
    assert any("2.35:1" in w for w in rd.warnings)
    assert not any("2.35:1" in w for w in wechat.render(release(), ctx).warnings)


@needs_infographic
def test_without_a_cover_the_infographic_cover_is_used(ctx):
    from channels import infographic

    r = release(cover=None)
    rd = wechat.render(r, ctx)
    m = manifest(rd)
    assert m["cover"]["source"] == "infographic" and m["cover"]["file"] == "cover.png"
    assert rd.files["cover.png"] == infographic.cover_png(r, ctx)
    with PILImage.open(io.BytesIO(rd.files["cover.png"])) as im:
        assert (m["cover"]["width"], m["cover"]["height"]) == im.size
        assert article(rd)["pic_crop_1_1"] == wechat.crops(*im.size)["pic_crop_1_1"]


def test_oversized_body_image_is_recompressed_under_1mb(ctx):
    noise = PILImage.frombytes("RGB", (300, 200), os.urandom(300 * 200 * 3)).resize((2400, 1600))
    buf = io.BytesIO()
    noise.save(buf, "PNG")
    assert len(buf.getvalue()) > 1_000_000
    r = release(images=(Image("images/photo.png", buf.getvalue(), "PNG", 2400, 1600),))
    rd = wechat.render(r, ctx)
    entry = manifest(rd)["images"][0]
    assert entry["file"] == "images/images/photo.jpg" and entry["placeholder"] == "pressroom-image:images/photo.png"
    data = rd.files[entry["file"]]
    assert len(data) < 1_000_000 and data[:3] == b"\xff\xd8\xff"
    with PILImage.open(io.BytesIO(data)) as im:
        assert max(im.size) == 1500
    assert any("1 MB" in w and "images/photo.png" in w for w in rd.warnings)
    assert rd.files == wechat.render(r, ctx).files  # the re-encoding is deterministic too


def test_gif_body_image_becomes_png(ctx):
    buf = io.BytesIO()
    PILImage.new("P", (200, 100), 3).save(buf, "GIF")
    r = release(images=(Image("images/photo.png", buf.getvalue(), "GIF", 200, 100),))
    rd = wechat.render(r, ctx)
    entry = manifest(rd)["images"][0]
    assert entry["file"] == "images/images/photo.png" and rd.files[entry["file"]][:8] == b"\x89PNG\r\n\x1a\n"
    assert any("GIF" in w for w in rd.warnings)


def test_deterministic(ctx):
    a, b = wechat.render(release(), ctx), wechat.render(release(), ctx)
    assert a.files == b.files and a.content_hash == b.content_hash and a.payload == b.payload


# ---------------------------------------------------------------------------------------------
# Sample content


@pytest.mark.parametrize("rid", SAMPLE_IDS)
def test_samples_render_within_limits(loaded, rid):
    samples, contexts = loaded
    r = samples_or_skip(samples, rid)
    if r.cover is None and not HAS_INFOGRAPHIC:
        pytest.skip("channels/infographic.py (the default cover) has not landed yet")
    rd = wechat.render(r, contexts[rid])
    assert rd.files == wechat.render(r, contexts[rid]).files
    a = article(rd)
    assert 0 < len(a["title"]) <= 32 and len(a["author"]) <= 16 and 0 < len(a["digest"]) <= 128
    assert len(a["content"]) < 20_000 and len(a["content"].encode()) < 1024 * 1024
    assert a["content_source_url"] == contexts[rid].url_for(rid)
    assert re.findall(r'<h2 style="[^"]+">(.*?)</h2>', a["content"]) == [s.heading for s in r.sections]
    for sp in r.speakers:
        assert sp.name in a["content"]
    # the body images, then the 图解 of a release that goes out as one (uploaded the same way)
    poster = ["图解"] if "infographic" in r.channels else []
    assert [i["path"] for i in manifest(rd)["images"]] == [img.path for img in r.images] + poster
    for img in r.images:
        assert f'src="{wechat.placeholder(img)}"' in a["content"]
    assert "<a " not in a["content"] and "<script" not in a["content"]


def test_sample_policy_bundle_names_each_other(loaded):
    samples, contexts = loaded
    doc = samples_or_skip(samples, "notice-2017-78")
    interp = samples_or_skip(samples, "notice-2017-78-interpretation")
    if not HAS_INFOGRAPHIC:
        pytest.skip("channels/infographic.py (the document's cover) has not landed yet")
    doc_c = article(wechat.render(doc, contexts[doc.id]))["content"]
    interp_c = article(wechat.render(interp, contexts[interp.id]))["content"]
    assert f"<strong>政策解读：</strong>{interp.title}" in doc_c and contexts[doc.id].url_for(interp.id) in doc_c
    assert f"<strong>政策原文：</strong>{doc.title}" in interp_c and contexts[doc.id].url_for(doc.id) in interp_c


# ---------------------------------------------------------------------------------------------
# Readable on a phone


def article_page(rd) -> str:
    """The content as WeChat shows it: title and author above, in a 375 px column with 16 px margins;
    placeholders point at the image files beside the page."""
    a = article(rd)
    content = a["content"]
    for entry in manifest(rd)["images"]:
        content = content.replace(f'src="{entry["placeholder"]}"', f'src="{entry["file"]}"')
    return ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1"></head>'
            '<body style="margin:0;padding:20px 16px;font-size:17px;color:#333;'
            'font-family:\'Noto Sans CJK SC\',sans-serif">'
            f'<h1 id="title" style="font-size:22px;line-height:1.4">{a["title"]}</h1>'
            f'<p style="color:#576b95;font-size:15px">{a["author"]}</p>{content}</body></html>')


def test_articles_fit_a_phone_screen(browser, tmp_path, loaded, settings):  # noqa: F811
    samples, contexts = loaded
    cases = [(release(), RenderContext(settings, {DOC_REF.id: DOC_REF}))]
    cases += [(r, contexts[rid]) for rid, r in sorted(samples.items()) if r.cover or HAS_INFOGRAPHIC]
    for r, c in cases:
        rd = wechat.render(r, c)
        folder = tmp_path / r.id
        for name, data in rd.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        (folder / "article.html").write_text(article_page(rd), encoding="utf-8")
        check = open_page(browser, folder / "article.html", PHONE, shot=f"wechat-{r.id}-375")
        assert not check.overflows, f"{r.id}: {check.scroll_width}px wide in a {check.inner_width}px window"
        assert check.title_visible
        assert [u for u in check.requests if not u.startswith(folder.as_uri())] == []
