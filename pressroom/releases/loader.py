"""Loading content: the only place that reads release folders and registries.

A release folder is ``content/releases/<slug>/release.md`` (YAML front matter + Markdown) plus its
images. ``load_release`` returns a frozen ``Release`` or raises ``ValidationFailed`` with every problem
of that release at once, each naming the file, the field and the fix in Chinese.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import re
from urllib.parse import unquote
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from channels import configured as configured_channels
from pressroom.errors import Problem, ValidationFailed
from pressroom.model import (
    DOCUMENT_STATUS, KIND_LABELS, NOT_APPLICABLE, PLACEHOLDER, REQUIRED_SECTIONS, Department, Expert, Hotline, Image,
    KeyFigure, Liaison, Registry, Release, Section, Speaker,
)
from pressroom.settings import Settings
from pressroom.text import yamlparse

RELEASE_FILE = "release.md"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
# ![说明](路径): the path bare, in <…> (a name with spaces or brackets) or %-encoded; an optional "title".
IMAGE_REF = re.compile(r"!\[([^\]]*)\]\(\s*(?:<([^>]+)>|([^)<>\"]+?))(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # WeChat permanent material limit; the strictest outlet that takes big files
MAX_TITLE = 60  # a headline longer than this is a paragraph; no outlet can set it
MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs before decoding
IMAGE_FORMATS = {"PNG", "JPEG", "GIF"}
# Zero-width and bidirectional control characters: invisible, and they can disguise a title.
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A Word footnote that `pressroom import` dropped: kept in release.md as an HTML comment, which no outlet
# shows, so that validation and the preview keep listing it until an editor deals with it.
FOOTNOTE_NOTE = re.compile(r"<!--\s*脚注(\d+)（导入时删去，不会发布）：(.*?)\s*-->")
# 本报讯 / 本台消息 typed at the head of the lead: the newspaper's and TV's datelines, which their copy adds
# itself. Taken out of the lead, so the portal, WeChat, H5 and Weibo never print the paper's dateline.
DATELINE = re.compile(r"^\s*(本报讯|本台消息)[：:\s\u3000]*")
# Hand-typed heading numbers: 一、 第一条 (first level), （一） 1. (second level).
CN_NUM = "一二三四五六七八九十百零〇"
LEVEL1 = re.compile(rf"^\s*(?:[{CN_NUM}]+\s*[、.．]|第[{CN_NUM}\d]+\s*[章条部分节])\s*")
LEVEL2 = re.compile(rf"^\s*(?:[（(]\s*[{CN_NUM}]+\s*[)）]|\d+\s*[、.．](?!\d))\s*")


def normalise_heading(text: str) -> str:
    """The heading without its hand-typed number and trailing colon: “一、背景依据：” → “背景依据”."""
    text = LEVEL2.sub("", LEVEL1.sub("", text.strip()), count=1)
    return text.strip().rstrip("：:。.").strip()


def footnote_note(number: int, text: str) -> str:
    return f"<!-- 脚注{number}（导入时删去，不会发布）：{text.replace('--', '—')} -->"

KNOWN_FIELDS = {
    "id", "title", "kicker", "subtitle", "wechat_title", "kind", "department", "speakers", "experts",
    "publish_at", "channels", "digest", "keywords", "key_figures", "venue", "cover", "important",
    "interprets", "document_number", "issuer", "event_at", "follow_up_of", "copy_allow", "press_conference",
    "tv_summary", "video_points",
    "index_number", "topic", "written_on", "status", "supersedes", "safety", "hotlines",
}
VIDEO_POINTS = (2, 4)  # the micro-video shows two to four points (docs/outlets.md#micro-video)
HOTLINE_NUMBER = re.compile(r"^[0-9][0-9-]{1,19}$")  # 110, 12345, 0554-6671234: what a phone dials
DOCUMENT_ONLY = ("index_number", "topic", "written_on", "status", "supersedes")
WRITTEN_ON = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")  # GB/T 9704: Arabic numerals, 2017年9月1日


# ---------------------------------------------------------------------------------------------
# Registry (departments.yaml, spokespeople.yaml)


def _read_yaml(path: Path, rel: str, problems: list[Problem]) -> Any:
    try:
        return yamlparse.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(Problem(rel, "", "文件不存在", f"请创建 {rel}"))
    except UnicodeDecodeError:
        problems.append(Problem(rel, "", "文件不是 UTF-8 编码", "请用 UTF-8 编码另存该文件"))
    except yaml.YAMLError as e:
        problems.append(Problem(rel, "", *yaml_error(e, path.read_text(encoding="utf-8"), first_line=1)))
    return None


# A key typed with a full-width colon (“title：…”): YAML reads the line as text and fails on a later line.
_FULL_WIDTH_KEY = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w-]*)\s*：")


def yaml_error(e: yaml.YAMLError, text: str, first_line: int) -> tuple[str, str]:
    """(message, fix) of a YAML error, naming the line the editor must change and the character at fault;
    ``first_line`` is the file's line number of the text's first line. A full-width colon after a key or a
    tab is named where it is, not where the parser gave up."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = _FULL_WIDTH_KEY.match(line)
        if m and ":" not in line[: m.end()]:
            return (f"YAML 格式错误（第 {i + first_line} 行）：字段名“{m.group(1)}”后用了全角冒号“：”",
                    f"请把“：”改为半角冒号加空格，写成“{m.group(1)}: …”")
    mark = getattr(e, "problem_mark", None)
    if mark is None:
        return "YAML 格式错误", "请检查缩进、冒号后的空格和引号是否成对"
    line = lines[mark.line] if mark.line < len(lines) else ""
    if "\t" in line[: mark.column + 1]:
        return (f"YAML 格式错误（第 {mark.line + first_line} 行第 {line.index(chr(9)) + 1} 列）：有制表符（Tab）",
                "YAML 不能用 Tab 缩进或对齐，请把 Tab 换成空格")
    # "could not find expected ':'" is raised on the line after the one that lacks its colon
    context = getattr(e, "context_mark", None)
    if context is not None and "expected ':'" in str(getattr(e, "problem", "")):
        mark = context
        line = lines[mark.line] if mark.line < len(lines) else ""
    shown = line.strip()[:40]
    return (f"YAML 格式错误（第 {mark.line + first_line} 行{f'：“{shown}”' if shown else ''}）",
            "请检查这一行的缩进、冒号后的空格和引号、括号是否成对")


