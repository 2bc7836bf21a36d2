"""Weibo: the statuses/share payload within 140 汉字, its picture, and the hand-post copy with hashtags."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from channels import weibo
from channels.base import dump_json
from channels.weibo import ELLIPSIS, plain_length, trim, weibo_length
from pressroom.errors import RenditionError
from tests.test_channel_portal import SAMPLE_IDS, loaded, make_release, samples_or_skip  # noqa: F401

URL = "https://www.huainan.gov.cn/xwfb/water-price-2026.html"
needs_infographic = pytest.mark.skipif(
    importlib.util.find_spec("channels.infographic") is None,
    reason="channels/infographic.py (the Weibo picture) has not landed yet")


def status(rd) -> str:
    return rd.payload["status"]


def manual(rd) -> str:
    return rd.files["weibo-manual.txt"].decode("utf-8").rstrip("\n")


# ---------------------------------------------------------------------------------------------
# Counting and trimming (pure text: no picture needed)


@pytest.mark.parametrize("text, length", [
    ("", 0),
    ("淮南发布", 4),                       # a Han character is 1
    ("，。“”！", 5),                       # so is full-width punctuation
    ("CEO", 2), ("GDP5.8%", 4),            # two ASCII characters are 1, rounded up over the post
    ("我司CEO与我司吉祥物...好大一坨！", 16),  # Sina's own example (13 wide + 6 ASCII = 32 bytes)
    (URL, 10),                             # 53 bytes > 41: a t.cn short link, 20 bytes
    ("http://t.cn/abc", 8),                # 15 bytes <= 41: counts as itself
    ("详情：" + URL, 13),
    ("https://x.cn/" + "a" * 150, 22),     # 163 bytes > 140: 163 - 140 + 20 = 43 bytes
])
def test_weibo_length(text, length):
    assert weibo_length(text) == length


DIGEST = ("11月18日凌晨至上午，我市出现强降雨——市区平均降雨量56.3毫米，12处路段积水，地区生产总值1386.5亿元，"
          "同比增长5.8%，详见https://www.huainan.gov.cn/xwfb/a.html……已转移安置群众143人，暂无人员伤亡报告。")
UNCUTTABLE = [m.span() for p in (r"11月18日", r"56\.3", r"1386\.5亿", r"5\.8%", r"143", r"——", r"……",
                                 r"https://www\.huainan\.gov\.cn/xwfb/a\.html") for m in re.finditer(p, DIGEST)]


@pytest.mark.parametrize("budget", range(4, weibo_length(DIGEST) + 1))
def test_trimming_never_cuts_a_number_url_or_paired_mark(budget):
    text, cut = trim(DIGEST, lambda b: weibo_length(b) <= budget)
    assert weibo_length(text) <= budget
    head = text[:-len(ELLIPSIS)] if cut else text
    if not cut:
        assert text == DIGEST or text.endswith("。")  # whole sentences need no ellipsis
    assert DIGEST.startswith(head)
    for start, end in UNCUTTABLE:
        assert not start < len(head) < end, f"cut inside {DIGEST[start:end]!r}: {text!r}"
    assert not head.endswith(("，", "、", "；", "（", "“"))


def test_trimming_prefers_whole_sentences_then_clauses():
    text = "第一句话说明情况。第二句话较长，包含更多细节和数据，还有补充说明。"
    assert trim(text, lambda b: weibo_length(b) <= 12) == ("第一句话说明情况。", False)
    assert trim(text, lambda b: weibo_length(b) <= 22) == ("第一句话说明情况。第二句话较长……", True)
    assert trim(text, lambda b: weibo_length(b) <= 25) == ("第一句话说明情况。第二句话较长，包含更多细节和……", True)
    assert trim(text, lambda b: weibo_length(b) <= 10) == ("第一句话说明情况。", False)
    assert trim(text, lambda b: weibo_length(b) <= 6) == ("", True)  # a stub of a few characters says nothing
    assert trim(text, lambda b: weibo_length(b) <= 200) == (text, False)


def test_post_fits_140_with_the_url_at_the_end():
    long = "这是一段很长的摘要，" * 30
    for count in (plain_length, weibo_length):
        text, cut = weibo.post("标题", long, URL, count=count)
        assert cut and 140 - 10 < count(text) <= 140  # within one clause (10 characters) of the limit
        assert text.startswith("【标题】这是一段很长的摘要") and text.endswith(f"{ELLIPSIS}详情：{URL}")
        tagged, _ = weibo.post("标题", long, URL, ["强降雨", "城市内涝"], count=count)
        assert tagged.startswith("#强降雨##城市内涝#【标题】") and count(tagged) <= 140
    # The plain count (the default) holds the URL at its full 53 characters, the weighted one at 10.
    assert len(weibo.post("标题", long, URL)[0]) < len(weibo.post("标题", long, URL, count=weibo_length)[0])


def test_plain_count_is_every_character_with_urls_at_full_length():
    assert plain_length("淮南发布") == 4 and plain_length("CEO") == 3 and plain_length(URL) == len(URL) == 53
    assert plain_length("详情：" + URL) == 56


def test_the_setting_chooses_the_counter(tmp_path):
    from pressroom.settings import SettingsError, load_settings

    base = (Path(__file__).resolve().parent.parent / "pressroom.toml").read_text(encoding="utf-8")
    path = tmp_path / "pressroom.toml"
    path.write_text(base, encoding="utf-8")
    assert weibo.length_counter(load_settings(path)) is plain_length  # the default: what the docs promise
    path.write_text(base.replace("[outlets.weibo]", '[outlets.weibo]\nlength = "weighted"'), encoding="utf-8")
    assert weibo.length_counter(load_settings(path)) is weibo_length
    path.write_text(base.replace("[outlets.weibo]", '[outlets.weibo]\nlength = "sina"'), encoding="utf-8")
    with pytest.raises(SettingsError) as e:
        load_settings(path)
    assert "[outlets.weibo] 中的 length“sina”" in str(e.value) and '"weighted"' in str(e.value)


# ---------------------------------------------------------------------------------------------
# The rendition


@needs_infographic
def test_share_payload_status_and_picture(ctx):
    from channels import infographic

    r = make_release()
    rd = weibo.render(r, ctx)
    assert rd.payload == {"status": f"【{r.title}】{r.digest}详情：{URL}", "pic": "weibo-pic.png"}
    assert rd.files["weibo-share.json"] == dump_json(rd.payload)
    assert json.loads(rd.files["weibo-share.json"]) == rd.payload
    assert rd.files["weibo-pic.png"] == infographic.poster_png(r, ctx)
    assert set(rd.files) == {"weibo-share.json", "weibo-pic.png", "weibo-manual.txt"}
    assert "rip" not in rd.payload and "access_token" not in rd.payload  # added by the transport


@needs_infographic
def test_status_has_the_portal_url_and_no_hashtag_while_manual_copy_has_two(ctx):
    r = make_release(keywords=("水价", "听证", "阶梯水价"))
    rd = weibo.render(r, ctx)
    assert URL in status(rd) and "#" not in status(rd)
    assert manual(rd) == f"#水价##听证#【{r.title}】{r.digest}详情：{URL}"
    assert weibo_length(status(rd)) <= 140 and weibo_length(manual(rd)) <= 140


@needs_infographic
def test_wechat_title_is_the_short_title(ctx):
    rd = weibo.render(make_release(wechat_title="我市今年没有居民水价调价计划"), ctx)
    assert status(rd).startswith("【我市今年没有居民水价调价计划】")


@needs_infographic
def test_hash_in_title_or_digest_is_removed_with_a_warning(ctx):
    rd = weibo.render(make_release(title="#水价#我市今年没有调价计划", digest="网传＃水价翻倍＃不实。"), ctx)
    assert status(rd) == f"【水价我市今年没有调价计划】网传水价翻倍不实。详情：{URL}"
    assert any("#" in w for w in rd.warnings)
    assert manual(rd).startswith("#水价##听证#【水价我市今年没有调价计划】")
    assert not any("#" in w for w in weibo.render(make_release(), ctx).warnings)


@needs_infographic
def test_long_digest_is_trimmed_with_a_warning(ctx):
    digest = "市发展改革委回应网络关切，今年没有居民水价调价计划，水价调整须依法履行成本监审和听证程序，" * 4
    rd = weibo.render(make_release(digest=digest.rstrip("，") + "。"), ctx)
    assert weibo_length(status(rd)) <= 140 and status(rd).endswith(f"{ELLIPSIS}详情：{URL}")
    assert any("截短" in w for w in rd.warnings)


@needs_infographic
def test_without_digest_the_lead_is_used(ctx):
    rd = weibo.render(make_release(digest=""), ctx)
    assert status(rd).startswith(f"【{make_release().title}】市发展改革委11月20日回应网络关切。")
    assert URL in status(rd) and weibo_length(status(rd)) <= 140


@needs_infographic
def test_manual_copy_over_140_warns(ctx):
    title = "题" * 80  # 【】2 + 80 + 详情：3 + URL 53 = 138: the status fits, two hashtags (11) do not
    rd = weibo.render(make_release(wechat_title=title, keywords=("强降雨", "城市内涝")), ctx)
    assert status(rd) == f"【{title}】详情：{URL}"
    assert plain_length(manual(rd)) > 140 and any("人工发布文案" in w for w in rd.warnings)


def test_title_too_long_for_any_status_fails(ctx, monkeypatch):
    monkeypatch.setattr(weibo, "_picture", lambda r, c: b"")
    with pytest.raises(RenditionError) as e:
        weibo.render(make_release(wechat_title="题" * 130), ctx)
    assert e.value.channel == "weibo" and e.value.field == "wechat_title" and "140" in e.value.message


@needs_infographic
def test_picture_over_5mb_fails(ctx, monkeypatch):
    from channels import infographic

    monkeypatch.setattr(infographic, "poster_png", lambda r, c: b"\x89PNG" + b"\0" * (5 * 1024 * 1024))
    with pytest.raises(RenditionError) as e:
        weibo.render(make_release(), ctx)
    assert e.value.channel == "weibo" and "5 MB" in e.value.message


@needs_infographic
def test_deterministic(ctx):
    a, b = weibo.render(make_release(), ctx), weibo.render(make_release(), ctx)
    assert a.files == b.files and a.content_hash == b.content_hash


# ---------------------------------------------------------------------------------------------
# Sample content


@needs_infographic
@pytest.mark.parametrize("rid", SAMPLE_IDS)
def test_samples_within_140_with_the_portal_url(loaded, rid):
    samples, contexts = loaded
    r = samples_or_skip(samples, rid)
    rd = weibo.render(r, contexts[rid])
    assert rd.files == weibo.render(r, contexts[rid]).files
    url = contexts[rid].url_for(rid)
    assert status(rd).endswith(f"详情：{url}") and "#" not in status(rd)
    assert weibo_length(status(rd)) <= 140 and weibo_length(manual(rd)) <= 140
    tags = re.findall(r"#([^#]+)#", manual(rd))
    assert tags == list(r.keywords[:2]) and url in manual(rd)
    assert rd.files["weibo-pic.png"][:8] == b"\x89PNG\r\n\x1a\n" and len(rd.files["weibo-pic.png"]) < 5 * 1024 * 1024
