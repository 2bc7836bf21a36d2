"""``pressroom serve``: the whole newsroom on one machine in one command (README "One machine")."""

from __future__ import annotations

import os

import typer

from pressroom.cli.base import app, console, err, load_settings
from pressroom.settings import load_settings as read_settings


@app.command()
def serve(port: int = typer.Option(4200, "--port", help="Prefect 界面与 API 的端口"),
          host: str = typer.Option("127.0.0.1", "--host", help="监听地址（默认只在本机）"),
          database: str = typer.Option("", "--database", envvar="PRESSROOM_PREFECT_DATABASE",
                                       help="Prefect 的数据库 URL（PostgreSQL：postgresql+asyncpg://…）；"
                                            "默认 PREFECT_HOME 下的 SQLite"),
          limit: int = typer.Option(4, "--limit", help="同时运行的流程数"),
          webhook_port: int = typer.Option(0, "--webhook-port",
                                           help="自动化通知回调的本机端口（默认：界面端口 + 1）")):
    """Run the newsroom: a local Prefect server with its UI, the deployments of prefect.yaml served from this
    process (scheduled releases go out, approvals wait in the UI, "Run" publishes), and the automations that
    notify the press office. Ctrl-C stops everything; a restart picks up what came due meanwhile."""
    import signal

    # Ctrl-C stops everything, even when started from a script whose background jobs ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = load_settings()
    from flows import newsroom

    webhook_port = webhook_port or port + 1
    for p, what in ((port, "--port"), (webhook_port, "--webhook-port")):
        if newsroom.port_taken(host if p == port else "127.0.0.1", p):
            err.print(f"[bold red]端口 {p} 已被占用（另一个 Prefect 服务器或 pressroom serve？）：请用 {what} 换一个[/]",
                      highlight=False)
            raise typer.Exit(1)
    from pressroom.delivery import automations

    # The automations' webhook answers before the server starts: what it fires on start-up (a reminder that
    # came due while serve was stopped) is heard, on the same address as last time.
    receiver = automations.Receiver(read_settings, log=_say, port=webhook_port,
                                    token=_webhook_token(settings.root / "var" / "serve" / "webhook-token")).start()
    api = f"http://{host}:{port}/api"
    log = settings.root / "var" / "serve" / "prefect-server.log"
    console.print(f"启动 Prefect 服务器（{'PostgreSQL' if database.startswith('postgres') else 'SQLite'}）…")
    server = newsroom.start_server(host, port, database, log)
    try:
        newsroom.wait_until_up(api, server, log)
        os.environ["PREFECT_API_URL"] = api  # this process and every flow run it starts talk to it
        _run(settings, api, limit, receiver)
    except RuntimeError as e:
        err.print(f"[bold red]{e}[/]", highlight=False)
        raise typer.Exit(1)
    except KeyboardInterrupt:  # Ctrl-C while starting
        pass
    finally:
        newsroom.stop_process_group(server)
        receiver.stop()
        console.print("已停止：Prefect 服务器与各流程均已退出。")


def _webhook_token(path) -> str:
    """The webhook's secret path, the same across restarts; readable by the service account only."""
    import secrets

    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token)
    return token


def _run(settings, api: str, limit: int, receiver) -> None:
    import threading

    from pressroom import runtime

    runtime.configure()
    from flows import newsroom
    from pressroom.delivery import automations

    deps = newsroom.deployments()
    runner = newsroom.runner(deps, limit)
    made = automations.install(settings, receiver.url)
    stop = threading.Event()
    newsroom.watch(read_settings, stop, _say)
    console.print(f"部署（与 prefect.yaml 同名）：{'、'.join(d.name for d in deps)}")
    console.print(f"自动化：{'；'.join(made)}")
    console.print(f"[bold]Prefect 界面：{api.removesuffix('/api')}[/]  （Ctrl-C 停止）", highlight=False)
    try:
        newsroom.serve(runner)
    finally:
        stop.set()


def _say(line: str) -> None:
    """A line of serve's log; errors quoted in it may carry a credential (a database URL), so it is redacted."""
    from pressroom.secrets import redact

    console.print(f"[dim]{redact(line)}[/]", highlight=False, markup=True)
