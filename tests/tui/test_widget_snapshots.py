"""SVG snapshots of the reusable widgets (`pytest --snapshot-update` rewrites them).

snap_compare runs each app in its own event loop, so these are plain `def` tests.
"""

from __future__ import annotations

import os

import pytest
from textual.widgets import Input

from thinkube_tui.catalog import load_catalog
from thinkube_tui.spec import answers_schema
from thinkube_tui.widgets import InstallGraph, LogPanel, SchemaForm

from .widget_harness import WidgetHarness, full_plan

os.environ["TEXTUAL_ANIMATIONS"] = "none"
Input.cursor_blink = False  # a blinking cursor would make every SVG differ


@pytest.fixture(autouse=True)
def _no_animations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


def component_app(component: str) -> WidgetHarness:
    return WidgetHarness(lambda: SchemaForm(load_catalog().schema(component), path=("components", component)))


def test_form_with_an_invalid_value(snap_compare) -> None:
    async def type_bad_version(pilot) -> None:
        form = pilot.app.query_one(SchemaForm)
        form.field("driverVersion").query_one(Input).focus()
        await pilot.press(*"570.x")

    assert snap_compare(component_app("gpu-operator"), run_before=type_bad_version, terminal_size=(80, 24))


def test_form_secret_and_lists(snap_compare) -> None:
    async def fill(pilot) -> None:
        form = pilot.app.query_one(SchemaForm)
        form.set_value({"adminPassword": {"env": "GRAFANA_ADMIN_PASSWORD"}, "plugins": ["grafana-piechart-panel"]})

    assert snap_compare(component_app("grafana"), run_before=fill, terminal_size=(80, 24))


def test_cluster_form_with_external_error(snap_compare) -> None:
    root = answers_schema()

    async def fill(pilot) -> None:
        form = pilot.app.query_one(SchemaForm)
        form.set_value(
            {
                "domain": "thinkube.lan",
                "adminEmail": "admin@thinkube.lan",
                "metallbRange": "192.168.1.200-192.168.1.220",
                "ingressIP": "192.168.1.100",
                "ingressKnIP": "192.168.1.201",
            },
            as_defaults=True,
        )
        form.show_errors({"cluster.ingressIP": "192.168.1.100 is outside metallbRange 192.168.1.200-192.168.1.220"})
        form.field("ingressIP").scroll_visible(animate=False)
        await pilot.pause()

    app = WidgetHarness(lambda: SchemaForm(root["$defs"]["cluster"], root=root, path=("cluster",)))
    assert snap_compare(app, run_before=fill, terminal_size=(80, 24))


def _dependents(plan, component: str) -> set[str]:
    found: set[str] = set()
    queue = [component]
    while queue:
        current = queue.pop()
        for p in plan.items:
            if current in p.deps and p.id not in found:
                found.add(p.id)
                queue.append(p.id)
    return found


def graph_mid_run() -> WidgetHarness:
    """The full example's plan part-way through: postgresql failed, what needs it blocked."""
    plan = full_plan()

    def build() -> InstallGraph:
        graph = InstallGraph(plan)
        for done in (
            "microk8s-control",
            "microk8s-workers",
            "metallb",
            "coredns",
            "qdrant",
            "valkey",
            "prometheus",
            "ingress",
            "cert-manager",
        ):
            graph.set_state(done, "done")
        for running in ("gpu-operator", "ingress-kn", "ssl-certificates"):
            graph.set_state(running, "running")
        graph.set_state("postgresql", "failed")
        for blocked in _dependents(plan, "postgresql"):
            graph.set_state(blocked, "blocked")
        return graph

    return WidgetHarness(build)


async def _select_failed(pilot) -> None:
    pilot.app.query_one(InstallGraph).select("postgresql")
    pilot.app.query_one(InstallGraph).focus()
    await pilot.pause()


def test_graph_mid_run_80x24(snap_compare) -> None:
    assert snap_compare(graph_mid_run(), run_before=_select_failed, terminal_size=(80, 24))


def test_graph_mid_run_120x40(snap_compare) -> None:
    assert snap_compare(graph_mid_run(), run_before=_select_failed, terminal_size=(120, 40))


def test_log_panel_shows_the_selected_component(snap_compare) -> None:
    async def feed(pilot) -> None:
        panel = pilot.app.query_one(LogPanel)
        panel.append("postgresql", [f"postgresql: step {i}" for i in range(40)])
        panel.append("metallb", [f"metallb: applying IPAddressPool line {i}" for i in range(30)])
        panel.show("metallb")
        panel.append("metallb", ["metallb: ready", "metallb: done in 41 s"])
        await pilot.pause()

    assert snap_compare(WidgetHarness(lambda: LogPanel()), run_before=feed, terminal_size=(80, 24))
