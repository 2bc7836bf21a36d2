"""The notice's own rules in the flow: a policy document and its interpretation go out together (三同步),
the approval gate (三审) binds sign-offs to content, and an emergency goes out at once, fast channels first."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests import doubles
from tests.reviewers import code, person
from tests.test_publish_flow import run, workspace  # noqa: F401  (fixture)

DOC, INTERP = "notice-2017-78", "notice-2017-78-interpretation"
EMERGENCY = "rainstorm-2026-11"


@pytest.fixture(autouse=True)
def _prefect(prefect_server):
    yield


def test_a_bundle_publishes_both_halves_on_every_channel_cross_linked(workspace, samples):  # noqa: F811
    state = run(INTERP)  # either half publishes the bundle
    assert state.is_completed(), state.message
    summary = state.result()
    assert set(summary["bundle"]) == {DOC, INTERP}
    ledger = workspace.ledger()
    for rid in (DOC, INTERP):
        rows = ledger.latest(rid)
        assert set(rows) == set(samples[rid].channels)
        assert all(d.state == "published" for d in rows.values()), rid
    doc_page = (workspace.outbox / "portal" / f"{DOC}.html").read_text(encoding="utf-8")
    interp_page = (workspace.outbox / "portal" / f"{INTERP}.html").read_text(encoding="utf-8")
    assert f'href="{INTERP}.html"' in doc_page and f'href="{DOC}.html"' in interp_page
    # The skew is the gap between the first and last delivery of the bundle, and it is small.
    times = [d.published_at for rid in (DOC, INTERP) for d in ledger.latest(rid).values()]
    assert summary["skew_seconds"] == pytest.approx((max(times) - min(times)).total_seconds(), abs=1e-3)
    assert summary["skew_seconds"] < 60
    # Per channel, the document went out first.
    for ch in samples[INTERP].channels:
        if ch in samples[DOC].channels:
            assert ledger.latest(DOC)[ch].published_at <= ledger.latest(INTERP)[ch].published_at, ch


def test_an_invalid_interpretation_holds_back_the_document(workspace):  # noqa: F811
    workspace.edit(INTERP, r"^## 注意事项$", "## 其他事项")
    state = run(DOC)
    assert state.is_failed() and "未通过校验" in state.message
    assert not workspace.outbox.exists() or not any(workspace.outbox.rglob("*.html"))
    assert workspace.ledger().rows(DOC) == [] and workspace.ledger().rows(INTERP) == []


def test_a_channel_failing_for_one_half_fails_the_unit_and_a_rerun_completes_it(workspace, monkeypatch):  # noqa: F811
    # The Weibo outlet refuses every post for a while: both halves stay unpublished there.
    workspace.configure(weibo="refusing")
    state = run(DOC)
    assert state.is_failed() and "微博" in state.message
    ledger = workspace.ledger()
    assert ledger.latest(DOC)["weibo"].state == "failed"
    assert all(d.state == "published" for ch, d in ledger.latest(INTERP).items() if ch != "weibo")
    workspace.configure(weibo="platform")
    assert run(DOC).is_completed()
    assert [i["release_id"] for i in doubles.items("weibo")] == [DOC, INTERP]  # document first, once each
    assert all(d.state == "published" for rid in (DOC, INTERP) for d in ledger.latest(rid).values())


def test_an_emergency_goes_out_at_once_fast_channels_first(workspace, samples):  # noqa: F811
    at = datetime.now(timezone.utc) + timedelta(hours=3)
    workspace.edit(EMERGENCY, r"^publish_at: .*$", f"publish_at: {at.isoformat()}")
    workspace.edit(EMERGENCY, r"^(kind: emergency)$", "\\1\nimportant: true")  # would need approval
    workspace.configure(approval_levels=["责任编辑"])
    # Going out ahead of the sign-off needs a person: without one, nothing goes out.
    refused = run(EMERGENCY)
    assert refused.is_failed() and "审核人" in refused.message and not workspace.ledger().rows(EMERGENCY)
    started = time.monotonic()
    state = run(EMERGENCY, **person("周主任"))
    assert state.is_completed(), state.message
    assert time.monotonic() - started < 120  # did not wait three hours, nor for a reviewer
    rows = workspace.ledger().latest(EMERGENCY)
    fast = [d.published_at for ch, d in rows.items() if ch in ("weibo", "wechat", "portal")]
    slow = [d.published_at for ch, d in rows.items() if ch not in ("weibo", "wechat", "portal")]
    assert fast and slow and max(fast) <= min(slow)
    history = workspace.ledger().history(EMERGENCY)
    assert [e["actor"] for e in history if e["action"] == "approval-deferred"] == ["周主任"]
    assert "emergency-fast-path" in [e["action"] for e in history]
    # It shows as waiting for its sign-off (审核待补签) until the level has signed after the fact.
    from typer.testing import CliRunner

    from pressroom.cli import app

    cli = CliRunner()
    out = cli.invoke(app, ["status", "--deadlines"])
    assert "审核待补签" in out.output and EMERGENCY in out.output and "责任编辑" in out.output, out.output
    out = cli.invoke(app, ["approve", EMERGENCY, "--reviewer", "王审稿", "--code", code("王审稿")])
    assert out.exit_code == 0, out.output
    assert "审核待补签" not in cli.invoke(app, ["status", "--deadlines"]).output
    completed = [e for e in workspace.ledger().history(EMERGENCY) if e["action"] == "approval-completed"]
    assert [e["actor"] for e in completed] == ["王审稿"]


def _paused_run_id(timeout=120, key_suffix=""):
    """The run paused for approval (its pause key ending with ``key_suffix``: ``-1`` after one refusal)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
            runs = [r for r in runs if (r.state.state_details.pause_key or "").endswith(key_suffix)]
            if runs:
                return runs[0].id
            time.sleep(0.5)
        seen = [(r.name, r.state_type, r.state_name) for r in client.read_flow_runs(limit=20)]
    raise AssertionError(f"no flow run paused for approval: {seen}")


