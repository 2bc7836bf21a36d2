"""A small threaded HTTP server with fault injection, shared by the outlet doubles.

Faults are queued per path (``inject("/cgi-bin/draft/add", "drop-after")``) and consumed by the next
matching request:

- ``"5xx"``: answer HTTP 503 (or ``status=``) without acting;
- ``"drop-before"``: close the connection without acting;
- ``"drop-after"``: act (the platform accepted the request), then close without answering;
- ``"slow"``: act, then answer after ``delay`` seconds (longer than the client's read timeout).

Any other kind is passed to the subclass's ``handle(req, fault)``: service faults (token expiry, rate
limits, a publish that later fails, an error code answered once).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)  # urlencoded or multipart text fields
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name -> (filename, type, bytes)

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def param(self, name: str, default: str = "") -> str:
        return self.query.get(name) or self.form.get(name) or default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"

    @classmethod
    def of_json(cls, data, status: int = 200) -> "Response":
        return cls(status, json.dumps(data, ensure_ascii=False).encode("utf-8"))


@dataclass
class Fault:
    path: str
    kind: str
    times: int = 1
    status: int = 503
    delay: float = 1.5
    code: int = 0  # for service faults that answer with a platform error code
    extra: dict = field(default_factory=dict)


def parse_body(req: Request) -> None:
    ctype = req.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        req.form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8"), keep_blank_values=True).items()}
    elif ctype.startswith("multipart/form-data"):
        msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + req.body)
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                req.files[name] = (filename, part.get_content_type(), data)
            else:
                req.form[name] = data.decode("utf-8")


class FakeServer:
    """Subclasses implement ``handle(req) -> Response``."""

    def __init__(self):
        self.calls: list[Request] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Request(self.command, parts.path,
                              {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                              {k.lower(): v for k, v in self.headers.items()}, body)
                parse_body(req)
                fault = app._take_fault(req.path)
                with app.lock:
                    app.calls.append(req)
                if fault and fault.kind == "5xx":
                    return self._reply(Response(fault.status, b"<html>Service Unavailable</html>", "text/html"))
                if fault and fault.kind == "drop-before":
                    return self._drop()
                with app.lock:  # one request changes the platform's state at a time
                    resp = app.handle(req, fault)
                if fault and fault.kind == "drop-after":
                    return self._drop()
                if fault and fault.kind == "slow":
                    time.sleep(fault.delay)
                self._reply(resp)

            def _reply(self, resp: Response):
                try:
                    self.send_response(resp.status)
                    self.send_header("Content-Type", resp.content_type)
                    self.send_header("Content-Length", str(len(resp.body)))
                    self.end_headers()
                    self.wfile.write(resp.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): the action stands, the reply is lost

            def _drop(self):
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "FakeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- faults and records ----------------------------------------------------------------------

    def inject(self, path: str, kind: str, times: int = 1, **kw) -> None:
        with self.lock:
            self.faults.append(Fault(path, kind, times, **kw))

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.path == path and f.times > 0:
                    f.times -= 1
                    if f.times == 0:
                        self.faults.remove(f)
                    return f
        return None

    def calls_to(self, path: str) -> list[Request]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    def handle(self, req: Request, fault: Fault | None = None) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError
