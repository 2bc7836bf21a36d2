"""Scheduling releases on a Prefect server: one flow run per release (or policy bundle), scheduled at its
``publish_at`` on the deployment for its kind (prefect.yaml). The run loads the release when it starts, so an
edit made after scheduling is what goes out, and the run says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pressroom.releases.catalog import Catalog
from pressroom.model import Release

FLOW_NAME = "publish-release"
PREFLIGHT_DEPLOYMENT = "preflight/preflight"
# Deployment per kind, as declared in prefect.yaml.
DEPLOYMENT_OF_KIND = {"policy": "policy-bundle", "policy-document": "policy-bundle", "emergency": "emergency"}
DEFAULT_DEPLOYMENT = "publish"


class ScheduleError(Exception):
    """Something the editor must fix before a release can be scheduled (message in Chinese)."""


@dataclass(frozen=True)
class ScheduledRun:
    id: str
    name: str
    release: str
    version: str
    scheduled_at: datetime | None
    state: str


def deployment_for(release: Release) -> str:
    return f"{FLOW_NAME}/{DEPLOYMENT_OF_KIND.get(release.kind, DEFAULT_DEPLOYMENT)}"


def _require_server() -> None:
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ScheduleError("排期需要 Prefect 服务器：请先 `prefect server start`，设置 PREFECT_API_URL，"
                            "再 `prefect deploy --all`（见 README“定时发布”）")


def schedule(release: Release, catalog: Catalog) -> ScheduledRun:
    """Create (once) the scheduled flow run of a release's bundle at its publish time."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    _require_server()
    parts = catalog.bundle_of(release)
    head = parts[0]  # a bundle is scheduled once, under its policy document
    at = max(p.publish_at for p in parts)
    name = deployment_for(head)
    try:
        run = run_deployment(
            name, parameters={"release": head.id, "expected_version": head.version},
            scheduled_time=at, timeout=0, as_subflow=False,
            tags=["pressroom", "scheduled", f"release:{head.id}", f"kind:{head.kind}"],
            # Scheduling the same release for the same time twice gives back the same run.
            idempotency_key=f"{head.id}@{at.isoformat()}",
        )
    except ObjectNotFound:
        raise ScheduleError(f"Prefect 服务器上没有部署 {name}：请在项目目录运行 `prefect deploy --all`") from None
    _schedule_preflight(head, at, catalog)
    return ScheduledRun(str(run.id), run.name, head.id, head.version, run.expected_start_time, run.state_name or "")


def schedule_retry(head: Release, at: datetime, channels: list[str]) -> ScheduledRun:
    """A publish run of the release for these channels at ``at`` (when the outlet's quota is back), on the
    deployment for its kind; asking twice for the same time gives back the same run."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    _require_server()
    name = deployment_for(head)
    try:
        run = run_deployment(
            name, parameters={"release": head.id, "channels_only": sorted(channels)}, scheduled_time=at,
            timeout=0, as_subflow=False, tags=["pressroom", "quota-retry", f"release:{head.id}"],
            idempotency_key=f"{head.id}-quota-{'-'.join(sorted(channels))}@{at.isoformat()}")
    except ObjectNotFound:
        raise ScheduleError(f"Prefect 服务器上没有部署 {name}：请在项目目录运行 `prefect deploy --all`") from None
    return ScheduledRun(str(run.id), run.name, head.id, head.version, run.expected_start_time, run.state_name or "")


def server_configured() -> bool:
    """Whether a Prefect server is configured (PREFECT_API_URL): scheduled runs are possible."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def preflight_lead(catalog: Catalog) -> timedelta:
    """How long before the release the pre-flight check runs (``[publish] preflight_minutes``)."""
    return timedelta(minutes=catalog.settings.publish.preflight_minutes)


def _schedule_preflight(head: Release, at: datetime, catalog: Catalog) -> None:
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    when = at - preflight_lead(catalog)
    if when <= datetime.now(timezone.utc):
        return  # too late for a pre-flight: the run itself validates first
    try:
        run_deployment(PREFLIGHT_DEPLOYMENT, parameters={"release": head.id}, scheduled_time=when, timeout=0,
                       as_subflow=False, tags=["pressroom", "preflight", f"release:{head.id}"],
                       idempotency_key=f"preflight-{head.id}@{at.isoformat()}")
    except ObjectNotFound:
        pass  # the preflight deployment is optional (prefect.yaml declares it)


def _runs(only_scheduled: bool = True, flows: tuple[str, ...] = (FLOW_NAME,)):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    _require_server()
    run_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
        any_=[StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED]))) if only_scheduled else None
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=list(flows))),
                                     flow_run_filter=run_filter, limit=200)


def waiting_for_signoff() -> list:
    """Publish runs paused for a sign-off (Prefect's flow runs)."""
    return [r for r in _runs() if r.state is not None and r.state.is_paused()]


def scheduled() -> list[ScheduledRun]:
    """Runs waiting for their time, soonest first."""
    out = [ScheduledRun(str(r.id), r.name, str(r.parameters.get("release", "")),
                        str(r.parameters.get("expected_version", "")), r.expected_start_time, r.state_name or "")
           for r in _runs()]
    return sorted(out, key=lambda r: (r.scheduled_at is None, r.scheduled_at or datetime.max, r.release))


def cancel(release: Release, catalog: Catalog) -> list[str]:
    """Cancel the waiting runs (and pre-flight checks) of a release's bundle; returns the cancelled run ids."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    head = catalog.bundle_of(release)[0]
    cancelled = []
    with get_client(sync_client=True) as client:
        for r in _runs(flows=(FLOW_NAME, PREFLIGHT_DEPLOYMENT.split("/")[0])):
            if r.parameters.get("release") == head.id:
                client.set_flow_run_state(r.id, Cancelled(message="已由编辑取消排期"), force=True)
                cancelled.append(str(r.id))
    return cancelled
