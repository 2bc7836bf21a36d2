"""Weibo: one post through ``statuses/share`` (the rendition's status and picture), recorded with its id and
URL ``https://weibo.com/<uid>/<mid>``.

- The access-frequency limits (10022–10024) count per hour: ``QuotaExhausted`` until the next full hour (the
  row waits, 等待配额). "Posting too fast" (20016) is transient: the flow backs off and retries.
- Repeated content (20017 / 20019 / 20111) means "maybe already posted": the account's recent posts
  (``statuses/user_timeline``) are searched for this text and the adopted post is recorded; if it is not
  there, the outcome is unknown (the editor checks).
- A lost reply is never blindly retried: the timeline is searched first; a retry searches again before
  posting. Weibo stores links as t.cn short links, so the match is on the words (the status with its URLs
  taken out), and post ids recorded for another version of the release are never adopted.
- A refused token (21301, 21314–21319, 21327, 21332, 10014 app permission) disables the channel.

Settings ``[transport.weibo]``: ``base_url`` (default ``https://api.weibo.com``), ``rip`` (the office's
egress IP, required by the API; also read from ``[outlets.weibo] rip``), ``uid`` (optional: the account id
for URLs, else taken from the reply), ``timeout`` / ``connect_timeout``, ``lookup_count`` (recent posts to
search, default 20). The token: env ``PRESSROOM_WEIBO_TOKEN`` or the Prefect Secret block ``token_block``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from datetime import datetime, timedelta, timezone

from pressroom.crashpoints import crashpoint
from pressroom.transports.ratelimit import throttle
from pressroom.secrets import MissingCredential, credential, install_log_redaction, redact, transport_settings
from pressroom.settings import Settings

from pressroom.transports import (
    Attempt, CouldNotLook, CredentialsRefused, Found, HealthChecked, LookupAnswer, NotFound, PermanentError,
    QuotaExhausted, Receipt, Retracts, TransientError, Transport, TransportError, UnknownOutcome,
)
from pressroom.transports.http import (DOCTOR_BUDGET, DOCTOR_CONNECT_TIMEOUT, DOCTOR_READ_TIMEOUT, ConnectionFailed, Http,
                                       json_of)

log = logging.getLogger(__name__)
install_log_redaction((__name__,))

DEFAULT_BASE = "https://api.weibo.com"
SERVICE = "微博"
SHARE = "/2/statuses/share.json"
TIMELINE = "/2/statuses/user_timeline.json"
DESTROY = "/2/statuses/destroy.json"
GET_UID = "/2/account/get_uid.json"  # the token's account id: the positive check of a token
SHARE_FILE = "weibo-share.json"

RATE_LIMITS = {10022, 10023, 10024, 20016}
HOURLY_LIMITS = {10022, 10023, 10024}  # the access-frequency limits count per hour; 20016 is short-term
REPEATED = {20017, 20019, 20111}
CREDENTIAL_ERRORS = {10014, 21301, 21314, 21315, 21316, 21317, 21319, 21327, 21332}
MEANING = {
    10014: "应用没有该接口权限", 10016: "缺少必填参数", 10017: "参数值无效（正文须含安全域名下的链接、不能含 #话题#）",
    10022: "IP 请求频次超限", 10023: "用户请求频次超限", 10024: "用户请求该接口频次超限", 20005: "图片类型不支持",
    20006: "图片过大", 20012: "正文超过 140 字", 20016: "发布过于频繁", 20017: "内容重复", 20019: "内容重复",
    20111: "内容重复", 21301: "认证失败", 21327: "授权已过期", 21332: "授权无效",
}
PLATFORM_TZ = timezone(timedelta(hours=8))


def hourly_reset(now: datetime | None = None) -> datetime:
    """When an hourly limit is back: the start of the next hour."""
    now = now or datetime.now(timezone.utc)
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def _words(text: str) -> str:
    """A post's text without its links and spaces: what Weibo keeps as written."""
    return re.sub(r"\s+", "", _URL.sub("", text or ""))


