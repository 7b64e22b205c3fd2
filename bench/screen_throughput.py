"""Screening throughput of the default policy, against a hand-written Python function of the same policy.

Run by hand: ``.venv/bin/python bench/screen_throughput.py [COUNT]``. Both paths validate the
document, score it and derive the facts; they differ only in how the outcome is decided
(the shipped rule files through rule-engine, or plain Python). Both must agree on every document.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any
from typing import Callable

from screening.answers import parse_answers
from screening.fake import answers_documents
from screening.instruments.scoring import score_answers
from screening.engine.evaluation import screen_document
from screening.engine.facts import derive_facts
from screening.engine.model import RuleSet
from screening.active_rules.registry import checked_ruleset
from screening.engine.loader import read_sources

RULES = Path(__file__).resolve().parent.parent / "rules"
CONTRAINDICATED_PREGNANCY = ("yes", "possible")


def hand_written_outcome(facts: dict[str, Any]) -> str:
    """Decide the default policy's outcome in plain Python."""
    fibromyalgia, trd, phq9 = facts["fibromyalgia_acr2016"], facts["trd"], facts["phq9"]
    anxious = facts["gad7"] >= 10 and facts["adequate_failed_trials"] >= 2
    if facts["phq9_item9"] >= 1:
        return "safety"
    if facts["contraindications"] or facts["pregnancy"] in CONTRAINDICATED_PREGNANCY:
        return "contraindication_review"
    if (trd and phq9 >= 10) or (fibromyalgia and anxious):
        return "candidate"
    if fibromyalgia:
        return "counseling"
    return "not_candidate"


def hand_written(document: dict[str, Any], ruleset: RuleSet) -> str:
    """Validate, score, derive facts and decide without the rule engine."""
    answers = parse_answers(document).to_document()
    scores = score_answers(answers).as_dict()
    return hand_written_outcome(derive_facts(answers, scores, ruleset.tables))


def with_rules(document: dict[str, Any], ruleset: RuleSet) -> str:
    """Validate, score, derive facts and decide with the shipped rule files."""
    return screen_document(document, ruleset).evaluation.outcome


def throughput(
    run: Callable[[dict[str, Any], RuleSet], str], documents: list[dict[str, Any]], ruleset: RuleSet
) -> float:
    """Return documents per second for one pass over ``documents``."""
    start = time.perf_counter()
    for document in documents:
        run(document, ruleset)
    return len(documents) / (time.perf_counter() - start)


def main(count: int) -> None:
    """Check that both paths agree, then time each over five rounds and print the medians."""
    ruleset = checked_ruleset(read_sources(RULES))
    documents = answers_documents(count)
    disagreements = [d for d in documents if with_rules(d, ruleset) != hand_written(d, ruleset)]
    if disagreements:
        raise SystemExit(f"{len(disagreements)} documents decided differently; first: {disagreements[0]}")
    outcomes = statistics.multimode(with_rules(d, ruleset) for d in documents)
    rules_rates, plain_rates = [], []
    for _ in range(5):
        rules_rates.append(throughput(with_rules, documents, ruleset))
        plain_rates.append(throughput(hand_written, documents, ruleset))
    rules_rate, plain_rate = statistics.median(rules_rates), statistics.median(plain_rates)
    print(f"documents: {count} (most common outcome: {outcomes[0]}); rules: {len(ruleset.rules)}")
    print(f"rule files (rule-engine):  {rules_rate:8.0f} documents/s")
    print(f"hand-written Python:       {plain_rate:8.0f} documents/s")
    print(f"ratio rules / hand-written: {rules_rate / plain_rate:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
