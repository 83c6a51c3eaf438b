"""The lab's Kubernetes API refuses what a real API server refuses, in the real server's words.

Over plain HTTP against the emulator, so status codes, `Warning` headers and raw bodies are seen
as a client sees them. The expected messages are those of Kubernetes' own validation
(k8s.io/apimachinery field errors, pkg/apis/{core,apps,batch}/validation, the NamespaceLifecycle
admission), the ones a real `kubectl` prints.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from thinkube_lab.kubeapi import KubeApiEmulator

Obj = dict[str, Any]
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


class Api:
    """Raw HTTP calls: (status, parsed body, response headers)."""

    def __init__(self, emu: KubeApiEmulator, session: aiohttp.ClientSession):
        self.emu, self.session = emu, session

    async def call(
        self, method: str, path: str, body: Any = None, ctype: str = "application/json", **params: str
    ) -> tuple[int, Any, Any]:
        headers = {"Authorization": f"Bearer {self.emu.token}", "Content-Type": ctype}
        data = None if body is None else json.dumps(body)
        async with self.session.request(method, self.emu.url + path, data=data, headers=headers, params=params) as r:
            raw = await r.read()
            return r.status, json.loads(raw) if raw else None, r.headers

    async def raw(self, path: str) -> bytes:
        headers = {"Authorization": f"Bearer {self.emu.token}"}
        async with self.session.get(self.emu.url + path, headers=headers) as r:
            assert r.status == 200
            return await r.read()

    async def watch_until(self, path: str, name: str, done: Any, since: str = "", timeout: float = 10) -> Obj:
        """Follow `name` with a watch (from resourceVersion `since`: nothing after it is missed)
        until `done(event_type, object)` holds."""
        headers = {"Authorization": f"Bearer {self.emu.token}"}
        params = {"watch": "true", "fieldSelector": f"metadata.name={name}", "timeoutSeconds": str(int(timeout))}
        if since:
            params["resourceVersion"] = since
        async with asyncio.timeout(timeout), self.session.get(self.emu.url + path, headers=headers, params=params) as r:
            async for line in r.content:
                event = json.loads(line)
                if done(event["type"], event["object"]):
                    return dict(event["object"])
        raise AssertionError(f"{name}: the watch ended first")


def trusting(emu: KubeApiEmulator) -> aiohttp.ClientSession:
    """A client that trusts the emulator's CA, as kubectl with its kubeconfig does."""
    tls = ssl.create_default_context(cadata=emu.ca.cert_pem.decode())
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls))


@pytest.fixture
async def emu(tmp_path: Path) -> AsyncIterator[KubeApiEmulator]:
    async with KubeApiEmulator(state_dir=tmp_path, rollout_delay=0.05) as api:
        yield api


@pytest.fixture
async def api(emu: KubeApiEmulator) -> AsyncIterator[Api]:
    async with trusting(emu) as session:
        yield Api(emu, session)


def deployment(name: str = "web", **spec: Any) -> Obj:
    labels = {"app": name}
    body: Obj = {
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}},
    }
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body}


def workload(kind: str, **spec: Any) -> Obj:
    obj = deployment(**spec)
    obj["kind"] = kind
    if kind == "StatefulSet":
        obj["spec"]["serviceName"] = "web"
    if kind == "DaemonSet":
        del obj["spec"]["replicas"]
    return obj


def service(*ports: Obj, name: str = "web") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "web"}, "ports": list(ports)},
    }


def job(restart: str | None = "Never", image: str = "busybox:1.36") -> Obj:
    pod: Obj = {"containers": [{"name": "run", "image": image}]}
    if restart:
        pod["restartPolicy"] = restart
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"}, "spec": {"template": {"spec": pod}}}


def configmap(name: str = "settings", data: dict[str, str] | None = None, **extra: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"a": "1"}, **extra}


def secret(name: str = "tls", **extra: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **extra}


def ingress(*paths: Obj, host: str = "web.example.com") -> Obj:
    rule = {"host": host, "http": {"paths": list(paths)}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {"rules": [rule]},
    }


def without_selector() -> Obj:
    obj = deployment()
    del obj["spec"]["selector"]
    return obj


def with_containers(*containers: Obj) -> Obj:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"] = list(containers)
    return obj


RFC1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
RFC1035_LABEL = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
    "is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
RFC1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
NOT_MATCHING = "`selector` does not match template `labels`"

