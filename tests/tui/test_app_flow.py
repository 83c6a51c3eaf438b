"""Pilot walks through the wizard against the lab: three nodes, discovery with a host-key prompt,
roles, components, settings with a mistake corrected, saved answers, install, and re-entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, Select

from thinkube_lab.cluster import Lab
from thinkube_tui.app import ThinkubeApp
from thinkube_tui.engine import EngineSettings
from thinkube_tui.screens.components import ComponentsScreen, ComponentTree
from thinkube_tui.screens.configure import ConfigureScreen
from thinkube_tui.screens.dialogs import ConfirmDialog, HostKeyDialog, NodeDialog, SaveAnswersDialog
from thinkube_tui.screens.install import InstallScreen
from thinkube_tui.screens.nodes import NodesScreen
from thinkube_tui.screens.review import ReviewScreen
from thinkube_tui.screens.roles import RolesScreen
from thinkube_tui.screens.summary import SummaryScreen
from thinkube_tui.screens.welcome import WelcomeScreen
from thinkube_tui.spec import load_answers
from thinkube_tui.widgets import InstallGraph, SchemaForm

from .wizard_harness import LAB_CLUSTER, fake_installers, lab_known_hosts_without, wait_until

SIZE = (80, 24)


@pytest.fixture
async def lab(tmp_path: Path):
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=0.01, nopasswd=True, log=lambda m: None) as lab:
        yield lab


def make_app(tmp_path: Path, lab: Lab, **kwargs) -> ThinkubeApp:
    return ThinkubeApp(
        state_dir=tmp_path / "state",
        known_hosts=tmp_path / "known_hosts",
        installers=kwargs.pop("installers", fake_installers()),
        answers_dir=tmp_path,
        engine_settings=EngineSettings(log_interval_s=0.01),
        **kwargs,
    )


async def add_node(pilot, app: ThinkubeApp, name: str, port: int, key: Path) -> None:
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(app.screen, NodeDialog), what="node dialog")
    dialog = app.screen
    for field, value in (("name", name), ("host", "127.0.0.1"), ("port", str(port)), ("user", "thinkube")):
        dialog.query_one(f"#{field}", Input).value = value
    dialog.query_one("#auth", Select).value = "key"
    await pilot.pause()
    dialog.query_one("#key_file", Input).value = str(key)
    await pilot.click("#save")
    await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen), what="node saved")


async def fill_form(pilot, form: SchemaForm, values: dict[str, str]) -> None:
    for path, value in values.items():
        form.field(path).input.value = value
    await pilot.pause()


async def test_new_install_walk(tmp_path: Path, lab: Lab) -> None:
    addresses = lab.addresses()
    names = list(addresses)  # tk-control, tk-worker-1, tk-gpu-1
    lab_known_hosts_without(lab, tmp_path / "known_hosts", unknown=names[2])
    app = make_app(tmp_path, lab)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, NodesScreen)
        assert "Add at least one node" in (app.screen.ready() or "")

        # Three nodes, through the dialog; a bad name is refused with the schema's words.
        await pilot.press("a")
        dialog = app.screen
        assert isinstance(dialog, NodeDialog)
        dialog.query_one("#name", Input).value = "Bad Name"
        await pilot.click("#save")
        assert isinstance(app.screen, NodeDialog)
        assert "wrong form" in str(dialog.query_one("#node-errors").render())
        await pilot.press("escape")
        for name in names:
            await add_node(pilot, app, name, addresses[name]["port"], lab.client_key)
        assert [n.name for n in app.model.nodes] == names
        assert app.model.control == names[0]

        # Discover: the third node's host key is unknown -> a modal with its fingerprint.
        await pilot.press("d")
        await wait_until(
            pilot, lambda: isinstance(app.screen, HostKeyDialog) or app.model.discovery_errors, what="host key dialog"
        )
        assert not app.model.discovery_errors, app.model.discovery_errors
        assert app.screen.fingerprint == addresses[names[2]]["fingerprint"]
        await pilot.click("#accept")
        await app.workers.wait_for_complete()
        await pilot.pause()
        nodes = app.screen
        assert isinstance(nodes, NodesScreen)
        assert set(app.model.facts) == set(names), app.model.discovery_errors
        assert app.model.node(names[2]).host_key == addresses[names[2]]["fingerprint"]
        table = nodes.query_one("#nodes", DataTable)
        assert "H100" in str(table.get_cell(names[2], "gpus"))
        assert not app.model.blocking_findings, app.model.findings

        await pilot.press("ctrl+n")
        assert isinstance(app.screen, RolesScreen)
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ComponentsScreen)

        # Ticking Grafana ticks Prometheus and says why; unticking Prometheus is refused.
        screen = app.screen
        tree = screen.query_one(ComponentTree)
        tree.move_cursor(screen.leaves["grafana"])
        await pilot.press("space")
        assert app.model.state("prometheus") == "required"
        assert app.model.required_by("prometheus") == ["grafana"]
        assert "prometheus" in str(screen.query_one("#selection-message").render())
        tree.move_cursor(screen.leaves["prometheus"])
        await pilot.press("space")
        assert app.model.is_selected("prometheus")
        assert "needed by Grafana" in str(screen.query_one("#selection-message").render())
        await pilot.press("ctrl+n")

        # Configure: the cluster settings, one cross-field mistake shown and corrected.
        screen = app.screen
        assert isinstance(screen, ConfigureScreen)
        assert "grafana" in screen.sections
        form = screen.form("cluster")
        await fill_form(pilot, form, {**{k: v for k, v in LAB_CLUSTER.items()}, "ingressIP": "10.42.0.99"})
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ConfigureScreen)
        assert "outside metallbRange" in form.errors().get("cluster.ingressIP", "")
        await fill_form(pilot, form, {"ingressIP": "10.42.0.200"})
        assert "cluster.ingressIP" not in form.errors()
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ReviewScreen)
        await app.workers.wait_for_complete()

        # Save the answers: the file re-validates and loads to the Spec the wizard built.
        await pilot.press("s")
        assert isinstance(app.screen, SaveAnswersDialog)
        answers = tmp_path / "saved" / "answers.yaml"
        app.screen.query_one("#path", Input).value = str(answers)
        await pilot.click("#save")
        await pilot.pause()
        assert load_answers(answers) == app.model.build_spec()

        # Install asks first (the safe answer focused); then every component done, then the summary.
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ConfirmDialog) and app.focused.id == "no"
        await pilot.click("#yes")
        await wait_until(pilot, lambda: isinstance(app.screen, InstallScreen), what="install screen")
        await wait_until(pilot, lambda: app.screen.finished is not None, what="install finished")
        graph = app.screen.query_one(InstallGraph)
        plan = app.screen.plan
        assert "grafana" in plan and "prometheus" in plan
        assert {graph.state_of(c) for c in plan.ids} == {"done"}
        await pilot.press("n")
        assert isinstance(app.screen, SummaryScreen)
        assert "- **Grafana**: https://grafana.thinkube-lab.lan" in app.screen.text  # the handover summary

    # Re-entry: the Welcome screen offers the cluster; add one optional component.
    app = make_app(tmp_path, lab)
    async with app.run_test(size=SIZE) as pilot:
        welcome = app.screen
        assert isinstance(welcome, WelcomeScreen)
        assert [r.name for r in welcome.records] == ["thinkube-lab"]
        await pilot.click("#add")
        await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen), what="nodes screen")
        assert app.model.reentry and "grafana" in app.model.installed
        await pilot.press("d")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert set(app.model.facts) == set(names)
        await pilot.press("ctrl+n")
        await pilot.press("ctrl+n")
        screen = app.screen
        assert isinstance(screen, ComponentsScreen)
        assert app.model.state("grafana") == "installed"
        tree = screen.query_one(ComponentTree)
        tree.move_cursor(screen.leaves["grafana"])
        await pilot.press("space")
        assert "installed already" in str(screen.query_one("#selection-message").render())
        tree.move_cursor(screen.leaves["qdrant"])
        await pilot.press("space")
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ConfigureScreen)
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.plan.ids == ("qdrant",)
        await pilot.press("ctrl+n")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: isinstance(app.screen, InstallScreen), what="install screen")
        await wait_until(pilot, lambda: app.screen.finished is not None, what="re-entry install finished")
        assert app.screen.finished.done == ("qdrant",)


async def test_quitting_during_an_install_asks_first(tmp_path: Path) -> None:
    from .wizard_harness import blocking_installers, snapshot_model

    app = ThinkubeApp(
        model=snapshot_model(),
        state_dir=tmp_path / "state",
        answers_dir=tmp_path,
        installers=blocking_installers(fail="postgresql", hang="minio"),
    )
    async with app.run_test(size=SIZE) as pilot:
        app.next_step(type("Review", (), {"STEP": "Review"})())
        await wait_until(pilot, lambda: app.install_running, what="install running")
        assert isinstance(app.screen, InstallScreen)
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.click("#no")
        assert isinstance(app.screen, InstallScreen) and app.install_running
        await pilot.press("ctrl+q")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: not app.is_running, what="exit")
    assert app.return_value == 130
    journal = (tmp_path / "state" / "thinkube-lab" / "journal.json").read_text()
    assert '"postgresql"' in journal and '"failed"' in journal


async def test_quit_decides_when_chosen_not_when_asked(tmp_path: Path) -> None:
    """The install finishes while "Quit anyway?" is open: Quit then exits 0, nothing cancelled."""
    import asyncio

    from .wizard_harness import snapshot_model

    release = asyncio.Event()
    installers = fake_installers()

    async def slow_minio(ctx) -> None:
        await release.wait()

    installers["minio"] = slow_minio
    app = ThinkubeApp(model=snapshot_model(), state_dir=tmp_path / "state", answers_dir=tmp_path, installers=installers)
    async with app.run_test(size=SIZE) as pilot:
        app.start_install()
        await wait_until(pilot, lambda: app.install_running, what="install running")
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmDialog)
        release.set()
        await wait_until(pilot, lambda: not app.install_running, what="install finished")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: not app.is_running, what="exit")
    assert app.return_value == 0
    assert app.install is not None and app.install.result is not None and app.install.result.ok


def recorded_cluster(tmp_path: Path, lab: Lab, select: tuple[str, ...] = ()) -> Path:
    """The lab's nodes as a cluster this machine installed (answers saved beside its journal);
    its state directory. The lab's host keys are known."""
    from thinkube_tui.wizard import NodeDraft, WizardModel

    model = WizardModel()
    for name, address in lab.addresses().items():
        model.add_node(
            NodeDraft(
                name, "127.0.0.1", "thinkube", port=address["port"], auth_method="key", key_file=str(lab.client_key)
            )
        )
    model.set_cluster_settings(dict(LAB_CLUSTER))
    for cid in select:
        assert model.select(cid).ok
    state = tmp_path / "state" / "thinkube-lab"
    model.save_for_reentry(model.build_spec(), state)
    (tmp_path / "known_hosts").write_text("".join(s.known_hosts_line() + "\n" for s in lab.servers.values()))
    return state


