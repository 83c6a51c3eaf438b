"""The Lab: a SIMULATED MicroK8s cluster on one machine -- N SSH nodes plus a Kubernetes API.

    async with Lab(state_dir, nodes=3, gpus=1, speed=0.01) as lab:
        lab.write_answers("answers.yaml")       # thinkube-tui answers pointing at the lab
        lab.write_known_hosts("known_hosts")
        ...

Node 0 is the control node (profile `control`), then `nodes - 1 - gpus` CPU workers and
`gpus` GPU workers. Every node is an SSH server on 127.0.0.1 (its own port) with a
simulated address 10.42.0.(11+i) inside the lab's network. State -- node files, snaps,
groups, MicroK8s, join tokens, Helm releases, ports, keys, the Kube API's objects -- persists
in `state_dir`, so the lab can restart (same ports, same host keys) and an installer killed
half-way can run again against the same lab.

``speed`` multiplies every simulated duration: 1.0 is "realistic", 0.01 runs a whole install
a hundred times faster (tests). Rollouts in the Kube API emulator scale the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .agent import ClusterAgent
from .charts import release_secret, release_secret_name, values_from_secret, without_values
from .commands.microk8s import register_node
from .controllers import Controllers
from .faults import Faults
from .kubeapi import KubeApiEmulator
from .node import LAB_USER, LabNode
from .profiles import profile
from .server import NodeServer, load_or_create_key
from .snapdata import apiserver_problem

STATE_FILE = "lab-state.json"
NETWORK = "10.42.0"
BANNER = "thinkube lab -- a SIMULATED cluster (no real machines): MicroK8s nodes answered by the lab's own shell"


def node_names(nodes: int, gpus: int) -> list[tuple[str, str]]:
    """(name, profile) of each node: the control node, CPU workers, then GPU workers."""
    if nodes < 1:
        raise ValueError("a lab needs at least one node (the control node)")
    if gpus > nodes - 1:
        raise ValueError(f"{gpus} GPU workers do not fit in {nodes} nodes (one is the control node)")
    out = [("tk-control", "control")]
    out += [(f"tk-worker-{i + 1}", "worker") for i in range(nodes - 1 - gpus)]
    out += [(f"tk-gpu-{i + 1}", "gpu") for i in range(gpus)]
    return out


class Lab:
    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        nodes: int = 3,
        gpus: int = 1,
        speed: float = 1.0,
        faults: Faults | Iterable[Any] | str | os.PathLike[str] | None = None,
        *,
        sudo_password: str | None = None,
        nopasswd: bool = False,
        password_auth: bool = False,
        max_sessions: int = 10,
        log: Callable[[str], None] | None = None,
        apiserver_restart: str | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        # While kubelite restarts, the Kube API emulator "refuse"s connections (the default: what a
        # real API server does) or makes requests "hold" until it answers again (see docs/lab.md).
        self.apiserver_restart = apiserver_restart or os.environ.get("THINKUBE_LAB_APISERVER_RESTART", "refuse")
        if self.apiserver_restart not in ("hold", "refuse"):
            raise ValueError(f"apiserver_restart must be 'hold' or 'refuse', not {self.apiserver_restart!r}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.speed = speed
        if isinstance(faults, Faults):
            self.faults = faults
        elif isinstance(faults, (str, os.PathLike)):
            self.faults = Faults.load(faults)
        else:
            self.faults = Faults(faults or [])
        self._layout = node_names(nodes, gpus)
        self._nopasswd = nopasswd
        self._password_auth = password_auth
        self._max_sessions = max_sessions
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.nodes: dict[str, LabNode] = {}
        self.servers: dict[str, NodeServer] = {}
        self.tokens: dict[str, float | None] = {}
        self.agent = ClusterAgent(self.tokens, speed)  # the control node's cluster agent (:25000)
        self.releases: dict[str, dict[str, Any]] = {}
        # `snap refresh microk8s` as the nodes ran it, in order: (node, channel, cordoned then)
        self.refreshed: list[tuple[str, str, bool]] = []
        self.cluster_check = ""
        self.lab_id = ""
        (self.state_dir / "kube").mkdir(exist_ok=True)
        self.kube = KubeApiEmulator(
            self.state_dir / "kube",
            rollout_delay=1.0,
            speed=1.0 / max(speed, 1e-6),
            addresses=(f"{NETWORK}.11",),  # the control node's simulated address, in the server certificate
        )
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._save_handle: asyncio.TimerHandle | None = None
        self._saving: asyncio.Task[None] | None = None
        self._started = False
        self._given_sudo_password = sudo_password
        self.controllers: Controllers | None = None  # the simulated operators, once started

    # -- paths and secrets

    @property
    def client_key(self) -> Path:
        """The private key the lab's nodes accept for `thinkube` (mode 0600)."""
        return self.state_dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.state_dir / "authorized_keys"

    @property
    def control_name(self) -> str:
        return self._layout[0][0]

    def _secret(self, name: str, given: str | None) -> str:
        path = self.state_dir / name
        if given is not None:
            value = given
        elif path.exists():
            return path.read_text().strip()
        else:
            value = secrets.token_urlsafe(12)
        path.write_text(value + "\n")
        path.chmod(0o600)
        return value

    # -- lifecycle

    async def __aenter__(self) -> Lab:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        data = await asyncio.to_thread(self._read_state)
        self.lab_id = data.get("lab_id") or secrets.token_hex(8)
        self.cluster_check = data.get("cluster_check") or secrets.token_hex(6)
        self.tokens = dict(data.get("tokens") or {})
        self.agent.tokens = self.tokens
        self.agent.load(data.get("agent") or {})
        self.releases = dict(data.get("releases") or {})
        self.sudo_password = self._secret("sudo-password", self._given_sudo_password)
        self.ssh_password = self._secret("ssh-password", None) if self._password_auth else None
        key = await asyncio.to_thread(load_or_create_key, self.client_key)
        pub = key.export_public_key("openssh").decode().strip()
        await asyncio.to_thread(self.authorized_keys.write_text, pub + "\n")
        await self.kube.start(data.get("kube_port"))
        self._restore_release_values()
        self.controllers = Controllers(self)  # simulated operators (MetalLB, cert-manager, Vault, ...)
        self.controllers.start()
        saved = data.get("nodes") or {}
        for i, (name, prof) in enumerate(self._layout):
            node = LabNode(
                name,
                profile(prof),
                index=i,
                address=f"{NETWORK}.{11 + i}",
                state_dir=self.state_dir / "nodes" / name,
                lab=self,
                speed=self.speed,
                sudo_password=self.sudo_password,
                nopasswd=self._nopasswd or None,
                lab_id=self.lab_id,
                gateway=f"{NETWORK}.1",
            )
            if name in saved:
                node.load_state(saved[name])
            node.on_change = self.changed
            self.nodes[name] = node
        for name, _prof in self._layout:
            server = NodeServer(
                self.nodes[name],
                self.state_dir / "hostkeys" / f"{name}_ed25519",
                self.authorized_keys,
                self.faults,
                port=(saved.get(name) or {}).get("port", 0),
                password=self.ssh_password,
                max_sessions=self._max_sessions,
            )
            await server.start()
            self.servers[name] = server
        # Kubelets come back after a restart: every member is Ready again.
        for node in self.nodes.values():
            if node.microk8s.installed and node.microk8s.role in ("control", "worker"):
                register_node(node, ready=True)
            if node.microk8s.installed and not node.microk8s.running:
                # stopped half-way through `snap restart`: systemd starts kubelite with the lab
                problem = await apiserver_problem(node) if node.microk8s.role == "control" else None
                if problem is None:
                    node.microk8s.running = True
                else:
                    node.kubelite_failure = f"thinkube-lab: {node.name}: kube-apiserver does not start: {problem}"
                    self.log(node.kubelite_failure)
                    await self.kube.pause(refuse=self.apiserver_restart == "refuse")
        self._started = True
        self.changed()

    async def stop(self) -> None:
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        for server in self.servers.values():
            await server.stop()
        if self._save_handle is not None:
            self._save_handle.cancel()
        if self._saving is not None:
            with contextlib.suppress(Exception):
                await self._saving
        if self._started:
            await asyncio.to_thread(self._write_state, self._snapshot())
        if self.controllers is not None:
            self.controllers.stop()
        await self.kube.stop()
        self._started = False

    # -- used by the simulated commands

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def run() -> None:
            self._timers.discard(handle)
            try:
                fn()
            except Exception as exc:
                self.log(f"thinkube-lab: a simulated background step failed: {exc}")
            self.changed()

        handle = loop.call_later(max(0.0, delay), run)
        self._timers.add(handle)

    def spawn(self, coro: Any) -> None:
        """Run a simulated background step (a daemon coming up) until done or the lab stops."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self.log(f"thinkube-lab: a simulated background step failed: {t.exception()}")
            self.changed()

        task.add_done_callback(done)

    def node_by_address(self, address: str) -> LabNode | None:
        return next((n for n in self.nodes.values() if n.address == address or n.name == address), None)

    def changed(self) -> None:
        """Save the lab state soon (writes close together share one save)."""
        if not self._started or self._save_handle is not None:
            return
        loop = asyncio.get_running_loop()
        self._save_handle = loop.call_later(0.05, self._save)

    async def save(self) -> None:
        """Write the lab's state file now, after the writes already under way: writes form one
        chain, so two never share the temporary file (one would rename it from under the other)."""
        if self._save_handle is not None:
            self._save_handle.cancel()
        self._save()
        assert self._saving is not None
        await self._saving

    def _save(self) -> None:
        self._save_handle = None
        snapshot = self._snapshot()
        previous = self._saving

        async def write() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            await asyncio.to_thread(self._write_state, snapshot)

        self._saving = asyncio.ensure_future(write())

    def _snapshot(self) -> dict[str, Any]:
        return json.loads(
            json.dumps(
                {
                    "version": 1,
                    "note": "thinkube lab state (a simulator)",
                    "lab_id": self.lab_id,
                    "cluster_check": self.cluster_check,
                    "kube_port": self.kube.port,
                    "tokens": self.tokens,
                    "agent": self.agent.state(),
                    "releases": without_values(self.releases),  # values live in the releases' Secrets
                    "nodes": {
                        name: {
                            "port": self.servers[name].port if name in self.servers else 0,
                            "profile": node.profile.name,
                            **node.to_state(),
                        }
                        for name, node in self.nodes.items()
                    },
                }
            )
        )

    def _restore_release_values(self) -> None:
        """Values come back from each release's Secret (a state file from before kept them in
        the clear: those are moved into the Secret now)."""
        for record in self.releases.values():
            name = release_secret_name(record["name"], int(record.get("revision") or 1))
            values = values_from_secret(self.kube.get("v1", "Secret", name, record["namespace"]))
            if values is not None:
                record["values"] = values
            elif "values" in record and self.kube.get("v1", "Namespace", record["namespace"]) is not None:
                self.kube.put(release_secret(record), manager="helm")

    def _read_state(self) -> dict[str, Any]:
        path = self.state_dir / STATE_FILE
        if not path.exists():
            return {}
        return json.loads(path.read_text())

    def _write_state(self, data: dict[str, Any]) -> None:
        path = self.state_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    # -- what callers need

    def addresses(self) -> dict[str, dict[str, Any]]:
        """name -> {host, port, address (simulated), role, profile, fingerprint}."""
        out = {}
        for i, (name, prof) in enumerate(self._layout):
            srv = self.servers[name]
            out[name] = {
                "host": "127.0.0.1",
                "port": srv.port,
                "address": self.nodes[name].address,
                "role": "control" if i == 0 else "worker",
                "profile": prof,
                "fingerprint": srv.fingerprint,
            }
        return out

    def write_known_hosts(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("".join(s.known_hosts_line() + "\n" for s in self.servers.values()))
        return p

    def answers(
        self,
        components: dict[str, Any] | Iterable[str] | None = None,
        *,
        sudo_password_env: str = "TK_LAB_SUDO_PASSWORD",
    ) -> dict[str, Any]:
        nodes = []
        for name, info in self.addresses().items():
            entry: dict[str, Any] = {
                "name": name,
                "host": info["host"],
                "port": info["port"],
                "user": LAB_USER,
                "role": info["role"],
                "auth": {"method": "key", "keyFile": str(self.client_key)},
                "hostKey": info["fingerprint"],
            }
            if not self._nopasswd:
                entry["sudoPassword"] = {"env": sudo_password_env}
            if info["profile"] == "gpu":
                entry["labels"] = {"thinkube.io/accelerator": "nvidia"}
            nodes.append(entry)
        doc: dict[str, Any] = {
            "apiVersion": "thinkube.io/v1alpha1",
            "cluster": {
                "name": "thinkube-lab",
                "domain": "thinkube-lab.lan",
                "adminEmail": "admin@thinkube-lab.lan",
                "microk8sChannel": "1.33/stable",
                "metallbRange": f"{NETWORK}.200-{NETWORK}.220",
                "ingressIP": f"{NETWORK}.200",
                "ingressKnIP": f"{NETWORK}.201",
                "certificates": "self-signed",
                "dnsResolvers": [f"{NETWORK}.1"],
            },
            "nodes": nodes,
        }
        if components is not None:
            doc["components"] = (
                dict(components) if isinstance(components, dict) else {c: {"enabled": True} for c in components}
            )
        return doc

    def write_answers(
        self, path: str | os.PathLike[str], components: dict[str, Any] | Iterable[str] | None = None, **kw: Any
    ) -> Path:
        """An answers file for thinkube-tui pointing at the lab's nodes (no secret in it)."""
        import yaml

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        header = (
            "# thinkube-tui answers for the thinkube LAB -- a simulated cluster on 127.0.0.1.\n"
            "# The sudo password is read from $TK_LAB_SUDO_PASSWORD "
            f"(its value is in {self.state_dir / 'sudo-password'}).\n"
        )
        p.write_text(header + yaml.safe_dump(self.answers(components, **kw), sort_keys=False))
        return p

    def describe(self) -> str:
        lines = [
            BANNER,
            f"state: {self.state_dir}",
            f"Kubernetes API (emulated): {self.kube.url}",
            f"client key: {self.client_key}   sudo password file: {self.state_dir / 'sudo-password'}",
        ]
        for name, info in self.addresses().items():
            lines.append(
                f"  {name:<14} ssh -p {info['port']} -i {self.client_key} {LAB_USER}@127.0.0.1   "
                f"({info['role']}, {info['profile']}, simulated address {info['address']}, "
                f"{info['fingerprint']})"
            )
        return "\n".join(lines)

    async def reboot(self, name: str, down_for: float = 1.0) -> None:
        await self.servers[name].reboot(down_for)


async def serve(
    state_dir: str | os.PathLike[str], nodes: int = 3, gpus: int = 1, speed: float = 1.0, faults: Any = None
) -> None:
    """Run a lab until cancelled, printing where its nodes are."""
    async with Lab(state_dir, nodes=nodes, gpus=gpus, speed=speed, faults=faults) as lab:
        print(lab.describe(), flush=True)
        await asyncio.Event().wait()
