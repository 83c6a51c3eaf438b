"""One component's part of the install log: to read it whole, and to save it beside the log.

The install log (`printer.LogFile`) holds every component's lines, masked, one per line as
`<timestamp> [<component>] <text>`. Reading from it, not from the screen's buffers, gives the
whole log and only ever masked text.
"""

from __future__ import annotations

from pathlib import Path

from .files import write_atomic


def component_lines(log_path: Path, component: str) -> list[str]:
    """`component`'s lines of the install log, without the timestamp and component prefix."""
    marker = f" [{component}] "
    out = []
    try:
        with log_path.open(encoding="utf-8", errors="replace") as log:
            for line in log:
                stamp, found, text = line.rstrip("\n").partition(marker)
                if found and " " not in stamp:
                    out.append(text)
    except FileNotFoundError:
        return []
    return out


def component_log_path(log_path: Path, component: str) -> Path:
    """`logs/install-20250101-120000.log` -> `logs/install-20250101-120000.keycloak.log`."""
    return log_path.with_name(f"{log_path.stem}.{component}{log_path.suffix}")


def save_component_log(log_path: Path, component: str) -> tuple[Path, int]:
    """Write `component`'s lines of the install log (timestamps kept) next to it, mode 0600.
    Returns the file and how many lines it holds."""
    marker = f" [{component}] "
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    lines = [line for line in text.splitlines() if marker in line and " " not in line.partition(marker)[0]]
    target = component_log_path(log_path, component)
    write_atomic(target, "".join(line + "\n" for line in lines))
    return target, len(lines)


def shown_path(path: Path | str) -> str:
    """A path as people read it: under the home directory as `~/…` (shorter at 80 columns)."""
    text = str(path)
    home = str(Path.home())
    if home not in ("", "/") and (text == home or text.startswith(home + "/")):
        return "~" + text[len(home) :]
    return text
