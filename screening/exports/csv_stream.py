"""Streamed CSV: a Core query read a batch at a time, written out in pieces, the header first.

A download written this way starts at once and never holds the table (or ORM objects of it) in memory:
the query runs with a server-side cursor on PostgreSQL (SQLite steps through its result anyway), each row
is written as it arrives, and the text goes out in pieces of about ``CHUNK_SIZE`` characters.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

#: Rows fetched from the database at a time.
BATCH = 1000
#: An export goes out in pieces of about this many characters.
CHUNK_SIZE = 64 * 1024
#: A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = frozenset("=+-@\t\r")


def inert(cells: Iterable[str]) -> list[str]:
    """Return the cells with a quote before any that a spreadsheet would run as a formula (OWASP CSV injection)."""
    return ["'" + cell if cell[:1] in _FORMULA_START else cell for cell in cells]


def stream_rows(
    session: orm.Session, query: sa.Select[tuple[Any, ...]], *, batch: int = BATCH
) -> Iterator[sa.Row[tuple[Any, ...]]]:
    """Yield the rows of one Core query as plain values, ``batch`` rows at a time as they come."""
    options = {"stream_results": True, "yield_per": batch}
    result = session.execute(query, execution_options=options)
    try:
        for rows in result.partitions():
            yield from rows
    finally:
        result.close()


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[str]], *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """Yield the CSV of ``rows`` in pieces of about ``chunk_size`` characters, the header alone first.

    The header goes out before the first row is read, so a download starts at once. Lines end in CRLF (RFC 4180).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield _drain(buffer)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= chunk_size:
            yield _drain(buffer)
    if buffer.tell():
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    """Return what ``buffer`` holds and empty it."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
