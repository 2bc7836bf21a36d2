"""The delivery engine: one rendition to one outlet, at most once. Publish, correct and retract differ only
in which ledger rows they select and what they do afterwards; every send goes through here.

For one (release, channel, version) row: the embargo is checked (defence in depth: the flows wait for it);
a disabled outlet (the circuit breaker) is skipped with its reason; the row is claimed by one caller (a
conditional UPDATE); a row tried before is looked up on the outlet before anything is sent again; the
transport is called with an ``Attempt`` (it never opens the ledger); its error class decides what happens
next (retry, failure, 待核实, or 等待配额 until the outlet's quota is back — the row is not claimed before);
credentials refused trip the breaker. A run that read the row before another run settled it reports that
outcome instead of claiming it again. Everything is recorded in the ledger.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import channels
from pressroom import clock
from channels.base import slot_releases
from pressroom.crashpoints import crashpoint
from pressroom.delivery import doctor
from pressroom.delivery.ledger import (
    DELIVERING, FAILED, PUBLISHED, RETRACT, RETRACTED, SKIPPED, STATE_LABELS, UNCONFIRMED, Delivery, Ledger,
    shown_time, waiting_until,
)
from pressroom.settings import Settings
from pressroom.transports import (
    Attempt, ChannelDisabled, CouldNotLook, CredentialsRefused, Found, PermanentError, QuotaExhausted, Receipt,
    Retracts, TransientError, Transport, TransportError, UnknownOutcome, as_answer, transport_for,
)

WAIT_FOR_OTHER_RUN = timedelta(minutes=5)  # how long a second run waits for the first one's delivery
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One row to deliver: which release, channel and version, the ledger action (``None``: the version's own
    row, its publication or correction; ``RETRACT``: its withdrawal), and the earliest moment it may go out
    (``None``: no embargo applies — the embargo was overridden by a named person, or it is a withdrawal)."""

    release_id: str
    channel: str
    version: str
    not_before: datetime | None = None
    action: str | None = None
    # The 发布时间 pages show (docs/requirements.md R4): the release's ``publish_at`` and the moment this run
    # delivers (the embargo lifted; ``None``: the clock when the row is sent). See ``shown_time``.
    publish_at: datetime | None = None
    at: datetime | None = None


@dataclass
class Outcome:
    channel: str
    state: str
    attempts: int = 0
    url: str = ""
    error: str = ""
    delivered_at: datetime | None = None
    notes: list[str] = field(default_factory=list)
    shown_at: datetime | None = None  # the 发布时间 its pages show
    late_minutes: int = 0


def retry_delays(settings: Settings) -> list[float]:
    """Backoff between delivery attempts (seconds); ``[publish] retry_delays`` in settings."""
    env = os.environ.get("PRESSROOM_RETRY_DELAYS")
    if env is not None:
        return [float(x) for x in env.split(",") if x.strip()]
    return list(settings.publish.retry_delays)


def attempt_for(ledger: Ledger, row: Delivery) -> Attempt:
    """What a transport gets: the row, a way to save step ids, and the release's other versions' rows."""
    others = tuple(d for d in ledger.rows(row.release_id) if d.channel == row.channel and d.version != row.version)

    def fresh() -> dict:
        return (ledger.refresh(row) or row).steps

    return Attempt(row=row, save=lambda steps: ledger.save_steps(row, steps), fresh_steps=fresh, others=others)


def outcome(ledger: Ledger, job: Job, notes: list[str] | None = None) -> Outcome:
    d = ledger.get(job.release_id, job.channel, job.version, job.action)
    return Outcome(job.channel, d.state, d.attempts, d.url, d.last_error, d.published_at, notes or [],
                   shown_time(d) if d.state == PUBLISHED else None, int(d.steps.get("late_minutes") or 0))


def stamp_for(ledger: Ledger, job: Job) -> tuple[datetime, int]:
    """The 发布时间 this delivery shows and how many minutes late that is. A release already published on
    the channel (this is its correction) keeps the time it first went out; otherwise the minute the run
    delivers, which is ``publish_at`` itself when that is on schedule (``pressroom.clock.shown_time``)."""
    earlier = [t for d in ledger.rows(job.release_id) if d.channel == job.channel and d.version != job.version
               and d.action != RETRACT and d.state in (PUBLISHED, RETRACTED) and (t := shown_time(d)) is not None]
    if earlier:
        return min(earlier), 0
    at = job.at or clock.now()
    if job.publish_at is None:
        return clock.minute(at), 0
    return clock.shown_time(job.publish_at, at)


def _stamp(ledger: Ledger, job: Job, attempt: Attempt, rendition) -> None:
    """Fix the time the delivery about to be sent shows, on its row (kept with what went out) and for the
    transport, which fills the pages' 发布时间 slot with it."""
    at, late = stamp_for(ledger, job)
    attempt.save_steps(shown_at=at.isoformat(), late_minutes=late)
    attempt.shown_at = at
    for rid in slot_releases(rendition.files):  # the event's other releases a timeline shows
        times = [t for d in ledger.rows(rid) if d.channel == job.channel and d.state == PUBLISHED
                 and (t := shown_time(d)) is not None]
        if times:
            attempt.others_shown[rid] = min(times)


