"""Exports of stored records for people outside the app: the quality-review CSV and its data dictionary.

``csv_stream`` writes any streamed query as CSV in pieces (the audit log's export uses it too); ``days`` reads the
inclusive UTC day ranges every export is asked for; ``quality_csv`` is one row per submission, without free text,
contact details or exact times; ``data_dictionary`` describes each of its columns, from the instrument definitions.
"""
