"""Portal and press-hall pages as a government website is inspected (国办发〔2017〕47号 附件《网页设计规范》,
docs/outlets.md#government-websites): page meta tags, Open Graph, the 字号/打印 tools, a print stylesheet and
the footer's 主办/承办/网站标识码/备案号 lines, on the real sample content and in a real Chromium."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

import channels
from channels import portal
from pressroom.settings import Website
from pressroom.sites import presshall
from tests.browser import DESKTOP, PHONE, browser, open_page, shoot  # noqa: F401  (browser is a fixture)
from tests.servers.harness import outlets  # noqa: F401  (a fixture: the WeChat double and the others)

GOV_TAGS = ("ArticleTitle", "PubDate", "ContentSource", "ColumnName", "ColumnType", "SiteName", "SiteDomain")
PUBDATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
FILLED = Website(sponsor="淮南市人民政府办公室", organizer="淮南市数据资源管理局", id_code="TEST000001",
                 icp="测ICP备00000000号", police="测公网安备00000000000000号")  # test values, not a real site's


class Head(HTMLParser):
    """<meta name|property> -> content, and the first <time datetime> shown in the page's meta list."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.times: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and ("name" in a or "property" in a):
            self.meta[a.get("name") or a["property"]] = a.get("content", "")
        if tag == "time" and a.get("datetime"):
            self.times.append(a["datetime"])


def shown_pubdate(iso: str) -> str:
    return iso[:16].replace("T", " ")


def footer_of(html: str) -> str:
    return html[html.index("<footer>"):html.index("</footer>")]


@pytest.fixture(scope="module")
def portal_pages(samples, settings):
    out = {}
    for rid, r in samples.items():
        if "portal" in r.channels:
            rd = channels.render("portal", r, channels.context_for(r, samples, settings))
            out[rid] = rd.files[f"{rid}.html"].decode("utf-8")
    return out


@pytest.fixture(scope="module")
def hall(samples, registry, settings, tmp_path_factory):
    published = {rid: r.publish_at for rid, r in samples.items()}
    out = tmp_path_factory.mktemp("hall")
    presshall.build_site(list(samples.values()), published, registry, settings, out,
                         now=max(published.values()) + timedelta(days=1))
    return out


# ---------------------------------------------------------------------------------------------
# Meta tags


def test_every_portal_page_carries_the_government_meta_tags(portal_pages, samples):
    assert len(portal_pages) >= 6
    for rid, html in portal_pages.items():
        r, head = samples[rid], Head(html)
        for name in GOV_TAGS:
            assert head.meta.get(name), f"{rid}: <meta name={name}> missing"
        assert head.meta["ArticleTitle"] == r.title.strip()
        assert head.meta["ContentSource"] == r.department.name
        assert head.meta["SiteName"] == "淮南市人民政府门户网站" and head.meta["SiteDomain"] == "www.huainan.gov.cn"
        assert head.meta["ColumnName"] == "新闻发布"
        # PubDate is YYYY-MM-DD HH:MM and is the time the page shows (its first <time>), not a second source.
        assert PUBDATE.match(head.meta["PubDate"]), head.meta["PubDate"]
        assert head.meta["PubDate"] == shown_pubdate(head.times[0])
        assert head.meta["og:title"] == r.title.strip() and head.meta["og:type"] == "article"
        assert head.meta["og:url"] == f"https://www.huainan.gov.cn/xwfb/{rid}.html"
        assert "SiteIDCode" not in head.meta  # the sample settings have none: no invented code
    kinds = {samples[rid].kind: Head(html).meta["ColumnType"] for rid, html in portal_pages.items()}
    assert kinds["policy-document"] == "政策文件" and kinds["policy"] == "政策解读"
    assert kinds["emergency"] == "动态要闻" and kinds["routine"] == "动态要闻"


def test_the_portal_index_carries_them_too_dated_by_its_newest_item(samples, settings):
    html = portal.index_page(samples.values(), settings).decode("utf-8")
    head = Head(html)
    newest = max(r.publish_at for r in samples.values()).astimezone(settings.tz)
    assert head.meta["PubDate"] == f"{newest:%Y-%m-%d %H:%M}"
    assert head.meta["og:type"] == "website" and head.meta["ColumnType"] == "动态要闻"
    assert head.meta["ContentSource"] == "淮南市人民政府新闻办公室"


