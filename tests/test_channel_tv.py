"""TV script: 口播导语 / 配音 / 同期声, read time from the configured rate, and .srt subtitles."""

from __future__ import annotations

import dataclasses
import re

import pytest

from channels import tv
from channels.base import RenderContext
from pressroom.errors import RenditionError
from pressroom.model import Section
from tests.test_channel_portal import SAMPLE_IDS, make_release

BITE_1 = "今年全市没有启动居民生活用水价格调整程序。"  # 20 spoken characters
BITE_2 = "任何调价都必须依法履行成本监审和价格听证程序。"  # 22


def tv_release(**overrides):
    """Two speakers with a marked quote each, an expert, three read sections and a 不涉及 one."""
    base = make_release(
        lead="11月20日，市发展改革委召开新闻发布会，回应居民水价网络传言。",
        sections=(
            Section("背景依据", f"近日网络流传居民水价将翻倍。\n\n> {BITE_1}——张明\n\n市民咨询较多。"),
            Section("主要内容", f"据悉，水价调整须依法进行。\n\n> {BITE_2}——李华"),
            Section("执行标准", "现行阶梯水价标准不变。"),
            Section("新旧政策差异", "不涉及。本政策为首次制定。", not_applicable=True),
        ),
    )
    return dataclasses.replace(base, **overrides)


def tv_settings(settings, **outlet):
    return dataclasses.replace(settings, outlets={**settings.outlets, "tv": {**settings.outlet("tv"), **outlet}})


def script(rd) -> str:
    return rd.files[f"{rd.release_id}.txt"].decode("utf-8")


def parse_srt(data: bytes) -> list[tuple[int, float, float, str]]:
    """A strict little SRT reader: index, "HH:MM:SS,mmm --> HH:MM:SS,mmm", text lines, blank line."""
    def secs(t: str) -> float:
        m = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2}),(\d{3})", t)
        assert m, f"bad SRT time {t!r}"
        h, mi, s, ms = map(int, m.groups())
        return h * 3600 + mi * 60 + s + ms / 1000

    text = data.decode("utf-8")
    assert text.endswith("\n\n") or text == ""
    entries = []
    for chunk in text.strip("\n").split("\n\n") if text else []:
        lines = chunk.split("\n")
        assert len(lines) >= 3, chunk
        start, arrow, end = lines[1].split(" ")
        assert arrow == "-->"
        entries.append((int(lines[0]), secs(start), secs(end), "\n".join(lines[2:])))
    return entries


# ---------------------------------------------------------------------------------------------


def test_opens_with_ben_tai_xiao_xi_and_never_ben_bao_xun(ctx):
    rd = tv.render(tv_release(), ctx)
    text = script(rd)
    assert "本台消息 11月20日，市发展改革委召开新闻发布会" in text
    assert "本报讯" not in text
    # A lead written for the paper is turned into the station's own dateline.
    text = script(tv.render(tv_release(lead="本报讯 11月20日，市发展改革委召开新闻发布会。"), ctx))
    assert "本台消息 11月20日，市发展改革委召开新闻发布会。" in text and "本报讯" not in text


def test_lead_without_a_date_gets_the_broadcast_date(ctx):
    text = script(tv.render(tv_release(lead="市发展改革委回应居民水价网络传言。"), ctx))
    assert "本台消息 11月20日，市发展改革委回应居民水价网络传言。" in text


def test_header_names_station_programme_and_column_from_settings(ctx, settings):
    text = script(tv.render(tv_release(), ctx))
    assert text.startswith("淮南广播电视台　新闻综合频道《淮南新闻联播》“新闻发布”栏目\n")
    other = tv_settings(settings, station="示例台", channel="综合频道", programme="示例新闻", column="权威发布")
    text = script(tv.render(tv_release(), RenderContext(other)))
    assert text.startswith("示例台　综合频道《示例新闻》“权威发布”栏目\n")


