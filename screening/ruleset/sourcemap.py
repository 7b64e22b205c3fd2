"""YAML documents that remember where each value was written, so errors can name file:line:col."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlProblem(Exception):
    """A YAML file cannot be read; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its data and the node tree that knows positions."""

    text: str
    data: Any
    root: yaml.Node | None

    def node_at(self, path: Path) -> yaml.Node | None:
        """Return the deepest node along ``path`` (mapping keys and sequence indexes)."""
        node = self.root
        for step in path:
            child = _child(node, step)
            if child is None:
                return node
            node = child
        return node

    def position(self, path: Path) -> tuple[int, int]:
        """Return the 1-based line and column of the value at ``path``."""
        node = self.node_at(path)
        if node is None:
            return 1, 1
        return node.start_mark.line + 1, node.start_mark.column + 1

    def key_position(self, path: Path) -> tuple[int, int]:
        """Return the line and column of the key that ends ``path`` (for an unknown key)."""
        parent = self.node_at(path[:-1])
        if isinstance(parent, yaml.MappingNode):
            for key, _ in parent.value:
                if key.value == path[-1]:
                    return key.start_mark.line + 1, key.start_mark.column + 1
        return self.position(path)

    def position_in_scalar(self, path: Path, offset: int) -> tuple[int, int]:
        """Return the line and column of character ``offset`` of the string scalar at ``path``."""
        node = self.node_at(path)
        if not isinstance(node, yaml.ScalarNode):
            return self.position(path)
        index = _source_index(self.text, node, offset)
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1) + 1
        return line, column


#: libyaml's parser when PyYAML was built with it (much faster on every save and check), else PyYAML's own.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> Document:
    """Parse YAML text, refusing duplicate keys; raise YamlProblem with a position."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        _refuse_duplicate_keys(root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlProblem(f"YAML: {error.problem or error.context}", line, column) from None
    except yaml.YAMLError as error:
        raise YamlProblem(f"YAML: {error}", 1, 1) from None
    finally:
        loader.dispose()
    return Document(text, data, root)


def _child(node: yaml.Node | None, step: str | int) -> yaml.Node | None:
    """Return the child of ``node`` at a mapping key or sequence index."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == step:
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]
    return None


def _refuse_duplicate_keys(node: yaml.Node | None) -> None:
    """Raise for a mapping that names the same key twice (YAML would keep only the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                raise yaml.MarkedYAMLError(problem=f"duplicate key '{key.value}'", problem_mark=key.start_mark)
            seen.add(key.value)
            _refuse_duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item)


def _source_index(text: str, node: yaml.ScalarNode, offset: int) -> int:
    """Map an offset in a scalar's value to an index in the file text.

    Plain, quoted and block scalars fold or strip white space, so the value and the
    source are walked together, matching runs of white space as one.
    """
    source = node.start_mark.index
    end = node.end_mark.index
    if node.style in ("'", '"'):
        source += 1
    elif node.style in ("|", ">"):
        source = text.index("\n", source, end) + 1 if "\n" in text[source:end] else source
    while source < end and text[source] in " \t\n" and node.value[:1] not in (" ", "\t", "\n"):
        source += 1
    position = 0
    while position < offset and source < end:
        if node.value[position].isspace() and text[source].isspace():
            while position < len(node.value) and node.value[position].isspace():
                position += 1
            while source < end and text[source].isspace():
                source += 1
        else:
            position += 1
            source += 1
    return source
