"""Chinese line breaking (kinsoku, whole words and numbers) and the CJK font."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from pressroom.text import linebreak
from pressroom.text.linebreak import NO_END, NO_START, break_lines, load_cjk_font, missing_glyphs


def em(s: str) -> float:
    """A font-free measure: Han and Chinese punctuation (wide or ambiguous width) = 1, Latin = 1/2."""
    return sum(1.0 if unicodedata.east_asian_width(c) in ("W", "F", "A") else 0.5 for c in s)


def fits(lines, width, measure=em, hang=0.0):
    return all(measure(ln.rstrip(" ")) <= width + hang for ln in lines)


def kinsoku_ok(lines):
    return all(not ln or (ln[0] not in NO_START and ln.rstrip(" ")[-1:] not in NO_END) for ln in lines)


# ---------------------------------------------------------------------------------------------
# Examples


def test_breaks_between_han_characters():
    lines = break_lines("淮南市人民政府新闻办公室权威发布", em, 6)
    assert lines == ["淮南市人民政", "府新闻办公室", "权威发布"]


def test_closing_punctuation_never_starts_a_line_the_character_before_goes_down():
    # "九" would end line 1 and "，" start line 2: push "九" down with it.
    lines = break_lines("一二三四五六七八九，十一二三", em, 9)
    assert lines == ["一二三四五六七八", "九，十一二三"]
    assert kinsoku_ok(lines)


def test_closing_punctuation_may_hang_when_allowed():
    lines = break_lines("一二三四五六七八九，十一二三", em, 9, hang=1)
    assert lines == ["一二三四五六七八九，", "十一二三"]
    assert fits(lines, 9, hang=1) and not fits(lines, 9)


def test_opening_punctuation_never_ends_a_line():
    lines = break_lines("一二三四五六七八《九十》一二", em, 9)
    assert lines == ["一二三四五六七八", "《九十》一二"]
    lines = break_lines("一二三四五六七八“好”", em, 9)
    assert lines[0] == "一二三四五六七八" and lines[1].startswith("“")


def test_consecutive_closing_marks_all_stay_off_the_line_start():
    # "”" and "。" both need "九" with them, and "“" needs "九" too: the whole quotation goes down.
    lines = break_lines("一二三四五六七八“九”。十", em, 10)
    assert lines == ["一二三四五六七八", "“九”。十"]


@pytest.mark.parametrize("token", ["1386.5", "5.8%", "35862", "2·1+N", "10:00", "Huainan", "56.3℃", "1,386"])
def test_latin_words_and_numbers_stay_whole(token):
    text = "前三季度全市地区生产总值" + token + "同比增长"
    for width in range(5, 16):
        lines = break_lines(text, em, width)
        assert any(token in ln for ln in lines), (width, lines)
        assert "".join(lines) == text


def test_dash_and_ellipsis_are_never_split():
    text = "发布会上他说——这一规定……必须执行。"
    for width in range(3, 12):
        lines = break_lines(text, em, width)
        assert "".join(lines) == text
        assert any("——" in ln for ln in lines) and any("……" in ln for ln in lines), (width, lines)
        assert not any(ln.startswith("…") for ln in lines)


def test_latin_words_break_at_spaces_which_stay_at_line_end():
    lines = break_lines("Press release of the Huainan government", em, 7)
    assert lines == ["Press release ", "of the Huainan ", "government"]
    assert "".join(lines) == "Press release of the Huainan government"
    assert fits(lines, 7)


def test_a_word_longer_than_a_line_is_cut_rather_than_overflowing():
    url = "https://www.huainan.gov.cn/xwfb/" + "a" * 40 + ".html"
    lines = break_lines("原文见" + url + "。", em, 10)
    assert "".join(lines) == "原文见" + url + "。"
    assert fits(lines, 10)
    assert len(lines) > 3


def test_explicit_newlines_are_hard_breaks():
    assert break_lines("第一段\n\n第二段", em, 20) == ["第一段", "", "第二段"]
    assert break_lines("", em, 20) == [""]


def test_with_the_real_font_every_line_fits():
    font = load_cjk_font(40)
    text = "市防汛抗旱指挥部于11月18日6时启动城市防洪排涝Ⅳ级应急响应，截至9时，已转移安置群众143人。"
    lines = break_lines(text, font.getlength, 400)
    assert "".join(lines) == text and len(lines) >= 3
    assert all(font.getlength(ln) <= 400 for ln in lines)
    assert kinsoku_ok(lines)


# ---------------------------------------------------------------------------------------------
# Properties

HAN = st.sampled_from("淮南市人民政府新闻办公室发布会议通知解读政策水价")
CLOSE = st.sampled_from("，。、；：？！）》”」")
OPEN = st.sampled_from("（《“「")
WORD = st.text(alphabet="abcdefgHIJ", min_size=1, max_size=8)
NUMBER = st.builds(lambda a, b, u: f"{a}.{b}{u}", st.integers(0, 999), st.integers(0, 9), st.sampled_from(["", "%", "℃"]))
# Tokens as well-formed Chinese copy produces them: punctuation always next to a character, so no glued run
# is wider than 5 em and a line of >= 5 em never has to break against the rules.
TOKEN = st.one_of(
    HAN,
    st.tuples(HAN, CLOSE).map("".join),
    st.tuples(OPEN, HAN).map("".join),
    HAN.map(lambda h: h + "——"),
    HAN.map(lambda h: h + "……"),
    WORD.map(lambda w: w + " "),
    st.tuples(HAN, NUMBER, HAN).map("".join),
)


@hsettings(max_examples=300, deadline=None)
@given(tokens=st.lists(TOKEN, min_size=1, max_size=60), width=st.integers(5, 24))
def test_property_well_formed_copy(tokens, width):
    text = "".join(tokens)
    lines = break_lines(text, em, width)
    assert "".join(lines) == text  # nothing lost, nothing added
    assert fits(lines, width)
    assert kinsoku_ok(lines)
    for ln in lines:
        assert not ln.startswith("…")  # an ellipsis never starts a line
        assert all(len(run) == 2 for run in re.findall("—+|…+", ln))  # dash and ellipsis are never split
    for i in range(len(lines) - 1):  # a break never falls inside a word or number
        a, b = lines[i].rstrip(" ")[-1:], lines[i + 1][:1]
        if lines[i] == lines[i].rstrip(" ") and a and b:
            assert not (a.isascii() and a.isalnum() and b.isascii() and (b.isalnum() or b in ".%")), (lines[i], lines[i + 1])


ANY_TEXT = st.text(alphabet=st.one_of(
    st.sampled_from("淮南市发布，。、；：？！（）《》“”‘’【】—…·%‰℃ \n\tabc123.,:/-+"),
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
), max_size=120)


@hsettings(max_examples=300, deadline=None)
@given(text=ANY_TEXT, width=st.integers(2, 30))
def test_property_any_text_loses_nothing_and_fits(text, width):
    lines = break_lines(text, em, width)
    assert "".join(lines) == text.replace("\n", "")
    assert all("\n" not in ln for ln in lines)
    # Every line fits, except a line that is one unbreakable character wider than the measure itself.
    for ln in lines:
        body = ln.rstrip(" \t")
        assert em(body) <= width or len(linebreak._graphemes(body)) == 1, (ln, width)
    # Paragraphs are broken independently.
    assert lines == [ln for p in text.split("\n") for ln in break_lines(p, em, width)]


# ---------------------------------------------------------------------------------------------
# The font


def test_font_is_simplified_chinese_and_cached():
    font = load_cjk_font(32)
    assert font.getname()[0] == "Noto Sans CJK SC"
    assert load_cjk_font(32) is font
    assert load_cjk_font(32, bold=True).getname() == ("Noto Sans CJK SC", "Bold")


def test_missing_font_gives_an_operator_hint(monkeypatch, tmp_path):
    monkeypatch.setattr(linebreak, "FONT_FILES", {False: tmp_path / "none.ttc", True: tmp_path / "none.ttc"})
    linebreak.load_cjk_font.cache_clear()
    try:
        with pytest.raises(linebreak.FontMissing, match=r"scripts/system-deps\.sh"):
            load_cjk_font(33)
    finally:
        monkeypatch.undo()
        linebreak.load_cjk_font.cache_clear()


def test_missing_glyphs_finds_emoji_and_rare_characters_only():
    font = load_cjk_font(40)
    text = "淮南市Ⅳ级应急响应〔2017〕78号，56.3℃……“2·1+N”——①é\u3000 \u200b𠀀😀\x0b\n"
    assert missing_glyphs(font, text) == {"𠀀", "😀", "\x0b"}
    assert missing_glyphs(load_cjk_font(40, bold=True), "权威发布 新闻办") == set()
