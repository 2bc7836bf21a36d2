"""``pressroom db …``: the ledger's migrations."""

from __future__ import annotations

from typing import Optional

import typer

from pressroom.cli.base import app, console, err, load_settings

db_app = typer.Typer(help="发布账本数据库：迁移（多个 worker 共用 PostgreSQL 时，启动 worker 前先运行 upgrade）",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")

URL_HELP = "账本数据库的 SQLAlchemy URL（默认取 pressroom.toml 的 [paths] ledger，环境变量 PRESSROOM_LEDGER_URL 优先）"


def say(msg: str) -> None:
    console.print(msg, soft_wrap=True)  # a URL must not be wrapped at 80 columns


def warn(msg: str) -> None:
    err.print(msg, soft_wrap=True)


def _url(url: Optional[str]) -> str:
    return url or load_settings().ledger_url


def _describe_drift(drift) -> str:
    return "；".join(str(d) for d in drift[:5]) + ("…" if len(drift) > 5 else "")


@db_app.command("upgrade")
def upgrade(url: Optional[str] = typer.Option(None, "--url", help=URL_HELP),
            revision: str = typer.Option("head", "--revision", help="升级到的版本（默认最新）")):
    """Apply the ledger's migrations (creates the tables on an empty database; adopts an older ledger)."""
    import sqlalchemy as sa

    from pressroom.delivery import db

    url = _url(url)
    try:
        before, after = db.upgrade(url, revision)
    except sa.exc.OperationalError as e:
        warn(f"无法连接账本数据库 {db.display_url(url)}：{e.orig or e}")
        raise typer.Exit(1)
    where = db.display_url(url)
    if before.current == after.current:
        say(f"账本数据库已是最新版本 {after.current}（{where}）")
    elif before.current is None and before.tables:
        say(f"已接管迁移前建立的账本并升级到 {after.current}（{where}）")
    elif before.current is None:
        say(f"已建立账本数据表，版本 {after.current}（{where}）")
    else:
        say(f"账本数据库已从 {before.current} 升级到 {after.current}（{where}）")
    if after.drift:
        warn(f"注意：数据表与程序定义不一致：{_describe_drift(after.drift)}")
        raise typer.Exit(1)


@db_app.command("current")
def current(url: Optional[str] = typer.Option(None, "--url", help=URL_HELP)):
    """Show the ledger's migration version; exit 1 when it is behind the code (run `pressroom db upgrade`)."""
    import sqlalchemy as sa

    from pressroom.delivery import db

    url = _url(url)
    try:
        s = db.status(url)
    except sa.exc.OperationalError as e:
        warn(f"无法连接账本数据库 {db.display_url(url)}：{e.orig or e}")
        raise typer.Exit(1)
    say(f"账本数据库：{db.display_url(url)}")
    say(f"当前版本：{s.current or '（未经迁移）'}　程序所需版本：{s.head}")
    if s.up_to_date:
        say("[green]已是最新[/]")
        return
    if s.drift and s.current == s.head:
        warn(f"数据表与程序定义不一致：{_describe_drift(s.drift)}")
    else:
        err.print("需要升级：请运行 pressroom db upgrade")
    raise typer.Exit(1)
