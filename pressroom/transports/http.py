"""The small HTTP client the API transports share (WeChat, Weibo, CMS), on ``requests``.

What it adds is the one judgement that matters for "at most once": when a request fails, did it leave?

- could not connect, or timed out while connecting: nothing was sent → ``TransientError`` (retry);
- the connection dropped or the reply timed out *after* the request was sent: the platform may have acted →
  ``UnknownOutcome`` for a request that creates something, ``TransientError`` for one that only reads or is
  idempotent (``idempotent=True``: a lookup, a PUT to a fixed path, a call de-duplicated by an id);
- an HTTP 5xx / 429 answer: ``TransientError`` (the flow looks before re-sending anyway).

Every message goes through ``secrets.redact``: a URL may hold ``access_token`` and must not reach a log,
an exception or the ledger. Messages are for editors: the failure in Chinese with what to check (the
``base_url`` setting and the network), never the raw text of ``requests`` / ``urllib3``. A failure to
connect raises ``ConnectionFailed`` (a ``TransientError``), so ``pressroom doctor`` can tell "the outlet
could not be reached" from "the outlet refused". ``budget``: every request of this client together
finishes within that many seconds (``pressroom doctor``: each outlet answers within 5 s).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Mapping

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

from pressroom.secrets import install_log_redaction, redact

from pressroom.transports import CredentialsRefused, PermanentError, TransientError, UnknownOutcome

log = logging.getLogger(__name__)
install_log_redaction((__name__,))

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0
# pressroom doctor: the whole check of one outlet within DOCTOR_BUDGET seconds (ours).
DOCTOR_BUDGET, DOCTOR_CONNECT_TIMEOUT, DOCTOR_READ_TIMEOUT = 5.0, 2.0, 3.0


class ConnectionFailed(TransientError):
    """The outlet could not be reached (refused, unresolvable, timed out, dropped): nothing was sent."""


def _not_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request could leave."""
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(cause, (NewConnectionError, ConnectTimeoutError, NameResolutionError))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: dict[int, BaseException] = {}
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen[id(e)] = e
        todo += [getattr(e, "reason", None), e.__cause__, e.__context__,
                 *[a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]]
    return list(seen.values())


def _cause(exc: BaseException) -> str:
    """What went wrong with the connection, in Chinese, from the exception chain (never its text)."""
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    if any(isinstance(e, NameResolutionError) for e in chain) or "gaierror" in names:
        return "域名无法解析"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "连接被拒绝（该地址没有服务在监听）"
    if any(isinstance(e, requests.exceptions.SSLError) or type(e).__name__.startswith("SSL") for e in chain):
        return "TLS 加密连接失败（证书无效或不受信任）"
    if names & {"RemoteDisconnected", "ConnectionResetError", "ProtocolError", "IncompleteRead", "BrokenPipeError"}:
        return "对方断开了连接"
    if any(isinstance(e, (TimeoutError, ConnectTimeoutError)) for e in chain):
        return "连接超时"
    return "网络错误"


class Http:
    def __init__(self, base_url: str, service: str, *, timeout: float = DEFAULT_READ_TIMEOUT,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, setting: str = "", budget: float | None = None):
        self.base = base_url.rstrip("/")
        self.service = service  # Chinese name for messages, e.g. "微信公众号"
        self.setting = setting  # where base_url is configured, e.g. "[transport.wechat] base_url"
        self.timeout = (connect_timeout, timeout)
        self.budget = budget
        self.deadline: float | None = None
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or .netrc surprises; configure base_url explicitly

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, what: str, idempotent: bool = False,
                params: Mapping[str, Any] | None = None, json_bytes: bytes | None = None,
                data: Any = None, files: Any = None, headers: Mapping[str, str] | None = None) -> requests.Response:
        """Send one request; ``what`` names the step in Chinese for messages ("新建草稿")."""
        hdrs = dict(headers or {})
        if json_bytes is not None:
            data = json_bytes
            hdrs.setdefault("Content-Type", "application/json; charset=utf-8")
        timeout = self._timeout(what)
        try:
            resp = self.session.request(method, self.url(path), params=params, data=data, files=files,
                                        headers=hdrs, timeout=timeout, allow_redirects=False)
        except requests.ConnectTimeout:
            raise ConnectionFailed(self._msg(what, f"连接超时（{timeout[0]:g} 秒），请求未发出", self._check())) from None
        except requests.ReadTimeout:
            if idempotent:
                raise ConnectionFailed(self._msg(what, f"等待回复超时（{timeout[1]:g} 秒）", self._check())) from None
            raise UnknownOutcome(self._msg(what, "请求已发出但等待回复超时，平台可能已经处理")) from None
        except requests.ConnectionError as e:
            if _not_sent(e):
                raise ConnectionFailed(self._msg(what, f"无法连接，请求未发出：{_cause(e)}", self._check())) from None
            if idempotent:
                raise ConnectionFailed(self._msg(what, f"连接中断：{_cause(e)}", self._check())) from None
            raise UnknownOutcome(self._msg(what, f"请求已发出后连接中断（{_cause(e)}），平台可能已经处理")) from None
        except requests.RequestException as e:
            raise TransientError(self._msg(what, f"请求出错（{type(e).__name__}）", self._check())) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransientError(self._msg(what, f"平台返回 HTTP {resp.status_code}，稍后重试"))
        return resp

    def _timeout(self, what: str) -> tuple[float, float]:
        if self.budget is None:
            return self.timeout
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self.budget
        left = self.deadline - now
        if left <= 0.05:
            raise ConnectionFailed(self._msg(what, f"{self.budget:g} 秒内未完成检查", self._check()))
        return min(self.timeout[0], left), min(self.timeout[1], left)

    def _check(self) -> str:
        where = f"{self.setting}（现为 {self.base}）" if self.setting else self.base
        return f"请检查 {where} 是否正确、本机能否访问该地址（网络、防火墙、代理）"

    def _msg(self, what: str, problem: str, detail: object = "") -> str:
        return redact(f"{self.service}{what}：{problem}" + (f"。{detail}" if detail else ""))

    def close(self) -> None:
        self.session.close()


def json_of(resp: requests.Response, service: str, what: str) -> dict:
    """The JSON object of a reply; a reply that is not JSON is a platform fault (transient)."""
    try:
        body = resp.json()
    except ValueError:
        raise TransientError(redact(f"{service}{what}：平台回复不是 JSON（HTTP {resp.status_code}）")) from None
    if not isinstance(body, dict):
        raise TransientError(redact(f"{service}{what}：平台回复格式不对（HTTP {resp.status_code}）"))
    return body
