"""Portal "新闻发布" column: release pages, the index and the RSS/Atom feeds."""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from markupsafe import escape
from PIL import Image as PILImage

from channels import portal
from channels.base import ReleaseRef, RenderContext
from pressroom.model import Department, Expert, Image, KeyFigure, Release, Section, Speaker
from tests.browser import DESKTOP, PHONE, browser, open_page  # noqa: F401  (browser is a fixture)

TZ = ZoneInfo("Asia/Shanghai")
SAMPLE_IDS = ["notice-2017-78", "notice-2017-78-interpretation", "rainstorm-2026-11",
              "rainstorm-2026-11-update-1", "water-price-rumor", "work-report-2026-q3"]
LONG_URL = "https://www.huainan.gov.cn/" + "a" * 120 + "/detail.html"


def png(width: int = 1600, height: int = 900, color=(30, 90, 160)) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


PHOTO = png()


def make_release(**overrides) -> Release:
    """A release built in code (no content folder needed): a policy interpretation with an image, a wide
    table, a long URL and a not-applicable element."""
    base = Release(
        id="water-price-2026",
        title="我市回应“居民水价翻倍”网络传言：今年没有调价计划",
        kind="policy",
        department=Department("发改委", "淮南市发展和改革委员会", "市发展改革委", True),
        speakers=(Speaker("张明", "市发展改革委主任", "发改委", True), Speaker("李华", "市发展改革委副主任", "发改委")),
        publish_at=datetime(2026, 11, 20, 10, 0, tzinfo=TZ),
        channels=("portal", "h5"),
        lead=f"市发展改革委11月20日回应网络关切。原文见{LONG_URL}\n\n![市发展改革委新闻发布会现场](images/photo.png)",
        sections=(
            Section("背景依据", "近日网络流传居民水价将翻倍。\n\n| 项目 | 2025年 | 2026年 | 变化 | 备注说明文字较长的一列 | 依据 |\n"
                    "|---|---|---|---|---|---|\n| 居民水价 | 2.30元/吨 | 2.30元/吨 | 不变 | 依法履行听证程序后方可调整 | 《价格法》 |"),
            Section("主要内容", "水价调整须依法履行成本监审和听证程序。"),
            Section("新旧政策差异", "不涉及。本政策为首次制定。", not_applicable=True),
        ),
        content_hash="a" * 64,
        source="/nonexistent",
        kicker="回应网络关切",
        subtitle="水价调整须依法履行听证程序",
        digest="市发展改革委回应网络关切：今年没有居民水价调价计划。",
        keywords=("水价", "听证"),
        key_figures=(KeyFigure("居民用水价格", "2.30", "元/吨"), KeyFigure("年内调价计划", "0", "项")),
        experts=(Expert("王强", "安徽理工大学经济学教授"),),
        images=(Image("images/photo.png", PHOTO, "PNG", 1600, 900, "市发展改革委新闻发布会现场"),),
        interprets="water-notice-2026",
    )
    return dataclasses.replace(base, **overrides)


DOC_REF = ReleaseRef("water-notice-2026", "淮南市城市供水价格管理办法", "policy-document",
                     "https://www.huainan.gov.cn/xwfb/water-notice-2026.html", "2026-11-20T10:00:00+08:00")
EVIL_BODY = ('正文<script>alert("x")</script>\n\n<img src="x" onerror="alert(1)">\n\n'
             '[点我](javascript:alert(1)) <a href="javascript:alert(2)" onclick="alert(3)">链接</a>\n\n'
             '<p onmouseover="alert(4)" style="color:red">悬停</p>\n\n<iframe src="https://evil.example/"></iframe>')


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag]


def page_of(rendition) -> str:
    return rendition.files[f"{rendition.release_id}.html"].decode("utf-8")


# The one handler a page has: the template's own 打印 button (the browser's print; nothing from the content).
PRINT_BUTTON = {"type": "button", "class": "print", "onclick": "window.print()"}


