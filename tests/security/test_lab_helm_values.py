"""The lab keeps Helm values where real Helm does: in the release's Secret
(`sh.helm.release.v1.<name>.v<revision>`), not in the clear in its own state file; they come
back from there when the lab restarts."""

import json

from thinkube_lab import charts
from thinkube_lab.cluster import Lab
from thinkube_lab.commands.microk8s import _store_release

API_KEY = "canary-apikey-P4s9Wq2m"


def record(revision: int) -> dict:
    return {
        "name": "qdrant",
        "namespace": "qdrant",
        "chart": "qdrant/qdrant",
        "chart_name": "qdrant",
        "version": "1.15.0",
        "values": {"apiKey": API_KEY, "replicaCount": 1},
        "revision": revision,
        "status": "deployed",
        "objects": [],
        "workloads": [],
    }


async def test_values_live_in_the_release_secret_and_survive_a_restart(tmp_path):
    async with Lab(tmp_path / "lab", nodes=1, gpus=0, speed=1, log=lambda _m: None) as lab:
        lab.kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "qdrant"}})
        lab.releases["qdrant/qdrant"] = record(1)
        _store_release(lab, record(1), None)
        lab.releases["qdrant/qdrant"] = record(2)
        _store_release(lab, record(2), record(1))  # an upgrade: the new revision's Secret replaces the old
        await lab.save()
        state = (tmp_path / "lab" / "lab-state.json").read_text()
        assert API_KEY not in state
        assert "qdrant/qdrant" in json.loads(state)["releases"]
        names = [s["metadata"]["name"] for s in lab.kube.list("v1", "Secret", "qdrant")]
        assert names == ["sh.helm.release.v1.qdrant.v2"]
        secret = lab.kube.get("v1", "Secret", "sh.helm.release.v1.qdrant.v2", "qdrant")
        assert secret["type"] == "helm.sh/release.v1" and secret["metadata"]["labels"]["owner"] == "helm"
        assert charts.values_from_secret(secret) == record(2)["values"]

    async with Lab(tmp_path / "lab", nodes=1, gpus=0, speed=1, log=lambda _m: None) as lab:
        assert lab.releases["qdrant/qdrant"]["values"]["apiKey"] == API_KEY  # back from the Secret
    assert API_KEY not in (tmp_path / "lab" / "lab-state.json").read_text()


async def test_a_state_file_with_values_in_the_clear_is_moved_into_the_secret(tmp_path):
    async with Lab(tmp_path / "lab", nodes=1, gpus=0, speed=1, log=lambda _m: None) as lab:
        lab.kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "qdrant"}})
        await lab.save()
    path = tmp_path / "lab" / "lab-state.json"
    data = json.loads(path.read_text())
    data["releases"] = {"qdrant/qdrant": record(1)}  # as an older lab wrote it
    path.write_text(json.dumps(data))
    async with Lab(tmp_path / "lab", nodes=1, gpus=0, speed=1, log=lambda _m: None) as lab:
        assert lab.releases["qdrant/qdrant"]["values"]["apiKey"] == API_KEY
        assert lab.kube.get("v1", "Secret", "sh.helm.release.v1.qdrant.v1", "qdrant") is not None
    assert API_KEY not in path.read_text()
