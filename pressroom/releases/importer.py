"""A Word file (.docx) as a release folder: ``release.md`` in the content format, and its images.

Departments send their releases and policy documents as Word files. ``read_docx`` reads one with
python-docx (styles, alignment and runs are what tell a title, a heading and a signature block apart)
plus a few lxml queries for what python-docx has no API for (footnotes, an image's alt text, tracked
changes). mammoth and docx2python were tried on the same files: neither reports paragraph alignment (the
centred title, the signature block set right), both take tracked insertions in silently, and mammoth also
drops comments without a word. ``draft_release`` turns what was read into ``release.md`` for a kind;
``import_docx`` writes the folder. Whatever the Word file does not say (spokespeople, publish time,
digest …) is left as the placeholder ``PLACEHOLDER``, which the validator refuses until an editor fills it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from pressroom.model import KIND_LABELS, PLACEHOLDER, REQUIRED_SECTIONS, Registry
from pressroom.releases.loader import (
    ID_PATTERN, LEVEL1, LEVEL2, MAX_TITLE, RELEASE_FILE, footnote_note, normalise_heading,
)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc and .wps: the old compound-file formats
ZIP_MAGIC = b"PK\x03\x04"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"w": W}  # for the parts python-docx does not parse (footnotes)
FOOTNOTES_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"

# 发文字号: 机关代字〔年份〕序号 (GB/T 9704), also typed with [] or 【】 or (); alone on its line, or followed by
# the 签发人 of a document sent upwards.
DOC_NUMBER = re.compile(r"^\s*([\u4e00-\u9fff]{1,12}[〔［\[【(（]\s*\d{4}\s*[〕］\]】)）]\s*\d{1,4}\s*号)"
                        r"(?:[\s\u3000]+签发人[:：].{0,12})?\s*$")
CN_DIGITS = "〇○零一二三四五六七八九"
DATE_LINE = re.compile(rf"^\s*(\d{{4}}|[{CN_DIGITS}]{{4}})\s*年\s*(\d{{1,2}}|[{CN_DIGITS}十]{{1,3}})\s*月"
                       rf"\s*(\d{{1,2}}|[{CN_DIGITS}十]{{1,3}})\s*日\s*$")
MAX_HEADING = 40  # a bold paragraph longer than this is body text, however it begins
IMAGE_EXT = {"PNG": "png", "JPEG": "jpg", "GIF": "gif"}


class ImportRefused(Exception):
    """The file cannot be imported as it is: what is wrong and what to do, in Chinese."""

    def __init__(self, message: str, fix: str):
        self.message, self.fix = message, fix
        super().__init__(f"{message}。{fix}")


@dataclass
class Block:
    """One paragraph or table of the Word file, already Markdown."""

    markdown: str
    text: str = ""  # plain text (paragraphs)
    heading: int = 0  # 1 or 2 when the paragraph is a heading
    align: str = ""  # "center" | "right" | ""
    title: bool = False  # Word's Title style, or set like a headline (centred, large or bold)
    notes: list[tuple[int, str]] = field(default_factory=list)  # footnotes referenced here (number, text)


@dataclass
class WordFile:
    """What a .docx says, in reading order, before anything is decided about the release."""

    blocks: list[Block]
    images: list[tuple[str, bytes]]  # (file name under images/, data)
    footnotes: list[str]
    comments: list[str]
    warnings: list[str]


@dataclass
class Draft:
    """The release a Word file becomes, and what the editor is told about it."""

    release_md: str
    kind: str
    title: str
    document_number: str = ""
    issuer: tuple[str, ...] = ()
    written_on: str = ""  # 成文日期, as written
    images: list[tuple[str, bytes]] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    to_fill: list[str] = field(default_factory=list)  # what the editor must still supply


# -- refusing what cannot be read ------------------------------------------------------------------------


def check_file(path: Path) -> bytes:
    """The file's bytes, or ``ImportRefused`` for a missing, empty, old-format or non-Word file."""
    if not path.is_file():
        raise ImportRefused(f"找不到文件“{path}”", "请检查文件名和路径")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if not data.strip(b"\x00 \r\n\t"):
        raise ImportRefused(f"“{path.name}”是空文件（{len(data)} 字节）", "请重新从 Word 或 WPS 保存后再导入")
    if suffix in (".doc", ".wps", ".wpt", ".dot") or data.startswith(OLE_MAGIC):
        raise ImportRefused(f"“{path.name}”是旧版 Word/WPS 格式（.doc/.wps），无法直接导入",
                            "请在 Word 或 WPS 中“另存为”Word 文档（*.docx）后再导入")
    if suffix != ".docx" or not data.startswith(ZIP_MAGIC):
        raise ImportRefused(f"“{path.name}”不是 Word 文档（.docx）", "只能导入 .docx 文件；其他格式请先在 Word 或 WPS 中另存为 .docx")
    return data


