"""5.3 CoreDNS: cluster DNS from the official chart, with the Thinkube domain answered inside
the cluster by the ingress addresses.

How the chart and MicroK8s' `dns` addon live together (the addon stays "enabled", nothing
fights):

- kubelets on every node send DNS to the addon's Service `kube-system/kube-dns`
  (10.152.183.10, `--cluster-dns`), which selects pods by `k8s-app: kube-dns`
  (canonical/microk8s-core-addons, addons/dns/coredns.yaml).
- The chart is released as `coredns` with `fullnameOverride: coredns-thinkube`, so none of its
  objects (Deployment, ConfigMap, ServiceAccount, ClusterRole/Binding, its own Service) has
  the name of an addon object: Helm adopts nothing and overwrites nothing.
- `k8sAppLabelOverride: kube-dns` labels the chart's pods `k8s-app: kube-dns`: the addon's
  kube-dns Service, left untouched (same clusterIP, no patch of its ports), sends queries to
  them as soon as they are Ready — alongside the addon's pods, so DNS never goes dark.
- Once the chart's Deployment is rolled out, the addon's Deployment `coredns` is deleted, and
  kube-dns serves only the chart's pods (with the versioned Corefile below).
- `microk8s status` still lists `dns` as enabled: it looks for a pod whose name starts with
  `coredns` (addons.yaml: check_status "pod/coredns"), and the chart's pods are
  `coredns-thinkube-…`. So the control-plane installer never re-enables the addon. Running
  `microk8s enable dns` by hand would bring the addon's Deployment back; running this
  installer again retires it again.

This is the adoption path the chart documents ("Adopting existing CoreDNS resources",
https://github.com/coredns/helm/blob/master/charts/coredns/README.md: k8sAppLabelOverride,
no downtime), minus the Service patch. Corefile plugins: https://coredns.io/plugins/kubernetes/,
https://coredns.io/plugins/forward/, https://coredns.io/plugins/template/ (templates are tried
in order; `fallthrough` moves on to the next one), https://coredns.io/plugins/hosts/,
https://coredns.io/plugins/cache/.

Upstream resolvers: the component's `upstreamServers` when given, else `cluster.dnsResolvers`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..engine import InstallError
from .base import InstallContext, quote
from .support.net import ingress_address
from .support.objects import rollout, wait

RELEASE = "coredns"
FULLNAME = "coredns-thinkube"
DNS_SERVICE = "kube-dns"  # the addon's Service, the kubelets' --cluster-dns
ADDON_DEPLOYMENT = "coredns"
POD_LABEL = "kube-dns"  # k8s-app label the kube-dns Service selects
TTL = 60


def _zone(name: str) -> str:
    return name.rstrip(".") + "."


def _literal(text: str) -> str:
    """A Go regexp matching `text` literally, without backslashes (the Corefile lexer keeps
    unquoted tokens as they are, and brackets read the same everywhere)."""
    return "".join(c if c.isalnum() or c in "-_" else f"[{c}]" for c in text)


def _exact(name: str) -> str:
    return "^" + _literal(_zone(name)) + "$"


def _a_template(zone: str, address: str, match: str | None = None, fallthrough: bool = False) -> dict[str, Any]:
    lines = [f"match {match}"] if match else []
    lines.append(f'answer "{{{{ .Name }}}} {TTL} IN A {address}"')
    if fallthrough:
        lines.append("fallthrough")
    return {"name": "template", "parameters": f"IN A {zone}", "configBlock": "\n".join(lines)}


def upstreams(ctx: InstallContext) -> list[str]:
    return list(ctx.config["upstreamServers"]) or list(ctx.spec.cluster.dns_resolvers)


def servers(ctx: InstallContext) -> list[dict[str, Any]]:
    """The chart's `servers`: the root zone (cluster names, extra hosts, forwarders) and, when
    asked, the Thinkube domain answered with the ingress addresses."""
    config = ctx.config
    domain = ctx.spec.cluster.domain
    cache = int(config["cacheSeconds"])
    extra: Sequence[Mapping[str, str]] = config["extraHosts"]
    in_domain = [h for h in extra if ("." + _zone(h["hostname"])).endswith("." + _zone(domain))]
    outside = [h for h in extra if h not in in_domain]

    root: list[dict[str, Any]] = [
        {"name": "errors"},
        {"name": "health", "configBlock": "lameduck 5s"},
        {"name": "ready"},
        {
            "name": "kubernetes",
            "parameters": f"{config['clusterDomain']} in-addr.arpa ip6.arpa",
            "configBlock": "pods insecure\nfallthrough in-addr.arpa ip6.arpa\nttl 30",
        },
    ]
    if outside:
        root.append(
            {
                "name": "hosts",
                "configBlock": "\n".join(
                    [f"{h['ip']} {h['hostname']}" for h in outside] + [f"ttl {TTL}", "fallthrough"]
                ),
            }
        )
    root += [
        {"name": "prometheus", "parameters": "0.0.0.0:9153"},
        {"name": "forward", "parameters": ". " + " ".join(upstreams(ctx))},
        {"name": "cache", "parameters": str(cache)},
        {"name": "loop"},
        {"name": "reload"},
        {"name": "loadbalance"},
    ]
    out = [{"zones": [{"zone": ".", "use_tcp": True}], "port": 53, "plugins": root}]
    if not config["resolveDomainInCluster"]:
        return out

    zone = _zone(domain)
    knative = ctx.spec.components.get("knative")
    kn_suffix = knative.config["domainSuffix"] if knative is not None else "kn"
    kn_zone = _zone(f"{kn_suffix}.{domain}")
    plugins: list[dict[str, Any]] = [{"name": "errors"}]
    # Templates are tried in order: extra hosts first, then Knative's subdomain, then the rest.
    plugins += [_a_template(zone, h["ip"], _exact(h["hostname"]), fallthrough=True) for h in in_domain]
    plugins.append(
        _a_template(
            zone, ingress_address(ctx.spec, "ingress-kn"), "(^|[.])" + _literal(kn_zone) + "$", fallthrough=True
        )
    )
    plugins.append(_a_template(zone, ingress_address(ctx.spec, "ingress")))
    # IPv4 only: other types get an empty answer instead of a failure.
    plugins.append({"name": "template", "parameters": f"IN ANY {zone}", "configBlock": "rcode NOERROR"})
    plugins.append({"name": "cache", "parameters": str(cache)})
    out.append({"zones": [{"zone": zone, "use_tcp": True}], "port": 53, "plugins": plugins})
    return out


def values(ctx: InstallContext) -> dict[str, Any]:
    """Chart values (https://github.com/coredns/helm/blob/master/charts/coredns/values.yaml)."""
    return {
        "fullnameOverride": FULLNAME,
        "replicaCount": int(ctx.config["replicas"]),
        "isClusterService": True,
        "k8sAppLabelOverride": POD_LABEL,
        "serviceAccount": {"create": True},
        "priorityClassName": "system-cluster-critical",
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        "servers": servers(ctx),
    }


def render_corefile(server_list: Sequence[Mapping[str, Any]]) -> str:
    """The Corefile the chart renders from `servers` (templates/configmap.yaml), for checks,
    tests and the docs."""
    blocks = []
    for server in server_list:
        zones = " ".join(f"{z.get('scheme', '')}{z.get('zone', '.')}" for z in server.get("zones") or [{}])
        lines = [f"{zones}:{server.get('port', 53)} {{"]
        for plugin in server.get("plugins", []):
            head = "    " + plugin["name"] + (f" {plugin['parameters']}" if plugin.get("parameters") else "")
            if plugin.get("configBlock"):
                body = "\n".join("        " + line for line in str(plugin["configBlock"]).splitlines())
                lines.append(f"{head} {{\n{body}\n    }}")
            else:
                lines.append(head)
        lines.append("}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"


def corefile_problems(
    corefile: str, *, domain: str, ingress_ip: str, resolvers: Sequence[str], resolve_domain: bool
) -> list[str]:
    """What the deployed Corefile lacks, read loosely (whitespace and block layout may differ)."""
    problems = []
    forward = re.search(r"^\s*forward\s+\.\s+([^{\n]*)", corefile, re.M)
    if forward is None or not set(resolvers) <= set(forward.group(1).split()):
        problems.append(f"no `forward . {' '.join(resolvers)}`")
    if resolve_domain:
        if not re.search(rf"^\s*{re.escape(_zone(domain))}?(:53)?\s*{{", corefile, re.M):
            problems.append(f"no server block for {domain}")
        if f"IN A {ingress_ip}" not in corefile:
            problems.append(f"no answer with the ingress address {ingress_ip}")
    return problems


async def install(ctx: InstallContext) -> None:
    namespace = ctx.component.namespace
    wanted = values(ctx)
    await ctx.step("install CoreDNS (Helm) beside the dns addon", lambda: ctx.helm(wanted, release=RELEASE))
    await rollout(ctx, "Deployment", FULLNAME, namespace, timeout=300)
    await ctx.step("retire the dns addon's own CoreDNS Deployment", lambda: _retire_addon(ctx, namespace))

    # Verify: the Corefile in the cluster says what we asked; kube-dns sends queries to our
    # pods; and, where the control node has `dig`, a real lookup through kube-dns.
    domain, ingress_ip = ctx.spec.cluster.domain, ingress_address(ctx.spec, "ingress")
    resolve_domain = bool(ctx.config["resolveDomainInCluster"])

    def problems(configmap: Mapping[str, Any]) -> list[str]:
        corefile = (configmap.get("data") or {}).get("Corefile")
        if corefile is None:
            return ["no Corefile"]
        return corefile_problems(
            corefile, domain=domain, ingress_ip=ingress_ip, resolvers=upstreams(ctx), resolve_domain=resolve_domain
        )

    try:
        await wait(
            ctx,
            "v1",
            "ConfigMap",
            FULLNAME,
            namespace,
            lambda obj: not problems(obj),
            timeout=60,
            what=f"ConfigMap {namespace}/{FULLNAME} with the Corefile",
        )
    except InstallError:
        kube = await ctx.kube()
        live = await kube.get("v1", "ConfigMap", FULLNAME, namespace)
        found = "; ".join(problems(live)) if live is not None else "it does not exist"
        raise InstallError(
            f"the deployed Corefile (ConfigMap {namespace}/{FULLNAME}) is not as asked: {found}"
        ) from None

    def serves_ours(service: Mapping[str, Any]) -> bool:
        return bool((service.get("spec", {}).get("selector") or {}).get("k8s-app") == POD_LABEL)

    service = await wait(
        ctx,
        "v1",
        "Service",
        DNS_SERVICE,
        namespace,
        serves_ours,
        timeout=60,
        what=f"Service {namespace}/{DNS_SERVICE} selecting k8s-app={POD_LABEL}",
        hint="the kubelets send DNS to this Service; is MicroK8s' dns addon enabled (`microk8s status`)?",
    )
    dns_ip = service.get("spec", {}).get("clusterIP")
    ctx.log(f"Service {DNS_SERVICE} ({dns_ip or 'its cluster address'}) is served by {FULLNAME}")
    if resolve_domain and dns_ip:
        await _lookup(ctx, dns_ip, f"auth.{domain}", ingress_ip)


async def _retire_addon(ctx: InstallContext, namespace: str) -> None:
    kube = await ctx.kube()
    addon = await kube.get("apps/v1", "Deployment", ADDON_DEPLOYMENT, namespace)
    if addon is None:
        ctx.log("the dns addon's Deployment is already gone")
        return
    if (addon.get("metadata", {}).get("annotations") or {}).get("meta.helm.sh/release-name"):
        ctx.log(f"Deployment {ADDON_DEPLOYMENT} belongs to a Helm release: left alone")
        return
    await kube.delete("apps/v1", "Deployment", ADDON_DEPLOYMENT, namespace)
    ctx.log(
        f"deleted the dns addon's Deployment {namespace}/{ADDON_DEPLOYMENT}; {DNS_SERVICE} now reaches {FULLNAME} only"
    )


async def _lookup(ctx: InstallContext, server: str, name: str, expected: str) -> None:
    """`dig` through kube-dns on the control node (the node routes Service addresses)."""
    has_dig = await ctx.run(ctx.control, "command -v dig", check=False, quiet=True, timeout=30)
    if not has_dig.ok or not has_dig.stdout.strip():
        ctx.log("dig is not installed on the control node: checked the Corefile, not a live lookup")
        return
    command = f"dig +short +time=2 +tries=5 @{quote(server)} {quote(name)} A"
    result = await ctx.run(ctx.control, command, check=False, timeout=60)
    answers = result.stdout.split()
    if expected not in answers:
        raise InstallError(
            f"{name} resolved through {server} to {', '.join(answers) or 'nothing'}, "
            f"not the ingress address {expected}",
            node=ctx.control.name,
            output_tail=result.tail(),
        )
    ctx.log(f"{name} -> {expected} through {server}")
