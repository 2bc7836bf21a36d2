"""The approval page (审签页), also ``pressroom preview``: what approvers sign. Every channel of every part of
the bundle as the public will see it (the WeChat article in a phone-width frame, the Weibo post as a card
with its picture and character count, the TV sheet, the newspaper column, the infographic, the H5 page), the
content signature, each level's state (signed by whom and when, or waiting for whom) and every warning. It
fits a 375 px phone, and printed (Chromium "print to PDF") it is the 发稿审签单: one sheet per release with
the sign-off table."""

from __future__ import annotations

import base64
import shutil
from datetime import datetime
from pathlib import Path

from pressroom.delivery import approval
from pressroom.delivery.ledger import Ledger
from pressroom.releases import audit
from pressroom.releases.catalog import Catalog, audit_release, copy_gate, lead_warnings, markup_warnings
from pressroom.errors import RenditionError
from pressroom.model import Release
from pressroom.files import write_atomic

TEXT_SUFFIXES = (".txt", ".srt")


def build_preview(release: Release, catalog: Catalog, out_dir: Path, ledger: Ledger | None = None) -> Path:
    """The approval page of ``release``'s whole bundle in ``out_dir``; returns the page."""
    parts = catalog.bundle_of(release)
    return build_approval_page(parts, catalog, ledger or Ledger(catalog.settings.ledger_url), out_dir)


def build_approval_page(parts: list[Release], catalog: Catalog, ledger: Ledger, out_dir: Path,
                        fidelity: dict[str, object] | None = None) -> Path:
    """Write the page into ``out_dir`` (each part's channel files under ``<release>/<channel>/``).
    ``fidelity``: release id -> what the page shows of the fidelity audit of its renditions (by default
    each part's audit from validation, with the waivers of the ledger)."""
    from channels.base import render_template

    if out_dir.exists():
        shutil.rmtree(out_dir)
    settings = catalog.settings
    sheets = [_sheet(r, catalog, out_dir) for r in parts]
    if fidelity is None:
        fidelity = {r.id: _fidelity(r, catalog, ledger) for r in parts}
    page = render_template("preview/preview.html", parts=parts, sheets=sheets, settings=settings,
                           signature=approval.signature(parts), levels=_levels(settings, ledger, parts),
                           fidelity=fidelity or {}, made_at=datetime.now(settings.tz))
    index = out_dir / "index.html"
    write_atomic(index, page.encode("utf-8"), durable=False)  # a page to look at, made again at will
    return index


def _levels(settings, ledger: Ledger, parts: list[Release]) -> list[dict]:
    """Each configured level: signed (by whom, when, as what), rejected, or waiting (for whom)."""
    policy = approval.policy(settings)
    needed = approval.needs_approval(parts, policy)
    decided = {d["level"]: d for d in approval.decisions(ledger, parts)}  # the newest per level
    waiting = approval.next_level(ledger, parts, policy)
    out = []
    for level in policy.levels if needed else ():
        d = decided.get(level)
        row = {"level": level, "state": "waiting", "who": "", "at": "", "role": "", "comment": "",
               "allowed": "、".join(approval.allowed(settings, parts, level))}
        if d and d["action"] == approval.SIGNOFF:
            row.update(state="signed", who=d["reviewer"], role=d["role"], comment=d["comment"],
                       at=f"{d['at'].astimezone(settings.tz):%Y-%m-%d %H:%M}")
        elif d and level == waiting:
            row.update(state="rejected", who=d["reviewer"], comment=d["comment"],
                       at=f"{d['at'].astimezone(settings.tz):%Y-%m-%d %H:%M}")
        row["current"] = level == waiting
        out.append(row)
    return out


def _fidelity(r: Release, catalog: Catalog, ledger: Ledger) -> dict:
    """The audit table of one part, and each finding: its id, what it says, and the waiver if any."""
    result = catalog.audits.get(r.id) or audit_release(r, catalog)
    waived = {w["finding"]: w for w in ledger.waivers(r.id) if w["version"] == result.version}
    rows = audit.table(result, set(waived))
    findings = [{"id": f.id, "text": f.describe(), "waiver": waived.get(f.id) and {
                    "reviewer": waived[f.id]["reviewer"], "reason": waived[f.id]["reason"],
                    "at": f"{waived[f.id]['at'].astimezone(catalog.settings.tz):%Y-%m-%d %H:%M}"}}
                for f in audit.findings(result)]
    failed = [row["渠道"] for row in rows if row["结论"] == "不通过"]
    excused = sum(1 for f in findings if f["waiver"])
    verdict = (f"不通过：{'、'.join(failed)}" if failed else f"{len(rows)} 个渠道全部通过") + (
        f"（审核人豁免 {excused} 项）" if excused else "")
    return {"facts": len(result.facts), "columns": list(rows[0]) if rows else [], "rows": rows,
            "findings": findings, "verdict": verdict}


