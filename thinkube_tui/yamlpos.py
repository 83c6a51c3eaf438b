"""Safe YAML loading that remembers where every value came from.

Validation errors must name the YAML line and column of what they complain about, so the
document is composed into nodes (which carry marks) and built into plain Python values here,
recording the mark of every value and every mapping key by its path. Building it ourselves
also makes the loader strict where PyYAML is lenient or dangerous: only the standard scalar
tags, no duplicate keys, and a bound on how far aliases may expand (a "billion laughs"
document is refused instead of eating the machine's memory).

Composing is most of the cost of reading a large answers file (a thousand nodes): libyaml's
composer, when PyYAML has it, does it several times faster with the same marks. It is used
only where it reads a document exactly as the pure-Python composer does (`_compose_fast`);
anything else -- every refused document among them -- is read again by the pure-Python one, so
values, marks and messages are always the pure-Python composer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """`('nodes', 1, 'host')` -> `nodes[1].host`; the document itself is `$`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "$"


# A real answers file has a few hundred nodes; this leaves room for big ones and stops bombs.
MAX_NODES = 50_000
MAX_BYTES = 4 * 1024 * 1024

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


@dataclass(frozen=True)
class Mark:
    """A position in the source, 1-based like editors show it."""

    line: int
    column: int


@dataclass(frozen=True)
class YamlProblem:
    message: str
    mark: Mark | None


class YamlLoadError(Exception):
    """The text is not a YAML document we accept."""

    def __init__(self, problems: list[YamlProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


@dataclass
class Located:
    """A loaded document and the marks of its values and keys, by path."""

    data: Any
    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)

    def mark(self, path: Path, *, key: bool = False) -> Mark | None:
        """The mark of `path` (of its key when `key`), else of its nearest ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return None


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def load(text: str, *, max_nodes: int = MAX_NODES) -> Located:
    """Load one YAML document. Raises `YamlLoadError` listing what is wrong and where."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise YamlLoadError([YamlProblem(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB", Mark(1, 1))])
    root = _compose_fast(text)
    if root is not None:
        builder = _Builder(max_nodes, from_libyaml=True)
        try:
            return _located(builder, root)
        except _ReadAgain:
            pass
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else None
        what = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise YamlLoadError([YamlProblem(f"YAML syntax: {what}", where)]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlLoadError(
            [YamlProblem(f"YAML syntax: {exc.reason} (character {exc.character!r})", Mark(line, column))]
        ) from None
    except yaml.YAMLError as exc:
        raise YamlLoadError([YamlProblem(f"YAML syntax: {exc}", Mark(1, 1))]) from None
    except RecursionError:
        raise YamlLoadError([YamlProblem("YAML nesting is too deep", Mark(1, 1))]) from None
    if root is None:
        raise YamlLoadError([YamlProblem("the file is empty", Mark(1, 1))])
    return _located(_Builder(max_nodes), root)


# libyaml, when PyYAML was built with it (pip wheels are); None without.
_LIBYAML_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _compose_fast(text: str) -> yaml.Node | None:
    """The document composed by libyaml, or None where its reading could differ from the
    pure-Python composer's. Found by comparing both on mutated answers files and random
    YAML: libyaml accepts tabs as separators and block-scalar headers without a space before
    a comment, counts a BOM inside the text as a column, puts an empty value's mark at the
    next token instead of after its indicator, and lets '?' into plain scalars in flow
    collections. The first two are ruled out here, the rest by `_Builder` (`_ReadAgain`)."""
    if _LIBYAML_LOADER is None or "\t" in text or "\ufeff" in text[1:]:
        return None
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_LIBYAML_LOADER)
    except Exception:  # any refusal, even one libyaml words its own way: the pure-Python composer says why
        return None
    return node


def _located(builder: _Builder, root: yaml.Node) -> Located:
    try:
        data = builder.build(root, ())
    except RecursionError:
        raise YamlLoadError([YamlProblem("YAML nesting is too deep", Mark(1, 1))]) from None
    if builder.problems:
        raise YamlLoadError(builder.problems)
    return Located(data, builder.values, builder.keys)


class _TooBig(Exception):
    pass


class _ReadAgain(Exception):
    """libyaml composed a scalar the pure-Python composer might read differently."""


class _Builder:
    def __init__(self, max_nodes: int, *, from_libyaml: bool = False) -> None:
        self.max_nodes = max_nodes
        self.from_libyaml = from_libyaml
        self.count = 0
        self.values: dict[Path, Mark] = {}
        self.keys: dict[Path, Mark] = {}
        self.problems: list[YamlProblem] = []
        self._constructor = yaml.SafeLoader("")  # only for its scalar constructors

    def build(self, node: yaml.Node, path: Path) -> Any:
        try:
            return self._build(node, path)
        except _TooBig:
            self.problems.append(
                YamlProblem(
                    f"the document expands to more than {self.max_nodes} values "
                    "(aliases referring to aliases?); refusing to load it",
                    _mark(node),
                )
            )
            return None

    def _build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > self.max_nodes:
            raise _TooBig
        self.values[path] = _mark(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                self._unsupported_tag(node)
            return [self._build(child, (*path, i)) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                self._unsupported_tag(node)
            return self._mapping(node, path)
        self._unsupported_tag(node)
        return None

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if self.from_libyaml:
            style, value = node.style, node.value
            if style in ("|", ">") or (not value and style not in ("'", '"')) or (not style and "?" in value):
                raise _ReadAgain
        if node.tag == _STR_TAG:
            return node.value  # what SafeConstructor's construct_yaml_str gives, without its bookkeeping
        if node.tag == _TIMESTAMP_TAG:
            return node.value  # dates stay text: nothing in an answers file is a datetime
        if node.tag not in _SCALAR_TAGS:
            self._unsupported_tag(node)
            return node.value
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:  # e.g. an integer of thousands of digits
            self.problems.append(YamlProblem(f"cannot read this value: {str(exc)[:80]}", _mark(node)))
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.update(self._merge_source(value_node, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(YamlProblem("a mapping key must be a plain value", _mark(key_node)))
                continue
            key = self._scalar(key_node)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            if key in result:
                first = self.keys.get((*path, key))
                where = f" (first at line {first.line})" if first else ""
                self.problems.append(YamlProblem(f"duplicate key {key!r}{where}", _mark(key_node)))
                continue
            self.count += 1
            if self.count > self.max_nodes:
                raise _TooBig
            child = (*path, key)
            self.keys[child] = _mark(key_node)
            result[key] = self._build(value_node, child)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_source(self, node: yaml.Node, path: Path) -> Mapping[Any, Any]:
        """`<<: *anchor` or `<<: [*a, *b]` (earlier ones win, as in YAML 1.1)."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self.problems.append(YamlProblem("'<<' must refer to a mapping", _mark(source)))
                continue
            merged.update(self._mapping(source, path))
        return merged

    def _unsupported_tag(self, node: yaml.Node) -> None:
        self.problems.append(
            YamlProblem(f"unsupported YAML tag {node.tag!r}: only plain values are allowed", _mark(node))
        )
