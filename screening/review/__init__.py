"""The physicians' review: the queue, the actions on a submission, and the patient's status link."""