async def test_a_support_bundle_from_the_welcome_screen(tmp_path: Path, lab: Lab) -> None:
    """Back at a recorded cluster, Support bundle (clicked twice) reconnects and writes one bundle
    beside the cluster's journal, from every node, and says where it is."""
    import stat
    import tarfile

    from thinkube_tui.journal import Journal

    state = recorded_cluster(tmp_path, lab)
    journal = Journal.open(state / "journal.json")
    journal.started("microk8s-control", None)
    journal.failed_with("microk8s-control", "snap install failed")
    app = make_app(tmp_path, lab)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, WelcomeScreen)
        bundle_button = app.screen.query_one("#bundle", Button)
        bundle_button.post_message(Button.Pressed(bundle_button))
        bundle_button.post_message(Button.Pressed(bundle_button))  # a second press while collecting: ignored
        await wait_until(pilot, lambda: list(state.glob("support-bundle-*.tar.gz")), what="bundle written", timeout=60)
        await wait_until(pilot, lambda: not app.screen._busy, what="bundle done")
        (bundle,) = state.glob("support-bundle-*.tar.gz")
        assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
        with tarfile.open(bundle) as tar:
            names = tar.getnames()
        for node in lab.addresses():
            assert any(name.endswith(f"nodes/{node}/facts.json") for name in names), names
        assert any(name.endswith("local/journal.json") for name in names)
        assert any(str(bundle) in str(n.message) for n in app._notifications), "the bundle's path is shown"
        assert isinstance(app.screen, WelcomeScreen)


