"""Mail to the news desks (newspaper copy desk, TV news desk): one message per desk address, the copy as
the text body and every other file of the rendition (``.docx``, script, ``.srt``, pictures) attached.

``Message-ID`` is ``<release.channel.version@domain>``: the same for every send of one version, so a desk
whose mail client or archive sees the same message twice can drop the second. SMTP cannot be asked what a
mailbox already holds, so ``lookup`` only knows what this transport recorded: each desk's address is saved
in the ledger's ``steps`` the moment the server answers 250, a retry sends only to the desks not yet done,
and when the connection drops after the message was sent (no answer), the channel is left unconfirmed for
the editor to check with the desk — it is never resent on its own.

Settings ``[transport.smtp]``: ``host``, ``port`` (587), ``starttls`` (true), ``ssl`` (false; implicit TLS,
port 465), ``username`` (login when set; password from env ``PRESSROOM_SMTP_PASSWORD`` or the Prefect Secret
block ``password_block``), ``from``, ``cafile`` (a private CA), ``timeout`` (30 s), ``message_id_domain``
("pressroom"), and ``[transport.smtp.desks]`` with a list of addresses per channel
(``newspaper = ["copy@paper.example"]``, ``tv = ["news@tv.example"]``).
"""

from __future__ import annotations

import mimetypes
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from pathlib import PurePosixPath

import channels
from pressroom.crashpoints import crashpoint
from pressroom.secrets import MissingCredential, credential, redact, transport_settings
from pressroom.settings import Settings

from pressroom.transports import (
    Attempt, CouldNotLook, CredentialsRefused, Found, HealthChecked, LookupAnswer, NotFound, PermanentError, Receipt,
    TransientError, Transport, TransportError, UnknownOutcome,
)

SERVICE = "邮件"


def message_id(rendition, domain: str = "pressroom") -> str:
    return f"<{rendition.release_id}.{rendition.channel}.{rendition.version}@{domain}>"


def copy_and_attachments(rendition) -> tuple[str, str, list[str]]:
    """(copy file, its text, attachment names): the copy is ``<release id>.txt`` (what the newspaper and TV
    channels write), else ``<channel>.txt``, else the first top-level ``.txt``; everything else is attached."""
    top_txt = sorted(n for n in rendition.files if n.endswith(".txt") and "/" not in n)
    preferred = [f"{rendition.release_id}.txt", f"{rendition.channel}.txt"]
    copy = next((n for n in preferred if n in rendition.files), top_txt[0] if top_txt else "")
    text = rendition.files[copy].decode("utf-8-sig") if copy else ""  # the copy desk's .txt may carry a BOM
    return copy, text, sorted(n for n in rendition.files if n != copy)


def attachment_names(names: list[str]) -> dict[str, str]:
    """File name each attachment is sent as: its base name, or the whole path (``/`` → ``_``) when two
    attachments share a base name."""
    base = [PurePosixPath(n).name for n in names]
    return {n: b if base.count(b) == 1 else n.replace("/", "_") for n, b in zip(names, base)}