def _open(data: bytes, name: str):
    from docx import Document

    try:
        return Document(io.BytesIO(data))
    except Exception:
        raise ImportRefused(f"“{name}”已损坏或不是有效的 .docx 文件", "请在 Word 或 WPS 中打开确认，再重新另存为 .docx") from None


def _refuse_tracked_changes(doc, name: str) -> None:
    body = doc.element.body
    inserted = len(body.xpath(".//w:ins | .//w:moveTo"))
    deleted = len(body.xpath(".//w:del | .//w:moveFrom"))
    if inserted or deleted:
        raise ImportRefused(f"“{name}”含有未处理的修订（插入 {inserted} 处、删除 {deleted} 处），导入后无法确定以哪一稿为准",
                            "请在 Word 中选择“审阅 → 接受（或拒绝）所有修订”，保存后再导入")


# -- reading the Word file -----------------------------------------------------------------------------------


def read_docx(path: Path) -> WordFile:
    """Every paragraph and table of ``path`` in order, as Markdown blocks, with images, footnotes, comments."""
    from docx.table import Table

    data = check_file(path)
    doc = _open(data, path.name)
    _refuse_tracked_changes(doc, path.name)
    reader = _Reader(doc, _footnote_texts(doc))
    for item in _body_items(doc):
        block = reader.table(item) if isinstance(item, Table) else reader.paragraph(item)
        if block is not None:
            reader.blocks.append(block)
    if not reader.blocks:
        raise ImportRefused(f"“{path.name}”中没有任何文字、表格或图片", "请确认选择了正确的文件，或在 Word 中检查后重新保存")
    comments = [f"{c.author or '（未署名）'}：{c.text.strip()}" for c in doc.comments]
    return WordFile(reader.blocks, reader.images, reader.footnotes_used, comments, reader.warnings)


