"""Alembic environment of the ledger. The URL comes from ``pressroom.delivery.db`` (``config.attributes["url"]``)
or, for the ``alembic`` command, from the settings (``PRESSROOM_LEDGER_URL`` overrides)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlalchemy.pool import NullPool

from pressroom.delivery.schema import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from pressroom.settings import load_settings

        url = load_settings().ledger_url
    return url


def _configure(**kw) -> None:
    url = _url()
    # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
    context.configure(target_metadata=metadata, render_as_batch=url.startswith("sqlite"), compare_type=True, **kw)


if context.is_offline_mode():
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = sa.create_engine(_url(), poolclass=NullPool)
        with engine.connect() as conn:
            _configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
        engine.dispose()
