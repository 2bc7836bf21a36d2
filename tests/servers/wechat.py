"""A WeChat official-account API double: token, uploadimg, add_material, draft/add|batchget,
freepublish/submit|get|batchget|delete, message/mass/sendall — strict per docs/outlets.md#wechat.

Strict means: an expired or unknown token gets 42001 / 40001, ``\\uXXXX`` escapes get 40033, a missing or
temporary ``thumb_media_id`` gets 40007, a title over 32 characters 45003, a digest over 128 45004, an
empty article 44003; in-article images that did not come from ``uploadimg`` are filtered out of the stored
content (as the platform does). ``freepublish/submit`` only accepts a job: the article appears after
``publish_polls`` further calls of ``freepublish/get`` or ``freepublish/batchget`` (time passing on the
platform), or fails, if told to. ``freepublish/delete`` takes the article off the published list; its job
then reports ``publish_status`` 5 (deleted after success).

As documented (docs/outlets.md#wechat, "Token, publishing and looking up"): a draft leaves the draft box
once it is published or mass-sent, so ``draft/batchget`` no longer lists it and ``freepublish/submit`` or
``message/mass/sendall`` of its ``media_id`` answer 40007; ``freepublish/batchget`` items carry the
documented ``news_item`` fields (title, author, digest, content, content_source_url, thumb_media_id,
thumb_url, need_open_comment, only_fans_can_comment, url, is_deleted) and ``update_time``, and any of the
fields may be absent (``omit_fields``: the ones this platform leaves out). ``keeps_drafts=True`` is a
platform that keeps published drafts (not WeChat's documented behaviour: to show what would go wrong).

Service faults (``inject(path, kind, …)``):
- ``"expire-token"``: the current token expires just before this request (token expiry mid-run);
- ``"errcode"``: answer ``{"errcode": code}`` once (``-1`` busy, ``45011`` per-minute limit, ``40164`` …);
- ``"publish-fails"`` on ``/cgi-bin/freepublish/submit``: the job is accepted, then reported failed with
  ``publish_status = code`` (2 originality, 3 normal failure, 4 review failed).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field

from tests.servers.base import Fault, FakeServer, Request, Response

TOKEN_CODES = {"expired": 42001, "invalid": 40001, "missing": 41001}
_ESCAPE = re.compile(rb"\\u[0-9a-fA-F]{4}")
_IMG = re.compile(r"<img\b[^>]*?\bsrc=\"([^\"]*)\"[^>]*>", re.I)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.I | re.S)
_CROP = re.compile(r"^(0(\.\d+)?|1(\.0+)?)(_(0(\.\d+)?|1(\.0+)?)){3}$")


def _image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    return ""


def err(code: int, msg: str) -> Response:
    return Response.of_json({"errcode": code, "errmsg": msg})


@dataclass
class Job:
    publish_id: str
    media_id: str
    polls_left: int
    fail_status: int = 0
    status: int = 1
    article_id: str = ""
    article_url: str = ""


@dataclass
class WeChatState:
    tokens: dict[str, dict] = field(default_factory=dict)  # token -> {"expires": t, "valid": bool}
    current: str = ""
    images: dict[str, bytes] = field(default_factory=dict)  # uploadimg url -> bytes
    materials: dict[str, bytes] = field(default_factory=dict)  # permanent media_id -> bytes
    drafts: dict[str, list[dict]] = field(default_factory=dict)  # media_id -> articles (as stored), every draft made
    draft_order: list[str] = field(default_factory=list)
    consumed: set[str] = field(default_factory=set)  # drafts published or mass-sent: gone from the draft box
    jobs: dict[str, Job] = field(default_factory=dict)
    published: list[dict] = field(default_factory=list)  # freepublish/batchget items, oldest first
    mass: dict[str, dict] = field(default_factory=dict)  # clientmsgid -> {"msg_id", "media_id"}


class WeChatServer(FakeServer):
    def __init__(self, appid: str = "wx-test-appid", secret: str = "test-app-secret",
                 token_ttl: int = 7200, publish_polls: int = 1, quotas: dict[str, int] | None = None,
                 keeps_drafts: bool = False, omit_fields: tuple[str, ...] = ()):
        super().__init__()
        self.keeps_drafts = keeps_drafts
        self.omit_fields = set(omit_fields)  # news_item fields freepublish/batchget leaves out
        self.appid, self.secret = appid, secret
        self.token_ttl = token_ttl
        self.publish_polls = publish_polls  # freepublish/get answers "publishing" this many times first
        self.quotas = {"/cgi-bin/freepublish/submit": 100, "/cgi-bin/freepublish/get": 100,
                       "/cgi-bin/draft/add": 1000, "/cgi-bin/freepublish/delete": 10, **(quotas or {})}
        self.used: dict[str, int] = {}
        self.state = WeChatState()
        self._n = 0

    # -- helpers for tests -------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:06d}"

    def expire_token(self) -> None:
        with self.lock:
            if self.state.current:
                self.state.tokens[self.state.current]["expires"] = 0

    @property
    def publications(self) -> list[dict]:
        return list(self.state.published)

    @property
    def drafts(self) -> list[list[dict]]:
        """Every draft ever made (one per draft/add accepted), including those since published."""
        return [self.state.drafts[m] for m in self.state.draft_order]

    @property
    def draft_box(self) -> list[str]:
        """The media ids the draft box lists now."""
        return [m for m in self.state.draft_order if m not in self.state.consumed]

    def _consume(self, media_id: str) -> None:
        # docs/outlets.md#wechat: a draft leaves the draft box once it is published or mass-sent.
        if not self.keeps_drafts:
            self.state.consumed.add(media_id)

    def tokens_issued(self) -> list[str]:
        return list(self.state.tokens)

    # -- dispatch ----------------------------------------------------------------------------------

    def handle(self, req: Request, fault: Fault | None = None) -> Response:
        if fault and fault.kind == "expire-token":
            self.expire_token()
        if req.path == "/cgi-bin/stable_token":
            return self._stable_token(req, fault)
        if req.path == "/cgi-bin/token":
            return self._plain_token(req)
        routes = {
            "/cgi-bin/media/uploadimg": self._uploadimg,
            "/cgi-bin/material/add_material": self._add_material,
            "/cgi-bin/draft/add": self._draft_add,
            "/cgi-bin/draft/batchget": self._draft_batchget,
            "/cgi-bin/freepublish/submit": self._submit,
            "/cgi-bin/freepublish/get": self._get,
            "/cgi-bin/freepublish/batchget": self._publish_batchget,
            "/cgi-bin/freepublish/delete": self._delete,
            "/cgi-bin/message/mass/sendall": self._sendall,
            "/cgi-bin/message/mass/delete": self._mass_delete,
        }
        route = routes.get(req.path)
        if route is None:
            return Response(404, b"not found", "text/plain")
        if req.method != "POST":
            return err(43002, "require POST method")
        problem = self._check_token(req)
        if problem:
            return problem
        if fault and fault.kind == "errcode":
            return err(fault.code, fault.extra.get("errmsg", "injected"))
        self.used[req.path] = self.used.get(req.path, 0) + 1
        if self.used[req.path] > self.quotas.get(req.path, 10**9):
            return err(45009, "reach max api daily quota limit")
        if req.path not in ("/cgi-bin/media/uploadimg", "/cgi-bin/material/add_material"):
            if _ESCAPE.search(req.body):
                return err(40033, "invalid charset. please check your request, if include \\uxxxx will create fail!")
            try:
                body = req.json()
            except (ValueError, UnicodeDecodeError):
                return err(47001, "data format error")
            if not isinstance(body, dict):
                return err(47001, "data format error")
            return route(req, body, fault)
        return route(req, None, fault)

    # -- token -------------------------------------------------------------------------------------

    def _issue(self) -> str:
        token = "ACCESS_" + hashlib.sha256(f"{self._id('t')}".encode()).hexdigest()[:40]
        self.state.tokens[token] = {"expires": time.time() + self.token_ttl, "valid": True}
        self.state.current = token
        return token

    def _stable_token(self, req: Request, fault: Fault | None) -> Response:
        if fault and fault.kind == "errcode":
            return err(fault.code, fault.extra.get("errmsg", "injected"))
        try:
            body = req.json()
        except ValueError:
            return err(47001, "data format error")
        if body.get("grant_type") != "client_credential":
            return err(40002, "invalid grant_type")
        if body.get("appid") != self.appid:
            return err(40013, "invalid appid")
        if body.get("secret") != self.secret:
            return err(40125, "invalid appsecret")
        cur = self.state.tokens.get(self.state.current)
        if cur and cur["valid"] and cur["expires"] > time.time() and not body.get("force_refresh"):
            token = self.state.current  # stable: the same token while it is valid
        else:
            if cur:
                cur["valid"] = False
            token = self._issue()
        left = int(self.state.tokens[token]["expires"] - time.time())
        return Response.of_json({"access_token": token, "expires_in": left})

    def _plain_token(self, req: Request) -> Response:
        if req.query.get("appid") != self.appid or req.query.get("secret") != self.secret:
            return err(40125, "invalid appsecret")
        for t in self.state.tokens.values():
            t["valid"] = False  # each plain /token call invalidates the previous token
        return Response.of_json({"access_token": self._issue(), "expires_in": self.token_ttl})

    def _check_token(self, req: Request) -> Response | None:
        token = req.query.get("access_token", "")
        if not token:
            return err(41001, "access_token missing")
        t = self.state.tokens.get(token)
        if t is None or not t["valid"]:
            return err(40001, "invalid credential, access_token is invalid or not latest")
        if t["expires"] <= time.time():
            return err(42001, "access_token expired")
        return None

    # -- media -------------------------------------------------------------------------------------

    def _uploadimg(self, req: Request, _body, _fault) -> Response:
        if "media" not in req.files:
            return err(41005, "media data missing")
        _name, _ctype, data = req.files["media"]
        kind = _image_type(data)
        if kind not in ("jpg", "png"):
            return err(40005, "invalid file type")
        if len(data) >= 1024 * 1024:
            return err(40009, "invalid image size")
        url = f"http://mmbiz.qpic.cn/mmbiz_{kind}/{self._id('img')}/0?wx_fmt={kind}"
        self.state.images[url] = data
        return Response.of_json({"url": url})

    def _add_material(self, req: Request, _body, _fault) -> Response:
        if req.query.get("type") not in ("image", "voice", "video", "thumb"):
            return err(40004, "invalid media type")
        if "media" not in req.files:
            return err(41005, "media data missing")
        data = req.files["media"][2]
        if req.query["type"] == "image":
            if _image_type(data) not in ("jpg", "png", "gif", "bmp"):
                return err(40005, "invalid file type")
            if len(data) > 10 * 1024 * 1024:
                return err(40009, "invalid image size")
        media_id = self._id("MATERIAL_")
        self.state.materials[media_id] = data
        return Response.of_json({"media_id": media_id, "url": f"http://mmbiz.qpic.cn/material/{media_id}/0"})

    # -- drafts ------------------------------------------------------------------------------------

    def _check_article(self, a: dict) -> Response | str:
        if not isinstance(a, dict):
            return err(47001, "data format error")
        title = a.get("title")
        if not title:
            return err(44003, "empty news data")
        if len(title) > 32:
            return err(45003, "title size out of limit")
        if len(a.get("author") or "") > 16:
            return err(45110, "author size out of limit")
        if len(a.get("digest") or "") > 128:
            return err(45004, "description size out of limit")
        content = a.get("content") or ""
        if not content.strip():
            return err(44003, "empty news data")
        if len(content) >= 20000 or len(content.encode("utf-8")) >= 1024 * 1024:
            return err(45003, "content size out of limit")
        if len((a.get("content_source_url") or "").encode("utf-8")) > 1024:
            return err(45005, "content_source_url size out of limit")
        thumb = a.get("thumb_media_id")
        if not thumb or thumb not in self.state.materials:
            return err(40007, "invalid media_id")
        for key in ("pic_crop_235_1", "pic_crop_1_1"):
            if a.get(key) and not _CROP.match(str(a[key])):
                return err(47001, f"data format error: {key}")
        for key in ("need_open_comment", "only_fans_can_comment"):
            if key in a and a[key] not in (0, 1):
                return err(47001, f"data format error: {key}")
        # Outside images are filtered out, scripts stripped — as the platform does.
        content = _SCRIPT.sub("", content)
        return _IMG.sub(lambda m: m.group(0) if m.group(1) in self.state.images else "", content)

    def _draft_add(self, req: Request, body: dict, _fault) -> Response:
        articles = body.get("articles")
        if not isinstance(articles, list) or not articles:
            return err(44003, "empty news data")
        stored = []
        for a in articles:
            content = self._check_article(a)
            if isinstance(content, Response):
                return content
            stored.append({**a, "content": content})
        media_id = self._id("DRAFT_")
        stored = [{**a, "update_time": int(time.time())} for a in stored]
        self.state.drafts[media_id] = stored
        self.state.draft_order.append(media_id)
        return Response.of_json({"media_id": media_id})

    def _page(self, body: dict) -> tuple[int, int] | Response:
        offset, count = body.get("offset", 0), body.get("count", 0)
        if not isinstance(offset, int) or not isinstance(count, int) or not 1 <= count <= 20 or offset < 0:
            return err(47001, "data format error: count must be 1..20")
        return offset, count

    def _draft_batchget(self, req: Request, body: dict, _fault) -> Response:
        page = self._page(body)
        if isinstance(page, Response):
            return page
        offset, count = page
        newest = list(reversed(self.draft_box))
        items = []
        for m in newest[offset:offset + count]:
            news = [{k: v for k, v in a.items() if k != "update_time"} for a in self.state.drafts[m]]
            if body.get("no_content"):
                for a in news:
                    a.pop("content", None)
            t = self.state.drafts[m][0]["update_time"]
            items.append({"media_id": m, "content": {"news_item": news, "create_time": t, "update_time": t},
                          "update_time": t})
        return Response.of_json({"total_count": len(newest), "item_count": len(items), "item": items})

    # -- publishing --------------------------------------------------------------------------------

    def _submit(self, req: Request, body: dict, fault: Fault | None) -> Response:
        media_id = body.get("media_id")
        if media_id not in self.state.drafts or media_id in self.state.consumed:
            return err(40007, "invalid media_id")  # unknown, or consumed by an earlier publication
        job = Job(self._id("PUBLISH_"), media_id, self.publish_polls,
                  fail_status=fault.code if fault and fault.kind == "publish-fails" else 0)
        self.state.jobs[job.publish_id] = job
        if job.polls_left <= 0:
            self._finish(job)
        return Response.of_json({"errcode": 0, "errmsg": "ok", "publish_id": job.publish_id})

    def _finish(self, job: Job) -> None:
        if job.fail_status:
            job.status = job.fail_status
            return
        job.status = 0
        job.article_id = self._id("ARTICLE_")
        job.article_url = f"https://mp.weixin.qq.com/s/{job.article_id}"
        now = int(time.time())
        news = [self._news_item(a, job.article_url) for a in self.state.drafts[job.media_id]]
        self.state.published.append({"article_id": job.article_id,
                                     "content": {"news_item": news, "create_time": now, "update_time": now},
                                     "update_time": now})
        self._consume(job.media_id)

    def _news_item(self, a: dict, url: str) -> dict:
        """A published ``news_item`` with the documented fields (freepublish/batchget), less those this
        platform omits (docs/outlets.md#wechat: fields of ``news_item`` may be absent)."""
        item = {"title": a.get("title", ""), "author": a.get("author", ""), "digest": a.get("digest", ""),
                "content": a.get("content", ""), "content_source_url": a.get("content_source_url", ""),
                "thumb_media_id": a.get("thumb_media_id", ""),
                "thumb_url": f"http://mmbiz.qpic.cn/material/{a.get('thumb_media_id', '')}/0",
                "need_open_comment": a.get("need_open_comment", 0),
                "only_fans_can_comment": a.get("only_fans_can_comment", 0), "url": url, "is_deleted": False}
        return {k: v for k, v in item.items() if k not in self.omit_fields}

    def _get(self, req: Request, body: dict, _fault) -> Response:
        job = self.state.jobs.get(str(body.get("publish_id", "")))
        if job is None:
            return err(40007, "invalid publish_id")
        if job.status == 1:
            if job.polls_left <= 0:
                self._finish(job)
            job.polls_left -= 1
        out = {"publish_id": job.publish_id, "publish_status": job.status}
        if job.status == 0:
            out.update(article_id=job.article_id,
                       article_detail={"count": 1, "item": [{"idx": 1, "article_url": job.article_url}]},
                       fail_idx=[])
        elif job.status in (2, 3, 4):
            out["fail_idx"] = [1]
        return Response.of_json(out)

    def _publish_batchget(self, req: Request, body: dict, _fault) -> Response:
        for job in self.state.jobs.values():  # publishing goes on whoever asks: time passes
            if job.status == 1:
                if job.polls_left <= 0:
                    self._finish(job)
                job.polls_left -= 1
        page = self._page(body)
        if isinstance(page, Response):
            return page
        offset, count = page
        newest = list(reversed(self.state.published))
        items = json.loads(json.dumps(newest[offset:offset + count]))
        if body.get("no_content"):
            for it in items:
                for a in it["content"]["news_item"]:
                    a.pop("content", None)
        return Response.of_json({"total_count": len(newest), "item_count": len(items), "item": items})

    def _delete(self, req: Request, body: dict, _fault) -> Response:
        article_id = body.get("article_id")
        for item in self.state.published:
            if item["article_id"] == article_id:
                self.state.published.remove(item)
                for job in self.state.jobs.values():
                    if job.article_id == article_id:
                        job.status = 5
                return err(0, "ok")
        return err(40007, "invalid article_id")

    def _sendall(self, req: Request, body: dict, _fault) -> Response:
        if body.get("msgtype") != "mpnews" or not isinstance(body.get("mpnews"), dict):
            return err(47001, "data format error")
        if body.get("filter") != {"is_to_all": True}:
            return err(47001, "data format error: filter")
        if body["mpnews"].get("media_id") not in self.state.drafts:
            return err(40007, "invalid media_id")
        cid = str(body.get("clientmsgid") or "")
        if cid and cid in self.state.mass:  # checked first: a retry of a push already made
            return Response.of_json({"errcode": 45065, "errmsg": "clientmsgid exist",
                                     "msg_id": self.state.mass[cid]["msg_id"]})
        if body["mpnews"]["media_id"] in self.state.consumed:
            return err(40007, "invalid media_id")  # published or mass-sent already: not in the draft box
        if len(cid) > 64:
            return err(47001, "clientmsgid too long")
        msg_id = int(self._id("")) + 1000
        self.state.mass[cid or f"anon-{msg_id}"] = {"msg_id": msg_id, "media_id": body["mpnews"]["media_id"]}
        self._consume(body["mpnews"]["media_id"])
        return Response.of_json({"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id,
                                 "msg_data_id": msg_id + 1})

    def _mass_delete(self, req: Request, body: dict, _fault) -> Response:
        for cid, sent in self.state.mass.items():
            if sent["msg_id"] == body.get("msg_id"):
                sent["deleted"] = True
                return err(0, "ok")
        return err(40007, "invalid msg_id")
