"""A Weibo API double: ``statuses/share``, ``statuses/user_timeline``, ``statuses/destroy`` — strict per
docs/outlets.md#weibo.

Strict means: ``rip`` and ``status`` required (10016), a status over 140 汉字 20012, no link under the safe
domain or a ``#话题#`` 10017, a picture that is not JPEG/GIF/PNG 20005 or ≥ 5 MB 20006, the same text as the
last post 20019, more than 30 posts an hour 10023, a bad or expired token 21332 / 21327. Stored texts carry
the short link, not the original URL (as real timelines do), so a lookup has to match on the words.

Each behaviour as docs/outlets.md#weibo states it:
- length: the documentation promises only "不超过140个汉字", so by default every character of the status as
  sent counts one, URLs at full length (``counting="plain"``); ``counting="weighted"`` is a platform that
  weighs like Sina's web client (ASCII half, long URLs as a 20-byte t.cn link);
- "repeated" (20019) means the same text as the account's last post, nothing older;
- ``statuses/user_timeline`` is not available to every app: ``timeline_status=404`` answers it with HTTP 404,
  ``timeline_status=403`` with error 10014 (no permission);
- ``account/get_uid`` answers the token's ``uid``: the positive check of a token (``pressroom doctor``).

Service faults (``inject(path, kind, …)``): ``"error"`` answers ``{"error_code": code}`` once without
acting (10022–10024 rate limits, 20016 too fast, 20017/20111 repeated content); ``"error-after"`` posts,
then answers the error anyway (the platform accepted it and still said "repeated"); ``"no-statuses"`` on the
timeline answers JSON without the ``statuses`` list (a reply of an unexpected shape).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from urllib.parse import urlsplit

from tests.servers.base import Fault, FakeServer, Request, Response

SHARE = "/2/statuses/share.json"
TIMELINE = "/2/statuses/user_timeline.json"
DESTROY = "/2/statuses/destroy.json"
GET_UID = "/2/account/get_uid.json"
_URL = re.compile(r"https?://[A-Za-z0-9.-]+[-A-Za-z0-9_$.+!*()/\\,:;@&=?~#%]*")
_HASHTAG = re.compile(r"#[^#\s]+#")
MESSAGES = {
    10014: "Insufficient app permissions!", 10016: "Miss required parameter", 10017: "Parameter's value invalid",
    10022: "IP requests out of rate limit!", 10023: "User requests out of rate limit!",
    10024: "User requests for (%s) out of rate limit!", 20005: "Unsupport image type, only suport JPG, GIF, PNG!",
    20006: "Image size too large.", 20012: "Text too long, please input text less than 140 characters!",
    20016: "Out of limit!", 20017: "Repeated content!", 20019: "Repeated weibo text!",
    20111: "Repeated weibo text!", 21327: "expired_token", 21332: "invalid_access_token",
}


def _pic_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return ""


class WeiboServer(FakeServer):
    def __init__(self, token: str = "weibo-test-token", uid: int = 5550001, safe_domain: str = "huainan.gov.cn",
                 hourly_limit: int = 30, counting: str = "plain", timeline_status: int = 200):
        super().__init__()
        self.counting = counting  # "plain" (the documented promise) or "weighted"
        self.timeline_status = timeline_status  # 200, or 404 / 403: the timeline is not available to this app
        self.token, self.uid, self.safe_domain = token, uid, safe_domain
        self.hourly_limit = hourly_limit
        self.expired = False
        self.posts: list[dict] = []  # what the account shows, oldest first
        self.pics: dict[str, bytes] = {}  # post idstr -> picture bytes
        self.originals: dict[str, str] = {}  # post idstr -> the status as sent (before shortening)
        self._n = 0

    def _error(self, code: int, req: Request, detail: str = "", status: int = 400) -> Response:
        msg = MESSAGES.get(code, "error") + (f" ({detail})" if detail else "")
        return Response.of_json({"request": req.path, "error_code": code, "error": msg}, status=status)

    def _token_of(self, req: Request) -> str:
        auth = req.headers.get("authorization", "")
        if auth.startswith("OAuth2 "):
            return auth[7:]
        return req.param("access_token")

    def handle(self, req: Request, fault: Fault | None = None) -> Response:
        token = self._token_of(req)
        if token != self.token:
            return self._error(21332, req, status=401)
        if self.expired:
            return self._error(21327, req, status=401)
        if fault and fault.kind == "error":
            return self._error(fault.code, req, status=403 if fault.code in (10022, 10023, 10024) else 400)
        if req.path == SHARE:
            if req.method != "POST":
                return self._error(10021, req, "HTTP method is not suported for this request")
            resp = self._share(req)
            if fault and fault.kind == "error-after" and resp.status == 200:
                return self._error(fault.code, req)
            return resp
        if req.path == TIMELINE:
            if fault and fault.kind == "no-statuses":  # an answer of another shape (no statuses list)
                return Response.of_json({"total_number": len(self.posts)})
            return self._timeline(req)
        if req.path == GET_UID:
            return Response.of_json({"uid": self.uid})
        if req.path == DESTROY:
            return self._destroy(req)
        return Response(404, b"not found", "text/plain")

    # -- share ---------------------------------------------------------------------------------

    def _short(self, url: str) -> str:
        return "http://t.cn/" + hashlib.sha256(url.encode()).hexdigest()[:8]  # 20 bytes

    def _share(self, req: Request) -> Response:
        status, rip = req.form.get("status", ""), req.form.get("rip", "")
        if not status:
            return self._error(10016, req, "status")
        if not rip:
            return self._error(10016, req, "rip")
        try:
            ipaddress.ip_address(rip)
        except ValueError:
            return self._error(10017, req, "rip")
        if _HASHTAG.search(status):
            return self._error(10017, req, "status must not contain topics")
        urls = _URL.findall(status)
        if not any((urlsplit(u).hostname or "").endswith(self.safe_domain) for u in urls):
            return self._error(10017, req, "status must contain a url of the app's safe domain")
        stored = _URL.sub(lambda m: self._short(m.group()), status)
        if self.counting == "weighted":
            length = math.ceil(sum(1 if ord(c) < 0x80 else 2 for c in stored) / 2)
        else:
            length = len(status)  # "不超过140个汉字": every character one, as sent
        if length > 140:
            return self._error(20012, req)
        pic = req.files.get("pic")
        if pic is not None:
            if _pic_type(pic[2]) not in ("png", "jpeg", "gif"):
                return self._error(20005, req)
            if len(pic[2]) >= 5 * 1024 * 1024:
                return self._error(20006, req)
        if self.posts and self.posts[-1]["text"] == stored:  # repeated: the same as the last post
            return self._error(20019, req)
        if len(self.posts) >= self.hourly_limit:
            return self._error(10023, req, status=403)
        self._n += 1
        pid = 4900000000000000 + self._n
        post = {"created_at": "Sat Nov 21 10:00:00 +0800 2026", "id": pid, "idstr": str(pid),
                "mid": str(pid), "text": stored, "source": "pressroom", "favorited": False,
                "user": {"id": self.uid, "idstr": str(self.uid), "screen_name": "淮南发布"}}
        if pic is not None:
            post["thumbnail_pic"] = f"https://wx1.sinaimg.cn/thumbnail/{pid}.png"
            self.pics[str(pid)] = pic[2]
        self.posts.append(post)
        self.originals[str(pid)] = status
        return Response.of_json(post)

    def _timeline(self, req: Request) -> Response:
        if self.timeline_status == 404:  # the interface is not offered to this app
            return Response(404, b"<html><body>404 Not Found</body></html>", "text/html")
        if self.timeline_status == 403:
            return self._error(10014, req, status=403)
        if req.method != "GET":
            return self._error(10021, req, "HTTP method is not suported for this request")
        count = int(req.query.get("count") or 20)
        page = int(req.query.get("page") or 1)
        if not 1 <= count <= 100:
            return self._error(10017, req, "count")
        newest = list(reversed(self.posts))
        chunk = newest[(page - 1) * count: page * count]
        return Response.of_json({"statuses": chunk, "total_number": len(newest)})

    def _destroy(self, req: Request) -> Response:
        pid = req.form.get("id", "")
        for p in self.posts:
            if p["idstr"] == pid:
                self.posts.remove(p)
                return Response.of_json(p)
        return self._error(20101, req, "target weibo does not exist")