async def test_resume_goes_straight_to_the_install(tmp_path: Path, lab: Lab) -> None:
    """An interrupted install shows as interrupted; Resume reconnects, asks, and installs what is
    left, without the wizard's steps."""
    from collections import Counter

    from thinkube_tui.journal import Journal

    state = recorded_cluster(tmp_path, lab)
    journal = Journal.open(state / "journal.json")
    journal.started("microk8s-control", None)
    journal.finished("microk8s-control")
    journal.started("microk8s-workers", None)  # the process stopped here

    calls: Counter[str] = Counter()
    installers = fake_installers()
    for cid, inner in list(installers.items()):

        async def counted(ctx, cid=cid, inner=inner) -> None:
            calls[cid] += 1
            await inner(ctx)

        installers[cid] = counted
    app = make_app(tmp_path, lab, installers=installers)
    async with app.run_test(size=SIZE) as pilot:
        welcome = app.screen
        assert isinstance(welcome, WelcomeScreen)
        state_cell = welcome.query_one("#clusters", DataTable).get_row_at(0)[2]
        assert "interrupted in microk8s-workers" in str(state_cell)
        resume = welcome.query_one("#resume", Button)
        resume.post_message(Button.Pressed(resume))
        resume.post_message(Button.Pressed(resume))  # a second press while reconnecting: ignored
        await pilot.pause()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="install question")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: app.install is not None and app.install.result is not None, what="run over")
        assert [type(s).__name__ for s in app.screen_stack[1:]] == ["InstallScreen"]
        assert "microk8s-control" not in app.screen.plan and calls["microk8s-control"] == 0
        assert calls["microk8s-workers"] == 1 and set(calls.values()) == {1}
        assert app.install.result.ok


