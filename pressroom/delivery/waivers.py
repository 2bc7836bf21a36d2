"""Waiving one finding of the fidelity audit (README "The fidelity audit"): a verified reviewer, with a
recorded reason, for one release version. The ledger's ``audit_waivers`` holds them (and ``pressroom
history`` shows each as ``audit-waived``); ``validate`` here is the catalog's validation with those waivers,
the only way a finding stops blocking."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pressroom.releases.catalog import Catalog, validate as validate_catalog
from pressroom.settings import Settings

if TYPE_CHECKING:
    from pressroom.delivery.ledger import Ledger
    from pressroom.releases import audit

# The ledger (SQLAlchemy, Alembic) is imported where it is read: ``pressroom validate`` reads it only when
# a release has an audit finding a waiver could silence.

MIN_REASON = 4  # characters: "同意" is no reason


def active(settings: Settings, ledger: Ledger | None = None) -> frozenset:
    """(release id, version, finding id) of every waiver in the ledger. A ledger that is not there yet (it
    is not created just to read it: ``pressroom validate`` on a fresh checkout), cannot be opened or is still
    to be upgraded has none, so every finding blocks (never the other way round)."""
    url = settings.ledger_url
    if ledger is None and url.startswith("sqlite:///") and not Path(url.split("///", 1)[1]).exists():
        return frozenset()
    import sqlalchemy as sa

    from pressroom.delivery.ledger import Ledger, LedgerOutdated

    try:
        ledger = ledger or Ledger(url)
        return frozenset((w["release_id"], w["version"], w["finding"]) for w in ledger.waivers())
    except (LedgerOutdated, sa.exc.OperationalError):
        return frozenset()


def validate(settings: Settings, ledger: Ledger | None = None, **kwargs) -> Catalog:
    """``pressroom.releases.catalog.validate`` with the ledger's waivers: what publishing, the preflight,
    corrections and ``pressroom validate`` check. The ledger is read only if some release checked has a
    finding (without one, no waiver can change the verdict)."""
    return validate_catalog(settings, waived=lambda: active(settings, ledger), **kwargs)


def waive(settings: Settings, ledger: Ledger, release_id: str, finding_id: str, reason: str, reviewer: str,
          code: str) -> audit.Finding:
    """Waive the finding ``finding_id`` of the release's current version for ``reviewer`` proven by their
    one-time code, with ``reason``; returns the finding. Refused (``reviewers.Refused``, in Chinese): no
    reason, no such finding on the current version, or a reviewer not verified."""
    from pressroom.delivery import reviewers
    from pressroom.releases import audit

    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise reviewers.Refused(f"豁免须用 --reason 写明理由（至少 {MIN_REASON} 个字），理由记入台账")
    catalog = validate(settings, ledger, only=release_id)
    result = catalog.audits.get(release_id)
    if result is None:
        raise reviewers.Refused(f"找不到稿件 {release_id} 的保真核对结果：请先运行 pressroom validate，"
                                "确认该稿件除保真核对外没有其他问题")
    found = {f.id: f for f in audit.findings(result)}
    if finding_id not in found:
        known = "、".join(f"{f.id}（{f.describe()}）" for f in found.values()) or "无"
        raise reviewers.Refused(f"稿件 {release_id} 当前版本没有核对项 {finding_id}；当前的核对项：{known}")
    finding = found[finding_id]
    if (release_id, result.version, finding_id) in catalog.waived:
        raise reviewers.Refused(f"核对项 {finding_id} 已经豁免过（针对当前版本）")
    name = reviewers.verified_person(settings, ledger, reviewer, code,
                                     f"豁免保真核对项 {finding_id}", release_id)
    if not ledger.add_waiver(release_id, result.version, finding_id, finding.channel, finding.describe(),
                             reason, name):
        raise reviewers.Refused(f"核对项 {finding_id} 已经豁免过（针对当前版本）")
    return finding
