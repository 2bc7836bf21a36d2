"""Transports that behave like an outlet for the flow tests: each delivery creates a new item on a
"platform" folder (so a duplicate would show as two items), and can fail in the ways outlets fail.
Registered under names the tests put in ``[transports]``. State lives in files, so it survives the
process being killed."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from pressroom import transports
from pressroom.transports import Attempt, Found, NotFound, PermanentError, Receipt, TransientError, Transport, UnknownOutcome


def platform_dir() -> Path:
    return Path(os.environ["PRESSROOM_TEST_PLATFORM"])


def items(channel: str | None = None) -> list[dict]:
    """What the platform holds: one dict per delivered item."""
    root = platform_dir()
    found = [json.loads(p.read_text()) for p in sorted(root.glob("item-*.json"))] if root.exists() else []
    return [i for i in found if channel is None or i["channel"] == channel]


def _count(name: str) -> int:
    """A per-name counter in a file: how many times this has been called so far."""
    p = platform_dir() / f"count-{name}"
    n = int(p.read_text()) if p.exists() else 0
    p.write_text(str(n + 1))
    return n


class PlatformTransport(Transport):
    name = "platform"
    fail_times = 0  # transient failures before success
    mode = ""  # "", "permanent", "crash-after-send", "lost-reply"

    def __init__(self, settings, channel):
        super().__init__(settings, channel)
        platform_dir().mkdir(parents=True, exist_ok=True)

    def deliver(self, rendition, attempt: Attempt) -> Receipt:
        key = f"{rendition.release_id}-{self.channel}"
        if self.mode == "permanent":
            raise PermanentError("platform refused: 45003 title too long")
        if _count(key) < self.fail_times:
            raise TransientError("platform busy: -1")
        n = len(list(platform_dir().glob("item-*.json")))
        item = {"channel": self.channel, "release_id": rendition.release_id, "hash": rendition.content_hash}
        path = platform_dir() / f"item-{n:04d}-{key}.json"
        path.write_text(json.dumps(item))
        if self.mode == "crash-after-send":
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies between deliver and record
        if self.mode == "lost-reply":
            raise UnknownOutcome("connection dropped after the request was sent")
        return Receipt(external_id=path.name, url=f"https://platform.example/{path.name}")

    def lookup(self, rendition, attempt: Attempt) -> Found | NotFound:
        for p in sorted(platform_dir().glob("item-*.json")):
            item = json.loads(p.read_text())
            if item["release_id"] == rendition.release_id and item["channel"] == self.channel \
                    and item["hash"] == rendition.content_hash:
                return Found(Receipt(external_id=p.name, url=f"https://platform.example/{p.name}"))
        return NotFound()


def _variant(name: str, **attrs):
    cls = type(f"{name.title()}Transport", (PlatformTransport,), {"name": name, **attrs})
    transports.register(name, cls)
    return cls


_variant("platform")
_variant("flaky", fail_times=2)
_variant("down", fail_times=10**6)
_variant("refusing", mode="permanent")
_variant("crashing", mode="crash-after-send")
_variant("lossy", mode="lost-reply")
