"""gunicorn's settings, for ``gunicorn -c python:screening.gunicorn_conf screening.wsgi:app``.

In a checkout, ``gunicorn.conf.py`` (which gunicorn reads from the directory it starts in) is this module.
"""

import os


def on_starting(server: object) -> None:
    """Before any worker boots, refuse to start, in one line, on a database that is missing or not migrated.

    screening.wsgi checks too, but in every worker: several failing at once make gunicorn print a traceback of its own.
    """
    os.environ.setdefault("SCREENING_ENVIRONMENT", "production")  # as screening.wsgi does
    from screening import create_app
    from screening.dbcheck import serving_problem

    problem = serving_problem(create_app())
    if problem is not None:
        raise RuntimeError(str(problem))  # gunicorn prints "Error: <the line>" and exits 1
