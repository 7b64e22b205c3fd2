"""The patient's private status page: what it shows (``service``) and the page itself (``views``)."""
