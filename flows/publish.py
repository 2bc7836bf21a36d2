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
from prefect.flow_runs import FlowPauseTimeout, pause_flow_run  # noqa: E402
from prefect.futures import as_completed  # noqa: E402
from prefect.input import RunInput  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402
from prefect.states import Failed, State  # noqa: E402

import channels  # noqa: E402
from pressroom.delivery import approval  # noqa: E402
from pressroom.releases.catalog import Catalog, validate  # noqa: E402
from pressroom.delivery.doctor import channel_disabled  # noqa: E402
from pressroom.errors import RenditionError, ValidationFailed  # noqa: E402
from pressroom.delivery.ledger import (  # noqa: E402
    DELIVERING, FAILED, PUBLISHED, SKIPPED, STATE_LABELS, UNCONFIRMED, Ledger, worker_token,
)
from pressroom.model import Release  # noqa: E402
from pressroom.delivery.notify import notify  # noqa: E402
from pressroom.settings import Settings, load_settings  # noqa: E402
from pressroom.transports import PermanentError, TransientError, UnknownOutcome, transport_for  # noqa: E402

WAIT_FOR_OTHER_RUN = timedelta(minutes=5)
LATE_START = timedelta(minutes=2)  # a scheduled run starting later than this says so
FAST_CHANNELS = ("weibo", "wechat", "portal")  # where an emergency's first information must appear first  # how long a second run waits for the first one's delivery


class Decision(RunInput):
    """The form a reviewer fills in the Prefect UI (or `pressroom approve`)."""

    approve: bool = True
    reviewer: str
    role: str = ""
    comment: str = ""


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


def deliver_one(channel: str, rendition, release: Release, settings: Settings, token: str,
                override_embargo: bool, logger) -> Outcome:
    """Deliver one rendition at most once. Raises TransientError (after recording it) for a retry. The row is
    the version's own (its publication or correction), or the one ``release.action`` names if it has one
    (``flows.correct.Stub``: a retraction)."""
    ledger = Ledger(settings.ledger_url)
    row = ledger.ensure(release.id, channel, release.version, _action(release))
    if row.state == PUBLISHED:
        return Outcome(channel, PUBLISHED, row.attempts, row.url, delivered_at=row.published_at,
                       notes=["已发布，未重复发送"])
    if not override_embargo and datetime.now(timezone.utc) < release.publish_at:
        # Defence in depth: the flow waits for the embargo, and delivery refuses to run before it.
        return Outcome(channel, FAILED, row.attempts, error=f"未到发布时间 {release.publish_at.isoformat()}")
    disabled = channel_disabled(settings, ledger, channel)
    if disabled:
        # Circuit breaker: the outlet refused our credentials earlier; say so instead of failing again.
        if row.state != SKIPPED:
            ledger.set_state(row, SKIPPED, f"渠道已停用：{disabled}（运行 pressroom doctor 检查通过后自动恢复）")
        return _outcome(ledger, release, channel)
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


def _action(release) -> str | None:
    return getattr(release, "action", None)


def _outcome(ledger: Ledger, release: Release, channel: str, notes: list[str] | None = None) -> Outcome:
    d = ledger.get(release.id, channel, release.version, _action(release))
    return Outcome(channel, d.state, d.attempts, d.url, d.last_error, d.published_at, notes or [])


def _wait_for_other_run(ledger: Ledger, release: Release, channel: str) -> Outcome:
    """Another run holds the claim: wait for its result instead of sending a second copy."""
    deadline = time.monotonic() + WAIT_FOR_OTHER_RUN.total_seconds()
    while time.monotonic() < deadline:
        d = ledger.get(release.id, channel, release.version, _action(release))
        if d.state != DELIVERING:
            break
        time.sleep(0.5)
    return _outcome(ledger, release, channel, ["由另一次运行发布"])


@task(cache_policy=NO_CACHE, task_run_name="更新门户栏目首页与订阅源")
def refresh_portal(settings: Settings, catalog: Catalog) -> None:
    from pressroom.sites.site import refresh_portal_column

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


def checked_bundle(catalog: Catalog, release: str, undone: str, logger) -> list[Release] | State:
    """The release's bundle, or the Failed state saying why nothing was done (``undone``: what was not),
    each validation problem also logged for the run's page in the Prefect UI."""
    try:
        return catalog.bundle_of(catalog.find(release))
    except ValidationFailed as e:
        for p in e.problems:
            logger.error("%s", p)
        return Failed(message=f"稿件“{release}”未通过校验，{undone}：\n" + "\n".join(map(str, e.problems)))
    except KeyError:
        return Failed(message=f"找不到稿件“{release}”")


