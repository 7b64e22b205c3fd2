"""The figures of "Fast at clinic scale", each as a ratio against a reference measured in the same run.

Run by hand: ``.venv/bin/python bench/clinic_scale.py [--size 100000] [--database sqlite|postgresql|both]
[--figure NAME ...]`` (default: 100000 submissions, SQLite). PostgreSQL needs a server: run it under
``scripts/with-postgres.sh``, which names a throwaway one in ``SCREENING_TEST_POSTGRES_URL`` (or give
``--postgres-url``); the bench creates a database of its own there for each data set.

For each database the bench builds, once, the data sets the figures share: ``--size`` and ``--reference-size``
(default 1000) fake submissions seeded and decided by the shipped rules (the larger one also gets ``--dry-runs``
dry runs of a draft for the rule-tuning pages), as many audit events in databases of their own, and the
reference of most figures: ``bench/intake_cost.py``'s bare Flask + WTForms + SQLAlchemy endpoint (a form
validated, one row inserted through an ORM session, commit, redirect). Every figure is a small function in
``FIGURES`` that returns a ``Figure``: what it measured, the reference it is set against, and the ratio; each
reuses the functions of the bench that measures it on its own (``bench/tuning_pages.py``,
``bench/audit_export.py``, ``bench/intake_cost.py``, ...). Other benches plug theirs in with ``@figure(...)``
(or ``register``). No figure asserts anything: they measure. Dry runs report their seconds on standard error.
Requests go through the Flask test client (guard, session, queries, templates), not a network socket.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import TypeVar

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import make_url

import audit_export
import backtest
import intake_cost
import queue_latency
import screen_throughput
import tuning_pages
from screening.active_rules.registry import checked_ruleset
from screening.db import engine_for
from screening.engine import budget
from screening.engine.model import RuleSet
from screening.engine.loader import read_sources
from screening.fake import answers_documents

SEED = 20261202
#: Requests timed per page, and documents screened per round.
REQUESTS = 30
DOCUMENTS = 3000
#: Dry runs of the draft listed on /rules/, and downloads of the audit CSV timed per size.
DRY_RUNS = 10
DOWNLOADS = 3
#: Seconds the rule files' tests may take before the bench screens with them (the app's default is 20).
CHECK_SECONDS = 300.0
T = TypeVar("T")


@dataclass(frozen=True)
class Figure:
    """One measured figure: its value, the reference measured in the same run, and the goal it is read against."""

    label: str
    value: float
    unit: str
    reference: float
    reference_label: str
    goal: str

    @property
    def ratio(self) -> float:
        """Return value / reference."""
        return self.value / self.reference if self.reference else float("nan")

    def line(self) -> str:
        """Return the figure as one line of the table."""
        return (
            f"  {self.label:<44} {self.value:10.2f} {self.unit:<6} {self.ratio:7.2f}x  "
            f"of {self.reference_label} ({self.reference:.2f} {self.unit})   goal: {self.goal}"
        )


@dataclass
class Bench:
    """What the figures of one database share: its data sets, built once, and the reference endpoint's time."""

    database: str
    size: int
    reference_size: int
    folder: Path
    postgres_url: str | None = None
    requests: int = REQUESTS
    documents: int = DOCUMENTS
    dry_runs: int = DRY_RUNS
    downloads: int = DOWNLOADS
    seconds_seeded: dict[int, float] = field(default_factory=dict)
    _apps: dict[int, Flask] = field(default_factory=dict)
    _shared: dict[str, Any] = field(default_factory=dict)

    def url(self, name: str) -> str:
        """Return a fresh, empty database called ``name`` on this bench's backend."""
        if self.database == "sqlite":
            return f"sqlite:///{self.folder / f'{name}.sqlite3'}"
        if self.postgres_url is None:
            raise SystemExit("PostgreSQL needs a server: run under scripts/with-postgres.sh or give --postgres-url")
        return fresh_postgres_database(self.postgres_url, f"bench_{name}")

    def seeded(self, count: int) -> Flask:
        """Return an app with ``count`` seeded open submissions (and the queue bench's physician), built once."""
        if count not in self._apps:
            app = queue_latency.make_app(self.folder, self.url(f"seeded_{count}"))
            self.seconds_seeded[count] = queue_latency.seed(app, count, decided_share=0.0)
            self._apps[count] = app
        return self._apps[count]

    def shared(self, key: str, build: Callable[[], T]) -> T:
        """Return what ``build`` returns, built the first time a figure asks for ``key``."""
        if key not in self._shared:
            self._shared[key] = build()
        return self._shared[key]

    def bare_post(self) -> tuple[float, float]:
        """Return the median wall and CPU milliseconds of the bare endpoint's POST (bench/intake_cost.py)."""
        return self.shared("bare", lambda: intake_cost.measure(intake_cost.bare_post(self.url("bare")), self.requests))

    def bare_post_ms(self) -> float:
        """Return the median milliseconds of the bare endpoint's POST (the reference of the page figures)."""
        return self.bare_post()[0]

    def bare_post_cpu_ms(self) -> float:
        """Return the median CPU milliseconds of the bare endpoint's POST."""
        return self.bare_post()[1]

    def close(self) -> None:
        """Release every app's connections."""
        apps = [*self._apps.values()]
        apps += [found[0].application for key, found in self._shared.items() if key.startswith("audit_client_")]
        for app in apps:
            engine_for(app).dispose()


