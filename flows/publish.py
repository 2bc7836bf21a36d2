"""publish_release: load and validate → render every channel → wait for the embargo → deliver every channel
→ record. The ledger decides what is delivered, so a re-run, a retry or a second run at the same time
publishes each (release, channel, version) once."""

from __future__ import annotations

import base64
import io
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

from pressroom import clock, runtime

runtime.configure()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import (  # noqa: E402
    create_link_artifact, create_markdown_artifact, create_progress_artifact, create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.flow_runs import FlowPauseTimeout, pause_flow_run, suspend_flow_run  # noqa: E402
from prefect.futures import as_completed  # noqa: E402
from prefect.input import RunInput  # noqa: E402
from prefect.runtime import deployment, flow_run  # noqa: E402
from prefect.states import Failed, State  # noqa: E402
from prefect.utilities.annotations import quote  # noqa: E402
from pydantic import Field  # noqa: E402

import channels  # noqa: E402
from pressroom.delivery import approval, automations, reviewers, waivers  # noqa: E402
from pressroom.releases import audit as fidelity  # noqa: E402
from pressroom.releases.catalog import Catalog, audit_release, validate  # noqa: E402
from pressroom.delivery import engine  # noqa: E402
from pressroom.delivery.corrections import remember  # noqa: E402
from pressroom.errors import RenditionError, ValidationFailed  # noqa: E402
from pressroom.delivery.ledger import PUBLISHED, STATE_LABELS, Ledger, waiting_until, worker_token  # noqa: E402
from pressroom.model import Release  # noqa: E402
from pressroom.releases.loader import headline  # noqa: E402
from pressroom.delivery.notify import notify  # noqa: E402
from pressroom.settings import Settings, load_settings  # noqa: E402

LATE_START = timedelta(minutes=2)  # a scheduled run starting later than this says so
PREVIEW_WIDTH = 360  # px: a channel's preview picture on the run page


MAX_REFUSED = 10  # refused decisions (wrong codes …) before the run gives up; the lock-out slows guessing


class Decision(RunInput):
    """The form a reviewer fills in the Prefect UI (or `pressroom approve` sends): who, their one-time code,
    approve or reject, and the reason (required to reject). Prefect stores what is typed here, the code
    too: it is acceptable only because a code works once and is checked against the ledger."""

    reviewer: str
    code: str = ""
    approve: bool = True
    comment: str = ""


def decision_form(names: list[str]) -> type[Decision]:
    """The form with the reviewer picked from a dropdown of those allowed for the level."""
    from pydantic import Field, create_model

    if not names:
        return Decision
    return create_model("Decision", __base__=Decision,
                        reviewer=(Literal[tuple(names)], Field(title="审核人", description="本级可签署的审核人")),
                        code=(str, Field("", title="动态口令", description="手机身份验证器上的 6 位数字")),
                        approve=(bool, Field(True, title="同意发布", description="不勾选即驳回")),
                        comment=(str, Field("", title="审核意见", description="驳回时必填")))


def _run_name() -> str:
    release = str(flow_run.parameters.get("release", ""))
    try:
        title = headline(load_settings(), release)
    except Exception:  # settings unreadable: the run itself will say why
        title = ""
    return f"发布: {title or release}"


# Task names are ASCII (the run graph's canvas font has no CJK glyphs); the Chinese labels are in the
# tables and the log lines.
@task(name="render", cache_policy=NO_CACHE, task_run_name="render-{channel}")
def render_channel(channel: str, release: Release, ctx) -> channels.Rendition:
    get_run_logger().info("渲染 %s：%s", channels.get(channel).label, release.title)
    return channels.render(channel, release, ctx)


@task(name="refresh-portal", cache_policy=NO_CACHE, task_run_name="refresh-portal")
def refresh_portal(settings: Settings, catalog: Catalog) -> None:
    from pressroom.sites.site import refresh_portal_column

    get_run_logger().info("更新门户栏目首页、订阅源与新闻发布厅")
    refresh_portal_column(settings, catalog, Ledger(settings.ledger_url))


def wait_for_embargo(release: Release, logger) -> None:
    """Sleep until publish_at; nothing is delivered before it."""
    while (left := (release.publish_at - clock.now()).total_seconds()) > 0:
        logger.info("embargo: waiting %.0f s until %s", left, release.publish_at.isoformat())
        time.sleep(min(left, 60))


def channel_table(ledger: Ledger, release: Release, chosen: list[str]) -> list[dict]:
    rows = []
    for ch in chosen:
        d = ledger.get(release.id, ch, release.version)
        rows.append({
            "渠道": channels.get(ch).label, "状态": STATE_LABELS.get(d.state, d.state) if d else "—",
            "尝试次数": d.attempts if d else 0, "链接": d.url if d else "", "错误": (d.last_error if d else "")[:200],
        })
    return rows


def _table_artifact(ledger: Ledger, pub: "Publication", release: Release, stage: str) -> None:
    """The release's one channel table on the run page, created once and then kept current; the stage
    ("3/7 个渠道已完成") leads its short description so the card shows it."""
    from prefect.artifacts import TableArtifact

    table = channel_table(ledger, release, pub.chosen[release.id])
    key, description = f"channels-{release.id}", f"**{stage}** · {release.title}（版本 {release.version}）"
    pub.tables[release.id] = kept_artifact(
        key, TableArtifact(table=table).format(), description,
        lambda: create_table_artifact(key=key, table=table, description=description), pub.tables.get(release.id))


def kept_artifact(key: str, data: str, description: str, create, known=None):
    """One artifact per key on a run's page, kept current: the run's own artifact of that key (``known``, or
    looked up: a suspended run starts again from the top) is updated, else ``create()`` makes it. Its id."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactUpdate
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    run_id = flow_run.get_id()
    if not run_id or (known is None and not _ran_before()):  # a run's first time has no artifacts yet
        return create()
    with get_client(sync_client=True) as client:
        if known is None:
            found = client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])), limit=1)
            known = found[0].id if found else None
        if known is None:
            return create()
        client.update_artifact(known, ArtifactUpdate(data=data, description=description))
        return known


def _this_run():
    """The flow run as the engine loaded it when this run (or this resumption of it) started: its tags,
    run count and pause keys, with no request to the server; None outside a run."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return ctx.flow_run if ctx is not None else None


def _ran_before() -> bool:
    """Whether this flow run went through the flow before (resumed after a sign-off, or run again from the
    UI): then its page may already hold the artifacts this run keeps current."""
    run = _this_run()
    return run is None or run.run_count > 1 or bool(run.empirical_policy.pause_keys)


def _preview_artifact(rendition, channel: channels.Channel) -> None:
    """The picture a channel declares as its preview (the infographic's poster), small, on the run page."""
    from PIL import Image as PILImage

    picture = rendition.files.get(channel.preview)
    if not picture:
        return
    with PILImage.open(io.BytesIO(picture)) as im:  # opening reads the header only
        small = im.format == "JPEG" and im.width <= PREVIEW_WIDTH  # already small (the 图解's thumbnail)
        if not small:
            im = im.convert("RGB")
            im.thumbnail((PREVIEW_WIDTH, 1000))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=80)
            picture = buf.getvalue()
    data = base64.b64encode(picture).decode()
    key, markdown = f"{channel.name}-{rendition.release_id}", f"![{channel.label}](data:image/jpeg;base64,{data})"
    kept_artifact(key, markdown, f"{channel.label}预览",
                  lambda: create_markdown_artifact(key=key, markdown=markdown, description=f"{channel.label}预览"))


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