@flow(name="publish-release", flow_run_name=_run_name, log_prints=False)
def publish_release(release: str, channels_only: list[str] | None = None, now: bool = False,
                    actor: str = "", expected_version: str = "") -> dict:
    """Publish one release to its channels (``channels_only`` narrows them; ``now`` overrides the embargo,
    recorded in the ledger with ``actor``). A policy document or its interpretation publishes the whole
    bundle: both halves, every shared channel, as one unit (三同步). ``expected_version`` is the version
    that was scheduled: the release is loaded now, so an edit since then is what goes out, and is said."""
    logger = get_run_logger()
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    catalog = validate(settings, only=release)
    parts = checked_bundle(catalog, release, "未发布到任何渠道", logger)
    if isinstance(parts, State):
        return parts
    _tag_run(parts)
    _note_late_start(parts[0], ledger, logger)
    if expected_version and expected_version != parts[0].version:
        msg = f"稿件在排期后已修改：排期时版本 {expected_version}，现发布修改后的版本 {parts[0].version}"
        logger.warning(msg)
        ledger.log(parts[0].id, "", parts[0].version, "edited-after-scheduling", actor, msg)
    return publish_parts(parts, catalog, ledger, channels_only, now, actor, logger)


def publish_one(r: Release, catalog: Catalog, ledger: Ledger, channels_only, now: bool, actor: str, logger):
    return publish_parts([r], catalog, ledger, channels_only, now, actor, logger)


def _chosen_channels(r: Release, ledger: Ledger, channels_only, notes: dict) -> list[str]:
    chosen = [c for c in (channels_only or r.channels) if c in r.channels]
    for ch in list(chosen):
        older = ledger.published_elsewhere(r.id, ch, r.version)
        if older and not ledger.get(r.id, ch, r.version):
            # An edit after publishing is a correction, never a silent second publication.
            notes[(r.id, ch)] = f"已发布过旧版本 {older.version}，稿件已修改：请用 pressroom correct 发布更正"
            chosen.remove(ch)
    return chosen


@task(cache_policy=NO_CACHE, task_run_name="发布 {channel}（{len_parts} 篇）")
def deliver_unit(channel: str, items: list, settings: Settings, token: str, override_embargo: bool,
                 len_parts: int = 1) -> list[Outcome]:
    """Deliver one channel of a bundle as a unit, document first. A transient failure of either half
    retries the unit; a half already published is skipped by the ledger, so nothing goes out twice."""
    logger = get_run_logger()
    return [deliver_one(channel, rendition, release, settings, token, override_embargo, logger)
            for release, rendition in items]


