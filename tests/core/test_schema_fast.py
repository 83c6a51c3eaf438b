"""The compiled fast checks say "valid" only where jsonschema finds nothing wrong.

They decide nothing else: whatever they do not accept is validated (and explained) by
jsonschema, so every message stays jsonschema's. Checked on the answers schema's nodes and on
thousands of mutated nodes, against jsonschema itself."""

from __future__ import annotations

import copy
import random

import pytest
from jsonschema import Draft202012Validator

from thinkube_tui import schema
from thinkube_tui.schema_fast import Compiler

VALID_NODES = [
    {"name": "tk-control", "host": "192.168.1.10", "user": "thinkube", "role": "control", "auth": {"method": "agent"}},
    {
        "name": "tk-gpu",
        "host": "gpu.lan",
        "port": 2222,
        "user": "thinkube",
        "role": "worker",
        "auth": {"method": "key", "keyFile": "~/.ssh/id_ed25519"},
        "sudoPassword": {"env": "TK_SUDO_PASSWORD"},
        "hostKey": "SHA256:" + "A" * 43,
        "labels": {"thinkube.io/accelerator": "nvidia"},
        "taints": ["nvidia.com/gpu=present:NoSchedule"],
    },
]
ODD_VALUES = [
    None, True, False, 0, -1, 1.0, 1.5, 65536, float("nan"), "", " ", "x", "A", "a b", "a\n", "-a", "a" * 70,
    "worker", "control", "key", "password", "agent", [], {}, ["x"], {"env": "X"}, {"secret": ""}, {"env": "1X"},
]  # fmt: skip


@pytest.fixture(scope="module")
def node_check():
    root = schema.answers().root
    check = Compiler(root, schema.ecma_pattern).for_ref("#/$defs/node")
    assert check is not None, "the node schema must compile: the fast path is what makes validate scale"
    reference = Draft202012Validator({**root["$defs"]["node"], "$defs": root["$defs"]})
    return check, reference


def _mutate(node: dict, rng: random.Random) -> dict:
    out = copy.deepcopy(node)
    for _ in range(rng.randint(1, 3)):
        target = out
        if "auth" in out and rng.random() < 0.3 and isinstance(out["auth"], dict):
            target = out["auth"]
        keys = [*target, "extra", "keyFile", "password", "port", "method"]
        key = rng.choice(keys)
        if rng.random() < 0.2:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    return out


def test_valid_nodes_take_the_fast_path(node_check) -> None:
    check, reference = node_check
    for node in VALID_NODES:
        assert reference.is_valid(node) and check(node)


def test_fast_yes_is_always_jsonschemas_yes(node_check) -> None:
    check, reference = node_check
    rng = random.Random(15)
    said_yes = said_no = 0
    for _ in range(4000):
        node = _mutate(rng.choice(VALID_NODES), rng)
        if check(node):
            said_yes += 1
            assert reference.is_valid(node), node  # never a yes jsonschema would not give
        else:
            said_no += 1
    assert said_yes > 100 and said_no > 1000  # both ways were exercised


def test_a_python_dollar_in_a_pattern_is_ecma_anchored(node_check) -> None:
    check, _ = node_check
    assert not check({**VALID_NODES[0], "user": "thinkube\n"})  # Python's $ would allow the newline


def test_validate_messages_are_unchanged_by_the_fast_path() -> None:
    """A document with an invalid node among valid ones: the same problems with and without."""
    doc = {
        "apiVersion": "thinkube.io/v1alpha1",
        "cluster": {"name": "c", "domain": "c.lan", "adminEmail": "a@c.lan"},
        "nodes": [VALID_NODES[0], {**VALID_NODES[1], "port": 70000, "role": "boss"}],
    }
    fast = sorted((i.path, i.message) for i in schema.answers().problems(doc))
    slow_validator = Draft202012Validator(schema.answers().root)
    slow = sorted((tuple(e.absolute_path)) for e in slow_validator.iter_errors(doc))
    assert {p for p, _ in fast} >= {("nodes", 1, "port"), ("nodes", 1, "role")}
    assert {p[:3] for p in slow} >= {("nodes", 1, "port"), ("nodes", 1, "role")}
