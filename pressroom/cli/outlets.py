"""``pressroom doctor`` and ``pressroom resolve``: checking the outlets, settling an unconfirmed delivery."""

from __future__ import annotations

import typer
from rich.markup import escape
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
        # The texts name settings such as "[outlets.video] ffmpeg": printed as they are, not read as Rich markup.
        table.add_row(escape(row["渠道"]), escape(row["检查"]), f"[{colours.get(row['结果'], 'yellow')}]{row['结果']}[/]",
                      escape(row["说明"]))
    console.print(table)
    if any(row["结果"] == FAIL for row in rows):
        raise typer.Exit(1)


@app.command()
def resolve(release: str = typer.Argument(..., help="稿件 id"),
            channel: str = typer.Argument(..., help="渠道，如 wechat"),
            published_url: str = typer.Option("", "--published", help="已在平台上核实发布：填写文章/微博网址"),
            not_published: bool = typer.Option(False, "--not-published", help="已核实未发布：允许再次发送"),
            external_id: str = typer.Option("", "--id", help="平台上的 id（公众号 article_id、微博 id），撤稿时用它删除"),
            reviewer: str = typer.Option(..., "--reviewer", help=REVIEWER_HELP + "（核实人）"),
            code: str = typer.Option(..., "--code", help=CODE_HELP)):
    """Settle a channel that is not published — 待核实, 失败, 等待配额, or 发布中 whose process is gone — after
    checking on the platform by hand. Published: its URL and the outlet's id are recorded (a retraction can
    then delete it). Not published: the next run looks on the platform once more, then sends."""
    from pressroom.delivery.ledger import STATE_LABELS, Ledger
    from pressroom.transports import Retracts, transport_for

    if bool(published_url) == not_published:
        err.print("请二选一：--published 网址（平台上已有）或 --not-published（平台上没有，可重发）")
        raise typer.Exit(2)
    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    d = ledger.latest(release).get(channel)
    reason = ledger.unsettled_reason(d)
    if reason:
        err.print(f"{release} 的 {channel} 渠道无需核实（{reason}）")
        raise typer.Exit(1)
    if published_url:
        transport = transport_for(settings, channel)
        external_id = external_id or transport.id_from_url(published_url)
        if not external_id and isinstance(transport, Retracts):
            external_id = typer.prompt("平台上的 id（公众号“发表记录”中的 article_id，或微博 id；撤稿时用它删除，"
                                       "不知道可直接回车）", default="", show_default=False).strip()
    actor = verified(settings, ledger, reviewer, code, f"核实 {channel} 渠道", release)
    if not ledger.resolve(d, published_url or None, actor, external_id):
        err.print(f"{release} 的 {channel} 渠道状态刚刚发生变化（另一次运行正在处理），未记录；请用 pressroom status 查看")
        raise typer.Exit(1)
    was = STATE_LABELS.get(d.state, d.state)
    if published_url:
        console.print(f"已记录：{release} / {channel}（原状态 {was}）已发布 {published_url}"
                      + (f"，平台 id {external_id}" if external_id else "，未记录平台 id：撤稿时须到平台手动删除"))
    else:
        console.print(f"已记录：{release} / {channel}（原状态 {was}）未发布；下次运行 pressroom publish 时先到平台查询，"
                      "确无再发送")
