"""The lab's Kubernetes API driven by a real kubectl 1.33, with the kubeconfig `microk8s config`
gives on the lab's control node (https, the lab CA, the admin client certificate, and
`tls-server-name: <the node's simulated address>` -- kubectl connects to 127.0.0.1, where the
lab serves, and verifies the certificate against the node's address).

A fixed script of what installers and operators do -- get (tables), apply --server-side, wait,
rollout status, get -w, patch (merge and strategic), diff, delete -- and the refusals a real
API server gives, with the wording of Kubernetes' own validation. Results are recorded in
docs/lab.md ("Kubernetes API").
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import yaml

from thinkube_lab.cluster import Lab
from thinkube_lab.shell import BufferOutput, StringInput

KUBECTL_VERSION = "1.33"


def _find_kubectl() -> str | None:
    """kubectl 1.33 from the Debian package `kubectl` (versioned binaries) or PATH."""
    named = shutil.which(f"kubectl.{KUBECTL_VERSION}")
    if named:
        return named
    try:
        listed = subprocess.run(["dpkg", "-L", "kubectl"], capture_output=True, text=True, check=False).stdout
    except OSError:
        listed = ""
    for line in listed.splitlines():
        if line.endswith(f"/kubectl.{KUBECTL_VERSION}") and os.access(line, os.X_OK):
            return line
    plain = shutil.which("kubectl")
    if plain:
        out = subprocess.run([plain, "version", "--client"], capture_output=True, text=True, check=False).stdout
        if f"v{KUBECTL_VERSION}." in out:
            return plain
    return None


KUBECTL = _find_kubectl()
pytestmark = pytest.mark.skipif(
    KUBECTL is None,
    reason=f"no kubectl {KUBECTL_VERSION}: install Debian's `kubectl` package (it ships kubectl.{KUBECTL_VERSION}); "
    "Debian 12's kubernetes-client is 1.20, too old for this check",
)

Result = tuple[int, str, str]
Kubectl = Callable[..., Awaitable[Result]]

NS = "conf"


def deployment(
    name: str = "web", image: str = "nginx:1.27", labels: dict[str, str] | None = None, **spec: object
) -> str:
    labels = labels or {"app": name}
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]},
                },
                **spec,
            },
        }
    )


SERVICE = f"""
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {NS}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: 80}}]
"""


class Cluster:
    def __init__(self, lab: Lab, home: Path, kubeconfig: Path):
        self.lab, self.home, self.kubeconfig = lab, home, kubeconfig

    async def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 90) -> Result:
        assert KUBECTL
        proc = await asyncio.create_subprocess_exec(
            *self._argv(args),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env(),
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), timeout)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def ok(self, *args: str, stdin: str | None = None) -> str:
        code, out, err = await self.kubectl(*args, stdin=stdin)
        assert code == 0, f"kubectl {' '.join(args)}: exit {code}\n{out}{err}"
        return out

    async def refused(self, *args: str, stdin: str | None = None) -> str:
        code, out, err = await self.kubectl(*args, stdin=stdin)
        assert code != 0, f"kubectl {' '.join(args)} was accepted; a real API server refuses it\n{out}"
        return err

    async def stream(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self._argv(args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=self._env()
        )

    def _argv(self, args: tuple[str, ...]) -> list[str]:
        assert KUBECTL
        return [KUBECTL, "--cache-dir", str(self.home / "cache"), *args]

    def _env(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "KUBECONFIG": str(self.kubeconfig),
        }


async def _on_node(lab: Lab, command: str) -> str:
    out, err = BufferOutput(), BufferOutput()
    code = await lab.nodes[lab.control_name].run(command, StringInput(""), out, err, user="root")
    assert code == 0, f"{command}: {err.getvalue()}"
    return out.getvalue()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with Lab(tmp_path / "lab", nodes=1, gpus=0, speed=0.01, log=lambda _m: None) as lab:
        await _on_node(lab, "snap install microk8s --classic --channel=1.33/stable")
        await _on_node(lab, "microk8s status --wait-ready --timeout 60")
        kubeconfig = tmp_path / "home" / "kubeconfig"
        kubeconfig.parent.mkdir()
        kubeconfig.write_text(await _on_node(lab, "microk8s config"))  # exactly as the node prints it
        c = Cluster(lab, tmp_path / "home", kubeconfig)
        await c.ok(
            "apply", "--server-side", "-f", "-", stdin=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n"
        )
        yield c


# ---------------------------------------------------------------------------- the transport


async def test_the_kubeconfig_is_https_with_a_ca_and_kubectl_verifies_it(cluster: Cluster) -> None:
    cfg = yaml.safe_load(cluster.kubeconfig.read_text())
    server = cfg["clusters"][0]["cluster"]
    control = cluster.lab.nodes[cluster.lab.control_name]
    assert server["server"].startswith("https://127.0.0.1:") and server["certificate-authority-data"]
    assert server["tls-server-name"] == control.address
    assert "insecure-skip-tls-verify" not in server
    out = await cluster.ok("get", "namespaces")
    assert re.search(r"^NAME\s+STATUS\s+AGE$", out, re.M) and re.search(rf"^{NS}\s+Active\s+\S+$", out, re.M)
    # The name checked is the node's: another address is not in the certificate.
    code, _out, err = await cluster.kubectl("--tls-server-name", "10.42.0.99", "get", "namespaces")
    assert code != 0 and "x509: certificate is valid for" in err and "not 10.42.0.99" in err


# ---------------------------------------------------------------------------- the verbs


async def test_get_prints_the_columns_kubectl_shows(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment() + "---\n" + SERVICE)
    await cluster.ok("rollout", "status", f"-n{NS}", "deployment/web", "--timeout=60s")
    out = await cluster.ok("get", f"-n{NS}", "deployments,services")
    assert re.search(r"^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$", out, re.M)
    assert re.search(r"^deployment\.apps/web\s+2/2\s+2\s+2\s+\d+s$", out, re.M)
    assert re.search(r"^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$", out, re.M)
    assert re.search(r"^service/web\s+ClusterIP\s+10\.152\.183\.\d+\s+<none>\s+80/TCP\s+\S+$", out, re.M)
    wide = await cluster.ok("get", f"-n{NS}", "deploy", "web", "-o", "wide")
    assert re.search(r"CONTAINERS\s+IMAGES\s+SELECTOR\n.*web\s+nginx:1\.27\s+app=web", wide)
    nodes = await cluster.ok("get", "nodes")
    assert re.search(r"^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$", nodes, re.M) and "Ready" in nodes
    assert "No resources found" in (await cluster.kubectl("get", f"-n{NS}", "events"))[2]


async def test_apply_server_side_wait_and_rollout_status(cluster: Cluster) -> None:
    out = await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment())
    assert out.strip() == "deployment.apps/web serverside-applied"
    out = await cluster.ok("rollout", "status", f"-n{NS}", "deployment/web", "--timeout=60s")
    assert 'deployment "web" successfully rolled out' in out
    out = await cluster.ok("wait", f"-n{NS}", "--for=condition=Available", "deployment/web", "--timeout=60s")
    assert out.strip() == "deployment.apps/web condition met"
    generation = await cluster.ok("get", f"-n{NS}", "deploy", "web", "-o", "jsonpath={.metadata.generation}")
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment())  # unchanged: a no-op
    assert await cluster.ok("get", f"-n{NS}", "deploy", "web", "-o", "jsonpath={.metadata.generation}") == generation


async def test_scale_and_get_all(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment() + "---\n" + SERVICE)
    assert (
        await cluster.ok("scale", f"-n{NS}", "deployment/web", "--replicas=4")
    ).strip() == "deployment.apps/web scaled"
    out = await cluster.ok("rollout", "status", f"-n{NS}", "deployment/web", "--timeout=60s")
    assert 'deployment "web" successfully rolled out' in out
    err = await cluster.refused("scale", f"-n{NS}", "deployment/web", "--replicas=1", "--current-replicas=3")
    assert "Expected replicas to be 3, was 4" in err
    everything = await cluster.ok("get", "all", f"-n{NS}")
    assert re.search(r"^deployment\.apps/web\s+4/4\s", everything, re.M) and "service/web" in everything


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.lab.example.com}
spec:
  group: lab.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color, priority: 1}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
"""


