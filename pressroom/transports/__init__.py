"""Transports: how a rendition reaches its outlet. Separate from rendering (``channels/``) and from the
ledger (``pressroom.delivery``): the delivery engine claims the row, checks the circuit breaker, looks
before resending and records the outcome; a transport only talks to its outlet.

The contract (``Transport``): ``deliver(rendition, attempt) -> Receipt`` sends once; ``lookup(rendition,
attempt) -> Found | NotFound | CouldNotLook`` asks the outlet whether this exact item is already there (after
a crash or an unknown outcome, before anything is sent again) and answers one of three things:

- ``Found(receipt)``: it is there (the engine records it as published with the outlet's id);
- ``NotFound()``: the outlet answered, positively, that it is not (or not complete: ``deliver`` resumes from
  the saved steps);
- ``CouldNotLook(reason)``: the outlet could not be asked or its answer cannot be trusted (an HTTP error or
  404, an error reply, a reply of an unexpected shape, a permission error, two candidates). "Could not look"
  is never "not there": the engine sends nothing and leaves the row 待核实 with the reason, unless the
  transport says a resend cannot duplicate (``resend_safe``: a PUT to a fixed path, files rewritten).

Optional capabilities are declared by inheriting ``Retracts`` (the outlet can delete
what was published) and ``HealthChecked`` (``pressroom doctor`` can check the credentials). Errors say what
may happen next:

- ``TransientError``: nothing was published; retry with backoff (busy, 5xx, rate limit).
- ``QuotaExhausted`` (a ``TransientError``): nothing was published; the quota is back at ``retry_at``.
- ``PermanentError``: the outlet refused; retrying cannot help (bad payload, auth refused).
- ``UnknownOutcome``: the request left and the answer was lost; never blindly retried (look first).
- ``CredentialsRefused`` (a ``PermanentError``): the engine disables the outlet (the circuit breaker).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar, Mapping

from channels.base import fill_published
from pressroom.settings import Settings


@dataclass(frozen=True)
class Receipt:
    external_id: str = ""
    url: str = ""


@dataclass(frozen=True)
class Found:
    """The look-up found this exact item on the outlet."""
    receipt: Receipt

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class NotFound:
    """The outlet answered that the item is not there (nothing, or not every step: deliver resumes)."""
    detail: str = ""

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class CouldNotLook:
    """The outlet could not be asked, or its answer does not tell (``reason``, in Chinese, says what was
    tried and what the editor should check). ``resend_safe``: sending again cannot make a second copy."""
    reason: str
    resend_safe: bool = False

    def __bool__(self) -> bool:
        return False


LookupAnswer = Found | NotFound | CouldNotLook


def as_answer(value) -> LookupAnswer:
    """A look-up's answer; an installation's older transport answering ``Receipt | None`` is read as
    found / not found."""
    if isinstance(value, (Found, NotFound, CouldNotLook)):
        return value
    if isinstance(value, Receipt):
        return Found(value)
    if value is None:
        return NotFound()
    raise TypeError(f"a look-up answers Found, NotFound or CouldNotLook, not {value!r}")


class TransportError(Exception):
    pass


class TransientError(TransportError):
    pass


class PermanentError(TransportError):
    pass


class UnknownOutcome(TransportError):
    pass


class QuotaExhausted(TransientError):
    """The outlet's quota is used up until ``retry_at`` (an aware datetime): nothing was sent, and retrying
    before then cannot help (WeChat's daily quota, Weibo's hourly limit)."""

    def __init__(self, message: str, retry_at):
        super().__init__(message)
        self.retry_at = retry_at


class CredentialsRefused(PermanentError):
    """The outlet refused our credentials: every later delivery to it would fail the same way."""


class ChannelDisabled(PermanentError):
    """The outlet was disabled by the circuit breaker: nothing was sent."""


@dataclass
class Attempt:
    """What a transport gets for one delivery, from the engine that owns the ledger: the claimed row, a way
    to save a platform step's id the moment it exists, and the rows of the release's other versions on this
    channel (their platform ids are never adopted as ours)."""

    row: Any  # pressroom.delivery.ledger.Delivery, as claimed
    save: Callable[[dict], None] = lambda steps: None
    fresh_steps: Callable[[], dict] | None = None  # the row's steps as the ledger has them now
    others: tuple = ()
    steps: dict = field(default_factory=dict)
    # The 发布时间 this delivery shows (the ledger keeps it in ``steps["shown_at"]``): pages are sent with
    # their slot filled with it (``delivered_files``). None: the files go as rendered.
    shown_at: datetime | None = None
    others_shown: dict = field(default_factory=dict)  # release id -> the time another release shown went out

    def __post_init__(self):
        self.steps = dict(self.row.steps)

    def save_steps(self, **kv) -> None:
        self.steps.update(kv)
        self.save(kv)

    def current_steps(self) -> dict:
        return dict(self.fresh_steps()) if self.fresh_steps else dict(self.steps)

    def other_ids(self, keys: tuple[str, ...] = ()) -> set[str]:
        """Platform ids recorded for the other versions: their external ids and the named step ids."""
        ids = {str(d.external_id) for d in self.others}
        ids |= {str(d.steps.get(k)) for d in self.others for k in keys if d.steps.get(k)}
        return ids - {""}


def delivered_files(rendition, attempt: Attempt, settings: Settings) -> Mapping[str, bytes]:
    """What goes out: the rendition's files with every page's 发布时间 slot filled with the time of this
    delivery. The rendition itself (what was approved, its ``content_hash``) stays as it was."""
    if attempt.shown_at is None:
        return rendition.files
    return fill_published(rendition.files, attempt.shown_at, settings.tz, attempt.others_shown)


class Transport(ABC):
    name: ClassVar[str]

    def __init__(self, settings: Settings, channel: str):
        self.settings = settings
        self.channel = channel

    @property
    def outlet(self) -> str:
        """The outlet's name for the circuit breaker and rate limits: the transport's."""
        return self.name

    @abstractmethod
    def deliver(self, rendition, attempt: Attempt) -> Receipt: ...

    @abstractmethod
    def lookup(self, rendition, attempt: Attempt) -> LookupAnswer: ...

    def id_from_url(self, url: str) -> str:
        """The outlet's own id of a publication, read from its public address ("" when the address does
        not carry it): what ``pressroom resolve --published URL`` records when no ``--id`` is given."""
        return ""


class Retracts(ABC):
    """The outlet can delete what was published (deleting what is gone counts as deleted)."""

    @abstractmethod
    def retract(self, row) -> str: ...


class HealthChecked(ABC):
    """``pressroom doctor`` can check this outlet without publishing."""

    @staticmethod
    @abstractmethod
    def doctor(settings: Settings) -> list[tuple[str, bool, str]]: ...


# The registry: transport name (as written in ``[transports]``) -> its class.
TRANSPORTS: dict[str, str | type[Transport]] = {
    "outbox": "pressroom.transports.outbox:OutboxTransport",
    "wechat": "pressroom.transports.wechat:WeChatTransport",
    "weibo": "pressroom.transports.weibo:WeiboTransport",
    "smtp": "pressroom.transports.smtp:SMTPTransport",
    "cms": "pressroom.transports.cms:CMSTransport",
}


def register(name: str, cls: type[Transport]) -> None:
    """Add a transport (an installation's own, or a test's double) under ``name``."""
    if not issubclass(cls, Transport):
        raise TypeError(f"{cls!r} does not implement pressroom.transports.Transport")
    TRANSPORTS[name] = cls


def transport_class(name: str) -> type[Transport]:
    try:
        entry = TRANSPORTS[name]
    except KeyError:
        raise PermanentError(f"配置的发送方式“{name}”不存在（可用：{'、'.join(sorted(TRANSPORTS))}）") from None
    if isinstance(entry, str):
        module, _, cls = entry.partition(":")
        entry = getattr(importlib.import_module(module), cls)
    return entry


def transport_name(settings: Settings, channel: str) -> str:
    return settings.transports.get(channel, "outbox")


def transport_for(settings: Settings, channel: str) -> Transport:
    return transport_class(transport_name(settings, channel))(settings, channel)