def test_sound_bites_are_the_marked_quotes_with_lower_third_and_not_read_twice(ctx):
    text = script(tv.render(tv_release(), ctx))
    blocks = text.split("\n\n")
    bite1 = next(b for b in blocks if "字幕：张明　市发展改革委主任" in b)
    bite2 = next(b for b in blocks if "字幕：李华　市发展改革委副主任" in b)
    assert bite1.startswith("【同期声】") and bite1.endswith(BITE_1)
    assert bite2.startswith("【同期声】") and bite2.endswith(BITE_2)
    assert text.count(BITE_1) == 1 and text.count(BITE_2) == 1 and "——张明" not in text
    voice = [b for b in blocks if b.startswith("【配音】")]
    # The script fits the slot: the section is read in full, its quote taken out as the sound bite.
    assert voice[0].endswith("近日网络流传居民水价将翻倍。市民咨询较多。")
    assert "据了解，水价调整须依法进行。" in text and "据悉" not in text  # spoken style
    assert "不涉及" not in text  # a 不涉及 element is not read on air


def test_nothing_unmarked_is_put_in_a_speakers_mouth(ctx):
    plain = tv_release(sections=(Section("背景依据", f"近日网络流传居民水价将翻倍。{BITE_1}\n\n市民咨询较多。"),))
    text = script(tv.render(plain, ctx))
    assert "【同期声】" not in text and "字幕：张明" not in text
    # A quote signed by someone who is not a speaker or expert of the release stays voice-over.
    stranger = tv_release(sections=(Section("背景依据", f"> {BITE_1}——赵某某"),))
    assert "【同期声】" not in script(tv.render(stranger, ctx))


def test_press_conference_shots_only_for_a_press_conference(ctx):
    text = script(tv.render(tv_release(), ctx))
    assert "发布会现场" not in text and "资料画面、图表" in text
    held = script(tv.render(tv_release(press_conference=True), ctx))
    assert "新闻发布会现场全景" in held and "发布会现场，张明讲话" in held


def test_read_time_is_spoken_characters_over_the_rate(settings):
    # 本台消息(4) + 11月20日(6) + 125 Han characters = 135 spoken characters; punctuation is not read.
    lead = "11月20日，" + "测" * 60 + "，" + "试" * 65 + "。"
    r = tv_release(lead=lead, sections=())
    text = script(tv.render(r, RenderContext(settings)))
    assert "预计时长：约30秒（口播、配音、同期声共135字，按每分钟270字计；栏目时段1分30秒）" in text
    slow = tv_settings(settings, chars_per_minute=135)
    text = script(tv.render(r, RenderContext(slow)))
    assert "预计时长：约1分00秒（口播、配音、同期声共135字，按每分钟135字计" in text


def test_picture_notes_and_captions_are_not_counted(ctx):
    text = script(tv.render(tv_release(), ctx))
    header, _, body = text.partition("\n\n")
    count = int(re.search(r"共(\d+)字", header).group(1))
    read = [ln for ln in body.split("\n") if ln and not ln.startswith(("【", "画面：", "字幕："))]
    assert count == sum(tv.spoken_chars(ln) for ln in read)
    assert count < tv.spoken_chars(body)  # the notes have characters, they are just not read


def test_spoken_chars_counts_han_and_digits_only():
    assert tv.spoken_chars("本台消息 11月20日，ABC发布。") == 12
    assert tv.spoken_chars("“2·1+N”机制") == 4


def test_slot_overrun_warns(settings):
    r = tv_release()
    assert not any("超过栏目时段" in w for w in tv.render(r, RenderContext(settings)).warnings)
    short = tv_settings(settings, slot_seconds=10)
    [w] = [w for w in tv.render(r, RenderContext(short)).warnings if "超过栏目时段" in w]
    assert "超过栏目时段10秒" in w


def test_bad_rate_setting_is_an_error(settings):
    with pytest.raises(RenditionError) as e:
        tv.render(tv_release(), RenderContext(tv_settings(settings, chars_per_minute=0)))
    assert e.value.field == "chars_per_minute" and "[outlets.tv]" in e.value.fix


