"""The link verifier on a press-hall site built from the sample releases: a good site passes; a missing page,
a missing asset, a one-way bundle link, a document without interpretation, a link out of the site are each
caught; coverage links are checked against a real HTTP server on 127.0.0.1 (live, dead, unreachable)."""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from pressroom.sites import linkcheck, presshall
from pressroom.sites.coverage import CoverageItem, Media

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=TZ)
DOC, INTERP = "notice-2017-78", "notice-2017-78-interpretation"


class Outlet(BaseHTTPRequestHandler):
    """A news site: /ok.html is there, /gone.html was taken down, /nohead.html refuses HEAD."""

    def _answer(self, body: bool):
        path = self.path.split("?")[0]
        if path == "/nohead.html" and self.command == "HEAD":
            code = 405
        else:
            code = {"/ok.html": 200, "/nohead.html": 200}.get(path, 404)
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", "2")
        self.end_headers()
        if body:
            self.wfile.write(b"ok")

    def do_HEAD(self):
        self._answer(False)

    def do_GET(self):
        self._answer(True)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def outlet():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Outlet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def samples(samples):
    """The site of the original samples: one policy bundle, so the link counts below are exact (the other
    sample bundle adds a second pair to the same checks)."""
    return {rid: r for rid, r in samples.items() if not rid.startswith("employment-subsidy-2026")}


@pytest.fixture(scope="module")
def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: connection refused
    return port


def build(tmp_path, samples, registry, settings, published=None, media=None, extra=()):
    releases = [*samples.values(), *extra]
    published = published if published is not None else {r.id: r.publish_at for r in releases}
    presshall.build_site(releases, published, registry, settings, tmp_path, media=media or {}, now=NOW)
    return tmp_path


def test_the_sample_site_passes(tmp_path, samples, registry, settings, outlet, closed_port):
    media = {"rainstorm-2026-11-update-1": Media((
        CoverageItem("淮南日报", "积水点全部退水", f"{outlet}/ok.html", date(2026, 11, 19)),
        CoverageItem("淮河早报", "已撤下的报道", f"{outlet}/gone.html", date(2026, 11, 19)),
        CoverageItem("淮南网", "只接受 GET 的网站", f"{outlet}/nohead.html", date(2026, 11, 19)),
        CoverageItem("外地网站", "连不上的网站", f"http://127.0.0.1:{closed_port}/a.html", date(2026, 11, 20)),
    ))}
    site = build(tmp_path, samples, registry, settings, media=media)
    report = linkcheck.check_site(site, timeout=2)
    assert report.broken == [] and report.one_way == [] and report.orphans == []
    assert report.documents == [DOC] and report.interpreted == [DOC] and report.ratio == 1.0
    assert report.ok
    status = {c.url.rsplit("/", 1)[1]: (c.status, c.detail) for c in report.coverage}
    assert status == {"ok.html": (linkcheck.LIVE, "HTTP 200"), "gone.html": (linkcheck.DEAD, "HTTP 404"),
                      "nohead.html": (linkcheck.LIVE, "HTTP 200"),
                      "a.html": (linkcheck.UNREACHABLE, "无法连接 127.0.0.1：连接被拒绝")}
    assert report.ok  # a dead outside link is reported, but the site itself is sound
    text = "\n".join(report.lines())
    assert "没有断链。" in text and "解读率 100.0%" in text
    assert "媒体报道链接 4 个：可访问 2，已失效 1，未核验（无法连接） 1。" in text
    assert f"已失效：{outlet}/gone.html（HTTP 404，见 " in text
    assert text.endswith("结论：通过。")


def test_a_missing_page_or_asset_is_a_broken_link(tmp_path, samples, registry, settings):
    site = build(tmp_path, samples, registry, settings)
    (site / "releases" / f"{INTERP}.html").unlink()
    (site / "assets" / "rainstorm-2026-11" / "images" / "waterlogged-street.jpg").unlink()
    report = linkcheck.check_site(site, check_coverage=False)
    broken = {(b.page, b.target) for b in report.broken}
    assert ("releases/notice-2017-78.html", f"{INTERP}.html") in broken  # the document's bundle link
    assert ("releases/index.html", f"../releases/{INTERP}.html") in broken
    assert ("releases/rainstorm-2026-11.html", "../assets/rainstorm-2026-11/images/waterlogged-street.jpg") in broken
    assert {b.reason for b in report.broken} == {"页面或文件不存在"}
    assert not report.ok and report.ratio == 0.0
    assert "政策文件页 releases/notice-2017-78.html 没有链接到政策解读" in report.one_way


def test_an_interpretation_that_does_not_link_back_fails(tmp_path, samples, registry, settings):
    site = build(tmp_path, samples, registry, settings)
    page = site / "releases" / f"{INTERP}.html"
    html = page.read_text(encoding="utf-8")
    cut = re.sub(r'<p class="box counterpart">.*?</p>', "", html, flags=re.S)
    assert cut != html
    page.write_text(cut, encoding="utf-8")
    report = linkcheck.check_site(site, check_coverage=False)
    assert report.one_way == [f"政策解读页 releases/{INTERP}.html 没有链回政策文件页 releases/{DOC}.html"]
    assert report.interpreted == [] and report.ratio == 0.0 and not report.ok
    assert "结论：未通过" in report.lines()[-1]


def test_the_interpretation_ratio_counts_documents_without_one(tmp_path, samples, registry, settings):
    second = dataclasses.replace(samples[DOC], id="doc-without-interpretation", document_number="淮宣〔2026〕1号")
    site = build(tmp_path, samples, registry, settings, extra=[second])
    report = linkcheck.check_site(site, check_coverage=False)
    assert report.documents == ["doc-without-interpretation", DOC] and report.interpreted == [DOC]
    assert report.ratio == 0.5 and not report.ok
    assert report.one_way == ["政策文件页 releases/doc-without-interpretation.html 没有链接到政策解读"]
    assert "政策文件 2 篇，与解读双向链接的 1 篇，解读率 50.0%。" in report.lines()


def test_links_out_of_the_site_to_anchors_and_scripts(tmp_path, samples, registry, settings):
    site = build(tmp_path, samples, registry, settings)
    (site / "extra.html").write_text(
        '<body><a href="../outside.html">出站</a><a href="notices/index.html#no-such-notice">锚点</a>'
        '<a href="javascript:alert(1)">脚本</a><a href="index.html#title">好的锚点</a>'
        '<img src="assets/nothing.png"></body>', encoding="utf-8")
    report = linkcheck.check_site(site, check_coverage=False)
    got = {(b.target, b.reason) for b in report.broken if b.page == "extra.html"}
    assert got == {("../outside.html", "指向站点目录之外"), ("notices/index.html#no-such-notice", "页面中没有锚点“no-such-notice”"),
                   ("javascript:alert(1)", "不允许的链接协议“javascript”"), ("assets/nothing.png", "页面或文件不存在")}
    assert report.orphans == ["extra.html"]  # nothing links to it


def test_an_upcoming_notice_anchor_resolves(tmp_path, samples, registry, settings):
    upcoming = dataclasses.replace(samples["work-report-2026-q3"], id="next-conference", press_conference=True,
                                   publish_at=datetime(2026, 12, 1, 10, tzinfo=TZ))
    published = {r.id: r.publish_at for r in samples.values()}
    site = build(tmp_path, samples, registry, settings, published=published, extra=[upcoming])
    assert 'id="notice-next-conference"' in (site / "notices" / "index.html").read_text(encoding="utf-8")
    assert linkcheck.check_site(site, check_coverage=False).ok
