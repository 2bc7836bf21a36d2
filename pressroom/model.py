"""The release model: plain frozen values. After loading, nothing reads a file again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

KIND_LABELS = {
    "routine": "例行发布",
    "policy": "政策解读",
    "emergency": "突发事件",
    "opinion": "政务舆情",
    "policy-document": "政策文件",
}

# The content elements the notice demands per kind (淮宣〔2017〕78号 part 三; R1).
# A section may be present with the body "不涉及" to mark an element deliberately not applicable.
REQUIRED_SECTIONS = {
    "policy": ("背景依据", "目标任务", "主要内容", "涉及范围", "执行标准",
               "注意事项", "关键词诠释", "惠民利民举措", "新旧政策差异"),
    "emergency": ("事件情况", "工作进展", "责任认定"),
    "opinion": ("涉事热点问题", "社会关切"),
    "routine": ("议题",),
    "policy-document": (),
}

# A policy document's 有效性 (国办发〔2017〕47号: amended, repealed or expired documents are clearly labelled).
DOCUMENT_STATUS = {"effective": "有效", "superseded": "已失效（已被新文件替代）", "repealed": "已废止", "expired": "已失效"}

NOT_APPLICABLE = "不涉及"
PLACEHOLDER = "【待填写】"  # what `pressroom new` leaves for the editor; a release still carrying it is not done


@dataclass(frozen=True)
class Department:
    key: str
    name: str
    short: str
    listed: bool  # one of the notice's 31 "2·1+N" departments (R6)


@dataclass(frozen=True)
class Speaker:
    name: str
    title: str
    department: str
    head: bool = False  # 主要负责人: 第一责任人、第一解读人、第一发言人 (R2)


@dataclass(frozen=True)
class Liaison:
    name: str
    title: str
    department: str
    phone: str = ""


@dataclass(frozen=True)
class Hotline:
    """A number the public calls in an emergency (110, 119, 12345 …): shown first, as a tel: link."""
    name: str
    number: str


@dataclass(frozen=True)
class Expert:
    name: str
    title: str


@dataclass(frozen=True)
class KeyFigure:
    label: str
    value: str
    unit: str = ""


@dataclass(frozen=True)
class Section:
    heading: str
    body: str  # Markdown
    not_applicable: bool = False
    element: str = ""  # the kind's required element it stands for ("一、背景依据" -> "背景依据"), or ""


@dataclass(frozen=True)
class Image:
    path: str  # relative to the release folder, POSIX separators
    data: bytes = field(repr=False)
    format: str  # "PNG" | "JPEG" | "GIF"
    width: int
    height: int
    caption: str = ""


@dataclass(frozen=True)
class Release:
    id: str
    title: str
    kind: str
    department: Department
    speakers: tuple[Speaker, ...]
    publish_at: datetime  # always timezone-aware
    channels: tuple[str, ...]
    lead: str  # Markdown before the first "##" heading: the 导语
    sections: tuple[Section, ...]
    content_hash: str  # sha256 of release.md and every image: what was reviewed is what is sent
    source: str  # folder path, for messages only
    kicker: str = ""  # 引题
    subtitle: str = ""  # 副题
    wechat_title: str = ""
    digest: str = ""
    keywords: tuple[str, ...] = ()
    key_figures: tuple[KeyFigure, ...] = ()
    experts: tuple[Expert, ...] = ()
    venue: str = ""
    images: tuple[Image, ...] = ()  # every image the body references, in order
    cover: Image | None = None
    important: bool = False  # 涉及全市的重要发布: needs the full approval chain (R3)
    press_conference: bool = False  # held as a press conference (the 24 h rule for emergencies; R4, R6)
    interprets: str = ""  # policy interpretation -> id of its policy document
    document_number: str = ""  # policy document: 发文字号
    issuer: tuple[str, ...] = ()
    event_at: datetime | None = None  # emergency / opinion: when it happened (deadline clocks)
    follow_up_of: str = ""  # emergency update -> id of the first release of the event
    video_points: tuple[str, ...] = ()  # the micro-video's points, as the editor words them (2-4)
    copy_allow: tuple[str, ...] = ()  # 错敏 pattern ids this release may use (e.g. a historical document's old names)
    # The editor's own TV read of a section, used when the TV script must be shortened to fit its slot:
    # (section heading, text) pairs (README "Content format", ``tv_summary``).
    tv_summary: tuple[tuple[str, str], ...] = ()
    # Emergencies only: what the public should do and whom to call, put first on every page.
    safety: tuple[str, ...] = ()  # 安全提示, one piece of advice each
    hotlines: tuple[Hotline, ...] = ()
    # Policy documents only (the information block of a government site's document page):
    index_number: str = ""  # 索引号; empty: made from the 文号 (channels/officialdoc.py)
    topic: str = ""  # 主题分类, one of content/topics.yaml
    written_on: str = ""  # 成文日期 as written (2017年9月1日); empty: the date closing the body
    status: str = "effective"  # 有效性, a key of DOCUMENT_STATUS
    supersedes: tuple[str, ...] = ()  # ids of the earlier documents this one replaces

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    def tv_summary_of(self, heading: str) -> str:
        return next((t for h, t in self.tv_summary if h == heading), "")

    def section(self, heading: str) -> Section | None:
        return next((s for s in self.sections if heading in (s.heading, s.element)), None)

    @property
    def version(self) -> str:
        """Short content hash: a changed release is a new version."""
        return self.content_hash[:12]


@dataclass(frozen=True)
class Registry:
    """Departments and their spokespersons and liaisons (R2, R8)."""

    departments: dict[str, Department]
    speakers: dict[str, Speaker]  # by name; names are unique across the registry
    liaisons: dict[str, Liaison]  # by department key
    topics: tuple[str, ...] = ()  # 主题分类 a policy document may name (content/topics.yaml)

    def speakers_of(self, department: str) -> list[Speaker]:
        return [s for s in self.speakers.values() if s.department == department]
