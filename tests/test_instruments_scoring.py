"""Pure scoring: totals, the WPI and regions, the SSS, the ACR 2016 criteria and a full document."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from screening.instruments import GAD7
from screening.instruments import ISI
from screening.instruments import PAIN_AREA_KEYS
from screening.instruments import PHQ9
from screening.instruments import Scores
from screening.instruments import generalized_pain_regions
from screening.instruments import likert_total
from screening.instruments import meets_acr2016
from screening.instruments import score_answers
from screening.instruments import sss_total
from screening.instruments import wpi

NO_SSS = {
    "fatigue": 0,
    "unrefreshed": 0,
    "cognitive": 0,
    "headaches": False,
    "lower_abdominal": False,
    "depression": False,
}
MAX_SSS = {
    "fatigue": 3,
    "unrefreshed": 3,
    "cognitive": 3,
    "headaches": True,
    "lower_abdominal": True,
    "depression": True,
}


# --- likert totals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "answers", "total"),
    [
        (PHQ9, [0] * 9, 0),
        (PHQ9, [3] * 9, 27),
        (PHQ9, [1, 2, 0, 3, 1, 0, 2, 1, 1], 11),
        (GAD7, [3] * 7, 21),
        (GAD7, [0, 1, 2, 3, 0, 1, 2], 9),
        (ISI, [4] * 7, 28),
        (ISI, [1, 1, 1, 1, 1, 1, 2], 8),
    ],
)
def test_likert_total(instrument, answers: list[int], total: int) -> None:
    assert likert_total(instrument, answers) == total


@pytest.mark.parametrize(
    ("instrument", "answers", "message"),
    [
        (PHQ9, [0] * 8, "phq9 needs 9 answers, got 8"),
        (PHQ9, [0] * 10, "phq9 needs 9 answers, got 10"),
        (GAD7, [], "gad7 needs 7 answers, got 0"),
        (PHQ9, [0] * 8 + [4], r"phq9 item 9 \(phq9_9\): 4 is not one of \[0, 1, 2, 3\]"),
        (PHQ9, [-1] + [0] * 8, r"phq9 item 1 \(phq9_1\): -1"),
        (GAD7, [0, 0, 0, 0, 0, 0, 5], r"gad7 item 7 \(gad7_7\)"),
        (ISI, [0, 0, 0, 5, 0, 0, 0], r"isi item 4 \(isi_4\): 5 is not one of \[0, 1, 2, 3, 4\]"),
        (PHQ9, [0] * 8 + [1.0], r"phq9 item 9 \(phq9_9\): 1.0"),
        (PHQ9, [0] * 8 + ["1"], r"phq9 item 9 \(phq9_9\): '1'"),
        (PHQ9, [0] * 8 + [True], r"phq9 item 9 \(phq9_9\): True"),
        (PHQ9, [None] * 9, r"phq9 item 1 \(phq9_1\): None"),
        (PHQ9, "000000000", "phq9 must be a list of answers, not a string"),
    ],
)
def test_likert_total_rejects(instrument, answers: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        likert_total(instrument, answers)


# --- WPI and generalized pain ---------------------------------------------------------------------


def test_wpi_max_and_regions_max() -> None:
    assert len(PAIN_AREA_KEYS) == 19
    assert wpi(PAIN_AREA_KEYS) == 19
    assert generalized_pain_regions(PAIN_AREA_KEYS) == 5


def test_wpi_counts_distinct_areas() -> None:
    assert wpi([]) == 0
    assert wpi(["neck", "neck", "hip_left"]) == 2
    assert wpi(iter(["chest", "abdomen"])) == 2


@pytest.mark.parametrize(
    ("areas", "expected_wpi", "expected_regions"),
    [
        # clinical-reference §8.1: a naive region count gives 5, the correct count is 2 (hips only).
        (["jaw_left", "jaw_right", "chest", "abdomen", "hip_left", "hip_right"], 6, 2),
        (["jaw_left"], 1, 0),
        (["jaw_left", "jaw_right", "chest", "abdomen"], 4, 0),
        (["jaw_left", "shoulder_girdle_left"], 2, 1),
        (["chest", "neck"], 2, 1),
        (["abdomen", "lower_back"], 2, 1),
        (["lower_arm_left", "lower_arm_right", "lower_leg_left", "lower_leg_right"], 4, 4),
        (["upper_arm_right", "upper_leg_left", "upper_leg_right", "upper_back"], 4, 4),
        (["shoulder_girdle_left", "shoulder_girdle_right", "hip_left", "hip_right", "neck"], 5, 5),
        # Four generalized regions, the fifth only through the jaw: still 4.
        (["jaw_left", "upper_arm_right", "hip_left", "hip_right", "neck"], 5, 4),
        # Three generalized regions plus the right upper only through the jaw: 3, not 4.
        (["jaw_right", "upper_arm_left", "hip_left", "neck", "chest", "abdomen"], 6, 3),
    ],
)
def test_generalized_pain_rule(areas: list[str], expected_wpi: int, expected_regions: int) -> None:
    assert wpi(areas) == expected_wpi
    assert generalized_pain_regions(areas) == expected_regions


@pytest.mark.parametrize("function", [wpi, generalized_pain_regions])
@pytest.mark.parametrize(
    ("areas", "message"),
    [
        (["neck", "wrist_left"], "unknown WPI area 'wrist_left'"),
        (["Neck"], "unknown WPI area 'Neck'"),
        ("neck", "not a string"),
    ],
)
def test_unknown_areas_raise(function, areas: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        function(areas)


# --- SSS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "total"),
    [
        ({}, 0),
        ({"fatigue": 3}, 3),
        ({"fatigue": 2, "unrefreshed": 1, "cognitive": 1, "depression": True}, 5),
        ({"headaches": True, "lower_abdominal": True, "depression": True}, 3),
        ({"headaches": 1, "lower_abdominal": 0}, 1),
        (MAX_SSS, 12),
    ],
)
def test_sss_total(changes: dict[str, Any], total: int) -> None:
    assert sss_total({**NO_SSS, **changes}) == total


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fatigue": 4}, r"sss_symptoms item 1 \(fatigue\): 4"),
        ({"cognitive": -1}, r"sss_symptoms item 3 \(cognitive\): -1"),
        ({"unrefreshed": True}, r"unrefreshed\): True"),
        ({"unrefreshed": "2"}, r"unrefreshed\): '2'"),
        ({"headaches": 3}, "sss.headaches: 3 is not a yes/no answer"),
        ({"depression": "yes"}, "sss.depression: 'yes' is not a yes/no answer"),
        ({"lower_abdominal": None}, "sss.lower_abdominal: None"),
        ({"extra": 1}, r"unknown \['extra'\]"),
    ],
)
def test_sss_total_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sss_total({**NO_SSS, **changes})


def test_sss_total_rejects_missing_key() -> None:
    sss = dict(NO_SSS)
    del sss["cognitive"]
    with pytest.raises(ValueError, match=r"missing \['cognitive'\]"):
        sss_total(sss)


# --- ACR 2016 criteria -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wpi_score", "sss_score", "met"),
    [
        (7, 5, True),
        (7, 4, False),
        (19, 5, True),
        (19, 4, False),
        (6, 9, True),
        (6, 8, False),
        (4, 9, True),
        (4, 8, False),
        (4, 12, True),
        (3, 9, False),  # the 2010/2011 lower arm (WPI 3-6) no longer counts in 2016
        (3, 12, False),
        (6, 5, False),
        (0, 12, False),
    ],
)
def test_acr2016_wpi_sss_thresholds(wpi_score: int, sss_score: int, met: bool) -> None:
    assert meets_acr2016(wpi_score, sss_score, regions=4, duration_months=3) is met


@pytest.mark.parametrize(
    ("regions", "duration_months", "met"),
    [(4, 3, True), (5, 120, True), (3, 3, False), (4, 2, False), (0, 0, False)],
)
def test_acr2016_regions_and_duration(regions: int, duration_months: int, met: bool) -> None:
    assert meets_acr2016(7, 5, regions, duration_months) is met
    assert meets_acr2016(4, 9, regions, duration_months) is met


# --- score_answers on a full document ----------------------------------------------------------------


def example_document() -> dict[str, Any]:
    """Return a full canonical answers document of a patient who meets ACR 2016."""
    return {
        "age": 44,
        "sex_at_birth": "female",
        "pregnancy": "no",
        "breastfeeding": False,
        "diagnoses": ["fibromyalgia", "depression"],
        "pain_areas": [
            "shoulder_girdle_left",
            "shoulder_girdle_right",
            "upper_arm_left",
            "hip_left",
            "hip_right",
            "upper_leg_right",
            "neck",
            "lower_back",
            "jaw_left",
            "abdomen",
        ],
        "pain_duration_months": 18,
        "sss": {
            "fatigue": 3,
            "unrefreshed": 2,
            "cognitive": 2,
            "headaches": True,
            "lower_abdominal": False,
            "depression": True,
        },
        "pain_average": 6,
        "phq9": [2, 3, 3, 3, 1, 2, 2, 0, 1],
        "gad7": [2, 2, 1, 2, 1, 1, 1],
        "isi": [3, 3, 2, 3, 2, 3, 3],
        "medication_trials": [
            {
                "drug": "duloxetine",
                "dose_mg_per_day": 60,
                "weeks": 12,
                "improvement_pct": 10,
                "current_episode": True,
                "stopped_early": False,
            },
        ],
        "therapies": {"graded_exercise": "tried", "cbt": "current", "sleep_treatment": "never"},
        "medical_history": [],
        "current_medications": [],
    }


def test_score_answers_full_document() -> None:
    scores = score_answers(example_document())
    assert scores == Scores(
        wpi=10,
        sss=9,
        fs=19,
        fs_band="severe",
        generalized_pain_regions=5,
        fibromyalgia_acr2016=True,
        pain_average=6,
        pain_band="moderate",
        phq9=17,
        phq9_band="moderately_severe",
        phq9_item9=1,
        gad7=10,
        gad7_band="moderate",
        isi=19,
        isi_band="moderate",
    )


def test_scores_as_dict() -> None:
    result = score_answers(example_document()).as_dict()
    assert list(result) == [
        "wpi",
        "sss",
        "fs",
        "fs_band",
        "generalized_pain_regions",
        "fibromyalgia_acr2016",
        "pain_average",
        "pain_band",
        "phq9",
        "phq9_band",
        "phq9_item9",
        "gad7",
        "gad7_band",
        "isi",
        "isi_band",
    ]
    assert result["fs"] == 19
    assert result["phq9_band"] == "moderately_severe"
    assert result["fibromyalgia_acr2016"] is True


def test_scores_are_frozen() -> None:
    scores = score_answers(example_document())
    with pytest.raises(dataclasses.FrozenInstanceError):
        scores.wpi = 0  # type: ignore[misc]


def test_score_answers_maxima() -> None:
    doc = example_document()
    doc.update(
        pain_areas=list(PAIN_AREA_KEYS), sss=dict(MAX_SSS), pain_average=10, phq9=[3] * 9, gad7=[3] * 7, isi=[4] * 7
    )
    result = score_answers(doc).as_dict()
    assert (result["wpi"], result["sss"], result["fs"], result["fs_band"]) == (19, 12, 31, "very_severe")
    assert (result["phq9"], result["gad7"], result["isi"]) == (27, 21, 28)
    assert (result["phq9_band"], result["gad7_band"], result["isi_band"]) == ("severe", "severe", "severe")
    assert (result["pain_band"], result["phq9_item9"]) == ("severe", 3)


def test_score_answers_minima() -> None:
    doc = example_document()
    doc.update(
        pain_areas=[], sss=dict(NO_SSS), pain_average=0, pain_duration_months=0, phq9=[0] * 9, gad7=[0] * 7, isi=[0] * 7
    )
    assert score_answers(doc).as_dict() == {
        "wpi": 0,
        "sss": 0,
        "fs": 0,
        "fs_band": "none",
        "generalized_pain_regions": 0,
        "fibromyalgia_acr2016": False,
        "pain_average": 0,
        "pain_band": "none",
        "phq9": 0,
        "phq9_band": "minimal",
        "phq9_item9": 0,
        "gad7": 0,
        "gad7_band": "minimal",
        "isi": 0,
        "isi_band": "none",
    }


@pytest.mark.parametrize(
    ("changes", "met"),
    [
        ({}, True),
        ({"pain_duration_months": 3}, True),
        ({"pain_duration_months": 2}, False),
        # jaw, chest and abdomen keep the WPI at 10 but leave only 2 generalized regions (the hips).
        (
            {
                "pain_areas": [
                    "jaw_left",
                    "jaw_right",
                    "chest",
                    "abdomen",
                    "hip_left",
                    "hip_right",
                    "upper_leg_left",
                    "upper_leg_right",
                    "lower_leg_left",
                    "lower_leg_right",
                ]
            },
            False,
        ),
    ],
)
def test_score_answers_fibromyalgia_fact(changes: dict[str, Any], met: bool) -> None:
    doc = {**example_document(), **changes}
    assert score_answers(doc).fibromyalgia_acr2016 is met


def test_item9_is_reported_whatever_the_total() -> None:
    doc = {**example_document(), "phq9": [0, 0, 0, 0, 0, 0, 0, 0, 1]}
    scores = score_answers(doc)
    assert (scores.phq9, scores.phq9_band, scores.phq9_item9) == (1, "minimal", 1)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phq9", [0] * 8, "phq9 needs 9 answers, got 8"),
        ("gad7", [0, 0, 0, 0, 0, 0, 4], r"gad7 item 7"),
        ("isi", [0, 0, 0, 0, 0, 0, 5], r"isi item 7"),
        ("pain_average", 11, r"pain_average item 1 \(pain_average\): 11"),
        ("pain_areas", ["hand_left"], "unknown WPI area 'hand_left'"),
        ("sss", {**NO_SSS, "headaches": 2}, "sss.headaches"),
        ("pain_duration_months", -1, "pain_duration_months: -1"),
        ("pain_duration_months", 2.5, "pain_duration_months: 2.5"),
    ],
)
def test_score_answers_rejects_bad_values(field: str, value: Any, message: str) -> None:
    doc = {**example_document(), field: value}
    with pytest.raises(ValueError, match=message):
        score_answers(doc)


@pytest.mark.parametrize("field", ["pain_areas", "pain_duration_months", "sss", "pain_average", "phq9", "gad7", "isi"])
def test_score_answers_names_a_missing_field(field: str) -> None:
    doc = example_document()
    del doc[field]
    with pytest.raises(ValueError, match=f"no '{field}'"):
        score_answers(doc)


def test_score_answers_does_not_change_the_document() -> None:
    doc = example_document()
    before = copy.deepcopy(doc)
    score_answers(doc)
    assert doc == before


def test_scores_as_dict_equals_the_dataclass_copy_of_them() -> None:
    scores = score_answers(example_document())
    assert scores.as_dict() == dataclasses.asdict(scores)
    assert all(isinstance(value, int | str | bool) for value in scores.as_dict().values())
