"""What every page of a government website carries besides its content (国办发〔2017〕47号《政府网站发展指引》,
附件《网页设计规范》; docs/outlets.md#government-websites): the page meta tags inspectors' crawlers read
(``ArticleTitle``, ``PubDate``, ``ContentSource``, ``ColumnName``, ``ColumnType``, ``SiteName``, ``SiteDomain``,
``SiteIDCode``), Open Graph tags for sharing, and the footer lines (主办、承办、网站标识码、ICP备案号、公安机关备案号).

Shared by the portal column (``channels.portal``) and the press hall (``pressroom.sites.presshall``); the
templates are ``portal/_gov.html`` (meta, tools, footer macros) and the ``gov`` rules of ``portal/style.css``.
The shown publication time is not passed here: the templates derive ``PubDate`` from the page's own time
variable, so the metadata can never disagree with the time the page shows.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pressroom.settings import Settings

# ColumnType, as government sites classify columns for the inspection's update clocks (动态要闻 within two
# weeks; 通知公告 and 政策文件 within six months).
NEWS, NOTICES, POLICY_DOCUMENTS, INTERPRETATIONS = "动态要闻", "通知公告", "政策文件", "政策解读"
COLUMN_TYPE_OF_KIND = {"policy-document": POLICY_DOCUMENTS, "policy": INTERPRETATIONS}

ICP_URL = "https://beian.miit.gov.cn/"  # where an ICP number is looked up (MIIT)
POLICE_URL = "https://beian.mps.gov.cn/"  # where a 公安 filing number is looked up


def column_type(kind: str) -> str:
    return COLUMN_TYPE_OF_KIND.get(kind, NEWS)


def press_hall_base(settings: Settings) -> str:
    """The press hall's public base URL, ending in "/" (default: a folder under the portal column)."""
    base = settings.outlet("press_hall")["base_url"] or (settings.outlet("portal")["base_url"].rstrip("/") + "/presshall/")
    return base if base.endswith("/") else base + "/"


def site_domain(settings: Settings) -> str:
    return settings.site.domain or urlsplit(settings.outlet("portal")["base_url"]).hostname or ""


def meta(settings: Settings, *, site_name: str, column: str, column_type: str, title: str, source: str,
         url: str, description: str = "", image: str = "", article: bool = True) -> dict:
    """The values of the page's meta and Open Graph tags (``portal/_gov.html`` ``meta``); empty ones are
    left out by the template."""
    return {"site_name": site_name, "domain": site_domain(settings), "id_code": settings.site.id_code,
            "column": column, "column_type": column_type, "title": title, "source": source, "url": url,
            "description": description, "image": image, "og_type": "article" if article else "website"}


def footer(settings: Settings) -> list[dict]:
    """The footer's lines, in the order government sites print them; a line whose setting is empty is left out.
    Each is ``{"label", "value", "href"}`` (``href`` where the number can be looked up)."""
    s = settings.site
    rows = [("主办", s.sponsor, ""), ("承办", s.organizer, ""),
            ("网站标识码", s.id_code, ""), ("ICP备案号", s.icp, ICP_URL), ("公安机关备案号", s.police, POLICE_URL)]
    return [{"label": label, "value": value, "href": href} for label, value, href in rows if value]


def portal_page(settings: Settings, *, title: str, source: str, url: str, column_type: str,
                description: str = "", image: str = "", article: bool = True) -> dict:
    """The template values ``portal/_frame.html`` needs for a page of the portal column."""
    outlet = settings.outlet("portal")
    return {"meta": meta(settings, site_name=settings.site_names[0], column=outlet["column"],
                         column_type=column_type, title=title, source=source, url=url, description=description,
                         image=image, article=article),
            "footer_lines": footer(settings)}
