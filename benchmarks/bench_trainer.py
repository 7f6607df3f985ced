"""Trainer vs. the plain autograd reference loop of the tests, on identical work.

For each dataset's Config 1 support/query sets (seed 0) and I in (1, 10): 100 full-batch
meta-updates of the dataset preset's MLP, validation loss after each, no early stopping
(patience = epochs), one torch thread, in one process. Prints seconds and the ratio
trainer / reference (below 1 = the trainer is faster). Also checks that both end at the
same parameters.

    python benchmarks/bench_trainer.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import reference_train

from faalgrad.datasets import DATASETS, load_dataset
from faalgrad.presets import faalgrad_config
from faalgrad.splits import split_dataset, support_query
from faalgrad.train import build_mlp, train_faalgrad

EPOCHS = 100


def _time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    total = {"trainer": 0.0, "reference": 0.0}
    print(
        f"{'dataset':<12} {'I':>3} {'trainer s':>10} {'reference s':>12} {'ratio':>6} "
        f"{'max |Δθ|':>9}"
    )
    for name in DATASETS:
        data = split_dataset(load_dataset(name), 0)
        s, q = support_query(data.y_train, data.a_train, "config1", dataset=name)
        arrays = [
            torch.from_numpy(v).float()
            for v in (
                data.X_train[s],
                data.y_train[s],
                data.X_train[q],
                data.y_train[q],
                data.X_val,
                data.y_val,
            )
        ]
        for inner in (1, 10):
            config = faalgrad_config(name, inner_steps=inner, max_epochs=EPOCHS, patience=EPOCHS)
            init = dict(build_mlp(data.X_train.shape[1], config, 0).named_parameters())
            ours = functools.partial(train_faalgrad, *arrays, config, 0)
            ref = functools.partial(
                reference_train,
                init,
                *arrays,
                inner_lr=config.inner_lr,
                outer_lr=config.outer_lr,
                inner_steps=inner,
                epochs=EPOCHS,
                activation=config.activation,
            )
            t_ours, t_ref = _time(ours, args.repeats), _time(ref, args.repeats)
            # best params are restored; compare the loss trajectories instead
            last_ours = ours().val_loss
            _, last_ref = ref()
            # patience = epochs: both run all EPOCHS epochs
            gap = max(abs(a - b) for a, b in zip(last_ours, last_ref, strict=True))
            total["trainer"] += t_ours
            total["reference"] += t_ref
            print(
                f"{name:<12} {inner:>3} {t_ours:>10.2f} {t_ref:>12.2f} {t_ours / t_ref:>6.2f} "
                f"{gap:>9.1e}"
            )
    print(
        f"{'total':<12} {'':>3} {total['trainer']:>10.2f} {total['reference']:>12.2f} "
        f"{total['trainer'] / total['reference']:>6.2f}"
    )


if __name__ == "__main__":
    main()
