"""A small Kubernetes client for installers, on kubernetes-asyncio.

Installers build objects as plain dicts and apply them with server-side apply, so a re-run
converges instead of failing on "already exists". Resources are found through the API's own
discovery documents (so CRD-backed kinds work once their CRD is in), and waits follow the
object with a watch instead of polling, like `kubectl rollout status` and `kubectl wait`.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

FIELD_MANAGER = "thinkube-tui"
# Unknown fields (a misspelt key) are refused, not dropped with a warning as a server's default
# (Warn) would: an installer's typo must fail where it is made.
STRICT = ("fieldValidation", "Strict")
UNAVAILABLE_PATIENCE_S = 120.0  # an API server restart (MicroK8s kubelite) takes well under this
Obj = dict[str, Any]


class KubeError(Exception):
    """An API call failed; the message names the object and the API server's reason."""


class KubeConflict(KubeError):
    """409: the object exists already (create) or changed since it was read (replace)."""


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    body: Any  # parsed JSON when the backend sent JSON, else the text

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Kube:
    def __init__(self, api_client: Any) -> None:
        self._api = api_client
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    @classmethod
    async def from_kubeconfig(cls, text: str) -> Kube:
        from kubernetes_asyncio import client, config

        data = yaml.safe_load(text)
        _require_verified_tls(data)
        configuration = client.Configuration()
        await config.load_kube_config_from_dict(data, client_configuration=configuration)
        if not configuration.verify_ssl:  # belt and braces: nothing above may switch it off
            raise KubeError("the kubeconfig turns TLS verification off; refusing to use it")
        return cls(client.ApiClient(configuration))

    async def close(self) -> None:
        await self._api.close()

    # ------------------------------------------------------------ raw calls

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        from kubernetes_asyncio.client.exceptions import ApiException

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            return await self._while_unavailable(
                lambda: self._api.call_api(
                    path,
                    method,
                    query_params=query or [],
                    header_params=headers,
                    body=body,
                    response_types_map={200: "object", 201: "object"},
                    auth_settings=["BearerToken"],
                    _return_http_data_only=True,
                )
            )
        except ApiException as exc:
            raise (KubeConflict if exc.status == 409 else KubeError)(_reason(exc, method, path)) from None

    async def _while_unavailable(self, request: Callable[[], Any]) -> Any:
        """Run `request`, riding out a restarting API server (e.g. after its flags changed)."""
        import aiohttp

        delay, waited = 0.5, 0.0
        while True:
            try:
                return await request()
            except aiohttp.ClientConnectorCertificateError as exc:  # not a restart: never retried
                host = self._api.configuration.host
                raise KubeError(
                    f"the Kubernetes API server at {host} failed TLS verification "
                    f"({exc.certificate_error}); its certificate must be signed by the kubeconfig's CA and name "
                    "the server's address -- take the kubeconfig from `microk8s config` on the control node again"
                ) from None
            except (aiohttp.ClientConnectionError, ConnectionError) as exc:
                if waited >= UNAVAILABLE_PATIENCE_S:
                    host = self._api.configuration.host
                    raise KubeError(
                        f"the Kubernetes API server at {host} does not answer ({type(exc).__name__}) "
                        f"after {waited:.0f} s; check `microk8s status` on the control node"
                    ) from None
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)

    async def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) for a kind, from the API's discovery document."""
        if api_version not in self._resources or kind not in self._resources[api_version]:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                doc = await self._call("GET", base)
            except KubeError as exc:
                if "NotFound" not in str(exc):
                    raise
                doc = {}
            self._resources[api_version] = {
                r["kind"]: (r["name"], bool(r["namespaced"])) for r in doc.get("resources", []) if "/" not in r["name"]
            }
        try:
            return self._resources[api_version][kind]
        except KeyError:
            raise KubeError(f"the API server does not serve {kind} ({api_version}); is its CRD installed?") from None

    async def _path(self, api_version: str, kind: str, name: str | None, namespace: str | None) -> str:
        plural, namespaced = await self._resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced:
            base += f"/namespaces/{namespace or 'default'}"
        return f"{base}/{plural}" + (f"/{name}" if name else "")

    # ------------------------------------------------------------ objects

    async def apply(self, obj: Obj, *, field_manager: str = FIELD_MANAGER) -> Obj:
        """Server-side apply: create or converge `obj`; fields this manager set before and
        no longer sets are removed."""
        meta = obj["metadata"]
        path = await self._path(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        result: Obj = await self._call(
            "PATCH",
            path,
            query=[("fieldManager", field_manager), ("force", "true"), STRICT],
            body=obj,
            content_type="application/apply-patch+yaml",
        )
        return result

    async def create(self, obj: Obj) -> Obj:
        """Create `obj`; `KubeConflict` when it exists already (a compare-and-swap on absence)."""
        meta = obj["metadata"]
        path = await self._path(obj["apiVersion"], obj["kind"], None, meta.get("namespace"))
        result: Obj = await self._call("POST", path, query=[STRICT], body=obj)
        return result

    async def replace(self, obj: Obj) -> Obj:
        """Replace `obj` whole; with `metadata.resourceVersion` set, `KubeConflict` when the object
        changed since it was read (optimistic concurrency, as leader election uses for Leases)."""
        meta = obj["metadata"]
        path = await self._path(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        result: Obj = await self._call("PUT", path, query=[STRICT], body=obj)
        return result

    async def merge_patch(self, api_version: str, kind: str, name: str, namespace: str | None, patch: Obj) -> Obj:
        """A JSON merge patch, for fields other controllers share (e.g. a node's taints)."""
        result: Obj = await self._call(
            "PATCH",
            await self._path(api_version, kind, name, namespace),
            query=[STRICT],
            body=patch,
            content_type="application/merge-patch+json",
        )
        return result

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        try:
            result: Obj = await self._call("GET", await self._path(api_version, kind, name, namespace))
        except KubeError as exc:
            if "NotFound" in str(exc):
                return None
            raise
        return result

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        query = [("labelSelector", label_selector)] if label_selector else []
        query += [("fieldSelector", field_selector)] if field_selector else []
        result = await self._call("GET", await self._path(api_version, kind, None, namespace), query=query)
        items: list[Obj] = result.get("items", [])
        return items

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        # What `kubectl delete` asks for: dependents (a Job's pods) go too, in the background.
        query = [("propagationPolicy", "Background")]
        try:
            await self._call("DELETE", await self._path(api_version, kind, name, namespace), query=query)
        except KubeError as exc:
            if "NotFound" in str(exc):
                return False
            raise
        return True

    async def evict(self, name: str, namespace: str) -> None:
        """Evict a pod (policy/v1 Eviction, as `kubectl drain`): KubeError with TooManyRequests
        while a PodDisruptionBudget allows no disruption; a pod already gone is fine."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        path = f"{await self._path('v1', 'Pod', name, namespace)}/eviction"
        try:
            await self._call("POST", path, body=body)
        except KubeError as exc:
            if "NotFound" not in str(exc):
                raise

    # ------------------------------------------------------------ HTTP into the cluster

    async def proxy(
        self,
        method: str,
        namespace: str,
        target: str,
        port: int,
        path: str,
        *,
        kind: str = "services",
        query: builtins.list[tuple[str, str]] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> ProxyResponse:
        """One plain-HTTP request to a Service or pod, through the API server's proxy.

        The installer's machine reaches the API server but not pod or Service addresses:
        /api/v1/namespaces/NS/{services|pods}/http:NAME:PORT/proxy/PATH
        (https://kubernetes.io/docs/tasks/access-application-cluster/access-cluster-services/).
        The API server consumes `Authorization`, so backends must take credentials in another
        header (Vault: X-Vault-Token). Bodies are never logged or put in errors: they carry keys.
        """
        path = f"/api/v1/namespaces/{namespace}/{kind}/http:{target}:{port}/proxy/{path.lstrip('/')}"
        header_params = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            header_params["Content-Type"] = "application/json"
        try:  # an API server restarting (its flags changed) is waited out, as for every other call
            raw = await self._while_unavailable(
                lambda: self._api.call_api(
                    path,
                    method,
                    query_params=list(query or []),
                    header_params=header_params,
                    body=body,
                    auth_settings=["BearerToken"],
                    _preload_content=False,
                    _request_timeout=timeout,
                )
            )
        except KubeError:
            raise
        except Exception as exc:  # TLS, timeouts: never echo the body we sent
            raise KubeError(
                f"{method} {kind}/{target}:{port} in {namespace} through the API server proxy "
                f"failed: {type(exc).__name__}"
            ) from None
        try:
            data = await raw.read()
            status = int(raw.status)
        finally:
            raw.release()
        text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
        try:
            parsed: Any = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = text
        return ProxyResponse(status, parsed)

    # ------------------------------------------------------------ waiting

    async def wait_for(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        ready: Callable[[Obj], bool],
        *,
        timeout: float,
        what: str,
    ) -> Obj:
        """Wait until `ready(obj)` holds, following the object with a watch."""
        deadline = time.monotonic() + timeout
        path = await self._path(api_version, kind, None, namespace)
        last: Obj | None = None
        while True:
            last = await self.get(api_version, kind, name, namespace)
            if last is not None and ready(last):
                return last
            left = deadline - time.monotonic()
            if left <= 0:
                state = json.dumps(last.get("status", {}))[:300] if last else "it does not exist"
                raise KubeError(f"{what}: not ready after {timeout:g} s (status: {state})")
            rv = (last or {}).get("metadata", {}).get("resourceVersion")
            found = await self._watch(path, name, rv, min(left, 60), ready)
            if found is not None:
                return found

    async def wait_gone(
        self, api_version: str, kind: str, name: str, namespace: str | None, *, timeout: float, what: str
    ) -> None:
        """Wait until the object no longer exists (a namespace's finalizers have run), following it
        with a watch, as `kubectl wait --for=delete`."""
        deadline = time.monotonic() + timeout
        path = await self._path(api_version, kind, None, namespace)
        while (last := await self.get(api_version, kind, name, namespace)) is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                state = json.dumps(last.get("status", {}))[:300]
                raise KubeError(f"{what}: still there after {timeout:g} s (status: {state})")
            rv = last.get("metadata", {}).get("resourceVersion")
            if await self._watch(path, name, rv, min(left, 60), lambda _obj: False, until_deleted=True) is not None:
                return

    async def _watch(
        self,
        path: str,
        name: str,
        rv: str | None,
        seconds: float,
        ready: Callable[[Obj], bool],
        *,
        until_deleted: bool = False,
    ) -> Obj | None:
        import aiohttp

        query = [
            ("watch", "true"),
            ("fieldSelector", f"metadata.name={name}"),
            ("timeoutSeconds", str(max(1, int(seconds)))),
        ]
        if rv:
            query.append(("resourceVersion", rv))
        response = await self._while_unavailable(
            lambda: self._api.call_api(
                path,
                "GET",
                query_params=query,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=seconds + 5,
            )
        )
        try:
            async with asyncio.timeout(seconds + 5):
                async for raw in response.content:
                    if not raw.strip():
                        continue
                    event = json.loads(raw)
                    if event.get("type") in ("ADDED", "MODIFIED") and ready(event["object"]):
                        return dict(event["object"])
                    if until_deleted and event.get("type") == "DELETED":
                        return dict(event["object"])
        except TimeoutError:
            pass
        except (aiohttp.ClientError, ConnectionError):
            pass  # the stream broke (an API server restart): the caller reads the object again
        finally:
            response.release()
        return None

    async def wait_rollout(self, kind: str, name: str, namespace: str, *, timeout: float = 600) -> Obj:
        """Like `kubectl rollout status`: the controller saw the latest spec and every replica is updated and ready."""
        return await self.wait_for(
            "apps/v1", kind, name, namespace, rolled_out, timeout=timeout, what=f"{kind} {namespace}/{name}"
        )

    async def wait_node_ready(self, name: str, *, timeout: float = 600) -> Obj:
        return await self.wait_for("v1", "Node", name, None, node_ready, timeout=timeout, what=f"node {name}")


def rolled_out(obj: Mapping[str, Any]) -> bool:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    if status.get("observedGeneration", 0) < obj.get("metadata", {}).get("generation", 0):
        return False
    if obj.get("kind") == "DaemonSet":
        want = status.get("desiredNumberScheduled", 0)
        return bool(status.get("updatedNumberScheduled", 0) >= want and status.get("numberReady", 0) >= want)
    want = spec.get("replicas", 1)
    return bool(status.get("updatedReplicas", 0) >= want and status.get("readyReplicas", 0) >= want)


def node_ready(obj: Mapping[str, Any]) -> bool:
    conditions = obj.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _require_verified_tls(data: Any) -> None:
    """The API server must be reached over https and checked against the kubeconfig's CA (as
    `microk8s config` gives it): its credentials must never go to an unverified server."""
    try:
        current = next(c for c in data["contexts"] if c["name"] == data["current-context"])
        cluster = next(c for c in data["clusters"] if c["name"] == current["context"]["cluster"])["cluster"]
    except (KeyError, TypeError, StopIteration):
        raise KubeError(
            "the kubeconfig has no usable current context (is it the output of `microk8s config`?)"
        ) from None
    server = str(cluster.get("server", ""))
    if not server.startswith("https://"):
        raise KubeError(
            f"the kubeconfig's API server {server!r} is not https; MicroK8s serves its API on "
            "https://<node>:16443 -- use the kubeconfig `microk8s config` prints"
        )
    if cluster.get("insecure-skip-tls-verify"):
        raise KubeError("the kubeconfig sets insecure-skip-tls-verify; refusing to send credentials unverified")


def _reason(exc: Any, method: str, path: str) -> str:
    try:
        body = json.loads(exc.body)
        detail = f"{body.get('reason', '')}: {body.get('message', '')}"
    except (TypeError, ValueError):
        detail = str(exc.reason)
    return f"{method} {path}: {exc.status} {detail}"
