"""WeChat official account (公众号): the exact ``draft/add`` request body, ready for the WeChat transport.

Files of a rendition (the outbox puts them under ``wechat/<id>/``):

- ``wechat-draft.json``: ``{"articles": [article]}``, also ``Rendition.payload``; real UTF-8 (WeChat answers
  40033 to ``\\uXXXX`` escapes).
- ``wechat-manifest.json``: what the transport uploads before ``draft/add``: every body image
  (``media/uploadimg``, the returned URL replaces the ``pressroom-image:<path>`` placeholder in ``content``)
  and the cover (``material/add_material``, the returned media id replaces ``thumb_media_id``
  "pressroom-cover").
- ``images/<path>``: the body images as uploaded (jpg/png under 1 MB; larger ones are re-encoded here), and
  ``images/infographic-poster.png`` (or ``.jpg``): the 图解 of a release that goes out as one, shown in the
  article after the text and uploaded the same way.
- ``cover.<ext>``: the cover, the release's own ``cover`` or else the infographic's cover.

WeChat drops outside links (``<a href>`` to anything but its own articles) and outside images, so the content
carries no ``<a>`` at all: the portal page is ``content_source_url`` ("阅读原文"), and the policy bundle's
other half and an event's other releases are named with their portal URL as plain text (readers can copy it;
"阅读原文" leads to the portal page, where the same links are clickable).

Limits: platform documentation of ``draft/add`` (draftbox ``api_draft_add``), summarised with their sources
in docs/outlets.md#wechat: title ≤ 32, author ≤ 16, digest ≤ 128, content < 20,000 characters and < 1 MB,
in-article images jpg/png < 1 MB, permanent image material ≤ 10 MB, ``content_source_url`` ≤ 1 KB.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
from dataclasses import replace
from datetime import datetime
from html import escape as _escape
from html.parser import HTMLParser
from urllib.parse import quote

from PIL import Image as PILImage

from pressroom.errors import RenditionError
from pressroom.model import Image, Release

from channels import markup
from channels.base import Channel, RenderContext, Rendition, View, display_time, dump_json, render_template
from channels.corrections import Correction, Withdrawal, corrected_title, dated, manual_withdrawal
from channels.portal import body_html, counterpart_link, counterpart_warning, image_resolver, people, text

CHANNEL = Channel(name="wechat", label="微信公众号", short="微信", fast=True, phone=True, uses=("infographic",))
NAME = CHANNEL.name

TITLE_MAX = 32
AUTHOR_MAX = 16
DIGEST_MAX = 128
CONTENT_MAX_CHARS = 20_000  # strictly less than
CONTENT_MAX_BYTES = 1024 * 1024  # strictly less than
SOURCE_URL_MAX_BYTES = 1024
UPLOADIMG_MAX_BYTES = 1_000_000  # "< 1 MB": kept under the decimal megabyte to be safe
COVER_MAX_BYTES = 10 * 1024 * 1024
# The transport swaps each placeholder for an uploadimg URL (http://mmbiz.qpic.cn/..., about 100-130
# characters): the length check reserves this much per image so the final content is still within limits.
UPLOADIMG_URL_RESERVE = 200
IMAGE_LONG_SIDE = 1500  # when re-encoding an oversized body image

COVER_PLACEHOLDER = "pressroom-cover"
IMAGE_SCHEME = "pressroom-image:"
# The 图解 in the article: its own placeholder, which no release image can have ("#" is %-encoded in theirs).
POSTER_PLACEHOLDER = IMAGE_SCHEME + "#infographic"
POSTER_FILE = "images/infographic-poster"
DRAFT_FILE = "wechat-draft.json"  # sorts before the manifest: the outbox's main file is the payload
MANIFEST_FILE = "wechat-manifest.json"
COVER_RATIO = 900 / 383  # 2.35:1, the cover shown in the feed; the 1:1 crop is the square thumbnail

# The only styles in the content: WeChat shows no <style> and no class, and its defaults run paragraphs
# together. Values are ours, never taken from the input.
MUTED = "color:#888;"
STYLE = {
    "p": "margin:0 0 16px;line-height:1.75;text-align:justify;word-wrap:break-word;",
    "h2": "margin:28px 0 14px;padding-left:10px;border-left:4px solid #b8232f;font-size:18px;"
          "font-weight:bold;line-height:1.4;color:#222;",
    "h3": "margin:20px 0 10px;font-size:16px;font-weight:bold;line-height:1.5;",
    "h4": "margin:16px 0 8px;font-size:15px;font-weight:bold;line-height:1.5;",
    "ul": "margin:0 0 16px;padding-left:2em;line-height:1.75;",
    "ol": "margin:0 0 16px;padding-left:2em;line-height:1.75;",
    "blockquote": "margin:0 0 16px;padding:8px 12px;border-left:3px solid #ccc;background:#f7f7f7;color:#555;",
    "table": "width:100%;border-collapse:collapse;font-size:14px;line-height:1.5;",
    "th": "border:1px solid #ccc;padding:4px 6px;background:#f3f3f3;",
    "td": "border:1px solid #ccc;padding:4px 6px;",
    "img": "max-width:100%;height:auto;",
    "figure": "margin:0 0 16px;text-align:center;",
    "figcaption": "margin:6px 0 0;font-size:14px;line-height:1.5;color:#888;text-align:center;",
    "pre": "margin:0 0 16px;white-space:pre-wrap;font-size:14px;",
    "table-wrap": "margin:0 0 16px;overflow-x:auto;",
    "kicker": "margin:0 0 8px;font-size:15px;line-height:1.5;color:#666;",
    "kicker-alone": "margin:0 0 20px;font-size:15px;line-height:1.5;color:#666;",
    "subtitle": "margin:0 0 20px;font-size:16px;font-weight:bold;line-height:1.5;color:#444;",
    "meta": "margin:0 0 8px;font-size:15px;line-height:1.6;color:#555;",
    "box": "margin:20px 0;padding:10px 14px;background:#f7f7f7;border-radius:4px;",
    "box-p": "margin:0 0 6px;font-size:15px;line-height:1.6;",
    "small": "margin:0;font-size:13px;line-height:1.6;color:#888;word-break:break-all;",
    "figure-value": "font-size:20px;font-weight:bold;color:#b8232f;",
    "footer": "margin:24px 0 0;font-size:14px;line-height:1.6;color:#888;",
}
# Sanitized HTML tags WeChat shows as they are; figure/figcaption become section/p, div (portal's table
# wrapper) and a (WeChat drops outside links) keep only their content.
KEEP = {"p", "br", "hr", "h2", "h3", "h4", "strong", "em", "b", "i", "u", "sup", "sub", "blockquote",
        "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "img", "code", "pre"}
RENAME = {"figure": "section", "figcaption": "p"}
VOID = {"br", "hr", "img"}


# ---------------------------------------------------------------------------------------------
# Content HTML


class _WeChatHTML(HTMLParser):
    """Re-emit sanitized HTML (``markup.to_html`` output) with WeChat's tags and our inline styles only;
    image sources become upload placeholders, links lose their href."""

    def __init__(self, placeholders: dict[str, str]):
        super().__init__(convert_charrefs=True)
        self.placeholders = placeholders  # release image path -> placeholder
        self.out: list[str] = []
        self.links: list[str] = []  # outside links dropped, for the warning
        self.pre = 0  # inside <pre>, newlines are content
        self.href = ""  # the outside link being read

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a":
            if (a.get("href") or "").startswith(("http://", "https://")):
                self.links.append(a["href"])
                self.href = a["href"]
            return
        if tag == "table":
            self.out.append(f'<section style="{STYLE["table-wrap"]}">')
        self.pre += tag == "pre"
        if tag not in KEEP and tag not in RENAME:
            return
        extra = ""
        if tag == "img":
            src = self.placeholders.get(a.get("src") or "")
            if src is None:
                return  # only the release's own images reach here; anything else is dropped
            extra = f' src="{_escape(src)}"' + (f' alt="{_escape(a["alt"])}"' if a.get("alt") else "")
        elif tag in ("th", "td"):
            extra = "".join(f' {k}="{_escape(a[k])}"' for k in ("colspan", "rowspan") if a.get(k))
        style = STYLE.get(tag)
        self.out.append(f"<{RENAME.get(tag, tag)}{extra}" + (f' style="{style}"' if style else "") + ">")

    def handle_endtag(self, tag):
        self.pre -= tag == "pre" and self.pre > 0
        if tag == "a" and self.href:
            # Not clickable in WeChat: the full text keeps the address, written out after the link text.
            self.out.append(_escape(f"（网址：{self.href}）"))
            self.href = ""
        if tag in VOID or (tag not in KEEP and tag not in RENAME):
            return
        self.out.append(f"</{RENAME.get(tag, tag)}>")
        if tag == "table":
            self.out.append("</section>")

    def handle_data(self, data):
        if self.pre:
            self.out.append(_escape(data, quote=False))
            return
        if not data.strip() and "\n" in data:
            return  # Markdown's newlines between blocks: WeChat may show them as blank lines
        self.out.append(_escape(_SOFT_BREAK.sub(_join, data), quote=False))


_SOFT_BREAK = re.compile(r"(.?)\n(.?)")


def _join(m: re.Match) -> str:
    """A soft line break inside a paragraph: nothing between Chinese characters, a space between words."""
    a, b = m.group(1), m.group(2)
    return a + (" " if a.isascii() and b.isascii() and a.strip() and b.strip() else "") + b


def _convert(html: str, placeholders: dict[str, str], links: list[str]) -> str:
    p = _WeChatHTML(placeholders)
    p.feed(html)
    p.close()
    links.extend(p.links)
    return "".join(p.out).strip()


def placeholder(image: Image) -> str:
    return IMAGE_SCHEME + quote(image.path)


def _p(style: str, inner: str) -> str:
    return f'<p style="{STYLE[style]}">{inner}</p>'


def _bundle_note(release: Release, ctx: RenderContext) -> str:
    link = counterpart_link(release, ctx)
    if link is None:
        return ""
    label, ref = link
    return (f'<section style="{STYLE["box"]}">'
            + _p("box-p", f"<strong>{label}：</strong>{_escape(text(ref.title))}")
            + _p("small", f"网址：{_escape(ref.url)}")
            + _p("small", "微信内无法直接打开外部链接：可复制上述网址在浏览器中查看，"
                          "或点击文末“阅读原文”进入本文网页版，再点击相关链接。")
            + "</section>")


def _event_note(release: Release, ctx: RenderContext) -> str:
    """An event's releases in publishing order, this one marked: the follow-up note both ways."""
    if release.kind not in ("emergency", "opinion"):
        return ""
    refs = [r for r in ctx.related.values() if r.kind == release.kind]
    if not refs:
        return ""
    tz = ctx.settings.tz
    items = [(datetime.fromisoformat(r.publish_at).astimezone(tz) if r.publish_at else None, r.id, r)
             for r in refs]
    items.append((release.publish_at.astimezone(tz), release.id, None))
    items.sort(key=lambda i: (i[0] is None, i[0].isoformat() if i[0] else "", i[1]))
    lines = []
    for at, _, ref in items:
        when = f"{display_time(at)}　" if at else ""
        if ref is None:
            # No time for this article: it is not known before it goes out, and WeChat shows its own.
            lines.append(_p("box-p", f"{_escape(text(release.title))}（本文）"))
        else:
            lines.append(_p("box-p", f"{when}{_escape(text(ref.title))}<br>"
                                     f'<span style="{STYLE["small"]}">{_escape(ref.url)}</span>'))
    return (f'<section style="{STYLE["box"]}">' + _p("box-p", "<strong>事件相关发布</strong>")
            + "".join(lines) + "</section>")


