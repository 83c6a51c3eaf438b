"""sudo asks for a password: the wizard asks the operator in a masked dialog, keeps it in memory only."""

from pathlib import Path

from textual.widgets import Input

from thinkube_lab.cluster import Lab
from thinkube_tui.app import ThinkubeApp
from thinkube_tui.engine import EngineSettings
from thinkube_tui.screens.dialogs import SecretDialog
from thinkube_tui.screens.nodes import NodesScreen
from thinkube_tui.wizard import WizardModel

from .wizard_harness import fake_installers, wait_until


async def test_sudo_password_is_asked_masked_and_never_written(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("TK_LAB_SUDO_PASSWORD", raising=False)  # nothing to take it from: ask
    async with Lab(tmp_path / "lab", nodes=2, gpus=0, speed=0.01, log=lambda m: None) as lab:
        answers = lab.write_answers(tmp_path / "answers.yaml")
        lab.write_known_hosts(tmp_path / "known_hosts")
        app = ThinkubeApp(
            model=WizardModel.from_answers_file(answers),
            state_dir=tmp_path / "state",
            known_hosts=tmp_path / "known_hosts",
            installers=fake_installers(),
            answers_dir=tmp_path,
            engine_settings=EngineSettings(log_interval_s=0.01),
        )
        async with app.run_test(size=(100, 30)) as pilot:
            app.next_step(type("Welcome", (), {"STEP": "Welcome"})())
            await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen), what="nodes screen")
            await pilot.press("d")
            for _ in lab.nodes:  # one question per node
                await wait_until(pilot, lambda: isinstance(app.screen, SecretDialog), what="password dialog")
                field = app.screen.query_one("#secret", Input)
                assert field.password  # masked
                field.value = lab.sudo_password
                await pilot.press("enter")
            await wait_until(pilot, lambda: len(app.model.facts) == len(lab.nodes), what="discovered", timeout=30)
            await app.workers.wait_for_complete()
            assert not any(f.check == "sudo" and f.severity == "error" for f in app.model.findings)
            assert {kind for (_node, kind) in app.model.node_secrets} == {"sudo"}
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "sudo-password":  # the lab keeps its own copy
            assert lab.sudo_password not in path.read_text(errors="replace"), path
