"""Newspaper "权威发布" column: the plain-text copy and the .docx the copy desk receives."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import datetime, timezone

import docx
import pytest

from channels import newspaper
from channels.base import RenderContext
from pressroom.errors import RenditionError
from tests.test_channel_portal import DOC_REF, SAMPLE_IDS, TZ, make_release


def txt_of(rendition) -> str:
    return rendition.files[f"{rendition.release_id}.txt"].decode("utf-8-sig")


def lines_of(rendition) -> list[str]:
    return txt_of(rendition).split("\n")


def docx_of(rendition) -> docx.document.Document:
    return docx.Document(io.BytesIO(rendition.files[f"{rendition.release_id}.docx"]))


def test_copy_has_labelled_headline_layers_dateline_and_sections(ctx):
    rd = newspaper.render(make_release(), ctx)
    lines = lines_of(rd)
    assert lines[0] == "【权威发布】"
    assert "报别：淮南日报、淮河早报" in lines
    kicker = lines.index("引题：回应网络关切")
    title = lines.index("主题：我市回应“居民水价翻倍”网络传言：今年没有调价计划")
    subtitle = lines.index("副题：水价调整须依法履行听证程序")
    lead = next(i for i, ln in enumerate(lines) if ln.startswith("本报讯 "))
    assert kicker < title < subtitle < lead
    assert lines[lead].startswith("本报讯 市发展改革委11月20日回应网络关切。")
    for heading in ("小标题：背景依据", "小标题：主要内容", "小标题：新旧政策差异（不涉及）"):
        assert heading in lines
    # A 不涉及 element is printed with its reason: the desk sees it was considered.
    assert lines[lines.index("小标题：新旧政策差异（不涉及）") + 1] == "不涉及。本政策为首次制定。"
    assert "水价调整须依法履行成本监审和听证程序。" in lines
    assert "新闻发言人：张明（市发展改革委主任）、李华（市发展改革委副主任）" in lines
    assert "解读专家：王强（安徽理工大学经济学教授）" in lines
    assert "发布部门：淮南市发展和改革委员会" in lines
    assert "图1　市发展改革委新闻发布会现场（照片文件：water-price-2026/images/photo.png）" in lines
    assert ("政策原文：《淮南市城市供水价格管理办法》，全文见淮南市人民政府门户网站："
            "https://www.huainan.gov.cn/xwfb/water-notice-2026.html") in lines


def test_photos_are_delivered_beside_the_copy(ctx):
    rd = newspaper.render(make_release(), ctx)
    r = make_release()
    assert rd.files["water-price-2026/images/photo.png"] == r.images[0].data
    assert set(rd.files) == {"water-price-2026.txt", "water-price-2026.docx", "water-price-2026/images/photo.png"}


def test_paper_names_come_from_settings(settings, ctx):
    other = dataclasses.replace(settings, outlets={**settings.outlets, "newspaper": {
        "papers": ["示例日报"], "column": "政务之窗"}})
    lines = lines_of(newspaper.render(make_release(), RenderContext(other, {DOC_REF.id: DOC_REF})))
    assert lines[0] == "【政务之窗】" and "报别：示例日报" in lines
    assert not any("淮南日报" in ln for ln in lines)


def test_policy_document_runs_in_full_after_a_short_item(settings):
    doc = make_release(id="water-notice-2026", kind="policy-document", title="淮南市城市供水价格管理办法",
                       interprets="", document_number="淮政〔2026〕12号", issuer=("淮南市人民政府",),
                       digest="市政府印发《淮南市城市供水价格管理办法》，自2027年1月1日起施行。",
                       lead="各县区人民政府，市政府各部门：\n\n现将《办法》印发给你们，请认真贯彻执行。", experts=())
    lines = lines_of(newspaper.render(doc, RenderContext(settings)))
    lead = next(i for i, ln in enumerate(lines) if ln.startswith("本报讯 "))
    assert lines[lead:lead + 4] == ["本报讯 市政府印发《淮南市城市供水价格管理办法》，自2027年1月1日起施行。", "全文如下：",
                                    "各县区人民政府，市政府各部门：", "现将《办法》印发给你们，请认真贯彻执行。"]
    assert "文号：淮政〔2026〕12号" in lines and "发文机关：淮南市人民政府" in lines


def test_missing_lead_is_an_error_naming_the_field(ctx):
    with pytest.raises(RenditionError) as e:
        newspaper.render(make_release(lead=""), ctx)
    assert e.value.field == "导语" and "本报讯" in e.value.message and e.value.fix


def test_lead_without_time_warns(ctx):
    rd = newspaper.render(make_release(lead="市发展改革委回应网络关切。"), ctx)
    assert any("导语未写明时间" in w for w in rd.warnings)
    rd = newspaper.render(make_release(), ctx)
    assert not any("导语未写明时间" in w for w in rd.warnings)


def test_no_dash_before_the_subtitle_of_a_news_item(ctx):
    rd = newspaper.render(make_release(subtitle="——水价调整须依法履行听证程序"), ctx)
    assert "副题：水价调整须依法履行听证程序" in lines_of(rd)
    assert any("副题前不加破折号" in w for w in rd.warnings)


def test_photo_without_caption_warns(ctx):
    r = make_release()
    r = dataclasses.replace(r, images=(dataclasses.replace(r.images[0], caption=""),))
    rd = newspaper.render(r, ctx)
    assert any("images/photo.png 缺少图片说明" in w for w in rd.warnings)
    assert "图1　（图片说明待补写）（照片文件：water-price-2026/images/photo.png）" in lines_of(rd)


def test_punctuation_warning_names_the_txt_line(ctx):
    r = make_release(sections=(make_release().sections[0],
                               dataclasses.replace(make_release().sections[1], body="水价调整须依法履行程序,不能随意调整。")))
    rd = newspaper.render(r, ctx)
    lineno = lines_of(rd).index("水价调整须依法履行程序,不能随意调整。") + 1
    assert [w for w in rd.warnings if "半角标点" in w] == [
        f"water-price-2026.txt 第{lineno}行：中文中使用了半角标点（“,”→“，”），应使用全角标点：“依法履行程序,不能随意调整”"]
    clean = newspaper.render(make_release(), ctx)
    assert not any("半角标点" in w for w in clean.warnings)


# ---------------------------------------------------------------------------------------------
# .docx


def test_docx_opens_and_holds_the_headlines_lead_sections_and_photo(ctx):
    d = docx_of(newspaper.render(make_release(), ctx))
    texts = [p.text for p in d.paragraphs]
    assert "【权威发布】" in texts
    assert "回应网络关切" in texts and "我市回应“居民水价翻倍”网络传言：今年没有调价计划" in texts
    assert "水价调整须依法履行听证程序" in texts
    assert any(t.startswith("本报讯 市发展改革委11月20日") for t in texts)
    headings = [p.text for p in d.paragraphs if p.style.name.startswith("Heading")]
    assert headings == ["背景依据", "主要内容", "新旧政策差异（不涉及）", "图片说明"]
    assert "水价调整须依法履行成本监审和听证程序。" in texts
    assert len(d.inline_shapes) == 1
    assert "新闻发言人：张明（市发展改革委主任）、李华（市发展改革委副主任）" in texts
    assert d.core_properties.title == "我市回应“居民水价翻倍”网络传言：今年没有调价计划"


def test_docx_is_byte_identical_and_stamped_with_the_publishing_time(ctx):
    r = make_release()
    a = newspaper.render(r, ctx)
    b = newspaper.render(r, ctx)
    assert a.files == b.files and a.content_hash == b.content_hash
    data = a.files["water-price-2026.docx"]
    # Not the clock: every zip entry and the document properties carry the release's publishing time.
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(2026, 11, 20, 10, 0, 0)}
    props = docx_of(a).core_properties
    expected = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    assert props.created == expected and props.modified == expected
    later = newspaper.render(dataclasses.replace(r, publish_at=datetime(2026, 11, 21, 9, 0, tzinfo=TZ)), ctx)
    assert later.files["water-price-2026.docx"] != data


def test_each_docx_starts_from_a_blank_document(ctx):
    """The blank template is parsed once and copied: nothing of one release's copy reaches the next."""
    first = docx_of(newspaper.render(make_release(), ctx))
    other = docx_of(newspaper.render(make_release(id="other-2026", title="另一篇稿件的标题", kicker="", subtitle="",
                                                  images=(), lead="市政府11月20日发布消息。"), ctx))
    texts = [p.text for p in other.paragraphs]
    assert "另一篇稿件的标题" in texts and "我市回应“居民水价翻倍”网络传言：今年没有调价计划" not in texts
    assert len(other.inline_shapes) == 0 and len(first.inline_shapes) == 1
    assert len(other.paragraphs) < len(first.paragraphs)