def test_site_identification_code_from_settings(samples, settings):
    r = samples["work-report-2026-q3"]
    s = dataclasses.replace(settings, site=FILLED)
    html = portal.render(r, channels.context_for(r, samples, s)).files[f"{r.id}.html"].decode("utf-8")
    assert Head(html).meta["SiteIDCode"] == "TEST000001"


def test_every_press_hall_page_type_carries_them(hall, samples):
    pages = {"index.html": "首页", "search.html": "站内搜索", "notices/index.html": "发布通知",
             "policies/index.html": "新闻发布政策", "spokespeople/index.html": "新闻发言人",
             "images/index.html": "新闻发布图片", "releases/notice-2017-78.html": "新闻发布政策",
             "releases/rainstorm-2026-11.html": "全部发布"}
    for path, column in pages.items():
        head = Head((hall / path).read_text("utf-8"))
        undated = path in ("search.html", "spokespeople/index.html")  # no item, no publication time to state
        for name in GOV_TAGS:
            assert bool(head.meta.get(name)) != (undated and name == "PubDate"), f"{path}: <meta name={name}>"
        assert head.meta["SiteName"] == "淮南新闻发布厅" and head.meta["ColumnName"] == column, path
    doc = Head((hall / "releases/notice-2017-78.html").read_text("utf-8"))
    assert doc.meta["ColumnType"] == "政策文件" and doc.meta["ContentSource"] == samples["notice-2017-78"].department.name
    assert doc.meta["PubDate"] == shown_pubdate(doc.times[0])
    assert Head((hall / "notices/index.html").read_text("utf-8")).meta["ColumnType"] == "通知公告"


# ---------------------------------------------------------------------------------------------
# Footer


def test_footer_leaves_out_every_number_the_settings_do_not_give(portal_pages, hall):
    for html in [*portal_pages.values(), (hall / "index.html").read_text("utf-8")]:
        foot = footer_of(html)
        assert "主办：淮南市人民政府新闻办公室" in foot
        for label in ("承办", "网站标识码", "ICP备案号", "公安机关备案号"):
            assert label not in foot


def test_footer_lines_from_filled_settings(samples, settings):
    r = samples["water-price-rumor"]
    s = dataclasses.replace(settings, site=FILLED)
    foot = footer_of(portal.render(r, channels.context_for(r, samples, s)).files[f"{r.id}.html"].decode("utf-8"))
    for text in ("主办：淮南市人民政府办公室", "承办：淮南市数据资源管理局", "网站标识码：TEST000001",
                 '<a href="https://beian.miit.gov.cn/" rel="noopener noreferrer">测ICP备00000000号</a>',
                 '<a href="https://beian.mps.gov.cn/" rel="noopener noreferrer">测公网安备00000000000000号</a>'):
        assert text in foot, text
    empty = dataclasses.replace(settings, site=Website())
    foot = footer_of(portal.render(r, channels.context_for(r, samples, empty)).files[f"{r.id}.html"].decode("utf-8"))
    assert "gov-footer" not in foot and "主办" not in foot


# ---------------------------------------------------------------------------------------------
# 字号 and 打印 in a real browser


def _body_font(page) -> float:
    return page.evaluate("parseFloat(getComputedStyle(document.querySelector('main .body p')).fontSize)")


@pytest.mark.parametrize("where", ["portal", "hall"])
def test_font_size_switch_works_without_javascript(browser, tmp_path, portal_pages, hall, where):
    if where == "portal":
        path = tmp_path / "page.html"
        path.write_text(portal_pages["work-report-2026-q3"], "utf-8")
    else:
        path = hall / "releases" / "work-report-2026-q3.html"
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(path.resolve().as_uri())
        middle = _body_font(page)
        page.click("label[for=fs-l]")
        large = _body_font(page)
        page.click("label[for=fs-s]")
        small = _body_font(page)
        assert small < middle < large and large >= 20, (small, middle, large)
        page.click("label[for=fs-l]")
        shoot(page, f"govsite-{where}-large-375")
        page.keyboard.press("Tab")  # the switch is reachable by keyboard
    finally:
        context.close()


def test_print_stylesheet_leaves_out_the_site_furniture(browser, tmp_path, portal_pages):
    path = tmp_path / "page.html"
    path.write_text(portal_pages["notice-2017-78"], "utf-8")
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(path.resolve().as_uri())
        assert page.is_visible(".tools") and page.is_visible("header.site")
        page.emulate_media(media="print")
        assert not page.is_visible(".tools") and not page.is_visible("header.site")
        assert not page.is_visible(".breadcrumb") and page.is_visible("#title")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
        page.pdf(path=str(tmp_path / "page.pdf"))  # Chromium prints it
        assert (tmp_path / "page.pdf").stat().st_size > 10_000
        # 打印 opens the browser's print (window.print) and nothing else.
        assert page.get_attribute("button.print", "onclick") == "window.print()"
    finally:
        context.close()