def load_registry(content_dir: Path) -> Registry:
    problems: list[Problem] = []
    deps_raw = _read_yaml(content_dir / "departments.yaml", "departments.yaml", problems) or {}
    people_raw = _read_yaml(content_dir / "spokespeople.yaml", "spokespeople.yaml", problems) or {}
    departments: dict[str, Department] = {}
    for key, d in (deps_raw.items() if isinstance(deps_raw, dict) else []):
        if not isinstance(d, dict) or not d.get("name"):
            problems.append(Problem("departments.yaml", str(key), "缺少部门全称 name", "请为该部门填写 name"))
            continue
        departments[str(key)] = Department(str(key), str(d["name"]), str(d.get("short") or key),
                                           bool(d.get("listed", False)))
    speakers: dict[str, Speaker] = {}
    liaisons: dict[str, Liaison] = {}
    rel = "spokespeople.yaml"
    for key, entry in (people_raw.items() if isinstance(people_raw, dict) else []):
        key = str(key)
        if key not in departments:
            problems.append(Problem(rel, key, "部门不在 departments.yaml 中", "请先在 departments.yaml 中登记该部门"))
            continue
        entry = entry if isinstance(entry, dict) else {}
        persons = entry.get("spokespersons") or []
        if not 1 <= len(persons) <= 2:
            problems.append(Problem(rel, f"{key}.spokespersons", f"登记了 {len(persons)} 名新闻发言人",
                                    "每个部门应确定1—2名新闻发言人（淮宣〔2017〕78号）"))
        for p in persons:
            if not isinstance(p, dict) or not p.get("name") or not p.get("title"):
                problems.append(Problem(rel, f"{key}.spokespersons", "发言人缺少 name 或 title", "请补全姓名和职务"))
                continue
            name = str(p["name"])
            if name in speakers:
                problems.append(Problem(rel, f"{key}.spokespersons", f"发言人“{name}”与其他部门重名",
                                        "请在姓名后加以区分，保证全表姓名唯一"))
            speakers[name] = Speaker(name, str(p["title"]), key, bool(p.get("head", False)))
        li = entry.get("liaison")
        if isinstance(li, dict) and li.get("name"):
            liaisons[key] = Liaison(str(li["name"]), str(li.get("title", "")), key, str(li.get("phone", "")))
        else:
            problems.append(Problem(rel, f"{key}.liaison", "未确定新闻发布工作联络员", "请填写联络员 name、title、phone"))
    for key in departments:
        if key not in people_raw:
            problems.append(Problem(rel, key, "该部门未登记新闻发言人", "请为该部门登记1—2名新闻发言人和1名联络员"))
    topics = _topics(content_dir, problems)
    if problems:
        raise ValidationFailed(problems)
    return Registry(departments, speakers, liaisons, topics)


def _topics(content_dir: Path, problems: list[Problem]) -> tuple[str, ...]:
    """content/topics.yaml: the 主题分类 a policy document may name (a list); none when the file is absent."""
    if not (content_dir / "topics.yaml").exists():
        return ()
    raw = _read_yaml(content_dir / "topics.yaml", "topics.yaml", problems)
    topics = raw.get("topics") if isinstance(raw, dict) else None
    if not isinstance(topics, list) or not all(isinstance(t, str) and t.strip() for t in topics):
        problems.append(Problem("topics.yaml", "topics", "应为主题分类名称的列表", "请写成 topics: [综合政务, 财政、金融、审计]"))
        return ()
    return tuple(t.strip() for t in topics)


# ---------------------------------------------------------------------------------------------
# One release


def split_front_matter(text: str) -> tuple[str, str] | None:
    if not text.startswith("---"):
        return None
    m = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", text, re.S)
    if not m:
        return None
    return m.group(1), text[m.end():]


def split_sections(body: str) -> tuple[str, list[tuple[str, str]]]:
    """Split Markdown at top-level "## " headings (not inside code fences)."""
    lead: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    in_fence = False
    for line in body.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else HEADING.match(line)
        if m:
            sections.append((m.group(1).strip(), []))
        elif sections:
            sections[-1][1].append(line)
        else:
            lead.append(line)
    return "\n".join(lead).strip(), [(h, "\n".join(ls).strip()) for h, ls in sections]


