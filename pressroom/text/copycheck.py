"""The copy gate's checks: 错敏 (wrong or outdated formulations) and the GB/T 15834 / GB/T 15835 rules a
machine can check.

``check_copy`` reads a whole ``release.md`` (YAML front matter + Markdown) or any plain text (a rendered
newspaper copy, a TV script) and returns ``Issue``s with 1-based line numbers of the text it was given.

* 错敏 rules come from ``content/sensitive.yaml`` and are **blocking** unless the release lists the rule's
  id in ``copy_allow`` (a historical document may quote a department's old name).
* Punctuation and number rules are **warnings**: they are advice to the editor, never a reason to hold a
  release, and each is written to stay quiet on text it cannot judge (URLs, link targets, image paths,
  inline code, times like 10:00, decimals like 3.5, lines without any Chinese character).

A 错敏 pattern is matched within one line: Chinese paragraphs are one line each in our Markdown, and a
name broken across a soft line break would be a rare miss, not a false alarm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import yaml

from pressroom.errors import Problem, ValidationFailed
from pressroom.text import yamlparse

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
HAN_CHAR = re.compile(f"[{HAN}]")
MASK = "\x00"  # what masked spans become: neither Chinese, nor punctuation, nor space

# Text that is not copy: replaced by MASK before the punctuation rules look at a line.
_URL = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.|mailto:)[^\s<>\"'“”‘’（）《》【】，。；：！？、\u3000"
                  f"{HAN}]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII)
_LINK_TARGET = re.compile(r"\]\([^)\n]*\)")  # the "](target "title")" of a Markdown link or image
_LINK_OPEN = re.compile(r"!?\[(?=[^\]\n]*\]\()")  # the "[" or "![" that opens it (alt text stays: it is copy)
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+.*$")  # [id]: https://…
_AUTOLINK = re.compile(r"<[a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*>")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>\n]*>|<!--.*?-->")
_INLINE_CODE = re.compile(r"(`+)[^`\n].*?\1")
_FENCE = re.compile(r"^\s*(```|~~~)")

# Front matter keys whose values are prose an editor wrote (punctuation is checked there too);
# 错敏 rules run on every value (a wrong name in a title is the worst place for it).
PROSE_KEYS = {"title", "kicker", "subtitle", "wechat_title", "digest", "venue", "label", "title_zh"}
_FM_LINE = re.compile(r"^(\s*)(-\s+)?(?:([A-Za-z_][A-Za-z0-9_-]*)\s*:(?:\s+|$))?(.*)$")

# Datelines where a space before the text is the house style (本报讯 2月17日下午，…).
_DATELINE = re.compile(r"^\s*(本报讯|本台消息)[ \u3000]")
# An article heading (第一条 目的和依据, 第二章　总则): the space after the number is the standard form of
# legal and normative documents, not a space between characters.
_ARTICLE = re.compile(r"^\s*(?:#{1,6}\s*)?(?:[*_]{1,2})?(第[一二三四五六七八九十百千零〇\d]+[编章节条款部分])")


@dataclass(frozen=True)
class Pattern:
    """One 错敏 rule of content/sensitive.yaml."""

    id: str
    regex: re.Pattern
    correct: str
    note: str
    source: str  # the pattern as written
    is_regex: bool = False

    def correct_for(self, m: re.Match) -> str:
        """The right form for one hit: a regex rule's ``correct`` may insert groups (\\1)."""
        return m.expand(self.correct) if self.is_regex else self.correct


@dataclass(frozen=True)
class Issue:
    line: int  # 1-based, in the text given to check_copy
    message: str  # Chinese: what was found and the correct form
    blocking: bool
    rule: str  # a sensitive.yaml id, or a GB/T rule name


# ---------------------------------------------------------------------------------------------
# Loading the 错敏 rules

RULE_FIELDS = {"id", "pattern", "regex", "correct", "note"}


def load_sensitive_patterns(path: str | Path) -> list[Pattern]:
    """Read content/sensitive.yaml: a list of {id, pattern, regex?, correct, note}. Every broken rule is
    reported at once (``ValidationFailed``), naming the file, the rule's position and the field."""
    path = Path(path)
    rel = path.name
    data = _read_rules(path, rel)
    problems: list[Problem] = []
    patterns: list[Pattern] = []
    seen: set[str] = set()
    for i, item in enumerate(data, 1):
        pattern = _parse_rule(item, f"第{i}条规则", rel, seen, problems)
        if pattern is not None:
            patterns.append(pattern)
    if problems:
        raise ValidationFailed(problems)
    return patterns


