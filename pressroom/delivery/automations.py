"""Automations on the Prefect server that tell people what needs them (created by `pressroom serve`):

* a publish, correction or withdrawal run that failed or crashed → a notice to the press office;
* an emergency with nothing published 5 hours after its ``event_at`` → an alert (a proactive trigger: it
  fires because an expected event did not happen: serve says when the clock is about to run out, and the
  trigger alerts unless a publication follows within ``ALERT_LEAD``);
* a sign-off waiting longer than ``[approval] remind_hours`` → a reminder to that level's reviewers.

Automations only notify, they never publish. Their action calls a webhook on 127.0.0.1 that the serve process
answers (``Receiver``); the notice itself goes the way every notice goes (``notify.office_notice``: the
outbox, and mail when SMTP is configured). A webhook rather than a state hook in the flow: a crashed run's
process is gone (killed, out of memory) and runs no hook, while the server still sees the state and the
missing events. The receiver reads the run and the ledger again before it says anything, so a late or
repeated call never sends a wrong or second notice."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from pressroom.delivery import approval, deadlines, reviewers, schedule
from pressroom.delivery.ledger import PUBLISHED, Ledger
from pressroom.delivery.notify import notified, office_notice
from pressroom.settings import Settings

WEBHOOK_BLOCK = "pressroom-notify"
RUN_FAILED, EMERGENCY_LATE, APPROVAL_WAITING = "run-failed", "emergency-late", "approval-waiting"
NAMES = {RUN_FAILED: "pressroom：发布流程失败或崩溃 → 通知新闻办",
         EMERGENCY_LATE: "pressroom：突发事件 5 小时内未发布 → 告警",
         APPROVAL_WAITING: "pressroom：审核等待超时 → 提醒本级审核人"}
FLOWS = ["publish-release", "correct-release", "retract-release"]  # runs that change what the public sees
DUE_SOON = "pressroom.emergency.due-soon"  # emitted by the serve process ALERT_LEAD before a 5-hour clock runs out
PUBLISHED_EVENT = "pressroom.release.published"  # emitted by the publish flow when a channel is out
FIRST_INFORMATION = deadlines.RULES[0]  # ("emergency", "首发权威信息", 5, "any")
# The trigger's window. Its events are dated when they are sent, never backdated to ``event_at``: Prefect's
# trigger service measures windows on its events' clock, and it evaluates a proactive trigger that has no
# open window again only a whole window later, so a 5-hour window opened by a backdated event could be seen
# hours after it closed.
ALERT_LEAD = timedelta(minutes=1)
# A waiting run leaves its pause by any of these (resumed, rescheduled, finished, cancelled …).
LEFT_PAUSE = ["Resuming", "Scheduled", "Pending", "Running", "Completed", "Failed", "Cancelled", "Cancelling",
              "Crashed", "AwaitingRetry", "Late"]


def release_resource(release_id: str) -> dict[str, str]:
    return {"prefect.resource.id": f"pressroom.release.{release_id}", "prefect.resource.role": "release"}


def definitions(settings: Settings, block_id) -> list:
    """The three automations, each calling the webhook block with what happened and to what."""
    from prefect.automations import Automation
    from prefect.events.actions import CallWebhook
    from prefect.events.schemas.automations import EventTrigger, Posture

    def call(what: str):
        return [CallWebhook(block_document_id=block_id,
                            payload=json.dumps({"what": what, "resource": "{{ event.resource.id }}",
                                                "event": "{{ event.event }}"}))]

    by_flow = {"prefect.resource.role": "flow", "prefect.resource.name": FLOWS}
    failed = EventTrigger(expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
                          match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=by_flow,
                          posture=Posture.Reactive, threshold=1, within=timedelta(0))
    late = EventTrigger(after={DUE_SOON}, expect={PUBLISHED_EVENT}, for_each={"prefect.resource.id"},
                        match={"prefect.resource.id": "pressroom.release.*"}, posture=Posture.Proactive,
                        threshold=1, within=ALERT_LEAD)
    waiting = EventTrigger(after={"prefect.flow-run.Suspended", "prefect.flow-run.Paused"},
                           expect={f"prefect.flow-run.{s}" for s in LEFT_PAUSE}, for_each={"prefect.resource.id"},
                           match={"prefect.resource.id": "prefect.flow-run.*"},
                           match_related={"prefect.resource.role": "flow", "prefect.resource.name": "publish-release"},
                           posture=Posture.Proactive, threshold=1,
                           within=timedelta(hours=settings.approval.remind_hours))
    return [Automation(name=NAMES[RUN_FAILED], description="发布、更正或撤稿流程失败或崩溃时通知新闻办（只通知，不发布）",
                       trigger=failed, actions=call(RUN_FAILED)),
            Automation(name=NAMES[EMERGENCY_LATE], description="突发事件发生 5 小时内没有任何渠道发布时告警（只通知）",
                       trigger=late, actions=call(EMERGENCY_LATE)),
            Automation(name=NAMES[APPROVAL_WAITING],
                       description=f"审核等待超过 {settings.approval.remind_hours:g} 小时，提醒本级审核人（只通知）",
                       trigger=waiting, actions=call(APPROVAL_WAITING))]


def install(settings: Settings, receiver_url: str) -> list[str]:
    """Create (or replace) the webhook block and the automations on the server; returns their names."""
    from pydantic import SecretStr

    from prefect.automations import Automation
    from prefect.blocks.webhook import Webhook

    block = Webhook(method="POST", url=SecretStr(receiver_url), allow_private_urls=True,
                    headers={"Content-Type": "application/json"})
    block_id = block.save(WEBHOOK_BLOCK, overwrite=True)
    made = []
    for automation in definitions(settings, block_id):
        try:
            current = Automation.read(name=automation.name)
        except ValueError:  # none of that name yet
            current = None
        if current is not None and _same(current, automation):
            made.append(current.name)  # kept: its waiting clocks (a sign-off, an emergency) keep running
            continue
        if current is not None:
            current.delete()
        made.append(automation.create().name)
    return made


def _same(a, b) -> bool:
    def shape(x):
        return (x.trigger.model_dump(mode="json", exclude={"id"}), [y.model_dump(mode="json") for y in x.actions],
                x.description, x.enabled)

    return shape(a) == shape(b)


# -- what a call says -------------------------------------------------------------------------------------

def _run(resource: str):
    from prefect.client.orchestration import get_client

    run_id = uuid.UUID(resource.rpartition(".")[2])
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def run_link(run_id) -> str:
    from prefect.settings import PREFECT_UI_URL

    base = PREFECT_UI_URL.value()
    return f"{base}/runs/flow-run/{run_id}" if base else str(run_id)


def handle(settings: Settings, payload: dict) -> bool:
    """One call of an automation's webhook: whether a notice went out."""
    what, resource = payload.get("what"), str(payload.get("resource", ""))
    ledger = Ledger(settings.ledger_url)
    if what == RUN_FAILED:
        return _run_failed(settings, ledger, _run(resource))
    if what == EMERGENCY_LATE:
        return _emergency_late(settings, ledger, resource.removeprefix("pressroom.release."))
    if what == APPROVAL_WAITING:
        return _approval_waiting(settings, ledger, _run(resource))
    return False


