"""The files `snap install microk8s` leaves in $SNAP_DATA (/var/snap/microk8s/current) on a
simulated node: the daemons' args files and the cluster certificates.

On a real node MicroK8s copies `microk8s-resources/default-args/*` to `$SNAP_DATA/args/` and
creates a CA, the API server's certificate and the service-account key in `$SNAP_DATA/certs/`
(https://microk8s.io/docs/configuring-services, https://microk8s.io/docs/services-and-ports).
The args files here are reconstructed from canonical/microk8s (default-args of the 1.3x
releases): one `--flag=value` per line, `#` comments, `${SNAP_DATA}` / `${SNAP_COMMON}` left for
the snap's wrappers to expand -- as installers that edit them (`tee -a args/kube-apiserver`,
`args/certs.d/<registry>/hosts.toml`) find them. Certificates and keys are FAKE PEM blocks that
read "THINKUBE-LAB SIMULATED". The content is generated (not persisted); whatever is written
over it lives in the node's overlay directory like any other file.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .node import LabNode

SNAP_DATA = "/var/snap/microk8s/current"
SNAP_COMMON = "/var/snap/microk8s/common"
ARGS = f"{SNAP_DATA}/args"
CERTS = f"{SNAP_DATA}/certs"

HEADER = "# thinkube-lab: SIMULATED MicroK8s default args (reconstructed from canonical/microk8s default-args)\n"

TLS_CIPHERS = (
    "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,"
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
)


def kube_apiserver(rbac: bool) -> str:
    """args/kube-apiserver. MicroK8s runs AlwaysAllow until `microk8s enable rbac` (which
    rewrites the line to RBAC,Node)."""
    return (
        HEADER
        + f"""--cert-dir=${{SNAP_DATA}}/certs
--service-cluster-ip-range=10.152.183.0/24
--authorization-mode={"RBAC,Node" if rbac else "AlwaysAllow"}
--service-account-key-file=${{SNAP_DATA}}/certs/serviceaccount.key
--client-ca-file=${{SNAP_DATA}}/certs/ca.crt
--tls-cert-file=${{SNAP_DATA}}/certs/server.crt
--tls-private-key-file=${{SNAP_DATA}}/certs/server.key
--tls-cipher-suites={TLS_CIPHERS}
--kubelet-client-certificate=${{SNAP_DATA}}/certs/apiserver-kubelet-client.crt
--kubelet-client-key=${{SNAP_DATA}}/certs/apiserver-kubelet-client.key
--secure-port=16443
--etcd-servers="unix://${{SNAP_DATA}}/var/kubernetes/backend/kine.sock:12379"
--allow-privileged=true
--service-account-issuer='https://kubernetes.default.svc'
--service-account-signing-key-file=${{SNAP_DATA}}/certs/serviceaccount.key
--event-ttl=5m
--profiling=false

# Enable the aggregation layer
--requestheader-client-ca-file=${{SNAP_DATA}}/certs/front-proxy-ca.crt
--requestheader-allowed-names=front-proxy-client
--requestheader-extra-headers-prefix=X-Remote-Extra-
--requestheader-group-headers=X-Remote-Group
--requestheader-username-headers=X-Remote-User
--proxy-client-cert-file=${{SNAP_DATA}}/certs/front-proxy-client.crt
--proxy-client-key-file=${{SNAP_DATA}}/certs/front-proxy-client.key
#~Enable the aggregation layer
--enable-admission-plugins=EventRateLimit
--admission-control-config-file=${{SNAP_DATA}}/args/admission-control-config-file.yaml
--kubelet-certificate-authority=${{SNAP_DATA}}/certs/ca.crt
--kubelet-preferred-address-types=InternalIP,Hostname,InternalDNS,ExternalDNS,ExternalIP
"""
    )


def kubelet(control: bool, dns: bool) -> str:
    role = "controlplane" if control else "worker"
    text = (
        HEADER
        + f"""--kubeconfig=${{SNAP_DATA}}/credentials/kubelet.config
