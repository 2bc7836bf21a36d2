"""The press hall's media store: coverage links (媒体报道集, R10), video records of a conference
(发布视频实录) and its live-stream link (网络直播, R5), attached to releases by id.

Kept in ``content/coverage.yaml`` rather than in the ledger: it is editorial content, reviewed and versioned
with the releases it belongs to, read by the site build together with them, and small. ``pressroom coverage
add`` edits it under a file lock with an atomic rename, so two editors adding links at once lose nothing.

    water-price-rumor:
      coverage:
        - {outlet: 淮南日报, title: ..., url: https://..., date: 2026-11-22}
      videos:
        - {title: 新闻发布会全程, url: https://..., duration: "32:15"}
      live: https://live.example/room/7
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import yaml

from pressroom.errors import Problem, ValidationFailed
from pressroom.files import locked, write_atomic
from pressroom.text import yamlparse

STORE = "coverage.yaml"
HEADER = (
    "# 媒体报道集、发布视频实录和网络直播链接（淮宣〔2017〕78号 五（三）），按稿件 id 归类。\n"
    "# 由 `pressroom coverage add / video / live` 维护，也可手工编辑（保存后本文件的注释会被重写）。\n"
)
MAX_TITLE = 200


@dataclass(frozen=True)
class CoverageItem:
    outlet: str
    title: str
    url: str
    date: date


@dataclass(frozen=True)
class VideoRecord:
    title: str
    url: str
    duration: str = ""  # as the video platform shows it, e.g. "32:15"


@dataclass(frozen=True)
class Media:
    coverage: tuple[CoverageItem, ...] = ()
    videos: tuple[VideoRecord, ...] = ()
    live: str = ""


def store_path(content_dir: Path) -> Path:
    return Path(content_dir) / STORE


def _url_problem(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"“{url}”不是有效的网址"
    return ""


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def parse(raw: Any, where: str = STORE) -> dict[str, Media]:
    """Validate the store's data; every problem at once, in Chinese."""
    problems: list[Problem] = []
    out: dict[str, Media] = {}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        raise ValidationFailed([Problem(where, "", "应为“稿件id: 内容”的映射", "请参照文件开头的说明填写")])
    for rid, entry in raw.items():
        rid = str(rid)
        if not isinstance(entry, dict):
            problems.append(Problem(where, rid, "应包含 coverage、videos 或 live", "请参照文件开头的说明填写"))
            continue
        items = []
        for i, c in enumerate(entry.get("coverage") or [], 1):
            field = f"{rid}.coverage[{i}]"
            if not isinstance(c, dict):
                problems.append(Problem(where, field, "格式不对", "每项写成 {outlet, title, url, date}"))
                continue
            d = _date(c.get("date"))
            bad = [k for k in ("outlet", "title", "url") if not str(c.get(k) or "").strip()]
            if bad or d is None:
                problems.append(Problem(where, field, f"缺少{'、'.join(bad + ([] if d else ['date']))}",
                                        "每项写成 {outlet: 媒体, title: 报道标题, url: 网址, date: 2026-11-20}"))
                continue
            if msg := _url_problem(str(c["url"])):
                problems.append(Problem(where, field, msg, "请填写以 http:// 或 https:// 开头的完整网址"))
                continue
            items.append(CoverageItem(str(c["outlet"]).strip(), str(c["title"]).strip(), str(c["url"]).strip(), d))
        videos = []
        for i, v in enumerate(entry.get("videos") or [], 1):
            field = f"{rid}.videos[{i}]"
            if not isinstance(v, dict) or not v.get("url") or _url_problem(str(v["url"])):
                problems.append(Problem(where, field, "视频缺少有效网址", "每项写成 {title: 标题, url: https://..., duration: \"32:15\"}"))
                continue
            videos.append(VideoRecord(str(v.get("title") or "新闻发布会视频实录").strip(), str(v["url"]).strip(),
                                      str(v.get("duration") or "").strip()))
        live = str(entry.get("live") or "").strip()
        if live and (msg := _url_problem(live)):
            problems.append(Problem(where, f"{rid}.live", msg, "请填写以 http:// 或 https:// 开头的直播网址"))
            live = ""
        out[rid] = Media(tuple(sorted(items, key=lambda c: (c.date, c.outlet, c.url))), tuple(videos), live)
    if problems:
        raise ValidationFailed(problems)
    return out


