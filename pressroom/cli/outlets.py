"""``pressroom doctor`` and ``pressroom resolve``: checking the outlets, settling an unconfirmed delivery."""

from __future__ import annotations

import typer
from rich.table import Table

from pressroom.cli.base import CODE_HELP, REVIEWER_HELP, app, console, err, load_settings, verified


@app.command()
def doctor():
    """Check every configured outlet (token obtainable, SMTP login, CMS reachable, outbox writable) without
    publishing anything; a passing outlet that was disabled is enabled again. Exit 1 if any check fails."""
    from pressroom.delivery.doctor import FAIL, run_doctor

    rows = run_doctor(load_settings())
    table = Table(title="渠道检查")
    for col in ("渠道", "检查", "结果", "说明"):
        table.add_column(col, overflow="fold")
    colours = {"通过": "green", "失败": "red"}
    for row in rows:
        table.add_row(row["渠道"], row["检查"], f"[{colours.get(row['结果'], 'yellow')}]{row['结果']}[/]", row["说明"])
    console.print(table)
    if any(row["结果"] == FAIL for row in rows):
        raise typer.Exit(1)


@app.command()
def resolve(release: str = typer.Argument(..., help="稿件 id"),
            channel: str = typer.Argument(..., help="渠道，如 wechat"),
            published_url: str = typer.Option("", "--published", help="已在平台上核实发布：填写文章网址"),
            not_published: bool = typer.Option(False, "--not-published", help="已核实未发布：允许再次发送"),
            reviewer: str = typer.Option(..., "--reviewer", help=REVIEWER_HELP + "（核实人）"),
            code: str = typer.Option(..., "--code", help=CODE_HELP)):
    """Settle a channel whose outcome is unknown (待核实) after checking on the platform by hand. Nothing
    is ever re-sent for such a channel until this is done."""
    from pressroom.delivery.ledger import UNCONFIRMED, Ledger

    if bool(published_url) == not_published:
        err.print("请二选一：--published 网址（平台上已有）或 --not-published（平台上没有，可重发）")
        raise typer.Exit(2)
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    d = ledger.latest(release).get(channel)
    if d is None or d.state != UNCONFIRMED:
        err.print(f"{release} 的 {channel} 渠道不是“待核实”状态（当前：{d.state if d else '无记录'}），无需处理")
        raise typer.Exit(1)
    actor = verified(settings, ledger, reviewer, code, f"核实 {channel} 渠道", release)
    ledger.resolve(d, published_url or None, actor)
    console.print(f"已记录：{release} / {channel} " + (f"已发布 {published_url}" if published_url
                                                       else "未发布，下次运行 pressroom publish 时重新发送"))
