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
