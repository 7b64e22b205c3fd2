"""Keep the production stage's tests on one worker of ``pytest -n ... --dist loadgroup``.

The stage starts a dozen processes once per worker that runs any of its tests. pytest-xdist 3.8 groups tests by
their ``xdist_group`` mark by appending the group to each test's id, which pytest 9 no longer lets it change, so
the mark has no effect; this scheduler groups by folder instead.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling

#: Folders whose tests share one running stage, so each goes to a single worker.
ONE_WORKER_FOLDERS = ("tests/production/",)


class FolderGroupScheduling(LoadGroupScheduling):
    """xdist's ``loadgroup`` scheduling, with every test of each of ONE_WORKER_FOLDERS in one group."""

    def _split_scope(self, nodeid: str) -> str:
        """Return the group of a test: its folder when that is one of ONE_WORKER_FOLDERS."""
        for folder in ONE_WORKER_FOLDERS:
            if nodeid.startswith(folder):
                return folder
        scope: str = super()._split_scope(nodeid)
        return scope


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown when xdist is disabled (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> FolderGroupScheduling | None:
    """Use FolderGroupScheduling for ``--dist loadgroup`` (as ``make test`` runs the suite)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    return FolderGroupScheduling(config, log)
