"""``pressroom publish``, ``status``, ``schedule``, ``approve`` and ``history``: a release on its way out
and what the ledger says about it."""

from __future__ import annotations

from datetime import datetime
from typing import List, Optional

import typer
from rich.console import Group
from rich.table import Table

from pressroom.cli.base import (
    CODE_HELP, REVIEWER_HELP, app, console, err, find_release, load_settings, require_signoffs, run_link,
    status_table,
)


@app.command()
def publish(release: str = typer.Argument(..., help="稿件 id 或文件夹"),
            channels: Optional[List[str]] = typer.Option(None, "--channels", "-c", help="只发这些渠道（可重复）"),
            now: bool = typer.Option(False, "--now", help="不等待发布时间，立即发布（须审核人确认，记入台账）"),
            reviewer: str = typer.Option("", "--reviewer", help=REVIEWER_HELP + "；--now 与突发事件须填"),
            code: str = typer.Option("", "--code", help=CODE_HELP)):
    """Publish a release to every channel through the Prefect flow (ephemeral Prefect unless
    PREFECT_API_URL is set), with live progress; exit 1 if any channel did not publish. Overriding the
    embargo (--now), or an emergency going out ahead of its sign-offs, needs a registered reviewer's code:
    the flow checks it and the ledger names them."""
    import threading

    from rich.live import Live

    from pressroom import runtime
    from pressroom.delivery.ledger import Ledger

    runtime.configure(quiet_console=True)
    settings = load_settings()
    server_started = runtime.start_ephemeral_server()  # while the release is validated
    catalog, r = find_release(settings, release, refused="未通过校验：没有发布到任何渠道。")
    ledger = Ledger(settings.ledger_url)
    _known_channels(channels or [])
    require_signoffs(settings, catalog, ledger, r)
    _require_person(settings, catalog, r, now, reviewer, code)
    console.print(f"发布 [bold]{r.title}[/]（{r.kind_label}，{r.department.short}，版本 {r.version}）")
    if not now and r.publish_at > datetime.now(settings.tz):
        console.print(f"等待发布时间 {r.publish_at:%Y-%m-%d %H:%M %Z}（用 --now 立即发布）")
    from flows.publish import publish_release

    server_started()
    result: dict = {}

    def work():
        result["state"] = publish_release(r.id, channels_only=list(channels or []), now=now, reviewer=reviewer,
                                          code=code, return_state=True)

    thread = threading.Thread(target=work, daemon=True)
    parts = catalog.bundle_of(r)  # a policy bundle publishes both halves

    def tables():
        return Group(*(status_table(ledger, p.id, p.title, settings.tz) for p in parts))

    with Live(tables(), console=console, refresh_per_second=4, transient=True) as live:
        thread.start()
        while thread.is_alive():
            thread.join(0.25)
            live.update(tables())
    console.print(tables())
    _say_when_quota_is_back(settings, ledger, parts)
    state = result.get("state")
    if state is not None and (link := run_link(state.state_details.flow_run_id)):
        console.print(f"流程运行：{link}", highlight=False, soft_wrap=True)
    if state is None or not state.is_completed():
        err.print(f"[bold red]{state.message if state else '发布流程异常结束'}[/]", highlight=False)
        raise typer.Exit(1)
    portal = settings.outbox_dir / "portal" / "index.html"
    if settings.transports.get("portal", "outbox") == "outbox" and portal.exists():
        console.print(f"门户栏目：{portal.as_uri()}")


def _known_channels(names: list[str]) -> None:
    import channels as chans

    unknown = [n for n in names if n not in chans.names()]
    if unknown:
        err.print(f"[bold red]没有这些渠道：{'、'.join(unknown)}（渠道：{'、'.join(chans.names())}）[/]", highlight=False)
        raise typer.Exit(2)


def _say_when_quota_is_back(settings, ledger, parts) -> None:
    """Channels waiting for their outlet's quota: when it is back, and whether a retry is scheduled."""
    import channels as chans
    from pressroom.delivery.ledger import waiting_until

    for p in parts:
        for ch, d in sorted(ledger.latest(p.id).items()):
            until = waiting_until(d)
            if until is None:
                continue
            scheduled = any(e["action"] == "retry-scheduled" and e["channel"] == ch and until.isoformat() in e["detail"]
                            for e in ledger.history(p.id))
            when = f"{until.astimezone(settings.tz):%Y-%m-%d %H:%M}"
            console.print(f"[yellow]{chans.get(ch).label}：平台额度已用完，{when} 恢复。[/]"
                          + ("已在 Prefect 上排定届时自动重试。" if scheduled else
                             f"请在 {when} 之后再运行 pressroom publish {p.id}（已发布的渠道不会重复发送）"),
                          highlight=False)


