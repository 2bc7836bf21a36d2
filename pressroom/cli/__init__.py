"""The ``pressroom`` command. Heavy imports (Prefect, channels) happen inside the commands that need them,
so ``validate`` and ``list`` answer quickly."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from pressroom.errors import ValidationFailed
from pressroom.model import KIND_LABELS, PLACEHOLDER, REQUIRED_SECTIONS
from pressroom.settings import load_settings


class _App(typer.Typer):
    """The command: a ledger that must be migrated first is a message saying so, not a traceback."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as e:
            ledger = sys.modules.get("pressroom.delivery.ledger")  # loaded by any command that opened one
            if ledger is None or not isinstance(e, ledger.LedgerOutdated):
                raise
            err.print(f"[bold red]{e}[/]", highlight=False, soft_wrap=True)
            raise SystemExit(1) from None


app = _App(help="pressroom：新闻办发布流水线（一次发布，多渠道同步，可追溯）", no_args_is_help=True,
           add_completion=False, pretty_exceptions_enable=False)
console = Console()
err = Console(stderr=True)


def _print_problems(folder: str, problems) -> None:
    err.print(f"[bold red]✗ {folder}[/]")
    for p in problems:
        err.print(f"  • {p}", highlight=False, markup=False)


def find_release(settings, name: str, refused: str = ""):
    """Validate a release (with its bundle) and return (catalog, release), or print every problem in Chinese
    and exit 1."""
    from pressroom.releases.catalog import validate as run

    catalog = run(settings, only=name)
    try:
        return catalog, catalog.find(name)
    except ValidationFailed as e:
        _print_problems(name, e.problems)
        if refused:
            err.print(f"[bold red]{refused}[/]")
    except KeyError:
        err.print(f"[red]找不到稿件“{name}”[/]")
    raise typer.Exit(1)


@app.command()
def new(kind: str = typer.Argument(..., help="routine | policy | emergency | opinion | policy-document"),
        slug: str = typer.Argument(..., help="稿件 id，也是文件夹名，如 water-price-2026"),
        department: str = typer.Option(..., "--department", "-d", help="部门简称（content/departments.yaml）"),
        title: str = typer.Option(PLACEHOLDER, "--title", help="标题")):
    """Scaffold a release folder with the kind's required sections, like `hugo new`."""
    from pressroom.releases.loader import ID_PATTERN, load_registry

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
    from pressroom.releases.catalog import validate as run

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
            console.print(Text.assemble(("    提示 ", "yellow"), w), highlight=False, soft_wrap=True)
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
    from pressroom.releases.catalog import validate as run

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
    from pressroom.sites.preview import build_preview

    settings = load_settings()
    catalog, r = find_release(settings, release)
    page = build_preview(r, catalog, out or settings.outbox_dir / "preview" / r.id)
    console.print(f"预览：{page.as_uri()}")


SHORT_LABELS = {"portal": "门户网站", "wechat": "微信", "weibo": "微博", "newspaper": "报纸", "tv": "电视",
                "infographic": "图解", "h5": "H5"}


def _status_table(ledger, release_id: str, title: str = "") -> Table:
    from pressroom.delivery.ledger import STATE_LABELS

    colours = {"published": "green", "failed": "red", "unconfirmed": "magenta", "delivering": "cyan",
               "retracted": "yellow", "skipped": "yellow"}
    from pressroom.settings import ALL_CHANNELS

    order = {ch: i for i, ch in enumerate(ALL_CHANNELS)}
    rows = sorted(ledger.latest(release_id).items(), key=lambda kv: order.get(kv[0], 99))
    versions = sorted({d.version for _, d in rows})
    table = Table(title=f"{title or release_id}（版本 {'、'.join(versions)}）" if versions else (title or release_id))
    for col in ("渠道", "状态", "尝试", "发布时间", "链接 / 错误"):
        table.add_column(col, overflow="fold")
    tz = load_settings().tz
    for ch, d in rows:
        colour = colours.get(d.state, "white")
        when = f"{d.published_at.astimezone(tz):%m-%d %H:%M:%S}" if d.published_at else ""
        table.add_row(SHORT_LABELS.get(ch, ch), f"[{colour}]{STATE_LABELS.get(d.state, d.state)}[/]",
                      str(d.attempts), when, d.last_error or _short_link(d.url))
    return table


