from tests.patient import Patient


def test_full_journey(patient: Patient) -> None:
    response = patient.answer_all()
    assert response.headers["Location"].endswith("/intake/review")
    page = patient.get("/intake/review")
    assert page.status_code == 200, page.get_data(as_text=True)
    response = patient.submit()
    assert response.status_code == 302, response.get_data(as_text=True)
    done = patient.get("/intake/done")
    assert b"reference-code" in done.data
