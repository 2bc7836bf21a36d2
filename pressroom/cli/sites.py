"""``pressroom report``, ``pressroom site …`` and ``pressroom coverage …``: the compliance report, the
press-hall site and the media coverage shown on it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pressroom.cli.base import app, console, err, load_settings, print_problems
from pressroom.errors import ValidationFailed


site_app = typer.Typer(help="淮南新闻发布厅网站：生成与链接检查", no_args_is_help=True)
app.add_typer(site_app, name="site")
coverage_app = typer.Typer(help="媒体报道集、发布视频实录和网络直播链接（content/coverage.yaml）", no_args_is_help=True)
app.add_typer(coverage_app, name="coverage")


@app.command()
def report(year: int = typer.Option(..., "--year", help="年度，如 2026"),
           half: Optional[int] = typer.Option(None, "--half", min=1, max=2, help="1 上半年，2 下半年；不填为全年")):
    """The "2·1+N" compliance report (R6) with the accountability flags (R7), through its Prefect flow:
    outbox/reports/<period>/ report.md, report.html, departments.csv, flags.csv, chart.png."""
    from pressroom import runtime

    runtime.configure(quiet_console=True)
    from flows.compliance import compliance_report

    state = compliance_report(year=year, half=half, return_state=True)
    if not state.is_completed():
        err.print(f"[bold red]报告生成失败：{state.message}[/]", highlight=False)
        raise typer.Exit(1)
    result = state.result()
    behind = result["behind_names"]
    console.print(f"未达标部门 {len(behind)} 个{('：' + '、'.join(behind)) if behind else ''}；问责事项 {result['flags']} 项",
                  highlight=False)
    for name, path in result["files"].items():
        console.print(f"  {name}：{Path(path).as_uri()}")



@app.command()
def inspect(warn_days: int = typer.Option(3, "--warn-days", help="栏目距检查期限不足这么多天时提前提醒"),
            alert: bool = typer.Option(False, "--alert", help="有单项否决或即将到期时通知新闻办（[notify] inspection）")):
    """The inspection watchdog: what a machine can check of the government-website inspection's one-strike
    and deduction items on what is live; writes outbox/inspection/<date>.html; exit 1 on a one-strike item."""
    from datetime import datetime

    from rich.table import Table

    from pressroom.delivery.ledger import Ledger
    from pressroom.delivery.notify import alert as send_alert
    from pressroom.releases.catalog import validate as run
    from pressroom.sites import inspect as watchdog

    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    result = watchdog.inspect_site(settings, run(settings, render=False), ledger, datetime.now(settings.tz), warn_days)
    table = Table(title="政府网站检查自查")
    for col in ("结论", "检查项", "位置", "说明"):
        table.add_column(col, overflow="fold")
    for row in result.rows():
        table.add_row(*row.values())
    console.print(table if result.findings else "未发现问题。")
    console.print(f"报告：{watchdog.write_inspection(result, settings).as_uri()}")
    if alert and (lines := watchdog.alert_lines(result)):
        key = f"{result.at.astimezone(settings.tz):%Y-%m-%d}-{len(lines)}"
        send_alert(settings, ledger, key, f"【网站检查预警】{len(lines)} 项需要处理", lines)
    if not result.passed:
        raise typer.Exit(1)

@site_app.command("build")
def site_build(full: bool = typer.Option(False, "--full", help="忽略构建记录，重新生成全部页面（仍只写入有变化的文件）")):
    """Build the press-hall site into outbox/portal/presshall/ from what the ledger says is published, then
    check its links (exit 1 if the check fails)."""
    from pressroom.sites import presshall
    from pressroom.releases.catalog import validate as run
    from pressroom.delivery.ledger import Ledger

    settings = load_settings()
    catalog = run(settings, render=False)
    result = presshall.refresh(settings, catalog, Ledger(settings.ledger_url), full=full)
    console.print(f"新闻发布厅：共 {result.pages} 个页面，本次生成 {result.rendered} 个，"
                  f"写入 {len(result.written)} 个文件，删除 {len(result.removed)} 个")
    for w in result.warnings:
        console.print(f"  [yellow]提示[/] {w}", highlight=False)
    if result.check is not None:
        console.print(f"链接检查：{'通过' if result.check.ok else '未通过'}，解读率 {result.check.ratio:.1%}"
                      "（详情：pressroom site check）")
    console.print(f"首页：{(result.out_dir / 'index.html').as_uri()}")
    if result.check is not None and not result.check.ok:
        raise typer.Exit(1)


@site_app.command("check")
def site_check(offline: bool = typer.Option(False, "--offline", help="不访问外部网站（不核验媒体报道链接）"),
               timeout: float = typer.Option(5.0, "--timeout", help="每个外部链接的超时秒数"),
               as_json: bool = typer.Option(False, "--json", help="输出 JSON，供脚本使用")):
    """Crawl the generated site: broken links, document <-> interpretation two-way links, interpretation
    ratio, liveness of coverage links. Exit 1 if the site would fail an inspection."""
    import json

    from pressroom.sites import linkcheck, presshall

    root = presshall.site_dir(load_settings())
    if not (root / "index.html").is_file():
        err.print("还没有生成新闻发布厅网站：请先运行 pressroom site build")
        raise typer.Exit(1)
    report = linkcheck.check_site(root, check_coverage=not offline, timeout=timeout)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in report.lines():
            console.print(line, highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(1)


def _coverage_releases():
    from pressroom.releases.catalog import validate as run

    return run(load_settings(), render=False).releases


@coverage_app.command("add")
def coverage_add(release: str = typer.Argument(..., help="稿件 id"),
                 outlet: str = typer.Option(..., "--outlet", help="媒体名称，如 淮南日报"),
                 title: str = typer.Option(..., "--title", help="报道标题"),
                 url: str = typer.Option(..., "--url", help="报道网址"),
                 date: str = typer.Option(..., "--date", help="报道日期，如 2026-11-21")):
    """Attach a media report to a release (媒体报道集); the same URL again updates it."""
    from pressroom.sites import coverage

    settings = load_settings()
    try:
        item, added = coverage.add_coverage(settings.content_dir, release, outlet, title, url, date,
                                            _coverage_releases())
    except ValidationFailed as e:
        print_problems(coverage.STORE, e.problems)
        raise typer.Exit(1)
    console.print(f"{'已添加' if added else '已更新'}媒体报道：{item.outlet}《{item.title}》（{item.date}）→ {release}",
                  highlight=False)
    console.print("运行 pressroom site build 更新新闻发布厅网站")


@coverage_app.command("video")
def coverage_video(release: str = typer.Argument(..., help="稿件 id（新闻发布会）"),
                   url: str = typer.Option(..., "--url", help="视频网址"),
                   title: str = typer.Option("新闻发布会视频实录", "--title", help="视频标题"),
                   duration: str = typer.Option("", "--duration", help="时长，如 32:15")):
    """Attach a video record of a press conference (发布视频实录)."""
    from pressroom.sites import coverage

    settings = load_settings()
    try:
        video = coverage.add_video(settings.content_dir, release, url, title, duration, _coverage_releases())
    except ValidationFailed as e:
        print_problems(coverage.STORE, e.problems)
        raise typer.Exit(1)
    console.print(f"已添加视频实录：{video.title} → {release}", highlight=False)


@coverage_app.command("live")
def coverage_live(release: str = typer.Argument(..., help="稿件 id（待举行的新闻发布会）"),
                  url: str = typer.Option("", "--url", help="直播网址；留空则删除")):
    """Set the live-stream link shown on the conference notice (网络直播)."""
    from pressroom.sites import coverage

    settings = load_settings()
    try:
        coverage.set_live(settings.content_dir, release, url, _coverage_releases())
    except ValidationFailed as e:
        print_problems(coverage.STORE, e.problems)
        raise typer.Exit(1)
    console.print(f"网络直播：{url or '已删除'} → {release}", highlight=False)
