"""What pressroom publishes can be served by a web server running as another user, whatever the umask of
the publishing process: files 0644, folders 0755."""

from __future__ import annotations

import dataclasses
import http.server
import os
import socket
import stat
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import channels
from pressroom.delivery import engine
from pressroom.delivery.ledger import worker_token

NOBODY = 65534


def _publish_with_umask(settings, samples, out: Path, umask: int) -> None:
    s = dataclasses.replace(settings, outbox_dir=out, ledger_url=f"sqlite:///{out.parent / 'ledger.db'}")
    old = os.umask(umask)
    try:
        r = samples["work-report-2026-q3"]
        ctx = channels.context_for(r, samples, s)
        for ch in ("portal", "infographic", "newspaper"):
            o = engine.deliver(engine.Job(r.id, ch, r.version), channels.render(ch, r, ctx), s, worker_token())
            assert o.state == "published", o
    finally:
        os.umask(old)


@pytest.fixture
def public_root():
    """A folder every user can reach (pytest's own tmp folders are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="pressroom-servable-", dir="/tmp"))
    os.chmod(root, 0o755)
    yield root
    import shutil

    shutil.rmtree(root, ignore_errors=True)


def test_published_files_and_folders_are_world_readable_under_a_strict_umask(settings, samples, public_root):
    out = public_root / "outbox"
    _publish_with_umask(settings, samples, out, 0o077)
    paths = [p for p in out.rglob("*")]
    assert paths
    wrong = [(str(p.relative_to(out)), oct(stat.S_IMODE(p.stat().st_mode))) for p in paths
             if stat.S_IMODE(p.stat().st_mode) != (0o755 if p.is_dir() else 0o644)]
    assert not wrong, wrong
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def _serve_as_nobody(root: Path) -> tuple[int, int]:
    """Fork a static file server that drops to user nobody; returns (pid, port)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, then serve
        try:
            os.close(ready_r)
            import encodings.idna  # noqa: F401  (the interpreter's own files stay unreadable to nobody)
            import mimetypes

            mimetypes.init()
            handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))  # noqa: E731
            server = http.server.HTTPServer(("127.0.0.1", port), handler)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)  # from here on every file is read as nobody
            os.write(ready_w, b"1")
            server.serve_forever()
        except BaseException as e:  # noqa: BLE001 — say why on the pipe, never return into pytest
            os.write(ready_w, f"!{type(e).__name__}: {e}".encode())
        finally:
            os._exit(0)
    os.close(ready_w)
    said = os.read(ready_r, 200)
    os.close(ready_r)
    assert said == b"1", f"the server as nobody did not start: {said!r}"
    return pid, port


@pytest.mark.skipif(os.geteuid() != 0, reason="serving as another user needs root to drop to nobody")
def test_a_web_server_running_as_nobody_serves_every_page(settings, samples, public_root):
    out = public_root / "outbox"
    _publish_with_umask(settings, samples, out, 0o077)
    pid, port = _serve_as_nobody(out)
    try:
        r = samples["work-report-2026-q3"]
        for path in (f"portal/{r.id}.html", f"assets/{r.id}/infographic.png", f"newspaper/{r.id}/{r.id}.txt"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=5) as resp:
                assert resp.status == 200, path
                assert resp.read(), path
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


@pytest.mark.skipif(os.geteuid() != 0, reason="serving as another user needs root to drop to nobody")
def test_the_check_itself_sees_an_unreadable_file(public_root):
    """The server above really is another user: a 0600 file is refused."""
    (public_root / "secret.html").write_text("x")
    os.chmod(public_root / "secret.html", 0o600)
    pid, port = _serve_as_nobody(public_root)
    try:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/secret.html", timeout=5)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
