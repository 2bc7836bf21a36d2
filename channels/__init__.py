"""Channel adapters: one small module per outlet, all following ``channels.base``.

``OUTLETS`` is the one list of outlets, in the order editors see them; everything else about a channel
(its labels, whether an emergency reaches it first, its outbox folder, how it shows a correction) is
declared by its module. Adding an outlet: one module here, one template folder, one entry below.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Mapping

from pressroom.model import Release
from pressroom.settings import Settings

from channels.base import Channel, EncodeError, ReleaseRef, RenderContext, Rendition, View

if TYPE_CHECKING:
    from channels.corrections import Correction, Withdrawal

# The registry: module paths of every outlet pressroom can publish to.
OUTLETS = [
    "channels.portal", "channels.wechat", "channels.weibo", "channels.newspaper", "channels.tv",
    "channels.infographic", "channels.h5", "channels.video",
]
CONTRACT = ("CHANNEL", "render", "correct", "withdraw")


def __getattr__(name: str):
    """``channels.Correction`` and ``channels.Withdrawal``, imported when first asked for: loading releases
    and validating from the cache use this package without the corrections' Markdown and diff machinery."""
    if name in ("Correction", "Withdrawal"):
        from channels import corrections

        return getattr(corrections, name)
    raise AttributeError(f"module 'channels' has no attribute {name!r}")


class UnknownChannel(KeyError):
    """A channel name that no registered outlet declares."""

    def __init__(self, name: str, where: str = ""):
        super().__init__(name)
        self.name, self.where = name, where

    def __str__(self) -> str:
        return f"{self.where}“{self.name}”不是已知的发布渠道（可用：{'、'.join(names())}）"


@lru_cache(maxsize=1)
def _modules() -> dict[str, ModuleType]:
    out: dict[str, ModuleType] = {}
    for path in OUTLETS:
        mod = importlib.import_module(path)
        missing = [a for a in CONTRACT if not hasattr(mod, a)]
        if missing:
            raise TypeError(f"channel module {path} lacks {', '.join(missing)} (see channels/base.py)")
        if not isinstance(mod.CHANNEL, Channel):
            raise TypeError(f"{path}.CHANNEL is not a channels.base.Channel")
        if mod.CHANNEL.name in out:
            raise TypeError(f"two channel modules declare the name {mod.CHANNEL.name!r}")
        out[mod.CHANNEL.name] = mod
    for mod in out.values():
        unknown = [u for u in mod.CHANNEL.uses if u not in out]
        if unknown:
            raise TypeError(f"channel {mod.CHANNEL.name!r} uses unknown channels {unknown}")
    return out


def reload() -> None:
    """Forget the registry (after ``OUTLETS`` changed, as a test that adds an outlet does)."""
    _modules.cache_clear()


def names() -> tuple[str, ...]:
    return tuple(_modules())


def adapter(channel: str) -> ModuleType:
    try:
        return _modules()[channel]
    except KeyError:
        raise UnknownChannel(channel) from None


def get(channel: str) -> Channel:
    return adapter(channel).CHANNEL


def declared() -> tuple[Channel, ...]:
    return tuple(m.CHANNEL for m in _modules().values())


def configured(settings: Settings) -> tuple[str, ...]:
    """The channels this installation publishes to: those with a transport in ``[transports]`` (every
    outlet when the table is absent), in the registry's order. A name no outlet declares is an error.
    An outlet whose ``[outlets.<name>] enabled`` is false (the micro-video's switch) is left out."""
    unknown = [name for name in settings.transports if name not in _modules()]
    if unknown:
        raise UnknownChannel(unknown[0], where="pressroom.toml：[transports] 中的")
    return tuple(n for n in names() if (not settings.transports or n in settings.transports)
                 and settings.outlet(n).get("enabled", True))


def ordered(chans) -> list[str]:
    """Channel names in the registry's order."""
    order = {n: i for i, n in enumerate(names())}
    return sorted(chans, key=lambda c: order.get(c, len(order)))


def render(channel: str, release: Release, ctx: RenderContext) -> Rendition:
    return adapter(channel).render(release, ctx)


def correct(channel: str, release: Release, ctx: RenderContext, base: Rendition, c: Correction,
            earlier: list[Correction], old: str | None) -> Rendition:
    """The new version as the channel shows a correction: ``base`` is its ordinary rendition, ``earlier``
    the corrections made before this one, ``old`` the text the channel had (desks: their copy)."""
    return adapter(channel).correct(release, ctx, base, c, earlier, old)


def withdraw(channel: str, release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    return adapter(channel).withdraw(release_id, ctx, w)


def finish(channel: str, rendition: Rendition, settings: Settings) -> Rendition:
    """The rendition with the files its channel makes at delivery (``Rendition.derived``: the video's MP4),
    for a channel whose module has the optional ``finish``; others unchanged. Raises ``EncodeError``."""
    make = getattr(adapter(channel), "finish", None)  # optional part of the contract (see channels/base.py)
    return make(rendition, settings) if make else rendition


def doctor(channel: str, settings: Settings) -> list[tuple[str, bool, str]]:
    """The channel's own health check (its module's optional ``doctor``: what it needs besides its transport,
    such as the video's encoder), rows of (check, passed, detail); [] for a channel without one."""
    check = getattr(adapter(channel), "doctor", None)  # optional part of the contract (see channels/base.py)
    return check(settings) if check else []


def view(channel: str, rendition: Rendition, settings: Settings) -> View | None:
    """How approvers see the rendition, for a channel whose files are an API payload (its module's optional
    ``view``); None: its own files are what people see."""
    make = getattr(adapter(channel), "view", None)  # optional part of the contract (see channels/base.py)
    return make(rendition, settings) if make else None


def ref(release: Release, ctx_or_settings: RenderContext | Settings) -> ReleaseRef:
    ctx = ctx_or_settings if isinstance(ctx_or_settings, RenderContext) else RenderContext(ctx_or_settings)
    return ReleaseRef(release.id, release.title, release.kind, ctx.url_for(release.id), release.publish_at.isoformat())


def context_for(release: Release, releases: Mapping[str, Release], settings: Settings) -> RenderContext:
    """The render context of one release: which others it links to (document <-> interpretation,
    event <-> follow-ups, a document <-> the documents it supersedes). Built from loaded values, so rendering stays pure."""
    base = RenderContext(settings)
    linked: dict[str, ReleaseRef] = {}
    for other in releases.values():
        if other.id == release.id:
            continue
        if (other.id == release.interprets or other.interprets == release.id
                or other.id == release.follow_up_of or other.follow_up_of == release.id
                or (release.follow_up_of and other.follow_up_of == release.follow_up_of)
                or other.id in release.supersedes or release.id in other.supersedes):
            linked[other.id] = ref(other, base)
    return RenderContext(settings, dict(sorted(linked.items())))
