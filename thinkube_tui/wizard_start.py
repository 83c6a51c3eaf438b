"""How the wizard opens: the command line checked before any screen, and the demo's lab.

`thinkube-tui --demo` installs onto a simulated lab; the simulator is loaded in one place,
`start_lab`, so that where it lives is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .files import check_state_dir, default_state_dir
from .spec import AnswersError
from .wizard import WizardModel


class SimulatedLab(Protocol):
    """What the wizard uses of the lab: start it, its answers, its host keys, stop it."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def answers(self) -> dict[str, Any]: ...
    def write_known_hosts(self, path: Path) -> Path: ...


def start_lab(directory: Path, *, nodes: int, gpus: int, speed: float) -> SimulatedLab:
    """The simulated lab (not started yet): nodes answering over SSH, sudo without a password."""
    from .lab_loader import load_lab

    Lab = load_lab()
    return Lab(directory, nodes=nodes, gpus=gpus, speed=speed, nopasswd=True, log=_quiet)


@dataclass(frozen=True)
class WizardStart:
    """What the wizard opens with: a pre-filled model (or none), the demo lab, the state base."""

    model: WizardModel | None
    demo: DemoLab | None
    state_base: Path | None


class WizardStartError(Exception):
    """The wizard cannot open (a bad answers file, an unsafe state directory); one line per problem."""


def wizard_start(
    *,
    answers: Path | None,
    secrets: Path | None,
    demo: bool,
    state_dir: Path | None,
    lab_speed: float = 1.0,
    fresh: bool = False,
) -> WizardStart:
    """Check what the command line gave before any screen: the state directory (ssh's rules),
    the answers file; with `demo`, the demo's lab (and its own state) with FILE's components."""
    from .commands.lab import DemoBusy
    from .files import UnsafePathError

    try:
        if demo:
            lab = DemoLab(state_dir, speed=1.0 / lab_speed, answers=answers, fresh=fresh)
            lab.claim()
            check_state_dir(lab.state_dir)
            return WizardStart(None, lab, lab.state_dir)
        check_state_dir(state_dir or default_state_dir())
        model = WizardModel.from_answers_file(answers, secrets) if answers is not None else None
    except AnswersError as exc:
        raise WizardStartError("\n".join(problem.format(exc.source) for problem in exc.problems)) from None
    except (UnsafePathError, DemoBusy) as exc:
        raise WizardStartError(f"thinkube-tui: {exc}") from None
    return WizardStart(model, None, state_dir)


class DemoLab:
    """The demo's simulated lab for the wizard to install onto; the model comes pre-filled for it.

    The lab and its installs live in `<state dir>/demo/` and are kept between runs, shared with
    the headless demo (`make demo`): a second run comes back to the installed cluster. With
    `answers`, the wizard opens with that file's components and settings, the lab providing the
    nodes and cluster settings (as headless `--demo --answers` does); `fresh` starts over."""

    def __init__(
        self,
        state_base: Path | None = None,
        *,
        nodes: int = 3,
        gpus: int = 1,
        speed: float = 1.0,
        answers: Path | None = None,
        fresh: bool = False,
    ) -> None:
        from .commands.lab import KNOWN_HOSTS, DemoLock, check_demo_answers, demo_dir, demo_state_dir

        if answers is not None:
            check_demo_answers(answers)  # raises AnswersError now, before any screen is shown
        self.state_base = state_base
        self.base = demo_dir(state_base)
        self.state_dir = demo_state_dir(state_base)  # where the demo's installs keep their journals
        self.known_hosts = self.base / KNOWN_HOSTS
        self.answers = answers
        self.fresh = fresh
        self.nodes, self.gpus, self.speed = nodes, gpus, speed
        self.lock = DemoLock(self.base)  # one demo per lab: held from `claim` until `stop`
        self.lab: SimulatedLab | None = None

    def claim(self) -> None:
        """Check the demo's directory and take its lock (raises UnsafePathError, DemoBusy)."""
        check_state_dir(self.base)
        if not self.lock.held:
            self.lock.acquire()

    async def start(self) -> WizardModel:
        from .commands.lab import DEMO_LAB, demo_answers, start_demo_over, write_demo_answers

        self.claim()
        if self.fresh:
            start_demo_over(self.state_base)
            self.fresh = False
        self.lab = start_lab(self.base / DEMO_LAB, nodes=self.nodes, gpus=self.gpus, speed=self.speed)
        await self.lab.start()
        data = demo_answers(self.lab.answers(), self.answers)
        path = write_demo_answers(self.base, data, self.answers)
        self.lab.write_known_hosts(self.known_hosts)
        return WizardModel.from_answers_file(path)

    async def stop(self) -> None:
        if self.lab is not None:
            await self.lab.stop()
            self.lab = None
        self.lock.release()


def _quiet(message: str) -> None:
    """The lab's own log lines: the wizard shows the install, not the simulation."""
