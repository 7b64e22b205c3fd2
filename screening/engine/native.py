"""Plain Python functions for type-checked conditions: what rule-engine decides, without walking its tree each time.

rule-engine stays the parser and the type checker (``compiler``). Once it has accepted a condition, its
expression tree is translated here into the source of one small Python function, compiled once per condition
text (``compile_condition`` is cached, so once per rule set and process). The translation covers the node types
the shipped rules and the common edits use: fact names, number, text and boolean literals, arrays of such
literals, ``and``/``or``/``not``, ``==``/``!=``, ``<``/``<=``/``>``/``>=``, ``in``, ``.length`` and
``.is_empty``. For any other node (arithmetic, comprehensions, indexing, ``null``, ...), or operand types that
rule-engine compares differently from Python (arrays compared as wholes), ``native_function`` returns None and
the condition is evaluated by rule-engine as before. ``batch_function`` makes one function of all the
conditions of a rule set (``evaluation``) or of a dry run (``dry_run``), each fact loaded and checked once.

The function agrees with rule-engine by construction of its domain: the facts are a ``dict``, and every fact
it reads is loaded once, at the start, and checked to hold exactly the Python type its vocabulary entry
promises (a number is an ``int``,
a ``float`` or a ``Decimal``, never a ``bool``; a list of text is a list of ``str``). A number is kept as an
``int`` (exact, as rule-engine's ``Decimal`` of it) or turned into ``Decimal(repr(value))`` as rule-engine
does, so ordering and equality are those of rule-engine's values. A missing fact, a value of another type or
any exception raises out of the function; ``Condition.matches`` then asks rule-engine, whose answer (or error)
stands. So the fast path only ever answers where it is known to agree, and rule-engine answers everything else.

Safety: the generated source holds only this module's own tokens (local names ``v0``... and constants
``_k0``...); fact names and literal values from the rule text are passed as constants, never written into the
source. No regular expression can reach it (the compiler refuses them, and no node type here matches one), and
each node costs at most what rule-engine's evaluation of it costs, so ``compiler.COST_MAX`` and the evaluation
budget of ``bounded_child`` (a timer signal, which interrupts Python code between bytecodes) bound it as before.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from rule_engine import DataType
from rule_engine import ast

from .facts import FACT_TYPES

NativeFunction = Callable[[dict[str, Any]], bool]
#: All conditions of a rule set at once: each one's result, in order.
BatchFunction = Callable[[dict[str, Any]], list[bool]]

_BOOL = DataType.BOOLEAN
_NUMBER = DataType.FLOAT
_TEXT = DataType.STRING
_CODES = DataType.ARRAY(DataType.STRING)
_SCALARS = (_BOOL, _NUMBER, _TEXT)
_ORDER = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_EQUALITY = {"eq": "==", "ne": "!="}
_TEXT_ONLY = {str}


class Unsupported(Exception):
    """The condition uses something the translation does not cover: rule-engine evaluates it."""


class _Fallback(Exception):
    """A fact's value is not of its vocabulary type: rule-engine decides this evaluation."""


def _number(value: Any) -> Any:
    """Return a number fact as a value that compares as rule-engine's ``Decimal`` of it does."""
    kind = type(value)
    if kind is int or kind is decimal.Decimal:
        return value
    if kind is float:
        return decimal.Decimal(repr(value))  # rule-engine's own conversion (types.coercion._to_decimal)
    raise _Fallback()


def _codes(value: Any) -> Any:
    """Return a list-of-text fact, checked to hold text only."""
    kind = type(value)
    if (kind is list or kind is tuple) and (not value or set(map(type, value)) == _TEXT_ONLY):
        return value
    raise _Fallback()


def _fallback() -> None:
    """Leave the evaluation to rule-engine."""
    raise _Fallback()


def _constant(value: Any) -> Any:
    """Return a literal's value as the translation holds it: a whole number as an exact ``int``."""
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