def assert_no_active_content(html: str) -> None:
    tags = Tags(html)
    assert not tags.all("script"), "a page must carry no script"
    assert not tags.all("iframe")
    assert [a for t, a in tags.tags if "onclick" in a] in ([], [PRINT_BUTTON]), "only the 打印 button has a handler"
    for tag, attrs in tags.tags:
        if attrs == PRINT_BUTTON:
            continue
        assert not [a for a in attrs if a.startswith("on")], f"event handler on <{tag}>"
        for a in ("href", "src"):
            assert not (attrs.get(a) or "").strip().lower().startswith("javascript:"), f"javascript: URL on <{tag}>"
        assert "style" not in attrs, f"inline style on <{tag}>"


@pytest.fixture
def loaded(request, settings):
    """(samples, contexts), empty while the sample content has not landed."""
    if not (settings.content_dir / "departments.yaml").exists():
        return {}, {}
    return request.getfixturevalue("samples"), request.getfixturevalue("contexts")


def samples_or_skip(samples, rid):
    if rid not in samples:
        if not samples:
            pytest.skip("sample content under content/releases has not landed yet")
        pytest.fail(f"sample release {rid} is missing from content/releases")
    return samples[rid]


# ---------------------------------------------------------------------------------------------
# The page


def test_page_shows_headlines_people_figures_and_sections(settings, ctx):
    r = make_release()
    rd = portal.render(r, ctx)
    html = page_of(rd)
    assert rd.channel == "portal" and rd.url == "https://www.huainan.gov.cn/xwfb/water-price-2026.html"
    assert '<html lang="zh-CN">' in html and '<meta charset="utf-8">' in html
    assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in html
    assert '<h1 class="title" id="title">我市回应“居民水价翻倍”网络传言：今年没有调价计划</h1>' in html
    for expected in ("回应网络关切", "水价调整须依法履行听证程序", "2026年11月20日 10:00", "淮南市发展和改革委员会",
                     "张明（市发展改革委主任）", "李华（市发展改革委副主任）", "王强（安徽理工大学经济学教授）",
                     "政策解读", "今年没有居民水价调价计划", "2.30", "元/吨", "居民用水价格",
                     "<h2>背景依据</h2>", "<h2>主要内容</h2>", "水价调整须依法履行成本监审和听证程序",
                     "<span>水价</span><span>听证</span>"):
        assert expected in html, expected
    # Column and site names come from settings, not the code.
    outlet = settings.outlet("portal")
    assert f"<title>{r.title} - {outlet['column']} - {outlet['sites'][0]}</title>" in html
    assert f'<link rel="canonical" href="{rd.url}">' in html


def test_portal_names_follow_settings(settings, ctx):
    other = dataclasses.replace(settings, outlets={**settings.outlets, "portal": {
        "sites": ["示例市人民政府网"], "column": "权威发布", "base_url": "https://example.org/news"}})
    rd = portal.render(make_release(), RenderContext(other, {DOC_REF.id: DOC_REF}))
    html = page_of(rd)
    assert "示例市人民政府网" in html and "权威发布" in html and "淮南新闻网" not in html
    assert rd.url == "https://example.org/news/water-price-2026.html"


def test_images_are_delivered_beside_the_page_and_referenced_relatively(ctx):
    rd = portal.render(make_release(), ctx)
    assert rd.files["assets/water-price-2026/images/photo.png"] == PHOTO
    assert set(rd.files) == {"water-price-2026.html", "assets/water-price-2026/images/photo.png"}
    imgs = Tags(page_of(rd)).all("img")
    assert [i["src"] for i in imgs] == ["assets/water-price-2026/images/photo.png"]
    assert "<figcaption>市发展改革委新闻发布会现场</figcaption>" in page_of(rd)


def test_unknown_or_outside_images_are_dropped(ctx):
    r = make_release(lead="导语。\n\n![外链](https://evil.example/x.png)\n\n![没有这个文件](images/missing.png)")
    html = page_of(portal.render(r, ctx))
    assert Tags(html).all("img") == []


def test_wide_tables_scroll_in_their_own_wrapper(ctx):
    html = page_of(portal.render(make_release(), ctx))
    assert '<div class="table-wrap" tabindex="0" role="region" aria-label="表格（可左右滑动）"><table>' in html
    assert ".table-wrap { max-width: 100%; overflow-x: auto;" in html
    assert "overflow-wrap: anywhere" in html and ".body img { max-width: 100%" in html