async def test_custom_resources_apply_and_print_their_columns(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=CRD)
    await cluster.ok("wait", "--for=condition=Established", "crd/widgets.lab.example.com", "--timeout=60s")
    widget = f"apiVersion: lab.example.com/v1\nkind: Widget\nmetadata: {{name: w, namespace: {NS}}}\n"
    out = await cluster.ok("apply", "--server-side", "-f", "-", stdin=widget + "spec: {size: 3, color: red}\n")
    assert out.strip() == "widget.lab.example.com/w serverside-applied"
    out = await cluster.ok("get", f"-n{NS}", "wg")
    assert re.search(r"^NAME\s+SIZE\s+AGE$", out, re.M) and re.search(r"^w\s+3\s+\S+$", out, re.M)
    assert re.search(r"^w\s+3\s+red\s", await cluster.ok("get", f"-n{NS}", "widgets", "-o", "wide"), re.M)
    await cluster.refused("apply", "--server-side", "-f", "-", stdin=widget + "spec: {size: 3, shape: round}\n")


async def test_an_unknown_field_of_a_custom_resource_is_a_strict_decoding_error(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=CRD)
    await cluster.ok("wait", "--for=condition=Established", "crd/widgets.lab.example.com", "--timeout=60s")
    widget = f"apiVersion: lab.example.com/v1\nkind: Widget\nmetadata: {{name: w, namespace: {NS}}}\n"
    # kubectl create/apply ask for fieldValidation=Strict; server-side apply is refused with its
    # own words ("field not declared in schema"), as a real server does.
    err = await cluster.refused("create", "-f", "-", stdin=widget + "spec: {size: 3, shape: round}\n")
    assert 'strict decoding error: unknown field "spec.shape"' in err
    err = await cluster.refused("apply", "--server-side", "-f", "-", stdin=widget + "spec: {size: 3, shape: round}\n")
    assert ".spec.shape: field not declared in schema" in err


