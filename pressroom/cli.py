"""The ``pressroom`` command. Heavy imports (Prefect, channels) happen inside the commands that need them,
so ``validate`` and ``list`` answer quickly."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import ValidationFailed
from .model import KIND_LABELS, PLACEHOLDER, REQUIRED_SECTIONS
from .settings import load_settings

app = typer.Typer(help="pressroom：新闻办发布流水线（一次发布，多渠道同步，可追溯）", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
console = Console()
err = Console(stderr=True)


def _print_problems(folder: str, problems) -> None:
    err.print(f"[bold red]✗ {folder}[/]")
    for p in problems:
        err.print(f"  • {p}", highlight=False, markup=False)


@app.command()
def new(kind: str = typer.Argument(..., help="routine | policy | emergency | opinion | policy-document"),
        slug: str = typer.Argument(..., help="稿件 id，也是文件夹名，如 water-price-2026"),
        department: str = typer.Option(..., "--department", "-d", help="部门简称（content/departments.yaml）"),
        title: str = typer.Option(PLACEHOLDER, "--title", help="标题")):
    """Scaffold a release folder with the kind's required sections, like `hugo new`."""
    from .loader import ID_PATTERN, load_registry

    settings = load_settings()
    if kind not in KIND_LABELS:
        err.print(f"发布类型“{kind}”无效，可选：{'、'.join(f'{k}（{v}）' for k, v in KIND_LABELS.items())}")
        raise typer.Exit(2)
    if not ID_PATTERN.match(slug):
        err.print(f"id“{slug}”格式不对：只能用小写英文字母、数字和连字符（2—64 位）")
        raise typer.Exit(2)
    registry = load_registry(settings.content_dir)
    if department not in registry.departments:
        err.print(f"部门“{department}”不在 content/departments.yaml 中")
        raise typer.Exit(2)
    folder = settings.content_dir / "releases" / slug
    if folder.exists():
        err.print(f"{folder} 已存在，未作改动")
        raise typer.Exit(2)
    speakers = sorted(registry.speakers_of(department), key=lambda s: not s.head)
    tomorrow = (datetime.now(settings.tz) + timedelta(days=1)).replace(hour=10, minute=0)
    lines = [
        "---",
        f"id: {slug}",
        f"title: {title}",
        f"kind: {kind}",
        f"department: {department}",
        f"speakers: [{speakers[0].name if speakers else PLACEHOLDER}]",
        f"publish_at: {tomorrow:%Y-%m-%d %H:%M}   # 北京时间",
        f"digest: {PLACEHOLDER}",
        "keywords: []",
        "key_figures: []   # - {label: 说明, value: \"31\", unit: 个}",
    ]
    if kind == "policy":
        lines.append(f"interprets: {PLACEHOLDER}   # 被解读政策文件的 id")
    if kind == "policy-document":
        lines += [f"document_number: {PLACEHOLDER}", "issuer: []"]
    if kind in ("emergency", "opinion"):
        lines.append(f"event_at: {datetime.now(settings.tz):%Y-%m-%d %H:%M}   # 事件发生时间")
    lines += ["---", "", f"{PLACEHOLDER}（导语：何时、何地、何人、何事）", ""]
    for heading in REQUIRED_SECTIONS[kind] or ("正文",):
        lines += [f"## {heading}", "", PLACEHOLDER, ""]
    folder.mkdir(parents=True)
    (folder / "images").mkdir()
    (folder / "release.md").write_text("\n".join(lines), encoding="utf-8")
    console.print(f"已创建 {folder / 'release.md'}（{KIND_LABELS[kind]}）：请填写所有“{PLACEHOLDER}”，再运行 pressroom validate")


@app.command()
def validate(paths: Optional[List[Path]] = typer.Argument(None, help="稿件文件夹；不填则校验全部")):
    """Validate releases (and the registry); exit 1 listing every problem."""
    from .catalog import validate as run

    settings = load_settings()
    try:
        catalog = run(settings)
    except ValidationFailed as e:
        _print_problems("登记表（departments.yaml / spokespeople.yaml）", e.problems)
        raise typer.Exit(1)
    wanted = {p.resolve().name if p.name != "release.md" else p.resolve().parent.name for p in paths or []}
    failed = 0
    for folder, problems in sorted(catalog.problems.items()):
        if wanted and folder not in wanted:
            continue
        failed += 1
        _print_problems(folder, problems)
    for r in sorted(catalog.releases.values(), key=lambda r: r.id):
        if wanted and Path(r.source).name not in wanted:
            continue
        console.print(f"[green]✓[/] {r.id}（{r.kind_label}，{r.department.short}）")
        for w in catalog.warnings.get(r.id, []):
            console.print(f"    [yellow]提示[/] {w}", highlight=False, markup=False)
    missing = wanted - set(catalog.problems) - {Path(r.source).name for r in catalog.releases.values()}
    for name in sorted(missing):
        err.print(f"[red]✗ 找不到稿件文件夹 {name}[/]")
        failed += 1
    if failed:
        err.print(f"[bold red]{failed} 篇稿件未通过校验，任何渠道都不会发布它们。[/]")
        raise typer.Exit(1)