def test_not_applicable_element_is_shown_muted(ctx):
    html = page_of(portal.render(make_release(), ctx))
    assert '<section class="not-applicable">\n    <h2>新旧政策差异</h2>\n    <p>不涉及。本政策为首次制定。</p>' in html


def test_interpretation_links_to_its_document(ctx):
    html = page_of(portal.render(make_release(), ctx))
    links = [a for a in Tags(html).all("a") if a.get("href") == "water-notice-2026.html"]
    assert links, "the interpretation must link to the policy document"
    assert '<a href="water-notice-2026.html">政策原文：淮南市城市供水价格管理办法</a>' in html


def test_document_links_to_its_interpretation(settings):
    doc = make_release(id="water-notice-2026", kind="policy-document", title="淮南市城市供水价格管理办法",
                       interprets="", document_number="淮政〔2026〕12号", issuer=("淮南市人民政府",),
                       sections=(), experts=())
    interp = ReleaseRef("water-price-2026", "《淮南市城市供水价格管理办法》政策解读", "policy",
                        "https://www.huainan.gov.cn/xwfb/water-price-2026.html", "2026-11-20T10:00:00+08:00")
    rd = portal.render(doc, RenderContext(settings, {interp.id: interp}))
    html = page_of(rd)
    assert '<a href="water-price-2026.html">政策解读：《淮南市城市供水价格管理办法》政策解读</a>' in html
    assert "淮政〔2026〕12号" in html and "淮南市人民政府" in html
    assert rd.warnings == ()


def test_document_without_interpretation_warns(settings):
    doc = make_release(id="water-notice-2026", kind="policy-document", interprets="", sections=())
    rd = portal.render(doc, RenderContext(settings))
    assert any("政策解读" in w for w in rd.warnings)
    assert "政策解读：" not in page_of(rd)


def test_emergency_follow_up_lists_the_event_in_publishing_order(settings):
    first = ReleaseRef("storm-1", "我市启动防汛Ⅳ级应急响应", "emergency",
                       "https://www.huainan.gov.cn/xwfb/storm-1.html", "2026-07-01T08:00:00+08:00")
    later = ReleaseRef("storm-3", "暴雨灾害第二次情况通报", "emergency",
                       "https://www.huainan.gov.cn/xwfb/storm-3.html", "2026-07-02T18:00:00+08:00")
    r = make_release(id="storm-2", kind="emergency", title="暴雨灾害第一次情况通报", interprets="",
                     follow_up_of="storm-1", publish_at=datetime(2026, 7, 1, 20, 0, tzinfo=TZ),
                     event_at=datetime(2026, 7, 1, 6, 0, tzinfo=TZ))
    html = page_of(portal.render(r, RenderContext(settings, {"storm-3": later, "storm-1": first})))
    block = html[html.index("事件相关发布"):html.index("</ol>")]
    assert block.index("storm-1.html") < block.index("暴雨灾害第一次情况通报（本文）") < block.index("storm-3.html")
    assert "2026年7月1日 08:00" in block and "2026年7月2日 18:00" in block
    assert "事件发生" in html and "2026年7月1日 06:00" in html


def test_follow_up_without_its_first_release_warns(settings):
    r = make_release(id="storm-2", kind="emergency", interprets="", follow_up_of="storm-1")
    assert any("storm-1" in w for w in portal.render(r, RenderContext(settings)).warnings)


def test_page_carries_no_script_even_from_hostile_markdown(ctx):
    r = make_release(lead=EVIL_BODY, sections=(Section("主要内容", EVIL_BODY),), digest='摘要<script>x</script>',
                     title='标题<img src=x onerror=alert(1)>')
    html = page_of(portal.render(r, ctx))
    assert_no_active_content(html)
    assert "alert" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")  # the title is shown as text
    assert "标题&lt;img src=x onerror=alert(1)&gt;" in html


def test_control_characters_are_stripped(ctx):
    r = make_release(title="标题\x0b含控制符", digest="摘要\x0b含控制符", lead="导语\x0b含控制符")
    html = page_of(portal.render(r, ctx))
    assert "\x0b" not in html and "标题含控制符" in html and "导语含控制符" in html