def _parse_time(value: Any, tz) -> datetime | str:
    """A datetime in the configured zone, or a Chinese reason why not."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        return "只有日期，缺少具体时刻"
    elif isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return f"“{value}”不是有效的日期时间"
        if len(value.strip()) <= 10:
            return "只有日期，缺少具体时刻"
    else:
        return "未填写"
    # Without an offset the time is read as the city's wall clock (Asia/Shanghai), never as UTC.
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt


def _str_list(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    return None


class _Collector:
    """Collects problems for one release file."""

    def __init__(self, rel: str):
        self.rel = rel
        self.problems: list[Problem] = []

    def add(self, field: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.rel, field, message, fix))


def _text_field(fm: dict, key: str, c: _Collector, required: bool = False) -> str:
    value = fm.get(key)
    if value is None or value == "":
        if required:
            c.add(key, "未填写", f"请在前置信息中填写 {key}")
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        c.add(key, "应为一段文字", f"请把 {key} 写成一行文字")
        return ""
    text = str(value).strip()
    if INVISIBLE.search(text) or CONTROL.search(text):
        c.add(key, "含有不可见字符（零宽字符、双向控制符或控制字符）", "请删除后重新输入，避免标题被伪装")
        text = CONTROL.sub("", INVISIBLE.sub("", text))
    if required and not text:
        c.add(key, "为空", f"请填写 {key}")
    return text


def _load_image(folder: Path, ref: str, field: str, c: _Collector, caption: str = "") -> Image | None:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", ref) or ref.startswith("//"):
        c.add(field, f"图片“{ref}”是外部链接", "请把图片文件放进稿件文件夹（如 images/），用相对路径引用")
        return None
    if ref.startswith("/") or ref.startswith("\\") or re.match(r"^[A-Za-z]:", ref):
        c.add(field, f"图片路径“{ref}”是绝对路径", "请使用相对于稿件文件夹的路径，如 images/photo.jpg")
        return None
    root = folder.resolve()
    target = (folder / ref).resolve()
    if not target.is_relative_to(root):
        c.add(field, f"图片路径“{ref}”指向稿件文件夹之外", "请把图片复制到稿件文件夹内再引用（不允许 .. 或指向外部的链接）")
        return None
    if not target.is_file():
        c.add(field, f"图片文件“{ref}”不存在", "请检查文件名和大小写，或把图片放入稿件文件夹")
        return None
    size = target.stat().st_size
    if size == 0:
        c.add(field, f"图片文件“{ref}”是空文件（0 字节）", "请重新导出该图片")
        return None
    if size > MAX_IMAGE_BYTES:
        c.add(field, f"图片“{ref}”大小 {size // 1024 // 1024} MB，超过 10 MB 上限", "请压缩后再用")
        return None
    data = target.read_bytes()
    from PIL import Image as PILImage  # here: loading a release without pictures needs no Pillow

    try:
        with PILImage.open(io.BytesIO(data)) as im:
            fmt, (w, h) = im.format, im.size
            if w * h > MAX_IMAGE_PIXELS:
                c.add(field, f"图片“{ref}”像素过大（{w}×{h}）", "请缩小到 4000 万像素以内")
                return None
            im.verify()
    except Exception:
        c.add(field, f"“{ref}”不是可识别的图片", "请使用 JPG、PNG 或 GIF 格式（不接受 SVG 等格式）")
        return None
    if fmt not in IMAGE_FORMATS:
        c.add(field, f"图片“{ref}”格式为 {fmt}", "请转换为 JPG、PNG 或 GIF 格式")
        return None
    rel = target.relative_to(root).as_posix()
    return Image(rel, data, fmt, w, h, caption)


def load_release(folder: Path, registry: Registry, settings: Settings,
                 configured: tuple[str, ...] | None = None) -> Release:
    """One release folder as a ``Release``, or ``ValidationFailed`` with all of its problems. The checks run
    in a fixed order, so the problems are always listed in the same order. ``configured``: the settings'
    channels (``channels.configured``) when the caller has them already."""
    folder = Path(folder)
    path = folder / RELEASE_FILE
    c = _Collector(_content_relative_name(path, settings))
    raw, text = _read_release_text(path, c)
    fm, body = _parse_front_matter(text, c)
    _check_field_names(fm, c)
    titles = _title_fields(fm, settings, c)
    kind = _kind(fm, c)
    department = _department(fm, registry, c)
    speakers = _speakers(fm, registry, department, c)
    experts = _experts(fm, c)
    publish_at, event_at = _times(fm, kind, settings, c)
    channels = _channels(fm, configured_channels(settings) if configured is None else configured, c)
    keywords = _list_field(fm, "keywords", "应为关键词列表", "请写成 [关键词1, 关键词2]", c)
    key_figures = _key_figures(fm, c)
    important = _flag(fm, "important", "涉及全市的重要发布填 true", c)
    press_conference = _flag(fm, "press_conference", "本稿是新闻发布会（而非书面发布）时填 true", c)
    documents = _document_fields(fm, c)
    _check_document_fields_fit_kind(documents, kind, c)
    documents.update(_document_information(fm, kind, registry, c))
    documents.update(_emergency_advice(fm, kind, c))
    lead, sections = _sections(body, kind, c)
    _check_placeholders(text, c)
    copy_allow = _list_field(fm, "copy_allow", "应为规则 id 列表",
                             "请写成 [规则id1, 规则id2]（见 content/sensitive.yaml）", c)
    video_points = _video_points(fm, c)
    images, cover = _images(folder, body, fm, c)
    tv_summary = _tv_summary(fm, sections, c)
    release = None
    if kind:  # enough to render; a draft stands in for a broken department or time (see _draft_stand_ins)
        department_, publish_at_ = _draft_stand_ins(fm, department, publish_at, settings, bool(c.problems))
        release = Release(
            **titles, **documents, kind=kind, department=department_, speakers=speakers, experts=experts,
            publish_at=publish_at_, event_at=event_at, channels=channels, keywords=keywords,
            key_figures=key_figures, important=important, press_conference=press_conference, lead=lead,
            sections=sections, copy_allow=copy_allow, images=images, cover=cover, tv_summary=tv_summary,
            video_points=video_points,
            content_hash=_content_hash(raw, images, cover), source=str(folder),
        )
    if c.problems:
        raise ValidationFailed(c.problems, draft=release)
    return release


def _draft_stand_ins(fm: dict, department: Department | None, publish_at: datetime | None, settings: Settings,
                     draft: bool) -> tuple[Department, datetime]:
    """A release with problems is still rendered for its other problems (every problem in one round): an
    unregistered department stands in under the name typed, a missing time as now. Never published."""
    if department is not None and publish_at is not None or not draft:
        return department, publish_at
    typed = str(fm.get("department") or "未填写部门")
    return (department or Department(typed, typed, typed, False),
            publish_at or datetime.now(settings.tz).replace(second=0, microsecond=0))


# -- the file and its front matter ------------------------------------------------------------------------
# A problem here makes the rest unreadable, so each one raises at once instead of collecting more.


def _content_relative_name(path: Path, settings: Settings) -> str:
    """The file as messages name it: relative to the content folder when it lies inside it."""
    try:
        return path.resolve().relative_to(settings.content_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read_release_text(path: Path, c: _Collector) -> tuple[bytes, str]:
    """The file's bytes (what the content hash covers) and its text."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        c.add("", "稿件文件不存在", _missing_release_fix(path.parent))
        raise ValidationFailed(c.problems)
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        hint = "（看起来是 GBK 编码）" if _looks_gbk(raw) else ""
        line = raw[:e.start].count(b"\n") + 1
        c.add("", f"文件不是 UTF-8 编码{hint}，第 {line} 行无法解码",
              "请在编辑器中选择“UTF-8”编码另存")
        raise ValidationFailed(c.problems)
    if "\x00" in text:
        c.add("", "文件含有二进制内容", "请确认这是文本文件，不要把 Word 或图片文件改名为 release.md")
        raise ValidationFailed(c.problems)
    return raw, text