def _short_link(url: str) -> str:
    """Outbox files as paths relative to the working directory: shorter, and clickable in a terminal."""
    if not url.startswith("file://"):
        return url
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(url).path))
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@app.command()
def publish(release: str = typer.Argument(..., help="稿件 id 或文件夹"),
            channels: Optional[List[str]] = typer.Option(None, "--channels", "-c", help="只发这些渠道（可重复）"),
            now: bool = typer.Option(False, "--now", help="不等待发布时间，立即发布（记入台账）"),
            actor: str = typer.Option("", "--actor", help="操作人（记入台账）")):
    """Publish a release to every channel through the Prefect flow (ephemeral Prefect unless
    PREFECT_API_URL is set), with live progress; exit 1 if any channel did not publish."""
    import threading

    from rich.live import Live

    from pressroom import runtime
    from pressroom.delivery.ledger import Ledger

    runtime.configure(quiet_console=True)
    settings = load_settings()
    catalog, r = find_release(settings, release, refused="未通过校验：没有发布到任何渠道。")
    ledger = Ledger(settings.ledger_url)
    _require_signoffs(settings, catalog, ledger, r)
    console.print(f"发布 [bold]{r.title}[/]（{r.kind_label}，{r.department.short}，版本 {r.version}）")
    if not now and r.publish_at > datetime.now(settings.tz):
        console.print(f"等待发布时间 {r.publish_at:%Y-%m-%d %H:%M %Z}（用 --now 立即发布）")
    from flows.publish import publish_release

    result: dict = {}

    def work():
        result["state"] = publish_release(r.id, channels_only=channels or None, now=now,
                                          actor=actor or "cli", return_state=True)

    thread = threading.Thread(target=work, daemon=True)
    parts = catalog.bundle_of(r)  # a policy bundle publishes both halves

    def tables():
        return Group(*(_status_table(ledger, p.id, p.title) for p in parts))

    with Live(tables(), console=console, refresh_per_second=4, transient=True) as live:
        thread.start()
        while thread.is_alive():
            thread.join(0.25)
            live.update(tables())
    console.print(tables())
    state = result.get("state")
    if state is None or not state.is_completed():
        err.print(f"[bold red]{state.message if state else '发布流程异常结束'}[/]", highlight=False)
        raise typer.Exit(1)
    portal = settings.outbox_dir / "portal" / "index.html"
    if settings.transports.get("portal") == "outbox" and portal.exists():
        console.print(f"门户栏目：{portal.as_uri()}")


def _require_signoffs(settings, catalog, ledger, r) -> None:
    """Without a Prefect server nobody could resume a paused run from elsewhere: ask for the sign-offs
    first instead of waiting forever."""
    from prefect.settings import PREFECT_API_URL

    from pressroom.delivery import approval

    parts = catalog.bundle_of(r)
    policy = approval.policy(settings)
    if PREFECT_API_URL.value() or r.kind == "emergency" or not approval.needs_approval(parts, policy):
        return
    missing = [lvl for lvl in policy.levels
               if lvl not in {d.get("level") for d in approval.decisions(ledger, parts) if d["action"] == "signoff"}]
    if missing:
        err.print(f"[bold red]{r.title} 需要审核后才能发布，尚缺：{'、'.join(missing)}[/]", highlight=False)
        err.print(f"请各级审核人运行：pressroom approve {parts[0].id} --reviewer 姓名 --role {missing[0]}"
                  "（或连接 Prefect 服务器，在界面中审核）", highlight=False)
        raise typer.Exit(1)


@app.command()
def status(release: Optional[str] = typer.Argument(None, help="稿件 id；不填则列出全部"),
           as_json: bool = typer.Option(False, "--json", help="输出 JSON，供脚本使用"),
           deadlines: bool = typer.Option(False, "--deadlines", help="突发事件与舆情的时限（5 小时、24 小时、48 小时）")):
    """Publish status per channel, from the ledger."""
    import json

    from pressroom.delivery.ledger import Ledger

    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    if deadlines:
        _print_deadlines(settings, ledger, as_json)
        return
    ids = [release] if release else sorted({d.release_id for d in ledger.rows()})
    if as_json:
        out = {rid: {ch: {"state": d.state, "version": d.version, "action": d.action, "attempts": d.attempts,
                          "url": d.url, "external_id": d.external_id, "error": d.last_error,
                          "published_at": d.published_at.isoformat() if d.published_at else None}
                     for ch, d in sorted(ledger.latest(rid).items())} for rid in ids}
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not ids:
        console.print("台账为空：还没有发布过稿件。")
    for rid in ids:
        console.print(_status_table(ledger, rid))


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
    except sched.ScheduleError as e:
        err.print(f"[red]{e}[/]", highlight=False)
        raise typer.Exit(1)


