"""What a simulated node's programs read and change besides its filesystem: MicroK8s' state,
the simulated duration of slow steps, the login and sudo paths. Below both the node
(`node.py`) and its programs (`commands/`), which share it."""

from __future__ import annotations

from dataclasses import dataclass, field

LAB_USER = "thinkube"
LOGIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games:/snap/bin"

SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"

#: Simulated seconds each slow step takes at speed 1.0 (multiplied by the lab's `speed`).
DURATIONS: dict[str, float] = {
    "snap-install": 2.0,
    "snap-remove": 1.0,
    "microk8s-start": 1.0,  # after install, until `status` says running
    "wait-ready": 1.0,
    "enable": 1.0,
    "disable": 0.5,
    "add-node": 0.1,
    "join": 2.0,
    "node-ready": 1.0,  # after a join, until the Node is Ready in the Kube API
    "helm": 0.5,
    "usermod": 0.05,
    "kubelite-start": 3.0,  # after `snap restart microk8s.daemon-kubelite`, until the API server answers
}


@dataclass
class MicroK8sState:
    """What `snap install microk8s` and friends changed on this node (persisted)."""

    channel: str | None = None  # None: not installed
    version: str | None = None
    revision: str | None = None
    running: bool = False
    addons: list[str] = field(default_factory=list)
    role: str | None = None  # "control" (it runs the control plane) or "worker" (joined with --worker)
    joined_to: str | None = None  # the control node's address, on workers
    metallb_range: str | None = None

    @property
    def installed(self) -> bool:
        return self.channel is not None
