"""The published book: notebooks in book/ match their sources; the built HTML is sound.

(a) Each ``book/X.ipynb`` (papermill output) must hold the same code cells as
``notebooks/X.md``, so a notebook that was edited but not re-executed fails.
(b) The HTML checks (``test_html_*``) read the rendered book: ``$FAALGRAD_HTML`` (``make
test`` renders the published notebooks into scratch/ and points it there) or
``_build/html`` (``make book``); they skip when neither exists.
"""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "notebooks").glob("*.md"))
HTML = Path(os.environ.get("FAALGRAD_HTML", ROOT / "_build" / "html"))


def _code_cells(nb) -> list[str]:
    return [
        c.source.strip()
        for c in nb.cells
        if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
    ]


def test_every_source_is_published():
    published = {p.stem for p in (ROOT / "book").glob("*.ipynb")}
    assert {p.stem for p in SOURCES} <= published, "run `make book`"
    assert published <= {p.stem for p in SOURCES}, (
        "book/ holds a notebook without a source in notebooks/"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_published_notebook_matches_source(source):
    jupytext = pytest.importorskip("jupytext")
    nbformat = pytest.importorskip("nbformat")
    published = ROOT / "book" / f"{source.stem}.ipynb"
    assert published.exists(), f"{published} missing: run `make book`"
    assert _code_cells(nbformat.read(published, as_version=4)) == _code_cells(
        jupytext.read(source)
    ), f"{published.name} is stale: re-run `make book`"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_published_notebook_ran_without_errors(source):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(ROOT / "book" / f"{source.stem}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, "cell not executed"
            assert not [o for o in cell.outputs if o.output_type == "error"]
            assert "site-packages" not in "".join(o.get("text", "") for o in cell.outputs), (
                "output leaks a path"
            )


def _toc_pages() -> list[str]:
    pytest.importorskip("yaml")
    from book_toc import toc_pages

    return toc_pages(ROOT)


def test_toc_pages_have_sources():
    for page in _toc_pages():
        assert any((ROOT / f"{page}{ext}").exists() for ext in (".md", ".ipynb")), page


needs_html = pytest.mark.skipif(
    not HTML.exists(), reason="no rendered book (`make book`, or `make test` renders one)"
)


@needs_html
def test_html_every_toc_page_rendered():
    for page in _toc_pages():
        assert (HTML / f"{page}.html").exists(), page


@needs_html
def test_html_images_exist_and_no_errors_in_pages():
    pages = [HTML / f"{p}.html" for p in _toc_pages()]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "Traceback" not in text, page
        assert 'class="output traceback' not in text and "ansi-red-fg" not in text, page
        assert "site-packages" not in text, page
        for src in re.findall(r'<img[^>]+src="([^"]+)"', text):
            if src.startswith(("http:", "https:", "data:")):
                continue
            assert (page.parent / src.split("#")[0]).resolve().exists(), (
                f"{page.name}: missing image {src}"
            )


@needs_html
def test_html_glued_values_were_substituted():
    for page in _toc_pages():
        text = (HTML / f"{page}.html").read_text(encoding="utf-8")
        assert "{glue" not in text and "glue:text" not in text, page


def _glued_keys(path: Path) -> set[str]:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    return {
        o["metadata"]["scrapbook"]["name"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "scrapbook" in o.get("metadata", {})
    }


def test_every_claim_is_on_the_scorecard_and_glued_by_its_page():
    from faalgrad.studies.claims import CLAIMS

    scorecard = (ROOT / "book" / "scorecard.md").read_text()
    for key, (page, _) in CLAIMS.items():
        for part in ("badge", "summary"):
            ref = f"{page}.ipynb::claim_{key}_{part}"
            assert ref in scorecard, f"scorecard lacks {ref}"
        for part in ("badge", "summary", "verdict", "evidence"):
            assert f"claim_{key}_{part}" in _glued_keys(ROOT / "book" / f"{page}.ipynb"), (
                f"{page} does not glue {part}"
            )
        assert f"<claim-{key}>" in scorecard, f"scorecard does not link the paragraph of {key}"
        source = (ROOT / "notebooks" / f"{page}.md").read_text()
        assert f"(claim-{key})=" in source, (
            f"{page} has no (claim-{key})= label before its verdict paragraph"
        )


def test_cross_page_glue_references_exist():
    """Every `{glue:...}`page::key`` in the book's markdown pages names a key that page glues."""
    for md in (ROOT / "book").glob("*.md"):
        for page, key in re.findall(
            r"\{glue(?::\w+)?\}`([\w/]+)(?:\.ipynb)?::([\w]+)", md.read_text()
        ):
            assert key in _glued_keys(ROOT / "book" / f"{page}.ipynb"), (
                f"{md.name}: {page}::{key} is not glued"
            )