@app.command()
def approve(target: str = typer.Argument(..., help="稿件 id，或等待审核的流程运行 id"),
            reviewer: str = typer.Option(..., "--reviewer", help="审核人姓名"),
            role: str = typer.Option("", "--role", help="审核级别（默认：下一个待签级别）"),
            reject: bool = typer.Option(False, "--reject", help="驳回"),
            comment: str = typer.Option("", "--comment", help="审核意见 / 驳回理由")):
    """Sign off (or reject) a release: resumes its paused publish run, or records the sign-off for the
    current content ahead of publishing. A sign-off is bound to the content hash; an edit voids it."""
    import uuid

    from pressroom.delivery import approval
    from pressroom.delivery.ledger import Ledger

    if reject and not comment:
        err.print("驳回须用 --comment 写明理由")
        raise typer.Exit(2)
    decision = {"approve": not reject, "reviewer": reviewer, "role": role, "comment": comment}
    try:
        run_id = uuid.UUID(target)
    except ValueError:
        run_id = None
    if run_id is not None:
        _resume(run_id, decision)
        console.print(f"已提交审核意见到流程运行 {run_id}")
        return
    settings = load_settings()
    catalog, r = find_release(settings, target)
    parts = catalog.bundle_of(r)
    paused = _paused_runs(parts[0].id)
    if paused:
        for rid in paused:
            _resume(rid, decision)
        console.print(f"已提交审核意见到 {len(paused)} 个等待审核的流程运行")
        return
    ledger = Ledger(settings.ledger_url)
    policy = approval.policy(settings)
    level = approval.next_level(ledger, parts, policy)
    if level is None:
        console.print("各级审核均已签署（针对当前内容）。")
        return
    if role and role != level:
        err.print(f"审核须逐级进行：当前应由“{level}”审核（级别：{' → '.join(policy.levels)}）")
        raise typer.Exit(2)
    approval.record(ledger, parts, level, not reject, reviewer, level, comment)
    verdict = "驳回" if reject else "签署同意"
    console.print(f"{level} {reviewer} {verdict}：{'、'.join(p.id for p in parts)}"
                  f"（内容签名 {approval.signature(parts)}；稿件再修改则需重新审核）")


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


@app.command()
def history(release: str = typer.Argument(..., help="稿件 id")):
    """Every version and action of a release, with who and when, from the ledger's audit trail."""
    from pressroom.delivery.ledger import Ledger

    settings = load_settings()
    events = Ledger(settings.ledger_url).history(release)
    if not events:
        console.print(f"台账中没有稿件 {release} 的记录")
        return
    table = Table(title=f"{release} 操作记录")
    for col in ("时间", "渠道", "版本", "动作", "操作人", "说明"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(f"{e['at'].astimezone(settings.tz):%Y-%m-%d %H:%M:%S}", e["channel"], e["version"],
                      e["action"], e["actor"], e["detail"][:300])
    console.print(table)



site_app = typer.Typer(help="淮南新闻发布厅网站：生成与链接检查", no_args_is_help=True)
app.add_typer(site_app, name="site")
coverage_app = typer.Typer(help="媒体报道集、发布视频实录和网络直播链接（content/coverage.yaml）", no_args_is_help=True)
app.add_typer(coverage_app, name="coverage")


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
        _print_problems(coverage.STORE, e.problems)
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
        _print_problems(coverage.STORE, e.problems)
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
        _print_problems(coverage.STORE, e.problems)
        raise typer.Exit(1)
    console.print(f"网络直播：{url or '已删除'} → {release}", highlight=False)


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
            actor: str = typer.Option("", "--actor", help="核实人")):
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
    ledger.resolve(d, published_url or None, actor or "cli")
    console.print(f"已记录：{release} / {channel} " + (f"已发布 {published_url}" if published_url
                                                       else "未发布，下次运行 pressroom publish 时重新发送"))


def main() -> None:  # pragma: no cover
    app()


# Commands of larger features live in their own modules and register themselves on ``app``.
from pressroom.cli import corrections as cli_corrections, db as cli_db  # noqa: E402,F401
