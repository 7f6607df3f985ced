"""Execute the book's notebooks: notebooks/X.md -> (jupytext) -> (papermill) -> book/X.ipynb.

    python scripts/execute_notebook.py                 # every notebooks/*.md -> book/
    python scripts/execute_notebook.py table1 -p seeds 2 -p datasets '["german"]'
                                                       # -> scratch/table1.ipynb, book/ untouched

With no parameters, a notebook runs with its default ``parameters`` cell and its output
replaces ``book/X.ipynb`` atomically (written to ``book/X.ipynb.tmp``, then renamed), so a
failing or interrupted run leaves the previous published notebook in place (the failed
output is kept as ``scratch/X.failed.ipynb``). With parameters (``-p NAME VALUE``, VALUE
read as YAML, so lists, numbers and strings all work) the output goes to ``scratch/``.
Notebooks run in the order of ``_toc.yml`` and share one run cache (``faalgrad.runs.cache``)
for the invocation, deleted at the end; published runs record their execution time in
``book/timings.json`` for the Reproducibility page.

The kernel is the ``python3`` kernel of the interpreter running this script (jupyter_client
runs a ``python`` kernel command with ``sys.executable``), i.e. the project's venv. The
environment is fixed for stable outputs: PYTHONHASHSEED=0, TQDM_DISABLE=1, and
PYTHONWARNINGS silences tqdm.auto's ipywidgets warning (it prints a site-packages path).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# MKL_CBWR pins MKL (torch's BLAS) to its AVX2 code path: without it, a long full-batch
# training (Adult's baseline, ~900 epochs) ends a few rounding steps apart on CPUs whose
# default MKL branch differs (e.g. AVX-512), and its early-stopping epoch can move.
ENV = {
    "PYTHONHASHSEED": "0",
    "TQDM_DISABLE": "1",
    "PYTHONWARNINGS": "ignore:IProgress not found",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "MKL_CBWR": "AVX2",
}


def execute(name: str, parameters: dict, out_dir: Path, *, atomic: bool) -> float:
    import warnings

    import jupytext
    import papermill

    warnings.filterwarnings("ignore", message=r"The specified file .* does not end in one of")

    source = ROOT / "notebooks" / f"{name}.md"
    if not source.exists():
        choices = sorted(p.stem for p in (ROOT / "notebooks").glob("*.md"))
        raise SystemExit(f"unknown notebook {name!r}; valid choices: {', '.join(choices)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.ipynb"
    tmp = out_dir / f"{name}.ipynb.tmp" if atomic else target
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir:
        nb_in = Path(tmpdir) / f"{name}.ipynb"
        nb = jupytext.read(source)
        for i, cell in enumerate(nb.cells):
            cell.id = f"cell-{i}"  # stable ids: re-running does not churn the published file
        jupytext.write(nb, nb_in)
        try:
            papermill.execute_notebook(
                str(nb_in),
                str(tmp),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(ROOT / "notebooks"),
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                extra_arguments=[
                    "--IPKernelApp.log_level=ERROR"
                ],  # no transport warning per notebook
            )
        except BaseException:
            if atomic and tmp.exists():
                failed = ROOT / "scratch" / f"{name}.failed.ipynb"
                failed.parent.mkdir(exist_ok=True)
                os.replace(tmp, failed)
                print(
                    f"{name}: FAILED, {target} left unchanged; failed output in {failed}",
                    file=sys.stderr,
                )
            raise
    _strip_volatile_metadata(tmp)
    if atomic:
        os.replace(tmp, target)
    elapsed = time.perf_counter() - start
    print(f"{name}: executed in {elapsed:.0f} s -> {os.path.relpath(target, ROOT)}", flush=True)
    return elapsed


def _strip_volatile_metadata(path: Path) -> None:
    """Drop timestamps, durations and temporary paths from the executed notebook's metadata."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for key in ("start_time", "end_time", "duration", "input_path", "output_path"):
        nb.metadata.get("papermill", {}).pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            cell.metadata.get("papermill", {}).pop(key, None)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names (notebooks/NAME.md); default: all")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a parameter (VALUE is YAML); output then goes to scratch/",
    )
    parser.add_argument(
        "--output-dir", type=Path, help="default: book/ without parameters, scratch/ with"
    )
    args = parser.parse_args(argv)
    os.environ.update(ENV)
    parameters = {k: yaml.safe_load(v) for k, v in args.parameter}
    names = args.names or book_order()
    publish = not parameters and args.output_dir is None
    out_dir = (args.output_dir or (ROOT / ("book" if publish else "scratch"))).resolve()
    from faalgrad.runs import cache, export
    from faalgrad.studies.reproducibility import TIMINGS_FILE, record_timing

    # Results as data (run rows, split indices) beside the published pages, or in scratch/.
    os.environ[export.DATA_ENV] = str(ROOT / ("book" if publish else "scratch") / "data")
    # One run cache per invocation: the notebooks executed together share their runs.
    with tempfile.TemporaryDirectory(prefix="faalgrad-runs-") as cache_dir:
        os.environ[cache.ENV] = cache_dir
        started = time.perf_counter()
        for i, name in enumerate(names, 1):
            print(
                f"[{i}/{len(names)}] {name} ... "
                f"(book so far {time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            seconds = execute(name, parameters, out_dir, atomic=publish)
            if publish:
                record_timing(ROOT / TIMINGS_FILE, name, seconds)
    return 0


def book_order() -> list[str]:
    """Every notebooks/*.md, in the order of _toc.yml (notebooks absent from it last)."""
    import yaml

    sources = sorted(p.stem for p in (ROOT / "notebooks").glob("*.md"))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    pages = [Path(e).stem for e in entries]
    return [n for n in pages if n in sources] + [n for n in sources if n not in pages]


if __name__ == "__main__":
    sys.exit(main())