class _Emitter:
    """Turns one expression tree into Python source; every value from the rule text becomes a constant."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {"_number": _number, "_codes": _codes, "_fallback": _fallback}
        self.loads: list[str] = []
        self.locals: dict[str, str] = {}

    def constant(self, value: Any) -> str:
        """Return the name of a new constant holding ``value``."""
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def fact(self, name: str) -> tuple[str, Any]:
        """Return the local that holds fact ``name`` (loaded and checked once, at the start) and its type."""
        kind = FACT_TYPES.get(name)
        if kind is None:
            raise Unsupported(name)
        if name not in self.locals:
            local = f"v{len(self.locals)}"
            key = self.constant(name)
            if kind == _NUMBER:
                self.loads += [f"{local} = facts[{key}]", f"if type({local}) is not int: {local} = _number({local})"]
            elif kind == _CODES:
                self.loads.append(f"{local} = _codes(facts[{key}])")
            elif kind in (_BOOL, _TEXT):
                python = "bool" if kind == _BOOL else "str"
                self.loads += [f"{local} = facts[{key}]", f"if type({local}) is not {python}: _fallback()"]
            else:
                raise Unsupported(name)
            self.locals[name] = local
        return self.locals[name], kind

    def emit(self, node: Any) -> tuple[str, Any]:
        """Return the source of ``node`` and its type; raise Unsupported for anything not covered."""
        kind = type(node)
        if kind in (ast.BooleanExpression, ast.FloatExpression, ast.StringExpression):
            return self.constant(_constant(node.value)), node.result_type
        if kind is ast.ArrayExpression:
            return self._array(node)
        if kind is ast.SymbolExpression and node.scope is None:
            return self.fact(node.name)
        if kind is ast.LogicExpression and node.type in ("and", "or"):
            left, right = self.emit(node.left)[0], self.emit(node.right)[0]
            return f"bool({left} {node.type} {right})", _BOOL
        if kind is ast.UnaryExpression and node.type == "not":
            return f"(not {self.emit(node.right)[0]})", _BOOL
        if kind in (ast.ComparisonExpression, ast.ArithmeticComparisonExpression):
            return self._comparison(node)
        if kind is ast.ContainsExpression:
            return self._contains(node)
        if kind is ast.GetAttributeExpression and node.name in ("length", "is_empty") and not node.safe:
            source, object_type = self.emit(node.object)
            if object_type != _TEXT and not DataType.is_type(object_type, DataType.ARRAY):
                raise Unsupported(node.name)
            return (f"len({source})", _NUMBER) if node.name == "length" else (f"(not {source})", _BOOL)
        raise Unsupported(kind.__name__)

    def _array(self, node: Any) -> tuple[str, Any]:
        """Return an array of scalar literals as one tuple constant."""
        members = []
        for member in node.value:
            if type(member) not in (ast.BooleanExpression, ast.FloatExpression, ast.StringExpression):
                raise Unsupported("array member")
            members.append(_constant(member.value))
        return self.constant(tuple(members)), node.result_type

    def _comparison(self, node: Any) -> tuple[str, Any]:
        """Return a comparison of two scalars of the same type (arrays compare otherwise in rule-engine)."""
        operator = _EQUALITY.get(node.type) if type(node) is ast.ComparisonExpression else _ORDER.get(node.type)
        (left, left_type), (right, right_type) = self.emit(node.left), self.emit(node.right)
        if operator is None or left_type != right_type or left_type not in _SCALARS:
            raise Unsupported(node.type)
        return f"({left} {operator} {right})", _BOOL

    def _contains(self, node: Any) -> tuple[str, Any]:
        """Return ``member in container`` for text in text, or a scalar in an array of scalars."""
        (container, container_type), (member, member_type) = self.emit(node.container), self.emit(node.member)
        if not _containable(node.container, container_type, member_type):
            raise Unsupported("in")
        return f"({member} in {container})", _BOOL


def _containable(container: Any, container_type: Any, member_type: Any) -> bool:
    """Return True when ``in`` means the same in Python: text in text, a scalar in an array of scalar literals."""
    if member_type not in _SCALARS:
        return False
    if container_type == _TEXT:
        return bool(member_type == _TEXT)
    if not DataType.is_type(container_type, DataType.ARRAY):
        return False
    if container_type.value_type == DataType.UNDEFINED:
        return type(container) is ast.ArrayExpression  # an empty literal, or one of mixed types
    return container_type.value_type in _SCALARS


def native_function(expression: Any) -> NativeFunction | None:
    """Return a plain Python function deciding ``expression`` as rule-engine does, or None when not covered.

    The function raises (a missing fact, a value not of its type) where rule-engine must decide instead.
    """
    emitter = _Emitter()
    try:
        body, _ = emitter.emit(expression)
    except Unsupported:
        return None
    function: NativeFunction = _define(emitter, f"bool({body})")
    return function


def batch_function(conditions: Sequence[tuple[Any, Callable[[dict[str, Any]], bool]]]) -> BatchFunction:
    """Return one function deciding every condition (its expression tree and its own ``matches``), in order.

    Each fact is loaded and checked once for all of them; a condition the translation does not cover is
    decided by its ``matches``. The function raises where any condition would need rule-engine's answer:
    the caller then decides each condition on its own, so that a condition that raises is named as before.
    Condition ``i`` is decided on line ``first_line + i`` of the function's code (``condition_at``).
    """
    emitter = _Emitter()
    results = []
    for index, (expression, matches) in enumerate(conditions):
        try:
            body, _ = emitter.emit(expression)
            results.append(f"_r{index} = bool({body})")
        except Unsupported:
            results.append(f"_r{index} = {emitter.constant(matches)}(facts)")
    names = ", ".join(f"_r{index}" for index in range(len(results)))
    batch = _define(emitter, f"[{names}]", results)
    batch.first_line = 3 + len(emitter.loads)  # the "def" line is 1, the check of ``facts`` 2
    function: BatchFunction = batch
    return function


def condition_at(function: BatchFunction, line: int) -> int | None:
    """Return the index of the condition a batch function decides on ``line`` of its code, if any."""
    first = getattr(function, "first_line", None)
    return line - first if first is not None and line >= first else None


def _define(emitter: _Emitter, result: str, steps: Sequence[str] = ()) -> Any:
    """Return the function that loads the emitter's facts, takes ``steps`` (one line each) and returns ``result``."""
    body = ["if type(facts) is not dict: _fallback()", *emitter.loads, *steps, f"return {result}"]
    lines = ["def condition(facts):", *(f"    {line}" for line in body)]
    namespace: dict[str, Any] = {
        "__builtins__": {"bool": bool, "dict": dict, "type": type, "int": int, "str": str, "len": len}
    }
    namespace.update(emitter.constants)
    exec(compile("\n".join(lines), "<rule condition>", "exec"), namespace)  # noqa: S102 - our own tokens only
    return namespace["condition"]
