"""Per-outlet API rate limits, shared by every worker: Prefect global concurrency limits with slot decay.

Each outlet API call first takes a slot of ``pressroom-<outlet>-api`` (``throttle("wechat")``); slots come
back at the outlet's rate, so fifty releases going out at once queue on the Prefect server instead of
tripping the platform's own limits (WeChat 45011, Weibo 10022–10024 and its 30 posts an hour).

Without a Prefect server (the embedded default), or when the limit was never created, ``throttle`` returns
at once: it never blocks and never starts a temporary server. ``ensure_limits(settings)`` creates or
updates the limits (``scripts/stack.sh`` runs it: ``python -m pressroom.transports.ratelimit``).

Settings, ``[rate_limits]`` in pressroom.toml (defaults in ``pressroom.settings``), one table per outlet::

    wechat = { per_second = 5, burst = 10 }
    weibo = { per_hour = 30, burst = 10 }
    weibo = false            # no limit (the limit is made inactive)
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping

from pressroom.settings import DEFAULT_RATE_LIMITS

log = logging.getLogger(__name__)

PREFIX = "pressroom-"
WAIT_SECONDS = 1800.0  # longer than this in the queue: give up this attempt (a retry comes later)
MISSING_TTL = 60.0  # a limit that does not exist is asked about again after this long

_missing: dict[str, float] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Limit:
    outlet: str
    per_second: float
    burst: int
    active: bool = True

    @property
    def name(self) -> str:
        return limit_name(self.outlet)


def limit_name(outlet: str) -> str:
    return f"{PREFIX}{outlet}-api"


def _parse(outlet: str, spec: Any) -> Limit:
    if spec is False or spec is None:
        return Limit(outlet, 0.0, 1, active=False)
    if isinstance(spec, (int, float)):
        spec = {"per_second": spec}
    rate = (float(spec.get("per_second", 0)) + float(spec.get("per_minute", 0)) / 60
            + float(spec.get("per_hour", 0)) / 3600)
    if rate <= 0:
        raise ValueError(f"[rate_limits] {outlet}：速率应大于 0（per_second / per_minute / per_hour），或写 false 关闭")
    burst = int(spec.get("burst", max(1, math.ceil(rate))))
    return Limit(outlet, rate, max(1, burst))


def limits_from(settings) -> list[Limit]:
    """The configured limits: the defaults, overridden outlet by outlet by ``[rate_limits]`` (no settings:
    the defaults)."""
    specs: Mapping[str, Any] = settings.rate_limits if settings is not None else DEFAULT_RATE_LIMITS
    return [_parse(outlet, spec) for outlet, spec in sorted(specs.items())]


def _server_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or ""


def ensure_limits(settings) -> list[Limit]:
    """Create or update the outlets' global concurrency limits on the Prefect server (idempotent)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    if not _server_url():
        raise RuntimeError("限流设置需要 Prefect 服务器：请先设置 PREFECT_API_URL（见 scripts/stack.sh）")
    limits = limits_from(settings)
    with get_client(sync_client=True) as client:
        for lim in limits:
            values = dict(limit=lim.burst, slot_decay_per_second=lim.per_second, active=lim.active)
            try:
                client.read_global_concurrency_limit_by_name(lim.name)
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=lim.name, **values))
            else:
                client.update_global_concurrency_limit(lim.name, GlobalConcurrencyLimitUpdate(**values))
    with _lock:
        _missing.clear()
    return limits


def throttle(outlet: str, wait_seconds: float = WAIT_SECONDS) -> None:
    """Wait for a slot of the outlet's API rate limit. A no-op without a server or without the limit."""
    if not _server_url():
        return
    name = limit_name(outlet)
    with _lock:
        if _missing.get(name, 0.0) > time.monotonic():
            return
    from prefect.concurrency.asyncio import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import rate_limit

    try:
        rate_limit(name, timeout_seconds=wait_seconds, strict=True)
    except AcquireConcurrencySlotTimeoutError:
        from pressroom.transports import TransientError

        raise TransientError(f"{outlet} 接口限流排队超过 {wait_seconds:.0f} 秒，未发送，稍后重试") from None
    except ConcurrencySlotAcquisitionError as e:
        # No such limit (never created, or inactive): remember for a while. Server trouble: do not stop
        # publishing for it — the platform's own limit answers are still handled as transient errors.
        with _lock:
            _missing[name] = time.monotonic() + MISSING_TTL
        if "must be created" not in str(e):
            log.warning("rate limit %s unavailable, calling without it: %s", name, e)


def main() -> None:  # python -m pressroom.transports.ratelimit
    from pressroom import runtime

    runtime.configure()
    from pressroom.settings import load_settings

    for lim in ensure_limits(load_settings()):
        state = f"{lim.per_second:g}/s, burst {lim.burst}" if lim.active else "off"
        print(f"rate limit {lim.name}: {state}")


if __name__ == "__main__":
    main()
