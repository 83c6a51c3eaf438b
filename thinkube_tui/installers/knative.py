"""5.14 Knative Serving: the Knative Operator chart, a `KnativeServing` object, published through
the `nginx-kn` ingress controller.

Networking layer. Knative routes requests through a networking plugin (net-kourier,
net-istio, net-contour, net-gateway-api); there is no ingress-nginx plugin, so the `nginx-kn`
controller cannot be Knative's ingress class itself. The operator's built-in Kourier is the
lightest choice (an Envoy gateway, no service mesh): `spec.ingress.kourier.enabled`,
`config.network.ingress-class: kourier.ingress.networking.knative.dev`, and its Service
`kourier` as ClusterIP. nginx-kn then fronts Kourier: one Ingress of class `nginx-kn` for the
wildcard host `*.<domainSuffix>.<domain>` -> Service `knative-serving/kourier:80`; Kourier
routes by Host header to the revision (or the activator when scaled to zero).

Names and TLS. Services are published as `<name>-<namespace>.kn.<domain>`
(`config.network.domain-template: {{.Name}}-{{.Namespace}}.{{.Domain}}`,
`config.domain: {kn.<domain>: ""}`): one DNS level below `kn.<domain>`, so a single wildcard
certificate `*.kn.<domain>` covers every service (the platform's `*.<domain>` cannot: a
wildcard matches one label). With `autoTls` that certificate is a cert-manager Certificate from
the platform's ClusterIssuer (`thinkube-ca` or Let's Encrypt via DNS-01), terminated at nginx-kn.
Knative's own per-service certificates (net-certmanager, `external-domain-tls`) would need TLS
passthrough through nginx-kn, which that controller does not enable; the wildcard gives the
same HTTPS without it.

Autoscaling: `config.autoscaler.enable-scale-to-zero` / `scale-to-zero-grace-period`.
Eventing (`eventing: true`): a `KnativeEventing` object in `knative-eventing`.

Verified: the operator's Deployments rolled out, KnativeServing (and KnativeEventing) Ready,
the wildcard Certificate Ready.

Docs: https://knative.dev/docs/install/operator/knative-with-operators/ (Helm chart, KnativeServing),
https://knative.dev/docs/install/operator/configuring-serving-cr/ (spec.config, spec.ingress.kourier,
service-type), https://knative.dev/docs/serving/using-a-custom-domain/ (config-domain),
https://knative.dev/docs/serving/configuration/config-network/ (domain-template, ingress-class).
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .ssl_certificates import CERTIFICATE_TIMEOUT_S, issuer_name
from .support.objects import MANAGED_BY, condition, ensure, ensure_namespace, rollout, wait
from .support.uninstall import helm_release_gone, namespace_gone

OPERATOR_API = "operator.knative.dev/v1beta1"
OPERATOR_NAMESPACE = "knative-operator"
OPERATOR_RELEASE = "knative-operator"
OPERATOR_DEPLOYMENTS = ("knative-operator", "operator-webhook")
SERVING = "knative-serving"
EVENTING_NAMESPACE = "knative-eventing"
KOURIER_CLASS = "kourier.ingress.networking.knative.dev"
KOURIER_SERVICE = "kourier"
INGRESS_CLASS = "nginx-kn"
CERTIFICATE = "knative-wildcard"
CERT_SECRET = "knative-wildcard-tls"
READY_TIMEOUT_S = 900


def kn_domain(ctx: InstallContext) -> str:
    return f"{ctx.config['domainSuffix']}.{ctx.spec.cluster.domain}"


def serving_object(ctx: InstallContext) -> dict[str, Any]:
    c = ctx.config
    return {
        "apiVersion": OPERATOR_API,
        "kind": "KnativeServing",
        "metadata": {"name": SERVING, "namespace": ctx.component.namespace},
        "spec": {
            "ingress": {"kourier": {"enabled": True, "service-type": "ClusterIP"}},
            "config": {
                "network": {"ingress-class": KOURIER_CLASS, "domain-template": "{{.Name}}-{{.Namespace}}.{{.Domain}}"},
                "domain": {kn_domain(ctx): ""},
                "autoscaler": {
                    "enable-scale-to-zero": "true" if c["scaleToZero"] else "false",
                    "scale-to-zero-grace-period": str(c["scaleToZeroGracePeriod"]),
                },
            },
        },
    }


def certificate(ctx: InstallContext) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": CERTIFICATE, "namespace": ctx.component.namespace},
        "spec": {
            "secretName": CERT_SECRET,
            "dnsNames": [f"*.{kn_domain(ctx)}"],
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {
                "name": issuer_name(ctx.spec.cluster.certificates),
                "kind": "ClusterIssuer",
                "group": "cert-manager.io",
            },
        },
    }


def wildcard_ingress(ctx: InstallContext) -> dict[str, Any]:
    host = f"*.{kn_domain(ctx)}"
    spec: dict[str, Any] = {
        "ingressClassName": INGRESS_CLASS,
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": KOURIER_SERVICE, "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    }
    if ctx.config["autoTls"]:
        # the *.kn.<domain> certificate: the controllers' default *.{domain} one cannot match two labels
        spec["tls"] = [{"hosts": [host], "secretName": CERT_SECRET}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "knative-services",
            "namespace": ctx.component.namespace,
            "labels": dict(MANAGED_BY),
            # long-lived streams (server-sent events, websockets) through to Kourier
            "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"},
        },
        "spec": spec,
    }


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step(
        "install the Knative Operator chart",
        lambda: ctx.helm({}, release=OPERATOR_RELEASE, namespace=OPERATOR_NAMESPACE, timeout_s=600),
    )
    for name in OPERATOR_DEPLOYMENTS:
        await rollout(ctx, "Deployment", name, OPERATOR_NAMESPACE, timeout=600)

    async def serving() -> None:
        await ensure_namespace(ctx, ns)
        await ensure(ctx, serving_object(ctx))

    await ctx.step(f"declare Knative Serving (Kourier, *.{kn_domain(ctx)})", serving)
    if ctx.config["autoTls"]:
        await ctx.step(f"the certificate *.{kn_domain(ctx)}", lambda: ensure(ctx, certificate(ctx)))
    await ctx.step(f"publish *.{kn_domain(ctx)} through {INGRESS_CLASS}", lambda: ensure(ctx, wildcard_ingress(ctx)))
    if ctx.config["eventing"]:

        async def eventing() -> None:
            await ensure_namespace(ctx, EVENTING_NAMESPACE)
            await ensure(
                ctx,
                {
                    "apiVersion": OPERATOR_API,
                    "kind": "KnativeEventing",
                    "metadata": {"name": "knative-eventing", "namespace": EVENTING_NAMESPACE},
                    "spec": {},
                },
            )

        await ctx.step("declare Knative Eventing", eventing)

    # Verify
    await wait(
        ctx,
        OPERATOR_API,
        "KnativeServing",
        SERVING,
        ns,
        lambda o: condition(o, "Ready"),
        timeout=READY_TIMEOUT_S,
        what=f"KnativeServing {ns}/{SERVING} Ready",
        hint=f"see `microk8s kubectl -n {ns} describe knativeserving {SERVING}`",
    )
    ctx.log(f"KnativeServing {ns}/{SERVING} is Ready")
    if ctx.config["eventing"]:
        await wait(
            ctx,
            OPERATOR_API,
            "KnativeEventing",
            "knative-eventing",
            EVENTING_NAMESPACE,
            lambda o: condition(o, "Ready"),
            timeout=READY_TIMEOUT_S,
            what=f"KnativeEventing {EVENTING_NAMESPACE}/knative-eventing Ready",
        )
    if ctx.config["autoTls"]:
        mode = ctx.spec.cluster.certificates
        await wait(
            ctx,
            "cert-manager.io/v1",
            "Certificate",
            CERTIFICATE,
            ns,
            lambda o: condition(o, "Ready"),
            timeout=CERTIFICATE_TIMEOUT_S[mode],
            what=f"Certificate {ns}/{CERTIFICATE}",
            hint=f"see `microk8s kubectl -n {ns} describe certificate {CERTIFICATE}`"
            + ("" if mode == "self-signed" else " (a Let's Encrypt wildcard needs DNS-01)"),
        )
    scheme = "https" if ctx.config["autoTls"] else "http"
    ctx.log(
        f"Knative services are published at {scheme}://<name>-<namespace>.{kn_domain(ctx)} through "
        f"{INGRESS_CLASS} ({ctx.spec.cluster.ingress_kn_ip}); point *.{kn_domain(ctx)} there in your DNS"
    )


async def uninstall(ctx: InstallContext) -> None:
    """Knative Serving and Eventing are declared away first (the operator removes what they
    run), then the operator's release and the three namespaces."""
    for kind, name, namespace in (
        ("KnativeEventing", "knative-eventing", EVENTING_NAMESPACE),
        ("KnativeServing", SERVING, ctx.component.namespace),
    ):

        async def delete(kind: str = kind, name: str = name, namespace: str = namespace) -> None:
            kube = await ctx.kube()
            if await kube.delete(OPERATOR_API, kind, name, namespace):
                ctx.log(f"{kind} {namespace}/{name} deleted")
            await kube.wait_gone(OPERATOR_API, kind, name, namespace, timeout=600, what=f"{kind} {namespace}/{name}")

        await ctx.step(f"delete {kind} {namespace}/{name}", delete)
    await helm_release_gone(ctx, OPERATOR_RELEASE, OPERATOR_NAMESPACE)
    for namespace in (EVENTING_NAMESPACE, ctx.component.namespace, OPERATOR_NAMESPACE):
        await namespace_gone(ctx, namespace)
