"""cert-manager: Issuers / ClusterIssuers (selfSigned, ca) and Certificates turn Ready; each
Certificate gets its `kubernetes.io/tls` Secret with FAKE PEM blocks that say they are lab
stand-ins. ACME issuers stay not Ready: the lab has no internet."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from .base import (
    CM_API,
    ControllerApi,
    Obj,
    b64,
    cond,
    go_duration,
    has_condition,
    pem,
)


def reconcile(ctl: ControllerApi) -> None:
    release = ctl.release_ready("cert-manager")
    if release is None:
        return
    resource_ns = release["namespace"]  # the "cluster resource namespace" of ClusterIssuers
    issuers: dict[tuple[str, str, str], Obj] = {}
    for kind in ("ClusterIssuer", "Issuer"):
        for issuer in ctl.list(CM_API, kind):
            meta = issuer["metadata"]
            key = f"cm/{kind}/{meta.get('namespace', '')}/{meta['name']}/{meta.get('generation')}"
            if ctl.after(key, "issuer"):
                secret_ns = meta.get("namespace") or resource_ns
                status, reason, message = _issuer_state(ctl, issuer, secret_ns)
                conds = [
                    cond(
                        (issuer.get("status") or {}).get("conditions"),
                        "Ready",
                        status,
                        reason,
                        message,
                        meta.get("generation"),
                    )
                ]
                ctl.set_status(issuer, {"conditions": conds}, "cert-manager-issuers")
                issuer = ctl.get(CM_API, kind, meta["name"], meta.get("namespace")) or issuer
            issuers[(kind, meta.get("namespace", ""), meta["name"])] = issuer
    for cert in ctl.list(CM_API, "Certificate"):
        _certificate(ctl, cert, issuers, resource_ns)


def _issuer_state(ctl: ControllerApi, issuer: Obj, secret_ns: str) -> tuple[str, str, str]:
    spec = issuer.get("spec") or {}
    if "selfSigned" in spec:
        return "True", "IsReady", ""
    if "ca" in spec:
        name = (spec["ca"] or {}).get("secretName", "")
        secret = ctl.get("v1", "Secret", name, secret_ns)
        if secret is None:
            return "False", "ErrGetKeyPair", f'Error getting keypair for CA issuer: secrets "{name}" not found'
        if not {"tls.crt", "tls.key"} <= set(secret.get("data") or {}):
            return "False", "ErrInvalidKeyPair", "Error getting keypair for CA issuer: no tls.crt / tls.key"
        return "True", "KeyPairVerified", "Signing CA verified"
    if "acme" in spec:
        server = (spec["acme"] or {}).get("server", "the ACME server")
        return (
            "False",
            "ErrRegisterACMEAccount",
            f"Failed to register ACME account: thinkube-lab: the simulated cluster has no internet "
            f"and cannot reach {server}",
        )
    return "False", "NotSimulated", f"thinkube-lab: issuer type {', '.join(spec) or '(none)'} is not simulated"


def _certificate(ctl: ControllerApi, cert: Obj, issuers: Mapping[tuple[str, str, str], Obj], resource_ns: str) -> None:
    meta, spec = cert["metadata"], cert.get("spec") or {}
    ns = meta["namespace"]
    ref = spec.get("issuerRef") or {}
    kind = ref.get("kind", "Issuer")
    issuer = issuers.get((kind, ns if kind == "Issuer" else "", ref.get("name", "")))
    old_conds = (cert.get("status") or {}).get("conditions")
    gen = meta.get("generation")
    secret_name = spec.get("secretName", "")
    fingerprint = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    secret = ctl.get("v1", "Secret", secret_name, ns)
    issued = (
        secret is not None
        and (secret["metadata"].get("annotations") or {}).get("thinkube-lab/certificate-spec") == fingerprint
    )
    if not issued:
        if issuer is None or not has_condition(issuer, "Ready"):
            why = f"{kind} {ref.get('name')} not found" if issuer is None else f"{kind} {ref.get('name')} is not Ready"
            ctl.set_status(
                cert,
                {
                    "conditions": [
                        cond(
                            old_conds,
                            "Ready",
                            "False",
                            "DoesNotExist",
                            f"Issuing certificate as Secret does not exist; {why}",
                            gen,
                        ),
                        cond(
                            old_conds,
                            "Issuing",
                            "True",
                            "DoesNotExist",
                            "Issuing certificate as Secret does not exist",
                            gen,
                        ),
                    ]
                },
                "cert-manager-certificates-trigger",
            )
            return
        if not ctl.after(f"cm/Certificate/{ns}/{meta['name']}/{fingerprint}", "certificate"):
            return
        _issue(ctl, cert, issuer, fingerprint, resource_ns)
    now = datetime.now(UTC)
    duration = go_duration(spec.get("duration", "2160h"))
    renew = go_duration(spec.get("renewBefore", "720h")) if spec.get("renewBefore") else duration / 3
    status = cert.get("status") or {}
    not_before = status.get("notBefore") if issued and status.get("notBefore") else now.strftime("%Y-%m-%dT%H:%M:%SZ")
    nb = datetime.strptime(not_before, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    ctl.set_status(
        cert,
        {
            "conditions": [
                cond(old_conds, "Ready", "True", "Ready", "Certificate is up to date and has not expired", gen)
            ],
            "notBefore": not_before,
            "notAfter": (nb + timedelta(seconds=duration)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "renewalTime": (nb + timedelta(seconds=duration - renew)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "revision": int(status.get("revision") or 0) + (0 if issued else 1),
        },
        "cert-manager-certificates-readiness",
    )


def _issue(ctl: ControllerApi, cert: Obj, issuer: Obj, fingerprint: str, resource_ns: str) -> None:
    meta, spec = cert["metadata"], cert.get("spec") or {}
    ispec, imeta = issuer.get("spec") or {}, issuer["metadata"]
    names = list(spec.get("dnsNames") or [])
    cn = spec.get("commonName") or (names[0] if names else meta["name"])
    lines = [
        f"subject: CN={cn}",
        f"dnsNames: {', '.join(names) or '-'}",
        f"ipAddresses: {', '.join(spec.get('ipAddresses') or []) or '-'}",
        f"isCA: {bool(spec.get('isCA'))}",
        f"issuer: {issuer['kind']}/{imeta['name']}",
        f"serial: {secrets.token_hex(8)}",
    ]
    crt = pem("CERTIFICATE", lines)
    key = pem(
        "PRIVATE KEY",
        [
            f"key of {meta['namespace']}/{meta['name']}",
            f"algorithm: {(spec.get('privateKey') or {}).get('algorithm', 'RSA')}",
        ],
    )
    data = {"tls.crt": b64(crt), "tls.key": b64(key)}
    if "selfSigned" in ispec:
        data["ca.crt"] = data["tls.crt"]
    elif "ca" in ispec:
        ca_secret = (
            ctl.get("v1", "Secret", ispec["ca"].get("secretName", ""), imeta.get("namespace") or resource_ns) or {}
        )
        ca = (ca_secret.get("data") or {}).get("tls.crt")
        if ca:
            data["ca.crt"] = ca
            data["tls.crt"] = b64(crt + base64.b64decode(ca).decode())  # the chain, as cert-manager writes it
    annotations = {
        "cert-manager.io/certificate-name": meta["name"],
        "cert-manager.io/issuer-name": imeta["name"],
        "cert-manager.io/issuer-kind": issuer["kind"],
        "cert-manager.io/issuer-group": "cert-manager.io",
        "cert-manager.io/common-name": cn,
        "cert-manager.io/alt-names": ",".join(names),
        "thinkube-lab/certificate-spec": fingerprint,
    }
    template = spec.get("secretTemplate") or {}
    ctl.ensure(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {
                "name": spec.get("secretName"),
                "namespace": meta["namespace"],
                "labels": {"controller.cert-manager.io/fao": "true", **(template.get("labels") or {})},
                "annotations": {**(template.get("annotations") or {}), **annotations},
            },
            "data": data,
        },
        "cert-manager-certificates-issuing",
    )
