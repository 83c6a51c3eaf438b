"""`thinkube-tui plan --answers FILE [--json]`: the plan by group and by wave."""

from __future__ import annotations

import json
import sys

from ..catalog import Catalog, load_catalog
from ..phases import PlanInstall, Session
from ..plan import Plan
from ..spec import AnswersError, Spec, load_answers
from ..wording import plural


def run_plan(answers: str, *, secrets: str | None = None, json_out: bool = False) -> int:
    try:
        spec = load_answers(answers, secrets=secrets)
    except AnswersError as exc:
        for problem in exc.problems:
            print(problem.format(exc.source), file=sys.stderr)
        return 2
    catalog = load_catalog()
    session = Session.for_spec(spec, catalog)
    PlanInstall(discovered=False).decide(session)  # the install's own Plan phase, nothing discovered
    plan = session.plan
    assert plan is not None
    if json_out:
        print(json.dumps(plan.to_json(), indent=2))
        return 0
    from rich.console import Console

    Console().print(*render_plan(plan, catalog, spec))
    return 0


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def render_plan(plan: Plan, catalog: Catalog, spec: Spec) -> list[object]:
    from rich.text import Text
    from rich.tree import Tree

    from ..textsafe import styled

    # The cluster's name and domain (and the URLs made from it) are the operator's: text, not markup.
    by_group = Tree(
        styled(
            "[b]Plan for {name}[/] ({domain}): {count}, by group",
            name=spec.cluster.name,
            domain=spec.cluster.domain,
            count=plural(len(plan), "component"),
        )
    )
    for group_id, members in plan.by_group(catalog):
        branch = by_group.add(styled("[b]{group}[/] {title}", group=group_id, title=catalog.group(group_id).title))
        for p in members:
            needs = " [dim]after {deps}[/]" if p.deps else ""
            urls = "  " + " ".join(p.component.urls(spec.cluster.domain)) if p.component.hostnames else ""
            branch.add(
                styled(
                    "[cyan]{id}[/] [dim]({reason})[/]" + needs + "{urls}",
                    id=p.id,
                    reason=p.reason,
                    deps=", ".join(p.deps),
                    urls=urls,
                )
            )

    by_wave = Tree("[b]By wave[/] (each wave can start once the waves before it are done)")
    for number, wave in enumerate(plan.waves, 1):
        by_wave.add(f"wave {number}: " + ", ".join(wave))

    summary = (
        f"Critical path: {' -> '.join(plan.critical_path)}\n"
        f"Estimated time: {_minutes(plan.critical_path_s)} with the dependency graph in parallel "
        f"({_minutes(plan.sequential_s)} one after another)"
    )
    if plan.installed:
        summary += f"\nAlready installed, left alone: {', '.join(sorted(plan.installed))}"
    return [by_group, "", by_wave, "", Text(summary)]