def _run_failed(settings: Settings, ledger: Ledger, run) -> bool:
    state = run.state
    if state is None or not (state.is_failed() or state.is_crashed()):
        return False  # retried meanwhile
    release = str(run.parameters.get("release", ""))
    verdict = "崩溃" if state.is_crashed() else "失败"
    lines = [f"流程运行：{run.name}（{state.name}）", f"原因：{(state.message or '（无）')[:1500]}",
             f"查看：{run_link(run.id)}", f"各渠道状态：pressroom status {release}" if release else ""]
    return office_notice(settings, ledger, release, f"run-{run.id}-{state.type.value.lower()}",
                         f"【发布流程{verdict}】{run.name}", [x for x in lines if x])


def _emergency_late(settings: Settings, ledger: Ledger, release_id: str) -> bool:
    from pressroom.releases.catalog import validate

    catalog = validate(settings, render=False)
    members = deadlines.events(catalog).get(release_id)
    if not members or any(d.state == PUBLISHED for m in members for d in ledger.rows(m.id)):
        return False  # published meanwhile (or no such event any more)
    first = members[0]
    start = first.event_at or first.publish_at
    lines = [f"事件：{first.title}（{first.department.name}）", f"发生时间：{start.astimezone(settings.tz):%Y-%m-%d %H:%M}",
             f"时限：{FIRST_INFORMATION[2]} 小时内发布权威信息，现已超时，尚无任何渠道发布",
             f"发布：pressroom publish {first.id} --reviewer 姓名 --code 动态口令（突发事件先发布、审核事后补签）"]
    return office_notice(settings, ledger, first.id, alert_key(first.id), f"【突发事件超时未发布】{first.title}", lines)


def alert_key(event_id: str) -> str:
    return f"emergency-{event_id}-{FIRST_INFORMATION[2]}h"


