"""correct_release and retract_release: a published release corrected, or withdrawn, on every
channel that carried it, in the way each outlet allows — with a channel table in the Prefect UI like a publish
run, and every step in the ledger (``pressroom history``).

Correction (after the editor fixed the content): the new version goes to every channel that had an older one,
through the delivery engine (``pressroom.delivery.engine``), so each channel gets it at most once and a re-run sends
nothing twice. The portal page carries a dated 更正说明 (and the feed entry is updated, same GUID); WeChat
gets a new article marked 【更正】 linking the old one (the platform cannot edit a published article), and
the old one is deleted when ``[corrections] wechat_delete_old = true`` (or ``delete_old=True``); Weibo a
correction post linking the original; the newspaper and TV desks a 更正通知 with the changes marked.

Retraction: WeChat article(s) and Weibo post(s) deleted where the transport can delete; the portal (and H5)
page replaced by a withdrawal notice; a 撤稿通知 to the desks; every published row ``retracted`` with the
reason. A policy document and its interpretation are corrected or withdrawn as a unit.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pressroom import runtime

runtime.configure()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_link_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402
from prefect.states import Failed, State  # noqa: E402

import channels  # noqa: E402
from flows.publish import approval_gate, checked_bundle  # noqa: E402
from pressroom.delivery import engine, reviewers, waivers  # noqa: E402
from channels.corrections import Correction, Withdrawal, release_text  # noqa: E402
from pressroom.delivery import corrections as cx  # noqa: E402
from pressroom.sites.site import refresh_portal_column  # noqa: E402
from pressroom.text.diff import summary  # noqa: E402
from pressroom.releases.catalog import Catalog, validate  # noqa: E402
from pressroom.errors import RenditionError, ValidationFailed  # noqa: E402
from pressroom.delivery.ledger import (  # noqa: E402
    CORRECT, PUBLISHED, RETRACT, RETRACTED, STATE_LABELS, Ledger, shown_time, worker_token,
)
from pressroom.model import Release  # noqa: E402
from pressroom.settings import Settings, load_settings  # noqa: E402
from pressroom.transports import PermanentError, TransportError  # noqa: E402

def _label(channel: str) -> str:
    return channels.get(channel).label


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


@task(name="correct", cache_policy=NO_CACHE, task_run_name="correct-{channel}")  # ASCII: the run graph's font
def correct_unit(channel: str, items: list, settings: Settings, token: str, delete_old: bool, actor: str,
                 len_parts: int = 1) -> list[engine.Outcome]:
    """One channel of the correction, document first. A transient failure retries the unit; what is already
    published is skipped by the ledger."""
    logger = get_run_logger()
    logger.info("更正 %s（%d 篇）", channels.get(channel).label, len_parts)
    out = []
    for release, rendition in items:
        o = engine.deliver(engine.Job(release.id, channel, release.version), rendition, settings, token, logger)
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
    c = Correction.from_json(d.steps[cx.CORRECTION])
    old = ledger.get(release.id, channel, c.corrects)
    notes = []
    if channel == "wechat" and delete_old and old.state == PUBLISHED:
        if engine.can_delete(settings, channel):
            try:
                done = engine.delete_one(settings, old)  # TransientError: the task retries
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
            texts[v] = note or summary(cx.old_text(rows, v), release_text(p))
        snap = item.old.steps.get(cx.SNAPSHOT) or {}
        c = Correction(at, v, texts[v], actor, item.old.url, snap.get("title", p.title),
                       shown_time(item.old))
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


def _confirmed(settings: Settings, ledger: Ledger, reviewer: str, code: str, what: str, release_id: str):
    """The verified person who confirms a correction or a retraction, or the Failed state saying why not."""
    try:
        return reviewers.verified_person(settings, ledger, reviewer, code, what, release_id)
    except reviewers.Refused as e:
        return Failed(message=f"{what}未执行：{e}")


@flow(name="correct-release", flow_run_name=_correct_run_name, log_prints=False)
def correct_release(release: str, note: str = "", reviewer: str = "", code: str = "",
                    delete_old: bool | None = None) -> dict:
    """Publish the corrected version of ``release`` (its whole policy bundle) to every channel that carried an
    older one, confirmed by a registered ``reviewer``'s one-time ``code`` (the ledger names them). ``note``
    is the public 更正说明 (default: the changed wording, quoted); ``delete_old`` deletes the old WeChat
    article (default ``[corrections] wechat_delete_old``)."""
    logger = get_run_logger()
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    catalog = waivers.validate(settings, ledger, only=release)
    parts = checked_bundle(catalog, release, "未更正任何渠道", logger)
    if isinstance(parts, State):
        return parts
    actor = _confirmed(settings, ledger, reviewer, code, "更正", parts[0].id)
    if isinstance(actor, State):
        return actor
    _tag_run([p.id for p in parts], "correction")
    if delete_old is None:
        delete_old = settings.corrections.wechat_delete_old
    plans, done = _plans(parts, ledger, note, actor)
    if done is not None:
        return done
    renditions = _render_corrections(parts, plans, catalog, ledger)
    if isinstance(renditions, State):
        return renditions
    if renditions:
        # A correction is new content: the same sign-offs as a publication (an emergency's may follow).
        refused = approval_gate(parts, catalog, ledger, any(p.kind == "emergency" for p in parts), actor, logger)
        if refused:
            return Failed(message=f"更正未发出：{refused}")
    notes = _deliver_corrections(parts, plans, renditions, settings, ledger, delete_old, actor, logger)
    if any(channels.get(ch).column for p in parts for ch in plans[p.id] if (p.id, ch) in renditions):
        refresh_portal_column(settings, catalog, ledger)
    return _correction_report(parts, plans, renditions, notes, ledger, actor, logger)


def _plans(parts: list[Release], ledger: Ledger, note: str, actor: str) -> tuple[dict, State | dict | None]:
    """The correction's records saved before anything is sent, and per release what each channel corrects
    (``cx.correction_plan``); or, second, the run's result when there is nothing to do."""
    head = parts[0]
    if any(cx.is_retracted(ledger.rows(p.id)) for p in parts):
        return {}, Failed(message=f"{head.title}：稿件已撤稿，不能更正")
    now = datetime.now(timezone.utc).replace(microsecond=0)  # shown on pages: whole seconds
    for p in parts:
        _correction_records(ledger, p, note.strip(), actor, now)
    plans = {p.id: cx.correction_plan(ledger.rows(p.id), p.version) for p in parts}
    if any(plans.values()):
        return plans, None
    if not any(d.state == PUBLISHED for p in parts for d in ledger.rows(p.id)):
        return plans, Failed(message=f"{head.title}：尚未发布，无需更正；请用 pressroom publish 发布")
    return plans, {"release": head.id, "version": head.version, "title": head.title, "channels": {},
                   "note": "各渠道已是当前版本，无需更正"}