@pytest.mark.parametrize("rid", SAMPLE_IDS)
def test_samples_render(samples, contexts, rid):
    rd = newspaper.render(samples[rid], contexts[rid])
    lines = lines_of(rd)
    assert lines[0] == "【权威发布】"
    assert sum(ln.startswith("本报讯 ") for ln in lines) == 1
    assert f"主题：{samples[rid].title}" in lines
    for s in samples[rid].sections:
        assert any(ln.startswith(f"小标题：{s.heading}") for ln in lines)
    assert docx_of(rd).core_properties.title == samples[rid].title


def test_link_addresses_are_kept_in_the_txt_and_the_docx(ctx):
    """A link cannot be clicked in print: its address follows its text, in the lead and in the body."""
    from pressroom.model import Section

    url, lead_url = "https://rsj.huainan.gov.cn/btsl", "https://www.huainan.gov.cn/xwfb/"
    r = dataclasses.replace(make_release(), lead=f"市发展改革委11月20日在[门户网站]({lead_url})回应网络关切。",
                            sections=(Section("主要内容", f"申请人登录[市人社局网站]({url})在线办理。"),))
    rd = newspaper.render(r, ctx)
    txt = txt_of(rd)
    assert f"申请人登录市人社局网站（网址：{url}）在线办理。" in txt
    assert f"门户网站（网址：{lead_url}）" in txt
    body = "\n".join(p.text for p in docx_of(rd).paragraphs)
    assert f"申请人登录市人社局网站（网址：{url}）在线办理。" in body
    assert f"门户网站（网址：{lead_url}）" in body
