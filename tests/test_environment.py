"""The locked environment agrees with what pyproject.toml declares.

``requirements.lock`` (``make lock``) is what ``make`` installs; ``pyproject.toml`` holds the
ranges ``pip install .`` resolves. An edit of one without the other fails here: every
declared requirement is locked at a version its range admits, every locked package is pinned
with its files' hashes, torch is the CPU build, and the pre-commit hooks run the locked ruff.
Also: the test suite's FAALGRAD_* variables (tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from conftest import MAKE_INPUTS
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
PRE_COMMIT = ROOT / ".pre-commit-config.yaml"
#: The platform the lock is for (``make lock``): CPython 3.11 on x86-64 Linux.
LOCK_ENVIRONMENT = {
    **default_environment(),
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}
#: CUDA builds' packages: the lock's torch is the CPU build, which needs none of them.
CUDA_PACKAGE = re.compile(r"^(nvidia-|cuda-|triton$)")


def lock_entries(text: str) -> dict[str, tuple[Requirement, list[str]]]:
    """``{canonical name: (requirement, hashes)}`` of a hashed requirements file."""
    logical, pending = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            logical.append(pending.strip())
        pending = ""
    entries = {}
    for line in logical:
        assert not line.startswith("-"), f"option line in the lock: {line!r}"
        words = line.split()
        hashes = [w.removeprefix("--hash=") for w in words[1:] if w.startswith("--hash=")]
        others = [w for w in words[1:] if not w.startswith("--hash=")]
        assert not others, f"unexpected words in the lock: {others} ({line!r})"
        requirement = Requirement(words[0])
        name = canonicalize_name(requirement.name)
        assert name not in entries, f"{name} locked twice"
        entries[name] = (requirement, hashes)
    return entries


def declared(pyproject: dict) -> list[tuple[str, Requirement]]:
    """``(where, requirement)`` for the dependencies and every extra's, this project's own
    extras (``faalgrad[book]``) left out."""
    project = pyproject["project"]
    found = [("dependencies", Requirement(r)) for r in project.get("dependencies", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        found += [(f"optional-dependencies.{extra}", Requirement(r)) for r in requirements]
    return [
        (where, r)
        for where, r in found
        if canonicalize_name(r.name) != canonicalize_name(project["name"])
    ]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def lock() -> dict[str, tuple[Requirement, list[str]]]:
    return lock_entries(LOCK.read_text(encoding="utf-8"))


def locked_version(lock, name: str) -> Version:
    requirement, _ = lock[canonicalize_name(name)]
    (spec,) = requirement.specifier
    return Version(spec.version)


def test_every_locked_package_is_pinned_with_hashes(lock):
    assert len(lock) > 50, f"only {len(lock)} packages in {LOCK.name}: not a full lock"
    for name, (requirement, hashes) in lock.items():
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name} is not pinned: {requirement}"
        assert hashes, f"{name} has no --hash in {LOCK.name}"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), (name, hashes)


def test_every_declared_requirement_is_locked_within_its_range(pyproject, lock):
    problems = []
    for where, requirement in declared(pyproject):
        if requirement.marker is not None and not requirement.marker.evaluate(LOCK_ENVIRONMENT):
            continue
        name = canonicalize_name(requirement.name)
        if name not in lock:
            problems.append(f"{where}: {requirement} is not in {LOCK.name}")
            continue
        version = locked_version(lock, name)
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{where}: {requirement} does not admit the locked {name}=={version}")
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_own_extras_named_by_the_extras_exist(pyproject):
    project = pyproject["project"]
    own = canonicalize_name(project["name"])
    extras = set(project.get("optional-dependencies", {}))
    for requirements in project.get("optional-dependencies", {}).values():
        for requirement in map(Requirement, requirements):
            if canonicalize_name(requirement.name) == own:
                assert requirement.extras <= extras, f"{requirement}: no such extra"


def test_torch_is_the_cpu_build_without_cuda_packages(pyproject, lock):
    cuda = sorted(name for name in lock if CUDA_PACKAGE.match(name))
    assert not cuda, f"CUDA packages in {LOCK.name}: {cuda}"
    torch = locked_version(lock, "torch")
    assert torch.local == "cpu", f"the lock's torch is {torch}, not a +cpu build"


def test_pre_commit_runs_the_locked_ruff(pyproject, lock):
    ruff = locked_version(lock, "ruff")
    (pinned,) = [r for _, r in declared(pyproject) if canonicalize_name(r.name) == "ruff"]
    assert str(pinned.specifier) == f"=={ruff}", "pin ruff exactly in the test extra"
    config = PRE_COMMIT.read_text(encoding="utf-8")
    revs = re.findall(r"ruff-pre-commit\s*\n\s*rev:\s*[\"']?v?([^\s\"']+)", config)
    assert revs == [str(ruff)], f"{PRE_COMMIT.name} runs ruff {revs}, the lock has {ruff}"


# --------------------------------------------------------------------------- FAALGRAD_*

SHELL_VARIABLE = "FAALGRAD_RUN_CACHE"


@pytest.fixture(scope="module")
def shell_sets_a_variable():
    """As if the shell running pytest had set FAALGRAD_RUN_CACHE (a module fixture is set
    up before conftest's per-test one)."""
    before = os.environ.get(SHELL_VARIABLE)
    os.environ[SHELL_VARIABLE] = "/nonexistent/run-cache"
    yield
    if before is None:
        del os.environ[SHELL_VARIABLE]
    else:
        os.environ[SHELL_VARIABLE] = before


def test_tests_start_without_the_shells_faalgrad_variables(shell_sets_a_variable):
    left = sorted(n for n in os.environ if n.startswith("FAALGRAD_") and n not in MAKE_INPUTS)
    assert not left, f"set for this test by the shell: {left}"


def test_a_test_sets_its_own_faalgrad_variables(monkeypatch, tmp_path):
    monkeypatch.setenv(SHELL_VARIABLE, str(tmp_path))
    assert os.environ[SHELL_VARIABLE] == str(tmp_path)