def _configured_channels() -> tuple[str, ...]:
    """The channels this installation publishes to, for the deployment form's multi-select."""
    try:
        return channels.configured(load_settings())
    except Exception:  # a broken pressroom.toml is reported by the run itself; the form offers every outlet
        return channels.names()


ChannelName = Literal[_configured_channels()]  # type: ignore[valid-type]


@flow(name="publish-release", flow_run_name=_run_name, log_prints=False)
def publish_release(
        release: str = Field(..., description="稿件 id（content/releases/ 下的文件夹名，如 water-price-rumor）；"
                                              "政策文件或其解读：两篇同步发布"),
        channels_only: list[ChannelName] = Field([], description="只发这些渠道；不选则发往稿件的全部渠道"),
        now: bool = Field(False, description="⚠ 立即发布：不等发布时间，马上发往各渠道。须同时填写审核人和动态口令，"
                                             "并记入台账；不勾选则到发布时间才发布"),
        reviewer: str = Field("", description="立即发布或突发事件先发后审时的确认人（content/reviewers.yaml 中已登记的审核人）"),
        code: str = Field("", description="确认人手机身份验证器上的 6 位动态口令（只能用一次）"),
        expected_version: str = Field("", description="排期时的版本（由 pressroom schedule 填写，可留空）")) -> dict:
    """Publish one release to its channels (``channels_only`` narrows them). ``now`` overrides the embargo,
    and an emergency that needs sign-offs goes out ahead of them: both only with a registered ``reviewer``'s
    one-time ``code``, and the ledger names them. Otherwise a release publishes only once its sign-offs are
    complete (the run waits for them). A policy document or its interpretation publishes the whole
    bundle: both halves, every shared channel, as one unit (三同步). ``expected_version`` is the version
    that was scheduled: the release is loaded now, so an edit since then is what goes out, and is said."""
    logger = get_run_logger()
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    catalog = waivers.validate(settings, ledger, only=release)  # a finding a reviewer waived does not block
    parts = checked_bundle(catalog, release, "未发布到任何渠道", logger)
    if isinstance(parts, State):
        return parts
    actor = authorised(settings, ledger, parts, now, reviewer, code)
    if isinstance(actor, State):
        return actor
    _tag_run(parts)
    _note_late_start(parts[0], ledger, logger)
    if expected_version and expected_version != parts[0].version:
        msg = f"稿件在排期后已修改：排期时版本 {expected_version}，现发布修改后的版本 {parts[0].version}"
        logger.warning(msg)
        ledger.log(parts[0].id, "", parts[0].version, "edited-after-scheduling", actor, msg)
    return publish_parts(parts, catalog, ledger, channels_only, now, actor, logger)


