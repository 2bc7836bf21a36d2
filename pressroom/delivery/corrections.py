"""Corrections and retractions, the ledger's side: which channels carry which old version, the text each
channel received, and the records kept with the rows. How an outlet shows a correction or a withdrawal is
its channel module's own ``correct`` and ``withdraw``; what changed is ``pressroom.text.diff``.

How the ledger is used (rows are told apart by their ``action``):

- A correction is the new version's own row per channel, keyed (release, channel, new version,
  ``correct``); its ``steps["correction"]`` records what it corrects (old version, old URL), when, by whom
  and the 更正说明 — saved once, before the first send, so a re-run renders byte-identical copies and the
  flow's at-most-once delivery (the delivery engine) holds.
- A retraction is a row (release, channel, version withdrawn, ``retract``) whose ``steps["withdrawal"]``
  holds the reason, the public notice, when and who. It ends ``retracted``, like every published row of the
  release on that channel. Its renditions (and its entries in the audit trail) go by the version
  ``retract-<version withdrawn>`` (``retraction_version``), as they always have.
- ``steps["snapshot"]`` keeps the text each channel received (the desks' copy, or the release as plain
  text), written when a version is rendered for delivery: a later correction diffs against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import channels
from channels.base import RenderContext, Rendition
from channels.corrections import DEFAULT_NOTICE, Correction, Withdrawal, copy_text, dated, page_note, release_text
from channels import markup
from channels.portal import FeedNotice

from pressroom.delivery.ledger import (
    CORRECT, PUBLISHED, RETRACT, RETRACT_LABEL, RETRACTED, Delivery, Ledger, shown_time,
)
from pressroom.model import Release

RETRACT_PREFIX = RETRACT_LABEL
SNAPSHOT, CORRECTION, WITHDRAWAL = "snapshot", "correction", "withdrawal"


# ---------------------------------------------------------------------------------------------
# What was sent: snapshots


def snapshot(channel: str, release: Release, rendition: Rendition) -> dict:
    """What ``steps["snapshot"]`` keeps for one channel of one version."""
    text = copy_text(rendition) if channels.get(channel).desk else release_text(release)
    return {"title": release.title, "text": text}


def remember(ledger: Ledger, parts: Iterable[Release], renditions: dict) -> None:
    """Keep each rendered channel's text on its ledger row (once: a later run never rewrites it), so a
    correction can show what changed. ``renditions`` maps (release id, channel) to the rendition."""
    by_id = {r.id: r for r in parts}
    for (rid, ch), rendition in renditions.items():
        r = by_id.get(rid)
        d = ledger.get(rid, ch, r.version) if r else None
        if d is not None and SNAPSHOT not in d.steps:
            ledger.save_steps(d, {SNAPSHOT: snapshot(ch, r, rendition)})


def is_retraction(d: Delivery) -> bool:
    return d.action == RETRACT


def is_correction(d: Delivery) -> bool:
    return d.action == CORRECT


def retraction_version(version: str) -> str:
    """What the withdrawal of ``version`` is called in its renditions and the audit trail (its ledger row
    is keyed by ``version`` itself, with action ``retract``)."""
    return f"{RETRACT_PREFIX}{version}"


# ---------------------------------------------------------------------------------------------
# Which channels had which old version


@dataclass(frozen=True)
class ChannelCorrection:
    channel: str
    old: Delivery  # the row of the version the public saw
    new: Delivery | None  # the new version's row, once the correction has started

    @property
    def correction(self) -> Correction | None:
        raw = self.new.steps.get(CORRECTION) if self.new else None
        return Correction.from_json(raw) if raw else None

    @property
    def done(self) -> bool:
        return self.new is not None and self.new.state == PUBLISHED


def _by_channel(rows: Iterable[Delivery]) -> dict[str, list[Delivery]]:
    out: dict[str, list[Delivery]] = {}
    for d in sorted(rows, key=lambda d: (d.created_at, d.id)):
        out.setdefault(d.channel, []).append(d)
    return out


def correction_plan(rows: Iterable[Delivery], version: str) -> dict[str, ChannelCorrection]:
    """Per channel, the old version to correct with ``version``: every channel whose public copy is another
    version (a channel that already carries ``version`` from an ordinary publication has nothing to
    correct). Started corrections stay in the plan (``done`` once sent), so a re-run can tell."""
    plan = {}
    for ch, ds in _by_channel(d for d in rows if not is_retraction(d)).items():
        cur = next((d for d in ds if d.version == version), None)
        if cur is not None and cur.state == PUBLISHED and not is_correction(cur):
            continue
        corrects = (cur.steps.get(CORRECTION) or {}).get("corrects") if cur else None
        if corrects:
            old = next((d for d in ds if d.version == corrects), None)
        else:
            old = next((d for d in reversed(ds) if d.version != version and d.state == PUBLISHED), None)
        if old is not None:
            plan[ch] = ChannelCorrection(ch, old, cur)
    return plan


def live_rows(rows: Iterable[Delivery]) -> dict[str, list[Delivery]]:
    """Per channel, every published row of the release (oldest first): what a retraction takes down."""
    out: dict[str, list[Delivery]] = {}
    for ch, ds in _by_channel(d for d in rows if not is_retraction(d)).items():
        live = [d for d in ds if d.state == PUBLISHED]
        if live:
            out[ch] = live
    return out


def retraction_rows(rows: Iterable[Delivery]) -> dict[str, Delivery]:
    return {d.channel: d for d in rows if is_retraction(d)}


def is_retracted(rows: Iterable[Delivery]) -> bool:
    return any(is_retraction(d) for d in rows)


def old_text(rows: Iterable[Delivery], version: str, desk_channel: str | None = None) -> str | None:
    """The text a version carried: the desk copy of ``desk_channel``, else the release's plain text (from any
    channel that kept it). None when nothing was kept (published before snapshots existed)."""
    rows = [d for d in rows if d.version == version and SNAPSHOT in d.steps and not is_retraction(d)]
    if desk_channel:
        d = next((d for d in rows if d.channel == desk_channel), None)
        return d.steps[SNAPSHOT]["text"] if d else None
    d = next((d for d in rows if not channels.get(d.channel).desk), None)
    return d.steps[SNAPSHOT]["text"] if d else None


def first_published(rows: Iterable[Delivery]) -> datetime | None:
    times = [shown_time(d) for d in rows if d.published_at and not is_retraction(d)]  # the time pages show
    return min(times) if times else None


# ---------------------------------------------------------------------------------------------
# The portal column's feeds


def _portal_history(rows: Iterable[Delivery]) -> tuple[dict[str, list[Correction]], dict[str, Withdrawal]]:
    """From the portal rows of the ledger: each release's corrections, and its withdrawal."""
    corrected: dict[str, list[Correction]] = {}
    withdrawn: dict[str, Withdrawal] = {}
    for d in rows:
        if not channels.get(d.channel).column:
            continue
        if is_retraction(d) and WITHDRAWAL in d.steps and d.state in (PUBLISHED, RETRACTED):
            withdrawn[d.release_id] = Withdrawal.from_json(d.steps[WITHDRAWAL])
        elif is_correction(d) and CORRECTION in d.steps and d.state in (PUBLISHED, RETRACTED):
            corrected.setdefault(d.release_id, []).append(Correction.from_json(d.steps[CORRECTION]))
    return corrected, withdrawn


def correction_notes(rows: Iterable[Delivery], ctx: RenderContext) -> dict[str, str]:
    """Release id -> the 更正说明 its pages carry (the press hall's, like the portal's), for every corrected
    release that is not withdrawn."""
    corrected, withdrawn = _portal_history(rows)
    return {rid: page_note(cs, ctx) for rid, cs in corrected.items() if rid not in withdrawn}


def column_notices(rows: Iterable[Delivery], ctx: RenderContext) -> dict:
    """Per release, what its feed entry must say: its 更正说明 (the entry is updated, same GUID), or that
    it was withdrawn."""
    corrected, withdrawn = _portal_history(rows)
    out = {rid: FeedNotice("corrected", max(c.at for c in cs), page_note(cs, ctx)) for rid, cs in corrected.items()}
    for rid, w in withdrawn.items():
        out[rid] = FeedNotice("withdrawn", w.at, f"<p>《{markup.escape(w.title)}》已于{dated(w.at, ctx)}撤回。"
                                                   f"{markup.escape(w.notice or DEFAULT_NOTICE)}</p>",
                              title=f"【已撤回】{w.title}", published_at=w.published_at)
    return out
