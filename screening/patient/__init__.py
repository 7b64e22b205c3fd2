"""What the patient sees: the intake wizard (``intake``) and the private status page (``status``)."""
