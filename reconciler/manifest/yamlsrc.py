"""YAML to plain values, remembering where every node stood.

PyYAML's loaders drop positions and silently keep the last of duplicate mapping keys.
We compose the node graph (with the libyaml C composer when present) and build the
values ourselves: duplicates become errors, each path keeps its line and column, and
floats become Decimal straight from their text, never through a binary float.

Plain scalars resolve as YAML 1.2's core schema does (`yamlcore`). Integers written in a
form a reader could take either way (a leading zero, `0o`, `0x`) are listed in
`Document.misread` for the manifest to refuse, as is `.nan`, which every bound of a schema
lets through (nan < 0 and nan > 0 are both false).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import InvalidOperation
from typing import Any

import yaml

from reconciler.manifest.yamlcore import CONSTRUCTORS, MAYBE_NOT_STR, MISREAD, core_tag

Loader: Any
try:
    Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    Loader = yaml.SafeLoader

Path = tuple[str | int, ...]
MAX_NODES = 1_000_000
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_UNSEEN = object()
_COL, _NOWHERE = 0xFFFFF, 1 << 20 | 1  # a packed position's largest column; (1, 1) packed
# The event classes the builder meets most, tested with `type(...) is`: libyaml's parser
# makes exactly these classes (no subclasses), and a lookup on the module costs each event.
_SCALAR, _SEQUENCE_END, _MAPPING_END = yaml.ScalarEvent, yaml.SequenceEndEvent, yaml.MappingEndEvent


class YamlError(Exception):
    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


@dataclass
class Document:
    """The values, and positions: of every node when `complete`, else of the top two levels
    (the document's fields and each key) and of each key's field values, which is all a
    valid manifest and its warnings need."""

    data: Any
    complete: bool = False
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    misread: dict[Path, str] = field(default_factory=dict)  # path -> an integer's text, like 050; .nan
    # A second-level mapping's path -> its values' positions in order, packed (line << 20 | col):
    # a tenth of the memory of a mark per path (10,000 keys: 2.5 MB, not 10).
    fields: dict[Path, tuple[int, ...]] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the node at `path` (of its key, if asked), else its parent's."""
        if not key and path not in self.marks and path[:-1] in self.fields:
            return self._field(path)
        marks = self.key_marks if key and path in self.key_marks else self.marks
        while path not in marks and path:
            path = path[:-1]
        return marks.get(path, (1, 1))

    def knows(self, path: Path, *, key: bool = False) -> bool:
        """Whether `position` is exact for this path without every position kept."""
        return self.complete or len(path) <= 2 or (not key and len(path) == 3 and path[:-1] in self.fields)

    def _field(self, path: Path) -> tuple[int, int]:
        """A key's field value, from its mapping's packed positions (the mapping's, when it
        has no such field)."""
        parent: Any = self.data
        for part in path[:-1]:
            parent = parent[part]
        names = list(parent)
        if path[-1] not in names:
            return self.position(path[:-1])
        packed = self.fields[path[:-1]][names.index(path[-1])]
        return packed >> 20, packed & _COL


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
    loader = Loader(text)
    try:  # yaml.parse without its generator: one call per event
        doc.data = _Builder(doc, iter(loader.get_event, None)).document()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from exc
    except _NeedPositions:
        return parse(text, complete=True)
    finally:
        loader.dispose()
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
        self.scalars: dict[tuple[Any, ...], Any] = {}  # (tag, implicit, text) -> its (immutable) value
        self.quick = not doc.complete

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
        if type(event) is _SCALAR and self.quick and 2 < len(path) <= MAX_DEPTH and not event.anchor:
            self.count += 1  # most nodes: a field's scalar, whose position is not kept
            if self.count > MAX_NODES + 1:
                raise YamlError("document too large or too deeply nested", *_pos(event))
            value = self.scalars.get((event.tag, event.implicit, event.value), _UNSEEN)
            if value is _UNSEEN or type(value) is int or type(value) is float:  # new, or its text is checked
                return self._scalar(event, path)
            return value
        return self._node(event, path)

    def _node(self, event: yaml.Event, path: Path) -> Any:
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
            value = self._scalar(event, path)
        anchor = getattr(event, "anchor", None)
        if anchor:
            self.anchors[anchor] = (value, self.count - start)
        return value

    def _scalar(self, event: yaml.Event, path: Path) -> Any:
        text = getattr(event, "value", "")
        seen = (getattr(event, "tag", None), getattr(event, "implicit", None), text)
        value = self.scalars.get(seen, _UNSEEN)
        if value is _UNSEEN:  # a manifest repeats its amounts and whitelists: resolve each once
            value = self.scalars[seen] = _scalar(event)
        nan = type(value) is float and value != value  # .nan: no schema bound refuses it
        if nan or (type(value) is int and MISREAD.fullmatch(text)):
            self.doc.misread[path] = text
        return value

    def _sequence(self, path: Path) -> list[Any]:
        items: list[Any] = []
        quick = self.quick and 2 <= len(path) < MAX_DEPTH  # its items: `value`'s quick scalars
        for event in self.events:
            if type(event) is _SEQUENCE_END:
                break
            if quick and type(event) is _SCALAR and not event.anchor:
                items.append(self._quick_scalar(event, path, len(items)))
            else:
                items.append(self.value(event, (*path, len(items))))
        return items

    def _quick_scalar(self, event: Any, path: Path, name: str | int) -> Any:
        """`value` of a scalar below the second level in the quick pass (most of a manifest's
        nodes: a key's fields and whitelist items), without the calls `value` makes."""
        self.count += 1
        if self.count > MAX_NODES + 1:
            raise YamlError("document too large or too deeply nested", *_pos(event))
        text = event.value
        if event.tag is None and (not event.implicit[0] or (text and text[0] not in MAYBE_NOT_STR)):
            return text  # quoted, or plain and no other type's first character: a str, as `_scalar` says
        value = self.scalars.get((event.tag, event.implicit, text), _UNSEEN)
        if value is _UNSEEN or (type(value) is int and "0" in text[:2]):  # new, or maybe misread (050)
            return self._scalar(event, (*path, name))
        return value

    def _mapping(self, path: Path) -> dict[str, Any]:
        if len(path) == 2 and self.quick:
            return self._fields(path)
        result: dict[str, Any] = {}
        for event in self.events:
            if type(event) is _MAPPING_END:
                break
            key, child = self._key(event, path, result)
            result[key] = self.value(next(self.events), child)
        return result

    def _fields(self, path: Path) -> dict[str, Any]:
        """A second-level mapping (a manifest's key) in the quick pass: its values' positions
        kept packed, its scalar values taken as `value` takes them (one loop, ~10 calls a key
        fewer: a 10,000-key manifest has 60,000 such fields)."""
        result: dict[str, Any] = {}
        packed: list[int] = []
        events = self.events
        for event in events:
            if type(event) is _MAPPING_END:
                break
            key = self._field_key(event, result)
            value = next(events)
            mark = value.start_mark  # its position, packed (line << 20 | col)
            packed.append(_NOWHERE if mark is None else (mark.line + 1) << 20 | min(mark.column + 1, _COL))
            if type(value) is _SCALAR and not value.anchor:
                result[key] = self._quick_scalar(value, path, key)
            else:
                result[key] = self.value(value, (*path, key))
        if packed:
            self.doc.fields[path] = tuple(packed)
        return result

    def _field_key(self, event: Any, result: dict[str, Any]) -> str:
        """`_key` in the quick pass, below the second level: no position kept."""
        if type(event) is not _SCALAR or (event.value == "<<" and event.implicit[0]):
            raise YamlError("mapping keys must be plain names (no merge keys)", *_pos(event))
        key = str(event.value)
        if key in result:
            raise _NeedPositions
        return key

    def _key(self, event: yaml.Event, path: Path, result: dict[str, Any]) -> tuple[str, Path]:
        """A mapping key, checked (plain, not a merge, not a duplicate), and the path it names."""
        if type(event) is not _SCALAR or (event.value == "<<" and event.implicit[0]):
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
        return key, child


def _scalar(event: yaml.Event) -> Any:
    if not isinstance(event, yaml.ScalarEvent):
        raise YamlError("unexpected YAML structure", *_pos(event))
    text = str(event.value)
    if event.tag and event.tag != "!":
        tag = event.tag[len(_TAG) :] if event.tag.startswith(_TAG) else event.tag
    else:
        tag = core_tag(text) if event.implicit[0] else "str"
    if tag not in CONSTRUCTORS:
        raise YamlError(f"unsupported YAML tag {event.tag!r}", *_pos(event))
    try:
        return CONSTRUCTORS[tag](text)
    except (ValueError, InvalidOperation) as exc:
        raise YamlError(f"invalid {tag} value", *_pos(event)) from exc
