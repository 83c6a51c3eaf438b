"""`thinkube-tui doctor`: preflight on every node, then the health of the installed cluster.

Exit codes: 0 nothing wrong, 1 something is (each problem printed with what to do),
2 invalid input. It only reads and takes no lock.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from .cluster_access import Inputs, add_cluster_options, open_cluster, with_inputs

EXIT_OK, EXIT_PROBLEMS = 0, 1
# On an installed cluster MicroK8s is there and its workers are clustered: what preflight
# warns about before an install is the expected state here (node health is checked instead).
NOT_FOR_AN_INSTALLED_CLUSTER = frozenset({"microk8s", "ports"})


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="preflight plus the health of every installed component, with fixes")
    add_cluster_options(p)


async def run(args: argparse.Namespace) -> int:
    return await with_inputs(args, "doctor", lambda inputs: _doctor(args, inputs))


async def _doctor(args: argparse.Namespace, inputs: Inputs) -> int:
    from ..catalog import load_catalog
    from ..doctor import Problem, component_problems, node_problems
    from ..journal import Journal, JournalError
    from ..phases import node_checks

    problems: list[Problem] = []
    async with open_cluster(args, inputs, node_checks(), skip=NOT_FOR_AN_INSTALLED_CLUSTER) as (session, cluster):
        findings = session.findings
        try:
            kube = await cluster.kube()
            problems += node_problems(inputs.spec, await kube.list("v1", "Node"))
            journal_path = inputs.state_dir / "journal.json"
            if journal_path.is_file():
                problems += await component_problems(kube, load_catalog(), Journal.open(journal_path))
            else:
                problems.append(
                    Problem(
                        "journal",
                        f"no install is recorded in {inputs.state_dir}",
                        "Give the --state-dir the install used (components are checked from its journal).",
                    )
                )
        except JournalError as exc:
            problems.append(Problem("journal", str(exc), "See docs/reliability.md, 'The journal'."))
        except Exception as exc:  # the API is what may be broken: a finding, not a traceback
            problems.append(
                Problem(
                    "API",
                    f"the cluster's API could not be read: {type(exc).__name__}: {exc}",
                    f"On {inputs.spec.control.name}: `sudo microk8s status`, `sudo microk8s inspect`.",
                )
            )
    mask = inputs.secrets.mask
    if args.json:
        report = {
            "findings": [asdict(f) for f in findings],
            "problems": [asdict(p) for p in problems],
        }
        print(mask(json.dumps(report, indent=2)))
    else:
        for f in findings:
            print(mask(f"preflight {f.severity}: [{f.check}] {f.message}\n    what to do: {f.fix}"))
        for p in problems:
            print(mask(f"problem: {p.message}\n    what to do: {p.fix}"))
        if not findings and not problems:
            print(f"cluster {inputs.spec.cluster.name}: every node is Ready and every installed component healthy")
    errors = [f for f in findings if f.severity == "error"]
    return EXIT_PROBLEMS if problems or errors else EXIT_OK