async def _read_until(proc: asyncio.subprocess.Process, pattern: str, seen: list[str]) -> str:
    assert proc.stdout
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise AssertionError(f"kubectl get -w ended before {pattern!r}; it printed:\n{''.join(seen)}")
        seen.append(line)
        if re.search(pattern, line):
            return line


async def test_get_watch_prints_each_change(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment())
    watch = await cluster.stream("get", f"-n{NS}", "deployments", "-w", "--output-watch-events")
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            await _read_until(watch, r"^EVENT\s+NAME\s+READY", seen)
            await _read_until(watch, r"^ADDED\s+web\s", seen)
            await cluster.ok("patch", f"-n{NS}", "deployment/web", "--type", "merge", "-p", '{"spec":{"replicas":3}}')
            await _read_until(watch, r"^MODIFIED\s+web\s+\d/3\s", seen)
            await cluster.ok("delete", f"-n{NS}", "deployment/web")
            await _read_until(watch, r"^DELETED\s+web\s", seen)
    finally:
        watch.kill()
        await watch.wait()


async def test_patch_merge_and_strategic(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment())
    out = await cluster.ok("patch", f"-n{NS}", "deployment/web", "--type", "merge", "-p", '{"spec":{"replicas":3}}')
    assert out.strip() == "deployment.apps/web patched"
    # strategic (kubectl's default for built-in kinds): containers merge by name
    patch = '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}'
    await cluster.ok("patch", f"-n{NS}", "deployment/web", "-p", patch)
    got = await cluster.ok(
        "get", f"-n{NS}", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[*].image}"
    )
    assert got == "3 nginx:1.28"


