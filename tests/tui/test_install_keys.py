"""The install screen's keys: r retries a failed component (then what it blocked), s skips it."""

import asyncio
from pathlib import Path
from typing import Any

from thinkube_tui.app import ThinkubeApp
from thinkube_tui.engine import EngineSettings
from thinkube_tui.widgets import InstallGraph

from .wizard_harness import fake_installers, snapshot_model, wait_until


def make_app(tmp_path: Path, installers: Any) -> ThinkubeApp:
    return ThinkubeApp(
        model=snapshot_model(),
        state_dir=tmp_path / "state",
        answers_dir=tmp_path,
        installers=installers,
        known_hosts=tmp_path / "known_hosts",
        engine_settings=EngineSettings(log_interval_s=0.001),
        mirror_to_cluster=False,
    )


async def start_install(pilot: Any) -> InstallGraph:
    app = pilot.app
    app.next_step(type("Review", (), {"STEP": "Review"})())
    await wait_until(pilot, lambda: app.install is not None and app.install.result is not None, what="run over")
    return app.screen.query_one(InstallGraph)


async def test_retry_reruns_the_failed_component_and_what_it_blocked(tmp_path):
    app = make_app(tmp_path, fake_installers(fail=["postgresql"], fail_times=1))
    async with app.run_test(size=(120, 40)) as pilot:
        graph = await start_install(pilot)
        assert graph.state_of("postgresql") == "failed" and graph.state_of("keycloak") == "blocked"
        graph.select("postgresql")
        await pilot.press("r")
        await wait_until(
            pilot, lambda: graph.state_of("keycloak") == "done" and not app.install_running, what="retried"
        )
        assert {graph.state_of(cid) for cid in graph.states} == {"done"}


async def test_skip_leaves_dependents_blocked(tmp_path):
    app = make_app(tmp_path, fake_installers(fail=["postgresql"], fail_times=99))
    async with app.run_test(size=(120, 40)) as pilot:
        graph = await start_install(pilot)
        graph.select("postgresql")
        await pilot.press("s")
        await pilot.pause()
        assert graph.state_of("postgresql") == "skipped"
        assert graph.state_of("keycloak") == "blocked"


def held_installers(fail: str, hold: str) -> tuple[dict[str, Any], asyncio.Event]:
    """`fail` fails once; `hold` runs until the returned event is set."""
    installers = fake_installers(fail=[fail], fail_times=1)
    release = asyncio.Event()

    async def held(ctx: Any) -> None:
        await release.wait()

    installers[hold] = held
    return installers, release


async def test_retry_during_a_run_starts_the_failed_component_at_once(tmp_path):
    installers, release = held_installers(fail="postgresql", hold="minio")
    app = make_app(tmp_path, installers)
    async with app.run_test(size=(120, 40)) as pilot:
        app.next_step(type("Review", (), {"STEP": "Review"})())
        await wait_until(pilot, lambda: app.install is not None, what="install started")
        graph = app.screen.query_one(InstallGraph)
        await wait_until(pilot, lambda: graph.state_of("keycloak") == "blocked", what="postgresql failed")
        # minio (held) is running: its start is shown once its journal record is on disk.
        await wait_until(pilot, lambda: graph.state_of("minio") == "running", what="minio running")
        assert app.install_running
        graph.select("postgresql")
        await pilot.press("r")
        # keycloak (which waited for postgresql) finishes while minio still runs.
        await wait_until(pilot, lambda: graph.state_of("keycloak") == "done", what="retried during the run")
        assert graph.state_of("minio") == "running" and app.install_running
        release.set()
        await wait_until(pilot, lambda: not app.install_running, what="run over")
        assert app.install.result is not None and not app.install.result.failed


async def test_cancel_asks_first_and_keeps_installing_by_default(tmp_path):
    from thinkube_tui.screens.dialogs import ConfirmDialog

    installers, release = held_installers(fail="nothing", hold="minio")
    app = make_app(tmp_path, installers)
    async with app.run_test(size=(120, 40)) as pilot:
        app.next_step(type("Review", (), {"STEP": "Review"})())
        await wait_until(pilot, lambda: app.install is not None, what="install started")
        graph = app.screen.query_one(InstallGraph)
        await wait_until(pilot, lambda: graph.state_of("minio") == "running", what="minio running")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirmation")
        await pilot.press("enter")  # the safe answer has the focus
        await pilot.pause()
        assert app.install_running and not app.install.engine._cancelled
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirmation")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: not app.install_running, what="cancelled")
        assert app.install.result is not None and app.install.result.cancelled
        release.set()


