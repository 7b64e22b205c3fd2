"""Compile rule conditions with rule-engine against the typed facts vocabulary.

rule-engine's own "line L:C" text is unreliable, so every failure is turned into an
offset within the condition text, which the loader maps to a position in the file.

A condition may use only what evaluates in bounded time and memory: comparisons, boolean logic,
arithmetic, ``in``, a few attributes (``.length``...), indexing, and arrays and comprehensions.
Regular expressions (they can backtrack for hours), rule-engine's ``$`` builtins (``$now`` and
``$random`` differ from one evaluation to the next) and bit operators are refused before
rule-engine compiles the text, because rule-engine evaluates expressions over literals while it
compiles them. After compiling, the expression tree is walked and only checked node types pass.
How long an allowed condition takes still depends on its size (a comprehension over a long literal
array inside another), so each condition's worst case is counted from its tree (``worst_case_cost``:
comprehensions multiply the length of what they iterate by the cost of their body) and a condition
over ``COST_MAX`` is refused: a patient's page evaluates the published rules in the web worker, so no
published condition may take long for any answers, even ones no test or dry run has seen. The
budget of ``engine.budget`` bounds what is evaluated while rule text is checked on top of that.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from dataclasses import field
from functools import lru_cache
from typing import Any

import rule_engine
from rule_engine import DataType
from rule_engine import ast
from rule_engine import errors

from .facts import FACT_TYPES
from .facts import FACTS
from .native import NativeFunction
from .native import native_function

_TYPE_NAMES = {fact.name: fact.type_name for fact in FACTS}
_STRING = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
_LITERAL = re.compile(rf"(?P<text>{_STRING})|(?P<number>\b\d+(?:\.\d+)?\b)|(?P<bool>\b(?:true|false)\b)")
_COMPARISON = re.compile(
    rf"\b(?P<fact>[a-z_][a-z0-9_]*)\s*(?:==|!=|>=|<=|>|<)\s*(?P<literal>{_STRING}|\d+(?:\.\d+)?|true|false)"
)


#: rule-engine's regular-expression operators, refused with what to write instead.
_REGEX_TOKENS = {"EQ_FZM": "=~", "EQ_FZS": "=~~", "NE_FZM": "!~", "NE_FZS": "!~~"}
#: Bit operators: rule-engine folds ``1 << 30000000`` into a nine-million-digit number while compiling.
_BIT_TOKENS = {"BWAND": "&", "BWOR": "|", "BWXOR": "^", "BWLSH": "<<", "BWRSH": ">>"}
#: Literals conditions have no use for: no fact has their type (write a list of values as an array, [...]).
_LITERAL_TOKENS = {
    "BYTES": "bytes literals",
    "DATETIME": "date and time literals",
    "TIMEDELTA": "time span literals",
    "LBRACE": "mapping and set literals ({...})",
}
#: Attributes whose cost is at most linear in the size of the value (none of them returns a function).
ATTRIBUTES = frozenset({"length", "is_empty", "as_lower", "as_upper", "to_set", "to_ary", "ceiling", "floor"})
#: Expression nodes checked to evaluate in time linear in their operands (comprehensions multiply the
#: lengths of their arrays, which the evaluation budget bounds). Exact types: a subclass may do more,
#: as the regular-expression comparison does.
_BOUNDED_NODES: frozenset[type] = frozenset(
    {
        ast.BooleanExpression,
        ast.FloatExpression,
        ast.StringExpression,
        ast.NullExpression,
        ast.ArrayExpression,
        ast.SetExpression,
        ast.SymbolExpression,
        ast.LogicExpression,
        ast.ComparisonExpression,
        ast.ArithmeticComparisonExpression,
        ast.AddExpression,
        ast.SubtractExpression,
        ast.ArithmeticExpression,
        ast.CoalesceExpression,
        ast.ContainsExpression,
        ast.GetAttributeExpression,
        ast.GetItemExpression,
        ast.GetSliceExpression,
        ast.ComprehensionExpression,
        ast.TernaryExpression,
        ast.UnaryExpression,
    }
)
#: The operands of each kind of node, by attribute name.
#: The most element operations one condition may cost in the worst case. The shipped conditions cost at most about a
#: hundred; one operation takes about 6 microseconds in rule-engine on two cores, so no published condition can take
#: much more than a second for any answers (a comprehension inside a comprehension inside another, over long lists,
#: would take hours). The evaluation budget keeps checks far below that.
COST_MAX = 200_000
#: How many elements a fact's list or text is counted as when its length is not written in the condition: above
#: every vocabulary (the longest has fewer than 40 codes) and every code's length.
_FACT_LENGTH = 64
#: Nodes whose evaluation walks the elements of their operands (comparing arrays, concatenating, ``in``).
_ELEMENTWISE: tuple[type, ...] = (
    ast.ComparisonExpression,
    ast.ArithmeticComparisonExpression,
    ast.AddExpression,
    ast.ContainsExpression,
    ast.GetSliceExpression,
)
_OPERANDS = ("left", "right", "container", "member", "object", "item", "start", "stop", "iterable", "condition")
_MORE_OPERANDS = ("result", "case_true", "case_false")


class ConditionError(Exception):
    """A condition cannot be compiled; ``offset`` is where in the condition text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Condition:
    """A compiled condition and the facts it reads.

    ``native`` is the same condition as a plain Python function (``engine.native``), where the translation
    covers it: it answers for well-typed facts, and rule-engine answers whatever it raises for.
    """

    text: str
    rule: rule_engine.Rule
    symbols: tuple[str, ...]
    native: NativeFunction | None = field(default=None, compare=False, repr=False)

    def matches(self, facts: dict[str, Any]) -> bool:
        """Return True when the condition holds for ``facts``."""
        if self.native is not None:
            try:
                return self.native(facts)
            except MemoryError:
                raise
            except Exception:  # noqa: BLE001, S110 - rule-engine decides (and names the error) below
                pass
        return bool(self.rule.matches(facts))