@pytest.mark.parametrize("viewport", ["375", "1280"])
def test_pages_with_the_tools_fit_phone_and_desktop(browser, hall, viewport):
    vp = {"375": PHONE, "1280": DESKTOP}[viewport]
    for path in ("index.html", "releases/notice-2017-78.html"):
        check = open_page(browser, hall / path, vp, shot=f"govsite-hall-{Path(path).stem}-{viewport}")
        assert not check.overflows and check.title_visible, path


# ---------------------------------------------------------------------------------------------
# Policy documents as government documents (GB/T 9704)


def _info(html: str) -> dict[str, str]:
    block = html[html.index('<table class="doc-info"'):html.index("</table>", html.index('<table class="doc-info"'))]
    cells = re.findall(r'<th scope="row">([^<]+)</th>\s*<td[^>]*>(.*?)</td>', block, re.S)
    return {k: re.sub(r"<[^>]+>", "", v).strip() for k, v in cells}


def test_document_page_has_the_information_block(portal_pages, hall):
    for html in (portal_pages["notice-2017-78"], (hall / "releases/notice-2017-78.html").read_text("utf-8")):
        info = _info(html)
        assert info == {"索引号": "淮宣-2017-00078", "主题分类": "综合政务",
                        "发文机关": "中共淮南市委宣传部、淮南市人民政府办公室", "成文日期": "2017年9月1日",
                        "发文字号": "淮宣〔2017〕78号", "发布日期": "2026年11月20日 10:00", "有效性": "有效"}
        # 发布日期 is the page's shown time: the same <time> the metadata's PubDate is read from.
        assert Head(html).meta["PubDate"] == "2026-11-20 10:00"
    assert _info(portal_pages["employment-subsidy-2026"])["索引号"] == "淮人社-2026-00015"
    assert "<table class=\"doc-info\"" not in portal_pages["notice-2017-78-interpretation"]  # an interpretation has none


def test_signature_and_date_stand_at_the_right(browser, tmp_path, portal_pages, hall):
    path = tmp_path / "doc.html"
    path.write_text(portal_pages["notice-2017-78"], "utf-8")
    for page_path in (path, hall / "releases/notice-2017-78.html"):
        for viewport in (PHONE, DESKTOP):
            context = browser.new_context(viewport=viewport)
            try:
                page = context.new_page()
                page.goto(page_path.resolve().as_uri())
                lines = page.locator(".body .signature p")
                assert lines.all_inner_texts() == ["中共淮南市委宣传部", "淮南市人民政府办公室", "2017年9月1日"]
                body = page.locator(".body").bounding_box()
                for i in range(3):
                    box = lines.nth(i).bounding_box()
                    text_right = page.evaluate(
                        "(el) => { const r = document.createRange(); r.selectNodeContents(el);"
                        " const b = r.getBoundingClientRect(); return [b.left, b.right]; }", lines.nth(i).element_handle())
                    assert text_right[0] > body["x"] + body["width"] / 3, "signature line starts right of the body"
                    assert text_right[1] <= box["x"] + box["width"] + 1 and text_right[1] > body["x"] + body["width"] * 0.7
                # the signature is not left as body text: the last body paragraph is the body's own
                assert "2017年9月1日" not in page.locator(".body section p").last.inner_text()
            finally:
                context.close()


def _docx(data: bytes):
    import io

    import docx as python_docx

    return python_docx.Document(io.BytesIO(data))


def _east_asian_font(run) -> str:
    from docx.oxml.ns import qn

    return run.element.rPr.rFonts.get(qn("w:eastAsia"))


