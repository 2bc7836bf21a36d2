"""The 淮南新闻发布厅 site built from a generated archive of 500 releases across every department: sections,
pagination, cross-links, feeds (feedparser), search, the registry page, incremental rebuilds, and a look in
Chromium. Also the media store behind 媒体报道集 / 发布视频实录 / 网络直播."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
import yaml

from pressroom.sites import coverage, linkcheck, presshall
from pressroom.sites.coverage import CoverageItem, Media, VideoRecord
from pressroom.errors import ValidationFailed
from pressroom.model import Registry, Release
from tests.browser import DESKTOP, PHONE, browser, open_page, shoot  # noqa: F401  (browser is a fixture)

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 1, 1, 10, 0, tzinfo=TZ)
STEP = timedelta(hours=17)
N = 500
NOW = START + N * STEP  # the build's "now": just after the last release
# Position in a block of 10 -> the sample release it is made from.
PATTERN = ("notice-2017-78", "notice-2017-78-interpretation", "rainstorm-2026-11", "rainstorm-2026-11-update-1",
           "water-price-rumor", "work-report-2026-q3", "work-report-2026-q3", "water-price-rumor",
           "work-report-2026-q3", "work-report-2026-q3")


# ---------------------------------------------------------------------------------------------
# The generated archive (also used by bench/site.py)


def rid(i: int) -> str:
    return f"r{i:05d}"


def make_release(samples: dict[str, Release], registry: Registry, i: int, unique_body: bool = False) -> Release:
    """Release number ``i`` of the archive. Every block of 10 holds a policy bundle (document +
    interpretation), an emergency and its follow-up, two public-opinion cases and routine releases; every
    third release is a press conference; the department cycles through the registry."""
    deps = list(registry.departments)
    pos = i % 10
    base = samples[PATTERN[pos]]
    dep = deps[((i - 1) if pos in (1, 3) else i) % len(deps)]  # a bundle, an event: one department
    persons = sorted(registry.speakers_of(dep), key=lambda s: not s.head)
    when = START + i * STEP
    links: dict = {}
    if base.kind == "policy":
        links["interprets"] = rid(i - 1)
    if base.follow_up_of:
        links["follow_up_of"] = rid(i - 1)
    if base.kind in ("emergency", "opinion"):
        links["event_at"] = when - timedelta(hours=3)
    if unique_body:  # like a real archive: no two bodies alike
        links["lead"] = f"{base.lead}\n\n（第{i}号稿件。）"
        links["sections"] = tuple(dataclasses.replace(s, body=f"{s.body}\n\n第{i}号稿件本节完。") for s in base.sections)
    return dataclasses.replace(
        base, id=rid(i), title=f"{registry.departments[dep].short}：{base.title}（{i}）",
        department=registry.departments[dep], speakers=tuple(persons[:1]) if i % 4 == 0 else tuple(persons[-1:]),
        publish_at=when, press_conference=i % 3 == 0 or pos == 3,
        content_hash=f"{base.content_hash[:48]}{i:016d}", **links)


def make_archive(samples, registry, n: int = N, unique_body: bool = False):
    """(releases, published): ``n`` releases, each published at its publish_at."""
    releases = [make_release(samples, registry, i, unique_body) for i in range(n)]
    return releases, {r.id: r.publish_at for r in releases}


def make_media(releases: list[Release]) -> dict[str, Media]:
    """Two media reports on every 7th release, a video record on conferences numbered by 9."""
    media = {}
    for n, r in enumerate(releases):
        reports = ()
        if n % 7 == 0:
            day = r.publish_at.date() + timedelta(days=1)
            reports = (CoverageItem("淮南日报", f"报道：{r.title}", f"https://www.hnrb.example/{r.id}.html", day),
                       CoverageItem("淮河早报", f"关注：{r.title}", f"https://www.hhzb.example/{r.id}.html", day))
        videos = (VideoRecord("新闻发布会全程", f"https://video.example/{r.id}", "32:15"),) \
            if r.press_conference and n % 9 == 0 else ()
        if reports or videos:
            media[r.id] = Media(reports, videos)
    return media


def make_upcoming(samples, registry, n: int = 2, now: datetime = NOW) -> list[Release]:
    """Conferences announced but not yet held (not published): their titles and digests are embargoed."""
    out = []
    for k in range(n):
        dep = list(registry.departments)[k]
        out.append(dataclasses.replace(
            samples["work-report-2026-q3"], id=f"upcoming-{k}", title=f"保密标题{k}", digest=f"保密摘要{k}",
            kicker=f"第{k + 1}场预告发布会议题", department=registry.departments[dep],
            speakers=tuple(registry.speakers_of(dep)), publish_at=now + timedelta(days=k + 1), press_conference=True))
    return out


# ---------------------------------------------------------------------------------------------
# Fixtures


class Built:
    def __init__(self, out, releases, published, media, registry, settings, result):
        self.out, self.releases, self.published, self.media = out, releases, published, media
        self.registry, self.settings, self.result = registry, settings, result
        self.by_id = {r.id: r for r in releases}

    def read(self, rel: str) -> str:
        return (self.out / rel).read_text(encoding="utf-8")

    def build(self, releases=None, published=None, media=None, **kw):
        return presshall.build_site(releases if releases is not None else self.releases,
                                    published if published is not None else self.published, self.registry,
                                    self.settings, self.out, media=self.media if media is None else media,
                                    now=NOW, **kw)


@pytest.fixture(scope="module")
def site(samples, registry, settings, tmp_path_factory):
    releases, published = make_archive(samples, registry)
    releases += make_upcoming(samples, registry)
    media = make_media(releases)
    media["upcoming-0"] = Media(live="https://live.example/room/7")
    out = tmp_path_factory.mktemp("presshall")
    result = presshall.build_site(releases, published, registry, settings, out, media=media, now=NOW)
    return Built(out, releases, published, media, registry, settings, result)


@pytest.fixture
def copy(site, tmp_path):
    """A private copy of the built site, for tests that rebuild it."""
    out = tmp_path / "site"
    shutil.copytree(site.out, out)
    return Built(out, list(site.releases), dict(site.published), dict(site.media), site.registry, site.settings,
                 site.result)


def hrefs(html: str, cls: str | None = None) -> list[str]:
    if cls:
        return re.findall(rf'<a class="{cls}"[^>]*href="([^"]+)"', html)
    return re.findall(r'href="([^"]+)"', html)


def ids_on(html: str) -> list[str]:
    return re.findall(r'href="(?:\.\./)?releases/(r\d+)\.html"', html)


# ---------------------------------------------------------------------------------------------
# Sections, pagination, cross-links


SECTION_KEYS = [k for k, _, _ in presshall.SECTIONS]


def test_every_section_has_its_index_and_a_valid_feed(site):
    for key, label, _ in presshall.SECTIONS:
        page = site.read(f"{key}/index.html")
        assert f'<h1 class="title" id="title">{label}</h1>' in page
        assert '<link rel="alternate" type="application/rss+xml"' in page and 'href="feed.xml"' in page
        feed = feedparser.parse((site.out / key / "feed.xml").read_bytes())
        assert not feed.bozo, (key, feed.bozo_exception)
        assert feed.feed.title == f"淮南新闻发布厅·{label}"
        assert feed.entries, key
        for e in feed.entries:
            assert e.title and e.link and e.published_parsed
            if e.link.startswith("https://www.huainan.gov.cn/xwfb/presshall/"):
                local = e.link.removeprefix("https://www.huainan.gov.cn/xwfb/presshall/").split("#")[0]
                assert (site.out / local).is_file(), local
    home = feedparser.parse((site.out / "feed.xml").read_bytes())
    assert not home.bozo and [e.link.rsplit("/", 1)[1] for e in home.entries][:2] == ["r00499.html", "r00498.html"]


def test_the_archive_paginates_from_the_oldest(site):
    pages = sorted(site.out.glob("releases/page-*.html"))
    assert len(pages) == 25  # 500 releases, 20 a page
    assert ids_on(site.read("releases/page-1.html")) == [rid(i) for i in range(19, -1, -1)]  # newest first on a page
    assert ids_on(site.read("releases/page-25.html")) == [rid(i) for i in range(499, 479, -1)]
    index = site.read("releases/index.html")
    assert ids_on(index)[:20] == [rid(i) for i in range(499, 479, -1)]
    assert all(f'href="page-{k}.html"' in index for k in range(1, 26))  # every archive page reachable
    p7 = site.read("releases/page-7.html")
    assert 'href="page-8.html">较新一页' in p7 and 'href="page-6.html">较早一页' in p7
    assert 'href="index.html">较新一页' in site.read("releases/page-25.html")
    # Each paginated section holds every item exactly once across its archive pages.
    conferences = [r.id for r in site.releases if r.press_conference and r.id in site.published]
    seen = [i for p in sorted(site.out.glob("notices/page-*.html")) for i in ids_on(p.read_text(encoding="utf-8"))]
    assert sorted(seen) == sorted(conferences)


def test_every_release_page_links_to_its_section(site):
    primary = {"policy": "policies", "policy-document": "policies"}
    for r in site.releases:
        path = site.out / "releases" / f"{r.id}.html"
        if r.id not in site.published:
            assert not path.exists()  # an announced conference has no page before it is held
            continue
        page = path.read_text(encoding="utf-8")
        want = primary.get(r.kind) or ("notices" if r.press_conference else "releases")
        assert hrefs(page, "section-link") == [f"../{want}/index.html"], r.id
        assert f'data-kind="{r.kind}"' in page


def test_policy_documents_and_interpretations_link_both_ways(site):
    doc, interp = site.by_id["r00010"], site.by_id["r00011"]
    assert (doc.kind, interp.kind, interp.interprets) == ("policy-document", "policy", "r00010")
    assert 'class="counterpart" data-counterpart="r00011" href="r00011.html"' in site.read("releases/r00010.html")
    assert 'class="counterpart" data-counterpart="r00010" href="r00010.html"' in site.read("releases/r00011.html")
    report = linkcheck.check_site(site.out, check_coverage=False)
    assert report.broken == [] and report.one_way == [] and report.ok
    assert len(report.documents) == 50 and report.ratio == 1.0
    assert report.orphans == []  # every page is reachable


def test_policies_are_listed_side_by_side(site):
    page = site.read("policies/index.html")
    rows = re.findall(r'<li class="policy-row">(.*?)</li>', page, re.S)
    assert len(rows) == 20
    for row in rows:
        doc, interp = row.split('<div class="policy-interp">')
        d, i = ids_on(doc), ids_on(interp)
        assert len(d) == 1 and i == [rid(int(d[0][1:]) + 1)]
        assert "淮宣〔2017〕78号" in doc


def test_event_updates_link_to_each_other(site):
    first, update = site.read("releases/r00012.html"), site.read("releases/r00013.html")
    assert 'href="r00013.html"' in first and 'href="r00012.html"' in update
    assert "事件相关发布" in first


def test_images_videos_coverage(site):
    gallery = site.read("images/index.html")
    srcs = re.findall(r'<img src="\.\./(assets/[^"]+)"', gallery)
    assert len(srcs) == presshall.IMAGE_PAGE_SIZE and all((site.out / s).is_file() for s in srcs)
    assert any(s.endswith("cover.png") for s in srcs) and any(s.endswith(".jpg") for s in srcs)
    with_video = [r.id for r in site.releases if r.id in site.media and site.media[r.id].videos]
    videos = site.read("videos/index.html")
    assert ids_on(videos)[0] == with_video[-1] and 'href="https://video.example/' in videos
    page = site.read(f"releases/{with_video[-1]}.html")
    assert "发布视频实录" in page and f'href="https://video.example/{with_video[-1]}"' in page
    reports = site.read("coverage/index.html")
    assert reports.count('class="item-title coverage"') == 20
    assert "淮南日报" in reports and "淮河早报" in reports and "相关发布：" in reports
    assert 'href="https://www.hnrb.example/r00497.html"' in site.read("releases/r00497.html")
    assert "暂无媒体报道" in site.read("releases/r00498.html")
    assert "../coverage/index.html" in site.read("releases/r00497.html")  # it is in that section too


def test_upcoming_conferences_are_announced_without_their_content(site):
    page = site.read("notices/index.html")
    upcoming = page.split('<h2 class="subhead">')[0]
    assert "第1场预告发布会议题" in upcoming and "第2场预告发布会议题" in upcoming
    assert "市政务中心A座10楼7号会议室" in upcoming and "淮南市发展和改革委员会" in upcoming
    assert "林志远" in upcoming and 'class="live" href="https://live.example/room/7"' in upcoming
    assert upcoming.count('class="live"') == 1  # only where a live stream is set
    everything = "".join(p.read_text(encoding="utf-8") for p in site.out.rglob("*") if p.suffix in (".html", ".xml", ".js", ".json"))
    assert "保密标题" not in everything and "保密摘要" not in everything  # embargoed
    assert "第1场预告发布会议题" in site.read("index.html")
    feed = feedparser.parse((site.out / "notices/feed.xml").read_bytes())
    assert [e.title for e in feed.entries[:2]] == ["【预告】第2场预告发布会议题", "【预告】第1场预告发布会议题"]  # by date


def test_the_spokesperson_registry_page(site, registry):
    page = site.read("spokespeople/index.html")
    assert page.count('<li class="department"') == len(registry.departments)
    for dep in registry.departments.values():
        assert dep.name in page
    for s in registry.speakers.values():
        assert f"<td>{s.name}</td><td>{s.title}</td>" in page
    for li in registry.liaisons.values():
        assert li.name in page and (not li.phone or f'href="tel:{li.phone}"' in page)
    block = page.split("淮南市发展和改革委员会")[1].split("</table>")[0]
    assert "<td>林志远</td><td>市发展改革委主任</td><td>第一发言人</td>" in block
    assert page.count('<span class="tag">2·1+N</span>') == 31


def test_registry_flags_departments_with_none_or_too_many_spokespersons(registry, tmp_path):
    from pressroom.releases.loader import load_registry
    from pressroom.model import Speaker

    speakers = dict(registry.speakers)
    for name in [s.name for s in registry.speakers_of("教育")]:
        del speakers[name]
    for k in range(3):
        speakers[f"新人{k}"] = Speaker(f"新人{k}", "副局长", "科技")
    bad = Registry(registry.departments, speakers, {k: v for k, v in registry.liaisons.items() if k != "体育"})
    problems = presshall.registry_problems(bad)
    assert "淮南市教育局：未登记新闻发言人（每个部门应确定1—2名）" in problems
    assert any(p.startswith("淮南市科学技术局：登记了 5 名新闻发言人") for p in problems)
    assert "淮南市体育局：未确定新闻发布工作联络员" in problems
    assert presshall.registry_problems(registry) == []
    # The registry files are checked when loaded too.
    (tmp_path / "departments.yaml").write_text("甲:\n  name: 甲局\n乙:\n  name: 乙局\n", encoding="utf-8")
    people = {"甲": {"spokespersons": [], "liaison": {"name": "张", "title": "科长"}},
              "乙": {"spokespersons": [{"name": f"人{k}", "title": "副局长"} for k in range(3)],
                    "liaison": {"name": "李", "title": "科长"}}}
    (tmp_path / "spokespeople.yaml").write_text(yaml.safe_dump(people, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        load_registry(tmp_path)
    messages = [p.message for p in e.value.problems]
    assert "登记了 0 名新闻发言人" in messages and "登记了 3 名新闻发言人" in messages


def test_the_search_index_covers_every_published_release(site):
    data = json.loads(site.read("search-index.json"))
    assert data["fields"][:2] == ["title", "url"]
    urls = [item[1] for item in data["items"]]
    assert len(urls) == N and urls[0] == "releases/r00499.html"
    assert all((site.out / u).is_file() for u in urls)
    assert site.read("search-index.js") == "window.PRESSHALL_SEARCH=" + site.read("search-index.json") + ";\n"
    assert "<script" not in site.read("index.html")  # only the search page runs a script


def test_content_is_escaped(site, samples, registry, tmp_path):
    evil = dataclasses.replace(make_release(samples, registry, 5), id="evil", title='<script>alert(1)</script>标题',
                               lead='正文<img src=x onerror="alert(2)"><a href="javascript:alert(3)">点</a>')
    presshall.build_site([evil], {"evil": evil.publish_at}, registry, site.settings, tmp_path, now=NOW)
    for name in ("releases/evil.html", "index.html", "releases/index.html"):
        page = (tmp_path / name).read_text(encoding="utf-8")
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;标题" in page
    page = (tmp_path / "releases/evil.html").read_text(encoding="utf-8")
    assert "onerror" not in page and "javascript:" not in page


# ---------------------------------------------------------------------------------------------
# Rebuilding


def snapshot(out: Path) -> dict[str, tuple[int, int]]:
    # write_atomic replaces a file by rename: a rewritten file has a new inode even within one mtime tick.
    return {p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in out.rglob("*") if p.is_file()}


def changed(before: dict, after: dict) -> set[str]:
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k)}


def test_a_rebuild_without_changes_writes_nothing(copy):
    before = snapshot(copy.out)
    result = copy.build()
    assert result.written == [] and result.removed == [] and result.rendered == 0
    assert changed(before, snapshot(copy.out)) == set()


def test_one_new_release_rewrites_only_the_pages_that_show_it(copy, samples, registry):
    def routine(n):
        r = dataclasses.replace(make_release(samples, registry, 505), id=f"new-{n}", publish_at=NOW + timedelta(hours=n),
                                press_conference=False)
        assert r.kind == "routine" and not r.images
        return r

    site_wide = {"index.html", "feed.xml", "search-index.json", "search-index.js", presshall.MANIFEST}
    first, second = routine(1), routine(2)
    before = snapshot(copy.out)
    result = copy.build(releases=[*copy.releases, first], published={**copy.published, first.id: first.publish_at})
    # 500 releases filled pages 1-25 of the archive: the 501st starts page 26, and page 25 (the newest page
    # so far) gets its "较新一页" link to it. No other archive page, and no other release page, changes.
    expected = site_wide | {"releases/new-1.html", "releases/index.html", "releases/feed.xml",
                            "releases/page-26.html", "releases/page-25.html"}
    assert changed(before, snapshot(copy.out)) == expected
    assert set(result.written) == expected and result.rendered == 3
    before = snapshot(copy.out)
    result = copy.build(releases=[*copy.releases, first, second],
                        published={**copy.published, first.id: first.publish_at, second.id: second.publish_at})
    expected = site_wide | {"releases/new-2.html", "releases/index.html", "releases/feed.xml", "releases/page-26.html"}
    assert changed(before, snapshot(copy.out)) == expected
    assert result.rendered == 2
    assert re.findall(r'releases/(new-\d)\.html', copy.read("releases/page-26.html")) == ["new-2", "new-1"]


def test_a_new_interpretation_also_updates_its_document(copy, samples, registry):
    doc = dataclasses.replace(make_release(samples, registry, 510), publish_at=NOW)
    interp = dataclasses.replace(make_release(samples, registry, 511), publish_at=NOW, press_conference=False)
    copy.build(releases=[*copy.releases, doc], published={**copy.published, doc.id: NOW})
    assert "本文件的政策解读尚未发布" in copy.read(f"releases/{doc.id}.html")
    before = snapshot(copy.out)
    copy.build(releases=[*copy.releases, doc, interp], published={**copy.published, doc.id: NOW, interp.id: NOW})
    touched = changed(before, snapshot(copy.out))
    assert {f"releases/{interp.id}.html", f"releases/{doc.id}.html", "policies/index.html",
            "policies/page-3.html"} <= touched
    assert not any(re.fullmatch(r"releases/r00[0-4]\d\d\.html", t) for t in touched)  # no old release page
    assert f'data-counterpart="{interp.id}"' in copy.read(f"releases/{doc.id}.html")
    assert linkcheck.check_site(copy.out, check_coverage=False).ok


def test_coverage_added_later_touches_its_release_and_the_coverage_section(copy):
    media = dict(copy.media)
    media["r00010"] = Media((CoverageItem("安徽日报", "政策解读见报", "https://ahrb.example/1.html", date(2025, 2, 1)),))
    before = snapshot(copy.out)
    copy.build(media=media)
    touched = changed(before, snapshot(copy.out))
    assert "releases/r00010.html" in touched and "coverage/index.html" in touched
    assert not {t for t in touched if t.startswith("releases/r") and t != "releases/r00010.html"}
    assert "安徽日报" in copy.read("releases/r00010.html")


def test_a_withdrawn_release_leaves_the_site(copy):
    published = dict(copy.published)
    del published["r00499"]
    result = copy.build(published=published)
    assert "releases/r00499.html" in result.removed and not (copy.out / "releases/r00499.html").exists()
    assert "r00499" not in copy.read("releases/index.html")
    assert linkcheck.check_site(copy.out, check_coverage=False).broken == []


def test_a_corrected_release_is_found_by_its_new_words_and_the_others_by_theirs(copy, tmp_path):
    """An incremental build takes the words of unchanged releases from the last index: the corrected one
    must be searched by its new text, every other by its own, exactly as a full build indexes them."""
    k = next(i for i, r in enumerate(copy.releases) if r.id == "r00042")
    old = copy.releases[k]
    fixed = dataclasses.replace(old, lead=old.lead + "\n\n更正：补助标准以市人社局公告为准。",
                                content_hash=old.content_hash[:-4] + "beef")
    releases = [*copy.releases[:k], fixed, *copy.releases[k + 1:]]
    result = copy.build(releases=releases)
    assert "releases/r00042.html" in result.written and result.rendered < 10
    index = json.loads(copy.read("search-index.json"))
    text_of = {row[1]: row[-1] for row in index["items"]}
    assert "补助标准以市人社局公告为准" in text_of["releases/r00042.html"]
    fresh = tmp_path / "fresh"
    presshall.build_site(releases, copy.published, copy.registry, copy.settings, fresh, media=copy.media, now=NOW)
    assert copy.read("search-index.json") == (fresh / "search-index.json").read_text(encoding="utf-8")


def test_incremental_builds_end_with_the_site_a_full_build_makes(copy, samples, registry, tmp_path):
    """New releases, a correction and a withdrawal, built one after the other into the same folder: every
    page reads as a full build of the same releases shows it (no archive page keeps a stale count), and the
    search index is the same file, though the later builds take the unchanged rows from the last one."""
    new = [dataclasses.replace(make_release(samples, registry, 500 + i), publish_at=NOW + timedelta(hours=i))
           for i in (3, 4)]  # a press conference, a public-opinion case
    k = next(i for i, r in enumerate(copy.releases) if r.id == "r00042")
    fixed = dataclasses.replace(copy.releases[k], lead=copy.releases[k].lead + "\n\n更正：以市人社局公告为准。",
                                content_hash=copy.releases[k].content_hash[:-4] + "beef")
    releases, published = list(copy.releases), dict(copy.published)
    for r in new:
        releases.append(r)
        published[r.id] = r.publish_at
        copy.build(releases=releases, published=published)
    releases[k] = fixed
    copy.build(releases=releases, published=published)
    del published["r00496"]
    result = copy.build(releases=releases, published=published)
    assert result.rendered < 20 and "releases/r00496.html" in result.removed
    fresh = tmp_path / "fresh"
    presshall.build_site(releases, published, copy.registry, copy.settings, fresh, media=copy.media, now=NOW)
    files = {p.relative_to(fresh).as_posix() for p in fresh.rglob("*") if p.is_file()} - {presshall.MANIFEST}
    assert files == {p.relative_to(copy.out).as_posix() for p in copy.out.rglob("*") if p.is_file()} - {presshall.MANIFEST}
    assert [f for f in sorted(files) if (fresh / f).read_bytes() != (copy.out / f).read_bytes()] == []
    assert "更正：以市人社局公告为准" in copy.read("search-index.json")
    assert f"共 {len(published)} 条" in copy.read("releases/index.html") and "共 " not in copy.read("releases/page-1.html")


def test_a_deleted_page_is_written_again(copy):
    (copy.out / "releases/r00100.html").unlink()
    result = copy.build()
    assert result.written == ["releases/r00100.html"]


def test_the_build_is_deterministic(site, tmp_path):
    presshall.build_site(site.releases, site.published, site.registry, site.settings, tmp_path, media=site.media,
                         now=NOW, workers=1)
    ours = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    theirs = {p.relative_to(site.out).as_posix(): p.read_bytes() for p in site.out.rglob("*") if p.is_file()}
    assert ours.keys() == theirs.keys()
    assert [k for k in ours if ours[k] != theirs[k]] == []  # one process or forked workers: same bytes


def test_refresh_builds_into_the_portal_outbox(settings, samples, registry, tmp_path):
    from pressroom.releases.catalog import Catalog
    from pressroom.delivery.ledger import Ledger

    s = dataclasses.replace(settings, outbox_dir=tmp_path / "outbox")
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    for rid_ in ("notice-2017-78", "notice-2017-78-interpretation"):
        d = ledger.ensure(rid_, "portal", samples[rid_].version)
        ledger.mark_published(ledger.claim(d, "t"), "t")
    catalog = Catalog(s, registry, dict(samples), {})
    result = presshall.refresh(s, catalog, ledger, now=NOW)
    root = tmp_path / "outbox" / "portal" / "presshall"
    assert result.out_dir == root and (root / "index.html").is_file()
    assert sorted(p.name for p in (root / "releases").glob("*.html") if not p.name.startswith(("index", "page"))) == \
        ["notice-2017-78-interpretation.html", "notice-2017-78.html"]
    assert result.check.ok and result.check.ratio == 1.0 and result.warnings == []
    # A broken media store leaves the site as it was, and says why.
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "coverage.yaml").write_text("a: [", encoding="utf-8")
    broken = presshall.refresh(dataclasses.replace(s, content_dir=tmp_path / "content"), catalog, ledger, now=NOW)
    assert broken.written == [] and broken.warnings == ["coverage.yaml 有错误，新闻发布厅未更新：coverage.yaml：YAML 格式错误。请检查缩进、冒号和引号"]
    assert (root / "index.html").is_file()


# ---------------------------------------------------------------------------------------------
# The media store


def test_coverage_add_checks_and_keeps_one_entry_per_url(tmp_path, samples):
    r = samples["water-price-rumor"]
    item, added = coverage.add_coverage(tmp_path, r.id, "淮南日报", "我市水价不会翻倍", "https://hnrb.example/1.html",
                                        "2026-11-22", samples)
    assert added and item.date == date(2026, 11, 22)
    _, added = coverage.add_coverage(tmp_path, r.id, "淮南日报", "我市水价不会“翻倍”（更新）",
                                     "https://hnrb.example/1.html", "2026-11-22", samples)
    assert not added
    coverage.add_video(tmp_path, r.id, "https://video.example/1", "发布会全程", "12:30", samples)
    coverage.set_live(tmp_path, r.id, "https://live.example/7", samples)
    m = coverage.load(tmp_path)[r.id]
    assert [c.title for c in m.coverage] == ["我市水价不会“翻倍”（更新）"]
    assert m.videos == (VideoRecord("发布会全程", "https://video.example/1", "12:30"),) and m.live == "https://live.example/7"
    text = (tmp_path / "coverage.yaml").read_text(encoding="utf-8")
    assert text.startswith("# 媒体报道集") and "淮南日报" in text  # readable Chinese, not \u escapes
    with pytest.raises(ValidationFailed) as e:
        coverage.add_coverage(tmp_path, r.id, "", "标题", "ftp://x", "2026-13-01", samples)
    assert {p.message for p in e.value.problems} == {"日期“2026-13-01”格式不对", "未填写媒体名称", "“ftp://x”不是有效的网址"}
    with pytest.raises(ValidationFailed) as e:
        coverage.add_coverage(tmp_path, r.id, "淮南日报", "标题", "https://a.example/", "2026-11-01", samples)
    assert "早于稿件发布日期" in e.value.problems[0].message
    with pytest.raises(ValidationFailed) as e:
        coverage.add_coverage(tmp_path, "no-such-release", "淮南日报", "标题", "https://a.example/", "2026-11-30", samples)
    assert e.value.problems[0].message == "找不到稿件“no-such-release”"


def test_a_hand_edited_store_is_validated(tmp_path):
    (tmp_path / "coverage.yaml").write_text(
        "a:\n  coverage:\n    - {outlet: 淮南日报, title: 标题, url: 'javascript:alert(1)', date: 2026-11-20}\n"
        "  live: not-a-url\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        coverage.load(tmp_path)
    assert [p.field for p in e.value.problems] == ["a.coverage[1]", "a.live"]


# ---------------------------------------------------------------------------------------------
# In the browser


def test_the_home_page_on_a_phone_and_a_desktop(site, browser):
    for name, viewport in (("375", PHONE), ("1280", DESKTOP)):
        check = open_page(browser, site.out / "index.html", viewport, shot=f"presshall-home-{name}")
        assert not check.overflows, (name, check.scroll_width)
        assert check.title_visible
        assert all(u.startswith("file://") for u in check.requests)  # nothing leaves the machine
    check = open_page(browser, site.out / "spokespeople/index.html", PHONE, shot="presshall-spokespeople-375")
    assert not check.overflows
    check = open_page(browser, site.out / "policies/index.html", PHONE, shot="presshall-policies-375")
    assert not check.overflows
    for rid_ in ("r00011", "r00012", "r00497"):  # an interpretation, an emergency with a photo, coverage
        check = open_page(browser, site.out / "releases" / f"{rid_}.html", PHONE, shot=f"presshall-{rid_}-375")
        assert not check.overflows and check.title_visible, rid_


def test_search_works_offline(site, browser):
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto((site.out / "search.html").resolve().as_uri() + "?q=" + "市发展改革委 政务舆情")
        status = page.locator("#status").inner_text()
        results = page.locator("#results li a").all_inner_texts()
        hrefs = page.locator("#results li a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
        assert status.startswith("找到 ") and results
        assert any(t.startswith("市发展改革委：") for t in results)
        # The index covers the full text: every hit's page holds both words.
        for href in hrefs:
            html = (site.out / href).read_text("utf-8")
            assert "市发展改革委" in html and "政务舆情" in html, href
        page.fill("#q", "不存在的词语")
        assert page.locator("#status").inner_text() == "没有找到包含“不存在的词语”的发布。"
        shoot(page, "presshall-search-375")
    finally:
        context.close()


def test_infographics_from_the_outbox_join_the_pictures(samples, registry, settings, tmp_path):
    import io

    from PIL import Image as PILImage

    def png(colour):
        buf = io.BytesIO()
        PILImage.new("RGB", (60, 120), colour).save(buf, "PNG")
        return buf.getvalue()

    r = samples["work-report-2026-q3"]
    poster = tmp_path / "outbox" / "assets" / r.id / "infographic.png"
    poster.parent.mkdir(parents=True)
    poster.write_bytes(png("red"))
    s = dataclasses.replace(settings, outbox_dir=tmp_path / "outbox")
    found = presshall.infographics_in_outbox(s, [r.id, "water-price-rumor"])
    assert found == {r.id: poster}
    out = tmp_path / "site"
    build = lambda: presshall.build_site([r], {r.id: r.publish_at}, registry, s, out, now=NOW, infographics=found)  # noqa: E731
    build()
    copied = out / "assets" / r.id / "infographic.png"
    assert copied.read_bytes() == poster.read_bytes()
    assert f'src="../assets/{r.id}/infographic.png"' in (out / "releases" / f"{r.id}.html").read_text(encoding="utf-8")
    assert f"assets/{r.id}/infographic.png" in (out / "images" / "index.html").read_text(encoding="utf-8")
    poster.write_bytes(png("blue"))  # the channel drew a new poster: the copy follows
    assert f"assets/{r.id}/infographic.png" in build().written
    assert copied.read_bytes() == poster.read_bytes()


# -- the press hall is rebuilt after every portal publication, whatever delivers the portal ------------

def _ledger_with_portal(tmp_path, samples, settings, transport: str):
    import dataclasses

    from pressroom.delivery.ledger import Ledger, worker_token
    from pressroom.releases.catalog import Catalog
    from pressroom.releases.loader import load_registry

    s = dataclasses.replace(settings, outbox_dir=tmp_path / "outbox", ledger_url=f"sqlite:///{tmp_path / 'l.db'}",
                            transports={**settings.transports, "portal": transport})
    ledger = Ledger(s.ledger_url)
    r = samples["work-report-2026-q3"]
    token = worker_token()
    row = ledger.claim(ledger.ensure(r.id, "portal", r.version), token)
    ledger.mark_published(row, token, r.id, "https://cms.example/x")
    return s, Catalog(s, load_registry(s.content_dir), dict(samples), []), ledger


def test_with_the_portal_in_a_cms_the_press_hall_is_still_rebuilt(tmp_path, samples, settings):
    from pressroom.sites.site import refresh_portal_column

    s, catalog, ledger = _ledger_with_portal(tmp_path, samples, settings, "cms")
    assert refresh_portal_column(s, catalog, ledger) == []  # the column itself lives in the CMS
    assert not (s.outbox_dir / "portal" / "index.html").exists()
    page = presshall.site_dir(s) / "releases" / "work-report-2026-q3.html"
    assert page.exists(), "the press hall did not list the release published through the CMS"


def test_a_rebuild_without_the_link_check_reports_no_check(tmp_path, samples, settings):
    s, catalog, ledger = _ledger_with_portal(tmp_path, samples, settings, "outbox")
    result = presshall.refresh(s, catalog, ledger, check=False)
    assert result.check is None and not any("链接检查" in w for w in result.warnings)


def test_the_gallery_shows_each_poster_whole_and_opens_the_full_image(samples, registry, settings, contexts,
                                                                       tmp_path, browser):
    from PIL import Image as PILImage

    import channels

    ids = ["work-report-2026-q3", "rainstorm-2026-11"]
    outbox = tmp_path / "outbox"
    for rid_ in ids:  # the infographic channel's rendition, as delivered
        rd = channels.render("infographic", samples[rid_], contexts[rid_])
        for name, data in rd.files.items():
            (outbox / "assets" / rid_).mkdir(parents=True, exist_ok=True)
            (outbox / "assets" / rid_ / name).write_bytes(data)
    s = dataclasses.replace(settings, outbox_dir=outbox)
    out = tmp_path / "site"
    rs = [samples[i] for i in ids]
    presshall.build_site(rs, {r.id: r.publish_at for r in rs}, registry, s, out, now=NOW,
                         infographics=presshall.infographics_in_outbox(s, ids))
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto((out / "images" / "index.html").resolve().as_uri(), wait_until="load")
        items = page.locator("li.picture").evaluate_all("""els => els.map(li => {
            const img = li.querySelector('img'), a = img.closest('a');
            return {src: img.getAttribute('src'), full: a && a.getAttribute('href'), alt: img.alt,
                    w: img.getAttribute('width'), h: img.getAttribute('height'),
                    nw: img.naturalWidth, nh: img.naturalHeight, box: img.getBoundingClientRect().toJSON(),
                    caption: li.querySelector('.caption a').getAttribute('href')};
        })""")
        shoot(page, "presshall-gallery-375", full_page=True)
    finally:
        context.close()
    posters = [i for i in items if i["alt"].startswith("图解：")]
    assert len(posters) == len(ids)
    for i in posters:
        rid_ = i["full"].split("/")[-2]
        assert i["src"] == f"../assets/{rid_}/infographic-thumb.jpg" and i["full"] == f"../assets/{rid_}/infographic.png"
        assert i["caption"] == f"../releases/{rid_}.html" and i["alt"] == f"图解：{samples[rid_].title}"
        with PILImage.open(out / "images" / i["full"]) as full:
            aspect = full.width / full.height
        assert i["nw"] == int(i["w"]) == 360 and i["nh"] == int(i["h"])  # a real thumbnail, loaded
        assert abs(i["nw"] / i["nh"] - aspect) <= 0.01 * aspect
        shown = i["box"]["width"] / i["box"]["height"]  # drawn whole: no crop squeezes the aspect
        assert abs(shown - aspect) <= 0.02 * aspect, (shown, aspect)
    for i in items:  # every picture opens its full image, which the site holds
        assert (out / "images" / i["full"]).is_file() and i["nw"] > 0, i
