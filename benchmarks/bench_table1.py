"""Wall time of ``python -m faalgrad table1`` for all four datasets and 5 seeds.

python benchmarks/bench_table1.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "faalgrad", "table1", "--seeds", str(args.seeds), "--format", "csv"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(
        f"table1, 4 datasets x 8 rows x {args.seeds} seeds: "
        f"{time.perf_counter() - start:.1f} s wall"
    )


if __name__ == "__main__":
    main()
