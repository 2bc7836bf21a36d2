"""compliance_report: the "2·1+N" report (R6) with its accountability flags (R7), twice a year.

Scheduled in ``prefect.yaml`` on 1 July (the first half year) and 2 January (the whole last year); a run
without ``year`` reports the period before its scheduled time. Also ``pressroom report --year 2026 [--half 1]``.
Writes ``outbox/reports/<period>/`` (report.md, report.html, departments.csv, flags.csv, chart.png) and shows
the department table and the chart in the Prefect UI.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime

from pressroom import runtime

runtime.configure()

from prefect import flow, get_run_logger  # noqa: E402
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402

from pressroom.sites import report as rp  # noqa: E402
from pressroom.releases.catalog import validate  # noqa: E402
from pressroom.delivery.ledger import Ledger  # noqa: E402
from pressroom.sites.presshall import published_times  # noqa: E402
from pressroom.settings import load_settings  # noqa: E402


def _period(year: int | None, half: int | None, tz) -> rp.Period:
    if year:
        return rp.Period(year, half)
    scheduled = flow_run.scheduled_start_time  # a late run still reports the period it was scheduled for
    when = scheduled.astimezone(tz) if scheduled else datetime.now(tz)
    return rp.previous_period(when)


def _chart_markdown(png: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        im = im.convert("RGB")
        im.thumbnail((900, 2400))
        buf = io.BytesIO()
        im.save(buf, "PNG", optimize=True)
    return f"![各部门新闻发布会召开情况](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})"


def _run_name() -> str:
    p = flow_run.parameters
    if p.get("year"):
        return f"“2·1+N”报告：{rp.Period(p['year'], p.get('half')).label}"
    return "“2·1+N”报告：上一统计期"


@flow(name="compliance-report", flow_run_name=_run_name, log_prints=False)
def compliance_report(year: int | None = None, half: int | None = None) -> dict:
    """Build the report from the catalog and the ledger; returns a summary with the output paths."""
    logger = get_run_logger()
    settings = load_settings()
    period = _period(year, half, settings.tz)
    catalog = validate(settings, render=False)
    ledger = Ledger(settings.ledger_url)
    report = rp.build_report(catalog.releases.values(), catalog.registry, published_times(ledger.rows()), period,
                             datetime.now(settings.tz), settings)
    folder = settings.outbox_dir / "reports" / period.slug
    files = rp.write_report(report, folder)
    key = f"compliance-{period.slug}"
    behind = "、".join(r.short for r in report.behind) or "无"
    create_table_artifact(key=key, table=rp.table(report),
                          description=f"**{period.label}“2·1+N”落实情况**：未达标部门 {len(report.behind)} 个（{behind}）；"
                                      f"问责事项 {len(report.flags)} 项")
    flags = "\n".join(f"- **{f.label}**（{f.department}，`{f.release_id}`）：{f.evidence}" for f in report.flags)
    create_markdown_artifact(
        key=f"{key}-chart",
        markdown=f"## {period.label}各部门新闻发布会召开情况\n\n{_chart_markdown(files['chart.png'].read_bytes())}\n\n"
                 f"### 问责事项（{len(report.flags)} 项）\n\n{flags or '无'}",
        description=f"{period.label}“2·1+N”柱状图与问责事项")
    create_link_artifact(key=f"{key}-report", link=files["report.html"].as_uri(), link_text=f"{period.label}报告（HTML）")
    logger.info("compliance report %s: %d departments behind, %d flags, written to %s",
                period.slug, len(report.behind), len(report.flags), folder)
    return {"period": period.slug, "behind": [r.key for r in report.behind],
            "behind_names": [r.short for r in report.behind], "flags": len(report.flags),
            "files": {name: str(p) for name, p in files.items()}}
