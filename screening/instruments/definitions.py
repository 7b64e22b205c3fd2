"""The intake's questionnaires as data: published wording, options, bands, sources and licences.

Facts come from shared/clinical-reference.md; the section is named beside each instrument.
Anything the reference marks [M] (from memory, not confirmed from a retrieved source) carries
a comment saying so, so it can be checked against the original before it is relied on.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from . import acr2016
from .base import Band
from .base import Instrument
from .base import Item
from .base import Option
from .base import Source


def _options(*labels: str) -> tuple[Option, ...]:
    """Return options worth 0, 1, 2, ... points, in the order given."""
    return tuple(Option(points, label) for points, label in enumerate(labels))


def _items(prefix: str, *texts: str) -> tuple[Item, ...]:
    """Return items keyed ``{prefix}_1``, ``{prefix}_2``, ... in published order."""
    return tuple(Item(f"{prefix}_{number}", text) for number, text in enumerate(texts, start=1))


# PHQ-9 and GAD-7 share the same four answers (clinical-reference §2.1, §3.1).
_FREQUENCY = _options("Not at all", "Several days", "More than half the days", "Nearly every day")

_PFIZER_LICENCE = (
    "Free to use: Pfizer released the PHQ and GAD-7 in 2010 for download without copyright "
    "restriction and at no charge. "
    # [M] The exact attribution wording is from memory (clinical-reference §2.1).
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, "
    "with an educational grant from Pfizer Inc."
)

# §2.1. Bands from Kroenke 2001: 5, 10, 15 and 20 are mild, moderate, moderately severe and severe.
PHQ9 = Instrument(
    key="phq9",
    title="Patient Health Questionnaire (PHQ-9)",
    time_frame="the last 2 weeks",
    stem="Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    items=_items(
        "phq9",
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed; or the opposite — "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
    options=_FREQUENCY,
    bands=(
        Band("minimal", "Minimal", 0),
        Band("mild", "Mild", 5),
        Band("moderate", "Moderate", 10),
        Band("moderately_severe", "Moderately severe", 15),
        Band("severe", "Severe", 20),
    ),
    source=Source(
        citation=(
            "Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression severity "
            "measure. J Gen Intern Med 2001;16(9):606-613."
        ),
        licence=_PFIZER_LICENCE,
        pmid="11556941",
    ),
    notes=(
        "Any answer above 'Not at all' on item 9 needs clinician follow-up, whatever the total.",
        "The unscored tenth question (how difficult these problems have made things) is not asked.",
        # [M] The overlap caution is general clinical knowledge (clinical-reference §2.1).
        "Items 3, 4 and 7 overlap the fibromyalgia symptom scale: read the total as symptom burden, not a diagnosis.",
    ),
)

# §3.1. Bands: "Scores of 5, 10, and 15 represent cut points for mild, moderate, and severe anxiety".
GAD7 = Instrument(
    key="gad7",
    title="Generalized Anxiety Disorder scale (GAD-7)",
    time_frame="the last 2 weeks",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=_items(
        "gad7",
        "Feeling nervous, anxious or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid as if something awful might happen",
    ),
    options=_FREQUENCY,
    bands=(
        Band("minimal", "Minimal", 0),
        Band("mild", "Mild", 5),
        Band("moderate", "Moderate", 10),
        Band("severe", "Severe", 15),
    ),
    source=Source(
        citation=(
            "Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing generalized "
            "anxiety disorder: the GAD-7. Arch Intern Med 2006;166(10):1092-1097."
        ),
        licence=_PFIZER_LICENCE,
        pmid="16717171",  # [M] PMID not seen in a retrieved source (clinical-reference §10).
    ),
    notes=(
        # [M] That the abstract's cut point is 10 is from memory; a scale sheet recommends >= 10.
        "A total of 10 or more is the usual cut point for further evaluation.",
    ),
)

# §3.2. Items 1-3 share the severity options; items 4-7 are their own questions with own options.
_ISI_SEVERITY = _options("None", "Mild", "Moderate", "Severe", "Very severe")

ISI = Instrument(
    key="isi",
    title="Insomnia Severity Index (ISI)",
    time_frame="the last 2 weeks",
    stem="Please rate the CURRENT (i.e. LAST 2 WEEKS) SEVERITY of your insomnia problem(s).",
    items=(
        *_items("isi", "Difficulty falling asleep", "Difficulty staying asleep", "Problems waking up too early"),
        Item(
            "isi_4",
            "How SATISFIED/DISSATISFIED are you with your CURRENT sleep pattern?",
            _options("Very satisfied", "Satisfied", "Moderately satisfied", "Dissatisfied", "Very dissatisfied"),
        ),
        Item(
            "isi_5",
            "How NOTICEABLE to others do you think your sleep problem is in terms of impairing the "
            "quality of your life?",
            _options("Not at all noticeable", "A little", "Somewhat", "Much", "Very much noticeable"),
        ),
        Item(
            "isi_6",
            "How WORRIED/DISTRESSED are you about your current sleep problem?",
            _options("Not at all worried", "A little", "Somewhat", "Much", "Very much worried"),
        ),
        Item(
            "isi_7",
            "To what extent do you consider your sleep problem to INTERFERE with your daily functioning "
            "(e.g. daytime fatigue, mood, ability to function at work/daily chores, concentration, "
            "memory, mood, etc.) CURRENTLY?",
            _options("Not at all interfering", "A little", "Somewhat", "Much", "Very much interfering"),
        ),
    ),
    options=_ISI_SEVERITY,
    bands=(
        Band("none", "No clinically significant insomnia", 0),
        Band("subthreshold", "Subthreshold insomnia", 8),
        Band("moderate", "Clinical insomnia (moderate severity)", 15),
        Band("severe", "Clinical insomnia (severe)", 22),
    ),
    source=Source(
        # [M] The Morin 2011 title is completed from memory (the reference truncates it).
        citation=(
            "Bastien CH, Vallières A, Morin CM. Validation of the Insomnia Severity Index as an outcome "
            "measure for insomnia research. Sleep Med 2001;2(4):297-307. Morin CM, Belleville G, "
            "Bélanger L, Ivers H. The Insomnia Severity Index: psychometric indicators to detect insomnia "
            "cases and evaluate treatment response. Sleep 2011;34(5):601-608 (PMID 21532953)."
        ),
        licence=(
            "Copyright C.M. Morin; distributed by Mapi Research Trust (ePROVIDE). "
            "A licence is required for commercial use."
        ),
        pmid="11438246",
    ),
)

# §1.4, ACR 2016 SSS part A: three symptoms over the past week, each 0-3, anchors as published.
# Both SSS parts cite acr2016.SOURCE, whose PMID 27916278 is [M] (clinical-reference §1.1).
SSS_SYMPTOMS = Instrument(
    key="sss_symptoms",
    title="Symptom Severity Scale, part A (ACR 2016)",
    time_frame="the past week",
    stem="For each symptom, choose the level of severity over the past week.",
    items=(
        Item("fatigue", "Fatigue"),
        Item("unrefreshed", "Waking unrefreshed"),
        Item("cognitive", "Cognitive symptoms"),
    ),
    options=_options(
        "No problem",
        "Slight or mild problems; generally mild or intermittent",
        "Moderate; considerable problems; often present and/or at a moderate level",
        "Severe; pervasive, continuous, life-disturbing problems",
    ),
    bands=(),
    source=acr2016.SOURCE,
)

# §1.4, part B: bothered or not during the previous 6 months (a different window from part A).
SSS_SOMATIC = Instrument(
    key="sss_somatic",
    title="Symptom Severity Scale, part B (ACR 2016)",
    time_frame="the previous 6 months",
    stem="During the previous 6 months, have you been bothered by any of the following?",
    items=(
        Item("headaches", "Headaches"),
        Item("lower_abdominal", "Pain or cramps in the lower abdomen"),
        Item("depression", "Depression"),
    ),
    options=_options("No", "Yes"),
    bands=(),
    source=acr2016.SOURCE,
)

# §3.4. [M] The anchors "No pain" / "Pain as bad as you can imagine" are the BPI's wording; the
# generic NRS anchors were not confirmed from a source.
PAIN_AVERAGE = Instrument(
    key="pain_average",
    title="Average pain (0-10 numeric rating scale)",
    time_frame="the past week",
    stem="Choose the one number that best describes your pain.",
    items=(Item("pain_average", "Please rate your pain on average over the past week"),),
    options=(
        Option(0, "0 - No pain"),
        *(Option(points, str(points)) for points in range(1, 10)),
        Option(10, "10 - Pain as bad as you can imagine"),
    ),
    bands=(
        Band("none", "No pain", 0),
        Band("mild", "Mild", 1),
        Band("moderate", "Moderate", 5),
        Band("severe", "Severe", 7),
    ),
    source=Source(
        citation=("Serlin RC, et al. When is cancer pain mild, moderate or severe? Pain 1995;61:277-284."),
        licence=(
            "A generic 0-10 numeric rating scale, free to use. The end anchors follow the Brief Pain "
            "Inventory; the licensed BPI itself is not reproduced."
        ),
        pmid="7659438",
    ),
    notes=("Severity cut points 1-4 mild, 5-6 moderate, 7-10 severe were derived in cancer pain.",),
)

# §1.5. Fibromyalgia severity (FS = WPI + SSS, 0-31), also called polysymptomatic distress (PSD).
# Bands are Wolfe F, Walitt BT, Rasker JJ, Katz RS, Häuser W. The Use of Polysymptomatic Distress
# Categories in the Evaluation of Fibromyalgia (FM) and FM Severity. J Rheumatol 2015;42(8):1494-
# (PMID 26077414 [M]: not seen in a retrieved source). The conflicting Salaffi 2020 bands (remission
# 0-5, mild 6-15, ...) were not chosen: Wolfe's come from the criteria's authors and line up with
# the rule that FM cannot be diagnosed unless PSD is at least 12 (the start of "severe").
FS_BANDS: tuple[Band, ...] = (
    Band("none", "None", 0),
    Band("mild", "Mild", 4),
    Band("moderate", "Moderate", 8),
    Band("severe", "Severe", 12),
    Band("very_severe", "Very severe", 20),
)

#: Every questionnaire of the intake, by key.
INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(
    {i.key: i for i in (PHQ9, GAD7, ISI, SSS_SYMPTOMS, SSS_SOMATIC, PAIN_AVERAGE)}
)
