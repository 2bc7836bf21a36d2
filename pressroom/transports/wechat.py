"""WeChat official account ("淮南发布"): upload images and cover, create the draft, publish it, wait for the
result — resuming from the last step done, so a re-run never makes a second draft or publication.

Steps (each id saved in the ledger's ``steps`` the moment it exists; the access token never is):

1. ``media/uploadimg`` every body image → URL, substituted for its ``pressroom-image:`` placeholder;
2. ``material/add_material`` (type image) the cover → ``thumb_media_id``;
3. ``draft/add`` → ``draft_media_id``;
4. ``freepublish/submit`` → ``publish_id`` (errcode 0 only means the job was accepted);
5. ``freepublish/get`` polled sparingly with growing gaps (``poll_delays``; the API has a quota of 100 a day)
   until success (``article_id``, ``article_url``) or failure (PermanentError with the platform's reason).
   A ``PUBLISHJOBFINISH`` callback (``publish_event``) wakes the poller early; the poll stays the source of
   truth;
6. optionally ``message/mass/sendall`` (``push = "always"``, or the rendition's payload says ``push``) with
   ``clientmsgid`` = release + version, so a retry cannot push twice (45065 returns the earlier msg_id).

After a lost reply, a crash or a retry the platform is asked first: ``draft/batchget`` before making a
draft, ``freepublish/batchget`` before publishing, matching title and ``content_source_url`` (ids that
belong to another version of the release in the ledger are never adopted).

Settings ``[transport.wechat]``: ``base_url`` (default ``https://api.weixin.qq.com``), ``appid`` (or env
``PRESSROOM_WECHAT_APPID``), the secret from env ``PRESSROOM_WECHAT_SECRET`` or the Prefect Secret block
named by ``secret_block``, ``timeout`` / ``connect_timeout`` (s), ``poll_delays`` (s, default 10, 20, 40, 60,
120), ``push`` ("never" | "always"), ``lookup_pages`` (pages of 20 to search, default 1).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pressroom.crashpoints import crashpoint
from pressroom.transports.ratelimit import throttle
from pressroom.secrets import (MissingCredential, credential, install_log_redaction, redact, remember,
                               transport_settings)
from pressroom.settings import Settings

from pressroom.transports import (
    Attempt, CouldNotLook, CredentialsRefused, Found, HealthChecked, LookupAnswer, NotFound, PermanentError,
    QuotaExhausted, Receipt, Retracts, TransientError, Transport, TransportError, UnknownOutcome,
)
from pressroom.transports.http import (DOCTOR_BUDGET, DOCTOR_CONNECT_TIMEOUT, DOCTOR_READ_TIMEOUT, ConnectionFailed, Http,
                                       json_of)

log = logging.getLogger(__name__)
install_log_redaction((__name__,))

DEFAULT_BASE = "https://api.weixin.qq.com"
SERVICE = "微信公众号"
MANIFEST_FILE = "wechat-manifest.json"
DRAFT_FILE = "wechat-draft.json"
IMAGE_SCHEME = "pressroom-image:"
COVER_PLACEHOLDER = "pressroom-cover"
DEFAULT_POLL_DELAYS = (10, 20, 40, 60, 120)  # seconds: ~4 min, 5 of the 100 daily freepublish/get calls
REFRESH_MARGIN = 300  # refresh the token this many seconds before it expires

TOKEN_ERRORS = {40001, 40014, 42001}
QUOTA = 45009  # an interface's daily call quota: reset at 00:00 Beijing time (docs/outlets.md#wechat)
PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
TRANSIENT = {-1, 45011}
CREDENTIAL_ERRORS = {40013, 40125, 40164, 41004, 48001, 40243}
# What an editor reads (the platform's own errmsg follows in the message).
MEANING = {
    -1: "系统繁忙", 40001: "access_token 无效", 40014: "access_token 不合法", 42001: "access_token 已过期",
    40013: "AppID 无效", 40125: "AppSecret 无效", 41004: "缺少 AppSecret",
    40164: "服务器 IP 不在公众号的 IP 白名单中：请到公众平台“设置与开发-基本配置-IP白名单”添加本机的出口 IP",
    40243: "AppSecret 已被冻结",
    48001: "公众号没有该接口权限：自 2025 年 7 月起未认证的公众号不再能调用草稿/发布接口，请先完成微信认证",
    40005: "文件类型不支持", 40009: "图片大小超过限制", 40007: "media_id 无效（封面须为永久素材）",
    40033: "请求含 \\uXXXX 转义字符", 44003: "图文内容为空", 45003: "标题或正文超过长度限制",
    45004: "摘要超过长度限制", 45110: "作者超过长度限制", 45009: "接口今日调用次数已达上限，次日恢复",
    45011: "接口调用过于频繁", 45028: "今日群发次数已用完（认证订阅号每天一次）", 47001: "数据格式错误", 53503: "草稿未通过发布前检查",
    53504: "需到公众平台官网处理此草稿", 53505: "请到公众平台官网手动处理此草稿",
}
# 40007 means "this id is not valid here", and which id depends on the call.
MEANING_40007 = {
    "新建草稿": "media_id 无效（封面须为永久素材）", "提交发布": "草稿 media_id 无效（草稿已被发表或群发，或不存在）",
    "群发推送": "草稿 media_id 无效（草稿已被发表或群发，或不存在）", "查询发布状态": "publish_id 无效",
    "删除已发布文章": "article_id 无效",
}
PUBLISH_FAILED = {2: "原创声明审核失败", 3: "发布失败", 4: "平台审核不通过", 5: "发布成功后已被删除", 6: "发布成功后已被封禁"}

# access token cache: (base, appid) -> (token, monotonic expiry). In memory only, never persisted.
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_token_lock = threading.Lock()

# PUBLISHJOBFINISH callbacks received in this process: publish_id -> event fields.
_events: dict[str, dict] = {}
_events_cond = threading.Condition()


def publish_event(event: bytes | str | dict) -> dict:
    """Accept a ``PUBLISHJOBFINISH`` push (the XML WeChat posts to the server URL, or its fields as a dict).
    A poller waiting for that publish_id polls at once instead of after its gap. Returns the fields."""
    if isinstance(event, (bytes, str)):
        root = ET.fromstring(event)
        info = root.find("PublishEventInfo")
        fields = {"event": (root.findtext("Event") or "").strip()}
        if info is not None:
            fields.update({c.tag: (c.text or "").strip() for c in info if len(c) == 0})
    else:
        fields = dict(event)
    if fields.get("event", "PUBLISHJOBFINISH") == "PUBLISHJOBFINISH" and fields.get("publish_id"):
        with _events_cond:
            _events[str(fields["publish_id"])] = fields
            _events_cond.notify_all()
    return fields


def _wait_for(publish_id: str, seconds: float) -> None:
    """Sleep ``seconds`` unless a callback for ``publish_id`` arrives first."""
    deadline = time.monotonic() + seconds
    with _events_cond:
        while publish_id not in _events:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            _events_cond.wait(left)


MASS_PREFIX = "mass:"  # external id of a 群发: its msg_id
WINDOW_SLACK = 600  # s before the recorded submit still count as this run (clock skew, ours)

# Step ids that identify a platform item of one version (never adopted for another version).
ID_STEPS = ("draft_media_id", "article_id")


class WeChatTransport(Transport, Retracts, HealthChecked):
    name = "wechat"
    outlet = "wechat"

    @staticmethod
    def doctor(settings: Settings) -> list[tuple[str, bool, str]]:
        return check(settings)

    def __init__(self, settings: Settings, channel: str):
        self.settings, self.channel = settings, channel
        conf = transport_settings(settings, "wechat")
        self.base = str(conf.get("base_url", DEFAULT_BASE))
        self.http = Http(self.base, SERVICE, timeout=float(conf.get("timeout", 20)),
                         connect_timeout=float(conf.get("connect_timeout", 5)), setting="[transport.wechat] base_url")
        self.poll_delays = [float(x) for x in conf.get("poll_delays", DEFAULT_POLL_DELAYS)]
        self.push = str(conf.get("push", "never"))
        self.lookup_pages = int(conf.get("lookup_pages", 1))

    # -- token -----------------------------------------------------------------------------------

    def _key(self) -> tuple[str, str]:
        return self.base, credential(self.settings, "wechat", "appid")

    def _token(self, rejected: str = "") -> str:
        """A valid access token: cached until shortly before expiry; ``rejected`` is one the platform
        just refused (then a fresh one is fetched, forcing a refresh if the stable token is the same)."""
        key = self._key()
        with _token_lock:
            cached = _tokens.get(key)
            if cached and cached[0] != rejected and cached[1] > time.monotonic():
                return cached[0]
        token, ttl = self._fetch_token(force=False)
        if token == rejected:
            token, ttl = self._fetch_token(force=True)
        with _token_lock:
            _tokens[key] = (token, time.monotonic() + max(0.0, ttl - min(REFRESH_MARGIN, ttl / 10)))
        return token

    def _fetch_token(self, force: bool) -> tuple[str, float]:
        appid = credential(self.settings, "wechat", "appid")
        secret = credential(self.settings, "wechat", "secret")
        body = {"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": force}
        throttle(self.outlet)  # per-outlet API rate limit shared by all workers (pressroom.transports.ratelimit)
        resp = self.http.request("POST", "/cgi-bin/stable_token", what="获取 access_token", idempotent=True,
                                 json_bytes=json.dumps(body, ensure_ascii=False).encode("utf-8"))
        _http_ok(resp, "获取 access_token")
        data = json_of(resp, SERVICE, "获取 access_token")
        if data.get("errcode"):
            raise self._error(data, "获取 access_token", credentials=True)
        token = str(data.get("access_token") or "")
        if not token:
            raise TransientError(f"{SERVICE}获取 access_token：回复中没有 access_token")
        remember(token)
        return token, float(data.get("expires_in") or 7200)

    # -- calls -----------------------------------------------------------------------------------

    def _call(self, path: str, what: str, body: dict | None = None, *, files=None, params=None,
              idempotent: bool = False, accept: tuple[int, ...] = ()) -> dict:
        """One API call with the token; on an invalid/expired token, refresh once and retry (the refused
        request did nothing). Errors become TransientError / PermanentError / CredentialsRefused."""
        rejected = ""
        for attempt in (1, 2):
            token = self._token(rejected)
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
            throttle(self.outlet)  # per-outlet API rate limit shared by all workers (pressroom.transports.ratelimit)
            resp = self.http.request("POST", path, what=what, idempotent=idempotent,
                                     params={"access_token": token, **(params or {})}, json_bytes=payload,
                                     files=files)
            _http_ok(resp, what)
            data = json_of(resp, SERVICE, what)
            code = data.get("errcode") or 0
            if code in TOKEN_ERRORS and attempt == 1:
                log.info("wechat: token refused (%s) during %s, refreshing once", code, what)
                rejected = token
                continue
            if code and code not in accept:
                raise self._error(data, what)
            return data
        raise AssertionError("unreachable")

    def _error(self, data: dict, what: str, credentials: bool = False) -> TransportError:
        code = data.get("errcode")
        meaning = MEANING_40007.get(what, "media_id 无效") if code == 40007 else MEANING.get(code, "平台返回错误")
        msg = redact(f"{SERVICE}{what}失败：{meaning}（errcode {code}：{data.get('errmsg', '')}）")
        if code in TRANSIENT:
            e: TransportError = TransientError(msg)
        elif code == QUOTA:
            reset = quota_reset()
            e = QuotaExhausted(f"{msg}，{reset:%Y-%m-%d %H:%M}（北京时间）额度恢复后再发送", reset)
        elif code in CREDENTIAL_ERRORS or (credentials and code in TOKEN_ERRORS):
            e = CredentialsRefused(msg)
        else:
            e = PermanentError(msg)
        e.code = code  # type: ignore[attr-defined]
        return e

    # -- deliver ---------------------------------------------------------------------------------

    def deliver(self, rendition, attempt: Attempt) -> Receipt:
        delivery = attempt.row
        try:
            credential(self.settings, "wechat", "appid")
            credential(self.settings, "wechat", "secret")
        except MissingCredential as e:
            raise CredentialsRefused(str(e)) from None
        steps: dict[str, Any] = dict(delivery.steps)

        def save(**kv) -> None:
            steps.update(kv)
            attempt.save_steps(**kv)

        resumed = delivery.attempts > 1
        article = self._article(rendition)
        known = attempt.other_ids(ID_STEPS)
        if self._wants_push(rendition):
            return self._mass_send(rendition, article, steps, save, resumed, known)
        if not steps.get("article_url"):
            if not steps.get("publish_id"):
                answer = self._find_published(article, known, steps) if resumed else NotFound()
                if isinstance(answer, Found):
                    save(article_id=answer.receipt.external_id, article_url=answer.receipt.url)
                elif isinstance(answer, CouldNotLook):
                    raise UnknownOutcome(f"{answer.reason}；未再次提交发布") from None
                elif steps.get("submitting"):
                    # A submit may have been accepted and its job id lost: the draft is consumed once
                    # published (docs/outlets.md#wechat), so submitting again is never the answer.
                    raise UnknownOutcome(self._after_lost_submit(article, steps, known))
                else:
                    media_id = self._draft(rendition, article, steps, save, resumed, known)
                    self._submit(media_id, article, steps, known, save)
            if not steps.get("article_url"):
                self._poll(steps, save)
        return Receipt(external_id=str(steps["article_id"]), url=str(steps["article_url"]))

    def _article(self, rendition) -> dict:
        payload = rendition.payload or json.loads(rendition.files[DRAFT_FILE])
        articles = payload.get("articles") or []
        if len(articles) != 1:
            raise PermanentError(f"{SERVICE}：稿件应有且仅有一篇图文（实有 {len(articles)} 篇）")
        return dict(articles[0])

    def _draft(self, rendition, article: dict, steps: dict, save, resumed: bool, known: set) -> str:
        if steps.get("draft_media_id"):
            return steps["draft_media_id"]
        if resumed:
            media_id = self._find_draft(article, known)
            if media_id:
                save(draft_media_id=media_id)
                return media_id
        manifest = json.loads(rendition.files[MANIFEST_FILE])
        content = article["content"]
        images = dict(steps.get("images") or {})
        for up in manifest.get("images", []):
            if up["file"] not in images:
                data = rendition.files[up["file"]]
                res = self._call("/cgi-bin/media/uploadimg", f"上传正文图片 {up['path']}", idempotent=True,
                                 files={"media": (up["file"].rsplit("/", 1)[-1], data, _mime(up["file"]))})
                crashpoint("wechat.after_uploadimg")
                images[up["file"]] = res["url"]
                save(images=images)
            content = content.replace(up["placeholder"], images[up["file"]])
        if IMAGE_SCHEME in content:
            raise PermanentError(f"{SERVICE}：正文中有未在清单中列出的图片占位符（{IMAGE_SCHEME}…），请联系技术人员")
        if not steps.get("thumb_media_id"):
            cover = manifest["cover"]["file"]
            res = self._call("/cgi-bin/material/add_material", "上传封面（永久素材）", params={"type": "image"},
                             idempotent=True, files={"media": (cover, rendition.files[cover], _mime(cover))})
            crashpoint("wechat.after_add_material")
            save(thumb_media_id=res["media_id"])
        article = {**article, "content": content, "thumb_media_id": steps["thumb_media_id"]}
        try:
            res = self._call("/cgi-bin/draft/add", "新建草稿", {"articles": [article]})
        except UnknownOutcome as e:
            media_id = self._find_draft(article, known, quiet=True)
            if not media_id:
                raise UnknownOutcome(f"{e}；草稿箱中暂未找到同名草稿，请到公众平台“草稿箱”核实") from None
            res = {"media_id": media_id}
        crashpoint("wechat.after_draft_add")
        save(draft_media_id=res["media_id"])
        return res["media_id"]

    def _submit(self, media_id: str, article: dict, steps: dict, known: set, save) -> None:
        save(submitting=media_id, submitted_at=int(time.time()))  # before the request: a crash is never resubmitted
        try:
            res = self._call("/cgi-bin/freepublish/submit", "提交发布", {"media_id": media_id})
        except UnknownOutcome as e:
            answer = self._find_published(article, known, steps)
            if isinstance(answer, Found):
                save(article_id=answer.receipt.external_id, article_url=answer.receipt.url, submitting="")
                return
            raise UnknownOutcome(f"{e}；{_looked(answer)}，可能仍在发布中。请到公众平台“发表记录”核实，"
                                 f"不要重复发布") from None
        except TransientError:
            save(submitting="")  # busy, limited, 5xx: nothing was submitted
            raise
        except PermanentError as e:
            if getattr(e, "code", None) != 40007:
                save(submitting="")  # refused: nothing was submitted
                raise
            # 40007 on submit: the draft is no longer in the draft box — it was published (or mass-sent)
            # already, e.g. by a submit whose reply was lost. Reconcile, never a permanent failure.
            answer = self._find_published(article, known, steps)
            if isinstance(answer, Found):
                save(article_id=answer.receipt.external_id, article_url=answer.receipt.url, submitting="")
                return
            raise UnknownOutcome(f"{SERVICE}提交发布：草稿 {media_id} 已不在草稿箱（errcode 40007），说明它已被发表或群发；"
                                 f"{_looked(answer)}。请到公众平台“发表记录”核实") from None
        crashpoint("wechat.after_submit")
        save(publish_id=str(res["publish_id"]), submitting="")

    def _after_lost_submit(self, article: dict, steps: dict, known: set) -> str:
        """What the editor reads when a submit was made but its job id never recorded, and the article is
        not (yet) on the published list: where the draft is now, and what to check."""
        media_id = steps.get("draft_media_id") or steps.get("submitting")
        try:
            in_box = bool(self._find_draft(article, set(), only=str(media_id)))
            where = "草稿仍在草稿箱（可能仍在发布中）" if in_box else "草稿已不在草稿箱（已被发表或群发）"
        except TransportError as e:
            where = f"草稿箱也无法查询（{e}）"
        return (f"{SERVICE}：此前已提交发布（草稿 {media_id}），但发布任务号未能记录；已发表列表中暂未找到本文，{where}。"
                f"未再次提交，请到公众平台“发表记录”核实")

    def _poll(self, steps: dict, save) -> None:
        publish_id = steps["publish_id"]
        for delay in self.poll_delays:
            _wait_for(publish_id, delay)
            res = self._call("/cgi-bin/freepublish/get", "查询发布状态", {"publish_id": publish_id}, idempotent=True)
            with _events_cond:
                _events.pop(publish_id, None)  # a callback is used once: later polls keep their gaps
            crashpoint("wechat.while_polling")
            status = res.get("publish_status")
            if status == 0:
                items = (res.get("article_detail") or {}).get("item") or []
                url = next((i.get("article_url") for i in items if i.get("article_url")), "")
                save(article_id=str(res.get("article_id") or ""), article_url=url)
                return
            if status in PUBLISH_FAILED:
                reason = f"{SERVICE}发布失败：{PUBLISH_FAILED[status]}（publish_status {status}，publish_id {publish_id}）"
                if status in (2, 3, 4):  # nothing is public: a later explicit re-run may submit again
                    failed = {**(steps.get("failed_publishes") or {}), publish_id: PUBLISH_FAILED[status]}
                    save(publish_id="", submitting="", failed_publishes=failed)
                raise PermanentError(reason)
        raise TransientError(f"{SERVICE}：发布任务 {publish_id} 仍在处理中，稍后继续查询（不会重复提交）")

    # -- push to followers -------------------------------------------------------------------------

    def _wants_push(self, rendition) -> bool:
        return self.push == "always" or bool((rendition.payload or {}).get("push"))

    def _mass_send(self, rendition, article: dict, steps: dict, save, resumed: bool, known: set) -> Receipt:
        """群发 instead of 发表: a draft leaves the draft box once it is published or mass-sent
        (docs/outlets.md#wechat), so one draft cannot be both; the 群发 also puts it on the account."""
        if not steps.get("mass_msg_id"):
            self._draft(rendition, article, steps, save, resumed, known)
            self._push(rendition, steps, save)
        return _mass_receipt(steps)

    def _push(self, rendition, steps: dict, save) -> None:
        body = {"filter": {"is_to_all": True}, "mpnews": {"media_id": steps["draft_media_id"]},
                "msgtype": "mpnews", "send_ignore_reprint": 0, "clientmsgid": clientmsgid(rendition)}
        # clientmsgid makes the call idempotent: a lost reply may be retried safely, and 45065 ("already
        # sent with this clientmsgid") carries the msg_id of the earlier push.
        res = self._call("/cgi-bin/message/mass/sendall", "群发推送", body, idempotent=True, accept=(45065,))
        if not res.get("msg_id"):
            raise UnknownOutcome(f"{SERVICE}群发推送：回复中没有 msg_id，请到公众平台“发表记录”核实")
        save(mass_msg_id=str(res["msg_id"]))

    # -- looking on the platform -------------------------------------------------------------------

    def _pages(self, path: str, what: str):
        for page in range(self.lookup_pages):
            res = self._call(path, what, {"offset": page * 20, "count": 20, "no_content": 1}, idempotent=True)
            items = res.get("item") or []
            yield from items
            if len(items) < 20:
                return

    def _find_draft(self, article: dict, known: set, quiet: bool = False, only: str = "") -> str:
        try:
            for item in self._pages("/cgi-bin/draft/batchget", "查询草稿箱"):
                news = (item.get("content") or {}).get("news_item") or []
                if only and str(item.get("media_id")) != only:
                    continue
                if item.get("media_id") not in known and any(_same(n, article) for n in news):
                    return str(item["media_id"])
        except TransportError:
            if not quiet:
                raise
        return ""

    def _find_published(self, article: dict, known: set, steps: dict) -> LookupAnswer:
        """This article on the published list (``freepublish/batchget``): matched on title and
        ``content_source_url``, or, when the platform's item has no URL, on title and digest within this
        run's time window; ids recorded for another version are never adopted. Two candidates, or a
        matching article since deleted, cannot tell: "could not look" (the editor checks)."""
        since = float(steps.get("submitted_at") or 0) - WINDOW_SLACK
        hits = []
        try:
            for item in self._pages("/cgi-bin/freepublish/batchget", "查询已发表文章"):
                if str(item.get("article_id")) in known:
                    continue
                hits += [(item, n) for n in (item.get("content") or {}).get("news_item") or []
                         if isinstance(n, dict) and _published_match(n, item, article, since)]
        except (TransportError, MissingCredential) as e:
            return CouldNotLook(f"无法查询已发表文章（{e}）")
        if len(hits) > 1:
            ids = "、".join(str(i.get("article_id")) for i, _ in hits)
            return CouldNotLook(f"{SERVICE}已发表列表中有 {len(hits)} 篇与本文标题相同的文章（{ids}），"
                                f"无法判断哪篇是本次发布，请到公众平台“发表记录”核实")
        if not hits:
            return NotFound(f"已查询已发表列表最近 {self.lookup_pages * 20} 篇，没有本文")
        item, n = hits[0]
        if n.get("is_deleted"):
            return CouldNotLook(f"{SERVICE}已发表列表中本文（{item.get('article_id')}）已被删除，未重新发布，请核实")
        return Found(Receipt(external_id=str(item.get("article_id") or ""), url=str(n.get("url") or "")))

    def lookup(self, rendition, attempt: Attempt) -> LookupAnswer:
        """What the platform already has: the saved steps first (publish_id → freepublish/get), then the
        published list. Not found (deliver resumes from the saved steps), or could not look — including a
        submit made whose job id was never recorded and whose article is not on the list."""
        steps = attempt.current_steps()
        if self._wants_push(rendition):  # a 群发, de-duplicated by clientmsgid: sending again cannot push twice
            return Found(_mass_receipt(steps)) if steps.get("mass_msg_id") else NotFound("尚未群发")
        try:
            article = self._article(rendition)
            if not steps.get("article_url") and steps.get("publish_id"):
                answer = self._job_status(steps["publish_id"])
            elif not steps.get("article_url"):
                answer = self._find_published(article, attempt.other_ids(ID_STEPS), steps)
                if isinstance(answer, NotFound) and steps.get("submitting"):
                    answer = CouldNotLook(self._after_lost_submit(article, steps, attempt.other_ids(ID_STEPS)))
            else:
                answer = Found(Receipt(external_id=str(steps.get("article_id") or ""), url=str(steps["article_url"])))
        except (TransportError, MissingCredential) as e:
            log.warning("wechat: lookup could not ask the platform: %s", redact(e))
            return CouldNotLook(redact(f"无法查询{SERVICE}（{e}）"))
        if not isinstance(answer, Found):
            return answer
        if not steps.get("article_url"):
            attempt.save_steps(article_id=answer.receipt.external_id, article_url=answer.receipt.url, submitting="")
        return answer

    def _job_status(self, publish_id: str) -> LookupAnswer:
        res = self._call("/cgi-bin/freepublish/get", "查询发布状态", {"publish_id": publish_id}, idempotent=True)
        status = res.get("publish_status")
        if status == 0:
            items = (res.get("article_detail") or {}).get("item") or []
            url = next((i.get("article_url") for i in items if i.get("article_url")), "")
            if res.get("article_id") and url:
                return Found(Receipt(external_id=str(res["article_id"]), url=str(url)))
        elif status in (1, 2, 3, 4):  # publishing, or failed with nothing public: deliver polls on
            return NotFound(f"发布任务 {publish_id} 状态 {status}")
        elif status in PUBLISH_FAILED:
            return CouldNotLook(f"{SERVICE}发布任务 {publish_id}：{PUBLISH_FAILED[status]}（publish_status {status}）"
                                f"，曾经发表过，未重新发布，请到公众平台核实")
        return CouldNotLook(f"{SERVICE}查询发布状态：发布任务 {publish_id} 的回复格式与文档不符（publish_status {status!r}）")

    # -- withdrawing -------------------------------------------------------------------------------

    def retract(self, delivery) -> str:
        """Delete the published article of ``delivery`` (``freepublish/delete``, irreversible). An article
        that is already gone counts as deleted, so a retry or a re-run is harmless. Returns what was done."""
        if str(delivery.external_id).startswith(MASS_PREFIX):
            msg_id = str(delivery.external_id)[len(MASS_PREFIX):]
            self._call("/cgi-bin/message/mass/delete", "删除群发消息", {"msg_id": int(msg_id), "article_idx": 0},
                       idempotent=True)
            return f"已删除公众号群发消息 {msg_id}"
        article_id = str(delivery.steps.get("article_id") or delivery.external_id or "")
        if not article_id:
            raise PermanentError(f"{SERVICE}：台账中没有这篇文章的 article_id，无法自动删除，请到公众平台“发表记录”中删除")
        try:
            self._call("/cgi-bin/freepublish/delete", "删除已发布文章", {"article_id": article_id, "index": 0},
                       idempotent=True)  # deleting twice cannot delete anything else
        except PermanentError as e:
            if isinstance(e, CredentialsRefused) or not self._gone(article_id):
                raise
            return f"公众号文章 {article_id} 已不在已发表列表中（此前已删除）"
        return f"已删除公众号文章 {article_id}"

    def _gone(self, article_id: str) -> bool:
        """True when the published list no longer shows the article (or shows it deleted)."""
        try:
            for item in self._pages("/cgi-bin/freepublish/batchget", "查询已发表文章"):
                if str(item.get("article_id")) == article_id:
                    news = (item.get("content") or {}).get("news_item") or []
                    return all(n.get("is_deleted") for n in news)
        except TransportError:
            return False
        return True


def quota_reset(now: datetime | None = None) -> datetime:
    """When a daily quota is back: the next 00:00 in Beijing time."""
    local = (now or datetime.now(PLATFORM_TZ)).astimezone(PLATFORM_TZ)
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PLATFORM_TZ)


