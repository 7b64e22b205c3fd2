"""The intake in HL7 FHIR R4 (validated with the R4B models of ``fhir.resources``).

``codes`` holds the published codes and the clinic's canonical addresses, ``response`` turns an answers
document into a QuestionnaireResponse and back, ``observations`` the scores into Observations, ``bundle``
validates and collects the resources of one submission; ``questionnaire`` derives the Questionnaire from the
instrument definitions and the intake's own wording, ``patient`` the Patient from consented contact details,
and ``service`` reads submissions from the database, audits every download and export, and writes the NDJSON
files of an export.
"""
