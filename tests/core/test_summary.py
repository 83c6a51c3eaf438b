"""The handover summary: every service's login command from the installers' own Secret names,
Vault's keys, DNS and /etc/hosts, kubeconfig, files; and the lab answers the printed commands."""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

from thinkube_tui.catalog import load_catalog
from thinkube_tui.installers import grafana, harbor
from thinkube_tui.installers.support.keycloak import KEYCLOAK_ADMIN_SECRET
from thinkube_tui.plan import make_plan
from thinkube_tui.spec import load_answers
from thinkube_tui.summary import build_handover, export_path, render, secret_command, vault_keys_file

EXAMPLE_FULL = Path("examples/answers-full.yaml")


def full(states=None, **kw):
    spec = load_answers(EXAMPLE_FULL)
    catalog = load_catalog()
    plan = make_plan(catalog, spec, gpu_present=True)
    states = states or dict.fromkeys(plan.ids, "done")
    handover = build_handover(
        spec,
        catalog,
        plan.ids,
        states,
        state_dir=Path("/s"),
        log_path=Path("/s/logs/install-1.log"),
        journal_path=Path("/s/journal.json"),
        **kw,
    )
    return spec, plan, handover, render(handover)


def test_each_admin_login_names_its_user_and_the_command_printing_its_password():
    spec, _, handover, text = full()
    by_id = {s.component: s for s in handover.services}
    keycloak = by_id["keycloak"]
    assert keycloak.user == "admin"
    assert keycloak.command == (
        f"microk8s kubectl -n keycloak get secret {KEYCLOAK_ADMIN_SECRET} -o jsonpath='{{.data.password}}' | base64 -d"
    )
    assert grafana.ADMIN_SECRET in by_id["grafana"].command and "admin-password" in by_id["grafana"].command
    assert f"{harbor.ADMIN_SECRET} -o jsonpath='{{.data.{harbor.ADMIN_KEY}}}'" in by_id["harbor"].command
    assert by_id["jupyterhub"].user == "sign in with Keycloak (SSO)"
    assert f"`{keycloak.command}`" in text
    assert "https://auth." + spec.cluster.domain in text


def test_dns_hosts_kubeconfig_and_files():
    spec, plan, _, text = full()
    domain = spec.cluster.domain
    assert f"*.{domain}  A  {spec.cluster.ingress_ip}" in text
    assert f"*.kn.{domain}  A  {spec.cluster.ingress_kn_ip}" in text  # Knative has the second ingress
    hosts = next(line for line in text.splitlines() if line.strip().startswith(spec.cluster.ingress_ip + " "))
    assert f"auth.{domain}" in hosts and f"registry.{domain}" in hosts
    control = spec.control
    assert f"ssh {control.user}@{control.host} microk8s config > ~/.kube/{spec.cluster.name}.yaml" in text
    assert "Install log: `/s/logs/install-1.log`" in text and "Install journal: `/s/journal.json`" in text
    assert f"{len(plan)} of {len(plan)} components installed." in text


def test_what_is_not_installed_is_said_with_why_and_how_to_retry():
    *_, text = full(
        {**dict.fromkeys(load_catalog().ids, "done"), "grafana": "failed", "loki": "blocked"},
        errors={"grafana": "helm upgrade failed"},
        retry=("thinkube-tui --answers a.yaml",),
    )
    assert "- grafana: failed: helm upgrade failed" in text and "- loki: waits for a component that failed" in text
    assert "    thinkube-tui --answers a.yaml" in text
    assert "1 of 1 component installed." in render(
        build_handover(
            load_answers(EXAMPLE_FULL),
            load_catalog(),
            ["microk8s-control"],
            {"microk8s-control": "done"},
            state_dir=Path("/s"),
            log_path=None,
            journal_path=Path("/s/journal.json"),
        )
    )


