"""publish_release: load and validate → render every channel → wait for the embargo → deliver every channel
→ record. The ledger decides what is delivered, so a re-run, a retry or a second run at the same time
publishes each (release, channel, version) once."""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pressroom import runtime

runtime.configure()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import (  # noqa: E402
    create_link_artifact, create_markdown_artifact, create_progress_artifact, create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.futures import as_completed  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402
from prefect.states import Failed  # noqa: E402

import channels  # noqa: E402
from pressroom.catalog import Catalog, validate  # noqa: E402
from pressroom.errors import RenditionError, ValidationFailed  # noqa: E402
from pressroom.ledger import (  # noqa: E402
    DELIVERING, FAILED, PUBLISHED, STATE_LABELS, UNCONFIRMED, Ledger, worker_token,
)
from pressroom.model import Release  # noqa: E402
from pressroom.settings import Settings, load_settings  # noqa: E402
from pressroom.transports import PermanentError, TransientError, UnknownOutcome, transport_for  # noqa: E402

WAIT_FOR_OTHER_RUN = timedelta(minutes=5)  # how long a second run waits for the first one's delivery


@dataclass
class Outcome:
    channel: str
    state: str
    attempts: int = 0
    url: str = ""
    error: str = ""
    delivered_at: datetime | None = None
    notes: list[str] = field(default_factory=list)


def retry_delays(settings: Settings) -> list[float]:
    """Backoff between delivery attempts (seconds); ``[publish] retry_delays`` in settings."""
    import os

    env = os.environ.get("PRESSROOM_RETRY_DELAYS")
    if env is not None:
        return [float(x) for x in env.split(",") if x.strip()]
    return [float(x) for x in settings.extra.get("publish", {}).get("retry_delays", [5, 30, 120])]


def _run_name() -> str:
    release = flow_run.parameters.get("release", "")
    try:
        return f"发布: {validate(load_settings(), render=False, only=release).find(release).title}"
    except Exception:
        return f"发布: {release}"


@task(cache_policy=NO_CACHE, task_run_name="渲染 {channel}")
def render_channel(channel: str, release: Release, ctx) -> channels.Rendition:
    return channels.render(channel, release, ctx)


@task(cache_policy=NO_CACHE, task_run_name="发布 {channel}")
def deliver_channel(channel: str, rendition, release: Release, settings: Settings, token: str,
                    override_embargo: bool = False) -> Outcome:
    return deliver_one(channel, rendition, release, settings, token, override_embargo, get_run_logger())


def deliver_one(channel: str, rendition, release: Release, settings: Settings, token: str,
                override_embargo: bool, logger) -> Outcome:
    """Deliver one rendition at most once. Raises TransientError (after recording it) for a retry."""
    ledger = Ledger(settings.ledger_url)
    row = ledger.ensure(release.id, channel, release.version)
    if row.state == PUBLISHED:
        return Outcome(channel, PUBLISHED, row.attempts, row.url, delivered_at=row.published_at,
                       notes=["已发布，未重复发送"])
    if not override_embargo and datetime.now(timezone.utc) < release.publish_at:
        # Defence in depth: the flow waits for the embargo, and delivery refuses to run before it.
        return Outcome(channel, FAILED, row.attempts, error=f"未到发布时间 {release.publish_at.isoformat()}")
    claimed = ledger.claim(row, token)
    if claimed is None:
        return _wait_for_other_run(ledger, release, channel)
    transport = transport_for(settings, channel)
    if claimed.attempts > 1:
        # An earlier attempt may have reached the outlet before failing or crashing: look before sending.
        found = transport.lookup(rendition, claimed)
        if found:
            ledger.mark_published(claimed, token, found.external_id, found.url)
            logger.info("%s: found already delivered (%s), not sending again", channel, found.url)
            return _outcome(ledger, release, channel, ["发现此前已送达，未重复发送"])
    try:
        receipt = transport.deliver(rendition, claimed, ledger)
    except TransientError as e:
        ledger.mark_failed(claimed, token, f"暂时性错误：{e}")
        logger.warning("%s: transient error, will retry: %s", channel, e)
        raise  # Prefect retries the task with backoff
    except PermanentError as e:
        ledger.mark_failed(claimed, token, str(e))
        logger.error("%s: refused by the outlet: %s", channel, e)
        return _outcome(ledger, release, channel)
    except UnknownOutcome as e:
        found = transport.lookup(rendition, claimed)
        if found:
            ledger.mark_published(claimed, token, found.external_id, found.url)
            return _outcome(ledger, release, channel, ["发送结果未知，经查询已发布"])
        ledger.mark_failed(claimed, token, f"发送结果未知，请到平台核实后运行 pressroom resolve：{e}", state=UNCONFIRMED)
        return _outcome(ledger, release, channel)
    ledger.mark_published(claimed, token, receipt.external_id, receipt.url)
    logger.info("%s: published %s", channel, receipt.url)
    return _outcome(ledger, release, channel)


def _outcome(ledger: Ledger, release: Release, channel: str, notes: list[str] | None = None) -> Outcome:
    d = ledger.get(release.id, channel, release.version)
    return Outcome(channel, d.state, d.attempts, d.url, d.last_error, d.published_at, notes or [])


def _wait_for_other_run(ledger: Ledger, release: Release, channel: str) -> Outcome:
    """Another run holds the claim: wait for its result instead of sending a second copy."""
    deadline = time.monotonic() + WAIT_FOR_OTHER_RUN.total_seconds()
    while time.monotonic() < deadline:
        d = ledger.get(release.id, channel, release.version)
        if d.state != DELIVERING:
            break
        time.sleep(0.5)
    return _outcome(ledger, release, channel, ["由另一次运行发布"])


@task(cache_policy=NO_CACHE, task_run_name="更新门户栏目首页与订阅源")
def refresh_portal(settings: Settings, catalog: Catalog) -> None:
    from pressroom.site import refresh_portal_column

    refresh_portal_column(settings, catalog, Ledger(settings.ledger_url))


def wait_for_embargo(release: Release, logger) -> None:
    """Sleep until publish_at; nothing is delivered before it."""
    while (left := (release.publish_at - datetime.now(timezone.utc)).total_seconds()) > 0:
        logger.info("embargo: waiting %.0f s until %s", left, release.publish_at.isoformat())
        time.sleep(min(left, 60))


def channel_table(ledger: Ledger, release: Release, chosen: list[str]) -> list[dict]:
    rows = []
    for ch in chosen:
        d = ledger.get(release.id, ch, release.version)
        rows.append({
            "渠道": channels.adapter(ch).LABEL, "状态": STATE_LABELS.get(d.state, d.state) if d else "—",
            "尝试次数": d.attempts if d else 0, "链接": d.url if d else "", "错误": (d.last_error if d else "")[:200],
        })
    return rows


def _table_artifact(ledger: Ledger, release: Release, chosen: list[str], stage: str) -> None:
    create_table_artifact(key=f"channels-{release.id}", table=channel_table(ledger, release, chosen),
                          description=f"**{release.title}**（{release.kind_label}，版本 {release.version}）— {stage}")


def _infographic_artifact(rendition) -> None:
    from PIL import Image as PILImage

    png = rendition.files.get("infographic.png")
    if not png:
        return
    with PILImage.open(io.BytesIO(png)) as im:
        im = im.convert("RGB")
        im.thumbnail((360, 1000))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80)
    data = base64.b64encode(buf.getvalue()).decode()
    create_markdown_artifact(key=f"infographic-{rendition.release_id}",
                             markdown=f"![图解](data:image/jpeg;base64,{data})", description="图解预览")