@lru_cache(maxsize=4096)
def compile_condition(text: str) -> Condition:
    """Compile ``text``; raise ConditionError naming what is wrong and where."""
    symbols: list[str] = []

    def resolve(name: str) -> Any:
        if name not in FACT_TYPES:
            raise errors.SymbolResolutionError(name)
        if name not in symbols:
            symbols.append(name)
        return FACT_TYPES[name]

    context = rule_engine.Context(type_resolver=resolve)
    _refuse_unbounded_tokens(text)
    try:
        rule = rule_engine.Rule(text, context=context)
    except errors.RuleSyntaxError as error:
        token = getattr(error, "token", None)
        if token is None:
            raise ConditionError("syntax error: the condition ends too early", len(text.rstrip())) from None
        raise ConditionError(f"syntax error at '{token.value}'", int(token.lexpos)) from None
    except errors.SymbolResolutionError as error:
        raise _unknown_fact(text, error.symbol_name) from None
    except errors.EngineError as error:
        raise _type_mismatch(text, error.message) from None
    _require_boolean(text, rule)
    _require_bounded(text, rule.statement.expression)
    _require_cheap(rule.statement.expression)
    return Condition(text, rule, tuple(symbols), native_function(rule.statement.expression))


def _tokens(text: str) -> list[Any]:
    """Return rule-engine's tokens of ``text``, up to the first one it cannot read (compiling reports that)."""
    lexer = rule_engine.Rule.parser._lexer.clone()  # noqa: SLF001 - rule-engine's own lexer, so tokens match its parser
    lexer.input(text)
    tokens = []
    try:
        for token in iter(lexer.token, None):
            tokens.append(token)
    except errors.RuleSyntaxError:
        pass
    return tokens


