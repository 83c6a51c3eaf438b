"""The install screen's keys: r retries a failed component (then what it blocked), s skips it."""

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
