"""The plan: closure, order, waves, critical path, re-entry."""

import pytest

from thinkube_tui.catalog import Catalog, Component, Group, Install, load_catalog
from thinkube_tui.plan import PlanError, make_plan, plan_for
from thinkube_tui.spec import load_answers

from .conftest import EXAMPLES


def comp(cid: str, requires=(), after=(), estimate=10.0) -> Component:
    return Component(
        id=cid,
        title=cid,
        description=cid,
        group="g",
        tier="optional",
        default=False,
        namespace="ns",
        install=Install(method="manifests"),
        schema=cid,
        requires=tuple(requires),
        after=tuple(after),
        estimate_s=estimate,
    )


def tiny(*components: Component) -> Catalog:
    return Catalog(groups=(Group("g", "G"),), components=components)


def assert_topological(plan):
    seen: set[str] = set()
    for item in plan.items:
        missing = [d for d in item.deps if d not in seen]
        assert not missing, f"{item.id} comes before {missing}"
        seen.add(item.id)


def test_full_plan_is_topological_and_complete():
    catalog = load_catalog()
    spec = load_answers(EXAMPLES / "answers-full.yaml")
    plan = make_plan(catalog, spec, gpu_present=True)
    assert set(plan.ids) == set(catalog.ids)
    assert_topological(plan)
    # Requirements, not groups, decide the order: PostgreSQL (5.7) before Keycloak (5.5).
    assert plan.ids.index("postgresql") < plan.ids.index("keycloak")
    # Every catalog requirement is an edge of the plan.
    for item in plan.items:
        assert set(item.component.requires) <= set(item.deps)


def test_minimal_plan_pulls_in_requirements_with_reasons():
    catalog = load_catalog()
    spec = load_answers(EXAMPLES / "answers-minimal.yaml")
    plan = make_plan(catalog, spec, gpu_present=False)
    assert "gpu-operator" not in plan
    assert_topological(plan)
    assert plan["microk8s-control"].reason == "core"


def test_pulled_in_components_know_who_pulled_them():
    cat = tiny(comp("a"), comp("b", requires=["a"]), comp("c", requires=["b"]), comp("d", requires=["a"]))
    plan = plan_for(cat, {"c": "selected", "d": "selected"})
    assert plan["a"].required_by == ("c", "d")
    assert plan["a"].reason == "required by c, d"
    assert plan["b"].required_by == ("c",)
    assert plan["c"].required_by == ()


def test_after_orders_without_pulling_in():
    cat = tiny(comp("vault"), comp("keycloak", after=["vault"]))
    assert plan_for(cat, {"keycloak": "selected"}).ids == ("keycloak",)
    plan = plan_for(cat, {"keycloak": "selected", "vault": "selected"})
    assert plan.ids == ("vault", "keycloak") and plan["keycloak"].deps == ("vault",)


def test_installed_requirements_count_as_satisfied():
    cat = tiny(comp("a"), comp("b", requires=["a"]), comp("c", requires=["b"]))
    plan = plan_for(cat, {"c": "selected"}, installed=frozenset({"b"}))
    assert plan.ids == ("c",) and plan["c"].deps == () and plan.installed == {"b"}


def test_waves_and_critical_path():
    cat = tiny(
        comp("a", estimate=5),
        comp("b", requires=["a"], estimate=50),
        comp("c", requires=["a"], estimate=10),
        comp("d", requires=["b", "c"], estimate=5),
    )
    plan = plan_for(cat, {"d": "selected"})
    assert plan.waves == (("a",), ("b", "c"), ("d",))
    assert plan.critical_path == ("a", "b", "d")
    assert plan.critical_path_s == 60
    assert plan.sequential_s == 70


def test_cycle_is_named():
    cat = tiny(comp("a", requires=["c"]), comp("b", requires=["a"]), comp("c", requires=["b"]))
    with pytest.raises(PlanError, match=r"cycle: (a|b|c) -> .* -> \1"):
        plan_for(cat, {"a": "selected"})


def test_gpu_operator_follows_discovery():
    catalog = load_catalog()
    spec = load_answers(EXAMPLES / "answers-minimal.yaml")
    assert "gpu-operator" in make_plan(catalog, spec, gpu_present=True)
    assert "gpu-operator" not in make_plan(catalog, spec, gpu_present=False)
    unknown = make_plan(catalog, spec)
    assert "discovery" in unknown["gpu-operator"].reason


def test_json_has_order_and_waves():
    catalog = load_catalog()
    spec = load_answers(EXAMPLES / "answers-full.yaml")
    data = make_plan(catalog, spec).to_json()
    assert [c["id"] for c in data["components"]] == [i for w in data["waves"] for i in w]
    assert data["criticalPathSeconds"] <= data["sequentialSeconds"]


def test_counts_and_wave_numbers_read_as_people_say_them():
    from thinkube_tui.wording import plural

    assert plural(1, "component") == "1 component" and plural(2, "node") == "2 nodes" and plural(0, "node") == "0 nodes"
    data = make_plan(load_catalog(), load_answers(EXAMPLES / "answers-minimal.yaml")).to_json()
    first = data["components"][0]
    assert first["waveNumber"] == 1 and "wave" not in first  # 1-based, as `plan` and the wizard print it
