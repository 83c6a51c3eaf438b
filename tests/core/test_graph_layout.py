"""The drawn DAG: lanes, junctions, the transitive reduction, and the roles that colour edges."""

from thinkube_tui.catalog import load_catalog
from thinkube_tui.graph_layout import lay_out_dag, transitive_reduction
from thinkube_tui.plan import make_plan
from thinkube_tui.spec import load_answers

EXAMPLE_FULL = "examples/answers-full.yaml"


def drawn(order, deps, spacing=1):
    layout = lay_out_dag(order, deps)
    return [layout.lane_text(i, spacing) + cid for i, cid in enumerate(order)], layout


def test_a_chain_and_a_fork_are_drawn_with_junctions():
    lines, _ = drawn(["a", "b", "c", "d"], {"b": ["a"], "c": ["a"], "d": ["b", "c"]})
    assert lines == [
        "┌───a",
        "├┬──b",  # b needs a (a's lane goes on), b's own lane starts
        "└│┬─c",  # c needs a (a's lane ends), b's lane passes, c's lane starts
        " └┴─d",  # d needs b and c
    ]


def test_edges_implied_by_others_are_not_drawn():
    deps = {"b": ["a"], "c": ["a", "b"]}
    assert transitive_reduction(["a", "b", "c"], deps) == {"a": (), "b": ("a",), "c": ("b",)}
    lines, _ = drawn(["a", "b", "c"], deps)
    assert lines == ["┌──a", "└┬─b", " └─c"]


def test_a_component_nothing_needs_has_no_lane():
    lines, layout = drawn(["a", "b"], {})
    assert lines == [" a", " b"] and layout.lanes == 0


def test_two_columns_per_lane_join_with_lines():
    lines, _ = drawn(["a", "b", "c"], {"b": ["a"], "c": ["a"]}, spacing=2)
    assert lines == ["┌──a", "├──b", "└──c"]


def test_roles_follow_a_marked_edge_from_its_lane_to_the_dependent():
    layout = lay_out_dag(["a", "b", "c", "d"], {"b": ["a"], "c": ["a"], "d": ["b", "c"]})
    marked = {("b", "d"): "related"}
    # b's lane passes c's line, then joins d: coloured on both, the horizontal into d too.
    assert layout.roles(2, 1, marked) == [None, "related", None, None]
    assert layout.roles(3, 1, marked) == [None, "related", "related", "related"]
    assert layout.roles(0, 1, marked) == [None, None, None, None]
    assert layout.edges_of("d") == [("b", "d"), ("c", "d")]


def test_the_full_plan_fits_in_forty_columns():
    plan = make_plan(load_catalog(), load_answers(EXAMPLE_FULL), gpu_present=True)
    layout = lay_out_dag(plan.ids, {p.id: p.deps for p in plan.items})
    longest = max(len(cid) for cid in plan.ids)
    assert 3 + layout.lanes + 1 + 2 + longest + 2 <= 40  # gutter, lanes, symbol, name, ◆
    # Every drawn edge is a requirement; every requirement is drawn or implied by a drawn path.
    for item in plan.items:
        assert set(layout.drawn_deps[item.id]) <= set(item.deps)
