"""One page protocol, literally: every page module exposes :class:`faalgrad.studies.Page`'s
names with its signatures, and exports the protocol plus what its notebook uses."""

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

from faalgrad.studies import PAGES, Page

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_FUNCTIONS = ("specs", "compute", "glue_values", "verdicts")
#: The notebooks of each page module (the ratio module serves the ratio and swap pages).
NOTEBOOKS = {page: [page] for page in PAGES} | {"ratio": ["ratio", "swap"]}


def _parameters(function) -> list[str]:
    return [p.name for p in inspect.signature(function).parameters.values()]


def test_every_page_module_is_listed_and_has_a_notebook():
    modules = {p.stem for p in (ROOT / "faalgrad" / "studies").glob("*.py")}
    helpers = {"__init__", "_common", "_sweep", "claims", "forest", "paper", "stats"}
    assert modules - helpers == set(PAGES)
    for notebooks in NOTEBOOKS.values():
        for name in notebooks:
            assert (ROOT / "notebooks" / f"{name}.md").is_file()


@pytest.mark.parametrize("name", PAGES)
def test_page_module_follows_the_protocol(name):
    module = importlib.import_module(f"faalgrad.studies.{name}")
    assert dataclasses.is_dataclass(module.Params)
    assert module.Params.__dataclass_params__.frozen
    for function in PROTOCOL_FUNCTIONS:
        assert _parameters(getattr(module, function)) == _parameters(getattr(Page, function))[1:]


@pytest.mark.parametrize("name", PAGES)
def test_page_exports_the_protocol_and_what_its_notebooks_use(name):
    module = importlib.import_module(f"faalgrad.studies.{name}")
    text = "\n".join(
        (ROOT / "notebooks" / f"{nb}.md").read_text(encoding="utf-8") for nb in NOTEBOOKS[name]
    )
    used = set(re.findall(r"\bpage\.([A-Za-z_]\w*)", text))
    protocol = {"Params", *PROTOCOL_FUNCTIONS}
    assert used <= set(module.__all__), "a notebook uses a name its page does not export"
    extra = set(module.__all__) - protocol - used - getattr(module, "_LIBRARY_API", set())
    assert not extra, f"exported but used by no notebook: {sorted(extra)}"
    for exported in module.__all__:
        assert hasattr(module, exported)


def test_the_protocol_check_catches_a_wrong_signature():
    def compute(rows, params):  # the old order
        return {}

    assert _parameters(compute) != _parameters(Page.compute)[1:]