def _missing_release_fix(folder: Path, words: list[Path] | None = None) -> str:
    """How to bring in the folder's content: import its Word file when it holds one."""
    if words is None:
        words = sorted(p for p in folder.iterdir() if p.suffix.lower() in WORD_SUFFIXES and p.is_file())
    if not words:
        return f"每个稿件文件夹都需要一个 {RELEASE_FILE}（可用 pressroom new 生成）"
    word = words[0]
    try:
        shown = word.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        shown = str(word)
    if word.suffix.lower() != ".docx":
        return (f"文件夹中有 Word/WPS 文件“{word.name}”（旧版格式）：请先另存为 .docx，"
                f"再运行 pressroom import {shown[: -len(word.suffix)]}.docx 生成 {RELEASE_FILE}")
    return f"文件夹中有 Word 文件“{word.name}”：请运行 pressroom import {shown} 生成 {RELEASE_FILE}"


def _parse_front_matter(text: str, c: _Collector) -> tuple[dict, str]:
    """The front matter as a mapping, and the Markdown body after it."""
    parts = split_front_matter(text)
    if parts is None:
        c.add("", "缺少前置信息（文件应以 --- 开头，再以 --- 结束前置信息）", "请参照 pressroom new 生成的模板填写")
        raise ValidationFailed(c.problems)
    fm_text, body = parts
    try:
        fm = yamlparse.load(fm_text)
    except yaml.YAMLError as e:
        # +2: the front matter starts on the file's second line, and YAML counts lines from zero
        message, fix = yaml_error(e, fm_text, first_line=2)
        c.add("", f"前置信息 {message}", fix)
        raise ValidationFailed(c.problems)
    if not isinstance(fm, dict):
        c.add("", "前置信息应为“字段: 值”的列表", "请参照 pressroom new 生成的模板填写")
        raise ValidationFailed(c.problems)
    return fm, body


def _check_field_names(fm: dict, c: _Collector) -> None:
    for key in fm:
        if key not in KNOWN_FIELDS:
            near = difflib.get_close_matches(str(key), KNOWN_FIELDS, n=1, cutoff=0.6)
            guess = f"是否想写 {near[0]}？" if near else ""
            c.add(str(key), f"不是可识别的字段{f'（{guess}）' if guess else ''}",
                  (f"请改为 {near[0]}；" if near else "请检查拼写；") + f"可用字段：{'、'.join(sorted(KNOWN_FIELDS))}")


# -- front matter fields ----------------------------------------------------------------------------------


def _title_fields(fm: dict, settings: Settings, c: _Collector) -> dict[str, str]:
    """id, the headline and its companions, digest and venue (``Release`` fields by name)."""
    rid = _text_field(fm, "id", c, required=True)
    if rid and not ID_PATTERN.match(rid):
        c.add("id", f"“{rid}”格式不对", "id 只能用小写英文字母、数字和连字符（2—64 位），如 water-price-2026")
    title = _text_field(fm, "title", c, required=True)
    if title and len(title) > MAX_TITLE:
        c.add("title", f"标题 {len(title)} 字，超过 {MAX_TITLE} 字上限",
              "请精简主题：背景放入引题（kicker），补充说明放入副题（subtitle）")
    fields = {"id": rid, "title": title}
    for key in ("kicker", "subtitle", "wechat_title", "digest"):
        fields[key] = _text_field(fm, key, c)
    fields["venue"] = _text_field(fm, "venue", c) or settings.city.default_venue
    return fields


