"""The Textual wizard: screen flow, prompts for SSH, and the wiring to the core.

    ThinkubeApp(model=None, state_dir=None, connect=None, installers=None, ...).run()

The app owns one `WizardContext` (what the screens work with: the `WizardModel` they edit, the
`NodeSession` with its connections, and once the install starts, the `InstallRun`) and hands it
to each screen it shows. Screens never import the app: they post it messages (`WizardScreen.Next`,
`Back`, `BackTo`, `StartInstall`), and it carries them out here, once however often they were
asked for. Screens never install anything themselves: they call the
core, exactly as headless mode does.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, ClassVar, Protocol

from rich.text import Text
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from .screens.base import STEPS, WizardScreen
from .screens.context import WizardContext
from .screens.dialogs import ConfirmDialog, Dialog, HostKeyDialog, SecretDialog
from .targets import Prompts, SecretRequest
from .wizard import WizardModel, answer_from_memory
from .wizard_run import ConnectFn, NodeSession

if TYPE_CHECKING:
    from .engine import EngineSettings, Installer
    from .wizard_run import InstallRun
    from .wizard_start import DemoLab


# Step -> (module, class) of its screen, imported when first shown (`ThinkubeApp.screen_for`).
SCREENS: dict[str, tuple[str, str]] = {
    "Welcome": (".screens.welcome", "WelcomeScreen"),
    "Nodes": (".screens.nodes", "NodesScreen"),
    "Roles": (".screens.roles", "RolesScreen"),
    "Components": (".screens.components", "ComponentsScreen"),
    "Configure": (".screens.configure", "ConfigureScreen"),
    "Review": (".screens.review", "ReviewScreen"),
    "Install": (".screens.install", "InstallScreen"),
    "Summary": (".screens.summary", "SummaryScreen"),
}


class Step(Protocol):
    """What asks for the next step: a wizard screen, or anything that names its step (tests)."""

    STEP: ClassVar[str]


class ThinkubeApp(App[int]):
    """The thinkube-tui wizard."""

    TITLE = "thinkube-tui"
    SUB_TITLE = "install the Thinkube platform"
    CSS_PATH: ClassVar[list[str | PurePath]] = ["app.tcss", "widgets/widgets.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", priority=True)]
    # Textual's in-app text selection starts on every mouse press and reads the pressed widget's
    # parent, which a widget taken down in the same moment no longer has: the wizard died with
    # "'NoneType' object has no attribute 'region'" on a double click of Install (seen under
    # load). The terminal's own selection (shift+drag) and the summary's export remain.
    ALLOW_SELECT = False

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
        session = NodeSession(
            Prompts(host_key=self.ask_host_key, secret=self.ask_secret), connect, known_hosts=known_hosts
        )
        self.context = WizardContext(
            model or WizardModel(),
            session,
            state_base=state_dir,
            answers_dir=answers_dir,
            skip_checks=frozenset(skip_checks),
            installers=installers,
            engine_settings=engine_settings,
            # The journal's copy in the cluster: by default with the real installers only.
            mirror_to_cluster=installers is None if mirror_to_cluster is None else mirror_to_cluster,
            demo=demo is not None,
        )
        self._demo = demo
        self._prompt_lock = asyncio.Lock()
        self._install_requested = False  # the install screen is shown (and the install started) once
        self._navigating = False  # a change of several screens is under way
        self.crash_report: Path | None = None  # written on an unexpected error

    # What callers and tests read of the wizard's state: the context's.

    @property
    def model(self) -> WizardModel:
        return self.context.model

    @property
    def session(self) -> NodeSession:
        return self.context.session

    @property
    def install(self) -> InstallRun | None:
        return self.context.install

    @property
    def install_running(self) -> bool:
        return self.context.install_running

    @property
    def answers_dir(self) -> Path:
        return self.context.answers_dir

    @property
    def state_dir(self) -> Path:
        return self.context.state_dir

    # ------------------------------------------------------------ flow

    async def on_mount(self) -> None:
        if self._demo is None:
            await self.push_screen(self.screen_for("Welcome"))
            return
        # The welcome screen first, painted; the lab starts behind it (that takes a moment).
        self.sub_title = "DEMO: a simulated lab cluster on this machine"
        await self.push_screen(self.screen_for("Welcome"))
        self.call_after_refresh(lambda: self.run_worker(self._start_demo(), group="demo-lab"))

    async def _start_demo(self) -> None:
        assert self._demo is not None
        model = await self._demo.start()
        self.context.session.known_hosts = self._demo.known_hosts
        self.context.state_base = self.context.state_base or self._demo.state_dir
        self.context.finish_model(model)

    def screen_for(self, step: str) -> WizardScreen:
        # Each screen's module is imported when its step is first shown: the first paint
        # waits for the Welcome screen's imports only, not for the forms, graph and log's.
        from importlib import import_module

        module, name = SCREENS[step]
        screen: Callable[[WizardContext], WizardScreen] = getattr(import_module(module, __package__), name)
        return screen(self.context)

    # The screens' requests. A request from a screen that is no longer the current one is a
    # second request for a change already made (double click, key and click): it is dropped.

    def on_wizard_screen_next(self, message: WizardScreen.Next) -> None:
        self.next_step(message.screen)

    def on_wizard_screen_back(self, message: WizardScreen.Back) -> None:
        self.previous_step(message.screen)

    def on_wizard_screen_back_to(self, message: WizardScreen.BackTo) -> None:
        if message.screen is self.screen:
            self.back_to_step(message.step)

    def on_wizard_screen_start_install(self, message: WizardScreen.StartInstall) -> None:
        self.start_install()

    def next_step(self, current: Step) -> None:
        """The step after `current`'s (a screen leaving, or anything naming a step)."""
        if isinstance(current, Screen) and current is not self.screen:
            return  # a second request from a screen that is already leaving
        if self._navigating:
            return
        step = STEPS[STEPS.index(current.STEP) + 1]
        if step == "Install":
            self.start_install()
        elif step == "Summary":
            self.switch_screen(self.screen_for(step))
        elif self.context.model_final:
            self.push_screen(self.screen_for(step))
        else:  # the demo lab is still starting: go on once it is up
            self.notify("The demo lab is still starting; the next screen follows as soon as it is up.")

            async def when_ready() -> None:
                await self.context.model_ready()
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
        self.context.prepare_install()  # the core builds the run; the screen shows and starts it
        while len(self.screen_stack) > 2:
            await self.pop_screen()
        await self.switch_screen(self.screen_for("Install"))

    def previous_step(self, current: Step) -> None:
        if isinstance(current, Screen) and current is not self.screen:
            return
        if len(self.screen_stack) > 2 and not self._navigating:
            self.pop_screen()

    def back_to_step(self, step: str) -> None:
        """Back to a step on the stack (a click in the step bar), leaving each screen on the way."""
        if not self._navigating:
            self._navigate(self._pop_to_step(step))

    async def _pop_to_step(self, step: str) -> None:
        while len(self.screen_stack) > 2:
            screen = self.screen
            if isinstance(screen, WizardScreen):
                if step == screen.STEP:
                    break
                screen.leave()
            await self.pop_screen()

    def _navigate(self, change: Coroutine[None, None, None]) -> None:
        """Run a change of several screens on the app's queue; requests meanwhile are ignored."""
        self._navigating = True

        async def run() -> None:
            try:
                await change
            finally:
                self._navigating = False

        self.call_later(run)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
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

    async def _ask(self, dialog: Dialog) -> object:
        """Show a dialog and wait for its answer; one at a time, from any task on the app's loop."""
        async with self._prompt_lock:
            answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()

            def done(result: object) -> None:
                if not answer.done():
                    answer.set_result(result)

            self.push_screen(dialog, done)
            return await answer

    async def ask_host_key(self, host: str, port: int, key_type: str, fingerprint: str) -> bool:
        node = next((n.name for n in self.model.nodes if n.host == host and n.port == port), "")
        accepted = bool(await self._ask(HostKeyDialog(node, host, port, key_type, fingerprint)))
        if accepted and node:
            self.model.node(node).host_key = fingerprint  # pinned in the saved answers
        return accepted

    async def ask_secret(self, request: SecretRequest) -> str | None:
        known = answer_from_memory(self.model, request)
        if known is not None:
            return known
        env_value = self._from_environment(request)
        if env_value:
            return env_value
        answer = await self._ask(SecretDialog(request.prompt, f"node {request.node}"))
        value = answer if isinstance(answer, str) and answer else None
        if value:
            self.model.node_secrets[(request.node, request.kind)] = value
        return value

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

    from .wizard_start import WizardStartError, wizard_start

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
