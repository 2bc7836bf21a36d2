"""The ``pressroom`` command (console script ``pressroom.cli:app``).

``base`` holds the Typer ``app``, the consoles and the shared helpers; each command module registers its
commands on that ``app`` when imported and imports nothing else from this package. Commands are listed
by ``pressroom --help`` in the order they are registered, so the imports below are in that order."""

from __future__ import annotations

from pressroom.cli.base import app
from pressroom.cli import releases, publishing, serve, sites, outlets, corrections, db, reviewers  # noqa: F401

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    app()
