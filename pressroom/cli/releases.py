"""``pressroom new``, ``validate``, ``list`` and ``preview``: writing and checking releases."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table
from rich.text import Text

from pressroom.cli.base import EDITOR, app, console, err, find_release, load_settings, print_problems
from pressroom.errors import ValidationFailed
from pressroom.model import KIND_LABELS, PLACEHOLDER, REQUIRED_SECTIONS


@app.command()
def new(kind: str = typer.Argument(..., help="routine | policy | emergency | opinion | policy-document"),
        slug: str = typer.Argument(..., help="稿件 id，也是文件夹名，如 water-price-2026"),
        department: str = typer.Option(..., "--department", "-d", help="部门简称（content/departments.yaml）"),
        title: str = typer.Option(PLACEHOLDER, "--title", help="标题")):
    """Scaffold a release folder with the kind's required sections, like `hugo new`."""
    from pressroom.releases.loader import ID_PATTERN, load_registry

    settings = load_settings()
    if kind not in KIND_LABELS:
        err.print(f"发布类型“{kind}”无效，可选：{'、'.join(f'{k}（{v}）' for k, v in KIND_LABELS.items())}")
        raise typer.Exit(2)
    if not ID_PATTERN.match(slug):
        err.print(f"id“{slug}”格式不对：只能用小写英文字母、数字和连字符（2—64 位）")
        raise typer.Exit(2)
    registry = load_registry(settings.content_dir)
    if department not in registry.departments:
        err.print(f"部门“{department}”不在 content/departments.yaml 中")
        raise typer.Exit(2)
    folder = settings.content_dir / "releases" / slug
    if folder.exists():
        err.print(f"{folder} 已存在，未作改动")
        raise typer.Exit(2)
    speakers = sorted(registry.speakers_of(department), key=lambda s: not s.head)
    tomorrow = (datetime.now(settings.tz) + timedelta(days=1)).replace(hour=10, minute=0)
    lines = [
        "---",
        f"id: {slug}",
        f"title: {title}",
        f"kind: {kind}",
        f"department: {department}",
        f"speakers: [{speakers[0].name if speakers else PLACEHOLDER}]",
        f"publish_at: {tomorrow:%Y-%m-%d %H:%M}   # 北京时间",
        f"digest: {PLACEHOLDER}",
        "keywords: []",
        "key_figures: []   # - {label: 说明, value: \"31\", unit: 个}",
    ]
    if kind == "policy":
        lines.append(f"interprets: {PLACEHOLDER}   # 被解读政策文件的 id")
    if kind == "policy-document":
        lines += [f"document_number: {PLACEHOLDER}", "issuer: []"]
    if kind in ("emergency", "opinion"):
        lines.append(f"event_at: {datetime.now(settings.tz):%Y-%m-%d %H:%M}   # 事件发生时间")
    lines += ["---", "", f"{PLACEHOLDER}（导语：何时、何地、何人、何事）", ""]
    for heading in REQUIRED_SECTIONS[kind] or ("正文",):
        lines += [f"## {heading}", "", PLACEHOLDER, ""]
    folder.mkdir(parents=True)
    (folder / "images").mkdir()
    (folder / "release.md").write_text("\n".join(lines), encoding="utf-8")
    console.print(f"已创建 {folder / 'release.md'}（{KIND_LABELS[kind]}）：请填写所有“{PLACEHOLDER}”，再运行 pressroom validate")


