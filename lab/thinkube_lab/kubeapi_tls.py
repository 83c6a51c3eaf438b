"""The lab API server's TLS: its own CA, a server certificate, an admin client certificate.

A real MicroK8s node serves its API on https with a CA of its own (`/var/snap/microk8s/current/
certs/ca.crt`), a server certificate whose SANs name the node's addresses, 127.0.0.1 and the
`kubernetes.default...` names, and (since 1.28) an x509 admin client certificate that
`microk8s config` embeds. The lab does the same, so a client's path to the API -- trust in the
kubeconfig's CA, the server's name checked against the certificate, client authentication --
runs as on a real node.

The CA and the admin certificate are kept in the emulator's state directory, so kubeconfigs
stay valid across restarts; the server certificate is issued at every start (its SANs follow
the lab's addresses). Without a state directory all of it lives in memory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE, CA_KEY_FILE = "ca.crt", "ca.key"
ADMIN_FILE, ADMIN_KEY_FILE = "admin.crt", "admin.key"
ADMIN_USER, ADMIN_GROUP = "admin", "system:masters"  # what MicroK8s' client.config authenticates as
# The names every MicroK8s API server certificate carries (csr.conf.template), plus loopback.
SERVICE_IP = "10.152.183.1"  # the `kubernetes` Service in MicroK8s' service CIDR
DNS_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
LOOPBACK = ("127.0.0.1", "localhost")
VALIDITY = datetime.timedelta(days=3650)  # MicroK8s issues its CA and certificates for ten years


@dataclass(frozen=True)
class Issued:
    cert_pem: bytes
    key_pem: bytes


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())  # fast to make and to handshake with


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for n in dict.fromkeys(names):  # keep order, drop repeats
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            entries.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(entries)


class LabCA:
    """The lab's certificate authority (one per API server, like MicroK8s' per-cluster CA)."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey):
        self.cert, self._key = cert, key
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def create(cls) -> LabCA:
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        name = _name("thinkube-lab-ca (simulated MicroK8s CA)")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )  # keyCertSign, cRLSign
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load_or_create(cls, directory: Path | None) -> LabCA:
        """The CA kept in `directory` (made there the first time); a fresh one in memory without."""
        if directory is not None and (directory / CA_FILE).exists() and (directory / CA_KEY_FILE).exists():
            cert = x509.load_pem_x509_certificate((directory / CA_FILE).read_bytes())
            key = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return cls(cert, key)
        ca = cls.create()
        if directory is not None:
            _write(directory / CA_KEY_FILE, _pem_key(ca._key))
            _write(directory / CA_FILE, ca.cert_pem)
        return ca

    def issue(self, cn: str, *, org: str | None = None, sans: list[str] | None = None, server: bool) -> Issued:
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, org))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
            )  # digitalSignature, keyEncipherment
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(_san(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))

    def admin(self, directory: Path | None) -> Issued:
        """The admin client certificate `microk8s config` embeds (kept beside the CA)."""
        if directory is not None and (directory / ADMIN_FILE).exists() and (directory / ADMIN_KEY_FILE).exists():
            return Issued((directory / ADMIN_FILE).read_bytes(), (directory / ADMIN_KEY_FILE).read_bytes())
        issued = self.issue(ADMIN_USER, org=ADMIN_GROUP, server=False)
        if directory is not None:
            _write(directory / ADMIN_KEY_FILE, issued.key_pem)
            _write(directory / ADMIN_FILE, issued.cert_pem)
        return issued

    def server_context(self, addresses: list[str]) -> ssl.SSLContext:
        """A TLS server context: a certificate for `addresses` (plus MicroK8s' fixed names), and
        client certificates asked for and checked against this CA when a client sends one."""
        issued = self.issue("kube-apiserver", sans=[*addresses, *LOOPBACK, SERVICE_IP, *DNS_NAMES], server=True)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=self.cert_pem.decode())
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.verify_mode = ssl.CERT_OPTIONAL  # a bearer token is the other way in
        # load_cert_chain wants files: write them where only we can read, then remove them.
        with tempfile.TemporaryDirectory(prefix="thinkube-lab-tls-") as tmp:
            cert, key = Path(tmp) / "server.crt", Path(tmp) / "server.key"
            _write(cert, issued.cert_pem)
            _write(key, issued.key_pem)
            ctx.load_cert_chain(cert, key)
        return ctx


def client_user(peercert: dict[str, object] | None) -> str | None:
    """The user a verified client certificate names (its CN), as the API server reads it."""
    if not peercert:
        return None
    for rdn in peercert.get("subject", ()):  # type: ignore[attr-defined]
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def _write(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (keys), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