# (path, object, the message after `<Kind> "<name>" is invalid: `)
REFUSED = [
    pytest.param(
        DEPLOYMENTS,
        without_selector(),
        'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template.metadata.labels: '
        f'Invalid value: map[string]string{{"app":"web"}}: {NOT_MATCHING}]',
        id="deployment-without-selector",
    ),
    pytest.param(
        DEPLOYMENTS,
        deployment(selector={"matchLabels": {"app": "api"}}),
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        f'map[string]string{{"app":"web"}}: {NOT_MATCHING}',
        id="deployment-selector-not-matching",
    ),
    pytest.param(
        "/apis/apps/v1/namespaces/default/statefulsets",
        workload("StatefulSet", selector={"matchLabels": {"app": "db"}}),
        'StatefulSet.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        f'map[string]string{{"app":"web"}}: {NOT_MATCHING}',
        id="statefulset-selector-not-matching",
    ),
    pytest.param(
        "/apis/apps/v1/namespaces/default/daemonsets",
        workload("DaemonSet", selector={"matchLabels": {"app": "agent"}}),
        'DaemonSet.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        f'map[string]string{{"app":"web"}}: {NOT_MATCHING}',
        id="daemonset-selector-not-matching",
    ),
    pytest.param(
        "/apis/apps/v1/namespaces/default/replicasets",
        workload("ReplicaSet", selector={"matchLabels": {"app": "other"}}),
        'ReplicaSet.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        f'map[string]string{{"app":"web"}}: {NOT_MATCHING}',
        id="replicaset-selector-not-matching",
    ),
    pytest.param(
        DEPLOYMENTS,
        with_containers({"name": "web"}),
        'Deployment.apps "web" is invalid: spec.template.spec.containers[0].image: Required value',
        id="container-without-image",
    ),
    pytest.param(
        DEPLOYMENTS,
        with_containers({"name": "Web_1", "image": "nginx:1.27"}),
        f'Deployment.apps "web" is invalid: spec.template.spec.containers[0].name: Invalid value: "Web_1": '
        f"{RFC1123_LABEL}",
        id="container-name-not-a-label",
    ),
    pytest.param(
        DEPLOYMENTS,
        with_containers({"name": "web", "image": "nginx", "ports": [{"containerPort": 70000}]}),
        'Deployment.apps "web" is invalid: spec.template.spec.containers[0].ports[0].containerPort: '
        "Invalid value: 70000: must be between 1 and 65535, inclusive",
        id="container-port-out-of-range",
    ),
    pytest.param(
        "/api/v1/namespaces/default/services",
        service({"name": "http", "port": 70000}),
        'Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
        id="service-port-out-of-range",
    ),
    pytest.param(
        "/api/v1/namespaces/default/services",
        service({"name": "http", "port": 80}, {"name": "http", "port": 8080}),
        'Service "web" is invalid: spec.ports[1].name: Duplicate value: "http"',
        id="service-duplicate-port-names",
    ),
    pytest.param(
        "/api/v1/namespaces/default/services",
        service({"port": 80}, {"name": "metrics", "port": 9090}),
        'Service "web" is invalid: spec.ports[0].name: Required value',
        id="service-unnamed-port-among-several",
    ),
    pytest.param(
        "/api/v1/namespaces/default/configmaps",
        configmap(data={"a/b": "1"}),
        'ConfigMap "settings" is invalid: data[a/b]: Invalid value: "a/b": a valid config key must consist of '
        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
        "for validation is '[-._a-zA-Z0-9]+')",
        id="configmap-key-with-slash",
    ),
    pytest.param(
        "/api/v1/namespaces/default/secrets",
        secret(type="kubernetes.io/tls", stringData={"tls.crt": "PEM"}),
        'Secret "tls" is invalid: data[tls.key]: Required value',
        id="tls-secret-without-key",
    ),
    pytest.param(
        "/apis/batch/v1/namespaces/default/jobs",
        job(restart="Always"),
        'Job.batch "once" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": '
        'supported values: "OnFailure", "Never"',
        id="job-restart-always",
    ),
    pytest.param(
        "/apis/batch/v1/namespaces/default/jobs",
        job(restart=None),
        'Job.batch "once" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": '
        'supported values: "OnFailure", "Never"',
        id="job-restart-defaults-to-always",
    ),
    pytest.param(
        "/api/v1/namespaces/default/configmaps",
        configmap(name="Web.Settings"),
        f'ConfigMap "Web.Settings" is invalid: metadata.name: Invalid value: "Web.Settings": {RFC1123_SUBDOMAIN}',
        id="name-not-a-subdomain",
    ),
    pytest.param(
        "/api/v1/namespaces/default/services",
        service({"port": 80}, name="web.api"),
        f'Service "web.api" is invalid: metadata.name: Invalid value: "web.api": {RFC1035_LABEL}',
        id="service-name-not-a-label",
    ),
    pytest.param(
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        ingress({"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}),
        'Ingress.networking.k8s.io "web" is invalid: spec.rules[0].http.paths[0].pathType: Required value: '
        "pathType must be specified",
        id="ingress-without-path-type",
    ),
    pytest.param(
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        ingress({"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {}}}}),
        'Ingress.networking.k8s.io "web" is invalid: [spec.rules[0].http.paths[0].path: Invalid value: "api": '
        "must be an absolute path, spec.rules[0].http.paths[0].backend: Required value: port name or number is "
        "required]",
        id="ingress-relative-path-no-port",
    ),
]


@pytest.mark.parametrize(("path", "obj", "message"), REFUSED)
async def test_refused_like_a_real_server(api: Api, path: str, obj: Obj, message: str) -> None:
    status, body, _ = await api.call("POST", path, obj)
    assert (status, body["reason"], body["code"]) == (422, "Invalid", 422)
    assert body["message"] == message
    details = body["details"]
    assert details["name"] == obj["metadata"]["name"] and details["kind"] == obj["kind"]
    # kubectl prints `<field>: <message>` for each cause: each must read as the server's error
    texts = [f"{c['field']}: {c['message']}" for c in details["causes"]]
    assert message.split(" is invalid: ", 1)[1].strip("[]") == ", ".join(texts)
    status, _, _ = await api.call("GET", f"{path}/{obj['metadata']['name']}")
    assert status == 404  # nothing was stored


async def test_every_error_is_reported_at_once(api: Api) -> None:
    obj = with_containers({"name": "Web_1"}, {"name": "sidecar", "image": "envoy", "ports": [{"containerPort": 0}]})
    obj["spec"]["selector"] = {"matchLabels": {"app": "api"}}
    status, body, _ = await api.call("POST", DEPLOYMENTS, obj)
    assert status == 422
    causes = {(c["field"], c["reason"]) for c in body["details"]["causes"]}
    assert causes == {
        ("spec.template.metadata.labels", "FieldValueInvalid"),
        ("spec.template.spec.containers[0].name", "FieldValueInvalid"),
        ("spec.template.spec.containers[0].image", "FieldValueRequired"),
        ("spec.template.spec.containers[1].ports[0].containerPort", "FieldValueRequired"),
    }
    assert body["message"].startswith('Deployment.apps "web" is invalid: [spec.template.metadata.labels: ')


async def test_a_valid_job_gets_its_selector_from_the_server(api: Api) -> None:
    status, body, _ = await api.call("POST", "/apis/batch/v1/namespaces/default/jobs", job())
    assert status == 201
    uid = body["metadata"]["uid"]
    assert body["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert body["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "once"


# ----------------------------------------------------------------------------- immutable fields

SELECTOR_IMMUTABLE = (
    'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
    'map[string]string{"app":"web", "tier":"front"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
    "field is immutable"
)


def relabelled() -> Obj:
    obj = deployment()
    labels = {"app": "web", "tier": "front"}
    obj["spec"]["selector"]["matchLabels"] = labels
    obj["spec"]["template"]["metadata"]["labels"] = labels
    return obj


@pytest.mark.parametrize("verb", ["replace", "apply", "merge-patch"])
async def test_deployment_selector_is_immutable(api: Api, verb: str) -> None:
    assert (await api.call("POST", DEPLOYMENTS, deployment()))[0] == 201
    changed = relabelled()
    if verb == "replace":
        status, body, _ = await api.call("PUT", f"{DEPLOYMENTS}/web", changed)
    elif verb == "apply":
        status, body, _ = await api.call("PATCH", f"{DEPLOYMENTS}/web", changed, APPLY, fieldManager="t", force="true")
    else:
        status, body, _ = await api.call("PATCH", f"{DEPLOYMENTS}/web", {"spec": changed["spec"]}, MERGE)
    assert (status, body["reason"], body["message"]) == (422, "Invalid", SELECTOR_IMMUTABLE)


async def test_statefulset_only_some_fields_change(api: Api) -> None:
    path = "/apis/apps/v1/namespaces/default/statefulsets"
    assert (await api.call("POST", path, workload("StatefulSet")))[0] == 201
    status, body, _ = await api.call("PATCH", f"{path}/web", {"spec": {"replicas": 3}}, MERGE)
    assert status == 200
    for change in ({"serviceName": "other"}, {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]}):
        status, body, _ = await api.call("PATCH", f"{path}/web", {"spec": change}, MERGE)
        assert status == 422
        assert body["message"] == (
            'StatefulSet.apps "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than '
            "'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
            "'minReadySeconds' are forbidden"
        )


async def test_service_cluster_ip_may_not_change(api: Api) -> None:
    path = "/api/v1/namespaces/default/services"
    status, created, _ = await api.call("POST", path, service({"name": "http", "port": 80}))
    assert status == 201
    ip = created["spec"]["clusterIP"]
    status, body, _ = await api.call("PATCH", f"{path}/web", {"spec": {"clusterIP": "10.152.183.250"}}, MERGE)
    assert status == 422
    assert body["message"] == (
        'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.152.183.250"}: '
        "may not change once set"
    )
    # re-applying without the allocated address keeps it
    status, body, _ = await api.call("PUT", f"{path}/web", service({"name": "http", "port": 81}))
    assert status == 200 and body["spec"]["clusterIP"] == ip


async def test_job_template_and_selector_are_immutable(api: Api) -> None:
    path = "/apis/batch/v1/namespaces/default/jobs"
    status, created, _ = await api.call("POST", path, job())
    assert status == 201
    template = created["spec"]["template"]
    template["spec"]["containers"][0]["image"] = "busybox:1.37"
    status, body, _ = await api.call("PATCH", f"{path}/once", {"spec": {"template": template}}, MERGE)
    assert status == 422 and body["message"].startswith('Job.batch "once" is invalid: spec.template: Invalid value: ')
    assert body["message"].endswith(": field is immutable")
    selector = {"matchLabels": {"batch.kubernetes.io/controller-uid": "another"}}
    status, body, _ = await api.call("PATCH", f"{path}/once", {"spec": {"selector": selector}}, MERGE)
    assert status == 422 and "spec.selector: Invalid value: v1.LabelSelector{" in body["message"]
    assert "field is immutable" in body["message"]


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
async def test_immutable_data_stays(api: Api, kind: str) -> None:
    plural = kind.lower() + "s"
    path = f"/api/v1/namespaces/default/{plural}"
    obj = configmap(immutable=True) if kind == "ConfigMap" else secret("creds", data={"a": "MQ=="}, immutable=True)
    name = obj["metadata"]["name"]
    assert (await api.call("POST", path, obj))[0] == 201
    why = "Forbidden: field is immutable when `immutable` is set"
    status, body, _ = await api.call("PATCH", f"{path}/{name}", {"data": {"a": "Mg=="}}, MERGE)
    assert status == 422 and body["message"] == f'{kind} "{name}" is invalid: data: {why}'
    status, body, _ = await api.call("PATCH", f"{path}/{name}", {"immutable": False}, MERGE)
    assert status == 422 and body["message"] == f'{kind} "{name}" is invalid: immutable: {why}'
    status, _, _ = await api.call("PATCH", f"{path}/{name}", {"metadata": {"labels": {"x": "y"}}}, MERGE)
    assert status == 200  # metadata stays mutable


# ----------------------------------------------------------------------------- unknown fields


async def test_unknown_fields_warn_by_default_and_are_dropped(api: Api) -> None:
    obj = service({"name": "http", "port": 80})
    obj["spec"]["x"] = 1
    status, body, headers = await api.call("POST", "/api/v1/namespaces/default/services", obj)
    assert status == 201 and "x" not in body["spec"]
    assert headers.getall("Warning") == ['299 - "unknown field \\"spec.x\\""']
    status, body, _ = await api.call("GET", "/api/v1/namespaces/default/services/web")
    assert "x" not in body["spec"]


async def test_a_workload_name_that_is_no_dns_label_is_warned_about(api: Api) -> None:
    status, _, headers = await api.call("POST", DEPLOYMENTS, deployment("web.v2"))
    assert status == 201
    assert headers.getall("Warning") == [
        f"299 - {json.dumps('metadata.name: a DNS label is recommended: [' + RFC1123_LABEL + ']')}"
    ]
    status, _, headers = await api.call("POST", DEPLOYMENTS, deployment("web-v2"))
    assert status == 201 and "Warning" not in headers


async def test_unknown_fields_strict_is_refused(api: Api) -> None:
    obj = service({"name": "http", "port": 80})
    obj["spec"]["x"] = 1
    status, body, _ = await api.call("POST", "/api/v1/namespaces/default/services", obj, fieldValidation="Strict")
    assert (status, body["reason"]) == (400, "BadRequest")
    assert (
        body["message"]
        == 'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.x"'
    )
    assert (await api.call("GET", "/api/v1/namespaces/default/services/web"))[0] == 404
    obj["spec"].pop("x")
    assert (await api.call("POST", "/api/v1/namespaces/default/services", obj))[0] == 201
    status, body, _ = await api.call(
        "PATCH", "/api/v1/namespaces/default/services/web", {"spec": {"y": 2}}, MERGE, fieldValidation="Strict"
    )
    assert (status, body["message"]) == (400, 'strict decoding error: unknown field "spec.y"')


async def test_unknown_fields_ignore_drops_silently(api: Api) -> None:
    obj = configmap(datta={"x": "y"})
    status, body, headers = await api.call(
        "POST", "/api/v1/namespaces/default/configmaps", obj, fieldValidation="Ignore"
    )
    assert status == 201 and "datta" not in body and "Warning" not in headers


async def test_server_side_apply_refuses_unknown_fields(api: Api) -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    status, body, _ = await api.call("PATCH", f"{DEPLOYMENTS}/web", obj, APPLY, fieldManager="t")
    assert status == 500
    assert body["message"] == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers[name="web"].imagePullPolicyy: field not declared in schema'
    )


# ----------------------------------------------------------------------------- namespaces


async def test_deleted_namespace_terminates_and_refuses_new_content(tmp_path: Path) -> None:
    # speed: the namespace controller takes minutes here, so it is seen Terminating
    async with KubeApiEmulator(state_dir=tmp_path, speed=0.001) as emu, trusting(emu) as session:
        api = Api(emu, session)
        assert (await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "apps"}}))[0] == 201
        cms = "/api/v1/namespaces/apps/configmaps"
        assert (await api.call("POST", cms, configmap()))[0] == 201
        status, body, _ = await api.call("DELETE", "/api/v1/namespaces/apps")
        assert status == 200 and body["kind"] == "Namespace" and body["status"]["phase"] == "Terminating"
        assert body["metadata"]["deletionTimestamp"]
        status, body, _ = await api.call("POST", cms, configmap("late"))
        assert (status, body["reason"]) == (403, "Forbidden")
        assert body["message"] == (
            'configmaps "late" is forbidden: unable to create new content in namespace apps because it is being '
            "terminated"
        )
        assert body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
        status, body, _ = await api.call("PATCH", f"{cms}/late", configmap("late"), APPLY, fieldManager="t")
        assert status == 403  # an apply that would create is a create
        status, body, _ = await api.call("PATCH", f"{cms}/settings", {"data": {"b": "2"}}, MERGE)
        assert status == 200  # what is there can still change
        last = body["metadata"]["resourceVersion"]
        status, body, _ = await api.call("DELETE", "/api/v1/namespaces/apps")
        assert status == 409 and "The system is ensuring all content is removed" in body["message"]
    # The lab stops with the namespace still terminating; started again, it finishes the job.
    async with KubeApiEmulator(state_dir=tmp_path) as emu, trusting(emu) as session:
        api = Api(emu, session)
        await api.watch_until("/api/v1/namespaces", "apps", lambda kind, _: kind == "DELETED", last)
        assert (await api.call("GET", "/api/v1/namespaces/apps/configmaps/settings"))[0] == 404


