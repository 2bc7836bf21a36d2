"""Word files as departments send them, built with python-docx (and, for what python-docx cannot write,
by editing the package's XML): the import tests' inputs.

* ``interpretation_with_styles``: a policy interpretation laid out with Word's Title and Heading styles,
  with a table, an inline image with alt text, bold text, a footnote and a reviewer's comment;
* ``document_typed_by_hand``: a policy document as typed in an office: no styles, the 发文机关标志, the
  文号 and the title centred, headings typed as bold "一、" / "（一）" paragraphs, a table, and the
  signature block (发文机关署名, 成文日期) set to the right, then the 附注;
* ``emergency_with_colons``: an emergency release whose headings are bold "事件情况：" paragraphs;
* ``with_tracked_changes``: the first one with an insertion and a deletion left unaccepted.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from PIL import Image as PILImage

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _png(width=240, height=160, colour=(40, 110, 170)) -> io.BytesIO:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buf, "PNG")
    buf.seek(0)
    return buf


def _para(doc, text="", bold=False, align=None, size=None, font=None, colour=None):
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    if text:
        run = p.add_run(text)
        run.bold = bold or None
        if size:
            run.font.size = Pt(size)
        if font:
            run.font.name = font
            run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
        if colour:
            run.font.color.rgb = RGBColor(*colour)
    return p


def _table(doc, rows):
    table = doc.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    return table


def _hyperlink(paragraph, text: str, url: str) -> None:
    from docx.oxml import OxmlElement
    from docx.opc.constants import RELATIONSHIP_TYPE

    rid = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rid)
    run = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = text
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def _save(doc) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _edit_part(data: bytes, edits: dict[str, callable], add: dict[str, bytes] | None = None) -> bytes:
    """The package with some parts rewritten (name -> function of the part's text) and some added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename in edits:
                body = edits[item.filename](body.decode("utf-8")).encode("utf-8")
            dst.writestr(item, body)
        for name, body in (add or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


FOOTNOTES_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:footnotes xmlns:w="{W}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>
<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>
<w:footnote w:id="1"><w:p><w:pPr><w:pStyle w:val="FootnoteText"/></w:pPr><w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> 见《淮南市城镇老旧小区改造三年行动方案》（淮政办〔2025〕9号）。</w:t></w:r></w:p></w:footnote>
</w:footnotes>"""


def _add_footnote(data: bytes, marker: str) -> bytes:
    """Turn the run whose text is ``marker`` into a reference to footnote 1 (python-docx writes no footnotes)."""
    ref = ('<w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:footnoteReference w:id="1"/></w:r>')
    rel = ('<Relationship Id="rIdFn1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
           'footnotes" Target="footnotes.xml"/></Relationships>')
    override = ('<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.wordprocessingml.footnotes+xml"/></Types>')
    return _edit_part(data, {
        "word/document.xml": lambda x: re.sub(rf"<w:r><w:t>{marker}</w:t></w:r>", ref, x, count=1),
        "word/_rels/document.xml.rels": lambda x: x.replace("</Relationships>", rel),
        "[Content_Types].xml": lambda x: x.replace("</Types>", override),
    }, {"word/footnotes.xml": FOOTNOTES_XML.encode("utf-8")})


def interpretation_with_styles() -> bytes:
    doc = Document()
    doc.add_paragraph("《淮南市城镇老旧小区改造实施办法》政策解读", style="Title")
    lead = doc.add_paragraph("近日，市城乡建委印发《淮南市城镇老旧小区改造实施办法》。")
    lead.add_run("FOOTNOTE1")
    lead.add_run("现就有关内容解读如下。")
    doc.add_paragraph("一、背景依据", style="Heading 1")
    p = doc.add_paragraph("我市2000年底前建成的老旧小区共")
    p.add_run("312个").bold = True
    commented = p.add_run("，涉及居民8.6万户。")
    doc.add_comment(commented, text="户数请再核实", author="审稿人", initials="SG")
    doc.add_paragraph("目标任务", style="Heading 1")
    doc.add_paragraph("到2027年底，基本完成2000年底前建成的城镇老旧小区改造任务。")
    doc.add_paragraph("主要内容", style="Heading 1")
    doc.add_paragraph("改造内容分为基础类、完善类、提升类三类：")
    _table(doc, [["类别", "改造内容", "资金来源"],
                 ["基础类", "水电气路、消防设施", "财政补助为主"],
                 ["完善类", "加装电梯、停车设施", "财政补助、居民出资"]])
    doc.add_paragraph("改造资金的具体补助标准", style="Heading 2")
    doc.add_paragraph("基础类改造每户补助不超过1.2万元。")
    doc.add_paragraph("涉及范围", style="Heading 1")
    doc.add_paragraph("全市城镇老旧小区。")
    for heading in ("执行标准", "注意事项", "关键词诠释"):
        doc.add_paragraph(heading, style="Heading 1")
        doc.add_paragraph(f"{heading}的内容。")
    doc.add_paragraph("惠民利民举措", style="Heading 1")
    doc.add_paragraph("改造后的小区由社区组织居民协商确定物业管理方式。")
    shape = doc.add_paragraph().add_run().add_picture(_png())
    shape._inline.docPr.set("descr", "改造后的田家庵区某小区")
    doc.add_paragraph("新旧政策差异", style="Heading 1")
    doc.add_paragraph("与原办法相比，新增了加装电梯的补助。")
    doc.add_paragraph("答记者问", style="Heading 1")
    doc.add_paragraph("问：改造期间居民是否需要搬离？答：不需要。")
    p = doc.add_paragraph("办法全文见")
    _hyperlink(p, "市城乡建委网站", "https://cxjw.huainan.gov.cn/zcwj/2026-12.html")
    p.add_run("。")
    return _add_footnote(_save(doc), "FOOTNOTE1")


def document_typed_by_hand() -> bytes:
    doc = Document()
    centre, right = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT
    _para(doc, "淮南市城乡建设委员会文件", bold=True, align=centre, size=36, font="方正小标宋简体", colour=(255, 0, 0))
    _para(doc)
    _para(doc, "淮建〔2026〕12号", align=centre, size=16)
    _para(doc)
    _para(doc, "关于加快推进城镇老旧小区改造工作的", bold=True, align=centre, size=22, font="方正小标宋简体")
    _para(doc, "通知", bold=True, align=centre, size=22, font="方正小标宋简体")
    _para(doc)
    _para(doc, "各县区城乡建设局，市直有关单位：")
    _para(doc, "为加快推进城镇老旧小区改造工作，现就有关事项通知如下：")
    _para(doc, "一、总体要求", bold=True, font="黑体")
    _para(doc, "坚持以人民为中心的发展思想，2026年完成改造老旧小区100个。")
    _para(doc, "（一）工作目标", bold=True, font="楷体")
    _para(doc, "各县区年度改造任务如下：")
    _table(doc, [["县区", "改造小区（个）", "涉及户数"],
                 ["田家庵区", "38", "12600"],
                 ["大通区", "21", "6400"]])
    p = doc.add_paragraph()
    p.add_run("（二）资金保障。").bold = True
    p.add_run("市级财政按每户不超过1.2万元给予补助。")
    _para(doc, "二、工作要求", font="黑体")  # set in 黑体 as GB/T 9704 has it, not bold
    _para(doc, "各县区要于每月5日前报送工作进展。")
    _para(doc)
    _para(doc, "淮南市城乡建设委员会", align=right)
    _para(doc, "2026年3月5日", align=right)
    _para(doc, "（此件公开发布）")
    return _save(doc)


def emergency_with_colons() -> bytes:
    doc = Document()
    _para(doc, "我市一在建工地发生塔吊倾倒事故", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, size=22)
    _para(doc, "——2人受伤，已送医救治", align=WD_ALIGN_PARAGRAPH.CENTER, size=16)
    _para(doc, "3月6日9时许，田家庵区一在建工地发生塔吊倾倒，造成2人受伤。")
    _para(doc, "事件情况：", bold=True)
    _para(doc, "伤者已送医救治，生命体征平稳。")
    _para(doc, "工作进展：", bold=True)
    _para(doc, "事故现场已封闭，周边工地塔吊正在排查。")
    _para(doc, "三、责任认定", bold=True)
    _para(doc, "事故原因正在调查。")
    return _save(doc)


def with_tracked_changes() -> bytes:
    doc = Document()
    doc.add_paragraph("关于调整公交线路的通告", style="Title")
    p = doc.add_paragraph("自3月10日起，")
    p.add_run("TRACKED")
    p.add_run("调整运行。")
    change = ('<w:ins w:id="1" w:author="科员" w:date="2026-03-01T09:00:00Z"><w:r><w:t>6路公交</w:t></w:r></w:ins>'
              '<w:del w:id="2" w:author="科员" w:date="2026-03-01T09:00:00Z"><w:r><w:delText>5路公交</w:delText>'
              '</w:r></w:del>')
    return _edit_part(_save(doc), {"word/document.xml": lambda x: x.replace("<w:r><w:t>TRACKED</w:t></w:r>", change)})


SAMPLES = {
    "interpretation_with_styles": interpretation_with_styles,
    "document_typed_by_hand": document_typed_by_hand,
    "emergency_with_colons": emergency_with_colons,
    "with_tracked_changes": with_tracked_changes,
}


def write(folder: Path) -> dict[str, Path]:
    """Every sample as ``<name>.docx`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, build in SAMPLES.items():
        paths[name] = folder / f"{name}.docx"
        paths[name].write_bytes(build())
    return paths