#: Every figure by name: a function of the bench that returns a Figure. Only figures that read the database
#: run once per database; the others once.
FIGURES: dict[str, Callable[[Bench], Figure]] = {}
NEEDS_DATABASE: set[str] = set()


def register(name: str, measure: Callable[[Bench], Figure], *, database: bool = True) -> None:
    """Add a figure to the bench; ``database=False`` runs it once, not once per database."""
    FIGURES[name] = measure
    if database:
        NEEDS_DATABASE.add(name)


def figure(name: str, *, database: bool = True) -> Callable[[Callable[[Bench], Figure]], Callable[[Bench], Figure]]:
    """Register the decorated function as the figure ``name``."""

    def add(measure: Callable[[Bench], Figure]) -> Callable[[Bench], Figure]:
        register(name, measure, database=database)
        return measure

    return add


def fresh_postgres_database(server_url: str, name: str) -> str:
    """Create (again) the database ``name`` on the server of ``server_url`` and return its URL."""
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def median_ms(app: Flask, url: str, requests: int) -> float:
    """Return the median milliseconds of GET ``url`` by the bench physician."""
    client = app.test_client()
    queue_latency.sign_in(client)
    return statistics.median(queue_latency.timings(client, url, requests))


@figure("review_queue")
def review_queue(bench: Bench) -> Figure:
    """/review/ with ``size`` open submissions against the same page with ``reference_size``."""
    large = median_ms(bench.seeded(bench.size), "/review/", bench.requests)
    small = median_ms(bench.seeded(bench.reference_size), "/review/", bench.requests)
    return Figure(
        f"/review/, {bench.size:,} open", large, "ms", small, f"{bench.reference_size:,} open", "< 50 ms, <= 1.5x"
    )


@figure("review_queue_vs_bare")
def review_queue_vs_bare(bench: Bench) -> Figure:
    """/review/ with ``size`` open submissions against the bare endpoint's POST."""
    large = median_ms(bench.seeded(bench.size), "/review/", bench.requests)
    return Figure(f"/review/, {bench.size:,} open", large, "ms", bench.bare_post_ms(), "the bare POST", "< 50 ms")


@figure("seed")
def seed(bench: Bench) -> Figure:
    """Seeding ``size`` submissions, per submission, against seeding ``reference_size`` (both in one transaction)."""
    bench.seeded(bench.size)
    bench.seeded(bench.reference_size)
    large, small = bench.seconds_seeded[bench.size], bench.seconds_seeded[bench.reference_size]
    return Figure(
        f"flask seed --count {bench.size:,}",
        large,
        "s",
        small * bench.size / bench.reference_size,
        f"{bench.reference_size:,} scaled linearly",
        "<= 60 s at 100,000",
    )


def tuning(bench: Bench, count: int) -> tuning_pages.TuningPages:
    """Return the rule-tuning pages of the data set of ``count``, with ``dry_runs`` dry runs of the bench draft."""

    def log(line: str) -> None:
        print(f"    ({count:,} submissions: {line})", file=sys.stderr, flush=True)

    return bench.shared(f"tuning_{count}", lambda: tuning_pages.prepare(bench.seeded(count), bench.dry_runs, log))


def tuning_page(bench: Bench, label: str, path: Callable[[tuning_pages.TuningPages], str]) -> Figure:
    """A rule-tuning page with ``size`` submissions and ``dry_runs`` dry runs against the bare POST."""
    pages = tuning(bench, bench.size)
    value = pages.median_ms(path(pages), bench.requests)
    return Figure(label, value, "ms", bench.bare_post_ms(), "the bare POST", "< 50 ms")


@figure("rules_list")
def rules_list(bench: Bench) -> Figure:
    """/rules/, which lists the dry runs (bench/tuning_pages.py), against the bare POST."""
    return tuning_page(bench, f"/rules/, {bench.dry_runs} dry runs listed", lambda pages: pages.rules_home)


