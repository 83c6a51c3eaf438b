"""The Textual wizard: screen flow, prompts for SSH, and the wiring to the core.

    ThinkubeApp(model=None, state_dir=None, connect=None, installers=None, ...).run()

The app owns one `WizardModel` (what the screens edit), one `NodeSession` (connections,
discovery, preflight) and, once the install starts, one `InstallRun` (the engine). Screens
never install anything themselves: they call these, exactly as headless mode does.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from .targets import Prompts, SecretRequest

if TYPE_CHECKING:
    from .engine import EngineSettings, Installer

from .wizard import ConnectFn, DemoLab, InstallRun, NodeSession, WizardModel, answer_from_memory, state_dir_for


class ThinkubeApp(App[int]):
    """The thinkube-tui wizard."""

    TITLE = "thinkube-tui"
    SUB_TITLE = "install the Thinkube platform"
    CSS_PATH: ClassVar[Any] = ["app.tcss", "widgets/widgets.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(
        self,
        *,
        model: WizardModel | None = None,
        state_dir: Path | None = None,
        connect: ConnectFn | None = None,
        installers: Mapping[str, Installer] | None = None,
        known_hosts: Path | None = None,
        engine_settings: EngineSettings | None = None,
        skip_checks: Iterable[str] = (),
        mirror_to_cluster: bool | None = None,
        demo: DemoLab | None = None,
        answers_dir: Path | None = None,
    ) -> None:
        """
        model: pre-filled answers (`--answers FILE --interactive`); a new install when None.
        state_dir: where journals, logs and saved answers live (default $XDG_STATE_HOME/thinkube-tui).
        connect: `await connect(target, prompts) -> Transport`; None: SSH (asyncssh pool).
        installers: component id -> installer coroutine; None: `installers.registry()`.
        known_hosts: thinkube-tui's own known-hosts file (default in the state dir).
        mirror_to_cluster: keep the journal's copy in the cluster; default: when the real installers run.
        demo: a simulated lab started on mount; the model is pre-filled for it (`--demo`).
        answers_dir: where "save answers" proposes to write (default: the cluster's state directory).
        """
        super().__init__()
        self.model = model or WizardModel()
        self.state_base = state_dir
        self._installers = installers  # None: the real ones, imported when the install starts
        default_mirror = installers is None
        self.mirror_to_cluster = default_mirror if mirror_to_cluster is None else mirror_to_cluster
        self._engine_settings = engine_settings
        self.skip_checks = frozenset(skip_checks)
        self.known_hosts = known_hosts
        self.session = NodeSession(
            Prompts(host_key=self.ask_host_key, secret=self.ask_secret), connect, known_hosts=known_hosts
        )
        self.install: InstallRun | None = None
        self.install_running = False
        self.saved_secrets: Path | None = None
        self._answers_dir = answers_dir
        self._demo = demo
        self._model_ready = asyncio.Event()  # set once the model is final (at once, or when the demo lab is up)
        self._prompt_lock = asyncio.Lock()
        self._install_requested = False  # the install screen is shown (and the install started) once
        self._navigating = False  # a change of several screens is under way
        self.crash_report: Path | None = None  # written on an unexpected error

    @property
    def engine_settings(self) -> EngineSettings:
        if self._engine_settings is None:
            from .engine import EngineSettings

            self._engine_settings = EngineSettings()
        return self._engine_settings

    @property
    def installers(self) -> Mapping[str, Installer]:
        if self._installers is None:
            from .installers import registry

            self._installers = registry()
        return self._installers

    # ------------------------------------------------------------ flow

    @property
    def answers_dir(self) -> Path:
        """Where "save answers" proposes to write: the cluster's state directory unless told."""
        return self._answers_dir or self.state_dir

    @property
    def state_dir(self) -> Path:
        return state_dir_for(self.model.cluster.get("name", "thinkube"), self.state_base)

    async def on_mount(self) -> None:
        from .screens.welcome import WelcomeScreen

        if self._demo is None:
            self._model_ready.set()
            await self.push_screen(WelcomeScreen())
            return
        # The welcome screen first, painted; the lab starts behind it (that takes a moment).
        self.sub_title = "DEMO: a simulated lab cluster on this machine"
        await self.push_screen(WelcomeScreen())
        self.call_after_refresh(lambda: self.run_worker(self._start_demo(), group="demo-lab"))

    async def _start_demo(self) -> None:
        assert self._demo is not None
        self.model = await self._demo.start()
        self.session.known_hosts = self._demo.known_hosts
        self.state_base = self.state_base or self._demo.state_dir
        self._model_ready.set()

    async def model_ready(self) -> None:
        """Wait until the model is final (at once, or once the demo lab is up)."""
        await self._model_ready.wait()

    def screen_for(self, step: str) -> Screen[Any]:
        from .screens.components import ComponentsScreen
        from .screens.configure import ConfigureScreen
        from .screens.install import InstallScreen
        from .screens.nodes import NodesScreen
        from .screens.review import ReviewScreen
        from .screens.roles import RolesScreen
        from .screens.summary import SummaryScreen
        from .screens.welcome import WelcomeScreen

        screens: dict[str, Callable[[], Screen[Any]]] = {
            "Welcome": WelcomeScreen,
            "Nodes": NodesScreen,
            "Roles": RolesScreen,
            "Components": ComponentsScreen,
            "Configure": ConfigureScreen,
            "Review": ReviewScreen,
            "Install": InstallScreen,
            "Summary": SummaryScreen,
        }
        return screens[step]()

    def next_step(self, current: Any) -> None:
        """The step after `current`; asked by a screen leaving (Next, its key, the palette)."""
        from .screens.base import STEPS

        if isinstance(current, Screen) and current is not self.screen:
            return  # a second request from a screen that is already leaving (double click, key and click)
        if self._navigating:
            return
        step = STEPS[STEPS.index(current.STEP) + 1]
        if step == "Install":
            self.start_install()
        elif step == "Summary":
            self.switch_screen(self.screen_for(step))
        elif self._model_ready.is_set():
            self.push_screen(self.screen_for(step))
        else:  # the demo lab is still starting: go on once it is up
            self.notify("The demo lab is still starting; the next screen follows as soon as it is up.")

            async def when_ready() -> None:
                await self._model_ready.wait()
                self.push_screen(self.screen_for(step))

            self.run_worker(when_ready(), group="navigation", exclusive=True)

    def start_install(self) -> None:
        """Show the install screen, which starts the install: once per session, however asked."""
        if self._install_requested:
            return
        self._install_requested = True
        self._navigate(self._show_install_screen())

    async def _show_install_screen(self) -> None:
        # Once the install starts there is no going back: the wizard's stack is replaced, one
        # screen at a time, each removal finished before the next change.
        while len(self.screen_stack) > 2:
            await self.pop_screen()
        await self.switch_screen(self.screen_for("Install"))

    def previous_step(self, current: Any) -> None:
        if isinstance(current, Screen) and current is not self.screen:
            return
        if len(self.screen_stack) > 2 and not self._navigating:
            self.pop_screen()

    def back_to_step(self, step: str) -> None:
        """Back to a step on the stack (a click in the step bar), leaving each screen on the way."""
        if not self._navigating:
            self._navigate(self._pop_to_step(step))

    async def _pop_to_step(self, step: str) -> None:
        from .screens.base import WizardScreen

        while len(self.screen_stack) > 2:
            screen = self.screen
            if isinstance(screen, WizardScreen):
                if step == screen.STEP:
                    break
                screen.leave()
            await self.pop_screen()

    def _navigate(self, change: Coroutine[Any, Any, None]) -> None:
        """Run a change of several screens on the app's queue; requests meanwhile are ignored."""
        self._navigating = True

        async def run() -> None:
            try:
                await change
            finally:
                self._navigating = False

        self.call_later(run)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for binding in [*screen.BINDINGS, *type(screen).__mro__[1].__dict__.get("BINDINGS", [])]:
            if not isinstance(binding, Binding) or binding.action in seen or not binding.description:
                continue
            seen.add(binding.action)
            action = binding.action
            yield SystemCommand(
                f"{screen.__class__.__name__.removesuffix('Screen')}: {binding.description}",
                f"key: {binding.key}",
                lambda a=action: self.call_later(screen.run_action, a),
            )

    # ------------------------------------------------------------ quitting

    async def action_quit(self) -> None:
        if not self.install_running:
            await self._quit_now()
            return
        from .screens.dialogs import ConfirmDialog

        def answered(yes: object) -> None:
            # Decided now, not when the question opened: the install may have finished meanwhile.
            if not yes:
                return
            if not self.install_running:
                self.call_later(self._quit_now)
                return
            if self.install is not None:
                self.install.cancel()
            self.call_later(self._quit_after_cancel)

        self.push_screen(
            ConfirmDialog(
                "An install is running. Quit anyway?\n\nRunning installers are stopped; the journal keeps every "
                "finished step, so running thinkube-tui again resumes where it stopped.",
                "Quit",
                "Keep installing",
            ),
            answered,
        )

    async def _quit_now(self) -> None:
        await self.close_connections()
        self.exit(0)

    async def _quit_after_cancel(self) -> None:
        await self.workers.wait_for_complete()
        await self.close_connections()
        self.exit(130)

    async def close_connections(self) -> None:
        if self.install is not None:
            await self.install.close()
        await self.session.close()
        if self._demo is not None:
            await self._demo.stop()

    # ------------------------------------------------------------ unexpected errors

    def _handle_exception(self, error: Exception) -> None:
        """Any unhandled error: a crash report in the cluster's state directory, and on the
        terminal (restored by Textual) where it is and that the install resumes, not a traceback
        with local variables (they may hold secrets). The exit code is 1."""
        first = self.crash_report is None and self._exception is None
        super()._handle_exception(error)
        if not first:
            return
        try:
            self.crash_report = self._write_crash_report(error)
        except Exception as exc:  # the report could not be written: Textual's traceback stays
            self._exit_renderables.append(Text(f"thinkube-tui: no crash report written: {exc}"))
            return
        self._exit_renderables[:] = [crash_message(self.crash_report, self._mask(f"{type(error).__name__}: {error}"))]

    def _mask(self, text: str) -> str:
        try:
            return self.model.secrets().mask(text)
        except Exception:  # the model itself may be what broke; the text holds no typed secret then
            return text

    def _write_crash_report(self, error: Exception) -> Path:
        import json
        import time
        import traceback

        from . import __version__
        from .files import write_atomic
        from .journal import Journal

        screens = " > ".join(type(screen).__name__ for screen in self.screen_stack[1:]) or "-"
        if self.install is not None:
            journal: object = self.install.journal.to_json()
        else:
            try:
                journal = Journal.open(self.state_dir / "journal.json").to_json()
            except Exception as exc:
                journal = f"not readable: {exc}"
        lines = [
            "thinkube-tui crash report",
            f"version: {__version__}",
            f"time: {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
            f"screens: {screens}",
            f"install running: {self.install_running}",
            "",
            "".join(traceback.format_exception(error)),
            "journal:",
            json.dumps(journal, indent=2, sort_keys=True) if not isinstance(journal, str) else journal,
        ]
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.state_dir / f"crash-{stamp}-{os.getpid()}.txt"
        write_atomic(path, self._mask("\n".join(lines) + "\n"))
        return path

    # ------------------------------------------------------------ SSH prompts (modal dialogs)

    async def _ask(self, screen: Any) -> Any:
        """Show a modal and wait for its answer; one at a time, from any task on the app's loop."""
        async with self._prompt_lock:
            answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            def done(result: Any) -> None:
                if not answer.done():
                    answer.set_result(result)

            self.push_screen(screen, done)
            return await answer

    async def ask_host_key(self, host: str, port: int, key_type: str, fingerprint: str) -> bool:
        from .screens.dialogs import HostKeyDialog

        node = next((n.name for n in self.model.nodes if n.host == host and n.port == port), "")
        accepted = bool(await self._ask(HostKeyDialog(node, host, port, key_type, fingerprint)))
        if accepted and node:
            self.model.node(node).host_key = fingerprint  # pinned in the saved answers
        return accepted

    async def ask_secret(self, request: SecretRequest) -> str | None:
        from .screens.dialogs import SecretDialog

        known = answer_from_memory(self.model, request)
        if known is not None:
            return known
        env_value = self._from_environment(request)
        if env_value:
            return env_value
        value = await self._ask(SecretDialog(request.prompt, f"node {request.node}"))
        if value:
            self.model.node_secrets[(request.node, request.kind)] = value
        return value  # type: ignore[no-any-return]

    def _from_environment(self, request: SecretRequest) -> str | None:
        try:
            node = self.model.node(request.node)
        except StopIteration:
            return None
        ref = {
            "sudo": node.sudo_ref or node.password_ref,
            "password": node.password_ref,
            "passphrase": node.passphrase_ref,
        }[request.kind]
        return os.environ.get(ref.env) if ref is not None and ref.env else None


def crash_message(report: Path, error: str) -> Text:
    """What the terminal shows after an unexpected error (the details are in the report)."""
    text = Text()
    text.append("thinkube-tui stopped on an unexpected error: ", "bold red")
    text.append(f"{error}\n")
    text.append(f"A crash report (traceback, version, screen, install state) is in {report}\n")
    text.append(
        "Every finished install step is kept in the journal: run thinkube-tui again to resume where it "
        "stopped. Please attach the report when you report the problem.\n"
    )
    return text


def run_wizard(
    *,
    answers: Path | None = None,
    secrets: Path | None = None,
    demo: bool = False,
    state_dir: Path | None = None,
    known_hosts: Path | None = None,
    skip_checks: Iterable[str] = (),
    lab_speed: float = 1.0,
    fresh: bool = False,
) -> int:
    """Entry point for the CLI: the wizard, pre-filled from an answers file or against a demo lab."""
    import sys

    from .wizard import WizardStartError, wizard_start

    try:
        start = wizard_start(
            answers=answers, secrets=secrets, demo=demo, state_dir=state_dir, lab_speed=lab_speed, fresh=fresh
        )
    except WizardStartError as exc:
        print(exc, file=sys.stderr)
        return 2
    app = ThinkubeApp(
        model=start.model,
        state_dir=start.state_base,  # the demo's installs live apart from real clusters'
        known_hosts=known_hosts,
        skip_checks=skip_checks,
        demo=start.demo,
    )
    result = app.run()
    if app.return_code:  # an unexpected error (the crash report is named on the terminal)
        return app.return_code
    return result if isinstance(result, int) else 0
