"""Hostile content: the OWASP XSS filter-evasion vectors written into a real release folder, loaded by the
real loader and rendered by every HTML channel; the output is parsed and nothing executable may survive.
Plus Hypothesis properties: whatever a department writes either validates and renders on every channel, or
is refused with a clear Chinese problem — never an exception — and text reaches the portal page escaped."""

from __future__ import annotations

import dataclasses
import html as htmlmod
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import channels
from pressroom.releases.catalog import validate
from pressroom.releases.loader import load_all, load_registry

CORPUS = Path(__file__).parent / "bad_inputs"

# From the OWASP XSS Filter Evasion Cheat Sheet (one per line, as a department might paste them), plus
# Markdown's own ways in. Image vectors with outside sources are refused by validation (bad_inputs has them).
VECTORS = r'''
模板文字必须原样显示：{{ 7 + 7 }} 与 {% if true %}模板{% endif %} 以及 ${7 + 7}

<SCRIPT SRC=http://xss.rocks/xss.js></SCRIPT>
javascript:/*--></title></style></textarea></script></xmp><svg/onload='+/"/+/onmouseover=1/+/[*/[]/+alert(1)//'>
<a onmouseover="alert(document.cookie)">xxs link</a>
<a onmouseover=alert(document.cookie)>xxs link</a>
<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\>
<a href="javascript:alert(1)">javascript link</a>
<a href="JaVaScRiPt:alert(1)">mixed case</a>
<a href="jav&#x09;ascript:alert('XSS');">tab entity</a>
<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">decimal entities</a>
<a href=" &#14;  javascript:alert('XSS');">leading junk</a>
<SCRIPT/XSS SRC="http://xss.rocks/xss.js"></SCRIPT>
<BODY onload!#$%&()*~+-_.,:;?@[/|\]^`=alert("XSS")>
<<SCRIPT>alert("XSS");//\<</SCRIPT>
<SCRIPT SRC=http://xss.rocks/xss.js?< B >
<iframe src=http://xss.rocks/scriptlet.html <
</TITLE><SCRIPT>alert("XSS");</SCRIPT>
<INPUT TYPE="IMAGE" SRC="javascript:alert('XSS');">
<BODY BACKGROUND="javascript:alert('XSS')">
<STYLE>li {list-style-image: url("javascript:alert('XSS')");}</STYLE><UL><LI>XSS</br>
<svg/onload=alert('XSS')>
<LINK REL="stylesheet" HREF="javascript:alert('XSS');">
<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert('XSS');">
<TABLE BACKGROUND="javascript:alert('XSS')"><tr><td>cell</td></tr></TABLE>
<DIV STYLE="background-image: url(javascript:alert('XSS'))">css url</DIV>
<DIV STYLE="width: expression(alert('XSS'));">css expression</DIV>
<BASE HREF="javascript:alert('XSS');//">
<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.rocks/scriptlet.html"></OBJECT>
<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciPjxzY3JpcHQ+YWxlcnQoMSk8L3NjcmlwdD48L3N2Zz4=" type="image/svg+xml"></EMBED>
<form action="javascript:alert(1)"><button formaction="javascript:alert(2)">x</button></form>
<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>
<details open ontoggle=alert(1)>details</details>
<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>
<a href="vbscript:msgbox(1)">vbscript</a>

[markdown javascript link](javascript:alert(1))

[markdown data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)

[markdown entity link](&#106;avascript:alert(1))

'''

EXECUTABLE_TAGS = {"script", "iframe", "object", "embed", "form", "base", "meta", "link", "svg", "math",
                   "input", "button", "frame", "frameset", "applet", "style"}
URL_ATTRS = {"href", "src", "action", "formaction", "background", "data", "dynsrc", "lowsrc", "poster", "xlink:href"}


class Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k.lower(): v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def _tags(page: str) -> list[tuple[str, dict]]:
    c = Collector()
    c.feed(page)
    return c.tags


