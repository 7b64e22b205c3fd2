"""The intake wizard: forms derived from the instruments (``forms``, ``fields``), the steps (``steps``), drafts and
submission (``service``), what the answers read as (``display``) and the pages (``views``)."""