def _body_items(doc):
    """The body's paragraphs and tables in order, those inside content controls (w:sdt) included."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    def walk(element):
        for child in element.iterchildren():
            if child.tag == qn("w:p"):
                yield Paragraph(child, doc._body)
            elif child.tag == qn("w:tbl"):
                yield Table(child, doc._body)
            elif child.tag == qn("w:sdt"):
                for content in child.iterchildren(qn("w:sdtContent")):
                    yield from walk(content)

    yield from walk(doc.element.body)


def _footnote_texts(doc) -> dict[str, str]:
    from lxml import etree

    for rel in doc.part.rels.values():
        if rel.reltype == FOOTNOTES_REL and not rel.is_external:
            root = etree.fromstring(rel.target_part.blob)
            return {n.get(f"{{{W}}}id"): "".join(n.xpath(".//w:t/text()", namespaces=NS)).strip()
                    for n in root.xpath("w:footnote[not(@w:type)]", namespaces=NS)}
    return {}


class _Reader:
    """Turns python-docx paragraphs and tables into blocks, collecting images and footnotes as it goes."""

    def __init__(self, doc, footnotes: dict[str, str]):
        self.doc, self.footnote_texts = doc, footnotes
        self.blocks: list[Block] = []
        self.images: list[tuple[str, bytes]] = []
        self.footnotes_used: list[str] = []
        self.warnings: list[str] = []
        self._styles: dict[str | None, object] = {}

    def _style(self, p):
        """The paragraph's style, looked up once per style (python-docx scans every style on each lookup)."""
        sid = p._p.style
        if sid not in self._styles:
            self._styles[sid] = p.style
        return self._styles[sid]

    def paragraph(self, p) -> Block | None:
        segments, images, notes = self._inline(p)
        text = "".join(seg[0] for seg in segments).strip()
        if not text and not images:
            return None
        style = self._style(p)
        md = _join_segments([(t, b, url) for t, b, _h, url in segments])
        if images:
            md = "\n\n".join(([md] if md else []) + images)
        block = Block(md, text, align=_alignment(p, style), notes=notes)
        name = (style.name if style is not None else "") or ""
        block.title = name in ("Title", "标题") or (block.align == "center" and _looks_like_headline(p, text))
        block.heading = 0 if images else _heading_level(p, style, text, segments)
        return block

    def _inline(self, p) -> tuple[list[tuple[str, bool, bool, str]], list[str], list[tuple[int, str]]]:
        """(text, bold, bold or in a heading font, link) runs, the paragraph's images as Markdown, and the footnotes it references."""
        segments, images, notes = [], [], []
        for item in p.iter_inner_content():
            runs = item.runs if hasattr(item, "runs") else [item]  # a hyperlink holds runs
            url = getattr(item, "url", "") or ""
            url = url if re.match(r"^(https?://|mailto:)", url) else ""  # no links into the Word file itself
            for r in runs:
                for ref in r._r.xpath("./w:footnoteReference/@w:id"):
                    notes.append(self._footnote(ref))
                images += [self._image(drawing) for drawing in r._r.xpath(".//w:drawing")]
                if r.text:
                    segments.append((r.text.replace("\t", " "), bool(r.bold), bool(r.bold) or _heading_font(r), url))
        return self._all_text(p, segments), [i for i in images if i], notes

    def _all_text(self, p, segments):
        """The runs, or the paragraph's whole text when runs python-docx does not walk (fields, inline
        content controls, smart tags) hold some of it; text boxes are named, not imported."""
        if p._p.xpath(".//w:txbxContent//w:t"):
            boxed = "".join(p._p.xpath(".//w:txbxContent//w:t/text()")).strip()
            self.warnings.append(f"文本框中的文字“{boxed[:30]}”未导入，需要的请复制到正文")
        whole = "".join(p._p.xpath(".//w:t[not(ancestor::w:txbxContent)]/text()"))
        if len(whole.strip()) > len("".join(seg[0] for seg in segments).strip()):
            self.warnings.append(f"“{whole.strip()[:30]}”一段含有域或内容控件，已按纯文本导入（加粗和链接未保留），请核对")
            return [(whole, False, False, "")]
        return segments

    def _footnote(self, ref: str) -> tuple[int, str]:
        text = self.footnote_texts.get(ref, "")
        self.footnotes_used.append(text)
        return len(self.footnotes_used), text

    def _image(self, drawing) -> str:
        from PIL import Image as PILImage

        blips = drawing.xpath(".//a:blip/@r:embed")
        props = drawing.xpath(".//wp:docPr")
        alt = (props[0].get("descr") or props[0].get("title") or "").strip() if props else ""
        n = len(self.images) + 1
        if not blips or blips[0] not in self.doc.part.related_parts:
            self.warnings.append(f"第 {n} 张图片是链接到外部的图片，未能导入，请把图片文件放入 images/ 后在正文中引用")
            return ""
        data = self.doc.part.related_parts[blips[0]].blob
        try:
            with PILImage.open(io.BytesIO(data)) as im:
                if im.format not in IMAGE_EXT:
                    out = io.BytesIO()
                    im.convert("RGB").save(out, "PNG")
                    data, fmt = out.getvalue(), "PNG"
                else:
                    fmt = im.format
        except Exception:
            self.warnings.append(f"第 {n} 张图片是 Word 的矢量图（EMF/WMF 等），无法转换，"
                                 f"请另存为 PNG 或 JPG 放入 images/image-{n}.png")
            fmt = "PNG"
            data = b""
        name = f"images/image-{n}.{IMAGE_EXT[fmt]}"
        self.images.append((name, data))
        if not alt:
            self.warnings.append(f"第 {n} 张图片（{name}）没有替代文字，已留“{PLACEHOLDER}”，请写图片说明")
        return f"![{_escape(alt) if alt else PLACEHOLDER + '图片说明'}]({name})"

    def table(self, table) -> Block | None:
        rows = []
        if table._tbl.xpath(".//w:drawing"):
            self.warnings.append("表格中的图片未导入（只导入了文字），需要的请另存为图片放入 images/ 后在正文中引用")
        for row in table.rows:
            cells, previous = [], None
            for cell in row.cells:
                same = previous is not None and cell._tc is previous  # a merged cell repeats itself
                previous = cell._tc
                text = "<br>".join(_escape(p.text.strip()) for p in cell.paragraphs if p.text.strip())
                cells.append("" if same else text.replace("|", "\\|"))
            rows.append(cells)
        if not rows or not any(any(c for c in r) for r in rows):
            return None
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * width]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return Block("\n".join(lines))


def _alignment(p, style) -> str:
    value = p.alignment if p.alignment is not None else (style.paragraph_format.alignment if style else None)
    name = getattr(value, "name", "") or ""
    return {"CENTER": "center", "RIGHT": "right"}.get(name, "")