class SMTPTransport(Transport, HealthChecked):
    name = "smtp"
    outlet = "smtp"

    @staticmethod
    def doctor(settings: Settings) -> list[tuple[str, bool, str]]:
        return check(settings)

    def __init__(self, settings: Settings, channel: str):
        self.settings, self.channel = settings, channel
        conf = transport_settings(settings, "smtp")
        self.conf = conf
        self.host = str(conf.get("host", ""))
        self.use_ssl = bool(conf.get("ssl", False))
        self.port = int(conf.get("port", 465 if self.use_ssl else 587))
        self.starttls = bool(conf.get("starttls", not self.use_ssl))
        self.username = str(conf.get("username", ""))
        self.sender = str(conf.get("from") or self.username)
        self.cafile = str(conf.get("cafile", "")) or None
        self.timeout = float(conf.get("timeout", 30))
        self.domain = str(conf.get("message_id_domain", "pressroom"))
        self.desks = [str(a) for a in (conf.get("desks") or {}).get(channel, [])]

    # -- the message -------------------------------------------------------------------------------

    def build(self, rendition, desk: str) -> EmailMessage:
        copy, text, attachments = copy_and_attachments(rendition)
        msg = EmailMessage()
        msg["Subject"] = f"【{channels.get(self.channel).label}】{rendition.title}"
        msg["From"] = self.sender
        msg["To"] = desk
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = message_id(rendition, self.domain)
        msg["X-Pressroom-Release"] = rendition.release_id
        msg["X-Pressroom-Version"] = rendition.version
        msg.set_content(text or f"{rendition.title}\n\n（稿件见附件）\n", charset="utf-8")
        filenames = attachment_names(attachments)
        for name in attachments:
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if name.endswith(".srt"):
                ctype = "text/plain"  # SubRip is text; some mail clients only preview text/*
            main, sub = ctype.split("/", 1)
            # Every attachment as bytes in base64: the desk gets exactly the file (text parts would
            # otherwise travel with CRLF line ends).
            params = {"charset": "utf-8"} if main == "text" else {}
            msg.add_attachment(rendition.files[name], maintype=main, subtype=sub, filename=filenames[name],
                               params=params)
        return msg

    # -- sending -----------------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        if not self.host:
            raise PermanentError(f"{SERVICE}：未配置 [transport.smtp] host")
        context = ssl.create_default_context(cafile=self.cafile)
        try:
            if self.use_ssl:
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=context)
                conn.ehlo()
        except ssl.SSLError as e:
            raise PermanentError(redact(f"{SERVICE}：与 {self.host} 建立加密连接失败（{e}）：检查证书或 cafile")) from None
        except smtplib.SMTPNotSupportedError:
            raise PermanentError(f"{SERVICE}：{self.host} 不支持 STARTTLS，请检查 [transport.smtp] 配置") from None
        except (OSError, smtplib.SMTPException) as e:
            raise TransientError(redact(
                f"{SERVICE}：无法连接 {self.host}:{self.port}（{_os_cause(e)}），未发送。请检查 [transport.smtp] "
                f"host 和 port 是否正确、本机能否访问邮件服务器（网络、防火墙）")) from None
        if self.username:
            try:
                password = credential(self.settings, "smtp", "password")
            except MissingCredential as e:
                conn.close()
                raise CredentialsRefused(str(e)) from None
            try:
                conn.login(self.username, password)
            except smtplib.SMTPAuthenticationError as e:
                conn.close()
                raise CredentialsRefused(redact(f"{SERVICE}：{self.host} 拒绝登录（{e.smtp_code}），请检查用户名和密码")) from None
            except (OSError, smtplib.SMTPException) as e:
                conn.close()
                raise TransientError(redact(f"{SERVICE}：登录 {self.host} 出错（{_os_cause(e)}），未发送")) from None
        return conn

    def _send(self, conn: smtplib.SMTP, desk: str, msg: EmailMessage, sending=lambda: None) -> None:
        """MAIL / RCPT / DATA by hand, to know whether a failure came before or after the message left."""
        def refused(stage: str, code: int, reply: bytes):
            text = redact(f"{SERVICE}发往 {desk}：服务器在 {stage} 拒绝（{code} {reply.decode(errors='replace')}）")
            return TransientError(text) if 400 <= code < 500 else PermanentError(text)

        try:
            code, reply = conn.mail(self.sender)
            if code != 250:
                raise refused("MAIL FROM", code, reply)
            code, reply = conn.rcpt(desk)
            if code not in (250, 251):
                raise refused("RCPT TO", code, reply)
            conn.putcmd("data")
            code, reply = conn.getreply()
            if code != 354:
                raise refused("DATA", code, reply)
        except (OSError, smtplib.SMTPServerDisconnected) as e:
            raise TransientError(redact(f"{SERVICE}发往 {desk}：连接中断（{type(e).__name__}），邮件未发出")) from None
        data = msg.as_bytes(policy=SMTP_POLICY)
        data = re.sub(rb"(?m)^\.", b"..", data)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        sending()  # from here the desk may receive it: recorded first, so a crash is never resent blind
        try:
            conn.send(data + b".\r\n")
            code, reply = conn.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as e:
            raise UnknownOutcome(redact(
                f"{SERVICE}发往 {desk}：邮件已发出，但连接在服务器确认前中断（{type(e).__name__}），编辑部可能已收到。"
                f"请与编辑部核实（邮件 Message-ID {msg['Message-ID']}，重复收到可按此去重）")) from None
        if code != 250:
            raise refused("邮件正文", code, reply)

    def deliver(self, rendition, attempt: Attempt) -> Receipt:
        if not self.desks:
            raise PermanentError(f"{SERVICE}：未配置 {self.channel} 的编辑部邮箱（[transport.smtp.desks] {self.channel}）")
        sent = dict(attempt.steps.get("sent") or {})
        # A desk recorded as "sending" but not as sent: the process died while its message was on the way
        # (perhaps after the server's 250). It is never mailed again on its own; the editor checks.
        doubtful = attempt.steps.get("sending") if attempt.steps.get("sending") not in sent else ""
        todo = [d for d in self.desks if d not in sent and d != doubtful]
        if todo:
            self._send_all(rendition, attempt, todo, sent)
        if doubtful:
            attempt.save_steps(unconfirmed=doubtful)
            raise UnknownOutcome(
                f"{SERVICE}发往 {doubtful}：上次发送时程序中断，邮件可能已送达但未记录确认，未再次发送。请与编辑部核实"
                f"（邮件 Message-ID {message_id(rendition, self.domain)}），再运行 pressroom resolve")
        return self._receipt(rendition)

    def _send_all(self, rendition, attempt: Attempt, todo: list[str], sent: dict) -> None:
        conn = self._connect()
        try:
            for desk in todo:
                msg = self.build(rendition, desk)
                attempt.save_steps(sending=desk)
                try:
                    self._send(conn, desk, msg)
                except UnknownOutcome:
                    attempt.save_steps(unconfirmed=desk)
                    raise
                except (TransientError, PermanentError):
                    attempt.save_steps(sending="")  # refused before the message left: nothing to check
                    raise
                crashpoint("smtp.after_accept")
                sent[desk] = msg["Message-ID"]
                attempt.save_steps(sent=dict(sent), sending="")
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()

    def _receipt(self, rendition) -> Receipt:
        return Receipt(external_id=message_id(rendition, self.domain), url="mailto:" + ",".join(self.desks))

    def lookup(self, rendition, attempt: Attempt) -> LookupAnswer:
        """SMTP has no way to ask a mailbox. Only what was recorded counts: every desk answered 250 (found);
        a desk whose message was on its way when the connection or the process died (``sending``,
        ``unconfirmed``) cannot be known (could not look); otherwise the desks not yet done get it."""
        steps = attempt.current_steps()
        sent = steps.get("sent") or {}
        if self.desks and all(d in sent for d in self.desks):
            return Found(self._receipt(rendition))
        doubtful = next((steps[k] for k in ("sending", "unconfirmed") if steps.get(k) and steps[k] not in sent), "")
        if doubtful:
            # resend_safe: ``deliver`` never mails the desk in doubt again, only the desks not yet done, so the
            # other desks still get their copy and the row ends 待核实 for that one desk.
            return CouldNotLook(f"{SERVICE}发往 {doubtful} 时中断，邮件可能已送达（邮件服务器无法查询），未重新发送。"
                                f"请与该编辑部核实（Message-ID {message_id(rendition, self.domain)}）", resend_safe=True)
        return NotFound()


