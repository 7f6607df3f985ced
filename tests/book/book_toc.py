"""The book's pages in the order of ``_toc.yml`` (shared by the book and browser tests)."""

from pathlib import Path


def toc_pages(root: Path) -> list[str]:
    """Every ``file`` entry of ``root/_toc.yml`` (root page first), as written there."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages = [toc["root"]]
    stack = list(toc.get("chapters", [])) + [
        c for p in toc.get("parts", []) for c in p.get("chapters", [])
    ]
    while stack:
        entry = stack.pop(0)
        if "file" in entry:
            pages.append(entry["file"])
        stack.extend(entry.get("sections", []))
    return pages
