"""Prefect settings pressroom needs, set in one place before Prefect is imported.

Ephemeral mode (no PREFECT_API_URL) starts a temporary local server; without these its telemetry heartbeat
and shutdown logs spill tracebacks into an editor's terminal (docs/outlets.md#prefect). The console
handler is quiet for the CLI (which draws its own progress); the UI still receives every log line.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_INTERNAL_LOGGING_LEVEL": "CRITICAL",  # shutdown noise of the temporary server
    "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "false"),  # the temporary server needs no UI
    # The temporary server gets 20 s to start by default; a busy 2-core machine can need more, and an
    # editor's publish must not fail for it.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def configure(quiet_console: bool = False) -> None:
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    if quiet_console:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")


# How Prefect 3.9 launches its temporary server (``SubprocessASGIServer._run_uvicorn_command``): the same
# process, started before Prefect is imported. Prefect's own way first imports the server's whole API (FastAPI
# routes, ORM models: ~4 CPU-s) in the publishing process just to reach that launcher.
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


def _launch_server(port: int):
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    app_dir = Path(importlib.util.find_spec("prefect").origin).parent.parent  # finding it imports nothing
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), "--factory", "prefect.server.api.server:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"],
        env={**os.environ, **SERVER_ENV})


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_named() -> bool:
    """Whether a Prefect server is named: in the environment, in Prefect's settings when Prefect is already
    loaded (a test harness), or in the active profile of Prefect's profiles file (read without Prefect)."""
    import sys

    if os.environ.get("PREFECT_API_URL"):
        return True
    if "prefect.settings" in sys.modules:
        return bool(sys.modules["prefect.settings"].PREFECT_API_URL.value())
    import tomllib
    from pathlib import Path

    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    return bool(profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL"))


def start_ephemeral_server():
    """Without a Prefect server (PREFECT_API_URL unset), start the temporary one Prefect would start at the
    first flow call now: it starts on the other core while the caller validates and imports Prefect.
    Returns ``ready()``, to call before the first Prefect call: it hands the server to Prefect (as the
    temporary server Prefect itself started, stopped at exit) once it answers. A server that fails to
    start here is started, and its failure reported, by Prefect itself at that call; with a server in the
    Prefect profile this one is stopped unused. A process that ends without calling ``ready`` (a release
    refused) stops it: none outlives the command."""
    import atexit

    if _server_named():
        return lambda: None
    try:
        port = _free_port()
        proc = _launch_server(port)
    except OSError:
        return lambda: None
    handed = {"done": False}

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - still there: kill it
                proc.kill()
                proc.wait()

    atexit.register(lambda: handed["done"] or stop())

    def ready() -> None:
        handed["done"] = True
        if not _adopted(proc, port):
            stop()

    return ready


def _adopted(proc, port: int) -> bool:
    """Wait for the server to answer and make it Prefect's temporary server; False when it is not needed
    (a profile names a server; Prefect already has one) or did not come up (Prefect then starts its own)."""
    import atexit
    import time

    import httpx
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    if PREFECT_API_URL.value():
        return False
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    if server.running:
        return False
    deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    with httpx.Client() as client:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    server.port, server.server_process, server.running = port, proc, True
                    atexit.register(server.stop)
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    return False
