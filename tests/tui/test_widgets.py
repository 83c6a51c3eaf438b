"""Pilot tests of the reusable widgets, each in a small harness app at 80×24."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input, Select, Static, Switch

from thinkube_tui.catalog import load_catalog
from thinkube_tui.spec import answers_schema
from thinkube_tui.widgets import InstallGraph, LogPanel, SchemaForm
from thinkube_tui.widgets.schema_form import (
    BooleanField,
    EnumField,
    ListField,
    NumberField,
    SchemaGroup,
    SecretField,
    StringField,
    YamlField,
)

from .widget_harness import WidgetHarness, full_plan

SIZE = (80, 24)


def component_form(component: str) -> SchemaForm:
    return SchemaForm(load_catalog().schema(component), path=("components", component), id="form")


def cluster_form() -> SchemaForm:
    root = answers_schema()
    return SchemaForm(root["$defs"]["cluster"], root=root, path=("cluster",), id="form")


def error_text(form: SchemaForm, path: str) -> str:
    return str(form.field(path).query_one(".schema-field--error", Static).render())


async def type_into(pilot, form: SchemaForm, path: str, text: str) -> None:
    field_input = form.field(path).query_one(Input)
    field_input.focus()
    field_input.value = ""
    await pilot.press(*text) if text else None
    await pilot.pause()


# ---------------------------------------------------------------- SchemaForm


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        (
            "gpu-operator",
            {
                "driver": EnumField,
                "driverVersion": StringField,
                "timeSlicing.replicas": NumberField,
                "timeSlicing.renameByDefault": BooleanField,
                "cdi": BooleanField,
            },
        ),
        ("grafana", {"adminPassword": SecretField, "plugins": ListField, "storageSize": StringField}),
        ("jupyterhub", {"extraProfiles": YamlField, "adminGroups": ListField, "cullIdleSeconds": NumberField}),
        ("ssl-certificates", {"challenge": EnumField, "dns01.apiToken": SecretField, "dns01.provider": EnumField}),
        ("minio", {"rootPassword": SecretField, "buckets": YamlField, "servers": NumberField}),
        ("vault", {"secretsStore": EnumField, "auditLog": BooleanField, "keyShares": NumberField}),
    ],
)
async def test_fields_of_each_kind(component: str, expected: dict[str, type]) -> None:
    app = WidgetHarness(lambda: component_form(component))
    async with app.run_test(size=SIZE):
        form = app.query_one(SchemaForm)
        schema = load_catalog().schema(component)
        assert len(form.fields) >= len([k for k, v in schema["properties"].items() if v.get("type") != "object"])
        for path, kind in expected.items():
            field = form.field(path)
            assert type(field) is kind, path
            control = {EnumField: Select, BooleanField: Switch}.get(kind, Input)
            assert field.query(control), f"{path} has no {control.__name__}"
            if "description" in field.schema:
                assert field.schema["description"][:30] in str(field.query_one(".schema-field--help", Static).render())
        assert form.errors() == {}
        assert form.value() == {}  # nothing differs from the defaults yet


async def test_nested_object_is_a_titled_group_and_defaults_are_placeholders() -> None:
    app = WidgetHarness(lambda: component_form("gpu-operator"))
    async with app.run_test(size=SIZE):
        group = app.query_one("#field-timeSlicing", SchemaGroup)
        assert group.border_title == "timeSlicing"
        assert group.query_one("#field-timeSlicing-replicas")
        form = app.query_one(SchemaForm)
        assert form.field("timeSlicing.replicas").query_one(Input).placeholder == "default: 0"
        assert form.field("containerdSocket").query_one(Input).placeholder.startswith("default: /var/snap")
        assert "(default: false)" in str(form.field("cdi").query_one(".schema-field--help", Static).render())
        assert form.field("driver").query_one(Select).value is not Select.NULL
        assert form.value(include_defaults=True)["timeSlicing"] == {"replicas": 0, "renameByDefault": False}


async def test_invalid_value_shows_the_schema_message_and_correcting_clears_it() -> None:
    app = WidgetHarness(lambda: component_form("vault"))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        await type_into(pilot, form, "storageSize", "10GB")
        message = form.errors()["components.vault.storageSize"]
        assert "'10GB' has the wrong form" in message and "Gi" in message
        assert message in error_text(form, "storageSize")
        assert form.field("storageSize").has_class("-invalid")
        assert form.field("storageSize").query_one(".schema-field--error").display

        await type_into(pilot, form, "replicas", "9")
        assert form.errors()["components.vault.replicas"] == "9 must be at most 5"

        await type_into(pilot, form, "storageSize", "20Gi")
        await type_into(pilot, form, "replicas", "3")
        assert form.errors() == {}
        assert error_text(form, "storageSize") == ""
        assert not form.field("storageSize").query_one(".schema-field--error").display
        assert form.value() == {"storageSize": "20Gi", "replicas": 3}


async def test_cluster_form_resolves_refs_checks_formats_and_required() -> None:
    app = WidgetHarness(cluster_form)
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        errors = form.errors()
        for required in ("domain", "adminEmail", "metallbRange", "ingressIP", "ingressKnIP"):
            assert errors[f"cluster.{required}"] == f"missing required key {required!r}"  # as validate says
        assert form.field("certificates").query_one(Select)
        await type_into(pilot, form, "ingressIP", "300.1.1.1")
        assert form.errors()["cluster.ingressIP"] == "'300.1.1.1' is not an IPv4 address, e.g. 192.168.1.10"
        await type_into(pilot, form, "domain", "Not A Domain")  # dnsName comes through $ref
        assert "has the wrong form" in form.errors()["cluster.domain"]
        await type_into(pilot, form, "dnsResolvers", "1.1.1.1, 9.9.9")
        assert form.errors()["cluster.dnsResolvers"] == "[1]: '9.9.9' is not an IPv4 address, e.g. 192.168.1.10"
        await type_into(pilot, form, "dnsResolvers", "1.1.1.1, 8.8.8.8")
        assert "cluster.dnsResolvers" not in form.errors()
        assert form.value()["dnsResolvers"] == ["1.1.1.1", "8.8.8.8"]
        await type_into(pilot, form, "dnsResolvers", "1.1.1.1, 9.9.9.9")
        assert "dnsResolvers" not in form.value()  # the default again: left out of the answers


async def test_value_round_trips_through_set_value() -> None:
    data = {
        "driver": "operator",
        "driverVersion": "570.172.08",
        "timeSlicing": {"replicas": 4, "renameByDefault": True},
        "cdi": True,
        "dcgmExporter": False,
    }
    app = WidgetHarness(lambda: component_form("gpu-operator"))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        form.set_value(data)
        await pilot.pause()
        assert form.value() == data
        assert form.field("timeSlicing.replicas").query_one(Input).value == "4"
        assert form.field("driver").query_one(Select).value == 1
        full = form.value(include_defaults=True)
        assert full["migStrategy"] == "none" and full["timeSlicing"]["replicas"] == 4
        form.set_value({})
        assert form.value() == {}
        assert app.recorded(SchemaForm.Changed) == []  # filling is not editing


async def test_answered_values_are_shown_as_defaults() -> None:
    app = WidgetHarness(lambda: component_form("jupyterhub"))
    async with app.run_test(size=SIZE):
        form = app.query_one(SchemaForm)
        answered = {
            "adminGroups": ["admins", "ml"],
            "cullIdleSeconds": 600,
            "extraProfiles": [{"displayName": "Torch", "image": "pytorch/pytorch"}],
        }
        form.set_value(answered, as_defaults=True)
        groups = form.field("adminGroups").query_one(Input)
        assert groups.value == "" and groups.placeholder == "default: admins, ml"
        assert form.value() == answered  # still part of the answers: they differ from the schema's defaults
        assert form.errors() == {}


async def test_list_and_yaml_fields_parse_and_validate() -> None:
    app = WidgetHarness(lambda: component_form("jupyterhub"))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        await type_into(pilot, form, "adminGroups", "admins, admins")
        assert form.errors()["components.jupyterhub.adminGroups"] == "items must be unique"
        await type_into(pilot, form, "adminGroups", "[]")
        assert form.value()["adminGroups"] == []
        await type_into(pilot, form, "extraProfiles", "[{displayName: Torch}]")
        assert form.errors()["components.jupyterhub.extraProfiles"] == "[0]: missing required key 'image'"
        await type_into(pilot, form, "extraProfiles", "[{displayName: Torch")
        assert form.errors()["components.jupyterhub.extraProfiles"].startswith("not valid YAML")
        await type_into(pilot, form, "extraProfiles", "[{displayName: Torch, image: pytorch/pytorch, gpus: 1}]")
        assert "components.jupyterhub.extraProfiles" not in form.errors()
        assert form.value()["extraProfiles"] == [{"displayName": "Torch", "image": "pytorch/pytorch", "gpus": 1}]


async def test_generated_secret_stays_out_of_the_answers() -> None:
    app = WidgetHarness(lambda: component_form("grafana"))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        field = form.field("adminPassword")
        secret_input = field.query_one(Input)
        assert secret_input.password
        assert secret_input.placeholder == "empty: the installer generates it"
        assert form.value() == {} and form.secret_values() == {}  # left empty: the installer generates it

        await pilot.click(field.query_one(Button))
        await pilot.pause()
        generated = secret_input.value
        assert len(generated) >= 24
        assert form.value() == {"adminPassword": {"secret": "grafana-adminPassword"}}
        assert generated not in repr(form.value(include_defaults=True))
        assert form.secret_values() == {"components.grafana.adminPassword": generated}
        assert form.secrets_file_entries() == {"grafana-adminPassword": generated}
        assert [m.path for m in app.recorded(SchemaForm.Changed)][-1] == "components.grafana.adminPassword"

        await type_into(pilot, form, "adminPassword", " typed secret ")
        message = form.errors()["components.grafana.adminPassword"]
        assert "typed secret" not in message  # never echoes the value


async def test_secret_reference_from_answers_is_kept() -> None:
    app = WidgetHarness(lambda: component_form("minio"))
    async with app.run_test(size=SIZE):
        form = app.query_one(SchemaForm)
        form.set_value({"rootPassword": {"env": "MINIO_ROOT_PASSWORD"}, "servers": 4})
        assert form.field("rootPassword").query_one(Input).placeholder == "from $MINIO_ROOT_PASSWORD"
        assert form.value() == {"rootPassword": {"env": "MINIO_ROOT_PASSWORD"}, "servers": 4}
        assert form.secret_values() == {}


async def test_external_errors_show_next_to_their_field() -> None:
    app = WidgetHarness(cluster_form)
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        form.set_value(
            {
                "domain": "thinkube.lan",
                "adminEmail": "a@thinkube.lan",
                "metallbRange": "10.0.0.10-10.0.0.20",
                "ingressIP": "10.0.0.99",
                "ingressKnIP": "10.0.0.11",
            }
        )
        assert form.errors() == {}
        form.show_errors(
            {
                "cluster.ingressIP": "10.0.0.99 is outside metallbRange 10.0.0.10-10.0.0.20",
                "nodes": "no node has role 'control'",
            }
        )
        await pilot.pause()
        assert "outside metallbRange" in error_text(form, "ingressIP")
        assert form.errors()["cluster.ingressIP"].startswith("10.0.0.99 is outside")
        general = form.query_one(".schema-form--errors", Static)
        assert general.display and "no node has role" in str(general.render())
        await type_into(pilot, form, "ingressIP", "10.0.0.12")  # editing the field drops the stale error
        assert "cluster.ingressIP" not in form.errors()
        form.show_errors({})
        assert form.errors() == {}


async def test_enum_of_mixed_types_and_changed_messages() -> None:
    fragment = answers_schema()["properties"]["components"]["properties"]["gpu-operator"]
    app = WidgetHarness(lambda: SchemaForm(fragment, path=("components", "gpu-operator")))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        enabled = form.field("enabled")
        assert isinstance(enabled, EnumField)
        assert form.value(include_defaults=True)["enabled"] == "auto"
        enabled.query_one(Select).value = 0  # true
        await pilot.pause()
        assert form.value()["enabled"] is True
        assert app.recorded(SchemaForm.Changed)[-1].path == "components.gpu-operator.enabled"
        switch = form.field("cdi").query_one(Switch)
        switch.toggle()
        await pilot.pause()
        assert form.value() == {"enabled": True, "cdi": True}
        assert app.recorded(SchemaForm.Changed)[-1].path == "components.gpu-operator.cdi"


# ---------------------------------------------------------------- InstallGraph


async def test_graph_states_update_the_rendering() -> None:
    plan = full_plan()
    app = WidgetHarness(lambda: InstallGraph(plan))
    async with app.run_test(size=SIZE) as pilot:
        graph = app.query_one(InstallGraph)
        lines = graph.rendered_lines()
        assert len(lines) == len(plan) == 35
        # Wave numbers from 1 in the gutter, the edges drawn, critical components marked.
        assert lines[0].startswith(" 1 ┌") and lines[0].endswith("○ microk8s-control ◆")
        assert lines[1].startswith(" 2 ├") and lines[2].startswith("   └")
        graph.set_state("microk8s-control", "done")
        graph.set_state("microk8s-workers", "running")
        graph.set_state("metallb", "failed")
        await pilot.pause()
        lines = graph.rendered_lines()
        assert lines[0].endswith("✔ microk8s-control ◆")
        assert lines[1].endswith("◐ microk8s-workers ◆") and lines[2].endswith("✖ metallb")
        assert graph.state_of("metallb") == "failed"
        # The drawn strip carries the state's style, not only its symbol.
        strip = graph.map.render_line(2)
        failed_style = graph.map.get_component_rich_style("install-graph--failed")
        assert any("metallb" in seg.text and seg.style.color == failed_style.color for seg in strip)
        with pytest.raises(ValueError, match="unknown state"):
            graph.set_state("metallb", "exploded")


async def test_graph_set_state_redraws_one_line_only() -> None:
    plan = full_plan()
    app = WidgetHarness(lambda: InstallGraph(plan))
    async with app.run_test(size=SIZE) as pilot:
        graph = app.query_one(InstallGraph)
        graph.select("keycloak")
        await pilot.pause()
        cached = dict(graph.map._strips)
        assert cached, "lines are drawn once and kept"
        row = graph.map.dag.row_of["vault"]
        assert row in cached
        graph.set_state("vault", "running")
        assert set(cached) - set(graph.map._strips) == {row}  # only vault's line is redrawn
        assert all(graph.map._strips[k] is cached[k] for k in graph.map._strips)


async def test_graph_arrow_keys_move_selection_and_post_selected() -> None:
    plan = full_plan()
    app = WidgetHarness(lambda: InstallGraph(plan))
    async with app.run_test(size=SIZE) as pilot:
        graph = app.query_one(InstallGraph)
        graph.focus()
        assert graph.selected is None
        await pilot.press("down")
        assert graph.selected == "microk8s-control"
        await pilot.press("down", "right")
        assert graph.selected == "metallb"
        await pilot.press("up")
        await pilot.press("end")
        assert graph.selected == plan.ids[-1]
        await pilot.pause()
        assert [m.component_id for m in app.recorded(InstallGraph.Selected)][:4] == [
            "microk8s-control",
            "microk8s-workers",
            "metallb",
            "microk8s-workers",
        ]
        assert app.recorded(InstallGraph.Selected)[-1].component_id == graph.selected
        # The selection stays in view: the last line is scrolled to.
        assert graph.map.scroll_offset.y > 0


async def test_graph_shows_needs_and_needed_by_of_the_selected() -> None:
    plan = full_plan()
    app = WidgetHarness(lambda: InstallGraph(plan))
    async with app.run_test(size=SIZE) as pilot:
        graph = app.query_one(InstallGraph)
        graph.select("keycloak")
        graph.set_state("postgresql", "done")
        await pilot.pause()
        detail = str(graph.query_one(".install-graph--detail", Static).render())
        assert "keycloak — waiting" in detail and "wave 8" in detail and "critical path" in detail
        assert "✔ postgresql" in detail
        for dependent in (p.id for p in plan.items if "keycloak" in p.deps):
            assert dependent in detail
        # Its edges are coloured in the drawing: vault's lane into keycloak's line, and
        # keycloak's own lane down to what needs it.
        related = graph.map.get_component_rich_style("install-graph--related")
        row = graph.map.dag.row_of["keycloak"]
        segments = list(graph.map.render_line(row - graph.map.scroll_offset.y))
        assert any(seg.style.color == related.color and "─" in seg.text for seg in segments)


async def test_graph_click_selects_and_installed_row() -> None:
    plan = full_plan()
    app = WidgetHarness(lambda: InstallGraph(plan, installed={"cert-manager-old"}))
    async with app.run_test(size=SIZE) as pilot:
        graph = app.query_one(InstallGraph)
        assert graph.rendered_lines()[0].startswith(" ≡ ") and graph.rendered_lines()[0].endswith("≡ cert-manager-old")
        row = graph.map.dag.row_of["metallb"]
        await pilot.click(graph.map, offset=(30, row))
        assert graph.selected == "metallb"
        assert app.recorded(InstallGraph.Selected)[-1].component_id == "metallb"


# ---------------------------------------------------------------- LogPanel


async def test_log_panel_buffers_hidden_components_and_shows_them() -> None:
    app = WidgetHarness(lambda: LogPanel(max_lines=100))
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(LogPanel)
        panel.show("metallb")
        panel.append("metallb", ["metallb 1", "metallb 2"])
        panel.append("coredns", ["coredns 1"])
        await pilot.pause()
        assert list(panel.lines) == ["metallb 1", "metallb 2"]
        panel.show("coredns")
        panel.append("coredns", ["coredns 2"])
        panel.append("metallb", ["metallb 3"])
        await pilot.pause()
        assert list(panel.lines) == ["coredns 1", "coredns 2"]
        assert panel.border_title == "log: coredns"
        panel.show("metallb")
        assert list(panel.lines) == ["metallb 1", "metallb 2", "metallb 3"]
        panel.show("never-logged")
        assert list(panel.lines) == []


async def test_log_panel_respects_max_lines() -> None:
    app = WidgetHarness(lambda: LogPanel(max_lines=50))
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(LogPanel)
        panel.show("a")
        for batch in range(10):
            panel.append("a", [f"a {batch}-{i}" for i in range(20)])
            panel.append("b", [f"b {batch}-{i}" for i in range(20)])
        await pilot.pause()
        assert panel.line_count == 50 and panel.lines[-1] == "a 9-19" and panel.lines[0] == "a 7-10"
        assert len(panel.lines_of("b")) == 50 and panel.lines_of("b")[0] == "b 7-10"
        panel.show("b")
        assert panel.line_count == 50 and panel.lines[-1] == "b 9-19"


async def test_required_fields_are_marked_once_edited_or_asked_for() -> None:
    app = WidgetHarness(cluster_form)
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        form.set_value({})
        assert form.errors()["cluster.domain"] == "missing required key 'domain'"
        assert error_text(form, "domain") == ""  # not shouted at first sight
        await type_into(pilot, form, "domain", "x")
        await type_into(pilot, form, "domain", "")
        assert error_text(form, "domain") == "missing required key 'domain'"
        assert error_text(form, "adminEmail") == ""
        form.show_required()
        assert error_text(form, "adminEmail") == "missing required key 'adminEmail'"
