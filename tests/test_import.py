"""``pressroom import FILE.docx``: Word files built in tests/docx_samples.py become release folders whose
release.md equals the expected one in tests/import_expected/, with the gaps left as placeholders the
validator refuses; the files that cannot be imported are refused with what to do.

After a deliberate change of the importer's output: ``python -m tests.test_import --refresh``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from tests import docx_samples
from tests.conftest import ROOT

EXPECTED = Path(__file__).parent / "import_expected"
# sample -> (command-line options, id of the folder it becomes)
CASES = {
    "interpretation_with_styles": (["--department", "城乡建设", "--id", "old-housing-interpretation"],
                                   "old-housing-interpretation"),
    "document_typed_by_hand": (["--id", "old-housing-notice"], "old-housing-notice"),  # kind and department guessed
    "emergency_with_colons": (["--department", "市应急办", "--id", "crane-2026"], "crane-2026"),
}


def make_project(tmp: Path, mp: pytest.MonkeyPatch) -> Path:
    """A content folder with the real registry and no releases; the CLI pointed at it."""
    content = tmp / "content"
    (content / "releases").mkdir(parents=True)
    for name in ("departments.yaml", "spokespeople.yaml", "sensitive.yaml"):
        shutil.copy(ROOT / "content" / name, content / name)
    cfg = tmp / "pressroom.toml"
    cfg.write_text((ROOT / "pressroom.toml").read_text(encoding="utf-8"), encoding="utf-8")
    mp.setenv("PRESSROOM_CONFIG", str(cfg))
    mp.setenv("PRESSROOM_CONTENT", str(content))
    mp.chdir(tmp)
    return content


@pytest.fixture
def project(tmp_path, monkeypatch):
    return make_project(tmp_path, monkeypatch)


class Result:
    """A command's exit code and output; ``out`` without whitespace, as the terminal's wrapping breaks lines."""

    def __init__(self, result):
        self.exit_code, self.output = result.exit_code, result.output
        self.out = "".join(result.output.split())


def run(*args) -> Result:
    from pressroom.cli import app

    return Result(CliRunner().invoke(app, list(args)))


def import_sample(project, name: str):
    path = project.parent / "inbox" / f"{name}.docx"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(docx_samples.SAMPLES[name]())
    options, rid = CASES[name]
    result = run("import", str(path), *options)
    assert result.exit_code == 0, result.output
    return result, project / "releases" / rid


@pytest.mark.parametrize("name", sorted(CASES))
def test_release_md_is_the_expected_one(project, name):
    _result, folder = import_sample(project, name)
    assert (folder / "release.md").read_text(encoding="utf-8") == (EXPECTED / f"{name}.md").read_text(encoding="utf-8")


def test_styled_interpretation_keeps_table_image_bold_and_lists_what_was_dropped(project):
    result, folder = import_sample(project, "interpretation_with_styles")
    text = (folder / "release.md").read_text(encoding="utf-8")
    assert "| 基础类 | 水电气路、消防设施 | 财政补助为主 |" in text
    assert "![改造后的田家庵区某小区](images/image-1.png)" in text and "**312个**" in text
    assert "[市城乡建委网站](https://cxjw.huainan.gov.cn/zcwj/2026-12.html)" in text
    with PILImage.open(folder / "images" / "image-1.png") as im:
        assert (im.format, im.size) == ("PNG", (240, 160))
    out = result.out
    assert "淮政办〔2025〕9号" in out and "户数请再核实" in out  # the footnote and the comment, listed
    assert "答记者问" in out and "不是政策解读的必备要素" in out  # kept, with a warning
    assert "本部门登记的发言人：苗立群、谈建中" in out
    assert "校验未通过" in out and "【待填写】" in out and "speakers" in out and "publish_at" in out


def test_typed_document_reads_number_issuer_date_and_guesses_kind_and_department(project):
    result, folder = import_sample(project, "document_typed_by_hand")
    out = result.out
    assert "发文字号：淮建〔2026〕12号" in out and "发文机关：淮南市城乡建设委员会" in out
    assert "成文日期：2026年3月5日" in out and "（政策文件）" in out
    text = (folder / "release.md").read_text(encoding="utf-8")
    assert "department: 城乡建设" in text and "## 一、总体要求" in text and "### （一）工作目标" in text


def test_filled_in_the_imported_pair_validates_and_keeps_listing_the_footnote(project):
    """The import is a real release: once an editor fills the placeholders, it validates (the footnote still
    warned of, in validation and in the preview)."""
    _r, interpretation = import_sample(project, "interpretation_with_styles")
    _r, document = import_sample(project, "document_typed_by_hand")
    assert run("validate").exit_code == 1
    fills = {"  - 【待填写】": "  - 苗立群", "publish_at: 【待填写】": "publish_at: 2026-11-20 10:00 #",
             "digest: 【待填写】": "digest: 我市加快推进城镇老旧小区改造。",
             "interprets: 【待填写】": "interprets: old-housing-notice #"}
    for folder in (interpretation, document):
        text = (folder / "release.md").read_text(encoding="utf-8")
        for old, new in fills.items():
            text = text.replace(old, new)
        (folder / "release.md").write_text(text, encoding="utf-8")
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert "✓old-housing-interpretation" in result.out and "✓old-housing-notice" in result.out
    assert "脚注1“见《淮南市城镇老旧小区改造三年行动方案》" in result.out
    preview = run("preview", "old-housing-interpretation", "--out", str(project.parent / "preview"))
    assert preview.exit_code == 0, preview.output
    page = (project.parent / "preview" / "index.html").read_text(encoding="utf-8")
    assert "脚注1" in page and "淮政办〔2025〕9号" in page


@pytest.mark.parametrize("name, data, said", [
    ("draft.docx", docx_samples.with_tracked_changes, ["未处理的修订（插入 1 处、删除 1 处）", "接受（或拒绝）所有修订"]),
    ("old.doc", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, ["旧版 Word/WPS 格式", "另存为", "*.docx"]),
    ("wps.wps", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, ["旧版 Word/WPS 格式", "另存为"]),
    ("renamed.docx", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, ["旧版 Word/WPS 格式"]),
    ("empty.docx", lambda: b"", ["空文件（0 字节）"]),
    ("blank.docx", lambda: docx_samples._save(docx_samples.Document()), ["没有任何文字、表格或图片"]),
    ("notes.docx", lambda: "这是一段文字".encode(), ["不是 Word 文档"]),
    ("broken.docx", lambda: b"PK\x03\x04" + b"\0" * 100, ["已损坏"]),
])
def test_files_that_cannot_be_imported_are_refused_with_what_to_do(project, name, data, said):
    path = project.parent / name
    path.write_bytes(data())
    result = run("import", str(path), "--kind", "routine", "--id", "refused")
    assert result.exit_code == 1
    assert "未导入" in result.out and all(s.replace(" ", "") in result.out for s in said), result.output
    assert not (project / "releases" / "refused").exists()


def test_an_existing_release_is_not_overwritten(project):
    _r, folder = import_sample(project, "emergency_with_colons")
    before = (folder / "release.md").read_bytes()
    result = run("import", str(project.parent / "inbox" / "emergency_with_colons.docx"), "--id", "crane-2026")
    assert result.exit_code == 1 and "已存在" in result.out
    assert (folder / "release.md").read_bytes() == before


def test_a_word_file_dropped_into_a_release_folder_is_noticed_and_imported_there(project):
    folder = project / "releases" / "tower-crane"
    folder.mkdir()
    (folder / "塔吊事故.docx").write_bytes(docx_samples.emergency_with_colons())
    result = run("validate")
    assert result.exit_code == 1
    assert "Word文件“塔吊事故.docx”" in result.out
    assert "pressroomimportcontent/releases/tower-crane/塔吊事故.docx" in result.out
    result = run("import", "content/releases/tower-crane/塔吊事故.docx", "--department", "市应急办")
    assert result.exit_code == 0, result.output
    assert "id: tower-crane" in (folder / "release.md").read_text(encoding="utf-8")


def test_a_word_file_dropped_loose_into_releases_is_noticed_and_moved_into_its_folder(project):
    loose = project / "releases" / "crane.docx"
    loose.write_bytes(docx_samples.emergency_with_colons())
    result = run("validate")
    assert result.exit_code == 1
    assert "releases/crane.docx" in result.out and "Word文件还不是稿件" in result.out
    assert "pressroomimportcontent/releases/crane.docx" in result.out
    assert run("import", "content/releases/crane.docx", "--department", "市应急办").exit_code == 0
    assert not loose.exists() and (project / "releases" / "crane" / "crane.docx").is_file()
    assert "Word文件还不是稿件" not in run("validate").out


def test_an_old_format_file_in_a_release_folder_is_told_to_be_saved_as_docx(project):
    folder = project / "releases" / "old-format"
    folder.mkdir()
    (folder / "通知.wps").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    result = run("validate")
    assert result.exit_code == 1 and "通知.wps" in result.out and "另存为.docx" in result.out


@pytest.mark.parametrize("heading, kind, element", [
    ("一、背景依据", "policy", "背景依据"), ("背景依据：", "policy", "背景依据"), ("（三）注意事项", "policy", "注意事项"),
    ("第二条 涉及范围", "policy", "涉及范围"), ("三、责任认定", "emergency", "责任认定"),
    ("一、政策背景依据", "policy", "背景依据"), ("答记者问", "policy", ""), ("一、事件情况", "opinion", ""),
])
def test_numbered_and_punctuated_headings_match_the_required_elements(heading, kind, element):
    from pressroom.releases.importer import match_required

    assert match_required(heading, kind) == element


def test_text_in_content_controls_and_fields_is_not_lost(tmp_path):
    """Word keeps some text outside plain runs: a cover block in a content control, a field, a text box."""
    from docx import Document
    from docx.oxml import parse_xml

    from pressroom.releases.importer import read_docx

    doc = Document()
    doc.add_paragraph("正文第一段。")
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    doc.element.body.insert(0, parse_xml(
        f'<w:sdt {w}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>控件中的导语。</w:t></w:r></w:p></w:sdtContent></w:sdt>'))
    doc.element.body.insert(2, parse_xml(
        f'<w:p {w}><w:r><w:t>截至</w:t></w:r><w:fldSimple w:instr="DATE"><w:r><w:t>3月6日</w:t></w:r></w:fldSimple>'
        '<w:r><w:t>，共转移群众143人。</w:t></w:r></w:p>'))
    path = tmp_path / "controls.docx"
    doc.save(path)
    word = read_docx(path)
    assert [b.text for b in word.blocks] == ["控件中的导语。", "正文第一段。", "截至3月6日，共转移群众143人。"]
    assert any("按纯文本导入" in w for w in word.warnings)


@pytest.mark.parametrize("line, number", [
    ("淮建〔2026〕12号", "淮建〔2026〕12号"), ("淮建[2026] 12号", "淮建[2026]12号"),
    ("淮建〔2026〕12号　　　　签发人：张三", "淮建〔2026〕12号"), ("根据淮建〔2026〕12号文件精神，", None),
])
def test_the_document_number_is_read_alone_on_its_line(line, number):
    from pressroom.releases.importer import DOC_NUMBER

    m = DOC_NUMBER.match(line)
    assert (m and "".join(m.group(1).split())) == number


def test_bold_numbered_paragraphs_are_headings_and_run_in_bold_is_not(tmp_path):
    from docx import Document

    from pressroom.releases.importer import read_docx

    doc = Document()
    for text, bold in (("第一条 总则", True), ("第一条　为了规范管理，制定本办法。", False), ("（一）工作目标", True),
                       ("1. 补助标准", True), ("一、总体要求", False), ("本办法自发布之日起施行。", True),
                       ("目标任务", True), ("各县区，市直各部门：", True), ("注意事项：", True)):
        doc.add_paragraph().add_run(text).bold = bold
    doc.add_paragraph(style="List Number").add_run("适用对象").bold = True  # numbered by Word, not by hand
    doc.add_paragraph(style="List Number").add_run("申请材料清单").bold = False
    path = tmp_path / "rules.docx"
    doc.save(path)
    assert [b.heading for b in read_docx(path).blocks] == [1, 0, 2, 2, 0, 0, 1, 0, 1, 1, 0]


def refresh() -> None:
    """Write the expected release.md of every case from the importer's current output."""
    import tempfile

    EXPECTED.mkdir(exist_ok=True)
    mp = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            content = make_project(Path(tmp), mp)
            for name in CASES:
                _r, folder = import_sample(content, name)
                shutil.copy(folder / "release.md", EXPECTED / f"{name}.md")
                print(f"wrote {EXPECTED / name}.md")
        finally:
            mp.undo()


if __name__ == "__main__":
    if "--refresh" not in sys.argv:
        sys.exit("usage: python -m tests.test_import --refresh")
    refresh()
