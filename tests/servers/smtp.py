"""A real SMTP server (aiosmtpd) for the desk mail: STARTTLS with a self-signed certificate, AUTH
LOGIN/PLAIN checked against one account, every accepted message kept (parsed) in ``messages``.

Faults on command (``inject(kind, times=1)``): ``"451"`` answers DATA with a temporary failure (not
stored), ``"554"`` with a permanent one, ``"drop-after-data"`` stores the message and closes the
connection without answering (the desk got it, the sender cannot know)."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation chatter


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost and its key (PEM files in ``folder``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPServer:
    def __init__(self, folder: Path, username: str = "desk-sender", password: str = "smtp-test-password"):
        self.username, self.password = username, password
        self.cert, key = self_signed(folder)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, key)
        self.messages: list[Received] = []
        self.faults: list[list] = []  # [kind, times]
        self.logins: list[str] = []
        self.lock = threading.Lock()
        self.port = _free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, tls_context=ctx,
                                     require_starttls=True, authenticator=self._authenticate,
                                     auth_required=True, server_hostname="localhost")

    # -- aiosmtpd hooks --------------------------------------------------------------------------

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
        password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
        ok = login == self.username and password == self.password
        with self.lock:
            self.logins.append(f"{login}:{'ok' if ok else 'refused'}")
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server, session, envelope):
        fault = self._take()
        if fault == "451":
            return "451 4.3.0 Mail server temporarily rejected message"
        if fault == "554":
            return "554 5.7.1 Message rejected as spam"
        raw = envelope.original_content or envelope.content
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw,
                                          message_from_bytes(raw, policy=policy.default)))
        if fault == "drop-after-data":
            server.transport.abort()  # accepted and stored; the "250" never leaves
        return "250 OK"

    # -- control ---------------------------------------------------------------------------------

    def inject(self, kind: str, times: int = 1) -> None:
        with self.lock:
            self.faults.append([kind, times])

    def _take(self) -> str:
        with self.lock:
            for f in self.faults:
                if f[1] > 0:
                    f[1] -= 1
                    if f[1] == 0:
                        self.faults.remove(f)
                    return f[0]
        return ""

    def start(self) -> "SMTPServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
