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
        return self.text.count("\n", 0, index) + 1, _column(self.text, index)


#: libyaml's parser when PyYAML was built with it (much faster on every save and check), else PyYAML's own.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The most values a file may hold once its aliases are expanded. Rule text is untrusted: nine levels of
#: nine aliases fit in a few kilobytes and expand to 387 million values, which hold a worker (and the
#: draft's database write) for minutes. The shipped rules/ files hold at most 976 values once expanded
#: (candidates.yaml, 6.4 KB with its test cases), so a 50,000-character file written out by hand holds
#: about 7,600; 20,000 is well above both, and refusing a hostile file takes well under a millisecond.
VALUES_MAX = 20_000
#: The deepest nesting of lists and mappings a file may have. The shipped files nest at most 6 deep (a test
#: case's medication trial); 40 is far above any rule file, and keeps the recursive steps of the
#: composer, the checks below and the constructor far from Python's recursion limit.
DEPTH_MAX = 40
#: Whole numbers in rule files are doses, scores and ranks; one beyond 64 bits is a mistake, and one of
#: thousands of digits cannot even be shown in a message.
INTEGER_BITS = 63


class _Constructor(_Loader):  # type: ignore[misc]
    """The safe loader, naming the value whose construction failed (an impossible date, say)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Construct one value; an error that is not YAML's own is raised as a YAML error at ``node``."""
        try:
            value = super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as error:  # the constructors of dates, numbers and the like raise their own errors
            shown = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            raise yaml.MarkedYAMLError(
                problem=f"cannot read {_shorten(str(shown))!r}: {error}", problem_mark=node.start_mark
            ) from None
        if isinstance(value, int) and value.bit_length() > INTEGER_BITS:
            raise yaml.MarkedYAMLError(
                problem=f"the number {_shorten(str(node.value))} is too large", problem_mark=node.start_mark
            )
        return value


def parse(text: str) -> Document:
    """Parse YAML text within VALUES_MAX and DEPTH_MAX, refusing duplicate keys; raise YamlProblem with a position.

    Anything the text makes the parser or the constructor raise is a YamlProblem: rule text is untrusted.
    """
    try:
        check_size(text)
        loader = _Constructor(text)
        try:
            root = loader.get_single_node()
            _refuse_bad_keys(root)
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlProblem(f"YAML: {error.problem or error.context}", line, column) from None
    except yaml.reader.ReaderError as error:  # a character no YAML file may hold, such as NUL
        index = error.position
        line = text.count("\n", 0, index) + 1
        character = f"#x{error.character:04x}" if isinstance(error.character, int) else repr(error.character)
        raise YamlProblem(
            f"YAML: unacceptable character {character}: {error.reason}", line, _column(text, index)
        ) from None
    except yaml.YAMLError as error:
        raise YamlProblem(f"YAML: {error}", 1, 1) from None
    except UnicodeError as error:  # a lone surrogate, which no file can hold
        index = getattr(error, "start", 0)
        line = text.count("\n", 0, index) + 1
        raise YamlProblem(
            "YAML: the text holds a character that is not Unicode text", line, _column(text, index)
        ) from None
    return Document(text, data, root)


def _column(text: str, index: int) -> int:
    """Return the 1-based column of ``index`` in ``text``."""
    return index - (text.rfind("\n", 0, index) + 1) + 1


def check_size(text: str) -> None:
    """Raise a YAML error when ``text`` expands beyond VALUES_MAX values or nests beyond DEPTH_MAX.

    One pass over the parser's events, before any node tree is built or any alias is followed; the
    error names the alias (or the value) that crossed the limit.
    """
    loader = _Loader(text)
    count = _Count()
    try:
        while not loader.check_event(yaml.StreamEndEvent):
            count.read(loader.get_event())
    finally:
        loader.dispose()


