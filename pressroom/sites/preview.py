"""``pressroom preview``: every channel's rendition of a release on one page, with its warnings, so an
editor (and later the approval gate) reviews exactly what the outlets will receive."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

from pressroom.releases.catalog import Catalog, copy_gate
from pressroom.errors import RenditionError
from pressroom.model import Release
from pressroom.files import write_atomic

TEXT_SUFFIXES = (".txt", ".srt", ".json")


def build_preview(release: Release, catalog: Catalog, out_dir: Path) -> Path:
    """Write the preview into ``out_dir`` (each channel's files under its own folder) and return the page."""
    import channels
    from channels.base import render_template

    if out_dir.exists():
        shutil.rmtree(out_dir)
    ctx = catalog.context(release)
    _, copy_warnings = copy_gate(release, catalog.settings)
    panels = []
    for ch in release.channels:
        label = channels.get(ch).label
        try:
            rendition = channels.render(ch, release, ctx)
        except RenditionError as e:
            panels.append({"channel": ch, "label": label, "error": f"{e.message}。{e.fix}", "warnings": [],
                           "frames": [], "texts": [], "images": [], "files": []})
            continue
        for name, data in rendition.files.items():
            write_atomic(out_dir / ch / name, data)
        top = sorted(n for n in rendition.files if "/" not in n)
        panels.append({
            "channel": ch, "label": label, "error": "", "warnings": list(rendition.warnings),
            "frames": [f"{ch}/{n}" for n in top if n.endswith(".html")],
            "texts": [(n, rendition.files[n].decode("utf-8")) for n in top if n.endswith(TEXT_SUFFIXES)],
            "images": [(n, "data:image/png;base64," + base64.b64encode(rendition.files[n]).decode())
                       for n in top if n.endswith(".png")],
            "files": [f"{ch}/{n}" for n in top],
        })
    page = render_template("preview/preview.html", release=release, panels=panels, copy_warnings=copy_warnings,
                           settings=catalog.settings)
    index = out_dir / "index.html"
    write_atomic(index, page.encode("utf-8"))
    return index
