"""The wizard's model without Textual: selection closure and its explanations, the Spec built
from screen data, export -> re-validate -> the same Spec, the 0600 secrets file, re-entry."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from thinkube_tui.journal import Journal
from thinkube_tui.spec import AnswersError, SecretRef, load_answers, load_secrets, parse_answers
from thinkube_tui.wizard import NodeDraft, WizardModel, env_name, known_clusters, parse_labels

CLUSTER = {
    "domain": "thinkube.lan",
    "adminEmail": "admin@thinkube.lan",
    "metallbRange": "10.0.0.200-10.0.0.220",
    "ingressIP": "10.0.0.200",
    "ingressKnIP": "10.0.0.201",
}


def model_with_nodes() -> WizardModel:
    model = WizardModel()
    assert model.add_node(NodeDraft("tk-control", "10.0.0.10", "thinkube")) == []
    assert (
        model.add_node(NodeDraft("tk-worker", "10.0.0.11", "thinkube", auth_method="key", key_file="~/.ssh/id_ed25519"))
        == []
    )
    assert model.add_node(NodeDraft("tk-gpu", "10.0.0.12", "thinkube", auth_method="password")) == []
    model.set_cluster_settings(CLUSTER)
    return model


# ---------------------------------------------------------------- selection


def test_core_is_selected_and_locked() -> None:
    model = WizardModel()
    chosen = model.selection()
    assert {"microk8s-control", "keycloak", "harbor"} <= chosen
    change = model.deselect("keycloak")
    assert not change.ok and "core component" in change.explain(model.catalog)
    assert model.is_selected("keycloak")


def test_selecting_pulls_in_requirements_and_says_why() -> None:
    model = WizardModel()
    assert not model.is_selected("prometheus")
    change = model.select("grafana")
    assert change.added == ("prometheus",)
    assert "prometheus" in change.explain(model.catalog)
    assert model.state("prometheus") == "required"
    assert model.required_by("prometheus") == ["grafana"]
    assert "required by grafana" in model.describe("prometheus")


def test_unticking_a_requirement_is_refused_with_who_needs_it() -> None:
    model = WizardModel()
    model.select("loki")  # requires grafana, which requires prometheus
    refused = model.deselect("grafana")
    assert not refused.ok and "needed by Loki" in refused.explain(model.catalog)
    dropped = model.deselect("loki")  # what only loki needed goes with it
    assert dropped.ok and set(dropped.removed) == {"grafana", "prometheus"}
    assert not model.is_selected("prometheus")


def test_transitive_requirements_name_the_root() -> None:
    model = WizardModel()
    model.select("model-serving")  # -> mlflow (-> postgresql, minio, keycloak)
    assert model.state("mlflow") == "required"
    assert model.required_by("mlflow") == ["model-serving"]


def test_gpu_operator_is_automatic_until_discovery_says() -> None:
    model = WizardModel()
    assert model.state("gpu-operator") == "auto"  # nothing discovered yet: shown as automatic, not off
    assert model_with_nodes().answers_data()["components"]["gpu-operator"]["enabled"] == "auto"


def test_installed_components_cannot_be_unticked() -> None:
    model = WizardModel()
    model.installed = frozenset({"prometheus"})
    assert model.state("prometheus") == "installed"
    change = model.deselect("prometheus")
    assert not change.ok and "installed already" in change.explain(model.catalog)


# ---------------------------------------------------------------- nodes


def test_node_problems_use_the_schema_and_uniqueness() -> None:
    model = model_with_nodes()
    problems = model.node_problems(NodeDraft("Bad Name", "10.0.0.10", "thinkube"))
    assert [p.path for p in problems] == [("name",), ("host",)]
    assert "wrong form" in problems[0].message and "already" in problems[1].message
    key_without_file = model.node_problems(NodeDraft("n1", "10.0.0.99", "thinkube", auth_method="key"))
    assert any("keyFile" in p.message for p in key_without_file)


def test_first_node_is_control_and_removing_it_moves_the_role() -> None:
    model = model_with_nodes()
    assert model.control == "tk-control"
    model.set_control("tk-gpu")
    assert [n.role for n in model.nodes] == ["worker", "worker", "control"]
    model.remove_node("tk-gpu")
    assert model.control == "tk-control"


def test_labels_parse() -> None:
    assert parse_labels("a=b, thinkube.io/gpu = yes") == {"a": "b", "thinkube.io/gpu": "yes"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_labels("novalue")


# ---------------------------------------------------------------- the Spec and export


def test_spec_from_screen_data() -> None:
    model = model_with_nodes()
    model.select("grafana")
    model.node("tk-worker").labels = {"tier": "fast"}
    model.set_component_settings("grafana", {"adminGroup": "bosses"})
    spec = model.build_spec()
    assert spec.control.name == "tk-control"
    assert spec.node("tk-worker").labels == {"tier": "fast"}
    assert spec.node("tk-gpu").auth.password == SecretRef(env=env_name("tk-gpu", "password"))
    assert spec.components["grafana"].enabled is True and spec.components["prometheus"].enabled is True
    assert spec.components["grafana"].config["adminGroup"] == "bosses"
    assert spec.cluster.domain == "thinkube.lan" and spec.cluster.microk8s_channel == "1.33/stable"


def test_cross_field_problems_point_at_the_field() -> None:
    model = model_with_nodes()
    model.set_cluster_settings({**CLUSTER, "ingressIP": "10.0.0.5"})
    problems = model.problems()
    assert [p.json_path for p in problems] == ["cluster.ingressIP"]
    with pytest.raises(AnswersError):
        model.build_spec()


def test_export_revalidates_to_the_same_spec_with_a_0600_secrets_file(tmp_path: Path) -> None:
    model = model_with_nodes()
    model.select("grafana")
    model.node_secrets[("tk-gpu", "password")] = "hunter2-login"
    model.node_secrets[("tk-worker", "sudo")] = "sudo-pass-1"
    model.set_component_settings(
        "keycloak",
        {"adminPassword": {"secret": "keycloak-adminPassword"}},
        {"keycloak-adminPassword": "kc-admin-password"},
    )
    exported = model.export(tmp_path / "answers.yaml")
    assert exported.secrets == tmp_path / "answers.secrets.yaml"
    assert stat.S_IMODE(exported.secrets.stat().st_mode) == 0o600
    text = (tmp_path / "answers.yaml").read_text()
    for secret in ("hunter2-login", "sudo-pass-1", "kc-admin-password"):
        assert secret not in text
    assert (
        load_answers(tmp_path / "answers.yaml")
        == exported.spec
        == model.build_spec(secrets_file="answers.secrets.yaml")
    )
    assert load_secrets(exported.secrets) == {
        "tk-gpu-password": "hunter2-login",
        "tk-worker-sudo": "sudo-pass-1",
        "keycloak-adminPassword": "kc-admin-password",
    }
    # Loaded back into a model, the same answers come out again.
    again = WizardModel.from_answers_file(tmp_path / "answers.yaml")
    assert again.build_spec(secrets_file="answers.secrets.yaml") == exported.spec
    assert again.node_secrets[("tk-gpu", "password")] == "hunter2-login"


def test_export_with_secrets_as_environment_references(tmp_path: Path) -> None:
    model = model_with_nodes()
    model.node_secrets[("tk-gpu", "password")] = "hunter2-login"
    exported = model.export(tmp_path / "answers.yaml", secrets_as_env=True)
    assert exported.secrets is None and not (tmp_path / "answers.secrets.yaml").exists()
    assert exported.spec.node("tk-gpu").auth.password == SecretRef(env="THINKUBE_TK_GPU_PASSWORD")
    assert "hunter2" not in (tmp_path / "answers.yaml").read_text()


def test_prefill_from_answers_keeps_everything(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml").read_text()
    spec = parse_answers(text)
    model = WizardModel.from_spec(spec)
    assert model.build_spec(secrets_file=spec.secrets_file) == spec


# ---------------------------------------------------------------- re-entry


def test_known_clusters_and_reentry(tmp_path: Path) -> None:
    model = model_with_nodes()
    spec = model.build_spec()
    state = tmp_path / "thinkube"
    journal = Journal.open(state / "journal.json")
    for cid in ("microk8s-control", "prometheus"):
        journal.started(cid, None)
        journal.finished(cid)
    journal.started("grafana", None)
    journal.failed_with("grafana", "boom")
    model.save_for_reentry(spec, state)
    [record] = known_clusters(tmp_path)
    assert record.name == "thinkube" and record.installed == {"microk8s-control", "prometheus"}
    assert record.failed == {"grafana"} and record.answers == state / "answers.yaml"
    again = WizardModel.for_reentry(record)
    assert again.reentry and again.state("prometheus") == "installed"
    assert again.is_selected("grafana")  # failed last time: planned again
    assert "grafana" in again.plan().ids and "prometheus" not in again.plan().ids


def test_a_removed_nodes_secrets_are_not_exported(tmp_path: Path) -> None:
    model = model_with_nodes()
    model.node_secrets[("tk-gpu", "password")] = "gpu-login-password"
    model.node_secrets[("tk-gpu", "sudo")] = "gpu-sudo-password"
    model.node_secrets[("tk-worker", "sudo")] = "worker-sudo-password"
    model.remove_node("tk-gpu")
    exported = model.export(tmp_path / "answers.yaml")
    assert exported.secrets is not None
    assert load_secrets(exported.secrets) == {"tk-worker-sudo": "worker-sudo-password"}
    assert "gpu-" not in exported.secrets.read_text()


def test_a_renamed_nodes_secrets_follow_it(tmp_path: Path) -> None:
    model = model_with_nodes()
    model.node_secrets[("tk-gpu", "password")] = "gpu-login-password"
    assert model.update_node("tk-gpu", NodeDraft("tk-gpu-2", "10.0.0.12", "thinkube", auth_method="password")) == []
    exported = model.export(tmp_path / "answers.yaml")
    assert exported.secrets is not None
    assert load_secrets(exported.secrets) == {"tk-gpu-2-password": "gpu-login-password"}


@pytest.mark.parametrize("damage", ["fifo", "garbage"])
def test_reentry_with_unusable_saved_answers_keeps_what_the_journal_says(tmp_path: Path, damage: str) -> None:
    import os

    state = tmp_path / "lab"
    journal = Journal.open(state / "journal.json")
    journal.started("microk8s-control", None)
    journal.finished("microk8s-control")
    if damage == "fifo":
        os.mkfifo(state / "answers.yaml")  # would block a plain read
    else:
        (state / "answers.yaml").write_text("cluster: [\n")
    [record] = known_clusters(tmp_path)
    model = WizardModel.for_reentry(record)
    assert model.cluster == {"name": "lab"} and model.installed == {"microk8s-control"} and model.reentry


def test_reentry_without_saved_answers_keeps_the_nodes_the_wizard_holds(tmp_path: Path) -> None:
    """The demo: `make demo` installed headless (no answers saved beside the journal); the wizard,
    opened on the same lab, comes back to that cluster with the lab's nodes, not an empty list."""
    current = model_with_nodes()
    current.set_cluster_settings({**CLUSTER, "name": "thinkube-lab"})
    journal = Journal.open(tmp_path / "thinkube-lab" / "journal.json")
    journal.started("prometheus", None)
    journal.finished("prometheus")
    [record] = known_clusters(tmp_path)
    model = WizardModel.for_reentry(record, current=current)
    assert [n.name for n in model.nodes] == ["tk-control", "tk-worker", "tk-gpu"]
    assert model.cluster["domain"] == "thinkube.lan" and model.state("prometheus") == "installed"
    assert "prometheus" not in model.plan().ids
    elsewhere = dataclasses.replace(record, name="another-cluster")
    assert WizardModel.for_reentry(elsewhere, current=current).nodes == []  # not this one's nodes


def test_reentry_plans_the_per_node_components_again_for_a_node_added_on_the_nodes_screen() -> None:
    """Re-entry knows which nodes each component ran for (the journal): a node added on the Nodes
    screen puts the workers' join (a per-node component) back in the plan, and nothing else."""
    from thinkube_tui.wizard_run import plan_of

    from .wizard_harness import snapshot_model

    model = snapshot_model()
    names = [n.name for n in model.nodes]
    model.installed = frozenset({"microk8s-control", "microk8s-workers"})
    model.ran_for = {"microk8s-control": names, "microk8s-workers": names}
    spec = model.build_spec()
    assert "microk8s-workers" not in plan_of(model, spec)
    model.ran_for = {"microk8s-control": names[:-1], "microk8s-workers": names[:-1]}  # the last one is new
    plan = plan_of(model, spec)
    assert "microk8s-workers" in plan and "microk8s-control" not in plan