async def test_full_log_searches_and_save_log_writes_beside_the_install_log(tmp_path):
    from textual.widgets import Input, RichLog

    from thinkube_tui.screens.log_view import LogViewScreen

    app = make_app(tmp_path, fake_installers())
    async with app.run_test(size=(80, 24)) as pilot:
        graph = await start_install(pilot)
        log_path = app.install.log_path
        shown = str(app.screen.query_one("#log-path").render()).replace("\n", "")
        assert str(log_path.name) in shown and shown.endswith(str(log_path)[-30:])
        graph.select("keycloak")
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LogViewScreen), what="full log")
        view = app.screen
        assert "| installing keycloak (fake installer)" in view.lines and "| keycloak applied" in view.lines
        assert view.query_one(RichLog).wrap
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"APPLIED")
        await pilot.pause()
        assert "1 of" in str(view.query_one("#log-view-title").render())
        await pilot.press("escape")  # leaves the search field, then the view
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, LogViewScreen), what="closed")
        await pilot.press("w")
        await pilot.pause()
        saved = log_path.with_name(f"{log_path.stem}.keycloak.log")
        text = saved.read_text()
        assert "[keycloak] | keycloak applied" in text and "[postgresql]" not in text
        assert saved.stat().st_mode & 0o777 == 0o600


async def test_summary_lists_every_component_and_exports_with_one_key(tmp_path):
    from textual.widgets import Static

    app = make_app(tmp_path, fake_installers(fail=["grafana"], fail_times=99))
    app.model.select("grafana")
    async with app.run_test(size=(80, 24)) as pilot:
        await start_install(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: bool(app.screen.query("#summary-text")), what="summary")
        text = app.screen.text
        for cid in app.install.plan.ids:
            assert f"- {cid}: " in text  # every component, the screen scrolls
        assert "- grafana: failed" in text and "get secret keycloak-admin" in text
        scroll = app.screen.query_one("#summary-scroll")
        assert scroll.max_scroll_y > 0
        await pilot.press("e")
        await pilot.pause()
        exported = app.install.state_dir / f"summary-{app.install.log_path.stem.removeprefix('install-')}.md"
        assert exported.read_text() == text and exported.stat().st_mode & 0o777 == 0o600
        assert "Saved:" in str(app.screen.query_one("#summary-export", Static).render())


async def test_finished_is_said_only_once_the_run_has_closed(tmp_path, monkeypatch):
    """Between the engine's last event and the run's end (journal saved, the cluster's lock
    released) the screen says it is finishing; "n: summary" is offered, and works, only after."""
    from thinkube_tui.screens.summary import SummaryScreen
    from thinkube_tui.wizard_run import InstallRun

    closing = asyncio.Event()
    run = InstallRun.run

    async def run_then_close(self: Any) -> Any:
        result = await run(self)
        await closing.wait()  # what the run does after the engine: saving, releasing the lock
        return result

    monkeypatch.setattr(InstallRun, "run", run_then_close)
    app = make_app(tmp_path, fake_installers())
    async with app.run_test(size=(120, 40)) as pilot:
        app.next_step(type("Review", (), {"STEP": "Review"})())
        await wait_until(pilot, lambda: getattr(app.screen, "finished", None) is not None, what="engine done")
        status = app.screen.query_one("#install-status")
        assert "Finishing" in str(status.render()) and "Install finished" not in str(status.render())
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, SummaryScreen)  # still closing: no summary yet
        closing.set()
        await wait_until(pilot, lambda: not app.install_running, what="run closed")
        await pilot.pause()
        assert "Install finished" in str(status.render())
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), what="summary")


async def test_b_writes_a_support_bundle_after_a_failure(tmp_path):
    """The failed install's status line offers it; b writes one bundle (0600) beside the
    journal, with the journal and the install log; pressed again, a second one, never a clash."""
    import tarfile

    app = make_app(tmp_path, fake_installers(fail=["postgresql"], fail_times=99))
    async with app.run_test(size=(120, 40)) as pilot:
        await start_install(pilot)
        await wait_until(pilot, lambda: not app.install_running, what="run closed")
        status = str(app.screen.query_one("#install-status").render())
        assert "support bundle" in status
        state = app.install.state_dir
        await pilot.press("b")
        await wait_until(pilot, lambda: len(list(state.glob("support-bundle-*.tar.gz"))) == 1, what="bundle")
        await pilot.press("b")
        await wait_until(pilot, lambda: len(list(state.glob("support-bundle-*.tar.gz"))) == 2, what="second")
        for bundle in state.glob("support-bundle-*.tar.gz"):
            assert bundle.stat().st_mode & 0o777 == 0o600
            with tarfile.open(bundle) as tar:
                names = tar.getnames()
            assert "support-bundle/local/journal.json" in names
            assert any(n.startswith("support-bundle/local/logs/") for n in names)
