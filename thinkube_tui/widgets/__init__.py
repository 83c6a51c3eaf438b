"""Reusable widgets of the wizard: schema forms, the live install graph, the log panel.

Their styles are in `widgets.tcss` beside this file; the app loads it next to `app.tcss`.
"""

from pathlib import Path

from .install_graph import STATES, InstallGraph
from .log_panel import LogPanel
from .schema_form import SchemaForm

__all__ = ["CSS_PATH", "STATES", "InstallGraph", "LogPanel", "SchemaForm"]

# For apps that load the widgets' styles by absolute path (harnesses, benchmarks).
CSS_PATH = Path(__file__).with_name("widgets.tcss")
