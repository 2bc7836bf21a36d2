"""inspect_site: the inspection watchdog as a scheduled flow (daily, ``prefect.yaml``): the findings as a
table artifact, the report page in the outbox, and an alert to the press office when a one-strike item is
found or a column is about to go stale. Also ``pressroom inspect``."""

from __future__ import annotations

from datetime import datetime

from pressroom import runtime

runtime.configure()

from prefect import flow, get_run_logger  # noqa: E402
from prefect.artifacts import create_table_artifact  # noqa: E402

from pressroom.delivery.ledger import Ledger  # noqa: E402
from pressroom.delivery.notify import alert  # noqa: E402
from pressroom.releases.catalog import validate  # noqa: E402
from pressroom.settings import load_settings  # noqa: E402
from pressroom.sites import inspect as watchdog  # noqa: E402


@flow(name="inspect-site", log_prints=False)
def inspect_site(warn_days: int = 3) -> dict:
    """Check what is live against the inspection's machine-checkable items; alert before a deadline."""
    logger = get_run_logger()
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    now = datetime.now(settings.tz)
    result = watchdog.inspect_site(settings, validate(settings, render=False), ledger, now, warn_days)
    counts = {s: len(result.of(s)) for s in (watchdog.FAIL, watchdog.SOON, watchdog.DEDUCT)}
    create_table_artifact(key="site-inspection", table=result.rows() or [{"结论": "未发现问题"}],
                          description="；".join(f"{k} {v} 项" for k, v in counts.items()))
    page = watchdog.write_inspection(result, settings)
    lines = watchdog.alert_lines(result)
    if lines:
        alert(settings, ledger, f"{now:%Y-%m-%d}-{len(lines)}", f"【网站检查预警】{len(lines)} 项需要处理", lines)
    logger.info("inspection: %s (%s)", counts, page)
    return {"counts": counts, "report": str(page), "passed": result.passed}