def _looks_like_headline(p, text: str) -> bool:
    runs = [r for r in p.runs if r.text.strip()]
    size = max((r.font.size.pt for r in runs if r.font.size), default=0)
    return bool(runs) and (size >= 16 or all(r.bold for r in runs)) and len(text) <= MAX_TITLE


ELEMENTS = {e for elements in REQUIRED_SECTIONS.values() for e in elements}


def _heading_font(run) -> bool:
    """Set in 黑体 or 楷体, the faces GB/T 9704 gives the first and second heading levels instead of bold."""
    fonts = run._r.xpath("./w:rPr/w:rFonts/@w:eastAsia | ./w:rPr/w:rFonts/@w:ascii")
    return any(re.search(r"黑体|楷体|SimHei|KaiTi|STKaiti|STHeiti", f, re.I) for f in fonts)


def _heading_level(p, style, text: str, segments: list[tuple[str, bool, bool, str]]) -> int:
    """1 or 2 for a heading: Word's heading styles; or a short paragraph wholly bold (or in 黑体/楷体) that is numbered (by hand:
    一、 第一条 → 1, （一） 1. → 2; or by Word's list numbering, by its level), ends with a colon, or names a
    required element; 0 for body text."""
    m = re.match(r"^(?:heading|标题)\s*(\d)$", (style.name if style is not None else "") or "", re.I)
    if m:
        return 1 if m.group(1) == "1" else 2
    bold = all(heavy for t, _b, heavy, _url in segments if t.strip())
    if not bold or len(text) > MAX_HEADING or re.search(r"[。；]\S", text):
        return 0
    if LEVEL2.match(text):
        return 2
    if LEVEL1.match(text) or (text.endswith(("：", ":")) and not re.search(r"[，,、]", text)):
        return 1
    numbered = p._p.xpath("./w:pPr/w:numPr") or (style is not None and style.element.xpath("./w:pPr/w:numPr"))
    if numbered:
        levels = p._p.xpath("./w:pPr/w:numPr/w:ilvl/@w:val")
        return 1 if not levels or levels[0] == "0" else 2
    return 1 if normalise_heading(text) in ELEMENTS else 0


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def _escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _join_segments(segments: list[tuple[str, bool, str]]) -> str:
    """(text, bold, link) runs as Markdown: adjacent runs alike merged, bold as ``**…**``, links as ``[…](…)``."""
    merged: list[list] = []
    for text, bold, url in segments:
        if merged and merged[-1][1:] == [bold, url]:
            merged[-1][0] += text
        else:
            merged.append([text, bold, url])
    out = []
    for text, bold, url in merged:
        core = text.strip()
        lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()):]
        inner = f"[{_escape(core)}]({url})" if url and core else _escape(core)
        out.append(f"{lead}**{inner}**{trail}" if bold and core else f"{lead}{inner}{trail}")
    return "".join(out).strip()


# -- deciding what the blocks are ----------------------------------------------------------------------------


def match_required(heading: str, kind: str) -> str:
    """The kind's required element the heading stands for, or ""."""
    name = normalise_heading(heading)
    for element in REQUIRED_SECTIONS.get(kind, ()):
        if name == element or (element in name and len(name) <= len(element) + 4):
            return element
    return ""


@dataclass
class _Head:
    title: str = ""
    subtitle: str = ""  # a centred "——" line under the title
    document_number: str = ""
    letterhead: str = ""
    issuer: tuple[str, ...] = ()
    written_on: str = ""


def _split_head(blocks: list[Block]) -> tuple[_Head, list[Block]]:
    """The headline area at the top (发文机关标志, 文号, title lines) taken off the blocks."""
    head, parts, i = _Head(), [], 0
    while i < len(blocks) and i < 12:
        b = blocks[i]
        number = DOC_NUMBER.match(b.text) if b.text else None
        if number:
            head.document_number = re.sub(r"\s+", "", number.group(1))
        elif b.align == "center" and b.text.endswith("文件") and not parts:
            head.letterhead = b.text.removesuffix("文件").strip()
        elif b.align == "center" and parts and re.match(r"^[—－-]{1,2}", b.text):
            head.subtitle = re.sub(r"^[—－-]+\s*", "", b.text)
        elif b.title and not b.heading:
            parts.append(b.text)
        else:
            break
        i += 1
    if not parts and blocks and not blocks[0].heading and len(blocks[0].text) <= MAX_TITLE and i == 0:
        if blocks[0].markdown.startswith("**") and blocks[0].markdown.endswith("**"):
            parts, i = [blocks[0].text], 1
    head.title = "".join(parts)
    return head, blocks[i:]


