"""Screening throughput of the default policy, against a hand-written Python function of the same policy.

Run by hand: ``.venv/bin/python bench/screen_throughput.py [COUNT]``. Both paths validate the
document, score it and derive the facts; they differ only in how the outcome is decided
(the shipped rule files, or plain Python). Both must agree on every document.

It also times the shipped rules made ten times as many (every rule file but safety copied nine
times, each copy's rules renamed and their conditions written differently but meaning the same), and
prints the throughput that keeps: how the cost grows with the number of rules.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any
from typing import Callable

import yaml

from screening.answers import parse_answers
from screening.fake import answers_documents
from screening.instruments.scoring import score_answers
from screening.engine.evaluation import screen_document
from screening.engine.facts import derive_facts
from screening.engine.model import RuleSet
from screening.active_rules.registry import checked_ruleset
from screening.engine.loader import Sources
from screening.engine.loader import load_ruleset
from screening.engine.loader import read_sources

RULES = Path(__file__).resolve().parent.parent / "rules"
CONTRAINDICATED_PREGNANCY = ("yes", "possible")
UNCOPIED = ("safety.yaml", "outcomes.yaml", "baseline.yaml")


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


def multiplied(sources: Sources, times: int) -> Sources:
    """Return ``sources`` with every rule file but the safety one copied ``times - 1`` more times (no tests)."""
    more = dict(sources)
    for name, text in sources.items():
        if name in UNCOPIED or name.startswith("tables/"):
            continue
        for copy in range(1, times):
            data = yaml.safe_load(text)
            for rule in data["rules"]:
                rule["id"] = f"{rule['id']}-copy{copy}"
                rule["when"] = "(" * copy + rule["when"] + ")" * copy  # a text of its own, the same meaning
            more[name.replace(".yaml", f"-copy{copy}.yaml")] = yaml.safe_dump({"rules": data["rules"]})
    return more


def throughput(
    run: Callable[[dict[str, Any], RuleSet], str], documents: list[dict[str, Any]], ruleset: RuleSet
) -> float:
    """Return documents per second for one pass over ``documents``."""
    start = time.perf_counter()
    for document in documents:
        run(document, ruleset)
    return len(documents) / (time.perf_counter() - start)


def main(count: int) -> None:
    """Check that the paths agree, then time each over five rounds and print the medians."""
    ruleset = checked_ruleset(read_sources(RULES))
    documents = answers_documents(count)
    disagreements = [d for d in documents if with_rules(d, ruleset) != hand_written(d, ruleset)]
    if disagreements:
        raise SystemExit(f"{len(disagreements)} documents decided differently; first: {disagreements[0]}")
    many = load_ruleset(multiplied(read_sources(RULES), 10))
    if any(with_rules(d, many) != with_rules(d, ruleset) for d in documents[:500]):
        raise SystemExit("the multiplied rules decide differently")
    outcomes = statistics.multimode(with_rules(d, ruleset) for d in documents)
    rules_rates, plain_rates, many_rates = [], [], []
    for _ in range(5):
        rules_rates.append(throughput(with_rules, documents, ruleset))
        plain_rates.append(throughput(hand_written, documents, ruleset))
        many_rates.append(throughput(with_rules, documents, many))
    rules_rate, plain_rate = statistics.median(rules_rates), statistics.median(plain_rates)
    many_rate = statistics.median(many_rates)
    print(f"documents: {count} (most common outcome: {outcomes[0]}); rules: {len(ruleset.rules)}")
    print(f"rule files:                {rules_rate:8.0f} documents/s")
    print(f"hand-written Python:       {plain_rate:8.0f} documents/s")
    print(f"rule files, {len(many.rules)} rules:     {many_rate:8.0f} documents/s")
    print(f"ratio rules / hand-written: {rules_rate / plain_rate:.2f}")
    print(f"ratio {len(many.rules)} rules / {len(ruleset.rules)} rules:   {many_rate / rules_rate:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
