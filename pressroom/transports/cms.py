"""Push to the portal CMS over HTTP: the rendered page and its assets, idempotent by release id.

The contract (what a CMS, or a small adapter in front of it, implements):

``PUT {base_url}/releases/<release_id>`` (the portal page; another channel, e.g. the H5 page, goes to
``/releases/<release_id>/<channel>``) with ``Authorization: Bearer <token>`` and a JSON body::

    {"release_id": …, "channel": "portal", "version": …, "title": …, "url": <public URL pressroom expects>,
     "content_hash": …, "page": "<file name of the page>",
     "files": [{"path": …, "content_type": …, "sha256": …, "data": <base64>}, …]}

``files`` are the page as published, its 发布时间 slot filled with the time this delivery shows (the ledger
keeps it); ``content_hash`` names the approved rendition, the same whatever time the page shows. Answered
``200``/``201`` with ``{"id": …, "url": <public URL>, "version": …, "content_hash": …}``. A PUT to the
same path replaces the page, so sending twice leaves one page. ``GET`` of the same path answers that
description (404 when absent): the lookup after a lost reply or before a retry. JSON with base64 rather than
multipart: one request carries page and assets together (all or nothing), any CMS plug-in can parse it, and a
page with its pictures is a few MB at most (base64 adds a third).

Errors: 401/403 → the token is refused (the channel is disabled until ``pressroom doctor`` passes); other
4xx → refused (the CMS's message is kept); 5xx / 429 / a lost connection → transient (a PUT is idempotent).

Settings ``[transport.cms]``: ``base_url``, ``timeout`` / ``connect_timeout``; the token from env
``PRESSROOM_CMS_TOKEN`` or the Prefect Secret block ``token_block``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import mimetypes

from pressroom.crashpoints import crashpoint
from pressroom.secrets import MissingCredential, credential, install_log_redaction, redact, transport_settings
from pressroom.settings import Settings

from pressroom.transports import (
    Attempt, CouldNotLook, CredentialsRefused, Found, HealthChecked, LookupAnswer, NotFound, PermanentError, Receipt,
    TransientError, Transport, TransportError, delivered_files,
)
from pressroom.transports.http import DOCTOR_BUDGET, DOCTOR_CONNECT_TIMEOUT, DOCTOR_READ_TIMEOUT, Http, json_of

log = logging.getLogger(__name__)
install_log_redaction((__name__,))

SERVICE = "门户网站 CMS"
DOCTOR_PROBE = "pressroom-doctor"  # a release id no page has: GET answers 404 when all is well


def _main_page(rendition) -> str:
    pages = sorted(n for n in rendition.files if n.endswith(".html") and "/" not in n)
    if not pages:
        raise PermanentError(f"{SERVICE}：稿件中没有 HTML 页面")
    own = f"{rendition.release_id}.html"
    return own if own in pages else pages[0]


class CMSTransport(Transport, HealthChecked):
    name = "cms"
    outlet = "cms"

    @staticmethod
    def doctor(settings: Settings) -> list[tuple[str, bool, str]]:
        return check(settings)

    def __init__(self, settings: Settings, channel: str):
        self.settings, self.channel = settings, channel
        conf = transport_settings(settings, "cms")
        base = str(conf.get("base_url", ""))
        self.http = Http(base, SERVICE, timeout=float(conf.get("timeout", 30)),
                         connect_timeout=float(conf.get("connect_timeout", 5)), setting="[transport.cms] base_url")
        self.configured = bool(base)

    def path(self, release_id: str) -> str:
        return f"/releases/{release_id}" + ("" if self.channel == "portal" else f"/{self.channel}")

    def _headers(self) -> dict[str, str]:
        try:
            token = credential(self.settings, "cms", "token")
        except MissingCredential as e:
            raise CredentialsRefused(str(e)) from None
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def body(self, rendition, attempt: Attempt | None = None) -> dict:
        """The PUT body: the files as published (the 发布时间 slot filled with this delivery's time);
        ``content_hash`` names the approved rendition, so a look-up recognises it whatever time it shows."""
        sent = delivered_files(rendition, attempt, self.settings) if attempt else rendition.files
        files = [{"path": name, "content_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
                  "sha256": hashlib.sha256(data).hexdigest(), "data": base64.b64encode(data).decode("ascii")}
                 for name, data in sorted(sent.items())]
        return {"release_id": rendition.release_id, "channel": self.channel, "version": rendition.version,
                "title": rendition.title, "url": rendition.url, "content_hash": rendition.content_hash,
                "page": _main_page(rendition), "files": files}

    def _refused(self, resp, what: str) -> Exception:
        try:
            detail = resp.json().get("error", "")
        except ValueError:
            detail = resp.text[:200]
        msg = redact(f"{SERVICE}{what}：HTTP {resp.status_code}（{detail}）")
        if resp.status_code in (401, 403):
            return CredentialsRefused(msg + "，令牌被拒绝")
        return PermanentError(msg)

    def deliver(self, rendition, attempt: Attempt) -> Receipt:
        if not self.configured:
            raise PermanentError(f"{SERVICE}：未配置 [transport.cms] base_url")
        headers = self._headers()
        body = json.dumps(self.body(rendition, attempt), ensure_ascii=False).encode("utf-8")
        resp = self.http.request("PUT", self.path(rendition.release_id), what="推送页面", idempotent=True,
                                 json_bytes=body, headers=headers)
        crashpoint("cms.after_put")
        if resp.status_code not in (200, 201):
            raise self._refused(resp, "推送页面")
        data = json_of(resp, SERVICE, "推送页面")
        if data.get("content_hash") not in (None, rendition.content_hash):
            raise TransientError(f"{SERVICE}推送页面：CMS 回复的内容摘要与所推送的不一致，稍后重试")
        return Receipt(external_id=str(data.get("id") or rendition.release_id),
                       url=str(data.get("url") or rendition.url))

    def lookup(self, rendition, attempt: Attempt) -> LookupAnswer:
        """The CMS's page for this release, if it holds exactly this version. When the CMS cannot be asked
        the answer says so, marked ``resend_safe``: the PUT replaces the page, so sending again cannot make a
        second one."""
        try:
            resp = self.http.request("GET", self.path(rendition.release_id), what="查询页面", idempotent=True,
                                     headers=self._headers())
            if resp.status_code == 404:
                return NotFound()
            if resp.status_code != 200:
                raise self._refused(resp, "查询页面")
            data = json_of(resp, SERVICE, "查询页面")
        except (TransportError, MissingCredential) as e:
            log.warning("cms: lookup could not ask the CMS: %s", redact(e))
            return CouldNotLook(redact(str(e)), resend_safe=True)
        if data.get("content_hash") != rendition.content_hash:
            return NotFound("CMS 中是另一版本的页面")
        return Found(Receipt(external_id=str(data.get("id") or rendition.release_id),
                             url=str(data.get("url") or rendition.url)))


def check(settings: Settings) -> list[tuple[str, bool, str]]:
    """Passes only on the contract's positive answers: the probe page (which no release has) answered 404
    with a JSON body under our token, and refused (401/403) under a wrong one — so the endpoint is this
    CMS and it accepts our token. Any other status, a reply that is not JSON, or a CMS that does not tell
    tokens apart fails with the reason."""
    t = CMSTransport(settings, "portal")
    if not t.configured:
        return [("CMS 地址", False, "未配置 [transport.cms] base_url")]
    t.http = Http(t.http.base, SERVICE, timeout=DOCTOR_READ_TIMEOUT, connect_timeout=DOCTOR_CONNECT_TIMEOUT,
                  setting="[transport.cms] base_url", budget=DOCTOR_BUDGET)
    name = "CMS 连通与令牌"
    try:
        resp = t.http.request("GET", t.path(DOCTOR_PROBE), what="连通性检查", idempotent=True, headers=t._headers())
        if resp.status_code != 404:
            raise t._refused(resp, "连通性检查") if resp.status_code != 200 else PermanentError(
                f"{SERVICE}连通性检查：探测页面 {t.path(DOCTOR_PROBE)} 不应存在，却返回 HTTP 200")
        try:
            json_of(resp, SERVICE, "连通性检查")
        except TransientError:
            return [(name, False, f"{SERVICE}连通性检查：返回 HTTP 404，但不是 CMS 接口的 JSON 回复（可能是普通网站的错误页）。"
                                  f"请检查 [transport.cms] base_url（现为 {t.http.base}）")]
        wrong = t.http.request("GET", t.path(DOCTOR_PROBE), what="令牌校验", idempotent=True,
                               headers={"Authorization": "Bearer pressroom-doctor-wrong-token"})
    except (TransportError, MissingCredential) as e:
        return [(name, False, str(e))]
    if wrong.status_code not in (401, 403):
        return [(name, False, f"{SERVICE}：用错误的令牌访问也返回 HTTP {wrong.status_code}，该地址不校验令牌，"
                              f"不能确认是 pressroom 约定的 CMS 接口。请检查 [transport.cms] base_url")]
    return [(name, True, f"{t.http.base} 可访问，令牌有效")]
