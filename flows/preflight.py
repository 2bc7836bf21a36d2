"""preflight: shortly before a scheduled release (30 minutes by default), render and validate everything
again and check every outlet it will use, and alert the press office if anything would fail — before the
release, not at it. Publishes nothing."""

from __future__ import annotations

from pressroom import runtime

runtime.configure()

from prefect import flow, get_run_logger  # noqa: E402
from prefect.artifacts import create_table_artifact  # noqa: E402
from prefect.states import Failed  # noqa: E402

from pressroom.delivery import waivers  # noqa: E402
from pressroom.delivery.doctor import FAIL, run_doctor  # noqa: E402
from pressroom.errors import ValidationFailed  # noqa: E402
from pressroom.delivery.ledger import Ledger  # noqa: E402
from pressroom.delivery.notify import notify  # noqa: E402
from pressroom.settings import load_settings  # noqa: E402


@flow(name="preflight", flow_run_name="发布前检查: {release}", log_prints=False)
def preflight(release: str) -> dict:
    logger = get_run_logger()
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    catalog = waivers.validate(settings, ledger, only=release)  # renders every channel of the bundle: limits included
    try:
        parts = catalog.bundle_of(catalog.find(release))
    except ValidationFailed as e:
        problems = [str(p) for p in e.problems]
        for p in problems:
            logger.error("%s", p)
        return Failed(message=f"发布前检查：稿件“{release}”未通过校验\n" + "\n".join(problems))
    except KeyError:
        return Failed(message=f"发布前检查：找不到稿件“{release}”")
    used = {ch for p in parts for ch in p.channels}
    rows = run_doctor(settings, ledger, only=used)
    create_table_artifact(key=f"preflight-{parts[0].id}", table=rows,
                          description=f"**{parts[0].title}** 发布前检查（{len(rows)} 项）")
    failing = [r for r in rows if r["结果"] == FAIL]
    if failing:
        lines = [f"{r['渠道']}：{r['检查']} 未通过（{r['说明']}）" for r in failing]
        notify(settings, ledger, parts, "preflight-failed", lines)
        for line in lines:
            logger.error("%s", line)
        return Failed(message="发布前检查未通过，已通知新闻办：\n" + "\n".join(lines))
    logger.info("preflight passed for %s: %d checks", parts[0].id, len(rows))
    return {"release": parts[0].id, "checks": len(rows)}
