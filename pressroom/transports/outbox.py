"""The embedded default transport: a local folder laid out per outlet.

Each channel declares its folder (``Channel.outbox``): ``outbox/portal/`` is a browsable static site (pages,
assets, index, feeds); ``newspaper/`` and ``tv/`` hold what the desks receive; ``wechat/`` and ``weibo/`` the
exact API payloads; ``assets/`` the infographic and H5.
Every file is written atomically (temp file + rename), so a crash never leaves half a file, and a receipt
written last records what was delivered, so a re-run can see it is already there.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import channels
from pressroom.crashpoints import crashpoint
from pressroom.files import write_atomic
from pressroom.settings import Settings

from pressroom.transports import (
    Attempt, CouldNotLook, Found, HealthChecked, LookupAnswer, NotFound, Receipt, Transport, delivered_files,
)

RECEIPT = ".receipt.json"


class OutboxTransport(Transport, HealthChecked):
    name = "outbox"

    @staticmethod
    def doctor(settings: Settings) -> list[tuple[str, bool, str]]:
        root = settings.outbox_dir
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=root, prefix=".doctor.")
            os.close(fd)
            os.unlink(tmp)
            return [("本地发件箱可写", True, str(root))]
        except OSError as e:
            return [("本地发件箱可写", False, f"{root}：{e.strerror or e}")]

    def __init__(self, settings: Settings, channel: str):
        super().__init__(settings, channel)
        self.root = settings.outbox_dir
        self.layout = channels.get(channel).outbox

    def folder(self, release_id: str) -> Path:
        """Where a release's files for this channel go: the folder its channel declares."""
        return self.root / self.layout.format(channel=self.channel, release=release_id)

    def _receipt_path(self, rendition) -> Path:
        if "{release}" not in self.layout:  # one folder for every release (the portal's pages)
            return self.folder(rendition.release_id) / "receipts" / f"{rendition.release_id}.json"
        shared = sum(c.outbox == self.layout for c in channels.declared()) > 1
        return self.folder(rendition.release_id) / (f".{self.channel}{RECEIPT}" if shared else RECEIPT)

    def deliver(self, rendition, attempt: Attempt) -> Receipt:
        folder = self.folder(rendition.release_id)
        # The approved files with their 发布时间 slot filled, and what is made only at delivery (the video's MP4).
        files = {**delivered_files(rendition, attempt, self.settings), **rendition.derived}
        for name, data in sorted(files.items()):
            write_atomic(folder / name, data)
        crashpoint("outbox.after_files")
        self._remove_stale(rendition, files)
        main = self._main_file(rendition)
        # content_hash is the approved rendition's; sha256 are of the files as written (slot filled).
        receipt = {"release_id": rendition.release_id, "channel": self.channel, "version": rendition.version,
                   "content_hash": rendition.content_hash, "files": sorted(files),
                   "shown_at": attempt.shown_at.isoformat() if attempt.shown_at else None,
                   "sha256": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())}}
        write_atomic(self._receipt_path(rendition), json.dumps(receipt, ensure_ascii=False, indent=2).encode())
        return Receipt(external_id=str(main.relative_to(self.root)), url=rendition.url or main.as_uri())

    def _remove_stale(self, rendition, files) -> None:
        """Files this channel delivered last time for the release that the new rendition no longer has
        (a withdrawn video's MP4): gone, so what is withdrawn is not left lying in the public folder. Only a
        release's own folder, only names from the channel's own receipt."""
        if "{release}" not in self.layout:
            return
        try:
            earlier = json.loads(self._receipt_path(rendition).read_text(encoding="utf-8")).get("files", [])
        except (OSError, ValueError, AttributeError):
            return
        folder = self.folder(rendition.release_id).resolve()
        for name in set(earlier) - set(files):
            path = (folder / name).resolve()
            if path.is_relative_to(folder) and path.is_file():
                path.unlink()

    def lookup(self, rendition, attempt: Attempt) -> LookupAnswer:
        """The receipt written last: there (this version), absent, or unreadable (files are rewritten
        atomically, so writing them again cannot make a second copy: ``resend_safe``)."""
        path = self._receipt_path(rendition)
        try:
            receipt = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return NotFound()
        except (OSError, ValueError) as e:
            return CouldNotLook(f"发件箱回执 {path} 无法读取（{type(e).__name__}）", resend_safe=True)
        if not isinstance(receipt, dict) or receipt.get("content_hash") != rendition.content_hash:
            return NotFound("发件箱中是另一版本")
        main = self._main_file(rendition)
        return Found(Receipt(external_id=str(main.relative_to(self.root)), url=rendition.url or main.as_uri()))

    def _main_file(self, rendition) -> Path:
        # The file a person opens first: a page, else the payload, else the copy, else the picture.
        top = [n for n in sorted(rendition.files) if "/" not in n] or sorted(rendition.files)
        rank = {".html": 0, ".json": 1, ".txt": 2, ".png": 3}
        best = min(top, key=lambda n: (rank.get(Path(n).suffix, 9), Path(n).stem != self.channel, n))
        return self.folder(rendition.release_id) / best