def authorised(settings: Settings, ledger: Ledger, parts: list[Release], now: bool, reviewer: str,
               code: str) -> str | State:
    """Who authorises what only a person may (overriding the embargo; an emergency out before its
    sign-offs), proven by their code: their name, "" when nobody is needed, or the Failed state saying why."""
    deferral = any(r.kind == "emergency" for r in parts) and approval.needs_approval(parts, approval.policy(settings))
    if not (now or deferral):
        return ""
    what = "立即发布（不等发布时间）" if now else "突发事件先发布、审核事后补签"
    try:
        return reviewers.verified_person(settings, ledger, reviewer, code, what, parts[0].id)
    except reviewers.Refused as e:
        return Failed(message=f"{parts[0].title}：{what}须由审核人确认——{e}。未发布到任何渠道")


def _chosen_channels(r: Release, ledger: Ledger, channels_only, notes: dict) -> list[str]:
    chosen = [c for c in (channels_only or r.channels) if c in r.channels]
    for ch in list(chosen):
        older = ledger.published_elsewhere(r.id, ch, r.version)
        if older and not ledger.get(r.id, ch, r.version):
            # An edit after publishing is a correction, never a silent second publication.
            notes[(r.id, ch)] = f"已发布过旧版本 {older.version}，稿件已修改：请用 pressroom correct 发布更正"
            chosen.remove(ch)
    return chosen


@task(name="deliver", cache_policy=NO_CACHE, task_run_name="deliver-{channel}")
def deliver_unit(channel: str, items: list, settings: Settings, token: str, override_embargo: bool,
                 len_parts: int = 1, at: datetime | None = None) -> list[engine.Outcome]:
    """Deliver one channel of a bundle as a unit, document first. A transient failure of either half
    retries the unit; a half already published is skipped by the ledger, so nothing goes out twice.
    ``at``: the moment the run delivers, the 发布时间 every channel of the run shows (to the minute)."""
    logger = get_run_logger()
    logger.info("发布 %s（%d 篇）", channels.get(channel).label, len_parts)
    return [engine.deliver(engine.Job(release.id, channel, release.version,
                                      None if override_embargo else release.publish_at,
                                      publish_at=release.publish_at, at=at),
                           rendition, settings, token, logger)
            for release, rendition in items]


