"""correct_release and retract_release (issue 8): a published release corrected, or withdrawn, on every
channel that carried it, in the way each outlet allows — with a channel table in the Prefect UI like a publish
run, and every step in the ledger (``pressroom history``).

Correction (after the editor fixed the content): the new version goes to every channel that had an older one,
through the publish flow's own ``deliver_one``, so each channel gets it at most once and a re-run sends
nothing twice. The portal page carries a dated 更正说明 (and the feed entry is updated, same GUID); WeChat
gets a new article marked 【更正】 linking the old one (the platform cannot edit a published article), and
the old one is deleted when ``[corrections] wechat_delete_old = true`` (or ``delete_old=True``); Weibo a
correction post linking the original; the newspaper and TV desks a 更正通知 with the changes marked.

Retraction: WeChat article(s) and Weibo post(s) deleted where the transport can delete; the portal (and H5)
page replaced by a withdrawal notice; a 撤稿通知 to the desks; every published row ``retracted`` with the
reason. A policy document and its interpretation are corrected or withdrawn as a unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pressroom import runtime

runtime.configure()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_link_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402
from prefect.states import Failed, State  # noqa: E402

import channels  # noqa: E402
from flows.publish import Outcome, approval_gate, checked_bundle, deliver_one, retry_delays  # noqa: E402
from pressroom.delivery import corrections as cx  # noqa: E402
from pressroom.releases.catalog import Catalog, validate  # noqa: E402
from pressroom.errors import RenditionError, ValidationFailed  # noqa: E402
from pressroom.delivery.ledger import (  # noqa: E402
    CORRECT, PUBLISHED, RETRACT, RETRACTED, STATE_LABELS, Ledger, worker_token,
)
from pressroom.model import Release  # noqa: E402
from pressroom.settings import Settings, load_settings  # noqa: E402
from pressroom.transports import PermanentError, TransientError, TransportError, transport_for  # noqa: E402

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Stub:
    """What ``deliver_one`` needs of a release to deliver a retraction row's notice: the row of ``action``
    for the version withdrawn."""

    id: str
    version: str
    publish_at: datetime = EPOCH
    action: str = RETRACT


def _label(channel: str) -> str:
    return channels.adapter(channel).LABEL


def _title(release: str) -> str:
    """The release's title for a run name: from the content, else from what the ledger kept."""
    settings = load_settings()
    try:
        return _loaded(settings, release)[0][0].title
    except Exception:  # noqa: BLE001 — a run name must never fail the run
        rows = Ledger(settings.ledger_url).rows(release)
        return next((d.steps[cx.SNAPSHOT]["title"] for d in rows if cx.SNAPSHOT in d.steps), release)


def _correct_run_name() -> str:
    return f"更正: {_title(flow_run.parameters.get('release', ''))}"


def _retract_run_name() -> str:
    return f"撤稿: {_title(flow_run.parameters.get('release', ''))}"


def _tag_run(ids: list[str], kind: str) -> None:
    from prefect.client.orchestration import get_client

    run_id = flow_run.get_id()
    if not run_id:
        return
    with get_client(sync_client=True) as client:
        tags = set(client.read_flow_run(run_id).tags) | {kind} | {f"release:{i}" for i in ids}
        client.update_flow_run(run_id, tags=sorted(tags | ({"policy-bundle"} if len(ids) > 1 else set())))


# =============================================================================================
# Correction


@task(cache_policy=NO_CACHE, task_run_name="生成更正稿 {channel}")
def render_correction(channel: str, release: Release, ctx, c: cx.Correction, earlier: list, old: str | None):
    base = channels.render(channel, release, ctx)
    return base, cx.correction_rendition(channel, release, ctx, base, c, earlier, old)


