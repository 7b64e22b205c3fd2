"""Build the package; the metadata is in setup.cfg.

The templates and the default rules live at the repository root, where the clinic edits them. A built wheel
carries copies under ``screening/bundled/``; ``screening.config.bundled`` finds either.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: Root folders a wheel carries inside the package, under this folder of it.
BUNDLED = ("templates", "rules")
BUNDLED_INTO = Path("screening", "bundled")


class BuildWithBundled(build_py):
    """Copy the root's templates/ and rules/ into the built package."""

    def run(self) -> None:
        """Build the package, then add the bundled folders (not for an editable install: it reads the checkout)."""
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in BUNDLED:
            target = Path(self.build_lib) / BUNDLED_INTO / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"))


setup(cmdclass={"build_py": BuildWithBundled})