def test_vault_keys_file_is_named_only_when_it_was_written(tmp_path):
    spec = load_answers(EXAMPLE_FULL)
    assert vault_keys_file(spec, tmp_path, {"vault": "done"}) is None  # no file: nothing to point at
    (tmp_path / "vault-init.json").write_text("{}")
    keys = vault_keys_file(spec, tmp_path, {"vault": "done"})
    assert keys == tmp_path / "vault-init.json"
    assert vault_keys_file(spec, tmp_path, {"vault": "failed"}) is None
    _, _, _, text = full(vault_keys=keys)
    assert f"Unseal keys and root token: `{keys}` (mode 0600). Move this file somewhere safe" in text
    # With Vault's token kept, each credential is also in Vault KV, and the summary says where.
    assert "a copy in Vault KV: `secret/thinkube/grafana`" in text
    assert "a copy in Vault KV: `secret/thinkube/jupyterhub`" in text  # an OIDC client of its own
    _, _, _, without = full(vault_keys=None)
    assert "Vault KV" not in without


def test_export_goes_beside_the_state():
    assert export_path(Path("/s"), Path("/s/logs/install-20250101-120000.log")) == Path("/s/summary-20250101-120000.md")


async def test_the_lab_answers_the_printed_credential_command(tmp_path):
    """Every command the summary prints works on the demo: the lab's kubectl reads the Secret."""
    import asyncssh

    from thinkube_lab.cluster import Lab

    async with Lab(tmp_path / "lab", nodes=2, gpus=0, speed=0.01, nopasswd=True, log=lambda m: None) as lab:
        lab.write_known_hosts(tmp_path / "known_hosts")
        control = next(name for name in lab.addresses() if "control" in name)

        def connect():
            return asyncssh.connect(
                "127.0.0.1",
                lab.addresses()[control]["port"],
                username="thinkube",
                client_keys=[str(lab.client_key)],
                known_hosts=str(tmp_path / "known_hosts"),
                agent_path=None,
            )

        async with connect() as conn:  # the control plane, as after an install
            for command in ("snap install microk8s --classic --channel=1.33/stable", "usermod -a -G microk8s thinkube"):
                assert (await conn.run(f"sudo -n {command}")).exit_status == 0
        password = "s3cret with spaces"
        data = {"password": password, "config.env": 'export MINIO_ROOT_USER="x"\n'}
        lab.kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keycloak"}})
        lab.kube.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": KEYCLOAK_ADMIN_SECRET, "namespace": "keycloak"},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            }
        )
        async with connect() as conn:  # a new login: in the microk8s group
            assert (await conn.run("microk8s status --wait-ready --timeout 60")).exit_status == 0
            got = await conn.run(secret_command("keycloak", KEYCLOAK_ADMIN_SECRET, "password"))
            assert (got.exit_status, got.stdout) == (0, password), got.stderr
            got = await conn.run(secret_command("keycloak", KEYCLOAK_ADMIN_SECRET, "config.env"))
            assert got.stdout == data["config.env"], got.stderr
            missing = await conn.run(secret_command("keycloak", "nope", "password"))
            assert missing.stdout == "" and 'secrets "nope" not found' in missing.stderr  # sh: base64's status
            assert shlex.split(secret_command("ns", "s", "k"))[-2:] == ["base64", "-d"]


def test_headless_prints_the_same_handover(tmp_path):
    import io

    from thinkube_tui.events import RunFinished
    from thinkube_tui.headless import summary

    spec = load_answers(EXAMPLE_FULL)
    catalog = load_catalog()
    plan = make_plan(catalog, spec, gpu_present=True)
    out = io.StringIO()
    result = RunFinished(None, done=plan.ids, failed=(), blocked=())
    summary(spec, catalog, result, tmp_path / "logs" / "install-1.log", out, state_dir=tmp_path)
    expected = render(
        build_handover(
            spec,
            catalog,
            [cid for cid in catalog.ids if cid in plan.ids],
            dict.fromkeys(plan.ids, "done"),
            state_dir=tmp_path,
            log_path=tmp_path / "logs" / "install-1.log",
            journal_path=tmp_path / "journal.json",
        )
    )
    assert expected in out.getvalue()
    assert "## Services" in expected and "get secret keycloak-admin" in expected
