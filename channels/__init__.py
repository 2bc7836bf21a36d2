"""Channel adapters: one small module per outlet, all following ``channels.base``."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Mapping

from pressroom.model import Release
from pressroom.settings import ALL_CHANNELS, Settings

from channels.base import ReleaseRef, RenderContext, Rendition


def adapter(channel: str) -> ModuleType:
    if channel not in ALL_CHANNELS:
        raise KeyError(f"unknown channel {channel!r}")
    return importlib.import_module(f"channels.{channel}")


def render(channel: str, release: Release, ctx: RenderContext) -> Rendition:
    return adapter(channel).render(release, ctx)


def ref(release: Release, ctx_or_settings: RenderContext | Settings) -> ReleaseRef:
    ctx = ctx_or_settings if isinstance(ctx_or_settings, RenderContext) else RenderContext(ctx_or_settings)
    return ReleaseRef(release.id, release.title, release.kind, ctx.url_for(release.id), release.publish_at.isoformat())


def context_for(release: Release, releases: Mapping[str, Release], settings: Settings) -> RenderContext:
    """The render context of one release: which others it links to (document <-> interpretation,
    event <-> follow-ups). Built from loaded values, so rendering stays pure."""
    base = RenderContext(settings)
    linked: dict[str, ReleaseRef] = {}
    for other in releases.values():
        if other.id == release.id:
            continue
        if (other.id == release.interprets or other.interprets == release.id
                or other.id == release.follow_up_of or other.follow_up_of == release.id
                or (release.follow_up_of and other.follow_up_of == release.follow_up_of)):
            linked[other.id] = ref(other, base)
    return RenderContext(settings, dict(sorted(linked.items())))
