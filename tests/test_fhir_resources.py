"""The FHIR R4 resources of the intake: each validates with fhir.resources (R4B), the response reads back into
the same answers document and scores for every kind of intake the fake-data generator makes, pregnancy
questions are asked only when they apply, and only LOINC codes confirmed from a published source appear."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from screening.answers import example_document
from screening.contacts.details import ContactDetails
from screening.fake import answers_document
from screening.fhir import codes
from screening.fhir.bundle import InvalidResource
from screening.fhir.bundle import collection
from screening.fhir.bundle import validated
from screening.fhir.observations import TOTALS
from screening.fhir.observations import observations
from screening.fhir.patient import patient
from screening.fhir.questionnaire import questionnaire
from screening.fhir.response import answers_document as read_back
from screening.fhir.response import questionnaire_response
from screening.instruments.definitions import PHQ9
from screening.instruments.scoring import score_answers
from screening.patient.intake.steps import FORM_VERSION

BASE = "https://screening.clinic.example/fhir"
AUTHORED = "2026-12-01T09:00:00Z"


def response_of(document: dict[str, Any]) -> dict[str, Any]:
    resource = questionnaire_response(
        BASE, document, resource_id="submission-7", authored=AUTHORED, form_version=FORM_VERSION
    )
    return validated(resource)


def _profiles() -> list[dict[str, Any]]:
    """Return the example document, edge cases, and many documents of the fake-data generator's mix."""
    rng = random.Random(13)
    fakes = [answers_document(rng) for _ in range(300)]
    example = example_document()
    male = {**example, "sex_at_birth": "male", "pregnancy": "not_applicable", "breastfeeding": False}
    nothing = {**example, "diagnoses": [], "pain_areas": [], "medication_trials": [], "medical_history": []}
    pregnant = {**example, "pregnancy": "yes", "breastfeeding": True, "current_medications": ["maoi", "opioid"]}
    return [example, male, nothing, pregnant, {**example, "pregnancy": "not_applicable"}, *fakes]


PROFILES = _profiles()


def test_the_profiles_cover_every_kind_of_intake() -> None:
    assert {d["sex_at_birth"] for d in PROFILES} == {"female", "male", "intersex", "undisclosed"}
    assert {d["pregnancy"] for d in PROFILES} == {"no", "yes", "possible", "not_applicable"}
    assert {len(d["medication_trials"]) for d in PROFILES} >= {0, 1, 2, 3, 4}
    assert any(d["phq9"][8] > 0 for d in PROFILES) and any(d["breastfeeding"] for d in PROFILES)


@pytest.mark.parametrize("index", range(len(PROFILES)))
def test_a_response_reads_back_into_the_same_answers_and_scores(index: int) -> None:
    document = PROFILES[index]
    response = response_of(document)
    back = read_back(json.loads(json.dumps(response)))  # through JSON, as a clinic would send it back
    assert back == document
    assert list(back) == list(document)
    assert score_answers(back).as_dict() == score_answers(document).as_dict()


def test_every_resource_type_validates_with_the_r4b_models() -> None:
    document = example_document()
    scores = score_answers(document).as_dict()
    found = patient(
        ContactDetails("Jordan", "j@example.org", "+12125550187", "either", "any", "NY", True, "v1"),
        resource_id="submission-7-patient",
    )
    assert found is not None
    Questionnaire.model_validate(questionnaire(BASE))
    QuestionnaireResponse.model_validate(response_of(document))
    for resource in observations(BASE, scores, response_id="submission-7", effective=AUTHORED):
        Observation.model_validate(resource)
    Patient.model_validate(found)
    bundle = collection([questionnaire(BASE), response_of(document)], bundle_id="b-7", timestamp=AUTHORED)
    assert Bundle.model_validate(bundle).type == "collection"


def test_a_resource_that_breaks_the_model_is_refused_naming_the_field_not_the_value() -> None:
    bad = {**response_of(example_document()), "authored": "not a time SECRET"}
    with pytest.raises(InvalidResource) as refused:
        validated(bad)
    assert "authored" in str(refused.value) and "SECRET" not in str(refused.value)


def test_the_response_is_completed_and_names_the_questionnaire_and_its_version() -> None:
    response = response_of(example_document())
    assert response["status"] == "completed" and response["authored"] == AUTHORED
    assert response["questionnaire"] == f"{BASE}/Questionnaire/intake|{FORM_VERSION}"
    assert "subject" not in response


def test_the_questionnaire_is_derived_from_the_instruments() -> None:
    form = questionnaire(BASE)
    assert form["url"] == f"{BASE}/Questionnaire/intake" and form["version"] == FORM_VERSION
    phq9 = next(item for item in form["item"] if item["linkId"] == "phq9")
    assert "the last 2 weeks" in phq9["text"]
    assert [item["text"] for item in phq9["item"]] == [item.text for item in PHQ9.items]
    option = phq9["item"][0]["answerOption"][3]["valueCoding"]
    assert option["code"] == "3" and option["display"] == "Nearly every day"
    assert option["extension"] == [{"url": codes.ORDINAL_VALUE, "valueDecimal": 3}]