def _signature(blocks: list[Block], head: _Head) -> None:
    """发文机关署名 and 成文日期: the date line near the end, and the short lines set right just above it."""
    tail = [k for k in range(len(blocks)) if blocks[k].text][-6:]
    dates = [k for k in tail if DATE_LINE.match(blocks[k].text)]
    if not dates:
        return
    k = dates[-1]
    head.written_on = blocks[k].text.strip()
    issuers: list[str] = []
    j = k - 1
    while j >= 0 and len(issuers) < 4:
        b = blocks[j]
        if b.heading or len(b.text) > 30 or re.search(r"[，。；：,;:]", b.text) or not b.text:
            break
        if b.align != "right" and blocks[k].align == "right":
            break
        issuers[:0] = [x for x in re.split(r"[\s\u3000]{2,}", b.text.strip()) if x]
        j -= 1
    head.issuer = tuple(issuers)


def guess_kind(blocks: list[Block], head: _Head) -> str:
    """policy-document when a 文号 heads it, else the kind whose required elements its headings name most."""
    if head.document_number:
        return "policy-document"
    headings = [b.text for b in blocks if b.heading]
    scores = {k: sum(1 for h in headings if match_required(h, k)) for k in REQUIRED_SECTIONS}
    kind, best = max(scores.items(), key=lambda kv: kv[1])
    return kind if best else ""


def guess_department(registry: Registry, names: list[str]) -> str:
    """The registry key of a department whose full or short name the file names, or ""."""
    for name in names:
        for d in registry.departments.values():
            if name and name in (d.name, d.short, d.key):
                return d.key
    return ""


# -- writing release.md --------------------------------------------------------------------------------------


def _body(blocks: list[Block], kind: str, warnings: list[str]) -> tuple[list[str], list[str]]:
    """The Markdown body (lead, then "##" sections) and the required elements no heading stood for."""
    required = REQUIRED_SECTIONS.get(kind, ())
    out, found, in_section = [], set(), False
    for b in blocks:
        if b.heading == 1 or (b.heading == 2 and not in_section):
            heading = _section_heading(b.text, kind, warnings)
            found.add(heading)
            out.append(f"## {heading}")
            in_section = True
        elif b.heading == 2:
            out.append(f"### {_escape(b.text.strip())}")
        else:
            out.append(b.markdown)
        out += [footnote_note(n, text) for n, text in b.notes]
    missing = [e for e in required if e not in found]
    for element in missing:
        out += [f"## {element}", PLACEHOLDER]
    return out, missing


def _section_heading(text: str, kind: str, warnings: list[str]) -> str:
    if not REQUIRED_SECTIONS.get(kind):
        return _escape(text.strip().rstrip("：:"))  # a policy document keeps its own numbering (一、…)
    element = match_required(text, kind)
    if element:
        return element
    name = normalise_heading(text) or text.strip()
    warnings.append(f"小标题“{text.strip()}”不是{KIND_LABELS[kind]}的必备要素"
                    f"（{'、'.join(REQUIRED_SECTIONS[kind])}），已作为普通小节“{name}”保留")
    return _escape(name)


def _yaml_scalar(value: str) -> str:
    return yaml.safe_dump([value], allow_unicode=True, default_flow_style=True, width=10**6).strip()[1:-1]


def _front_matter(rid: str, kind: str, department: str, head: _Head) -> tuple[list[str], list[str]]:
    """The front matter lines, and the fields left for the editor."""
    to_fill = []
    title = head.title or PLACEHOLDER
    lines = ["---", f"id: {rid}", f"title: {_yaml_scalar(title)}"]
    lines += [f"subtitle: {_yaml_scalar(head.subtitle)}"] if head.subtitle else []
    lines += [f"kind: {kind}",
             f"department: {_yaml_scalar(department or PLACEHOLDER)}", "speakers:", f"  - {PLACEHOLDER}"]
    if not head.title:
        to_fill.append("title（标题）")
    if not department:
        to_fill.append("department（发布部门）")
    to_fill.append("speakers（发言人）")
    if kind == "policy-document":
        lines.append(f"document_number: {_yaml_scalar(head.document_number or PLACEHOLDER)}")
        lines += ["issuer:"] + [f"  - {_yaml_scalar(i)}" for i in head.issuer or (PLACEHOLDER,)]
        to_fill += [f for f, have in (("document_number（发文字号）", head.document_number),
                                       ("issuer（发文机关）", head.issuer)) if not have]
    if kind == "policy":
        lines.append(f"interprets: {PLACEHOLDER}   # 被解读政策文件的 id")
        to_fill.append("interprets（被解读政策文件的 id）")
    if kind in ("emergency", "opinion"):
        lines.append(f"event_at: {PLACEHOLDER}   # 事件发生时间，如 2026-11-20 08:00")
        to_fill.append("event_at（事件发生时间）")
    lines += [f"publish_at: {PLACEHOLDER}   # 北京时间，如 2026-11-20 10:00", f"digest: {PLACEHOLDER}",
              "keywords: []", "---"]
    to_fill += ["publish_at（发布时间）", "digest（摘要）"]
    return lines, to_fill