@task(cache_policy=NO_CACHE, task_run_name="更正 {channel}（{len_parts} 篇）")
def correct_unit(channel: str, items: list, settings: Settings, token: str, delete_old: bool, actor: str,
                 len_parts: int = 1) -> list[Outcome]:
    """One channel of the correction, document first. A transient failure retries the unit; what is already
    published is skipped by the ledger."""
    logger = get_run_logger()
    out = []
    for release, rendition in items:
        o = deliver_one(channel, rendition, release, settings, token, True, logger)
        if o.state == PUBLISHED:
            o.notes += _after_correction(channel, release, settings, delete_old, actor, logger)
        out.append(o)
    return out


def _after_correction(channel: str, release: Release, settings: Settings, delete_old: bool, actor: str,
                      logger) -> list[str]:
    """Once the correction is out: the old version is superseded, or (WeChat, when configured) deleted."""
    ledger = Ledger(settings.ledger_url)
    d = ledger.get(release.id, channel, release.version)
    if d.steps.get("old_handled"):
        return []
    c = cx.Correction.from_json(d.steps[cx.CORRECTION])
    old = ledger.get(release.id, channel, c.corrects)
    notes = []
    transport = transport_for(settings, channel)
    if channel == "wechat" and delete_old and old.state == PUBLISHED:
        if hasattr(transport, "retract"):
            try:
                done = transport.retract(old, ledger)  # TransientError: the task retries
            except PermanentError as e:
                ledger.log(release.id, channel, c.corrects, "delete-failed", actor, str(e))
                return [f"原文未能删除：{e}"]
            ledger.set_state(old, RETRACTED, f"已由更正稿（版本 {release.version}）取代：{done}", actor)
            ledger.save_steps(d, {"old_handled": "deleted"})
            logger.info("wechat: old article deleted (%s)", done)
            return [done]
        notes.append("发件箱方式无法自动删除原文，请到公众平台“发表记录”中删除")
    ledger.log(release.id, channel, c.corrects, "superseded", actor, f"已由更正稿（版本 {release.version}）取代")
    ledger.save_steps(d, {"old_handled": "kept"})
    return notes


def _correction_records(ledger: Ledger, p: Release, note: str, actor: str, now: datetime) -> bool:
    """Save the correction record on each new row before anything is sent (once: a re-run reuses it, so it
    renders the same copies). True when this run started the correction."""
    rows = ledger.rows(p.id)
    plan = cx.correction_plan(rows, p.version)
    todo = {ch: item for ch, item in plan.items() if item.correction is None}
    if not todo:
        return False
    started = next((i.correction for i in plan.values() if i.correction), None)
    at = started.at if started else now
    texts: dict[str, str] = {}
    for ch, item in sorted(todo.items()):
        v = item.old.version
        if v not in texts:
            texts[v] = note or cx.summary(cx.old_text(rows, v), cx.release_text(p))
        snap = item.old.steps.get(cx.SNAPSHOT) or {}
        c = cx.Correction(at, v, texts[v], actor, item.old.url, snap.get("title", p.title), item.old.published_at)
        ledger.save_steps(ledger.ensure(p.id, ch, p.version, CORRECT), {cx.CORRECTION: c.to_json()})
    if not started:
        olds = "、".join(sorted(texts))
        ledger.log(p.id, "", p.version, "correction-requested", actor,
                   f"更正已发布的版本 {olds}，渠道：{'、'.join(_label(ch) for ch in sorted(todo))}；更正说明：{texts[min(texts)]}")
    return not started


def correction_table(ledger: Ledger, p: Release) -> list[dict]:
    rows = []
    for ch, item in sorted(cx.correction_plan(ledger.rows(p.id), p.version).items()):
        d = item.new
        rows.append({"渠道": _label(ch), "原版本": item.old.version, "更正版本": p.version,
                     "状态": STATE_LABELS.get(d.state, d.state) if d else "—", "尝试次数": d.attempts if d else 0,
                     "链接": d.url if d else "", "说明": (d.last_error if d else "")[:200]})
    return rows