@dataclass
class Publication:
    """One publish run's bundle as it goes through the steps: which channels each part goes to, why some
    do not (``notes``), and what each channel delivers."""

    parts: list[Release]
    chosen: dict[str, list[str]]
    notes: dict[tuple[str, str], str]
    renditions: dict[tuple[str, str], channels.Rendition] = field(default_factory=dict)
    tables: dict[str, object] = field(default_factory=dict)  # release id -> its channel table artifact

    @property
    def head(self) -> Release:
        return self.parts[0]

    @property
    def emergency(self) -> bool:
        return any(r.kind == "emergency" for r in self.parts)

    def rows(self):
        return [(r, ch) for r in self.parts for ch in self.chosen[r.id]]


def publish_parts(parts: list[Release], catalog: Catalog, ledger: Ledger, channels_only, now: bool,
                  actor: str, logger):
    """The steps of a publication: choose the channels, render (validation's renditions), sign-off,
    embargo, deliver, refresh the site, report."""
    unknown = [c for c in channels_only or [] if c not in parts[0].channels]
    if unknown and len(parts) == 1:
        return Failed(message=f"稿件 {parts[0].id} 不发往这些渠道：{'、'.join(unknown)}")
    pub = _choose(parts, ledger, channels_only, now, actor)
    broken = _render(pub, catalog, ledger)
    if broken:
        return Failed(message="渲染失败，未发布到任何渠道：\n" + "\n".join(broken))
    refused = approval_gate(parts, catalog, ledger, pub.emergency, actor, logger)
    if refused:
        return Failed(message=refused)
    now = _embargo(pub, ledger, now, actor, logger)
    _deliver(pub, catalog.settings, ledger, now)
    _schedule_quota_retries(pub, ledger, logger)
    outcomes = _after_delivery(pub, catalog, ledger)
    return _report(pub, catalog.settings, ledger, outcomes, logger)


def _choose(parts: list[Release], ledger: Ledger, channels_only, now: bool, actor: str) -> Publication:
    notes: dict[tuple[str, str], str] = {}
    chosen = {r.id: _chosen_channels(r, ledger, channels_only, notes) for r in parts}
    for r in parts:
        for ch in chosen[r.id]:
            ledger.ensure(r.id, ch, r.version)
        if now:
            ledger.log(r.id, "", r.version, "embargo-override", actor, f"立即发布（原定 {r.publish_at.isoformat()}）")
    return Publication(parts, chosen, notes)


def _render(pub: Publication, catalog: Catalog, ledger: Ledger) -> list[str]:
    """Every channel's rendition before anything goes out: one half that cannot render holds back the
    whole bundle. Validation rendered them; only a catalog made without rendering renders here."""
    futures = {(r.id, ch): render_channel.submit(ch, quote(r), quote(catalog.context(r))) for r, ch in pub.rows()
               if (r.id, ch) not in catalog.renditions}
    broken: list[str] = []
    for (rid, ch), fut in futures.items():
        try:
            catalog.renditions[(rid, ch)] = fut.result()
        except RenditionError as e:
            broken.append(f"{rid} / {channels.get(ch).label}：{e}")
    for r, ch in pub.rows():
        if (r.id, ch) in catalog.renditions:
            pub.renditions[(r.id, ch)] = catalog.renditions[(r.id, ch)]
            ledger.mark_rendered(ledger.get(r.id, ch, r.version), pub.renditions[(r.id, ch)].content_hash)
    for r in pub.parts:
        _table_artifact(ledger, pub, r, f"0/{len(pub.chosen[r.id])} 个渠道已完成（各渠道稿件已生成）")
        for ch in pub.chosen[r.id]:
            if channels.get(ch).preview and (r.id, ch) in pub.renditions:
                _preview_artifact(pub.renditions[(r.id, ch)], channels.get(ch))
    if not broken:
        # Each channel's text stays on its ledger row, so a later correction can show what changed.
        remember(ledger, pub.parts, pub.renditions)
        record_audit(pub, catalog, ledger)
    return broken