def _mass_receipt(steps: dict) -> Receipt:
    """A 群发's receipt: its msg_id (the article's URL is not in the reply)."""
    return Receipt(external_id=f"{MASS_PREFIX}{steps['mass_msg_id']}", url=str(steps.get("article_url") or ""))


def clientmsgid(rendition) -> str:
    """Release + version, ≤ 64 characters: the same push can never go out twice."""
    return f"{rendition.release_id[:48]}.{rendition.version}"[:64]


def _same(news: dict, article: dict) -> bool:
    return (news.get("title") == article.get("title")
            and (news.get("content_source_url") or "") == (article.get("content_source_url") or ""))


def _item_time(item: dict) -> float | None:
    for t in (item.get("update_time"), (item.get("content") or {}).get("update_time"),
              (item.get("content") or {}).get("create_time")):
        if isinstance(t, (int, float)) and t > 0:
            return float(t)
    return None


def _published_match(news: dict, item: dict, article: dict, since: float) -> bool:
    """A published item that is this article: the same title and, when the item carries
    ``content_source_url``, the same one; when it does not (fields of ``news_item`` may be absent,
    docs/outlets.md#wechat), the same digest, published within this run's time window."""
    if news.get("title") != article.get("title"):
        return False
    if news.get("content_source_url"):
        return news["content_source_url"] == (article.get("content_source_url") or "")
    if (news.get("digest") or "") != (article.get("digest") or ""):
        return False
    when = _item_time(item)
    return when is None or when >= since