async def test_deleted_namespace_is_emptied_then_gone(api: Api) -> None:
    assert (await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "apps"}}))[0] == 201
    assert (await api.call("POST", "/api/v1/namespaces/apps/configmaps", configmap()))[0] == 201
    assert (await api.call("POST", "/api/v1/namespaces/apps/secrets", secret("s", data={"a": "MQ=="})))[0] == 201
    status, body, _ = await api.call("DELETE", "/api/v1/namespaces/apps")
    assert status == 200
    since = body["metadata"]["resourceVersion"]
    await api.watch_until("/api/v1/namespaces", "apps", lambda kind, _: kind == "DELETED", since)
    assert (await api.call("GET", "/api/v1/namespaces/apps"))[0] == 404
    assert (await api.call("GET", "/api/v1/namespaces/apps/configmaps/settings"))[0] == 404
    assert (await api.call("GET", "/api/v1/namespaces/apps/secrets/s"))[0] == 404
    assert (await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "apps"}}))[0] == 201  # a new one


# ----------------------------------------------------------------------------- patches


@pytest.mark.parametrize(
    ("patch", "ctype"),
    [
        ({"spec": {"replicas": "two"}}, MERGE),  # refused by the schema: the old emulator's case too
        ({"spec": {"selector": {"matchLabels": {"app": "api"}}}}, MERGE),
        ({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": None}]}}}}, STRATEGIC),
        (
            [{"op": "replace", "path": "/spec/template/spec/containers/0/name", "value": "Web_1"}],
            "application/json-patch+json",
        ),
    ],
    ids=["merge-type", "merge-immutable", "strategic", "json"],
)
async def test_a_refused_patch_changes_nothing(api: Api, patch: Any, ctype: str) -> None:
    assert (await api.call("POST", DEPLOYMENTS, deployment()))[0] == 201
    before = await api.raw(f"{DEPLOYMENTS}/web")
    status, _, _ = await api.call("PATCH", f"{DEPLOYMENTS}/web", patch, ctype)
    assert status == 422
    assert await api.raw(f"{DEPLOYMENTS}/web") == before


def rolled_out(obj: Obj) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"]["generation"] and status.get("updatedReplicas") == 1


async def test_rollout_completes_after_a_merge_patch(api: Api) -> None:
    assert (await api.call("POST", DEPLOYMENTS, deployment()))[0] == 201
    await api.watch_until(DEPLOYMENTS, "web", lambda _, o: rolled_out(o))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}
    status, body, _ = await api.call("PATCH", f"{DEPLOYMENTS}/web", patch, MERGE)
    assert status == 200 and body["metadata"]["generation"] == 2
    done = await api.watch_until(DEPLOYMENTS, "web", lambda _, o: o["metadata"]["generation"] == 2 and rolled_out(o))
    assert done["status"]["observedGeneration"] == 2


async def test_strategic_merge_merges_lists_by_their_keys(api: Api) -> None:
    path = "/api/v1/namespaces/default/services"
    ports = ({"name": "http", "port": 80, "targetPort": 8080}, {"name": "metrics", "port": 9090})
    assert (await api.call("POST", path, service(*ports)))[0] == 201
    status, body, _ = await api.call(
        "PATCH", f"{path}/web", {"spec": {"ports": [{"port": 80, "targetPort": 8081}]}}, STRATEGIC
    )
    assert status == 200
    assert [(p["name"], p["port"], p.get("targetPort")) for p in body["spec"]["ports"]] == [
        ("http", 80, 8081),
        ("metrics", 9090, None),
    ]
    status, body, _ = await api.call(
        "PATCH", f"{path}/web", {"spec": {"ports": [{"port": 9090, "$patch": "delete"}]}}, STRATEGIC
    )
    assert status == 200 and [p["name"] for p in body["spec"]["ports"]] == ["http"]
    # the same patch as a JSON merge patch replaces the list
    status, body, _ = await api.call("PATCH", f"{path}/web", {"spec": {"ports": [{"port": 81}]}}, MERGE)
    assert status == 200 and [p["port"] for p in body["spec"]["ports"]] == [81]


async def test_strategic_merge_of_containers_env_and_mounts(api: Api) -> None:
    obj = with_containers(
        {"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}]},
        {"name": "sidecar", "image": "envoy"},
    )
    assert (await api.call("POST", DEPLOYMENTS, obj))[0] == 201
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                    "containers": [{"name": "web", "env": [{"name": "B", "value": "2"}]}],
                }
            }
        }
    }
    status, body, headers = await api.call("PATCH", f"{DEPLOYMENTS}/web", patch, STRATEGIC)
    assert status == 200 and "Warning" not in headers
    containers = body["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "sidecar"]
    assert containers[0]["image"] == "nginx" and [e["name"] for e in containers[0]["env"]] == ["A", "B"]
    replace = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}}}}
    status, body, _ = await api.call("PATCH", f"{DEPLOYMENTS}/web", replace, STRATEGIC)
    assert status == 200 and [c["name"] for c in body["spec"]["template"]["spec"]["containers"]] == ["only"]


