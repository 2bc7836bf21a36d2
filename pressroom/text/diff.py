"""What changed between two versions of a text, for people: the automatic 更正说明 and the desks' diff.

Chinese has no words, so differences are found line by line, then character by character within changed
lines (difflib), and widened to the clause (between punctuation) so a change reads as a phrase.
"""

from __future__ import annotations

from difflib import SequenceMatcher

MAX_ITEMS = 3  # changes named in an automatic 更正说明; the rest are counted
_CLAUSE_END = "。！？；，：\n"
_MAX_CLAUSE = 60


def _quote(s: str) -> str:
    """A span quoted inside “”: its own double quotes become single ones (GB/T 15834 nesting)."""
    return s.replace("“", "‘").replace("”", "’").replace("\n", " ")


def _clause(text: str, i: int, j: int) -> tuple[int, int]:
    """Widen [i, j) to the clause around it (between punctuation), at most about ``_MAX_CLAUSE``."""
    s = i
    while s > 0 and text[s - 1] not in _CLAUSE_END:
        s -= 1
    e = j
    while e < len(text) and text[e] not in _CLAUSE_END:
        e += 1
    if e - s > _MAX_CLAUSE:
        s, e = max(s, i - 12), min(e, j + 12)
    return s, e


def changes(old: str, new: str) -> list[tuple[str, str]]:
    """What changed, clause by clause: (old clause, new clause); an empty side is an addition or a deletion.
    Lines are matched first, then characters within changed lines (difflib; CJK text has no words)."""
    out: list[tuple[str, str]] = []
    a_lines, b_lines = old.split("\n"), new.split("\n")
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a_lines, b_lines, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        a, b = "\n".join(a_lines[i1:i2]), "\n".join(b_lines[j1:j2])
        if tag != "replace":
            out += [(x, "") for x in a_lines[i1:i2]] + [("", x) for x in b_lines[j1:j2]]
            continue
        clauses: list[list[int]] = []  # [a start, a end, b start, b end]: each change widened to its clause
        for i1, i2, j1, j2 in _spans(a, b):
            s, e = _clause(a, i1, i2)
            bs, be = _clause(b, j1, j2)
            if clauses and s <= clauses[-1][1]:
                clauses[-1][1], clauses[-1][3] = max(clauses[-1][1], e), max(clauses[-1][3], be)
            else:
                clauses.append([s, e, bs, be])
        out += [(a[s:e].strip(_CLAUSE_END + " "), b[bs:be].strip(_CLAUSE_END + " ")) for s, e, bs, be in clauses]
    return [(o, n) for o, n in out if (o or n) and o != n]


def summary(old: str | None, new: str) -> str:
    """The automatic 更正说明: the changed wording, quoted. An editor's own note replaces it."""
    if old is None:
        return "本文部分内容有误，现已更正。"
    items = changes(old, new)
    if not items:
        return "本文个别文字有误，现已更正。"
    if len(items) == 1 and items[0][0] and items[0][1]:
        o, n = items[0]
        return f"本文原稿中“{_quote(o)}”有误，现更正为“{_quote(n)}”。"
    named = []
    for o, n in items[:MAX_ITEMS]:
        if o and n:
            named.append(f"“{_quote(o)}”更正为“{_quote(n)}”")
        elif o:
            named.append(f"删去“{_quote(o)}”")
        else:
            named.append(f"增加“{_quote(n)}”")
    more = f"等，共{len(items)}处" if len(items) > MAX_ITEMS else ""
    return f"本文原稿有误，现更正：{'；'.join(named)}{more}。"


def _word(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in ".%")


def _spans(a: str, b: str) -> list[list[int]]:
    """Changed runs [a start, a end, b start, b end]: runs closer than three characters are one run, and a
    run touching a number or a Latin word takes all of it (a figure reads 〖137〗, never 1〖37〗)."""
    spans: list[list[int]] = []
    for t, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if t == "equal":
            continue
        if spans and i1 - spans[-1][1] < 3:
            spans[-1][1], spans[-1][3] = i2, j2
        else:
            spans.append([i1, i2, j1, j2])
    for sp in spans:  # the text around a run is the same on both sides: widen both alike
        while sp[0] > 0 and sp[2] > 0 and _word(a[sp[0] - 1]) and a[sp[0] - 1] == b[sp[2] - 1]:
            sp[0], sp[2] = sp[0] - 1, sp[2] - 1
        while sp[1] < len(a) and sp[3] < len(b) and _word(a[sp[1]]) and a[sp[1]] == b[sp[3]]:
            sp[1], sp[3] = sp[1] + 1, sp[3] + 1
    merged: list[list[int]] = []
    for sp in spans:
        if merged and sp[0] <= merged[-1][1]:
            merged[-1][1], merged[-1][3] = max(merged[-1][1], sp[1]), max(merged[-1][3], sp[3])
        else:
            merged.append(sp)
    return merged


def _marked(a: str, b: str) -> tuple[str, str]:
    """The two lines with their differing runs in 〖〗 (full-width: lines up with Chinese text)."""
    if SequenceMatcher(None, a, b, autojunk=False).ratio() < 0.3:
        return a, b  # a rewritten line: marking every run would only add noise

    def mark(text: str, cuts: list[tuple[int, int]]) -> str:
        out, pos = [], 0
        for s, e in cuts:
            out += [text[pos:s], f"〖{text[s:e]}〗" if e > s else ""]
            pos = e
        return "".join(out) + text[pos:]

    spans = _spans(a, b)
    return mark(a, [(s[0], s[1]) for s in spans]), mark(b, [(s[2], s[3]) for s in spans])


DEL, ADD, SAME = "【删】", "【增】", "　　　"


def text_diff(old: str, new: str, context: int = 1) -> list[str]:
    """A diff for people: changed lines of the old copy as 【删】, of the new as 【增】, the changed words in
    〖〗, one line of context around each change, and where each change is (line of the corrected copy)."""
    a, b = old.splitlines(), new.splitlines()
    out: list[str] = []
    for group in SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if out:
            out.append("")
        out.append(f"（更正稿第{group[0][3] + 1}行起）")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [SAME + x for x in b[j1:j2] if x.strip()]
                continue
            olds, news = a[i1:i2], b[j1:j2]
            if tag == "replace":
                paired = [_marked(x, y) for x, y in zip(olds, news)]
                olds = [p[0] for p in paired] + olds[len(paired):]
                news = [p[1] for p in paired] + news[len(paired):]
            out += [DEL + x for x in olds] + [ADD + x for x in news]
    return out
