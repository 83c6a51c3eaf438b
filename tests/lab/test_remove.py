"""`thinkube-tui remove` against the lab over real SSH: refusals that change nothing, the dry run,
removal in reverse dependency order (Helm releases, namespaces, the OIDC client's secret), the
journal and the cluster's copy of it, data kept without --purge, and nothing else touched."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from thinkube_lab.cluster import Lab
from thinkube_tui.cluster_state import NAME as STATE_CONFIGMAP
from thinkube_tui.cluster_state import NAMESPACE as STATE_NAMESPACE
from thinkube_tui.commands.remove import run as run_remove
from thinkube_tui.journal import Journal

SPEED = 0.01
FULL = Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml"


@pytest.fixture
async def installed(installed_lab):
    return await installed_lab({"valkey", "qdrant", "grafana"}, purge=False, yes=True, components=[])


def journal(args: argparse.Namespace) -> Journal:
    return Journal.open(args.state_dir / "thinkube-lab" / "journal.json")


def release_revisions(lab: Lab) -> dict[str, int]:
    return {key: int(r.get("revision") or 1) for key, r in lab.releases.items()}


async def test_a_component_still_required_is_refused_and_nothing_changes(installed, capsys) -> None:
    lab, args = installed
    before = release_revisions(lab)
    args.components = ["prometheus"]
    assert await run_remove(args) == 2
    err = capsys.readouterr().err
    assert "prometheus is required by grafana (installed)" in err
    assert "thinkube-tui remove grafana prometheus" in err and "nothing was changed" in err
    assert release_revisions(lab) == before
    assert "prometheus" in journal(args).installed

    args.components = ["coredns", "nope"]
    assert await run_remove(args) == 2
    err = capsys.readouterr().err
    assert "coredns: part of the platform's core" in err and "`thinkube-tui reset`" in err
    assert "nope: not a component" in err
    assert release_revisions(lab) == before


async def test_remove_takes_a_component_and_its_dependents_away_in_reverse_order(installed, capsys) -> None:
    lab, args = installed
    before = release_revisions(lab)
    assert "monitoring/grafana" in before and "monitoring/prometheus" in before
    assert lab.kube.get("v1", "Secret", "oidc-grafana", "keycloak") is not None

    args.components, args.dry_run, args.json = ["prometheus", "grafana"], True, False
    assert await run_remove(args) == 0
    dry = capsys.readouterr().out
    assert dry.index("[grafana] sudo microk8s helm3 uninstall grafana") < dry.index(
        "[prometheus] sudo microk8s helm3 uninstall prometheus"
    )
    assert release_revisions(lab) == before, "the dry run changes nothing"

    args.dry_run, args.json = False, True
    assert await run_remove(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["done"] == ["grafana", "prometheus"], report
    after = release_revisions(lab)
    assert "monitoring/grafana" not in after and "monitoring/prometheus" not in after
    assert lab.kube.get("v1", "Secret", "oidc-grafana", "keycloak") is None, "the OIDC client's secret is gone"
    assert lab.kube.get("v1", "Namespace", "monitoring") is None, "the namespace is gone, not just terminating"
    (log,) = (args.state_dir / "thinkube-lab" / "logs").glob("remove-*.log")
    assert "[grafana] | OIDC client grafana deleted from realm thinkube" in log.read_text()
    # nothing else touched
    assert after == {k: v for k, v in before.items() if not k.startswith("monitoring/")}
    installed = journal(args).installed
    assert not {"grafana", "prometheus"} & installed and {"valkey", "qdrant", "keycloak"} <= installed
    kube_copy = lab.kube.get("v1", "ConfigMap", STATE_CONFIGMAP, STATE_NAMESPACE)
    assert kube_copy is not None and '"grafana"' not in json.dumps(kube_copy["data"])
    assert not (args.state_dir / "thinkube-lab" / "remove.journal.json").exists(), "finished whole: no journal left"

    args.components = ["grafana"]
    assert await run_remove(args) == 0, "removing what is gone says so and succeeds"
    assert "grafana is not installed" in capsys.readouterr().err


async def test_data_stays_without_purge_and_goes_with_it(installed, capsys) -> None:
    lab, args = installed
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "qdrant-storage-qdrant-0", "namespace": "qdrant"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    lab.kube.put(claim)  # as the StatefulSet's volume claim template makes it
    args.components = ["qdrant"]
    assert await run_remove(args) == 0
    capsys.readouterr()
    assert "qdrant/qdrant" not in lab.releases
    assert lab.kube.get("v1", "PersistentVolumeClaim", "qdrant-storage-qdrant-0", "qdrant") is not None
    assert lab.kube.get("v1", "Secret", "qdrant-api-key", "qdrant") is not None, "the key that opens the data stays"
    assert "qdrant" not in journal(args).installed

    # installed again, it finds its key; removed with --purge, the namespace and its data go
    args.components = ["qdrant"]
    args.purge = True
    journal_now = journal(args)
    journal_now.started("qdrant", None)
    journal_now.finished("qdrant")
    assert await run_remove(args) == 0
    capsys.readouterr()
    assert lab.kube.get("v1", "Namespace", "qdrant") is None
    assert lab.kube.get("v1", "PersistentVolumeClaim", "qdrant-storage-qdrant-0", "qdrant") is None