def binding(role: str) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "admins"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "Group", "name": "admins", "apiGroup": "rbac.authorization.k8s.io"}],
    }


def claim(size: str) -> Obj:
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": spec}


def storage_class(parameters: dict[str, str]) -> Obj:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fast"},
        "provisioner": "microk8s.io/hostpath",
        "parameters": parameters,
    }


@pytest.mark.parametrize(
    ("path", "first", "second", "message"),
    [
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            binding("view"),
            binding("edit"),
            'RoleBinding.rbac.authorization.k8s.io "admins" is invalid: roleRef: Invalid value: rbac.RoleRef'
            '{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef',
        ),
        (
            "/api/v1/namespaces/default/persistentvolumeclaims",
            claim("1Gi"),
            claim("2Gi"),
            'PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation except '
            "resources.requests and volumeAttributesClassName for bound claims",
        ),
        (
            "/apis/storage.k8s.io/v1/storageclasses",
            storage_class({"pvDir": "/a"}),
            storage_class({"pvDir": "/b"}),
            'StorageClass.storage.k8s.io "fast" is invalid: parameters: Forbidden: updates to parameters are forbidden.',
        ),
    ],
    ids=["rolebinding-roleref", "unbound-claim", "storageclass-parameters"],
)
async def test_other_immutable_fields(api: Api, path: str, first: Obj, second: Obj, message: str) -> None:
    assert (await api.call("POST", path, first))[0] == 201
    status, body, _ = await api.call("PUT", f"{path}/{first['metadata']['name']}", second)
    assert (status, body["message"]) == (422, message)