def _correction_artifact(ledger: Ledger, p: Release, stage: str) -> None:
    create_table_artifact(key=f"correction-{p.id}", table=correction_table(ledger, p),
                          description=f"**更正：{p.title}**（{p.kind_label}，版本 {p.version}）— {stage}")


@flow(name="correct-release", flow_run_name=_correct_run_name, log_prints=False)
def correct_release(release: str, note: str = "", actor: str = "", delete_old: bool | None = None) -> dict:
    """Publish the corrected version of ``release`` (its whole policy bundle) to every channel that carried an
    older one. ``note`` is the public 更正说明 (default: the changed wording, quoted); ``delete_old``
    deletes the old WeChat article (default ``[corrections] wechat_delete_old``)."""
    logger = get_run_logger()
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    catalog = validate(settings, only=release)
    parts = checked_bundle(catalog, release, "未更正任何渠道", logger)
    if isinstance(parts, State):
        return parts
    head = parts[0]
    _tag_run([p.id for p in parts], "correction")
    if any(cx.is_retracted(ledger.rows(p.id)) for p in parts):
        return Failed(message=f"{head.title}：稿件已撤稿，不能更正")
    if delete_old is None:
        delete_old = bool(settings.extra.get("corrections", {}).get("wechat_delete_old", False))
    now = datetime.now(timezone.utc).replace(microsecond=0)  # shown on pages: whole seconds
    for p in parts:
        _correction_records(ledger, p, note.strip(), actor, now)
    plans = {p.id: cx.correction_plan(ledger.rows(p.id), p.version) for p in parts}
    if not any(plans.values()):
        published = any(d.state == PUBLISHED for p in parts for d in ledger.rows(p.id))
        if not published:
            return Failed(message=f"{head.title}：尚未发布，无需更正；请用 pressroom publish 发布")
        logger.info("nothing to correct: every channel carries version %s", head.version)
        return {"release": head.id, "version": head.version, "title": head.title, "channels": {},
                "note": "各渠道已是当前版本，无需更正"}

    # Render every correction first: one that cannot render holds the whole correction back.
    futures = {}
    for p in parts:
        ctx = catalog.context(p)
        rows = ledger.rows(p.id)
        earlier = [cx.Correction.from_json(d.steps[cx.CORRECTION]) for d in rows
                   if d.channel == "portal" and d.version != p.version and cx.is_correction(d)
                   and cx.CORRECTION in d.steps
                   and d.state in (PUBLISHED, RETRACTED)]
        for ch, item in plans[p.id].items():
            if item.done:
                continue
            old = cx.old_text(rows, item.old.version, ch if ch in cx.DESK_CHANNELS else None)
            futures[(p.id, ch)] = render_correction.submit(ch, p, ctx, item.correction, earlier, old)
    renditions, broken, bases = {}, [], {}
    for (rid, ch), fut in futures.items():
        try:
            bases[(rid, ch)], renditions[(rid, ch)] = fut.result()
        except RenditionError as e:
            broken.append(f"{rid} / {_label(ch)}：{e}")
    if broken:
        return Failed(message="更正稿生成失败，未更正任何渠道：\n" + "\n".join(broken))
    cx.remember(ledger, parts, bases)  # what the next correction will compare with
    for (rid, ch), rendition in renditions.items():
        ledger.mark_rendered(ledger.get(rid, ch, catalog.releases[rid].version), rendition.content_hash)
    for p in parts:
        _correction_artifact(ledger, p, "已生成各渠道更正稿")
    if renditions:
        # A correction is new content: the same sign-offs as a publication (an emergency's may follow).
        refused = approval_gate(parts, catalog, ledger, any(p.kind == "emergency" for p in parts), actor, logger)
        if refused:
            return Failed(message=f"更正未发出：{refused}")

    token = worker_token()
    delays = retry_delays(settings)
    unit = correct_unit.with_options(retries=len(delays), retry_delay_seconds=delays or 0)
    units: dict[str, list] = {}
    for p in parts:
        for ch in plans[p.id]:
            if (p.id, ch) in renditions:
                units.setdefault(ch, []).append((p, renditions[(p.id, ch)]))
    running = {ch: unit.submit(ch, items, settings, token, delete_old, actor, len(items)) for ch, items in units.items()}
    notes: dict[tuple[str, str], list[str]] = {}
    for ch, fut in running.items():
        try:
            for p, o in zip([p for p, _ in units[ch]], fut.result()):
                notes[(p.id, ch)] = o.notes
        except TransportError as e:  # retries exhausted; the ledger says failed
            logger.error("%s: correction not delivered: %s", ch, e)
    for p in parts:  # channels finished in an earlier run still get their follow-up (e.g. a retried delete)
        for ch, item in cx.correction_plan(ledger.rows(p.id), p.version).items():
            if item.done and (p.id, ch) not in notes:
                notes[(p.id, ch)] = _after_correction(ch, p, settings, delete_old, actor, logger)

    if any(ch == "portal" for ch in units):
        cx.refresh_column(settings, catalog, ledger)
    summary: dict = {"release": head.id, "version": head.version, "title": head.title, "channels": {}, "notes": {}}
    failed = []
    for p in parts:
        plan = cx.correction_plan(ledger.rows(p.id), p.version)
        complete = all(i.done for i in plan.values())
        _correction_artifact(ledger, p, "更正完成" if complete else "部分渠道未更正")
        states = {ch: i.new.state if i.new else "pending" for ch, i in plan.items()}
        if p is head:
            summary["channels"] = states
        else:
            summary.setdefault("bundle", {})[p.id] = states
        for ch, i in plan.items():
            if i.done and i.new.url.startswith("http"):
                create_link_artifact(key=f"correction-link-{p.id}-{ch}", link=i.new.url,
                                     link_text=f"{_label(ch)}更正：{p.title}")
            elif not i.done:
                failed.append(f"{p.id} / {_label(ch)}：{STATE_LABELS.get(states[ch], states[ch])}"
                              f"（{i.new.last_error if i.new else ''}）")
            if notes.get((p.id, ch)):
                summary["notes"][f"{p.id}/{ch}"] = "；".join(notes[(p.id, ch)])
        if complete and any((p.id, ch) in renditions for ch in plan):  # finished by this run
            ledger.log(p.id, "", p.version, "correction-complete", actor,
                       "已更正：" + "、".join(_label(ch) for ch in sorted(plan)))
    if failed:
        return Failed(message=f"{head.title}：{len(failed)} 个渠道未完成更正\n" + "\n".join(failed), data=summary)
    logger.info("corrected %s on %d channels", " + ".join(p.id for p in parts), sum(len(v) for v in plans.values()))
    return summary