@app.command("list")
def list_releases():
    """List releases: kind, department, publish time, validity."""
    from .catalog import validate as run

    settings = load_settings()
    catalog = run(settings, render=False)
    table = Table(title="稿件")
    for col in ("id", "类型", "部门", "发布时间", "状态"):
        table.add_column(col)
    for r in sorted(catalog.releases.values(), key=lambda r: r.publish_at):
        table.add_row(r.id, r.kind_label, r.department.short, f"{r.publish_at:%Y-%m-%d %H:%M %z}", "[green]有效[/]")
    for folder, problems in sorted(catalog.problems.items()):
        table.add_row(folder, "", "", "", f"[red]{len(problems)} 个问题[/]")
    console.print(table)


@app.command()
def preview(release: str = typer.Argument(..., help="稿件 id 或文件夹"),
            out: Optional[Path] = typer.Option(None, "--out", help="输出文件夹（默认 outbox/preview/<id>）")):
    """Write one HTML page showing every channel's rendition side by side, with its warnings."""
    from .catalog import validate as run
    from .preview import build_preview

    settings = load_settings()
    catalog = run(settings, only=release)
    try:
        r = catalog.find(release)
    except ValidationFailed as e:
        _print_problems(release, e.problems)
        raise typer.Exit(1)
    except KeyError:
        err.print(f"[red]找不到稿件“{release}”[/]")
        raise typer.Exit(1)
    page = build_preview(r, catalog, out or settings.outbox_dir / "preview" / r.id)
    console.print(f"预览：{page.as_uri()}")


def _status_table(ledger, release_id: str, title: str = "") -> Table:
    from channels import adapter
    from .ledger import STATE_LABELS

    colours = {"published": "green", "failed": "red", "unconfirmed": "magenta", "delivering": "cyan",
               "retracted": "yellow", "skipped": "yellow"}
    table = Table(title=title or release_id)
    for col in ("渠道", "版本", "状态", "尝试", "发布时间", "链接 / 错误"):
        table.add_column(col, overflow="fold")
    for ch, d in sorted(ledger.latest(release_id).items()):
        colour = colours.get(d.state, "white")
        when = f"{d.published_at.astimezone(load_settings().tz):%m-%d %H:%M:%S}" if d.published_at else ""
        table.add_row(adapter(ch).LABEL, d.version, f"[{colour}]{STATE_LABELS.get(d.state, d.state)}[/]",
                      str(d.attempts), when, d.last_error or d.url)
    return table


@app.command()
def publish(release: str = typer.Argument(..., help="稿件 id 或文件夹"),
            channels: Optional[List[str]] = typer.Option(None, "--channels", "-c", help="只发这些渠道（可重复）"),
            now: bool = typer.Option(False, "--now", help="不等待发布时间，立即发布（记入台账）"),
            actor: str = typer.Option("", "--actor", help="操作人（记入台账）")):
    """Publish a release to every channel through the Prefect flow (ephemeral Prefect unless
    PREFECT_API_URL is set), with live progress; exit 1 if any channel did not publish."""
    import threading

    from rich.live import Live

    from . import runtime
    from .catalog import validate as run
    from .ledger import Ledger

    runtime.configure(quiet_console=True)
    settings = load_settings()
    catalog = run(settings, only=release)
    try:
        r = catalog.find(release)
    except ValidationFailed as e:
        _print_problems(release, e.problems)
        err.print("[bold red]未通过校验：没有发布到任何渠道。[/]")
        raise typer.Exit(1)
    except KeyError:
        err.print(f"[red]找不到稿件“{release}”[/]")
        raise typer.Exit(1)
    ledger = Ledger(settings.ledger_url)
    console.print(f"发布 [bold]{r.title}[/]（{r.kind_label}，{r.department.short}，版本 {r.version}）")
    if not now and r.publish_at > datetime.now(settings.tz):
        console.print(f"等待发布时间 {r.publish_at:%Y-%m-%d %H:%M %Z}（用 --now 立即发布）")
    from flows.publish import publish_release

    result: dict = {}

    def work():
        result["state"] = publish_release(r.id, channels_only=channels or None, now=now,
                                          actor=actor or "cli", return_state=True)

    thread = threading.Thread(target=work, daemon=True)
    with Live(_status_table(ledger, r.id, r.title), console=console, refresh_per_second=4, transient=True) as live:
        thread.start()
        while thread.is_alive():
            thread.join(0.25)
            live.update(_status_table(ledger, r.id, r.title))
    console.print(_status_table(ledger, r.id, r.title))
    state = result.get("state")
    if state is None or not state.is_completed():
        err.print(f"[bold red]{state.message if state else '发布流程异常结束'}[/]", highlight=False)
        raise typer.Exit(1)
    portal = settings.outbox_dir / "portal" / "index.html"
    if settings.transports.get("portal") == "outbox" and portal.exists():
        console.print(f"门户栏目：{portal.as_uri()}")


@app.command()
def status(release: Optional[str] = typer.Argument(None, help="稿件 id；不填则列出全部"),
           as_json: bool = typer.Option(False, "--json", help="输出 JSON，供脚本使用")):
    """Publish status per channel, from the ledger."""
    import json

    from .ledger import Ledger

    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    ids = [release] if release else sorted({d.release_id for d in ledger.rows()})
    if as_json:
        out = {rid: {ch: {"state": d.state, "version": d.version, "attempts": d.attempts, "url": d.url,
                          "external_id": d.external_id, "error": d.last_error,
                          "published_at": d.published_at.isoformat() if d.published_at else None}
                     for ch, d in sorted(ledger.latest(rid).items())} for rid in ids}
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not ids:
        console.print("台账为空：还没有发布过稿件。")
    for rid in ids:
        console.print(_status_table(ledger, rid))


def main() -> None:  # pragma: no cover
    app()