def _require_person(settings, catalog, r, now: bool, reviewer: str, code: str) -> None:
    """Overriding the embargo, or an emergency out ahead of its sign-offs, is named in the ledger: exit 2
    when nobody is given to name."""
    if (now or r.kind == "emergency") and not (reviewer and code) and _needs_person(settings, catalog, r, now):
        err.print("[bold red]立即发布（--now）或突发事件先发布后补签，须由已登记的审核人确认：请加 --reviewer 姓名 "
                  "--code 动态口令[/]", highlight=False)
        raise typer.Exit(2)


def _needs_person(settings, catalog, r, now: bool) -> bool:
    from pressroom.delivery import approval

    return now or approval.needs_approval(catalog.bundle_of(r), approval.policy(settings))


@app.command()
def status(release: Optional[str] = typer.Argument(None, help="稿件 id；不填则列出全部"),
           as_json: bool = typer.Option(False, "--json", help="输出 JSON，供脚本使用"),
           deadlines: bool = typer.Option(False, "--deadlines", help="突发事件与舆情的时限（5 小时、24 小时、48 小时）")):
    """Publish status per channel, from the ledger."""
    import json

    from pressroom.delivery.ledger import PUBLISHED, Ledger, shown_time

    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    if deadlines:
        _print_deadlines(settings, ledger, as_json)
        return
    ids = [release] if release else sorted({d.release_id for d in ledger.rows()})
    if as_json:
        out = {rid: {ch: {"state": d.state, "version": d.version, "action": d.action, "attempts": d.attempts,
                          "url": d.url, "external_id": d.external_id, "error": d.last_error,
                          "published_at": d.published_at.isoformat() if d.published_at else None,
                          "shown_at": shown.isoformat() if (shown := shown_time(d)) and d.state == PUBLISHED else None,
                          "late_minutes": int(d.steps.get("late_minutes") or 0)}
                     for ch, d in sorted(ledger.latest(rid).items())} for rid in ids}
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not ids:
        console.print("台账为空：还没有发布过稿件。")
    for rid in ids:
        console.print(status_table(ledger, rid, tz=settings.tz))


@app.command()
def schedule(release: Optional[str] = typer.Argument(None, help="稿件 id 或文件夹"),
             list_: bool = typer.Option(False, "--list", help="列出等待发布的排期"),
             cancel: bool = typer.Option(False, "--cancel", help="取消该稿件的排期")):
    """Schedule a release (its policy bundle as one run) on the Prefect server at its publish_at."""
    from pressroom.delivery import schedule as sched

    try:
        if list_:
            table = Table(title="排期（等待发布）")
            for col in ("稿件", "排期版本", "发布时间", "状态", "流程运行"):
                table.add_column(col, overflow="fold")
            settings = load_settings()
            for s in sched.scheduled():
                when = f"{s.scheduled_at.astimezone(settings.tz):%Y-%m-%d %H:%M}" if s.scheduled_at else ""
                table.add_row(s.release, s.version, when, s.state, f"{s.name} ({s.id})")
            console.print(table)
            return
        if not release:
            err.print("请给出稿件 id，或用 --list 查看排期")
            raise typer.Exit(2)
        settings = load_settings()
        catalog, r = find_release(settings, release, refused="未通过校验：不能排期。")
        if cancel:
            ids = sched.cancel(r, catalog)
            console.print(f"已取消 {len(ids)} 个排期" + (f"：{', '.join(ids)}" if ids else ""))
            return
        s = sched.schedule(r, catalog)
        console.print(f"已排期：{s.release}（版本 {s.version}）于 "
                      f"{s.scheduled_at.astimezone(settings.tz):%Y-%m-%d %H:%M} 发布，流程运行 {s.name} ({s.id})")
        console.print(f"界面：{run_link(s.id)}", highlight=False, soft_wrap=True)
    except sched.ScheduleError as e:
        err.print(f"[red]{e}[/]", highlight=False)
        raise typer.Exit(1)