def _refuse_unbounded_tokens(text: str) -> None:
    """Refuse regular expressions, builtins, bit operators and other literals, before anything is evaluated."""
    tokens = _tokens(text)
    for index, token in enumerate(tokens):
        kind, offset = token.type, int(token.lexpos)
        if kind in _REGEX_TOKENS:
            raise ConditionError(
                f"regular expressions ('{_REGEX_TOKENS[kind]}') are not allowed in conditions: some take hours on a "
                'short text. Compare with == (phq9_band == "severe"), use in with a list of values '
                '(phq9_band in ["moderately_severe", "severe"]), or ask for a fact that says what you need',
                offset,
            )
        if kind in _BIT_TOKENS:
            raise ConditionError(f"the bit operator '{_BIT_TOKENS[kind]}' is not allowed in conditions", offset)
        if kind in _LITERAL_TOKENS:
            raise ConditionError(
                f"{_LITERAL_TOKENS[kind]} are not allowed in conditions: no fact has that type "
                '(a list of values is an array: ["yes", "possible"])',
                offset,
            )
        if kind == "SYMBOL" and str(token.value).startswith("$"):
            raise ConditionError(
                f"'{token.value}' (a rule-engine builtin) is not allowed in conditions: a condition reads only the "
                "facts, so that the same answers always get the same outcome (see `flask rules facts`)",
                offset,
            )
        after_dot = index > 0 and tokens[index - 1].type in ("ATTR", "ATTR_SAFE")
        if kind == "SYMBOL" and after_dot and token.value not in ATTRIBUTES:
            raise ConditionError(_attribute_message(str(token.value)), offset)


def _attribute_message(name: str) -> str:
    """Describe an attribute conditions may not use."""
    allowed = ", ".join(f".{attribute}" for attribute in sorted(ATTRIBUTES))
    return f"the attribute '.{name}' is not allowed in conditions (allowed: {allowed})"


def _require_bounded(text: str, node: Any) -> None:
    """Refuse any expression node not checked to be bounded (the tokens were checked first: this is the backstop)."""
    if type(node) not in _BOUNDED_NODES:
        name = type(node).__name__.removesuffix("Expression").lower()
        raise ConditionError(f"this kind of expression ({name}) is not allowed in conditions", 0)
    if isinstance(node, ast.SymbolExpression) and node.scope is not None:
        raise ConditionError(f"'${node.name}' (a rule-engine builtin) is not allowed in conditions", 0)
    if isinstance(node, ast.GetAttributeExpression) and node.name not in ATTRIBUTES:
        found = _outside_strings(text, re.compile(rf"\.{re.escape(node.name)}\b"))
        raise ConditionError(_attribute_message(node.name), found.start() + 1 if found else 0)
    for operand in _operands(node):
        _require_bounded(text, operand)


def _require_cheap(expression: Any) -> None:
    """Refuse a condition whose worst case costs more than COST_MAX element operations."""
    cost = worst_case_cost(expression)
    if cost > COST_MAX:
        raise ConditionError(
            f"this condition could take up to {cost:,} steps for one submission (at most {COST_MAX:,} are allowed): "
            "use fewer or shorter lists, and no list comprehension inside another",
            0,
        )


def worst_case_cost(expression: Any) -> int:
    """Return an upper bound on the element operations evaluating ``expression`` takes, whatever the facts.

    A comprehension's variable, or an item taken from a list, may itself be a list of any literal's length: it
    is counted as long as all the condition's literals together, or a fact's list, whichever is longer.
    """
    unknown = max(_FACT_LENGTH, _literal_elements(expression))
    return _cost(expression, unknown)


def _literal_elements(node: Any) -> int:
    """Return how many elements and characters the literals of ``node`` hold in all."""
    own = len(node.value) if isinstance(node, ast.ArrayExpression | ast.SetExpression | ast.StringExpression) else 0
    return own + sum(_literal_elements(operand) for operand in _operands(node))


def _cost(node: Any, unknown: int) -> int:
    """Return the worst-case cost of ``node``; ``unknown`` is the length of a list whose length is not written."""
    operands = _operands(node)
    if isinstance(node, ast.ComprehensionExpression):
        body = _cost(node.result, unknown) + (_cost(node.condition, unknown) if node.condition is not None else 0)
        return _cost(node.iterable, unknown) + _length(node.iterable, unknown) * (1 + body)
    cost = 1 + sum(_cost(operand, unknown) for operand in operands)
    if isinstance(node, _ELEMENTWISE) or (isinstance(node, ast.GetAttributeExpression) and node.name != "length"):
        cost += sum(_length(operand, unknown) for operand in operands)
    return cost


