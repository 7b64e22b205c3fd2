"""Realistic fake answers documents, for demos, benchmarks and tests. Never real patients."""

from __future__ import annotations

import random
from typing import Any

from . import vocabulary
from .instruments.acr2016 import PAIN_AREA_KEYS

#: Antidepressants most often tried, with doses people report (some below the adequate minimum).
_TRIALS = {
    "sertraline": (25, 50, 100, 150, 200),
    "escitalopram": (5, 10, 20),
    "citalopram": (10, 20, 40),
    "fluoxetine": (10, 20, 40, 60),
    "venlafaxine": (75, 150, 225),
    "duloxetine": (30, 60, 90),
    "bupropion": (150, 300),
    "amitriptyline": (10, 25, 50, 150),
    "pregabalin": (150, 300, 450),
    "mirtazapine": (15, 30, 45),
}


def _likert(rng: random.Random, items: int, top: int, severity: float) -> list[int]:
    """Return item answers around a severity between 0 and 1."""
    return [min(top, max(0, round(rng.gauss(severity * top, 0.8)))) for _ in range(items)]


def _trial(rng: random.Random) -> dict[str, Any]:
    """Return one medication trial."""
    drug = rng.choice(list(_TRIALS))
    return {
        "drug": drug,
        "dose_mg_per_day": rng.choice(_TRIALS[drug]),
        "weeks": rng.choice((3, 6, 8, 8, 12, 12, 26, 52)),
        "improvement_pct": rng.choice((0, 10, 20, 20, 30, 30, 40, 50, 70)),
        "current_episode": rng.random() < 0.8,
        "stopped_early": rng.random() < 0.1,
    }


def answers_document(rng: random.Random) -> dict[str, Any]:
    """Return one valid answers document drawn from a realistic mix of intakes."""
    sex = rng.choices(("female", "male", "intersex", "undisclosed"), weights=(70, 26, 1, 3))[0]
    pain = rng.random()
    mood = rng.random()
    return {
        "age": rng.randint(18, 80),
        "sex_at_birth": sex,
        "pregnancy": "not_applicable"
        if sex == "male"
        else rng.choices(("no", "yes", "possible"), weights=(95, 2, 3))[0],
        "breastfeeding": sex != "male" and rng.random() < 0.02,
        "diagnoses": rng.sample(list(vocabulary.DIAGNOSES), k=rng.randint(0, 3)),
        "pain_areas": rng.sample(list(PAIN_AREA_KEYS), k=round(pain * 19)),
        "pain_duration_months": rng.choice((1, 2, 3, 6, 12, 24, 60, 120)),
        "sss": {
            "fatigue": min(3, round(pain * 3 + rng.random())),
            "unrefreshed": min(3, round(pain * 3 + rng.random() - 0.3)),
            "cognitive": min(3, round(pain * 2 + rng.random())),
            "headaches": rng.random() < 0.5,
            "lower_abdominal": rng.random() < 0.3,
            "depression": mood > 0.4,
        },
        "pain_average": min(10, round(pain * 10)),
        "phq9": _likert(rng, 8, 3, mood) + [rng.choices((0, 1, 2, 3), weights=(88, 7, 3, 2))[0]],
        "gad7": _likert(rng, 7, 3, rng.random()),
        "isi": _likert(rng, 7, 4, rng.random()),
        "medication_trials": [
            _trial(rng) for _ in range(rng.choices((0, 1, 2, 3, 4), weights=(25, 25, 25, 15, 10))[0])
        ],
        "therapies": {code: rng.choice(tuple(vocabulary.THERAPY_STATUS)) for code in vocabulary.THERAPIES},
        "medical_history": rng.sample(
            list(vocabulary.MEDICAL_HISTORY), k=rng.choices((0, 1, 2), weights=(80, 15, 5))[0]
        ),
        "current_medications": rng.sample(
            list(vocabulary.CURRENT_MEDICATIONS), k=rng.choices((0, 1), weights=(85, 15))[0]
        ),
    }


def answers_documents(count: int, seed: int = 2026) -> list[dict[str, Any]]:
    """Return ``count`` documents from a fixed seed, so runs are comparable."""
    rng = random.Random(seed)
    return [answers_document(rng) for _ in range(count)]
