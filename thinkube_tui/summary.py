"""The handover: what the operator needs once the install is over, for the wizard and headless alike.

Per service its URL, who signs in and the exact command that prints the password (run on the
control node: `microk8s kubectl -n NS get secret NAME -o jsonpath='{.data.KEY}' | base64 -d`),
where Vault's keys are, the DNS records to create (or /etc/hosts lines for a lab), how to get
a kubeconfig, where the log and the journal are, and what was not installed.

`build_handover` gathers it as data; `render` writes it as Markdown, which reads as plain text
too: the wizard shows it, headless prints it, `e` on the summary screen saves it. The secret
names come from the installers' own constants, so a renamed Secret cannot leave a stale command.
Passwords themselves never appear here: only the commands that print them.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import Catalog
from .install_log import shown_path
from .installers.support.logins import logins
from .spec import Spec
from .wording import plural

SIGNED_IN = ("done", "installed")  # states in which a service answers


@dataclass(frozen=True)
class Service:
    component: str
    title: str
    state: str
    urls: tuple[str, ...]
    user: str  # who signs in: "admin", "sign in with Keycloak (SSO)", or ""
    command: str  # the command that prints the password, or ""
    vault: str = ""  # where Vault KV keeps a copy of its credentials, when it does


@dataclass(frozen=True)
class Handover:
    cluster: str
    domain: str
    control_ssh: str
    services: tuple[Service, ...]
    states: tuple[tuple[str, str], ...]  # every component of the plan (and installed before), in order
    problems: tuple[tuple[str, str], ...]  # (component, why) for what is not installed
    dns: tuple[str, ...]
    hosts_lines: tuple[str, ...]
    kubeconfig: str
    vault_keys: Path | None
    files: tuple[tuple[str, str], ...]  # (what, path)
    retry: tuple[str, ...] = field(default=())  # how to try again what was not installed

    @property
    def installed(self) -> int:
        return sum(1 for _, state in self.states if state in SIGNED_IN)


def vault_keys_file(spec: Spec, state_dir: Path, states: Mapping[str, str]) -> Path | None:
    """Where Vault's unseal keys and root token are, if this install wrote them to a file."""
    from .installers.support.vault_kv import keys_file

    component = spec.components.get("vault")
    config: Mapping[str, Any] = (component.config if component is not None else None) or {}
    if states.get("vault") not in SIGNED_IN or config.get("secretsStore", "file") != "file":
        return None
    path = keys_file(state_dir)
    return path if path.exists() else None


def secret_command(namespace: str, secret: str, key: str) -> str:
    """The command, run on the control node, that prints one key of a Secret."""
    jsonpath = "{.data." + key.replace(".", "\\.") + "}"
    return f"microk8s kubectl -n {namespace} get secret {secret} -o jsonpath={shlex.quote(jsonpath)} | base64 -d"


def ssh_command(user: str, host: str, port: int) -> str:
    return f"ssh {'-p ' + str(port) + ' ' if port != 22 else ''}{user}@{host}"


