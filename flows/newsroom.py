"""The newsroom on one machine (`pressroom serve`): a local Prefect server (API and UI) started as a child
process, the deployments of prefect.yaml served from this process under the same names (each flow run a
child process of it), the automations that tell people what needs them, and a clean stop on Ctrl-C.

Imported only by `pressroom serve`, so no other command loads the Prefect server's machinery."""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import yaml

from pressroom.settings import PROJECT_ROOT

SERVER_START_SECONDS = 180  # a cold Prefect server on a busy 2-core machine
STOP_SECONDS = 20  # then what is left is killed
WATCH_SECONDS = 60


def port_taken(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def start_server(host: str, port: int, database: str, log: Path) -> subprocess.Popen:
    """`prefect server start` in its own process group (so its workers stop with it), the UI on;
    ``database``: a SQLAlchemy URL (PostgreSQL: ``postgresql+asyncpg://…``), else Prefect's SQLite in
    PREFECT_HOME."""
    env = {**os.environ, "PREFECT_UI_ENABLED": "true", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_API_HOST": host, "PREFECT_SERVER_API_PORT": str(port)}
    env.pop("PREFECT_API_URL", None)
    if database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port",
                                 str(port)], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)


def wait_until_up(api_url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"Prefect 服务器未能启动（退出码 {server.returncode}），见 {log}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"Prefect 服务器 {SERVER_START_SECONDS} 秒内没有响应，见 {log}")


def stop_process_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the whole group, SIGKILL to what is left after STOP_SECONDS."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(STOP_SECONDS)
    except ProcessLookupError:
        pass
    try:  # children of the server that outlived it
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def declared(root: Path = PROJECT_ROOT) -> list[dict]:
    """The deployments of prefect.yaml."""
    return yaml.safe_load((root / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


def deployments(root: Path = PROJECT_ROOT) -> list:
    """The deployments of prefect.yaml as served deployments: the same names, descriptions, tags and
    schedules; the flows are imported here and each run starts as a child process of this one."""
    from prefect.schedules import Cron

    # A served deployment finds its flow by a path relative to the working directory: the checkout.
    if os.environ.get("PRESSROOM_CONFIG"):
        os.environ["PRESSROOM_CONFIG"] = str(Path(os.environ["PRESSROOM_CONFIG"]).resolve())
    os.chdir(root)
    out = []
    for d in declared(root):
        path, _, name = d["entrypoint"].partition(":")
        module = importlib.import_module(".".join(Path(path).with_suffix("").parts))
        flow = getattr(module, name)
        schedules = [Cron(s["cron"], timezone=s.get("timezone")) for s in d.get("schedules") or []]
        out.append(flow.to_deployment(name=d["name"], description=d.get("description"), tags=d.get("tags"),
                                      schedules=schedules or None))
    return out


def watch(load_settings, stop: threading.Event, log) -> threading.Thread:
    """Every minute (sooner for an emergency clock about to run out), beside the server's automations: what
    an emergency's alert needs said, and the sign-off reminders the server's trigger did not send."""

    def loop():
        while not stop.is_set():
            wait = WATCH_SECONDS
            for name, step in (("emergency watch", _emergencies), ("reminder watch", _reminders)):
                try:
                    wait = min(wait, step(load_settings(), log))
                except Exception as e:  # noqa: BLE001 — a broken release must not stop the watch
                    log(f"{name}: {type(e).__name__}: {e}")
            stop.wait(wait)

    thread = threading.Thread(target=loop, name="pressroom-watch", daemon=True)
    thread.start()
    return thread


def _emergencies(settings, log) -> float:
    """Say when an emergency's 5-hour clock is about to run out with nothing published: ``ALERT_LEAD``
    before it does, or at once for a clock seen past due. Said again every minute until the alert is
    recorded, since the server's trigger service may not yet have loaded a just-created automation when the
    first word arrives (a window already open is kept; the alert goes out once). Returns the seconds until
    the next clock needs a word."""
    from pressroom.delivery import automations
    from pressroom.delivery.ledger import Ledger

    wait = WATCH_SECONDS
    now = datetime.now(timezone.utc)
    for rid, due in automations.emergency_deadlines(settings, Ledger(settings.ledger_url), now):
        until = (due - automations.ALERT_LEAD - now).total_seconds()
        if until > 0:
            wait = min(wait, until)
            continue
        automations.report_due_soon(rid, due)
        log(f"emergency {rid}: 5-hour clock runs out at {due.isoformat()}, nothing published: reported")
    return wait


def _reminders(settings, log) -> float:
    """Reminders past due that the server's trigger did not send (once each): its window is lost when the
    pause's event was still on its way as serve stopped, or closed over a minute before the restarted
    trigger service looked."""
    from pressroom.delivery import automations

    if reminded := automations.overdue_reminders(settings):
        log(f"{reminded} overdue sign-off reminder(s) sent")
    return WATCH_SECONDS


def runner(deps: list, limit: int):
    """A runner with the deployments registered on the server (so "Run" works once this returns). Schedules
    stay active when it stops, so a restart picks up what came due meanwhile."""
    from prefect.runner import Runner

    r = Runner(pause_on_shutdown=False, limit=limit)
    for d in deps:
        r.add_deployment(d)
    return r


def serve(r) -> None:
    """Run until Ctrl-C or SIGTERM; the runner stops its flow runs on the way out."""
    import asyncio

    try:
        asyncio.run(r.start())
    except KeyboardInterrupt:
        pass
