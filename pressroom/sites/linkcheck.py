"""Link verifier for the press-hall site: crawl the generated files and prove what inspections check.

1. Every link and asset reference inside the site points to a file that exists (and, with a #fragment, to an
   element with that id); nothing points outside the site folder.
2. Every policy document page links to its interpretation and that page links back (two-way, 三同步):
   release pages carry ``data-kind`` on ``<body>`` and the bundle link is ``<a class="counterpart">``.
3. The interpretation ratio: documents with a two-way linked interpretation / all documents.
4. Coverage links (``<a class="coverage">``, 媒体报道集) are requested when their outlet answers; a link to an
   outlet that cannot be reached is marked as not verified rather than dead.

The pages are the builder's own output (Jinja and nh3 write every attribute in double quotes), so a regular
expression reads them: about ten times faster than an HTML parser over a 10,000-page archive.
"""

from __future__ import annotations

import html
import os
import posixpath
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

TAG = re.compile(r"<(a|link|img|script|source|body)\b([^>]*)>", re.I)
ATTR = re.compile(r'([\w:-]+)="([^"]*)"')
ID = re.compile(r'\bid="([^"]+)"')
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")
LINK_ATTRS = {"a": "href", "link": "href", "img": "src", "script": "src", "source": "src"}

LIVE, DEAD, UNREACHABLE = "live", "dead", "unreachable"
STATUS_LABELS = {LIVE: "可访问", DEAD: "已失效", UNREACHABLE: "未核验（无法连接）"}


@dataclass(frozen=True)
class BrokenLink:
    page: str
    target: str
    reason: str  # Chinese


@dataclass(frozen=True)
class CoverageCheck:
    url: str
    page: str  # a page that lists it
    status: str
    detail: str = ""

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class LinkReport:
    pages: int
    files: int
    broken: list[BrokenLink] = field(default_factory=list)
    one_way: list[str] = field(default_factory=list)  # Chinese: which bundle link is missing
    documents: list[str] = field(default_factory=list)  # release ids of policy document pages
    interpreted: list[str] = field(default_factory=list)  # those with a two-way linked interpretation
    orphans: list[str] = field(default_factory=list)  # pages no other page links to
    coverage: list[CoverageCheck] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return len(self.interpreted) / len(self.documents) if self.documents else 1.0

    @property
    def ok(self) -> bool:
        """What an inspection passes: no broken link, every document two-way linked. A dead coverage link is
        reported but does not fail the site (the outlet removed it, not us)."""
        return not self.broken and not self.one_way and len(self.interpreted) == len(self.documents)

    def lines(self) -> list[str]:
        out = [f"检查页面 {self.pages} 个、文件 {self.files} 个。"]
        out.append(f"断链 {len(self.broken)} 处。" if self.broken else "没有断链。")
        out += [f"  {b.page} → {b.target}：{b.reason}" for b in self.broken[:200]]
        if len(self.broken) > 200:
            out.append(f"  ……另有 {len(self.broken) - 200} 处")
        out.append(f"政策文件 {len(self.documents)} 篇，与解读双向链接的 {len(self.interpreted)} 篇，"
                   f"解读率 {self.ratio:.1%}。")
        out += [f"  {m}" for m in self.one_way]
        if self.coverage:
            counts = {s: sum(c.status == s for c in self.coverage) for s in STATUS_LABELS}
            out.append("媒体报道链接 " + str(len(self.coverage)) + " 个：" +
                       "，".join(f"{STATUS_LABELS[s]} {n}" for s, n in counts.items()) + "。")
            out += [f"  {c.label}：{c.url}（{c.detail}，见 {c.page}）" for c in self.coverage if c.status != LIVE]
        if self.orphans:
            out.append(f"没有任何页面链接到的页面 {len(self.orphans)} 个：{'、'.join(self.orphans[:10])}")
        out.append("结论：通过。" if self.ok else "结论：未通过（断链或政策文件与解读未双向链接）。")
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(ratio=self.ratio, ok=self.ok)
        return d


@dataclass
class _Page:
    kind: str = ""
    release: str = ""
    links: list[tuple[str, dict]] = field(default_factory=list)  # (tag, attributes)
    ids: set[str] = field(default_factory=set)


def _read(path: Path) -> _Page:
    raw = path.read_text(encoding="utf-8", errors="replace")
    page = _Page(ids=set(ID.findall(raw)))
    for m in TAG.finditer(raw):
        tag = m.group(1).lower()
        attrs = {k.lower(): html.unescape(v) for k, v in ATTR.findall(m.group(2))}
        if tag == "body":
            page.kind, page.release = attrs.get("data-kind", ""), attrs.get("data-release", "")
        else:
            page.links.append((tag, attrs))
    return page


def _resolve(page: str, ref: str) -> tuple[str, str] | None:
    """A site-relative path and fragment, or None if the reference leaves the site."""
    parts = urlsplit(ref)
    path = unquote(parts.path)
    if not path:
        return page, parts.fragment  # "#id" or "?q=" on the same page
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
    if target.startswith("../") or target == ".." or target.startswith("/"):
        return None
    if path.endswith("/"):
        target = posixpath.join(target, "index.html")
    return target, parts.fragment