def _kind(fm: dict, c: _Collector) -> str | None:
    kind = fm.get("kind")
    if isinstance(kind, str) and kind in KIND_LABELS:
        return kind
    kinds = "、".join(f"{k}（{v}）" for k, v in KIND_LABELS.items())
    c.add("kind", f"“{kind}”不是有效的发布类型" if kind else "未填写发布类型", f"请填写其中之一：{kinds}")
    return None


def _department(fm: dict, registry: Registry, c: _Collector) -> Department | None:
    dep_key = fm.get("department")
    if not dep_key:
        c.add("department", "未填写发布部门", "请填写 content/departments.yaml 中的部门简称，如 发改委")
    elif str(dep_key) not in registry.departments:
        c.add("department", f"部门“{dep_key}”不在部门名录中",
              "请使用 content/departments.yaml 中登记的部门简称，或先登记该部门")
    else:
        return registry.departments[str(dep_key)]
    return None


def _speakers(fm: dict, registry: Registry, department: Department | None,
              c: _Collector) -> tuple[Speaker, ...]:
    """The registered spokespeople named, each of the releasing department (谁制定谁解读)."""
    speakers: list[Speaker] = []
    names = _str_list(fm.get("speakers"))
    if names is None:
        c.add("speakers", "应为发言人姓名列表", "请写成 [姓名1, 姓名2]")
    elif not names:
        c.add("speakers", "未指定发言人", "请从 content/spokespeople.yaml 中选择本部门的发言人（部门主要负责人是第一发言人）")
    for name in names or []:
        sp = registry.speakers.get(name)
        if sp is None:
            c.add("speakers", f"“{name}”不在新闻发言人名录中", _registered_speakers(registry, department))
        elif department and sp.department != department.key:
            c.add("speakers", f"“{name}”是{registry.departments[sp.department].short}的发言人，不属于{department.short}",
                  "政策由制定部门解读（谁制定谁解读），请选择本部门的发言人；外部专家请写在 experts 中")
        else:
            speakers.append(sp)
    return tuple(speakers)


def _registered_speakers(registry: Registry, department: Department | None) -> str:
    """The fix for an unknown speaker: the department's registered spokespersons by name."""
    if department is None:
        return "请使用 content/spokespeople.yaml 中登记的发言人，或先登记"
    own = [sp.name for sp in registry.speakers.values() if sp.department == department.key]
    if not own:
        return f"{department.short}在 content/spokespeople.yaml 中没有登记发言人，请先登记"
    return (f"{department.short}登记的发言人：{'、'.join(own)}；请从中选择，新任发言人请先在 "
            "content/spokespeople.yaml 中登记；外部专家请写在 experts 中")


def _experts(fm: dict, c: _Collector) -> tuple[Expert, ...]:
    raw_experts = fm.get("experts") or []
    if not isinstance(raw_experts, list) or not all(isinstance(e, dict) and e.get("name") for e in raw_experts):
        c.add("experts", "格式不对", "请写成列表，每项包含 name 和 title")
        return ()
    return tuple(Expert(str(e["name"]), str(e.get("title", ""))) for e in raw_experts)


def _times(fm: dict, kind: str | None, settings: Settings,
           c: _Collector) -> tuple[datetime | None, datetime | None]:
    """publish_at, and event_at where given or where the kind's deadlines run from it."""
    publish_at = _parse_time(fm.get("publish_at"), settings.tz)
    if isinstance(publish_at, str):
        c.add("publish_at", f"发布时间{publish_at}", "请写成“2026-11-20 10:00”（按北京时间）或带时区“2026-11-20T10:00+08:00”")
        publish_at = None
    event_at = None
    if "event_at" in fm or kind in ("emergency", "opinion"):
        event_at = _parse_time(fm.get("event_at"), settings.tz)
        if isinstance(event_at, str):
            c.add("event_at", f"事件发生时间{event_at}", "突发事件和政务舆情须填写事件发生时间，用于5小时/24小时/48小时时限")
            event_at = None
    return publish_at, event_at


def _channels(fm: dict, configured: tuple[str, ...], c: _Collector) -> tuple[str, ...]:
    """The configured channels named; every configured channel when none (valid) is named."""
    channels = _str_list(fm.get("channels"))
    if channels is None:
        c.add("channels", "应为渠道列表", f"请写成 [{', '.join(configured)}] 中的若干项")
        channels = []
    for ch in channels:
        if ch not in configured:
            c.add("channels", f"“{ch}”不是已配置的发布渠道", f"可用渠道：{'、'.join(configured)}")
    return tuple([ch for ch in channels if ch in configured] or configured)


def _list_field(fm: dict, key: str, message: str, fix: str, c: _Collector) -> tuple[str, ...]:
    """A list of names (a single name counts as a list of one); empty, with a problem, when malformed."""
    values = _str_list(fm.get(key))
    if values is None:
        c.add(key, message, fix)
        return ()
    return tuple(values)


def _video_points(fm: dict, c: _Collector) -> tuple[str, ...]:
    """The editor's points for the micro-video (optional): two to four short sentences of the release."""
    raw = fm.get("video_points")
    if raw is None:
        return ()
    points = _str_list(raw)
    lo, hi = VIDEO_POINTS
    if points is None or not all(p.strip() for p in points):
        c.add("video_points", "应为要点列表（每项一句话）", "请写成 [要点一, 要点二]，每项不为空")
        return ()
    if not lo <= len(points) <= hi:
        c.add("video_points", f"共 {len(points)} 项，微视频展示 {lo}～{hi} 个要点", f"请保留 {lo}～{hi} 项")
        return ()
    return tuple(p.strip() for p in points)