def has_infographic(release: Release) -> bool:
    """A release that goes out as a 图解 shows that poster inside the article too."""
    return "infographic" in release.channels


def _poster_section(release: Release) -> str:
    """The 图解, uploaded like the body images (its placeholder is in the manifest)."""
    alt = _escape(f"图解：{text(release.title)}")
    return (f'<section style="{STYLE["figure"]}"><img src="{POSTER_PLACEHOLDER}" alt="{alt}" style="{STYLE["img"]}">'
            + _p("figcaption", "图解") + "</section>")


def content_html(release: Release, ctx: RenderContext, links: list[str] | None = None) -> str:
    """The article body WeChat shows under its own title and author line."""
    links = [] if links is None else links
    holders = {img.path: placeholder(img) for img in release.images}
    image_src = image_resolver(release, lambda img: img.path)

    def body(md: str) -> str:
        return _convert(body_html(md, image_src), holders, links)

    ppl = people(release)
    parts = []
    if release.kicker:
        # Without a subtitle below it, the kicker keeps the header's gap before the lead.
        style = "kicker" if release.subtitle else "kicker-alone"
        parts.append(_p(style, _escape(text(release.kicker))))
    if release.subtitle:
        parts.append(_p("subtitle", _escape(text(release.subtitle))))
    parts.append(body(release.lead))
    meta = [("发布部门", release.department.name)]
    if release.document_number:
        meta.append(("发文字号", release.document_number))
    if release.issuer:
        meta.append(("发文机关", "、".join(release.issuer)))
    if ppl["speakers"]:
        meta.append(("新闻发言人", "；".join(ppl["speakers"])))
    if ppl["experts"]:
        meta.append(("解读专家", "；".join(ppl["experts"])))
    parts.append("".join(_p("meta", f"{k}：{_escape(text(v))}") for k, v in meta))
    parts.append(_bundle_note(release, ctx))
    parts.append(_event_note(release, ctx))
    if release.key_figures:
        figs = "".join(_p("box-p", f'<span style="{STYLE["figure-value"]}">{_escape(text(f.value))}</span>'
                                   f"{_escape(text(f.unit))}　{_escape(text(f.label))}")
                       for f in release.key_figures)
        parts.append(f'<section style="{STYLE["box"]}">' + _p("box-p", "<strong>关键数据</strong>") + figs
                     + "</section>")
    for s in release.sections:
        heading = f'<h2 style="{STYLE["h2"]}">{_escape(text(s.heading))}</h2>'
        inner = body(s.body)
        if s.not_applicable:  # shown muted, not omitted: readers see the element was considered
            inner = f'<section style="{MUTED}">{inner}</section>'
        parts.append(heading + inner)
    if has_infographic(release):  # after the text, as on the portal page; uploaded after the body images
        parts.append(_poster_section(release))
    parts.append(_p("footer", f"来源：{_escape(release.department.name)}"))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Images


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def _upload_image(image: Image) -> tuple[str, bytes, str]:
    """(file path, bytes, warning) of a body image as ``uploadimg`` takes it: jpg/png under 1 MB.
    Anything else is re-encoded here, deterministically (same Pillow, same bytes)."""
    if image.format in ("PNG", "JPEG") and len(image.data) < UPLOADIMG_MAX_BYTES:
        return f"images/{image.path}", image.data, ""
    with PILImage.open(io.BytesIO(image.data)) as im:
        im.seek(0)
        frame = im.convert("RGBA")
    if image.format == "GIF":
        buf = io.BytesIO()
        frame.save(buf, "PNG", optimize=True)
        if len(buf.getvalue()) < UPLOADIMG_MAX_BYTES:
            return (_with_suffix(image.path, ".png"), buf.getvalue(),
                    f"正文图片“{image.path}”为 GIF，微信正文只接受 JPG/PNG，已转为 PNG（动图只保留第一帧）")
    flat = PILImage.new("RGB", frame.size, (255, 255, 255))
    flat.paste(frame, mask=frame.getchannel("A"))
    flat.thumbnail((IMAGE_LONG_SIDE, IMAGE_LONG_SIDE), PILImage.LANCZOS)
    for quality in (85, 75, 65, 55):
        buf = io.BytesIO()
        flat.save(buf, "JPEG", quality=quality)
        if len(buf.getvalue()) < UPLOADIMG_MAX_BYTES:
            return (_with_suffix(image.path, ".jpg"), buf.getvalue(),
                    f"正文图片“{image.path}”{_megabytes(len(image.data))}，微信正文图片须为小于 1 MB 的 JPG/PNG，"
                    f"已自动压缩为 JPG（{_megabytes(len(buf.getvalue()))}）；如对画质有要求，请自行压缩后替换")
    raise RenditionError(NAME, "正文", f"正文图片“{image.path}”压缩后仍超过微信正文图片 1 MB 上限",
                         "请把该图片缩小（如长边 1500 像素以内的 JPG）后替换")


