"""Writing published files: atomically (temp file + rename), so a crash never leaves half a file, and one
writer at a time where two processes may rebuild the same shared file."""

from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence


# Published files must be servable by a web server running as another user, whatever the umask of the
# process that wrote them (docs/outlets.md#government-websites: an unreadable column is a blank column).
FILE_MODE, DIR_MODE = 0o644, 0o755


def make_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each readable and listable by everyone."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:  # another process made it first
            continue
        os.chmod(d, DIR_MODE)


def write_atomic(path: Path, data: bytes | Sequence[bytes], durable: bool = True) -> bool:
    """Write ``data`` to ``path`` via a temp file and rename, mode 0644. Returns False when the file already
    holds exactly these bytes (nothing written: a re-delivery leaves one copy). ``data`` may be a sequence of
    byte strings, the file being their concatenation (a large file is never joined in memory).
    ``durable=False`` skips the fsync, for large builds that sync once at the end."""
    parts = (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data
    make_dirs(path.parent)
    try:
        if path.stat().st_size == sum(len(p) for p in parts) and _holds(path, parts):
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as f:
            f.writelines(parts)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _holds(path: Path, parts: Sequence[bytes]) -> bool:
    with open(path, "rb") as f:
        return all(f.read(len(p)) == p for p in parts)


@contextmanager
def locked(path: Path):
    """Hold an exclusive lock on the file ``path`` (created if missing) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
