"""The ledger's schema under Alembic migrations (``pressroom db upgrade`` / ``pressroom db current``).

The embedded default stays zero-setup: ``Ledger()`` still creates its tables on an empty database. Such a
ledger (or any made before migrations existed) is *adopted* by ``upgrade``: its tables are there but Alembic
never ran, so the revision its schema matches is stamped first (the newest if it matches the code's tables
exactly, else the first), then the remaining revisions are applied. A ledger older than the code — stamped
with an earlier revision, or made by ``Ledger()`` of an earlier version — is never changed by ``Ledger()``:
it refuses it (``LedgerOutdated``, a Chinese message naming this command) until ``pressroom db upgrade``
has migrated it, every row kept. A shared PostgreSQL ledger is created and changed by ``pressroom db
upgrade`` only — run it before starting workers.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from pressroom.delivery.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported by the functions that migrate or compare: opening a ledger that is up to date (the
# approval page, ``pressroom preview``) reads the revisions from the scripts' own lines (``_chain``).

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
BASELINE = "0001"  # the tables as they were before migrations
LEDGER_TABLES = set(metadata.tables)  # deliveries, events, approvals, outlet_state, code_uses, reviewer_locks, audit_waivers
VERSION_TABLE = "alembic_version"
# What a ledger made by ``Ledger()`` of an earlier version lacks, by the revision it was at: such a ledger is
# adopted at that revision (the later ones then add exactly these).
LACKS = {"0002": frozenset({"code_uses", "reviewer_locks", "audit_waivers"}), "0003": frozenset({"audit_waivers"})}


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url  # not via set_main_option: ConfigParser would choke on a "%" in a password
    return cfg


@lru_cache(maxsize=1)
def head() -> str:
    chain = _chain()
    if chain is not None:
        return chain[0]
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


@lru_cache(maxsize=1)
def revisions() -> frozenset[str]:
    """Every revision this code knows."""
    chain = _chain()
    if chain is not None:
        return chain[1]
    from alembic.script import ScriptDirectory

    return frozenset(r.revision for r in ScriptDirectory.from_config(alembic_config("")).walk_revisions())


def _chain() -> tuple[str, frozenset[str]] | None:
    """(head, every revision) from the ``revision = "…"`` and ``down_revision = …`` lines of the scripts,
    when they form one unbranched line from a single base; None otherwise (Alembic answers then)."""
    down: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        values = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and node.targets[0].id in ("revision", "down_revision", "branch_labels", "depends_on"):
                try:
                    values[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    return None
        rev, parent = values.get("revision"), values.get("down_revision")
        if not isinstance(rev, str) or not (parent is None or isinstance(parent, str)) or rev in down \
                or values.get("depends_on") or values.get("branch_labels"):
            return None
        down[rev] = parent
    parents = [p for p in down.values() if p is not None]
    heads = set(down) - set(parents)
    if len(heads) != 1 or len(set(parents)) != len(parents) or any(p not in down for p in parents) \
            or list(down.values()).count(None) != 1:
        return None
    return heads.pop(), frozenset(down)


def display_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _engine(url: str) -> sa.Engine:
    if url.startswith("sqlite:///"):
        path = url.split("///", 1)[1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return sa.create_engine(url, poolclass=NullPool)


@dataclass
class Status:
    url: str
    current: str | None  # the stamped revision; None: Alembic never ran here
    head: str
    tables: set[str] = field(default_factory=set)
    drift: list = field(default_factory=list)  # differences between the live tables and the code's

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head and not self.drift


def _inspect(conn: sa.Connection) -> tuple[str | None, set[str], list]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    tables = set(sa.inspect(conn).get_table_names()) & LEDGER_TABLES
    drift = compare_metadata(ctx, metadata) if tables else []
    return ctx.get_current_revision(), tables, drift


def status(url: str) -> Status:
    eng = _engine(url)
    try:
        with eng.connect() as conn:
            current, tables, drift = _inspect(conn)
    finally:
        eng.dispose()
    return Status(url, current, head(), tables, drift)


def _adopted(before: Status) -> str:
    """The revision an unstamped ledger's tables are at: the code's, one that lacks only later tables, or
    the baseline."""
    if not before.drift:
        return before.head
    missing = {d[1].name for d in before.drift if isinstance(d, tuple) and d[0] == "add_table"}
    if len(missing) == len(before.drift):
        for revision, lacks in LACKS.items():
            if missing == lacks:
                return revision
    return BASELINE


def upgrade(url: str, revision: str = "head") -> tuple[Status, Status]:
    """Bring the ledger at ``url`` to ``revision``; returns the status before and after."""
    from alembic import command

    before = status(url)
    cfg = alembic_config(url)
    if before.current is None and before.tables:
        # Made by Ledger() before migrations: adopt it instead of failing on "table already exists".
        command.stamp(cfg, _adopted(before))
    command.upgrade(cfg, revision)
    return before, status(url)