# =============================================================================================
# Retraction


def _loaded(settings: Settings, release: str) -> tuple[list[Release], Catalog]:
    """The release and its bundle as loaded (validation not required: a release issued in error may no longer
    pass it, and must still be withdrawable)."""
    from pressroom.releases.loader import load_all, load_registry

    registry = load_registry(settings.content_dir)
    releases, problems = load_all(settings, registry)
    catalog = Catalog(settings, registry, dict(releases), problems)
    r = catalog.find(release)
    return catalog.bundle_of(r), catalog


@task(cache_policy=NO_CACHE, task_run_name="撤稿 {channel}（{len_parts} 篇）")
def retract_unit(channel: str, items: list, settings: Settings, token: str, actor: str,
                 len_parts: int = 1) -> list[Outcome]:
    """Withdraw one channel, document first: delete on the platform when the transport can, else deliver the
    withdrawal notice; then every published row of the release on this channel is ``retracted``."""
    logger = get_run_logger()
    ledger = Ledger(settings.ledger_url)
    transport = transport_for(settings, channel)
    out = []
    for release_id, version, rendition in items:
        row = ledger.get(release_id, channel, version, RETRACT)
        w = cx.Withdrawal.from_json(row.steps[cx.WITHDRAWAL])
        if row.state == RETRACTED:
            out.append(Outcome(channel, RETRACTED, row.attempts, row.url, notes=["已撤稿，未重复操作"]))
            continue
        if hasattr(transport, "retract"):
            o = _delete(channel, transport, ledger, row, w, token, actor, logger)
        else:
            o = deliver_one(channel, rendition, Stub(release_id, version), settings, token, True, logger)
        if o.state == PUBLISHED:  # the notice is out, or everything is deleted
            for d in cx.live_rows(ledger.rows(release_id)).get(channel, []):
                ledger.set_state(d, RETRACTED, f"撤稿：{w.reason}", actor)
            ledger.set_state(ledger.get(release_id, channel, version, RETRACT), RETRACTED, f"撤稿：{w.reason}", actor)
            o = Outcome(channel, RETRACTED, o.attempts, o.url, notes=o.notes)
        out.append(o)
    return out


