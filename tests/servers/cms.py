"""A portal CMS double implementing the contract documented in ``pressroom/transports/cms.py``:
``PUT /releases/<id>[/<channel>]`` (JSON, files in base64, bearer token) creates or replaces one page,
``GET`` the same path describes it (404 when absent). Strict: a missing or wrong token gets 401, a file
whose sha256 does not match its bytes or a missing field 400. Faults come from ``FakeServer``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from tests.servers.base import Fault, FakeServer, Request, Response

_PATH = re.compile(r"^/releases/([a-z0-9][a-z0-9-]*)(?:/([a-z0-9]+))?$")
REQUIRED = ("release_id", "channel", "version", "title", "content_hash", "page", "files")


class CMSServer(FakeServer):
    def __init__(self, token: str = "cms-test-token", public_base: str = "https://www.huainan.gov.cn/xwfb/"):
        super().__init__()
        self.token, self.public_base = token, public_base
        self.pages: dict[str, dict] = {}  # path -> stored document (files decoded)
        self.puts = 0

    def handle(self, req: Request, fault: Fault | None = None) -> Response:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Response.of_json({"error": "unauthorized"}, status=401)
        m = _PATH.match(req.path)
        if not m:
            return Response.of_json({"error": "not found"}, status=404)
        if req.method == "GET":
            doc = self.pages.get(req.path)
            if doc is None:
                return Response.of_json({"error": "not found"}, status=404)
            return Response.of_json(self._describe(req.path, doc))
        if req.method != "PUT":
            return Response.of_json({"error": "method not allowed"}, status=405)
        if "application/json" not in req.headers.get("content-type", ""):
            return Response.of_json({"error": "expected application/json"}, status=415)
        try:
            body = req.json()
        except ValueError:
            return Response.of_json({"error": "invalid JSON"}, status=400)
        missing = [k for k in REQUIRED if k not in body]
        if missing:
            return Response.of_json({"error": f"missing fields: {', '.join(missing)}"}, status=400)
        if body["release_id"] != m.group(1) or (m.group(2) or "portal") != body["channel"]:
            return Response.of_json({"error": "path does not match release_id/channel"}, status=400)
        files = {}
        for f in body["files"]:
            try:
                data = base64.b64decode(f["data"], validate=True)
            except (KeyError, binascii.Error):
                return Response.of_json({"error": f"bad file {f.get('path')}"}, status=400)
            if hashlib.sha256(data).hexdigest() != f.get("sha256"):
                return Response.of_json({"error": f"sha256 mismatch: {f.get('path')}"}, status=400)
            files[f["path"]] = data
        if body["page"] not in files:
            return Response.of_json({"error": "page not among files"}, status=400)
        created = req.path not in self.pages
        self.puts += 1
        self.pages[req.path] = {**body, "files": files}
        return Response.of_json({**self._describe(req.path, self.pages[req.path]), "created": created},
                                status=201 if created else 200)

    def _describe(self, path: str, doc: dict) -> dict:
        return {"id": path.rsplit("/", 1)[-1] if doc["channel"] == "portal" else path,
                "url": self.public_base + doc["page"], "version": doc["version"],
                "content_hash": doc["content_hash"],
                "files": [{"path": p, "sha256": hashlib.sha256(d).hexdigest()}
                          for p, d in sorted(doc["files"].items())]}