def test_document_download_is_laid_out_as_an_official_document(samples, settings, portal_pages):
    r = samples["notice-2017-78"]
    rd = channels.render("portal", r, channels.context_for(r, samples, settings))
    assert 'href="notice-2017-78.docx" download' in portal_pages["notice-2017-78"]
    data = rd.files["notice-2017-78.docx"]
    assert data == channels.render("portal", r, channels.context_for(r, samples, settings)).files["notice-2017-78.docx"]
    d = _docx(data)
    sec = d.sections[0]
    assert round(sec.top_margin.mm) == 37 and round(sec.left_margin.mm) == 28 and round(sec.page_width.mm) == 210
    paras = [p for p in d.paragraphs if p.text.strip()]
    texts = [p.text for p in paras]
    # 发文机关标志 in red, then the 文号 line, then the title in 小标宋 (2号, 22 pt), centred
    assert texts[:4] == ["中共淮南市委宣传部", "淮南市人民政府办公室文件", "淮宣〔2017〕78号", r.title]
    assert paras[0].runs[0].font.color.rgb is not None and str(paras[0].runs[0].font.color.rgb) == "D00000"
    title = paras[3]
    assert title.alignment == 1 and _east_asian_font(title.runs[0]) == "方正小标宋简体" and title.runs[0].font.size.pt == 22
    # 主送机关 flush left; body in 仿宋 3号 (16 pt) with a two-character first-line indent; headings in 黑体
    assert texts[4] == "各县区委宣传部、各县区政府办公室，市直各部门，市直新闻单位："
    body = paras[5]
    assert _east_asian_font(body.runs[0]) == "仿宋_GB2312" and body.runs[0].font.size.pt == 16
    assert body.paragraph_format.first_line_indent.pt == 32
    heading = next(p for p in paras if p.text == "一、进一步明确政务公开新闻发布责任主体")
    assert _east_asian_font(heading.runs[0]) == "黑体"
    # signature and date right, closing the document (not repeated as body text)
    assert texts[-3:] == ["中共淮南市委宣传部", "淮南市人民政府办公室", "2017年9月1日"]
    assert all(p.alignment == 2 for p in paras[-3:]) and texts.count("2017年9月1日") == 1
    # not the newspaper copy: no column head, 报别 line or byline
    assert not [t for t in texts if t.startswith(("【权威发布】", "报别：", "发布部门："))]


def _superseding_pair(samples):
    old = dataclasses.replace(samples["notice-2017-78"], status="superseded")
    new = dataclasses.replace(samples["employment-subsidy-2026"], supersedes=("notice-2017-78",))
    releases = {**samples, old.id: old, new.id: new}
    return old, new, releases


def test_a_superseded_document_is_labelled_and_linked_both_ways(samples, settings, registry, tmp_path):
    old, new, releases = _superseding_pair(samples)
    page = lambda r: channels.render("portal", r, channels.context_for(r, releases, settings)).files[  # noqa: E731
        f"{r.id}.html"].decode("utf-8")
    old_html, new_html = page(old), page(new)
    assert _info(old_html)["有效性"] == "已失效（已被新文件替代）"
    assert "本文件已失效（已被新文件替代）" in old_html
    assert f'已被新文件替代：<a href="{new.id}.html">{new.title}</a>' in old_html
    assert f'本文件替代：<a href="{old.id}.html">{old.title}</a>' in new_html
    assert _info(new_html)["有效性"] == "有效" and 'class="box doc-status"' not in new_html
    published = {rid: r.publish_at for rid, r in releases.items()}
    presshall.build_site(list(releases.values()), published, registry, settings, tmp_path / "hall",
                         now=max(published.values()) + timedelta(days=1))
    hall_old = (tmp_path / "hall/releases/notice-2017-78.html").read_text("utf-8")
    assert "本文件已失效（已被新文件替代）" in hall_old and f'href="{new.id}.html"' in hall_old
    assert (tmp_path / "hall/assets/notice-2017-78/notice-2017-78.docx").stat().st_size > 5000


def test_marking_superseded_without_the_old_document_is_refused(samples, settings):
    from pressroom.releases.loader import check_links

    _, new, releases = _superseding_pair(samples)
    releases["notice-2017-78"] = samples["notice-2017-78"]  # still effective
    problems = check_links(releases, settings)[new.id]
    assert any(p.field == "supersedes" and "有效性仍为有效" in p.message and "pressroom correct notice-2017-78" in p.fix
               for p in problems)


# ---------------------------------------------------------------------------------------------
# Emergencies: advice and hotlines first


@pytest.fixture(scope="module")
def h5_pages(samples, settings):
    out = {}
    for rid in ("rainstorm-2026-11", "rainstorm-2026-11-update-1"):
        r = samples[rid]
        out[rid] = channels.render("h5", r, channels.context_for(r, samples, settings)).files[f"{rid}-h5.html"].decode()
    return out


