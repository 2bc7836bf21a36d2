"""Word files the channels write (the newspaper's copy, a policy document laid out as issued): what python-docx
leaves out for Chinese text, and zip entries with fixed times so the same release gives the same bytes."""

from __future__ import annotations

import io
import zipfile

from docx.oxml.ns import qn


def east_asian(run_or_style, font: str) -> None:
    """python-docx sets only the Latin font; Chinese text needs w:eastAsia too."""
    rpr = run_or_style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), font)


def fixed_zip(data: bytes, date_time: tuple) -> bytes:
    """Rewrite a zip with every entry's timestamp fixed (zipfile stamps the current time)."""
    out = io.BytesIO()
    date_time = max(tuple(date_time), (1980, 1, 1, 0, 0, 0))  # the zip format starts in 1980
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=date_time)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
