"""The codes the FHIR resources carry: LOINC where a published source confirmed one, the clinic's own otherwise.

Every LOINC code below was read in a published source, named beside it. An instrument, item or score without
a confirmed code (ISI, the ACR 2016 scales, the pain rating, the clinic's own questions) carries only the
clinic's code system, never a guessed LOINC code.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

LOINC = "http://loinc.org"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

#: The questionnaire of the intake is published as ``{base}/fhir/Questionnaire/intake``.
QUESTIONNAIRE_ID = "intake"

# PHQ-9 quick depression assessment panel [Reported.PHQ], 44249-1: LOINC's own term page (shown by
# healthassure.in and findacode.com copies of it) and LOINC's FHIR Questionnaire 44249-1 as published in
# the Person-Centered Outcomes IG (build.fhir.org/ig/mtnlotus/pco-ig/Questionnaire-44249-1).
# Items 1-7 as members of LOINC's PHQ-SADS panel (loinc.org/69729-2), item 8 (44253-3) in the FHIR
# specification's PHQ-9 example Questionnaire (linkId "MovingSpeaking"), item 9 (44260-8) on the term page
# "Thoughts that you would be better off dead, or of hurting yourself in some way in last 2 weeks
# [Reported.PHQ]" (healthassure.in copy of LOINC). Total score 44261-6: cdn.loinc.org/44261-6, a member
# of panel 44249-1.
# GAD-7 panel 69737-5: LOINC's FHIR Questionnaire 69737-5 in the HL7 Person-Centered Outcomes IG
# (build.fhir.org/ig/HL7/pco-ig/Questionnaire-69737-5). Items 69725-0, 68509-9, 69733-4, 69734-2, 69735-9,
# 69689-8, 69736-7 and total score 70274-6 "Generalized anxiety disorder 7 item (GAD-7) total score
# [Reported.PHQ]": members of LOINC's PHQ-SADS panel (loinc.org/69729-2), in the GAD-7 order.
PANELS: Mapping[str, str] = MappingProxyType({"phq9": "44249-1", "gad7": "69737-5"})
ITEMS: Mapping[str, str] = MappingProxyType(
    {
        "phq9_1": "44250-9",
        "phq9_2": "44255-8",
        "phq9_3": "44259-0",
        "phq9_4": "44254-1",
        "phq9_5": "44251-7",
        "phq9_6": "44258-2",
        "phq9_7": "44252-5",
        "phq9_8": "44253-3",
        "phq9_9": "44260-8",
        "gad7_1": "69725-0",
        "gad7_2": "68509-9",
        "gad7_3": "69733-4",
        "gad7_4": "69734-2",
        "gad7_5": "69735-9",
        "gad7_6": "69689-8",
        "gad7_7": "69736-7",
    }
)
TOTALS: Mapping[str, str] = MappingProxyType({"phq9": "44261-6", "gad7": "70274-6"})


def loinc(code: str | None) -> list[dict[str, str]]:
    """Return the LOINC coding of ``code`` as a list, empty when there is no confirmed code."""
    return [{"system": LOINC, "code": code}] if code else []


def fhir_base(public_base_url: str) -> str:
    """Return the root of the clinic's canonical FHIR addresses under its public address."""
    return public_base_url.rstrip("/") + "/fhir"


def questionnaire_url(base: str) -> str:
    """Return the canonical address of the intake Questionnaire."""
    return f"{base}/Questionnaire/{QUESTIONNAIRE_ID}"


def code_system(base: str, name: str) -> str:
    """Return the address of one of the clinic's code systems (answers of an instrument, a vocabulary, bands)."""
    return f"{base}/CodeSystem/{name}"