def deliver(job: Job, rendition, settings: Settings, token: str, logger=log) -> Outcome:
    """Deliver one rendition at most once. Raises TransientError (after recording it) for a retry."""
    ledger = Ledger(settings.ledger_url)
    row = ledger.ensure(job.release_id, job.channel, job.version, job.action)
    if row.state == PUBLISHED:
        return Outcome(job.channel, PUBLISHED, row.attempts, row.url, delivered_at=row.published_at,
                       notes=["已发布，未重复发送"])
    until = waiting_until(row)
    if until is not None and datetime.now(timezone.utc) < until:
        # The outlet's quota is used up until then: sending now would only be refused again.
        return outcome(ledger, job, [f"等待配额，{until.isoformat()} 后再发送"])
    if job.not_before is not None and clock.now() < job.not_before:
        return Outcome(job.channel, FAILED, row.attempts, error=f"未到发布时间 {job.not_before.isoformat()}")
    transport = transport_for(settings, job.channel)
    disabled = doctor.disabled_reason(ledger, transport.outlet)
    if disabled:
        # The outlet refused our credentials earlier: say so instead of failing again.
        if row.state != SKIPPED:
            ledger.set_state(row, SKIPPED, f"渠道已停用：{disabled}（运行 pressroom doctor 检查通过后自动恢复）")
        return outcome(ledger, job)
    claimed = ledger.claim(row, token, as_seen=True)
    if claimed is None:
        return wait_for_other_run(ledger, job)
    attempt = attempt_for(ledger, claimed)
    if claimed.attempts > 1 or claimed.steps.get("resolved"):
        # An earlier attempt may have reached the outlet before failing or crashing (an editor's "not
        # published" included: the platform is asked again): look before sending.
        answer = as_answer(transport.lookup(rendition, attempt))
        if isinstance(answer, Found):  # it shows the time the earlier attempt stamped (kept on the row)
            ledger.mark_published(claimed, token, answer.receipt.external_id, answer.receipt.url)
            logger.info("%s: found already delivered (%s), not sending again", job.channel, answer.receipt.url)
            _note_late(ledger, ledger.refresh(claimed), token)
            return outcome(ledger, job, ["发现此前已送达，未重复发送"])
        if isinstance(answer, CouldNotLook) and not answer.resend_safe:
            ledger.mark_failed(claimed, token, f"此前的发送可能已到达平台，但无法查询核实，未重新发送：{answer.reason}"
                                               f"。请到平台核实后运行 pressroom resolve", state=UNCONFIRMED)
            logger.warning("%s: could not look before resending, left unconfirmed: %s", job.channel, answer.reason)
            return outcome(ledger, job)
    _stamp(ledger, job, attempt, rendition)
    return _send(job, rendition, ledger, transport, attempt, token, logger)


def _note_late(ledger: Ledger, d: Delivery, token: str) -> None:
    """A delivery later than its ``publish_at``: the audit trail says how late, and what time it shows."""
    late = int(d.steps.get("late_minutes") or 0)
    if late > 0 and d.steps.get("shown_at"):
        shown = datetime.fromisoformat(d.steps["shown_at"])
        ledger.log(d.release_id, d.channel, d.label, "published-late", token,
                   f"晚于发布时间 {late} 分钟发出，页面发布时间显示为 {shown:%Y-%m-%d %H:%M}")


def _send(job: Job, rendition, ledger: Ledger, transport: Transport, attempt: Attempt, token: str,
          logger) -> Outcome:
    claimed = attempt.row
    try:
        # Files the channel makes at delivery (the video's MP4): after the claim, so a re-run that finds it
        # delivered never encodes again; a failure fails this channel only.
        rendition = channels.finish(job.channel, rendition, transport.settings)
    except channels.EncodeError as e:
        ledger.mark_failed(claimed, token, str(e))
        logger.error("%s: could not make its files: %s", job.channel, e)
        return outcome(ledger, job)
    try:
        receipt = _guarded(ledger, transport, lambda: transport.deliver(rendition, attempt))
    except QuotaExhausted as e:
        ledger.mark_waiting(claimed, token, str(e), e.retry_at)
        logger.warning("%s: quota used up, waiting until %s: %s", job.channel, e.retry_at.isoformat(), e)
        return outcome(ledger, job)
    except TransientError as e:
        ledger.mark_failed(claimed, token, f"暂时性错误：{e}")
        logger.warning("%s: transient error, will retry: %s", job.channel, e)
        raise  # the caller's task retries with backoff
    except PermanentError as e:
        ledger.mark_failed(claimed, token, str(e))
        logger.error("%s: refused by the outlet: %s", job.channel, e)
        return outcome(ledger, job)
    except UnknownOutcome as e:
        answer = as_answer(transport.lookup(rendition, attempt_for(ledger, claimed)))
        if isinstance(answer, Found):
            ledger.mark_published(claimed, token, answer.receipt.external_id, answer.receipt.url)
            _note_late(ledger, ledger.refresh(claimed), token)
            return outcome(ledger, job, ["发送结果未知，经查询已发布"])
        # Not found is not proof after a lost reply (the outlet may still be processing): never resent.
        looked = f"（查询平台：{answer.reason}）" if isinstance(answer, CouldNotLook) else ""
        ledger.mark_failed(claimed, token, f"发送结果未知，请到平台核实后运行 pressroom resolve：{e}{looked}",
                           state=UNCONFIRMED)
        return outcome(ledger, job)
    crashpoint("engine.before_record")
    ledger.mark_published(claimed, token, receipt.external_id, receipt.url)
    _note_late(ledger, ledger.refresh(claimed), token)
    logger.info("%s: published %s", job.channel, receipt.url)
    return outcome(ledger, job)


