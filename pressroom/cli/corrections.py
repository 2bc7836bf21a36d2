"""``pressroom correct`` and ``pressroom retract``: a corrected version, or a withdrawal, on every channel."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from pressroom.cli.base import (
    CODE_HELP, REVIEWER_HELP, app, console, err, find_release, load_settings, require_signoffs, status_table,
)
from pressroom.errors import ValidationFailed


def _label(channel: str) -> str:
    import channels

    return channels.get(channel).label


def _require_person(reviewer: str, code: str, what: str) -> None:
    """Corrections and retractions change what the public sees: a registered reviewer confirms with a code
    (checked by the flow, which names them in the ledger)."""
    if not (reviewer and code):
        err.print(f"[bold red]{what}会改变公众看到的内容，须由已登记的审核人确认：请加 --reviewer 姓名 --code 动态口令[/]",
                  highlight=False)
        raise typer.Exit(2)


def _run(flow_call, what: str):
    """Run a flow in this process (ephemeral Prefect unless PREFECT_API_URL is set) with a spinner."""
    with console.status(f"{what}中……"):
        return flow_call()


@app.command()
def correct(release: str = typer.Argument(..., help="稿件 id 或文件夹（修改后的稿件）"),
            note: str = typer.Option("", "--note", help="公开的更正说明；不填则自动写明改动的文字"),
            delete_old: Optional[bool] = typer.Option(None, "--delete-old/--keep-old",
                                                      help="是否删除微信原文（默认取 [corrections] wechat_delete_old）"),
            dry_run: bool = typer.Option(False, "--dry-run", help="只显示将更正的渠道和改动，不发送"),
            reviewer: str = typer.Option("", "--reviewer", help=REVIEWER_HELP + "（--dry-run 不需要）"),
            code: str = typer.Option("", "--code", help=CODE_HELP)):
    """Publish the corrected release to every channel that carried an older version: the portal page with a
    dated 更正说明 (feed entry updated), a 【更正】 WeChat article, a Weibo correction post, a 更正通知 with the
    changes marked to the newspaper and TV desks. A policy bundle is corrected as a unit; a re-run sends
    nothing twice."""
    from pressroom.delivery import corrections as cx
    from pressroom import runtime
    from pressroom.delivery.ledger import Ledger

    runtime.configure(quiet_console=True)
    settings = load_settings()
    catalog, r = find_release(settings, release, refused="未通过校验：没有更正任何渠道。")
    ledger = Ledger(settings.ledger_url)
    parts = catalog.bundle_of(r)
    if any(cx.is_retracted(ledger.rows(p.id)) for p in parts):
        err.print(f"[bold red]{r.title}：稿件已撤稿，不能更正[/]", highlight=False)
        raise typer.Exit(1)
    plans = {p.id: cx.correction_plan(ledger.rows(p.id), p.version) for p in parts}
    if not any(plans.values()):
        console.print(f"{r.title}：各渠道已是当前版本（{r.version}），无需更正。")
        return
    if all(i.done and i.new.steps.get("old_handled") for plan in plans.values() for i in plan.values()):
        console.print(f"{r.title}：已更正为版本 {r.version}，各渠道均已发出，未重复发送。")
        return
    for p in parts:
        if plans[p.id]:
            console.print(_plan_table(p, plans[p.id]))
    if dry_run:
        for p in parts:
            _print_preview(ledger, p, plans[p.id], note)
        return
    _require_person(reviewer, code, "更正")
    require_signoffs(settings, catalog, ledger, r)  # a correction is signed off like a publication
    from flows.correct import correct_release

    state = _run(lambda: correct_release(r.id, note=note, reviewer=reviewer, code=code, delete_old=delete_old,
                                         return_state=True), "更正")
    for p in parts:
        console.print(status_table(ledger, p.id, p.title))
    if not state.is_completed():
        err.print(f"[bold red]{state.message}[/]", highlight=False)
        raise typer.Exit(1)
    result = state.result()
    for key, text in (result.get("notes") or {}).items():
        console.print(f"  [yellow]提示[/] {key}：{text}", highlight=False)
    for p in parts:
        if plans[p.id]:
            console.print(f"[green]已更正[/]：{p.title}（版本 {p.version}）。操作记录：pressroom history {p.id}",
                          highlight=False)


def _plan_table(p, plan) -> Table:
    table = Table(title=f"更正：{p.title}")
    for col in ("渠道", "已发布版本", "更正为", "状态"):
        table.add_column(col)
    import channels

    for ch in channels.ordered(plan):
        item = plan[ch]
        table.add_row(_label(ch), item.old.version, p.version, "已更正" if item.done else "待更正")
    return table


def _print_preview(ledger, p, plan, note: str) -> None:
    from channels.corrections import release_text
    from pressroom.delivery import corrections as cx
    from pressroom.text.diff import summary, text_diff

    rows = ledger.rows(p.id)
    started = next((i.correction for i in plan.values() if i.correction), None)
    old_version = next(iter(plan.values())).old.version
    old = cx.old_text(rows, old_version)
    console.print(f"\n[bold]更正说明[/]：{started.note if started else note or summary(old, release_text(p))}",
                  highlight=False)
    if old is None:
        console.print("（旧版本文本未存档，无法逐行比对）")
        return
    console.print("[bold]改动[/]（【删】原稿，【增】更正稿，〖〗内为改动的文字）：")
    for line in text_diff(old, release_text(p)):
        console.print(line, highlight=False, markup=False)


@app.command()
def retract(release: str = typer.Argument(..., help="稿件 id 或文件夹"),
            reason: str = typer.Option(..., "--reason", help="撤稿原因（记入台账，通知报社和电视台）"),
            notice: str = typer.Option("", "--notice", help="撤稿页面上给公众的说明；不填则用通用表述"),
            yes: bool = typer.Option(False, "--yes", "-y", help="不再确认（删除微信文章和微博不可恢复）"),
            reviewer: str = typer.Option("", "--reviewer", help=REVIEWER_HELP),
            code: str = typer.Option("", "--code", help=CODE_HELP)):
    """Withdraw a release (its whole policy bundle) from every channel: WeChat article and Weibo post deleted,
    the portal page replaced by a withdrawal notice, a 撤稿通知 to the desks, the ledger marked retracted with
    the reason. A re-run does nothing twice."""
    from pressroom.delivery import corrections as cx
    from pressroom import runtime
    from pressroom.delivery.ledger import Ledger

    runtime.configure(quiet_console=True)
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    from flows.correct import _loaded, _title

    try:
        ids = [p.id for p in _loaded(settings, release)[0]]
    except (KeyError, ValidationFailed):
        ids = [release]
    live = {rid: cx.live_rows(ledger.rows(rid)) for rid in ids}
    if not any(live.values()):
        if any(cx.is_retracted(ledger.rows(rid)) for rid in ids):
            console.print(f"{_title(ids[0])}：已撤稿，无需重复操作。")
            return
        err.print(f"[red]{release}：台账中没有已发布的渠道，无需撤稿[/]", highlight=False)
        raise typer.Exit(1)
    table = Table(title=f"撤稿：{_title(ids[0])}" + ("（政策文件与解读一并撤回）" if len(ids) > 1 else ""))
    for col in ("稿件", "渠道", "已发布版本", "链接"):
        table.add_column(col, overflow="fold")
    for rid in ids:
        for ch, ds in sorted(live[rid].items()):
            table.add_row(rid, _label(ch), "、".join(d.version for d in ds), ds[-1].url)
    console.print(table)
    _require_person(reviewer, code, "撤稿")
    if not yes and not typer.confirm("撤稿将删除公众号文章和微博（不可恢复），并替换门户页面。确定撤稿吗？"):
        raise typer.Exit(1)
    from flows.correct import retract_release

    state = _run(lambda: retract_release(ids[0], reason=reason, notice=notice, reviewer=reviewer, code=code,
                                         return_state=True), "撤稿")
    for rid in ids:
        console.print(status_table(ledger, rid, _title(rid)))
    if not state.is_completed():
        err.print(f"[bold red]{state.message}[/]", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]已撤稿[/]：{_title(ids[0])}。操作记录：pressroom history {ids[0]}")
