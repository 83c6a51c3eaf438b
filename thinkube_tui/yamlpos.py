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
RawMark = Any  # PyYAML's Mark, or libyaml's: both have 0-based `line` and `column`


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
    """A loaded document and the positions of its values and keys, by path: PyYAML's own
    marks (0-based), turned into a `Mark` only when one is asked for -- most never are."""

    data: Any
    values: dict[Path, RawMark] = field(default_factory=dict)
    keys: dict[Path, RawMark] = field(default_factory=dict)

    def mark(self, path: Path, *, key: bool = False) -> Mark | None:
        """The mark of `path` (of its key when `key`), else of its nearest ancestor."""
        if key and path in self.keys:
            return _editor_mark(self.keys[path])
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return _editor_mark(found)
        return None


def _editor_mark(mark: RawMark) -> Mark:
    return Mark(mark.line + 1, mark.column + 1)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def load(text: str, *, max_nodes: int = MAX_NODES) -> Located:
    """Load one YAML document. Raises `YamlLoadError` listing what is wrong and where."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise YamlLoadError([YamlProblem(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB", Mark(1, 1))])
    fast = _load_fast(text, max_nodes)
    if fast is not None:
        return fast
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


def _libyaml_loader() -> Any:
    """libyaml's loader (None when PyYAML was built without it; pip wheels have it), with its
    implicit-tag resolution remembered: libyaml asks Python for each scalar's tag, and the
    same keys and values come back a thousand times in a large answers file."""
    base = getattr(yaml, "CSafeLoader", None)
    if base is None:
        return None
    tags: dict[tuple[str, tuple[bool, bool]], str] = {}
    resolve = base.resolve

    class Loader(base):  # type: ignore[misc,valid-type]
        def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
            if kind is not yaml.ScalarNode or not isinstance(value, str) or implicit is None:
                return str(resolve(self, kind, value, implicit))
            key = (value, tuple(implicit))
            tag = tags.get(key)
            if tag is None:
                tag = tags[key] = resolve(self, kind, value, implicit)
            return tag

    return Loader


_LIBYAML_LOADER: Any = _libyaml_loader()


def _load_fast(text: str, max_nodes: int) -> Located | None:
    """The document read from libyaml's events, or None where that reading could differ from
    the pure-Python composer's -- or needs more than plain mappings, lists and scalars.

    Found by comparing both on mutated answers files and random YAML: libyaml accepts tabs as
    separators and block-scalar headers without a space before a comment, counts a BOM inside
    the text as a column, puts an empty value's mark at the next token instead of after its
    indicator, and lets '?' into plain scalars in flow collections. Those, and anything
    unusual (anchors and aliases, explicit tags, merge keys, duplicate keys, a second
    document, any error), go to the pure-Python composer, which also words the refusals.
    Building from events skips the composer's node objects: half the cost of a large file."""
    if _LIBYAML_LOADER is None or "\t" in text or "\ufeff" in text[1:]:
        return None
    try:
        return _EventBuilder(max_nodes).load(text)
    except _ReadAgain:
        return None
    except Exception:  # any refusal, even one libyaml words its own way: the pure-Python composer says why
        return None


class _EventBuilder:
    """Plain values and their marks from the event stream of an ordinary document."""

    def __init__(self, max_nodes: int) -> None:
        self.max_nodes = max_nodes
        self.values: dict[Path, RawMark] = {}
        self.keys: dict[Path, RawMark] = {}
        self._constructor = yaml.SafeLoader("")  # only for its scalar constructors

    def load(self, text: str) -> Located:
        loader = _LIBYAML_LOADER(text)
        try:
            events = iter(loader.get_event, None)
            if not isinstance(next(events), yaml.StreamStartEvent) or not isinstance(
                next(events), yaml.DocumentStartEvent
            ):
                raise _ReadAgain  # an empty stream: the composer says so
            data = self._node(next(events), events, (), loader)
            if not isinstance(next(events), yaml.DocumentEndEvent) or not isinstance(next(events), yaml.StreamEndEvent):
                raise _ReadAgain  # a second document
        finally:
            loader.dispose()
        if len(self.values) + len(self.keys) > self.max_nodes:
            raise _ReadAgain
        return Located(data, self.values, self.keys)

    def _node(self, event: yaml.Event, events: Any, path: Path, loader: Any) -> Any:
        if getattr(event, "anchor", None) is not None or getattr(event, "tag", None) not in (None, "!"):
            raise _ReadAgain
        self.values[path] = event.start_mark
        if isinstance(event, yaml.ScalarEvent):
            return self._scalar(event, loader)
        if isinstance(event, yaml.SequenceStartEvent):
            out: list[Any] = []
            for item in events:
                if isinstance(item, yaml.SequenceEndEvent):
                    return out
                out.append(self._node(item, events, (*path, len(out)), loader))
            raise _ReadAgain
        if isinstance(event, yaml.MappingStartEvent):
            result: dict[Any, Any] = {}
            for key_event in events:
                if isinstance(key_event, yaml.MappingEndEvent):
                    return result
                if not isinstance(key_event, yaml.ScalarEvent) or key_event.anchor is not None:
                    raise _ReadAgain
                if key_event.tag not in (None, "!"):
                    raise _ReadAgain
                key = self._scalar(key_event, loader, merge_is_unusual=True)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    key = str(key)
                if key in result:
                    raise _ReadAgain  # the composer path reports both lines
                child = (*path, key)
                self.keys[child] = key_event.start_mark
                result[key] = self._node(next(events), events, child, loader)
            raise _ReadAgain
        raise _ReadAgain  # an alias

    def _scalar(self, event: yaml.ScalarEvent, loader: Any, *, merge_is_unusual: bool = False) -> Any:
        style, value = event.style, event.value
        if style in ("|", ">") or (not value and style not in ("'", '"')) or (not style and "?" in value):
            raise _ReadAgain
        tag = loader.resolve(yaml.ScalarNode, value, event.implicit)
        if tag in (_STR_TAG, _TIMESTAMP_TAG):
            return value  # dates stay text: nothing in an answers file is a datetime
        if tag not in _SCALAR_TAGS:
            raise _ReadAgain  # a merge key, or a tag the composer path refuses in its words
        start: Any = event.start_mark  # libyaml's own Mark type: the same line and column
        node = yaml.ScalarNode(tag, value, start, start, style)
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError):
            raise _ReadAgain from None  # the composer path says what cannot be read


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
    def __init__(self, max_nodes: int) -> None:
        self.max_nodes = max_nodes
        self.count = 0
        self.values: dict[Path, RawMark] = {}
        self.keys: dict[Path, RawMark] = {}
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
        self.values[path] = node.start_mark
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
                where = f" (first at line {first.line + 1})" if first else ""
                self.problems.append(YamlProblem(f"duplicate key {key!r}{where}", _mark(key_node)))
                continue
            self.count += 1
            if self.count > self.max_nodes:
                raise _TooBig
            child = (*path, key)
            self.keys[child] = key_node.start_mark
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
