"""The lab: a simulated Thinkube cluster on one machine (SSH nodes and a Kubernetes API).

Its own distribution (`lab/pyproject.toml`, `thinkube-lab`): thinkube-tui loads it only for
`--demo` and `lab up|serve`, in `thinkube_tui/lab_loader.py`."""

__version__ = "0.1.0"