def _os_cause(e: BaseException) -> str:
    """A connection failure in Chinese (never the library's text)."""
    if isinstance(e, ConnectionRefusedError):
        return "连接被拒绝（该地址没有邮件服务在监听）"
    if isinstance(e, socket.gaierror):
        return "域名无法解析"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "连接或等待回复超时"
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return "服务器断开了连接"
    if isinstance(e, smtplib.SMTPResponseException):
        return f"服务器回复 {e.smtp_code}"
    return f"网络错误 {type(e).__name__}"


DOCTOR_TIMEOUT = 4.0  # s per step of the doctor's SMTP check (ours): each outlet answers within 5 s


def check(settings: Settings) -> list[tuple[str, bool, str]]:
    """Connect, STARTTLS, log in, NOOP, QUIT — nothing is sent — and every mailed channel has a desk."""
    out = []
    mailed = [ch for ch in channels.configured(settings) if settings.transports.get(ch) == "smtp"]
    for ch in mailed:
        desks = SMTPTransport(settings, ch).desks
        out.append((f"{ch} 编辑部邮箱", bool(desks), "、".join(desks) or f"未配置 [transport.smtp.desks] {ch}"))
    t = SMTPTransport(settings, mailed[0] if mailed else "newspaper")
    t.timeout = min(t.timeout, DOCTOR_TIMEOUT)
    try:
        conn = t._connect()
        try:
            code, _ = conn.noop()
            if code != 250:
                raise TransientError(f"{SERVICE}：{t.host} 对 NOOP 回复 {code}，不能确认服务器可用")
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()
        how = ("STARTTLS、" if t.starttls else "") + ("登录" if t.username else "连接")
        out.append(("SMTP 连接与登录", True, f"{t.host}:{t.port} {how}成功"))
    except (PermanentError, TransientError) as e:
        out.append(("SMTP 连接与登录", False, str(e)))
    except (OSError, smtplib.SMTPException) as e:
        out.append(("SMTP 连接与登录", False, f"{SERVICE}：与 {t.host}:{t.port} 的会话出错（{_os_cause(e)}）"))
    return out