def assert_nothing_executable(page: str, where: str, baseline: str = "") -> None:
    """``baseline``: the same channel's page for harmless content. Tags our own templates use (the page's
    <meta charset>, its <style>) are allowed as often as the baseline has them, never more."""
    from collections import Counter

    allowed = Counter(t for t, _ in _tags(baseline) if t in EXECUTABLE_TAGS)
    seen = Counter(t for t, _ in _tags(page) if t in EXECUTABLE_TAGS)
    extra = seen - allowed
    assert not extra, f"{where}: {dict(extra)} survived"

    def handlers(html: str) -> Counter:  # (tag, attribute, value) of every on… attribute
        return Counter((t, n, v) for t, attrs in _tags(html) for n, v in attrs.items() if n.startswith("on"))

    # The template's own handlers (the 打印 button's window.print()) as often as the baseline has them.
    extra = handlers(page) - handlers(baseline)
    assert not extra, f"{where}: {', '.join(f'<{t} {n}=…>' for t, n, _ in extra)} survived"
    for tag, attrs in _tags(page):
        if tag == "meta":
            assert "http-equiv" not in attrs, f"{where}: <meta http-equiv> survived"
        for name, value in attrs.items():
            if name in URL_ATTRS:
                v = "".join(value.split()).lower()
                assert not v.startswith(("javascript:", "vbscript:", "data:text", "data:image/svg")), \
                    f"{where}: <{tag} {name}={value[:60]}> survived"
            if name == "style":
                v = value.lower()
                assert "expression(" not in v and "javascript:" not in v, f"{where}: style {value[:80]} survived"


def write_release(root: Path, body: str, **front) -> Path:
    """A routine release folder written to disk, so the real loader reads it."""
    content = root / "content"
    if not content.exists():
        shutil.copytree(CORPUS / "_registry", content)
    folder = content / "releases" / "hostile"
    folder.mkdir(parents=True, exist_ok=True)
    fm = {"id": "hostile", "title": "我市公布本周政务服务事项", "kind": "routine", "department": "发改委",
          "speakers": ["测试甲"], "publish_at": "2026-11-20 10:00", "digest": "本周政务服务事项。", **front}
    lines = ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fm.items()), "---", "",
             "市发展改革委11月20日公布本周政务服务事项。", "", "## 议题", "", body, ""]
    (folder / "release.md").write_text("\n".join(lines), encoding="utf-8")
    return content


HTML_CHANNELS = {
    # channel -> every HTML document it produces
    "portal": lambda rd: [rd.files[f"{rd.release_id}.html"].decode()],
    "h5": lambda rd: [rd.files[f"{rd.release_id}-h5.html"].decode()],
    "wechat": lambda rd: [a["content"] for a in rd.payload["articles"]],
    "tv": lambda rd: [d.decode() for n, d in sorted(rd.files.items()) if n.endswith(".html")],
}


def load(settings, content):
    catalog = validate(dataclasses.replace(settings, content_dir=content))
    assert not catalog.problems, {k: list(map(str, v)) for k, v in catalog.problems.items()}
    return catalog, catalog.releases["hostile"]


@pytest.fixture
def hostile(settings, tmp_path):
    return load(settings, write_release(tmp_path / "hostile", VECTORS))


@pytest.fixture
def harmless(settings, tmp_path):
    return load(settings, write_release(tmp_path / "harmless", "本周共公布政务服务事项十二项。"))


def pages(channel, loaded):
    catalog, release = loaded
    return HTML_CHANNELS[channel](channels.render(channel, release, catalog.context(release)))


@pytest.mark.parametrize("channel", sorted(HTML_CHANNELS))
def test_owasp_vectors_leave_nothing_executable(channel, hostile, harmless):
    bad, good = pages(channel, hostile), pages(channel, harmless)
    assert bad and len(bad) == len(good)
    for page, baseline in zip(bad, good):
        assert_nothing_executable(page, channel, baseline)
        assert "alert(" not in htmlmod.unescape(" ".join(v for _, a in _tags(page) for v in a.values()))


@pytest.mark.parametrize("channel", ["portal", "h5", "wechat"])
def test_template_syntax_in_content_prints_literally(channel, hostile):
    text = htmlmod.unescape(pages(channel, hostile)[0])
    assert "{{ 7 + 7 }}" in text and "{% if true %}模板{% endif %}" in text and "${7 + 7}" in text