def _delete(channel, transport, ledger: Ledger, row, w: cx.Withdrawal, token: str, actor: str, logger) -> Outcome:
    """Delete every published copy (the original and any correction) at most once per claim; deleting is
    idempotent on the platforms (gone counts as deleted), so a retry is safe."""
    claimed = ledger.claim(row, token)
    if claimed is None:
        d = ledger.refresh(row)
        return Outcome(channel, d.state, d.attempts, d.url, d.last_error, notes=["由另一次运行处理"])
    done = []
    try:
        for d in cx.live_rows(ledger.rows(row.release_id)).get(channel, []):
            what = transport.retract(d, ledger)
            ledger.set_state(d, RETRACTED, f"撤稿：{w.reason}（{what}）", actor)
            done.append(what)
    except TransientError as e:
        ledger.mark_failed(claimed, token, f"暂时性错误：{e}")
        logger.warning("%s: transient error while deleting, will retry: %s", channel, e)
        raise
    except TransportError as e:
        ledger.mark_failed(claimed, token, str(e))
        logger.error("%s: could not delete: %s", channel, e)
        d = ledger.refresh(row)
        return Outcome(channel, d.state, d.attempts, error=d.last_error)
    ledger.save_steps(claimed, {"deleted": done})
    ledger.mark_published(claimed, token, url=w.old_url)  # the action is done; the caller marks it retracted
    return Outcome(channel, PUBLISHED, claimed.attempts, w.old_url, notes=done)


def retraction_table(ledger: Ledger, settings: Settings, release_id: str) -> list[dict]:
    rows = []
    for ch, d in sorted(cx.retraction_rows(ledger.rows(release_id)).items()):
        deletes = hasattr(transport_for(settings, ch), "retract")
        rows.append({"渠道": _label(ch), "撤回版本": d.version,
                     "方式": "平台删除" if deletes else "撤稿通知", "状态": STATE_LABELS.get(d.state, d.state),
                     "尝试次数": d.attempts,
                     "说明": ("；".join(d.steps.get("deleted") or []) or d.last_error or d.url)[:200]})
    return rows