--cert-dir=${{SNAP_DATA}}/certs
--client-ca-file=${{SNAP_DATA}}/certs/ca.crt
--anonymous-auth=false
--root-dir=${{SNAP_COMMON}}/var/lib/kubelet
--fail-swap-on=false
--eviction-hard="memory.available<100Mi,nodefs.available<1Gi,imagefs.available<1Gi"
--container-runtime-endpoint=${{SNAP_COMMON}}/run/containerd.sock
--containerd=${{SNAP_COMMON}}/run/containerd.sock
--node-labels="microk8s.io/cluster=true,node.kubernetes.io/microk8s-{role}=microk8s-{role}"
--authentication-token-webhook=true
--read-only-port=0
--tls-cipher-suites={TLS_CIPHERS}
--serialize-image-pulls=false
"""
    )
    if dns:  # added by the dns addon
        text += "--cluster-domain=cluster.local\n--cluster-dns=10.152.183.10\n"
    return text


KUBELITE = (
    HEADER
    + """--scheduler-args-file=$SNAP_DATA/args/kube-scheduler
--controller-manager-args-file=$SNAP_DATA/args/kube-controller-manager
--proxy-args-file=$SNAP_DATA/args/kube-proxy
--kubelet-args-file=$SNAP_DATA/args/kubelet
--apiserver-args-file=$SNAP_DATA/args/kube-apiserver
--kubeconfig-file=$SNAP_DATA/credentials/client.config
--start-control-plane=true
"""
)

KUBE_PROXY = (
    HEADER
    + """--kubeconfig=${SNAP_DATA}/credentials/proxy.config
--cluster-cidr=10.1.0.0/16
--healthz-bind-address=127.0.0.1
--profiling=false
"""
)

KUBE_SCHEDULER = (
    HEADER
    + """--kubeconfig=${SNAP_DATA}/credentials/scheduler.config
--leader-elect-lease-duration=60s
--leader-elect-renew-deadline=30s
--profiling=false
"""
)

KUBE_CONTROLLER_MANAGER = (
    HEADER
    + """--kubeconfig=${SNAP_DATA}/credentials/controller.config
--service-account-private-key-file=${SNAP_DATA}/certs/serviceaccount.key
--root-ca-file=${SNAP_DATA}/certs/ca.crt
--cluster-signing-cert-file=${SNAP_DATA}/certs/ca.crt
--cluster-signing-key-file=${SNAP_DATA}/certs/ca.key
--use-service-account-credentials
--leader-elect-lease-duration=60s
--leader-elect-renew-deadline=30s
--profiling=false
"""
)

CONTAINERD = (
    HEADER
    + """--config ${SNAP_DATA}/args/containerd.toml
--root ${SNAP_COMMON}/var/lib/containerd
--state ${SNAP_COMMON}/run/containerd
--address ${SNAP_COMMON}/run/containerd.sock
"""
)

CONTAINERD_ENV = """# thinkube-lab: SIMULATED MicroK8s containerd-env
# To start containerd behind a proxy you need to add an HTTPS_PROXY
# environment variable in this file. HTTPS_PROXY is of the following format:
# HTTPS_PROXY=http://username:password@proxy:port/
#
# Attention: This file is loaded via bash, you can't use any bash functions

# Set to set the ulimit
ulimit -n 65536 || true
ulimit -l 16384 || true
"""

CONTAINERD_TEMPLATE = """# thinkube-lab: SIMULATED MicroK8s containerd-template.toml (reconstructed)
# Use config version 2 to enable new configuration fields.
version = 2
oom_score = 0

[grpc]
  uid = 0
  gid = 0
  max_recv_message_size = 16777216
  max_send_message_size = 16777216

[debug]
  address = ""
  uid = 0
  gid = 0

[metrics]
  address = "127.0.0.1:1338"
  grpc_histogram = false

[cgroup]
  path = ""