def _approval_waiting(settings: Settings, ledger: Ledger, run) -> bool:
    from pressroom.releases.catalog import validate

    if run.state is None or not run.state.is_paused():
        return False  # decided meanwhile
    release = str(run.parameters.get("release", ""))
    catalog = validate(settings, render=False, only=release)
    try:
        parts = catalog.bundle_of(catalog.find(release))
    except Exception:  # noqa: BLE001 — the run itself says what is wrong with the release
        return False
    level = approval.next_level(ledger, parts, approval.policy(settings))
    if level is None:
        return False
    names = approval.allowed(settings, parts, level)
    reg = reviewers.load_registry(settings.content_dir)
    emails = tuple(reg.reviewers[n].email for n in names if n in reg.reviewers and reg.reviewers[n].email)
    waited = datetime.now(timezone.utc) - (run.state.timestamp or datetime.now(timezone.utc))
    lines = [f"稿件：{parts[0].title}（{'、'.join(p.id for p in parts)}）",
             f"等待：{level}审核，已等待 {_duration(waited)}",
             f"本级可签署：{'、'.join(names) or '（无人可签，请在 content/reviewers.yaml 中登记）'}",
             f"审签页：{settings.outbox_dir / 'preview' / parts[0].id / 'index.html'}",
             f"在界面中审核：{run_link(run.id)}（Resume），或 pressroom approve {parts[0].id} --reviewer 姓名 --code 动态口令"]
    return office_notice(settings, ledger, parts[0].id, f"remind-{run.id}-{approval.policy(settings).levels.index(level) + 1}",
                         f"【待审核提醒】{level}：{parts[0].title}", lines, extra_to=emails)


def overdue_reminders(settings: Settings) -> int:
    """Sign-offs waiting past ``remind_hours`` whose reminder the trigger did not send, reminded now (once
    each, as every reminder): Prefect's trigger service drops a window that closed more than a minute
    (``expired_bucket_buffer``) before it looked, and never opens one for a pause whose event it did not
    receive before it stopped. Returns how many went out."""
    ledger = Ledger(settings.ledger_url)
    due = datetime.now(timezone.utc) - timedelta(hours=settings.approval.remind_hours)
    return sum(_approval_waiting(settings, ledger, run) for run in schedule.waiting_for_signoff()
               if run.state.timestamp and run.state.timestamp <= due)


def _duration(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes >= 60 else f"{minutes} 分钟"


# -- the emergency clock about to run out -----------------------------------------------------------------

def emergency_deadlines(settings: Settings, ledger: Ledger, now: datetime) -> list[tuple[str, datetime]]:
    """Emergencies whose 5-hour clock runs (or ran out within the last hour) with nothing published and no
    alert sent yet: (first release id, when the clock runs out)."""
    from pressroom.releases.catalog import validate

    out = []
    for c in deadlines.clocks(validate(settings, render=False), ledger, now):
        if (c.rule == FIRST_INFORMATION[1] and c.met_at is None and c.due > now - timedelta(hours=1)
                and not notified(ledger, c.event_id, alert_key(c.event_id))):
            out.append((c.event_id, c.due))
    return out


def report_due_soon(release_id: str, due: datetime) -> None:
    """The event that opens the alert's window (dated now). Sent again while no alert is recorded: a window
    already open is kept, and the receiver sends the alert once."""
    from prefect.events import emit_event

    emit_event(DUE_SOON, resource=release_resource(release_id), payload={"due": due.isoformat()})


def report_published(release_id: str, title: str) -> None:
    from prefect.events import emit_event

    emit_event(PUBLISHED_EVENT, resource={**release_resource(release_id), "prefect.resource.name": title})


# -- the webhook on 127.0.0.1 -------------------------------------------------------------------------------

@dataclass
class Receiver:
    """The automations' webhook, served from a thread of `pressroom serve` on 127.0.0.1 with a random path
    (another local program cannot guess it). ``settings`` is read at every call. Started before the server
    on the same port and path every time, so what the server fires while serve starts up reaches it."""

    settings: Callable[[], Settings]
    log: Callable[[str], None] = print
    port: int = 0  # 0: any free port
    token: str = ""  # the path's secret; kept by the caller so the URL stays valid across restarts

    def __post_init__(self):
        self.token = self.token or secrets.token_urlsafe(16)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's name
                if self.path != f"/notify/{receiver.token}":
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204)
                self.end_headers()
                receiver.call(body)

            def log_message(self, *args):  # the serve log says what happened, not every request
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="pressroom-webhook", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/notify/{self.token}"

    def call(self, body: bytes) -> None:
        try:
            payload = json.loads(body or b"{}")
            sent = handle(self.settings(), payload)
            self.log(f"automation {payload.get('what')} for {payload.get('resource')}: "
                     f"{'notice sent' if sent else 'nothing to say'}")
        except Exception as e:  # noqa: BLE001 — a broken call must not stop the receiver
            self.log(f"automation call failed: {type(e).__name__}: {e}")

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
