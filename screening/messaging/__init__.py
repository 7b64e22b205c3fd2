"""Messages to the patient: the e-mail that tells a patient of a physician's consult, decline or request for information.

``service`` adds the message with the decision and sends it by a task on the work queue after the commit, retried
with backoff; ``wording`` renders its text from ``templates/messages/<kind>.txt`` (the one place staff edit it);
``history`` says on the submission page what became of each message. The patient's address is looked up in the
contact details at each attempt and never stored with the message; no message holds answers, scores or outcomes.
"""

from __future__ import annotations

#: The physician's decisions that send the patient a message (``safety_followup_done`` sends none).
KINDS = ("consult", "decline", "request_info")
#: What each message is, as the physician's page names it.
KIND_LABELS = {
    "consult": "Invitation to a consultation",
    "decline": "Decline",
    "request_info": "Request to get in touch",
}
