"""The cost of the patient intake wizard, against a bare Flask + WTForms + SQLAlchemy insert endpoint.

Run by hand: ``.venv/bin/python bench/intake_cost.py [--requests N] [--intakes N] [--profile WHAT]``.

In one run, on SQLite files in a temporary folder, through the Flask test client (the whole app: hooks,
session cookie, CSRF, queries, templates; no network socket):

- the reference: a bare app whose one POST validates a small WTForms form and inserts one row;
- a wizard step POST (the mood step, valid, "Save and continue", answered into a draft of every step);
- a wizard step GET (the mood step: 36 radio inputs), in CPU milliseconds (``time.process_time``);
- a whole intake as a browser does it: every page fetched, every step posted, the answers sent and the
  confirmation shown, in a fresh browser session each time.

It prints each as a ratio against the bare POST measured in the same minutes. ``--profile post|get|intake``
prints the cProfile of that part instead (sorted by cumulative time).

``--instructions`` counts, instead of timing, the instructions each part executes in user space, under
valgrind's callgrind (a few minutes). The counts repeat exactly from run to run, whatever else the machine
does, so they compare two versions of the code where timings on a shared machine move by 30 %. They leave out
the kernel's work (the bare POST's SQLite commits wait on the disk in the kernel), so their ratios are higher
than the CPU-time ones.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from flask import Flask
from flask import redirect
from flask import request
from flask.testing import FlaskClient
from sqlalchemy import orm
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import SelectChoice
from wtforms import StringField
from wtforms.validators import InputRequired
from wtforms.validators import NumberRange

from screening import create_app
from screening import migrate
from screening.active_rules import require_ruleset

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: A key for contact details, as ``Fernet.generate_key()`` makes one.
CONTACT_KEY = "pC0b7mWJ3y0q9o0l3m6Jw2m1eY1YfS6hQ3bT8jGk4nE="
#: What a patient answers, step by step (the test suite's default patient: a fibromyalgia candidate).
ANSWERS: dict[str, dict[str, str | list[str]]] = {
    "welcome": {"consent": "y"},
    "age": {"age": "46"},
    "about": {"sex_at_birth": "female", "pregnancy": "no", "breastfeeding": "no", "diagnoses": ["fibromyalgia"]},
    "pain": {
        "pain_areas": ["shoulder_girdle_left", "upper_arm_left", "hip_left", "neck", "upper_back", "lower_back"],
        "pain_duration_months": "48",
        "pain_average": "6",
    },
    "symptoms": {
        "fatigue": "3",
        "unrefreshed": "2",
        "cognitive": "2",
        "headaches": "1",
        "lower_abdominal": "0",
        "depression": "1",
    },
    "mood": {f"phq9_{i}": v for i, v in enumerate("222212220", start=1)},
    "anxiety": {f"gad7_{i}": v for i, v in enumerate("2112101", start=1)},
    "sleep": {f"isi_{i}": v for i, v in enumerate("3222313", start=1)},
    "treatments": {
        "medications-0-drug": "sertraline",
        "medications-0-dose_mg_per_day": "100",
        "medications-0-weeks": "12",
        "medications-0-improvement_pct": "10",
        "medications-0-current_episode": "yes",
        "medications-0-stopped_early": "no",
        "graded_exercise": "tried",
        "cbt": "never",
        "sleep_treatment": "current",
    },
    "history": {"medical_history_none": "y", "current_medications_none": "y"},
    "contact": {"contact_choice": "decline"},
}


# --- The reference: a bare insert endpoint ------------------------------------------------------


class _Base(orm.DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "bare_row"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    age: orm.Mapped[int]
    choice: orm.Mapped[str] = orm.mapped_column(sa.String(8))


class _BareForm(Form):
    name = StringField(validators=[InputRequired()])
    age = IntegerField(validators=[InputRequired(), NumberRange(0, 130)])
    choice = RadioField(choices=[SelectChoice(code, code.upper()) for code in "abc"], validators=[InputRequired()])


def bare_app(url: str) -> Flask:
    """Return a bare app on the database ``url``: one POST validates a WTForms form, inserts a row, commits and
    redirects."""
    engine = sa.create_engine(url)
    _Base.metadata.create_all(engine)
    app = Flask("bare")

    @app.post("/")
    def insert() -> object:
        form = _BareForm(formdata=request.form)
        if not form.validate():
            return "invalid", 422
        with orm.Session(engine) as session:
            session.add(_Row(name=form.name.data, age=form.age.data, choice=form.choice.data))
            session.commit()
        return redirect("/done")

    return app


def bare_post(url: str) -> Callable[[], object]:
    """Return one valid POST to a bare app on the database ``url`` (the reference every bench measures)."""
    client = bare_app(url).test_client()
    data = {"name": "Jordan", "age": "46", "choice": "b"}

    def post() -> object:
        response = client.post("/", data=data)
        assert response.status_code == 302, response.status_code
        return response

    return post


# --- The wizard ---------------------------------------------------------------------------------


def wizard_app(folder: Path, url: str | None = None) -> Flask:
    """Return the screening app on a migrated database (SQLite in ``folder`` by default), the shipped rules active."""
    url = url or f"sqlite:///{folder / 'wizard.sqlite3'}"
    migrate.upgrade(url)
    app = create_app(
        {
            "SECRET_KEY": "bench-secret-bench-secret-bench-secret",
            "DATABASE_URL": url,
            "HUEY_URL": f"sqlite:///{folder / 'huey.sqlite3'}",
            "CONTACT_KEYS": CONTACT_KEY,
            "PUBLIC_BASE_URL": "https://screening.clinic.example",
        }
    )
    require_ruleset(app)
    return app


def step_path(key: str) -> str:
    """Return the address of a step."""
    return "/" if key == "welcome" else f"/intake/{key}"


class Browser:
    """One browser session: fetches what a redirect names, as a browser does, and counts the requests."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""
        self.requests = 0

    def get(self, path: str) -> str:
        """GET a page, keep its CSRF token, return its text."""
        self.requests += 1
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        html = response.get_data(as_text=True)
        found = CSRF.search(html)
        if found:
            self.token = found.group(1)
        return html

    def post(self, path: str, answers: dict[str, str | list[str]], action: str = "next") -> str:
        """POST answers; return where the redirect leads."""
        self.requests += 1
        pairs = [(k, v) for k, vs in answers.items() for v in ([vs] if isinstance(vs, str) else vs)]
        response = self.client.post(path, data=MultiDict([*pairs, ("csrf_token", self.token), ("action", action)]))
        assert response.status_code == 302, (path, response.status_code, response.get_data(as_text=True)[:500])
        return response.headers["Location"]