# The 'plugins."io.containerd.grpc.v1.cri"' table contains all of the server options.
[plugins."io.containerd.grpc.v1.cri"]

  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  sandbox_image = "registry.k8s.io/pause:3.10"
  stats_collect_period = 10
  enable_tls_streaming = false
  max_container_log_line_size = 16384

  # 'plugins."io.containerd.grpc.v1.cri".containerd' contains config related to containerd
  [plugins."io.containerd.grpc.v1.cri".containerd]

    # snapshotter is the snapshotter used by containerd.
    snapshotter = "${SNAPSHOTTER}"

    # no_pivot disables pivot-root (linux only), required when running a container in a RamDisk with runc
    no_pivot = false

    # default_runtime_name is the default runtime name to use.
    default_runtime_name = "${RUNTIME}"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "${RUNTIME_TYPE}"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia-container-runtime]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia-container-runtime.options]
        BinaryName = "nvidia-container-runtime"

  # 'plugins."io.containerd.grpc.v1.cri".cni' contains config related to cni
  [plugins."io.containerd.grpc.v1.cri".cni]
    # bin_dir is the directory in which the binaries for the plugin is kept.
    bin_dir = "${SNAP_DATA}/opt/cni/bin"

    # conf_dir is the directory in which the admin places a CNI conf.
    conf_dir = "${SNAP_DATA}/args/cni-network"

  # 'plugins."io.containerd.grpc.v1.cri".registry' contains config related to the registry
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${SNAP_DATA}/args/certs.d"
"""

CLUSTER_AGENT = (
    HEADER
    + """--bind=0.0.0.0:25000
--keyfile=${SNAP_DATA}/certs/server.key
--certfile=${SNAP_DATA}/certs/server.crt
--timeout=240
"""
)

K8S_DQLITE = (
    HEADER
    + """--storage-dir=${SNAP_DATA}/var/kubernetes/backend/
--listen=unix://${SNAP_DATA}/var/kubernetes/backend/kine.sock:12379
"""
)

ADMISSION_CONTROL = """# thinkube-lab: SIMULATED MicroK8s admission-control-config-file.yaml
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: EventRateLimit
    path: eventconfig.yaml
"""

EVENT_CONFIG = """# thinkube-lab: SIMULATED MicroK8s eventconfig.yaml
apiVersion: eventratelimit.admission.k8s.io/v1alpha1
kind: Configuration
limits:
  - type: Server
    qps: 5000
    burst: 20000
"""

DOCKER_IO_HOSTS = """server = "https://docker.io"

[host."https://registry-1.docker.io"]
  capabilities = ["pull", "resolve"]
"""

LOCAL_REGISTRY_HOSTS = """server = "http://localhost:32000"

[host."http://localhost:32000"]
  capabilities = ["pull", "resolve"]
"""

CSR_CONF_TEMPLATE = """# thinkube-lab: SIMULATED MicroK8s csr.conf.template
[ req ]
default_bits = 2048
prompt = no
default_md = sha256
req_extensions = req_ext
distinguished_name = dn

[ dn ]
C = GB
ST = Canonical
L = Canonical
O = Canonical
OU = Canonical
CN = 127.0.0.1

[ req_ext ]
subjectAltName = @alt_names

[ alt_names ]
DNS.1 = kubernetes
DNS.2 = kubernetes.default
DNS.3 = kubernetes.default.svc
DNS.4 = kubernetes.default.svc.cluster
DNS.5 = kubernetes.default.svc.cluster.local
IP.1 = 127.0.0.1
IP.2 = 10.152.183.1
#MOREIPS

[ v3_ext ]
authorityKeyIdentifier=keyid,issuer:always
basicConstraints=CA:FALSE
keyUsage=keyEncipherment,dataEncipherment,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=@alt_names
"""


def pem(kind: str, lines: list[str]) -> str:
    """A FAKE PEM block: its base64 body decodes to text saying it is the lab's."""
    text = "\n".join(["THINKUBE-LAB SIMULATED " + kind + " -- NOT REAL CRYPTOGRAPHIC MATERIAL", *lines])
    b64 = base64.b64encode(text.encode()).decode()
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