def test_page_is_deterministic(ctx):
    a, b = portal.render(make_release(), ctx), portal.render(make_release(), ctx)
    assert a.files == b.files and a.content_hash == b.content_hash


# ---------------------------------------------------------------------------------------------
# Sample content


@pytest.mark.parametrize("rid", SAMPLE_IDS)
def test_sample_pages_render_completely_and_deterministically(loaded, rid):
    samples, contexts = loaded
    r = samples_or_skip(samples, rid)
    rd = portal.render(r, contexts[rid])
    assert rd.files == portal.render(r, contexts[rid]).files
    html = page_of(rd)
    assert_no_active_content(html)
    assert f'id="title">{escape(portal.text(r.title))}</h1>' in html
    for s in r.sections:
        assert f"<h2>{s.heading}</h2>" in html
    for sp in r.speakers:
        assert sp.name in html
    for f in r.key_figures:
        assert f.label in html and f.value in html
    for img in r.images:
        assert rd.files[f"assets/{rid}/{img.path}"] == img.data


def test_sample_policy_bundle_links_both_ways(loaded):
    samples, contexts = loaded
    doc = samples_or_skip(samples, "notice-2017-78")
    interp = samples_or_skip(samples, "notice-2017-78-interpretation")
    doc_html = page_of(portal.render(doc, contexts[doc.id]))
    interp_html = page_of(portal.render(interp, contexts[interp.id]))
    assert f'<a href="{interp.id}.html">政策解读：{escape(portal.text(interp.title))}</a>' in doc_html
    assert f'<a href="{doc.id}.html">政策原文：{escape(portal.text(doc.title))}</a>' in interp_html


def test_sample_follow_up_lists_its_first_release(loaded):
    samples, contexts = loaded
    first = samples_or_skip(samples, "rainstorm-2026-11")
    update = samples_or_skip(samples, "rainstorm-2026-11-update-1")
    html = page_of(portal.render(update, contexts[update.id]))
    block = html[html.index("事件相关发布"):]
    assert block.index(f'href="{first.id}.html"') < block.index("（本文）")


# ---------------------------------------------------------------------------------------------
# The column: index and feeds


def column(settings):
    older = make_release(id="older-one", title="我市召开2026年第三季度例行新闻发布会", kind="routine", interprets="",
                         publish_at=datetime(2026, 10, 9, 15, 0, tzinfo=TZ), digest="")
    newer = make_release()
    doc = make_release(id="water-notice-2026", kind="policy-document", title="淮南市城市供水价格管理办法",
                       interprets="", document_number="淮政〔2026〕12号", sections=(),
                       publish_at=datetime(2026, 11, 20, 10, 0, tzinfo=TZ))
    return [older, newer, doc]


def test_index_lists_newest_first_with_date_department_and_kind(settings):
    html = portal.index_page(column(settings), settings).decode("utf-8")
    links = [a["href"] for a in Tags(html).all("a") if a["href"].endswith(".html") and a["href"] != "index.html"]
    # Same publish time: ordered by id, descending, so the order never depends on the input order.
    assert links == ["water-price-2026.html", "water-notice-2026.html", "older-one.html"]
    assert "2026年10月9日" in html and "淮南市发展和改革委员会" in html and "例行发布" in html and "政策文件" in html
    assert portal.index_page(list(reversed(column(settings))), settings) == portal.index_page(column(settings), settings)
    assert_no_active_content(html)


def test_empty_index_says_so(settings):
    assert "暂无发布" in portal.index_page([], settings).decode("utf-8")
    for name, data in portal.feeds([], settings).items():
        assert feedparser.parse(data).bozo == 0, name