class WeiboTransport(Transport, Retracts, HealthChecked):
    name = "weibo"
    outlet = "weibo"

    @staticmethod
    def doctor(settings: Settings) -> list[tuple[str, bool, str]]:
        return check(settings)

    def __init__(self, settings: Settings, channel: str):
        self.settings, self.channel = settings, channel
        conf = transport_settings(settings, "weibo")
        self.conf = conf
        self.http = Http(str(conf.get("base_url", DEFAULT_BASE)), SERVICE, timeout=float(conf.get("timeout", 20)),
                         connect_timeout=float(conf.get("connect_timeout", 5)), setting="[transport.weibo] base_url")
        self.rip = str(conf.get("rip") or settings.outlet("weibo").get("rip") or "")
        self.uid = str(conf.get("uid") or "")
        self.lookup_count = int(conf.get("lookup_count", 20))
        self._looked: set[tuple[int, int]] = set()  # (delivery id, attempt) whose lookup found nothing

    def _token(self) -> str:
        try:
            return credential(self.settings, "weibo", "token")
        except MissingCredential as e:
            raise CredentialsRefused(str(e)) from None

    def _status(self, rendition) -> tuple[str, str, bytes | None]:
        payload = rendition.payload or json.loads(rendition.files[SHARE_FILE])
        pic = payload.get("pic") or ""
        if pic and pic not in rendition.files:
            raise PermanentError(f"{SERVICE}：配图文件“{pic}”不在稿件中，请联系技术人员")
        return str(payload["status"]), pic, rendition.files.get(pic) if pic else None

    def _error(self, data: dict, what: str) -> TransportError:
        code = data.get("error_code")
        msg = redact(f"{SERVICE}{what}失败：{MEANING.get(code, '平台返回错误')}（error_code {code}：{data.get('error', '')}）")
        if code in HOURLY_LIMITS:
            reset = hourly_reset()
            return QuotaExhausted(f"{msg}，本小时额度已用完，{reset.astimezone(PLATFORM_TZ):%H:%M}（北京时间）后再发送", reset)
        if code in RATE_LIMITS:
            return TransientError(msg + "，稍后重试")
        if code in CREDENTIAL_ERRORS:
            return CredentialsRefused(msg)
        return PermanentError(msg)

    # -- deliver ---------------------------------------------------------------------------------

    def deliver(self, rendition, attempt: Attempt) -> Receipt:
        delivery = attempt.row
        token = self._token()
        status, pic_name, pic = self._status(rendition)
        try:
            ipaddress.ip_address(self.rip)
        except ValueError:
            raise PermanentError(f"{SERVICE}：未配置或配置错误的 rip（用户真实 IP，接口必填）：请在 [transport.weibo] "
                                 f"中填写本单位的出口 IP") from None
        known = attempt.other_ids()
        if delivery.attempts > 1 and (delivery.id, delivery.attempts) not in self._looked:
            answer = self._find(status, known)
            if isinstance(answer, Found):
                return answer.receipt
            if isinstance(answer, CouldNotLook):  # never post blind
                raise UnknownOutcome(f"{answer.reason}；此前的发送可能已成功，未再次发布，请到微博核实")
        form = {"access_token": token, "status": status, "rip": self.rip}
        files = {"pic": (pic_name, pic, _mime(pic_name))} if pic is not None else None
        throttle(self.outlet)  # per-outlet API rate limit shared by all workers (pressroom.transports.ratelimit)
        try:
            resp = self.http.request("POST", SHARE, what="发布微博", data=form, files=files)
        except UnknownOutcome as e:
            answer = self._find(status, known)
            if isinstance(answer, Found):
                log.info("weibo: reply lost, post found on the account: %s", answer.receipt.url)
                return answer.receipt
            raise UnknownOutcome(f"{e}；{_what_was_looked(answer)}，请到微博核实") from None
        data = json_of(resp, SERVICE, "发布微博")
        if data.get("error_code"):
            if data["error_code"] in REPEATED:
                return self._repeated(data, status, known)
            raise self._error(data, "发布微博")
        crashpoint("weibo.after_share")
        return self._receipt(data)

    def _repeated(self, data: dict, status: str, known: set[str]) -> Receipt:
        """"Repeated content" (docs/outlets.md#weibo: the same text as the account's last post) means this
        post may already be there: adopt it if the timeline shows it, else leave it to the editor, saying
        what was actually looked at."""
        answer = self._find(status, known)
        if isinstance(answer, Found):
            log.info("weibo: repeated content, adopting the existing post %s", answer.receipt.url)
            return answer.receipt
        raise UnknownOutcome(redact(f"{SERVICE}提示内容重复（error_code {data['error_code']}），可能已发布过；"
                                    f"{_what_was_looked(answer)}。未再次发布，请到微博核实"))

    def _receipt(self, post: dict) -> Receipt:
        idstr = str(post.get("idstr") or post.get("id") or "")
        if not idstr:
            raise UnknownOutcome(f"{SERVICE}发布微博：回复中没有微博 id，请到微博核实")
        uid = self.uid or str((post.get("user") or {}).get("idstr") or (post.get("user") or {}).get("id") or "")
        mid = str(post.get("mid") or idstr)
        url = f"https://weibo.com/{uid}/{mid}" if uid else f"https://weibo.com/detail/{mid}"
        return Receipt(external_id=idstr, url=url)

    # -- looking ---------------------------------------------------------------------------------

    def _timeline(self, count: int, throttled: bool = True) -> list[dict] | CouldNotLook:
        """The account's most recent posts, or why they could not be read: any HTTP status but 200 (the
        timeline is not available to every app and may answer 404), an error reply, or a reply without a
        ``statuses`` list is "could not look", never an empty timeline (docs/outlets.md#weibo)."""
        what = "查询最近微博"
        try:
            if throttled:
                throttle(self.outlet)  # per-outlet API rate limit shared by all workers (pressroom.transports.ratelimit)
            resp = self.http.request("GET", TIMELINE, what=what, idempotent=True,
                                     params={"access_token": self._token(), "count": count})
            data = _json_or_empty(resp)
        except TransportError as e:
            return CouldNotLook(f"无法查询账号最近的微博（{e}）")
        if data.get("error_code"):
            return CouldNotLook(f"无法查询账号最近的微博（{self._error(data, what)}）")
        if resp.status_code != 200:
            return CouldNotLook(f"无法查询账号最近的微博：{SERVICE}{what}返回 HTTP {resp.status_code}"
                                f"（该应用可能没有 statuses/user_timeline 接口权限）")
        posts = data.get("statuses")
        if not isinstance(posts, list) or not all(isinstance(p, dict) and "text" in p for p in posts):
            return CouldNotLook(f"无法查询账号最近的微博：{SERVICE}{what}的回复中没有微博列表（statuses），格式与文档不符")
        return posts

    def _find(self, status: str, known: set[str]) -> LookupAnswer:
        """Search the account's recent posts for this status: found, not among the N posts read, or could
        not look. Two matching posts (not recorded for another version) cannot tell which is ours."""
        posts = self._timeline(self.lookup_count)
        if isinstance(posts, CouldNotLook):
            return posts
        want = _words(status)
        hits = [p for p in posts if str(p.get("idstr") or p.get("id")) not in known and _words(p["text"]) == want]
        if len(hits) > 1:
            ids = "、".join(str(p.get("idstr") or p.get("id")) for p in hits)
            return CouldNotLook(f"账号最近的微博中有 {len(hits)} 条与本条文字相同（{ids}），无法判断哪条是本次发布")
        if hits:
            return Found(self._receipt(hits[0]))
        return NotFound(f"已查询账号最近 {len(posts)} 条微博，没有这条")

    def lookup(self, rendition, attempt: Attempt) -> LookupAnswer:
        delivery = attempt.row
        try:
            status = self._status(rendition)[0]
            answer = self._find(status, attempt.other_ids())
        except (TransportError, MissingCredential, KeyError) as e:
            log.warning("weibo: lookup could not ask the platform: %s", redact(e))
            return CouldNotLook(redact(f"无法查询账号最近的微博（{e}）"))
        if isinstance(answer, NotFound):
            self._looked.add((delivery.id, delivery.attempts))  # deliver need not look again
        return answer

    def id_from_url(self, url: str) -> str:
        """``https://weibo.com/<uid>/<mid>``: the mid as a number (a base62 mid such as ``Q9Jq5aBcD`` is
        decoded in groups of four from the right, as weibo.com writes it)."""
        last = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if last.isdigit():
            return last
        if not last or not last.isalnum() or not last.isascii():
            return ""
        digits = []
        while last:
            last, group = last[:-4], last[-4:]
            n = 0
            for ch in group:
                n = n * 62 + _BASE62.index(ch)
            digits.insert(0, str(n).zfill(7) if last else str(n))
        return "".join(digits)

    # -- withdrawing -------------------------------------------------------------------------------

    def retract(self, delivery) -> str:
        """Delete the post of ``delivery`` (``statuses/destroy``); a post already gone (20101) counts as
        deleted, so a retry or a re-run is harmless. Returns what was done."""
        post_id = str(delivery.external_id or "")
        if not post_id:
            raise PermanentError(f"{SERVICE}：台账中没有这条微博的 id，无法自动删除，请到微博手动删除")
        throttle(self.outlet)  # per-outlet API rate limit shared by all workers (pressroom.transports.ratelimit)
        resp = self.http.request("POST", DESTROY, what="删除微博", idempotent=True,
                                 data={"access_token": self._token(), "id": post_id})
        data = json_of(resp, SERVICE, "删除微博")
        if data.get("error_code") == 20101:
            return f"微博 {post_id} 已不存在（此前已删除）"
        if data.get("error_code"):
            raise self._error(data, "删除微博")
        return f"已删除微博 {post_id}"