def _ca_owner(node: LabNode) -> str:
    """Whose CA the node holds: a joined worker got the control node's (`microk8s join` copies it)."""
    if node.microk8s.role == "worker" and node.lab is not None:
        return node.lab.control_name
    return node.name


def _cert(node: LabNode, subject: str, *, issuer: str | None = None) -> Callable[[], str]:
    def make() -> str:
        owner = _ca_owner(node)
        return pem(
            "CERTIFICATE",
            [
                f"lab {node.lab_id} / {owner}",
                f"subject: {subject}",
                f"issuer: {issuer or 'CN=10.152.183.1 (MicroK8s CA of ' + owner + ')'}",
                "validity: 365 days (simulated)",
            ],
        )

    return make


def _key(node: LabNode, what: str) -> Callable[[], str]:
    return lambda: pem("PRIVATE KEY", [f"lab {node.lab_id} / {_ca_owner(node)}", what])


def files(node: LabNode) -> dict[str, str | Callable[[], str]]:
    """Path -> content of the MicroK8s snap's data files on an installed node."""
    control = node.microk8s.role != "worker"
    out: dict[str, str | Callable[[], str]] = {
        f"{ARGS}/kube-apiserver": lambda: kube_apiserver("rbac" in node.microk8s.addons),
        f"{ARGS}/kubelet": lambda: kubelet(
            node.microk8s.role != "worker", "dns" in node.microk8s.addons or node.microk8s.role == "worker"
        ),
        f"{ARGS}/kubelite": KUBELITE,
        f"{ARGS}/kube-proxy": KUBE_PROXY,
        f"{ARGS}/kube-scheduler": KUBE_SCHEDULER,
        f"{ARGS}/kube-controller-manager": KUBE_CONTROLLER_MANAGER,
        f"{ARGS}/containerd": CONTAINERD,
        f"{ARGS}/containerd-env": CONTAINERD_ENV,
        f"{ARGS}/containerd-template.toml": CONTAINERD_TEMPLATE,
        f"{ARGS}/cluster-agent": CLUSTER_AGENT,
        f"{ARGS}/k8s-dqlite": K8S_DQLITE,
        f"{ARGS}/admission-control-config-file.yaml": ADMISSION_CONTROL,
        f"{ARGS}/eventconfig.yaml": EVENT_CONFIG,
        f"{ARGS}/certs.d/docker.io/hosts.toml": DOCKER_IO_HOSTS,
        f"{ARGS}/certs.d/localhost:32000/hosts.toml": LOCAL_REGISTRY_HOSTS,
        f"{CERTS}/ca.crt": _cert(node, "CN=10.152.183.1", issuer="self-signed (the MicroK8s cluster CA)"),
        f"{CERTS}/ca.key": _key(node, "the MicroK8s cluster CA key"),
        f"{CERTS}/server.crt": _cert(node, f"CN=127.0.0.1, SAN kubernetes.default.svc, {node.address}"),
        f"{CERTS}/server.key": _key(node, "the API server's key"),
        f"{CERTS}/apiserver-kubelet-client.crt": _cert(node, "CN=kube-apiserver-kubelet-client"),
        f"{CERTS}/apiserver-kubelet-client.key": _key(node, "the API server's kubelet client key"),
        f"{CERTS}/serviceaccount.key": _key(node, "the service-account signing key"),
        f"{CERTS}/front-proxy-ca.crt": _cert(node, "CN=front-proxy-ca", issuer="self-signed (front-proxy CA)"),
        f"{CERTS}/front-proxy-ca.key": _key(node, "the front-proxy CA key"),
        f"{CERTS}/front-proxy-client.crt": _cert(node, "CN=front-proxy-client", issuer="CN=front-proxy-ca"),
        f"{CERTS}/front-proxy-client.key": _key(node, "the front-proxy client key"),
        f"{CERTS}/csr.conf.template": CSR_CONF_TEMPLATE,
    }
    if control:
        out[f"{SNAP_DATA}/var/kubernetes/backend/info.yaml"] = f"Address: {node.address}:19001\nID: 1\nRole: 0\n"
    else:  # `microk8s join --worker` configures the local API server proxy (see join's message)
        control_address = node.microk8s.joined_to or "127.0.0.1"
        out[f"{ARGS}/apiserver-proxy"] = (
            HEADER + "--traefik-config ${SNAP_DATA}/args/traefik/traefik.yaml\n"
            "--kubeconfig ${SNAP_DATA}/credentials/kubelet.config\n"
            "--refresh-interval 30s\n"
        )
        out[f"{ARGS}/traefik/provider.yaml"] = (
            "# thinkube-lab: SIMULATED MicroK8s API server proxy endpoints\n"
            'tcp:\n  routers:\n    Router-1:\n      rule: "HostSNI(`*`)"\n      service: "kube-apiserver"\n'
            "      tls:\n        passthrough: true\n  services:\n    kube-apiserver:\n      loadBalancer:\n"
            f'        servers:\n        - address: "{control_address}:16443"\n'
        )
    return out