def record_audit(pub: Publication, catalog: Catalog, ledger: Ledger) -> None:
    """The fidelity audit (R1, R5) of what goes out: on each ledger row what was checked, and a table
    artifact per release of the run."""
    for r in pub.parts:
        result = catalog.audits.get(r.id) or audit_release(r, catalog)
        summary = result.summary()
        for ch in pub.chosen[r.id]:
            if ch in summary["channels"]:
                ledger.save_steps(ledger.get(r.id, ch, r.version),
                                  {"audit": {"version": r.version, "facts": summary["facts"], **summary["channels"][ch]}})
        key, table = f"audit-{r.id}", fidelity.table(result, catalog.waived_for(r))
        description = f"事实核对：{len(result.facts)} 项原稿事实 · {r.title}"
        kept_artifact(key, json.dumps(table, ensure_ascii=False), description,
                      lambda: create_table_artifact(key=key, table=table, description=description))


def _embargo(pub: Publication, ledger: Ledger, now: bool, actor: str, logger) -> bool:
    """Whether the embargo is overridden; otherwise wait for it."""
    if pub.emergency and not now:
        # R4: authoritative information goes out at once; the embargo does not hold an emergency back.
        for r in pub.parts:
            ledger.log(r.id, "", r.version, "emergency-fast-path", actor, "突发事件：不等待发布时间，快速渠道优先")
        return True
    if not now:
        # A bundle goes out when its last half may: never before any half's embargo.
        wait_for_embargo(max(pub.parts, key=lambda p: p.publish_at), logger)
    return now


def _deliver(pub: Publication, settings: Settings, ledger: Ledger, now: bool) -> None:
    """Every channel as one task (both halves of a bundle together); an emergency's fast channels first."""
    token = worker_token()
    delays = engine.retry_delays(settings)
    deliver = deliver_unit.with_options(retries=len(delays), retry_delay_seconds=delays or 0)
    units: dict[str, list] = {}
    for r, ch in pub.rows():  # document first (bundle_of orders it so)
        units.setdefault(ch, []).append((r, pub.renditions[(r.id, ch)]))
    head = pub.head
    progress = create_progress_artifact(progress=0.0, key=f"progress-{head.id}", description=f"{head.title}：发布进度")
    # An emergency reaches the fast channels (where the public looks first) before the rest.
    quick = [ch for ch in units if not channels.get(ch).slow]
    waves = ([[ch for ch in quick if channels.get(ch).fast], [ch for ch in quick if not channels.get(ch).fast]]
             if pub.emergency else [quick])
    # A channel with heavy work at delivery (the video's encoding) goes after the others, never in their way.
    waves.append([ch for ch in units if channels.get(ch).slow])
    done, at = 0, clock.now()  # one moment for the whole run: every channel shows the same 发布时间
    for wave in filter(None, waves):
        # quote(): the renditions (every file's bytes) and settings go to the task as they are; Prefect would
        # otherwise walk them twice per task looking for futures (about half a CPU-second a run).
        running = {deliver.submit(ch, quote(units[ch]), quote(settings), token, now, len(units[ch]), at): ch
                   for ch in wave}
        for fut in as_completed(list(running)):
            ch = running[fut]
            done += 1
            update_progress_artifact(progress, progress=100.0 * done / max(1, len(units)))
            for r in pub.parts:
                if ch in pub.chosen[r.id]:
                    _table_artifact(ledger, pub, r, f"{done}/{len(units)} 个渠道已完成")


