"""H5 page: one self-contained mobile HTML file (``<id>-h5.html``) for sharing in WeChat and the news app.

Everything is inside the file: CSS inline, the body images as ``data:`` URIs (the 图解 poster is not
repeated at phone width, where its text would be 5 px high: the page links it on the portal), no script
(sections fold with ``<details>``), no web font; the only outward links are to the portal page, the policy
bundle's other half, an event's other releases (and the press hall's page listing them) and an emergency's
hotlines (``tel:``), and the one outside resource is the micro-video on the portal (when the release has
one), fetched only when the reader presses play. Drawn for a 375 CSS px phone (750 px design width).
"""

from __future__ import annotations

import base64
from dataclasses import replace

from pressroom.model import Release

from channels import video
from channels.corrections import Correction, Withdrawal, page_note, withdrawal, withdrawal_page
from channels.base import Channel, Published, RenderContext, Rendition, render_template, video_embed
from channels.portal import (
    body_html, counterpart_link, counterpart_warning, emergency_view, event_timeline, image_resolver, people, text,
)

CHANNEL = Channel(name="h5", label="H5 页面", short="H5", outbox="assets/{release}", phone=True)
NAME = CHANNEL.name

MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}
# Our own advice, not a platform limit: a page this heavy loads slowly on a phone's mobile data.
HEAVY_BYTES = 3 * 1024 * 1024


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def file_name(release_id: str) -> str:
    return f"{release_id}-h5.html"


def _video(release: Release, ctx: RenderContext) -> dict[str, str] | None:
    """The micro-video, played from the portal (the one outside resource, loaded only when the reader presses
    play: ``preload="none"``); its poster is inside the page like every picture."""
    embed = video_embed(release, ctx.settings, ctx.portal_base)
    return embed and {**embed, "poster": data_uri(video.poster(release, ctx), "image/jpeg")}


def page_html(release: Release, ctx: RenderContext, note: str = "") -> str:
    """The H5 page; ``note`` is the 更正说明 of a corrected release, under the title card."""
    s = ctx.settings
    sites = list(s.site_names)
    image_src = image_resolver(release, lambda img: data_uri(img.data, MIME.get(img.format, "image/png")))
    link = counterpart_link(release, ctx)
    sections = [{"heading": sec.heading, "html": body_html(sec.body, image_src),
                 "not_applicable": sec.not_applicable} for sec in release.sections]
    return render_template(
        "h5/page.html",
        r=release,
        title=text(release.title),
        kicker=text(release.kicker),
        subtitle=text(release.subtitle),
        digest=text(release.digest),
        sites=sites,
        press_office=s.city.press_office,
        published=Published(release.publish_at.astimezone(s.tz)),  # filled on delivery
        people=people(release),
        # The poster is drawn 1080 px wide: in a 375 px page its small text is 5 px high, unreadable. The H5
        # shows its numbers as text (数读) and links the 图解 on the portal page, where it opens whole.
        infographic=f"{ctx.url_for(release.id)}#infographic" if "infographic" in release.channels else "",
        lead=body_html(release.lead, image_src),
        sections=sections,
        portal_url=ctx.url_for(release.id),
        counterpart=({"label": link[0], "title": link[1].title, "href": link[1].url} if link else None),
        video=_video(release, ctx),
        emergency=emergency_view(release, ctx),
        timeline=[dict(i, href=ctx.url_for(i["id"])) if not i["current"] else i for i in event_timeline(release, ctx)],
        note=note,
    )


def render(release: Release, ctx: RenderContext) -> Rendition:
    page = page_html(release, ctx).encode("utf-8")
    warnings = counterpart_warning(release, ctx)
    if len(page) > HEAVY_BYTES:
        warnings.append(f"H5 页面 {len(page) / 1024 / 1024:.1f} MB，超过 3 MB，手机流量下打开较慢；"
                        "建议压缩正文图片（长边 1500 像素以内的 JPG）")
    return Rendition(channel=NAME, release_id=release.id, version=release.version, title=release.title,
                     files={file_name(release.id): page}, warnings=tuple(warnings))


def correct(release: Release, ctx: RenderContext, base: Rendition, c: Correction, earlier: list[Correction],
            old: str | None) -> Rendition:
    name = file_name(release.id)
    html = page_html(release, ctx, note=page_note([*earlier, c], ctx))
    return replace(base, files={**base.files, name: html.encode("utf-8")})


def withdraw(release_id: str, ctx: RenderContext, w: Withdrawal) -> Rendition:
    return withdrawal(NAME, release_id, w, {file_name(release_id): withdrawal_page(release_id, ctx, w).encode("utf-8")})