@app.command()
def approve(target: str = typer.Argument(..., help="稿件 id，或等待审核的流程运行 id"),
            reviewer: str = typer.Option(..., "--reviewer", help="审核人姓名（须在 content/reviewers.yaml 中登记）"),
            code: str = typer.Option(..., "--code", help=CODE_HELP),
            role: str = typer.Option("", "--role", help="审核级别（默认：下一个待签级别）"),
            reject: bool = typer.Option(False, "--reject", help="驳回"),
            comment: str = typer.Option("", "--comment", help="审核意见 / 驳回理由")):
    """Sign off (or reject) a release with your one-time code: resumes its paused publish run, or records
    the sign-off for the current content ahead of publishing (an emergency's too, after it went out). Each
    level is signed by a different registered reviewer allowed for it; a sign-off is bound to the content
    hash, and an edit voids it."""
    import uuid

    from pressroom.delivery import approval, reviewers
    from pressroom.delivery.ledger import Ledger

    if reject and not comment:
        err.print("驳回须用 --comment 写明理由")
        raise typer.Exit(2)
    decision = {"approve": not reject, "reviewer": reviewer, "code": code, "comment": comment}
    try:
        run_id = uuid.UUID(target)
    except ValueError:
        run_id = None
    if run_id is not None:
        _resume(run_id, decision)
        console.print(f"已提交审核意见到流程运行 {run_id}（由该运行核对动态口令）")
        return
    settings = load_settings()
    catalog, r = find_release(settings, target)
    parts = catalog.bundle_of(r)
    paused = _paused_runs(parts[0].id)
    if paused:  # the run checks the code (one code, one run: a second run waits for the next code)
        _resume(paused[0], decision)
        console.print(f"已提交审核意见到等待审核的流程运行 {paused[0]}")
        return
    ledger = Ledger(settings.ledger_url)
    if approval.next_level(ledger, parts, approval.policy(settings)) is None:
        console.print("各级审核均已签署（针对当前内容）。")
        return
    try:
        level = approval.sign(settings, ledger, parts, not reject, reviewer, code, comment, level=role)
    except reviewers.Refused as e:
        err.print(f"[bold red]{e}[/]", highlight=False)
        raise typer.Exit(2 if "逐级" in str(e) or "没有“" in str(e) else 1)
    verdict = "驳回" if reject else "签署同意"
    console.print(f"{level} {reviewer} {verdict}（已核对动态口令）：{'、'.join(p.id for p in parts)}"
                  f"（内容签名 {approval.signature(parts)}；稿件再修改则需重新审核）")
    waiting = approval.next_level(ledger, parts, approval.policy(settings))
    console.print(f"下一级：{waiting}" if waiting and not reject else "各级审核均已签署。" if not reject else "")


def _paused_runs(release_id: str) -> list:
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return []  # ephemeral mode: no run can be waiting in another process
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
            tags=FlowRunFilterTags(all_=[f"release:{release_id}"])))
    return [r.id for r in runs]


def _resume(run_id, decision: dict) -> None:
    from prefect.flow_runs import resume_flow_run

    resume_flow_run(run_id, run_input=decision)


def _print_deadlines(settings, ledger, as_json: bool) -> None:
    import json

    from pressroom.delivery import deadlines as dl
    from pressroom.releases.catalog import validate as run

    clocks = dl.clocks(run(settings, render=False), ledger, datetime.now(settings.tz))
    if as_json:
        typer.echo(json.dumps([{"event": c.event_id, "rule": c.rule, "due": c.due.isoformat(), "status": c.status,
                                "met_at": c.met_at.isoformat() if c.met_at else None} for c in clocks],
                              ensure_ascii=False, indent=2))
        return
    colours = {dl.MET: "green", dl.LATE: "yellow", dl.OPEN: "white", dl.WARNING: "bold yellow", dl.BREACHED: "bold red"}
    table = Table(title="事件时限")
    for col in ("事件", "部门", "要求", "期限", "状态", "完成时间"):
        table.add_column(col, overflow="fold")
    now = datetime.now(settings.tz)
    for c in clocks:
        left = c.due - now
        due = f"{c.due.astimezone(settings.tz):%m-%d %H:%M}"
        if c.status in (dl.OPEN, dl.WARNING):
            due += f"（剩 {int(left.total_seconds() // 3600)} 小时 {int(left.total_seconds() % 3600 // 60)} 分）"
        done = f"{c.met_at.astimezone(settings.tz):%m-%d %H:%M}" if c.met_at else ""
        table.add_row(f"{c.title}（{c.event_id}）", c.department, c.rule, due,
                      f"[{colours[c.status]}]{c.label}[/]", done)
    console.print(table)
    _print_awaiting(settings, ledger)


