"""Text a node reports, or that came from the answers, a file or an error, is shown as text:
never read as Rich/Textual markup (issue 11, item 4).

Every payload goes through every string field of the facts (a parsed probe, each field poisoned
with `<field>:<payload>`) and through the answers strings that are shown (node names, hosts,
users, labels, taints, domain), an install error and its output, a state directory's name.
What each screen and command then shows is collected as Text/Content; the tests check that
nothing raised (a stray `[/]` was a MarkupError), that the payload appears literally (a parsed
tag would vanish) and that no span carries a link or an action.
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.content import Content
from textual.widgets import DataTable, Input, Log, Static, Tree
from textual.widgets._data_table import default_cell_formatter

from tests.discovery.helpers import probe_output, ubuntu_sections
from thinkube_tui.discovery import NodeResult, parse_probe_output
from thinkube_tui.engine import EngineSettings, InstallError
from thinkube_tui.facts import Facts
from thinkube_tui.preflight import Finding, run_preflight
from thinkube_tui.textsafe import data, styled

from ..tui.wizard_harness import GPU_LSPCI, GPU_SMI, LAB_CLUSTER, fake_installers, wait_until

os.environ["TEXTUAL_ANIMATIONS"] = "none"
Input.cursor_blink = False

PAYLOADS = [
    "NVIDIA [link=file:///etc/passwd]EVIL[/link]",
    "[bold red]X[/]",
    "stray [/] here",
    "[",
    "\\[escaped]",
    "[$accent]var[/]",  # a Textual variable: Rich's escape() would leave it as a tag
    "[@click=app.quit]q[/]",
    "ends in a backslash\\",
]
DIRNAME_PAYLOADS = ["[b]X", "[", "a[red]b", "[$accent]v", "[link=x]L"]  # no "/" in a directory name


# ---------------------------------------------------------------- what is shown


def _is_action(style: object) -> bool:
    """A link, or the payload's `@click=app.quit` (the step bar's own clicks are ours)."""
    if style is None:
        return False
    if isinstance(style, str):
        return "link" in style or "app.quit" in style
    return bool(getattr(style, "link", None)) or "app.quit" in repr(style)


def assert_plain(shown: list[Text | Content], where: str) -> str:
    """No span links anywhere; the plain text of all of it, joined."""
    for visual in shown:
        for span in visual.spans:
            assert not _is_action(span.style), f"{where}: {visual.plain!r} got {span.style!r}"
    return "\n".join(v.plain for v in shown)


def screen_texts(app: Any) -> list[Text | Content]:
    """What the current screen shows, widget by widget, and the notifications."""
    screen = app.screen
    out: list[Text | Content] = []
    for static in screen.query(Static):
        visual = static.visual
        out.append(visual if isinstance(visual, Content) else Content(str(visual)))
    for table in screen.query(DataTable):
        for i in range(table.row_count):
            out.extend(default_cell_formatter(cell) for cell in table.get_row_at(i))  # type: ignore[misc]
    for tree in screen.query(Tree):
        nodes = [tree.root]
        while nodes:
            node = nodes.pop()
            out.append(node.label)
            nodes.extend(node.children)
    for log in screen.query(Log):
        out.extend(Text(line) for line in log.lines)
    for widget in screen.query("*"):
        if widget.border_title:
            out.append(Content(str(widget.border_title)))
    for note in app._notifications:
        out.append(Content.from_markup(note.message) if note.markup else Content(note.message))
        out.append(Content(note.title))
    return out


async def settle(pilot: Any) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.export_screenshot()  # renders everything: a markup error would raise here


def shown_now(app: Any) -> str:
    return assert_plain(screen_texts(app), type(app.screen).__name__)


# ---------------------------------------------------------------- poisoned facts and answers


def poison(obj: Any, payload: str, path: str = "") -> Any:
    """A copy of a facts dataclass with every string field `<path>:<payload>` (but `node`)."""
    if isinstance(obj, str):
        return f"{path}:{payload}"
    if isinstance(obj, tuple):
        return tuple(poison(x, payload, path) for x in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {
            f.name: poison(getattr(obj, f.name), payload, f"{path}.{f.name}".lstrip("."))
            for f in dataclasses.fields(obj)
            if f.name != "node" and f.init
        }
        return dataclasses.replace(obj, **changes)
    return obj


def poisoned_facts(name: str, payload: str) -> Facts:
    sections = ubuntu_sections(hostname=name, address="10.42.0.11")
    sections.update({"lspci": GPU_LSPCI, "nvidia_smi_csv": GPU_SMI})
    facts = poison(parse_probe_output(name, probe_output(sections)), payload)
    assert facts.gpus and facts.disks and facts.interfaces, "the fixture reports every kind of field"
    return facts


def finding(payload: str) -> Finding:
    return Finding("check:" + payload, "error", "node:" + payload, "message:" + payload, "fix:" + payload)


def make_app(tmp_path: Path, model: Any, installers: Any = None) -> Any:
    from thinkube_tui.app import ThinkubeApp

    return ThinkubeApp(
        model=model,
        state_dir=tmp_path / "state",
        answers_dir=tmp_path,
        installers=installers or fake_installers(),
        known_hosts=tmp_path / "known_hosts",
        engine_settings=EngineSettings(log_interval_s=0.001),
    )


def unvalidated_model(payload: str) -> Any:
    """Nodes whose answers strings carry the payload, put in as they are (not validated):
    what is shown must be safe whatever reached the model."""
    from thinkube_tui.wizard import NodeDraft, WizardModel

    model = WizardModel()
    for name in ("tk-control", f"name:{payload}"):
        node = NodeDraft(name, f"host:{payload}", f"user:{payload}", auth_method="agent")
        node.labels = {"lab": f"label:{payload}"}
        node.taints = [f"taint:{payload}"]
        model.nodes.append(node)
    model.nodes[0].role = "control"
    model.set_cluster_settings({**LAB_CLUSTER, "domain": f"domain:{payload}", "name": f"cluster:{payload}"})
    return model


# ---------------------------------------------------------------- the wizard


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_nodes_screen_shows_discovered_facts_and_findings_as_text(tmp_path: Path, payload: str) -> None:
    model = unvalidated_model(payload)
    names = [n.name for n in model.nodes]
    app = make_app(tmp_path, model)

    async def discover(nodes: Any) -> Any:
        yield NodeResult(names[0], poisoned_facts(names[0], payload), None, 0.1)
        yield NodeResult(names[1], None, f"error:{payload}", 0.1)

    async with app.run_test(size=(400, 60)) as pilot:
        app.session.discover = discover
        await app.push_screen(app.screen_for("Nodes"))
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert model.findings, "preflight ran on the poisoned facts"
        shown = shown_now(app)
        for field in ("os.pretty_name", "cpu.model", "gpus.model", "host", "user", "name"):
            assert f"{field}:{payload}" in shown, field
        assert f"error:{payload}" in shown  # the notification of the node that failed
        assert any(f"{f.message}" in shown for f in model.findings if payload in f.message), "a finding quotes data"

        model.findings = [finding(payload)]
        app.screen.refresh_findings()
        await settle(pilot)
        shown = shown_now(app)
        for part in ("node", "message", "fix"):
            assert f"{part}:{payload}" in shown, part

        await pilot.press("x")  # remove the highlighted node: the question quotes its name and host
        await settle(pilot)
        assert f"host:{payload}" in shown_now(app)


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_roles_screen_shows_gpus_labels_taints_and_errors_as_text(tmp_path: Path, payload: str) -> None:
    model = unvalidated_model(payload)
    model.facts[model.nodes[0].name] = poisoned_facts(model.nodes[0].name, payload)
    app = make_app(tmp_path, model)
    async with app.run_test(size=(400, 60)) as pilot:
        await app.push_screen(app.screen_for("Roles"))
        await settle(pilot)
        shown = shown_now(app)
        for field in ("gpus.model", "gpus.driver_version", "host", "label", "taint"):
            assert f"{field}:{payload}" in shown, field
        await pilot.press("down")  # the second node: its name is in the labels' caption
        await settle(pilot)
        assert f"name:{payload}" in shown_now(app)
        await pilot.press("c")  # "<name> is the control plane."
        await settle(pilot)
        app.screen.query_one("#labels", Input).value = f"k={payload}"  # refused; the error quotes it
        await settle(pilot)
        shown = shown_now(app)
        assert f"name:{payload} is the control plane" in shown
        assert payload in app.screen.query_one("#roles-errors", Static).visual.plain


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_component_description_shows_the_domain_as_text(tmp_path: Path, payload: str) -> None:
    model = unvalidated_model(payload)
    app = make_app(tmp_path, model)
    async with app.run_test(size=(200, 60)) as pilot:
        await app.push_screen(app.screen_for("Components"))
        await settle(pilot)
        screen = app.screen
        screen.query_one(Tree).move_cursor(screen.leaves["grafana"])
        await settle(pilot)
        assert f"domain:{payload}" in shown_now(app)


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_dialogs_show_hosts_key_types_and_prompts_as_text(tmp_path: Path, payload: str) -> None:
    from thinkube_tui.screens.dialogs import HostKeyDialog, NodeDialog, SecretDialog
    from thinkube_tui.wizard import NodeDraft

    app = make_app(tmp_path, unvalidated_model(payload))
    async with app.run_test(size=(200, 60)) as pilot:
        await app.push_screen(HostKeyDialog(f"node:{payload}", f"host:{payload}", 22, f"kt:{payload}", f"fp:{payload}"))
        await settle(pilot)
        shown = shown_now(app)
        for part in ("node", "host", "kt", "fp"):
            assert f"{part}:{payload}" in shown, part
        app.pop_screen()
        await app.push_screen(SecretDialog(f"Passphrase for ~/.ssh/{payload}", f"node {payload}"))
        await settle(pilot)
        shown = shown_now(app)
        assert f"Passphrase for ~/.ssh/{payload}" in shown and f"node {payload}" in shown
        app.pop_screen()
        await app.push_screen(NodeDialog(app.model, NodeDraft("n1", f"h{payload}", f"u{payload}")))
        await settle(pilot)
        await pilot.click("#save")  # refused: the errors quote what was typed
        await settle(pilot)
        assert repr(f"h{payload}") in app.screen.query_one("#node-errors", Static).visual.plain  # quoted as repr


def valid_model(tmp_path: Path, payload: str) -> Any:
    """Answers that validate (their strings cannot hold markup), facts and findings that do."""
    from tests.tui.wizard_harness import snapshot_model

    model = snapshot_model()
    for name in list(model.facts):
        model.facts[name] = poisoned_facts(name, payload)
    model.findings = [finding(payload), *run_preflight(model.facts.values(), control=model.control)]
    model.select("grafana")
    return model


def failing_installers(payload: str) -> dict[str, Any]:
    installers = fake_installers()

    async def fails(ctx: Any) -> None:
        ctx.log(f"log:{payload}")
        raise InstallError(f"error:{payload}", node=ctx.spec.control.name, output_tail=f"tail:{payload}")

    installers["grafana"] = fails
    return installers


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_review_install_and_summary_show_data_as_text(
    tmp_path: Path, payload: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(tmp_path, valid_model(tmp_path, payload), failing_installers(payload))
    async with app.run_test(size=(250, 60)) as pilot:
        await app.push_screen(app.screen_for("Review"))
        await settle(pilot)
        shown = shown_now(app)
        for part in ("node", "message", "fix"):
            assert f"{part}:{payload}" in shown, part
        saved = tmp_path / f"answers {payload}.yaml"  # a "/" in the payload: not saved, the error names it
        app.screen.save(saved, secrets_as_env=True)
        await settle(pilot)
        assert str(saved) in shown_now(app) or repr(str(saved)) in shown_now(app)

        app.next_step(type("Review", (), {"STEP": "Review"})())
        await wait_until(pilot, lambda: app.install is not None and app.install.result is not None, what="finished")
        screen = app.screen
        screen.query_one("InstallGraph").select("grafana")
        await settle(pilot)
        shown = shown_now(app)
        for part in ("log", "error", "tail"):
            assert f"{part}:{payload}" in shown, part

        await pilot.press("n")
        await settle(pilot)
        assert f"error:{payload}" in shown_now(app)


@pytest.mark.parametrize("name", DIRNAME_PAYLOADS)
async def test_welcome_shows_clusters_on_record_as_text(tmp_path: Path, name: str) -> None:
    from thinkube_tui.journal import Journal
    from thinkube_tui.wizard import WizardModel

    journal = Journal.open(tmp_path / "state" / name / "journal.json")
    journal.started("coredns", None)
    journal.failed_with("coredns", f"helm said {name}")
    app = make_app(tmp_path, WizardModel())
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        assert name in shown_now(app)
        await pilot.click("#add")  # the re-entry notice names the cluster
        await settle(pilot)
        assert f"{name}: 0 components installed" in assert_plain(
            [Content.from_markup(n.message) if n.markup else Content(n.message) for n in app._notifications], "notify"
        )


# ---------------------------------------------------------------- the commands


def rich_output(*renderables: Any) -> str:
    """Renderables printed on a wide terminal; no segment may carry a link."""
    console = Console(file=io.StringIO(), width=1000, force_terminal=True, color_system="truecolor")
    for renderable in renderables:
        for segment in console.render(renderable):
            assert not (segment.style and (segment.style.link or segment.style.meta)), segment
        console.print(renderable)
    plain = Console(file=io.StringIO(), width=1000, record=True)
    plain.print(*renderables)
    return plain.export_text()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_discover_tables_show_facts_and_findings_as_text(payload: str) -> None:
    from thinkube_tui.commands.discover_view import findings_table, nodes_table, summary_line

    facts = poisoned_facts("tk-control", payload)
    findings = [finding(payload), *run_preflight([facts], control="tk-control")]
    failed = NodeResult("tk-worker", None, f"error:{payload}", 0.1)
    out = rich_output(nodes_table([NodeResult("tk-control", facts, None, 0.1), failed]), findings_table(findings))
    summary_line(findings)
    for field in ("hostname", "os.pretty_name", "cpu.model", "gpus.model", "gpus.driver_version", "error"):
        assert f"{field}:{payload}" in out, field
    for part in ("node", "message", "fix", "check"):
        assert f"{part}:{payload}" in out, part


@pytest.mark.parametrize("payload", PAYLOADS)
def test_plan_shows_cluster_name_and_domain_as_text(payload: str) -> None:
    import yaml

    from thinkube_tui.catalog import load_catalog
    from thinkube_tui.commands.plan import render_plan
    from thinkube_tui.plan import make_plan
    from thinkube_tui.spec import API_VERSION, parse_answers

    answers = {
        "apiVersion": API_VERSION,
        "cluster": LAB_CLUSTER,
        "nodes": [{"name": "tk-control", "host": "10.42.0.11", "user": "thinkube", "role": "control"}],
        "components": {"grafana": {"enabled": True}},
    }
    spec = parse_answers(yaml.safe_dump(answers))
    cluster = dataclasses.replace(spec.cluster, name=f"cluster:{payload}", domain=f"domain:{payload}")
    spec = dataclasses.replace(spec, cluster=cluster)
    catalog = load_catalog()
    out = rich_output(*render_plan(make_plan(catalog, spec), catalog, spec))
    assert f"cluster:{payload}" in out and f"domain:{payload}" in out


@pytest.mark.parametrize("name", DIRNAME_PAYLOADS)
def test_status_shows_journal_data_as_text(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from thinkube_tui.commands.status import run_status
    from thinkube_tui.journal import Journal

    monkeypatch.setenv("COLUMNS", "1000")
    journal = Journal.open(tmp_path / name / "journal.json")
    journal.started("coredns", None)
    journal.failed_with("coredns", f"error:{name} [link=file:///etc/passwd]EVIL[/link] [/]")
    assert run_status(tmp_path, None) == 0
    out = capsys.readouterr().out
    assert f"cluster {name}" in out
    assert f"error:{name} [link=file:///etc/passwd]EVIL[/link] [/]" in out

    (tmp_path / name / "journal.json").write_text("{damaged")
    assert run_status(tmp_path, name) == 2
    assert f"/{name}/journal.json" in capsys.readouterr().out  # the error names the file, as it is


@pytest.mark.parametrize("payload", PAYLOADS)
def test_headless_live_view_shows_steps_logs_and_errors_as_text(payload: str) -> None:
    from thinkube_tui.events import ComponentFailed, ComponentStarted, LogLines, StepStarted
    from thinkube_tui.printer import LiveView

    console = Console(file=io.StringIO(), width=1000, force_terminal=True)
    view = LiveView(3, lambda s: s, console=console)
    view(ComponentStarted("grafana"))
    view(StepStarted("grafana", step=f"step:{payload}"))
    view(LogLines("grafana", lines=(f"log:{payload}",)))
    view(ComponentFailed("grafana", error=f"error:{payload}", output_tail=f"tail:{payload}"))
    view(ComponentStarted("loki"))
    view(StepStarted("loki", step=f"step:{payload}"))
    out = rich_output(view._render())
    assert f"step:{payload}" in out and f"log:{payload}" in out


# ---------------------------------------------------------------- the helper itself


@pytest.mark.parametrize("payload", PAYLOADS)
def test_styled_fills_fields_as_text_with_the_templates_style(payload: str) -> None:
    text = styled("[b]{name}[/b] on {host}: [red]{error}[/]", name=payload, host=data(payload), error=payload)
    assert text.plain == f"{payload} on {payload}: {payload}"
    assert [(s.start, s.end, str(s.style)) for s in text.spans] == [
        (0, len(payload), "bold"),
        (len(text.plain) - len(payload), len(text.plain), "red"),
    ]
    assert data(payload).plain == payload and not data(payload).spans
