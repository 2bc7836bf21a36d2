"""``pressroom doctor``: is every configured outlet usable? And the circuit breaker it resets.

``run_doctor(settings)`` checks each configured transport once (WeChat: a token can be obtained and the
draft API answers; Weibo: ``rip`` is set, the token names its account and the timeline answers; SMTP:
STARTTLS, login and NOOP work and every desk has an address; CMS: the endpoint answers the contract and
tells our token from a wrong one; outbox: the folder is writable), then each channel's own check (the
micro-video: ffmpeg runs and has its encoders, ffprobe is there; ``doctor`` in the channel module), and
returns rows with the columns 渠道 / 检查 / 结果 / 说明. It never publishes. A check passes only on a positive confirmation from the
outlet: a 404, an unexpected reply, a permission error or an exception is a failure with its reason, a
failure to connect is named as such with what to check, and each outlet's check finishes within 5 s
(``DOCTOR_BUDGET`` in ``pressroom/transports/http.py``).

The circuit breaker: when an outlet refuses our credentials, the delivery engine ``trip``s it; later deliveries
to that outlet stop at once (``ChannelDisabled``, nothing sent) with the reason, instead of each release
failing on its own. A doctor run whose checks of that outlet all pass ``reset``s it. The state is one row
per outlet in the ledger's ``outlet_state`` (so every worker sees it, and a delivery reads it with one
indexed lookup); each trip and reset is also an event of release id ``BREAKER_ID``, which ``pressroom
history`` shows.
"""

from __future__ import annotations

from functools import partial

import channels
from pressroom.delivery.ledger import DISABLED as _OFF, ENABLED as _ON, OUTLET_EVENTS, OUTLETS_ID, Ledger
from pressroom.secrets import MissingCredential, redact
from pressroom.settings import Settings
from pressroom.transports import HealthChecked, PermanentError, transport_class

BREAKER_ID = OUTLETS_ID
DISABLED, ENABLED = OUTLET_EVENTS[_OFF], OUTLET_EVENTS[_ON]  # the events of a trip and of a reset
PASS, FAIL, SKIP = "通过", "失败", "跳过"


# -- circuit breaker ---------------------------------------------------------------------------------

def disabled_reason(ledger: Ledger, outlet: str) -> str | None:
    """Why ``outlet`` (a transport name: "wechat", "smtp" …) is disabled, or None when it is usable."""
    state = ledger.outlet_state(outlet)
    return state.reason if state is not None and state.disabled else None


def channel_disabled(settings: Settings, ledger: Ledger, channel: str) -> str | None:
    """Why a channel's outlet is disabled (for the flow: show the channel as skipped with this reason)."""
    return disabled_reason(ledger, settings.transports.get(channel, "outbox"))


def trip(ledger: Ledger, outlet: str, reason: str, actor: str = "") -> None:
    """Disable ``outlet`` (once: an outlet already disabled keeps its first reason)."""
    why = redact(f"{reason}（凭据被拒，已停用该渠道；修正凭据后运行 pressroom doctor 恢复）")
    ledger.set_outlet_state(outlet, _OFF, why, actor)


def reset(ledger: Ledger, outlet: str, actor: str = "pressroom doctor") -> bool:
    """Re-enable ``outlet``; True when it was disabled."""
    return ledger.set_outlet_state(outlet, _ON, "pressroom doctor 检查通过，恢复启用", actor)


# -- checks ------------------------------------------------------------------------------------------

def _label(channel: str) -> str:
    try:
        return channels.get(channel).label
    except Exception:  # a channel module not importable here still gets a row
        return channel


def run_doctor(settings: Settings, ledger: Ledger | None = None, only: set[str] | None = None) -> list[dict]:
    """One row per check of every configured outlet (``only``: of these channels' outlets):
    渠道 / 检查 / 结果 / 说明. Publishes nothing."""
    ledger = ledger or Ledger(settings.ledger_url)
    by_outlet: dict[str, list[str]] = {}
    for ch in channels.configured(settings):
        if only is not None and ch not in only:
            continue
        by_outlet.setdefault(settings.transports.get(ch, "outbox"), []).append(ch)
    rows = []
    for outlet, chans in by_outlet.items():
        label = "、".join(_label(c) for c in chans)
        try:
            cls = transport_class(outlet)
        except PermanentError as e:
            rows.append({"渠道": label, "检查": f"发送方式“{outlet}”", "结果": FAIL, "说明": str(e)})
            continue
        if not issubclass(cls, HealthChecked):
            rows.append({"渠道": label, "检查": f"发送方式“{outlet}”", "结果": SKIP, "说明": "无法检查此发送方式"})
            continue
        results = _checked(cls.doctor, settings)
        rows += _rows(label, results)
        # The breaker re-opens only when every check of the outlet was a positive confirmation.
        if results and all(ok is True for _, ok, _ in results):
            if reset(ledger, outlet):
                rows.append({"渠道": label, "检查": "熔断", "结果": PASS, "说明": "此前因凭据被拒停用，现已恢复启用"})
        elif (reason := disabled_reason(ledger, outlet)) is not None:
            rows.append({"渠道": label, "检查": "熔断", "结果": FAIL, "说明": f"仍停用：{reason}"})
    # What a channel needs besides its transport (the micro-video's encoder): its module's own check. It
    # says nothing about the outlet's credentials, so it neither trips nor resets the breaker.
    for ch in (c for chans in by_outlet.values() for c in chans):
        rows += _rows(_label(ch), _checked(partial(channels.doctor, ch), settings))
    return rows


def _checked(check, settings: Settings) -> list[tuple[str, bool, str]]:
    """The rows of one check; a missing credential or an exception is a failure, never a pass."""
    try:
        return check(settings)
    except MissingCredential as e:
        return [("凭据", False, str(e))]
    except Exception as e:  # a check must not stop the others, and an error is never a pass
        return [("检查", False, f"检查时出现意外错误（{type(e).__name__}），未能确认该渠道可用，请联系技术人员")]


def _rows(label: str, results) -> list[dict]:
    return [{"渠道": label, "检查": check, "结果": PASS if ok else FAIL, "说明": redact(detail)}
            for check, ok, detail in results]