def _schedule_quota_retries(pub: Publication, ledger: Ledger, logger) -> None:
    """Channels waiting for their outlet's quota: with a Prefect server, a run of those channels is scheduled
    at the reset (recorded in the ledger); without one, ``pressroom publish`` says when to run again."""
    from pressroom.delivery import schedule

    waits: dict[datetime, list[str]] = {}
    for r, ch in pub.rows():
        until = waiting_until(ledger.get(r.id, ch, r.version))
        if until is not None:
            waits.setdefault(until, []).append(ch)
    if not waits or not schedule.server_configured():
        return
    for at, chs in waits.items():
        try:
            run = schedule.schedule_retry(pub.head, at, sorted(set(chs)))
        except Exception as e:  # no deployment, server trouble: the editor is told to run again by hand
            logger.warning("could not schedule the retry at %s: %s", at.isoformat(), e)
            continue
        for r, ch in pub.rows():
            if ch in chs:
                ledger.log(r.id, ch, r.version, "retry-scheduled", "",
                           f"额度恢复后自动重试：{at.isoformat()}，流程运行 {run.name}（{run.id}）")


def _after_delivery(pub: Publication, catalog: Catalog, ledger: Ledger) -> dict:
    """The column, its feeds and the press hall rebuilt once a page went out; a link to each publication."""
    if any(channels.get(ch).column and ledger.get(r.id, ch, r.version).state == PUBLISHED for r, ch in pub.rows()):
        refresh_portal(catalog.settings, catalog)
    outcomes = {(r.id, ch): engine.outcome(ledger, engine.Job(r.id, ch, r.version)) for r, ch in pub.rows()}
    for r in pub.parts:  # the event an emergency's 5-hour automation expects (pressroom.delivery.automations)
        if any(o.state == PUBLISHED for (rid, _), o in outcomes.items() if rid == r.id):
            automations.report_published(r.id, r.title)
    for (rid, ch), o in outcomes.items():
        if o.state == PUBLISHED and o.url.startswith("http"):
            create_link_artifact(key=f"link-{rid}-{ch}", link=o.url,
                                 link_text=f"{channels.get(ch).label}：{catalog.releases[rid].title}",
                                 description=f"已发布：{channels.get(ch).label}")
    return outcomes


def _report(pub: Publication, settings: Settings, ledger: Ledger, outcomes: dict, logger):
    """The run's result, and (R9) a notice to the offices concerned for bundles and emergencies."""
    head, many = pub.head, len(pub.parts) > 1
    summary: dict = {"release": head.id, "version": head.version, "title": head.title,
                     "channels": {ch: o.state for (rid, ch), o in outcomes.items() if rid == head.id},
                     "notes": {f"{rid}/{ch}": n for (rid, ch), n in pub.notes.items()}}
    if many:
        summary["bundle"] = {r.id: {ch: o.state for (rid, ch), o in outcomes.items() if rid == r.id} for r in pub.parts}
        summary["skew_seconds"] = engine.bundle_skew(list(outcomes.values()))
        logger.info("bundle %s: delivery skew %.3f s", head.id, summary["skew_seconds"])
    shown = min((o.shown_at for o in outcomes.values() if o.shown_at), default=None)
    if shown is not None:  # the 发布时间 the pages show, and how late against publish_at (R2)
        summary["shown_at"] = shown.isoformat()
        summary["late_minutes"] = max(o.late_minutes for o in outcomes.values())
        if summary["late_minutes"]:
            logger.warning("published %d minutes after publish_at; pages show %s", summary["late_minutes"],
                           shown.isoformat())
    failed = {k: o for k, o in outcomes.items() if o.state != PUBLISHED}

    def who(rid, ch):
        return f"{rid} / {channels.get(ch).label}" if many else channels.get(ch).label

    lines = [f"{who(rid, ch)}：{STATE_LABELS.get(o.state, o.state)}（{o.error}）" for (rid, ch), o in failed.items()]
    lines += [f"{who(rid, ch)}：{n}" for (rid, ch), n in pub.notes.items()]
    if many or pub.emergency:
        if "skew_seconds" in summary:
            lines.append(f"同步误差（最后一个与第一个渠道送达的时间差）：{summary['skew_seconds']:.1f} 秒")
        notify(settings, ledger, pub.parts, "failed" if failed or pub.notes else "published",
               lines or [f"{who(rid, ch)}：已发布 {o.url}" for (rid, ch), o in outcomes.items()])
    if failed or pub.notes:
        return Failed(message=f"{head.title}：{len(failed) + len(pub.notes)} 个渠道未发布\n" + "\n".join(lines),
                      data=summary)
    logger.info("published %s on %d channel deliveries", " + ".join(p.id for p in pub.parts), len(outcomes))
    return summary