def _read_rules(path: Path, rel: str) -> list:
    """The file's list of rules ([] for an empty file). A file that is not a readable list fails at once:
    there are no rules to check one by one."""
    try:
        data = yamlparse.load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValidationFailed([Problem(rel, "", "文件不是 UTF-8 编码", "请用 UTF-8 编码另存该文件")])
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"第{mark.line + 1}行" if mark else "未知位置"
        raise ValidationFailed([Problem(rel, "", f"YAML 格式错误（{where}）", "请检查缩进、冒号后的空格和引号是否成对")])
    if data is None:
        return []
    if not isinstance(data, list):
        raise ValidationFailed([Problem(rel, "", "错敏规则应为列表（每条以“- id: …”开头）",
                                        "请参照文件开头的说明，把每条规则写成列表的一项")])
    return data


def _parse_rule(item, where: str, rel: str, seen: set[str], problems: list[Problem]) -> Pattern | None:
    """One rule as a ``Pattern``, or None with its problems added; ``seen`` holds the ids read so far."""

    def bad(field: str, message: str, fix: str) -> None:
        problems.append(Problem(rel, f"{where}.{field}" if field else where, message, fix))

    if not isinstance(item, dict):
        bad("", "不是“字段: 值”的映射", "每条规则须包含 id、pattern、correct、note")
        return None
    for key in item:
        if key not in RULE_FIELDS:
            bad(str(key), "不是可识别的字段", f"可用字段：{'、'.join(sorted(RULE_FIELDS))}；请检查拼写")
    values = {}
    for key in ("id", "pattern", "correct", "note"):
        v = item.get(key)
        if not isinstance(v, str) or not v.strip():
            bad(key, "未填写或不是文字", f"请填写 {key}")
        else:
            values[key] = v.strip()
    is_regex = item.get("regex", False)
    if not isinstance(is_regex, bool):
        bad("regex", "应为 true 或 false", "按正则表达式匹配填 true，按原文匹配可省略")
        is_regex = False
    rid = values.get("id")
    if rid:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", rid):
            bad("id", f"“{rid}”格式不对", "id 只能用小写英文字母、数字和连字符，如 old-health-commission")
        if rid in seen:
            bad("id", f"“{rid}”与前面的规则重复", "每条规则的 id 须唯一（稿件的 copy_allow 按 id 放行）")
        seen.add(rid)
    compiled = _compile_rule(values, is_regex, bad)
    if compiled is not None and len(values) == 4 and not _problems_for(problems, where):
        return Pattern(values["id"], compiled, values["correct"], values["note"], values["pattern"], is_regex)
    return None


def _compile_rule(values: dict[str, str], is_regex: bool,
                  bad: Callable[[str, str, str], None]) -> re.Pattern | None:
    """The rule's pattern compiled, or None (with a problem when it is broken): it must not match the empty
    string, and ``correct`` may refer only to groups it has."""
    source = values.get("pattern")
    compiled = None
    if source:
        try:
            compiled = re.compile(source if is_regex else re.escape(source))
        except re.error as e:
            bad("pattern", f"正则表达式有误（{e}）", "请修正表达式；只需按原文匹配的，删除 regex: true")
        else:
            if compiled.search(""):
                bad("pattern", "能匹配空字符串，会命中每一行", "请修正表达式")
                compiled = None
    refs = [int(n) for n in re.findall(r"\\(\d+)", values.get("correct", ""))] if is_regex else []
    if compiled is not None and refs and max(refs) > compiled.groups:
        bad("correct", f"引用了第{max(refs)}组，但 pattern 只有{compiled.groups}组括号", "请核对 correct 中的 \\1、\\2")
        compiled = None
    return compiled


def _problems_for(problems: list[Problem], where: str) -> bool:
    return any(p.field == where or p.field.startswith(where + ".") for p in problems)


# ---------------------------------------------------------------------------------------------
# Splitting a release.md into the lines that are copy


def _mask(m: re.Match) -> str:
    return MASK * len(m.group(0))


