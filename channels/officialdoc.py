"""A policy document as a government document: its information block (索引号, 主题分类, 发文机关, 成文日期,
发文字号, 发布日期, 有效性; 国办发〔2017〕47号), its signature and date set right, and the document as a Word file laid
out after GB/T 9704-2012 《党政机关公文格式》 (docs/outlets.md#government-websites) — not the newspaper copy.

Shared by the portal page (which delivers the .docx beside it) and the press hall's document page. Pure.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import timezone
from functools import lru_cache

from docx.document import Document
from docx.enum.text import WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from pressroom.model import DOCUMENT_STATUS, Release

from channels import markup
from channels.wordfile import Template, east_asian, new_document, table_cells

DATE_LINE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")
DOCNUM = re.compile(r"^(?P<code>[\u4e00-\u9fff]+)〔(?P<year>\d{4})〕(?P<seq>\d+)号$")
MAX_SIGNATURE_LINES = 4
# GB/T 9704-2012: A4, 版心 156 mm × 225 mm (top 37 mm, left 28 mm); body 3号仿宋 (16 pt), 22 lines of 28 chars;
# title 2号小标宋 (22 pt); first-level headings 3号黑体. Font names as Word installations of government offices have them.
TITLE_FONT, BODY_FONT, HEADING_FONT = "方正小标宋简体", "仿宋_GB2312", "黑体"
BODY_PT, TITLE_PT, LINE_PT = 16, 22, 28.95
RED = RGBColor(0xD0, 0x00, 0x00)
_HEADING = re.compile(r"^[一二三四五六七八九十]+、")
_BREAKS = re.compile(r"[\t\r\n]")  # python-docx writes them as w:tab and w:br


@dataclass(frozen=True)
class Signed:
    """The document's body without its closing signature block, and that block."""
    body: tuple[tuple[str, str], ...]  # (heading or "", Markdown): the lead first, then each section
    signers: tuple[str, ...]  # 发文机关署名, one a line
    date: str  # 成文日期 as written in the body ("" when the body closes without one)


def signed(release: Release) -> Signed:
    """Split off the signature block: the last paragraph a date (2017年9月1日), the short lines just above it
    the signing organs. A body without that closing date keeps all its text and has no block."""
    parts = [("", release.lead), *((s.heading, s.body) for s in release.sections)]
    heading, last = parts[-1]
    paras = [p.strip() for p in re.split(r"\n\s*\n", last.strip())]
    if not paras or not DATE_LINE.match(paras[-1]):
        return Signed(tuple(parts), (), "")
    k = len(paras) - 1
    signers: list[str] = []
    while k > 0 and len(signers) < MAX_SIGNATURE_LINES and _is_signer(paras[k - 1]):
        k -= 1
        signers.insert(0, paras[k])
    parts[-1] = (heading, "\n\n".join(paras[:k]))
    return Signed(tuple(parts), tuple(signers), paras[-1])


def _is_signer(p: str) -> bool:
    return len(p) <= 30 and "\n" not in p and not re.search(r"[。，；：！？、|#>]", p)


def written_on(release: Release) -> str:
    return release.written_on or signed(release).date


def index_number(release: Release) -> str:
    """索引号: the front matter's, else made from the document's own 文号 (the issuing organ's code, the year and
    the sequence: 淮宣〔2017〕78号 -> 淮宣-2017-00078), so it is stable and invents nothing."""
    if release.index_number:
        return release.index_number
    m = DOCNUM.match(release.document_number)
    return f"{m['code']}-{m['year']}-{int(m['seq']):05d}" if m else ""


def information(release: Release) -> list[dict]:
    """The rows of the information block. 发布日期 has no value here (``"published": True``): the page
    fills in the publication time it shows, from the one variable that holds it."""
    issuers = "、".join(release.issuer) or release.department.name
    rows = [("索引号", index_number(release)), ("主题分类", release.topic), ("发文机关", issuers),
            ("成文日期", written_on(release)), ("发文字号", release.document_number), ("发布日期", None),
            ("有效性", DOCUMENT_STATUS[release.status])]
    return [{"label": label, "value": value or "—", "published": value is None} for label, value in rows]


# ---------------------------------------------------------------------------------------------
# The Word file (GB/T 9704)


def file_name(release_id: str) -> str:
    return f"{release_id}.docx"


@lru_cache(maxsize=None)
def _run_properties(font: str, size: float, bold: bool, color: RGBColor | None):
    """A run's formatting (``w:rPr``) as python-docx writes it, made once for each look."""
    run = Paragraph(OxmlElement("w:p"), None).add_run()
    run.font.size = Pt(size)
    run.font.name = font
    run.bold = bold
    if color is not None:
        run.font.color.rgb = color
    east_asian(run, font)
    return run._r.rPr