@flow(name="publish-release", flow_run_name=_run_name, log_prints=False)
def publish_release(release: str, channels_only: list[str] | None = None, now: bool = False,
                    actor: str = "") -> dict:
    """Publish one release to its channels (``channels_only`` narrows them; ``now`` overrides the embargo,
    recorded in the ledger with ``actor``)."""
    logger = get_run_logger()
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    catalog = validate(settings, only=release)
    try:
        r = catalog.find(release)
    except ValidationFailed as e:
        for p in e.problems:
            logger.error("%s", p)
        return Failed(message=f"稿件“{release}”未通过校验，未发布到任何渠道：\n" + "\n".join(map(str, e.problems)))
    except KeyError:
        return Failed(message=f"找不到稿件“{release}”")
    _tag_run(r)
    return publish_one(r, catalog, ledger, channels_only, now, actor, logger)


def publish_one(r: Release, catalog: Catalog, ledger: Ledger, channels_only, now: bool, actor: str, logger):
    settings = catalog.settings
    unknown = [c for c in channels_only or [] if c not in r.channels]
    if unknown:
        return Failed(message=f"稿件 {r.id} 不发往这些渠道：{'、'.join(unknown)}")
    chosen = list(channels_only or r.channels)
    notes: dict[str, str] = {}
    for ch in list(chosen):
        older = ledger.published_elsewhere(r.id, ch, r.version)
        if older and not ledger.get(r.id, ch, r.version):
            # An edit after publishing is a correction, never a silent second publication.
            notes[ch] = f"已发布过旧版本 {older.version}，稿件已修改：请用 pressroom correct 发布更正"
            chosen.remove(ch)
    for ch in chosen:
        ledger.ensure(r.id, ch, r.version)
    if now:
        ledger.log(r.id, "", r.version, "embargo-override", actor, f"立即发布（原定 {r.publish_at.isoformat()}）")

    ctx = catalog.context(r)
    futures = {ch: render_channel.submit(ch, r, ctx) for ch in chosen}
    renditions = {}
    outcomes: dict[str, Outcome] = {}
    for ch, fut in futures.items():
        try:
            renditions[ch] = fut.result()
        except RenditionError as e:  # validation renders too; this only happens if context changed
            outcomes[ch] = Outcome(ch, FAILED, error=str(e))
            continue
        ledger.mark_rendered(ledger.get(r.id, ch, r.version), renditions[ch].content_hash)
    _table_artifact(ledger, r, chosen, "已生成各渠道稿件")
    if "infographic" in renditions:
        _infographic_artifact(renditions["infographic"])

    if not now:
        wait_for_embargo(r, logger)
    token = worker_token()
    delays = retry_delays(settings)
    deliver = deliver_channel.with_options(retries=len(delays), retry_delay_seconds=delays or 0)
    progress = create_progress_artifact(progress=0.0, key=f"progress-{r.id}", description=f"{r.title}：发布进度")
    running = {deliver.submit(ch, rend, r, settings, token, now): ch for ch, rend in renditions.items()}
    for i, fut in enumerate(as_completed(list(running)), 1):
        ch = running[fut]
        state = fut.state
        if state.is_completed():
            outcomes[ch] = fut.result()
        else:  # retries exhausted on a transient error
            outcomes[ch] = _outcome(ledger, r, ch)
        update_progress_artifact(progress, progress=100.0 * i / max(1, len(running)))
        _table_artifact(ledger, r, chosen, f"{i}/{len(running)} 个渠道已完成")

    if "portal" in chosen and ledger.get(r.id, "portal", r.version).state == PUBLISHED:
        refresh_portal(settings, catalog)
    for ch, o in outcomes.items():
        if o.state == PUBLISHED and o.url.startswith("http"):
            create_link_artifact(key=f"link-{r.id}-{ch}", link=o.url, link_text=f"{channels.adapter(ch).LABEL}：{r.title}")

    failed = {ch: o for ch, o in outcomes.items() if o.state != PUBLISHED}
    summary = {"release": r.id, "version": r.version, "title": r.title,
               "channels": {ch: o.state for ch, o in outcomes.items()}, "notes": notes}
    if failed or notes:
        lines = [f"{channels.adapter(ch).LABEL}：{STATE_LABELS.get(o.state, o.state)}（{o.error}）" for ch, o in failed.items()]
        lines += [f"{channels.adapter(ch).LABEL}：{n}" for ch, n in notes.items()]
        return Failed(message=f"{r.title}：{len(failed) + len(notes)} 个渠道未发布\n" + "\n".join(lines), data=summary)
    logger.info("published %s on %d channels", r.id, len(outcomes))
    return summary


def _tag_run(r: Release) -> None:
    """Tags carry kind and department so the UI can filter runs by them."""
    from prefect.client.orchestration import get_client

    run_id = flow_run.get_id()
    if not run_id:
        return
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(run_id)
        tags = sorted(set(current.tags) | {f"kind:{r.kind}", f"department:{r.department.key}", f"release:{r.id}"})
        client.update_flow_run(run_id, tags=tags)
