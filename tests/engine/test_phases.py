"""The node phases every face runs, on stand-in transports: what they record in the session and
which lines they hand to the face."""

from thinkube_tui.facts import Facts
from thinkube_tui.phases import Preflight, ResolveHostnames, Session, SudoCheck, run_phases
from thinkube_tui.transport import CommandResult


class Node:
    def __init__(self, node: str, *, sudo: bool | Exception = True, hosts: str = "") -> None:
        self.node = node
        self.sudo = sudo
        self.hosts = hosts
        self.commands: list[str] = []

    async def run(self, command: str, *, input=None, timeout=None, on_line=None, sudo=False) -> CommandResult:
        self.commands.append(command)
        if sudo and isinstance(self.sudo, Exception):
            raise self.sudo
        if sudo:
            return CommandResult(command, 0 if self.sudo else 1, "", "")
        return CommandResult(command, 0, self.hosts, "")


def session(**kwargs) -> Session:
    s = Session(control="cp", **kwargs)
    s.facts = {"cp": Facts(node="cp", hostname="cp"), "w1": Facts(node="w1", hostname="w1")}
    return s


async def test_a_missing_sudo_password_is_one_finding_naming_it_not_one_per_node():
    notes: list[str] = []
    s = session(note=notes.append, missing_secrets={("sudo", "env THINKUBE_SUDO"): ["cp", "w1"]})
    s.transports = {"cp": Node("cp", sudo=PermissionError("needs a password")), "w1": Node("w1", sudo=True)}
    await run_phases(s, [SudoCheck(), Preflight()])
    assert s.sudo_ok == {"cp": False, "w1": True}
    sudo = [f for f in s.findings if f.check == "sudo"]
    assert [f.message for f in sudo] == ["no sudo password for cp: env THINKUBE_SUDO"]
    assert notes == []  # said once, as the finding


async def test_other_sudo_failures_are_noted_for_the_face():
    notes: list[str] = []
    s = session(note=notes.append)
    s.transports = {"cp": Node("cp", sudo=RuntimeError("connection lost"))}
    await SudoCheck().run(s)
    assert notes == ["cp: connection lost"] and s.sudo_ok == {"cp": False}


async def test_the_wizard_checks_sudo_only_where_discovery_answered():
    s = session()
    extra = Node("gone")
    s.transports = {"cp": Node("cp"), "w1": Node("w1"), "gone": extra}
    await SudoCheck(discovered_only=True).run(s)
    assert set(s.sudo_ok or {}) == {"cp", "w1"} and extra.commands == []


async def test_hostnames_resolve_on_the_control_node_only_when_it_is_connected():
    s = session()
    await ResolveHostnames().run(s)
    assert s.resolutions is None  # no control transport: the check is skipped, not failed
    control = Node("cp", hosts="10.0.0.2       STREAM w1\n")
    s.transports = {"cp": control}
    await ResolveHostnames().run(s)
    assert any("getent" in c and "w1" in c for c in control.commands)


async def test_unreachable_nodes_are_findings_in_pipeline_order():
    s = session()
    s.connect_errors = {"w2": "connection refused"}
    s.discovery_errors = {"w3": "timed out"}
    await Preflight().run(s)
    reachable = [(f.node, f.check) for f in s.findings if f.check == "reachable"]
    assert reachable == [("w2", "reachable"), ("w3", "reachable")]


def test_every_phase_says_what_it_would_do():
    from thinkube_tui.phases import AdoptClusterState, Discover, OpenState, PlanInstall

    s = session()
    for phase in (Discover(), SudoCheck(), ResolveHostnames(), Preflight(), OpenState(), AdoptClusterState()):
        assert phase.title and phase.explain(s)
    assert PlanInstall().explain(s)