def _render_corrections(parts: list[Release], plans: dict, catalog: Catalog, ledger: Ledger):
    """Every correction before any is sent: one that cannot render holds the whole correction back. The
    ordinary renditions are validation's; each channel shows the correction its own way."""
    renditions, broken, bases = {}, [], {}
    for p in parts:
        ctx = catalog.context(p)
        rows = ledger.rows(p.id)
        earlier = [Correction.from_json(d.steps[cx.CORRECTION]) for d in rows
                   if channels.get(d.channel).column and d.version != p.version and cx.is_correction(d)
                   and cx.CORRECTION in d.steps
                   and d.state in (PUBLISHED, RETRACTED)]
        for ch, item in plans[p.id].items():
            if item.done:
                continue
            old = cx.old_text(rows, item.old.version, ch if channels.get(ch).desk else None)
            try:
                base = catalog.renditions.get((p.id, ch)) or channels.render(ch, p, ctx)
                bases[(p.id, ch)] = base
                renditions[(p.id, ch)] = channels.correct(ch, p, ctx, base, item.correction, earlier, old)
            except RenditionError as e:
                broken.append(f"{p.id} / {_label(ch)}：{e}")
    if broken:
        return Failed(message="更正稿生成失败，未更正任何渠道：\n" + "\n".join(broken))
    cx.remember(ledger, parts, bases)  # what the next correction will compare with
    for (rid, ch), rendition in renditions.items():
        ledger.mark_rendered(ledger.get(rid, ch, catalog.releases[rid].version), rendition.content_hash)
    for p in parts:
        _correction_artifact(ledger, p, "已生成各渠道更正稿")
    return renditions


