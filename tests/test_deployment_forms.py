"""What `pressroom serve` offers in the Prefect UI, read without a server: the deployments of prefect.yaml
under the same names, and the publish form an editor fills in (channels as a multi-select of the configured
ones, every field described, publishing now with its warning), and task names the run graph can draw."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_serve_offers_the_deployments_of_prefect_yaml_under_the_same_names():
    import os

    from flows import newsroom

    cwd = os.getcwd()
    try:
        served = newsroom.deployments(ROOT)
    finally:
        os.chdir(cwd)
    declared = newsroom.declared(ROOT)
    assert [d.name for d in served] == [d["name"] for d in declared]
    by_name = {d.name: d for d in served}
    assert by_name["publish"].flow_name == "publish-release" and by_name["correct"].flow_name == "correct-release"
    assert len(by_name["compliance-report"].schedules) == 2  # the two report dates, as in prefect.yaml
    assert all(d.description and re.search(r"[\u4e00-\u9fff]", d.description) for d in served)


def test_the_publish_form_has_a_channel_multiselect_and_described_fields(settings):
    import channels
    from prefect.utilities.callables import parameter_schema

    from flows.publish import publish_release

    props = parameter_schema(publish_release.fn).model_dump()["properties"]
    assert props["channels_only"]["type"] == "array"
    assert props["channels_only"]["items"]["enum"] == list(channels.configured(settings))
    assert all(p.get("description") for p in props.values()), {k: p for k, p in props.items() if not p.get("description")}
    assert "⚠" in props["now"]["description"] and "动态口令" in props["now"]["description"]
    assert props["now"]["default"] is False and props["channels_only"]["default"] == []


def test_task_names_survive_the_run_graphs_font():
    from flows.correct import correct_unit, retract_unit
    from flows.publish import deliver_unit, refresh_portal, render_channel

    for t in (render_channel, deliver_unit, refresh_portal, correct_unit, retract_unit):
        assert t.name.isascii() and str(t.task_run_name).isascii(), t.name
    assert deliver_unit.task_run_name == "deliver-{channel}"
