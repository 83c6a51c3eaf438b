"""Canary secrets never leak during a FULL install (every component of examples/answers-full.yaml).

Like test_canaries.py, on the whole plan: a canary sudo password (read by `sudo -S` from stdin
only) and canary component secrets from the 0600 secrets file (Grafana's admin password, Valkey's
password). Afterwards every place a secret could leak to -- terminal output, the installer's
log files and journal (local and its ConfigMap copy in the cluster), the exported answers, the
command lines and argv the lab's nodes received -- is searched for the canaries, for every
value the run registered as a secret (`Secrets.register`, observed by wrapping it), and for the
secret-looking values of every Kubernetes Secret the installers wrote (read back from the
emulator). The exception: MicroK8s join tokens in the node-local argv of `microk8s
add-node/join`, which MicroK8s itself requires (see test_canaries.py).
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
from pathlib import Path

import pytest
import yaml

from thinkube_lab.cluster import Lab
from thinkube_tui.commands.lab import demo_answers
from thinkube_tui.headless import HeadlessOptions, run
from thinkube_tui.installers.base import Cluster
from thinkube_tui.secrets import Secrets
from thinkube_tui.spec import dump_spec, load_answers

ROOT = Path(__file__).resolve().parents[2]
SUDO_CANARY = "canary-sudo-Fq3m9Tz2"
GRAFANA_CANARY = "canary-grafana-Wd5k1Pn8"
VALKEY_CANARY = "canary-valkey-Rx2c7Jh4"
#: Files of the state directory that are secret stores by design (mode 0600): only the canaries
#: must stay out of them, the secrets they exist to keep are in them.
SECRET_STORES = {"vault-init.json"}
#: Keys of Kubernetes Secrets holding public or non-secret data.
PUBLIC_KEYS = re.compile(
    r"(^|[._-])(crt|cert|pem|ca|user(name)?|endpoint|url|host|port|bucket|region|database|"
    r"dbname|issuer|config|id|index|mtime|access_key)$|passwordMtime$",
    re.I,
)


@pytest.fixture
async def lab(tmp_path):
    async with Lab(
        tmp_path / "lab", nodes=3, gpus=1, speed=0.02, sudo_password=SUDO_CANARY, log=lambda _m: None
    ) as lab:
        yield lab


def _thinkube_secret_values(lab: Lab) -> dict[str, str]:
    """'ns/name:key' -> decoded value, for the Secrets the installers wrote with secret-looking keys."""
    out = {}
    for secret in lab.kube.list("v1", "Secret"):
        meta = secret["metadata"]
        managers = {m.get("manager") for m in meta.get("managedFields") or []}
        if "thinkube-tui" not in managers:
            continue
        for key, value in (secret.get("data") or {}).items():
            if PUBLIC_KEYS.search(key):
                continue
            text = base64.b64decode(value).decode(errors="replace")
            if len(text) >= 12 and not re.search(r"\s", text) and "BEGIN" not in text:
                out[f"{meta.get('namespace')}/{meta['name']}:{key}"] = text
    return out


async def test_full_install_never_leaks(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", SUDO_CANARY)
    registered: set[str] = set()
    handed_over: set[str] = set()  # lines for the operator: registered (masked in logs), shown in the summary
    original_register, original_handover = Secrets.register, Cluster.handover

    def register(self: Secrets, value: str) -> None:
        registered.add(value)
        original_register(self, value)

    def handover(self: Cluster, title: str, lines: list[str]) -> None:
        handed_over.update(lines)
        original_handover(self, title, lines)

    monkeypatch.setattr(Secrets, "register", register)
    monkeypatch.setattr(Cluster, "handover", handover)

    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(f"grafana-admin: {GRAFANA_CANARY}\nvalkey-password: {VALKEY_CANARY}\n")
    os.chmod(secrets_file, 0o600)
    data = demo_answers(lab.answers(), ROOT / "examples" / "answers-full.yaml")
    data["components"]["grafana"] = {**data["components"]["grafana"], "adminPassword": {"secret": "grafana-admin"}}
    data["components"]["valkey"] = {**data["components"]["valkey"], "password": {"secret": "valkey-password"}}
    data["secretsFile"] = str(secrets_file)
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(data, sort_keys=False))

    out = io.StringIO()
    state = tmp_path / "state"
    options = HeadlessOptions(
        answers=answers,
        yes=True,
        state_dir=state,
        known_hosts=lab.write_known_hosts(tmp_path / "known_hosts"),
        interactive_output=False,
    )
    code = await asyncio.wait_for(run(options, out=out, err=out), 240)
    assert code == 0, out.getvalue()[-4000:]

    # The canaries reached where they belong.
    grafana = lab.kube.get("v1", "Secret", "grafana-admin", "monitoring") or {}
    in_cluster = {
        base64.b64decode(v).decode() for s in lab.kube.list("v1", "Secret") for v in (s.get("data") or {}).values()
    }
    assert GRAFANA_CANARY in in_cluster and VALKEY_CANARY in in_cluster, grafana
    assert GRAFANA_CANARY in registered and VALKEY_CANARY in registered

    generated = _thinkube_secret_values(lab)
    assert len(generated) > 20, generated.keys()  # a full install writes many
    secrets = {
        SUDO_CANARY: "the sudo password",
        GRAFANA_CANARY: "Grafana's admin password",
        VALKEY_CANARY: "Valkey's password",
    }
    secrets.update({v: "a value registered as a secret" for v in registered if len(v) >= 8})
    secrets.update({v: f"Secret {where}" for where, v in generated.items()})

    places: dict[str, str] = {"terminal output": out.getvalue()}
    stores: dict[str, str] = {}
    for path in state.rglob("*"):
        mode = path.stat().st_mode & 0o777
        if path.is_dir():
            assert mode & 0o077 == 0, f"{path} is a directory others can enter ({oct(mode)})"
            continue
        assert mode & 0o077 == 0, f"{path} is readable by others ({oct(mode)})"
        (stores if path.name in SECRET_STORES else places)[str(path)] = path.read_text(errors="replace")
    assert any("logs" in p for p in places) and any(p.endswith("journal.json") for p in places), places.keys()
    places["exported answers"] = dump_spec(load_answers(answers))
    places["journal in the cluster"] = str(
        lab.kube.get("v1", "ConfigMap", "thinkube-installer-state", "thinkube-system")
    )
    assert places["journal in the cluster"] != "None"
    # The lab's own state file: Helm values (qdrant's apiKey, ...) live in the releases' Secrets,
    # as with real Helm, not in the clear beside them.
    await lab.save()
    places["the lab's state file"] = (lab.state_dir / "lab-state.json").read_text()
    for name, node in lab.nodes.items():
        places[f"{name}: command lines received"] = "\n".join(node.history)
        places[f"{name}: argv of every command run"] = "\n".join(" ".join(argv) for _, argv in node.argv_log)
    tokens = {
        argv[argv.index("--token") + 1]
        for node in lab.nodes.values()
        for _, argv in node.argv_log
        if argv[:2] == ("microk8s", "add-node") and "--token" in argv
    }
    assert len(tokens) == 2  # two workers, one single-use token each
    secrets.update({t: "a MicroK8s join token" for t in tokens})

    leaks = []
    for place, text in places.items():
        own_argv = "argv of every command run" in place
        for value, what in secrets.items():
            if own_argv and value in tokens:
                continue  # MicroK8s takes them as arguments on the node itself
            if place == "terminal output" and value in handed_over:
                continue  # the run's summary shows the handover, the log masks it
            at = text.find(value)
            if at >= 0:
                context = text[max(0, at - 80) : at + len(value) + 40].replace(value, "<SECRET>")
                leaks.append(f"{what} leaked into {place}: ...{context}...")
    for place, text in stores.items():
        leaks += [
            f"{secrets[c]} leaked into {place}" for c in (SUDO_CANARY, GRAFANA_CANARY, VALKEY_CANARY) if c in text
        ]
    assert leaks == [], "\n".join(leaks)
    assert "grafana-admin" in places["exported answers"]  # the reference, not the value
