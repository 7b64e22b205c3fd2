"""Conditions compiled to plain Python functions decide exactly as rule-engine does.

Compared on every condition of the shipped rules, with the facts of every shipped test case, with facts
derived from generated answers documents, with generated (also ill-typed) facts, and with generated
conditions. "Decide" includes raising: where rule-engine raises, ``Condition.matches`` raises the same error.
"""

from __future__ import annotations

import decimal
import sys
import types
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from screening.engine import evaluation
from screening.engine import native
from screening.engine.bounded_child import Watch
from screening.engine.bounded_child import label_batch
from screening.engine.bounded_child import watched
from screening.engine.budget import Where
from screening.engine.cases import all_cases
from screening.engine.compiler import Condition
from screening.engine.compiler import ConditionError
from screening.engine.compiler import compile_condition
from screening.engine.evaluation import RuleFailed
from screening.engine.evaluation import fire
from screening.engine.evaluation import screen_answers
from screening.engine.facts import CODES
from screening.engine.facts import FACTS
from screening.engine.facts import NUMBER
from screening.engine.facts import TEXT
from screening.engine.facts import BOOL
from screening.engine.facts import derive_facts
from screening.engine.loader import load_ruleset
from screening.engine.loader import read_sources
from screening.engine.model import RuleSet
from screening.fake import answers_documents
from screening.instruments.scoring import score_answers

from .ruleset_files import RULES

_RULESET: RuleSet = load_ruleset(read_sources(RULES))
_CONDITIONS = sorted({rule.condition.text for rule in _RULESET.rules})
_CODES = ["glaucoma", "psychosis", "maoi", "opioid", "graded_exercise", "cbt", "fibromyalgia", "", "yes"]
_TEXTS = ["yes", "no", "possible", "severe", "never", "tried", "", "Yes", "moderately_severe"]


def _decide(condition: Any, facts: dict[str, Any]) -> tuple[str, Any]:
    """Return what ``condition`` gives for ``facts``: its value, or the kind of error it raises."""
    try:
        return ("value", condition(facts))
    except Exception as error:  # noqa: BLE001 - the kind of error is compared
        return ("raised", type(error).__name__)


def _agree(text: str, facts: dict[str, Any]) -> None:
    """Assert that the compiled condition (with its fallback) and rule-engine decide alike, and alike again."""
    condition = compile_condition(text)
    expected = _decide(lambda f: bool(condition.rule.matches(f)), facts)
    assert _decide(condition.matches, facts) == expected, (text, facts)
    if condition.native is not None and expected[0] == "value":
        direct = _decide(condition.native, facts)
        assert direct == expected or direct[0] == "raised", (text, facts)  # raising leaves it to rule-engine


def test_every_shipped_condition_is_compiled() -> None:
    assert _CONDITIONS
    uncovered = [text for text in _CONDITIONS if compile_condition(text).native is None]
    assert uncovered == []


def test_the_compiled_function_decides_without_rule_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    condition = compile_condition('"glaucoma" in medical_history and age >= 65')
    monkeypatch.setattr(type(condition.rule), "matches", lambda self, thing: pytest.fail("rule-engine was asked"))
    assert condition.matches({"medical_history": ["glaucoma"], "age": 70}) is True
    assert condition.matches({"medical_history": ["glaucoma"], "age": 64}) is False


def test_what_the_translation_does_not_cover_is_left_to_rule_engine() -> None:
    for text in ("age + 1 > 65", "[x for x in diagnoses if x == 'a'].length > 0", "diagnoses == ['a']"):
        condition = compile_condition(text)
        assert condition.native is None
        assert condition.matches({**_baseline_facts(), "age": 70, "diagnoses": ["a"]}) is True


def test_an_ill_typed_fact_is_decided_by_rule_engine() -> None:
    condition = compile_condition('"glaucoma" in medical_history')
    assert condition.native is not None
    with pytest.raises(Exception) as raised:
        condition.matches({"medical_history": ["glaucoma", None]})
    with pytest.raises(type(raised.value)):
        condition.rule.matches({"medical_history": ["glaucoma", None]})


class _Items:
    """Not a mapping, though it has items: rule-engine resolves no fact in it."""

    def __getitem__(self, name: str) -> Any:
        return 70


def test_facts_that_are_not_a_dict_are_decided_by_rule_engine() -> None:
    _agree("age >= 65", types.MappingProxyType({"age": 70}))  # type: ignore[arg-type]
    _agree("age >= 65", _Items())  # type: ignore[arg-type]
    assert _decide(compile_condition("age >= 65").matches, _Items())[0] == "raised"  # type: ignore[arg-type]


