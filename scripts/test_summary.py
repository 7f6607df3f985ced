"""Print the totals of ``make test``'s stages from their JUnit reports.

Exits non-zero on failure.

    python scripts/test_summary.py scratch/test-reports [SECONDS]

Each stage (unit, html, the book's two nbval halves, results) writes ``<stage>.xml``; a
stage without a report did not run to its end and counts as failed.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

STAGES = ("unit", "html", "nbval-a", "nbval-b", "results")


def counts(report: Path) -> dict[str, int]:
    """Passed, failed (failures and errors) and skipped tests of one JUnit report."""
    suites = ET.parse(report).getroot()
    suites = [suites] if suites.tag == "testsuite" else list(suites)
    total = {
        k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")
    }
    failed = total["failures"] + total["errors"]
    return {
        "passed": total["tests"] - failed - total["skipped"],
        "failed": failed,
        "skipped": total["skipped"],
    }


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    totals, parts, missing = {"passed": 0, "failed": 0, "skipped": 0}, [], []
    for stage in STAGES:
        report = folder / f"{stage}.xml"
        if not report.exists():
            missing.append(stage)
            continue
        c = counts(report)
        for k in totals:
            totals[k] += c[k]
        parts.append(
            f"{stage} {c['passed']} passed" + (f", {c['failed']} failed" if c["failed"] else "")
        )
    seconds = f" in {float(argv[1]):.0f} s" if len(argv) > 1 else ""
    print(
        f"make test: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped{seconds} "
        f"({'; '.join(parts)})"
        + (f"; stages that did not finish: {', '.join(missing)}" if missing else "")
    )
    return 1 if totals["failed"] or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