def test_srt_is_valid_and_follows_the_read_rate(ctx):
    rd = tv.render(tv_release(), ctx)
    entries = parse_srt(rd.files["water-price-2026.srt"])
    assert [e[0] for e in entries] == list(range(1, len(entries) + 1))
    prev_end = 0.0
    for _i, start, end, text in entries:
        assert prev_end <= start < end and text.strip()
        assert len(text) <= tv.SUBTITLE_MAX
        prev_end = end
    # The subtitles carry the two bites, punctuation dropped, each shown for as long as it takes to say.
    said = "".join(e[3] for e in entries)
    assert said == (BITE_1 + BITE_2).replace("。", "")
    first = [e for e in entries if e[3] in BITE_1]
    assert first[-1][2] - first[0][1] == pytest.approx(tv.spoken_chars(BITE_1) * 60 / 270, abs=0.002)
    # The first bite starts where the script's timeline puts it.
    m = re.search(r"【同期声】(\d\d):(\d\d)—", script(rd))
    assert int(m.group(1)) * 60 + int(m.group(2)) == round(entries[0][1])


def test_html_sheet_has_picture_and_narration_columns(ctx):
    html = tv.render(tv_release(), ctx).files["water-price-2026.html"].decode("utf-8")
    assert '<html lang="zh-CN">' in html and "<th class=\"picture\">画面</th>" in html
    assert "解说词 / 同期声" in html and "字幕：张明　市发展改革委主任" in html
    assert "本台消息" in html and "本报讯" not in html


def test_policy_document_is_a_short_anchor_item(settings):
    doc = make_release(id="water-notice-2026", kind="policy-document", title="淮南市城市供水价格管理办法",
                       interprets="", document_number="淮政〔2026〕12号", issuer=("淮南市人民政府",),
                       digest="市政府印发《淮南市城市供水价格管理办法》。", lead="各县区人民政府：\n\n现将《办法》印发给你们。")
    rd = tv.render(doc, RenderContext(settings))
    text = script(rd)
    assert "本台消息 近日，市政府印发《淮南市城市供水价格管理办法》。" in text
    assert "【配音】" not in text and "【同期声】" not in text and "各县区人民政府" not in text
    assert rd.files["water-notice-2026.srt"] == b""


def test_render_is_deterministic(ctx):
    a, b = tv.render(tv_release(), ctx), tv.render(tv_release(), ctx)
    assert a.files == b.files and a.warnings == b.warnings


@pytest.mark.parametrize("rid", SAMPLE_IDS)
def test_samples_render(samples, contexts, rid):
    rd = tv.render(samples[rid], contexts[rid])
    text = script(rd)
    assert "\n本台消息 " in text and "本报讯" not in text
    parse_srt(rd.files[f"{rid}.srt"])


# ---------------------------------------------------------------------------------------------
# Links, and shortening to fit the slot


LINK = "https://rsj.huainan.gov.cn/btsl"


def _blocks(text: str) -> list[str]:
    return text.split("\n\n")


def test_a_link_is_spoken_as_details_please_visit_with_the_address_as_a_caption(ctx):
    r = tv_release(sections=(Section("执行标准", f"补贴按季度申领，在[市人社局网站]({LINK})办理。"),))
    rd = tv.render(r, ctx)
    [block] = [b for b in _blocks(script(rd)) if "执行标准" in b]
    lines = block.strip().split("\n")
    assert f"字幕：网址 {LINK}" in lines  # shown on screen
    assert lines[-1] == "补贴按季度申领，在市人社局网站办理。详情请登录市人社局网站。"  # read aloud, no address
    sheet = rd.files[f"{r.id}.html"].decode("utf-8")
    assert f"字幕：网址 {LINK}" in sheet


def test_a_link_in_the_lead_is_spoken_too(ctx):
    r = tv_release(lead=f"11月20日，市发展改革委在[门户网站]({LINK})回应居民水价网络传言。")
    anchor = _blocks(script(tv.render(r, ctx)))[1].strip()
    assert anchor.startswith("【口播导语】") and f"字幕：网址 {LINK}" in anchor
    assert anchor.endswith("详情请登录门户网站。") and "（网址：" not in anchor


