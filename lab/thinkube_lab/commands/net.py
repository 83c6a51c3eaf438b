"""`curl` on a simulated node (there is no `dig`: `command -v dig` fails, as on a fresh Ubuntu).

The lab has no network. curl answers only what the lab can stand behind:

- `https://raw.githubusercontent.com/keycloak/keycloak-k8s-resources/26.2.0/kubernetes/...`: the
  lab's stand-ins for the Keycloak Operator manifests (`lab/data/keycloak-k8s-resources-*`);
- `https://github.com/kserve/kserve/releases/download/v0.15.0/{kserve,kserve-cluster-resources}.yaml`:
  the lab's stand-ins for KServe's release manifests (`lab/data/kserve-v0.15.0__*`);
- HTTP(S) to an ingress controller's LoadBalancer address (from `--resolve HOST:PORT:IP`, from the
  URL, or `-H 'Host: ...'` with the IP in the URL): routed by the Ingress objects in the Kube API
  emulator -- 200 when an Ingress of that controller's class has a rule for the host whose
  backend Service selects a ready workload, 503 when it selects none ready, 404 from nginx when
  no rule matches. TLS is checked: the certificate served is the Ingress's `tls` Secret, else the
  controller's `--default-ssl-certificate`, else nginx's fake certificate; without `-k` it must
  chain to the CA given with `--cacert` (the file's content must hold the Secret's `ca.crt`).
- Names are resolved by `--resolve`, the lab's node names, then the node's /etc/hosts (as glibc
  does with "hosts: files dns"; the lab has no DNS server). Any other host:
  `curl: (6) Could not resolve host` (exit 6). An address that is no ingress
  LoadBalancer: `curl: (7) Failed to connect` (exit 7).

Flags: -f -s -S -L -k -I -i -o FILE -w FORMAT -H HEADER -X METHOD -d DATA --retry N --max-time S
--connect-timeout S --cacert FILE --resolve HOST:PORT:IP --fail-with-body --compressed -v (ignored).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..operators.base import service_ready
from ..shell import Ctx
from .coreutils import hosts_file_entries
from .table import program

DATA = Path(__file__).resolve().parent.parent / "data"
#: URL -> file in lab/data (stand-ins, see lab/data/NOTICE)
KEYCLOAK_RESOURCES = "https://raw.githubusercontent.com/keycloak/keycloak-k8s-resources/26.2.0/kubernetes"
FILES: dict[str, str] = {
    f"{KEYCLOAK_RESOURCES}/{name}": f"keycloak-k8s-resources-26.2.0__{name}"
    for name in ("keycloaks.k8s.keycloak.org-v1.yml", "keycloakrealmimports.k8s.keycloak.org-v1.yml", "kubernetes.yml")
}
FILES.update(
    {
        f"https://github.com/kserve/kserve/releases/download/v0.15.0/{name}": f"kserve-v0.15.0__{name}"
        for name in ("kserve.yaml", "kserve-cluster-resources.yaml")
    }
)

NGINX_404 = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
NGINX_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>"
    "503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n"
    "</html>\r\n"
)
REASONS = {
    200: "OK",
    301: "Moved Permanently",
    308: "Permanent Redirect",
    404: "Not Found",
    503: "Service Temporarily Unavailable",
}
VALUE_FLAGS = {
    "-o",
    "--output",
    "-w",
    "--write-out",
    "-H",
    "--header",
    "-X",
    "--request",
    "-d",
    "--data",
    "--data-raw",
    "--data-binary",
    "--retry",
    "--max-time",
    "-m",
    "--connect-timeout",
    "--cacert",
    "--resolve",
    "-u",
    "--user",
    "-A",
    "--user-agent",
    "--retry-delay",
    "--retry-max-time",
}
BOOL_FLAGS = {
    "-f",
    "--fail",
    "-s",
    "--silent",
    "-S",
    "--show-error",
    "-L",
    "--location",
    "-k",
    "--insecure",
    "-I",
    "--head",
    "-i",
    "--include",
    "-v",
    "--verbose",
    "--fail-with-body",
    "--compressed",
    "--retry-all-errors",
    "--retry-connrefused",
    "-4",
    "-6",
    "-#",
    "--progress-bar",
    "--http1.1",
}
SHORT_WITH_VALUE = {"o", "w", "H", "X", "d", "m", "u", "A"}


class CurlError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _parse(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {"headers": [], "resolve": []}
    urls: list[str] = []
    it = iter(argv)
    for a in it:
        if a.startswith("--") and "=" in a and a.split("=", 1)[0] in VALUE_FLAGS:
            flag, value = a.split("=", 1)
            _set(opts, flag, value)
        elif a in VALUE_FLAGS:
            value = next(it, None)
            if value is None:
                raise CurlError(2, f"curl: option {a}: requires parameter")
            _set(opts, a, value)
        elif a in BOOL_FLAGS:
            opts[a] = True
        elif a.startswith("-") and not a.startswith("--") and len(a) > 1:
            chars = a[1:]
            for i, ch in enumerate(chars):
                if ch in SHORT_WITH_VALUE:
                    value = chars[i + 1 :] or next(it, None)
                    if value is None:
                        raise CurlError(2, f"curl: option -{ch}: requires parameter")
                    _set(opts, f"-{ch}", value)
                    break
                if f"-{ch}" not in BOOL_FLAGS:
                    raise CurlError(2, f"curl: option -{ch}: is unknown\ncurl: try 'curl --help' for more information")
                opts[f"-{ch}"] = True
        elif a.startswith("--"):
            raise CurlError(
                2,
                f"curl: option {a}: is unknown (or not simulated by the thinkube lab)\n"
                "curl: try 'curl --help' for more information",
            )
        else:
            urls.append(a)
    return opts, urls


def _set(opts: dict[str, Any], flag: str, value: str) -> None:
    canon = {
        "--output": "-o",
        "--write-out": "-w",
        "--header": "-H",
        "--request": "-X",
        "--data": "-d",
        "--data-raw": "-d",
        "--data-binary": "-d",
        "-m": "--max-time",
        "--user": "-u",
        "--user-agent": "-A",
    }.get(flag, flag)
    if canon == "-H":
        opts["headers"].append(value)
    elif canon == "--resolve":
        opts["resolve"].append(value)
    else:
        opts[canon] = value


def _has(opts: dict[str, Any], *flags: str) -> bool:
    return any(opts.get(f) for f in flags)


def _write_out(fmt: str, code: int, url: str) -> str:
    out = fmt.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r")
    return (
        out.replace("%{http_code}", f"{code:03d}")
        .replace("%{response_code}", f"{code:03d}")
        .replace("%{url_effective}", url)
        .replace("%{exitcode}", "0")
    )


@program("/usr/bin/curl")
async def curl(ctx: Ctx, argv: list[str]) -> int:
    try:
        opts, urls = _parse(argv[1:])
    except CurlError as exc:
        ctx.err(exc.message)
        return exc.code
    silent = _has(opts, "-s", "--silent") and not _has(opts, "-S", "--show-error")
    if not urls:
        ctx.err("curl: no URL specified!\ncurl: try 'curl --help' or 'curl --manual' for more information")
        return 2
    status = 0
    for url in urls:
        try:
            code, headers, body = await _fetch(ctx, url, opts)
        except CurlError as exc:
            if not silent:
                ctx.err(exc.message)
            if opts.get("-w"):
                ctx.out(_write_out(opts["-w"], 0, url))
            status = exc.code
            continue
        fail = _has(opts, "-f", "--fail") and code >= 400
        head = f"HTTP/1.1 {code} {REASONS.get(code, '')}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        text = ""
        if _has(opts, "-I", "--head"):
            text = head
        elif not fail or _has(opts, "--fail-with-body"):
            text = (head if _has(opts, "-i", "--include") else "") + body
        target = opts.get("-o")
        if target and target != "/dev/null" and text:
            why = ctx.node.fs.cannot_write(target, ctx.user)
            if why:
                if not silent:
                    ctx.err(f"curl: (23) Failure writing output to destination ({target}: {why})")
                status = 23
                continue
            await ctx.node.fs.write(target, text)
        elif not target:
            ctx.out(text)
        if opts.get("-w"):
            ctx.out(_write_out(opts["-w"], code, url))
        if fail:
            if not silent:
                ctx.err(f"curl: (22) The requested URL returned error: {code}")
            status = 22
    return status


async def _fetch(ctx: Ctx, url: str, opts: dict[str, Any]) -> tuple[int, list[tuple[str, str]], str]:
    if url in FILES:
        text = (DATA / FILES[url]).read_text()
        return 200, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(text)))], text
    parts = urlsplit(url if "://" in url else "http://" + url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https"):
        raise CurlError(1, f'curl: (1) Protocol "{scheme}" not supported')
    port = parts.port or (443 if scheme == "https" else 80)
    host_header = next((h.split(":", 1)[1].strip() for h in opts["headers"] if h.lower().startswith("host:")), None)
    virtual_host = (host_header or host).split(":")[0].lower()
    ip = await _resolve(ctx, host, port, opts)
    lab = ctx.node.lab
    if lab is None:
        raise CurlError(7, f"curl: (7) Failed to connect to {host} port {port}: Couldn't connect to server")
    controller = _ingress_controller(lab, ip, port)
    if controller is None:
        raise CurlError(
            7,
            f"curl: (7) Failed to connect to {host} port {port} after 0 ms: Couldn't connect to "
            "server (thinkube-lab: nothing listens there in the simulated network)",
        )
    _svc, release = controller
    ingress = _route(lab, release, virtual_host, parts.path or "/")
    if scheme == "https" and not _has(opts, "-k", "--insecure"):
        await _check_tls(ctx, lab, release, ingress, virtual_host, opts)
    if ingress is None:
        return 404, [("Content-Type", "text/html"), ("Connection", "keep-alive")], NGINX_404
    ing, backend = ingress
    tls_hosts = [h for t in (ing.get("spec") or {}).get("tls") or [] for h in t.get("hosts") or []]
    if scheme == "http" and virtual_host in tls_hosts:
        location = f"https://{virtual_host}{parts.path or '/'}"
        return (
            308,
            [("Content-Type", "text/html"), ("Location", location)],
            "<html>\r\n<head><title>308 Permanent Redirect</title></head>\r\n</html>\r\n",
        )

    service = lab.kube.get("v1", "Service", backend, ing["metadata"]["namespace"])
    if service is None or not service_ready(lab, service):
        return 503, [("Content-Type", "text/html")], NGINX_503
    body = (
        f"thinkube-lab: simulated response from Service {ing['metadata']['namespace']}/{backend} "
        f"for {virtual_host}{parts.path or '/'} (through Ingress {ing['metadata']['name']})\n"
    )
    return 200, [("Content-Type", "text/plain"), ("X-Thinkube-Lab", "simulated")], body


async def _resolve(ctx: Ctx, host: str, port: int, opts: dict[str, Any]) -> str:
    for entry in opts["resolve"]:
        m = re.fullmatch(r"\+?([^:]+):(\d+|\*):\[?([^\]]+)\]?", entry)
        if m and m.group(1).lower() == host and m.group(2) in (str(port), "*"):
            return m.group(3)
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", host):
        return host
    lab = ctx.node.lab
    if lab is not None:
        node = lab.node_by_address(host)
        if node is not None:
            return node.address
    if host in ("localhost",):
        return "127.0.0.1"

    for name, addr in hosts_file_entries(await ctx.node.fs.read("/etc/hosts") or ""):
        if name == host:
            return addr
    raise CurlError(6, f"curl: (6) Could not resolve host: {host}")


def _ingress_controller(lab: Any, ip: str, port: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(Service, Helm release) of the ingress-nginx controller answering on ip:port."""
    for svc in lab.kube.list("v1", "Service"):
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if not any(i.get("ip") == ip for i in ingress):
            continue
        if not any(p.get("port") == port for p in (svc.get("spec") or {}).get("ports") or []):
            continue
        ann = svc["metadata"].get("annotations") or {}
        key = f"{ann.get('meta.helm.sh/release-namespace')}/{ann.get('meta.helm.sh/release-name')}"
        release = lab.releases.get(key)
        if release is not None and release.get("chart_name") == "ingress-nginx":
            return svc, release
    return None