@flow(name="retract-release", flow_run_name=_retract_run_name, log_prints=False)
def retract_release(release: str, reason: str, notice: str = "", actor: str = "") -> dict:
    """Withdraw ``release`` (its whole policy bundle) from every channel that carried it. ``reason`` goes to
    the ledger and the desks; ``notice`` is what the public reads on the withdrawal page."""
    logger = get_run_logger()
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    if not reason.strip():
        return Failed(message="请填写撤稿原因（--reason）")
    try:
        parts, catalog = _loaded(settings, release)
        ids, titles = [p.id for p in parts], {p.id: p.title for p in parts}
    except (KeyError, ValidationFailed):
        catalog = None
        ids, titles = [release], {release: _title(release)}
    _tag_run(ids, "retraction")
    now = datetime.now(timezone.utc).replace(microsecond=0)  # shown on pages: whole seconds
    todo: dict[str, list] = {}  # channel -> [(release id, version withdrawn, rendition)]
    for rid in ids:
        rows = ledger.rows(rid)
        live, done = cx.live_rows(rows), cx.retraction_rows(rows)
        started = bool(done)
        for ch in sorted(set(live) | set(done)):
            version = live[ch][-1].version if ch in live else done[ch].version
            row = ledger.get(rid, ch, version, RETRACT)
            if row is None:
                newest = live[ch][-1]
                w = cx.Withdrawal(now, newest.version, reason.strip(), notice.strip(), titles.get(rid, rid), actor,
                                  cx.first_published(d for d in rows if d.channel == ch), newest.url)
                if not started:
                    ledger.log(rid, "", "", "retract-requested", actor, f"撤稿原因：{w.reason}")
                    started = True
                row = ledger.ensure(rid, ch, version, RETRACT)
                ledger.save_steps(row, {cx.WITHDRAWAL: w.to_json()})
                row = ledger.refresh(row)
            if row.state == RETRACTED and ch not in live:
                continue
            w = cx.Withdrawal.from_json(row.steps[cx.WITHDRAWAL])
            rendition = cx.withdrawal_rendition(ch, rid, channels.RenderContext(settings), w)
            if row.state not in (PUBLISHED, RETRACTED):
                ledger.mark_rendered(row, rendition.content_hash)
            todo.setdefault(ch, []).append((rid, version, rendition))
    if not todo:
        if any(cx.is_retracted(ledger.rows(rid)) for rid in ids):
            logger.info("already retracted: %s", " + ".join(ids))
            return {"release": ids[0], "title": titles.get(ids[0], ids[0]), "channels": {}, "note": "已撤稿，未重复操作"}
        return Failed(message=f"{titles.get(ids[0], ids[0])}：没有发布到任何渠道，无需撤稿")
    for rid in ids:
        create_table_artifact(key=f"retraction-{rid}", table=retraction_table(ledger, settings, rid),
                              description=f"**撤稿：{titles.get(rid, rid)}** — 开始撤回")

    token = worker_token()
    delays = retry_delays(settings)
    unit = retract_unit.with_options(retries=len(delays), retry_delay_seconds=delays or 0)
    running = {ch: unit.submit(ch, items, settings, token, actor, len(items)) for ch, items in todo.items()}
    for ch, fut in running.items():
        try:
            fut.result()
        except TransportError as e:
            logger.error("%s: not withdrawn: %s", ch, e)
    if "portal" in todo:
        cx.refresh_column(settings, catalog or validate(settings, render=False), ledger)

    summary: dict = {"release": ids[0], "title": titles.get(ids[0], ids[0]), "channels": {}, "reason": reason}
    failed = []
    for rid in ids:
        rows = ledger.rows(rid)
        done = cx.retraction_rows(rows)
        create_table_artifact(key=f"retraction-{rid}", table=retraction_table(ledger, settings, rid),
                              description=f"**撤稿：{titles.get(rid, rid)}** — 撤稿原因：{reason}")
        states = {ch: d.state for ch, d in done.items()}
        if rid == ids[0]:
            summary["channels"] = states
        else:
            summary.setdefault("bundle", {})[rid] = states
        failed += [f"{rid} / {_label(ch)}：{STATE_LABELS.get(d.state, d.state)}（{d.last_error}）"
                   for ch, d in done.items() if d.state != RETRACTED]
        failed += [f"{rid} / {_label(ch)}：仍在发布状态" for ch in cx.live_rows(rows) if ch not in done]
        if not failed and not any(e["action"] == "retraction-complete" for e in ledger.history(rid)):
            ledger.log(rid, "", "", "retraction-complete", actor,
                       "已撤回：" + "、".join(_label(ch) for ch in sorted(done)))
    if failed:
        return Failed(message=f"{summary['title']}：{len(failed)} 个渠道未完成撤稿\n" + "\n".join(failed),
                      data=summary)
    return summary