def dirs() -> set[str]:
    return {
        "/var/snap/microk8s",
        SNAP_DATA,
        SNAP_COMMON,
        f"{SNAP_DATA}/var",
        f"{SNAP_DATA}/var/lock",
        ARGS,
        f"{ARGS}/certs.d",
        f"{ARGS}/cni-network",
        CERTS,
        f"{SNAP_DATA}/credentials",
        f"{ARGS}/traefik",
        f"{SNAP_COMMON}/run",
        f"{SNAP_COMMON}/var",
        f"{SNAP_COMMON}/var/lib",
        "/snap/microk8s",
        "/snap/microk8s/current",
    }


def private(path: str) -> bool:
    """Root-only files of the snap's data (keys, credentials)."""
    return path.startswith(f"{SNAP_DATA}/credentials/") or (path.startswith(f"{CERTS}/") and path.endswith(".key"))


# ----------------------------------------------------------------------------- the API server's flags


_FLAG = re.compile(r"^--[a-z0-9][a-z0-9-]*(=.*)?$")


async def apiserver_problem(node: LabNode) -> str | None:
    """Why kube-apiserver would refuse to start with this node's args file, or None.

    A small subset of kube-apiserver's own checks: every line is a flag (or a comment);
    `--oidc-issuer-url` must be https and comes with `--oidc-client-id`; files named by
    `--oidc-ca-file` / `--client-ca-file` must exist.
    """
    text = await node.fs.read(f"{ARGS}/kube-apiserver")
    if text is None:
        return f"open {ARGS}/kube-apiserver: no such file or directory"
    flags: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not _FLAG.match(line):
            return f'unknown command "{line}" for "kube-apiserver" (in {ARGS}/kube-apiserver)'
        name, _, value = line.partition("=")
        flags[name] = value.strip().strip("\"'")
    issuer = flags.get("--oidc-issuer-url")
    if issuer is not None:
        if not issuer.startswith("https://"):
            return f"--oidc-issuer-url: must be a https URL, got {issuer!r}"
        if not flags.get("--oidc-client-id"):
            return "--oidc-client-id: required when --oidc-issuer-url is set"
    for flag in ("--oidc-ca-file", "--client-ca-file"):
        path = flags.get(flag)
        if path:
            path = path.replace("${SNAP_DATA}", SNAP_DATA).replace("$SNAP_DATA", SNAP_DATA)
            content = await node.fs.read(path)
            if not content or "-----BEGIN CERTIFICATE-----" not in content:
                return f"{flag}={path}: failed to read a PEM certificate from the file"
    return None
