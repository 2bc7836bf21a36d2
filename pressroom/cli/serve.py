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
          limit: int = typer.Option(4, "--limit", help="同时运行的流程数")):
    """Run the newsroom: a local Prefect server with its UI, the deployments of prefect.yaml served from this
    process (scheduled releases go out, approvals wait in the UI, "Run" publishes), and the automations that
    notify the press office. Ctrl-C stops everything; a restart picks up what came due meanwhile."""
    import signal

    # Ctrl-C stops everything, even when started from a script whose background jobs ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = load_settings()
    from flows import newsroom

    if newsroom.port_taken(host, port):
        err.print(f"[bold red]端口 {port} 已被占用（另一个 Prefect 服务器或 pressroom serve？）：请用 --port 换一个[/]",
                  highlight=False)
        raise typer.Exit(1)
    api = f"http://{host}:{port}/api"
    log = settings.root / "var" / "serve" / "prefect-server.log"
    console.print(f"启动 Prefect 服务器（{'PostgreSQL' if database.startswith('postgres') else 'SQLite'}）…")
    server = newsroom.start_server(host, port, database, log)
    try:
        newsroom.wait_until_up(api, server, log)
        os.environ["PREFECT_API_URL"] = api  # this process and every flow run it starts talk to it
        _run(settings, api, limit)
    except RuntimeError as e:
        err.print(f"[bold red]{e}[/]", highlight=False)
        raise typer.Exit(1)
    except KeyboardInterrupt:  # Ctrl-C while starting
        pass
    finally:
        newsroom.stop_process_group(server)
        console.print("已停止：Prefect 服务器与各流程均已退出。")


def _run(settings, api: str, limit: int) -> None:
    import threading

    from pressroom import runtime

    runtime.configure()
    from flows import newsroom
    from pressroom.delivery import automations

    deps = newsroom.deployments()
    runner = newsroom.runner(deps, limit)
    receiver = automations.Receiver(read_settings, log=_say).start()
    made = automations.install(settings, receiver.url)
    stop = threading.Event()
    newsroom.watch_emergencies(read_settings, stop, _say)
    console.print(f"部署（与 prefect.yaml 同名）：{'、'.join(d.name for d in deps)}")
    console.print(f"自动化：{'；'.join(made)}")
    console.print(f"[bold]Prefect 界面：{api.removesuffix('/api')}[/]  （Ctrl-C 停止）", highlight=False)
    try:
        newsroom.serve(runner)
    finally:
        stop.set()
        receiver.stop()


def _say(line: str) -> None:
    console.print(f"[dim]{line}[/]", highlight=False)
