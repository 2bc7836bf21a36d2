"""What validation made, kept between commands: an editor who fixes one release and validates again waits
for that release alone, and ``pressroom publish`` delivers the renditions ``pressroom validate`` made.

Each checked release leaves two files in the cache folder (``[paths] cache``, by default ``var/cache``; "off"
keeps nothing): its verdict (problems and warnings, small) and what was made for it (every channel's
rendition and the fidelity audit, read only when asked for). Both are filed under one key, the SHA-256 of
everything the verdict and the renditions are made from:

* the release as loaded (every field, and the hash of its release.md and every picture), its render context
  (the releases it links to, the settings), the registries, the settings and the 错敏 patterns;
* the code (``code_version``): every source file of ``pressroom`` and ``channels`` and of any outlet module
  registered from elsewhere, every file of every template folder, the CJK fonts (path, size, times, inode),
  the installed distributions (name and version: Pillow and the libraries it bundles, python-docx, Jinja …)
  and the Python version.

Anything changed is another key, so an old entry is never read again: a stale rendition would be published.
What depends on the clock (an event time still ahead) or on the ledger (waived findings) is not stored but
worked out again on every run. A file that cannot be read, or holds another key, is a miss. An entry made
while the code changed under the running command is not stored. Files are written atomically (0644); the
newest ``KEEP`` entries of each release folder are kept. The folder is the service's own, like the ledger:
whoever can write to it can change what is published."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import sys
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pressroom.errors import Problem
from pressroom.files import write_atomic
from pressroom.model import Release
from pressroom.settings import PROJECT_ROOT, Settings

FORMAT = 2  # of the stored values: a change here is a new key for every entry
KEEP = 3  # entries per release folder: an editor going back to the previous wording is still a hit
CODE_PACKAGES = ("pressroom", "channels")


# -- the key ------------------------------------------------------------------------------------------

_versions: dict[tuple, str] = {}  # what the code's files looked like (stat) -> their digest


def _code_files() -> list[Path]:
    """Every file whose change could change a verdict or a rendition (the fonts aside)."""
    import channels
    from channels import base

    files = [p for pkg in CODE_PACKAGES for p in sorted((PROJECT_ROOT / pkg).rglob("*.py"))]
    for module in channels.OUTLETS:  # an installation's own outlet, registered from outside channels/
        spec = importlib.util.find_spec(module)
        origin = Path(spec.origin) if spec and spec.origin else None
        if origin and not any(origin.is_relative_to(PROJECT_ROOT / pkg) for pkg in CODE_PACKAGES):
            files.append(origin)
    for folder in base.TEMPLATE_DIRS:
        files += sorted(p for p in Path(folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return files


def _fonts() -> list[tuple]:
    from pressroom.text.linebreak import FONT_FILES

    out = []
    for path in sorted({str(p) for p in FONT_FILES.values()}):
        try:
            st = os.stat(path)
            out.append((os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
        except OSError:
            out.append((path, None))
    return out


def _distributions() -> list[str]:
    """Name-version of every installed distribution (their metadata folders), and the Python running."""
    names = [sys.version, sys.platform]
    for entry in sys.path:
        try:
            names += sorted(n for n in os.listdir(entry or ".") if n.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
    return names


def code_version() -> str:
    """The digest of the code, templates, fonts and libraries as they are on disk now. The files are read
    again only when one of them changed (size, times or inode)."""
    files = _code_files()
    stats = []
    for p in files:
        try:
            st = p.stat()
            stats.append((str(p), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
        except OSError:
            stats.append((str(p), None))
    seen = (FORMAT, tuple(stats), tuple(_fonts()), tuple(_distributions()))
    if seen not in _versions:
        h = hashlib.sha256(repr(seen[2:]).encode())
        for p in files:
            h.update(str(p.relative_to(PROJECT_ROOT) if p.is_relative_to(PROJECT_ROOT) else p).encode() + b"\0")
            try:
                h.update(hashlib.sha256(p.read_bytes()).digest())
            except OSError:
                h.update(b"-")
        _versions.clear()
        _versions[seen] = h.hexdigest()
    return _versions[seen]


def release_key(version: str, release: Release, ctx: Any, registry: Any, settings: Settings,
                patterns: bytes, draft: bool) -> str:
    """The key of one release's verdict: ``version`` (``code_version``) and everything it is made from."""
    h = hashlib.sha256()
    for part in (str(FORMAT), version, repr(settings), repr(registry), repr(release), repr(ctx), repr(draft)):
        h.update(hashlib.sha256(part.encode()).digest())
    h.update(hashlib.sha256(patterns).digest())
    return h.hexdigest()