@figure("draft_page")
def draft_page(bench: Bench) -> Figure:
    """The page of the draft the dry runs ran, against the bare POST."""
    return tuning_page(bench, "a draft page", lambda pages: pages.draft_page)


@figure("dry_run_result")
def dry_run_result(bench: Bench) -> Figure:
    """The first page of a dry run's result over ``size`` submissions, against the bare POST."""
    return tuning_page(bench, f"a dry-run result, {bench.size:,}", lambda pages: pages.result_page())


@figure("dry_run_result_flat")
def dry_run_result_flat(bench: Bench) -> Figure:
    """The first page of a dry run's result over ``size`` submissions against one over ``reference_size``."""
    large = tuning(bench, bench.size)
    small = tuning(bench, bench.reference_size)
    return Figure(
        f"a dry-run result, {bench.size:,}",
        large.median_ms(large.result_page(), bench.requests),
        "ms",
        small.median_ms(small.result_page(), bench.requests),
        f"{bench.reference_size:,} submissions",
        "flat",
    )


@figure("dry_run_progress")
def dry_run_progress(bench: Bench) -> Figure:
    """A dry run's progress JSON, against the bare POST."""
    return tuning_page(bench, "the dry-run progress JSON", lambda pages: pages.progress)


def audit_export_of(bench: Bench, count: int) -> audit_export.Export:
    """Return the audit CSV's download measured with ``count`` events in a database of their own."""

    def measured() -> audit_export.Export:
        client, _seconds = bench.shared(
            f"audit_client_{count}",
            lambda: audit_export.seeded_client(bench.folder, bench.url(f"audit_{count}"), count),
        )
        return audit_export.measure(client, bench.downloads)

    return bench.shared(f"audit_export_{count}", measured)


@figure("audit_csv")
def audit_csv(bench: Bench) -> Figure:
    """The whole audit CSV with ``size`` events (the time a worker is held) against ``reference_size``, scaled."""
    large, small = audit_export_of(bench, bench.size), audit_export_of(bench, bench.reference_size)
    return Figure(
        f"/admin/audit.csv, {bench.size:,} events",
        large.whole_body,
        "s",
        small.whole_body * bench.size / bench.reference_size,
        f"{bench.reference_size:,} scaled linearly",
        "a worker held a few seconds at most",
    )


@figure("audit_csv_first_byte")
def audit_csv_first_byte(bench: Bench) -> Figure:
    """The audit CSV's first byte with ``size`` events against ``reference_size``: streamed, it does not grow."""
    large, small = audit_export_of(bench, bench.size), audit_export_of(bench, bench.reference_size)
    return Figure(
        "/admin/audit.csv, first byte",
        large.first_byte * 1000,
        "ms",
        small.first_byte * 1000,
        f"{bench.reference_size:,} events",
        "streamed: flat",
    )


@figure("audit_csv_memory")
def audit_csv_memory(bench: Bench) -> Figure:
    """Peak Python allocations of one audit CSV download with ``size`` events against ``reference_size``."""
    large, small = audit_export_of(bench, bench.size), audit_export_of(bench, bench.reference_size)
    return Figure(
        "/admin/audit.csv, peak memory",
        large.peak_bytes / 2**20,
        "MiB",
        small.peak_bytes / 2**20,
        f"{bench.reference_size:,} events",
        "streamed: flat",
    )


def dry_run_seconds(app: Flask) -> float:
    """Return the seconds of one dry run of the shipped rules with fibromyalgia alone moved to not_candidate."""
    seconds, _report = backtest.time_backtest(app, backtest.candidate_sources())
    return seconds


@figure("dry_run")
def dry_run(bench: Bench) -> Figure:
    """A dry run over ``size`` submissions against one over ``reference_size``, scaled linearly."""
    large = dry_run_seconds(bench.seeded(bench.size))
    small = dry_run_seconds(bench.seeded(bench.reference_size))
    return Figure(
        f"dry run of {bench.size:,}",
        large,
        "s",
        small * bench.size / bench.reference_size,
        f"{bench.reference_size:,} scaled linearly",
        "<= 5 s at 100,000",
    )


def shipped_ruleset() -> RuleSet:
    """Return the shipped rules, checked; a busy machine gets more time to run their tests, which are not measured."""
    budget.configure(replace(budget.configured(), check_seconds=CHECK_SECONDS))
    return checked_ruleset(read_sources(backtest.RULES))


