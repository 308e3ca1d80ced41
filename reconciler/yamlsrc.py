"""YAML to plain values, remembering where every node stood.

PyYAML's loaders drop positions and silently keep the last of duplicate mapping keys.
We compose the node graph (with the libyaml C composer when present) and build the
values ourselves: duplicates become errors, each path keeps its line and column, and
floats become Decimal straight from their text, never through a binary float.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

Loader: Any
try:
    Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    Loader = yaml.SafeLoader

Path = tuple[str | int, ...]
MAX_NODES = 1_000_000
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_constructor = yaml.constructor.SafeConstructor()


class YamlError(Exception):
    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


@dataclass
class Document:
    """The values, and positions: of every node when `complete`, else of the top two levels
    (the document's fields and each key), which is all a valid manifest needs."""

    data: Any
    complete: bool = False
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the node at `path` (of its key, if asked), else its parent's."""
        marks = self.key_marks if key and path in self.key_marks else self.marks
        while path not in marks and path:
            path = path[:-1]
        return marks.get(path, (1, 1))


def _pos(event: yaml.Event | yaml.Node) -> tuple[int, int]:
    mark: Any = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


class _NeedPositions(Exception):
    """A problem whose message needs positions the quick pass did not keep."""


def parse(text: str, complete: bool = False) -> Document:
    """Parse one YAML document; raises YamlError with a position on any problem.

    Built from libyaml's event stream: several times faster than composing PyYAML nodes.
    Positions below the second level cost a third of the memory of a large manifest, so
    they are kept only with `complete` (the loader parses again when a message needs them).
    """
    doc = Document(data=None, complete=complete)
    try:
        doc.data = _Builder(doc, yaml.parse(text, Loader=Loader)).document()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from exc
    except _NeedPositions:
        return parse(text, complete=True)
    return doc


def _yaml_error(exc: yaml.YAMLError) -> YamlError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    if mark is None:
        return YamlError(message)
    return YamlError(message, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, doc: Document, events: Iterator[yaml.Event]) -> None:
        self.doc = doc
        self.events = events
        self.count = 0
        self.anchors: dict[str, tuple[Any, int]] = {}  # value, and how many nodes it holds

    def document(self) -> Any:
        data, documents = None, 0
        for event in self.events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlError("expected one YAML document, found a second", *_pos(event))
                data = self.value(next(self.events), ())
        return data

    def value(self, event: yaml.Event, path: Path) -> Any:
        if self.count > MAX_NODES or len(path) > MAX_DEPTH:
            raise YamlError("document too large or too deeply nested", *_pos(event))
        if self.doc.complete or len(path) <= 2:
            self.doc.marks[path] = _pos(event)
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise YamlError(f"unknown alias *{event.anchor}", *_pos(event))
            value, size = self.anchors[event.anchor]
            self.count += size  # an alias costs what it expands to: no billion laughs
            return value
        start = self.count
        self.count += 1
        if isinstance(event, yaml.SequenceStartEvent):
            value = self._sequence(path)
        elif isinstance(event, yaml.MappingStartEvent):
            value = self._mapping(path)
        else:
            value = _scalar(event)
        anchor = getattr(event, "anchor", None)
        if anchor:
            self.anchors[anchor] = (value, self.count - start)
        return value

    def _sequence(self, path: Path) -> list[Any]:
        items: list[Any] = []
        for event in self.events:
            if isinstance(event, yaml.SequenceEndEvent):
                break
            items.append(self.value(event, (*path, len(items))))
        return items

    def _mapping(self, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for event in self.events:
            if isinstance(event, yaml.MappingEndEvent):
                break
            if not isinstance(event, yaml.ScalarEvent) or (event.value == "<<" and event.implicit[0]):
                raise YamlError("mapping keys must be plain names (no merge keys)", *_pos(event))
            key = str(event.value)
            child = (*path, key)
            if key in result and not self.doc.complete:
                raise _NeedPositions
            if key in result:
                first = self.doc.key_marks[child][0]
                raise YamlError(f"duplicate key '{key}' (first at line {first})", *_pos(event))
            if self.doc.complete or len(child) <= 2:
                self.doc.key_marks[child] = _pos(event)
            result[key] = self.value(next(self.events), child)
        return result


_resolver = yaml.resolver.Resolver()


def _scalar(event: yaml.Event) -> Any:
    if not isinstance(event, yaml.ScalarEvent):
        raise YamlError("unexpected YAML structure", *_pos(event))
    full = event.tag if event.tag and event.tag != "!" else None
    full = full or _resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
    node = yaml.ScalarNode(full, event.value)
    tag = full[len(_TAG) :] if full.startswith(_TAG) else full
    try:
        if tag == "str" or tag == "timestamp":  # dates are parsed by the manifest rules
            return str(node.value)
        if tag == "int":
            return _constructor.construct_yaml_int(node)
        if tag == "float":
            return _decimal(node)
        if tag == "bool":
            return _constructor.construct_yaml_bool(node)
        if tag == "null":
            return None
    except (ValueError, TypeError) as exc:
        raise YamlError(f"invalid {tag} value", *_pos(event)) from exc
    raise YamlError(f"unsupported YAML tag {node.tag!r}", *_pos(node))


def _decimal(node: yaml.Node) -> Decimal | float:
    """Exact from the text; .inf and .nan stay floats for the manifest rules to reject."""
    try:
        return Decimal(str(node.value).replace("_", ""))
    except InvalidOperation:
        return _constructor.construct_yaml_float(node)  # type: ignore[arg-type]