class _Count:
    """The values of a file as its parser reads them, aliases expanded.

    Each anchor's expanded size is kept when its value ends, so an alias costs one look-up and
    counting is linear in the text, however far its aliases would expand.
    """

    def __init__(self) -> None:
        self.total = 0
        self.sizes: dict[str, int] = {}
        #: (anchor, values so far) of each list or mapping being read, outermost first.
        self.open: list[tuple[str | None, int]] = []

    def read(self, event: yaml.Event) -> None:
        """Count one parser event."""
        if isinstance(event, yaml.CollectionStartEvent):
            if len(self.open) >= DEPTH_MAX:
                raise _too_much(f"lists and mappings nest more than {DEPTH_MAX} deep here", event)
            self._refuse_second_anchor(event)
            self._add(1, event, alias=False)
            self.open.append((event.anchor, 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = self.open.pop()
            if anchor is not None:
                self.sizes[anchor] = size
            self._add_to_parent(size)
        elif isinstance(event, yaml.ScalarEvent):
            self._refuse_second_anchor(event)
            if event.anchor is not None:
                self.sizes[event.anchor] = 1
            self._add(1, event, alias=False)
            self._add_to_parent(1)
        elif isinstance(event, yaml.AliasEvent):
            size = self._alias_size(event)
            self._add(size, event, alias=True)
            self._add_to_parent(size)

    def _refuse_second_anchor(self, event: yaml.NodeEvent) -> None:
        """Refuse an anchor written a second time (YAML's reader cannot tell which value its aliases name)."""
        name = event.anchor
        if name is not None and (name in self.sizes or any(anchor == name for anchor, _ in self.open)):
            raise _too_much(f"the anchor &{name} is written twice; give each anchor a name of its own", event)

    def _alias_size(self, event: yaml.AliasEvent) -> int:
        """Return how many values an alias stands for; refuse one inside its own value, or naming no anchor."""
        if event.anchor in self.sizes:
            return self.sizes[event.anchor]
        if any(anchor == event.anchor for anchor, _ in self.open):
            raise _too_much(f"the alias *{event.anchor} is inside the value it names, which would never end", event)
        raise _too_much(f"the alias *{event.anchor} names no anchor (&{event.anchor}) written before it", event)

    def _add(self, size: int, event: yaml.Event, *, alias: bool) -> None:
        """Count ``size`` more values in the file; raise once they pass VALUES_MAX."""
        self.total += size
        if self.total <= VALUES_MAX:
            return
        if alias:
            raise _too_much(
                f"aliases expand this file to more than {VALUES_MAX:,} values; write the values out or use fewer "
                "aliases",
                event,
            )
        raise _too_much(f"this file holds more than {VALUES_MAX:,} values; split it into smaller files", event)

    def _add_to_parent(self, size: int) -> None:
        """Count ``size`` more values in the list or mapping being read, for its anchor."""
        if self.open:
            anchor, values = self.open[-1]
            self.open[-1] = (anchor, values + size)


def _too_much(problem: str, event: yaml.Event) -> yaml.MarkedYAMLError:
    """Return the error of a limit crossed at ``event``."""
    return yaml.MarkedYAMLError(problem=problem, problem_mark=event.start_mark)


def _shorten(text: str, limit: int = 40) -> str:
    """Return ``text`` cut to ``limit`` characters, for a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _child(node: yaml.Node | None, step: str | int) -> yaml.Node | None:
    """Return the child of ``node`` at a mapping key or sequence index."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == step:
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]
    return None


def _refuse_bad_keys(node: yaml.Node | None) -> None:
    """Raise for a mapping key that is a list or mapping, or names the same key twice (YAML keeps the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise yaml.MarkedYAMLError(
                    problem="a key must be a single word or number, not a list or mapping", problem_mark=key.start_mark
                )
            if key.value in seen:
                raise yaml.MarkedYAMLError(problem=f"duplicate key '{key.value}'", problem_mark=key.start_mark)
            seen.add(key.value)
            _refuse_bad_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_bad_keys(item)


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
