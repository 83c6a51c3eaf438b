"""What the wizard's screens work with, handed to each one by the app.

    WizardContext(model, session, state_base=..., skip_checks=..., mirror_to_cluster=..., demo=...)

The model the screens edit, the node session (connections, discovery, preflight), the install
once it runs, and where things are kept. Screens read and change it; to move between steps
they post messages (`WizardScreen.Next`, `Back`, ...), which the app carries out. No screen
imports the app, and nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..session import state_dir_for
from ..wizard import WizardModel

if TYPE_CHECKING:
    from ..engine import EngineSettings, Installer
    from ..wizard_run import InstallRun, NodeSession


class WizardContext:
    """The wizard's state shared by the app and its screens (one per app)."""

    def __init__(
        self,
        model: WizardModel,
        session: NodeSession,
        *,
        state_base: Path | None = None,
        answers_dir: Path | None = None,
        skip_checks: frozenset[str] = frozenset(),
        installers: Mapping[str, Installer] | None = None,
        engine_settings: EngineSettings | None = None,
        mirror_to_cluster: bool = True,
        demo: bool = False,
    ) -> None:
        """
        state_base: where each cluster's directory (journal, logs, answers) lives; None: the default.
        answers_dir: where "save answers" proposes to write; None: the cluster's state directory.
        installers: component id -> installer; None: the real ones, imported when first asked for.
        demo: the nodes are a simulated lab (the model is final once `finish_model` is called).
        """
        self.model = model
        self.session = session
        self.state_base = state_base
        self.skip_checks = skip_checks
        self.mirror_to_cluster = mirror_to_cluster
        self.demo = demo
        self.install: InstallRun | None = None  # set by `prepare_install` when the install starts
        self.install_running = False
        self.saved_secrets: Path | None = None  # the secrets file the operator saved, if any
        self._answers_dir = answers_dir
        self._installers = installers
        self._engine_settings = engine_settings
        self._model_ready = asyncio.Event()
        if not demo:
            self._model_ready.set()

    @property
    def state_dir(self) -> Path:
        """This cluster's state directory (it follows the cluster's name as the operator edits it)."""
        return state_dir_for(self.model.cluster.get("name", "thinkube"), self.state_base)

    @property
    def answers_dir(self) -> Path:
        """Where "save answers" proposes to write: the cluster's state directory unless told."""
        return self._answers_dir or self.state_dir

    def prepare_install(self) -> InstallRun:
        """The install the Install screen shows (built, not started): the Spec and plan the
        screens described, saved beside the journal for re-entry. AnswersError, UnsafePathError."""
        from ..events import EventBus  # the install's modules: imported when it starts, not for the first paint
        from ..wizard_run import InstallRun, plan_install

        planned = plan_install(self.model)
        state_dir = self.state_dir
        self.model.save_for_reentry(planned.spec, state_dir)
        self.install = InstallRun(
            planned.spec,
            self.model,
            planned.plan,
            self.session.transports,
            self.installers,
            state_dir=state_dir,
            bus=EventBus(),
            settings=self.engine_settings,
            mirror=self.mirror_to_cluster,
        )
        return self.install

    @property
    def installers(self) -> Mapping[str, Installer]:
        if self._installers is None:
            from ..installers import registry

            self._installers = registry()
        return self._installers

    @property
    def engine_settings(self) -> EngineSettings:
        if self._engine_settings is None:
            from ..engine import EngineSettings

            self._engine_settings = EngineSettings()
        return self._engine_settings

    # ------------------------------------------------------------ the model, once final

    @property
    def model_final(self) -> bool:
        return self._model_ready.is_set()

    def finish_model(self, model: WizardModel | None = None) -> None:
        """The model is final: the demo lab is up and `model` is filled in for it."""
        if model is not None:
            self.model = model
        self._model_ready.set()

    async def model_ready(self) -> None:
        """Wait until the model is final (at once, or once the demo lab is up)."""
        await self._model_ready.wait()