def test_feeds_parse_cleanly_with_right_entries(settings):
    files = portal.feeds(column(settings), settings)
    assert set(files) == {"feed.xml", "atom.xml"}
    base = "https://www.huainan.gov.cn/xwfb/"
    for name, data in files.items():
        d = feedparser.parse(data)
        assert d.bozo == 0, (name, d.get("bozo_exception"))
        assert d.feed.link == base + "index.html", name  # the human page, not the feed itself
        assert [e.title for e in d.entries] == ["我市回应“居民水价翻倍”网络传言：今年没有调价计划",
                                                "淮南市城市供水价格管理办法", "我市召开2026年第三季度例行新闻发布会"]
        assert [e.link for e in d.entries] == [base + "water-price-2026.html", base + "water-notice-2026.html",
                                               base + "older-one.html"]
        assert [e.id for e in d.entries] == [e.link for e in d.entries]
        assert d.entries[0].published_parsed[:5] == (2026, 11, 20, 2, 0)  # 10:00 in Shanghai
        assert f'src="{base}assets/water-price-2026/images/photo.png"' in d.entries[0].content[0].value
    rss = files["feed.xml"].decode("utf-8")
    assert '<guid isPermaLink="true">https://www.huainan.gov.cn/xwfb/water-price-2026.html</guid>' in rss
    assert "<lastBuildDate>Fri, 20 Nov 2026 10:00:00 +0800</lastBuildDate>" in rss
    assert "<link>https://www.huainan.gov.cn/xwfb/index.html</link>" in rss
    atom = feedparser.parse(files["atom.xml"])
    assert atom.feed.updated_parsed[:5] == (2026, 11, 20, 2, 0)
    assert all(e.author == "淮南市发展和改革委员会" for e in atom.entries)
    assert all(e.content[0].type == "text/html" for e in atom.entries)
    self_links = [ln.href for ln in atom.feed.links if ln.rel == "self"]
    assert self_links == [base + "atom.xml"]


def test_feeds_are_deterministic_and_a_correction_keeps_its_guid(settings):
    releases = column(settings)
    assert portal.feeds(releases, settings) == portal.feeds(list(reversed(releases)), settings)
    corrected = [dataclasses.replace(r, title=r.title + "（更正）", content_hash="b" * 64)
                 if r.id == "water-price-2026" else r for r in releases]
    for name in ("feed.xml", "atom.xml"):
        before = {e.id: e.title for e in feedparser.parse(portal.feeds(releases, settings)[name]).entries}
        after = {e.id: e.title for e in feedparser.parse(portal.feeds(corrected, settings)[name]).entries}
        assert before.keys() == after.keys()  # updated in place, not duplicated
        assert after["https://www.huainan.gov.cn/xwfb/water-price-2026.html"].endswith("（更正）")


def test_feeds_strip_control_characters(settings):
    r = make_release(title="标题\x0b带垂直制表符", digest="摘要\x0c", lead="导语\x0b")
    for name, data in portal.feeds([r], settings).items():
        d = feedparser.parse(data)
        assert d.bozo == 0 and d.entries[0].title == "标题带垂直制表符", name


def test_sample_feeds_parse(loaded, settings):
    samples, _ = loaded
    if not samples:
        pytest.skip("sample content under content/releases has not landed yet")
    for name, data in portal.feeds(samples.values(), settings).items():
        d = feedparser.parse(data)
        assert d.bozo == 0, (name, d.get("bozo_exception"))
        assert len(d.entries) == len(samples)


# ---------------------------------------------------------------------------------------------
# In a real browser, at phone and desktop widths


def write_site(tmp_path: Path, renditions) -> None:
    for rd in renditions:
        for name, data in rd.files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(data)


def browser_cases(samples, contexts, settings):
    cases = [(make_release(), RenderContext(settings, {DOC_REF.id: DOC_REF}))]
    cases += [(r, contexts[rid]) for rid, r in sorted(samples.items())]
    return cases


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
def test_pages_fit_the_screen(browser, tmp_path, loaded, settings, viewport):  # noqa: F811
    cases = browser_cases(*loaded, settings)
    write_site(tmp_path, [portal.render(r, ctx) for r, ctx in cases])
    (tmp_path / "index.html").write_bytes(portal.index_page([r for r, _ in cases], settings))
    names = [r.id for r, _ in cases] + ["index"]
    for name in names:
        check = open_page(browser, tmp_path / f"{name}.html", viewport, shot=f"portal-{name}-{viewport['width']}")
        assert not check.overflows, f"{name}: {check.scroll_width}px wide in a {check.inner_width}px window"
        assert check.title_visible, f"{name}: title box {check.title_box}"
        outside = [u for u in check.requests if not u.startswith(tmp_path.as_uri())]
        assert outside == [], f"{name} loads outside resources"
