"""Notices (R9): when a policy bundle or an emergency is published or fails, the offices that must know
hear about it. Every notice is written to ``outbox/notices/``; when ``[notify]`` lists addresses and
``[transport.smtp]`` is configured, it is also mailed. A notice is sent once per (release, version, outcome):
the ledger remembers it, so a re-run does not mail again.

    [notify]
    bundle = ["xwb@example.gov.cn", "zwgk@example.gov.cn"]   # press office, government disclosure office
    emergency = ["xwb@example.gov.cn", "yjb@example.gov.cn"] # press office, emergency office
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

from pressroom.delivery.ledger import Ledger
from pressroom.model import Release
from pressroom.secrets import redact, transport_settings
from pressroom.settings import Settings
from pressroom.files import write_atomic

NOTIFIED = "notified"
VERDICTS = {"published": "已发布", "failed": "未能全部发布", "preflight-failed": "发布前检查未通过"}


def notify(settings: Settings, ledger: Ledger, parts: list[Release], outcome: str, lines: list[str]) -> bool:
    """Send the notice for this outcome (a key of VERDICTS) unless it was sent already. Returns
    whether a notice went out now. Mail problems are recorded, never raised: a notice must not undo a
    publication."""
    head = parts[0]
    kind = "emergency" if head.kind == "emergency" else "bundle"
    key = f"{outcome}:{'+'.join(p.version for p in parts)}"
    if any(e["action"] == NOTIFIED and e["detail"].startswith(key) for e in ledger.history(head.id)):
        return False
    verdict = VERDICTS.get(outcome, outcome)
    subject = f"【{'突发事件' if kind == 'emergency' else '政策文件与解读'}{verdict}】{head.title}"
    body = "\n".join([subject, "", *(f"- {p.title}（{p.kind_label}，{p.department.name}）" for p in parts), "",
                      *lines, "", f"详情：pressroom status {head.id}"]) + "\n"
    name = f"{head.id}-{'+'.join(p.version for p in parts)}-{outcome}.txt"
    write_atomic(settings.outbox_dir / "notices" / name, body.encode("utf-8"))
    to = list(settings.notify[kind])
    detail = f"{key} → {'、'.join(to) or 'outbox/notices'}"
    if to and transport_settings(settings, "smtp").get("host"):
        try:
            _mail(settings, to, subject, body, f"<notice.{head.id}.{key.replace(':', '.').replace('+', '.')}@pressroom>")
        except Exception as e:  # noqa: BLE001 — recorded and shown, the publication stands
            detail += f"（邮件发送失败：{redact(e)}）"
    ledger.log(head.id, "", head.version, NOTIFIED, "", detail)
    return True


SITE_ID = "*site*"  # the ledger's pseudo release for notices about the site as a whole


def alert(settings: Settings, ledger: Ledger, key: str, subject: str, lines: list[str]) -> bool:
    """A notice to the press office about the site (``[notify] inspection``), once per ``key`` (e.g. the
    day and what was found). Written to ``outbox/notices/``; mailed when SMTP is configured."""
    body = "\n".join([subject, "", *lines, "", "详情：pressroom inspect"]) + "\n"
    return _notice(settings, ledger, SITE_ID, key, f"inspection-{key}", subject, body, list(settings.notify.inspection),
                   f"<inspection.{key}@pressroom>")


def notified(ledger: Ledger, release_id: str, key: str) -> bool:
    """Whether the office notice ``key`` about this release (or the site) was sent."""
    return any(e["action"] == NOTIFIED and e["detail"].startswith(f"{key} ")
               for e in ledger.history(release_id or SITE_ID))


def office_notice(settings: Settings, ledger: Ledger, release_id: str, key: str, subject: str, lines: list[str],
                  extra_to: tuple[str, ...] = ()) -> bool:
    """A notice to the press office (``[notify] press_office``, and ``extra_to``) about one release or run:
    a publish run that failed or crashed, an emergency late, a sign-off waiting. Once per ``key``; written to
    ``outbox/notices/<key>.txt`` and mailed when SMTP is configured; recorded, never raised."""
    body = "\n".join([subject, "", *lines]) + "\n"
    to = list(dict.fromkeys([*settings.notify.press_office, *extra_to]))
    return _notice(settings, ledger, release_id or SITE_ID, key, key, subject, body, to, f"<{key}@pressroom>")


def _notice(settings: Settings, ledger: Ledger, owner: str, key: str, file: str, subject: str, body: str,
            to: list[str], message_id: str) -> bool:
    """Once per ``key`` of ``owner``: ``outbox/notices/<file>.txt``, mail to ``to`` when SMTP is configured,
    and a ledger record (the mail's failure is recorded, never raised)."""
    if notified(ledger, owner, key):
        return False
    write_atomic(settings.outbox_dir / "notices" / f"{file}.txt", body.encode("utf-8"))
    detail = f"{key} → {'、'.join(to) or 'outbox/notices'}"
    if to and transport_settings(settings, "smtp").get("host"):
        try:
            _mail(settings, to, subject, body, message_id)
        except Exception as e:  # noqa: BLE001 — recorded, never raised
            detail += f"（邮件发送失败：{redact(e)}）"
    ledger.log(owner, "", "", NOTIFIED, "", detail)
    return True


def _mail(settings: Settings, to: list[str], subject: str, body: str, message_id: str) -> None:
    from pressroom.transports.smtp import SMTPTransport

    smtp = SMTPTransport(settings, "notify")
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, smtp.sender, ", ".join(to)
    msg["Date"], msg["Message-ID"] = formatdate(localtime=True), message_id
    msg.set_content(body, charset="utf-8")
    conn = smtp._connect()
    try:
        conn.send_message(msg)
    finally:
        conn.quit()
