"""What every channel shares when it shows a correction or a withdrawal.

A correction is the new version rendered as usual, then shown by the channel's own ``correct`` (the
portal and H5 pages get the 更正说明 in their template's note slot, WeChat a note and a 【更正】 title, the
desks a correction notice with the diff); a withdrawal is what the channel's ``withdraw`` returns. The
records below are kept in the ledger with the row they belong to, so a re-run renders the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pressroom.model import Release
from pressroom.text.diff import text_diff

from channels import govsite, markup
from channels.base import RenderContext, Rendition, display_time, render_template

DEFAULT_NOTICE = "经核实，本文已撤回。相关信息以本网站后续发布为准。"
BOM = "\ufeff"
CORRECTED_MARK = "【更正】"


def _iso(dt: datetime | None) -> str:
    return dt.isoformat() if dt else ""


def _dt(s: str) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


@dataclass(frozen=True)
class Correction:
    at: datetime
    corrects: str  # the version the public saw
    note: str  # the 更正说明, without its date
    actor: str = ""
    old_url: str = ""
    old_title: str = ""
    old_published_at: datetime | None = None

    def to_json(self) -> dict:
        return {"at": _iso(self.at), "corrects": self.corrects, "note": self.note, "actor": self.actor,
                "old_url": self.old_url, "old_title": self.old_title, "old_published_at": _iso(self.old_published_at)}

    @classmethod
    def from_json(cls, d: dict) -> "Correction":
        return cls(_dt(d["at"]), d["corrects"], d.get("note", ""), d.get("actor", ""), d.get("old_url", ""),
                   d.get("old_title", ""), _dt(d.get("old_published_at", "")))


@dataclass(frozen=True)
class Withdrawal:
    at: datetime
    withdraws: str  # the version withdrawn
    reason: str  # for the ledger and the desks
    notice: str  # what the public reads
    title: str
    actor: str = ""
    published_at: datetime | None = None
    old_url: str = ""

    def to_json(self) -> dict:
        return {"at": _iso(self.at), "withdraws": self.withdraws, "reason": self.reason, "notice": self.notice,
                "title": self.title, "actor": self.actor, "published_at": _iso(self.published_at),
                "old_url": self.old_url}

    @classmethod
    def from_json(cls, d: dict) -> "Withdrawal":
        return cls(_dt(d["at"]), d["withdraws"], d.get("reason", ""), d.get("notice", ""), d.get("title", ""),
                   d.get("actor", ""), _dt(d.get("published_at", "")), d.get("old_url", ""))


# ---------------------------------------------------------------------------------------------
# Texts


def release_text(release: Release) -> str:
    """The release as plain text, one paragraph a line: what the 更正说明 compares."""
    lines = [x for x in (release.kicker, release.title, release.subtitle) if x]
    lines += markup.paragraphs(release.lead)
    for s in release.sections:
        lines.append(s.heading)
        lines += markup.paragraphs(s.body)
    return "\n".join(markup.clean_text(x).strip() for x in lines if x.strip())


def copy_text(rendition: Rendition) -> str:
    """A desk's copy (``<release id>.txt``), without the BOM the copy desk's file carries."""
    data = rendition.files.get(f"{rendition.release_id}.txt", b"")
    return data.decode("utf-8").removeprefix(BOM)


def dated(at: datetime, ctx: RenderContext) -> str:
    return display_time(at.astimezone(ctx.settings.tz))


def page_note(corrections: list[Correction], ctx: RenderContext) -> str:
    """The 更正说明 box of the portal and H5 pages (and at the top of the feed entry): every correction, dated."""
    notes = [{"time": dated(c.at, ctx), "iso": c.at.astimezone(ctx.settings.tz).isoformat(), "text": c.note}
             for c in sorted(corrections, key=lambda c: c.at)]
    return render_template("corrections/note.html", notes=notes)


def corrected_title(title: str, limit: int) -> tuple[str, bool]:
    """“【更正】” + title within ``limit`` characters (a long title is shortened with “…”)."""
    if len(CORRECTED_MARK) + len(title) <= limit:
        return CORRECTED_MARK + title, False
    return CORRECTED_MARK + title[: limit - len(CORRECTED_MARK) - 1] + "…", True


# ---------------------------------------------------------------------------------------------
# The desks (newspaper, TV): a notice by mail instead of an edit


@dataclass(frozen=True)
class Desk:
    who: str  # who receives it: "淮南日报、淮河早报编辑部"
    done: str  # the outlet's word for "printed" / "aired"
    encoding: str = "utf-8"  # the copy file's encoding (the newspaper's carries a BOM)


def desk_correction(desk: Desk, release: Release, ctx: RenderContext, base: Rendition, c: Correction,
                    old: str | None) -> Rendition:
    """The desk's copy replaced by a correction notice: what changed (a diff when the old copy was kept)
    and the full corrected copy."""
    name = f"{release.id}.txt"
    new = copy_text(base)
    message = render_template(
        "corrections/desk-correction.txt", who=desk.who, done=desk.done, title=release.title,
        release_id=release.id, old_version=c.corrects, new_version=release.version,
        old_sent=dated(c.old_published_at, ctx) if c.old_published_at else "", at=dated(c.at, ctx), note=c.note,
        diff=text_diff(old, new) if old is not None else [], archived=old is not None, full=new,
        press_office=ctx.settings.city.press_office)
    bom = base.files[name].startswith(BOM.encode("utf-8"))
    data = (BOM if bom else "").encode("utf-8") + message.encode("utf-8")
    return replace(base, title=f"{CORRECTED_MARK}{base.title}", files={**base.files, name: data})


def desk_withdrawal(desk: Desk, channel: str, release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    """A 撤稿通知 to the desk."""
    text = render_template(
        "corrections/desk-withdrawal.txt", who=desk.who, done=desk.done, title=w.title,
        release_id=release_id, version=w.withdraws, sent=dated(w.published_at, ctx) if w.published_at else "",
        at=dated(w.at, ctx), reason=w.reason, press_office=ctx.settings.city.press_office)
    return withdrawal(channel, release_id, w, {f"{release_id}.txt": text.encode(desk.encoding)})


# ---------------------------------------------------------------------------------------------
# Withdrawals


def withdrawal(channel: str, release_id: str, w: Withdrawal, files: dict[str, bytes], url: str = "") -> Rendition:
    """A withdrawal rendition: keyed by the version it withdraws."""
    return Rendition(channel=channel, release_id=release_id, version=f"retract-{w.withdraws}", title=f"【撤稿】{w.title}",
                     files=files, url=url)


def manual_withdrawal(channel: str, label: str, release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    """For an outlet whose transport cannot delete: a note saying what to take down by hand."""
    text = render_template("corrections/manual-withdrawal.txt", label=label, title=w.title, url=w.old_url,
                           at=dated(w.at, ctx), reason=w.reason, release_id=release_id)
    return withdrawal(channel, release_id, w, {f"{channel}-withdrawn.txt": text.encode("utf-8")})


def withdrawal_page(release_id: str, ctx: RenderContext, w: Withdrawal) -> str:
    """The page that replaces a withdrawn release page (portal and H5)."""
    s = ctx.settings
    outlet = s.outlet("portal")
    sites = list(s.site_names)
    return render_template(
        "corrections/withdrawn.html", title=markup.clean_text(w.title).strip(), site=sites[0], sites=sites,
        column=outlet["column"], press_office=s.city.press_office,
        url=ctx.url_for(release_id), published=dated(w.published_at, ctx) if w.published_at else "",
        withdrawn=dated(w.at, ctx), withdrawn_iso=w.at.astimezone(s.tz).isoformat(), notice=w.notice or DEFAULT_NOTICE,
        published_iso=w.at.astimezone(s.tz).isoformat(),
        **govsite.portal_page(s, title="本文已撤回", source=s.city.press_office or sites[0],
                              url=ctx.url_for(release_id), column_type=govsite.NEWS))