def _baseline_facts() -> dict[str, Any]:
    return dict(screen_answers(_RULESET.baseline, _RULESET).facts)


def _case_facts(case: Any) -> dict[str, Any]:
    spec = case.spec
    if spec.facts is None:
        return dict(screen_answers({**_RULESET.baseline, **(spec.answers or {})}, _RULESET).facts)
    return {**_baseline_facts(), **spec.facts}


@pytest.mark.parametrize("case", all_cases(_RULESET), ids=lambda case: f"{case.file}:{case.line}")
def test_every_shipped_case_is_decided_alike(case: Any) -> None:
    facts = _case_facts(case)
    for text in _CONDITIONS:
        _agree(text, facts)


def test_generated_answers_documents_are_decided_alike() -> None:
    for document in answers_documents(300, seed=1411):
        facts = derive_facts(document, score_answers(document).as_dict(), _RULESET.tables)
        for text in _CONDITIONS:
            _agree(text, facts)


_NUMBERS = st.one_of(
    st.integers(-5, 70),
    st.integers(-(10**40), 10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, places=2, min_value=-100, max_value=100),
)
_ODD = st.one_of(st.none(), st.booleans(), st.integers(0, 3), st.text(max_size=3), st.lists(st.integers(0, 2)))


def _value(kind: Any) -> st.SearchStrategy[Any]:
    """Return values of a fact's type, and now and then one of another type (rule-engine raises for those)."""
    if kind == NUMBER:
        right = _NUMBERS
    elif kind == BOOL:
        right = st.booleans()
    elif kind == TEXT:
        right = st.sampled_from(_TEXTS)
    else:
        right = st.lists(st.sampled_from(_CODES), max_size=4)
    return st.one_of(right, right, right, _ODD, st.lists(st.one_of(st.sampled_from(_CODES), st.none()), max_size=3))


_FACTS = st.fixed_dictionaries({fact.name: _value(fact.type) for fact in FACTS})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=_FACTS, drop=st.sets(st.sampled_from([fact.name for fact in FACTS]), max_size=2))
def test_generated_facts_are_decided_alike(facts: dict[str, Any], drop: set[str]) -> None:
    facts = {name: value for name, value in facts.items() if name not in drop}
    for text in _CONDITIONS:
        _agree(text, facts)


def _literal(kind: Any) -> st.SearchStrategy[str]:
    if kind == NUMBER:
        return st.one_of(st.integers(0, 70).map(str), st.sampled_from(["0.5", "10.0", "65.25", "1e2"]))
    if kind == BOOL:
        return st.sampled_from(["true", "false"])
    return st.sampled_from(_TEXTS).map(lambda text: f'"{text}"')


_BY_KIND = {kind: [fact.name for fact in FACTS if fact.type == kind] for kind in (NUMBER, BOOL, TEXT, CODES)}


def _scalar(kind: Any) -> st.SearchStrategy[str]:
    operand = st.one_of(st.sampled_from(_BY_KIND[kind]), _literal(kind))
    if kind == NUMBER:
        lengths = st.sampled_from(_BY_KIND[CODES] + _BY_KIND[TEXT]).map(lambda name: f"{name}.length")
        operand = st.one_of(operand, lengths)
    return operand


def _comparison() -> st.SearchStrategy[str]:
    def build(kind: Any) -> st.SearchStrategy[str]:
        operators = ["==", "!="] if kind == BOOL else ["==", "!=", "<", "<=", ">", ">="]
        return st.tuples(_scalar(kind), st.sampled_from(operators), _scalar(kind)).map(" ".join)

    membership = st.tuples(
        st.one_of(_literal(TEXT), st.sampled_from(_BY_KIND[TEXT]), _literal(NUMBER)),
        st.sampled_from(["in", "not in"]),
        st.one_of(
            st.sampled_from(_BY_KIND[CODES]),
            st.lists(st.one_of(_literal(TEXT), _literal(NUMBER)), max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
        ),
    ).map(" ".join)
    emptiness = st.sampled_from(_BY_KIND[CODES]).map(lambda name: f"{name}.is_empty")
    return st.one_of(
        st.sampled_from([NUMBER, TEXT, BOOL]).flatmap(build), membership, emptiness, st.sampled_from(_BY_KIND[BOOL])
    )


def _conditions(depth: int) -> st.SearchStrategy[str]:
    """Return condition texts: comparisons joined by and/or and negated, at most ``depth`` levels deep."""
    if depth == 0:
        return _comparison()
    inner = _conditions(depth - 1)
    joined = st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda parts: f"({' '.join(parts)})")
    return st.one_of(inner, joined, inner.map(lambda text: f"not ({text})"))