def _class_of(lab: Any, release: dict[str, Any]) -> tuple[str | None, bool]:
    for api_version, kind, name, _ns in release.get("objects") or []:
        if kind == "IngressClass":
            ic = lab.kube.get(api_version, kind, name) or {}
            default = (ic.get("metadata", {}).get("annotations") or {}).get(
                "ingressclass.kubernetes.io/is-default-class"
            ) == "true"
            return name, default
    return None, False


def _route(lab: Any, release: dict[str, Any], host: str, path: str) -> tuple[dict[str, Any], str] | None:
    """The Ingress and backend Service name serving host+path on this controller (longest prefix)."""
    cls, default = _class_of(lab, release)
    best: tuple[int, dict[str, Any], str] | None = None
    for ing in lab.kube.list("networking.k8s.io/v1", "Ingress"):
        spec = ing.get("spec") or {}
        ing_class = spec.get("ingressClassName") or (ing["metadata"].get("annotations") or {}).get(
            "kubernetes.io/ingress.class"
        )
        if not (ing_class == cls or (ing_class is None and default)):
            continue
        for rule in spec.get("rules") or []:
            rh = (rule.get("host") or "").lower()
            if rh and not (
                rh == host or (rh.startswith("*.") and host.endswith(rh[1:]) and host.count(".") == rh.count("."))
            ):
                continue
            for p in (rule.get("http") or {}).get("paths") or []:
                prefix = p.get("path") or "/"
                exact = p.get("pathType") == "Exact"
                if (exact and path != prefix) or (
                    not exact and not (path == prefix or path.startswith(prefix.rstrip("/") + "/") or prefix == "/")
                ):
                    continue
                name = ((p.get("backend") or {}).get("service") or {}).get("name")
                if name and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), ing, name)
    return (best[1], best[2]) if best else None