def visible(line: str) -> str:
    """The line with what readers never see as text masked (URLs, link targets, image paths, tags),
    same length so positions stay those of the source."""
    if _REF_DEF.match(line):
        return MASK * len(line)
    for rx in (_HTML_TAG, _AUTOLINK, _LINK_OPEN, _LINK_TARGET, _URL, _EMAIL):
        line = rx.sub(_mask, line)
    return line


def _copy_lines(text: str) -> Iterable[tuple[int, str, bool]]:
    """(line number, visible text, check punctuation?) for every line of copy in the text.

    Front matter: only the values (keys and YAML syntax are not copy); punctuation only for prose keys.
    Body: everything, except that fenced code blocks and inline code are not checked for punctuation."""
    # Not splitlines(): it also breaks at \x0b, \x1c or \u2028 (Word pastes them), and the line numbers
    # must be the ones an editor's text editor shows.
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            key = ""
            for i in range(1, end):
                m = _FM_LINE.match(lines[i])
                indent, dash, k, value = m.groups()
                if k:
                    key = k
                elif not dash and not indent:
                    key = ""
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                    value = value[1:-1]
                if value.startswith("#") or value in ("|", ">", "|-", ">-"):
                    continue
                yield i + 1, visible(value), key in PROSE_KEYS
            start = end + 1
    in_fence = False
    for i in range(start, len(lines)):
        line = lines[i]
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        shown = visible(line)
        if in_fence:
            yield i + 1, shown, False
        else:
            yield i + 1, _INLINE_CODE.sub(_mask, shown), True


# ---------------------------------------------------------------------------------------------
# The checks


def _excerpt(line: str, start: int, end: int, width: int = 6) -> str:
    a, b = max(0, start - width), min(len(line), end + width)
    return line[a:b].replace(MASK, "").strip()


def _sensitive(lineno: int, line: str, patterns: list[Pattern], allow: set[str]) -> list[Issue]:
    issues = []
    for p in patterns:
        for m in p.regex.finditer(line):
            if not m.group(0).strip(MASK):
                continue
            if p.id in allow:
                continue  # the release said so (copy_allow): e.g. a historical document's old names
            issues.append(Issue(lineno, f"“{m.group(0)}”应为“{p.correct_for(m)}”（{p.note}）", True, p.id))
    return issues


H = f"[{HAN}]"
FULL_WIDTH = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）", ".": "。"}
# A half-width mark touching a Chinese character. A period only when it ends a Chinese clause (not a
# decimal point, a domain or "No.1"); an opening parenthesis only towards its content, a closing one
# only after Chinese content or before Chinese text.
_HALF = re.compile(
    f"(?<={H})[,;:?!]|[,;:?!](?={H})"
    f"|(?<={H})\\.(?![\\d.A-Za-z])|(?<={H})\\(|\\((?={H})|(?<={H})\\)|\\)(?={H})"
)
# Not ‘’: ’ doubles as the apostrophe of English words quoted in Chinese text.
_OPEN = {"“": "”", "《": "》", "（": "）", "【": "】", "〔": "〕", "「": "」", "『": "』"}
_CLOSE = {v: k for k, v in _OPEN.items()}
PAIR_NAMES = {"“": "前引号", "”": "后引号", "《": "前书名号", "》": "后书名号", "（": "前括号", "）": "后括号",
              "【": "前方头括号", "】": "后方头括号", "〔": "前六角括号", "〕": "后六角括号", "「": "前直角引号",
              "」": "后直角引号", "『": "前双直角引号", "』": "后双直角引号"}
# "……" is two "…"; an even run ("…………" for omitted paragraphs) is fine, an odd one is not.
_ELLIPSIS = re.compile(r"\.{3,}|。{3,}|·{3,}|…+")
# A single "—" is left alone: GB/T 15834 uses it as the connector of ranges (1—2名, 北京—上海).
_DASH = re.compile(f"(?<={H})(?:-{{2,}}|－+|—{{3,}})|(?:-{{2,}}|－+|—{{3,}})(?={H})")
_SPACE = re.compile(f"(?<={H})[ \\t\\u3000]+(?={H})")
_DUNHAO = re.compile(r"》、《|”、“")
_SHORT_YEAR = re.compile(r"(?<![\d.'’])['’]?(\d{2})年(?=\d{1,2}月|[初底末])")
_BARE_DECIMAL = re.compile(f"(?:(?<={H})|(?<=[\\s（(：:，、]))\\.\\d+")


