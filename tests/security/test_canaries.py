"""Canary secrets never leak: not into logs, the journal, exported answers, remote argv or output.

A real install on the lab with a canary sudo password (given on stdin to `sudo -S` only) and a
canary component secret from the 0600 secrets file. Afterwards every place a secret could
leak to is searched for both canaries and for every secret the run generated or received.
"""

import asyncio
import io
import os
from pathlib import Path

import pytest
import yaml

from thinkube_lab.cluster import Lab
from thinkube_tui.headless import HeadlessOptions, run
from thinkube_tui.spec import dump_spec, load_answers

SUDO_CANARY = "canary-sudo-Zq8v3Lr1"
TOKEN_CANARY = "canary-token-Hb7w2Kx9"


@pytest.fixture
async def lab(tmp_path):
    async with Lab(
        tmp_path / "lab", nodes=2, gpus=0, speed=0.05, sudo_password=SUDO_CANARY, log=lambda _m: None
    ) as lab:
        yield lab


async def test_canaries_never_leak(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", SUDO_CANARY)
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(f"valkey-password: {TOKEN_CANARY}\n")
    os.chmod(secrets_file, 0o600)
    answers = lab.write_answers(
        tmp_path / "answers.yaml", components={"valkey": {"enabled": True, "password": {"secret": "valkey-password"}}}
    )
    data = yaml.safe_load(answers.read_text())
    data["secretsFile"] = str(secrets_file)
    answers.write_text(yaml.safe_dump(data))

    out = io.StringIO()
    state = tmp_path / "state"
    options = HeadlessOptions(
        answers=answers,
        yes=True,
        state_dir=state,
        known_hosts=tmp_path / "known_hosts",
        interactive_output=False,
        only=frozenset({"microk8s-workers", "valkey"}),
    )
    code = await asyncio.wait_for(run(options, out=out, err=out), 120)
    assert code == 0, out.getvalue()

    # The canaries reached where they belong: sudo read one, the cluster keeps the other.
    valkey_secret = lab.kube.get("v1", "Secret", "valkey-users", "valkey")
    assert valkey_secret is not None

    places: dict[str, str] = {"terminal output": out.getvalue()}
    for path in state.rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_text(errors="replace")
            assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    places["exported answers"] = dump_spec(load_answers(answers))
    for name, node in lab.nodes.items():
        places[f"{name}: command lines received"] = "\n".join(node.history)
        places[f"{name}: argv of every command run"] = "\n".join(" ".join(argv) for _, argv in node.argv_log)
    places["journal in the cluster"] = str(
        lab.kube.get("v1", "ConfigMap", "thinkube-installer-state", "thinkube-system")
    )
    # MicroK8s' join tokens: we send them on stdin, but `microk8s add-node --token` and `microk8s
    # join` themselves take them as arguments on the node (single use, one hour at most).
    tokens = [
        argv[argv.index("--token") + 1]
        for node in lab.nodes.values()
        for _, argv in node.argv_log
        if argv[:2] == ("microk8s", "add-node") and "--token" in argv
    ]
    assert len(tokens) == 1  # one worker, one token
    for place, text in places.items():
        own_argv = "argv of every command run" in place
        for secret in (SUDO_CANARY, TOKEN_CANARY, *([] if own_argv else tokens)):
            assert secret not in text, f"a secret leaked into {place}"
    assert "valkey-password" in places["exported answers"]  # the reference, not the value


def test_no_code_path_switches_host_key_checking_off():
    """Neither the product nor its tests turn host key verification off, anywhere."""
    root = Path(__file__).resolve().parents[2]
    # (accept_new_host_keys is ssh's accept-new: unknown keys are remembered, changed keys still refused.)
    forbidden = ("known_hosts=None", "known_hosts = None", "StrictHostKeyChecking", "UserKnownHostsFile=/dev/null")
    sources = [*(root / "thinkube_tui").rglob("*.py"), *(root / "tests").rglob("*.py")]
    offenders = [
        f"{path.relative_to(root)}: {word}"
        for path in sources
        if path != Path(__file__).resolve()
        for word in forbidden
        if word in path.read_text()
    ]
    assert offenders == []


def test_files_and_every_directory_created_for_them_are_private(tmp_path):
    from thinkube_tui.files import write_atomic

    target = tmp_path / "state" / "cluster" / "logs" / "journal.json"
    write_atomic(target, "{}")
    assert target.stat().st_mode & 0o777 == 0o600
    for directory in (tmp_path / "state", tmp_path / "state" / "cluster", target.parent):
        assert directory.stat().st_mode & 0o777 == 0o700, directory
