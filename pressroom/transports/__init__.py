"""Transports: how a rendition reaches its outlet. Separate from rendering (channels/).

Contract: ``deliver(rendition, delivery, ledger) -> Receipt`` sends once; ``lookup(rendition, delivery) ->
Receipt | None`` asks the outlet whether this exact item is already there (used after a crash or an
unknown outcome, before anything is sent again). Errors say what may happen next:

- ``TransientError``: nothing was published; retry with backoff (busy, 5xx, rate limit).
- ``PermanentError``: the outlet refused; retrying cannot help (bad payload, auth refused).
- ``UnknownOutcome``: the request left and the answer was lost; never blindly retried (look first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from pressroom.settings import Settings


@dataclass(frozen=True)
class Receipt:
    external_id: str = ""
    url: str = ""


class TransportError(Exception):
    pass


class TransientError(TransportError):
    pass


class PermanentError(TransportError):
    pass


class UnknownOutcome(TransportError):
    pass


class Transport(Protocol):
    name: str

    def deliver(self, rendition, delivery, ledger) -> Receipt: ...

    def lookup(self, rendition, delivery) -> Receipt | None: ...


_FACTORIES: dict[str, Callable[[Settings, str], Transport]] = {}


def register(name: str, factory: Callable[[Settings, str], Transport]) -> None:
    """Make a transport available to settings' ``[transports]`` by name."""
    _FACTORIES[name] = factory


def transport_for(settings: Settings, channel: str) -> Transport:
    name = settings.transports.get(channel, "outbox")
    if name not in _FACTORIES:
        _load_builtin()
    try:
        return _FACTORIES[name](settings, channel)
    except KeyError:
        raise PermanentError(f"渠道 {channel} 配置的发送方式“{name}”不存在（可用：{'、'.join(sorted(_FACTORIES))}）") from None


def _load_builtin() -> None:
    from pressroom.transports import cms, outbox, smtp, wechat, weibo  # noqa: F401  (each registers itself)