async def test_strategic_patch_keeps_what_it_does_not_name(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment())
    patch = '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}'
    await cluster.ok("patch", f"-n{NS}", "deployment/web", "-p", patch)
    port = await cluster.ok(
        "get", f"-n{NS}", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].ports}"
    )
    assert '"containerPort":80' in port  # the container merged by name keeps its ports


async def test_strategic_patch_merges_service_ports(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=SERVICE)
    await cluster.ok("patch", f"-n{NS}", "service/web", "-p", '{"spec":{"ports":[{"name":"https","port":443}]}}')
    ports = await cluster.ok("get", f"-n{NS}", "svc", "web", "-o", "jsonpath={.spec.ports[*].name}")
    assert ports == "http https"  # merged by port, not replaced


async def test_rollout_completes_after_a_merge_patch(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment())
    await cluster.ok("patch", f"-n{NS}", "deployment/web", "--type", "merge", "-p", '{"spec":{"replicas":3}}')
    # the lab's rollouts take milliseconds at this speed: 15 s only bounds a failure
    out = await cluster.ok("rollout", "status", f"-n{NS}", "deployment/web", "--timeout=15s")
    assert 'deployment "web" successfully rolled out' in out


async def test_diff_server_side(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment())
    code, out, err = await cluster.kubectl("diff", "--server-side", "-f", "-", stdin=deployment())
    assert (code, out) == (0, ""), err
    code, out, err = await cluster.kubectl("diff", "--server-side", "-f", "-", stdin=deployment(image="nginx:1.29"))
    assert code == 1, err  # 1: differences found
    assert re.search(r"^-\s+- image: nginx:1\.27$", out, re.M) and re.search(r"^\+\s+- image: nginx:1\.29$", out, re.M)


async def test_diff_client_side(cluster: Cluster) -> None:
    """Client-side diff sends a strategic merge patch with $setElementOrder directives."""
    await cluster.ok("apply", "-f", "-", stdin=deployment())
    code, out, err = await cluster.kubectl("diff", "-f", "-", stdin=deployment(image="nginx:1.29"))
    assert code == 1, err
    assert re.search(r"^\+\s+- image: nginx:1\.29$", out, re.M)


async def test_apply_client_side(cluster: Cluster) -> None:
    out = await cluster.ok("apply", "-f", "-", stdin=deployment())
    assert out.strip() == "deployment.apps/web created"
    out = await cluster.ok("apply", "-f", "-", stdin=deployment(replicas=1))
    assert out.strip() == "deployment.apps/web configured"


async def test_delete(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment())
    out = await cluster.ok("delete", f"-n{NS}", "deployment", "web")
    assert out.strip() == 'deployment.apps "web" deleted'
    code, _out, err = await cluster.kubectl("get", f"-n{NS}", "deployment", "web")
    assert code == 1 and 'Error from server (NotFound): deployments.apps "web" not found' in err


async def test_events_can_be_written_and_listed(cluster: Cluster) -> None:
    event = f"""
apiVersion: v1
kind: Event
metadata: {{name: web.1, namespace: {NS}}}
involvedObject: {{apiVersion: apps/v1, kind: Deployment, name: web, namespace: {NS}}}
reason: ScalingReplicaSet
message: Scaled up replica set web-1 to 2
type: Normal
source: {{component: deployment-controller}}
"""
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=event)
    out = await cluster.ok("get", f"-n{NS}", "events")
    assert re.search(r"^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$", out, re.M)
    assert re.search(r"Normal\s+ScalingReplicaSet\s+deployment/web\s+Scaled up replica set web-1 to 2", out)
    assert "No resources found" in (await cluster.kubectl("get", "-n", "default", "events.events.k8s.io"))[2]


