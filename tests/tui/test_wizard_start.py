"""What the wizard opens with: the checked state directory, the demo's own state, where answers go."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from thinkube_tui.commands.lab import demo_state_dir
from thinkube_tui.wizard import git_warning
from thinkube_tui.wizard_start import WizardStartError, wizard_start

from .test_wizard_model import model_with_nodes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_demo_wizard_keeps_its_installs_apart_from_real_clusters(tmp_path: Path) -> None:
    start = wizard_start(answers=None, secrets=None, demo=True, state_dir=tmp_path)
    assert start.demo is not None and start.model is None
    assert start.state_base == demo_state_dir(tmp_path) == tmp_path / "demo" / "state"


def test_the_demo_wizard_refuses_a_bad_answers_file_before_any_screen(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list, not a mapping\n")
    with pytest.raises(WizardStartError, match="bad.yaml"):
        wizard_start(answers=bad, secrets=None, demo=True, state_dir=tmp_path)


def test_the_wizard_refuses_an_other_writable_state_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    with pytest.raises(WizardStartError, match="writable by other users"):
        wizard_start(answers=None, secrets=None, demo=False, state_dir=state)
    with pytest.raises(WizardStartError, match="writable by other users"):
        wizard_start(answers=None, secrets=None, demo=True, state_dir=state)


def test_answers_are_proposed_in_the_clusters_state_directory_not_the_current_one(tmp_path: Path) -> None:
    from thinkube_tui.app import ThinkubeApp

    app = ThinkubeApp(model=model_with_nodes(), state_dir=tmp_path)
    assert app.answers_dir == tmp_path / "thinkube"
    assert ThinkubeApp(state_dir=tmp_path, answers_dir=tmp_path / "x").answers_dir == tmp_path / "x"


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_saving_into_a_git_work_tree_warns_and_touches_no_ignore_file(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    model = model_with_nodes()
    model.node_secrets[("tk-gpu", "password")] = "gpu-login-password"
    exported = model.export(repo / "sub" / "answers.yaml")
    assert exported.warning is not None
    assert f"inside the git work tree {repo} and not ignored" in exported.warning
    assert str(repo / "sub" / "answers.secrets.yaml") in exported.warning and "holds secrets" in exported.warning
    assert not (repo / ".gitignore").exists() and "answers" not in (repo / ".git" / "info" / "exclude").read_text()

    (repo / ".gitignore").write_text("sub/\n")  # the operator's own choice: then nothing to say
    assert git_warning(repo / "sub" / "answers.yaml", repo / "sub" / "answers.secrets.yaml") is None
    assert model.export(tmp_path / "elsewhere" / "answers.yaml").warning is None


def test_the_demo_refuses_components_the_lab_would_refuse_naming_their_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("components:\n  grafana: {enabled: true}\n  nope: {enabled: true}\n")
    with pytest.raises(WizardStartError) as caught:
        wizard_start(answers=bad, secrets=None, demo=True, state_dir=tmp_path)
    assert f"{bad}:3:3: components.nope: unknown key 'nope'" in str(caught.value)
    assert wizard_start(answers=EXAMPLES / "answers-full.yaml", secrets=None, demo=True, state_dir=tmp_path).demo


def test_a_missing_secrets_file_is_refused_as_headless_mode_refuses_it(tmp_path: Path) -> None:
    # Read through session.read_secrets, as headless mode and discover read it: never skipped.
    answers = tmp_path / "answers.yaml"
    answers.write_text("secretsFile: missing.secrets.yaml\n" + (EXAMPLES / "answers-minimal.yaml").read_text())
    with pytest.raises(WizardStartError, match="cannot read the secrets file"):
        wizard_start(answers=answers, secrets=None, demo=False, state_dir=tmp_path / "state")