@app.command("import")
def import_docx(file: Path = typer.Argument(..., help="Word 文件（.docx）"),
                kind: Optional[str] = typer.Option(None, "--kind", "-k", help="发布类型；不填则按文号和小标题判断"),
                department: str = typer.Option("", "--department", "-d", help="部门简称（content/departments.yaml）"),
                rid: str = typer.Option("", "--id", help="稿件 id，也是文件夹名；不填则按文件名或日期生成")):
    """Create a release folder from a Word file (.docx): title, sections, tables, images, signature block."""
    from pressroom.releases.importer import ImportRefused, import_docx as run
    from pressroom.releases.loader import load_registry

    settings = load_settings()
    registry = load_registry(settings.content_dir)
    if department and department not in registry.departments:
        err.print(f"部门“{department}”不在 content/departments.yaml 中")
        raise typer.Exit(2)
    try:
        folder, draft = run(file, settings.content_dir / "releases", kind, department, rid, registry,
                            datetime.now(settings.tz))
    except ImportRefused as e:
        err.print(f"[bold red]✗ 未导入：{e.message}。[/]{e.fix}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    _report_import(settings, registry, folder, draft)


def _report_import(settings, registry, folder: Path, draft) -> None:
    """What was read, what was dropped, and what the editor must still supply (the validator's list)."""
    from pressroom.releases.catalog import validate as run
    from pressroom.releases.loader import split_front_matter, split_sections

    _lead, sections = split_sections(split_front_matter(draft.release_md)[1])
    console.print(f"[green]✓[/] 已导入 {folder / 'release.md'}（{KIND_LABELS[draft.kind]}）：标题“{draft.title or PLACEHOLDER}”，"
                  f"{len(sections)} 个小节，{len(draft.images)} 张图片", highlight=False, soft_wrap=True)
    for label, value in (("发文字号", draft.document_number), ("发文机关", "、".join(draft.issuer)),
                         ("成文日期", draft.written_on)):
        if value:
            console.print(f"  {label}：{value}", highlight=False, soft_wrap=True)
    for label, items in (("已删去的脚注（正文中留有注释，校验和预览会一直提示）", draft.footnotes),
                         ("已删去的批注", draft.comments), ("提示", draft.warnings)):
        if items:
            console.print(f"[yellow]{label}：[/]", highlight=False, soft_wrap=True)
            for i, item in enumerate(items, 1):
                console.print(f"  {i}. {item}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"[bold]请补充（文件中已留“{PLACEHOLDER}”）：[/]", highlight=False, soft_wrap=True)
    for item in draft.to_fill:
        console.print(f"  • {item}", highlight=False, markup=False, soft_wrap=True)
    department = next((line.split(":", 1)[1].strip() for line in draft.release_md.splitlines()
                       if line.startswith("department:")), "")
    names = [s.name for s in sorted(registry.speakers_of(department), key=lambda s: not s.head)]
    if names:
        console.print(f"  本部门登记的发言人：{'、'.join(names)}", highlight=False, soft_wrap=True)
    catalog = run(settings, render=False, only=folder.name, **EDITOR)
    problems = catalog.problems.get(folder.name, [])
    if problems:
        print_problems(f"{folder.name}：校验未通过（{len(problems)} 个问题），补充后请运行 pressroom validate", problems)
    else:
        console.print("[green]校验通过[/]")


@app.command()
def validate(paths: Optional[List[Path]] = typer.Argument(None, help="稿件文件夹；不填则校验全部"),
             audit: Optional[str] = typer.Option(None, "--audit", help="列出该稿件各渠道的事实核对表")):
    """Validate releases (and the registry); exit 1 listing every problem. Audit findings a verified
    reviewer waived (``pressroom waive``) do not count."""
    from pressroom.delivery.waivers import validate as run

    settings = load_settings()
    if audit:
        raise typer.Exit(print_audit(settings, audit))
    wanted = {p.resolve().name if p.name != "release.md" else p.resolve().parent.name for p in paths or []}
    try:  # one release asked for: only it and its bundle are rendered (every release is still loaded)
        catalog = run(settings, only=next(iter(wanted)) if len(wanted) == 1 else None, **EDITOR)
    except ValidationFailed as e:
        print_problems("登记表（departments.yaml / spokespeople.yaml）", e.problems)
        raise typer.Exit(1)
    from pressroom.delivery.reviewers import registry_problems

    reviewer_problems, reviewer_warnings = registry_problems(settings, set(catalog.registry.departments))
    if reviewer_problems:
        print_problems("审核人名单（reviewers.yaml）", reviewer_problems)
    for w in reviewer_warnings:
        console.print(Text.assemble(("提示 ", "yellow"), w), highlight=False, soft_wrap=True)
    failed = 0
    for folder, problems in sorted(catalog.problems.items()):
        if wanted and folder not in wanted:
            continue
        failed += 1
        print_problems(folder, problems)
    for r in sorted(catalog.releases.values(), key=lambda r: r.id):
        if wanted and Path(r.source).name not in wanted:
            continue
        console.print(f"[green]✓[/] {r.id}（{r.kind_label}，{r.department.short}）")
        for w in catalog.warnings.get(r.id, []):
            console.print(Text.assemble(("    提示 ", "yellow"), w), highlight=False, soft_wrap=True)
    missing = wanted - set(catalog.problems) - {Path(r.source).name for r in catalog.releases.values()}
    for name in sorted(missing):
        err.print(f"[red]✗ 找不到稿件文件夹 {name}[/]")
        failed += 1
    if failed:
        err.print(f"[bold red]{failed} 篇稿件未通过校验，任何渠道都不会发布它们。[/]")
    if failed or reviewer_problems:
        raise typer.Exit(1)


def print_audit(settings, name: str) -> int:
    """The fidelity audit of one release: per channel what it keeps, leaves out and adds; 1 if not clean."""
    from pressroom.delivery.waivers import validate as run
    from pressroom.releases import audit as fidelity

    catalog = run(settings, only=name, **EDITOR)
    try:
        rid = catalog.find(name).id
    except (KeyError, ValidationFailed):
        rid = Path(name).name
    result = catalog.audits.get(rid)
    waived = {f for r, version, f in catalog.waived if r == rid and result and version == result.version}
    if result is None:
        err.print(f"[red]✗ 找不到稿件 {name}，或它未能生成各渠道稿件（请先运行 pressroom validate）[/]")
        return 2
    facts = Table(title=f"{rid} 原稿事实（{len(result.facts)} 项）")
    for col in ("类别", "事实", "位置"):
        facts.add_column(col)
    for f in result.facts:
        facts.add_row(f.label, f.shown, f.where)
    console.print(facts)
    rows = fidelity.table(result, waived)
    t = Table(title=f"{rid} 各渠道事实核对（全文渠道须刊载每项事实；任何渠道不得新增）")
    for col in rows[0] if rows else ():
        t.add_column(col)
    for row in rows:
        t.add_row(*(str(v) for v in row.values()))
    console.print(t)
    findings = fidelity.findings(result)
    if findings:
        t = Table(title=f"{rid} 核对项（审核人可说明理由后豁免一项：pressroom waive {rid} 核对项 --reason … --reviewer … --code …）")
        for col in ("核对项", "内容", "状态"):
            t.add_column(col, overflow="fold")
        for f in findings:
            t.add_row(f.id, f.describe(), "已豁免" if f.id in waived else "[red]未通过[/]")
        console.print(t)
    return 0 if all(f.id in waived for f in findings) else 1


@app.command("list")
def list_releases():
    """List releases: kind, department, publish time, validity."""
    from pressroom.releases.catalog import validate as run

    settings = load_settings()
    catalog = run(settings, render=False, **EDITOR)
    table = Table(title="稿件")
    for col in ("id", "类型", "部门", "发布时间", "状态"):
        table.add_column(col)
    for r in sorted(catalog.releases.values(), key=lambda r: r.publish_at):
        table.add_row(r.id, r.kind_label, r.department.short, f"{r.publish_at:%Y-%m-%d %H:%M %z}", "[green]有效[/]")
    for folder, problems in sorted(catalog.problems.items()):
        table.add_row(folder, "", "", "", f"[red]{len(problems)} 个问题[/]")
    console.print(table)


@app.command()
def preview(release: str = typer.Argument(..., help="稿件 id 或文件夹"),
            out: Optional[Path] = typer.Option(None, "--out", help="输出文件夹（默认 outbox/preview/<id>）")):
    """Write one HTML page showing every channel's rendition side by side, with its warnings."""
    from pressroom.sites.preview import build_preview

    settings = load_settings()
    catalog, r = find_release(settings, release)
    page = build_preview(r, catalog, out or settings.outbox_dir / "preview" / r.id)
    console.print(f"预览：{page.as_uri()}")