async def test_create_sends_protobuf_the_lab_decodes(cluster: Cluster) -> None:
    """kubectl's typed `create` commands send protobuf bodies."""
    assert (await cluster.ok("create", "namespace", "pb")).strip() == "namespace/pb created"
    await cluster.ok("create", "-npb", "configmap", "lit", "--from-literal=a=b", "--from-literal=c=d")
    await cluster.ok("create", "-npb", "secret", "generic", "s", "--from-literal=pw=hunter2")
    await cluster.ok("create", "-npb", "serviceaccount", "robot")
    assert await cluster.ok("get", "-npb", "cm", "lit", "-o", "jsonpath={.data}") == '{"a":"b","c":"d"}'
    got = await cluster.ok("get", "-npb", "secret", "s", "-o", "jsonpath={.type} {.data.pw}")
    assert got == "Opaque " + base64.b64encode(b"hunter2").decode()
    err = await cluster.refused("create", "-npb", "configmap", "lit", "--from-literal=a=b")
    assert 'configmaps "lit" already exists' in err


async def test_protobuf_of_other_kinds_is_a_known_gap(cluster: Cluster) -> None:
    """`kubectl create deployment` sends a protobuf Deployment: refused loudly, not guessed at."""
    err = await cluster.refused("create", f"-n{NS}", "deployment", "d", "--image=nginx:1.27")
    assert "protobuf" in err and "known gap" in err and "Deployment" in err


# ---------------------------------------------------------------------------- the refusals


async def test_a_deployment_without_selector_is_refused(cluster: Cluster) -> None:
    doc = yaml.safe_load(deployment())
    del doc["spec"]["selector"]
    err = await cluster.refused("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(doc))
    assert "spec.selector: Required value" in err


async def test_a_changed_selector_is_immutable(cluster: Cluster) -> None:
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=deployment())
    err = await cluster.refused("apply", "--server-side", "-f", "-", stdin=deployment(labels={"app": "other"}))
    assert "field is immutable" in err


async def test_a_job_restarting_always_is_refused(cluster: Cluster) -> None:
    job = f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: once, namespace: {NS}}}
spec:
  template:
    spec:
      restartPolicy: Always
      containers: [{{name: c, image: "busybox:1.36"}}]
"""
    err = await cluster.refused("apply", "--server-side", "-f", "-", stdin=job)
    assert 'Unsupported value: "Always": supported values: "OnFailure", "Never"' in err


async def test_a_service_port_out_of_range_is_refused(cluster: Cluster) -> None:
    err = await cluster.refused("apply", "--server-side", "-f", "-", stdin=SERVICE.replace("port: 80,", "port: 70000,"))
    assert "must be between 1 and 65535, inclusive" in err


async def test_an_unknown_field_is_a_strict_decoding_error(cluster: Cluster) -> None:
    doc = yaml.safe_load(deployment())
    doc["spec"]["x"] = 1
    err = await cluster.refused("create", "-f", "-", stdin=yaml.safe_dump(doc))  # --validate=strict
    assert 'strict decoding error: unknown field "spec.x"' in err
    err = await cluster.refused("apply", "-f", "-", stdin=yaml.safe_dump(doc))  # client-side apply: the same
    assert 'strict decoding error: unknown field "spec.x"' in err
    err = await cluster.refused("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(doc))
    assert ".spec.x: field not declared in schema" in err


async def test_a_deleted_namespace_terminates(cluster: Cluster) -> None:
    # The ConfigMap's finalizer holds the namespace in Terminating until it is removed: no race
    # with the lab's speed.
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: gone, finalizers: [lab.example.com/hold]}\n"
    ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: gone}\n"
    await cluster.ok("apply", "--server-side", "-f", "-", stdin=ns + "---\n" + cm + "data: {a: b}\n")
    await cluster.ok("delete", "namespace", "gone", "--wait=false")
    out = await cluster.ok("get", "namespace", "gone")
    assert re.search(r"^gone\s+Terminating\s", out, re.M)
    err = await cluster.refused("create", "configmap", "late", "-n", "gone", "--from-literal=a=b")
    assert "unable to create new content in namespace gone because it is being terminated" in err
    await cluster.ok("patch", "-n", "gone", "configmap/c", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}')
    await cluster.ok("wait", "--for=delete", "namespace/gone", "--timeout=60s")