# ----------------------------------------------------------------------------- finalizers


async def test_finalizers_hold_an_object_and_its_namespace(api: Api) -> None:
    assert (await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "apps"}}))[0] == 201
    cms = "/api/v1/namespaces/apps/configmaps"
    held = configmap("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    assert (await api.call("POST", cms, held))[0] == 201
    assert (await api.call("POST", cms, configmap("free")))[0] == 201
    status, body, _ = await api.call("DELETE", f"{cms}/held")
    assert status == 200 and body["metadata"]["deletionTimestamp"]  # still there, marked
    assert (await api.call("GET", f"{cms}/held"))[0] == 200
    status, body, _ = await api.call(
        "PATCH", f"{cms}/held", {"metadata": {"finalizers": ["a", "example.com/hold"]}}, MERGE
    )
    assert (status, body["message"]) == (
        422,
        'ConfigMap "held" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object '
        'is being deleted, found new finalizers []string{"a"}',
    )
    # The namespace goes Terminating, loses what nothing holds, and waits for the rest.
    status, body, _ = await api.call("DELETE", "/api/v1/namespaces/apps")
    assert status == 200
    waiting = await api.watch_until(
        "/api/v1/namespaces",
        "apps",
        lambda _, o: any(c["type"] == "NamespaceFinalizersRemaining" for c in o["status"].get("conditions", [])),
        body["metadata"]["resourceVersion"],
    )
    assert waiting["status"]["phase"] == "Terminating"
    assert "example.com/hold in 1 resource instances" in waiting["status"]["conditions"][1]["message"]
    assert (await api.call("GET", f"{cms}/free"))[0] == 404
    assert (await api.call("GET", f"{cms}/held"))[0] == 200
    status, _, _ = await api.call("PATCH", f"{cms}/held", {"metadata": {"finalizers": None}}, MERGE)
    assert status == 200
    assert (await api.call("GET", f"{cms}/held"))[0] == 404  # its last finalizer gone, so is it
    since = waiting["metadata"]["resourceVersion"]
    await api.watch_until("/api/v1/namespaces", "apps", lambda kind, _: kind == "DELETED", since)


async def test_custom_resources_take_no_strategic_merge_patch(api: Api) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    assert (await api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd))[0] == 201
    path = "/apis/example.com/v1/namespaces/default/widgets"
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": [1]}}
    assert (await api.call("POST", path, widget))[0] == 201
    status, body, _ = await api.call("PATCH", f"{path}/w", {"spec": {"a": [2]}}, STRATEGIC)
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")
    assert body["message"].startswith("the body of the request was in an unknown format - accepted media types")
    status, body, _ = await api.call("PATCH", f"{path}/w", {"spec": {"a": [2]}}, MERGE)
    assert status == 200 and body["spec"] == {"a": [2]}