_CONDITION_TEXT = _conditions(3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_CONDITION_TEXT, facts=_FACTS)
def test_generated_conditions_are_decided_alike(text: str, facts: dict[str, Any]) -> None:
    try:
        compile_condition(text)
    except ConditionError:
        return  # rule-engine refuses it: nothing is evaluated
    _agree(text, facts)
    _agree(text, _baseline_facts())


def test_generated_conditions_are_mostly_compiled() -> None:
    compiled = [text for text in ("phq9 >= 10.5 and not trd", 'pregnancy in ["yes", 1]', 'sex_at_birth < "m"')]
    assert all(compile_condition(text).native is not None for text in compiled)


def test_numbers_compare_as_rule_engine_decimals() -> None:
    assert native._number(0.1) == decimal.Decimal("0.1")
    assert native._constant(decimal.Decimal("10.0")) == 10 and type(native._constant(decimal.Decimal("10"))) is int
    _agree("pain_average == 0.1", {"pain_average": 0.1})
    _agree("pain_average < 0.3", {"pain_average": 0.30000000000000004})


def _rule_engine_fire(ruleset: RuleSet, facts: dict[str, Any]) -> tuple[list[str], str | None]:
    """Return the rules rule-engine fires for ``facts`` and the first one that raised, as ``fire`` reports them."""
    fired, failure = [], None
    for rule in ruleset.rules:
        try:
            if rule.condition.rule.matches(facts):
                fired.append(rule.id)
        except Exception as error:  # noqa: BLE001 - reported as fire reports it
            failure = failure or str(RuleFailed(rule, error))
    return fired, failure


def _fire(ruleset: RuleSet, facts: dict[str, Any]) -> tuple[list[str], str | None]:
    fired, failure = fire(ruleset, facts)
    return [rule.id for rule in fired], str(failure) if failure else None


_MIXED = load_ruleset(
    {
        **read_sources(RULES),
        "extra.yaml": "rules:\n"
        "  - {id: extra-arithmetic, description: x, when: 'age + phq9 > 80', notes: [{audience: physician, text: a}]}\n"
        "  - {id: extra-comprehension, description: x, when: '[c for c in diagnoses if c == \"bipolar\"].length > 0', outcome: counseling}\n",
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=_FACTS, drop=st.sets(st.sampled_from([fact.name for fact in FACTS]), max_size=2))
def test_a_rule_set_fires_as_rule_engine_does(facts: dict[str, Any], drop: set[str]) -> None:
    facts = {name: value for name, value in facts.items() if name not in drop}
    for ruleset in (_RULESET, _MIXED):
        assert _fire(ruleset, facts) == _rule_engine_fire(ruleset, facts)


def test_a_rule_set_fires_derived_facts_as_rule_engine_does() -> None:
    for document in answers_documents(300, seed=2711):
        facts = derive_facts(document, score_answers(document).as_dict(), _RULESET.tables)
        for ruleset in (_RULESET, _MIXED):
            assert _fire(ruleset, facts) == _rule_engine_fire(ruleset, facts)


def test_a_rule_set_is_decided_by_one_function(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = _baseline_facts()
    expected = _fire(_RULESET, facts)
    monkeypatch.setattr(Condition, "matches", lambda self, thing: pytest.fail("a condition was asked on its own"))
    assert _fire(_RULESET, facts) == expected


def test_watched_conditions_are_evaluated_one_by_one_so_a_slow_one_is_named() -> None:
    watched_ruleset = watched(_RULESET)
    assert evaluation._prepared(watched_ruleset.rules).decide is None
    assert evaluation._prepared(_RULESET.rules).decide is not None
    assert _fire(watched_ruleset, _baseline_facts()) == _fire(_RULESET, _baseline_facts())


def test_a_time_limit_reached_inside_a_batch_names_the_condition_it_was_deciding() -> None:
    watch = Watch()

    def slow(facts: dict[str, Any]) -> bool:
        watch.locate(sys._getframe(0))  # what the timer's handler does with the frame it interrupted
        return True

    native_one = compile_condition("age >= 65").rule.statement.expression
    rule_engine_one = compile_condition("age + 1 > 65").rule.statement.expression
    batch = native.batch_function([(native_one, lambda facts: False), (rule_engine_one, slow), (native_one, bool)])
    wheres = [Where("flags.yaml", line, 11, f"rule-{line}") for line in (6, 12, 18)]
    label_batch(batch, wheres)
    assert batch({"age": 70}) == [True, True, True]
    assert watch.current == wheres[1]
