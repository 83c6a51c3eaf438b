"""The wizard's input screens as an operator uses them: one source of truth for what is
installed, the GPU operator's automatic tick, invalid input kept and marked (never erased),
and the same human messages as `validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Label, Static

from thinkube_tui.app import ThinkubeApp
from thinkube_tui.engine import EngineSettings
from thinkube_tui.screens.components import ComponentsScreen, ComponentTree
from thinkube_tui.screens.configure import ConfigureScreen, form_id
from thinkube_tui.screens.dialogs import NodeDialog
from thinkube_tui.screens.nodes import NodesScreen
from thinkube_tui.screens.roles import RolesScreen
from thinkube_tui.spec import AnswersError, parse_answers
from thinkube_tui.widgets import SchemaForm

from .wizard_harness import fake_installers, snapshot_model, wait_until

SIZE = (100, 30)


def make_app(tmp_path: Path, model: Any = None) -> ThinkubeApp:
    return ThinkubeApp(
        model=model or snapshot_model(),
        state_dir=tmp_path / "state",
        answers_dir=tmp_path,
        installers=fake_installers(),
        known_hosts=tmp_path / "known_hosts",
        engine_settings=EngineSettings(log_interval_s=0.01),
    )


async def open_step(pilot: Any, step: str) -> Any:
    app = pilot.app
    await app.push_screen(app.screen_for(step))
    await pilot.pause()
    return app.screen


def shows_its_text(widget: Input) -> bool:
    """The Input has a line to draw its value on (a border on a one-line Input leaves none)."""
    return widget.content_region.height >= 1 and widget.content_region.width > len(widget.value)


# ---------------------------------------------------------------- one source of truth for the selection


async def test_configure_has_no_second_enable_switch(tmp_path: Path) -> None:
    model = snapshot_model()
    for cid in ("vault", "jupyterhub", "loki", "code-server-monitor"):
        model.select(cid)
    app = make_app(tmp_path, model)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, "Configure")
        assert isinstance(screen, ConfigureScreen)
        for cid in ("vault", "jupyterhub", "loki"):
            form = screen.query_one(f"#{form_id(cid)}", SchemaForm)
            assert "enabled" not in form.fields, f"{cid}'s settings show an enable switch"
        screen.leave()
        plan = model.plan()
        for cid in ("vault", "jupyterhub", "loki", "code-server-monitor"):
            assert cid in plan, f"{cid} was ticked on Components but is not in the plan"


# ---------------------------------------------------------------- the GPU operator's automatic tick


async def test_gpu_operator_tick_cycles_back_to_automatic(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, "Components")
        assert isinstance(screen, ComponentsScreen)
        tree = screen.query_one(ComponentTree)
        tree.move_cursor(screen.leaves["gpu-operator"])
        await pilot.pause()
        seen = []
        for _ in range(4):
            await pilot.press("space")
            await pilot.pause()
            label = str(screen.leaves["gpu-operator"].label)
            status = str(screen.query_one("#selection-message", Static).render())
            seen.append((app.model.state("gpu-operator"), label[:3], status))
        assert [s[:2] for s in seen] == [
            ("off", "[ ]"),
            ("selected", "[x]"),
            ("auto", "[a]"),
            ("off", "[ ]"),
        ]
        assert "unselected" in seen[0][2] and "automatic" in seen[2][2]
        assert "selected" in seen[1][2] and "unselected" not in seen[1][2]


# ---------------------------------------------------------------- invalid input is kept and marked


async def test_a_bad_node_name_stays_visible_and_its_message_clears_when_fixed(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, "Nodes")
        assert isinstance(screen, NodesScreen)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, NodeDialog), what="node dialog")
        dialog = app.screen
        name = dialog.query_one("#name", Input)
        name.focus()
        await pilot.press(*"Bad_Name")
        dialog.query_one("#host", Input).value = "10.42.0.99"
        dialog.query_one("#user", Input).value = "thinkube"
        await pilot.click("#save")
        await pilot.pause()
        errors = str(dialog.query_one("#node-errors", Static).render())
        assert name.value == "Bad_Name" and name.has_class("-invalid") and shows_its_text(name)
        assert "Bad_Name" in errors and "e.g. tk-control" in errors and "^" not in errors
        name.value = "bad-name"
        await pilot.pause()
        assert not name.has_class("-invalid")
        assert str(dialog.query_one("#node-errors", Static).render()) == ""
        assert app.screen is dialog  # fixing is not saving


async def test_a_bad_taint_stays_visible_and_the_fields_name_their_node(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, "Roles")
        assert isinstance(screen, RolesScreen)
        node = screen.current()
        assert node is not None
        assert node in str(screen.query_one("#labels-label", Label).render())
        assert node in str(screen.query_one("#taints-label", Label).render())
        taints = screen.query_one("#taints", Input)
        taints.focus()
        await pilot.press(*"gpu=$(x):NoSchedule")
        await pilot.pause()
        errors = str(screen.query_one("#roles-errors", Static).render())
        assert taints.value == "gpu=$(x):NoSchedule" and taints.has_class("-invalid") and shows_its_text(taints)
        assert "Kubernetes taint" in errors
        assert app.model.node(node).taints == []  # not taken
        taints.value = "gpu=true:NoSchedule"
        await pilot.pause()
        assert not taints.has_class("-invalid")
        assert str(screen.query_one("#roles-errors", Static).render()) == ""
        assert app.model.node(node).taints == ["gpu=true:NoSchedule"]


async def test_a_bad_admin_email_stays_visible_with_the_validate_message(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, "Configure")
        form = screen.query_one(f"#{form_id('cluster')}", SchemaForm)
        field = form.field("adminEmail")
        field.input.focus()
        field.input.value = ""
        await pilot.press(*"not-an-email")
        await pilot.pause()
        assert field.input.value == "not-an-email" and shows_its_text(field.input)
        message = form.errors()["cluster.adminEmail"]
        assert message == validate_message("adminEmail", "not-an-email")
        assert "e.g. admin@thinkube.lan" in message
        field.input.value = "admin@thinkube-lab.lan"
        await pilot.pause()
        assert "cluster.adminEmail" not in form.errors()
        assert not field.has_class("-invalid")


@pytest.mark.parametrize(("key", "value"), [("domain", "Not A Domain"), ("ingressIP", "300.1.1.1")])
async def test_form_and_validate_say_the_same(tmp_path: Path, key: str, value: str) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, "Configure")
        form = screen.query_one(f"#{form_id('cluster')}", SchemaForm)
        form.field(key).input.value = value
        await pilot.pause()
        assert form.errors()[f"cluster.{key}"] == validate_message(key, value)


def validate_message(key: str, value: str) -> str:
    """What `validate` says about `cluster.KEY: VALUE` in an otherwise valid file."""
    cluster = {
        "domain": "thinkube.lan",
        "adminEmail": "admin@thinkube.lan",
        "metallbRange": "192.168.1.200-192.168.1.220",
        "ingressIP": "192.168.1.200",
        "ingressKnIP": "192.168.1.201",
        key: value,
    }
    lines = "".join(f"  {k}: {v!r}\n" for k, v in cluster.items())
    text = (
        "apiVersion: thinkube.io/v1alpha1\ncluster:\n" + lines + "nodes:\n"
        "  - {name: tk-control, host: 192.168.1.10, user: thinkube, role: control}\n"
    )
    with pytest.raises(AnswersError) as err:
        parse_answers(text)
    return next(p.message for p in err.value.problems if p.json_path == f"cluster.{key}")


# ---------------------------------------------------------------- passwords the components would refuse


async def test_configure_refuses_a_password_the_realm_policy_refuses_and_warns_on_weak_ones(tmp_path: Path) -> None:
    model = snapshot_model()
    model.select("grafana")
    app = make_app(tmp_path, model)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, "Configure")
        keycloak = screen.query_one(f"#{form_id('keycloak')}", SchemaForm)
        password = keycloak.field("adminPassword")
        password.input.value = "abc"
        await pilot.pause()
        message = keycloak.errors()["components.keycloak.adminPassword"]
        assert message == "Keycloak refuses passwords shorter than 12 characters" and "abc" not in message
        assert screen.ready() is not None  # the install cannot start with it
        keycloak.field("passwordPolicy").input.value = "length(3) and upperCase(1)"
        await pilot.pause()
        assert keycloak.errors()["components.keycloak.adminPassword"] == (
            "Keycloak refuses passwords without an upper-case letter"
        )
        password.input.value = "Abcdefgh"
        await pilot.pause()
        assert "components.keycloak.adminPassword" not in keycloak.errors()
        assert "weak" in keycloak.warnings()["components.keycloak.adminPassword"]
        assert password.has_class("-warning") and not password.has_class("-invalid")
        grafana = screen.query_one(f"#{form_id('grafana')}", SchemaForm)
        grafana.field("adminPassword").input.value = "abc"
        await pilot.pause()
        assert "components.grafana.adminPassword" not in grafana.errors()
        assert "weak" in grafana.warnings()["components.grafana.adminPassword"]
        screen.check()
        assert "weak" in str(screen.query_one("#configure-status", Static).render())