def test_emergency_pages_put_advice_and_tel_hotlines_before_the_text(portal_pages, h5_pages, hall):
    pages = {"portal": portal_pages["rainstorm-2026-11"], "h5": h5_pages["rainstorm-2026-11"],
             "hall": (hall / "releases/rainstorm-2026-11.html").read_text("utf-8")}
    for where, html in pages.items():
        urgent = html.index('<section class="urgent"')
        assert urgent < html.index("事件情况") and urgent < html.index("内容摘要" if where != "h5" else "摘要"), where
        assert urgent < html.index('class="box timeline event"' if where != "hall" else "事件相关发布"), where
        box = html[urgent:html.index("</section>", urgent)]
        assert re.findall(r'href="(tel:[^"]+)"', box) == ["tel:110", "tel:119", "tel:12345"], where
        assert "尽量避开积水路段，不要驾车或步行涉水通过下穿通道" in box
    h5 = pages["h5"]
    assert h5.index('<section class="urgent"') < h5.index("<details")  # not folded away
    assert "<details" not in h5[:h5.index("</section>", h5.index('<section class="urgent"'))]


def test_every_follow_up_is_linked_both_ways(portal_pages, h5_pages, hall):
    first, update = "rainstorm-2026-11", "rainstorm-2026-11-update-1"
    event_page = "https://www.huainan.gov.cn/xwfb/presshall/releases/rainstorm-2026-11.html"
    assert f'href="{update}.html"' in portal_pages[first] and f'href="{first}.html"' in portal_pages[update]
    assert f'href="https://www.huainan.gov.cn/xwfb/{update}.html"' in h5_pages[first]
    assert f'href="https://www.huainan.gov.cn/xwfb/{first}.html"' in h5_pages[update]
    # The first page goes out before any follow-up: it also links the press hall's page of the event, rebuilt
    # with every follow-up, which links them all.
    for html in (portal_pages[first], portal_pages[update], h5_pages[first], h5_pages[update]):
        assert f'<a href="{event_page}">查看本事件全部后续发布</a>' in html
    assert f'href="{update}.html"' in (hall / f"releases/{first}.html").read_text("utf-8")


@pytest.mark.parametrize("viewport", ["375", "1280"])
def test_emergency_advice_is_on_the_first_screen(browser, tmp_path, portal_pages, h5_pages, viewport):
    vp = {"375": PHONE, "1280": DESKTOP}[viewport]
    for name, html in (("portal", portal_pages["rainstorm-2026-11"]), ("h5", h5_pages["rainstorm-2026-11"])):
        path = tmp_path / f"{name}.html"
        path.write_text(html, "utf-8")
        check = open_page(browser, path, vp, shot=f"govsite-emergency-{name}-{viewport}")
        assert not check.overflows
        context = browser.new_context(viewport=vp)
        try:
            page = context.new_page()
            page.goto(path.resolve().as_uri())
            box = page.locator(".urgent h2").bounding_box()
            assert box["y"] + box["height"] < vp["height"], f"{name}: advice below the first screen"
            hotline = page.locator("a.hotline").first
            assert hotline.bounding_box()["height"] >= 44  # a finger's target
            red = page.evaluate("getComputedStyle(document.querySelector('a.hotline')).backgroundColor")
            assert red == "rgb(198, 40, 40)"
        finally:
            context.close()


# ---------------------------------------------------------------------------------------------
# The 图解 where it belongs


def test_portal_page_shows_the_infographic_whole(browser, samples, settings, tmp_path):
    from channels import infographic

    r = samples["work-report-2026-q3"]
    assert "infographic" in r.channels
    rd = channels.render("portal", r, channels.context_for(r, samples, settings))
    assert rd.files["assets/work-report-2026-q3/infographic.png"] == infographic.poster_png(
        r, channels.context_for(r, samples, settings))
    for name, data in rd.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    for label, vp in (("375", PHONE), ("1280", DESKTOP)):
        context = browser.new_context(viewport=vp)
        try:
            page = context.new_page()
            page.goto((tmp_path / "work-report-2026-q3.html").resolve().as_uri())
            img = page.locator("figure.infographic img")
            img.scroll_into_view_if_needed()
            page.wait_for_function("document.querySelector('figure.infographic img').complete")
            w, h, nw, nh = page.evaluate("(i => [i.clientWidth, i.clientHeight, i.naturalWidth, i.naturalHeight])"
                                         "(document.querySelector('figure.infographic img'))")
            assert nw == 1080 and w > 300 and abs(h / w - nh / nw) < 0.01, (w, h, nw, nh)  # whole, not cropped
            assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
            assert page.get_attribute("figure.infographic a", "href") == "assets/work-report-2026-q3/infographic.png"
            shoot(page, f"govsite-infographic-{label}", full_page=True)
        finally:
            context.close()
    without = dataclasses.replace(r, channels=tuple(c for c in r.channels if c != "infographic"))
    rd = channels.render("portal", without, channels.context_for(without, samples, settings))
    assert not [n for n in rd.files if n.endswith("infographic.png")] and 'class="infographic"' not in \
        rd.files["work-report-2026-q3.html"].decode()


