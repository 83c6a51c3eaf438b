"""The platform's own certificate authority (self-signed clusters), for what must trust it.

ssl-certificates issues the CA Certificate `thinkube-ca` in cert-manager's namespace; its
Secret holds the CA certificate (`ca.crt`) and key. Installers copy only the certificate —
public data — to where it is needed: pods (ConfigMap or Secret), nodes' containerd, the API
server's OIDC settings.
"""

from __future__ import annotations

import base64

from ...engine import InstallError
from ..base import InstallContext
from .objects import wait

CA_SECRET = "thinkube-ca"  # ssl-certificates' CA Certificate secretName
CA_KEY = "ca.crt"


def self_signed(ctx: InstallContext) -> bool:
    return ctx.spec.cluster.certificates == "self-signed"


async def cluster_ca(ctx: InstallContext) -> str | None:
    """The CA certificate (PEM) on self-signed clusters, waiting until it is issued; else None
    (Let's Encrypt chains are trusted already)."""
    if not self_signed(ctx):
        return None
    ns = ctx.cluster.catalog["ssl-certificates"].namespace
    secret = await wait(
        ctx,
        "v1",
        "Secret",
        CA_SECRET,
        ns,
        lambda s: bool((s.get("data") or {}).get(CA_KEY) or (s.get("data") or {}).get("tls.crt")),
        timeout=300,
        what=f"the cluster CA in Secret {ns}/{CA_SECRET}",
        hint="the ssl-certificates component issues it; check its Certificate thinkube-ca",
    )
    data = secret.get("data") or {}
    encoded = data.get(CA_KEY) or data.get("tls.crt")
    if not encoded:  # only a dry run answers a wait without the object
        ctx.log(f"the cluster CA in {ns}/{CA_SECRET} could not be read; continuing without it")
        return None
    try:
        return base64.b64decode(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        raise InstallError(f"Secret {ns}/{CA_SECRET} holds no PEM certificate under {CA_KEY}") from None
