"""Instrument definitions and severity bands, checked against the published criteria."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from screening import instruments
from screening.instruments import FS_BANDS
from screening.instruments import GAD7
from screening.instruments import INSTRUMENTS
from screening.instruments import ISI
from screening.instruments import PAIN_AVERAGE
from screening.instruments import PHQ9
from screening.instruments import SSS_SOMATIC
from screening.instruments import SSS_SYMPTOMS
from screening.instruments import band_for


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands(total: int, band: str) -> None:
    assert band_for(PHQ9.bands, total).name == band


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands(total: int, band: str) -> None:
    assert band_for(GAD7.bands, total).name == band


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none"),
        (7, "none"),
        (8, "subthreshold"),
        (14, "subthreshold"),
        (15, "moderate"),
        (21, "moderate"),
        (22, "severe"),
        (28, "severe"),
    ],
)
def test_isi_bands(total: int, band: str) -> None:
    assert band_for(ISI.bands, total).name == band


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none"),
        (3, "none"),
        (4, "mild"),
        (7, "mild"),
        (8, "moderate"),
        (11, "moderate"),
        (12, "severe"),
        (19, "severe"),
        (20, "very_severe"),
        (31, "very_severe"),
    ],
)
def test_fs_bands_follow_wolfe_2015(total: int, band: str) -> None:
    assert band_for(FS_BANDS, total).name == band


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "none"), (1, "mild"), (4, "mild"), (5, "moderate"), (6, "moderate"), (7, "severe"), (10, "severe")],
)
def test_pain_bands_follow_serlin_1995(total: int, band: str) -> None:
    assert band_for(PAIN_AVERAGE.bands, total).name == band


def test_band_below_lowest_raises() -> None:
    with pytest.raises(ValueError, match="below the lowest band"):
        band_for(PHQ9.bands, -1)


@pytest.mark.parametrize(
    ("instrument", "names"),
    [
        (PHQ9, ["minimal", "mild", "moderate", "moderately_severe", "severe"]),
        (GAD7, ["minimal", "mild", "moderate", "severe"]),
        (ISI, ["none", "subthreshold", "moderate", "severe"]),
    ],
)
def test_band_names_match_the_screen_contract(instrument, names: list[str]) -> None:
    assert [band.name for band in instrument.bands] == names


def test_phq9_moderately_severe_label() -> None:
    assert [band.label for band in PHQ9.bands] == [
        "Minimal",
        "Mild",
        "Moderate",
        "Moderately severe",
        "Severe",
    ]


@pytest.mark.parametrize(
    ("instrument", "maximum"),
    [(PHQ9, 27), (GAD7, 21), (ISI, 28), (SSS_SYMPTOMS, 9), (SSS_SOMATIC, 3), (PAIN_AVERAGE, 10)],
)
def test_max_totals(instrument, maximum: int) -> None:
    assert instrument.max_total == maximum


@pytest.mark.parametrize(
    ("instrument", "count", "first_key", "last_key"),
    [
        (PHQ9, 9, "phq9_1", "phq9_9"),
        (GAD7, 7, "gad7_1", "gad7_7"),
        (ISI, 7, "isi_1", "isi_7"),
        (SSS_SYMPTOMS, 3, "fatigue", "cognitive"),
        (SSS_SOMATIC, 3, "headaches", "depression"),
        (PAIN_AVERAGE, 1, "pain_average", "pain_average"),
    ],
)
def test_item_counts_and_keys(instrument, count: int, first_key: str, last_key: str) -> None:
    keys = [item.key for item in instrument.items]
    assert len(keys) == count == len(set(keys))
    assert (keys[0], keys[-1]) == (first_key, last_key)


def test_phq9_wording() -> None:
    assert PHQ9.stem == ("Over the last 2 weeks, how often have you been bothered by any of the following problems?")
    assert PHQ9.items[0].text == "Little interest or pleasure in doing things"
    assert PHQ9.items[8].text == ("Thoughts that you would be better off dead, or of hurting yourself in some way")
    assert PHQ9.time_frame == "the last 2 weeks"


def test_gad7_wording() -> None:
    assert GAD7.items[0].text == "Feeling nervous, anxious or on edge"
    assert GAD7.items[6].text == "Feeling afraid as if something awful might happen"
    assert GAD7.time_frame == "the last 2 weeks"


@pytest.mark.parametrize("instrument", [PHQ9, GAD7])
def test_frequency_option_labels(instrument) -> None:
    assert [(o.points, o.label) for o in instrument.options] == [
        (0, "Not at all"),
        (1, "Several days"),
        (2, "More than half the days"),
        (3, "Nearly every day"),
    ]


def test_option_label_lookup() -> None:
    assert PHQ9.option_label(8, 2) == "More than half the days"
    with pytest.raises(ValueError, match="no option worth 4"):
        PHQ9.option_label(0, 4)


def test_isi_items_1_to_3_use_the_severity_options() -> None:
    assert [o.label for o in ISI.options] == ["None", "Mild", "Moderate", "Severe", "Very severe"]
    assert [item.text for item in ISI.items[:3]] == [
        "Difficulty falling asleep",
        "Difficulty staying asleep",
        "Problems waking up too early",
    ]
    assert all(item.options == () for item in ISI.items[:3])


@pytest.mark.parametrize(
    ("index", "first", "last"),
    [
        (3, "Very satisfied", "Very dissatisfied"),
        (4, "Not at all noticeable", "Very much noticeable"),
        (5, "Not at all worried", "Very much worried"),
        (6, "Not at all interfering", "Very much interfering"),
    ],
)
def test_isi_items_4_to_7_have_their_own_options(index: int, first: str, last: str) -> None:
    options = ISI.options_for(ISI.items[index])
    assert options is ISI.items[index].options
    assert [o.points for o in options] == [0, 1, 2, 3, 4]
    assert (ISI.option_label(index, 0), ISI.option_label(index, 4)) == (first, last)


def test_isi_item_4_wording_and_middle_labels() -> None:
    assert ISI.items[3].text == "How SATISFIED/DISSATISFIED are you with your CURRENT sleep pattern?"
    assert [o.label for o in ISI.items[3].options] == [
        "Very satisfied",
        "Satisfied",
        "Moderately satisfied",
        "Dissatisfied",
        "Very dissatisfied",
    ]
    assert [o.label for o in ISI.items[5].options][1:4] == ["A little", "Somewhat", "Much"]
    assert ISI.time_frame == "the last 2 weeks"


def test_sss_anchors_and_windows() -> None:
    assert [item.text for item in SSS_SYMPTOMS.items] == [
        "Fatigue",
        "Waking unrefreshed",
        "Cognitive symptoms",
    ]
    assert SSS_SYMPTOMS.option_label(0, 0) == "No problem"
    assert SSS_SYMPTOMS.option_label(2, 3) == "Severe; pervasive, continuous, life-disturbing problems"
    assert SSS_SYMPTOMS.time_frame == "the past week"
    assert [item.text for item in SSS_SOMATIC.items] == [
        "Headaches",
        "Pain or cramps in the lower abdomen",
        "Depression",
    ]
    assert [(o.points, o.label) for o in SSS_SOMATIC.options] == [(0, "No"), (1, "Yes")]
    assert SSS_SOMATIC.time_frame == "the previous 6 months"
    assert SSS_SYMPTOMS.bands == SSS_SOMATIC.bands == ()
    assert SSS_SYMPTOMS.source is SSS_SOMATIC.source is instruments.acr2016.SOURCE


def test_pain_average_options() -> None:
    labels = [o.label for o in PAIN_AVERAGE.options]
    assert [o.points for o in PAIN_AVERAGE.options] == list(range(11))
    assert labels[0] == "0 - No pain"
    assert labels[10] == "10 - Pain as bad as you can imagine"
    assert labels[1:10] == [str(n) for n in range(1, 10)]
    assert PAIN_AVERAGE.items[0].text == "Please rate your pain on average over the past week"


@pytest.mark.parametrize(
    ("instrument", "pmid", "in_citation", "in_licence"),
    [
        (PHQ9, "11556941", "Kroenke K", "Pfizer"),
        (GAD7, "16717171", "Spitzer RL", "Pfizer"),
        (ISI, "11438246", "Bastien CH", "Mapi Research Trust"),
        (PAIN_AVERAGE, "7659438", "Serlin RC", "free"),
        (SSS_SYMPTOMS, "27916278", "2016 Revisions", "physician"),
    ],
)
def test_sources(instrument, pmid: str, in_citation: str, in_licence: str) -> None:
    assert instrument.source.pmid == pmid
    assert in_citation in instrument.source.citation
    assert in_licence in instrument.source.licence


def test_isi_licence_requires_a_commercial_licence() -> None:
    assert "Morin" in ISI.source.licence
    assert "licence is required for commercial use" in ISI.source.licence
    assert "Morin CM" in ISI.source.citation


def test_instruments_by_key() -> None:
    assert list(INSTRUMENTS) == ["phq9", "gad7", "isi", "sss_symptoms", "sss_somatic", "pain_average"]
    assert all(INSTRUMENTS[key].key == key for key in INSTRUMENTS)


@pytest.mark.parametrize("instrument", list(INSTRUMENTS.values()), ids=list(INSTRUMENTS))
def test_bands_start_at_zero_and_rise(instrument) -> None:
    minimums = [band.minimum for band in instrument.bands]
    assert minimums == sorted(set(minimums))
    assert minimums[:1] in ([], [0])
    assert all(minimum <= instrument.max_total for minimum in minimums)


def test_no_flask_imports_in_instruments() -> None:
    package = Path(instruments.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] in {"flask", "flask_wtf", "wtforms"}], path.name