async def installed_on_the_lab(tmp_path: Path, lab: Lab, only: set[str]) -> Path:
    """A recorded cluster (answers saved beside its journal) with `only` really installed on the lab."""
    import io

    from thinkube_tui.headless import HeadlessOptions, run

    state = recorded_cluster(tmp_path, lab, tuple(only))
    out = io.StringIO()
    options = HeadlessOptions(
        answers=state / "answers.yaml",
        yes=True,
        state_dir=tmp_path / "state",
        known_hosts=tmp_path / "known_hosts",
        interactive_output=False,
        only=frozenset(only),
    )
    assert await run(options, out=out, err=out) == 0, out.getvalue()[-3000:]
    return state


async def test_remove_components_from_the_welcome_screen(tmp_path: Path, lab: Lab) -> None:
    """Welcome, Remove components: reconnect, tick Valkey, Remove; the operation screen shows it
    run as `thinkube-tui remove` runs it; the release is gone and the journal forgot it."""
    from textual.widgets import SelectionList

    from thinkube_tui.journal import Journal
    from thinkube_tui.screens.operation import OperationScreen, RemoveDialog

    state = await installed_on_the_lab(tmp_path, lab, {"valkey"})
    assert "valkey/valkey" in lab.releases
    app = make_app(tmp_path, lab, installers=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.click("#remove")
        await wait_until(pilot, lambda: isinstance(app.screen, RemoveDialog), what="remove dialog", timeout=60)
        app.screen.query_one(SelectionList).select("valkey")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen), what="operation screen")
        screen = app.screen
        await wait_until(pilot, lambda: screen.result is not None or screen.failed is not None, timeout=60)
        assert screen.failed is None and screen.result is not None and screen.result.ok, screen.failed
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, WelcomeScreen), what="back to Welcome")
    assert "valkey/valkey" not in lab.releases
    assert "valkey" not in Journal.open(state / "journal.json").installed


async def test_upgrade_from_the_welcome_screen(tmp_path: Path, lab: Lab) -> None:
    """Welcome, Upgrade: the plan from -> to is asked about, then it runs; the journal records the pin."""
    from thinkube_tui.catalog import load_catalog
    from thinkube_tui.journal import Journal
    from thinkube_tui.screens.operation import OperationScreen

    state = await installed_on_the_lab(tmp_path, lab, {"valkey"})
    pin = load_catalog()["valkey"].pinned_version("1.33/stable")
    journal = Journal.open(state / "journal.json")
    journal.components["valkey"].version = "valkey 0.0.1"  # as if installed by an older release
    journal.save()
    app = make_app(tmp_path, lab, installers=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.click("#upgrade")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the plan", timeout=60)
        assert f"valkey: valkey 0.0.1 -> {pin}" in str(app.screen.question)
        await pilot.click("#yes")
        await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen), what="operation screen")
        screen = app.screen
        await wait_until(pilot, lambda: screen.result is not None or screen.failed is not None, timeout=60)
        assert screen.failed is None and screen.result is not None and screen.result.ok, screen.failed
    assert Journal.open(state / "journal.json").components["valkey"].version == pin