def _sheet(r: Release, catalog: Catalog, out_dir: Path) -> dict:
    import channels

    shown = catalog.shown.get(r.id, {})
    if "lead" in shown:  # validation's own lists of what the release's text draws (copy gate, markup, lead)
        copy_warnings, own = shown["copy"], shown["markup"] + shown["lead"]
    else:
        copy_warnings, own = copy_gate(r, catalog.settings)[1], markup_warnings(r) + lead_warnings(r)
    ctx = catalog.context(r)
    panels = []
    views = _Views(r, catalog)
    for ch in r.channels:
        label = views.channel(ch).label
        try:
            rendition = catalog.renditions.get((r.id, ch)) or channels.render(ch, r, ctx)
        except RenditionError as e:
            panels.append({**_empty(ch, label, views.channel(ch).phone), "error": f"{e.message}。{e.fix}"})
            continue
        for name, data in rendition.files.items():
            write_atomic(out_dir / r.id / ch / name, data, durable=False)
        panels.append(_panel(r, ch, views.channel(ch), rendition, out_dir, views.of(ch, rendition)))
    views.keep()
    return {"release": r, "panels": panels, "copy_warnings": copy_warnings,
            "warnings": [("原稿", w) for w in own]
                        + [(p["label"], w) for p in panels for w in p["warnings"]]
                        + [(p["label"], "无法生成：" + p["error"]) for p in panels if p.get("error")]}


class _Views:
    """The channels' views of one release's renditions (the video's cards drawn small take a second), kept
    in the validation cache beside the verdict they were made from when the catalog used it."""

    def __init__(self, r: Release, catalog: Catalog):
        from pressroom.releases import memo

        self.settings, self.folder, self.key = catalog.settings, Path(r.source).name, catalog.keys.get(r.id)
        self.version = memo.code_version() if self.key else ""
        self.kept = memo.views(self.settings, self.folder, self.key) if self.key else {}
        self.declared = memo.declared(self.settings) if self.key else {}
        self.made: dict = {}

    def channel(self, ch: str):
        """The channel's declaration (its label, whether it is read on a phone)."""
        import channels

        return self.declared.get(ch) or channels.get(ch)

    def of(self, ch: str, rendition):
        import channels

        if ch not in self.kept:
            self.made[ch] = self.kept[ch] = channels.view(ch, rendition, self.settings)
        return self.kept[ch]

    def keep(self) -> None:
        from pressroom.releases import memo

        if self.key and self.made:
            memo.store_views(self.settings, self.folder, self.key, self.version, self.kept)


def _panel(r: Release, ch: str, declared, rendition, out_dir: Path, view) -> dict:
    """How one channel is shown: as the public sees it, never as the API's JSON (the channel's own view
    ``view`` when its files are a payload)."""
    files = rendition.files
    top = sorted(n for n in files if "/" not in n)
    base = f"{r.id}/{ch}"
    panel = {**_empty(ch, declared.label, declared.phone), "warnings": list(rendition.warnings),
             "files": [f"{base}/{n}" for n in top]}
    if view is not None and (view.pages or view.card):
        for name, html in view.pages.items():
            write_atomic(out_dir / base / name, html.encode("utf-8"), durable=False)
        panel["frames"] = [f"{base}/{name}" for name in view.pages]
        panel["card"] = dict(view.card) if view.card else None
        return panel
    panel["frames"] = [f"{base}/{n}" for n in top if n.endswith(".html")]
    panel["texts"] = [(n, files[n].decode("utf-8-sig")) for n in top if n.endswith(TEXT_SUFFIXES)]
    panel["images"] = [(n, _data_uri(files[n])) for n in top if n.endswith(".png")]
    return panel


def _empty(ch: str, label: str, phone: bool) -> dict:
    return {"channel": ch, "label": label, "error": "", "warnings": [], "frames": [], "texts": [], "images": [],
            "files": [], "card": None, "phone": phone}


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