def approval_gate(parts: list[Release], catalog: Catalog, ledger: Ledger, emergency: bool, actor: str,
                  logger) -> str | None:
    """Wait for every configured sign-off on exactly this content; returns why publishing must stop.
    ``actor``: the verified person who let an emergency out ahead of its sign-offs."""
    settings = catalog.settings
    policy = approval.policy(settings)
    if not approval.needs_approval(parts, policy):
        return None
    head, sig = parts[0], approval.signature(parts)
    if emergency:
        # R4: an emergency does not wait; the sign-offs follow (审核待补签) and are recorded then.
        ledger.log(head.id, "", sig, approval.DEFERRED, actor, "突发事件先发布，审核待补签")
        return None
    refused = _refused_so_far(sig)
    while (level := approval.next_level(ledger, parts, policy)) is not None:
        asked = _ask(parts, catalog, ledger, level, refused, logger)
        if isinstance(asked, str):
            return asked
        decision, given_at = asked
        try:
            approval.sign(settings, ledger, parts, decision.approve, decision.reviewer, decision.code,
                          decision.comment, level=level, run_id=str(flow_run.get_id() or ""), given_at=given_at)
        except reviewers.Refused as e:  # recorded by ``sign``; the form is shown again
            refused += 1
            logger.warning("sign-off refused (%s): %s", level, e)
            if refused >= MAX_REFUSED:
                return f"{head.title}：{level}审核被拒绝 {refused} 次（{e}），未发布到任何渠道"
            continue
        if not decision.approve:
            return (f"{head.title}：{level} {decision.reviewer} 驳回，未发布到任何渠道。"
                    f"理由：{decision.comment or '（未填写）'}")
    # What was signed must be what goes out: an edit during the wait voids the sign-offs.
    current = validate(settings, render=False, only=head.id)
    now_parts = [current.releases.get(r.id) for r in parts]
    if any(x is None for x in now_parts) or approval.signature(now_parts) != sig:
        ledger.log(head.id, "", sig, "approval-void", "", "审核期间稿件被修改")
        return f"{head.title}：审核期间稿件被修改，原审核作废；请重新发布并重新审核"
    return None


def _ask(parts: list[Release], catalog: Catalog, ledger: Ledger, level: str, refused: int, logger):
    """Show the approval page and pause for one decision at ``level``: the decision, or why the run stops."""
    from pressroom.sites.preview import build_approval_page

    settings, head, sig = catalog.settings, parts[0], approval.signature(parts)
    policy = approval.policy(settings)
    names = approval.allowed(settings, parts, level)
    page = build_approval_page(parts, catalog, ledger, settings.outbox_dir / "preview" / head.id)
    _approval_artifact(head, level, sig, names, page, refused)
    logger.info("waiting for approval: %s (signature %s)", level, sig)
    form = decision_form(names).with_initial_data(description=f"审核“{head.title}”：{level}")
    key = f"approval-{sig}-{policy.levels.index(level) + 1}-{refused}"  # keys: [a-z0-9-] only
    try:
        if deployment.id:
            # A deployment's run is suspended: no process waits, so the approval survives a restart of
            # `pressroom serve` or a worker; resuming starts the run again from the top, and this call
            # then returns the decision given for this key.
            decision = suspend_flow_run(wait_for_input=form, timeout=policy.timeout_seconds, key=key)
        else:
            decision = pause_flow_run(wait_for_input=form, timeout=policy.timeout_seconds, key=key)
        return decision, _given_at(f"{'suspended' if deployment.id else 'paused'}-{key}")
    except FlowPauseTimeout as e:  # nobody decided in time
        ledger.log(head.id, "", sig, "approval-timeout", "", str(e))
        return f"{head.title}：{level}审核超时（{policy.timeout_seconds // 3600} 小时），未发布到任何渠道"


