"""The patient's contact details: validated (``details``), encrypted at rest (``crypto``), stored and read (``service``).

They are never part of the answers document: they live in their own table, only physicians and admins read
them, and every read is audited.
"""