def _key_figures(fm: dict, c: _Collector) -> tuple[KeyFigure, ...]:
    raw_figures = fm.get("key_figures") or []
    if not isinstance(raw_figures, list):
        c.add("key_figures", "应为列表", "每项写成 {label: 说明, value: 数值, unit: 单位}")
        return ()
    figures: list[KeyFigure] = []
    for i, f in enumerate(raw_figures, 1):
        if not isinstance(f, dict) or f.get("label") in (None, "") or f.get("value") in (None, ""):
            c.add("key_figures", f"第 {i} 项缺少 label 或 value", "每项写成 {label: 说明, value: 数值, unit: 单位}")
            continue
        figures.append(KeyFigure(str(f["label"]), str(f["value"]), str(f.get("unit") or "")))
    return tuple(figures)


_TV_SUMMARY_FIX = "写成“小节标题: 电视版摘要”，例如 tv_summary: {主要内容: 三类人员首次就业每月补贴500元至800元。}"


def _tv_summary(fm: dict, sections: tuple[Section, ...], c: _Collector) -> tuple[tuple[str, str], ...]:
    """``tv_summary``: per section, the editor's shorter text the TV script reads when it must be shortened
    to fit its slot. Only a section that is read (not 不涉及) can have one, and it must be shorter."""
    raw = fm.get("tv_summary")
    if raw in (None, "", {}):
        return ()
    if not isinstance(raw, dict):
        c.add("tv_summary", "应为“小节标题: 电视版摘要”的对应表", _TV_SUMMARY_FIX)
        return ()
    read = {s.heading: s for s in sections if not s.not_applicable}
    out = []
    for heading, value in raw.items():
        heading = str(heading).strip()
        if heading not in read:
            c.add(f"tv_summary.{heading}", "不是本稿中需要播读的小节标题",
                  f"可用的小节：{'、'.join(read) or '（无）'}；标题须与正文“## ”小标题完全一致")
            continue
        if not isinstance(value, str) or not value.strip():
            c.add(f"tv_summary.{heading}", "应为一段文字", _TV_SUMMARY_FIX)
            continue
        text = value.strip()
        if INVISIBLE.search(text) or CONTROL.search(text):
            c.add(f"tv_summary.{heading}", "含有不可见字符（零宽字符、双向控制符或控制字符）", "请删除后重新输入")
            continue
        if len(re.sub(r"\s", "", text)) >= len(re.sub(r"\s", "", read[heading].body)):
            c.add(f"tv_summary.{heading}", "不比原小节短：电视版摘要用于压缩时长，只能删减、不能扩写",
                  "请只保留原小节中最重要的句子和数字")
            continue
        out.append((heading, text))
    return tuple(out)


def _flag(fm: dict, key: str, fix: str, c: _Collector) -> bool:
    value = fm.get(key, False)
    if not isinstance(value, bool):
        c.add(key, "应为 true 或 false", fix)
        return False
    return value


def _document_fields(fm: dict, c: _Collector) -> dict[str, Any]:
    """The links between documents, interpretations and follow-ups (``Release`` fields by name)."""
    fields: dict[str, Any] = {key: _text_field(fm, key, c)
                              for key in ("interprets", "document_number", "follow_up_of")}
    fields["issuer"] = _list_field(fm, "issuer", "应为发文机关列表", "请写成 [机关1, 机关2]", c)
    return fields


def _emergency_advice(fm: dict, kind: str | None, c: _Collector) -> dict[str, Any]:
    """安全提示 and hotlines (``safety``, ``hotlines``): emergencies only."""
    if kind != "emergency":
        for key in ("safety", "hotlines"):
            if key in fm:
                c.add(key, "只有突发事件（kind: emergency）才有此项", "请删除该字段或把 kind 改为 emergency")
        return {}
    safety = _list_field(fm, "safety", "应为安全提示列表", "请写成 [提示1, 提示2]，每条一句", c)
    raw = fm.get("hotlines") or []
    hotlines: list[Hotline] = []
    if not isinstance(raw, list):
        raw = [raw]
    for i, h in enumerate(raw, 1):
        number = str(h.get("number", "")).strip() if isinstance(h, dict) else ""
        if not isinstance(h, dict) or not h.get("name") or not HOTLINE_NUMBER.match(number):
            c.add("hotlines", f"第 {i} 项格式不对（须有 name 和只含数字、连字符的 number）",
                  '每项写成 {name: 报警求助, number: "110"}')
            continue
        hotlines.append(Hotline(str(h["name"]).strip(), number))
    return {"safety": safety, "hotlines": tuple(hotlines)}


def _document_information(fm: dict, kind: str | None, registry: Registry, c: _Collector) -> dict[str, Any]:
    """索引号, 主题分类, 成文日期, 有效性 and the documents this one supersedes: policy documents only."""
    present = [k for k in DOCUMENT_ONLY if k in fm]
    if kind != "policy-document":
        for key in present:
            c.add(key, "只有政策文件（kind: policy-document）才有此项", "请删除该字段或把 kind 改为 policy-document")
        return {}
    written = fm.get("written_on")
    if isinstance(written, (date, datetime)):  # YAML reads 2017-09-01 as a date
        fm = {**fm, "written_on": str(written)}
    out: dict[str, Any] = {key: _text_field(fm, key, c) for key in ("index_number", "topic", "written_on")}
    out["status"] = _text_field(fm, "status", c) or "effective"
    out["supersedes"] = _list_field(fm, "supersedes", "应为被替代文件的 id 列表", "请写成 [旧文件id]", c)
    if out["status"] not in DOCUMENT_STATUS:
        c.add("status", f"有效性“{out['status']}”不是已知的取值",
              "可用：" + "、".join(f"{k}（{v}）" for k, v in DOCUMENT_STATUS.items()))
        out["status"] = "effective"
    if out["topic"] and registry.topics and out["topic"] not in registry.topics:
        c.add("topic", f"主题分类“{out['topic']}”不在 content/topics.yaml 中", "可用：" + "、".join(registry.topics))
    if out["written_on"] and not WRITTEN_ON.match(out["written_on"]):
        c.add("written_on", f"成文日期“{out['written_on']}”格式不对", "请用阿拉伯数字写成“2017年9月1日”（GB/T 9704）")
    return out