def publish_parts(parts: list[Release], catalog: Catalog, ledger: Ledger, channels_only, now: bool,
                  actor: str, logger):
    settings = catalog.settings
    for r in parts:
        unknown = [c for c in channels_only or [] if c not in r.channels]
        if unknown and len(parts) == 1:
            return Failed(message=f"稿件 {r.id} 不发往这些渠道：{'、'.join(unknown)}")
    notes: dict[tuple[str, str], str] = {}
    chosen = {r.id: _chosen_channels(r, ledger, channels_only, notes) for r in parts}
    for r in parts:
        for ch in chosen[r.id]:
            ledger.ensure(r.id, ch, r.version)
        if now:
            ledger.log(r.id, "", r.version, "embargo-override", actor, f"立即发布（原定 {r.publish_at.isoformat()}）")

    # Render everything first: one half that cannot render holds back the whole bundle.
    futures = {(r.id, ch): render_channel.submit(ch, r, catalog.context(r)) for r in parts for ch in chosen[r.id]}
    renditions: dict[tuple[str, str], channels.Rendition] = {}
    broken: list[str] = []
    for (rid, ch), fut in futures.items():
        try:
            renditions[(rid, ch)] = fut.result()
        except RenditionError as e:  # validation renders too; only happens if the context changed
            broken.append(f"{rid} / {channels.adapter(ch).LABEL}：{e}")
            continue
        ledger.mark_rendered(ledger.get(rid, ch, catalog.releases[rid].version), renditions[(rid, ch)].content_hash)
    for r in parts:
        _table_artifact(ledger, r, chosen[r.id], "已生成各渠道稿件")
        if (r.id, "infographic") in renditions:
            _infographic_artifact(renditions[(r.id, "infographic")])
    if broken:
        return Failed(message="渲染失败，未发布到任何渠道：\n" + "\n".join(broken))
    # [issue 8 hook] keep each channel's text on its ledger row, so a later correction can show what changed
    from pressroom.delivery.corrections import remember
    remember(ledger, parts, renditions)

    emergency = any(r.kind == "emergency" for r in parts)
    refused = approval_gate(parts, catalog, ledger, emergency, actor, logger)
    if refused:
        return Failed(message=refused)
    if emergency and not now:
        # R4: authoritative information goes out at once; the embargo does not hold an emergency back.
        now = True
        for r in parts:
            ledger.log(r.id, "", r.version, "emergency-fast-path", actor, "突发事件：不等待发布时间，快速渠道优先")
    if not now:
        # A bundle goes out when its last half may: never before any half's embargo.
        wait_for_embargo(max(parts, key=lambda p: p.publish_at), logger)
    token = worker_token()
    delays = retry_delays(settings)
    deliver = deliver_unit.with_options(retries=len(delays), retry_delay_seconds=delays or 0)
    units: dict[str, list] = {}
    for r in parts:  # document first (bundle_of orders it so)
        for ch in chosen[r.id]:
            units.setdefault(ch, []).append((r, renditions[(r.id, ch)]))
    head = parts[0]
    progress = create_progress_artifact(progress=0.0, key=f"progress-{head.id}", description=f"{head.title}：发布进度")
    # An emergency reaches the fast channels (where the public looks first) before the rest.
    waves = ([[ch for ch in units if ch in FAST_CHANNELS], [ch for ch in units if ch not in FAST_CHANNELS]]
             if emergency else [list(units)])
    done = 0
    for wave in waves:
        running = {deliver.submit(ch, units[ch], settings, token, now, len(units[ch])): ch for ch in wave}
        for fut in as_completed(list(running)):
            ch = running[fut]
            done += 1
            update_progress_artifact(progress, progress=100.0 * done / max(1, len(units)))
            for r in parts:
                if ch in chosen[r.id]:
                    _table_artifact(ledger, r, chosen[r.id], f"{done}/{len(units)} 个渠道已完成")

    if any(ch == "portal" and ledger.get(r.id, ch, r.version).state == PUBLISHED
           for r in parts for ch in chosen[r.id]):
        refresh_portal(settings, catalog)
    outcomes = {(r.id, ch): _outcome(ledger, r, ch) for r in parts for ch in chosen[r.id]}
    for (rid, ch), o in outcomes.items():
        if o.state == PUBLISHED and o.url.startswith("http"):
            create_link_artifact(key=f"link-{rid}-{ch}", link=o.url,
                                 link_text=f"{channels.adapter(ch).LABEL}：{catalog.releases[rid].title}")

    summary: dict = {"release": head.id, "version": head.version, "title": head.title,
                     "channels": {ch: o.state for (rid, ch), o in outcomes.items() if rid == head.id},
                     "notes": {f"{rid}/{ch}": n for (rid, ch), n in notes.items()}}
    if len(parts) > 1:
        summary["bundle"] = {r.id: {ch: o.state for (rid, ch), o in outcomes.items() if rid == r.id} for r in parts}
        summary["skew_seconds"] = bundle_skew(list(outcomes.values()))
        logger.info("bundle %s: delivery skew %.3f s", head.id, summary["skew_seconds"])
    failed = {k: o for k, o in outcomes.items() if o.state != PUBLISHED}
    many = len(parts) > 1

    def who(rid, ch):
        return f"{rid} / {channels.adapter(ch).LABEL}" if many else channels.adapter(ch).LABEL

    lines = [f"{who(rid, ch)}：{STATE_LABELS.get(o.state, o.state)}（{o.error}）" for (rid, ch), o in failed.items()]
    lines += [f"{who(rid, ch)}：{n}" for (rid, ch), n in notes.items()]
    if many or emergency:  # R9: the offices concerned hear about bundles and emergencies
        if "skew_seconds" in summary:
            lines.append(f"同步误差（最后一个与第一个渠道送达的时间差）：{summary['skew_seconds']:.1f} 秒")
        notify(settings, ledger, parts, "failed" if failed or notes else "published",
               lines or [f"{who(rid, ch)}：已发布 {o.url}" for (rid, ch), o in outcomes.items()])
    if failed or notes:
        return Failed(message=f"{head.title}：{len(failed) + len(notes)} 个渠道未发布\n" + "\n".join(lines),
                      data=summary)
    logger.info("published %s on %d channel deliveries", " + ".join(p.id for p in parts), len(outcomes))
    return summary