def _poster_upload(release: Release, ctx: RenderContext) -> tuple[str, bytes]:
    """(file path, bytes) of the 图解 as ``uploadimg`` takes it: the PNG, or a JPEG when it is 1 MB or more."""
    from channels import infographic  # imported here, as for the cover

    try:
        data = infographic.poster_png(release, ctx)
    except RenditionError as e:  # the article shows the infographic's poster, so it fails for the same reason
        raise RenditionError(NAME, e.field, f"图解无法生成：{e.message}", e.fix) from e
    if len(data) < UPLOADIMG_MAX_BYTES:
        return POSTER_FILE + ".png", data
    with PILImage.open(io.BytesIO(data)) as im:
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "JPEG", quality=88, optimize=True)
    return POSTER_FILE + ".jpg", buf.getvalue()


def _body_images(release: Release, warnings: list[str]) -> tuple[dict[str, bytes], list[dict]]:
    """The body images as uploaded (file path -> bytes), and their manifest entries: the transport uploads
    each with ``media/uploadimg`` and puts the URL it gets in place of the placeholder."""
    files: dict[str, bytes] = {}
    uploads = []
    for img in release.images:
        path, data, note = _upload_image(img)
        files[path] = data
        uploads.append({"path": img.path, "file": path, "placeholder": placeholder(img), "api": "media/uploadimg"})
        if note:
            warnings.append(note)
    return files, uploads


