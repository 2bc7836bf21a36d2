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


def start_ephemeral_server():
    """Without a Prefect server (PREFECT_API_URL unset), start the temporary one Prefect would start at the
    first flow call now, in the background: its process starts on the other core while the caller validates.
    Returns the wait for it, to call before the first Prefect call (Prefect takes a server that is still
    starting for a running one). A server that fails to start here is started, and its failure reported,
    by Prefect itself at that call. A process that ends without calling the wait (a release refused) starts
    no server, or stops the one being started: none outlives it."""
    import atexit
    import threading

    if os.environ.get("PREFECT_API_URL"):
        return lambda: None
    lock, state = threading.Lock(), {"exiting": False, "server": None}

    def start() -> None:
        try:
            from prefect.settings import PREFECT_API_URL

            if PREFECT_API_URL.value():  # a profile's server
                return
            from prefect.server.api.server import SubprocessASGIServer

            with lock:
                if state["exiting"]:
                    return
                state["server"] = SubprocessASGIServer()
            state["server"].start()
        except Exception:  # noqa: BLE001 - Prefect tries again at its first call, and says what fails
            pass

    thread = threading.Thread(target=start, name="prefect-server-start", daemon=True)

    def at_exit() -> None:
        with lock:
            state["exiting"] = True
            server = state["server"]
        if server is not None:
            thread.join()
            server.stop()  # Prefect registers its own stop only once the server answers: maybe too late

    atexit.register(at_exit)
    thread.start()
    return thread.join
