"""Golden renditions: every sample release, rendered for every channel it goes to, gives what tests/golden
holds. How files are compared, and how to refresh them after a deliberate change: tests/golden.py."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image as PILImage

from tests import golden

_settings, _releases, _problems = golden.load_samples()
CASES = golden.cases(_releases)


def test_the_code_under_test_is_this_checkout():
    golden.check_checkout()


@pytest.mark.parametrize(("release_id", "channel"), CASES, ids=[f"{r}/{c}" for r, c in CASES])
def test_rendition_matches_the_golden_set(release_id, channel, tmp_path):
    expected = golden.stored(release_id, channel)
    assert expected is not None, (f"No golden files for release {release_id}, channel {channel} "
                                  f"(tests/golden/{release_id}/{channel}/). {golden.REFRESH_HINT}")
    # The default installation (the micro-video on), as the golden set was made: golden.load_samples.
    actual = golden.render_case(release_id, channel, _releases, _settings)
    exact = golden.exact_mode()
    problems = golden.compare(expected, actual, exact=exact)
    if problems:
        out = tmp_path / "rendered"
        golden.write_case(actual, release_id, channel, out)
        pytest.fail(golden.report(release_id, channel, problems, golden.case_dir(release_id, channel, out), exact),
                    pytrace=False)


def test_the_golden_set_has_no_stale_renditions():
    stale = sorted(set(golden.stored_cases()) - set(golden.cases(_releases)))
    assert not stale, ("tests/golden holds renditions no sample release goes to any more: "
                       + ", ".join(f"{r}/{c}" for r, c in stale) + f". {golden.REFRESH_HINT}")


# ---------------------------------------------------------------------------------------------
# The comparison itself: it must tell a real change from an encoder's noise


def png(im: PILImage.Image, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **options)
    return buf.getvalue()


def picture(width: int = 200, height: int = 100) -> PILImage.Image:
    im = PILImage.new("RGB", (width, height), (250, 242, 240))
    for x in range(20, 180):
        for y in range(30, 70):
            im.putpixel((x, y), (176, 24, 30))
    return im


def shifted(im: PILImage.Image, by: int) -> PILImage.Image:
    return im.point(lambda v: max(0, min(255, v + by)))


def test_the_same_pixels_encoded_differently_match():
    im = picture()
    a, b = png(im, compress_level=1), png(im, optimize=True)
    assert a != b
    assert golden.compare_file("x.png", a, b) is None


def test_small_drawing_differences_are_within_the_tolerance():
    im = picture()
    noisy = shifted(im, 1)  # antialiasing drawn a shade lighter everywhere
    for x in range(90):  # and 90 pixels of 20,000 (0.45 %) well off, as a glyph edge drawn differently
        noisy.putpixel((x, 0), (200, 192, 190))
    assert golden.compare_file("x.png", png(im), png(noisy)) is None


@pytest.mark.parametrize("change", ["shift", "block", "size", "mode"])
def test_a_visible_image_change_is_reported(change):
    im = picture()
    if change == "shift":  # a colour change over the whole picture
        new = shifted(im, 3)
    elif change == "block":  # 1 % of the pixels: a word moved
        new = im.copy()
        for x in range(20):
            for y in range(10):
                new.putpixel((x, y), (0, 0, 0))
    elif change == "size":
        new = picture(200, 101)
    else:
        new = im.convert("RGBA")
    problem = golden.compare_file("infographic.png", png(im), png(new))
    assert problem, change
    if change == "block":
        assert "x 0..20, y 0..10" in problem


def test_a_text_change_shows_as_a_diff():
    old = "第一行\n第二行：11月20日\n第三行\n".encode()
    new = "第一行\n第二行：11月21日\n第三行\n".encode()
    problem = golden.compare_file("a.srt", old, new)
    assert problem and "-第二行：11月20日" in problem and "+第二行：11月21日" in problem
    assert golden.compare_file("a.srt", old, old.replace(b"\n", b"\r\n"))  # line endings count
    assert golden.compare_file("a.txt", b"\xef\xbb\xbf" + old, old)  # so does a byte-order mark


def test_a_change_in_one_long_line_shows_where():
    old = ("<p>" + "正文。" * 200 + "</p>" + "<p>结尾。</p>").encode()
    new = old.replace("结尾".encode(), "末尾".encode())
    problem = golden.compare_file("draft.json", old, new)
    assert "-结尾。" in problem and "+末尾。" in problem and len(problem) < 1000


def test_embedded_images_are_compared_as_images():
    def page(data: bytes, title: str = "标题") -> bytes:
        import base64

        return (f'<h1>{title}</h1><img src="data:image/png;base64,{base64.b64encode(data).decode()}">\n'
                .encode())

    im = picture()
    assert golden.compare_file("p-h5.html", page(png(im, compress_level=1)), page(png(im, optimize=True))) is None
    problem = golden.compare_file("p-h5.html", page(png(im)), page(png(shifted(im, 30))))
    assert problem and "embedded image 1" in problem
    problem = golden.compare_file("p-h5.html", page(png(im)), page(png(im), "新标题"))
    assert problem and "+<h1>新标题</h1>" in problem and "[embedded image 1]" in problem
    assert golden.compare_file("p-h5.html", page(png(im, compress_level=1)), page(png(im, optimize=True)),
                               exact=True)


def _docx(parts: dict[str, bytes], date_time=(2026, 11, 20, 10, 0, 0)) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(zipfile.ZipInfo(name, date_time), data)
    return buf.getvalue()


def test_docx_is_compared_by_its_parts():
    doc = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="urn:w"><w:body>'
           + "".join(f"<w:p><w:r><w:t>第{i}段</w:t></w:r></w:p>" for i in range(40)).encode()
           + b"</w:body></w:document>")
    parts = {"[Content_Types].xml": b"<Types/>", "word/document.xml": doc, "word/media/image1.png": png(picture())}
    old = _docx(parts)
    assert golden.compare_file("a.docx", old, _docx(parts, (2030, 1, 1, 0, 0, 0))) is None  # zip bytes differ
    assert golden.compare_file("a.docx", old, _docx(parts, (2030, 1, 1, 0, 0, 0)), exact=True)

    changed = golden.compare_file("a.docx", old, _docx({**parts, "word/document.xml": doc.replace(
        "第7段".encode(), "第七段".encode())}))
    assert changed and "word/document.xml" in changed and "+" in changed and "第七段" in changed
    assert len(changed.splitlines()) < 20  # the diff of the pretty-printed XML, not of one long line

    recoloured = golden.compare_file("a.docx", old, _docx({**parts, "word/media/image1.png": png(shifted(picture(), 50))}))
    assert recoloured and "word/media/image1.png" in recoloured
    assert golden.compare_file("a.docx", old, _docx({k: v for k, v in parts.items() if "media" not in k}))


def test_missing_and_new_files_are_reported():
    problems = golden.compare({"a.txt": b"a", "warnings.txt": b""}, {"a.txt": b"a", "b.txt": b"b"})
    assert problems == ["warnings.txt: in the golden set, no longer rendered", "b.txt: rendered, not in the golden set"]


def test_the_failure_message_names_the_case_and_how_to_refresh():
    message = golden.report("rainstorm-2026-11", "weibo", ["weibo-manual.txt: text differs"])
    assert "release rainstorm-2026-11, channel weibo" in message and "weibo-manual.txt" in message
    assert "python -m tests.golden --refresh" in message


def test_pixels_are_compared_exactly_where_the_golden_set_was_drawn(tmp_path, monkeypatch):
    monkeypatch.delenv(golden.EXACT_ENV, raising=False)
    assert not golden.exact_mode(tmp_path)  # no record: another machine, the tolerance
    (tmp_path / golden.ENVIRONMENT_FILE).write_text(json.dumps(golden.rendering_environment()))
    assert golden.exact_mode(tmp_path)
    (tmp_path / golden.ENVIRONMENT_FILE).write_text(json.dumps({**golden.rendering_environment(), "freetype2": "0"}))
    assert not golden.exact_mode(tmp_path)
    monkeypatch.setenv(golden.EXACT_ENV, "1")
    assert golden.exact_mode(tmp_path)
    monkeypatch.setenv(golden.EXACT_ENV, "0")
    (tmp_path / golden.ENVIRONMENT_FILE).write_text(json.dumps(golden.rendering_environment()))
    assert not golden.exact_mode(tmp_path)


def test_golden_files_keep_payload_and_warnings(samples, settings):
    files = golden.render_case("water-price-rumor", "weibo", samples, settings)
    assert {"payload.json", "warnings.txt", "weibo-share.json", "weibo-pic.png", "weibo-manual.txt"} == set(files)
    tv = golden.render_case("rainstorm-2026-11", "tv", samples, settings)
    assert "payload.json" not in tv and tv["warnings.txt"].decode().endswith("\n")
