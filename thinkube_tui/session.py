"""THE install pipeline, for every face: connect -> discover -> sudo check -> hostname
resolution -> preflight -> adopt cluster state -> lock -> plan -> install.

The phases live in `thinkube_tui.phases`: one small object each (title, run, explain), and
the `Session` that carries what they find. Headless mode (`headless.py`), the wizard
(`wizard_run.py` and the Install screen), `discover` (`commands/discover_view.py`) and
`--dry-run` (`dryrun.py`) run these same phases and differ only in how they ask (prompts) and what they
show (event subscribers, notes). This module also holds the inputs every face reads the
same way: where a cluster's state lives and where its secrets file is.
"""

from __future__ import annotations

from pathlib import Path

from .files import default_state_dir
from .secrets import Secrets
from .spec import Spec, load_answers, load_secrets, secrets_path_for


def state_dir_for(cluster_name: str, base: Path | None) -> Path:
    """Where one cluster's journal, logs and saved answers live: `<base>/<cluster name>`."""
    return (base or default_state_dir()) / cluster_name


# `thinkube-tui reset` renames a cluster's state directory `<name>.reset-<time>`: kept, not a cluster.
ARCHIVED = ".reset-"


def is_archived(directory: Path) -> bool:
    return ARCHIVED in directory.name


def read_secrets(answers: Path, spec: Spec, given: Path | None = None) -> dict[str, str]:
    """The values of the answers' secrets file (none without one); AnswersError when it is
    missing or readable by others -- never silently empty."""
    path = secrets_path_for(answers, spec, given)
    return load_secrets(path) if path is not None else {}


def load_inputs(answers: Path, secrets: Path | None = None) -> tuple[Spec, Secrets]:
    """The answers file as a Spec, and its secrets; AnswersError names every problem."""
    spec = load_answers(answers, secrets=secrets)
    return spec, Secrets(read_secrets(answers, spec, secrets))
