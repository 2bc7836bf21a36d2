"""The root ``pressroom`` Typer app, the two consoles and the helpers several command modules share.

Command modules import from here and nowhere else in ``pressroom.cli``; ``pressroom.cli`` imports the
command modules (which registers their commands) and exposes ``app``. Heavy imports (Prefect, channels,
SQLAlchemy) stay inside the functions that need them, so ``pressroom --help`` answers quickly."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pressroom.errors import ValidationFailed
from pressroom.settings import SettingsError, load_settings as _load_settings

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


# How the commands validate: with the verdicts and renditions earlier commands kept (``[paths] cache``), the
# releases not kept checked in two processes (a command's process has no threads to fork with).
EDITOR = {"cache": True, "workers": 2}


def print_problems(folder: str, problems) -> None:
    # soft_wrap: a long path or message is left to the terminal to wrap, never cut between words by rich
    err.print(f"[bold red]✗ {folder}[/]", highlight=False, soft_wrap=True)
    for p in problems:
        err.print(f"  • {p}", highlight=False, markup=False, soft_wrap=True)


def load_settings(path=None):
    """The settings, or every problem in pressroom.toml printed in Chinese and exit 1."""
    try:
        return _load_settings(path)
    except SettingsError as e:
        print_problems(f"{e.file}：{len(e.problems)} 处设置错误", e.problems)
        raise typer.Exit(1)


def find_release(settings, name: str, refused: str = ""):
    """Validate a release (with its bundle) and return (catalog, release), or print every problem in Chinese
    and exit 1. Audit findings a verified reviewer waived do not count (``pressroom waive``)."""
    from pressroom.delivery.waivers import validate as run

    catalog = run(settings, only=name, **EDITOR)
    try:
        return catalog, catalog.find(name)
    except ValidationFailed as e:
        print_problems(name, e.problems)
        if refused:
            err.print(f"[bold red]{refused}[/]")
    except KeyError:
        err.print(f"[red]找不到稿件“{name}”[/]")
    raise typer.Exit(1)


def status_table(ledger, release_id: str, title: str = "", tz=None) -> Table:
    """The release's channels from the ledger. ``tz``: the settings' zone (else the settings are read)."""
    import channels
    from pressroom.delivery.ledger import PUBLISHED, STATE_LABELS, shown_time

    colours = {"published": "green", "failed": "red", "unconfirmed": "magenta", "delivering": "cyan",
               "retracted": "yellow", "skipped": "yellow",
               "waiting-quota": "yellow"}
    latest = ledger.latest(release_id)
    rows = [(ch, latest[ch]) for ch in channels.ordered(latest)]
    versions = sorted({d.version for _, d in rows})
    table = Table(title=f"{title or release_id}（版本 {'、'.join(versions)}）" if versions else (title or release_id))
    for col in ("渠道", "状态", "尝试", "发布时间", "链接 / 错误"):
        table.add_column(col, overflow="fold")
    tz = tz or load_settings().tz
    for ch, d in rows:
        colour = colours.get(d.state, "white")
        # The 发布时间 its pages show (to the minute), and how late that was against publish_at.
        shown = shown_time(d) if d.state == PUBLISHED else None
        late = int(d.steps.get("late_minutes") or 0)
        when = (f"{shown.astimezone(tz):%Y-%m-%d %H:%M}" + (f"（晚 {late} 分钟）" if late else "")) if shown else ""
        table.add_row(channels.get(ch).short, f"[{colour}]{STATE_LABELS.get(d.state, d.state)}[/]",
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


def require_signoffs(settings, catalog, ledger, r) -> None:
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


def verified(settings, ledger, reviewer: str, code: str, purpose: str, release_id: str = "") -> str:
    """The registered reviewer proven by their one-time code, who an action that changes what the public sees
    names in the ledger; else the rule broken, printed, and exit 1."""
    from pressroom.delivery import reviewers

    try:
        return reviewers.verified_person(settings, ledger, reviewer, code, purpose, release_id)
    except reviewers.Refused as e:
        err.print(f"[bold red]{e}[/]", highlight=False)
        raise typer.Exit(1)


REVIEWER_HELP = "确认人：已登记的审核人姓名（content/reviewers.yaml）"
CODE_HELP = "确认人手机上的 6 位动态口令（pressroom reviewer enroll 开通）"


def run_link(run_id) -> str:
    """The run's page in the Prefect UI when a server is used (PREFECT_API_URL), else ""."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    if not PREFECT_API_URL.value() or not run_id:
        return ""
    base = PREFECT_UI_URL.value() or PREFECT_API_URL.value().removesuffix("/api")
    return f"{base.rstrip('/')}/runs/flow-run/{run_id}"
