"""Sudo passwords on the lab: a node's own sudoPassword is used with password login, and a
missing sudo password variable is reported once, by name -- not as "cannot use sudo" per node."""

import asyncio
import io

import yaml

from thinkube_lab.cluster import Lab
from thinkube_tui.headless import EXIT_PREFLIGHT, HeadlessOptions, run

SPEED = 0.05


async def install(answers, tmp_path, **options):
    out = io.StringIO()
    opts = HeadlessOptions(
        answers=answers,
        yes=True,
        state_dir=tmp_path / "state",
        known_hosts=tmp_path / "kh",
        interactive_output=False,
        only=frozenset({"microk8s-control"}),
        **options,
    )
    code = await asyncio.wait_for(run(opts, out=out, err=out), 120)
    return code, out.getvalue()


async def test_password_login_with_a_different_sudo_password_installs(tmp_path, monkeypatch):
    async with Lab(tmp_path / "lab", nodes=2, gpus=0, speed=SPEED, password_auth=True, log=lambda _m: None) as lab:
        assert lab.ssh_password != lab.sudo_password
        doc = lab.answers()
        for node in doc["nodes"]:
            node["auth"] = {"method": "password", "password": {"env": "TK_LAB_SSH_PASSWORD"}}
        answers = tmp_path / "answers.yaml"
        answers.write_text(yaml.safe_dump(doc))
        monkeypatch.setenv("TK_LAB_SSH_PASSWORD", lab.ssh_password)
        monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", lab.sudo_password)
        code, out = await install(answers, tmp_path)
        assert code == 0, out[-3000:]
        assert "cannot run commands with sudo" not in out


async def test_a_missing_sudo_password_variable_is_named_once(tmp_path, monkeypatch):
    monkeypatch.delenv("TK_LAB_SUDO_PASSWORD", raising=False)
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        answers = lab.write_answers(tmp_path / "answers.yaml")
        code, out = await install(answers, tmp_path)
    assert code == EXIT_PREFLIGHT, out
    assert out.count("TK_LAB_SUDO_PASSWORD") == 1, out
    assert (
        "no sudo password for tk-control, tk-gpu-1, tk-worker-1: environment variable TK_LAB_SUDO_PASSWORD is not set"
        in out
    )
    assert "usermod" not in out and "cannot run commands with sudo" not in out