def _length(node: Any, unknown: int) -> int:
    """Return an upper bound on the number of elements (or characters) of the value of ``node``, 1 for a scalar."""
    if isinstance(node, ast.ArrayExpression | ast.SetExpression | ast.StringExpression):
        return max(1, len(node.value))
    if isinstance(node, ast.ComprehensionExpression):
        return _length(node.iterable, unknown)
    if isinstance(node, ast.GetSliceExpression):
        return _length(node.container, unknown)
    if isinstance(node, ast.GetAttributeExpression):
        return _length(node.object, unknown) if node.name != "length" else 1
    if isinstance(node, ast.AddExpression):
        return _length(node.left, unknown) + _length(node.right, unknown)
    if isinstance(node, ast.SymbolExpression):
        kind = FACT_TYPES.get(node.name)
        if kind is None:
            return unknown  # a comprehension's variable
        listlike = DataType.is_compatible(kind, DataType.ARRAY) or DataType.is_compatible(kind, DataType.STRING)
        return _FACT_LENGTH if listlike else 1
    if isinstance(node, ast.GetItemExpression | ast.TernaryExpression | ast.CoalesceExpression):
        return unknown
    return 1


def _operands(node: Any) -> list[Any]:
    """Return the expressions a node evaluates: its operands, or the members of an array or set literal."""
    if isinstance(node, ast.ArrayExpression | ast.SetExpression):
        return list(node.value)
    operands = []
    for name in (*_OPERANDS, *_MORE_OPERANDS):
        operand = getattr(node, name, None)
        if isinstance(operand, ast.ExpressionBase):
            operands.append(operand)
    return operands


def _unknown_fact(text: str, name: str) -> ConditionError:
    """Describe an unknown fact, suggesting the closest known name."""
    found = _outside_strings(text, re.compile(rf"\b{re.escape(name)}\b"))
    close = difflib.get_close_matches(name, FACT_TYPES, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else " (see `flask rules facts`)"
    return ConditionError(f"unknown fact '{name}'{hint}", found.start() if found else 0)


def _type_mismatch(text: str, detail: str) -> ConditionError:
    """Describe a comparison between a fact and a literal of another type."""
    for match in _COMPARISON.finditer(text):
        fact, literal = match.group("fact"), match.group("literal")
        expected = _TYPE_NAMES.get(fact)
        actual = _literal_type(literal)
        if expected is not None and actual != expected:
            return ConditionError(
                f"type mismatch: '{fact}' is {_article(expected)} but is compared with {actual} {literal}",
                match.start("literal"),
            )
    return ConditionError(f"type mismatch: {detail}", 0)


def _require_boolean(text: str, rule: rule_engine.Rule) -> None:
    """Refuse a condition that is not true or false, such as a bare number."""
    result = rule.statement.expression.result_type
    if result not in (DataType.BOOLEAN, DataType.UNDEFINED):
        raise ConditionError("the condition must be true or false, not a value such as a number", 0)


def _literal_type(literal: str) -> str:
    """Return the staff-facing type name of a literal."""
    match = _LITERAL.fullmatch(literal)
    if match is None or match.group("text"):
        return "text"
    return "number" if match.group("number") else "boolean"


def _article(type_name: str) -> str:
    """Return the type name with an article."""
    return f"a {type_name}" if type_name != "list of text" else "a list of text"


def _outside_strings(text: str, pattern: re.Pattern[str]) -> re.Match[str] | None:
    """Return the first match of ``pattern`` that is not inside a string literal."""
    strings = [m.span() for m in re.finditer(_STRING, text)]
    for match in pattern.finditer(text):
        if not any(start <= match.start() < end for start, end in strings):
            return match
    return None