def _pairs(line: str) -> list[tuple[int, str]]:
    """Positions of brackets and quotes that have no partner on the same line (nesting respected)."""
    stack: list[tuple[int, str]] = []
    bad: list[tuple[int, str]] = []
    for i, ch in enumerate(line):
        if ch in _OPEN:
            stack.append((i, ch))
        elif ch in _CLOSE:
            if stack and stack[-1][1] == _CLOSE[ch]:
                stack.pop()
            elif any(o == _CLOSE[ch] for _, o in stack):
                # Closes an outer mark: the inner ones opened since then are unpaired.
                while stack[-1][1] != _CLOSE[ch]:
                    bad.append(stack.pop())
                stack.pop()
            else:
                bad.append((i, ch))
    return sorted(bad + stack)


def _punctuation(lineno: int, line: str) -> list[Issue]:
    if not HAN_CHAR.search(line):
        return []  # a Latin-only line follows Latin rules
    issues: list[Issue] = []

    def add(rule: str, message: str) -> None:
        issues.append(Issue(lineno, message, False, rule))

    found = list(_HALF.finditer(line))
    if found:
        marks = "".join(dict.fromkeys(m.group(0) for m in found))
        fixes = "、".join(f"“{c}”→“{FULL_WIDTH[c]}”" for c in marks)
        add("GB/T 15834 全角标点",
            f"中文中使用了半角标点（{fixes}），应使用全角标点：“{_excerpt(line, found[0].start(), found[0].end())}”")
    unpaired = _pairs(line)
    if unpaired:
        names = "、".join(dict.fromkeys(PAIR_NAMES[c] for _, c in unpaired))
        pos = unpaired[0][0]
        add("GB/T 15834 标点成对",
            f"引号或括号不成对（{names}）：“{_excerpt(line, pos, pos + 1)}”，请补全或删除")
    for m in _ELLIPSIS.finditer(line):
        if m.group(0).startswith("…") and len(m.group(0)) % 2 == 0:
            continue
        if m.group(0).startswith(".") and not (HAN_CHAR.search(line[max(0, m.start() - 1):m.start()])
                                               or HAN_CHAR.search(line[m.end():m.end() + 1])):
            continue  # "..." inside Latin text or after a digit is not a Chinese ellipsis
        add("GB/T 15834 省略号", f"省略号“{m.group(0)}”应为“……”（两个“…”，占两字位置）："
                                f"“{_excerpt(line, m.start(), m.end())}”")
    for m in _DASH.finditer(line):
        add("GB/T 15834 破折号", f"“{m.group(0)}”不是规范的破折号：破折号应为“——”（两个“—”），"
                                f"表示起止用“—”或“～”：“{_excerpt(line, m.start(), m.end())}”")
    starts = {m.end(1) for m in (_DATELINE.match(line), _ARTICLE.match(line)) if m}
    for m in _SPACE.finditer(line):
        if m.start() in starts:
            continue
        add("GB/T 15834 汉字间空格", f"汉字之间有空格：“{_excerpt(line, m.start(), m.end())}”，请删除空格")
    for m in _DUNHAO.finditer(line):
        add("GB/T 15834 并列书名号引号不用顿号",
            f"并列的书名号或引号之间不用顿号，请删去“{m.group(0)}”中的“、”：“{_excerpt(line, m.start(), m.end())}”")
    for m in _SHORT_YEAR.finditer(line):
        add("GB/T 15835 年份不简写", f"年份“{m.group(0)}”不应简写，应写全，如“20{m.group(1)}年”")
    for m in _BARE_DECIMAL.finditer(line):
        add("GB/T 15835 小数点前补0", f"小数“{m.group(0)}”缺少整数部分的0，应为“0{m.group(0)}”")
    return issues


def check_copy(text: str, patterns: list[Pattern], allow: set[str] | frozenset[str] = frozenset()) -> list[Issue]:
    """Every 错敏 hit (blocking unless allowed) and punctuation warning of the text, in line order."""
    issues: list[Issue] = []
    for lineno, line, punctuation in _copy_lines(text):
        issues.extend(_sensitive(lineno, line, patterns, set(allow)))
        if punctuation:
            issues.extend(_punctuation(lineno, line))
    return issues