def _deliver_corrections(parts, plans, renditions, settings: Settings, ledger: Ledger, delete_old: bool,
                         actor: str, logger) -> dict[tuple[str, str], list[str]]:
    """Each channel's correction as one task (both halves of a bundle), then what follows it."""
    token = worker_token()
    delays = engine.retry_delays(settings)
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
    return notes


def _correction_report(parts, plans, renditions, notes, ledger: Ledger, actor: str, logger):
    head = parts[0]
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
        failed += _correction_links(p, plan, states, notes, summary)
        if complete and any((p.id, ch) in renditions for ch in plan):  # finished by this run
            ledger.log(p.id, "", p.version, "correction-complete", actor,
                       "已更正：" + "、".join(_label(ch) for ch in sorted(plan)))
    if failed:
        return Failed(message=f"{head.title}：{len(failed)} 个渠道未完成更正\n" + "\n".join(failed), data=summary)
    logger.info("corrected %s on %d channels", " + ".join(p.id for p in parts), sum(len(v) for v in plans.values()))
    return summary


def _correction_links(p: Release, plan: dict, states: dict, notes: dict, summary: dict) -> list[str]:
    """A link artifact per corrected channel; the channels not corrected, for the run's message."""
    failed = []
    for ch, i in plan.items():
        if i.done and i.new.url.startswith("http"):
            create_link_artifact(key=f"correction-link-{p.id}-{ch}", link=i.new.url,
                                 link_text=f"{_label(ch)}更正：{p.title}")
        elif not i.done:
            failed.append(f"{p.id} / {_label(ch)}：{STATE_LABELS.get(states[ch], states[ch])}"
                          f"（{i.new.last_error if i.new else ''}）")
        if notes.get((p.id, ch)):
            summary["notes"][f"{p.id}/{ch}"] = "；".join(notes[(p.id, ch)])
    return failed


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


@task(name="retract", cache_policy=NO_CACHE, task_run_name="retract-{channel}")  # ASCII: the run graph's font
def retract_unit(channel: str, items: list, settings: Settings, token: str, actor: str,
                 len_parts: int = 1) -> list[engine.Outcome]:
    """Withdraw one channel, document first: delete on the platform when the transport can, else deliver the
    withdrawal notice; then every published row of the release on this channel is ``retracted``."""
    logger = get_run_logger()
    logger.info("撤稿 %s（%d 篇）", channels.get(channel).label, len_parts)
    ledger = Ledger(settings.ledger_url)
    out = []
    for release_id, version, rendition in items:
        row = ledger.get(release_id, channel, version, RETRACT)
        w = Withdrawal.from_json(row.steps[cx.WITHDRAWAL])
        if row.state == RETRACTED:
            out.append(engine.Outcome(channel, RETRACTED, row.attempts, row.url, notes=["已撤稿，未重复操作"]))
            continue
        job = engine.Job(release_id, channel, version, action=RETRACT)
        if engine.can_delete(settings, channel):
            live = cx.live_rows(ledger.rows(release_id)).get(channel, [])
            o = engine.delete_all(job, live, settings, token, f"撤稿：{w.reason}", actor, w.old_url, logger)
        else:
            o = engine.deliver(job, rendition, settings, token, logger)
        if o.state == PUBLISHED:  # the notice is out, or everything is deleted
            for d in cx.live_rows(ledger.rows(release_id)).get(channel, []):
                ledger.set_state(d, RETRACTED, f"撤稿：{w.reason}", actor)
            ledger.set_state(ledger.get(release_id, channel, version, RETRACT), RETRACTED, f"撤稿：{w.reason}", actor)
            o = engine.Outcome(channel, RETRACTED, o.attempts, o.url, notes=o.notes)
        out.append(o)
    return out


def retraction_table(ledger: Ledger, settings: Settings, release_id: str) -> list[dict]:
    rows = []
    for ch, d in sorted(cx.retraction_rows(ledger.rows(release_id)).items()):
        deletes = engine.can_delete(settings, ch)
        rows.append({"渠道": _label(ch), "撤回版本": d.version,
                     "方式": "平台删除" if deletes else "撤稿通知", "状态": STATE_LABELS.get(d.state, d.state),
                     "尝试次数": d.attempts,
                     "说明": ("；".join(d.steps.get("deleted") or []) or d.last_error or d.url)[:200]})
    return rows