def test_infographic_failure_names_the_page_that_shows_it(samples, settings, monkeypatch):
    from channels import infographic
    from pressroom.errors import RenditionError

    def refuse(release, ctx):
        raise RenditionError("infographic", "key_figures", "关键数字超过4项", "请保留最重要的4项")

    monkeypatch.setattr(infographic, "poster_png", refuse)
    r = samples["work-report-2026-q3"]
    for channel in ("portal", "wechat"):
        with pytest.raises(RenditionError) as e:
            channels.render(channel, r, channels.context_for(r, samples, settings))
        assert e.value.channel == channel and "关键数字超过4项" in e.value.message


def test_wechat_article_carries_the_infographic_uploaded_like_body_images(outlets, samples, rendered):
    import json as _json

    from channels import wechat
    from tests.servers.harness import publish

    rid = "rainstorm-2026-11"
    rend = rendered("wechat", rid)
    manifest = _json.loads(rend.files["wechat-manifest.json"])
    poster = next(up for up in manifest["images"] if up["path"] == "图解")
    assert poster["placeholder"] == wechat.POSTER_PLACEHOLDER and poster["api"] == "media/uploadimg"
    assert len(rend.files[poster["file"]]) < wechat.UPLOADIMG_MAX_BYTES
    assert publish(outlets, samples[rid], rend).state == "published"
    content = outlets.wechat.drafts[0][0]["content"]
    # The double keeps only images that came from uploadimg (as the platform does): the 图解 is among them.
    srcs = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', content)
    assert rend.files[poster["file"]] in [outlets.wechat.state.images[s] for s in srcs]
    assert 'alt="图解：强降雨致我市部分路段积水，暂无人员伤亡"' in content


# ---------------------------------------------------------------------------------------------
# A press conference not marked as one


def test_a_release_that_reads_like_a_press_conference_is_warned_until_marked(samples):
    from pressroom.releases.catalog import conference_warnings

    update = samples["rainstorm-2026-11-update-1"]  # its kicker: 市政府召开……新闻发布会
    assert not update.press_conference
    (w,) = conference_warnings(update)
    assert w.startswith("引题、导语写到“发布会”，但未标记 press_conference: true") and "2·1+N" in w
    assert conference_warnings(dataclasses.replace(update, press_conference=True)) == []
    assert conference_warnings(samples["work-report-2026-q3"]) == []  # marked
    assert conference_warnings(samples["water-price-rumor"]) == []  # no conference mentioned


def test_validation_lists_the_warning(settings):
    from pressroom.releases.catalog import validate

    catalog = validate(settings, render=False)
    assert any("press_conference: true" in w for w in catalog.warnings["rainstorm-2026-11-update-1"])
    assert not any("press_conference: true" in w for w in catalog.warnings["work-report-2026-q3"])


# ---------------------------------------------------------------------------------------------
# Search: full text, 文号, speakers, department; hits highlighted


@pytest.mark.parametrize("query, found", [
    ("淮宣〔2017〕78号", "关于进一步加强政务公开新闻发布工作的通知"),  # the 文号
    ("蒲晓明", "前三季度全市地区生产总值同比增长5.8%"),  # a spokesperson
    ("淮南市统计局", "前三季度全市地区生产总值同比增长5.8%"),  # the department's full name
    ("铁路下穿通道", "强降雨致我市部分路段积水，暂无人员伤亡"),  # words of the body only
])
def test_search_finds_full_text_numbers_and_speakers(browser, hall, query, found):
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto((hall / "search.html").resolve().as_uri() + "?q=" + query)
        titles = page.locator("#results li a").all_inner_texts()
        assert found in titles, (query, titles)
        marks = page.locator("#results mark").all_inner_texts()
        assert all(m.lower() == query.lower() for m in marks)
        assert marks or query == "淮南市统计局"  # the department's full name is searched, not shown
        if query == "铁路下穿通道":  # a body-only hit shows the words around it
            summary = page.locator("#results li").filter(has_text=found).locator(".summary").inner_text()
            assert "铁路下穿通道" in summary and summary.startswith("……")
            shoot(page, "govsite-search-375")
    finally:
        context.close()
