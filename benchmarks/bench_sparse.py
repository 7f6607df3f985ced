"""The CSR first layer against the dense one, on Adult (105 inputs, 88 % zeros).

Adult's seed-0 training split: ERM for 100 full-batch epochs, and FaAlGrad Config 1 with
I = 10 for 20 meta-updates, no early stopping, one torch thread, best of ``--repeats``.
Prints seconds for dense and CSR inputs, the speed-up, and the largest difference of the
validation-loss trajectories (float32 sums in another order: rounding only).

    python benchmarks/bench_sparse.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import torch

from faalgrad import train
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.runs import cached_split
from faalgrad.splits import support_query


def _best(fn, repeats: int) -> tuple[float, list[float]]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result.val_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    d = cached_split("adult", 0)
    s, q = support_query(d.y_train, d.a_train, "config1", dataset="adult")
    erm, meta = (
        erm_config("adult", max_epochs=100, patience=100),
        faalgrad_config("adult", inner_steps=10, max_epochs=20, patience=20),
    )
    cases = {
        "ERM, 100 epochs": lambda: train.train_erm(d.X_train, d.y_train, d.X_val, d.y_val, erm, 0),
        "FaAlGrad I=10, 20 epochs": lambda: train.train_faalgrad(
            d.X_train[s], d.y_train[s], d.X_train[q], d.y_train[q], d.X_val, d.y_val, meta, 0
        ),
    }
    cases["ERM, 100 epochs"]()  # first-run start-up (allocator, kernels) outside the timings
    print(f"{'case':<26} {'dense s':>8} {'CSR s':>7} {'speed-up':>9} {'max |Δ val loss|':>17}")
    threshold = train.SPARSE_MIN_ENTRIES
    for name, fn in cases.items():
        train.SPARSE_MIN_ENTRIES = 10**15  # never sparse
        t_dense, loss_dense = _best(fn, args.repeats)
        train.SPARSE_MIN_ENTRIES = threshold
        t_csr, loss_csr = _best(fn, args.repeats)
        gap = max(abs(a - b) for a, b in zip(loss_dense, loss_csr, strict=True))
        print(f"{name:<26} {t_dense:8.2f} {t_csr:7.2f} {t_dense / t_csr:8.2f}x {gap:17.1e}")


if __name__ == "__main__":
    main()
