"""Compile rule conditions with rule-engine against the typed facts vocabulary.

rule-engine's own "line L:C" text is unreliable, so every failure is turned into an
offset within the condition text, which the loader maps to a position in the file.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import rule_engine
from rule_engine import DataType
from rule_engine import errors

from .facts import FACT_TYPES
from .facts import FACTS

_TYPE_NAMES = {fact.name: fact.type_name for fact in FACTS}
_STRING = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
_LITERAL = re.compile(rf"(?P<text>{_STRING})|(?P<number>\b\d+(?:\.\d+)?\b)|(?P<bool>\b(?:true|false)\b)")
_COMPARISON = re.compile(
    rf"\b(?P<fact>[a-z_][a-z0-9_]*)\s*(?:==|!=|>=|<=|>|<)\s*(?P<literal>{_STRING}|\d+(?:\.\d+)?|true|false)"
)


class ConditionError(Exception):
    """A condition cannot be compiled; ``offset`` is where in the condition text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Condition:
    """A compiled condition and the facts it reads."""

    text: str
    rule: rule_engine.Rule
    symbols: tuple[str, ...]

    def matches(self, facts: dict[str, Any]) -> bool:
        """Return True when the condition holds for ``facts``."""
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
    return Condition(text, rule, tuple(symbols))


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