def _json_or_empty(resp) -> dict:
    """The reply's JSON object, or {} when it is not one (the caller then judges by the HTTP status)."""
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _what_was_looked(answer: LookupAnswer) -> str:
    """What the look-up actually did, for the editor's message."""
    if isinstance(answer, CouldNotLook):
        return answer.reason
    return answer.detail or "账号最近的微博中没有找到这条"


def _mime(name: str) -> str:
    n = name.lower()
    return "image/png" if n.endswith(".png") else "image/gif" if n.endswith(".gif") else "image/jpeg"


def check(settings: Settings) -> list[tuple[str, bool, str]]:
    """Passes only on Weibo's positive answers: ``account/get_uid`` names the token's account, and the
    timeline answers its documented shape (the look-up after a crash needs it; docs/outlets.md#weibo: not
    every app has it). A 404, an error reply or another shape fails with the reason."""
    t = WeiboTransport(settings, "weibo")
    t.http = Http(t.http.base, SERVICE, timeout=DOCTOR_READ_TIMEOUT, connect_timeout=DOCTOR_CONNECT_TIMEOUT,
                  setting="[transport.weibo] base_url", budget=DOCTOR_BUDGET)
    out = []
    try:
        ipaddress.ip_address(t.rip)
        out.append(("rip（出口 IP）", True, t.rip))
    except ValueError:
        out.append(("rip（出口 IP）", False, "未配置：请在 [transport.weibo] 中填写 rip（本单位的出口 IP）"))
    what = "确认授权账号"
    try:
        resp = t.http.request("GET", GET_UID, what=what, idempotent=True, params={"access_token": t._token()})
        data = _json_or_empty(resp)
    except ConnectionFailed as e:
        return out + [("网络连接", False, str(e))]
    except TransportError as e:
        return out + [("access_token", False, str(e))]
    if data.get("error_code"):
        return out + [("access_token", False, str(t._error(data, what)))]
    if resp.status_code != 200 or not str(data.get("uid") or "").strip():
        return out + [("access_token", False, f"{SERVICE}{what}：返回 HTTP {resp.status_code}，回复中没有账号 uid，"
                                             f"不能确认令牌有效。请检查 [transport.weibo] base_url（应为 {DEFAULT_BASE}）")]
    out.append(("access_token", True, f"令牌有效（账号 uid {data['uid']}）"))
    posts = t._timeline(1, throttled=False)  # a doctor run never waits for a rate-limit slot
    if isinstance(posts, CouldNotLook):
        out.append(("查询最近微博", False, f"{posts.reason}。发布中断后将无法自动核对，此类情况会转为待核实"))
    else:
        out.append(("查询最近微博", True, "可读取账号最近的微博（发布中断后用于核对）"))
    return out