async def _check_tls(
    ctx: Ctx, lab: Any, release: dict[str, Any], ingress: Any, host: str, opts: dict[str, Any]
) -> None:
    secret_ref = None
    if ingress is not None:
        ing = ingress[0]
        for t in (ing.get("spec") or {}).get("tls") or []:
            if host in (t.get("hosts") or []) and t.get("secretName"):
                secret_ref = (ing["metadata"]["namespace"], t["secretName"])
    if secret_ref is None:
        flag = (((release.get("values") or {}).get("controller") or {}).get("extraArgs") or {}).get(
            "default-ssl-certificate"
        )
        if flag and "/" in flag:
            ns, name = flag.split("/", 1)
            secret_ref = (ns, name)
    secret = lab.kube.get("v1", "Secret", secret_ref[1], secret_ref[0]) if secret_ref else None
    data = (secret or {}).get("data") or {}
    if "tls.crt" not in data:
        raise CurlError(
            60,
            "curl: (60) SSL certificate problem: self-signed certificate\nMore details here: "
            "https://curl.se/docs/sslcerts.html\n\n(thinkube-lab: nginx serves its fake "
            "certificate: no TLS Secret for this host)",
        )
    ca = base64.b64decode(data.get("ca.crt", "")).decode(errors="replace").strip()
    bundle = await ctx.node.fs.read(opts["--cacert"]) if opts.get("--cacert") else None
    if opts.get("--cacert") and bundle is None:
        raise CurlError(77, f"curl: (77) error setting certificate file: {opts['--cacert']}")
    if not ca or bundle is None or ca not in bundle:
        raise CurlError(
            60,
            "curl: (60) SSL certificate problem: unable to get local issuer certificate\nMore "
            "details here: https://curl.se/docs/sslcerts.html",
        )