def test_pregnancy_questions_are_enabled_only_when_the_sex_at_birth_is_not_male() -> None:
    items = {item["linkId"]: item for item in questionnaire(BASE)["item"]}
    for link_id in ("pregnancy", "breastfeeding"):
        assert items[link_id]["enableWhen"] == [
            {"question": "sex_at_birth", "operator": "!=", "answerCoding": {"code": "male"}}
        ]
    assert [i for i in items.values() if "enableWhen" in i] == [items["pregnancy"], items["breastfeeding"]]
    male = {**example_document(), "sex_at_birth": "male", "pregnancy": "not_applicable", "breastfeeding": False}
    answered = {item["linkId"] for item in response_of(male)["item"]}
    assert "pregnancy" not in answered and "breastfeeding" not in answered


def _loinc_codes(node: Any) -> set[str]:
    """Return every LOINC code anywhere in a resource."""
    if isinstance(node, dict):
        own = {node["code"]} if node.get("system") == codes.LOINC else set()
        return own.union(*(_loinc_codes(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_loinc_codes(value) for value in node))
    return set()


#: The codes confirmed from LOINC's own pages and the published FHIR Questionnaires named in screening/fhir/codes.py.
VERIFIED = {
    "44249-1",
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
    "44261-6",
    "69737-5",
    "69725-0",
    "68509-9",
    "69733-4",
    "69734-2",
    "69735-9",
    "69689-8",
    "69736-7",
    "70274-6",
}


def test_only_verified_loinc_codes_are_used_and_where_they_belong() -> None:
    form = questionnaire(BASE)
    scores = score_answers(example_document()).as_dict()
    found = observations(BASE, scores, response_id="submission-7", effective=AUTHORED)
    assert _loinc_codes(form) | _loinc_codes(found) == VERIFIED
    groups = {item["linkId"]: item for item in form["item"]}
    assert groups["phq9"]["code"] == [{"system": codes.LOINC, "code": "44249-1"}]
    assert groups["phq9"]["item"][8]["code"] == [{"system": codes.LOINC, "code": "44260-8"}]
    assert groups["gad7"]["code"] == [{"system": codes.LOINC, "code": "69737-5"}]
    assert "code" not in groups["isi"] and "code" not in groups["sss_symptoms"]  # no empty arrays in FHIR


def test_one_observation_per_total_with_its_band_derived_from_the_response() -> None:
    scores = score_answers(example_document()).as_dict()
    found = {o["id"]: o for o in observations(BASE, scores, response_id="submission-7", effective=AUTHORED)}
    assert list(found) == [f"submission-7-{total.key}" for total in TOTALS]
    assert [t.key for t in TOTALS] == ["phq9", "gad7", "isi", "wpi", "sss"]
    phq9 = found["submission-7-phq9"]
    assert phq9["code"]["coding"] == [{"system": codes.LOINC, "code": "44261-6"}]
    assert phq9["valueInteger"] == scores["phq9"]
    assert phq9["interpretation"][0]["coding"][0]["code"] == scores["phq9_band"]
    assert phq9["derivedFrom"] == [{"reference": "QuestionnaireResponse/submission-7"}]
    assert found["submission-7-gad7"]["code"]["coding"][0]["code"] == "70274-6"
    assert found["submission-7-isi"]["interpretation"][0]["coding"][0]["code"] == scores["isi_band"]
    assert (
        found["submission-7-wpi"]["valueInteger"] == scores["wpi"] and "interpretation" not in found["submission-7-wpi"]
    )


def test_a_patient_only_with_consent() -> None:
    given = ContactDetails("Jordan", "j@example.org", "+12125550187", "either", "any", "NY", True, "v1")
    assert patient(given, resource_id="p") == {
        "resourceType": "Patient",
        "id": "p",
        "name": [{"text": "Jordan"}],
        "telecom": [{"system": "email", "value": "j@example.org"}, {"system": "phone", "value": "+12125550187"}],
        "address": [{"state": "NY", "country": "US"}],
    }
    declined = ContactDetails(None, None, None, "either", "any", None, False, "v1")
    assert patient(declined, resource_id="p") is None and patient(None, resource_id="p") is None


def _as_the_model_writes_it(resource: dict[str, Any]) -> Any:
    model = {"Questionnaire": Questionnaire, "QuestionnaireResponse": QuestionnaireResponse}.get(
        resource["resourceType"], Observation
    )
    return json.loads(model.model_validate(resource).model_dump_json(by_alias=True, exclude_none=True))


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 50, 150, 299])
def test_each_resource_is_written_as_the_model_would_write_it(index: int) -> None:
    # The export writes what it built once the model accepts it; a dump of the model must not differ.
    document = PROFILES[index]
    scores = score_answers(document).as_dict()
    built = [
        questionnaire(BASE),
        response_of(document),
        *observations(BASE, scores, response_id="submission-7", effective=AUTHORED),
    ]
    for resource in built:
        assert json.loads(json.dumps(validated(resource))) == _as_the_model_writes_it(resource)
