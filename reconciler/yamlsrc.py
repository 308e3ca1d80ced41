"""YAML to plain values, remembering where every node stood.

PyYAML's loaders drop positions and silently keep the last of duplicate mapping keys.
We compose the node graph (with the libyaml C composer when present) and build the
values ourselves: duplicates become errors, each path keeps its line and column, and
floats become Decimal straight from their text, never through a binary float.
"""

from __future__ import annotations

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
    data: Any
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the node at `path` (of its key, if asked), else its parent's."""
        marks = self.key_marks if key and path in self.key_marks else self.marks
        while path not in marks and path:
            path = path[:-1]
        return marks.get(path, (1, 1))


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def parse(text: str) -> Document:
    """Parse one YAML document; raises YamlError with a position on any problem."""
    try:
        root = yaml.compose(text, Loader=Loader)  # a safe loader
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from exc
    doc = Document(data=None)
    if root is not None:
        doc.data = _Builder(doc).build(root, ())
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
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES or len(path) > MAX_DEPTH:
            raise YamlError("document too large or too deeply nested", *_pos(node))
        self.doc.marks[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return _scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _TAG + "merge":
                raise YamlError("mapping keys must be plain names", *_pos(key_node))
            key = str(key_node.value)
            child = (*path, key)
            if key in result:
                first = self.doc.key_marks[child][0]
                raise YamlError(f"duplicate key '{key}' (first at line {first})", *_pos(key_node))
            self.doc.key_marks[child] = _pos(key_node)
            result[key] = self.build(value_node, child)
        return result


def _scalar(node: yaml.Node) -> Any:
    tag = node.tag[len(_TAG) :] if node.tag.startswith(_TAG) else node.tag
    try:
        if tag == "str" or tag == "timestamp":  # dates are parsed by the manifest rules
            return str(node.value)
        if tag == "int":
            return _constructor.construct_yaml_int(node)  # type: ignore[arg-type]
        if tag == "float":
            return _decimal(node)
        if tag == "bool":
            return _constructor.construct_yaml_bool(node)  # type: ignore[arg-type]
        if tag == "null":
            return None
    except (ValueError, TypeError) as exc:
        raise YamlError(f"invalid {tag} value", *_pos(node)) from exc
    raise YamlError(f"unsupported YAML tag {node.tag!r}", *_pos(node))


def _decimal(node: yaml.Node) -> Decimal | float:
    """Exact from the text; .inf and .nan stay floats for the manifest rules to reject."""
    try:
        return Decimal(str(node.value).replace("_", ""))
    except InvalidOperation:
        return _constructor.construct_yaml_float(node)  # type: ignore[arg-type]
