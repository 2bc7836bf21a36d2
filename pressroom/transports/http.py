"""The small HTTP client the API transports share (WeChat, Weibo, CMS), on ``requests``.

What it adds is the one judgement that matters for "at most once": when a request fails, did it leave?

- could not connect, or timed out while connecting: nothing was sent → ``TransientError`` (retry);
- the connection dropped or the reply timed out *after* the request was sent: the platform may have acted →
  ``UnknownOutcome`` for a request that creates something, ``TransientError`` for one that only reads or is
  idempotent (``idempotent=True``: a lookup, a PUT to a fixed path, a call de-duplicated by an id);
- an HTTP 5xx / 429 answer: ``TransientError`` (the flow looks before re-sending anyway).

Every message goes through ``secrets.redact``: a URL may hold ``access_token`` and must not reach a log,
an exception or the ledger.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

from pressroom.secrets import install_log_redaction, redact

from pressroom.transports import CredentialsRefused, PermanentError, TransientError, UnknownOutcome

log = logging.getLogger(__name__)
install_log_redaction((__name__,))

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0


def _not_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request could leave."""
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(cause, (NewConnectionError, ConnectTimeoutError, NameResolutionError))


class Http:
    def __init__(self, base_url: str, service: str, *, timeout: float = DEFAULT_READ_TIMEOUT,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT):
        self.base = base_url.rstrip("/")
        self.service = service  # Chinese name for messages, e.g. "微信公众号"
        self.timeout = (connect_timeout, timeout)
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
        try:
            resp = self.session.request(method, self.url(path), params=params, data=data, files=files,
                                        headers=hdrs, timeout=self.timeout, allow_redirects=False)
        except requests.ConnectTimeout as e:
            raise TransientError(self._msg(what, "连接超时，请求未发出", e)) from None
        except requests.ReadTimeout as e:
            if idempotent:
                raise TransientError(self._msg(what, "等待回复超时", e)) from None
            raise UnknownOutcome(self._msg(what, "请求已发出但等待回复超时，平台可能已经处理", e)) from None
        except requests.ConnectionError as e:
            if _not_sent(e):
                raise TransientError(self._msg(what, "无法连接，请求未发出", e)) from None
            if idempotent:
                raise TransientError(self._msg(what, "连接中断", e)) from None
            raise UnknownOutcome(self._msg(what, "请求已发出后连接中断，平台可能已经处理", e)) from None
        except requests.RequestException as e:
            raise TransientError(self._msg(what, "请求出错", e)) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransientError(self._msg(what, f"平台返回 HTTP {resp.status_code}", resp.text[:200]))
        return resp

    def _msg(self, what: str, problem: str, detail: object = "") -> str:
        detail = f"（{type(detail).__name__}: {detail}）" if isinstance(detail, Exception) else (
            f"（{detail}）" if detail else "")
        return redact(f"{self.service}{what}：{problem}{detail}")

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
