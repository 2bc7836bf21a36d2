"""Word files the channels write (the newspaper's copy, a policy document laid out as issued): what python-docx
leaves out for Chinese text, and zip entries with fixed times so the same release gives the same bytes."""

from __future__ import annotations

import copy
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.coreprops import CoreProperties
from docx.opc.oxml import serialize_part_xml
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


# The zip layout Python's ``zipfile`` writes for ``writestr`` of a deflated entry into a seekable file (no
# data descriptor, no extra field), so the bytes are those ``zipfile`` gives: one deflate of each member,
# kept for a member that is the same in every document (the styles, the theme: most of a .docx's bytes).
_DEFLATED, _VERSION = zipfile.ZIP_DEFLATED, zipfile.DEFAULT_VERSION
_SYSTEM = 0 if sys.platform == "win32" else 3  # as zipfile.ZipInfo
_UTF8_NAME = 0x800
_LOCAL, _CENTRAL, _END = (struct.Struct(f) for f in (zipfile.structFileHeader, zipfile.structCentralDir,
                                                      zipfile.structEndArchive))


@dataclass(frozen=True)
class Member:
    """One zip entry's name and its data as stored: deflated once, with its CRC and size."""
    name: str
    crc: int
    size: int
    deflated: bytes


def member(name: str, blob: bytes) -> Member:
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # zipfile's compressor
    return Member(name, zlib.crc32(blob), len(blob), c.compress(blob) + c.flush())


@lru_cache(maxsize=64)
def _kept_member(name: str, blob: bytes) -> Member:
    return member(name, blob)


def zipped(members: Iterable[Member], date_time: tuple) -> bytes:
    """The members as a zip whose entries all carry ``date_time`` (mode 0644): the bytes ``zipfile.ZipFile``
    writes for them one ``writestr`` at a time, with every stored part deflated once."""
    dt = max(tuple(date_time), (1980, 1, 1, 0, 0, 0))  # zip starts in 1980
    dosdate, dostime = (dt[0] - 1980) << 9 | dt[1] << 5 | dt[2], dt[3] << 11 | dt[4] << 5 | (dt[5] // 2)
    out, central, offset = [], [], 0
    for m in members:
        try:
            name, flags = m.name.encode("ascii"), 0
        except UnicodeEncodeError:
            name, flags = m.name.encode("utf-8"), _UTF8_NAME
        if max(m.size, len(m.deflated), offset) > zipfile.ZIP64_LIMIT:
            raise ValueError(f"{m.name}: too large for a Word file")
        out += [_LOCAL.pack(zipfile.stringFileHeader, _VERSION, 0, flags, _DEFLATED, dostime, dosdate, m.crc,
                            len(m.deflated), m.size, len(name), 0), name, m.deflated]
        central += [_CENTRAL.pack(zipfile.stringCentralDir, _VERSION, _SYSTEM, _VERSION, 0, flags, _DEFLATED,
                                  dostime, dosdate, m.crc, len(m.deflated), m.size, len(name), 0, 0, 0, 0,
                                  0o644 << 16, offset), name]
        offset += _LOCAL.size + len(name) + len(m.deflated)
    size = sum(map(len, central))
    n = len(central) // 2
    return b"".join([*out, *central, _END.pack(zipfile.stringEndArchive, 0, 0, n, n, size, offset, 0)])


class _Recorder:
    """Stands in for python-docx's physical package writer: the members in the order it writes them."""

    def __init__(self):
        self.members: list[tuple[str, bytes]] = []

    def write(self, pack_uri, blob: bytes) -> None:
        self.members.append((pack_uri.membername, blob))


def _members(doc) -> list[tuple[str, bytes]]:
    """The steps of python-docx's ``OpcPackage.save`` and ``PackageWriter.write``, recorded."""
    package = doc.part.package
    for part in package.parts:
        part.before_marshal()
    rec = _Recorder()
    parts = package.parts
    PackageWriter._write_content_types_stream(rec, parts)
    PackageWriter._write_pkg_rels(rec, package.rels)
    PackageWriter._write_parts(rec, parts)
    return rec.members


def fixed_docx(doc, date_time: tuple) -> bytes:
    """``doc`` saved as a .docx whose zip entries all carry ``date_time``: the same document, the same bytes."""
    return zipped((_kept_member(name, blob) for name, blob in _members(doc)), date_time)


class Template:
    """A document set up once (page, styles), every part but the body and the properties serialized and
    deflated once. ``body()`` gives a fresh copy of its ``w:document`` element and ``properties()`` of its
    core properties, to be filled in; ``docx`` writes them with the rest as ``fixed_docx`` writes the whole
    document. ``part`` answers style look-ups (``table_cells`` on ``Document(body, part)``); never change it."""

    def __init__(self, doc):
        self.part = doc.part
        self._document = doc.part.element
        self._core = doc.part.package.core_properties._element
        core_name = doc.part.package._core_properties_part.partname.membername
        self._names = (doc.part.partname.membername, core_name)
        members = _members(doc)
        self._order = [name for name, _ in members]
        self._members = [None if name in self._names else member(name, blob) for name, blob in members]

    def body(self):
        return copy.deepcopy(self._document)

    def properties(self) -> CoreProperties:
        return CoreProperties(copy.deepcopy(self._core))

    def docx(self, document, properties: CoreProperties, date_time: tuple) -> bytes:
        filled = {self._names[0]: document, self._names[1]: properties._element}
        return zipped((m or member(name, serialize_part_xml(filled[name]))
                       for name, m in zip(self._order, self._members)), date_time)