def draft_release(word: WordFile, kind: str | None, department: str, rid: str,
                  registry: Registry | None = None) -> Draft:
    """The release the Word file becomes. ``kind`` None: guessed (a 文号 makes it a policy document)."""
    head, blocks = _split_head(word.blocks)
    _signature(blocks, head)
    kind = kind or guess_kind(blocks, head)
    if kind not in KIND_LABELS:
        kinds = "、".join(f"{k}（{v}）" for k, v in KIND_LABELS.items())
        raise ImportRefused("无法从文件判断发布类型" if not kind else f"“{kind}”不是有效的发布类型",
                            f"请用 --kind 指定其中之一：{kinds}")
    if not department and registry is not None:
        department = guess_department(registry, [*head.issuer, head.letterhead])
    warnings = list(word.warnings)
    if len(head.title) > MAX_TITLE:
        warnings.append(f"标题 {len(head.title)} 字，超过 {MAX_TITLE} 字上限，请精简（背景放入引题 kicker）")
    lines, to_fill = _front_matter(rid, kind, department, head)
    body, missing = _body(blocks, kind, warnings)
    if not body or all(b.startswith("##") or b == PLACEHOLDER for b in body):
        to_fill.append("正文（导语和各小节）")
    to_fill += [f"## {m}（{KIND_LABELS[kind]}必备要素，Word 文件中没有对应的小标题）" for m in missing]
    to_fill += [w for w in warnings if PLACEHOLDER in w]
    text = "\n".join(lines) + "\n\n" + "\n\n".join(body) + "\n"
    return Draft(text, kind, head.title, head.document_number, head.issuer, head.written_on, word.images,
                 word.footnotes, word.comments, [w for w in warnings if PLACEHOLDER not in w], to_fill)


def default_id(path: Path, releases_dir: Path, today: datetime) -> str:
    """The folder the file lies in when that is a release folder; the file name when it is a valid id;
    else ``import-<date>`` (numbered when taken)."""
    if path.resolve().parent.parent == releases_dir.resolve() and ID_PATTERN.match(path.parent.name):
        return path.parent.name
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
    base = stem if ID_PATTERN.match(stem) else f"import-{today:%Y%m%d}"
    rid, n = base, 2
    while (releases_dir / rid).exists():
        rid, n = f"{base}-{n}", n + 1
    return rid


def import_docx(path: Path, releases_dir: Path, kind: str | None = None, department: str = "",
                rid: str = "", registry: Registry | None = None, today: datetime | None = None) -> tuple[Path, Draft]:
    """Write ``releases_dir/<id>/release.md`` and its images from the Word file; refuse an existing release."""
    path = Path(path)
    rid = rid or default_id(path, releases_dir, today or datetime.now())
    if not ID_PATTERN.match(rid):
        raise ImportRefused(f"id“{rid}”格式不对", "id 只能用小写英文字母、数字和连字符（2—64 位），请用 --id 指定")
    folder = releases_dir / rid
    if (folder / RELEASE_FILE).exists():
        raise ImportRefused(f"{folder / RELEASE_FILE} 已存在，未作改动", "请用 --id 指定新的稿件 id，或先删除原稿件")
    draft = draft_release(read_docx(path), kind, department, rid, registry)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for name, data in draft.images:
        if data:
            (folder / name).write_bytes(data)
    (folder / RELEASE_FILE).write_text(draft.release_md, encoding="utf-8")
    if path.resolve().parent == releases_dir.resolve():  # loose in releases/: into its folder, noticed no more
        path.rename(folder / path.name)
    return folder, draft
