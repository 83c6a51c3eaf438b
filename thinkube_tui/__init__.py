"""thinkube-tui: installs the Thinkube platform onto Ubuntu machines over SSH."""

__version__ = "0.1.0"