def whole_intake(app: Flask) -> int:
    """Walk one intake as a browser does, in a fresh session; return how many requests it took."""
    browser = Browser(app.test_client())
    browser.get("/")
    for key, answers in ANSWERS.items():
        browser.get(browser.post(step_path(key), answers))
    browser.get(browser.post("/intake/review", {}, action="submit"))
    return browser.requests


def drafted_browser(app: Flask) -> Browser:
    """Return a browser whose draft holds every step, standing on the review page."""
    browser = Browser(app.test_client())
    browser.get("/")
    for key, answers in ANSWERS.items():
        browser.post(step_path(key), answers)
    browser.get("/intake/review")
    return browser


# --- Measuring ----------------------------------------------------------------------------------


def measure(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Return the median wall and CPU milliseconds of ``run`` over ``repeat`` calls, after one warm-up."""
    run()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def wizard_parts(app: Flask) -> dict[str, Callable[[], object]]:
    """Return the wizard's measured parts, each a call of one request (or one whole intake)."""
    browser = drafted_browser(app)
    browser.get("/intake/mood")
    mood = ANSWERS["mood"]
    return {
        "step POST": lambda: browser.post("/intake/mood", mood),
        "step GET": lambda: browser.get("/intake/mood"),
        "whole intake": lambda: whole_intake(app),
    }


def parts(folder: Path) -> dict[str, Callable[[], object]]:
    """Return the measured parts: the bare POST, then the wizard's."""
    bare = bare_post(f"sqlite:///{folder / 'bare.sqlite3'}")
    return {"bare POST": bare, **wizard_parts(wizard_app(folder))}


def report(requests: int, intakes: int) -> None:
    """Print each part's wall and CPU time, and its ratio against the bare POST."""
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as folder:
        measured = parts(Path(folder))
        count = whole_intake_requests(measured)
        results = {
            name: measure(run, intakes if name == "whole intake" else requests) for name, run in measured.items()
        }
    bare_wall, bare_cpu = results["bare POST"]
    print(f"{'':<14}{'wall ms':>10}{'CPU ms':>10}   ratio")
    for name, (wall, cpu) in results.items():
        print(f"{name:<14}{wall:>10.2f}{cpu:>10.2f}   ", end="")
        if name == "bare POST":
            print("(reference)")
        elif name == "step POST":
            print(f"throughput {bare_wall / wall:.2f}x the bare POST, {cpu / bare_cpu:.1f}x its CPU")
        elif name == "step GET":
            print(f"{cpu / bare_cpu:.1f}x the bare POST's CPU")
        else:
            print(f"{count} requests, the CPU of {cpu / bare_cpu:.0f} bare POSTs")


def whole_intake_requests(measured: dict[str, Callable[[], object]]) -> int:
    """Return how many requests one whole intake takes (and warm it up)."""
    count = measured["whole intake"]()
    assert isinstance(count, int)
    return count


def profile(what: str, requests: int) -> None:
    """Print the cProfile of ``requests`` calls of one part."""
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as folder:
        run = parts(Path(folder))[{"post": "step POST", "get": "step GET", "intake": "whole intake"}[what]]
        run()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            run()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


#: What marks the end of one phase under callgrind: each ``time.sleep(0)`` dumps the counts since the last one.
PHASE_MARK = "time_sleep"


def phases(requests: int, intakes: int) -> None:
    """Run each part after a warm-up, between two phase marks (the counted run of ``--instructions``)."""
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as folder:
        for name, run in parts(Path(folder)).items():
            run()
            run()
            time.sleep(0)  # the warm-up ends a phase, which is not counted
            for _ in range(intakes if name == "whole intake" else requests):
                run()
            time.sleep(0)  # the counted phase ends


def instructions(requests: int, intakes: int) -> None:
    """Print the instructions each part executes, and their ratio to the bare POST's, counted by callgrind."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian package valgrind)")
    names = ["bare POST", "step POST", "step GET", "whole intake"]  # as parts() returns them
    with tempfile.TemporaryDirectory(prefix="intake-instructions-") as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--cache-sim=no", f"--dump-before={PHASE_MARK}",
            f"--callgrind-out-file={out}", sys.executable, __file__, "--phases",
            "--requests", str(requests), "--intakes", str(intakes),
        ]  # fmt: skip
        environment = {**os.environ, "PYTHONHASHSEED": "0"}  # the same hashing, so the same dict layouts, each run
        subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dumps = sorted(Path(folder).glob("callgrind.out.*"), key=lambda path: int(path.suffix[1:]))
        totals = [_total(path) for path in dumps]
    if len(totals) != 2 * len(names):  # another time.sleep would shift every phase
        raise SystemExit(f"expected {2 * len(names)} phases, callgrind wrote {len(totals)}")
    counts = {
        name: totals[2 * index + 1] / (intakes if name == "whole intake" else requests)
        for index, name in enumerate(names)
    }
    bare = counts["bare POST"]
    print(f"{'':<14}{'instructions':>14}   ratio to the bare POST")
    for name, count in counts.items():
        print(f"{name:<14}{count / 1e6:>12.2f} M   {'(reference)' if name == 'bare POST' else f'{count / bare:.2f}x'}")


def _total(dump: Path) -> int:
    """Return the instructions counted in one callgrind dump."""
    for line in dump.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise SystemExit(f"{dump}: no totals")


def main() -> None:
    """Parse the arguments and run the bench."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per single-request part")
    parser.add_argument("--intakes", type=int, default=20, help="whole intakes")
    parser.add_argument("--profile", choices=("post", "get", "intake"), help="print the cProfile of one part")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind instead")
    parser.add_argument("--phases", action="store_true", help=argparse.SUPPRESS)  # the run --instructions counts
    arguments = parser.parse_args()
    if arguments.phases:
        phases(arguments.requests, arguments.intakes)
    elif arguments.instructions:
        instructions(arguments.requests, arguments.intakes)
    elif arguments.profile:
        profile(arguments.profile, arguments.requests)
    else:
        report(arguments.requests, arguments.intakes)


if __name__ == "__main__":
    main()