def _guarded(ledger: Ledger, transport: Transport, call):
    """Call the outlet unless its breaker is open; trip the breaker when it refuses our credentials."""
    reason = doctor.disabled_reason(ledger, transport.outlet)
    if reason is not None:
        raise ChannelDisabled(f"渠道已停用，未发送：{reason}")
    try:
        return call()
    except CredentialsRefused as e:
        doctor.trip(ledger, transport.outlet, str(e))
        raise


def wait_for_other_run(ledger: Ledger, job: Job) -> Outcome:
    """Another run holds the claim: wait for its result instead of sending a second copy."""
    deadline = time.monotonic() + WAIT_FOR_OTHER_RUN.total_seconds()
    while time.monotonic() < deadline:
        d = ledger.get(job.release_id, job.channel, job.version, job.action)
        if d.state != DELIVERING:
            break
        time.sleep(0.5)
    d = ledger.get(job.release_id, job.channel, job.version, job.action)
    return outcome(ledger, job, [f"由另一次运行处理：{STATE_LABELS.get(d.state, d.state)}（本次未发送）"])


def can_delete(settings: Settings, channel: str) -> bool:
    """Whether the channel's outlet can delete what was published (else a withdrawal notice is sent)."""
    return isinstance(transport_for(settings, channel), Retracts)


def delete_one(settings: Settings, row: Delivery) -> str:
    """Delete one published copy on its outlet (TransientError: retry; PermanentError: it could not)."""
    transport = transport_for(settings, row.channel)
    if not isinstance(transport, Retracts):
        raise PermanentError(f"{row.channel} 的发送方式无法删除已发布内容")
    return _guarded(Ledger(settings.ledger_url), transport, lambda: transport.retract(row))


def delete_all(job: Job, live: list[Delivery], settings: Settings, token: str, why: str, actor: str, url: str,
               logger=log) -> Outcome:
    """Delete every published copy (the original and any correction) under one claim of the retraction
    row, each row marked retracted the moment it is gone; deleting is idempotent on the platforms (gone
    counts as deleted), so a retry is safe."""
    ledger = Ledger(settings.ledger_url)
    transport = transport_for(settings, job.channel)
    claimed = ledger.claim(ledger.get(job.release_id, job.channel, job.version, job.action), token)
    if claimed is None:
        d = ledger.get(job.release_id, job.channel, job.version, job.action)
        return Outcome(job.channel, d.state, d.attempts, d.url, d.last_error, notes=["由另一次运行处理"])
    done = []
    try:
        for d in live:
            what = _guarded(ledger, transport, lambda d=d: transport.retract(d))
            ledger.set_state(d, RETRACTED, f"{why}（{what}）", actor)
            done.append(what)
    except TransientError as e:
        ledger.mark_failed(claimed, token, f"暂时性错误：{e}")
        logger.warning("%s: transient error while deleting, will retry: %s", job.channel, e)
        raise
    except TransportError as e:
        ledger.mark_failed(claimed, token, str(e))
        logger.error("%s: could not delete: %s", job.channel, e)
        d = ledger.refresh(claimed)
        return Outcome(job.channel, d.state, d.attempts, error=d.last_error)
    ledger.save_steps(claimed, {"deleted": done})
    ledger.mark_published(claimed, token, url=url)  # the action is done; the caller marks it retracted
    return Outcome(job.channel, PUBLISHED, claimed.attempts, url, notes=done)


def bundle_skew(outcomes: list[Outcome]) -> float:
    """Latest minus earliest delivery time across a bundle (seconds): how simultaneous it was."""
    times = [o.delivered_at for o in outcomes if o.delivered_at]
    return (max(times) - min(times)).total_seconds() if len(times) > 1 else 0.0


__all__ = ["Job", "Outcome", "Receipt", "attempt_for", "bundle_skew", "can_delete", "delete_all", "delete_one", "deliver",
           "outcome", "retry_delays", "wait_for_other_run"]