def check_site(root: Path, *, check_coverage: bool = True, timeout: float = 3.0, start: str = "index.html") -> LinkReport:
    root = Path(root)
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}
    html_files = sorted(f for f in files if f.endswith(".html"))
    pages = {f: _read(root / f) for f in html_files}
    report = LinkReport(pages=len(pages), files=len(files))
    linked_to, external, counterparts = _check_links(pages, files, report)
    _check_counterparts(pages, counterparts, report)
    report.orphans = sorted(set(html_files) - linked_to - {start})  # the start page needs no link to it
    if check_coverage and external:
        report.coverage = check_urls(external, timeout)
    return report


def _check_links(pages: dict[str, _Page], files: set[str],
                 report: LinkReport) -> tuple[set[str], dict[str, str], dict[str, set[str]]]:
    """Check every reference inside the site, adding the broken ones to ``report``. Returns the files linked
    to, the coverage links (url -> the page listing it) and each page's counterpart links."""
    linked_to: set[str] = set()
    external: dict[str, str] = {}
    counterparts: dict[str, set[str]] = {}
    for name, page in pages.items():
        for tag, attrs in page.links:
            ref = attrs.get(LINK_ATTRS[tag], "")
            if tag == "a" and not ref:
                continue
            if EXTERNAL.match(ref):
                scheme = ref.split(":", 1)[0].lower()
                if scheme not in ("http", "https", "mailto", "tel"):
                    report.broken.append(BrokenLink(name, ref, f"不允许的链接协议“{scheme}”"))
                elif tag == "a" and "coverage" in attrs.get("class", "").split():
                    external.setdefault(ref, name)
                continue
            resolved = _resolve(name, ref)
            if resolved is None:
                report.broken.append(BrokenLink(name, ref, "指向站点目录之外"))
                continue
            target, fragment = resolved
            if target not in files:
                report.broken.append(BrokenLink(name, ref, "页面或文件不存在"))
                continue
            linked_to.add(target)
            if fragment and target in pages and fragment not in pages[target].ids:
                report.broken.append(BrokenLink(name, ref, f"页面中没有锚点“{fragment}”"))
            if tag == "a" and "counterpart" in attrs.get("class", "").split():
                counterparts.setdefault(name, set()).add(target)
    return linked_to, external, counterparts


def _check_counterparts(pages: dict[str, _Page], counterparts: dict[str, set[str]], report: LinkReport) -> None:
    """Two-way document <-> interpretation links: the documents, the interpreted ones and every one-way link."""
    for name, page in sorted(pages.items()):
        if page.kind != "policy-document":
            continue
        report.documents.append(page.release or name)
        two_way = False
        interps = [t for t in counterparts.get(name, ()) if pages.get(t) and pages[t].kind == "policy"]
        if not interps:
            report.one_way.append(f"政策文件页 {name} 没有链接到政策解读")
        for t in sorted(interps):
            if name in counterparts.get(t, ()):
                two_way = True
            else:
                report.one_way.append(f"政策解读页 {t} 没有链回政策文件页 {name}")
        if two_way:
            report.interpreted.append(page.release or name)
    for name, page in sorted(pages.items()):
        if page.kind == "policy":
            docs = [t for t in counterparts.get(name, ()) if pages.get(t) and pages[t].kind == "policy-document"]
            for t in docs:
                if name not in counterparts.get(t, ()):
                    report.one_way.append(f"政策文件页 {t} 没有链接到解读页 {name}")
    report.one_way = sorted(set(report.one_way))


def check_urls(urls: dict[str, str], timeout: float = 3.0) -> list[CoverageCheck]:
    """Liveness of external links (url -> page listing it), several at a time."""
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return list(pool.map(lambda item: _check_url(item[0], item[1], timeout), sorted(urls.items())))


def _check_url(url: str, page: str, timeout: float) -> CoverageCheck:
    import requests

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as e:
        return CoverageCheck(url, page, UNREACHABLE, f"无法连接 {parts.hostname}：{_reason(e)}")
    headers = {"User-Agent": "pressroom-linkcheck/1 (+press office link verifier)"}
    try:
        resp = requests.head(url, timeout=timeout, allow_redirects=True, headers=headers)
        if resp.status_code in (403, 405, 501):  # some sites refuse HEAD: ask properly
            resp = requests.get(url, timeout=timeout, allow_redirects=True, headers=headers, stream=True)
            resp.close()
    except requests.RequestException as e:
        return CoverageCheck(url, page, UNREACHABLE, f"请求失败：{type(e).__name__}")
    if resp.status_code < 400:
        return CoverageCheck(url, page, LIVE, f"HTTP {resp.status_code}")
    return CoverageCheck(url, page, DEAD, f"HTTP {resp.status_code}")


def _reason(e: OSError) -> str:
    if isinstance(e, socket.timeout):
        return "连接超时"
    if isinstance(e, socket.gaierror):
        return "域名无法解析"
    if isinstance(e, ConnectionRefusedError):
        return "连接被拒绝"
    return os.strerror(e.errno) if e.errno else type(e).__name__