def test_the_editors_preview_is_safe_too(hostile, harmless, tmp_path):
    from pressroom.sites.preview import build_preview

    built = {}
    for name, (catalog, release) in (("bad", hostile), ("good", harmless)):
        index = build_preview(release, catalog, tmp_path / name)
        built[name] = {p.relative_to(tmp_path / name): p.read_text(encoding="utf-8")
                       for p in (tmp_path / name).rglob("*.html")}
    assert built["bad"].keys() == built["good"].keys()
    for rel, page in built["bad"].items():
        assert_nothing_executable(page, str(rel), built["good"][rel])


def test_html_typed_into_the_body_is_named_before_it_vanishes(settings, tmp_path):
    body = '补贴标准<span style="color:red">每人每月500元</span>。\n\n<script>统计\n\n申领截止时间为12月31日。'
    catalog, release = load(settings, write_release(tmp_path, body))
    warnings = [w for w in catalog.warnings["hostile"] if "HTML" in w]
    assert len(warnings) == 2, warnings
    script, span = sorted(warnings, key=lambda w: "<span>" in w)
    assert script.startswith("“议题”一节含有 HTML 标签 <script>") and "其后全部正文" in script
    assert span.startswith("“议题”一节含有 HTML 标签 <span>") and "文字保留" in span
    # What the warnings announce is what the outlets get: the styled text stays, the rest is gone.
    page = pages("portal", (catalog, release))[0]
    assert "每人每月500元" in page and "color:red" not in page and "申领截止时间" not in page


def test_plain_markdown_gives_no_html_warning(harmless):
    catalog, _ = harmless
    assert not [w for w in catalog.warnings["hostile"] if "HTML" in w]


# ---------------------------------------------------------------------------------------------
# Properties

TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),  # common Han
        st.sampled_from(list("，。、；：？！“”‘’（）《》——……·%0123456789abcXYZ <>&\"'{}#*_[]()!`|\\/")),
    ),
    min_size=1, max_size=80,
)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=TEXT, digest=TEXT, body=TEXT)
def test_any_text_validates_or_is_refused_clearly_and_renders_escaped(title, digest, body, settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("prop")
    content = write_release(root, body, title=title, digest=digest)
    s = dataclasses.replace(settings, content_dir=content)
    catalog = validate(s)  # must not raise, whatever the text
    if "hostile" not in catalog.releases:
        problems = catalog.problems["hostile"]
        assert problems and all(p.file and p.message and p.fix for p in problems)
        return
    release = catalog.releases["hostile"]
    ctx = catalog.context(release)
    for ch in release.channels:
        channels.render(ch, release, ctx)  # validated means every channel renders within its limits
    page = channels.render("portal", release, ctx).files["hostile.html"].decode()
    c = Collector()
    c.feed(page)
    visible = "".join(c.text)
    assert release.title.strip() in visible  # shown as text ...
    harmless = dataclasses.replace(release, title="标题", digest="摘要", lead="导语。", sections=tuple(
        dataclasses.replace(sec, body="正文。") for sec in release.sections))
    baseline = channels.render("portal", harmless, ctx).files["hostile.html"].decode()
    assert_nothing_executable(page, "portal", baseline)  # ... never as markup


@hsettings(max_examples=40, deadline=None)
@given(front=st.dictionaries(
    st.sampled_from(["id", "title", "kind", "department", "speakers", "publish_at", "channels", "digest",
                     "keywords", "key_figures", "images", "event_at", "interprets", "important"]),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                 max_leaves=6),
    max_size=8))
def test_any_front_matter_gives_problems_not_exceptions(front, tmp_path_factory):
    from pressroom.settings import load_settings

    root = tmp_path_factory.mktemp("fm")
    content = write_release(root, "正文。", **front)
    s = dataclasses.replace(load_settings(), content_dir=content)
    releases, problems = load_all(s, load_registry(content))
    for plist in problems.values():
        assert all(p.message and p.fix for p in plist)
