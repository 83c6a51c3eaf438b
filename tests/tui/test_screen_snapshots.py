"""SVG snapshots of every wizard screen at 80×24 and 120×40 (and the dialogs), including the
install screen mid-run with one failed component. Update with `pytest --snapshot-update`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from thinkube_tui.app import ThinkubeApp
from thinkube_tui.engine import EngineSettings
from thinkube_tui.journal import Journal

from .wizard_harness import blocking_installers, fake_installers, snapshot_model, wait_until

os.environ["TEXTUAL_ANIMATIONS"] = "none"
Input.cursor_blink = False

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def make_app(tmp_path: Path, model: Any = None, installers: Any = None) -> ThinkubeApp:
    return ThinkubeApp(
        model=model or snapshot_model(),
        state_dir=tmp_path / "state",
        answers_dir=tmp_path,
        installers=installers or fake_installers(),
        known_hosts=tmp_path / "known_hosts",
        engine_settings=EngineSettings(log_interval_s=0.001),
    )


def go_to(step: str, *, select: tuple[str, ...] = ()):
    async def run_before(pilot: Any) -> None:
        app = pilot.app
        for cid in select:
            app.model.select(cid)
        await app.push_screen(app.screen_for(step))
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_welcome(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_welcome_with_a_cluster_on_record(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    journal = Journal.open(tmp_path / "state" / "thinkube-lab" / "journal.json")
    for cid in ("microk8s-control", "microk8s-workers", "metallb"):
        journal.started(cid, None)
        journal.finished(cid)
    journal.started("coredns", None)
    journal.failed_with("coredns", "helm upgrade failed")
    assert snap_compare(make_app(tmp_path), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_nodes(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=go_to("Nodes"))


@pytest.mark.parametrize("size", SIZES)
def test_roles(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=go_to("Roles"))


@pytest.mark.parametrize("size", SIZES)
def test_components(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=go_to("Components", select=("grafana",)))


@pytest.mark.parametrize("size", SIZES)
def test_configure(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    model = snapshot_model()
    model.set_cluster_settings({**model.cluster, "ingressIP": "10.42.0.99"})

    async def run_before(pilot: Any) -> None:
        await go_to("Configure", select=("grafana",))(pilot)
        await pilot.press("ctrl+n")  # refused: shows the cross-field error
        await pilot.pause()

    assert snap_compare(make_app(tmp_path, model), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_review(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=go_to("Review", select=("grafana",)))


def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The install screen's elapsed time and time left come from this clock, not the wall's."""
    from thinkube_tui.screens.install import InstallScreen

    monkeypatch.setattr(InstallScreen, "clock", staticmethod(lambda: 1000.0))


@pytest.mark.parametrize("size", SIZES)
def test_install_mid_run_with_a_failure(
    snap_compare: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: tuple[int, int]
) -> None:
    fixed_clock(monkeypatch)
    monkeypatch.setattr("thinkube_tui.wizard_run.log_file_name", lambda: "install-20250101-120000.log")
    monkeypatch.setenv("HOME", str(tmp_path))  # the log's path is shown as ~/state/…

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        app.next_step(type("Review", (), {"STEP": "Review"})())
        await wait_until(pilot, lambda: app.install is not None, what="install started")
        engine = app.install.engine
        await wait_until(pilot, lambda: list(engine._running) == ["minio"] and not engine._ready(), what="settled")
        await pilot.pause()

    app = make_app(tmp_path, installers=blocking_installers(fail="postgresql", hang="minio"))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_summary(snap_compare: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: tuple[int, int]) -> None:
    # The summary shows paths: under a fixed home (shown as ~) with a fixed log name.
    monkeypatch.setattr("thinkube_tui.wizard_run.log_file_name", lambda: "install-20250101-120000.log")
    monkeypatch.setenv("HOME", str(tmp_path))
    # The retry commands hold the test's own paths (they have tests of their own in test_cli).
    monkeypatch.setattr(
        "thinkube_tui.screens.summary.wizard_retry_commands",
        lambda *a, **kw: (
            "thinkube-tui --state-dir ~/state",
            "thinkube-tui --answers ~/state/thinkube-lab/answers.yaml",
        ),
    )

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        app.next_step(type("Review", (), {"STEP": "Review"})())
        await wait_until(pilot, lambda: app.install is not None and app.install.result is not None, what="finished")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen.query("#summary-text"), what="summary shown")
        await pilot.pause()

    app = make_app(tmp_path, installers=fake_installers(fail=["grafana"], fail_times=99))
    app.model.select("grafana")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_host_key_dialog(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        from thinkube_tui.screens.dialogs import HostKeyDialog

        await pilot.app.push_screen(
            HostKeyDialog(
                "tk-gpu-1", "10.42.0.13", 22, "ssh-ed25519", "SHA256:" + "uRl1pUm0fdhXmnU7Q2NiPOUt+MYAbYtq1KlZFTZ9v3A"
            )
        )
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_node_dialog(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await go_to("Nodes")(pilot)
        await pilot.press("e")
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=run_before)