def _form_reviewers(run_id) -> list[str]:
    """The reviewer dropdown of the paused run's form (the JSON schema Prefect's UI draws)."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.input.run_input import keyset_from_paused_state

    with get_client(sync_client=True) as client:
        keyset = keyset_from_paused_state(client.read_flow_run(run_id).state)
        schema = client.read_flow_run_input(flow_run_id=run_id, key=keyset["schema"])
    schema = json.loads(schema) if isinstance(schema, str) else schema
    return schema["properties"]["reviewer"]["enum"]


def _in_background(fn):
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("state", fn()), daemon=True)
    t.start()
    return t, result


def test_approval_through_the_api_then_publish(workspace):  # noqa: F811
    from prefect.flow_runs import resume_flow_run

    workspace.configure(approval_levels=["责任编辑"])
    t, result = _in_background(lambda: run(DOC))
    run_id = _paused_run_id()
    assert not (workspace.outbox / "portal" / f"{DOC}.html").exists()  # nothing before the sign-off
    assert (workspace.outbox / "preview" / DOC / "index.html").is_file()  # the reviewer sees the preview
    # The form offers exactly the reviewers allowed for the level.
    assert _form_reviewers(run_id) == ["王审稿", "钱编辑", "李主任", "吴副主任", "演示编辑"]
    # A wrong code through the UI: refused, recorded, and the run asks again.
    resume_flow_run(run_id, run_input={"approve": True, "reviewer": "王审稿", "code": "000000", "comment": "同意"})
    run_id = _paused_run_id(key_suffix="-1")
    assert not (workspace.outbox / "portal" / f"{DOC}.html").exists()
    resume_flow_run(run_id, run_input={"approve": True, "reviewer": "王审稿", "code": code("王审稿"), "comment": "同意"})
    t.join(300)
    assert result["state"].is_completed(), result["state"].message
    history = workspace.ledger().history(DOC)
    assert [e["actor"] for e in history if e["action"] == "signoff"] == ["王审稿"]
    assert [e["actor"] for e in history if e["action"] == "code-refused"] == ["王审稿"]
    assert (workspace.outbox / "portal" / f"{INTERP}.html").is_file()


def test_rejection_through_the_cli_delivers_nothing_and_records_why(workspace):  # noqa: F811
    from typer.testing import CliRunner

    from pressroom.cli import app

    workspace.configure(approval_levels=["责任编辑", "分管领导"])
    t, result = _in_background(lambda: run(INTERP))
    run_id = _paused_run_id()
    out = CliRunner().invoke(app, ["approve", str(run_id), "--reviewer", "李主任", "--code", code("李主任"),
                                   "--reject", "--comment", "数字需与文件核对"])
    assert out.exit_code == 0, out.output
    t.join(300)
    state = result["state"]
    assert state.is_failed() and "李主任" in state.message and "数字需与文件核对" in state.message
    assert not (workspace.outbox / "portal").exists()
    assert all(d.state != "published" for d in workspace.ledger().rows(DOC))
    rejected = [e for e in workspace.ledger().history(DOC) if e["action"] == "rejected"]
    assert rejected and rejected[0]["actor"] == "李主任" and "数字需与文件核对" in rejected[0]["detail"]


def test_sign_offs_are_bound_to_the_content_and_an_edit_voids_them(workspace):  # noqa: F811
    from typer.testing import CliRunner

    from pressroom.cli import app

    from prefect.settings import PREFECT_API_URL, temporary_settings

    workspace.configure(approval_levels=["责任编辑", "分管领导"])
    cli = CliRunner()
    no_server = temporary_settings(updates={PREFECT_API_URL: ""})  # what an editor's laptop has
    # Levels go in order.
    assert cli.invoke(app, ["approve", DOC, "--reviewer", "孙秘书长", "--code", code("孙秘书长"),
                            "--role", "分管领导"]).exit_code == 2
    assert cli.invoke(app, ["approve", DOC, "--reviewer", "钱编辑", "--code", code("钱编辑"),
                            "--role", "责任编辑"]).exit_code == 0
    with no_server:
        out = cli.invoke(app, ["publish", DOC])
    assert out.exit_code == 1 and "分管领导" in out.output and not (workspace.outbox / "portal").exists()
    assert cli.invoke(app, ["approve", DOC, "--reviewer", "孙秘书长", "--code", code("孙秘书长"),
                            "--role", "分管领导"]).exit_code == 0
    # An edit after the sign-offs: the content is no longer what was signed.
    workspace.edit(INTERP, r"^(## 注意事项\n)", "\\1\n新增提示：请以正式文件为准。\n")
    with temporary_settings(updates={PREFECT_API_URL: ""}):
        out = cli.invoke(app, ["publish", DOC])
    assert out.exit_code == 1 and "责任编辑" in out.output
    assert not (workspace.outbox / "portal").exists()


def test_the_offices_are_notified_once_by_mail(workspace, tmp_path, monkeypatch):  # noqa: F811
    from tests.servers.smtp import SMTPServer

    with SMTPServer(tmp_path / "smtp") as smtp:
        monkeypatch.setenv("PRESSROOM_SMTP_PASSWORD", smtp.password)
        path = workspace.root / "pressroom.toml"
        path.write_text(path.read_text(encoding="utf-8") + f"""
[transport.smtp]
host = "127.0.0.1"
port = {smtp.port}
starttls = true
cafile = "{smtp.cert}"
username = "{smtp.username}"
from = "pressroom@huainan.example.cn"

[notify]
bundle = ["xwb@huainan.example.cn", "zwgk@huainan.example.cn"]
""", encoding="utf-8")
        assert run(DOC).is_completed()
        assert run(DOC).is_completed()  # a re-run publishes nothing and notifies nobody again
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert sorted(mail.rcpt_tos) == ["xwb@huainan.example.cn", "zwgk@huainan.example.cn"]
    assert "政策文件与解读已发布" in mail.message["Subject"]
    body = mail.message.get_body(("plain",)).get_content()
    assert "同步误差" in body and "解读" in body
    notices = list((workspace.outbox / "notices").glob("*.txt"))
    assert len(notices) == 1 and "已发布" in notices[0].read_text(encoding="utf-8")