def _approval_artifact(head: Release, level: str, sig: str, names: list[str], page, refused: int) -> None:
    """The run page's note of what waits for whom, with the approval page's link."""
    key = f"approval-{head.id}"
    description = f"等待{level}审核 · {head.title}"
    markdown = (f"## 待审核：{level}\n\n**{head.title}**（{head.kind_label}，内容签名 `{sig}`）\n\n"
                  f"- 审签页（各渠道的实际样子、审核状态，可打印为发稿审签单）：[{page.name}]({page.as_uri()})\n"
                  f"- 本级可签署：{'、'.join(names) or '（名单中无人可签，请在 content/reviewers.yaml 中登记）'}\n\n"
                  + ("上一次提交被拒绝（见运行日志），请重新填写。\n\n" if refused else "")
                  + "在本页点击 Resume，选择审核人、填写手机上的动态口令；或运行 "
                    f"`pressroom approve {head.id} --reviewer 姓名 --code 动态口令`（驳回加 `--reject --comment 理由`）")
    kept_artifact(key, markdown, description,
                  lambda: create_markdown_artifact(key=key, markdown=markdown, description=description))


def _given_at(base_key: str) -> datetime | None:
    """When the server received the decision for this pause: its code is checked against that time, since
    a resumed run reads it up to a minute later (a code lives 30 s)."""
    from prefect.client.orchestration import get_client
    from prefect.input.run_input import keyset_from_base_key

    run_id = flow_run.get_id()
    if not run_id:
        return None
    with get_client(sync_client=True) as client:
        found = client.filter_flow_run_input(run_id, key_prefix=keyset_from_base_key(base_key)["response"], limit=1,
                                             exclude_keys=set())
    return found[0].created if found else None


def _refused_so_far(sig: str) -> int:
    """How many decisions on this content were refused before: 0, unless a suspended run is starting again
    from the top after a resume. Its earlier approval keys (``approval-<sig>-<level>-<refused>``) say where it
    was, so a decision already refused is neither asked for again nor counted twice."""
    if not deployment.id or (run := _this_run()) is None:
        return 0
    keys = run.empirical_policy.pause_keys or set()
    seen = [int(k.rsplit("-", 1)[1]) for k in keys if k.startswith(f"approval-{sig}-")]
    return max(seen, default=0)


def _resumed() -> bool:
    """A suspended run starting again after its approval: not late, however long the sign-off took."""
    if not deployment.id or (run := _this_run()) is None:
        return False
    return bool(run.empirical_policy.pause_keys)


def _note_late_start(head: Release, ledger: Ledger, logger) -> None:
    """A scheduled run that could not start on time (no worker was up) runs as soon as one returns: say
    how late, in the log and the ledger."""
    scheduled = flow_run.scheduled_start_time
    if scheduled is None or _resumed():
        return
    late = (datetime.now(timezone.utc) - scheduled).total_seconds()
    if late > LATE_START.total_seconds():
        msg = f"计划 {scheduled.astimezone(head.publish_at.tzinfo):%Y-%m-%d %H:%M:%S} 启动，实际晚了 {late / 60:.1f} 分钟（工作进程当时可能未运行）"
        logger.warning(msg)
        ledger.log(head.id, "", head.version, "late-start", "", msg)


def _tag_run(parts: list[Release]) -> None:
    """Tags carry kind and department so the UI can filter runs by them."""
    from prefect.client.orchestration import get_client

    run = _this_run()
    if run is None:
        return
    tags = set(run.tags)
    for r in parts:
        tags |= {f"kind:{r.kind}", f"department:{r.department.key}", f"release:{r.id}"}
    if len(parts) > 1:
        tags.add("policy-bundle")
    if tags == set(run.tags):  # a resumed run, tagged the first time
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, tags=sorted(tags))
