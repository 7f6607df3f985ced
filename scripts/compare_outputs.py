"""Compare the outputs of two executed notebooks (e.g. before and after a refactor).

    python scripts/compare_outputs.py OLD.ipynb NEW.ipynb [...more OLD NEW pairs]

Two notebooks agree when (1) their displayed outputs (text, HTML, images, streams, errors),
taken in order over all cells, are equal byte for byte, and (2) their glued values are
equal as the text a page shows (``{glue:text}`` renders a string without its quotes).
Cell sources, ids, execution counts and metadata are not compared: a refactor may regroup
cells and glue in another order without changing what a reader sees. Exits 1 on any
difference and prints the first few.
"""

from __future__ import annotations

import sys

import nbformat

_MIMES = ("text/plain", "text/html", "text/markdown", "image/png", "image/svg+xml", "text/latex")


def _glue_text(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def outputs(path: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(displayed outputs in order, glued name -> text) of the executed notebook ``path``."""
    nb = nbformat.read(path, as_version=4)
    shown: list[tuple[str, str]] = []
    glued: dict[str, str] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            kind = out["output_type"]
            if kind == "stream":
                shown.append((f"stream:{out['name']}", out["text"]))
            elif kind == "error":
                shown.append(("error", f"{out['ename']}: {out['evalue']}"))
            else:
                data = out.get("data", {})
                scrap = out.get("metadata", {}).get("scrapbook")
                if scrap is not None:  # myst_nb.glue: data keys carry a prefix
                    prefix = scrap.get("mime_prefix") or ""
                    glued[scrap["name"]] = _glue_text(str(data.get(prefix + "text/plain", "")))
                    shown.extend(
                        (m, str(data[prefix + m]))
                        for m in _MIMES
                        if prefix + m in data and m != "text/plain"
                    )
                    continue
                shown.extend((m, str(data[m])) for m in _MIMES if m in data)
    return shown, glued


def compare(old: str, new: str, limit: int = 5) -> list[str]:
    """Differences between the outputs of ``old`` and ``new`` (empty when they agree)."""
    (s_old, g_old), (s_new, g_new) = outputs(old), outputs(new)
    problems = []
    if len(s_old) != len(s_new):
        problems.append(f"{len(s_old)} displayed outputs before, {len(s_new)} after")
    # a length difference is reported above; compare the outputs both have
    for i, (a, b) in enumerate(zip(s_old, s_new, strict=False)):
        if a != b:
            problems.append(f"output {i} ({a[0]} vs {b[0]}): {a[1][:150]!r} != {b[1][:150]!r}")
    for name in sorted(set(g_old) | set(g_new)):
        if g_old.get(name) != g_new.get(name):
            problems.append(f"glue {name!r}: {g_old.get(name)!r} != {g_new.get(name)!r}")
    return problems[:limit] + (
        [f"... {len(problems) - limit} more"] if len(problems) > limit else []
    )


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        raise SystemExit(__doc__)
    status = 0
    for old, new in zip(argv[::2], argv[1::2], strict=True):
        problems = compare(old, new)
        print(f"{new}: {'same outputs' if not problems else 'DIFFERENT'}")
        for p in problems:
            print("   ", p)
        status |= bool(problems)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
