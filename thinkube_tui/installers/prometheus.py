"""5.9 Prometheus: the kube-prometheus-stack chart (Prometheus Operator, Prometheus,
Alertmanager, kube-state-metrics, node-exporter), Grafana left to its own component.

Values (chart README and values.yaml,
https://github.com/prometheus-community/helm-charts/tree/main/charts/kube-prometheus-stack;
PrometheusSpec fields: https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.PrometheusSpec):

- `fullnameOverride: kube-prometheus` and the sub-charts' `fullnameOverride`s give stable names:
  Deployment `kube-prometheus-operator`, Prometheus `kube-prometheus-prometheus` (Service of
  the same name on 9090, StatefulSet `prometheus-kube-prometheus-prometheus`), Alertmanager
  `kube-prometheus-alertmanager`, Deployment `kube-state-metrics`, DaemonSet `node-exporter`.
- `grafana.enabled: false`; `grafana.forceDeployDashboards` when the grafana component is in
  the Spec: the chart's dashboards as ConfigMaps (label `grafana_dashboard`) that Grafana's
  sidecar loads.
- `prometheus.prometheusSpec`: `retention`, `scrapeInterval`, a PVC of `storageSize`
  (`storageSpec.volumeClaimTemplate`), and the `*SelectorNilUsesHelmValues: false` switches, so
  Prometheus picks up every ServiceMonitor / PodMonitor / PrometheusRule / Probe /
  ScrapeConfig of the cluster, not only the ones labelled for this release.
- `prometheus-node-exporter.tolerations: [{operator: Exists}]`: node-exporter on every node,
  tainted GPU nodes included.
- MicroK8s runs the scheduler, controller manager and proxy inside `kubelite` and keeps its
  datastore in dqlite (no etcd pods): the chart's monitors for them would only ever report
  "down", so `kubeControllerManager`, `kubeScheduler`, `kubeProxy`, `kubeEtcd` are disabled.

Verified: the operator, kube-state-metrics and node-exporter roll out, node-exporter runs on
as many nodes as the Spec has, the Prometheus (and Alertmanager) resources report
`Available=True` and their StatefulSets are rolled out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import InstallContext
from .support.components import enabled
from .support.objects import condition, rollout, wait
from .support.uninstall import standard

FULLNAME = "kube-prometheus"
OPERATOR = f"{FULLNAME}-operator"
PROMETHEUS = f"{FULLNAME}-prometheus"  # the Prometheus resource and its Service
ALERTMANAGER = f"{FULLNAME}-alertmanager"
KUBE_STATE_METRICS = "kube-state-metrics"
NODE_EXPORTER = "node-exporter"
PROMETHEUS_PORT = 9090
MONITORING_API = "monitoring.coreos.com/v1"


def prometheus_url(namespace: str) -> str:
    """Where Prometheus answers inside the cluster (Grafana's data source)."""
    return f"http://{PROMETHEUS}.{namespace}.svc.cluster.local:{PROMETHEUS_PORT}"


def chart_values(ctx: InstallContext) -> dict[str, Any]:
    c = ctx.config
    spec: dict[str, Any] = {
        "retention": str(c["retention"]),
        "scrapeInterval": str(c["scrapeInterval"]),
        "storageSpec": {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": str(c["storageSize"])}},
                }
            }
        },
    }
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        spec[f"{kind}SelectorNilUsesHelmValues"] = False
    return {
        "fullnameOverride": FULLNAME,
        "grafana": {"enabled": False, "forceDeployDashboards": enabled(ctx, "grafana")},
        "prometheus": {"prometheusSpec": spec},
        "alertmanager": {"enabled": bool(c["alertmanager"])},
        "nodeExporter": {"enabled": bool(c["nodeExporter"])},
        "prometheus-node-exporter": {"fullnameOverride": NODE_EXPORTER, "tolerations": [{"operator": "Exists"}]},
        "kube-state-metrics": {"fullnameOverride": KUBE_STATE_METRICS},
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "kubeEtcd": {"enabled": False},
    }


def _available(obj: Mapping[str, Any]) -> bool:
    return condition(obj, "Available")


def _on_every_node(count: int) -> Any:
    def ready(ds: Mapping[str, Any]) -> bool:
        st = ds.get("status") or {}
        return int(st.get("desiredNumberScheduled") or 0) >= count and int(st.get("numberReady") or 0) >= int(
            st.get("desiredNumberScheduled") or 0
        )

    return ready


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    values = chart_values(ctx)
    await ctx.step("install kube-prometheus-stack", lambda: ctx.helm(values, timeout_s=900), timeout=1200)

    await rollout(ctx, "Deployment", OPERATOR, ns)
    await rollout(ctx, "Deployment", KUBE_STATE_METRICS, ns)
    if values["nodeExporter"]["enabled"]:
        nodes = len(ctx.spec.nodes)
        await rollout(ctx, "DaemonSet", NODE_EXPORTER, ns)
        await wait(
            ctx,
            "apps/v1",
            "DaemonSet",
            NODE_EXPORTER,
            ns,
            _on_every_node(nodes),
            timeout=300,
            what=f"node-exporter on all {nodes} nodes",
            hint=f"see `microk8s kubectl -n {ns} get pods -o wide -l app.kubernetes.io/name=prometheus-node-exporter`",
        )
        ctx.log(f"node-exporter runs on all {nodes} nodes")
    await wait(
        ctx,
        MONITORING_API,
        "Prometheus",
        PROMETHEUS,
        ns,
        _available,
        timeout=600,
        what=f"Prometheus {ns}/{PROMETHEUS} Available",
        hint=f"see `microk8s kubectl -n {ns} describe prometheus {PROMETHEUS}` and the operator's log",
    )
    await rollout(ctx, "StatefulSet", f"prometheus-{PROMETHEUS}", ns)
    if values["alertmanager"]["enabled"]:
        await wait(
            ctx,
            MONITORING_API,
            "Alertmanager",
            ALERTMANAGER,
            ns,
            _available,
            timeout=600,
            what=f"Alertmanager {ns}/{ALERTMANAGER} Available",
        )
        await rollout(ctx, "StatefulSet", f"alertmanager-{ALERTMANAGER}", ns)
    retention = values["prometheus"]["prometheusSpec"]["retention"]
    ctx.log(
        f"Prometheus is ready at {prometheus_url(ns)} (inside the cluster; its UI through Grafana or "
        f"`microk8s kubectl -n {ns} port-forward svc/{PROMETHEUS} 9090`); retention {retention}, volume "
        f"{ctx.config['storageSize']}; every ServiceMonitor/PodMonitor in the cluster is scraped"
    )


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx)