@flow(name="retract-release", flow_run_name=_retract_run_name, log_prints=False)
def retract_release(release: str, reason: str, notice: str = "", reviewer: str = "", code: str = "") -> dict:
    """Withdraw ``release`` (its whole policy bundle) from every channel that carried it, confirmed by a
    registered ``reviewer``'s one-time ``code`` (the ledger names them). ``reason`` goes to the ledger and
    the desks; ``notice`` is what the public reads on the withdrawal page."""
    logger = get_run_logger()
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    if not reason.strip():
        return Failed(message="请填写撤稿原因（--reason）")
    actor = _confirmed(settings, ledger, reviewer, code, "撤稿", release)
    if isinstance(actor, State):
        return actor
    try:
        parts, catalog = _loaded(settings, release)
        ids, titles = [p.id for p in parts], {p.id: p.title for p in parts}
    except (KeyError, ValidationFailed):
        catalog = None
        ids, titles = [release], {release: _title(release)}
    _tag_run(ids, "retraction")
    todo = _withdrawals(ids, titles, settings, ledger, reason.strip(), notice.strip(), actor)
    if not todo:
        if any(cx.is_retracted(ledger.rows(rid)) for rid in ids):
            logger.info("already retracted: %s", " + ".join(ids))
            return {"release": ids[0], "title": titles.get(ids[0], ids[0]), "channels": {}, "note": "已撤稿，未重复操作"}
        return Failed(message=f"{titles.get(ids[0], ids[0])}：没有发布到任何渠道，无需撤稿")
    for rid in ids:
        create_table_artifact(key=f"retraction-{rid}", table=retraction_table(ledger, settings, rid),
                              description=f"**撤稿：{titles.get(rid, rid)}** — 开始撤回")
    _deliver_withdrawals(todo, settings, actor, logger)
    if any(channels.get(ch).column for ch in todo):
        refresh_portal_column(settings, catalog or validate(settings, render=False), ledger)
    return _retraction_report(ids, titles, settings, ledger, reason, actor)


def _withdrawals(ids: list[str], titles: dict, settings: Settings, ledger: Ledger, reason: str, notice: str,
                 actor: str) -> dict[str, list]:
    """Per channel, [(release id, retraction version, rendition)]: the withdrawal record saved on its row
    before anything is sent (once: a re-run reuses it)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)  # shown on pages: whole seconds
    todo: dict[str, list] = {}
    for rid in ids:
        rows = ledger.rows(rid)
        live, done = cx.live_rows(rows), cx.retraction_rows(rows)
        started = bool(done)
        for ch in sorted(set(live) | set(done)):
            version = live[ch][-1].version if ch in live else done[ch].version
            row = ledger.get(rid, ch, version, RETRACT)
            if row is None:
                newest = live[ch][-1]
                w = Withdrawal(now, newest.version, reason, notice, titles.get(rid, rid), actor,
                               cx.first_published(d for d in rows if d.channel == ch), newest.url)
                if not started:
                    ledger.log(rid, "", "", "retract-requested", actor, f"撤稿原因：{w.reason}")
                    started = True
                row = ledger.ensure(rid, ch, version, RETRACT)
                ledger.save_steps(row, {cx.WITHDRAWAL: w.to_json()})
                row = ledger.refresh(row)
            if row.state == RETRACTED and ch not in live:
                continue
            rendition = channels.withdraw(ch, rid, channels.RenderContext(settings),
                                          Withdrawal.from_json(row.steps[cx.WITHDRAWAL]))
            if row.state not in (PUBLISHED, RETRACTED):
                ledger.mark_rendered(row, rendition.content_hash)
            todo.setdefault(ch, []).append((rid, version, rendition))
    return todo


def _deliver_withdrawals(todo: dict[str, list], settings: Settings, actor: str, logger) -> None:
    token = worker_token()
    delays = engine.retry_delays(settings)
    unit = retract_unit.with_options(retries=len(delays), retry_delay_seconds=delays or 0)
    running = {ch: unit.submit(ch, items, settings, token, actor, len(items)) for ch, items in todo.items()}
    for ch, fut in running.items():
        try:
            fut.result()
        except TransportError as e:
            logger.error("%s: not withdrawn: %s", ch, e)


def _retraction_report(ids: list[str], titles: dict, settings: Settings, ledger: Ledger, reason: str, actor: str):
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