def approval_gate(parts: list[Release], catalog: Catalog, ledger: Ledger, emergency: bool, actor: str,
                  logger) -> str | None:
    """Wait for every configured sign-off on exactly this content; returns why publishing must stop."""
    from pressroom.sites.preview import build_preview

    settings = catalog.settings
    policy = approval.policy(settings)
    if not approval.needs_approval(parts, policy):
        return None
    head = parts[0]
    if emergency:
        # R4: an emergency does not wait; the sign-off may follow and is recorded then.
        ledger.log(head.id, "", approval.signature(parts), "approval-deferred", actor, "突发事件先发布，审核可事后补签")
        return None
    sig = approval.signature(parts)
    while (level := approval.next_level(ledger, parts, policy)) is not None:
        pages = [build_preview(r, catalog, settings.outbox_dir / "preview" / r.id) for r in parts]
        create_markdown_artifact(
            key=f"approval-{head.id}",
            markdown=(f"## 待审核：{level}\n\n**{head.title}**（{head.kind_label}，内容签名 `{sig}`）\n\n"
                      + "\n".join(f"- 预览：[{r.title}]({page.as_uri()})" for r, page in zip(parts, pages))
                      + "\n\n在本页点击 Resume 填写审核意见，或运行 "
                        f"`pressroom approve {head.id} --reviewer 姓名 --role {level}`（驳回加 `--reject --comment 理由`）"),
            description=f"{head.title}：等待{level}审核")
        logger.info("waiting for approval: %s (signature %s)", level, sig)
        try:
            decision = pause_flow_run(
                wait_for_input=Decision.with_initial_data(role=level, description=f"审核“{head.title}”：{level}"),
                timeout=policy.timeout_seconds,
                key=f"approval-{sig}-{policy.levels.index(level) + 1}")  # keys: [a-z0-9-] only
        except FlowPauseTimeout as e:  # nobody decided in time
            ledger.log(head.id, "", sig, "approval-timeout", "", str(e))
            return f"{head.title}：{level}审核超时（{policy.timeout_seconds // 3600} 小时），未发布到任何渠道"
        approval.record(ledger, parts, level, decision.approve, decision.reviewer, decision.role or level,
                        decision.comment, str(flow_run.get_id() or ""))
        if not decision.approve:
            return (f"{head.title}：{decision.role or level} {decision.reviewer} 驳回，未发布到任何渠道。"
                    f"理由：{decision.comment or '（未填写）'}")
    # What was signed must be what goes out: an edit during the wait voids the sign-offs.
    current = validate(settings, render=False, only=head.id)
    now_parts = [current.releases.get(r.id) for r in parts]
    if any(x is None for x in now_parts) or approval.signature(now_parts) != sig:
        ledger.log(head.id, "", sig, "approval-void", "", "审核期间稿件被修改")
        return f"{head.title}：审核期间稿件被修改，原审核作废；请重新发布并重新审核"
    return None


def bundle_skew(outcomes: list[Outcome]) -> float:
    """Latest minus earliest delivery time across a bundle (seconds): how simultaneous it was."""
    times = [o.delivered_at for o in outcomes if o.delivered_at]
    return (max(times) - min(times)).total_seconds() if len(times) > 1 else 0.0


def _note_late_start(head: Release, ledger: Ledger, logger) -> None:
    """A scheduled run that could not start on time (no worker was up) runs as soon as one returns: say
    how late, in the log and the ledger."""
    scheduled = flow_run.scheduled_start_time
    if scheduled is None:
        return
    late = (datetime.now(timezone.utc) - scheduled).total_seconds()
    if late > LATE_START.total_seconds():
        msg = f"计划 {scheduled.astimezone(head.publish_at.tzinfo):%Y-%m-%d %H:%M:%S} 启动，实际晚了 {late / 60:.1f} 分钟（工作进程当时可能未运行）"
        logger.warning(msg)
        ledger.log(head.id, "", head.version, "late-start", "", msg)


def _tag_run(parts: list[Release]) -> None:
    """Tags carry kind and department so the UI can filter runs by them."""
    from prefect.client.orchestration import get_client

    run_id = flow_run.get_id()
    if not run_id:
        return
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(run_id)
        tags = set(current.tags)
        for r in parts:
            tags |= {f"kind:{r.kind}", f"department:{r.department.key}", f"release:{r.id}"}
        if len(parts) > 1:
            tags.add("policy-bundle")
        tags = sorted(tags)
        client.update_flow_run(run_id, tags=tags)