@figure("screening", database=False)
def screening_throughput(bench: Bench) -> Figure:
    """Documents per second through the rule files against the hand-written policy (bench/screen_throughput.py)."""
    ruleset = shipped_ruleset()
    documents = answers_documents(bench.documents)
    rules = screen_throughput.throughput(screen_throughput.with_rules, documents, ruleset)
    plain = screen_throughput.throughput(screen_throughput.hand_written, documents, ruleset)
    return Figure("screening (documents/s)", rules, "doc/s", plain, "hand-written policy", ">= 0.7x")


def wizard_cpu_ms(bench: Bench, part: str) -> tuple[float, float]:
    """Return the median wall and CPU milliseconds of one part of the wizard (bench/intake_cost.py)."""
    app = intake_cost.wizard_app(bench.folder, bench.url(f"wizard_{part.replace(' ', '_')}"))
    try:
        repeat = max(3, bench.requests // 10) if part == "whole intake" else bench.requests
        return intake_cost.measure(intake_cost.wizard_parts(app)[part], repeat)
    finally:
        engine_for(app).dispose()


@figure("wizard_post")
def wizard_post(bench: Bench) -> Figure:
    """A wizard step POST (the mood step, into a draft of every step) against the bare POST, wall time."""
    wall, _ = wizard_cpu_ms(bench, "step POST")
    return Figure(
        "a wizard step POST", wall, "ms", bench.bare_post_ms(), "the bare POST", "throughput >= 0.6x: <= 1.67x"
    )


@figure("wizard_get")
def wizard_get(bench: Bench) -> Figure:
    """A wizard step GET (36 radio inputs), CPU time, against the bare POST's CPU time."""
    _, cpu = wizard_cpu_ms(bench, "step GET")
    return Figure("a wizard step GET, CPU", cpu, "ms", bench.bare_post_cpu_ms(), "the bare POST's CPU", "<= 3 ms CPU")


@figure("whole_intake")
def whole_intake(bench: Bench) -> Figure:
    """A whole intake as a browser does it (every page, every step, submit, confirmation), CPU time."""
    _, cpu = wizard_cpu_ms(bench, "whole intake")
    return Figure("a whole intake, CPU", cpu, "ms", bench.bare_post_cpu_ms(), "the bare POST's CPU", "<= 25x")


@figure("ten_times_rules", database=False)
def ten_times_rules(bench: Bench) -> Figure:
    """Throughput with every rule ten times against the shipped rules."""
    ruleset = shipped_ruleset()
    tenfold = replace(ruleset, rules=ruleset.rules * 10)
    documents = answers_documents(bench.documents)
    single = screen_throughput.throughput(screen_throughput.with_rules, documents, ruleset)
    ten = screen_throughput.throughput(screen_throughput.with_rules, documents, tenfold)
    return Figure("10x the rules (documents/s)", ten, "doc/s", single, "the shipped rules", "keep >= 0.5x")


def run(bench: Bench, names: list[str]) -> None:
    """Print each named figure of ``bench``, measured in order."""
    for name in names:
        print(FIGURES[name](bench).line(), flush=True)


def main() -> None:
    """Parse the arguments and print the figures for each database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="submissions of the large data set")
    parser.add_argument("--reference-size", type=int, default=1000, help="submissions of the reference data set")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("SCREENING_TEST_POSTGRES_URL"))
    parser.add_argument("--figure", action="append", choices=sorted(FIGURES), help="only these (repeatable)")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="requests timed per page")
    parser.add_argument("--dry-runs", type=int, default=DRY_RUNS, help="dry runs listed on the rule-tuning pages")
    parser.add_argument("--downloads", type=int, default=DOWNLOADS, help="audit CSV downloads timed per size")
    options = parser.parse_args()
    chosen = [name for name in FIGURES if not options.figure or name in options.figure]
    databases = ["sqlite", "postgresql"] if options.database == "both" else [options.database]
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    once = [name for name in chosen if name not in NEEDS_DATABASE]
    if once:
        print("without a database:")
        with tempfile.TemporaryDirectory(prefix="clinic-scale-") as folder:
            run(Bench("sqlite", options.size, options.reference_size, Path(folder)), once)
    for database in databases:
        print(f"{database}, {options.size:,} and {options.reference_size:,} submissions:", flush=True)
        with tempfile.TemporaryDirectory(prefix="clinic-scale-") as folder:
            bench = Bench(
                database,
                options.size,
                options.reference_size,
                Path(folder),
                options.postgres_url,
                options.requests,
                dry_runs=options.dry_runs,
                downloads=options.downloads,
            )
            try:
                run(bench, [name for name in chosen if name in NEEDS_DATABASE])
            finally:
                bench.close()


if __name__ == "__main__":
    sys.exit(main())
