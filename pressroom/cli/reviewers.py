"""``pressroom reviewer enroll|revoke|list``: the reviewers' one-time codes (TOTP) that prove who signed."""

from __future__ import annotations

import typer
from rich.table import Table

from pressroom.cli.base import CODE_HELP, app, console, err, load_settings, verified

reviewer_app = typer.Typer(help="审核人：开通、停用动态口令（腾讯身份验证器、Microsoft/Google Authenticator）",
                           no_args_is_help=True)
app.add_typer(reviewer_app, name="reviewer")


@reviewer_app.command("enroll")
def enroll(name: str = typer.Argument(..., help="审核人姓名（须已在 content/reviewers.yaml 中登记）"),
           again: bool = typer.Option(False, "--again", help="重新开通（换手机、口令泄露时）：旧口令随即失效"),
           no_qr: bool = typer.Option(False, "--no-qr", help="不显示二维码（演示脚本用）")):
    """Give a registered reviewer a new TOTP secret (kept in the 0600 secrets file, never under content/)
    and show the QR code their authenticator app scans. Shown once: run it with the reviewer present."""
    import segno

    from pressroom.delivery import reviewers
    from pressroom.delivery.ledger import Ledger

    settings = load_settings()
    try:
        uri = reviewers.enroll(settings, Ledger(settings.ledger_url), name, again=again)
    except reviewers.Refused as e:
        err.print(f"[bold red]{e}[/]", highlight=False)
        raise typer.Exit(1)
    if not no_qr:
        console.print(f"请 {name} 用手机身份验证器（腾讯身份验证器、Microsoft/Google Authenticator）扫描：")
        segno.make(uri, error="m").terminal(compact=True)
        console.print("扫描后请清屏；二维码只显示这一次。", highlight=False)
    console.print(f"已为 {name} 开通动态口令（口令文件 {settings.reviewer_secrets}，仅服务账号可读）", highlight=False)


@reviewer_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="停用谁的动态口令"),
           reviewer: str = typer.Option(..., "--reviewer", help="操作人：另一位已登记的审核人"),
           code: str = typer.Option(..., "--code", help=CODE_HELP)):
    """Stop a reviewer's codes (a lost phone, someone who left): confirmed by another reviewer's code."""
    from pressroom.delivery import reviewers
    from pressroom.delivery.ledger import Ledger

    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    if reviewer == name:
        err.print("停用须由另一位审核人确认")
        raise typer.Exit(2)
    actor = verified(settings, ledger, reviewer, code, f"停用 {name} 的动态口令")
    if not reviewers.revoke(settings, ledger, name, actor):
        err.print(f"{name} 没有开通动态口令")
        raise typer.Exit(1)
    console.print(f"已停用 {name} 的动态口令（{actor} 确认）；重新开通：pressroom reviewer enroll {name}")


@reviewer_app.command("list")
def list_() -> None:
    """The registered reviewers, the levels each may sign, and whether their code is enrolled."""
    from pressroom.delivery import reviewers

    settings = load_settings()
    reg = reviewers.load_registry(settings.content_dir)
    on = reviewers.enrolled(settings)
    table = Table(title="审核人")
    for col in ("姓名", "部门", "可签署级别", "动态口令"):
        table.add_column(col)
    for r in reg.reviewers.values():
        table.add_row(r.name, r.department, "、".join(r.levels), "已开通" if r.name in on else "未开通")
    console.print(table)
    for d in reg.delegations:
        console.print(f"委托：{d.stand_in} 代 {d.absent}（{d.start} 至 {d.end}）", highlight=False)
