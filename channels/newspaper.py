"""Newspaper "权威发布" column (淮南日报 / 淮河早报): the copy the desk receives.

Two files with the same content: ``<id>.txt`` (plain text, every part labelled, one paragraph a line) and
``<id>.docx`` (the same, styled, with the photos), plus the original photos under ``<id>/`` for the
picture desk. The layout follows the paper's conventions: column tag 【权威发布】, headline layers 引题 /
主题 / 副题 (no dash before a 消息's 副题), a lead opening "本报讯", the body under its subheads, 图片说明,
then the department, speakers and experts, and for a policy bundle where to read the other half.

A ``不涉及`` section is printed, marked as such: the notice requires each element be considered, and the
desk may cut it, but must see it. A policy document runs in full after a short 本报讯 item.

GB/T 15834 punctuation advice on the rendered text comes back as warnings with the .txt line numbers.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from docx.shared import Cm, Pt

from pressroom.text import copycheck
from pressroom.errors import RenditionError
from pressroom.model import Release

from channels import markup
from channels.wordfile import (
    east_asian, fixed_docx, new_document, paragraph_style_id, styled_paragraph, table_cells,
)
from channels.base import Channel, RenderContext, Rendition, display_time, render_template
from channels.corrections import Correction, Desk, Withdrawal, desk_correction, desk_withdrawal
from channels.portal import counterpart_link, counterpart_warning, people, text

CHANNEL = Channel(name="newspaper", label="报纸“权威发布”专栏", short="报纸", desk=True)
NAME = CHANNEL.name

DATELINE = "本报讯"
# Words that say when, so a lead without any of them gets a reminder (a lead states who, what, when).
_WHEN = re.compile(r"\d{1,2}月\d{1,2}日|\d{4}年\d{1,2}月|今天|今日|昨天|昨日|近日|日前")
_OTHER_DATELINE = re.compile(r"^\s*(本报讯|本台消息)[：:\s\u3000]*")
_LEADING_DASH = re.compile(r"^[—\-－―~～]+\s*")
# The .txt opens with a byte-order mark: Windows tools on a copy desk otherwise guess GBK and garble it.
TXT_ENCODING = "utf-8-sig"


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: list[str]  # the plain copy: a table is one sentence per row naming its columns
    not_applicable: bool = False
    blocks: tuple = ()  # paragraphs and ``markup.Table``s in order: the .docx sets a table as a Word table


@dataclass(frozen=True)
class Caption:
    number: int
    text: str
    file: str  # where the photo is delivered, beside the copy


@dataclass(frozen=True)
class Copy:
    """The article as the desk gets it; both files are drawn from this."""

    column: str
    papers: list[str]
    release_id: str
    version: str
    published: str
    kind: str
    kicker: str
    title: str
    subtitle: str
    lead: list[str]  # the first begins with 本报讯
    sections: list[Section]
    captions: list[Caption]
    department: str
    speakers: list[str]
    experts: list[str]
    document_number: str = ""
    issuer: list[str] = field(default_factory=list)
    counterpart: str = ""
    source: str = ""


# ---------------------------------------------------------------------------------------------
# Shared with the TV script


def news_lead(release: Release) -> tuple[str, list[str]]:
    """The lead as news: (the first paragraph of the item, the lead's other paragraphs).

    A policy document's own lead is its salutation and preamble, not news: the item then opens with the
    digest (or, without one, who issued what), dated "近日" when it says no time (the document was issued
    before the day it is published), and the document follows in full."""
    paras = markup.paragraphs(release.lead, links=True)
    if release.kind == "policy-document":
        first = text(release.digest)
        if not first:
            issuer = "、".join(release.issuer) or release.department.name
            number = f"（{release.document_number}）" if release.document_number else ""
            first = f"{issuer}印发《{text(release.title)}》{number}。"
        if not lead_states_time(first):
            first = f"近日，{first}"
        return first, (["全文如下：", *paras] if paras else [])
    if not paras:
        return "", []
    return _OTHER_DATELINE.sub("", paras[0]), paras[1:]


def speakers_with_titles(release: Release) -> list[tuple[str, str]]:
    return [(s.name, s.title) for s in release.speakers] + [(e.name, e.title) for e in release.experts]


def lead_states_time(sentence: str) -> bool:
    return bool(_WHEN.search(sentence))


# ---------------------------------------------------------------------------------------------
# The copy


def photo_file(release_id: str, path: str) -> str:
    return f"{release_id}/{path}"


def build_copy(release: Release, ctx: RenderContext) -> tuple[Copy, list[str]]:
    s = ctx.settings
    outlet = s.outlet(NAME)
    warnings: list[str] = []
    first, rest = news_lead(release)
    if not first:
        raise RenditionError(NAME, "导语", "缺少导语：报纸消息须以“本报讯”开头，写明何人、何时、何事",
                             "请在第一个“## ”小标题之前写一段导语")
    if not lead_states_time(first):
        warnings.append(f"导语未写明时间（如“11月20日”）：{DATELINE}后应交代何人、何时、何事")
    subtitle = text(release.subtitle)
    if _LEADING_DASH.match(subtitle):
        subtitle = _LEADING_DASH.sub("", subtitle)
        warnings.append("消息的副题前不加破折号，已去掉")
    captions = []
    for n, img in enumerate(release.images, 1):
        if not img.caption:
            warnings.append(f"图片 {img.path} 缺少图片说明：请在 Markdown 中写成 ![图片说明](路径)")
        captions.append(Caption(n, text(img.caption) or "（图片说明待补写）", photo_file(release.id, img.path)))
    link = counterpart_link(release, ctx)
    counterpart = ""
    if link:
        label, ref = link
        title = text(ref.title)
        if label == "政策原文" and not title.startswith("《"):
            title = f"《{title}》"
        site = s.site_names[0]
        counterpart = f"{label}：{title}，全文见{site}：{ref.url}"
    papers = list(outlet["papers"]) or [s.city.name]
    copy = Copy(
        column=outlet["column"],
        papers=papers,
        release_id=release.id,
        version=release.version,
        published=display_time(release.publish_at.astimezone(s.tz)),
        kind=release.kind_label,
        kicker=text(release.kicker),
        title=text(release.title),
        subtitle=subtitle,
        lead=[f"{DATELINE} {first}", *rest],
        sections=[Section(sec.heading, markup.paragraphs(sec.body, links=True), sec.not_applicable,
                          tuple(markup.blocks(sec.body, links=True))) for sec in release.sections],
        captions=captions,
        department=release.department.name,
        speakers=people(release)["speakers"],
        experts=people(release)["experts"],
        document_number=release.document_number,
        issuer=list(release.issuer),
        counterpart=counterpart,
        source=s.city.press_office,
    )
    return copy, warnings + counterpart_warning(release, ctx)


def copy_text(copy: Copy) -> str:
    return render_template("newspaper/copy.txt", c=copy, byline=byline(copy))


# ---------------------------------------------------------------------------------------------
# .docx


def _para(doc, text_: str, size: float = 12, bold: bool = False, font: str = "宋体", center: bool = False,
          indent: bool = False):
    p = doc.add_paragraph()
    run = p.add_run(text_)
    run.font.size = Pt(size)
    run.bold = bold
    east_asian(run, font)
    if center:
        p.alignment = 1
    if indent:
        p.paragraph_format.first_line_indent = Pt(size * 2)  # two characters, as Chinese body text
    return p


def _table(doc, table: markup.Table) -> None:
    """A real Word table: the header row bold, every cell its own (the desk sets it as a 表格)."""
    for paragraph, cell, header in table_cells(doc, table):
        run = paragraph.add_run(cell)
        run.font.size = Pt(10.5)
        run.bold = header
        east_asian(run, "黑体" if run.bold else "宋体")


def docx_bytes(copy: Copy, release: Release, published_at: datetime) -> bytes:
    """The copy as a Word file, byte-identical for the same release: document properties carry the
    publishing time (never the clock) and the zip entries carry it too, in local time as zip does."""
    doc = new_document()
    east_asian(doc.styles["Normal"], "宋体")
    props = doc.core_properties
    props.title = copy.title
    props.subject = f"{'、'.join(copy.papers)}“{copy.column}”"
    props.author = copy.source or copy.department
    props.last_modified_by = props.author
    props.keywords = "、".join(release.keywords)
    props.comments = f"稿件 {copy.release_id}，版本 {copy.version}"
    props.category = copy.kind
    props.revision = 1
    # python-docx writes these as UTC ("…Z") and would otherwise stamp "modified" with the clock.
    utc = published_at.astimezone(timezone.utc).replace(tzinfo=None)
    props.created = props.modified = props.last_printed = utc

    _para(doc, f"【{copy.column}】", 12, bold=True, font="黑体")
    _para(doc, f"报别：{'、'.join(copy.papers)}　发布时间：{copy.published}　稿件：{copy.release_id}（版本 {copy.version}）", 9)
    if copy.kicker:
        _para(doc, copy.kicker, 14, font="黑体", center=True)
    _para(doc, copy.title, 22, bold=True, font="黑体", center=True)
    if copy.subtitle:
        _para(doc, copy.subtitle, 14, font="楷体", center=True)
    if copy.document_number:
        _para(doc, copy.document_number, 12, center=True)
    for line in copy.lead:
        _para(doc, line, indent=True)
    heading_2 = paragraph_style_id(doc, "Heading 2")
    for sec in copy.sections:
        heading = sec.heading + ("（不涉及）" if sec.not_applicable else "")
        h = styled_paragraph(doc, heading_2)
        run = h.add_run(heading)
        east_asian(run, "黑体")
        for block in sec.blocks or sec.paragraphs:
            if isinstance(block, markup.Table):
                _table(doc, block)
            else:
                _para(doc, block, indent=True)
    images = {img.path: img for img in release.images}
    if copy.captions:
        h = styled_paragraph(doc, heading_2)
        east_asian(h.add_run("图片说明"), "黑体")
        for cap, img in zip(copy.captions, release.images):
            doc.add_picture(io.BytesIO(images[img.path].data), width=Cm(12))
            _para(doc, f"图{cap.number}　{cap.text}（文件：{cap.file}）", 10.5, font="楷体")
    _para(doc, "")
    for line in byline(copy):
        _para(doc, line, 10.5)

    return fixed_docx(doc, published_at.timetuple()[:6])


def byline(copy: Copy) -> list[str]:
    lines = [f"发布部门：{copy.department}"]
    if copy.issuer:
        lines.append(f"发文机关：{'、'.join(copy.issuer)}")
    if copy.speakers:
        lines.append(f"新闻发言人：{'、'.join(copy.speakers)}")
    if copy.experts:
        lines.append(f"解读专家：{'、'.join(copy.experts)}")
    if copy.counterpart:
        lines.append(copy.counterpart)
    if copy.source:
        lines.append(f"稿件来源：{copy.source}")
    return lines


# ---------------------------------------------------------------------------------------------


def render(release: Release, ctx: RenderContext) -> Rendition:
    copy, warnings = build_copy(release, ctx)
    txt = copy_text(copy)
    for issue in copycheck.check_copy(txt, []):
        warnings.append(f"{release.id}.txt 第{issue.line}行：{issue.message}")
    local = release.publish_at.astimezone(ctx.settings.tz)
    files = {
        f"{release.id}.txt": txt.encode(TXT_ENCODING),
        f"{release.id}.docx": docx_bytes(copy, release, local),
    }
    for img in release.images:
        files[photo_file(release.id, img.path)] = img.data
    return Rendition(channel=NAME, release_id=release.id, version=release.version, title=copy.title,
                     files=files, warnings=tuple(warnings))


def desk(ctx: RenderContext) -> Desk:
    papers = "、".join(ctx.settings.outlet(NAME)["papers"]) or "报社"
    return Desk(f"{papers}编辑部", "刊发", TXT_ENCODING)


def correct(release: Release, ctx: RenderContext, base: Rendition, c: Correction, earlier: list[Correction],
            old: str | None) -> Rendition:
    """The copy desk gets a correction notice: what changed against the copy it had, and the new copy."""
    return desk_correction(desk(ctx), release, ctx, base, c, old)


def withdraw(release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    return desk_withdrawal(desk(ctx), NAME, release_id, ctx, w)
