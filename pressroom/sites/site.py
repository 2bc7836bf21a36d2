"""The portal column as a whole (index page and feeds), rebuilt in the outbox after a page is published.
The press-hall site (``pressroom.sites.presshall``) is rebuilt alongside."""

from __future__ import annotations

from pressroom.sites import presshall
from pressroom.releases.catalog import Catalog
from pressroom.delivery.ledger import Ledger
from pressroom.settings import Settings
from pressroom.files import locked, write_atomic
from pressroom.transports import transport_name


def refresh_portal_column(settings: Settings, catalog: Catalog, ledger: Ledger) -> list[str]:
    """Write index.html, feed.xml and atom.xml listing every release published on the portal."""
    from channels import portal
    from channels.base import RenderContext

    from pressroom.delivery.corrections import column_notices

    if transport_name(settings, "portal") != "outbox":
        # The column lives in the CMS; the press-hall site is still built here from the ledger.
        presshall.refresh(settings, catalog, ledger)
        return []
    root = settings.outbox_dir / "portal"
    with locked(root / ".lock"):
        rows = ledger.rows()
        # The time each page shows (its 发布时间 slot was filled with it on delivery): the same in the list
        # and the feeds.
        times = presshall.published_times(rows, "portal")
        releases = [catalog.releases[i] for i in times if i in catalog.releases]
        # Corrected releases keep their entry (same GUID, 更正说明 on top); withdrawn ones get a notice.
        notices = column_notices(rows, RenderContext(settings))
        files = {"index.html": portal.index_page(releases, settings, times),
                 **portal.feeds(releases, settings, notices, times)}
        changed = [name for name, data in sorted(files.items()) if write_atomic(root / name, data)]
        presshall.refresh(settings, catalog, ledger)  # 淮南新闻发布厅 → outbox/portal/presshall/ (+ link check)
        return changed