def _run(p, text: str, font: str, size: float, bold: bool = False, color: RGBColor | None = None) -> None:
    """Append to paragraph element ``p`` a run of ``text`` (as ``Paragraph.add_run(text)`` writes it)."""
    r = OxmlElement("w:r")
    r.append(copy.deepcopy(_run_properties(font, size, bold, color)))
    if text and not _BREAKS.search(text):
        r.add_t(text)
    elif text:
        Run(r, None).text = text  # tabs and line breaks
    p.append(r)


@lru_cache(maxsize=None)
def _paragraph_properties(size: float, align: int | None, indent: bool, right_chars: float, rule: bool):
    """A paragraph's formatting (``w:pPr``) as python-docx writes it, made once for each look. ``rule``: the
    red separator under the 文号 line (GB/T 9704 7.2.4)."""
    p = Paragraph(OxmlElement("w:p"), None)
    f = p.paragraph_format
    f.line_spacing_rule, f.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(LINE_PT)
    f.space_before = f.space_after = Pt(0)
    if align is not None:
        p.alignment = align
    if indent and align is None:
        f.first_line_indent = Pt(size * 2)
    if right_chars:
        f.right_indent = Pt(size * right_chars)
    if rule:
        border = OxmlElement("w:pBdr")
        bottom = OxmlElement("w:bottom")
        for k, v in (("w:val", "single"), ("w:sz", "12"), ("w:space", "1"), ("w:color", "D00000")):
            bottom.set(qn(k), v)
        border.append(bottom)
        p._p.get_or_add_pPr().append(border)
    return p._p.pPr


class _Body:
    """The document being written, from the template: paragraphs go before the section properties, where
    python-docx's ``add_paragraph`` puts them; ``doc`` is the python-docx document for tables."""

    def __init__(self, template: Template):
        self.element = template.body()
        self.doc = Document(self.element, template.part)
        self._end = self.element.body.sectPr

    def paragraph(self, text: str = "", font: str = BODY_FONT, size: float = BODY_PT, align: int | None = None,
                  indent: bool = True, right_chars: float = 0, bold: bool = False, color: RGBColor | None = None,
                  rule: bool = False) -> None:
        p = OxmlElement("w:p")
        p.append(copy.deepcopy(_paragraph_properties(size, align, indent, right_chars, rule)))
        if text:
            _run(p, text, font, size, bold, color)
        self._end.addprevious(p)


def _body(out: _Body, md: str) -> None:
    for block in markup.blocks(md, links=True):
        if isinstance(block, markup.Table):
            for paragraph, text, header in table_cells(out.doc, block):
                _run(paragraph._p, text, BODY_FONT, 14, bold=header)
        elif block.endswith("：") and len(block) < 80 and "。" not in block:
            out.paragraph(block, indent=False)  # 主送机关: flush left
        else:
            out.paragraph(block)


@lru_cache(maxsize=1)
def _template() -> Template:
    """python-docx's blank document on A4 with the GB/T 9704 margins, its Normal style in the body font."""
    doc = new_document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(37), Mm(35), Mm(28), Mm(26)
    east_asian(doc.styles["Normal"], BODY_FONT)
    return Template(doc)


def docx_bytes(release: Release) -> bytes:
    """The document as issued, byte-identical for the same release (properties and zip entries carry its
    publish_at, never the clock)."""
    template = _template()
    props = template.properties()
    props.title, props.author, props.last_modified_by = release.title, release.department.name, release.department.name
    props.subject, props.keywords = release.document_number, "、".join(release.keywords)
    props.comments, props.category, props.revision = f"稿件 {release.id}，版本 {release.version}", "政策文件", 1
    utc = release.publish_at.astimezone(timezone.utc).replace(tzinfo=None)
    props.created = props.modified = props.last_printed = utc

    out = _Body(template)
    organs = release.issuer or (release.department.name,)
    for organ in organs:  # 发文机关标志, red, centred (joint documents: one organ a line, 文件 after the last)
        out.paragraph(organ + ("文件" if organ == organs[-1] else ""), TITLE_FONT, 26, align=1, color=RED)
    out.paragraph(indent=False)
    out.paragraph(release.document_number, align=1)
    out.paragraph(indent=False, rule=True)  # the red separator under the 文号 line (GB/T 9704 7.2.4)
    out.paragraph(indent=False)
    out.paragraph(markup.clean_text(release.title).strip(), TITLE_FONT, TITLE_PT, align=1)
    out.paragraph(indent=False)
    s = signed(release)
    for heading, md in s.body:
        if heading:
            out.paragraph(heading, HEADING_FONT if _HEADING.match(heading) else "楷体_GB2312")
        _body(out, md)
    out.paragraph(indent=False)
    signers, date = s.signers or organs, written_on(release)
    for line in signers:  # 发文机关署名 and 成文日期 set right (右空四字), GB/T 9704 7.3.5
        out.paragraph(line, align=2, right_chars=4)
    if date:
        out.paragraph(date, align=2, right_chars=4)
    return template.docx(out.element, props, release.publish_at.timetuple()[:6])
