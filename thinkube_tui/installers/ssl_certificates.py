"""5.10 TLS certificates: the cluster's ClusterIssuer and the wildcard certificate.

Follows `cluster.certificates` (cert-manager API: https://cert-manager.io/docs/reference/api-docs/):
- `self-signed`: a bootstrap `selfSigned` ClusterIssuer signs a CA Certificate (isCA) kept in
  cert-manager's namespace; the `ca` ClusterIssuer `thinkube-ca` signs everything else with it
  (https://cert-manager.io/docs/configuration/selfsigned/#bootstrapping-ca-issuers).
- `letsencrypt-staging` / `letsencrypt`: an ACME ClusterIssuer on Let's Encrypt's staging or
  production directory, account e-mail `cluster.adminEmail`
  (https://cert-manager.io/docs/configuration/acme/), solving HTTP-01 through the `nginx`
  ingress class (https://cert-manager.io/docs/configuration/acme/http01/) or DNS-01 through
  the configured provider (https://cert-manager.io/docs/configuration/acme/dns01/). Provider
  credentials are resolved from their secret references and written into a Kubernetes Secret
  through the API: never on a command line, never in the log.

Then, when `wildcard` is on, the Certificate `*.{domain}` + `{domain}` into the Secret
`ingress/thinkube-wildcard-tls`, which both ingress controllers already name as their default
certificate (they serve nginx's fake certificate until it exists).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..engine import InstallError
from ..secrets import MissingSecret
from ..spec import SecretRef
from .base import InstallContext
from .support.net import WILDCARD_CERTIFICATE, WILDCARD_NAMESPACE, WILDCARD_SECRET
from .support.objects import condition, ensure, ensure_namespace, wait

CM = "cert-manager.io/v1"
ACME_SERVERS = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
}
SELF_SIGNED_ISSUER = "thinkube-selfsigned"
CA_ISSUER = "thinkube-ca"
CA_SECRET = "thinkube-ca"
DNS01_SECRET = "thinkube-dns01-credentials"
ISSUER_TIMEOUT_S = 300
CERTIFICATE_TIMEOUT_S = {"self-signed": 300, "letsencrypt-staging": 900, "letsencrypt": 900}


def issuer_name(certificates: str) -> str:
    """The ClusterIssuer other components put in their Ingress annotations."""
    return CA_ISSUER if certificates == "self-signed" else certificates


async def install(ctx: InstallContext) -> None:
    mode = ctx.spec.cluster.certificates
    config = ctx.config
    namespace = ctx.component.namespace  # cert-manager's: ClusterIssuers read their Secrets here
    issuer = issuer_name(mode)
    wildcard = bool(config["wildcard"])
    if mode != "self-signed" and wildcard and config["challenge"] == "http01":
        raise InstallError(
            f"a wildcard certificate (*.{ctx.spec.cluster.domain}) can only be issued with the "
            "DNS-01 challenge: set components.ssl-certificates.challenge to dns01 (with a dns01 "
            "provider), or wildcard to false to let every service get its own certificate over HTTP-01"
        )

    if mode == "self-signed":
        await ctx.step("create the self-signed CA", lambda: _self_signed_ca(ctx, namespace))
    else:
        await ctx.step(f"create the Let's Encrypt issuer {issuer}", lambda: _acme_issuer(ctx, namespace, issuer))

    # Verify the issuer before asking it for certificates.
    await wait(
        ctx,
        CM,
        "ClusterIssuer",
        issuer,
        None,
        condition,
        timeout=ISSUER_TIMEOUT_S,
        what=f"ClusterIssuer {issuer}",
        hint=f"see `microk8s kubectl describe clusterissuer {issuer}`"
        + (" (the ACME account registration needs internet access)" if mode != "self-signed" else ""),
    )
    ctx.log(f"ClusterIssuer {issuer} is Ready")

    if not wildcard:
        ctx.log("wildcard certificate turned off: each service asks the issuer for its own certificate")
        return
    await ctx.step(f"request the wildcard certificate *.{ctx.spec.cluster.domain}", lambda: _wildcard(ctx, issuer))
    certificate = await wait(
        ctx,
        CM,
        "Certificate",
        WILDCARD_CERTIFICATE,
        WILDCARD_NAMESPACE,
        condition,
        timeout=CERTIFICATE_TIMEOUT_S[mode],
        what=f"Certificate {WILDCARD_NAMESPACE}/{WILDCARD_CERTIFICATE}",
        hint=f"see `microk8s kubectl -n {WILDCARD_NAMESPACE} describe certificate {WILDCARD_CERTIFICATE}` "
        "and its CertificateRequest/Order/Challenge",
    )
    await wait(
        ctx,
        "v1",
        "Secret",
        WILDCARD_SECRET,
        WILDCARD_NAMESPACE,
        lambda obj: bool((obj.get("data") or {}).get("tls.crt")),
        timeout=60,
        what=f"Secret {WILDCARD_NAMESPACE}/{WILDCARD_SECRET} with the certificate",
        hint=f"Certificate {WILDCARD_CERTIFICATE} is Ready, so cert-manager should have written it",
    )
    expiry = certificate.get("status", {}).get("notAfter")
    ctx.log(
        f"Secret {WILDCARD_NAMESPACE}/{WILDCARD_SECRET} holds the wildcard certificate"
        + (f" (valid until {expiry})" if expiry else "")
    )


# ---------------------------------------------------------------- issuers


def self_signed_objects(ctx: InstallContext, namespace: str) -> list[dict[str, Any]]:
    name = ctx.spec.cluster.name
    return [
        {
            "apiVersion": CM,
            "kind": "ClusterIssuer",
            "metadata": {"name": SELF_SIGNED_ISSUER},
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": CM,
            "kind": "Certificate",
            "metadata": {"name": CA_SECRET, "namespace": namespace},
            "spec": {
                "isCA": True,
                "commonName": f"{name} CA",
                "subject": {"organizations": [name]},
                "secretName": CA_SECRET,
                "duration": "87600h",  # 10 years: the CA operators import into their browsers
                "renewBefore": "720h",
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {"name": SELF_SIGNED_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"},
            },
        },
        {
            "apiVersion": CM,
            "kind": "ClusterIssuer",
            "metadata": {"name": CA_ISSUER},
            "spec": {"ca": {"secretName": CA_SECRET}},
        },
    ]


async def _self_signed_ca(ctx: InstallContext, namespace: str) -> None:
    objects = self_signed_objects(ctx, namespace)
    await ensure(ctx, objects[0])
    await ensure(ctx, objects[1])
    # The CA issuer turns Ready once cert-manager has written the CA's Secret; the wait after
    # this step covers both.
    await ensure(ctx, objects[2])


def _secret_data(values: Mapping[str, str]) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}


def _resolve(ctx: InstallContext, ref: Any, key: str) -> str:
    where = f"components.ssl-certificates.dns01.{key}"
    if not isinstance(ref, SecretRef):
        raise InstallError(f"{where} is required for this DNS provider: give it as {{env: NAME}} or {{secret: KEY}}")
    try:
        return ctx.cluster.secrets.resolve(ref, where)
    except MissingSecret as exc:
        raise InstallError(str(exc)) from None


def dns01_solver(ctx: InstallContext) -> tuple[dict[str, Any], dict[str, str]]:
    """(the solver's dns01 block, the credentials Secret's values) for the configured provider."""
    dns = ctx.config["dns01"]
    provider = dns["provider"]

    def ref(key: str) -> dict[str, str]:
        return {"name": DNS01_SECRET, "key": key}

    def need(key: str) -> str:
        value = dns.get(key)
        if not value:
            raise InstallError(f"components.ssl-certificates.dns01.{key} is required for provider {provider}")
        return str(value)

    if provider == "cloudflare":
        token = _resolve(ctx, dns.get("apiToken"), "apiToken")
        return {"cloudflare": {"apiTokenSecretRef": ref("api-token")}}, {"api-token": token}
    if provider == "digitalocean":
        token = _resolve(ctx, dns.get("apiToken"), "apiToken")
        return {"digitalocean": {"tokenSecretRef": ref("access-token")}}, {"access-token": token}
    if provider == "google":
        block: dict[str, Any] = {"project": need("project"), "serviceAccountSecretRef": ref("key.json")}
        return {"cloudDNS": block}, {"key.json": _resolve(ctx, dns.get("apiToken"), "apiToken")}
    if provider == "route53":
        block = {
            "region": dns["region"],
            "accessKeyID": need("accessKeyId"),
            "secretAccessKeySecretRef": ref("secret-access-key"),
        }
        if dns.get("hostedZoneId"):
            block["hostedZoneID"] = dns["hostedZoneId"]
        return {"route53": block}, {"secret-access-key": _resolve(ctx, dns.get("secretAccessKey"), "secretAccessKey")}
    if provider == "rfc2136":
        block = {
            "nameserver": need("nameserver"),
            "tsigKeyName": need("tsigKeyName"),
            "tsigAlgorithm": dns["tsigAlgorithm"],
            "tsigSecretSecretRef": ref("tsig-secret"),
        }
        return {"rfc2136": block}, {"tsig-secret": _resolve(ctx, dns.get("tsigSecret"), "tsigSecret")}
    raise InstallError(f"components.ssl-certificates.dns01.provider: unknown provider {provider!r}")


def acme_issuer(ctx: InstallContext, issuer: str, solver: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": CM,
        "kind": "ClusterIssuer",
        "metadata": {"name": issuer},
        "spec": {
            "acme": {
                "server": ACME_SERVERS[ctx.spec.cluster.certificates],
                "email": ctx.spec.cluster.admin_email,
                "privateKeySecretRef": {"name": f"{issuer}-account-key"},
                "solvers": [solver],
            }
        },
    }


async def _acme_issuer(ctx: InstallContext, namespace: str, issuer: str) -> None:
    if ctx.config["challenge"] == "http01":
        solver: dict[str, Any] = {"http01": {"ingress": {"ingressClassName": "nginx"}}}
    else:
        dns01, credentials = dns01_solver(ctx)
        await ensure(
            ctx,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": DNS01_SECRET, "namespace": namespace},
                "data": _secret_data(credentials),
            },
        )
        solver = {"dns01": dns01, "selector": {"dnsZones": [ctx.spec.cluster.domain]}}
    await ensure(ctx, acme_issuer(ctx, issuer, solver))


# ---------------------------------------------------------------- the wildcard certificate


def wildcard_certificate(ctx: InstallContext, issuer: str) -> dict[str, Any]:
    domain = ctx.spec.cluster.domain
    days = int(ctx.config["renewBeforeDays"])
    return {
        "apiVersion": CM,
        "kind": "Certificate",
        "metadata": {"name": WILDCARD_CERTIFICATE, "namespace": WILDCARD_NAMESPACE},
        "spec": {
            "secretName": WILDCARD_SECRET,
            "dnsNames": [f"*.{domain}", domain],
            "duration": "2160h",  # 90 days, Let's Encrypt's lifetime, for every issuer alike
            "renewBefore": f"{days * 24}h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
        },
    }


async def _wildcard(ctx: InstallContext, issuer: str) -> None:
    await ensure_namespace(ctx, WILDCARD_NAMESPACE)
    await ensure(ctx, wildcard_certificate(ctx, issuer))