def load(content_dir: Path) -> dict[str, Media]:
    path = store_path(content_dir)
    try:
        raw = yamlparse.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except yaml.YAMLError:
        raise ValidationFailed([Problem(STORE, "", "YAML 格式错误", "请检查缩进、冒号和引号")])
    return parse(raw)


def dump(media: Mapping[str, Media]) -> bytes:
    data = {}
    for rid in sorted(media):
        m = media[rid]
        entry: dict[str, Any] = {}
        if m.coverage:
            entry["coverage"] = [{"outlet": c.outlet, "title": c.title, "url": c.url, "date": c.date} for c in m.coverage]
        if m.videos:
            entry["videos"] = [{"title": v.title, "url": v.url, **({"duration": v.duration} if v.duration else {})}
                               for v in m.videos]
        if m.live:
            entry["live"] = m.live
        if entry:
            data[rid] = entry
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200) if data else ""
    return (HEADER + body).encode("utf-8")


def _update(content_dir: Path, release_id: str, change) -> Media:
    path = store_path(content_dir)
    with locked(path.with_name(f".{path.name}.lock")):
        media = load(content_dir)
        media[release_id] = change(media.get(release_id, Media()))
        write_atomic(path, dump(media))
        return media[release_id]


def _check_release(release_id: str, known: Mapping[str, Any] | Iterable[str]) -> None:
    if release_id not in known:
        raise ValidationFailed([Problem(STORE, release_id, f"找不到稿件“{release_id}”",
                                        "请填写已有稿件的 id（pressroom list 可查看）")])


def add_coverage(content_dir: Path, release_id: str, outlet: str, title: str, url: str, when: str | date,
                 releases: Mapping[str, Any]) -> tuple[CoverageItem, bool]:
    """Attach one media report to a release. Returns (item, added); the same URL twice updates the entry
    instead of listing it twice."""
    _check_release(release_id, releases)
    field = f"{release_id}.coverage"
    problems = []
    d = _date(when)
    if d is None:
        problems.append(Problem(STORE, field, f"日期“{when}”格式不对", "请写成 2026-11-20"))
    if not outlet.strip():
        problems.append(Problem(STORE, field, "未填写媒体名称", "请用 --outlet 填写，如 淮南日报"))
    if not title.strip() or len(title.strip()) > MAX_TITLE:
        problems.append(Problem(STORE, field, "报道标题为空或过长", f"请用 --title 填写 {MAX_TITLE} 字以内的标题"))
    if msg := _url_problem(url.strip()):
        problems.append(Problem(STORE, field, msg, "请填写以 http:// 或 https:// 开头的完整网址"))
    release = releases[release_id]
    published = getattr(release, "publish_at", None)
    if d and published is not None and d < published.date():
        problems.append(Problem(STORE, field, f"报道日期 {d} 早于稿件发布日期 {published.date()}",
                                "请核对报道日期（报道应在发布之后）"))
    if problems:
        raise ValidationFailed(problems)
    item = CoverageItem(outlet.strip(), title.strip(), url.strip(), d)
    added = []

    def change(m: Media) -> Media:
        others = [c for c in m.coverage if c.url != item.url]
        added.append(len(others) == len(m.coverage))
        items = tuple(sorted([*others, item], key=lambda c: (c.date, c.outlet, c.url)))
        return Media(items, m.videos, m.live)

    _update(content_dir, release_id, change)
    return item, added[0]


def add_video(content_dir: Path, release_id: str, url: str, title: str, duration: str,
              releases: Mapping[str, Any]) -> VideoRecord:
    _check_release(release_id, releases)
    if msg := _url_problem(url.strip()):
        raise ValidationFailed([Problem(STORE, f"{release_id}.videos", msg, "请填写以 http:// 或 https:// 开头的视频网址")])
    video = VideoRecord(title.strip() or "新闻发布会视频实录", url.strip(), duration.strip())
    _update(content_dir, release_id,
            lambda m: Media(m.coverage, (*[v for v in m.videos if v.url != video.url], video), m.live))
    return video


def set_live(content_dir: Path, release_id: str, url: str, releases: Mapping[str, Any]) -> str:
    """The live-stream link shown on the conference notice; an empty url removes it."""
    _check_release(release_id, releases)
    if url.strip() and (msg := _url_problem(url.strip())):
        raise ValidationFailed([Problem(STORE, f"{release_id}.live", msg, "请填写以 http:// 或 https:// 开头的直播网址")])
    _update(content_dir, release_id, lambda m: Media(m.coverage, m.videos, url.strip()))
    return url.strip()