def _check_document_fields_fit_kind(documents: dict[str, Any], kind: str | None, c: _Collector) -> None:
    if kind == "policy-document" and not documents["document_number"]:
        c.add("document_number", "政策文件缺少发文字号", "请填写如“淮宣〔2017〕78号”")
    if documents["interprets"] and kind != "policy":
        c.add("interprets", "只有政策解读（kind: policy）才能关联政策文件", "请删除该字段或把 kind 改为 policy")
    if documents["follow_up_of"] and kind not in ("emergency", "opinion"):
        c.add("follow_up_of", "只有突发事件和政务舆情的后续发布才能关联首发稿件", "请删除该字段或检查 kind")


# -- the body ---------------------------------------------------------------------------------------------


def _sections(body: str, kind: str | None, c: _Collector) -> tuple[str, tuple[Section, ...]]:
    """The lead and the "##" sections, checked for the kind's required elements (R1)."""
    lead, raw_sections = split_sections(body)
    sections: list[Section] = []
    seen: set[str] = set()
    for heading, text in raw_sections:
        if heading in seen:
            c.add(f"## {heading}", "小节标题重复", "请合并这两个小节")
        seen.add(heading)
        sections.append(Section(heading, text, text.startswith(NOT_APPLICABLE), _element(heading, kind)))
    if kind:
        for required in REQUIRED_SECTIONS[kind]:
            sec = next((s for s in sections if s.element == required), None)
            if sec is None:
                c.add(f"## {required}", f"{KIND_LABELS[kind]}缺少必备要素“{required}”",
                      f"请增加小节“## {required}”；确实不涉及的，正文写“{NOT_APPLICABLE}”并说明理由")
            elif not sec.body:
                c.add(f"## {required}", f"小节“{required}”没有内容", f"请补写内容，或写明“{NOT_APPLICABLE}”")
    if not body.strip():
        c.add("正文", "正文为空", "请在前置信息后撰写导语和正文")
    return DATELINE.sub("", lead, count=1), tuple(sections)


def _element(heading: str, kind: str | None) -> str:
    """The kind's required element a heading stands for, numbered or punctuated as editors type it
    (“一、背景依据”, “（一）背景依据”, “目标任务：”), or ""."""
    name = normalise_heading(heading)
    return name if kind and name in REQUIRED_SECTIONS[kind] else ""


def _check_placeholders(text: str, c: _Collector) -> None:
    # The whole file, front matter included: the template puts placeholders in both.
    for lineno, line in enumerate(text.splitlines(), 1):
        if PLACEHOLDER in line:
            c.add(f"第{lineno}行", f"仍有未填写的占位符“{PLACEHOLDER}”", "请写入实际内容，或删除该行")


def _images(folder: Path, body: str, fm: dict, c: _Collector) -> tuple[tuple[Image, ...], Image | None]:
    """The body's images in order, and the cover."""
    images: list[Image] = []
    for m in IMAGE_REF.finditer(body):
        path = unquote((m.group(2) or m.group(3)).strip())
        img = _load_image(folder, path, f"正文图片 {path}", c, caption=m.group(1).strip())
        if img:
            images.append(img)
    cover = _load_image(folder, str(fm["cover"]), "cover", c) if fm.get("cover") else None
    return tuple(images), cover


def _content_hash(raw: bytes, images: tuple[Image, ...], cover: Image | None) -> str:
    """sha256 of the file and every image it uses (each once, in path order): what was reviewed is what is sent."""
    digest = hashlib.sha256(raw)
    for img in sorted(set(images) | ({cover} if cover else set()), key=lambda i: i.path):
        digest.update(img.path.encode())
        digest.update(hashlib.sha256(img.data).digest())
    return digest.hexdigest()


def _looks_gbk(raw: bytes) -> bool:
    try:
        raw.decode("gbk")
        return True
    except UnicodeDecodeError:
        return False


# ---------------------------------------------------------------------------------------------
# The whole content tree


def release_folders(content_dir: Path) -> list[Path]:
    root = content_dir / "releases"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def headline(settings: Settings, rid: str) -> str:
    """The title in the front matter of release ``rid``'s folder, without disguising characters, or "" when
    it cannot be read: a label (a flow run's name) that costs a file read, not a validation."""
    try:
        text = (settings.content_dir / "releases" / rid / RELEASE_FILE).read_text(encoding="utf-8-sig")
        fm = yamlparse.load(split_front_matter(text)[0])
        title = fm.get("title")
    except (OSError, UnicodeDecodeError, TypeError, AttributeError, yaml.YAMLError):
        return ""
    return CONTROL.sub("", INVISIBLE.sub("", str(title))).strip() if isinstance(title, str) else ""


WORD_SUFFIXES = (".docx", ".doc", ".wps")