LONG = "现行阶梯水价标准不变。\n\n" + "一档水量每户每月15吨，二档水量每户每月25吨，三档水量以上另行计价。" * 3


def test_a_script_that_fits_its_slot_reads_every_section_in_full(ctx):
    r = tv_release(sections=(Section("执行标准", f"现行阶梯水价标准不变。\n\n居民用水不受影响。"),))
    rd = tv.render(r, ctx)
    assert "现行阶梯水价标准不变。居民用水不受影响。" in script(rd)
    assert not any("压缩" in w for w in rd.warnings)


def _slot_between(r, settings) -> object:
    """Settings whose TV slot is a little shorter than the script read in full."""
    full = tv.build_blocks(r, RenderContext(tv_settings(settings, slot_seconds=10_000)))[0]
    seconds = tv.read_seconds(sum(tv.spoken_chars(b.text) for b in full), 270)
    return tv_settings(settings, slot_seconds=seconds - 5)


def test_a_section_is_shortened_to_fit_and_the_warning_says_which_and_by_how_much(settings):
    r = tv_release(sections=(Section("背景依据", "近日网络流传居民水价将翻倍。"), Section("执行标准", LONG)))
    rd = tv.render(r, RenderContext(_slot_between(r, settings)))
    text = script(rd)
    assert "现行阶梯水价标准不变。" in text and "二档水量" not in text  # only the first paragraph is read
    assert "近日网络流传居民水价将翻倍。" in text  # the short section is untouched
    dropped = tv.spoken_chars(LONG.replace("\n", "")) - tv.spoken_chars("现行阶梯水价标准不变。")
    [w] = [w for w in rd.warnings if "已压缩" in w]
    assert f"已压缩1个小节：“执行标准”只读首段，删去{dropped}字（约{dropped * 60 / 270:.0f}秒）" in w
    assert "背景依据" not in w and "tv_summary" in w
    assert not any("超过栏目时段" in w for w in rd.warnings)  # it fits now


def test_the_editors_tv_summary_is_read_when_the_section_is_shortened(settings):
    summary = "现行阶梯水价标准不变，一档水量每户每月15吨。"
    r = tv_release(sections=(Section("背景依据", "近日网络流传居民水价将翻倍。"), Section("执行标准", LONG)),
                   tv_summary=(("执行标准", summary),))
    rd = tv.render(r, RenderContext(_slot_between(r, settings)))
    [block] = [b for b in _blocks(script(rd)) if "执行标准" in b]
    assert block.strip().endswith(summary) and "二档水量" not in block
    dropped = tv.spoken_chars(LONG.replace("\n", "")) - tv.spoken_chars(summary)
    [w] = [w for w in rd.warnings if "已压缩" in w]
    assert f"“执行标准”改读电视版摘要（tv_summary），删去{dropped}字" in w
    # The summary is used only to fit: with room to spare the section is read as written.
    roomy = tv.render(r, RenderContext(tv_settings(settings, slot_seconds=10_000)))
    assert "二档水量" in script(roomy) and summary not in script(roomy)


def test_a_summary_that_adds_a_number_fails_the_fidelity_audit(settings, registry):
    """The shortened text may only drop: the editor's summary is checked like the rest of the script."""
    from pressroom.releases import audit

    r = tv_release(sections=(Section("背景依据", "近日网络流传居民水价将翻倍。"), Section("执行标准", LONG)),
                   tv_summary=(("执行标准", "现行阶梯水价标准不变，一档水量每户每月18吨。"),))
    rd = tv.render(r, RenderContext(_slot_between(r, settings)))
    result = audit.audit_release(r, registry, {"tv": rd}, {"tv": ("电视", "summary")}, [])
    [tv_audit] = result.channels
    assert [f.shown for f in tv_audit.added] == ["18吨"]
    assert not audit.audit_release(r, registry, {"tv": tv.render(r, RenderContext(settings))},
                                   {"tv": ("电视", "summary")}, []).channels[0].added  # read in full: clean