def _print_awaiting(settings, ledger) -> None:
    """Emergencies published ahead of their sign-offs that still wait for a level (审核待补签)."""
    from pressroom.delivery import approval
    from pressroom.releases.catalog import validate as run

    catalog, policy, rows = run(settings, render=False), approval.policy(settings), []
    for r in catalog.releases.values():
        try:
            parts = catalog.bundle_of(r)
        except Exception:
            continue
        if parts[0].id == r.id and (level := approval.awaiting(ledger, parts, policy)):
            rows.append((r, level, approval.allowed(settings, parts, level)))
    if not rows:
        return
    table = Table(title=approval.AWAITING_LABEL)
    for col in ("稿件", "待签级别", "可签署", "补签命令"):
        table.add_column(col, overflow="fold")
    for r, level, names in rows:
        table.add_row(f"{r.title}（{r.id}）", level, "、".join(names), f"pressroom approve {r.id} --reviewer 姓名 --code 口令")
    console.print(table)


@app.command()
def waive(release: str = typer.Argument(..., help="稿件 id"),
          finding: str = typer.Argument(..., help="保真核对项编号（pressroom validate 的问题中“核对项”后的 8 位）"),
          reason: str = typer.Option(..., "--reason", help="为什么可以豁免（记入台账）"),
          reviewer: str = typer.Option(..., "--reviewer", help="审核人姓名（须在 content/reviewers.yaml 中登记）"),
          code: str = typer.Option(..., "--code", help=CODE_HELP)):
    """Waive one finding of the fidelity audit for the release's current version: a verified reviewer, with
    a reason, recorded in the ledger and shown by ``pressroom history``. Nothing else silences a finding."""
    from pressroom.delivery import reviewers, waivers
    from pressroom.delivery.ledger import Ledger

    settings = load_settings()
    try:
        f = waivers.waive(settings, Ledger(settings.ledger_url), release, finding, reason, reviewer, code)
    except reviewers.Refused as e:
        err.print(f"[bold red]{e}[/]", highlight=False)
        raise typer.Exit(1)
    console.print(f"{reviewer} 已豁免 {release} 的核对项 {finding}（已核对动态口令）：{f.describe()}；理由：{reason.strip()}",
                  highlight=False, soft_wrap=True)


@app.command()
def history(release: str = typer.Argument(..., help="稿件 id")):
    """Every version and action of a release, with who, what, when and which content signature, from the
    ledger's audit trail (a sign-off names the verified reviewer and the level)."""
    import json

    from pressroom.delivery.ledger import Ledger

    settings = load_settings()
    events = Ledger(settings.ledger_url).history(release)
    if not events:
        console.print(f"台账中没有稿件 {release} 的记录")
        return
    table = Table(title=f"{release} 操作记录")
    for col in ("时间", "渠道", "版本 / 内容签名", "动作", "操作人", "说明"):
        table.add_column(col, overflow="fold")
    for e in events:
        action, detail = e["action"], e["detail"]
        if action in ("signoff", "rejected"):
            d = json.loads(detail or "{}")
            action = f"{'签署' if action == 'signoff' else '驳回'}（{d.get('role') or d.get('level')}）"
            detail = d.get("comment", "") + (f" 流程运行 {d['run']}" if d.get("run") else "")
        elif action == "audit-waived":
            d = json.loads(detail or "{}")
            action = f"豁免保真核对项 {d.get('finding', '')}"
            detail = f"{d.get('fact', '')}；理由：{d.get('reason', '')}"
        table.add_row(f"{e['at'].astimezone(settings.tz):%Y-%m-%d %H:%M:%S}", e["channel"], e["version"],
                      action, e["actor"], detail[:300])
    console.print(table)