def _looked(answer: LookupAnswer) -> str:
    return answer.reason if isinstance(answer, CouldNotLook) else (answer.detail or "已发表列表中暂未找到本文")


def _mime(name: str) -> str:
    n = name.lower()
    return "image/png" if n.endswith(".png") else "image/gif" if n.endswith(".gif") else "image/jpeg"


def _http_ok(resp, what: str) -> None:
    """Every WeChat API reply is HTTP 200 with JSON; any other status (a wrong ``base_url``, a proxy) is
    not an answer of the platform."""
    if resp.status_code != 200:
        raise PermanentError(f"{SERVICE}{what}：返回 HTTP {resp.status_code}，不是公众平台接口的回复。"
                             f"请检查 [transport.wechat] base_url（应为 {DEFAULT_BASE}）")


def check(settings: Settings) -> list[tuple[str, bool, str]]:
    """Passes only on the platform's positive answers: a token issued, and ``draft/batchget`` answering
    its documented shape (which proves the draft API is authorised). A connection failure is named as
    such; 40164 (IP whitelist) and 48001 (unverified account) say what to do."""
    t = WeChatTransport(settings, "wechat")
    t.http = Http(t.base, SERVICE, timeout=DOCTOR_READ_TIMEOUT, connect_timeout=DOCTOR_CONNECT_TIMEOUT,
                  setting="[transport.wechat] base_url", budget=DOCTOR_BUDGET)
    try:
        t._fetch_token(force=False)
    except ConnectionFailed as e:
        return [("网络连接", False, str(e))]
    except (TransportError, MissingCredential) as e:
        return [("获取 access_token", False, str(e))]
    out = [("获取 access_token", True, "AppID/AppSecret 有效，IP 在白名单中")]
    try:
        res = t._call("/cgi-bin/draft/batchget", "查询草稿箱", {"offset": 0, "count": 1, "no_content": 1},
                      idempotent=True)
    except TransportError as e:
        return out + [("草稿/发布接口权限", False, str(e))]
    if not isinstance(res.get("item"), list) or not isinstance(res.get("total_count"), int):
        return out + [("草稿/发布接口权限", False, f"{SERVICE}查询草稿箱：回复中没有 item / total_count，格式与文档不符，"
                                              f"不能确认草稿接口可用")]
    return out + [("草稿/发布接口权限", True, f"草稿箱可读（共 {res['total_count']} 篇）")]