def build_handover(
    spec: Spec,
    catalog: Catalog,
    order: Sequence[str],
    states: Mapping[str, str],
    *,
    state_dir: Path,
    log_path: Path | None,
    journal_path: Path,
    errors: Mapping[str, str] | None = None,
    secrets_path: Path | None = None,
    vault_keys: Path | None = None,
    retry: Sequence[str] = (),
) -> Handover:
    """`order`: the components to report, in plan order; `states`: each one's state
    (done, failed, blocked, installed, waiting, …); `errors`: why a failed one failed;
    `vault_keys`: where the vault installer wrote the keys, when it wrote them to a file."""
    domain = spec.cluster.domain
    control = spec.control
    login_of = logins(spec)
    services = []
    for cid in order:
        component = catalog[cid]
        urls = component.urls(domain)
        login = login_of.get(cid)
        if not urls and login is None:
            continue
        if login is not None:
            user, command = login.user, secret_command(component.namespace, login.secret, login.password_key)
        elif cid == "vault":
            user, command = "root token", "in the Vault keys file (below)" if vault_keys else "printed once at install"
        elif component.sso:
            user, command = "sign in with Keycloak (SSO)", ""
        else:
            user, command = "", ""
        vault = ""
        if vault_keys is not None and (login is not None or component.sso):  # the install kept Vault's token
            from .installers.support.vault_kv import path_of

            vault = path_of(cid)
        services.append(Service(cid, component.title, states.get(cid, "waiting"), urls, user, command, vault))

    answering = [s for s in services if s.state in SIGNED_IN]
    hostnames = [url.removeprefix("https://") for s in answering for url in s.urls]
    dns = [f"*.{domain}  A  {spec.cluster.ingress_ip}   (every service's name; ingress)"]
    if "knative" in order:
        dns.append(f"*.kn.{domain}  A  {spec.cluster.ingress_kn_ip}   (Knative services; the second ingress)")
    hosts = [f"{spec.cluster.ingress_ip} {' '.join(hostnames)}"] if hostnames else []

    ssh = ssh_command(control.user, control.host, control.port)
    files = [("Install log", shown_path(log_path)) if log_path else None, ("Install journal", shown_path(journal_path))]
    if secrets_path is not None:
        files.append(("Secrets you entered (0600)", shown_path(secrets_path)))
    files.append(("State directory", shown_path(state_dir)))
    problems = []
    for cid in order:
        state = states.get(cid, "waiting")
        if state == "failed":
            problems.append((cid, f"failed: {(errors or {}).get(cid) or 'see the install log'}"))
        elif state == "blocked":
            problems.append((cid, "waits for a component that failed"))
        elif state in ("waiting", "cancelled", "running"):
            problems.append((cid, "not run (the install stopped before it)"))
        elif state == "skipped":
            problems.append((cid, "skipped"))
    return Handover(
        cluster=spec.cluster.name,
        domain=domain,
        control_ssh=ssh,
        services=tuple(services),
        states=tuple((cid, states.get(cid, "waiting")) for cid in order),
        problems=tuple(problems),
        dns=tuple(dns),
        hosts_lines=tuple(hosts),
        kubeconfig=f"{ssh} microk8s config > ~/.kube/{spec.cluster.name}.yaml",
        vault_keys=vault_keys,
        files=tuple(f for f in files if f is not None),
        retry=tuple(retry) if problems else (),
    )


def render(handover: Handover) -> str:
    """The handover as Markdown (it reads as plain text too): one text for every face."""
    h = handover
    total = len(h.states)
    out = [f"# {h.cluster} ({h.domain})", ""]
    out.append(f"{h.installed} of {plural(total, 'component')} installed.")
    if h.problems:
        out += ["", "## Not installed", ""]
        out += [f"- {cid}: {why}" for cid, why in h.problems]
        if h.retry:
            out += ["", "To retry (finished steps are not repeated):", ""]
            out += [f"    {command}" for command in h.retry]
    out += ["", "## Services", "", f"Commands run on the control node: `{h.control_ssh}`", ""]
    for s in h.services:
        mark = "" if s.state in SIGNED_IN else f" ({s.state})"
        out.append(f"- **{s.title}**{mark}: {' '.join(s.urls) or 'no web address'}")
        if s.user:
            out.append(f"  - user: {s.user}")
        if s.command.startswith("microk8s"):
            out.append(f"  - password: `{s.command}`")
        elif s.command:
            out.append(f"  - {s.user}: {s.command}")
        if s.vault:
            out.append(f"  - a copy in Vault KV: `{s.vault}` (with the root token of the Vault keys file)")
    if h.vault_keys is not None:
        out += [
            "",
            "## Vault",
            "",
            f"Unseal keys and root token: `{shown_path(h.vault_keys)}` (mode 0600). Move this file somewhere safe "
            "(a password manager or an offline copy) and delete it here: whoever reads it owns Vault.",
        ]
    out += ["", "## DNS", "", "Create these records in your DNS:", ""]
    out += [f"    {line}" for line in h.dns]
    if h.hosts_lines:
        out += ["", "Without DNS (a lab), add to /etc/hosts on the machines that use the services:", ""]
        out += [f"    {line}" for line in h.hosts_lines]
    out += ["", "## kubectl from your machine", "", f"    {h.kubeconfig}", ""]
    out += ["## Files", ""]
    out += [f"- {what}: `{path}`" for what, path in h.files]
    out += ["", "## Components", ""]
    out += [f"- {cid}: {state}" for cid, state in h.states]
    return "\n".join(out) + "\n"


def export_path(state_dir: Path, log_path: Path | None) -> Path:
    """Where `e` saves the handover: beside the log it belongs to (`summary-<run>.md`)."""
    stem = log_path.stem.removeprefix("install-") if log_path is not None else "last"
    return state_dir / f"summary-{stem}.md"