# -- what is stored -----------------------------------------------------------------------------------

@dataclass
class Verdict:
    """What validation found in one release, without what depends on the clock or the ledger."""

    blocking: list[Problem]  # the copy gate's
    warnings: list[str]  # the copy gate's, the markup's, the press conference's
    rendered: bool = False  # the channels were rendered (and audited): the fields below are filled
    failed: bool = False  # a draft that could not be rendered at all: the fields below add nothing
    problems: list[Problem] = field(default_factory=list)  # limits of the outlets
    findings: list[tuple[str, Problem]] = field(default_factory=list)  # the audit's, by finding id
    more: list[str] = field(default_factory=list)  # the channels', the audit's and the lead's warnings
    channels: tuple[str, ...] = ()  # those with a rendition (a channel over a limit has none)
    # What the approval page lists of the release's own text: "copy" (the copy gate's warnings), "markup"
    # (HTML that is dropped) and, once rendered, "lead" (a dateline typed into the lead).
    shown: dict[str, list[str]] = field(default_factory=dict)


def _folder(settings: Settings) -> Path | None:
    return settings.cache_dir / "validation" if settings.cache_dir else None


def _tag(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:12]


def _read(path: Path, key: str) -> Any:
    try:
        with open(path, "rb") as f:
            stored = pickle.load(f)  # noqa: S301 - the service's own folder (see the module's note)
    except Exception:  # noqa: BLE001 - missing, half-copied, from another version: a miss
        return None
    if not isinstance(stored, tuple) or len(stored) != 3 or stored[:2] != (FORMAT, key):
        return None
    return stored[2]


def verdict(settings: Settings, folder: str, key: str) -> Verdict | None:
    where = _folder(settings)
    found = _read(where / f"{_tag(folder)}-{key}.verdict", key) if where else None
    return found if isinstance(found, Verdict) else None


def made(settings: Settings, folder: str, key: str) -> dict | None:
    """{"renditions": {channel: Rendition}, "audit": Audit} stored with the verdict, or None."""
    where = _folder(settings)
    found = _read(where / f"{_tag(folder)}-{key}.made", key) if where else None
    return found if isinstance(found, dict) else None


def views(settings: Settings, folder: str, key: str) -> dict:
    """The approval page's views of the release's renditions kept under ``key`` ({channel: View}), or {}."""
    where = _folder(settings)
    found = _read(where / f"{_tag(folder)}-{key}.views", key) if where else None
    return found if isinstance(found, dict) else {}


def store_views(settings: Settings, folder: str, key: str, version: str, made: dict) -> None:
    """Keep the views made for the approval page (``views``), beside the verdict made with code ``version``."""
    where = _folder(settings)
    if where is None or code_version() != version or not (where / f"{_tag(folder)}-{key}.verdict").exists():
        return
    try:
        write_atomic(where / f"{_tag(folder)}-{key}.views", pickle.dumps((FORMAT, key, made), pickle.HIGHEST_PROTOCOL),
                     durable=False)
    except OSError:
        return


