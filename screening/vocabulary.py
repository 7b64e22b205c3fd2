"""The coded answers of the intake, each with the plain-language label a patient reads.

These codes are the values of the canonical answers document (see DESIGN.md). The
forms, the answers-document validator and the read-only display all read them from
here, so a code is spelled in exactly one place.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping


def _table(*pairs: tuple[str, str]) -> Mapping[str, str]:
    """Return an ordered, read-only code -> label table."""
    return MappingProxyType(dict(pairs))


SEX_AT_BIRTH = _table(
    ("female", "Female"),
    ("male", "Male"),
    ("intersex", "Intersex"),
    ("undisclosed", "I prefer not to say"),
)

PREGNANCY = _table(
    ("no", "No"),
    ("yes", "Yes"),
    ("possible", "I might be"),
    ("not_applicable", "Does not apply to me"),
)

#: Self-reported diagnoses: "Has a doctor ever told you that you have ...".
DIAGNOSES = _table(
    ("fibromyalgia", "Fibromyalgia"),
    ("depression", "Depression"),
    ("bipolar", "Bipolar disorder"),
    ("anxiety", "An anxiety disorder"),
    ("ptsd", "Post-traumatic stress disorder (PTSD)"),
    ("ocd", "Obsessive-compulsive disorder (OCD)"),
    ("chronic_pain", "Another long-term (chronic) pain condition"),
    ("crps", "Complex regional pain syndrome (CRPS)"),
    ("rheumatoid_arthritis", "Rheumatoid arthritis"),
    ("lupus", "Lupus"),
    ("me_cfs", "Chronic fatigue syndrome (ME/CFS)"),
    ("ibs", "Irritable bowel syndrome (IBS)"),
    ("migraine", "Migraine"),
)

THERAPY_STATUS = _table(
    ("never", "Never tried"),
    ("tried", "Tried in the past"),
    ("current", "Doing it now"),
)

#: The first-line fibromyalgia treatments whose use the intake records.
THERAPIES = _table(
    ("graded_exercise", "Graded exercise (a programme of slowly increasing aerobic or strength exercise)"),
    ("cbt", "Cognitive behavioural therapy (CBT) for pain or mood"),
    ("sleep_treatment", "Sleep treatment (for example CBT for insomnia)"),
)

MEDICAL_HISTORY = _table(
    ("ketamine_reaction", "A bad or allergic reaction to ketamine or esketamine (Spravato)"),
    ("aneurysm_or_brain_bleed", "An aneurysm, a malformed blood vessel (AVM) or bleeding in the brain"),
    (
        "heart_disease_unstable",
        "A recent heart attack or stroke, unstable angina or heart failure that is not under control",
    ),
    ("hypertension_uncontrolled", "High blood pressure that is not under control"),
    ("psychosis", "Psychosis, schizophrenia or hearing or seeing things others do not"),
    ("mania_history", "Episodes of mania or hypomania"),
    ("substance_use_active", "Current problems with alcohol or drug use"),
    ("ketamine_misuse", "Ever using ketamine or PCP recreationally"),
    ("liver_disease_severe", "Severe liver disease (such as cirrhosis or liver failure)"),
    ("intracranial_pressure", "Raised pressure in the brain (such as a brain tumour or recent head injury)"),
    ("glaucoma", "Glaucoma or raised pressure in the eye"),
    ("seizures_uncontrolled", "Seizures that are not under control"),
    ("hyperthyroidism_untreated", "An overactive thyroid that is not treated"),
    ("bladder_problems", "Bladder problems such as interstitial cystitis"),
)

CURRENT_MEDICATIONS = _table(
    ("maoi", "An MAOI antidepressant (such as phenelzine or tranylcypromine)"),
    ("stimulant", "A stimulant (such as methylphenidate or amphetamine)"),
    ("benzodiazepine", "A benzodiazepine (such as lorazepam, clonazepam or diazepam)"),
    ("opioid", "An opioid painkiller (such as oxycodone, morphine or tramadol)"),
)

#: Medicines offered in the prior-treatment rows, by lower-case generic name. A patient
#: may also type a name that is not listed ("other").
MEDICATIONS = _table(
    ("amitriptyline", "Amitriptyline (Elavil)"),
    ("bupropion", "Bupropion (Wellbutrin)"),
    ("citalopram", "Citalopram (Celexa)"),
    ("clomipramine", "Clomipramine (Anafranil)"),
    ("cyclobenzaprine", "Cyclobenzaprine (Flexeril, Tonmya)"),
    ("desvenlafaxine", "Desvenlafaxine (Pristiq)"),
    ("doxepin", "Doxepin (Silenor)"),
    ("duloxetine", "Duloxetine (Cymbalta)"),
    ("escitalopram", "Escitalopram (Lexapro)"),
    ("fluoxetine", "Fluoxetine (Prozac)"),
    ("fluvoxamine", "Fluvoxamine (Luvox)"),
    ("gabapentin", "Gabapentin (Neurontin)"),
    ("imipramine", "Imipramine (Tofranil)"),
    ("levomilnacipran", "Levomilnacipran (Fetzima)"),
    ("milnacipran", "Milnacipran (Savella)"),
    ("mirtazapine", "Mirtazapine (Remeron)"),
    ("nortriptyline", "Nortriptyline (Pamelor)"),
    ("paroxetine", "Paroxetine (Paxil)"),
    ("phenelzine", "Phenelzine (Nardil)"),
    ("pregabalin", "Pregabalin (Lyrica)"),
    ("sertraline", "Sertraline (Zoloft)"),
    ("tranylcypromine", "Tranylcypromine (Parnate)"),
    ("trazodone", "Trazodone (Desyrel)"),
    ("venlafaxine", "Venlafaxine (Effexor)"),
    ("vilazodone", "Vilazodone (Viibryd)"),
    ("vortioxetine", "Vortioxetine (Trintellix)"),
)


def label(table: Mapping[str, str], code: str) -> str:
    """Return the patient-facing label of a code, or the code itself if it is not listed."""
    return table.get(code, code)
