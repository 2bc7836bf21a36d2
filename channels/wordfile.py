"""Word files the channels write (the newspaper's copy, a policy document laid out as issued): what python-docx
leaves out for Chinese text, and zip entries with fixed times so the same release gives the same bytes."""

from __future__ import annotations

import copy
import io
import zipfile
from functools import lru_cache

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.pkgwriter import PackageWriter
from docx.oxml.ns import qn


def east_asian(run_or_style, font: str) -> None:
    """python-docx sets only the Latin font; Chinese text needs w:eastAsia too."""
    rpr = run_or_style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), font)


@lru_cache(maxsize=1)
def _blank():
    return docx.Document()


def new_document():
    """python-docx's blank document (its template), parsed once: each call gets its own deep copy."""
    return copy.deepcopy(_blank())


def paragraph_style_id(doc, name: str) -> str | None:
    """The id a paragraph style is written with, looked up once for many paragraphs (python-docx looks
    a name up among every style on each assignment)."""
    return doc.part.get_style_id(name, WD_STYLE_TYPE.PARAGRAPH)


def styled_paragraph(doc, style_id: str | None):
    """A new paragraph in the style of ``paragraph_style_id``: as ``doc.add_paragraph(style=name)`` writes it."""
    p = doc.add_paragraph()
    p._p.style = style_id
    return p


def table_cells(doc, table):
    """A Word table ("Table Grid") for a Markdown table, a row short of cells padded with empty ones: each
    cell's paragraph, its text, and whether it is in the header row."""
    rows = ([table.header] if table.header else []) + list(table.rows)
    width = max(len(r) for r in rows)
    grid = doc.add_table(rows=len(rows), cols=width)
    grid.style = "Table Grid"
    for i, row in enumerate(rows):
        for j in range(width):
            yield grid.cell(i, j).paragraphs[0], row[j] if j < len(row) else "", bool(table.header) and i == 0


def _fixed(name: str, date_time: tuple) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=max(tuple(date_time), (1980, 1, 1, 0, 0, 0)))  # zip starts in 1980
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


class _FixedZipWriter:
    """python-docx's package writer's zip (``PhysPkgWriter``), with every entry's timestamp fixed: written
    once, not saved, read back and compressed again with new timestamps."""

    def __init__(self, out: io.BytesIO, date_time: tuple):
        self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED)
        self._date_time = date_time

    def write(self, pack_uri, blob: bytes) -> None:
        self._zip.writestr(_fixed(pack_uri.membername, self._date_time), blob)

    def close(self) -> None:
        self._zip.close()


def fixed_docx(doc, date_time: tuple) -> bytes:
    """``doc`` saved as a .docx whose zip entries all carry ``date_time``: the same document, the same bytes.
    The steps of python-docx's ``OpcPackage.save`` and ``PackageWriter.write``, into ``_FixedZipWriter``."""
    package = doc.part.package
    for part in package.parts:
        part.before_marshal()
    out = io.BytesIO()
    writer = _FixedZipWriter(out, date_time)
    parts = package.parts
    PackageWriter._write_content_types_stream(writer, parts)
    PackageWriter._write_pkg_rels(writer, package.rels)
    PackageWriter._write_parts(writer, parts)
    writer.close()
    return out.getvalue()