def store(settings: Settings, folder: str, key: str, version: str, found: Verdict, things: dict | None) -> None:
    """Keep a verdict (and what was made, when given) under ``key``, made with code ``version``; nothing is
    kept when the code changed meanwhile, or when the folder cannot be written (the next run renders)."""
    where = _folder(settings)
    if where is None or code_version() != version:
        return
    tag = _tag(folder)
    try:
        if things is not None:  # first: a verdict is never there without its renditions
            write_atomic(where / f"{tag}-{key}.made", pickle.dumps((FORMAT, key, things), pickle.HIGHEST_PROTOCOL),
                         durable=False)
        write_atomic(where / f"{tag}-{key}.verdict", pickle.dumps((FORMAT, key, found), pickle.HIGHEST_PROTOCOL),
                     durable=False)
        _prune(where, tag)
    except OSError:
        return


def _prune(where: Path, tag: str) -> None:
    def age(p: Path) -> int:
        try:
            return p.stat().st_mtime_ns
        except OSError:
            return 0

    old = sorted(where.glob(f"{tag}-*.verdict"), key=age, reverse=True)[KEEP:]
    for p in old:
        for gone in (p, p.with_suffix(".made"), p.with_suffix(".views")):
            gone.unlink(missing_ok=True)


def configured(settings: Settings) -> tuple[str, ...]:
    """``channels.configured(settings)``, kept under the code's version so that loading releases imports no
    channel module (and none of Pillow, python-docx, Jinja they import)."""
    import channels

    found = _registry(settings)
    return found[0] if found else channels.configured(settings)


def declared(settings: Settings) -> dict:
    """Every channel's declaration (``channels.get``), by name, kept as ``configured`` is."""
    import channels

    found = _registry(settings)
    return found[1] if found else {c.name: c for c in channels.declared()}


def _registry(settings: Settings) -> tuple[tuple[str, ...], dict] | None:
    import channels

    where = _folder(settings)
    if where is None:
        return None
    version = code_version()
    key = hashlib.sha256(f"{FORMAT}\0{version}\0{settings!r}".encode()).hexdigest()
    path = where / f"channels-{key}.names"
    found = _read(path, key)
    if isinstance(found, tuple):
        return found
    found = (channels.configured(settings), {c.name: c for c in channels.declared()})
    if code_version() == version:
        try:
            write_atomic(path, pickle.dumps((FORMAT, key, found)), durable=False)
        except OSError:
            pass
    return found


# -- values read when first asked for ----------------------------------------------------------------------

class Deferred(MutableMapping):
    """A dict whose values may be given as functions, called on first read (what a verdict from the cache
    made, read from its file only when the publish flow, the preview or the audit table asks for it)."""

    def __init__(self) -> None:
        self._values: dict = {}
        self._later: dict[Any, Callable[[], Any]] = {}

    def defer(self, key, make: Callable[[], Any]) -> None:
        self._values.pop(key, None)
        self._later[key] = make

    def __getitem__(self, key):
        if key not in self._values and key in self._later:
            self._values[key] = self._later.pop(key)()
        return self._values[key]

    def __setitem__(self, key, value) -> None:
        self._later.pop(key, None)
        self._values[key] = value

    def __delitem__(self, key) -> None:
        if key in self._later:
            del self._later[key]
        else:
            del self._values[key]

    def __contains__(self, key) -> bool:
        return key in self._values or key in self._later

    def __iter__(self) -> Iterator:
        yield from list(self._values)
        yield from [k for k in list(self._later) if k not in self._values]

    def __len__(self) -> int:
        return len(self._values) + len(self._later)

    def __repr__(self) -> str:
        return f"Deferred({len(self._values)} read, {len(self._later)} stored)"


class Made:
    """The stored renditions and audit of one release, read once when first needed; ``remake`` makes them
    again if the file is gone (cleared meanwhile) — the same bytes, as rendering is deterministic."""

    def __init__(self, settings: Settings, folder: str, key: str, remake: Callable[[], dict]):
        self.settings, self.folder, self.key, self.remake = settings, folder, key, remake
        self._things: dict | None = None

    def get(self) -> dict:
        if self._things is None:
            self._things = made(self.settings, self.folder, self.key) or self.remake()
        return self._things