def _with_suffix(path: str, suffix: str) -> str:
    return "images/" + posixpath.splitext(path)[0] + suffix


def _fmt(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def crops(width: int, height: int) -> dict[str, str]:
    """``pic_crop_235_1`` and ``pic_crop_1_1``: centred crops in 0..1 cover coordinates (X1_Y1_X2_Y2)."""
    def centred(ratio: float) -> str:
        if abs(width / height - ratio) / ratio < 0.005:
            return "0_0_1_1"
        if width / height > ratio:  # wider than wanted: trim the sides
            x = (1 - height * ratio / width) / 2
            return f"{_fmt(x)}_0_{_fmt(1 - x)}_1"
        y = (1 - width / ratio / height) / 2
        return f"0_{_fmt(y)}_1_{_fmt(1 - y)}"

    return {"pic_crop_235_1": centred(COVER_RATIO), "pic_crop_1_1": centred(1.0)}


def _cover(release: Release, ctx: RenderContext) -> tuple[str, bytes, int, int, str]:
    """(file name, bytes, width, height, source) of the cover."""
    if release.cover is not None:
        c = release.cover
        ext = {"JPEG": "jpg", "PNG": "png", "GIF": "gif"}.get(c.format, "png")
        return f"cover.{ext}", c.data, c.width, c.height, "release"
    from channels import infographic  # imported here: the cover from a release needs no infographic

    try:
        data = infographic.cover_png(release, ctx)
    except RenditionError as e:  # the cover is the infographic's, so it fails for the same reason
        raise RenditionError(NAME, e.field, f"封面图（图解封面）无法生成：{e.message}", e.fix) from e
    with PILImage.open(io.BytesIO(data)) as im:
        w, h = im.size
    return "cover.png", data, w, h, "infographic"


def _checked_cover(release: Release, ctx: RenderContext, warnings: list[str]) -> tuple[str, bytes, int, int, str]:
    """``_cover``, refused over WeChat's size limit and with a warning when it will look blurred or cropped."""
    cover_name, cover_data, w, h, source = _cover(release, ctx)
    if len(cover_data) > COVER_MAX_BYTES:
        raise RenditionError(NAME, "cover", f"封面图 {_megabytes(len(cover_data))}，超过微信永久素材 10 MB 上限",
                             "请压缩封面图后替换")
    if source == "release" and w < 900:
        warnings.append(f"封面图宽 {w} 像素，小于微信推荐的 900 像素，显示可能模糊")
    if abs(w / h - COVER_RATIO) / COVER_RATIO >= 0.005:
        warnings.append(f"封面图 {w}×{h}，不是微信 2.35:1（900×383）比例，将按居中区域裁切显示")
    return cover_name, cover_data, w, h, source


# ---------------------------------------------------------------------------------------------
# The draft


def _title(release: Release) -> str:
    title = text(release.wechat_title or release.title)
    if len(title) > TITLE_MAX:
        if release.wechat_title:
            raise RenditionError(NAME, "wechat_title", f"微信标题 {len(title)} 字，超过 {TITLE_MAX} 字上限",
                                 f"请把 wechat_title 缩短到 {TITLE_MAX} 字以内")
        raise RenditionError(NAME, "wechat_title", f"标题 {len(title)} 字，超过微信标题 {TITLE_MAX} 字上限",
                             f"请在前置信息中填写不超过 {TITLE_MAX} 字的 wechat_title")
    return title


def _author(ctx: RenderContext) -> str:
    outlet = ctx.settings.outlet(NAME)
    author = text(outlet["author"] or outlet["account"])
    if len(author) > AUTHOR_MAX:
        raise RenditionError(NAME, "author", f"作者“{author}”{len(author)} 字，超过微信 {AUTHOR_MAX} 字上限",
                             f"请在 pressroom.toml 的 [outlets.wechat] 中把 author 改为不超过 {AUTHOR_MAX} 字")
    return author


def _digest(release: Release, warnings: list[str]) -> str:
    digest = text(release.digest)
    if len(digest) > DIGEST_MAX:
        raise RenditionError(NAME, "digest", f"摘要 {len(digest)} 字，超过微信摘要 {DIGEST_MAX} 字上限",
                             f"请把 digest 缩短到 {DIGEST_MAX} 字以内")
    if not digest:
        warnings.append("未填写摘要（digest），微信将自动截取正文前 54 字作为摘要；建议填写")
    return digest


def _check_content(content: str) -> None:
    n_images = content.count(f'src="{IMAGE_SCHEME}')
    chars = len(content) + n_images * UPLOADIMG_URL_RESERVE
    size = len(content.encode("utf-8")) + n_images * UPLOADIMG_URL_RESERVE
    if chars >= CONTENT_MAX_CHARS:
        raise RenditionError(NAME, "正文", f"微信正文 HTML 约 {chars} 字符（含排版标签和图片地址），"
                                          f"须少于 {CONTENT_MAX_CHARS} 字符",
                             "请精简正文，或拆分为多篇稿件分别发布")
    if size >= CONTENT_MAX_BYTES:
        raise RenditionError(NAME, "正文", f"微信正文 HTML 约 {_megabytes(size)}，须小于 1 MB",
                             "请精简正文，或拆分为多篇稿件分别发布")


def render(release: Release, ctx: RenderContext) -> Rendition:
    warnings: list[str] = []
    title = _title(release)
    author = _author(ctx)
    digest = _digest(release, warnings)
    source_url = ctx.url_for(release.id)
    if len(source_url.encode("utf-8")) > SOURCE_URL_MAX_BYTES:
        raise RenditionError(NAME, "content_source_url", "“阅读原文”网址超过 1 KB",
                             "请在 pressroom.toml 的 [outlets.portal] 中使用较短的 base_url")
    links: list[str] = []
    content = content_html(release, ctx, links)
    _check_content(content)

    files, uploads = _body_images(release, warnings)
    if has_infographic(release):
        poster_file, files[poster_file] = _poster_upload(release, ctx)
        uploads.append({"path": "图解", "file": poster_file, "placeholder": POSTER_PLACEHOLDER,
                        "api": "media/uploadimg"})
    cover_name, cover_data, w, h, source = _checked_cover(release, ctx, warnings)
    files[cover_name] = cover_data

    article = {
        "title": title,
        "author": author,
        "digest": digest,
        "content": content,
        "content_source_url": source_url,
        "thumb_media_id": COVER_PLACEHOLDER,
        "need_open_comment": 0,
        "only_fans_can_comment": 0,
        **crops(w, h),
    }
    payload = {"articles": [article]}
    manifest = {
        "draft": DRAFT_FILE,
        "images": uploads,
        "cover": {"file": cover_name, "placeholder": COVER_PLACEHOLDER, "field": "thumb_media_id",
                  "api": "material/add_material", "source": source, "width": w, "height": h},
    }
    files[DRAFT_FILE] = dump_json(payload)
    files[MANIFEST_FILE] = dump_json(manifest)

    if links:
        warnings.append(f"正文中的 {len(links)} 个外部链接在微信文章中无法点击，已在链接文字后写明网址"
                        f"（{'、'.join(dict.fromkeys(links))}）；也可引导读者点击“阅读原文”")
    warnings.extend(counterpart_warning(release, ctx))
    if release.follow_up_of and release.follow_up_of not in ctx.related:
        warnings.append(f"未找到首发稿件“{release.follow_up_of}”，文中的事件相关发布不完整")
    return Rendition(channel=NAME, release_id=release.id, version=release.version, title=title,
                     files=files, payload=payload, warnings=tuple(warnings))


CORRECTION_NOTE = ("margin:0 0 20px;padding:10px 14px;background:#fff6f4;border-left:4px solid #b8232f;"
                   "font-size:15px;line-height:1.6;color:#333;")


def correct(release: Release, ctx: RenderContext, base: Rendition, c: Correction, earlier: list[Correction],
            old: str | None) -> Rendition:
    """WeChat cannot edit a published article: the correction is a new article, 【更正】 in its title and a
    note on top naming the article it corrects."""
    article = dict(base.payload["articles"][0])
    title, cut = corrected_title(article["title"], TITLE_MAX)
    when = f"{dated(c.old_published_at, ctx)}发布的" if c.old_published_at else "此前发布的"
    said = c.note.removeprefix("本文")  # "原稿中……": this article is not the one that was wrong
    # Only links to WeChat's own articles survive in an article: the old one is linked when it is one.
    old_title = markup.escape(c.old_title or release.title)
    link = (f'<a href="{markup.escape(c.old_url)}">《{old_title}》</a>'
            if c.old_url.startswith("https://mp.weixin.qq.com/") else f"《{old_title}》")
    note = f'<p style="{CORRECTION_NOTE}"><strong>【更正】</strong>本文为{when}{link}的更正稿。{markup.escape(said)}</p>'
    article.update(title=title, content=note + article["content"])
    _check_content(article["content"])  # the note must not push the article over WeChat's limits
    payload = {"articles": [article]}
    files = {**base.files, DRAFT_FILE: dump_json(payload)}
    warnings = base.warnings + ((f"微信标题加“【更正】”后超过 {TITLE_MAX} 字，已截短为“{title}”",) if cut else ())
    return replace(base, title=title, payload=payload, files=files, warnings=warnings)


def withdraw(release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    """The transport deletes the article; this note is what an outbox receives instead."""
    return manual_withdrawal(NAME, CHANNEL.label, release_id, ctx, w)


ARTICLE_VIEW = "wechat-article.html"  # the article as a follower's phone shows it (approval page only)


def view(rendition: Rendition, settings) -> View | None:
    """The draft as the article a follower reads: title, author, cover, body (its images are the
    rendition's own files, where delivery puts the uploaded ones)."""
    files = rendition.files
    if DRAFT_FILE not in files:
        return None
    article = json.loads(files[DRAFT_FILE])["articles"][0]
    manifest = json.loads(files.get(MANIFEST_FILE, b"{}") or b"{}")
    content = article.get("content", "")
    for img in manifest.get("images", []):
        if img.get("placeholder") and img.get("file"):
            content = content.replace(img["placeholder"], img["file"])
    cover = (manifest.get("cover") or {}).get("file", "")
    page = render_template("preview/wechat-article.html", article=article, content=content,
                           cover=cover if cover in files else "")
    return View(pages={ARTICLE_VIEW: page})
