"""Vault as the platform's secret store, on the lab over real SSH: with Vault's keys kept, each
component's admin login and OIDC client secret are also in Vault KV at secret/thinkube/<id>,
equal to their Kubernetes Secrets -- those installed before Vault and those after; the root
token reaches no log or journal. Without a token, the run says so once and Vault holds nothing."""

from __future__ import annotations

import base64
from pathlib import Path

from thinkube_lab.cluster import Lab

INSTALLED = {"vault", "grafana"}  # grafana: an admin login and an OIDC client (with keycloak, prometheus)


def kv(lab: Lab, key: str) -> dict | None:
    assert lab.controllers is not None
    engine = lab.controllers.state.get("vault", {}).get("vault/vault", {}).get("mounts", {}).get("secret/")
    versions = (engine or {}).get("data", {}).get(key) or []
    return versions[-1]["data"] if versions else None


def secret(lab: Lab, namespace: str, name: str, key: str) -> str:
    obj = lab.kube.get("v1", "Secret", name, namespace)
    assert obj is not None, (namespace, name)
    return base64.b64decode(obj["data"][key]).decode()


async def test_credentials_are_copied_into_vault_kv(installed_lab) -> None:
    lab, args = await installed_lab(INSTALLED)
    grafana = kv(lab, "thinkube/grafana")
    assert grafana == {
        "username": "admin",
        "password": secret(lab, "monitoring", "grafana-admin", "admin-password"),
        "oidc-client-id": "grafana",
        "oidc-client-secret": secret(lab, "monitoring", "grafana-oidc", "client-secret"),
    }
    keycloak = kv(lab, "thinkube/keycloak")  # installed before Vault, or after: either way copied
    assert keycloak is not None and keycloak["password"] == secret(lab, "keycloak", "keycloak-admin", "password")
    state = Path(args.state_dir) / "thinkube-lab"
    root = lab.controllers.state["vault"]["vault/vault"]["root_token"]
    for path in [state / "journal.json", *(state / "logs").glob("*.log")]:
        assert root not in path.read_text(), path


async def test_without_a_token_vault_holds_nothing_and_the_run_says_so_once(installed_lab) -> None:
    def print_the_keys(doc: dict) -> None:
        doc["components"]["vault"] = {**(doc["components"].get("vault") or {}), "secretsStore": "print"}

    lab, args = await installed_lab(INSTALLED, edit=print_the_keys)
    assert kv(lab, "thinkube/grafana") is None and kv(lab, "thinkube/keycloak") is None
    (log,) = (Path(args.state_dir) / "thinkube-lab" / "logs").glob("install-*.log")
    assert log.read_text().count("Vault holds no copies of the platform's credentials") == 1


async def test_a_vault_reference_in_the_answers_is_read_from_vault(installed_lab, tmp_path) -> None:
    """`{vault: "secret/thinkube/grafana#password"}` as Qdrant's API key: read from Vault at the
    start of the run, the installer gets the value (masked in its log)."""
    import asyncio
    import io

    import yaml

    from thinkube_tui.headless import HeadlessOptions, run

    lab, args = await installed_lab(INSTALLED)
    doc = yaml.safe_load(args.answers.read_text())
    doc["components"]["qdrant"] = {"enabled": True, "apiKey": {"vault": "secret/thinkube/grafana#password"}}
    args.answers.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = io.StringIO()
    options = HeadlessOptions(
        answers=args.answers,
        yes=True,
        state_dir=args.state_dir,
        known_hosts=args.known_hosts,
        interactive_output=False,
        only=frozenset({"qdrant"}),
    )
    assert await asyncio.wait_for(run(options, out=out, err=out), 300) == 0, out.getvalue()[-3000:]
    password = secret(lab, "monitoring", "grafana-admin", "admin-password")
    assert secret(lab, "qdrant", "qdrant-api-key", "api-key") == password
    assert password not in out.getvalue()


def test_validate_refuses_a_malformed_vault_reference_and_one_for_a_node(tmp_path) -> None:
    import subprocess
    import sys

    import yaml

    full = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml").read_text())
    full["components"]["qdrant"] = {"enabled": True, "apiKey": {"vault": "secret/no-key-here"}}
    full["nodes"][0]["sudoPassword"] = {"vault": "secret/nodes#sudo"}
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(full, sort_keys=False))
    r = subprocess.run([sys.executable, "-m", "thinkube_tui", "validate", str(answers)], capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "components.qdrant.apiKey.vault" in r.stdout + r.stderr
    assert "a node's credentials cannot come from Vault" in r.stdout + r.stderr