def loose_word_files(content_dir: Path) -> dict[str, list[Problem]]:
    """Word files dropped straight into releases/, outside any release folder: each a problem saying how to
    bring it in, so that it is noticed."""
    root = content_dir / "releases"
    words = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in WORD_SUFFIXES) if root.is_dir() else []
    return {w.name: [Problem(f"releases/{w.name}", "", "Word 文件还不是稿件", _missing_release_fix(root, [w]))]
            for w in words}


def check_links(releases: dict[str, Release], settings: Settings,
                failed: dict[str, list[tuple[str, str]]] | None = None) -> dict[str, list[Problem]]:
    """Rules across releases: unique ids, document <-> interpretation (三同步), follow-ups. ``failed``:
    document id -> (id, file) of each interpretation of it that did not load, so the document is told that
    its interpretation is broken (not that it has none, which would have an editor write a second one)."""
    problems: dict[str, list[Problem]] = {}
    failed = failed or {}

    def add(r: Release, field: str, message: str, fix: str) -> None:
        problems.setdefault(r.id, []).append(Problem(_content_relative_name(Path(r.source, RELEASE_FILE), settings),
                                                     field, message, fix))

    interpreted = {r.interprets for r in releases.values() if r.interprets}
    for r in releases.values():
        if r.interprets:
            doc = releases.get(r.interprets)
            if doc is None or doc.kind != "policy-document":
                add(r, "interprets", f"找不到被解读的政策文件“{r.interprets}”",
                    "请填写同一内容库中 kind 为 policy-document 的稿件 id")
        if r.kind == "policy-document" and r.id not in interpreted:
            if r.id in failed:
                shown = "、".join(f"{rid or '（id 未能读出）'}（{file}）" for rid, file in failed[r.id])
                add(r, "id", f"该政策文件的解读稿 {shown}未通过校验",
                    "请按该解读稿文件列出的问题修改它，修正后两篇一同发布；不要另建解读稿")
            else:
                add(r, "id", "该政策文件没有对应的政策解读",
                    "文件公布时解读材料须同步发布：请新建 kind: policy 的解读稿，并写 interprets: " + r.id)
        for old in r.supersedes:
            doc = releases.get(old)
            if doc is None or doc.kind != "policy-document" or old == r.id:
                add(r, "supersedes", f"找不到被替代的政策文件“{old}”",
                    "请填写同一内容库中另一篇 kind 为 policy-document 的稿件 id")
            elif doc.status == "effective":
                add(r, "supersedes", f"被替代的文件“{old}”的有效性仍为有效",
                    f"请在 {old} 中写 status: superseded，并用 pressroom correct {old} 更正已发布的页面（须审核人验证码）")
        if r.follow_up_of:
            first = releases.get(r.follow_up_of)
            if first is None or first.kind != r.kind:
                add(r, "follow_up_of", f"找不到首发稿件“{r.follow_up_of}”",
                    "请填写同一事件首次发布稿件的 id（类型须相同）")
    return problems


_CLAIM = re.compile(r"^(id|interprets)[ \t]*:[ \t]*[\"']?([A-Za-z0-9-]+)", re.M)


def _claims(folder: Path, draft: Release | None) -> tuple[str, str]:
    """(id, interprets) of a release that failed to load: from what could be read of it, else from the
    lines of its file (its YAML may be too broken to parse)."""
    if draft is not None:
        return draft.id, draft.interprets
    try:
        text = (folder / RELEASE_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "", ""
    found = dict((k, v) for k, v in reversed(_CLAIM.findall(text)))
    return found.get("id", ""), found.get("interprets", "")


def load_all(settings: Settings, registry: Registry | None = None, drafts: dict[str, Release] | None = None,
             configured: tuple[str, ...] | None = None):
    """Load every release; returns (releases by id, problems by folder name). ``drafts`` (when given) is
    filled with the releases that failed but could still be read well enough to render, by folder name.
    ``configured``: the settings' channels, when the caller has them (else ``channels.configured``)."""
    registry = registry or load_registry(settings.content_dir)
    releases: dict[str, Release] = {}
    problems: dict[str, list[Problem]] = loose_word_files(settings.content_dir)
    drafts = {} if drafts is None else drafts
    failed: dict[str, list[tuple[str, str]]] = {}  # document id -> its interpretations that failed
    doubled: dict[str, Release] = {}  # an id two folders use: neither is published (which one is meant?)
    for folder in release_folders(settings.content_dir):
        try:
            r = load_release(folder, registry, settings, configured)
        except ValidationFailed as e:
            problems[folder.name] = e.problems
            if e.draft is not None:
                drafts[folder.name] = e.draft
            rid, doc = _claims(folder, e.draft)
            if doc:
                failed.setdefault(doc, []).append((rid, f"releases/{folder.name}/{RELEASE_FILE}"))
            continue
        if r.id in releases or r.id in doubled:
            first = releases.pop(r.id, None) or doubled[r.id]
            doubled[r.id] = first
            drafts[folder.name], drafts[Path(first.source).name] = r, first
            for one, other in ((folder.name, Path(first.source).name), (Path(first.source).name, folder.name)):
                problems.setdefault(one, []).append(Problem(
                    f"releases/{one}/{RELEASE_FILE}", "id", f"id“{r.id}”与 {other} 重复",
                    "每篇稿件的 id 必须唯一：两篇都不会发布，请把其中一篇改用新的 id"))
            continue
        releases[r.id] = r
    for rid, ps in check_links(releases, settings, failed).items():
        problems.setdefault(Path(releases[rid].source).name, []).extend(ps)
    return releases, problems
